"""Movement and indexing ops: forward against NumPy written out here (index loops), gradients
against finite differences in float64, MXNet's index rules (float indices truncate, clip/wrap),
split/topk returning lists, and NDArray indexing with arrays."""
import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from graphcc import autograd, nd
from graphcc.errors import DTypeError, OpAttrError, ShapeError
from graphcc.ir import GraphBuilder
from graphcc.ir.interp import interpret
from graphcc.ir.types import TensorType
from opcheck import check_grad, floats_array, numeric_grad, run, shapes


def _loop(shape, fn, dtype=np.float64):
    """An array of ``shape`` whose element at idx is fn(idx), built one element at a time."""
    out = np.zeros(shape, dtype)
    for idx in np.ndindex(*shape):
        out[idx] = fn(idx)
    return out


def _mx_int(v):
    return int(v)          # Python's int() truncates toward zero, as MXNet's cast does


def _clip(i, d):
    return min(max(i, 0), d - 1)


def check_grad_multi(fn, arrays, wrt=(0,), seed=0):
    """Like opcheck.check_grad for a function returning a list of NDArrays."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]

    def outs(*xs):
        r = fn(*[nd.array(x, dtype="float64") for x in xs])
        return [o.asnumpy() for o in (r if isinstance(r, list) else [r])]
    rng = np.random.default_rng(seed)
    heads = [rng.uniform(0.5, 1.5, o.shape) for o in outs(*arrays)]

    def f(*xs):
        return np.array(sum(np.sum(o * h) for o, h in zip(outs(*xs), heads)))
    want = numeric_grad(f, arrays, np.array(1.0))
    xs = [nd.array(a, dtype="float64") for a in arrays]
    for i in wrt:
        xs[i].attach_grad()
    with autograd.record():
        r = fn(*xs)
    r = r if isinstance(r, list) else [r]
    autograd.backward(r, [nd.array(h, dtype="float64") for h in heads])
    for i in wrt:
        np.testing.assert_allclose(xs[i].grad.asnumpy(), want[i], rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------- transpose, swapaxes


@given(data=st.data())
def test_transpose(data):
    shape = data.draw(shapes(0, 4, 0, 3))
    x = data.draw(floats_array(shape))
    perm = data.draw(st.permutations(range(len(shape))))
    want = _loop(tuple(shape[p] for p in perm),
                 lambda idx: x[tuple(idx[perm.index(a)] for a in range(len(shape)))])
    np.testing.assert_array_equal(run("transpose", x, axes=tuple(perm)), want)
    np.testing.assert_array_equal(
        run("transpose", x), _loop(shape[::-1], lambda idx: x[tuple(idx[::-1])]))
    if 0 < x.size <= 24:
        check_grad("transpose", [x], axes=tuple(perm))
        check_grad("transpose", [x])


def test_transpose_method_forms_and_errors():
    x = nd.zeros((2, 3, 4))
    assert x.T.shape == (4, 3, 2)
    assert x.transpose(1, 0, 2).shape == (3, 2, 4)
    assert nd.transpose(x, (2, 0, 1)).shape == (4, 2, 3)
    with pytest.raises(ShapeError, match="each of the input's 3 axes"):
        nd.transpose(x, axes=(0, 1))
    with pytest.raises(ShapeError, match="not a permutation"):
        nd.transpose(x, axes=(0, 0, 1))


@given(data=st.data())
def test_swapaxes(data):
    shape = data.draw(shapes(1, 4, 0, 3))
    x = data.draw(floats_array(shape))
    n = len(shape)
    a, b = data.draw(st.integers(-n, n - 1)), data.draw(st.integers(-n, n - 1))
    i, j = a % n, b % n
    s = list(shape)
    s[i], s[j] = s[j], s[i]

    def src(idx):
        idx = list(idx)
        idx[i], idx[j] = idx[j], idx[i]
        return x[tuple(idx)]
    np.testing.assert_array_equal(run("swapaxes", x, dim1=a, dim2=b), _loop(tuple(s), src))
    got = nd.SwapAxis(nd.array(x, dtype="float64"), a, b).asnumpy()
    np.testing.assert_array_equal(got, _loop(tuple(s), src))
    if 0 < x.size <= 24:
        check_grad("swapaxes", [x], dim1=a, dim2=b)


def test_swapaxes_defaults_and_errors():
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(run("swapaxes", x), x)     # dim1 = dim2 = 0
    with pytest.raises(ShapeError, match="out of range"):
        nd.swapaxes(nd.array(x), 0, 2)


# ---------------------------------------------------------------- expand_dims, squeeze, flatten


@given(data=st.data())
def test_expand_dims_squeeze_flatten(data):
    shape = data.draw(shapes(0, 3, 0, 3))
    x = data.draw(floats_array(shape))
    n = len(shape)
    axis = data.draw(st.integers(-n - 1, n))
    pos = axis + n + 1 if axis < 0 else axis
    y = run("expand_dims", x, axis=axis)
    assert y.shape == tuple(shape[:pos]) + (1,) + tuple(shape[pos:])
    np.testing.assert_array_equal(y.ravel(), x.ravel())
    sq = run("squeeze", y, axis=(pos,))
    assert sq.shape == (tuple(shape) or (1,))
    every = run("squeeze", y)
    assert every.shape == (tuple(d for d in shape if d != 1) or (1,))
    np.testing.assert_array_equal(every.ravel(), x.ravel())
    if n:
        f = run("flatten", x)
        rest = 1
        for d in shape[1:]:
            rest *= d
        assert f.shape == (shape[0], rest)
        np.testing.assert_array_equal(f.ravel(), x.ravel())
        np.testing.assert_array_equal(run("Flatten", x), f)
    if 0 < x.size <= 12:
        check_grad("expand_dims", [x], axis=axis)
        check_grad("squeeze", [y])
        if n:
            check_grad("flatten", [x])


def test_squeeze_and_expand_dims_mxnet_rules():
    assert nd.squeeze(nd.ones((1, 1))).shape == (1,)         # no 0-d results
    assert nd.squeeze(nd.ones((1, 2, 1)), axis=(0, -1)).shape == (2,)
    assert nd.flatten(nd.ones((3,))).shape == (3, 1)
    assert nd.flatten(nd.ones((0, 3, 2))).shape == (0, 6)
    with pytest.raises(ShapeError, match="size 2"):
        nd.squeeze(nd.ones((1, 2, 1)), axis=1)
    with pytest.raises(ShapeError, match=r"\[-4, 3\]"):
        nd.expand_dims(nd.ones((2, 3, 4)), axis=4)


def test_reshape_like():
    x = np.arange(24.0).reshape(2, 3, 4)
    assert run("reshape_like", x, np.zeros((4, 6))).shape == (4, 6)
    y = run("reshape_like", x, np.zeros((12, 5)), lhs_begin=-2, rhs_begin=0, rhs_end=1)
    assert y.shape == (2, 12)
    np.testing.assert_array_equal(y.ravel(), x.ravel())
    y = run("reshape_like", x, np.zeros((3, 1, 7)), lhs_begin=1, lhs_end=2, rhs_end=2)
    assert y.shape == (2, 3, 1, 4)
    with pytest.raises(ShapeError, match="sizes differ"):
        nd.reshape_like(nd.array(x), nd.zeros((5,)))
    with pytest.raises(ShapeError, match="not a range"):
        nd.reshape_like(nd.array(x), nd.zeros((24,)), lhs_begin=2, lhs_end=1)
    check_grad("reshape_like", [np.arange(6.0).reshape(2, 3), np.zeros((3, 2))], wrt=[0])
    xx = nd.array(x)
    assert xx.reshape_like(nd.zeros((6, 4))).shape == (6, 4)


# ---------------------------------------------------------------- concat, stack


@given(data=st.data())
def test_concat(data):
    base = list(data.draw(shapes(1, 3, 1, 3)))
    n = len(base)
    dim = data.draw(st.integers(-n, n - 1))
    ax = dim % n
    sizes = data.draw(st.lists(st.integers(0, 2), min_size=1, max_size=3))
    xs = []
    for k in sizes:
        s = list(base)
        s[ax] = k
        xs.append(data.draw(floats_array(tuple(s))))
    out_shape = list(base)
    out_shape[ax] = sum(sizes)
    owner = [(k, j) for k, size in enumerate(sizes) for j in range(size)]

    def src(idx):
        k, j = owner[idx[ax]]
        return xs[k][idx[:ax] + (j,) + idx[ax + 1:]]
    want = _loop(tuple(out_shape), src)
    np.testing.assert_array_equal(run("concat", *xs, dim=dim), want)
    np.testing.assert_array_equal(run("Concat", *xs, dim=dim, num_args=len(xs)), want)
    if 0 < want.size <= 20:
        check_grad("concat", xs, dim=dim)


def test_concat_defaults_and_errors():
    a, b = nd.ones((2, 1)), nd.zeros((2, 2))
    np.testing.assert_array_equal(nd.concat(a, b).asnumpy(), [[1, 0, 0], [1, 0, 0]])  # dim=1
    assert nd.concat(*[a, b], dim=-1).shape == (2, 3)
    assert nd.concat(nd.ones((2,)), nd.ones((3,)), dim=0).shape == (5,)
    assert nd.concatenate([a, b], axis=1).shape == (2, 3)
    with pytest.raises(ShapeError, match="must agree except along dim 1"):
        nd.concat(a, nd.zeros((3, 2)))
    with pytest.raises(ShapeError, match="out of range"):
        nd.concat(nd.ones((2,)), nd.zeros((2,)))            # dim=1 of 1-d arrays
    with pytest.raises(OpAttrError, match="num_args=3"):
        nd.concat(a, b, num_args=3)
    with pytest.raises(DTypeError, match="different dtypes"):
        nd.concat(a, nd.ones((2, 1), dtype="float64"))


@given(data=st.data())
def test_stack(data):
    shape = data.draw(shapes(0, 3, 0, 3))
    n = len(shape)
    axis = data.draw(st.integers(-n - 1, n))
    ax = axis + n + 1 if axis < 0 else axis
    xs = [data.draw(floats_array(shape)) for _ in range(data.draw(st.integers(1, 3)))]
    out = tuple(shape[:ax]) + (len(xs),) + tuple(shape[ax:])
    want = _loop(out, lambda idx: xs[idx[ax]][idx[:ax] + idx[ax + 1:]])
    np.testing.assert_array_equal(run("stack", *xs, axis=axis), want)
    if 0 < want.size <= 20:
        check_grad("stack", xs, axis=axis)


def test_stack_errors():
    with pytest.raises(ShapeError, match="same shape"):
        nd.stack(nd.ones((2,)), nd.zeros((3,)))
    with pytest.raises(ShapeError, match=r"\[-2, 1\]"):
        nd.stack(nd.ones((2,)), nd.zeros((2,)), axis=2)


# ---------------------------------------------------------------- split, split_v2


@given(data=st.data())
def test_split(data):
    shape = list(data.draw(shapes(1, 3, 1, 3)))
    n = len(shape)
    axis = data.draw(st.integers(-n, n - 1))
    ax = axis % n
    parts = data.draw(st.integers(1, 3))
    shape[ax] *= parts
    x = data.draw(floats_array(tuple(shape)))
    step = shape[ax] // parts
    got = nd.split(nd.array(x, dtype="float64"), num_outputs=parts, axis=axis)
    got = got if isinstance(got, list) else [got]
    assert len(got) == parts
    for k, g in enumerate(got):
        want = np.take(x, list(range(k * step, (k + 1) * step)), axis=ax)
        np.testing.assert_array_equal(g.asnumpy(), want)
    if step == 1:
        sq = nd.split(nd.array(x, dtype="float64"), parts, axis, True)
        sq = sq if isinstance(sq, list) else [sq]
        for k, g in enumerate(sq):
            np.testing.assert_array_equal(g.asnumpy(), np.take(x, k, axis=ax))
    if x.size <= 18:
        check_grad_multi(lambda v: nd.split(v, num_outputs=parts, axis=axis), [x])


def test_split_returns_list_or_single_array():
    x = nd.array(np.arange(24).reshape(2, 3, 4))
    parts = nd.split(x, num_outputs=2, axis=2)
    assert isinstance(parts, list) and [p.shape for p in parts] == [(2, 3, 2)] * 2
    one = nd.split(x, num_outputs=1, axis=2)
    assert not isinstance(one, list) and one.shape == (2, 3, 4)
    assert [p.shape for p in nd.split(x, 3)] == [(2, 1, 4)] * 3           # axis=1 default
    assert [p.shape for p in nd.SliceChannel(x, 3, squeeze_axis=True)] == [(2, 4)] * 3
    assert [p.shape for p in x.split(num_outputs=2, axis=-1)] == [(2, 3, 2)] * 2
    scalars = nd.split(nd.arange(3), 3, axis=0, squeeze_axis=True)
    assert [p.shape for p in scalars] == [()] * 3
    with pytest.raises(ShapeError, match="split: cannot split axis 2 of size 4"):
        nd.split(x, num_outputs=3, axis=2)
    with pytest.raises(ShapeError, match="squeeze_axis"):
        nd.split(x, num_outputs=2, axis=2, squeeze_axis=True)


def test_split_v2():
    a = np.arange(24.0).reshape(2, 3, 4)
    x = nd.array(a)
    got = nd.split_v2(x, (1, 3), axis=2)
    for g, want in zip(got, [a[:, :, :1], a[:, :, 1:3], a[:, :, 3:]]):
        np.testing.assert_array_equal(g.asnumpy(), want)
    got = nd.split_v2(x, (0, 3), axis=2)            # an empty first section, as in MXNet
    assert [g.shape for g in got] == [(2, 3, 0), (2, 3, 3), (2, 3, 1)]
    assert [g.shape for g in nd.split_v2(x, 2)] == [(1, 3, 4)] * 2          # axis=0 default
    assert [g.shape for g in x.split_v2(3, axis=1, squeeze_axis=True)] == [(2, 4)] * 3
    assert nd.split_v2(x, 1, axis=2).shape == (2, 3, 4)
    assert nd.split_v2(ary=x, indices_or_sections=(), axis=2).shape == (2, 3, 4)
    with pytest.raises(ShapeError, match="equal sections"):
        nd.split_v2(x, 3, axis=2)
    with pytest.raises(ShapeError, match="increasing"):
        nd.split_v2(x, (3, 1), axis=2)
    with pytest.raises(ShapeError, match="increasing"):
        nd.split_v2(x, (1, 5), axis=2)
    with pytest.raises(OpAttrError, match="int or a tuple"):
        nd.split_v2(x, 1.5, axis=2)
    check_grad_multi(lambda v: nd.split_v2(v, (1, 2), axis=1), [np.arange(6.0).reshape(2, 3)])


def test_nd_split_end_to_end_with_autograd():
    a = np.arange(12.0).reshape(2, 6)
    x = nd.array(a, dtype="float64")
    x.attach_grad()
    with autograd.record():
        p, q = nd.split(x, num_outputs=2, axis=1)
        y = (p * p).sum() + (q * 3).sum()
    y.backward()
    want = np.concatenate([2 * a[:, :3], np.full((2, 3), 3.0)], axis=1)
    np.testing.assert_allclose(x.grad.asnumpy(), want)


def test_composites_expand_in_graphs():
    b = GraphBuilder()
    x = b.input("x", TensorType((2, 6), "float32"))
    parts = b.split(x, num_outputs=3, axis=1)
    vals, idx = b.topk(x, k=2, ret_typ="both")
    g = b.build(list(parts) + [vals, idx])
    assert {n.op for n in g.nodes} == {"input", "slice_axis", "_topk"}
    a = np.random.default_rng(0).permutation(12).astype(np.float32).reshape(2, 6)
    outs = interpret(g, [a])
    for k in range(3):
        np.testing.assert_array_equal(outs[k], a[:, 2 * k:2 * k + 2])
    v, i = nd.topk(nd.array(a), k=2, ret_typ="both")
    np.testing.assert_array_equal(outs[3], v.asnumpy())
    np.testing.assert_array_equal(outs[4], i.asnumpy())


# ---------------------------------------------------------------- slice_axis, slice_like


@given(data=st.data())
def test_slice_axis(data):
    shape = data.draw(shapes(1, 3, 1, 4))
    x = data.draw(floats_array(shape))
    n = len(shape)
    axis = data.draw(st.integers(-n, n - 1))
    d = shape[axis % n]
    b = data.draw(st.integers(0, d))
    e = data.draw(st.integers(b, d))
    begin = b - d if b < d and data.draw(st.booleans()) else b
    end = data.draw(st.sampled_from([e, e - d if e < d else None]))
    want = np.take(x, list(range(b, e)), axis=axis % n)
    np.testing.assert_array_equal(run("slice_axis", x, axis=axis, begin=begin, end=end), want)
    if want.size and x.size <= 24:
        check_grad("slice_axis", [x], axis=axis, begin=begin, end=end)


def test_slice_axis_errors():
    x = nd.zeros((2, 4))
    with pytest.raises(ShapeError, match="not a range"):
        nd.slice_axis(x, axis=1, begin=3, end=1)
    with pytest.raises(ShapeError, match="not a range"):
        nd.slice_axis(x, axis=1, begin=0, end=7)
    with pytest.raises(ShapeError, match="not a range"):
        nd.slice_axis(x, axis=1, begin=-7, end=2)
    with pytest.raises(OpAttrError, match="missing required attribute 'end'"):
        nd.slice_axis(x, axis=1, begin=0)


@given(data=st.data())
def test_slice_like(data):
    shape = data.draw(shapes(1, 3, 1, 4))
    x = data.draw(floats_array(shape))
    like = tuple(data.draw(st.integers(0, d)) for d in shape)
    want = _loop(like, lambda idx: x[idx])
    np.testing.assert_array_equal(run("slice_like", x, np.zeros(like)), want)
    ax = data.draw(st.integers(0, len(shape) - 1))
    part = list(shape)
    part[ax] = like[ax]
    np.testing.assert_array_equal(run("slice_like", x, np.zeros(like), axes=(ax - len(shape),)),
                                  _loop(tuple(part), lambda idx: x[idx]))
    if want.size and x.size <= 24:
        check_grad("slice_like", [x, np.zeros(like)], wrt=[0])


def test_slice_like_errors():
    x = nd.zeros((2, 3, 4))
    assert nd.slice_like(x, nd.zeros((1, 2)), axes=(1,)).shape == (2, 2, 4)
    with pytest.raises(ShapeError, match="same number of dims"):
        nd.slice_like(x, nd.zeros((1, 2)))
    with pytest.raises(ShapeError, match="exceeds"):
        nd.slice_like(x, nd.zeros((3, 2, 3)))


# ---------------------------------------------------------------- take


def _fit(i, d, mode):
    i = _mx_int(i)
    return i % d if mode == "wrap" else _clip(i, d)


@given(data=st.data(), mode=st.sampled_from(["clip", "wrap"]))
def test_take(data, mode):
    shape = data.draw(shapes(1, 3, 1, 3))
    a = data.draw(floats_array(shape))
    n = len(shape)
    axis = data.draw(st.integers(-n, n - 1))
    ax = axis % n
    d = shape[ax]
    ishape = data.draw(shapes(0, 2, 0, 3))
    idx = data.draw(floats_array(ishape, -2 * d - 1, 2 * d + 1))
    out = tuple(shape[:ax]) + tuple(ishape) + tuple(shape[ax + 1:])
    k = len(ishape)

    def src(o):
        j = _fit(idx[o[ax:ax + k]], d, mode)
        return a[o[:ax] + (j,) + o[ax + k:]]
    want = _loop(out, src)
    np.testing.assert_array_equal(run("take", a, idx, axis=axis, mode=mode), want)
    if 0 < a.size <= 12 and 0 < idx.size <= 4:
        check_grad("take", [a, idx], wrt=[0], axis=axis, mode=mode)


def test_take_index_rules():
    m = np.arange(12.0).reshape(3, 4)
    # float indices truncate toward zero; out of range clips (default) or wraps
    got = run("take", m, np.array([-1, -5, 1.7, 2.2, -0.5]))
    np.testing.assert_array_equal(got[:, 0], [0, 0, 4, 8, 0])
    got = run("take", m, np.array([-1, -5, 1.7, 4, 3]), mode="wrap")
    np.testing.assert_array_equal(got[:, 0], [8, 4, 4, 4, 0])
    got = run("take", m, np.array([3, 0], dtype=np.int32), axis=-1)
    np.testing.assert_array_equal(got, m[:, [3, 0]])
    np.testing.assert_array_equal(run("take", m, np.array([2.0, 0.0]), mode="raise"),
                                  m[[2, 0]])
    with pytest.raises(ShapeError, match="out of bounds"):
        nd.take(nd.array(m), nd.array([3, 0]), mode="raise")
    with pytest.raises(ShapeError, match="out of bounds"):
        nd.take(nd.array(m), nd.array([-1, 0]), mode="raise")
    with pytest.raises(OpAttrError, match="mode"):
        nd.take(nd.array(m), nd.array([0]), mode="nearest")
    assert run("take", m, np.zeros((0,))).shape == (0, 4)
    with pytest.raises(ShapeError, match="nothing to take"):
        nd.take(nd.zeros((0, 2)), nd.array([0]))


def test_take_gradient_accumulates_repeats():
    a = nd.array(np.arange(6.0).reshape(3, 2), dtype="float64")
    a.attach_grad()
    with autograd.record():
        y = nd.take(a, nd.array([2, 0, 2, 7])).sum()      # 7 clips to row 2
    y.backward()
    np.testing.assert_array_equal(a.grad.asnumpy(), [[1, 1], [0, 0], [3, 3]])


# ---------------------------------------------------------------- pick, one_hot


@given(data=st.data(), mode=st.sampled_from(["clip", "wrap"]), keep=st.booleans())
def test_pick(data, mode, keep):
    shape = data.draw(shapes(1, 3, 1, 3))
    x = data.draw(floats_array(shape))
    n = len(shape)
    axis = data.draw(st.integers(-n, n - 1))
    ax = axis % n
    d = shape[ax]
    rest = tuple(shape[:ax]) + tuple(shape[ax + 1:])
    idx = data.draw(floats_array(rest or (1,), -d - 1, 2 * d))

    def src(o):
        j = _fit(idx[o], d, mode)
        return x[o[:ax] + (j,) + o[ax:]]
    want = _loop(rest, src) if rest else np.array([x[_fit(idx[0], d, mode)]])
    if keep:
        want = want.reshape(tuple(shape[:ax]) + (1,) + tuple(shape[ax + 1:]))
    np.testing.assert_array_equal(run("pick", x, idx, axis=axis, keepdims=keep, mode=mode),
                                  want)
    if x.size <= 12:
        check_grad("pick", [x, idx], wrt=[0], axis=axis, keepdims=keep, mode=mode)


def test_pick_mxnet_rules():
    m = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(run("pick", m, np.array([0, 3, 9])), [0, 7, 11])   # axis=-1
    np.testing.assert_array_equal(run("pick", m, np.array([-1, 1.7, -0.5])), [0, 5, 8])
    np.testing.assert_array_equal(run("pick", m, np.array([[0], [2], [1]])), [0, 6, 9])
    assert run("pick", m, np.array([0, 2, 1]), keepdims=True).shape == (3, 1)
    assert run("pick", np.arange(5.0), np.array([3.0])).tolist() == [3.0]
    with pytest.raises(ShapeError, match=r"must have shape \(3,\)"):
        nd.pick(nd.array(m), nd.array([0, 3]))
    with pytest.raises(OpAttrError, match="axis=None"):
        nd.pick(nd.array(m), nd.array([5]), axis=None)


@given(data=st.data())
def test_one_hot(data):
    ishape = data.draw(shapes(0, 2, 0, 3))
    depth = data.draw(st.integers(0, 4))
    idx = data.draw(floats_array(ishape, -2, depth + 2))
    on, off = 5.0, -1.0
    want = _loop(tuple(ishape) + (depth,),
                 lambda o: on if _mx_int(idx[o[:-1]]) == o[-1] else off)
    got = nd.one_hot(nd.array(idx, dtype="float64"), depth, on, off, "int32").asnumpy()
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, want)
    got = run("one_hot", idx, depth=depth)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, (want == on).astype(np.float32))


# ---------------------------------------------------------------- gather_nd, scatter_nd


@given(data=st.data())
def test_gather_nd(data):
    shape = data.draw(shapes(1, 3, 1, 3))
    x = data.draw(floats_array(shape))
    m = data.draw(st.integers(1, len(shape)))
    y = data.draw(shapes(0, 2, 0, 3))
    idx = np.stack([data.draw(floats_array(y, -shape[k], shape[k] - 0.01)) for k in range(m)])
    out = tuple(y) + tuple(shape[m:])

    def src(o):
        pos = tuple(_mx_int(idx[(k,) + o[:len(y)]]) % shape[k] for k in range(m))
        return x[pos + o[len(y):]]
    want = _loop(out, src)
    np.testing.assert_array_equal(run("gather_nd", x, idx), want)
    if 0 < x.size <= 12 and idx.size <= 6:
        check_grad("gather_nd", [x, idx], wrt=[0])


def test_gather_nd_cases_and_errors():
    m = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(run("gather_nd", m, np.array([[0, 2], [1, 3]])), [1, 11])
    np.testing.assert_array_equal(run("gather_nd", m, np.array([[0, 2, 1]])), m[[0, 2, 1]])
    np.testing.assert_array_equal(run("gather_nd", m, np.array([[-1, 0], [-1, -4]])), [11, 0])
    with pytest.raises(ShapeError, match="index 3 dims"):
        nd.gather_nd(nd.array(m), nd.array([[1], [2], [0]]))


@given(data=st.data())
def test_scatter_nd(data):
    shape = data.draw(shapes(1, 3, 1, 3))
    m = data.draw(st.integers(1, len(shape)))
    cells = list(itertools.product(*[range(d) for d in shape[:m]]))
    chosen = data.draw(st.lists(st.sampled_from(cells), unique=True, max_size=4))
    idx = np.array(chosen, dtype=np.float64).T.reshape(m, len(chosen))
    vals = data.draw(floats_array((len(chosen),) + tuple(shape[m:])))
    want = np.zeros(shape)
    for k, cell in enumerate(chosen):
        for rest in np.ndindex(*shape[m:]):
            want[cell + rest] = vals[(k,) + rest]
    np.testing.assert_array_equal(run("scatter_nd", vals, idx, shape=shape), want)
    np.testing.assert_array_equal(run("_backward_gather_nd", vals, idx, shape=shape), want)
    if 0 < vals.size <= 12:
        check_grad("scatter_nd", [vals, idx], wrt=[0], shape=shape)
        check_grad("_backward_gather_nd", [vals, idx], wrt=[0], shape=shape)


def test_backward_gather_nd_adds_repeats():
    got = run("_backward_gather_nd", np.array([1.0, 2.0, 3.0]),
              np.array([[0, 0, 1], [1, 1, 0]]), shape=(2, 2))
    np.testing.assert_array_equal(got, [[0, 3], [3, 0]])
    with pytest.raises(ShapeError, match="must have shape"):
        nd.scatter_nd(nd.array([1, 2]), nd.array([[0, 1, 1]]), shape=(3,))


# ---------------------------------------------------------------- NDArray indexing with arrays


def test_indexing_with_index_arrays():
    a = np.arange(12.0).reshape(3, 4)
    x = nd.array(a)
    np.testing.assert_array_equal(x[nd.array([2, 0])].asnumpy(), a[[2, 0]])
    np.testing.assert_array_equal(x[[1, 1]].asnumpy(), a[[1, 1]])
    np.testing.assert_array_equal(x[nd.array([2, 0]), nd.array([1, 3])].asnumpy(), [9, 3])
    np.testing.assert_array_equal(x[nd.array([[2], [0]]), nd.array([[1], [3]])].asnumpy(),
                                  [[9], [3]])
    np.testing.assert_array_equal(x[[0, 1], [1, 2]].asnumpy(), a[[0, 1], [1, 2]])


def test_indexing_with_index_arrays_flows_gradients():
    a = np.arange(12.0).reshape(3, 4)
    x = nd.array(a, dtype="float64")
    x.attach_grad()
    with autograd.record():
        y = (x[nd.array([2, 0, 2])] * 2).sum() + (x[nd.array([1, 1]), nd.array([0, 3])]).sum()
    y.backward()
    want = np.zeros_like(a)
    want[2] += 4
    want[0] += 2
    want[1, 0] += 1
    want[1, 3] += 1
    np.testing.assert_array_equal(x.grad.asnumpy(), want)


# ---------------------------------------------------------------- tile, repeat, flip


@given(data=st.data())
def test_tile(data):
    shape = data.draw(shapes(0, 3, 0, 3))
    x = data.draw(floats_array(shape))
    reps = tuple(data.draw(st.lists(st.integers(1, 3), max_size=3)))
    n = max(len(shape), len(reps))
    s = (1,) * (n - len(shape)) + tuple(shape)
    r = (1,) * (n - len(reps)) + reps
    xs = x.reshape(s)
    want = _loop(tuple(a * b for a, b in zip(s, r)),
                 lambda o: xs[tuple(i % d for i, d in zip(o, s))])
    np.testing.assert_array_equal(run("tile", x, reps=reps), want)
    if 0 < want.size <= 24:
        check_grad("tile", [x], reps=reps)


@given(data=st.data())
def test_repeat(data):
    shape = data.draw(shapes(0, 3, 0, 3))
    x = data.draw(floats_array(shape))
    r = data.draw(st.integers(0, 3))
    flat = x.reshape(-1)
    want = _loop((flat.size * r,), lambda o: flat[o[0] // r])
    np.testing.assert_array_equal(run("repeat", x, repeats=r), want)
    if shape:
        n = len(shape)
        axis = data.draw(st.integers(-n, n - 1))
        ax = axis % n
        out = tuple(shape[:ax]) + (shape[ax] * r,) + tuple(shape[ax + 1:])
        want = _loop(out, lambda o: x[o[:ax] + (o[ax] // r,) + o[ax + 1:]])
        np.testing.assert_array_equal(run("repeat", x, repeats=r, axis=axis), want)
        if 0 < x.size <= 12:
            check_grad("repeat", [x], repeats=r, axis=axis)
    if 0 < x.size <= 12:
        check_grad("repeat", [x], repeats=r)


def test_tile_repeat_errors():
    with pytest.raises(ShapeError, match="must not be negative"):
        nd.tile(nd.ones((2,)), (-1,))
    with pytest.raises(ShapeError, match="must not be negative"):
        nd.repeat(nd.ones((2,)), -1, axis=0)
    assert nd.tile(nd.ones((3, 4)), ()).shape == (3, 4)


@given(data=st.data())
def test_flip(data):
    shape = data.draw(shapes(1, 3, 0, 3))
    x = data.draw(floats_array(shape))
    n = len(shape)
    axes = data.draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=2))
    flips = [sum(1 for a in axes if a % n == i) % 2 for i in range(n)]

    def src(o):
        return x[tuple(d - 1 - i if f else i for i, d, f in zip(o, shape, flips))]
    want = _loop(tuple(shape), src)
    np.testing.assert_array_equal(run("flip", x, axis=tuple(axes)), want)
    np.testing.assert_array_equal(run("reverse", x, axis=tuple(axes)), want)
    if 0 < x.size <= 24:
        check_grad("flip", [x], axis=tuple(axes))


# ---------------------------------------------------------------- pad


def _pad_src(i, b, d, mode):
    """Input position read by output position i of an axis padded by b before, or None."""
    j = i - b
    if 0 <= j < d:
        return j
    if mode == "constant":
        return None
    if mode == "edge":
        return 0 if j < 0 else d - 1
    return -j if j < 0 else 2 * (d - 1) - j          # reflect (no repeated edge)


@given(data=st.data(), mode=st.sampled_from(["constant", "edge", "reflect"]))
def test_pad(data, mode):
    shape = data.draw(shapes(1, 4, 1, 3))
    x = data.draw(floats_array(shape))
    width = []
    for d in shape:
        hi = d - 1 if mode == "reflect" else 2
        width += [data.draw(st.integers(0, hi)), data.draw(st.integers(0, hi))]
    cv = 2.5
    out = tuple(d + width[2 * i] + width[2 * i + 1] for i, d in enumerate(shape))

    def src(o):
        pos = [_pad_src(i, width[2 * k], shape[k], mode) for k, i in enumerate(o)]
        return cv if any(p is None for p in pos) else x[tuple(pos)]
    want = _loop(out, src)
    np.testing.assert_array_equal(
        run("pad", x, mode=mode, pad_width=tuple(width), constant_value=cv), want)
    if x.size <= 12 and want.size <= 60:
        check_grad("Pad", [x], mode=mode, pad_width=tuple(width), constant_value=cv)


def test_pad_mxnet_example_and_errors():
    x = np.arange(24.0).reshape(2, 1, 3, 4)
    got = run("pad", x, mode="reflect", pad_width=(0, 0, 0, 0, 2, 1, 1, 3))
    np.testing.assert_array_equal(got[0, 0, 0], [9, 8, 9, 10, 11, 10, 9, 8])
    np.testing.assert_array_equal(got[0, 0, :, 0], [9, 5, 1, 5, 9, 5])
    with pytest.raises(ShapeError, match="smaller than its size"):
        nd.pad(nd.array(x), mode="reflect", pad_width=(0, 0, 0, 0, 3, 1, 1, 3))
    with pytest.raises(ShapeError, match="2 values per axis"):
        nd.pad(nd.array(x), mode="edge", pad_width=(0, 0, 1, 1))
    with pytest.raises(OpAttrError, match="missing required attribute 'mode'"):
        nd.pad(nd.array(x), pad_width=(0,) * 8)


# ---------------------------------------------------------------- SequenceMask / Last / Reverse


def _seq_case(data, max_batch=3):
    T = data.draw(st.integers(1, 4))
    B = data.draw(st.integers(1, max_batch))
    F = data.draw(st.sampled_from([(), (2,)]))
    lengths = np.array([data.draw(st.sampled_from([0, 0.5, 1, 1.5, T, T + 2, -1]))
                        for _ in range(B)], dtype=np.float64)
    return T, B, F, lengths


@given(data=st.data(), axis=st.sampled_from([0, 1]))
def test_sequence_mask(data, axis):
    T, B, F, lengths = _seq_case(data)
    shape = ((T, B) if axis == 0 else (B, T)) + F
    x = data.draw(floats_array(shape))

    def src(o):
        t, b = (o[0], o[1]) if axis == 0 else (o[1], o[0])
        return x[o] if t < _mx_int(lengths[b]) else -7.0
    want = _loop(shape, src)
    got = run("SequenceMask", x, lengths, use_sequence_length=True, value=-7.0, axis=axis)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(run("SequenceMask", x, value=-7.0, axis=axis), x)
    if x.size <= 16:
        check_grad("SequenceMask", [x, lengths], wrt=[0], use_sequence_length=True, axis=axis)
        check_grad("SequenceMask", [x], axis=axis)


@given(data=st.data(), axis=st.sampled_from([0, 1]))
def test_sequence_last(data, axis):
    T, B, F, lengths = _seq_case(data)
    shape = ((T, B) if axis == 0 else (B, T)) + F
    x = data.draw(floats_array(shape))

    def at(t, b, f):
        return x[((t, b) if axis == 0 else (b, t)) + f]
    want = _loop((B,) + F, lambda o: at(_clip(_mx_int(lengths[o[0]]) - 1, T), o[0], o[1:]))
    got = run("SequenceLast", x, lengths, use_sequence_length=True, axis=axis)
    np.testing.assert_array_equal(got, want)
    want = _loop((B,) + F, lambda o: at(T - 1, o[0], o[1:]))
    np.testing.assert_array_equal(run("SequenceLast", x, axis=axis), want)
    if x.size <= 16:
        check_grad("SequenceLast", [x, lengths], wrt=[0], use_sequence_length=True, axis=axis)
        check_grad("SequenceLast", [x], axis=axis)


@given(data=st.data())
def test_sequence_reverse(data):
    T, B, F, lengths = _seq_case(data)
    x = data.draw(floats_array((T, B) + F))

    def src(o):
        t, b = o[0], o[1]
        n = min(max(_mx_int(lengths[b]), 0), T)
        return x[(n - 1 - t if t < n else t, b) + o[2:]]
    got = run("SequenceReverse", x, lengths, use_sequence_length=True)
    np.testing.assert_array_equal(got, _loop(x.shape, src))
    np.testing.assert_array_equal(run("SequenceReverse", x),
                                  _loop(x.shape, lambda o: x[(T - 1 - o[0],) + o[1:]]))
    if x.size <= 16:
        check_grad("SequenceReverse", [x, lengths], wrt=[0], use_sequence_length=True)
        check_grad("SequenceReverse", [x])


def test_sequence_op_errors():
    x = nd.zeros((4, 2, 3))
    with pytest.raises(ShapeError, match=r"shape \(2,\)"):
        nd.SequenceMask(x, nd.array([1, 2, 3]), use_sequence_length=True)
    with pytest.raises(OpAttrError, match="axis=1 is not supported"):
        nd.SequenceReverse(x, nd.array([1, 2]), use_sequence_length=True, axis=1)
    with pytest.raises(OpAttrError, match="axis=2"):
        nd.SequenceLast(x, axis=2)
    with pytest.raises(ShapeError, match="at least 2 dims"):
        nd.SequenceLast(nd.zeros((4,)))
    # the length input is read only with use_sequence_length=True
    np.testing.assert_array_equal(nd.SequenceMask(x + 1, nd.array([0, 0])).asnumpy(), 1)


# ---------------------------------------------------------------- topk, sort, argsort


def _rank(values, ascend):
    """Positions ordered by value; equal values keep index order (MXNet's stable sort)."""
    key = (lambda i: (values[i], i)) if ascend else (lambda i: (-values[i], i))
    return sorted(range(len(values)), key=key)


def _distinct(data, shape):
    n = int(np.prod(shape))
    perm = data.draw(st.permutations(range(n)))
    return np.array(perm, dtype=np.float64).reshape(shape) * 0.5 - 1.0


@given(data=st.data(), ascend=st.booleans())
def test_topk(data, ascend):
    shape = data.draw(shapes(1, 3, 1, 4))
    ties = data.draw(st.booleans())
    x = (data.draw(floats_array(shape, -2, 2)).round() if ties else _distinct(data, shape))
    n = len(shape)
    axis = data.draw(st.integers(-n, n - 1))
    ax = axis % n
    d = shape[ax]
    k = data.draw(st.integers(0, d))
    kk = k if k >= 1 else d
    moved = np.moveaxis(x, ax, -1)
    idx = np.zeros(moved.shape[:-1] + (kk,))
    val = np.zeros(moved.shape[:-1] + (kk,))
    mask = np.zeros(moved.shape)
    for o in np.ndindex(*moved.shape[:-1]):
        order = _rank(list(moved[o]), ascend)[:kk]
        idx[o] = order
        val[o] = [moved[o][i] for i in order]
        mask[o][order] = 1
    idx, val, mask = (np.moveaxis(v, -1, ax) for v in (idx, val, mask))
    kw = dict(axis=axis, k=k, is_ascend=ascend)
    got = run("topk", x, **kw)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, idx)
    np.testing.assert_array_equal(run("topk", x, ret_typ="value", **kw), val)
    np.testing.assert_array_equal(run("topk", x, ret_typ="mask", **kw), mask)
    v, i = nd.topk(nd.array(x, dtype="float64"), ret_typ="both", dtype="int32", **kw)
    assert i.dtype == np.int32 and v.dtype == np.float64
    np.testing.assert_array_equal(v.asnumpy(), val)
    np.testing.assert_array_equal(i.asnumpy(), idx)
    if not ties and x.size <= 16:
        check_grad("topk", [x], ret_typ="value", **kw)


