"""The lock lattice (lockstate) and path facts (facts).

Property tests generate small lock states: classes over three lock keys, with
`LockFact`s at a few sites, a few path facts and trail items. Generated states
are *closed* the way the analysis keeps them (a lock some path took while not
held at entry is "not held" in the classes that never touched it) and normalised.
"""

from __future__ import annotations

import itertools
from functools import reduce

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lockls.dataflow import facts as F
from lockls.dataflow import lockstate as L
from lockls.config import LockFunction
from lockls.ir.events import Acquire, Cond, Kill, Rebind, Release, Site, TrailItem, TryAcquire

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEWER = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KEYS = ("a", "q->lock", "locks[i]")
SITES = tuple(Site(100 * i, 100 * i + 20, (i, 2), (i, 22)) for i in range(1, 6))
FACTS = (
    ("x", "eq", "0"), ("x", "ne", "0"), ("rc", "neg", ""), ("rc", "eq", "EBUSY"),
    ("flag && y", "is", "1"), ("n", "eq", "thrd_success"),
)
TRAIL = tuple(TrailItem(i, f"when `c{i}` at line {i}", loop=(i == 4)) for i in range(1, 6))


def written(key: str) -> str:
    return "&" + key  # one spelling per lock (see test_join_with_two_spellings_of_a_lock)


@st.composite
def lock_facts(draw, key: str):
    held = draw(st.booleans())
    entry = draw(st.booleans())
    if held:
        shared = draw(st.booleans())
        count = draw(st.integers(1, L.MAX_COUNT))
        sites = draw(st.frozensets(st.sampled_from(SITES), min_size=1, max_size=2))
    else:
        shared, count = False, 0
        sites = draw(st.frozensets(st.sampled_from(SITES), min_size=0 if not entry else 1, max_size=2))
    return L.LockFact(held, entry, shared, count, sites, written(key))


@st.composite
def path_classes(draw):
    keys = draw(st.lists(st.sampled_from(KEYS), unique=True, max_size=3))
    locks = tuple(sorted((k, draw(lock_facts(k))) for k in keys))
    facts = draw(st.frozensets(st.sampled_from(FACTS), max_size=3))
    trail = draw(st.frozensets(st.sampled_from(TRAIL), max_size=3))
    return L.PathClass(locks, facts, trail)


def close(classes) -> list:
    """Our own statement of the closure: absent locks some path took (not held at
    entry) are "not held" there, with no site."""
    known = {k for c in classes for k, f in c.locks if not f.entry_held}
    out = []
    for c in classes:
        for k in sorted(known):
            if c.get(k) is None:
                c = c.with_lock(k, L.LockFact(False, False, False, 0, frozenset(), written(k)))
        out.append(c)
    return out


@st.composite
def states(draw, min_classes=1, max_classes=4):
    classes = draw(st.lists(path_classes(), min_size=min_classes, max_size=max_classes))
    return L.normalize(close(classes))


def signatures(state) -> set:
    return {c.signature for c in state}


def must_held(state) -> frozenset:
    return frozenset.intersection(*(frozenset(k for k, f in c.locks if f.held) for c in state))


def may_held(state) -> frozenset:
    return frozenset().union(*(frozenset(k for k, f in c.locks if f.held) for c in state))


def no_cap(*xs) -> bool:
    return all(len(x) < L.MAX_CLASSES for x in xs)


# -- join ------------------------------------------------------------------------

@SETTINGS
@given(states())
def test_join_idempotent(a):
    assert L.join(a, a) == a
    assert L.join(a, tuple(a)) == a


@SETTINGS
@given(states(), states())
def test_join_commutative(a, b):
    assert L.join(a, b) == L.join(b, a)


@SETTINGS
@given(states(), states())
def test_join_absorbs(a, b):
    j = L.join(a, b)
    assert L.join(a, j) == j
    assert L.join(j, b) == j


@FEWER
@given(states(), states(), states())
def test_join_associative(a, b, c):
    """Away from the class cap (at most 12 classes here)."""
    left, right = L.join(L.join(a, b), c), L.join(a, L.join(b, c))
    assert no_cap(left, right, L.join(a, b), L.join(b, c))
    assert left == right


@SETTINGS
@given(path_classes(), st.lists(st.tuples(st.frozensets(st.sampled_from(FACTS), max_size=3),
                                          st.frozensets(st.sampled_from(TRAIL), max_size=3)), min_size=3, max_size=3))
