"""Control-flow graphs of C functions, built from tree-sitter-c statements.

Owns: the statement structure of a function body: blocks, branches (with the
condition and the trail note of each edge), if/else chains, switch with
fall-through and default, for/while/do loops with break and continue, goto and
labels (a label's statements are its siblings in the tree), return, falling off
the end, `#if`/`#ifdef` blocks inside bodies, macro blocks (`list_for_each(...)
{...}` parses as a call, a MISSING `;` and a block), and lock guards: a block macro
that holds a lock for its block (`scoped_guard(...) {...}`) is a `for` loop (so
`break` and `continue` leave the block), and a conditional one branches: the
block with the lock held, or the failure statement of `scoped_cond_guard`.
Expressions are lowered by `lower.Lowerer`.

Blocks made for a function: `entry` (0) and `exit` (1); every return edges to
exit. Code after a jump starts a block with no predecessor (dead code).
Unanalysable syntax raises `Unanalysable`, and the caller skips the function.
"""

from __future__ import annotations

from bisect import bisect_left

import re
from dataclasses import replace
from typing import Optional

from tree_sitter import Node, Range

from lockls.ir.events import (HELD_TEST_PREFIXES, Acquire, Cond, Derive, Kill, Rebind, Release, Return, Site, TrailItem,
                              TryAcquire, mentions, result_of)
from lockls.config import LockFunction
from lockls.lowering.lockexpr import canonical, key_of, reached_through
from lockls.syntax.nodes import declared_name, misread_attribute, new_parser
from lockls.lowering.lower import Lowerer, flat, shown, statement_value, strip_parens
from lockls.lowering.guards import COND_GUARD_MACROS
from lockls.ir.cfg import CFG, Block, Edge, Unanalysable  # noqa: F401 (re-exported: the builder's output)
from lockls.ir.graphs import on_cycles
from lockls.ir.message import LineRef, Message

# Calls after which a path never returns (a lock still held there is not a leak).
NORETURN = frozenset({
    "abort", "exit", "_exit", "_Exit", "quick_exit", "__builtin_unreachable", "__builtin_trap",
    "panic", "BUG", "g_assert_not_reached", "g_error", "assert_not_reached", "unreachable",
    "__assert_fail", "err", "errx", "verr", "verrx", "longjmp", "siglongjmp", "abort_unless_debug",
})
# Assertions: the path goes on only where the condition (its first argument) holds
# (True) or fails (False): `assert(rc == 0)`, `AZ(err)` (varnish: asserts zero),
# `VERIFY0(x)` (zfs), `g_assert(ret)`, `BUG_ON(cond)`. A failed trylock the code
# asserts cannot happen then never reaches the unlock.
ASSERTIONS = {
    "assert": True, "assert_se": True, "g_assert": True, "g_assert_true": True, "g_assert_false": False,
    "g_assert_nonnull": True, "g_assert_null": False, "ovs_assert": True, "AN": True, "AZ": False, "PTOK": False,
    "VERIFY": True, "VERIFY0": False, "ASSERT": True, "ASSERT0": False, "BUG_ON": False,
}
# `VERIFY3U(a, <, b)` and its kin: the comparison must hold (OpenZFS, illumos)
# the boolean constants projects define for themselves (glib's TRUE, Solaris' B_TRUE)
_BOOLEAN_NAMES = {"TRUE": True, "FALSE": False, "B_TRUE": True, "B_FALSE": False}
_COMPARING_ASSERTION = re.compile(r"^(VERIFY|ASSERT)3[BUSP]?$")
# Macros followed by a block that run it repeatedly (`list_for_each_entry(...) {`).
_LOOP_MACRO = re.compile(r"(?i)for_?each|^for_|_for$|foreach")
_WORD = re.compile(r"[A-Za-z_$]\w*")
# statements that may be the body of a block macro written without braces
_BODY_STATEMENTS = frozenset({"expression_statement", "if_statement", "for_statement", "while_statement",
                              "do_statement", "switch_statement", "return_statement", "goto_statement",
                              "break_statement", "continue_statement"})
_JUMP_WORDS = re.compile(rb"\b(return|goto|break|continue)\b")


# `#if` conditions that are constants: their dead branch is not code
_PREPROC_CONSTANT = {"0": False, "1": True, "false": False, "true": True, "0L": False, "1L": True}


def _trail(line: int, before: str, after: str = "", loop: bool = False) -> TrailItem:
    """A branch taken at `line`, explained as "<before>at line N<after>"."""
    # (built directly: one per branch of every function, so on the hot path)
    return TrailItem(line, Message((before + "at ", LineRef(line), after) if after else (before + "at ", LineRef(line))),
                     loop)



