"""CFG shapes for each C construct (cfg.build_cfg).

Blocks may be merged or skipped by `_compact`, so the tests never depend on
block numbers: they locate blocks by the lock calls they contain (used as
markers: `L(a)` is `pthread_mutex_lock(&a)`) and ask about edges and
reachability.
"""

from __future__ import annotations

import pytest

from lockls.engine import function as analysis

from lockls.syntax import nodes as syntax
from lockls.lowering.build_cfg import CFG, Unanalysable, build_cfg
from lockls.config import default_config
from lockls.ir.events import Acquire, Cond, Release, Return, TryAcquire
from lockls.lowering.lower import SHOWN_MAX, Lowerer

_PARSER = syntax.new_parser()
_CONFIG = default_config()


# -- helpers ---------------------------------------------------------------------

def build(code: str) -> tuple[CFG, bytes]:
    """The CFG of the first function in `code` (`L(x)` marks stand for lock calls)."""
    code = code.replace("L(", "pthread_mutex_lock(&").replace("U(", "pthread_mutex_unlock(&")
    src = code.encode()
    tree = _PARSER.parse(src)
    fn, body = analysis.function_nodes(tree.root_node)[0]
    lowerer = Lowerer(src, _CONFIG, {}, frozenset())
    return build_cfg(syntax.function_name(fn, src), body, lowerer, src), src


def cfg_of(code: str) -> CFG:
    return build(code)[0]


def reachable(cfg: CFG, start: int | None = None, avoid=(), skip_edge=None) -> set[int]:
    """Blocks reachable from `start` (default: entry) without entering `avoid`
    (and without taking the edge `skip_edge` = (source, Edge))."""
    start = cfg.entry if start is None else start
    if start in avoid:
        return set()
    seen, todo = {start}, [start]
    while todo:
        b = todo.pop()
        for e in cfg.blocks[b].succs:
            if skip_edge is not None and (b, e) == skip_edge:
                continue
            if e.target not in seen and e.target not in avoid:
                seen.add(e.target)
                todo.append(e.target)
    return seen


def path(cfg: CFG, a: int, b: int, avoid=()) -> bool:
    """Is there a path of at least one edge from a to b (not entering `avoid`)?"""
    return any(b in reachable(cfg, e.target, avoid) or e.target == b
               for e in cfg.blocks[a].succs if e.target not in avoid)


def events(cfg: CFG, kind=None) -> list:
    """The events of the reachable blocks (in block order)."""
    live = reachable(cfg)
    return [ev for b in cfg.blocks if b.id in live for ev in b.events if kind is None or isinstance(ev, kind)]


def acquired(cfg: CFG) -> set[str]:
    return {ev.key for ev in events(cfg, Acquire)}


def block_of(cfg: CFG, key: str, kind=Acquire) -> int:
    """The one block holding the lock event of `key`."""
    found = [b.id for b in cfg.blocks for ev in b.events if isinstance(ev, kind) and ev.key == key]
    assert len(found) == 1, (key, found)
    return found[0]


def edges(cfg: CFG, live_only: bool = True) -> list:
    """(source, Edge) of every edge (of reachable blocks)."""
    live = reachable(cfg) if live_only else {b.id for b in cfg.blocks}
    return [(b.id, e) for b in cfg.blocks if b.id in live for e in b.succs]


def edges_into(cfg: CFG, target: int) -> list:
    return [(s, e) for s, e in edges(cfg) if e.target == target]


def only_edge_into(cfg: CFG, target: int):
    into = edges_into(cfg, target)
    assert len(into) == 1, into
    return into[0]


def cond_edges(cfg: CFG) -> list:
    """Edges that carry a condition (kept only when a later test may be decided by it)."""
    return [(s, e) for s, e in edges(cfg) if e.cond is not None]


def branch_edges(cfg: CFG, text: str | None = None) -> list:
    """The two-way branch edges (a condition or a `when ...` note), optionally of
    the test written `text`; a condition nobody re-tests is dropped, the note stays."""
    out = []
    for s, e in edges(cfg):
        if e.cond is None and (e.note is None or not str(e.note.text).startswith("when")):
            continue
        if text is not None and not (e.note is not None and str(e.note.text).startswith(f"when `{text}`")) \
                and not (e.cond is not None and e.cond.text == text):
            continue
        out.append((s, e))
    return out


def branch(cfg: CFG, text: str, truth: bool):
    """The one edge taken when the test written `text` is `truth`."""
    found = [(s, e) for s, e in branch_edges(cfg, text) if e.truth is truth]
    assert len(found) == 1, (text, truth, found)
    return found[0]


def returns(cfg: CFG) -> list:
    return events(cfg, Return)


def exits(cfg: CFG) -> bool:
    return cfg.exit in reachable(cfg)


# -- functions -------------------------------------------------------------------

