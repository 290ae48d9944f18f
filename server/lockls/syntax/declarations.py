"""What data declarations say about locks: guarded data, declared lock order,
recursive lock types, and method tables whose functions are entry points.

Owns: reading, from one file,
- `guarded_by(x)` / `pt_guarded_by(x)` (clang, written as `__attribute__((...))`
  or through a macro `#define`d in the file, e.g. `GUARDED_BY(mu)`), the kernel's
  `__guarded_by(&x)` / `__pt_guarded_by(&x)`, and project macros mapped in
  `[annotations]` (`OVS_GUARDED_BY = "guarded-by"`), on struct fields and on
  globals -> `GuardedData`. A field's guard is a sibling field when the struct
  declares one of that name, else a global lock; a global's guard is a global lock;
- `acquired_before(...)` / `acquired_after(...)` (and mapped project macros such
  as `OVS_ACQ_BEFORE`) on lock declarations -> (earlier, later) pairs of lock
  globs: `"big_lock"` for a global, `"*->mu"` for a struct field;
- `reentrant_capability` on a struct (directly or through a macro defined in
  the file): every lock declared with that type (or a typedef of it) may be
  re-taken by its holder -> `LockPattern`s ("g_rec" for a global, "*->lock"
  for a field, "m" for a parameter or local);
- initializers of the types listed under `[entry-points] tables` (a driver's
  method table, `struct file_operations`): the functions stored there.

Annotations on data misparse in every position tree-sitter-c sees them (an ERROR
around the name, a function declarator named after the macro, a bogus second
statement after a global), so they are read from the text: the word before the
annotation is what it declares, and the syntax tree only tells whether that
position lies inside a struct body.
"""

from __future__ import annotations

import bisect
import re
from typing import Mapping, Optional

from tree_sitter import Node

from lockls.config import GuardedData
from lockls.syntax.nodes import MACRO_DEF, macros_expanding_to, text

# spelling -> meaning ("guarded-by", "pt-guarded-by", "acquired-before", "acquired-after")
_SPELLINGS = {
    "guarded_by": "guarded-by",
    "__guarded_by": "guarded-by",
    "pt_guarded_by": "pt-guarded-by",
    "__pt_guarded_by": "pt-guarded-by",
    "acquired_before": "acquired-before",
    "acquired_after": "acquired-after",
}
MEANINGS = frozenset(_SPELLINGS.values())
_WORD = re.compile(r"[A-Za-z_]\w*")
_IGNORED_PARENTS = ("preproc_function_def", "preproc_def", "comment", "string_literal")


def _spellings(source: bytes, project_macros: Optional[Mapping[str, str]]) -> dict[str, str]:
    """Every spelling that means a data annotation here: the built-in ones, macros
    defined in the file that expand to one, and the project's mapped macros."""
    from lockls.syntax.annotations import WELL_KNOWN_MACROS

    out = dict(_SPELLINGS)
    out.update((m, v) for m, v in WELL_KNOWN_MACROS.items() if v in MEANINGS)
    out.update(macro_meanings(source))
    for macro, meaning in (project_macros or {}).items():
        if meaning in MEANINGS:
            out[macro] = meaning
    return out


def macro_meanings(source: bytes) -> dict[str, str]:
    """Data annotation macros the file defines (`#define GUARDED_BY(x)
    __attribute__((guarded_by(x)))` -> {"GUARDED_BY": "guarded-by"})."""
    return macros_expanding_to(source, _SPELLINGS)


