"""Lock events: what a statement does to locks, in the order it does it.

The CFG builder lowers C statements to these; the dataflow engine and the rules
only ever see events, never tree-sitter nodes. A `Site` is where an event comes
from in the file (byte range and (row, byte column) points).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

from lockls.config import LockFunction
from lockls.ir.message import Message


@dataclass(frozen=True, slots=True)
class Site:
    start_byte: int
    end_byte: int
    start: tuple[int, int]  # (row, byte column), 0-based
    end: tuple[int, int]

    @property
    def line(self) -> int:
        """1-based line, for messages."""
        return self.start[0] + 1

    @classmethod
    def of(cls, node) -> "Site":
        return cls(node.start_byte, node.end_byte, tuple(node.start_point), tuple(node.end_point))


# the keys of lock tests' conditions (`lower.held_test`): "held?KEY" for a declared
# `tests-held`, "unheld?KEY" for `tests-not-held`; with "~", a test known by its name only.
# prefix -> (whether a true answer means held, whether known by name)
HELD_TESTS = {"held?": (True, False), "unheld?": (False, False), "held~?": (True, True), "unheld~?": (False, True)}
HELD_TEST_PREFIXES = tuple(HELD_TESTS)


def held_test_key(lock: str, held: bool, by_name: bool = False) -> str:
    """The condition key of a test whether `lock` is held (`held`) or not held."""
    return next(p for p, meaning in HELD_TESTS.items() if meaning == (held, by_name)) + lock


@dataclass(frozen=True, slots=True)
class Cond:
    """A branch condition, reduced where possible to `key op const`.

    `text` is the condition as written (normalised spaces); it doubles as an
    opaque fact so that the same test repeated later is decided the same way.
    `key`/`op`/`const` are set when the condition compares one value with a
    constant (`rc != 0`, `!p`, `x == thrd_success`, a bare `flag`).
    """

    text: str
    key: Optional[str] = None
    op: Optional[str] = None  # "==", "!=", "<", "<=", ">", ">="
    const: Optional[str] = None
    # what `key` stands for through a local alias (`event` for `vm` after `event = vm;`):
    # a NULL test of either says whether locks held through the other can exist
    points_to: Optional[str] = None
    # False: nothing later tests this value, so the path keeps no fact of it (paths are
    # not split by it); a NULL test still says which paths hold a lock through it
    records: bool = True


@dataclass(frozen=True, slots=True)
class TrailItem:
    """A branch or jump taken on the way to a point, used to explain findings."""

    line: int  # 1-based
    text: Message  # e.g. "when `x < 0` at line 12", "via `goto out` at line 20"
    loop: bool = False  # a loop's own test: a weak explanation, used only when nothing else explains


@dataclass(frozen=True, slots=True)
class Acquire:
    key: str  # canonical lock identity
    written: str  # the lock expression as written
    site: Site
    fn: LockFunction
    shared: bool
    spinning: Optional[bool] = None  # the lock's kind spins (True), sleeps (False), or is unknown
    lock_class: Optional[str] = None  # its class in the configuration ([classes.NAME])
    # a blocking acquisition that took the lock only when the call's value (the fact key
    # `result`) has the outcome `when` (`[functions.X] when = "nonnull"`: a lookup that waits
    # for the object's lock, or returns NULL); None: it always takes it
    result: Optional[str] = None
    when: Optional[str] = None
    # the variable the call saves the interrupt state in (`spin_lock_irqsave(&l, flags)`)
    saves: Optional[str] = None


@dataclass(frozen=True, slots=True)
class TryAcquire:
    key: str
    written: str
    site: Site
    fn: LockFunction
    shared: bool
    result: str  # the fact key that holds the call's return value
    spinning: Optional[bool] = None
    lock_class: Optional[str] = None
    # the caller's pointer the call hands the lock back through (`find(k, &lock)`), which
    # it sets to NULL when it fails (its `clears`): tests of it tell the outcome apart
    cleared: Optional[str] = None


@dataclass(frozen=True, slots=True)
class Release:
    key: str
    written: str
    site: Site
    fn: LockFunction
    # released only when the call's value (the fact key `result`) has the outcome `when`
    # (`obj_unref(o)` unlocks `o` when it returns 0); None: always
    result: Optional[str] = None
    when: Optional[str] = None


@dataclass(frozen=True, slots=True)
class Call:
    """A call that matters to rules other than through locks: one that may sleep,
    or that requires (or excludes) locks held by its caller."""

    name: str
    site: Site
    may_sleep: bool
    requires: tuple = ()  # (key, written) of locks that must be held here
    excludes: tuple = ()  # (key, written) of locks that must not be held here
    declared: Optional["Declared"] = None  # where the callee's contract was declared
    takes: tuple = ()  # (key, written) of locks the callee takes and drops itself (its summary)
    excluded_classes: tuple = ()  # classes no lock of which may be held here (`excludes = ["class:driver"]`)
    strict: bool = False  # `requires` hold even where the caller never touches them (clang's requires_capability)


@dataclass(frozen=True, slots=True)
class Declared:
    """Where something a finding relies on was declared (a guard, a lock order, a
    class): outside the function, so not a `Site`. Front-ends find its position
    when they render the finding, so cached results stay valid while the text
    around the declaration moves."""

    what: str  # "guarded" (a field, variable or type), "order" (a lock), "class", "lock-order"
    name: str  # the field, variable, type, lock or class name as declared
    origin: Optional[str] = None  # the declaring file (a source or the config file); None: the analysed file


@dataclass(frozen=True, slots=True)
class Access:
    """A read or write of guarded data; `key` is the lock that guards it."""

    key: str
    guard: str  # the guarding lock as shown in messages
    written: str  # the data as written
    site: Site
    everywhere: bool = False  # report even where the function never takes or drops the guard
    declared: Optional[Declared] = None  # where the guard was declared
    any_lock: bool = False  # guarded by some lock, whichever (clang's guarded_var): any lock held will do


@dataclass(frozen=True, slots=True)
class Kill:
    """A value was (or may have been) changed: facts about `names` no longer hold."""

    names: tuple[str, ...]
    site: Optional[Site] = None  # where, for an increment or an assignment (`i++` moves `&locks[i]` on)
    moves_locks: bool = True  # False: the name may be another variable of that name (declared twice)
    through_pointers: bool = True  # False: `f(&ctx)` changes what is in ctx, not what its pointers point to


@dataclass(frozen=True, slots=True)
class Rebind:
    """A pointer variable gets a new value: `target = source` (source None: anything else).

    Locks named through the old value of `target` keep being tracked under a
    stale name (so a leak is still reported); locks named through `source` move
    to `target` (hand-over-hand list walks: `cur = next`)."""

    target: str
    source: Optional[str]
    site: Site
    tag: str = ""  # names the stale lock; relative to the function, so moving it changes nothing


@dataclass(frozen=True, slots=True)
class Derive:
    """`target = <condition>`: the variable records whether `cond` held
    (`bool locked = pthread_mutex_trylock(&m) == 0;`)."""

    target: str
    cond: Optional[Cond] = None
    const: Optional[str] = None  # `target = CONST` instead of a condition


@dataclass(frozen=True, slots=True)
class Return:
    site: Site
    implicit: bool = False  # falling off the end of the function (the closing brace)
    value: Optional[str] = None  # canonical returned expression (`return vm;` hands vm's lock on)


Event = Union[Acquire, TryAcquire, Release, Call, Access, Kill, Rebind, Derive, Return]
LOCK_EVENTS = (Acquire, TryAcquire, Release)


def result_of(ev) -> Optional[str]:
    """The fact key of the call's value that says what a lock event did: a trylock's
    result, or that of an action that happens only for some return values (`when`)."""
    if isinstance(ev, TryAcquire):
        return ev.result
    if isinstance(ev, (Acquire, Release)) and ev.when is not None:
        return ev.result
    return None


def mentions(key: str, name: str) -> bool:
    """Does the fact key `key` (a `Cond` key) read the value `name` (as a whole token)?"""
    start = key.find(name)
    while start >= 0:
        end = start + len(name)
        before = key[start - 1] if start else ""
        after = key[end] if end < len(key) else ""
        if not (before.isalnum() or (before and before in "_.>")) and not (after.isalnum() or after == "_"):
            return True
        start = key.find(name, start + 1)
    return False
