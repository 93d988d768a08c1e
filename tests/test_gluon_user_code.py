"""Gluon 1.x user programs, written the way MXNet users write them (d2l's MXNet chapters, the
Gluon tutorials, MXNet's word_language_model example), run unchanged apart from the import.

The model code below only imports ``graphcc as mx``, ``nd, autograd, gluon, init`` and
``nn, rnn``. Every numerical check compares against NumPy written out in this file
(independent of graphcc): forward passes with the nets' own weights, one SGD step from hand
gradients (or central finite differences of the NumPy forward, in float64), BatchNorm
statistics. Models that are HybridBlocks run un-hybridized and hybridized and must give the
same numbers. (User idioms such as ``super(Cls, self).__init__``, nested ``with`` blocks and
``params.keys()`` are kept on purpose.)
"""
import numpy as np
import pytest

import graphcc as mx
from graphcc import autograd, gluon, init, nd
from graphcc.gluon import nn, rnn

RTOL, ATOL = 1e-4, 1e-5


def close(got, want, rtol=RTOL, atol=ATOL):
    got, want = (a.asnumpy() if hasattr(a, "asnumpy") else np.asarray(a) for a in (got, want))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


# ---------------------------------------------------------------- NumPy references


def np_relu(x):
    return np.maximum(x, 0)


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def np_softmax_ce(logits, labels):
    """Per-sample -log softmax(logits)[label]."""
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(labels)), labels.astype(int)]


def np_conv2d(x, w, b, stride=1, pad=0):
    """Cross-correlation NCHW x OIHW, one kernel offset at a time."""
    n, _, h, wd = x.shape
    f, _, kh, kw = w.shape
    xp = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    out = np.zeros((n, f, oh, ow), dtype=np.float64)
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
            out += np.einsum("nchw,fc->nfhw", patch, w[:, :, i, j])
    return out + b.reshape(1, -1, 1, 1)


def np_maxpool2d(x, k=2, s=2):
    n, c, h, w = x.shape
    oh, ow = (h - k) // s + 1, (w - k) // s + 1
    out = np.full((n, c, oh, ow), -np.inf)
    for i in range(k):
        for j in range(k):
            out = np.maximum(out, x[:, :, i:i + s * oh:s, j:j + s * ow:s])
    return out


def np_batchnorm(x, gamma, beta, mean, var, eps=1e-5):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps) * \
        gamma.reshape(shape) + beta.reshape(shape)


def np_lstm(x, h, c, wi, wh, bi, bh):
    """MXNet's LSTM (gates i, f, g, o) over x of shape (T, N, C); returns outputs, h, c."""
    hidden = h.shape[-1]
    outs = []
    for t in range(x.shape[0]):
        gates = x[t] @ wi.T + bi + h @ wh.T + bh
        i, f, g, o = (gates[:, k * hidden:(k + 1) * hidden] for k in range(4))
        c = np_sigmoid(f) * c + np_sigmoid(i) * np.tanh(g)
        h = np_sigmoid(o) * np.tanh(c)
        outs.append(h)
    return np.stack(outs), h, c


def weights(net):
    """{parameter name: float64 NumPy value} in collect_params() order."""
    return {name: p.data().asnumpy().astype(np.float64)
            for name, p in net.collect_params().items()}


def wb(layer):
    """A layer's weight and bias as float64 NumPy arrays."""
    return (layer.weight.data().asnumpy().astype(np.float64),
            layer.bias.data().asnumpy().astype(np.float64))


both_modes = pytest.mark.parametrize("hybridize", [False, True], ids=["eager", "hybridized"])


# ---------------------------------------------------------------- nd basics


def test_nd_basics():
    x = nd.arange(12)
    assert x.shape == (12,) and x.size == 12 and x.dtype == np.float32
    X = x.reshape((3, 4))
    close(X, np.arange(12).reshape(3, 4))
    close(nd.zeros((2, 3, 4)), np.zeros((2, 3, 4)))
    close(nd.ones((3, 4)), np.ones((3, 4)))
    Y = nd.array([[2, 1, 4, 3], [1, 2, 3, 4], [4, 3, 2, 1]])
    assert Y.dtype == np.float32
    close(X + Y, np.arange(12).reshape(3, 4) + Y.asnumpy())
    close(X * Y, np.arange(12).reshape(3, 4) * Y.asnumpy())
    close(X / Y, np.arange(12).reshape(3, 4) / Y.asnumpy())
    close(Y.exp(), np.exp(Y.asnumpy()), rtol=1e-5)
    close(nd.dot(X, Y.T), np.arange(12).reshape(3, 4) @ Y.asnumpy().T)
    close(nd.linalg.gemm2(X, Y, transpose_b=True, alpha=0.5),
          0.5 * np.arange(12).reshape(3, 4) @ Y.asnumpy().T)
    close(nd.concat(X, Y, dim=0), np.concatenate([X.asnumpy(), Y.asnumpy()], axis=0))
    close(nd.concat(X, Y, dim=1), np.concatenate([X.asnumpy(), Y.asnumpy()], axis=1))
    close(X == Y, (X.asnumpy() == Y.asnumpy()).astype(np.float32))
    assert X.sum().asscalar() == 66.0
    assert X.norm().asscalar() == pytest.approx(np.sqrt((np.arange(12.0) ** 2).sum()))

    # broadcasting
    A = nd.arange(3).reshape((3, 1))
    B = nd.arange(2).reshape((1, 2))
    close(A + B, np.arange(3).reshape(3, 1) + np.arange(2).reshape(1, 2))
    close(nd.broadcast_mul(A, B), np.arange(3).reshape(3, 1) * np.arange(2).reshape(1, 2))

    # indexing and slicing
    close(X[1:3], np.arange(12).reshape(3, 4)[1:3])
    close(X[-1], np.arange(8, 12))
    assert X[1, 2].asscalar() == 6.0
    close(X[:, 1:3], np.arange(12).reshape(3, 4)[:, 1:3])
    X[1, 2] = 9
    X[0:2, :] = 12
    want = np.arange(12.0).reshape(3, 4)
    want[1, 2] = 9
    want[0:2, :] = 12
    close(X, want)

    # in-place operations keep the same array
    Z = Y.zeros_like()
    before = id(Z)
    Z[:] = X + Y
    assert id(Z) == before
    close(Z, want + Y.asnumpy())
    before = id(X)
    X += Y
    assert id(X) == before
    close(X, want + Y.asnumpy())

    # NumPy round trip
    P = X.asnumpy()
    assert isinstance(P, np.ndarray)
    D = nd.array(P)
    assert isinstance(D, mx.nd.NDArray)
    a = nd.array([3.5])
    assert a.asscalar() == 3.5

    # reshape special codes: 0 copy, -1 infer, -2 copy rest, -3 merge two, -4 split one
    r = nd.zeros((2, 3, 4))
    assert r.reshape((0, -1)).shape == (2, 12)
    assert r.reshape((-3, 0)).shape == (6, 4)
    assert r.reshape((0, -2)).shape == (2, 3, 4)
    assert r.reshape((-4, 1, 2, -2)).shape == (1, 2, 3, 4)
    assert r.reshape((-1, 4)).shape == (6, 4)
    assert r.reshape(6, 4).shape == (6, 4)