class Builder:
    """Builds the CFG of one function definition."""

    def __init__(self, lowerer: Lowerer, source: bytes):
        self.lower = lowerer
        self.source = source
        self.blocks: list[Block] = []
        self.targets: set[int] = set()  # blocks some edge leads to (while building)
        self.labels: dict[str, int] = {}
        self.breaks: list[int] = []
        self.continues: list[int] = []
        # texts/keys of conditions that decide whether a lock call runs: only facts
        # about these are worth keeping paths apart for
        self.controlling: set[str] = set()
        self.declared: dict[str, int] = {}  # local name -> how many declarations (> 1: shadowed, or reused)
        self._guarding = False
        self._lock_names_at: Optional[list] = None  # (start, end) of each lock function's name (`_guards_lock`)
        # scoped acquisitions (guards, lockers, `scoped_guard(...) {}`) per open block,
        # released wherever control leaves the block; loops remember the depth they opened at
        self.scopes: list[list] = []
        self.break_depths: list[int] = []
        self.continue_depths: list[int] = []

    # -- plumbing ------------------------------------------------------------------

    def new(self) -> int:
        self.blocks.append(Block(len(self.blocks)))
        return len(self.blocks) - 1

    def edge(self, a: Optional[int], b: int, cond=None, truth=True, note=None) -> None:
        if a is not None:
            self.blocks[a].succs.append(Edge(b, cond, truth, note))
            self.targets.add(b)

    def events(self, block: int) -> list:
        return self.blocks[block].events

    def live(self, cur: Optional[int]) -> int:
        """The block to append to: `cur`, or a fresh unreachable block after a jump."""
        return cur if cur is not None else self.new()

    def label(self, name: str) -> int:
        if name not in self.labels:
            self.labels[name] = self.new()
        return self.labels[name]

    def line(self, node: Node) -> int:
        return node.start_point[0] + 1

    # -- functions -----------------------------------------------------------------

    def function(self, name: str, body: Node) -> CFG:
        entry, exit_ = self.new(), self.new()
        end = self.statement(body, entry)
        if end is not None:  # falls off the end: the closing brace returns
            close = body.child(body.child_count - 1)
            self.events(end).append(Return(Site.of(close), implicit=True))
            self.edge(end, exit_)
        _drop_useless_conditions(self.blocks, self.controlling)
        _drop_useless_kills(self.blocks, frozenset(n for n, count in self.declared.items() if count > 1))
        _compact(self.blocks, keep=(entry, exit_))
        return CFG(name, self.blocks, entry, exit_)

    # -- statements ----------------------------------------------------------------

    def statement(self, node: Node, cur: Optional[int]) -> Optional[int]:
        """Lower one statement starting in block `cur`; returns the block control
        continues in, or None when it never falls through."""
        if node.has_error and node.type in ("declaration", "expression_statement") \
                and _JUMP_WORDS.search(self.source, node.start_byte, node.end_byte):
            # `TRACE(x) return x;` misparsed into a declaration: the jump would be lost
            raise Unanalysable(Message.of("unparsable code with a jump at ", LineRef(self.line(node))))
        handler = getattr(self, "_s_" + node.type, None)
        if handler is not None:
            return handler(node, cur)
        if node.type in ("comment", ";", "{", "}", "type_definition", "struct_specifier", "preproc_def",
                         "preproc_function_def", "preproc_call", "preproc_include",
                         "linkage_specification", "enum_specifier", "union_specifier"):
            return cur
        if node.type == "function_definition":
            return self._misparsed_macro_block(node, cur)
        if node.is_error:
            return self._s_ERROR(node, cur)
        # anything else (asm, attributed statements, expressions) is lowered for its calls
        cur = self.live(cur)
        self.lower.expr(node, self.events(cur))
        return cur

    def sequence(self, nodes, cur: Optional[int]) -> Optional[int]:
        nodes = list(nodes)
        i = 0
        while i < len(nodes):
            node = nodes[i]
            nxt = nodes[i + 1] if i + 1 < len(nodes) else None
            after = nodes[i + 2] if i + 2 < len(nodes) else None
            trailing = self._trailing_cleanup(node, nxt, after)
            if trailing is not None:
                variable, function, value = trailing
                cur = self.live(cur)
                self.events(cur).append(Kill((variable,)))
                if value is not None:
                    self._alias_misparsed(variable, value, node)
                    self.lower.store(variable, value, self.events(cur), Site.of(node))
                self._register_cleanup(function, variable)
                i += 3 if value is not None else 2
                continue
            if nxt is not None and self._is_macro_head(node) and (
                    nxt.type == "compound_statement" or (nxt.type.endswith("statement") and self._is_loop_macro(node))
                    or (nxt.type in _BODY_STATEMENTS and self._is_scope_macro(node))):
                # `list_for_each_entry(...) { ... }`, or with a single statement as its body
                cur = self._macro_block(node, nxt, cur)
                i += 2
                continue
            cur = self.statement(node, cur)
            i += 1
        return cur

    def _guards_lock(self, start: int, end: int) -> bool:
        """Is a lock function named in [start, end)? The function's names are found once,
        in order (a search of each nested block's range was quadratic in the nesting)."""
        names = self.lower.lock_names
        if names is None:
            return True
        if self._lock_names_at is None:
            self._lock_names_at = spans = []
            at, stop = self.lower.origin, self.lower.end
            while (m := names.search(self.source, at, stop)) is not None:
                spans.append((m.start(), m.end()))
                at = max(m.end(), m.start() + 1)
        spans = self._lock_names_at
        i = bisect_left(spans, (start, -1))
        return i < len(spans) and spans[i][1] <= end

    def _is_macro_head(self, node: Node) -> bool:
        """`name(args)` with a MISSING `;`, then a block: a block-introducing macro."""
        if node.type != "expression_statement" or node.child_count < 2:
            return False
        last = node.child(node.child_count - 1)
        return last.is_missing and node.named_children[0].type == "call_expression"

    def _misparsed_macro_block(self, node: Node, cur: Optional[int]) -> Optional[int]:
        """C has no nested functions: this is a macro. `MACRO(x) { ... }` with a
        single identifier argument parses as `TYPE (x) { ... }`; anything else is
        a statement macro without `;` that hides what follows, and the function is
        not analysed."""
        macro, decl, body = (node.child_by_field_name(f) for f in ("type", "declarator", "body"))
        if macro is None or macro.type != "type_identifier" or decl is None \
                or decl.type != "parenthesized_declarator" or body is None:
            raise Unanalysable(Message.of("a macro the parser misread as a nested function at ", LineRef(self.line(node))))
        name = flat(macro, self.source)
        args = [c for c in decl.named_children if c.type != "comment"]
        cur = self.live(cur)
        fn = self.lower.functions.get(name)
        if _LOOP_MACRO.search(name):
            return self._loop(None, body, cur, note_text=f"`{name}(...)`", line=self.line(node))
        if fn is None or fn.scope != "macro":
            return self.statement(body, cur)
        event = self.lower.lock_event(fn, node, args, None)
        if event is None:
            return self.statement(body, cur)
        self.events(cur).append(event)
        return self._scoped_block([event], node, body, cur)

    def _trailing_cleanup(self, node: Node, nxt: Optional[Node], after: Optional[Node]):
        """The trailing GNU form `T *p __attribute__((cleanup(f))) = v;` misparses as
        `T * p` (MISSING `;`), an ERROR holding the attribute, then `v` (the `=` is
        lost). Returns (variable, cleanup function, value node or None)."""
        if nxt is None or nxt.type != "ERROR" or node.type != "expression_statement" or not node.named_child_count:
            return None
        product = node.named_children[0]
        if product.type != "binary_expression" or flat(product.child_by_field_name("operator"), self.source) != "*":
            return None
        variable = product.child_by_field_name("right")
        function = _cleanup_function(nxt, self.source)
        if variable is None or variable.type != "identifier" or function is None:
            return None
        value = after.named_children[0] if after is not None and after.type == "expression_statement" \
            and after.named_child_count else None
        return flat(variable, self.source), function, value

    def _alias_misparsed(self, variable: str, value: Node, declaration: Node) -> None:
        """`T *g __attribute__((cleanup(f))) = &q->lock;` lost its `=` to the parser (and
        `T *const __attribute__((cleanup(f))) g = &q->lock;` its declarator), so the
        search for local aliases missed it: `g` names `q->lock` from here on (the lock may
        have been taken by its own name before), unless it is assigned elsewhere too."""
        value = strip_parens(value)
        while value.type == "comma_expression" and value.child_by_field_name("right") is not None:
            value = strip_parens(value.child_by_field_name("right"))  # `(lock(&m), &m)`: its value is `&m`
        if value.type != "pointer_expression" or variable in self.lower.aliases \
                or self.declared.get(variable, 0) > 0 or self._assigned_elsewhere(variable, declaration):
            return
        self.lower.aliases = _AliasOverlay(self.lower.aliases, {variable: key_of(canonical(value, self.source),
                                                                                 self.lower.aliases)})

    def _assigned_elsewhere(self, variable: str, declaration: Node) -> bool:
        """Is `variable` assigned in the function outside `declaration`?"""
        assigned = re.compile(rb"\b" + re.escape(variable.encode()) + rb"\s*(?:[-+*/%&|^]|<<|>>)?=(?!=)")
        return any(not declaration.start_byte <= m.start() < declaration.end_byte
                   for m in assigned.finditer(self.source, self.lower.origin, self.lower.end))

    def _is_scope_macro(self, head: Node) -> bool:
        """`scoped_guard(spinlock, &l)`, a block macro that holds a lock for its body."""
        fn = head.named_children[0].child_by_field_name("function")
        spec = self.lower.functions.get(flat(fn, self.source)) if fn is not None and fn.type == "identifier" else None
        return spec is not None and spec.scope == "macro"

    def _is_loop_macro(self, head: Node) -> bool:
        fn = head.named_children[0].child_by_field_name("function")
        return fn is not None and bool(_LOOP_MACRO.search(flat(fn, self.source)))

    def _macro_block(self, head: Node, block: Node, cur: Optional[int]) -> Optional[int]:
        call = head.named_children[0]
        fn = call.child_by_field_name("function")
        name = flat(fn, self.source) if fn is not None else ""
        cur = self.live(cur)
        if name in COND_GUARD_MACROS:
            spec = self.lower.functions.get(name)
            if spec is not None and spec.scope == "macro":
                return self._cond_guard(call, spec, block, cur)
        before = len(self.events(cur))
        self.lower.expr(call, self.events(cur))
        if _LOOP_MACRO.search(name):
            return self._loop(None, block, cur, note_text=f"`{name}(...)`", line=self.line(head))
        scoped = [ev for ev in self.events(cur)[before:]
                  if isinstance(ev, (Acquire, TryAcquire)) and ev.fn.scope == "macro"]
        if not scoped:
            return self.statement(block, cur)
        return self._scoped_block(scoped, call, block, cur)

    def _scoped_block(self, scoped: list, head: Node, block: Node, cur: int, fail=None) -> Optional[int]:
        """`scoped_guard(spinlock, &l) { ... }`: the lock is held for the block and
        released on every way out of it. The macro is a `for` loop around the block
        (in the kernel, QEMU and libvirt alike), so `break` and `continue` in the
        block leave the block. A conditional guard (`scoped_guard(mutex_try, &m)`,
        `scoped_cond_guard(...)`) runs the block only when it took the lock; else
        `fail(block, after)` runs (the failure statement), or the block is skipped."""
        after = self.new()
        body = cur
        tried = next((ev for ev in scoped if isinstance(ev, TryAcquire)), None)
        if tried is not None:
            body, failed = self.new(), self.new()
            line, text = self.line(head), shown(head, self.source)
            cond = Cond(f"{tried.result} != 0", tried.result, "!=", "0")
            self.edge(cur, body, cond, True, _trail(line, f"when `{text}` takes `{tried.written}` "))
            self.edge(cur, failed, cond, False, _trail(line, f"when `{text}` fails "))
            self.edge(fail(failed, after) if fail is not None else failed, after)
        self._enter_macro_loop(after)
        self.scopes.append(scoped)
        end = self.statement(block, body)
        self._leave_macro_loop()
        close = block.child(block.child_count - 1) if block.type == "compound_statement" and block.child_count else block
        self.edge(self._close_scope(end, close), after)
        return after if after in self.targets else None  # `scoped_guard(...) { return x; }` never falls through

    def _enter_macro_loop(self, after: int) -> None:
        self.breaks.append(after)
        self.break_depths.append(len(self.scopes))
        self.continues.append(after)
        self.continue_depths.append(len(self.scopes))

    def _leave_macro_loop(self) -> None:
        self.breaks.pop()
        self.break_depths.pop()
        self.continues.pop()
        self.continue_depths.pop()

    def _cond_guard(self, call: Node, spec: LockFunction, block: Node, cur: int) -> Optional[int]:
        """`scoped_cond_guard(mutex_intr, return -EINTR, &d->lock) { ... }`: the block
        runs with the lock held when it was taken; otherwise the failure statement
        (`return ...`, `goto label`, `break`, an expression) runs and the block is skipped.
        The arguments are split at their top-level commas, as the preprocessor does:
        the failure statement is not an expression, and the parser reads it oddly."""
        groups: list[list[Node]] = [[]]
        arguments = call.child_by_field_name("arguments")
        for child in arguments.children[1:-1] if arguments is not None else ():
            if child.type == ",":
                groups.append([])
            elif child.type != "comment":
                groups[-1].append(child)
        line = self.line(call)
        if len(groups) < 3 or any(len(g) != 1 for i, g in enumerate(groups) if i != 1) or not groups[1]:
            if _JUMP_WORDS.search(self.source, call.start_byte, call.end_byte):
                raise Unanalysable(Message.of("a `scoped_cond_guard` the parser could not read at ", LineRef(line)))
            return self.statement(block, cur)
        args = [groups[0][0], groups[1][0]] + [g[0] for g in groups[2:]]
        for arg in args[2:]:
            self.lower.expr(arg, self.events(cur))
        event = self.lower.lock_event(spec, call, args, None)
        if isinstance(event, Acquire):  # a class lockls does not know: still conditional
            event = TryAcquire(event.key, event.written, event.site,
                               replace(event.fn, action="try-acquire", success="nonzero"), event.shared,
                               self.lower.temp(call), event.spinning, event.lock_class)
        if not isinstance(event, TryAcquire):
            raise Unanalysable(Message.of("a `scoped_cond_guard` without a lock at ", LineRef(line)))
        self.events(cur).append(event)
        fail = groups[1]
        return self._scoped_block([event], call, block, cur,
                                  fail=lambda b, after: self._fail_statement(fail[0], fail[-1], b, after))

    def _fail_statement(self, first: Node, last: Node, cur: int, after: int) -> Optional[int]:
        """Run the failure statement of a `scoped_cond_guard` (its own `for` loop:
        `break` and `continue` leave it). The parser read it as an expression, so it
        is parsed again as a statement (`_reparse_statements`), at its own byte
        offsets and points, so its nodes lower like the file's own."""
        start, end = first.start_byte, last.end_byte
        statements = _reparse_statements(self.source, first, last)
        if statements is None:
            if _JUMP_WORDS.search(self.source, start, end):
                raise Unanalysable(Message.of("a `scoped_cond_guard` failure statement the parser could not read at ",
                                                 LineRef(self.line(first))))
            self.lower.expr(first, self.events(cur))
            return cur
        first_block, first_event = len(self.blocks), len(self.events(cur))
        self._enter_macro_loop(after)
        end_block = self.sequence(statements, cur)
        self._leave_macro_loop()
        # the `;` that ended the copy is the `,` after the argument: sites stop before it
        for b in [cur, *range(first_block, len(self.blocks))]:
            evs = self.blocks[b].events
            for i in range(first_event if b == cur else 0, len(evs)):
                site = getattr(evs[i], "site", None)
                if site is not None and site.end_byte > end:
                    evs[i] = replace(evs[i], site=Site(site.start_byte, end, site.start, tuple(last.end_point)))
        return end_block

    def _s_compound_statement(self, node: Node, cur):
        self.scopes.append([])
        end = self.sequence((c for c in node.named_children), cur)
        close = node.child(node.child_count - 1) if node.child_count else node
        return self._close_scope(end, close)

    def _close_scope(self, cur: Optional[int], at: Node) -> Optional[int]:
        """Pop the innermost scope, releasing its scoped locks if control falls out of it."""
        scoped = self.scopes.pop()
        if cur is not None and scoped:
            self.events(cur).extend(_scope_releases(scoped, Site.of(at)))
        return cur

    def _leave_scopes(self, cur: Optional[int], depth: int, at: Node) -> None:
        """A jump out of every scope deeper than `depth`: release their scoped locks."""
        if cur is None:
            return
        for scoped in reversed(self.scopes[depth:]):
            self.events(cur).extend(_scope_releases(scoped, Site.of(at)))

    def _register_scoped(self, events: list, start: int) -> None:
        for ev in events[start:]:
            if isinstance(ev, (Acquire, TryAcquire)) and ev.fn.scope == "block" and self.scopes:
                self.scopes[-1].append(ev)

    def _s_expression_statement(self, node: Node, cur):
        cur = self.live(cur)
        asserted = self._assertion(node)
        if asserted is not None:
            condition, holds = asserted
            self.lower.accesses(node, self.events(cur))
            after, failed = self.new(), self.new()  # `failed` leads nowhere: the program stops
            self.branch(condition, cur, after if holds else failed, failed if holds else after)
            return after
        compared = self._comparing_assertion(node)
        if compared is not None:  # `VERIFY3B(f(x), ==, B_FALSE);`: holds, or the program stops
            value, op, const = compared
            self.lower.accesses(node, self.events(cur))
            cond = self.lower.compared(node, value, op, const, self.events(cur))
            after, failed = self.new(), self.new()
            self.controlling.add(cond.text)
            if cond.key:
                self.controlling.add(cond.key)
            self.edge(cur, after, cond, True)
            self.edge(cur, failed, cond, False)
            return after
        self.lower.accesses(node, self.events(cur))
        before = len(self.events(cur))
        self.lower.expr(node, self.events(cur))
        self._register_scoped(self.events(cur), before)
        inner = node.named_children[0] if node.named_child_count else None
        if inner is not None and inner.type == "call_expression":
            fn = inner.child_by_field_name("function")
            if fn is not None and fn.type == "identifier" and (flat(fn, self.source) in NORETURN
                                                               or flat(fn, self.source) in self.lower.noreturn):
                return None
        return cur

    def _assertion(self, node: Node) -> Optional[tuple[Node, bool]]:
        """(condition, whether it must hold) of `assert(cond);` and its kin (see ASSERTIONS)."""
        inner = node.named_children[0] if node.named_child_count else None
        if inner is None or inner.type != "call_expression":
            return None
        fn = inner.child_by_field_name("function")
        if fn is None or fn.type != "identifier":
            return None
        holds = ASSERTIONS.get(flat(fn, self.source))
        args = inner.child_by_field_name("arguments")
        named = [a for a in args.named_children if a.type != "comment"] if args is not None else []
        if holds is None or len(named) != 1:
            return None
        return named[0], holds

    def _comparing_assertion(self, node: Node) -> Optional[tuple[Node, str, Node]]:
        """(value, operator, constant) of `VERIFY3U(value, op, constant);` and its kin
        (the OpenZFS and illumos family: the comparison must hold)."""
        inner = node.named_children[0] if node.named_child_count else None
        if inner is None or inner.type != "call_expression":
            return None
        fn = inner.child_by_field_name("function")
        if fn is None or fn.type != "identifier" or not _COMPARING_ASSERTION.match(flat(fn, self.source)):
            return None
        args = inner.child_by_field_name("arguments")
        named = [a for a in args.named_children if a.type != "comment"] if args is not None else []
        if len(named) != 3 or named[1].type != "ERROR":
            return None
        op = flat(named[1], self.source).strip().rstrip(",").strip()  # (the parser's ERROR holds `==,`)
        if op not in ("==", "!=", "<", "<=", ">", ">=") or not self.lower.is_constant(named[2]):
            return None
        return named[0], op, named[2]

    def _s_declaration(self, node: Node, cur):
        cur = self.live(cur)
        self.lower.accesses(node, self.events(cur))
        cleanup = _cleanup_function(node, self.source)  # (of every declarator)
        cleanups = []
        for d in node.children_by_field_name("declarator"):
            name, own = declared_name(d), _declarator_cleanup(d, self.source)
            if name is None or (own or cleanup) is None:
                continue
            cleanups.append((own or cleanup, flat(name, self.source)))
            value = d.child_by_field_name("value") if d.type == "init_declarator" else None
            if own is not None and value is not None:
                # the search for local aliases does not read the misparsed declarator
                self._alias_misparsed(flat(name, self.source), value, node)
        before = len(self.events(cur))
        self._declaration(node, cur)
        self._register_scoped(self.events(cur), before)
        for function, variable in cleanups:
            self._register_cleanup(function, variable)
        return cur

    def _register_cleanup(self, function: str, variable: str) -> None:
        """`T *l __attribute__((cleanup(unlock_fn))) = ...;`: at the end of the block
        the compiler calls `unlock_fn(&l)`; when that releases a lock, so does the scope."""
        fn = self.lower.functions.get(function)
        if fn is None or fn.action != "release" or fn.lock_arg != 0 or not self.scopes:
            return
        key = key_of(variable, self.lower.aliases) + fn.path
        self.scopes[-1].append(ScopedLock(key, variable))

    def _declaration(self, node: Node, cur: int) -> None:
        for d in node.children_by_field_name("declarator"):
            if d.type == "init_declarator":
                self._init_declarator(d, cur)
                continue
            declared = declared_name(d)
            if declared is not None:
                word = flat(declared, self.source)
                self.declared[word] = self.declared.get(word, 0) + 1

    def _init_declarator(self, d: Node, cur: int) -> None:
        """`p = value` of a declaration: `p` is a new variable holding the value."""
        name_node = declared_name(d.child_by_field_name("declarator"))
        value = d.child_by_field_name("value")
        name = flat(name_node, self.source) if name_node is not None else None
        if name:
            self.declared[name] = self.declared.get(name, 0) + 1
            self.events(cur).append(Kill((name,)))
        if value is not None and name:
            self.lower.store(name, value, self.events(cur), Site.of(d))
        elif value is not None:
            self.lower.expr(value, self.events(cur))

    def _s_return_statement(self, node: Node, cur):
        cur = self.live(cur)
        value_node = node.named_children[0] if node.named_child_count else None
        value = None
        if value_node is not None and value_node.type != "comment":
            self.lower.accesses(value_node, self.events(cur))
            # the value's key: a trylock's result when it is returned, so the
            # caller can tell whether the lock was taken
            value = self.lower.value_key(value_node, self.events(cur))
        self._leave_scopes(cur, 0, node)
        self.events(cur).append(Return(Site.of(node), value=value))
        self.edge(cur, 1)
        return None

    def _s_break_statement(self, node: Node, cur):
        if self.breaks:
            self._leave_scopes(cur, self.break_depths[-1], node)
            self.edge(cur, self.breaks[-1])
        return None

    def _s_continue_statement(self, node: Node, cur):
        if self.continues:
            self._leave_scopes(cur, self.continue_depths[-1], node)
            self.edge(cur, self.continues[-1])
        return None

    def _s_goto_statement(self, node: Node, cur):
        label = node.child_by_field_name("label")
        if label is None:  # computed goto: where it goes is unknown
            return None
        name = flat(label, self.source)
        self._leave_scopes(cur, 1, node)  # labels are almost always in the function's own block
        self.edge(cur, self.label(name), note=_trail(self.line(node), f"via `goto {name}` "))
        return None

    def _s_labeled_statement(self, node: Node, cur):
        label = node.child_by_field_name("label")
        target = self.label(flat(label, self.source)) if label is not None else self.new()
        self.edge(cur, target)
        return self.sequence((c for c in node.named_children if c != label), target)

    def _s_if_statement(self, node: Node, cur):
        cur = self.live(cur)
        then_b, after = self.new(), self.new()
        alternative = node.child_by_field_name("alternative")
        else_b = self.new() if alternative is not None else after
        condition = node.child_by_field_name("condition")
        self._guarding = self._guards_lock(condition.end_byte if condition is not None else node.start_byte, node.end_byte)
        self.branch(condition, cur, then_b, else_b)
        self._guarding = False
        self.edge(self.statement(node.child_by_field_name("consequence"), then_b), after)
        if alternative is not None:
            body = [c for c in alternative.named_children if c.type != "comment"]
            self.edge(self.sequence(body, else_b), after)
        return after

    def _s_while_statement(self, node: Node, cur):
        return self._loop(node.child_by_field_name("condition"), node.child_by_field_name("body"), self.live(cur))

    def _s_for_statement(self, node: Node, cur):
        cur = self.live(cur)
        self.scopes.append([])  # what the initialiser declares lives until the loop ends
        init = node.child_by_field_name("initializer")
        misread = _misread_for_head(node)
        if misread is not None:
            cur = self._for_head_error(misread, init, cur)
        elif init is not None:
            cur = self.statement(init, cur) if init.type == "declaration" else self._expr_into(init, cur)
        body = node.child_by_field_name("body")
        after = self._loop(node.child_by_field_name("condition"), body, cur, update=node.child_by_field_name("update"))
        close = body.child(body.child_count - 1) if body is not None and body.type == "compound_statement" \
            and body.child_count else (body or node)
        return self._close_scope(after, close)

    def _for_head_error(self, error: Node, init: Optional[Node], cur: int) -> int:
        """A `for` initialiser the parser could not read: a declaration whose last
        declarator carries a trailing attribute (`for (int i = (lock(&m), 0), *g
        __attribute__((cleanup(f))) = v; ...)`, the kernel's scoped_guard written out) is an
        ERROR holding the type, the earlier declarators and `*g __attribute__(...) =`, and
        the parser takes `v` for the initialiser. Read as that declaration; anything else
        in the ERROR is lowered for its calls."""
        events = self.events(cur)
        self.lower.accesses(error, events)
        if init is not None:
            self.lower.accesses(init, events)
        children = error.children
        pending, cleanup = None, None  # the declarator an attribute and the `=` follow
        for i, child in enumerate(children):
            if child.type == "init_declarator":
                self._init_declarator(child, cur)
                pending = None
            elif child.type in ("identifier", "pointer_declarator", "array_declarator") \
                    and error.field_name_for_child(i) != "type":
                name = declared_name(child)
                pending = flat(name, self.source) if name is not None else None
            elif _typedef_pointer(child, self.source) is not None:  # `mutex_t *g`, read as a product
                pending = _typedef_pointer(child, self.source)
            elif child.type == "attribute_specifier":
                cleanup = _attribute_cleanup(child, self.source) or cleanup
            elif child.is_named and child.type not in ("primitive_type", "type_identifier", "sized_type_specifier",
                                                       "struct_specifier", "union_specifier", "enum_specifier",
                                                       "type_qualifier", "storage_class_specifier"):
                self.lower.expr(child, events)
        ends_in_assignment = bool(children) and children[-1].type == "="  # (a comment there: not read)
        if pending is None or (cleanup is None and not ends_in_assignment):
            if init is not None:  # not the declaration's shape: only its calls count
                self.lower.expr(init, events)
            return cur
        events.append(Kill((pending,)))
        if ends_in_assignment and init is not None:
            self._alias_misparsed(pending, init, error)
            self.lower.store(pending, init, events, Site.of(init))
        self.declared[pending] = self.declared.get(pending, 0) + 1
        if cleanup is not None:
            self._register_cleanup(cleanup, pending)
        return cur

    def _expr_into(self, node: Node, cur: int) -> int:
        self.lower.expr(node, self.events(cur))
        return cur

    def _loop(self, cond: Optional[Node], body: Optional[Node], cur: int, update: Optional[Node] = None,
              note_text: str = "", line: int = 0) -> int:
        header, body_b, after = self.new(), self.new(), self.new()
        step = self.new() if update is not None else header
        self.edge(cur, header)
        if cond is not None:
            self._guarding = body is not None and self._guards_lock(body.start_byte, body.end_byte)
            self.branch(cond, header, body_b, after, loop=True)
            self._guarding = False
        else:
            self.edge(header, body_b)
            if note_text:  # a macro loop may run zero times
                self.edge(header, after, note=_trail(line, f"when {note_text} ", " ends", loop=True))
        self.breaks.append(after)
        self.break_depths.append(len(self.scopes))
        self.continues.append(step)
        self.continue_depths.append(len(self.scopes))
        end = self.statement(body, body_b) if body is not None else body_b
        self.breaks.pop()
        self.break_depths.pop()
        self.continues.pop()
        self.continue_depths.pop()
        self.edge(end, step)
        if update is not None:
            self.lower.expr(update, self.events(step))
            self.edge(step, header)
        return after

    def _s_do_statement(self, node: Node, cur):
        cur = self.live(cur)
        body_b, cond_b, after = self.new(), self.new(), self.new()
        self.edge(cur, body_b)
        self.breaks.append(after)
        self.break_depths.append(len(self.scopes))
        self.continues.append(cond_b)
        self.continue_depths.append(len(self.scopes))
        end = self.statement(node.child_by_field_name("body"), body_b)
        self.breaks.pop()
        self.break_depths.pop()
        self.continues.pop()
        self.continue_depths.pop()
        self.edge(end, cond_b)
        body = node.child_by_field_name("body")
        self._guarding = body is not None and self._guards_lock(body.start_byte, body.end_byte)
        self.branch(node.child_by_field_name("condition"), cond_b, body_b, after, loop=True)
        self._guarding = False
        return after

    def _s_switch_statement(self, node: Node, cur):
        cur = self.live(cur)
        cond = strip_parens(node.child_by_field_name("condition"))
        key = self.lower.value_key(cond, self.events(cur))
        cond_text = key if key.startswith("$t") else flat(cond, self.source)
        after = self.new()
        body = node.child_by_field_name("body")
        children = list(body.named_children) if body is not None else []
        if body is not None and self._guards_lock(body.start_byte, body.end_byte):
            self.controlling.add(key)
        values = [self.lower.constant_text(v) for c in children if c.type == "case_statement"
                  for v in [c.child_by_field_name("value")] if v is not None]
        # `default:` (or the end of the switch) is reached only when no case matched
        no_match = cur
        for v in values:
            nxt = self.new()
            self.edge(no_match, nxt, Cond(f"{cond_text} == {v}", key, "==", v), False)
            no_match = nxt
        self.breaks.append(after)
        self.break_depths.append(len(self.scopes))
        prev, has_default = None, False
        for child in children:
            if child.type != "case_statement":
                prev = self.statement(child, prev)
                continue
            case_b = self.new()
            self.edge(prev, case_b)  # fall-through from the previous case
            value = child.child_by_field_name("value")
            line = self.line(child)
            if value is None:
                has_default = True
                self.edge(no_match, case_b, note=_trail(line, f"in `default:` "))
            else:
                vtext = self.lower.constant_text(value)
                c = Cond(f"{cond_text} == {vtext}", key, "==", vtext)
                self.edge(cur, case_b, c, True, _trail(line, f"in `case {shown(value, self.source)}:` "))
            prev = self.sequence((c for c in child.named_children if c != value), case_b)
        self.breaks.pop()
        self.break_depths.pop()
        self.edge(prev, after)
        if not has_default:
            self.edge(no_match, after)
        return after

    # -- preprocessor conditionals inside bodies ---------------------------------------

    def _preproc(self, node: Node, cur):
        cur = self.live(cur)
        after, then_b = self.new(), self.new()
        name = node.child_by_field_name("name")
        condition = node.child_by_field_name("condition")
        directive = flat(node.child(0), self.source) if node.child_count else "#if"
        if name is not None:
            negated = directive == "#ifndef"
            text = f"{'!' if negated else ''}defined({flat(name, self.source)})"
            shown = f"{directive} {flat(name, self.source)}"
        elif condition is not None:
            text = flat(condition, self.source)
            shown = f"{directive} {text}"
        else:
            text = shown = flat(node, self.source)[:40]
        line = self.line(node)
        cond = Cond(f"#if {text}")
        if self._guards_lock(node.start_byte, node.end_byte):
            self.controlling.add(cond.text)
        # `#if 0` is not code, and `#if 1` always is: only the other branch is compiled
        constant = _PREPROC_CONSTANT.get(text.strip("()")) if name is None and condition is not None else None
        alternative = node.child_by_field_name("alternative")
        if constant is not False:  # (the dead branch is not even read: `#if 0` often holds no C at all)
            self.edge(cur, then_b, cond, True, _trail(line, f"when `{shown}` "))
            skip = {name, condition, alternative}
            body = [c for c in node.named_children if c not in skip]
            self.edge(self.sequence(body, then_b), after)
        if constant is True:
            return after
        if alternative is None:
            self.edge(cur, after, cond, False, _trail(line, f"when `{shown}` is false "))
        else:
            else_b = self.new()
            self.edge(cur, else_b, cond, False, _trail(line, f"when `{shown}` is false "))
            if alternative.type == "preproc_else":
                self.edge(self.sequence(alternative.named_children, else_b), after)
            else:  # #elif / #elifdef: another conditional
                self.edge(self._preproc(alternative, else_b), after)
        return after

    _s_preproc_ifdef = _preproc
    _s_preproc_if = _preproc

    # -- errors --------------------------------------------------------------------

    def _s_ERROR(self, node: Node, cur):
        """Macro soup the parser could not read: fine unless it hides a jump."""
        if _JUMP_WORDS.search(self.source, node.start_byte, node.end_byte):
            raise Unanalysable(Message.of("unparsable code with a jump at ", LineRef(self.line(node))))
        children = node.children
        for ident, after in zip(children, children[1:]):
            # `STAT_INC(q) pthread_mutex_unlock(` + `&q->lock);`: a lock call split by the
            # parser's recovery would silently vanish
            if ident.type == "identifier" and after.type == "(" and flat(ident, self.source) in self.lower.functions:
                raise Unanalysable(Message.of("a lock call the parser could not read at ", LineRef(self.line(ident)),
                                                 " (a macro without its `;` before it?)"))
        cur = self.live(cur)
        for child in node.named_children:
            self.lower.expr(child, self.events(cur))
        return cur

    # -- conditions ----------------------------------------------------------------

    def branch(self, node: Optional[Node], cur: int, if_true: int, if_false: int, negated_text: str = "",
               loop: bool = False) -> None:
        """Edges from `cur` to `if_true`/`if_false` by the value of condition `node`,
        following && and || short-circuits and `!`."""
        if node is None:
            self.edge(cur, if_true)
            return
        node = strip_parens(node)
        if node.type == "unary_expression" and flat(node.child_by_field_name("operator"), self.source) == "!":
            arg = node.child_by_field_name("argument")
            return self.branch(arg, cur, if_false, if_true, "" if negated_text else shown(node, self.source), loop)
        if node.type == "binary_expression":
            op = flat(node.child_by_field_name("operator"), self.source)
            if op in ("&&", "||"):
                mid = self.new()
                left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
                if op == "&&":
                    self.branch(left, cur, mid, if_false, loop=loop)
                else:
                    self.branch(left, cur, if_true, mid, loop=loop)
                self.branch(right, mid, if_true, if_false, loop=loop)
                return
        if node.type == "compound_statement":  # a statement expression: `({ prepare(); trylock(m) == 0; })`
            value = statement_value(node)
            if value is not None:
                cur = self.sequence(value[0], cur)
                if cur is not None:
                    self.branch(value[1], cur, if_true, if_false, negated_text, loop)
                return
        if node.type in ("number_literal", "true", "false") or (
                node.type == "identifier" and flat(node, self.source) in _BOOLEAN_NAMES):
            value = node.type == "true" or (node.type == "number_literal" and flat(node, self.source).rstrip("uUlL") not in ("0", "0x0")) \
                or _BOOLEAN_NAMES.get(flat(node, self.source), False)
            self.edge(cur, if_true if value else if_false)  # while (1), do { } while (0), while (B_TRUE)
            return
        self.lower.accesses(node, self.events(cur))
        cond = self.lower.condition(node, self.events(cur))
        line = self.line(node)
        text = shown(node, self.source)
        true_note = _trail(line, f"when `{text}` ", loop=loop)
        false_note = _trail(line, f"when `{negated_text}` " if negated_text else f"when `{text}` is false ", loop=loop)
        if self._guarding:
            self.controlling.add(cond.text)
            if cond.key:
                self.controlling.add(cond.key)
        self.edge(cur, if_true, cond, True, true_note)
        self.edge(cur, if_false, cond, False, false_note)