def data_annotations(root: Node, source: bytes, project_macros: Optional[Mapping[str, str]] = None) -> tuple[tuple, tuple]:
    """(GuardedData entries, (earlier, later, None) lock-glob pairs) declared in the file
    (None: the origin, filled in when the file's contracts are shared with others)."""
    if not any(s.encode() in source for s in ("guarded_by", "acquired_", "GUARDED_BY", "ACQUIRED_", "ACQ")) \
            and not project_macros:
        return (), ()
    spellings = _spellings(source, project_macros)
    names = sorted(spellings, key=len, reverse=True)
    pattern = re.compile(
        rb"\b([A-Za-z_]\w*)\s*(?:\[[^\]\n]*\]\s*)*(?:__attribute__\s*\(\(\s*)?("
        + b"|".join(re.escape(n.encode()) for n in names) + rb")\s*\(")
    field_name = _field_name_pattern(names)
    siblings_of: dict = {}  # struct body start -> the field names it declares
    guarded: list = []
    order: list = []
    for m in pattern.finditer(source):
        declared = m.group(1).decode()
        if declared in spellings or declared in ("__attribute__", "define"):
            continue
        node = root.descendant_for_byte_range(m.start(1), m.end(1))
        struct_body = _struct_body(node)
        if node is None or struct_body is False:
            continue  # a macro definition, a comment or a string
        args = _arguments(source, m.end() - 1)
        meaning = spellings[m.group(2).decode()]
        if struct_body is not None and struct_body.start_byte not in siblings_of:
            siblings_of[struct_body.start_byte] = set(field_name.findall(text(struct_body, source)))
        siblings = siblings_of[struct_body.start_byte] if struct_body is not None else set()
        if meaning in ("guarded-by", "pt-guarded-by"):
            if not args:
                continue
            guard = _lock_name(args[0])
            if guard is None:
                continue
            if struct_body is not None:
                by = guard if guard.split("->")[0] in siblings else "=" + guard
                guarded.append(GuardedData(field=declared, by=by, pointee=meaning == "pt-guarded-by",
                                           owner=_struct_name(struct_body, source)))
            else:
                guarded.append(GuardedData(variable=declared, by="=" + guard, pointee=meaning == "pt-guarded-by"))
            continue
        this = f"*->{declared}" if struct_body is not None else declared
        for arg in args:
            other = _lock_name(arg)
            if other is None:
                continue
            other = f"*->{other}" if struct_body is not None and other in siblings else other
            order.append((this, other, None) if meaning == "acquired-before" else (other, this, None))
    return tuple(guarded), tuple(dict.fromkeys(order))


def _struct_body(node: Optional[Node]):
    """The enclosing struct body (field_declaration_list) of `node`, None at the
    top level, False where an annotation cannot be (a macro, comment, string,
    function body, or nested deeper than any declaration is)."""
    for _ in range(_MAX_DEPTH):  # `node.parent` walks down from the root: keep the climb short
        if node is None:
            return None
        t = node.type
        if t in _IGNORED_PARENTS or t == "compound_statement":
            return False
        if t == "field_declaration_list":
            return node
        node = node.parent
    return False


_MAX_DEPTH = 48


def _struct_name(body: Node, source: bytes) -> Optional[str]:
    """`struct account` for the body of `struct account { ... }`; None when anonymous."""
    spec = body.parent
    name = spec.child_by_field_name("name") if spec is not None and spec.type in ("struct_specifier", "union_specifier") else None
    return f"{spec.type.split('_')[0]} {text(name, source)}" if name is not None else None


def _field_name_pattern(spellings: list) -> re.Pattern:
    """The names a struct body declares: the word before `;`, `,`, `:` (bit
    fields), `[` or an annotation (not the words inside annotations). Whole words
    only (`\\b` on both sides): a long word, in a comment say, is tried once, not
    from each of its letters (quadratic: a 20 KB word took 15 s)."""
    annotation = "|".join(re.escape(n) for n in spellings + ["__attribute__"])
    return re.compile(r"\b([A-Za-z_]\w*)\b\s*(?:\[[^\]\n]*\]\s*)*(?=[;,:]|(?:" + annotation + r")\b)")


def _arguments(source: bytes, open_index: int) -> list[str]:
    """The comma-separated arguments of the parenthesised list starting at `open_index`."""
    depth, current, args = 0, [], []
    for i in range(open_index, min(len(source), open_index + 400)):
        ch = source[i:i + 1]
        if ch == b"(":
            depth += 1
            if depth == 1:
                continue
        elif ch == b")":
            depth -= 1
            if depth == 0:
                break
        if ch == b"," and depth == 1:
            args.append(b"".join(current).decode("utf-8", "replace").strip())
            current = []
            continue
        current.append(ch)
    tail = b"".join(current).decode("utf-8", "replace").strip()
    if tail:
        args.append(tail)
    return args


