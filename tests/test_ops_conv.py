"""Convolution / Deconvolution / Pooling: forward against loops over output positions written
out here (hypothesis-drawn shapes and attributes, 1-D and 2-D), gradients against finite
differences in float64 (also through the graph builder), MXNet's corner cases (clipped
'full' windows, windows wholly in the padding, first-max routing) and bad inputs.

The corner-case semantics were checked against MXNet 1.9.1's native CPU kernels during
development; the expectations below are derived by hand from those rules.
"""
import itertools
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from graphcc import autograd, nd, ops
from graphcc.errors import DTypeError, OpAttrError, ShapeError
from graphcc.ir.graph import GraphBuilder
from graphcc.ir.interp import interpret
from graphcc.ir.types import TensorType
from graphcc.ops.registry import GradCtx, normalize_attrs
from opcheck import autograd_grad, check_grad, run

LOWEST32 = np.finfo(np.float32).min
LOWEST64 = np.finfo(np.float64).min


# ---------------------------------------------------------------- references (explicit loops)


def positions(shape):
    return itertools.product(*(range(n) for n in shape))


def conv_loop(x, w, b, kernel, stride, dilate, pad, groups):
    n_, c_ = x.shape[:2]
    sp, nf = x.shape[2:], w.shape[0]
    cg, fg = c_ // groups, nf // groups
    osz = [(sp[i] + 2 * pad[i] - dilate[i] * (kernel[i] - 1) - 1) // stride[i] + 1
           for i in range(len(sp))]
    out = np.zeros((n_, nf) + tuple(osz))
    for n in range(n_):
        for f in range(nf):
            g = f // fg
            for o in positions(osz):
                acc = 0.0 if b is None else b[f]
                for c in range(cg):
                    for k in positions(kernel):
                        at = [o[i] * stride[i] - pad[i] + k[i] * dilate[i] for i in range(len(sp))]
                        if all(0 <= at[i] < sp[i] for i in range(len(sp))):
                            acc += x[(n, g * cg + c) + tuple(at)] * w[(f, c) + k]
                out[(n, f) + o] = acc
    return out


def deconv_loop(x, w, b, kernel, stride, dilate, pad, adj, groups, nf):
    """Every input cell scatters weight * value into the output (the transposed convolution)."""
    n_, c_ = x.shape[:2]
    sp = x.shape[2:]
    cg, fg = c_ // groups, nf // groups
    osz = [stride[i] * (sp[i] - 1) + dilate[i] * (kernel[i] - 1) + 1 - 2 * pad[i] + adj[i]
           for i in range(len(sp))]
    out = np.zeros((n_, nf) + tuple(osz))
    for n in range(n_):
        for c in range(c_):
            g = c // cg
            for i in positions(sp):
                for f in range(fg):
                    for k in positions(kernel):
                        at = [i[d] * stride[d] - pad[d] + k[d] * dilate[d] for d in range(len(sp))]
                        if all(0 <= at[d] < osz[d] for d in range(len(sp))):
                            out[(n, g * fg + f) + tuple(at)] += x[(n, c) + i] * w[(c, f) + k]
    if b is not None:
        out += b.reshape((1, nf) + (1,) * len(sp))
    return out


