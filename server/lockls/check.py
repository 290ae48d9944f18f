"""The `lockls --check` driver: which files, which config, analyse, filter, report.

Owns: expanding paths into C files, per-file configuration, the result cache
lookup, running the analysis (in-process or in worker processes), filtering by
rule selection and severity, printing the report and choosing the exit status.
Must not parse C itself, nor know an output format's details (`formats` does).

The cache-hit path is kept cheap on purpose: files are hashed in this process
and looked up first; only misses go to the analysis, so a fully cached run
imports neither tree-sitter nor multiprocessing.

Exit status (the product contract): 0 no findings at or above `--fail-on`;
1 such findings; 2 usage or configuration error (message on stderr). A file
that cannot be read, or whose analysis crashes, is reported on stderr as
`path: error: ...`, counted in the summary, and does not change the exit
status by itself: it is a problem with lockls or the checkout, not a lock bug,
and one odd file should not fail every CI run (it is still loud in the log).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TextIO

from .findings import FileResult, Finding
from .rules import RULES

C_SUFFIXES = (".c", ".h")
SEVERITY_RANK = {"info": 0, "warning": 1, "error": 2}
FAIL_ON_RANK = {"warning": 1, "error": 2, "never": None}

# Below these, a worker pool costs more to start than it saves.
PARALLEL_MIN_FILES = 4
PARALLEL_MIN_BYTES = 64 * 1024
CHUNKS_PER_WORKER = 4  # several chunks each, so one big file does not idle the others


class UsageError(Exception):
    """A problem with the command line or the configuration: exit status 2."""


@dataclass
class CheckOptions:
    paths: Sequence[str] = (".",)
    fmt: str = "text"
    config: str | None = None  # --config FILE, else discovered per file
    select: frozenset[str] | None = None  # --select: replaces the config's rule set
    ignore: frozenset[str] = frozenset()
    fail_on: str = "warning"
    jobs: int | None = None  # None: all cores
    use_cache: bool = True
    cache_dir: str | None = None
    verbose: bool = False


@dataclass
class SourceFile:
    """A file to check: its absolute path (what the analysis and cache see), the
    path as the user spelt it (for display outside the cwd), and its config."""

    path: str
    given: str
    config: object = None


@dataclass
class CheckReport:
    """What a run produced, before rendering."""

    findings: list[Finding] = field(default_factory=list)
    results: list[FileResult] = field(default_factory=list)
    given: dict[str, str] = field(default_factory=dict)  # absolute path -> as typed
    cache_hits: int = 0


def default_jobs() -> int:
    """The cores this process may run on (affinity and cgroup-aware where Python is)."""
    process_cpu_count = getattr(os, "process_cpu_count", None)  # Python 3.13+
    if process_cpu_count is not None:
        return process_cpu_count() or 1
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


# -- paths ------------------------------------------------------------------------

def expand_paths(paths: Iterable[str]) -> list[tuple[str, str, bool]]:
    """(absolute path, given path, named explicitly) of every file to consider.

    Directories are walked recursively for `*.c` and `*.h`, skipping hidden
    directories (`.git` included); files named explicitly are always taken.
    Raises UsageError for a path that does not exist.
    """
    seen: set[str] = set()
    out: list[tuple[str, str, bool]] = []
    for given in paths:
        path = os.path.abspath(given)
        if os.path.isdir(given):
            for found in _walk(path, os.path.normpath(given)):
                if found[0] not in seen:
                    seen.add(found[0])
                    out.append(found)
        elif os.path.lexists(given):
            if path not in seen:
                seen.add(path)
                out.append((path, os.path.normpath(given), True))
        else:
            raise UsageError(f"lockls: error: {given}: no such file or directory")
    return out


def _walk(root: str, given_root: str) -> Iterable[tuple[str, str, bool]]:
    """C files under the absolute directory `root`, sorted, each with its spelling
    under `given_root`. Like os.walk: symlinked directories are not followed and
    unreadable directories are skipped. (A scandir walk: 3x cheaper than os.walk
    plus abspath per file, which matters on the cache-hit path.)"""
    stack = [(root, given_root)]
    while stack:
        directory, given_dir = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        subdirs = []
        for entry in entries:
            name = entry.name
            if name.startswith("."):  # .git, editor droppings, hidden dirs
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if is_dir:
                subdirs.append((entry.path, _join(given_dir, name)))
            elif name.endswith(C_SUFFIXES):
                yield entry.path, _join(given_dir, name), False
        stack.extend(reversed(subdirs))


def _join(directory: str, name: str) -> str:
    return name if directory == os.curdir else os.path.join(directory, name)


# -- configuration ------------------------------------------------------------------

class _Configs:
    """Per-file configs and what the run derives from each (computed once per config).

    The analysis always runs with every rule enabled, so cached results hold all
    rules and `--select`/`--ignore`/config `select` only filter afterwards.
    """

    def __init__(self, explicit: str | None):
        from .config import clear_config_cache

        clear_config_cache()  # a run sees the config files as they are now (main() may run twice)
        self.explicit = explicit
        self._derived: dict[int, tuple[object, object, str]] = {}
        self._by_directory: dict[str, object] = {}

    def for_file(self, path: str):
        """The config for absolute file path `path` (discovery is per directory)."""
        directory = os.path.dirname(path)
        config = self._by_directory.get(directory)
        if config is None:
            config = self._by_directory[directory] = self._load(path)
        return config

    def _load(self, path: str):
        from .config import ConfigError, config_for

        try:
            return config_for(path, self.explicit)
        except ConfigError as e:
            raise UsageError(str(e)) from None
        except OSError as e:
            raise UsageError(f"lockls: error: {e.filename or self.explicit}: {e.strerror or e}") from None

    def analysis_config_and_fingerprint(self, config) -> tuple[object, str]:
        entry = self._derived.get(id(config))
        if entry is None:
            analysis_config = _with_all_rules(config)
            fingerprint = analysis_config.fingerprint() if hasattr(analysis_config, "fingerprint") else repr(analysis_config)
            entry = (config, analysis_config, fingerprint)  # keeps `config` alive: id() stays unique
            self._derived[id(config)] = entry
        return entry[1], entry[2]


def _with_all_rules(config):
    try:
        return replace(config, select=frozenset(RULES) | frozenset(config.select))
    except (TypeError, AttributeError):  # not a dataclass: analyse as configured
        return config


def _is_included(config, path: str) -> bool:
    is_included = getattr(config, "is_included", None)
    return True if is_included is None else is_included(path)


def _severity(config, finding: Finding) -> str:
    severity = getattr(config, "severity", None)
    return finding.severity if severity is None else severity(finding.rule)


# -- analysis (runs in worker processes too: keep it picklable and import-light) ------

@dataclass
class _Task:
    path: str
    config: object  # the all-rules config
    fingerprint: str


def _analyze_one(task: _Task, cache, verbose: bool) -> tuple[FileResult, list[str]]:
    """Read, analyse and cache one file. Never raises: failures become `FileResult.error`.

    Returns the result and messages for the main process to print (workers
    must not write to stderr themselves: their lines would interleave)."""
    log: list[str] = []
    from .cache import read_bytes

    try:
        source = read_bytes(task.path)
    except OSError as e:
        return FileResult(path=task.path, error=f"cannot read file: {e.strerror or e}"), log
    try:
        from .analysis import analyze_source

        result = analyze_source(source, task.path, task.config)
        result.path = task.path
    except Exception as e:  # a bug in lockls: report it, keep checking other files
        message = f"internal error: {type(e).__name__}: {e}"
        if verbose:
            import traceback

            log.append(traceback.format_exc().rstrip())
        return FileResult(path=task.path, error=message), log
    if cache is not None:
        from .cache import entry_key

        # Keyed by the bytes analysed here, so a file edited since the lookup
        # cannot poison the cache.
        cache.put(entry_key(source, task.path, task.fingerprint), result)
    return result, log


def _analyze_chunk(tasks: list[_Task], cache_dir: str | None, verbose: bool) -> list[tuple[FileResult, list[str]]]:
    cache = None
    cache_log: list[str] = []
    if cache_dir is not None:
        from .cache import ResultCache

        cache = ResultCache(cache_dir, cache_log.append if verbose else None)
    out = [_analyze_one(task, cache, verbose) for task in tasks]
    if cache_log and out:
        out[0][1].extend(cache_log)
    return out


def _chunks(tasks: list[_Task], sizes: dict[str, int], count: int) -> list[list[_Task]]:
    """Split tasks into `count` chunks of similar total size (largest first, greedy)."""
    bins: list[tuple[int, int]] = [(0, i) for i in range(count)]  # (bytes, chunk index)
    chunks: list[list[_Task]] = [[] for _ in range(count)]
    for task in sorted(tasks, key=lambda t: -sizes.get(t.path, 0)):
        bins.sort()
        total, index = bins[0]
        chunks[index].append(task)
        bins[0] = (total + sizes.get(task.path, 0), index)
    return [c for c in chunks if c]


def analyze_tasks(
    tasks: list[_Task],
    sizes: dict[str, int],
    jobs: int,
    cache_dir: str | None,
    verbose: bool,
    log: Callable[[str], None],
) -> list[tuple[FileResult, list[str]]]:
    """Analyse `tasks`, in worker processes when there is enough work to pay for them."""
    total_bytes = sum(sizes.get(t.path, 0) for t in tasks)
    if jobs <= 1 or len(tasks) < PARALLEL_MIN_FILES or total_bytes < PARALLEL_MIN_BYTES:
        if verbose and tasks:
            log(f"lockls: analysing {len(tasks)} file(s) in-process")
        return _analyze_chunk(tasks, cache_dir, verbose)

    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    workers = min(jobs, len(tasks))
    chunks = _chunks(tasks, sizes, workers * CHUNKS_PER_WORKER)
    if verbose:
        log(f"lockls: analysing {len(tasks)} files in {workers} worker processes ({len(chunks)} chunks)")
    context = None
    if sys.platform.startswith("linux"):
        # fork: workers inherit the imported analysis instead of importing it again.
        # (Elsewhere the platform default: fork is unsafe on macOS, absent on Windows.)
        import importlib

        importlib.import_module(".analysis", __package__)
        context = multiprocessing.get_context("fork")
    out: list[tuple[FileResult, list[str]]] = []
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_init)
    try:
        futures = {pool.submit(_analyze_chunk, chunk, cache_dir, verbose): chunk for chunk in chunks}
        for future in as_completed(futures):
            try:
                out.extend(future.result())
            except Exception as e:  # a worker died (e.g. a crash in native code)
                for task in futures[future]:
                    out.append((FileResult(path=task.path, error=f"internal error: worker failed: {type(e).__name__}: {e}"), []))
    except KeyboardInterrupt:
        # Stop now rather than wait for running chunks (workers ignore SIGINT).
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.terminate()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return out


def _worker_init() -> None:
    import signal

    # Ctrl-C reaches the whole process group; only the parent should react, once.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# -- the run ------------------------------------------------------------------------

def collect(options: CheckOptions, log: Callable[[str], None]) -> CheckReport:
    """Find, configure, look up or analyse every file; return the filtered findings."""
    configs = _Configs(options.config)
    files = _files_to_check(options, configs, log)
    cache = _open_cache(options, log)
    results, tasks, sizes = _look_up(files, configs, cache)
    cached = set(results)

    writable_cache_dir = cache.directory if cache is not None and cache.enabled else None
    messages_seen: set[str] = set()
    jobs = options.jobs or default_jobs()
    for result, messages in analyze_tasks(tasks, sizes, jobs, writable_cache_dir, options.verbose, log):
        results[result.path] = result
        for message in messages:
            if message not in messages_seen:  # e.g. "cache disabled" once, not per file
                messages_seen.add(message)
                log(message)

    report = CheckReport(
        given={file.path: file.given for file in files},
        cache_hits=cache.hits if cache is not None else 0,
    )
    for file in files:
        result = results[file.path]
        report.results.append(result)
        if options.verbose:
            _log_file(log, file, result, file.path in cached)
        report.findings.extend(_filtered(result.findings, file.config, options))
    return report


def _files_to_check(options: CheckOptions, configs: _Configs, log: Callable[[str], None]) -> list[SourceFile]:
    files = []
    for path, given, explicit in expand_paths(options.paths or (".",)):
        config = configs.for_file(path)
        # Like ruff: a file named on the command line is checked even if excluded.
        if not explicit and not _is_included(config, path):
            if options.verbose:
                log(f"lockls: {given}: excluded by configuration")
            continue
        files.append(SourceFile(path, given, config))
    return files


def _open_cache(options: CheckOptions, log: Callable[[str], None]):
    if not options.use_cache:
        if options.verbose:
            log("lockls: cache: off (--no-cache)")
        return None
    from .cache import ResultCache, default_cache_dir

    cache = ResultCache(options.cache_dir or default_cache_dir(), log if options.verbose else None)
    if options.verbose:
        log(f"lockls: cache: {cache.root}")
    return cache


def _look_up(files: list[SourceFile], configs: _Configs, cache) -> tuple[dict[str, FileResult], list[_Task], dict[str, int]]:
    """Cached results by path, the tasks left to analyse, and file sizes (for chunking).

    Hashing happens here, in-process: a fully cached run starts no worker."""
    from .cache import entry_key, read_bytes

    results: dict[str, FileResult] = {}
    tasks: list[_Task] = []
    sizes: dict[str, int] = {}
    for file in files:
        analysis_config, fingerprint = configs.analysis_config_and_fingerprint(file.config)
        try:
            if cache is not None:
                source = read_bytes(file.path)
                sizes[file.path] = len(source)
                hit = cache.get(entry_key(source, file.path, fingerprint), file.path)
                if hit is not None:
                    results[file.path] = hit
                    continue
            else:
                sizes[file.path] = os.path.getsize(file.path)
        except OSError:
            pass  # unreadable: the analysis step reports it
        tasks.append(_Task(file.path, analysis_config, fingerprint))
    return results, tasks, sizes


def _log_file(log: Callable[[str], None], file: SourceFile, result: FileResult, cached: bool) -> None:
    if result.error is None:
        how = "cache hit" if cached else "analysed"
        log(f"lockls: {file.given}: {how}, {result.functions} function(s), {len(result.findings)} finding(s)")
    for skipped in result.skipped:
        log(f"lockls: {file.given}: skipped {skipped}")


def _filtered(findings: Iterable[Finding], config, options: CheckOptions) -> Iterable[Finding]:
    enabled = options.select if options.select is not None else frozenset(getattr(config, "select", RULES))
    for finding in findings:
        if finding.rule not in enabled or finding.rule in options.ignore:
            continue
        severity = _severity(config, finding)
        yield finding if severity == finding.severity else replace(finding, severity=severity)


def exit_status(findings: Iterable[Finding], fail_on: str) -> int:
    threshold = FAIL_ON_RANK[fail_on]
    if threshold is None:
        return 0
    return 1 if any(SEVERITY_RANK.get(f.severity, 1) >= threshold for f in findings) else 0


def run_check(options: CheckOptions, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run `--check`; print the report; return the exit status (0, 1 or 2)."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    started = time.perf_counter()

    def log(message: str) -> None:
        print(message, file=stderr)

    try:
        report = collect(options, log)
    except UsageError as e:
        print(str(e), file=stderr)
        return 2

    from .formats import relative_to_cwd, render, render_summary

    # Paths relative to the cwd when under it, else as the user typed them.
    display = relative_to_cwd(outside=report.given)
    findings = sorted(report.findings, key=lambda f: (display(f.path), *f.sort_key()[1:]))
    errors = [(r.path, r.error) for r in report.results if r.error is not None]
    for path, error in errors:
        print(f"{display(path)}: error: {error}", file=stderr)

    write_text(stdout, render(options.fmt, findings, display, errors))

    if options.fmt == "text" or options.verbose:
        counts: dict[str, int] = {}
        for f in findings:
            counts[f.severity] = counts.get(f.severity, 0) + 1
        ok = [r for r in report.results if r.error is None]
        print(
            render_summary(
                files=len(ok),
                functions=sum(r.functions for r in ok),
                severity_counts=counts,
                seconds=time.perf_counter() - started,
                skipped_functions=sum(len(r.skipped) for r in ok),
                failed_files=len(errors),
            ),
            file=stderr,
        )
    return exit_status(findings, options.fail_on)


def write_text(stream: TextIO, text: str) -> None:
    """Write `text` as UTF-8 whatever the locale (paths and lock names may not be ASCII)."""
    if not text:
        return
    buffer = getattr(stream, "buffer", None)
    if buffer is None:
        stream.write(text)
        return
    stream.flush()
    buffer.write(text.encode("utf-8", "surrogateescape"))
    buffer.flush()
