"""blocking-under-lock: calling something that may sleep while a spinning lock is held.

## What it finds
A call to a function that may sleep (`msleep`, `schedule`, `copy_from_user`,
`kmalloc(..., GFP_KERNEL)`, a project function marked `may-sleep`), or the
acquisition of a sleeping lock (a mutex, an rw semaphore; also a try-acquire marked
`may-sleep`, such as `atomic_dec_and_mutex_lock()`), at a point where a
spinning lock (a spinlock, an rwlock_t, a raw spinlock, a pthread spinlock) is
held on at least one path, or an RCU read-side section is open (`rcu_read_lock()`,
`rcu_read_lock_bh()`, `guard(rcu)()`: the message names the context `RCU`,
`RCU_BH` or `RCU_SCHED`). Guards take the kind of their class:
`guard(spinlock)(&l)` spins, `guard(mutex)(&m)` sleeps. SRCU read-side sections
(`srcu_read_lock(&ss)`) may sleep, and taking one never sleeps.

## Why it matters
A spinning lock's holder must not sleep: the other CPUs spin waiting for it,
and in the kernel a spinlock disables preemption, so sleeping there is a bug
("scheduling while atomic") that can deadlock the machine. With pthread
spinlocks it burns the other threads' time slices.

## Example
```c
void dev_reset(struct dev *d)
{
    spin_lock(&d->lock);
    d->state = 0;
    msleep(10);                 /* blocking-under-lock */
    spin_unlock(&d->lock);
}
```

## Use instead
```c
void dev_reset(struct dev *d)
{
    spin_lock(&d->lock);
    d->state = 0;
    spin_unlock(&d->lock);
    msleep(10);
}
```

## Known limits
- Only calls the configuration marks as sleeping (the `linux` preset lists the
  common ones) and locks whose kind is known; a function that sleeps because it
  calls one of them is not followed.
- `kmalloc` and friends sleep only with `GFP_KERNEL` written among their
  arguments; a gfp variable is assumed not to sleep.
- Acquisitions that may fail, such as `mutex_lock_interruptible()` or
  `scoped_guard(mutex_intr, &m)`, are not reported even though they may sleep
  while waiting.

## Fix
Move the sleeping call out of the critical section, use a non-sleeping variant
(`GFP_ATOMIC`, `udelay`), or protect the data with a sleeping lock. Suppress
with `/* lockls: ignore[blocking-under-lock] */` on the line.

No automatic fix (`lockls check --fix` leaves it): the editor offers a
suppression comment, and `--add-suppressions` writes one for every finding.
"""

from __future__ import annotations

from lockls.ir.events import Acquire, Call, TryAcquire
from lockls.dataflow.lockstate import held_anywhere
from lockls.ir.message import Message
from lockls.rules.common import RuleContext, held_suffix, partition, site_line, when_clause

NAME = "blocking-under-lock"
EVENTS = (Call, Acquire, TryAcquire)


def check(event, state, ctx: RuleContext) -> None:
    if isinstance(event, Call):
        if not event.may_sleep:
            return
        what = f"`{event.name}()` may sleep"
    elif isinstance(event, TryAcquire):
        # a trylock never waits; one that may sleep all the same does
        # (`atomic_dec_and_mutex_lock()` takes the mutex, waiting, when the count drops to 0)
        if event.fn.may_sleep != "always":
            return
        what = f"`{event.fn.name}()` may sleep"
    elif event.spinning is False:  # taking a lock whose waiters sleep
        what = f"taking the sleeping lock `{event.written}` may sleep"
    else:
        return
    taken = getattr(event, "key", None)
    bad, good = partition(state, lambda c: any(f.held and f.spinning and k != taken for k, f in c.locks))
    if not bad:
        return
    # every spinning lock held on those paths, its facts merged over them; the earliest taken first
    spinning = {k: f for k, f in held_anywhere(bad) if f.spinning and k != taken}
    lock = next(iter(spinning.values()))
    may = " may be" if good else " is"
    message = Message.of(f"{what} while {_described(lock.written)} (taken at ", site_line(lock.first_site()),
                         f"){may} held", when_clause(bad, good), held_suffix(bad))
    related = [(s, f"{_described(f.written)} taken here")
               for f in spinning.values() for s in sorted(f.sites, key=lambda s: s.start_byte)]
    ctx.report(NAME, event.site, message, related)


_READ_SIDES = {"RCU": "the RCU read side", "RCU_BH": "the RCU-bh read side", "RCU_SCHED": "the RCU-sched read side"}


def _described(written: str) -> str:
    """`the spinning lock `&d->lock`` / `the RCU read side `RCU``."""
    return f"{_READ_SIDES[written]} `{written}`" if written in _READ_SIDES else f"the spinning lock `{written}`"
