"""What a file tells the analysis about locks beyond its function bodies.

Owns: `Contracts`, the facts one file contributes to how *other* code is
analysed, and `apply`, which lays them over a `Config`:
- lock functions: annotated prototypes and definitions (`__acquires(x)`,
  `acquire_capability(x)`, `__must_hold(x)`, ...) and inferred wrappers
  (`static void q_lock(struct queue *q) { spin_lock(&q->lock); }`);
- guarded data declared in the source (`int len __guarded_by(&lock);`,
  `GUARDED_BY(mu)`, `PT_GUARDED_BY(mu)`);
- lock order declared on locks (`ACQUIRED_BEFORE(b)`, `ACQUIRED_AFTER(a)`);
- recursive locks: those declared with a `reentrant_capability` type;
- annotation macros a header defines (`#define REQUIRES(...) __attribute__((...))`),
  which then count in the files that use them as if mapped in `[annotations]`;
- entry points found in method tables (`.open = foo_open` in an initializer of
  a type the configuration lists under `[entry-points] tables`).

A file's own contracts always apply to it; `--check` (and the language server's
workspace index) also merges the contracts of every file of the project, so a
wrapper or an annotated prototype in one file is honoured in another. Where two
sources disagree the configuration wins, then the file's own contracts, then
the project's (headers first, then by path). How (see `project`): a `.c` file
exports all but its `static` functions' contracts; the merge is per
configuration; a file is analysed under `apply(config, merge([own, relevant]))`
where `relevant` is the part of the project it can be affected by (the
functions, entry points and guarded names its text mentions; everything of
any other kind), which is also what its cached result is keyed by.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import Iterable

from lockls.config import Config
from lockls.lru import Lru
from lockls.dataflow.ordergraph import cycles_among


@dataclass(frozen=True)
class Contracts:
    """Facts a file contributes. Immutable, picklable and hashable (a cache key part)."""

    functions: tuple = ()  # (name, LockFunction), sorted by name
    guarded: tuple = ()  # GuardedData declared by annotations
    order: tuple = ()  # (earlier, later) pairs of lock globs, from acquired_before / acquired_after
    entry_points: tuple = ()  # names of functions stored in method tables, sorted
    locks: tuple = ()  # LockPattern(recursive=True) for locks of a reentrant_capability type
    macros: tuple = ()  # (macro, meaning) of the annotation macros defined, sorted
    relied: tuple = ()  # names of inferred acquire functions whose lock a caller here releases, sorted
    order_edges: tuple = ()  # OrderEdge: the orders its functions take locks in (the lock graph)
    cycles: tuple = ()  # OrderCycle: its own edges that close a cycle of the project's lock graph
    noreturn: tuple = ()  # names of the functions it declares never to return, sorted

    def __bool__(self) -> bool:
        return bool(self.functions or self.guarded or self.order or self.entry_points or self.locks or self.macros
                    or self.relied or self.order_edges or self.cycles or self.noreturn)

    def settled(self) -> "Contracts":
        """These contracts without the tentative acquire functions (see `LockFunction.tentative`):
        what a file is analysed under once inference is over."""
        if not any(fn.tentative for _, fn in self.functions):
            return self
        return dataclasses.replace(self, functions=tuple((n, f) for n, f in self.functions if not f.tentative))

    @staticmethod
    def merge(parts: Iterable["Contracts"]) -> "Contracts":
        """The union of several files' contracts; for a function named twice the
        first part that names it wins (callers pass the most specific first), except
        that a declared contract (an annotation) wins over one inferred from a body."""
        functions: dict = {}
        guarded: dict = {}
        order: dict = {}
        entries: set = set()
        locks: dict = {}
        macros: dict = {}
        relied: set = set()
        edges: dict = {}
        cycles: dict = {}
        noreturn: set = set()
        for part in parts:
            relied.update(part.relied)
            noreturn.update(part.noreturn)
            edges.update(dict.fromkeys(part.order_edges))
            for cycle in part.cycles:
                cycles.setdefault((cycle.first, cycle.then), cycle)
            for name, fn in part.functions:
                known = functions.get(name)
                if known is None or (known.inferred and not fn.inferred):
                    functions[name] = fn  # what is declared anywhere wins over what a body suggests
            guarded.update(dict.fromkeys(part.guarded))
            order.update(dict.fromkeys(part.order))
            entries.update(part.entry_points)
            locks.update(dict.fromkeys(part.locks))
            for macro, meaning in part.macros:
                macros.setdefault(macro, meaning)
        return Contracts(tuple(sorted(confirm(functions, relied).items())), tuple(guarded), tuple(order),
                         tuple(sorted(entries)), tuple(locks), tuple(sorted(macros.items())), tuple(sorted(relied)),
                         tuple(edges), tuple(cycles.values()), tuple(sorted(noreturn)))


# (acquire, release) spellings that pair an API's two halves: `q_lock`/`q_unlock`,
# `mutex_enter`/`mutex_exit`, `lru_pause`/`lru_resume`, `dnode_hold`/`dnode_rele`
_ANTONYMS = (("unlock", "lock"), ("lock", "unlock"), ("rdlock", "unlock"), ("wrlock", "unlock"), ("enter", "exit"),
             ("enter", "leave"), ("acquire", "release"), ("pause", "resume"), ("begin", "end"), ("start", "stop"),
             ("get", "put"), ("hold", "rele"), ("hold", "release"), ("take", "give"), ("grab", "drop"),
             ("Lock", "Unlock"), ("LOCK", "UNLOCK"), ("Enter", "Exit"), ("Acquire", "Release"))


def confirm(functions: dict, relied: Iterable[str] = ()) -> dict:
    """`functions` with the tentative acquire functions that have shown their intent made
    definite: a caller releases what they return holding (`relied`), or the release
    function that pairs with them by name releases the same lock (`q_lock(q)` and
    `q_unlock(q)`, `stats_pause()` and `stats_resume()`)."""
    tentative = [n for n, f in functions.items() if f.tentative]
    if not tentative:
        return functions
    relied = set(relied)
    out = dict(functions)
    for name in tentative:
        fn = functions[name]
        if name in relied or any(_releases_same(functions.get(other), fn) for other in partners(name)):
            out[name] = dataclasses.replace(fn, tentative=False)
    return out


def partners(name: str) -> Iterable[str]:
    """The release functions named like the pair of the acquire function `name`."""
    for acquire, release in _ANTONYMS:
        at = name.rfind(acquire)
        if at >= 0:
            yield name[:at] + release + name[at + len(acquire):]


def _releases_same(other, fn) -> bool:
    if other is None:
        return False
    if fn.steps or other.steps:  # several locks: the same ones, all released
        mine = sorted((s.lock, s.path) for s in fn.steps)
        theirs = sorted((s.lock, s.path) for s in other.steps if s.action == "release")
        return bool(mine) and mine == theirs and len(theirs) == len(other.steps)
    return other.action == "release" and (other.lock, other.path) == (fn.lock, fn.path)


_APPLIED: Lru = Lru(256)


def apply(config: Config, contracts: Contracts) -> Config:
    """`config` with `contracts` laid over it. The configuration file's functions are
    never replaced; a preset's are by what the source declares (an annotation, a
    macro), not by what lockls infers from a body.

    The result is cached, so a document re-analysed on every keystroke keeps the
    same Config (and fingerprint) while its contracts do not change."""
    # the file's own edges may close cycles among themselves; alone they change nothing
    # (first: a cycle within the file is shown with its own functions, not a longer one elsewhere)
    cycles = cycles_among(contracts.order_edges) + contracts.cycles if contracts.order_edges else contracts.cycles
    if not contracts.functions and not contracts.guarded and not contracts.order and not contracts.entry_points \
            and not contracts.locks and not contracts.macros and not cycles \
            and not (contracts.noreturn and not set(contracts.noreturn) <= config.noreturn):
        return config
    if contracts.order_edges:  # not part of the result: the cycles they close are
        contracts = dataclasses.replace(contracts, order_edges=(), cycles=cycles)
    # not the fingerprint alone: it leaves out what does not change results
    # (rules, severities, files), and the applied Config keeps all of it
    key = (config.fingerprint(), config.source, config.select, tuple(sorted(config.severities.items())),
           config.include, config.exclude, config.root, contracts)

    def make() -> Config:
        functions = dict(config.functions)
        for name, fn in contracts.functions:
            old = functions.get(name)
            # (a preset's entry: no origin; the configuration file's and other files' have one)
            if old is None or (old.origin is None and not fn.inferred and not fn.tentative):
                functions[name] = fn
        known = set(config.guarded)
        applied = dataclasses.replace(
            config,
            functions=functions,
            guarded=config.guarded + tuple(g for g in contracts.guarded if g not in known),
            order_pairs=config.order_pairs + tuple(p for p in contracts.order if p not in config.order_pairs),
            entry_points=tuple(sorted(set(config.entry_points) | set(contracts.entry_points))),
            # after the configured [[locks]]: the first match wins, and the project's word is final
            locks=config.locks + tuple(p for p in contracts.locks if p not in config.locks),
            # the configuration's own mapping of a macro wins
            annotations={**dict(contracts.macros), **config.annotations} if contracts.macros else config.annotations,
            order_cycles=config.order_cycles + contracts.cycles,
            noreturn=config.noreturn | frozenset(contracts.noreturn),
        )
        # The base fingerprint plus the contracts (their repr is deterministic: tuples of
        # frozen dataclasses and strings) identify the result: no need to serialise the
        # whole configuration again for every file of a project.
        digest = hashlib.sha256((config.fingerprint() + repr(contracts)).encode()).hexdigest()
        applied.__dict__["_fingerprint"] = digest  # Config.fingerprint's cached_property slot
        applied.__dict__["_base_fingerprint"] = config.base_fingerprint()
        applied.__dict__["_base_names"] = config.base_function_names()
        return applied

    return _APPLIED.get(key, make)