def test_join_associative_when_every_path_holds_the_same_locks(base, parts):
    a, b, c = ((L.PathClass(base.locks, facts, trail),) for facts, trail in parts)
    left, right = L.join(L.join(a, b), c), L.join(a, L.join(b, c))
    assert left == right
    # one class per distinct set of facts, its trail what all its paths took
    assert len(left) == len({f for f, _ in parts})
    assert {x.facts for x in left} == {f for f, _ in parts}
    for x in left:
        assert x.locks == base.locks
        assert x.trail == frozenset.intersection(*(t for f, t in parts if f == x.facts))


def test_join_order_keeps_same_lock_paths_apart():
    """Paths holding the same locks stay apart by their facts whatever the order of
    joins (`if (mode == 1) ... else if (mode == 3) lock(m); ... if (mode == 3) unlock(m)`)."""
    site = SITES[0]
    p1 = (L.PathClass((), frozenset({("mode", "eq", "1")}), frozenset()),)
    p2 = (L.PathClass((), frozenset({("mode", "eq", "2")}), frozenset()),)
    p3 = (L.PathClass((("m", L.LockFact(True, False, False, 1, frozenset({site}), "&m")),),
                      frozenset({("mode", "eq", "3")}), frozenset()),)
    left, right = L.join(L.join(p1, p2), p3), L.join(p1, L.join(p2, p3))
    assert left == right
    assert set(left) == set(close([p1[0], p2[0], p3[0]]))
    assert len(left) == 3


@SETTINGS
@given(states(), states())
def test_join_is_an_upper_bound(a, b):
    j = L.join(a, b)
    assert no_cap(j)
    for x in (a, b):
        # every class of x is covered by a class of j: the same locks (plus locks
        # x never touched, "not held"), with fewer facts and trail items
        for c in x:
            covering = [d for d in j
                        if all(d.get(k) is not None and d.get(k).signature == f.signature for k, f in c.locks)
                        and all(c.get(k) is not None or (not f.held and not f.entry_held and f.count == 0)
                                for k, f in d.locks)
                        and d.facts <= c.facts and d.trail <= c.trail]
            assert covering, c
        assert must_held(j) <= must_held(x)
        assert may_held(j) >= may_held(x)
        # the sites where a lock was taken are kept
        for c in x:
            for k, f in c.locks:
                if f.held:
                    assert any(d.get(k) is not None and f.sites <= d.get(k).sites for d in j)


@SETTINGS
@given(states(), states())
def test_join_classes_come_from_inputs(a, b):
    j = L.join(a, b)
    sigs = signatures(L.normalize(close(list(a) + list(b))))
    assert signatures(j) == sigs
    assert len(j) <= len(a) + len(b)


@SETTINGS
@given(states())
def test_join_with_unreachable_is_identity(a):
    assert L.join(a, ()) == a
    assert L.join((), a) == a
    assert L.join((), ()) == ()


def test_join_merges_same_locks_and_same_facts():
    f = L.LockFact(True, False, False, 1, frozenset({SITES[0]}), "&a")
    g = L.LockFact(True, False, False, 1, frozenset({SITES[1]}), "&a")
    facts = frozenset({("x", "eq", "0")})
    a = (L.PathClass((("a", f),), facts, frozenset({TRAIL[0], TRAIL[1]})),)
    b = (L.PathClass((("a", g),), facts, frozenset({TRAIL[1]})),)
    (c,) = L.join(a, b)
    assert c.facts == facts
    assert c.trail == frozenset({TRAIL[1]})
    assert c.get("a").sites == frozenset({SITES[0], SITES[1]})
    assert c.get("a").first_site() == SITES[0]
    # different facts: the paths stay apart
    d = (L.PathClass((("a", g),), frozenset({("x", "ne", "0")}), frozenset()),)
    assert set(L.join(a, d)) == {a[0], d[0]}


def test_join_marks_untouched_locks_not_held():
    held = L.LockFact(True, False, False, 1, frozenset({SITES[0]}), "&a")
    a = (L.PathClass((("a", held),), frozenset(), frozenset()),)
    b = (L.PathClass((), frozenset({("x", "eq", "0")}), frozenset()),)
    j = L.join(a, b)
    assert len(j) == 2
    other = next(c for c in j if not c.get("a").held)
    assert other.get("a") == L.LockFact(False, False, False, 0, frozenset(), "&a")
    assert other.facts == frozenset({("x", "eq", "0")})
    # a lock the caller held (released here without taking it) is not known "not held"
    released = L.LockFact(False, True, False, 0, frozenset({SITES[1]}), "&m")
    j = L.join((L.PathClass((("m", released),), frozenset(), frozenset()),), b)
    assert sorted(len(c.locks) for c in j) == [0, 1]


