"""Reductions and softmax: forward against NumPy written out here, gradients against finite
differences, MXNet's shape rules (axis tuples, keepdims, exclude, full reduction -> (1,))."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from graphcc.errors import ShapeError
from opcheck import check_grad, floats_array, run, shapes


def _axes_case(data, min_side=1):
    shape = data.draw(shapes(min_dims=1, max_dims=3, min_side=min_side, max_side=3), "shape")
    nd_ = len(shape)
    axis = data.draw(st.one_of(
        st.none(), st.integers(-nd_, nd_ - 1),
        st.lists(st.integers(0, nd_ - 1), min_size=1, max_size=nd_, unique=True).map(tuple)))
    keepdims = data.draw(st.booleans())
    exclude = data.draw(st.booleans()) if axis is not None else False
    return shape, axis, keepdims, exclude


def _picked(ndim, axis, exclude):
    if axis is None:
        ax = set(range(ndim))
    else:
        ax = {a % ndim for a in ((axis,) if isinstance(axis, int) else axis)}
    return tuple(sorted(set(range(ndim)) - ax if exclude else ax))


def _loop_reduce(x, axes, keepdims, fn):
    """Reduce by moving the reduced axes last and applying fn to each row."""
    keep = [i for i in range(x.ndim) if i not in axes]
    moved = np.transpose(x, keep + list(axes))
    kept_shape = moved.shape[:len(keep)]
    rows = moved.reshape(kept_shape + (-1,))
    out = np.empty(kept_shape)
    for idx in np.ndindex(*kept_shape):
        out[idx] = fn(list(rows[idx]))
    if keepdims:
        out = out.reshape(tuple(1 if i in axes else d for i, d in enumerate(x.shape)))
    elif out.ndim == 0:
        out = out.reshape(1)
    return out


def _prod(v):
    p = 1.0
    for e in v:
        p *= e
    return p


REDUCE = {"sum": sum, "mean": lambda v: sum(v) / len(v), "max": max, "min": min,
          "prod": _prod}


@pytest.mark.parametrize("name", sorted(REDUCE))
@given(data=st.data())
def test_reductions(name, data):
    shape, axis, keepdims, exclude = _axes_case(data)
    x = data.draw(floats_array(shape, 0.5, 2.0))
    if name in ("max", "min"):     # distinct values: ties have no derivative
        x = x + np.arange(x.size).reshape(shape) * 1e-2
    axes = _picked(len(shape), axis, exclude)
    want = _loop_reduce(x, axes, keepdims, REDUCE[name])
    got = run(name, x, axis=axis, keepdims=keepdims, exclude=exclude)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12)
    if x.size <= 12:
        check_grad(name, [x], axis=axis, keepdims=keepdims, exclude=exclude)


def test_full_reduction_has_shape_one():
    x = np.ones((2, 3))
    assert run("sum", x).shape == (1,)
    assert run("sum", x, keepdims=True).shape == (1, 1)
    assert run("argmax", x).shape == (1,)
    assert run("norm", x).shape == (1,)


def test_sum_of_empty_and_max_of_empty():
    x = np.zeros((0, 3))
    np.testing.assert_array_equal(run("sum", x, axis=0), [0, 0, 0])
    assert run("sum", x, axis=1).shape == (0,)
    with pytest.raises(ShapeError):
        run("max", x, axis=0)


@given(data=st.data())
def test_nansum(data):
    shape, axis, keepdims, exclude = _axes_case(data)
    x = data.draw(floats_array(shape, -2, 2))
    x.reshape(-1)[0] = np.nan
    axes = _picked(len(shape), axis, exclude)
    want = _loop_reduce(x, axes, keepdims, lambda v: sum(e for e in v if e == e))
    # a sum's rounding error is bounded relative to the sum of magnitudes, not to the sum
    # (1 + -1 + tiny cancels): the order NumPy adds in may differ from the loop's
    scale = float(np.nansum(np.abs(x)))
    np.testing.assert_allclose(run("nansum", x, axis=axis, keepdims=keepdims, exclude=exclude),
                               want, rtol=1e-12, atol=1e-14 * scale)


@pytest.mark.parametrize("ord_", [1, 2])
@given(data=st.data())
def test_norm(ord_, data):
    shape, axis, keepdims, _ = _axes_case(data)
    x = data.draw(floats_array(shape, 0.2, 2.0)) * np.where(
        np.arange(int(np.prod(shape))).reshape(shape) % 2, 1, -1)
    axes = _picked(len(shape), axis, False)
    if ord_ == 1:
        want = _loop_reduce(x, axes, keepdims, lambda v: sum(abs(e) for e in v))
    else:
        want = _loop_reduce(x, axes, keepdims, lambda v: sum(e * e for e in v) ** 0.5)
    np.testing.assert_allclose(run("norm", x, ord=ord_, axis=axis, keepdims=keepdims), want,
                               rtol=1e-12)
    if x.size <= 12:
        check_grad("norm", [x], ord=ord_, axis=axis, keepdims=keepdims)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@given(data=st.data())
def test_argmax_argmin(name, data):
    shape = data.draw(shapes(1, 3, 1, 4))
    x = data.draw(floats_array(shape, -3, 3))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    keepdims = data.draw(st.booleans())
    pick = max if name == "argmax" else min

    def first_index(v):
        best = pick(v)
        return float(v.index(best))
    want = _loop_reduce(x, (axis % x.ndim,), keepdims, first_index)
    got = run(name, x, axis=axis, keepdims=keepdims)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)
    flat = run(name, x)
    assert flat.shape == (1,) and flat[0] == first_index(list(x.ravel()))


def _softmax_ref(x, axis, t):
    z = np.moveaxis(x, axis, -1) / t
    out = np.empty_like(z)
    for idx in np.ndindex(*z.shape[:-1]):
        row = z[idx]
        e = [np.exp(v - max(row)) for v in row]
        out[idx] = [v / sum(e) for v in e]
    return np.moveaxis(out, -1, axis)


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "softmin"])
@given(data=st.data())
def test_softmax_family(name, data):
    shape = data.draw(shapes(1, 3, 1, 4))
    x = data.draw(floats_array(shape, -3, 3))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    t = data.draw(st.sampled_from([None, 1.0, 0.5, 2.0]))
    sm = _softmax_ref(-x if name == "softmin" else x, axis, t or 1.0)
    want = np.log(sm) if name == "log_softmax" else sm
    np.testing.assert_allclose(run(name, x, axis=axis, temperature=t), want, rtol=1e-10,
                               atol=1e-12)
    if x.size <= 12:
        check_grad(name, [x], axis=axis, temperature=t)


def test_softmax_is_stable_for_large_inputs():
    x = np.array([[1000.0, 1001.0, 1002.0]], np.float32)
    got = run("softmax", x)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got.sum(), 1.0, rtol=1e-6)
    assert np.all(np.isfinite(run("log_softmax", x)))


def test_reduction_axis_errors():
    with pytest.raises(ShapeError, match="out of range"):
        run("sum", np.ones((2, 3)), axis=2)
    with pytest.raises(ShapeError):
        run("softmax", np.ones((2, 3)), axis=-3)


@given(data=st.data())
def test_nanprod(data):
    shape, axis, keepdims, exclude = _axes_case(data)
    x = data.draw(floats_array(shape, 0.5, 2.0))
    x.reshape(-1)[0] = np.nan
    axes = _picked(len(shape), axis, exclude)
    want = _loop_reduce(x, axes, keepdims, lambda v: _prod([e for e in v if e == e]))
    np.testing.assert_allclose(run("nanprod", x, axis=axis, keepdims=keepdims, exclude=exclude),
                               want, rtol=1e-12)


@given(x=floats_array(shapes(2, 3, 1, 4), -3, 3))
def test_argmax_channel_is_argmax_of_last_axis(x):
    want = np.array([float(list(r).index(max(r))) for r in x.reshape(-1, x.shape[-1])])
    np.testing.assert_array_equal(run("argmax_channel", x).ravel(), want)
