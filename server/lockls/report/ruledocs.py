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

from lockls.rules import RULES

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


SECTIONS = ("What it finds", "Why it matters", "Example", "Use instead", "Known limits", "Fix")


def sections(rule: str) -> dict[str, str]:
    """The documentation's `## Heading` sections, by heading."""
    out: dict[str, str] = {}
    current = None
    for line in rule_doc(rule).splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            out[current] = ""
        elif current is not None:
            out[current] += line + "\n"
    return {k: v.strip() for k, v in out.items()}


def code_block(section_text: str) -> str:
    """The first fenced code block of a section (the C of Example / Use instead)."""
    inside, lines = False, []
    for line in section_text.splitlines():
        if line.startswith("```"):
            if inside:
                break
            inside = True
            continue
        if inside:
            lines.append(line)
    return "\n".join(lines) + "\n"


def rule_page(rule: str) -> str:
    """docs/rules/RULE.md: generated from the rule module's docstring, never edited by hand."""
    doc = rule_doc(rule)
    summary, _, rest = doc.partition("\n")
    return (
        f"# {rule}\n\n"
        f"<!-- Generated from server/lockls/rules/{rule.replace('-', '_')}.py by "
        f"`python -m lockls.ruledocs docs/rules`; edit the docstring, not this page. -->\n\n"
        f"{short_description(rule)}\n"
        f"{rest.rstrip()}\n\n"
        f"Default severity: `{default_severity(rule)}`.\n"
    )


def write_pages(directory: str) -> list[str]:
    import os

    os.makedirs(directory, exist_ok=True)
    written = []
    for rule in RULES:
        path = os.path.join(directory, f"{rule}.md")
        with open(path, "w", encoding="utf-8") as f:
            f.write(rule_page(rule))
        written.append(path)
    return written


if __name__ == "__main__":
    import sys

    for p in write_pages(sys.argv[1] if len(sys.argv) > 1 else "docs/rules"):
        print(p)
