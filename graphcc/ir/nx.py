"""Conversion to a networkx DiGraph, for analyses and drawing."""
from __future__ import annotations

import networkx as nx

from .graph import Graph
from .types import TensorType


def to_networkx(g: Graph) -> nx.DiGraph:
    """Nodes are indices with ``op``, ``type``, ``attrs``, ``loc``; an edge j -> i carries the
    input positions (``slots``) where node i reads node j."""
    d = nx.DiGraph()
    for i, n in enumerate(g.nodes):
        d.add_node(i, op=n.op, type=str(TensorType(n.shape, n.dtype)), attrs=dict(n.attrs),
                   loc=n.loc, output=i in g.outputs)
    for i, n in enumerate(g.nodes):
        for slot, j in enumerate(n.inputs):
            if d.has_edge(j, i):
                d.edges[j, i]["slots"].append(slot)
            else:
                d.add_edge(j, i, slots=[slot])
    return d
