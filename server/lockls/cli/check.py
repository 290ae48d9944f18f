"""The `lockls --check` driver: which files, which config, analyse, filter, report.

Owns: expanding paths into C files, per-file configuration, the result cache
lookup, running the analysis (in-process or in worker processes), filtering by
rule selection and severity, printing the report and choosing the exit status.
Must not parse C itself, nor know an output format's details (`formats` does).
`--baseline`, `--add-suppressions` and `--fix`/`--diff` are steps of the run that
`adoption` owns.

Two passes (see `_Plan` and `project`): the files sharing a configuration
share their contracts (annotated prototypes, wrappers), so a first pass reads
every file's contracts, they are merged, and each file is then analysed under
its own contracts and those of the others it names. Both passes run in the
same worker processes, and a file's analysis goes to the worker that read its
contracts (which kept its syntax tree).

The cache-hit path is kept cheap on purpose: files are hashed in this process
and looked up first; only misses go to the analysis, so a fully cached run
imports neither tree-sitter nor multiprocessing.

Exit status (the product contract): 0 no findings at or above `--fail-on`;
1 such findings; 2 usage or configuration error (message on stderr), or no C file
to check under the paths given. A file
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

from lockls.files import UsageError, expand_paths, git_root, printable, walk_c_files  # noqa: F401 (UsageError: the CLI's)
from lockls.report.findings import FileResult, Finding
from lockls.rules import RULES

SEVERITY_RANK = {"info": 0, "warning": 1, "error": 2}
FAIL_ON_RANK = {"warning": 1, "error": 2, "never": None}

# Below these, a worker pool costs more to start than it saves.
PARALLEL_MIN_FILES = 4
PARALLEL_MIN_BYTES = 64 * 1024
CHUNKS_PER_WORKER = 4  # several chunks each, so one big file does not idle the others


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
    # when only part of a project is given: read the rest of it (from the configuration's
    # root, or the nearest .git) for its contracts, so one file is checked as in the tree
    project_context: bool = True
    # leave out what git ignores (.gitignore files, .git/info/exclude) when walking directories
    respect_ignore_files: bool = True
    lock_graph: str | None = None  # --lock-graph FILE: write the project's lock graph there
    statistics: bool = False  # --statistics: counts per rule instead of the findings
    report_unused_suppressions: bool = False  # suppression comments that silence nothing are warnings
    # --stdin-filename: this text (read from stdin) is the file at `stdin_filename`, whatever is on disk
    stdin_filename: str | None = None
    stdin_text: bytes | None = None
    color: bool = False  # text: gcc's colours (see cli.terminal)
    context: bool = False  # text: each finding's source line, a caret under it, `note:` lines for related places
    baseline: str | None = None  # --baseline FILE: report only the findings not recorded there
    update_baseline: bool = False  # record this run's findings in `baseline` instead
    add_suppressions: bool = False  # write a suppression comment for each finding instead of reporting it
    fix: bool = False  # apply the safe fixes (and the unsafe ones with `unsafe_fixes`), then report what is left
    diff: bool = False  # print the fixes `fix` would apply, as a diff
    unsafe_fixes: bool = False


# a project of more files than this is not read whole for the sake of a few files
PROJECT_CONTEXT_MAX_FILES = 20000


@dataclass
class SourceFile:
    """A file to check: its absolute path (what the analysis and cache see), the
    path as the user spelt it (for display outside the cwd), and its config."""

    path: str
    given: str
    config: object = None
    context: bool = False  # not checked: read for its contracts only (the rest of the project)


@dataclass
class CheckReport:
    """What a run produced, before rendering."""

    findings: list[Finding] = field(default_factory=list)
    results: list[FileResult] = field(default_factory=list)
    given: dict[str, str] = field(default_factory=dict)  # absolute path -> as typed
    cache_hits: int = 0
    order_edges: list = field(default_factory=list)  # the lock graph (with --lock-graph), every configuration's


def default_jobs() -> int:
    """The cores this process may run on (affinity and cgroup-aware where Python is)."""
    process_cpu_count = getattr(os, "process_cpu_count", None)  # Python 3.13+
    if process_cpu_count is not None:
        return process_cpu_count() or 1
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


# -- configuration ------------------------------------------------------------------

class _Configs:
    """Per-file configs and what the run derives from each (computed once per config).

    The analysis always runs with every rule enabled, so cached results hold all
    rules and `--select`/`--ignore`/config `select` only filter afterwards.
    """

    def __init__(self, explicit: str | None):
        from lockls.config import clear_config_cache

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
        # entries with `paths` may apply to some files of a directory only
        return config.unscoped().for_file(path)

    def _load(self, path: str):
        from lockls.config import ConfigError, config_for

        try:
            return config_for(path, self.explicit)
        except ConfigError as e:
            raise UsageError(str(e)) from None
        except OSError as e:
            raise UsageError(f"lockls: error: {e.filename or self.explicit}: {e.strerror or e}") from None

    def analysis_config_and_fingerprint(self, config) -> tuple[object, str]:
        entry = self._derived.get(id(config))
        if entry is None:
            # the analysis runs every rule: selection only filters its findings
            analysis_config = replace(config, select=frozenset(RULES) | frozenset(config.select))
            entry = (config, analysis_config, analysis_config.fingerprint())  # keeps `config` alive: id() stays unique
            self._derived[id(config)] = entry
        return entry[1], entry[2]


# -- analysis (runs in worker processes too: keep it picklable and import-light) ------

# --stdin-filename: absolute path -> the text read from stdin, which stands for the file on
# disk in this run (set by `collect`). Never cached: an editor sends each state of a buffer.
_STDIN: dict[str, bytes] = {}


def _read_source(path: str) -> bytes:
    """The text a run analyses as `path`: stdin's for `--stdin-filename`, else the file's."""
    text = _STDIN.get(path)
    if text is not None:
        return text
    from lockls.files import read_bytes

    return read_bytes(path)


@dataclass
class _Task:
    path: str
    config: object  # the all-rules config
    fingerprint: str  # of `config`; for "analyse", the result's (see project.fingerprint)
    own: object = None  # Contracts: the file's own ("analyse": from the first pass; "rescan": the last round's)
    relevant: object = None  # Contracts of other files the file uses (laid under `own`)


def _analyze_one(task: _Task, cache, verbose: bool) -> tuple[FileResult, list[str]]:
    """Read, analyse and cache one file. Never raises: failures become `FileResult.error`.

    Returns the result and messages for the main process to print (workers
    must not write to stderr themselves: their lines would interleave)."""
    log: list[str] = []
    try:
        source = _read_source(task.path)
    except OSError as e:
        return FileResult(path=task.path, error=f"cannot read file: {e.strerror or e}"), log
    try:
        result = _analyze(task, source)
    except Exception as e:  # a bug in lockls: report it, keep checking other files
        message = f"internal error: {type(e).__name__}: {e}"
        if verbose:
            import traceback

            log.append(traceback.format_exc().rstrip())
        return FileResult(path=task.path, error=message), log
    if cache is not None and task.path not in _STDIN:
        from lockls.engine.cache import entry_key

        # Keyed by the bytes analysed here, so a file edited since the lookup
        # cannot poison the cache.
        cache.put(entry_key(source, task.path, task.fingerprint), result)
    return result, log


def _analyze(task: _Task, source: bytes) -> FileResult:
    from lockls.cli.fixing import with_fixes

    analysis = _engine().analyze(task.path, source, task.config, contracts=(task.own, task.relevant), remember=False)
    return with_fixes(analysis.file_result(), analysis)  # the editor's fixes, for --fix and JSON


def _contracts_one(task: _Task, cache, verbose: bool, again: bool) -> tuple[str, object, list[str]]:
    """(path, FileContracts or None, messages): the first pass over one file, or (`again`)
    an inference round. A file that cannot be read or parsed has none; the
    analysis pass reports the problem."""
    log: list[str] = []
    try:
        source = _read_source(task.path)
    except OSError:
        return task.path, None, log
    try:
        if again:  # (with the tree of the first pass)
            found = _engine().contracts(task.path, source, task.config, extra=task.relevant, own=task.own)
        else:
            found = _engine().contracts(task.path, source, task.config, keep=True)
    except Exception as e:
        if verbose:
            log.append(f"lockls: {printable(task.path)}: cannot read its contracts: {type(e).__name__}: "
                       f"{printable(str(e))}")
        return task.path, None, log
    if cache is not None and not again and task.path not in _STDIN:
        from lockls.engine.cache import content_hash, data_key
        from lockls.engine.project import encode

        cache.put_data(data_key("contracts", task.fingerprint, task.path, content_hash(source)), encode(found))
    return task.path, found, log


# Trees parsed while reading contracts are kept for the analysis of the same file
# (by this process: the pool sends a file's analysis where its contracts were read),
# up to this many bytes of source per process (a tree costs about 27 times its text).
KEEP_TREES_BYTES = 8 << 20
_ENGINE = None


def _engine():
    """This process's engine (made on first use: a fully cached run imports no analysis)."""
    global _ENGINE
    if _ENGINE is None:
        from lockls.engine.driver import Engine

        _ENGINE = Engine(keep_bytes=KEEP_TREES_BYTES)
    return _ENGINE


