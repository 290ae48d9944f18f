"""The project's lock graph: which locks are taken while which others are held.

A node is a lock's identity across functions (`LockIdentity`): a global
(`stats_lock`; a `static` one is `stats_lock@` in its own file and
`stats_lock@path` once exported), a field reached through a variable of a known
type (`struct dev->lock` for `&d->lock` with `struct dev *d`), or a configured
class (`class driver`). Locks reached through a variable of no known type, or
named by a bare pointer (`pthread_mutex_t *m`), have no identity here: which
lock they are differs from call to call.

An edge `A -> B` (`ordergraph.OrderEdge`) says some function takes B (directly,
or through a call whose summary says it takes B) while A is held on every path
there. Edges are read while summarising (`function.file_contracts`), merged
over the project like every other contract, and a cycle (A before B in one
function, B before A in another) is a possible deadlock: `lock-order` reports
each edge of the file that closes one (`OrderCycle`), with the other side as
related information. `write` draws the graph (Graphviz, Mermaid, SVG).

Not edges: a trylock (it never waits), a reader lock taken under another
reader lock, an acquire annotated as nested for lockdep (`mutex_lock_nested`,
`spin_lock_nested`, `mutex_enter_nested`: the author says it is an inner lock
of a hierarchy, another subclass), the read side of RCU and SRCU (it never
waits), and two locks of the same node (two `struct dev->lock` of
different devices: a hierarchy the graph cannot tell apart).
"""

from __future__ import annotations

import dataclasses
import html
import math
import os
import re
from functools import lru_cache
from typing import Callable, Iterable, Optional

from lockls.dataflow.ordergraph import OrderEdge, cycles_among
from lockls.ir.events import Acquire, Call, TryAcquire

_ROOT = re.compile(r"[A-Za-z_]\w*")
_PATH = re.compile(r"(?:(?:->)[A-Za-z_]\w*|\[\])*")
_INDEX = re.compile(r"\[[^\]]*\]")
_QUALIFIERS = re.compile(r"\b(?:const|volatile|static|register|extern|inline|__restrict|restrict)\b")
# lockdep's nesting annotations: the lock taken is of another subclass than its kind
_NESTED = re.compile(r"_nested\b|_nest_lock\b")


class LockIdentity:
    """The lock-graph node of each lock key a function names (see the module docstring).
    `types()` gives name -> declared type of every variable the function declares
    (parameters and locals, nested blocks included); `statics` the names the file
    declares `static` (see `static_names`)."""

    def __init__(self, types: Callable[[], dict], statics: frozenset, left_out: frozenset = frozenset()):
        self._types = types
        self._statics = statics
        self._left_out = left_out

    def __call__(self, key: str, lock_class: Optional[str] = None) -> Optional[str]:
        if key in self._left_out:
            return None
        if lock_class:
            return f"class {lock_class}"
        root = _ROOT.match(key)
        if root is None:
            return None
        rest = _INDEX.sub("[]", key[root.end():])
        if _PATH.fullmatch(rest) is None:
            return None  # a call, a cast or arithmetic: no stable identity
        name = root.group(0)
        types = self._types()
        if name in types:
            if not rest.startswith("->"):
                return None  # a lock pointer or a local lock: a different lock every call
            type_name = _type_name(types[name])
            return f"{type_name}{rest}" if type_name else None
        if name[:1].isupper() and name.isupper() and not rest:
            return None  # a macro's name, not a variable
        return f"{name}{rest}@" if name in self._statics else f"{name}{rest}"


_STATIC_DECLARATION = re.compile(rb"\bstatic\b[^;{}()=]*")
_WORDS = re.compile(rb"[A-Za-z_]\w*")


def static_names(source: bytes) -> frozenset:
    """Every name a `static` declaration of the file declares (with the words of its
    type): a static global is a different lock in every file. What a function's lock
    graph edges depend on outside its own text."""
    if b"static" not in source:
        return frozenset()
    return frozenset(w.decode() for m in _STATIC_DECLARATION.finditer(source) for w in _WORDS.findall(m.group()))


# read sides that never wait for anyone (RCU, SRCU): no deadlock goes through them
NEVER_WAIT_KINDS = ("rcu", "srcu")


def left_out(events: Iterable) -> frozenset:
    """The locks among `events` that are no node of the graph: those taken by a read
    side that never waits (`NEVER_WAIT_KINDS`), and those taken by a call whose
    summary is still tentative (an acquire no caller has shown it relies on yet:
    the analysis proper does not count it as taking anything)."""
    return frozenset(ev.key for ev in events if isinstance(ev, (Acquire, TryAcquire))
                     and (ev.fn.kind in NEVER_WAIT_KINDS or ev.fn.tentative))