def test_topk_mxnet_cases():
    v = nd.array([[3, 1, 4, 1, 5], [9, 2, 6, 5, 3]])
    np.testing.assert_array_equal(nd.topk(v).asnumpy(), [[4], [0]])      # k=1, indices
    vals, idx = nd.topk(v, axis=None, k=3, ret_typ="both")
    np.testing.assert_array_equal(vals.asnumpy(), [9, 6, 5])
    np.testing.assert_array_equal(idx.asnumpy(), [5, 7, 4])
    assert nd.topk(v, axis=None, k=3, ret_typ="mask").shape == (2, 5)
    ties = nd.array([1, 1, 1, 0, 1])
    np.testing.assert_array_equal(nd.topk(ties, k=3).asnumpy(), [0, 1, 2])
    np.testing.assert_array_equal(nd.topk(ties, k=3, is_ascend=True).asnumpy(), [3, 0, 1])
    np.testing.assert_array_equal(nd.topk(v, k=-1).shape, (2, 5))        # k < 1: all
    with pytest.raises(ShapeError, match="k=7"):
        nd.topk(v, k=7)
    x = np.array([0.3, -1.0, 2.0, 0.1, 1.2])
    check_grad("topk", [x], axis=None, k=2, ret_typ="value")
    check_grad_multi(lambda a: nd.topk(a, k=2, ret_typ="both")[0], [x])


