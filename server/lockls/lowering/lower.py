"""Lowering C expressions to lock events and branch conditions.

Owns: reading calls, assignments and conditions out of tree-sitter expression
nodes, in evaluation order, and turning them into `events` (acquire, release,
try-acquire, kill) and `Cond`s. Knows which functions lock through the `Config`.
Statement structure (blocks, branches, jumps) is `cfg`'s business.
"""

from __future__ import annotations

import re
from dataclasses import replace
from fnmatch import fnmatchcase
from typing import Optional

from tree_sitter import Node

from lockls.lowering import guards
from lockls.config import HELD_TESTS, Config, LockFunction
from lockls.config.model import case_constant
from lockls.ir.events import (Access, Acquire, Call, Cond, Declared, Derive, Kill, Rebind, Release, Site, TryAcquire,
                              held_test_key, result_of)
from lockls.lowering.lockexpr import canonical, key_of, resolve_lock_ref
from lockls.syntax.annotations import SPARSE_CONTEXT
from lockls.syntax.nodes import function_name
from lockls.syntax.declarations import ANY_LOCK

_SPACE = re.compile(r"\s+")
_MAYBE_EVENTS = re.compile(rb"[=(]|\+\+|--")
COMPARISONS = {"==", "!=", "<", "<=", ">", ">="}
_FLIP = {"==": "==", "!=": "!=", "<": ">", ">": "<", "<=": ">=", ">=": "<="}
_CONSTANT_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_LITERALS = {"number_literal", "char_literal", "null", "true", "false"}


def flat(node: Node, source: bytes) -> str:
    """The node's text with runs of whitespace collapsed (for messages and fact keys)."""
    return _SPACE.sub(" ", source[node.start_byte:node.end_byte].decode("utf-8", "replace")).strip()


_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
SHOWN_MAX = 60


def shown(node: Node, source: bytes) -> str:
    """An expression as messages show it: as written, without comments or
    backquotes, and cut short (broken code can make an "argument" a whole block)."""
    raw = source[node.start_byte:node.end_byte].decode("utf-8", "replace")
    if "/" in raw:
        raw = _COMMENT.sub(" ", raw)
    text = _SPACE.sub(" ", raw).strip().replace("`", "'")
    return text if len(text) <= SHOWN_MAX else text[:SHOWN_MAX - 1].rstrip() + "…"


def strip_parens(node: Node) -> Node:
    while node.type == "parenthesized_expression" and node.named_child_count:
        node = node.named_children[-1]
    return node


def statement_value(node: Node) -> Optional[tuple[list[Node], Node]]:
    """(the statements before it, the expression) that a GNU statement expression
    `({ a(); b; })` (a `compound_statement` in parentheses) gives its value by, or None."""
    statements = [c for c in node.named_children if c.type != "comment"]
    if not statements or statements[-1].type != "expression_statement" or not statements[-1].named_child_count:
        return None
    return statements[:-1], statements[-1].named_children[0]


def _default_success(name: str) -> str:
    """What a plain lock call returns on success, when its status is checked."""
    return "thrd_success" if name.startswith("mtx_") else "zero"


def _guard_key(guard, obj: str) -> str:
    """The lock guarding data reached through `obj`: the object itself, a sibling field, or a global."""
    if guard.by == "self":
        return obj
    return guard.by[1:] if guard.by.startswith("=") else f"{obj}->{guard.by}"


# the kernel's markers for an intended race: what they wrap is not checked
_EXEMPT_WRAPPERS = frozenset({"context_unsafe", "context_unsafe_alias", "data_race"})


_PLACEHOLDER = re.compile(r"(\[)?\{arg([0-9]+)\}(?(1)\])")  # `{arg0}`, or `[{arg0}]` an index
_CLASS_REF = "class:"  # `excludes = ["class:driver"]`


def _excluded_classes(fn: LockFunction) -> tuple:
    """The classes no lock of which may be held when `fn` is called."""
    return tuple(ref[len(_CLASS_REF):] for ref in fn.excludes if ref.startswith(_CLASS_REF))


# `p = xzalloc(sizeof *p)`, `q = (struct q *) malloc(n)`, `t = g_new0(struct t, 1)`
_ALLOCATED = re.compile(rb"\b([A-Za-z_]\w*)\s*=\s*(?:\([^()]*\)\s*)?([A-Za-z_]\w*)\s*\(")
_ALLOCATOR = re.compile(r"(?:^|_)(?:[xkvg]?[mcz]?alloc0?|[xkvg]?zalloc|new0?)$")


