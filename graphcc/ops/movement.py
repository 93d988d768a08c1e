"""Data movement and indexing ops, with MXNet 1.x names, attributes and defaults.

- axes and shapes: transpose, swapaxes, expand_dims, squeeze, flatten, reshape_like
- joining and cutting: concat, stack, slice_axis, slice_like; ``split`` / ``split_v2`` are
  composite (they expand into ``slice_axis`` + ``_reshape_to`` and return a list of values)
- gathering: take, pick, one_hot, gather_nd, scatter_nd
- repeating and padding: tile, repeat, pad, flip
- sequences: SequenceMask, SequenceLast, SequenceReverse
- sorting: topk (composite over ``_topk``: ret_typ='both' returns [values, indices]), sort,
  argsort
- misc: diag, depth_to_space, space_to_depth, shape_array, size_array

Index inputs may be of any numeric dtype; float indices are truncated toward zero, as MXNet
casts them. Out-of-range indices are clipped (``mode='clip'``) or wrapped (``'wrap'``); gather_nd
and scatter_nd wrap negative indices once and clip the rest (MXNet leaves that undefined).

Internal ops used by gradient rules (each differentiable, each the adjoint of a gather):
``_index_add`` (of take), ``_take_along_axis`` / ``_along_axis_add`` (of pick, sort, topk,
SequenceLast), ``_backward_gather_nd`` (of gather_nd), ``_diag_put`` (of diag).
"""
from __future__ import annotations

import numpy as np

from ..errors import GraphccError, OpAttrError, ShapeError
from ..ir.types import TensorType, canon_dtype
from .registry import REQUIRED, Attr, OpDef, norm_axes, norm_axis, register, same_dtype

# ---------------------------------------------------------------- helpers


def _prod(xs):
    n = 1
    for x in xs:
        n *= x
    return n


def _type_of(F, v) -> TensorType:
    """The type of a value inside an expansion: a graph builder's node id, or an array."""
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return F.type(int(v))
    return TensorType(tuple(v.shape), canon_dtype(v.dtype))


def _axis_box(axis: int, begin, end):
    """``begin``/``end`` for ``slice``/``_slice_assign`` that cut only ``axis``."""
    return (None,) * axis + (begin,), (None,) * axis + (end,)


def _int_index(idx) -> np.ndarray:
    """Indices as int64; floats are truncated toward zero (MXNet casts them)."""
    idx = np.asarray(idx)
    if idx.dtype.kind == "f":
        idx = np.trunc(np.nan_to_num(idx, nan=0.0, posinf=2.0 ** 62, neginf=-2.0 ** 62))
    return idx.astype(np.int64)


def _fit_index(idx, size: int, mode: str, op: str) -> np.ndarray:
    """Bring integer indices into [0, size): clip, wrap (Python modulo) or raise."""
    if mode == "wrap":
        return np.mod(idx, size) if size else idx
    if mode == "raise":
        bad = (idx < 0) | (idx >= size)
        if np.any(bad):
            raise ShapeError(f"{op}: index {int(idx[bad].reshape(-1)[0])} is out of bounds for "
                             f"an axis of size {size} (mode='raise')")
        return idx
    return np.clip(idx, 0, max(size - 1, 0))


def _composite(name):
    """infer/impl of a composite row: it is always expanded into other ops first."""
    def infer(in_types, attrs):
        raise ShapeError(f"{name} is a composite op: it is expanded into other ops")

    def impl(*arrays, **attrs):
        raise GraphccError(f"{name} is a composite op: it is expanded into other ops")
    return infer, impl


def _no_grad(c):
    return (None,) * len(c.in_types)


def _back_to_input(c):
    """Gradient of an op that only changes the shape: reshape back."""
    return (c.F._reshape_to(c.g, shape=c.in_types[0].shape),) + (None,) * (len(c.in_types) - 1)