@given(data=st.data(), ascend=st.booleans())
def test_sort_and_argsort(data, ascend):
    shape = data.draw(shapes(1, 3, 1, 4))
    ties = data.draw(st.booleans())
    x = (data.draw(floats_array(shape, -2, 2)).round() if ties else _distinct(data, shape))
    n = len(shape)
    axis = data.draw(st.one_of(st.none(), st.integers(-n, n - 1)))
    if axis is None:
        order = _rank(list(x.reshape(-1)), ascend)
        want_i = np.array(order, dtype=np.float64)
        want_v = x.reshape(-1)[order]
    else:
        ax = axis % n
        moved = np.moveaxis(x, ax, -1)
        want_i = np.zeros(moved.shape)
        for o in np.ndindex(*moved.shape[:-1]):
            want_i[o] = _rank(list(moved[o]), ascend)
        want_v = np.take_along_axis(moved, want_i.astype(int), -1)
        want_i, want_v = np.moveaxis(want_i, -1, ax), np.moveaxis(want_v, -1, ax)
    np.testing.assert_array_equal(run("argsort", x, axis=axis, is_ascend=ascend), want_i)
    np.testing.assert_array_equal(run("sort", x, axis=axis, is_ascend=ascend), want_v)
    assert run("argsort", x, axis=axis, dtype="int32").dtype == np.int32
    if not ties and x.size <= 16:
        check_grad("sort", [x], axis=axis, is_ascend=ascend)


