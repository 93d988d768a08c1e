"""Core shape ops that gradient rules are built from: reshape (with MXNet's special codes),
the exact internal reshape ``_reshape_to``, broadcast_to / broadcast_like / broadcast_axis, and
the creation ops zeros / ones / full / arange / eye / linspace / zeros_like / ones_like.
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..ir.types import TensorType
from .gradutil import unbroadcast
from .registry import Attr, OpDef, norm_axis, register

# ---------------------------------------------------------------- reshape


def _prod(xs):
    n = 1
    for x in xs:
        n *= x
    return n


def mx_reshape_shape(src: tuple, spec: tuple, reverse: bool = False) -> tuple:
    """MXNet's reshape codes: 0 copy a dim, -1 infer one, -2 copy the rest, -3 merge two,
    -4 split one into the next two values (one of which may be -1)."""
    src, spec = list(src), list(spec)
    if reverse:
        src, spec = src[::-1], _reverse_spec(spec)
    dst, inf, si, i = [], -1, 0, 0
    while i < len(spec):
        p = spec[i]
        if p == 0:
            if si >= len(src):
                raise ShapeError(f"code 0 at position {i} has no input dim to copy")
            dst.append(src[si])
            si += 1
        elif p == -1:
            if inf >= 0:
                raise ShapeError("more than one -1 in the shape")
            inf = len(dst)
            dst.append(-1)
            si += 1
        elif p == -2:
            dst.extend(src[si:])
            si = len(src)
        elif p == -3:
            if si + 1 >= len(src):
                raise ShapeError("code -3 needs two input dims to merge")
            dst.append(src[si] * src[si + 1])
            si += 2
        elif p == -4:
            if i + 2 >= len(spec) or si >= len(src):
                raise ShapeError("code -4 needs two values after it and an input dim")
            d, d0, d1 = src[si], spec[i + 1], spec[i + 2]
            if d0 == -1 and d1 == -1:
                raise ShapeError("code -4 can infer only one of its two dims")
            d0 = d // d1 if d0 == -1 else d0
            d1 = d // d0 if d1 == -1 else d1
            if d0 * d1 != d:
                raise ShapeError(f"cannot split dim {d} into {spec[i + 1]} x {spec[i + 2]}")
            dst += [d0, d1]
            si += 1
            i += 2
        elif p > 0:
            dst.append(p)
            si += 1
        else:
            raise ShapeError(f"invalid reshape code {p}")
        i += 1
    total = _prod(src)
    if inf >= 0:
        known = _prod(d for d in dst if d != -1)
        if known == 0 or total % known:
            raise ShapeError(f"cannot infer -1: {total} elements into {tuple(spec)}")
        dst[inf] = total // known
    if _prod(dst) != total:
        raise ShapeError(f"{total} elements cannot be reshaped to {tuple(dst)}")
    return tuple(dst[::-1] if reverse else dst)


def _reverse_spec(spec):
    """Reverse a spec so that -4's two trailing values stay after it."""
    out, i = [], 0
    groups = []
    while i < len(spec):
        if spec[i] == -4:
            groups.append([-4, spec[i + 2], spec[i + 1]])
            i += 3
        else:
            groups.append([spec[i]])
            i += 1
    for gr in reversed(groups):
        out.extend(gr)
    return out


def _reshape_infer(in_types, attrs):
    t = in_types[0]
    return TensorType(mx_reshape_shape(t.shape, attrs["shape"], attrs["reverse"]), t.dtype)


def _g_reshape(c):
    return (c.F._reshape_to(c.g, shape=c.in_types[0].shape),)


register(OpDef(
    name="reshape", inputs=("data",), infer=_reshape_infer,
    impl=lambda x, shape, reverse=False: x.reshape(mx_reshape_shape(x.shape, shape, reverse)),
    attrs={"shape": Attr("ints"), "reverse": Attr("bool", False)}, grad=_g_reshape,
    kind="view", inplace=(0,), aliases=("Reshape",),
    doc="reshape with MXNet's codes 0, -1, -2, -3, -4"))


def _reshape_to_infer(in_types, attrs):
    t = in_types[0]
    if _prod(attrs["shape"]) != t.size or any(d < 0 for d in attrs["shape"]):
        raise ShapeError(f"cannot reshape {t.shape} to {attrs['shape']}")
    return TensorType(tuple(attrs["shape"]), t.dtype)


register(OpDef(
    name="_reshape_to", inputs=("data",), infer=_reshape_to_infer,
    impl=lambda x, shape: x.reshape(shape), attrs={"shape": Attr("ints")}, grad=_g_reshape,
    kind="view", inplace=(0,), doc="reshape to exactly this shape (no special codes)"))


