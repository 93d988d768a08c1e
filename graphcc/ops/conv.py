"""Convolution and Deconvolution in channel-first layouts (NCW, NCHW, NCDHW), the internal op
their weight gradients are built from (``_conv_weight_grad``), and the window-geometry helpers
pool.py shares.

The reference implementations are vectorised: a strided window view of the padded input
(``sliding_window_view``) copied into im2col form, one batched matrix product over all groups,
and loops over kernel offsets (never over pixels) where values are scattered back
(Deconvolution).

Gradients: Convolution's data gradient is a Deconvolution with the same weight, its weight
gradient ``_conv_weight_grad``; Deconvolution's data gradient is a Convolution, its weight
gradient ``_conv_weight_grad`` with the roles of its two inputs swapped.
"""
from __future__ import annotations

import itertools

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import DTypeError, OpAttrError, ShapeError
from ..ir.types import TensorType, is_float
from .registry import Attr, OpDef, normalize_attrs, register

_LAYOUTS = {1: "NCW", 2: "NCHW", 3: "NCDHW"}
_CUDNN_TUNE = (None, "fastest", "limited_workspace", "off")


# ---------------------------------------------------------------- geometry helpers


def _spatial(nsp: int, name: str, value: tuple, fill: int, least: int) -> tuple:
    """``stride`` / ``dilate`` / ``pad``: () means ``fill`` in every spatial dim."""
    if not value:
        return (fill,) * nsp
    if len(value) != nsp:
        raise OpAttrError(f"{name}={value} must have as many dims as the kernel ({nsp})")
    if any(v < least for v in value):
        raise OpAttrError(f"{name}={value} must be >= {least} in every dim")
    return tuple(value)


def _kernel(kernel: tuple) -> tuple:
    if not 1 <= len(kernel) <= 3:
        raise OpAttrError(f"kernel={kernel} must have 1, 2 or 3 dims")
    if any(k < 1 for k in kernel):
        raise OpAttrError(f"kernel={kernel} must be positive in every dim")
    return tuple(kernel)


def _check_layout(layout, nsp: int, data_shape: tuple):
    if layout is not None and layout != _LAYOUTS.get(nsp):
        raise OpAttrError(f"layout {layout!r} is not supported for data of shape {data_shape}: "
                          f"graphcc computes in the channel-first layout "
                          f"{_LAYOUTS.get(nsp, 'NC...')} only")


def _check_data(x: TensorType, nsp: int, what: str = "data"):
    if x.ndim != nsp + 2:
        raise ShapeError(f"{what} of shape {x.shape} must be {nsp + 2}-d "
                         f"(batch, channel, {nsp} spatial dims) for a {nsp}-d kernel")
    if not is_float(x.dtype):
        raise DTypeError(f"{what} has dtype {x.dtype}; a floating-point dtype is required")


def _same_dtypes(in_types):
    if len({t.dtype for t in in_types}) > 1:
        raise DTypeError("inputs have different dtypes "
                         f"({', '.join(t.dtype for t in in_types)}); cast one with astype()")


def _conv_geom(a: dict) -> tuple:
    """(kernel, stride, dilate, pad) with defaults filled in."""
    k = _kernel(a["kernel"])
    n = len(k)
    return (k, _spatial(n, "stride", a["stride"], 1, 1), _spatial(n, "dilate", a["dilate"], 1, 1),
            _spatial(n, "pad", a["pad"], 0, 0))


