"""Gathering and scattering ops: take, pick, one_hot, gather_nd, scatter_nd.

Index inputs may be of any numeric dtype; float indices are truncated toward zero, as MXNet
casts them. Out-of-range indices are clipped (``mode='clip'``) or wrapped (``'wrap'``); gather_nd
and scatter_nd wrap negative indices once and clip the rest (MXNet leaves that undefined).

Internal ops used by gradient rules (each differentiable, each the adjoint of a gather):
``_index_add`` (of take), ``_take_along_axis`` / ``_along_axis_add`` (of pick, sort, topk,
SequenceLast), ``_backward_gather_nd`` (of gather_nd).
"""
from __future__ import annotations

import numpy as np

from ..errors import OpAttrError, ShapeError
from ..ir.types import TensorType
from .registry import Attr, OpDef, norm_axis, register, same_dtype
from .movement import _fit_index, _int_index, _no_grad


# ---------------------------------------------------------------- take and its adjoint


def _take_shape(a, idx, axis):
    if not a.shape:
        raise ShapeError("cannot take from a 0-d array")
    ax = norm_axis(axis, a.ndim)
    if a.shape[ax] == 0 and idx.size:
        raise ShapeError(f"axis {ax} has size 0: there is nothing to take")
    return ax, a.shape[:ax] + idx.shape + a.shape[ax + 1:]


def _take_infer(in_types, attrs):
    a, idx = in_types
    return TensorType(_take_shape(a, idx, attrs["axis"])[1], a.dtype)


def _take_np(a, indices, axis=0, mode="clip"):
    ax = axis % a.ndim
    return np.take(a, _fit_index(_int_index(indices), a.shape[ax], mode, "take"), axis=ax)


def _g_take(c):
    F, t = c.F, c.in_types[0]
    z = F.zeros(shape=t.shape, dtype=t.dtype)
    return (F._index_add(z, c.inputs[1], c.g, axis=c.attrs["axis"], mode=c.attrs["mode"]), None)


_MODE3 = Attr("str", "clip", ("clip", "wrap", "raise"))

register(OpDef(
    name="take", inputs=("a", "indices"), infer=_take_infer, impl=_take_np,
    attrs={"axis": Attr("int", 0), "mode": _MODE3}, grad=_g_take, needs=(1,), nondiff=(1,),
    doc="slices of a along axis at the given indices (out-of-range: clip, wrap or raise)"))


def _index_add_infer(in_types, attrs):
    data, idx, val = in_types
    _, shape = _take_shape(data, idx, attrs["axis"])
    if val.shape != shape:
        raise ShapeError(f"value of shape {val.shape} does not match take's output {shape}")
    same_dtype("_index_add", (data, val))
    return data


def _index_add_np(data, indices, value, axis=0, mode="clip"):
    ax = axis % data.ndim
    mode = "clip" if mode == "raise" else mode
    idx = _fit_index(_int_index(indices), data.shape[ax], mode, "_index_add").reshape(-1)
    out = data.copy()
    v = value.reshape(data.shape[:ax] + (idx.size,) + data.shape[ax + 1:])
    np.add.at(np.moveaxis(out, ax, 0), idx, np.moveaxis(v, ax, 0))
    return out


register(OpDef(
    name="_index_add", inputs=("data", "indices", "value"), infer=_index_add_infer,
    impl=_index_add_np, attrs={"axis": Attr("int", 0), "mode": _MODE3},
    grad=lambda c: (c.g, None, c.F.take(c.g, c.inputs[1], axis=c.attrs["axis"],
                                        mode=c.attrs["mode"])),
    needs=(1,), nondiff=(1,), inplace=(0,),
    doc="data with value added at take's positions (the adjoint of take)"))


# ---------------------------------------------------------------- along an axis: pick and friends

_MODE2 = Attr("str", "clip", ("clip", "wrap"))


def _along_axis(data, idx, axis):
    if not data.shape:
        raise ShapeError("needs an array of at least 1 dim")
    ax = norm_axis(axis, data.ndim)
    if idx.ndim != data.ndim or any(
            i != d for k, (i, d) in enumerate(zip(idx.shape, data.shape)) if k != ax):
        raise ShapeError(f"indices of shape {idx.shape} must match data {data.shape} except "
                         f"along axis {ax}")
    if data.shape[ax] == 0 and idx.size:
        raise ShapeError(f"axis {ax} has size 0: there is nothing to pick")
    return ax


