"""Recomputation (sublinear memory, after Chen et al. 2016, "Training Deep Nets with Sublinear
Memory Cost"): keep only some forward values for the backward and recompute the others there.

Stages: (1) the forward values the backward reads are the *saved* set (graph inputs and
constants are free and always kept); (2) every k-th saved value in forward order is a
checkpoint, k ~ sqrt(len(saved)) by default (or ``len(saved) / segments``); random ops and
forward outputs are always checkpoints; (3) each backward node that reads a non-checkpoint
forward value gets, just before it, a clone of the forward computation of that value back to
the checkpoints; clones are shared, so every forward node is recomputed at most once: the
extra cost is bounded by one forward pass.
Run it after cse (which would merge the clones back) and before fuse / plan_memory.
"""
from __future__ import annotations

import math
from dataclasses import replace

from .. import ops
from ..ir.graph import Graph
from ..ir.phases import forward_region


def recompute(g: Graph, segments: int | None = None) -> Graph:
    fwd = forward_region(g)
    if len(fwd) == len(g.nodes):
        return g                      # an inference graph: nothing is saved
    compute = [i for i in sorted(fwd) if g.nodes[i].op not in ("input", "const")]
    saved = sorted({j for i, n in enumerate(g.nodes) if i not in fwd for j in n.inputs
                    if j in fwd and g.nodes[j].op not in ("input", "const")})
    if len(saved) < 4:
        return g
    k = max(2, len(saved) // segments if segments else math.ceil(math.sqrt(len(saved))))
    outputs = set(g.outputs)
    keep = set(saved[k - 1::k]) | {i for i in compute if ops.get(g.nodes[i].op).random} | \
        {i for i in compute if i in outputs}
    nodes: list = []
    remap: dict[int, int] = {}
    clone: dict[int, int] = {}

    def emit(node):
        nodes.append(node)
        return len(nodes) - 1

    def cloned(v):
        """Index of a recomputed copy of forward value v (emitted on first need)."""
        if v in clone:
            return clone[v]
        stack = [v]
        while stack:
            u = stack[-1]
            if u in clone:
                stack.pop()
                continue
            pending = [j for j in g.nodes[u].inputs if _needs_clone(j) and j not in clone]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            n = g.nodes[u]
            ins = tuple(clone[j] if _needs_clone(j) else remap[j] for j in n.inputs)
            clone[u] = emit(replace(n, inputs=ins, loc=(n.loc + " (recomputed)").strip()))
        return clone[v]

    def _needs_clone(j):
        return j in fwd and j not in keep and g.nodes[j].op not in ("input", "const")

    for i, n in enumerate(g.nodes):
        if i in fwd:
            remap[i] = emit(replace(n, inputs=tuple(remap[j] for j in n.inputs)))
            continue
        ins = tuple(cloned(j) if _needs_clone(j) else remap[j] for j in n.inputs)
        remap[i] = emit(replace(n, inputs=ins))
    return Graph(tuple(nodes), tuple(remap[o] for o in g.outputs), g.consts)


def recompute_pass(segments: int | None = None):
    """A pipeline entry: ``recompute`` with ``segments`` checkpoints (default ~sqrt)."""
    def recompute_for(g: Graph) -> Graph:
        return recompute(g, segments)
    recompute_for.pass_name = "recompute"
    return recompute_for
