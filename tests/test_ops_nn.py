"""Neural-network ops: dot / batch_dot / linalg_gemm2 / FullyConnected / Embedding / Dropout /
BatchNorm / LayerNorm / InstanceNorm / GroupNorm / L2Normalization / smooth_l1 / hard_sigmoid /
softmax_cross_entropy. Forward results against NumPy written out here (loops or a different
formulation), gradients against finite differences in float64, gradient rules also run through
the graph builder, and bad inputs."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import graphcc as mx
from graphcc import autograd, nd, ops
from graphcc.errors import DTypeError, OpAttrError, ShapeError
from graphcc.ir.graph import GraphBuilder
from graphcc.ir.interp import interpret
from graphcc.ir.types import TensorType
from graphcc.ops.norm import batchnorm_moving_update
from graphcc.ops.registry import GradCtx, normalize_attrs
from opcheck import autograd_grad, check_grad, floats_array, run

small = st.integers(1, 3)


def _arr(rng, *shape, lo=-2.0, hi=2.0):
    return rng.uniform(lo, hi, shape)


def graph_grads(op_name, arrays, head, wrt, **attrs):
    """Apply the op's gradient rule with F = a graph builder and interpret the result."""
    op = ops.get(op_name)
    b = GraphBuilder()
    ids = [b.input(f"x{i}", TensorType(a.shape, a.dtype.name)) for i, a in enumerate(arrays)]
    at = dict(normalize_attrs(op, attrs))
    out = b.emit(op_name, ids, at)
    gid = b.input("head", TensorType(head.shape, head.dtype.name))
    ctx = GradCtx(F=b, g=gid, inputs=tuple(ids), out=out,
                  in_types=tuple(b.type(i) for i in ids), out_type=b.type(out), attrs=at)
    grads = op.grad(ctx)
    have = [i for i in wrt if grads[i] is not None]          # None: a zero gradient
    vals = dict(zip(have, interpret(b.build([grads[i] for i in have]), list(arrays) + [head])))
    return [vals[i] if i in vals else np.zeros_like(arrays[i]) for i in wrt]


def check_graph_grad(op_name, arrays, wrt, **attrs):
    arrays = [np.asarray(a, np.float64) for a in arrays]
    out = run(op_name, *arrays, **attrs)
    head = np.random.default_rng(3).uniform(0.5, 1.5, out.shape)
    want = autograd_grad(op_name, arrays, head, wrt, **attrs)
    got = graph_grads(op_name, arrays, head, wrt, **attrs)
    for w, g in zip(want, got):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- dot


def dot_ref(a, b, ta, tb):
    """Move the contracted axes next to each other and sum products by broadcasting."""
    am = np.moveaxis(a, 0, -1) if ta else a          # contracted axis last
    bm = np.moveaxis(b, -1, 0) if tb else b          # contracted axis first
    lk, rk = am.shape[:-1], bm.shape[1:]
    prod = am.reshape(am.shape + (1,) * len(rk)) * bm.reshape((1,) * len(lk) + bm.shape)
    out = prod.sum(axis=len(lk))
    return out.reshape(lk + rk or (1,))


@given(data=st.data())
def test_dot_forward(data):
    ta, tb = data.draw(st.booleans(), "ta"), data.draw(st.booleans(), "tb")
    lkept = data.draw(st.lists(small, min_size=0, max_size=2), "lkept")
    rkept = data.draw(st.lists(small, min_size=0, max_size=2), "rkept")
    if not lkept and not rkept:
        ta = tb = False                               # 1-d . 1-d cannot transpose
    k = data.draw(small, "k")
    ls = (k, *lkept) if ta else (*lkept, k)
    rs = (*rkept, k) if tb else (k, *rkept)
    a = data.draw(floats_array(ls))
    b = data.draw(floats_array(rs))
    got = run("dot", a, b, transpose_a=ta, transpose_b=tb)
    np.testing.assert_allclose(got, dot_ref(a, b, ta, tb), rtol=1e-10, atol=1e-12)
    got32 = run("dot", a.astype(np.float32), b.astype(np.float32), transpose_a=ta,
                transpose_b=tb)
    assert got32.dtype == np.float32 and got32.shape == got.shape


def test_dot_shapes_as_mxnet():
    # shapes MXNet 1.9.1 gives for N-d operands with transposes
    cases = [((2, 3, 4), (4, 5), 0, 0, (2, 3, 5)), ((4, 3, 2), (4, 5), 1, 0, (3, 2, 5)),
             ((2, 3, 4), (5, 4), 0, 1, (2, 3, 5)), ((4, 3, 2), (5, 2, 4), 1, 1, (3, 2, 5, 2)),
             ((4, 3, 2), (2, 5, 4), 0, 0, (4, 3, 5, 4)), ((3,), (3,), 0, 0, (1,)),
             ((3,), (4, 3), 0, 1, (4,)), ((4, 3), (4,), 1, 0, (3,))]
    for ls, rs, ta, tb, want in cases:
        assert nd.dot(nd.ones(ls), nd.ones(rs), transpose_a=ta, transpose_b=tb).shape == want


def test_dot_empty():
    a, b = np.zeros((0, 3)), np.ones((3, 2))
    assert run("dot", a, b).shape == (0, 2)
    np.testing.assert_array_equal(run("dot", np.ones((2, 0)), np.ones((0, 4))), np.zeros((2, 4)))


@pytest.mark.parametrize("ta,tb", [(0, 0), (0, 1), (1, 0), (1, 1)])
@pytest.mark.parametrize("ls,rs", [((2, 3), (3, 2)), ((2, 2, 3), (3, 2)), ((3,), (3, 2)),
                                   ((3, 2), (2,)), ((2, 2), (2, 1, 2))])
