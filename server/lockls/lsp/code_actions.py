"""textDocument/codeAction: the quick-fixes of the findings in a range.

Owns turning `fixes.fixes_for` (byte-range edits of the current text) into
`CodeAction`s with a `WorkspaceEdit`, each attached to the diagnostic it fixes.
The edits themselves are decided in `fixes.py`; this module only selects the
findings and converts positions. Asks the session for analyses, changes nothing
else in it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from lsprotocol import types as T

from lockls.lsp import fixes
from lockls.lsp.diagnostics import diagnostic
from lockls.lsp.lock_events import lock_events

if TYPE_CHECKING:
    from lockls.lsp.session import Session


def code_actions(session: Session, uri: str, rng: T.Range, only=None) -> Optional[list]:
    doc = session.documents.get(uri)
    if doc is None or doc.tree is None:
        return None
    if only and not any(str(getattr(k, "value", k)).startswith("quickfix") for k in only):
        return []
    result = session.analysis(uri)
    if result is None:
        return None
    start = doc.offset_at(rng.start.line, rng.start.character, session.encoding)
    end = doc.offset_at(rng.end.line, rng.end.character, session.encoding)
    out = []
    for f in result.findings:
        if f.site.end_byte < start or f.site.start_byte > end:
            continue
        diag = diagnostic(session, doc, f, result.base, result.outside)
        for title, edits, preferred in fixes.fixes_for(doc, f, f.violation.lock, result.config, lock_events(f.slot)):
            text_edits = [T.TextEdit(session.lsp_range(doc, a, b), text) for a, b, text in edits]
            out.append(T.CodeAction(
                title=title, kind=T.CodeActionKind.QuickFix, diagnostics=[diag], is_preferred=preferred or None,
                edit=T.WorkspaceEdit(changes={uri: text_edits})))
    return out
