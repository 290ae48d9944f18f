"""The engine: one way to analyse a file, for `--check`, the language server and its index.

`Engine.analyze(path, source, config, tree, ...)` reads a file's contracts, lays
them (and the project's) over `config`, analyses each function (reusing the
result of any function whose text, column and parse are unchanged: the engine's
`FunctionCache`), applies suppressions and returns a `FileAnalysis`: the
functions with their results and the violations, placed where the functions are
now. Front-ends render it: `FileAnalysis.file_result()` makes the CLI's
`FileResult` (positions, related places, text), `lsp_diagnostics` makes LSP
diagnostics. `Engine.contracts` reads a file's contracts for a project (the
first pass of `--check`, the server's index); the functions it analyses on the
way, and the tree it parsed, are kept for the analysis of the same text.

A reused result was computed where the function used to be: its violations are
shifted by the byte and row distance it moved (`Violation.shifted`). Caches
belong to the engine and are bounded. Must not import pygls or lsprotocol.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from bisect import bisect_right
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Generator, Optional, TypeVar

from lockls.dataflow import lockstate
from lockls.syntax import nodes as syntax
from lockls.engine.function import (ContractsTrace, FunctionResult, analyze_function, called_in_file, contracts_after_edit,
                                    damaged_definitions, file_contracts, function_nodes, outside_tokens, partner_names,
                                    prime_statics, recursive_globals, with_wrappers)
from lockls.report.related import make_finding
from lockls.syntax.annotations import unchecked_functions
from lockls.config import Config
from lockls.dataflow.contracts import Contracts
from lockls.dataflow.contracts import apply as apply_contracts
from lockls.ir.events import Site
from lockls.report.findings import FileResult, Finding
from lockls.ir.message import Message
from lockls.lru import Lru, text_key
from lockls.ir.results import Violation
from lockls.rules import RULES
from lockls.syntax.suppress import is_suppressed, misspelt_rules, suppression_comments, suppressions, unused_suppressions

log = logging.getLogger("lockls.server")


# -- function results ------------------------------------------------------------

@dataclass
class Entry:
    """A cached function result and where the function was when it was computed."""

    result: FunctionResult
    base_byte: int
    base_row: int
    _shift: tuple = (0, 0)
    _shifted: Optional[list] = None
    lock_events: Optional[list] = None  # filled by the language server's lookups (lsp_lock_events), once

    def findings(self, db: int, dr: int) -> list[Violation]:
        if self._shifted is None or self._shift != (db, dr):
            self._shifted = [v.shifted(db, dr) for v in self.result.findings]
            self._shift = (db, dr)
        return self._shifted


# What the function results an engine keeps (beyond those open documents use) may weigh
# in all: about 55 MB (a unit, a CFG block or a path class or one of its locks, is about
# 450 bytes; a 20,000-line file's functions weigh about 17,000). A session keeps every
# edited version of a function until this evicts it: a function of 1,000 early returns
# weighs about 40 MB a version.
MAX_FUNCTION_WEIGHT = 120_000


def result_weight(result: FunctionResult) -> int:
    """The memory a kept result holds, in units of `MAX_FUNCTION_WEIGHT`."""
    weight = 1 + len(result.findings)
    if result.cfg is not None:
        weight += len(result.cfg.blocks)
    return weight + sum(lockstate.weight(state) for state in result.states or ())


class FunctionCache:
    """Function results keyed by `function_key`: those an open document's latest
    analysis uses are held (`hold`), the rest are an LRU bounded in entries and in
    weight (`result_weight`). Holding keeps a document of more functions than the
    bound from analysing all of them again on every keystroke."""

    def __init__(self, capacity: int = 20000, max_weight: int = MAX_FUNCTION_WEIGHT):
        self.capacity = capacity
        self.max_weight = max_weight
        self.weight = 0  # of the LRU's entries
        self._entries: OrderedDict = OrderedDict()  # key -> (Entry, weight), least recently used first
        self._held: dict = {}  # key -> (Entry, weight)
        self._holders: dict = {}  # owner (a document's path) -> frozenset of keys
        self._hold_count: dict = {}  # key -> how many owners hold it
        self.misses = 0  # functions analysed (for tests and the log)
        self.hits = 0

    def get(self, key) -> Optional[Entry]:
        kept = self._held.get(key)
        if kept is None:
            kept = self._entries.get(key)
            if kept is None:
                return None
            self._entries.move_to_end(key)
        self.hits += 1
        return kept[0]

    def put(self, key, entry: Entry) -> None:
        self.misses += 1
        if self.capacity <= 0:
            return
        kept = (entry, result_weight(entry.result))
        if key in self._hold_count:
            self._held[key] = kept
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self.weight -= old[1]
        self._entries[key] = kept
        self.weight += kept[1]
        self._evict()

    def hold(self, owner: str, keys: frozenset) -> None:
        """`owner`'s latest analysis uses `keys` (instead of what it held before)."""
        old = self._holders.get(owner, frozenset())
        for key in keys - old:
            self._hold_count[key] = self._hold_count.get(key, 0) + 1
            kept = self._entries.pop(key, None)
            if kept is not None:
                self.weight -= kept[1]
                self._held[key] = kept
        for key in old - keys:
            self._hold_count[key] -= 1
            if not self._hold_count[key]:
                del self._hold_count[key]
                kept = self._held.pop(key, None)
                if kept is not None:  # back to the LRU, as its newest entry
                    self._entries[key] = kept
                    self.weight += kept[1]
        if keys:
            self._holders[owner] = keys
        else:
            self._holders.pop(owner, None)
        self._evict()

    def release(self, owner: str) -> None:
        """`owner` (a closed document) holds nothing any more."""
        self.hold(owner, frozenset())

    def _evict(self) -> None:
        # the newest entry stays even when it alone is over the bound (it is in use)
        while len(self._entries) > 1 and (len(self._entries) > self.capacity or self.weight > self.max_weight):
            self.weight -= self._entries.popitem(last=False)[1][1]

    def __len__(self) -> int:
        return len(self._entries) + len(self._held)

    def clear(self) -> None:
        self._entries.clear()
        self._held.clear()
        self._holders.clear()
        self._hold_count.clear()
        self.weight = 0


