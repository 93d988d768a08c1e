"""The inline math of generated float32 kernels (exp, tanh) against float64 NumPy, in ulps,
over the whole float32 range, with infinities, NaN, zeros of both signs and denormals; and a
canary that the loops around them vectorise."""
from __future__ import annotations

import re

import numpy as np
import pytest
from numba import njit

from graphcc.codegen.mathfns import fexp32, ftanh32


@njit(error_model="numpy")
def _exp_loop(x, o):
    for i in range(x.shape[0]):
        o[i] = fexp32(x[i])


@njit(error_model="numpy")
def _tanh_loop(x, o):
    for i in range(x.shape[0]):
        o[i] = ftanh32(x[i])


SPECIAL = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1e-40, -1e-40,
                    88.72, 88.73, -87.3, -103.97, -103.98, -104.0, 1e-5, -1e-5, 1e-4,
                    9.0, -9.0, 3.4e38, -3.4e38], np.float32)


def _sample():
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 2 ** 32, 200_000, dtype=np.uint64).astype(np.uint32)
    everywhere = bits.view(np.float32)                 # every exponent, both signs
    dense = rng.uniform(-110, 110, 200_000).astype(np.float32)
    return np.concatenate([SPECIAL, everywhere, dense])


def _ulps(got, want):
    g = got.view(np.int32).astype(np.int64)
    w = want.view(np.int32).astype(np.int64)
    g = np.where(g < 0, -(g & 0x7FFFFFFF), g)           # ordered integers across zero
    w = np.where(w < 0, -(w & 0x7FFFFFFF), w)
    return np.abs(g - w)


@pytest.mark.parametrize("loop,ref", [(_exp_loop, np.exp), (_tanh_loop, np.tanh)])
def test_within_one_ulp_of_float64_and_exact_at_the_edges(loop, ref):
    x = _sample()
    got = np.empty_like(x)
    loop(x, got)
    with np.errstate(all="ignore"):
        want = ref(x.astype(np.float64)).astype(np.float32)
    nan = np.isnan(want)
    np.testing.assert_array_equal(np.isnan(got), nan)
    assert _ulps(got[~nan], want[~nan]).max() <= 1
    inf = np.isinf(want)
    np.testing.assert_array_equal(got[inf], want[inf])
    zero = want == 0
    np.testing.assert_array_equal(np.signbit(got[zero]), np.signbit(want[zero]))


def test_the_loops_vectorise():
    """A canary: the compiled loop holds packed single-precision arithmetic (vector registers);
    a helper that stops vectorisation (a libm call, a division under Python's error model)
    makes this fail."""
    x = np.ones(64, np.float32)
    o = np.empty_like(x)
    _tanh_loop(x, o)
    asm = next(iter(_tanh_loop.inspect_asm().values()))
    assert any(reg in asm for reg in ("ymm", "zmm")) or \
        any(op in asm for op in ("mulpd", "addpd", "divpd")), "tanh loop did not vectorise"
    libm = re.findall(r"\$(?:tanh|exp)f?\b", asm)
    assert not libm, libm             # inlined: no libm function is referenced
