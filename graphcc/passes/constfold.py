"""Constant folding: a node whose inputs are all constants is computed at compile time and
becomes a ``const`` node. Random ops are never folded; sources (zeros, ones...) stay as they
are unless a consumer folds them away; results above a size limit are left alone."""
from __future__ import annotations

import numpy as np

from .. import ops
from ..ir.graph import Graph, Node
from .manager import register_pass
from .rewrite import Rewriter

MAX_ELEMENTS = 1 << 16
_SOURCES = ("zeros", "ones", "full", "arange", "eye", "linspace")


def _value(b, i):
    n = b.nodes[i]
    if n.op == "const":
        return b.consts[n.attr("name")]
    return ops.run_impl(ops.get(n.op), [], n.attrs, n.type)


@register_pass("constant_fold")
def constant_fold(g: Graph) -> Graph:
    rw = Rewriter(g)
    b = rw.b
    for i, n in enumerate(g.nodes):
        node = rw.remapped(n)
        row = ops.get(n.op)
        foldable = (n.op not in ("input", "const") and n.op not in _SOURCES and not row.random
                    and node.inputs and row.expand is None
                    and all(b.nodes[j].op == "const" or b.nodes[j].op in _SOURCES
                            for j in node.inputs)
                    and int(np.prod(node.shape)) <= MAX_ELEMENTS)
        if not foldable:
            rw.keep(i, node)
            continue
        with np.errstate(all="ignore"):
            value = ops.run_impl(row, [_value(b, j) for j in node.inputs], node.attrs, node.type)
        name = f"fold{i}"
        while name in b.consts:
            name += "_"
        b.consts[name] = np.ascontiguousarray(value)
        rw.keep(i, Node("const", (), node.shape, node.dtype, (("name", name),), node.loc))
    return rw.finish()
