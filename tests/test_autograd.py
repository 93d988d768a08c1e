"""Autograd: record/pause/modes, backward with grad_req write/add/null, retain_graph,
autograd.grad with higher-order gradients, custom Functions, and the errors."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import graphcc as mx
from graphcc import autograd, nd
from graphcc.errors import AutogradError, GraphccError
from opcheck import floats_array


def test_modes_and_flags():
    assert not autograd.is_recording() and not autograd.is_training()
    with autograd.record():
        assert autograd.is_recording() and autograd.is_training()
        with autograd.pause():
            assert not autograd.is_recording() and not autograd.is_training()
        with autograd.predict_mode():
            assert autograd.is_recording() and not autograd.is_training()
    with autograd.record(train_mode=False):
        assert autograd.is_recording() and not autograd.is_training()
    with autograd.train_mode():
        assert autograd.is_training() and not autograd.is_recording()
    assert not autograd.is_recording() and not autograd.is_training()


def test_backward_simple_chain():
    a = np.array([[0.5, -1.0, 2.0]])
    x = nd.array(a, dtype="float64")
    x.attach_grad()
    with autograd.record():
        y = nd.exp(x) * x + nd.sin(x)
    y.backward()
    np.testing.assert_allclose(x.grad.asnumpy(), np.exp(a) * (1 + a) + np.cos(a), rtol=1e-12)


def test_value_used_twice_accumulates():
    x = nd.array([1.0, 2.0, 3.0])
    x.attach_grad()
    with autograd.record():
        y = x * x + x * 3
        z = (y * y).sum()
    z.backward()
    a = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(x.grad.asnumpy(), 2 * (a * a + 3 * a) * (2 * a + 3), rtol=1e-6)


def test_head_gradient_and_multiple_heads():
    x = nd.array([1.0, 2.0])
    x.attach_grad()
    with autograd.record():
        y1 = x * 2
        y2 = x * x
    autograd.backward([y1, y2], [nd.array([1.0, 10.0]), nd.array([1.0, 1.0])])
    np.testing.assert_allclose(x.grad.asnumpy(), [2 + 2, 20 + 4])


def test_grad_req_add_accumulates_and_write_overwrites():
    x = nd.array([1.0, 2.0])
    x.attach_grad(grad_req="add")
    for _ in range(3):
        with autograd.record():
            y = (x * x).sum()
        y.backward()
    np.testing.assert_allclose(x.grad.asnumpy(), 3 * 2 * np.array([1.0, 2.0]))
    x.attach_grad()
    for _ in range(2):
        with autograd.record():
            y = (x * x).sum()
        y.backward()
    np.testing.assert_allclose(x.grad.asnumpy(), 2 * np.array([1.0, 2.0]))


def test_grad_req_null_and_unreached_variable():
    x = nd.array([1.0, 2.0])
    w = nd.array([3.0, 4.0])
    x.attach_grad(grad_req="null")
    w.attach_grad()
    w.grad[:] = 7
    with autograd.record():
        y = (x * 2).sum() + (w.argmax() * 0).sum()
    y.backward()
    assert x.grad is not None and np.all(x.grad.asnumpy() == 0)
    np.testing.assert_array_equal(w.grad.asnumpy(), [0, 0])   # reached, no gradient: zeros


def test_retain_graph_and_freed_graph_error():
    x = nd.array([1.0, 2.0])
    x.attach_grad()
    with autograd.record():
        y = (x.exp()).sum()
    y.backward(retain_graph=True)
    first = x.grad.asnumpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.asnumpy(), first)
    with pytest.raises(AutogradError, match="retain_graph"):
        y.backward()


def test_backward_without_record_is_a_clear_error():
    x = nd.array([1.0])
    x.attach_grad()
    y = x * 2
    with pytest.raises(AutogradError, match="autograd.record"):
        y.backward()
    assert isinstance(AutogradError("x"), GraphccError)


def test_inplace_on_recorded_array_is_refused():
    x = nd.array([1.0, 2.0])
    x.attach_grad()
    with autograd.record():
        with pytest.raises(AutogradError, match="Inplace"):
            x += 1
    x += 1      # fine outside record
    np.testing.assert_array_equal(x.asnumpy(), [2, 3])


def test_detach_and_stop_gradient_block():
    x = nd.array([1.0, 2.0])
    x.attach_grad()
    with autograd.record():
        y = (x * x.detach()).sum() + (nd.stop_gradient(x) * x).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.asnumpy(), [2.0, 4.0])


def test_pause_excludes_ops():
    x = nd.array([1.0, 2.0])
    x.attach_grad()
    with autograd.record():
        y = x * 2
        with autograd.pause():
            z = y * 100
        w = (y + z).sum()
    w.backward()
    np.testing.assert_allclose(x.grad.asnumpy(), [2.0, 2.0])


@given(a=floats_array(st.just((3,)), -2, 2))
def test_higher_order_sin(a):
    x = nd.array(a, dtype="float64")
    x.attach_grad()
    with autograd.record():
        y = nd.sin(x)
        d1 = autograd.grad(y, [x], create_graph=True)[0]
        d2 = autograd.grad(d1, [x], create_graph=True)[0]
        d3 = autograd.grad(d2, [x], create_graph=True)[0]
    np.testing.assert_allclose(d1.asnumpy(), np.cos(a), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(d2.asnumpy(), -np.sin(a), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(d3.asnumpy(), -np.cos(a), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "exp", "log", "sqrt", "square", "softrelu",
                                  "erf", "reciprocal", "arctan", "cos", "softsign", "relu"])
def test_second_order_matches_finite_differences(name):
    a = np.array([0.3, 0.7, 1.9])

    def first(v):
        x = nd.array(v, dtype="float64")
        x.attach_grad()
        with autograd.record():
            y = getattr(nd, name)(x)
        return autograd.grad(y, [x])[0].asnumpy()

    x = nd.array(a, dtype="float64")
    x.attach_grad()
    with autograd.record():
        y = getattr(nd, name)(x)
        d1 = autograd.grad(y, [x], create_graph=True)[0]
    d1.backward()
    eps = 1e-6
    want = (first(a + eps) - first(a - eps)) / (2 * eps)
    np.testing.assert_allclose(x.grad.asnumpy(), want, rtol=1e-5, atol=1e-8)


def test_second_order_through_a_product():
    a = np.array([0.5, 1.5])
    x = nd.array(a, dtype="float64")
    x.attach_grad()
    with autograd.record():
        y = nd.exp(x) * nd.tanh(x)
        g = autograd.grad(y, [x], create_graph=True)[0]
    g.backward()
    t = np.tanh(a)
    e = np.exp(a)
    d2 = e * t + 2 * e * (1 - t * t) + e * (-2 * t * (1 - t * t))
    np.testing.assert_allclose(x.grad.asnumpy(), d2, rtol=1e-10)


def test_grad_requires_attached_variables():
    x = nd.array([1.0])
    with autograd.record():
        y = x * 2
    with pytest.raises(AutogradError):
        autograd.grad(y, [x])


def test_mark_variables():
    x = nd.array([1.0, 2.0])
    g = nd.zeros((2,))
    autograd.mark_variables([x], [g])
    with autograd.record():
        y = (x * x * x).sum()
    y.backward()
    np.testing.assert_allclose(g.asnumpy(), [3.0, 12.0])


def test_custom_function_sigmoid():
    class Sigmoid(autograd.Function):
        def forward(self, x):
            y = 1 / (1 + nd.exp(-x))
            self.save_for_backward(y)
            return y

        def backward(self, dy):
            y, = self.saved_tensors
            return dy * y * (1 - y)

    a = np.array([-1.0, 0.0, 2.0])
    x = nd.array(a, dtype="float64")
    x.attach_grad()
    with autograd.record():
        y = Sigmoid()(x)
        z = (y * 3).sum()
    z.backward()
    s = 1 / (1 + np.exp(-a))
    np.testing.assert_allclose(y.asnumpy(), s)
    np.testing.assert_allclose(x.grad.asnumpy(), 3 * s * (1 - s), rtol=1e-12)


def test_custom_function_multiple_inputs_outputs():
    class MulAdd(autograd.Function):
        def forward(self, a, b):
            self.save_for_backward(a, b)
            return a * b, a + b

        def backward(self, d_prod, d_sum):
            a, b = self.saved_tensors
            return d_prod * b + d_sum, d_prod * a + d_sum

    a, b = nd.array([2.0, 3.0]), nd.array([5.0, 7.0])
    a.attach_grad()
    b.attach_grad()
    with autograd.record():
        p, s = MulAdd()(a, b)
        out = (p * 2 + s).sum()
    out.backward()
    np.testing.assert_allclose(a.grad.asnumpy(), [2 * 5 + 1, 2 * 7 + 1])
    np.testing.assert_allclose(b.grad.asnumpy(), [2 * 2 + 1, 2 * 3 + 1])


@pytest.mark.parametrize("bad", [(1,), (2,), (3, 4), "numpy"])
def test_custom_function_gradient_of_the_wrong_shape_is_named(bad):
    # (1,) was broadcast into the gradient silently; others were NumPy's ValueError
    class Double(autograd.Function):
        def forward(self, x):
            return x * 2

        def backward(self, dy):
            return [np.ones(3)] if bad == "numpy" else nd.ones(bad)
    x = nd.ones((3,))
    x.attach_grad()
    with autograd.record():
        y = Double()(x) * 3
    with pytest.raises(AutogradError, match=r"Double.backward .* input 0, which has shape"):
        y.backward()


def test_gradient_of_reductions_and_broadcast():
    a = np.arange(6, dtype=np.float64).reshape(2, 3) / 5
    x = nd.array(a, dtype="float64")
    x.attach_grad()
    with autograd.record():
        y = (x - x.mean(axis=1, keepdims=True)).square().sum()
    y.backward()
    want = 2 * (a - a.mean(axis=1, keepdims=True))
    np.testing.assert_allclose(x.grad.asnumpy(), want, atol=1e-12)


def test_random_seed_reproducible():
    mx.random.seed(42)
    a = nd.random.uniform(shape=(3,)).asnumpy()
    mx.random.seed(42)
    b = nd.random.uniform(shape=(3,)).asnumpy()
    np.testing.assert_array_equal(a, b)
    assert np.all((a >= 0) & (a < 1))


def test_math_sanity():
    assert math.isclose(float(nd.array([2.0]).exp().asscalar()), math.exp(2), rel_tol=1e-6)


def test_create_graph_through_a_custom_function_is_refused():
    class Square(autograd.Function):
        def forward(self, x):
            self.save_for_backward(x)
            return x * x

        def backward(self, dy):
            x, = self.saved_tensors
            return 2 * x * dy

    x = nd.array([1.0, 2.0])
    x.attach_grad()
    with autograd.record():
        y = Square()(x)
        with pytest.raises(AutogradError, match="create_graph"):
            autograd.grad(y, [x], create_graph=True)
