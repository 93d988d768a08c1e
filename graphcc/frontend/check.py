"""``hybridize(check=True)``: run a block eagerly and compiled side by side on the first call of
each signature, and report the first node where the compiled program goes wrong.

Stages:
1. Run the block's Python eagerly (hybridization switched off for it and its children,
   autograd paused) and run the compiled program's forward on the same inputs, recording the
   value of every node it executes. Equal outputs: done.
2. Otherwise run the *unoptimised* traced graph with the reference interpreter, recording
   every value, and match its nodes to the compiled program's nodes by (op, attrs, loc, type),
   the k-th occurrence to the k-th. The first traced node (in graph order) whose value differs
   from its match is reported: a ``CheckError`` naming its op and the user's source line.
3. If no matched node differs, compare the eager outputs with the interpreted traced graph:
   a difference there means the trace itself is not what the block computes.
Values downstream of random ops (Dropout in training) are not compared: the two runs draw
different numbers. Only the forward program is checked; gradients are not.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from .. import ops
from ..errors import CheckError
from ..ir.interp import interpret
from ..ir.printer import context
from . import autograd
from .ndarray import NDArray

RTOL, ATOL = 1e-4, 1e-5


def check_entry(cached, entry, args, arrays) -> None:
    """Compare the compiled ``entry`` with eager execution of ``cached.block`` on ``args``;
    raise ``CheckError`` at the first diverging node."""
    block = cached.block
    name = type(block).__name__
    inputs = [_np(x) for x in cached._inputs(entry, arrays, arrays[0].context)]
    n = entry.trace.n_outputs
    eager = [_np(o) for o in _flat(_eager(block, args))]
    compiled_vals: dict[int, np.ndarray] = {}

    def keep(i, node, value):
        compiled_vals[i] = np.array(value, copy=True)
    outs, _ = entry.exe.forward(inputs, keep)
    outs = [np.asarray(o) for o in outs[:n]]
    if len(eager) != n:
        raise CheckError(f"hybridize(check=True): {name} returned {len(eager)} arrays eagerly "
                         f"but {n} from the traced graph")
    g = entry.trace.graph
    tainted = _random_dependent(g)
    bad = [k for k, (e, c) in enumerate(zip(eager, outs))
           if g.outputs[k] not in tainted and not _close(e, c)]
    if not bad:
        return
    k = bad[0]
    head = (f"hybridize(check=True): {name}: output {k} of the compiled graph differs from "
            f"eager execution ({_diff(outs[k], eager[k])})")
    if entry.exe.backend != "interp":
        # generated code keeps only the values kernels materialise: run the same optimised
        # graph with the reference interpreter; if that agrees with eager mode, the generated
        # code is at fault, else a pass is (and every node's value is now known)
        gen_vals = compiled_vals
        compiled_vals = {}
        routs, _ = entry.exe.forward(inputs, keep, reference=True)
        if all(g.outputs[q] in tainted or _close(e, c) for q, (e, c) in
               enumerate(zip(eager, routs[:n]))):
            _blame_kernel(entry.exe, head, gen_vals, compiled_vals, tainted)
    ref_vals: dict[int, np.ndarray] = {}

    def keep_ref(i, node, value):
        ref_vals[i] = np.array(value, copy=True)
    interpret(g, inputs, keep_ref)
    passes = ", ".join(r.name for r in entry.exe.pipeline.records if not r.skipped) \
        if entry.exe.pipeline is not None else "?"
    found = _first_divergence(g, entry.exe.graph, ref_vals, compiled_vals, tainted)
    if found is not None:
        i, j = found
        node = g.nodes[i]
        where = node.loc or "unknown line"
        raise CheckError(
            f"{head}.\nFirst diverging node of the traced graph: %{i} = {node.op} at {where}: "
            f"the compiled program's value (node %{j}) differs from the reference "
            f"({_diff(compiled_vals[j], ref_vals[i])}).\n{context(g, i)}\n"
            f"passes run: {passes}", op=node.op, loc=node.loc, node=i)
    ref_out = [ref_vals[o] if o in ref_vals else inputs[g.input_ids.index(o)]
               for o in g.outputs[:n]]
    o = g.outputs[k]
    node = g.nodes[o]
    if not _close(eager[k], ref_out[k]):
        raise CheckError(f"{head}.\nThe traced graph itself computes something else than the "
                         f"eager block (output %{o} = {node.op} at {node.loc or '?'}): a "
                         "tracing bug, or Python in the block that depends on values",
                         op=node.op, loc=node.loc, node=o)
    raise CheckError(f"{head}.\nNo single node of the traced graph could be matched to the "
                     f"difference (it may lie in a node the passes rewrote); output %{o} = "
                     f"{node.op} at {node.loc or '?'}.\npasses run: {passes}",
                     op=node.op, loc=node.loc, node=o)


def _blame_kernel(exe, head, gen_vals, ref_vals, tainted):
    """Name the first generated kernel whose output differs from the reference interpreter's
    value of the same node (both ran the same optimised graph)."""
    cg = exe.graph
    cg_tainted = _random_dependent(cg)
    for st in exe.program.forward.steps:
        for v in st.outs:
            if v in cg_tainted or v not in gen_vals or v not in ref_vals:
                continue
            if not _close(gen_vals[v], ref_vals[v]):
                node = cg.nodes[v]
                src = getattr(getattr(st, "kernel", None) or getattr(st, "epi", None),
                              "source", None)
                from ..codegen.cache import CACHE
                path = CACHE.path_of(src) if src else None
                raise CheckError(
                    f"{head}.\nThe {exe.backend} backend's code differs from the reference "
                    f"interpreter on the same optimised graph: {st.describe(cg)} writes %{v} "
                    f"= {node.op} at {node.loc or 'unknown line'} "
                    f"({_diff(gen_vals[v], ref_vals[v])})"
                    + (f"\ngenerated source: {path}" if path else ""),
                    op=node.op, loc=node.loc, node=v)
    raise CheckError(f"{head}.\nThe {exe.backend} backend's outputs differ from the reference "
                     "interpreter's on the same optimised graph, but no single kernel output "
                     "could be blamed")


def _first_divergence(g, cg, ref_vals, compiled_vals, tainted):
    """(traced node, compiled node) of the first traced node whose matched compiled value
    differs, or None."""
    by_key: dict[tuple, list[int]] = defaultdict(list)
    for j, n in enumerate(cg.nodes):
        if n.op not in ("input", "const"):
            by_key[_key(n)].append(j)
    seen: dict[tuple, int] = defaultdict(int)
    for i, n in enumerate(g.nodes):
        if n.op in ("input", "const"):
            continue
        key = _key(n)
        k = seen[key]
        seen[key] += 1
        if k >= len(by_key[key]) or i in tainted or i not in ref_vals:
            continue
        j = by_key[key][k]
        if j in compiled_vals and not _close(compiled_vals[j], ref_vals[i]):
            return i, j
    return None


def _key(n):
    return (n.op, n.attrs, n.loc, n.shape, n.dtype)


def _random_dependent(g) -> set[int]:
    out: set[int] = set()
    for i, n in enumerate(g.nodes):
        if n.op in ("input", "const"):
            continue
        if ops.get(n.op).random or any(j in out for j in n.inputs):
            out.add(i)
    return out


def _eager(block, args):
    """The block's outputs computed op by op (hybridization off for the whole subtree)."""
    from .gluon.block import HybridBlock
    switched = []

    def off(b):
        if isinstance(b, HybridBlock) and b._active:
            b._active = False
            switched.append(b)
        for c in b._children.values():
            off(c)
    off(block)
    try:
        with autograd.pause(autograd.is_training()):
            return block.forward(*args)
    finally:
        for b in switched:
            b._active = True


def _flat(x):
    if isinstance(x, (list, tuple)):
        return [a for v in x for a in _flat(v)]
    return [x]


def _np(x):
    return x._data if isinstance(x, NDArray) else np.asarray(x)


def _close(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    return bool(np.allclose(a.astype(np.float64), b.astype(np.float64), rtol=RTOL, atol=ATOL,
                            equal_nan=True))


def _diff(got, want) -> str:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        return f"shape {got.shape} instead of {want.shape}"
    d = np.abs(got - want)
    return f"max abs diff {np.nanmax(d) if d.size else 0:.3g}"
