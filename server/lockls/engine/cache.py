"""The `--check` result cache: one small JSON file per analysed file.

Owns: where the cache lives, how entries are keyed, read and written. Must not
analyse or filter: it stores a file's `FileResult` for *all* rules, before
`--select`/`--ignore`/severity filtering, so changing those never invalidates it.

Key: sha256 of (lockls version and code fingerprint, config fingerprint, the
file's path, sha256 of its bytes). The path is part of the key because findings
carry it. The config fingerprint is the configuration's, or (when the file uses
contracts of other files of the run: `project`) a hash of it and of the
contracts it uses, so editing a header's annotation re-analyses its users.

Besides results, the same directory holds small JSON values under `data_key`s:
each file's contracts (by path, content and configuration) and, per
configuration, the fingerprints each file of a run was analysed under (by every
file's path and content), so an unchanged tree needs one extra read. The code fingerprint hashes lockls' own sources, presets and queries
(and which tree-sitter builds are installed), so a changed analysis never serves
stale results, even without a version bump (editable installs, git checkouts).

Location: `--cache-dir`, else `$LOCKLS_CACHE_DIR`, else `$XDG_CACHE_HOME/lockls`,
else `~/.cache/lockls`; never the checked tree unless asked. Entries live in
`<dir>/v1/<2 hex>/<62 hex>.json` (sharded so no directory grows huge).

Failure policy: the cache is an optimisation only. A corrupt or unreadable
entry is a miss; an unwritable directory turns the cache off for the run
(reported through `log`, which `--verbose` prints). Writes are atomic
(temporary file + `os.replace`), so concurrent runs never see half an entry.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
from collections.abc import Callable

from lockls import __version__
from lockls.files import MAX_SMALL_FILE_BYTES, read_bytes
from lockls.syntax.queries import query_dirs
from lockls.report.findings import FileResult, file_result_from_dict, file_result_to_dict

LAYOUT_VERSION = "v1"  # bump when the entry format changes
CACHEDIR_TAG = "Signature: 8a477f597d28d172789f06886806bc55\n# lockls result cache; see https://bford.info/cachedir/\n"


def read_entry(path: str) -> bytes:
    """A cache entry's bytes: a regular file of bounded size, written by this user (see `files`)."""
    return read_bytes(path, MAX_SMALL_FILE_BYTES, own_only=True)


def default_cache_dir() -> str:
    if os.environ.get("LOCKLS_CACHE_DIR"):
        return os.environ["LOCKLS_CACHE_DIR"]
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):  # the XDG spec says to ignore relative values
        return os.path.join(xdg, "lockls")
    return os.path.join(os.path.expanduser("~"), ".cache", "lockls")


