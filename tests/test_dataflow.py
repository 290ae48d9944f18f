"""End-to-end lock states at fixed points (analysis.analyze_function + dataflow.solve)."""

from __future__ import annotations

import time

import pytest

from lockls.engine import function as analysis

from lockls.dataflow import solver as dataflow

from lockls.syntax import nodes as syntax
from lockls.dataflow import lockstate as L
from lockls.config import default_config
from lockls.ir.events import Acquire, Release, Return, TryAcquire

_PARSER = syntax.new_parser()
_CONFIG = default_config()


def never_recursive(key, fn) -> bool:
    return False


def analyse(code: str, name: str | None = None) -> analysis.FunctionResult:
    src = code.encode()
    tree = _PARSER.parse(src)
    fns = analysis.function_nodes(tree.root_node)
    if name is not None:
        fns = [(f, b) for f, b in fns if syntax.function_name(f, src) == name]
    fn, body = fns[0]
    result = analysis.analyze_function(fn, body, src, _CONFIG)
    assert result.skipped is None, result.skipped
    assert result.cfg is not None and result.states is not None
    return result


def states_before(result, kind, key: str | None = None) -> list:
    """The state just before every reachable event of `kind` (of lock `key`)."""
    return [st for ev, st in analysis.replay(result.cfg, result.states, never_recursive, with_facts=True)
            if isinstance(ev, kind) and (key is None or getattr(ev, "key", None) == key)]


def state_after(result, kind, key: str | None = None):
    """The state just after the one reachable event of `kind` (of lock `key`)."""
    found = [(ev, st) for ev, st in analysis.replay(result.cfg, result.states, never_recursive, with_facts=True)
             if isinstance(ev, kind) and (key is None or getattr(ev, "key", None) == key)]
    assert len(found) == 1, found
    ev, st = found[0]
    return dataflow.transfer(st, ev, never_recursive)


def held(state) -> set:
    return {k for c in state for k, f in c.locks if f.held}


def held_everywhere(state) -> set:
    return set.intersection(*({k for k, f in c.locks if f.held} for c in state))


def rules(result) -> list:
    return sorted(v.rule for v in result.findings)


def assert_fixpoint(result) -> None:
    """One more round of transfer/refine/join changes no state."""
    cfg, states = result.cfg, result.states
    for b in cfg.blocks:
        st = states[b.id]
        if not st:
            continue
        for ev in b.events:
            st = dataflow.transfer(st, ev, never_recursive)
        for e in b.succs:
            out = L.refine(st, e.cond, e.truth, e.note)
            if out:
                assert L.join(states[e.target], out) == states[e.target], (b.id, e)


# -- conditional locking -------------------------------------------------------------

FLAG = """
void f(pthread_mutex_t *m, int need) {
  if (need)
    pthread_mutex_lock(m);
  work();
  if (need)
    pthread_mutex_unlock(m);
}
"""


def test_conditional_lock_and_unlock_on_the_same_flag():
    r = analyse(FLAG)
    (at_return,) = states_before(r, Return)
    assert held(at_return) == set()
    assert all(c.get("m") is not None and not c.get("m").held for c in at_return)
    # before the unlock only the path that took the lock is left, and it knows why
    (before_unlock,) = states_before(r, Release, "m")
    assert len(before_unlock) == 1
    (c,) = before_unlock
    assert c.get("m").held and c.get("m").count == 1
    assert ("need", "ne", "0") in c.facts
    assert r.findings == []
    assert_fixpoint(r)


def test_conditional_lock_keeps_both_paths_apart_until_the_retest():
    r = analyse(FLAG)
    (lock_block,) = [b for b in r.cfg.blocks if any(isinstance(ev, Acquire) for ev in b.events)]
    (merge,) = [e.target for e in lock_block.succs]
    # at the merge after the first `if`, two classes: taken (need != 0) and not (need == 0)
    st = r.states[merge]
    assert len(st) == 2
    taken = [c for c in st if c.get("m").held]
    free = [c for c in st if not c.get("m").held]
    assert len(taken) == len(free) == 1
    assert ("need", "ne", "0") in taken[0].facts
    assert ("need", "eq", "0") in free[0].facts
    assert free[0].get("m") == L.LockFact(False, False, False, 0, frozenset(), free[0].get("m").written)


