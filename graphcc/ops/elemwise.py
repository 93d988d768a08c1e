"""Elementwise ops on one array: unary math, activations (Activation, LeakyReLU) and casts.
The ops with a scalar operand and the broadcasting ops on two or more arrays are in binary.py.

Every row here has fusion kind "elementwise" (same shape in and out), an in-place option on
its first input and a scalar expression template for codegen (``{0}`` is the operand,
``{a_min}`` etc. attrs).
"""
from __future__ import annotations

import math

import numpy as np

from ..ir.types import TensorType
from .gradutil import unbroadcast
from .registry import Attr, OpDef, register, same_dtype

# ---------------------------------------------------------------- unary


def _same(in_types, attrs):
    return in_types[0]


def unary(name, fn, grad=None, needs=(), expr=None, aliases=(), attrs=None, doc="",
          infer=_same):
    return register(OpDef(
        name=name, inputs=("data",), infer=infer, impl=fn, attrs=attrs or {}, grad=grad,
        needs=needs, kind="elementwise", inplace=(0,), expr=expr, aliases=aliases, doc=doc))


_erf = np.frompyfunc(math.erf, 1, 1)


def erf_np(x):
    x = np.asarray(x)
    return np.asarray(_erf(x.astype(np.float64)), np.float64).reshape(x.shape).astype(x.dtype)


def _gelu_np(x, approximation="erf"):
    x64 = np.asarray(x, np.float64)
    if approximation == "tanh":
        return 0.5 * x64 * (1.0 + np.tanh(math.sqrt(2 / math.pi) * (x64 + 0.044715 * x64 ** 3)))
    return 0.5 * x64 * (1.0 + erf_np(x64 / math.sqrt(2.0)))


def _softrelu_np(x):
    return np.logaddexp(0, x)


def _sigmoid_np(x):
    x = np.asarray(x)
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def _g_zero(c):
    return (None,) * len(c.in_types)


def _g_neg(c):
    return (c.F.negative(c.g),)


def _g_abs(c):
    return (c.F.multiply(c.g, c.F.sign(c.inputs[0])),)


def _g_exp(c):
    return (c.F.multiply(c.g, c.out),)


def _g_expm1(c):
    return (c.F.multiply(c.g, c.F._plus_scalar(c.out, scalar=1.0)),)


def _g_log(c):
    return (c.F.divide(c.g, c.inputs[0]),)


def _g_log1p(c):
    return (c.F.divide(c.g, c.F._plus_scalar(c.inputs[0], scalar=1.0)),)


def _g_log2(c):
    return (c.F.divide(c.g, c.F._mul_scalar(c.inputs[0], scalar=math.log(2.0))),)


def _g_log10(c):
    return (c.F.divide(c.g, c.F._mul_scalar(c.inputs[0], scalar=math.log(10.0))),)


def _g_sqrt(c):
    return (c.F.divide(c.F._mul_scalar(c.g, scalar=0.5), c.out),)


def _g_rsqrt(c):  # d/dx x^-1/2 = -1/2 x^-3/2 = -1/2 y^3
    F = c.F
    y3 = F.multiply(F.square(c.out), c.out)
    return (F.multiply(F._mul_scalar(c.g, scalar=-0.5), y3),)


def _g_cbrt(c):  # d/dx x^1/3 = 1/(3 y^2)
    F = c.F
    return (F.divide(c.g, F._mul_scalar(F.square(c.out), scalar=3.0)),)


def _g_rcbrt(c):  # d/dx x^-1/3 = -1/3 y^4
    F = c.F
    y2 = F.square(c.out)
    return (F.multiply(F._mul_scalar(c.g, scalar=-1.0 / 3.0), F.square(y2)),)


def _g_square(c):
    return (c.F.multiply(c.F._mul_scalar(c.g, scalar=2.0), c.inputs[0]),)


def _g_reciprocal(c):
    return (c.F.negative(c.F.multiply(c.g, c.F.square(c.out))),)


def _g_sin(c):
    return (c.F.multiply(c.g, c.F.cos(c.inputs[0])),)