def test_argmax_accuracy():
    """d2l's accuracy(y_hat, y) = (y_hat.argmax(axis=1) == y.astype('float32')).mean()."""
    y_hat = nd.array([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5], [0.9, 0.05, 0.05], [0.2, 0.7, 0.1]])
    y = nd.array([0, 2, 0, 1], dtype="int32")
    idx = y_hat.argmax(axis=1)
    assert idx.dtype == np.float32
    close(idx, [2, 2, 0, 1])
    acc = (y_hat.argmax(axis=1) == y.astype("float32")).mean().asscalar()
    assert acc == pytest.approx(0.75)
    acc_sum = (y_hat.argmax(axis=1) == y.astype("float32")).sum().asscalar()
    assert acc_sum == 3.0
    # picking each row's true-label probability (d2l's cross_entropy)
    close(nd.pick(y_hat, y), [0.1, 0.5, 0.9, 0.7])
    close(-nd.pick(y_hat, y).log(), -np.log([0.1, 0.5, 0.9, 0.7]), rtol=1e-5)


# ---------------------------------------------------------------- autograd


def test_autograd_backward_and_head_grads():
    x = nd.arange(4).reshape((4, 1))
    x.attach_grad()
    with autograd.record():
        y = 2 * nd.dot(x.T, x)
    y.backward()
    close(x.grad, 4 * np.arange(4).reshape(4, 1))
    assert autograd.is_training() is False and autograd.is_recording() is False
    with autograd.record():
        assert autograd.is_training() and autograd.is_recording()

    def f(a):                                  # Python control flow on values
        b = a * 2
        while b.norm().asscalar() < 1000:
            b = b * 2
        if b.sum().asscalar() > 0:
            c = b
        else:
            c = 100 * b
        return c

    a = nd.array([0.3])
    a.attach_grad()
    with autograd.record():
        c = f(a)
    c.backward()
    close(a.grad, c / a, rtol=1e-5)

    # explicit head gradient
    z = nd.array([1.0, 2.0, 3.0])
    z.attach_grad()
    with autograd.record():
        w = z * z
    w.backward(nd.array([1.0, 0.5, 0.1]))
    close(z.grad, 2 * np.array([1.0, 2.0, 3.0]) * [1.0, 0.5, 0.1], rtol=1e-5)


def test_autograd_grad_higher_order():
    x = nd.array([0.1, 0.5, 1.3])
    x.attach_grad()
    with autograd.record():
        y = nd.sin(x)
        dy = autograd.grad(y, [x], create_graph=True, retain_graph=True)[0]
    close(dy, np.cos([0.1, 0.5, 1.3]), rtol=1e-5)
    dy.backward()
    close(x.grad, -np.sin([0.1, 0.5, 1.3]), rtol=1e-5)

    u = nd.array([[1.0, -2.0], [0.5, 3.0]])
    u.attach_grad()
    with autograd.record():
        v = (u ** 3).sum()
    g = autograd.grad(v, [u], head_grads=nd.array([2.0]))[0]
    close(g, 2 * 3 * u.asnumpy() ** 2, rtol=1e-5)


class sigmoid(mx.autograd.Function):
    """The custom Function of MXNet's autograd tutorial."""

    def forward(self, x):
        y = 1 / (1 + mx.nd.exp(-x))
        self.save_for_backward(y)
        return y

    def backward(self, dy):
        y, = self.saved_tensors
        return dy * y * (1 - y)


def test_autograd_function():
    func = sigmoid()
    x = mx.nd.array([-2.0, 0.0, 1.5])
    x.attach_grad()
    with mx.autograd.record():
        m = func(x)
        m.backward()
    s = np_sigmoid(np.array([-2.0, 0.0, 1.5]))
    close(m, s, rtol=1e-5)
    close(x.grad, s * (1 - s), rtol=1e-5)

    class Scale(autograd.Function):             # a Function inside a larger graph
        def forward(self, x):
            return x * 3

        def backward(self, dy):
            return dy * 3

    x = nd.array([1.0, 2.0])
    x.attach_grad()
    with autograd.record():
        y = (Scale()(x * x) + x).sum()
    y.backward()
    close(x.grad, 6 * np.array([1.0, 2.0]) + 1, rtol=1e-5)


# ---------------------------------------------------------------- MLP + softmax CE + Trainer


def mlp(hybrid):
    net = nn.HybridSequential() if hybrid else nn.Sequential()
    net.add(nn.Dense(16, activation="relu"),
            nn.Dense(5))
    net.initialize(init.Normal(sigma=0.5))
    if hybrid:
        net.hybridize()
    return net


