"""The lock-order graph as data: its edges (`OrderEdge`), the cycles they close
(`OrderCycle`) and the search for them. Plain data and graph search: how edges are
read from functions, and how the graph is drawn, is `lockgraph`'s business.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections import deque
from functools import lru_cache
from typing import Optional

from lockls.ir.graphs import on_cycles

MAX_CYCLE = 6  # longer cycles through type-level nodes are more likely conflations than deadlocks


@dataclass(frozen=True)
class OrderEdge:
    """In `function`, the lock `then` is taken while `first` is held (both lock-graph
    nodes, see `lockgraph.LockIdentity`): one edge of the project's lock graph."""

    first: str
    then: str
    first_written: str  # the locks as written in `function`
    then_written: str
    function: str
    via: str = ""  # the called function that takes `then`, when not taken directly
    origin: Optional[str] = None  # the file; None: the file analysed


@dataclass(frozen=True)
class OrderCycle:
    """An edge `first` -> `then` of a file that closes a cycle of the lock graph:
    `reverse` leads from `then` back to `first` elsewhere (a possible deadlock)."""

    first: str
    then: str
    reverse: tuple  # of OrderEdge



@lru_cache(maxsize=256)
def cycles_among(edges: tuple) -> tuple:
    """The `OrderCycle` of every edge that closes a cycle among `edges` (the shortest
    way back), at most `MAX_CYCLE` edges long."""
    if not edges:
        return ()
    graph: dict[str, list[OrderEdge]] = {}
    for e in edges:
        graph.setdefault(e.first, []).append(e)
    component = on_cycles(graph, lambda node: [e.then for e in graph.get(node, ())])
    out = []
    for e in edges:
        if component.get(e.first) is None or component.get(e.first) != component.get(e.then):
            continue
        back = _shortest_path(graph, e.then, e.first, component)
        if back is not None and len(back) < MAX_CYCLE:
            out.append(OrderCycle(e.first, e.then, tuple(back)))
    return tuple(out)


def _shortest_path(graph: dict, start: str, goal: str, component: dict) -> Optional[list[OrderEdge]]:
    inside = component[start]
    previous: dict[str, Optional[OrderEdge]] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            path = []
            while previous[node] is not None:
                edge = previous[node]
                path.append(edge)
                node = edge.first
            return path[::-1]
        for e in graph.get(node, ()):
            if e.then not in previous and component.get(e.then) == inside:
                previous[e.then] = e
                queue.append(e.then)
    return None
