"""textDocument/codeAction: the quick-fixes of the findings in a range, and
`source.fixAll.lockls` (the safe fixes of the whole document, for "fix all on save").

Owns turning `report.quickfixes.fixes_for` (byte-range edits of the current text)
into `CodeAction`s with a `WorkspaceEdit`, each quick-fix attached to the diagnostic
it fixes. The edits are made in `report.quickfixes` and which are safe is said in
`report.fixes` (`--fix` uses both); this module only selects the findings and
converts positions. Asks the session for analyses, changes nothing else in it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from lsprotocol import types as T

from lockls.report import fixes, quickfixes
from lockls.lsp.diagnostics import diagnostic
from lockls.lsp.lock_events import lock_events

if TYPE_CHECKING:
    from lockls.lsp.session import Session

FIX_ALL = "source.fixAll.lockls"


def _asked(kind: str, only) -> bool:
    """Whether `kind` is among the kinds of `only` (a kind covers its sub-kinds:
    `source` asks for `source.fixAll.lockls`)."""
    if not only:
        return kind == T.CodeActionKind.QuickFix.value
    return any(kind == k or kind.startswith(k + ".") for k in (str(getattr(k, "value", k)) for k in only))


def code_actions(session: Session, uri: str, rng: T.Range, only=None) -> Optional[list]:
    doc = session.documents.get(uri)
    if doc is None or doc.tree is None:
        return None
    quick, fix_all = _asked(T.CodeActionKind.QuickFix.value, only), _asked(FIX_ALL, only)
    if not quick and not fix_all:
        return []
    result = session.analysis(uri)
    if result is None:
        return None
    out = []
    if quick:
        start = doc.offset_at(rng.start.line, rng.start.character, session.encoding)
        end = doc.offset_at(rng.end.line, rng.end.character, session.encoding)
        for f in result.findings:
            if f.site.end_byte < start or f.site.start_byte > end:
                continue
            diag = diagnostic(session, doc, f, result.base, result.outside)
            for fix in quickfixes.fixes_for(doc, f, f.violation.lock, result.config, lock_events(f.slot)):
                text_edits = [T.TextEdit(session.lsp_range(doc, a, b), text) for a, b, text in fix.edits]
                out.append(T.CodeAction(
                    title=fix.title, kind=T.CodeActionKind.QuickFix, diagnostics=[diag],
                    is_preferred=fix.preferred or None, edit=T.WorkspaceEdit(changes={uri: text_edits})))
    if fix_all:
        action = _fix_all(session, doc, uri, result)
        if action is not None:
            out.append(action)
    return out


def _fix_all(session: Session, doc, uri: str, result) -> Optional[T.CodeAction]:
    """One action with the safe fixes of the document's findings (one a function, and
    none touching another: the rest after the next save, as `--fix` does in rounds)."""
    candidates, functions = [], []
    for f in result.findings:
        fix = fixes.chosen(quickfixes.fixes_for(doc, f, f.violation.lock, result.config, lock_events(f.slot),
                                           suppress=False), unsafe=False)
        if fix is not None:
            candidates.append(fix.edits)
            functions.append(f.slot.start)
    chosen = fixes.compatible(candidates, functions)
    if not chosen:
        return None
    edits = sorted((e for edits in chosen for e in edits), key=lambda e: (e[0], e[1]))
    return T.CodeAction(
        title=f"Fix all safely fixable lockls findings ({len(chosen)})", kind=FIX_ALL,
        edit=T.WorkspaceEdit(changes={uri: [T.TextEdit(session.lsp_range(doc, a, b), text) for a, b, text in edits]}))
