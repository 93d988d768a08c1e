"""Kernel records: what fusion found is kept in the IR (kind, domain, reduced axes, anchor,
inputs, outputs), pinned for zoo graphs, carried through JSON, and checked by the verifier."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

import graphcc
from graphcc.errors import VerifyError
from graphcc.ir import Graph, GraphBuilder, loads, dumps, verify
from graphcc.ir.types import TensorType

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))


def _compiled(wid, batch):
    from models import make
    w = make(wid, batch)
    x = w.nd_inputs()[0]
    w.net.hybridize()
    w.net(x)
    return w.net._cached.last.exe.graph


def test_w4_is_one_reduction_kernel_with_its_whole_epilogue():
    g = _compiled("W4", 4)
    assert len(g.kernels) == 1
    k = g.kernels[0]
    ops_ = [g.nodes[m].op for m in k]
    assert k.kind == "reduction" and ops_[0] == "LayerNorm" and len(k) == 13
    assert ops_.count("tanh") == 1 and ops_[-1] == "add"
    assert k.domain == (4, 1024) and k.reduce_axes == (1,)
    assert k.outputs == (g.outputs[0],)           # nothing else is stored
    assert sorted(g.nodes[i].op for i in k.inputs) == ["input"] * 5


def test_w1_matmuls_carry_their_bias_and_relu():
    g = _compiled("W1", 2)
    kinds = [(k.kind, [g.nodes[m].op for m in k], g.nodes[k.anchor].op) for k in g.kernels]
    assert kinds == [("opaque", ["FullyConnected", "Activation"], "FullyConnected")] * 2
    assert all(k.domain == (2, 512) for k in g.kernels)


def test_records_survive_json_and_stale_ones_are_caught():
    b = GraphBuilder()
    x = b.input("x", TensorType((3, 4), "float32"))
    y = b.emit("exp", [b.emit("sin", [x])])
    s = b.emit("sum", [y], {"axis": (1,)})
    g = graphcc.compile(b.build([s]), passes=["fuse"]).graph
    k = g.kernels[0]
    assert [g.nodes[m].op for m in k] == ["sin", "exp", "sum"]
    assert k.kind == "reduction" and k.reduce_axes == (1,) and k.outputs == g.outputs
    back = loads(dumps(g))
    assert back.kernels == g.kernels and back.kernels[0].kind == "reduction"
    assert back.kernels[0].domain == (3, 4)
    # a pass that makes a value inside the kernel an output without updating the record
    stale = Graph(g.nodes, g.outputs + (k[1],), g.consts, g.kernels)
    with pytest.raises(VerifyError, match="stale"):
        verify(stale)
