"""Scalar helpers that generated kernels call by name (``from graphcc.codegen.mathfns import
*`` opens every generated module). Op expression templates may use these names; each follows
the NumPy reference implementation of its op, including NaN, infinities and zero divisors.

Keep each helper branch-light so LLVM can inline it and if-convert the loop around it. The
kernel cache key includes a hash of this file, so changing a helper recompiles every kernel
that could call it.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["math", "np", "pymod", "round_half_away", "np_maximum", "np_minimum", "np_sign",
           "np_clip", "np_where", "np_relu", "b2f"]

# no on-disk cache of their own: they are compiled into each (cached) kernel that calls them
_OPTS = dict(error_model="numpy")


@njit(**_OPTS)
def pymod(a, b):
    """NumPy's ``mod`` (the sign of the divisor), and 0 where the divisor is 0 (as the op row's
    reference implementation defines it)."""
    if b == 0:
        return b * 0
    r = np.fmod(a, b)
    if r != 0 and (r < 0) != (b < 0):
        r += b
    return r


@njit(**_OPTS)
def round_half_away(x):
    """Round half away from zero (MXNet's ``round``)."""
    return np.floor(x + 0.5) if x >= 0 else np.ceil(x - 0.5)


@njit(**_OPTS)
def np_maximum(a, b):
    """``np.maximum``: NaN in either operand gives NaN."""
    if a != a:
        return a
    if b != b:
        return b
    return a if a >= b else b


@njit(**_OPTS)
def np_minimum(a, b):
    """``np.minimum``: NaN in either operand gives NaN."""
    if a != a:
        return a
    if b != b:
        return b
    return a if a <= b else b


@njit(**_OPTS)
def np_relu(a):
    """``np.maximum(x, 0)`` for one operand: NaN stays NaN; branch-free so the loop around it
    vectorises."""
    return a if not a < 0 else 0.0


@njit(**_OPTS)
def np_sign(a):
    """``np.sign``: -1, 0 or 1, NaN for NaN."""
    if a != a:
        return a
    return (a > 0) * 1 - (a < 0) * 1


@njit(**_OPTS)
def np_clip(x, lo, hi):
    """``np.clip`` with scalar bounds: NaN stays NaN."""
    return np_minimum(np_maximum(x, lo), hi)


@njit(**_OPTS)
def np_where(c, a, b):
    """``np.where(c != 0, a, b)``."""
    return a if c != 0 else b


@njit(**_OPTS)
def b2f(b):
    """A comparison's truth as a number (1 or 0), converted to the op's dtype by the caller."""
    return 1 if b else 0
