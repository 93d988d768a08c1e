"""Reductions (sum, mean, max, min, prod, nansum, nanprod, norm, argmax, argmin) and the
row-wise normalisations softmax / log_softmax.

Reductions take MXNet's ``axis`` (None = all, an int or a tuple), ``keepdims`` and ``exclude``
(reduce over every axis *not* listed).
"""
from __future__ import annotations

import warnings

import numpy as np

from ..errors import ShapeError
from ..ir.types import TensorType
from .gradutil import expand_reduced
from .registry import Attr, OpDef, norm_axes, norm_axis, register

_RED_ATTRS = {"axis": Attr("axes", None), "keepdims": Attr("bool", False),
              "exclude": Attr("bool", False)}


def reduced_axes(in_type: TensorType, attrs) -> tuple[int, ...]:
    return norm_axes(attrs["axis"], in_type.ndim, attrs.get("exclude", False))


def _red_shape(shape, axes, keepdims):
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    # MXNet 1.x has no 0-d arrays: a full reduction gives shape (1,)
    return tuple(d for i, d in enumerate(shape) if i not in axes) or (1,)


def _as_reduced(r, keepdims):
    r = np.asarray(r)
    return r.reshape(1) if r.ndim == 0 and not keepdims else r


def _red_infer(in_types, attrs):
    t = in_types[0]
    axes = reduced_axes(t, attrs)
    return TensorType(_red_shape(t.shape, axes, attrs["keepdims"]), t.dtype)


def _np_red(fn, empty_ok=True):
    def impl(x, axis=None, keepdims=False, exclude=False):
        axes = norm_axes(axis, x.ndim, exclude)
        if x.size == 0:
            if not empty_ok:
                raise ShapeError("cannot reduce an empty array")
            with warnings.catch_warnings():        # the mean of nothing is NaN, said quietly
                warnings.simplefilter("ignore", RuntimeWarning)
                return _as_reduced(fn(x, axis=axes, keepdims=keepdims), keepdims)
        return _as_reduced(fn(x, axis=axes, keepdims=keepdims), keepdims)
    return impl


def _grad_back(c, g):
    """Bring the output gradient back to the input's shape (reduced axes broadcast)."""
    axes = reduced_axes(c.in_types[0], c.attrs)
    shape = c.in_types[0].shape
    if c.attrs["keepdims"]:
        return c.F.broadcast_to(g, shape=shape)
    return expand_reduced(c.F, g, shape, axes)


def _out_back(c, v):
    return _grad_back(c, v)


def _count(c):
    axes = reduced_axes(c.in_types[0], c.attrs)
    n = 1
    for a in axes:
        n *= c.in_types[0].shape[a]
    return n


def _g_sum(c):
    return (_grad_back(c, c.g),)


def _g_mean(c):
    n = max(_count(c), 1)
    return (c.F._div_scalar(_grad_back(c, c.g), scalar=float(n)),)


def _g_maxmin(c):
    F = c.F
    x = c.inputs[0]
    mask = F.equal(x, _out_back(c, c.out))
    return (F.multiply(_grad_back(c, c.g), mask),)


def _g_prod(c):
    F = c.F
    return (F.divide(F.multiply(_grad_back(c, c.g), _out_back(c, c.out)), c.inputs[0]),)


def _g_nansum(c):
    F = c.F
    x = c.inputs[0]
    ok = F.equal(x, x)              # 0 where x is NaN
    return (F.multiply(_grad_back(c, c.g), ok),)


def reduction(name, fn, grad, needs, aliases=(), empty_ok=True, doc="", row=None):
    return register(OpDef(
        name=name, inputs=("data",), infer=_red_infer, impl=_np_red(fn, empty_ok),
        attrs=dict(_RED_ATTRS), grad=grad, needs=needs, kind="reduction", aliases=aliases,
        doc=doc, row=row))


# row programs: a combiner with its identity, then the result (see registry.row_of)
reduction("sum", np.sum, _g_sum, (), aliases=("sum_axis",),
          row=(("acc", "s", "0.0", "s + {x}"), ("out", "s")))