_SCOPE_END = LockFunction("(end of scope)", "release", "arg0", unheld_ok=True)


class _AliasOverlay:
    """A function's local aliases with a few more found while building its CFG."""

    def __init__(self, base, extra: dict[str, str]):
        self.base, self.extra = base, extra

    def __bool__(self) -> bool:
        return True

    def __contains__(self, name: str) -> bool:
        return name in self.extra or name in self.base

    def __getitem__(self, name: str) -> str:
        return self.extra[name] if name in self.extra else self.base[name]

    def get(self, name: str, default=None):
        return self[name] if name in self else default


class ScopedLock:
    """A lock the end of a scope releases (a cleanup variable's lock)."""

    __slots__ = ("key", "written")

    def __init__(self, key: str, written: str):
        self.key, self.written = key, written


_REPARSE_HEAD = b"void f(void){"
_REPARSE_TAIL = b";}"


def _reparse_statements(source: bytes, first: Node, last: Node) -> Optional[list]:
    """The statements written from `first` to `last` (nodes of the file's tree), parsed
    on their own inside a dummy function, keeping their byte offsets and points;
    None when they do not parse. Only the dummy head, the statements and the
    dummy tail are parsed (included ranges), so the cost does not grow with the file."""
    start, end = first.start_byte, last.end_byte
    # the head goes on the nearest line before `start` with room for it
    head_at = -1
    line_end = start
    while line_end > 0:
        line_start = source.rfind(b"\n", 0, line_end) + 1
        if line_end - line_start >= len(_REPARSE_HEAD):
            head_at = line_end - len(_REPARSE_HEAD)
            break
        line_end = line_start - 1
    if head_at < 0:
        return None
    head_row = first.start_point[0] - source.count(b"\n", head_at, start)
    head_col = head_at - (source.rfind(b"\n", 0, head_at) + 1)
    tail_row, tail_col = last.end_point
    text = bytearray(source[:end])
    text[head_at:head_at + len(_REPARSE_HEAD)] = _REPARSE_HEAD
    text += _REPARSE_TAIL
    parser = new_parser()
    parser.included_ranges = [
        Range((head_row, head_col), (head_row, head_col + len(_REPARSE_HEAD)), head_at, head_at + len(_REPARSE_HEAD)),
        Range(tuple(first.start_point), tuple(last.end_point), start, end),
        Range((tail_row, tail_col), (tail_row, tail_col + len(_REPARSE_TAIL)), end, end + len(_REPARSE_TAIL)),
    ]
    root = parser.parse(bytes(text)).root_node
    if root.has_error or root.named_child_count != 1 or root.named_children[0].type != "function_definition":
        return None
    body = root.named_children[0].child_by_field_name("body")
    return list(body.named_children) if body is not None else None