@both_modes
def test_mlp_forward_and_sgd_step_match_numpy(hybridize):
    mx.random.seed(1)
    rs = np.random.RandomState(0)
    X = nd.array(rs.normal(size=(8, 2, 5)))          # flattened by Dense: 10 features
    y = nd.array(rs.randint(0, 5, size=8))
    net = mlp(hybridize)
    net(X)                                            # deferred init fixes the shapes
    assert net[0].weight.shape == (16, 10) and net[1].weight.shape == (5, 16)
    w1 = net[0].weight.data().asnumpy().astype(np.float64)
    b1 = net[0].bias.data().asnumpy().astype(np.float64)
    w2 = net[1].weight.data().asnumpy().astype(np.float64)
    b2 = net[1].bias.data().asnumpy().astype(np.float64)
    assert not b1.any() and not b2.any()             # Dense biases start at zero

    x = X.asnumpy().reshape(8, -1).astype(np.float64)
    h_pre = x @ w1.T + b1
    h = np_relu(h_pre)
    logits = h @ w2.T + b2
    close(net(X), logits, rtol=1e-4, atol=1e-5)

    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.5})
    batch_size = 8
    with autograd.record():
        l = loss(net(X), y)
    l.backward()
    trainer.step(batch_size)
    labels = y.asnumpy().astype(int)
    close(l, np_softmax_ce(logits, labels), rtol=1e-4)

    # hand backprop of sum(l); the step divides by batch_size
    dlogits = np_softmax(logits)
    dlogits[np.arange(8), labels] -= 1
    gw2, gb2 = dlogits.T @ h, dlogits.sum(0)
    dh = dlogits @ w2 * (h_pre > 0)
    gw1, gb1 = dh.T @ x, dh.sum(0)
    lr = 0.5 / batch_size
    close(net[0].weight.data(), w1 - lr * gw1, rtol=1e-4, atol=1e-5)
    close(net[0].bias.data(), b1 - lr * gb1, rtol=1e-4, atol=1e-5)
    close(net[1].weight.data(), w2 - lr * gw2, rtol=1e-4, atol=1e-5)
    close(net[1].bias.data(), b2 - lr * gb2, rtol=1e-4, atol=1e-5)


def test_mlp_eager_and_hybridized_give_the_same_numbers():
    rs = np.random.RandomState(3)
    X, y = nd.array(rs.normal(size=(6, 10))), nd.array(rs.randint(0, 5, size=6))
    nets = [mlp(False), mlp(True)]
    for net in nets:
        net(X)
    for name in ("weight", "bias"):
        for i in range(2):
            getattr(nets[1][i], name).set_data(getattr(nets[0][i], name).data())
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    trainers = [gluon.Trainer(n.collect_params(), "sgd",
                              {"learning_rate": 0.1, "momentum": 0.9}) for n in nets]
    for _ in range(3):
        outs = []
        for net, trainer in zip(nets, trainers):
            with autograd.record():
                l = loss(net(X), y)
            l.backward()
            trainer.step(6)
            outs.append(l.mean().asscalar())
        assert outs[0] == pytest.approx(outs[1], rel=1e-5)
    for a, b in zip(nets[0].collect_params().values(), nets[1].collect_params().values()):
        close(a.data(), b.data().asnumpy(), rtol=1e-5, atol=1e-6)


class Recorder(nn.HybridBlock):
    """Remembers which F each call of hybrid_forward got."""

    def __init__(self, **kwargs):
        super(Recorder, self).__init__(**kwargs)
        self.seen = []
        with self.name_scope():
            self.dense = nn.Dense(3, in_units=4)

    def hybrid_forward(self, F, x):
        self.seen.append(F)
        return F.relu(self.dense(x))


def test_hybridize_runs_hybrid_forward_once_on_symbols():
    net = Recorder()
    net.initialize()
    x = nd.random.uniform(shape=(2, 4))
    eager = net(x)
    assert net.seen == [mx.nd]
    net.hybridize()
    hybrid = net(x)
    net(x)
    net(x * 2)                                   # same shapes: the cached graph runs
    assert net.seen == [mx.nd, mx.sym]
    close(hybrid, eager.asnumpy(), rtol=1e-6, atol=0)
    w, b = wb(net.dense)
    close(net(x * 2), np_relu(2 * x.asnumpy() @ w.T + b), rtol=1e-5, atol=1e-6)
    out = net(mx.sym.var("data"))
    assert isinstance(out, mx.sym.Symbol)
    assert out.list_arguments() == ["data", net.dense.weight.name, net.dense.bias.name]


# ---------------------------------------------------------------- LeNet


def lenet():
    net = nn.HybridSequential()
    net.add(nn.Conv2D(channels=6, kernel_size=5, activation="sigmoid"),
            nn.MaxPool2D(pool_size=2, strides=2),
            nn.Conv2D(channels=16, kernel_size=5, activation="sigmoid"),
            nn.MaxPool2D(pool_size=2, strides=2),
            # Dense converts (batch, channels, height, width) to (batch, c * h * w)
            nn.Dense(120, activation="sigmoid"),
            nn.Dense(84, activation="sigmoid"),
            nn.Dense(10))
    return net


def np_lenet(x, net):
    z = np_sigmoid(np_conv2d(x, *wb(net[0])))
    z = np_maxpool2d(z)
    z = np_sigmoid(np_conv2d(z, *wb(net[2])))
    z = np_maxpool2d(z).reshape(x.shape[0], -1)
    w, b = wb(net[4])
    z = np_sigmoid(z @ w.T + b)
    w, b = wb(net[5])
    z = np_sigmoid(z @ w.T + b)
    w, b = wb(net[6])
    return z @ w.T + b


@both_modes
def test_lenet_forward_shapes_and_training_step(hybridize):
    mx.random.seed(0)
    net = lenet()
    net.initialize(init=init.Xavier())
    if hybridize:
        net.hybridize()
    X = nd.random.uniform(shape=(2, 1, 28, 28))
    shapes = []
    for layer in net:
        X = layer(X)
        shapes.append(X.shape)
    assert shapes == [(2, 6, 24, 24), (2, 6, 12, 12), (2, 16, 8, 8), (2, 16, 4, 4), (2, 120),
                      (2, 84), (2, 10)]

    rs = np.random.RandomState(5)
    x = rs.uniform(size=(3, 1, 28, 28))
    p = weights(net)
    want = np_lenet(x, net)
    close(net(nd.array(x)), want, rtol=1e-4, atol=1e-5)

    # one SGD step moves every parameter and lowers the loss on this batch
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.2})
    X, y = nd.array(x), nd.array([1, 7, 3])
    losses = []
    for _ in range(5):
        with autograd.record():
            l = loss(net(X), y)
        l.backward()
        trainer.step(3)
        losses.append(l.mean().asscalar())
    assert losses[-1] < losses[0]
    for name, value in weights(net).items():
        assert not np.allclose(value, p[name]), name