def pool_loop(x, kernel, stride, pad, pool_type, convention="valid", count_include_pad=True,
              p_value=None):
    """MXNet's rules: a window [start, start + k) is clipped at the padded end (x + pad);
    max / sum / lp see only input cells; avg divides by the clipped window size (padding
    included) or by the number of input cells; a window with no input cell gives the lowest
    float (max) or 0."""
    sp = x.shape[2:]
    nd_ = len(sp)
    if convention == "valid":
        osz = [(sp[i] + 2 * pad[i] - kernel[i]) // stride[i] + 1 for i in range(nd_)]
    elif convention == "full":
        osz = [int(np.ceil((sp[i] + 2 * pad[i] - kernel[i]) / stride[i])) + 1
               for i in range(nd_)]
    else:
        osz = [int(np.ceil(sp[i] / stride[i])) for i in range(nd_)]
    out = np.zeros(x.shape[:2] + tuple(osz))
    for n, c in positions(x.shape[:2]):
        for o in positions(osz):
            cells, size = [], 1
            for i in range(nd_):
                start = o[i] * stride[i] - pad[i]
                end = min(start + kernel[i], sp[i] + pad[i])
                size *= end - start
                cells.append(range(max(start, 0), min(end, sp[i])))
            vals = [x[(n, c) + at] for at in itertools.product(*cells)]
            if pool_type == "max":
                v = max(vals) if vals else LOWEST64
            elif pool_type == "sum":
                v = sum(vals)
            elif pool_type == "avg":
                div = size if count_include_pad else len(vals)
                v = sum(vals) / div if div > 0 else 0.0
            elif p_value == 1:
                v = sum(vals)
            elif p_value == 2:
                v = np.sqrt(sum(t * t for t in vals))
            else:
                v = np.cbrt(sum(t ** 3 for t in vals))
            out[(n, c) + o] = v
    return out


# ---------------------------------------------------------------- strategies


@st.composite
def conv_cases(draw, transposed=False):
    nsp = draw(st.sampled_from([1, 2]))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(nsp))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(nsp))
    dilate = tuple(draw(st.integers(1, 2)) for _ in range(nsp))
    pad = tuple(draw(st.integers(0, 2)) for _ in range(nsp))
    spatial = []
    for k, d, p in zip(kernel, dilate, pad):
        least = 1 if transposed else max(3, d * (k - 1) + 1 - 2 * p)
        spatial.append(draw(st.integers(least, 7 if nsp == 1 else 5)))
    groups = draw(st.sampled_from([1, 2]))
    cg, fg = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    batch = draw(st.integers(1, 2))
    no_bias = draw(st.booleans())
    adj = tuple(draw(st.integers(0, s - 1)) for s in stride)
    if transposed:    # keep the output non-empty: pad no larger than the full output allows
        pad = tuple(min(p, (s * (x - 1) + d * (k - 1) + a) // 2)
                    for p, s, x, d, k, a in zip(pad, stride, spatial, dilate, kernel, adj))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    return dict(nsp=nsp, kernel=kernel, stride=stride, dilate=dilate, pad=pad, adj=adj,
                spatial=tuple(spatial), groups=groups, cg=cg, fg=fg, batch=batch,
                no_bias=no_bias, rng=rng)


def _conv_arrays(c, transposed=False):
    rng, g = c["rng"], c["groups"]
    x = rng.uniform(-2, 2, (c["batch"], g * c["cg"]) + c["spatial"])
    if transposed:
        w = rng.uniform(-2, 2, (g * c["cg"], c["fg"]) + c["kernel"])
    else:
        w = rng.uniform(-2, 2, (g * c["fg"], c["cg"]) + c["kernel"])
    b = None if c["no_bias"] else rng.uniform(-2, 2, (g * c["fg"],))
    return x, w, b


def _geo(c):
    return dict(kernel=c["kernel"], stride=c["stride"], dilate=c["dilate"], pad=c["pad"])


# ---------------------------------------------------------------- Convolution


@given(c=conv_cases())
def test_convolution_forward(c):
    x, w, b = _conv_arrays(c)
    nf = w.shape[0]
    arrays = [x, w] + ([] if b is None else [b])
    got = run("Convolution", *arrays, num_filter=nf, num_group=c["groups"],
              no_bias=c["no_bias"], **_geo(c))
    want = conv_loop(x, w, b, c["kernel"], c["stride"], c["dilate"], c["pad"], c["groups"])
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
    got32 = run("Convolution", *[a.astype(np.float32) for a in arrays], num_filter=nf,
                num_group=c["groups"], no_bias=c["no_bias"], **_geo(c))
    assert got32.dtype == np.float32
    np.testing.assert_allclose(got32, want, rtol=1e-4, atol=1e-4)


def test_convolution_3d_and_defaults():
    rng = np.random.default_rng(0)
    x, w, b = rng.normal(size=(1, 2, 4, 3, 5)), rng.normal(size=(3, 2, 2, 2, 3)), rng.normal(size=3)
    got = run("Convolution", x, w, b, kernel=(2, 2, 3), stride=(1, 2, 1), pad=(1, 0, 1),
              num_filter=3)
    want = conv_loop(x, w, b, (2, 2, 3), (1, 2, 1), (1, 1, 1), (1, 0, 1), 1)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
    # positional attributes follow MXNet's order: kernel, stride, dilate, pad, num_filter
    x2, w2 = rng.normal(size=(1, 1, 5, 5)), rng.normal(size=(2, 1, 3, 3))
    y = nd.Convolution(nd.array(x2), nd.array(w2), None, (3, 3), (2, 2), (1, 1), (1, 1), 2,
                       no_bias=True)
    np.testing.assert_allclose(y.asnumpy(),
                               conv_loop(x2, w2, None, (3, 3), (2, 2), (1, 1), (1, 1), 1),
                               rtol=1e-5)


def test_convolution_edges():
    # depthwise (num_group = channels), a 1x1 kernel, a kernel as large as the padded input
    rng = np.random.default_rng(1)
    x, w = rng.normal(size=(2, 3, 4, 4)), rng.normal(size=(3, 1, 3, 3))
    got = run("Convolution", x, w, kernel=(3, 3), pad=(1, 1), num_filter=3, num_group=3,
              no_bias=True)
    np.testing.assert_allclose(got, conv_loop(x, w, None, (3, 3), (1, 1), (1, 1), (1, 1), 3),
                               rtol=1e-10)
    w1 = rng.normal(size=(2, 3, 1, 1))
    np.testing.assert_allclose(run("Convolution", x, w1, kernel=(1, 1), num_filter=2,
                                   no_bias=True),
                               np.einsum("nchw,fc->nfhw", x, w1[:, :, 0, 0]), rtol=1e-10)
    w6 = rng.normal(size=(1, 3, 6, 6))
    y = run("Convolution", x, w6, kernel=(6, 6), pad=(1, 1), num_filter=1, no_bias=True)
    assert y.shape == (2, 1, 1, 1)
    np.testing.assert_allclose(y[:, 0, 0, 0], np.einsum("nchw,chw->n", x, w6[0, :, 1:5, 1:5]),
                               rtol=1e-10)
    # an empty batch
    y0 = nd.Convolution(nd.zeros((0, 3, 4, 4)), nd.ones((2, 3, 2, 2)), nd.zeros((2,)),
                        kernel=(2, 2), num_filter=2)
    assert y0.shape == (0, 2, 3, 3)
    gx, gw = autograd_grad("Convolution", [np.zeros((0, 3, 4, 4)), np.ones((2, 3, 2, 2))],
                           np.ones((0, 2, 3, 3)), kernel=(2, 2), num_filter=2, no_bias=True)
    assert gx.shape == (0, 3, 4, 4)
    np.testing.assert_array_equal(gw, np.zeros((2, 3, 2, 2)))


def test_convolution_bad_inputs():
    x = nd.ones((1, 3, 5, 5))
    with pytest.raises(ShapeError, match=r"\(4, 2, 3, 3\).*\(1, 3, 5, 5\)"):
        nd.Convolution(x, nd.ones((4, 2, 3, 3)), kernel=(3, 3), num_filter=4, no_bias=True)
    with pytest.raises(ShapeError, match="exceeds"):
        nd.Convolution(x, nd.ones((2, 3, 6, 6)), kernel=(6, 6), num_filter=2, no_bias=True)
    with pytest.raises(ShapeError, match="exceeds"):      # dilation makes the kernel 5 + 2
        nd.Convolution(x, nd.ones((2, 3, 3, 3)), kernel=(3, 3), dilate=(3, 3), num_filter=2,
                       no_bias=True)
    with pytest.raises(ShapeError, match="num_group"):
        nd.Convolution(x, nd.ones((4, 1, 3, 3)), kernel=(3, 3), num_filter=4, num_group=2,
                       no_bias=True)
    with pytest.raises(ShapeError, match="bias"):
        nd.Convolution(x, nd.ones((2, 3, 3, 3)), nd.ones((3,)), kernel=(3, 3), num_filter=2)
    with pytest.raises(ShapeError, match="4-d"):
        nd.Convolution(nd.ones((3, 5, 5)), nd.ones((2, 3, 3, 3)), kernel=(3, 3), num_filter=2,
                       no_bias=True)
    with pytest.raises(OpAttrError, match="stride"):
        nd.Convolution(x, nd.ones((2, 3, 3, 3)), kernel=(3, 3), stride=(1,), num_filter=2,
                       no_bias=True)
    with pytest.raises(OpAttrError, match="stride"):
        nd.Convolution(x, nd.ones((2, 3, 3, 3)), kernel=(3, 3), stride=(0, 1), num_filter=2,
                       no_bias=True)
    with pytest.raises(OpAttrError, match="layout"):
        nd.Convolution(x, nd.ones((2, 3, 3, 3)), kernel=(3, 3), num_filter=2, no_bias=True,
                       layout="NHWC")
    with pytest.raises(OpAttrError, match="num_filter"):
        nd.Convolution(x, nd.ones((2, 3, 3, 3)), kernel=(3, 3), no_bias=True)
    with pytest.raises(OpAttrError, match="bias"):        # no_bias=False needs a bias input
        nd.Convolution(x, nd.ones((2, 3, 3, 3)), kernel=(3, 3), num_filter=2)
    with pytest.raises(DTypeError):
        nd.Convolution(x, nd.ones((2, 3, 3, 3), dtype="float64"), kernel=(3, 3), num_filter=2,
                       no_bias=True)
    with pytest.raises(DTypeError):
        nd.Convolution(nd.ones((1, 3, 5, 5), dtype="int32"), nd.ones((2, 3, 3, 3), dtype="int32"),
                       kernel=(3, 3), num_filter=2, no_bias=True)


def test_convolution_complete_and_input_names():
    conv = ops.get("Convolution")
    attrs = {"kernel": (3, 3), "num_filter": 8, "num_group": 2}
    assert conv.complete([(4, 6, 9, 9), None, None], attrs) == \
        [(4, 6, 9, 9), (8, 3, 3, 3), (8,)]
    assert conv.complete([(4, 6, 9), None], {"kernel": (5,), "num_filter": 2, "no_bias": True}) \
        == [(4, 6, 9), (2, 6, 5)]
    assert conv.complete([None, None, None], attrs) == [None, None, None]
    assert conv.names_of_inputs({"no_bias": "True"}) == ("data", "weight")
    assert conv.names_of_inputs({"no_bias": False}) == ("data", "weight", "bias")
    de = ops.get("Deconvolution")
    assert de.complete([(1, 6, 4, 4), None], {"kernel": (2, 2), "num_filter": 4,
                                              "num_group": 2}) == [(1, 6, 4, 4), (6, 2, 2, 2)]
    assert de.names_of_inputs({"no_bias": True}) == ("data", "weight")
    assert de.attrs["no_bias"].default is True and de.attrs["workspace"].default == 512
    assert list(conv.attrs)[:5] == ["kernel", "stride", "dilate", "pad", "num_filter"]
    assert list(de.attrs)[:7] == ["kernel", "stride", "dilate", "pad", "adj", "target_shape",
                                  "num_filter"]


# ---------------------------------------------------------------- Deconvolution


@given(c=conv_cases(transposed=True))
def test_deconvolution_forward(c):
    x, w, b = _conv_arrays(c, transposed=True)
    nf = c["groups"] * c["fg"]
    arrays = [x, w] + ([] if b is None else [b])
    got = run("Deconvolution", *arrays, num_filter=nf, num_group=c["groups"], adj=c["adj"],
              no_bias=c["no_bias"], **_geo(c))
    want = deconv_loop(x, w, b, c["kernel"], c["stride"], c["dilate"], c["pad"], c["adj"],
                       c["groups"], nf)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


@given(c=conv_cases())
def test_deconvolution_is_the_transpose_of_convolution(c):
    """<conv(x, w), y> == <x, deconv(y, w)> when adj restores the input size."""
    x, w, _ = _conv_arrays(c)
    geo = _geo(c)
    nf, g = w.shape[0], c["groups"]
    y = run("Convolution", x, w, num_filter=nf, num_group=g, no_bias=True, **geo)
    h = c["rng"].uniform(-1, 1, y.shape)
    adj = tuple((n + 2 * p - d * (k - 1) - 1) % s for n, p, d, k, s in
                zip(x.shape[2:], c["pad"], c["dilate"], c["kernel"], c["stride"]))
    back = run("Deconvolution", h, w, num_filter=x.shape[1], num_group=g, adj=adj, **geo)
    assert back.shape == x.shape
    np.testing.assert_allclose(np.sum(y * h), np.sum(x * back), rtol=1e-9)


def test_deconvolution_target_shape():
    rng = np.random.default_rng(2)
    x, w = rng.normal(size=(1, 2, 3, 3)), rng.normal(size=(2, 1, 3, 2))
    # full size: 2 * (3 - 1) + 3 = 7 rows, 2 * 2 + 2 = 6 columns
    for target in [(7, 6), (6, 5), (5, 4), (6, 6)]:
        got = run("Deconvolution", x, w, kernel=(3, 2), stride=(2, 2), target_shape=target,
                  pad=(9, 9), adj=(1, 1), num_filter=1)       # pad and adj are ignored
        assert got.shape == (1, 1) + target
        excess = (7 - target[0], 6 - target[1])
        pad = tuple((e + 1) // 2 for e in excess)
        adj = tuple(e % 2 for e in excess)
        want = deconv_loop(x, w, None, (3, 2), (2, 2), (1, 1), pad, adj, 1, 1)
        np.testing.assert_allclose(got, want, rtol=1e-10)
    # an all-zero target_shape means "not set"
    got = run("Deconvolution", x, w, kernel=(3, 2), stride=(2, 2), target_shape=(0, 0),
              num_filter=1)
    assert got.shape == (1, 1, 7, 6)
    with pytest.raises(ShapeError, match="too big"):
        run("Deconvolution", x, w, kernel=(3, 2), stride=(2, 2), target_shape=(8, 6),
            num_filter=1)
    with pytest.raises(OpAttrError, match="adj"):     # stride 1 leaves no room for adj
        run("Deconvolution", x, w, kernel=(3, 2), target_shape=(4, 4), num_filter=1)


def test_deconvolution_bad_inputs():
    x = nd.ones((1, 4, 3, 3))
    with pytest.raises(ShapeError, match=r"\(2, 2, 2, 2\).*\(1, 4, 3, 3\)"):
        nd.Deconvolution(x, nd.ones((2, 2, 2, 2)), kernel=(2, 2), num_filter=2)
    with pytest.raises(OpAttrError, match="adj"):
        nd.Deconvolution(x, nd.ones((4, 2, 2, 2)), kernel=(2, 2), stride=(2, 2), adj=(2, 0),
                         num_filter=2)
    with pytest.raises(ShapeError, match="pad"):
        nd.Deconvolution(x, nd.ones((4, 2, 2, 2)), kernel=(2, 2), pad=(3, 3), num_filter=2)
    with pytest.raises(OpAttrError, match="bias"):      # no_bias defaults to True
        nd.Deconvolution(x, nd.ones((4, 2, 2, 2)), kernel=(2, 2), num_filter=2, no_bias=False)


# ---------------------------------------------------------------- Pooling


@st.composite
def pool_cases(draw):
    nsp = draw(st.sampled_from([1, 2]))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(nsp))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(nsp))
    pad = tuple(draw(st.integers(0, 2)) for _ in range(nsp))
    spatial = tuple(draw(st.integers(max(1, k - 2 * p), 7 if nsp == 1 else 5))
                    for k, p in zip(kernel, pad))
    pool_type = draw(st.sampled_from(["max", "avg", "sum", "lp"]))
    p_value = draw(st.sampled_from([1, 2, 3])) if pool_type == "lp" else None
    convention = draw(st.sampled_from(["valid", "full"]))
    cip = draw(st.booleans())
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3))) + spatial
    x = np.random.default_rng(draw(st.integers(0, 2 ** 16))).uniform(-2, 2, shape)
    return x, dict(kernel=kernel, stride=stride, pad=pad, pool_type=pool_type, p_value=p_value,
                   pooling_convention=convention, count_include_pad=cip)