def _lock_name(arg: str) -> Optional[str]:
    """`&mu` / `mu` / `(&d->lock)` -> "mu" / "d->lock"; None for anything else."""
    key = re.sub(r"\s+", "", arg)
    while key.startswith("(") and key.endswith(")"):
        key = key[1:-1]
    key = key.lstrip("&*").replace(".", "->")
    return key if re.fullmatch(r"[A-Za-z_]\w*(->[A-Za-z_]\w*)*", key) else None


# -- method tables ------------------------------------------------------------------

def table_entry_points(root: Node, source: bytes, table_types: tuple) -> tuple[str, ...]:
    """Names stored in initializers of the given types (`static const struct
    file_operations fops = { .open = demo_open, ... }`): the functions the
    framework calls with no lock held. Arrays of such structs count too."""
    if not table_types:
        return ()
    wanted = {" ".join(t.split()) for t in table_types}
    if not any(t.split()[-1].encode() in source for t in wanted):
        return ()
    found: set = set()
    for node in root.children:
        if node.type != "declaration":
            continue
        type_node = node.child_by_field_name("type")
        if type_node is None or " ".join(text(type_node, source).split()) not in wanted:
            continue
        for declarator in node.children_by_field_name("declarator"):
            value = declarator.child_by_field_name("value") if declarator.type == "init_declarator" else None
            if value is not None and value.type == "initializer_list":
                _collect_names(value, source, found)
    return tuple(sorted(found))


def _collect_names(node: Node, source: bytes, found: set) -> None:
    for child in node.named_children:
        if child.type == "initializer_pair":
            value = child.child_by_field_name("value")
            if value is not None:
                _collect_value(value, source, found)
        else:
            _collect_value(child, source, found)


def _collect_value(value: Node, source: bytes, found: set) -> None:
    if value.type == "initializer_list":
        _collect_names(value, source, found)
    elif value.type == "identifier":
        found.add(text(value, source))
    elif value.type == "pointer_expression":  # `.release = &demo_release`
        arg = value.child_by_field_name("argument")
        if arg is not None and arg.type == "identifier":
            found.add(text(arg, source))


# -- recursive lock types -------------------------------------------------------------

_STRUCT_HEAD = re.compile(
    rb"\b(typedef\s+)?struct\b((?:\s*(?:__attribute__\s*\(\((?:[^()]|\([^()]*\))*\)\)|[A-Z_][A-Z0-9_]*\b(?:\s*\([^()]*\))?))*)"
    rb"\s*([A-Za-z_]\w*)?\s*\{")


def recursive_lock_patterns(root: Node, source: bytes) -> tuple:
    """`LockPattern(recursive=True)`s for the locks declared with a type marked
    `reentrant_capability` (clang's attribute for locks their holder may re-take)."""
    if b"reentrant_capability" not in source:
        return ()
    from lockls.config import LockPattern  # a config type, like GuardedData

    macros = {m.group(1).decode() for m in MACRO_DEF.finditer(source) if b"reentrant_capability" in m.group(2)}
    macros |= {m.group(1).decode() for m in re.finditer(rb"^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)[ \t]+(.*)$", source, re.M)
               if b"reentrant_capability" in m.group(2)}
    types: set = set()
    for m in _STRUCT_HEAD.finditer(source):
        attributes = m.group(2).decode("utf-8", "replace")
        if "reentrant_capability" not in attributes and not set(_WORD.findall(attributes)) & macros:
            continue
        node = root.descendant_for_byte_range(m.start(), m.start() + 6)
        if node is None or _struct_body(node) is False:
            continue  # inside a macro definition, a comment or a function body
        if m.group(3) and m.group(3).decode() not in macros:
            types.add("struct " + m.group(3).decode())
        if m.group(1):  # typedef struct ... { ... } name;
            close = _matching(source, m.end() - 1)
            name = re.match(rb"\s*([A-Za-z_]\w*)\s*;", source[close + 1:close + 200]) if close is not None else None
            if name:
                types.add(name.group(1).decode())
    if not types:
        return ()
    spelled = b"|".join(re.escape(t.encode()).replace(rb"\ ", rb"\s+") for t in sorted(types, key=len, reverse=True))
    patterns: dict = {}
    for m in re.finditer(rb"\b(?:" + spelled + rb")\b[\s*]*(?:const\b[\s*]*)?([A-Za-z_]\w*)\s*[;,=)\[]", source):
        node = root.descendant_for_byte_range(m.start(1), m.end(1))
        body = _struct_body(node)
        if node is None or node.type in ("comment", "string_content"):
            continue
        name = m.group(1).decode()
        glob = f"*->{name}" if body not in (None, False) else name
        patterns.setdefault(glob, LockPattern(match=glob, recursive=True))
    return tuple(patterns.values())