@functools.cache  # once per process: every key of a run needs it
def code_fingerprint() -> str:
    """A hash of everything besides config and input that decides the results.

    Reads lockls' sources (about 300 KB) and lists the tree-sitter packages' files,
    without importing them (a cache hit must stay free of tree-sitter).
    """
    digest = hashlib.sha256(__version__.encode())
    package_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # lockls/, every layer
    for directory in [package_dir, *query_dirs()]:
        for path in _source_files(directory):
            digest.update(path.encode("utf-8", "surrogateescape") + b"\0")
            try:
                with open(path, "rb") as fh:
                    digest.update(fh.read())
            except OSError:
                pass
    for location in _package_dirs(("tree_sitter", "tree_sitter_c")):
        for entry in sorted(os.scandir(location), key=lambda e: e.name):
            if entry.is_file():
                digest.update(f"{entry.name}:{entry.stat().st_size}\0".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def _package_dirs(names: tuple[str, ...]) -> list[str]:
    """Where the first `sys.path` entry holding each package has it (no import)."""
    found = []
    for name in names:
        for entry in sys.path:
            candidate = os.path.join(entry or os.curdir, name)
            if os.path.isdir(candidate):
                found.append(candidate)
                break
    return found


def _source_files(directory: str) -> list[str]:
    found = []
    if directory and os.path.isdir(directory):
        for dirpath, dirnames, filenames in os.walk(directory):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            found += [os.path.join(dirpath, f) for f in sorted(filenames) if f.endswith((".py", ".toml", ".scm"))]
    return found


def content_hash(source: bytes) -> str:
    return hashlib.sha256(source).hexdigest()


def _content_hash_of(path: str) -> str:
    try:
        return content_hash(read_bytes(path))
    except OSError:
        return ""


def _unchanged(files) -> bool:
    """Do the files a cached result's related places point into still have the contents
    they had (`{path: content hash}`)?"""
    if not isinstance(files, dict):
        raise TypeError("related_files: expected an object")
    return all(isinstance(p, str) and isinstance(h, str) and _content_hash_of(p) == h for p, h in files.items())


def entry_key(source: bytes, path: str, config_fingerprint: str, content: str | None = None) -> str:
    """The key of a file's result (`content`: `content_hash(source)`, when known)."""
    content = content or content_hash(source)
    raw = "\0".join((code_fingerprint(), config_fingerprint, path, content))
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def data_key(kind: str, *parts: str) -> str:
    """The key of a non-result entry: `kind` ("contracts", "project") and what decides it.
    Never equal to an `entry_key` (those hash four parts, the first of which is the same)."""
    raw = "\0".join((code_fingerprint(), "@" + kind, *parts))
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


class ResultCache:
    """Get and put `FileResult`s by key; counts hits and misses for `--verbose`."""

    def __init__(self, directory: str | None = None, log: Callable[[str], None] | None = None):
        self.directory = directory or default_cache_dir()
        self.root = os.path.join(self.directory, LAYOUT_VERSION)
        self.enabled = True
        self.hits = 0
        self.misses = 0
        self._log = log or (lambda message: None)
        self._made_dirs: set[str] = set()

    def _entry_path(self, key: str) -> str:
        return f"{self.root}{os.sep}{key[:2]}{os.sep}{key[2:]}.json"

    def get(self, key: str, path: str) -> FileResult | None:
        """The cached result for `key`, or None. `path` guards against a key collision."""
        if not self.enabled:
            return None
        try:
            data = json.loads(read_entry(self._entry_path(key)))
            result = file_result_from_dict(data)
            if result.path != path:
                raise ValueError("entry for another path")
            if not _unchanged(data.get("related_files", {})):
                self.misses += 1  # a related place in another file may have moved
                return None
        except FileNotFoundError:
            self.misses += 1
            return None
        except (OSError, ValueError, KeyError, TypeError, IndexError, RecursionError) as e:  # (nested too deeply)
            self._log(f"cache: ignoring unreadable entry {self._entry_path(key)}: {e}")
            self.misses += 1
            return None
        self.hits += 1
        return result

    def get_data(self, key: str):
        """The JSON value stored under a `data_key`, or None (not counted as a hit or a miss)."""
        if not self.enabled:
            return None
        try:
            return json.loads(read_entry(self._entry_path(key)))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, RecursionError) as e:
            self._log(f"cache: ignoring unreadable entry {self._entry_path(key)}: {e}")
            return None

    def put_data(self, key: str, value) -> None:
        """Store a JSON value under a `data_key` (contracts, a project's fingerprints)."""
        if self.enabled:
            self._write(key, json.dumps(value, separators=(",", ":"), sort_keys=True).encode("utf-8", "surrogatepass"))

    def put(self, key: str, result: FileResult) -> None:
        """Store `result`; results with an error are not cached (the next run retries)."""
        if not self.enabled or result.error is not None:
            return
        data = file_result_to_dict(result)
        # the other files its related places point into (a header, the configuration):
        # their lines can move without the result's key changing
        others = sorted({r.path for f in result.findings for r in f.related if r.path != result.path})
        data["related_files"] = {p: _content_hash_of(p) for p in others}
        self._write(key, json.dumps(data, separators=(",", ":")).encode("utf-8", "surrogatepass"))

    def _write(self, key: str, data: bytes) -> None:
        target = self._entry_path(key)
        shard = os.path.dirname(target)
        try:
            if shard not in self._made_dirs:
                self._ensure_dir(shard)
            import tempfile  # only when writing: the cache-hit path never needs it

            fd, tmp = tempfile.mkstemp(dir=shard, prefix=".tmp-", suffix=".json")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.replace(tmp, target)
            except BaseException:
                _unlink_quietly(tmp)
                raise
        except OSError as e:
            self.enabled = False
            self._log(f"cache: disabled, cannot write to {self.root}: {e}")

    def _ensure_dir(self, shard: str) -> None:
        # private to the user (0700): other users can neither read what was analysed nor
        # plant entries (and entries they own anyway are not read: see `read_entry`)
        top = os.path.dirname(self.root)
        if not os.path.isdir(top):
            os.makedirs(top, mode=0o700, exist_ok=True)
            # Tell backup tools this is a cache (https://bford.info/cachedir/).
            with open(os.path.join(top, "CACHEDIR.TAG"), "w", encoding="ascii") as fh:
                fh.write(CACHEDIR_TAG)
        for directory in (self.root, shard):
            if not os.path.isdir(directory):
                os.makedirs(directory, mode=0o700, exist_ok=True)
        self._made_dirs.add(shard)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
