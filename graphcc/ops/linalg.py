"""Matrix-product ops: dot, batch_dot and linalg_gemm2 (FullyConnected is in nn.py).

Semantics follow MXNet 1.9.1 (checked against it): ``dot`` contracts the last axis of lhs with
the first axis of rhs, and ``transpose_a``/``transpose_b`` view an N-d array as a matrix
(first axis x the rest) and transpose that, so they move the contracted axis to the other end
without reordering the kept axes.

Gradient rules are built of other ops only: matrix products are differentiated with the same
product op and flipped transpose flags on 2-d views, so they work eagerly and in graphs, and
differentiate again.
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..ir.types import TensorType
from .nnutil import _float_inputs, _prod
from .registry import Attr, OpDef, register

# ---------------------------------------------------------------- dot


def _dot_parts(ls, rs, ta, tb):
    """(lhs kept dims, lhs contracted dim, rhs contracted dim, rhs kept dims)."""
    if len(ls) == 0 or len(rs) == 0:
        raise ShapeError("dot needs arrays of at least 1 dimension")
    if len(ls) == 1 and len(rs) == 1 and (ta or tb):
        raise ShapeError("cannot transpose vectors (both inputs are 1-d)")
    lk, lkept = (ls[0], ls[1:]) if ta else (ls[-1], ls[:-1])
    rk, rkept = (rs[-1], rs[:-1]) if tb else (rs[0], rs[1:])
    return tuple(lkept), lk, rk, tuple(rkept)


def _dot_infer(in_types, attrs):
    lhs, rhs = in_types
    dt = _float_inputs("dot", in_types)
    ta, tb = attrs["transpose_a"], attrs["transpose_b"]
    lkept, lk, rk, rkept = _dot_parts(lhs.shape, rhs.shape, ta, tb)
    if lk != rk:
        raise ShapeError(f"lhs {lhs.shape} and rhs {rhs.shape} do not fit: the contracted "
                         f"dims are {lk} and {rk} (transpose_a={ta}, transpose_b={tb})")
    return TensorType(lkept + rkept or (1,), dt)


def _dot_np(a, b, transpose_a=False, transpose_b=False, forward_stype=None):
    lkept, _, _, rkept = _dot_parts(a.shape, b.shape, transpose_a, transpose_b)
    r = np.tensordot(a, b, axes=([0 if transpose_a else a.ndim - 1],
                                 [b.ndim - 1 if transpose_b else 0]))
    return r.reshape(lkept + rkept or (1,))


def _mat_grads(F, prod, a, b, g, ta, tb, **extra):
    """Gradients of C = op(A) op(B) where ``prod(x, y, transpose_a, transpose_b)`` is the
    product op; ``a``/``b``/``g`` are the stored matrices (or batches of them)."""
    if ta:
        ga = prod(b, g, transpose_a=tb, transpose_b=True, **extra)
    else:
        ga = prod(g, b, transpose_a=False, transpose_b=not tb, **extra)
    if tb:
        gb = prod(g, a, transpose_a=True, transpose_b=ta, **extra)
    else:
        gb = prod(a, g, transpose_a=not ta, transpose_b=False, **extra)
    return ga, gb


def _dot_2d(shape, first_axis_rows: bool):
    """A 2-d view of an N-d dot operand: (first, rest) or (all but last, last)."""
    if first_axis_rows:
        return (shape[0], _prod(shape[1:]))
    return (_prod(shape[:-1]), shape[-1])


def _g_dot(c):
    F = c.F
    ta, tb = c.attrs["transpose_a"], c.attrs["transpose_b"]
    ls, rs = c.in_types[0].shape, c.in_types[1].shape
    lkept, _, _, rkept = _dot_parts(ls, rs, ta, tb)
    a = F._reshape_to(c.inputs[0], shape=_dot_2d(ls, ta))
    b = F._reshape_to(c.inputs[1], shape=_dot_2d(rs, not tb))
    g = F._reshape_to(c.g, shape=(_prod(lkept), _prod(rkept)))
    ga, gb = _mat_grads(F, F.dot, a, b, g, ta, tb)
    return F._reshape_to(ga, shape=ls), F._reshape_to(gb, shape=rs)


_DOT_ATTRS = {"transpose_a": Attr("bool", False), "transpose_b": Attr("bool", False),
              "forward_stype": Attr("str?", None, (None, "default", "csr", "row_sparse"))}

register(OpDef(
    name="dot", inputs=("lhs", "rhs"), infer=_dot_infer, impl=_dot_np, attrs=dict(_DOT_ATTRS),
    grad=_g_dot, needs=(0, 1), kind="opaque",
    doc="contract lhs's last axis (first if transpose_a) with rhs's first (last if "
        "transpose_b); 1-d . 1-d gives shape (1,)"))


# ---------------------------------------------------------------- batch_dot


def _bd_infer(in_types, attrs):
    lhs, rhs = in_types
    dt = _float_inputs("batch_dot", in_types)
    if lhs.ndim < 3 or lhs.ndim != rhs.ndim:
        raise ShapeError(f"batch_dot needs two N-d arrays with N >= 3, got {lhs.shape} and "
                         f"{rhs.shape}")
    if lhs.shape[:-2] != rhs.shape[:-2]:
        raise ShapeError(f"the leading batch dims of {lhs.shape} and {rhs.shape} must be equal")
    ta, tb = attrs["transpose_a"], attrs["transpose_b"]
    m, k = lhs.shape[-2:][::-1] if ta else lhs.shape[-2:]
    k2, n = rhs.shape[-2:][::-1] if tb else rhs.shape[-2:]
    if k != k2:
        raise ShapeError(f"lhs {lhs.shape} and rhs {rhs.shape} do not fit: the contracted "
                         f"dims are {k} and {k2} (transpose_a={ta}, transpose_b={tb})")
    return TensorType(lhs.shape[:-2] + (m, n), dt)


def _bd_np(a, b, transpose_a=False, transpose_b=False, forward_stype=None):
    a = np.swapaxes(a, -1, -2) if transpose_a else a
    b = np.swapaxes(b, -1, -2) if transpose_b else b
    return np.matmul(a, b)


def _g_bd(c):
    F = c.F
    return _mat_grads(F, F.batch_dot, c.inputs[0], c.inputs[1], c.g,
                      c.attrs["transpose_a"], c.attrs["transpose_b"])


register(OpDef(
    name="batch_dot", inputs=("lhs", "rhs"), infer=_bd_infer, impl=_bd_np,
    attrs=dict(_DOT_ATTRS), grad=_g_bd, needs=(0, 1), kind="opaque",
    doc="matrix products over the last two axes of N-d arrays (N >= 3, equal batch dims)"))


# ---------------------------------------------------------------- linalg_gemm2


def _gemm_axis(ndim, axis):
    if ndim < 2:
        raise ShapeError(f"linalg_gemm2 needs arrays of at least 2 dims, got {ndim}")
    a = axis + ndim if axis < 0 else axis
    if not 0 <= a < ndim - 1:
        raise ShapeError(f"invalid row axis {axis} for {ndim}-d inputs (must be before the "
                         "last axis, which holds the columns)")
    return a


def _gemm_infer(in_types, attrs):
    A, B = in_types
    dt = _float_inputs("linalg_gemm2", in_types)
    if A.ndim != B.ndim:
        raise ShapeError(f"A {A.shape} and B {B.shape} must have the same number of dims")
    ax = _gemm_axis(A.ndim, attrs["axis"])
    ta, tb = attrs["transpose_a"], attrs["transpose_b"]
    batch = [i for i in range(A.ndim) if i not in (ax, A.ndim - 1)]
    if any(A.shape[i] != B.shape[i] for i in batch):
        raise ShapeError(f"A {A.shape} and B {B.shape} must agree on every axis except the "
                         f"row axis {ax} and the column axis {A.ndim - 1}")
    m, k = (A.shape[-1], A.shape[ax]) if ta else (A.shape[ax], A.shape[-1])
    k2, n = (B.shape[-1], B.shape[ax]) if tb else (B.shape[ax], B.shape[-1])
    if k != k2:
        raise ShapeError(f"A {A.shape} and B {B.shape} do not fit: the contracted dims are "
                         f"{k} and {k2} (transpose_a={ta}, transpose_b={tb}, axis={ax})")
    out = list(A.shape)
    out[ax], out[-1] = m, n
    return TensorType(tuple(out), dt)


def _gemm_np(a, b, transpose_a=False, transpose_b=False, alpha=1.0, axis=-2):
    ax = _gemm_axis(a.ndim, axis)
    a = np.swapaxes(a, ax, -2)
    b = np.swapaxes(b, ax, -2)
    a = np.swapaxes(a, -1, -2) if transpose_a else a
    b = np.swapaxes(b, -1, -2) if transpose_b else b
    return np.swapaxes(alpha * np.matmul(a, b), ax, -2)


def _g_gemm(c):
    F = c.F
    return _mat_grads(F, F.linalg_gemm2, c.inputs[0], c.inputs[1], c.g,
                      c.attrs["transpose_a"], c.attrs["transpose_b"],
                      alpha=c.attrs["alpha"], axis=c.attrs["axis"])


register(OpDef(
    name="linalg_gemm2", inputs=("A", "B"), infer=_gemm_infer, impl=_gemm_np,
    attrs={"transpose_a": Attr("bool", False), "transpose_b": Attr("bool", False),
           "alpha": Attr("float", 1.0), "axis": Attr("int", -2)},
    grad=_g_gemm, needs=(0, 1), kind="opaque", aliases=("_linalg_gemm2",),
    doc="alpha * op(A) op(B) over matrices with rows on `axis` and columns on the last axis"))
