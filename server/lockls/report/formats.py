"""Output formats for `--check`: text, JSON, SARIF 2.1.0 and GitHub workflow commands.

Owns: turning a sorted list of findings into the exact text of each format in
the product contract, plus the one-line run summary. Must not analyse, read
source files or decide exit codes (that is `check`).

Positions: `Pos` lines and columns are 0-based; every format here is 1-based.
text counts columns in bytes (as clang does and Vim's quickfix reads them); json
and github count characters (code points); SARIF counts UTF-16 code units and
says so (`columnKind`). End columns are exclusive: they name the character just
after the region, as SARIF defines `endColumn`.

Paths: shown relative to the current directory when the file is under it,
otherwise as the finding carries it (`display` lets the caller map paths).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence

from lockls import __version__
from lockls.files import printable
from lockls.report.findings import Finding, Span

FORMATS = ("text", "json", "sarif", "github")

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
SARIF_SRCROOT = "%SRCROOT%"
SARIF_FINGERPRINT_KEY = "lockls/v1"
SARIF_LEVELS = {"error": "error", "warning": "warning", "info": "note"}
GITHUB_COMMANDS = {"error": "error", "warning": "warning", "info": "notice"}

PathDisplay = Callable[[str], str]


# -- paths ------------------------------------------------------------------------

def relative_to_cwd(cwd: str | None = None, outside: Mapping[str, str] | None = None) -> PathDisplay:
    """A `display` function: the path relative to `cwd` when under it, else
    `outside[path]` (e.g. the spelling the user typed), else unchanged."""
    base = os.path.abspath(cwd or os.getcwd())
    outside = outside or {}
    shown: dict[str, str] = {}  # called several times per finding: sorting, rendering

    def display(path: str) -> str:
        result = shown.get(path)
        if result is None:
            rel = _relative_under(path, base)
            result = shown[path] = outside.get(path, path) if rel is None else rel
        return result

    return display


def _relative_under(path: str, base: str) -> str | None:
    """`path` relative to directory `base`, or None when it is not under `base`."""
    try:
        rel = os.path.relpath(os.path.abspath(path), base)
    except ValueError:  # another drive on Windows
        return None
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        return None
    return rel


# -- text ---------------------------------------------------------------------------

SourceText = Callable[[str], "bytes | None"]  # a file's text as analysed, or None when unreadable

# gcc's colours (GCC_COLORS' defaults), as ANSI SGR parameters
TEXT_COLORS = {"error": "1;31", "warning": "1;35", "info": "1;36", "note": "1;36", "caret": "1;32", "locus": "1"}
TAB_STOP = 8  # tabs in a quoted source line are expanded, so that the caret lines up


def render_text(
    findings: Sequence[Finding],
    display: PathDisplay | None = None,
    sources: SourceText | None = None,
    color: bool = False,
) -> str:
    """`path:line:column: severity: message [rule]`, one finding a line (gcc's shape;
    the column counts bytes, 1-based).

    With `sources` (a file's text by path), each finding is followed by its source
    line and a caret under its range, then its related places as gcc's `note:` lines,
    each with its own source line (a line that cannot be had is left out). `color`
    adds gcc's colours: location bold, severity and rule coloured, caret green."""
    display = display or relative_to_cwd()
    paint = _painter(color)
    lines_of = _SourceLines(sources) if sources is not None else None
    out = []
    for f in findings:
        out.append(_text_line(paint, display(f.path), f.span, f.severity, _one_line(f.text), f.rule))
        if lines_of is None:
            continue
        out.extend(_excerpt(paint, lines_of(f.path), f.span))
        for r in f.related:
            out.append(_text_line(paint, display(r.path), r.span, "note", _one_line(r.message or "related location")))
            out.extend(_excerpt(paint, lines_of(r.path), r.span))
    return "".join(line + "\n" for line in out)


def _painter(color: bool) -> Callable[[str, str], str]:
    if not color:
        return lambda _, text: text
    return lambda what, text: f"\x1b[{TEXT_COLORS.get(what, TEXT_COLORS['warning'])}m{text}\x1b[0m"


def _text_line(paint, path: str, span: Span, severity: str, message: str, rule: str | None = None) -> str:
    start = span.start
    locus = paint("locus", f"{printable(path)}:{start.line + 1}:{start.byte_col + 1}:")
    line = f"{locus} {paint(severity, severity + ':')} {message}"
    return f"{line} [{paint(severity, rule)}]" if rule is not None else line


class _SourceLines:
    """The lines (bytes, without their end) of each file `sources` gives, read once."""

    def __init__(self, sources: SourceText):
        self.sources = sources
        self.files: dict[str, list[bytes] | None] = {}

    def __call__(self, path: str) -> list[bytes] | None:
        if path not in self.files:
            text = self.sources(path)
            self.files[path] = None if text is None else [line.rstrip(b"\r") for line in text.split(b"\n")]
        return self.files[path]


def _excerpt(paint, lines: list[bytes] | None, span: Span) -> list[str]:
    """gcc's two lines under a diagnostic: ` 12 | source` and `    |   ^~~~` under the
    span (to the end of its first line when it spans several)."""
    row = span.start.line
    if lines is None or not 0 <= row < len(lines):
        return []
    line = lines[row]
    start = min(span.start.byte_col, len(line))
    end = min(span.end.byte_col, len(line)) if span.end.line == row else len(line.rstrip())
    end = max(end, start)
    before = _display_width(_decoded(line[:start]), 0)
    width = _display_width(_decoded(line[start:end]), before) - before
    number = f"{row + 1:>5}"
    caret = paint("caret", "^" + "~" * (width - 1))
    return [f"{number} | {_shown(_decoded(line))}".rstrip(), f"{' ' * len(number)} | {' ' * before}{caret}"]


def _decoded(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _char_width(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _display_width(text: str, column: int) -> int:
    """The display column after `text` shown from `column` (tabs to the next stop)."""
    for ch in text:
        column = (column // TAB_STOP + 1) * TAB_STOP if ch == "\t" else column + _char_width(ch)
    return column


def _shown(text: str) -> str:
    """A source line as quoted: tabs expanded (as `_display_width` counts them), control
    characters as `?` (a file must not drive the terminal)."""
    out, column = [], 0
    for ch in text:
        if ch == "\t":
            stop = (column // TAB_STOP + 1) * TAB_STOP
            out.append(" " * (stop - column))
            column = stop
            continue
        if ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0:
            ch = "?"
        out.append(ch)
        column += _char_width(ch)
    return "".join(out)


def _one_line(text: str) -> str:
    # A message with a newline would break "one finding a line" for quickfix readers.
    return " ".join(text.splitlines()) if "\n" in text or "\r" in text else text


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def render_summary(
    files: int,
    functions: int,
    severity_counts: dict[str, int],
    seconds: float,
    skipped_functions: int = 0,
    failed_files: int = 0,
    partial_functions: int = 0,
) -> str:
    """`lockls: 3 files, 17 functions, 4 findings (2 errors, 2 warnings) in 0.12 s`."""
    total = sum(severity_counts.values())
    text = f"lockls: {_plural(files, 'file')}, {_plural(functions, 'function')}, {_plural(total, 'finding')}"
    if total:
        parts = [
            _plural(severity_counts[sev], sev, "info" if sev == "info" else None)
            for sev in ("error", "warning", "info")
            if severity_counts.get(sev)
        ]
        text += f" ({', '.join(parts)})"
    if skipped_functions:
        text += f", {_plural(skipped_functions, 'function')} skipped"
    if partial_functions:
        text += f", {_plural(partial_functions, 'function')} partly analysed (-v says which)"
    if failed_files:
        text += f", {_plural(failed_files, 'file')} not analysed"
    return f"{text} in {seconds:.2f} s"


# -- json ---------------------------------------------------------------------------

def finding_to_json(f: Finding, display: PathDisplay) -> dict:
    """A finding in JSON: where, what, related places, its `fix`es (title, whether
    `--fix` applies it: `applicability` "safe", or "unsafe" for `--unsafe-fixes`;
    `preferred`; the edits, positions as the finding's, end exclusive, `new_text`
    with `\n` line breaks) and the `url` of its rule's page (SARIF's helpUri)."""
    from lockls.report.ruledocs import help_uri

    start, end = f.span.start, f.span.end
    return {
        "path": display(f.path),
        "line": start.line + 1,
        "column": start.char_col + 1,
        "end_line": end.line + 1,
        "end_column": end.char_col + 1,
        "rule": f.rule,
        "severity": f.severity,
        "message": f.text,
        "related": [
            {
                "path": display(r.path),
                "line": r.span.start.line + 1,
                "column": r.span.start.char_col + 1,
                "message": r.message,
            }
            for r in f.related
        ],
        "fix": [
            {
                "title": x.title,
                "applicability": x.applicability,
                "preferred": x.preferred,
                "edits": [
                    {
                        "path": display(f.path),
                        "line": e.span.start.line + 1,
                        "column": e.span.start.char_col + 1,
                        "end_line": e.span.end.line + 1,
                        "end_column": e.span.end.char_col + 1,
                        "new_text": e.new_text,
                    }
                    for e in x.edits
                ],
            }
            for x in f.fixes
        ],
        "url": help_uri(f.rule),
    }


def render_json(findings: Sequence[Finding], display: PathDisplay | None = None) -> str:
    """A JSON array of findings (see `finding_to_json`), pretty-printed."""
    display = display or relative_to_cwd()
    return json.dumps([finding_to_json(f, display) for f in findings], indent=2, ensure_ascii=False) + "\n"


# -- github -------------------------------------------------------------------------

def _github_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _github_property(text: str) -> str:
    return _github_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(findings: Sequence[Finding], display: PathDisplay | None = None) -> str:
    """GitHub Actions workflow commands: `::warning file=..,line=..,col=..,title=..::message`."""
    display = display or relative_to_cwd()
    lines = []
    for f in findings:
        start, end = f.span.start, f.span.end
        props = [
            ("file", display(f.path)),
            ("line", start.line + 1),
            ("col", start.char_col + 1),
            ("endLine", end.line + 1),
            ("endColumn", end.char_col + 1),
            ("title", f"lockls {f.rule}"),
        ]
        command = GITHUB_COMMANDS.get(f.severity, "warning")
        rendered = ",".join(f"{k}={_github_property(str(v))}" for k, v in props)
        lines.append(f"::{command} {rendered}::{_github_data(f.text)}")
    return "".join(line + "\n" for line in lines)


# -- sarif --------------------------------------------------------------------------

def _file_uri(path: str) -> str:
    from pathlib import Path  # SARIF only: keep pathlib off the text/json path

    return Path(os.path.abspath(path)).as_uri()


def _sarif_artifact(path: str, base: str) -> dict:
    """Files under `base` are relative to %SRCROOT% (portable across checkouts)."""
    rel = _relative_under(path, base)
    if rel is not None:
        from pathlib import PurePath
        from urllib.parse import quote

        return {"uri": quote(PurePath(rel).as_posix()), "uriBaseId": SARIF_SRCROOT}
    return {"uri": _file_uri(path)}


def _sarif_region(span: Span) -> dict:
    return {
        "startLine": span.start.line + 1,
        "startColumn": span.start.utf16_col + 1,
        "endLine": span.end.line + 1,
        "endColumn": span.end.utf16_col + 1,
    }


def _sarif_location(path: str, span: Span, base: str) -> dict:
    return {"physicalLocation": {"artifactLocation": _sarif_artifact(path, base), "region": _sarif_region(span)}}


# Fixes `--fix` may apply (with `--unsafe-fixes` for the unsafe ones). A "display-only" fix
# is right on some paths only: SARIF viewers may apply fixes without asking, so it stays out.
SARIF_FIX_APPLICABILITIES = ("safe", "unsafe")


def _sarif_fixes(f: Finding, base: str) -> list[dict]:
    """SARIF `fix` objects: each edit a `replacement` of its region (an empty region
    inserts), all in the finding's file; applicability and preference in `properties`."""
    return [
        {
            "description": {"text": x.title},
            "artifactChanges": [{
                "artifactLocation": _sarif_artifact(f.path, base),
                "replacements": [
                    {"deletedRegion": _sarif_region(e.span), "insertedContent": {"text": e.new_text}}
                    for e in x.edits
                ],
            }],
            "properties": {"applicability": x.applicability, "preferred": x.preferred},
        }
        for x in f.fixes
        if x.applicability in SARIF_FIX_APPLICABILITIES and x.edits
    ]


_LINK_LIKE = re.compile(r"\]\(")


def _sarif_message(text: str) -> dict:
    # SARIF reads `[text](n)` as an embedded link; escape brackets only when the
    # message could be mistaken for one, so lock names like `locks[0]` stay readable.
    if _LINK_LIKE.search(text):
        text = text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
    return {"text": text}


def fingerprint_key(f: Finding, path: str) -> str:
    """What identifies a finding across edits: rule, file, function and message, no lines."""
    message = f.message.blanked()
    raw = "\0".join((f.rule, path, f.function, message))
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def sarif_rule(rule: str) -> dict:
    from lockls.report.ruledocs import default_severity, full_description, help_uri, rule_doc, short_description

    doc = rule_doc(rule)
    return {
        "id": rule,
        "name": rule,
        "shortDescription": {"text": short_description(rule)},
        "fullDescription": {"text": full_description(rule)},
        "helpUri": help_uri(rule),
        "help": {"text": doc, "markdown": doc},
        "defaultConfiguration": {"level": SARIF_LEVELS.get(default_severity(rule), "warning")},
    }


def sarif_log(
    findings: Sequence[Finding],
    cwd: str | None = None,
    notifications: Iterable[tuple[str, str]] = (),
) -> dict:
    """The SARIF 2.1.0 log as a dict. `notifications` are (path, message) for files
    that could not be analysed; they go to `invocations[0].toolExecutionNotifications`."""
    from lockls.report.ruledocs import PROJECT_URL

    base = os.path.abspath(cwd or os.getcwd())
    rule_ids = sorted({f.rule for f in findings})
    rule_index = {rule: i for i, rule in enumerate(rule_ids)}
    occurrences: dict[str, int] = {}
    results = []
    for f in findings:
        location = _sarif_location(f.path, f.span, base)
        uri = location["physicalLocation"]["artifactLocation"]["uri"]
        key = fingerprint_key(f, uri)
        occurrences[key] = occurrences.get(key, 0) + 1  # same bug twice in one function
        result = {
            "ruleId": f.rule,
            "ruleIndex": rule_index[f.rule],
            "level": SARIF_LEVELS.get(f.severity, "warning"),
            "message": _sarif_message(f.text),
            "locations": [location],
            "partialFingerprints": {SARIF_FINGERPRINT_KEY: f"{key}:{occurrences[key]}"},
        }
        fixes = _sarif_fixes(f, base)
        if fixes:
            result["fixes"] = fixes
        if f.related:
            result["relatedLocations"] = [
                {"id": i, **_sarif_location(r.path, r.span, base), "message": _sarif_message(r.message or "related location")}
                for i, r in enumerate(f.related)
            ]
        results.append(result)
    notes = [
        {
            "level": "error",
            "message": {"text": message},
            "locations": [{"physicalLocation": {"artifactLocation": _sarif_artifact(path, base)}}],
        }
        for path, message in notifications
    ]
    run = {
        "tool": {
            "driver": {
                "name": "lockls",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": PROJECT_URL,
                "rules": [sarif_rule(rule) for rule in rule_ids],
            }
        },
        "invocations": [{"executionSuccessful": not notes, "toolExecutionNotifications": notes}],
        "originalUriBaseIds": {SARIF_SRCROOT: {"uri": _file_uri(base).rstrip("/") + "/"}},
        "columnKind": "utf16CodeUnits",
        "results": results,
    }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def render_sarif(
    findings: Sequence[Finding],
    cwd: str | None = None,
    notifications: Iterable[tuple[str, str]] = (),
) -> str:
    return json.dumps(sarif_log(findings, cwd, notifications), indent=2, ensure_ascii=False) + "\n"


def render_statistics(fmt: str, findings: Sequence[Finding]) -> str:
    """`--statistics`: how many findings each rule has, most first (ruff's shape:
    `count  rule  description`); `json`: a list of {rule, count, description}."""
    from lockls.report.ruledocs import short_description

    counts: dict[str, int] = {}
    for f in findings:
        counts[f.rule] = counts.get(f.rule, 0) + 1
    rows = sorted(counts.items(), key=lambda rc: (-rc[1], rc[0]))
    if fmt == "json":
        return json.dumps([{"rule": r, "count": n, "description": short_description(r)} for r, n in rows], indent=2) + "\n"
    width = max((len(r) for r, _ in rows), default=0)
    return "".join(f"{n:>5}  {r:<{width}}  {short_description(r)}\n" for r, n in rows)


def render(
    fmt: str,
    findings: Sequence[Finding],
    display: PathDisplay | None = None,
    errors: Sequence[tuple[str, str]] = (),
) -> str:
    """Render `findings` (already sorted) in format `fmt`.

    `display` maps a finding's path to what text/json/github print (default:
    relative to the cwd when under it); SARIF always uses %SRCROOT%-relative or
    absolute file URIs. `errors` are (path, message) for files not analysed.
    """
    if fmt == "text":
        return render_text(findings, display)
    if fmt == "json":
        return render_json(findings, display)
    if fmt == "sarif":
        return render_sarif(findings, notifications=errors)
    if fmt == "github":
        return render_github(findings, display)
    raise ValueError(f"unknown format {fmt!r}")
