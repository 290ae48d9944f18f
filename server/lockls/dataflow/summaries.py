"""What calling a function does to its caller's locks, computed from its body.

Owns: `summary_of`, which reads one analysed function (its CFG and fixpoint
states, see `function.analyze_function`) and says, as a `LockFunction`, the one
thing a call to it does to a lock its caller can name (a lock reached from a
parameter):
- *acquire*: the lock is held on every way out, taken here and not held when
  the function was entered, and the function releases no lock at all (so
  `lock-leak` does not report it either: it is an acquire function);
- *release*: the lock is released on every way out and never taken here: the
  caller held it (`dnode_rele_and_unlock(dn)` of any size, not only
  four-statement wrappers);
- *try-acquire*: the lock is held on the ways out that return some values and
  not on those that return others (`return 1` when taken, `return 0` when not),
  or the function returns a trylock's own result.

A function with more than one effect (releases A and takes B), an effect on
some paths only that no return value tells apart, or a lock/unlock finding of
its own has no summary: its calls do nothing to locks, as an unknown call.
Functions are summarised callees first by the callers (`function.file_contracts`
within a file, `project.infer` across files), so a summary sees its callees'.

Also owns `macro_functions`: function-like (and object-like) `#define`s whose
body is one call of a lock function (`#define obj_lock(o) obj_lock_at(o, __FILE__, __LINE__)`,
`#define Q_LOCK(q) do { pthread_mutex_lock(&(q)->lock); } while (0)`), which
then act as that call with the macro's parameters substituted.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Optional

from lockls.config import LockFunction
from lockls.ir.events import LOCK_EVENTS, Acquire, Call, Release, Return, TryAcquire
from lockls.dataflow.facts import number
from lockls.lowering.lockexpr import spelled_key

# findings that make a function's lock behaviour untrustworthy as a contract
_DISQUALIFYING = frozenset({"double-lock", "unlock-unheld"})  # a leak on some paths: no single effect
_ROOT = re.compile(r"^[A-Za-z_]\w*")
_PATH = re.compile(r"(?:->[A-Za-z_]\w*)*\Z")
# ... or with elements of arrays indexed by a parameter (`lru_locks[{arg0}]`, see below)
_INDEXED_PATH = re.compile(r"(?:->[A-Za-z_]\w*|\[\{arg[0-9]+\}\])*\Z")
_INDEX = re.compile(r"\[([A-Za-z_]\w*)\]")
_CONSTANT_INDEX = re.compile(r"\[(?:[0-9]\w*|([A-Za-z_]\w*))\]")  # `[1]`, `[0x4UL]`, or a name not local


def summary_of(result, params: list[str], steps: list, is_global, stored_into=lambda name: None,
               is_recursive=lambda key, fn: False, stores_null=lambda index: False) -> Optional[LockFunction]:
    """The effect of calling the analysed function `result` (an `function.FunctionResult`)
    on its caller's locks, or None. `params`: its parameter names; `steps`: (event,
    state before it) of every reachable event (`function.replay`); `is_global(root)`:
    whether a name used in the body is a global (not a local or a parameter);
    `stored_into(name)`: the index of the parameter through which the local `name` is
    handed back (`*lockp = name;`), if any; `stores_null(i)`: whether the body sets
    what parameter i points to to NULL (`*lockp = NULL;`)."""
    if result.skipped or result.cfg is None or any(v.rule in _DISQUALIFYING for v in result.findings):
        return None
    lock_events = [ev for ev, _ in steps if isinstance(ev, LOCK_EVENTS)]
    returns = [(ev, st) for ev, st in steps if isinstance(ev, Return)]
    if not returns or not (lock_events or any(isinstance(ev, Call) and ev.takes for ev, _ in steps)):
        return None
    releases_any = any(isinstance(ev, Release) for ev in lock_events)
    effects = []
    for key in dict.fromkeys(ev.key for ev in lock_events):
        effect = _effect(key, returns, lock_events, releases_any)
        if effect == "none":
            continue
        if effect is None:
            return None  # an effect on some paths that no return value explains
        effects.append((key, effect))
    if not effects:
        takes = _takes(result, params, steps, is_recursive)
        return LockFunction(result.name, "call", "", takes=takes) if takes else None
    if len(effects) != 1:
        return _several(result.name, effects, lock_events, returns, params, is_global, stored_into)
    return _one(result.name, *effects[0], lock_events, returns, params, is_global, stored_into, stores_null)


def _several(name: str, effects: list, lock_events: list, returns: list, params: list[str], is_global,
             stored_into) -> Optional[LockFunction]:
    """A function that takes several of its caller's locks on every path and drops none
    (`lock_two(a, b)`, `double_lock(p, q)`), or drops several and takes none: a "call" of
    those steps, in the order it first takes or drops each lock."""
    kinds = {effect for _, effect in effects}
    if kinds != {"acquire"} and not kinds <= {"release", "release-if-held"}:
        return None
    steps = []
    for key, effect in effects:
        step = _one(name, key, effect, lock_events, returns, params, is_global, stored_into)
        if step is None or step.lock == "return":
            return None
        steps.append(dataclasses.replace(step, inferred=True))
    return LockFunction(name, "call", "", steps=tuple(steps))


def _one(name: str, key: str, effect, lock_events: list, returns: list, params: list[str], is_global,
         stored_into, stores_null=lambda index: False) -> Optional[LockFunction]:
    """The summary of a function with one effect, `effect` on its lock `key`."""
    # the lock as resolved through local aliases, then as written (`m` for `m = &a->mu`)
    spellings = [key] + sorted({spelled_key(ev.written) for ev in lock_events if ev.key == key} - {key})
    spec = next((found for k in spellings if (found := _lock_spec(k, params, is_global, stored_into))), None)
    if spec is None:
        spec = next((found for k in spellings if (found := _returned_lock(k, key, effect, returns))), None)
    elif effect[0] == "handback" and not spec[2]:
        return None  # a parameter's lock kept on some paths and dropped on others: no contract
    if spec is None:
        return None  # the function's own lock: nothing the caller names
    lock, path, handed_back = spec
    first = next(ev for ev in lock_events if ev.key == key)
    kind = first.fn.kind
    if effect[0] == "release-when":
        return LockFunction(name, "release", lock, kind=kind, path=path, when=effect[1])
    if effect in ("release", "release-if-held"):
        # "if held": it releases only on some paths (`if (*p) unlock(*p)`), and no return
        # value tells which, or through functions that are themselves fine to call when
        # the lock is not held (`unlock_parent(db, how)`): neither is this one
        tolerant = effect != "release" or all(ev.fn.unheld_ok for ev in lock_events
                                              if ev.key == key and isinstance(ev, Release))
        return LockFunction(name, "release", lock, kind=kind, path=path, unheld_ok=tolerant)
    # `rw_enter(l, mode)` takes a reader or a writer lock as told: count it as a reader
    shared = any(getattr(ev, "shared", False) for ev in lock_events if ev.key == key)
    if effect == "acquire":
        return LockFunction(name, "acquire", lock, shared=shared, kind=kind, path=path)
    if effect[0] == "returns-try":  # returns the trylock's own result
        return dataclasses.replace(first.fn, name=name, lock=lock, path=path)
    # inferred from return values: needs a caller that relies on it, as an acquire does
    # a lookup handing its lock back through `*lockp` that sets it to NULL when it finds
    # nothing: its callers' `if (lock != NULL)` tells the outcome
    out_parameter = int(lock[3:]) if handed_back and lock.startswith("arg") else None
    clears = out_parameter if out_parameter is not None and stores_null(out_parameter) else None
    return LockFunction(name, "try-acquire", lock, shared=shared, kind=kind, path=path,
                        success=effect[1], failure=effect[2], tentative=True, clears=clears)


def _takes(result, params: list[str], steps: list, is_recursive) -> tuple:
    """Lock refs ("arg0->lock") of the locks a function with no net effect takes and
    drops itself, waiting for them, on every path through it (directly, or by calling
    a function that does): calling it with one held is a self-deadlock."""
    cfg = result.cfg
    # a lock it releases without having taken it is its caller's (`cv_wait(cv, m)` drops
    # and retakes `m`): taking it again there is no deadlock
    callers = {ev.key for ev, state in steps if isinstance(ev, Release)
               and any((f := c.get(ev.key)) is None or f.entry_held for c in state)}
    found: dict[str, None] = {}
    for block in cfg.blocks:
        candidates = []
        for ev in block.events:
            if isinstance(ev, Acquire) and not ev.shared and not is_recursive(ev.key, ev.fn) \
                    and ev.fn.scope is None and ev.key not in callers:
                candidates.append(ev.key)
            elif isinstance(ev, Call) and ev.takes:
                candidates.extend(key for key, _ in ev.takes)
        refs = [ref for key in candidates if (ref := _param_ref(key, params)) is not None and ref not in found]
        if refs and _on_every_path(cfg, block.id):
            found.update(dict.fromkeys(refs))
    return tuple(found)


def _param_ref(key: str, params: list[str]) -> Optional[str]:
    root = _ROOT.match(key)
    if root is None or root.group(0) not in params or not _PATH.match(key[root.end():]):
        return None
    return f"arg{params.index(root.group(0))}{key[root.end():]}"


def _on_every_path(cfg, block_id: int) -> bool:
    """Does every way from the entry to a return go through `block_id`?"""
    if block_id == cfg.entry:
        return True
    seen, stack = {cfg.entry}, [cfg.entry]
    while stack:
        b = stack.pop()
        if any(isinstance(ev, Return) for ev in cfg.blocks[b].events):
            return False
        for e in cfg.blocks[b].succs:
            if e.target != block_id and e.target not in seen:
                seen.add(e.target)
                stack.append(e.target)
    return True


def relied_on(steps: list) -> frozenset:
    """Names of the inferred acquire functions whose lock this function releases after
    calling them: it relies on them returning with the lock held."""
    taken_by = {ev.site: ev.fn.name for ev, _ in steps
                if isinstance(ev, LOCK_EVENTS) and not isinstance(ev, Release) and ev.fn.inferred}
    if not taken_by:
        return frozenset()
    out = set()
    for ev, state in steps:
        if isinstance(ev, Release):
            for c in state:
                f = c.get(ev.key)
                if f is not None and f.held:
                    out.update(taken_by[s] for s in f.sites if s in taken_by)
    return frozenset(out)


def _effect(key: str, returns: list, lock_events: list, releases_any: bool):
    """"none", "acquire", "release", "release-if-held", ("release-when", outcome),
    ("returns-try",), ("try", success, failure), ("handback", ...), or None."""
    per_value: dict = {}  # what is returned (see `_returned`) -> outcomes for the lock
    for ev, state in returns:
        for c in state:
            per_value.setdefault(_returned(ev.value, c), set()).add(_net(c.get(key)))
    outcomes = set().union(*per_value.values())
    if len(outcomes) > 1 and (configured := _one_configuration(key, returns)) is not None:
        return _effect(key, configured, lock_events, releases_any)
    if outcomes <= {"none", "kept"}:
        return "none"
    taken = any(ev.key == key and not isinstance(ev, Release) for ev in lock_events)
    released = any(ev.key == key and isinstance(ev, Release) for ev in lock_events)
    if outcomes == {"acquired"}:
        return "acquire" if not releases_any else None
    if outcomes == {"released"}:
        return "release" if not taken else None
    if outcomes == {"released", "none"} and not taken and set(per_value) == {_NOTHING}:
        return "release-if-held"  # a void function: nothing tells the caller which
    if "released" in outcomes and outcomes <= {"released", "kept", "none"}:
        # the caller's lock dropped on the ways out that return some values, held again
        # (or never dropped) on the others: `if (emit_unlocked(...)) unlock();`
        still = {v: {"released"} if "released" in o else {"kept"} for v, o in per_value.items()}
        if any("released" in o and len(o) > 1 for o in per_value.values()):
            return None  # one value returned both ways: nothing tells the caller
        if not set(still) <= {0, 1}:
            # an error code on the way out of the dropped window (`return -EBUSY;` before
            # the lock is taken again) is a bug on an error path, not a contract
            return None
        partition = _partition(still, "released")
        return ("release-when", partition[1]) if partition is not None else None
    if outcomes == {"acquired", "none"}:
        # taken on the ways out that return some values, not (or given back) on the others
        tries = [ev for ev in lock_events if isinstance(ev, TryAcquire) and ev.key == key]
        if not released and tries and len(tries) == len([ev for ev in lock_events if ev.key == key]) \
                and all(ev.value == tries[0].result for ev, _ in returns):
            return ("returns-try",)
        partition = _partition(per_value, "acquired")
        if partition is not None and released:
            # taken, then given back on the failing paths: a lookup handing back its object
            # locked, if the lock goes back with the object (else, a leak on an error path)
            return ("handback",) + partition[1:]
        return partition
    return None


def _one_configuration(key: str, returns: list) -> Optional[list]:
    """`returns` in the one configuration of the preprocessor where the function does
    something to `key`, when an `#if` tells its paths apart (`lock_dlerror()` takes the
    lock `#ifndef DLERROR_IS_THREADSAFE`, and is empty otherwise), else None."""
    configured = [f for _, state in returns for c in state for f in c.facts if f[0].startswith("#if ") and f[1] == "is"]
    for text in dict.fromkeys(f[0] for f in configured):
        sides: dict = {}
        for _, state in returns:
            for c in state:
                value = next((f[2] for f in c.facts if f[0] == text and f[1] == "is"), None)
                sides.setdefault(value, set()).add(_net(c.get(key)))
        if None in sides or len(sides) != 2:
            continue  # some path does not say, or only one configuration was seen
        idle = [v for v, outcomes in sides.items() if outcomes == {"none"}]
        if len(idle) == 1:
            active = next(v for v in sides if v != idle[0])
            return [(ev, tuple(c for c in state if (text, "is", active) in c.facts)) for ev, state in returns]
    return None


def _net(fact) -> str:
    """What one path did to a lock, seen from the caller."""
    if fact is None or fact.unknown:
        return "none"
    if fact.held:
        return "kept" if fact.entry_held else "acquired"
    return "released" if fact.entry_held else "none"


_NOTHING = ("nothing",)  # `return;` or the end of a void function
_OBJECT = ("object",)  # a value that is neither a constant nor known: an object, usually
_NONZERO = ("nonzero",)  # known not to be zero: an errno, `SET_ERROR(EIO)`, `err` after `if (err != 0)`
_ERRNO = re.compile(r"-?E[A-Z0-9]+\Z")
_NAMED_CONSTANT = re.compile(r"[A-Z][A-Z0-9_]*\Z")  # (errnos, `EBUSY`, are matched first: non-zero)
_ERROR_CALL = re.compile(r"[A-Za-z_]\w*\(\s*-?E[A-Z0-9]+\s*\)\Z")


def _returned(value: Optional[str], path_class):
    """What a `return value;` returns on one path class: an integer, `_NONZERO`,
    `_OBJECT` or `_NOTHING`, from the constant itself or the facts the path knows."""
    if value is None:
        return _NOTHING
    n = number(value)
    if n is not None:
        return n
    if _ERRNO.match(value) or _ERROR_CALL.match(value.replace(" ", "")):
        return _NONZERO
    if _NAMED_CONSTANT.match(value):
        return value  # an enumerator or a macro: `return DLT_PARENT;`
    for key, rel, const in path_class.facts:
        if key == value:
            if rel == "eq" and number(const) is not None:
                return number(const)
            if rel == "eq" and _NAMED_CONSTANT.match(const) and not _ERRNO.match(const):
                return const  # `ret = DLT_PARENT; ... return (ret);`
            if rel == "ne" and number(const) == 0:
                return _NONZERO
            if rel == "neg":
                return _NONZERO
    return _OBJECT


def _partition(per_value: dict, outcome: str) -> Optional[tuple]:
    """("try", success, failure) when what is returned tells whether the lock was
    `outcome` ("acquired" or "released"): 0 against non-zero values (`return 0;` /
    `return err;` after `if (err != 0)`, `return -EBUSY;`), or an object (`return hdr;`)
    against NULL."""
    held, free = set(), set()
    for value, outcomes in per_value.items():
        if value == _NOTHING or len(outcomes) != 1:
            return None  # a path that returns nothing, or both outcomes with one value
        (held if outcome in outcomes else free).add(value)
    if not held or not free:
        return None
    nonzero = lambda v: v == _NONZERO or (isinstance(v, int) and v != 0)
    if held == {0} and all(nonzero(v) for v in free):
        return ("try", "zero", "nonzero")
    if free == {0} and all(nonzero(v) or v == _OBJECT for v in held):
        return ("try", "nonzero", "zero")
    if len(held) == 1 and isinstance(named := next(iter(held)), str) \
            and all(isinstance(v, (str, int)) for v in free):
        return ("try", named, None)  # `return DLT_PARENT;` when taken, another constant when not
    return None


def _returned_lock(spelling: str, key: str, effect, returns: list) -> Optional[tuple[str, str, bool]]:
    """("return", path) when the lock (`key`, spelled `spelling`) belongs to the object the
    function returns on every path that holds it (`return db;` holding `db->db_mtx`): a
    lookup that returns its result locked."""
    if effect != "acquire" and effect[0] not in ("try", "handback"):
        return None
    holding = {ev.value for ev, state in returns if any(_net(c.get(key)) == "acquired" for c in state)}
    if len(holding) != 1 or None in holding:
        return None
    value = holding.pop()
    if not spelling.startswith(value) or not _PATH.match(spelling[len(value):]) or not spelling[len(value):]:
        return None
    return "return", spelling[len(value):], True


def _lock_spec(key: str, params: list[str], is_global, stored_into) -> Optional[tuple[str, str, bool]]:
    """(lock, path, handed back through an out-parameter) of a lock the caller can name."""
    root = _ROOT.match(key)
    if root is None:
        return None
    name, path = root.group(0), key[root.end():]
    if "[" in path:  # `lru_locks[i]` with `i` parameter 0: the caller names it `lru_locks[{arg0}]`
        path = _INDEX.sub(lambda m: f"[{{arg{params.index(m.group(1))}}}]" if m.group(1) in params else m.group(0),
                          path)
        # a constant index names the same element for the caller (`jh->state[JH_STATE_LOCK]`,
        # bit JH_STATE_LOCK of a bit spinlock's word)
        unnamed = _CONSTANT_INDEX.sub(lambda m: "" if m.group(1) is None or is_global(m.group(1)) else m.group(0), path)
        if not _INDEXED_PATH.match(unnamed):
            return None  # `q->locks[i]` with `i` a local: an index the caller cannot name
    elif not _PATH.match(path):
        return None
    if name in params:
        return f"arg{params.index(name)}", path, False
    out = stored_into(name)
    if out is not None:  # `*lockp = name;`: the caller names it by what it passed (`&hash_lock`)
        return f"arg{out}", path, True
    if is_global(name):
        # a global (not a local, a static local included): callers name it alike. (A
        # file's `static` lock too: a caller elsewhere knows it only through this
        # function and its partner, by the same name.)
        return "global", name + path, False
    return None


# -- macros ----------------------------------------------------------------------------

_DO_WHILE = re.compile(r"\Ado\s*\{(.*)\}\s*while\s*\(\s*0\s*\)\Z", re.S)
_CALL = re.compile(r"\A([A-Za-z_]\w*)\s*\((.*)\)\Z", re.S)
_IDENT = re.compile(r"[A-Za-z_]\w*\Z")


def macro_functions(definitions: tuple, known: dict) -> dict[str, LockFunction]:
    """The macros of `definitions` (see `syntax.define_directives`) that stand for one call of a
    function in `known` (name -> LockFunction), as LockFunctions of their own name."""
    out: dict[str, LockFunction] = {}
    for name, params, body in definitions:
        if name in known and (known[name].origin is not None or body.startswith(name)):
            continue  # configured, or from another file; a preset's entry gives way to the project's macro
        if params is None:  # `#define lock_it pthread_mutex_lock`
            fn = known.get(body)
            if fn is not None:
                out[name] = dataclasses.replace(fn, name=name)
            continue
        fn = _macro_call(name, list(params), body, known)
        if fn is not None:
            out[name] = fn
    return out


def _macro_call(name: str, params: list[str], body: str, known: dict) -> Optional[LockFunction]:
    body = _strip(body)
    loop = _DO_WHILE.match(body)
    if loop:
        body = _strip(loop.group(1))
    call = _CALL.match(body)
    if call is None or call.group(1) not in known:
        return None
    fn = known[call.group(1)]
    if fn.scope is not None or fn.requires or fn.excludes:
        return None  # guards and contracts need their call as written
    args = _split(call.group(2))
    if args is None:
        return None
    if fn.lock_arg is None:
        # a global lock, or the return value: the macro does what the function does
        if fn.lock == "global" and "{arg" in fn.path:  # `#define SIG_LOCK() G_LOCK(sig)`: name the lock here
            path = _named_after(fn.path, args, params)
            return dataclasses.replace(fn, name=name, path=path) if path is not None else None
        return dataclasses.replace(fn, name=name)
    if fn.lock_arg >= len(args):
        return None
    lock = _lock_text(args[fn.lock_arg])
    if lock is None:
        return None
    root = _ROOT.match(lock)
    if root is None or root.group(0) not in params:
        return None
    path = lock[root.end():] + fn.path
    if not _PATH.match(path):
        return None
    return dataclasses.replace(fn, name=name, lock=f"arg{params.index(root.group(0))}", path=path)


def _named_after(spec: str, args: list[str], params: list[str]) -> Optional[str]:
    """A global lock spec named after the call's arguments (`g__{arg0}_lock`), in terms of
    the macro's own parameters, or with the argument written in the macro's body."""
    def substitute(m: re.Match) -> str:
        i = int(m.group(1))
        text = args[i].strip() if i < len(args) else ""
        if text in params:
            return "{arg%d}" % params.index(text)
        return text if _IDENT.match(text) else "\0"
    out = re.sub(r"\{arg([0-9]+)\}", substitute, spec)
    return None if "\0" in out else out


def _strip(text: str) -> str:
    text = text.strip().rstrip(";").strip()
    while text.startswith("(") and _closing(text, 0) == len(text) - 1:
        text = text[1:-1].strip()
    while text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip().rstrip(";").strip()
    return text


def _closing(text: str, start: int) -> int:
    depth = 0
    for i in range(start, len(text)):
        if text[i] in "([{":
            depth += 1
        elif text[i] in ")]}":
            depth -= 1
            if depth == 0:
                return i
    return -1


def _split(args: str) -> Optional[list[str]]:
    out, depth, start = [], 0, 0
    for i, ch in enumerate(args):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth < 0:
                return None
        elif ch == "," and depth == 0:
            out.append(args[start:i].strip())
            start = i + 1
    if depth != 0:
        return None
    out.append(args[start:].strip())
    return out if out != [""] else []


def _lock_text(arg: str) -> Optional[str]:
    """`&(q)->lock` -> "q->lock": the identity of a macro's lock argument (see `lockexpr.key_of`)."""
    text = re.sub(r"\s+", "", arg)
    if text[:1] in ("&", "*"):
        text = text[1:]
    text = re.sub(r"\(([A-Za-z_]\w*)\)", r"\1", text)  # (q)->lock
    text = text.replace(".", "->")
    if text.startswith("(") and _closing(text, 0) == len(text) - 1:
        text = text[1:-1]
        if text[:1] in ("&", "*"):
            text = text[1:]
    return text if re.fullmatch(r"[A-Za-z_]\w*(?:->[A-Za-z_]\w*)*", text) else None


