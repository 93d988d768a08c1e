"""The memory planner: live values never overlap (hypothesis, random graphs and schedules),
plans sit between the peak-live bound and naive, in-place/views/sharing happen, the arena
executor gives the reference interpreter's results, and the report has every variant."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import graphcc
from graphcc.errors import GraphccError, PlanError
from graphcc.ir import GraphBuilder, interpret
from graphcc.ir.types import TensorType
from graphcc.passes import gradient, run_pipeline
from graphcc.passes.fusion import fuse
from graphcc.passes.planner import ALIGN, lifetimes, plan_memory, verify_plan
from strategies import graphs_with_inputs

F32 = "float32"


@pytest.mark.parametrize("algorithm", ["arena", "mxnet", "separate"])
@pytest.mark.parametrize("fused", [False, True])
@given(case=graphs_with_inputs(max_nodes=16))
def test_plans_never_overlap_live_values(algorithm, fused, case):
    g, _ = case
    if fused:
        g = fuse(g)
    plan = plan_memory(g, algorithm)
    verify_plan(g, plan)
    n = len(plan.storages)
    assert plan.peak_live_bytes <= plan.arena_bytes
    if algorithm == "arena":
        assert plan.arena_bytes <= sum(-(-s.size // ALIGN) * ALIGN for s in plan.storages)
        mx = plan_memory(g, "mxnet")
        assert plan.arena_bytes <= mx.arena_bytes       # never worse than MXNet's planner
    assert n == 0 or plan.arena_bytes <= plan.naive_bytes + n * ALIGN


@given(case=graphs_with_inputs(max_nodes=16), data=st.data())
def test_random_schedules(case, data):
    """Any topological order of the same graph gets a valid plan."""
    g, xs = case
    from dataclasses import replace
    from graphcc.ir import Graph
    order = list(g.input_ids)           # inputs keep their order (the call signature)
    placed = set(order)
    pending = [i for i in range(len(g.nodes)) if i not in placed]
    while pending:
        ready = [i for i in pending if all(j in placed for j in g.nodes[i].inputs)]
        i = data.draw(st.sampled_from(ready))
        pending.remove(i)
        placed.add(i)
        order.append(i)
    remap = {old: new for new, old in enumerate(order)}
    g2 = Graph(tuple(replace(g.nodes[o], inputs=tuple(remap[j] for j in g.nodes[o].inputs))
                     for o in order), tuple(remap[o] for o in g.outputs), g.consts)
    plan = plan_memory(g2)
    verify_plan(g2, plan)
    exe = graphcc.compile(g2, passes=["plan_memory"])
    for a, b in zip(interpret(g, xs), exe(*xs)):
        np.testing.assert_allclose(b.asnumpy(), a, rtol=1e-6)


@given(case=graphs_with_inputs(max_nodes=16), seed=st.integers(0, 100),
       recompute=st.sampled_from([None, True, 2]))
def test_training_executable_matches_the_reference_interpreter(case, seed, recompute):
    """Forward and backward through the whole pipeline (fusion, schedule, recompute, the
    joint plan on one arena) give the unoptimised joint graph's values, also when the
    backward runs twice on one forward (the first keeping the saved values)."""
    g, xs = case
    names = list(g.input_names)
    joint, _ = gradient(g, names)
    rng = np.random.default_rng(seed)
    heads = [rng.uniform(0.5, 1.5, g.nodes[o].shape).astype(np.float32) for o in g.outputs]
    want = interpret(joint, xs + heads)
    exe = graphcc.compile(g, wrt=names, recompute=recompute)
    outs, saved = exe.forward(xs)
    for a, b in zip(want[:len(g.outputs)], outs):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    first = exe.backward(saved, heads, keep_saved=True)
    second = exe.backward(saved, heads)
    for a, b, c in zip(want[len(g.outputs):], first, second):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(c, a, rtol=1e-5, atol=1e-5)
    if exe.plan is not None:
        with pytest.raises(GraphccError, match="keep_saved"):
            exe.backward(saved, heads)          # the arena was reused by the last backward


def test_verifier_catches_overlap():
    b = GraphBuilder()
    x = b.input("x", TensorType((64,), F32))
    y = b.emit("exp", [x])
    z = b.emit("sin", [x])
    g = b.build([b.emit("add", [y, z])])
    plan = plan_memory(g)
    verify_plan(g, plan)
    for s in plan.storages:
        s.offset = 0                 # everything at one offset: y and z are alive together
    with pytest.raises(PlanError, match="alive together"):
        verify_plan(g, plan)


def _chain(n=6, width=256):
    b = GraphBuilder()
    x = b.input("x", TensorType((width,), F32))
    v = x
    for k in range(n):
        v = b.emit(["exp", "sin", "tanh"][k % 3], [v])
    return b.build([v])


def test_inplace_chain_needs_one_buffer():
    g = _chain()
    plan = plan_memory(g)
    assert plan.inplace_count == 5
    assert plan.arena_bytes == 256 * 4
    assert plan.naive_bytes == 6 * 256 * 4


def test_fused_chain_materialises_only_its_output():
    g = fuse(_chain())
    assert len(g.kernels) == 1
    lt = lifetimes(g)
    assert lt.materialized == [g.outputs[0]]


def test_views_share_storage_even_with_other_readers():
    b = GraphBuilder()
    x = b.input("x", TensorType((4, 8), F32))
    y = b.emit("exp", [x])
    r = b.emit("_reshape_to", [y], {"shape": (32,)})
    s = b.emit("sum", [y], {"axis": 1})
    g = b.build([b.emit("exp", [r]), s])
    plan = plan_memory(g)
    assert plan.storage_of[r] == plan.storage_of[y]
    assert plan.view_count == 1
    verify_plan(g, plan)


def test_arena_executor_uses_planned_memory():
    g = _chain(4, 1024)
    exe = graphcc.compile(g, passes=["plan_memory"])
    x = np.linspace(-1, 1, 1024, dtype=np.float32)
    np.testing.assert_allclose(exe(x)[0].asnumpy(), interpret(g, [x])[0], rtol=1e-6)
    assert exe.plan is not None and exe.plan.arena_bytes == 1024 * 4


def test_training_plan_keeps_saved_values_and_recompute_reduces_it():
    b = GraphBuilder()
    x = b.input("x", TensorType((16, 64), F32))
    ws = [b.input(f"w{k}", TensorType((64, 64), F32), "param") for k in range(24)]
    v = x
    for w in ws:
        v = b.emit("Activation", [b.emit("dot", [v, w])], {"act_type": "tanh"})
    g = b.build([b.emit("sum", [v])])
    names = [f"w{k}" for k in range(24)]
    plain = graphcc.compile(g, wrt=names)
    rec = graphcc.compile(g, wrt=names, recompute=True)
    r1, r2 = plain.memory_report(), rec.memory_report()
    assert r1.training and r1.planned_bytes <= r1.naive_bytes / 2
    assert r2.planned_bytes * 1.8 <= r1.planned_bytes
    assert r1.variants["recompute"] == r2.planned_bytes
    rng = np.random.default_rng(0)
    inputs = [rng.normal(size=(16, 64)).astype(np.float32)] + \
        [(rng.normal(size=(64, 64)) / 8).astype(np.float32) for _ in range(24)]
    o1, s1 = plain.forward(inputs)
    o2, s2 = rec.forward(inputs)
    g1 = plain.backward(s1, [np.ones((1,), np.float32)])
    g2 = rec.backward(s2, [np.ones((1,), np.float32)])
    for a, c in zip(g1, g2):
        np.testing.assert_allclose(c, a, rtol=1e-5, atol=1e-6)
    assert len(rec.program.saved) < len(plain.program.saved)


def test_report_has_every_variant_and_a_table():
    exe = graphcc.compile(_chain(), wrt=["x"])
    rep = exe.memory_report()
    for k in ("naive", "inplace", "share", "inplace+share", "arena", "recompute"):
        assert k in rep.variants
    assert rep.planned_bytes == rep.variants["arena"]
    assert rep.peak_live_bytes <= rep.planned_bytes <= rep.naive_bytes
    text = str(rep)
    assert "peak-live bound" in text and "inplace+share" in text


def test_debug_line(capsys):
    from graphcc import flags
    with flags.override(DEBUG=1):
        graphcc.compile(_chain())
    err = capsys.readouterr().err
    assert "nodes" in err and "kernels" in err and "planned" in err


def test_pipeline_without_planning_still_runs():
    g = _chain()
    exe = graphcc.compile(g, passes=["dce"])
    x = np.zeros(256, np.float32)
    np.testing.assert_allclose(exe(x)[0].asnumpy(), interpret(g, [x])[0], rtol=1e-6)
    assert exe.memory_report().planned_bytes > 0
    _ = run_pipeline


@pytest.mark.parametrize("after", [["dce"], ["fuse"], ["schedule"], ["cse", "dce"]])
def test_passes_after_plan_memory_do_not_run_on_a_stale_plan(after):
    # the plan names values by node index: a pass that rewrites the graph after planning
    # made the executor index past the graph or store values in the wrong slots
    b = GraphBuilder()
    x = b.input("x", TensorType((4, 8), F32))
    b.emit("exp", [b.emit("sum", [x], {"axis": (1,), "keepdims": True})])    # dead
    y = b.emit("sin", [x])
    w = b.emit("add", [b.emit("exp", [y]), y])
    g = b.build([w, b.emit("sum", [w], {"axis": (0,)})])
    xs = [np.random.default_rng(0).uniform(-1, 1, (4, 8)).astype(np.float32)]
    exe = graphcc.compile(g, passes=["plan_memory"] + after)
    for want, got in zip(interpret(g, xs), exe(*xs)):
        np.testing.assert_allclose(got.asnumpy(), want, rtol=1e-6)
    # the driver planned the final graph again: the plan and its report describe what runs
    assert exe.plan is not None and exe.plan.graph is exe.graph
    assert exe.memory_report().planned_bytes == exe.plan.arena_bytes


def test_a_pass_that_drops_the_kernels_gets_them_back():
    from graphcc.ir import Graph

    def rebuild(g):          # a rewrite that rebuilds the graph and forgets Graph.kernels
        return Graph(g.nodes, g.outputs, g.consts)
    b = GraphBuilder()
    x = b.input("x", TensorType((4, 8), F32))
    g = b.build([b.emit("exp", [b.emit("sin", [x])])])
    exe = graphcc.compile(g, passes=["fuse", rebuild, "plan_memory"])
    assert exe.graph.kernels, "the kernels were silently dropped"
    names = [r.name for r in exe.pipeline.records]
    assert names == ["fuse", "rebuild", "fuse (again: rebuild dropped the kernels)",
                     "plan_memory"]