def _forget_trees() -> None:
    global _ENGINE
    _ENGINE = None


def _run_chunk(kind: str, tasks: list[_Task], cache_dir: str | None, verbose: bool) -> list[tuple]:
    """Run one chunk of tasks of one kind: "analyse", "contracts" or "rescan"."""
    cache = None
    cache_log: list[str] = []
    if cache_dir is not None and kind != "rescan":
        from lockls.engine.cache import ResultCache

        cache = ResultCache(cache_dir, cache_log.append if verbose else None)
    if kind == "analyse":
        out = [_analyze_one(task, cache, verbose) for task in tasks]
    else:
        out = [_contracts_one(task, cache, verbose, kind == "rescan") for task in tasks]
    if cache_log and out:
        out[0][-1].extend(cache_log)
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


_VERBS = {"analyse": "analysing", "contracts": "reading the contracts of", "rescan": "reading again (wrappers of wrappers)"}


class _Runner:
    """Runs tasks in-process, or in worker processes when there is enough work to
    pay for them. The workers are started once and serve every pass of the run; a
    file's analysis goes to the worker that read its contracts (and kept its tree)."""

    def __init__(self, jobs: int, cache_dir: str | None, verbose: bool, log: Callable[[str], None]):
        self.jobs, self.cache_dir, self.verbose, self.log = jobs, cache_dir, verbose, log
        self.pool: _Pool | None = None

    def run(self, kind: str, tasks: list[_Task], sizes: dict[str, int]) -> list[tuple]:
        if not tasks:
            return []
        total_bytes = sum(sizes.get(t.path, 0) for t in tasks)
        small = len(tasks) < PARALLEL_MIN_FILES or total_bytes < PARALLEL_MIN_BYTES
        if self.pool is not None and not self.pool.alive:  # every worker died: start afresh
            self.pool.close()
            self.pool = None
        if self.jobs <= 1 or (self.pool is None and small):
            if self.verbose:
                self.log(f"lockls: {_VERBS[kind]} {len(tasks)} file(s) in-process")
            return _run_chunk(kind, tasks, self.cache_dir, self.verbose)
        if self.pool is None:
            self.pool = _Pool(min(self.jobs, len(tasks)), self.cache_dir, self.verbose)
        if self.verbose:
            self.log(f"lockls: {_VERBS[kind]} {len(tasks)} files in {self.pool.workers} worker processes")
        return self.pool.run(kind, tasks, sizes)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool = None
        _forget_trees()