# ---------------------------------------------------------------- residual block, small ResNet


class Residual(nn.HybridBlock):
    """d2l's residual block (MXNet version)."""

    def __init__(self, num_channels, use_1x1conv=False, strides=1, **kwargs):
        super(Residual, self).__init__(**kwargs)
        self.conv1 = nn.Conv2D(num_channels, kernel_size=3, padding=1, strides=strides)
        self.conv2 = nn.Conv2D(num_channels, kernel_size=3, padding=1)
        if use_1x1conv:
            self.conv3 = nn.Conv2D(num_channels, kernel_size=1, strides=strides)
        else:
            self.conv3 = None
        self.bn1 = nn.BatchNorm()
        self.bn2 = nn.BatchNorm()

    def hybrid_forward(self, F, X):
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        if self.conv3:
            X = self.conv3(X)
        return F.relu(Y + X)


def resnet_block(num_channels, num_residuals, first_block=False):
    blk = nn.HybridSequential()
    for i in range(num_residuals):
        if i == 0 and not first_block:
            blk.add(Residual(num_channels, use_1x1conv=True, strides=2))
        else:
            blk.add(Residual(num_channels))
    return blk


def small_resnet():
    net = nn.HybridSequential()
    net.add(nn.Conv2D(8, kernel_size=3, strides=1, padding=1),
            nn.BatchNorm(), nn.Activation("relu"),
            nn.MaxPool2D(pool_size=2, strides=2))
    net.add(resnet_block(8, 1, first_block=True),
            resnet_block(12, 1))
    net.add(nn.GlobalAvgPool2D(), nn.Dense(4))
    return net


def np_residual(x, blk, training):
    """The Residual block in NumPy; ``training`` uses the batch statistics."""
    def conv(layer, z, stride, pad):
        return np_conv2d(z, layer.weight.data().asnumpy().astype(np.float64),
                         layer.bias.data().asnumpy().astype(np.float64), stride, pad)

    def bn(layer, z):
        g, b = (layer.gamma.data().asnumpy(), layer.beta.data().asnumpy())
        if training:
            mean, var = z.mean(axis=(0, 2, 3)), z.var(axis=(0, 2, 3))
        else:
            mean, var = layer.running_mean.data().asnumpy(), layer.running_var.data().asnumpy()
        return np_batchnorm(z, g, b, mean, var)

    stride = 2 if blk.conv3 is not None else 1
    y = np_relu(bn(blk.bn1, conv(blk.conv1, x, stride, 1)))
    y = bn(blk.bn2, conv(blk.conv2, y, 1, 1))
    if blk.conv3 is not None:
        x = conv(blk.conv3, x, stride, 0)
    return np_relu(y + x)


@both_modes
def test_residual_block_shapes_and_numbers(hybridize):
    blk = Residual(3)
    blk.initialize()
    if hybridize:
        blk.hybridize()
    X = nd.random.uniform(shape=(4, 3, 6, 6))
    assert blk(X).shape == (4, 3, 6, 6)
    blk2 = Residual(6, use_1x1conv=True, strides=2)
    blk2.initialize()
    if hybridize:
        blk2.hybridize()
    assert blk2(X).shape == (4, 6, 3, 3)

    x = np.random.RandomState(2).normal(size=(2, 3, 5, 5))
    # prediction: running statistics (0 and 1 after initialisation)
    close(blk2(nd.array(x)), np_residual(x, blk2, training=False), rtol=1e-4, atol=1e-5)
    # training: batch statistics
    with autograd.record():
        out = blk2(nd.array(x))
    close(out, np_residual(x, blk2, training=True), rtol=1e-3, atol=1e-4)


def test_small_resnet_trains_the_same_eager_and_hybridized():
    mx.random.seed(0)
    rs = np.random.RandomState(4)
    X, y = nd.array(rs.normal(size=(6, 1, 8, 8))), nd.array(rs.randint(0, 4, size=6))
    nets = [small_resnet(), small_resnet()]
    for net in nets:
        net.initialize(init.Xavier())
        net(X)
    for a, b in zip(nets[0].collect_params().values(), nets[1].collect_params().values()):
        b.set_data(a.data())
    nets[1].hybridize()
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    trainers = [gluon.Trainer(n.collect_params(), "sgd", {"learning_rate": 0.1})
                for n in nets]
    history = [[], []]
    for _ in range(3):
        for k, (net, trainer) in enumerate(zip(nets, trainers)):
            with autograd.record():
                l = loss(net(X), y)
            l.backward()
            trainer.step(X.shape[0])
            history[k].append(l.mean().asscalar())
    np.testing.assert_allclose(history[0], history[1], rtol=1e-4)
    assert history[0][-1] < history[0][0]
    for (name, a), b in zip(nets[0].collect_params().items(),
                            nets[1].collect_params().values()):
        close(a.data(), b.data().asnumpy(), rtol=1e-3, atol=1e-5)
    close(nets[0](X), nets[1](X).asnumpy(), rtol=1e-3, atol=1e-5)
    # 'running_mean' of every BatchNorm moved away from its initial zeros
    for name, param in nets[0].collect_params(".*running_mean").items():
        assert np.abs(param.data().asnumpy()).max() > 0, name


# ---------------------------------------------------------------- BatchNorm train / predict


