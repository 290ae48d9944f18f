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

Everything is driven by `random.Random` seeded with strings, so the same
arguments always give byte-identical output (no dependence on PYTHONHASHSEED,
dict order or the platform).

Usage:
    python bench/generate.py OUTDIR [--lines 200000] [--files 100] [--seed 1]
    python bench/generate.py --single FILE [--lines 10000] [--seed 1]
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


def generate_file(seed: object, index: int, target_lines: int) -> tuple[str, FileCtx]:
    """Return (C source, context with counts) for one file of about `target_lines` lines."""
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


def generate_corpus(outdir: str, lines: int = 200_000, files: int = 100, seed: object = 1) -> dict:
    """Write `files` files totalling about `lines` lines into `outdir`; return a summary."""
    os.makedirs(outdir, exist_ok=True)
    summary = {"files": 0, "lines": 0, "functions": 0, "bugs": Counter()}
    width = max(3, len(str(files - 1)))
    for i, target in enumerate(split_lines(lines, files)):
        text, ctx = generate_file(seed, i, target)
        path = os.path.join(outdir, f"{i:0{width}d}_{ctx.mod}.c")
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        summary["files"] += 1
        summary["lines"] += text.count("\n")
        summary["functions"] += ctx.functions
        summary["bugs"].update(ctx.bugs)
    return summary


def generate_single(path: str, lines: int = 10_000, seed: object = 1) -> dict:
    """Write one file of about `lines` lines to `path`; return a summary."""
    text, ctx = generate_file(seed, 0, lines)
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
    args = ap.parse_args(argv)
    if bool(args.outdir) == bool(args.single):
        ap.error("give either OUTDIR or --single FILE")
    if args.files < 1 or (args.lines is not None and args.lines < 100):
        ap.error("--files must be >= 1 and --lines >= 100")
    if args.single:
        summary = generate_single(args.single, args.lines or 10_000, args.seed)
        where = args.single
    else:
        summary = generate_corpus(args.outdir, args.lines or 200_000, args.files, args.seed)
        where = args.outdir
    bugs = ", ".join(f"{rule} {n}" for rule, n in sorted(summary["bugs"].items())) or "none"
    print(f"{where}: {summary['files']} files, {summary['lines']} lines, "
          f"{summary['functions']} functions; planted bugs: {bugs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