def _check_num_args(in_types, attrs):
    n = attrs.get("num_args")
    if n is not None and n != len(in_types):
        raise OpAttrError(f"num_args={n} but {len(in_types)} arrays were given")


# ---------------------------------------------------------------- transpose, swapaxes


def _perm(axes, ndim):
    if not axes:
        return tuple(reversed(range(ndim)))
    if len(axes) != ndim:
        raise ShapeError(f"axes {tuple(axes)} must list each of the input's {ndim} axes once")
    p = tuple(norm_axis(a, ndim) for a in axes)
    if sorted(p) != list(range(ndim)):
        raise ShapeError(f"axes {tuple(axes)} is not a permutation of {ndim} axes")
    return p


def _transpose_infer(in_types, attrs):
    t = in_types[0]
    return TensorType(tuple(t.shape[i] for i in _perm(attrs["axes"], t.ndim)), t.dtype)


def _g_transpose(c):
    p = _perm(c.attrs["axes"], c.in_types[0].ndim)
    inv = tuple(int(i) for i in np.argsort(p))
    return (c.F.transpose(c.g, axes=inv),)


register(OpDef(
    name="transpose", inputs=("data",), infer=_transpose_infer,
    impl=lambda x, axes=(): np.transpose(x, _perm(axes, x.ndim)).copy(),
    attrs={"axes": Attr("ints", ())}, grad=_g_transpose,
    doc="permute axes (default: reverse them)"))


def _swap_axes(attrs, ndim):
    return norm_axis(attrs["dim1"], ndim), norm_axis(attrs["dim2"], ndim)


def _swap_infer(in_types, attrs):
    t = in_types[0]
    a, b = _swap_axes(attrs, t.ndim)
    s = list(t.shape)
    s[a], s[b] = s[b], s[a]
    return TensorType(tuple(s), t.dtype)


register(OpDef(
    name="swapaxes", inputs=("data",), infer=_swap_infer,
    impl=lambda x, dim1=0, dim2=0: np.swapaxes(
        x, *_swap_axes({"dim1": dim1, "dim2": dim2}, x.ndim)).copy(),
    attrs={"dim1": Attr("int", 0), "dim2": Attr("int", 0)},
    grad=lambda c: (c.F.swapaxes(c.g, dim1=c.attrs["dim1"], dim2=c.attrs["dim2"]),),
    aliases=("SwapAxis",), doc="exchange two axes"))


# ---------------------------------------------------------------- expand_dims, squeeze, flatten


def _expand_shape(shape, axis):
    n = len(shape)
    if not -n - 1 <= axis <= n:
        raise ShapeError(f"axis {axis} must be in [{-n - 1}, {n}] for a {n}-d input")
    a = axis + n + 1 if axis < 0 else axis
    return tuple(shape[:a]) + (1,) + tuple(shape[a:])


register(OpDef(
    name="expand_dims", inputs=("data",),
    infer=lambda ts, a: TensorType(_expand_shape(ts[0].shape, a["axis"]), ts[0].dtype),
    impl=lambda x, axis: x.reshape(_expand_shape(x.shape, axis)),
    attrs={"axis": Attr("int")}, grad=_back_to_input, kind="view", inplace=(0,),
    doc="insert a size-1 axis at position axis"))


def _squeeze_shape(shape, axis):
    if axis is None:
        out = tuple(d for d in shape if d != 1)
    else:
        axes = norm_axes(axis, len(shape))
        for a in axes:
            if shape[a] != 1:
                raise ShapeError(f"cannot squeeze axis {a} of size {shape[a]} (only size-1 axes)")
        out = tuple(d for i, d in enumerate(shape) if i not in axes)
    return out or (1,)          # MXNet 1.x has no 0-d result


