"""Neural-network ops: matrix products (dot, batch_dot, linalg_gemm2, FullyConnected),
Embedding, Dropout, the normalisations (BatchNorm, LayerNorm, InstanceNorm, GroupNorm,
L2Normalization) and a few losses / activations Gluon uses (smooth_l1, softmax_cross_entropy,
hard_sigmoid).

Semantics follow MXNet 1.9.1 (checked against it): ``dot`` contracts the last axis of lhs with
the first axis of rhs, and ``transpose_a``/``transpose_b`` view an N-d array as a matrix
(first axis x the rest) and transpose that, so they move the contracted axis to the other end
without reordering the kept axes. Index inputs (Embedding data, cross-entropy labels) are float
values, truncated toward zero and clipped to the valid range. GroupNorm's gamma/beta have one
value per group, as in 1.x.

Gradient rules are built of other ops only (matrix products are differentiated with the same
product op and flipped transpose flags on 2-d views), so they work eagerly and in graphs, and
differentiate again. (They spell addition ``F.broadcast_add``: on a graph builder ``F.add`` is
the builder's own node-appending method.)
"""
from __future__ import annotations

import numpy as np

from ..errors import DTypeError, OpAttrError, ShapeError
from ..ir.types import TensorType, is_float
from .registry import Attr, OpDef, norm_axis, register, same_dtype
from .rng import generator

# ---------------------------------------------------------------- small helpers


def _prod(xs) -> int:
    n = 1
    for x in xs:
        n *= int(x)
    return n


def _float_inputs(op: str, in_types) -> str:
    dt = same_dtype(op, in_types)
    if not is_float(dt):
        raise DTypeError(f"{op} supports float16/float32/float64 only, got {dt}")
    return dt


def _attrs_of(name: str, attrs) -> dict:
    """Parsed attributes with defaults (``complete`` may be handed raw user attributes)."""
    from .registry import get, normalize_attrs
    return dict(normalize_attrs(get(name), dict(attrs)))


def _shape_of(F, v) -> tuple:
    """Shape of a value in either namespace (NDArray / traced array, or a graph node id)."""
    return tuple(v.shape) if hasattr(v, "shape") else tuple(F.type(v).shape)


def _mean_keep(F, v, axes):
    return F.mean(v, axis=tuple(axes), keepdims=True) if axes else v


def _sum_keep(F, v, axes):
    return F.sum(v, axis=tuple(axes), keepdims=True) if axes else v


def _sum_to(F, v, ndim: int, keep: tuple, shape: tuple):
    """Sum ``v`` over every axis not in ``keep`` and give it ``shape`` (a parameter's)."""
    axes = tuple(i for i in range(ndim) if i not in keep)
    if axes:
        v = F.sum(v, axis=axes, keepdims=True)
    return F._reshape_to(v, shape=tuple(shape))


def _bshape(ndim: int, axis: int, c: int) -> tuple:
    """The shape that broadcasts a (c,) parameter along ``axis`` of an ndim-d array."""
    return tuple(c if i == axis else 1 for i in range(ndim))


def _param_complete(name, param_shape):
    """A ``complete`` rule: every unknown input after data gets ``param_shape(data, attrs)``."""
    def complete(shapes, attrs):
        shapes = list(shapes)
        if shapes[0] is None:
            return shapes
        a = _attrs_of(name, attrs)
        x = tuple(shapes[0])
        want = param_shape(x, a)
        return [x] + [s if s is not None else want for s in shapes[1:]]
    return complete


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


# ---------------------------------------------------------------- FullyConnected


def _fc_names(attrs):
    no_bias = Attr("bool").parse("FullyConnected", "no_bias", attrs.get("no_bias", False))
    return ("data", "weight") if no_bias else ("data", "weight", "bias")


def _fc_dims(shape, flatten):
    """(rows, in_units) of the 2-d view FullyConnected multiplies."""
    if len(shape) == 0:
        raise ShapeError("FullyConnected needs data of at least 1 dimension")
    if flatten:
        return shape[0], _prod(shape[1:])
    return _prod(shape[:-1]), shape[-1]