def _g_cos(c):
    return (c.F.negative(c.F.multiply(c.g, c.F.sin(c.inputs[0]))),)


def _g_tan(c):
    F = c.F
    return (F.multiply(c.g, F._plus_scalar(F.square(c.out), scalar=1.0)),)


def _g_arcsin(c):  # 1/sqrt(1-x^2)
    F = c.F
    return (F.multiply(c.g, F.rsqrt(F._rminus_scalar(F.square(c.inputs[0]), scalar=1.0))),)


def _g_arccos(c):
    F = c.F
    return (F.negative(F.multiply(c.g, F.rsqrt(
        F._rminus_scalar(F.square(c.inputs[0]), scalar=1.0)))),)


def _g_arctan(c):
    F = c.F
    return (F.divide(c.g, F._plus_scalar(F.square(c.inputs[0]), scalar=1.0)),)


def _g_sinh(c):
    return (c.F.multiply(c.g, c.F.cosh(c.inputs[0])),)


def _g_cosh(c):
    return (c.F.multiply(c.g, c.F.sinh(c.inputs[0])),)


def _g_arcsinh(c):
    F = c.F
    return (F.multiply(c.g, F.rsqrt(F._plus_scalar(F.square(c.inputs[0]), scalar=1.0))),)


def _g_arccosh(c):
    F = c.F
    return (F.multiply(c.g, F.rsqrt(F._minus_scalar(F.square(c.inputs[0]), scalar=1.0))),)


def _g_arctanh(c):
    F = c.F
    return (F.divide(c.g, F._rminus_scalar(F.square(c.inputs[0]), scalar=1.0)),)


def _g_tanh(c):
    F = c.F
    return (F.multiply(c.g, F._rminus_scalar(F.square(c.out), scalar=1.0)),)


def _g_sigmoid(c):
    F = c.F
    return (F.multiply(c.g, F.multiply(c.out, F._rminus_scalar(c.out, scalar=1.0))),)


def _g_relu(c):
    F = c.F
    return (F.multiply(c.g, F._greater_scalar(c.out, scalar=0.0)),)


def _g_softrelu(c):
    return (c.F.multiply(c.g, c.F.sigmoid(c.inputs[0])),)


def _g_softsign(c):
    F = c.F
    d = F._plus_scalar(F.abs(c.inputs[0]), scalar=1.0)
    return (F.divide(c.g, F.square(d)),)


def _g_erf(c):
    F = c.F
    e = F.exp(F.negative(F.square(c.inputs[0])))
    return (F.multiply(c.g, F._mul_scalar(e, scalar=2.0 / math.sqrt(math.pi))),)


def _g_gelu(c):
    F = c.F
    x = c.inputs[0]
    if c.attrs["approximation"] == "tanh":
        # y = 0.5 x (1 + t), t = tanh(k (x + a x^3));
        # dy = 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 a x^2)
        k, a = math.sqrt(2 / math.pi), 0.044715
        x2 = F.square(x)
        inner = F.multiply(x, F._plus_scalar(F._mul_scalar(x2, scalar=a), scalar=1.0))
        t = F.tanh(F._mul_scalar(inner, scalar=k))
        left = F._mul_scalar(F._plus_scalar(t, scalar=1.0), scalar=0.5)
        dt = F._rminus_scalar(F.square(t), scalar=1.0)
        dinner = F._plus_scalar(F._mul_scalar(x2, scalar=3 * a * k), scalar=k)
        right = F.multiply(F._mul_scalar(x, scalar=0.5), F.multiply(dt, dinner))
        return (F.multiply(c.g, F.add(left, right)),)
    # y = x Phi(x);  dy = Phi(x) + x phi(x)
    phi = F._mul_scalar(F.exp(F._mul_scalar(F.square(x), scalar=-0.5)),
                        scalar=1.0 / math.sqrt(2 * math.pi))
    cdf = F._mul_scalar(F._plus_scalar(F.erf(F._mul_scalar(x, scalar=1 / math.sqrt(2.0))),
                                       scalar=1.0), scalar=0.5)
    return (F.multiply(c.g, F.add(cdf, F.multiply(x, phi))),)


