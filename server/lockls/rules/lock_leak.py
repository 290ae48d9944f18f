"""lock-leak: a lock taken in the function may still be held when it returns.

## What it finds
A `return` (or the function's closing brace, when it falls off the end) reached
on at least one path with a lock that the function itself took and did not
release. The finding points at the `return`, names the branch or `goto` that
leads there when only some paths leak, lists the locks held there, and links to
where the lock was taken.

Also reported as leaks of the same kind:
- a return inside a window where the function dropped its caller's lock and has
  not taken it again, when another return holds it again (`unlock(m); work();
  if (busy) return -1; lock(m); return 0;`): the caller cannot tell whether it
  still holds the lock. (When the two kinds of returns give one boolean value each,
  `return 0;` dropped and `return 1;` held, the function is a conditional release
  instead, and its callers are checked against that);
- one of an array of locks still held when its index changes (`lock(&locks[i]);
  if (skip) continue; ... unlock(&locks[i]);` with `i++`): reported at the
  change, since from then on `&locks[i]` names another lock.

## Why it matters
The next thread that asks for the lock waits forever. Leaks hide on error paths
that tests rarely take: the early `return -ENOMEM` added months after the lock.

## Example
```c
int queue_push(struct queue *q, struct job *job)
{
    pthread_mutex_lock(&q->lock);
    if (q->len == q->cap)
        return -1;              /* lock-leak: &q->lock is still held */
    q->jobs[q->len++] = job;
    pthread_mutex_unlock(&q->lock);
    return 0;
}
```

## Use instead
```c
int queue_push(struct queue *q, struct job *job)
{
    int rc = -1;

    pthread_mutex_lock(&q->lock);
    if (q->len == q->cap)
        goto out;
    q->jobs[q->len++] = job;
    rc = 0;
out:
    pthread_mutex_unlock(&q->lock);
    return rc;
}
```

## Known limits
- A function that takes a lock reachable from its parameters, releases no lock
  and returns holding it on every path is an acquire function, not a leak, only
  when something says so: an annotation (`__acquires`, `ACQUIRE`), the
  configuration, a caller in the project that releases what it returns holding,
  or a release function of the same lock whose name pairs with it (`q_lock` /
  `q_unlock`, `x_enter` / `x_exit`, `x_pause` / `x_resume`). Otherwise the
  finding says how to declare the intent. For a global lock the shape alone still
  counts (`void stats_pause(void) { pthread_mutex_lock(&stats_mu); }`).
- A function that takes its caller's lock on some paths and releases it on others
  (`pause_all(int pause)`) switches the lock for its caller: not a leak.
- A function that returns the locked object it looked up (`return vm;` holding
  `vm` or `vm->lock`), hands the lock back through an out-parameter
  (`*lockp = lock;`) or keeps it in a structure (`zl->lock = lock;`) hands the
  lock on: not a leak.
- A function that returns a trylock's result (`return pthread_mutex_trylock(&q->lock);`),
  or returns values when holding the lock that it never returns without it
  (`return 1;` / `return 0;`), is a try-acquire function: not a leak.
- Locks of an array taken in a loop (`pthread_mutex_lock(&locks[i])`, then `i++`)
  are different locks, and still held after the loop on purpose (they are released
  in another loop): not reported. But when the loop releases each element before
  the next (`lock(&locks[i]); ...; unlock(&locks[i]);`) and some path still holds
  it when the index changes (a `continue` before the unlock), that path is
  reported where the index changes.
- Paths through calls that never return (`abort()`, `exit()`) end there, and so do
  the paths where an assertion (`assert(rc == 0)`, `VERIFY0(...)`, `BUG_ON(...)`) fails.

## Fix
Release the lock before the `return`, or jump to the cleanup label that
releases it. Suppress with `/* lockls: ignore[lock-leak] */` on the line.

Automatic fixes (the editor's quick fixes; `lockls check --fix`): inserting the
matching release before the `return` (or the closing brace), and jumping to a
label that releases the lock, are **unsafe**: they change when the lock is
released, so only `--fix --unsafe-fixes` applies them. Where the lock is held on
some paths only ("may still be held"), they are offered in the editor and never
applied by `--fix`.
"""

from __future__ import annotations

from lockls.ir.events import Kill, Release, Return
from lockls.lowering.lockexpr import reached_through, spelled_key
from lockls.dataflow.lockstate import STALE_INDEX, indexed_by
from lockls.ir.message import Message
from lockls.rules.common import (RuleContext, held_on, held_suffix, known_not_held, partition, site_line, sites_of,
                                 when_clause)

NAME = "lock-leak"
EVENTS = (Return, Kill)