register(OpDef(
    name="squeeze", inputs=("data",),
    infer=lambda ts, a: TensorType(_squeeze_shape(ts[0].shape, a["axis"]), ts[0].dtype),
    impl=lambda x, axis=None: x.reshape(_squeeze_shape(x.shape, axis)),
    attrs={"axis": Attr("axes", None)}, grad=_back_to_input, kind="view", inplace=(0,),
    doc="drop size-1 axes (all of them, or those listed); a result with no axes is (1,)"))


def _flat_shape(shape):
    return (shape[0], _prod(shape[1:])) if shape else (1, 1)


register(OpDef(
    name="flatten", inputs=("data",),
    infer=lambda ts, a: TensorType(_flat_shape(ts[0].shape), ts[0].dtype),
    impl=lambda x: x.reshape(_flat_shape(x.shape)), grad=_back_to_input, kind="view",
    inplace=(0,), aliases=("Flatten",), doc="(N, d1, d2, ...) -> (N, d1*d2*...)"))


def _dim_range(begin, end, n, name):
    b = 0 if begin is None else (begin + n if begin < 0 else begin)
    e = n if end is None else (end + n if end < 0 else end)
    if not 0 <= b <= e <= n:
        raise ShapeError(f"{name}_begin={begin}, {name}_end={end} is not a range of the {n} "
                         f"dims of {name}")
    return b, e


def _rl_shape(lhs, rhs, a):
    lb, le = _dim_range(a["lhs_begin"], a["lhs_end"], len(lhs), "lhs")
    rb, re = _dim_range(a["rhs_begin"], a["rhs_end"], len(rhs), "rhs")
    out = tuple(lhs[:lb]) + tuple(rhs[rb:re]) + tuple(lhs[le:])
    if _prod(out) != _prod(lhs):
        raise ShapeError(f"cannot reshape lhs of shape {tuple(lhs)} to {out}: the sizes differ")
    return out


_RL_ATTRS = {"lhs_begin": Attr("int?", None), "lhs_end": Attr("int?", None),
             "rhs_begin": Attr("int?", None), "rhs_end": Attr("int?", None)}

register(OpDef(
    name="reshape_like", inputs=("lhs", "rhs"),
    infer=lambda ts, a: TensorType(_rl_shape(ts[0].shape, ts[1].shape, a), ts[0].dtype),
    impl=lambda x, y, **a: x.reshape(_rl_shape(x.shape, y.shape, a)), attrs=_RL_ATTRS,
    grad=_back_to_input, kind="view", inplace=(0,), nondiff=(1,),
    doc="lhs reshaped so that dims [lhs_begin, lhs_end) become rhs's dims [rhs_begin, rhs_end)"))


# ---------------------------------------------------------------- concat, stack


def _concat_infer(in_types, attrs):
    _check_num_args(in_types, attrs)
    dt = same_dtype("concat", in_types)
    first = in_types[0].shape
    if not first:
        raise ShapeError("cannot concatenate 0-d arrays")
    ax = norm_axis(attrs["dim"], len(first))
    total = 0
    for t in in_types:
        if len(t.shape) != len(first) or any(
                d != f for i, (d, f) in enumerate(zip(t.shape, first)) if i != ax):
            raise ShapeError(f"shapes {', '.join(str(x.shape) for x in in_types)} must agree "
                             f"except along dim {ax}")
        total += t.shape[ax]
    return TensorType(first[:ax] + (total,) + first[ax + 1:], dt)


def _g_concat(c):
    ax = norm_axis(c.attrs["dim"], c.out_type.ndim)
    out, begin = [], 0
    for t in c.in_types:
        end = begin + t.shape[ax]
        out.append(c.F.slice_axis(c.g, axis=ax, begin=begin, end=end))
        begin = end
    return tuple(out)


register(OpDef(
    name="concat", inputs=("*data",), infer=_concat_infer,
    impl=lambda *xs, dim=1, num_args=None: np.concatenate(xs, axis=dim),
    attrs={"dim": Attr("int", 1), "num_args": Attr("int?", None)}, grad=_g_concat,
    aliases=("Concat",), doc="join arrays along dim"))