def test_entry_and_exit_blocks():
    cfg = cfg_of("void f(void) { L(a); }")
    assert (cfg.entry, cfg.exit) == (0, 1)
    assert cfg.name == "f"
    assert cfg.blocks[cfg.exit].succs == []
    assert cfg.blocks[cfg.exit].events == []
    assert [b.id for b in cfg.blocks] == list(range(len(cfg.blocks)))


def test_falling_off_the_end_returns_at_the_closing_brace():
    cfg, src = build("void f(void)\n{\n  L(a);\n}\n")
    rets = returns(cfg)
    assert len(rets) == 1
    ret = rets[0]
    assert ret.implicit is True
    assert ret.value is None
    assert ret.site.start_byte == src.rindex(b"}")
    assert ret.site.end_byte == ret.site.start_byte + 1
    assert ret.site.line == 4
    b = block_of(cfg, "a")
    assert cfg.blocks[b].events[-1] is ret
    assert [e.target for e in cfg.blocks[b].succs] == [cfg.exit]


def test_return_edges_to_exit_with_its_value():
    cfg = cfg_of("int f(int x) {\n  L(a);\n  return (x * 2);\n}\n")
    rets = returns(cfg)
    assert len(rets) == 1
    assert rets[0].implicit is False
    assert rets[0].value == "x * 2"  # parentheses dropped, spaces normalised
    assert rets[0].site.line == 3
    b = block_of(cfg, "a")
    assert cfg.blocks[b].events[-1] is rets[0]
    assert [e.target for e in cfg.blocks[b].succs] == [cfg.exit]


def test_return_of_a_variable_and_bare_return():
    cfg = cfg_of("int f(int x) { L(a); if (x) return vm; return; }")
    assert sorted((r.value or "") for r in returns(cfg)) == ["", "vm"]
    assert all(not r.implicit for r in returns(cfg))
    for s, e in edges(cfg):
        if e.target == cfg.exit:
            assert isinstance(cfg.blocks[s].events[-1], Return)


def test_dead_code_after_return_is_unreachable():
    cfg = cfg_of("int f(int x) { L(a); return 0; L(b); x = 3; }")
    assert block_of(cfg, "b") not in reachable(cfg)
    assert acquired(cfg) == {"a"}
    # only the explicit return is live; the dead code's implicit return is not
    assert [(r.implicit, r.value) for r in returns(cfg)] == [(False, "0")]


# -- if ------------------------------------------------------------------------------

def test_if_else():
    cfg = cfg_of("void f(int x) { L(s); if (x) L(a); else L(b); L(d); }")
    a, b, d = block_of(cfg, "a"), block_of(cfg, "b"), block_of(cfg, "d")
    assert len({a, b, d}) == 3
    assert path(cfg, a, d) and path(cfg, b, d)
    assert not path(cfg, a, b) and not path(cfg, b, a)
    sa, ea = only_edge_into(cfg, a)
    sb, eb = only_edge_into(cfg, b)
    assert sa == sb == block_of(cfg, "s")
    assert (ea.truth, eb.truth) == (True, False)
    assert str(ea.note.text) == "when `x` at line 1"
    assert str(eb.note.text) == "when `x` is false at line 1"
    assert ea.note.loop is False and ea.note.line == 1
    # d is reached on both paths only
    assert d not in reachable(cfg, avoid={a, b})


def test_condition_kept_when_tested_again():
    cfg = cfg_of("void f(int x) { L(s); if (x) L(a); else L(b); L(d); if (x) U(a); }")
    _, ea = only_edge_into(cfg, block_of(cfg, "a"))
    _, eb = only_edge_into(cfg, block_of(cfg, "b"))
    assert ea.cond == eb.cond == Cond("x", "x", "!=", "0")
    _, eu = only_edge_into(cfg, block_of(cfg, "a", Release))
    assert (eu.cond, eu.truth) == (Cond("x", "x", "!=", "0"), True)


def test_condition_tested_once_is_dropped_but_keeps_its_note():
    cfg = cfg_of("void f(int x, int y) { if (x) L(a); if (y > 2) L(b); if (y) L(c); }")
    _, ea = only_edge_into(cfg, block_of(cfg, "a"))
    assert (ea.cond, ea.truth, str(ea.note.text)) == (None, True, "when `x` at line 1")
    # y is tested twice (as `y > 2` and `y`): both keep their conditions
    _, eb = only_edge_into(cfg, block_of(cfg, "b"))
    _, ec = only_edge_into(cfg, block_of(cfg, "c"))
    assert eb.cond == Cond("y > 2", "y", ">", "2")
    assert ec.cond == Cond("y", "y", "!=", "0")


def test_if_without_else():
    cfg = cfg_of("void f(int x) { L(s); if (x > 2) L(a); L(d); if (x > 2) U(d); }")
    s, a, d = block_of(cfg, "s"), block_of(cfg, "a"), block_of(cfg, "d")
    assert d in reachable(cfg, avoid={a})
    assert path(cfg, a, d)
    out = {e.truth: e for e in cfg.blocks[s].succs}
    assert set(out) == {True, False}
    assert out[True].target == a
    assert out[False].target == d
    assert out[True].cond == out[False].cond == Cond("x > 2", "x", ">", "2")
    assert str(out[False].note.text) == "when `x > 2` is false at line 1"


