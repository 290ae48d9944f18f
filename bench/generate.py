#!/usr/bin/env python3
"""Generate a deterministic corpus of realistic, lock-heavy C for benchmarks.

Each generated file is a self-contained "module": a few structs that embed
`pthread_mutex_t`, `pthread_rwlock_t`, `pthread_spinlock_t` or C11 `mtx_t`
fields, file-scope locks and tables, per-module macros and enums, then functions
of 10-80 lines in the shapes real lock code takes: early returns on errors,
`goto` cleanup ladders, switches with fall-through, loops with break/continue,
nested ifs, trylocks (`== 0`, `rc = ...; if (rc != 0) return`, `==
thrd_success`), reader/writer locks, local aliases of a lock, a flag tested
twice, condition-variable waits, `#ifdef` blocks inside bodies. About a third of
the functions are plain helpers that take no lock at all.

About 3% of the locking functions carry a real bug (a leak on an error path, a
`goto` past the unlock, a double unlock, an unlock after a failed trylock, a
double lock). The line where a finding is expected ends with
`/* BUG: <rule> */`, as in `examples/`, so a run can be checked against them.

That is the default profile, `plain`. Two more imitate other ways real code
takes locks (`--profile`):

  annotated  clang thread-safety annotations through the project's own macros,
             Open vSwitch style: LK_ACQUIRES/LK_RELEASES/LK_TRY_ACQUIRE on
             `static inline` wrappers around pthread mutexes and rwlocks (their
             bodies marked LK_NO_THREAD_SAFETY_ANALYSIS), LK_GUARDED_BY fields
             and globals, LK_REQUIRES and LK_EXCLUDES prototypes of functions
             defined further down; bugs: leaks, guarded data touched without
             its lock, a REQUIRES function called without it, an EXCLUDES one
             called with it (about 20 per 10,000 lines).
  kernel     Linux kernel style: spinlock_t / struct mutex / rw_semaphore,
             spin_lock_irqsave, spin_lock_bh, guard(mutex)(...), scoped_guard(...)
             { }, scoped_cond_guard, RCU readers and updaters, goto ladders,
             __must_hold / __acquires / __releases, might_sleep() and msleep()
             outside spinlocks; bugs: sleeping under a spinlock or RCU, a leak on
             an error path, a double unlock. A corpus comes with the
             `.lockls.toml` that selects the `linux` preset.

Everything is driven by `random.Random` seeded with strings, so the same
arguments always give byte-identical output (no dependence on PYTHONHASHSEED,
dict order or the platform). The plain profile is what this script wrote
before profiles existed, byte for byte.

Usage:
    python bench/generate.py OUTDIR [--lines 200000] [--files 100] [--seed 1] [--profile plain]
    python bench/generate.py --single FILE [--lines 10000] [--seed 1] [--profile plain]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from collections import Counter
from dataclasses import dataclass, field

# -- vocabulary ---------------------------------------------------------------

MODULE_NOUNS = (
    "session", "buffer", "pool", "route", "inode", "peer", "timer", "socket",
    "table", "journal", "channel", "device", "tenant", "lease", "bucket",
    "stream", "worker", "ledger", "shard", "index", "mailbox", "segment",
    "cursor", "window", "backlog", "quota", "token", "volume", "gateway",
    "replica", "snapshot", "monitor", "registry", "dispatch", "transport",
)
STRUCT_NOUNS = (
    "conn", "queue", "cache", "node", "ctx", "slot", "ring", "map", "list",
    "group", "host", "file", "port", "task", "client", "store", "state",
    "link", "pipe", "frame", "zone", "set", "tree", "log",
)
VERBS = (
    "insert", "remove", "lookup", "flush", "reset", "resize", "attach",
    "detach", "update", "commit", "drain", "sweep", "expire", "refresh",
    "bump", "steal", "publish", "account", "rebalance", "sync", "pin",
    "unpin", "grow", "shrink", "touch", "collect", "claim", "release_slot",
    "requeue", "mark", "scan", "merge", "split", "trim", "seal", "probe",
)
# C keywords and the names generated bodies use for locals and parameters:
# a struct's usual variable (the initials of its name) must not be one of them.
RESERVED = frozenset((
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double",
    "else", "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long",
    "register", "restrict", "return", "short", "signed", "sizeof", "static", "struct",
    "switch", "typedef", "union", "unsigned", "void", "volatile", "while",
    "e", "i", "n", "l", "m", "rc", "rw", "sl", "ne", "op", "key", "value", "flags",
    "total", "found", "snap", "timeout", "need_lock", "hit", "it",
))
SUFFIXES = ("locked", "slow", "nowait", "bulk", "one", "all", "fast", "async")

LOCK_FIELD_NAMES = {
    "mutex": ("lock", "mu", "mutex", "state_lock", "list_lock", "table_lock"),
    "rwlock": ("rwlock", "rw", "cfg_lock", "map_lock", "tree_lock"),
    "spin": ("spin", "stats_lock", "counter_lock", "irq_lock"),
    "mtx": ("mtx", "mlock", "io_lock", "hist_lock"),
}
LOCK_TYPES = {
    "mutex": "pthread_mutex_t",
    "rwlock": "pthread_rwlock_t",
    "spin": "pthread_spinlock_t",
    "mtx": "mtx_t",
}
ERRORS = ("-EINVAL", "-ENOENT", "-EBUSY", "-ENOSPC", "-EAGAIN", "-EIO",
          "-EEXIST", "-EPERM", "-ERANGE", "-EPIPE")
COMMENTS = (
    "keep the generation monotonic for lock-free readers",
    "the caller guarantees the object stays alive",
    "cheap check first; the slow path is rare",
    "entries are never shared between tables",
    "readers only look at the head, so publish it last",
    "this must stay O(1): it runs on every request",
    "TODO: batch these updates",
    "a zero limit means unlimited",
    "recompute lazily; most callers never look",
    "the state machine only moves forward",
    "stale entries are reclaimed by the sweeper",
    "order matters here, see the comment at the top of the file",
    "overflow is harmless: the counter is only a hint",
    "drop the reference outside the lock where possible",
)
DOC_PHRASES = (
    "Called from the request path; must not block for long.",
    "Returns 0 on success or a negative errno.",
    "The caller owns `v` and keeps it alive for the duration of the call.",
    "Safe to call concurrently with readers.",
    "Used by the periodic maintenance thread.",
    "Best effort: gives up rather than wait.",
    "Only the owner thread calls this.",
)


# -- the model of one file ------------------------------------------------------

@dataclass
class LockField:
    name: str
    kind: str  # mutex | rwlock | spin | mtx


@dataclass
class StructSpec:
    name: str  # e.g. "session_conn"
    var: str  # the usual parameter name, e.g. "sc"
    locks: list[LockField]
    cond_for: str | None  # name of the mutex field the condition variable pairs with


@dataclass
class Lock:
    """A lock as code names it, with the calls of its API."""

    kind: str
    expr: str  # e.g. "&v->mu", "l", "&session_registry_lock"
    shared: bool = False  # rwlock taken for reading

    def acquire(self) -> str:
        if self.kind == "mutex":
            return f"pthread_mutex_lock({self.expr})"
        if self.kind == "rwlock":
            op = "rdlock" if self.shared else "wrlock"
            return f"pthread_rwlock_{op}({self.expr})"
        if self.kind == "spin":
            return f"pthread_spin_lock({self.expr})"
        return f"mtx_lock({self.expr})"

    def release(self) -> str:
        if self.kind == "mutex":
            return f"pthread_mutex_unlock({self.expr})"
        if self.kind == "rwlock":
            return f"pthread_rwlock_unlock({self.expr})"
        if self.kind == "spin":
            return f"pthread_spin_unlock({self.expr})"
        return f"mtx_unlock({self.expr})"

    def try_call(self) -> str:
        if self.kind == "mutex":
            return f"pthread_mutex_trylock({self.expr})"
        if self.kind == "rwlock":
            op = "tryrdlock" if self.shared else "trywrlock"
            return f"pthread_rwlock_{op}({self.expr})"
        if self.kind == "spin":
            return f"pthread_spin_trylock({self.expr})"
        return f"mtx_trylock({self.expr})"

    @property
    def ok(self) -> str:
        """The value a successful try returns."""
        return "thrd_success" if self.kind == "mtx" else "0"


@dataclass
class FileCtx:
    """Names declared by the file's prelude, shared by all its functions."""

    rng: random.Random
    mod: str  # lower-case module prefix, e.g. "session"
    MOD: str  # upper-case prefix for macros and enums
    structs: list[StructSpec]
    global_lock: Lock  # &<mod>_registry_lock (a mutex)
    global_rw: Lock  # &<mod>_config_lock (an rwlock)
    used_names: set[str] = field(default_factory=set)
    bugs: Counter = field(default_factory=Counter)
    functions: int = 0

    def fresh_name(self, base: str) -> str:
        name = base
        if name in self.used_names:
            for suffix in self.rng.sample(SUFFIXES, len(SUFFIXES)):
                name = f"{base}_{suffix}"
                if name not in self.used_names:
                    break
            n = 2
            while name in self.used_names:
                name = f"{base}_{n}"
                n += 1
        self.used_names.add(name)
        return name


class Body:
    """Lines of a function body, with indentation and the locals it needs."""

    INDENT = "    "

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 1
        self.needs: dict[str, str] = {}  # local name -> declaration

    def line(self, text: str) -> None:
        self.lines.append(self.INDENT * self.depth + text)

    def raw(self, text: str) -> None:
        """A line at column 0: preprocessor directives and labels."""
        self.lines.append(text)

    def blank(self) -> None:
        if self.lines and self.lines[-1] != "":
            self.lines.append("")

    def open(self, head: str) -> None:
        self.line(head + " {")
        self.depth += 1

    def close(self, tail: str = "") -> None:
        self.depth -= 1
        self.line("}" + tail)

    def need(self, name: str, decl: str) -> None:
        self.needs.setdefault(name, decl)

    def __len__(self) -> int:
        return len(self.lines)


# -- expressions and filler statements -----------------------------------------------

def cond(ctx: FileCtx, v: str) -> str:
    """A realistic condition on the object `v` or the parameters."""
    M = ctx.MOD
    return ctx.rng.choice((
        f"!{v}->head",
        f"{v}->count >= {v}->limit",
        f"{M}_IS_FULL({v})",
        f"{v}->state == {M}_STATE_CLOSED",
        f"({v}->flags & {M}_FLAG_FROZEN) != 0",
        f"unlikely({v}->generation == 0)",
        f"value < 0",
        f"key == 0",
        f"{v}->bytes + value > {M}_MAX_BYTES",
        f"{v}->slots[key % {M}_MAX_SLOTS] != NULL",
        f"{v}->state != {M}_STATE_RUNNING",
    ))


def fill(ctx: FileCtx, b: Body, s: StructSpec, v: str, lines: int, fn: str) -> None:
    """Emit about `lines` lines of lock-neutral statements (1-10 lines each) about `v`."""
    rng, M = ctx.rng, ctx.MOD
    last = -1
    start = len(b)
    while len(b) - start < lines:
        r = rng.random()
        if r < 0.06:
            b.line(f"/* {rng.choice(COMMENTS)} */")
        pick = rng.randrange(22)
        if pick == last:  # no two identical statements in a row
            pick = (pick + 1 + rng.randrange(21)) % 22
        last = pick
        if pick == 0:
            b.line(f"{v}->count++;")
        elif pick == 1:
            b.line(f"{v}->generation++;")
        elif pick == 2:
            b.line(f"{v}->bytes += value;")
        elif pick == 3:
            b.line(f"{v}->flags |= {M}_FLAG_DIRTY;")
        elif pick == 4:
            b.line(f"{v}->flags &= ~{M}_FLAG_BUSY;")
        elif pick == 5:
            b.line(f"{v}->state = {M}_STATE_RUNNING;")
        elif pick == 6:
            b.line(f'log_event("{fn}: %s key=%llu", {v}->name, (unsigned long long)key);')
        elif pick == 7:
            b.line(f'stats_add("{s.name}.{fn}", value);')
        elif pick == 8:
            b.line(f"if ({v}->count > {v}->limit)")
            b.line(f"    {v}->flags |= {M}_FLAG_FULL;")
        elif pick == 9:
            b.need("hit", f"struct {s.name}_entry *hit;")
            b.line(f"hit = {s.name}_find({v}, key);")
            b.open("if (hit)")
            b.line("hit->value += value;")
            b.line("hit->refs++;")
            b.close()
        elif pick == 10:
            b.need("i", "size_t i;")
            b.open(f"for (i = 0; i < {M}_MAX_SLOTS; i++)")
            b.line(f"if (!{v}->slots[i])")
            b.line("    continue;")
            b.line(f"{v}->slots[i]->state |= {M}_ENTRY_STALE;")
            b.close()
        elif pick == 11:
            b.line(f"{v}->limit = MIN({v}->limit, (size_t)value + 1);")
        elif pick == 12:
            b.line(f'snprintf({v}->name, sizeof({v}->name), "{ctx.mod}-%lu", {v}->generation);')
        elif pick == 13:
            b.line(f'{M}_TRACE("{fn}: count=%zu", {v}->count);')
        elif pick == 14:
            b.raw(f"#ifdef {M}_DEBUG")
            b.line(f'log_event("%s: state=%d flags=%#x", __func__, {v}->state, {v}->flags);')
            b.raw("#endif")
        elif pick == 15:
            b.line(f"{v}->slots[key % {M}_MAX_SLOTS] = NULL;")
        elif pick == 16:
            b.open(f"if (value > 0 && (size_t)value > {v}->limit)")
            b.line(f"{v}->limit = (size_t)value;")
            b.line(f"{v}->generation++;")
            b.close()
        elif pick == 17:
            b.line(f"switch ({v}->state) {{")
            b.line(f"case {M}_STATE_IDLE:")
            b.line(f"    {v}->state = {M}_STATE_RUNNING;")
            b.line("    break;")
            b.line(f"case {M}_STATE_RUNNING:")
            b.line("    break;")
            b.line("default:")
            b.line(f"    {v}->flags |= {M}_FLAG_FROZEN;")
            b.line("    break;")
            b.line("}")
        elif pick == 18:
            b.raw(f"#if {M}_STATS")
            b.line(f"{v}->bytes += (long long)sizeof(*{v});")
            b.raw("#else")
            b.line(f"{v}->bytes = 0;")
            b.raw("#endif")
        elif pick == 19:
            b.line(f"{v}->last_update = now_ms();")
        elif pick == 20:
            b.need("it", f"struct {s.name}_entry *it;")
            b.open(f"for (it = {v}->head; it; it = it->next)")
            b.line("if (it->refs == 0)")
            b.line("    continue;")
            b.line(f"it->state &= ~{M}_ENTRY_STALE;")
            b.close()
        else:
            b.line(f"{v}->bytes -= {v}->bytes / 16;")