def _type_name(declared: str) -> str:
    text = " ".join(_QUALIFIERS.sub(" ", declared).split())
    return text if text and text not in _UNTYPED else ""


# types that say nothing of what a pointer points to (`gpointer data; data->lock`)
_UNTYPED = frozenset(("void", "char", "short", "int", "long", "unsigned", "signed", "float", "double", "size_t",
                      "uintptr_t", "intptr_t", "gpointer", "gconstpointer", "caddr_t"))


def edges_at(event, state, identity: LockIdentity) -> list[tuple[str, str, str, str, object]]:
    """The lock-graph edges an event makes: (first, then, first_written, then_written,
    the held lock's fact) for every lock held on every path here and every lock the
    event takes (an acquire, or a call whose summary takes locks)."""
    if isinstance(event, Acquire):
        taken = [(event.key, event.written, event.lock_class, event.shared)]
        if _NESTED.search(event.fn.name):
            return []  # declared nested (`mutex_lock_nested(&child->lock, SUBCLASS)`): another lockdep class
    elif isinstance(event, Call) and event.takes:
        taken = [(key, written, None, False) for key, written in event.takes]
    else:
        return []
    if not state:
        return []
    out = []
    first_class = state[0]
    for key, fact in first_class.held():
        if fact.unknown or not all((f := c.get(key)) is not None and f.held for c in state[1:]):
            continue
        held_node = identity(key, fact.lock_class)
        if held_node is None:
            continue
        for new_key, written, lock_class, shared in taken:
            if new_key == key or (shared and fact.shared):
                continue
            node = identity(new_key, lock_class)
            if node is not None and node != held_node:
                out.append((held_node, node, fact.written, written, fact))
    return out


def function_edges(name: str, steps: Iterable, identity: LockIdentity) -> tuple:
    """The `OrderEdge`s of one function, from its replayed (event, state) steps."""
    found: dict = {}
    for event, state in steps:
        for first, then, first_written, then_written, _ in edges_at(event, state, identity):
            via = event.name if isinstance(event, Call) else ""
            found.setdefault((first, then), OrderEdge(first, then, first_written, then_written, name, via))
    return tuple(found.values())


def shown(node: str) -> str:
    """A node as messages show it: a static global without the file it belongs to."""
    at = node.find("@")
    return node if at < 0 else node[:at]


def stamp(node: str, path: str) -> str:
    """A file-local node (`lock@`, a static global) named for the whole project."""
    return node + path if node.endswith("@") else node


def exported(edges: tuple, path: str) -> tuple:
    """A file's edges as the project sees them: its static globals named by its path."""
    return tuple(dataclasses.replace(e, first=stamp(e.first, path), then=stamp(e.then, path), origin=e.origin or path)
                 for e in edges)


@lru_cache(maxsize=64)
def cycle_index(cycles: tuple) -> dict:
    """(first, then) -> the first `OrderCycle` given for that edge."""
    out: dict = {}
    for cycle in cycles:
        out.setdefault((cycle.first, cycle.then), cycle)
    return out


# -- drawing ---------------------------------------------------------------------------

GRAPH_FORMATS = (".dot", ".gv", ".mmd", ".svg")


def write(edges: Iterable[OrderEdge], path: str, display: Callable[[str], str] = lambda p: p) -> None:
    """Draw the lock graph of `edges` into `path`, in the format its suffix names:
    Graphviz (`.dot`, `.gv`), Mermaid (`.mmd`) or SVG (`.svg`; laid out here, no
    Graphviz needed). Edges on a cycle are red. `display` shows a file's path."""
    edges = [dataclasses.replace(e, origin=display(e.origin)) if e.origin else e for e in _one_per_pair(edges)]
    on_cycle = {(c.first, c.then) for c in cycles_among(tuple(edges))}
    suffix = os.path.splitext(path)[1].lower()
    if suffix in (".dot", ".gv"):
        text = _dot(edges, on_cycle)
    elif suffix == ".mmd":
        text = _mermaid(edges, on_cycle)
    elif suffix == ".svg":
        text = _svg(edges, on_cycle)
    else:
        raise ValueError(f"{path}: unknown lock-graph format (use one of {', '.join(GRAPH_FORMATS)})")
    with open(path, "w", encoding="utf-8") as out:
        out.write(text)