def test_sort_defaults():
    v = nd.array([[3, 1, 4, 1, 5], [9, 2, 6, 5, 3]])
    np.testing.assert_array_equal(nd.sort(v).asnumpy()[0], [1, 1, 3, 4, 5])   # ascending
    np.testing.assert_array_equal(nd.argsort(nd.array([1, 1, 1, 0, 1]), is_ascend=False)
                                  .asnumpy(), [0, 1, 2, 4, 3])
    assert nd.argsort(v).dtype == np.float32
    assert nd.sort(v, axis=None).shape == (10,)


# ---------------------------------------------------------------- diag


@given(data=st.data())
def test_diag(data):
    shape = data.draw(shapes(1, 3, 1, 4))
    x = data.draw(floats_array(shape))
    n = len(shape)
    if n == 1:
        k = data.draw(st.integers(-2, 2))
        m = shape[0] + abs(k)
        want = _loop((m, m), lambda o: x[o[0] - max(-k, 0)]
                     if o[1] - o[0] == k else 0.0)
        np.testing.assert_array_equal(run("diag", x, k=k), want)
        if x.size <= 4:
            check_grad("diag", [x], k=k)
        return
    a1, a2 = data.draw(st.sampled_from([(i, j) for i in range(n) for j in range(n) if i != j]))
    s1, s2 = shape[a1], shape[a2]
    k = data.draw(st.integers(-s1, s2))
    length = max(0, min(s1 + min(k, 0), s2 - max(k, 0)))
    rest = [i for i in range(n) if i not in (a1, a2)]

    def src(o):
        j = o[-1]
        pos = [0] * n
        for r, v in zip(rest, o[:-1]):
            pos[r] = v
        pos[a1], pos[a2] = j + max(-k, 0), j + max(k, 0)
        return x[tuple(pos)]
    want = _loop(tuple(shape[i] for i in rest) + (length,), src)
    got = run("diag", x, k=k, axis1=a1 - n, axis2=a2)
    np.testing.assert_array_equal(got, want)
    if length and x.size <= 24:
        check_grad("diag", [x], k=k, axis1=a1, axis2=a2)
        check_grad("_diag_put", [want], shape=tuple(shape), k=k, axis1=a1, axis2=a2)