def function_key(fn, source: bytes, fingerprint: str, recursive: frozenset, static: frozenset) -> tuple:
    """What a function's result depends on: its text, its column, the kind of node it
    sits in (a function swallowed by an unclosed brace parses differently), the
    configuration, the file's recursive mutexes and static names (a static global is
    a lock of this file's in the lock graph) and, where the parser had to recover,
    the tree it made of the text (the same broken text can be parsed two ways,
    incrementally or afresh: see `Document.reparse`)."""
    parent = fn.parent
    return (source[fn.start_byte:fn.end_byte], fn.start_point[1], parent.type if parent is not None else "",
            fingerprint, recursive, static, fn.descendant_count if fn.has_error else 0)


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

    @property
    def line(self) -> int:
        """1-based line of the definition in the current text."""
        return self.fn.start_point[0] + 1

    @property
    def skipped(self) -> str:
        """Why the function was not analysed ("" if it was), its lines those of the current text."""
        reason = self.entry.result.skipped
        return str(reason.shifted(self.dr)) if isinstance(reason, Message) else (reason or "")

    def to_base(self, offset: int) -> int:
        return offset - self.db

    def from_base(self, offset: int) -> int:
        return offset + self.db


@dataclass
class Reported:
    """A violation of the current text, with the function it is in."""

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


# skipped for a reason that comes and goes while the code is typed: not worth a diagnostic
_WHILE_TYPING = ("unbalanced braces", "unparsable", "the parser")


