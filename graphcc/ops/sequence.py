"""Sequence, sorting and other data ops: SequenceMask, SequenceLast, SequenceReverse, topk
(composite over ``_topk``: ret_typ='both' returns [values, indices]), sort, argsort, diag (and
its adjoint ``_diag_put``), depth_to_space, space_to_depth, shape_array, size_array.
"""
from __future__ import annotations

import numpy as np

from ..errors import OpAttrError, ShapeError
from ..ir.types import TensorType
from .registry import Attr, OpDef, norm_axis, register
from .movement import _axis_box, _composite, _int_index, _no_grad, _prod


# ---------------------------------------------------------------- SequenceMask / Last / Reverse


def _seq_names(attrs):
    return ("data", "sequence_length") if attrs.get("use_sequence_length") else ("data",)


def _seq_check(in_types, attrs, axes=(0, 1)):
    data = in_types[0]
    if data.ndim < 2:
        raise ShapeError(f"data must have at least 2 dims (sequence and batch), got {data.shape}")
    ax = attrs["axis"]
    if ax not in axes:
        raise OpAttrError(f"axis={ax} is not supported (only {' or '.join(map(str, axes))})")
    if data.shape[ax] == 0:
        raise ShapeError(f"the sequence axis {ax} of data {data.shape} is empty")
    if attrs["use_sequence_length"]:
        b = data.shape[1 - ax]
        if in_types[1].shape != (b,):
            raise ShapeError(f"sequence_length must have shape ({b},) (the batch size), got "
                             f"{in_types[1].shape}")
    return ax


def _seq_same_infer(in_types, attrs):
    _seq_check(in_types, attrs)
    return in_types[0]


def _seq_mask_np(data, sequence_length=None, use_sequence_length=False, value=0.0, axis=0):
    if not use_sequence_length:
        return data.copy()
    keep = np.arange(data.shape[axis])[:, None] < _int_index(sequence_length)[None, :]  # (T, B)
    if axis == 1:
        keep = keep.T
    keep = keep.reshape(keep.shape + (1,) * (data.ndim - 2))
    return np.where(keep, data, np.asarray(value).astype(data.dtype))


def _g_seq_mask(c):
    if not c.attrs["use_sequence_length"]:
        return (c.g,)
    return (c.F.SequenceMask(c.g, c.inputs[1], use_sequence_length=True, value=0.0,
                             axis=c.attrs["axis"]), None)


register(OpDef(
    name="SequenceMask", inputs=("data", "sequence_length"), input_names=_seq_names,
    infer=_seq_same_infer, impl=_seq_mask_np,
    attrs={"use_sequence_length": Attr("bool", False), "value": Attr("float", 0.0),
           "axis": Attr("int", 0)},
    grad=_g_seq_mask, needs=(1,), nondiff=(1,),
    doc="set steps t >= sequence_length[b] to value (axis: the sequence axis, 0 or 1)"))


def _seq_last_infer(in_types, attrs):
    t = in_types[0]
    ax = _seq_check(in_types, attrs)
    return TensorType(t.shape[:ax] + t.shape[ax + 1:], t.dtype)


def _seq_last_np(data, sequence_length=None, use_sequence_length=False, axis=0):
    d = np.moveaxis(data, axis, 0)                      # (T, B, ...)
    if not use_sequence_length:
        return d[-1].copy()
    last = np.clip(_int_index(sequence_length) - 1, 0, d.shape[0] - 1)
    return d[last, np.arange(d.shape[1])]


def _g_seq_last(c):
    F, t = c.F, c.in_types[0]
    ax = c.attrs["axis"]
    n = t.shape[ax]
    g = F.expand_dims(c.g, axis=ax)
    z = F.zeros(shape=t.shape, dtype=t.dtype)
    if not c.attrs["use_sequence_length"]:
        begin, end = _axis_box(ax, n - 1, n)
        return (F._slice_assign(z, g, begin=begin, end=end),)
    batch = t.shape[1 - ax]
    lshape = ((1, batch) if ax == 0 else (batch, 1)) + (1,) * (t.ndim - 2)
    idx = F._minus_scalar(F.trunc(c.inputs[1]), scalar=1.0)
    idx = F.broadcast_to(F._reshape_to(idx, shape=lshape), shape=t.shape[:ax] + (1,) +
                         t.shape[ax + 1:])
    return (F._along_axis_add(z, idx, g, axis=ax, mode="clip"), None)


