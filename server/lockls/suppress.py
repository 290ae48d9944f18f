"""Suppression comments: `/* lockls: ignore[rule, ...] */` or `// lockls: ignore`.

A suppression applies to findings on its own line and on the line below it (so
it can sit above the statement). A bare `ignore` silences every rule there.
"""

from __future__ import annotations

import re

# inside a `//` comment, or inside a `/* */` comment that has not closed before it
_SUPPRESSION = re.compile(rb"(?://[^\n]*?|/\*(?:(?!\*/)[^\n])*?)lockls:\s*ignore(?:\[([^\]\n]*)\])?")
ALL = "*"


def suppressions(source: bytes) -> dict[int, set[str]]:
    """0-based line -> rules silenced on it (ALL for every rule)."""
    out: dict[int, set[str]] = {}
    if b"lockls:" not in source:
        return out
    for m in _SUPPRESSION.finditer(source):
        line = source.count(b"\n", 0, m.start())
        rules = {ALL} if m.group(1) is None else {r.strip() for r in m.group(1).decode("utf-8", "replace").split(",") if r.strip()}
        for target in (line, line + 1):
            out.setdefault(target, set()).update(rules)
    return out


def is_suppressed(rule: str, line: int, table: dict[int, set[str]]) -> bool:
    rules = table.get(line)
    return bool(rules) and (ALL in rules or rule in rules)