def test_else_if_chain():
    cfg = cfg_of("void f(int x) {\n if (x == 1) L(a);\n else if (x == 2) L(b);\n else L(c);\n L(d);\n}")
    a, b, c, d = (block_of(cfg, k) for k in "abcd")
    for p, q in [(a, b), (a, c), (b, a), (b, c), (c, a), (c, b)]:
        assert not path(cfg, p, q)
    assert all(path(cfg, k, d) for k in (a, b, c))
    _, ea = only_edge_into(cfg, a)
    sb, eb = only_edge_into(cfg, b)
    sc, ec = only_edge_into(cfg, c)
    # both tests read x: their conditions are kept
    assert (ea.cond, ea.truth) == (Cond("x == 1", "x", "==", "1"), True)
    assert (eb.cond, eb.truth) == (Cond("x == 2", "x", "==", "2"), True)
    assert (ec.cond, ec.truth) == (Cond("x == 2", "x", "==", "2"), False)
    assert sb == sc  # the second test is one block, reached when the first is false
    (_, e2), = edges_into(cfg, sb)
    assert (e2.cond, e2.truth) == (Cond("x == 1", "x", "==", "1"), False)
    assert (ea.note.line, eb.note.line, ec.note.line) == (2, 3, 3)


def test_not_swaps_the_edges():
    cfg = cfg_of("void f(int x) {\n if (!x) L(a); else L(b);\n if (x) U(a);\n}")
    _, ea = only_edge_into(cfg, block_of(cfg, "a"))
    _, eb = only_edge_into(cfg, block_of(cfg, "b"))
    assert ea.cond == eb.cond == Cond("x", "x", "!=", "0")
    assert (ea.truth, eb.truth) == (False, True)
    assert str(ea.note.text) == "when `!x` at line 2"
    assert str(eb.note.text) == "when `x` at line 2"


def test_double_not_is_the_plain_test():
    cfg = cfg_of("void f(int x) { if (!!x) L(a); else L(b); if (x) U(a); }")
    _, ea = only_edge_into(cfg, block_of(cfg, "a"))
    _, eb = only_edge_into(cfg, block_of(cfg, "b"))
    assert (ea.cond.key, ea.truth, eb.truth) == ("x", True, False)


def test_and_short_circuit_has_an_intermediate_block():
    cfg = cfg_of("void f(int x, int y) { L(s); if (x && y) L(a); else L(b); }")
    s, a, b = block_of(cfg, "s"), block_of(cfg, "a"), block_of(cfg, "b")
    out = {e.truth: e for e in cfg.blocks[s].succs}
    assert str(out[True].note.text) == "when `x` at line 1"
    mid = out[True].target
    assert mid not in (a, b, s)
    assert cfg.blocks[mid].events == []
    mid_out = {e.truth: e for e in cfg.blocks[mid].succs}
    assert str(mid_out[True].note.text) == "when `y` at line 1"
    assert mid_out[True].target == a
    assert mid_out[False].target == b
    assert out[False].target == b  # x false skips the test of y
    assert a not in reachable(cfg, avoid={mid})


def test_or_short_circuit_has_an_intermediate_block():
    cfg = cfg_of("void f(int x, int y) { L(s); if (x || y) L(a); else L(b); if (x) U(a); if (y) U(b); }")
    s, a, b = block_of(cfg, "s"), block_of(cfg, "a"), block_of(cfg, "b")
    out = {e.truth: e for e in cfg.blocks[s].succs}
    assert out[True].target == a  # x true skips the test of y
    assert out[True].cond == Cond("x", "x", "!=", "0")
    mid = out[False].target
    assert mid not in (a, b, s)
    mid_out = {e.truth: e for e in cfg.blocks[mid].succs}
    assert mid_out[True].cond == Cond("y", "y", "!=", "0")
    assert (mid_out[True].target, mid_out[False].target) == (a, b)
    assert b not in reachable(cfg, avoid={mid})


def test_constant_conditions_have_no_test():
    cfg = cfg_of("void f(void) { if (0) L(a); if (1) L(b); L(c); }")
    assert block_of(cfg, "a") not in reachable(cfg)
    assert acquired(cfg) == {"b", "c"}
    assert branch_edges(cfg) == []


# -- switch --------------------------------------------------------------------------

SWITCH = """void f(int x) {
  L(s);
  switch (x) {
  case 1:
    L(a);
  case 2:
    L(b);
    break;
  default:
    L(c);
  }
  L(d);
}"""