def check(event: Return | Kill, state, ctx: RuleContext) -> None:
    if isinstance(event, Kill):
        _check_index_change(event, state, ctx)
        return
    leaked = dict.fromkeys(k for c in state for k, f in c.locks if f.held and not f.entry_held
                           and not _handed_over(k, event.value) and not _handed_over(spelled_key(f.written), event.value))
    for key in leaked:
        if _is_acquire_function(key, ctx) or key in ctx.try_wrapper_keys:
            continue
        if any(ctx.stored_elsewhere(spelled_key(f.written)) for c in state if (f := c.get(key)) is not None):
            continue  # `r->held = m;` with `m` the lock as written: kept for someone to release
        if event.value is not None and (key, event.value) in ctx.try_results:
            continue  # returns the trylock's result: the caller knows whether it holds the lock
        bad, good = partition(state, lambda c: (f := c.get(key)) is not None and f.held and not f.entry_held)
        fact = held_on(bad, key)
        where = "at the end of the function" if event.implicit else "at this return"
        may = "may still be held" if good else "is still held"
        first = fact.first_site()
        message = Message.of(f"`{fact.written}` taken at ", site_line(first), f" {may} {where}", when_clause(bad, good),
                             held_suffix(bad))
        sites = sites_of(bad, key)
        related = [(s, f"`{fact.written}` taken here") for s in sites]
        if _looks_like_acquire_function(key, ctx):
            message += (f"; if `{ctx.function}` is meant to return holding it, say so: an annotation "
                        f"(`__acquires`, `ACQUIRE`) or `[functions.{ctx.function}]` in .lockls.toml")
        ctx.report(NAME, event.site, message, related,
                   lock=next((e for s in sites if (e := ctx.lock_events.get(s)) is not None), None))
    _check_dropped_window(event, state, ctx)


def _check_dropped_window(event: Return, state, ctx: RuleContext) -> None:
    """A return between dropping the caller's lock and taking it again, when another
    return holds it again: the function returns on two sides of its caller's lock."""
    for key, kept in ctx.retaken_at_return.items():
        if event.site in kept:
            continue
        facts = [c.get(key) for c in state]
        if not facts or not all(f is not None and not f.unknown and f.entry_held and not f.held for f in facts):
            continue
        dropped_at = sorted({s for f in facts for s in f.sites}, key=lambda s: s.start_byte)
        written = facts[0].written
        other = kept[0]
        message = Message.of(f"`{written}`, held by the caller, is released at ", site_line(dropped_at[0]),
                             " and not taken again before this return, but the return at ", site_line(other),
                             " holds it again: the caller cannot tell whether it still holds it")
        related = [(s, f"`{written}` released here") for s in dropped_at] + [(other, f"returns holding `{written}`")]
        ctx.report(NAME, event.site, message, related,
                   lock=next((e for s in dropped_at if (e := ctx.lock_events.get(s)) is not None), None))


def _check_index_change(event: Kill, state, ctx: RuleContext) -> None:
    """`locks[i]` still held on some paths when `i` changes, in a loop whose other paths
    released it: the next iteration takes another element, this one is never released."""
    if event.site is None or not event.moves_locks:
        return
    for name in event.names:
        keys = dict.fromkeys(k for c in state for k, f in c.locks if f.held and not f.entry_held and "[" in k
                             and not k.endswith(STALE_INDEX) and indexed_by(k, name))
        for key in keys:
            bad, good = partition(state, lambda c: (f := c.get(key)) is not None and f.held and not f.entry_held)
            if not any(_released(c, key, ctx) for c in good):
                # no path releases it before the change (a failed lookup or trylock holds
                # nothing, but releases nothing either): every element kept on purpose
                continue
            fact = held_on(bad, key)
            sites = sites_of(bad, key)
            message = Message.of(f"`{fact.written}` taken at ", site_line(fact.first_site()),
                                 f" may still be held when `{name}` changes at ", site_line(event.site),
                                 " (from then on it names another lock, and this one is never released)",
                                 when_clause(bad, good), held_suffix(bad))
            ctx.report(NAME, event.site, message, [(s, f"`{fact.written}` taken here") for s in sites],
                       lock=next((e for s in sites if (e := ctx.lock_events.get(s)) is not None), None))


def _released(c, key: str, ctx: RuleContext) -> bool:
    """Do the paths `c` know `key` released by a release call (not a failed try)?"""
    f = c.get(key)
    return known_not_held(c, key) and any(isinstance(ctx.lock_events.get(s), Release) for s in f.sites)


def _handed_over(key: str, value) -> bool:
    """`return vm;` with `vm` or `vm->lock` held: the locked object goes to the caller.
    A lock inside an unnamed call result (`$t12->lock`: `return find_locked(k);`, or a
    lookup compared in place) is never named again here: not reported either."""
    if key.startswith("$t") or key.endswith(STALE_INDEX):
        return True  # also: one of an array of locks taken in a loop (`&locks[i]`, then `i++`)
    return value is not None and reached_through(key, value)


def _is_acquire_function(key: str, ctx: RuleContext) -> bool:
    """Returns holding a lock its caller names by design: its contract (an annotation, the
    configuration, or a summary a caller relies on) says so, or it switches the
    caller's lock (takes it on some paths, releases the caller's on others)."""
    if key in ctx.declared_acquires or (key in ctx.dropped_for_caller and ctx.caller_visible(key)):
        return True
    if ctx.has_partner and _looks_like_acquire_function(key, ctx):
        return True  # `x_enter()` next to its `x_exit()`: taking more than one lock, it has no summary
    # `zl->zl_lock = lp;`: the lock is kept in a structure someone releases later
    return ctx.stored_elsewhere(key)


def _looks_like_acquire_function(key: str, ctx: RuleContext) -> bool:
    """Takes a caller-visible lock, releases nothing, returns holding it: an acquire
    function, if anything says so."""
    return not ctx.released_keys and key in ctx.always_held_at_return and ctx.caller_visible(key)