register(OpDef(
    name="SequenceLast", inputs=("data", "sequence_length"), input_names=_seq_names,
    infer=_seq_last_infer, impl=_seq_last_np,
    attrs={"use_sequence_length": Attr("bool", False), "axis": Attr("int", 0)},
    grad=_g_seq_last, needs=(1,), nondiff=(1,),
    doc="the last step of each sequence (step sequence_length[b]-1, clipped into range)"))


def _seq_rev_infer(in_types, attrs):
    _seq_check(in_types, attrs, axes=(0,))
    return in_types[0]


def _seq_rev_np(data, sequence_length=None, use_sequence_length=False, axis=0):
    if not use_sequence_length:
        return data[::-1].copy()
    out = data.copy()
    for b, n in enumerate(np.clip(_int_index(sequence_length), 0, data.shape[0])):
        out[:n, b] = data[:n, b][::-1]
    return out


def _g_seq_rev(c):
    if not c.attrs["use_sequence_length"]:
        return (c.F.SequenceReverse(c.g, axis=0),)
    return (c.F.SequenceReverse(c.g, c.inputs[1], use_sequence_length=True, axis=0), None)


register(OpDef(
    name="SequenceReverse", inputs=("data", "sequence_length"), input_names=_seq_names,
    infer=_seq_rev_infer, impl=_seq_rev_np,
    attrs={"use_sequence_length": Attr("bool", False), "axis": Attr("int", 0)},
    grad=_g_seq_rev, needs=(1,), nondiff=(1,),
    doc="reverse the first sequence_length[b] steps of each sequence (axis 0 only)"))


# ---------------------------------------------------------------- topk, sort, argsort


def _sort_geom(shape, axis, k=0):
    """(axis or None for the flattened array, length along it, k with k < 1 meaning all)."""
    if axis is None:
        ax, n = None, _prod(shape)
    else:
        if not shape:
            raise ShapeError("a 0-d array has no axis to sort along (use axis=None)")
        ax = norm_axis(axis, len(shape))
        n = shape[ax]
    if k > n:
        raise ShapeError(f"k={k} is larger than the {n} elements along the axis")
    return ax, n, n if k < 1 else k


def _order(x, axis, is_ascend):
    """Stable sorting permutation along axis; descending keeps ties in index order (as MXNet)."""
    if is_ascend:
        return np.argsort(x, axis=axis, kind="stable")
    n = x.shape[axis]
    rev = np.argsort(np.flip(x, axis), axis=axis, kind="stable")
    return n - 1 - np.flip(rev, axis)


def _topk_infer(in_types, attrs):
    t = in_types[0]
    ax, _, k = _sort_geom(t.shape, attrs["axis"], attrs["k"])
    if attrs["ret_typ"] == "mask":
        return t
    shape = (k,) if ax is None else t.shape[:ax] + (k,) + t.shape[ax + 1:]
    return TensorType(shape, t.dtype if attrs["ret_typ"] == "value" else attrs["dtype"])


def _topk_np(x, axis=-1, k=1, ret_typ="indices", is_ascend=False, dtype="float32"):
    data = x.reshape(-1) if axis is None else x
    ax, _, k = _sort_geom(x.shape, axis, k)
    ax = 0 if ax is None else ax
    idx = np.take(_order(data, ax, is_ascend), np.arange(k), axis=ax)
    if ret_typ == "indices":
        return idx.astype(dtype)
    if ret_typ == "value":
        return np.take_along_axis(data, idx, ax)
    mask = np.zeros(data.shape, x.dtype)
    np.put_along_axis(mask, idx, 1, ax)
    return mask.reshape(x.shape)


def _scatter_back(F, g, idx, t, axis):
    """Add ``g`` back at the positions ``idx`` (along axis; None: of the flattened input)."""
    if axis is None:
        flat = F._along_axis_add(F.zeros(shape=(t.size,), dtype=t.dtype), idx, g, axis=0)
        return F._reshape_to(flat, shape=t.shape)
    return F._along_axis_add(F.zeros(shape=t.shape, dtype=t.dtype), idx, g, axis=axis)


def _g_topk(c):
    if c.attrs["ret_typ"] != "value":
        return (None,)
    a = c.attrs
    idx = c.F._topk(c.inputs[0], axis=a["axis"], k=a["k"], ret_typ="indices",
                    is_ascend=a["is_ascend"], dtype="int64")
    return (_scatter_back(c.F, c.g, idx, c.in_types[0], a["axis"]),)


def _topk_attrs(ret_types):
    return {"axis": Attr("int?", -1), "k": Attr("int", 1),
            "ret_typ": Attr("str", "indices", ret_types), "is_ascend": Attr("bool", False),
            "dtype": Attr("dtype", "float32")}