@given(case=pool_cases())
def test_pooling_forward(case):
    x, a = case
    got = run("Pooling", x, **a)
    want = pool_loop(x, a["kernel"], a["stride"], a["pad"], a["pool_type"],
                     a["pooling_convention"], a["count_include_pad"], a["p_value"])
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    got32 = run("Pooling", x.astype(np.float32), **a)
    assert got32.dtype == np.float32
    want32 = np.where(want == LOWEST64, LOWEST32, want)
    np.testing.assert_allclose(got32, want32, rtol=1e-4, atol=1e-4)


def test_pooling_clipped_windows_as_mxnet():
    x = np.arange(1.0, 6.0).reshape(1, 1, 5)
    # kernel 1, stride 3, 'full': ceil(4 / 3) + 1 = 3 windows at 0, 3 and 6; the last is past
    # the input: max gives the lowest float, avg and sum give 0
    f = dict(kernel=(1,), stride=(3,), pooling_convention="full")
    np.testing.assert_array_equal(run("Pooling", x, pool_type="max", **f), [[[1, 4, LOWEST64]]])
    np.testing.assert_array_equal(run("Pooling", x, pool_type="avg", **f), [[[1, 4, 0]]])
    np.testing.assert_array_equal(run("Pooling", x, pool_type="sum", **f), [[[1, 4, 0]]])
    # kernel 2, stride 4, pad 1: windows [-1, 1), [3, 5), [7, 9) clipped to the padded end 6
    f = dict(kernel=(2,), stride=(4,), pad=(1,), pooling_convention="full")
    np.testing.assert_array_equal(run("Pooling", x, pool_type="max", **f), [[[1, 5, LOWEST64]]])
    np.testing.assert_array_equal(run("Pooling", x, pool_type="avg", **f), [[[0.5, 4.5, 0]]])
    np.testing.assert_array_equal(run("Pooling", x, pool_type="avg", count_include_pad=False,
                                      **f), [[[1, 4.5, 0]]])
    # a 'full' window running past the padded end is divided by its clipped size: on 6 cells
    # padded by 1, kernel 3, stride 3, the last window [5, 8) is clipped to [5, 7): cell 5
    # and one pad cell
    x6 = np.arange(1.0, 7.0).reshape(1, 1, 6)
    f = dict(kernel=(3,), stride=(3,), pad=(1,), pool_type="avg", pooling_convention="full")
    np.testing.assert_allclose(run("Pooling", x6, **f), [[[3 / 3, 12 / 3, 6 / 2]]])
    np.testing.assert_allclose(run("Pooling", x6, count_include_pad=False, **f),
                               [[[3 / 2, 12 / 3, 6 / 1]]])
    # pad as large as the kernel: windows wholly in the padding
    x7 = np.arange(7.0).reshape(1, 1, 7)
    got = run("Pooling", x7, kernel=(1,), pad=(2,), pool_type="max")
    np.testing.assert_array_equal(got[0, 0, 2:9], np.arange(7.0))
    np.testing.assert_array_equal(got[0, 0, [0, 1, 9, 10]], [LOWEST64] * 4)
    got = run("Pooling", x7, kernel=(1,), pad=(2,), pool_type="avg", count_include_pad=False)
    np.testing.assert_array_equal(got[0, 0], [0, 0, 0, 1, 2, 3, 4, 5, 6, 0, 0])