class _Pool:
    """Worker processes, each serving chunks of tasks over a pipe until told to stop.

    Unlike a ProcessPoolExecutor, it knows which worker read which file, so the
    analysis of a file goes to the process that already parsed it. Chunks are
    handed out one at a time per worker: its own first, then the shared ones, then
    another worker's (so nobody idles while work is left). A worker that dies
    fails only the chunk it was running; the others take over its share."""

    def __init__(self, workers: int, cache_dir: str | None, verbose: bool):
        import multiprocessing

        context = multiprocessing.get_context()
        if sys.platform.startswith("linux"):
            # fork: workers inherit the imported analysis instead of importing it again.
            # (Elsewhere the platform default: fork is unsafe on macOS, absent on Windows.)
            import importlib

            importlib.import_module("lockls.engine.driver")
            importlib.import_module("lockls.engine.project")
            context = multiprocessing.get_context("fork")
        self.workers = workers
        self.owner: dict[str, int] = {}  # path -> the worker that parsed it
        self.conns: dict[int, object] = {}
        self.processes: dict[int, object] = {}
        for k in range(workers):
            parent, child = context.Pipe()
            process = context.Process(target=_serve, args=(child, cache_dir, verbose, dict(_STDIN)), daemon=True)
            process.start()
            child.close()
            self.conns[k], self.processes[k] = parent, process

    @property
    def alive(self) -> bool:
        return bool(self.conns)

    def run(self, kind: str, tasks: list[_Task], sizes: dict[str, int]) -> list[tuple]:
        from collections import deque
        from multiprocessing.connection import wait

        own: dict[int, list[_Task]] = {k: [] for k in self.conns}
        shared: list[_Task] = []
        for task in tasks:
            k = self.owner.get(task.path)
            (own[k] if k in own else shared).append(task)
        queues = {k: deque(_chunks(mine, sizes, CHUNKS_PER_WORKER)) for k, mine in own.items()}
        backlog = deque(_chunks(shared, sizes, max(1, len(self.conns)) * CHUNKS_PER_WORKER))
        running: dict[int, list[_Task]] = {}
        out: list[tuple] = []

        def next_chunk(k: int):
            if queues.get(k):
                return queues[k].popleft()
            if backlog:
                return backlog.popleft()
            victim = max(queues, key=lambda j: len(queues[j]), default=None)
            return queues[victim].pop() if victim is not None and queues[victim] else None

        def feed(k: int) -> None:
            chunk = next_chunk(k)
            if chunk is not None:
                try:
                    self.conns[k].send((kind, chunk))
                except OSError:
                    backlog.appendleft(chunk)
                    self._bury(k, queues, backlog)
                    return
                running[k] = chunk

        try:
            for k in list(self.conns):
                feed(k)
            while running:
                by_conn = {id(self.conns[k]): k for k in running}
                for conn in wait([self.conns[k] for k in running]):
                    k = by_conn[id(conn)]
                    chunk = running.pop(k)
                    try:
                        out.extend(conn.recv())
                    except (EOFError, OSError):  # the worker died (e.g. a crash in native code)
                        self.processes[k].join(1)
                        error = (f"internal error: worker failed: BrokenProcessPool: a worker process ended abruptly "
                                 f"(exit code {self.processes[k].exitcode})")
                        self._bury(k, queues, backlog)
                        failed = list(chunk)
                        if not self.conns:  # the last one: nobody is left to run the rest
                            failed += [t for c in backlog for t in c]
                            backlog.clear()
                        for task in failed:
                            out.append((FileResult(path=task.path, error=error), []) if kind == "analyse"
                                       else (task.path, None, []))
                        for idle in [j for j in self.conns if j not in running]:
                            feed(idle)  # the work it left behind
                        continue
                    if kind == "contracts":
                        for task in chunk:
                            self.owner[task.path] = k
                    feed(k)
        except KeyboardInterrupt:
            # Stop now rather than wait for running chunks (workers ignore SIGINT).
            for process in self.processes.values():
                process.terminate()
            raise
        left = [t for c in backlog for t in c] + [t for q in queues.values() for c in q for t in c]
        for task in left:  # every worker died before it could take these
            error = "internal error: worker failed: BrokenProcessPool: no worker process left"
            out.append((FileResult(path=task.path, error=error), []) if kind == "analyse" else (task.path, None, []))
        return out

    def _bury(self, k: int, queues: dict, backlog) -> None:
        """Forget worker k; its queued chunks go to the others."""
        self.conns.pop(k).close()
        backlog.extend(queues.pop(k, ()))
        self.owner = {p: j for p, j in self.owner.items() if j != k}

    def close(self) -> None:
        for conn in self.conns.values():
            try:
                conn.send(None)
                conn.close()
            except OSError:
                pass
        for process in self.processes.values():
            process.join(5)
            if process.is_alive():
                process.terminate()
        self.conns.clear()


