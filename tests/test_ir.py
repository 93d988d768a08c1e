"""The IR: printer (golden text), JSON round trip, verifier, networkx view, interpreter."""
import dataclasses

import networkx as nx
import numpy as np
import pytest
from hypothesis import given

from graphcc import nd
from graphcc.errors import ShapeError, VerifyError
from graphcc.ir import Graph, GraphBuilder, Node, dumps, interpret, loads, to_networkx, verify
from graphcc.ir.types import TensorType
from strategies import graphs_with_inputs

F32 = "float32"


def small_graph():
    b = GraphBuilder()
    x = b.input("data", TensorType((4, 8), F32))
    w = b.input("bias", TensorType((8,), F32), "param")
    y = b.emit("add", [x, w], loc="model.py:12")
    z = b.emit("relu", [y], loc="model.py:13")
    s = b.emit("sum", [z], {"axis": 1, "keepdims": True})
    c = b.emit("clip", [z], {"a_min": 0.0, "a_max": 2.5})
    return b.build([z, s, c])


GOLDEN = """\
graph(%0 data: f32[4,8], %1 bias param: f32[8]) {
  %2: f32[4,8] = add %0, %1                      # model.py:12
  %3: f32[4,8] = relu %2                         # model.py:13
  %4: f32[4,1] = sum[axis=(1,), keepdims=True] %3
  %5: f32[4,8] = clip[a_max=2.5, a_min=0.0] %3
  return %3, %4, %5 }"""


def test_printer_golden():
    assert str(small_graph()) == GOLDEN


def test_interpreter_matches_hand_numpy():
    g = small_graph()
    x = np.linspace(-2, 2, 32, dtype=np.float32).reshape(4, 8)
    w = np.linspace(-1, 1, 8, dtype=np.float32)
    z, s, c = interpret(g, [x, w])
    want = np.where(x + w > 0, x + w, 0)
    np.testing.assert_allclose(z, want)
    np.testing.assert_allclose(s, want.sum(axis=1, keepdims=True), rtol=1e-6)
    np.testing.assert_allclose(c, np.where(want > 2.5, 2.5, want))
    by_name = interpret(g, {"data": x, "bias": w})
    np.testing.assert_allclose(by_name[0], z)


@given(case=graphs_with_inputs())
def test_json_roundtrip_is_exact(case):
    g, xs = case
    verify(g)
    g2 = loads(dumps(g))
    assert g2 == g
    assert str(g2) == str(g)
    assert dumps(g2) == dumps(g)
    for a, b in zip(interpret(g, xs), interpret(g2, xs)):
        np.testing.assert_array_equal(a, b)


def test_json_roundtrip_keeps_constants_and_tuple_attrs():
    b = GraphBuilder()
    x = b.input("x", TensorType((2, 3), F32))
    c = b.const(np.arange(6, dtype=np.float64).reshape(2, 3) / 7)
    y = b.emit("slice", [x], {"begin": (0, None), "end": (1, None), "step": (1, -1)})
    z = b.emit("cast", [c], {"dtype": "float32"})
    g = b.build([y, z])
    g2 = loads(dumps(g, indent=1))
    assert g2 == g
    assert g2.consts["c0"].dtype == np.float64
    assert g2.nodes[y].attr("begin") == (0, None)


@given(case=graphs_with_inputs())
def test_networkx_view(case):
    g, _ = case
    d = to_networkx(g)
    assert d.number_of_nodes() == len(g.nodes)
    assert nx.is_directed_acyclic_graph(d)
    assert sum(len(s["slots"]) for _, _, s in d.edges(data=True)) == sum(
        len(n.inputs) for n in g.nodes)
    order = list(nx.topological_sort(d))
    pos = {v: k for k, v in enumerate(order)}
    for i, n in enumerate(g.nodes):
        assert all(pos[j] < pos[i] for j in n.inputs)


def _replace(g, i, **kw):
    nodes = list(g.nodes)
    nodes[i] = dataclasses.replace(nodes[i], **kw)
    return Graph(tuple(nodes), g.outputs, g.consts)


@pytest.mark.parametrize("broken, message", [
    (lambda g: _replace(g, 3, inputs=(4,)), "SSA order"),
    (lambda g: _replace(g, 3, shape=(4, 9)), "recorded type"),
    (lambda g: _replace(g, 3, dtype="float64"), "recorded type"),
    (lambda g: _replace(g, 3, op="no_such_op"), "unknown op"),
    (lambda g: _replace(g, 3, op="broadcast_add", inputs=(0, 1)), "canonical name"),
    (lambda g: _replace(g, 4, attrs=(("axis", (1,)),)), "normalised"),
    (lambda g: _replace(g, 1, attrs=(("name", "data"), ("role", "param"))), "named 'data'"),
    (lambda g: Graph(g.nodes, (17,), g.consts), "does not exist"),
    (lambda g: Graph(g.nodes, (), g.consts), "no outputs"),
])
def test_verifier_catches(broken, message):
    g = small_graph()
    verify(g)
    with pytest.raises(VerifyError, match=message):
        verify(broken(g))


def test_verifier_names_location_and_context():
    g = _replace(small_graph(), 3, shape=(2, 2))
    with pytest.raises(VerifyError) as e:
        verify(g)
    text = str(e.value)
    assert "model.py:13" in text and "> %3" in text


def test_keep_remaps_indices():
    g = small_graph()
    k = g.keep([0, 1, 2, 3], outputs=[3])
    verify(k)
    assert [n.op for n in k.nodes] == ["input", "input", "add", "relu"]


def test_builder_rejects_bad_shapes_with_location():
    b = GraphBuilder(loc="net.py:7")
    x = b.input("x", TensorType((2, 3), F32))
    y = b.input("y", TensorType((4,), F32))
    with pytest.raises(ShapeError) as e:
        b.emit("add", [x, y])
    assert "add" in str(e.value) and "(2, 3)" in str(e.value) and "net.py:7" in str(e.value)


def test_node_is_hashable_and_frozen():
    n = Node("relu", (0,), (2,), F32)
    assert hash(n) == hash(Node("relu", (0,), (2,), F32))
    with pytest.raises(dataclasses.FrozenInstanceError):
        n.op = "exp"


def test_interpreter_agrees_with_eager():
    g = small_graph()
    x = np.random.default_rng(0).normal(size=(4, 8)).astype(np.float32)
    w = np.random.default_rng(1).normal(size=(8,)).astype(np.float32)
    z = nd.relu(nd.array(x) + nd.array(w))
    np.testing.assert_array_equal(interpret(g, [x, w])[0], z.asnumpy())
    np.testing.assert_array_equal(z.asnumpy(), np.maximum(x + w, 0))   # and NumPy by hand


def test_graph_to_symbol_and_back():
    from graphcc.frontend.symbol import from_graph, to_graph
    g = small_graph()
    sym = from_graph(g)
    assert len(sym.list_outputs()) == 3
    assert sym.list_arguments() == ["data", "bias"]
    g2, variables = to_graph([sym], [v for v in variables_of(sym) if v.name == "data"])
    x = np.linspace(-1, 1, 32, dtype=np.float32).reshape(4, 8)
    w = np.linspace(-2, 2, 8, dtype=np.float32)
    for a, b in zip(interpret(g, [x, w]), interpret(g2, [x, w])):
        np.testing.assert_array_equal(a, b)


def variables_of(sym):
    from graphcc.frontend.symbol import topo
    return [n for n in topo(sym._nodes) if n.is_var]
