"""Ops with a scalar operand (``_plus_scalar``...: the Python operators with a number), binary
broadcasting ops (add, maximum, equal, logical_and...) and ``where``.

Every row here has fusion kind "elementwise" (the scalar-operand ops: same shape in and out)
or "broadcast" (NumPy broadcasting between inputs) and a scalar expression template for
codegen (``{0}``, ``{1}`` are the operands, ``{scalar}`` an attr); all but ``where`` may
write their result in place of an input.
"""
from __future__ import annotations

import math

import numpy as np

from ..ir.types import TensorType
from .elemwise import _g_identity, _g_zero, _same
from .gradutil import unbroadcast
from .registry import Attr, OpDef, broadcast_shapes, register, same_dtype

# ---------------------------------------------------------------- scalar-operand ops


def scalar_op(name, fn, grad, needs=(), expr=None, aliases=(), compare=False):
    return register(OpDef(
        name=name, inputs=("data",), infer=_same, impl=fn,
        attrs={"scalar": Attr("float", 1.0), "is_int": Attr("bool", False)},
        grad=grad, needs=needs, kind="elementwise", inplace=(0,), expr=expr,
        aliases=aliases))


def _s(attrs_scalar, x):  # the scalar in the array's dtype, as MXNet computes it
    return np.asarray(attrs_scalar, dtype=x.dtype) if x.dtype.kind != "b" else attrs_scalar


def _g_rminus(c):
    return (c.F.negative(c.g),)


def _g_mul_s(c):
    return (c.F._mul_scalar(c.g, scalar=c.attrs["scalar"]),)


def _g_div_s(c):
    return (c.F._div_scalar(c.g, scalar=c.attrs["scalar"]),)


def _g_rdiv_s(c):  # s / x -> -s / x^2 = -out / x
    F = c.F
    return (F.negative(F.divide(F.multiply(c.g, c.out), c.inputs[0])),)


def _g_pow_s(c):  # x^s -> s x^(s-1)
    F = c.F
    s = c.attrs["scalar"]
    return (F.multiply(c.g, F._mul_scalar(F._power_scalar(c.inputs[0], scalar=s - 1.0),
                                          scalar=s)),)


def _g_rpow_s(c):  # s^x -> out * log(s)
    return (c.F.multiply(c.g, c.F._mul_scalar(c.out, scalar=math.log(c.attrs["scalar"]))),)


def _g_maxmin_s(cmp):
    def rule(c):
        F = c.F
        mask = getattr(F, cmp)(c.inputs[0], scalar=c.attrs["scalar"])
        return (F.multiply(c.g, mask),)
    return rule


def _mod_np(a, b):
    a, b = np.asarray(a), np.asarray(b)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.mod(a, b)
    return np.where(b == 0, np.zeros_like(r), r)


def _cmp(fn):
    def f(x, scalar, is_int=False):
        return fn(x, _s(scalar, x)).astype(x.dtype)
    return f


def _arith(fn):
    def f(x, scalar, is_int=False):
        return fn(x, _s(scalar, x))
    return f


scalar_op("_plus_scalar", _arith(np.add), _g_identity, (), "{0} + {scalar}",
          aliases=("_PlusScalar",))
scalar_op("_minus_scalar", _arith(np.subtract), _g_identity, (), "{0} - {scalar}",
          aliases=("_MinusScalar",))
scalar_op("_rminus_scalar", _arith(lambda x, s: s - x), _g_rminus, (), "{scalar} - {0}",
          aliases=("_RMinusScalar",))
scalar_op("_mul_scalar", _arith(np.multiply), _g_mul_s, (), "{0} * {scalar}",
          aliases=("_MulScalar",))
scalar_op("_div_scalar", _arith(np.divide), _g_div_s, (), "{0} / {scalar}",
          aliases=("_DivScalar",))
scalar_op("_rdiv_scalar", _arith(lambda x, s: s / x), _g_rdiv_s, (0, "out"), "{scalar} / {0}",
          aliases=("_RDivScalar",))
scalar_op("_power_scalar", _arith(np.power), _g_pow_s, (0,), "{0} ** {scalar}",
          aliases=("_PowerScalar",))
scalar_op("_rpower_scalar", _arith(lambda x, s: np.power(s, x)), _g_rpow_s, ("out",),
          "{scalar} ** {0}", aliases=("_RPowerScalar",))
