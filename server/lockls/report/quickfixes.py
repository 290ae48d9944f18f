"""Fixes for findings, made from the syntax tree as byte-range edits of the analysed
text: one code for the editor's quick-fixes, `--fix`/`--diff` and the `fix` of JSON
findings.

- `lock-leak`: insert the release paired with the acquire (same kind in the
  configuration, else the name with `lock` -> `unlock`, `irqsave` -> `irqrestore`),
  with the lock expression as written (plus the saved flags of an irqsave, the
  token of `idx = srcu_read_lock(...)`), on a new line before the `return` with its
  indentation (a braceless `if`/loop body gets braces); or `goto LABEL;` when a
  label of the function is followed by a release of that lock before any return.
- `double-lock` right before a `return` or the lock's destroy (`pthread_mutex_destroy`,
  `..._fini`, `..._clear`): replace the second acquire with the matching release.
- `double-lock`, `unlock-unheld`: remove the call statement (its whole lines when it
  is alone on them; a braceless body's only statement takes its `if` with it when
  the condition has no side effects, else becomes `{}`).
- every rule (editor only): `/* lockls: ignore[rule] */` at the end of the line.

Each fix has a kind, and `fixes.APPLICABILITY` says which kinds are safe (`--fix`
applies them; the others need `--unsafe-fixes`). Edits are (start_byte, end_byte,
new_text) of the analysed text (lone CRs made LFs: same offsets as the file).
Must not import pygls; reads the tree through `doc` (an LSP document, or a
`SourceText` for the command line).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from bisect import bisect_right
from dataclasses import dataclass
from typing import Optional

from lockls.config import Config, LockFunction
from lockls.ir.events import Acquire, Release, Return, TryAcquire
from lockls.report.findings import Fix, Span, TextEdit
from lockls.report.fixes import APPLICABILITY, DISPLAY_ONLY, GOTO, RELEASE, REMOVE, REMOVE_REPEATED, SUPPRESS, UNLOCK_INSTEAD
from lockls.report.related import position
from lockls.syntax.nodes import call_name, declared_name, text

_BRACELESS_PARENTS = {"if_statement": "consequence", "while_statement": "body", "for_statement": "body",
                      "do_statement": "body"}
# a call right after a second acquire that ends the lock's life: release it before
_DESTROY = re.compile(r"destroy|fini|deinit|_clear$|_free$", re.IGNORECASE)
_SIDE_EFFECTS = {"call_expression", "assignment_expression", "update_expression"}
# The findings whose fix is to remove (or replace) the lock call itself: the event they
# are about, and what their messages (rules/double_lock.py, rules/unlock_unheld.py)
# say when the call is the mistake (not a function called with its lock held, nor
# the release of the wrong lock or in the wrong mode).
_ABOUT_THE_CALL = {"double-lock": (Acquire, ("is taken but it is already held", "is taken but it may already be held")),
                   "unlock-unheld": (Release, ("is released but it is not held (", "is released but it may not be held ("))}
# what the rules' messages say when the problem happens on some paths only
_SOME_PATHS = ("may still be held", "may already be held", "may not be held")

log = logging.getLogger("lockls.server")


@dataclass(frozen=True)
class Suggested:
    """A fix of one finding: edits of the analysed text."""

    title: str
    edits: list  # of (start_byte, end_byte, new_text)
    kind: str
    preferred: bool = False
    every_path: bool = True  # the finding happens on every path to it: the fix is right on all of them

    @property
    def applicability(self) -> str:
        return APPLICABILITY[self.kind] if self.every_path or self.kind == SUPPRESS else DISPLAY_ONLY


class SourceText:
    """The analysed text of a file, read as the fixes read an LSP document: bytes,
    line starts (a line ends at LF or CRLF: lone CRs are LFs by then) and the tree."""

    def __init__(self, source: bytes, root):
        self.source = source
        self.root = root
        self.lines = _Lines(source)

    def line_bytes(self, line: int) -> bytes:
        starts = self.lines.starts
        end = starts[line + 1] if line + 1 < len(starts) else len(self.source)
        chunk = self.source[starts[line]:end]
        return chunk[:-2] if chunk.endswith(b"\r\n") else chunk[:-1] if chunk.endswith(b"\n") else chunk


class _Lines:
    def __init__(self, source: bytes):
        self.starts = [0] + [m.end() for m in re.finditer(rb"\n", source)]

    def line_of(self, offset: int) -> int:
        return bisect_right(self.starts, offset) - 1

    def line_count(self) -> int:
        return len(self.starts)


def fixes_for(doc, finding, lock_event, config: Config, events: list, suppress: bool = True) -> list[Suggested]:
    """The fixes of `finding` (the engine's `Reported`: rule, site, slot) in `doc`, the
    preferred first within each kind; `suppress`: with the suppression comment last."""
    out: list[Suggested] = []
    try:
        if finding.rule == "lock-leak" and isinstance(lock_event, (Acquire, TryAcquire)):
            out.extend(_leak_fixes(doc, finding, lock_event, config, events))
        elif finding.rule in _ABOUT_THE_CALL and isinstance(lock_event, _ABOUT_THE_CALL[finding.rule][0]) \
                and any(phrase in str(finding.message) for phrase in _ABOUT_THE_CALL[finding.rule][1]):
            out.extend(_call_fixes(doc, finding, lock_event, config))
    except Exception:  # a fix is a nicety: never fail the request or the run
        log.exception("computing fixes for %s", finding.rule)
    if any(phrase in str(finding.message) for phrase in _SOME_PATHS):
        out = [dataclasses.replace(fix, every_path=False) for fix in out]
    if suppress:
        out.append(_suppress(doc, finding))
    return out


def as_fix(fix: Suggested, doc: SourceText) -> Fix:
    """The report's `Fix`: edits located by line and column too."""
    return Fix(fix.title, tuple(TextEdit(_span(doc, a, b), new) for a, b, new in fix.edits),
               fix.applicability, fix.preferred)


def _span(doc: SourceText, start: int, end: int) -> Span:
    def pos(offset: int):
        row = doc.lines.line_of(offset)
        return position(doc.source, offset, (row, offset - doc.lines.starts[row]))

    return Span(pos(start), pos(end), start, end)


def function_lock_events(cfg) -> list:
    """Every lock/return event of a function's CFG, in source order (sites in the
    offsets of the text it was analysed in)."""
    if cfg is None:
        return []
    seen, out = set(), []
    for block in cfg.blocks:
        for ev in block.events:
            if isinstance(ev, (Acquire, TryAcquire, Release, Return)) and id(ev) not in seen:
                seen.add(id(ev))
                out.append(ev)
    out.sort(key=lambda e: e.site.start_byte)
    return out


# -- helpers -----------------------------------------------------------------------

def _root(doc):
    root = getattr(doc, "root", None)
    return root if root is not None else doc.tree.root_node


def _line_bounds(doc, offset: int) -> tuple[int, int]:
    """(start, end without the line break) of the line holding `offset`."""
    line = doc.lines.line_of(offset)
    start = doc.lines.starts[line]
    return start, start + len(doc.line_bytes(line))


def _next_line_start(doc, offset: int) -> int:
    line = doc.lines.line_of(offset) + 1
    return doc.lines.starts[line] if line < doc.lines.line_count() else _line_bounds(doc, offset)[1]


def _indent_of(doc, offset: int) -> str:
    start, end = _line_bounds(doc, offset)
    m = re.match(rb"[ \t]*", doc.source[start:end])
    return m.group(0).decode()


def _alone_before(doc, node_start: int) -> bool:
    start, _ = _line_bounds(doc, node_start)
    return doc.source[start:node_start].strip() == b""


def _unit(indent: str) -> str:
    return "\t" if indent.startswith("\t") else "    "


def _node_at(doc, start: int, end: int, types: tuple):
    node = _root(doc).descendant_for_byte_range(start, end)
    while node is not None and node.type not in types:
        node = node.parent
    return node


def _collapsed(node, source: bytes) -> str:
    return " ".join(text(node, source).split())


def _sibling(node, step: str):
    """The previous or next named sibling statement, comments skipped."""
    node = getattr(node, step)
    while node is not None and node.type == "comment":
        node = getattr(node, step)
    return node


def release_function(acquire: LockFunction, config: Config) -> Optional[LockFunction]:
    """The release paired with an acquire: same kind, best name match; else lock -> unlock."""
    name = acquire.name
    guesses = [name.replace("lock", "unlock", 1).replace("irqsave", "irqrestore"),  # spin_lock_irqsave
               re.sub(r"(try|timed|rd|wr)?lock", "unlock", name, count=1),
               name.replace("lock", "unlock", 1), name.replace("Lock", "Unlock", 1),
               name.replace("acquire", "release"), name.replace("enter", "leave"), name.replace("get", "put")]
    releases = [f for f in config.functions.values() if f.action == "release"]
    if acquire.kind is not None:
        same = [f for f in releases if f.kind == acquire.kind]
        for g in guesses:
            for f in same:
                if f.name == g:
                    return f
        if len(same) == 1:
            return same[0]
        if same:
            prefix = lambda f: len(_common_prefix(f.name, name))  # noqa: E731
            return max(same, key=prefix)
    for g in guesses:
        if g in config.functions and config.functions[g].action == "release":
            return config.functions[g]
    return None


def _common_prefix(a: str, b: str) -> str:
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]:
        i += 1
    return a[:i]