def _serve(conn, cache_dir: str | None, verbose: bool, stdin: dict[str, bytes] | None = None) -> None:
    """A worker process: run the chunks received on `conn` until None."""
    _worker_init()
    _STDIN.update(stdin or {})  # (a spawned worker does not inherit it)
    _forget_trees()
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        kind, tasks = message
        conn.send(_run_chunk(kind, tasks, cache_dir, verbose))


def _worker_init() -> None:
    import signal

    # Ctrl-C reaches the whole process group; only the parent should react, once.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# -- the run ------------------------------------------------------------------------

def collect(options: CheckOptions, log: Callable[[str], None]) -> CheckReport:
    """Find, configure, look up or analyse every file; return the filtered findings."""
    _STDIN.clear()
    if options.stdin_filename is not None:
        _STDIN[os.path.abspath(options.stdin_filename)] = options.stdin_text or b""
    configs = _Configs(options.config)
    files = _files_to_check(options, configs, log)
    if not files:
        paths = ", ".join(printable(path) for path in options.paths or (".",))
        raise UsageError(f"lockls: error: no C files found under {paths}")
    from lockls.config import DISCOVERY_WARNINGS

    for warning in DISCOVERY_WARNINGS:
        log(f"lockls: warning: {printable(warning)}")
    DISCOVERY_WARNINGS.clear()
    context = _project_context(files, configs, options, log) if options.project_context else []
    cache = _open_cache(options, log)
    writable_cache_dir = cache.directory if cache is not None and cache.enabled else None
    runner = _Runner(options.jobs or default_jobs(), writable_cache_dir, options.verbose, log)
    messages_seen: set[str] = set()

    def show(messages: list[str]) -> None:
        for message in messages:
            if message not in messages_seen:  # e.g. "cache disabled" once, not per file
                messages_seen.add(message)
                log(message)

    try:
        plan = _Plan(files + context, configs, cache, runner, show, options.verbose, log,
                     lock_graph=options.lock_graph is not None)
        results, tasks = plan.look_up()
        cached = set(results)
        for result, messages in runner.run("analyse", tasks, plan.sizes):
            results[result.path] = result
            show(messages)
    finally:
        runner.close()

    report = CheckReport(
        given={file.path: file.given for file in files},
        cache_hits=cache.hits if cache is not None else 0,
        order_edges=plan.order_edges,
    )
    for file in files:
        result = results[file.path]
        report.results.append(result)
        if options.verbose:
            _log_file(log, file, result, file.path in cached)
        report.findings.extend(_filtered(result.findings, file.config, options))
    return report


