"""What data declarations say about locks: guarded data, declared lock order,
recursive lock types, and method tables whose functions are entry points.

Owns: reading, from one file,
- `guarded_by(x)` / `pt_guarded_by(x)` (clang, written as `__attribute__((...))`
  or through a macro `#define`d in the file, e.g. `GUARDED_BY(mu)`), the kernel's
  `__guarded_by(&x)` / `__pt_guarded_by(&x)`, and project macros mapped in
  `[annotations]` (`OVS_GUARDED_BY = "guarded-by"`), on struct fields and on
  globals -> `GuardedData`. A field's guard is a sibling field when the struct
  declares one of that name, else a global lock; a global's guard is a global lock;
- clang's `guarded_var` / `pt_guarded_var` (no argument: guarded by some lock,
  whichever; `__attribute__((guarded_var))`, an object-like macro defined in the
  file such as `GUARDED_VAR`, or a project macro mapped to "guarded-var" /
  "pt-guarded-var") -> `GuardedData` with the guard `ANY_LOCK`;
- `acquired_before(...)` / `acquired_after(...)` (and mapped project macros such
  as `OVS_ACQ_BEFORE`) on lock declarations -> (earlier, later) pairs of lock
  globs: `"big_lock"` for a global, `"*->mu"` for a struct field (a field of the
  struct itself or, from a nested struct, of a struct enclosing it);
- `reentrant_capability` on a struct (directly or through a macro defined in
  the file): every lock declared with that type (or a typedef of it) may be
  re-taken by its holder -> `LockPattern`s ("g_rec" for a global, "*->lock"
  for a field, "m" for a parameter or local);
- initializers of the types listed under `[entry-points] tables` (a driver's
  method table, `struct file_operations`), wherever the parser put them (in
  `#if` branches, inside an error or a conditional after a recovery), and the
  designated initialisers in the arguments of `table-macros` calls
  (`DEFINE_OPS(fops, .open = demo_open)`): the functions stored there;
- the callbacks passed to `[entry-points] registrars` (`pthread_create`'s
  argument 2), in any text (`registered_functions`: the engine reads bodies);
- struct layouts: which structs have a field a `[[guarded]] field` names but not
  its guard (`unguarded_owners`).

Annotations on data misparse in every position tree-sitter-c sees them (an ERROR
around the name, a function declarator named after the macro, a bogus second
statement after a global), so they are read from the text: the word before the
annotation is what it declares, and the syntax tree only tells whether that
position lies inside a struct body.
"""

from __future__ import annotations

from dataclasses import replace

import bisect
import fnmatch
import functools
import re
from typing import Mapping, Optional

from tree_sitter import Node

from lockls.config import GuardedData
from lockls.syntax.nodes import MACRO_DEF, define_directives, macros_expanding_to, text

# spelling -> meaning ("guarded-by", "pt-guarded-by", "acquired-before", "acquired-after")
_SPELLINGS = {
    "guarded_by": "guarded-by",
    "__guarded_by": "guarded-by",
    "pt_guarded_by": "pt-guarded-by",
    "__pt_guarded_by": "pt-guarded-by",
    "acquired_before": "acquired-before",
    "acquired_after": "acquired-after",
    # no argument: guarded by some lock, whichever (clang)
    "guarded_var": "guarded-var",
    "pt_guarded_var": "pt-guarded-var",
}
MEANINGS = frozenset(_SPELLINGS.values())
_ARGLESS = frozenset({"guarded-var", "pt-guarded-var"})
_GUARDS = frozenset({"guarded-by", "pt-guarded-by"}) | _ARGLESS
# the guard of `guarded_var` data: any lock held will do (see `lowering.lower`)
ANY_LOCK = "=*"
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
    __attribute__((guarded_by(x)))` -> {"GUARDED_BY": "guarded-by"}; the argument-less
    ones as object-like macros: `#define GUARDED_VAR __attribute__((guarded_var))`)."""
    out = macros_expanding_to(source, _SPELLINGS)
    if b"guarded_var" in source:
        for name, params, body in define_directives(source):
            if params is None:
                meaning = next((_SPELLINGS[w] for w in _WORD.findall(body) if w in ("guarded_var", "pt_guarded_var")), None)
                if meaning is not None:
                    out[name] = meaning
    return out


# what may stand between a declared name and its annotation: blanks and comments
# (`int total /* stats */ GUARDED_BY(big);`)
_GAP = rb"(?:\s|/\*(?:[^*]|\*(?!/))*\*/|//[^\n]*)*"


