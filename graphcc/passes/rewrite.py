"""A small helper for passes that rebuild a graph node by node with forwarding.

``Rewriter`` walks the old graph in order; for each node the pass either keeps it (with inputs
remapped to the new graph), forwards it to an existing new node, or appends something else.
"""
from __future__ import annotations

from dataclasses import replace

from ..ir.graph import Graph, GraphBuilder, Node


class Rewriter:
    def __init__(self, g: Graph):
        self.old = g
        self.b = GraphBuilder()
        self.b.consts = dict(g.consts)
        self.map: dict[int, int] = {}

    def remapped(self, n: Node) -> Node:
        return replace(n, inputs=tuple(self.map[i] for i in n.inputs))

    def keep(self, old_index: int, node: Node | None = None) -> int:
        node = node if node is not None else self.remapped(self.old.nodes[old_index])
        self.map[old_index] = self.b.append(node)
        return self.map[old_index]

    def forward(self, old_index: int, new_index: int) -> None:
        self.map[old_index] = new_index

    def finish(self) -> Graph:
        return self.b.build([self.map[o] for o in self.old.outputs])
