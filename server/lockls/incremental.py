"""Per-function result reuse for the language server.

Owns: analysing an open document function by function, reusing the
`FunctionResult` of every function whose text is unchanged. A result is keyed by
the function definition's exact bytes, its start column, the kind of node it
sits in (a function swallowed by an unclosed brace parses differently), the
configuration fingerprint and the file's recursive-mutex globals. A reused result
was computed where the function used to be: its sites are shifted by the byte and
row distance it moved, and the `line N` numbers in its messages are renumbered
(outside backquoted code). So after a keystroke only the edited function is
re-analysed; everything else costs a dictionary lookup.

Same pipeline as `analysis.analyze_tree` (suppressions, configured severities),
never a second analysis. Must not import pygls or lsprotocol.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from bisect import bisect_right
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Optional

from . import syntax
from .analysis import (FunctionResult, analyze_function, file_contracts, function_nodes,
                       recursive_globals, with_wrappers)
from .annotations import unchecked_functions
from .config import Config
from .contracts import Contracts
from .contracts import apply as apply_contracts
from .events import Site
from .message import Message
from .results import Violation
from .rules import RULES
from .suppress import is_suppressed, misspelt_rules, suppression_comments, suppressions, unused_suppressions

log = logging.getLogger("lockls.server")

@dataclass
class Entry:
    """A cached function result and where the function was when it was computed."""

    result: FunctionResult
    base_byte: int
    base_row: int
    _shift: tuple = (0, 0)
    _shifted: Optional[list] = None
    lock_events: Optional[list] = None  # filled by the language server's lookups (lsp_lock_events), once

    def findings(self, db: int, dr: int) -> list:
        if self._shifted is None or self._shift != (db, dr):
            self._shifted = [v.shifted(db, dr) for v in self.result.findings]
            self._shift = (db, dr)
        return self._shifted


class FunctionCache:
    """An LRU of function results shared by every open document."""

    def __init__(self, capacity: int = 20000):
        self.capacity = capacity
        self._entries: OrderedDict = OrderedDict()
        self.misses = 0  # functions analysed (for tests and the log)
        self.hits = 0

    def get(self, key) -> Optional[Entry]:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
            self.hits += 1
        return entry

    def put(self, key, entry: Entry) -> None:
        self._entries[key] = entry
        self.misses += 1
        if len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()


@dataclass
class Slot:
    """One function of the current text and its (possibly reused) analysis."""

    fn: object  # tree-sitter node of the definition (valid until the next edit)
    body: object
    start: int
    end: int
    entry: Entry
    db: int  # current offset - offset the result was computed at
    dr: int

    @property
    def result(self) -> FunctionResult:
        return self.entry.result

    @property
    def name(self) -> str:
        return self.entry.result.name

    def to_base(self, offset: int) -> int:
        return offset - self.db

    def from_base(self, offset: int) -> int:
        return offset + self.db


# skipped for a reason that comes and goes while the code is typed: not worth a diagnostic
_WHILE_TYPING = ("unbalanced braces", "unparsable", "the parser")


@dataclass
class Reported:
    """A finding of the current text, with the function it is in."""

    violation: Violation  # moved to where its function is now
    slot: Slot

    @property
    def rule(self) -> str:
        return self.violation.rule

    @property
    def site(self) -> Site:
        return self.violation.site

    @property
    def message(self) -> Message:
        return self.violation.message

    @property
    def related(self) -> tuple:
        return self.violation.related


@dataclass
class DocumentAnalysis:
    version: Optional[int]
    slots: list = field(default_factory=list)
    findings: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    # (slot, what to tell) of the functions analysed in part or not at all, for the editor
    limits: list = field(default_factory=list)
    # (1-based line, message) about the text itself: a misspelt rule in a suppression
    warnings: list = field(default_factory=list)
    unused: list = field(default_factory=list)  # (1-based line, message): suppressions that silence nothing
    recursive_globals: frozenset = frozenset()
    config: Optional[Config] = None
    source: bytes = b""  # the text analysed
    base: Optional[Config] = None  # the configuration before any contracts
    own: Contracts = Contracts()  # the document's own contracts (under `base`)
    relevant: Contracts = Contracts()  # those of other files of the project it uses
    project: object = None  # the project.Project they came from

    def slot_at(self, offset: int) -> Optional[Slot]:
        """The innermost function whose definition contains `offset`."""
        best = None
        for slot in self.slots:
            if slot.start <= offset < slot.end or (offset == slot.end and offset > slot.start):
                if best is None or slot.end - slot.start < best.end - best.start:
                    best = slot
            elif slot.start > offset:
                break
        return best


_logged_errors: set = set()


def _static_names(tree, source: bytes, functions: list, memo: Optional[dict]):
    """`static` for `Project.relevant`: which of some names the document declares
    static, remembered in `memo` while every edit stays strictly inside a function
    body (where no declaration's storage class can change)."""
    from .project import static_among

    def static(names) -> frozenset:
        names = frozenset(names)
        if memo is not None and memo.get("source") is source and memo.get("names") == names:
            return memo["result"]
        result = static_among(tree.root_node, source, names, functions)
        if memo is not None:
            memo.update(source=source, names=names, result=result)
        return result

    return static


def _carry_memo(memo: dict, source: bytes, functions: list, edited: Optional[list]) -> None:
    """Keep what `memo` remembers of the previous text when every edit since
    stayed strictly inside a function body; forget it otherwise."""
    if memo.get("source") is None or memo["source"] is source:
        return
    starts = [body.start_byte for _, body in functions]
    inside = edited is not None and all(
        (i := bisect_right(starts, a) - 1) >= 0 and functions[i][1].start_byte < a and b < functions[i][1].end_byte - 1
        for a, b in edited)
    if inside:
        memo["source"] = source
    else:
        memo.clear()


def _may_wrap(relevant: Contracts, functions: list, source: bytes) -> bool:
    """Can the other files' contracts change a function's summary here (which
    `with_wrappers` would then find)? Only a function that calls one of
    their lock functions can (contracts on callers only, `__must_hold`, add no lock
    event; for anything but functions in `relevant`, assume it can). Saves reading
    the whole file's contracts again on every keystroke."""
    if any(getattr(relevant, f.name) for f in dataclasses.fields(Contracts) if f.name != "functions"):
        return True
    starts = [fn.start_byte for fn, _ in functions]
    for name, fn in relevant.functions:
        if fn.action == "call":
            continue
        for m in re.finditer(rb"\b" + re.escape(name.encode()) + rb"\b", source):
            for i in range(bisect_right(starts, m.start()) - 1, -1, -1)[:3]:  # the innermost function around it
                body = functions[i][1]
                if body.start_byte <= m.start() < body.end_byte:
                    return True
    return False


def analyze_document(tree, source: bytes, config: Config, cache: FunctionCache,
                     select: Optional[frozenset] = None, version: Optional[int] = None,
                     project=None, found: Optional[set] = None,
                     edited: Optional[list] = None, memo: Optional[dict] = None, path: str = "") -> DocumentAnalysis:
    """Analyse a document under `config` and, when given, the contracts of the other
    files of its `project` it uses (`found`: see `project.Project.relevant`),
    exactly as `--check` does (see `check._Plan`). `memo` (a dict kept per document)
    and `edited` (byte ranges changed since the last call) let the static functions
    be read once rather than on every keystroke. `path`: the document's file (its
    static locks are named by it in the project's lock graph)."""
    rec = recursive_globals(source)
    functions = function_nodes(tree.root_node)
    base = config
    own = file_contracts(tree.root_node, source, config, rec, functions=functions)
    if memo is not None:  # on every call: `edited` covers the edits since the previous one only
        _carry_memo(memo, source, functions, edited)
    static = _static_names(tree, source, functions, memo) if project else ()
    relevant = project.relevant(source, own, static, found, path) if project else Contracts()
    if relevant:  # as analysis.analyze_tree under project.effective_config
        config = apply_contracts(config, Contracts.merge([own, relevant]).settled())
        if _may_wrap(relevant, functions, source):
            config = with_wrappers(tree.root_node, source, config, rec, functions=functions)
    else:
        config = apply_contracts(config, own.settled())
    fp = config.fingerprint()
    out = DocumentAnalysis(version, recursive_globals=rec, config=config, base=base, own=own, relevant=relevant,
                           project=project)
    for fn, body in functions:
        start, end = fn.start_byte, fn.end_byte
        parent = fn.parent
        # the text and, where the parser had to recover, the tree it made of it: the same
        # broken text can be parsed two ways (incrementally or afresh), see Document.reparse
        key = (source[start:end], fn.start_point[1], parent.type if parent is not None else "", fp, rec,
               fn.descendant_count if fn.has_error else 0)
        entry = cache.get(key)
        if entry is None:
            try:
                fr = analyze_function(fn, body, source, config, rec)
            except Exception as e:  # analyze_function catches its own; this is a last line of defence
                try:
                    name = syntax.function_name(fn, source)
                except Exception:
                    name = "<function>"
                if (name, type(e).__name__) not in _logged_errors:
                    _logged_errors.add((name, type(e).__name__))
                    log.exception("internal error analysing %s", name)
                fr = FunctionResult(name, fn.start_point[0] + 1, skipped=f"internal error: {type(e).__name__}: {e}")
            entry = Entry(fr, start, fn.start_point[0])
            cache.put(key, entry)
        slot = Slot(fn, body, start, end, entry, start - entry.base_byte, fn.start_point[0] - entry.base_row)
        out.slots.append(slot)
        if entry.result.skipped:
            out.skipped.append(f"{entry.result.name} (line {fn.start_point[0] + 1}): {entry.result.skipped}")
            if not entry.result.skipped.startswith(_WHILE_TYPING):
                out.limits.append((slot, f"lockls could not analyse `{entry.result.name}`: {entry.result.skipped}"))
        elif entry.result.partial:
            out.limits.append((slot, f"lockls analysed `{entry.result.name}` only in part: {entry.result.partial}"))
    comments = suppression_comments(source)
    table = suppressions(source, comments)
    out.warnings = misspelt_rules(comments, RULES)
    enabled = select if select is not None else config.select
    unchecked = unchecked_functions(tree.root_node, source, config.annotations)
    raised: set = set()  # (rule, line) of every finding before suppressions
    for slot in out.slots:
        if not slot.entry.result.findings or slot.entry.result.name in unchecked:
            continue
        for v in slot.entry.findings(slot.db, slot.dr):
            raised.add((v.rule, v.site.start[0]))
            if enabled is not None and v.rule not in enabled:
                continue
            if is_suppressed(v.rule, v.site.start[0], table):
                continue
            out.findings.append(Reported(v, slot))
    out.findings.sort(key=lambda r: (r.site.start_byte, r.rule, str(r.message)))
    out.unused = unused_suppressions(comments, raised, RULES)
    return out