def data_annotations(root: Node, source: bytes, project_macros: Optional[Mapping[str, str]] = None) -> tuple[tuple, tuple]:
    """(GuardedData entries, (earlier, later, None) lock-glob pairs) declared in the file
    (None: the origin, filled in when the file's contracts are shared with others)."""
    if not any(s.encode() in source for s in ("guarded_by", "acquired_", "GUARDED_BY", "ACQUIRED_", "ACQ",
                                              "guarded_var", "GUARDED_VAR")) \
            and not project_macros:
        return (), ()
    spellings = _spellings(source, project_macros)
    names = sorted(spellings, key=len, reverse=True)
    pattern = re.compile(
        rb"\b([A-Za-z_]\w*)" + _GAP + rb"(?:\[[^\]\n]*\]\s*)*(__attribute__\s*\(\(\s*)?("
        + b"|".join(re.escape(n.encode()) for n in names) + rb")\b\s*(\()?")
    field_name = _field_name_pattern(names)
    siblings_of: dict = {}  # struct body start -> the field names it declares
    guarded: list = []
    order: list = []
    for m in pattern.finditer(source):
        declared = m.group(1).decode()
        if declared in spellings or declared in ("__attribute__", "define"):
            continue
        spelling = m.group(3).decode()
        meaning = spellings[spelling]
        if meaning in _ARGLESS:
            # `int n __attribute__((guarded_var));`, `int n GUARDED_VAR;`: the built-in
            # spelling only inside an attribute (`int guarded_var;` declares a variable)
            if spelling in _SPELLINGS and not m.group(2):
                continue
        elif not m.group(4):
            continue  # the others take arguments
        node = root.descendant_for_byte_range(m.start(1), m.end(1))
        struct_body = _struct_body(node)
        if node is None or struct_body is False:
            continue  # a macro definition, a comment or a string
        args = _arguments(source, m.start(4)) if m.group(4) else []
        siblings = _fields_of(struct_body, source, field_name, siblings_of) if struct_body is not None else set()
        if meaning in _ARGLESS:
            field = struct_body is not None
            guarded.append(GuardedData(field=declared if field else None, variable=None if field else declared,
                                       by=ANY_LOCK, pointee=meaning == "pt-guarded-var",
                                       owner=_struct_name(struct_body, source) if field else None))
            continue
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
        # in a nested struct, a field of an enclosing struct too (`o.mu` for `mu`)
        enclosing = _enclosing_fields(struct_body, source, field_name, siblings_of) if struct_body is not None else set()
        for arg in args:
            other = _lock_name(arg)
            if other is None:
                continue
            other = f"*->{other}" if struct_body is not None and other.split("->")[0] in enclosing else other
            order.append((this, other, None) if meaning == "acquired-before" else (other, this, None))
    # the source says what guards them: checked in every function, which starts holding
    # exactly what its own annotations require (as clang does); configured guards are not
    guarded = [replace(g, everywhere=True) for g in guarded]
    return tuple(guarded), tuple(dict.fromkeys(order))


def _fields_of(body: Node, source: bytes, field_name: re.Pattern, cache: dict) -> set:
    """The field names a struct body declares (those of structs nested in it too)."""
    if body.start_byte not in cache:
        cache[body.start_byte] = set(field_name.findall(text(body, source)))
    return cache[body.start_byte]


def _enclosing_fields(body: Node, source: bytes, field_name: re.Pattern, cache: dict) -> set:
    """The field names a struct body and the struct bodies around it declare."""
    names: set = set()
    while body is not None and body is not False:
        names |= _fields_of(body, source, field_name, cache)
        body = _struct_body(body.parent)
    return names


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


# -- method tables and registered callbacks ----------------------------------------------