class Lowerer:
    """Turns expressions of one function into events, given the lock API table."""

    def __init__(self, source: bytes, config: Config, aliases: dict[str, str], constants: frozenset[str],
                 lock_names=None, origin: int = 0, variable_types=None,
                 end: Optional[int] = None):
        self.source = source
        self.functions = config.functions
        self.noreturn = getattr(config, "noreturn", frozenset())  # declared so in the sources
        self.kinds = config.kinds
        self.lock_kind_for = config.lock_kind_for  # [[locks]] kind = ... wins over the function's kind
        self.classes = getattr(config, "classes", {})
        self._variable_types = variable_types  # () -> {name: declared type}, for classes and guards by type
        self._types: Optional[dict] = None
        guarded = getattr(config, "guarded", ())
        self._set_guards(guarded)
        # guards not checked in some functions (`[[guarded]] exempt-functions`): left out once
        # the function's name is known (see `accesses`)
        self._exempting = any(getattr(g, "exempt", ()) for g in guarded)
        # `[rules] thread-safety-pointer`: an address handed to a function is a use (clang's opt-in)
        self._pointer_uses = getattr(config, "thread_safety_pointer", False)
        self.aliases = aliases
        self.constants = constants  # names known to be constants (e.g. thrd_success)
        self.lock_names = lock_names  # search for every lock function's name (a prefilter; `.search(text, a, b)`)
        self.origin = origin  # where the function starts: names made here are relative to it
        self._end = end if end is not None else len(source)  # where it ends
        self._allocated: Optional[dict] = None  # variable -> where it is assigned an allocation (see `_fresh`)
        self._first_lock = 0
        self._cleanup_handlers: list[tuple[Optional[str], Optional[Node]]] = []  # pthread_cleanup_push's, innermost last

    def _set_guards(self, guarded) -> None:
        self._guards = tuple(guarded)
        self.guarded_fields: dict[str, list] = {}  # field name -> its guards (one per struct that has it)
        for g in guarded:
            if g.field:
                self.guarded_fields.setdefault(g.field, []).append(g)
        self.guarded_variables = {g.variable: g for g in guarded if g.variable}
        self.guarded_types = {g.type: g for g in guarded if g.type}
        self._guarded_locals: Optional[dict] = None  # variable -> GuardedData of its type, when first needed
        names = sorted(set(self.guarded_fields) | set(self.guarded_variables))
        self.guarded_names = re.compile(rb"\b(?:" + b"|".join(n.encode() for n in names) + rb")\b") if names else None

    def _leave_out_exempt_guards(self, node: Node) -> None:
        """Drop the guards whose `exempt-functions` name the function `node` is in
        (constructors, teardown: the data is not shared yet, or any more)."""
        self._exempting = False
        fn = node
        while fn is not None and fn.type != "function_definition":
            fn = fn.parent
        if fn is None:
            return
        name = function_name(fn, self.source)
        kept = [g for g in self._guards if not any(fnmatchcase(name, glob) for glob in getattr(g, "exempt", ()))]
        if len(kept) < len(self._guards):
            self._set_guards(kept)

    @property
    def end(self) -> int:
        """Where the function ends."""
        return self._end

    def temp(self, node: Node) -> str:
        """A name for a call's unnamed result, stable when the function moves in the file."""
        return f"$t{node.start_byte - self.origin}"

    # -- expressions ---------------------------------------------------------------

    def expr(self, node: Node, out: list, result: Optional[str] = None) -> None:
        """Append the events of evaluating `node` to `out`. `result` names where a
        call's value is stored (`rc = pthread_mutex_trylock(...)`)."""
        start, end = node.start_byte, node.end_byte
        if not _MAYBE_EVENTS.search(self.source, start, end):
            return  # no call, assignment or increment: nothing happens to locks or facts
        if self.lock_names is not None and not self.lock_names.search(self.source, start, end):
            # no lock call inside: only what it assigns matters (to path facts)
            self._kills_only(node, out)
            return
        self._walk(node, out, result)

    def _kills_only(self, node: Node, out: list) -> None:
        if node.type == "expression_statement" and node.named_child_count:
            node = node.named_children[0]
        t = node.type
        if t == "update_expression":
            target = node.child_by_field_name("argument")
            if target is not None:
                out.append(Kill((canonical(target, self.source),), Site.of(node)))
        elif t == "assignment_expression":
            self.assignment(node, out)
        else:
            self._walk(node, out, None)

    def _walk(self, node: Node, out: list, result: Optional[str]) -> None:
        t = node.type
        if t == "call_expression":
            if not self._sparse_context(node, out):
                self._call(node, out, result)
        elif t == "assignment_expression":
            self.assignment(node, out)
        elif t == "update_expression":
            arg = node.child_by_field_name("argument")
            if arg is not None:
                out.append(Kill((canonical(arg, self.source),), Site.of(node)))
        elif t in ("parenthesized_expression", "cast_expression"):
            inner = strip_parens(node) if t == "parenthesized_expression" else node.child_by_field_name("value")
            if inner is not None and inner is not node:
                self._walk(inner, out, result)
        elif t in _LITERALS or t in ("identifier", "string_literal", "concatenated_string", "field_identifier", "comment"):
            return
        else:
            for child in node.named_children:
                self._walk(child, out, None)

    def assignment(self, node: Node, out: list) -> str:
        """`x = e`: facts about x die, then e runs with its value stored in x."""
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        target = canonical(left, self.source) if left is not None else ""
        op = node.child_by_field_name("operator")
        plain = op is not None and op.type == "="
        if target:
            out.append(Kill((target,), Site.of(node)))
        if right is not None:
            self.store(target if plain else None, right, out, Site.of(node), is_identifier=left.type == "identifier")
        return target

    def store(self, target: Optional[str], value: Node, out: list, site: Site, is_identifier: bool = True) -> None:
        """Evaluate `value` into variable `target` (an assignment or an initialiser)."""
        inner = strip_parens(value)
        if target and self.is_constant(inner):
            if is_identifier and target not in self.aliases:  # `l = NULL;`: another object from now on
                out.append(Rebind(target, None, site, str(site.start_byte - self.origin)))
            out.append(Derive(target, const=self.constant_text(inner)))
            return
        if target and inner.type in ("binary_expression", "unary_expression") and self._is_condition(inner):
            before = len(out)
            cond = self._boolean(inner, out)
            if cond is not None and any(result_of(e) is not None for e in out[before:]):
                out.append(Derive(target, cond))
                return
            del out[before:]
        if target and is_identifier and target not in self.aliases:
            # the old value's locks go stale before the new value (maybe a locked object) arrives
            # (an alias names its one value everywhere: `copy = obj` hands nothing over)
            source = canonical(inner, self.source) if inner.type == "identifier" else None
            out.append(Rebind(target, source, site, str(site.start_byte - self.origin)))
        self._walk(value, out, target)

    def _is_condition(self, node: Node) -> bool:
        op = node.child_by_field_name("operator")
        return op is not None and (op.type in COMPARISONS or op.type == "!")

    def _boolean(self, node: Node, out: list) -> Optional[Cond]:
        """A Cond for `value == const` or `!value` stored into a variable."""
        if node.type == "unary_expression":
            arg = node.child_by_field_name("argument")
            if arg is None:
                return None
            c = self.condition(arg, out)
            return Cond(f"!({c.text})", c.key, "==", "0") if c.op == "!=" and c.const == "0" else None
        return self.condition(node, out)

    @staticmethod
    def _arguments(call: Node) -> list[Node]:
        args_node = call.child_by_field_name("arguments")
        return [a for a in args_node.named_children if a.type != "comment"] if args_node is not None else []

    def _call(self, call: Node, out: list, result: Optional[str]) -> None:
        args = self._arguments(call)
        for a in args:
            self._walk(a, out, None)
        fn_node = call.child_by_field_name("function")
        if fn_node is not None and fn_node.type == "call_expression":
            fn_node = fn_node.child_by_field_name("function")  # `guard(mutex)(&m)`: the guard's name
        name = self.source[fn_node.start_byte:fn_node.end_byte].decode("utf-8", "replace") if fn_node is not None and fn_node.type == "identifier" else None
        if name in CLEANUP_CALLS:
            self._cleanup(name, call, args, out)
            return
        fn = self.functions.get(name) if name else None
        if fn is not None:
            if (fn.requires or fn.excludes) and fn.action != "call":
                out.append(Call(fn.name, Site.of(call), False, self._refs(fn.requires, args), self._refs(fn.excludes, args),
                                Declared("function", fn.name, fn.origin), excluded_classes=_excluded_classes(fn),
                                strict=compiler_checked(fn)))
            out.extend(self.lock_events(fn, call, args, result))
            if fn.clears is not None and fn.clears < len(args) and fn.action != "try-acquire":  # (a try: on failure only)
                self._cleared(args[fn.clears], out, Site.of(call))
            return
        # an unknown call may change what it gets the address of
        touched = tuple(
            canonical(a.child_by_field_name("argument"), self.source)
            for a in args
            if _is_address_of(a)
        )
        if touched:
            out.append(Kill(touched, through_pointers=False))

    def _cleanup(self, name: str, call: Node, args: list[Node], out: list) -> None:
        """`pthread_cleanup_push(handler, arg)` ... `pthread_cleanup_pop(1)`: the pop runs
        `handler(arg)` there (`pthread_mutex_unlock`, or a function that calls it). The two
        are macros that open and close one block, so they pair as the statements come."""
        if name == CLEANUP_PUSH:
            handler = _function_named(args[0], self.source) if args else None
            self._cleanup_handlers.append((handler, args[1] if len(args) > 1 else None))
            return
        if not self._cleanup_handlers:
            return
        handler, arg = self._cleanup_handlers.pop()
        runs = args and self.is_constant(args[0]) and self.constant_text(args[0]) not in ("0", "false")
        fn = self.functions.get(handler) if handler and runs else None
        if fn is not None:
            out.extend(self.lock_events(fn, call, [arg] if arg is not None else [], None))

    def _cleared(self, arg: Node, out: list, site: Site) -> None:
        """The pointer a `clears` function sets to NULL (`end_api(&vm)`, `FREE(p)`): known
        NULL from now on. (What was known of its locks stays: a use through it now is a
        bug of its own.)"""
        target = self._cleared_pointer(arg)
        if target is not None:
            out.append(Kill((target,), site))
            out.append(Derive(target, const="NULL"))

    def _cleared_pointer(self, arg: Node) -> Optional[str]:
        """The pointer a `clears` argument names (`&vm`, `p`), if a variable or field."""
        arg = strip_parens(arg)
        if _is_address_of(arg):
            arg = strip_parens(arg.child_by_field_name("argument"))
        if arg.type not in ("identifier", "field_expression"):
            return None
        return canonical(arg, self.source)

    def _sparse_context(self, call: Node, out: list) -> bool:
        """sparse's `__context__(lock, delta)` statement (`__context__(delta)`: its anonymous
        context): +1 takes the lock, -1 drops it. False when `call` is not one."""
        fn_node = call.child_by_field_name("function")
        if fn_node is None or fn_node.type != "identifier" or flat(fn_node, self.source) != SPARSE_CONTEXT:
            return False
        args = self._arguments(call)
        if len(args) not in (1, 2):
            return False
        try:
            delta = int(_SPACE.sub("", self.constant_text(args[-1])), 0)
        except ValueError:
            return False
        if delta:
            action = "acquire" if delta > 0 else "release"
            fn = LockFunction(SPARSE_CONTEXT, action, "arg0") if len(args) == 2 else \
                LockFunction(SPARSE_CONTEXT, action, "global", path=SPARSE_CONTEXT)
            event = self.lock_event(fn, call, args, None)
            if event is not None:
                out.append(event)
        return True

    def lock_events(self, fn: LockFunction, call: Node, args: list[Node], result: Optional[str]) -> list:
        """What a call of `fn` does, in order: its action, or its several actions
        (`actions = [...]`), or those its constant argument chooses (`by-arg`, `cases`:
        none when the argument is no listed constant), after its contract (a `Call`)."""
        if not fn.steps and not fn.cases:
            event = self.lock_event(fn, call, args, result)
            return [] if event is None else [event]
        events = []
        if fn.requires or fn.excludes or fn.may_sleep:
            events.append(self.lock_event(replace(fn, steps=(), cases=()), call, args, result))
        for step in fn.steps or self._case(fn, args):
            # (what one of several actions returns is no status: each takes or drops its lock)
            event = self.lock_event(step, call, args, result, checked=False)
            if event is not None:
                events.append(event)
        return events

    def _case(self, fn: LockFunction, args: list[Node]) -> tuple:
        """The actions of the case a call's constant argument chooses, () when none does."""
        if fn.case_arg is None or fn.case_arg >= len(args):
            return ()
        arg = strip_parens(args[fn.case_arg])
        while arg.type == "cast_expression" and arg.child_by_field_name("value") is not None:
            arg = strip_parens(arg.child_by_field_name("value"))  # `(int) 1`
        constant = case_constant(self.constant_text(arg))
        return next((steps for value, steps in fn.cases if value == constant), ())

    def lock_event(self, fn: LockFunction, call: Node, args: list[Node], result: Optional[str], checked: bool = True):
        """The event of a call of `fn` (one action). `checked`: a status the caller keeps
        or tests says whether a plain acquisition took the lock (see below)."""
        if fn.action in HELD_TESTS:
            return None  # a question, not an operation: see `held_test`
        site = Site.of(call)
        if fn.action == "call":
            return Call(fn.name, site, bool(fn.may_sleep) and self._sleeps(fn, args),
                        self._refs(fn.requires, args), self._refs(fn.excludes, args),
                        Declared("function", fn.name, fn.origin) if fn.requires or fn.excludes or fn.takes else None,
                        self._refs(fn.takes, args), _excluded_classes(fn), compiler_checked(fn))
        if fn.scope is not None:  # `guard(spinlock_irqsave)(&l)`: the guard's class says what it takes
            cls_node = guards.class_node(fn, call, args)
            cls = guards.guard_class(self.source[cls_node.start_byte:cls_node.end_byte].decode("utf-8", "replace")) \
                if cls_node is not None else None
            if cls is not None:
                fn = guards.applied(fn, cls, cls.kind in self.kinds)
        result_key = result or self.temp(call)
        named = self._lock_named(fn, call, args, result_key, result)
        if named is None:
            return None  # a malformed call: nothing to learn from it
        key, written, plain = named
        if fn.action == "release":
            if fn.when is not None:  # `obj_unref(o)`: released only for some return values
                return Release(key, written, site, fn, result_key, fn.when)
            return Release(key, written, site, fn)
        kind = self.lock_kind_for(key, fn)
        # spins (True), sleeps (False), or neither or unknown (None: an SRCU read side)
        spinning = None if kind is None or (not kind.spinning and kind.sleeping is False) else kind.spinning
        lock_class = self.class_of(key, plain) if self.classes else None
        if fn.action == "try-acquire":
            cleared = self._cleared_pointer(args[fn.clears]) if fn.clears is not None and fn.clears < len(args) else None
            return TryAcquire(key, written, site, fn, fn.shared, result_key, spinning, lock_class, cleared)
        if fn.when is not None:
            # waits for the lock (rules treat it as any acquisition), and took it only when
            # it returned `when`: a lookup returning NULL holds nothing
            return Acquire(key, written, site, fn, fn.shared, spinning, lock_class, result_key, fn.when)
        never_waits = kind is not None and not kind.spinning and kind.sleeping is False
        if checked and result is not None and fn.lock != "return" and fn.scope is None and not never_waits \
                and not fn.inferred:
            # `if (pthread_mutex_lock(&m) != 0) return;`: a lock call whose status is
            # kept or tested can fail; it took the lock only when it returned success.
            # (A kind that neither spins nor sleeps never waits, nor fails: what it
            # returns is a value, like `idx = srcu_read_lock(&ss)`. Nor does a function
            # summarised as an acquire: it took the lock on every path, whatever it returns.)
            checked = replace(fn, action="try-acquire", success=fn.success or _default_success(fn.name))
            return TryAcquire(key, written, site, checked, fn.shared, result_key, spinning, lock_class)
        saves = canonical(args[1], self.source) if "_irqsave" in fn.name and fn.lock_arg == 0 and len(args) > 1 \
            and strip_parens(args[1]).type == "identifier" else None
        return Acquire(key, written, site, fn, fn.shared, spinning, lock_class, saves=saves)

    def _lock_named(self, fn: LockFunction, call: Node, args: list[Node], result_key: str,
                    result: Optional[str]) -> Optional[tuple[str, str, Optional[str]]]:
        """(key, as written, canonical spelling without aliases or None) of the lock a call
        of `fn` names, or None when the call lacks the argument that names it."""
        if fn.lock == "return":  # the object it returns (with `path`: a lock inside it)
            return result_key + fn.path, (result or shown(call, self.source)) + fn.path, None
        if fn.lock == "global":  # a global lock or context (`rcu_read_lock()` takes RCU)
            written = fn.path
            if "{arg" in written:  # named after an argument: `G_LOCK(cache)` takes `g__cache_lock`
                written = self._placeholders(written, args)
                if "[" in written:  # an element of an array: `lru_locks[id]`, as `&lru_locks[id]` names it
                    return key_of(written), written, None
            return written.replace(".", "->"), written, None
        index = fn.lock_arg
        if index is None or index >= len(args):
            return None
        arg = args[index]
        plain = canonical(arg, self.source)
        key, written = key_of(plain, self.aliases), shown(arg, self.source)
        if fn.path:  # a wrapper that locks a field of what it is given
            path = self._placeholders(fn.path, args) if "{arg" in fn.path else fn.path  # `->locks[{arg1}]`
            key = key_of(key + path) if "[" in path else key + path
            if path.startswith("[") and plain.startswith("&"):
                # a part of what the argument points to (`bit_spin_lock(PG_locked, &page->flags)`:
                # bit PG_locked of the bitmap there) is `page->flags[PG_locked]`: with the `&`,
                # C would read an element's address
                plain = plain[1:]
            plain = written = plain + path
        return key, written, plain

    def _placeholders(self, text: str, args: list[Node]) -> str:
        """`text` with its `{argN}` made the argument's text: as an index (`[{arg0}]`) as a
        subscript's index is (`lru_locks[h%n]`), elsewhere its canonical spelling."""
        def argument(m) -> str:
            index = int(m.group(2))
            if index >= len(args):
                return "?"
            if m.group(1):
                return "[" + _SPACE.sub("", self.source[args[index].start_byte:args[index].end_byte].decode(
                    "utf-8", "replace")) + "]"
            return canonical(args[index], self.source)

        return _PLACEHOLDER.sub(argument, text)

    def class_of(self, key: str, plain: Optional[str] = None) -> Optional[str]:
        """The configured class of a lock: by its expression, or by the type of the
        variable it is reached through (`driver->lock` with `struct qemud_driver *driver`),
        looking at the lock as written (`plain`) too: `driver` may be an alias of
        `conn->private_data`, whose type says nothing."""
        declared = None
        for cls in self.classes.values():
            if any(fnmatchcase(key, glob) for glob in cls.match):
                return cls.name
            if cls.types:
                if declared is None:
                    types = self.variable_types()
                    declared = {types.get(m.group(0), "") for m in (re.match(r"[A-Za-z_]\w*", k) for k in (key, plain) if k) if m}
                if declared & set(cls.types):
                    return cls.name
        return None

    def _refs(self, refs: tuple, args: list[Node]) -> tuple:
        """Lock refs ("arg0->lock", "=g") of a contract, resolved at a call: (key, written)."""
        if not refs:
            return ()
        plain = [canonical(a, self.source) for a in args]
        keys = [key_of(p, self.aliases) for p in plain]
        # an element of an array indexed by an argument (`lru_locks[{arg0}]`): indexed as written
        refs = tuple(self._placeholders(ref, args) if "[{arg" in ref else ref for ref in refs)
        resolved = ((resolve_lock_ref(ref, keys), resolve_lock_ref(ref, plain)) for ref in refs)
        return tuple((key_of(key) if "[" in key else key, written) for key, written in resolved if key is not None)

    def _sleeps(self, fn: LockFunction, args: list[Node]) -> bool:
        """`msleep(10)` always sleeps; `kmalloc(n, GFP_KERNEL)` only with that argument."""
        if fn.may_sleep == "always":
            return True
        token = re.compile(rb"\b" + re.escape(fn.may_sleep.encode()) + rb"\b")
        return any(token.search(self.source, a.start_byte, a.end_byte) for a in args)

    # -- guarded data ----------------------------------------------------------------

    def variable_types(self) -> dict:
        """name -> declared type of the function's parameters and locals (computed once)."""
        if self._types is None:
            self._types = self._variable_types() if self._variable_types is not None else {}
        return self._types

    def _typed_guards(self) -> dict:
        """Variables of the function whose type is guarded (`[[guarded]] type = ...`)."""
        if self._guarded_locals is None:
            self._guarded_locals = {}
            if self.guarded_types:
                for name, declared in self.variable_types().items():
                    guard = self.guarded_types.get(declared)
                    if guard is not None:
                        self._guarded_locals[name] = guard
        return self._guarded_locals

    def accesses(self, node: Node, out: list) -> None:
        """Access events for the guarded data `node` reads or writes, in source order.
        Code inside `context_unsafe(...)` / `data_race(...)` is exempt (the author
        says the race is intended)."""
        if self._exempting:
            self._leave_out_exempt_guards(node)
        typed = self._typed_guards() if self.guarded_types else None
        if not typed and (self.guarded_names is None
                          or not self.guarded_names.search(self.source, node.start_byte, node.end_byte)):
            return
        stack = [node]
        found = []
        while stack:
            n = stack.pop()
            t = n.type
            if t == "field_expression":
                field = n.child_by_field_name("field")
                guards = self.guarded_fields.get(flat(field, self.source)) if field is not None else None
                guard = self._field_guard(n, guards) if guards else None
                if guard is not None and self._dereferenced(n, guard) and not self._fresh(n) \
                        and not self._spared(n, guard):
                    # checked everywhere only where the object is known to be of the
                    # guard's struct: another struct may have a field of the same name
                    owned = guard.configured or self._of_owner(n, guard)
                    everywhere = guard.everywhere and owned and (guard.configured or _seen(guard.origin))
                    if guard.by == ANY_LOCK:
                        # any lock held satisfies it, so a field of the same name in another
                        # struct (`port`, `flags`) would be checked wherever any lock is taken:
                        # only where the object is known to be of the annotated struct
                        if owned:
                            found.append(_any_lock_access(n, guard, self.source, everywhere))
                    else:
                        plain = canonical(n.child_by_field_name("argument"), self.source)
                        key, shown_guard = _guard_key(guard, key_of(plain, self.aliases)), _guard_key(guard, plain)
                        found.append(Access(key, shown_guard, shown(n, self.source), Site.of(n), everywhere,
                                            _declared(guard)))
            elif t == "identifier":
                name = flat(n, self.source)
                guard = self.guarded_variables.get(name)
                if guard is not None and self._dereferenced(n, guard) and not self._spared(n, guard):
                    everywhere = guard.everywhere and (guard.configured or _seen(guard.origin))
                    found.append(_any_lock_access(n, guard, self.source, everywhere) if guard.by == ANY_LOCK else
                                 Access(guard.by[1:].replace(".", "->"), guard.by[1:], shown(n, self.source), Site.of(n),
                                        everywhere, _declared(guard)))
                elif typed and name in typed:
                    access = self._typed_use(n, typed[name])
                    if access is not None:
                        found.append(access)
            elif t == "call_expression":
                callee = n.child_by_field_name("function")
                if callee is not None and flat(callee, self.source) in _EXEMPT_WRAPPERS:
                    continue
            elif t in ("sizeof_expression", "alignof_expression", "offsetof_expression"):
                continue  # not evaluated: `sizeof p->table` reads nothing
            stack.extend(reversed(n.named_children))
        out.extend(sorted(found, key=lambda a: a.site.start_byte))

    def _spared(self, n: Node, guard) -> bool:
        """Guarded data in code that does not use it (see `guards`): its address taken (a
        `[[guarded]]` entry's), or on the way to its own lock (`&stats.lock`)."""
        if guards.address_taken(n):
            # (clang checks `&data` handed on only under -Wthread-safety-pointer, off by default)
            return not (self._pointer_uses and _handed_on(guards.address_of(n)))
        if not guard.by or guard.by in ("self", ANY_LOCK):
            return False
        if guard.by.startswith("="):
            key = guard.by[1:].replace(".", "->")
        else:
            obj = n.child_by_field_name("argument")
            if obj is None:
                return False
            key = _guard_key(guard, key_of(canonical(obj, self.source), self.aliases))
        return guards.on_the_way_to(n, key, self.source, self.aliases)

    def _fresh(self, n: Node) -> bool:
        """`p->count` where `p` holds an object this function allocated (`p = malloc(...)`,
        `xzalloc`, `g_new0`, `kzalloc`, ...) and no lock has been taken yet: nobody else
        can see the object, so initialising it needs no lock."""
        obj = n.child_by_field_name("argument")
        if obj is None or obj.type != "identifier":
            return False
        if self._allocated is None:
            self._allocated = {}
            for m in _ALLOCATED.finditer(self.source, self.origin, self._end):
                if _ALLOCATOR.search(m.group(2).decode("utf-8", "replace")):
                    self._allocated.setdefault(m.group(1).decode(), m.start())
            self._first_lock = self._end
            at = self.origin
            while self.lock_names is not None and (m := self.lock_names.search(self.source, at, self._end)):
                if m.group().decode() in self.functions:  # (not a guarded field's name: they are searched too)
                    self._first_lock = m.start()
                    break
                at = m.end()
        at = self._allocated.get(flat(obj, self.source))
        return at is not None and at < n.start_byte < self._first_lock

    def _object_type(self, n: Node) -> str:
        """The declared type of the object of the field use `n` (`x` in `x->count`), when it
        is a variable with one (`struct stats`), else ""."""
        obj = n.child_by_field_name("argument")
        while obj is not None and obj.type == "parenthesized_expression":
            obj = obj.named_children[0] if obj.named_children else None
        if obj is None or obj.type != "identifier":
            return ""
        return self.variable_types().get(flat(obj, self.source), "")

    def _of_owner(self, n: Node, guard) -> bool:
        """Is the object of the field use `n` (`x->count`) declared as the guard's struct?"""
        return guard.owner is not None and self._object_type(n) == guard.owner

    def _field_guard(self, n: Node, guards: list):
        """The guard of the field `x->count`, among those of every struct with a guarded
        `count`: the one of the struct `x` is declared as; none when `x` is declared as
        another struct (a typedef'd type may be any of them: only a `struct` tag tells);
        when nothing tells, the one declared last."""
        declared = self._object_type(n)
        owned = [g for g in guards if g.owner == declared] if declared else []
        if owned:  # (an entry without `by`: a struct known to have the field but not its lock)
            return owned[-1] if owned[-1].by else None
        guards = [g for g in guards if g.by]
        if not guards:
            return None
        if not declared.startswith(("struct ", "union ")):
            return guards[-1]
        owned = [g for g in guards if g.owner is None]
        return owned[-1] if owned else None

    def _dereferenced(self, n: Node, guard) -> bool:
        """A `pt_guarded_by` pointer is guarded only where what it points to is used
        (`*p`, `p[i]`, `p->x`), not where it is handed on (`fill(p)`: clang checks that
        only under its opt-in -Wthread-safety-pointer); any other guard, on every use."""
        if not guard.pointee:
            return True
        parent = n.parent
        while parent is not None and parent.type == "parenthesized_expression":
            n, parent = parent, parent.parent
        if parent is None:
            return False
        if self._pointer_uses and _handed_on(n):
            return True  # `fill(p)`, `return p;` under `[rules] thread-safety-pointer`
        if parent.type == "pointer_expression":
            op = parent.child_by_field_name("operator")
            return op is not None and op.type == "*"
        if parent.type == "subscript_expression":
            return parent.child_by_field_name("argument") == n
        if parent.type == "field_expression":
            op = parent.child_by_field_name("operator")
            return parent.child_by_field_name("argument") == n and op is not None and op.type == "->"
        return False

    def _typed_use(self, n: Node, guard) -> Optional[Access]:
        """A use of a variable of a guarded type: a field reached through it (other
        than the guard and the exceptions), or passing it to a function that is
        not a lock function nor an exception. Comparing, copying or returning the
        pointer is not a use of the object."""
        parent = n.parent
        inner = n
        while parent is not None and parent.type in ("parenthesized_expression", "pointer_expression"):
            inner, parent = parent, parent.parent
        if parent is None:
            return None
        plain = canonical(n, self.source)
        if parent.type == "field_expression" and parent.child_by_field_name("argument") == inner:
            field = flat(parent.child_by_field_name("field"), self.source)
            if field == guard.by or field in guard.exceptions or self.guarded_fields.get(field) is not None:
                return None  # the lock itself, an exempt field, or a field with a guard of its own
            if guard.configured and guards.address_taken(parent):
                return None  # its address taken (`list_del(&t->node)`): not a use
            used = parent
        elif parent.type == "argument_list":
            call = parent.parent
            callee = call.child_by_field_name("function") if call is not None else None
            name = flat(callee, self.source) if callee is not None else ""
            fn = self.functions.get(name)
            if name in guard.exceptions or name in _EXEMPT_WRAPPERS or fn is not None or guards.lock_lifecycle(name):
                # an exception, a lock function, one whose contract says what it needs, or one
                # that sets up or tears down a lock (the object's own: `pthread_mutex_init(obj)`)
                return None
            used = call
        else:
            return None
        key = _guard_key(guard, key_of(plain, self.aliases))
        return Access(key, _guard_key(guard, plain), shown(used, self.source), Site.of(used), guard.everywhere,
                      _declared(guard))

    # -- conditions ----------------------------------------------------------------

    def condition(self, node: Node, out: list) -> Cond:
        """Lower a condition atom (no &&, ||, !) to a Cond, appending its events."""
        node = strip_parens(node)
        if node.type == "binary_expression":
            op_node = node.child_by_field_name("operator")
            op = op_node.type if op_node is not None else ""
            if op in COMPARISONS:
                left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
                if left is not None and right is not None:
                    if self.is_constant(right):
                        return self.compared(node, left, op, right, out)
                    if self.is_constant(left):
                        return self.compared(node, right, _FLIP[op], left, out)
        key = self.value_key(node, out)
        return Cond(self._fact_text(node, key, "!=", "0"), key, "!=", "0", self._points_to(node, key))

    def compared(self, whole: Node, value: Node, op: str, const: Node, out: list) -> Cond:
        """The condition `value op const` (also written as separate arguments: `VERIFY3B(v, ==, c)`)."""
        key = self.value_key(value, out)
        c = self.constant_text(const)
        return Cond(self._fact_text(whole, key, op, c), key, op, c, self._points_to(value, key))

    def _points_to(self, node: Node, key: str) -> Optional[str]:
        """The expression a tested pointer stands for through a local alias, if any."""
        if not self.aliases or strip_parens(node).type not in ("identifier", "field_expression"):
            return None
        resolved = key_of(key, self.aliases)
        return resolved if resolved != key else None

    def _fact_text(self, node: Node, key: str, op: str, const: str) -> str:
        # A trylock's result is fresh at each call: tie the text to the call site,
        # not to the spelling, so a second trylock is never decided by the first.
        if key.startswith("$t"):
            return f"{key} {op} {const}"
        return flat(node, self.source)

    def value_key(self, node: Node, out: list) -> str:
        """The fact key for the value of `node`, appending the events evaluating it."""
        node = strip_parens(node)
        t = node.type
        if t == "compound_statement" and (value := statement_value(node)) is not None:
            for statement in value[0]:  # (control flow inside is not followed here)
                self.expr(statement, out)
            return self.value_key(value[1], out)
        if t == "assignment_expression":
            return self.assignment(node, out)
        if t == "call_expression":
            tested = self.held_test(node)
            if tested is not None:
                self._walk(node, out, None)
                return tested
            before = len(out)
            self._walk(node, out, self.temp(node))
            last = out[-1] if len(out) > before else None
            if last is not None and result_of(last) is not None and last.site.start_byte == node.start_byte:
                return result_of(last)  # the call's own value, e.g. `if (trylock(&m) == 0)`
            return flat(node, self.source)
        if t in ("identifier", "field_expression", "subscript_expression", "pointer_expression"):
            self.expr(node, out)
            return canonical(node, self.source)
        self.expr(node, out)
        return flat(node, self.source)

    def held_test(self, call: Node) -> Optional[str]:
        """The fact key of a call asking whether the caller holds a lock: "held?KEY" for
        `MUTEX_HELD(&l)` (`tests-held`), "unheld?KEY" for `MUTEX_NOT_HELD(&l)`
        (`tests-not-held`); `lockstate.refine` decides a branch on it by the path's locks."""
        fn_node = call.child_by_field_name("function")
        if fn_node is None or fn_node.type != "identifier":
            return None
        name = self.source[fn_node.start_byte:fn_node.end_byte].decode("utf-8", "replace")
        fn = self.functions.get(name)
        if fn is not None and fn.action in HELD_TESTS:
            named = self._lock_named(fn, call, self._arguments(call), "", None)  # (never "return": see config)
            return None if named is None else held_test_key(named[0], fn.action == "tests-held")
        if fn is not None and fn.action != "call":
            return None  # a lock function of its own
        return self._held_test_by_name(name, call)

    def _held_test_by_name(self, name: str, call: Node) -> Optional[str]:
        """A test nothing declares, known by its name and argument: `MUTEX_HELD(&l)`,
        `mtx_owned(&sc->mtx)`, `mutex_is_locked(&m)`, `RW_WRITE_HELD(&rw)`. Its key
        ("held~?KEY") also matches the lock a wrapper takes inside KEY (`mutex_enter(m)`
        taking `m->m_lock`), and decides only paths that know that lock's state."""
        m = _HELD_TEST_NAME.search(name)
        args = self._arguments(call)
        if m is None or not args:
            return None
        arg = strip_parens(args[0])
        if not _is_address_of(arg):
            return None  # `button_held(dev)`: not a lock's address
        key = key_of(canonical(arg, self.source), self.aliases)
        return held_test_key(key, not m.group("not"), by_name=True)

    def is_constant(self, node: Node) -> bool:
        node = strip_parens(node)
        if node.type in _LITERALS:
            return True
        if node.type == "identifier":
            name = self.source[node.start_byte:node.end_byte].decode("utf-8", "replace")
            return name in self.constants or bool(_CONSTANT_NAME.match(name))
        if node.type == "unary_expression":  # `-1`, and kernel errors `-EDEADLK`
            arg = node.child_by_field_name("argument")
            op = node.child_by_field_name("operator")
            if arg is None or (op is not None and op.type != "-"):
                return False
            arg = strip_parens(arg)
            return arg.type == "number_literal" or (arg.type == "identifier" and self.is_constant(arg))
        return False

    def constant_text(self, node: Node) -> str:
        return _SPACE.sub("", self.source[node.start_byte:node.end_byte].decode("utf-8", "replace")).strip("()")


