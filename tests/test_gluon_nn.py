"""gluon.nn layers beyond Dense (conv_layers.py, layers.py, activations.py) and
gluon.contrib.nn: outputs and gradients (input and parameters) against NumPy written out here
(loops for the tiny convolutions and poolings, finite differences of NumPy references for the
normalisations), deferred initialisation, parameter names and order, reprs (strings printed
by MXNet 1.9.1), shape errors, BatchNorm train / predict, Dropout, hybridize = eager."""
import itertools
import math

import numpy as np
import pytest

import graphcc as mx
from graphcc import autograd, init, nd
from graphcc.errors import GraphccError, ShapeError
from graphcc.gluon import nn
from graphcc.gluon.contrib import nn as cnn
from opcheck import numeric_grad

RTOL, ATOL = 1e-4, 1e-4


def _rand(seed, *shape, lo=-1.0, hi=1.0):
    return np.random.default_rng(seed).uniform(lo, hi, shape).astype(np.float32)


def _set(block, **arrays):
    for name, value in arrays.items():
        getattr(block, name).set_data(nd.array(value))


def fwd_bwd(net, x, seed=7, train=True):
    """Output, d/dx and {param attribute: d/dparam} of sum(net(x) * head), head random."""
    xa = nd.array(x)
    xa.attach_grad()
    with autograd.record(train_mode=train):
        y = net(xa)
    head = _rand(seed, *y.shape, lo=0.5, hi=1.5)
    y.backward(nd.array(head))
    grads = {k: p.grad().asnumpy() for k, p in net._reg_params.items() if p.grad_req != "null"}
    return y.asnumpy(), xa.grad.asnumpy(), grads, head.astype(np.float64)


def close(got, want, rtol=RTOL, atol=ATOL):
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


# ---------------------------------------------------------------- NumPy references


def _window(o, stride, dilate, kernel):
    return tuple(slice(oi * s, oi * s + d * (k - 1) + 1, d)
                 for oi, s, d, k in zip(o, stride, dilate, kernel))


def conv_ref(x, w, b, stride, pad, dilate, groups, head):
    """Direct convolution, one output pixel at a time; returns y, dx, dw, db."""
    x, w, head = (np.asarray(a, np.float64) for a in (x, w, head))
    n, c = x.shape[:2]
    f, kernel = w.shape[0], w.shape[2:]
    xp = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in pad])
    out_sp = tuple((xp.shape[2 + i] - d * (k - 1) - 1) // s + 1
                   for i, (k, s, d) in enumerate(zip(kernel, stride, dilate)))
    y = np.zeros((n, f) + out_sp)
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    cg, fg = c // groups, f // groups
    for bi, fi in itertools.product(range(n), range(f)):
        g = fi // fg
        for o in np.ndindex(*out_sp):
            win = (bi, slice(g * cg, (g + 1) * cg)) + _window(o, stride, dilate, kernel)
            y[(bi, fi) + o] = np.sum(xp[win] * w[fi]) + (0.0 if b is None else b[fi])
            h = head[(bi, fi) + o]
            dxp[win] += h * w[fi]
            dw[fi] += h * xp[win]
    inner = (slice(None), slice(None)) + tuple(slice(p, p + s) for p, s in zip(pad, x.shape[2:]))
    db = head.sum(axis=(0,) + tuple(range(2, head.ndim)))
    return y, dxp[inner], dw, db


def deconv_ref(x, w, b, stride, pad, dilate, adj, groups, head):
    """Transposed convolution: every input pixel scatters ``x * w`` into the output, which is
    then cropped by ``pad`` on both sides; returns y, dx, dw, db."""
    x, w, head = (np.asarray(a, np.float64) for a in (x, w, head))
    n, c = x.shape[:2]
    fg, kernel = w.shape[1], w.shape[2:]
    cg = c // groups
    full = tuple((i - 1) * s + d * (k - 1) + 1 + a
                 for i, s, d, k, a in zip(x.shape[2:], stride, dilate, kernel, adj))
    crop = (slice(None), slice(None)) + tuple(slice(p, f - p) for p, f in zip(pad, full))
    yf = np.zeros((n, fg * groups) + full)
    hf = np.zeros_like(yf)
    hf[crop] = head
    dx, dw = np.zeros_like(x), np.zeros_like(w)
    for bi, ci in itertools.product(range(n), range(c)):
        g = ci // cg
        for i in np.ndindex(*x.shape[2:]):
            win = (bi, slice(g * fg, (g + 1) * fg)) + _window(i, stride, dilate, kernel)
            v = x[(bi, ci) + i]
            yf[win] += v * w[ci]
            dx[(bi, ci) + i] = np.sum(hf[win] * w[ci])
            dw[ci] += v * hf[win]
    y = yf[crop] + np.asarray(b).reshape((1, -1) + (1,) * len(kernel))
    return y, dx, dw, head.sum(axis=(0,) + tuple(range(2, head.ndim)))