def _cleanup_function(node: Node, source: bytes) -> Optional[str]:
    """`f` of an `__attribute__((cleanup(f)))` or `[[gnu::cleanup(f)]]` among a node's children
    (or its type's: `struct mutex __attribute__((cleanup(f))) *p`)."""
    kind = node.child_by_field_name("type") if node.type == "declaration" else None
    for child in (*node.children, *(kind.children if kind is not None else ())):
        if child.type == "attribute_specifier":
            function = _attribute_cleanup(child, source)
            if function is not None:
                return function
        elif child.type == "attribute_declaration":
            for attr in child.named_children:
                name = attr.child_by_field_name("name")
                if name is not None and flat(name, source) in ("cleanup", "__cleanup__"):
                    args = [a for a in attr.named_children if a.type == "argument_list"]
                    if args and args[0].named_child_count:
                        return flat(args[0].named_children[0], source)
    return None


def _attribute_cleanup(attribute: Node, source: bytes) -> Optional[str]:
    """`f` of one `__attribute__((cleanup(f)))`."""
    for call in attribute.named_children[0].named_children if attribute.named_child_count else ():
        if call.type == "call_expression" and flat(call.child_by_field_name("function"), source) in ("cleanup", "__cleanup__"):
            args = call.child_by_field_name("arguments")
            if args is not None and args.named_child_count:
                return flat(args.named_children[0], source)
    return None


