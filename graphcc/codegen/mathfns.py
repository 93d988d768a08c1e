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
from llvmlite import ir as llvm_ir
from numba import njit, types
from numba.extending import intrinsic

__all__ = ["math", "np", "pymod", "round_half_away", "np_maximum", "np_minimum", "np_sign",
           "np_clip", "np_where", "np_relu", "b2f", "exp64",
           "fexp32", "ftanh32"]

# no on-disk cache of their own: they are compiled into each (cached) kernel that calls them
_OPTS = dict(error_model="numpy", fastmath={"contract"})


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


# ---------------------------------------------------------------- vectorisable exp and tanh
# PyPI's llvmlite has no vector math library: math.exp is a scalar libm call per element and
# stops the loop around it from vectorising. For float32 kernels the renderer uses these
# instead: computed in float64 from a polynomial and a power of two built from bits, with no
# call and no branch the vectoriser cannot turn into a select, then rounded to float32 (so
# within an ulp of the correctly rounded result). float64 kernels keep libm's functions.

def _bitcast(int_t, float_t, llvm_float):
    """An intrinsic giving the float whose bits are the integer argument."""
    @intrinsic
    def cast(typingctx, x):
        if not isinstance(x, types.Integer):
            return None

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], llvm_float())
        return float_t(int_t), codegen
    return cast


_bits_to_f64 = _bitcast(types.int64, types.float64, llvm_ir.DoubleType)
_bits_to_f32 = _bitcast(types.int32, types.float32, llvm_ir.FloatType)


_LOG2E = 1.4426950408889634
_LN2_HI = 0.6931471803691238          # ln 2 split so that k * _LN2_HI is exact
_LN2_LO = 1.9082149292705877e-10


@njit(**_OPTS)
def exp64(x):
    """exp of a float64 to about 1e-10 relative error (enough to round float32 correctly);
    0 below -746, inf above 710, NaN for NaN."""
    xc = min(max(x, -746.0), 710.0)
    k = np.floor(xc * _LOG2E + 0.5)
    r = (xc - k * _LN2_HI) - k * _LN2_LO
    p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6 + r * (1.0 / 24 + r * (
        1.0 / 120 + r * (1.0 / 720 + r * (1.0 / 5040 + r * (1.0 / 40320 + r / 362880.0))))))))
    ki = np.int64(k)
    k1 = ki // 2
    k2 = ki - k1
    s1 = _bits_to_f64((k1 + 1023) << 52)
    s2 = _bits_to_f64((k2 + 1023) << 52)
    res = p * s1 * s2
    return res if x == x else x


@njit(**_OPTS)
def fexp32(x):
    """exp of a float32, as float32."""
    return np.float32(exp64(np.float64(x)))


_F = np.float32
# tanh(x) / x - 1 = x^2 q(x^2) on |x| < 0.625: least-squares fit on Chebyshev nodes (relative
# error 7e-10 in float64)
_T1, _T2, _T3 = _F(-0.3333333326758636), _F(0.13333310863227532), _F(-0.05396050645033351)
_T4, _T5, _T6 = _F(0.02177699306901207), _F(-0.008366054400702386), _F(0.0023143429771199223)


@njit(**_OPTS)
def _exp32_small(x):
    """exp of a float32 in [0, 20] in float32 arithmetic (8 lanes a vector), within 2 ulps."""
    k = np.floor(x * _F(1.4426950408889634) + _F(0.5))
    r = (x - k * _F(0.693359375)) - k * _F(-2.12194440e-4)
    p = _F(1.0) + r * (_F(1.0) + r * (_F(0.5) + r * (_F(1.0 / 6) + r * (_F(1.0 / 24) + r * (
        _F(1.0 / 120) + r * (_F(1.0 / 720) + r * _F(1.0 / 5040)))))))
    return p * _bits_to_f32((np.int32(k) + np.int32(127)) << np.int32(23))


@njit(**_OPTS)
def ftanh32(x):
    """tanh of a float32, in float32 arithmetic: an odd polynomial where |x| < 0.625, else
    1 - 2 / (exp(2|x|) + 1) with |x| capped at 10 (where tanh rounds to 1) and the sign of x.
    Within 2 ulps of the correctly rounded tanh; NaN stays NaN, -0 stays -0."""
    a = abs(x)
    t = x * x
    small = x * (_F(1.0) + t * (_T1 + t * (_T2 + t * (_T3 + t * (_T4 + t * (_T5 + t * _T6))))))
    e = _exp32_small(_F(2.0) * min(a, _F(10.0)))
    big = _F(1.0) - _F(2.0) / (e + _F(1.0))
    big = big if x >= 0 else -big
    res = small if a < _F(0.625) else big
    return res if x == x else x