def _matching(source: bytes, open_index: int, limit: Optional[int] = None) -> Optional[int]:
    """The index of the bracket closing the one at `open_index` (`(` or `{`), or None."""
    opening = source[open_index]
    closing = {0x28: 0x29, 0x7B: 0x7D}[opening]
    depth = 0
    stop = len(source) if limit is None else min(len(source), open_index + limit)
    for i in range(open_index, stop):
        c = source[i]
        if c == opening:
            depth += 1
        elif c == closing:
            depth -= 1
            if depth == 0:
                return i
    return None


# -- where a declaration is ---------------------------------------------------------------

def locate(source: bytes, what: str, name: str, project_macros: Optional[Mapping[str, str]] = None) -> Optional[tuple[int, int]]:
    """(start, end) bytes of the name a guard or an order annotation declares in a
    C file (`balance` in `long balance GUARDED_BY(mu);`), or None."""
    if what == "function":
        return _locate_function(source, name)
    if what == "site":
        function, _, needle = name.partition("\0")
        return _locate_in_definition(source, function, needle)
    spellings = _spellings(source, project_macros)
    wanted = ("guarded-by", "pt-guarded-by") if what == "guarded" else ("acquired-before", "acquired-after")
    names = [n for n, meaning in spellings.items() if meaning in wanted]
    spelled = b"|".join(re.escape(n.encode()) for n in names)
    word = re.escape(name.encode())
    m = re.search(rb"\b(" + word + rb")\s*(?:\[[^\]\n]*\]\s*)*(?:__attribute__\s*\(\(\s*)?(?:" + spelled + rb")\s*\(",
                  source)
    if m:
        return m.start(1), m.end(1)
    if what == "order":  # `b` in `a ACQUIRED_BEFORE(b)` is declared there too
        m = re.search(rb"\b(?:" + spelled + rb")\s*\([^)]*\b(" + word + rb")\b", source)
        return (m.start(1), m.end(1)) if m else None
    return None


def _locate_in_definition(source: bytes, function: str, needle: str) -> Optional[tuple[int, int]]:
    """The first `needle` (a lock as written) in the body of the definition of
    `function`, else the definition's name."""
    name = re.escape(function.encode())
    # the usual shape first (`static int f(struct q *q)` then `{`): one regex search, not a
    # bracket walk from each of the function's many calls
    header = re.search(rb"(?m)^[^\n;{}()=]*?\b(" + name + rb")\s*\([^;{}]*\)\s*\{", source)
    if header is not None:
        return _needle_in_body(source, header.end(), needle) or header.span(1)
    for m in re.finditer(rb"\b" + name + rb"\s*\(", source):
        close = _matching(source, m.end() - 1, limit=2000)
        if close is None:
            return None
        brace = re.match(rb"[^;{]*\{", source[close + 1:close + 400])
        if brace is None:
            continue  # a call or a prototype
        return _needle_in_body(source, close + 1 + brace.end(), needle) or (m.start(), m.start() + len(function.encode()))
    return None


def _needle_in_body(source: bytes, start: int, needle: str) -> Optional[tuple[int, int]]:
    """The first `needle` (spaced as it may be) from `start`, the inside of a body."""
    if not needle.strip():
        return None
    found = re.search(r"\s*".join(re.escape(part) for part in needle.split()).encode(), source[start:start + 200_000])
    return (start + found.start(), start + found.end()) if found else None


