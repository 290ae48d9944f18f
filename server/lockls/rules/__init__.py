"""The rule catalogue: every rule's name, default severity and documentation.

Each rule lives in its own module whose docstring is its documentation (shown
by `lockls --check --explain RULE`, rendered to docs/rules/RULE.md and by hover
on a suppression comment).
"""

from __future__ import annotations

from lockls.catalogue import RULES  # noqa: F401 (the rule modules are imported by name, see ruledocs)
