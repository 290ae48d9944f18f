"""The lock lattice: which locks are held, for sure or on some paths, at a point.

A `LockState` is a small set of *path classes*. Every path that reaches a point
falls into the class of the locks it holds (its lock signature); a class keeps
the path facts true on all of its paths (`facts`) and the branches all of them
took (`trail`, to explain findings). "Held for sure" is held in every class;
"held on some path" is held in at least one. Joining two states merges classes
with the same signature (intersecting facts and trails), so the number of
classes is bounded by the distinct lock signatures, and capped.

Locks a function never touched are absent: their state at entry is unknown.
Releasing an absent lock assumes the caller held it (`entry_held`), so functions
that drop a caller's lock, or drop and retake it, are not reported.

Values are immutable; `join`, `transfer` and `refine` return new states.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Iterable, Optional

from lockls.dataflow import facts as F
from lockls.ir.events import HELD_TESTS, Acquire, Cond, Derive, Kill, Rebind, Release, Site, TrailItem, TryAcquire
from lockls.lowering.lockexpr import reached_through

MAX_CLASSES = 24
_first = itemgetter(0)
MAX_TRAIL = 32  # branches a path class remembers to explain findings (the latest)
MAX_COUNT = 3  # recursion depth tracked for recursive locks


@dataclass(frozen=True, slots=True)
class LockFact:
    """What one path class knows about one lock."""

    held: bool
    entry_held: bool  # assumed held when the function was entered
    shared: bool
    count: int  # how many times it is held (recursive locks), 0 when released
    sites: frozenset  # of Site: where it was taken (held) or dropped (not held)
    written: str  # the lock as written at the first of `sites`
    unknown: bool = False  # forgotten when too many paths disagreed: like never touched
    spinning: bool = False  # held, and its kind spins: nothing may sleep now
    lock_class: Optional[str] = None  # the lock's configured class, when held

    @property
    def signature(self):
        return (self.held, self.entry_held, self.shared, self.count, self.unknown)

    def first_site(self) -> Optional[Site]:
        return min(self.sites, key=lambda s: s.start_byte) if self.sites else None


@dataclass(frozen=True, slots=True)
class PathClass:
    locks: tuple  # of (key, LockFact), sorted by key
    facts: frozenset  # of facts.Fact
    trail: frozenset  # of TrailItem
    _signature: Optional[tuple] = field(default=None, compare=False, hash=False, repr=False)
    _copies: Optional[dict] = field(default=None, compare=False, hash=False, repr=False)

    @property
    def signature(self):
        # made once per class: every join and transfer asks for it (hundreds of locks in a
        # switch that takes one per case)
        if self._signature is None:
            object.__setattr__(self, "_signature", tuple((k, f.signature) for k, f in self.locks))
        return self._signature

    def get(self, key: str) -> Optional[LockFact]:
        f = self._exactly(key)
        if f is None and self.facts and self.copies:
            stored = self.stored_key(key)
            if stored != key:
                return self._exactly(stored)
        return f

    def _exactly(self, key: str) -> Optional[LockFact]:
        locks = self.locks
        if len(locks) > 8:  # sorted by key: a switch with a lock per case has hundreds
            i = bisect_left(locks, key, key=_first)
            return locks[i][1] if i < len(locks) and locks[i][0] == key else None
        for k, f in locks:
            if k == key:
                return f
        return None

    @property
    def copies(self) -> dict:
        """name -> the other names of the same pointer on these paths (`child = parent;`,
        see `rebind`), from the COPY facts; {} when there are none."""
        if self._copies is None:
            copies = _COPIES.get(self.facts)
            if copies is None:
                groups: dict = {}
                for name, rel, source in self.facts:
                    if rel == COPY:
                        groups.setdefault(source, [source]).append(name)
                copies = {n: tuple(x for x in group if x != n) for group in groups.values() for n in group}
                if len(_COPIES) > 4096:
                    _COPIES.clear()
                _COPIES[self.facts] = copies
            object.__setattr__(self, "_copies", copies)
        return self._copies

    def stored_key(self, key: str) -> str:
        """`key` as this class stores it: spelled through another name of the same pointer
        when the lock is held (or dropped) under that name."""
        root = _root(key)
        for other in self.copies.get(root, ()):
            alternative = other + key[len(root):]
            if self._exactly(alternative) is not None:
                return alternative
        return key

    def with_lock(self, key: str, fact: Optional[LockFact]) -> "PathClass":
        if self.facts and self.copies:
            key = self.stored_key(key)
        locks = [(k, f) for k, f in self.locks if k != key]
        if fact is not None:
            locks.append((key, fact))
            locks.sort(key=_first)
        return PathClass(tuple(locks), self.facts, self.trail)

    def held(self) -> list[tuple[str, LockFact]]:
        return [(k, f) for k, f in self.locks if f.held]


# facts -> `PathClass.copies` of them: classes are made anew at every event, their facts
# mostly shared
_COPIES: dict = {}

LockState = tuple  # of PathClass, sorted by signature; () means unreachable

ENTRY: LockState = (PathClass((), frozenset(), frozenset()),)


# -- join ------------------------------------------------------------------------

def _spelling_order(f: LockFact):
    """Which fact's spelling of a lock a join keeps: the earliest site's, then the
    smallest text (so that join is commutative when one lock is spelled two ways)."""
    return (f.first_site().start_byte if f.sites else 1 << 62, f.written)


def _merge_fact(a: LockFact, b: LockFact) -> LockFact:
    if a.sites == b.sites and a.written == b.written:
        return a
    sites = a.sites | b.sites
    # (the spelling order looks at every site: only when the spellings differ)
    first = a if a.written == b.written else min((a, b), key=_spelling_order)
    return LockFact(a.held, a.entry_held, a.shared, a.count, sites, first.written, a.unknown,
                    a.spinning or b.spinning, a.lock_class or b.lock_class)


def _merge_class(a: PathClass, b: PathClass) -> PathClass:
    if a == b:
        return a
    locks = tuple((k, _merge_fact(fa, fb)) for (k, fa), (_, fb) in zip(a.locks, b.locks))
    return PathClass(locks, a.facts & b.facts, a.trail & b.trail)


def join(a: LockState, b: LockState, lock_flags: frozenset = frozenset()) -> LockState:
    """The state of a point reached from both `a` and `b`. `lock_flags`: parameters that
    tell whether the caller holds a lock (`have_lock`, see `_known_not_held_at_entry`)."""
    if not a:
        return b
    if not b or a == b:
        return a
    return normalize(_known_not_held_at_entry(a + b, lock_flags))


def _known_not_held_at_entry(classes: tuple, lock_flags: frozenset = frozenset()) -> list[PathClass]:
    """A lock some path acquired was not held at entry, on any path: make classes
    that never touched it say "not held" (so unlocking it there is reported).
    Not in a function with a parameter that says whether the caller holds a lock
    (`if (!have_lock) lock(c);`): a path that has not tested it yet (the way into a
    retry loop) may be one where the caller holds it."""
    if lock_flags:
        return list(classes)
    known: dict[str, LockFact] = {}
    for c in classes:
        for k, f in c.locks:
            if f.entry_held or (c.facts and (_root(k), REBOUND, "") in c.facts):
                continue
            seen = known.get(k)
            if seen is None or (f.written != seen.written and _spelling_order(f) < _spelling_order(seen)):
                known[k] = f
    if not known:
        return list(classes)
    out = []
    for c in classes:
        have = {k for k, _ in c.locks}
        missing = [(k, LockFact(False, False, False, 0, frozenset(), f.written))
                   for k, f in known.items() if k not in have and not _through_null(c, k)
                   and not (c.facts and c.copies and c.get(k) is not None)]  # (held under another name)
        if missing:
            c = PathClass(tuple(sorted(c.locks + tuple(missing), key=_first)), c.facts, c.trail)
        out.append(c)
    return out


def _through_null(c: PathClass, key: str) -> bool:
    """Is `key` reached through a pointer the path knows is NULL (`if (!p)` taken, or
    `p = NULL`)? Then the lock does not exist there: nothing to say of it (and a path
    that later forgets the test by merging must not carry a "not held" fact with it)."""
    if "->" not in key or not c.facts:
        return False
    pointer = key[:key.index("->")]
    return any(k == pointer and rel == "eq" and F.number(v) == 0 for k, rel, v in c.facts)


def normalize(classes: Iterable[PathClass]) -> LockState:
    """Sort classes (so equal states compare equal), merging equal ones and capping.

    Paths with the same locks but different facts stay apart (so that
    `if (a && b) lock(); ... if (a && b) unlock();` is decided), up to
    MAX_CLASSES (the CFG keeps only facts that decide lock calls); past that, classes with the same locks merge (their facts
    intersect), and past that again the locks they disagree on are forgotten."""
    classes = tuple(classes)
    if len(classes) <= 1:
        return classes
    by_key: dict = {}
    for c in classes:
        key = (c.signature, c.facts)
        by_key[key] = _merge_class(by_key[key], c) if key in by_key else c
    if len(by_key) > MAX_CLASSES:
        by_sig: dict = {}
        for c in by_key.values():
            sig = c.signature
            by_sig[sig] = _merge_class(by_sig[sig], c) if sig in by_sig else c
        if len(by_sig) > MAX_CLASSES:
            return _collapse(list(by_sig.values()))
        by_key = {(c.signature, c.facts): c for c in by_sig.values()}
    if len(by_key) > 1 and any_unknown(by_key.values()):
        by_key = {(c.signature, c.facts): c for c in _absorb(list(by_key.values()))}
    # any fixed order makes equal states equal tuples; hashing is cheap (repr is not)
    return tuple(by_key[k] for k in sorted(by_key, key=hash))


def weight(state: LockState) -> int:
    """What a state holds, in classes and their locks: the unit of the solver's work
    budget and of the memory a kept result weighs."""
    return len(state) + sum(len(c.locks) for c in state)


def any_unknown(classes) -> bool:
    """Does some class hold a lock it had to forget (see `_collapse`)?"""
    for c in classes:
        for _, f in c.locks:
            if f.unknown:
                return True
    return False


def _subsumes(a: PathClass, b: PathClass) -> bool:
    """Does `a` say less than `b` about everything (so `b`'s paths add nothing)?
    A forgotten (unknown) lock of `a` allows anything; its other locks must agree,
    and its path facts must be among `b`'s."""
    if not a.facts <= b.facts:
        return False
    keys = {k for k, _ in a.locks} | {k for k, _ in b.locks}
    for k in keys:
        fa, fb = a.get(k), b.get(k)
        if fa is not None and fa.unknown:
            continue
        if fa is None or fb is None or fa.signature != fb.signature:
            return False
    return True


def _absorb(classes: list[PathClass]) -> list[PathClass]:
    """Drop the classes a class with forgotten locks subsumes, merging what they
    know about the locks both still know (their sites). Without this, joining a
    collapsed class with one of the classes it came from would bring the
    forgotten locks back, and the fixpoint would never settle on the cap."""
    out = list(classes)
    for a in [c for c in classes if any(f.unknown for _, f in c.locks)]:
        if a not in out:
            continue  # absorbed by an earlier one
        merged = a
        for b in list(out):
            if b is not a and _subsumes(a, b):
                out.remove(b)
                locks = tuple((k, fa if fa.unknown else _merge_fact(fa, b.get(k))) for k, fa in merged.locks)
                merged = PathClass(locks, merged.facts, merged.trail & b.trail)
        out[out.index(a)] = merged  # `a` never absorbs itself
    return out


def _collapse(classes: list[PathClass]) -> LockState:
    """Too many classes: forget the locks they disagree on (unknown => no findings)."""
    keys = {k for c in classes for k, _ in c.locks}
    agreed = {}
    for k in keys:
        facts = [c.get(k) for c in classes]
        if all(f is not None for f in facts) and len({f.signature for f in facts}) == 1:
            agreed[k] = facts[0]
    merged = None
    for c in classes:
        locks = tuple(sorted(
            ((k, f if k in agreed else LockFact(False, False, False, 0, frozenset(), (f or _ANY).written, True))
             for k in keys for f in [c.get(k)]),
            key=lambda kf: kf[0]))
        reduced = PathClass(locks, c.facts, c.trail)
        merged = reduced if merged is None else _merge_class(merged, reduced)
    return (merged,)


_ANY = LockFact(False, False, False, 0, frozenset(), "")


# -- transfer --------------------------------------------------------------------

def _known(c: PathClass, key: str) -> Optional[LockFact]:
    """The class's fact about `key`, None when never touched or forgotten."""
    f = c.get(key)
    return None if f is None or f.unknown else f


def acquire(c: PathClass, ev: Acquire | TryAcquire, recursive: bool) -> PathClass:
    f = _known(c, ev.key)
    if f is not None and f.held:
        if recursive or (ev.shared and f.shared):
            return c.with_lock(ev.key, LockFact(True, f.entry_held, f.shared, min(f.count + 1, MAX_COUNT), f.sites,
                                                f.written, False, f.spinning, f.lock_class))
        return c  # a double lock: the rule reports it; the lock stays held
    entry_held = f.entry_held if f is not None else False
    return c.with_lock(ev.key, LockFact(True, entry_held, ev.shared, 1, frozenset((ev.site,)), ev.written,
                                        False, bool(ev.spinning), ev.lock_class))


def release(c: PathClass, ev: Release) -> PathClass:
    f = _known(c, ev.key)
    if f is None:  # never touched here: the caller must have held it
        return c.with_lock(ev.key, LockFact(False, True, False, 0, frozenset((ev.site,)), ev.written))
    if f.held and f.count > 1:
        return c.with_lock(ev.key, LockFact(True, f.entry_held, f.shared, f.count - 1, f.sites, f.written,
                                            False, f.spinning, f.lock_class))
    if f.held:
        return c.with_lock(ev.key, LockFact(False, f.entry_held, False, 0, frozenset((ev.site,)), ev.written))
    return c  # already released: unlock-unheld reports it (unless the release tolerates it)


def try_acquire(c: PathClass, ev: TryAcquire, recursive: bool) -> list[PathClass]:
    """Split a class on a trylock: acquired (result = success) or not (result = failure)."""
    base_facts = F.kill(c.facts, (ev.result, ev.cleared) if ev.cleared else (ev.result,))
    success_fact = F.outcome_fact(ev.result, ev.fn.success or "zero")
    failure_fact = (
        F.outcome_fact(ev.result, ev.fn.failure) if ev.fn.failure else F.complement_fact(ev.result, ev.fn.success or "zero")
    )
    if ev.cleared:  # the pointer it hands the lock back through is NULL when it failed
        failure_facts = frozenset((failure_fact, (ev.cleared, "eq", "NULL")))
    else:
        failure_facts = frozenset((failure_fact,))
    f = _known(c, ev.key)
    if f is not None and f.held and not recursive and not (ev.shared and f.shared):
        # a try of a lock this path holds fails (EBUSY): it waits for nobody, and takes
        # nothing (`if (trylock(&m)) unlock(&m);` with `m` held)
        return [PathClass(c.locks, base_facts | failure_facts, c.trail)]
    won = acquire(PathClass(c.locks, base_facts | {success_fact}, c.trail), ev, recursive)
    if f is None:  # a failed try means we did not hold it: an unlock now is a bug
        lost_fact = LockFact(False, False, False, 0, frozenset((ev.site,)), ev.written)
        lost = PathClass(c.locks, base_facts | failure_facts, c.trail).with_lock(ev.key, lost_fact)
    else:
        lost = PathClass(c.locks, base_facts | failure_facts, c.trail)
    return [won, lost]


def conditional(c: PathClass, ev: Acquire | Release, recursive: bool) -> list[PathClass]:
    """Split a class on an action that happens only for some return values (`when`): the
    path where the call returned `when` (the lock taken, or dropped) and the one where
    it did not (`obj_unref(o)` left `o` locked; a lookup that returned NULL holds nothing)."""
    base = F.kill(c.facts, (ev.result,))
    done = PathClass(c.locks, base | {F.outcome_fact(ev.result, ev.when)}, c.trail)
    not_done = PathClass(c.locks, base | _complement(ev.result, ev.when), c.trail)
    if isinstance(ev, Release):
        return [release(done, ev), not_done]
    if _known(c, ev.key) is None:  # it did not take the lock: on that path it is not held
        not_done = not_done.with_lock(ev.key, LockFact(False, False, False, 0, frozenset(), ev.written))
    return [acquire(done, ev, recursive), not_done]


def _complement(key: str, outcome: str) -> frozenset:
    """The facts that `key` does not have `outcome`. Not negative: the tests a check of
    the result is written as decide it (`rc < 0`, `rc >= 0`)."""
    fact = F.complement_fact(key, outcome)
    if outcome != "negative":
        return frozenset((fact,))
    return frozenset((fact, (f"{key} < 0", "is", "0"), (f"{key}<0", "is", "0"), (f"{key}>=0", "is", "1")))


def _root(key: str) -> str:
    end = 0
    while end < len(key) and (key[end].isalnum() or key[end] in "_$"):
        end += 1
    return key[:end]


# a fact marking a variable given another object on this path after a lock reached
# through it was released (`put(l); l = NULL; get(&l);`): what happens to the new
# object's locks says nothing of the old one's at entry (`_known_not_held_at_entry`)
REBOUND = "rebound"


# a fact naming two pointers with one value: (target, COPY, source) after `target = source;`
COPY = "copy"


def rebind(c: PathClass, ev: Rebind) -> PathClass:
    """`target = source`: the locks named through the old value of `target` go stale (see
    `Rebind`); with a `source`, the two names are copies of one pointer from now on, and
    a lock is found through either (`child = parent; ... unlock(&parent->lock)`, and the
    hand-over-hand `cur = next; ... unlock(&cur->lock)`)."""
    if c.copies.get(ev.target):  # (a Kill before it usually parted them already)
        c = _parted(c, ev.target)
    locks = []
    changed = False
    facts = c.facts
    for k, f in c.locks:
        root = _root(k)
        if root == ev.target:
            changed = True
            if f.held:  # still held, through a name nobody can use any more
                locks.append((f"{k}@{ev.tag}", f))
            else:
                facts = facts | {(ev.target, REBOUND, "")}
        else:
            locks.append((k, f))
    if ev.source is not None and ev.source != ev.target:
        changed = True
        source = next((s for n, rel, s in facts if rel == COPY and n == ev.source), ev.source)
        facts = facts | {(ev.target, COPY, source)}
    if not changed:
        return c
    locks.sort(key=lambda kf: kf[0])
    return PathClass(tuple(locks), facts, c.trail)


def _parted(c: PathClass, name: str) -> PathClass:
    """`name` gets another value: the locks stored through it move to another name of the
    same pointer, which keeps the old value, and `name` is nobody's copy any more."""
    others = c.copies.get(name, ())
    heir = others[0]
    moved: dict = {}
    for k, f in c.locks:
        moved.setdefault(heir + k[len(name):] if _root(k) == name else k, f)
    locks = tuple(sorted(moved.items(), key=_first))
    facts = frozenset(x for x in c.facts if not (x[1] == COPY and name in (x[0], x[2])))
    if len(others) > 1:  # the other copies now copy the heir
        facts = facts | {(o, COPY, heir) for o in others[1:]}
    return PathClass(locks, facts, c.trail)


def derive(c: PathClass, ev: Derive) -> PathClass:
    facts = F.kill(c.facts, (ev.target,))
    if ev.const is not None:
        facts = facts | {(ev.target, "eq", ev.const)}
        return PathClass(c.locks, facts, c.trail)
    verdict = F.decide(facts, ev.cond)
    if verdict is not None:
        facts = facts | {(ev.target, "ne" if verdict else "eq", "0")}
    return c if facts == c.facts else PathClass(c.locks, facts, c.trail)


def kill_all(state: LockState, ev: Kill) -> LockState:
    out = tuple(kill(c, ev) for c in state)
    if all(a is b for a, b in zip(out, state)):
        return state
    return normalize(out)


# the suffix of a lock of an array whose index variable changed since it was taken
# (`&locks[i]` before `i++`): a lock nobody can name any more, and not `&locks[i]` now
STALE_INDEX = "@idx"


def kill(c: PathClass, ev: Kill) -> PathClass:
    if c.facts and c.copies:
        for name in ev.names:
            if c.copies.get(name):
                c = _parted(c, name)
    new_facts = F.kill(c.facts, ev.names, ev.through_pointers)
    locks = _reindexed(c.locks, ev.names) if ev.moves_locks and any("[" in k for k, _ in c.locks) else c.locks
    if new_facts is c.facts and locks is c.locks:
        return c
    return PathClass(locks, new_facts, c.trail)


def _reindexed(locks: tuple, names: tuple) -> tuple:
    """`locks` after the variables `names` changed: a lock indexed by one of them
    (`locks[i]`) is another lock now. Held, it lives on under a stale name; released,
    nothing is known of the new `locks[i]`."""
    out, changed = [], False
    for k, f in locks:
        if "[" in k and not k.endswith(STALE_INDEX) and any(indexed_by(k, n) for n in names):
            changed = True
            if f.held:
                out.append((k + STALE_INDEX, f))
            continue
        out.append((k, f))
    if not changed:
        return locks
    merged: dict = {}
    for k, f in out:
        merged.setdefault(k, f)  # two stale locks of one array: one entry is enough
    return tuple(sorted(merged.items(), key=lambda kf: kf[0]))


def indexed_by(key: str, name: str) -> bool:
    """Is `key` an element of an array of locks indexed by an expression reading `name`?"""
    depth, start = 0, 0
    for i, ch in enumerate(key):
        if ch == "[":
            if depth == 0:
                start = i + 1
            depth += 1
        elif ch == "]" and depth:
            depth -= 1
            if depth == 0 and F.mentions(key[start:i], name):
                return True
    return False


def _null_on_edge(cond: Optional[Cond], truth: bool) -> tuple[str, ...]:
    """The pointer a branch edge says is NULL (`!p`, `p == NULL` taken; `p`, `p != NULL`
    not), and what it stands for through an alias."""
    if cond is None or cond.key is None or cond.op not in ("==", "!=") or F.number(cond.const or "") != 0:
        return ()
    if (cond.op == "==") != truth:
        return ()
    return (cond.key, cond.points_to) if cond.points_to else (cond.key,)


def _holds_through(c: PathClass, pointers: tuple[str, ...]) -> bool:
    return any(f.held and any(reached_through(k, p) for p in pointers) for k, f in c.locks)


def refine(state: LockState, cond: Optional[Cond], truth: bool, note: Optional[TrailItem]) -> LockState:
    """The state along a branch edge: drop classes the condition contradicts."""
    if cond is None and note is None:
        return state
    out = []
    null = _null_on_edge(cond, truth)
    tested = _held_on_edge(cond, truth)
    for c in state:
        facts = c.facts
        locks = c.locks
        if tested is not None:
            key, held, loose = tested
            f = c.get(key)
            if f is not None and not f.unknown and f.held != held:
                continue  # `if (!MUTEX_HELD(&l))` on a path that holds `l`: not taken
            if loose:  # a test known by its name: the lock inside `l` a wrapper took (`l->m_lock`)
                known = [g.held for k, g in c.locks if _inside(k, key) and not g.unknown]
                if known and held not in known:
                    continue
            elif f is None:  # untouched so far: now known, held by the caller or not held at all
                locks = c.with_lock(key, LockFact(held, held, False, int(held), frozenset(), key)).locks
        elif cond is not None:
            facts = F.assume(facts, cond, truth) if cond.records else (
                facts if F.decide(facts, cond) in (None, truth) else None)
            if facts is None:
                continue  # this path cannot take this edge
        if null and _holds_through(c, null):
            continue  # a lock held through `p` says `p` is not NULL: `if (p) unlock(&p->lock)`
        trail = _noted(c.trail, note) if note is not None else c.trail
        out.append(PathClass(locks, facts, trail))
    return normalize(out)


def _noted(trail: frozenset, note: TrailItem) -> frozenset:
    """`trail` and `note`, keeping the MAX_TRAIL latest branches: explanations name the
    latest two, and a path through thousands of branches must not keep them all in
    every state it reaches (5,000 `if (e) goto out;` under a lock: 1.2 GB)."""
    trail = trail | {note}
    while len(trail) > MAX_TRAIL:  # one note more than the cap: drop the earliest
        earliest = min(t.line for t in trail)
        ties = [t for t in trail if t.line == earliest]
        trail = trail - {min(ties, key=lambda t: (str(t.text), t.loop)) if len(ties) > 1 else ties[0]}
    return trail


def _held_on_edge(cond: Optional[Cond], truth: bool) -> Optional[tuple[str, bool, bool]]:
    """(lock, whether it is held, whether the test was known by its name only) along an
    edge of a branch on a lock test (`lower.held_test`: `MUTEX_HELD(&l)`, `!bql_locked()`),
    else None. The answer is not kept as a fact: it changes with every lock and unlock."""
    if cond is None or cond.key is None or cond.op not in ("==", "!=") or cond.const != "0":
        return None
    for prefix, (when_true, by_name) in HELD_TESTS.items():
        if cond.key.startswith(prefix):
            nonzero = (cond.op == "!=") == truth
            return cond.key[len(prefix):], when_true if nonzero else not when_true, by_name
    return None


def _inside(key: str, lock: str) -> bool:
    """Is `key` the lock `lock` or the one field of it a wrapper locks (`l->m_lock`)?"""
    return key == lock or (key.startswith(lock + "->") and "->" not in key[len(lock) + 2:])


# -- queries used by rules ---------------------------------------------------------

def held_anywhere(state: LockState) -> list[tuple[str, LockFact]]:
    """Every lock held on some path, one entry per key (the earliest site first)."""
    seen: dict[str, LockFact] = {}
    for c in state:
        for k, f in c.locks:
            if f.held:
                seen[k] = _merge_fact(seen[k], f) if k in seen else f
    # locks held since the entry (no site) first
    return sorted(seen.items(), key=lambda kf: kf[1].first_site().start_byte if kf[1].sites else -1)


def explain(bad: list[PathClass], good: list[PathClass]) -> list[TrailItem]:
    """The branches that lead to the `bad` classes and not to the `good` ones."""
    if not bad or not good:
        return []
    common = frozenset.intersection(*(c.trail for c in bad))
    seen_good = frozenset.union(*(c.trail for c in good))
    distinguishing = common - seen_good
    if not distinguishing:
        distinguishing = common - frozenset.intersection(*(c.trail for c in good))
    if not distinguishing:
        # no single branch separates them: name branches only bad paths took
        distinguishing = frozenset.union(*(c.trail for c in bad)) - seen_good
    # the most recent decisions explain best; a loop's own test only as a last resort
    strong = [t for t in distinguishing if not t.loop] or list(distinguishing)
    return sorted(strong, key=lambda t: (t.line, str(t.text)))[-2:]