def _conv_out(sp, k, s, d, p) -> tuple:
    out = []
    for x, ki, si, di, pi in zip(sp, k, s, d, p):
        dk = di * (ki - 1) + 1
        if dk > x + 2 * pi:
            raise ShapeError(f"kernel size {dk} (kernel {ki}, dilate {di}) exceeds the input "
                             f"size {x} padded to {x + 2 * pi}")
        out.append((x + 2 * pi - dk) // si + 1)
    return tuple(out)


def _groups(channels: int, num_filter: int, num_group: int, shape: tuple):
    if num_filter < 1 or num_group < 1:
        raise OpAttrError(f"num_filter={num_filter} and num_group={num_group} must be >= 1")
    if channels % num_group or num_filter % num_group:
        raise ShapeError(f"data of shape {shape} has {channels} channels and num_filter is "
                         f"{num_filter}: both must be divisible by num_group={num_group}")


def _windows(xp: np.ndarray, kernel, stride, dilate, out_sp) -> np.ndarray:
    """View of ``xp`` (N, C, *S) as (N, C, *out_sp, *kernel) with
    ``v[n, c, o..., k...] = xp[n, c, o*stride + k*dilate ...]`` (no copy)."""
    nsp = len(kernel)
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilate))
    v = sliding_window_view(xp, span, axis=tuple(range(2, 2 + nsp)))
    pick = tuple(slice(0, (o - 1) * s + 1, s) for o, s in zip(out_sp, stride))
    return v[(slice(None), slice(None)) + pick + tuple(slice(None, None, d) for d in dilate)]


def _pad(x: np.ndarray, before, after=None, value=0.0) -> np.ndarray:
    after = before if after is None else after
    width = ((0, 0), (0, 0)) + tuple(zip(before, after))
    if not any(b or a for b, a in width):
        return x
    return np.pad(x, width, constant_values=value)


def _prod(xs) -> int:
    r = 1
    for v in xs:
        r *= v
    return r


def _offsets(kernel):
    return itertools.product(*(range(k) for k in kernel))


def _strided(start, stride, count):
    return tuple(slice(b, b + s * (n - 1) + 1, s) for b, s, n in zip(start, stride, count))


# ---------------------------------------------------------------- Convolution


_BOOL = Attr("bool", False)


def _no_bias(attrs, op: str) -> bool:
    return _BOOL.parse(op, "no_bias", attrs["no_bias"])


def _conv_names(attrs):
    return ("data", "weight") if _no_bias(attrs, "Convolution") else ("data", "weight", "bias")


def _check_bias(in_types, num_filter):
    if len(in_types) > 2 and in_types[2].shape != (num_filter,):
        raise ShapeError(f"bias of shape {in_types[2].shape} must have shape ({num_filter},) "
                         f"(num_filter)")