def test_join_says_nothing_of_an_old_object_from_its_replacement():
    """`put(l); l = NULL; get(&l);` on one path: the new object's lock, taken fresh, says
    nothing of whether the old one's was held at entry on the other paths."""
    c = L.PathClass((("l->lk", L.LockFact(False, True, False, 0, frozenset({SITES[0]}), "&l->lk")),),
                    frozenset(), frozenset())
    c = L.rebind(c, Rebind("l", None, SITES[1], "7"))
    assert c.locks == () and c.facts == frozenset({("l", L.REBOUND, "")})
    taken = L.PathClass((("l->lk", L.LockFact(True, False, False, 1, frozenset({SITES[2]}), "&l->lk")),),
                        c.facts, frozenset())
    untouched = (L.PathClass((), frozenset({("x", "eq", "0")}), frozenset()),)
    j = L.join((taken,), untouched)
    assert next(c for c in j if ("x", "eq", "0") in c.facts).locks == ()
    # without the rebinding, the fresh lock says the lock was not held at entry
    j = L.join((L.PathClass(taken.locks, frozenset(), frozenset()),), untouched)
    assert next(c for c in j if ("x", "eq", "0") in c.facts).get("l->lk").held is False


def test_join_with_two_spellings_of_a_lock():
    """Join is commutative even when one lock is spelled two ways (`&q->lock`,
    `&(q->lock)`): the earliest site's spelling, then the smallest, is kept."""
    def held(site, spelled):
        return (L.PathClass((("q->lock", L.LockFact(True, False, False, 1, frozenset({site}), spelled)),),
                            frozenset(), frozenset()),)

    def other(fact):
        return (L.PathClass((), frozenset({fact}), frozenset()),)

    a = L.join(held(SITES[0], "&q->lock"), other(("x", "ne", "0")))
    b = L.join(held(SITES[1], "&(q->lock)"), other(("x", "ne", "0")))
    assert L.join(a, b) == L.join(b, a)


def test_class_cap_collapses_to_agreed_locks():
    # 2**5 lock signatures over five locks: past MAX_CLASSES only agreed locks stay known,
    # the others are kept as "unknown" (like never touched: no findings about them)
    common = L.LockFact(True, False, False, 1, frozenset({SITES[0]}), "&g")
    classes = []
    for bits in itertools.product((False, True), repeat=5):
        locks = [("g", common)]
        for i, bit in enumerate(bits):
            fact = L.LockFact(True, False, False, 1, frozenset({SITES[1]}), f"&l{i}") if bit else \
                L.LockFact(False, False, False, 0, frozenset({SITES[2]}), f"&l{i}")
            locks.append((f"l{i}", fact))
        classes.append(L.PathClass(tuple(sorted(locks)), frozenset({("x", "eq", "0"), ("b", "eq", str(bits))}),
                                   frozenset()))
    assert len(classes) > L.MAX_CLASSES
    state = L.normalize(classes)
    assert len(state) == 1
    assert state[0].locks[0] == ("g", common)
    assert [(k, f.unknown, f.held) for k, f in state[0].locks[1:]] == [(f"l{i}", True, False) for i in range(5)]
    assert state[0].facts == frozenset({("x", "eq", "0")})
    # reduce by join: the same bound holds all along
    joined = reduce(L.join, [(c,) for c in classes])
    assert len(joined) <= L.MAX_CLASSES


def _five_lock_classes():
    classes = []
    for bits in itertools.product((False, True), repeat=5):
        locks = []
        for i, bit in enumerate(bits):
            fact = L.LockFact(True, False, False, 1, frozenset({SITES[1]}), f"&l{i}") if bit else \
                L.LockFact(False, False, False, 0, frozenset(), f"&l{i}")
            locks.append((f"l{i}", fact))
        classes.append(L.PathClass(tuple(sorted(locks)), frozenset({("x", "eq", "0")}), frozenset()))
    return classes


def test_join_past_the_cap_stays_bounded():
    classes = _five_lock_classes()
    state = reduce(L.join, [(c,) for c in classes])
    assert len(state) <= L.MAX_CLASSES


