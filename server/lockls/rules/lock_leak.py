"""lock-leak: a lock taken in the function may still be held when it returns.

## What it finds
A `return` (or the function's closing brace, when it falls off the end) reached
on at least one path with a lock that the function itself took and did not
release. The finding points at the `return`, names the branch or `goto` that
leads there when only some paths leak, lists the locks held there, and links to
where the lock was taken.

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
  in another loop): not reported.
- Paths through calls that never return (`abort()`, `exit()`) end there, and so do
  the paths where an assertion (`assert(rc == 0)`, `VERIFY0(...)`, `BUG_ON(...)`) fails.

## Fix
Release the lock before the `return`, or jump to the cleanup label that
releases it. Suppress with `/* lockls: ignore[lock-leak] */` on the line.
"""

from __future__ import annotations

from lockls.ir.events import Return
from lockls.lowering.lockexpr import spelled_key
from lockls.dataflow.lockstate import STALE_INDEX
from lockls.ir.message import Message
from lockls.rules.common import RuleContext, held_on, held_suffix, partition, site_line, sites_of, when_clause

NAME = "lock-leak"
EVENTS = (Return,)


def check(event: Return, state, ctx: RuleContext) -> None:
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


def _handed_over(key: str, value) -> bool:
    """`return vm;` with `vm` or `vm->lock` held: the locked object goes to the caller.
    A lock inside an unnamed call result (`$t12->lock`: `return find_locked(k);`, or a
    lookup compared in place) is never named again here: not reported either."""
    if key.startswith("$t") or key.endswith(STALE_INDEX):
        return True  # also: one of an array of locks taken in a loop (`&locks[i]`, then `i++`)
    return value is not None and (key == value or key.startswith((value + "->", value + ".")))


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