# -- lock-leak -----------------------------------------------------------------------

def _leak_fixes(doc, finding, acquire, config: Config, events: list) -> list:
    out = []
    site = finding.site
    release = release_function(acquire.fn, config) if acquire.fn is not None else None
    call = _release_call(doc, finding, acquire, release) if release is not None else None
    if call is not None and _in_scope(doc, call, site.start_byte, finding.slot.body):
        edits = _insert_before(doc, site.start_byte, site.end_byte, call)
        if edits:
            where = "at the end of the function" if doc.source[site.start_byte:site.start_byte + 1] == b"}" else "before this return"
            out.append(Suggested(f"Release `{acquire.written}` with `{release.name}` {where}", edits, RELEASE, True))
    goto = _goto_fix(doc, finding, acquire, events)
    if goto is not None:
        out.append(goto)
    return out


def _release_call(doc, finding, acquire, release: LockFunction) -> Optional[str]:
    """`spin_unlock(&l);`, with what the acquire's call says the release needs too:
    the saved flags of `spin_lock_irqsave(&l, flags)` and the token of
    `idx = srcu_read_lock(&ss)`."""
    if release.lock == "global":  # `rcu_read_unlock()` takes no argument
        return f"{release.name}();"
    if release.lock_arg != 0:
        return None
    if release.path:  # a wrapper: `q_unlock(q)` drops `q->lock`
        if not acquire.written.endswith(release.path):
            return None
        args = [acquire.written[:-len(release.path)]]
    else:
        args = [acquire.written]
    call = _acquire_call(doc, finding, acquire)
    if call is not None:
        given = call.child_by_field_name("arguments")
        given = given.named_children if given is not None else []
        if release.name.endswith("irqrestore") and len(given) > 1:
            args.append(text(given[1], doc.source))
        token = _assigned_to(doc, call)
        if token is not None and isinstance(acquire, Acquire):  # a plain lock whose value is kept: a token
            args.append(token)
    return f"{release.name}({', '.join(args)});"


