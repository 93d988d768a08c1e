"""Elementwise ops: forward against NumPy written out here, gradients against finite
differences in float64, on hypothesis-drawn shapes (0-d, size-1 dims, empty arrays)."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from graphcc import nd, ops
from opcheck import broadcast_pairs, check_grad, floats_array, run, shapes

# name: (reference, low, high, kinks where finite differences are not valid)
UNARY = {
    "negative": (lambda x: -x, -3, 3, ()),
    "abs": (lambda x: np.where(x < 0, -x, x), -3, 3, (0,)),
    "exp": (lambda x: np.e ** x, -3, 3, ()),
    "expm1": (lambda x: np.e ** x - 1, -3, 3, ()),
    "log": (lambda x: np.log(x), 0.2, 4, ()),
    "log1p": (lambda x: np.log(1 + x), -0.5, 3, ()),
    "log2": (lambda x: np.log(x) / np.log(2), 0.2, 4, ()),
    "log10": (lambda x: np.log(x) / np.log(10), 0.2, 4, ()),
    "sqrt": (lambda x: x ** 0.5, 0.2, 4, ()),
    "rsqrt": (lambda x: x ** -0.5, 0.2, 4, ()),
    "cbrt": (lambda x: np.sign(x) * np.abs(x) ** (1 / 3), 0.2, 4, ()),
    "rcbrt": (lambda x: 1 / (np.sign(x) * np.abs(x) ** (1 / 3)), 0.2, 4, ()),
    "square": (lambda x: x * x, -3, 3, ()),
    "reciprocal": (lambda x: 1 / x, 0.3, 3, ()),
    "sin": (lambda x: np.sin(x), -3, 3, ()),
    "cos": (lambda x: np.cos(x), -3, 3, ()),
    "tan": (lambda x: np.sin(x) / np.cos(x), -1.2, 1.2, ()),
    "arcsin": (lambda x: np.arctan2(x, np.sqrt(1 - x * x)), -0.9, 0.9, ()),
    "arccos": (lambda x: np.pi / 2 - np.arctan2(x, np.sqrt(1 - x * x)), -0.9, 0.9, ()),
    "arctan": (lambda x: np.arctan2(x, np.ones_like(x)), -3, 3, ()),
    "sinh": (lambda x: (np.e ** x - np.e ** -x) / 2, -3, 3, ()),
    "cosh": (lambda x: (np.e ** x + np.e ** -x) / 2, -3, 3, ()),
    "arcsinh": (lambda x: np.log(x + np.sqrt(x * x + 1)), -3, 3, ()),
    "arccosh": (lambda x: np.log(x + np.sqrt(x * x - 1)), 1.2, 4, ()),
    "arctanh": (lambda x: 0.5 * np.log((1 + x) / (1 - x)), -0.9, 0.9, ()),
    "degrees": (lambda x: x * 180 / np.pi, -3, 3, ()),
    "radians": (lambda x: x * np.pi / 180, -3, 3, ()),
    "tanh": (lambda x: (np.e ** (2 * x) - 1) / (np.e ** (2 * x) + 1), -3, 3, ()),
    "sigmoid": (lambda x: 1 / (1 + np.e ** -x), -3, 3, ()),
    "relu": (lambda x: np.where(x > 0, x, 0), -3, 3, (0,)),
    "softrelu": (lambda x: np.log(1 + np.e ** x), -3, 3, ()),
    "softsign": (lambda x: x / (1 + np.where(x < 0, -x, x)), -3, 3, ()),
    "erf": (lambda x: np.vectorize(math.erf)(x) if x.size else x, -3, 3, ()),
    "_copy": (lambda x: x + 0, -3, 3, ()),
}
ZERO_GRAD = {
    "sign": lambda x: (x > 0).astype(x.dtype) - (x < 0),
    "floor": lambda x: np.vectorize(math.floor, otypes=[float])(x) if x.size else x,
    "ceil": lambda x: np.vectorize(math.ceil, otypes=[float])(x) if x.size else x,
    "trunc": lambda x: np.vectorize(math.trunc, otypes=[float])(x) if x.size else x,
    "fix": lambda x: np.vectorize(math.trunc, otypes=[float])(x) if x.size else x,
    "rint": lambda x: np.vectorize(lambda v: float(round(v)), otypes=[float])(x)
    if x.size else x,
    "round": lambda x: np.vectorize(lambda v: math.floor(abs(v) + 0.5) * (1 if v >= 0 else -1),
                                    otypes=[float])(x) if x.size else x,
    "logical_not": lambda x: (x == 0).astype(x.dtype),
}


def _away(x, kinks, gap=1e-3):
    for k in kinks:
        x = np.where(np.abs(x - k) < gap, k + gap * 2, x)
    return x


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary_forward_and_grad(name, data):
    ref, lo, hi, kinks = UNARY[name]
    shape = data.draw(shapes(min_dims=0, max_dims=3, min_side=0, max_side=3), "shape")
    x = _away(data.draw(floats_array(shape, lo, hi)), kinks)
    np.testing.assert_allclose(run(name, x), ref(x), rtol=1e-10, atol=1e-12)
    x32 = x.astype(np.float32)
    got32 = run(name, x32)
    assert got32.dtype == np.float32 and got32.shape == x.shape
    if x.size and x.size <= 12:
        check_grad(name, [x])


@pytest.mark.parametrize("name", sorted(ZERO_GRAD))
@given(data=st.data())
def test_piecewise_constant_ops(name, data):
    shape = data.draw(shapes(min_dims=0, max_dims=3, min_side=0, max_side=3), "shape")
    x = data.draw(floats_array(shape, -4, 4))
    x[np.abs(x - np.round(x)) < 1e-3] += 0.01     # keep clear of the jumps
    np.testing.assert_allclose(run(name, x), ZERO_GRAD[name](x), atol=0)
    if x.size:
        from opcheck import autograd_grad
        g = autograd_grad(name, [x], np.ones_like(x))[0]
        assert np.all(g == 0)


def test_round_half_away_from_zero():
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5])
    np.testing.assert_array_equal(run("round", x), [-3, -2, -1, 1, 2, 3])


@pytest.mark.parametrize("approx", ["erf", "tanh"])
@given(x=floats_array(st.just((2, 3)), -3, 3))
def test_gelu(approx, x):
    erf = np.vectorize(math.erf)
    if approx == "erf":
        want = x * 0.5 * (1 + erf(x / math.sqrt(2)))
    else:
        want = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    np.testing.assert_allclose(run("gelu", x, approximation=approx), want, rtol=1e-10)
    check_grad("gelu", [x], approximation=approx)


@given(x=floats_array(shapes(0, 3, 0, 3), -3, 3),
       lo=st.floats(-2, 0), width=st.floats(0.1, 2))
def test_clip(x, lo, width):
    hi = lo + width
    x = np.where(np.abs(x - lo) < 1e-3, lo + 0.01, x)
    x = np.where(np.abs(x - hi) < 1e-3, hi + 0.01, x)
    np.testing.assert_allclose(run("clip", x, a_min=lo, a_max=hi),
                               np.where(x < lo, lo, np.where(x > hi, hi, x)))
    if 0 < x.size <= 12:
        check_grad("clip", [x], a_min=lo, a_max=hi)


@pytest.mark.parametrize("act", ["relu", "sigmoid", "tanh", "softrelu", "softsign"])
@given(x=floats_array(shapes(1, 3, 1, 3), -3, 3))
def test_activation_matches_named_op(act, x):
    x = _away(x, (0,))
    np.testing.assert_allclose(run("Activation", x, act_type=act), UNARY[act][0](x),
                               rtol=1e-10, atol=1e-12)
    check_grad("Activation", [x], act_type=act)


@pytest.mark.parametrize("act", ["leaky", "elu", "selu", "gelu"])
@given(x=floats_array(shapes(1, 3, 1, 3), -3, 3), slope=st.floats(0.01, 0.9))
def test_leaky_relu(act, x, slope):
    x = _away(x, (0,))
    alpha, lam = 1.6732632423543772, 1.0507009873554805
    want = {
        "leaky": np.where(x > 0, x, slope * x),
        "elu": np.where(x > 0, x, slope * (np.e ** x - 1)),
        "selu": lam * np.where(x > 0, x, alpha * (np.e ** x - 1)),
        "gelu": x * 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2))),
    }[act]
    np.testing.assert_allclose(run("LeakyReLU", x, act_type=act, slope=slope), want,
                               rtol=1e-10, atol=1e-12)
    check_grad("LeakyReLU", [x], act_type=act, slope=slope)


@given(x=floats_array(st.sampled_from([(2, 3), (2, 3, 2), (1, 4)]), -3, 3))
def test_prelu(x):
    x = _away(x, (0,))
    c = x.shape[1]
    gamma = np.linspace(0.1, 0.5, c)
    want = np.where(x > 0, x, x * gamma.reshape((1, c) + (1,) * (x.ndim - 2)))
    np.testing.assert_allclose(run("LeakyReLU", x, gamma, act_type="prelu"), want)
    check_grad("LeakyReLU", [x, gamma], act_type="prelu")


@given(x=floats_array(shapes(0, 3, 0, 3), -3, 3))
def test_cast_roundtrip_and_grad(x):
    y = nd.array(x, dtype="float64").astype("float32")
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.asnumpy(), x.astype(np.float32))
    i = nd.array(x, dtype="float64").astype("int32")
    np.testing.assert_array_equal(i.asnumpy(), x.astype(np.int32))
    if x.size:
        check_grad("cast", [x], dtype="float64")


# ---------------------------------------------------------------- binary

BINARY = {
    "add": (lambda a, b: a + b, -3, 3),
    "subtract": (lambda a, b: a - b, -3, 3),
    "multiply": (lambda a, b: a * b, -3, 3),
    "divide": (lambda a, b: a / b, 0.5, 3),
    "power": (lambda a, b: np.exp(b * np.log(a)), 0.5, 2),
    "maximum": (lambda a, b: np.where(a >= b, a, b), -3, 3),
    "minimum": (lambda a, b: np.where(a <= b, a, b), -3, 3),
    "hypot": (lambda a, b: np.sqrt(a * a + b * b), 0.5, 3),
}
COMPARE = {
    "equal": lambda a, b: a == b, "not_equal": lambda a, b: a != b,
    "greater": lambda a, b: a > b, "greater_equal": lambda a, b: a >= b,
    "lesser": lambda a, b: a < b, "lesser_equal": lambda a, b: a <= b,
    "logical_and": lambda a, b: (a != 0) & (b != 0),
    "logical_or": lambda a, b: (a != 0) | (b != 0),
    "logical_xor": lambda a, b: (a != 0) ^ (b != 0),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data())
def test_binary_broadcasting(name, data):
    ref, lo, hi = BINARY[name]
    sa, sb = data.draw(broadcast_pairs())
    a = data.draw(floats_array(sa, lo, hi))
    b = data.draw(floats_array(sb, lo, hi))
    if name in ("maximum", "minimum"):
        b = np.where(np.abs(np.broadcast_to(a, np.broadcast_shapes(sa, sb)).sum() * 0 + b) < 0,
                     b, b)
        a = a + 0.37    # ties have no derivative
    np.testing.assert_allclose(run(name, a, b), ref(a, b), rtol=1e-10, atol=1e-12)
    out = np.broadcast_shapes(sa, sb)
    if 0 < int(np.prod(out)) <= 16:
        check_grad(name, [a, b])


@pytest.mark.parametrize("name", sorted(COMPARE))
@given(data=st.data())
def test_comparisons_return_input_dtype(name, data):
    sa, sb = data.draw(broadcast_pairs())
    a = data.draw(floats_array(sa, -2, 2)).round()
    b = data.draw(floats_array(sb, -2, 2)).round()
    got = run(name, a.astype(np.float32), b.astype(np.float32))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, COMPARE[name](a, b).astype(np.float32))


@given(data=st.data())
def test_mod_follows_divisor_sign(data):
    sa, sb = data.draw(broadcast_pairs())
    a = data.draw(floats_array(sa, -5, 5)).round()
    b = data.draw(floats_array(sb, -3, 3)).round()
    q = np.floor(a / np.where(b == 0, 1, b))
    want = np.where(b == 0, 0, a - q * b)
    np.testing.assert_allclose(run("mod", a, b), want, atol=1e-12)


@given(data=st.data())
def test_where_selects(data):
    sc, sx = data.draw(broadcast_pairs())
    c = data.draw(floats_array(sc, -1, 1)).round()
    x = data.draw(floats_array(sx, -3, 3))
    y = data.draw(floats_array(sx, -3, 3))
    if len(sc) == 1 and len(sx) > 1 and sc[0] == sx[0] and sc != sx:
        c = c.reshape((-1,) + (1,) * (len(sx) - 1))   # MXNet: a 1-D condition picks rows
    out_shape = np.broadcast_shapes(c.shape, sx)
    want = np.array([xv if cv != 0 else yv for cv, xv, yv in zip(
        np.broadcast_to(c, out_shape).ravel(), np.broadcast_to(x, out_shape).ravel(),
        np.broadcast_to(y, out_shape).ravel())]).reshape(out_shape)
    np.testing.assert_array_equal(run("where", c, x, y), want)
    if 0 < int(np.prod(out_shape)) <= 12:
        check_grad("where", [c, x, y], wrt=[1, 2])


def test_where_row_condition():
    c = np.array([1.0, 0.0])
    x, y = np.ones((2, 3)), np.zeros((2, 3))
    np.testing.assert_array_equal(run("where", c, x, y), [[1, 1, 1], [0, 0, 0]])


# ---------------------------------------------------------------- scalar operands

SCALAR = {
    "_plus_scalar": lambda x, s: x + s, "_minus_scalar": lambda x, s: x - s,
    "_rminus_scalar": lambda x, s: s - x, "_mul_scalar": lambda x, s: x * s,
    "_div_scalar": lambda x, s: x / s, "_rdiv_scalar": lambda x, s: s / x,
    "_power_scalar": lambda x, s: np.exp(s * np.log(x)),
    "_rpower_scalar": lambda x, s: np.exp(x * np.log(s)),
    "_maximum_scalar": lambda x, s: np.where(x >= s, x, s),
    "_minimum_scalar": lambda x, s: np.where(x <= s, x, s),
}


@pytest.mark.parametrize("name", sorted(SCALAR))
@given(x=floats_array(shapes(0, 3, 0, 3), 0.5, 3), s=st.floats(0.6, 2.5))
def test_scalar_ops(name, x, s):
    x = np.where(np.abs(x - s) < 1e-3, x + 0.01, x)
    np.testing.assert_allclose(run(name, x, scalar=s), SCALAR[name](x, s), rtol=1e-10)
    if 0 < x.size <= 12:
        check_grad(name, [x], scalar=s)


def test_python_operators_both_sides():
    a = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    x = nd.array(a)
    cases = [(x + 2, a + 2), (2 + x, 2 + a), (x - 1, a - 1), (1 - x, 1 - a), (x * 3, a * 3),
             (3 * x, 3 * a), (x / 2, a / 2), (6 / x, 6 / a), (x ** 2, a ** 2), (2 ** x, 2 ** a),
             (x % 3, np.mod(a, 3)), (7 % x, np.mod(7, a)), (-x, -a), (abs(-x), a),
             (x > 2, (a > 2)), (2 < x, (a > 2)), (x == 2, a == 2), (x != 2, a != 2),
             (x >= 2, a >= 2), (x <= 2, a <= 2)]
    for got, want in cases:
        assert got.dtype == np.float32
        np.testing.assert_allclose(got.asnumpy(), np.asarray(want, np.float32), rtol=1e-6)


def test_nd_binary_functions_take_scalars():
    x = nd.array([1.0, -2.0, 3.0])
    np.testing.assert_array_equal(nd.maximum(x, 0).asnumpy(), [1, 0, 3])
    np.testing.assert_array_equal(nd.minimum(0, x).asnumpy(), [0, -2, 0])
    np.testing.assert_array_equal(nd.subtract(1, x).asnumpy(), [0, 3, -2])
    np.testing.assert_array_equal(nd.broadcast_add(x, nd.array([1.0])).asnumpy(), [2, -1, 4])


def test_every_elementwise_row_has_an_expression_template():
    from graphcc.ops.registry import expr_of
    for name, row in ops.OPS.items():
        if row.kind in ("elementwise", "broadcast") and row.expand is None:
            defaults = {k: a.default for k, a in row.attrs.items()}
            if name == "Activation":
                for act in row.attrs["act_type"].choices:
                    assert expr_of(row, {"act_type": act}), act
            elif name == "LeakyReLU":
                for act in ("leaky", "elu", "selu", "gelu"):
                    assert expr_of(row, {**defaults, "act_type": act}), act
            else:
                assert expr_of(row, defaults) is not None, name
