"""The tree-sitter layer: the C parser, the `.scm` queries and small node helpers.

Owns: creating parsers, loading queries from `queries/` at run time, and reading
names and text out of nodes. Everything above the CFG builder works on events,
never on nodes.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional

import tree_sitter_c
from tree_sitter import Language, Node, Parser, Query, QueryCursor

from lockls.lru import Lru
from lockls.syntax.queries import query_dirs

C_LANGUAGE = Language(tree_sitter_c.language())


_LONE_CR = re.compile(rb"\r(?!\n)")


def lsp_line_breaks(data: bytes) -> bytes:
    """`data` with every lone CR made a LF (same length, same offsets): a lone CR ends a
    line for LSP clients and for C compilers (`// note\rlock(&m);` is a comment and a
    call), but not for tree-sitter, whose rows would then disagree with the editor's
    lines. The same object when there is none (almost always)."""
    if b"\r" not in data or not _LONE_CR.search(data):
        return data
    return _LONE_CR.sub(b"\n", data)


def new_parser() -> Parser:
    return Parser(C_LANGUAGE)


def _query_dirs() -> list[Path]:
    """Where `.scm` files may live (see `queries.query_dirs`, which the cache's code fingerprint reads too)."""
    return [Path(d) for d in query_dirs()]


@lru_cache(maxsize=None)
def load_query(name: str) -> Query:
    """The query `queries/NAME.scm`, compiled once per process."""
    for d in _query_dirs():
        path = d / f"{name}.scm"
        if path.is_file():
            return Query(C_LANGUAGE, path.read_text(encoding="utf-8"))
    raise FileNotFoundError(f"lockls: query {name}.scm not found in {', '.join(map(str, _query_dirs()))}")


def captures(query_name: str, node: Node, start_byte: int | None = None, end_byte: int | None = None) -> dict[str, list[Node]]:
    cursor = QueryCursor(load_query(query_name))
    if start_byte is not None:
        cursor.set_byte_range(start_byte, end_byte)
    return cursor.captures(node)


def matches(query_name: str, node: Node, start_byte: int | None = None, end_byte: int | None = None):
    cursor = QueryCursor(load_query(query_name))
    if start_byte is not None:
        cursor.set_byte_range(start_byte, end_byte)
    return cursor.matches(node)


# a function-like macro definition: (name, body)
# a function-like #define: (name, body); the body goes on over `\`-continued lines
MACRO_DEF = re.compile(rb"^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)\([^)]*\)[ \t]+((?:[^\n]*\\\r?\n)*[^\n]*)$", re.M)
_WORD = re.compile(r"[A-Za-z_]\w*")


# any #define, function-like or not: (name, "(params)" or None, body over `\`-continued lines)
_DEFINE = re.compile(rb"^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)(\([^)]*\))?[ \t]*((?:[^\n]*\\\n)*[^\n]*)$", re.M)
_COMMENT = re.compile(r"/\*.*?\*/|//.*")


_DEFINES: Lru = Lru(8)  # text -> its #defines: read by several passes over the same file


def define_directives(text: bytes) -> tuple:
    """(name, parameters or None, body) of every `#define` in `text`: the one reader of
    macro definitions for summaries, annotation macros and the calls a file makes.
    Bodies are joined over continued lines, comments dropped."""
    if b"define" not in text:
        return ()
    return _DEFINES.get(text, lambda: _define_directives(text))


def _define_directives(text: bytes) -> tuple:
    out = []
    for m in _DEFINE.finditer(text):
        body = m.group(3).decode("utf-8", "replace").replace("\\\n", " ")
        body = _COMMENT.sub(" ", body).strip()
        params = None if m.group(2) is None else tuple(p.strip() for p in m.group(2).decode("utf-8", "replace")[1:-1].split(","))
        out.append((m.group(1).decode(), params, body))
    return tuple(out)


def macros_expanding_to(source: bytes, words: dict) -> dict:
    """Function-like macros the file defines whose body uses one of `words`:
    macro name -> `words[the first such word of its body]`
    (`#define GUARDED_BY(x) __attribute__((guarded_by(x)))` with {"guarded_by": v} -> {"GUARDED_BY": v})."""
    if b"define" not in source:
        return {}
    return dict(_EXPANDING.get((source, tuple(words.items())), lambda: _macros_expanding_to(source, words)))


_EXPANDING: Lru = Lru(8)


def _macros_expanding_to(source: bytes, words: dict) -> dict:
    out = {}
    for m in MACRO_DEF.finditer(source):
        for word in _WORD.findall(m.group(2).decode("utf-8", "replace")):
            if word in words:
                out[m.group(1).decode()] = words[word]
                break
    return out


def text(node: Node, source: bytes) -> str:
    """The node's source text (tree text can be stale after `tree.edit`; slice the bytes)."""
    return source[node.start_byte:node.end_byte].decode("utf-8", "replace")


def function_name(fn: Node, source: bytes) -> str:
    """The name a function definition declares (`f` in `static int *f(void)`; `f` in
    `static void ANNOTATE(proto) f(void)` too, see `_macro_prefixed`)."""
    name = function_name_node(fn)
    return text(name, source) if name is not None else "<anonymous>"


def function_name_node(fn: Node) -> Optional[Node]:
    """The identifier node of the name a function definition declares (see `function_name`)."""
    prefixed = _macro_prefixed(function_declarator(fn))
    if prefixed is not None:
        return prefixed.child_by_field_name("function")
    decl = fn.child_by_field_name("declarator")
    while decl is not None:
        if decl.type in ("identifier", "field_identifier"):
            return decl
        decl = decl.named_children[0] if decl.type == "parenthesized_declarator" and decl.named_child_count \
            else decl.child_by_field_name("declarator")
    return None


def declared_name(declarator: Optional[Node]) -> Optional[Node]:
    """The identifier a declarator declares (`p` in `*p`, `p[4]`, `p = 0`, `(*p)(void)`,
    `*const __attribute__((cleanup(f))) p`)."""
    node = declarator
    while node is not None and node.type != "identifier":
        misread = misread_attribute(node)
        if misread is not None:
            return misread[1]
        node = node.child_by_field_name("declarator") if node.type != "parenthesized_declarator" \
            else (node.named_children[0] if node.named_child_count else None)
    return node


_ATTRIBUTE_KEYWORDS = (b"__attribute__", b"__attribute")


def misread_attribute(node: Node) -> Optional[tuple[Node, Node]]:
    """(the attribute's argument list, the declared identifier) of an attribute written
    inside a declarator (`T *const __attribute__((cleanup(f))) p`), which tree-sitter-c
    reads as a function declarator named `__attribute__` with `p` after its
    "parameters"; None for any other node."""
    if node.type != "function_declarator" or not node.named_child_count:
        return None
    keyword, last = node.child_by_field_name("declarator"), node.named_children[-1]
    params = node.child_by_field_name("parameters")
    if keyword is None or keyword.type != "identifier" or keyword.text not in _ATTRIBUTE_KEYWORDS \
            or params is None or last.type != "identifier" or last.start_byte < params.end_byte:
        return None
    return params, last


def function_declarator(fn: Node) -> Optional[Node]:
    """The `f(params)` part of a function definition (under any pointer declarators)."""
    decl = fn.child_by_field_name("declarator")
    while decl is not None and decl.type != "function_declarator":
        decl = decl.child_by_field_name("declarator")
    return decl


def _macro_prefixed(decl: Optional[Node]) -> Optional[Node]:
    """`f(int a)` of `static void v_matchproto_(lock_f) f(int a)`: a macro call written
    before the name (an annotation that expands to nothing, or to a comment),
    which tree-sitter reads as the declarator, followed by the real `f(...)` as a
    call expression. None when the declarator is an ordinary one, also when the call
    is an annotation after the parameters (`void f(struct q *q) __must_hold(&q->lock)`):
    a real parameter list declares parameters, the macro's holds a bare name."""
    if decl is None or decl.type != "function_declarator":
        return None
    last = decl.named_children[-1] if decl.named_child_count else None
    params = decl.child_by_field_name("parameters")
    if last is None or last.type != "call_expression" or params is None or not params.named_child_count \
            or not all(_bare_name(p) for p in params.named_children):
        return None
    name = last.child_by_field_name("function")
    return last if name is not None and name.type == "identifier" else None


def parameter_names(declarator: Optional[Node], source: bytes) -> list[str]:
    """The parameters' names by position ("" for an unnamed one), so that
    "argument N" and "parameter N" always agree."""
    prefixed = _macro_prefixed(declarator)
    if prefixed is not None:  # `ANNOTATE(proto) f(int a, struct q *q)`: f's arguments
        return [_argument_name(a, source) for a in prefixed.child_by_field_name("arguments").named_children
                if a.type != "comment"]
    params = declarator.child_by_field_name("parameters") if declarator is not None else None
    names = []
    for p in params.named_children if params is not None else ():
        if p.type != "parameter_declaration":
            continue  # comments, `...`
        name = declared_name(p.child_by_field_name("declarator"))
        names.append(_unmacroed(name, source) if name is not None else "")
    return names


_MACRO_WORD = re.compile(r"^[A-Z][A-Z0-9_]*$")


def _unmacroed(name: Node, source: bytes) -> str:
    """A parameter's name when a macro follows it (`struct x *ml OVS_UNUSED`, which
    the parser reads as the name `OVS_UNUSED` after an ERROR holding `ml`)."""
    word = text(name, source)
    parent = name.parent
    if parent is not None and _MACRO_WORD.match(word):
        for sibling in parent.children:
            if sibling.type == "ERROR" and sibling.named_child_count == 1 \
                    and sibling.named_children[0].type == "identifier":
                return text(sibling.named_children[0], source)
    return word


def _bare_name(param: Node) -> bool:
    """`vsm_lock_f` in `v_matchproto_(vsm_lock_f)`: a name alone, not a declaration."""
    if param.type == "identifier":
        return True
    kind = param.child_by_field_name("type")
    return (param.type == "parameter_declaration" and param.child_by_field_name("declarator") is None
            and kind is not None and kind.type == "type_identifier")


def _argument_name(arg: Node, source: bytes) -> str:
    """The parameter name in `struct q *q` read as an expression (`struct q * q`: the
    last identifier), "" when there is none (`void`)."""
    names = _identifiers(arg)
    return text(names[-1], source) if names and text(names[-1], source) != "void" else ""


def _identifiers(node: Node) -> list[Node]:
    out, stack = [], [node]
    while stack:
        n = stack.pop()
        if n.type == "identifier":
            out.append(n)
        stack.extend(reversed(n.named_children))
    return out


def has_missing_close(body: Node) -> bool:
    """True when the body's closing brace was invented by the parser (unbalanced braces)."""
    last = body.child(body.child_count - 1) if body.child_count else None
    return last is not None and last.is_missing


def call_name(call: Node, source: bytes) -> str | None:
    """The called name for `f(...)`, or None for calls through expressions."""
    fn = call.child_by_field_name("function")
    if fn is not None and fn.type == "identifier":
        return text(fn, source)
    return None


def declarations_within(body: Node) -> list[Node]:
    """Every `declaration` in a function body, inner blocks included (not those of
    nested function-like constructs' parameter lists)."""
    out, stack = [], list(reversed(body.named_children))
    while stack:
        node = stack.pop()
        if node.type == "declaration":
            out.append(node)
        elif node.named_child_count and node.type not in ("expression_statement", "return_statement"):
            stack.extend(reversed(node.named_children))
    return out


@dataclass(frozen=True)
class Outside:
    """The text between function bodies (declarations, prototypes, macros), the pieces
    joined by NUL bytes (so no word or token spans two of them), and where each piece
    starts in the file: what the file says beyond its bodies, which an edit inside a
    body leaves as it was."""

    text: bytes
    starts: tuple  # (offset in `text`, offset in the file) of each piece

    def in_file(self, offset: int) -> int:
        """The file offset of `offset` in `text`."""
        i = bisect_right(self.starts, (offset, float("inf"))) - 1
        piece, file_start = self.starts[max(i, 0)]
        return file_start + offset - piece


def outside_bodies(source: bytes, functions: list) -> Outside:
    """The `Outside` of a file whose (definition, body) nodes are `functions`."""
    parts, starts, end, at = [], [], 0, 0
    for _, body in functions:
        if body.start_byte >= end:
            parts.append(source[end:body.start_byte])
            starts.append((at, end))
            at += body.start_byte - end + 1
            end = body.end_byte
    parts.append(source[end:])
    starts.append((at, end))
    return Outside(b"\0".join(parts), tuple(starts))
