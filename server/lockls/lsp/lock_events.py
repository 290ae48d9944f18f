"""The lock calls of an analysed function, found again in the document's current text.

Owns the lookups that hover, document highlight, diagnostics and code actions share:
the lock events of a function in source order, the event of a given call, the lock
call at a cursor position, and the lock event a finding is about. Offsets passed in
are offsets of the current text; the events' sites are offsets of the text the
function was analysed in (its cached result may be older than the last edit):
`Slot.to_base`/`from_base` convert. Must not build `lsprotocol` values.
"""

from __future__ import annotations


from lockls.syntax import nodes as syntax
from lockls.config import Config
from lockls.lsp.documents import Document
from lockls.ir.events import Return
from lockls.engine.driver import Slot
from lockls.report.quickfixes import function_lock_events
from lockls.lsp.probe import PROBE


def lock_events(slot: Slot) -> list:
    """Every lock/return event of the function, in source order (sites in analysed-text
    offsets); computed once per analysis result, which every keystroke may reuse."""
    if slot.entry.lock_events is None:
        slot.entry.lock_events = function_lock_events(slot.result.cfg)
    return slot.entry.lock_events


def event_at(slot: Slot, start: int, end: int):
    base = slot.to_base(start)
    for ev in lock_events(slot):
        if isinstance(ev, Return):
            continue
        if ev.site.start_byte == base and ev.site.end_byte == slot.to_base(end):
            return ev
    return None


def lock_call_at(doc: Document, slot: Slot, offset: int, config: Config):
    """The call of a configured lock function around `offset`, within its statement, or None."""
    node = doc.tree.root_node.descendant_for_byte_range(offset, offset)
    while node is not None and node.start_byte >= slot.body.start_byte:
        if node.type == "call_expression":
            name = syntax.call_name(node, doc.source)
            if name in config.functions and name != PROBE:
                return node
        if node.type.endswith("statement") or node.type == "declaration":
            return None
        node = node.parent
    return None
