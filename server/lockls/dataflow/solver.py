"""The lock dataflow: a worklist to a fixpoint over a function's CFG.

Owns: propagating `LockState`s along blocks and edges (`transfer` per event,
`refine` per edge, `join` at merges) until nothing changes. It reports nothing:
rules replay the fixed states afterwards (see `analysis`). Termination: states
only grow by classes of finitely many lock signatures, facts and trails only
shrink at joins, recursion counts are capped; a hard step limit guards the rest.
"""

from __future__ import annotations

import heapq
from typing import Callable

from lockls.config.model import DEFAULT_FUNCTION_STEPS
from lockls.dataflow import lockstate as L
from lockls.ir.cfg import CFG
from lockls.ir.events import Acquire, Derive, Kill, Rebind, Release, TryAcquire

MAX_VISITS_PER_BLOCK = 64
# and in all: a function converging this slowly is not going to converge (its states
# keep splitting); giving up early bounds the time one function can take
MAX_VISITS_PER_BLOCK_ON_AVERAGE = 12


class NoFixpoint(Exception):
    pass


class OverBudget(NoFixpoint):
    """The function needs more work than its budget (`[limits] function-steps`)."""


def transfer(state: L.LockState, event, is_recursive: Callable[[str, object], bool]) -> L.LockState:
    """The state after `event`."""
    if not state:
        return state
    if isinstance(event, Acquire):
        rec = is_recursive(event.key, event.fn)
        if event.when is not None:  # took the lock only for some return values
            return L.normalize(x for c in state for x in L.conditional(c, event, rec))
        return L.normalize(L.acquire(c, event, rec) for c in state)
    if isinstance(event, Release):
        if event.when is not None:  # dropped the lock only for some return values
            return L.normalize(x for c in state for x in L.conditional(c, event, False))
        return L.normalize(L.release(c, event) for c in state)
    if isinstance(event, TryAcquire):
        rec = is_recursive(event.key, event.fn)
        return L.normalize(x for c in state for x in L.try_acquire(c, event, rec))
    if isinstance(event, Kill):
        return L.kill_all(state, event)
    if isinstance(event, Rebind):
        return L.normalize(L.rebind(c, event) for c in state)
    if isinstance(event, Derive):
        return L.normalize(L.derive(c, event) for c in state)
    return state


def solve(cfg: CFG, is_recursive: Callable[[str, object], bool], initial: L.LockState = L.ENTRY,
          lock_flags: frozenset = frozenset(), max_steps: int = DEFAULT_FUNCTION_STEPS) -> list:
    """The state at the start of every block (`()` for unreachable blocks), from
    `initial` at the entry (locks the function requires its caller to hold).
    Raises `OverBudget` past `max_steps` units of work (see `config.DEFAULT_FUNCTION_STEPS`:
    `lockstate.weight` carried through each event or joined at a block, a join of classes
    with forgotten locks once per class)."""
    blocks = cfg.blocks
    order = cfg.reverse_postorder()
    rank = {b: i for i, b in enumerate(order)}
    states: list = [()] * len(blocks)
    states[cfg.entry] = initial
    pending = [(0, cfg.entry)]  # a heap by reverse-postorder rank: fewer revisits
    queued = {cfg.entry}
    visits = [0] * len(blocks)
    budget = MAX_VISITS_PER_BLOCK_ON_AVERAGE * len(blocks) + 64
    steps = max_steps - len(blocks) - sum(len(block.events) for block in blocks)  # the CFG was built: work too
    while pending:
        _, b = heapq.heappop(pending)
        queued.discard(b)
        visits[b] += 1
        if visits[b] > MAX_VISITS_PER_BLOCK:
            raise NoFixpoint(f"no fixpoint after {MAX_VISITS_PER_BLOCK} visits of a block")
        budget -= 1
        if budget < 0:
            raise NoFixpoint(f"no fixpoint after {MAX_VISITS_PER_BLOCK_ON_AVERAGE} visits per block on average")
        state = states[b]
        steps -= L.weight(state) * (1 + len(blocks[b].events))
        if steps < 0:
            raise OverBudget(f"over its budget of {max_steps:,} steps (`[limits] function-steps` raises it)")
        for ev in blocks[b].events:
            state = transfer(state, ev, is_recursive)
        for e in blocks[b].succs:
            out = L.refine(state, e.cond, e.truth, e.note)
            if not out:
                continue
            merged = L.join(states[e.target], out, lock_flags)
            # (a join of classes with forgotten locks compares them pairwise: `lockstate._absorb`)
            steps -= L.weight(merged) * (len(merged) if len(merged) > 1 and L.any_unknown(merged) else 1)
            if merged != states[e.target]:
                states[e.target] = merged
                if e.target not in queued:
                    queued.add(e.target)
                    heapq.heappush(pending, (rank[e.target], e.target))
    return states

