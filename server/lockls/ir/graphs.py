"""Graph algorithms the layers above share (on any hashable nodes)."""

from __future__ import annotations

from typing import Callable, Hashable, Iterable, Sequence, TypeVar

N = TypeVar("N", bound=Hashable)


def on_cycles(nodes: Iterable[N], successors: Callable[[N], Sequence[N]]) -> dict[N, int]:
    """Strongly connected components (Tarjan's, iteratively: graphs of thousands of
    nodes): node -> its component's number, for the nodes of components of two or more
    nodes only (a node whose only cycle is an edge to itself is left out)."""
    index: dict = {}
    low: dict = {}
    on_stack: set = set()
    stack: list = []
    out: dict = {}
    counter = 0
    for start in list(nodes):
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            following = successors(node)
            if i < len(following):
                work.append((node, i + 1))
                nxt = following[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                members = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    members.append(member)
                    if member == node:
                        break
                if len(members) > 1:
                    for member in members:
                        out[member] = index[node]
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return out