def _tala_np(data, indices, axis=0, mode="clip"):
    ax = axis % data.ndim
    idx = _fit_index(_int_index(indices), data.shape[ax], mode, "_take_along_axis")
    return np.take_along_axis(data, idx, ax)


def _g_tala(c):
    F, t = c.F, c.in_types[0]
    z = F.zeros(shape=t.shape, dtype=t.dtype)
    return (F._along_axis_add(z, c.inputs[1], c.g, axis=c.attrs["axis"], mode=c.attrs["mode"]),
            None)


def _tala_infer(in_types, attrs):
    _along_axis(in_types[0], in_types[1], attrs["axis"])
    return TensorType(in_types[1].shape, in_types[0].dtype)


register(OpDef(
    name="_take_along_axis", inputs=("data", "indices"), infer=_tala_infer, impl=_tala_np,
    attrs={"axis": Attr("int", 0), "mode": _MODE2}, grad=_g_tala, needs=(1,),
    nondiff=(1,), doc="NumPy's take_along_axis (indices clipped or wrapped)"))


def _aaa_infer(in_types, attrs):
    data, idx, val = in_types
    _along_axis(data, idx, attrs["axis"])
    if val.shape != idx.shape:
        raise ShapeError(f"value of shape {val.shape} must have the indices' shape {idx.shape}")
    same_dtype("_along_axis_add", (data, val))
    return data


def _aaa_np(data, indices, value, axis=0, mode="clip"):
    ax = axis % data.ndim
    idx = _fit_index(_int_index(indices), data.shape[ax], mode, "_along_axis_add")
    where = list(np.ix_(*[np.arange(n) for n in idx.shape]))
    where[ax] = idx
    out = data.copy()
    np.add.at(out, tuple(where), value)
    return out


register(OpDef(
    name="_along_axis_add", inputs=("data", "indices", "value"), infer=_aaa_infer,
    impl=_aaa_np, attrs={"axis": Attr("int", 0), "mode": _MODE2},
    grad=lambda c: (c.g, None, c.F._take_along_axis(c.g, c.inputs[1], axis=c.attrs["axis"],
                                                    mode=c.attrs["mode"])),
    needs=(1,), nondiff=(1,), inplace=(0,),
    doc="data with value added at the positions of indices along axis (adjoint of "
        "_take_along_axis)"))


def _pick_shapes(data, index, attrs):
    """(axis, index shape with the axis kept as 1, output shape)."""
    if attrs["axis"] is None:
        raise OpAttrError("axis=None is not supported (as in MXNet): give the axis to pick along")
    if not data.shape:
        raise ShapeError("cannot pick from a 0-d array")
    ax = norm_axis(attrs["axis"], data.ndim)
    kept = data.shape[:ax] + (1,) + data.shape[ax + 1:]
    dropped = (data.shape[:ax] + data.shape[ax + 1:]) or (1,)
    if index.shape not in (kept, dropped):
        raise ShapeError(f"index of shape {index.shape} must have shape {dropped} (or {kept}) "
                         f"for data {data.shape} and axis {attrs['axis']}")
    if data.shape[ax] == 0 and index.size:
        raise ShapeError(f"axis {ax} has size 0: there is nothing to pick")
    return ax, kept, kept if attrs["keepdims"] else dropped


def _pick_infer(in_types, attrs):
    return TensorType(_pick_shapes(in_types[0], in_types[1], attrs)[2], in_types[0].dtype)


def _pick_np(data, index, axis=-1, keepdims=False, mode="clip"):
    ax, kept, out = _pick_shapes(TensorType(data.shape, data.dtype.name),
                                 TensorType(index.shape, "float32"),
                                 {"axis": axis, "keepdims": keepdims})
    idx = _fit_index(_int_index(index), data.shape[ax], mode, "pick").reshape(kept)
    return np.take_along_axis(data, idx, ax).reshape(out)


def _g_pick(c):
    F, t = c.F, c.in_types[0]
    ax, kept, _ = _pick_shapes(t, c.in_types[1], c.attrs)
    idx = F._reshape_to(c.inputs[1], shape=kept)
    g = F._reshape_to(c.g, shape=kept)
    z = F.zeros(shape=t.shape, dtype=t.dtype)
    return (F._along_axis_add(z, idx, g, axis=ax, mode=c.attrs["mode"]), None)


register(OpDef(
    name="pick", inputs=("data", "index"), infer=_pick_infer, impl=_pick_np,
    attrs={"axis": Attr("int?", -1), "keepdims": Attr("bool", False), "mode": _MODE2},
    grad=_g_pick, needs=(1,), nondiff=(1,),
    doc="one element per position along axis: data[..., index[...], ...]"))