def table_entry_points(text: bytes, table_types: tuple, table_macros: tuple = (),
                       registrars: tuple = ()) -> tuple[str, ...]:
    """The functions `text` (the text outside function bodies, or a body) names as
    entry points: those stored in initializers of the `[entry-points] tables` types
    (`static const struct file_operations fops = { .open = demo_open, ... }`, arrays
    of them), the designated initialisers in the arguments of a table macro
    (`DEFINE_OPS(fops, .open = demo_open)`), and callbacks passed to a registrar
    (`pthread_create(&t, NULL, worker, arg)`, `module_init(demo_init)`). Read from the
    text, with comments, strings and preprocessor lines left out: every branch of a
    conditional counts, and a table is found whatever tree the parser made of the
    code around it (a conditional around a struct head can nest the rest of the file
    in an error, splitting a declaration in two)."""
    # (each kind only when the text names one: most texts name none)
    table_types = tuple(table_types) if any(t.split()[-1].encode() in text for t in table_types) else ()
    table_macros = tuple(table_macros) if table_macros and _calls_of(tuple(table_macros)).search(text) else ()
    registrars = tuple(registrars) if registrars and registrar_search(tuple(registrars)).search(text) else ()
    if not (table_types or table_macros or registrars):
        return ()
    text = _code_only(text)
    pairs = _BracketPairs(text)
    found: set = set()
    if table_types:
        for m in _tables_of(table_types).finditer(text):
            _initializer_names(pairs.inside(m.end() - 1), found, designated_only=False)
    if table_macros:
        for m in _calls_of(table_macros).finditer(text):
            _initializer_names(pairs.inside(m.end() - 1), found, designated_only=True)
    if registrars:
        found.update(registered_functions(text, registrars, pairs))
    return tuple(sorted(found))


def may_name_entry_points(text: bytes, table_types: tuple, table_macros: tuple, registrars: tuple,
                          start: int = 0, end: Optional[int] = None) -> bool:
    """Whether text[start:end] may name entry points (see `table_entry_points`): a quick
    look for a table type's name, a table macro's or a registrar's call."""
    end = len(text) if end is None else end
    return bool((table_types and _type_names(tuple(table_types)).search(text, start, end))
                or (table_macros and _calls_of(tuple(table_macros)).search(text, start, end))
                or (registrars and registrar_search(tuple(registrars)).search(text, start, end)))


@functools.lru_cache(maxsize=64)
def _type_names(types: tuple) -> re.Pattern:
    """A search for the last word of any of `types` (`file_operations`)."""
    return re.compile(rb"\b(?:" + b"|".join(re.escape(t.split()[-1].encode()) for t in types) + rb")\b")


@functools.lru_cache(maxsize=64)
def _tables_of(types: tuple) -> re.Pattern:
    """A search for the initializer of a variable of one of `types`, up to its `{`:
    the type, the declarator (a name, `[]`, attributes, macros) and `=`."""
    spelled = b"|".join(re.escape(" ".join(t.split()).encode()).replace(rb"\ ", rb"\s+")
                        for t in sorted(set(types), key=len, reverse=True))
    return re.compile(rb"(?<![\w.>])(?:" + spelled + rb")(?!\w)(?=[\s*]*[A-Za-z_])"
                      rb"(?:[^;{}()=\0]|\((?:[^()\0]|\([^()\0]*\))*\))*=\s*\{")


_DESIGNATOR = re.compile(rb"\s*(?:\.\s*[A-Za-z_]\w*|\[[^\]]*\])(?:\s*(?:\.\s*[A-Za-z_]\w*|\[[^\]]*\]))*\s*=")
_MAX_TABLE_DEPTH = 16


def _initializer_names(inside: bytes, found: set, designated_only: bool, depth: int = 0) -> None:
    """The functions an initializer list's text (inside its braces) stores: the values
    of its elements, `.field = f`, `[i] = &f`, `(cast) f` or a bare `f` (not with
    `designated_only`: a macro's other arguments name the table, not a function),
    and those of the lists nested in it (arrays of tables, struct members)."""
    if depth > _MAX_TABLE_DEPTH:
        return
    for element in _split_arguments(inside):
        designator = _DESIGNATOR.match(element)
        if designator is not None:
            element = element[designator.end():]
        elif designated_only:
            continue
        value = element.strip()
        if value.startswith(b"{"):
            close = _matching(value, 0)
            _initializer_names(value[1:close if close is not None else len(value)], found, designated_only and
                               designator is None, depth + 1)
            continue
        callback = _CALLBACK.match(value)
        if callback is not None and callback.group(1) not in (b"NULL", b"void"):
            found.add(callback.group(1).decode())


_COMMENT_OR_DIRECTIVE = re.compile(rb"/\*.*?\*/|//[^\n]*|^[ \t]*#(?:[^\n]*\\\n)*[^\n]*"
                                   rb"|\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'", re.S | re.M)


