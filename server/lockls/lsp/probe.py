"""The lock state at a position of a function, for hover: the *probe*.

Owns the probe: the function's text is analysed again (alone) with a call to a
pseudo lock function inserted just before the innermost statement holding the
hover position (wrapped in braces when that statement is the body of a braceless
`if`/loop). The lock state just before the probe is exactly the state at the start
of that statement on every path, with no mapping from source ranges to CFG blocks.
The approximation: a position in the middle of a statement reports the state at
the start of that statement (before its first lock call); a position between
statements, the state before the next statement of the block (or at the block's
closing brace).

Returns lock states, not text: `lsp_hover` renders them. Must not build
`lsprotocol` values.
"""

from __future__ import annotations

import dataclasses

from lockls.engine import function as analysis
from lockls.config import Config, LockFunction
from lockls.lsp.documents import Document
from lockls.ir.events import Release
from lockls.lru import Lru
from lockls.engine.driver import FileAnalysis, Slot

PROBE = "__lockls_probe__"
PROBE_LOCK = "__lockls_probe_lock__"
_STATEMENT_PARENTS = {"compound_statement", "case_statement", "labeled_statement"}
_BODY_FIELDS = {"if_statement": "consequence", "while_statement": "body", "for_statement": "body",
                "do_statement": "body"}


def probe_state(parser, doc: Document, slot: Slot, offset: int, result: FileAnalysis):
    """(lock state at the start of the statement at `offset`, new-offset -> document-offset),
    or None when there is no statement to probe; the state is () when no path reaches it.
    `parser` is a tree-sitter parser of the session's own (not the documents')."""
    where = _probe_point(doc, slot, offset)
    if where is None:
        return None
    a, b, wrap = where
    probe = f"{PROBE}(&{PROBE_LOCK});".encode()
    pre, post = (b"{" + probe + b" ", b" }") if wrap else (probe + b" ", b"")
    s = slot.start
    text = doc.source[s:a] + pre + doc.source[a:b] + post + doc.source[b:slot.end]
    ra, rb = a - s, b - s

    def back(x: int) -> int:
        if x < ra:
            return s + x
        if x < ra + len(pre):
            return a
        if x < ra + len(pre) + (rb - ra):
            return s + x - len(pre)
        if x < ra + len(pre) + (rb - ra) + len(post):
            return b
        return s + x - len(pre) - len(post)

    tree = parser.parse(text)
    fns = analysis.function_nodes(tree.root_node)
    if not fns:
        return None
    fn, body = fns[0]
    config = _probe_config(result.config)
    fr = analysis.analyze_function(fn, body, text, config, result.recursive_globals)
    if fr.cfg is None:
        return None

    def is_recursive(key, spec):
        return key in result.recursive_globals or config.is_recursive(key, spec)

    for ev, state in analysis.replay(fr.cfg, fr.states, is_recursive):
        if isinstance(ev, Release) and ev.fn is not None and ev.fn.name == PROBE:
            return state, back
    return (), back  # the probe was never reached: dead code


def _probe_point(doc: Document, slot: Slot, offset: int):
    """(start, end, wrap) of the statement to put the probe before, or None."""
    body = slot.body
    node = doc.tree.root_node.named_descendant_for_byte_range(offset, offset)
    if node is None:
        return None
    # between statements: the next statement of the block, or its closing brace
    if node.type in ("compound_statement", "case_statement") and node.start_byte < offset:
        for child in node.named_children:
            if child.type == "comment":
                continue
            if node.type == "case_statement" and child == node.child_by_field_name("value"):
                continue
            if child.end_byte > offset:
                return _statement_point(child)
        if node.type == "compound_statement":
            close = node.child(node.child_count - 1)
            return close.start_byte, close.start_byte, False
        return None
    while node is not None and node.start_byte >= body.start_byte:
        parent = node.parent
        if parent is None:
            return None
        if parent.type in _STATEMENT_PARENTS and node.type != "comment":
            if parent.type == "case_statement" and node == parent.child_by_field_name("value"):
                node = parent
                continue
            if parent.type == "labeled_statement" and node.type in ("statement_identifier", "identifier"):
                node = parent
                continue
            return _statement_point(node)
        field_name = _BODY_FIELDS.get(parent.type)
        if field_name and parent.child_by_field_name(field_name) == node:
            return node.start_byte, node.end_byte, True
        if parent.type == "else_clause" and node.type != "else":
            return node.start_byte, node.end_byte, True
        node = parent
    return None


def _statement_point(node):
    while node.type == "labeled_statement":  # the probe goes after the label(s)
        inner = [c for c in node.named_children if c.type not in ("statement_identifier", "identifier", "comment")]
        if not inner:
            break
        node = inner[-1]
    if node.type == "case_statement":
        stmts = [c for c in node.named_children if c != node.child_by_field_name("value") and c.type != "comment"]
        if not stmts:
            return None
        node = stmts[0]
    return node.start_byte, node.end_byte, True


_PROBE_CONFIGS: Lru = Lru(8)  # fingerprint -> config: every edit of a wrapper makes a new configuration


def _probe_config(config: Config) -> Config:
    return _PROBE_CONFIGS.get(config.fingerprint(), lambda: dataclasses.replace(
        config, functions={**config.functions, PROBE: LockFunction(PROBE, "release", "arg0")}))