def test_join_absorbs_past_the_cap():
    """Past MAX_CLASSES the collapsed class forgets the locks (unknown); joining it
    again with one of the classes it came from changes nothing (the forgotten
    locks are not brought back as 'not held')."""
    classes = _five_lock_classes()
    j = L.normalize(classes)
    assert len(j) == 1 and all(f.unknown for _, f in j[0].locks)
    for c in classes:
        assert L.join(j, (c,)) == j
        assert L.join((c,), j) == j


@FEWER
@given(st.lists(path_classes(), min_size=1, max_size=40), st.randoms(use_true_random=False))
def test_normalize_is_order_independent(classes, rnd):
    classes = close(classes)
    shuffled = list(classes)
    rnd.shuffle(shuffled)
    assert L.normalize(classes) == L.normalize(shuffled)
    assert L.normalize(classes) == L.normalize(list(reversed(classes)))


@FEWER
@given(st.lists(path_classes(), min_size=1, max_size=40))
def test_normalize_is_idempotent_and_bounded(classes):
    n = L.normalize(close(classes))
    assert L.normalize(n) == n
    assert 1 <= len(n) <= L.MAX_CLASSES
    assert len(n) <= len(classes)


def test_normalize_keeps_same_locks_apart_by_facts():
    held = L.LockFact(True, False, False, 1, frozenset({SITES[0]}), "&a")
    free = L.LockFact(False, False, False, 0, frozenset(), "&a")
    p1 = L.PathClass((("a", free),), frozenset({("x", "eq", "1")}), frozenset())
    p2 = L.PathClass((("a", free),), frozenset({("x", "eq", "2")}), frozenset())
    p3 = L.PathClass((("a", held),), frozenset({("x", "eq", "3")}), frozenset())
    assert set(L.normalize([p1, p2, p3])) == {p1, p2, p3}
    assert set(L.normalize([p1, p2])) == {p1, p2}
    assert L.normalize([p1, p1]) == (p1,)


# -- refine ----------------------------------------------------------------------

CONDS = (
    Cond("x", "x", "!=", "0"), Cond("x == 0", "x", "==", "0"), Cond("rc < 0", "rc", "<", "0"),
    Cond("rc == EBUSY", "rc", "==", "EBUSY"), Cond("flag && y"), Cond("n == thrd_busy", "n", "==", "thrd_busy"),
    Cond("z > 3", "z", ">", "3"),
)


@SETTINGS
@given(states(), st.sampled_from(CONDS), st.booleans(), st.none() | st.sampled_from(TRAIL))
def test_refine_never_adds_classes(state, cond, truth, note):
    out = L.refine(state, cond, truth, note)
    assert len(out) <= len(state)
    assert signatures(out) <= signatures(state)
    for c in out:
        if note is not None:
            assert note in c.trail
        # the condition is now known (or was already decided) on every class left
        assert F.decide(c.facts, cond) is truth


@SETTINGS
@given(states(), st.sampled_from(CONDS))
def test_refine_splits_between_the_two_edges(state, cond):
    t, f = L.refine(state, cond, True, None), L.refine(state, cond, False, None)
    # a class contradicting one edge survives on the other
    for c in state:
        verdict = F.decide(c.facts, cond)
        if verdict is True:
            assert any(d.signature == c.signature for d in t)
        if verdict is False:
            assert any(d.signature == c.signature for d in f)
    assert signatures(t) | signatures(f) == signatures(state)


@SETTINGS
@given(states())
def test_refine_without_condition_or_note_is_identity(state):
    assert L.refine(state, None, True, None) is state


def test_refine_drops_contradicted_classes():
    c1 = L.PathClass((), frozenset({("rc", "eq", "0")}), frozenset())
    held = L.LockFact(True, False, False, 1, frozenset({SITES[0]}), "&m")
    c2 = L.PathClass((("m", held),), frozenset({("rc", "ne", "0")}), frozenset())
    state = L.normalize(close([c1, c2]))
    (only,) = L.refine(state, Cond("rc != 0", "rc", "!=", "0"), True, TRAIL[0])
    assert only.get("m").held
    assert TRAIL[0] in only.trail
    (only,) = L.refine(state, Cond("rc != 0", "rc", "!=", "0"), False, None)
    assert not only.get("m").held
    assert L.refine(state, Cond("rc != 0", "rc", "!=", "0"), True, None)[0].facts == frozenset({("rc", "ne", "0")})


