"""Every op expression template, compiled by the cpu backend, against the op's reference
implementation (the interpreter) on hypothesis inputs that include the domain edges: zeros of
both signs, infinities, NaN, denormals, values where exp overflows and underflows."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import graphcc
from graphcc import ops
from graphcc.codegen import render
from graphcc.ir import GraphBuilder, interpret
from graphcc.ir.types import TensorType

EDGES = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, 2.5, -2.5, np.inf, -np.inf, np.nan, 1e-40,
         -1e-40, 88.8, -104.0, 1e30, -1e30, 3.0, 0.999, -0.999, 1.001, 20.0, -20.0]

# attribute settings per op (ops not listed take their defaults)
ATTRS = {
    "Activation": [{"act_type": t} for t in ("relu", "sigmoid", "tanh", "softrelu", "softsign")],
    "LeakyReLU": [{"act_type": t, "slope": 0.3} for t in ("leaky", "elu", "selu", "gelu")],
    "gelu": [{"approximation": "erf"}, {"approximation": "tanh"}],
    "clip": [{"a_min": -1.0, "a_max": 2.0}],
    "cast": [{"dtype": "float64"}, {"dtype": "int32"}],
    "broadcast_to": [{"shape": (3, 4)}],
    "broadcast_axis": [{"axis": (0,), "size": (3,)}],
    "smooth_l1": [{"scalar": 1.0}, {"scalar": 0.5}],
    "hard_sigmoid": [{}],
}
SCALARS = [2.0, -1.5, 0.0, 3.0, -2.0, np.inf]

INPUT_SHAPES = {1: [(3, 4)], 2: [(3, 4), (4,)], 3: [(3, 4), (3, 4), (1, 4)]}
SPECIAL_SHAPES = {"broadcast_to": [(1, 4)], "broadcast_axis": [(1, 4)],
                  "broadcast_like": [(1, 4), (3, 4)]}


def _cases():
    out = []
    for name, row in sorted(ops.registry.OPS.items()):
        if row.kind not in ("elementwise", "broadcast") or row.expr is None:
            continue
        if "scalar" in row.attrs and name != "smooth_l1":
            settings = [{"scalar": s} for s in SCALARS]
        else:
            settings = ATTRS.get(name, [{}])
        for attrs in settings:
            if ops.registry.expr_of(row, ops.normalize_attrs(row, attrs)) is None:
                continue
            out.append(pytest.param(name, attrs, id=f"{name}-{attrs}"))
    return out


CASES = _cases()


def _values(draw, shape, dtype):
    n = int(np.prod(shape))
    if dtype == "int32":
        vals = draw(st.lists(st.integers(-6, 6), min_size=n, max_size=n))
        return np.array(vals, np.int32).reshape(shape)
    pick = st.one_of(st.sampled_from(EDGES),
                     st.floats(-30, 30, allow_nan=False, width=32))
    vals = draw(st.lists(pick, min_size=n, max_size=n))
    return np.array(vals, np.float64).astype(dtype).reshape(shape)


def _one_node(name, attrs, dtype):
    row = ops.get(name)
    n_in = len(row.names_of_inputs(dict(ops.normalize_attrs(row, attrs))))
    shapes = SPECIAL_SHAPES.get(name, INPUT_SHAPES[n_in])
    b = GraphBuilder(loc="templates.py:1")
    xs = [b.input(f"x{k}", TensorType(s, dtype)) for k, s in enumerate(shapes)]
    y = b.emit(name, xs, attrs)
    return b.build([y]), shapes


def _compare(got, want, dtype):
    assert got.shape == want.shape and got.dtype == want.dtype
    if dtype == "int32" or got.dtype.kind in "iu":
        np.testing.assert_array_equal(got, want)
        return
    nan = np.isnan(want)
    np.testing.assert_array_equal(np.isnan(got), nan, err_msg="NaN positions differ")
    g, w = got[~nan].astype(np.float64), want[~nan].astype(np.float64)
    inf = np.isinf(w)
    np.testing.assert_array_equal(g[inf], w[inf])
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(g[~inf], w[~inf], rtol=64 * eps, atol=64 * eps)


def _run(name, attrs, dtype, data):
    g, shapes = _one_node(name, attrs, dtype)
    exe = graphcc.compile(g, backend="cpu", passes=["fuse", "plan_memory"])
    kinds = [st_.kind for st_ in exe.program.forward.steps]
    assert kinds == ["generated"], f"{name} did not run generated code: {kinds}"
    xs = [_values(data.draw, s, dtype) for s in shapes]
    if name in ("mod", "_mod_scalar", "_rmod_scalar") and dtype != "int32":
        xs = [np.where(np.isfinite(x), x, 1.0).astype(dtype) for x in xs]
    want = interpret(g, xs)[0]
    got = exe(*xs)[0].asnumpy()
    _compare(got, want, dtype)


@pytest.mark.parametrize("name,attrs", CASES)
@given(data=st.data())
def test_template_float32(name, attrs, data):
    _run(name, attrs, "float32", data)


INT_CASES = [c for c in CASES if c.values[0] in render.INT_SAFE and c.values[0] != "cast"]


@pytest.mark.parametrize("name,attrs", INT_CASES)
@given(data=st.data())
def test_template_int32(name, attrs, data):
    if "scalar" in attrs and not np.isfinite(attrs["scalar"]):
        return
    _run(name, attrs, "int32", data)


@pytest.mark.parametrize("name", ["exp", "tanh", "sigmoid", "divide", "power", "log1p", "gelu"])
@given(data=st.data())
def test_template_float64(name, data):
    _run(name, {}, "float64", data)


def test_every_template_is_covered():
    """A new op with a template gets tested here without a change to this file; an op whose
    template needs attributes this file does not know fails to build instead of being
    skipped."""
    names = {c.values[0] for c in CASES}
    for name, row in ops.registry.OPS.items():
        if row.kind in ("elementwise", "broadcast") and row.expr is not None:
            assert name in names or name == "LeakyReLU", name
