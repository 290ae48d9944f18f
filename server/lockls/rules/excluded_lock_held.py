"""excluded-lock-held: calling a function that must not be called with a lock held.

## What it finds
A call to a function that declares it takes a lock itself, or otherwise must not
run under it (`__must_not_hold(&q->lock)`, `__attribute__((locks_excluded(mu)))`,
or the same through a macro defined in the file), at a point where that lock is
held on at least one path. A function configured with `excludes =
["class:driver"]` in `.lockls.toml` must not be called while any lock of the
class `driver` (`[classes.driver]`) is held.

## Why it matters
The callee will take the lock: with the caller already holding it, a
non-recursive lock deadlocks on the spot (or on the one path that holds it).

## Example
```c
void queue_flush(struct queue *q) __must_not_hold(&q->lock);

void queue_close(struct queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = 1;
    queue_flush(q);                 /* excluded-lock-held */
    pthread_mutex_unlock(&q->lock);
}
```

## Use instead
```c
void queue_flush(struct queue *q) __must_not_hold(&q->lock);

void queue_close(struct queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = 1;
    pthread_mutex_unlock(&q->lock);
    queue_flush(q);
}
```

## Known limits
- Only locks held in the calling function itself are known. Contracts come
  from annotations in the files of the run (headers included) and from the
  configuration; related information points at the contract's declaration.

## Fix
Release the lock before the call, or call a variant that expects it held.
Suppress with `/* lockls: ignore[excluded-lock-held] */` on the line.

No automatic fix (`lockls check --fix` leaves it): the editor offers a
suppression comment, and `--add-suppressions` writes one for every finding.
"""

from __future__ import annotations

from lockls.ir.events import Call, Declared
from lockls.ir.message import Message
from lockls.rules.common import (RuleContext, held_on, held_suffix, offender, partition, site_line, sites_of,
                                 when_clause)

NAME = "excluded-lock-held"
EVENTS = (Call,)


def check(event: Call, state, ctx: RuleContext) -> None:
    for cls in event.excluded_classes:
        _check_class(event, cls, state, ctx)
    for key, written in event.excludes:
        bad, good = partition(state, lambda c: (f := c.get(key)) is not None and f.held)
        if not bad:
            continue
        fact = held_on(bad, key)
        held = "may be held" if good else "is held"
        message = Message.of(f"`{event.name}()` must not be called with `{written}` held, which {held} here (taken at ",
                             site_line(fact.first_site()), ")", when_clause(bad, good), held_suffix(bad))
        places = [(s, f"`{fact.written}` taken here") for s in sites_of(bad, key)]
        if event.declared is not None:
            places.append((event.declared, f"`{event.name}()` declared to exclude `{written}` here"))
        ctx.report(NAME, event.site, message, places)


def _check_class(event: Call, cls: str, state, ctx: RuleContext) -> None:
    """`excludes = ["class:driver"]`: no lock of the class may be held."""
    def of_class(k: str, f) -> bool:
        return f.lock_class == cls

    bad, good = partition(state, lambda c: any(of_class(k, f) for k, f in c.held()))
    if not bad:
        return
    _, fact = offender(bad, of_class)
    held = "may be held" if good else "is held"
    message = Message.of(f"`{event.name}()` must not be called with a `{cls}` lock held, and `{fact.written}` {held} "
                         "here (taken at ", site_line(fact.first_site()), ")", when_clause(bad, good), held_suffix(bad))
    places = [(s, f"`{fact.written}` taken here") for s in sorted(fact.sites, key=lambda s: s.start_byte)]
    if event.declared is not None:
        places.append((event.declared, f"`{event.name}()` declared to exclude `{cls}` locks here"))
    places.append((Declared("class", cls, ctx.config_origin), f"class `{cls}` declared here"))
    ctx.report(NAME, event.site, message, places)