def _files_to_check(options: CheckOptions, configs: _Configs, log: Callable[[str], None]) -> list[SourceFile]:
    if options.stdin_filename is not None:  # the one file checked; it need not exist on disk
        if os.path.isdir(options.stdin_filename):
            raise UsageError(f"lockls: error: --stdin-filename: {printable(options.stdin_filename)} is a directory")
        path = os.path.abspath(options.stdin_filename)
        return [SourceFile(path, os.path.normpath(options.stdin_filename), configs.for_file(path))]
    files = []
    unreadable: list = []
    found = expand_paths(options.paths or (".",), unreadable, options.respect_ignore_files)
    for directory, why in unreadable:
        log(f"lockls: warning: {printable(directory)}: cannot read this directory ({why}); its files are not checked")
    for path, given, explicit in found:
        config = configs.for_file(path)
        # Like ruff: a file named on the command line is checked even if excluded.
        if not explicit and not config.is_included(path):
            if options.verbose:
                log(f"lockls: {printable(given)}: excluded by configuration")
            continue
        files.append(SourceFile(path, given, config))
    return files


def project_root(start: str) -> str | None:
    """The directory holding the nearest `.git` at or above `start`, if any."""
    return git_root(os.path.abspath(start))


def _project_context(files: list[SourceFile], configs: _Configs, options: CheckOptions,
                     log: Callable[[str], None]) -> list[SourceFile]:
    """The files of the project around `files` that were not given: their contracts
    (summaries, annotations, callers relying on an acquire function) count as in a
    run over the whole tree. The project is the configuration's root, else the
    nearest directory with a `.git`."""
    if not files:
        return []
    roots = {file.config.root or project_root(os.path.dirname(file.path)) for file in files}
    roots.discard(None)
    given = {file.path for file in files}
    out: list[SourceFile] = []
    for root in sorted(roots):
        found = [path for path, _, _ in walk_c_files(root, root, ignore=options.respect_ignore_files)]
        if len(found) > PROJECT_CONTEXT_MAX_FILES:
            if options.verbose:
                log(f"lockls: {root}: {len(found)} files, too many to read for context")
            continue
        for path in found:
            if path not in given:
                config = configs.for_file(path)
                if config.is_included(path):
                    given.add(path)
                    out.append(SourceFile(path, path, config, context=True))
    if out and options.verbose:
        log(f"lockls: reading {len(out)} other file(s) of the project for their contracts")
    return out


def _open_cache(options: CheckOptions, log: Callable[[str], None]):
    if not options.use_cache:
        if options.verbose:
            log("lockls: cache: off (--no-cache)")
        return None
    from lockls.engine.cache import ResultCache, default_cache_dir

    cache = ResultCache(options.cache_dir or default_cache_dir(), log if options.verbose else None)
    if options.verbose:
        log(f"lockls: cache: {cache.root}")
    return cache


@dataclass
class _Analysis:
    """How one file is analysed: the result's fingerprint and, when it uses other
    files' contracts, its own (first-pass) contracts and those it uses."""

    fingerprint: str
    own: object = None
    relevant: object = None