@both_modes
def test_batchnorm_train_and_predict(hybridize):
    net = nn.HybridSequential()
    net.add(nn.Dense(4, in_units=3), nn.BatchNorm(momentum=0.9))
    net.initialize(init.Normal(sigma=1.0))
    if hybridize:
        net.hybridize()
    bn = net[1]
    assert [k[len(bn.prefix):] for k in bn.collect_params().keys()] == \
        ["gamma", "beta", "running_mean", "running_var"]
    x = np.random.RandomState(7).normal(size=(5, 3)) * 3 + 1
    X = nd.array(x)
    w, b = net[0].weight.data().asnumpy(), net[0].bias.data().asnumpy()
    z = x.astype(np.float64) @ w.T + b
    mean, var = z.mean(axis=0), z.var(axis=0)
    ones, zeros = np.ones(4), np.zeros(4)

    # prediction (no record): running stats 0 / 1
    close(net(X), np_batchnorm(z, ones, zeros, zeros, ones), rtol=1e-4, atol=1e-5)
    # training under record: batch stats; forward alone leaves the running stats alone
    with autograd.record():
        y = net(X)
    close(y, np_batchnorm(z, ones, zeros, mean, var), rtol=1e-3, atol=1e-4)
    close(bn.running_mean.data(), zeros)
    close(bn.running_var.data(), ones)
    # record(train_mode=False) and predict_mode() use the running stats
    with autograd.record(train_mode=False):
        y = net(X)
    close(y, np_batchnorm(z, ones, zeros, zeros, ones), rtol=1e-4, atol=1e-5)
    with autograd.record():
        with autograd.predict_mode():
            y = net(X)
    close(y, np_batchnorm(z, ones, zeros, zeros, ones), rtol=1e-4, atol=1e-5)

    # a training step updates running = 0.9 * running + 0.1 * batch (biased variance)
    with autograd.record():
        y = net(X)
    y.backward()
    close(bn.running_mean.data(), 0.1 * mean, rtol=1e-4, atol=1e-5)
    close(bn.running_var.data(), 0.9 + 0.1 * var, rtol=1e-4, atol=1e-5)
    with autograd.record():
        y = net(X)
    y.backward()
    close(bn.running_mean.data(), 0.9 * 0.1 * mean + 0.1 * mean, rtol=1e-4, atol=1e-5)
    running_var = 0.9 * (0.9 + 0.1 * var) + 0.1 * var
    close(bn.running_var.data(), running_var, rtol=1e-4, atol=1e-5)
    # prediction now uses them
    close(net(X), np_batchnorm(z, ones, zeros, 0.19 * mean, running_var), rtol=1e-4,
          atol=1e-5)
    # running stats are not trained
    assert bn.running_mean.grad_req == "null" and bn.running_var.grad_req == "null"


# ---------------------------------------------------------------- LSTM language model


class RNNModel(gluon.HybridBlock):
    """The encoder-LSTM-decoder of MXNet's word_language_model example (gluon)."""

    def __init__(self, vocab_size, num_embed, num_hidden, num_layers, dropout=0.5, **kwargs):
        super(RNNModel, self).__init__(**kwargs)
        with self.name_scope():
            self.drop = nn.Dropout(dropout)
            self.encoder = nn.Embedding(vocab_size, num_embed,
                                        weight_initializer=mx.init.Uniform(0.1))
            self.rnn = rnn.LSTM(num_hidden, num_layers, dropout=dropout,
                                input_size=num_embed)
            self.decoder = nn.Dense(vocab_size, in_units=num_hidden)
            self.num_hidden = num_hidden

    def hybrid_forward(self, F, inputs, hidden):
        emb = self.drop(self.encoder(inputs))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        decoded = self.decoder(output.reshape((-1, self.num_hidden)))
        return decoded, hidden

    def begin_state(self, *args, **kwargs):
        return self.rnn.begin_state(*args, **kwargs)


def detach(hidden):
    if isinstance(hidden, (tuple, list)):
        hidden = [i.detach() for i in hidden]
    else:
        hidden = hidden.detach()
    return hidden


VOCAB, EMBED, HIDDEN, BPTT, BATCH = 7, 3, 4, 3, 2


def np_lm_loss(flat, shapes, data, target, h0, c0):
    """Sum over the batch of softmax CE of the NumPy encoder-LSTM-decoder; also the states."""
    p, k = {}, 0
    for name, shape in shapes.items():
        n = int(np.prod(shape))
        p[name] = flat[k:k + n].reshape(shape)
        k += n
    emb = p["embedding0_weight"][data.astype(int)]
    out, h, c = np_lstm(emb, h0, c0, p["lstm0_l0_i2h_weight"], p["lstm0_l0_h2h_weight"],
                        p["lstm0_l0_i2h_bias"], p["lstm0_l0_h2h_bias"])
    logits = out.reshape(-1, HIDDEN) @ p["dense0_weight"].T + p["dense0_bias"]
    return np_softmax_ce(logits, target.reshape(-1)).sum(), h, c


def numeric_grad(f, flat, eps=1e-6):
    g = np.zeros_like(flat)
    for i in range(flat.size):
        up, down = flat.copy(), flat.copy()
        up[i] += eps
        down[i] -= eps
        g[i] = (f(up) - f(down)) / (2 * eps)
    return g