_COMMENTS_ONLY = re.compile(rb"(?:[ \t]*(?:/\*(?:(?!\*/).)*\*/|//.*))*[ \t]*")
_NAME = re.compile(r"(?<![\w.>])[A-Za-z_]\w*")  # a name, not a member (`.x`, `->x`)


def _in_scope(doc, call: str, offset: int, body) -> bool:
    """Whether every variable `call` names is declared at `offset`: not only in a block
    (or a `for`) the code at `offset` is outside of (`for (int i = 0; ...) lock(&l[i]);`)."""
    names = set(_NAME.findall(call.split("(", 1)[1] if "(" in call else ""))
    if not names:
        return True
    declared: dict[str, list] = {}
    stack = [body]
    while stack:
        node = stack.pop()
        if node.type == "declaration":
            for child in node.children_by_field_name("declarator"):
                name = declared_name(child)
                if name is not None and text(name, doc.source) in names:
                    declared.setdefault(text(name, doc.source), []).append(node)
        stack.extend(node.named_children)
    for decls in declared.values():
        if not any(d.end_byte <= offset and d.parent is not None and d.parent.start_byte <= offset < d.parent.end_byte
                   for d in decls):
            return False
    return True


def _acquire_call(doc, finding, acquire):
    slot = getattr(finding, "slot", None)
    if slot is None or acquire.site is None:
        return None
    start, end = slot.from_base(acquire.site.start_byte), slot.from_base(acquire.site.end_byte)
    node = _node_at(doc, start, end, ("call_expression",))
    return node if node is not None and node.start_byte == start else None


