"""missing-required-lock: calling a function that requires a lock that is not held.

## What it finds
A call to a function that declares it must be called with a lock held
(`__must_hold(&q->lock)`, `__attribute__((requires_capability(q->mu)))`, or the
same through a macro defined in the file) at a point where that lock is, on at
least one path, known not to be held: released earlier, not acquired because a
trylock failed, taken only on some paths of the caller, or taken only later
(so not held when the function started). In an entry point
(`[entry-points]`: called with no lock held) a lock the function never takes
is known not to be held.

## Why it matters
The callee touches the data the lock protects, trusting its contract. Called
without the lock, it races with every other thread that follows the rules, and
the corruption shows up far from the call.

## Example
```c
void queue_drain_locked(struct queue *q) __must_hold(&q->lock);

void queue_close(struct queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = 1;
    pthread_mutex_unlock(&q->lock);
    queue_drain_locked(q);          /* missing-required-lock */
}
```

## Use instead
```c
void queue_drain_locked(struct queue *q) __must_hold(&q->lock);

void queue_close(struct queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = 1;
    queue_drain_locked(q);
    pthread_mutex_unlock(&q->lock);
}
```

A requirement written with clang's attribute (`requires_capability`,
`REQUIRES(mu)`, or a project macro mapped to it such as `OVS_REQUIRES`) is
checked as clang checks it: the calling function starts holding exactly what its
own annotations require, so calling `flush_stats()` (`REQUIRES(stats_mu)`) from
a function that neither takes `stats_mu` nor requires it is reported.

## Known limits
- For other requirements (the kernel's `__must_hold`, the configuration's
  `requires`), a lock the calling function never takes or drops is assumed to
  be held by its own caller: only locks it is known not to hold are reported.
- Contracts come from annotations in the files of the run (definitions or
  prototypes, headers included) and from the configuration; a header that is
  not part of the run does not contribute. Related information points at the
  declaration of the contract.

## Fix
Take the lock around the call, or call the variant that takes the lock itself.
Suppress with `/* lockls: ignore[missing-required-lock] */` on the line.

No automatic fix (`lockls check --fix` leaves it): the editor offers a
suppression comment, and `--add-suppressions` writes one for every finding.
"""

from __future__ import annotations

from lockls.ir.events import Call
from lockls.ir.message import Message
from lockls.rules.common import RuleContext, held_suffix, known_not_held, partition, sites_of, when_clause

NAME = "missing-required-lock"
EVENTS = (Call,)


def check(event: Call, state, ctx: RuleContext) -> None:
    for key, written in event.requires:
        # untouched here: held by the caller, unless the function takes it itself, or the
        # requirement is clang's (the caller holds what its own annotations say, see above)
        bad, good = partition(state, lambda c: known_not_held(c, key)
                              or (c.get(key) is None and (event.strict or key in ctx.acquired_keys)))
        if not bad:
            continue
        not_held = "may not be held" if good else "is not held"
        message = Message.of(f"`{event.name}()` requires `{written}`, which {not_held} here", when_clause(bad, good),
                             held_suffix(bad))
        places = [(s, f"`{written}` released or not acquired here") for s in sites_of(bad, key)]
        if event.declared is not None:
            places.append((event.declared, f"`{event.name}()` declared to require `{written}` here"))
        ctx.report(NAME, event.site, message, places)