def _locate_function(source: bytes, name: str) -> Optional[tuple[int, int]]:
    """The name of the first declaration of `name` that carries something after its
    parameter list (an annotation: `void f(struct q *q) __must_hold(&q->lock);`), else
    of its definition. Comments are not code. `source` may be a file's text or its
    text outside bodies (`syntax.Outside`), where a definition's body is a NUL byte."""
    comments = [m.span() for m in _COMMENTS.finditer(source)] if b"/" in source else []
    starts = [a for a, _ in comments]
    definition = None
    for m in re.finditer(rb"\b" + re.escape(name.encode()) + rb"\s*\(", source):
        i = bisect.bisect_right(starts, m.start()) - 1
        if i >= 0 and comments[i][1] > m.start():
            continue  # in a comment
        close = _matching(source, m.end() - 1, limit=2000)
        if close is None:
            return None
        tail = source[close + 1:close + 300]
        end = min((i for i in (tail.find(b";"), tail.find(b"{"), tail.find(b"\0")) if i >= 0), default=len(tail))
        if re.search(rb"[A-Za-z_]\w*\s*\(", tail[:end]):
            return m.start(), m.start() + len(name.encode())
        if definition is None and end < len(tail) and tail[end:end + 1] in (b"{", b"\0") and not tail[:end].strip():
            definition = m.start(), m.start() + len(name.encode())
    return definition




# -- functions that never return ------------------------------------------------------

# how C code says a function never returns: C11 `_Noreturn` (and <stdnoreturn.h>'s
# `noreturn`), C23 `[[noreturn]]`, GCC's attribute, and the projects' macros for them
# (`G_NORETURN`, `G_GNUC_NORETURN`, `OVS_NO_RETURN`, `NORETURN`, `__noreturn`, BSD `__dead2`);
# also the static analyzers' `analyzer_noreturn` (`G_ANALYZER_NORETURN`): a failed
# precondition's report, after which the code's own paths are not worth following
_NORETURN_MARK = re.compile(
    rb"\b_Noreturn\b|\bnoreturn\b|\[\[\s*(?:gnu::|__gnu__::)?_{0,2}noreturn_{0,2}\s*\]\]"
    rb"|__attribute__\s*\(\(\s*(?:[^()]*(?:\([^()]*\))?[^()]*,\s*)?_{0,2}(?:analyzer_)?noreturn_{0,2}\b"
    rb"|\b[A-Z][A-Z0-9_]*NO_?RETURN[A-Z0-9_]*\b|\b__noreturn\b|\b__dead2\b")
_COMMENTS = re.compile(rb"/\*.*?\*/|//[^\n]*", re.S)
_DIRECTIVE = re.compile(rb"^[ \t]*#.*(?:\\\n.*)*$", re.M)
_DECLARED_CALL = re.compile(rb"\b([A-Za-z_]\w*)\s*\(")
_NOT_NAMES = frozenset({b"__attribute__", b"__declspec", b"_Noreturn", b"noreturn", b"__typeof__", b"typeof",
                        b"_Alignas", b"alignas", b"sizeof"})


def noreturn_functions(outside: bytes) -> tuple:
    """The functions the text outside function bodies (`function.outside_bodies`)
    declares or defines as never returning, sorted: a call of one ends the path."""
    if not _NORETURN_MARK.search(outside):
        return ()
    text = _DIRECTIVE.sub(b"", _COMMENTS.sub(b" ", outside))
    found = set()
    for chunk in re.split(rb"[;{}\0]", text):
        if not _NORETURN_MARK.search(chunk):
            continue
        names = [m.group(1) for m in _DECLARED_CALL.finditer(chunk)
                 if m.group(1) not in _NOT_NAMES and not (m.group(1).startswith(b"__") and m.group(1).endswith(b"__"))]
        # the declared function, not a macro around it (`G_GNUC_PRINTF (1, 2)`)
        name = next((n for n in names if not n.isupper()), None)
        if name is not None:
            found.add(name.decode())
    return tuple(sorted(found))