# -- descriptions (--show-summary, hover) --------------------------------------------------

def describe(fn: LockFunction) -> str:
    """What a lock function does to its caller's locks, in words: "acquire arg0->lock",
    "takes and drops arg0->mu itself (...)"."""
    if fn.action == "call":
        what = "; ".join(part for part in (
            ", then ".join(describe(step) for step in fn.steps),
            f"takes and drops {', '.join(fn.takes)} itself (calling it with that held is a self-deadlock)"
            if fn.takes else "",
            f"requires {', '.join(fn.requires)}" if fn.requires else "",
            f"must not be called holding {', '.join(fn.excludes)}" if fn.excludes else "") if part)
        return what or "takes no lock"
    what = f"{fn.config_action} {fn.lock_spec}"
    if fn.is_try:
        what += f" (held when it returns {fn.success or 'zero'})"
    if fn.unheld_ok:
        what += " (when held)"
    return what


def origin_of(fn: LockFunction, relative=lambda path: path) -> str:
    """Where a lock function's contract comes from, in words."""
    if not fn.inferred:
        return f"declared in {relative(fn.origin)}" if fn.origin else "declared in this file, a preset or the configuration"
    if fn.tentative:
        return ("inferred from its body, but not used: nothing says it is meant to return holding the lock "
                "(no caller releases what it returns holding, no annotation, no release function pairs with it), "
                "so it is reported as a leak instead")
    return "inferred from its body"