def units_for(size: int, base: int, points: int) -> list[int]:
    """Split the lines left after a template's skeleton (`base` lines) among its fill points."""
    total = max(0, size - base)
    return [total // points + (1 if i < total % points else 0) for i in range(points)]


# -- lock-taking templates ---------------------------------------------------------------
#
# Each takes (ctx, body, struct, lock, fn_name, size) and returns the return type,
# the extra parameters and the return statement for the end (or None when the
# body already ends in one). The function's parameters are always
# `struct S *v, uint64_t key, long value` plus the extras.

def pick_lock(ctx: FileCtx, s: StructSpec, v: str, kinds: tuple[str, ...] | None = None) -> Lock:
    candidates = [f for f in s.locks if kinds is None or f.kind in kinds]
    if not candidates:
        candidates = s.locks
    f = ctx.rng.choice(candidates)
    return Lock(f.kind, f"&{v}->{f.name}", shared=f.kind == "rwlock" and ctx.rng.random() < 0.5)


def t_simple(ctx, b, s, v, fn, size):
    lock = pick_lock(ctx, s, v)
    (u,) = units_for(size, 6, 1)
    b.line(lock.acquire() + ";")
    fill(ctx, b, s, v, max(1, u), fn)
    b.line(lock.release() + ";")
    return ("void", "", None)


def t_early_return(ctx, b, s, v, fn, size):
    lock = pick_lock(ctx, s, v)
    u1, u2 = units_for(size, 16, 2)
    b.line(f"if (!{v} || value < 0)")
    b.line("    return -EINVAL;")
    b.blank()
    b.line(lock.acquire() + ";")
    for _ in range(ctx.rng.randint(1, 2)):
        b.open(f"if ({cond(ctx, v)})")
        fill(ctx, b, s, v, ctx.rng.randint(0, 1), fn)
        b.line(lock.release() + ";")
        b.line(f"return {ctx.rng.choice(ERRORS)};")
        b.close()
        fill(ctx, b, s, v, u1, fn)
        u1 = 0
    fill(ctx, b, s, v, max(1, u2), fn)
    b.line(lock.release() + ";")
    return ("int", "", "0")


def t_goto_ladder(ctx, b, s, v, fn, size):
    rng = ctx.rng
    a = pick_lock(ctx, s, v)
    others = [f for f in s.locks if f"&{v}->{f.name}" != a.expr]
    if others and rng.random() < 0.6:
        f = rng.choice(others)
        second = Lock(f.kind, f"&{v}->{f.name}")
    elif rng.random() < 0.5:
        second = ctx.global_lock
    else:
        second = None
    if second and a.kind == "spin" and second.kind != "spin":
        # Never take a sleeping lock inside a spinning one (blocking-under-lock).
        a, second = second, a
    u1, u2, u3 = units_for(size, 30 if second else 22, 3)
    ent = f"struct {s.name}_entry"
    b.need("ne", f"{ent} *ne;")
    b.need("rc", "int rc;")
    b.line(f"ne = calloc(1, sizeof(*ne));")
    b.line("if (!ne)")
    b.line("    return -ENOMEM;")
    b.line("ne->key = key;")
    b.line("ne->value = value;")
    b.blank()
    b.line(a.acquire() + ";")
    b.open(f"if ({cond(ctx, v)})")
    b.line(f"rc = {rng.choice(ERRORS)};")
    b.line("goto out_unlock;")
    b.close()
    fill(ctx, b, s, v, u1, fn)
    if second:
        b.line(second.acquire() + ";")
        b.open(f"if ({cond(ctx, v)})")
        b.line(f"rc = {rng.choice(ERRORS)};")
        b.line("goto out_unlock_inner;")
        b.close()
        fill(ctx, b, s, v, u2, fn)
    b.line(f"ne->next = {v}->head;")
    b.line(f"{v}->head = ne;")
    b.line("ne = NULL;        /* now owned by the list */")
    fill(ctx, b, s, v, u3, fn)
    b.line("rc = 0;")
    if second:
        b.raw("out_unlock_inner:")
        b.line(second.release() + ";")
    b.raw("out_unlock:")
    b.line(a.release() + ";")
    b.line("free(ne);")
    return ("int", "", "rc")


def t_switch(ctx, b, s, v, fn, size):
    rng, M = ctx.rng, ctx.MOD
    lock = pick_lock(ctx, s, v)
    every_case_returns = rng.random() < 0.35
    if every_case_returns:
        u = units_for(size, 22, 3)
        b.line(lock.acquire() + ";")
        b.line("switch (op) {")
        b.line(f"case {M}_OP_GET:")
        b.depth += 1
        fill(ctx, b, s, v, u[0], fn)
        b.line(lock.release() + ";")
        b.line(f"return (int){v}->count;")
        b.depth -= 1
        b.line(f"case {M}_OP_PUT:")
        b.depth += 1
        fill(ctx, b, s, v, u[1], fn)
        b.line("/* fall through */")
        b.depth -= 1
        b.line(f"case {M}_OP_FLUSH:")
        b.depth += 1
        fill(ctx, b, s, v, u[2], fn)
        b.line(lock.release() + ";")
        b.line("return 0;")
        b.depth -= 1
        b.line("default:")
        b.depth += 1
        b.line(lock.release() + ";")
        b.line("return -EINVAL;")
        b.depth -= 1
        b.line("}")
        return ("int", ", int op", None)
    u = units_for(size, 32, 3)
    b.need("rc", "int rc = 0;")
    b.line(lock.acquire() + ";")
    b.line("switch (op) {")
    b.line(f"case {M}_OP_GET:")
    b.depth += 1
    fill(ctx, b, s, v, u[0], fn)
    b.line("/* fall through */")
    b.depth -= 1
    b.line(f"case {M}_OP_PUT:")
    b.depth += 1
    fill(ctx, b, s, v, max(1, u[1]), fn)
    b.line("break;")
    b.depth -= 1
    b.line(f"case {M}_OP_FLUSH:")
    b.depth += 1
    b.open(f"if ({cond(ctx, v)})")
    b.line(f"rc = {rng.choice(ERRORS)};")
    b.line("break;")
    b.close()
    fill(ctx, b, s, v, u[2], fn)
    b.line("break;")
    b.depth -= 1
    b.line(f"case {M}_OP_CLOSE:")
    b.depth += 1
    b.line(f"{v}->state = {M}_STATE_CLOSED;")
    b.line(lock.release() + ";")
    b.line("return 0;")
    b.depth -= 1
    b.line("default:")
    b.depth += 1
    b.line("rc = -EINVAL;")
    b.line("break;")
    b.depth -= 1
    b.line("}")
    b.line(lock.release() + ";")
    return ("int", ", int op", "rc")


def t_loop_locked(ctx, b, s, v, fn, size):
    M = ctx.MOD
    lock = pick_lock(ctx, s, v)
    (u,) = units_for(size, 18, 1)
    b.need("i", "size_t i;")
    b.need("total", "long total = 0;")
    b.line(lock.acquire() + ";")
    b.open(f"for (i = 0; i < {M}_MAX_SLOTS; i++)")
    b.line(f"if (!{v}->slots[i] || {v}->slots[i]->refs == 0)")
    b.line("    continue;")
    b.line("if (total > value)")
    b.line("    break;")
    b.line(f"total += {v}->slots[i]->value;")
    fill(ctx, b, s, v, u, fn)
    b.close()
    b.line(lock.release() + ";")
    return ("long", "", "total")


def t_lock_in_loop(ctx, b, s, v, fn, size):
    M = ctx.MOD
    lock = pick_lock(ctx, s, v)
    (u,) = units_for(size, 26, 1)
    ent = f"struct {s.name}_entry"
    b.need("e", f"{ent} *e;")
    b.need("n", "long n = 0;")
    b.open("while (n < value)")
    b.line(lock.acquire() + ";")
    b.open(f"if ({v}->state == {M}_STATE_CLOSED)")
    b.line(lock.release() + ";")
    b.line("break;")
    b.close()
    b.line(f"e = {v}->head;")
    b.open("if (!e || e->refs > 0)")
    b.line(lock.release() + ";")
    b.line(f"if (e)")
    b.line(f"    continue;  /* busy: retry */")
    b.line("break;")
    b.close()
    b.line(f"{v}->head = e->next;")
    b.line(f"{v}->count--;")
    fill(ctx, b, s, v, u, fn)
    b.line(lock.release() + ";")
    b.line(f"{s.name}_entry_free(e);   /* outside the lock: may block */")
    b.line("n++;")
    b.close()
    return ("long", "", "n")


def t_trylock_if(ctx, b, s, v, fn, size):
    lock = pick_lock(ctx, s, v)
    (u,) = units_for(size, 10, 1)
    b.open(f"if ({lock.try_call()} == {lock.ok})")
    fill(ctx, b, s, v, max(1, u), fn)
    b.line(lock.release() + ";")
    b.line("return 1;")
    b.close()
    b.line(f"{v}->contended++;   /* racy on purpose: only a hint */")
    return ("int", "", "0")


def t_trylock_rc(ctx, b, s, v, fn, size):
    rng = ctx.rng
    lock = pick_lock(ctx, s, v)
    (u,) = units_for(size, 12, 1)
    b.need("rc", "int rc;")
    b.line(f"rc = {lock.try_call()};")
    if lock.kind == "mtx":
        b.line(f"if (rc != thrd_success)")
        b.line("    return rc == thrd_busy ? -EAGAIN : -EIO;")
    elif rng.random() < 0.5:
        b.line("if (rc != 0)")
        b.line("    return rc == EBUSY ? -EAGAIN : -rc;")
    else:
        b.line("if (rc == EBUSY)")
        b.line("    return -EAGAIN;")
        b.line("if (rc)")
        b.line("    return -rc;")
    fill(ctx, b, s, v, max(1, u), fn)
    b.line(lock.release() + ";")
    return ("int", "", "0")


def t_reader(ctx, b, s, v, fn, size):
    lock = pick_lock(ctx, s, v, ("rwlock",))
    if lock.kind == "rwlock":
        lock.shared = True
    (u,) = units_for(size, 16, 1)
    b.need("e", f"struct {s.name}_entry *e;")
    b.need("found", "long found = -1;")
    b.line(lock.acquire() + ";")
    b.open(f"for (e = {v}->head; e; e = e->next)")
    b.line("if (e->key != key)")
    b.line("    continue;")
    b.line("found = e->value;")
    b.line("break;")
    b.close()
    if u:
        b.open("if (found >= 0)")
        fill(ctx, b, s, v, u, fn)
        b.close()
    b.line(lock.release() + ";")
    return ("long", "", "found")


def t_alias(ctx, b, s, v, fn, size):
    f = ctx.rng.choice(s.locks)
    alias = {"mutex": "l", "rwlock": "rw", "spin": "sl", "mtx": "m"}[f.kind]
    direct = Lock(f.kind, f"&{v}->{f.name}")
    via = Lock(f.kind, alias)
    (u,) = units_for(size, 12, 1)
    b.need(alias, f"{LOCK_TYPES[f.kind]} *{alias} = &{v}->{f.name};")
    b.line(via.acquire() + ";")
    b.open(f"if ({cond(ctx, v)})")
    b.line(via.release() + ";")
    b.line(f"return {ctx.rng.choice(ERRORS)};")
    b.close()
    fill(ctx, b, s, v, max(1, u), fn)
    # Sometimes the release names the field directly: the same lock either way.
    b.line((direct if ctx.rng.random() < 0.3 else via).release() + ";")
    return ("int", "", "0")


def t_flag_twice(ctx, b, s, v, fn, size):
    M = ctx.MOD
    lock = pick_lock(ctx, s, v)
    u1, u2 = units_for(size, 12, 2)
    b.need("need_lock", f"int need_lock = !(flags & {M}_FLAG_NOLOCK);")
    b.line("if (need_lock)")
    b.line("    " + lock.acquire() + ";")
    fill(ctx, b, s, v, max(1, u1), fn)
    if u2:
        b.open(f"if ({cond(ctx, v)})")
        fill(ctx, b, s, v, u2, fn)
        b.close()
    b.line("if (need_lock)")
    b.line("    " + lock.release() + ";")
    return ("int", ", unsigned flags", "0")


def t_nested_ifs(ctx, b, s, v, fn, size):
    lock = pick_lock(ctx, s, v)
    u1, u2, u3 = units_for(size, 20, 3)
    b.line(lock.acquire() + ";")
    b.open(f"if ({cond(ctx, v)})")
    b.open(f"if ({cond(ctx, v)})")
    fill(ctx, b, s, v, max(1, u1), fn)
    b.close(f" else if ({cond(ctx, v)}) {{")
    b.depth += 1
    b.line(lock.release() + ";")
    b.line(f"return {ctx.rng.choice(ERRORS)};")
    b.close(" else {")
    b.depth += 1
    fill(ctx, b, s, v, max(1, u2), fn)
    b.close()
    b.close()
    fill(ctx, b, s, v, u3, fn)
    b.line(lock.release() + ";")
    return ("int", "", "0")


def t_cond_wait(ctx, b, s, v, fn, size):
    M = ctx.MOD
    mu = Lock("mutex", f"&{v}->{s.cond_for}")
    (u,) = units_for(size, 20, 1)
    b.need("e", f"struct {s.name}_entry *e;")
    b.line(mu.acquire() + ";")
    b.line(f"while (!{v}->head && {v}->state != {M}_STATE_CLOSED)")
    b.line(f"    pthread_cond_wait(&{v}->cond, {mu.expr});")
    b.open(f"if (!{v}->head)")
    b.line(mu.release() + ";")
    b.line("return -EPIPE;")
    b.close()
    b.line(f"e = {v}->head;")
    b.line(f"{v}->head = e->next;")
    b.line(f"{v}->count--;")
    fill(ctx, b, s, v, u, fn)
    b.line(f"pthread_cond_signal(&{v}->cond);")
    b.line(mu.release() + ";")
    b.line("value = e->value;")
    b.line(f"{s.name}_entry_free(e);")
    return ("long", "", "value")


def t_global(ctx, b, s, v, fn, size):
    mod = ctx.mod
    (u,) = units_for(size, 16, 1)
    if ctx.rng.random() < 0.5:
        g = ctx.global_lock
        b.need("i", "size_t i;")
        b.line(g.acquire() + ";")
        b.open(f"for (i = 0; i < ARRAY_SIZE({mod}_registry); i++)")
        b.line(f"if ({mod}_registry[i])")
        b.line("    continue;")
        b.line(f"{mod}_registry[i] = {v};")
        b.line(f"{mod}_registry_gen++;")
        b.line(g.release() + ";")
        b.line("return (int)i;")
        b.close()
        b.line(g.release() + ";")
        fill(ctx, b, s, v, u, fn)
        return ("int", "", "-ENOSPC")
    g = Lock("rwlock", ctx.global_rw.expr, shared=True)
    b.need("timeout", "long timeout;")
    b.line(g.acquire() + ";")
    b.line(f"timeout = {mod}_config_timeout;")
    b.line(g.release() + ";")
    b.line("if (timeout <= 0)")
    b.line("    return 0;")
    fill(ctx, b, s, v, max(1, u), fn)
    return ("long", "", "timeout")


def t_do_while(ctx, b, s, v, fn, size):
    lock = pick_lock(ctx, s, v)
    u1, u2 = units_for(size, 18, 2)
    b.need("rc", "int rc = 0;")
    b.line(lock.acquire() + ";")
    b.open("do")
    b.open(f"if ({cond(ctx, v)})")
    b.line(f"rc = {ctx.rng.choice(ERRORS)};")
    b.line("break;")
    b.close()
    fill(ctx, b, s, v, max(1, u1), fn)
    b.line(f"if ({cond(ctx, v)})")
    b.line("    break;")
    fill(ctx, b, s, v, u2, fn)
    b.close(" while (0);")
    b.line(lock.release() + ";")
    return ("int", "", "rc")


def t_hand_over(ctx, b, s, v, fn, size):
    """Copy under one lock, then publish under another: never both held."""
    a = pick_lock(ctx, s, v)
    second = [f for f in s.locks if f"&{v}->{f.name}" != a.expr]
    c = Lock(second[0].kind, f"&{v}->{second[0].name}") if second else ctx.global_lock
    u1, u2 = units_for(size, 12, 2)
    b.need("snap", "unsigned long snap;")
    b.line(a.acquire() + ";")
    b.line(f"snap = {v}->generation;")
    fill(ctx, b, s, v, u1, fn)
    b.line(a.release() + ";")
    b.blank()
    b.line(c.acquire() + ";")
    b.line(f"if (snap > {v}->contended)")
    b.line(f"    {v}->contended = snap;")
    fill(ctx, b, s, v, u2, fn)
    b.line(c.release() + ";")
    return ("void", "", None)


# -- buggy templates (one expected finding each, marked on its line) -------------------

def bug_leak_early_return(ctx, b, s, v, fn, size):
    lock = pick_lock(ctx, s, v)
    (u,) = units_for(size, 10, 1)
    b.line(lock.acquire() + ";")
    b.line(f"if ({cond(ctx, v)})")
    b.line(f"    return {ctx.rng.choice(ERRORS)}; /* BUG: lock-leak */")
    fill(ctx, b, s, v, max(1, u), fn)
    b.line(lock.release() + ";")
    return ("int", "", "0"), "lock-leak"


def bug_goto_past_unlock(ctx, b, s, v, fn, size):
    lock = pick_lock(ctx, s, v)
    (u,) = units_for(size, 14, 1)
    b.need("rc", "int rc = 0;")
    b.line(lock.acquire() + ";")
    b.open(f"if ({cond(ctx, v)})")
    b.line(f"rc = {ctx.rng.choice(ERRORS)};")
    b.line("goto out;")
    b.close()
    fill(ctx, b, s, v, max(1, u), fn)
    b.line(lock.release() + ";")
    b.raw("out:")
    b.line("return rc; /* BUG: lock-leak */")
    return ("int", "", None), "lock-leak"


def bug_double_unlock(ctx, b, s, v, fn, size):
    lock = pick_lock(ctx, s, v)
    (u,) = units_for(size, 12, 1)
    b.line(lock.acquire() + ";")
    fill(ctx, b, s, v, max(1, u), fn)
    b.line(lock.release() + ";")
    b.open(f"if ({cond(ctx, v)})")
    b.line(f'log_event("{fn}: giving up");')
    b.line(lock.release() + "; /* BUG: unlock-unheld */")
    b.line("return -EIO;")
    b.close()
    return ("int", "", "0"), "unlock-unheld"


def bug_unlock_after_failed_trylock(ctx, b, s, v, fn, size):
    lock = pick_lock(ctx, s, v)
    (u,) = units_for(size, 10, 1)
    b.need("rc", "int rc;")
    b.line(f"rc = {lock.try_call()};")
    b.line(f"if (rc != {lock.ok})")
    b.line("    goto out;")
    fill(ctx, b, s, v, max(1, u), fn)
    b.raw("out:")
    b.line(lock.release() + "; /* BUG: unlock-unheld */")
    return ("int", "", "rc"), "unlock-unheld"


def bug_double_lock(ctx, b, s, v, fn, size):
    # Never a reader lock: re-taking a read lock is legal for POSIX rwlocks.
    f = ctx.rng.choice(s.locks)
    lock = Lock(f.kind, f"&{v}->{f.name}")
    u1, u2 = units_for(size, 10, 2)
    b.open(f"if ({cond(ctx, v)})")
    b.line(lock.acquire() + ";")
    fill(ctx, b, s, v, max(1, u1), fn)
    b.line("/* ...and on to the common path, still holding it */")
    b.close()
    b.line(lock.acquire() + "; /* BUG: double-lock */")
    fill(ctx, b, s, v, max(1, u2), fn)
    b.line(lock.release() + ";")
    return ("void", "", None), "double-lock"


LOCK_TEMPLATES = (
    (t_simple, 8), (t_early_return, 12), (t_goto_ladder, 10), (t_switch, 7),
    (t_loop_locked, 6), (t_lock_in_loop, 5), (t_trylock_if, 5), (t_trylock_rc, 5),
    (t_reader, 6), (t_alias, 5), (t_flag_twice, 4), (t_nested_ifs, 6),
    (t_cond_wait, 4), (t_global, 4), (t_do_while, 4), (t_hand_over, 4),
)
BUG_TEMPLATES = (
    bug_leak_early_return, bug_goto_past_unlock, bug_double_unlock,
    bug_unlock_after_failed_trylock, bug_double_lock,
)
BUG_RATE = 0.045  # of locking functions: about 3% of all functions


# -- plain helpers (no locks) ---------------------------------------------------------------

def plain_function(ctx: FileCtx, s: StructSpec, size: int, kinds: tuple[int, ...] | None = None) -> list[str]:
    rng, M = ctx.rng, ctx.MOD
    kind = rng.randrange(6) if kinds is None else rng.choice(kinds)
    v = s.var
    out: list[str] = []
    if kind == 0:
        name = ctx.fresh_name(f"{s.name}_hash")
        out += [f"static inline uint32_t {name}(uint64_t key)", "{"]
        for shift, mul in rng.sample(((33, "0xff51afd7ed558ccdULL"), (29, "0xc4ceb9fe1a85ec53ULL"),
                                      (31, "0x9e3779b97f4a7c15ULL"), (27, "0x94d049bb133111ebULL")),
                                     rng.randint(2, 4)):
            out += [f"    key ^= key >> {shift};", f"    key *= {mul};"]
        out += ["    key ^= key >> 33;", f"    return (uint32_t)(key % {M}_MAX_SLOTS);", "}"]
    elif kind == 1:
        name = ctx.fresh_name(f"{s.name}_validate")
        out += [f"static int {name}(const struct {s.name} *{v}, long value)", "{",
                f"    if (!{v})", "        return -EINVAL;",
                f"    if (value < 0 || value > {M}_MAX_BYTES)", "        return -ERANGE;",
                f"    switch ({v}->state) {{",
                f"    case {M}_STATE_IDLE:",
                f"    case {M}_STATE_RUNNING:",
                "        break;",
                f"    case {M}_STATE_CLOSED:",
                "        return -EPIPE;",
                "    default:",
                f"        return -EIO;",
                "    }"]
        for _ in range(max(0, (size - 20) // 3)):
            flag = rng.choice(("FROZEN", "BUSY", "FULL", "DIRTY"))
            out += [f"    if (({v}->flags & {M}_FLAG_{flag}) && value > {rng.randint(1, 4096)})",
                    f"        return {rng.choice(ERRORS)};"]
        out += ["    return 0;", "}"]
    elif kind == 2:
        name = ctx.fresh_name(f"{s.name}_total")
        out += [f"static long long {name}(const struct {s.name}_entry *e, unsigned mask)", "{",
                "    long long total = 0;", "    unsigned seen = 0;", "",
                "    for (; e; e = e->next) {",
                "        if (e->refs == 0)", "            continue;",
                "        if ((e->state & mask) != 0)", "            continue;"]
        for _ in range(max(0, (size - 18) // 2)):
            out += [f"        if (e->value > {rng.randint(10, 100000)})",
                    f"            total += e->value / {rng.randint(2, 16)};"]
        out += ["        total += e->value;",
                f"        if (++seen >= {rng.choice((64, 128, 1024))})", "            break;",
                "    }", "    return total;", "}"]
    elif kind == 3:
        name = ctx.fresh_name(f"{s.name}_describe")
        out += [f"static int {name}(const struct {s.name} *{v}, char *buf, size_t len)", "{",
                "    int n;", "",
                f'    n = snprintf(buf, len, "{s.name} %s: count=%zu limit=%zu gen=%lu",',
                f"                 {v}->name, {v}->count, {v}->limit, {v}->generation);",
                "    if (n < 0 || (size_t)n >= len)", "        return -ENOSPC;"]
        for flag in rng.sample(("FROZEN", "BUSY", "FULL", "DIRTY", "NOLOCK"), rng.randint(1, 5)):
            out += [f"    if ({v}->flags & {M}_FLAG_{flag}) {{",
                    f'        int m = snprintf(buf + n, len - (size_t)n, " {flag.lower()}");',
                    "        if (m < 0 || (size_t)m >= len - (size_t)n)", "            return -ENOSPC;",
                    "        n += m;", "    }"]
        out += ["    return n;", "}"]
    elif kind == 4:
        name = ctx.fresh_name(f"{ctx.mod}_next_state")
        out += [f"static int {name}(int state, int op)", "{",
                "    switch (state) {",
                f"    case {M}_STATE_IDLE:",
                f"        if (op == {M}_OP_PUT || op == {M}_OP_GET)",
                f"            return {M}_STATE_RUNNING;",
                "        break;",
                f"    case {M}_STATE_RUNNING:",
                f"        if (op == {M}_OP_CLOSE)",
                f"            return {M}_STATE_CLOSED;",
                f"        if (op == {M}_OP_FLUSH)",
                "            /* flushing keeps it running */",
                f"            return {M}_STATE_RUNNING;",
                "        break;",
                f"    case {M}_STATE_CLOSED:",
                "        /* terminal */",
                "        return state;",
                "    default:",
                "        return -1;",
                "    }",
                "    return state;", "}"]
    else:
        name = ctx.fresh_name(f"{ctx.mod}_parse_flags")
        out += [f"static unsigned {name}(const char *s)", "{",
                "    unsigned flags = 0;", "",
                "    while (*s) {",
                "        switch (*s++) {"]
        for ch, flag in rng.sample((("d", "DIRTY"), ("b", "BUSY"), ("f", "FULL"),
                                    ("z", "FROZEN"), ("n", "NOLOCK")), rng.randint(2, 5)):
            out += [f"        case '{ch}':", f"            flags |= {M}_FLAG_{flag};", "            break;"]
        out += ["        case ',':", "        case ' ':", "            continue;",
                "        default:", "            return 0;",
                "        }", "    }", "    return flags;", "}"]
    ctx.functions += 1
    return out


# == profile "annotated": clang's thread-safety annotations through project macros =======
#
# C the way projects checked with `clang -Wthread-safety` write it (Open vSwitch is
# the model): capability macros defined at the top of the file (empty for other
# compilers), a lockable wrapper struct around the pthread mutex and rwlock with
# `static inline` lock/unlock functions marked ACQUIRES/RELEASES (their own bodies
# exempt from the analysis), reached through `lk_mutex_lock(m)` macros that pass the
# source location; GUARDED_BY fields and globals; REQUIRES prototypes of the
# `_locked` helpers defined further down, EXCLUDES prototypes of the public functions
# that take the lock themselves; constructors, destructors and racy "hint" readers
# that touch guarded data without the lock. About 20 deliberate bugs per 10,000
# lines: leaks on early returns, guarded data touched without its lock, a REQUIRES
# function called without the lock, an EXCLUDES function called with it.

ANN_MACROS = (  # (macro with its parameters, the clang attribute it stands for)
    ("LK_LOCKABLE", 'capability("mutex")'),
    ("LK_ACQUIRES(...)", "acquire_capability(__VA_ARGS__)"),
    ("LK_ACQUIRES_SHARED(...)", "acquire_shared_capability(__VA_ARGS__)"),
    ("LK_RELEASES(...)", "release_generic_capability(__VA_ARGS__)"),
    ("LK_TRY_ACQUIRE(RETVAL, ...)", "try_acquire_capability(RETVAL, __VA_ARGS__)"),
    ("LK_REQUIRES(...)", "requires_capability(__VA_ARGS__)"),
    ("LK_REQUIRES_SHARED(...)", "requires_shared_capability(__VA_ARGS__)"),
    ("LK_EXCLUDES(...)", "locks_excluded(__VA_ARGS__)"),
    ("LK_GUARDED_BY(x)", "guarded_by(x)"),
    ("LK_PT_GUARDED_BY(x)", "pt_guarded_by(x)"),
    ("LK_NO_THREAD_SAFETY_ANALYSIS", "no_thread_safety_analysis"),
)

# The lock wrappers every annotated file carries (OVS keeps them in a header).
ANN_WRAPPERS = r"""
#define LK_STRINGIZE2(x) #x
#define LK_STRINGIZE(x) LK_STRINGIZE2(x)
#define LK_SOURCE_LOCATOR __FILE__ ":" LK_STRINGIZE(__LINE__)

/* A pthread mutex that remembers where it was taken. */
struct LK_LOCKABLE lk_mutex {
    pthread_mutex_t lock;
    const char *where;          /* "<unlocked>" when free */
};

struct LK_LOCKABLE lk_rwlock {
    pthread_rwlock_t lock;
    const char *where;
};

#define LK_MUTEX_INITIALIZER { PTHREAD_MUTEX_INITIALIZER, "<unlocked>" }
#define LK_RWLOCK_INITIALIZER { PTHREAD_RWLOCK_INITIALIZER, "<unlocked>" }

void lk_abort(int err, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));

static inline void lk_mutex_lock_at(struct lk_mutex *m, const char *where) LK_ACQUIRES(m);
static inline int lk_mutex_trylock_at(struct lk_mutex *m, const char *where) LK_TRY_ACQUIRE(0, m);
static inline void lk_mutex_unlock(struct lk_mutex *m) LK_RELEASES(m);
static inline void lk_rwlock_rdlock_at(struct lk_rwlock *l, const char *where) LK_ACQUIRES_SHARED(l);
static inline void lk_rwlock_wrlock_at(struct lk_rwlock *l, const char *where) LK_ACQUIRES(l);
static inline void lk_rwlock_unlock(struct lk_rwlock *l) LK_RELEASES(l);
static inline void lk_cond_wait(pthread_cond_t *cond, struct lk_mutex *m) LK_REQUIRES(m);

#define lk_mutex_lock(m) lk_mutex_lock_at(m, LK_SOURCE_LOCATOR)
#define lk_mutex_trylock(m) lk_mutex_trylock_at(m, LK_SOURCE_LOCATOR)
#define lk_rwlock_rdlock(l) lk_rwlock_rdlock_at(l, LK_SOURCE_LOCATOR)
#define lk_rwlock_wrlock(l) lk_rwlock_wrlock_at(l, LK_SOURCE_LOCATOR)

static inline void
lk_mutex_init(struct lk_mutex *m)
{
    int err = pthread_mutex_init(&m->lock, NULL);

    if (err)
        lk_abort(err, "pthread_mutex_init failed");
    m->where = "<unlocked>";
}

static inline void
lk_mutex_destroy(struct lk_mutex *m)
{
    int err = pthread_mutex_destroy(&m->lock);

    if (err)
        lk_abort(err, "pthread_mutex_destroy failed");
}

static inline void
lk_mutex_lock_at(struct lk_mutex *m, const char *where)
    LK_NO_THREAD_SAFETY_ANALYSIS
{
    int err = pthread_mutex_lock(&m->lock);

    if (err)
        lk_abort(err, "%s: pthread_mutex_lock failed", where);
    m->where = where;
}

static inline int
lk_mutex_trylock_at(struct lk_mutex *m, const char *where)
    LK_NO_THREAD_SAFETY_ANALYSIS
{
    int err = pthread_mutex_trylock(&m->lock);

    if (!err)
        m->where = where;
    else if (err != EBUSY)
        lk_abort(err, "%s: pthread_mutex_trylock failed", where);
    return err;
}

static inline void
lk_mutex_unlock(struct lk_mutex *m)
    LK_NO_THREAD_SAFETY_ANALYSIS
{
    int err;

    m->where = "<unlocked>";
    err = pthread_mutex_unlock(&m->lock);
    if (err)
        lk_abort(err, "pthread_mutex_unlock failed");
}

static inline void
lk_rwlock_init(struct lk_rwlock *l)
{
    int err = pthread_rwlock_init(&l->lock, NULL);

    if (err)
        lk_abort(err, "pthread_rwlock_init failed");
    l->where = "<unlocked>";
}

static inline void
lk_rwlock_rdlock_at(struct lk_rwlock *l, const char *where)
    LK_NO_THREAD_SAFETY_ANALYSIS
{
    int err = pthread_rwlock_rdlock(&l->lock);

    if (err)
        lk_abort(err, "%s: pthread_rwlock_rdlock failed", where);
    l->where = where;
}

static inline void
lk_rwlock_wrlock_at(struct lk_rwlock *l, const char *where)
    LK_NO_THREAD_SAFETY_ANALYSIS
{
    int err = pthread_rwlock_wrlock(&l->lock);

    if (err)
        lk_abort(err, "%s: pthread_rwlock_wrlock failed", where);
    l->where = where;
}

static inline void
lk_rwlock_unlock(struct lk_rwlock *l)
    LK_NO_THREAD_SAFETY_ANALYSIS
{
    int err;

    l->where = "<unlocked>";
    err = pthread_rwlock_unlock(&l->lock);
    if (err)
        lk_abort(err, "pthread_rwlock_unlock failed");
}

static inline void
lk_cond_wait(pthread_cond_t *cond, struct lk_mutex *m)
    LK_NO_THREAD_SAFETY_ANALYSIS
{
    int err = pthread_cond_wait(cond, &m->lock);

    if (err)
        lk_abort(err, "pthread_cond_wait failed");
}
""".strip("\n").split("\n")

ANN_RESERVED = RESERVED | frozenset(("next", "obj", "name", "tunable"))
ANN_BUG_RATE = 0.15  # of locking functions: about 20 bugs per 10,000 lines


@dataclass
class WrapLock:
    """A lock taken through the file's annotated wrappers (or any call pair)."""

    expr: str  # e.g. "&v->mutex"
    acq: str = "lk_mutex_lock({})"
    rel: str = "lk_mutex_unlock({})"

    def acquire(self) -> str:
        return self.acq.format(self.expr)

    def release(self) -> str:
        return self.rel.format(self.expr)


@dataclass
class AnnCtx(FileCtx):
    """An annotated file: the names its prototypes promise, and what is still to define."""

    helpers: dict = field(default_factory=dict)  # struct name -> REQUIRES helpers
    api: dict = field(default_factory=dict)  # struct name -> EXCLUDES functions
    pending: list = field(default_factory=list)  # (kind, struct or None, name) to define
    registry_bump: str = ""
    bug_start: int = 0  # the buggy templates are used in turn, from this one


def ann_make_structs(rng: random.Random, mod: str, count: int) -> list[StructSpec]:
    structs = []
    nouns = rng.sample(STRUCT_NOUNS, min(count, len(STRUCT_NOUNS)))
    while len(nouns) < count:
        nouns.append(f"{rng.choice(STRUCT_NOUNS)}{len(nouns)}")
    for noun in nouns:
        name = f"{mod}_{noun}"
        var = "".join(w[0] for w in name.split("_"))
        if var in ANN_RESERVED:
            var += "x"
        locks = [LockField("mutex", "mutex")]
        if rng.random() < 0.4:
            locks.append(LockField("rwlock", "rwlock"))
        structs.append(StructSpec(name, var, locks, "mutex" if rng.random() < 0.5 else None))
    return structs


def ann_has_rw(s: StructSpec) -> bool:
    return any(lf.kind == "rwlock" for lf in s.locks)


def ann_mutex(v: str) -> WrapLock:
    return WrapLock(f"&{v}->mutex")


def ann_prelude(ctx: AnnCtx, title: str) -> list[str]:
    M, mod, rng = ctx.MOD, ctx.mod, ctx.rng
    out = [
        "/*",
        f" * {title} - {mod} management (generated by bench/generate.py, profile \"annotated\").",
        " *",
        " * Lock-heavy C annotated for clang's -Wthread-safety through the project's",
        " * capability macros. Realistic in shape, meaningless in content. Lines",
        " * ending in a BUG comment are deliberate bugs.",
        " */",
        "#include <errno.h>",
        "#include <pthread.h>",
        "#include <stddef.h>",
        "#include <stdint.h>",
        "#include <stdio.h>",
        "#include <stdlib.h>",
        "#include <string.h>",
        "",
        "/* Thread-safety annotations: checked by clang -Wthread-safety, empty elsewhere. */",
        "#if defined(__clang__)",
    ]
    out += [f"#define {macro} __attribute__(({attr}))" for macro, attr in ANN_MACROS]
    out.append("#else")
    out += [f"#define {macro}" for macro, _ in ANN_MACROS]
    out += ["#endif", ""]
    out += ANN_WRAPPERS
    out.append("")
    ctx.functions += ANN_WRAPPERS.count("{")
    out += module_macros(ctx)
    out += ["void log_event(const char *fmt, ...);",
            "uint64_t now_ms(void);",
            "void stats_add(const char *name, long value);",
            ""]
    for s in ctx.structs:
        rw = ann_has_rw(s)
        out += [f"struct {s.name}_entry {{",
                f"    struct {s.name}_entry *next;",
                "    uint64_t key;",
                "    long value;",
                "    int refs;",
                "    unsigned state;",
                "};", "",
                f"/* `mutex` protects the entries, the slots and the counters"
                + ("; `rwlock` the tunables. */" if rw else ". */"),
                f"struct {s.name} {{",
                "    struct lk_mutex mutex;"]
        if s.cond_for:
            out.append("    pthread_cond_t cond;          /* signalled with mutex held */")
        out += [f"    struct {s.name}_entry *head LK_GUARDED_BY(mutex);",
                f"    struct {s.name}_entry *slots[{M}_MAX_SLOTS] LK_GUARDED_BY(mutex);",
                "    size_t count LK_GUARDED_BY(mutex);",
                "    size_t limit LK_GUARDED_BY(mutex);",
                "    unsigned long generation LK_GUARDED_BY(mutex);",
                "    unsigned flags LK_GUARDED_BY(mutex);",
                "    int state LK_GUARDED_BY(mutex);",
                "    long long bytes LK_GUARDED_BY(mutex);"]
        if rw:
            out += ["    struct lk_rwlock rwlock;",
                    "    long timeout LK_GUARDED_BY(rwlock);",
                    "    unsigned long tunables_gen LK_GUARDED_BY(rwlock);"]
        out += ["    unsigned long contended;      /* racy on purpose: only a hint */",
                "    uint64_t last_update;         /* racy on purpose: only a hint */",
                "    char name[32];                /* set before the object is shared */",
                "};", ""]
    out += [f"static struct lk_mutex {mod}_registry_mutex = LK_MUTEX_INITIALIZER;",
            f"static void *{mod}_registry[{rng.choice((8, 16, 32))}] LK_GUARDED_BY({mod}_registry_mutex);",
            f"static unsigned long {mod}_registry_gen LK_GUARDED_BY({mod}_registry_mutex);",
            f"static struct lk_rwlock {mod}_config_rwlock = LK_RWLOCK_INITIALIZER;",
            f"static long {mod}_config_timeout LK_GUARDED_BY({mod}_config_rwlock) = "
            f"{rng.choice((100, 250, 1000, 5000))};",
            ""]
    # Prototypes: the contracts of functions defined further down.
    ctx.registry_bump = ctx.fresh_name(f"{mod}_registry_bump_locked")
    out.append(f"static void {ctx.registry_bump}(void *obj) LK_REQUIRES({mod}_registry_mutex);")
    ctx.pending.append(("registry_bump", None, ctx.registry_bump))
    for s in ctx.structs:
        v = s.var
        ctx.used_names.update({f"{s.name}_find", f"{s.name}_entry_free"})
        out.append(f"static struct {s.name}_entry *{s.name}_find(struct {s.name} *{v}, uint64_t key)"
                   f" LK_REQUIRES({v}->mutex);")
        helpers = [ctx.fresh_name(f"{s.name}_{verb}_locked") for verb in rng.sample(VERBS, rng.randint(2, 3))]
        ctx.helpers[s.name] = helpers
        for h in helpers:
            out.append(f"static void {h}(struct {s.name} *{v}, uint64_t key, long value) LK_REQUIRES({v}->mutex);")
            ctx.pending.append(("helper", s, h))
        api = [ctx.fresh_name(f"{s.name}_{verb}") for verb in rng.sample(VERBS, rng.randint(1, 2))]
        ctx.api[s.name] = api
        for a in api:
            out.append(f"int {a}(struct {s.name} *{v}, uint64_t key, long value) LK_EXCLUDES({v}->mutex);")
            ctx.pending.append(("api", s, a))
        for kind in ("init", "destroy"):
            name = ctx.fresh_name(f"{s.name}_{kind}")
            ctx.pending.append((kind, s, name))
    out.append("")
    for s in ctx.structs:
        v = s.var
        out += ["static struct {0}_entry *".format(s.name),
                f"{s.name}_find(struct {s.name} *{v}, uint64_t key)",
                "{",
                f"    struct {s.name}_entry *e = {v}->slots[key % {M}_MAX_SLOTS];",
                "",
                "    if (e && e->key == key)",
                "        return e;",
                f"    for (e = {v}->head; e; e = e->next)",
                "        if (e->key == key)",
                "            return e;",
                "    return NULL;",
                "}", "",
                "static void",
                f"{s.name}_entry_free(struct {s.name}_entry *e)",
                "{",
                "    if (!e)",
                "        return;",
                "    e->next = NULL;",
                "    free(e);",
                "}", ""]
        ctx.functions += 2
    return out


def ann_definition(ctx: AnnCtx, b: Body, name: str, ret_type: str, params: str, ret: str | None,
                   storage: str, doc: str | None = None, attrs: str | None = None) -> list[str]:
    """A function in the project's style: return type on its own line, locals first."""
    if ret is not None and ret_type != "void":
        b.line(f"return {ret};")
    out = [f"/* {name}: {doc} */"] if doc else []
    out += [f"{storage}{ret_type}", f"{name}({params})"]
    if attrs:
        out.append(f"    {attrs}")
    out.append("{")
    for decl in b.needs.values():
        out.append("    " + decl)
    if b.needs:
        out.append("")
    out += b.lines
    out.append("}")
    ctx.functions += 1
    return out


def ann_std_params(s: StructSpec, extra: str = "") -> str:
    return f"struct {s.name} *{s.var}, uint64_t key, long value{extra}"


# -- annotated lock-taking templates: (ctx, body, struct, var, fn, size) -> (ret type, extra params, ret)

def a_simple(ctx, b, s, v, fn, size):
    lock = ann_mutex(v)
    (u,) = units_for(size, 6, 1)
    b.line(lock.acquire() + ";")
    fill(ctx, b, s, v, max(1, u), fn)
    b.line(lock.release() + ";")
    return ("void", "", None)


def a_early_return(ctx, b, s, v, fn, size):
    lock = ann_mutex(v)
    u1, u2 = units_for(size, 16, 2)
    b.line(f"if (!{v} || value < 0)")
    b.line("    return -EINVAL;")
    b.blank()
    b.line(lock.acquire() + ";")
    for _ in range(ctx.rng.randint(1, 2)):
        b.open(f"if ({cond(ctx, v)})")
        fill(ctx, b, s, v, ctx.rng.randint(0, 1), fn)
        b.line(lock.release() + ";")
        b.line(f"return {ctx.rng.choice(ERRORS)};")
        b.close()
        fill(ctx, b, s, v, u1, fn)
        u1 = 0
    fill(ctx, b, s, v, max(1, u2), fn)
    b.line(lock.release() + ";")
    return ("int", "", "0")


def a_goto_ladder(ctx, b, s, v, fn, size):
    rng, mod = ctx.rng, ctx.mod
    outer = ann_mutex(v)
    inner = WrapLock(f"&{mod}_registry_mutex") if rng.random() < 0.5 else None
    u1, u2, u3 = units_for(size, 30 if inner else 22, 3)
    b.need("ne", f"struct {s.name}_entry *ne;")
    b.need("rc", "int rc;")
    b.line("ne = calloc(1, sizeof(*ne));")
    b.line("if (!ne)")
    b.line("    return -ENOMEM;")
    b.line("ne->key = key;")
    b.line("ne->value = value;")
    b.blank()
    b.line(outer.acquire() + ";")
    b.open(f"if ({cond(ctx, v)})")
    b.line(f"rc = {rng.choice(ERRORS)};")
    b.line("goto out_unlock;")
    b.close()
    fill(ctx, b, s, v, u1, fn)
    if inner:
        # The registry's mutex is always taken inside an object's, never around it.
        b.line(inner.acquire() + ";")
        b.open(f"if ({mod}_registry_gen == 0)")
        b.line(f"rc = {rng.choice(ERRORS)};")
        b.line("goto out_unlock_registry;")
        b.close()
        b.line(f"{ctx.registry_bump}({v});")
        fill(ctx, b, s, v, u2, fn)
    b.line(f"ne->next = {v}->head;")
    b.line(f"{v}->head = ne;")
    b.line("ne = NULL;        /* now owned by the list */")
    fill(ctx, b, s, v, u3, fn)
    b.line("rc = 0;")
    if inner:
        b.raw("out_unlock_registry:")
        b.line(inner.release() + ";")
    b.raw("out_unlock:")
    b.line(outer.release() + ";")
    b.line("free(ne);")
    return ("int", "", "rc")


def a_calls_locked(ctx, b, s, v, fn, size):
    rng = ctx.rng
    lock = ann_mutex(v)
    u1, u2 = units_for(size, 10, 2)
    helpers = rng.sample(ctx.helpers[s.name], rng.randint(1, 2))
    b.line(lock.acquire() + ";")
    fill(ctx, b, s, v, u1, fn)
    for h in helpers:
        b.line(f"{h}({v}, key, value);")
    fill(ctx, b, s, v, max(1, u2), fn)
    b.line(lock.release() + ";")
    return ("void", "", None)


def a_trylock(ctx, b, s, v, fn, size):
    lock = ann_mutex(v)
    (u,) = units_for(size, 12, 1)
    b.open(f"if (lk_mutex_trylock({lock.expr}))")
    b.line(f"{v}->contended++;   /* racy on purpose: only a hint */")
    b.line("return -EBUSY;")
    b.close()
    fill(ctx, b, s, v, max(1, u), fn)
    if ctx.rng.random() < 0.5:
        b.line(f"{ctx.rng.choice(ctx.helpers[s.name])}({v}, key, value);")
    b.line(lock.release() + ";")
    return ("int", "", "0")


def a_switch(ctx, b, s, v, fn, size):
    rng, M = ctx.rng, ctx.MOD
    lock = ann_mutex(v)
    u = units_for(size, 28, 3)
    b.need("rc", "int rc = 0;")
    b.line(lock.acquire() + ";")
    b.line("switch (op) {")
    b.line(f"case {M}_OP_GET:")
    b.depth += 1
    fill(ctx, b, s, v, u[0], fn)
    b.line("/* fall through */")
    b.depth -= 1
    b.line(f"case {M}_OP_PUT:")
    b.depth += 1
    fill(ctx, b, s, v, max(1, u[1]), fn)
    b.line("break;")
    b.depth -= 1
    b.line(f"case {M}_OP_FLUSH:")
    b.depth += 1
    b.open(f"if ({cond(ctx, v)})")
    b.line(f"rc = {rng.choice(ERRORS)};")
    b.line("break;")
    b.close()
    b.line(f"{rng.choice(ctx.helpers[s.name])}({v}, key, value);")
    fill(ctx, b, s, v, u[2], fn)
    b.line("break;")
    b.depth -= 1
    b.line(f"case {M}_OP_CLOSE:")
    b.depth += 1
    b.line(f"{v}->state = {M}_STATE_CLOSED;")
    b.line(lock.release() + ";")
    b.line("return 0;")
    b.depth -= 1
    b.line("default:")
    b.depth += 1
    b.line("rc = -EINVAL;")
    b.line("break;")
    b.depth -= 1
    b.line("}")
    b.line(lock.release() + ";")
    return ("int", ", int op", "rc")


def a_lock_in_loop(ctx, b, s, v, fn, size):
    M = ctx.MOD
    lock = ann_mutex(v)
    (u,) = units_for(size, 26, 1)
    b.need("e", f"struct {s.name}_entry *e;")
    b.need("n", "long n = 0;")
    b.open("while (n < value)")
    b.line(lock.acquire() + ";")
    b.open(f"if ({v}->state == {M}_STATE_CLOSED)")
    b.line(lock.release() + ";")
    b.line("break;")
    b.close()
    b.line(f"e = {v}->head;")
    b.open("if (!e || e->refs > 0)")
    b.line(lock.release() + ";")
    b.line("if (e)")
    b.line("    continue;  /* busy: retry */")
    b.line("break;")
    b.close()
    b.line(f"{v}->head = e->next;")
    b.line(f"{v}->count--;")
    fill(ctx, b, s, v, u, fn)
    b.line(lock.release() + ";")
    b.line(f"{s.name}_entry_free(e);   /* outside the lock: may block */")
    b.line("n++;")
    b.close()
    return ("long", "", "n")


def _tunables(ctx: AnnCtx, s: StructSpec, v: str) -> tuple[WrapLock, WrapLock, str, str]:
    """(read lock, write lock, timeout, generation) of the object's tunables, or of the file's."""
    if ann_has_rw(s):
        expr, timeout, gen = f"&{v}->rwlock", f"{v}->timeout", f"{v}->tunables_gen"
    else:
        expr, timeout, gen = f"&{ctx.mod}_config_rwlock", f"{ctx.mod}_config_timeout", None
    return (WrapLock(expr, "lk_rwlock_rdlock({})", "lk_rwlock_unlock({})"),
            WrapLock(expr, "lk_rwlock_wrlock({})", "lk_rwlock_unlock({})"), timeout, gen)


def a_reader(ctx, b, s, v, fn, size):
    rd, _, timeout, _ = _tunables(ctx, s, v)
    lock = ann_mutex(v)
    (u,) = units_for(size, 14, 1)
    b.need("timeout", "long timeout;")
    b.line(rd.acquire() + ";")
    b.line(f"timeout = {timeout};")
    b.line(rd.release() + ";")
    b.line("if (timeout <= 0)")
    b.line("    return 0;")
    b.blank()
    b.line(lock.acquire() + ";")
    fill(ctx, b, s, v, max(1, u), fn)
    b.line(lock.release() + ";")
    return ("long", "", "timeout")


def a_writer(ctx, b, s, v, fn, size):
    _, wr, timeout, gen = _tunables(ctx, s, v)
    b.line("if (value <= 0)")
    b.line("    return -EINVAL;")
    b.line(wr.acquire() + ";")
    b.open(f"if ({timeout} == value)")
    b.line(wr.release() + ";")
    b.line("return 0;")
    b.close()
    b.line(f"{timeout} = value;")
    if gen:
        b.line(f"{gen}++;")
    b.line(wr.release() + ";")
    b.line(f'log_event("{fn}: timeout=%ld", value);')
    return ("int", "", "1")


def a_cond_wait(ctx, b, s, v, fn, size):
    M = ctx.MOD
    lock = ann_mutex(v)
    (u,) = units_for(size, 20, 1)
    b.need("e", f"struct {s.name}_entry *e;")
    b.line(lock.acquire() + ";")
    b.line(f"while (!{v}->head && {v}->state != {M}_STATE_CLOSED)")
    b.line(f"    lk_cond_wait(&{v}->cond, {lock.expr});")
    b.open(f"if (!{v}->head)")
    b.line(lock.release() + ";")
    b.line("return -EPIPE;")
    b.close()
    b.line(f"e = {v}->head;")
    b.line(f"{v}->head = e->next;")
    b.line(f"{v}->count--;")
    fill(ctx, b, s, v, u, fn)
    b.line(f"pthread_cond_signal(&{v}->cond);")
    b.line(lock.release() + ";")
    b.line("value = e->value;")
    b.line(f"{s.name}_entry_free(e);")
    return ("long", "", "value")


def a_global(ctx, b, s, v, fn, size):
    mod = ctx.mod
    g = WrapLock(f"&{mod}_registry_mutex")
    b.need("i", "size_t i;")
    b.line(g.acquire() + ";")
    b.open(f"for (i = 0; i < ARRAY_SIZE({mod}_registry); i++)")
    b.line(f"if ({mod}_registry[i])")
    b.line("    continue;")
    b.line(f"{mod}_registry[i] = {v};")
    b.line(f"{ctx.registry_bump}({v});")
    b.line(g.release() + ";")
    b.line("return (int)i;")
    b.close()
    b.line(g.release() + ";")
    return ("int", "", "-ENOSPC")


def a_api_caller(ctx, b, s, v, fn, size):
    rng = ctx.rng
    lock = ann_mutex(v)
    (u,) = units_for(size, 12, 1)
    b.need("rc", "int rc;")
    b.line(f"rc = {rng.choice(ctx.api[s.name])}({v}, key, value);")
    b.line("if (rc < 0)")
    b.line("    return rc;")
    b.blank()
    b.line(lock.acquire() + ";")
    fill(ctx, b, s, v, max(1, u), fn)
    b.line(lock.release() + ";")
    return ("int", "", "rc")


def a_do_while(ctx, b, s, v, fn, size):
    lock = ann_mutex(v)
    u1, u2 = units_for(size, 18, 2)
    b.need("rc", "int rc = 0;")
    b.line(lock.acquire() + ";")
    b.open("do")
    b.open(f"if ({cond(ctx, v)})")
    b.line(f"rc = {ctx.rng.choice(ERRORS)};")
    b.line("break;")
    b.close()
    fill(ctx, b, s, v, max(1, u1), fn)
    b.line(f"if ({cond(ctx, v)})")
    b.line("    break;")
    fill(ctx, b, s, v, u2, fn)
    b.close(" while (0);")
    b.line(lock.release() + ";")
    return ("int", "", "rc")


# -- annotated buggy templates (one expected finding each, marked on its line) ---------------

def ab_leak_early_return(ctx, b, s, v, fn, size):
    lock = ann_mutex(v)
    (u,) = units_for(size, 10, 1)
    b.line(lock.acquire() + ";")
    b.line(f"if ({cond(ctx, v)})")
    b.line(f"    return {ctx.rng.choice(ERRORS)}; /* BUG: lock-leak */")
    fill(ctx, b, s, v, max(1, u), fn)
    b.line(lock.release() + ";")
    return ("int", "", "0"), "lock-leak"


def ab_leak_goto(ctx, b, s, v, fn, size):
    lock = ann_mutex(v)
    (u,) = units_for(size, 14, 1)
    b.need("rc", "int rc = 0;")
    b.line(lock.acquire() + ";")
    b.open(f"if ({cond(ctx, v)})")
    b.line(f"rc = {ctx.rng.choice(ERRORS)};")
    b.line("goto out;")
    b.close()
    fill(ctx, b, s, v, max(1, u), fn)
    b.line(lock.release() + ";")
    b.raw("out:")
    b.line("return rc; /* BUG: lock-leak */")
    return ("int", "", None), "lock-leak"


def ab_unguarded_after(ctx, b, s, v, fn, size):
    rng, M = ctx.rng, ctx.MOD
    lock = ann_mutex(v)
    (u,) = units_for(size, 8, 1)
    b.line(lock.acquire() + ";")
    fill(ctx, b, s, v, max(1, u), fn)
    b.line(lock.release() + ";")
    b.line(rng.choice((f"{v}->generation++; /* BUG: unguarded-access */",
                       f"{v}->flags |= {M}_FLAG_DIRTY; /* BUG: unguarded-access */",
                       f"{v}->bytes += value; /* BUG: unguarded-access */")))
    return ("void", "", None), "unguarded-access"


def ab_unguarded_before(ctx, b, s, v, fn, size):
    M = ctx.MOD
    lock = ann_mutex(v)
    (u,) = units_for(size, 10, 1)
    b.line(f"if ({v}->state == {M}_STATE_CLOSED) /* BUG: unguarded-access */")
    b.line("    return -EPIPE;")
    b.line(lock.acquire() + ";")
    fill(ctx, b, s, v, max(1, u), fn)
    b.line(lock.release() + ";")
    return ("int", "", "0"), "unguarded-access"


def ab_unguarded_global(ctx, b, s, v, fn, size):
    mod = ctx.mod
    g = WrapLock(f"&{mod}_registry_mutex")
    b.need("i", "size_t i;")
    b.line(g.acquire() + ";")
    b.open(f"for (i = 0; i < ARRAY_SIZE({mod}_registry); i++)")
    b.open(f"if ({mod}_registry[i] == {v})")
    b.line(f"{mod}_registry[i] = NULL;")
    b.line("break;")
    b.close()
    b.close()
    b.line(g.release() + ";")
    b.line(f"{mod}_registry_gen++; /* BUG: unguarded-access */")
    return ("void", "", None), "unguarded-access"


def ab_missing_required(ctx, b, s, v, fn, size):
    lock = ann_mutex(v)
    (u,) = units_for(size, 8, 1)
    b.line(lock.acquire() + ";")
    fill(ctx, b, s, v, max(1, u), fn)
    b.line(lock.release() + ";")
    b.line(f"{ctx.rng.choice(ctx.helpers[s.name])}({v}, key, value); /* BUG: missing-required-lock */")
    return ("void", "", None), "missing-required-lock"


def ab_excluded_held(ctx, b, s, v, fn, size):
    lock = ann_mutex(v)
    u1, u2 = units_for(size, 10, 2)
    b.need("rc", "int rc;")
    b.line(lock.acquire() + ";")
    fill(ctx, b, s, v, max(1, u1), fn)
    b.line(f"rc = {ctx.rng.choice(ctx.api[s.name])}({v}, key, value); /* BUG: excluded-lock-held */")
    fill(ctx, b, s, v, u2, fn)
    b.line(lock.release() + ";")
    return ("int", "", "rc"), "excluded-lock-held"


ANN_TEMPLATES = (
    (a_simple, 8), (a_early_return, 12), (a_goto_ladder, 8), (a_calls_locked, 10), (a_trylock, 5),
    (a_switch, 6), (a_lock_in_loop, 5), (a_reader, 6), (a_writer, 4), (a_cond_wait, 4),
    (a_global, 4), (a_api_caller, 5), (a_do_while, 4),
)
ANN_BUG_TEMPLATES = (  # used in turn: the rules alternate
    ab_leak_early_return, ab_unguarded_global, ab_missing_required, ab_excluded_held,
    ab_unguarded_after, ab_leak_goto, ab_unguarded_before,
)


def ann_lock_function(ctx: AnnCtx, s: StructSpec, size: int) -> list[str]:
    rng = ctx.rng
    if rng.random() < ANN_BUG_RATE:
        # In turn, from a random start: a file with a few bugs has every kind.
        template = ANN_BUG_TEMPLATES[(ctx.bug_start + sum(ctx.bugs.values())) % len(ANN_BUG_TEMPLATES)]
    else:
        usable = [(t, w) for t, w in ANN_TEMPLATES if t is not a_cond_wait or s.cond_for]
        template = rng.choices([t for t, _ in usable], [w for _, w in usable])[0]
    name = ctx.fresh_name(f"{s.name}_{rng.choice(VERBS)}")
    b = Body()
    result = template(ctx, b, s, s.var, name, size)
    if isinstance(result[0], tuple):
        result, rule = result
        ctx.bugs[rule] += 1
    ret_type, extra, ret = result
    doc = rng.choice(DOC_PHRASES) if rng.random() < 0.4 else None
    storage = "static " if rng.random() < 0.6 else ""
    return ann_definition(ctx, b, name, ret_type, ann_std_params(s, extra), ret, storage, doc)


def ann_hint_function(ctx: AnnCtx, s: StructSpec) -> list[str]:
    """A racy reader of guarded data, exempt from the analysis (statistics, debugging)."""
    rng, M, v = ctx.rng, ctx.MOD, s.var
    name = ctx.fresh_name(f"{s.name}_{rng.choice(('load', 'pressure', 'usage', 'age'))}_hint")
    b = Body()
    b.need("n", f"unsigned long n = {v}->count;")
    for field_, op in rng.sample((("generation", "^"), ("bytes", "+"), ("limit", "-")), rng.randint(1, 3)):
        b.line(f"n = n {op} (unsigned long){v}->{field_};")
    b.line(f"if ({v}->flags & {M}_FLAG_FULL)")
    b.line("    n *= 2;")
    return ann_definition(ctx, b, name, "unsigned long", f"const struct {s.name} *{v}", "n", "static ",
                          "racy snapshot for statistics; a torn value is harmless",
                          "LK_NO_THREAD_SAFETY_ANALYSIS")


def ann_pending_function(ctx: AnnCtx, kind: str, s: StructSpec | None, name: str) -> list[str]:
    """The definition of a function the prototypes promised."""
    rng, M, mod = ctx.rng, ctx.MOD, ctx.mod
    b = Body()
    if kind == "registry_bump":
        b.line(f"{mod}_registry_gen++;")
        b.line("if (!obj)")
        b.line(f'    log_event("{name}: gen=%lu", {mod}_registry_gen);')
        return ann_definition(ctx, b, name, "void", "void *obj", None, "static ")
    v = s.var
    if kind == "helper":
        fill(ctx, b, s, v, rng.randint(4, 12), name)
        return ann_definition(ctx, b, name, "void", ann_std_params(s), None, "static ")
    if kind == "api":
        t = rng.choice((a_early_return, a_calls_locked, a_simple))
        ret_type, _, ret = t(ctx, b, s, v, name, rng.randint(12, 30))
        if ret_type == "void":
            ret = "0"
        return ann_definition(ctx, b, name, "int", ann_std_params(s), ret, "", rng.choice(DOC_PHRASES))
    if kind == "init":
        b.line(f"lk_mutex_init(&{v}->mutex);")
        if s.cond_for:
            b.line(f"pthread_cond_init(&{v}->cond, NULL);")
        if ann_has_rw(s):
            b.line(f"lk_rwlock_init(&{v}->rwlock);")
            b.line(f"{v}->timeout = {rng.choice((100, 250, 1000))};")
            b.line(f"{v}->tunables_gen = 0;")
        b.line(f"{v}->head = NULL;")
        b.line(f"memset({v}->slots, 0, sizeof({v}->slots));")
        b.line(f"{v}->count = 0;")
        b.line(f"{v}->limit = {rng.choice((64, 256, 1024))};")
        b.line(f"{v}->generation = 1;")
        b.line(f"{v}->flags = 0;")
        b.line(f"{v}->state = {M}_STATE_IDLE;")
        b.line(f"{v}->bytes = 0;")
        b.line(f"{v}->contended = 0;")
        b.line(f"{v}->last_update = now_ms();")
        b.line(f'snprintf({v}->name, sizeof({v}->name), "%s", name);')
        return ann_definition(ctx, b, name, "void", f"struct {s.name} *{v}, const char *name", None, "",
                              "the object is not shared yet: no lock needed")
    # destroy
    b.need("e", f"struct {s.name}_entry *e;")
    b.need("next", f"struct {s.name}_entry *next;")
    b.open(f"for (e = {v}->head; e; e = next)")
    b.line("next = e->next;")
    b.line(f"{s.name}_entry_free(e);")
    b.close()
    b.line(f"{v}->head = NULL;")
    b.line(f"{v}->count = 0;")
    if s.cond_for:
        b.line(f"pthread_cond_destroy(&{v}->cond);")
    b.line(f"lk_mutex_destroy(&{v}->mutex);")
    return ann_definition(ctx, b, name, "void", f"struct {s.name} *{v}", None, "",
                          "the last reference is gone: no lock needed")


def ann_plain_function(ctx: AnnCtx, s: StructSpec, size: int) -> list[str]:
    out = plain_function(ctx, s, size)
    # A helper that reads the object's guarded fields says which lock it needs.
    head = f"(const struct {s.name} *{s.var},"
    for i, line in enumerate(out):
        if head in line and line.endswith(")"):
            out[i] = f"{line} LK_REQUIRES({s.var}->mutex)"
            break
    return out


def generate_annotated_file(seed: object, index: int, target_lines: int) -> tuple[str, FileCtx]:
    rng = random.Random(f"lockls-bench:annotated:{seed}:{index}")
    noun = MODULE_NOUNS[index % len(MODULE_NOUNS)]
    mod = noun if index < len(MODULE_NOUNS) else f"{noun}{index // len(MODULE_NOUNS)}"
    nstructs = max(2, min(12, target_lines // 1200 + rng.randint(0, 1)))
    structs = ann_make_structs(rng, mod, nstructs)
    ctx = AnnCtx(rng=rng, mod=mod, MOD=mod.upper(), structs=structs,
                 global_lock=Lock("mutex", f"&{mod}_registry_mutex"),
                 global_rw=Lock("rwlock", f"&{mod}_config_rwlock"),
                 bug_start=rng.randrange(len(ANN_BUG_TEMPLATES)))
    lines = ann_prelude(ctx, f"{mod}.c")
    while True:
        remaining = target_lines - len(lines)
        if ctx.pending and (remaining < 16 * len(ctx.pending) + 40 or rng.random() < 0.1):
            fn = ann_pending_function(ctx, *ctx.pending.pop(rng.randrange(len(ctx.pending))))
        elif remaining < 14:
            break
        else:
            size = min(remaining - 2, int(rng.triangular(10, 80, 24)))
            s = rng.choice(structs)
            r = rng.random()
            if r < 0.05:
                fn = ann_hint_function(ctx, s)
            elif r < 0.30:
                fn = ann_plain_function(ctx, s, size)
            else:
                fn = ann_lock_function(ctx, s, size)
        lines += fn
        lines.append("")
    return "\n".join(lines) + "\n", ctx


# == profile "kernel": Linux-kernel style =================================================
#
# A driver-like module: structs with `struct mutex`, `spinlock_t` (and sometimes an
# `rw_semaphore` or a second spinlock for statistics), an RCU-protected
# configuration pointer and a list of entries; `spin_lock_irqsave`/`_irqrestore`,
# `spin_lock_bh`, `spin_lock_irq`, `mutex_lock`, `mutex_lock_interruptible`,
# `spin_trylock`, the cleanup guards `guard(mutex)(&d->mutex);` and
# `scoped_guard(spinlock, &d->lock) { ... }`, RCU readers (`rcu_read_lock()`,
# `rcu_dereference`, `list_for_each_entry_rcu`) and updaters (`rcu_assign_pointer`,
# `synchronize_rcu()` after the unlock), `goto out_unlock` cleanup ladders,
# `__must_hold(&d->lock)` helpers and an `__acquires`/`__releases` pair per struct,
# `might_sleep()`, `msleep()` and `kzalloc(..., GFP_KERNEL)` outside spinlocks. Lock
# order is fixed (a global mutex, then a struct's mutex, its semaphore, its lock,
# its stats lock, then the global id spinlock), so the lock graph has no cycle.
# About 15 deliberate bugs per 10,000 lines: sleeping under a spinlock or in an
# RCU read-side section, a leak on an error path, a double unlock.

K_RESERVED = RESERVED | frozenset(("ret", "err", "tmp", "cfg", "old", "new", "id", "dev", "pos", "next", "jiffies"))
K_BUG_RATE = 0.09  # of locking functions

# A corpus of this profile says which preset it is written for, as a kernel tree would.
KERNEL_CONFIG = """\
# lockls configuration of the generated kernel-style corpus (bench/generate.py).
presets = ["linux"]
"""


class KBody(Body):
    INDENT = "\t"


@dataclass
class KLock:
    """A kernel lock with the call pair that takes and drops it ({} is the lock, {f} the flags)."""

    expr: str
    acq: str
    rel: str
    spinning: bool

    def acquire(self) -> str:
        return self.acq.format(self.expr, f="flags")

    def release(self) -> str:
        return self.rel.format(self.expr, f="flags")


def k_spin(expr: str, variant: str = "") -> KLock:
    if variant == "irqsave":
        return KLock(expr, "spin_lock_irqsave({}, {f})", "spin_unlock_irqrestore({}, {f})", True)
    return KLock(expr, f"spin_lock{variant}({{}})", f"spin_unlock{variant}({{}})", True)


def k_mutex(expr: str) -> KLock:
    return KLock(expr, "mutex_lock({})", "mutex_unlock({})", False)


@dataclass
class KCtx(FileCtx):
    helpers: dict = field(default_factory=dict)  # struct name -> __must_hold(&d->lock) helpers
    pairs: dict = field(default_factory=dict)  # struct name -> (lock fn, unlock fn)
    bug_start: int = 0  # the buggy templates are used in turn, from this one


def k_has(s: StructSpec, name: str) -> bool:
    return any(lf.name == name for lf in s.locks)


def k_make_structs(rng: random.Random, mod: str, count: int) -> list[StructSpec]:
    structs = []
    nouns = rng.sample(STRUCT_NOUNS, min(count, len(STRUCT_NOUNS)))
    while len(nouns) < count:
        nouns.append(f"{rng.choice(STRUCT_NOUNS)}{len(nouns)}")
    for noun in nouns:
        name = f"{mod}_{noun}"
        var = "".join(w[0] for w in name.split("_"))
        if var in K_RESERVED:
            var += "x"
        locks = [LockField("mutex", "mutex")]
        if rng.random() < 0.3:
            locks.append(LockField("sem", "rw_semaphore"))
        locks.append(LockField("lock", "spinlock"))
        if rng.random() < 0.5:
            locks.append(LockField("stats_lock", "spinlock"))
        structs.append(StructSpec(name, var, locks, None))
    return structs


def k_tabs(lines: list[str]) -> list[str]:
    """Four-space indentation to the kernel's tabs."""
    out = []
    for line in lines:
        stripped = line.lstrip(" ")
        out.append("\t" * ((len(line) - len(stripped)) // 4) + " " * ((len(line) - len(stripped)) % 4) + stripped)
    return out


def k_prelude(ctx: KCtx, title: str) -> list[str]:
    M, mod, rng = ctx.MOD, ctx.mod, ctx.rng
    out = [
        "// SPDX-License-Identifier: GPL-2.0",
        "/*",
        f" * {title} - {mod} driver core (generated by bench/generate.py, profile \"kernel\").",
        " *",
        " * Lock-heavy C in the Linux kernel's style. Realistic in shape, meaningless",
        " * in content. Lines ending in a BUG comment are deliberate bugs.",
        " *",
        " * Locking: a global mutex, then an object's mutex, its semaphore, its lock,",
        " * its stats lock, then the global id lock; never the other way round.",
        " */",
        "",
        "#define pr_fmt(fmt) KBUILD_MODNAME \": \" fmt",
        "",
        "#include <linux/cleanup.h>",
        "#include <linux/delay.h>",
        "#include <linux/device.h>",
        "#include <linux/errno.h>",
        "#include <linux/list.h>",
        "#include <linux/module.h>",
        "#include <linux/mutex.h>",
        "#include <linux/rcupdate.h>",
        "#include <linux/rwsem.h>",
        "#include <linux/slab.h>",
        "#include <linux/spinlock.h>",
        "#include <linux/uaccess.h>",
        "#include <linux/wait.h>",
        "",
        f"#define {M}_MAX_SLOTS\t{rng.choice((16, 32, 64, 128))}",
        f"#define {M}_MAX_BYTES\t({rng.choice((1, 4, 16, 64))}UL << 20)",
        f"#define {M}_FLAG_DIRTY\tBIT(0)",
        f"#define {M}_FLAG_BUSY\tBIT(1)",
        f"#define {M}_FLAG_FULL\tBIT(2)",
        f"#define {M}_FLAG_FROZEN\tBIT(3)",
        f"#define {M}_FLAG_NOLOCK\tBIT(4)",
        f"#define {M}_ENTRY_STALE\tBIT(8)",
        f"#define {M}_IS_FULL(v)\t((v)->limit != 0 && (v)->count >= (v)->limit)",
        "",
        f"enum {mod}_lifecycle {{",
        f"\t{M}_STATE_IDLE,",
        f"\t{M}_STATE_RUNNING,",
        f"\t{M}_STATE_CLOSED,",
        "};",
        "",
        f"enum {mod}_opcode {{",
        f"\t{M}_OP_GET,",
        f"\t{M}_OP_PUT,",
        f"\t{M}_OP_FLUSH,",
        f"\t{M}_OP_CLOSE,",
        "};",
        "",
        f"struct {mod}_config {{",
        "\tu32 timeout_ms;",
        "\tu32 max_bytes;",
        "\tstruct rcu_head rcu;",
        "};",
        "",
    ]
    for s in ctx.structs:
        out += [f"struct {s.name}_entry {{",
                "\tstruct list_head node;",
                "\tu64 key;",
                "\tlong value;",
                "\tint refs;",
                "\tunsigned int state;",
                "};", "",
                f"struct {s.name} {{",
                "\tstruct device *dev;",
                "\tstruct mutex mutex;\t\t/* serialises reconfiguration */"]
        if k_has(s, "sem"):
            out.append("\tstruct rw_semaphore sem;\t/* held across slow lookups */")
        out.append("\tspinlock_t lock;\t\t/* protects the entries and the counters */")
        if k_has(s, "stats_lock"):
            out.append("\tspinlock_t stats_lock;\t\t/* protects the statistics, taken from softirq */")
        out += ["\tstruct list_head entries;",
                f"\tstruct list_head link;\t\t/* on {mod}_devices, under {mod}_list_mutex */",
                f"\tstruct {s.name}_entry *slots[{M}_MAX_SLOTS];",
                f"\tstruct {mod}_config __rcu *cfg;",
                "\twait_queue_head_t wq;",
                "\tsize_t count;",
                "\tsize_t limit;",
                "\tunsigned long generation;",
                "\tunsigned long flags;",
                "\tunsigned long last_update;",
                "\tint state;",
                "\tu64 bytes;",
                "\tu64 rx_packets;",
                "\tu64 tx_packets;",
                "\tu64 drops;",
                "\tchar name[32];",
                "};", ""]
    out += [f"static DEFINE_MUTEX({mod}_list_mutex);",
            f"static LIST_HEAD({mod}_devices);",
            f"static DEFINE_SPINLOCK({mod}_id_lock);",
            f"static unsigned int {mod}_next_id;",
            ""]
    for s in ctx.structs:
        v = s.var
        ctx.used_names.update({f"{s.name}_find"})
        out += [f"static struct {s.name}_entry *{s.name}_find(struct {s.name} *{v}, u64 key)",
                "{",
                f"\tstruct {s.name}_entry *e = {v}->slots[key % {M}_MAX_SLOTS];",
                "",
                "\tif (e && e->key == key)",
                "\t\treturn e;",
                f"\tlist_for_each_entry(e, &{v}->entries, node) {{",
                "\t\tif (e->key == key)",
                "\t\t\treturn e;",
                "\t}",
                "\treturn NULL;",
                "}", ""]
        ctx.functions += 1
        lock_fn = ctx.fresh_name(f"{s.name}_lock")
        unlock_fn = ctx.fresh_name(f"{s.name}_unlock")
        ctx.pairs[s.name] = (lock_fn, unlock_fn)
        out += [f"static void {lock_fn}(struct {s.name} *{v})",
                f"\t__acquires(&{v}->lock)",
                "{",
                f"\tspin_lock(&{v}->lock);",
                "}", "",
                f"static void {unlock_fn}(struct {s.name} *{v})",
                f"\t__releases(&{v}->lock)",
                "{",
                f"\tspin_unlock(&{v}->lock);",
                "}", ""]
        ctx.functions += 2
        helpers = []
        for verb in rng.sample(VERBS, rng.randint(1, 2)):
            h = ctx.fresh_name(f"{s.name}_{verb}_locked")
            helpers.append(h)
            b = KBody()
            b.line(f"lockdep_assert_held(&{v}->lock);")
            b.blank()
            kfill(ctx, b, s, v, rng.randint(3, 8), h)
            out += k_definition(ctx, b, h, "void", k_std_params(s), None, "static ",
                                attrs=f"__must_hold(&{v}->lock)")
            out.append("")
        ctx.helpers[s.name] = helpers
    return out


def k_definition(ctx: KCtx, b: Body, name: str, ret_type: str, params: str, ret: str | None,
                 storage: str, doc: str | None = None, attrs: str | None = None) -> list[str]:
    if ret is not None and ret_type != "void":
        b.line(f"return {ret};")
    out = [f"/* {doc} */"] if doc else []
    out.append(f"{storage}{ret_type} {name}({params})")
    if attrs:
        out.append(f"\t{attrs}")
    out.append("{")
    for decl in b.needs.values():
        out.append("\t" + decl)
    if b.needs:
        out.append("")
    out += b.lines
    out.append("}")
    ctx.functions += 1
    return out


def k_std_params(s: StructSpec, extra: str = "") -> str:
    return f"struct {s.name} *{s.var}, u64 key, long value{extra}"


def kfill(ctx: KCtx, b: Body, s: StructSpec, v: str, lines: int, fn: str) -> None:
    """About `lines` lines of statements that take no lock and never sleep."""
    rng, M = ctx.rng, ctx.MOD
    last = -1
    start = len(b)
    n = 21
    while len(b) - start < lines:
        if rng.random() < 0.05:
            b.line(f"/* {rng.choice(COMMENTS)} */")
        pick = rng.randrange(n)
        if pick == last:
            pick = (pick + 1 + rng.randrange(n - 1)) % n
        last = pick
        if pick == 0:
            b.line(f"{v}->count++;")
        elif pick == 1:
            b.line(f"{v}->generation++;")
        elif pick == 2:
            b.line(f"{v}->bytes += value;")
        elif pick == 3:
            b.line(f"{v}->flags |= {M}_FLAG_DIRTY;")
        elif pick == 4:
            b.line(f"{v}->flags &= ~{M}_FLAG_BUSY;")
        elif pick == 5:
            b.line(f"{v}->state = {M}_STATE_RUNNING;")
        elif pick == 6:
            b.line(f'pr_debug("%s: %s key=%llu\\n", __func__, {v}->name, key);')
        elif pick == 7:
            b.line(f"{v}->{rng.choice(('rx_packets', 'tx_packets'))}++;")
        elif pick == 8:
            b.line(f"if ({v}->count > {v}->limit)")
            b.line(f"\t{v}->flags |= {M}_FLAG_FULL;")
        elif pick == 9:
            b.need("hit", f"struct {s.name}_entry *hit;")
            b.line(f"hit = {s.name}_find({v}, key);")
            b.open("if (hit)")
            b.line("hit->value += value;")
            b.line("hit->refs++;")
            b.close()
        elif pick == 10:
            b.need("i", "unsigned int i;")
            b.open(f"for (i = 0; i < ARRAY_SIZE({v}->slots); i++)")
            b.line(f"if (!{v}->slots[i])")
            b.line("\tcontinue;")
            b.line(f"{v}->slots[i]->state |= {M}_ENTRY_STALE;")
            b.close()
        elif pick == 11:
            b.line(f"{v}->limit = min_t(size_t, {v}->limit, value + 1);")
        elif pick == 12:
            b.line(f"WRITE_ONCE({v}->last_update, jiffies);")
        elif pick == 13:
            b.line(f'dev_dbg({v}->dev, "%s: count=%zu\\n", __func__, {v}->count);')
        elif pick == 14:
            b.raw(f"#ifdef CONFIG_{M}_DEBUG")
            b.line(f'pr_info("%s: state=%d flags=%#lx\\n", __func__, {v}->state, {v}->flags);')
            b.raw("#endif")
        elif pick == 15:
            b.line(f"{v}->slots[key % {M}_MAX_SLOTS] = NULL;")
        elif pick == 16:
            b.open(f"if (value > 0 && (size_t)value > {v}->limit)")
            b.line(f"{v}->limit = value;")
            b.line(f"{v}->generation++;")
            b.close()
        elif pick == 17:
            b.line(f"switch ({v}->state) {{")
            b.line(f"case {M}_STATE_IDLE:")
            b.line(f"\t{v}->state = {M}_STATE_RUNNING;")
            b.line("\tbreak;")
            b.line(f"case {M}_STATE_RUNNING:")
            b.line("\tbreak;")
            b.line("default:")
            b.line(f"\t{v}->flags |= {M}_FLAG_FROZEN;")
            b.line("\tbreak;")
            b.line("}")
        elif pick == 18:
            b.need("it", f"struct {s.name}_entry *it;")
            b.open(f"list_for_each_entry(it, &{v}->entries, node)")
            b.line("if (!it->refs)")
            b.line("\tcontinue;")
            b.line(f"it->state &= ~{M}_ENTRY_STALE;")
            b.close()
        elif pick == 19:
            b.line(f"if (unlikely({v}->state == {M}_STATE_CLOSED))")
            b.line(f"\t{v}->drops++;")
        else:
            b.line(f"{v}->bytes -= {v}->bytes >> 4;")


def kcond(ctx: KCtx, v: str) -> str:
    M = ctx.MOD
    return ctx.rng.choice((
        f"list_empty(&{v}->entries)",
        f"{v}->count >= {v}->limit",
        f"{M}_IS_FULL({v})",
        f"{v}->state == {M}_STATE_CLOSED",
        f"test_bit({ctx.rng.randint(0, 4)}, &{v}->flags)",
        f"unlikely({v}->generation == 0)",
        "value < 0",
        "!key",
        f"{v}->bytes + value > {M}_MAX_BYTES",
        f"{v}->slots[key % {M}_MAX_SLOTS]",
    ))


KERRORS = ("-EINVAL", "-ENOENT", "-EBUSY", "-ENOSPC", "-EAGAIN", "-EIO", "-EEXIST", "-EPERM",
           "-ERANGE", "-ENODEV", "-ESHUTDOWN", "-ETIMEDOUT")


def k_spin_lock(ctx: KCtx, s: StructSpec, v: str) -> KLock:
    return k_spin(f"&{v}->lock", ctx.rng.choice(("", "", "_irq", "_bh", "irqsave")))


# -- kernel lock-taking templates: (ctx, body, struct, var, fn, size) -> (ret type, extra, ret)

def k_t_irqsave(ctx, b, s, v, fn, size):
    lock = k_spin(f"&{v}->lock", "irqsave")
    u1, u2 = units_for(size, 14, 2)
    b.need("flags", "unsigned long flags;")
    b.line(lock.acquire() + ";")
    b.open(f"if ({kcond(ctx, v)})")
    b.line(lock.release() + ";")
    b.line(f"return {ctx.rng.choice(KERRORS)};")
    b.close()
    kfill(ctx, b, s, v, u1, fn)
    if ctx.rng.random() < 0.4:
        b.line(f"{ctx.rng.choice(ctx.helpers[s.name])}({v}, key, value);")
    kfill(ctx, b, s, v, max(1, u2), fn)
    b.line(lock.release() + ";")
    return ("int", "", "0")


def k_t_spin(ctx, b, s, v, fn, size):
    lock = k_spin_lock(ctx, s, v)
    (u,) = units_for(size, 6, 1)
    if "irqsave" in lock.acq:
        b.need("flags", "unsigned long flags;")
    b.line(lock.acquire() + ";")
    kfill(ctx, b, s, v, max(1, u), fn)
    b.line(lock.release() + ";")
    return ("void", "", None)


def k_t_bh(ctx, b, s, v, fn, size):
    name = "stats_lock" if k_has(s, "stats_lock") else "lock"
    lock = k_spin(f"&{v}->{name}", "_bh")
    b.line(lock.acquire() + ";")
    b.line(f"{v}->rx_packets++;")
    b.line(f"{v}->bytes += value;")
    b.line("if (value < 0)")
    b.line(f"\t{v}->drops++;")
    b.line(lock.release() + ";")
    return ("void", "", None)


def k_t_mutex_goto(ctx, b, s, v, fn, size):
    rng = ctx.rng
    outer = k_mutex(f"&{v}->mutex")
    inner = k_spin(f"&{v}->lock", rng.choice(("", "_irq", "_bh"))) if rng.random() < 0.6 else None
    u1, u2 = units_for(size, 30 if inner else 24, 2)
    ent = f"struct {s.name}_entry"
    b.need("e", f"{ent} *e;")
    b.need("ret", "int ret;")
    b.line("might_sleep();")
    b.line("e = kzalloc(sizeof(*e), GFP_KERNEL);")
    b.line("if (!e)")
    b.line("\treturn -ENOMEM;")
    b.line("e->key = key;")
    b.line("e->value = value;")
    b.blank()
    b.line(outer.acquire() + ";")
    b.open(f"if ({kcond(ctx, v)})")
    b.line(f"ret = {rng.choice(KERRORS)};")
    b.line("goto out_unlock;")
    b.close()
    kfill(ctx, b, s, v, u1, fn)
    if rng.random() < 0.5:
        b.line("usleep_range(50, 100);\t/* let the hardware settle */")
    if inner:
        b.line(inner.acquire() + ";")
        b.open(f"if ({kcond(ctx, v)})")
        b.line(inner.release() + ";")
        b.line(f"ret = {rng.choice(KERRORS)};")
        b.line("goto out_unlock;")
        b.close()
        b.line(f"list_add_tail(&e->node, &{v}->entries);")
        b.line(f"{v}->count++;")
        kfill(ctx, b, s, v, u2, fn)
        b.line(inner.release() + ";")
    else:
        b.line(f"list_add_tail(&e->node, &{v}->entries);")
        b.line(f"{v}->count++;")
        kfill(ctx, b, s, v, u2, fn)
    b.line("e = NULL;\t/* now owned by the list */")
    b.line("ret = 0;")
    b.raw("out_unlock:")
    b.line(outer.release() + ";")
    b.line("kfree(e);")
    return ("int", "", "ret")


def k_t_guard_mutex(ctx, b, s, v, fn, size):
    u1, u2 = units_for(size, 12, 2)
    if ctx.rng.random() < 0.3:
        # Interruptible: the block runs only when the lock was taken.
        b.open(f"scoped_cond_guard(mutex_intr, return -EINTR, &{v}->mutex)")
        b.line(f"if ({kcond(ctx, v)})")
        b.line(f"\treturn {ctx.rng.choice(KERRORS)};")
        kfill(ctx, b, s, v, max(1, u1 + u2), fn)
        b.close()
        return ("int", "", "0")
    b.line(f"guard(mutex)(&{v}->mutex);")
    b.blank()
    b.line(f"if ({kcond(ctx, v)})")
    b.line(f"\treturn {ctx.rng.choice(KERRORS)};")
    kfill(ctx, b, s, v, u1, fn)
    b.line(f"if (READ_ONCE({v}->state) == {ctx.MOD}_STATE_IDLE)")
    b.line("\tmsleep(1);\t/* a mutex may be held across a sleep */")
    kfill(ctx, b, s, v, max(1, u2), fn)
    return ("int", "", "0")


def k_t_guard_spin(ctx, b, s, v, fn, size):
    (u,) = units_for(size, 8, 1)
    b.line(f"guard({ctx.rng.choice(('spinlock', 'spinlock_irqsave', 'spinlock_irq'))})(&{v}->lock);")
    b.blank()
    b.line(f"if ({kcond(ctx, v)})")
    b.line(f"\treturn {ctx.rng.choice(KERRORS)};")
    kfill(ctx, b, s, v, max(1, u), fn)
    return ("int", "", "0")


def k_t_scoped(ctx, b, s, v, fn, size):
    rng = ctx.rng
    u1, u2 = units_for(size, 14, 2)
    b.open(f"scoped_guard({rng.choice(('spinlock', 'spinlock_irqsave'))}, &{v}->lock)")
    b.line(f"if ({kcond(ctx, v)})")
    b.line("\tbreak;")
    kfill(ctx, b, s, v, max(1, u1), fn)
    b.close()
    b.line("might_sleep();")
    b.line(f"if (test_bit({rng.randint(0, 4)}, &{v}->flags))")
    b.line(f"\tmsleep({rng.choice((1, 5, 10, 20))});")
    if u2:
        b.open(f"scoped_guard(mutex, &{v}->mutex)")
        kfill(ctx, b, s, v, u2, fn)
        b.close()
    return ("void", "", None)


def k_t_rcu_read(ctx, b, s, v, fn, size):
    rng, mod = ctx.rng, ctx.mod
    b.need("cfg", f"struct {mod}_config *cfg;")
    if rng.random() < 0.25:
        b.line("guard(rcu)();")
        b.line(f"cfg = rcu_dereference({v}->cfg);")
        return ("long", "", "cfg ? cfg->timeout_ms : 0")
    b.need("timeout", "u32 timeout = 0;")
    b.line("rcu_read_lock();")
    b.line(f"cfg = rcu_dereference({v}->cfg);")
    b.line("if (cfg)")
    b.line("\ttimeout = cfg->timeout_ms;")
    b.line("rcu_read_unlock();")
    b.blank()
    b.line("if (!timeout)")
    b.line("\treturn 0;")
    if rng.random() < 0.5:
        b.line("msleep(timeout);\t/* outside the read-side section */")
    else:
        b.line(f"return wait_event_interruptible_timeout({v}->wq, READ_ONCE({v}->count) != 0,")
        b.line("\t\t\t\t\t\tmsecs_to_jiffies(timeout));")
        return ("long", "", None)
    return ("long", "", "timeout")


def k_t_rcu_list(ctx, b, s, v, fn, size):
    M = ctx.MOD
    b.need("e", f"struct {s.name}_entry *e;")
    b.need("n", "long n = 0;")
    b.line("rcu_read_lock();")
    b.open(f"list_for_each_entry_rcu(e, &{v}->entries, node)")
    b.line(f"if (READ_ONCE(e->state) & {M}_ENTRY_STALE)")
    b.line("\tcontinue;")
    b.line("if (e->key == key)")
    b.line("\tn += READ_ONCE(e->value);")
    b.line("if (n > value)")
    b.line("\tbreak;")
    b.close()
    b.line("rcu_read_unlock();")
    return ("long", "", "n")


def k_t_rcu_update(ctx, b, s, v, fn, size):
    mod = ctx.mod
    b.need("new", f"struct {mod}_config *new;")
    b.need("old", f"struct {mod}_config *old;")
    b.line("new = kzalloc(sizeof(*new), GFP_KERNEL);")
    b.line("if (!new)")
    b.line("\treturn -ENOMEM;")
    b.line("new->timeout_ms = value;")
    b.line(f"new->max_bytes = {ctx.MOD}_MAX_BYTES;")
    b.blank()
    b.line(f"mutex_lock(&{v}->mutex);")
    b.line(f"old = rcu_dereference_protected({v}->cfg, lockdep_is_held(&{v}->mutex));")
    b.line(f"rcu_assign_pointer({v}->cfg, new);")
    b.line(f"mutex_unlock(&{v}->mutex);")
    b.blank()
    if ctx.rng.random() < 0.5:
        b.line("synchronize_rcu();")
        b.line("kfree(old);")
    else:
        b.line("if (old)")
        b.line("\tkfree_rcu(old, rcu);")
    return ("int", "", "0")


def k_t_must_hold(ctx, b, s, v, fn, size):
    rng = ctx.rng
    lock = k_spin_lock(ctx, s, v)
    u1, u2 = units_for(size, 8, 2)
    if "irqsave" in lock.acq:
        b.need("flags", "unsigned long flags;")
    b.line(lock.acquire() + ";")
    kfill(ctx, b, s, v, u1, fn)
    b.line(f"{rng.choice(ctx.helpers[s.name])}({v}, key, value);")
    kfill(ctx, b, s, v, u2, fn)
    b.line(lock.release() + ";")
    return ("void", "", None)


def k_t_pair(ctx, b, s, v, fn, size):
    lock_fn, unlock_fn = ctx.pairs[s.name]
    u1, u2 = units_for(size, 10, 2)
    b.line(f"{lock_fn}({v});")
    b.open(f"if ({kcond(ctx, v)})")
    b.line(f"{unlock_fn}({v});")
    b.line(f"return {ctx.rng.choice(KERRORS)};")
    b.close()
    kfill(ctx, b, s, v, max(1, u1), fn)
    if ctx.rng.random() < 0.5:
        b.line(f"{ctx.rng.choice(ctx.helpers[s.name])}({v}, key, value);")
    kfill(ctx, b, s, v, u2, fn)
    b.line(f"{unlock_fn}({v});")
    return ("int", "", "0")


def k_t_trylock(ctx, b, s, v, fn, size):
    (u,) = units_for(size, 8, 1)
    b.line(f"if (!spin_trylock(&{v}->lock))")
    b.line("\treturn -EBUSY;")
    kfill(ctx, b, s, v, max(1, u), fn)
    b.line(f"spin_unlock(&{v}->lock);")
    return ("int", "", "0")


def k_t_mutex_intr(ctx, b, s, v, fn, size):
    rng = ctx.rng
    (u,) = units_for(size, 12, 1)
    b.need("ret", "int ret;")
    call = rng.choice(("mutex_lock_interruptible", "mutex_lock_killable"))
    b.line(f"ret = {call}(&{v}->mutex);")
    b.line("if (ret)")
    b.line("\treturn ret;")
    b.open(f"if ({kcond(ctx, v)})")
    b.line(f"ret = {rng.choice(KERRORS)};")
    b.line("goto out;")
    b.close()
    kfill(ctx, b, s, v, max(1, u), fn)
    b.raw("out:")
    b.line(f"mutex_unlock(&{v}->mutex);")
    return ("int", "", "ret")


def k_t_list_safe(ctx, b, s, v, fn, size):
    lock = k_spin(f"&{v}->lock", ctx.rng.choice(("", "_irq", "_bh")))
    b.need("e", f"struct {s.name}_entry *e, *tmp;")
    b.need("n", "long n = 0;")
    b.line(lock.acquire() + ";")
    b.open(f"list_for_each_entry_safe(e, tmp, &{v}->entries, node)")
    b.line("if (e->refs)")
    b.line("\tcontinue;")
    b.line("list_del(&e->node);")
    b.line(f"{v}->count--;")
    b.line("kfree(e);")
    b.line("if (++n >= value)")
    b.line("\tbreak;")
    b.close()
    b.line(lock.release() + ";")
    b.line("cond_resched();")
    return ("long", "", "n")


def k_t_rwsem(ctx, b, s, v, fn, size):
    if not k_has(s, "sem"):
        return k_t_spin(ctx, b, s, v, fn, size)
    (u,) = units_for(size, 8, 1)
    if ctx.rng.random() < 0.6:
        b.line(f"down_read(&{v}->sem);")
        b.line(f"value = READ_ONCE({v}->count);")
        b.line(f"if (value > {ctx.rng.randint(8, 4096)})")
        b.line("\tmsleep(1);\t/* a semaphore's holder may sleep */")
        b.line(f"up_read(&{v}->sem);")
        return ("long", "", "value")
    lock = k_spin(f"&{v}->lock")
    b.line(f"down_write(&{v}->sem);")
    b.line(lock.acquire() + ";")
    kfill(ctx, b, s, v, max(1, u), fn)
    b.line(lock.release() + ";")
    b.line(f"up_write(&{v}->sem);")
    return ("long", "", "value")


def k_t_global(ctx, b, s, v, fn, size):
    mod = ctx.mod
    if ctx.rng.random() < 0.5:
        b.need("it", f"struct {s.name} *it;")
        b.line(f"mutex_lock(&{mod}_list_mutex);")
        b.open(f"list_for_each_entry(it, &{mod}_devices, link)")
        b.open(f"if (it == {v})")
        b.line(f"mutex_unlock(&{mod}_list_mutex);")
        b.line("return -EEXIST;")
        b.close()
        b.close()
        b.line(f"list_add_tail(&{v}->link, &{mod}_devices);")
        b.line(f"mutex_unlock(&{mod}_list_mutex);")
        return ("int", "", "0")
    b.need("id", "unsigned int id;")
    b.line(f"spin_lock(&{mod}_id_lock);")
    b.line(f"id = ++{mod}_next_id;")
    b.line(f"spin_unlock(&{mod}_id_lock);")
    b.line(f'snprintf({v}->name, sizeof({v}->name), "{mod}%u", id);')
    return ("int", "", "id")


def k_t_wait(ctx, b, s, v, fn, size):
    (u,) = units_for(size, 12, 1)
    b.need("ret", "int ret;")
    b.line(f"ret = wait_event_interruptible({v}->wq, READ_ONCE({v}->count) != 0 ||")
    b.line(f"\t\t\t\t       READ_ONCE({v}->state) == {ctx.MOD}_STATE_CLOSED);")
    b.line("if (ret)")
    b.line("\treturn ret;")
    b.blank()
    b.line(f"spin_lock_irq(&{v}->lock);")
    kfill(ctx, b, s, v, max(1, u), fn)
    b.line(f"spin_unlock_irq(&{v}->lock);")
    return ("int", "", "0")


def k_t_copy(ctx, b, s, v, fn, size):
    """Copy to user space outside the lock, from a snapshot taken under it."""
    b.need("snap", "u64 snap[2];")
    b.line(f"spin_lock_irq(&{v}->lock);")
    b.line(f"snap[0] = {v}->rx_packets;")
    b.line(f"snap[1] = {v}->tx_packets;")
    b.line(f"spin_unlock_irq(&{v}->lock);")
    b.blank()
    b.line("if (copy_to_user(ubuf, snap, sizeof(snap)))")
    b.line("\treturn -EFAULT;")
    return ("int", ", void __user *ubuf", "0")


# -- kernel buggy templates (one expected finding each, marked on its line) -----------------

def kb_sleep_under_spin(ctx, b, s, v, fn, size):
    rng = ctx.rng
    lock = k_spin_lock(ctx, s, v)
    u1, u2 = units_for(size, 8, 2)
    if "irqsave" in lock.acq:
        b.need("flags", "unsigned long flags;")
    b.line(lock.acquire() + ";")
    kfill(ctx, b, s, v, max(1, u1), fn)
    call = rng.choice(("msleep(1);", "might_sleep();", "usleep_range(10, 20);", "cond_resched();"))
    b.line(f"{call} /* BUG: blocking-under-lock */")
    kfill(ctx, b, s, v, u2, fn)
    b.line(lock.release() + ";")
    return ("void", "", None), "blocking-under-lock"


def kb_gfp_under_spin(ctx, b, s, v, fn, size):
    (u,) = units_for(size, 12, 1)
    lock = k_spin_lock(ctx, s, v)
    if "irqsave" in lock.acq:
        b.need("flags", "unsigned long flags;")
    b.need("e", f"struct {s.name}_entry *e;")
    b.line(lock.acquire() + ";")
    b.line("e = kzalloc(sizeof(*e), GFP_KERNEL); /* BUG: blocking-under-lock */")
    b.open("if (e)")
    b.line("e->key = key;")
    b.line(f"list_add(&e->node, &{v}->entries);")
    b.close()
    kfill(ctx, b, s, v, max(1, u), fn)
    b.line(lock.release() + ";")
    return ("void", "", None), "blocking-under-lock"


def kb_sleep_under_rcu(ctx, b, s, v, fn, size):
    mod = ctx.mod
    b.need("cfg", f"struct {mod}_config *cfg;")
    b.line("rcu_read_lock();")
    b.line(f"cfg = rcu_dereference({v}->cfg);")
    b.line("if (cfg && cfg->timeout_ms)")
    b.line("\tmsleep(cfg->timeout_ms); /* BUG: blocking-under-lock */")
    b.line("rcu_read_unlock();")
    return ("void", "", None), "blocking-under-lock"


def kb_leak_return(ctx, b, s, v, fn, size):
    (u,) = units_for(size, 12, 1)
    b.need("e", f"struct {s.name}_entry *e;")
    b.line(f"mutex_lock(&{v}->mutex);")
    b.line("e = kzalloc(sizeof(*e), GFP_KERNEL);")
    b.line("if (!e)")
    b.line("\treturn -ENOMEM; /* BUG: lock-leak */")
    b.line("e->key = key;")
    kfill(ctx, b, s, v, max(1, u), fn)
    b.line(f"mutex_unlock(&{v}->mutex);")
    b.line("kfree(e);")
    return ("int", "", "0"), "lock-leak"


def kb_leak_goto(ctx, b, s, v, fn, size):
    lock = k_spin(f"&{v}->lock", "irqsave")
    (u,) = units_for(size, 16, 1)
    b.need("flags", "unsigned long flags;")
    b.need("ret", "int ret = 0;")
    b.line(lock.acquire() + ";")
    b.open(f"if ({kcond(ctx, v)})")
    b.line(f"ret = {ctx.rng.choice(KERRORS)};")
    b.line("goto out;\t/* should be out_unlock */")
    b.close()
    kfill(ctx, b, s, v, max(1, u), fn)
    b.open(f"if ({kcond(ctx, v)})")
    b.line(f"ret = {ctx.rng.choice(KERRORS)};")
    b.line("goto out_unlock;")
    b.close()
    b.line(f"{v}->count++;")
    b.raw("out_unlock:")
    b.line(lock.release() + ";")
    b.raw("out:")
    b.line("return ret; /* BUG: lock-leak */")
    return ("int", "", None), "lock-leak"


def kb_double_unlock(ctx, b, s, v, fn, size):
    lock = k_spin(f"&{v}->lock", "irqsave")
    (u,) = units_for(size, 16, 1)
    b.need("flags", "unsigned long flags;")
    b.need("ret", "int ret;")
    b.line(lock.acquire() + ";")
    b.open(f"if ({kcond(ctx, v)})")
    b.line(lock.release() + ";")
    b.line(f'dev_warn({v}->dev, "%s: busy\\n", __func__);')
    b.line("ret = -EBUSY;")
    b.line("goto out_unlock;")
    b.close()
    kfill(ctx, b, s, v, max(1, u), fn)
    b.line("ret = 0;")
    b.raw("out_unlock:")
    b.line(lock.release() + "; /* BUG: unlock-unheld */")
    return ("int", "", "ret"), "unlock-unheld"


K_TEMPLATES = (
    (k_t_irqsave, 10), (k_t_spin, 8), (k_t_bh, 4), (k_t_mutex_goto, 10), (k_t_guard_mutex, 6),
    (k_t_guard_spin, 5), (k_t_scoped, 6), (k_t_rcu_read, 5), (k_t_rcu_list, 4), (k_t_rcu_update, 3),
    (k_t_must_hold, 7), (k_t_pair, 5), (k_t_trylock, 4), (k_t_mutex_intr, 5), (k_t_list_safe, 4),
    (k_t_rwsem, 4), (k_t_global, 4), (k_t_wait, 3), (k_t_copy, 2),
)
K_BUG_TEMPLATES = (  # used in turn: the rules alternate
    kb_sleep_under_spin, kb_leak_return, kb_double_unlock, kb_gfp_under_spin, kb_leak_goto,
    kb_sleep_under_rcu,
)


def k_lock_function(ctx: KCtx, s: StructSpec, size: int) -> list[str]:
    rng = ctx.rng
    if rng.random() < K_BUG_RATE:
        template = K_BUG_TEMPLATES[(ctx.bug_start + sum(ctx.bugs.values())) % len(K_BUG_TEMPLATES)]
    else:
        template = rng.choices([t for t, _ in K_TEMPLATES], [w for _, w in K_TEMPLATES])[0]
    name = ctx.fresh_name(f"{s.name}_{rng.choice(VERBS)}")
    b = KBody()
    result = template(ctx, b, s, s.var, name, size)
    if isinstance(result[0], tuple):
        result, rule = result
        ctx.bugs[rule] += 1
    ret_type, extra, ret = result
    doc = rng.choice(DOC_PHRASES) if rng.random() < 0.3 else None
    storage = "static " if rng.random() < 0.8 else ""
    return k_definition(ctx, b, name, ret_type, k_std_params(s, extra), ret, storage, doc)


def k_plain_function(ctx: KCtx, s: StructSpec, size: int) -> list[str]:
    # Not kind 2: it walks `e->next`, and kernel entries sit on a list_head.
    return k_tabs(plain_function(ctx, s, size, kinds=(0, 1, 3, 4, 5)))


def k_epilogue(ctx: KCtx) -> list[str]:
    mod = ctx.mod
    ctx.functions += 2
    return [
        f"static int __init {mod}_init(void)",
        "{",
        f'\tpr_info("{mod}: loaded\\n");',
        "\treturn 0;",
        "}",
        "",
        f"static void __exit {mod}_exit(void)",
        "{",
        "\tsynchronize_rcu();\t/* wait for readers of the last configuration */",
        "}",
        "",
        f"module_init({mod}_init);",
        f"module_exit({mod}_exit);",
        f'MODULE_DESCRIPTION("{mod} driver core (generated)");',
        'MODULE_LICENSE("GPL");',
    ]


def generate_kernel_file(seed: object, index: int, target_lines: int) -> tuple[str, FileCtx]:
    rng = random.Random(f"lockls-bench:kernel:{seed}:{index}")
    noun = MODULE_NOUNS[index % len(MODULE_NOUNS)]
    mod = noun if index < len(MODULE_NOUNS) else f"{noun}{index // len(MODULE_NOUNS)}"
    nstructs = max(2, min(12, target_lines // 1200 + rng.randint(0, 1)))
    structs = k_make_structs(rng, mod, nstructs)
    ctx = KCtx(rng=rng, mod=mod, MOD=mod.upper(), structs=structs,
               global_lock=Lock("mutex", f"&{mod}_list_mutex"),
               global_rw=Lock("mutex", f"&{mod}_list_mutex"),
               bug_start=rng.randrange(len(K_BUG_TEMPLATES)))
    lines = k_prelude(ctx, f"{mod}.c")
    epilogue = 15
    while True:
        remaining = target_lines - len(lines) - epilogue
        if remaining < 14:
            break
        size = min(remaining - 2, int(rng.triangular(10, 80, 24)))
        s = rng.choice(structs)
        if rng.random() < 0.25:
            fn = k_plain_function(ctx, s, size)
        else:
            fn = k_lock_function(ctx, s, size)
        lines += fn
        lines.append("")
    lines += k_epilogue(ctx)
    return "\n".join(lines) + "\n", ctx


# -- files ----------------------------------------------------------------------------

def module_macros(ctx: FileCtx) -> list[str]:
    """The module's limits, flags, helper macros and enums (plain and annotated profiles)."""
    M, mod = ctx.MOD, ctx.mod
    rng = ctx.rng
    return [
        f"#define {M}_MAX_SLOTS {rng.choice((16, 32, 64, 128))}",
        f"#define {M}_MAX_BYTES {rng.choice((1, 4, 16, 64))}L * 1024 * 1024",
        f"#define {M}_STATS {rng.randint(0, 1)}",
        f"#define {M}_FLAG_DIRTY  0x01u",
        f"#define {M}_FLAG_BUSY   0x02u",
        f"#define {M}_FLAG_FULL   0x04u",
        f"#define {M}_FLAG_FROZEN 0x08u",
        f"#define {M}_FLAG_NOLOCK 0x10u",
        f"#define {M}_ENTRY_STALE 0x100u",
        f"#define {M}_IS_FULL(v) ((v)->limit != 0 && (v)->count >= (v)->limit)",
        f'#define {M}_TRACE(fmt, ...) log_event("{mod}: " fmt, __VA_ARGS__)',
        "",
        "#ifndef ARRAY_SIZE",
        "#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))",
        "#endif",
        "#ifndef MIN",
        "#define MIN(a, b) ((a) < (b) ? (a) : (b))",
        "#endif",
        "#ifndef unlikely",
        "#define unlikely(x) __builtin_expect(!!(x), 0)",
        "#endif",
        "",
        f"enum {mod}_lifecycle {{ {M}_STATE_IDLE, {M}_STATE_RUNNING, {M}_STATE_CLOSED }};",
        f"enum {mod}_opcode {{ {M}_OP_GET, {M}_OP_PUT, {M}_OP_FLUSH, {M}_OP_CLOSE }};",
        "",
    ]


def prelude(ctx: FileCtx, title: str) -> list[str]:
    M, mod = ctx.MOD, ctx.mod
    rng = ctx.rng
    out = [
        "/*",
        f" * {title} - {mod} management (generated by bench/generate.py).",
        " *",
        " * Lock-heavy C for benchmarking lockls. Realistic in shape, meaningless",
        " * in content. Lines ending in a BUG comment are deliberate bugs.",
        " */",
        "#include <errno.h>",
        "#include <pthread.h>",
        "#include <stddef.h>",
        "#include <stdint.h>",
        "#include <stdio.h>",
        "#include <stdlib.h>",
        "#include <string.h>",
        "#include <threads.h>",
        "",
        *module_macros(ctx),
        "void log_event(const char *fmt, ...);",
        "uint64_t now_ms(void);",
        "void stats_add(const char *name, long value);",
        "",
    ]
    for s in ctx.structs:
        out += [f"struct {s.name}_entry {{",
                f"    struct {s.name}_entry *next;",
                "    uint64_t key;",
                "    long value;",
                "    int refs;",
                "    unsigned state;",
                "};", "",
                f"struct {s.name} {{"]
        for lf in s.locks:
            out.append(f"    {LOCK_TYPES[lf.kind]} {lf.name};")
        if s.cond_for:
            out.append(f"    pthread_cond_t cond;          /* signalled under {s.cond_for} */")
        out += [f"    struct {s.name}_entry *head;",
                f"    struct {s.name}_entry *slots[{M}_MAX_SLOTS];",
                "    size_t count;",
                "    size_t limit;",
                "    unsigned long generation;",
                "    unsigned long contended;",
                "    uint64_t last_update;",
                "    unsigned flags;",
                "    int state;",
                "    long long bytes;",
                "    char name[32];",
                "};", ""]
    out += [f"static pthread_mutex_t {mod}_registry_lock = PTHREAD_MUTEX_INITIALIZER;",
            f"static void *{mod}_registry[{rng.choice((8, 16, 32))}];  /* any of the file's objects */",
            f"static unsigned long {mod}_registry_gen;",
            f"static pthread_rwlock_t {mod}_config_lock = PTHREAD_RWLOCK_INITIALIZER;",
            f"static long {mod}_config_timeout = {rng.choice((100, 250, 1000, 5000))};",
            ""]
    # Helpers every struct's functions call: lookup and free.
    for s in ctx.structs:
        v = s.var
        ctx.used_names.update({f"{s.name}_find", f"{s.name}_entry_free"})
        out += [f"static struct {s.name}_entry *{s.name}_find(struct {s.name} *{v}, uint64_t key)",
                "{",
                f"    struct {s.name}_entry *e = {v}->slots[key % {M}_MAX_SLOTS];",
                "",
                "    if (e && e->key == key)",
                "        return e;",
                f"    for (e = {v}->head; e; e = e->next)",
                "        if (e->key == key)",
                "            return e;",
                "    return NULL;",
                "}", "",
                f"static void {s.name}_entry_free(struct {s.name}_entry *e)",
                "{",
                "    if (!e)",
                "        return;",
                "    e->next = NULL;",
                "    free(e);",
                "}", ""]
        ctx.functions += 2
    return out


def make_structs(rng: random.Random, mod: str, count: int) -> list[StructSpec]:
    structs = []
    nouns = rng.sample(STRUCT_NOUNS, min(count, len(STRUCT_NOUNS)))
    while len(nouns) < count:
        nouns.append(f"{rng.choice(STRUCT_NOUNS)}{len(nouns)}")
    for noun in nouns:
        name = f"{mod}_{noun}"
        var = "".join(w[0] for w in name.split("_"))
        if var in RESERVED:
            var += "x"
        kinds = rng.sample(("mutex", "rwlock", "spin", "mtx"), rng.choice((1, 1, 2, 2, 3)))
        if "mutex" not in kinds and rng.random() < 0.6:
            kinds[0] = "mutex"  # pthread mutexes dominate real code
        used: set[str] = set()
        locks = []
        for k in kinds:
            fname = rng.choice([n for n in LOCK_FIELD_NAMES[k] if n not in used] or [f"{k}_lock"])
            used.add(fname)
            locks.append(LockField(fname, k))
        mutexes = [lf.name for lf in locks if lf.kind == "mutex"]
        structs.append(StructSpec(name, var, locks, mutexes[0] if mutexes else None))
    return structs


def lock_function(ctx: FileCtx, s: StructSpec, size: int) -> list[str]:
    rng = ctx.rng
    v = s.var
    if rng.random() < BUG_RATE:
        template = rng.choice(BUG_TEMPLATES)
    else:
        templates = [t for t, _ in LOCK_TEMPLATES if t is not t_cond_wait or s.cond_for]
        weights = [w for t, w in LOCK_TEMPLATES if t is not t_cond_wait or s.cond_for]
        template = rng.choices(templates, weights)[0]
    name = ctx.fresh_name(f"{s.name}_{rng.choice(VERBS)}")
    b = Body()
    result = template(ctx, b, s, v, name, size)
    rule = None
    if isinstance(result[0], tuple):
        result, rule = result
        ctx.bugs[rule] += 1
    ret_type, extra, ret = result
    if ret is not None:
        if ret_type == "void":
            pass
        else:
            b.line(f"return {ret};")
    out: list[str] = []
    if rng.random() < 0.4:
        out.append(f"/* {name}: {rng.choice(DOC_PHRASES)} */")
    storage = "static " if rng.random() < 0.6 else ""
    out.append(f"{storage}{ret_type} {name}(struct {s.name} *{v}, uint64_t key, long value{extra})")
    out.append("{")
    for decl in b.needs.values():
        out.append("    " + decl)
    if b.needs:
        out.append("")
    out += b.lines
    out.append("}")
    ctx.functions += 1
    return out


PROFILES = ("plain", "annotated", "kernel")

# The configuration a corpus of each profile comes with, written as OUTDIR/.lockls.toml
# (None: lockls's defaults, every preset on).
PROFILE_CONFIG = {"plain": None, "annotated": None, "kernel": KERNEL_CONFIG}


def generate_file(seed: object, index: int, target_lines: int, profile: str = "plain") -> tuple[str, FileCtx]:
    """Return (C source, context with counts) for one file of about `target_lines` lines."""
    if profile == "annotated":
        return generate_annotated_file(seed, index, target_lines)
    if profile == "kernel":
        return generate_kernel_file(seed, index, target_lines)
    if profile != "plain":
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
    rng = random.Random(f"lockls-bench:{seed}:{index}")
    noun = MODULE_NOUNS[index % len(MODULE_NOUNS)]
    mod = noun if index < len(MODULE_NOUNS) else f"{noun}{index // len(MODULE_NOUNS)}"
    nstructs = max(2, min(12, target_lines // 900 + rng.randint(0, 1)))
    structs = make_structs(rng, mod, nstructs)
    ctx = FileCtx(rng=rng, mod=mod, MOD=mod.upper(), structs=structs,
                  global_lock=Lock("mutex", f"&{mod}_registry_lock"),
                  global_rw=Lock("rwlock", f"&{mod}_config_lock"))
    lines = prelude(ctx, f"{mod}.c")
    while True:
        remaining = target_lines - len(lines)
        if remaining < 14:
            break
        size = min(remaining - 2, int(rng.triangular(10, 80, 24)))
        s = rng.choice(structs)
        if rng.random() < 0.33:
            fn = plain_function(ctx, s, size)
        else:
            fn = lock_function(ctx, s, size)
        lines += fn
        lines.append("")
    return "\n".join(lines) + "\n", ctx


def split_lines(total: int, files: int) -> list[int]:
    return [total // files + (1 if i < total % files else 0) for i in range(files)]


def generate_corpus(outdir: str, lines: int = 200_000, files: int = 100, seed: object = 1,
                    profile: str = "plain") -> dict:
    """Write `files` files totalling about `lines` lines into `outdir`; return a summary.

    A profile that needs a configuration (kernel: the `linux` preset) also gets
    `outdir/.lockls.toml`."""
    os.makedirs(outdir, exist_ok=True)
    summary = {"files": 0, "lines": 0, "functions": 0, "bugs": Counter()}
    width = max(3, len(str(files - 1)))
    if PROFILE_CONFIG.get(profile):
        with open(os.path.join(outdir, ".lockls.toml"), "w", encoding="utf-8", newline="\n") as f:
            f.write(PROFILE_CONFIG[profile])
    for i, target in enumerate(split_lines(lines, files)):
        text, ctx = generate_file(seed, i, target, profile)
        path = os.path.join(outdir, f"{i:0{width}d}_{ctx.mod}.c")
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        summary["files"] += 1
        summary["lines"] += text.count("\n")
        summary["functions"] += ctx.functions
        summary["bugs"].update(ctx.bugs)
    return summary


def generate_single(path: str, lines: int = 10_000, seed: object = 1, profile: str = "plain") -> dict:
    """Write one file of about `lines` lines to `path`; return a summary.

    No configuration is written next to it: lockls's defaults (every preset) fit
    every profile."""
    text, ctx = generate_file(seed, 0, lines, profile)
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    return {"files": 1, "lines": text.count("\n"), "functions": ctx.functions, "bugs": ctx.bugs}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir", nargs="?", help="directory to write the corpus into")
    ap.add_argument("--single", metavar="FILE", help="write one big file instead of a corpus")
    ap.add_argument("--lines", type=int, default=None,
                    help="total lines (default: 200000, or 10000 with --single)")
    ap.add_argument("--files", type=int, default=100, help="number of files (default: 100)")
    ap.add_argument("--seed", default="1", help="seed (default: 1); same seed, same bytes")
    ap.add_argument("--profile", choices=PROFILES, default="plain",
                    help="the style of C: plain pthread/C11 (default), annotated (clang thread-safety "
                         "macros, OVS style) or kernel (Linux kernel style)")
    args = ap.parse_args(argv)
    if bool(args.outdir) == bool(args.single):
        ap.error("give either OUTDIR or --single FILE")
    if args.files < 1 or (args.lines is not None and args.lines < 100):
        ap.error("--files must be >= 1 and --lines >= 100")
    if args.single:
        summary = generate_single(args.single, args.lines or 10_000, args.seed, args.profile)
        where = args.single
    else:
        summary = generate_corpus(args.outdir, args.lines or 200_000, args.files, args.seed, args.profile)
        where = args.outdir
    bugs = ", ".join(f"{rule} {n}" for rule, n in sorted(summary["bugs"].items())) or "none"
    print(f"{where}: {summary['files']} files, {summary['lines']} lines, "
          f"{summary['functions']} functions; planted bugs: {bugs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
