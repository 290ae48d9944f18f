"""The control-flow graph of one function: blocks of lock events and the edges between
them, each edge with the condition it takes and the branch it explains. Built by
`lowering.build_cfg`; read by the fixpoint (`dataflow.solver`) and the rules. No
tree-sitter here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from lockls.ir.events import Cond, TrailItem


class Unanalysable(Exception):
    """The function contains syntax the analysis cannot follow (the reason says where)."""


@dataclass(frozen=True, slots=True)
class Edge:
    target: int
    cond: Optional[Cond] = None
    truth: bool = True
    note: Optional[TrailItem] = None


@dataclass(slots=True)
class Block:
    id: int
    events: list = field(default_factory=list)
    succs: list = field(default_factory=list)


@dataclass(slots=True)
class CFG:
    name: str
    blocks: list
    entry: int = 0
    exit: int = 1

    def reverse_postorder(self) -> list[int]:
        order, seen = [], set()
        stack = [(self.entry, iter(self.blocks[self.entry].succs))]
        seen.add(self.entry)
        while stack:
            node, it = stack[-1]
            for e in it:
                if e.target not in seen:
                    seen.add(e.target)
                    stack.append((e.target, iter(self.blocks[e.target].succs)))
                    break
            else:
                stack.pop()
                order.append(node)
        order.reverse()
        return order