def _assigned_to(doc, call) -> Optional[str]:
    """`idx` in `idx = f(...)` or `int idx = f(...)`."""
    parent = call.parent
    target = None
    if parent is not None and parent.type == "assignment_expression" and parent.child_by_field_name("right") == call:
        target = parent.child_by_field_name("left")
    elif parent is not None and parent.type == "init_declarator" and parent.child_by_field_name("value") == call:
        target = declared_name(parent.child_by_field_name("declarator"))
    return text(target, doc.source) if target is not None else None


def _insert_before(doc, start: int, end: int, call: str) -> list:
    if doc.source[start:start + 1] == b"}":  # falling off the end: before the closing brace
        indent = _indent_of(doc, start)
        if _alone_before(doc, start):
            line_start, _ = _line_bounds(doc, start)
            return [(line_start, line_start, f"{indent}{_unit(indent)}{call}\n")]
        return [(start, start, f"{call} ")]
    ret = _node_at(doc, start, end, ("return_statement",))
    if ret is None:
        return []
    parent = ret.parent
    braceless = parent is not None and (
        (parent.type in _BRACELESS_PARENTS and parent.child_by_field_name(_BRACELESS_PARENTS[parent.type]) == ret)
        or parent.type == "else_clause")
    ret_text = doc.source[ret.start_byte:ret.end_byte].decode("utf-8", "replace")
    if braceless:
        owner = parent.parent if parent.type == "else_clause" else parent
        outer = _indent_of(doc, owner.start_byte if parent.type != "else_clause" else parent.start_byte)
        inner = _indent_of(doc, ret.start_byte) if _alone_before(doc, ret.start_byte) else outer + _unit(outer)
        if inner == outer:
            inner = outer + _unit(outer)
        prev = ret.prev_sibling
        cut = prev.end_byte if prev is not None else ret.start_byte
        end = ret.end_byte
        _, line_end = _line_bounds(doc, end)
        if _COMMENTS_ONLY.fullmatch(doc.source[end:line_end]):  # `return -1; /* why */`: the comment stays with it
            end = len(doc.source[:line_end].rstrip())
            ret_text = doc.source[ret.start_byte:end].decode("utf-8", "replace")
        if doc.source[cut:ret.start_byte].strip():  # a comment in between: keep it
            cut = ret.start_byte
            return [(cut, end, f"{{\n{inner}{call}\n{inner}{ret_text}\n{outer}}}")]
        return [(cut, end, f" {{\n{inner}{call}\n{inner}{ret_text}\n{outer}}}")]
    if _alone_before(doc, ret.start_byte):
        indent = _indent_of(doc, ret.start_byte)
        line_start, _ = _line_bounds(doc, ret.start_byte)
        return [(line_start, line_start, f"{indent}{call}\n")]
    return [(ret.start_byte, ret.start_byte, f"{call} ")]


def _goto_fix(doc, finding, acquire, events: list) -> Optional[Suggested]:
    slot = finding.slot
    ret = _node_at(doc, finding.site.start_byte, finding.site.end_byte, ("return_statement",))
    if ret is None:
        return None
    labels = []
    stack = [slot.body]
    while stack:
        node = stack.pop()
        if node.type == "labeled_statement":
            label = node.child_by_field_name("label") or node.named_children[0]
            labels.append((node.start_byte, doc.source[label.start_byte:label.end_byte].decode("utf-8", "replace")))
        stack.extend(node.named_children)
    best = None
    for start, name in sorted(labels):
        base = slot.to_base(start)
        for ev in events:
            if ev.site.start_byte < base:
                continue
            if isinstance(ev, Return):
                break
            if getattr(ev, "key", None) == acquire.key:
                if isinstance(ev, Release):
                    if best is None or (start > ret.start_byte and best[0] < ret.start_byte):
                        best = (start, name)
                break
    if best is None:
        return None
    name = best[1]
    title = f"Jump to `{name}` (releases `{acquire.written}`)"
    if ret.named_child_count:
        title += " — the return value is then the one at the label"
    return Suggested(title, [(ret.start_byte, ret.end_byte, f"goto {name};")], GOTO)


# -- double-lock, unlock-unheld ---------------------------------------------------------

