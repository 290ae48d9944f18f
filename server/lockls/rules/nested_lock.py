"""nested-lock: taking a second lock of a class whose locks must not nest.

## What it finds
Taking a lock of a class declared `nests = false` in `.lockls.toml` while another
lock of the same class (a different lock: the same one is a `double-lock`) is
held on at least one path.

```toml
[classes.domain]
match = ["*->dom_lock"]
nests = false
```

## Why it matters
Two locks of the same class have no order between them: one thread holding
domain A and taking domain B, another holding B and taking A, deadlock. Projects
forbid it outright (libvirt never holds two domain locks at once).

## Example
```c
void domain_migrate(struct domain *src, struct domain *dst)
{
    pthread_mutex_lock(&src->dom_lock);
    pthread_mutex_lock(&dst->dom_lock);   /* nested-lock */
    pthread_mutex_unlock(&dst->dom_lock);
    pthread_mutex_unlock(&src->dom_lock);
}
```

## Use instead
```c
void domain_migrate(struct domain *src, struct domain *dst)
{
    pthread_mutex_lock(&src->dom_lock);
    src->state = 2;
    pthread_mutex_unlock(&src->dom_lock);
    pthread_mutex_lock(&dst->dom_lock);
    dst->state = 1;
    pthread_mutex_unlock(&dst->dom_lock);
}
```

## Known limits
- Only locks held in the function itself are known; trylocks are not checked.
- The rule needs `[classes]` with `nests = false` in the configuration.

## Fix
Release the first lock before taking the second, or take a lock of an outer
class that serialises such operations. Suppress with
`/* lockls: ignore[nested-lock] */` on the line.

No automatic fix (`lockls check --fix` leaves it): the editor offers a
suppression comment, and `--add-suppressions` writes one for every finding.
"""

from __future__ import annotations

from lockls.ir.events import Acquire, Declared
from lockls.ir.message import Message
from lockls.rules.common import RuleContext, held_suffix, offender, partition, site_line, when_clause

NAME = "nested-lock"
EVENTS = (Acquire,)


def check(event: Acquire, state, ctx: RuleContext) -> None:
    cls = ctx.classes.get(event.lock_class) if event.lock_class else None
    if cls is None or cls.nests:
        return
    def same_class(k: str, f) -> bool:
        return f.lock_class == cls.name and k != event.key

    bad, good = partition(state, lambda c: any(same_class(k, f) for k, f in c.held()))
    if not bad:
        return
    _, other = offender(bad, same_class)
    held = "is held" if not good else "may be held"
    message = Message.of(f"`{event.written}` is taken while `{other.written}`, another `{cls.name}` lock, {held} (taken at ",
                         site_line(other.first_site()), f"); `{cls.name}` locks must not nest", when_clause(bad, good),
                         held_suffix(bad))
    related = [(s, f"`{other.written}` taken here") for s in sorted(other.sites, key=lambda s: s.start_byte)]
    related.append((Declared("class", cls.name, ctx.config_origin), f"class `{cls.name}` declared here"))
    ctx.report(NAME, event.site, message, related)