def test_dot_grad(ta, tb, ls, rs):
    rng = np.random.default_rng(0)
    if len(ls) == 1 and len(rs) == 1:
        ta = tb = 0
    ls = ls[::-1] if ta and len(ls) == 2 else ((ls[-1],) + ls[:-1] if ta else ls)
    rs = rs[::-1] if tb and len(rs) == 2 else (rs[1:] + (rs[0],) if tb else rs)
    a, b = _arr(rng, *ls), _arr(rng, *rs)
    check_grad("dot", [a, b], transpose_a=bool(ta), transpose_b=bool(tb))
    check_graph_grad("dot", [a, b], [0, 1], transpose_a=bool(ta), transpose_b=bool(tb))


def test_dot_bad_inputs():
    with pytest.raises(ShapeError, match=r"\(2, 3\).*\(4, 5\)"):
        nd.dot(nd.ones((2, 3)), nd.ones((4, 5)))
    with pytest.raises(ShapeError, match="vectors"):
        nd.dot(nd.ones((3,)), nd.ones((3,)), transpose_a=True)
    with pytest.raises(DTypeError):
        nd.dot(nd.ones((2, 3), dtype="int32"), nd.ones((3, 2), dtype="int32"))
    with pytest.raises(DTypeError):
        nd.dot(nd.ones((2, 3), dtype="float64"), nd.ones((3, 2)))
    with pytest.raises(ShapeError):
        nd.dot(nd.ones(()), nd.ones((3,)))


# ---------------------------------------------------------------- batch_dot


def batch_ref(a, b, ta, tb):
    batch = a.shape[:-2]
    m = a.shape[-1] if ta else a.shape[-2]
    n = b.shape[-2] if tb else b.shape[-1]
    k = a.shape[-2] if ta else a.shape[-1]
    out = np.zeros(batch + (m, n))
    for idx in np.ndindex(*batch):
        for i in range(m):
            for j in range(n):
                s = 0.0
                for t in range(k):
                    s += (a[idx + (t, i)] if ta else a[idx + (i, t)]) * \
                         (b[idx + (j, t)] if tb else b[idx + (t, j)])
                out[idx + (i, j)] = s
    return out