def test_switch_cases_fall_through_and_default():
    cfg = cfg_of(SWITCH)
    s, a, b, c, d = (block_of(cfg, k) for k in "sabcd")
    case_edges = {e.cond.const: (src, e) for src, e in cond_edges(cfg) if e.truth and e.cond.op == "=="}
    assert set(case_edges) == {"1", "2"}
    for value, target, line in (("1", a, 4), ("2", b, 6)):
        src, e = case_edges[value]
        assert src == s  # from the dispatch block
        assert e.cond == Cond(f"x == {value}", "x", "==", value)
        assert e.target == target
        assert str(e.note.text) == f"in `case {value}:` at line {line}"
    # fall-through from case 1 into case 2, break to after
    assert [e.target for e in cfg.blocks[a].succs] == [b]
    assert cfg.blocks[a].succs[0].cond is None
    assert path(cfg, b, d) and not path(cfg, b, c)
    # default: reached from the dispatch without going through a case...
    assert c in reachable(cfg, s, avoid={a, b})
    (_, e_default), = edges_into(cfg, c)
    assert str(e_default.note.text) == "in `default:` at line 9"
    # ...only when no case matched: every path to it says x is neither 1 nor 2
    no_match = {(e.cond.const, e.truth) for _, e in cond_edges(cfg) if not e.truth}
    assert no_match == {("1", False), ("2", False)}
    assert c not in reachable(cfg, skip_edge=next((src, e) for src, e in cond_edges(cfg)
                                                  if not e.truth and e.cond.const == "1"))
    # after the switch only through the cases and the default
    assert d not in reachable(cfg, avoid={a, b, c})
    assert path(cfg, c, d)


def test_switch_without_default_can_skip_every_case():
    cfg = cfg_of("void f(int x) { L(s); switch (x) { case 1: L(a); break; case 2: L(b); break; } L(d); }")
    s, a, b, d = (block_of(cfg, k) for k in "sabd")
    assert d in reachable(cfg, s, avoid={a, b})
    assert path(cfg, a, d) and path(cfg, b, d)
    assert not path(cfg, a, b)
    targets = {e.target: (src, e.cond) for src, e in cond_edges(cfg) if e.truth}
    assert targets[a] == (s, Cond("x == 1", "x", "==", "1"))
    assert targets[b] == (s, Cond("x == 2", "x", "==", "2"))
    # the edge to after is taken when no case matched
    (src, e), = [(src, e) for src, e in edges_into(cfg, d) if src not in (a, b)]
    assert (e.cond, e.truth) == (Cond("x == 2", "x", "==", "2"), False)


def test_switch_case_values_are_compacted_constants():
    cfg = cfg_of("void f(struct s *p) { switch (p->state) { case ST_IDLE: L(a); break; case (-1): L(b); break; } }")
    conds = {e.cond for _, e in cond_edges(cfg) if e.truth}
    assert conds == {Cond("p->state == ST_IDLE", "p->state", "==", "ST_IDLE"), Cond("p->state == -1", "p->state", "==", "-1")}


def test_switch_break_inside_a_loop_leaves_only_the_switch():
    cfg = cfg_of("void f(int x) { while (x) { switch (x) { case 1: L(a); break; } L(b); } L(d); }")
    a, b, d = block_of(cfg, "a"), block_of(cfg, "b"), block_of(cfg, "d")
    assert b in reachable(cfg, a, avoid={d})
    assert path(cfg, b, a)


def test_continue_inside_a_switch_goes_to_the_loop():
    cfg = cfg_of("void f(int x) { while (x) { switch (x) { case 1: L(a); continue; } L(b); } }")
    a, b = block_of(cfg, "a"), block_of(cfg, "b")
    (e,) = cfg.blocks[a].succs
    header = e.target
    assert [str(x.note.text) for x in cfg.blocks[header].succs] == ["when `x` at line 1", "when `x` is false at line 1"]
    assert b not in reachable(cfg, a, avoid={header})


# -- loops ---------------------------------------------------------------------------

def test_while_loop_has_a_back_edge_and_an_exit():
    cfg = cfg_of("void f(int x) {\n L(s);\n while (x) {\n  L(a);\n }\n L(d);\n}")
    s, a, d = (block_of(cfg, k) for k in "sad")
    assert path(cfg, a, a)  # the back edge
    assert d in reachable(cfg, avoid={a})  # zero iterations
    tests = [e for _, e in branch_edges(cfg)]
    assert sorted((e.truth, str(e.note.text), e.note.loop) for e in tests) == [
        (False, "when `x` is false at line 3", True), (True, "when `x` at line 3", True)]
    (header,) = {src for src, _ in branch_edges(cfg)}
    assert {e.target: e.truth for e in cfg.blocks[header].succs} == {a: True, d: False}
    assert [e.target for e in cfg.blocks[a].succs] == [header]
    assert [e.target for e in cfg.blocks[s].succs] == [header]


def test_while_break_goes_after_the_loop():
    cfg = cfg_of("void f(int x, int y) { while (x) { if (y) break; L(a); } L(d); }")
    a, d = block_of(cfg, "a"), block_of(cfg, "d")
    _, brk = branch(cfg, "y", True)
    assert brk.target == d
    assert brk.note.loop is False
    assert path(cfg, a, a)


