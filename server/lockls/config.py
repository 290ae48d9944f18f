"""Project configuration: the data model, `.lockls.toml` discovery, loading,
validation and the built-in presets.

Owns: what a configuration can say and how it is read and checked. Must not
know about tree-sitter, the analysis or output formats. The analysis only reads
a `Config` (immutable once built).

Lock specs: a function's lock is named by a *lock spec*: "arg0".."argN" (the
lock is argument N, or what argument N points to: lock identity treats a pointer
to a lock and the lock alike) or "return" (the function returns the locked object,
e.g. a lookup that returns a locked object or NULL).

Outcomes (for try-acquire): which return values mean "acquired": "zero",
"nonzero", "nonnull", "negative", or a constant's name such as "thrd_success".
`failure` defaults to the complement of `success`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional

ACTIONS = ("acquire", "acquire-shared", "release", "try-acquire", "try-acquire-shared")
OUTCOMES = ("zero", "nonzero", "nonnull", "null", "negative")
SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True, slots=True)
class LockFunction:
    """A function (or function-like macro) that takes, drops or tries to take a lock."""

    name: str
    action: str  # one of ACTIONS, with "-shared" folded into `shared`
    lock: str  # a lock spec: "arg0".."argN" or "return"
    shared: bool = False  # a reader (shared) acquisition
    success: Optional[str] = None  # try-acquire: the outcome meaning "acquired"
    failure: Optional[str] = None  # try-acquire: the outcome meaning "not acquired"
    kind: Optional[str] = None  # a key of Config.kinds

    @property
    def is_try(self) -> bool:
        return self.action == "try-acquire"

    @property
    def lock_arg(self) -> Optional[int]:
        """The argument index of the lock, or None when the lock is the return value."""
        return None if self.lock == "return" else int(self.lock[3:])


@dataclass(frozen=True, slots=True)
class LockKind:
    """Properties shared by every lock of a kind (a pthread mutex, a spinlock...)."""

    name: str
    recursive: bool = False  # may be re-taken by its holder


@dataclass(frozen=True, slots=True)
class LockPattern:
    """Properties of the locks whose canonical expression matches a glob."""

    match: str  # fnmatch glob over the canonical lock expression, e.g. "*->rec_lock"
    kind: Optional[str] = None
    recursive: Optional[bool] = None


@dataclass(frozen=True)
class Config:
    """The effective configuration for one file: presets merged with the project's file."""

    source: Optional[str] = None  # the config file it came from; None: built-in defaults
    presets: tuple[str, ...] = ()
    functions: Mapping[str, LockFunction] = field(default_factory=dict)
    kinds: Mapping[str, LockKind] = field(default_factory=dict)
    locks: tuple[LockPattern, ...] = ()
    select: frozenset[str] = frozenset()  # enabled rules
    severities: Mapping[str, str] = field(default_factory=dict)  # rule -> severity
    include: tuple[str, ...] = ()  # globs relative to `root`; empty: everything
    exclude: tuple[str, ...] = ()
    root: Optional[str] = None  # directory the globs are relative to