@given(data=st.data())
def test_batch_dot_forward(data):
    ta, tb = data.draw(st.booleans()), data.draw(st.booleans())
    batch = tuple(data.draw(st.lists(small, min_size=1, max_size=2), "batch"))
    m, k, n = data.draw(small), data.draw(small), data.draw(small)
    a = data.draw(floats_array(batch + ((k, m) if ta else (m, k))))
    b = data.draw(floats_array(batch + ((n, k) if tb else (k, n))))
    np.testing.assert_allclose(run("batch_dot", a, b, transpose_a=ta, transpose_b=tb),
                               batch_ref(a, b, ta, tb), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("ta,tb", [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_batch_dot_grad(ta, tb):
    rng = np.random.default_rng(1)
    a = _arr(rng, 2, *((3, 2) if ta else (2, 3)))
    b = _arr(rng, 2, *((2, 3) if tb else (3, 2)))
    check_grad("batch_dot", [a, b], transpose_a=bool(ta), transpose_b=bool(tb))
    check_graph_grad("batch_dot", [a, b], [0, 1], transpose_a=bool(ta), transpose_b=bool(tb))


def test_batch_dot_bad_inputs():
    with pytest.raises(ShapeError, match="batch"):
        nd.batch_dot(nd.ones((2, 3, 4)), nd.ones((1, 4, 5)))
    with pytest.raises(ShapeError, match="N >= 3"):
        nd.batch_dot(nd.ones((3, 4)), nd.ones((4, 5)))
    with pytest.raises(ShapeError, match="contracted"):
        nd.batch_dot(nd.ones((2, 3, 4)), nd.ones((2, 3, 5)))


# ---------------------------------------------------------------- linalg_gemm2


def gemm_ref(a, b, ta, tb, alpha, axis):
    """Loop over every batch position; rows on ``axis``, columns on the last axis."""
    nd_ = a.ndim
    ax = axis % nd_
    batch_axes = [i for i in range(nd_) if i not in (ax, nd_ - 1)]
    m = a.shape[-1] if ta else a.shape[ax]
    n = b.shape[ax] if tb else b.shape[-1]
    out_shape = list(a.shape)
    out_shape[ax], out_shape[-1] = m, n
    out = np.zeros(out_shape)
    for bidx in np.ndindex(*[a.shape[i] for i in batch_axes]):
        def at(x, r, c):
            idx = [0] * nd_
            for i, v in zip(batch_axes, bidx):
                idx[i] = v
            idx[ax], idx[-1] = r, c
            return tuple(idx)
        A = np.array([[a[at(a, r, c)] for c in range(a.shape[-1])] for r in range(a.shape[ax])])
        B = np.array([[b[at(b, r, c)] for c in range(b.shape[-1])] for r in range(b.shape[ax])])
        C = alpha * ((A.T if ta else A) @ (B.T if tb else B))
        for r in range(m):
            for c in range(n):
                out[at(out, r, c)] = C[r, c]
    return out


@given(data=st.data())
def test_gemm2_forward(data):
    ta, tb = data.draw(st.booleans()), data.draw(st.booleans())
    ndim = data.draw(st.integers(2, 4), "ndim")
    ax = data.draw(st.integers(0, ndim - 2), "axis")
    batch = [data.draw(small) for _ in range(ndim - 2)]
    m, k, n = data.draw(small), data.draw(small), data.draw(small)

    def shape(rows, cols):
        s = list(batch)
        s.insert(ax, rows)
        return tuple(s) + (cols,)
    a = data.draw(floats_array(shape(*((k, m) if ta else (m, k)))))
    b = data.draw(floats_array(shape(*((n, k) if tb else (k, n)))))
    axis = data.draw(st.sampled_from([ax, ax - ndim]), "axis spelling")
    got = run("linalg_gemm2", a, b, transpose_a=ta, transpose_b=tb, alpha=1.5, axis=axis)
    np.testing.assert_allclose(got, gemm_ref(a, b, ta, tb, 1.5, ax), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("ta,tb", [(0, 0), (0, 1), (1, 0), (1, 1)])
@pytest.mark.parametrize("axis", [-2, 0])
def test_gemm2_grad(ta, tb, axis):
    rng = np.random.default_rng(2)
    # 3-d: axis=-2 is rows on axis 1 (batch on 0); axis=0 is rows on axis 0 (batch on 1)
    def shape(rows, cols):
        return (2, rows, cols) if axis == -2 else (rows, 2, cols)
    a = _arr(rng, *shape(*((3, 2) if ta else (2, 3))))
    b = _arr(rng, *shape(*((2, 3) if tb else (3, 2))))
    attrs = dict(transpose_a=bool(ta), transpose_b=bool(tb), alpha=0.7, axis=axis)
    check_grad("linalg_gemm2", [a, b], **attrs)
    check_graph_grad("linalg_gemm2", [a, b], [0, 1], **attrs)


def test_gemm2_alias_and_bad_inputs():
    a, b = np.ones((2, 3)), np.ones((3, 4))
    np.testing.assert_allclose(run("_linalg_gemm2", a, b, alpha=2.0), np.full((2, 4), 6.0))
    with pytest.raises(ShapeError, match="row axis"):
        nd.linalg_gemm2(nd.ones((2, 3)), nd.ones((3, 4)), axis=-1)
    with pytest.raises(ShapeError, match="except the row axis"):
        nd.linalg_gemm2(nd.ones((2, 3, 4)), nd.ones((1, 4, 5)))
    with pytest.raises(ShapeError, match="at least 2"):
        nd.linalg_gemm2(nd.ones((3,)), nd.ones((3,)))


# ---------------------------------------------------------------- FullyConnected


def fc_ref(x, w, b, flatten):
    lead = x.shape[:1] if flatten else x.shape[:-1]
    x2 = x.reshape(int(np.prod(lead)), -1)
    h = w.shape[0]
    out = np.zeros((x2.shape[0], h))
    for n in range(x2.shape[0]):
        for j in range(h):
            out[n, j] = sum(x2[n, k] * w[j, k] for k in range(x2.shape[1]))
            if b is not None:
                out[n, j] += b[j]
    return out.reshape(lead + (h,))


@given(data=st.data())
def test_fully_connected_forward(data):
    shape = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple), "shape")
    flatten, no_bias = data.draw(st.booleans(), "flatten"), data.draw(st.booleans(), "no_bias")
    h = data.draw(st.integers(1, 3), "num_hidden")
    k = int(np.prod(shape[1:])) if flatten else shape[-1]
    x = data.draw(floats_array(shape))
    w = data.draw(floats_array((h, k)))
    b = None if no_bias else data.draw(floats_array((h,)))
    args = [x, w] if no_bias else [x, w, b]
    got = run("FullyConnected", *args, num_hidden=h, no_bias=no_bias, flatten=flatten)
    np.testing.assert_allclose(got, fc_ref(x, w, b, flatten), rtol=1e-10, atol=1e-12)


def test_fully_connected_gluon_call_and_empty_batch():
    x, w = nd.ones((0, 3)), nd.ones((4, 3))
    assert nd.FullyConnected(x, w, None, no_bias=True, num_hidden=4).shape == (0, 4)
    y = nd.FullyConnected(nd.ones((3,)), nd.ones((2, 1)), nd.zeros((2,)), num_hidden=2)
    assert y.shape == (3, 2)                       # 1-d data: a batch of 3 single features
    y = nd.FullyConnected(nd.ones((3,)), nd.ones((2, 3)), nd.zeros((2,)), num_hidden=2,
                          flatten=False)
    assert y.shape == (2,)


@pytest.mark.parametrize("shape,flatten,no_bias", [((2, 3), True, False), ((2, 2, 2), True, True),
                                                   ((2, 2, 2), False, False)])
def test_fully_connected_grad(shape, flatten, no_bias):
    rng = np.random.default_rng(4)
    k = int(np.prod(shape[1:])) if flatten else shape[-1]
    arrays = [_arr(rng, *shape), _arr(rng, 3, k)] + ([] if no_bias else [_arr(rng, 3)])
    attrs = dict(num_hidden=3, flatten=flatten, no_bias=no_bias)
    check_grad("FullyConnected", arrays, **attrs)
    check_graph_grad("FullyConnected", arrays, list(range(len(arrays))), **attrs)


def test_fully_connected_complete_and_bad_weight():
    fc = ops.get("FullyConnected")
    assert fc.complete([(2, 3, 4), None, None], {"num_hidden": 5}) == \
        [(2, 3, 4), (5, 12), (5,)]
    assert fc.complete([(2, 3, 4), None, None], {"num_hidden": 5, "flatten": False}) == \
        [(2, 3, 4), (5, 4), (5,)]
    assert fc.complete([(2, 3), None], {"num_hidden": 5, "no_bias": True}) == [(2, 3), (5, 3)]
    assert fc.names_of_inputs({"no_bias": "True"}) == ("data", "weight")
    with pytest.raises(ShapeError, match=r"\(4, 5\).*\(2, 3\)"):
        nd.FullyConnected(nd.ones((2, 3)), nd.ones((4, 5)), nd.zeros((4,)), num_hidden=4)
    with pytest.raises(ShapeError, match="bias"):
        nd.FullyConnected(nd.ones((2, 3)), nd.ones((4, 3)), nd.zeros((3,)), num_hidden=4)
    with pytest.raises(OpAttrError, match="num_hidden"):
        nd.FullyConnected(nd.ones((2, 3)), nd.ones((4, 3)), nd.zeros((4,)))


# ---------------------------------------------------------------- Embedding


@given(data=st.data())
def test_embedding_forward(data):
    n, d = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 3))
    shape = data.draw(st.lists(st.integers(0, 3), min_size=1, max_size=2).map(tuple))
    idx = data.draw(floats_array(shape, -2, n + 2))
    w = data.draw(floats_array((n, d)))
    got = run("Embedding", idx.astype(np.float32), w, input_dim=n, output_dim=d)
    want = np.zeros(shape + (d,))
    for pos in np.ndindex(*shape):
        v = float(np.float32(idx[pos]))
        r = int(v) if v >= 0 else 0                # truncate toward zero, clip into range
        want[pos] = w[min(r, n - 1)]
    np.testing.assert_array_equal(got, want)