def _fc_out_shape(shape, attrs):
    h = attrs["num_hidden"]
    return (shape[0], h) if attrs["flatten"] else tuple(shape[:-1]) + (h,)


def _fc_infer(in_types, attrs):
    dt = _float_inputs("FullyConnected", in_types)
    x, w = in_types[0], in_types[1]
    h = attrs["num_hidden"]
    if h < 1:
        raise ShapeError(f"num_hidden must be positive, got {h}")
    _, k = _fc_dims(x.shape, attrs["flatten"])
    if w.shape != (h, k):
        how = "the product of its dims after the first" if attrs["flatten"] else "its last dim"
        raise ShapeError(f"weight of shape {w.shape} does not match data of shape {x.shape}: "
                         f"expected (num_hidden, in_units) = {(h, k)}, in_units being {how}")
    if not attrs["no_bias"] and in_types[2].shape != (h,):
        raise ShapeError(f"bias of shape {in_types[2].shape} does not match num_hidden={h}: "
                         f"expected {(h,)}")
    return TensorType(_fc_out_shape(x.shape, attrs), dt)


def _fc_np(x, w, b=None, *, num_hidden, no_bias=False, flatten=True):
    x2 = x.reshape(_fc_dims(x.shape, flatten))
    y = x2 @ w.T
    if not no_bias:
        y = y + b
    return y.reshape(_fc_out_shape(x.shape, {"num_hidden": num_hidden, "flatten": flatten}))


def _g_fc(c):
    F = c.F
    xt = c.in_types[0]
    rows, k = _fc_dims(xt.shape, c.attrs["flatten"])
    h = c.attrs["num_hidden"]
    x2 = F._reshape_to(c.inputs[0], shape=(rows, k))
    g2 = F._reshape_to(c.g, shape=(rows, h))
    gx = F._reshape_to(F.dot(g2, c.inputs[1]), shape=xt.shape)
    gw = F.dot(g2, x2, transpose_a=True)
    if c.attrs["no_bias"]:
        return gx, gw
    return gx, gw, F.sum(g2, axis=(0,))


def _fc_complete(shapes, attrs):
    a = _attrs_of("FullyConnected", attrs)
    shapes = list(shapes)
    if shapes[0] is None:
        return shapes
    _, k = _fc_dims(tuple(shapes[0]), a["flatten"])
    h = a["num_hidden"]
    filled = [tuple(shapes[0]), (h, k)] + ([] if a["no_bias"] else [(h,)])
    return [s if s is not None else f for s, f in zip(shapes, filled)]


register(OpDef(
    name="FullyConnected", inputs=("data", "weight", "bias"), input_names=_fc_names,
    infer=_fc_infer, impl=_fc_np,
    attrs={"num_hidden": Attr("int"), "no_bias": Attr("bool", False),
           "flatten": Attr("bool", True)},
    grad=_g_fc, needs=(0, 1), kind="opaque", complete=_fc_complete,
    doc="data . weight^T + bias; flatten=True multiplies (batch, prod(other dims)), "
        "flatten=False applies to the last axis"))


# ---------------------------------------------------------------- Embedding


def _clip_index(x, n):
    """Float index values as MXNet reads them: truncated toward zero, clipped to [0, n)."""
    return np.clip(np.trunc(np.asarray(x, np.float64)), 0, n - 1).astype(np.int64)


def _emb_infer(in_types, attrs):
    x, w = in_types
    n, d = attrs["input_dim"], attrs["output_dim"]
    if n < 1 or d < 1:
        raise ShapeError(f"input_dim and output_dim must be positive, got {n} and {d}")
    if w.shape != (n, d):
        raise ShapeError(f"weight of shape {w.shape} does not match (input_dim, output_dim) = "
                         f"{(n, d)}")
    if not is_float(w.dtype):
        raise DTypeError(f"Embedding weight must be floating point, got {w.dtype}")
    return TensorType(tuple(x.shape) + (d,), w.dtype)


def _emb_np(x, w, *, input_dim, output_dim, dtype="float32", sparse_grad=False):
    return w[_clip_index(x, input_dim)]


def _g_emb(c):
    F = c.F
    return None, F._nn_embedding_grad(c.inputs[0], c.g, input_dim=c.attrs["input_dim"],
                                      output_dim=c.attrs["output_dim"])


