"""unguarded-access: reading or writing guarded data without holding its lock.

## What it finds
A use of guarded data at a point where, on at least one path, its lock is not
held. Guarded data is declared in the source, with no configuration:

- clang's `guarded_by(mu)` / `pt_guarded_by(mu)` (directly in
  `__attribute__((...))` or through a macro defined in the file, such as
  `GUARDED_BY(mu)`), the kernel's `__guarded_by(&lock)` / `__pt_guarded_by(&lock)`,
  and project macros mapped in `[annotations]` (`OVS_GUARDED_BY = "guarded-by"`),
  on struct fields (guarded by a sibling field) and globals (by a global lock);

or in the configuration:

```toml
[[guarded]]
field = "len"        # every `x->len` / `x.len` ...
by = "lock"          # ... is guarded by `x->lock`

[[guarded]]
variable = "registry_count"
by = "registry_lock"
```

A `[[guarded]]` entry may also guard every use of a variable of a struct type
(`type = "struct qemud_driver"`: a field reached through it, or passing it to
a function), with `except` naming fields and functions that need no lock.
With `pt_guarded_by` (or `pointee = true`) only what the pointer points to is
guarded (`*p`, `p[i]`, `p->x`), not the pointer itself.

Findings are reported in functions that take or drop the guarding lock
themselves, in entry points (`[entry-points]`: functions called with no lock
held), and everywhere for entries with `everywhere = true`; elsewhere a use is
assumed to be covered by the caller. Code wrapped in the kernel's
`context_unsafe(...)` or `data_race(...)` is an intended race and not checked.

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
- A field is recognised by its name. For a field annotated in the source, a use
  through a variable declared as another `struct` is left alone; a field named
  in the configuration, or reached through a typedef'd type, matches any struct
  with a field of that name.
- Guards on a struct type follow the parameters and the locals declared at the
  top of the function body, not variables declared in nested blocks.
- A function that neither takes nor drops the lock and is not an entry point
  is assumed to be called with the lock held.
- Constructors and destructors (a function whose name has a word such as
  `init`, `create`, `new`, `alloc`, `destroy`, `free`, `fini` or `cleanup`:
  `queue_destroy`, `rstp_create`) touch data no other thread can see yet, or any
  more: not reported there, unless they are entry points. Nor is an operand of
  `sizeof`, which is not evaluated.

## Fix
Take the lock around the access, or move the access into the critical
section. Suppress with `/* lockls: ignore[unguarded-access] */` on the line.
"""

from __future__ import annotations

import re

from lockls.ir.events import Access
from lockls.ir.message import Message
from lockls.rules.common import RuleContext, held_suffix, partition, sites_of, when_clause

NAME = "unguarded-access"
EVENTS = (Access,)


# the words of a function name that make it a constructor or a destructor: the
# object is not shared yet, or no longer (`ofproto_destroy__`, `rstp_create`)
_LIFECYCLE = re.compile(r"(?:^|_)(?:init|create|new|alloc|construct|destroy|destruct|dealloc|free|fini|uninit|"
                        r"deinit|cleanup|teardown|dispose|finalize)(?:_|$)", re.I)


def check(event: Access, state, ctx: RuleContext) -> None:
    if _LIFECYCLE.search(ctx.function) and not ctx.entry_point:
        return  # data not shared yet (or any more): no lock needed
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
    message = Message.of(f"`{event.written}` is used but its lock `{event.guard}` {held}", when_clause(bad, good),
                         held_suffix(bad))
    related = [(s, f"`{event.guard}` released or not taken here") for s in sites_of(bad, event.key)]
    if event.declared is not None:
        related.append((event.declared, f"`{event.declared.name}` is declared guarded here"))
    ctx.report(NAME, event.site, message, related)
