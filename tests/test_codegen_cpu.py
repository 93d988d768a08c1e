"""The cpu backend against the reference interpreter: random fused groups (broadcast shapes,
strided and transposed inputs, float32/float64/int32, in-place outputs), matrix products with
epilogues, fallbacks, errors."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import graphcc
from graphcc.codegen import render
from graphcc.errors import CodegenError
from graphcc.ir import GraphBuilder, interpret
from graphcc.ir.types import TensorType

from strategies import graphs_with_inputs

UNARY_F = ["negative", "abs", "exp", "tanh", "sigmoid", "relu", "square", "sin", "softsign",
           "sqrt", "log1p", "floor"]
UNARY_I = ["negative", "abs", "relu", "square", "sign"]
BINARY = ["add", "subtract", "multiply", "maximum", "minimum", "greater"]
SCALAR = ["_plus_scalar", "_mul_scalar", "_rminus_scalar", "_maximum_scalar"]


@st.composite
def fused_groups(draw):
    """A random elementwise/broadcast graph (so fusion makes kernels of it) with inputs that
    broadcast against one domain, some of them handed over transposed or strided."""
    dtype = draw(st.sampled_from(["float32", "float64", "int32"]))
    rank = draw(st.integers(1, 4))
    domain = tuple(draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank)))
    b = GraphBuilder(loc="fused.py:1")
    vals = []
    layouts = []
    for k in range(draw(st.integers(1, 4))):
        if k == 0:
            shape = domain
        else:
            keep = draw(st.integers(0, rank))
            shape = tuple(1 if draw(st.booleans()) else d for d in domain[rank - keep:])
        vals.append(b.input(f"x{k}", TensorType(shape, dtype)))
        layouts.append(draw(st.sampled_from(["c", "transposed", "strided"])))
    unary = UNARY_I if dtype == "int32" else UNARY_F
    for _ in range(draw(st.integers(1, 8))):
        a = draw(st.sampled_from(vals))
        kind = draw(st.sampled_from(["unary", "binary", "scalar"]))
        if kind == "unary":
            vals.append(b.emit(draw(st.sampled_from(unary)), [a]))
        elif kind == "binary":
            vals.append(b.emit(draw(st.sampled_from(BINARY)), [a, draw(st.sampled_from(vals))]))
        else:
            s = draw(st.sampled_from([0.5, 2.0, -1.0, 3.0]))
            vals.append(b.emit(draw(st.sampled_from(SCALAR)), [a], {"scalar": s}))
    computed = vals[len(layouts):]
    outs = draw(st.lists(st.sampled_from(computed), min_size=1, max_size=3))
    g = b.build(outs)
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    xs = []
    for i, lay in zip(g.input_ids, layouts):
        shape = g.nodes[i].shape
        if dtype == "int32":
            x = rng.integers(-5, 6, shape).astype(dtype)
        else:
            x = rng.uniform(-3, 3, shape).astype(dtype)
        xs.append(_layout(x, lay))
    return g, xs


def _layout(x, how):
    """The same values in another memory layout (not C-contiguous)."""
    if how == "transposed" and x.ndim >= 2:
        return np.ascontiguousarray(x.T).T
    if how == "strided":
        wide = np.zeros(x.shape[:-1] + (2 * x.shape[-1],) if x.ndim else (2,), x.dtype)
        view = wide[..., ::2] if x.ndim else wide[::2].reshape(())
        view[...] = x
        return view
    return x


def _close(got, want):
    assert got.shape == want.shape and got.dtype == want.dtype
    if got.dtype.kind in "iu":
        np.testing.assert_array_equal(got, want)
    else:
        eps = np.finfo(got.dtype).eps
        np.testing.assert_allclose(got, want, rtol=64 * eps, atol=64 * eps, equal_nan=True)


@settings(max_examples=40)
@given(case=fused_groups())
def test_random_fused_groups_match_the_interpreter(case):
    g, xs = case
    exe = graphcc.compile(g, backend="cpu")
    kinds = {s.kind for s in exe.program.forward.steps}
    assert kinds <= {"generated", "const"}, kinds
    want = interpret(g, [np.array(x, copy=True) for x in xs])
    for got, w in zip(exe(*xs), want):
        _close(got.asnumpy(), w)


@given(case=graphs_with_inputs(max_nodes=14))
def test_random_graphs_match_the_interpreter(case):
    """Graphs with reductions, reshapes and broadcasts: generated kernels and fallbacks
    together, inference and training."""
    g, xs = case
    exe = graphcc.compile(g, backend="cpu")
    for got, want in zip(exe(*xs), interpret(g, xs)):
        np.testing.assert_allclose(got.asnumpy(), want, rtol=1e-5, atol=1e-6)


def test_collapse_merges_alike_dimensions():
    assert render.collapse((2, 3, 4), [(2, 3, 4), (1, 3, 4)]) == ((2, 12), [(2, 12), (1, 12)])
    assert render.collapse((2, 3, 4, 5), [(3, 1, 1)]) == ((2, 3, 20), [(1, 3, 1)])
    assert render.collapse((1, 1), [(1, 1)]) == ((1,), [(1,)])
    assert render.collapse((4, 1, 5), [(4, 1, 5), (5,)]) == ((4, 5), [(4, 5), (1, 5)])


def _mlp_graph(flatten=True, no_bias=False, act="relu", dtype="float32"):
    b = GraphBuilder(loc="mlp.py:3")
    x = b.input("x", TensorType((5, 2, 3), dtype))
    w = b.input("w", TensorType((4, 6 if flatten else 3), dtype), "param")
    ins = [x, w]
    if not no_bias:
        ins.append(b.input("b", TensorType((4,), dtype), "param"))
    y = b.emit("FullyConnected", ins, {"num_hidden": 4, "flatten": flatten,
                                       "no_bias": no_bias})
    z = b.emit("Activation", [y], {"act_type": act})
    r = b.emit("_mul_scalar", [z], {"scalar": 2.0})
    return b.build([r])


@pytest.mark.parametrize("flatten", [True, False])
@pytest.mark.parametrize("no_bias", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fully_connected_runs_blas_with_a_generated_epilogue(flatten, no_bias, dtype):
    g = _mlp_graph(flatten, no_bias, "tanh", dtype)
    exe = graphcc.compile(g, backend="cpu")
    steps = exe.program.forward.steps
    assert [s.kind for s in steps] == ["blas"]
    assert steps[0].epi is not None          # bias, tanh and the scale in one kernel
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal(g.nodes[i].shape).astype(dtype) for i in g.input_ids]
    for got, want in zip(exe(*xs), interpret(g, xs)):
        _close(got.asnumpy(), want)


def test_dot_and_batch_dot_through_blas():
    b = GraphBuilder()
    a = b.input("a", TensorType((3, 4), "float32"))
    c = b.input("c", TensorType((5, 4), "float32"))
    d = b.emit("dot", [a, c], {"transpose_b": True})
    e = b.emit("relu", [d])
    p = b.input("p", TensorType((2, 3, 4), "float32"))
    q = b.input("q", TensorType((2, 3, 4), "float32"))
    r = b.emit("batch_dot", [p, q], {"transpose_a": True})
    g = b.build([e, r])
    exe = graphcc.compile(g, backend="cpu")
    assert [s.kind for s in exe.program.forward.steps] == ["blas", "blas"]
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal(g.nodes[i].shape).astype("float32") for i in g.input_ids]
    for got, want in zip(exe(*xs), interpret(g, xs)):
        np.testing.assert_allclose(got.asnumpy(), want, rtol=1e-5, atol=1e-6)


def test_inplace_outputs_read_their_input_first():
    """The plan puts y = tanh(x) * 2 + x over a dead intermediate; a chain of such steps runs
    in place, each kernel reading an element before overwriting it."""
    b = GraphBuilder()
    x = b.input("x", TensorType((64,), "float32"))
    v = b.emit("exp", [x])
    for _ in range(4):
        w = b.emit("tanh", [v])
        v = b.emit("add", [b.emit("sin", [w]), v])
        v = b.emit("_copy", [b.emit("FullyConnected", [b.emit("_reshape_to", [v], {
            "shape": (8, 8)}), b.input(f"w{_}", TensorType((8, 8), "float32"), "param")],
            {"num_hidden": 8, "no_bias": True})])
        v = b.emit("_reshape_to", [v], {"shape": (64,)})
    g = b.build([b.emit("negative", [v])])
    exe = graphcc.compile(g, backend="cpu")
    assert exe.memory_report().inplace_count > 0
    rng = np.random.default_rng(2)
    xs = [rng.standard_normal(g.nodes[i].shape).astype("float32") * 0.3 for i in g.input_ids]
    for _ in range(2):     # a second call reuses the arena
        for got, want in zip(exe(*xs), interpret(g, xs)):
            np.testing.assert_allclose(got.asnumpy(), want, rtol=1e-5, atol=1e-6)


def test_float16_falls_back_per_kernel():
    b = GraphBuilder()
    x = b.input("x", TensorType((3, 4), "float16"))
    g = b.build([b.emit("relu", [b.emit("_mul_scalar", [x], {"scalar": 2.0})])])
    exe = graphcc.compile(g, backend="cpu")
    assert [s.kind for s in exe.program.forward.steps] == ["fallback"]
    x = np.linspace(-2, 2, 12, dtype=np.float16).reshape(3, 4)
    np.testing.assert_array_equal(exe(x)[0].asnumpy(), np.maximum(x * 2, 0))


def test_a_numba_failure_is_a_codegen_error_naming_the_kernel():
    from graphcc import ops
    row = ops.get("tanh")
    old = row.expr
    object.__setattr__(row, "expr", "no_such_function({0})")   # op rows are frozen
    try:
        b = GraphBuilder(loc="model.py:42")
        x = b.input("x", TensorType((3,), "float32"))
        g = b.build([b.emit("tanh", [b.emit("exp", [x])])])
        exe = graphcc.compile(g, backend="cpu")
        with pytest.raises(CodegenError) as e:
            exe(np.ones(3, np.float32))
        msg = str(e.value)
        assert "tanh" in msg and "model.py:42" in msg and "no_such_function" in msg
        assert "source:" in msg
    finally:
        object.__setattr__(row, "expr", old)


ROW_OPS = [("sum", {}), ("mean", {}), ("max", {}), ("min", {}), ("prod", {}),
           ("softmax", {}), ("log_softmax", {}), ("softmin", {}),
           ("softmax", {"temperature": 2.0}), ("LayerNorm", {"eps": 1e-3})]


@st.composite
def row_groups(draw):
    """A reduction or row-wise op over trailing axes with elementwise ops before and after."""
    name, attrs = draw(st.sampled_from(ROW_OPS))
    dtype = draw(st.sampled_from(["float32", "float64"]))
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=3))) + \
        (draw(st.integers(2, 7)),)
    b = GraphBuilder(loc="rows.py:1")
    x = b.input("x", TensorType(shape, dtype))
    y = b.input("y", TensorType(shape[-1:], dtype))
    v = x
    for _ in range(draw(st.integers(0, 2))):        # prologue at the input's shape
        v = b.emit(draw(st.sampled_from(["tanh", "negative", "square"])), [v])
    if draw(st.booleans()):
        v = b.emit("add", [v, y])
    if draw(st.booleans()):                         # a per-row input read per element
        z = b.input("z", TensorType(shape[:-1] + (1,), dtype))
        v = b.emit("multiply", [v, z])
    if name == "LayerNorm":
        gamma = b.input("gamma", TensorType(shape[-1:], dtype), "param")
        beta = b.input("beta", TensorType(shape[-1:], dtype), "param")
        r = b.emit(name, [v, gamma, beta], attrs)
    elif name in ("softmax", "log_softmax", "softmin"):
        r = b.emit(name, [v], attrs)
    else:
        nax = draw(st.integers(1, len(shape)))
        axes = tuple(range(len(shape) - nax, len(shape)))
        if draw(st.booleans()) and np.prod(shape[:nax]) > 1:
            axes = tuple(range(nax))     # leading axes: a bias gradient's sum over the batch
        r = b.emit(name, [v], {"axis": axes, "keepdims": draw(st.booleans())})
    outs = [r]
    if draw(st.booleans()):                         # epilogue
        e = b.emit(draw(st.sampled_from(["exp", "relu", "sigmoid"])), [r])
        outs = [e] if draw(st.booleans()) else [e, r]
    g = b.build(outs)
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    xs = [rng.uniform(-1.5, 1.5, g.nodes[i].shape).astype(dtype) for i in g.input_ids]
    return g, xs


@settings(max_examples=40)
@given(case=row_groups())
def test_random_row_groups_match_the_interpreter(case):
    g, xs = case
    exe = graphcc.compile(g, backend="cpu")
    steps = exe.program.forward.steps
    red = [s for s in steps if any(exe.graph.nodes[m].op in dict(ROW_OPS) for m in s.members)]
    assert red and all(s.kind == "generated" for s in red), [s.kind for s in steps]
    want = interpret(g, xs)
    tol = 2e-5 if xs[0].dtype == np.float32 else 1e-12
    for got, w in zip(exe(*xs), want):
        np.testing.assert_allclose(got.asnumpy(), w, rtol=tol, atol=tol)


def test_softmax_of_infinities_and_nan_rows():
    b = GraphBuilder()
    x = b.input("x", TensorType((4, 3), "float32"))
    g = b.build([b.emit("softmax", [x]), b.emit("max", [x], {"axis": (1,)})])
    exe = graphcc.compile(g, backend="cpu")
    assert all(s.kind == "generated" for s in exe.program.forward.steps)
    x = np.array([[1, 2, 3], [np.inf, 0, 1], [-np.inf, -np.inf, 0], [np.nan, 1, 2]],
                 np.float32)
    for got, want in zip(exe(x), interpret(g, [x])):
        np.testing.assert_allclose(got.asnumpy(), want, rtol=1e-6, equal_nan=True)


@pytest.mark.parametrize("shared_elsewhere", [False, True, "called twice"])
def test_parameter_gradients_are_written_into_their_buffers(monkeypatch, shared_elsewhere):
    """A training step's backward writes each parameter's gradient straight into
    ``Parameter.grad`` (no fresh gradient array); a parameter that also gets gradient from
    outside the block is accumulated the ordinary way, and both give the eager numbers."""
    from graphcc import autograd, nd
    from graphcc.compiler import Executable
    from graphcc.gluon import nn
    seen = []
    real = Executable.backward

    def spy(self, saved, heads, hook=None, keep_saved=False, out=None):
        res = real(self, saved, heads, hook, keep_saved, out)
        seen.append((out, res))
        return res
    monkeypatch.setattr(Executable, "backward", spy)
    results = []
    for hybrid in (False, True):
        graphcc.random.seed(5)
        net = nn.HybridSequential()
        net.add(nn.Dense(6, in_units=4, activation="relu"), nn.Dense(3, in_units=6))
        net.initialize()
        if hybrid:
            net.hybridize(backend="cpu")
        x = nd.array(np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32))
        w = net[0].weight
        buf = w.grad()._data
        with autograd.record():
            y = net(x).sum()
            if shared_elsewhere == "called twice":     # two compiled backwards, one buffer
                y = y + net(x * 2).sum()
            elif shared_elsewhere:           # the weight is also used outside the block
                y = y + (w.data() * w.data()).sum()
        y.backward()
        assert w.grad()._data is buf
        results.append([p.grad().asnumpy().copy() for p in net.collect_params().values()])
    for a, b in zip(*results):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    out, res = seen[-1]
    wrote = [r.shape for o, r in zip(out, res) if o is not None and r is o]
    if shared_elsewhere == "called twice":
        assert wrote == []
    else:
        assert sorted(wrote) == sorted([(6,), (3, 6), (3,)] +
                                       ([] if shared_elsewhere else [(6, 4)]))


def test_backend_choice_default_flag_and_errors():
    from graphcc import flags
    from graphcc.errors import GraphccError
    b = GraphBuilder()
    x = b.input("x", TensorType((3,), "float32"))
    g = b.build([b.emit("exp", [x])])
    assert graphcc.compile(g).backend == "cpu"
    with flags.override(BACKEND="interp"):
        exe = graphcc.compile(g)
        assert exe.backend == "interp" and not hasattr(exe.program.forward.steps[0], "run")
    with pytest.raises(GraphccError, match="unknown backend 'nope'"):
        graphcc.compile(g, backend="nope")
    from graphcc.gluon import nn
    with pytest.raises(GraphccError, match="unknown backend"):
        nn.Dense(2).hybridize(backend="nope")


def test_check_blames_the_generated_kernel_when_only_the_template_is_wrong():
    """Eager mode and the interpreter use the op's reference implementation; a wrong template
    changes only the generated code: check=True names that kernel and its source file."""
    from graphcc import nd, ops
    from graphcc.errors import CheckError
    from graphcc.gluon import nn
    row = ops.get("tanh")
    old = row.expr
    object.__setattr__(row, "expr", "math.sin({0})")      # op rows are frozen
    try:
        net = nn.HybridSequential()
        net.add(nn.Dense(4, in_units=3, activation="tanh"))
        net.initialize()
        net.hybridize(backend="cpu", check=True)
        with pytest.raises(CheckError) as e:
            net(nd.array(np.linspace(-2, 2, 6, dtype=np.float32).reshape(2, 3)))
        msg = str(e.value)
        assert "differs from the reference interpreter" in msg and "Activation" in msg
        assert "generated source:" in msg
    finally:
        object.__setattr__(row, "expr", old)


@pytest.mark.parametrize("pool_type", ["max", "avg"])
@pytest.mark.parametrize("geom", [((2, 2), (2, 2), (0, 0)), ((3, 3), (1, 1), (1, 1)),
                                  ((3, 2), (2, 1), (1, 0))])
@pytest.mark.parametrize("include_pad", [None, False])
def test_pooling_forward_and_backward_are_generated(pool_type, geom, include_pad):
    k, s, p = geom
    b = GraphBuilder()
    x = b.input("x", TensorType((2, 3, 7, 6), "float32"))
    attrs = {"kernel": k, "stride": s, "pad": p, "pool_type": pool_type,
             "count_include_pad": include_pad}
    y = b.emit("Pooling", [x], attrs)
    gy = b.input("gy", TensorType(g_shape := b.type(y).shape, "float32"))
    dx = b.emit("_pool_backward", [gy, x, y], attrs)
    g = b.build([y, b.emit("relu", [dx])])
    exe = graphcc.compile(g, backend="cpu")
    kinds = [st_.kind for st_ in exe.program.forward.steps]
    assert kinds.count("generated") == len(kinds), kinds
    rng = np.random.default_rng(3)
    xv = rng.standard_normal((2, 3, 7, 6)).astype(np.float32)
    xv[0, 0, :2, :2] = 1.0                      # ties: the first cell takes the gradient
    xv[1, 2, 3, 3] = np.nan
    xs = [xv, rng.standard_normal(g_shape).astype(np.float32)]
    for got, want in zip(exe(*xs), interpret(g, xs)):
        np.testing.assert_allclose(got.asnumpy(), want, rtol=1e-6, atol=1e-6, equal_nan=True)


@pytest.mark.parametrize("geom", [dict(kernel=(3, 3)), dict(kernel=(3, 2), stride=(2, 1)),
                                  dict(kernel=(3, 3), pad=(1, 2), dilate=(2, 1)),
                                  dict(kernel=(1, 1))])
@pytest.mark.parametrize("bias", [True, False])
def test_convolutions_run_generated_im2col_and_blas(geom, bias):
    """Convolution, its weight gradient and its data gradient (a Deconvolution) against the
    reference implementations."""
    b = GraphBuilder()
    x = b.input("x", TensorType((2, 3, 9, 8), "float32"))
    w = b.input("w", TensorType((4, 3) + geom["kernel"], "float32"), "param")
    ins = [x, w] + ([b.input("b", TensorType((4,), "float32"), "param")] if bias else [])
    attrs = dict(geom, num_filter=4, no_bias=not bias)
    y = b.emit("Convolution", ins, attrs)
    gy = b.input("gy", TensorType(b.type(y).shape, "float32"))
    conv_attrs = {k: v for k, v in attrs.items() if k != "no_bias"}
    dw = b.emit("_conv_weight_grad", [gy, x], conv_attrs)
    from graphcc.ops.conv import _conv_adj, _conv_geom
    k, s, d, p = _conv_geom(dict(kernel=geom["kernel"], stride=geom.get("stride", ()),
                                 dilate=geom.get("dilate", ()), pad=geom.get("pad", ())))
    dx = b.emit("Deconvolution", [gy, w], dict(geom, num_filter=3, no_bias=True,
                                              adj=_conv_adj((9, 8), k, s, d, p)))
    g = b.build([b.emit("relu", [y]), dw, dx])
    exe = graphcc.compile(g, backend="cpu")
    kinds = [st_.kind for st_ in exe.program.forward.steps]
    assert kinds.count("blas") == 3 and "fallback" not in kinds, kinds
    rng = np.random.default_rng(4)
    xs = [rng.standard_normal(g.nodes[i].shape).astype(np.float32) for i in g.input_ids]
    for got, want in zip(exe(*xs), interpret(g, xs)):
        np.testing.assert_allclose(got.asnumpy(), want, rtol=2e-5, atol=2e-5)