@both_modes
def test_lstm_language_model_steps_match_numpy(hybridize):
    mx.random.seed(3)
    model = RNNModel(VOCAB, EMBED, HIDDEN, 1, dropout=0.0)
    model.initialize(mx.init.Xavier())
    if hybridize:
        model.hybridize()
    params = model.collect_params()
    names = [k[len(model.prefix):] for k in params.keys()]
    assert names == ["embedding0_weight", "lstm0_l0_i2h_weight", "lstm0_l0_h2h_weight",
                     "lstm0_l0_i2h_bias", "lstm0_l0_h2h_bias", "dense0_weight",
                     "dense0_bias"]
    for p in params.values():                     # LSTM biases start at zero: make them not
        if p.name.endswith("bias"):
            p.set_data(nd.random.uniform(-0.3, 0.3, shape=p.shape))
    lr, clip = 0.5, 0.2
    trainer = gluon.Trainer(params, "sgd", {"learning_rate": lr, "momentum": 0, "wd": 0})
    loss = gluon.loss.SoftmaxCrossEntropyLoss()

    rs = np.random.RandomState(11)
    corpus = rs.randint(0, VOCAB, size=(2 * BPTT + 1, BATCH))
    hidden = model.begin_state(func=mx.nd.zeros, batch_size=BATCH)
    assert [h.shape for h in hidden] == [(1, BATCH, HIDDEN), (1, BATCH, HIDDEN)]
    h_np, c_np = np.zeros((BATCH, HIDDEN)), np.zeros((BATCH, HIDDEN))
    for i in range(0, 2 * BPTT, BPTT):
        data = nd.array(corpus[i:i + BPTT])
        target = nd.array(corpus[i + 1:i + 1 + BPTT])
        # NumPy: loss, gradient by central differences, clipping, SGD update
        shapes = {k[len(model.prefix):]: p.shape for k, p in params.items()}
        flat = np.concatenate([p.data().asnumpy().astype(np.float64).ravel()
                               for p in params.values()])
        d, t = corpus[i:i + BPTT], corpus[i + 1:i + 1 + BPTT]
        want_loss, h_next, c_next = np_lm_loss(flat, shapes, d, t, h_np, c_np)
        def batch_loss(v, shapes=shapes, d=d, t=t, h=h_np, c=c_np):
            return np_lm_loss(v, shapes, d, t, h, c)[0]
        g = numeric_grad(batch_loss, flat)
        norm = np.sqrt((g ** 2).sum())
        g = g * min(clip / norm, 1.0)
        want_flat = flat - lr * g / BATCH
        h_np, c_np = h_next, c_next

        hidden = detach(hidden)
        with autograd.record():
            output, hidden = model(data, hidden)
            L = loss(output, target.reshape((-1,)))
            L.backward()
        grads = [p.grad() for p in model.collect_params().values()]
        total = gluon.utils.clip_global_norm(grads, clip)
        trainer.step(BATCH)

        assert output.shape == (BPTT * BATCH, VOCAB)
        assert L.sum().asscalar() == pytest.approx(want_loss, rel=1e-4)
        assert float(total) == pytest.approx(norm, rel=1e-3)
        close(hidden[0], h_next[None], rtol=1e-4, atol=1e-5)
        close(hidden[1], c_next[None], rtol=1e-4, atol=1e-5)
        got_flat = np.concatenate([p.data().asnumpy().ravel() for p in params.values()])
        close(got_flat, want_flat, rtol=1e-3, atol=1e-5)


@both_modes
def test_lstm_language_model_dropout_only_in_training(hybridize):
    mx.random.seed(5)
    model = RNNModel(VOCAB, EMBED, HIDDEN, 2, dropout=0.5)
    model.initialize(mx.init.Xavier())
    plain = RNNModel(VOCAB, EMBED, HIDDEN, 2, dropout=0.0)
    plain.initialize()
    for a, b in zip(model.collect_params().values(), plain.collect_params().values()):
        b.set_data(a.data())
    if hybridize:
        model.hybridize()
    data = nd.array(np.random.RandomState(0).randint(0, VOCAB, size=(BPTT, BATCH)))
    hidden = model.begin_state(func=mx.nd.zeros, batch_size=BATCH)
    out, _ = model(data, hidden)                 # predict mode: dropout is the identity
    want, _ = plain(data, hidden)
    close(out, want.asnumpy(), rtol=1e-5, atol=1e-6)
    trainer = gluon.Trainer(model.collect_params(), "sgd", {"learning_rate": 0.1})
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    with autograd.record():                      # training: units are dropped
        train_out, hidden = model(data, hidden)
        L = loss(train_out, data.reshape((-1,)))
    L.backward()
    trainer.step(BATCH)
    assert np.abs(train_out.asnumpy() - out.asnumpy()).max() > 1e-3
    assert all(np.isfinite(p.data().asnumpy()).all() for p in model.collect_params().values())