def _stack_axis(axis, ndim):
    if not -ndim - 1 <= axis <= ndim:
        raise ShapeError(f"axis {axis} must be in [{-ndim - 1}, {ndim}] to stack {ndim}-d arrays")
    return axis + ndim + 1 if axis < 0 else axis


def _stack_infer(in_types, attrs):
    _check_num_args(in_types, attrs)
    dt = same_dtype("stack", in_types)
    s = in_types[0].shape
    if any(t.shape != s for t in in_types):
        raise ShapeError(f"all arrays must have the same shape, got "
                         f"{', '.join(str(t.shape) for t in in_types)}")
    ax = _stack_axis(attrs["axis"], len(s))
    return TensorType(s[:ax] + (len(in_types),) + s[ax:], dt)


def _g_stack(c):
    F = c.F
    ax = _stack_axis(c.attrs["axis"], c.in_types[0].ndim)
    return tuple(F._reshape_to(F.slice_axis(c.g, axis=ax, begin=i, end=i + 1), shape=t.shape)
                 for i, t in enumerate(c.in_types))


register(OpDef(
    name="stack", inputs=("*data",), infer=_stack_infer,
    impl=lambda *xs, axis=0, num_args=None: np.stack(xs, axis=_stack_axis(axis, xs[0].ndim)),
    attrs={"axis": Attr("int", 0), "num_args": Attr("int?", None)}, grad=_g_stack,
    doc="join arrays of one shape along a new axis"))


# ---------------------------------------------------------------- split, split_v2 (composite)


def _axis_of(op, axis, t):
    if not t.shape:
        raise ShapeError(f"{op}: cannot split a 0-d array")
    try:
        return norm_axis(axis, t.ndim)
    except ShapeError as e:
        raise ShapeError(f"{op}: {e} (input {t})") from None


def _sections(F, x, t, ax, bounds, squeeze, op):
    """One value per (begin, end) along ``ax``; a single section is returned by itself."""
    if squeeze and any(e - b != 1 for b, e in bounds):
        raise ShapeError(f"{op}: squeeze_axis=True needs sections of size 1 along axis {ax} "
                         f"(input {t}, sections {[e - b for b, e in bounds]})")
    outs = []
    for b, e in bounds:
        y = F.slice_axis(x, axis=ax, begin=b, end=e)
        if squeeze:
            y = F._reshape_to(y, shape=t.shape[:ax] + t.shape[ax + 1:])
        outs.append(y)
    return outs[0] if len(outs) == 1 else outs


def _equal_bounds(op, n, d, ax, t):
    if n < 1 or d % n:
        raise ShapeError(f"{op}: cannot split axis {ax} of size {d} (input {t}) into {n} "
                         "equal sections")
    step = d // n
    return [(i * step, (i + 1) * step) for i in range(n)]


def _split_expand(F, inputs, attrs):
    x = inputs[0]
    t = _type_of(F, x)
    ax = _axis_of("split", attrs["axis"], t)
    bounds = _equal_bounds("split", attrs["num_outputs"], t.shape[ax], ax, t)
    return _sections(F, x, t, ax, bounds, attrs["squeeze_axis"], "split")


def _split_v2_expand(F, inputs, attrs):
    x = inputs[0]
    t = _type_of(F, x)
    ax = _axis_of("split_v2", attrs["axis"], t)
    d = t.shape[ax]
    ios = attrs["indices_or_sections"]
    if isinstance(ios, (int, np.integer)) and not isinstance(ios, bool):
        bounds = _equal_bounds("split_v2", int(ios), d, ax, t)
    elif isinstance(ios, (tuple, list)) and all(
            isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in ios):
        pts = (0,) + tuple(int(i) for i in ios) + (d,)
        for b, e in zip(pts, pts[1:]):
            if not 0 <= b <= e <= d:
                raise ShapeError(f"split_v2: indices {tuple(ios)} must be increasing and within "
                                 f"axis {ax} of size {d} (input {t})")
        bounds = list(zip(pts, pts[1:]))
    else:
        raise OpAttrError(f"split_v2: indices_or_sections={ios!r} must be an int or a tuple of "
                          "ints")
    return _sections(F, x, t, ax, bounds, attrs["squeeze_axis"], "split_v2")