def _g_clip(c):
    F = c.F
    x = c.inputs[0]
    lo, hi = c.attrs["a_min"], c.attrs["a_max"]
    mask = F.multiply(F._greater_equal_scalar(x, scalar=lo), F._lesser_equal_scalar(x, scalar=hi))
    return (F.multiply(c.g, mask),)


def _g_identity(c):
    return (c.g,)


def _cast_infer(in_types, attrs):
    return TensorType(in_types[0].shape, attrs["dtype"])


def _g_cast(c):
    return (c.F.cast(c.g, dtype=c.in_types[0].dtype),)


def _clip_np(x, a_min, a_max):
    return np.clip(x, a_min, a_max)


def _round_np(x):  # MXNet rounds half away from zero
    return np.where(x >= 0, np.floor(x + 0.5), np.ceil(x - 0.5)).astype(x.dtype)


unary("negative", np.negative, _g_neg, (), "-{0}")
unary("abs", np.abs, _g_abs, (0,), "abs({0})")
unary("sign", np.sign, _g_zero, (), "np_sign({0})")
unary("exp", np.exp, _g_exp, ("out",), "math.exp({0})")
unary("expm1", np.expm1, _g_expm1, ("out",), "math.expm1({0})")
unary("log", np.log, _g_log, (0,), "math.log({0})")
unary("log1p", np.log1p, _g_log1p, (0,), "math.log1p({0})")
unary("log2", np.log2, _g_log2, (0,), "math.log2({0})")
unary("log10", np.log10, _g_log10, (0,), "math.log10({0})")
unary("sqrt", np.sqrt, _g_sqrt, ("out",), "math.sqrt({0})")
unary("rsqrt", lambda x: 1.0 / np.sqrt(x), _g_rsqrt, ("out",), "1.0 / math.sqrt({0})")
unary("cbrt", np.cbrt, _g_cbrt, ("out",), "np.cbrt({0})")
unary("rcbrt", lambda x: 1.0 / np.cbrt(x), _g_rcbrt, ("out",), "1.0 / np.cbrt({0})")
unary("square", np.square, _g_square, (0,), "{0} * {0}")
unary("reciprocal", np.reciprocal, _g_reciprocal, ("out",), "1.0 / {0}")
unary("sin", np.sin, _g_sin, (0,), "math.sin({0})")
unary("cos", np.cos, _g_cos, (0,), "math.cos({0})")
unary("tan", np.tan, _g_tan, ("out",), "math.tan({0})")
unary("arcsin", np.arcsin, _g_arcsin, (0,), "math.asin({0})")
unary("arccos", np.arccos, _g_arccos, (0,), "math.acos({0})")
unary("arctan", np.arctan, _g_arctan, (0,), "math.atan({0})")
unary("sinh", np.sinh, _g_sinh, (0,), "math.sinh({0})")
unary("cosh", np.cosh, _g_cosh, (0,), "math.cosh({0})")
unary("arcsinh", np.arcsinh, _g_arcsinh, (0,), "math.asinh({0})")
unary("arccosh", np.arccosh, _g_arccosh, (0,), "math.acosh({0})")
unary("arctanh", np.arctanh, _g_arctanh, (0,), "math.atanh({0})")
unary("degrees", np.degrees, lambda c: (c.F._mul_scalar(c.g, scalar=180.0 / math.pi),), (),
      "{0} * 57.29577951308232")
unary("radians", np.radians, lambda c: (c.F._mul_scalar(c.g, scalar=math.pi / 180.0),), (),
      "{0} * 0.017453292519943295")
unary("tanh", np.tanh, _g_tanh, ("out",), "math.tanh({0})")
unary("sigmoid", _sigmoid_np, _g_sigmoid, ("out",), "1.0 / (1.0 + math.exp(-{0}))")
unary("relu", lambda x: np.maximum(x, 0), _g_relu, ("out",), "np_relu({0})")
unary("softrelu", _softrelu_np, _g_softrelu, (0,),
      "(np_relu({0}) + math.log1p(math.exp(-abs({0}))))")