_CLEANUP_TEXT = re.compile(rb"\b(?:__)?cleanup(?:__)?\s*\(\s*([A-Za-z_]\w*)\s*\)")


def _declarator_cleanup(declarator: Node, source: bytes) -> Optional[str]:
    """`f` of a cleanup attribute written inside one declarator (`*const __attribute__((cleanup(f))) p`,
    which the parser misreads: see `misread_attribute`), for that variable alone."""
    node: Optional[Node] = declarator
    while node is not None and node.type != "identifier":
        misread = misread_attribute(node)
        if misread is not None:
            m = _CLEANUP_TEXT.search(source, misread[0].start_byte, misread[0].end_byte)
            return m.group(1).decode() if m is not None else None
        node = node.child_by_field_name("declarator") if node.type != "parenthesized_declarator" \
            else (node.named_children[0] if node.named_child_count else None)
    return None


def _typedef_pointer(node: Node, source: bytes) -> Optional[str]:
    """`p` of `T *p` the parser read as the product `T * p` (`T` a typedef it does not know)."""
    if node.type != "binary_expression" or flat(node.child_by_field_name("operator"), source) != "*":
        return None
    left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
    return flat(right, source) if left is not None and left.type == "identifier" and right is not None \
        and right.type == "identifier" else None


def _misread_for_head(node: Node) -> Optional[Node]:
    """The ERROR where a `for` statement's initialiser should be (before its first `;`)."""
    for child in node.children:
        if child.type == ";":
            return None
        if child.is_error:
            return child
    return None