@dataclass
class FileAnalysis:
    """One file analysed: its functions and what was found in them, placed in the text analysed."""

    version: Optional[int] = None
    path: str = ""
    slots: list = field(default_factory=list)
    findings: list = field(default_factory=list)  # Reported, in text order, after suppressions
    skipped: list = field(default_factory=list)  # "name (line N): reason"
    damaged: list = field(default_factory=list)  # (name, line): definitions the parser could not read
    # (slot, what to tell) of the functions analysed in part or not at all, for the editor
    limits: list = field(default_factory=list)
    # (1-based line, message) about the text itself: a misspelt rule in a suppression
    warnings: list = field(default_factory=list)
    unused: list = field(default_factory=list)  # (1-based line, message): suppressions that silence nothing
    recursive_globals: frozenset = frozenset()
    config: Optional[Config] = None  # the configuration the functions were analysed under
    source: bytes = b""  # the text analysed
    base: Optional[Config] = None  # the configuration before any contracts
    own: Contracts = Contracts()  # the file's own contracts (under `base`)
    relevant: Contracts = Contracts()  # those of other files of the project it uses
    project: object = None  # the project.Project they came from
    outside: Optional[syntax.Outside] = None  # the text outside function bodies

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

    def file_result(self) -> FileResult:
        """The CLI's view: findings with positions, related places and text."""
        out = FileResult(path=self.path)
        out.skipped = [f"{name} (line {line}): the parser could not read this definition (unbalanced braces?)"
                       for name, line in self.damaged] + self.skipped
        for slot in self.slots:
            fr = slot.result
            if fr.skipped:
                continue
            out.functions += 1
            if fr.partial:
                out.partial.append(f"{fr.name} (line {slot.line}): {fr.partial}")
        out.findings = sorted((make_finding(r.violation, self.path, r.slot.name, self.source, self.config,
                                            self.outside) for r in self.findings), key=Finding.sort_key)
        out.warnings = [list(w) for w in self.warnings]
        out.unused = [list(u) for u in self.unused]
        return out


# -- the engine ------------------------------------------------------------------

