"""Lock identity: every spelling of a lock maps to one canonical key (lockexpr)."""

from __future__ import annotations

import pytest

from lockls.syntax import nodes as syntax
from lockls.lowering.lockexpr import canonical, key_of, lock_key

_PARSER = syntax.new_parser()


def arg_node(expr: str):
    """The node of `expr` written as the only argument of a call inside a function."""
    src = f"void f(void) {{ g({expr}); }}".encode()
    tree = _PARSER.parse(src)
    assert not tree.root_node.has_error, expr
    body = tree.root_node.children[0].child_by_field_name("body")
    call = body.named_children[0].named_children[0]
    assert call.type == "call_expression"
    args = call.child_by_field_name("arguments").named_children
    assert len(args) == 1
    return args[0], src


def key(expr: str, aliases=None) -> str:
    node, src = arg_node(expr)
    return lock_key(node, src, aliases)


def canon(expr: str) -> str:
    node, src = arg_node(expr)
    return canonical(node, src)


@pytest.mark.parametrize(
    "expr",
    [
        "&q->lock",
        "&(q->lock)",
        "(&q->lock)",
        "((&q->lock))",
        "&(*q).lock",
        "&((*q)).lock",
        "q->lock",
        "(q->lock)",
        "(pthread_mutex_t *)&q->lock",
        "(pthread_mutex_t *)(&q->lock)",
        "(void *)&(q->lock)",
        "&((struct queue *)q)->lock",
        "& q -> lock",
        "&  ( q->lock )",
        "&q\n  ->lock",
        "&\tq->lock",
        "&*&q->lock",
    ],
)
def test_spellings_of_q_lock(expr):
    assert key(expr) == "q->lock"


@pytest.mark.parametrize(
    "expr, expected",
    [
        # a pointer to a lock and the lock agree: one leading & or * is stripped
        ("&*p", "p"),
        ("*&p", "p"),
        ("p", "p"),
        ("*p", "p"),
        ("&*q->lockp", "q->lockp"),
        ("q->lockp", "q->lockp"),
        ("*q->lockp", "q->lockp"),
        ("(void *)(q->lockp)", "q->lockp"),
        ("**pp", "*pp"),
        # globals
        ("&global_lock", "global_lock"),
        ("global_lock", "global_lock"),
        ("(&global_lock)", "global_lock"),
        # arrays: the index is kept, whitespace dropped
        ("&locks[i]", "locks[i]"),
        ("locks[i]", "locks[i]"),
        ("&(locks[i])", "locks[i]"),
        ("&locks[ i + 1 ]", "locks[i+1]"),
        ("&locks[i\n + 1]", "locks[i+1]"),
        ("&q->locks[3]", "q->locks[3]"),
        # an array decays to its first element: &locks[0] is locks; locks + i is &locks[i]
        ("&locks[0]", "locks"),
        ("locks", "locks"),
        ("locks + 2", "locks[2]"),
        ("&locks[10]", "locks[10]"),
        # (&x)->y is x.y
        ("(&x)->y", "x->y"),
        ("&(&x)->y", "x->y"),
        ("&x.y", "x->y"),
        ("&(x.y)", "x->y"),
        # nested members
        ("&q->inner.lock", "q->inner->lock"),
        ("&(*q).inner.lock", "q->inner->lock"),
        ("&a.b->c", "a->b->c"),
        ("&s.lock", "s->lock"),
    ],
)
def test_lock_keys(expr, expected):
    assert key(expr) == expected


@pytest.mark.parametrize(
    "expr, expected",
    [
        ("&q->lock", "&q->lock"),
        ("&(q->lock)", "&q->lock"),
        ("(&q->lock)", "&q->lock"),
        ("&(*q).lock", "&q->lock"),
        ("(&x)->y", "x.y"),
        ("&*p", "p"),
        ("*&p", "p"),
        ("(int *)p", "p"),
        ("&locks[ i ]", "&locks[i]"),
        ("**pp", "**pp"),
    ],
)
def test_canonical_keeps_one_leading_operator(expr, expected):
    assert canon(expr) == expected


def test_distinct_locks_stay_distinct():
    keys = {key(e) for e in ["&q->lock", "&q->lock2", "&q2->lock", "&q.other", "&locks[1]", "&locks[2]", "&lock"]}
    assert keys == {"q->lock", "q->lock2", "q2->lock", "q->other", "locks[1]", "locks[2]", "lock"}


def test_member_of_a_struct_and_through_its_pointer_are_one_lock():
    # a wrapper given `&s` locks `s->lock`: the same lock as `&s.lock` taken directly
    assert key("&s.lock") == key("&s->lock") == "s->lock"


# -- key_of with local aliases ----------------------------------------------------

def test_key_of_strips_one_leading_operator():
    assert key_of("&q->lock") == "q->lock"
    assert key_of("*q->lockp") == "q->lockp"
    assert key_of("q->lock") == "q->lock"
    assert key_of("**pp") == "*pp"
    assert key_of("&q->lock", None) == "q->lock"
    assert key_of("&q->lock", {}) == "q->lock"


def test_key_of_alias_for_the_whole_lock():
    aliases = {"l": "q->lock"}
    assert key_of("l", aliases) == "q->lock"
    assert key_of("&l", aliases) == "q->lock"
    assert key_of("*l", aliases) == "q->lock"


def test_key_of_alias_of_the_root():
    aliases = {"q2": "q"}
    assert key_of("q2->lock", aliases) == "q->lock"
    assert key_of("&q2->lock", aliases) == "q->lock"
    assert key_of("q2->inner.lock", aliases) == "q->inner->lock"
    assert key_of("q2[1].lock", aliases) == "q[1]->lock"


def test_key_of_alias_only_substitutes_whole_root_names():
    aliases = {"q": "r", "l": "q->lock"}
    assert key_of("q2->lock", aliases) == "q2->lock"  # `q2` is not `q`
    assert key_of("ll", aliases) == "ll"
    assert key_of("x->l", aliases) == "x->l"  # only the root is an alias
    assert key_of("x.q", aliases) == "x->q"


def test_key_of_alias_substitutes_once():
    # the alias target is not itself looked up again
    aliases = {"l": "m", "m": "q->lock"}
    assert key_of("l", aliases) == "m"


def test_lock_key_through_aliases():
    assert key("l", {"l": "q->lock"}) == "q->lock"
    assert key("&(*q2).lock", {"q2": "q"}) == "q->lock"
    assert key("(pthread_mutex_t *)l", {"l": "q->lock"}) == "q->lock"
    assert key("&q3->lock", {"q2": "q"}) == "q3->lock"


def test_lock_key_of_an_alias_declared_in_code():
    """The alias table built by the analysis for `pthread_mutex_t *l = &q->lock;`."""
    from lockls.engine.function import _aliases

    src = (b"void f(struct q *q, struct q *q2) {\n"
           b"  pthread_mutex_t *l = &q->lock;\n"
           b"  struct q *q3 = q;\n"
           b"  int n = 0;\n"
           b"  n = 1;\n"
           b"  pthread_mutex_lock(l);\n"
           b"}\n")
    tree = _PARSER.parse(src)
    body = tree.root_node.children[0].child_by_field_name("body")
    aliases = _aliases(body, src)
    assert aliases["l"] == "q->lock"
    assert aliases["q3"] == "q"
    assert "n" not in aliases  # assigned twice
    assert key_of("l", aliases) == "q->lock"
    assert key_of("&q3->lock", aliases) == "q->lock"
