"""Suppression comments: `/* lockls: ignore[rule, ...] */` or `// lockls: ignore`.

- `lockls: ignore[rule]` as a trailing comment (after code) covers its own line only;
  on a line of its own it covers the next line (it sits above the statement).
- `lockls: ignore-next-line[rule]` covers the next line, wherever it is written.
- `lockls: ignore-file[rule]` anywhere in the file covers the whole file.
- A bare `ignore` (no `[...]`) silences every rule there.
"""

from __future__ import annotations

import re

# inside a `//` comment, or inside a `/* */` comment that has not closed before it
_SUPPRESSION = re.compile(rb"(?://[^\n]*?|/\*(?:(?!\*/)[^\n])*?)lockls:\s*ignore(-next-line|-file)?"
                          rb"(?:\[([^\]\n]*)\])?")
ALL = "*"
FILE = -1  # the table's key for what covers the whole file


def suppressions(source: bytes, comments: list | None = None) -> dict[int, set[str]]:
    """0-based line -> rules silenced on it (ALL for every rule); FILE -> rules silenced
    everywhere. `comments`: `suppression_comments(source)`, when the caller has them."""
    out: dict[int, set[str]] = {}
    for _, rules, targets in suppression_comments(source) if comments is None else comments:
        for target in targets:
            out.setdefault(target, set()).update(rules)
    return out


def suppression_comments(source: bytes) -> list[tuple[int, tuple, tuple]]:
    """(0-based line of the comment, rules as written (ALL for a bare `ignore`), lines it
    covers (FILE: all)) of each suppression comment: the one reader of them, for the
    table of what is silenced, misspelt names and unused comments."""
    out: list = []
    if b"lockls:" not in source:
        return out
    line, counted = 0, 0  # newlines are counted once, from one comment to the next
    for m in _SUPPRESSION.finditer(source):
        line += source.count(b"\n", counted, m.start())
        counted = m.start()
        rules = (ALL,) if m.group(2) is None else \
            tuple(dict.fromkeys(r.strip() for r in m.group(2).decode("utf-8", "replace").split(",") if r.strip()))
        kind = m.group(1)
        if kind == b"-file":
            targets: tuple = (FILE,)
        elif kind == b"-next-line":
            targets = (line + 1,)
        else:
            line_start = source.rfind(b"\n", 0, m.start()) + 1
            alone = not source[line_start:m.start()].strip()
            targets = (line, line + 1) if alone else (line,)
        out.append((line, rules, targets))
    return out


def is_suppressed(rule: str, line: int, table: dict[int, set[str]]) -> bool:
    for rules in (table.get(line), table.get(FILE)):
        if rules and (ALL in rules or rule in rules):
            return True
    return False


def misspelt_rules(comments: list, known) -> list[tuple[int, str]]:
    """(1-based line, message) for each rule named in a suppression comment
    (`suppression_comments`) that is no rule, with the nearest rule's name when one
    is close ("did you mean")."""
    import difflib

    out = []
    for line, rules, _ in comments:
        for name in rules:
            if name != ALL and name not in known:
                near = difflib.get_close_matches(name, list(known), n=1)
                hint = f" (did you mean `{near[0]}`?)" if near else ""
                out.append((line + 1, f"unknown rule `{name}` in a suppression comment{hint}: it suppresses nothing"))
    return out


def unused_suppressions(comments: list, raised: set, known) -> list[tuple[int, str]]:
    """(1-based line, message) of each suppression comment (`suppression_comments`) that
    silences nothing: no finding of its rules (`raised`: (rule, 0-based line) of every
    finding before suppression) on the lines it covers. Names that are no rule
    (`known`) are left to `misspelt_rules`."""
    out = []
    for line, rules, targets in comments:
        def covered(t: int) -> bool:
            return FILE in targets or t in targets

        if ALL in rules:
            if not any(covered(t) for _, t in raised):
                out.append((line + 1, "unused suppression: no finding here to silence"))
            continue
        idle = sorted(r for r in rules if r in known and not any(r == found and covered(t) for found, t in raised))
        if idle:
            names = ", ".join(f"`{r}`" for r in idle)
            out.append((line + 1, f"unused suppression of {names}: no such finding here to silence"))
    return out