class Engine:
    """Analyses files; owns the function cache and the trees kept between passes.

    One per `--check` worker process, one for the server's open documents and one
    for its background index (each used from one thread)."""

    def __init__(self, function_capacity: int = 20000, keep_bytes: int = 8 << 20):
        self.functions = FunctionCache(function_capacity)
        self.keep_bytes = keep_bytes  # source bytes whose trees `contracts` keeps for `analyze`
        self._trees: dict[str, tuple[bytes, object]] = {}
        self._kept_bytes = 0
        self._parser = None
        self._logged_errors: set = set()
        self._unchecked: Lru = Lru(16)

    # -- trees -------------------------------------------------------------------

    def parse(self, path: str, source: bytes):
        """A tree of `source`: the one kept for `path` when its text is the same."""
        kept = self._trees.get(path)
        if kept is not None and kept[0] == source:
            return kept[1]
        if self._parser is None:
            self._parser = syntax.new_parser()
        return self._parser.parse(source)

    def _keep(self, path: str, source: bytes, tree) -> bool:
        if path not in self._trees and self._kept_bytes + len(source) <= self.keep_bytes:
            self._kept_bytes += len(source)
            self._trees[path] = (source, tree)
        return path in self._trees

    def release_document(self, path: str) -> None:
        """A document is closed: its function results need not be held any more."""
        self.functions.release(path)

    def forget_trees(self) -> None:
        self._trees.clear()
        self._kept_bytes = 0

    # -- contracts ---------------------------------------------------------------

    def contracts(self, path: str, source: bytes, config: Config, tree=None, extra: Optional[Contracts] = None,
                  own: Optional[Contracts] = None, keep: bool = False):
        """The file's `project.FileContracts` under `config` (see `project.scan_tree`);
        with `extra` and `own`, read again under the project's contracts. `keep`: keep
        the tree, and the functions analysed under `config` on the way, for
        `analyze` of the same text."""
        from lockls.engine.project import scan_tree

        source = syntax.lsp_line_breaks(source)
        tree = tree if tree is not None else self.parse(path, source)
        functions = function_nodes(tree.root_node, source)
        outside = syntax.outside_bodies(source, functions).text
        static = prime_statics(source, outside)
        analyzed: Optional[dict] = {} if keep else None
        found = scan_tree(tree, source, path, config, extra=extra, own=own, analyzed=analyzed, functions=functions,
                          outside=outside)
        if keep and self._keep(path, source, tree):
            if analyzed:
                fp, rec = config.fingerprint(), recursive_globals(source)
                for fn, _ in functions:
                    fr = analyzed.get(fn.start_byte)
                    if fr is not None:
                        self.functions.put(function_key(fn, source, fp, rec, static),
                                           Entry(fr, fn.start_byte, fn.start_point[0]))
        return found

    # -- analysis ------------------------------------------------------------------

    def analyze(self, path: str, source: bytes, config: Config, tree=None, *,
                contracts: Optional[tuple] = None, project=None, found: Optional[set] = None,
                select: Optional[frozenset] = None, version: Optional[int] = None,
                edited: Optional[list] = None, memo: Optional[dict] = None, remember: bool = True,
                should_stop: Optional[Callable[[], bool]] = None) -> Optional[FileAnalysis]:
        """Analyse `source` (the file `path`, parsed as `tree` if given) under `config`.

        The file's own contracts are laid over `config`, and the other files' it uses:
        either `contracts` = (own, relevant) as `--check`'s inference rounds found
        them (own may be None: read here), or those the `project` has for the words
        `found` in the text (see `project.Project.relevant`). `select`: report only
        these rules (`--check` filters later, so its cache serves every selection).
        `memo` (a dict kept per document) and `edited` (byte ranges changed since
        the last call) let the server read the static functions once rather than
        on every keystroke; with `memo`, the function results used are held for
        `path` until the next call (or `release_document`). `remember`: keep the function results for reuse.
        Lines are the LSP's: a lone CR ends one (see `syntax.lsp_line_breaks`).
        `should_stop`, asked after each function: True stops the run and gives None
        (the results of the functions done are kept for reuse; see `analyze_steps`)."""
        return run_steps(self.analyze_steps(path, source, config, tree, contracts=contracts, project=project,
                                            found=found, select=select, version=version, edited=edited,
                                            memo=memo, remember=remember), should_stop)

    def analyze_steps(self, path: str, source: bytes, config: Config, tree=None, *,
                      contracts: Optional[tuple] = None, project=None, found: Optional[set] = None,
                      select: Optional[frozenset] = None, version: Optional[int] = None,
                      edited: Optional[list] = None, memo: Optional[dict] = None,
                      remember: bool = True) -> Generator[None, None, FileAnalysis]:
        """`analyze` as a generator: it yields after each function and returns the
        `FileAnalysis`, so a caller can do other work between functions or drop the
        run (`close()`). A dropped run has put the results of the functions it did in
        the cache (each keyed by what it depends on, so valid for any later run) and
        holds nothing new (`FunctionCache.hold` is only for a whole file's run)."""
        source = syntax.lsp_line_breaks(source)  # (a document's text already is)
        if tree is None:
            tree = self.parse(path, source)
            self._trees.pop(path, None)  # used: a file is analysed once per run
        root = tree.root_node
        rec = recursive_globals(source)
        functions = function_nodes(root, source)
        outside = syntax.outside_bodies(source, functions)
        tokens = outside_tokens(outside.text)
        st = prime_statics(source, outside.text)
        base = config
        if contracts is not None:
            own, relevant = contracts
            own = own if own is not None else file_contracts(root, source, config, rec, functions=functions,
                                                             outside=outside.text)
            relevant = relevant or Contracts()
        else:
            holding = _bodies_holding(functions, edited) if edited is not None else None
            own = _own_contracts(root, source, config, rec, functions, memo, edited, holding, outside.text, tokens)
            if memo is not None:  # on every call: `edited` covers the edits since the previous one only
                _carry_memo(memo, source, edited is not None and holding is not None)
            static = _static_names(tree, source, functions, memo) if project else ()
            defined = frozenset(memo["trace"].names) if memo is not None else \
                frozenset(syntax.function_name(fn, source) for fn, _ in functions)
            relevant = project.relevant(source, own, static, found, path, defined) if project else Contracts()
        config = apply_contracts(config, Contracts.merge([own, relevant]).settled())
        # other files' contracts can change a function's summary here: read the file's again
        if (contracts is not None and contracts != (None, None)) or (relevant and _may_wrap(relevant, functions, source)):
            config = with_wrappers(root, source, config, rec, functions=functions)
        out = FileAnalysis(version, path, recursive_globals=rec, config=config, source=source, base=base, own=own,
                           relevant=relevant, project=project)
        out.damaged = damaged_definitions(root, source)
        out.outside = outside
        fp = config.fingerprint()
        used = set() if memo is not None else None  # an open document's: held while it is open
        called = None  # the names called in the file, when a kept result depends on them
        for fn, body in functions:
            # (an engine that keeps nothing, as for one file alone, has nothing to look up)
            key = function_key(fn, source, fp, rec, st) if remember or len(self.functions) else None
            if used is not None and key is not None:
                used.add(key)
            entry = self.functions.get(key) if key is not None else None
            if entry is not None and entry.result.partner is not None:
                if called is None:
                    called = called_in_file(source, functions, outside.text)
                if bool(partner_names(entry.result.name) & called) != entry.result.partner:
                    entry = None  # the file gained or lost the function's partner (`q_unlock` for `q_lock`)
            if entry is None:
                entry = Entry(self._analyze_function(fn, body, source, config, rec), fn.start_byte, fn.start_point[0])
                if remember:
                    self.functions.put(key, entry)
            slot = Slot(fn, body, fn.start_byte, fn.end_byte, entry, fn.start_byte - entry.base_byte,
                        fn.start_point[0] - entry.base_row)
            out.slots.append(slot)
            fr = entry.result
            if fr.skipped:
                reason = slot.skipped
                out.skipped.append(f"{fr.name} (line {slot.line}): {reason}")
                if not reason.startswith(_WHILE_TYPING):
                    out.limits.append((slot, f"lockls could not analyse `{fr.name}`: {reason}"))
            elif fr.partial:
                out.limits.append((slot, f"lockls analysed `{fr.name}` only in part: {fr.partial}"))
            yield
        if used is not None and remember:
            self.functions.hold(path, frozenset(used))
        self._report(out, root, source, config, select, tokens)
        return out

    def unchecked(self, out: FileAnalysis, root, config: Config, tokens: bytes) -> frozenset:
        """The functions marked `no_thread_safety_analysis`: read from their declarations,
        outside bodies (`tokens`: `function.outside_tokens` of that text), so once while
        that text stays the same."""
        return self._unchecked.get((text_key(tokens), tuple(sorted(config.annotations.items()))),
                                   lambda: unchecked_functions(root, out.source, config.annotations))

    def _analyze_function(self, fn, body, source: bytes, config: Config, rec: frozenset) -> FunctionResult:
        try:
            return analyze_function(fn, body, source, config, rec)
        except Exception as e:  # analyze_function catches its own; this is a last line of defence
            try:
                name = syntax.function_name(fn, source)
            except Exception:
                name = "<function>"
            if (name, type(e).__name__) not in self._logged_errors:
                self._logged_errors.add((name, type(e).__name__))
                log.exception("internal error analysing %s", name)
            return FunctionResult(name, fn.start_point[0] + 1, skipped=f"internal error: {type(e).__name__}: {e}")

    def _report(self, out: FileAnalysis, root, source: bytes, config: Config, select: Optional[frozenset],
                tokens: bytes) -> None:
        """The violations the suppressions and `select` leave, and what to say about the suppressions."""
        comments = suppression_comments(source)
        table = suppressions(source, comments)
        out.warnings = misspelt_rules(comments, RULES)
        unchecked = self.unchecked(out, root, config, tokens)
        raised: set = set()  # (rule, line) of every finding before suppressions
        for slot in out.slots:
            if not slot.result.findings or slot.name in unchecked:
                continue  # no_thread_safety_analysis: the author opted this function out
            for v in slot.entry.findings(slot.db, slot.dr):
                raised.add((v.rule, v.site.start[0]))
                if select is not None and v.rule not in select:
                    continue
                if is_suppressed(v.rule, v.site.start[0], table):
                    continue
                out.findings.append(Reported(v, slot))
        out.findings.sort(key=lambda r: (r.site.start_byte, r.rule, str(r.message)))
        out.unused = unused_suppressions(comments, raised, RULES)


