"""Normalisation ops: BatchNorm (and ``batchnorm_moving_update``, its moving-statistics
step), LayerNorm, InstanceNorm, GroupNorm and L2Normalization.

Semantics follow MXNet 1.9.1 (checked against it): variances are biased, and GroupNorm's
gamma/beta have one value per group, as in 1.x.

Gradient rules are built of other ops only, so they work eagerly and in graphs, and
differentiate again. (They spell addition ``F.broadcast_add``: on a graph builder ``F.add`` is
the builder's own node-appending method.)
"""
from __future__ import annotations

import numpy as np

from ..errors import OpAttrError, ShapeError
from .nnutil import (_attrs_of, _bshape, _float_inputs, _mean_keep, _param_complete, _prod,
                     _shape_of, _sum_keep, _sum_to)
from .registry import Attr, OpDef, norm_axis, register

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
    aux_decay=lambda attrs: float(attrs["momentum"]),
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
    shape = _shape_of(F, data)
    ax = norm_axis(_attrs_of("BatchNorm", attrs)["axis"], len(shape))
    if any(d == 0 for i, d in enumerate(shape) if i != ax):
        return []        # an empty batch has no statistics: the moving ones stay as they were
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
    # mean, then the biased variance around it, then each element (gamma {1}, beta {2})
    row=lambda a: None if a["output_mean_var"] else (
        ("acc", "s", "0.0", "s + {x}"), ("let", "mu", "s / {n}"),
        ("acc", "v", "0.0", "v + ({x} - mu) * ({x} - mu)"),
        ("let", "r", "1.0 / math.sqrt(v / {n} + {eps})"), ("out", "({x} - mu) * r * {1} + {2}")),
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
