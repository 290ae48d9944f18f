"""Fixes as data: their kinds and which are safe, which fix `--fix` applies for a
finding, which fixes can be applied together, and applying edits to a file's bytes.

Light on purpose (no tree-sitter): a run whose results all come from the cache
applies and counts fixes without parsing. The edits themselves are made from the
syntax tree by `quickfixes`.
"""

from __future__ import annotations

from typing import Optional

# The kinds of fix, and whether `--fix` applies each without `--unsafe-fixes` (the rule
# pages and `--help` say the same).
RELEASE = "insert-release"
GOTO = "goto-cleanup"
UNLOCK_INSTEAD = "unlock-instead"
REMOVE_REPEATED = "remove-repeated-call"
REMOVE = "remove-call"
SUPPRESS = "suppress"
APPLICABILITY = {
    REMOVE_REPEATED: "safe",  # `lock(m); lock(m);`: the second call can only deadlock or fail
    REMOVE: "unsafe",  # which of the calls is wrong is a guess
    UNLOCK_INSTEAD: "unsafe",  # changes when the lock is released
    RELEASE: "unsafe",  # changes when the lock is released
    GOTO: "unsafe",  # runs the label's code too, and returns its value
    SUPPRESS: "never",  # --add-suppressions writes these, never --fix
}
# the kinds of fix each rule's findings may get (besides a suppression comment)
KINDS_BY_RULE = {"lock-leak": (RELEASE, GOTO), "double-lock": (REMOVE_REPEATED, UNLOCK_INSTEAD, REMOVE),
                 "unlock-unheld": (REMOVE_REPEATED, REMOVE)}
# A fix of a finding that happens on some paths only ("may still be held") would be
# wrong on the others: the editor shows it, `--fix` never applies it.
DISPLAY_ONLY = "display-only"


def chosen(fixes, unsafe: bool):
    """The fix `--fix` applies for a finding (`Fix`es or `Suggested`s): its preferred
    one among those allowed (safe ones; `unsafe`: unsafe ones too), else the first."""
    allowed = [f for f in fixes if f.applicability == "safe" or (unsafe and f.applicability == "unsafe")]
    return next((f for f in allowed if f.preferred), allowed[0] if allowed else None)


# -- applying several -----------------------------------------------------------------

def compatible(candidates: list, groups: Optional[list] = None) -> list:
    """The candidates (each a list of (start_byte, end_byte, new_text) edits) that can be
    applied together, in order: each one whose edits touch no edit of one taken
    before it (insertions at the same place, or next to a replaced range, conflict
    too: which goes first is unknown), and, with `groups` (one per candidate: the
    function), the first of each group: two fixes in one function may fix one bug
    twice (`lock(m); lock(m); destroy(m);` also leaks `m`). The others wait for a
    re-check."""
    taken: list[tuple[int, int]] = []
    seen: set = set()
    out = []
    for i, edits in enumerate(candidates):
        group = groups[i] if groups is not None else None
        if group is not None and group in seen:
            continue
        if edits and not any(a <= e and s <= b for a, b, _ in edits for s, e in taken):
            taken.extend((a, b) for a, b, _ in edits)
            out.append(edits)
            if group is not None:
                seen.add(group)
    return out


def apply_edits(data: bytes, edits: list, line_break: bytes = b"\n") -> bytes:
    """`data` with the (start_byte, end_byte, new_text) edits applied (none may
    overlap); the new text's line breaks written as `line_break`."""
    for a, b, new in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        data = data[:a] + new.encode("utf-8").replace(b"\n", line_break) + data[b:]
    return data
