"""Quick-fixes for findings, as byte-range edits of the current document text.

- `lock-leak`: insert the release paired with the acquire (same kind in the
  configuration, else the name with `lock` -> `unlock`, `irqsave` -> `irqrestore`),
  with the lock expression as written (plus the saved flags of an irqsave, the
  token of `idx = srcu_read_lock(...)`), on a new line before the `return` with its indentation (a braceless
  `if`/loop body gets braces); or `goto LABEL;` when a label of the function is
  followed by a release of that lock before any return.
- `double-lock`, `unlock-unheld`: remove the call statement (its whole line when
  it is alone on it; an empty statement `;` when it is a braceless body).
- every rule: `/* lockls: ignore[rule] */` at the end of the finding's line.

Edits are (start_byte, end_byte, new_text). Must not import pygls.
"""

from __future__ import annotations

import re
from typing import Optional

from lockls.config import Config, LockFunction
from lockls.ir.events import Acquire, Release, Return
from lockls.syntax.nodes import declared_name, text

_BRACELESS_PARENTS = {"if_statement": "consequence", "while_statement": "body", "for_statement": "body",
                      "do_statement": "body"}


def fixes_for(doc, finding, lock_event, config: Config, events: list) -> list:
    out = []
    try:
        if finding.rule == "lock-leak" and lock_event is not None:
            out.extend(_leak_fixes(doc, finding, lock_event, config, events))
        elif finding.rule in ("double-lock", "unlock-unheld"):
            fix = _remove_call(doc, finding)
            if fix is not None:
                out.append(fix)
    except Exception:  # a fix is a nicety: never fail the request
        import logging

        logging.getLogger("lockls.server").exception("computing fixes for %s", finding.rule)
    out.append(_suppress(doc, finding))
    return out


# -- helpers -----------------------------------------------------------------------

def _line_bounds(doc, offset: int) -> tuple[int, int]:
    """(start, end without the line break) of the LSP line holding `offset`."""
    line = doc.lines.line_of(offset)
    start = doc.lines.starts[line]
    return start, start + len(doc.line_bytes(line))


def _indent_of(doc, offset: int) -> str:
    start, end = _line_bounds(doc, offset)
    m = re.match(rb"[ \t]*", doc.source[start:end])
    return m.group(0).decode()


def _alone_before(doc, node_start: int) -> bool:
    start, _ = _line_bounds(doc, node_start)
    return doc.source[start:node_start].strip() == b""


def _unit(indent: str) -> str:
    return "\t" if indent.startswith("\t") else "    "


def _node_at(doc, start: int, end: int, types: tuple):
    node = doc.tree.root_node.descendant_for_byte_range(start, end)
    while node is not None and node.type not in types:
        node = node.parent
    return node


def release_function(acquire: LockFunction, config: Config) -> Optional[LockFunction]:
    """The release paired with an acquire: same kind, best name match; else lock -> unlock."""
    name = acquire.name
    guesses = [name.replace("lock", "unlock", 1).replace("irqsave", "irqrestore"),  # spin_lock_irqsave
               re.sub(r"(try|timed|rd|wr)?lock", "unlock", name, count=1),
               name.replace("lock", "unlock", 1), name.replace("Lock", "Unlock", 1),
               name.replace("acquire", "release"), name.replace("enter", "leave"), name.replace("get", "put")]
    releases = [f for f in config.functions.values() if f.action == "release"]
    if acquire.kind is not None:
        same = [f for f in releases if f.kind == acquire.kind]
        for g in guesses:
            for f in same:
                if f.name == g:
                    return f
        if len(same) == 1:
            return same[0]
        if same:
            prefix = lambda f: len(_common_prefix(f.name, name))  # noqa: E731
            return max(same, key=prefix)
    for g in guesses:
        if g in config.functions and config.functions[g].action == "release":
            return config.functions[g]
    return None


def _common_prefix(a: str, b: str) -> str:
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]:
        i += 1
    return a[:i]


# -- lock-leak -----------------------------------------------------------------------

def _leak_fixes(doc, finding, acquire, config: Config, events: list) -> list:
    out = []
    site = finding.site
    release = release_function(acquire.fn, config) if acquire.fn is not None else None
    call = _release_call(doc, finding, acquire, release) if release is not None else None
    if call is not None:
        edits = _insert_before(doc, site.start_byte, site.end_byte, call)
        if edits:
            where = "at the end of the function" if doc.source[site.start_byte:site.start_byte + 1] == b"}" else "before this return"
            out.append((f"Release `{acquire.written}` with `{release.name}` {where}", edits, True))
    goto = _goto_fix(doc, finding, acquire, events)
    if goto is not None:
        out.append(goto)
    return out


def _release_call(doc, finding, acquire, release: LockFunction) -> Optional[str]:
    """`spin_unlock(&l);`, with what the acquire's call says the release needs too:
    the saved flags of `spin_lock_irqsave(&l, flags)` and the token of
    `idx = srcu_read_lock(&ss)`."""
    if release.lock == "global":  # `rcu_read_unlock()` takes no argument
        return f"{release.name}();"
    if release.lock_arg != 0:
        return None
    if release.path:  # a wrapper: `q_unlock(q)` drops `q->lock`
        if not acquire.written.endswith(release.path):
            return None
        args = [acquire.written[:-len(release.path)]]
    else:
        args = [acquire.written]
    call = _acquire_call(doc, finding, acquire)
    if call is not None:
        given = call.child_by_field_name("arguments")
        given = given.named_children if given is not None else []
        if release.name.endswith("irqrestore") and len(given) > 1:
            args.append(text(given[1], doc.source))
        token = _assigned_to(doc, call)
        if token is not None and isinstance(acquire, Acquire):  # a plain lock whose value is kept: a token
            args.append(token)
    return f"{release.name}({', '.join(args)});"


