"""Common-subexpression elimination: nodes with the same op, inputs, attributes and type are
computed once. Random ops, inputs and constants are never merged."""
from __future__ import annotations

from .. import ops
from ..ir.graph import Graph
from .manager import register_pass
from .rewrite import Rewriter


@register_pass("cse")
def cse(g: Graph) -> Graph:
    rw = Rewriter(g)
    seen: dict = {}
    for i, n in enumerate(g.nodes):
        node = rw.remapped(n)
        if n.op in ("input", "const") or ops.get(n.op).random:
            rw.keep(i, node)
            continue
        key = (node.op, node.inputs, node.attrs, node.shape, node.dtype)
        if key in seen:
            rw.forward(i, seen[key])
        else:
            seen[key] = rw.keep(i, node)
    return rw.finish()
