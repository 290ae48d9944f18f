"""lock-order: taking locks against their declared order.

## What it finds
Taking a lock of a class that the configuration's `lock-order` puts *before* the
class of a lock already held (on at least one path), and taking a lock of a
class that `needs` another class while no lock of that class is held. Classes
are declared in `.lockls.toml` by lock expression or by the type of the
variable the lock is reached through:

```toml
lock-order = ["driver", "domain"]
[classes.driver]
types = ["struct qemud_driver"]
[classes.domain]
match = ["*->dom_lock"]
```

A class may also say `needs = "driver"`: a lock of it is only ever taken while
a `driver` lock is held.

Orders declared on the locks themselves count too, with no configuration:
clang's `acquired_before(...)` / `acquired_after(...)` (directly or through
macros such as `ACQUIRED_BEFORE(b)`, or project macros mapped in
`[annotations]` like `OVS_ACQ_BEFORE = "acquired-before"`), on globals and on
struct fields, followed transitively (`a` before `b` and `b` before `c` put
`a` before `c`).

## Why it matters
Two threads taking the same two locks in opposite orders deadlock, and only
under load. A written order, checked everywhere, is the only defence that scales.

## Example
```c
void driver_domain_stop(struct qemud_driver *driver, struct domain *dom)
{
    pthread_mutex_lock(&dom->dom_lock);
    pthread_mutex_lock(&driver->lock);   /* lock-order: driver before domain */
    pthread_mutex_unlock(&driver->lock);
    pthread_mutex_unlock(&dom->dom_lock);
}
```

## Use instead
```c
void driver_domain_stop(struct qemud_driver *driver, struct domain *dom)
{
    pthread_mutex_lock(&driver->lock);
    pthread_mutex_lock(&dom->dom_lock);
    pthread_mutex_unlock(&dom->dom_lock);
    pthread_mutex_unlock(&driver->lock);
}
```

## Known limits
- Only locks held in the function itself are known; an order broken across
  calls is not seen. Trylocks never deadlock and are not checked.
- The rule needs `lock-order` / `[classes]` in the configuration; the examples
  above are checked with that configuration.

## Fix
Take the locks in the declared order: release the later one first if needed.
Suppress with `/* lockls: ignore[lock-order] */` on the line.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from functools import lru_cache

from ..events import Acquire, Declared
from .common import RuleContext, held_suffix, offender as common_offender, partition, site_line, when_clause

NAME = "lock-order"
EVENTS = (Acquire,)


def check(event: Acquire, state, ctx: RuleContext) -> None:
    if ctx.order_pairs:
        _check_declared_order(event, state, ctx)
    new = event.lock_class
    if new is None:
        return
    order = ctx.lock_order
    if new in order:
        rank = order.index(new)
        def comes_later(k: str, f) -> bool:
            return f.lock_class in order and order.index(f.lock_class) > rank

        bad, good = partition(state, lambda c: any(comes_later(k, f) for k, f in c.held()))
        if bad:
            _, offender = common_offender(bad, comes_later)
            held = "is held" if not good else "may be held"
            message = (f"`{event.written}` ({new}) is taken while `{offender.written}` ({offender.lock_class}), which "
                       f"comes after it in the lock order, {held} (taken at {site_line(offender.first_site())})"
                       f"{when_clause(bad, good)}{held_suffix(bad)}")
            related = [(s, f"`{offender.written}` taken here") for s in sorted(offender.sites, key=lambda s: s.start_byte)]
            related.append((Declared("lock-order", "lock-order", ctx.config_origin), "the lock order is declared here"))
            ctx.report(NAME, event.site, message, related)
    cls = ctx.classes.get(new)
    if cls is not None and cls.needs:
        bad, good = partition(state, lambda c: not any(f.lock_class == cls.needs for _, f in c.held()))
        if bad:
            message = (f"`{event.written}` ({new}) is taken without holding a `{cls.needs}` lock"
                       f"{when_clause(bad, good)}{held_suffix(bad)}")
            ctx.report(NAME, event.site, message,
                       [(Declared("class", cls.name, ctx.config_origin), f"class `{cls.name}` declared here")])


def _check_declared_order(event: Acquire, state, ctx: RuleContext) -> None:
    """`acquired_before` / `acquired_after` on the locks' declarations."""
    after = _taken_after(tuple(p[:2] for p in ctx.order_pairs))
    later_globs = {later for earlier, laters in after.items() if fnmatchcase(event.key, earlier) for later in laters}
    if not later_globs:
        return
    def declared_later(k: str, f) -> bool:
        return k != event.key and any(fnmatchcase(k, g) for g in later_globs)

    bad, good = partition(state, lambda c: any(declared_later(k, f) for k, f in c.held()))
    if not bad:
        return
    offender_key, offender = common_offender(bad, declared_later)
    held = "is held" if not good else "may be held"
    message = (f"`{event.written}` is taken while `{offender.written}`, declared to be acquired after it, {held} "
               f"(taken at {site_line(offender.first_site())}){when_clause(bad, good)}{held_suffix(bad)}")
    related = [(s, f"`{offender.written}` taken here") for s in sorted(offender.sites, key=lambda s: s.start_byte)]
    related += _declarations(ctx.order_pairs, event.key, offender_key)
    ctx.report(NAME, event.site, message, related)


def _declarations(pairs: tuple, earlier_key: str, later_key: str) -> list:
    """Where the order between the two locks was declared (each step of a chain)."""
    out = []
    for earlier, later, origin in pairs:
        if fnmatchcase(earlier_key, earlier) or fnmatchcase(later_key, later):
            name = (earlier if fnmatchcase(earlier_key, earlier) else later).removeprefix("*->")
            out.append((Declared("order", name, origin), f"order of `{earlier.removeprefix('*->')}` and "
                                                          f"`{later.removeprefix('*->')}` declared here"))
    return out


@lru_cache(maxsize=64)
def _taken_after(pairs: tuple) -> dict:
    """earlier glob -> every glob declared (directly or through a chain) to come after it."""
    direct: dict = {}
    for earlier, later in pairs:
        direct.setdefault(earlier, set()).add(later)
    closure = {}
    for start in direct:
        seen, todo = set(), list(direct[start])
        while todo:
            glob = todo.pop()
            if glob not in seen:
                seen.add(glob)
                todo.extend(direct.get(glob, ()))
        closure[start] = frozenset(seen)
    return closure
