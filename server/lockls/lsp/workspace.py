"""The language server's index of the project: every file's contracts, in the background.

Owns: finding the files `lockls --check ROOT` would check in each workspace
folder (same walk, same configuration discovery, same include/exclude, same
git ignore files: `.gitignore`, `.git/info/exclude`), reading
each one's contracts (`project.FileContracts`; from the `--check` cache when it
has them, else parsed here and stored there), keeping the contracts of open
documents (their live buffers) in place of their files on disk, and publishing
one `project.Project` per configuration, built exactly as `--check` builds it
(`project.infer`, headers first, the same inference rounds). Must not import
pygls or lsprotocol.

Threading: everything here runs on one daemon thread that owns all the index's
state. The event loop only puts jobs on its queue (`update_live`, `close`,
`file_changed`, `restart`), marks when the user types (`touch`) and when it
analyses (`busy`), and reads `projects` (a dict replaced as a whole, never
mutated) and `ready`; the thread calls `notify()` after each new publication, and
the server hands that over to the event loop (`call_soon_threadsafe`). Projects
are published once the first walk is complete, never half-built, so documents
are analysed alone until then and once more when it is done. The analysis keeps
module-level caches that are not thread-safe: reading one file's contracts and
analysing a document exclude each other (`lock`). To keep the editor responsive
the thread pauses while a document is analysed and until the user has stopped
typing for `QUIET` seconds, feeds tree-sitter (which holds the GIL while it
parses) in chunks with a pause between them, and lowers Python's thread switch
interval while it works, so the event loop gets the GIL back within a
millisecond.

Progress: `progress(done, total, stage)` (optional) is called from the thread as
each walk goes: stage "begin" (0 of `total` files), "report" (at most every
`PROGRESS_EVERY` seconds), then "end", or "stopped" when a restart interrupts
the walk; the server turns it into `$/progress` (`lsp_progress`).
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional

from lockls.engine import project as proj
from lockls.config import Config, ConfigError, config_for

log = logging.getLogger("lockls.server")

_CHUNK = 1 << 14  # bytes handed to the parser at a time (the GIL is released between chunks)
QUIET = 0.1  # seconds without an edit before the index works again
BUSY_WAIT = 0.05  # seconds the event loop waits for the file the index is reading before going on beside it
SWITCH_INTERVAL = 0.001  # while indexing: how soon the event loop gets the GIL back (Python's default: 5 ms)
PROGRESS_EVERY = 0.2  # seconds between two progress reports of a walk (the editor needs no more)


@dataclass
class _Entry:
    config: Config
    fingerprint: str
    contracts: proj.FileContracts  # from the file on disk (first round)
    content: str  # its content hash (a rescan cache key part)


class ProjectIndex:
    """The contracts of every C file of the workspace folders; see the module docstring."""

    def __init__(self, roots: list[str], notify: Callable[[], None] = lambda: None,
                 explicit_config: Optional[str] = None, cache_dir: Optional[str] = None, use_cache: bool = True,
                 progress: Optional[Callable[[int, int, str], None]] = None):
        self.roots = [os.path.abspath(r) for r in roots]
        self.notify = notify
        self.progress = progress
        self.projects: dict[str, proj.Project] = {}  # config fingerprint -> project (replaced, never mutated)
        self.ready = False  # the first walk is complete
        self.files = 0  # files indexed (for the log and tests)
        self._explicit = explicit_config
        self._cache_dir = cache_dir
        self._use_cache = use_cache
        self._jobs: queue.Queue = queue.Queue()
        # cleared while the event loop analyses a document: the index waits (see `busy`)
        self.idle = threading.Event()
        self.idle.set()
        # held by the index while it reads a file, so that the event loop's analysis
        # normally runs alone; the loop waits for it only briefly (see `busy`)
        self.lock = threading.Lock()
        self._quiet_after = 0.0  # monotonic time until which the user is typing (see `touch`)
        self._restart = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lockls-index", daemon=True)
        # owned by the index thread:
        self._disk: dict[str, _Entry] = {}
        self._live: dict[str, tuple[proj.FileContracts, bytes]] = {}
        self._rescans: dict = {}
        self._cache = None
        self._parser = None
        self._analysis = None
        self._walked = False

    # -- the event loop's side ----------------------------------------------------------

    def start(self) -> None:
        self.touch()  # the documents opened right after `initialize` go first
        self._jobs.put(("walk",))
        self._thread.start()

    def stop(self) -> None:
        self._restart.set()
        self._jobs.put(("stop",))

    def restart(self, explicit_config: Optional[str] = None) -> None:
        """The configuration changed: walk again (contracts depend on it)."""
        self._restart.set()
        self._jobs.put(("walk", explicit_config))

    def update_live(self, path: str, contracts: proj.FileContracts, source: bytes) -> None:
        """An open document's buffer says `contracts` (it wins over the file on disk)."""
        self._jobs.put(("live", os.path.abspath(path), contracts, source))

    def close(self, path: str) -> None:
        """The document is closed: the file on disk counts again."""
        self._jobs.put(("close", os.path.abspath(path)))

    def file_changed(self, path: str) -> None:
        """A file changed on disk (created, changed or deleted)."""
        self._jobs.put(("disk", os.path.abspath(path)))

    def touch(self) -> None:
        """The user is typing: the index waits until the editor has been quiet a moment."""
        self._quiet_after = time.monotonic() + QUIET

    def busy(self):
        """A context manager for the event loop's analyses: the index pauses meanwhile.
        The loop waits at most BUSY_WAIT for the file the index is reading, then goes on
        beside it (the caches are shared safely): a file that takes long to read never
        freezes the editor."""
        index = self

        class _Busy:
            def __enter__(self):
                index.idle.clear()
                self.locked = index.lock.acquire(timeout=BUSY_WAIT)

            def __exit__(self, *exc):
                if self.locked:
                    index.lock.release()
                index.idle.set()

        return _Busy()

    def project_for(self, config: Config) -> Optional[proj.Project]:
        if not self.ready:
            return None
        return self.projects.get(config.fingerprint())

    def in_scope(self, path: str, config: Config) -> bool:
        """Would `lockls --check ROOT` check `path` (for one of the workspace folders)?"""
        path = os.path.abspath(path)
        if not path.endswith((".c", ".h")):
            return False
        for root in self.roots:
            if path.startswith(root.rstrip(os.sep) + os.sep):
                relative = path[len(root.rstrip(os.sep)) + 1:]
                if any(part.startswith(".") for part in relative.split(os.sep)):
                    return False
                from lockls.files import is_ignored

                return config.is_included(path) and not is_ignored(path, root)
        return False

    def wait_ready(self, timeout: float) -> bool:
        """For tests and benchmarks: wait until the first walk is published."""
        deadline = time.monotonic() + timeout
        while not self.ready and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.ready

    # -- the index thread ---------------------------------------------------------------

    def _run(self) -> None:
        while True:
            jobs = [self._jobs.get()]
            while True:
                try:
                    jobs.append(self._jobs.get_nowait())
                except queue.Empty:
                    break
            changed = False
            interval = sys.getswitchinterval()
            sys.setswitchinterval(min(interval, SWITCH_INTERVAL))
            try:
                for job in jobs:
                    kind = job[0]
                    if kind == "stop":
                        return
                    if kind == "walk":
                        if len(job) > 1:
                            self._explicit = job[1]
                        self._restart.clear()
                        if self._walk():
                            changed = self._walked = True
                        else:
                            self._jobs.put(("walk",))  # interrupted by a newer request: again, later
                    elif kind == "live":
                        _, path, contracts, source = job
                        before = self._live.get(path)
                        if before is None:
                            entry = self._disk.get(path)
                            before = (entry.contracts if entry is not None else None, None)
                        self._live[path] = (contracts, source)
                        changed |= before[0] != contracts
                    elif kind == "close":
                        if self._live.pop(job[1], None) is not None:
                            self._index_file(job[1])
                            changed = True
                    elif kind == "disk":
                        changed |= self._index_file(job[1])
                if changed and self._walked:
                    self._publish()
            except Exception:  # never let the index die: the server works without it
                log.exception("lockls: indexing the workspace")
            finally:
                sys.setswitchinterval(interval)

    def _walk(self) -> bool:
        """Index every file under the roots; False when interrupted by a restart."""
        from lockls.files import UsageError, expand_paths

        started = time.perf_counter()
        self._open_cache()
        seen = set()
        unreadable: list = []
        try:
            found = expand_paths([r for r in self.roots if os.path.isdir(r)], unreadable)
        except UsageError:
            found = []
        for directory, why in unreadable:
            log.warning("lockls: %s: cannot read this directory (%s); its files are not indexed", directory, why)
        total, done = len(found), 0
        self._progress(0, total, "begin")
        reported = time.monotonic()
        try:
            for done, (path, _, _) in enumerate(found):
                if self._restart.is_set():
                    self._progress(done, total, "stopped")
                    return False
                if time.monotonic() - reported >= PROGRESS_EVERY:
                    reported = time.monotonic()
                    self._progress(done, total, "report")
                seen.add(path)
                self._pause()  # the editor first
                self._index_file(path)
        except BaseException:
            self._progress(done, total, "stopped")  # never leave the editor's progress open
            raise
        for path in list(self._disk):
            if path not in seen:
                del self._disk[path]
        self.files = len(self._disk)
        log.info("lockls: indexed %d file(s) in %.2f s", self.files, time.perf_counter() - started)
        self._progress(total, total, "end")
        return True

    def _progress(self, done: int, total: int, stage: str) -> None:
        if self.progress is None:
            return
        try:
            self.progress(done, total, stage)
        except RuntimeError:  # the event loop is gone: the server is exiting
            pass

    def _pause(self) -> None:
        """Let the event loop run: wait while it analyses, and while the user types."""
        self.idle.wait()
        while time.monotonic() < self._quiet_after:
            time.sleep(0.01)
        time.sleep(0)

    def _open_cache(self) -> None:
        if self._use_cache and self._cache is None:
            from lockls.engine.cache import ResultCache

            self._cache = ResultCache(self._cache_dir)

    def _config(self, path: str) -> Optional[Config]:
        try:
            return config_for(path, self._explicit)
        except (ConfigError, OSError):
            return None  # the session reports it; the file is left out meanwhile
        except Exception:  # a race with the event loop clearing the configuration cache:
            return None    # it restarts the walk right after (see Session.config_changed)

    def _index_file(self, path: str) -> bool:
        """(Re)read one file's contracts from disk; True when they changed."""
        old = self._disk.get(path)
        config = self._config(path)
        if config is None or not self.in_scope(path, config):
            return self._disk.pop(path, None) is not None
        from lockls.engine.cache import content_hash, data_key
        from lockls.files import read_bytes

        try:
            source = read_bytes(path)
        except OSError:
            return self._disk.pop(path, None) is not None
        content = content_hash(source)
        fingerprint = config.fingerprint()
        if old is not None and old.content == content and old.fingerprint == fingerprint:
            return False
        key = data_key("contracts", fingerprint, path, content)
        contracts = None
        if self._cache is not None:
            data = self._cache.get_data(key)
            contracts = proj.decode_file_contracts(data) if data is not None else None
        if not isinstance(contracts, proj.FileContracts):
            try:
                tree = self._parse(source)
                with self.lock:
                    contracts = self._engine().contracts(path, source, config, tree)
            except Exception:
                log.exception("lockls: reading the contracts of %s", path)
                contracts = proj.EMPTY
            if self._cache is not None:
                self._cache.put_data(key, proj.encode(contracts))
        self._disk[path] = _Entry(config, fingerprint, contracts, content)
        return old is None or old.contracts != contracts or old.fingerprint != fingerprint

    def _engine(self):
        """The index thread's own engine (reading contracts keeps no function results)."""
        if self._analysis is None:
            from lockls.engine.driver import Engine

            self._analysis = Engine(function_capacity=0, keep_bytes=0)
        return self._analysis

    def _parse(self, source: bytes):
        if self._parser is None:
            from lockls.syntax import nodes as syntax

            self._parser = syntax.new_parser()
        calls = [0]

        def read(offset: int, _point) -> bytes:
            calls[0] += 1
            if calls[0] % 4 == 0:
                self._pause()  # and release the GIL: tree-sitter holds it while it parses
            return source[offset:offset + _CHUNK]

        return self._parser.parse(read)

    def _publish(self) -> None:
        """Merge each configuration's files (open documents as typed) into a Project."""
        groups: dict[str, tuple[Config, dict[str, proj.FileContracts], dict[str, bytes]]] = {}
        for path, entry in self._disk.items():
            group = groups.setdefault(entry.fingerprint, (entry.config, {}, {}))
            live = self._live.get(path)
            group[1][path] = live[0] if live is not None else entry.contracts
            if live is not None:
                group[2][path] = live[1]
        for path, (contracts, source) in self._live.items():
            if path in self._disk:
                continue
            config = self._config(path)  # a new file, not saved yet
            if config is not None and self.in_scope(path, config):
                group = groups.setdefault(config.fingerprint(), (config, {}, {}))
                group[1][path] = contracts
                group[2][path] = source
        projects = {}
        for fingerprint, (config, files, sources) in groups.items():
            current = dict(files)  # updated by the rounds
            projects[fingerprint] = proj.infer(current, config, self._rescanner(config, current, sources))
        self.projects = projects
        self.ready = True
        try:
            self.notify()
        except RuntimeError:  # the event loop is gone: the server is exiting
            pass

    def _rescanner(self, config: Config, current: dict, sources: dict):
        from lockls.files import read_bytes

        def source_of(path: str) -> Optional[bytes]:
            if path in sources:
                return sources[path]
            try:
                return read_bytes(path)
            except OSError:
                return None

        def rescan(paths: list[str], project: proj.Project) -> dict:
            out = {}
            for path in paths:
                source = source_of(path)
                if source is None:
                    continue
                fc = current[path]
                relevant = project.relevant(source, fc.own, fc.static, path=path)
                key = (path, proj.digest(fc.own), proj.digest(relevant), hash(source), len(source))
                if key not in self._rescans:
                    if len(self._rescans) > 4096:
                        self._rescans.clear()
                    try:
                        tree = self._parse(source)
                        with self.lock:
                            self._rescans[key] = self._engine().contracts(path, source, config, tree, extra=relevant,
                                                                          own=fc.own)
                    except Exception:
                        log.exception("lockls: reading the contracts of %s again", path)
                        self._rescans[key] = fc
                out[path] = self._rescans[key]
                self._pause()
            return out

        return rescan