# ---------------------------------------------------------------- broadcasting


def _bcast_target(src, shape):
    if len(shape) < len(src):
        raise ShapeError(f"cannot broadcast {tuple(src)} to fewer dims {tuple(shape)}")
    lead = len(shape) - len(src)
    out = list(shape)
    for i, d in enumerate(src):
        t = shape[lead + i]
        if t == 0 and len(shape) == len(src):   # MXNet: 0 keeps the input dim
            out[lead + i] = d
        elif d != 1 and d != t:
            raise ShapeError(f"cannot broadcast {tuple(src)} to {tuple(shape)}")
    return tuple(out)


def _bt_infer(in_types, attrs):
    t = in_types[0]
    return TensorType(_bcast_target(t.shape, attrs["shape"]), t.dtype)


def _g_bcast(c):
    return (unbroadcast(c.F, c.g, c.out_type.shape, c.in_types[0].shape),) + \
        (None,) * (len(c.in_types) - 1)


register(OpDef(
    name="broadcast_to", inputs=("data",), infer=_bt_infer,
    impl=lambda x, shape: np.broadcast_to(x, _bcast_target(x.shape, shape)).copy(),
    attrs={"shape": Attr("ints")}, grad=_g_bcast, kind="broadcast", expr="{0}",
    doc="broadcast to a shape (0 keeps the input's dim)"))


def _bl_shape(lhs, rhs, attrs):
    la, ra = attrs["lhs_axes"], attrs["rhs_axes"]
    if la is None and ra is None:
        return _bcast_target(lhs, rhs)
    if la is None or ra is None or len(la) != len(ra):
        raise ShapeError("lhs_axes and rhs_axes must both be given, of equal length")
    out = list(lhs)
    for a, b in zip(la, ra):
        a, b = norm_axis(a, len(lhs)), norm_axis(b, len(rhs))
        if lhs[a] != 1 and lhs[a] != rhs[b]:
            raise ShapeError(f"axis {a} of size {lhs[a]} cannot broadcast to {rhs[b]}")
        out[a] = rhs[b]
    return tuple(out)


def _bl_infer(in_types, attrs):
    lhs, rhs = in_types
    return TensorType(_bl_shape(lhs.shape, rhs.shape, attrs), lhs.dtype)


register(OpDef(
    name="broadcast_like", inputs=("lhs", "rhs"), infer=_bl_infer,
    impl=lambda x, y, lhs_axes=None, rhs_axes=None: np.broadcast_to(
        x, _bl_shape(x.shape, y.shape, {"lhs_axes": lhs_axes, "rhs_axes": rhs_axes})).copy(),
    attrs={"lhs_axes": Attr("ints?", None), "rhs_axes": Attr("ints?", None)},
    grad=_g_bcast, kind="broadcast", nondiff=(1,), expr="{0}",
    doc="broadcast lhs to rhs's shape (rhs's values are not read)"))


def _ba_shape(src, attrs):
    axes, sizes = attrs["axis"], attrs["size"]
    if len(axes) != len(sizes):
        raise ShapeError("axis and size must have the same length")
    out = list(src)
    for a, s in zip(axes, sizes):
        a = norm_axis(a, len(src))
        if src[a] != 1:
            raise ShapeError(f"axis {a} has size {src[a]}, only size-1 axes can be broadcast")
        out[a] = s
    return tuple(out)


register(OpDef(
    name="broadcast_axis", inputs=("data",),
    infer=lambda ts, a: TensorType(_ba_shape(ts[0].shape, a), ts[0].dtype),
    impl=lambda x, axis, size: np.broadcast_to(
        x, _ba_shape(x.shape, {"axis": axis, "size": size})).copy(),
    attrs={"axis": Attr("ints", ()), "size": Attr("ints", ())}, grad=_g_bcast,
    kind="broadcast", expr="{0}", aliases=("broadcast_axes",),
    doc="broadcast size-1 axes to sizes"))


# ---------------------------------------------------------------- creation


def _src_infer(in_types, attrs):
    return TensorType(tuple(attrs["shape"]), attrs["dtype"])


def source(name, impl, extra=None, aliases=(), infer=_src_infer, doc=""):
    attrs = {"shape": Attr("ints", ()), "dtype": Attr("dtype", "float32")}
    attrs.update(extra or {})
    return register(OpDef(name=name, inputs=(), infer=infer, impl=impl, attrs=attrs,
                          grad=lambda c: (), kind="source", aliases=aliases, doc=doc))