_inf, _imp = _composite("split")
register(OpDef(
    name="split", inputs=("data",), infer=_inf, impl=_imp,
    attrs={"num_outputs": Attr("int"), "axis": Attr("int", 1),
           "squeeze_axis": Attr("bool", False)},
    expand=_split_expand, aliases=("SliceChannel",),
    doc="num_outputs equal parts along axis: a list (one part: the array itself)"))

_inf, _imp = _composite("split_v2")
register(OpDef(
    name="split_v2", inputs=("ary",), infer=_inf, impl=_imp,
    attrs={"indices_or_sections": Attr("any"), "axis": Attr("int", 0),
           "squeeze_axis": Attr("bool", False)},
    expand=_split_v2_expand,
    doc="split into n equal sections, or at the given indices: a list of arrays"))


# ---------------------------------------------------------------- slice_axis, slice_like


def _sa_range(shape, axis, begin, end):
    ax = norm_axis(axis, len(shape))
    d = shape[ax]
    b = begin + d if begin < 0 else begin
    e = d if end is None else (end + d if end < 0 else end)
    if not 0 <= b <= e <= d:
        raise ShapeError(f"begin={begin}, end={end} is not a range of axis {axis} of size {d}")
    return ax, b, e


def _slice_axis_infer(in_types, attrs):
    t = in_types[0]
    if not t.shape:
        raise ShapeError("cannot slice a 0-d array")
    ax, b, e = _sa_range(t.shape, attrs["axis"], attrs["begin"], attrs["end"])
    return TensorType(t.shape[:ax] + (e - b,) + t.shape[ax + 1:], t.dtype)


def _slice_axis_np(x, axis, begin, end):
    ax, b, e = _sa_range(x.shape, axis, begin, end)
    return x[(slice(None),) * ax + (slice(b, e),)].copy()


def _g_slice_axis(c):
    F, t = c.F, c.in_types[0]
    ax, b, e = _sa_range(t.shape, c.attrs["axis"], c.attrs["begin"], c.attrs["end"])
    begin, end = _axis_box(ax, b, e)
    return (F._slice_assign(F.zeros(shape=t.shape, dtype=t.dtype), c.g, begin=begin, end=end),)


register(OpDef(
    name="slice_axis", inputs=("data",), infer=_slice_axis_infer, impl=_slice_axis_np,
    attrs={"axis": Attr("int"), "begin": Attr("int"), "end": Attr("int?", REQUIRED)},
    grad=_g_slice_axis, doc="data[..., begin:end, ...] along one axis (end None: to the end)"))


def _sl_shape(shape, like, axes):
    if not axes:
        if len(like) != len(shape):
            raise ShapeError(f"with axes=() every axis is sliced, so data {tuple(shape)} and "
                             f"shape_like {tuple(like)} need the same number of dims")
        axes = range(len(shape))
    out = list(shape)
    for a in axes:
        i = norm_axis(a, len(shape))
        if i >= len(like):
            raise ShapeError(f"axis {a} is not an axis of shape_like {tuple(like)}")
        if like[i] > shape[i]:
            raise ShapeError(f"axis {i}: shape_like's size {like[i]} exceeds data's {shape[i]}")
        out[i] = like[i]
    return tuple(out)


def _g_slice_like(c):
    F, t = c.F, c.in_types[0]
    z = F.zeros(shape=t.shape, dtype=t.dtype)
    return (F._slice_assign(z, c.g, begin=(0,) * t.ndim, end=c.out_type.shape), None)


