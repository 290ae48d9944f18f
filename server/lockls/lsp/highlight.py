"""textDocument/documentHighlight: on a lock call, every call on the same lock.

Owns the highlights: within the function at the cursor, each acquire and
try-acquire of the lock (kind Read) and each release (kind Write). Asks the
session for analyses, changes nothing else in it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from lsprotocol import types as T

from lockls.ir.events import Release, Return
from lockls.lsp.lock_events import event_at, lock_call_at, lock_events

if TYPE_CHECKING:
    from lockls.lsp.session import Session


def highlights(session: Session, uri: str, line: int, character: int) -> Optional[list]:
    doc = session.documents.get(uri)
    if doc is None or doc.tree is None or line < 0 or line >= doc.lines.line_count():
        return None
    result = session.analysis(uri)
    if result is None:
        return None
    offset = doc.offset_at(line, character, session.encoding)
    slot = result.slot_at(offset)
    if slot is None:
        return None
    call = lock_call_at(doc, slot, offset, result.config)
    if call is None:
        return None
    ev = event_at(slot, call.start_byte, call.end_byte)
    if ev is None:
        return None
    out = []
    for other in lock_events(slot):
        if isinstance(other, Return) or other.key != ev.key:
            continue
        kind = T.DocumentHighlightKind.Write if isinstance(other, Release) else T.DocumentHighlightKind.Read
        out.append(T.DocumentHighlight(
            session.lsp_range(doc, slot.from_base(other.site.start_byte), slot.from_base(other.site.end_byte)), kind))
    return out