_Result = TypeVar("_Result")


def run_steps(steps: Generator[None, None, _Result], should_stop: Optional[Callable[[], bool]] = None) -> Optional[_Result]:
    """Run a generator of steps (`Engine.analyze_steps`) to its result, asking
    `should_stop` after each step: None, and the generator closed, when it says so."""
    finished, result = advance(steps, should_stop)
    if not finished:
        steps.close()
    return result


def advance(steps: Generator[None, None, _Result], should_stop: Optional[Callable[[], bool]] = None
            ) -> tuple[bool, Optional[_Result]]:
    """Run a generator of steps until its result, (True, result), or until `should_stop`
    (asked after each step) says so, (False, None): the generator is left where it
    stopped, to go on later."""
    try:
        while True:
            next(steps)
            if should_stop is not None and should_stop():
                return False, None
    except StopIteration as done:
        return True, done.value


def analyze_source(source: bytes, path: str, config: Config) -> FileResult:
    """Analyse the C text `source` (named `path` in findings) under `config`, alone."""
    return Engine(function_capacity=0).analyze(path, source, config, remember=False).file_result()


# -- the server's shortcuts --------------------------------------------------------

def _static_names(tree, source: bytes, functions: list, memo: Optional[dict]):
    """`static` for `Project.relevant`: which of some names the document declares
    static, remembered in `memo` while every edit stays strictly inside a function
    body (where no declaration's storage class can change)."""
    from lockls.engine.project import static_among

    def static(names) -> frozenset:
        names = frozenset(names)
        if memo is not None and memo.get("source") is source and memo.get("names") == names:
            return memo["result"]
        result = static_among(tree.root_node, source, names, functions)
        if memo is not None:
            memo.update(source=source, names=names, result=result)
        return result

    return static


