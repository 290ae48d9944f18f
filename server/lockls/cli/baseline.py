"""`--baseline FILE` and `--update-baseline`: adopting lockls on code that already has findings.

Owns the baseline file (reading, validating, writing) and what identifies a finding
in it. A finding is keyed by its file (relative to the baseline file's directory),
function, rule, subject (the first name the message quotes: the lock, or for some
rules the called function or the data used), and its statement: the source text of
the finding's range, whitespace collapsed. No line numbers, so the key survives
edits above the finding; identical keys are counted. A run with `--baseline`
reports only the findings beyond those counts, and says how many the baseline hid
and how many of its findings are gone.

The file is JSON, sorted and stable (no times, no lines), so it diffs well in review:
`{"version": 1, "findings": [{"path", "function", "rule", "lock", "statement", "count"}]}`.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from lockls.files import UsageError, printable, read_bytes
from lockls.report.findings import Finding

VERSION = 1
FIELDS = ("path", "function", "rule", "lock", "statement")
STATEMENT_MAX_CHARS = 200  # a long statement's head identifies it well enough
_QUOTED = re.compile(r"`([^`]+)`")

Key = tuple  # (path, function, rule, lock, statement)


@dataclass
class Filtered:
    """What a run with a baseline shows: the findings not in it, and the counts for the summary."""

    findings: list
    hidden: int
    gone: int


def subject(finding: Finding) -> str:
    """The first name the message quotes: `&q->lock` in "`&q->lock` taken at line 3 ..."."""
    m = _QUOTED.search(finding.text)
    return m.group(1) if m else ""


def statement(finding: Finding, source: bytes | None) -> str:
    """The source of the finding's range, whitespace collapsed ("" when unreadable)."""
    if source is None:
        return ""
    span = source[finding.span.start_byte:finding.span.end_byte].decode("utf-8", "replace")
    return " ".join(span.split())[:STATEMENT_MAX_CHARS]


class Keys:
    """Keys of findings relative to a baseline file's directory; each source read once."""

    def __init__(self, baseline_path: str, read: Callable[[str], bytes | None]):
        self.base = os.path.dirname(os.path.abspath(baseline_path))
        self.read = read  # a file's text as analysed, None when unreadable
        self._sources: dict[str, bytes | None] = {}

    def relative(self, path: str) -> str:
        try:
            rel = os.path.relpath(os.path.abspath(path), self.base)
        except ValueError:  # another drive
            rel = os.path.abspath(path)
        return rel.replace(os.sep, "/")

    def key(self, finding: Finding) -> Key:
        if finding.path not in self._sources:
            self._sources[finding.path] = self.read(finding.path)
        return (self.relative(finding.path), finding.function, finding.rule, subject(finding),
                statement(finding, self._sources[finding.path]))


def load(path: str) -> Counter:
    """The baseline's counts by key; UsageError (exit status 2) naming the file when it
    is missing or not a baseline."""
    shown = printable(path)
    try:
        data = read_bytes(path)
    except FileNotFoundError:
        raise UsageError(f"lockls: error: --baseline: {shown}: no such file (write it with --update-baseline)") from None
    except OSError as e:
        raise UsageError(f"lockls: error: --baseline: {shown}: {e.strerror or e}") from None
    try:
        doc = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise UsageError(f"lockls: error: {shown}: not a lockls baseline: not UTF-8 ({e.reason})") from None
    except json.JSONDecodeError as e:
        raise UsageError(f"lockls: error: {shown}:{e.lineno}:{e.colno}: not a lockls baseline: {e.msg}") from None
    return _counts(doc, shown)


def _counts(doc, shown: str) -> Counter:
    def bad(why: str) -> UsageError:
        return UsageError(f"lockls: error: {shown}: not a lockls baseline: {why}")

    if not isinstance(doc, dict):
        raise bad("expected a JSON object with `version` and `findings`")
    if doc.get("version") != VERSION:
        raise bad(f"`version` is {json.dumps(doc.get('version'))}, expected {VERSION}")
    findings = doc.get("findings")
    if not isinstance(findings, list):
        raise bad("`findings` must be a list")
    out: Counter = Counter()
    for i, entry in enumerate(findings):
        if not isinstance(entry, dict):
            raise bad(f"findings[{i}] must be an object")
        for name in FIELDS:
            if not isinstance(entry.get(name), str):
                raise bad(f"findings[{i}].{name} must be a string")
        count = entry.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise bad(f"findings[{i}].count must be a positive integer")
        out[tuple(entry[name] for name in FIELDS)] += count
    return out


def _reported_here(keys: Keys, checked: Iterable[str], reported: Callable[[str, str], bool]) -> Callable[[Key], bool]:
    """Whether a baselined finding (its key) is one this run looks for: in a file it checked
    (`checked`: absolute paths), of a rule it reports in that file (`reported(path, rule)`:
    the rules selected there, `[per-file-ignores]` applied)."""
    here = {keys.relative(p): p for p in checked}
    return lambda k: k[0] in here and reported(here[k[0]], k[2])


def apply(findings: Sequence[Finding], baseline: Counter, keys: Keys, checked: Iterable[str],
          reported: Callable[[str, str], bool]) -> Filtered:
    """The findings beyond the baseline's counts (in `findings`' order: of identical
    keys, the later ones are new). `checked`: the files of this run, and `reported(path, rule)`:
    whether the run reports that rule in that file; only their baselined findings can be gone
    (a finding of a rule turned off in its file is not reported, not fixed)."""
    left = Counter(baseline)
    shown, hidden = [], 0
    for f in findings:
        k = keys.key(f)
        if left[k] > 0:
            left[k] -= 1
            hidden += 1
        else:
            shown.append(f)
    looked_for = _reported_here(keys, checked, reported)
    gone = sum(n for k, n in left.items() if n > 0 and looked_for(k))
    return Filtered(shown, hidden, gone)


def write(path: str, findings: Sequence[Finding], keys: Keys, checked: Iterable[str],
          reported: Callable[[str, str], bool]) -> int:
    """Record `findings` in the baseline `path`, keeping what an existing one says about
    files, and rules in a file, this run did not check (`reported(path, rule)`, as for
    `apply`). Returns how many findings were recorded."""
    counts: Counter = Counter(keys.key(f) for f in findings)
    if os.path.exists(path):
        try:
            old = load(path)
        except UsageError:
            old = Counter()  # a broken baseline is replaced
        looked_for = _reported_here(keys, checked, reported)
        for k, n in old.items():
            if not looked_for(k):
                counts[k] += n
    entries = [dict(zip(FIELDS, k), count=n) for k, n in sorted(counts.items())]
    text = json.dumps({"version": VERSION, "findings": entries}, indent=2, ensure_ascii=False) + "\n"
    try:
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
    except OSError as e:
        raise UsageError(f"lockls: error: --update-baseline: {printable(path)}: {e.strerror or e}") from None
    return len(findings)


def summary(path: str, filtered: Filtered) -> str:
    """The stderr line of a run with a baseline: `lockls: baseline b.json: 3 findings
    hidden, 1 gone (fixed)`."""
    hidden = f"{filtered.hidden} finding{'' if filtered.hidden == 1 else 's'}"
    text = f"lockls: baseline {printable(path)}: {hidden} hidden, {filtered.gone} gone (fixed)"
    if filtered.gone:
        text += "; --update-baseline forgets " + ("it" if filtered.gone == 1 else "them")
    return text