def _scope_releases(scoped: list, site: Site) -> list:
    """The releases at the end of a scope, innermost acquisition first."""
    return [Release(ev.key, ev.written, site, _SCOPE_END) for ev in reversed(scoped)]


def _drop_useless_conditions(blocks: list[Block], controlling: set[str]) -> None:
    """A branch condition only matters for what it lets a *later* test decide:
    one whose value (text or key) nothing else tests, sets or tries, or that
    no test guarding a lock call reads, is turned into a plain branch, so paths
    are not split by facts nobody needs."""
    sources: dict[str, set] = {}
    results: set[str] = set()  # trylock results and flags derived from them
    looping = _in_cycles(blocks)
    changed_in: dict[int, set] = {}  # a loop (its component) -> the names its blocks change
    structured: set[int] = set()  # components with a loop statement's test: not a retry by `goto`
    for i, component in looping.items():
        changed_in.setdefault(component, set()).update(
            n for ev in blocks[i].events for n in (ev.names if isinstance(ev, Kill) else
                                                    (ev.target,) if isinstance(ev, (Derive, Rebind)) else ()))
        if any(e.note is not None and e.note.loop for e in blocks[i].succs):
            structured.add(component)
    for i, b in enumerate(blocks):
        for e in b.succs:
            if e.cond is not None:
                # a test in a retry loop (`top: if (!embedded) e = find(k, &lock); ... goto
                # top;`) of a value the loop does not change is made again on the next round:
                # it decides its own later self. Not a call's value (made again, it may be
                # another); not in a loop statement (for every element of a list: tests of
                # values it does not change multiply its paths; no fixpoint in real code).
                again = i in looping and looping[i] not in structured and "(" not in e.cond.text \
                    and not any(mentions(e.cond.key or e.cond.text, n) for n in changed_in[looping[i]])
                ids = (id(e.cond), -i - 1) if again else (id(e.cond),)
                sources.setdefault(e.cond.text, set()).update(ids)
                if e.cond.key:
                    sources.setdefault(e.cond.key, set()).update(ids)
        for ev in b.events:
            if result_of(ev) is not None:  # a trylock, or an action only for some return values
                sources.setdefault(result_of(ev), set()).add(id(ev))
                results.add(result_of(ev))
                if isinstance(ev, TryAcquire) and ev.cleared:  # (`if (lock != NULL)` after `find(k, &lock)`)
                    sources.setdefault(ev.cleared, set()).add(id(ev))
                    results.add(ev.cleared)
            elif isinstance(ev, Derive):
                sources.setdefault(ev.target, set()).add(id(ev))
                if ev.cond is not None:
                    results.add(ev.target)
                    if ev.cond.key:
                        sources.setdefault(ev.cond.key, set()).add(id(ev))

    # a value the function returns: what a test said of it tells its callers whether it
    # took a lock (`if (err != 0) return err;`), for its summary
    returned = {ev.value for b in blocks for ev in b.events if isinstance(ev, Return) and ev.value}

    # pointers locks are reached through: `if (d)` after `lock(&d->lock)` is decided by
    # the lock (`lockstate.refine`: a lock held through `d` says `d` is not NULL)
    lock_keys = {ev.key for b in blocks for ev in b.events if isinstance(ev, (Acquire, Release, TryAcquire))}

    def null_test_of_lock(c: Cond) -> bool:
        if c.op not in ("==", "!=") or c.const not in ("0", "NULL", "nullptr"):
            return False
        pointers = tuple(p for p in (c.key, c.points_to) if p)
        return any(reached_through(k, p) for k in lock_keys for p in pointers)

    def useful(c: Cond) -> bool:
        if c.key is not None and (c.key in returned or c.key.startswith(HELD_TEST_PREFIXES)):
            return True  # (a lock test is decided by the path's locks, not by other tests)
        if c.text.startswith("#if ") and c.text in controlling:
            return True  # a configuration that takes or drops a lock: summaries tell them apart
        wanted = c.text in controlling or c.key in controlling or c.key in results
        return wanted and (len(sources.get(c.text, ())) > 1 or (c.key is not None and len(sources.get(c.key, ())) > 1))

    def reduced(e: Edge) -> Edge:
        if e.cond.key is not None and null_test_of_lock(e.cond):
            return Edge(e.target, replace(e.cond, records=False), e.truth, e.note)
        return Edge(e.target, None, e.truth, e.note)

    for b in blocks:
        if any(e.cond is not None and not useful(e.cond) for e in b.succs):
            b.succs = [reduced(e) if e.cond is not None and not useful(e.cond) else e for e in b.succs]