def test_embedding_grad_scatter_adds():
    w = nd.ones((3, 2))
    w.attach_grad()
    x = nd.array([[1, 1], [2, 7]])
    with autograd.record():
        y = nd.Embedding(x, w, input_dim=3, output_dim=2)
    y.backward(nd.array([[[1, 2], [3, 4]], [[5, 6], [7, 8]]]))
    np.testing.assert_array_equal(w.grad.asnumpy(), [[0, 0], [4, 6], [12, 14]])
    rng = np.random.default_rng(5)
    idx = np.array([[0.5, 2.5], [1.5, 0.2]])       # away from integers: finite differences ok
    check_grad("Embedding", [idx, _arr(rng, 3, 2)], wrt=[1], input_dim=3, output_dim=2)
    check_graph_grad("Embedding", [idx, _arr(rng, 3, 2)], [1], input_dim=3, output_dim=2)


def test_embedding_data_gets_no_gradient_and_second_order():
    x, w = nd.array([0, 2]), nd.ones((3, 2))
    x.attach_grad()
    w.attach_grad()
    with autograd.record():
        y = nd.Embedding(x, w, input_dim=3, output_dim=2)
    y.backward()
    assert np.all(x.grad.asnumpy() == 0)
    g = nd.array([[1.0, 2.0], [3.0, 4.0]])
    g.attach_grad()
    with autograd.record():
        s = nd._nn_embedding_grad(nd.array([1, 1]), g, input_dim=3, output_dim=2)
    s.backward(nd.array([[1, 0], [2, 3], [0, 0]]))
    np.testing.assert_array_equal(g.grad.asnumpy(), [[2, 3], [2, 3]])


def test_embedding_complete_and_bad_inputs():
    emb = ops.get("Embedding")
    assert emb.complete([(4, 5), None], {"input_dim": 10, "output_dim": 3}) == [(4, 5), (10, 3)]
    with pytest.raises(ShapeError, match=r"\(4, 2\).*\(3, 2\)"):
        nd.Embedding(nd.array([1]), nd.ones((4, 2)), input_dim=3, output_dim=2)
    out = nd.Embedding(nd.array([1]), nd.ones((3, 2), dtype="float64"), input_dim=3,
                       output_dim=2)
    assert out.dtype == np.float64                 # the weight's dtype, as MXNet


# ---------------------------------------------------------------- Dropout


def test_dropout_statistics_and_scale():
    mx.random.seed(7)
    x = nd.ones((200, 50))
    y = nd.Dropout(x, p=0.3, training=True).asnumpy()
    zero = (y == 0).mean()
    assert 0.27 < zero < 0.33
    np.testing.assert_allclose(y[y != 0], 1 / 0.7, rtol=1e-6)
    assert 0.95 < y.mean() < 1.05


def test_dropout_mask_same_in_output_and_gradient():
    mx.random.seed(1)
    rng = np.random.default_rng(0)
    xv = rng.uniform(0.5, 2.0, (6, 7))
    x = nd.array(xv)
    x.attach_grad()
    with autograd.record():                        # training mode: dropout applies
        y = nd.Dropout(x, p=0.5)
    head = rng.uniform(0.5, 1.5, (6, 7))
    y.backward(nd.array(head))
    mask = y.asnumpy() / xv                        # 0 or 2
    assert set(np.round(np.unique(mask), 5)) <= {0.0, 2.0} and 0 < mask.mean() < 2
    np.testing.assert_allclose(x.grad.asnumpy(), head * mask, rtol=1e-6)


def test_dropout_axes_broadcast_the_mask():
    mx.random.seed(3)
    y = nd.Dropout(nd.ones((4, 5, 6)), p=0.5, axes=(1,), training=True).asnumpy()
    np.testing.assert_array_equal(y, np.broadcast_to(y[:, :1, :], y.shape))
    assert 0 < (y == 0).mean() < 1
    y = nd.Dropout(nd.ones((4, 5, 6)), p=0.5, axes=(0, -1), training=True).asnumpy()
    np.testing.assert_array_equal(y, np.broadcast_to(y[:1, :, :1], y.shape))


