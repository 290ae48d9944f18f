"""textDocument/hover: what lockls knows at a position, as Markdown.

Owns the hover texts: on a `lockls: ignore[...]` comment, the documentation of the
rules it silences; on the name of a function lockls summarised or was told about,
what it does to its caller's locks and why; on a lock call, the lock, its kind, the local
aliases that make it the same lock as another expression (`host = p`, with links to their
lines when the client renders Markdown) and every place the function
takes or drops it; on guarded data, its guard and where that was declared; in an
entry point, that it starts with no lock held; anywhere in a function body, the
locks held there (computed by `lsp_probe`). Asks the session for analyses, changes nothing else in it.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Optional

from lsprotocol import types as T

from lockls.syntax import nodes as syntax
from lockls.config import Config, LockFunction
from lockls.lsp.documents import Document
from lockls.lowering.lockexpr import canonical, key_of, spelled_key
from lockls.report.related import related_locations
from lockls.ir.events import Access, Release, Return, TryAcquire
from lockls.engine.driver import FileAnalysis, Slot
from lockls.dataflow.lockstate import held_anywhere
from lockls.lsp.lock_events import event_at, lock_call_at, lock_events
from lockls.lsp.probe import PROBE_LOCK, probe_state
from lockls.lsp.uris import uri_to_path
from lockls.report.ruledocs import help_uri, rule_doc
from lockls.rules import RULES

if TYPE_CHECKING:
    from lockls.lsp.session import Session

_SUPPRESS = re.compile(r"lockls:\s*ignore(?:\[([^\]\n]*)\])?")
_ROOT = re.compile(r"^[A-Za-z_]\w*")
_SPACE = re.compile(r"\s+")
# values that name no object: an alias may also be set to one of them (`struct vm *held = NULL;`)
_NO_OBJECT = frozenset(("NULL", "0", "nullptr", "((void *)0)", "((void*)0)"))


def hover(session: Session, uri: str, line: int, character: int) -> Optional[T.Hover]:
    doc = session.documents.get(uri)
    if doc is None or doc.tree is None or line < 0 or line >= doc.lines.line_count():
        return None
    offset = doc.offset_at(line, character, session.encoding)
    node = doc.tree.root_node.descendant_for_byte_range(offset, offset)
    if node is not None and node.type == "comment":
        text = doc.source[node.start_byte:node.end_byte].decode("utf-8", "replace")
        m = _SUPPRESS.search(text)
        if m:
            return T.Hover(T.MarkupContent(T.MarkupKind.Markdown, _suppression_doc(m.group(1))),
                           session.lsp_range(doc, node.start_byte, node.end_byte))
    result = session.analysis(uri)
    if result is None:
        return None
    if node is not None and node.type == "identifier":
        fn = result.config.functions.get(doc.source[node.start_byte:node.end_byte].decode("utf-8", "replace"))
        if fn is not None and (fn.inferred or node.parent is None or node.parent.type != "call_expression"):
            # a function of the project: what it does to its caller's locks (a lock API call
            # itself gets the richer lock hover below)
            return T.Hover(T.MarkupContent(T.MarkupKind.Markdown, _summary_hover(fn)),
                           session.lsp_range(doc, node.start_byte, node.end_byte))
    slot = result.slot_at(offset)
    if slot is None or not (slot.body.start_byte < offset < slot.body.end_byte):
        return None
    parts = []
    call = lock_call_at(doc, slot, offset, result.config)
    if call is not None:
        parts.append(_call_hover(session, doc, slot, call, result.config))
    parts.append(_guard_hover(session, doc, slot, offset, result.config))
    if result.config.entry_points and result.config.is_entry_point(slot.name):
        parts.append(f"`{slot.name}` is an entry point: it starts with no lock held.")
    parts.append(_held_hover(session, doc, slot, offset, result))
    rng = session.lsp_range(doc, call.start_byte, call.end_byte) if call is not None else None
    return T.Hover(T.MarkupContent(T.MarkupKind.Markdown, "\n\n".join(p for p in parts if p)), rng)


def _summary_hover(fn: LockFunction) -> str:
    from lockls.dataflow.summaries import describe, origin_of

    return f"**{fn.name}**: {describe(fn)}\n\n{origin_of(fn, os.path.basename)}"


def _suppression_doc(rules_text: Optional[str]) -> str:
    if rules_text is None:
        return "**lockls: ignore** silences every rule on this line and the next."
    rules = [r.strip() for r in rules_text.split(",") if r.strip()]
    out = []
    for rule in rules:
        if rule in RULES:
            out.append(f"**{rule}** (silenced on this line and the next)\n\n{rule_doc(rule)}\n\n[Rule page]({help_uri(rule)})")
        else:
            out.append(f"**{rule}**: not a lockls rule (known rules: {', '.join(RULES)})")
    return "\n\n---\n\n".join(out)


def _call_hover(session: Session, doc: Document, slot: Slot, call, config: Config) -> str:
    name = syntax.call_name(call, doc.source)
    spec: LockFunction = config.functions[name]
    ev = event_at(slot, call.start_byte, call.end_byte)
    action = {"acquire": "acquires", "release": "releases", "try-acquire": "tries to acquire"}.get(spec.action, spec.action)
    if spec.shared:
        action += " (shared)"
    if ev is None:
        return f"`{name}` {action} the lock `{spec.lock_spec}`"
    kind = config.lock_kind_for(ev.key, ev.fn)
    kind_name = kind.name if kind is not None else (spec.kind or "unspecified")
    recursive = " (recursive)" if kind is not None and kind.recursive else ""
    lines = [f"**`{ev.written}`** — `{name}` {action} it", "",
             f"- lock: `{ev.key}`", f"- kind: `{kind_name}`{recursive}"]
    alias = _alias_note(session, doc, slot, ev)
    if alias:
        lines.insert(3, alias)
    # a release carries no class: the acquires of the same lock in the function do
    lock_class = getattr(ev, "lock_class", None) or next(
        (o.lock_class for o in lock_events(slot) if getattr(o, "key", None) == ev.key and getattr(o, "lock_class", None)), None)
    if lock_class is not None:
        lines.append(f"- class: `{lock_class}`")
    sites = []
    for other in lock_events(slot):
        if isinstance(other, Return) or other.key != ev.key:
            continue
        verb = "release" if isinstance(other, Release) else ("try-acquire" if isinstance(other, TryAcquire) else "acquire")
        line = doc.position_of(slot.from_base(other.site.start_byte), session.encoding)[0] + 1
        fname = other.fn.name if other.fn is not None else "?"
        here = " (this call)" if other is ev else ""
        sites.append(f"  - {verb} `{fname}` at line {line}{here}")
    if sites:
        lines.append(f"- in `{slot.name}`:")
        lines.extend(sites)
    return "\n".join(lines)


def _alias_note(session: Session, doc: Document, slot: Slot, ev) -> str:
    """`- same lock as `p->lock`: `host = p` at line 616` when the lock is written through
    local aliases (`lockexpr.key_of` followed them), each assignment with its line."""
    key = spelled_key(ev.written)
    if key == ev.key:
        return ""
    assigned: dict[str, list] = {}  # name -> its assignments' values, NULL aside
    for _, caps in syntax.matches("aliases", slot.body):
        value = caps["value"][0]
        if syntax.text(value, doc.source) not in _NO_OBJECT:
            assigned.setdefault(syntax.text(caps["name"][0], doc.source), []).append(value)
    steps = []
    while key != ev.key and len(steps) < 8:
        root = _ROOT.match(key)
        values = assigned.get(root.group(0)) if root is not None else None
        if not values or len(values) != 1:
            return ""  # not an alias the analysis follows: say nothing rather than guess
        value = values[0]
        line = doc.position_of(value.start_byte, session.encoding)[0] + 1
        where = f"[line {line}]({doc.uri}#L{line})" if session.hover_markdown else f"line {line}"
        steps.append(f"`{root.group(0)} = {_SPACE.sub(' ', syntax.text(value, doc.source))}` at {where}")
        key = key_of(canonical(value, doc.source)) + key[root.end():]
    return f"- same lock as `{ev.key}`: " + ", ".join(steps) if key == ev.key else ""


def _guard_hover(session: Session, doc: Document, slot: Slot, offset: int, config: Config) -> str:
    """On guarded data: its guard, and where the guard was declared."""
    fr = slot.result
    if fr.cfg is None:
        return ""
    base = slot.to_base(offset)
    for block in fr.cfg.blocks:
        for ev in block.events:
            if isinstance(ev, Access) and ev.site.start_byte <= base <= ev.site.end_byte:
                text = f"`{ev.written}` is guarded by `{ev.guard}`"
                if ev.declared is not None:
                    path = uri_to_path(doc.uri)
                    for rel in related_locations([(ev.declared, "")], path, doc.source, config,
                                                 session.read_open_or_disk):
                        where = f"line {rel.span.start.line + 1}"
                        if os.path.abspath(rel.path) != os.path.abspath(path):
                            where = f"{os.path.basename(rel.path)}:{rel.span.start.line + 1}"
                        text += f" (declared at {where})"
                return text
    return ""


def _held_hover(session: Session, doc: Document, slot: Slot, offset: int, result: FileAnalysis) -> str:
    fr = slot.result
    if fr.skipped:
        return f"lockls could not analyse `{fr.name}`: {slot.skipped}"
    if fr.cfg is None:
        return "**Locks held here:** none"
    probe = probe_state(session.probe_parser, doc, slot, offset, result)
    if probe is None:
        return ""
    state, back = probe
    if not state:
        return "**Locks held here:** none (no path reaches this point)"
    sure, some = [], []
    for key, fact in held_anywhere(state):
        if key == PROBE_LOCK or getattr(fact, "written", "") == f"&{PROBE_LOCK}":
            continue
        everywhere = all((c.get(key) is not None and c.get(key).held) for c in state)
        lines = sorted({doc.position_of(back(s.start_byte), session.encoding)[0] + 1 for s in fact.sites})
        if fact.entry_held:
            where = "held by the caller on entry"
        else:
            where = "taken at line" + ("s " if len(lines) > 1 else " ") + ", ".join(map(str, lines))
        (sure if everywhere else some).append(f"`{fact.written}` ({where})")
    if not sure and not some:
        return "**Locks held here:** none"
    out = ["**Locks held here**"]
    if sure:
        out.append("- for sure: " + ", ".join(sure))
    if some:
        out.append("- on some paths: " + ", ".join(some))
    return "\n".join(out)