class _Plan:
    """Which files need which pass, with the cache in front of each.

    Files are grouped by configuration; the files of one group share their
    contracts (see `project`). A group of one file shares nothing and costs
    nothing extra. For the others: a first pass reads every file's contracts
    (cached by path, content and configuration), `project.infer` merges them,
    and each file's analysis fingerprint follows from the contracts it uses. What
    a group's files were analysed under is cached too, by every file's path and
    content, so an unchanged tree costs one read more than before.

    Hashing happens here, in-process: a fully cached run starts no worker."""

    def __init__(self, files: list[SourceFile], configs: _Configs, cache, runner: _Runner,
                 show: Callable[[list[str]], None], verbose: bool, log: Callable[[str], None],
                 lock_graph: bool = False):
        self.files, self.configs, self.cache, self.runner = files, configs, cache, runner
        self.lock_graph = lock_graph  # every group's contracts are read, for its lock graph
        self.order_edges: list = []
        self.show, self.verbose, self.log = show, verbose, log
        self.sizes: dict[str, int] = {}
        self.hashes: dict[str, str] = {}
        self._sources: dict[str, bytes] = {}
        self.groups: dict[str, tuple[object, list[SourceFile]]] = {}  # fingerprint -> (all-rules config, files)
        for file in files:
            analysis_config, fingerprint = configs.analysis_config_and_fingerprint(file.config)
            self.groups.setdefault(fingerprint, (analysis_config, []))[1].append(file)

    def source(self, path: str) -> bytes | None:
        if path not in self._sources:
            try:
                self._sources[path] = _read_source(path)
            except OSError:
                self._sources[path] = None
        return self._sources[path]

    def look_up(self) -> tuple[dict[str, FileResult], list[_Task]]:
        """Cached results by path, and the analysis tasks left."""
        from lockls.engine.cache import content_hash, entry_key

        for file in self.files:
            try:
                if self.cache is not None or file.path in _STDIN:
                    source = self.source(file.path)
                    if source is not None:
                        self.sizes[file.path] = len(source)
                        if file.path not in _STDIN:  # no hash: stdin's text is neither looked up nor cached
                            self.hashes[file.path] = content_hash(source)
                else:
                    self.sizes[file.path] = os.path.getsize(file.path)
            except OSError:
                pass  # unreadable: the analysis step reports it
        how: dict[str, _Analysis] = {}
        unresolved = []
        for fingerprint, (config, group) in self.groups.items():
            recorded = None if self.lock_graph else self._recorded(fingerprint, group)
            if recorded is None:
                unresolved.append(fingerprint)
            else:
                how.update(recorded)
        how.update(self._resolve(unresolved))

        results: dict[str, FileResult] = {}
        tasks: list[_Task] = []
        missed: dict[str, list[SourceFile]] = {}
        for fingerprint, (config, group) in self.groups.items():
            for file in group:
                if file.context:
                    continue  # read for its contracts only
                a = how[file.path]
                if self.cache is not None and file.path in self.hashes:
                    hit = self.cache.get(entry_key(b"", file.path, a.fingerprint, self.hashes[file.path]), file.path)
                    if hit is not None:
                        results[file.path] = hit
                        continue
                if fingerprint in unresolved or len(group) < 2:
                    tasks.append(_Task(file.path, config, a.fingerprint, a.own, a.relevant))
                else:
                    missed.setdefault(fingerprint, []).append(file)
        if missed:  # recorded fingerprints, but results gone: the contracts are needed after all
            again = self._resolve(list(missed))
            for fingerprint, group in missed.items():
                config = self.groups[fingerprint][0]
                for file in group:
                    a = again[file.path]
                    tasks.append(_Task(file.path, config, a.fingerprint, a.own, a.relevant))
        return results, tasks

    # -- a group's fingerprints ----------------------------------------------------

    def _project_key(self, fingerprint: str, group: list[SourceFile]) -> str | None:
        if self.cache is None or any(f.path not in self.hashes for f in group):
            return None
        import json

        from lockls.engine.cache import data_key

        files = json.dumps(sorted((f.path, self.hashes[f.path]) for f in group), separators=(",", ":"))
        return data_key("project", fingerprint, files)

    def _recorded(self, fingerprint: str, group: list[SourceFile]) -> dict[str, _Analysis] | None:
        if len(group) < 2:
            return {f.path: _Analysis(fingerprint) for f in group}
        key = self._project_key(fingerprint, group)
        entry = self.cache.get_data(key) if key is not None else None
        if not isinstance(entry, dict) or not isinstance(entry.get("fingerprints"), dict):
            return None
        recorded = entry["fingerprints"]
        return {f.path: _Analysis(str(recorded.get(f.path, fingerprint))) for f in group}

    def _resolve(self, fingerprints: list[str]) -> dict[str, _Analysis]:
        """Compute the contracts of the groups `fingerprints` and what each file is analysed under."""
        if not fingerprints:
            return {}
        from lockls.engine.cache import data_key
        from lockls.engine.project import EMPTY, FileContracts, decode_file_contracts, fingerprint as analysis_fingerprint, infer

        out: dict[str, _Analysis] = {}
        contracts: dict[str, FileContracts] = {}
        first_pass: list[_Task] = []
        groups = []
        for fingerprint in fingerprints:
            config, group = self.groups[fingerprint]
            if len(group) < 2 and not self.lock_graph:
                out.update((f.path, _Analysis(fingerprint)) for f in group)
                continue
            groups.append(fingerprint)
            for file in group:
                entry = None
                if self.cache is not None and file.path in self.hashes:
                    entry = self.cache.get_data(data_key("contracts", fingerprint, file.path, self.hashes[file.path]))
                found = decode_file_contracts(entry) if entry is not None else None
                if found is not None:
                    contracts[file.path] = found
                else:
                    first_pass.append(_Task(file.path, config, fingerprint))
        if self.verbose and groups:
            self.log(f"lockls: contracts: {len(first_pass)} file(s) to read, "
                     f"{sum(len(self.groups[g][1]) for g in groups) - len(first_pass)} from the cache")
        for path, found, messages in self.runner.run("contracts", first_pass, self.sizes):
            contracts[path] = found if found is not None else EMPTY
            self.show(messages)

        for fingerprint in groups:
            config, group = self.groups[fingerprint]
            files = {f.path: contracts.get(f.path, EMPTY) for f in group}
            first = dict(files)

            def rescan(paths: list[str], project, config=config, fingerprint=fingerprint, files=files):
                tasks = [_Task(p, config, fingerprint, files[p].own,
                               project.relevant(self.source(p) or b"", files[p].own, files[p].static, path=p))
                         for p in paths]
                return {p: found for p, found, messages in self.runner.run("rescan", tasks, self.sizes) if found is not None}

            project = infer(files, config, rescan)
            self.order_edges.extend(project.contracts.order_edges)
            recorded = {}
            shared = 0
            for file in group:
                final = files[file.path]  # with the wrappers of other files' wrappers the rounds found
                relevant = (project.relevant(self.source(file.path) or b"", final.own, final.static, path=file.path)
                            if project else None)
                if relevant or final.own != first[file.path].own:
                    own = final.own  # laid first, as the file's own
                    a = _Analysis(analysis_fingerprint(fingerprint, relevant, own), own, relevant or None)
                else:
                    a = _Analysis(fingerprint)  # as if the file were alone
                out[file.path] = a
                if a.fingerprint != fingerprint:
                    recorded[file.path] = a.fingerprint
                    shared += 1
            if self.verbose:
                self.log(f"lockls: contracts: {len(project.contracts.functions)} function(s) known across "
                         f"{len(group)} files; {shared} file(s) use another file's")
            key = self._project_key(fingerprint, group)
            if key is not None:
                self.cache.put_data(key, {"fingerprints": recorded})
        return out