# -- transfer functions --------------------------------------------------------------

MUTEX_LOCK = LockFunction("pthread_mutex_lock", "acquire", "arg0")
MUTEX_UNLOCK = LockFunction("pthread_mutex_unlock", "release", "arg0")
MUTEX_TRY = LockFunction("pthread_mutex_trylock", "try-acquire", "arg0", success="zero")
MTX_TRY = LockFunction("mtx_trylock", "try-acquire", "arg0", success="thrd_success")
EMPTY = L.PathClass((), frozenset(), frozenset())


def test_acquire_release_and_recursion_count():
    lock = Acquire("m", "&m", SITES[0], MUTEX_LOCK, False)
    unlock = Release("m", "&m", SITES[1], MUTEX_UNLOCK)
    c = L.acquire(EMPTY, lock, recursive=False)
    assert c.get("m") == L.LockFact(True, False, False, 1, frozenset({SITES[0]}), "&m")
    assert L.acquire(c, lock, recursive=False) == c  # a double lock leaves it held once
    twice = L.acquire(L.acquire(c, lock, recursive=True), lock, recursive=True)
    assert twice.get("m").count == 3
    assert L.acquire(twice, lock, recursive=True).get("m").count == L.MAX_COUNT
    once = L.release(twice, unlock)
    assert once.get("m").held and once.get("m").count == 2
    free = L.release(c, unlock)
    assert free.get("m") == L.LockFact(False, False, False, 0, frozenset({SITES[1]}), "&m")
    assert L.release(free, unlock) == free  # already released: unchanged
    caller = L.release(EMPTY, unlock)
    assert caller.get("m") == L.LockFact(False, True, False, 0, frozenset({SITES[1]}), "&m")
    assert L.acquire(caller, lock, recursive=False).get("m").entry_held is True


def test_try_acquire_splits_with_outcome_facts():
    ev = TryAcquire("m", "&m", SITES[0], MUTEX_TRY, False, "rc")
    start = L.PathClass((), frozenset({("rc", "eq", "5"), ("x", "eq", "1")}), frozenset())
    won, lost = L.try_acquire(start, ev, recursive=False)
    assert won.get("m").held and won.facts == frozenset({("rc", "eq", "0"), ("x", "eq", "1")})
    assert lost.get("m") == L.LockFact(False, False, False, 0, frozenset({SITES[0]}), "&m")
    assert lost.facts == frozenset({("rc", "ne", "0"), ("x", "eq", "1")})
    ev = TryAcquire("m", "&m", SITES[0], MTX_TRY, False, "r")
    won, lost = L.try_acquire(EMPTY, ev, recursive=False)
    assert ("r", "eq", "thrd_success") in won.facts
    assert ("r", "ne", "thrd_success") in lost.facts


def test_kill_all_keeps_the_state_when_nothing_dies():
    state = (L.PathClass((), frozenset({("x", "eq", "0")}), frozenset()),)
    assert L.kill_all(state, Kill(("y",))) is state
    assert L.kill_all(state, Kill(("x",)))[0].facts == frozenset()


# -- facts: decide / assume / kill / mentions ----------------------------------------

def C(text, key=None, op=None, const=None):
    return Cond(text, key, op, const)


