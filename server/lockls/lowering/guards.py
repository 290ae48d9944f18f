"""The Linux kernel's lock guard classes (`include/linux/cleanup.h`), and what is
not a use of guarded data.

`guard(CLASS)(args)`, `scoped_guard(CLASS, args) { }` and
`scoped_cond_guard(CLASS, fail, args) { }` name what they take by a *class*:
`spinlock_irqsave` takes a spinlock, `rwsem_read` an rw semaphore shared,
`mutex_try` a mutex if it can (the block runs only when it did), `rcu` the RCU
read side (no argument). This module reads a class name; `lower` applies it to
the configured guard function (kind, shared, a global lock), and `cfg` branches
on a conditional class.

Only a scoped acquisition whose class is a separate argument is read this way:
the callee of a curried call (`guard(mutex)(&m)`) or the argument before the
lock (`scoped_guard(mutex, &m)`, `scoped_guard(rcu)`). An unknown class leaves
the configured function as it is.

Guarded data (see `lower.Lowerer.accesses`) appears in code that does not use
it: on the way to its own lock (`&stats.lock` when `stats` is guarded by
`stats.lock`: initialising, taking or destroying the guard), passed to a
function that sets up or tears down a lock (`pthread_mutex_init(obj)` for an
object that is its own lock), or its address taken (`list_del(&d->node)`: as in
clang, whose `-Wthread-safety-pointer` is opt-in).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace
from typing import Optional

from tree_sitter import Node

from lockls.config import LockFunction
from lockls.lowering.lockexpr import canonical, key_of

# Block macros whose second argument is the statement run when the lock is not
# taken: `scoped_cond_guard(mutex_intr, return -EINTR, &m) { ... }`.
COND_GUARD_MACROS = frozenset({"scoped_cond_guard"})


@dataclass(frozen=True, slots=True)
class GuardClass:
    kind: str  # a kind of the linux preset
    shared: bool = False
    conditional: bool = False  # `_try`, `_intr`, `_kill`: may fail, then the block is skipped
    lock: Optional[str] = None  # a global lock the class takes without an argument


# class base name -> (kind, shared)
_BASES = {
    "spinlock": ("spinlock", False),
    "raw_spinlock": ("raw_spinlock", False),
    "read_lock": ("rwlock", True),
    "write_lock": ("rwlock", False),
    "mutex": ("mutex", False),
    "rwsem_read": ("rw_semaphore", True),
    "rwsem_write": ("rw_semaphore", False),
    "srcu": ("srcu", True),
    "srcu_fast": ("srcu", True),
    "local_lock": ("local_lock", False),
    "local_lock_nested_bh": ("local_lock", False),
}
# classes without a lock argument: the global lock (context) they take
_GLOBALS = {"rcu": GuardClass("rcu", shared=True, lock="RCU")}
_CONDITIONAL = ("_try", "_intr", "_kill")
_VARIANTS = ("_irqsave", "_irq", "_bh", "_nested")


@functools.lru_cache(maxsize=256)
def guard_class(name: str) -> Optional[GuardClass]:
    """What the class `name` takes: `spinlock_irqsave_try` -> a spinlock, conditionally."""
    if name in _GLOBALS:
        return _GLOBALS[name]
    conditional = name.endswith(_CONDITIONAL)
    if conditional:
        name = name[: name.rindex("_")]
    for suffix in _VARIANTS:
        if name.endswith(suffix) and name[: -len(suffix)] in _BASES:
            name = name[: -len(suffix)]
            break
    if name not in _BASES:
        return None
    kind, shared = _BASES[name]
    return GuardClass(kind, shared, conditional)


def class_node(fn: LockFunction, call: Node, args: list[Node]) -> Optional[Node]:
    """The class argument of a scoped acquisition, or None when it has none."""
    callee = call.child_by_field_name("function") if call.type == "call_expression" else None
    if callee is not None and callee.type == "call_expression":  # `guard(mutex)(&m)`
        inner = callee.child_by_field_name("arguments")
        named = [a for a in inner.named_children if a.type != "comment"] if inner is not None else []
        return named[0] if len(named) == 1 and named[0].type == "identifier" else None
    index = fn.lock_arg
    if index is not None and index >= 1 and args and args[0].type == "identifier":
        return args[0]  # `scoped_guard(mutex, &m)`, `scoped_guard(rcu)`
    return None


@functools.lru_cache(maxsize=1024)
def applied(fn: LockFunction, cls: GuardClass, kind_known: bool) -> LockFunction:
    """`fn` taking what `cls` takes: its kind (when configured and `fn` names none),
    shared, a global lock; a conditional class in a block macro makes it a try."""
    changes: dict = {}
    if kind_known and fn.kind is None:
        changes["kind"] = cls.kind
    if cls.shared:
        changes["shared"] = True
    if cls.lock is not None:
        changes["lock"], changes["path"] = "global", cls.lock
    if cls.conditional and fn.scope == "macro":
        changes["action"], changes["success"] = "try-acquire", "nonzero"
    return replace(fn, **changes) if changes else fn


# -- what is not a use of guarded data -------------------------------------------------

_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_LOCK_WORDS = frozenset({"mutex", "mtx", "rwsem", "sem", "semaphore", "spin", "critsec"})
_LIFECYCLE_WORDS = frozenset({"init", "initialize", "destroy", "clear", "fini", "deinit", "uninit", "free", "cleanup"})


@functools.lru_cache(maxsize=1024)
def lock_lifecycle(name: str) -> bool:
    """Does the function `name` set up or tear down a lock (`pthread_mutex_init`,
    `spin_lock_init`, `init_rwsem`, `g_mutex_clear`, `virMutexDestroy`)? Read from the
    words of its name: one naming a lock, one naming a beginning or an end."""
    words = [w.lower() for w in _WORDS.findall(name)]
    return any(w in _LOCK_WORDS or w.endswith("lock") for w in words) and any(w in _LIFECYCLE_WORDS for w in words)


def _outer(n: Node) -> tuple[Node, Optional[Node]]:
    """`n` with the parentheses around it, and what holds that."""
    parent = n.parent
    while parent is not None and parent.type == "parenthesized_expression":
        n, parent = parent, parent.parent
    return n, parent


def address_of(n: Node) -> Node:
    """The `&` expression taking the address of `n` (or of its array's element), when
    `address_taken(n)`."""
    inner, parent = _outer(n)
    while parent is not None and parent.type == "subscript_expression" \
            and parent.child_by_field_name("argument") == inner:
        inner, parent = _outer(parent)
    return parent


def address_taken(n: Node) -> bool:
    """Is `n` the operand of `&` (`&d->items`, `&(d->items)`), or the array of an
    element whose address is taken (`&maps[i]`)?"""
    inner, parent = _outer(n)
    while parent is not None and parent.type == "subscript_expression" \
            and parent.child_by_field_name("argument") == inner:
        inner, parent = _outer(parent)
    if parent is None or parent.type != "pointer_expression":
        return False
    op = parent.child_by_field_name("operator")
    return op is not None and op.type == "&"


def on_the_way_to(n: Node, lock_key: str, source: bytes, aliases) -> bool:
    """Is `n` (guarded data) only the way to its guard `lock_key`: `stats` in
    `stats.lock`, `q->stats` in `&q->stats.lock`?"""
    for _ in range(4):
        inner, parent = _outer(n)
        if parent is None or parent.type != "field_expression" or parent.child_by_field_name("argument") != inner:
            return False
        if key_of(canonical(parent, source), aliases) == lock_key:
            return True
        n = parent
    return False
