"""The pass infrastructure and every pass in DEFAULT_PIPELINE: semantics kept (reference
interpreter before and after, on random graphs), the driver's verification, timing, dumps,
disabling, printing and error reports."""
import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import graphcc
from graphcc import flags
from graphcc.errors import GraphccError, PassError
from graphcc.ir import Graph, GraphBuilder, interpret, verify
from graphcc.ir.types import TensorType
from graphcc.passes import (DEFAULT_PIPELINE, PASSES, gradient, register_pass, run_pipeline,
                            unregister_pass)
from strategies import graphs_with_inputs

F32 = "float32"
SEMANTIC_PASSES = [p for p in dict.fromkeys(DEFAULT_PIPELINE) if p != "gradient"]


def _close(a, b):
    for x, y in zip(a, b):
        np.testing.assert_allclose(y, x, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", SEMANTIC_PASSES)
@given(case=graphs_with_inputs(max_nodes=14))
def test_pass_keeps_semantics(name, case):
    g, xs = case
    out = run_pipeline(g, [name]).graph
    verify(out)
    assert out.input_names == g.input_names
    _close(interpret(g, xs), interpret(out, xs))


@given(case=graphs_with_inputs(max_nodes=14))
def test_default_pipeline_keeps_semantics(case):
    g, xs = case
    exe = graphcc.compile(g)
    _close(interpret(g, xs), [o.asnumpy() for o in exe(*xs)])


@given(case=graphs_with_inputs(max_nodes=10), seed=st.integers(0, 100))
def test_gradient_pass_matches_finite_differences(case, seed):
    g, xs = case
    xs = [x.astype(np.float64) for x in xs]
    b = GraphBuilder()
    ids = [b.input(n.attr("name"), TensorType(n.shape, "float64"), n.attr("role"))
           for n in (g.nodes[i] for i in g.input_ids)]
    remap = dict(zip(g.input_ids, ids))
    for i, n in enumerate(g.nodes):
        if n.op == "const":
            remap[i] = b.const(g.consts[n.attr("name")].astype(np.float64))
        elif n.op != "input":
            remap[i] = b.emit(n.op, [remap[j] for j in n.inputs], dict(n.attrs))
    g64 = b.build([remap[o] for o in g.outputs])
    names = list(g64.input_names)
    joint, info = gradient(g64, names)
    rng = np.random.default_rng(seed)
    heads = [rng.uniform(0.5, 1.5, g64.nodes[o].shape) for o in g64.outputs]
    outs = interpret(joint, xs + heads)
    grads = outs[len(g64.outputs):]

    def f(*arrays):
        return sum(float(np.sum(o * h)) for o, h in zip(interpret(g64, list(arrays)), heads))
    eps = 1e-6
    for k, x in enumerate(xs):
        num = np.zeros_like(x)
        for idx in np.ndindex(*x.shape):
            xp = [a.copy() for a in xs]
            xm = [a.copy() for a in xs]
            xp[k][idx] += eps
            xm[k][idx] -= eps
            num[idx] = (f(*xp) - f(*xm)) / (2 * eps)
        # max/min/relu/abs have kinks: compare only where the graph is smooth enough
        np.testing.assert_allclose(grads[k], num, rtol=1e-3, atol=1e-3)


def test_gradient_accumulates_shared_values_and_uses_minimal_values():
    b = GraphBuilder()
    x = b.input("x", TensorType((3,), F32))
    y = b.emit("exp", [x])
    z = b.emit("add", [y, y])        # x used through y twice
    g = b.build([z])
    joint, _ = gradient(g, ["x"])
    xs = np.array([0.1, 0.2, 0.3], np.float32)
    outs = interpret(joint, [xs, np.ones(3, np.float32)])
    np.testing.assert_allclose(outs[1], 2 * np.exp(xs), rtol=1e-6)
    # exp's rule reads its output, not its input: the backward never reads %0 (x)
    from graphcc.ir.phases import forward_region
    fwd = forward_region(joint)
    bwd_reads = {j for i, n in enumerate(joint.nodes) if i not in fwd for j in n.inputs}
    assert 0 not in bwd_reads


def test_register_pass_rejects_duplicates_and_unknown_names():
    @register_pass("test_noop_pass")
    def noop(g):
        return g
    try:
        with pytest.raises(GraphccError, match="already registered"):
            register_pass("test_noop_pass")(noop)
        with pytest.raises(GraphccError, match="unknown pass"):
            run_pipeline(_small(), ["no_such_pass"])
    finally:
        unregister_pass("test_noop_pass")


def _small():
    b = GraphBuilder()
    x = b.input("x", TensorType((2, 3), F32))
    y = b.emit("relu", [x], loc="model.py:3")
    z = b.emit("_mul_scalar", [y], {"scalar": 1.0}, loc="model.py:4")
    w = b.emit("exp", [z], loc="model.py:5")
    return b.build([w])


def test_driver_times_every_pass_and_collects_analyses():
    res = run_pipeline(_small(), DEFAULT_PIPELINE)
    names = [r.name for r in res.records]
    assert names == list(DEFAULT_PIPELINE)      # every pass, in order, once
    assert all(r.seconds >= 0 for r in res.records)
    assert "plan_memory" in res.analyses
    assert "simplify" in res.timing_table()


def test_driver_disable_from_environment_flag():
    with flags.override(DISABLE="simplify"):
        res = run_pipeline(_small(), ["simplify", "dce"])
    assert res.records[0].skipped
    assert any(n.op == "_mul_scalar" for n in res.graph.nodes)
    res = run_pipeline(_small(), ["simplify", "dce"])
    assert not any(n.op == "_mul_scalar" for n in res.graph.nodes)
    # a training compile without its gradient pass returned no gradients (zeros upstream)
    with flags.override(DISABLE="gradient"), pytest.raises(GraphccError, match="gradient"):
        graphcc.compile(_small(), wrt=["x"])


def test_driver_dumps_numbered_files(tmp_path):
    with flags.override(DUMP_DIR=str(tmp_path)):
        run_pipeline(_small(), ["simplify", "dce"])
    files = sorted(os.listdir(tmp_path))
    assert files == ["01_simplify.after.txt", "01_simplify.before.txt", "02_dce.after.txt",
                     "02_dce.before.txt"]
    assert "relu" in (tmp_path / "01_simplify.before.txt").read_text()


def test_driver_prints_before_and_after(capsys):
    with flags.override(PRINT_BEFORE="dce", PRINT_AFTER="all"):
        run_pipeline(_small(), ["simplify", "dce"])
    err = capsys.readouterr().err
    assert "IR before dce" in err and "IR after simplify" in err and "IR after dce" in err


def test_driver_reports_a_pass_that_breaks_the_graph():
    def bad_types(g: Graph) -> Graph:
        from dataclasses import replace
        nodes = list(g.nodes)
        nodes[2] = replace(nodes[2], shape=(7, 7))
        return Graph(tuple(nodes), g.outputs, g.consts)
    with flags.override(VERIFY=True):
        with pytest.raises(PassError) as e:
            run_pipeline(_small(), ["simplify", bad_types])
    text = str(e.value)
    assert "bad_types" in text and "simplify" in text and "model.py:5" in text
    assert "> %2" in text


def test_driver_reports_a_pass_that_crashes():
    def crash(g):
        raise ZeroDivisionError("boom")
    with pytest.raises(PassError, match="'crash' failed: boom"):
        run_pipeline(_small(), ["dce", crash])


def test_pipeline_is_editable_per_call():
    calls = []

    def spy(g):
        calls.append(len(g.nodes))
        return g
    pipeline = list(DEFAULT_PIPELINE)
    pipeline.insert(pipeline.index("dce") + 1, spy)
    exe = graphcc.compile(_small(), passes=pipeline)
    assert calls and exe(np.ones((2, 3), np.float32))[0].shape == (2, 3)


def test_simplify_rules_fire():
    b = GraphBuilder()
    x = b.input("x", TensorType((2, 3), F32))
    a = b.emit("negative", [b.emit("negative", [x])])
    c = b.emit("relu", [b.emit("relu", [a])])
    d = b.emit("_plus_scalar", [c], {"scalar": 0.0})
    e = b.emit("transpose", [b.emit("transpose", [d], {"axes": (1, 0)})], {"axes": (1, 0)})
    f = b.emit("_reshape_to", [b.emit("_reshape_to", [e], {"shape": (6,)})],
               {"shape": (2, 3)})
    g = b.build([b.emit("exp", [f])])
    out = run_pipeline(g, ["simplify", "dce"]).graph
    assert [n.op for n in out.nodes] == ["input", "relu", "exp"]


def test_cse_and_constant_folding():
    b = GraphBuilder()
    x = b.input("x", TensorType((3,), F32))
    e1 = b.emit("exp", [x])
    e2 = b.emit("exp", [x])
    ones = b.emit("ones", [], {"shape": (3,), "dtype": F32})
    two = b.emit("_mul_scalar", [ones], {"scalar": 2.0})
    s = b.emit("add", [b.emit("add", [e1, e2]), two])
    g = b.build([s])
    out = run_pipeline(g, ["constant_fold", "cse", "dce"]).graph
    assert sum(n.op == "exp" for n in out.nodes) == 1
    assert any(n.op == "const" for n in out.nodes)
    xs = [np.array([0.0, 1.0, 2.0], np.float32)]
    _close(interpret(g, xs), interpret(out, xs))


def test_cse_never_merges_random_ops():
    b = GraphBuilder()
    x = b.input("x", TensorType((3,), F32))
    r1 = b.emit("_random_uniform", [], {"shape": (3,)})
    r2 = b.emit("_random_uniform", [], {"shape": (3,)})
    g = b.build([b.emit("add", [b.emit("add", [r1, r2]), x])])
    out = run_pipeline(g, ["cse", "constant_fold", "dce"]).graph
    assert sum(n.op == "_random_uniform" for n in out.nodes) == 2


def test_schedule_and_pipeline_handle_long_chains():
    # 3000 elementwise ops feeding one reduction: all of them are "shrinking" nodes that the
    # schedule pass emits as soon as their inputs exist (once by deep recursion)
    b = GraphBuilder()
    v = b.input("x", TensorType((2, 2), F32))
    for _ in range(3000):
        v = b.emit("_plus_scalar", [v], {"scalar": 0.5})
    g = b.build([b.emit("sum", [v])])
    out = run_pipeline(g, ["schedule"]).graph
    assert [n.op for n in out.nodes] == [n.op for n in g.nodes]
    xs = [np.ones((2, 2), np.float32)]
    np.testing.assert_allclose(graphcc.compile(g)(*xs)[0].asnumpy(), [4 * 1501.0])

def test_every_default_pass_is_registered():
    for p in DEFAULT_PIPELINE:
        assert p in PASSES


def test_compile_and_trace_reject_bad_arguments_clearly():
    g = _small()
    for passes in (5, "fuse"):                 # 5 was a TypeError; "fuse" ran passes f, u...
        with pytest.raises(GraphccError, match="passes"):
            graphcc.compile(g, passes=passes)
    with pytest.raises(GraphccError, match="recompute"):
        graphcc.compile(g, wrt=[g.input_names[0]], recompute="often")
    with pytest.raises(GraphccError, match="needs a function"):
        graphcc.trace(5, np.ones(2, np.float32))
    for result in (3, None, "x"):
        with pytest.raises(GraphccError, match="must return arrays"):
            graphcc.trace(lambda x, r=result: r, np.ones(2, np.float32))


def test_split_gradients_accumulate_into_one_buffer():
    """The gradient of many slices of one value is summed with _slice_add, in place: one
    full-size buffer instead of one per slice."""
    b = GraphBuilder()
    x = b.input("x", TensorType((8, 4), F32))
    parts = [b.emit("slice_axis", [x], {"axis": 0, "begin": k, "end": k + 1}) for k in range(8)]
    acc = b.emit("tanh", [parts[0]])
    for p in parts[1:]:
        acc = b.emit("add", [acc, b.emit("tanh", [p])])
    g = b.build([acc])
    exe = graphcc.compile(g, wrt=["x"])
    ops_used = [n.op for n in exe.graph.nodes]
    assert ops_used.count("_slice_add") == 7 and "_slice_assign" in ops_used
    xs = np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)
    outs, saved = exe.forward([xs])
    grad, = exe.backward(saved, [np.ones((1, 4), np.float32)])
    np.testing.assert_allclose(grad, 1 - np.tanh(xs) ** 2, rtol=1e-5)
    big = [s for s in exe.plan.storages if exe.graph.nodes[s.root].shape == (8, 4)]
    assert len(big) <= 2
