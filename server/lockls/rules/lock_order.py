"""lock-order: taking locks against their declared order, or in an order that
closes a cycle of the project's lock graph.

## What it finds
Taking a lock while holding another when somewhere else in the project (this
file, or any file of the project `--check` or the editor's workspace reads)
the two are taken the other way round, directly or through a chain of other
locks: two threads running the two functions can deadlock. The locks are
matched by identity across functions: the same global, the same field of the
same struct type (`&d->lock` with `struct dev *d` is `struct dev->lock`
everywhere), or the same configured class. A call counts as taking what its
summary says the called function takes (`stats_flush(s)` taking `s->lock`).
Both sides are reported, each with the other as related information;
`lockls --check --lock-graph locks.svg` (or `.dot`, `.mmd`) draws the whole
graph, cycles in red.

For example (no configuration needed):

```c
static pthread_mutex_t accounts_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t audit_lock = PTHREAD_MUTEX_INITIALIZER;

void transfer(void)
{
    pthread_mutex_lock(&accounts_lock);
    pthread_mutex_lock(&audit_lock);      /* lock-order: audit_report() takes them the other way round */
    pthread_mutex_unlock(&audit_lock);
    pthread_mutex_unlock(&accounts_lock);
}

void audit_report(void)
{
    pthread_mutex_lock(&audit_lock);
    pthread_mutex_lock(&accounts_lock);   /* lock-order: transfer() takes them the other way round */
    pthread_mutex_unlock(&accounts_lock);
    pthread_mutex_unlock(&audit_lock);
}
```


Also: taking a lock of a class that the configuration's `lock-order` puts *before* the
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
struct fields (in a nested struct, a name it does not declare itself is a field
of a struct enclosing it, as clang reads it), followed transitively (`a` before `b` and `b` before `c` put
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
- A declared order (classes, annotations) is checked against the locks held in
  the function itself. The lock graph also sees locks taken in called functions
  whose summary says they take them (on every path, and drop them again).
- Trylocks never wait and are not checked; a reader lock taken under another
  reader lock is no edge; two locks of the same node (two devices' `lock`
  fields, a parent's and a child's) are not told apart, so nesting them is no
  cycle. Locks reached through variables of no known type, or through bare lock
  pointers, have no identity across functions and are left out of the graph.
- Cycles longer than five locks are not reported.
- Where an order is declared between two locks of a cycle, the declared order
  says which side is wrong (reported as above) and the cycle is not reported
  again.

## Fix
Take the locks in the declared order: release the later one first if needed.
Suppress with `/* lockls: ignore[lock-order] */` on the line.

No automatic fix (`lockls check --fix` leaves it): the editor offers a
suppression comment, and `--add-suppressions` writes one for every finding.
"""

from __future__ import annotations

import os
from fnmatch import fnmatchcase
from functools import lru_cache

from lockls.ir.events import Acquire, Call, Declared
from lockls.dataflow.lockgraph import edges_at, shown
from lockls.ir.message import Message
from lockls.rules.common import RuleContext, held_suffix, offender as common_offender, partition, site_line, when_clause

NAME = "lock-order"
EVENTS = (Acquire, Call)


def check(event, state, ctx: RuleContext) -> None:
    if ctx.order_cycles and ctx.lock_identity is not None:
        _check_cycles(event, state, ctx)
    if not isinstance(event, Acquire):
        return
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
            message = Message.of(f"`{event.written}` ({new}) is taken while `{offender.written}` ({offender.lock_class}), which "
                                 f"comes after it in the lock order, {held} (taken at ", site_line(offender.first_site()),
                                 ")", when_clause(bad, good), held_suffix(bad))
            related = [(s, f"`{offender.written}` taken here") for s in sorted(offender.sites, key=lambda s: s.start_byte)]
            related.append((Declared("lock-order", "lock-order", ctx.config_origin), "the lock order is declared here"))
            ctx.report(NAME, event.site, message, related)
    cls = ctx.classes.get(new)
    if cls is not None and cls.needs:
        bad, good = partition(state, lambda c: not any(f.lock_class == cls.needs for _, f in c.held()))
        if bad:
            message = Message.of(f"`{event.written}` ({new}) is taken without holding a `{cls.needs}` lock",
                                 when_clause(bad, good), held_suffix(bad))
            ctx.report(NAME, event.site, message,
                       [(Declared("class", cls.name, ctx.config_origin), f"class `{cls.name}` declared here")])


def _check_cycles(event, state, ctx: RuleContext) -> None:
    """An edge of the lock graph made here that closes a cycle (see `lockgraph`)."""
    for first, then, first_written, then_written, held in edges_at(event, state, ctx.lock_identity):
        cycle = ctx.order_cycles.get((first, then))
        if cycle is None or any(_declared(ctx, e.first, e.then) for e in cycle.reverse) \
                or _declared(ctx, first, then):
            continue  # a declared order says which side is wrong, and is checked on its own
        taker = f"`{event.name}()` takes" if isinstance(event, Call) else "taking"
        others = ", and ".join(_describe(e) for e in cycle.reverse)
        nodes = " → ".join(shown(n) for n in [first, then] + [e.then for e in cycle.reverse])
        message = Message.of(f"{taker} `{then_written}` while `{first_written}` is held (taken at ", site_line(held.first_site()),
                             f"), but {others}: a possible deadlock (lock cycle {nodes})", held_suffix(state))
        related = [(s, f"`{first_written}` taken here") for s in sorted(held.sites, key=lambda s: s.start_byte)]
        related += [(Declared("site", f"{e.function}\0{e.via + '(' if e.via else e.then_written}", e.origin), _describe(e))
                    for e in cycle.reverse]
        ctx.report(NAME, event.site, message, related)
        return  # one cycle is enough to show the problem at this call


def _declared(ctx: RuleContext, a: str, b: str) -> bool:
    """Is an order declared between the lock-graph nodes `a` and `b` (classes in
    `lock-order`, or `acquired_before`/`acquired_after` globs naming both)?"""
    if a.startswith("class ") and b.startswith("class "):
        return a[6:] in ctx.lock_order and b[6:] in ctx.lock_order
    if not ctx.order_pairs:
        return False
    a, b = shown(a), shown(b)  # the form declared globs match: `*->mtx` matches `struct dev->mtx`
    after = _taken_after(tuple(p[:2] for p in ctx.order_pairs))  # chains count: a before x before b
    return any((fnmatchcase(x, earlier) and any(fnmatchcase(y, later) for later in laters))
               for earlier, laters in after.items() for x, y in ((a, b), (b, a)))


def _describe(edge) -> str:
    where = f" (in {os.path.basename(edge.origin)})" if edge.origin else ""
    how = f" (through `{edge.via}()`)" if edge.via else ""
    return f"`{edge.function}()`{where} takes `{edge.then_written}` while holding `{edge.first_written}`{how}"


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
    message = Message.of(f"`{event.written}` is taken while `{offender.written}`, declared to be acquired after it, {held} "
                         "(taken at ", site_line(offender.first_site()), ")", when_clause(bad, good), held_suffix(bad))
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