register(OpDef(
    name="Embedding", inputs=("data", "weight"), infer=_emb_infer, impl=_emb_np,
    attrs={"input_dim": Attr("int"), "output_dim": Attr("int"),
           "dtype": Attr("dtype", "float32"), "sparse_grad": Attr("bool", False)},
    grad=_g_emb, needs=(0,), kind="opaque", nondiff=(0,),
    complete=_param_complete("Embedding", lambda x, a: (a["input_dim"], a["output_dim"])),
    doc="rows of weight picked by float indices (truncated, clipped to [0, input_dim))"))


def _embg_infer(in_types, attrs):
    x, g = in_types
    d = attrs["output_dim"]
    if tuple(g.shape) != tuple(x.shape) + (d,):
        raise ShapeError(f"gradient of shape {g.shape} does not match indices {x.shape} "
                         f"with output_dim={d}")
    return TensorType((attrs["input_dim"], d), g.dtype)


def _embg_np(x, g, *, input_dim, output_dim):
    out = np.zeros((input_dim, output_dim), g.dtype)
    np.add.at(out, _clip_index(x, input_dim).reshape(-1), g.reshape(-1, output_dim))
    return out


register(OpDef(
    name="_nn_embedding_grad", inputs=("data", "grad"), infer=_embg_infer, impl=_embg_np,
    attrs={"input_dim": Attr("int"), "output_dim": Attr("int")},
    grad=lambda c: (None, c.F.Embedding(c.inputs[0], c.g, input_dim=c.attrs["input_dim"],
                                        output_dim=c.attrs["output_dim"])),
    needs=(0,), kind="opaque", nondiff=(0,),
    doc="Embedding's weight gradient: rows of grad scatter-added at the indices"))


# ---------------------------------------------------------------- Dropout


def _mask_shape(shape, axes):
    axes = {norm_axis(a, len(shape)) for a in axes}
    return tuple(1 if i in axes else d for i, d in enumerate(shape))


def _check_p(p):
    if not 0.0 <= p <= 1.0:
        raise OpAttrError(f"Dropout: p={p} must be in [0, 1]")


def _dropout_expand(F, inputs, attrs):
    (data,) = inputs
    _check_p(attrs["p"])
    if not (attrs["training"] or attrs["mode"] == "always") or attrs["p"] == 0.0:
        return F._copy(data)
    return F.multiply(data, F._nn_dropout_mask(data, p=attrs["p"], axes=attrs["axes"]))


register(OpDef(
    name="Dropout", inputs=("data",), infer=lambda ts, a: ts[0],
    impl=lambda x, **a: np.array(x, copy=True),   # never run: Dropout always expands
    attrs={"p": Attr("float", 0.5), "mode": Attr("str", "training", ("training", "always")),
           "axes": Attr("ints", ()), "cudnn_off": Attr("bool?", False),
           "training": Attr("bool", False)},
    kind="opaque", train_aware=True, expand=_dropout_expand,
    doc="when training (or mode='always'): data * mask, mask = bernoulli(1-p) / (1-p) of "
        "size 1 on `axes` (broadcast); otherwise a copy"))


def _mask_infer(in_types, attrs):
    t = in_types[0]
    _check_p(attrs["p"])
    if not is_float(t.dtype):
        raise DTypeError(f"Dropout needs floating-point data, got {t.dtype}")
    return TensorType(_mask_shape(t.shape, attrs["axes"]), t.dtype)


def _mask_np(x, *, p, axes):
    shape = _mask_shape(x.shape, axes)
    if p >= 1.0:                       # everything dropped (MXNet gives NaN here)
        return np.zeros(shape, x.dtype)
    keep = generator().random(shape) < 1.0 - p
    return keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - p))


register(OpDef(
    name="_nn_dropout_mask", inputs=("data",), infer=_mask_infer, impl=_mask_np,
    attrs={"p": Attr("float", 0.5), "axes": Attr("ints", ())},
    grad=lambda c: (None,), kind="opaque", random=True, nondiff=(0,),
    doc="Dropout's mask: 1/(1-p) with probability 1-p, else 0, shaped like data with size 1 "
        "on `axes`; data is read for its shape and dtype only (a drawn value, so forward and "
        "backward see the same mask)"))