def pool_ref(x, kernel, stride, pad, pool_type, ceil=False, include_pad=True, head=None):
    """Pooling one output pixel at a time. A window covers [o*s - p, o*s - p + k) clipped to
    the padded input; 'avg' divides by the clipped window size (include_pad) or by the number
    of real elements in it. Returns y, dx."""
    x = np.asarray(x, np.float64)
    sp = x.shape[2:]

    def size(i):
        span = sp[i] + 2 * pad[i] - kernel[i]
        return (-(-span // stride[i]) if ceil else span // stride[i]) + 1
    out_sp = tuple(size(i) for i in range(len(sp)))
    y = np.zeros(x.shape[:2] + out_sp)
    dx = np.zeros_like(x)
    for n, c in itertools.product(range(x.shape[0]), range(x.shape[1])):
        for o in np.ndindex(*out_sp):
            lo = [oi * s - p for oi, s, p in zip(o, stride, pad)]
            hi = [min(lv + k, d + p) for lv, k, d, p in zip(lo, kernel, sp, pad)]
            real = tuple(slice(max(lv, 0), min(h, d)) for lv, h, d in zip(lo, hi, sp))
            win = x[(n, c) + real]
            h = 1.0 if head is None else head[(n, c) + o]
            if pool_type == "max":
                y[(n, c) + o] = win.max()
                at = np.unravel_index(np.argmax(win), win.shape)
                dx[(n, c) + tuple(r.start + a for r, a in zip(real, at))] += h
            else:
                count = math.prod(h_ - l_ for l_, h_ in zip(lo, hi)) if include_pad else win.size
                y[(n, c) + o] = win.sum() / count
                dx[(n, c) + real] += h / count
    return y, dx


def normalize(x, axes, eps):
    m = x.mean(axis=axes, keepdims=True)
    v = ((x - m) ** 2).mean(axis=axes, keepdims=True)
    return (x - m) / np.sqrt(v + eps)


def _bcast(v, ndim, axis):
    shape = [1] * ndim
    shape[axis] = -1
    return np.asarray(v).reshape(shape)


def check_param_grads(ref, args, names, x, grads, dx, head, start=1):
    """Finite differences of the NumPy reference ``ref(*args)`` w.r.t. x and parameters."""
    args = [np.array(a, np.float64) for a in args]
    want = numeric_grad(ref, args, head)
    close(dx, want[0], atol=5e-4)
    for name, w in zip(names, want[start:]):
        if name is not None:
            close(grads[name], w, atol=5e-4)


# ---------------------------------------------------------------- convolutions


CONV_CASES = [   # (layer, kwargs, input shape)
    (nn.Conv1D, dict(channels=3, kernel_size=2, dilation=2, padding=1), (2, 2, 7)),
    (nn.Conv2D, dict(channels=4, kernel_size=3, strides=2, padding=1, groups=2), (2, 4, 5, 5)),
    (nn.Conv2D, dict(channels=2, kernel_size=(2, 3), strides=(1, 2), use_bias=False),
     (1, 3, 4, 6)),
    (nn.Conv3D, dict(channels=2, kernel_size=2, padding=(1, 0, 0)), (1, 2, 3, 3, 3)),
]


@pytest.mark.parametrize("layer,kw,shape", CONV_CASES)
def test_conv_output_and_gradients(layer, kw, shape):
    net = layer(**kw)
    net.initialize()
    x = _rand(0, *shape)
    net(nd.array(x))
    w = _rand(1, *net.weight.shape)
    b = _rand(2, kw["channels"]) if net.bias is not None else None
    _set(net, weight=w, **({} if b is None else {"bias": b}))
    y, dx, grads, head = fwd_bwd(net, x)
    n = len(shape) - 2

    def tup(v):
        return (v,) * n if isinstance(v, int) else tuple(v)
    y_r, dx_r, dw_r, db_r = conv_ref(x, w, b, tup(kw.get("strides", 1)),
                                     tup(kw.get("padding", 0)), tup(kw.get("dilation", 1)),
                                     kw.get("groups", 1), head)
    close(y, y_r)
    close(dx, dx_r)
    close(grads["weight"], dw_r)
    if b is not None:
        close(grads["bias"], db_r)


def test_conv_activation_is_applied_after_bias():
    net = nn.Conv2D(2, 2, activation="relu", in_channels=1)
    net.initialize()
    x = _rand(3, 1, 1, 3, 3)
    w, b = _rand(4, 2, 1, 2, 2), np.array([0.3, -0.4], np.float32)
    _set(net, weight=w, bias=b)
    y, dx, grads, head = fwd_bwd(net, x)
    pre, _, _, _ = conv_ref(x, w, b, (1, 1), (0, 0), (1, 1), 1, np.ones((1, 2, 2, 2)))
    close(y, np.maximum(pre, 0))
    _, dx_r, dw_r, db_r = conv_ref(x, w, b, (1, 1), (0, 0), (1, 1), 1, head * (pre > 0))
    close(dx, dx_r)
    close(grads["weight"], dw_r)
    close(grads["bias"], db_r)


DECONV_CASES = [
    (nn.Conv1DTranspose, dict(channels=2, kernel_size=3, strides=2), (2, 3, 4)),
    (nn.Conv2DTranspose, dict(channels=3, kernel_size=3, strides=2, padding=1,
                              output_padding=1), (1, 2, 3, 3)),
    (nn.Conv2DTranspose, dict(channels=4, kernel_size=2, groups=2, dilation=2, in_channels=4),
     (2, 4, 3, 2)),
]


@pytest.mark.parametrize("layer,kw,shape", DECONV_CASES)
def test_conv_transpose_output_and_gradients(layer, kw, shape):
    net = layer(**kw)
    net.initialize()
    x = _rand(0, *shape)
    net(nd.array(x))
    w, b = _rand(1, *net.weight.shape), _rand(2, kw["channels"])
    _set(net, weight=w, bias=b)
    y, dx, grads, head = fwd_bwd(net, x)
    n = len(shape) - 2

    def tup(v):
        return (v,) * n if isinstance(v, int) else tuple(v)
    y_r, dx_r, dw_r, db_r = deconv_ref(
        x, w, b, tup(kw.get("strides", 1)), tup(kw.get("padding", 0)),
        tup(kw.get("dilation", 1)), tup(kw.get("output_padding", 0)), kw.get("groups", 1), head)
    close(y, y_r)
    close(dx, dx_r)
    close(grads["weight"], dw_r)
    close(grads["bias"], db_r)


def test_conv_deferred_weight_shapes():
    conv = nn.Conv2D(6, (3, 2), groups=3)
    tconv = nn.Conv2DTranspose(4, 3, groups=2)
    assert conv.weight.shape == (6, 0, 3, 2) and conv.bias.shape == (6,)
    assert tconv.weight.shape == (0, 2, 3, 3)
    for net in (conv, tconv):
        net.initialize()
        net(nd.ones((1, 6, 5, 5)))
    assert conv.weight.shape == (6, 2, 3, 2)
    assert tconv.weight.shape == (6, 2, 3, 3) and tconv.bias.shape == (4,)
    assert nn.Conv1D(5, 3, in_channels=2).weight.shape == (5, 2, 3)
    assert nn.Conv3D(5, 3, in_channels=2).weight.shape == (5, 2, 3, 3, 3)


def test_conv_wrong_input_shapes_name_the_op_and_shapes():
    net = nn.Conv2D(2, 3, in_channels=3)
    net.initialize()
    with pytest.raises(ShapeError, match=r"Convolution.*\(2, 3, 3, 3\).*\(1, 4, 5, 5\)"):
        net(nd.ones((1, 4, 5, 5)))
    net = nn.Conv2D(2, 3)
    net.initialize()
    with pytest.raises(ShapeError, match=r"Convolution.*\(1, 4, 5\)"):
        net(nd.ones((1, 4, 5)))
    net = nn.Conv2DTranspose(2, 3, in_channels=3)
    net.initialize()
    with pytest.raises(ShapeError, match=r"Deconvolution.*\(3, 2, 3, 3\).*\(1, 4, 5, 5\)"):
        net(nd.ones((1, 4, 5, 5)))


def test_conv_bad_arguments():
    with pytest.raises(GraphccError, match="kernel_size"):
        nn.Conv2D(2, (3, 3, 3))
    with pytest.raises(GraphccError, match="NHWC"):
        nn.Conv2D(2, 3, layout="NHWC")
    with pytest.raises(GraphccError, match="layout"):
        nn.MaxPool2D(layout="NCW")


# ---------------------------------------------------------------- pooling


POOL_CASES = [   # (layer, kwargs, ref kwargs, input shape)
    (nn.MaxPool2D, {}, dict(kernel=(2, 2), stride=(2, 2), pad=(0, 0), pool_type="max"),
     (2, 2, 4, 5)),
    (nn.MaxPool2D, dict(pool_size=3, strides=2, padding=1, ceil_mode=True),
     dict(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="max", ceil=True), (1, 2, 6, 6)),
    (nn.MaxPool1D, dict(pool_size=3, strides=1), dict(kernel=(3,), stride=(1,), pad=(0,),
                                                     pool_type="max"), (2, 3, 6)),
    (nn.AvgPool2D, dict(pool_size=3, strides=2, padding=1),
     dict(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="avg"), (1, 2, 5, 5)),
    (nn.AvgPool2D, dict(pool_size=2, ceil_mode=True),
     dict(kernel=(2, 2), stride=(2, 2), pad=(0, 0), pool_type="avg", ceil=True), (1, 1, 5, 5)),
    (nn.AvgPool2D, dict(pool_size=3, strides=2, padding=1, count_include_pad=False),
     dict(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="avg", include_pad=False),
     (2, 1, 5, 4)),
    (nn.AvgPool1D, dict(pool_size=2, padding=1), dict(kernel=(2,), stride=(2,), pad=(1,),
                                                     pool_type="avg"), (1, 2, 5)),
]


@pytest.mark.parametrize("layer,kw,ref,shape", POOL_CASES)
def test_pool_output_and_gradient(layer, kw, ref, shape):
    net = layer(**kw)
    x = _rand(5, *shape, lo=-3, hi=3)
    y, dx, _, head = fwd_bwd(net, x)
    y_r, dx_r = pool_ref(x, head=head, **ref)
    close(y, y_r)
    close(dx, dx_r)


def test_avg_pool_ceil_mode_divides_by_the_clipped_window():
    # Values MXNet 1.9.1 gives for AvgPool2D(2, ceil_mode=True) on arange(25).reshape(5, 5)
    y = nn.AvgPool2D(2, ceil_mode=True)(nd.arange(25).reshape((1, 1, 5, 5)))
    close(y.asnumpy()[0, 0], [[3, 5, 6.5], [13, 15, 16.5], [20.5, 22.5, 24]])


@pytest.mark.parametrize("layer,reduce,shape", [
    (nn.GlobalAvgPool2D, np.mean, (2, 3, 4, 5)), (nn.GlobalMaxPool2D, np.max, (2, 3, 4, 5)),
    (nn.GlobalAvgPool1D, np.mean, (2, 3, 5)), (nn.GlobalMaxPool1D, np.max, (2, 3, 5))])
def test_global_pools(layer, reduce, shape):
    x = _rand(6, *shape)
    y, dx, _, head = fwd_bwd(layer(), x)
    axes = tuple(range(2, len(shape)))
    close(y, reduce(x, axis=axes, keepdims=True))
    if reduce is np.mean:
        want = np.broadcast_to(head, shape) / math.prod(shape[2:])
    else:
        want = (x == x.max(axis=axes, keepdims=True)) * head
    close(dx, want)


def test_pool_wrong_rank_names_the_op():
    with pytest.raises(ShapeError, match=r"Pooling.*\(2, 3, 4\)"):
        nn.MaxPool2D()(nd.ones((2, 3, 4)))


def test_reflection_pad2d():
    x = _rand(8, 1, 2, 3, 4)
    y, dx, _, head = fwd_bwd(nn.ReflectionPad2D(2), x)
    idx_h = [2, 1, 0, 1, 2, 1, 0]          # reflect without repeating the edge: 2 1 | 0 1 2 | 1 0
    idx_w = [2, 1, 0, 1, 2, 3, 2, 1]
    close(y, x[:, :, idx_h][:, :, :, idx_w])
    want = np.zeros((1, 2, 3, 4))
    for i, hi in enumerate(idx_h):
        for j, wj in enumerate(idx_w):
            want[:, :, hi, wj] += head[:, :, i, j]
    close(dx, want)


# ---------------------------------------------------------------- normalisation


def test_batchnorm_training_output_and_gradients():
    net = nn.BatchNorm()
    net.initialize()
    x = _rand(9, 4, 3, 2, lo=-2, hi=2)
    net(nd.array(x))
    gamma, beta = _rand(10, 3, lo=0.5, hi=1.5), _rand(11, 3)
    _set(net, gamma=gamma, beta=beta)
    y, dx, grads, head = fwd_bwd(net, x)
    assert set(grads) == {"gamma", "beta"}

    def ref(x, g, b):
        return normalize(x, (0, 2), 1e-5) * _bcast(g, 3, 1) + _bcast(b, 3, 1)
    close(y, ref(x.astype(np.float64), gamma, beta))
    check_param_grads(ref, [x, gamma, beta], ["gamma", "beta"], x, grads, dx, head)


def test_batchnorm_axis_and_no_scale():
    net = nn.BatchNorm(axis=-1, scale=False, epsilon=1e-3)
    net.initialize()
    x = _rand(12, 5, 3)
    net(nd.array(x))
    _set(net, gamma=np.full(3, 7.0, np.float32), beta=_rand(13, 3))
    y, dx, grads, head = fwd_bwd(net, x)
    assert set(grads) == {"beta"} and net.gamma.grad_req == "null"
    beta = net.beta.data().asnumpy()

    def ref(x, b):       # fix_gamma: gamma is taken as 1 whatever its value
        return normalize(x, (0,), 1e-3) + _bcast(b, 2, 1)
    close(y, ref(x.astype(np.float64), beta))
    check_param_grads(ref, [x, beta], ["beta"], x, grads, dx, head)


def _bn_with_stats(**kw):
    net = nn.BatchNorm(in_channels=3, momentum=0.8, **kw)
    net.initialize()
    _set(net, gamma=np.array([1.0, 2.0, 0.5], np.float32),
         beta=np.array([0.1, -0.2, 0.3], np.float32),
         running_mean=np.array([0.5, -1.0, 2.0], np.float32),
         running_var=np.array([2.0, 3.0, 4.0], np.float32))
    return net


def _bn_global_ref(x):
    mean, var = np.array([0.5, -1.0, 2.0]), np.array([2.0, 3.0, 4.0])
    g, b = np.array([1.0, 2.0, 0.5]), np.array([0.1, -0.2, 0.3])
    return (x - _bcast(mean, 3, 1)) / np.sqrt(_bcast(var, 3, 1) + 1e-5) * _bcast(g, 3, 1) \
        + _bcast(b, 3, 1)


def test_batchnorm_predict_mode_uses_running_stats():
    net = _bn_with_stats()
    x = _rand(14, 4, 3, 2)
    close(net(nd.array(x)).asnumpy(), _bn_global_ref(x))
    with autograd.record(train_mode=False):
        y = net(nd.array(x))
    close(y.asnumpy(), _bn_global_ref(x))


def test_batchnorm_use_global_stats_while_training():
    net = _bn_with_stats(use_global_stats=True)
    x = _rand(15, 4, 3, 2)
    y, dx, grads, head = fwd_bwd(net, x)
    close(y, _bn_global_ref(x))
    close(dx, head * _bcast([1.0, 2.0, 0.5], 3, 1) / np.sqrt(_bcast([2.0, 3.0, 4.0], 3, 1) + 1e-5))
    close(net.running_mean.data().asnumpy(), [0.5, -1.0, 2.0])      # never updated
    close(net.running_var.data().asnumpy(), [2.0, 3.0, 4.0])


def test_batchnorm_forward_only_under_record_keeps_running_stats():
    net = _bn_with_stats()
    with autograd.record():
        net(nd.array(_rand(16, 4, 3, 2)))
    close(net.running_mean.data().asnumpy(), [0.5, -1.0, 2.0])
    close(net.running_var.data().asnumpy(), [2.0, 3.0, 4.0])


def test_batchnorm_training_step_updates_running_stats():
    # needs BatchNorm aux wiring (the op updates the moving statistics when backward runs)
    net = _bn_with_stats()
    x = _rand(17, 4, 3, 2, lo=-2, hi=3)
    fwd_bwd(net, x)
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=(0, 2))
    var = ((x64 - mean[None, :, None]) ** 2).mean(axis=(0, 2))          # biased
    close(net.running_mean.data().asnumpy(), 0.8 * np.array([0.5, -1.0, 2.0]) + 0.2 * mean)
    close(net.running_var.data().asnumpy(), 0.8 * np.array([2.0, 3.0, 4.0]) + 0.2 * var)


def test_batchnorm_parameters():
    net = nn.BatchNorm()
    assert [p.shape for p in net.collect_params().values()] == [(0,)] * 4
    assert [p.grad_req for p in net.collect_params().values()] == ["write", "write", "null",
                                                                   "null"]
    net.running_mean.grad_req = "write"            # not differentiable: stays 'null'
    assert net.running_mean.grad_req == "null"
    net.initialize()
    net(nd.ones((2, 5, 3)))
    assert [p.shape for p in net.collect_params().values()] == [(5,)] * 4
    close(net.gamma.data().asnumpy(), np.ones(5))
    close(net.running_var.data().asnumpy(), np.ones(5))
    close(net.running_mean.data().asnumpy(), np.zeros(5))
    net = nn.BatchNorm(center=False, in_channels=2)
    assert net.beta.grad_req == "null" and net.gamma.shape == (2,)


def test_block_initializer_does_not_override_layer_initializers():
    net = nn.HybridSequential()
    with net.name_scope():
        net.add(nn.Conv2D(2, 1, in_channels=1), nn.BatchNorm(in_channels=2),
                nn.LayerNorm(in_channels=2), nn.Conv2D(2, 1, in_channels=2,
                                                       bias_initializer="ones"))
    net.initialize(init.Constant(0.5))
    got = {k.split("_", 1)[1]: p.data().asnumpy() for k, p in net.collect_params().items()}
    close(got["conv0_weight"], np.full((2, 1, 1, 1), 0.5))
    close(got["conv0_bias"], np.zeros(2))
    close(got["conv1_bias"], np.ones(2))
    for name, value in [("gamma", 1), ("beta", 0), ("running_mean", 0), ("running_var", 1)]:
        close(got["batchnorm0_" + name], np.full(2, value))
    close(got["layernorm0_gamma"], np.ones(2))
    close(got["layernorm0_beta"], np.zeros(2))


def test_batchnorm_wrong_channels():
    net = nn.BatchNorm(in_channels=3)
    net.initialize()
    with pytest.raises(ShapeError, match=r"BatchNorm.*\(3,\).*\(2, 4, 5\)"):
        net(nd.ones((2, 4, 5)))


@pytest.mark.parametrize("axis", [-1, 1])
def test_layernorm(axis):
    net = nn.LayerNorm(axis=axis)
    net.initialize()
    x = _rand(18, 2, 3, 4, lo=-2, hi=2)
    net(nd.array(x))
    c = x.shape[axis]
    assert net.gamma.shape == (c,) and net.beta.shape == (c,)
    gamma, beta = _rand(19, c, lo=0.5, hi=1.5), _rand(20, c)
    _set(net, gamma=gamma, beta=beta)
    y, dx, grads, head = fwd_bwd(net, x)
    ax = axis % 3

    def ref(x, g, b):
        return normalize(x, (ax,), 1e-5) * _bcast(g, 3, ax) + _bcast(b, 3, ax)
    close(y, ref(x.astype(np.float64), gamma, beta))
    check_param_grads(ref, [x, gamma, beta], ["gamma", "beta"], x, grads, dx, head)


def test_layernorm_wrong_size():
    net = nn.LayerNorm(in_channels=3)
    net.initialize()
    with pytest.raises(ShapeError, match=r"LayerNorm.*\(3,\).*\(2, 4\)"):
        net(nd.ones((2, 4)))


@pytest.mark.parametrize("axis", [1, 2])
def test_instancenorm(axis):
    net = nn.InstanceNorm(axis=axis, scale=True)
    net.initialize()
    x = _rand(21, 2, 3, 4, lo=-2, hi=2)
    net(nd.array(x))
    c = x.shape[axis]
    assert net.gamma.shape == (c,)
    gamma, beta = _rand(22, c, lo=0.5, hi=1.5), _rand(23, c)
    _set(net, gamma=gamma, beta=beta)
    y, dx, grads, head = fwd_bwd(net, x)
    others = tuple(i for i in range(1, 3) if i != axis)      # every axis but batch and channel

    def ref(x, g, b):
        return normalize(x, others, 1e-5) * _bcast(g, 3, axis) + _bcast(b, 3, axis)
    close(y, ref(x.astype(np.float64), gamma, beta))
    check_param_grads(ref, [x, gamma, beta], ["gamma", "beta"], x, grads, dx, head)


def test_instancenorm_default_does_not_train_gamma():
    net = nn.InstanceNorm(in_channels=2)
    assert net.gamma.grad_req == "null" and net.beta.grad_req == "write"


def test_groupnorm():
    net = nn.GroupNorm(num_groups=2)
    net.initialize()
    assert net.gamma.shape == (2,)
    x = _rand(24, 2, 4, 3, lo=-2, hi=2)
    gamma, beta = np.array([0.7, 1.3], np.float32), np.array([0.2, -0.1], np.float32)
    _set(net, gamma=gamma, beta=beta)
    y, dx, grads, head = fwd_bwd(net, x)

    def ref(x, g, b):
        xr = x.reshape(2, 2, 6)
        return (normalize(xr, (2,), 1e-5) * g.reshape(1, 2, 1) + b.reshape(1, 2, 1)).reshape(
            x.shape)
    close(y, ref(x.astype(np.float64), gamma, beta))
    check_param_grads(ref, [x, gamma, beta], ["gamma", "beta"], x, grads, dx, head)
    with pytest.raises(ShapeError, match=r"GroupNorm.*\(2, 3, 4\)"):
        net(nd.ones((2, 3, 4)))


# ---------------------------------------------------------------- Dropout, Embedding


def test_dropout_predict_mode_is_identity():
    x = _rand(25, 3, 4)
    net = nn.Dropout(0.5)
    close(net(nd.array(x)).asnumpy(), x, rtol=0, atol=0)
    with autograd.record(train_mode=False):
        y = net(nd.array(x))
    close(y.asnumpy(), x, rtol=0, atol=0)
    with autograd.record():
        y = nn.Dropout(0.0)(nd.array(x))
    close(y.asnumpy(), x, rtol=0, atol=0)


def test_dropout_training_mask_and_gradient():
    mx.random.seed(3)
    x = _rand(26, 40, 50, lo=1, hi=2)
    y, dx, _, head = fwd_bwd(nn.Dropout(0.3), x)
    kept = y != 0
    assert 0.6 < kept.mean() < 0.8
    close(y[kept], x[kept] / 0.7)
    close(dx, kept * head / 0.7)


def test_dropout_axes_share_the_mask():
    mx.random.seed(4)
    x = _rand(27, 4, 6, 5, lo=1, hi=2)
    y, _, _, _ = fwd_bwd(nn.Dropout(0.5, axes=(1,)), x)
    kept = y != 0
    assert (kept == kept[:, :1, :]).all()
    assert 0 < kept.mean() < 1


def test_embedding():
    net = nn.Embedding(5, 3)
    net.initialize()
    w = np.arange(15, dtype=np.float32).reshape(5, 3)
    _set(net, weight=w)
    idx = np.array([[0, 2], [2, 4]], np.float32)
    xa = nd.array(idx)
    with autograd.record():
        y = net(xa)
    head = _rand(28, 2, 2, 3)
    y.backward(nd.array(head))
    close(y.asnumpy(), w[idx.astype(int)])
    want = np.zeros((5, 3))
    np.add.at(want, idx.astype(int).ravel(), head.reshape(-1, 3))
    close(net.weight.grad().asnumpy(), want)
    assert net.weight.shape == (5, 3)


# ---------------------------------------------------------------- activations


def _gelu(x):
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


_SELU_A, _SELU_L = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
ACT_CASES = [
    (lambda: nn.LeakyReLU(0.1), lambda x: np.where(x > 0, x, 0.1 * x)),
    (lambda: nn.ELU(0.5), lambda x: np.where(x > 0, x, 0.5 * (np.exp(x) - 1))),
    (lambda: nn.ELU(), lambda x: np.where(x > 0, x, np.exp(x) - 1)),
    (lambda: nn.SELU(), lambda x: _SELU_L * np.where(x > 0, x, _SELU_A * (np.exp(x) - 1))),
    (lambda: nn.Swish(), lambda x: x / (1 + np.exp(-x))),
    (lambda: nn.Swish(beta=2.0), lambda x: x / (1 + np.exp(-2 * x))),
    (lambda: nn.GELU(), _gelu),
]


@pytest.mark.parametrize("make,ref", ACT_CASES)
def test_activation_layers(make, ref):
    x = _rand(29, 3, 4, lo=-3, hi=3)
    y, dx, _, head = fwd_bwd(make(), x)
    close(y, ref(x.astype(np.float64)))
    close(dx, numeric_grad(ref, [x.astype(np.float64)], head)[0], atol=5e-4)


def test_leaky_relu_rejects_negative_slope():
    with pytest.raises(GraphccError, match="LeakyReLU"):
        nn.LeakyReLU(-0.1)


@pytest.mark.parametrize("in_channels", [1, 3])
def test_prelu(in_channels):
    net = nn.PReLU(in_channels=in_channels)
    net.initialize(init.Constant(0.9))               # alpha keeps its own initializer
    close(net.alpha.data().asnumpy(), np.full(in_channels, 0.25))
    alpha = np.array([0.1, 0.2, 0.3][:in_channels], np.float32)
    _set(net, alpha=alpha)
    x = _rand(30, 2, 3, 4, lo=-2, hi=2)
    y, dx, grads, head = fwd_bwd(net, x)

    def ref(x, a):
        return np.where(x > 0, x, x * _bcast(a, 3, 1))
    close(y, ref(x.astype(np.float64), alpha))
    check_param_grads(ref, [x, alpha], ["alpha"], x, grads, dx, head)


# ---------------------------------------------------------------- names, order, reprs


def test_parameter_names_and_order():
    # The list MXNet 1.9.1 prints for the same network
    net = nn.HybridSequential(prefix="net_")
    with net.name_scope():
        net.add(nn.Conv2D(4, 3, activation="relu"), nn.BatchNorm(), nn.MaxPool2D(),
                nn.Conv2DTranspose(2, 3), nn.Dense(3), nn.LayerNorm(), nn.Embedding(3, 4),
                nn.PReLU(), nn.InstanceNorm(), nn.GroupNorm(), nn.Dropout(0.5))
    assert list(net.collect_params().keys()) == [
        "net_conv0_weight", "net_conv0_bias", "net_batchnorm0_gamma", "net_batchnorm0_beta",
        "net_batchnorm0_running_mean", "net_batchnorm0_running_var", "net_conv1_weight",
        "net_conv1_bias", "net_dense0_weight", "net_dense0_bias", "net_layernorm0_gamma",
        "net_layernorm0_beta", "net_embedding0_weight", "net_prelu0_alpha",
        "net_instancenorm0_gamma", "net_instancenorm0_beta", "net_groupnorm0_gamma",
        "net_groupnorm0_beta"]


REPRS = [   # printed by MXNet 1.9.1
    (lambda: nn.Conv2D(20, 5, in_channels=1),
     "Conv2D(1 -> 20, kernel_size=(5, 5), stride=(1, 1))"),
    (lambda: nn.Conv2D(20, (3, 3), strides=2, padding=1, dilation=2, groups=2, use_bias=False,
                       activation="relu"),
     "Conv2D(None -> 20, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), dilation=(2, 2), "
     "groups=2, bias=False, Activation(relu))"),
    (lambda: nn.Conv1D(4, 3), "Conv1D(None -> 4, kernel_size=(3,), stride=(1,))"),
    (lambda: nn.Conv3D(2, 3), "Conv3D(None -> 2, kernel_size=(3, 3, 3), stride=(1, 1, 1))"),
    (lambda: nn.Conv2DTranspose(3, 3, strides=2, output_padding=1, in_channels=4),
     "Conv2DTranspose(3 -> 4, kernel_size=(3, 3), stride=(2, 2))"),
    (lambda: nn.Conv1DTranspose(3, 2), "Conv1DTranspose(3 -> 0, kernel_size=(2,), stride=(1,))"),
    (lambda: nn.MaxPool2D(),
     "MaxPool2D(size=(2, 2), stride=(2, 2), padding=(0, 0), ceil_mode=False, "
     "global_pool=False, pool_type=max, layout=NCHW)"),
    (lambda: nn.MaxPool1D(3, 2, 1, ceil_mode=True),
     "MaxPool1D(size=(3,), stride=(2,), padding=(1,), ceil_mode=True, global_pool=False, "
     "pool_type=max, layout=NCW)"),
    (lambda: nn.AvgPool2D(3, count_include_pad=False),
     "AvgPool2D(size=(3, 3), stride=(3, 3), padding=(0, 0), ceil_mode=False, "
     "global_pool=False, pool_type=avg, layout=NCHW)"),
    (lambda: nn.GlobalAvgPool2D(),
     "GlobalAvgPool2D(size=(1, 1), stride=(1, 1), padding=(0, 0), ceil_mode=True, "
     "global_pool=True, pool_type=avg, layout=NCHW)"),
    (lambda: nn.GlobalMaxPool1D(),
     "GlobalMaxPool1D(size=(1,), stride=(1,), padding=(0,), ceil_mode=True, global_pool=True, "
     "pool_type=max, layout=NCW)"),
    (lambda: nn.Dropout(0.5), "Dropout(p = 0.5, axes=())"),
    (lambda: nn.Dropout(0.3, axes=(1,)), "Dropout(p = 0.3, axes=(1,))"),
    (lambda: nn.Embedding(10, 4), "Embedding(10 -> 4, float32)"),
    (lambda: nn.BatchNorm(),
     "BatchNorm(axis=1, eps=1e-05, momentum=0.9, fix_gamma=False, use_global_stats=False, "
     "in_channels=None)"),
    (lambda: nn.BatchNorm(in_channels=3, scale=False),
     "BatchNorm(axis=1, eps=1e-05, momentum=0.9, fix_gamma=True, use_global_stats=False, "
     "in_channels=3)"),
    (lambda: nn.LayerNorm(), "LayerNorm(eps=1e-05, axis=-1, center=True, scale=True, "
                             "in_channels=0)"),
    (lambda: nn.LayerNorm(in_channels=5), "LayerNorm(eps=1e-05, axis=-1, center=True, "
                                          "scale=True, in_channels=5)"),
    (lambda: nn.InstanceNorm(), "InstanceNorm(eps=1e-05, axis=1, center=True, scale=False, "
                                "in_channels=0)"),
    (lambda: nn.GroupNorm(2), "GroupNorm(eps=1e-05, num_groups=2, center=True, scale=True)"),
    (lambda: nn.LeakyReLU(0.1), "LeakyReLU(0.1)"),
]


@pytest.mark.parametrize("make,text", REPRS)
def test_reprs(make, text):
    assert repr(make()) == text


def test_conv_repr_after_deferred_init():
    net = nn.Conv2D(8, 3, padding=1)
    net.initialize()
    net(nd.ones((1, 3, 4, 4)))
    assert repr(net) == "Conv2D(3 -> 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"
    bn = nn.BatchNorm()
    bn.initialize()
    bn(nd.ones((2, 3)))
    assert repr(bn).endswith("in_channels=3)")


# ---------------------------------------------------------------- contrib.nn


def test_contrib_import_paths():
    assert mx.gluon.contrib.nn.HybridConcurrent is cnn.HybridConcurrent
    from graphcc.gluon.contrib.nn import Concurrent, Identity  # noqa: F401


def test_hybrid_concurrent():
    net = cnn.HybridConcurrent(axis=1, prefix="cat_")
    with net.name_scope():
        net.add(nn.Dense(2), nn.Dense(3, use_bias=False), cnn.Identity())
    net.initialize()
    x = _rand(31, 2, 4)
    y = net(nd.array(x))
    w0, b0, w1 = (p.data().asnumpy() for p in net.collect_params().values())
    close(y.asnumpy(), np.concatenate([x @ w0.T + b0, x @ w1.T, x], axis=1))
    assert list(net.collect_params().keys()) == ["cat_dense0_weight", "cat_dense0_bias",
                                                 "cat_dense1_weight"]


def test_concurrent_default_axis_is_last():
    net = cnn.Concurrent()
    net.add(nn.Dense(2, flatten=False), nn.Dense(1, flatten=False))
    net.initialize()
    assert net(nd.ones((2, 3, 4))).shape == (2, 3, 3)
    ident = cnn.Identity()
    x = _rand(32, 3)
    close(ident(nd.array(x)).asnumpy(), x, rtol=0, atol=0)


# ---------------------------------------------------------------- hybridize


HYBRID_CASES = [
    (lambda: nn.Conv2D(3, 3, padding=1, activation="tanh"), (2, 2, 4, 4)),
    (lambda: nn.Conv1DTranspose(2, 3, strides=2), (2, 3, 4)),
    (lambda: nn.MaxPool2D(3, 2, 1, ceil_mode=True), (1, 2, 5, 5)),
    (lambda: nn.GlobalAvgPool1D(), (2, 3, 4)),
    (lambda: nn.BatchNorm(), (4, 3, 2)),
    (lambda: nn.LayerNorm(), (2, 5)),
    (lambda: nn.InstanceNorm(axis=2), (2, 3, 4)),
    (lambda: nn.GroupNorm(2), (2, 4, 3)),
    (lambda: nn.PReLU(), (2, 3)),
    (lambda: nn.LeakyReLU(0.1), (2, 3)),
    (lambda: nn.GELU(), (2, 3)),
    (lambda: nn.Swish(), (2, 3)),
    (lambda: nn.Dropout(0.5), (2, 3)),
]


@pytest.mark.parametrize("make,shape", HYBRID_CASES)
def test_hybridized_layer_matches_eager(make, shape):
    net = make()
    net.initialize()
    x = _rand(33, *shape)
    y_eager, dx_eager, g_eager, _ = fwd_bwd(net, x, train=not isinstance(net, nn.Dropout))
    net.hybridize()
    y_hyb, dx_hyb, g_hyb, _ = fwd_bwd(net, x, train=not isinstance(net, nn.Dropout))
    close(y_hyb, y_eager, rtol=1e-5, atol=1e-5)
    close(dx_hyb, dx_eager, rtol=1e-5, atol=1e-5)
    for k in g_eager:
        close(g_hyb[k], g_eager[k], rtol=1e-5, atol=1e-5)