def _is_address_of(node: Node) -> bool:
    """Is `node` an `&x` expression?"""
    if node.type != "pointer_expression":
        return False
    op = node.child_by_field_name("operator")
    return op is not None and op.type == "&"


def _handed_on(n: Node) -> bool:
    """Is the value of `n` an argument of a call or what the function returns?"""
    parent = n.parent
    while parent is not None and parent.type in ("parenthesized_expression", "cast_expression"):
        n, parent = parent, parent.parent
    return parent is not None and parent.type in ("argument_list", "return_statement")


CLEANUP_PUSH, CLEANUP_POP = "pthread_cleanup_push", "pthread_cleanup_pop"
CLEANUP_CALLS = (CLEANUP_PUSH, CLEANUP_POP)


def _function_named(node: Node, source: bytes) -> Optional[str]:
    """The function a function-pointer argument names: `f`, `&f`, `(void (*)(void *)) f`."""
    node = strip_parens(node)
    while node.type in ("cast_expression", "pointer_expression"):
        inner = node.child_by_field_name("value" if node.type == "cast_expression" else "argument")
        if inner is None:
            return None
        node = strip_parens(inner)
    return source[node.start_byte:node.end_byte].decode("utf-8", "replace") if node.type == "identifier" else None


_HEADER = re.compile(r"\.(h|hh|hpp|hxx|inc)$")
# the names of lock-ownership tests (kernel, Solaris/ZFS, FreeBSD): `MUTEX_HELD`,
# `MUTEX_NOT_HELD`, `RW_LOCK_HELD`, `mutex_owned`, `mtx_owned`, `rw_wowned`, `sx_xlocked`,
# `lockdep_is_held`, `spin_is_locked`; not `*_locked` alone, which names functions that
# must be called with a lock held (`list_del_locked`)
_HELD_TEST_NAME = re.compile(r"(?:^|_)(?P<not>not_|NOT_|un)?(?:held|HELD|owned|OWNED|wowned|xlocked|is_locked|is_held)$")


def _seen(origin: Optional[str]) -> bool:
    """Was it declared where this file's compiler sees it: this file (no origin) or a
    header, not a definition in another `.c` file, which only lockls reads?"""
    return origin is None or bool(_HEADER.search(origin))


def compiler_checked(fn: LockFunction) -> bool:
    """Is the callee's requirement one the compiler checks at this call: clang's, and
    declared where the caller's translation unit sees it?"""
    return fn.checked and _seen(fn.origin)


def _any_lock_access(n: Node, guard, source: bytes, everywhere: bool) -> Access:
    """A use of data guarded by some lock, whichever (`guarded_var`): no key of its own."""
    return Access("*", "any lock", shown(n, source), Site.of(n), everywhere, _declared(guard), any_lock=True)


def _declared(guard) -> Declared:
    """Where a guard was declared, for related information."""
    return Declared("guarded", guard.field or guard.variable or guard.type or "", guard.origin)
