"""Data movement ops, with MXNet 1.x names, attributes and defaults.

- axes and shapes: transpose, swapaxes, expand_dims, squeeze, flatten, reshape_like
- joining and cutting: concat, stack, slice_axis, slice_like; ``split`` / ``split_v2`` are
  composite (they expand into ``slice_axis`` + ``_reshape_to`` and return a list of values)
- repeating and padding: tile, repeat, pad, flip

Gathering and scattering ops are in ``indexing.py``; sequences, sorting and the rest in
``sequence.py``. The helpers below are shared by the three modules.
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