def _code_only(source: bytes) -> bytes:
    """`source` with each comment, preprocessor directive (a `#define` of a table macro
    is not a call of it), string and character literal a space."""
    if b"/" not in source and b"#" not in source and b'"' not in source and b"'" not in source:
        return source
    return _COMMENT_OR_DIRECTIVE.sub(b" ", source)


def _glob_regex(glob: str) -> str:
    """A glob over C names as a regex over text: `*` any run of name characters."""
    out, i = [], 0
    while i < len(glob):
        ch = glob[i]
        if ch == "*":
            out.append(r"\w*")
        elif ch == "?":
            out.append(r"\w")
        elif ch == "[":
            close = glob.find("]", i + 2)
            if close < 0:
                out.append(re.escape(ch))
            else:
                body = glob[i + 1:close]
                out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
                i = close
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)


@functools.lru_cache(maxsize=64)
def _calls_of(globs: tuple) -> re.Pattern:
    """A search for a call of any name matching one of `globs` (up to its `(`)."""
    names = "|".join(_glob_regex(g) for g in sorted(set(globs), key=len, reverse=True))
    return re.compile(rb"(?<![\w.>])(" + names.encode() + rb")\s*\(")


_BRACKET = re.compile(rb"[(){}]")


class _BracketPairs:
    """Where each `(` and `{` of a text closes, found in one pass when first asked (a
    search per bracket from each of thousands of unclosed ones was quadratic)."""

    def __init__(self, text: bytes):
        self.text = text
        self._close: Optional[dict] = None

    def close(self, open_index: int) -> Optional[int]:
        if self._close is None:
            self._close = {}
            stacks: dict = {0x28: [], 0x7B: []}  # ( {
            for m in _BRACKET.finditer(self.text):
                c = self.text[m.start()]
                if c in stacks:
                    stacks[c].append(m.start())
                else:
                    stack = stacks[0x28 if c == 0x29 else 0x7B]
                    if stack:
                        self._close[stack.pop()] = m.start()
        return self._close.get(open_index)

    def inside(self, open_index: int) -> bytes:
        """The text inside the bracket opening at `open_index` (nothing when it does not
        close: broken code, or code being typed)."""
        close = self.close(open_index)
        return self.text[open_index + 1:close] if close is not None else b""


_SEPARATOR_OR_NESTING = re.compile(rb"[()\[\]{},\"']")


def _split_arguments(arguments: bytes) -> list[bytes]:
    """Top-level comma-separated arguments (brackets and string literals kept whole)."""
    out, depth, start, skip_to = [], 0, 0, 0
    for m in _SEPARATOR_OR_NESTING.finditer(arguments):
        i = m.start()
        if i < skip_to:
            continue  # inside a string or character literal
        c = arguments[i]
        if c in b"([{":
            depth += 1
        elif c in b")]}":
            depth -= 1
            if depth < 0:
                return out + [arguments[start:i]]
        elif c in b"\"'":
            end = i + 1
            while end < len(arguments) and arguments[end] != c:
                end += 2 if arguments[end] == 0x5C else 1
            skip_to = end + 1
        elif depth == 0:  # ,
            out.append(arguments[start:i])
            start = i + 1
    out.append(arguments[start:])
    return out


def registrar_search(registrars: tuple) -> re.Pattern:
    """A search for a call of one of `registrars` (`(name glob, argument index)` pairs)."""
    return _calls_of(tuple(name for name, _ in registrars))


_CAST = rb"(?:\(\s*(?:[^()]|\([^()]*\))*\)\s*)*"  # `(handler_fn)`, `(void *(*)(void *))`
# a callback as an argument or a table's element: `worker`, `&worker`, `(void *(*)(void *)) worker`,
# `G_CALLBACK (worker)`
_CALLBACK = re.compile(rb"\s*" + _CAST + rb"&?\s*(?:[A-Z][A-Z0-9_]*\s*\(\s*)?\(?\s*([A-Za-z_]\w*)\s*\)?\s*\)?\s*\Z")