def _in_cycles(blocks: list[Block]) -> dict[int, int]:
    """The blocks on a cycle of the graph (a loop, a backward goto), each with its
    strongly connected component's number (a block that jumps to itself: its own)."""
    out = on_cycles(range(len(blocks)), lambda i: [e.target for e in blocks[i].succs])
    for i, b in enumerate(blocks):
        if i not in out and any(e.target == i for e in b.succs):
            out[i] = -i - 1
    return out


def _drop_useless_kills(blocks: list[Block], ambiguous: frozenset = frozenset()) -> None:
    """Facts only ever concern branch conditions and trylock results: a Kill of
    a value none of them mentions changes nothing, so it is dropped."""
    keys = set()
    for b in blocks:
        for e in b.succs:
            if e.cond is not None:
                keys.add(e.cond.text)
                if e.cond.key:
                    keys.add(e.cond.key)
        for ev in b.events:
            if result_of(ev) is not None:
                keys.add(result_of(ev))
            if isinstance(ev, TryAcquire) and ev.cleared:
                keys.add(ev.cleared)
            if isinstance(ev, (Acquire, Release, TryAcquire)) and "[" in ev.key \
                    and not ambiguous.intersection(_WORD.findall(ev.key)):
                keys.add(ev.key)  # `locks[i]`: a change of `i` makes it another lock
            if isinstance(ev, Return) and ev.value and _WORD.fullmatch(ev.value):
                keys.add(ev.value)  # `ret = DLT_PARENT; ... return (ret);`: for the summary
    words = {w for k in keys for w in _WORD.findall(k)}

    def useful(ev: Kill) -> bool:
        return any(_WORD.match(n) and _WORD.match(n).group(0) in words and any(mentions(k, n) for k in keys)
                   for n in ev.names)

    roots = {_WORD.match(ev.key).group(0) for b in blocks for ev in b.events
             if isinstance(ev, (Acquire, Release, TryAcquire)) and _WORD.match(ev.key)}

    def useful_rebind(ev: Rebind) -> bool:
        return ev.target in roots or ev.source in roots

    def keep(ev) -> bool:
        if isinstance(ev, Kill):
            return useful(ev)
        if isinstance(ev, Rebind):
            return useful_rebind(ev)
        if isinstance(ev, Derive):
            return ev.target in words and any(mentions(k, ev.target) for k in keys)
        return True

    def scoped(ev):
        # a name declared twice (an inner `int i` shadowing the outer loop's) may be either
        # variable: its change does not make `locks[i]` another lock
        if isinstance(ev, Kill) and ambiguous.intersection(ev.names):
            return replace(ev, moves_locks=False)
        return ev

    for b in blocks:
        if any(isinstance(ev, (Kill, Rebind, Derive)) for ev in b.events):
            b.events = [scoped(ev) for ev in b.events if keep(ev)]