def _own_contracts(root, source: bytes, config: Config, rec: frozenset, functions: list, memo: Optional[dict],
                   edited: Optional[list], holding: Optional[set], outside: bytes, tokens: bytes) -> Contracts:
    """The file's own contracts; with `memo`, read again for the one function edited
    since the last call when that is enough (see `function.ContractsTrace`).
    `holding`: `_bodies_holding(functions, edited)`; `outside`, `tokens`: the text
    outside bodies and its `function.outside_tokens`."""
    if memo is None:
        return file_contracts(root, source, config, rec, functions=functions, outside=outside)
    trace = memo.get("trace")
    if trace is not None and edited:
        fn, body = functions[next(iter(holding))] if holding is not None and len(holding) == 1 else (None, None)
        if fn is not None or _between_bodies(functions, edited):
            own = contracts_after_edit(trace, fn, body, source, config, rec, functions, tokens)
            if own is not None:
                return own
    trace = memo["trace"] = ContractsTrace()
    return file_contracts(root, source, config, rec, functions=functions, trace=trace, outside=outside)


def _bodies_holding(functions: list, edited: list) -> Optional[set]:
    """The indices of the functions whose bodies strictly hold the edited ranges, or
    None when some range is not strictly inside a body, or inside one whose braces do
    not balance (it swallows what follows it: the file's shape is changing, and what
    lies outside bodies with it)."""
    starts = [body.start_byte for _, body in functions]
    found = set()
    for a, b in edited:
        i = bisect_right(starts, a) - 1
        if i < 0 or not (functions[i][1].start_byte < a and b < functions[i][1].end_byte - 1) \
                or syntax.has_missing_close(functions[i][1]):
            return None
        found.add(i)
    return found


def _between_bodies(functions: list, edited: list) -> bool:
    """Does every edited range lie outside every function body?"""
    bodies = [(body.start_byte, body.end_byte) for _, body in functions]
    starts = [a for a, _ in bodies]
    for a, b in edited:
        i = bisect_right(starts, b) - 1  # the last body starting at or before the range's end
        if i >= 0 and bodies[i][1] > a:
            return False
    return True


def _carry_memo(memo: dict, source: bytes, inside_bodies: bool) -> None:
    """Keep what `memo` remembers of the previous text when every edit since
    stayed strictly inside a function body (`inside_bodies`); forget it otherwise."""
    if memo.get("source") is None or memo["source"] is source:
        return
    if inside_bodies:
        memo["source"] = source
    else:
        for key in ("source", "names", "result"):
            memo.pop(key, None)


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
