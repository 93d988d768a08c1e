"""Helpers for op tests: hypothesis strategies, eager calls and finite-difference gradients.

Gradient checks compare the op's gradient rule (run through autograd) with central finite
differences of the op's forward computation in float64; forward checks compare with NumPy
written out in the test itself.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import graphcc as mx
from graphcc import autograd, nd


def shapes(min_dims=0, max_dims=3, min_side=1, max_side=4):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def floats_array(shape, lo=-3.0, hi=3.0, dtype=np.float64):
    return hnp.arrays(dtype, shape, elements=st.floats(lo, hi, allow_nan=False,
                                                       allow_infinity=False, width=64))


def broadcast_pairs(max_dims=3, max_side=4):
    """Two shapes that broadcast together (size-1 dims, different ranks, 0-d)."""
    return hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=max_dims,
                                             max_side=max_side).map(lambda s: s.input_shapes)


def run(op, *arrays, **attrs):
    """Call ``nd.<op>`` eagerly on NumPy inputs; return a NumPy result."""
    xs = [nd.array(a, dtype=a.dtype) for a in arrays]
    return getattr(nd, op)(*xs, **attrs).asnumpy()


def numeric_grad(f, arrays, head, eps=1e-6):
    """Central differences of sum(f(*arrays) * head) with respect to every input."""
    grads = []
    for k, a in enumerate(arrays):
        g = np.zeros_like(a, dtype=np.float64)
        flat = a.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            hi = np.sum(f(*arrays) * head)
            flat[i] = old - eps
            lo = np.sum(f(*arrays) * head)
            flat[i] = old
            g.reshape(-1)[i] = (hi - lo) / (2 * eps)
        grads.append(g)
    return grads


def autograd_grad(op, arrays, head, wrt=None, **attrs):
    """Gradients of sum(op(*arrays) * head) from the op's gradient rule (through autograd)."""
    wrt = range(len(arrays)) if wrt is None else wrt
    xs = [nd.array(a, dtype=a.dtype) for a in arrays]
    for i in wrt:
        xs[i].attach_grad()
    with autograd.record():
        y = getattr(nd, op)(*xs, **attrs)
    y.backward(nd.array(head, dtype=head.dtype))
    return [xs[i].grad.asnumpy() for i in wrt]


def graph_grad(op, arrays, head, wrt, **attrs):
    """Gradients from the gradient pass on a one-op graph, run by the reference interpreter."""
    from graphcc import ops
    from graphcc.ir import GraphBuilder, interpret
    from graphcc.ir.types import type_of
    from graphcc.passes import gradient
    b = GraphBuilder()
    ids = [b.input(f"x{k}", type_of(a)) for k, a in enumerate(arrays)]
    row = ops.get(op)
    if row.train_aware and "training" not in attrs:
        attrs = {**attrs, "training": False}
    y = b.emit(op, ids, attrs)
    g = b.build([y])
    joint, _ = gradient(g, [f"x{k}" for k in wrt])
    outs = interpret(joint, list(arrays) + [head])
    return outs[1:]


def check_grad(op, arrays, wrt=None, rtol=1e-4, atol=1e-6, seed=0, **attrs):
    """Assert the op's gradient rule agrees with finite differences in float64, and that the
    gradient pass (graph mode) gives the same gradients as eager autograd."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    wrt = list(range(len(arrays))) if wrt is None else list(wrt)
    out = run(op, *arrays, **attrs)
    head = np.random.default_rng(seed).uniform(0.5, 1.5, out.shape)

    def f(*xs):
        return run(op, *xs, **attrs)
    want = numeric_grad(f, arrays, head)
    got = autograd_grad(op, arrays, head, wrt, **attrs)
    for i, g in zip(wrt, got):
        np.testing.assert_allclose(g, want[i], rtol=rtol, atol=atol,
                                   err_msg=f"gradient of {op} w.r.t. input {i}")
    from graphcc import ops
    if not ops.get(op).random and ops.get(op).expand is None:
        for i, g, gg in zip(wrt, got, graph_grad(op, arrays, head, wrt, **attrs)):
            np.testing.assert_allclose(gg, g, rtol=1e-10, atol=1e-12,
                                       err_msg=f"graph-mode gradient of {op} w.r.t. input {i}")


_ = mx
