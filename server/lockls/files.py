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

from lockls.lru import Lru

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


def expand_paths(paths: Iterable[str], unreadable: Optional[list] = None,
                 ignore: bool = True) -> list[tuple[str, str, bool]]:
    """(absolute path, given path, named explicitly) of every file to consider.

    Directories are walked recursively for `*.c` and `*.h`, skipping hidden
    directories (`.git` included) and, with `ignore`, what git ignores (see
    `walk_c_files`); files named explicitly are always taken, ignored or not.
    Raises UsageError for a path that does not exist. Directories that cannot be
    read are skipped, each added to `unreadable` as (given path, why).
    """
    seen: set[str] = set()
    out: list[tuple[str, str, bool]] = []
    for given in paths:
        path = os.path.abspath(given)
        if os.path.isdir(given):
            for found in walk_c_files(path, os.path.normpath(given), unreadable, ignore):
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


def walk_c_files(root: str, given_root: str, unreadable: Optional[list] = None,
                 ignore: bool = True) -> Iterable[tuple[str, str, bool]]:
    """C files under the absolute directory `root`, sorted, each with its spelling
    under `given_root`. Like os.walk: symlinked directories are not followed (so no
    loop is walked twice) and unreadable directories are skipped, each added to
    `unreadable` as (its spelling, why): files must not go missing silently. (A
    scandir walk: 3x cheaper than os.walk plus abspath per file, which matters on the
    cache-hit path.)

    With `ignore`, files and directories git ignores are left out, and an ignored
    directory is not entered: the `.gitignore` files of the walked tree and of its
    parents up to the repository root, and the repository's `.git/info/exclude`
    (see `IGNORE_FILE`). `root` itself is walked even if ignored (it was named);
    the rules of its parents then do not apply under it."""
    layers = _root_layers(root) if ignore else None
    stack = [(root, given_root, layers)]
    while stack:
        directory, given_dir, layers = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            if unreadable is not None:
                unreadable.append((given_dir, e.strerror or str(e)))
            continue
        if layers is not None and any(entry.name == IGNORE_FILE for entry in entries):
            layers = _with_ignore_file(layers, directory)
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
                if not (layers and _ignored(layers, entry.path, True)):
                    subdirs.append((entry.path, _join(given_dir, name), layers))
            elif name.endswith(C_SUFFIXES) and not (layers and _ignored(layers, entry.path, False)):
                yield entry.path, _join(given_dir, name), False
        stack.extend(reversed(subdirs))


def _join(directory: str, name: str) -> str:
    return name if directory == os.curdir else os.path.join(directory, name)


# -- what git ignores ---------------------------------------------------------------
#
# git's rules, matched by `pathspec` (its `GitIgnoreSpec` is git's own pattern
# language and its "last match wins"): each `.gitignore` speaks of paths relative to
# its own directory, a deeper one wins over a shallower one, and all of them win
# over `.git/info/exclude`. A "layer" is (directory, patterns); a walk carries the
# layers that apply where it is, outermost first.

IGNORE_FILE = ".gitignore"
_SPECS: Lru = Lru(1024)  # ignore file -> its patterns, keyed by its stat (edits are seen)


def git_root(start: str) -> Optional[str]:
    """The directory holding the nearest `.git` (a directory, or a worktree's file)
    at or above the absolute directory `start`, if any."""
    directory = start
    while True:
        if os.path.lexists(os.path.join(directory, ".git")):
            return directory
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def is_ignored(path: str, root: str) -> bool:
    """Would `walk_c_files(root, ...)` leave out the file at absolute `path` under the
    absolute directory `root` because git ignores it or one of its directories?"""
    relative = os.path.relpath(path, root)
    if relative == os.curdir or relative == os.pardir or relative.startswith(os.pardir + os.sep):
        return False
    layers = _root_layers(root)
    directory = root
    parts = relative.split(os.sep)
    for i, part in enumerate(parts):
        layers = _with_ignore_file(layers, directory)
        directory = os.path.join(directory, part)
        if layers and _ignored(layers, directory, i < len(parts) - 1):
            return True
    return False


def _root_layers(root: str) -> list:
    """The layers that apply at the walked directory `root` from outside it: the
    repository's exclude file and the `.gitignore` files of the directories from the
    repository root down to `root`'s parent. None of them if they ignore `root`."""
    top = git_root(root)
    if top is None:
        return []  # not in a repository: only the tree's own .gitignore files
    layers = []
    git = os.path.join(top, ".git")
    exclude = _spec(os.path.join(_git_dir(git), "info", "exclude"))
    if exclude is not None:
        layers.append((top, exclude))
    directory = top
    for part in os.path.relpath(root, top).split(os.sep) if root != top else ():
        layers = _with_ignore_file(layers, directory)
        directory = os.path.join(directory, part)
        if layers and _ignored(layers, directory, True):
            return []  # named although ignored: walked, under its own rules only
    return layers


def _git_dir(git: str) -> str:
    """The git directory behind `.git`: itself, or where a worktree's or submodule's
    `.git` file points (its common directory, which holds `info/exclude`)."""
    if os.path.isdir(git):
        return git
    try:
        text = read_bytes(git, MAX_SMALL_FILE_BYTES).decode("utf-8", "surrogateescape")
    except OSError:
        return git
    if not text.startswith("gitdir:"):
        return git
    target = os.path.join(os.path.dirname(git), text[len("gitdir:"):].strip())
    try:
        common = read_bytes(os.path.join(target, "commondir"), MAX_SMALL_FILE_BYTES)
    except OSError:
        return target
    return os.path.join(target, common.decode("utf-8", "surrogateescape").strip())


def _with_ignore_file(layers: list, directory: str) -> list:
    spec = _spec(os.path.join(directory, IGNORE_FILE))
    return layers + [(directory, spec)] if spec is not None else layers


def _spec(path: str):
    """The patterns of the ignore file `path`; None if it has none or cannot be read
    (as git: an unreadable ignore file ignores nothing)."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return _SPECS.get((path, info.st_mtime_ns, info.st_size, info.st_ino), lambda: _read_spec(path))


def _read_spec(path: str):
    from pathspec import GitIgnoreSpec

    try:
        text = read_bytes(path, MAX_SMALL_FILE_BYTES).decode("utf-8", "surrogateescape")
    except OSError:
        return None
    spec = GitIgnoreSpec.from_lines(text.removeprefix("\ufeff").splitlines())
    return spec if any(pattern.include is not None for pattern in spec.patterns) else None


def _ignored(layers: list, path: str, is_dir: bool) -> bool:
    """Is `path` (under every layer's directory) ignored: by the deepest layer that
    says anything about it (a negation `!` says "not ignored")."""
    for base, spec in reversed(layers):
        relative = path[len(base) + 1:] if not base.endswith(os.sep) else path[len(base):]
        if os.sep != "/":
            relative = relative.replace(os.sep, "/")
        result = spec.check_file(relative + "/" if is_dir else relative)
        if result.include is not None:
            return result.include
    return False