scalar_op("_maximum_scalar", _arith(np.maximum), _g_maxmin_s("_greater_equal_scalar"), (0,),
          "np_maximum({0}, {scalar})", aliases=("_MaximumScalar",))
scalar_op("_minimum_scalar", _arith(np.minimum), _g_maxmin_s("_lesser_equal_scalar"), (0,),
          "np_minimum({0}, {scalar})", aliases=("_MinimumScalar",))
scalar_op("_mod_scalar", _arith(_mod_np), _g_identity, (), "pymod({0}, {scalar})",
          aliases=("_ModScalar",))
scalar_op("_rmod_scalar", _arith(lambda x, s: _mod_np(s, x)), _g_zero, (),
          "pymod({scalar}, {0})", aliases=("_RModScalar",))
for _n, _f, _e in [("_equal_scalar", np.equal, "=="), ("_not_equal_scalar", np.not_equal, "!="),
                   ("_greater_scalar", np.greater, ">"),
                   ("_greater_equal_scalar", np.greater_equal, ">="),
                   ("_lesser_scalar", np.less, "<"),
                   ("_lesser_equal_scalar", np.less_equal, "<=")]:
    scalar_op(_n, _cmp(_f), _g_zero, (), f"b2f({{0}} {_e} {{scalar}})")


# ---------------------------------------------------------------- binary broadcasting


def _bin_infer(in_types, attrs):
    dt = same_dtype("", in_types)
    return TensorType(broadcast_shapes(in_types[0].shape, in_types[1].shape), dt)


def binary(name, fn, grad, needs=(), expr=None, aliases=(), doc=""):
    return register(OpDef(
        name=name, inputs=("lhs", "rhs"), infer=_bin_infer, impl=fn, grad=grad, needs=needs,
        kind="broadcast", inplace=(0, 1), expr=expr, aliases=aliases, doc=doc))


def _ub(c, g, i):
    return unbroadcast(c.F, g, c.out_type.shape, c.in_types[i].shape)


def _g_add(c):
    return (_ub(c, c.g, 0), _ub(c, c.g, 1))


def _g_sub(c):
    return (_ub(c, c.g, 0), _ub(c, c.F.negative(c.g), 1))


def _g_mul(c):
    F = c.F
    a, b = c.inputs
    return (_ub(c, F.multiply(c.g, b), 0), _ub(c, F.multiply(c.g, a), 1))


def _g_div(c):  # a/b: da = g/b, db = -g a / b^2
    F = c.F
    a, b = c.inputs
    ga = F.divide(c.g, b)
    gb = F.negative(F.divide(F.multiply(ga, a), b))
    return (_ub(c, ga, 0), _ub(c, gb, 1))


def _g_pow(c):  # a^b: da = g b a^(b-1), db = g out log(a)
    F = c.F
    a, b = c.inputs
    ga = F.multiply(F.multiply(c.g, b), F.power(a, F._minus_scalar(b, scalar=1.0)))
    gb = F.multiply(F.multiply(c.g, c.out), F.log(a))
    return (_ub(c, ga, 0), _ub(c, gb, 1))


def _g_max(c):
    F = c.F
    a, b = c.inputs
    m = F.greater_equal(a, b)
    return (_ub(c, F.multiply(c.g, m), 0),
            _ub(c, F.multiply(c.g, F._rminus_scalar(m, scalar=1.0)), 1))


def _g_min(c):
    F = c.F
    a, b = c.inputs
    m = F.lesser_equal(a, b)
    return (_ub(c, F.multiply(c.g, m), 0),
            _ub(c, F.multiply(c.g, F._rminus_scalar(m, scalar=1.0)), 1))


def _g_mod(c):  # a mod b = a - floor(a/b) b: da = g, db = -g floor(a/b)
    F = c.F
    a, b = c.inputs
    return (_ub(c, c.g, 0),
            _ub(c, F.negative(F.multiply(c.g, F.floor(F.divide(a, b)))), 1))


def _g_hypot(c):
    F = c.F
    a, b = c.inputs
    return (_ub(c, F.divide(F.multiply(c.g, a), c.out), 0),
            _ub(c, F.divide(F.multiply(c.g, b), c.out), 1))


def _bcmp(fn):
    def f(a, b):
        return fn(a, b).astype(a.dtype)
    return f