def test_while_continue_goes_to_the_test():
    cfg = cfg_of("void f(int x, int y) { while (x) { if (y) continue; L(a); } L(d); }")
    header, _ = branch(cfg, "x", True)
    _, cont = branch(cfg, "y", True)
    assert cont.target == header
    assert [e.target for e in cfg.blocks[block_of(cfg, "a")].succs] == [header]


def test_for_loop_continue_goes_to_the_step():
    cfg = cfg_of("void f(int n, int y) { for (int i = 0; i < n; U(m), i++) { if (y) continue; L(a); } L(d); }")
    a, d = block_of(cfg, "a"), block_of(cfg, "d")
    step = block_of(cfg, "m", Release)  # the update runs in its own block
    header, _ = branch(cfg, "i < n", True)
    _, cont = branch(cfg, "y", True)
    assert cont.target == step != header
    assert [e.target for e in cfg.blocks[step].succs] == [header]
    assert [e.target for e in cfg.blocks[a].succs] == [step]
    _, exit_edge = branch(cfg, "i < n", False)
    assert exit_edge.target == d
    assert step not in reachable(cfg, avoid={header})  # the update runs after the body only


def test_for_initialiser_runs_once_before_the_test():
    cfg = cfg_of("void f(int n) { for (L(i0); n > 0; n--) { L(a); } }")
    init = block_of(cfg, "i0")
    header, _ = branch(cfg, "n > 0", True)
    assert init != header
    assert not path(cfg, header, init)


def test_for_break_goes_after():
    cfg = cfg_of("void f(int n) { for (int i = 0; i < n; i++) { L(a); if (i == 5) break; } L(d); }")
    a, d = block_of(cfg, "a"), block_of(cfg, "d")
    _, brk = branch(cfg, "i == 5", True)
    assert brk.target == d
    assert path(cfg, a, a)


def test_for_ever_has_no_exit_but_break():
    cfg = cfg_of("void f(int y) { for (;;) { L(a); if (y) break; } L(d); }")
    a, d = block_of(cfg, "a"), block_of(cfg, "d")
    src, brk = branch(cfg, "y", True)
    assert brk.target == d
    assert d not in reachable(cfg, skip_edge=(src, brk))
    assert path(cfg, a, a)
    assert len(branch_edges(cfg)) == 2  # only the test of y


def test_while_1_exits_only_through_break():
    cfg = cfg_of("void f(int y) { L(s); while (1) { L(a); if (y) break; L(b); } L(d); }")
    a, b, d = (block_of(cfg, k) for k in "abd")
    assert len(branch_edges(cfg)) == 2 and len(branch_edges(cfg, "y")) == 2  # no test of `1`
    src, brk = branch(cfg, "y", True)
    assert brk.target == d
    assert d not in reachable(cfg, skip_edge=(src, brk))
    assert path(cfg, b, a)
    assert not exits(cfg_of("void f(void) { L(s); while (1) { L(a); } }"))


def test_do_while_runs_the_body_first_and_loops():
    cfg = cfg_of("void f(int x) { L(s); do { L(a); } while (x); L(d); }")
    s, a, d = (block_of(cfg, k) for k in "sad")
    assert [e.target for e in cfg.blocks[s].succs] == [a]
    assert d not in reachable(cfg, avoid={a})
    assert path(cfg, a, a)
    _, again = branch(cfg, "x", True)
    _, done = branch(cfg, "x", False)
    assert again.target == a and done.target == d
    assert again.note.loop and done.note.loop


def test_do_while_0_has_no_back_edge():
    cfg = cfg_of("void f(int y) { L(s); do { L(a); if (y) break; L(b); } while (0); L(d); }")
    a, b, d = (block_of(cfg, k) for k in "abd")
    assert not path(cfg, a, a) and not path(cfg, b, a)
    assert path(cfg, b, d)
    _, brk = branch(cfg, "y", True)
    assert brk.target == d
    assert len(branch_edges(cfg)) == 2


def test_do_while_continue_goes_to_the_test():
    cfg = cfg_of("void f(int x, int y) { do { if (y) continue; L(a); } while (x > 3); }")
    test_block, _ = branch(cfg, "x > 3", True)
    _, cont = branch(cfg, "y", True)
    assert cont.target == test_block


def test_loop_macro_may_run_zero_times():
    cfg = cfg_of("void f(struct list *h) {\n list_for_each(p, h) {\n  L(p->lock);\n }\n L(d);\n}")
    a, d = block_of(cfg, "p->lock"), block_of(cfg, "d")
    assert d in reachable(cfg, avoid={a})
    assert path(cfg, a, a)
    notes = [e.note for _, e in edges(cfg) if e.note is not None]
    assert [(str(n.text), n.line, n.loop) for n in notes] == [("when `list_for_each(...)` at line 2 ends", 2, True)]