def _one_hot_infer(in_types, attrs):
    if attrs["depth"] < 0:
        raise ShapeError(f"depth={attrs['depth']} must not be negative")
    return TensorType(in_types[0].shape + (attrs["depth"],), attrs["dtype"])


def _one_hot_np(indices, depth, on_value=1.0, off_value=0.0, dtype="float32"):
    hit = _int_index(indices)[..., None] == np.arange(depth)
    return np.where(hit, on_value, off_value).astype(dtype)


register(OpDef(
    name="one_hot", inputs=("indices",), infer=_one_hot_infer, impl=_one_hot_np,
    attrs={"depth": Attr("int"), "on_value": Attr("float", 1.0),
           "off_value": Attr("float", 0.0), "dtype": Attr("dtype", "float32")},
    grad=_no_grad, nondiff=(0,),
    doc="indices.shape + (depth,): on_value at each index, off_value elsewhere (and for "
        "indices outside [0, depth))"))


# ---------------------------------------------------------------- gather_nd, scatter_nd


def _nd_out_shape(shape, idx, what="data"):
    """Shape gather_nd gives for data of ``shape`` and indices of type ``idx``."""
    if idx.ndim == 0 or idx.shape[0] == 0:
        raise ShapeError(f"indices of shape {idx.shape} must have a first dim of at least 1 "
                         f"(one row per indexed dim of {what})")
    m = idx.shape[0]
    if m > len(shape):
        raise ShapeError(f"indices of shape {idx.shape} index {m} dims, but {what} "
                         f"{tuple(shape)} has {len(shape)}")
    if idx.size and any(shape[i] == 0 for i in range(m)):
        raise ShapeError(f"cannot index the empty dims of {what} {tuple(shape)}")
    return idx.shape[1:] + tuple(shape[m:])


def _nd_index(indices, shape):
    """A tuple of index arrays: negatives wrapped once, then clipped into range."""
    idx = _int_index(indices)
    out = []
    for k in range(idx.shape[0]):
        d = shape[k]
        i = np.where(idx[k] < 0, idx[k] + d, idx[k])
        out.append(np.clip(i, 0, d - 1))
    return tuple(out)


def _gather_nd_np(data, indices):
    return np.asarray(data[_nd_index(indices, data.shape)])


def _g_gather_nd(c):
    t = c.in_types[0]
    return (c.F._backward_gather_nd(c.g, c.inputs[1], shape=t.shape), None)


register(OpDef(
    name="gather_nd", inputs=("data", "indices"),
    infer=lambda ts, a: TensorType(_nd_out_shape(ts[0].shape, ts[1]), ts[0].dtype),
    impl=_gather_nd_np, grad=_g_gather_nd, needs=(1,), nondiff=(1,),
    doc="out[y...] = data[indices[0, y...], ..., indices[M-1, y...], ...]"))


def _scatter_infer(in_types, attrs):
    data, idx = in_types
    if any(d < 0 for d in attrs["shape"]):
        raise ShapeError(f"shape {tuple(attrs['shape'])} must not have negative dims")
    want = _nd_out_shape(attrs["shape"], idx, "shape")
    if data.shape != want:
        raise ShapeError(f"data of shape {data.shape} must have shape {want} for indices "
                         f"{idx.shape} and shape {tuple(attrs['shape'])}")
    return TensorType(tuple(attrs["shape"]), data.dtype)


def _scatter_nd_np(data, indices, shape):
    out = np.zeros(shape, data.dtype)
    out[_nd_index(indices, shape)] = data
    return out


def _scatter_add_np(data, indices, shape):
    out = np.zeros(shape, data.dtype)
    np.add.at(out, _nd_index(indices, shape), data)
    return out


def _g_scatter(c):
    return (c.F.gather_nd(c.g, c.inputs[1]), None)


register(OpDef(
    name="scatter_nd", inputs=("data", "indices"), infer=_scatter_infer, impl=_scatter_nd_np,
    attrs={"shape": Attr("ints")}, grad=_g_scatter, needs=(1,), nondiff=(1,),
    doc="zeros of shape with data written at the indices (gather_nd's layout); with "
        "repeated indices one write wins and the gradient is not meaningful"))
register(OpDef(
    name="_backward_gather_nd", inputs=("data", "indices"), infer=_scatter_infer,
    impl=_scatter_add_np, attrs={"shape": Attr("ints")}, grad=_g_scatter, needs=(1,),
    nondiff=(1,), doc="like scatter_nd, but repeated indices add up (gather_nd's adjoint)"))