def test_pooling_lp_uses_signed_powers():
    x = np.array([[[-2.0, 1.0, 3.0, -1.0]]])
    f = dict(kernel=(2,), stride=(2,), pool_type="lp")
    np.testing.assert_allclose(run("Pooling", x, p_value=1, **f), [[[-1, 2]]])
    np.testing.assert_allclose(run("Pooling", x, p_value=2, **f), [[[5 ** 0.5, 10 ** 0.5]]])
    np.testing.assert_allclose(run("Pooling", x, p_value=3, **f),
                               [[[-(7 ** (1 / 3)), 26 ** (1 / 3)]]])


@pytest.mark.parametrize("pool_type", ["max", "avg", "sum", "lp"])
def test_global_pooling_ignores_kernel_stride_pad(pool_type):
    rng = np.random.default_rng(5)
    for shape in [(2, 3, 5), (1, 2, 3, 4), (1, 2, 2, 3, 2)]:
        x = rng.uniform(0.5, 2, shape)
        axes = tuple(range(2, len(shape)))
        want = {"max": np.max(x, axis=axes, keepdims=True),
                "avg": np.mean(x, axis=axes, keepdims=True),
                "sum": np.sum(x, axis=axes, keepdims=True),
                "lp": np.sqrt(np.sum(x * x, axis=axes, keepdims=True))}[pool_type]
        for extra in [{}, {"kernel": (1,) * len(axes), "stride": (2,) * len(axes),
                           "pad": (1,) * len(axes), "pooling_convention": "full"}]:
            got = run("Pooling", x, global_pool=True, pool_type=pool_type, p_value=2, **extra)
            np.testing.assert_allclose(got, want, rtol=1e-12)