def test_diag_errors_and_mxnet_range():
    m = nd.zeros((3, 4))
    assert nd.diag(m, k=4).shape == (0,)
    assert nd.diag(m, k=-3).shape == (0,)
    with pytest.raises(ShapeError, match="does not exist"):
        nd.diag(m, k=5)
    with pytest.raises(ShapeError, match="does not exist"):
        nd.diag(m, k=-4)
    with pytest.raises(ShapeError, match="same axis"):
        nd.diag(nd.zeros((2, 3, 4)), axis1=1, axis2=-2)


# ---------------------------------------------------------------- depth_to_space etc.


@given(data=st.data())
def test_depth_to_space_and_back(data):
    b = data.draw(st.integers(1, 2))
    n, c, h, w = (data.draw(st.integers(1, 2)) for _ in range(4))
    x = data.draw(floats_array((n, c * b * b, h, w)))
    want = _loop((n, c, h * b, w * b), lambda o: x[
        o[0], ((o[2] % b) * b + o[3] % b) * c + o[1], o[2] // b, o[3] // b])
    got = run("depth_to_space", x, block_size=b)
    np.testing.assert_array_equal(got, want)
    back = _loop(x.shape, lambda o: got[
        o[0], o[1] % c, o[2] * b + (o[1] // c) // b, o[3] * b + (o[1] // c) % b])
    np.testing.assert_array_equal(run("space_to_depth", got, block_size=b), back)
    np.testing.assert_array_equal(back, x)
    if x.size <= 16:
        check_grad("depth_to_space", [x], block_size=b)
        check_grad("space_to_depth", [got], block_size=b)


def test_depth_space_errors():
    with pytest.raises(ShapeError, match="multiple of block_size"):
        nd.depth_to_space(nd.zeros((1, 3, 2, 2)), 2)
    with pytest.raises(ShapeError, match="multiples of block_size"):
        nd.space_to_depth(nd.zeros((1, 1, 3, 4)), 2)
    with pytest.raises(ShapeError, match="4-d"):
        nd.depth_to_space(nd.zeros((4, 3, 1)), 2)


def test_shape_and_size_array():
    x = nd.zeros((2, 3, 4))
    s = nd.shape_array(x)
    assert s.dtype == np.int64 and s.asnumpy().tolist() == [2, 3, 4]
    z = nd.size_array(x)
    assert z.dtype == np.int64 and z.asnumpy().tolist() == [24]
    x.attach_grad()
    with autograd.record():
        y = nd.size_array(x).astype("float32") + x.sum()
    y.backward()
    np.testing.assert_array_equal(x.grad.asnumpy(), np.ones((2, 3, 4)))


# ---------------------------------------------------------------- internal adjoint ops


@given(data=st.data())
def test_adjoint_ops_are_adjoints(data):
    # <take(x, i), y> == <x, _index_add(0, i, y)> and the same for the along-axis pair
    shape = data.draw(shapes(1, 3, 1, 3))
    n = len(shape)
    ax = data.draw(st.integers(0, n - 1))
    d = shape[ax]
    x = data.draw(floats_array(shape))
    idx = data.draw(floats_array((3,), -1, d + 1))
    t = run("take", x, idx, axis=ax)
    y = data.draw(floats_array(t.shape))
    back = run("_index_add", np.zeros_like(x), idx, y, axis=ax)
    np.testing.assert_allclose(np.sum(t * y), np.sum(x * back), atol=1e-9)
    along = list(shape)
    along[ax] = 2
    ia = data.draw(floats_array(tuple(along), -1, d + 1))
    t = run("_take_along_axis", x, ia, axis=ax)
    y = data.draw(floats_array(t.shape))
    back = run("_along_axis_add", np.zeros_like(x), ia, y, axis=ax)
    np.testing.assert_allclose(np.sum(t * y), np.sum(x * back), atol=1e-9)
    if x.size <= 12:
        check_grad("_index_add", [x, idx, run("take", x, idx, axis=ax)], wrt=[0, 2], axis=ax)
        check_grad("_along_axis_add", [x, ia, y], wrt=[0, 2], axis=ax)
        check_grad("_take_along_axis", [x, ia], wrt=[0], axis=ax)


def test_second_order_through_take():
    x = nd.array([1.0, 2.0, 3.0], dtype="float64")
    x.attach_grad()
    with autograd.record():
        y = (nd.take(x, nd.array([0, 2, 2])) ** 3).sum()
        (g,) = autograd.grad(y, [x], create_graph=True)
        z = g.sum()
    z.backward()
    # dy/dx = 3 x^2 * count, d/dx of its sum = 6 x * count
    np.testing.assert_allclose(x.grad.asnumpy(), [6.0, 0.0, 36.0])