register(OpDef(
    name="slice_like", inputs=("data", "shape_like"),
    infer=lambda ts, a: TensorType(_sl_shape(ts[0].shape, ts[1].shape, a["axes"]), ts[0].dtype),
    impl=lambda x, y, axes=(): x[tuple(slice(0, n) for n in _sl_shape(x.shape, y.shape, axes))]
    .copy(),
    attrs={"axes": Attr("ints", ())}, grad=_g_slice_like, nondiff=(1,),
    doc="data cut to shape_like's size on the given axes (all by default), from the start"))


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


# ---------------------------------------------------------------- tile, repeat, flip


def _tile_geom(shape, reps):
    if any(r < 0 for r in reps):
        raise ShapeError(f"reps {tuple(reps)} must not be negative")
    n = max(len(shape), len(reps))
    s = (1,) * (n - len(shape)) + tuple(shape)
    r = (1,) * (n - len(reps)) + tuple(reps)
    return s, r, tuple(a * b for a, b in zip(s, r))


def _g_tile(c):
    F, t = c.F, c.in_types[0]
    s, r, _ = _tile_geom(t.shape, c.attrs["reps"])
    if r == (1,) * len(r) and len(s) == t.ndim:
        return (c.g,)
    inter = tuple(v for pair in zip(r, s) for v in pair)     # (r0, s0, r1, s1, ...)
    g = F._reshape_to(c.g, shape=inter)
    g = F.sum(g, axis=tuple(range(0, len(inter), 2)))
    return (F._reshape_to(g, shape=t.shape),)


register(OpDef(
    name="tile", inputs=("data",),
    infer=lambda ts, a: TensorType(_tile_geom(ts[0].shape, a["reps"])[2], ts[0].dtype),
    impl=lambda x, reps: np.tile(x, reps), attrs={"reps": Attr("ints")}, grad=_g_tile,
    doc="repeat the whole array reps[i] times along each axis (NumPy's tile)"))


def _repeat_shape(shape, repeats, axis):
    if repeats < 0:
        raise ShapeError(f"repeats={repeats} must not be negative")
    if axis is None:
        return (_prod(shape) * repeats,), None
    if not shape:
        raise ShapeError("a 0-d array has no axis to repeat along")
    ax = norm_axis(axis, len(shape))
    return shape[:ax] + (shape[ax] * repeats,) + shape[ax + 1:], ax


def _g_repeat(c):
    F, t = c.F, c.in_types[0]
    r = c.attrs["repeats"]
    _, ax = _repeat_shape(t.shape, r, c.attrs["axis"])
    if ax is None:
        g = F.sum(F._reshape_to(c.g, shape=(t.size, r)), axis=1)
    else:
        g = F._reshape_to(c.g, shape=t.shape[:ax + 1] + (r,) + t.shape[ax + 1:])
        g = F.sum(g, axis=ax + 1)
    return (F._reshape_to(g, shape=t.shape),)


register(OpDef(
    name="repeat", inputs=("data",),
    infer=lambda ts, a: TensorType(_repeat_shape(ts[0].shape, a["repeats"], a["axis"])[0],
                                   ts[0].dtype),
    impl=lambda x, repeats, axis=None: np.repeat(x, repeats, axis),
    attrs={"repeats": Attr("int"), "axis": Attr("int?", None)}, grad=_g_repeat,
    doc="repeat each element repeats times along axis (None: of the flattened array)"))


def _flip_axes(axis, ndim):
    if not ndim:
        raise ShapeError("a 0-d array has no axis to flip")
    return tuple(norm_axis(a, ndim) for a in axis)


def _flip_np(x, axis):
    for a in _flip_axes(axis, x.ndim):     # an axis listed twice flips back, as in MXNet
        x = np.flip(x, a)
    return x.copy()


