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
from lockls.ir.events import Access, Acquire, Call, Cond, Declared, Derive, Kill, Rebind, Release, Site, TryAcquire
from lockls.lowering.lockexpr import canonical, key_of, resolve_lock_ref

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


_ARG_PLACEHOLDER = re.compile(r"\{arg([0-9]+)\}")


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
        self.guarded_fields: dict[str, list] = {}  # field name -> its guards (one per struct that has it)
        for g in guarded:
            if g.field:
                self.guarded_fields.setdefault(g.field, []).append(g)
        self.guarded_variables = {g.variable: g for g in guarded if g.variable}
        self.guarded_types = {g.type: g for g in guarded if g.type}
        self._guarded_locals: Optional[dict] = None  # variable -> GuardedData of its type, when first needed
        names = sorted(set(self.guarded_fields) | set(self.guarded_variables))
        self.guarded_names = re.compile(rb"\b(?:" + b"|".join(n.encode() for n in names) + rb")\b") if names else None
        self.aliases = aliases
        self.constants = constants  # names known to be constants (e.g. thrd_success)
        self.lock_names = lock_names  # search for every lock function's name (a prefilter; `.search(text, a, b)`)
        self.origin = origin  # where the function starts: names made here are relative to it
        self._end = end if end is not None else len(source)  # where it ends
        self._allocated: Optional[dict] = None  # variable -> where it is assigned an allocation (see `_fresh`)
        self._first_lock = 0


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
                out.append(Kill((canonical(target, self.source),)))
        elif t == "assignment_expression":
            self.assignment(node, out)
        else:
            self._walk(node, out, None)

    def _walk(self, node: Node, out: list, result: Optional[str]) -> None:
        t = node.type
        if t == "call_expression":
            self._call(node, out, result)
        elif t == "assignment_expression":
            self.assignment(node, out)
        elif t == "update_expression":
            arg = node.child_by_field_name("argument")
            if arg is not None:
                out.append(Kill((canonical(arg, self.source),)))
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
            out.append(Kill((target,)))
        if right is not None:
            self.store(target if plain else None, right, out, Site.of(node), is_identifier=left.type == "identifier")
        return target

    def store(self, target: Optional[str], value: Node, out: list, site: Site, is_identifier: bool = True) -> None:
        """Evaluate `value` into variable `target` (an assignment or an initialiser)."""
        inner = strip_parens(value)
        if target and self.is_constant(inner):
            out.append(Derive(target, const=self.constant_text(inner)))
            return
        if target and inner.type in ("binary_expression", "unary_expression") and self._is_condition(inner):
            before = len(out)
            cond = self._boolean(inner, out)
            if cond is not None and any(isinstance(e, TryAcquire) for e in out[before:]):
                out.append(Derive(target, cond))
                return
            del out[before:]
        if target and is_identifier:
            # the old value's locks go stale before the new value (maybe a locked object) arrives
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
        fn = self.functions.get(name) if name else None
        if fn is not None:
            if (fn.requires or fn.excludes) and fn.action != "call":
                out.append(Call(fn.name, Site.of(call), False, self._refs(fn.requires, args), self._refs(fn.excludes, args),
                                Declared("function", fn.name, fn.origin)))
            event = self.lock_event(fn, call, args, result)
            if event is not None:
                out.append(event)
            return
        # an unknown call may change what it gets the address of
        touched = tuple(
            canonical(a.child_by_field_name("argument"), self.source)
            for a in args
            if a.type == "pointer_expression" and a.child_by_field_name("operator").type == "&"
        )
        if touched:
            out.append(Kill(touched))

    def lock_event(self, fn: LockFunction, call: Node, args: list[Node], result: Optional[str]):
        if fn.action in HELD_TESTS:
            return None  # a question, not an operation: see `held_test`
        site = Site.of(call)
        if fn.action == "call":
            return Call(fn.name, site, bool(fn.may_sleep) and self._sleeps(fn, args),
                        self._refs(fn.requires, args), self._refs(fn.excludes, args),
                        Declared("function", fn.name, fn.origin) if fn.requires or fn.excludes or fn.takes else None,
                        self._refs(fn.takes, args))
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
            return Release(key, written, site, fn)
        kind = self.lock_kind_for(key, fn)
        # spins (True), sleeps (False), or neither or unknown (None: an SRCU read side)
        spinning = None if kind is None or (not kind.spinning and kind.sleeping is False) else kind.spinning
        lock_class = self.class_of(key, plain) if self.classes else None
        if fn.action == "try-acquire":
            return TryAcquire(key, written, site, fn, fn.shared, result_key, spinning, lock_class)
        never_waits = kind is not None and not kind.spinning and kind.sleeping is False
        if result is not None and fn.lock != "return" and fn.scope is None and not never_waits and not fn.inferred:
            # `if (pthread_mutex_lock(&m) != 0) return;`: a lock call whose status is
            # kept or tested can fail; it took the lock only when it returned success.
            # (A kind that neither spins nor sleeps never waits, nor fails: what it
            # returns is a value, like `idx = srcu_read_lock(&ss)`. Nor does a function
            # summarised as an acquire: it took the lock on every path, whatever it returns.)
            checked = replace(fn, action="try-acquire", success=fn.success or _default_success(fn.name))
            return TryAcquire(key, written, site, checked, fn.shared, result_key, spinning, lock_class)
        return Acquire(key, written, site, fn, fn.shared, spinning, lock_class)

    def _lock_named(self, fn: LockFunction, call: Node, args: list[Node], result_key: str,
                    result: Optional[str]) -> Optional[tuple[str, str, Optional[str]]]:
        """(key, as written, canonical spelling without aliases or None) of the lock a call
        of `fn` names, or None when the call lacks the argument that names it."""
        if fn.lock == "return":  # the object it returns (with `path`: a lock inside it)
            return result_key + fn.path, (result or shown(call, self.source)) + fn.path, None
        if fn.lock == "global":  # a global lock or context (`rcu_read_lock()` takes RCU)
            written = fn.path
            if "{arg" in written:  # named after an argument: `G_LOCK(cache)` takes `g__cache_lock`
                written = _ARG_PLACEHOLDER.sub(
                    lambda m: canonical(args[int(m.group(1))], self.source) if int(m.group(1)) < len(args) else "?",
                    written)
            return written.replace(".", "->"), written, None
        index = fn.lock_arg
        if index is None or index >= len(args):
            return None
        arg = args[index]
        plain = canonical(arg, self.source)
        key, written = key_of(plain, self.aliases), shown(arg, self.source)
        if fn.path:  # a wrapper that locks a field of what it is given
            key = key + fn.path
            plain = written = plain + fn.path
        return key, written, plain

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
        resolved = ((resolve_lock_ref(ref, keys), resolve_lock_ref(ref, plain)) for ref in refs)
        return tuple((key, written) for key, written in resolved if key is not None)

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
                if guard is not None and self._dereferenced(n, guard) and not self._fresh(n):
                    plain = canonical(n.child_by_field_name("argument"), self.source)
                    key, shown_guard = _guard_key(guard, key_of(plain, self.aliases)), _guard_key(guard, plain)
                    found.append(Access(key, shown_guard, shown(n, self.source), Site.of(n), guard.everywhere,
                                        _declared(guard)))
            elif t == "identifier":
                name = flat(n, self.source)
                guard = self.guarded_variables.get(name)
                if guard is not None and self._dereferenced(n, guard):
                    found.append(Access(guard.by[1:], guard.by[1:], shown(n, self.source), Site.of(n), guard.everywhere,
                                        _declared(guard)))
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
            first = self.lock_names.search(self.source, self.origin, self._end) if self.lock_names is not None else None
            self._first_lock = first.start() if first is not None else self._end
        at = self._allocated.get(flat(obj, self.source))
        return at is not None and at < n.start_byte < self._first_lock

    def _field_guard(self, n: Node, guards: list):
        """The guard of the field `x->count`, among those of every struct with a guarded
        `count`: the one of the struct `x` is declared as; none when `x` is declared as
        another struct (a typedef'd type may be any of them: only a `struct` tag tells);
        when nothing tells, the one declared last."""
        obj = n.child_by_field_name("argument")
        while obj is not None and obj.type == "parenthesized_expression":
            obj = obj.named_children[0] if obj.named_children else None
        declared = self.variable_types().get(flat(obj, self.source), "") if obj is not None \
            and obj.type == "identifier" else ""
        if not declared.startswith(("struct ", "union ")):
            return guards[-1]
        owned = [g for g in guards if g.owner == declared] or [g for g in guards if g.owner is None]
        return owned[-1] if owned else None

    @staticmethod
    def _dereferenced(n: Node, guard) -> bool:
        """A `pt_guarded_by` pointer is guarded only where what it points to is used
        (`*p`, `p[i]`, `p->x`); any other guard, on every use."""
        if not guard.pointee:
            return True
        parent = n.parent
        while parent is not None and parent.type == "parenthesized_expression":
            n, parent = parent, parent.parent
        if parent is None:
            return False
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
            used = parent
        elif parent.type == "argument_list":
            call = parent.parent
            callee = call.child_by_field_name("function") if call is not None else None
            name = flat(callee, self.source) if callee is not None else ""
            fn = self.functions.get(name)
            if name in guard.exceptions or name in _EXEMPT_WRAPPERS or fn is not None:
                return None  # an exception, a lock function, or one whose contract says what it needs
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
                        return self._compare(node, left, op, right, out)
                    if self.is_constant(left):
                        return self._compare(node, right, _FLIP[op], left, out)
        key = self.value_key(node, out)
        return Cond(self._fact_text(node, key, "!=", "0"), key, "!=", "0")

    def _compare(self, whole: Node, value: Node, op: str, const: Node, out: list) -> Cond:
        key = self.value_key(value, out)
        c = self.constant_text(const)
        return Cond(self._fact_text(whole, key, op, c), key, op, c)

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
            if isinstance(last, TryAcquire) and last.site.start_byte == node.start_byte:
                return last.result  # the call's own value, e.g. `if (trylock(&m) == 0)`
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
        fn = self.functions.get(self.source[fn_node.start_byte:fn_node.end_byte].decode("utf-8", "replace"))
        if fn is None or fn.action not in HELD_TESTS:
            return None
        named = self._lock_named(fn, call, self._arguments(call), "", None)  # (never "return": see config)
        return None if named is None else ("held?" if fn.action == "tests-held" else "unheld?") + named[0]

    def is_constant(self, node: Node) -> bool:
        node = strip_parens(node)
        if node.type in _LITERALS:
            return True
        if node.type == "identifier":
            name = self.source[node.start_byte:node.end_byte].decode("utf-8", "replace")
            return name in self.constants or bool(_CONSTANT_NAME.match(name))
        if node.type == "unary_expression":
            arg = node.child_by_field_name("argument")
            return arg is not None and strip_parens(arg).type == "number_literal"
        return False

    def constant_text(self, node: Node) -> str:
        return _SPACE.sub("", self.source[node.start_byte:node.end_byte].decode("utf-8", "replace")).strip("()")


def _declared(guard) -> Declared:
    """Where a guard was declared, for related information."""
    return Declared("guarded", guard.field or guard.variable or guard.type or "", guard.origin)