def _call_fixes(doc, finding, lock_event, config: Config) -> list:
    call = _node_at(doc, finding.site.start_byte, finding.site.end_byte, ("call_expression",))
    if call is None:
        return []
    stmt = call.parent
    if stmt is None or stmt.type != "expression_statement" or stmt.named_child_count != 1:
        return []
    out = []
    if finding.rule == "double-lock" and isinstance(lock_event, Acquire):
        instead = _unlock_instead(doc, finding, lock_event, config, stmt)
        if instead is not None:
            out.append(instead)
    name = doc.source[call.start_byte:call.end_byte].decode("utf-8", "replace").split("(")[0].strip()
    edits = _remove_statement(doc, stmt)
    if edits:
        # the call repeats the statement before it: nothing else can have been meant
        previous = _sibling(stmt, "prev_sibling")
        repeated = not out and previous is not None and previous.type == stmt.type and \
            _collapsed(previous, doc.source) == _collapsed(stmt, doc.source)
        out.append(Suggested(f"Remove this `{name}` call", edits, REMOVE_REPEATED if repeated else REMOVE, not out))
    return out


def _unlock_instead(doc, finding, acquire: Acquire, config: Config, stmt) -> Optional[Suggested]:
    """A second acquire right before a `return` or the lock's destroy: most likely a
    release was meant (`lock(m); ... lock(m); destroy(m);`)."""
    after = _sibling(stmt, "next_sibling")
    if after is None or acquire.fn is None:
        return None
    if after.type == "return_statement":
        where = "this return"
    elif after.type == "expression_statement" and after.named_child_count == 1 \
            and after.named_children[0].type == "call_expression":
        ending = after.named_children[0]
        name = call_name(ending, doc.source) or ""
        args = ending.child_by_field_name("arguments")
        written = " ".join(acquire.written.split())
        if not _DESTROY.search(name) or args is None or \
                not any(_collapsed(a, doc.source) == written for a in args.named_children):
            return None
        where = f"`{name}`"
    else:
        return None
    release = release_function(acquire.fn, config)
    call = _release_call(doc, finding, acquire, release) if release is not None else None
    if call is None:
        return None
    return Suggested(f"Release `{acquire.written}` with `{release.name}` instead of taking it again before {where}",
                     [(stmt.start_byte, stmt.end_byte, call)], UNLOCK_INSTEAD, True)


def _remove_statement(doc, stmt) -> list:
    """Edits removing `stmt`, leaving no empty braceless body behind."""
    parent = stmt.parent
    if parent is None:
        return []
    if parent.type in ("compound_statement", "case_statement", "translation_unit"):
        return [_cut(doc, stmt)]
    if parent.type == "if_statement" and parent.child_by_field_name("consequence") == stmt:
        if parent.child_by_field_name("alternative") is None and _pure(parent.child_by_field_name("condition")):
            return _remove_statement(doc, parent)  # `if (x) lock(m);`: the `if` has nothing left to do
        return [(stmt.start_byte, stmt.end_byte, "{}")]
    if parent.type == "else_clause":  # `else lock(m);`: the `else` goes too
        before = parent.prev_sibling
        return [(before.end_byte if before is not None else parent.start_byte, parent.end_byte, "")]
    if parent.type == "labeled_statement":  # a label needs a statement
        return [(stmt.start_byte, stmt.end_byte, ";")]
    return [(stmt.start_byte, stmt.end_byte, "{}")]  # a loop's body


def _pure(condition) -> bool:
    """No call, assignment or increment in `condition`: dropping it changes nothing."""
    if condition is None:
        return False
    stack = [condition]
    while stack:
        node = stack.pop()
        if node.type in _SIDE_EFFECTS:
            return False
        stack.extend(node.named_children)
    return True


def _cut(doc, stmt) -> tuple:
    """Remove `stmt`: its whole lines when nothing else is on them, else it and the blanks after it."""
    line_start, _ = _line_bounds(doc, stmt.start_byte)
    _, line_end = _line_bounds(doc, stmt.end_byte)
    if doc.source[line_start:stmt.start_byte].strip() == b"" and doc.source[stmt.end_byte:line_end].strip() == b"":
        return (line_start, _next_line_start(doc, stmt.end_byte), "")
    end = stmt.end_byte
    while doc.source[end:end + 1] in (b" ", b"\t"):
        end += 1
    return (stmt.start_byte, end, "")


# -- every rule ------------------------------------------------------------------------

def _suppress(doc, finding) -> Suggested:
    _, line_end = _line_bounds(doc, finding.site.start_byte)
    return Suggested(f"Suppress `{finding.rule}` on this line", [(line_end, line_end, f" /* lockls: ignore[{finding.rule}] */")],
                     SUPPRESS)
