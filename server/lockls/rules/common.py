"""What rules share: the context they report through and message phrasing.

Rules never walk syntax trees: they look at one event and the lock state just
before it, and call `ctx.report(...)`. Messages follow one shape: what happens
to which lock (as written), on which paths (`when ...`), then `(held: ...)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from lockls.ir.events import Site, TrailItem
from lockls.ir.message import LineRef, Message, as_message
from lockls.ir.results import Violation
from lockls.dataflow.lockstate import LockFact, LockState, PathClass, explain, held_anywhere


@dataclass
class RuleContext:
    """One function being checked: facts rules need beyond the lock state."""

    function: str
    is_recursive: Callable[[str, object], bool]
    released_keys: frozenset  # every lock the function releases somewhere
    acquired_keys: frozenset  # every lock the function acquires somewhere
    caller_visible: Callable[[str], bool]  # is the lock reachable from parameters or globals?
    always_held_at_return: frozenset  # locks held on every path at every return
    try_sites: dict  # site -> function name of every trylock (a "not held" there means the try failed)
    try_wrapper_keys: frozenset  # locks whose holding the return value tells the caller
    try_results: frozenset  # (lock, result key) of every trylock
    lock_order: tuple = ()  # configured class order
    classes: dict = field(default_factory=dict)  # class name -> config.LockClass
    order_pairs: tuple = ()  # (earlier, later, origin) lock globs declared in the source (acquired_before/after)
    config_origin: Optional[str] = None  # the configuration file (where classes and lock-order are declared)
    entry_point: bool = False  # the function starts with no lock held (configured entry point)
    declared_acquires: frozenset = frozenset()  # locks its own contract says it returns holding
    dropped_for_caller: frozenset = frozenset()  # locks it releases somewhere without having taken them
    # of those, the ones some return holds again on every path -> those returns' sites
    retaken_at_return: dict = field(default_factory=dict)
    parameters: frozenset = frozenset()  # the function's parameter names
    # is the lock (through the variable it is reached from) stored in memory that outlives the function?
    stored_elsewhere: Callable[[str], bool] = lambda key: False
    # the function's partner by name (`spa_vdev_exit` for `spa_vdev_enter`, see
    # `contracts.partners`) is called, declared or defined in the file: it pairs with it
    has_partner: bool = False
    lock_identity: Optional[Callable] = None  # lock key (, class) -> its lock-graph node (see `lockgraph`)
    order_cycles: dict = field(default_factory=dict)  # (first, then) node pair -> ordergraph.OrderCycle
    lock_events: dict = field(default_factory=dict)  # site -> the acquire, trylock or release there
    checking: object = None  # the event the rules are looking at
    reports: list = field(default_factory=list)

    def report(self, rule: str, site: Site, message: Message | str, related: list[tuple[Site, Message | str]] = (),
               lock=None) -> None:
        """Report a violation at `site`. It is about the lock event `lock`, by default
        the lock call being checked when `site` is that call."""
        if lock is None and site == getattr(self.checking, "site", None):
            lock = self.lock_events.get(site)
        self.reports.append(Violation(rule, site, as_message(message), tuple((s, as_message(m)) for s, m in related),
                                      lock))


def partition(state: LockState, is_bad: Callable[[PathClass], bool]) -> tuple[list, list]:
    """(the path classes where the problem happens, the others)."""
    bad, good = [], []
    for c in state:
        (bad if is_bad(c) else good).append(c)
    return bad, good


def known_not_held(c: PathClass, key: str) -> bool:
    """On these paths the lock is known not to be held (released, or a failed try);
    an untouched or forgotten lock is unknown, not "not held"."""
    f = c.get(key)
    return f is not None and not f.held and not f.unknown


def sites_of(classes, key: str) -> list[Site]:
    """Every site the paths `classes` know for the lock `key`, in source order."""
    return sorted({s for c in classes if (f := c.get(key)) is not None for s in f.sites}, key=lambda s: s.start_byte)


def held_on(classes, key: str) -> LockFact:
    """What the paths `classes` (all holding `key`) know of it together: every site,
    and a spelling that does not depend on the order of the paths."""
    return dict(held_anywhere(tuple(classes)))[key]


def offender(classes, is_offender: Callable[[str, LockFact], bool]) -> tuple[str, LockFact]:
    """The lock a message names among those held on the paths `classes` that
    `is_offender(key, fact)`: the smallest key (whatever the order of the paths),
    with its facts merged over them."""
    merged = held_anywhere(tuple(classes))
    key = min(k for k, f in merged if is_offender(k, f))
    return key, dict(merged)[key]


def held_suffix(classes) -> str:
    """`` (held: &a, &b)``: the locks held on the paths where the problem happens."""
    held = held_anywhere(tuple(classes))
    if not held:
        return " (held: none)"
    # (an element of an array of locks taken in an earlier iteration reads like the current one)
    return " (held: " + ", ".join(dict.fromkeys(f.written for _, f in held)) + ")"


def when_clause(bad: list[PathClass], good: list[PathClass]) -> Message:
    """`` when `x < 0` at line 12`` when only some paths are bad, else empty."""
    items: list[TrailItem] = explain(bad, good)
    return Message.of(*(part for i, item in enumerate(items) for part in (" and " if i else " ", item.text)))


def site_line(site: Optional[Site]) -> LineRef | str:
    return LineRef(site.line) if site is not None else "entry"