def test_loop_macro_with_one_argument_is_not_lost():
    """`for_each_online_cpu(cpu) { ... }` parses as a nested function definition:
    the builder must refuse it rather than drop the block silently."""
    code = "void f(void) {\n int cpu;\n for_each_online_cpu(cpu) {\n  L(a);\n }\n L(d);\n}"
    try:
        cfg = cfg_of(code)
    except Unanalysable as e:
        assert str(e) == "a macro the parser misread as a nested function at line 3"
        return
    assert acquired(cfg) == {"a", "d"}
    assert path(cfg, block_of(cfg, "a"), block_of(cfg, "a"))


def test_non_loop_macro_block_runs_once():
    cfg = cfg_of("void f(int n) { WITH_LOCK(x, y) { L(a); } L(d); }")
    assert block_of(cfg, "a") == block_of(cfg, "d")  # straight-line: merged into one block
    assert branch_edges(cfg) == []
    assert not path(cfg, block_of(cfg, "a"), block_of(cfg, "a"))


# -- goto and labels ------------------------------------------------------------------

def test_goto_forward():
    cfg = cfg_of("int f(int x) {\n L(a);\n if (x)\n  goto out;\n L(b);\nout:\n U(a);\n return 0;\n}")
    a, b = block_of(cfg, "a"), block_of(cfg, "b")
    out = block_of(cfg, "a", Release)
    gotos = [(s, e) for s, e in edges(cfg) if e.note is not None and str(e.note.text).startswith("via")]
    assert len(gotos) == 1
    s, e = gotos[0]
    assert e.target == out
    assert e.cond is None
    assert (str(e.note.text), e.note.line, e.note.loop) == ("via `goto out` at line 4", 4, False)
    assert out in reachable(cfg, avoid={b})
    assert path(cfg, b, out)  # the label is also reached by falling into it


def test_goto_backward_makes_a_loop():
    cfg = cfg_of("void f(int x) {\nagain:\n L(a);\n if (x) goto again;\n L(d);\n}")
    a = block_of(cfg, "a")
    assert path(cfg, a, a)
    (e,) = [e for _, e in edges(cfg) if e.note is not None and str(e.note.text).startswith("via")]
    assert str(e.note.text) == "via `goto again` at line 4"
    assert a in reachable(cfg, e.target)


def test_label_only_reached_by_goto():
    cfg = cfg_of("int f(int x) { if (x) goto err; L(a); return 0; err: L(e); return -1; }")
    a, err = block_of(cfg, "a"), block_of(cfg, "e")
    assert not path(cfg, a, err)
    assert err in reachable(cfg)
    assert sorted(r.value for r in returns(cfg)) == ["-1", "0"]


def test_goto_to_a_label_never_written_goes_nowhere_live():
    cfg = cfg_of("void f(int x) { L(a); goto missing; L(b); }")
    assert acquired(cfg) == {"a"}
    assert not exits(cfg)


# -- preprocessor conditionals ---------------------------------------------------------

def test_ifdef_inside_a_body_branches_both_ways():
    cfg = cfg_of("void f(void) {\n L(s);\n#ifdef DEBUG\n L(a);\n#endif\n L(d);\n}")
    s, a, d = (block_of(cfg, k) for k in "sad")
    out = {e.truth: e for e in cfg.blocks[s].succs}
    assert out[True].target == a
    assert out[False].target == d
    assert str(out[True].note.text) == "when `#ifdef DEBUG` at line 3"
    assert str(out[False].note.text) == "when `#ifdef DEBUG` is false at line 3"
    assert path(cfg, a, d)


def test_ifdef_tested_twice_keeps_its_condition():
    cfg = cfg_of("void f(void) {\n#ifdef DEBUG\n L(a);\n#endif\n work();\n#ifdef DEBUG\n U(a);\n#endif\n}")
    conds = [(e.cond, e.truth) for _, e in cond_edges(cfg)]
    assert sorted(conds, key=repr) == sorted([(Cond("#if defined(DEBUG)"), True), (Cond("#if defined(DEBUG)"), False)] * 2,
                                             key=repr)
    assert all(c.key is None and c.op is None for c, _ in conds)
    a, u = block_of(cfg, "a"), block_of(cfg, "a", Release)
    _, ea = only_edge_into(cfg, a)
    _, eu = only_edge_into(cfg, u)
    assert (ea.cond, ea.truth, eu.cond, eu.truth) == (Cond("#if defined(DEBUG)"), True, Cond("#if defined(DEBUG)"), True)


def test_ifndef_with_else():
    cfg = cfg_of("void f(void) {\n L(s);\n#ifndef NDEBUG\n L(a);\n#else\n L(b);\n#endif\n L(d);\n"
                 "#ifndef NDEBUG\n U(d);\n#endif\n}")
    s, a, b, d = (block_of(cfg, k) for k in "sabd")
    out = {e.truth: e for e in cfg.blocks[s].succs}
    assert out[True].cond == out[False].cond == Cond("#if !defined(NDEBUG)")
    assert (out[True].target, out[False].target) == (a, b)
    assert str(out[False].note.text) == "when `#ifndef NDEBUG` is false at line 3"
    assert path(cfg, a, d) and path(cfg, b, d) and not path(cfg, a, b)