def test_pooling_same_convention_1d():
    x = np.arange(1.0, 8.0).reshape(1, 1, 7)
    # ceil(7 / 2) = 4 windows starting at 0, 2, 4, 6; the last is clipped to cell 6
    np.testing.assert_array_equal(run("Pooling", x, kernel=(3,), stride=(2,),
                                      pooling_convention="same"), [[[3, 5, 7, 7]]])
    np.testing.assert_array_equal(run("Pooling", x, kernel=(3,), stride=(2,), pool_type="avg",
                                      pooling_convention="same"), [[[2, 4, 6, 7]]])
    with pytest.raises(OpAttrError, match="same"):
        run("Pooling", x.reshape(1, 1, 1, 7), kernel=(1, 3), pooling_convention="same")
    with pytest.raises(OpAttrError, match="same"):
        run("Pooling", x, kernel=(3,), pad=(1,), pooling_convention="same")


def test_pooling_positional_attrs_and_defaults():
    x = np.random.default_rng(6).normal(size=(1, 2, 4, 4))
    got = nd.Pooling(nd.array(x), (2, 2), "avg").asnumpy()      # kernel, pool_type
    np.testing.assert_allclose(got, pool_loop(x, (2, 2), (1, 1), (0, 0), "avg"), atol=1e-6)
    p = ops.get("Pooling")
    assert list(p.attrs) == ["kernel", "pool_type", "global_pool", "cudnn_off",
                             "pooling_convention", "stride", "pad", "p_value",
                             "count_include_pad", "layout"]


