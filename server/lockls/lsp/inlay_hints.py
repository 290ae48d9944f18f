"""textDocument/inlayHint: the locks held after each line that changes them.

Owns the `held: ...` hints (setting `inlayHints.heldLocks`, off by default). At the
end of each line holding a lock operation (an acquire, try-acquire or release,
written directly or through a call whose summary does it, or the end of a scoped
guard's block), the locks held just after the line's last operation: `held: &q->lock,
&m`, `maybe &m` for a lock held on some paths only (after a trylock, say), or
`held: none`. Code that no path reaches gets no hint. The states are those of the
analysis the diagnostics come from: each block's fixpoint state carried through its
events (no re-analysis, unlike hover's probe), computed once per function result.
Only the lines of the requested range, at most `MAX_HINTS` a request, always on the
document's current text.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from lsprotocol import types as T

from lockls.dataflow.lockstate import held_anywhere
from lockls.dataflow.solver import transfer
from lockls.engine.driver import FileAnalysis, Slot
from lockls.ir.events import LOCK_EVENTS
from lockls.lru import Lru

if TYPE_CHECKING:
    from lockls.lsp.session import Session

MAX_HINTS = 2000  # a request for a whole huge file gets the first ones
MAX_LOCKS_SHOWN = 6  # then "and N more"

# id(function result) -> (a weak reference to it, [(row of the line in the analysed text,
# label)]): results are immutable and reused across keystrokes while the function's text
# is unchanged; the engine's cache decides how long they live, not this one
_LINES: Lru = Lru(512)


def inlay_hints(session: Session, uri: str, rng: T.Range) -> list[T.InlayHint]:
    if not session.held_lock_hints:
        return []
    doc = session.documents.get(uri)
    if doc is None or doc.tree is None:
        return []
    result = session.analysis(uri)  # of the current text: never a stale version's hints
    if result is None:
        return []
    first, last = max(rng.start.line, 0), min(rng.end.line, doc.lines.line_count() - 1)
    if first > last:
        return []
    start = doc.lines.starts[first]
    end = doc.offset_at(last, 1 << 30, session.encoding)
    hints: list[T.InlayHint] = []
    for slot in result.slots:
        if slot.end < start or slot.start > end:
            continue
        for row, label in _line_labels(slot, result):
            line = row + slot.dr
            if not first <= line <= last:
                continue
            at = doc.lines.starts[line] + len(doc.line_bytes(line))
            position = T.Position(*doc.position_of(at, session.encoding))
            hints.append(T.InlayHint(position=position, label=label, padding_left=True))
            if len(hints) >= MAX_HINTS:
                return hints
    return hints


def _line_labels(slot: Slot, result: FileAnalysis) -> list[tuple[int, str]]:
    fr = slot.result
    if fr.cfg is None or fr.states is None:
        return []
    kept = _LINES.get(id(fr), lambda: (weakref.ref(fr), _labels(fr, result)))
    if kept[0]() is not fr:  # the id of a result gone, reused by a newer one (rare: not kept)
        return _labels(fr, result)
    return kept[1]


def _labels(fr, result: FileAnalysis) -> list[tuple[int, str]]:
    """(row, label) of every line of the function holding a lock operation that a path reaches."""
    config, recursive = result.config, result.recursive_globals

    def is_recursive(key: str, spec) -> bool:
        return key in recursive or config.is_recursive(key, spec)

    after: dict[int, tuple] = {}  # id(event) -> (event, [state after it, per block it is in])
    for block in fr.cfg.blocks:
        state = fr.states[block.id]
        if not state:
            continue  # no path reaches the block
        for ev in block.events:
            state = transfer(state, ev, is_recursive)
            if isinstance(ev, LOCK_EVENTS):
                after.setdefault(id(ev), (ev, []))[1].append(state)
    last: dict[int, list] = {}  # row -> the line's last operation(s) (the same site: joined)
    for ev, states in after.values():
        row, place = ev.site.end[0], (ev.site.end_byte, ev.site.start_byte)
        kept = last.get(row)
        if kept is None or place > kept[0]:
            last[row] = [place, list(states)]
        elif place == kept[0]:
            kept[1].extend(states)
    return sorted((row, _label([c for state in states for c in state])) for row, (_, states) in last.items())


def _label(classes: list) -> str:
    sure: list[str] = []
    maybe: list[str] = []
    for key, fact in held_anywhere(tuple(classes)):
        everywhere = all((f := c.get(key)) is not None and f.held for c in classes)
        (sure if everywhere else maybe).append(fact.written)
    # (an element of an array of locks taken in an earlier iteration reads like the current one)
    names = list(dict.fromkeys(sure)) + [f"maybe {w}" for w in dict.fromkeys(w for w in maybe if w not in sure)]
    if not names:
        return "held: none"
    if len(names) > MAX_LOCKS_SHOWN:
        names = names[:MAX_LOCKS_SHOWN] + [f"and {len(names) - MAX_LOCKS_SHOWN} more"]
    return "held: " + ", ".join(names)