def test_if_elif_chain():
    cfg = cfg_of("void f(void) {\n#if X > 1\n L(a);\n#elif defined(Y)\n L(b);\n#else\n L(c);\n#endif\n L(d);\n}")
    notes = {str(e.note.text) for _, e in branch_edges(cfg)}
    assert notes == {"when `#if X > 1` at line 2", "when `#if X > 1` is false at line 2",
                     "when `#elif defined(Y)` at line 4", "when `#elif defined(Y)` is false at line 4"}
    a, b, c, d = (block_of(cfg, k) for k in "abcd")
    assert all(path(cfg, k, d) for k in (a, b, c))
    assert not any(path(cfg, p, q) for p in (a, b, c) for q in (a, b, c) if p != q)


# -- calls that never return -----------------------------------------------------------

@pytest.mark.parametrize("call", ["abort()", "exit(1)", "_exit(2)", "__builtin_unreachable()", "longjmp(env, 1)"])
def test_noreturn_call_ends_the_path(call):
    cfg = cfg_of(f"void f(int x) {{ L(a); if (x) {{ L(b); {call}; L(c); }} U(a); }}")
    b = block_of(cfg, "b")
    assert cfg.blocks[b].succs == []
    assert block_of(cfg, "c") not in reachable(cfg)
    assert exits(cfg)
    assert cfg.exit not in reachable(cfg, b)


def test_ordinary_call_does_not_end_the_path():
    cfg = cfg_of("void f(void) { L(a); my_abort(); L(b); }")
    assert block_of(cfg, "a") == block_of(cfg, "b")
    assert exits(cfg)


# -- unparsable code ---------------------------------------------------------------------

@pytest.mark.parametrize("jump", ["return;", "goto out;", "break;"])
def test_error_node_hiding_a_jump_is_unanalysable(jump):
    code = f"void f(int x) {{ L(a); while (x) {{ FOO BAR(x) {jump} }} out: U(a); }}"
    tree = _PARSER.parse(code.replace("L(", "pthread_mutex_lock(&").replace("U(", "pthread_mutex_unlock(&").encode())
    assert tree.root_node.has_error
    with pytest.raises(Unanalysable, match=r"unparsable code with a jump at line 1"):
        cfg_of(code)


def test_error_node_without_a_jump_is_fine():
    code = "void f(int x) { L(a); FOO BAR(x) baz; U(a); @ ; }"
    assert _PARSER.parse(code.encode()).root_node.has_error
    cfg = cfg_of(code)
    assert acquired(cfg) == {"a"}
    assert exits(cfg)


@pytest.mark.parametrize("jump", ["return x;", "goto out;"])
def test_jump_hidden_in_a_declaration_error_is_not_lost(jump):
    code = f"int f(int x) {{ L(a); if (x) {{ TRACE(x) {jump} }} U(a); out: return 0; }}"
    try:
        cfg = cfg_of(code)
    except Unanalysable:
        return  # refusing the function is fine
    # otherwise the jump must be in the graph
    if jump.startswith("return"):
        assert "x" in [r.value for r in returns(cfg)]
    else:
        assert "via `goto out` at line 1" in [str(e.note.text) for _, e in edges(cfg) if e.note is not None]


# -- events are in evaluation order ------------------------------------------------------

def test_events_in_order_in_one_block():
    cfg = cfg_of("void f(void) { L(a); L(b); U(b); U(a); }")
    b = block_of(cfg, "a")
    kinds = [(type(ev).__name__, getattr(ev, "key", None)) for ev in cfg.blocks[b].events]
    assert kinds == [("Acquire", "a"), ("Acquire", "b"), ("Release", "b"), ("Release", "a"), ("Return", None)]


def test_reverse_postorder_starts_at_entry_and_covers_reachable_blocks():
    cfg = cfg_of(SWITCH)
    order = cfg.reverse_postorder()
    assert order[0] == cfg.entry
    assert set(order) == reachable(cfg)
    assert len(order) == len(set(order))
    # every forward (non-back) edge goes later in the order
    rank = {b: i for i, b in enumerate(order)}
    assert all(rank[s] < rank[e.target] for s, e in edges(cfg))


# -- kernel lock guards ---------------------------------------------------------------------