unary("softsign", lambda x: x / (1 + np.abs(x)), _g_softsign, (0,), "{0} / (1.0 + abs({0}))")
unary("erf", erf_np, _g_erf, (0,), "math.erf({0})")
def _gelu_expr(attrs):
    if attrs["approximation"] == "tanh":
        return ("(0.5 * {0} * (1.0 + math.tanh(0.7978845608028654 * "
                "({0} + 0.044715 * {0} * {0} * {0}))))")
    return "(0.5 * {0} * (1.0 + math.erf({0} * 0.7071067811865476)))"


unary("gelu", _gelu_np, _g_gelu, (0,), _gelu_expr,
      attrs={"approximation": Attr("str", "erf", ("erf", "tanh"))},
      doc="GELU: x * Phi(x) ('erf') or its tanh approximation ('tanh')")
unary("clip", _clip_np, _g_clip, (0,), "np_clip({0}, {a_min}, {a_max})",
      attrs={"a_min": Attr("float"), "a_max": Attr("float")})
unary("round", _round_np, _g_zero, (), "round_half_away({0})")
unary("rint", np.rint, _g_zero, (), "np.rint({0})")
unary("floor", np.floor, _g_zero, (), "np.floor({0})")
unary("ceil", np.ceil, _g_zero, (), "np.ceil({0})")
unary("trunc", np.trunc, _g_zero, (), "np.trunc({0})")
unary("fix", np.trunc, _g_zero, (), "np.trunc({0})")
unary("logical_not", lambda x: (x == 0), _g_zero, (), "b2f({0} == 0)")
unary("_copy", lambda x: np.array(x, copy=True), _g_identity, (), "{0}",
      aliases=("identity", "copy"))
unary("stop_gradient", lambda x: np.array(x, copy=True), _g_zero, (), "{0}",
      aliases=("BlockGrad",), doc="identity forward; blocks the gradient")
unary("cast", lambda x, dtype: x.astype(dtype), _g_cast, (), "{0}",
      attrs={"dtype": Attr("dtype")}, aliases=("Cast",), infer=_cast_infer)


# ---------------------------------------------------------------- Activation / LeakyReLU

_ACT = {"relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh", "softrelu": "softrelu",
        "softsign": "softsign"}


def _act_np(x, act_type):
    from . import registry
    return registry.get(_ACT[act_type]).impl(x)


def _g_act(c):
    from . import registry
    inner = registry.get(_ACT[c.attrs["act_type"]])
    return inner.grad(c)


def _act_needs():
    return (0, "out")   # the rule reads the input (softrelu, softsign) or output (the others)


def _act_expr(attrs):
    from . import registry
    return registry.get(_ACT[attrs["act_type"]]).expr


register(OpDef(
    name="Activation", inputs=("data",), infer=_same, impl=_act_np,
    attrs={"act_type": Attr("str", choices=tuple(_ACT))}, grad=_g_act, needs=_act_needs(),
    kind="elementwise", inplace=(0,), expr=_act_expr,
    doc="relu / sigmoid / tanh / softrelu / softsign"))

_LEAKY_TYPES = ("leaky", "elu", "selu", "gelu", "prelu")
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_LAMBDA = 1.0507009873554804934193349852946


def _leaky_names(attrs):
    return ("data", "gamma") if attrs.get("act_type") == "prelu" else ("data",)


def _leaky_infer(in_types, attrs):
    same_dtype("LeakyReLU", in_types)
    if attrs["act_type"] == "prelu":
        x, gm = in_types
        if x.ndim < 2 and gm.size != 1 or gm.ndim != 1 or (
                gm.shape[0] not in (1, x.shape[1] if x.ndim > 1 else 1)):
            from ..errors import ShapeError
            raise ShapeError(f"prelu gamma of shape {gm.shape} does not match the channels "
                             f"of data {x.shape} (axis 1)")
    return in_types[0]


