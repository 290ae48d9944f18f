"""Path facts: what is known about values on a path, to decide repeated tests.

A fact is a tuple `(key, relation, value)`:
  - `(k, "eq", c)`: k == c (c a number or a constant's name such as `thrd_success`)
  - `(k, "ne", c)`: k != c
  - `(k, "neg", "")`: k < 0
  - `(text, "is", "1"|"0")`: the condition written `text` was true/false (opaque)

Facts make the analysis cheaply path-sensitive: after `if (need) lock();` the
later `if (need) unlock();` is decided by the fact `need != 0`, and after
`rc = pthread_mutex_trylock(&m)` the paths "acquired, rc == 0" and "not acquired,
rc != 0" stay apart until `if (rc != 0)` picks one. Assignments kill the facts
that mention what they assign.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Optional

from lockls.ir.events import Cond, mentions  # noqa: F401 (mentions: read with the facts)

Fact = tuple[str, str, str]
Facts = frozenset  # of Fact
# facts one path class keeps: a chain of 2,000 `else if (c == N)` must not keep 2,000 in
# every state it reaches (quadratic time and memory); real paths know a handful
MAX_FACTS = 64

_NUMBER = re.compile(r"^[+-]?(0[xX][0-9a-fA-F]+|\d+)[uUlL]*$")
_SYMBOL = re.compile(r"^[A-Za-z_]\w*$")
_NAMED = {"NULL": 0, "nullptr": 0, "false": 0, "true": 1, "FALSE": 0, "TRUE": 1, "B_FALSE": 0, "B_TRUE": 1}
# errno names (EBUSY, ETIMEDOUT...) are positive: never 0, never negative
_ERRNO = re.compile(r"^E[A-Z0-9]+$")
_NEG_ERRNO = re.compile(r"^-E[A-Z0-9]+$")  # and these negated are negative (kernel style)

_FLIP_OP = {"==": "==", "!=": "!=", "<": ">", ">": "<", "<=": ">=", ">=": "<="}
NEGATE = {"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}
_COMPARE = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


@lru_cache(maxsize=4096)
def number(c: str) -> Optional[int]:
    """The integer a constant stands for, when it is a literal (or NULL/true/false)."""
    if c in _NAMED:
        return _NAMED[c]
    if _NUMBER.match(c):
        digits = c.rstrip("uUlL")
        return int(digits, 16) if digits.lower().lstrip("+-").startswith("0x") else int(digits, 10)
    return None


def _decide_one(fact: Fact, cond: Cond) -> Optional[bool]:
    key, rel, value = fact
    if rel == "is":
        return (value == "1") if key == cond.text else None
    if key != cond.key or cond.op is None:
        return None
    op, c = cond.op, cond.const
    nc = number(c)
    if rel == "eq":
        nv = number(value)
        if nv is not None and nc is not None:
            return _COMPARE[op](nv, nc)
        if value == c:
            return op in ("==", "<=", ">=")
        if nv is not None and _ERRNO.match(c):
            return _compare_with_errno(nv, op)
        if nc is not None and _ERRNO.match(value):  # key == EBUSY, tested against a number
            return _compare_with_errno(nc, _FLIP_OP[op])
        if nv is not None and _NEG_ERRNO.match(c):  # key == 0, tested against -EDEADLK
            return _compare_with_errno(-nv, _FLIP_OP[op])
        if nc is not None and _NEG_ERRNO.match(value):  # key == -EDEADLK, tested against a number
            return _compare_with_errno(-nc, op)
        if op in ("==", "!=") and _SYMBOL.match(value) and _SYMBOL.match(c) and nv is None and nc is None:
            return op == "!="  # two different named constants (enumerators) differ
        return None
    if rel == "ne":
        same = value == c or (number(value) is not None and number(value) == nc)
        if same and op in ("==", "!="):
            return op == "!="
        return None
    if rel == "neg" and nc is not None:  # key < 0
        if op == "<":
            return True if nc >= 0 else None
        if op == "<=":
            return True if nc >= -1 else None
        if op == ">":
            return False if nc >= -1 else None
        if op == ">=":
            return False if nc >= 0 else None
        if op == "==":
            return False if nc >= 0 else None
        if op == "!=":
            return True if nc >= 0 else None
    return None


def _compare_with_errno(known: int, op: str) -> Optional[bool]:
    """`known op E...` where E is some positive errno value."""
    if known <= 0:
        return {"==": False, "!=": True, "<": True, "<=": True, ">": False, ">=": False}[op]
    return None


def decide(facts: Facts, cond: Cond) -> Optional[bool]:
    """The value of `cond` given `facts`, or None when they do not tell."""
    key, text = cond.key, cond.text
    for fact in facts:
        if fact[0] != key and fact[0] != text:
            continue  # about something else (most facts, on a long path)
        verdict = _decide_one(fact, cond)
        if verdict is not None:
            return verdict
    return None


def assume(facts: Facts, cond: Cond, truth: bool) -> Optional[Facts]:
    """`facts` plus "cond is `truth`", or None when that contradicts them (a dead path)."""
    known = decide(facts, cond)
    if known is not None:
        return facts if known == truth else None
    added = {(cond.text, "is", "1" if truth else "0")}
    if cond.key is not None and cond.op is not None:
        op = cond.op if truth else NEGATE[cond.op]
        nc = number(cond.const)
        if op == "==":
            added.add((cond.key, "eq", cond.const))
        elif op == "!=":
            added.add((cond.key, "ne", cond.const))
        elif (op == "<" and nc == 0) or (op == "<=" and nc == -1):
            added.add((cond.key, "neg", ""))
    out = facts | added
    if len(out) > MAX_FACTS:  # keep the new ones, and the first of the others in a fixed order
        out = frozenset(added) | frozenset(sorted(facts - added)[:MAX_FACTS - len(added)])
    return out


def outcome_fact(key: str, outcome: str) -> Fact:
    """The fact that a call's result `key` has the configured `outcome`."""
    if outcome == "zero" or outcome == "null":
        return (key, "eq", "0")
    if outcome == "nonzero" or outcome == "nonnull":
        return (key, "ne", "0")
    if outcome == "negative":
        return (key, "neg", "")
    return (key, "eq", outcome)  # a named constant such as thrd_success


def complement_fact(key: str, outcome: str) -> Fact:
    """The fact that `key` does NOT have `outcome` (the default failure of a try)."""
    if outcome in ("zero", "null"):
        return (key, "ne", "0")
    if outcome in ("nonzero", "nonnull"):
        return (key, "eq", "0")
    if outcome == "negative":
        return (key + " >= 0", "is", "1")
    return (key, "ne", outcome)


def kill(facts: Facts, names: tuple[str, ...], through_pointers: bool = True) -> Facts:
    """`facts` without those that mention any of `names` (assigned values). Without
    `through_pointers`, only what lies in the named objects themselves changed (`f(&ctx)`
    may write `ctx.n`, and is not taken to repoint `ctx.mod`: `ctx.mod->flag` is kept)."""
    if not facts:
        return facts
    kept = frozenset(f for f in facts if not any(mentions(f[0], n) and (through_pointers or not _beyond_pointer(f[0], n))
                                                 for n in names))
    return kept if len(kept) != len(facts) else facts


def _beyond_pointer(key: str, name: str) -> bool:
    """Does `key` read the struct `name` only through a pointer stored in it
    (`name.mod->flag`; not `name->flag`: `f(&name)` may repoint `name` itself)?"""
    rest = key[len(name):] if key.startswith(name) else ""
    return rest.startswith(".") and "->" in rest