def _compact(blocks: list[Block], keep: tuple[int, ...]) -> None:
    """Skip empty pass-through blocks and merge straight-line chains (fewer
    blocks, same paths). Edges with a condition or a trail note are kept."""
    def plain(b: Block) -> bool:
        return len(b.succs) == 1 and b.succs[0].cond is None and b.succs[0].note is None

    forward: dict[int, int] = {}
    for b in blocks:
        if b.id not in keep and not b.events and plain(b) and b.succs[0].target != b.id:
            forward[b.id] = b.succs[0].target

    resolved: dict[int, int] = {}  # a block in `forward` -> where its chain ends

    def resolve(t: int) -> int:
        path: list[int] = []
        on_path: set[int] = set()
        while t in forward and t not in on_path:  # (an empty endless loop ends the chain too)
            if t in resolved:
                t = resolved[t]
                break
            on_path.add(t)
            path.append(t)
            t = forward[t]
        for p in path:  # path compression: 4,000 nested `#if`s made chains followed 4,000 times
            resolved[p] = t
        return t

    preds = [0] * len(blocks)
    for b in blocks:
        if b.id in forward:
            continue
        b.succs = [Edge(resolve(e.target), e.cond, e.truth, e.note) if e.target in forward else e for e in b.succs]
        for e in b.succs:
            preds[e.target] += 1
    for b in blocks:
        if b.id in forward:
            b.succs, b.events = [], []
            continue
        while plain(b) and b.succs[0].target not in keep and b.succs[0].target != b.id and preds[b.succs[0].target] == 1:
            nxt = blocks[b.succs[0].target]
            b.events.extend(nxt.events)
            b.succs = nxt.succs
            nxt.events, nxt.succs = [], []
            preds[nxt.id] = 0


def build_cfg(name: str, body: Node, lowerer: Lowerer, source: bytes) -> CFG:
    return Builder(lowerer, source).function(name, body)
