"""The configuration's data model: lock functions, kinds, classes, guarded data, lock
patterns and `Config` (immutable once built; the analysis only reads it).

Lock specs: a function's lock is named by a *lock spec*: "arg0".."argN" (the
lock is argument N, or what argument N points to: lock identity treats a pointer
to a lock and the lock alike), "argN->field" (a field of what argument N points
to), "return" (the function returns the locked object, e.g. a lookup that returns
a locked object or NULL), or any other name: a global lock or context, taken
whatever the arguments ("RCU" for `rcu_read_lock()`, "big_lock", "g_state.lock").

Outcomes (for try-acquire: which return values mean "acquired"; for `when`: which
mean the action happened): "zero", "nonzero", "nonnull", "null", "negative", or a
constant's name such as "thrd_success". `failure` defaults to the complement of
`success`.

Function names may be globs (`do_item_*`: see `FunctionTable`), and entries may be
limited to some files (`paths`: see `Config.for_file`). Path globs are relative to
the configuration's directory, or to one above it when they start with `../` (see
`path_matcher`); `[per-file-ignores]` turns rules off by path (`Config.selected_rules`).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from typing import Mapping, Optional

from lockls.catalogue import RULES
from lockls.config.globs import relative_posix, glob_matches
ACTIONS = ("acquire", "acquire-shared", "release", "try-acquire", "try-acquire-shared", "tests-held", "tests-not-held")
# functions that tell whether their caller holds a lock (`MUTEX_HELD(&m)`, `bql_locked()`):
# a branch on one is decided by what the path holds
HELD_TESTS = ("tests-held", "tests-not-held")
# what a project's annotation macro (`[annotations] OVS_REQUIRES = "requires"`) means
ANNOTATION_MEANINGS = ("acquire", "acquire-shared", "release", "release-shared", "try-acquire",
                       "try-acquire-shared", "requires", "requires-shared", "excludes",
                       # on data: `OVS_GUARDED_BY(mu)`, `OVS_ACQ_BEFORE(other)`
                       "guarded-by", "pt-guarded-by", "acquired-before", "acquired-after", "no-analysis",
                       # `int hits OVS_GUARDED;`: guarded by some lock, whichever (clang's guarded_var)
                       "guarded-var", "pt-guarded-var")
SCOPES = ("block", "macro")
OUTCOMES = ("zero", "nonzero", "nonnull", "null", "negative")
SEVERITIES = ("error", "warning", "info")

_INDEX_PLACEHOLDER = re.compile(r"\[\{(arg[0-9]+)\}\]")  # `[{arg0}]`: an array indexed by argument 0
CONFIG_FILE_NAMES = (".lockls.toml", "lockls.toml")  # in order of preference
MAX_LOCK_ARG = 15  # "arg0".."arg15"


@dataclass(frozen=True, slots=True)
class LockFunction:
    """A function (or function-like macro) that takes, drops or tries to take a lock."""

    name: str
    action: str  # one of ACTIONS, with "-shared" folded into `shared`
    lock: str  # "arg0".."argN", "return", or "global" (the lock is `path`)
    shared: bool = False  # a reader (shared) acquisition
    success: Optional[str] = None  # try-acquire: the outcome meaning "acquired"
    failure: Optional[str] = None  # try-acquire: the outcome meaning "not acquired"
    kind: Optional[str] = None  # a key of Config.kinds
    path: str = ""  # with "argN": the lock is `arg->path` (e.g. "->lock"); with "global": the lock's name
    scope: Optional[str] = None  # acquire: "block" (held to the end of the enclosing block: guards,
    #                              lockers) or "macro" (held for the block the macro introduces)
    unheld_ok: bool = False  # release: fine when the lock is not held (a NULL object, a failed lookup)
    may_sleep: Optional[str] = None  # "always", or an argument spelling that makes it sleep ("GFP_KERNEL")
    # locks that must be held (requires) / must not be held (excludes) when it is called,
    # as lock refs: "argN" + a path ("arg0->lock"), or "=" + a global lock ("=ledger_mu")
    requires: tuple = ()
    excludes: tuple = ()
    # inferred: lock refs it takes and drops itself on every path through it (exclusively,
    # waiting for them): calling it with one of them held deadlocks
    takes: tuple = ()
    # inferred from its body (see `summaries`): an acquire function no caller is known to
    # rely on yet. Applied while contracts are inferred (to find callers that do); left
    # out of the configuration a file is finally analysed under (`Contracts.settled`).
    tentative: bool = False
    inferred: bool = field(default=False, compare=False)  # a summary of its body, not declared
    # the file that declared it (a header, the config file); None: this file or a preset.
    # Where, not what: left out of equality (and of the configuration's fingerprint).
    origin: Optional[str] = field(default=None, compare=False)
    # release: only of a lock held exclusively (clang's `release_capability`), as `shared`
    # is only of one held shared; neither: of a lock held either way (`pthread_rwlock_unlock`)
    exclusive: bool = False
    # the action happens only when the call returns this outcome (one of OUTCOMES or a
    # constant's name): `obj_unref(o)` releases `o` when it returns 0 ("zero"), a lookup
    # that waits for the object's lock returns it locked or NULL ("nonnull")
    when: Optional[str] = None
    # several actions, in order (each a LockFunction of one action): `mon_switch(n, a, b)`
    # leaves `a` and `b`, then enters `n`; the function's own action is then "call"
    steps: tuple = ()
    # the actions chosen by a constant argument (argument `case_arg`): ((constant, steps), ...),
    # `lock_obj(o, 1)` takes `o`, `lock_obj(o, 0)` drops it
    case_arg: Optional[int] = None
    cases: tuple = ()
    # globs of the files (relative to the configuration's directory) the entry applies to;
    # empty: every file (see `Config.for_file`)
    paths: tuple = ()
    # its `requires` comes from clang's requires_capability (or a macro for it), which the
    # compiler checks at every call: a caller starts holding only what its own
    # annotations say (the kernel's `__must_hold` and configured contracts: the caller
    # is assumed to hold what it never touches)
    checked: bool = False
    # sets what argument N points to (or, for a macro, argument N itself) to NULL:
    # `virDomainObjEndAPI(&vm)`, `VIR_FREE(p)`, `g_clear_pointer(&p, free)`
    clears: Optional[int] = None

    @property
    def only_takes(self) -> bool:
        """A summary that only says which locks it takes and drops itself: it matters to
        callers that hold a lock already, not to any other caller."""
        return self.action == "call" and bool(self.takes) and not (self.requires or self.excludes or self.may_sleep)

    @property
    def is_try(self) -> bool:
        return self.action == "try-acquire"

    @property
    def lock_arg(self) -> Optional[int]:
        """The argument index of the lock, or None when the lock is the return value (or no lock)."""
        return int(self.lock[3:]) if self.lock.startswith("arg") else None

    @property
    def lock_spec(self) -> str:
        """The lock spec as written in a config file ("arg0", "arg0->lock", "return", "RCU")."""
        if self.lock == "global":
            spec = self.path
        else:
            spec = self.lock + self.path if self.lock_arg is not None else self.lock
        return _INDEX_PLACEHOLDER.sub(r"[\1]", spec) if "[{" in spec else spec  # `lru_locks[arg0]`

    @property
    def config_action(self) -> str:
        """The action key as written in a config file ("acquire-shared", ...)."""
        return self.action + "-shared" if self.shared else self.action


@dataclass(frozen=True, slots=True)
class LockKind:
    """Properties shared by every lock of a kind (a pthread mutex, a spinlock...)."""

    name: str
    recursive: bool = False  # may be re-taken by its holder
    spinning: bool = False  # waiters spin (spinlocks, rwlock_t): nothing may sleep while it is held
    # taking it may sleep (mutexes): None means "unless spinning"; False: neither spins nor
    # sleeps (an SRCU read side: taking it never sleeps, and its holder may sleep)
    sleeping: Optional[bool] = None


@dataclass(frozen=True, slots=True)
class LockClass:
    """A class of locks (e.g. every lock reached through a `struct qemud_driver *`)."""

    name: str
    match: tuple = ()  # fnmatch globs over canonical lock expressions
    types: tuple = ()  # locks reached through a variable of one of these types ("struct qemud_driver")
    nests: bool = True  # false: two locks of this class must never be held together (nested-lock)
    needs: Optional[str] = None  # taking one requires holding a lock of this class (lock-order)


@dataclass(frozen=True, slots=True)
class GuardedData:
    """Data that must only be touched with a lock held (`unguarded-access`)."""

    field: Optional[str] = None  # a struct field, reached as `obj->field` or `obj.field`
    variable: Optional[str] = None  # or a global variable
    type: Optional[str] = None  # or every use of a variable of this struct type ("struct qemud_driver")
    by: str = ""  # the guard: a sibling field of `obj` ("lock"), "self" (the object itself), or "=global_lock"
    everywhere: bool = False  # report in every function, not only those that take or drop the guard
    pointee: bool = False  # what the field/variable points to is guarded, not the pointer (pt_guarded_by)
    exceptions: tuple = ()  # type guards: fields and functions a use through which needs no lock
    origin: Optional[str] = None  # the file that declared it (config or source); None: the analysed file
    # a field's struct ("struct account"), when an annotation declared it; with an empty `by`: a
    # struct (or typedef) with the field but not its guard, whose field is not guarded
    # (`declarations.unguarded_owners`)
    owner: Optional[str] = None
    configured: bool = False  # a `[[guarded]]` entry (not a source annotation): taking its address is no use
    paths: tuple = ()  # globs of the files it applies to (see `Config.for_file`); empty: every file
    exempt: tuple = ()  # names or globs of functions where it is not checked (constructors, teardown)


@dataclass(frozen=True, slots=True)
class LockPattern:
    """Properties of the locks whose canonical expression matches a glob."""

    match: str  # fnmatch glob over the canonical lock expression, e.g. "*->rec_lock"
    kind: Optional[str] = None
    recursive: Optional[bool] = None

    def matches(self, lock_key: str) -> bool:
        # fnmatch's `*` crosses "->" and ".", which is what "*->rec_lock" needs.
        return fnmatch.fnmatchcase(lock_key, self.match)


# The work one function's analysis may take (path classes carried through an event or
# joined at a block, each weighing one plus its locks, a join of classes with forgotten
# locks as many times as it has classes, and its CFG's blocks and events): about five
# times what the largest function of the real trees in bench/ needs (810,000: one of
# glib's, whose paths disagree on many locks), several seconds at worst. Counted, not
# timed, so that the editor and CI skip the same functions.
DEFAULT_FUNCTION_STEPS = 4_000_000


@dataclass(frozen=True)
class Config:
    """The effective configuration for one file: presets merged with the project's file.

    Stays picklable (plain dicts and tuples): it is sent to worker processes.
    """

    source: Optional[str] = None  # the config file it came from; None: built-in defaults
    presets: tuple[str, ...] = ()
    functions: Mapping[str, LockFunction] = field(default_factory=dict)
    kinds: Mapping[str, LockKind] = field(default_factory=dict)
    locks: tuple[LockPattern, ...] = ()
    select: frozenset[str] = frozenset()  # enabled rules
    severities: Mapping[str, str] = field(default_factory=dict)  # rule -> severity
    include: tuple[str, ...] = ()  # globs relative to `root`; empty: everything
    exclude: tuple[str, ...] = ()
    root: Optional[str] = None  # directory the globs are relative to
    annotations: Mapping[str, str] = field(default_factory=dict)  # project macro -> meaning ("requires", ...)
    classes: Mapping[str, LockClass] = field(default_factory=dict)
    lock_order: tuple = ()  # class names: a lock of an earlier class is taken before one of a later class
    guarded: tuple = ()  # GuardedData entries
    order_pairs: tuple = ()  # (earlier, later, origin): lock globs from acquired_before / acquired_after annotations
    entry_points: tuple = ()  # names or globs of functions that start with no lock held
    entry_tables: tuple = ()  # types whose initializers list entry points ("struct file_operations")
    entry_table_macros: tuple = ()  # names or globs of macros that build a method table (`DEFINE_OPS(n, .read = f)`)
    # (name or glob, argument index) of the calls that register a callback: the function passed
    # as that argument is an entry point (`pthread_create`, 2); the presets' and the project's
    entry_registrars: tuple = ()
    order_cycles: tuple = ()  # ordergraph.OrderCycle: edges of the files' code that close a lock-graph cycle
    noreturn: frozenset = frozenset()  # functions declared never to return (`_Noreturn`, `G_NORETURN`, ...)
    function_steps: int = 0  # `[limits] function-steps`: the work one function may take (0: DEFAULT_FUNCTION_STEPS)
    # a preset's entry that a project's entry with `paths` replaces: it applies outside those paths
    fallbacks: Mapping[str, LockFunction] = field(default_factory=dict)
    # `[entry-points] paths`: the project's entry points apply only to these files; elsewhere
    # only the presets' do (`entry_fallback`: the entry_* fields they fill)
    entry_paths: tuple = ()
    entry_fallback: Mapping[str, tuple] = field(default_factory=dict)
    # `[per-file-ignores]`: (glob, rule names), the rules not reported in the files a glob matches
    # (filtered after the analysis, like `select`: not part of the fingerprint)
    per_file_ignores: tuple = ()
    bases: tuple = ()  # the files `source` extends (absolute), in the order they were laid under it
    # `[rules] thread-safety-pointer`: handing guarded data's address (or a pt_guarded_by
    # pointer) to a function, or returning it, is a use, as under clang's -Wthread-safety-pointer
    thread_safety_pointer: bool = False

    def __post_init__(self) -> None:
        # a function name may be a glob (`[functions."do_item_*"]`): look names up through a
        # table that knows (whoever made the mapping, and however often it is copied)
        if not isinstance(self.functions, FunctionTable) and any(is_name_glob(n) for n in self.functions):
            object.__setattr__(self, "functions", FunctionTable(self.functions))

    @functools.cached_property
    def _fingerprint(self) -> str:
        # Only what changes findings: not select/severities (filtered after the
        # analysis) nor include/exclude (decide which files, not their results).
        payload = {
            "schema": _FINGERPRINT_SCHEMA,
            "presets": list(self.presets),
            "functions": [{k: v for k, v in dataclasses.asdict(self.functions[n]).items() if k != "origin"}
                          for n in sorted(self.functions)],
            "kinds": [dataclasses.asdict(self.kinds[n]) for n in sorted(self.kinds)],
            "locks": [dataclasses.asdict(p) for p in self.locks],  # order matters: first match wins
            "annotations": dict(sorted(self.annotations.items())),
            "classes": [dataclasses.asdict(self.classes[n]) for n in sorted(self.classes)],
            "lock_order": list(self.lock_order),
            # (where an entry was declared is not a result: leave `origin` out)
            "guarded": [{k: v for k, v in dataclasses.asdict(g).items() if k != "origin"} for g in self.guarded],
            "order_pairs": [list(p[:2]) for p in self.order_pairs],
            "entry_points": list(self.entry_points),
            "entry_tables": list(self.entry_tables),
            "entry_table_macros": list(self.entry_table_macros),
            "entry_registrars": [list(r) for r in self.entry_registrars],
            "order_cycles": [dataclasses.asdict(c) for c in self.order_cycles],
            "noreturn": sorted(self.noreturn),
            "function_steps": self.max_function_steps,
            "fallbacks": [dataclasses.asdict(self.fallbacks[n]) for n in sorted(self.fallbacks)],
            "entry_paths": list(self.entry_paths),
            "thread_safety_pointer": self.thread_safety_pointer,
        }
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def max_function_steps(self) -> int:
        """The work one function's analysis may take before it is skipped (see `solver.solve`)."""
        return self.function_steps or DEFAULT_FUNCTION_STEPS

    def fingerprint(self) -> str:
        """A stable sha256 hex digest of everything that affects analysis results."""
        return self._fingerprint

    def base_function_names(self) -> frozenset:
        """The names of the functions of the configuration a project's contracts were
        laid over (`contracts.apply`), or this one's."""
        return self.__dict__.get("_base_names") or frozenset(self.functions)

    def base_fingerprint(self) -> str:
        """The fingerprint of the configuration a project's contracts were laid over
        (`contracts.apply`), or this one's when none were."""
        return self.__dict__.get("_base_fingerprint") or self._fingerprint

    def for_file(self, path: str) -> "Config":
        """The configuration for the file `path`: without the entries (`[functions.X]`,
        `[[guarded]]`, the project's `[entry-points]`) whose `paths` globs do not match it
        (a preset's entry applies there instead). `self` when no entry has `paths`. Files with the
        same entries share one Config (and fingerprint)."""
        scoped, guarded = self._scoped
        if not scoped and not guarded and not self.entry_paths:
            return self
        matches = path_matcher(path, self.root)

        def applies(paths: tuple) -> bool:
            return any(map(matches, paths))

        active = (frozenset(n for n in scoped if applies(self.functions[n].paths)),
                  frozenset(i for i in guarded if applies(self.guarded[i].paths)),
                  not self.entry_paths or applies(self.entry_paths))
        made = self.__dict__.setdefault("_for_files", {})
        config = made.get(active)
        if config is None:
            functions = {n: f for n, f in self.functions.items() if not f.paths or n in active[0]}
            functions.update((n, self.fallbacks[n]) for n in scoped if n not in active[0] and n in self.fallbacks)
            config = dataclasses.replace(
                self, functions=functions,
                guarded=tuple(g for i, g in enumerate(self.guarded) if not getattr(g, "paths", ()) or i in active[1]),
                **({} if active[2] else dict(self.entry_fallback)))
            config.__dict__["_unscoped"] = self  # what `--show-config` shows
            if len(made) < 256:  # (one per combination of scoped entries that match: a handful)
                made[active] = config
        return config

    @functools.cached_property
    def _scoped(self) -> tuple:
        """(names of the functions, indexes of the guards) with `paths`."""
        return (tuple(n for n, f in self.functions.items() if f.paths),
                tuple(i for i, g in enumerate(self.guarded) if getattr(g, "paths", ())))

    def unscoped(self) -> "Config":
        """The configuration a `for_file` result was made from (itself otherwise)."""
        return self.__dict__.get("_unscoped", self)

    def is_included(self, path: str) -> bool:
        """Whether `path` is analysed under the include/exclude globs (see `glob_matches`)."""
        if not self.include and not self.exclude:
            return True
        matches = path_matcher(path, self.root)  # (a file outside the project: the globs do not speak about it)
        if self.include and not any(map(matches, self.include)):
            return False
        return not any(map(matches, self.exclude))

    def ignored_rules(self, path: str) -> frozenset:
        """The rules `[per-file-ignores]` turns off in the file `path`."""
        if not self.per_file_ignores:
            return frozenset()
        known = self.__dict__.setdefault("_ignored_rules", {})
        rules = known.get(path)
        if rules is None:
            matches = path_matcher(path, self.root)
            rules = frozenset(rule for glob, names in self.per_file_ignores if matches(glob) for rule in names)
            if len(known) >= 4096:  # (one per file of a run: bounded all the same)
                known.clear()
            known[path] = rules
        return rules

    def selected_rules(self, path: str, select: Optional[frozenset] = None) -> frozenset:
        """The rules whose findings are reported in the file `path`: `select` (the command
        line's or the editor's choice) or else the configuration's, without those
        `[per-file-ignores]` turns off there. `--check` and the language server both ask this."""
        return (self.select if select is None else frozenset(select)) - self.ignored_rules(path)

    def is_entry_point(self, function: str) -> bool:
        """Whether `function` starts with no lock held (listed, matched by a glob, or
        stored in a method table of an `[entry-points] tables` type)."""
        return any(fnmatch.fnmatchcase(function, pattern) for pattern in self.entry_points)

    def severity(self, rule: str) -> str:
        """The severity of `rule`'s findings."""
        return self.severities.get(rule) or RULES.get(rule, "warning")

    def lock_kind_for(self, lock_key: str, fn: Optional[LockFunction]) -> Optional[LockKind]:
        """The kind of the lock `lock_key` (canonical expression) taken through `fn`.

        The first [[locks]] pattern that matches and names a kind wins, then `fn`'s kind.
        """
        for pattern in self.locks:
            if pattern.kind is not None and pattern.matches(lock_key):
                return self.kinds.get(pattern.kind)
        if fn is not None and fn.kind is not None:
            return self.kinds.get(fn.kind)
        return None

    def is_recursive(self, lock_key: str, fn: Optional[LockFunction]) -> bool:
        """Whether the lock `lock_key` may be re-taken by its holder.

        The first [[locks]] pattern that matches and says so (by `recursive` or by its
        kind) wins, then `fn`'s kind, then False.
        """
        for pattern in self.locks:
            if not pattern.matches(lock_key):
                continue
            if pattern.recursive is not None:
                return pattern.recursive
            if pattern.kind is not None and pattern.kind in self.kinds:
                return self.kinds[pattern.kind].recursive
        if fn is not None and fn.kind is not None and fn.kind in self.kinds:
            return self.kinds[fn.kind].recursive
        return False


