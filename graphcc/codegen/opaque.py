"""Opaque ops computed into a given buffer: matrix products through BLAS, pooling and
convolutions through generated loops (``pooling.py``, ``conv.py``). Each lowering returns a
function ``f(out, *inputs)``, or None when the op has no such lowering (it then runs its
reference implementation)."""
from __future__ import annotations

import numpy as np

from .. import ops
from ..ir.graph import Node
from . import conv, pooling, render
from .kernel import Kernel


def generated_call(g, a: Node, what):
    """A function computing opaque node ``a`` into a buffer with generated kernels (pooling;
    convolutions: generated im2col/col2im around BLAS), or None."""
    try:
        if a.op == "Pooling":
            k = Kernel(pooling.pool_forward_source(a, g.nodes[a.inputs[0]].shape), what)
            return lambda out, x: k([x, out])
        if a.op == "_pool_backward":
            k = Kernel(pooling.pool_backward_source(a, g.nodes[a.inputs[1]].shape), what)
            return lambda out, gy, x, y: k([gy, x, out])
        if a.op in ("Convolution", "_conv_weight_grad", "Deconvolution"):
            shapes = [g.nodes[j].shape for j in a.inputs]
            return conv.lower(a, shapes, lambda src: Kernel(src, what))
    except render.NotRenderable:
        return None
    return None


def blas_call(a: Node):
    """A function writing the matrix product of node ``a`` into a buffer, or None."""
    if a.dtype not in ("float32", "float64"):
        return None
    if a.op == "FullyConnected":
        flatten = a.attr("flatten")
        h = a.attr("num_hidden")

        def fc(out, x, w, b=None):
            rows = x.shape[0] if flatten else x.size // x.shape[-1]
            np.matmul(x.reshape(rows, -1), w.T, out=out.reshape(rows, h))
        return fc
    if a.op == "dot" and len(a.shape) == 2:
        ta, tb = a.attr("transpose_a"), a.attr("transpose_b")

        def dot(out, x, y):
            if x.ndim != 2 or y.ndim != 2:
                out[...] = ops.get("dot").impl(x, y, transpose_a=ta, transpose_b=tb)
                return
            np.matmul(x.T if ta else x, y.T if tb else y, out=out)
        return dot
    if a.op == "batch_dot":
        ta, tb = a.attr("transpose_a"), a.attr("transpose_b")

        def bdot(out, x, y):
            np.matmul(np.swapaxes(x, -1, -2) if ta else x, np.swapaxes(y, -1, -2) if tb else y,
                      out=out)
        return bdot
    return None
