"""Runs every C fixture under tests/fixtures/ and matches its inline expectations.

Expectations are C comments on the line where a finding must be reported:

    return -1;          /* expect: lock-leak */
    if (x) return -1;   /* expect: lock-leak@12 */        (1-based column)
    unlock(&m);         /* expect: unlock-unheld "trylock at line 7 failed" */
    /* expect+1: double-lock */                           (the next line)

Without `@N` the column is the first non-blank character of the line. Quoted
text must appear in the message. Several expectations: `expect: a, b` (the same rule twice: two findings).
Matching is exact in both directions: a missing or an extra finding fails, and
the failure shows the fixture with the actual findings interleaved.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from lockls.engine.driver import analyze_source
from lockls.config import config_for

FIXTURES = Path(__file__).parent / "fixtures"
_EXPECT = re.compile(r"expect(?P<offset>[+-]\d+)?:\s*(?P<items>.*?)\s*(?:\*/|$)")
_ITEM = re.compile(r'(?P<rule>[a-z][a-z-]*)(?:@(?P<col>\d+))?(?:\s*"(?P<text>[^"]*)")?')


def expectations(lines: list[str]) -> tuple[Counter, dict]:
    expected, texts = Counter(), {}
    for i, line in enumerate(lines):
        for m in _EXPECT.finditer(line):
            target = i + int(m.group("offset") or 0)
            target_line = lines[target]
            indent = len(target_line) - len(target_line.lstrip())
            for item in _ITEM.finditer(m.group("items")):
                col = int(item.group("col")) if item.group("col") else indent + 1
                key = (target + 1, col, item.group("rule"))
                expected[key] += 1
                if item.group("text"):
                    texts.setdefault(key, []).append(item.group("text"))
    return expected, texts


def fixture_files():
    return sorted(p for p in FIXTURES.rglob("*.[ch]"))


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: str(p.relative_to(FIXTURES)))
def test_fixture(path: Path):
    source = path.read_bytes()
    result = analyze_source(source, str(path), config_for(str(path)))
    lines = source.decode("utf-8").split("\n")
    expected, texts = expectations(lines)
    messages: dict = {}
    for f in result.findings:
        messages.setdefault((f.span.start.line + 1, f.span.start.char_col + 1, f.rule), []).append(f.text)
    actual = Counter({key: len(m) for key, m in messages.items()})
    problems = []
    for key in sorted(expected - actual):
        problems.append(f"missing {key[2]} at {key[0]}:{key[1]}")
    for key in sorted(actual - expected):
        problems.append(f"unexpected {key[2]} at {key[0]}:{key[1]}: {messages[key]}")
    for key, wanted in texts.items():
        for text in wanted:
            if key in messages and not any(text in m for m in messages[key]):
                problems.append(f"{key[2]} at {key[0]}:{key[1]}: no message has {text!r}: {messages[key]}")
    if result.skipped and "skipped" not in path.name:
        problems.append(f"functions skipped: {result.skipped}")
    if problems:
        pytest.fail("\n".join(problems) + "\n\n" + _interleave(lines, result.findings), pytrace=False)


def _interleave(lines: list[str], findings) -> str:
    by_line: dict[int, list[str]] = {}
    for f in findings:
        by_line.setdefault(f.span.start.line, []).append(
            f"{' ' * f.span.start.char_col}^ {f.rule}: {f.text}")
    out = []
    for i, line in enumerate(lines):
        out.append(f"{i + 1:4} | {line}")
        out.extend(f"     | {note}" for note in by_line.get(i, []))
    return "\n".join(out)


def test_expectation_parser():
    lines = ['  return 1; /* expect: lock-leak, double-lock@3 "x (y)" */', "/* expect+1: unlock-unheld */", "\tunlock();"]
    expected, texts = expectations(lines)
    assert expected == Counter({(1, 3, "lock-leak"): 1, (1, 3, "double-lock"): 1, (3, 2, "unlock-unheld"): 1})
    assert texts == {(1, 3, "double-lock"): ["x (y)"]}