@pytest.mark.parametrize("fact, cond, verdict", [
    (("rc", "eq", "0"), C("rc != 0", "rc", "!=", "0"), False),
    (("rc", "eq", "0"), C("rc == 0", "rc", "==", "0"), True),
    (("rc", "eq", "0"), C("!rc", "rc", "==", "0"), True),
    (("rc", "eq", "0"), C("rc", "rc", "!=", "0"), False),
    (("rc", "eq", "0"), C("rc < 0", "rc", "<", "0"), False),
    (("rc", "eq", "0"), C("rc >= 0", "rc", ">=", "0"), True),
    (("rc", "eq", "0x10"), C("rc == 16", "rc", "==", "16"), True),
    (("rc", "eq", "0"), C("rc == NULL", "rc", "==", "NULL"), True),
    (("p", "eq", "NULL"), C("p", "p", "!=", "0"), False),
    (("rc", "ne", "0"), C("rc != 0", "rc", "!=", "0"), True),
    (("rc", "ne", "0"), C("rc == 0", "rc", "==", "0"), False),
    (("rc", "ne", "0"), C("rc < 0", "rc", "<", "0"), None),
    (("rc", "ne", "0"), C("rc == 1", "rc", "==", "1"), None),
    (("rc", "ne", "0"), C("rc != 0", "other", "!=", "0"), None),
    # k < 0
    (("x", "neg", ""), C("x < 0", "x", "<", "0"), True),
    (("x", "neg", ""), C("x < 5", "x", "<", "5"), True),
    (("x", "neg", ""), C("x <= -1", "x", "<=", "-1"), True),
    (("x", "neg", ""), C("x >= 0", "x", ">=", "0"), False),
    (("x", "neg", ""), C("x > -1", "x", ">", "-1"), False),
    (("x", "neg", ""), C("x == 0", "x", "==", "0"), False),
    (("x", "neg", ""), C("x", "x", "!=", "0"), True),
    (("x", "neg", ""), C("x == -1", "x", "==", "-1"), None),
    (("x", "neg", ""), C("x < -5", "x", "<", "-5"), None),
    (("x", "neg", ""), C("x > -5", "x", ">", "-5"), None),
    # errno names are positive
    (("rc", "eq", "0"), C("rc == EBUSY", "rc", "==", "EBUSY"), False),
    (("rc", "eq", "0"), C("rc != EBUSY", "rc", "!=", "EBUSY"), True),
    (("rc", "eq", "-1"), C("rc == ETIMEDOUT", "rc", "==", "ETIMEDOUT"), False),
    (("rc", "eq", "0"), C("rc < EBUSY", "rc", "<", "EBUSY"), True),
    (("rc", "eq", "5"), C("rc == EBUSY", "rc", "==", "EBUSY"), None),
    (("rc", "eq", "EBUSY"), C("rc == EBUSY", "rc", "==", "EBUSY"), True),
    (("rc", "eq", "EBUSY"), C("rc == EAGAIN", "rc", "==", "EAGAIN"), False),
    # named constants: equal names agree, different names differ
    (("r", "eq", "thrd_success"), C("r == thrd_success", "r", "==", "thrd_success"), True),
    (("r", "eq", "thrd_success"), C("r == thrd_busy", "r", "==", "thrd_busy"), False),
    (("r", "eq", "thrd_success"), C("r != thrd_busy", "r", "!=", "thrd_busy"), True),
    (("r", "eq", "thrd_busy"), C("r != thrd_success", "r", "!=", "thrd_success"), True),
    (("r", "ne", "thrd_success"), C("r == thrd_success", "r", "==", "thrd_success"), False),
    (("r", "ne", "thrd_success"), C("r == thrd_busy", "r", "==", "thrd_busy"), None),
    (("r", "eq", "thrd_success"), C("r < thrd_busy", "r", "<", "thrd_busy"), None),
    # opaque facts decide the same text only
    (("flag && y", "is", "1"), C("flag && y"), True),
    (("flag && y", "is", "0"), C("flag && y"), False),
    (("flag && y", "is", "1"), C("flag || y"), None),
    (("x", "eq", "0"), C("x"), None),  # a condition with no key/op is opaque
])
def test_decide(fact, cond, verdict):
    assert F.decide(frozenset({fact}), cond) is verdict


def test_decide_with_no_facts():
    assert F.decide(frozenset(), C("x", "x", "!=", "0")) is None


@pytest.mark.parametrize("cond, verdict", [
    (C("rc != 0", "rc", "!=", "0"), True),
    (C("rc == 0", "rc", "==", "0"), False),
    (C("rc", "rc", "!=", "0"), True),
    (C("rc < 0", "rc", "<", "0"), False),
])
def test_decide_errno_value_against_numbers(cond, verdict):
    assert F.decide(frozenset({("rc", "eq", "EBUSY")}), cond) is verdict


def test_assume_adds_the_condition():
    eq = C("rc == 0", "rc", "==", "0")
    assert F.assume(frozenset(), eq, True) == frozenset({("rc == 0", "is", "1"), ("rc", "eq", "0")})
    assert F.assume(frozenset(), eq, False) == frozenset({("rc == 0", "is", "0"), ("rc", "ne", "0")})
    neg = C("x < 0", "x", "<", "0")
    assert F.assume(frozenset(), neg, True) == frozenset({("x < 0", "is", "1"), ("x", "neg", "")})
    assert F.assume(frozenset(), neg, False) == frozenset({("x < 0", "is", "0")})
    le = C("x <= -1", "x", "<=", "-1")
    assert ("x", "neg", "") in F.assume(frozenset(), le, True)
    ge = C("x >= 0", "x", ">=", "0")
    assert ("x", "neg", "") in F.assume(frozenset(), ge, False)
    opaque = C("flag && y")
    assert F.assume(frozenset(), opaque, False) == frozenset({("flag && y", "is", "0")})