def test_pooling_bad_inputs():
    x = nd.ones((1, 2, 3, 3))
    with pytest.raises(ShapeError, match="exceeds"):
        nd.Pooling(x, kernel=(4, 2))
    with pytest.raises(ShapeError, match="3-d for a 1-d kernel"):
        nd.Pooling(x, kernel=(2,))
    with pytest.raises(ShapeError, match="3-d, 4-d or 5-d"):
        nd.Pooling(nd.ones((2, 3)), kernel=(2,))
    with pytest.raises(OpAttrError, match="kernel"):
        nd.Pooling(x)
    with pytest.raises(OpAttrError, match="p_value"):
        nd.Pooling(x, kernel=(2, 2), pool_type="lp")
    with pytest.raises(OpAttrError, match="pool_type"):
        nd.Pooling(x, kernel=(2, 2), pool_type="median")
    with pytest.raises(OpAttrError, match="pad"):
        nd.Pooling(x, kernel=(2, 2), pad=(1,))
    with pytest.raises(OpAttrError, match="layout"):
        nd.Pooling(x, kernel=(2, 2), layout="NHWC")
    with pytest.raises(DTypeError):
        nd.Pooling(nd.ones((1, 2, 3, 3), dtype="int32"), kernel=(2, 2))


# ---------------------------------------------------------------- gradients