reduction("mean", np.mean, _g_mean, (),
          row=(("acc", "s", "0.0", "s + {x}"), ("out", "s / {n}")))
reduction("max", np.max, _g_maxmin, (0, "out"), aliases=("max_axis",), empty_ok=False,
          row=(("acc", "m", "-math.inf", "np_maximum(m, {x})"), ("out", "m")))
reduction("min", np.min, _g_maxmin, (0, "out"), aliases=("min_axis",), empty_ok=False,
          row=(("acc", "m", "math.inf", "np_minimum(m, {x})"), ("out", "m")))
reduction("prod", np.prod, _g_prod, (0, "out"),
          row=(("acc", "p", "1.0", "p * {x}"), ("out", "p")))
reduction("nansum", np.nansum, _g_nansum, (0,))
reduction("nanprod", np.nanprod, None, ())


# ---------------------------------------------------------------- norm


def _norm_infer(in_types, attrs):
    t = in_types[0]
    if attrs["ord"] not in (1, 2):
        raise ShapeError(f"ord={attrs['ord']} is not supported (1 or 2)")
    axes = norm_axes(attrs["axis"], t.ndim)
    return TensorType(_red_shape(t.shape, axes, attrs["keepdims"]), t.dtype)


def _norm_np(x, ord=2, axis=None, keepdims=False, out_dtype=None):
    axes = norm_axes(axis, x.ndim)
    if ord == 1:
        return _as_reduced(np.sum(np.abs(x), axis=axes, keepdims=keepdims), keepdims)
    x64 = x.astype(np.float64) if x.dtype != np.float64 else x
    return _as_reduced(np.sqrt(np.sum(x64 * x64, axis=axes, keepdims=keepdims)), keepdims)


def _g_norm(c):
    F = c.F
    x = c.inputs[0]
    attrs = dict(c.attrs, exclude=False)
    c2 = type(c)(c.F, c.g, c.inputs, c.out, c.in_types, c.out_type, attrs)
    g = _grad_back(c2, c.g)
    if c.attrs["ord"] == 1:
        return (F.multiply(g, F.sign(x)),)
    return (F.multiply(g, F.divide(x, _grad_back(c2, c.out))),)


register(OpDef(
    name="norm", inputs=("data",), infer=_norm_infer, impl=_norm_np,
    attrs={"ord": Attr("int", 2), "axis": Attr("axes", None), "keepdims": Attr("bool", False),
           "out_dtype": Attr("dtype?", None)},
    grad=_g_norm, needs=(0, "out"), kind="reduction", doc="L1 or L2 norm over axes"))


# ---------------------------------------------------------------- argmax / argmin


def _arg_infer(in_types, attrs):
    t = in_types[0]
    ax = attrs["axis"]
    if ax is None:
        shape = (1,) * t.ndim if attrs["keepdims"] and t.ndim else (1,)
        if t.size == 0:
            raise ShapeError("argmax/argmin of an empty array")
    else:
        a = norm_axis(ax, t.ndim)
        if t.shape[a] == 0:
            raise ShapeError(f"argmax/argmin over an empty axis {ax}")
        shape = _red_shape(t.shape, (a,), attrs["keepdims"])
    return TensorType(shape, "float32")   # MXNet returns indices as float32


def _argfn(fn):
    def impl(x, axis=None, keepdims=False):
        if axis is None:
            r = fn(x.reshape(-1))
            return np.full((1,) * x.ndim if keepdims and x.ndim else (1,), r, np.float32)
        a = axis % x.ndim
        r = fn(x, axis=a)
        if keepdims:
            r = np.expand_dims(r, a)
        return _as_reduced(r, keepdims).astype(np.float32)
    return impl


for _n, _f in (("argmax", np.argmax), ("argmin", np.argmin)):
    register(OpDef(
        name=_n, inputs=("data",), infer=_arg_infer, impl=_argfn(_f),
        attrs={"axis": Attr("int?", None), "keepdims": Attr("bool", False)},
        grad=lambda c: (None,), kind="reduction", doc="indices as float32, as MXNet"))