def test_lstm_layer_with_and_without_states_ntc():
    layer = rnn.LSTM(5, num_layers=2, layout="NTC", input_size=3)
    layer.initialize()
    x = nd.random.uniform(shape=(2, 4, 3))
    out = layer(x)
    assert out.shape == (2, 4, 5)
    states = layer.begin_state(batch_size=2)
    out2, new_states = layer(x, states)
    close(out2, out.asnumpy(), rtol=1e-5, atol=1e-6)
    assert [s.shape for s in new_states] == [(2, 2, 5), (2, 2, 5)]
    # the top layer's final h is the last output
    close(new_states[0][1], out.asnumpy()[:, -1], rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- save / load parameters


class MLP(nn.HybridBlock):
    """d2l's MLP written as a HybridBlock."""

    def __init__(self, **kwargs):
        super(MLP, self).__init__(**kwargs)
        self.hidden = nn.Dense(8, activation="relu")
        self.bn = nn.BatchNorm()
        self.output = nn.Dense(3)

    def hybrid_forward(self, F, x):
        return self.output(self.bn(self.hidden(x)))


@both_modes
def test_save_and_load_parameters_into_a_fresh_net(tmp_path, hybridize):
    net = MLP()
    net.initialize(init.Xavier())
    X = nd.random.uniform(shape=(4, 5))
    with autograd.record():                        # move the running stats off 0 / 1
        y = net(X)
    y.backward()
    if hybridize:
        net.hybridize()
    Y = net(X)
    filename = str(tmp_path / "mlp.params")
    net.save_parameters(filename)

    clone = MLP()
    clone.load_parameters(filename, ctx=mx.cpu())
    if hybridize:
        clone.hybridize()
    Y_clone = clone(X)
    assert (Y_clone == Y).sum().asscalar() == Y.size
    # (the children have no name_scope: their global names differ, as in MXNet)
    for a, b in zip(net.collect_params().values(), clone.collect_params().values()):
        assert a.shape == b.shape
        np.testing.assert_array_equal(a.data().asnumpy(), b.data().asnumpy())

    # loading into a net of another architecture fails clearly (MXNet raises AssertionError
    # here, graphcc a ParameterError, which is an MXNetError)
    other = nn.Dense(3)
    with pytest.raises((AssertionError, mx.base.MXNetError), match="missing"):
        other.load_parameters(filename)

    # nd.save / nd.load of a dict and of a list
    nd.save(str(tmp_path / "x"), {"x": X, "y": Y})
    back = nd.load(str(tmp_path / "x"))
    close(back["x"], X.asnumpy())
    close(back["y"], Y.asnumpy())
    nd.save(str(tmp_path / "xs"), [X, Y])
    xs = nd.load(str(tmp_path / "xs"))
    assert isinstance(xs, list) and len(xs) == 2
    close(xs[1], Y.asnumpy())


# ---------------------------------------------------------------- custom blocks, parameters


class MyDense(nn.Block):
    """d2l's custom layer with its own parameters."""

    def __init__(self, units, in_units, **kwargs):
        super(MyDense, self).__init__(**kwargs)
        self.weight = self.params.get("weight", shape=(in_units, units))
        self.bias = self.params.get("bias", shape=(units,))

    def forward(self, x):
        linear = nd.dot(x, self.weight.data()) + self.bias.data()
        return nd.relu(linear)


class FancyMLP(nn.Block):
    """d2l's block with a constant parameter and Python control flow."""

    def __init__(self, **kwargs):
        super(FancyMLP, self).__init__(**kwargs)
        # a random weight parameter created with get_constant is not updated during training
        self.rand_weight = self.params.get_constant(
            "rand_weight", nd.random.uniform(shape=(20, 20)))
        self.dense = nn.Dense(20, activation="relu")

    def forward(self, x):
        x = self.dense(x)
        x = nd.relu(nd.dot(x, self.rand_weight.data()) + 1)
        x = self.dense(x)
        while x.norm().asscalar() > 1:
            x /= 2
        if x.norm().asscalar() < 0.8:
            x *= 10
        return x.sum()


class ScaledDense(nn.HybridBlock):
    """Parameters from self.params.get / get_constant arrive in hybrid_forward as keywords."""

    def __init__(self, units, **kwargs):
        super(ScaledDense, self).__init__(**kwargs)
        with self.name_scope():
            self._units = units
            self.weight = self.params.get("weight", shape=(units, 0),
                                          allow_deferred_init=True)
            self.scale = self.params.get_constant("scale", [[2.0, 0.5, -1.0]])
            self.bias = self.params.get("bias", shape=(units,), init=init.Constant(0.25))

    def hybrid_forward(self, F, x, weight, scale, bias):
        y = F.FullyConnected(x, weight, bias, num_hidden=self._units)
        return F.broadcast_mul(y, scale)


class CenteredLayer(nn.HybridBlock):
    def __init__(self, **kwargs):
        super(CenteredLayer, self).__init__(**kwargs)

    def hybrid_forward(self, F, x):
        return F.broadcast_sub(x, x.mean())


def test_custom_block_with_params_get():
    dense = MyDense(units=3, in_units=5)
    assert list(dense.params.keys()) == ["mydense0_weight", "mydense0_bias"]
    dense.initialize()
    x = np.random.RandomState(0).uniform(size=(2, 5))
    w, b = dense.weight.data().asnumpy(), dense.bias.data().asnumpy()
    close(dense(nd.array(x)), np_relu(x @ w + b), rtol=1e-5)
    net = nn.Sequential()
    net.add(MyDense(8, in_units=64), MyDense(1, in_units=8))
    net.initialize()
    assert net(nd.random.uniform(shape=(2, 64))).shape == (2, 1)


def test_custom_block_with_get_constant_and_control_flow():
    mx.random.seed(1)                       # a draw where `x /= 2` runs
    net = FancyMLP()
    net.initialize()
    X = nd.random.uniform(shape=(2, 20))
    out = net(X)
    assert out.shape == (1,)
    const = net.rand_weight.data().asnumpy()
    assert const.shape == (20, 20) and net.rand_weight.grad_req == "null"
    assert next(iter(net.collect_params().keys()))[len(net.prefix):] == "rand_weight"

    # NumPy check of the forward (the loop halves until the norm is <= 1)
    w, b = wb(net.dense)
    x = X.asnumpy().astype(np.float64)
    h = np_relu(x @ w.T + b)
    h = np_relu(h @ const + 1)
    h = np_relu(h @ w.T + b)
    while np.linalg.norm(h) > 1:
        h = h / 2
    if np.linalg.norm(h) < 0.8:
        h = h * 10
    close(out, [h.sum()], rtol=1e-4)

    # as in MXNet, the in-place `x /= 2` cannot be recorded
    with pytest.raises(mx.base.MXNetError, match="[Ii]nplace|computational graph"):
        with autograd.record():
            net(X)


@both_modes
def test_hybrid_custom_block_params_and_constant(hybridize):
    net = nn.HybridSequential()
    net.add(ScaledDense(3), CenteredLayer())
    net.initialize()
    if hybridize:
        net.hybridize()
    x = np.random.RandomState(1).normal(size=(4, 2))
    y = net(nd.array(x))
    blk = net[0]
    assert blk.weight.shape == (3, 2)
    assert sorted(k[len(blk.prefix):] for k in blk.params.keys()) == ["bias", "scale",
                                                                     "weight"]
    w = blk.weight.data().asnumpy()
    z = (x @ w.T + 0.25) * np.array([[2.0, 0.5, -1.0]])
    close(y, z - z.mean(), rtol=1e-5, atol=1e-6)

    # gradient reaches weight and bias, never the constant; the trainer leaves it alone
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    with autograd.record():
        l = (net(nd.array(x)) ** 2).sum()
    l.backward()
    # d/dz sum((z - mean z)^2) = 2 (z - mean z); dz/dbias_j = scale_j per row
    dz = 2 * (z - z.mean())
    scale = np.array([2.0, 0.5, -1.0])
    close(blk.bias.grad(), (dz * scale).sum(0), rtol=1e-4, atol=1e-5)
    close(blk.weight.grad(), (dz * scale).T @ x, rtol=1e-4, atol=1e-5)
    trainer.step(1)
    close(blk.scale.data(), [[2.0, 0.5, -1.0]])
    close(blk.bias.data(), 0.25 - 0.1 * (dz * scale).sum(0), rtol=1e-4, atol=1e-5)


class Bilinear(nn.HybridBlock):
    """x W y^T through F.linalg.gemm2 (MXNet's linalg sub-namespace inside hybrid_forward)."""

    def __init__(self, size, **kwargs):
        super(Bilinear, self).__init__(**kwargs)
        with self.name_scope():
            self.weight = self.params.get("weight", shape=(size, size))

    def hybrid_forward(self, F, x, y, weight):
        return F.linalg.gemm2(F.linalg.gemm2(x, weight), y, transpose_b=True, alpha=2.0)


@both_modes
def test_linalg_gemm2_in_hybrid_forward(hybridize):
    net = Bilinear(3)
    net.initialize()
    if hybridize:
        net.hybridize()
    rs = np.random.RandomState(8)
    x, y = rs.normal(size=(2, 3)), rs.normal(size=(4, 3))
    w = net.weight.data().asnumpy()
    close(net(nd.array(x), nd.array(y)), 2 * x @ w @ y.T, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- gluon.data feeding the loop


def test_linear_regression_from_scratch():
    """d2l's linear regression from scratch: attach_grad, take, param[:] = ... updates."""
    num_inputs, num_examples = 2, 1000
    true_w, true_b = [2, -3.4], 4.2
    features = nd.random.normal(scale=1, shape=(num_examples, num_inputs))
    labels = true_w[0] * features[:, 0] + true_w[1] * features[:, 1] + true_b
    labels += nd.random.normal(scale=0.01, shape=labels.shape)

    def data_iter(batch_size, features, labels):
        num_examples = len(features)
        indices = list(range(num_examples))
        np.random.RandomState(0).shuffle(indices)
        for i in range(0, num_examples, batch_size):
            j = nd.array(indices[i: min(i + batch_size, num_examples)])
            yield features.take(j), labels.take(j)

    def linreg(X, w, b):
        return nd.dot(X, w) + b

    def squared_loss(y_hat, y):
        return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2

    def sgd(params, lr, batch_size):
        for param in params:
            param[:] = param - lr * param.grad / batch_size

    w = nd.random.normal(scale=0.01, shape=(num_inputs, 1))
    b = nd.zeros(shape=(1,))
    w.attach_grad()
    b.attach_grad()
    w0 = w.asnumpy().copy()
    lr, num_epochs, batch_size = 0.03, 3, 10
    net, loss = linreg, squared_loss
    for epoch in range(num_epochs):
        for X, y in data_iter(batch_size, features, labels):
            with autograd.record():
                l = loss(net(X, w, b), y)
            l.backward()
            sgd([w, b], lr, batch_size)
            if w0 is not None:
                # the first step against the NumPy update formula
                x, yy = X.asnumpy().astype(np.float64), y.asnumpy().astype(np.float64)
                err = x @ w0 - yy.reshape(-1, 1)
                close(w, w0 - lr * (x.T @ err) / batch_size, rtol=1e-4, atol=1e-6)
                close(b, -lr * err.sum() / batch_size, rtol=1e-4, atol=1e-6)
                w0 = None
        train_l = loss(net(features, w, b), labels)
    assert train_l.mean().asscalar() < 1e-3
    close(w.reshape((-1,)), true_w, rtol=0, atol=0.01)
    assert b.asscalar() == pytest.approx(true_b, abs=0.01)


def test_linear_regression_with_dataloader():
    """d2l's concise linear regression."""
    num_inputs, num_examples = 2, 1000
    true_w, true_b = [2, -3.4], 4.2
    rs = np.random.RandomState(0)
    features = nd.array(rs.normal(scale=1, size=(num_examples, num_inputs)))
    labels = true_w[0] * features[:, 0] + true_w[1] * features[:, 1] + true_b
    labels += nd.array(rs.normal(scale=0.01, size=labels.shape))

    batch_size = 10
    dataset = gluon.data.ArrayDataset(features, labels)
    data_iter = gluon.data.DataLoader(dataset, batch_size, shuffle=True)
    assert len(dataset) == 1000 and len(data_iter) == 100
    for X, y in data_iter:
        assert X.shape == (10, 2) and y.shape == (10,)
        break

    net = nn.Sequential()
    net.add(nn.Dense(1))
    net.initialize(init.Normal(sigma=0.01))
    loss = gluon.loss.L2Loss()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.03})
    num_epochs = 3
    for epoch in range(1, num_epochs + 1):
        for X, y in data_iter:
            with autograd.record():
                l = loss(net(X), y)
            l.backward()
            trainer.step(batch_size)
        l = loss(net(features), labels)
    assert l.mean().asscalar() < 1e-3
    dense = net[0]
    close(dense.weight.data(), [true_w], rtol=0, atol=0.01)
    assert dense.bias.data().asscalar() == pytest.approx(true_b, abs=0.01)