def graph_grads(op_name, arrays, head, wrt, **attrs):
    """Apply the op's gradient rule with F = a graph builder and interpret the result."""
    op = ops.get(op_name)
    b = GraphBuilder()
    ids = [b.input(f"x{i}", TensorType(a.shape, a.dtype.name)) for i, a in enumerate(arrays)]
    at = dict(normalize_attrs(op, attrs))
    out = b.emit(op_name, ids, at)
    gid = b.input("head", TensorType(head.shape, head.dtype.name))
    ctx = GradCtx(F=b, g=gid, inputs=tuple(i if k in op.needs else None
                                            for k, i in enumerate(ids)),
                  out=out if "out" in op.needs else None,
                  in_types=tuple(b.type(i) for i in ids), out_type=b.type(out), attrs=at)
    grads = op.grad(ctx)
    have = [i for i in wrt if grads[i] is not None]
    vals = dict(zip(have, interpret(b.build([grads[i] for i in have]), list(arrays) + [head])))
    return [vals[i] if i in vals else np.zeros_like(arrays[i]) for i in wrt]


def check_both(op_name, arrays, wrt=None, **attrs):
    """Finite differences vs the rule through autograd, and the rule through a graph."""
    arrays = [np.asarray(a, np.float64) for a in arrays]
    wrt = list(range(len(arrays))) if wrt is None else wrt
    check_grad(op_name, arrays, wrt=wrt, **attrs)
    head = np.random.default_rng(3).uniform(0.5, 1.5, run(op_name, *arrays, **attrs).shape)
    want = autograd_grad(op_name, arrays, head, wrt, **attrs)
    for w, g in zip(want, graph_grads(op_name, arrays, head, wrt, **attrs)):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


CONV_GRAD_CASES = [
    # data shape, weight shape, attrs
    ((1, 2, 4, 3), (2, 1, 2, 2), dict(kernel=(2, 2), stride=(2, 1), pad=(1, 0), dilate=(1, 2),
                                      num_filter=2, num_group=2)),
    ((2, 1, 5), (3, 1, 2), dict(kernel=(2,), stride=(2,), pad=(1,), num_filter=3)),
    ((1, 2, 3, 3), (2, 2, 2, 2), dict(kernel=(2, 2), stride=(2, 2), pad=(1, 1), num_filter=2)),
    ((1, 2, 7), (4, 1, 3), dict(kernel=(3,), dilate=(2,), stride=(3,), num_filter=4,
                                num_group=2)),
]


@pytest.mark.parametrize("no_bias", [True, False])
@pytest.mark.parametrize("xs,ws,attrs", CONV_GRAD_CASES)
def test_convolution_grad(xs, ws, attrs, no_bias):
    rng = np.random.default_rng(7)
    arrays = [rng.normal(size=xs), rng.normal(size=ws)]
    if not no_bias:
        arrays.append(rng.normal(size=(attrs["num_filter"],)))
    check_both("Convolution", arrays, no_bias=no_bias, **attrs)


DECONV_GRAD_CASES = [
    ((1, 2, 3, 2), (2, 2, 2, 2), dict(kernel=(2, 2), stride=(2, 1), pad=(1, 0), adj=(1, 0),
                                      num_filter=4, num_group=2)),
    ((1, 2, 3, 2), (2, 2, 2, 2), dict(kernel=(2, 2), stride=(2, 2), target_shape=(5, 4),
                                      num_filter=4, num_group=2)),
    ((2, 2, 4), (2, 2, 2), dict(kernel=(2,), stride=(2,), dilate=(2,), pad=(1,), adj=(1,),
                                num_filter=2)),
]


@pytest.mark.parametrize("no_bias", [True, False])
@pytest.mark.parametrize("xs,ws,attrs", DECONV_GRAD_CASES)
def test_deconvolution_grad(xs, ws, attrs, no_bias):
    rng = np.random.default_rng(8)
    arrays = [rng.normal(size=xs), rng.normal(size=ws)]
    if not no_bias:
        arrays.append(rng.normal(size=(attrs["num_filter"],)))
    check_both("Deconvolution", arrays, no_bias=no_bias, **attrs)


