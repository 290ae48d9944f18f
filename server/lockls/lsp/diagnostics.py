"""Diagnostics: findings and configuration errors as LSP `Diagnostic`s.

Owns the conversion: a finding's range, severity, rule code and rule page, its
related information (sites in the document, and where guards, orders and classes
were declared: this document, another open one, a file on disk or the
configuration file) and its `data` (rule, function, document version, lock) for
clients; and one error diagnostic per configuration problem, on the problem's
line of the configuration file. Which configuration files have problems is the
session's business (`Session.take_config_problems`), when to publish is
`server.py`'s. Asks the session for analyses, changes nothing else in it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Optional

from lsprotocol import types as T

from lockls.report.related import read_source, related_locations
from lockls.config import Config
from lockls.lsp.documents import UTF8, Document
from lockls.ir.events import Declared, Site
from lockls.engine.driver import Reported
from lockls.lsp.uris import path_to_uri, uri_to_path
from lockls.report.ruledocs import help_uri
from lockls.syntax.nodes import function_name_node

if TYPE_CHECKING:
    from lockls.lsp.session import Session

SOURCE = "lockls"
_SEVERITY = {"error": T.DiagnosticSeverity.Error, "warning": T.DiagnosticSeverity.Warning,
             "info": T.DiagnosticSeverity.Information, "hint": T.DiagnosticSeverity.Hint}


def document_diagnostics(session: Session, uri: str) -> Optional[tuple[Optional[int], list]]:
    """(version analysed, diagnostics) of an open C document, or None."""
    result = session.analysis(uri)
    if result is None:
        return None
    doc = session.documents[uri]
    return result.version, ([diagnostic(session, doc, f, result.base, result.outside) for f in result.findings]
                            + [_limit(session, doc, slot, message) for slot, message in result.limits]
                            + [_line_warning(session, doc, line, message) for line, message in result.warnings]
                            + [_line_warning(session, doc, line, message, unnecessary=True)
                               for line, message in result.unused])


def _line_warning(session: Session, doc: Document, line: int, message: str,
                  unnecessary: bool = False) -> T.Diagnostic:
    """A warning about a line of the text itself (a misspelt rule in a suppression), or
    with `unnecessary` a hint shown faded (a suppression that silences nothing)."""
    row = min(line - 1, doc.lines.line_count() - 1)
    start = doc.lines.starts[row]
    end = start + len(doc.line_bytes(row))
    if unnecessary:  # the comment itself, not the code before it
        comment = doc.source.find(b"lockls:", start, end)
        opener = max(doc.source.rfind(b"//", start, comment), doc.source.rfind(b"/*", start, comment))
        start = opener if comment >= 0 and opener >= 0 else start
    return T.Diagnostic(range=session.lsp_range(doc, start, end), message=message,
                        severity=T.DiagnosticSeverity.Hint if unnecessary else T.DiagnosticSeverity.Warning,
                        tags=[T.DiagnosticTag.Unnecessary] if unnecessary else None,
                        source=SOURCE, data={"suppression": True})


def _limit(session: Session, doc: Document, slot, message: str) -> T.Diagnostic:
    """An information diagnostic on the name of a function analysed in part or not at
    all: findings may be missing there, and the user should know why."""
    name = function_name_node(slot.fn)
    node = name if name is not None else slot.fn
    return T.Diagnostic(range=session.lsp_range(doc, node.start_byte, node.end_byte), message=message,
                        severity=T.DiagnosticSeverity.Information, source=SOURCE, data={"limit": True})


def diagnostic(session: Session, doc: Document, f: Reported, config: Config, outside=None) -> T.Diagnostic:
    """`f` as an LSP diagnostic; `config` (the document's configuration) says how
    declarations outside the function are spelled."""
    related = [
        T.DiagnosticRelatedInformation(T.Location(doc.uri, session.lsp_range(doc, s.start_byte, s.end_byte)), str(m))
        for s, m in f.related if isinstance(s, Site)
    ]
    declared = [(s, m) for s, m in f.related if isinstance(s, Declared)]
    if declared:
        related += _declared_locations(session, doc, declared, config, outside)
    lock = f.violation.lock
    data = {"rule": f.rule, "function": f.slot.name, "version": doc.version}
    if lock is not None:
        data["lock"] = lock.written
        data["key"] = lock.key
    return T.Diagnostic(
        range=session.lsp_range(doc, f.site.start_byte, f.site.end_byte),
        message=str(f.message),
        severity=_SEVERITY.get(config.severity(f.rule), T.DiagnosticSeverity.Warning),
        code=f.rule,
        code_description=T.CodeDescription(href=help_uri(f.rule)),
        source=SOURCE,
        related_information=related or None,
        data=data,
    )


def _declared_locations(session: Session, doc: Document, declared: list, config: Config, outside=None) -> list:
    """Where guards, orders and classes were declared: in this document, another
    open one, a file on disk or the configuration file."""
    out = []
    path = uri_to_path(doc.uri)
    for rel in related_locations(declared, path, doc.source, config, session.read_open_or_disk, outside):
        start, end = rel.span.start, rel.span.end
        col = (lambda p: p.byte_col) if session.encoding == UTF8 else (lambda p: p.utf16_col)
        rng = T.Range(T.Position(start.line, col(start)), T.Position(end.line, col(end)))
        uri = doc.uri if os.path.abspath(rel.path) == os.path.abspath(path) else path_to_uri(rel.path)
        out.append(T.DiagnosticRelatedInformation(T.Location(uri, rng), rel.message))
    return out


def config_file_diagnostics(session: Session, problems: dict[str, list]) -> list[tuple[str, list]]:
    """(uri, diagnostics) for each configuration file of `problems` (uri -> its
    ConfigErrors; [] clears the file's diagnostics)."""
    result = []
    for uri, errors in problems.items():
        doc = session.documents.get(uri)
        if doc is None:
            data = read_source(uri_to_path(uri))
            doc = Document(uri, data.decode("utf-8", "replace"), None) if data is not None else None
        diags = []
        for e in errors:
            line = (e.line - 1) if e.line else 0
            end_char = 0
            if doc is not None and line < doc.lines.line_count():
                end_char = doc.position_of(doc.lines.starts[line] + len(doc.line_bytes(line)), session.encoding)[1]
            diags.append(T.Diagnostic(
                range=T.Range(T.Position(line, 0), T.Position(line, end_char)),
                message=f"{e.key}: {e.message}" if e.key else e.message,
                severity=T.DiagnosticSeverity.Error, source=SOURCE))
        result.append((uri, diags))
    return result