def _acquire_call(doc, finding, acquire):
    slot = getattr(finding, "slot", None)
    if slot is None or acquire.site is None:
        return None
    start, end = slot.from_base(acquire.site.start_byte), slot.from_base(acquire.site.end_byte)
    node = _node_at(doc, start, end, ("call_expression",))
    return node if node is not None and node.start_byte == start else None


def _assigned_to(doc, call) -> Optional[str]:
    """`idx` in `idx = f(...)` or `int idx = f(...)`."""
    parent = call.parent
    target = None
    if parent is not None and parent.type == "assignment_expression" and parent.child_by_field_name("right") == call:
        target = parent.child_by_field_name("left")
    elif parent is not None and parent.type == "init_declarator" and parent.child_by_field_name("value") == call:
        target = declared_name(parent.child_by_field_name("declarator"))
    return text(target, doc.source) if target is not None else None


def _insert_before(doc, start: int, end: int, call: str) -> list:
    if doc.source[start:start + 1] == b"}":  # falling off the end: before the closing brace
        indent = _indent_of(doc, start)
        if _alone_before(doc, start):
            line_start, _ = _line_bounds(doc, start)
            return [(line_start, line_start, f"{indent}{_unit(indent)}{call}\n")]
        return [(start, start, f"{call} ")]
    ret = _node_at(doc, start, end, ("return_statement",))
    if ret is None:
        return []
    parent = ret.parent
    braceless = parent is not None and (
        (parent.type in _BRACELESS_PARENTS and parent.child_by_field_name(_BRACELESS_PARENTS[parent.type]) == ret)
        or parent.type == "else_clause")
    ret_text = doc.source[ret.start_byte:ret.end_byte].decode("utf-8", "replace")
    if braceless:
        owner = parent.parent if parent.type == "else_clause" else parent
        outer = _indent_of(doc, owner.start_byte if parent.type != "else_clause" else parent.start_byte)
        inner = _indent_of(doc, ret.start_byte) if _alone_before(doc, ret.start_byte) else outer + _unit(outer)
        if inner == outer:
            inner = outer + _unit(outer)
        prev = ret.prev_sibling
        cut = prev.end_byte if prev is not None else ret.start_byte
        if doc.source[cut:ret.start_byte].strip():  # a comment in between: keep it
            cut = ret.start_byte
            return [(cut, ret.end_byte, f"{{\n{inner}{call}\n{inner}{ret_text}\n{outer}}}")]
        return [(cut, ret.end_byte, f" {{\n{inner}{call}\n{inner}{ret_text}\n{outer}}}")]
    if _alone_before(doc, ret.start_byte):
        indent = _indent_of(doc, ret.start_byte)
        line_start, _ = _line_bounds(doc, ret.start_byte)
        return [(line_start, line_start, f"{indent}{call}\n")]
    return [(ret.start_byte, ret.start_byte, f"{call} ")]


def _goto_fix(doc, finding, acquire, events: list):
    slot = finding.slot
    ret = _node_at(doc, finding.site.start_byte, finding.site.end_byte, ("return_statement",))
    if ret is None:
        return None
    labels = []
    stack = [slot.body]
    while stack:
        node = stack.pop()
        if node.type == "labeled_statement":
            label = node.child_by_field_name("label") or node.named_children[0]
            labels.append((node.start_byte, doc.source[label.start_byte:label.end_byte].decode("utf-8", "replace")))
        stack.extend(node.named_children)
    best = None
    for start, name in sorted(labels):
        base = slot.to_base(start)
        for ev in events:
            if ev.site.start_byte < base:
                continue
            if isinstance(ev, Return):
                break
            if getattr(ev, "key", None) == acquire.key:
                if isinstance(ev, Release):
                    if best is None or (start > ret.start_byte and best[0] < ret.start_byte):
                        best = (start, name)
                break
    if best is None:
        return None
    name = best[1]
    title = f"Jump to `{name}` (releases `{acquire.written}`)"
    if ret.named_child_count:
        title += " — the return value is then the one at the label"
    return (title, [(ret.start_byte, ret.end_byte, f"goto {name};")], False)


# -- double-lock, unlock-unheld ---------------------------------------------------------

def _remove_call(doc, finding):
    call = _node_at(doc, finding.site.start_byte, finding.site.end_byte, ("call_expression",))
    if call is None:
        return None
    stmt = call.parent
    if stmt is None or stmt.type != "expression_statement" or stmt.named_child_count != 1:
        return None
    name = doc.source[call.start_byte:call.end_byte].decode("utf-8", "replace").split("(")[0].strip()
    title = f"Remove this `{name}` call"
    parent = stmt.parent
    if parent is None or parent.type not in ("compound_statement", "case_statement"):
        return (title, [(stmt.start_byte, stmt.end_byte, ";")], False)
    line_start, line_end = _line_bounds(doc, stmt.start_byte)
    if doc.source[line_start:stmt.start_byte].strip() == b"" and doc.source[stmt.end_byte:line_end].strip() == b"":
        nxt = doc.lines.line_of(line_start) + 1
        end = doc.lines.starts[nxt] if nxt < doc.lines.line_count() else line_end
        return (title, [(line_start, end, "")], True)
    end = stmt.end_byte
    while doc.source[end:end + 1] in (b" ", b"\t"):
        end += 1
    return (title, [(stmt.start_byte, end, "")], True)


# -- every rule ------------------------------------------------------------------------

def _suppress(doc, finding):
    _, line_end = _line_bounds(doc, finding.site.start_byte)
    return (f"Suppress `{finding.rule}` on this line", [(line_end, line_end, f" /* lockls: ignore[{finding.rule}] */")], False)