def test_assume_contradiction_is_a_dead_path():
    facts = frozenset({("rc", "eq", "0")})
    assert F.assume(facts, C("rc != 0", "rc", "!=", "0"), True) is None
    assert F.assume(facts, C("rc != 0", "rc", "!=", "0"), False) is facts  # already known: unchanged
    assert F.assume(frozenset({("x", "neg", "")}), C("x >= 0", "x", ">=", "0"), True) is None
    assert F.assume(frozenset({("t", "is", "1")}), C("t"), False) is None


@SETTINGS
@given(st.frozensets(st.sampled_from(FACTS), max_size=4), st.sampled_from(CONDS), st.booleans())
def test_assume_then_decide(facts, cond, truth):
    after = F.assume(facts, cond, truth)
    if after is None:
        assert F.decide(facts, cond) is (not truth)
    else:
        assert after >= facts
        assert F.decide(after, cond) is truth


def test_kill_removes_facts_about_a_value_and_its_members():
    facts = frozenset({
        ("q", "ne", "0"), ("q->flag", "eq", "1"), ("q->flag != 0", "is", "1"), ("q->a.b", "eq", "2"),
        ("qq", "eq", "0"), ("p->q", "eq", "0"), ("x.q", "eq", "0"), ("q2", "ne", "0"),
    })
    assert F.kill(facts, ("q",)) == frozenset({("qq", "eq", "0"), ("p->q", "eq", "0"), ("x.q", "eq", "0"),
                                               ("q2", "ne", "0")})


def test_kill_of_a_member_keeps_its_siblings():
    facts = frozenset({("q->flag", "eq", "1"), ("q->other", "eq", "1"), ("q", "ne", "0"), ("q->flag2", "eq", "0"),
                       ("q->flag && y", "is", "1")})
    assert F.kill(facts, ("q->flag",)) == frozenset({("q->other", "eq", "1"), ("q", "ne", "0"),
                                                     ("q->flag2", "eq", "0")})


def test_kill_returns_the_same_set_when_nothing_dies():
    facts = frozenset({("x", "eq", "0")})
    assert F.kill(facts, ("y",)) is facts
    assert F.kill(frozenset(), ("x",)) == frozenset()
    assert F.kill(facts, ("y", "x")) == frozenset()


@pytest.mark.parametrize("key, name, expected", [
    ("rc", "rc", True),
    ("rc != 0", "rc", True),
    ("!rc", "rc", True),
    ("(rc)", "rc", True),
    ("rc2", "rc", False),
    ("src", "rc", False),
    ("my_rc", "rc", False),
    ("s.rc", "rc", False),
    ("s->rc", "rc", False),
    ("q->flag", "q", True),
    ("q->flag", "q->flag", True),
    ("q->flag2", "q->flag", False),
    ("q->other", "q->flag", False),
    ("a[i] == 0", "i", True),
    ("a[i] == 0", "a", True),
    ("$t12 == 0", "$t12", True),
    ("$t123 == 0", "$t12", False),
    ("x", "y", False),
])
def test_mentions(key, name, expected):
    assert F.mentions(key, name) is expected


@pytest.mark.parametrize("outcome, success, failure", [
    ("zero", ("r", "eq", "0"), ("r", "ne", "0")),
    ("null", ("r", "eq", "0"), ("r", "ne", "0")),
    ("nonzero", ("r", "ne", "0"), ("r", "eq", "0")),
    ("nonnull", ("r", "ne", "0"), ("r", "eq", "0")),
    ("negative", ("r", "neg", ""), ("r >= 0", "is", "1")),
    ("thrd_success", ("r", "eq", "thrd_success"), ("r", "ne", "thrd_success")),
])
def test_outcome_facts(outcome, success, failure):
    assert F.outcome_fact("r", outcome) == success
    assert F.complement_fact("r", outcome) == failure


def test_number():
    assert [F.number(c) for c in ("0", "12", "-3", "0x1F", "10UL", "NULL", "true", "false", "EBUSY", "1.5")] == \
        [0, 12, -3, 31, 10, 0, 1, 0, None, None]
