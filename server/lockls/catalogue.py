"""The rule catalogue: every rule's name and default severity, in the order of the documentation.

Plain data at the bottom of the package: the configuration validates rule names
against it; the rules themselves live in `lockls.rules` (one module each).
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
