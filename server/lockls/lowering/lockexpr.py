"""Lock identity: one canonical key for every spelling of the same lock.

`&q->lock`, `&(q->lock)`, `(&q->lock)`, `&(*q).lock` and `q->lock` all name the
lock `q->lock`; `s.lock` and `s->lock` are the same identity too. A pointer to a lock and the lock itself are the same identity:
the analysis strips one leading `&` or `*`, so `pthread_mutex_lock(q->lockp)` and
`pthread_mutex_lock(&*q->lockp)` agree. Casts and parentheses are dropped, and
simple local aliases (`pthread_mutex_t *l = &q->lock;`, assigned once) resolve to
what they point to.
"""

from __future__ import annotations

import re

from tree_sitter import Node

from lockls.syntax.nodes import text

_SPACE = re.compile(r"\s+")
_ROOT = re.compile(r"^[A-Za-z_]\w*")


def canonical(node: Node, source: bytes) -> str:
    """The canonical spelling of an lvalue-ish expression."""
    t = node.type
    if t == "identifier":
        return source[node.start_byte:node.end_byte].decode("utf-8", "replace")
    if t == "parenthesized_expression":
        inner = node.named_children
        return canonical(inner[-1], source) if inner else ""
    if t == "cast_expression":
        value = node.child_by_field_name("value")
        return canonical(value, source) if value is not None else _flat(node, source)
    if t == "field_expression":
        base = _strip_parens(node.child_by_field_name("argument"))
        field = node.child_by_field_name("field")
        op = node.child_by_field_name("operator")
        fname = text(field, source) if field is not None else ""
        arrow = op is not None and op.type == "->"
        if not arrow and base is not None and base.type == "pointer_expression" and _op(base) == "*":
            # (*q).lock is q->lock
            return f"{canonical(base.child_by_field_name('argument'), source)}->{fname}"
        if arrow and base is not None and base.type == "pointer_expression" and _op(base) == "&":
            # (&x)->lock is x.lock
            return f"{canonical(base.child_by_field_name('argument'), source)}.{fname}"
        return f"{canonical(base, source)}{'->' if arrow else '.'}{fname}"
    if t == "pointer_expression":
        arg = _strip_parens(node.child_by_field_name("argument"))
        op = _op(node)
        if arg is not None and arg.type == "pointer_expression" and _op(arg) != op:
            # &*x and *&x are x
            return canonical(arg.child_by_field_name("argument"), source)
        return f"{op}{canonical(arg, source)}"
    if t == "binary_expression" and _op(node) == "+":
        # `locks + i` points at `locks[i]`
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if left is not None and right is not None and left.type in ("identifier", "field_expression"):
            return f"{canonical(left, source)}[{_flat(right, source)}]"
    if t == "subscript_expression":
        arg = node.child_by_field_name("argument")
        index = node.child_by_field_name("index")
        return f"{canonical(arg, source)}[{_flat(index, source) if index is not None else ''}]"
    return _flat(node, source)


def lock_key(node: Node, source: bytes, aliases: dict[str, str] | None = None) -> str:
    """The identity of the lock an argument names (see the module docstring)."""
    key = canonical(node, source)
    return key_of(key, aliases)


def spelled_key(written: str) -> str:
    """A lock as written, in key form but without following aliases: `&a->mu` -> `a->mu`
    (`m` for `m = &a->mu` stays `m`)."""
    text = _SPACE.sub("", written)
    return (text[1:] if text[:1] in ("&", "*") else text).replace(".", "->")


def reached_through(key: str, pointer: str) -> bool:
    """Is the lock `key` what `pointer` names, or reached through it (`p->lock`, `p.lock`)?"""
    return key == pointer or key.startswith((pointer + "->", pointer + "."))


def key_of(canonical_text: str, aliases: dict[str, str] | None = None) -> str:
    key = canonical_text
    if key[:1] in ("&", "*"):
        key = key[1:]
    if key.endswith("[0]"):  # &locks[0] is locks
        key = key[:-3]
    # `.` and `->` name the same field for identity: `x.lock` reached through a
    # pointer to x (a wrapper given `&x`) is `x->lock`
    key = key.replace(".", "->")
    if aliases:
        m = _ROOT.match(key)
        if m and m.group(0) in aliases:  # `l` or `q2->lock` through a local alias
            key = aliases[m.group(0)] + key[m.end():]
    return key


def _op(node: Node) -> str:
    op = node.child_by_field_name("operator")
    return op.type if op is not None else ""


def _strip_parens(node: Node | None) -> Node | None:
    while node is not None and node.type == "parenthesized_expression" and node.named_child_count:
        node = node.named_children[-1]
    return node


def _flat(node: Node, source: bytes) -> str:
    return _SPACE.sub("", text(node, source))


def resolve_lock_ref(ref: str, argument_keys: list[str]) -> str | None:
    """The lock a contract's ref names: "=g" is the global `g`; "arg1->lock" is
    `->lock` of argument 1, given the keys of the arguments (at a call) or the
    parameter names (inside the function). None when the argument is missing."""
    if "{arg" in ref:  # an element of an array indexed by an argument: `=lru_locks[{arg0}]`
        if any(int(n) >= len(argument_keys) for n in re.findall(r"\{arg(\d+)\}", ref)):
            return None
        ref = re.sub(r"\{arg(\d+)\}", lambda m: argument_keys[int(m.group(1))], ref)
    if ref.startswith("="):
        return ref[1:]
    m = re.match(r"arg(\d+)(.*)$", ref)
    if m is None or int(m.group(1)) >= len(argument_keys):
        return None
    return argument_keys[int(m.group(1))] + m.group(2)