# ---------------------------------------------------------------- normalisation helpers


def _normalize_np(x, axes, eps):
    """(x - mean) / sqrt(var + eps) over ``axes`` (biased variance), in float64."""
    x = np.asarray(x, np.float64)
    if x.size == 0:
        return x.copy()
    m = x.mean(axis=tuple(axes), keepdims=True)
    v = ((x - m) ** 2).mean(axis=tuple(axes), keepdims=True)
    return (x - m) / np.sqrt(v + eps)


def _norm_backward(F, g, x, axes, eps, gamma_b):
    """Gradient through xhat = normalize(x over axes) and y = gamma_b * xhat + beta.

    Returns (dx, xhat). ``gamma_b`` is gamma shaped to broadcast, or None for gamma = 1.
    dx = inv_std * (gx - mean(gx) - xhat * mean(gx * xhat)), gx = g * gamma.
    """
    mean = _mean_keep(F, x, axes)
    xc = F.subtract(x, mean)
    var = _mean_keep(F, F.square(xc), axes)
    inv = F.rsqrt(F._plus_scalar(var, scalar=float(eps)))
    xhat = F.multiply(xc, inv)
    gx = g if gamma_b is None else F.multiply(g, gamma_b)
    m1 = _mean_keep(F, gx, axes)
    m2 = _mean_keep(F, F.multiply(gx, xhat), axes)
    dx = F.multiply(inv, F.subtract(F.subtract(gx, m1), F.multiply(xhat, m2)))
    return dx, xhat


def _check_params(op, x, params, want, names, where):
    for name, t in zip(names, params):
        if tuple(t.shape) != tuple(want):
            raise ShapeError(f"{name} of shape {t.shape} does not match data of shape "
                             f"{x.shape}: expected {tuple(want)} ({where})")


def _no_mean_var(op, attrs):
    if attrs.get("output_mean_var"):
        raise OpAttrError(f"{op}: output_mean_var=True is not supported (only the normalised "
                          "output is returned)")


# ---------------------------------------------------------------- BatchNorm


def _bn_use_batch(attrs) -> bool:
    return bool(attrs["training"]) and not attrs["use_global_stats"]


def _bn_infer(in_types, attrs):
    _no_mean_var("BatchNorm", attrs)
    x = in_types[0]
    _float_inputs("BatchNorm", in_types)
    if x.ndim < 1:
        raise ShapeError("BatchNorm needs data of at least 1 dimension")
    ax = norm_axis(attrs["axis"], x.ndim)
    _check_params("BatchNorm", x, in_types[1:], (x.shape[ax],),
                  ("gamma", "beta", "moving_mean", "moving_var"), f"the channels on axis {ax}")
    return x


def _bn_np(x, gamma, beta, mm, mv, *, eps, fix_gamma, use_global_stats, axis, training, **_):
    ax = axis % x.ndim
    bs = _bshape(x.ndim, ax, x.shape[ax])
    if training and not use_global_stats:
        xhat = _normalize_np(x, [i for i in range(x.ndim) if i != ax], eps)
    else:
        xhat = (x.astype(np.float64) - mm.reshape(bs)) / np.sqrt(mv.reshape(bs) + eps)
    g = np.ones(bs) if fix_gamma else gamma.reshape(bs)
    return g * xhat + beta.reshape(bs)


def _g_bn(c):
    F = c.F
    a = c.attrs
    xt = c.in_types[0]
    ax = norm_axis(a["axis"], xt.ndim)
    cshape = (xt.shape[ax],)
    bs = _bshape(xt.ndim, ax, xt.shape[ax])
    x = c.inputs[0]
    gamma_b = None if a["fix_gamma"] else F._reshape_to(c.inputs[1], shape=bs)
    if _bn_use_batch(a):
        axes = tuple(i for i in range(xt.ndim) if i != ax)
        dx, xhat = _norm_backward(F, c.g, x, axes, a["eps"], gamma_b)
    else:
        mm = F._reshape_to(c.inputs[3], shape=bs)
        inv = F.rsqrt(F._plus_scalar(F._reshape_to(c.inputs[4], shape=bs),
                                     scalar=float(a["eps"])))
        xhat = F.multiply(F.subtract(x, mm), inv)
        gi = F.multiply(c.g, inv)
        dx = gi if gamma_b is None else F.multiply(gi, gamma_b)
    dgamma = None if a["fix_gamma"] else _sum_to(F, F.multiply(c.g, xhat), xt.ndim, (ax,),
                                                 cshape)
    dbeta = _sum_to(F, c.g, xt.ndim, (ax,), cshape)
    return dx, dgamma, dbeta, None, None


