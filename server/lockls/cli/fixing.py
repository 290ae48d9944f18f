"""`--fix`, `--diff` and `--unsafe-fixes`: the editor's quick-fixes from the command line.

Owns: attaching each finding's fixes when its file is analysed (`with_fixes`: the
edits `report.fixes` makes for the editor, so they are cached with the result and
shown in JSON), choosing the one fix applied per finding (its preferred fix among
the safe ones, or among all with `--unsafe-fixes`; never a suppression comment),
applying those of a file that do not touch each other, and the unified diff of
`--diff`. The rounds (apply, re-check, apply what is left) are `check.run_check`'s.
Files are edited as bytes: their encoding and line breaks are kept, and inserted
lines end as the file's lines do.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from lockls.files import UsageError, printable, read_bytes
from lockls.report.findings import FileResult, Finding
from lockls.report.fixes import apply_edits, chosen, compatible

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")  # C's line breaks only (no form feeds)
MAX_ROUNDS = 10  # fixes applied, re-checked, applied again: fixes that touched each other wait a round


def with_fixes(result: FileResult, analysis) -> FileResult:
    """`result` (from `analysis`, the engine's `FileAnalysis` of the same text) with the
    fixes of each finding, as the editor offers them, suppression comments left out."""
    if not analysis.findings or not analysis.slots:
        return result
    from lockls.report.quickfixes import SourceText, as_fix, fixes_for, function_lock_events  # (tree-sitter: not on cache hits)

    root = analysis.slots[0].fn
    while root.parent is not None:
        root = root.parent
    text = SourceText(analysis.source, root)
    found = {}
    for r in analysis.findings:
        suggested = fixes_for(text, r, r.violation.lock, analysis.config, function_lock_events(r.slot.result.cfg),
                              suppress=False)
        try:
            made = tuple(as_fix(s, text) for s in suggested)
        except Exception:  # a fix is a nicety: never fail the file's analysis for one
            continue
        if made:
            found[(r.rule, r.site.start_byte, r.site.end_byte, str(r.message))] = made
    if found:
        result.findings = [replace(f, fixes=found.get((f.rule, f.span.start_byte, f.span.end_byte, f.text), f.fixes))
                           for f in result.findings]
    return result


@dataclass
class FixedFile:
    """A file's text before and after the fixes applied to it in one round."""

    path: str
    before: bytes
    after: bytes
    fixes: int  # how many findings' fixes went in
    fixed: list  # those findings


def line_break(data: bytes) -> bytes:
    """The line break most lines of `data` end with."""
    crlf = data.count(b"\r\n")
    lf = data.count(b"\n") - crlf
    cr = data.count(b"\r") - crlf
    if crlf > lf and crlf >= cr:
        return b"\r\n"
    return b"\r" if cr > lf else b"\n"


def fixable(f: Finding, unsafe: bool):
    """The fix `--fix` (with `--unsafe-fixes`: `unsafe`) applies for `f`, or None."""
    return chosen(f.fixes, unsafe)


def plan(findings: Sequence[Finding], unsafe: bool, skip: Callable[[Finding], bool] = lambda f: False) -> list[FixedFile]:
    """Each file's text with the fixes of its findings applied (one a function, and
    none that touches an earlier one's edits: the others wait for the next round). `skip`:
    findings not to fix (already fixed once: a fix that did not remove its finding
    is not applied again)."""
    by_path: dict[str, list] = {}
    for f in findings:
        fix = fixable(f, unsafe) if not skip(f) else None
        if fix is not None:
            by_path.setdefault(f.path, []).append((f, [(e.span.start_byte, e.span.end_byte, e.new_text) for e in fix.edits]))
    out = []
    for path, planned in sorted(by_path.items()):
        try:
            before = read_bytes(path)
        except OSError:
            continue  # reported by the re-check
        taken = compatible([edits for _, edits in planned], [f.function for f, _ in planned])
        ids = {id(edits) for edits in taken}
        after = apply_edits(before, [e for edits in taken for e in edits], line_break(before))
        if after != before:
            out.append(FixedFile(path, before, after, len(taken), [f for f, edits in planned if id(edits) in ids]))
    return out


def write(files: Sequence) -> None:
    """Write each file's new text (`after`); UsageError naming a file that cannot be written."""
    for file in files:
        try:
            with open(file.path, "wb") as fh:
                fh.write(file.after)
        except OSError as e:
            raise UsageError(f"lockls: error: {printable(file.path)}: cannot write: {e.strerror or e}") from None


def unified_diff(files: Sequence[FixedFile], display: Callable[[str], str]) -> str:
    """`--diff`: what the fixes would change, as `diff -u` prints it (a/ and b/ paths)."""
    out = []
    for file in files:
        name = printable(display(file.path))
        before = _LINE.findall(file.before.decode("utf-8", "surrogateescape"))
        after = _LINE.findall(file.after.decode("utf-8", "surrogateescape"))
        for line in _unified(before, after, f"a/{name}", f"b/{name}"):
            out.append(line if line.endswith(("\n", "\r")) else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def _unified(a: list[str], b: list[str], old: str, new: str, context: int = 3) -> list[str]:
    """`difflib.unified_diff`, without its heuristic that treats lines common in a long
    file (`}`, a frequent unlock) as junk and so shows them removed and added again."""
    out: list[str] = []
    for group in difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(context):
        if not out:
            out += [f"--- {old}\n", f"+++ {new}\n"]
        out.append(f"@@ -{_range(group[0][1], group[-1][2])} +{_range(group[0][3], group[-1][4])} @@\n")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out += [" " + line for line in a[i1:i2]]
                continue
            out += ["-" + line for line in a[i1:i2]]
            out += ["+" + line for line in b[j1:j2]]
    return out


def _range(start: int, stop: int) -> str:
    """A hunk's line range as `diff -u` writes it (`3`, `3,4`, `2,0` for none after line 2)."""
    length = stop - start
    if length == 1:
        return str(start + 1)
    return f"{start + 1 if length else start},{length}"


def counted(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else ('es' if word.endswith('x') else 's')}"