def _conv_infer(in_types, a):
    k, s, d, p = _conv_geom(a)
    x, w = in_types[0], in_types[1]
    _check_data(x, len(k))
    _check_layout(a["layout"], len(k), x.shape)
    _same_dtypes(in_types)
    nf, ng = a["num_filter"], a["num_group"]
    _groups(x.shape[1], nf, ng, x.shape)
    want = (nf, x.shape[1] // ng) + k
    if w.shape != want:
        raise ShapeError(f"weight of shape {w.shape} does not fit data of shape {x.shape}: "
                         f"expected {want} (num_filter, channels / num_group, *kernel)")
    _check_bias(in_types, nf)
    return TensorType((x.shape[0], nf) + _conv_out(x.shape[2:], k, s, d, p), x.dtype)


def _im2col(x, k, s, d, p, o_sp, order) -> np.ndarray:
    """Contiguous copy of the windows of ``x`` (padded by ``p``), axes in ``order`` of
    n, c, k (kernel axes), o (output axes)."""
    nsp = len(k)
    v = _windows(_pad(x, p), k, s, d, o_sp)                          # (N, C, *O, *K)
    axes = {"n": [0], "c": [1], "o": list(range(2, 2 + nsp)),
            "k": list(range(2 + nsp, 2 + 2 * nsp))}
    return np.ascontiguousarray(v.transpose([i for a in order for i in axes[a]]))


def _conv_np(x, w, b=None, *, kernel, stride, dilate, pad, num_filter, num_group, **_):
    k, s, d, p = _conv_geom(dict(kernel=kernel, stride=stride, dilate=dilate, pad=pad))
    nsp, (n, c), g = len(k), x.shape[:2], num_group
    o_sp = _conv_out(x.shape[2:], k, s, d, p)
    cols = _im2col(x, k, s, d, p, o_sp, "ncko")                     # (N, C, *K, *O)
    cols = cols.reshape(n, g, (c // g) * _prod(k), _prod(o_sp))
    wg = w.reshape(g, num_filter // g, -1)                           # (G, Fg, Cg*K)
    out = np.matmul(wg, cols).reshape((n, num_filter) + o_sp)        # (N, G, Fg, O)
    if b is not None:
        out += b.reshape((1, num_filter) + (1,) * nsp)
    return out


def _conv_adj(x_sp, k, s, d, p) -> tuple:
    """The ``adj`` that makes a Deconvolution give back the convolution's input size."""
    return tuple((x + 2 * pi - (di * (ki - 1) + 1)) % si
                 for x, ki, si, di, pi in zip(x_sp, k, s, d, p))


def _bias_grad(F, g, nsp):
    return F.sum(g, axis=(0,) + tuple(range(2, 2 + nsp)))


def _g_conv(c):
    F, a = c.F, c.attrs
    k, s, d, p = _conv_geom(a)
    x_t = c.in_types[0]
    geo = dict(kernel=k, stride=s, dilate=d, pad=p, num_group=a["num_group"])
    dx = F.Deconvolution(c.g, c.inputs[1], adj=_conv_adj(x_t.shape[2:], k, s, d, p),
                         num_filter=x_t.shape[1], no_bias=True, **geo)
    dw = F._conv_weight_grad(c.g, c.inputs[0], num_filter=a["num_filter"], **geo)
    if len(c.in_types) == 2:
        return (dx, dw)
    return (dx, dw, _bias_grad(F, c.g, len(k)))


def _fill_params(op, shapes, attrs, weight_shape):
    """``complete`` of both convolutions: weight ``weight_shape(channels, num_filter,
    num_group)`` + kernel, bias (num_filter,), from the data's channels."""
    a = dict(normalize_attrs(op, attrs))
    x = shapes[0]
    if x is None or len(x) < 2:
        return shapes
    nf = a["num_filter"]
    filled = [x, weight_shape(x[1], nf, a["num_group"]) + tuple(a["kernel"]), (nf,)]
    return [s if s is not None else f for s, f in zip(shapes, filled)]


def _conv_complete(shapes, attrs):
    return _fill_params(CONVOLUTION, shapes, attrs, lambda c, nf, g: (nf, c // g))


_CONV_ATTRS = {
    "kernel": Attr("ints"), "stride": Attr("ints", ()), "dilate": Attr("ints", ()),
    "pad": Attr("ints", ()), "num_filter": Attr("int"), "num_group": Attr("int", 1),
    "workspace": Attr("int", 1024), "no_bias": Attr("bool", False),
    "cudnn_tune": Attr("str?", None, _CUDNN_TUNE), "cudnn_off": Attr("bool", False),
    "layout": Attr("str?", None, (None, "NCW", "NCHW", "NCDHW", "NHWC", "NDHWC")),
}

CONVOLUTION = register(OpDef(
    name="Convolution", inputs=("data", "weight", "bias"), input_names=_conv_names,
    infer=_conv_infer, impl=_conv_np, attrs=_CONV_ATTRS, grad=_g_conv, needs=(0, 1),
    kind="opaque", complete=_conv_complete,
    doc="1-D/2-D/3-D convolution with stride, dilation, zero padding and groups; weight "
        "(num_filter, channels / num_group, *kernel)"))


# ---------------------------------------------------------------- _conv_weight_grad


def _cwg_infer(in_types, a):
    k, s, d, p = _conv_geom(a)
    g, x = in_types
    _check_data(x, len(k))
    _same_dtypes(in_types)
    nf, ng = a["num_filter"], a["num_group"]
    _groups(x.shape[1], nf, ng, x.shape)
    want = (x.shape[0], nf) + _conv_out(x.shape[2:], k, s, d, p)
    if g.shape != want:
        raise ShapeError(f"output gradient of shape {g.shape} does not fit data of shape "
                         f"{x.shape}: expected {want}")
    return TensorType((nf, x.shape[1] // ng) + k, x.dtype)


def _cwg_np(g, x, *, kernel, stride, dilate, pad, num_filter, num_group):
    k, s, d, p = _conv_geom(dict(kernel=kernel, stride=stride, dilate=dilate, pad=pad))
    (n, c), ng = x.shape[:2], num_group
    o_sp = g.shape[2:]
    cols = _im2col(x, k, s, d, p, o_sp, "ckno")                     # (C, *K, N, *O)
    cols = cols.reshape(ng, (c // ng) * _prod(k), n * _prod(o_sp))
    fg = num_filter // ng
    gg = g.reshape(n, ng, fg, _prod(o_sp)).transpose(1, 2, 0, 3)
    gg = gg.reshape(ng, fg, n * _prod(o_sp))                         # (G, Fg, N*O)
    dw = np.matmul(gg, cols.transpose(0, 2, 1))                      # (G, Fg, Cg*K)
    return dw.reshape((num_filter, c // ng) + k)


def _g_cwg(c):
    """Bilinear in (grad, data): d/dgrad is a Convolution of data, d/ddata a Deconvolution."""
    F, a = c.F, c.attrs
    k, s, d, p = _conv_geom(a)
    x_t = c.in_types[1]
    geo = dict(kernel=k, stride=s, dilate=d, pad=p, num_group=a["num_group"])
    dg = F.Convolution(c.inputs[1], c.g, num_filter=a["num_filter"], no_bias=True, **geo)
    dx = F.Deconvolution(c.inputs[0], c.g, adj=_conv_adj(x_t.shape[2:], k, s, d, p),
                         num_filter=x_t.shape[1], no_bias=True, **geo)
    return (dg, dx)


register(OpDef(
    name="_conv_weight_grad", inputs=("grad", "data"), infer=_cwg_infer, impl=_cwg_np,
    attrs={"kernel": Attr("ints"), "stride": Attr("ints", ()), "dilate": Attr("ints", ()),
           "pad": Attr("ints", ()), "num_filter": Attr("int"), "num_group": Attr("int", 1)},
    grad=_g_cwg, needs=(0, 1), kind="opaque",
    doc="gradient of a convolution's weight: correlate the output gradient with the data"))


# ---------------------------------------------------------------- Deconvolution


def _deconv_names(attrs):
    return ("data", "weight") if _no_bias(attrs, "Deconvolution") else ("data", "weight", "bias")


def _deconv_geom(a: dict, in_sp: tuple) -> tuple:
    """(kernel, stride, dilate, pad, adj) for an input of spatial shape ``in_sp``; a
    ``target_shape`` replaces pad and adj, as MXNet computes them."""
    k, s, d, p = _conv_geom(a)
    adj = _spatial(len(k), "adj", a["adj"], 0, 0)
    target = a["target_shape"]
    if target and any(target):
        target = _spatial(len(k), "target_shape", target, 1, 1)
        p, adj = [], []
        for x, ki, si, di, t in zip(in_sp, k, s, d, target):
            full = si * (x - 1) + di * (ki - 1) + 1
            if full < t:
                raise ShapeError(f"target_shape {tuple(target)} is too big: an input of spatial "
                                 f"shape {tuple(in_sp)} gives at most {full} in some dim")
            p.append((full - t + 1) // 2)
            adj.append((full - t) % 2)
        p, adj = tuple(p), tuple(adj)
    for ai, si in zip(adj, s):
        if ai >= si:
            raise OpAttrError(f"adj {tuple(adj)} must be smaller than stride {s} in every dim")
    return k, s, d, p, adj


def _deconv_out(in_sp, k, s, d, p, adj) -> tuple:
    out = tuple(si * (x - 1) + di * (ki - 1) + 1 - 2 * pi + ai
                for x, ki, si, di, pi, ai in zip(in_sp, k, s, d, p, adj))
    if any(o < 0 for o in out):
        raise ShapeError(f"pad {p} is too large: the output spatial shape would be {out}")
    return out


def _deconv_infer(in_types, a):
    x, w = in_types[0], in_types[1]
    nsp = len(_kernel(a["kernel"]))
    _check_data(x, nsp)
    _check_layout(a["layout"], nsp, x.shape)
    _same_dtypes(in_types)
    k, s, d, p, adj = _deconv_geom(a, x.shape[2:])
    nf, ng = a["num_filter"], a["num_group"]
    _groups(x.shape[1], nf, ng, x.shape)
    want = (x.shape[1], nf // ng) + k
    if w.shape != want:
        raise ShapeError(f"weight of shape {w.shape} does not fit data of shape {x.shape}: "
                         f"expected {want} (channels, num_filter / num_group, *kernel)")
    _check_bias(in_types, nf)
    return TensorType((x.shape[0], nf) + _deconv_out(x.shape[2:], k, s, d, p, adj), x.dtype)


def _deconv_np(x, w, b=None, **a):
    in_sp = x.shape[2:]
    k, s, d, p, adj = _deconv_geom(a, in_sp)
    nsp, (n, c), ng, nf = len(k), x.shape[:2], a["num_group"], a["num_filter"]
    out_sp = _deconv_out(in_sp, k, s, d, p, adj)
    cg, fg = c // ng, nf // ng
    wt = np.ascontiguousarray(w.reshape(ng, cg, fg * _prod(k)).transpose(0, 2, 1))  # G,FgK,Cg
    cols = np.matmul(wt, x.reshape(n, ng, cg, _prod(in_sp)))         # (N, G, Fg*K, S)
    cols = cols.reshape((n, nf) + k + in_sp)
    # scatter: full-size position i*stride + k*dilate, then crop pad (and grow by adj)
    size = tuple(max(si * (x_ - 1) + di * (ki - 1) + 1, pi + o)
                 for x_, ki, si, di, pi, o in zip(in_sp, k, s, d, p, out_sp))
    buf = np.zeros((n, nf) + size, dtype=x.dtype)
    for off in _offsets(k):
        start = tuple(o * di for o, di in zip(off, d))
        buf[(slice(None), slice(None)) + _strided(start, s, in_sp)] += cols[(slice(None),
                                                                             slice(None)) + off]
    out = buf[(slice(None), slice(None)) + tuple(slice(pi, pi + o) for pi, o in zip(p, out_sp))]
    out = np.ascontiguousarray(out)
    if b is not None:
        out += b.reshape((1, nf) + (1,) * nsp)
    return out


def _g_deconv(c):
    F, a = c.F, c.attrs
    x_t = c.in_types[0]
    k, s, d, p, _ = _deconv_geom(a, x_t.shape[2:])
    geo = dict(kernel=k, stride=s, dilate=d, pad=p, num_group=a["num_group"])
    dx = F.Convolution(c.g, c.inputs[1], num_filter=x_t.shape[1], no_bias=True, **geo)
    dw = F._conv_weight_grad(c.inputs[0], c.g, num_filter=x_t.shape[1], **geo)
    if len(c.in_types) == 2:
        return (dx, dw)
    return (dx, dw, _bias_grad(F, c.g, len(k)))


def _deconv_complete(shapes, attrs):
    return _fill_params(DECONVOLUTION, shapes, attrs, lambda c, nf, g: (c, nf // g))


DECONVOLUTION = register(OpDef(
    name="Deconvolution", inputs=("data", "weight", "bias"), input_names=_deconv_names,
    infer=_deconv_infer, impl=_deconv_np,
    attrs={"kernel": Attr("ints"), "stride": Attr("ints", ()), "dilate": Attr("ints", ()),
           "pad": Attr("ints", ()), "adj": Attr("ints", ()), "target_shape": Attr("ints", ()),
           "num_filter": Attr("int"), "num_group": Attr("int", 1),
           "workspace": Attr("int", 512), "no_bias": Attr("bool", True),
           "cudnn_tune": Attr("str?", None, _CUDNN_TUNE), "cudnn_off": Attr("bool", False),
           "layout": Attr("str?", None, (None, "NCW", "NCHW", "NCDHW", "NHWC", "NDHWC"))},
    grad=_g_deconv, needs=(0, 1), kind="opaque", complete=_deconv_complete,
    doc="transposed convolution; weight (channels, num_filter / num_group, *kernel); output "
        "(in - 1) * stride - 2 * pad + dilate * (kernel - 1) + 1 + adj, or target_shape"))