def test_different_flag_is_not_decided():
    r = analyse("""
void f(pthread_mutex_t *m, int a, int b) {
  if (a)
    pthread_mutex_lock(m);
  if (b)
    pthread_mutex_unlock(m);
}
""")
    (at_return,) = states_before(r, Return)
    assert held(at_return) == {"m"}
    assert held_everywhere(at_return) == set()
    assert rules(r) == ["lock-leak", "unlock-unheld"]


# -- trylock -----------------------------------------------------------------------

def test_trylock_splits_into_success_and_failure():
    r = analyse("""
int f(pthread_mutex_t *m) {
  int rc = pthread_mutex_trylock(m);
  if (rc != 0)
    return rc;
  work();
  pthread_mutex_unlock(m);
  return 0;
}
""")
    after = state_after(r, TryAcquire, "m")
    assert len(after) == 2
    won = [c for c in after if c.get("m").held]
    lost = [c for c in after if not c.get("m").held]
    assert len(won) == len(lost) == 1
    assert ("rc", "eq", "0") in won[0].facts and ("rc", "ne", "0") not in won[0].facts
    assert ("rc", "ne", "0") in lost[0].facts and ("rc", "eq", "0") not in lost[0].facts
    assert lost[0].get("m").entry_held is False
    # the unlock is reached only by the success class
    (before_unlock,) = states_before(r, Release, "m")
    assert len(before_unlock) == 1 and before_unlock[0].get("m").held
    # at each return nothing is held
    rets = states_before(r, Return)
    assert len(rets) == 2 and all(held(st) == set() for st in rets)
    assert r.findings == []


def test_trylock_tested_in_the_condition():
    r = analyse("""
void f(pthread_mutex_t *m) {
  if (pthread_mutex_trylock(m) == 0) {
    work();
    pthread_mutex_unlock(m);
  }
}
""")
    after = state_after(r, TryAcquire, "m")
    (try_ev,) = [ev for b in r.cfg.blocks for ev in b.events if isinstance(ev, TryAcquire)]
    assert try_ev.result.startswith("$t")
    assert {(c.get("m").held, (try_ev.result, "eq", "0") in c.facts, (try_ev.result, "ne", "0") in c.facts)
            for c in after} == {(True, True, False), (False, False, True)}
    (before_unlock,) = states_before(r, Release, "m")
    assert [c.get("m").held for c in before_unlock] == [True]
    assert r.findings == []


def test_c11_trylock_facts_name_the_constants():
    r = analyse("""
void f(mtx_t *m) {
  int r = mtx_trylock(m);
  if (r == thrd_success)
    mtx_unlock(m);
}
""")
    after = state_after(r, TryAcquire, "m")
    facts = {c.get("m").held: c.facts for c in after}
    assert ("r", "eq", "thrd_success") in facts[True]
    assert ("r", "ne", "thrd_success") in facts[False]
    (before_unlock,) = states_before(r, Release, "m")
    assert [c.get("m").held for c in before_unlock] == [True]
    assert r.findings == []


def test_errno_value_decides_a_zero_test():
    r = analyse("""
int f(pthread_mutex_t *m) {
  int rc = foo();
  if (rc == EBUSY)
    pthread_mutex_lock(m);
  work();
  if (rc == 0)
    return 1;
  if (rc == EBUSY)
    pthread_mutex_unlock(m);
  return 0;
}
""")
    assert r.findings == []


# -- loops ---------------------------------------------------------------------------

def test_lock_unlock_in_a_loop_reaches_a_fixpoint():
    r = analyse("""
void f(pthread_mutex_t *m, int n) {
  for (int i = 0; i < n; i++) {
    pthread_mutex_lock(m);
    work(i);
    pthread_mutex_unlock(m);
  }
}
""")
    (before_lock,) = states_before(r, Acquire, "m")
    # the loop head joins the entry (m untouched) and the back edge (m released):
    # both are "not held", so the paths merge into one class
    assert len(before_lock) == 1
    f = before_lock[0].get("m")
    assert f.held is False and f.entry_held is False
    (at_return,) = states_before(r, Return)
    assert held(at_return) == set()
    assert r.findings == []
    assert_fixpoint(r)