register(OpDef(
    name="BatchNorm", inputs=("data", "gamma", "beta", "moving_mean", "moving_var"),
    infer=_bn_infer, impl=_bn_np,
    attrs={"eps": Attr("float", 1e-3), "momentum": Attr("float", 0.9),
           "fix_gamma": Attr("bool", True), "use_global_stats": Attr("bool", False),
           "output_mean_var": Attr("bool", False), "axis": Attr("int", 1),
           "cudnn_off": Attr("bool", False), "min_calib_range": Attr("float?", None),
           "max_calib_range": Attr("float?", None), "training": Attr("bool", False)},
    grad=_g_bn, needs=(0, 1, 3, 4), kind="opaque", nondiff=(3, 4), train_aware=True,
    aux_inputs=(3, 4), aux_update=lambda F, inputs, attrs: _bn_aux_update(F, inputs, attrs),
    complete=_param_complete(
        "BatchNorm", lambda x, a: (x[norm_axis(a["axis"], len(x))],)),
    doc="normalise per channel (axis): batch statistics (biased variance) when training "
        "and not use_global_stats, moving statistics otherwise; fix_gamma uses gamma = 1. "
        "The moving statistics are updated by batchnorm_moving_update, not by this op"))


def batchnorm_moving_update(F, data, moving_mean, moving_var, attrs):
    """The new moving statistics after a training step of BatchNorm, built with ``F`` ops:
    ``momentum * old + (1 - momentum) * batch`` with the batch mean and the biased batch
    variance over every axis except ``axis`` (as MXNet 1.9 updates running_mean/var).
    Returns ``(new_mean, new_var)``; the caller stores them."""
    a = _attrs_of("BatchNorm", attrs)
    shape = _shape_of(F, data)
    ax = norm_axis(a["axis"], len(shape))
    axes = tuple(i for i in range(len(shape)) if i != ax)
    c = (shape[ax],)
    mean_k = _mean_keep(F, data, axes)
    var_k = _mean_keep(F, F.square(F.subtract(data, mean_k)), axes)
    mom = float(a["momentum"])
    new = []
    for old, batch in ((moving_mean, mean_k), (moving_var, var_k)):
        batch = F._reshape_to(batch, shape=c)
        new.append(F.broadcast_add(F._mul_scalar(old, scalar=mom),
                                   F._mul_scalar(batch, scalar=1 - mom)))
    return new[0], new[1]


def _bn_aux_update(F, inputs, attrs):
    """BatchNorm's training step moves the moving statistics (not with use_global_stats)."""
    if not _bn_use_batch(attrs):
        return []
    data, _, _, mm, mv = inputs
    new_mean, new_var = batchnorm_moving_update(F, data, mm, mv, attrs)
    return [(3, new_mean), (4, new_var)]


# ---------------------------------------------------------------- LayerNorm


def _ln_infer(in_types, attrs):
    _no_mean_var("LayerNorm", attrs)
    x = in_types[0]
    _float_inputs("LayerNorm", in_types)
    if x.ndim < 1:
        raise ShapeError("LayerNorm needs data of at least 1 dimension")
    ax = norm_axis(attrs["axis"], x.ndim)
    _check_params("LayerNorm", x, in_types[1:], (x.shape[ax],), ("gamma", "beta"),
                  f"the size of axis {ax}")
    return x


def _ln_np(x, gamma, beta, *, axis, eps, output_mean_var=False):
    ax = axis % x.ndim
    bs = _bshape(x.ndim, ax, x.shape[ax])
    return _normalize_np(x, [ax], eps) * gamma.reshape(bs) + beta.reshape(bs)