def test_dropout_predict_mode_is_identity():
    x = nd.array(np.arange(12.0).reshape(3, 4))
    np.testing.assert_array_equal(nd.Dropout(x, p=0.9).asnumpy(), x.asnumpy())
    with autograd.record(train_mode=False):
        y = nd.Dropout(x, p=0.9)
    np.testing.assert_array_equal(y.asnumpy(), x.asnumpy())
    np.testing.assert_array_equal(nd.Dropout(x, p=0.9, training=False).asnumpy(), x.asnumpy())
    with autograd.train_mode():
        np.testing.assert_array_equal(nd.Dropout(x, p=0.0).asnumpy(), x.asnumpy())


def test_dropout_mode_always_and_edges():
    mx.random.seed(5)
    y = nd.Dropout(nd.ones((100, 20)), p=0.5, mode="always").asnumpy()   # not training
    assert 0.4 < (y == 0).mean() < 0.6
    np.testing.assert_array_equal(nd.Dropout(nd.ones((3, 2)), p=1.0, training=True).asnumpy(),
                                  np.zeros((3, 2)))
    assert nd.Dropout(nd.ones((0, 3)), p=0.5, training=True).shape == (0, 3)
    with pytest.raises(OpAttrError):
        nd.Dropout(nd.ones((2, 2)), p=1.5, training=True)
    with pytest.raises(OpAttrError):
        nd.Dropout(nd.ones((2, 2)), mode="sometimes")


def test_dropout_expands_in_graphs():
    for training, want in ((True, {"_nn_dropout_mask", "multiply"}), (False, {"_copy"})):
        b = GraphBuilder()
        x = b.input("x", TensorType((4, 3), "float32"))
        y = b.Dropout(x, p=0.25, axes=(0,), training=training)
        g = b.build([y])
        assert want <= {n.op for n in g.nodes} and "Dropout" not in {n.op for n in g.nodes}
        out = interpret(g, [np.ones((4, 3), np.float32)])[0]
        if training:
            assert set(np.unique(out)) <= {0.0, np.float32(1 / 0.75)}
            np.testing.assert_array_equal(out, np.broadcast_to(out[:1], out.shape))
        else:
            np.testing.assert_array_equal(out, np.ones((4, 3)))


def test_dropout_on_a_symbol_of_unknown_shape():
    y = mx.sym.Dropout(mx.sym.var("z"), p=0.5, training=True)   # the mask reads z's shape later
    assert y.list_arguments() == ["z"]


# ---------------------------------------------------------------- BatchNorm


def channel_stats(x, axis):
    """Per-channel mean and biased variance, by explicit loops over each channel's values."""
    axis %= x.ndim
    means, vars_ = [], []
    for c in range(x.shape[axis]):
        vals = [float(v) for v in np.take(x, c, axis=axis).ravel()]
        m = sum(vals) / len(vals)
        means.append(m)
        vars_.append(sum((v - m) ** 2 for v in vals) / len(vals))
    return np.array(means), np.array(vars_)


def affine_per_channel(x, axis, mean, var, gamma, beta, eps):
    out = np.empty_like(x, dtype=np.float64)
    axis %= x.ndim
    for idx in np.ndindex(*x.shape):
        c = idx[axis]
        out[idx] = gamma[c] * (x[idx] - mean[c]) / np.sqrt(var[c] + eps) + beta[c]
    return out


@given(data=st.data())
def test_batchnorm_forward(data):
    shape = data.draw(st.lists(st.integers(1, 3), min_size=2, max_size=4).map(tuple), "shape")
    axis = data.draw(st.sampled_from([1, -1, 0]), "axis")
    training, ugs = data.draw(st.booleans(), "training"), data.draw(st.booleans(), "global")
    fix_gamma = data.draw(st.booleans(), "fix_gamma")
    c = shape[axis]
    x = data.draw(floats_array(shape))
    gamma, beta = data.draw(floats_array((c,), 0.5, 2)), data.draw(floats_array((c,)))
    mm, mv = data.draw(floats_array((c,))), data.draw(floats_array((c,), 0.1, 2))
    got = run("BatchNorm", x, gamma, beta, mm, mv, eps=1e-3, axis=axis, training=training,
              use_global_stats=ugs, fix_gamma=fix_gamma)
    mean, var = channel_stats(x, axis) if training and not ugs else (mm, mv)
    g = np.ones(c) if fix_gamma else gamma
    np.testing.assert_allclose(got, affine_per_channel(x, axis, mean, var, g, beta, 1e-3),
                               rtol=1e-9, atol=1e-9)


def test_batchnorm_training_attr_follows_autograd():
    rng = np.random.default_rng(6)
    xv = _arr(rng, 4, 2, 3)
    args = [nd.array(xv), nd.ones((2,)), nd.zeros((2,)), nd.array([5.0, -5.0]),
            nd.array([4.0, 9.0])]
    pred = nd.BatchNorm(*args).asnumpy()
    np.testing.assert_allclose(pred[:, 0], (xv[:, 0] - 5) / np.sqrt(4.001), rtol=1e-5)
    with autograd.record():
        train = nd.BatchNorm(*args).asnumpy()
    m, v = channel_stats(xv, 1)
    np.testing.assert_allclose(train[:, 1], (xv[:, 1] - m[1]) / np.sqrt(v[1] + 1e-3), rtol=1e-5)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("fix_gamma", [True, False])