def test_dataloader_batches_match_numpy_slices():
    rs = np.random.RandomState(1)
    x, y = rs.normal(size=(23, 3)).astype(np.float32), rs.randint(0, 3, size=23)
    dataset = gluon.data.ArrayDataset(x, y)
    assert len(dataset) == 23
    sample_x, sample_y = dataset[4]
    close(sample_x, x[4])
    assert int(sample_y) == y[4]

    keep = list(gluon.data.DataLoader(dataset, batch_size=5, shuffle=False))
    assert [b[0].shape[0] for b in keep] == [5, 5, 5, 5, 3]
    for k, (bx, by) in enumerate(keep):
        close(bx, x[5 * k:5 * k + 5])
        close(by, y[5 * k:5 * k + 5])
    discard = gluon.data.DataLoader(dataset, batch_size=5, last_batch="discard")
    assert len(discard) == 4 and sum(1 for _ in discard) == 4
    rollover = gluon.data.DataLoader(dataset, batch_size=5, last_batch="rollover")
    assert len(rollover) == 4

    # shuffled batches cover every sample exactly once
    seen = np.concatenate([bx.asnumpy() for bx, _ in
                           gluon.data.DataLoader(dataset, batch_size=4, shuffle=True)])
    np.testing.assert_array_equal(np.sort(seen[:, 0]), np.sort(x[:, 0]))

    # transform_first applies to the data only
    scaled = dataset.transform_first(lambda d: d * 2)
    dx, dy = scaled[3]
    close(dx, x[3] * 2)
    assert int(dy) == y[3]