binary("add", np.add, _g_add, (), "{0} + {1}",
       aliases=("broadcast_add", "elemwise_add", "_plus", "_add", "_Plus", "broadcast_plus"))
binary("subtract", np.subtract, _g_sub, (), "{0} - {1}",
       aliases=("broadcast_sub", "elemwise_sub", "_minus", "_sub", "_Minus", "broadcast_minus"))
binary("multiply", np.multiply, _g_mul, (0, 1), "{0} * {1}",
       aliases=("broadcast_mul", "elemwise_mul", "_mul", "_Mul"))
binary("divide", np.divide, _g_div, (0, 1), "{0} / {1}",
       aliases=("broadcast_div", "elemwise_div", "_div", "_Div"))
binary("power", np.power, _g_pow, (0, 1, "out"), "{0} ** {1}",
       aliases=("broadcast_power", "_power", "_Power"))
binary("maximum", np.maximum, _g_max, (0, 1), "np_maximum({0}, {1})",
       aliases=("broadcast_maximum", "_maximum", "_Maximum"))
binary("minimum", np.minimum, _g_min, (0, 1), "np_minimum({0}, {1})",
       aliases=("broadcast_minimum", "_minimum", "_Minimum"))
binary("mod", _mod_np, _g_mod, (0, 1), "pymod({0}, {1})",
       aliases=("broadcast_mod", "_mod", "modulo", "_Mod"))
binary("hypot", np.hypot, _g_hypot, (0, 1, "out"), "math.hypot({0}, {1})",
       aliases=("broadcast_hypot", "_hypot"))
for _n, _f, _e in [("equal", np.equal, "=="), ("not_equal", np.not_equal, "!="),
                   ("greater", np.greater, ">"), ("greater_equal", np.greater_equal, ">="),
                   ("lesser", np.less, "<"), ("lesser_equal", np.less_equal, "<=")]:
    binary(_n, _bcmp(_f), _g_zero, (), f"b2f({{0}} {_e} {{1}})",
           aliases=("broadcast_" + _n, "_" + _n))
for _n, _f, _e in [("logical_and", np.logical_and, "and"), ("logical_or", np.logical_or, "or"),
                   ("logical_xor", np.logical_xor, "!=")]:
    binary(_n, _bcmp(_f), _g_zero, (), f"b2f(({{0}} != 0) {_e} ({{1}} != 0))",
           aliases=("broadcast_" + _n, "_" + _n))


# ---------------------------------------------------------------- where


def _where_rows(cond_shape, xy) -> bool:
    """MXNet: a 1-D condition as long as the first axis selects whole rows."""
    return len(cond_shape) == 1 and len(xy) > 1 and cond_shape[0] == xy[0] and \
        tuple(cond_shape) != tuple(xy)


def _where_infer(in_types, attrs):
    cond, x, y = in_types
    dt = same_dtype("where", (x, y))
    xy = broadcast_shapes(x.shape, y.shape)
    if _where_rows(cond.shape, xy):
        return TensorType(xy, dt)
    return TensorType(broadcast_shapes(cond.shape, xy), dt)


def _where_np(cond, x, y):
    xy = np.broadcast_shapes(x.shape, y.shape)
    c = cond.reshape((-1,) + (1,) * (len(xy) - 1)) if _where_rows(cond.shape, xy) else cond
    return np.where(c != 0, x, y)


def _g_where(c):
    F = c.F
    cond = c.inputs[0]
    ct = c.in_types[0]
    nd = c.out_type.ndim
    xy = broadcast_shapes(c.in_types[1].shape, c.in_types[2].shape)
    if _where_rows(ct.shape, xy):
        cond = F._reshape_to(cond, shape=(ct.shape[0],) + (1,) * (nd - 1))
    z = F.zeros(shape=c.out_type.shape, dtype=c.out_type.dtype)
    gx = F.where(F.broadcast_like(F.cast(cond, dtype=c.out_type.dtype), z), c.g, z)
    gy = F.subtract(c.g, gx)
    return (None, _ub(c, gx, 1), _ub(c, gy, 2))


register(OpDef(
    name="where", inputs=("condition", "x", "y"), infer=_where_infer, impl=_where_np,
    grad=_g_where, needs=(0,), kind="broadcast", nondiff=(0,),
    expr="np_where({0}, {1}, {2})", doc="x where condition is non-zero, else y"))