@pytest.mark.parametrize("shape,axis", [((3, 2, 2), 1), ((2, 3), -1)])
def test_batchnorm_grad(training, fix_gamma, shape, axis):
    rng = np.random.default_rng(7)
    c = shape[axis]
    arrays = [_arr(rng, *shape), rng.uniform(0.5, 2, c), _arr(rng, c), _arr(rng, c),
              rng.uniform(0.5, 2, c)]
    attrs = dict(training=training, fix_gamma=fix_gamma, axis=axis, eps=1e-3)
    check_grad("BatchNorm", arrays, wrt=[0, 1, 2], atol=1e-5, **attrs)
    check_graph_grad("BatchNorm", arrays, [0, 1, 2], **attrs)
    grads = autograd_grad("BatchNorm", arrays, np.ones(shape), [1, 3, 4], **attrs)
    assert np.all(grads[1] == 0) and np.all(grads[2] == 0)    # moving stats: no gradient
    if fix_gamma:
        assert np.all(grads[0] == 0)


def test_batchnorm_use_global_stats_grad():
    rng = np.random.default_rng(8)
    arrays = [_arr(rng, 3, 2), rng.uniform(0.5, 2, 2), _arr(rng, 2), _arr(rng, 2),
              rng.uniform(0.5, 2, 2)]
    check_grad("BatchNorm", arrays, wrt=[0, 1, 2], training=True, use_global_stats=True,
               fix_gamma=False)


def test_batchnorm_bad_inputs_and_complete():
    x = nd.ones((2, 3, 4))
    p = [nd.ones((3,))] * 4
    with pytest.raises(OpAttrError, match="not supported"):
        nd.BatchNorm(x, *p, output_mean_var=True)
    with pytest.raises(ShapeError, match=r"gamma of shape \(4,\).*\(2, 3, 4\)"):
        nd.BatchNorm(x, nd.ones((4,)), *p[1:])
    with pytest.raises(ShapeError, match="moving_var"):
        nd.BatchNorm(x, *p[:3], nd.ones((2,)))
    bn = ops.get("BatchNorm")
    assert bn.complete([(2, 3, 4), None, None, None, None], {}) == [(2, 3, 4)] + [(3,)] * 4
    assert bn.complete([(2, 3, 4), None, None, None, None], {"axis": -1}) == \
        [(2, 3, 4)] + [(4,)] * 4
    assert bn.train_aware and set(bn.nondiff) == {3, 4}


@pytest.mark.parametrize("axis", [1, -1])
def test_batchnorm_moving_update(axis):
    rng = np.random.default_rng(9)
    xv = _arr(rng, 4, 3, 2) * 2 + 1
    c = xv.shape[axis]
    mm, mv = _arr(rng, c), rng.uniform(0.5, 2, c)
    new_m, new_v = batchnorm_moving_update(nd, nd.array(xv, dtype="float64"),
                                           nd.array(mm, dtype="float64"),
                                           nd.array(mv, dtype="float64"),
                                           {"momentum": 0.8, "axis": axis})
    m, v = channel_stats(xv, axis)                  # biased batch variance, as MXNet 1.9
    np.testing.assert_allclose(new_m.asnumpy(), 0.8 * mm + 0.2 * m, rtol=1e-12)
    np.testing.assert_allclose(new_v.asnumpy(), 0.8 * mv + 0.2 * v, rtol=1e-12)
    b = GraphBuilder()
    ids = [b.input(n, TensorType(s, "float64")) for n, s in
           (("x", xv.shape), ("m", (c,)), ("v", (c,)))]
    g = b.build(list(batchnorm_moving_update(b, *ids, {"momentum": "0.8", "axis": axis})))
    gm, gv = interpret(g, [xv, mm, mv])
    np.testing.assert_allclose(gm, new_m.asnumpy(), rtol=1e-12)
    np.testing.assert_allclose(gv, new_v.asnumpy(), rtol=1e-12)


def test_batchnorm_training_step_moves_the_statistics():
    rng = np.random.default_rng(13)
    xv = _arr(rng, 5, 3)
    m, v = channel_stats(xv, 1)
    for ugs, training, moved in ((False, True, True), (True, True, False), (False, False, False)):
        x = nd.array(xv, dtype="float64")
        x.attach_grad()
        p = [nd.array(a, dtype="float64") for a in (np.ones(3), np.zeros(3), np.full(3, 0.5),
                                                    np.full(3, 2.0))]
        with autograd.record(train_mode=training):
            y = nd.BatchNorm(x, *p, momentum=0.75, use_global_stats=ugs)
        y.backward()
        want_m = 0.75 * 0.5 + 0.25 * m if moved else np.full(3, 0.5)
        want_v = 0.75 * 2.0 + 0.25 * v if moved else np.full(3, 2.0)
        np.testing.assert_allclose(p[2].asnumpy(), want_m, rtol=1e-12)
        np.testing.assert_allclose(p[3].asnumpy(), want_v, rtol=1e-12)


# ---------------------------------------------------------------- Layer/Instance/GroupNorm


def normalize_loops(x, groups_of, eps):
    """Normalise by explicit loops: ``groups_of(index) -> key``; mean/biased var per key."""
    vals: dict = {}
    for idx in np.ndindex(*x.shape):
        vals.setdefault(groups_of(idx), []).append(float(x[idx]))
    stats = {}
    for k, v in vals.items():
        m = sum(v) / len(v)
        stats[k] = (m, sum((t - m) ** 2 for t in v) / len(v))
    out = np.empty(x.shape)
    for idx in np.ndindex(*x.shape):
        m, var = stats[groups_of(idx)]
        out[idx] = (x[idx] - m) / np.sqrt(var + eps)
    return out