def _log_file(log: Callable[[str], None], file: SourceFile, result: FileResult, cached: bool) -> None:
    if result.error is None:
        how = "cache hit" if cached else "analysed"
        log(f"lockls: {printable(file.given)}: {how}, {result.functions} function(s), {len(result.findings)} finding(s)")
    for skipped in result.skipped:
        log(f"lockls: {printable(file.given)}: skipped {printable(skipped)}")
    for partial in result.partial:
        log(f"lockls: {printable(file.given)}: partly analysed {printable(partial)}")


def _filtered(findings: Iterable[Finding], config, options: CheckOptions) -> Iterable[Finding]:
    for finding in findings:
        # the selection, less what `[per-file-ignores]` turns off in the finding's file
        if finding.rule not in config.selected_rules(finding.path, options.select) or finding.rule in options.ignore:
            continue
        yield replace(finding, severity=config.severity(finding.rule))  # severity is applied here, once


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

    from lockls.cli import adoption

    try:
        baselined = adoption.load_baseline(options)  # before the analysis: a bad file fails fast
        report = collect(options, log)
        if options.fix:
            report = adoption.fix(options, report, baselined, lambda: collect(options, log), stderr)
        shown = adoption.shown(options, report, baselined, _quoted_source)
    except UsageError as e:
        print(str(e), file=stderr)
        return 2

    from lockls.report.formats import render, render_summary

    # Paths relative to the cwd when under it, else as the user typed them.
    display = shown.display
    findings = shown.findings
    errors = [(r.path, r.error) for r in report.results if r.error is not None]
    for path, error in errors:
        print(f"{printable(display(path))}: error: {printable(error)}", file=stderr)
    for result in report.results:
        for line, warning in result.warnings:
            print(f"{printable(display(result.path))}:{line}: warning: {warning}", file=stderr)

    if options.update_baseline or options.add_suppressions or options.diff:  # instead of a report
        try:
            return adoption.write(options, report, shown, lambda text: write_text(stdout, text), stderr)
        except UsageError as e:
            print(str(e), file=stderr)
            return 2
    unused = [(result.path, line, message) for result in report.results if options.report_unused_suppressions
              for line, message in result.unused]
    for path, line, message in unused:
        # the gcc shape in text (quickfix lists read it), on stderr for the other formats
        text = f"{printable(display(path))}:{line}:1: warning: {message} [unused-suppression]"
        print(text, file=stdout if options.fmt == "text" and not options.statistics else stderr)
    if options.statistics:
        from lockls.report.formats import render_statistics

        write_text(stdout, render_statistics(options.fmt, findings))
    elif options.fmt == "text" and (options.color or options.context):
        from lockls.report.formats import render_text

        write_text(stdout, render_text(findings, display, _quoted_source if options.context else None, options.color))
    else:
        write_text(stdout, render(options.fmt, findings, display, errors))
    if options.lock_graph is not None:
        from lockls.dataflow.lockgraph import write as write_graph

        try:
            write_graph(report.order_edges, options.lock_graph, display)
        except (OSError, ValueError) as e:
            print(f"lockls: error: --lock-graph: {e}", file=stderr)
            return 2

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
                partial_functions=sum(len(r.partial) for r in ok),
            ),
            file=stderr,
        )
    for line in adoption.notes(options, shown):  # the baseline's counts, fixes at hand
        print(line, file=stderr)
    status = exit_status(findings, options.fail_on)
    return 1 if unused and options.fail_on != "never" and status == 0 else status


