"""Core shape ops: reshape codes, broadcast_to/like/axis, creation ops, slice and slice
assignment, indexing of NDArrays."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from graphcc import autograd, nd
from graphcc.errors import ShapeError
from opcheck import check_grad, floats_array, run, shapes

# (input shape, spec, reverse, MXNet's result) from tests/mxnet_ref/reshape_codes.py
RESHAPE_CASES = [
    ((2, 3, 4), (4, 0, 2), False, (4, 3, 2)), ((2, 3, 4), (2, 0, 0), False, (2, 3, 4)),
    ((2, 3, 4), (6, 1, -1), False, (6, 1, 4)), ((2, 3, 4), (3, -1, 8), False, (3, 1, 8)),
    ((2, 3, 4), (-1,), False, (24,)), ((2, 3, 4), (-2,), False, (2, 3, 4)),
    ((2, 3, 4), (2, -2), False, (2, 3, 4)), ((2, 3, 4), (-2, 1, 1), False, (2, 3, 4, 1, 1)),
    ((2, 3, 4), (-3, 4), False, (6, 4)), ((2, 3, 4, 5), (-3, -3), False, (6, 20)),
    ((2, 3, 4), (0, -3), False, (2, 12)), ((2, 3, 4, 5), (-3, -2), False, (6, 4, 5)),
    ((2, 3, 4), (-4, 1, 2, -2), False, (1, 2, 3, 4)),
    ((2, 3, 4), (2, -4, -1, 3, -2), False, (2, 1, 3, 4)),
    ((10, 5, 4), (-1, 0), False, (40, 5)), ((10, 5, 4), (-1, 0), True, (50, 4)),
    ((2, 3, 4), (0, -4, -1, 1, 0), False, (2, 3, 1, 4)),
]


@pytest.mark.parametrize("src, spec, rev, want", RESHAPE_CASES)
def test_reshape_codes_match_mxnet(src, spec, rev, want):
    x = np.arange(int(np.prod(src)), dtype=np.float32).reshape(src)
    got = nd.array(x).reshape(shape=spec, reverse=rev)
    assert got.shape == want
    np.testing.assert_array_equal(got.asnumpy().ravel(), x.ravel())


def test_reshape_method_forms_and_errors():
    x = nd.zeros((2, 3, 4))
    assert x.reshape(6, 4).shape == (6, 4)
    assert x.reshape((6, -1)).shape == (6, 4)
    assert x.reshape(shape=(0, -1)).shape == (2, 12)
    with pytest.raises(ShapeError, match="cannot be reshaped|cannot infer"):
        x.reshape(5, -1)
    with pytest.raises(ShapeError, match="more than one -1"):
        x.reshape(-1, -1)


@given(x=floats_array(shapes(1, 3, 1, 3)))
def test_reshape_grad(x):
    check_grad("reshape", [x], shape=(-1,))


@given(data=st.data())
def test_broadcast_to_and_like(data):
    shape = data.draw(shapes(1, 3, 1, 3))
    target = tuple(d if d != 1 else data.draw(st.integers(1, 3)) for d in shape)
    x = data.draw(floats_array(shape))
    want = np.empty(target)
    for idx in np.ndindex(*target):
        want[idx] = x[tuple(i if d != 1 else 0 for i, d in zip(idx, shape))]
    np.testing.assert_array_equal(run("broadcast_to", x, shape=target), want)
    np.testing.assert_array_equal(run("broadcast_like", x, np.zeros(target)), want)
    if int(np.prod(target)) <= 16:
        check_grad("broadcast_to", [x], shape=target)
        check_grad("broadcast_like", [x, np.zeros(target)], wrt=[0])


def test_broadcast_zero_keeps_dim_and_errors():
    assert nd.broadcast_to(nd.zeros((2, 1)), shape=(0, 3)).shape == (2, 3)
    with pytest.raises(ShapeError, match="cannot broadcast"):
        nd.broadcast_to(nd.zeros((2, 3)), shape=(2, 4))
    y = nd.broadcast_axis(nd.zeros((2, 1, 1)), axis=(1, 2), size=(3, 4))
    assert y.shape == (2, 3, 4)
    with pytest.raises(ShapeError, match="only size-1"):
        nd.broadcast_axis(nd.zeros((2, 3)), axis=1, size=4)
    z = nd.broadcast_like(nd.zeros((1, 3)), nd.zeros((5, 7)), lhs_axes=(0,), rhs_axes=(0,))
    assert z.shape == (5, 3)


def test_creation_ops():
    assert nd.zeros((2, 3)).dtype == np.float32
    assert nd.ones((2,), dtype="float64").dtype == np.float64
    np.testing.assert_array_equal(nd.full((2, 2), 7).asnumpy(), [[7, 7], [7, 7]])
    np.testing.assert_array_equal(nd.arange(5).asnumpy(), [0, 1, 2, 3, 4])
    np.testing.assert_allclose(nd.arange(1, 2, 0.25).asnumpy(), [1, 1.25, 1.5, 1.75])
    np.testing.assert_array_equal(nd.arange(3, repeat=2).asnumpy(), [0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(nd.eye(2, 3, 1).asnumpy(), [[0, 1, 0], [0, 0, 1]])
    np.testing.assert_allclose(nd.linspace(0, 1, 5).asnumpy(), [0, .25, .5, .75, 1])
    assert nd.zeros(4).shape == (4,)
    assert nd.zeros((0, 3)).shape == (0, 3)
    x = nd.array([[1, 2]])
    np.testing.assert_array_equal(nd.zeros_like(x).asnumpy(), [[0, 0]])
    np.testing.assert_array_equal(nd.ones_like(x).asnumpy(), [[1, 1]])
    np.testing.assert_array_equal(nd.full_like(x, 3).asnumpy(), [[3, 3]])


@st.composite
def slice_case(draw):
    shape = draw(shapes(1, 3, 1, 5))
    begin, end, step = [], [], []
    for d in shape[:draw(st.integers(1, len(shape)))]:
        s = draw(st.sampled_from([None, 1, 2, -1, -2]))
        b = draw(st.one_of(st.none(), st.integers(-d, d - 1)))
        e = draw(st.one_of(st.none(), st.integers(-d, d)))
        begin.append(b), end.append(e), step.append(s)
    return shape, tuple(begin), tuple(end), tuple(step)


@given(case=slice_case(), data=st.data())
def test_slice_matches_python_slicing(case, data):
    shape, begin, end, step = case
    x = data.draw(floats_array(shape))
    key = tuple(slice(b, e, s) for b, e, s in zip(begin, end, step))
    want = x[key]
    got = run("slice", x, begin=begin, end=end, step=step)
    np.testing.assert_array_equal(got, want)
    if want.size and x.size <= 20:
        check_grad("slice", [x], begin=begin, end=end, step=step)
        v = data.draw(floats_array(want.shape))
        y = x.copy()
        y[key] = v
        np.testing.assert_array_equal(run("_slice_assign", x, v, begin=begin, end=end,
                                          step=step), y)
        check_grad("_slice_assign", [x, v], begin=begin, end=end, step=step)
        y = x.copy()
        y[key] = y[key] + v
        np.testing.assert_allclose(run("_slice_add", x, v, begin=begin, end=end, step=step), y)
        check_grad("_slice_add", [x, v], begin=begin, end=end, step=step)


def test_slice_errors():
    with pytest.raises(ShapeError, match="same length"):
        nd.slice(nd.zeros((2, 3)), begin=(0, 0), end=(1,))
    with pytest.raises(ShapeError, match="step"):
        nd.slice(nd.zeros((2, 3)), begin=(0,), end=(1,), step=(0,))


def test_basic_indexing_views_and_mxnet_shapes():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    x = nd.array(a)
    np.testing.assert_array_equal(x[1].asnumpy(), a[1])
    np.testing.assert_array_equal(x[-1, 1:3].asnumpy(), a[-1, 1:3])
    np.testing.assert_array_equal(x[::2].asnumpy(), a[::2])
    np.testing.assert_array_equal(x[:, None, 1].asnumpy(), a[:, None, 1])
    np.testing.assert_array_equal(x[..., 2].asnumpy(), a[..., 2])
    assert x[1, 2].shape == (1,)       # MXNet 1.x has no 0-d arrays
    row = x[1]
    row[:] = 0                          # basic indexing shares memory, as in MXNet
    assert x.asnumpy()[1].sum() == 0
    with pytest.raises(ShapeError, match="out of bounds"):
        x[3]
    with pytest.raises(ShapeError, match="too many"):
        x[0, 0, 0]


def test_indexing_under_autograd_flows_gradients():
    a = np.arange(6, dtype=np.float64).reshape(2, 3)
    x = nd.array(a, dtype="float64")
    x.attach_grad()
    with autograd.record():
        y = (x[1] * 2).sum() + (x[:, 1:] ** 2).sum() + x[0, 0] * 5
    y.backward()
    want = np.zeros_like(a)
    want[1] += 2
    want[:, 1:] += 2 * a[:, 1:]
    want[0, 0] += 5
    np.testing.assert_allclose(x.grad.asnumpy(), want)


def test_setitem_forms():
    x = nd.zeros((3, 4))
    x[:] = 1
    x[1] = 2
    x[:, 3] = nd.array([5, 6, 7])
    x[0:2, 2:] = 9
    x[2, 0] = -1
    want = np.ones((3, 4))
    want[1] = 2
    want[:, 3] = [5, 6, 7]
    want[0:2, 2:] = 9
    want[2, 0] = -1
    np.testing.assert_array_equal(x.asnumpy(), want)
    with pytest.raises(ShapeError):
        x[:, 1] = nd.array([1, 2])
