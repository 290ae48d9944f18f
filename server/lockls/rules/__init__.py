"""The rule catalogue: every rule's name, default severity and documentation.

Each rule lives in its own module whose docstring is its documentation (shown
by `lockls --check --explain RULE`, rendered to docs/rules/RULE.md and by hover
on a suppression comment).
"""

from __future__ import annotations

# name -> default severity; the order is the order of the documentation.
RULES: dict[str, str] = {
    "lock-leak": "warning",
    "double-lock": "error",
    "unlock-unheld": "error",
    "blocking-under-lock": "error",
    "missing-required-lock": "warning",
    "excluded-lock-held": "warning",
    "lock-order": "error",
    "nested-lock": "error",
    "unguarded-access": "warning",
}