def _quoted_source(path: str) -> bytes | None:
    """A file's text as analysed, for the source lines under text findings (None: unreadable)."""
    try:
        return _read_source(path)
    except OSError:
        return None


def write_text(stream: TextIO, text: str) -> None:
    """Write `text` as UTF-8 whatever the locale (paths and lock names may not be ASCII).

    A reader that went away (`lockls check | head -1`) is not an error: the rest of
    the output is dropped and the run goes on to its exit status."""
    if not text:
        return
    try:
        buffer = getattr(stream, "buffer", None)
        if buffer is None:
            stream.write(text)
            return
        stream.flush()
        buffer.write(text.encode("utf-8", "surrogateescape"))
        buffer.flush()
    except BrokenPipeError:
        silence(stream)


def silence(stream: TextIO) -> None:
    """Point `stream`'s file descriptor at the null device, so that what is still
    buffered, and Python's flush at exit, go nowhere instead of raising again (as the
    Python documentation recommends for SIGPIPE)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


# -- --show-summary ---------------------------------------------------------------------

def describe_summary(options: CheckOptions, name: str, log: Callable[[str], None]) -> list[str]:
    """What lockls knows a function `name` does to its caller's locks, and why: for each
    configuration of the files of `options.paths` (and the rest of their project), its
    contract as every other file sees it, and in the files that define it `static`."""
    from lockls.files import read_bytes
    from lockls.engine.project import infer, scan_source

    configs = _Configs(options.config)
    files = _files_to_check(options, configs, log)
    files += _project_context(files, configs, options, log) if options.project_context else []
    groups: dict[str, tuple[object, list[SourceFile]]] = {}
    for file in files:
        config, fingerprint = configs.analysis_config_and_fingerprint(file.config)
        groups.setdefault(fingerprint, (config, []))[1].append(file)
    out: list[str] = []
    for config, group in groups.values():
        sources: dict[str, bytes] = {}
        for file in group:
            try:
                sources[file.path] = read_bytes(file.path)
            except OSError:
                continue
        contracts = {path: scan_source(source, path, config) for path, source in sources.items()}

        def rescan(paths, project, contracts=contracts, config=config):
            return {p: scan_source(sources[p], p, config, own=contracts[p].own,
                                   extra=project.relevant(sources[p], contracts[p].own, contracts[p].static, path=p))
                    for p in paths}

        project = infer(contracts, config, rescan)
        relied = set(project.contracts.relied)
        shown = dict(project.contracts.functions).get(name) or config.functions.get(name)
        if shown is not None:
            out.append(_summary_line(name, shown, relied, "every file"))
        for path, found in sorted(contracts.items()):
            own = dict(found.own.functions).get(name)
            if own is not None and name in found.static:
                out.append(_summary_line(name, own, relied, f"{os.path.relpath(path)} (static there)"))
    return out


def _summary_line(name: str, fn, relied: set, where: str) -> str:
    from lockls.dataflow.summaries import describe, origin_of

    why = origin_of(fn, os.path.relpath)
    if fn.inferred and not fn.tentative and name in relied:
        why += "; a caller in the project releases what it returns holding"
    return f"{name}: {describe(fn)} [{where}: {why}]"
