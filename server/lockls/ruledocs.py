"""Rule documentation for the front-ends: `--explain`, SARIF rule metadata.

Owns: finding a rule's documentation (the docstring of its module
`lockls.rules.<rule with - as _>`), its one-line summary and its help URL.
Rule modules are imported lazily and only here, so that rendering findings
never pulls in the analysis; a rule without a module (yet) gets a fallback text.
"""

from __future__ import annotations

import importlib
import inspect
from functools import lru_cache

from .rules import RULES

# The published rule pages (docs/rules/<rule>.md in the repository).
HELP_BASE_URL = "https://github.com/lockls/lockls/blob/main/docs/rules/"
PROJECT_URL = "https://github.com/lockls/lockls"


def help_uri(rule: str) -> str:
    return f"{HELP_BASE_URL}{rule}.md"


def rule_module_name(rule: str) -> str:
    return "lockls.rules." + rule.replace("-", "_")


@lru_cache(maxsize=None)
def rule_doc(rule: str) -> str:
    """The rule's full documentation (its module docstring, dedented), or a fallback."""
    try:
        module = importlib.import_module(rule_module_name(rule))
    except ImportError:
        module = None
    doc = inspect.cleandoc(module.__doc__) if module is not None and module.__doc__ else ""
    if doc:
        return doc
    return f"{rule}: no documentation yet.\n\nSee {help_uri(rule)}"


def short_description(rule: str) -> str:
    """The first line of the rule's documentation, without a leading "rule:"."""
    line = rule_doc(rule).splitlines()[0].strip()
    if line.startswith(rule + ":"):
        line = line[len(rule) + 1 :].strip()
        line = line[:1].upper() + line[1:]
    return line


def full_description(rule: str) -> str:
    """The first prose paragraph after the summary line (markdown headings skipped).

    SARIF viewers show this next to the short description; the whole text goes
    into `help`. Falls back to the short description.
    """
    paragraphs = [p.strip() for p in rule_doc(rule).split("\n\n")[1:]]
    for paragraph in paragraphs:
        lines = [ln for ln in paragraph.splitlines() if not ln.lstrip().startswith("#")]
        text = " ".join(ln.strip() for ln in lines).strip()
        if text and not text.startswith("```"):
            return text
    return short_description(rule)


def default_severity(rule: str) -> str:
    return RULES.get(rule, "warning")