def test_loop_that_keeps_the_lock_reports_double_lock():
    r = analyse("""
void f(pthread_mutex_t *m, int n) {
  while (n--) {
    pthread_mutex_lock(m);
    work();
  }
  pthread_mutex_unlock(m);
}
""")
    (before_lock,) = states_before(r, Acquire, "m")
    # first iteration: not held (the loop took it, so not held at entry); later: held
    assert sorted((c.get("m").held, c.get("m").entry_held) for c in before_lock) == [(False, False), (True, False)]
    assert rules(r) == ["double-lock", "unlock-unheld"]  # and n may be 0 at the unlock
    assert_fixpoint(r)


def test_loop_with_break_holding_the_lock():
    r = analyse("""
void f(pthread_mutex_t *m, int n) {
  while (n) {
    pthread_mutex_lock(m);
    if (found(n))
      break;
    pthread_mutex_unlock(m);
    n--;
  }
  done();
}
""")
    (at_return,) = states_before(r, Return)
    assert held(at_return) == {"m"}
    assert held_everywhere(at_return) == set()
    assert_fixpoint(r)
    assert rules(r) == ["lock-leak"]


def test_solve_leaves_unreachable_blocks_empty():
    r = analyse("""
int f(pthread_mutex_t *m) {
  pthread_mutex_lock(m);
  pthread_mutex_unlock(m);
  return 0;
  pthread_mutex_lock(m);
}
""")
    dead = [b.id for b in r.cfg.blocks
            if any(isinstance(ev, Acquire) for ev in b.events) and b.id != r.cfg.entry]
    assert dead and all(r.states[b] == () for b in dead)
    assert r.states[r.cfg.entry] == L.ENTRY


# -- bounded states ----------------------------------------------------------------------

def independent_locks(n: int, pair: bool = False, loop: bool = False) -> str:
    params = ", ".join(f"int x{i}" for i in range(n))
    lines = [f"  if (x{i}) pthread_mutex_lock(&l{i});" for i in range(n)]
    if pair:
        lines.append("  work();")
        lines += [f"  if (x{i}) pthread_mutex_unlock(&l{i});" for i in range(n)]
    body = "\n".join(lines)
    if loop:
        body = f"  while (n--) {{\n{body}\n  }}"
        params = "int n, " + params
    globals_ = ", ".join(f"l{i}" for i in range(n))
    return f"pthread_mutex_t {globals_};\nvoid f({params}) {{\n{body}\n}}\n"


def test_thirty_independent_conditional_locks_stay_bounded():
    start = time.perf_counter()
    r = analyse(independent_locks(30))
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0
    assert all(len(st) <= L.MAX_CLASSES for st in r.states)
    assert max(len(st) for st in r.states) > 1


def test_few_independent_conditional_locks_are_all_tracked():
    r = analyse(independent_locks(3))
    (at_return,) = states_before(r, Return)
    assert len(at_return) == 8  # every combination of three locks
    assert held(at_return) == {"l0", "l1", "l2"}
    assert held_everywhere(at_return) == set()
    assert rules(r) == ["lock-leak"] * 3


@pytest.mark.parametrize("n", [3, 4, 6, 8])
def test_paired_conditional_locks_are_clean(n):
    r = analyse(independent_locks(n, pair=True))
    assert r.findings == []
    assert all(len(st) <= L.MAX_CLASSES for st in r.states)


@pytest.mark.parametrize("n", [2, 3, 4])
def test_solution_is_a_fixpoint_below_the_class_cap(n):
    for kw in ({}, {"pair": True}, {"pair": True, "loop": True}):
        assert_fixpoint(analyse(independent_locks(n, **kw)))


def test_solution_is_a_fixpoint_past_the_class_cap():
    assert_fixpoint(analyse(independent_locks(5)))


@pytest.mark.parametrize("n", [3, 4, 6, 8])
def test_paired_conditional_locks_in_a_loop_are_clean(n):
    start = time.perf_counter()
    r = analyse(independent_locks(n, pair=True, loop=True))
    assert time.perf_counter() - start < 2.0
    assert r.findings == []


def test_five_paired_conditional_locks_in_a_loop_are_clean():
    r = analyse(independent_locks(5, pair=True, loop=True))
    assert r.findings == []
