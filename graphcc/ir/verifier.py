"""The IR verifier: SSA order, known ops, normalised attributes, types that match the op's
shape rule, outputs and constants that exist."""
from __future__ import annotations

from .. import ops
from ..errors import GraphccError, VerifyError
from .printer import context


def _fail(g, i, msg):
    loc = g.nodes[i].loc if 0 <= i < len(g.nodes) else ""
    where = f" (from {loc})" if loc else ""
    raise VerifyError(f"node %{i}: {msg}{where}\n{context(g, i)}")


def verify(g) -> None:
    """Raise VerifyError describing the first broken invariant."""
    names = set()
    for i, n in enumerate(g.nodes):
        try:
            row = ops.get(n.op)
        except GraphccError:
            _fail(g, i, f"unknown op {n.op!r}")
        if row.name != n.op:
            _fail(g, i, f"op {n.op!r} is an alias; nodes use the canonical name {row.name!r}")
        for j in n.inputs:
            if not isinstance(j, int) or not 0 <= j < i:
                _fail(g, i, f"input %{j} is not an earlier node (SSA order)")
        if any(d < 0 for d in n.shape):
            _fail(g, i, f"negative dimension in shape {n.shape}")
        try:
            norm = ops.normalize_attrs(row, dict(n.attrs))
        except GraphccError as e:
            _fail(g, i, str(e))
        if norm != tuple(n.attrs):
            _fail(g, i, "attributes are not normalised (sorted, defaults filled)")
        if n.op == "input":
            if n.inputs:
                _fail(g, i, "an input node has inputs")
            if n.attr("name") in names:
                _fail(g, i, f"two graph inputs are named {n.attr('name')!r}")
            names.add(n.attr("name"))
            continue
        if n.op == "const":
            arr = g.consts.get(n.attr("name"))
            if arr is None:
                _fail(g, i, f"constant {n.attr('name')!r} has no value in Graph.consts")
            if tuple(arr.shape) != n.shape or arr.dtype.name != n.dtype:
                _fail(g, i, f"constant value {arr.dtype}{arr.shape} does not match the node")
            continue
        try:
            t = ops.infer(row, tuple(g.nodes[j].type for j in n.inputs), norm)
        except GraphccError as e:
            _fail(g, i, f"shape rule fails: {e}")
        if t.shape != n.shape or t.dtype != n.dtype:
            _fail(g, i, f"recorded type {n.type} but the op's rule gives {t}")
    if not g.outputs:
        raise VerifyError("graph has no outputs")
    _verify_kernels(g)
    for o in g.outputs:
        if not isinstance(o, int) or not 0 <= o < len(g.nodes):
            raise VerifyError(f"output %{o} does not exist ({len(g.nodes)} nodes)")


def _verify_kernels(g) -> None:
    seen = set()
    for k, ks in enumerate(g.kernels):
        if not ks or tuple(ks) != tuple(range(ks[0], ks[0] + len(ks))):
            raise VerifyError(f"kernel {k} is not a run of consecutive nodes: {ks}")
        for i in ks:
            if not 0 <= i < len(g.nodes):
                raise VerifyError(f"kernel {k} names node %{i}, which does not exist")
            if i in seen:
                _fail(g, i, "node is in two kernels")
            seen.add(i)
            if g.nodes[i].op in ("input", "const"):
                _fail(g, i, f"kernel {k} contains a graph input or constant")
        if hasattr(ks, "inputs"):       # a Kernel record: what it says must still hold
            from .graph import kernel_record
            fresh = kernel_record(g.nodes, g.outputs, tuple(ks))
            if set(fresh.inputs) != set(ks.inputs) or set(fresh.outputs) != set(ks.outputs):
                raise VerifyError(f"kernel {k} record is stale: it reads {ks.inputs} and "
                                  f"writes {ks.outputs}, the graph says {fresh.inputs} and "
                                  f"{fresh.outputs} (a pass edited it without updating "
                                  "Graph.kernels)")
            if ks.anchor is not None and ks.anchor not in ks:
                raise VerifyError(f"kernel {k}: anchor %{ks.anchor} is not a member")