def registered_functions(text: bytes, registrars: tuple, pairs: Optional[_BracketPairs] = None) -> frozenset:
    """The functions `text` passes to a registrar: `(name glob, argument index)` pairs of
    `[entry-points] registrars` (`("pthread_create", 2)`: the start routine of
    `pthread_create(&t, NULL, worker, arg)` is `worker`). `pairs`: of `text` without
    comments, when the caller has them."""
    if not registrars:
        return frozenset()
    search = registrar_search(registrars)
    if not search.search(text):
        return frozenset()
    indices_of: dict = {}  # name or glob -> the indices of its callback arguments
    for name, index in registrars:
        indices_of.setdefault(name, set()).add(index)
    found = set()
    if pairs is None:
        pairs = _BracketPairs(_code_only(text))
    for m in search.finditer(pairs.text):
        called = m.group(1).decode()
        indices = set().union(*(i for g, i in indices_of.items() if g == called or fnmatch.fnmatchcase(called, g)))
        if not indices:
            continue
        arguments = _split_arguments(pairs.inside(m.end() - 1))
        for index in indices:
            if index < len(arguments):
                callback = _CALLBACK.match(arguments[index])
                if callback is not None and callback.group(1) not in (b"NULL", b"void"):
                    found.add(callback.group(1).decode())
    return frozenset(found)


# -- structs without the lock of a guarded field ---------------------------------------------

_STRUCT_DEFINITION = re.compile(rb"(?<![\w.>])(typedef\s+)?(struct|union)\b((?:\s*__attribute__\s*\(\((?:[^()]|\([^()]*\))*\)\))*)"
                                rb"\s*([A-Za-z_]\w*)?\s*\{")
_TYPEDEF_OF = re.compile(rb"\btypedef\s+(struct|union)\s+([A-Za-z_]\w*)\s+([A-Za-z_]\w*)\s*;")
_C_WORD = re.compile(rb"[A-Za-z_]\w*")


def unguarded_owners(outside: bytes, guarded: tuple) -> tuple:
    """For the guards on a field name by a sibling lock (`[[guarded]] field = "count"`,
    `by = "lock"`, in any struct), the structs the text (outside function bodies)
    defines with that field but without that lock, and their typedefs: there the
    field is nobody's guarded data. As `GuardedData(field, owner=the struct or
    typedef, by="")`."""
    wanted = {(g.field, g.by.split("->")[0]) for g in guarded
              if g.field and g.owner is None and g.by and g.by != "self" and not g.by.startswith("=")}
    if not wanted or (b"struct" not in outside and b"union" not in outside):
        return ()
    fields = {f for f, _ in wanted}
    if not any(f.encode() in outside for f in fields):
        return ()
    text = _code_only(outside)
    pairs = _BracketPairs(text)
    words_of: dict = {}  # "struct stats" -> the words its definitions use (every branch of an #if)
    for m in _STRUCT_DEFINITION.finditer(text):
        close = pairs.close(m.end() - 1)
        if close is None:
            continue
        words = {w.decode() for w in _C_WORD.findall(text, m.end(), close)}
        names = []
        if m.group(4):
            names.append(f"{m.group(2).decode()} {m.group(4).decode()}")
        if m.group(1):  # typedef struct [tag] { ... } name, *pointer_name;
            names += [n.decode() for n in re.findall(rb"\s*\**\s*([A-Za-z_]\w*)\s*[,;]",
                                                      re.split(rb"[;]", text[close + 1:close + 400])[0] + b";")]
        for name in names:
            words_of.setdefault(name, set()).update(words)
    for m in _TYPEDEF_OF.finditer(text):  # typedef struct stats stats_t;
        tag = f"{m.group(1).decode()} {m.group(2).decode()}"
        if tag in words_of:
            words_of.setdefault(m.group(3).decode(), set()).update(words_of[tag])
    out = []
    for owner in sorted(words_of):
        words = words_of[owner]
        for field in sorted(fields):
            if field in words and not any(lock in words for f, lock in wanted if f == field):
                out.append(GuardedData(field=field, by="", owner=owner))
    return tuple(out)


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
    wanted = _GUARDS if what == "guarded" else ("acquired-before", "acquired-after")
    names = [n for n, meaning in spellings.items() if meaning in wanted]
    spelled = b"|".join(re.escape(n.encode()) for n in names)
    word = re.escape(name.encode())
    m = re.search(rb"\b(" + word + rb")\s*(?:\[[^\]\n]*\]\s*)*(?:__attribute__\s*\(\(\s*)?(?:" + spelled
                  + rb")(?:\s*\(|\b)", source)
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
    # (the attributes before it: each a run of plain characters or one parenthesised
    # group, never `;` or a brace: no two ways to read a run, and no scan past a declaration)
    rb"|__attribute__\s*\(\(\s*(?:(?:[^(),;{}]|\([^();{}]*\))*,\s*)*_{0,2}(?:analyzer_)?noreturn_{0,2}\b"
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
