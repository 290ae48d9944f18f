"""The Linux kernel's lock guard classes (`include/linux/cleanup.h`).

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
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Optional

from tree_sitter import Node

from lockls.config import LockFunction

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