def _g_ln(c):
    F = c.F
    xt = c.in_types[0]
    ax = norm_axis(c.attrs["axis"], xt.ndim)
    bs = _bshape(xt.ndim, ax, xt.shape[ax])
    gamma_b = F._reshape_to(c.inputs[1], shape=bs)
    dx, xhat = _norm_backward(F, c.g, c.inputs[0], (ax,), c.attrs["eps"], gamma_b)
    cshape = (xt.shape[ax],)
    return (dx, _sum_to(F, F.multiply(c.g, xhat), xt.ndim, (ax,), cshape),
            _sum_to(F, c.g, xt.ndim, (ax,), cshape))


register(OpDef(
    name="LayerNorm", inputs=("data", "gamma", "beta"), infer=_ln_infer, impl=_ln_np,
    attrs={"axis": Attr("int", -1), "eps": Attr("float", 1e-5),
           "output_mean_var": Attr("bool", False)},
    grad=_g_ln, needs=(0, 1), kind="reduction",
    complete=_param_complete(
        "LayerNorm", lambda x, a: (x[norm_axis(a["axis"], len(x))],)),
    doc="normalise over one axis (biased variance), then gamma * . + beta along that axis"))


# ---------------------------------------------------------------- InstanceNorm


def _in_infer(in_types, attrs):
    x = in_types[0]
    _float_inputs("InstanceNorm", in_types)
    if x.ndim < 3:
        raise ShapeError(f"InstanceNorm needs data of rank >= 3 (N, C, ...), got {x.shape}")
    _check_params("InstanceNorm", x, in_types[1:], (x.shape[1],), ("gamma", "beta"),
                  "the channels on axis 1")
    return x


def _in_np(x, gamma, beta, *, eps):
    bs = _bshape(x.ndim, 1, x.shape[1])
    xhat = _normalize_np(x, list(range(2, x.ndim)), eps)
    return xhat * gamma.reshape(bs) + beta.reshape(bs)


def _g_in(c):
    F = c.F
    xt = c.in_types[0]
    bs = _bshape(xt.ndim, 1, xt.shape[1])
    gamma_b = F._reshape_to(c.inputs[1], shape=bs)
    dx, xhat = _norm_backward(F, c.g, c.inputs[0], tuple(range(2, xt.ndim)), c.attrs["eps"],
                              gamma_b)
    cshape = (xt.shape[1],)
    return (dx, _sum_to(F, F.multiply(c.g, xhat), xt.ndim, (1,), cshape),
            _sum_to(F, c.g, xt.ndim, (1,), cshape))


register(OpDef(
    name="InstanceNorm", inputs=("data", "gamma", "beta"), infer=_in_infer, impl=_in_np,
    attrs={"eps": Attr("float", 1e-3)}, grad=_g_in, needs=(0, 1), kind="opaque",
    complete=_param_complete("InstanceNorm", lambda x, a: (x[1] if len(x) > 1 else 1,)),
    doc="normalise each (sample, channel) over the spatial axes 2..; gamma/beta per channel"))


# ---------------------------------------------------------------- GroupNorm


def _gn_infer(in_types, attrs):
    _no_mean_var("GroupNorm", attrs)
    x = in_types[0]
    _float_inputs("GroupNorm", in_types)
    g = attrs["num_groups"]
    if x.ndim < 3:
        raise ShapeError(f"GroupNorm needs data of rank >= 3 (N, C, ...), got {x.shape}")
    if g < 1 or x.shape[1] % g:
        raise ShapeError(f"the {x.shape[1]} channels of data {x.shape} cannot be split into "
                         f"num_groups={g} groups")
    _check_params("GroupNorm", x, in_types[1:], (g,), ("gamma", "beta"),
                  "one value per group, as in MXNet 1.x")
    return x