_FINGERPRINT_SCHEMA = 1  # bump when the meaning of a config changes without its text


def parent_steps(glob: str) -> tuple[int, str]:
    """(how many leading `../` a path glob has, the rest): `../src/**` is (1, "src/**").
    Such a glob is anchored to that directory above the configuration's: the globs of an
    extended file above it are written so (see `load._rebased_glob`)."""
    if not glob.startswith(("..", "/..")):
        return 0, glob
    segments = glob.lstrip("/").split("/")
    ups = 0
    while ups < len(segments) and segments[ups] == os.pardir:
        ups += 1
    return (ups, "/".join(segments[ups:])) if ups else (0, glob)


def path_matcher(path: str, root: Optional[str]):
    """A test of whether a path glob (`include`, `exclude`, `paths`, `per-file-ignores`)
    relative to `root` matches the file `path`. A glob starting with `../` speaks of the
    directory that many levels above `root` (anchored there); a file outside the
    directory a glob speaks of never matches it."""
    relative: dict[int, Optional[str]] = {}

    def matches(glob: str) -> bool:
        ups, rest = parent_steps(glob)
        if ups not in relative:
            base = root
            for _ in range(ups):
                base = os.path.dirname(base) if base else base
            relative[ups] = relative_posix(path, base)
        where = relative[ups]
        if where is None:
            return False
        if not ups:
            return glob_matches(glob, where)
        return glob_matches("/" + rest, where) if rest.strip("/") else True

    return matches


