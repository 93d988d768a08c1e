"""Recomputation (sublinear memory, after Chen et al. 2016, "Training Deep Nets with Sublinear
Memory Cost"): keep only some forward values for the backward and recompute the others there.

Stages: (1) the forward values the backward reads are the *saved* set (graph inputs and
constants are free and always kept); (2) every k-th saved value in forward order is a
checkpoint (``k = len(saved) / segments``; by default, among checkpoint sets spaced by count
and by bytes around sqrt(len(saved)), the one with the lowest peak of live bytes); random ops
and forward outputs are always checkpoints; (3) each backward node that reads a non-checkpoint
forward value gets, just before it, a clone of the forward computation of that value back to
the checkpoints; clones are shared, so every forward node is recomputed at most once: the
extra cost is bounded by one forward pass.
Run it after cse (which would merge the clones back) and before fuse / plan_memory.
"""
from __future__ import annotations

import math

from .. import ops
from ..ir.graph import Graph, Node
from ..ir.phases import forward_region


def recompute(g: Graph, segments: int | None = None) -> Graph:
    """With ``segments`` None, try checkpoint sets spaced by count and by bytes around sqrt(n)
    and keep the graph with the smallest peak of live bytes (the input graph itself when
    recomputing does not help)."""
    saved = _saved(g)
    if len(saved) < 4:
        return g
    if segments is not None:
        k = max(2, len(saved) // segments)
        return _recompute(g, set(saved[k - 1::k]))
    from .planner import build_storages, lifetimes, peak_live

    def peak(graph):
        return peak_live(build_storages(graph, lifetimes(graph))[0])
    best, best_peak = g, peak(g)                      # never worse than not recomputing
    cuts = _cuts(g)
    points = [j for j in saved if j in cuts]
    candidates = []
    for pool in ([points] if len(points) >= 2 else []) + [saved]:
        sizes = [g.nodes[j].nbytes for j in pool]
        total = sum(sizes)
        root = math.sqrt(len(pool))
        spacings = sorted({1, 2, 3} | {max(1, round(root * f)) for f in (0.5, 0.7, 1, 1.4, 2)})
        for k in spacings:
            for offset in sorted({0, k // 2}):
                candidates.append(set(pool[(k - 1 + offset) % k::k]))
            budget, acc, keep = total / k, 0, set()   # the same count, spaced by bytes
            for j, size in zip(pool, sizes):
                acc += size
                if acc >= budget:
                    keep.add(j)
                    acc = 0
            candidates.append(keep)
    tried = set()
    fwd = forward_region(g)
    for keep in candidates:
        if frozenset(keep) in tried:
            continue
        tried.add(frozenset(keep))
        cand = _recompute(g, keep, fwd)
        p = peak(cand)
        if p < best_peak:
            best, best_peak = cand, p
    return best


def _cuts(g: Graph) -> set[int]:
    """Forward values that are the only forward value alive across their own position: layer
    boundaries (a residual block's output, not the values its skip connection spans).
    Checkpoints there let each segment be recomputed from one value."""
    fwd = forward_region(g)
    order = [i for i in range(len(g.nodes)) if i in fwd]
    last = {}
    for i in order:
        for j in g.nodes[i].inputs:
            last[j] = i
    cuts, open_values = set(), set()
    for i in order:
        n = g.nodes[i]
        if n.op in ("input", "const"):
            continue
        open_values = {v for v in open_values if last.get(v, -1) > i}
        if i in last:
            open_values.add(i)
        if open_values == {i}:
            cuts.add(i)
    return cuts



def _saved(g: Graph) -> list[int]:
    """Forward values read by the backward (inputs and constants excluded), in order."""
    fwd = forward_region(g)
    if len(fwd) == len(g.nodes):
        return []
    return sorted({j for i, n in enumerate(g.nodes) if i not in fwd for j in n.inputs
                   if j in fwd and g.nodes[j].op not in ("input", "const")})


def _recompute(g: Graph, checkpoints: set, fwd: set | None = None) -> Graph:
    """Keep ``checkpoints`` (plus random ops and outputs); recompute the other saved values."""
    fwd = forward_region(g) if fwd is None else fwd
    compute = [i for i in sorted(fwd) if g.nodes[i].op not in ("input", "const")]
    outputs = set(g.outputs)
    keep = set(checkpoints) | {i for i in compute if ops.get(g.nodes[i].op).random} | \
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
            clone[u] = emit(Node(n.op, ins, n.shape, n.dtype, n.attrs,
                                 (n.loc + " (recomputed)").strip()))
        return clone[v]

    def _needs_clone(j):
        return j in fwd and j not in keep and g.nodes[j].op not in ("input", "const")

    for i, n in enumerate(g.nodes):
        if i in fwd:
            ins = tuple(remap[j] for j in n.inputs)
        else:
            ins = tuple(cloned(j) if _needs_clone(j) else remap[j] for j in n.inputs)
        remap[i] = emit(n if ins == n.inputs else Node(n.op, ins, n.shape, n.dtype, n.attrs,
                                                      n.loc))
    return Graph(tuple(nodes), tuple(remap[o] for o in g.outputs), g.consts)


def recompute_pass(segments: int | None = None):
    """A pipeline entry: ``recompute`` with ``segments`` checkpoints (default ~sqrt)."""
    def recompute_for(g: Graph) -> Graph:
        return recompute(g, segments)
    recompute_for.pass_name = "recompute"
    return recompute_for
