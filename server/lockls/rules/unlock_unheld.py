"""unlock-unheld: releasing a lock that may not be held.

## What it finds
A release (`pthread_mutex_unlock`, `mtx_unlock`, a configured release
function...) of a lock that, on at least one path, is not held at that point:
already released (a double unlock), not acquired because a trylock failed, or
never taken while another lock taken in the function is (an unlock of the
wrong lock). In an entry point (`[entry-points]` in the configuration: a
function called with no lock held), releasing a lock the function never took
is reported too; elsewhere the caller is assumed to have taken it.

Also a release in the wrong mode, declared with clang's attributes: a function
marked `release_capability` (an exclusive release) releasing a lock held shared
(taken by an `acquire_shared_capability` function, `pthread_rwlock_rdlock`...),
or one marked `release_shared_capability` (or the kernel's `__releases_shared`)
releasing a lock held exclusively. A mode-agnostic release
(`release_generic_capability`, `unlock_function`, `pthread_rwlock_unlock`, the
kernel's `__releases`, a configured release function) fits either mode.

## Why it matters
Unlocking a mutex you do not hold is undefined behaviour for default pthread
mutexes; in practice it corrupts the lock, lets two threads into the critical
section, or aborts in glibc's consistency checks. With a trylock, it means
the failure path was never thought through.

## Example
```c
void stats_flush(struct stats *s)
{
    if (pthread_mutex_trylock(&s->lock) != 0)
        goto out;
    write_out(s);
out:
    pthread_mutex_unlock(&s->lock);   /* unlock-unheld: the trylock may have failed */
}
```

## Use instead
```c
void stats_flush(struct stats *s)
{
    if (pthread_mutex_trylock(&s->lock) != 0)
        return;                            /* busy: try again later */
    write_out(s);
    pthread_mutex_unlock(&s->lock);
}
```

## Known limits
- A lock the function releases without having taken it is assumed to be
  held by the caller (an unlock helper, or a drop-and-retake), unless the
  function took it on another path or holds another lock that it never
  releases (then the unlock probably names the wrong lock).
- The mode of a lock the caller holds (`requires_shared_capability`) is not
  known: only locks taken in the function are checked for the release's mode.
- A project's macro mapped to `"release"` in `[annotations]`, and one a header
  defines, release either mode; only the attribute itself, or a macro defined
  in the same file, says which.

## Fix
Remove the extra release, or move it to the paths where the lock is held.
Suppress with `/* lockls: ignore[unlock-unheld] */` on the line.

Automatic fixes (the editor's quick fixes; `lockls check --fix`): removing a
release that repeats the statement right before it (`unlock(m); unlock(m);`) is
**safe**: `--fix` applies it. Removing any other release the lock is never held
at is **unsafe**: only `--fix --unsafe-fixes` applies it. Where the lock may be
held on some paths, the removal is offered in the editor and never applied by
`--fix`.
"""

from __future__ import annotations

from lockls.ir.events import Release
from lockls.dataflow.lockstate import STALE_INDEX, held_anywhere
from lockls.ir.message import Message
from lockls.lowering.lockexpr import spelled_key
from lockls.rules.common import (RuleContext, held_suffix, known_not_held, partition, site_line, sites_of,
                                 when_clause)

NAME = "unlock-unheld"
EVENTS = (Release,)


def check(event: Release, state, ctx: RuleContext) -> None:
    if event.fn.unheld_ok:
        return  # `virDomainObjEndAPI(&vm)` with a NULL vm, the end of a guard's scope
    bad, good = partition(state, lambda c: known_not_held(c, event.key))
    if bad:
        _report_not_held(event, state, bad, good, ctx)
    elif all(c.get(event.key) is None for c in state):
        _report_wrong_lock(event, state, ctx)
    elif event.fn.shared or event.fn.exclusive:
        _report_wrong_mode(event, state, ctx)


def _report_not_held(event: Release, state, bad, good, ctx: RuleContext) -> None:
    reasons: dict[int, str] = {}
    related = []
    for c in bad:
        f = c.get(event.key)
        for s in f.sites:
            if s.start_byte == event.site.start_byte or s.start_byte in reasons:
                continue  # this very unlock, on an earlier loop iteration
            failed_try = s in ctx.try_sites
            what = f"`{ctx.try_sites[s]}`" if "timed" in ctx.try_sites.get(s, "") else "the trylock"
            reasons[s.start_byte] = (Message.of(f"{what} at ", site_line(s), " failed") if failed_try
                                     else Message.of("released at ", site_line(s)))
            related.append((s, "the trylock that failed" if failed_try else f"`{f.written}` released here"))
    if reasons:
        reason = Message.of(*(part for i, b in enumerate(sorted(reasons)) for part in ((", or " if i else ""), reasons[b])))
    elif any(c.get(event.key).sites for c in bad):
        reason = "released by this same call on an earlier iteration"
    elif ctx.entry_point:
        reason = f"{ctx.function} is an entry point: nothing is held when it starts"
    else:
        reason = "not taken on this path"
    related.sort(key=lambda r: r[0].start_byte)
    held = "may not be held" if good else "is not held"
    message = Message.of(f"`{event.written}` is released but it {held} (", reason, ")", when_clause(bad, good), held_suffix(bad))
    ctx.report(NAME, event.site, message, related)


def _report_wrong_lock(event: Release, state, ctx: RuleContext) -> None:
    """Never taken here, while a lock the function takes and never releases is held."""
    if event.key in ctx.acquired_keys:
        return
    # (a lock kept under another name of its pointer, `next = cur;`, counts as released
    # where it was released as written)
    orphans = [(k, f) for k, f in held_anywhere(state)
               if not f.entry_held and k not in ctx.released_keys and spelled_key(f.written) not in ctx.released_keys
               and not k.endswith(STALE_INDEX)]
    if not orphans:
        return
    k, f = orphans[0]
    message = Message.of(f"`{event.written}` is released but it is not held; `{f.written}` (taken at ",
                         site_line(f.first_site()), ") is held and never released", held_suffix(state))
    ctx.report(NAME, event.site, message, [(f.first_site(), f"`{f.written}` taken here")])


def _report_wrong_mode(event: Release, state, ctx: RuleContext) -> None:
    """A shared release of a lock held exclusively, or an exclusive one of a lock held
    shared, where the function took it (the mode of a caller's lock is not known)."""
    shared = bool(event.fn.shared)
    bad, good = partition(state, lambda c: (f := c.get(event.key)) is not None and f.held and not f.unknown
                          and bool(f.sites) and f.shared != shared)
    if not bad:
        return
    release, held = ("a shared release", "exclusively") if shared else ("an exclusive release", "shared")
    taken = sites_of(bad, event.key)
    where = Message.of(*(part for i, s in enumerate(taken) for part in ((", " if i else ""), site_line(s))))
    message = Message.of(f"`{event.written}` is released with {release} (`{event.fn.name}`) but it ",
                         "may be" if good else "is", f" held {held} (taken at ", where, ")", when_clause(bad, good),
                         held_suffix(bad))
    ctx.report(NAME, event.site, message, [(s, f"`{event.written}` taken {held} here") for s in taken])
