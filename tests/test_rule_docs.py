"""Every rule's documentation: complete, true to its examples, and published.

The docstring of each rule module is its documentation. Its Example must
trigger the rule and its Use instead must not; docs/rules/RULE.md must be the
page generated from it (`python -m lockls.report.ruledocs docs/rules`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lockls.engine.driver import analyze_source
from lockls.main import main
from lockls.config import config_from_text, default_config
from lockls.report.ruledocs import SECTIONS, code_block, rule_doc, rule_page, sections
from lockls.rules import RULES

DOCS = Path(__file__).resolve().parent.parent / "docs" / "rules"


@pytest.mark.parametrize("rule", RULES)
def test_doc_has_every_section(rule):
    assert list(sections(rule)) == list(SECTIONS)


def _doc_config(rule):
    """The configuration the rule's documentation shows (its first ```toml block), if any."""
    doc = rule_doc(rule)
    if "```toml" not in doc:
        return default_config()
    toml = doc.split("```toml", 1)[1].split("```", 1)[0]
    return config_from_text(toml, f"{rule}.lockls.toml")


@pytest.mark.parametrize("rule", RULES)
def test_example_triggers_and_use_instead_does_not(rule):
    parts = sections(rule)
    config = _doc_config(rule)
    bad = analyze_source(code_block(parts["Example"]).encode(), "example.c", config)
    good = analyze_source(code_block(parts["Use instead"]).encode(), "good.c", config)
    assert [f.rule for f in bad.findings] == [rule]
    assert good.findings == []
    assert bad.skipped == [] and good.skipped == []


@pytest.mark.parametrize("rule", RULES)
def test_published_page_matches_docstring(rule):
    page = DOCS / f"{rule}.md"
    assert page.read_text(encoding="utf-8") == rule_page(rule), f"regenerate with: python -m lockls.report.ruledocs docs/rules"


@pytest.mark.parametrize("rule", RULES)
def test_explain_prints_the_doc(rule, capsys):
    assert main(["--check", "--explain", rule]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{rule}:") and "## Use instead" in out


def test_readme_worked_example_is_the_fixture_config():
    """The README's two-level driver/object example shows the configuration the
    fixture tests/fixtures/entry/ is checked with, word for word."""
    root = Path(__file__).parent.parent
    readme = (root / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Worked example: a two-level driver/object model"):]
    block = section[section.index("```toml\n") + len("```toml\n"):]
    block = block[:block.index("```")]
    assert block == (root / "tests" / "fixtures" / "entry" / ".lockls.toml").read_text(encoding="utf-8")
