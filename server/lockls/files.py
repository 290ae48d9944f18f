"""Reading the files lockls is pointed at: sources, configuration files, cache entries.

Only regular files are read, and only up to a size limit, so that nothing a
checked tree contains can make lockls block or run out of memory: a symlink to
`/dev/zero` or `/dev/urandom` (git can commit one), a FIFO named `x.c`, a
socket, a 2 GB generated file. Opening never blocks (`O_NONBLOCK`: a FIFO with
no writer is refused instead of waited for). Refusals are `OSError`s with a
message that says why, which every caller already reports as "cannot read".
"""

from __future__ import annotations

import errno
import os
import stat
from typing import Iterable, Optional

# larger sources are skipped with a message (LOCKLS_MAX_FILE_SIZE overrides, in bytes)
DEFAULT_MAX_FILE_BYTES = 10 * 1024 * 1024
# a configuration file or a cache entry is never this large
MAX_SMALL_FILE_BYTES = 4 * 1024 * 1024


class NotRegularFile(OSError):
    """A device, FIFO, socket or directory where a file was expected."""


class FileTooLarge(OSError):
    """A regular file over the size limit."""


def max_file_bytes() -> int:
    value = os.environ.get("LOCKLS_MAX_FILE_SIZE", "")
    return int(value) if value.isdigit() and int(value) > 0 else DEFAULT_MAX_FILE_BYTES


class NotOwned(OSError):
    """A file written by another user where only the current user's may be trusted."""


def read_bytes(path: str, limit: int | None = None, own_only: bool = False) -> bytes:
    """The whole regular file at `path` (symlinks followed), at most `limit` bytes
    (default: `max_file_bytes()`); raises `NotRegularFile`, `FileTooLarge` or
    another `OSError`; `own_only`: `NotOwned` unless the current user owns it (a cache
    entry: a shared cache directory must not let others plant results). (Raw `os.read`: ~30 % cheaper than `open()` for the many
    small files a cache-hit run reads.)"""
    limit = max_file_bytes() if limit is None else limit
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFile(errno.EINVAL, f"not a regular file ({_kind(info.st_mode)})", path)
        if own_only and hasattr(os, "getuid") and info.st_uid != os.getuid():
            raise NotOwned(errno.EPERM, "written by another user", path)
        if info.st_size > limit:
            raise FileTooLarge(errno.EFBIG, f"larger than the limit of {_size(limit)} ({_size(info.st_size)}; "
                                            "LOCKLS_MAX_FILE_SIZE raises it)", path)
        data = os.read(fd, info.st_size + 1)  # one read for a regular file; +1 sees growth
        if len(data) <= info.st_size:
            return data
        chunks, size = [data], len(data)
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise FileTooLarge(errno.EFBIG, f"grew past the limit of {_size(limit)} while being read", path)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a file"


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{n} bytes"


_CONTROL = {i: f"\\x{i:02x}" for i in (*range(0x20), 0x7F)}


def printable(path: str) -> str:
    """A file name as lockls prints it: control characters (a newline, a carriage
    return, an escape) spelt `\\x0a`, so that a file named `x<newline>::stop-commands::`
    cannot start a line of its own in the output (a GitHub workflow command, a
    fake finding)."""
    return path.translate(_CONTROL) if not path.isprintable() else path


# -- which files ------------------------------------------------------------------

C_SUFFIXES = (".c", ".h")  # what a directory walk picks up


class UsageError(Exception):
    """A problem with the command line or the configuration: exit status 2."""


def expand_paths(paths: Iterable[str], unreadable: Optional[list] = None) -> list[tuple[str, str, bool]]:
    """(absolute path, given path, named explicitly) of every file to consider.

    Directories are walked recursively for `*.c` and `*.h`, skipping hidden
    directories (`.git` included); files named explicitly are always taken.
    Raises UsageError for a path that does not exist. Directories that cannot be
    read are skipped, each added to `unreadable` as (given path, why).
    """
    seen: set[str] = set()
    out: list[tuple[str, str, bool]] = []
    for given in paths:
        path = os.path.abspath(given)
        if os.path.isdir(given):
            for found in walk_c_files(path, os.path.normpath(given), unreadable):
                if found[0] not in seen:
                    seen.add(found[0])
                    out.append(found)
        elif os.path.lexists(given):
            if path not in seen:
                seen.add(path)
                out.append((path, os.path.normpath(given), True))
        else:
            raise UsageError(f"lockls: error: {printable(given)}: no such file or directory")
    return out


def walk_c_files(root: str, given_root: str, unreadable: Optional[list] = None) -> Iterable[tuple[str, str, bool]]:
    """C files under the absolute directory `root`, sorted, each with its spelling
    under `given_root`. Like os.walk: symlinked directories are not followed (so no
    loop is walked twice) and unreadable directories are skipped, each added to
    `unreadable` as (its spelling, why): files must not go missing silently. (A
    scandir walk: 3x cheaper than os.walk plus abspath per file, which matters on the
    cache-hit path.)"""
    stack = [(root, given_root)]
    while stack:
        directory, given_dir = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            if unreadable is not None:
                unreadable.append((given_dir, e.strerror or str(e)))
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