register(OpDef(
    name="argmax_channel", inputs=("data",),
    infer=lambda ts, a: _arg_infer(ts, {"axis": -1, "keepdims": False}),
    impl=lambda x: _argfn(np.argmax)(x, axis=-1), grad=lambda c: (None,), kind="reduction"))


# ---------------------------------------------------------------- softmax / log_softmax

_SM_ATTRS = {"axis": Attr("int", -1), "temperature": Attr("float?", None),
             "dtype": Attr("dtype?", None), "use_length": Attr("bool", False)}


def _sm_infer(in_types, attrs):
    t = in_types[0]
    norm_axis(attrs["axis"], t.ndim)
    if attrs["use_length"]:
        raise ShapeError("use_length=True is not supported")
    return TensorType(t.shape, attrs["dtype"] or t.dtype)


def _softmax_np(x, axis=-1, temperature=None, dtype=None, use_length=False):
    z = x.astype(dtype or x.dtype) / (temperature or 1.0)
    z = z - np.max(z, axis=axis, keepdims=True) if z.size else z
    e = np.exp(z)
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax_np(x, axis=-1, temperature=None, dtype=None, use_length=False):
    z = x.astype(dtype or x.dtype) / (temperature or 1.0)
    z = z - np.max(z, axis=axis, keepdims=True) if z.size else z
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


def _g_softmax(c):  # dx = y (g - sum(g y)) / T
    F = c.F
    y = c.out
    ax = c.attrs["axis"]
    s = F.sum(F.multiply(c.g, y), axis=ax, keepdims=True)
    d = F.multiply(y, F.broadcast_sub(c.g, s))
    t = c.attrs["temperature"]
    d = F._div_scalar(d, scalar=t) if t not in (None, 1.0) else d
    if c.in_types[0].dtype != c.out_type.dtype:
        d = F.cast(d, dtype=c.in_types[0].dtype)
    return (d,)


def _g_log_softmax(c):  # dx = (g - exp(y) sum(g)) / T
    F = c.F
    ax = c.attrs["axis"]
    s = F.sum(c.g, axis=ax, keepdims=True)
    d = F.subtract(c.g, F.broadcast_mul(F.exp(c.out), s))
    t = c.attrs["temperature"]
    d = F._div_scalar(d, scalar=t) if t not in (None, 1.0) else d
    if c.in_types[0].dtype != c.out_type.dtype:
        d = F.cast(d, dtype=c.in_types[0].dtype)
    return (d,)


def _sm_row(kind):
    """Row programs of softmax / log_softmax / softmin: the row's maximum, the sum of
    exponentials shifted by it, then each element."""
    def row(attrs):
        if attrs.get("dtype") is not None or attrs.get("use_length"):
            return None
        t = attrs.get("temperature") or 1.0
        z = f"({'-' if kind == 'softmin' else ''}{{x}} / {t!r})"
        out = f"{z} - m - math.log(s)" if kind == "log" else f"math.exp({z} - m) / s"
        return (("acc", "m", "-math.inf", f"np_maximum(m, {z})"),
                ("acc", "s", "0.0", f"s + math.exp({z} - m)"), ("out", out))
    return row


register(OpDef(name="softmax", inputs=("data",), infer=_sm_infer, impl=_softmax_np,
               row=_sm_row("softmax"),
               attrs=dict(_SM_ATTRS), grad=_g_softmax, needs=("out",), kind="reduction",
               inplace=(0,), doc="exp(x/T) normalised along axis"))
register(OpDef(name="log_softmax", inputs=("data",), infer=_sm_infer, impl=_log_softmax_np,
               row=_sm_row("log"),
               attrs=dict(_SM_ATTRS), grad=_g_log_softmax, needs=("out",), kind="reduction",
               inplace=(0,), doc="log of softmax, computed stably"))
register(OpDef(name="softmin", inputs=("data",), infer=_sm_infer, row=_sm_row("softmin"),
               impl=lambda x, **a: _softmax_np(-x, **a),
               attrs=dict(_SM_ATTRS),
               grad=lambda c: (c.F.negative(_g_softmax(c)[0]),), needs=("out",),
               kind="reduction", inplace=(0,), doc="softmax of -x"))