@given(data=st.data())
def test_layernorm_forward(data):
    shape = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple), "shape")
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), "axis")
    ax = axis % len(shape)
    c = shape[ax]
    x = data.draw(floats_array(shape))
    gamma, beta = data.draw(floats_array((c,))), data.draw(floats_array((c,)))
    got = run("LayerNorm", x, gamma, beta, axis=axis, eps=1e-5)
    xhat = normalize_loops(x, lambda i: i[:ax] + i[ax + 1:], 1e-5)
    bs = [1] * len(shape)
    bs[ax] = c
    np.testing.assert_allclose(got, xhat * gamma.reshape(bs) + beta.reshape(bs), rtol=1e-8,
                               atol=1e-8)


@given(data=st.data())
def test_instancenorm_forward(data):
    shape = data.draw(st.lists(st.integers(1, 3), min_size=3, max_size=4).map(tuple), "shape")
    c = shape[1]
    x = data.draw(floats_array(shape))
    gamma, beta = data.draw(floats_array((c,))), data.draw(floats_array((c,)))
    got = run("InstanceNorm", x, gamma, beta, eps=1e-3)
    xhat = normalize_loops(x, lambda i: i[:2], 1e-3)
    bs = (1, c) + (1,) * (len(shape) - 2)
    np.testing.assert_allclose(got, xhat * gamma.reshape(bs) + beta.reshape(bs), rtol=1e-8,
                               atol=1e-8)