source("zeros", lambda shape, dtype: np.zeros(shape, dtype), aliases=("_zeros",))
source("ones", lambda shape, dtype: np.ones(shape, dtype), aliases=("_ones",))
source("full", lambda shape, dtype, value: np.full(shape, value, dtype),
       {"value": Attr("float")}, aliases=("_full",))


def _arange_len(start, stop, step, repeat):
    if stop is None:
        start, stop = 0.0, start
    if step == 0:
        raise ShapeError("arange step must not be 0")
    n = int(np.ceil((stop - start) / step))
    return max(n, 0) * repeat, start, stop


def _arange_infer(in_types, attrs):
    n, _, _ = _arange_len(attrs["start"], attrs["stop"], attrs["step"], attrs["repeat"])
    return TensorType((n,), attrs["dtype"])


def _arange_np(start, stop, step, repeat, dtype, infer_range=False):
    n, start, stop = _arange_len(start, stop, step, repeat)
    v = start + step * np.arange(n // max(repeat, 1), dtype=np.float64)
    return np.repeat(v, repeat).astype(dtype)


register(OpDef(
    name="arange", inputs=(), infer=_arange_infer, impl=_arange_np,
    attrs={"start": Attr("float", 0.0), "stop": Attr("float?", None), "step": Attr("float", 1.0),
           "repeat": Attr("int", 1), "dtype": Attr("dtype", "float32"),
           "infer_range": Attr("bool", False)},
    grad=lambda c: (), kind="source", aliases=("_arange",), doc="evenly spaced values"))


def _eye_infer(in_types, attrs):
    m = attrs["M"] or attrs["N"]
    return TensorType((attrs["N"], m), attrs["dtype"])


register(OpDef(
    name="eye", inputs=(), infer=_eye_infer,
    impl=lambda N, M, k, dtype: np.eye(N, M or N, k, dtype=dtype),
    attrs={"N": Attr("int"), "M": Attr("int", 0), "k": Attr("int", 0),
           "dtype": Attr("dtype", "float32")},
    grad=lambda c: (), kind="source", aliases=("_eye",), doc="identity-like matrix"))


def _linspace_infer(in_types, attrs):
    return TensorType((attrs["num"],), attrs["dtype"])


register(OpDef(
    name="linspace", inputs=(), infer=_linspace_infer,
    impl=lambda start, stop, num, endpoint, dtype: np.linspace(
        start, stop, num, endpoint=endpoint).astype(dtype),
    attrs={"start": Attr("float"), "stop": Attr("float"), "num": Attr("int"),
           "endpoint": Attr("bool", True), "dtype": Attr("dtype", "float32")},
    grad=lambda c: (), kind="source", aliases=("_linspace",), doc="evenly spaced values"))

register(OpDef(name="zeros_like", inputs=("data",), infer=lambda ts, a: ts[0],
               impl=np.zeros_like, grad=lambda c: (None,), kind="elementwise", expr="0.0",
               nondiff=(0,), doc="zeros of the input's shape and dtype (values not read)"))
register(OpDef(name="ones_like", inputs=("data",), infer=lambda ts, a: ts[0],
               impl=np.ones_like, grad=lambda c: (None,), kind="elementwise", expr="1.0",
               nondiff=(0,), doc="ones of the input's shape and dtype (values not read)"))


# ---------------------------------------------------------------- slice and slice assignment


def slice_ranges(shape, begin, end, step):
    """Per-axis (start, stop, step) as Python slices resolve them (MXNet's ``slice``)."""
    if len(begin) > len(shape) or len(end) != len(begin) or (step and len(step) != len(begin)):
        raise ShapeError(f"begin {tuple(begin)}, end {tuple(end)} and step {tuple(step or ())} "
                         f"must have the same length, at most the input's {len(shape)} dims")
    out = []
    for i, d in enumerate(shape):
        if i < len(begin):
            s = step[i] if step and step[i] is not None else 1
            if s == 0:
                raise ShapeError("slice step must not be 0")
            out.append(slice(begin[i], end[i], s).indices(d))
        else:
            out.append((0, d, 1))
    return out


def _slices(shape, begin, end, step):
    return tuple(slice(a, b if b >= 0 else None, s)
                 for a, b, s in slice_ranges(shape, begin, end, step))


def _slice_shape(shape, begin, end, step):
    return tuple(len(range(a, b, s)) for a, b, s in slice_ranges(shape, begin, end, step))


_SLICE_ATTRS = {"begin": Attr("any"), "end": Attr("any"), "step": Attr("any", ())}


def _tup(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,)


def _slice_infer(in_types, attrs):
    t = in_types[0]
    return TensorType(_slice_shape(t.shape, _tup(attrs["begin"]), _tup(attrs["end"]),
                                   _tup(attrs["step"])), t.dtype)


def _slice_np(x, begin, end, step=()):
    return x[_slices(x.shape, _tup(begin), _tup(end), _tup(step))].copy()


def _g_slice(c):
    F = c.F
    t = c.in_types[0]
    z = F.zeros(shape=t.shape, dtype=t.dtype)
    return (F._slice_assign(z, c.g, begin=c.attrs["begin"], end=c.attrs["end"],
                            step=c.attrs["step"]),)


register(OpDef(
    name="slice", inputs=("data",), infer=_slice_infer, impl=_slice_np, attrs=_SLICE_ATTRS,
    grad=_g_slice, kind="opaque", aliases=("crop", "_slice"),
    doc="a strided box: begin/end/step per axis, None for the default"))


def _sa_infer(in_types, attrs):
    lhs, rhs = in_types
    want = _slice_shape(lhs.shape, _tup(attrs["begin"]), _tup(attrs["end"]), _tup(attrs["step"]))
    if rhs.shape != want and rhs.size != 1:
        try:
            fits = np.broadcast_shapes(rhs.shape, want) == want
        except ValueError:
            fits = False
        if not fits:
            raise ShapeError(f"cannot assign shape {rhs.shape} to a slice of shape {want}")
    if lhs.dtype != rhs.dtype:
        from ..errors import DTypeError
        raise DTypeError(f"assigning {rhs.dtype} into {lhs.dtype}")
    return lhs


def _sa_np(lhs, rhs, begin, end, step=()):
    out = lhs.copy()
    out[_slices(lhs.shape, _tup(begin), _tup(end), _tup(step))] = rhs
    return out


def _g_sa(c):
    F = c.F
    a = dict(begin=c.attrs["begin"], end=c.attrs["end"], step=c.attrs["step"])
    glhs = F._slice_assign_scalar(c.g, scalar=0.0, **a)
    grhs = F.slice(c.g, **a)
    rt = c.in_types[1]
    if tuple(rt.shape) != tuple(c.out_type.shape):
        grhs = unbroadcast(F, grhs, _slice_shape(c.out_type.shape, _tup(a["begin"]),
                                                 _tup(a["end"]), _tup(a["step"])), rt.shape)
    return (glhs, grhs)


register(OpDef(
    name="_slice_assign", inputs=("lhs", "rhs"), infer=_sa_infer, impl=_sa_np,
    attrs=_SLICE_ATTRS, grad=_g_sa, kind="opaque", inplace=(0,),
    aliases=("_crop_assign",), doc="lhs with a slice replaced by rhs (a new value)"))


def _sas_infer(in_types, attrs):
    _slice_infer(in_types, attrs)         # the slice must be valid for the input
    return in_types[0]


def _sas_np(x, scalar, begin, end, step=()):
    out = x.copy()
    out[_slices(x.shape, _tup(begin), _tup(end), _tup(step))] = scalar
    return out


register(OpDef(
    name="_slice_assign_scalar", inputs=("data",), infer=_sas_infer, impl=_sas_np,
    attrs={"scalar": Attr("float", 0.0), **_SLICE_ATTRS},
    grad=lambda c: (c.F._slice_assign_scalar(c.g, scalar=0.0, begin=c.attrs["begin"],
                                             end=c.attrs["end"], step=c.attrs["step"]),),
    kind="opaque", inplace=(0,), aliases=("_crop_assign_scalar",),
    doc="data with a slice set to a scalar"))


def _slice_add_np(lhs, rhs, begin, end, step=()):
    out = lhs.copy()
    out[_slices(lhs.shape, _tup(begin), _tup(end), _tup(step))] += rhs
    return out


def _g_slice_add(c):
    F = c.F
    a = dict(begin=c.attrs["begin"], end=c.attrs["end"], step=c.attrs["step"])
    grhs = F.slice(c.g, **a)
    rt = c.in_types[1]
    if tuple(rt.shape) != tuple(c.out_type.shape):
        grhs = unbroadcast(F, grhs, _slice_shape(c.out_type.shape, _tup(a["begin"]),
                                                 _tup(a["end"]), _tup(a["step"])), rt.shape)
    return (c.g, grhs)


register(OpDef(
    name="_slice_add", inputs=("lhs", "rhs"), infer=_sa_infer, impl=_slice_add_np,
    attrs=_SLICE_ATTRS, grad=_g_slice_add, kind="opaque", inplace=(0,),
    doc="lhs with rhs added into a slice (accumulates slice gradients in one buffer)"))
