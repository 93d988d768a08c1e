"""Neural-network ops: FullyConnected, Embedding, Dropout and a few losses / activations Gluon
uses (smooth_l1, softmax_cross_entropy, hard_sigmoid). The matrix products (dot, batch_dot,
linalg_gemm2) are in linalg.py, the normalisations (BatchNorm, LayerNorm, InstanceNorm,
GroupNorm, L2Normalization) in norm.py.

Semantics follow MXNet 1.9.1 (checked against it). Index inputs (Embedding data, cross-entropy
labels) are float values, truncated toward zero and clipped to the valid range.

Gradient rules are built of other ops only, so they work eagerly and in graphs, and
differentiate again. (They spell addition ``F.broadcast_add``: on a graph builder ``F.add`` is
the builder's own node-appending method.)
"""
from __future__ import annotations

import numpy as np

from ..errors import DTypeError, OpAttrError, ShapeError
from ..ir.types import TensorType, is_float
from .nnutil import _attrs_of, _float_inputs, _param_complete, _prod
from .registry import Attr, OpDef, norm_axis, register
from .rng import generator

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
    expr="np_clip({alpha} * {0} + {beta}, 0.0, 1.0)",
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
