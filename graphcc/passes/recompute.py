"""Recomputation (sublinear memory, after Chen et al. 2016, "Training Deep Nets with Sublinear
Memory Cost"): keep only some forward values for the backward and recompute the others there.

Stages: (1) the forward values the backward reads are the *saved* set (graph inputs and
constants are free and always kept); (2) every k-th saved value in forward order is a
checkpoint (``k = len(saved) / segments``; by default the spacing and phase around
sqrt(len(saved)) with the lowest peak of live bytes is chosen); random ops and forward outputs
are always checkpoints; (3) each backward node that reads a non-checkpoint
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
    """With ``segments`` None, try checkpoint spacings around sqrt(n) and keep the graph with
    the smallest peak of live bytes (the input graph itself when recomputing does not help)."""
    if segments is not None:
        return _recompute(g, segments)
    from ..runtime.plan import build_storages, lifetimes, peak_live
    n_saved = _saved_count(g)
    if n_saved < 4:
        return g
    best, best_peak = g, peak_live(build_storages(g, lifetimes(g))[0])   # never worse
    root = math.sqrt(n_saved)
    for k in range(2, int(2 * root) + 2):
        for offset in sorted({0, k // 2}):
            cand = _recompute(g, None, k, offset)
            lt = lifetimes(cand)
            peak = peak_live(build_storages(cand, lt)[0])
            if best_peak is None or peak < best_peak:
                best, best_peak = cand, peak
    return best


def _saved_count(g: Graph) -> int:
    fwd = forward_region(g)
    return len({j for i, n in enumerate(g.nodes) if i not in fwd for j in n.inputs
                if j in fwd and g.nodes[j].op not in ("input", "const")})


def _recompute(g: Graph, segments: int | None, spacing: int | None = None,
               offset: int = 0) -> Graph:
    fwd = forward_region(g)
    if len(fwd) == len(g.nodes):
        return g                      # an inference graph: nothing is saved
    compute = [i for i in sorted(fwd) if g.nodes[i].op not in ("input", "const")]
    saved = sorted({j for i, n in enumerate(g.nodes) if i not in fwd for j in n.inputs
                    if j in fwd and g.nodes[j].op not in ("input", "const")})
    if len(saved) < 4:
        return g
    k = spacing or max(2, len(saved) // segments if segments else
                       math.ceil(math.sqrt(len(saved))))
    outputs = set(g.outputs)
    keep = set(saved[(k - 1 + offset) % k::k]) | {i for i in compute if ops.get(g.nodes[i].op).random} | \
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