def _topk_expand(F, inputs, attrs):
    if attrs["ret_typ"] == "both":
        return [F._topk(inputs[0], **{**attrs, "ret_typ": "value"}),
                F._topk(inputs[0], **{**attrs, "ret_typ": "indices"})]
    return F._topk(inputs[0], **attrs)


register(OpDef(
    name="_topk", inputs=("data",), infer=_topk_infer, impl=_topk_np,
    attrs=_topk_attrs(("indices", "mask", "value")), grad=_g_topk, needs=(0,),
    doc="topk for one ret_typ ('indices', 'value' or 'mask')"))

_inf, _imp = _composite("topk")
register(OpDef(
    name="topk", inputs=("data",), infer=_inf, impl=_imp,
    attrs=_topk_attrs(("both", "indices", "mask", "value")), expand=_topk_expand,
    doc="the k largest (or smallest) elements along axis: their indices (default, as "
        "float32), values, a 0/1 mask, or [values, indices] for ret_typ='both'; k < 1: all"))


def _sort_infer(in_types, attrs):
    t = in_types[0]
    ax, n, _ = _sort_geom(t.shape, attrs["axis"])
    shape = (n,) if ax is None else t.shape
    return TensorType(shape, attrs.get("dtype") or t.dtype)


def _sorted_idx(x, axis, is_ascend):
    data = x.reshape(-1) if axis is None else x
    ax = 0 if axis is None else axis % x.ndim
    return data, ax, _order(data, ax, is_ascend)


def _sort_np(x, axis=-1, is_ascend=True):
    data, ax, idx = _sorted_idx(x, axis, is_ascend)
    return np.take_along_axis(data, idx, ax)


def _g_sort(c):
    a = c.attrs
    idx = c.F.argsort(c.inputs[0], axis=a["axis"], is_ascend=a["is_ascend"], dtype="int64")
    return (_scatter_back(c.F, c.g, idx, c.in_types[0], a["axis"]),)


register(OpDef(
    name="sort", inputs=("data",), infer=_sort_infer, impl=_sort_np,
    attrs={"axis": Attr("int?", -1), "is_ascend": Attr("bool", True)}, grad=_g_sort,
    needs=(0,), doc="sorted along axis (None: the flattened array)"))
register(OpDef(
    name="argsort", inputs=("data",), infer=_sort_infer,
    impl=lambda x, axis=-1, is_ascend=True, dtype="float32":
    _sorted_idx(x, axis, is_ascend)[2].astype(dtype),
    attrs={"axis": Attr("int?", -1), "is_ascend": Attr("bool", True),
           "dtype": Attr("dtype", "float32")},
    grad=_no_grad, nondiff=(0,),
    doc="the permutation that sorts along axis (stable), as float32 by default"))


# ---------------------------------------------------------------- diag


def _diag_shape(shape, k, axis1, axis2):
    n = len(shape)
    if n == 0:
        raise ShapeError("diag needs an array of at least 1 dim")
    if n == 1:
        m = shape[0] + abs(k)
        return (m, m)
    a1, a2 = norm_axis(axis1, n), norm_axis(axis2, n)
    if a1 == a2:
        raise ShapeError(f"axis1 and axis2 refer to the same axis {a1}")
    s1, s2 = shape[a1], shape[a2]
    if not -s1 <= k <= s2:
        raise ShapeError(f"diagonal k={k} does not exist for axes of sizes {s1} and {s2}")
    length = max(0, min(s1 + min(k, 0), s2 - max(k, 0)))
    return tuple(d for i, d in enumerate(shape) if i not in (a1, a2)) + (length,)


_DIAG_ATTRS = {"k": Attr("int", 0), "axis1": Attr("int", 0), "axis2": Attr("int", 1)}


def _diag_np(x, k=0, axis1=0, axis2=1):
    if x.ndim == 1:
        return np.diag(x, k)
    return np.diagonal(x, k, axis1 % x.ndim, axis2 % x.ndim).copy()


def _g_diag(c):
    t, a = c.in_types[0], c.attrs
    if t.ndim == 1:
        return (c.F.diag(c.g, k=a["k"]),)
    return (c.F._diag_put(c.g, shape=t.shape, k=a["k"], axis1=a["axis1"], axis2=a["axis2"]),)


register(OpDef(
    name="diag", inputs=("data",),
    infer=lambda ts, a: TensorType(_diag_shape(ts[0].shape, a["k"], a["axis1"], a["axis2"]),
                                   ts[0].dtype),
    impl=_diag_np, attrs=dict(_DIAG_ATTRS), grad=_g_diag,
    doc="1-d: a matrix with data on diagonal k; n-d: diagonal k of axes (axis1, axis2), last"))


