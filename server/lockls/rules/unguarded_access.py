"""unguarded-access: reading or writing guarded data without holding its lock.

## What it finds
A use of guarded data at a point where, on at least one path, its lock is not
held. Guarded data is declared in the source, with no configuration:

- clang's `guarded_by(mu)` / `pt_guarded_by(mu)` (directly in
  `__attribute__((...))` or through a macro defined in the file, such as
  `GUARDED_BY(mu)`), the kernel's `__guarded_by(&lock)` / `__pt_guarded_by(&lock)`,
  and project macros mapped in `[annotations]` (`OVS_GUARDED_BY = "guarded-by"`),
  on struct fields (guarded by a sibling field) and globals (by a global lock);
- clang's `guarded_var` / `pt_guarded_var` (`GUARDED_VAR`, or mapped:
  `OVS_GUARDED = "guarded-var"`): guarded by some lock, whichever; a use is
  reported where no lock at all is held;

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
guarded (`*p`, `p[i]`, `p->x`), not the pointer itself. Handing such a pointer
to a function, or taking the address of guarded data (`list_del(&d->node)`,
`latch_wait(&latch)`), is not a use, as in clang without its opt-in
`-Wthread-safety-pointer` (what annotated projects build with); `[rules]
thread-safety-pointer = true` makes handing them to a function, or returning them,
a use, as that flag does. Nor is the guard's own lock
reached through guarded data (`spin_lock_init(&stats.lock)`), nor passing an
object guarded by `type` to a function that sets up or tears down a lock
(`pthread_mutex_init(obj)`, `g_mutex_clear(obj)`).

Data guarded in the source (any of the annotations above) is checked in every
function, as clang does: a function starts holding exactly the locks its own
annotations require (`REQUIRES(mu)`, `__must_hold(&mu)`, `OVS_REQUIRES(mu)`, on
its definition or on a prototype lockls reads), and none otherwise, so a helper
that touches the data without saying it needs the lock is reported even when
every caller holds it. Data guarded by the configuration is reported in
functions that take or drop the guarding lock themselves, in entry points
(`[entry-points]`: functions called with no lock held), and everywhere for
entries with `everywhere = true`; elsewhere a use is assumed to be covered by
the caller. Code wrapped in the kernel's
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
  in the configuration matches any struct with a field of that name, but those
  whose definition lockls sees without the guarding lock (`struct stats { int
  count; }` for `field = "count"`, `by = "lock"`), and their typedefs. A field
  reached through an expression whose type lockls does not know (a call's
  result, a cast) matches any of them.
- Guards on a struct type follow the parameters and the variables declared
  anywhere in the body; a name declared with two types (in two blocks) is left
  alone.
- A function that neither takes nor drops the lock and is not an entry point
  is assumed to be called with the lock held (for `guarded_var` data: one that
  takes or drops no lock at all).
- A `pt_guarded_by` pointer passed to any function counts as a use, also as an
  argument of a variadic function (`printf("%p", p)`), which clang leaves alone.
- Constructors and destructors (a function whose name has a word such as
  `init`, `create`, `new`, `alloc`, `destroy`, `free`, `fini` or `cleanup`:
  `queue_destroy`, `rstp_create`) touch data no other thread can see yet, or any
  more: not reported there, unless they are entry points. Nor is an operand of
  `sizeof`, which is not evaluated.

## Fix
Take the lock around the access, or move the access into the critical
section. Suppress with `/* lockls: ignore[unguarded-access] */` on the line.

No automatic fix (`lockls check --fix` leaves it): the editor offers a
suppression comment, and `--add-suppressions` writes one for every finding.
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
    if event.any_lock:
        _check_any_lock(event, state, ctx)
        return
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


def _check_any_lock(event: Access, state, ctx: RuleContext) -> None:
    """Data guarded by some lock, whichever (`guarded_var`): bad where no lock at all is
    held. Checked where the function takes or drops a lock itself (a lock dropped for
    the caller is held until it is dropped), in entry points, and with `everywhere`."""
    if not (event.everywhere or ctx.entry_point or ctx.acquired_keys or ctx.released_keys):
        return  # the caller is assumed to hold one
    bad, good = partition(state, lambda c: not c.held() and all(c.get(k) is not None for k in ctx.dropped_for_caller))
    if not bad:
        return
    paths = " on some paths" if good else ""
    message = Message.of(f"`{event.written}` is used but no lock is held{paths}", when_clause(bad, good),
                         " (it is guarded by any lock)")
    related = [(event.declared, f"`{event.declared.name}` is declared guarded here")] if event.declared else []
    ctx.report(NAME, event.site, message, related)
