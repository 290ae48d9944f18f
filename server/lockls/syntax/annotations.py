"""Lock annotations already in the source: what a declared function does to locks.

Owns: reading the Linux kernel's Context Analysis / sparse spellings
(`__acquires(x)`, `__releases(x)`, `__acquires_shared(x)`, `__releases_shared(x)`,
`__cond_acquires(ret, x)`) and clang's thread-safety attributes
(`__attribute__((acquire_capability(x)))`, `release_capability`, the shared
variants, `try_acquire_capability(ret, x)`, and the older `exclusive_lock_function`
/ `unlock_function` names), written directly or through a macro `#define`d in the
same file, after a function's parameters: on definitions and on prototypes
(a prototype followed by an annotation macro is a top-level ERROR in
tree-sitter-c: it is read there too). The result is `LockFunction`s, so calls
to an annotated function act as the lock operation it declares. sparse's raw
`__attribute__((context(lock, in, out)))` (what `__acquires(x)` expanded to before
Context Analysis) reads as the acquire, release or requirement it amounts to;
`context(in, out)`, without a lock, is sparse's anonymous context
(`SPARSE_CONTEXT`, the lock `__context__(delta)` statements take and drop too).
A release says its mode: `release_capability` only of a lock held exclusively,
`release_shared_capability` only of one held shared, the others either way.

The annotation's lock is read from its text (tree-sitter mangles `&q->lock`
inside these pseudo-calls): when it is reached through a parameter the call's
argument is substituted; a lock named without any parameter is a global lock.
Contracts on callers (`__must_hold(x)`, `requires_capability(x)`,
`__must_not_hold(x)`, `locks_excluded(x)`, ...) become the function's
`requires` / `excludes`: the lock is held at the function's own entry, and
callers are checked by `missing-required-lock` / `excluded-lock-held`.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Optional

from tree_sitter import Node

from lockls.config import LockFunction
from lockls.syntax.nodes import define_directives, macros_expanding_to, parameter_names, text

# annotation name -> (action, shared, is_try)
_SPELLINGS = {
    "__acquires": ("acquire", False, False),
    "__acquires_shared": ("acquire", True, False),
    "__releases": ("release", False, False),
    "__releases_shared": ("release", True, False),
    "__cond_acquires": ("try-acquire", False, True),
    "__cond_acquires_shared": ("try-acquire", True, True),
    "acquire_capability": ("acquire", False, False),
    "acquire_shared_capability": ("acquire", True, False),
    "exclusive_lock_function": ("acquire", False, False),
    "shared_lock_function": ("acquire", True, False),
    "release_capability": ("release", False, False),
    "release_shared_capability": ("release", True, False),
    "release_generic_capability": ("release", False, False),
    "unlock_function": ("release", False, False),
    "try_acquire_capability": ("try-acquire", False, True),
    "try_acquire_shared_capability": ("try-acquire", True, True),
    "exclusive_trylock_function": ("try-acquire", False, True),
    "shared_trylock_function": ("try-acquire", True, True),
    # contracts on the caller
    "__must_hold": ("requires", False, False),
    "__must_hold_shared": ("requires", True, False),
    "requires_capability": ("requires", False, False),
    "requires_shared_capability": ("requires", True, False),
    "exclusive_locks_required": ("requires", False, False),
    "shared_locks_required": ("requires", True, False),
    "__must_not_hold": ("excludes", False, False),
    "locks_excluded": ("excludes", False, False),
}
# releases only of a lock held exclusively (clang: "releasing mutex using exclusive access,
# expected shared access"); the kernel's `__releases` is not one of them: before Context
# Analysis it was sparse's, which has no modes, on the read side's wrappers too
_EXCLUSIVE_RELEASES = frozenset({"release_capability"})
_WORD = re.compile(r"[A-Za-z_]\w*")
# requirements the compiler checks at every call (clang, and project macros standing for
# it): a caller holds what its own annotations say, nothing more. Sparse's `__must_hold`
# only said the context is unchanged: kernel callers do not repeat it
_CHECKED_REQUIRES = frozenset({"requires_capability", "requires_shared_capability", "exclusive_locks_required",
                               "shared_locks_required"})
# what a clang try_acquire's first argument or a __cond_acquires' `ret` means
_TRY_SUCCESS = {"true": "nonzero", "1": "nonzero", "nonzero": "nonzero", "false": "zero", "0": "zero",
                "nonnull": "nonnull", "NULL": "null"}


# a project macro's configured meaning -> the spelling that means it here
_MEANINGS = {
    "acquire": "acquire_capability", "acquire-shared": "acquire_shared_capability",
    # a project's release macro releases either mode (`OVS_RELEASES` is `unlock_function`)
    "release": "release_generic_capability", "release-shared": "release_shared_capability",
    "try-acquire": "try_acquire_capability", "try-acquire-shared": "try_acquire_shared_capability",
    "requires": "requires_capability", "requires-shared": "requires_shared_capability",
    "excludes": "locks_excluded",
}


# The macro names clang's documentation (mutex.h), Abseil and Chromium use for the
# thread-safety attributes, usually defined in a header of their own that the
# analysed file only includes: known without configuration. A macro the file
# defines itself, or one mapped in `[annotations]`, takes precedence.
WELL_KNOWN_MACROS = {
    **{prefix + name: meaning for prefix in ("", "ABSL_") for name, meaning in {
        "GUARDED_BY": "guarded-by", "PT_GUARDED_BY": "pt-guarded-by",
        "ACQUIRED_BEFORE": "acquired-before", "ACQUIRED_AFTER": "acquired-after",
        "EXCLUSIVE_LOCKS_REQUIRED": "requires", "SHARED_LOCKS_REQUIRED": "requires-shared",
        "LOCKS_EXCLUDED": "excludes", "EXCLUSIVE_LOCK_FUNCTION": "acquire", "SHARED_LOCK_FUNCTION": "acquire-shared",
        "UNLOCK_FUNCTION": "release", "EXCLUSIVE_TRYLOCK_FUNCTION": "try-acquire",
        "SHARED_TRYLOCK_FUNCTION": "try-acquire-shared",
    }.items()},
    "REQUIRES": "requires", "REQUIRES_SHARED": "requires-shared", "EXCLUDES": "excludes",
    "ACQUIRE": "acquire", "ACQUIRE_SHARED": "acquire-shared", "RELEASE": "release", "RELEASE_SHARED": "release-shared",
    "RELEASE_GENERIC": "release", "TRY_ACQUIRE": "try-acquire", "TRY_ACQUIRE_SHARED": "try-acquire-shared",
    "GUARDED_VAR": "guarded-var", "PT_GUARDED_VAR": "pt-guarded-var",
}
# a cheap test (bytes `in` is a memchr scan) for whether any of them may be used
_WELL_KNOWN_TOKENS = (b"REQUIRE", b"ACQUIRE", b"RELEASE", b"EXCLUDE", b"LOCK_FUNCTION")


def annotated_functions(root: Node, source: bytes, project_macros: Optional[dict] = None) -> dict[str, LockFunction]:
    """Every function of the file whose declaration carries a lock annotation.
    `project_macros` maps macros defined in headers lockls does not see
    (`OVS_REQUIRES`) to their meaning ("requires"), from `[annotations]`;
    `WELL_KNOWN_MACROS` are known too."""
    project = {m: _MEANINGS[v] for m, v in (project_macros or {}).items() if v in _MEANINGS}
    well_known = any(token in source for token in _WELL_KNOWN_TOKENS)
    if not project and not well_known and not any(
            s.encode() in source for s in ("__acquires", "__releases", "__cond_acquires", "capability", "lock_function",
                                           "trylock_function", "__must_", "_required", "locks_excluded", "context")):
        return {}
    known = {m: _MEANINGS[v] for m, v in WELL_KNOWN_MACROS.items() if v in _MEANINGS} if well_known else {}
    macros = {**known, **project, **_annotation_macros(source)}
    found: dict[str, LockFunction] = {}
    declared: set[str] = set()  # functions declared earlier in the file
    for declarator in sorted(_function_declarators(root), key=lambda d: d.start_byte):
        name_node = declarator.child_by_field_name("declarator")
        if name_node is None or name_node.type != "identifier" or declarator.child_by_field_name("parameters") is None:
            continue
        names = parameter_names(declarator, source)
        name = text(name_node, source)
        # clang checks a call against the declarations before it: a requirement added
        # by a later declaration (`static void f(struct x *);` ... the annotated
        # definition) is not checked at the calls in between
        first = name not in declared
        declared.add(name)
        for spelling, args in _annotations(declarator, source, macros):
            action = _SPELLINGS[spelling][0]
            if action in ("requires", "excludes"):
                refs = tuple(r for r in (_lock_ref(lock_text_key(a), names) for a in args) if r)
                base = found.get(name) or LockFunction(name, "call", "")
                found[name] = replace(base, **{action: getattr(base, action) + refs})
                if action == "requires" and spelling in _CHECKED_REQUIRES and first:
                    found[name] = replace(found[name], checked=True)
                continue
            fn = _lock_function(name, spelling, args, names)
            if fn is not None:
                old = found.get(name)
                found[name] = replace(fn, requires=old.requires, excludes=old.excludes,
                                      checked=old.checked or fn.checked) if old else fn
    if b"__context__" in source and _CONTEXT_STATEMENT.search(source):
        # sparse's `__context__(lock, delta)` statements (see `lowering.lower`): listed so
        # that a function making one is analysed; a call of its own does nothing
        found.setdefault(SPARSE_CONTEXT, LockFunction(SPARSE_CONTEXT, "call", ""))
    return found


_CONTEXT_STATEMENT = re.compile(rb"\b__context__\s*\(")


def _lock_ref(key: str, params: list[str]) -> Optional[str]:
    """"arg0->lock" for a lock reached through parameter 0, "=g" for a global `g`."""
    root = _WORD.match(key)
    if root is None:
        return None
    if root.group(0) in params:
        return f"arg{params.index(root.group(0))}{key[root.end():]}"
    return "=" + key




_NO_ANALYSIS_MACROS = ("NO_THREAD_SAFETY_ANALYSIS", "ABSL_NO_THREAD_SAFETY_ANALYSIS")


def unchecked_functions(root: Node, source: bytes, project_macros: Optional[dict] = None) -> frozenset:
    """Functions marked `no_thread_safety_analysis` (directly, through a macro defined
    in the file, a well-known macro, or a project macro meaning "no-analysis"): their
    own findings are not reported."""
    macros = {m for m, meaning in (project_macros or {}).items() if meaning == "no-analysis"}
    macros.update(_NO_ANALYSIS_MACROS)
    if b"no_thread_safety_analysis" in source:
        macros.update(_no_analysis_macros(source))
    elif not any(m.encode() in source for m in macros):
        return frozenset()
    names = set()
    for declarator in _function_declarators(root):
        name_node = declarator.child_by_field_name("declarator")
        if name_node is None or name_node.type != "identifier":
            continue
        # the attribute may sit before the declaration (`__attribute__((...)) void f()`) or after it
        owner = declarator
        while owner.parent is not None and owner.parent.type == "pointer_declarator":  # `struct x *f(...)`
            owner = owner.parent
        owner = owner.parent if owner.parent is not None else owner
        body = owner.child_by_field_name("body")
        head = source[owner.start_byte:body.start_byte if body is not None else owner.end_byte]
        words = set(_WORD.findall(head.decode("utf-8", "replace")))
        if "no_thread_safety_analysis" in words or words & macros:
            names.add(text(name_node, source))
    return frozenset(names)


def _function_declarators(root: Node):
    """Function declarators of definitions, prototypes and ERROR-wrapped prototypes."""
    stack = [root]
    while stack:
        node = stack.pop()
        for child in node.children:
            if child.type == "function_declarator":
                yield child
            elif child.type in ("function_definition", "declaration", "ERROR", "preproc_ifdef", "preproc_if",
                                "preproc_else", "preproc_elif", "linkage_specification", "declaration_list",
                                "pointer_declarator"):  # `struct x *find(...) REQUIRES(mu)`
                stack.append(child)


def _annotations(declarator: Node, source: bytes, macros: dict[str, str]):
    """(annotation name, argument texts) after the parameter list."""
    for child in declarator.children:
        if child.type == "call_expression":
            callee = child.child_by_field_name("function")
            args = child.child_by_field_name("arguments")
            if callee is None or args is None:
                continue
            name = text(callee, source)
            name = macros.get(name, name)
            if name in _SPELLINGS:
                yield name, _split_args(text(args, source))
        elif child.type == "attribute_specifier":
            inner = text(child, source)
            for m in re.finditer(r"(\w+)\s*\(", inner):
                if m.group(1) in _SPELLINGS:
                    yield m.group(1), _split_args(_balanced(inner, m.end() - 1))
                elif m.group(1) == "context":
                    found = _sparse_context(_split_args(_balanced(inner, m.end() - 1)))
                    if found is not None:
                        yield found


# sparse's anonymous context: `context(in, out)` and `__context__(delta)` name no lock
SPARSE_CONTEXT = "__context__"


def _sparse_context(args: list[str]):
    """sparse's `context(lock, in, out)` (or `context(in, out)`: its anonymous
    context) as the annotation it amounts to: (spelling, [lock]) or None."""
    if len(args) not in (2, 3):
        return None
    try:
        entry, exit_ = (int(a, 0) for a in args[-2:])
    except ValueError:
        return None
    lock = args[0] if len(args) == 3 else SPARSE_CONTEXT
    if exit_ > entry:
        return "__acquires", [lock]
    if exit_ < entry:
        return "__releases", [lock]
    return ("__must_hold", [lock]) if entry > 0 else None


def _no_analysis_macros(source: bytes) -> set:
    return {name for name, _, body in define_directives(source) if "no_thread_safety_analysis" in body}


def macro_meanings(source: bytes) -> dict[str, str]:
    """Function annotation macros the file defines, by their meaning in
    `[annotations]` terms (`#define REQUIRES(...) __attribute__((requires_capability(...)))`
    -> {"REQUIRES": "requires"}): what a header tells the files that use them."""
    out = dict.fromkeys(_no_analysis_macros(source), "no-analysis") if b"no_thread_safety_analysis" in source else {}
    for macro, spelling in _annotation_macros(source).items():
        action, shared, _ = _SPELLINGS[spelling]
        out[macro] = action + "-shared" if shared and action != "excludes" else action
    return out


def _annotation_macros(source: bytes) -> dict[str, str]:
    """`#define REQUIRES(...) __attribute__((requires_capability(__VA_ARGS__)))`:
    macro name -> the annotation it expands to."""
    return macros_expanding_to(source, {spelling: spelling for spelling in _SPELLINGS})


def _balanced(s: str, open_index: int) -> str:
    depth = 0
    for i in range(open_index, len(s)):
        depth += {"(": 1, ")": -1}.get(s[i], 0)
        if depth == 0:
            return s[open_index:i + 1]
    return s[open_index:]


def _split_args(parenthesized: str) -> list[str]:
    inner = parenthesized.strip()[1:-1] if parenthesized.strip().startswith("(") else parenthesized
    args, depth, current = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            args.append(current.strip())
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(ch, 0)
        current += ch
    if current.strip():
        args.append(current.strip())
    return args


def lock_text_key(expression: str) -> str:
    """The lock identity of an annotation's lock expression (see `lockexpr`)."""
    key = re.sub(r"\s+", "", expression)
    while key.startswith("(") and key.endswith(")"):
        key = key[1:-1]
    key = re.sub(r"\(\*(\w+)\)\.", r"\1->", key)
    key = key.replace("(", "").replace(")", "")
    # a pointer to a lock is the lock, at any depth: a cleanup function's
    # `release_capability(**p)` is given `&var`, and `var` points at the lock
    key = key.lstrip("&*")
    return key.replace(".", "->")


def _lock_function(name: str, spelling: str, args: list[str], params: list[str]) -> Optional[LockFunction]:
    action, shared, is_try = _SPELLINGS[spelling]
    success = None
    if is_try:
        if len(args) < 2:
            return None
        success, args = _TRY_SUCCESS.get(args[0], "nonzero"), args[1:]
    if not args:
        return None
    key = lock_text_key(args[0])
    root = _WORD.match(key)
    if root is None:
        return None
    if root.group(0) in params:
        lock, path = f"arg{params.index(root.group(0))}", key[root.end():]
    else:
        lock, path = "global", key
    return LockFunction(name, action, lock, shared=shared, success=success, path=path,
                        exclusive=spelling in _EXCLUSIVE_RELEASES)