def _one_per_pair(edges: Iterable[OrderEdge]) -> list[OrderEdge]:
    found: dict = {}
    for e in sorted(edges, key=lambda e: (e.first, e.then, e.origin or "", e.function)):
        found.setdefault((e.first, e.then), e)
    return list(found.values())


def _node_label(node: str) -> str:
    at = node.find("@")
    return node if at < 0 or at == len(node) - 1 else f"{node[:at]} ({os.path.basename(node[at + 1:])})"


def _label(e: OrderEdge) -> str:
    where = f"{e.function}()" + (f" via {e.via}()" if e.via else "")
    return f"{where} in {e.origin}" if e.origin else where


def _nodes(edges: list[OrderEdge]) -> list[str]:
    return sorted({e.first for e in edges} | {e.then for e in edges})


def _dot(edges: list[OrderEdge], on_cycle: set) -> str:
    def quoted(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = ["digraph locks {", "  rankdir=LR;", '  node [shape=box, fontname="monospace"];',
             '  edge [fontname="sans-serif", fontsize=10];']
    for node in _nodes(edges):
        lines.append(f"  {quoted(node)} [label={quoted(_node_label(node))}];")
    for e in edges:
        colour = ", color=red, fontcolor=red, penwidth=2" if (e.first, e.then) in on_cycle else ""
        lines.append(f"  {quoted(e.first)} -> {quoted(e.then)} [label={quoted(_label(e))}{colour}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mermaid(edges: list[OrderEdge], on_cycle: set) -> str:
    ids = {node: f"n{i}" for i, node in enumerate(_nodes(edges))}

    def text(value: str) -> str:
        # Mermaid's entity codes: quotes and angle brackets only (`->` stays readable)
        return '"' + value.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;") + '"'

    lines = ["flowchart LR"]
    for node, ident in ids.items():
        lines.append(f"  {ident}[{text(_node_label(node))}]")
    red = []
    for i, e in enumerate(edges):
        lines.append(f"  {ids[e.first]} -->|{text(_label(e))}| {ids[e.then]}")
        if (e.first, e.then) in on_cycle:
            red.append(str(i))
    if red:
        lines.append(f"  linkStyle {','.join(red)} stroke:red,stroke-width:2px")
    return "\n".join(lines) + "\n"


def _svg(edges: list[OrderEdge], on_cycle: set) -> str:
    """Nodes on a circle, edges as straight arrows: readable for the few dozen locks
    a project has, with no layout engine to install."""
    nodes = _nodes(edges)
    count = max(len(nodes), 1)
    radius = max(160.0, 40.0 * count)
    width = max((len(_node_label(n)) for n in nodes), default=10) * 7 + 40
    size = 2 * radius + 2 * width
    centre = size / 2
    place = {n: (centre + radius * math.cos(2 * math.pi * i / count - math.pi / 2),
                 centre + radius * math.sin(2 * math.pi * i / count - math.pi / 2)) for i, n in enumerate(nodes)}
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size:.0f}" height="{size:.0f}" '
           f'viewBox="0 0 {size:.0f} {size:.0f}" font-family="monospace" font-size="12">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
           'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="context-stroke"/></marker></defs>']
    for e in edges:
        (x1, y1), (x2, y2) = place[e.first], place[e.then]
        colour = "red" if (e.first, e.then) in on_cycle else "#555"
        # stop short of the target's label, and bend so that A->B and B->A do not overlap
        dx, dy = x2 - x1, y2 - y1
        length = math.hypot(dx, dy) or 1.0
        x2s, y2s = x2 - dx / length * 18, y2 - dy / length * 18
        mx, my = (x1 + x2) / 2 - dy / length * 20, (y1 + y2) / 2 + dx / length * 20
        out.append(f'<path d="M {x1:.1f} {y1:.1f} Q {mx:.1f} {my:.1f} {x2s:.1f} {y2s:.1f}" fill="none" '
                   f'stroke="{colour}" stroke-width="{2 if colour == "red" else 1}" marker-end="url(#arrow)">'
                   f'<title>{html.escape(_node_label(e.first))} before {html.escape(_node_label(e.then))}: {html.escape(_label(e))}</title></path>')
        out.append(f'<text x="{mx:.1f}" y="{my:.1f}" fill="{colour}" font-size="10" text-anchor="middle">'
                   f'{html.escape(_label(e))}</text>')
    for node, (x, y) in place.items():
        node = _node_label(node)
        w = len(node) * 7 + 12
        out.append(f'<rect x="{x - w / 2:.1f}" y="{y - 11:.1f}" width="{w}" height="22" rx="4" fill="white" '
                   f'stroke="black"/><text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle">{html.escape(node)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