def _flip_infer(in_types, attrs):
    _flip_axes(attrs["axis"], in_types[0].ndim)
    return in_types[0]


register(OpDef(
    name="flip", inputs=("data",), infer=_flip_infer, impl=_flip_np, attrs={"axis": Attr("ints")},
    grad=lambda c: (c.F.flip(c.g, axis=c.attrs["axis"]),), aliases=("reverse",),
    doc="reverse the order of elements along the given axes"))


# ---------------------------------------------------------------- pad


def _pad_pairs(shape, mode, pad_width):
    n = len(shape)
    if len(pad_width) != 2 * n:
        raise ShapeError(f"pad_width {tuple(pad_width)} needs 2 values per axis ({2 * n} for a "
                         f"{n}-d input)")
    pairs = [(pad_width[2 * i], pad_width[2 * i + 1]) for i in range(n)]
    for i, ((b, a), d) in enumerate(zip(pairs, shape)):
        if b < 0 or a < 0:
            raise ShapeError(f"pad_width {tuple(pad_width)} must not be negative")
        if mode == "reflect" and (b or a) and (b >= d or a >= d):
            raise ShapeError(f"reflect padding of axis {i} must be smaller than its size {d} "
                             f"(got {b}, {a})")
        if mode == "edge" and (b or a) and d == 0:
            raise ShapeError(f"cannot edge-pad the empty axis {i}")
    return pairs


def _pad_infer(in_types, attrs):
    t = in_types[0]
    pairs = _pad_pairs(t.shape, attrs["mode"], attrs["pad_width"])
    return TensorType(tuple(b + d + a for (b, a), d in zip(pairs, t.shape)), t.dtype)


def _pad_np(x, mode, pad_width, constant_value=0.0):
    pairs = _pad_pairs(x.shape, mode, pad_width)
    if not pairs:
        return x.copy()
    if mode == "constant":
        return np.pad(x, pairs, mode="constant", constant_values=constant_value)
    return np.pad(x, pairs, mode=mode)


def _g_pad(c):
    # edge and reflect padding are, axis by axis, a take() at fixed indices; the gradient adds
    # each output position back to the input position it was read from (_index_add)
    F, t = c.F, c.in_types[0]
    pairs = _pad_pairs(t.shape, c.attrs["mode"], c.attrs["pad_width"])
    if c.attrs["mode"] == "constant":
        begin = tuple(b for b, _ in pairs)
        end = tuple(b + d for (b, _), d in zip(pairs, t.shape))
        return (F.slice(c.g, begin=begin, end=end),)
    g, shape = c.g, list(c.out_type.shape)
    for ax, ((b, a), d) in enumerate(zip(pairs, t.shape)):
        if not b and not a:
            continue
        idx = F.arange(start=float(-b), stop=float(d + a), dtype="float32")
        if c.attrs["mode"] == "edge":
            idx = F.clip(idx, a_min=0.0, a_max=float(d - 1))
        else:                                      # i -> (d-1) - |(d-1) - |i||
            inner = F._rminus_scalar(F.abs(idx), scalar=float(d - 1))
            idx = F._rminus_scalar(F.abs(inner), scalar=float(d - 1))
        shape[ax] = d
        g = F._index_add(F.zeros(shape=tuple(shape), dtype=t.dtype), idx, g, axis=ax,
                         mode="clip")
    return (g,)


register(OpDef(
    name="pad", inputs=("data",), infer=_pad_infer, impl=_pad_np,
    attrs={"mode": Attr("str", REQUIRED, ("constant", "edge", "reflect")),
           "pad_width": Attr("ints"), "constant_value": Attr("float", 0.0)},
    grad=_g_pad, aliases=("Pad",),
    doc="pad each axis by pad_width (before_1, after_1, ..., before_N, after_N); any axis may "
        "be padded (MXNet only pads the spatial axes of 4-d and 5-d arrays)"))


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