def _gn_view(shape, groups):
    return (shape[0], groups, _prod(shape[1:]) // groups)


def _gn_np(x, gamma, beta, *, num_groups, eps, output_mean_var=False):
    xr = x.reshape(_gn_view(x.shape, num_groups))
    y = _normalize_np(xr, [2], eps) * gamma.reshape(1, -1, 1) + beta.reshape(1, -1, 1)
    return y.reshape(x.shape)


def _g_gn(c):
    F = c.F
    xt = c.in_types[0]
    groups = c.attrs["num_groups"]
    view = _gn_view(xt.shape, groups)
    x = F._reshape_to(c.inputs[0], shape=view)
    g = F._reshape_to(c.g, shape=view)
    gamma_b = F._reshape_to(c.inputs[1], shape=(1, groups, 1))
    dx, xhat = _norm_backward(F, g, x, (2,), c.attrs["eps"], gamma_b)
    return (F._reshape_to(dx, shape=xt.shape),
            _sum_to(F, F.multiply(g, xhat), 3, (1,), (groups,)),
            _sum_to(F, g, 3, (1,), (groups,)))


register(OpDef(
    name="GroupNorm", inputs=("data", "gamma", "beta"), infer=_gn_infer, impl=_gn_np,
    attrs={"num_groups": Attr("int", 1), "eps": Attr("float", 1e-5),
           "output_mean_var": Attr("bool", False)},
    grad=_g_gn, needs=(0, 1), kind="opaque",
    complete=_param_complete("GroupNorm", lambda x, a: (a["num_groups"],)),
    doc="split the channels into num_groups groups, normalise each (sample, group); "
        "gamma/beta have one value per group (MXNet 1.x)"))


# ---------------------------------------------------------------- L2Normalization

_L2_MODES = ("channel", "instance", "spatial")


def _l2_axes(ndim, mode):
    if mode == "instance":
        return tuple(range(1, ndim))
    if mode == "channel":
        return (1,)
    return tuple(range(2, ndim))


def _l2_infer(in_types, attrs):
    x = in_types[0]
    _float_inputs("L2Normalization", in_types)
    need = 1 if attrs["mode"] == "instance" else 3
    if x.ndim < need:
        raise ShapeError(f"mode={attrs['mode']!r} needs data of at least {need} dims, "
                         f"got {x.shape}")
    return x


def _l2_np(x, *, eps, mode):
    x64 = np.asarray(x, np.float64)
    axes = _l2_axes(x.ndim, mode)
    ss = np.sum(x64 * x64, axis=axes, keepdims=True) if axes else x64 * x64
    return x64 / np.sqrt(ss + eps)


def _g_l2(c):  # y = x r, r = (sum x^2 + eps)^-1/2:  dx = r (g - y sum(g y))
    F = c.F
    x = c.inputs[0]
    axes = _l2_axes(c.in_types[0].ndim, c.attrs["mode"])
    r = F.rsqrt(F._plus_scalar(_sum_keep(F, F.square(x), axes), scalar=float(c.attrs["eps"])))
    y = F.multiply(x, r)
    s = _sum_keep(F, F.multiply(c.g, y), axes)
    return (F.multiply(r, F.subtract(c.g, F.multiply(y, s))),)


register(OpDef(
    name="L2Normalization", inputs=("data",), infer=_l2_infer, impl=_l2_np,
    attrs={"eps": Attr("float", 1e-10), "mode": Attr("str", "instance", _L2_MODES)},
    grad=_g_l2, needs=(0,), kind="opaque",
    doc="x / sqrt(sum(x^2) + eps) over axes 1.. ('instance'), axis 1 ('channel') or "
        "axes 2.. ('spatial')"))


# ---------------------------------------------------------------- smooth_l1, hard_sigmoid


def _inv(v):  # 1 / v, infinite for 0 (as MXNet's float division gives)
    return 1.0 / v if v else float("inf")


def _smooth_l1_np(x, scalar=1.0):
    s2 = scalar * scalar
    ax = np.abs(x)
    return np.where(ax < _inv(s2), 0.5 * s2 * x * x, ax - 0.5 * _inv(s2))


def _g_smooth_l1(c):  # s^2 x inside |x| < 1/s^2, sign(x) outside
    F = c.F
    x = c.inputs[0]
    s2 = c.attrs["scalar"] ** 2
    inside = F._lesser_scalar(F.abs(x), scalar=_inv(s2))
    outside = F._rminus_scalar(inside, scalar=1.0)
    d = F.broadcast_add(F.multiply(inside, F._mul_scalar(x, scalar=s2)),
                        F.multiply(outside, F.sign(x)))
    return (F.multiply(c.g, d),)


register(OpDef(
    name="smooth_l1", inputs=("data",), infer=lambda ts, a: ts[0], impl=_smooth_l1_np,
    attrs={"scalar": Attr("float", 1.0)}, grad=_g_smooth_l1, needs=(0,), kind="elementwise",
    inplace=(0,),
    expr="(0.5 * {scalar} * {scalar} * {0} * {0} if abs({0}) < 1.0 / ({scalar} * {scalar}) "
         "else abs({0}) - 0.5 / ({scalar} * {scalar}))",
    doc="0.5 (s x)^2 where |x| < 1/s^2, |x| - 0.5/s^2 elsewhere (s = scalar)"))


def _g_hard_sigmoid(c):  # alpha where 0 < y < 1
    F = c.F
    y = c.out
    inside = F.multiply(F._greater_scalar(y, scalar=0.0), F._lesser_scalar(y, scalar=1.0))
    return (F.multiply(c.g, F._mul_scalar(inside, scalar=c.attrs["alpha"])),)


register(OpDef(
    name="hard_sigmoid", inputs=("data",), infer=lambda ts, a: ts[0],
    impl=lambda x, alpha=0.2, beta=0.5: np.clip(alpha * x + beta, 0.0, 1.0),
    attrs={"alpha": Attr("float", 0.2), "beta": Attr("float", 0.5)},
    grad=_g_hard_sigmoid, needs=("out",), kind="elementwise", inplace=(0,),
    expr="min(max({alpha} * {0} + {beta}, 0.0), 1.0)",
    doc="max(0, min(1, alpha * x + beta))"))


# ---------------------------------------------------------------- softmax_cross_entropy


def _sce_infer(in_types, attrs):
    x, label = in_types
    if x.ndim != 2 or label.ndim != 1 or label.shape[0] != x.shape[0]:
        raise ShapeError(f"softmax_cross_entropy needs data (batch, classes) and label "
                         f"(batch,), got {x.shape} and {label.shape}")
    if x.shape[1] < 1:
        raise ShapeError(f"data {x.shape} has no classes")
    if not is_float(x.dtype):
        raise DTypeError(f"softmax_cross_entropy needs floating-point data, got {x.dtype}")
    return TensorType((1,), x.dtype)


def _sce_np(x, label):
    x64 = np.asarray(x, np.float64)
    z = x64 - x64.max(axis=1, keepdims=True) if x64.size else x64
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    idx = _clip_index(label, x.shape[1])
    return np.array([-logp[np.arange(x.shape[0]), idx].sum()])


def _g_sce(c):  # g * (softmax(x) - onehot(label))
    F = c.F
    xt = c.in_types[0]
    onehot = F._nn_one_hot(c.inputs[1], depth=xt.shape[1], dtype=xt.dtype)
    d = F.subtract(F.softmax(c.inputs[0], axis=-1), onehot)
    return F.multiply(d, c.g), None


register(OpDef(
    name="softmax_cross_entropy", inputs=("data", "label"), infer=_sce_infer, impl=_sce_np,
    grad=_g_sce, needs=(0, 1), kind="opaque", nondiff=(1,),
    doc="sum over the batch of -log softmax(data)[i, label[i]], shape (1,); labels are "
        "truncated and clipped to [0, classes)"))


def _oh_infer(in_types, attrs):
    if attrs["depth"] < 1:
        raise ShapeError(f"depth must be positive, got {attrs['depth']}")
    return TensorType(tuple(in_types[0].shape) + (attrs["depth"],), attrs["dtype"])


def _oh_np(x, *, depth, dtype):
    idx = _clip_index(x, depth)
    return (idx[..., None] == np.arange(depth)).astype(dtype)


register(OpDef(
    name="_nn_one_hot", inputs=("indices",), infer=_oh_infer, impl=_oh_np,
    attrs={"depth": Attr("int"), "dtype": Attr("dtype", "float32")},
    grad=lambda c: (None,), kind="opaque", nondiff=(0,),
    doc="one-hot rows of float indices truncated and clipped to [0, depth)"))
