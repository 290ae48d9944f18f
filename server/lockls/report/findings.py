"""What the analysis reports: findings, their positions and related locations.

This module owns the plain data shared by the analysis and every front-end. It
must not know about tree-sitter, LSP or output formats. Positions carry the
column in three units (UTF-8 bytes, code points, UTF-16 code units) so that a
front-end never needs the source text again (the cache stores findings as JSON).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from lockls.ir.message import Message, as_message


@dataclass(frozen=True, slots=True)
class Pos:
    """A position in a file: 0-based line; columns 0-based in bytes, chars, UTF-16."""

    line: int
    byte_col: int
    char_col: int
    utf16_col: int


@dataclass(frozen=True, slots=True)
class Span:
    """A range in a file, with the byte offsets the analysis used."""

    start: Pos
    end: Pos
    start_byte: int
    end_byte: int


@dataclass(frozen=True, slots=True)
class Related:
    """Another place that explains a finding (e.g. where the lock was taken)."""

    path: str
    span: Span
    message: str


@dataclass(frozen=True, slots=True)
class TextEdit:
    """Replace bytes [start_byte, end_byte) with `new_text`; `span` locates them."""

    span: Span
    new_text: str


@dataclass(frozen=True, slots=True)
class Fix:
    """A suggested fix: a title, the edits that apply it, whether `--fix` may apply it
    ("safe"; "unsafe": only with `--unsafe-fixes`) and whether it is the finding's
    preferred fix."""

    title: str
    edits: tuple[TextEdit, ...]
    applicability: str = "unsafe"
    preferred: bool = False


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found in one function.

    `severity` is the rule's configured severity ("error", "warning", "info"),
    applied when the finding is reported ("" before; a cache entry does not keep it);
    `message` is text with line references (`str()` renders it); `function`
    names the enclosing function; `fixes` are optional quick-fixes.
    """

    rule: str
    severity: str
    message: Message
    path: str
    span: Span
    function: str
    related: tuple[Related, ...] = ()
    fixes: tuple[Fix, ...] = ()

    def __post_init__(self):
        if not isinstance(self.message, Message):
            object.__setattr__(self, "message", as_message(self.message))

    @property
    def text(self) -> str:
        return str(self.message)

    def sort_key(self):
        return (self.path, self.span.start.line, self.span.start.char_col, self.rule, self.text)


@dataclass(slots=True)
class FileResult:
    """Everything `--check` and the server need to know about one analysed file."""

    path: str
    findings: list[Finding] = field(default_factory=list)
    functions: int = 0  # functions analysed
    skipped: list[str] = field(default_factory=list)  # "name (line N): reason"
    partial: list[str] = field(default_factory=list)  # analysed, some findings may be missing: "name (line N): why"
    warnings: list = field(default_factory=list)  # [line, message] about the file itself (a misspelt suppression)
    unused: list = field(default_factory=list)  # [line, message] of suppressions that silence nothing
    error: Optional[str] = None  # the file could not be read or analysed at all


# -- serialisation (the cache and JSON output share it) ---------------------------

def _typed(value, kind, what: str):
    """`value` when it is a `kind` (a type or tuple of types; bool is no int), else TypeError:
    a cache entry is data read back, and a wrong type must not become a wrong result."""
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple)
                                                                               else (kind,))):
        raise TypeError(f"{what}: expected {getattr(kind, '__name__', kind)}, got {type(value).__name__}")
    return value


def _strings(value, what: str) -> list:
    return [_typed(v, str, what) for v in _typed(value, list, what)]


def _pos_from(d) -> Pos:
    if len(_typed(d, list, "position")) != 4:
        raise TypeError("position: expected 4 numbers")
    return Pos(*(_typed(n, int, "position") for n in d))


def _span_to(s: Span):
    return [list(_pos_tuple(s.start)), list(_pos_tuple(s.end)), s.start_byte, s.end_byte]


def _pos_tuple(p: Pos):
    return (p.line, p.byte_col, p.char_col, p.utf16_col)


def _span_from(d) -> Span:
    if len(_typed(d, list, "span")) != 4:
        raise TypeError("span: expected 4 parts")
    return Span(_pos_from(d[0]), _pos_from(d[1]), _typed(d[2], int, "span"), _typed(d[3], int, "span"))


def finding_to_dict(f: Finding) -> dict:
    return {
        "rule": f.rule,
        "message": f.message.encode(),
        "path": f.path,
        "span": _span_to(f.span),
        "function": f.function,
        "related": [[r.path, _span_to(r.span), r.message] for r in f.related],
        "fixes": [[x.title, [[_span_to(e.span), e.new_text] for e in x.edits], x.applicability, x.preferred]
                  for x in f.fixes],
    }


def finding_from_dict(d: dict) -> Finding:
    _typed(d, dict, "finding")
    return Finding(
        rule=_typed(d["rule"], str, "rule"),
        severity="",  # applied when reported
        message=Message.decode(d["message"]),
        path=_typed(d["path"], str, "path"),
        span=_span_from(d["span"]),
        function=_typed(d["function"], str, "function"),
        related=tuple(Related(_typed(p, str, "related"), _span_from(s), _typed(m, str, "related"))
                      for p, s, m in _typed(d["related"], list, "related")),
        fixes=tuple(
            Fix(_typed(t, str, "fix"), tuple(TextEdit(_span_from(s), _typed(txt, str, "fix"))
                                             for s, txt in _typed(edits, list, "fix")),
                _typed(applicability, str, "fix"), _typed(preferred, bool, "fix"))
            for t, edits, applicability, preferred in _typed(d["fixes"], list, "fixes")
        ),
    )


def file_result_to_dict(r: FileResult) -> dict:
    return {
        "path": r.path,
        "findings": [finding_to_dict(f) for f in r.findings],
        "functions": r.functions,
        "skipped": list(r.skipped),
        "partial": list(r.partial),
        "warnings": [list(w) for w in r.warnings],
        "unused": [list(w) for w in r.unused],
        "error": r.error,
    }


def file_result_from_dict(d: dict) -> FileResult:
    """The inverse of `file_result_to_dict`; TypeError (or KeyError, ValueError) on
    anything that is not exactly what it writes."""
    _typed(d, dict, "result")
    error = d.get("error")
    return FileResult(
        path=_typed(d["path"], str, "path"),
        findings=[finding_from_dict(f) for f in _typed(d["findings"], list, "findings")],
        functions=_typed(d["functions"], int, "functions"),
        skipped=_strings(d["skipped"], "skipped"),
        partial=_strings(d.get("partial", []), "partial"),
        warnings=[[_typed(w[0], int, "warning"), _typed(w[1], str, "warning")]
                  for w in _typed(d.get("warnings", []), list, "warnings")],
        unused=[[_typed(w[0], int, "unused"), _typed(w[1], str, "unused")]
                for w in _typed(d.get("unused", []), list, "unused")],
        error=None if error is None else _typed(error, str, "error"),
    )
