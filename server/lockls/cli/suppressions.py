"""`--add-suppressions`: a suppression comment for every finding reported (ruff's `--add-noqa`).

Owns placing the comments. Each line with findings gets one comment naming its rules,
sorted: `/* lockls: ignore[rule, ...] */` after the code (before a `//` comment that
ends the line), or the rules are added to the `lockls: ignore[...]` comment the line
already has. A line whose end is inside a `/* */` comment, or that a `\\` continues,
cannot take a comment at its end: a `// lockls: ignore-next-line[rule]` line goes
above it instead (`/* ... */ \\` when the line above is continued too), or an
`ignore-next-line` comment already there is extended. Files are edited as bytes:
only the comments change (encoding and line breaks are kept).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from lockls.files import read_bytes
from lockls.report.findings import Finding
from lockls.syntax.nodes import lsp_line_breaks
from lockls.syntax.suppress import ALL, suppression_comments

_TRAILING = re.compile(rb"lockls:\s*ignore\[([^\]\n]*)\]")
_NEXT_LINE = re.compile(rb"^[ \t]*(?://|/\*)[ \t]*lockls:\s*ignore-next-line\[([^\]\n\r]*)\]")


@dataclass
class _Line:
    start: int
    end: int  # before the line break
    brk: bytes
    in_comment: bool  # the line ends inside a /* */ comment
    slash: int | None  # where a `//` comment starting on this line (in code) begins


def _lines(data: bytes) -> list[_Line]:
    """Each line of C text, with what a comment at its end depends on (a small lexer:
    comments, strings, character constants)."""
    out: list[_Line] = []
    code, line_comment, block, string = range(4)
    state, quote, slash = code, 0, None
    i, start, n = 0, 0, len(data)
    while i <= n:
        c = data[i] if i < n else None
        if c is None or c in (0x0A, 0x0D):
            brk = b"" if c is None else (b"\r\n" if data[i:i + 2] == b"\r\n" else data[i:i + 1])
            if c is not None or start < n:
                out.append(_Line(start, i, brk, state == block, slash))
            continued = data[start:i].endswith(b"\\")
            if state in (line_comment, string) and not continued:
                state = code
            if c is None:
                break
            i += len(brk)
            start, slash = i, None
            continue
        nxt = data[i + 1] if i + 1 < n else None
        if state == code:
            if c == 0x2F and nxt == 0x2F:  # //
                state, slash = line_comment, i
                i += 2
                continue
            if c == 0x2F and nxt == 0x2A:  # /*
                state = block
                i += 2
                continue
            if c in (0x22, 0x27):
                state, quote = string, c
        elif state == block:
            if c == 0x2A and nxt == 0x2F:
                state = code
                i += 2
                continue
        elif state == string:
            if c == 0x5C and nxt not in (0x0A, 0x0D, None):  # an escape (not a continuation)
                i += 2
                continue
            if c == quote:
                state = code
        i += 1
    return out


def _rules_text(existing: bytes, rules: Iterable[str]) -> bytes:
    names = [r.strip() for r in existing.decode("utf-8", "replace").split(",") if r.strip()]
    names += [r for r in sorted(rules) if r not in names]
    return ", ".join(names).encode()


def edits_for(data: bytes, rules_by_line: dict[int, set[str]]) -> tuple[list, int, int]:
    """(edits as (start, end, bytes), comments added, comments extended) that silence
    `rules_by_line` (0-based line -> rules) in the file `data`."""
    source = lsp_line_breaks(data)
    lines = _lines(source)
    trailing = {line for line, rules, targets in suppression_comments(source)
                if targets == (line,) and ALL not in rules}  # `ignore[...]` after code: covers its line
    edits, added, extended = [], 0, 0
    for number, rules in sorted(rules_by_line.items()):
        if number >= len(lines):
            continue
        line = lines[number]
        content = data[line.start:line.end]
        if number in trailing:
            m = list(_TRAILING.finditer(content))
            if m:
                a, b = line.start + m[-1].start(1), line.start + m[-1].end(1)
                edits.append((a, b, _rules_text(data[a:b], rules)))
                extended += 1
                continue
        names = ", ".join(sorted(rules))
        if not line.in_comment and not content.endswith(b"\\"):
            if line.slash is not None:  # before the line's `//` comment
                edits.append((line.slash, line.slash, f"/* lockls: ignore[{names}] */ ".encode()))
            else:
                end = line.start + len(content.rstrip(b" \t"))
                edits.append((end, end, f" /* lockls: ignore[{names}] */".encode()))
            added += 1
            continue
        above = lines[number - 1] if number > 0 else None
        if above is not None:
            m = _NEXT_LINE.match(data[above.start:above.end])
            if m:
                a, b = above.start + m.start(1), above.start + m.end(1)
                edits.append((a, b, _rules_text(data[a:b], rules)))
                extended += 1
                continue
        indent = re.match(rb"[ \t]*", content).group(0)
        brk = line.brk or (above.brk if above is not None else b"\n") or b"\n"
        if above is not None and data[above.start:above.end].endswith(b"\\"):  # inside a continued line
            comment = indent + f"/* lockls: ignore-next-line[{names}] */ \\".encode() + brk
        else:
            comment = indent + f"// lockls: ignore-next-line[{names}]".encode() + brk
        edits.append((line.start, line.start, comment))
        added += 1
    return edits, added, extended


@dataclass
class Suppressed:
    path: str
    after: bytes
    added: int
    extended: int


def suppress(findings: Iterable[Finding]) -> list[Suppressed]:
    """Each file with findings, with comments that silence them."""
    by_path: dict[str, dict[int, set[str]]] = {}
    for f in findings:
        by_path.setdefault(f.path, {}).setdefault(f.span.start.line, set()).add(f.rule)
    out = []
    for path, rules_by_line in sorted(by_path.items()):
        try:
            data = read_bytes(path)
        except OSError:
            continue
        edits, added, extended = edits_for(data, rules_by_line)
        for a, b, new in sorted(edits, reverse=True):
            data = data[:a] + new + data[b:]
        if edits:
            out.append(Suppressed(path, data, added, extended))
    return out