def _diag_put_infer(in_types, attrs):
    t, shape = in_types[0], tuple(attrs["shape"])
    if len(shape) < 2:
        raise ShapeError(f"shape {shape} must have at least 2 dims")
    want = _diag_shape(shape, attrs["k"], attrs["axis1"], attrs["axis2"])
    if t.shape != want:
        raise ShapeError(f"data of shape {t.shape} is not a diagonal of {shape} (want {want})")
    return TensorType(shape, t.dtype)


def _diag_put_np(data, shape, k=0, axis1=0, axis2=1):
    out = np.zeros(shape, data.dtype)
    n = len(shape)
    view = np.moveaxis(out, (axis1 % n, axis2 % n), (-2, -1))
    i = np.arange(data.shape[-1])
    view[..., i + max(-k, 0), i + max(k, 0)] = data
    return out


register(OpDef(
    name="_diag_put", inputs=("data",), infer=_diag_put_infer, impl=_diag_put_np,
    attrs={"shape": Attr("ints"), **_DIAG_ATTRS},
    grad=lambda c: (c.F.diag(c.g, k=c.attrs["k"], axis1=c.attrs["axis1"],
                             axis2=c.attrs["axis2"]),),
    doc="zeros of shape with data on diagonal k of (axis1, axis2) (the adjoint of diag)"))


# ---------------------------------------------------------------- depth_to_space, space_to_depth


def _d2s_shape(shape, b):
    if len(shape) != 4:
        raise ShapeError(f"needs a 4-d (N, C, H, W) input, got {tuple(shape)}")
    n, c, h, w = shape
    if b < 1 or c % (b * b):
        raise ShapeError(f"the depth {c} must be a multiple of block_size**2 = {b * b}")
    return (n, c // (b * b), h * b, w * b)


def _s2d_shape(shape, b):
    if len(shape) != 4:
        raise ShapeError(f"needs a 4-d (N, C, H, W) input, got {tuple(shape)}")
    n, c, h, w = shape
    if b < 1 or h % b or w % b:
        raise ShapeError(f"height {h} and width {w} must be multiples of block_size {b}")
    return (n, c * b * b, h // b, w // b)


def _d2s_np(x, block_size):
    b = block_size
    n, c, h, w = x.shape
    y = x.reshape(n, b, b, c // (b * b), h, w).transpose(0, 3, 4, 1, 5, 2)
    return y.reshape(_d2s_shape(x.shape, b))


def _s2d_np(x, block_size):
    b = block_size
    n, c, h, w = x.shape
    y = x.reshape(n, c, h // b, b, w // b, b).transpose(0, 3, 5, 1, 2, 4)
    return y.reshape(_s2d_shape(x.shape, b))


register(OpDef(
    name="depth_to_space", inputs=("data",),
    infer=lambda ts, a: TensorType(_d2s_shape(ts[0].shape, a["block_size"]), ts[0].dtype),
    impl=_d2s_np, attrs={"block_size": Attr("int")},
    grad=lambda c: (c.F.space_to_depth(c.g, block_size=c.attrs["block_size"]),),
    doc="move depth blocks into space: (N, C, H, W) -> (N, C/b^2, H*b, W*b)"))
register(OpDef(
    name="space_to_depth", inputs=("data",),
    infer=lambda ts, a: TensorType(_s2d_shape(ts[0].shape, a["block_size"]), ts[0].dtype),
    impl=_s2d_np, attrs={"block_size": Attr("int")},
    grad=lambda c: (c.F.depth_to_space(c.g, block_size=c.attrs["block_size"]),),
    doc="move space blocks into depth: (N, C, H, W) -> (N, C*b^2, H/b, W/b)"))


# ---------------------------------------------------------------- shape_array, size_array

register(OpDef(
    name="shape_array", inputs=("data",),
    infer=lambda ts, a: TensorType((ts[0].ndim,), "int64"),
    impl=lambda x: np.array(x.shape, np.int64), grad=_no_grad, nondiff=(0,),
    doc="the input's shape as an int64 array (values not read)"))
register(OpDef(
    name="size_array", inputs=("data",), infer=lambda ts, a: TensorType((1,), "int64"),
    impl=lambda x: np.array([x.size], np.int64), grad=_no_grad, nondiff=(0,),
    doc="the input's number of elements as an int64 array of shape (1,)"))
