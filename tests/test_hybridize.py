"""``net.hybridize()``: training state, the graph cache, tracer errors, graph structure,
random blocks (hypothesis), debug hooks and ``hybridize(check=True)``.

The per-layer matrix (every layer and loss, hybridized vs eager) is in
test_hybridize_matrix.py. Expected values here come from eager execution of the same block
(an independent path: op by op on NDArrays with the autograd tape) or from NumPy written out
in the test.
"""
from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest
from graphcc.gluon import nn
from hypothesis import given
from hypothesis import strategies as st

import graphcc as mx
from graphcc import autograd, flags, gluon, nd
from graphcc.errors import AutogradError, CheckError, DeviceError, GraphccError, TraceError
from graphcc.ir.graph import Graph
from graphcc.ir.interp import interpret
from graphcc.passes import DEFAULT_PIPELINE

RTOL, ATOL = 1e-5, 1e-6
THIS = "test_hybridize.py"


def _x(*shape, seed=0):
    return nd.array(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def _mlp(in_units=4):
    mx.random.seed(0)
    net = nn.HybridSequential()
    with net.name_scope():
        net.add(nn.Dense(5, activation="relu", in_units=in_units), nn.Dense(3, in_units=5))
    net.initialize(mx.init.Uniform(0.5))
    return net


def _line_of(text):
    """The line number in this file of the first line containing ``text``."""
    with open(__file__) as f:
        for k, line in enumerate(f, start=1):
            if text in line and "_line_of" not in line:
                return k
    raise AssertionError(text)


# ====================================================================== training state


def _bn_net():
    net = nn.HybridSequential()
    with net.name_scope():
        net.add(nn.Dense(4, in_units=3), nn.BatchNorm(momentum=0.8, in_channels=4))
    net.initialize(mx.init.Uniform(0.5))
    return net


def test_batchnorm_running_stats_after_hybridized_training_step():
    net = _bn_net()
    net.hybridize()
    x = _x(5, 3)
    bn = net[1]
    with autograd.record():
        y = net(x)
    # the forward alone does not touch the running statistics (MXNet updates them in backward)
    np.testing.assert_array_equal(bn.running_mean.data().asnumpy(), np.zeros(4, np.float32))
    np.testing.assert_array_equal(bn.running_var.data().asnumpy(), np.ones(4, np.float32))
    y.backward()
    h = nd.FullyConnected(x, net[0].weight.data(), net[0].bias.data(), num_hidden=4).asnumpy()
    mean, var = h.mean(axis=0), h.var(axis=0)              # biased batch variance
    np.testing.assert_allclose(bn.running_mean.data().asnumpy(), 0.2 * mean, rtol=1e-5,
                               atol=1e-7)
    np.testing.assert_allclose(bn.running_var.data().asnumpy(), 0.8 + 0.2 * var, rtol=1e-5)


@pytest.mark.parametrize("hybrid", [False, True], ids=["eager", "hybridized"])
def test_batchnorm_running_stats_only_change_on_training_backward(hybrid):
    net = _bn_net()
    if hybrid:
        net.hybridize()
    bn, x = net[1], _x(5, 3)

    def stats():
        return bn.running_mean.data().asnumpy().copy(), bn.running_var.data().asnumpy().copy()
    start = stats()
    net(x)                                               # predict, not recording
    with autograd.train_mode():
        net(x)                                           # training mode, not recording
    with autograd.record():
        net(x)                                           # recorded, never differentiated
    with autograd.record(train_mode=False):
        y = net(x)
    y.backward()                                         # predict-mode backward
    for got, want in zip(stats(), start):
        np.testing.assert_array_equal(got, want)
    with autograd.record():
        y = net(x)
    y.backward()
    assert not np.allclose(stats()[0], start[0])
    # two training steps: both updates applied, identically to eager (see the matrix test)
    once = stats()
    with autograd.record():
        y = net(x)
    y.backward()
    np.testing.assert_allclose(stats()[0], once[0] * 0.8 + (once[0] / 0.2) * 0.2, rtol=1e-5,
                               atol=1e-7)


def test_grad_req_add_accumulates_over_two_hybridized_backwards():
    x0 = _x(3, 4)
    results = {}
    for hybrid in (False, True):
        net = _mlp()
        net.collect_params().setattr("grad_req", "add")
        if hybrid:
            net.hybridize()
        x = x0.copy()
        x.attach_grad(grad_req="add")
        grads = []
        for step in range(2):
            with autograd.record():
                y = net(x)
            y.backward(_x(3, 3, seed=10 + step))
            grads.append([p.grad().asnumpy().copy() for p in net.collect_params().values()] +
                         [x.grad.asnumpy().copy()])
        results[hybrid] = grads
    for step in range(2):
        for want, got in zip(results[False][step], results[True][step]):
            np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
    # the second backward added its gradient to the first one's
    net = _mlp()
    net.hybridize()
    x = x0.copy()
    x.attach_grad()
    with autograd.record():
        y = net(x)
    y.backward(_x(3, 3, seed=11))
    alone = [p.grad().asnumpy() for p in net.collect_params().values()] + [x.grad.asnumpy()]
    for first, both, second in zip(results[True][0], results[True][1], alone):
        np.testing.assert_allclose(both, first + second, rtol=RTOL, atol=ATOL)
        assert not np.allclose(both, second)


def test_backward_twice_with_retain_graph_matches_eager():
    # the backward part runs on the forward's arena: a second backward (retain_graph) must
    # still read the saved forward values, not what the first backward left there
    mx.random.seed(0)
    net = nn.HybridSequential()
    net.add(nn.Dense(16, activation="relu"), nn.Dense(16, activation="tanh"), nn.Dense(4))
    net.initialize()
    x = _x(8, 10)
    results = {}
    for hybrid in (False, True):
        net.hybridize(hybrid)
        params = list(net.collect_params().values())
        for p in params:
            p.zero_grad()
        with autograd.record():
            y = (net(x) ** 2).sum()
        y.backward(retain_graph=True)
        first = [p.grad().asnumpy().copy() for p in params]
        y.backward()
        results[hybrid] = first + [p.grad().asnumpy().copy() for p in params]
    for want, got in zip(results[False], results[True]):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def test_create_graph_through_a_hybridized_block_is_refused():
    # the compiled backward is not recorded: a gradient penalty built on its result would
    # silently lose that path, so asking for a differentiable gradient is an error
    class Cube(gluon.HybridBlock):
        def hybrid_forward(self, F, x):
            return x * x * x
    net = Cube()
    net.hybridize()
    x = nd.array([1.0, 2.0])
    x.attach_grad()
    with autograd.record():
        y = net(x)
        with pytest.raises(AutogradError, match="hybridized"):
            autograd.grad(y, [x], create_graph=True)
    with autograd.record():
        y = net(x)
    np.testing.assert_allclose(autograd.grad(y, [x])[0].asnumpy(), [3.0, 12.0])


def test_grad_req_change_after_compiling_is_honoured():
    x = _x(2, 4)
    net = _mlp()
    net.hybridize()
    w = net[0].weight
    w.grad_req = "null"
    with autograd.record():
        y = net(x)
    y.backward()
    w.grad_req = "write"
    with autograd.record():
        y = net(x)
    y.backward()
    got = w.grad().asnumpy().copy()
    net.hybridize(False)
    w.zero_grad()
    with autograd.record():
        y = net(x)
    y.backward()
    np.testing.assert_allclose(got, w.grad().asnumpy(), rtol=RTOL, atol=ATOL)
    assert np.abs(got).sum() > 0


def test_dropout_hybridized_train_mode_mask_consistency():
    net = nn.Dropout(0.5)
    net.hybridize()
    x = nd.array(np.random.default_rng(0).uniform(1, 2, (40, 50)).astype(np.float32))
    x.attach_grad()
    with autograd.record():
        y = net(x)
    y.backward()
    out, grad = y.asnumpy(), x.grad.asnumpy()
    kept = out != 0
    # kept elements are scaled by 1 / (1 - p); the gradient uses the same mask
    np.testing.assert_allclose(out[kept], 2 * x.asnumpy()[kept], rtol=1e-6)
    np.testing.assert_array_equal(grad, np.where(kept, 2.0, 0.0).astype(np.float32))
    assert 0.4 < kept.mean() < 0.6                     # 2000 draws of p = 0.5
    with autograd.record():
        y2 = net(x)
    assert net.trace_count == 1
    assert not np.array_equal(y2.asnumpy() != 0, kept), "the mask must be redrawn per call"
    # predict mode: identity, recorded or not
    np.testing.assert_array_equal(net(x).asnumpy(), x.asnumpy())
    with autograd.record(train_mode=False):
        y3 = net(x)
    y3.backward()
    np.testing.assert_array_equal(y3.asnumpy(), x.asnumpy())
    np.testing.assert_array_equal(x.grad.asnumpy(), np.ones_like(grad))


# ====================================================================== the cache


def test_second_call_with_same_signature_does_not_retrace():
    net, x, x1 = _mlp(), _x(2, 4), _x(2, 4, seed=1)
    eager, eager1 = net(x).asnumpy(), net(x1).asnumpy()
    net.hybridize()
    np.testing.assert_allclose(net(x).asnumpy(), eager, rtol=RTOL)   # traces and compiles
    assert net.trace_count == 1
    np.testing.assert_allclose(net(x1).asnumpy(), eager1, rtol=RTOL)  # new values, same graph
    np.testing.assert_allclose(net(x).asnumpy(), eager, rtol=RTOL)
    assert net.trace_count == 1


def test_what_retraces():
    net, x = _mlp(), _x(2, 4)
    net.hybridize()
    net(x)
    assert net.trace_count == 1
    net(_x(3, 4))                                    # new batch size
    assert net.trace_count == 2
    net(x)                                           # back to a cached one
    assert net.trace_count == 2
    with autograd.train_mode():                      # training mode
        net(x)
    assert net.trace_count == 3
    with autograd.predict_mode():
        net(x)
    assert net.trace_count == 3
    with autograd.record(train_mode=False):          # recording (same mode)
        net(x)
    assert net.trace_count == 4
    with autograd.record(train_mode=False):
        net(x)
    assert net.trace_count == 4
    x2 = x.copy()
    x2.attach_grad()
    with autograd.record(train_mode=False):          # an input that needs a gradient
        net(x2)
    assert net.trace_count == 5
    with autograd.record(train_mode=False):
        net(x2)
    assert net.trace_count == 5


def test_different_argument_structure_retraces():
    class Net(gluon.HybridBlock):
        def hybrid_forward(self, F, x, extra=None, scale=1.0):
            if extra is None:
                return x * scale
            if isinstance(extra, (list, tuple)):
                return x * scale + sum(e for e in extra)
            return x * scale - extra
    net = Net()
    net.hybridize()
    x, y = _x(2, 3), _x(2, 3, seed=1)
    xs, ys = x.asnumpy(), y.asnumpy()
    calls = [((x,), xs), ((x, y), xs - ys), ((x, [y]), xs + ys), ((x, [y, y]), xs + 2 * ys),
             ((x, None, 2.0), 2 * xs), ((x, None, 3.0), 3 * xs), ((x, (y,)), xs + ys)]
    for k, (args, want) in enumerate(calls):
        np.testing.assert_allclose(net(*args).asnumpy(), want, rtol=RTOL, err_msg=str(k))
        assert net.trace_count == k + 1, f"call {k} should have traced"
    for k, (args, want) in enumerate(calls):           # all cached now
        np.testing.assert_allclose(net(*args).asnumpy(), want, rtol=RTOL)
    assert net.trace_count == len(calls)


def test_non_array_arguments_key_the_cache_by_value_or_are_refused():
    # NumPy scalars were keyed by id(): a freed scalar's id is reused by the next one, which
    # then ran the graph traced for the old value
    class Box:
        def __init__(self, value):
            self.value = value

    class Net(gluon.HybridBlock):
        def hybrid_forward(self, F, x, scale, flag=None):
            if isinstance(scale, Box):
                scale = scale.value
            if flag is True:
                return x * scale + 100
            return x * scale
    net = Net()
    net.hybridize()
    x = _x(2, 3)
    for s in (2.0, 3.0, 4.0):
        np.testing.assert_allclose(net(x, np.float32(s)).asnumpy(), s * x.asnumpy(), rtol=RTOL)
    assert net.trace_count == 3
    net(x, np.float32(3.0))
    assert net.trace_count == 3                       # the same value: a hit
    np.testing.assert_allclose(net(x, 1, True).asnumpy(), x.asnumpy() + 100, rtol=RTOL)
    np.testing.assert_allclose(net(x, 1, 1).asnumpy(), x.asnumpy(), rtol=RTOL)   # 1 is not True
    np.testing.assert_allclose(net(x, (2.0, 3.0)[0]).asnumpy(), 2 * x.asnumpy(), rtol=RTOL)
    # an object (or a dict) could change after the call without the cache seeing it: a
    # stale graph would give silently wrong numbers, so it is refused, as MXNet refuses it
    traces = net.trace_count
    with pytest.raises(GraphccError, match="must be \\(nested\\) list of Symbol or NDArray"):
        net(x, Box(2.0))
    with pytest.raises(GraphccError, match="got a dict"):
        net(x, 2.0, {"scale": 2.0})
    assert net.trace_count == traces


def test_cache_is_bounded_by_flag():
    net = _mlp()
    net.hybridize()
    with flags.override(CACHE_SIZE=2):
        for b in (1, 2, 3):
            net(_x(b, 4))
        assert net.trace_count == 3
        assert len(net._cached.entries) == 2
        net(_x(3, 4))                                 # most recent: kept
        net(_x(2, 4))
        assert net.trace_count == 3
        net(_x(1, 4))                                 # least recently used: evicted
        assert net.trace_count == 4
        assert len(net._cached.entries) == 2


def test_rehybridize_cast_and_child_replacement_clear_the_cache():
    net, x = _mlp(), _x(2, 4)
    net.hybridize()
    net(x)
    assert net.trace_count == 1
    net.hybridize()                                   # re-hybridize: fresh cache
    assert net.trace_count == 0
    net(x)
    assert net.trace_count == 1
    net.cast("float64")                               # cast: fresh cache, new dtype works
    assert net.trace_count == 0
    out = net(x.astype("float64"))
    assert np.dtype(out.dtype) == np.float64 and net.trace_count == 1

    class Holder(gluon.HybridBlock):
        def __init__(self, **kw):
            super().__init__(**kw)
            with self.name_scope():
                self.body = nn.Dense(2, in_units=4)

        def hybrid_forward(self, F, x):
            return self.body(x)
    h = Holder()
    h.initialize(mx.init.One())
    h.hybridize()
    np.testing.assert_allclose(h(x).asnumpy(), np.repeat(x.asnumpy().sum(1, keepdims=True), 2, 1),
                               rtol=RTOL)
    assert h.trace_count == 1
    with h.name_scope():
        h.body = nn.Dense(3, in_units=4)              # replacing a child
    h.body.initialize(mx.init.Zero())
    assert h.trace_count == 0
    np.testing.assert_array_equal(h(x).asnumpy(), np.zeros((2, 3), np.float32))


def test_changing_a_grandchild_clears_the_inlining_parents_cache():
    # the parent's graph inlines every descendant: replacing or casting one deep inside must
    # not leave the parent running its old graph
    class Act(gluon.HybridBlock):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.act = nn.Activation("relu")

        def hybrid_forward(self, F, x):
            return self.act(x)
    net = nn.HybridSequential()
    net.add(nn.HybridSequential(), Act())
    net[0].add(nn.Dense(2, in_units=4))
    net.initialize(mx.init.One())
    net.hybridize()
    x = nd.array(-np.ones((2, 4), np.float32))
    np.testing.assert_array_equal(net(x).asnumpy(), np.zeros((2, 2)))
    net[1].act = nn.Activation("tanh")                # a grandchild replaced
    np.testing.assert_allclose(net(x).asnumpy(), np.full((2, 2), np.tanh(-4.0)), rtol=RTOL)
    net[0][0].cast("float64")                         # a grandchild cast
    net[1].cast("float64")
    out = net(x.astype("float64"))
    assert np.dtype(out.dtype) == np.float64
    np.testing.assert_allclose(out.asnumpy(), np.full((2, 2), np.tanh(-4.0)), rtol=RTOL)
    weight = gluon.Parameter("w2", shape=(2, 4), dtype="float64", init=mx.init.Constant(-0.5))
    weight.initialize()
    net[0][0].weight = weight                         # a grandchild's parameter replaced
    np.testing.assert_allclose(net(x.astype("float64")).asnumpy(),
                               np.full((2, 2), np.tanh(2.0)), rtol=RTOL)

def test_unknown_hybridize_keyword_raises():
    net = _mlp()
    with pytest.raises(GraphccError, match="static_allocc"):
        net.hybridize(static_allocc=True)
    net.hybridize(static_alloc=True, static_shape=True)  # MXNet's keywords are accepted


def test_mixed_device_inputs_raise():
    class Add(gluon.HybridBlock):
        def hybrid_forward(self, F, a, b):
            return a + b
    net = Add()
    net.hybridize()
    a = nd.ones((2, 2), ctx=mx.cpu(0))
    b = nd.ones((2, 2), ctx=mx.cpu(1))
    with pytest.raises(DeviceError, match=r"cpu\(0\).*cpu\(1\)"):
        net(a, b)
    assert net(b, b).context == mx.cpu(1)


# ====================================================================== tracer errors


class ReadsValue(gluon.HybridBlock):
    def __init__(self, how, **kw):
        super().__init__(**kw)
        self.how = how

    def hybrid_forward(self, F, x):
        if self.how == "asnumpy":
            scale = x.asnumpy().max()  # LINE-asnumpy
            return x * scale
        if self.how == "float":
            return x * float(x.sum())  # LINE-float
        if self.how == "if":
            if x.sum() > 0:  # LINE-if
                return x
            return -x
        if self.how == "asscalar":
            return x * x.mean().asscalar()  # LINE-asscalar
        raise AssertionError(self.how)


@pytest.mark.parametrize("how", ["asnumpy", "float", "if", "asscalar"])
def test_reading_a_value_while_tracing_names_the_user_line(how):
    net = ReadsValue(how)
    x = _x(2, 3)
    net(x)                                  # eager: fine
    net.hybridize()
    with pytest.raises(TraceError) as e:
        net(x)
    msg = str(e.value)
    assert f"{THIS}:{_line_of(f'# LINE-{how}')}" in msg
    assert "F.where" in msg or "graph ops" in msg          # says what to do instead


def test_shape_arithmetic_on_traced_shapes_works():
    class Net(gluon.HybridBlock):
        def hybrid_forward(self, F, x):
            n, c, w = x.shape
            y = F.reshape(x, shape=(n, c * w))
            y = y / (c * w) + x.shape[0]
            return F.reshape(y, shape=(n * c, w)), y.shape[1] * F.ones_like(y)
    net = Net()
    x = _x(2, 3, 4)
    want = [o.asnumpy() for o in net(x)]
    net.hybridize()
    got = [o.asnumpy() for o in net(x)]
    for w, g in zip(want, got):
        np.testing.assert_allclose(g, w, rtol=RTOL)
    np.testing.assert_allclose(got[0], (x.asnumpy().reshape(2, 12) / 12 + 2).reshape(6, 4),
                               rtol=RTOL)
    net(_x(3, 2, 4))                        # a new shape re-runs the Python with new numbers
    assert net.trace_count == 2


def test_1x_hybrid_forward_gets_F_and_parameters_as_keywords():
    seen = []

    class Net(gluon.HybridBlock):
        def __init__(self, **kw):
            super().__init__(**kw)
            with self.name_scope():
                self.w = self.params.get("w", shape=(3,), init=mx.init.Constant(2.0))
                self.b = self.params.get("b", shape=(1,), init=mx.init.Constant(0.5))

        def hybrid_forward(self, F, x, **params):
            seen.append((F, sorted(params), type(params["w"]).__name__))
            return F.broadcast_add(F.broadcast_mul(x, params["w"]), params["b"])
    net = Net()
    net.initialize()
    x = _x(2, 3)
    eager = net(x).asnumpy()
    net.hybridize()
    np.testing.assert_allclose(net(x).asnumpy(), eager, rtol=RTOL)
    np.testing.assert_allclose(eager, x.asnumpy() * 2 + 0.5, rtol=RTOL)
    assert seen[0] == (mx.nd, ["b", "w"], "NDArray")
    assert seen[1] == (mx.sym, ["b", "w"], "Symbol")


def test_nested_hybrid_blocks_inline_into_one_graph():
    class Inner(gluon.HybridBlock):
        def __init__(self, **kw):
            super().__init__(**kw)
            with self.name_scope():
                self.dense = nn.Dense(3, in_units=4)

        def hybrid_forward(self, F, x):
            return F.tanh(self.dense(x))

    class Outer(gluon.HybridBlock):
        def __init__(self, **kw):
            super().__init__(**kw)
            with self.name_scope():
                self.a = Inner()
                self.b = nn.Dense(2, in_units=3)

        def hybrid_forward(self, F, x):
            return self.b(self.a(x)) * 2
    net = Outer()
    net.initialize()
    x = _x(5, 4)
    eager = net(x).asnumpy()
    net.hybridize()
    np.testing.assert_allclose(net(x).asnumpy(), eager, rtol=RTOL)
    assert net.trace_count == 1
    assert net.a.trace_count == 0 and net.a.dense.trace_count == 0 and net.b.trace_count == 0
    g = net._cached.last.exe.graph
    traced = net._cached.last.trace.graph
    assert len(g.input_ids) == 5                       # data + 2 weights + 2 biases
    assert [g.nodes[i].attr("role") for i in g.input_ids] == ["data"] + ["param"] * 4
    ops = [n.op for n in traced.nodes if n.op != "input"]
    assert ops == ["FullyConnected", "tanh", "FullyConnected", "_mul_scalar"]


def test_plain_block_hybridizes_each_hybrid_child_separately():
    class Net(gluon.Block):
        def __init__(self, **kw):
            super().__init__(**kw)
            with self.name_scope():
                self.a = nn.Dense(3, in_units=4)
                self.b = nn.HybridSequential()
                self.b.add(nn.Dense(3, activation="tanh"), nn.Dense(2))

        def forward(self, x):
            h = self.a(x)
            if h.sum().asscalar() > -1e9:    # Python on values is fine in a plain Block
                h = h + 1
            return self.b(h)
    net = Net()
    net.initialize()
    x = _x(2, 4)
    eager = net(x).asnumpy()
    net.hybridize()
    np.testing.assert_allclose(net(x).asnumpy(), eager, rtol=RTOL)
    assert net.a.trace_count == 1 and net.b.trace_count == 1
    assert net.b[0].trace_count == 0                  # inlined into b's graph
    assert len(net.b._cached.last.exe.graph.input_ids) == 5


# ====================================================================== property test


_UNARY = ["tanh", "sigmoid", "relu", "abs", "negative", "sin", "square"]
_SCALAR = ["add", "sub", "rsub", "mul", "div", "max"]


@st.composite
def programs(draw):
    """An input shape and a list of steps, with shapes tracked so every step is valid."""
    shape = [draw(st.integers(1, 3))] + [draw(st.integers(1, 4))
                                         for _ in range(draw(st.integers(1, 2)))]
    start = tuple(shape)
    saved = start
    steps = []
    for _ in range(draw(st.integers(1, 7))):
        kind = draw(st.sampled_from(["dense", "act", "unary", "scalar", "reshape", "transpose",
                                     "concat", "slice", "reduce", "center", "batchnorm",
                                     "layernorm", "save", "residual", "gate", "split"]))
        nd_ = len(shape)
        if kind == "dense":
            units = draw(st.integers(1, 4))
            steps.append(("dense", (units, draw(st.sampled_from([None, "relu", "tanh"])))))
            shape[-1] = units
        elif kind == "act":
            steps.append(("act", draw(st.sampled_from(["relu", "sigmoid", "tanh", "softrelu",
                                                       "softsign"]))))
        elif kind == "unary":
            steps.append(("unary", draw(st.sampled_from(_UNARY))))
        elif kind == "scalar":
            steps.append(("scalar", (draw(st.sampled_from(_SCALAR)),
                                     draw(st.sampled_from([0.5, 2.0, -1.5])))))
        elif kind == "reshape":
            if nd_ == 3:
                steps.append(("reshape", (0, -1)))
                shape = [shape[0], shape[1] * shape[2]]
            elif shape[1] % 2 == 0:
                steps.append(("reshape", (0, 2, -1)))
                shape = [shape[0], 2, shape[1] // 2]
        elif kind == "transpose" and nd_ == 3:
            steps.append(("transpose", (0, 2, 1)))
            shape = [shape[0], shape[2], shape[1]]
        elif kind == "concat" and shape[-1] <= 4:
            steps.append(("concat", -1))
            shape[-1] *= 2
        elif kind == "slice" and shape[-1] > 1:
            b = draw(st.integers(0, shape[-1] - 1))
            e = draw(st.integers(b + 1, shape[-1]))
            steps.append(("slice", (b, e)))
            shape[-1] = e - b
        elif kind == "reduce":
            steps.append(("reduce", (draw(st.sampled_from(["sum", "mean", "max"])),
                                     draw(st.integers(1, nd_ - 1)))))
            shape[steps[-1][1][1]] = 1
        elif kind == "center":
            steps.append(("center", draw(st.integers(0, nd_ - 1))))
        elif kind == "batchnorm":
            steps.append(("batchnorm", None))
        elif kind == "layernorm":
            steps.append(("layernorm", None))
        elif kind == "save":
            steps.append(("save", None))
            saved = tuple(shape)
        elif kind == "residual" and saved == tuple(shape):
            steps.append(("residual", None))
        elif kind == "gate":
            steps.append(("gate", None))
        elif kind == "split" and shape[-1] % 2 == 0:
            steps.append(("split", draw(st.booleans())))
            shape[-1] //= 2
    return start, steps


class RandomNet(gluon.HybridBlock):
    """Runs a drawn program of steps with F ops and child layers."""

    def __init__(self, steps, **kw):
        super().__init__(**kw)
        self._steps = steps
        with self.name_scope():
            for k, (kind, arg) in enumerate(steps):
                if kind == "dense":
                    setattr(self, f"l{k}", nn.Dense(arg[0], activation=arg[1], flatten=False))
                elif kind == "batchnorm":
                    setattr(self, f"l{k}", nn.BatchNorm(axis=1, momentum=0.7))
                elif kind == "layernorm":
                    setattr(self, f"l{k}", nn.LayerNorm())

    def hybrid_forward(self, F, x):
        saved = x
        for k, (kind, arg) in enumerate(self._steps):
            if kind in ("dense", "batchnorm", "layernorm"):
                x = getattr(self, f"l{k}")(x)
            elif kind == "act":
                x = F.Activation(x, act_type=arg)
            elif kind == "unary":
                x = getattr(F, arg)(x)
            elif kind == "scalar":
                x = _scalar_op(F, x, *arg)
            elif kind == "reshape":
                x = x.reshape(arg)
            elif kind == "transpose":
                x = F.transpose(x, axes=arg)
            elif kind == "concat":
                x = F.concat(x, F.tanh(x), dim=arg)
            elif kind == "slice":
                x = F.slice_axis(x, axis=-1, begin=arg[0], end=arg[1])
            elif kind == "reduce":
                x = getattr(F, arg[0])(x, axis=arg[1], keepdims=True)
            elif kind == "center":
                x = F.broadcast_sub(x, F.mean(x, axis=arg, keepdims=True))
            elif kind == "save":
                saved = x
            elif kind == "residual":
                x = x + saved
            elif kind == "gate":                      # LSTM-like: one value, many readers
                x = F.sigmoid(x) * F.tanh(x) + x * F.sigmoid(-x)
            elif kind == "split":
                a, b = F.split(x, num_outputs=2, axis=-1)
                x = F.tanh(a) * F.sigmoid(b) - b if arg else F.sigmoid(a) * F.tanh(a) - b * 2
        return x


def _scalar_op(F, x, op, s):
    if op == "add":
        return x + s
    if op == "sub":
        return x - s
    if op == "rsub":
        return s - x
    if op == "mul":
        return x * s
    if op == "div":
        return x / s
    return F.maximum(x, s)


def _run_both(net, x0, mode, seed=0, backend=None):
    """(outputs, input grad, param grads, params after) eager then hybridized (on
    ``backend``), from the same starting parameters."""
    params = list(net.collect_params().values())
    start = [p.data().asnumpy().copy() for p in params]
    results = []
    for hybrid in (False, True):
        for p, v in zip(params, start):
            p.set_data(nd.array(v))
        net.collect_params().zero_grad()
        net.hybridize(hybrid, backend=backend)
        x = x0.copy()
        x.attach_grad()
        if mode == "infer":
            results.append([net(x).asnumpy()])
            continue
        with autograd.record(train_mode=mode == "train"):
            y = net(x)
        y.backward(_x(*y.shape, seed=seed))
        results.append([y.asnumpy(), x.grad.asnumpy()] +
                       [p.grad().asnumpy() for p in params if p.grad_req != "null"] +
                       [p.data().asnumpy() for p in params])
    return results


@given(prog=programs(), mode=st.sampled_from(["train", "predict", "infer"]),
       seed=st.integers(0, 1000), backend=st.sampled_from(["cpu", "interp"]))
def test_random_blocks_hybridized_match_eager(prog, mode, seed, backend):
    shape, steps = prog
    mx.random.seed(seed)
    net = RandomNet(steps)
    net.initialize(mx.init.Uniform(0.7))
    x = _x(*shape, seed=seed)
    net(x)                                             # deferred init
    eager, hybrid = _run_both(net, x, mode, seed, backend)
    assert len(eager) == len(hybrid)
    for k, (w, g) in enumerate(zip(eager, hybrid)):
        np.testing.assert_allclose(g, w, rtol=RTOL, atol=1e-5, err_msg=f"{steps} value {k}")
    assert net.trace_count == 1


# ====================================================================== debug hooks


def test_op_hook_sees_every_executed_node():
    net = _mlp()
    net.hybridize()
    x = _x(2, 4)
    seen = []
    net.register_op_hook(lambda name, op, arr: seen.append((name, op, arr.asnumpy())))
    out = net(x)
    exe = net._cached.last.exe
    g = exe.graph
    executed = [i for i, n in enumerate(g.nodes) if n.op not in ("input", "const")]
    assert [s[0] for s in seen] == [f"{g.nodes[i].op}{i}_output" for i in executed]
    assert [s[1] for s in seen] == [g.nodes[i].op for i in executed]
    ref = {}
    inputs = [x.asnumpy()] + [p.data().asnumpy() for p in net.collect_params().values()]
    interpret(g, inputs, lambda i, n, v: ref.__setitem__(i, np.array(v)))
    for (name, op, value), i in zip(seen, executed):
        np.testing.assert_allclose(value, ref[i], rtol=RTOL, err_msg=name)
    np.testing.assert_allclose(seen[-1][2], out.asnumpy(), rtol=RTOL)


def test_op_hook_monitor_all_also_sees_inputs():
    net = _mlp()
    net.hybridize()
    x = _x(2, 4)
    seen = {}
    net.register_op_hook(lambda name, op, arr: seen.__setitem__(name, arr.asnumpy()),
                         monitor_all=True)
    net(x)
    g = net._cached.last.exe.graph
    fc = next(i for i, n in enumerate(g.nodes) if n.op == "FullyConnected")
    # MXNet's monitor names: the op's argument names, then "_output"
    np.testing.assert_array_equal(seen[f"FullyConnected{fc}_data"], x.asnumpy())
    np.testing.assert_array_equal(seen[f"FullyConnected{fc}_weight"],
                                  net[0].weight.data().asnumpy())
    np.testing.assert_array_equal(seen[f"FullyConnected{fc}_bias"],
                                  net[0].bias.data().asnumpy())
    assert f"FullyConnected{fc}_output" in seen


def test_op_hook_under_record_sees_forward_nodes():
    net = _mlp()
    net.hybridize()
    names = []
    net.register_op_hook(lambda name, op, arr: names.append(name))
    with autograd.record():
        y = net(_x(2, 4))
    y.backward()
    exe = net._cached.last.exe
    k = exe.program.k
    fwd = [f"{n.op}{i}_output" for i, n in enumerate(exe.graph.nodes[:k])
           if n.op not in ("input", "const")]
    assert names == fwd and names


# ====================================================================== hybridize(check=True)


def swap_subtract(g: Graph) -> Graph:
    """A deliberately broken pass: ``a - b`` becomes ``b - a`` (flips the sign of the first
    subtraction) while keeping the node's op, attributes, location and type."""
    nodes = list(g.nodes)
    for i, n in enumerate(nodes):
        if n.op == "subtract" and g.nodes[n.inputs[0]].shape == g.nodes[n.inputs[1]].shape:
            nodes[i] = replace(n, inputs=n.inputs[::-1])
            break
    return Graph(tuple(nodes), g.outputs, g.consts, g.kernels)


class Checked(gluon.HybridBlock):
    def __init__(self, **kw):
        super().__init__(**kw)
        with self.name_scope():
            self.dense = nn.Dense(3, in_units=4)

    def hybrid_forward(self, F, x):
        h = F.tanh(self.dense(x))
        d = h - F.sigmoid(h)  # LINE-subtract
        return F.tanh(d) * 2 + h


def _broken_pipeline():
    pipeline = list(DEFAULT_PIPELINE)
    pipeline.insert(pipeline.index("fuse"), swap_subtract)
    return pipeline


@pytest.mark.parametrize("recording", [False, True])
def test_check_reports_the_first_diverging_node(recording):
    net = Checked()
    net.initialize()
    net.hybridize(passes=_broken_pipeline(), check=True)
    x = _x(3, 4)
    with pytest.raises(CheckError) as e:
        if recording:
            with autograd.record():
                net(x)
        else:
            net(x)
    err = e.value
    assert err.op == "subtract"
    assert err.loc == f"{THIS}:{_line_of('# LINE-subtract')}"
    msg = str(err)
    assert "subtract" in msg and err.loc in msg and "swap_subtract" in msg
    assert net.trace_count == 0 or len(net._cached.entries) == 0   # nothing cached
    # the same broken pipeline without check silently computes something else
    net.hybridize(passes=_broken_pipeline())
    net.hybridize(False)
    eager = net(x).asnumpy()
    net.hybridize(passes=_broken_pipeline())
    assert not np.allclose(net(x).asnumpy(), eager)


def test_check_passes_for_a_correct_pipeline_and_random_ops():
    net = Checked()
    net.initialize()
    net.hybridize(check=True)
    x = _x(3, 4)
    net.hybridize(False)
    eager = net(x).asnumpy()
    net.hybridize(check=True)
    np.testing.assert_allclose(net(x).asnumpy(), eager, rtol=RTOL)
    with autograd.record():
        y = net(x)
    y.backward()
    drop = nn.HybridSequential()
    drop.add(nn.Dense(4, in_units=4), nn.Dropout(0.5), nn.Activation("tanh"))
    drop.initialize()
    drop.hybridize(check=True)
    with autograd.record():                    # random masks differ: not compared
        drop(x).backward()
    drop(x)


def test_check_message_for_a_pass_that_changes_an_attribute():
    def scale_by_minus_two(g: Graph) -> Graph:
        nodes = [replace(n, attrs=tuple((k, -2.0 if k == "scalar" else v) for k, v in n.attrs))
                 if n.op == "_mul_scalar" else n for n in g.nodes]
        return Graph(tuple(nodes), g.outputs, g.consts, g.kernels)
    pipeline = list(DEFAULT_PIPELINE)
    pipeline.insert(pipeline.index("fuse"), scale_by_minus_two)
    net = Checked()
    net.initialize()
    net.hybridize(passes=pipeline, check=True)
    with pytest.raises(CheckError) as e:
        net(_x(3, 4))
    # the rewritten node no longer matches; its first matched user diverges
    assert e.value.op == "add"
    assert re.search(rf"{THIS}:\d+", str(e.value))


def test_shared_batchnorm_called_twice_updates_like_mxnet():
    """One BatchNorm used twice in a record() (a siamese net): MXNet 1.9.1 applies the two
    running-stat updates in reverse call order, each from the value the other left:
    momentum 0.5, batch means 3 and 30, running mean 0 -> 0.5 * (0.5 * 0 + 0.5 * 30) + 0.5 * 3
    = 9 (checked with MXNet 1.9.1)."""
    for hybrid in (False, True):
        bn = nn.BatchNorm(momentum=0.5, in_channels=1)
        bn.initialize()

        class Twice(gluon.HybridBlock):
            def __init__(self):
                super().__init__()
                self.bn = bn

            def hybrid_forward(self, F, a, b):
                return self.bn(a) + self.bn(b)
        net = Twice()
        if hybrid:
            net.hybridize()
        a = nd.array(np.full((4, 1), 3.0) + np.array([[1.0], [-1.0], [1.0], [-1.0]]))
        b = nd.array(np.full((4, 1), 30.0) + np.array([[2.0], [-2.0], [2.0], [-2.0]]))
        a.attach_grad()
        with autograd.record():
            out = net(a, b)
        out.backward()
        np.testing.assert_allclose(bn.running_mean.data().asnumpy(), [9.0], rtol=1e-6)


def test_static_alloc_reuses_one_arena_and_outputs_stay_independent():
    net = nn.HybridSequential()
    net.add(nn.Dense(8, activation="relu", in_units=4), nn.Dense(2, in_units=8))
    net.initialize()
    net.hybridize(static_alloc=True)
    a = net(nd.ones((3, 4)))
    arena = net._cached.last.exe.program._static.slots
    b = net(nd.ones((3, 4)) * 2)
    assert net._cached.last.exe.program._static.slots is arena and arena is not None
    net.hybridize(False)
    np.testing.assert_allclose(a.asnumpy(), net(nd.ones((3, 4))).asnumpy(), rtol=1e-6)
    np.testing.assert_allclose(b.asnumpy(), net(nd.ones((3, 4)) * 2).asnumpy(), rtol=1e-6)


@pytest.mark.parametrize("hybrid", [False, True])
def test_batchnorm_training_step_on_an_empty_batch_keeps_the_statistics(hybrid):
    import warnings
    bn = nn.BatchNorm(in_channels=3, momentum=0.5)
    bn.initialize()
    bn.running_mean.set_data(nd.array(np.array([1.0, 2.0, 3.0], np.float32)))
    if hybrid:
        bn.hybridize()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)     # no "Mean of empty slice"
        with autograd.record():
            y = bn(nd.ones((0, 3)))
        y.backward()
    assert y.shape == (0, 3)
    np.testing.assert_array_equal(bn.running_mean.data().asnumpy(), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(bn.running_var.data().asnumpy(), [1.0, 1.0, 1.0])
    assert np.isfinite(bn(nd.ones((2, 3))).asnumpy()).all()


def _bn_patterns(hybrid):
    """Running means after: two calls of one BatchNorm in one recorded step; one backward
    retained and run twice; the same net inside one hybridized block called twice."""
    out = []
    bn = nn.BatchNorm(in_channels=3, momentum=0.5)
    bn.initialize()
    if hybrid:
        bn.hybridize()
    with autograd.record():
        loss = (bn(nd.ones((4, 3)) * 2) + bn(nd.ones((4, 3)) * -2)).sum()
    loss.backward()
    out.append(bn.running_mean.data().asnumpy().copy())
    with autograd.record():
        loss = bn(nd.ones((4, 3)) * 4).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    out.append(bn.running_mean.data().asnumpy().copy())
    out.append(bn.running_var.data().asnumpy().copy())
    return out


def test_batchnorm_statistics_agree_in_every_call_pattern():
    """Eager mode (and MXNet) apply each call's update when its backward runs, to the state
    as it is then: two calls before one backward, and a retained graph run twice."""
    eager, hybrid = _bn_patterns(False), _bn_patterns(True)
    np.testing.assert_allclose(eager[0], [0.5] * 3)          # 0.5 * (0.5*0 - 1) + 1
    np.testing.assert_allclose(eager[1], [3.125] * 3)        # then 4 twice: 2.25, 3.125
    for e, h in zip(eager, hybrid):
        np.testing.assert_allclose(h, e, rtol=1e-6)
