"""Pooling (max / avg / sum / lp) in channel-first layouts (NCW, NCHW, NCDHW), and
``_pool_backward``, the internal op its gradient is built from.

The reference implementations loop over kernel offsets (never over pixels): one strided slice
of the padded input per offset, accumulated forward and scattered back for the gradient. The
window-geometry helpers are conv.py's.
"""
from __future__ import annotations

import numpy as np

from ..errors import OpAttrError, ShapeError
from ..ir.types import TensorType
from .conv import (_check_data, _check_layout, _kernel, _offsets, _pad, _same_dtypes, _spatial,
                   _strided, _windows)
from .registry import Attr, OpDef, register

# ---------------------------------------------------------------- Pooling


def _pool_geom(shape: tuple, a: dict) -> tuple:
    """(kernel, stride, pad, convention) for data of ``shape``; global pooling is one window
    over all spatial dims."""
    nd = len(shape)
    if not 3 <= nd <= 5:
        raise ShapeError(f"data of shape {shape} must be 3-d, 4-d or 5-d "
                         f"(batch, channel, 1 to 3 spatial dims)")
    kernel = a["kernel"]
    if a["global_pool"]:
        if kernel and len(kernel) != nd - 2:
            raise ShapeError(f"kernel {kernel} does not fit data of shape {shape}")
        if any(x == 0 for x in shape[2:]):
            raise ShapeError(f"global pooling of data of shape {shape} with an empty spatial dim")
        return shape[2:], (1,) * (nd - 2), (0,) * (nd - 2), "valid"
    if not kernel:
        raise OpAttrError("kernel is required unless global_pool=True")
    k = _kernel(kernel)
    if len(k) != nd - 2:
        raise ShapeError(f"data of shape {shape} must be {len(k) + 2}-d for a {len(k)}-d kernel")
    s = _spatial(len(k), "stride", a["stride"], 1, 1)
    p = _spatial(len(k), "pad", a["pad"], 0, 0)
    conv = a["pooling_convention"]
    if conv == "same" and (len(k) != 1 or any(p)):
        raise OpAttrError("pooling_convention='same' supports 1-d pooling without pad only")
    for x, ki, pi in zip(shape[2:], k, p):
        if ki > x + 2 * pi:
            raise ShapeError(f"kernel size {ki} exceeds the input size {x} padded to {x + 2 * pi}")
    return k, s, p, conv