def _gamma_bcast(gamma, ndim):
    return gamma.reshape((1, -1) + (1,) * (ndim - 2)) if ndim >= 2 else gamma


def _leaky_np(x, gamma=None, *, act_type, slope, lower_bound, upper_bound):
    if act_type == "leaky":
        return np.where(x > 0, x, x * slope)
    if act_type == "elu":
        return np.where(x > 0, x, slope * np.expm1(np.minimum(x, 0)))
    if act_type == "selu":
        return _SELU_LAMBDA * np.where(x > 0, x, _SELU_ALPHA * np.expm1(np.minimum(x, 0)))
    if act_type == "gelu":
        return _gelu_np(x)
    g = _gamma_bcast(gamma, x.ndim)
    return np.where(x > 0, x, x * g)


def _g_leaky(c):
    F = c.F
    x, t = c.inputs[0], c.attrs["act_type"]
    pos = F._greater_scalar(x, scalar=0.0)
    neg = F._rminus_scalar(pos, scalar=1.0)
    if t == "leaky":
        d = F.add(pos, F._mul_scalar(neg, scalar=c.attrs["slope"]))
        return (F.multiply(c.g, d),)
    if t in ("elu", "selu"):
        a = c.attrs["slope"] if t == "elu" else _SELU_ALPHA
        lam = 1.0 if t == "elu" else _SELU_LAMBDA
        e = F._mul_scalar(F.exp(F.minimum(x, F.zeros_like(x))), scalar=a)
        d = F._mul_scalar(F.add(pos, F.multiply(neg, e)), scalar=lam)
        return (F.multiply(c.g, d),)
    if t == "gelu":
        return _g_gelu(type(c)(F, c.g, c.inputs, c.out, c.in_types, c.out_type,
                               {"approximation": "erf"}))
    gamma = c.inputs[1]
    xt, gt = c.in_types
    gb = F._reshape_to(gamma, shape=(1, gt.shape[0]) + (1,) * (xt.ndim - 2)) \
        if xt.ndim >= 2 else gamma
    d = F.add(pos, F.broadcast_mul(neg, gb))
    dx = F.multiply(c.g, d)
    dgamma_full = F.multiply(F.multiply(c.g, neg), x)
    shape_b = (1, gt.shape[0]) + (1,) * (xt.ndim - 2) if xt.ndim >= 2 else gt.shape
    dgamma = unbroadcast(F, dgamma_full, xt.shape, shape_b)
    return (dx, F._reshape_to(dgamma, shape=gt.shape))


def _leaky_complete(shapes, attrs):
    if attrs.get("act_type") == "prelu" and shapes[0] is not None and len(shapes) > 1:
        x = shapes[0]
        return [x, (x[1] if len(x) > 1 else 1,)]
    return shapes


_LEAKY_EXPR = {
    "leaky": "({0} if {0} > 0 else {0} * {slope})",
    "elu": "({0} if {0} > 0 else {slope} * math.expm1({0}))",
    "selu": f"({_SELU_LAMBDA} * ({{0}} if {{0}} > 0 else {_SELU_ALPHA} * math.expm1({{0}})))",
    "gelu": "(0.5 * {0} * (1.0 + math.erf({0} * 0.7071067811865476)))",
}


def _leaky_expr(attrs):
    return _LEAKY_EXPR.get(attrs["act_type"])   # prelu: per-channel gamma, not fusible


register(OpDef(
    name="LeakyReLU", inputs=("data", "gamma"), expr=_leaky_expr, input_names=_leaky_names,
    infer=_leaky_infer,
    impl=_leaky_np, grad=_g_leaky, needs=(0, 1), kind="elementwise", inplace=(0,),
    attrs={"act_type": Attr("str", "leaky", _LEAKY_TYPES), "slope": Attr("float", 0.25),
           "lower_bound": Attr("float", 0.125), "upper_bound": Attr("float", 0.334)},
    complete=_leaky_complete,
    doc="leaky / elu / selu / gelu / prelu (prelu's gamma is per channel, axis 1)"))