_NAME_GLOB_CHARS = ("*", "?", "[")


def is_name_glob(name: str) -> bool:
    """Is a `[functions.NAME]` name a glob (`do_item_*`) rather than a function's name?"""
    return any(ch in name for ch in _NAME_GLOB_CHARS)


def case_constant(text: str) -> str:
    """A case's constant as `cases` keys and arguments are compared: a number in decimal
    (`0x10` is "16", `1u` is "1", `true` is "1"), anything else as written."""
    text = text.strip()
    named = {"true": "1", "false": "0", "TRUE": "1", "FALSE": "0", "NULL": "0"}
    if text in named:
        return named[text]
    m = re.fullmatch(r"([+-]?)(0[xX][0-9a-fA-F]+|[0-9]+)[uUlL]*", text)
    if m:
        digits = m.group(2)
        base = 16 if digits[:2].lower() == "0x" else 8 if len(digits) > 1 and digits[0] == "0" else 10
        number = int(digits, base)
        return str(-number if m.group(1) == "-" else number)
    return text


_NOTHING = object()


class FunctionTable(dict):
    """name -> LockFunction, where some names are globs (`[functions."do_item_*"]`): a
    function without an entry of its own has the first matching glob's (in the order of
    the file), under its own name. `get`, `in` and `[]` know the globs; iterating lists
    the entries as written."""

    __slots__ = ("_globs", "_matched")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._globs = tuple((n, f) for n, f in dict.items(self) if is_name_glob(n))
        self._matched: dict = {}

    def __reduce__(self):  # picklable (sent to worker processes), the globs made again
        return (type(self), (dict(self),))

    def _glob(self, name) -> Optional[LockFunction]:
        if not self._globs or not isinstance(name, str):
            return None
        hit = self._matched.get(name, _NOTHING)
        if hit is _NOTHING:
            hit = next((dataclasses.replace(f, name=name) for glob, f in self._globs
                        if fnmatch.fnmatchcase(name, glob)), None)
            if len(self._matched) >= 4096:  # every identifier called in a project: bounded
                self._matched.clear()
            self._matched[name] = hit
        return hit

    def get(self, name, default=None):
        fn = dict.get(self, name, _NOTHING)
        if fn is _NOTHING:
            fn = self._glob(name)
            return default if fn is None else fn
        return fn

    def __contains__(self, name) -> bool:
        return dict.__contains__(self, name) or self._glob(name) is not None

    def __missing__(self, name):
        fn = self._glob(name)
        if fn is None:
            raise KeyError(name)
        return fn
