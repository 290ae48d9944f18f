"""Analyse one function, and read what a file says about locks beyond its bodies.

Owns: finding a file's functions, analysing one function (CFG, fixpoint, rules),
a file's contracts (annotations, wrappers, summaries: `file_contracts`), and
turning a rule's violation into a `Finding` with positions in bytes, characters
and UTF-16 units. Whole files are the engine's business (`engine.Engine`). It
must not know about LSP or output formats.

A function that cannot be analysed (damaged braces while typing, a jump hidden
in unparsable macro code, an internal error) is skipped and counted; every other
function is still reported.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import sys
import threading
from dataclasses import dataclass, field
from functools import cache, lru_cache
from collections.abc import Iterable
from typing import Optional, Union

from tree_sitter import Node

from lockls.dataflow import solver as dataflow
from lockls.dataflow import lockgraph
from lockls.dataflow import lockstate
from lockls.dataflow import summaries
from lockls.syntax import nodes as syntax
from lockls.syntax.annotations import annotated_functions
from lockls.syntax.annotations import macro_meanings as function_macro_meanings
from lockls.lowering.build_cfg import CFG, NORETURN, Unanalysable, build_cfg
from lockls.config import Config, LockFunction
from lockls.config.model import is_name_glob
from lockls.dataflow.contracts import Contracts, confirm, partners
from lockls.syntax.declarations import data_annotations, noreturn_functions, recursive_lock_patterns, table_entry_points
from lockls.syntax.declarations import may_name_entry_points, unguarded_owners
from lockls.syntax.declarations import macro_meanings as data_macro_meanings
from lockls.dataflow.contracts import apply as apply_contracts
from lockls.ir.events import LOCK_EVENTS, Access, Acquire, Call, Derive, Kill, Release, Return, TryAcquire
from lockls.lowering.lockexpr import canonical, key_of, reached_through, resolve_lock_ref
from lockls.dataflow.facts import number
from lockls.lowering.lower import CLEANUP_CALLS, Lowerer
from lockls.ir.message import Message
from lockls.lru import Lru, text_key
from lockls.rules import (blocking_under_lock, double_lock, excluded_lock_held, lock_leak, lock_order, missing_required_lock,
                    nested_lock, unguarded_access, unlock_unheld)
from lockls.rules.common import RuleContext

log = logging.getLogger("lockls")

RULE_MODULES = (lock_leak, double_lock, unlock_unheld, blocking_under_lock, missing_required_lock, excluded_lock_held,
                lock_order, nested_lock, unguarded_access)
_ROOT = re.compile(r"^[A-Za-z_]\w*")
_RECURSIVE_INIT = re.compile(rb"\b([A-Za-z_]\w*)\s*(?:\[[^\]]*\])?\s*=\s*PTHREAD_RECURSIVE_MUTEX_INITIALIZER(?:_NP)?\b")
C11_CONSTANTS = frozenset({"thrd_success", "thrd_busy", "thrd_error", "thrd_nomem", "thrd_timedout"})


@dataclass
class FunctionResult:
    """The analysis of one function: its findings, or why it was skipped."""

    name: str
    line: int  # 1-based line of the definition
    findings: list = field(default_factory=list)
    skipped: Optional[Union[str, Message]] = None  # why it was not analysed (see `Slot.skipped`)
    partial: str = ""  # analysed, but some of what it holds was forgotten (why: see `_forgotten`)
    cfg: Optional[CFG] = None
    states: Optional[list] = None  # the fixpoint state at the start of each block
    # whether a partner of its name (`q_unlock` for `q_lock`) is in the file, when the rules
    # asked: the only thing its findings read from the file beyond the function's text and
    # the configuration, so a kept result is reused only while it is still so
    partner: Optional[bool] = None


# -- per-configuration tables (cached: configs are immutable) -----------------------

# configuration fingerprint -> tables (their regexes are shared between configurations:
# see `NameSearch`)
_TABLES: Lru = Lru(64)


def _tables(config: Config):
    """(search for every lock function name, constant names, search for the names of the
    functions that do something to a caller holding no lock) for a configuration."""
    return _TABLES.get(config.fingerprint(), lambda: _build_tables(config))


_TRIE_MAX_WORD = 200


def _trie_regex(words: list[str]) -> str:
    """One regex alternation shaped as a prefix tree: `re` tries alternatives one by
    one, so `pthread_(?:mutex_(?:lock|unlock)|...)` is much faster than a flat list."""
    # the tree is built recursively, a level per character: a name of thousands of them
    # (generated code; found by bench/fuzz.py) is matched on its own instead
    long_words = [w for w in words if len(w) > _TRIE_MAX_WORD]
    # a configured glob of names (`[functions."do_item_*"]`) matches what it matches
    globs = [_glob_regex(w) for w in words if is_name_glob(w)]
    words = [w for w in words if len(w) <= _TRIE_MAX_WORD and not is_name_glob(w)]
    trie: dict = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict) -> str:
        ends = "" in node
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch != ""]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if ends else body

    return "(?:" + "|".join([build(trie)] * bool(words) + [re.escape(w) for w in long_words] + globs) + ")"


def _glob_regex(glob: str) -> str:
    """A glob of C names as a regex over one word: `*` any run of word characters, `?`
    one, `[...]` / `[!...]` a class."""
    out, i = [], 0
    while i < len(glob):
        ch = glob[i]
        end = glob.find("]", i + 2) if ch == "[" else -1
        if ch == "*":
            out.append(r"\w*")
        elif ch == "?":
            out.append(r"\w")
        elif end > 0:
            inner = glob[i + 1:end]
            negate = inner.startswith("!")
            inner = "".join("\\" + c if c in "\\^[]" else c for c in (inner[1:] if negate else inner))
            out.append("(?:(?![^\\w])[^" + inner + "])" if negate else "[" + inner + "]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)


def _build_tables(config: Config):
    # functions that call none of these are not analysed: guarded data checked
    # everywhere makes its users worth analysing too
    everywhere = {g.field or g.variable for g in config.guarded if g.everywhere}
    names = frozenset(config.functions) | everywhere | frozenset(CLEANUP_CALLS)
    base = config.base_function_names()
    pattern = _names_search(names, base) if names else None
    # a call of a function that only takes and drops locks itself matters only where a
    # lock is held already: it makes no function worth analysing on its own
    acting = frozenset(n for n in names if n not in config.functions or not config.functions[n].only_takes)
    if len(acting) == len(names):
        prefilter = pattern
    else:
        prefilter = _names_search(acting, base) if acting else None
    constants = set(C11_CONSTANTS)
    for fn in config.functions.values():
        for outcome in (fn.success, fn.failure, fn.when):
            if outcome and outcome not in ("zero", "nonzero", "nonnull", "null", "negative"):
                constants.add(outcome)
    return pattern, frozenset(constants), prefilter


class NameSearch:
    """A search for any of a set of whole words, as one or more compiled regexes: a
    file's configuration is the project's plus a few names of its own, and only those
    few are compiled for it (the project's thousands, once a process)."""

    __slots__ = ("names", "parts")

    def __init__(self, names: frozenset, parts: tuple):
        self.names, self.parts = names, parts

    def search(self, text: bytes, start: int = 0, end: int = 1 << 62):
        """The first match of any name (callers scan a text match by match)."""
        first = None
        for part in self.parts:
            # (a later part looks only before the match found: names are whole words, so
            # matches never overlap, and a scan match by match stays linear)
            m = part.search(text, start, end if first is None else first.end())
            if m is not None and (first is None or m.start() < first.start()):
                first = m
        return first


_NAME_SEARCHES: Lru = Lru(64)


def _names_search(names: frozenset, base: frozenset = frozenset()) -> NameSearch:
    """A search for `names`, made of the regexes of `base & names` (the configuration's
    own functions: the same for every file) and one for the rest."""
    def make() -> NameSearch:
        common = base & names
        if not common or common == names:
            return NameSearch(names, (re.compile(rb"\b" + _trie_regex(sorted(names)).encode() + rb"\b"),))
        shared = _names_search(common)
        rest = sorted(names - common)
        return NameSearch(names, shared.parts + (re.compile(rb"\b" + _trie_regex(rest).encode() + rb"\b"),))

    return _NAME_SEARCHES.get(names, make)


_GUARDED_PATTERNS: Lru = Lru(64)


def _guarded_pattern(config: Config) -> Optional[re.Pattern]:
    """A prefilter for entry points: the names of guarded fields and variables and
    the guarded types (an entry point that touches none needs no analysis)."""
    words = tuple(sorted({g.field or g.variable or g.type.split()[-1] for g in config.guarded}))
    return _GUARDED_PATTERNS.get(words, lambda: re.compile(rb"\b" + _trie_regex(list(words)).encode() + rb"\b")
                                 if words else None)


# -- files ----------------------------------------------------------------------

def recursive_globals(source: bytes) -> frozenset:
    """Globals initialised with PTHREAD_RECURSIVE_MUTEX_INITIALIZER(_NP): recursive locks."""
    if b"PTHREAD_RECURSIVE_MUTEX_INITIALIZER" not in source:
        return frozenset()
    return frozenset(m.group(1).decode() for m in _RECURSIVE_INIT.finditer(source))


def function_nodes(root: Node, source: Optional[bytes] = None) -> list[tuple[Node, Node]]:
    """(definition, body) of every function, in source order.

    Functions are top-level children almost always; the query runs only inside
    the places the parser may have hidden more: ERROR nodes (a prototype followed
    by an annotation macro) and bodies whose braces do not balance (an unclosed
    `{` while typing swallows the functions after it). With `source`, definitions
    a top-level ERROR swallowed are parsed again alone (`_swallowed`)."""
    found = []
    for node in root.children:
        t = node.type
        if t == "function_definition":
            body = node.child_by_field_name("body")
            if source is not None and body is not None and (recovered := _annotated_old_style(node, source)):
                found.extend(recovered)
            elif body is not None:
                found.append((node, body))
                if syntax.has_missing_close(body):
                    found.extend(_nested_functions(body, exclude=node))
        elif node.has_error or t in ("preproc_if", "preproc_ifdef", "linkage_specification", "ERROR"):
            found.extend(_nested_functions(node))
    if source is not None:
        found.extend(fb for fb, _, _ in _swallowed(root, source) if fb is not None)
        # (a definition whose `#ifdef`/`#else` split a statement: read in one configuration)
        found = [(_one_configuration(fn, body, source) or (fn, body)) if body.has_error else (fn, body)
                 for fn, body in found]
    found.sort(key=lambda fb: fb[0].start_byte)
    return found


def damaged_definitions(root: Node, source: bytes) -> list[tuple[str, int]]:
    """Function definitions swallowed whole by a top-level ERROR (e.g. the last
    function while its braces are unbalanced) that could not be parsed again alone:
    (name, line) of each."""
    return [(name, line) for fb, name, line in _swallowed(root, source) if fb is None]


_SPECIFIERS = frozenset(("primitive_type", "type_identifier", "sized_type_specifier", "storage_class_specifier",
                         "type_qualifier", "struct_specifier", "enum_specifier", "union_specifier",
                         "attribute_specifier", "macro_type_specifier"))
# (the definition's bytes, where it starts) -> its tree parsed alone, or None; weighed by
# the bytes parsed (a tree takes tens of bytes per byte of source)
_RECOVERED: Lru = Lru(256, max_weight=16 << 20, weigh=lambda key, tree: 48 * key[4])
_RECOVERY_PARSER = threading.local()


def _swallowed(root: Node, source: bytes) -> list[tuple[Optional[tuple[Node, Node]], str, int]]:
    """Definitions a top-level ERROR swallowed (`int f(void)` then `{` as loose tokens:
    the parser's recovery after broken code, sometimes for the rest of the file), each
    with its (definition, body) when its braces balance and it parses alone over its own
    byte range (positions as in the file), else None; and its name and line."""
    out = []
    # (deep enough damage makes the root itself the ERROR: 16 unclosed `{` after a header)
    for node in (root,) if root.type == "ERROR" else root.children:
        if node.type != "ERROR":
            continue
        children = node.children
        later_body = [False] * (len(children) + 1)  # a `{` or a statement after index i
        for i in range(len(children) - 1, -1, -1):
            c = children[i]
            later_body[i] = later_body[i + 1] or c.type == "{" or c.type.endswith("statement")
        for i, child in enumerate(children):
            if child.type != "function_declarator":
                continue
            first = i
            while first > 0 and children[first - 1].type in _SPECIFIERS:
                first -= 1
            annotated = _after_annotation_macro(source, child) if first < i else None
            if annotated is not None:  # `void v_matchproto_() f(int a) {`: f, without the macro
                name_text, brace = annotated
                recovered = _parsed_alone(source, children[first].start_byte, brace,
                                          [(child.start_byte, child.end_byte)])
                out.append((recovered, name_text, child.start_point[0] + 1))
                continue
            if not later_body[i + 1]:
                continue
            name = child.child_by_field_name("declarator")
            recovered = None
            if i + 1 < len(children) and children[i + 1].type == "{":
                recovered = _parsed_alone(source, children[first].start_byte, children[i + 1].start_byte)
            out.append((recovered, syntax.text(name, source) if name is not None else "<anonymous>",
                        child.start_point[0] + 1))
    return out


def _annotated_old_style(definition: Node, source: bytes, depth: int = 0) -> Optional[list[tuple[Node, Node]]]:
    """`void v_matchproto_() f(int a) {...}` read as an old-style definition of
    `v_matchproto_` whose parameter declarations are `f(int a) {...}` and every definition
    after it up to the last body: f, parsed again without the macro, and the definitions
    after it; None for any other definition."""
    declarator = definition.child_by_field_name("declarator")
    if declarator is None or declarator.type != "function_declarator" \
            or not any(c.type == "declaration" for c in definition.children):
        return None
    annotated = _after_annotation_macro(source, declarator)
    if annotated is None:
        return None
    first = _parsed_alone(source, definition.start_byte, annotated[1], [(declarator.start_byte, declarator.end_byte)])
    if first is None:
        return None
    found = [first]
    if first[0].end_byte < definition.end_byte and depth < 64:  # the definitions it swallowed
        rest = _parsed_ranges(source, [(first[0].end_byte, definition.end_byte)]).root_node
        for node in rest.children:
            body = node.child_by_field_name("body") if node.type == "function_definition" else None
            if body is not None:
                found.extend(_annotated_old_style(node, source, depth + 1) or [(node, body)])
        found.extend(fb for fb, _, _ in _swallowed(rest, source) if fb is not None)
        found.sort(key=lambda fb: fb[0].start_byte)
    return found


# `NAME(` right after an annotation macro, then `(...)` and the body's `{`
_NAME_AND_PARAMETERS = re.compile(rb"\s*([A-Za-z_]\w*)\s*\(")
_BEFORE_BODY = re.compile(rb"(?:\s|/\*.*?\*/|//[^\n]*)*\{", re.S)


def _after_annotation_macro(source: bytes, macro: Node) -> Optional[tuple[str, int]]:
    """(name, offset of the body's `{`) of a definition whose declarator follows a
    function-like annotation macro (`void v_matchproto_() f(int a) {`, `int __printf(2, 3)
    logit(const char *fmt, ...) {`), which the parser reads as a declarator of its own;
    None when `macro` is not followed by one."""
    m = _NAME_AND_PARAMETERS.match(source, macro.end_byte)
    if m is None:
        return None
    depth, i, n = 1, m.end(), min(len(source), m.end() + 4096)
    while i < n and depth:
        depth += {0x28: 1, 0x29: -1}.get(source[i], 0)
        i += 1
    brace = _BEFORE_BODY.match(source, i) if not depth else None
    if brace is None:
        return None
    return m.group(1).decode("utf-8", "replace"), brace.end() - 1


def _parsed_ranges(source: bytes, kept: list):
    """The tree of the byte ranges `kept` of `source` alone (positions as in the file)."""
    def parse():
        from tree_sitter import Point, Range

        parser = getattr(_RECOVERY_PARSER, "parser", None)
        if parser is None:
            parser = _RECOVERY_PARSER.parser = syntax.new_parser()

        def point(at: int):
            return Point(source.count(b"\n", 0, at), at - (source.rfind(b"\n", 0, at) + 1))

        parser.included_ranges = [Range(point(a), point(b), a, b) for a, b in kept if b > a]
        try:
            return parser.parse(source)
        finally:
            parser.included_ranges = []

    start, end = kept[0][0], kept[-1][1]
    return _RECOVERED.get((text_key(source[start:end]), start, source.count(b"\n", 0, start), tuple(kept), end - start),
                          parse)


def _parsed_alone(source: bytes, start: int, brace: int, skip: Iterable = ()) -> Optional[tuple[Node, Node]]:
    """The definition from `start` to the `}` closing the `{` at `brace`, parsed alone
    (without the byte ranges `skip`)."""
    skipped: list = list(skip)
    end = _closing_brace(source, brace, skipped)
    if end is None:
        return None
    kept, at = [], start  # the definition without its conditionals' other branches
    for a, b in sorted(skipped):
        kept.append((at, a))
        at = b
    kept.append((at, end))
    tree = _parsed_ranges(source, kept)
    for fn in tree.root_node.children:
        body = fn.child_by_field_name("body") if fn.type == "function_definition" else None
        if body is not None and fn.start_byte == start and not syntax.has_missing_close(body):
            return fn, body
    return None


# a conditional's line in a body: its directive and what it tests
_BODY_DIRECTIVE = re.compile(rb"^[ \t]*#[ \t]*(ifdef|ifndef|if|elif|else|endif)\b([^\n]*)", re.M)
_MACRO_TEST = re.compile(rb"\s*(!\s*)?(?:defined\s*\(\s*([A-Za-z_]\w*)\s*\)|defined\s+([A-Za-z_]\w*)|([A-Za-z_]\w*))\s*(?:/[/*].*)?$")
_LOCKISH = re.compile(rb"\b\w*(?:lock|LOCK|mutex_enter|mutex_exit)\w*\s*\(")


def _one_configuration(definition: Node, body: Node, source: bytes) -> Optional[tuple[Node, Node]]:
    """A function whose `#ifdef`/`#else` split a statement (`#ifdef X while (a) #else
    lock(); while (b) #endif { ... }`: the parser reads one branch into the other's
    statement): the function read again in one configuration of the macros its
    conditionals test, the one that takes more locks (the fallback that locks around a
    call that is not thread-safe), with the other branches and the directives left out."""
    start, end = body.start_byte, body.end_byte
    if not _split_by_a_branch(body):
        return None
    groups, stack = [], []  # each: [(test, polarity) or None, [(branch start, branch end)], directive spans]
    for m in _BODY_DIRECTIVE.finditer(source, start, end):
        word, line = m.group(1), (m.start(), m.end())
        if word in (b"if", b"ifdef", b"ifndef"):
            test = _macro_test(word, m.group(2))
            stack.append([test, [], [line], m.end()])
        elif not stack:
            return None  # an `#else` or `#endif` opened before the body
        elif word in (b"elif", b"else"):
            group = stack[-1]
            group[1].append((group[3], m.start()))
            group[2].append(line)
            group[3] = m.end()
            if word == b"elif":
                group[0] = None  # more than two branches: the first is kept
        else:
            group = stack.pop()
            group[1].append((group[3], m.start()))
            group[2].append(line)
            groups.append(group)
    if stack or not groups:
        return None
    values = _chosen_values(groups, source)
    skip = []
    for test, branches, directives, _ in groups:
        skip.extend(directives)
        # the first branch, unless the chosen value of the macro it tests says the other
        # (or none: `#ifdef X` alone with X undefined)
        keep = 0 if test is None or len(branches) > 2 or values.get(test[0], True) == test[1] else 1
        skip.extend(b for i, b in enumerate(branches) if i != keep)
    kept, at = [], definition.start_byte
    for a, b in sorted(skip):
        if a > at:
            kept.append((at, a))
        at = max(at, b)
    kept.append((at, definition.end_byte))
    tree = _parsed_ranges(source, kept)
    for fn in tree.root_node.children:
        found = fn.child_by_field_name("body") if fn.type == "function_definition" else None
        if found is not None and fn.start_byte == definition.start_byte and not _split_by_a_branch(found):
            return fn, found
    return None


def _split_by_a_branch(body: Node) -> bool:
    """Does an ERROR in `body` hold an `#else`/`#elif` (a branch the parser read into a
    statement of the other)?"""
    stack = [body]
    while stack:
        n = stack.pop()
        if n.type == "ERROR" and any(c.type == "preproc_directive" for c in n.children):
            return True
        if n.has_error:
            stack.extend(n.children)
    return False


def _macro_test(word: bytes, rest: bytes) -> Optional[tuple[str, bool]]:
    """(macro, whether the first branch is the one where it is defined) of `#ifdef X`,
    `#ifndef X`, `#if defined(X)`, `#if !defined(X)`, `#if X`; None for other tests."""
    if word in (b"ifdef", b"ifndef"):
        name = rest.split()[0] if rest.split() else b""
        return (name.decode("utf-8", "replace"), word == b"ifdef") if re.fullmatch(rb"[A-Za-z_]\w*", name) else None
    m = _MACRO_TEST.match(rest)
    if m is None:
        return None
    name = m.group(2) or m.group(3) or m.group(4)
    return name.decode("utf-8", "replace"), not m.group(1)


def _chosen_values(groups: list, source: bytes) -> dict[str, bool]:
    """For each macro the conditionals test: defined or not, whichever keeps more lock
    calls (defined when it makes no difference)."""
    score: dict[str, int] = {}
    for test, branches, _, _ in groups:
        if test is None or len(branches) > 2:
            continue
        macro, polarity = test
        counts = [len(_LOCKISH.findall(source, a, b)) for a, b in branches] + [0]
        defined, undefined = (counts[0], counts[1]) if polarity else (counts[1], counts[0])
        score[macro] = score.get(macro, 0) + defined - undefined
    return {macro: value >= 0 for macro, value in score.items()}


_DIRECTIVE = re.compile(rb"#[ \t]*(ifdef|ifndef|if|else|elif|endif)\b")
_CONDITIONAL = re.compile(rb"^[ \t]*#[ \t]*(if|ifdef|ifndef|endif)\b", re.M)


def _branch_end(source: bytes, at: int, stop: int) -> Optional[int]:
    """The offset of the `#endif` closing the conditional whose `#else` is at `at`."""
    depth = 0
    for m in _CONDITIONAL.finditer(source, at, stop):
        if m.group(1) != b"endif":
            depth += 1
        elif depth:
            depth -= 1
        else:
            return m.start()
    return None


def _line_end(source: bytes, at: int, stop: int) -> int:
    end = source.find(b"\n", at, stop)
    return stop if end < 0 else end


def _closing_brace(source: bytes, brace: int, skipped: list, limit: int = 1 << 20) -> Optional[int]:
    """The offset just after the `}` closing the `{` at `brace` (comments, strings and
    character constants skipped, and the other branches of a conditional: a definition
    whose `#ifdef` and `#else` each open a block is why the parser lost it: those are
    added to `skipped` as (start, end)), or None within `limit` bytes."""
    depth, i, n = 0, brace, min(len(source), brace + limit)
    opened: list = []  # (start, end) of the `#if` lines open here
    while i < n:
        ch = source[i]
        if ch == 0x7B:  # {
            depth += 1
        elif ch == 0x7D:  # }
            depth -= 1
            if depth == 0:
                return i + 1
        elif ch == 0x2F and source[i + 1:i + 2] == b"/":
            i = source.find(b"\n", i)
            if i < 0:
                return None
        elif ch == 0x2F and source[i + 1:i + 2] == b"*":
            i = source.find(b"*/", i + 2)
            if i < 0:
                return None
            i += 1
        elif ch == 0x23 and (m := _DIRECTIVE.match(source, i)):
            word, line_end = m.group(1), _line_end(source, i, n)
            if word in (b"if", b"ifdef", b"ifndef"):
                opened.append((i, line_end))
            elif word == b"endif":
                if opened:
                    opened.pop()
            else:  # `#else`/`#elif`: the first branch only, without its directives (the parser
                # reads a `{` opened in a branch and closed after it as broken code)
                endif = _branch_end(source, line_end, n)
                if endif is None:
                    return None
                if opened:
                    skipped.append(opened.pop())
                endif_end = _line_end(source, endif, n)
                skipped.append((i, endif_end))
                i = endif_end
                continue
            i = line_end
            continue
        elif ch in (0x22, 0x27):  # a string or a character constant, to its end on this line
            j = i + 1
            while j < n and source[j] != ch and source[j] != 0x0A:
                j += 2 if source[j] == 0x5C else 1
            i = j
        i += 1
    return None


def _nested_functions(within: Node, exclude: Optional[Node] = None) -> list[tuple[Node, Node]]:
    out = []
    # the query runs on `within` itself: over the root, even limited to a byte range, it
    # costs the whole tree per call (a header of 4,000 table rows: 4,000 ERRORs, 13 s)
    for _, caps in syntax.matches("functions", within):
        fn, body = caps.get("function"), caps.get("body")
        if fn and body and fn[0] != exclude and within.start_byte <= fn[0].start_byte and fn[0].end_byte <= within.end_byte:
            out.append((fn[0], body[0]))
    return out


# -- summaries ---------------------------------------------------------------------

SUMMARY_ROUNDS = 4  # re-reads of a file's functions as its own summaries appear (callees first)
_SUMMARY_CACHE: Lru = Lru(8192)
_CALLED = re.compile(rb"\b([A-Za-z_]\w*)\s*\(")


def with_wrappers(root: Node, source: bytes, config: Config, recursive: frozenset = frozenset(),
                  analyzed: Optional[dict] = None, functions: Optional[list] = None) -> Config:
    """`config` with the file's own contracts laid over it (see `file_contracts`)."""
    return apply_contracts(config, file_contracts(root, source, config, recursive, analyzed, functions).settled())


def file_contracts(root: Node, source: bytes, config: Config, recursive: frozenset = frozenset(),
                   analyzed: Optional[dict] = None, functions: Optional[list] = None,
                   trace: Optional[ContractsTrace] = None, outside: Optional[bytes] = None) -> Contracts:
    """What the file says about locks beyond its function bodies (see `contracts`):
    lock functions annotated in the source (`__acquires(x)`, `acquire_capability(x)`,
    ..., see `annotations`), macros that stand for a call of a lock function, and the
    summary of every function whose one effect on its caller's locks is to take, try
    or drop a lock the caller names (see `summaries`), whose calls then act as that
    lock operation. Functions are summarised callees first: the file is read again
    while its own summaries change (at most `SUMMARY_ROUNDS` times).
    `analyzed` (start byte -> FunctionResult) collects the functions analysed on the
    way under `config` itself, for a caller that can reuse them when the file's
    contracts turn out not to change the configuration. `trace` records how the
    result was reached, for `contracts_after_edit`. `outside`: `outside_bodies` of the
    file, when the caller has it."""
    functions = functions if functions is not None else function_nodes(root, source)
    outside = outside if outside is not None else outside_bodies(source, functions)
    if trace is not None:
        trace.reset((config.fingerprint(), outside_tokens(outside), recursive), functions, source)
    annotated, guarded, order, entry_points, locks, macros, noreturn = _declared_outside_bodies(root, source, config,
                                                                                             outside)
    registered = _entry_points_by_function(functions, source, config)
    if trace is not None:
        trace.entry_points = registered
    if registered:  # tables and callbacks passed to `[entry-points] registrars` in the bodies
        entry_points = tuple(sorted(set(entry_points).union(*registered.values())))
    noreturn = _never_returning(functions, source, noreturn, config.noreturn)
    if noreturn and not set(noreturn) <= config.noreturn:
        # calls of them end paths (and so decide the summaries below)
        config = apply_contracts(config, Contracts(noreturn=noreturn))
    declared: dict[str, LockFunction] = _declared_over(annotated, config)
    inferred: dict[str, LockFunction] = {}
    relied: set = set()
    order_edges: dict[int, tuple] = {}  # function start -> its lock-graph edges (the last round's)
    definitions = _macro_definitions(outside)
    todo = functions
    current = config
    words: Optional[set] = None  # the names whose meaning changed in the previous round
    for round_ in range(SUMMARY_ROUNDS):
        known = {**current.functions, **declared, **inferred}
        found = _declared_over(summary_macros(definitions, known), config)
        found.update(declared)
        changed: set = set()
        current = apply_contracts(config, Contracts(functions=tuple(sorted({**found, **inferred}.items()))))
        if trace is not None:
            trace.rounds.append((current, words))
        pattern = _tables(current)[0]
        if pattern is None:
            break
        for fn, body in todo:
            if not pattern.search(source, body.start_byte, body.end_byte):
                continue
            name, summary, relies_on, edges = _summary(fn, body, source, current, recursive,
                                                       analyzed if current is config else None)
            if trace is not None:
                trace.outputs.setdefault(name, {})[round_] = (summary, relies_on, edges)
            relied.update(relies_on)
            order_edges[fn.start_byte] = edges
            if name in config.functions or name in found:
                continue  # configured or annotated: its contract wins over its body
            if summary != inferred.get(name):
                changed.add(name)
                if summary is None:
                    inferred.pop(name, None)
                else:
                    inferred[name] = summary
        new_macros = set(summary_macros(definitions, {**current.functions, **inferred})) - set(found)
        if not changed and not new_macros:
            break
        words = changed | new_macros
        todo = [(fn, body) for fn, body in functions
                if not words.isdisjoint(_called_names(source, body))]
    else:
        # still changing after the last round: recursion (`parent` chains growing a
        # field at a time); past the bound a function has no effect on locks
        for name in changed:
            inferred.pop(name, None)
        if trace is not None:
            trace.converged = False
    confirmed = confirm({**config.functions, **declared, **inferred}, relied)
    inferred = {name: confirmed[name] for name in inferred}
    found = _declared_over(summary_macros(definitions, {**config.functions, **declared, **inferred}), config)
    found.update(declared)
    for name, fn in inferred.items():
        found.setdefault(name, fn)
    edges = tuple(dict.fromkeys(e for start in sorted(order_edges) for e in order_edges[start]))
    result = Contracts(functions=tuple(sorted(found.items())), guarded=guarded, order=order, entry_points=entry_points,
                       locks=locks, macros=macros, relied=tuple(sorted(relied)), order_edges=edges, noreturn=noreturn)
    if trace is not None:
        trace.result = result
    return result


class ContractsTrace:
    """How `file_contracts` reached its result: each round's configuration and the
    names it re-read for, and what each function's summary was in each round.

    After an edit inside one function body, nothing else of the file changed: if that
    function takes part in the same rounds and gives the same summary, relied-on
    names and lock-graph edges in each, every other function's rounds are the same
    too, and so is the result (`contracts_after_edit`). The editor re-reads one
    function per keystroke instead of the whole file."""

    def __init__(self):
        self.reset(None, [], b"")

    def reset(self, key, functions: list, source: bytes) -> None:
        self.key = key  # (configuration fingerprint, text outside bodies, recursive globals)
        self.rounds: list = []  # (configuration, names changed in the round before, or None: every function)
        self.outputs: dict = {}  # name -> {round: (summary, relied on, edges)}
        self.endings = {syntax.function_name(fn, source): _ending_call(fn, body, source) for fn, body in functions}
        self.names = tuple(syntax.function_name(fn, source) for fn, _ in functions)
        self.unique = len(self.endings) == len(functions)
        self.converged = True
        self.result: Optional[Contracts] = None
        self.entry_points: dict = {}  # name -> the entry points its body names (`_entry_points_in`), when any


_COMMENT = re.compile(rb"/\*.*?\*/|//[^\n]*", re.S)


def _declared_over(declared: dict, config: Config) -> dict:
    """What the source declares of functions (annotations, macros standing for calls), laid
    over `config`: the configuration file's entries win over the source; the source wins
    over a preset's entry, whose kind and sleeping stay (the kernel's `spin_lock`
    annotated `__acquires(lock)` is still a spinlock; a project's own `mutex_trylock`
    macro replaces the preset's)."""
    out = {}
    for name, fn in declared.items():
        known = config.functions.get(name)
        if known is not None and known.origin is not None and known.origin == config.source:
            continue  # (the configuration file's)
        out[name] = fn if known is None else dataclasses.replace(
            fn, kind=fn.kind or known.kind, may_sleep=fn.may_sleep or known.may_sleep)
    return out


def outside_tokens(outside: bytes) -> bytes:
    """The text outside bodies with each comment a space, blank lines dropped and
    trailing blanks cut: a blank line or a comment line typed between functions changes
    no contract. Lines are never joined (`#define` and `static` are read at line starts)."""
    text = _COMMENT.sub(b" ", outside)
    return b"\n".join(line.rstrip() for line in text.split(b"\n") if line.strip())


def contracts_after_edit(trace: ContractsTrace, fn: Optional[Node], body: Optional[Node], source: bytes,
                         config: Config, recursive: frozenset, functions: list, tokens: bytes) -> Optional[Contracts]:
    """`file_contracts` of the text after an edit inside the body of `fn` alone (None:
    edits between function bodies only), when the edit changes nothing `trace`
    depends on; else None (read the whole file). `tokens`: `outside_tokens` of the
    text outside bodies."""
    if trace.result is None or not trace.converged or not trace.unique:
        return None
    if trace.key != (config.fingerprint(), tokens, recursive):
        return None
    if fn is None:  # edits between functions only: every body is as it was
        same = tuple(syntax.function_name(f, source) for f, _ in functions) == trace.names
        return trace.result if same else None
    name = syntax.function_name(fn, source)
    if name not in trace.endings or trace.endings[name] != _ending_call(fn, body, source):
        return None  # whether it ends by never returning may have changed
    if _entry_points_in(source, body, config) != trace.entry_points.get(name, frozenset()):
        return None  # the entry points it names changed
    before = trace.outputs.get(name, {})
    for round_, (current, words) in enumerate(trace.rounds):
        pattern = _tables(current)[0]
        if pattern is None:
            break
        read = (words is None or not words.isdisjoint(_called_names(source, body))) \
            and pattern.search(source, body.start_byte, body.end_byte) is not None
        if read != (round_ in before):
            return None
        if read and _summary(fn, body, source, current, recursive, None)[1:] != before[round_]:
            return None
    return trace.result


_RETURN = re.compile(rb"\breturn\b")


def _never_returning(functions: list, source: bytes, declared: tuple, known: frozenset) -> tuple:
    """`declared` plus the file's functions that end by calling one that never returns,
    with no `return` anywhere (`static void fatal(int s) { report(s); abort(); }`)."""
    ends = set(NORETURN) | set(known) | set(declared)
    found = set(declared)
    candidates = []
    for fn, body in functions:
        callee = _ending_call(fn, body, source)
        if callee is not None:
            candidates.append((syntax.function_name(fn, source), callee))
    for _ in range(3):  # wrappers of wrappers
        more = {name for name, callee in candidates if callee in ends and name not in found}
        if not more:
            break
        found |= more
        ends |= more
    return tuple(sorted(found))


def _ending_call(fn: Node, body: Node, source: bytes) -> Optional[str]:
    """The function a body ends by calling, when it has no `return` (it never returns
    if that one never does)."""
    last = next((c for c in reversed(body.named_children) if c.type != "comment"), None)
    if last is None or last.type != "expression_statement" or not last.named_child_count:
        return None
    call = last.named_children[0]
    callee = call.child_by_field_name("function") if call.type == "call_expression" else None
    if callee is None or callee.type != "identifier":
        return None
    if _RETURN.search(source, body.start_byte, body.end_byte):
        return None
    return syntax.text(callee, source)


def summary_macros(definitions: tuple, known: dict) -> dict:
    """The file's macros (`syntax.define_directives`) that stand for a call of a
    function in `known` (see `summaries`), macros of macros included."""
    out: dict = {}
    if not definitions:
        return out
    for _ in range(3):
        more = summaries.macro_functions(definitions, {**known, **out})
        if not more:
            break
        out.update(more)
    return out


_MACRO_DEFINITIONS: Lru = Lru(64)
# body text -> the names it calls (interned: the same few hundred names in every set)
_CALLED_NAMES: Lru = Lru(16384, max_weight=8 << 20, weigh=lambda key, names: 256 + 48 * len(names))


def _macro_definitions(outside: bytes) -> tuple:
    """The `#define`s written outside function bodies (`outside_bodies`), read once per
    change of that text."""
    return _MACRO_DEFINITIONS.get(text_key(outside), lambda: syntax.define_directives(outside))


def _called_names(source: bytes, body: Node) -> frozenset:
    """The names a function body calls, read once per text of the body."""
    return _names_called_in(source[body.start_byte:body.end_byte])


def _names_called_in(text: bytes) -> frozenset:
    """The names written before a `(` in `text`, read once per text."""
    return _CALLED_NAMES.get(text_key(text), lambda: frozenset(sys.intern(m.decode()) for m in _CALLED.findall(text)))


def _summary(fn: Node, body: Node, source: bytes, config: Config, recursive: frozenset,
             analyzed: Optional[dict]) -> tuple[str, Optional[LockFunction], frozenset, tuple]:
    """(name, summary or None, names of the tentative acquire functions whose lock it
    releases, its lock-graph edges) of one function under `config`, cached by its
    text and what it calls (a summary depends on nothing else of the configuration)."""
    called = sorted(_called_names(source, body))
    functions = config.functions
    contracts = tuple(x for n in called if n in functions for x in (n, functions[n]))  # (flat: one tuple a key)
    key = (text_key(source[fn.start_byte:fn.end_byte]), config.base_fingerprint(), contracts, config.locks,
           config.is_entry_point(syntax.function_name(fn, source)) if config.entry_points else False, recursive,
           statics(source))
    def summarise():
        fr = analyze_function(fn, body, source, config, recursive, summarising=True)
        if analyzed is not None:
            analyzed[fn.start_byte] = fr
        return (fr.name, *_summary_of(fr, fn, body, source,
                                      lambda key, spec: key in recursive or config.is_recursive(key, spec)))

    return _SUMMARY_CACHE.get(key, summarise)


def _summary_of(fr: FunctionResult, fn: Node, body: Node, source: bytes,
                is_recursive=lambda key, fn: False) -> tuple[Optional[LockFunction], frozenset, tuple]:
    if fr.skipped or fr.cfg is None:
        return None, frozenset(), ()
    visible = _CallerVisibility(fn, body, source)
    params = _parameters(fn, source)
    steps = list(replay(fr.cfg, fr.states, lambda k, f: False))
    summary = summaries.summary_of(fr, params, steps, lambda name: name not in params and visible(name),
                                   lambda name: _out_parameter(name, params, body, source), is_recursive,
                                   lambda index: _stores_null(params[index], body, source))
    if summary is not None:
        acquires = summary.action == "acquire" or any(step.action == "acquire" for step in summary.steps)
        summary = dataclasses.replace(summary, tentative=summary.tentative or acquires, inferred=True)
    edges = lockgraph.function_edges(fr.name, steps, lock_identity(fn, body, source, (ev for ev, _ in steps)))
    return summary, summaries.relied_on(steps), edges


def _defined_macros(source: bytes) -> tuple:
    """(macro, meaning) of the annotation macros the file defines, sorted."""
    if b"define" not in source:
        return ()
    found = {**data_macro_meanings(source), **function_macro_meanings(source)}
    return tuple(sorted(found.items()))


_DECLARED: Lru = Lru(64)


def outside_bodies(source: bytes, functions: list) -> bytes:
    """The text between function bodies (see `syntax.Outside`)."""
    return syntax.outside_bodies(source, functions).text


def _declared_outside_bodies(root: Node, source: bytes, config: Config, outside: bytes):
    """(annotated functions, guarded data, declared order, method-table entry points,
    recursive lock patterns, annotation macros): all written outside function bodies, so reused while
    that text does not change (every keystroke inside a body, in the editor)."""
    # what they are read with: the annotation macros (the project's contracts add some) and method tables
    # (and the guards on field names: the structs that have such a field but not its lock)
    field_guards = tuple(sorted({(g.field, g.by) for g in config.guarded if g.field and g.owner is None and g.by}))
    key = (text_key(outside), tuple(sorted(config.annotations.items())), config.entry_tables, config.entry_table_macros,
           config.entry_registrars, field_guards)

    def read():
        guarded, order = data_annotations(root, source, config.annotations)
        guarded += unguarded_owners(outside, config.guarded + guarded)
        return (annotated_functions(root, source, config.annotations), guarded, order,
                table_entry_points(outside, config.entry_tables, config.entry_table_macros, config.entry_registrars),
                recursive_lock_patterns(root, source),
                _defined_macros(source), noreturn_functions(outside))

    return _DECLARED.get(key, read)


_BODY_ENTRY_POINTS: Lru = Lru(4096)


def _entry_points_in(source: bytes, body: Node, config: Config) -> frozenset:
    """The entry points a body names (`table_entry_points`: callbacks it passes to
    registrars, tables it declares), read once per text of the body."""
    kinds = (config.entry_tables, config.entry_table_macros, config.entry_registrars)
    if not any(kinds) or not may_name_entry_points(source, *kinds, body.start_byte, body.end_byte):
        return frozenset()
    text = source[body.start_byte:body.end_byte]
    return _BODY_ENTRY_POINTS.get((text_key(text), kinds), lambda: frozenset(table_entry_points(text, *kinds)))


def _entry_points_by_function(functions: list, source: bytes, config: Config) -> dict:
    """Function name -> the entry points its body names (`_entry_points_in`), for those that do."""
    out: dict = {}
    kinds = (config.entry_tables, config.entry_table_macros, config.entry_registrars)
    if not any(kinds) or not may_name_entry_points(source, *kinds):
        return out
    for fn, body in functions:
        found = _entry_points_in(source, body, config)
        if found:
            name = syntax.function_name(fn, source)
            out[name] = out.get(name, frozenset()) | found
    return out


def _entry_state(own: Optional[LockFunction], fn: Node, source: bytes, cfg: Optional[CFG] = None,
                 entry_point: bool = False):
    """The state at a function's entry: the locks it requires its caller to hold
    (`__must_hold(&q->lock)`) are held there, taken by the caller. In an entry
    point every other lock it names is known not to be held: nobody called it with a
    lock. (A lock it releases without taking it is its caller's, annotated or not:
    projects that annotate some functions leave others to lockls' summaries.)"""
    held = {}
    if own is not None and own.requires:
        params = _parameters(fn, source)
        for key in (resolve_lock_ref(ref, params) for ref in own.requires):
            if key is not None:
                held[key] = lockstate.LockFact(True, True, False, 1, frozenset(), key)
    for key in _declared_lock(own, fn, source, ("release",)):
        # its own contract says it releases the lock: its caller holds it (a reentrant
        # lock taken again inside is released twice, and that is fine)
        held[key] = lockstate.LockFact(True, True, own.shared, 1, frozenset(), key)
    if cfg is not None and entry_point:
        for block in cfg.blocks:
            for ev in block.events:
                if isinstance(ev, (Acquire, TryAcquire, Release, Access)):
                    named = ((ev.key, ev.written if not isinstance(ev, Access) else ev.guard),)
                elif isinstance(ev, Call):
                    named = ev.requires
                else:
                    continue
                for key, written in named:
                    if key not in held and not key.startswith("$"):
                        held[key] = lockstate.LockFact(False, False, False, 0, frozenset(), written)
    if not held:
        return lockstate.ENTRY
    return (lockstate.PathClass(tuple(sorted(held.items())), frozenset(), frozenset()),)


def _variable_types(fn: Node, body: Node, source: bytes, nested: bool = False,
                    unambiguous: bool = False) -> dict[str, str]:
    """name -> declared type (`struct qemud_driver`) of the parameters and the
    body's own declarations (`nested`: of its inner blocks too), for lock classes
    and guards given by type. `unambiguous`: a name declared with two types (in two
    blocks) is left out, its type unknown."""
    out: dict[str, str] = {}
    ambiguous: set = set()
    decl = syntax.function_declarator(fn)
    params = decl.child_by_field_name("parameters") if decl is not None else None
    nodes = list(params.named_children) if params is not None else []
    nodes += syntax.declarations_within(body) if nested else [c for c in body.named_children if c.type == "declaration"]
    for node in nodes:
        type_node = node.child_by_field_name("type")
        if type_node is None:
            continue
        type_text = " ".join(syntax.text(type_node, source).split())
        for d in node.children_by_field_name("declarator"):
            name = syntax.declared_name(d)
            if name is not None:
                name_text = syntax.text(name, source)
                if unambiguous and out.get(name_text, type_text) != type_text:
                    ambiguous.add(name_text)
                out[name_text] = type_text
    for name in ambiguous:
        del out[name]
    return out


def lock_identity(fn: Node, body: Node, source: bytes, events=()) -> lockgraph.LockIdentity:
    """The lock-graph identity of the locks the function names (see `lockgraph`);
    `events`: the function's, to leave out what is no node (`lockgraph.left_out`)."""
    all_types = cache(lambda: _variable_types(fn, body, source, nested=True))  # when first needed
    return lockgraph.LockIdentity(all_types, statics(source), lockgraph.left_out(events))


_STATICS: Lru = Lru(8)  # text outside bodies -> the names it declares static
_STATIC_SETS: Lru = Lru(64)
_LAST_STATICS = threading.local()  # .pair: (file text, its static names), per thread: asked once per function


def prime_statics(source: bytes, outside: bytes) -> frozenset:
    """Read the names the file `source` declares static at file scope from its text
    outside bodies (`outside`): once while that text stays the same."""
    def read() -> frozenset:
        names = lockgraph.static_names(outside)
        return _STATIC_SETS.get(names, lambda: names)  # one object per set: summaries' keys hold it

    names = _STATICS.get(text_key(outside), read)
    _LAST_STATICS.pair = (source, names)
    return names


def statics(source: bytes) -> frozenset:
    """The names `source` declares static at file scope (see `prime_statics`; the engine
    primes it before analysing a file's functions, others read the whole text)."""
    pair = getattr(_LAST_STATICS, "pair", None)
    if pair is None or pair[0] is not source:
        return prime_statics(source, source)
    return pair[1]


def _parameters(fn: Node, source: bytes) -> list[str]:
    return syntax.parameter_names(syntax.function_declarator(fn), source)


# -- functions -------------------------------------------------------------------

# A function that calls nothing but functions that only take and drop locks
# themselves is summarised (for self-deadlocks two calls deep) when it is this small:
# a forwarder; reading every such function costs a third more on large trees.
FORWARDER_MAX_STATEMENTS = 8


def analyze_function(fn: Node, body: Node, source: bytes, config: Config,
                     recursive_globals: frozenset = frozenset(), summarising: bool = False,
                     deep: bool = False) -> FunctionResult:
    """The findings of one function (and its CFG and states). `summarising`: for its
    summary, so also when it is a small forwarder to functions that only take and drop
    locks themselves (see `LockFunction.only_takes`). `deep`: already on a deep stack."""
    name = syntax.function_name(fn, source)
    result = FunctionResult(name, fn.start_point[0] + 1)
    if syntax.has_missing_close(body):
        result.skipped = "unbalanced braces: the body does not end"
        return result
    pattern, constants, prefilter = _tables(config)
    entry_point = bool(config.entry_points) and config.is_entry_point(name)
    first = pattern if summarising and body.named_child_count <= FORWARDER_MAX_STATEMENTS else prefilter
    if first is None or not first.search(source, body.start_byte, body.end_byte):
        guarded = _guarded_pattern(config) if entry_point else None
        if guarded is None or not guarded.search(source, fn.start_byte, body.end_byte):
            return result  # no lock call at all (nor, in an entry point, guarded data): nothing can be found
    try:
        aliases = LazyAliases(body, source)
        lowerer = Lowerer(source, config, aliases, constants, pattern, origin=fn.start_byte, end=body.end_byte,
                          variable_types=lambda: _variable_types(fn, body, source, nested=True,
                                                                                 unambiguous=True))
        cfg = build_cfg(name, body, lowerer, source)

        def is_recursive(key: str, fn_spec) -> bool:
            return key in recursive_globals or config.is_recursive(key, fn_spec)

        initial = _entry_state(config.functions.get(name), fn, source, cfg, entry_point)
        states = dataflow.solve(cfg, is_recursive, initial, _lock_flags(fn, source), config.max_function_steps)
        result.cfg, result.states = cfg, states
        result.partial = _forgotten(states)
        result.findings, result.partner = _run_rules(cfg, states, is_recursive, fn, body, source, config, entry_point)
    except (Unanalysable, dataflow.NoFixpoint) as e:
        # a reason naming a line is a Message: moved with the function when its result is reused
        result.skipped = e.args[0] if e.args and isinstance(e.args[0], Message) else str(e)
    except RecursionError:
        if not deep:  # hundreds of nested `if`s, `else if`s or `&&`s: the builders recurse per level
            return on_deep_stack(lambda: analyze_function(fn, body, source, config, recursive_globals, summarising,
                                                          deep=True))
        result.skipped = "too deeply nested to analyse"
    except Exception as e:  # never let one function take the file down
        log.exception("internal error analysing %s", name)
        result.skipped = f"internal error: {type(e).__name__}: {e}"
    return result


DEEP_RECURSION_LIMIT = 60_000  # nesting levels: ~20,000 `else if`s or `&&`s
_DEEP_STACK_BYTES = 1 << 30  # reserved, not used: the pages are touched only as deep as the nesting goes
_DEEP = threading.Lock()


def on_deep_stack(call):
    """call() on a thread with a large stack and recursion limit: the CFG builder and the
    lowering recurse once per level of nesting, and real code rarely nests deeper than
    Python's default limit allows; machine-generated code does. (One thread per such
    function; the limit is raised for the process while it runs.)"""
    box: list = []

    def run():
        try:
            box.append((True, call()))
        except BaseException as e:  # handed to the caller's thread
            box.append((False, e))

    with _DEEP:
        limit = sys.getrecursionlimit()
        size = threading.stack_size()
        sys.setrecursionlimit(max(limit, DEEP_RECURSION_LIMIT))
        try:
            threading.stack_size(_DEEP_STACK_BYTES)
            try:
                thread = threading.Thread(target=run, name="lockls-deep", daemon=True)
                thread.start()
            finally:
                threading.stack_size(size)
            thread.join()
        finally:
            sys.setrecursionlimit(limit)
    ok, value = box[0]
    if not ok:
        raise value
    return value


def _forgotten(states: list) -> str:
    """Why some findings may be missing, when paths disagreeing on too many locks made
    the analysis forget whether they are held (`lockstate.normalize`), else ""."""
    forgotten = sorted({f.written for state in states if state for c in state for _, f in c.locks if f.unknown})
    if not forgotten:
        return ""
    shown = ", ".join(f"`{w}`" for w in forgotten[:4]) + (f" and {len(forgotten) - 4} more" if len(forgotten) > 4 else "")
    return (f"paths disagree on more than {lockstate.MAX_CLASSES} combinations of held locks: whether {shown} "
            f"{'is' if len(forgotten) == 1 else 'are'} held was forgotten on some of them, so findings about "
            f"{'it' if len(forgotten) == 1 else 'them'} may be missing")


_LOCK_FLAG = re.compile(r"(?i)lock|held|hold")


def _lock_flags(fn: Node, source: bytes) -> frozenset:
    """Parameters whose name says whether the caller holds a lock (`have_lock`, `locked`,
    `needlock`): the function takes the lock only when told the caller does not."""
    return frozenset(p for p in _parameters(fn, source) if _LOCK_FLAG.search(p))


def replay(cfg: CFG, states: list, is_recursive, with_facts: bool = False):
    """Yield (event, state before it) for every event of every reachable block.

    Rules look at locks and trails only, so by default Derive events (which only
    change facts) are not applied, nor Kill events unless a lock of an array is held
    (`i++` makes `&locks[i]` another lock): cheaper, and the locks come out the same."""
    for block in cfg.blocks:
        state = states[block.id]
        if not state:
            continue
        for ev in block.events:
            if isinstance(ev, Derive) and not with_facts:
                continue
            yield ev, state
            if isinstance(ev, Kill) and not with_facts and not any("[" in k for c in state for k, _ in c.locks):
                continue
            state = dataflow.transfer(state, ev, is_recursive)


def _run_rules(cfg: CFG, states: list, is_recursive, fn: Node, body: Node, source: bytes, config: Config,
               entry_point: bool = False) -> tuple[list, Optional[bool]]:
    """The function's violations, and whether a partner of its name is in the file (None:
    not asked; see `FunctionResult.partner`)."""
    steps = [(ev, st) for ev, st in replay(cfg, states, is_recursive)
             if isinstance(ev, LOCK_EVENTS + (Return, Call, Access)) or (isinstance(ev, Kill) and ev.site is not None)]
    released = frozenset(ev.key for ev, _ in steps if isinstance(ev, Release))
    acquired = frozenset(ev.key for ev, _ in steps if isinstance(ev, (Acquire, TryAcquire)))
    always_held = None
    for ev, st in steps:
        if isinstance(ev, Return):
            must = frozenset.intersection(*(frozenset(k for k, f in c.locks if f.held and not f.entry_held) for c in st))
            always_held = must if always_held is None else always_held & must
    # (the one thing the rules read from the file beyond the function and the configuration)
    partner = partner_named(cfg.name, source) if always_held and not released else None
    visible = _CallerVisibility(fn, body, source)
    dropped = frozenset(ev.key for ev, st in steps if isinstance(ev, Release)
                        and any((f := c.get(ev.key)) is None or (f.entry_held and f.held) for c in st))
    retaken: dict = {}  # a caller's lock dropped and taken again -> the returns that hold it again on every path
    own = config.functions.get(cfg.name)
    # (not when it releases its caller's lock only when it returns `when`: a contract, not a bug)
    if dropped and not (own is not None and own.action == "release" and own.when is not None):
        for ev, st in steps:
            if isinstance(ev, Return):
                for key in dropped:
                    if all((f := c.get(key)) is not None and not f.unknown and f.entry_held and f.held for c in st):
                        retaken.setdefault(key, []).append(ev.site)
    ctx = RuleContext(
        function=cfg.name,
        is_recursive=is_recursive,
        released_keys=released,
        acquired_keys=acquired,
        caller_visible=visible,
        always_held_at_return=always_held or frozenset(),
        declared_acquires=_declared_acquires(config.functions.get(cfg.name), fn, source),
        dropped_for_caller=dropped,
        retaken_at_return={k: tuple(v) for k, v in retaken.items()},
        parameters=frozenset(_parameters(fn, source)),
        stored_elsewhere=_memo(lambda key: _stored_elsewhere(key, body, source)),  # asked per return and lock
        try_sites={ev.site: ev.fn.name for ev, _ in steps if isinstance(ev, TryAcquire)},
        try_wrapper_keys=_try_wrapper_keys(steps),
        try_results=frozenset((ev.key, ev.result) for ev, _ in steps if isinstance(ev, TryAcquire)),
        lock_order=tuple(getattr(config, "lock_order", ())),
        classes=dict(getattr(config, "classes", {})),
        order_pairs=config.order_pairs,
        config_origin=config.source,
        entry_point=entry_point,
        has_partner=partner is True,
        lock_identity=lock_identity(fn, body, source, (ev for ev, _ in steps)) if config.order_cycles else None,
        order_cycles=lockgraph.cycle_index(config.order_cycles),
        lock_events={ev.site: ev for ev, _ in steps if isinstance(ev, LOCK_EVENTS)},
    )
    for ev, st in steps:
        ctx.checking = ev
        for rule in RULE_MODULES:
            if isinstance(ev, rule.EVENTS):
                rule.check(ev, st, ctx)
    seen, out = set(), []
    for v in ctx.reports:
        if (v.rule, v.site, v.message) not in seen:
            seen.add((v.rule, v.site, v.message))
            out.append(v)
    return out, partner


@lru_cache(maxsize=4096)
def partner_names(name: str) -> frozenset:
    """The release functions named as the pair of `name` (`partners`); a variant's pair
    counts too: `spa_vdev_exit` for `spa_vdev_detach_enter` (one word before the verb
    left out)."""
    names = {p for p in partners(name) if p != name}
    names |= {p for p in partners(re.sub(r"_[A-Za-z0-9]+(?=_[A-Za-z0-9]+$)", "", name)) if p != name}
    return frozenset(names)


def partner_named(name: str, source: bytes) -> bool:
    """Is a partner of `name` (`partner_names`) called, declared or defined in the file?"""
    return any(re.search(rb"\b" + re.escape(p.encode()) + rb"\s*\(", source) for p in partner_names(name))


def called_in_file(source: bytes, functions: list, outside: bytes) -> frozenset:
    """Every name written before a `(` in the file (what `partner_named` searches), from
    each body's names (read once per text of the body) and the text outside them."""
    names = set(_names_called_in(outside))
    for _, body in functions:
        names |= _called_names(source, body)
    return frozenset(names)


def _store_through(pointer: bytes, value: bytes) -> re.Pattern:
    """The statement `*POINTER = VALUE;` (a cast allowed before the value), the pointer a group."""
    return re.compile(rb"(?:^|[;{}):])[ \t]*\*\s*(" + pointer + rb")\s*=\s*(?:\([^()]*\)\s*)?(?:" + value + rb")\s*;",
                      re.M)


def _out_parameter(name: str, params: list[str], body: Node, source: bytes) -> Optional[int]:
    """The index of the parameter `p` when the body hands `name` back through it (`*p = name;`)."""
    store = _store_through(rb"[A-Za-z_]\w*", re.escape(name.encode()))
    for m in store.finditer(source, body.start_byte, body.end_byte):
        p = m.group(1).decode()
        if p in params:
            return params.index(p)
    return None


def _stores_null(param: str, body: Node, source: bytes) -> bool:
    """Does the body set what `param` points to to NULL (`*lockp = NULL;`)?"""
    store = _store_through(re.escape(param.encode()), rb"NULL|0|nullptr")
    return store.search(source, body.start_byte, body.end_byte) is not None


def _memo(ask):
    """`ask` answering each argument once (a search of the body per return of 2,000 was quadratic)."""
    answers: dict = {}

    def memo(arg):
        if arg not in answers:
            answers[arg] = ask(arg)
        return answers[arg]

    return memo


def _stored_elsewhere(key: str, body: Node, source: bytes) -> bool:
    """Is the variable a lock is reached through stored into a field, an array element or
    an out-parameter (`zl->zl_rwlock = rwlp;`, `held[n] = &q->lock;`, `*lockp = lp;`)?
    The lock then lives on where someone else releases it (a lookup that returns its
    object locked through an out-parameter)."""
    root = _ROOT.match(key)
    if root is None:
        return False
    name = re.escape(root.group(0).encode())
    # a field (`zl->lock = lp;`), an array element, or an out-parameter (`*lockp = lp;`,
    # at the start of a statement: not a declaration `pthread_mutex_t *lp = ...;`)
    store = re.compile(rb"(?:->\s*\w+|\.\s*\w+|\]|(?:^|[;{}):])[ \t]*\*\s*\w+)\s*=\s*(?:\([^()]*\)\s*)?(?:" + name
                       + rb"\s*;|&\s*" + name + rb"(?:\s*(?:->|\.)\s*\w+)*\s*;)", re.M)
    return store.search(source, body.start_byte, body.end_byte) is not None


def _declared_acquires(own: Optional[LockFunction], fn: Node, source: bytes) -> frozenset:
    """The lock the function's own contract says it returns holding, as a key."""
    return _declared_lock(own, fn, source, ("acquire", "try-acquire"), inferred=True)


def _declared_lock(own: Optional[LockFunction], fn: Node, source: bytes, actions: tuple,
                   inferred: bool = False) -> frozenset:
    """The lock of the function's own contract when its action is one of `actions`, as a
    key; a contract lockls inferred from the body (a summary callers rely on) counts
    only with `inferred`."""
    if own is None or own.tentative or (own.inferred and not inferred):
        return frozenset()
    if own.steps:  # several locks: each step's
        return frozenset().union(*(_declared_lock(dataclasses.replace(step, inferred=own.inferred), fn, source,
                                                  actions, inferred) for step in own.steps))
    if own.action not in actions:
        return frozenset()
    if own.lock == "global":
        return frozenset({own.path.replace(".", "->")})
    key = resolve_lock_ref(own.lock + own.path, _parameters(fn, source)) if own.lock_arg is not None else None
    return frozenset({key}) if key else frozenset()


def _try_wrapper_keys(steps) -> frozenset:
    """Locks taken only by trylocks, never released here, that the function returns holding only with
    return values it never returns without them (`return 1` when taken,
    `return 0` when not): the caller learns from the value, like from a trylock."""
    held_values: dict[str, set] = {}
    free_values: dict[str, set] = {}
    keys = set()
    for ev, st in steps:
        if not isinstance(ev, Return):
            continue
        if ev.value is None or number(ev.value) is None:
            return frozenset()  # some return value tells nothing
        for c in st:
            for k, f in c.locks:
                keys.add(k)
        for k in keys:
            for c in st:
                f = c.get(k)
                (held_values if f is not None and f.held else free_values).setdefault(k, set()).add(ev.value)
    tried = {ev.key for ev, _ in steps if isinstance(ev, TryAcquire)}
    plain = {ev.key for ev, _ in steps if isinstance(ev, (Acquire, Release))}
    return frozenset(k for k in held_values
                     if k in tried and k not in plain and not (held_values[k] & free_values.get(k, set())))


class _CallerVisibility:
    """Is a lock reachable from the function's parameters or from globals?"""

    def __init__(self, fn: Node, body: Node, source: bytes):
        self.fn, self.body, self.source = fn, body, source
        self._params = self._locals = None

    def __call__(self, key: str) -> bool:
        m = _ROOT.match(key)
        if not m:
            return False
        root = m.group(0)
        if self._params is None:
            decl = self.fn.child_by_field_name("declarator")
            caps = syntax.captures("parameters", decl) if decl is not None else {}
            self._params = {syntax.text(n, self.source) for n in caps.get("name", [])}
            caps = syntax.captures("locals", self.body)
            self._locals = {syntax.text(n, self.source) for n in caps.get("name", [])}
        return root in self._params or root not in self._locals


class LazyAliases:
    """Local names assigned exactly once from a lock-ish expression: name -> key.

    Computed on first need, and only when the name is assigned at all, since
    most lock arguments (`&q->lock` with `q` a parameter) are never aliases."""

    def __init__(self, body: Node, source: bytes):
        self.body, self.source = body, source
        self._table: Optional[dict[str, str]] = None
        self._unassigned: set[str] = set()  # searched for once each (a body of 1,600 `lock(&m)`: 1,600 scans)

    def __contains__(self, name: str) -> bool:
        if self._table is None:
            if name in self._unassigned:
                return False
            assigned = re.compile(rb"\b" + re.escape(name.encode()) + rb"\s*=[^=]")
            if not assigned.search(self.source, self.body.start_byte, self.body.end_byte):
                self._unassigned.add(name)
                return False
            self._table = _aliases(self.body, self.source)
        return name in self._table

    def __getitem__(self, name: str) -> str:
        return self._table[name]


# values that name no object: a pointer set to one of these reaches no lock, so it does
# not stop the pointer from being an alias (`struct vm *held = NULL; ... held = vm;`)
_NO_OBJECT = frozenset(("NULL", "0", "nullptr", "((void *)0)", "((void*)0)"))


def _reads_written(value: str, written: set[str]) -> bool:
    """Does the expression `value` read an lvalue the function assigns (`*zlpp`,
    `q->head`), directly or through it (`q->head->next`)?"""
    return any(reached_through(value, w) or value.startswith(w + "[") for w in written)


def _aliases(body: Node, source: bytes) -> dict[str, str]:
    """Local names that stand for one lock-reaching expression in the whole function:
    assigned exactly once (not counting NULL), from a pointer, field or element."""
    counts: dict[str, int] = {}
    values: dict[str, Node] = {}
    written: set[str] = set()  # other lvalues assigned: an alias of one is not fixed
    for _, caps in syntax.matches("aliases", body):
        if "target" in caps:
            written.add(canonical(caps["target"][0], source))
            continue
        name = syntax.text(caps["name"][0], source)
        value = caps["value"][0]
        if syntax.text(value, source) in _NO_OBJECT:
            counts.setdefault(name, 0)
            continue
        counts[name] = counts.get(name, 0) + 1
        values[name] = value
    candidates = {}
    for name, n in counts.items():
        value = values.get(name)
        if n == 1 and value.type in ("pointer_expression", "field_expression", "identifier", "cast_expression",
                                     "parenthesized_expression", "subscript_expression"):
            if written and _reads_written(canonical(value, source), written):
                continue  # `zl = *zlpp;` and elsewhere `*zlpp = zl->next;`: another object each time
            target = key_of(canonical(value, source))
            if target and target != name:
                candidates[name] = target
    aliases = {}
    for name, target in candidates.items():
        for _ in range(4):  # `c = f->private; p = c->list;`: p is f->private->list
            root = _ROOT.match(target)
            if root is None or root.group(0) not in counts:
                break
            if root.group(0) not in candidates or root.group(0) == name:
                target = None  # `next = cur->next` with cur reassigned: not a fixed alias
                break
            target = candidates[root.group(0)] + target[root.end():]
        else:
            target = None
        if target and target != name:
            aliases[name] = target
    return aliases