def _pool_out(sp, k, s, p, conv) -> tuple:
    if conv == "valid":
        return tuple((x + 2 * pi - ki) // si + 1 for x, ki, si, pi in zip(sp, k, s, p))
    if conv == "full":
        return tuple(-(-(x + 2 * pi - ki) // si) + 1 for x, ki, si, pi in zip(sp, k, s, p))
    return tuple(-(-(x + 2 * pi) // si) for x, si, pi in zip(sp, s, p))       # same


def _pool_check_type(a):
    if a["pool_type"] == "lp" and a["p_value"] not in (1, 2, 3):
        raise OpAttrError(f"pool_type='lp' needs p_value 1, 2 or 3, got {a['p_value']}")


def _pool_infer(in_types, a):
    x = in_types[0]
    k, s, p, conv = _pool_geom(x.shape, a)
    _check_data(x, len(k))
    _pool_check_type(a)
    _check_layout(a["layout"], len(k), x.shape)
    return TensorType(x.shape[:2] + _pool_out(x.shape[2:], k, s, p, conv), x.dtype)


def _pool_frame(shape, a):
    """Everything a pooling pass needs: geometry, output size, padding (after covers windows
    that run past the padded input under 'full' / 'same'), and per-dim window extents."""
    k, s, p, conv = _pool_geom(shape, a)
    sp = shape[2:]
    o_sp = _pool_out(sp, k, s, p, conv)
    after = tuple(max(pi, (o - 1) * si + ki - pi - x)
                  for x, ki, si, pi, o in zip(sp, k, s, p, o_sp))
    counts, sizes = [], []
    for x, ki, si, pi, o in zip(sp, k, s, p, o_sp):
        start = np.arange(o) * si - pi
        end = np.minimum(start + ki, x + pi)             # MXNet clips windows at the padded end
        sizes.append(end - start)
        counts.append(np.maximum(np.minimum(end, x) - np.maximum(start, 0), 0))
    return k, s, p, after, o_sp, counts, sizes


def _outer(vectors, dtype=np.float64):
    """Outer product of per-dim vectors: a (1, 1, *O) array."""
    r = np.ones((1, 1), dtype=dtype)
    for v in vectors:
        r = np.multiply.outer(r, v.astype(dtype))
    return r


def _lp_pow(x, pv):
    return x if pv == 1 else x * x if pv == 2 else x * x * x


def _pool_np(x, **a):
    t = a["pool_type"]
    if a["global_pool"] and t in ("max", "sum", "avg"):
        red = {"max": np.max, "sum": np.sum, "avg": np.mean}[t]
        return red(x, axis=tuple(range(2, x.ndim)), keepdims=True)
    k, s, p, after, o_sp, counts, sizes = _pool_frame(x.shape, a)
    fill = -np.inf if t == "max" else 0.0
    xp = _pad(x if t != "lp" else _lp_pow(x, a["p_value"]), p, after, fill)
    out = None
    for off in _offsets(k):           # accumulate one strided slice per kernel offset
        v = xp[(slice(None), slice(None)) + _strided(off, s, o_sp)]
        if out is None:
            out = v.copy()
        elif t == "max":
            np.maximum(out, v, out=out)
        else:
            out += v
    if t == "max":
        if any((c == 0).any() for c in counts):      # windows wholly in the padding
            out = np.where(_outer(counts) == 0, np.finfo(x.dtype).min, out)
        return out
    if t == "avg":
        div = _outer(sizes if a["count_include_pad"] is not False else counts)
        out = np.where(div > 0, out / np.where(div > 0, div, 1.0), 0.0)
    elif t == "lp" and a["p_value"] == 2:
        out = np.sqrt(out)
    elif t == "lp" and a["p_value"] == 3:
        out = np.cbrt(out)
    return out.astype(x.dtype, copy=False)


def _g_pool(c):
    return (c.F._pool_backward(c.g, c.inputs[0], c.out, **c.attrs),)


_POOL_ATTRS = {
    "kernel": Attr("ints", ()), "pool_type": Attr("str", "max", ("max", "avg", "sum", "lp")),
    "global_pool": Attr("bool", False), "cudnn_off": Attr("bool", False),
    "pooling_convention": Attr("str", "valid", ("valid", "full", "same")),
    "stride": Attr("ints", ()), "pad": Attr("ints", ()), "p_value": Attr("int?", None),
    "count_include_pad": Attr("bool?", None),
    "layout": Attr("str?", None, (None, "NCW", "NCHW", "NCDHW", "NWC", "NHWC", "NDHWC")),
}

register(OpDef(
    name="Pooling", inputs=("data",), infer=_pool_infer, impl=_pool_np, attrs=_POOL_ATTRS,
    grad=_g_pool, needs=(0, "out"), kind="opaque",
    doc="max / avg / sum / lp pooling; windows are clipped at the padded input's end "
        "('full'); avg divides by the window size clipped that way (count_include_pad, the "
        "default) or by the number of input cells it covers"))


# ---------------------------------------------------------------- _pool_backward


def _pb_infer(in_types, a):
    g, x, y = in_types
    _same_dtypes(in_types)
    want = _pool_infer((x,), a)
    if g.shape != want.shape or y.shape != want.shape:
        raise ShapeError(f"output gradient {g.shape} and output {y.shape} must both have "
                         f"the pooled shape {want.shape}")
    return x


def _pool_backward_np(g, x, y, **a):
    k, s, p, after, o_sp, counts, sizes = _pool_frame(x.shape, a)
    t, nsp = a["pool_type"], len(k)
    size = tuple(pi + xi + ai for pi, xi, ai in zip(p, x.shape[2:], after))
    acc = np.result_type(x.dtype, np.float32)      # float16 accumulates in float32
    buf = np.zeros(x.shape[:2] + size, dtype=acc)
    g = g.astype(acc, copy=False)
    if t == "max":      # to the first cell of each window holding the maximum
        win = _windows(_pad(x, p, after, -np.inf), k, s, (1,) * nsp, o_sp)
        arg = np.argmax(win.reshape(win.shape[:2 + nsp] + (-1,)), axis=-1)
        g = np.where(_outer(counts) > 0, g, 0.0)
    elif t == "avg":
        div = _outer(sizes if a["count_include_pad"] is not False else counts, acc)
        g = np.where(div > 0, g / np.where(div > 0, div, 1), 0).astype(acc, copy=False)
    elif t == "lp" and a["p_value"] > 1:   # d (sum x^p)^(1/p) = (x / y)^(p-1)
        xp = _pad(x.astype(acc, copy=False), p, after)
        y = y.astype(acc, copy=False)
    for i, off in enumerate(_offsets(k)):
        where = (slice(None), slice(None)) + _strided(off, s, o_sp)
        if t == "max":
            buf[where] += np.where(arg == i, g, 0.0)
        elif t == "lp" and a["p_value"] > 1:
            ratio = np.where(y != 0, xp[where] / np.where(y != 0, y, 1.0), 0.0)
            buf[where] += g * ratio ** (a["p_value"] - 1)
        else:
            buf[where] += g
    crop = tuple(slice(pi, pi + xi) for pi, xi in zip(p, x.shape[2:]))
    return buf[(slice(None), slice(None)) + crop].astype(x.dtype)


def _g_pool_backward(c):
    """Linear in the output gradient; for sum / avg / lp(1) its transpose is the pooling."""
    t = c.attrs["pool_type"]
    if t in ("sum", "avg") or (t == "lp" and c.attrs["p_value"] == 1):
        return (c.F.Pooling(c.g, **c.attrs), None, None)
    return (None, None, None)


register(OpDef(
    name="_pool_backward", inputs=("grad", "data", "out"), infer=_pb_infer,
    impl=_pool_backward_np, attrs=dict(_POOL_ATTRS), grad=_g_pool_backward, kind="opaque",
    nondiff=(1, 2),
    doc="gradient of Pooling: max routes to the first maximum of each window, sum / avg "
        "spread the gradient over the window"))
