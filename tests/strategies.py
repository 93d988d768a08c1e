"""Hypothesis strategies for random graphs (used by IR, pass and planner tests)."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from graphcc.ir import GraphBuilder
from graphcc.ir.types import TensorType

UNARY = ["negative", "abs", "exp", "tanh", "sigmoid", "relu", "square", "sin", "softsign",
         "_copy"]
BINARY = ["add", "subtract", "multiply", "maximum", "minimum"]
SCALAR = ["_plus_scalar", "_mul_scalar", "_rminus_scalar", "_maximum_scalar"]
REDUCE = ["sum", "mean", "max"]


@st.composite
def graphs_with_inputs(draw, max_nodes=12, max_inputs=3, shape=None):
    """A random well-typed graph and NumPy inputs for it.

    Values all share one shape or are reductions/broadcasts of it, so binary ops broadcast."""
    base = shape or draw(st.sampled_from([(2, 3), (3,), (2, 1, 3), (4, 2)]))
    b = GraphBuilder(loc="random.py:1")
    vals = []
    n_in = draw(st.integers(1, max_inputs))
    for k in range(n_in):
        s = base if k == 0 or draw(st.booleans()) else tuple(
            1 if draw(st.booleans()) else d for d in base)
        vals.append(b.input(f"x{k}", TensorType(s, "float32"),
                            draw(st.sampled_from(["data", "param"]))))
    n = draw(st.integers(1, max_nodes))
    for _ in range(n):
        kind = draw(st.sampled_from(["unary", "binary", "scalar", "reduce", "reshape", "const",
                                     "opaque"]))
        a = draw(st.sampled_from(vals))
        ta = b.type(a)
        if kind == "unary":
            vals.append(b.emit(draw(st.sampled_from(UNARY)), [a]))
        elif kind == "binary":
            c = draw(st.sampled_from(vals))
            try:
                np.broadcast_shapes(ta.shape, b.type(c).shape)
            except ValueError:
                continue
            vals.append(b.emit(draw(st.sampled_from(BINARY)), [a, c]))
        elif kind == "scalar":
            s = draw(st.sampled_from([0.5, 1.0, 2.0, -1.0, 0.0]))
            vals.append(b.emit(draw(st.sampled_from(SCALAR)), [a], {"scalar": s}))
        elif kind == "reduce" and ta.ndim:
            ax = draw(st.integers(0, ta.ndim - 1))
            vals.append(b.emit(draw(st.sampled_from(REDUCE)), [a],
                              {"axis": (ax,), "keepdims": True}))
        elif kind == "const":       # constant subgraphs give constant_fold work
            c = b.const(np.full(ta.shape, draw(st.sampled_from([0.5, -1.0, 2.0])), np.float32))
            vals.append(b.emit(draw(st.sampled_from(UNARY)), [c]))
        elif kind == "opaque" and ta.ndim:       # an op fusion cannot put in a loop
            vals.append(b.emit("flip", [a], {"axis": (draw(st.integers(0, ta.ndim - 1)),)}))
        elif kind == "reshape":
            vals.append(b.emit("_reshape_to", [a], {"shape": (ta.size,)}))
            vals.append(b.emit("_reshape_to", [vals[-1]], {"shape": ta.shape}))
    n_out = draw(st.integers(1, min(3, len(vals))))
    outs = draw(st.lists(st.sampled_from(vals[n_in:] or vals), min_size=1, max_size=n_out))
    g = b.build(outs)
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    inputs = [rng.uniform(-2, 2, g.nodes[i].shape).astype(np.float32) for i in g.input_ids]
    return g, inputs


def graph_types(g):
    return [TensorType(n.shape, n.dtype) for n in g.nodes]