def test_scoped_cond_guard_runs_its_failure_statement_or_the_block():
    code = "int f(struct d *d) {\n scoped_cond_guard(mutex_intr, return -EINTR, &d->m) {\n  L(a);\n }\n L(b);\n return 0;\n}"
    cfg, src = build(code)
    tried = events(cfg, TryAcquire)
    assert [(ev.key, ev.fn.name, ev.fn.action) for ev in tried] == [("d->m", "scoped_cond_guard", "try-acquire")]
    fail_return = next(r for r in returns(cfg) if r.value == "-EINTR")
    assert src[fail_return.site.start_byte:fail_return.site.end_byte] == b"return -EINTR"
    assert fail_return.site.start == (1, 31)  # where `return` is written in the file
    a, b = block_of(cfg, "a"), block_of(cfg, "b")
    _, took = branch(cfg, "scoped_cond_guard(mutex_intr, return -EINTR, &d->m)", True)
    _, failed = branch(cfg, "scoped_cond_guard(mutex_intr, return -EINTR, &d->m)", False)
    assert str(took.note.text) == "when `scoped_cond_guard(mutex_intr, return -EINTR, &d->m)` takes `&d->m` at line 2"
    assert str(failed.note.text) == "when `scoped_cond_guard(mutex_intr, return -EINTR, &d->m)` fails at line 2"
    assert a in reachable(cfg, took.target) and a not in reachable(cfg, failed.target)
    assert b not in reachable(cfg, failed.target)  # the failure returns
    # the block's end releases the guard's lock before `L(b)`
    releases = [ev for ev in events(cfg, Release) if ev.key == "d->m"]
    assert [ev.site.start for ev in releases] == [(3, 1)]


@pytest.mark.parametrize("fail, after_reached", [("goto out", False), ("break", True), ("continue", True),
                                                  ("ret = -EINTR", True), ("{ ret = -EINTR; goto out; }", False)])
def test_scoped_cond_guard_failure_statements(fail, after_reached):
    code = (f"int f(struct d *d) {{\n int ret = 0;\n scoped_cond_guard(mutex_intr, {fail}, &d->m) {{\n  L(a);\n }}\n"
            " L(b);\nout:\n L(c);\n return ret;\n}")
    cfg = cfg_of(code)
    head = f"scoped_cond_guard(mutex_intr, {fail}, &d->m)"
    _, failed = branch(cfg, head if len(head) <= SHOWN_MAX else head[:SHOWN_MAX - 1].rstrip() + "…", False)
    b, c = block_of(cfg, "b"), block_of(cfg, "c")
    assert (b in reachable(cfg, failed.target)) is after_reached
    assert c in reachable(cfg, failed.target)
    if "goto" in fail:
        assert "via `goto out` at line 3" in [str(e.note.text) for _, e in edges(cfg) if e.note is not None]


def test_scoped_cond_guard_with_an_unreadable_failure_statement_is_unanalysable():
    code = "int f(struct d *d) {\n scoped_cond_guard(mutex_intr, do { goto out; } while (0), &d->m) {\n  L(a);\n }\nout:\n return 0;\n}"
    with pytest.raises(Unanalysable, match=r"a `scoped_cond_guard` the parser could not read at line 2"):
        cfg_of(code)


def test_conditional_scoped_guard_skips_its_block_when_the_try_fails():
    cfg = cfg_of("void f(struct d *d) {\n scoped_guard(mutex_try, &d->m) {\n  L(a);\n }\n L(b);\n}")
    assert [(ev.key, ev.fn.success) for ev in events(cfg, TryAcquire)] == [("d->m", "nonzero")]
    _, failed = branch(cfg, "scoped_guard(mutex_try, &d->m)", False)
    assert block_of(cfg, "a") not in reachable(cfg, failed.target)
    assert block_of(cfg, "b") in reachable(cfg, failed.target)


def test_plain_scoped_guard_takes_its_lock_without_a_branch():
    cfg = cfg_of("void f(struct d *d) {\n scoped_guard(spinlock_irqsave, &d->l) {\n  L(a);\n }\n}")
    assert [(ev.key, ev.fn.kind) for ev in events(cfg, Acquire) if ev.key == "d->l"] == [("d->l", "spinlock")]
    assert branch_edges(cfg) == []


def test_break_in_a_scoped_guard_leaves_the_guard_not_the_loop():
    cfg = cfg_of("void f(struct d *d, int n) {\n while (n--) {\n  scoped_guard(mutex, &d->m) {\n"
                 "   if (d->x)\n    break;\n   L(a);\n  }\n  L(b);\n }\n L(c);\n}")
    _, brk = branch(cfg, "d->x", True)
    assert block_of(cfg, "b") in reachable(cfg, brk.target, avoid={block_of(cfg, "a")})


@pytest.mark.parametrize("code, key", [("guard(rcu)();", "RCU"), ("scoped_guard(rcu) { }", "RCU"),
                                       ("rcu_read_lock();", "RCU"), ("rcu_read_lock_bh();", "RCU_BH")])
def test_rcu_takes_a_global_context(code, key):
    cfg = cfg_of(f"void f(void) {{ {code} }}")
    assert [(ev.key, ev.written, ev.shared, ev.spinning) for ev in events(cfg, Acquire)] == [(key, key, True, True)]