@pytest.mark.parametrize("pool_type", ["max", "avg", "sum"])
@pytest.mark.parametrize("attrs", [
    dict(kernel=(2, 3), stride=(2, 2), pad=(1, 1), pooling_convention="valid"),
    dict(kernel=(2, 3), stride=(2, 2), pad=(1, 1), pooling_convention="full",
         count_include_pad=False),
    dict(kernel=(2,), stride=(3,), pooling_convention="full"),
    dict(global_pool=True),
])
def test_pooling_grad(pool_type, attrs):
    rng = np.random.default_rng(9)
    shape = (1, 2, 4) if attrs.get("kernel") == (2,) else (1, 2, 4, 3)
    x = rng.permutation(np.arange(np.prod(shape))).reshape(shape) * 0.1   # distinct values
    check_both("Pooling", [x], pool_type=pool_type, **attrs)


@pytest.mark.parametrize("p_value", [1, 2, 3])
def test_lp_pooling_grad(p_value):
    x = np.random.default_rng(10).uniform(0.5, 2, (1, 2, 3, 3))
    check_both("Pooling", [x], kernel=(2, 2), stride=(1, 2), pad=(0, 1), pool_type="lp",
               p_value=p_value)


def test_max_pool_grad_routes_to_first_max():
    ones = np.ones((1, 1, 2, 3))
    g = autograd_grad("Pooling", [ones], np.ones((1, 1, 1, 2)), kernel=(2, 2))[0]
    np.testing.assert_array_equal(g, [[[[1, 1, 0], [0, 0, 0]]]])   # ties: the first cell
    x = np.array([[[1.0, 3.0, 3.0, 0.0, 3.0]]])
    g = autograd_grad("Pooling", [x], np.ones((1, 1, 3)), kernel=(3,), stride=(2,), pad=(1,))[0]
    np.testing.assert_array_equal(g, [[[0, 2, 0, 0, 1]]])         # overlapping windows add up


def test_internal_gradient_ops():
    rng = np.random.default_rng(11)
    x, g = rng.normal(size=(1, 2, 4, 3)), rng.normal(size=(1, 2, 3, 1))
    check_both("_conv_weight_grad", [g, x], kernel=(2, 2), stride=(2, 1), pad=(1, 0),
               dilate=(1, 2), num_filter=2, num_group=2)
    xp, gp = rng.normal(size=(1, 2, 4, 5)), rng.normal(size=(1, 2, 3, 3))
    for t in ["avg", "sum"]:
        check_grad("_pool_backward", [gp, xp, gp], wrt=[0], kernel=(2, 3), stride=(2, 2),
                   pad=(1, 1), pool_type=t, pooling_convention="full")
    with pytest.raises(ShapeError, match="pooled shape"):
        run("_pool_backward", gp[:, :, :2], xp, gp[:, :, :2], kernel=(2, 3), stride=(2, 2),
            pad=(1, 1), pooling_convention="full")
    with pytest.raises(ShapeError, match="output gradient"):
        run("_conv_weight_grad", g[:, :, :2], x, kernel=(2, 2), num_filter=2)


def test_gradient_rules_declare_what_they_read():
    assert ops.get("Convolution").needs == (0, 1)
    assert ops.get("Deconvolution").needs == (0, 1)
    assert ops.get("Pooling").needs == (0, "out")
    assert ops.get("_pool_backward").needs == ()


# ---------------------------------------------------------------- speed


def test_lenet_sized_layers_take_milliseconds():
    """A guard against per-pixel Python loops (minutes), loose enough for a loaded machine."""
    rng = np.random.default_rng(12)
    x = nd.array(rng.normal(size=(64, 1, 28, 28)).astype(np.float32))
    w1 = nd.array(rng.normal(size=(20, 1, 5, 5)).astype(np.float32))
    w2 = nd.array(rng.normal(size=(50, 20, 5, 5)).astype(np.float32))
    b1, b2 = nd.zeros((20,)), nd.zeros((50,))
    for p in (w1, w2, b1, b2):
        p.attach_grad()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        with autograd.record():
            h = nd.Pooling(nd.Convolution(x, w1, b1, kernel=(5, 5), num_filter=20),
                           kernel=(2, 2), stride=(2, 2))
            h = nd.Pooling(nd.Convolution(h, w2, b2, kernel=(5, 5), num_filter=50),
                           kernel=(2, 2), stride=(2, 2), pool_type="avg")
        h.backward()
        best = min(best, time.perf_counter() - start)
    assert h.shape == (64, 50, 4, 4) and w2.grad.shape == (50, 20, 5, 5)
    assert best < 5.0     # about 0.1 s on one idle core
