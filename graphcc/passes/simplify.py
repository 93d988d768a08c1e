"""Algebraic simplification: a table of small rules keyed by op.

Each rule looks at a node (inputs already simplified) and returns the index of a node that
computes the same value (an existing one, or one it appends with ``b.emit``), or None. Rules
never change a value's type, so forwarding is always safe. Applied in one forward sweep; since
inputs are simplified first, chains collapse in the same sweep.
"""
from __future__ import annotations

from .. import flags
from ..ir.graph import Graph
from .manager import register_pass
from .rewrite import Rewriter


def _same_type(b, i, n):
    t = b.nodes[i]
    return t.shape == n.shape and t.dtype == n.dtype


def identity_if_scalar(value):
    def rule(n, b):   # x (op) s -> x when s is the identity element
        return n.inputs[0] if n.attr("scalar") == value else None
    return rule


def involution(n, b):       # f(f(x)) -> x  (negative, reciprocal-free)
    a = b.nodes[n.inputs[0]]
    return a.inputs[0] if a.op == n.op else None


def idempotent(n, b):       # f(f(x)) -> f(x)  (relu, abs, floor, ...)
    a = b.nodes[n.inputs[0]]
    return n.inputs[0] if a.op == n.op and a.attrs == n.attrs else None


def copy_is_identity(n, b):  # _copy(x) -> x
    return n.inputs[0]


def cast_to_same(n, b):     # cast(x, dtype(x)) -> x
    return n.inputs[0] if b.nodes[n.inputs[0]].dtype == n.dtype else None


def reshape_to_same(n, b):  # reshape(x) with x's shape -> x
    return n.inputs[0] if b.nodes[n.inputs[0]].shape == n.shape else None


def reshape_of_reshape(n, b):  # reshape(reshape(y)) back to y's shape -> y
    a = b.nodes[n.inputs[0]]
    if a.op in ("reshape", "_reshape_to"):
        src = a.inputs[0]
        return src if _same_type(b, src, n) else None
    return None


def add_zero(n, b):         # x + 0 -> x  (only if no broadcast happens)
    x, y = n.inputs
    if b.is_const(y, 0.0) and _same_type(b, x, n):
        return x
    if b.is_const(x, 0.0) and _same_type(b, y, n):
        return y
    return None


def add_into_slice(n, b):   # a + _slice_assign(0, g, box) -> _slice_add(a, g, box)
    for a, s in (n.inputs, tuple(reversed(n.inputs))):
        sn = b.nodes[s]
        if sn.op == "_slice_assign" and b.is_const(sn.inputs[0], 0.0) and \
                _same_type(b, a, n) and _same_type(b, s, n):
            attrs = {k: sn.attr(k) for k in ("begin", "end", "step")}
            return b.emit("_slice_add", [a, sn.inputs[1]], attrs, loc=n.loc)
    return None


def sub_zero(n, b):         # x - 0 -> x
    x, y = n.inputs
    return x if b.is_const(y, 0.0) and _same_type(b, x, n) else None


def mul_one(n, b):          # x * 1 -> x
    x, y = n.inputs
    if b.is_const(y, 1.0) and _same_type(b, x, n):
        return x
    if b.is_const(x, 1.0) and _same_type(b, y, n):
        return y
    return None


def div_one(n, b):          # x / 1 -> x
    x, y = n.inputs
    return x if b.is_const(y, 1.0) and _same_type(b, x, n) else None


def transpose_inverse(n, b):  # transpose(transpose(x, p), q) -> x when q undoes p
    a = b.nodes[n.inputs[0]]
    if a.op != "transpose":
        return None
    nd = len(n.shape)
    p = a.attr("axes") or tuple(reversed(range(nd)))
    q = n.attr("axes") or tuple(reversed(range(nd)))
    return a.inputs[0] if tuple(p[k] for k in q) == tuple(range(nd)) else None


def broadcast_to_same(n, b):  # broadcast to the shape it already has -> x
    return n.inputs[0] if _same_type(b, n.inputs[0], n) else None


SIMPLIFY = {
    "_plus_scalar": [identity_if_scalar(0.0)],
    "_minus_scalar": [identity_if_scalar(0.0)],
    "_mul_scalar": [identity_if_scalar(1.0)],
    "_div_scalar": [identity_if_scalar(1.0)],
    "_power_scalar": [identity_if_scalar(1.0)],
    "negative": [involution],
    "relu": [idempotent], "abs": [idempotent], "floor": [idempotent], "ceil": [idempotent],
    "round": [idempotent], "sign": [idempotent], "trunc": [idempotent],
    "_copy": [copy_is_identity],
    "cast": [cast_to_same],
    "reshape": [reshape_to_same, reshape_of_reshape],
    "_reshape_to": [reshape_to_same, reshape_of_reshape],
    "add": [add_zero, add_into_slice], "subtract": [sub_zero], "multiply": [mul_one],
    "divide": [div_one],
    "transpose": [transpose_inverse],
    "broadcast_to": [broadcast_to_same], "broadcast_like": [broadcast_to_same],
    "broadcast_axis": [broadcast_to_same],
}


@register_pass("simplify")
def simplify(g: Graph) -> Graph:
    rw = Rewriter(g)
    outputs = set(g.outputs)
    for i, n in enumerate(g.nodes):
        node = rw.remapped(n)
        target = None
        for rule in SIMPLIFY.get(n.op, ()):
            target = rule(node, rw.b)
            if target is not None:
                if flags.DEBUG >= 5:
                    print(f"simplify: %{i} {n.op} -> %{target} ({rule.__name__})")
                break
        if target is not None and not (i in outputs and rw.b.nodes[target].op == "input"):
            rw.forward(i, target)
        else:
            rw.keep(i, node)
    return rw.finish()