@given(data=st.data())
def test_groupnorm_forward(data):
    groups = data.draw(st.integers(1, 3), "groups")
    per = data.draw(st.integers(1, 2), "channels per group")
    shape = (data.draw(small), groups * per) + tuple(
        data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=2)))
    x = data.draw(floats_array(shape))
    gamma, beta = data.draw(floats_array((groups,))), data.draw(floats_array((groups,)))
    got = run("GroupNorm", x, gamma, beta, num_groups=groups, eps=1e-5)
    xhat = normalize_loops(x, lambda i: (i[0], i[1] // per), 1e-5)
    want = np.empty(shape)
    for idx in np.ndindex(*shape):
        grp = idx[1] // per
        want[idx] = xhat[idx] * gamma[grp] + beta[grp]
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("op,shape,attrs,pshape", [
    ("LayerNorm", (2, 3), {}, (3,)),
    ("LayerNorm", (2, 3, 2), {"axis": 1}, (3,)),
    ("InstanceNorm", (2, 2, 3), {}, (2,)),
    ("GroupNorm", (2, 4, 2), {"num_groups": 2}, (2,)),
    ("GroupNorm", (1, 3, 3), {"num_groups": 1}, (1,)),
])
def test_norm_grads(op, shape, attrs, pshape):
    rng = np.random.default_rng(10)
    arrays = [_arr(rng, *shape), rng.uniform(0.5, 2, pshape), _arr(rng, *pshape)]
    check_grad(op, arrays, atol=1e-5, **attrs)
    check_graph_grad(op, arrays, [0, 1, 2], **attrs)


def test_norms_complete_and_bad_inputs():
    assert ops.get("LayerNorm").complete([(2, 3, 4), None, None], {}) == [(2, 3, 4), (4,), (4,)]
    assert ops.get("LayerNorm").complete([(2, 3, 4), None, None], {"axis": 1}) == \
        [(2, 3, 4), (3,), (3,)]
    assert ops.get("InstanceNorm").complete([(2, 3, 4), None, None], {}) == \
        [(2, 3, 4), (3,), (3,)]
    assert ops.get("GroupNorm").complete([(2, 6, 4), None, None], {"num_groups": 3}) == \
        [(2, 6, 4), (3,), (3,)]
    with pytest.raises(ShapeError, match=r"gamma of shape \(4,\)"):
        nd.GroupNorm(nd.ones((2, 4, 3)), nd.ones((4,)), nd.zeros((4,)), num_groups=2)
    with pytest.raises(ShapeError, match="num_groups=3"):
        nd.GroupNorm(nd.ones((2, 4, 3)), nd.ones((3,)), nd.zeros((3,)), num_groups=3)
    with pytest.raises(ShapeError, match="rank >= 3"):
        nd.InstanceNorm(nd.ones((2, 3)), nd.ones((3,)), nd.zeros((3,)))
    with pytest.raises(ShapeError, match="beta"):
        nd.LayerNorm(nd.ones((2, 3)), nd.ones((3,)), nd.zeros((2,)))
    with pytest.raises(OpAttrError, match="not supported"):
        nd.LayerNorm(nd.ones((2, 3)), nd.ones((3,)), nd.zeros((3,)), output_mean_var=True)
    with pytest.raises(DTypeError):
        nd.LayerNorm(nd.ones((2, 3), dtype="int32"), nd.ones((3,), dtype="int32"),
                     nd.zeros((3,), dtype="int32"))


def test_empty_batches_and_float32():
    z = np.zeros((0, 3), np.float32)
    p = [np.ones(3, np.float32), np.zeros(3, np.float32)]
    for training in (True, False):
        out = run("BatchNorm", z, *p, *p, training=training)
        assert out.shape == (0, 3) and out.dtype == np.float32
    assert run("LayerNorm", z, *p).shape == (0, 3)
    assert run("L2Normalization", z).shape == (0, 3)
    np.testing.assert_array_equal(run("softmax_cross_entropy", z, np.zeros(0, np.float32)), [0])
    x = np.random.default_rng(14).uniform(-1, 1, (2, 3)).astype(np.float32)
    for op, args in (("LayerNorm", p), ("BatchNorm", p + p)):
        out = run(op, x, *args, training=True) if op == "BatchNorm" else run(op, x, *args)
        assert out.dtype == np.float32
    bn = ops.get("BatchNorm")
    full = dict(normalize_attrs(bn, {"axis": -1, "training": True}))   # as a tracer passes them
    assert bn.complete([(2, 5), None, None, None, None], full) == [(2, 5)] + [(5,)] * 4


# ---------------------------------------------------------------- L2Normalization


@given(data=st.data())
def test_l2_normalization_forward(data):
    mode = data.draw(st.sampled_from(["instance", "channel", "spatial"]), "mode")
    lo = 1 if mode == "instance" else 3
    shape = data.draw(st.lists(st.integers(1, 3), min_size=lo, max_size=4).map(tuple), "shape")
    x = data.draw(floats_array(shape))
    key = {"instance": lambda i: i[:1], "channel": lambda i: i[:1] + i[2:],
           "spatial": lambda i: i[:2]}[mode]
    sums: dict = {}
    for idx in np.ndindex(*shape):
        sums[key(idx)] = sums.get(key(idx), 0.0) + float(x[idx]) ** 2
    want = np.empty(shape)
    for idx in np.ndindex(*shape):
        want[idx] = x[idx] / np.sqrt(sums[key(idx)] + 1e-3)
    np.testing.assert_allclose(run("L2Normalization", x, mode=mode, eps=1e-3), want,
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode,shape", [("instance", (2, 3)), ("instance", (4,)),
                                        ("channel", (2, 3, 2)), ("spatial", (2, 2, 3))])
def test_l2_normalization_grad(mode, shape):
    x = _arr(np.random.default_rng(11), *shape)
    check_grad("L2Normalization", [x], mode=mode, eps=1e-3)
    check_graph_grad("L2Normalization", [x], [0], mode=mode, eps=1e-3)


def test_l2_normalization_bad_inputs():
    with pytest.raises(ShapeError, match="at least 3"):
        nd.L2Normalization(nd.ones((2, 3)), mode="channel")
    with pytest.raises(OpAttrError):
        nd.L2Normalization(nd.ones((2, 3)), mode="batch")


# ---------------------------------------------------------------- smooth_l1 / hard_sigmoid


@given(x=floats_array(st.lists(st.integers(0, 3), max_size=3).map(tuple), -3, 3),
       s=st.sampled_from([0.5, 1.0, 2.0]))
def test_smooth_l1(x, s):
    t = 1.0 / (s * s)
    x = np.where(np.abs(np.abs(x) - t) < 1e-3, x + 0.01, x)
    want = np.vectorize(lambda v: 0.5 * (s * v) ** 2 if -t < v < t else abs(v) - 0.5 * t,
                        otypes=[float])(x) if x.size else x
    np.testing.assert_allclose(run("smooth_l1", x, scalar=s), want, rtol=1e-12, atol=1e-15)
    if 0 < x.size <= 12:
        x = np.where(np.abs(x) < 1e-3, 0.01, x)
        check_grad("smooth_l1", [x], scalar=s)
        check_graph_grad("smooth_l1", [x], [0], scalar=s)


@given(x=floats_array(st.lists(st.integers(0, 3), max_size=3).map(tuple), -4, 4))
def test_hard_sigmoid(x):
    for edge in (-2.5, 2.5, -1.25, 1.25):          # the kinks for (0.2, 0.5) and (0.4, 0.5)
        x = np.where(np.abs(x - edge) < 1e-3, x + 0.01, x)
    for alpha, beta in ((0.2, 0.5), (0.4, 0.5)):
        want = np.vectorize(lambda v: min(1.0, max(0.0, alpha * v + beta)),
                            otypes=[float])(x) if x.size else x
        np.testing.assert_allclose(run("hard_sigmoid", x, alpha=alpha, beta=beta), want,
                                   rtol=1e-12, atol=1e-15)
        if 0 < x.size <= 12:
            check_grad("hard_sigmoid", [x], alpha=alpha, beta=beta)
            check_graph_grad("hard_sigmoid", [x], [0], alpha=alpha, beta=beta)


# ---------------------------------------------------------------- softmax_cross_entropy


@given(data=st.data())
def test_softmax_cross_entropy_forward(data):
    n, k = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    x = data.draw(floats_array((n, k)))
    label = np.array(data.draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)), float)
    got = run("softmax_cross_entropy", x, label)
    assert got.shape == (1,)
    want = 0.0
    for i in range(n):
        want += -x[i, int(label[i])] + np.log(sum(np.exp(x[i, j]) for j in range(k)))
    np.testing.assert_allclose(got, [want], rtol=1e-10, atol=1e-12)


def test_softmax_cross_entropy_grad_and_labels():
    rng = np.random.default_rng(12)
    x = _arr(rng, 3, 4)
    label = np.array([0.0, 3.0, 1.5])                # 1.5 reads as class 1
    check_grad("softmax_cross_entropy", [x, label], wrt=[0])
    check_graph_grad("softmax_cross_entropy", [x, label], [0])
    # out-of-range labels are clipped (as MXNet's forward does)
    np.testing.assert_allclose(run("softmax_cross_entropy", x, np.array([-1.0, 9.0, 1.0])),
                               run("softmax_cross_entropy", x, np.array([0.0, 3.0, 1.0])))
    with pytest.raises(ShapeError, match="batch"):
        nd.softmax_cross_entropy(nd.ones((2, 3)), nd.ones((3,)))
    with pytest.raises(ShapeError):
        nd.softmax_cross_entropy(nd.ones((2, 3, 1)), nd.ones((2,)))
