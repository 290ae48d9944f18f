"""double-lock: taking a non-recursive lock that may already be held.

## What it finds
An acquisition (`pthread_mutex_lock`, `mtx_lock`, a configured acquire
function...) of a lock that is held, on at least one path, at that point: taken
earlier in the same function and not released since. Shared (reader)
acquisitions of a lock held shared are allowed; recursive locks may be re-taken.

## Why it matters
A default pthread mutex taken twice by the same thread deadlocks (or, for an
error-checking mutex, fails with EDEADLK that nobody checks); a spinlock spins
forever. It usually comes from a lock moved into a helper while a caller still
takes it, or a loop that locks on every iteration but unlocks only on some.

## Example
```c
void cache_evict(struct cache *c)
{
    pthread_mutex_lock(&c->lock);
    if (c->count > c->max)
        pthread_mutex_lock(&c->lock);   /* double-lock */
    c->count--;
    pthread_mutex_unlock(&c->lock);
}
```

## Use instead
```c
void cache_evict(struct cache *c)
{
    pthread_mutex_lock(&c->lock);
    if (c->count > c->max)
        c->count--;
    pthread_mutex_unlock(&c->lock);
}
```

Also reported: saving the interrupt state into a variable that still holds the
state saved for a lock that is held (`spin_lock_irqsave(&a, flags);
spin_lock_irqsave(&b, flags);`): releasing `&a` with `spin_unlock_irqrestore(&a,
flags)` restores the state saved for `&b`, with interrupts still disabled.

And: calling, with a lock held, a function of the project that takes
that lock itself (directly or in a function it calls) on every path through it:
`stats_flush(s)` while holding `s->lock`, when `stats_flush` takes `s->lock`.

## Known limits
- Only locks taken in the same function are known to be held; a lock the
  caller holds is unknown (no finding).
- A called function counts when it takes the lock on every path through it,
  exclusively and waiting for it (not a trylock, not a reader lock), and the lock
  is reached from one of its parameters.
- A trylock of a held lock is not reported: it fails instead of deadlocking.
- Whether a pthread mutex is recursive is decided at run time: declare such
  locks in `.lockls.toml` (`[[locks]] match = "..." recursive = true`); globals
  initialised with `PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP` are recognised.

## Fix
Remove the second acquisition, or release the lock before taking it again.
Suppress with `/* lockls: ignore[double-lock] */` on the line.

Automatic fixes (the editor's quick fixes; `lockls check --fix`): removing a
second acquisition that repeats the statement right before it (`lock(m);
lock(m);`) is **safe**: `--fix` applies it. Replacing a second acquisition right
before a `return` or the lock's destroy (`lock(m); ... lock(m); destroy(m);`) with
the matching release (the preferred fix there), and removing any other second
acquisition, are **unsafe**: only `--fix --unsafe-fixes` applies them. Where the
lock may be held on some paths only, the removal is offered in the editor and
never applied by `--fix`.
"""

from __future__ import annotations

from lockls.ir.events import Acquire, Call
from lockls.ir.message import Message
from lockls.rules.common import RuleContext, held_on, held_suffix, partition, site_line, sites_of, when_clause

NAME = "double-lock"
EVENTS = (Acquire, Call)


def check(event, state, ctx: RuleContext) -> None:
    if isinstance(event, Call):
        _check_call(event, state, ctx)
        return
    if event.saves is not None:
        _check_saved_state(event, state, ctx)
    if ctx.is_recursive(event.key, event.fn):
        return
    bad, good = partition(state, lambda c: (f := c.get(event.key)) is not None and f.held
                          and not (event.shared and f.shared))
    if not bad:
        return
    sites = sites_of(bad, event.key)
    first = sites[0] if sites else None
    held = "may already be held" if good else "is already held"
    message = Message.of(f"`{event.written}` is taken but it {held} (taken at ", site_line(first), ")", when_clause(bad, good),
                         held_suffix(bad))
    ctx.report(NAME, event.site, message, [(s, f"`{event.written}` first taken here") for s in sites])


def _check_saved_state(event: Acquire, state, ctx: RuleContext) -> None:
    """`spin_lock_irqsave(&b, flags)` while `&a`, taken with the same `flags`, is held:
    the interrupt state saved for `&a` is overwritten, and restoring it when `&a` is
    released restores the wrong one."""
    def earlier(c):
        for k, f in c.locks:
            if f.held and k != event.key:
                for s in f.sites:
                    taken = ctx.lock_events.get(s)
                    if isinstance(taken, Acquire) and taken.saves == event.saves and taken.site != event.site:
                        return taken
        return None

    bad, good = partition(state, lambda c: earlier(c) is not None)
    if not bad:
        return
    first = min((earlier(c) for c in bad), key=lambda a: a.site.start_byte)
    held = "is still held" if not good else "may still be held"
    message = Message.of(f"`{event.saves}` is saved into again while `{first.written}` {held} (taken at ",
                         site_line(first.site), f" with the interrupt state saved in `{event.saves}`): releasing "
                         f"`{first.written}` will restore the wrong state; use another variable",
                         when_clause(bad, good), held_suffix(bad))
    ctx.report(NAME, event.site, message, [(first.site, f"`{event.saves}` first saved here")])


def _check_call(event: Call, state, ctx: RuleContext) -> None:
    """A call to a function that takes, itself or deeper down, a lock held here."""
    for key, written in event.takes:
        if ctx.is_recursive(key, None):
            continue
        bad, good = partition(state, lambda c: (f := c.get(key)) is not None and f.held and not f.shared)
        if not bad:
            continue
        fact = held_on(bad, key)
        held = "may already be held" if good else "is already held"
        message = Message.of(f"`{event.name}()` takes `{written}`, which {held} here (taken at ",
                             site_line(fact.first_site()), "): a self-deadlock", when_clause(bad, good), held_suffix(bad))
        places = [(s, f"`{fact.written}` first taken here") for s in sites_of(bad, key)]
        if event.declared is not None:
            places.append((event.declared, f"`{event.name}()` takes `{written}`"))
        ctx.report(NAME, event.site, message, places)
