"""unguarded-access: reading or writing guarded data without holding its lock.

## What it finds
A use of data the configuration declares guarded (a struct field guarded by a
sibling lock field or by the object itself, or a global guarded by a global
lock) at a point where, on at least one path, its lock is not held.

```toml
[[guarded]]
field = "len"        # every `x->len` / `x.len` ...
by = "lock"          # ... is guarded by `x->lock`

[[guarded]]
variable = "registry_count"
by = "registry_lock"
```

Findings are reported in functions that take or drop the guarding lock
themselves (elsewhere a use is assumed to be covered by the caller), and in
every function for entries with `everywhere = true`.

## Why it matters
The lock only protects data that is touched under it. One unguarded read of a
counter or a list head races with every writer, and the torn value shows up
far from the cause.

## Example
```c
int queue_len(struct queue *q)
{
    int n;

    pthread_mutex_lock(&q->lock);
    pthread_mutex_unlock(&q->lock);
    n = q->len;                    /* unguarded-access */
    return n;
}
```

## Use instead
```c
int queue_len(struct queue *q)
{
    int n;

    pthread_mutex_lock(&q->lock);
    n = q->len;
    pthread_mutex_unlock(&q->lock);
    return n;
}
```

## Known limits
- Guarded data is declared in the configuration; `guarded_by` / `__guarded_by`
  annotations in the source are not read yet.
- A field is recognised by its name (any struct with a field of that name).
- Entry points (functions that start with no lock held) cannot be declared yet:
  use `everywhere = true` for data that must never be touched unlocked.

## Fix
Take the lock around the access, or move the access into the critical
section. Suppress with `/* lockls: ignore[unguarded-access] */` on the line.
"""

from __future__ import annotations

from ..events import Access
from .common import RuleContext, held_suffix, partition, when_clause

NAME = "unguarded-access"
EVENTS = (Access,)


def check(event: Access, state, ctx: RuleContext) -> None:
    if (not event.everywhere and not ctx.entry_point
            and event.key not in ctx.acquired_keys and event.key not in ctx.released_keys):
        return  # the caller is assumed to hold it
    # untouched: held by the caller, unless the function takes the lock itself
    # (then it was not held on entry) or the data must be guarded everywhere
    bad, good = partition(state, lambda c: not f.held if (f := c.get(event.key)) is not None
                          else event.everywhere or event.key in ctx.acquired_keys)
    if not bad:
        return
    held = "may not be held" if good else "is not held"
    message = f"`{event.written}` is used but its lock `{event.guard}` {held}{when_clause(bad, good)}{held_suffix(bad)}"
    sites = sorted({s for c in bad if (f := c.get(event.key)) is not None for s in f.sites}, key=lambda s: s.start_byte)
    ctx.report(NAME, event.site, message, [(s, f"`{event.guard}` released or not taken here") for s in sites])
