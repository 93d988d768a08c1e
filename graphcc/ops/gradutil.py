"""Small helpers gradient rules share. Rules build their results only through ``F``."""
from __future__ import annotations


def unbroadcast(F, g, gshape: tuple, shape: tuple):
    """Sum ``g`` (of shape ``gshape``) down to ``shape``, undoing NumPy-style broadcasting."""
    if tuple(gshape) == tuple(shape):
        return g
    lead = len(gshape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, d in enumerate(shape) if d == 1 and gshape[i + lead] != 1)
    if axes:
        g = F.sum(g, axis=axes, keepdims=True)
    return F._reshape_to(g, shape=tuple(shape))


def zeros(F, t):
    return F.zeros(shape=t.shape, dtype=t.dtype)


def scale(F, g, s: float):
    return g if s == 1.0 else F._mul_scalar(g, scalar=float(s))


def expand_reduced(F, g, in_shape: tuple, axes: tuple):
    """Broadcast a reduced gradient (reduced over ``axes`` without keepdims) back to in_shape."""
    kept = tuple(1 if i in axes else d for i, d in enumerate(in_shape))
    g = F._reshape_to(g, shape=kept)
    return F.broadcast_to(g, shape=tuple(in_shape))
