"""End-to-end training: an MLP and a LeNet-style CNN trained with gluon.Trainer on small fixed
data sets drawn with NumPy from fixed seeds, eagerly and hybridized. Each run must reach a
stated train accuracy and its loss curve must fall; eager and hybridized runs from the same
seed follow the same loss curve.

The data sets are generated here, independent of graphcc:
- blobs: four Gaussian blobs at (+-2, +-2) with XOR labels (class = quadrant parity), which
  no linear model separates;
- digits: 8x8 images of four stroke patterns (horizontal bar, vertical bar, diagonal, ring),
  each shifted by up to one pixel and covered in Gaussian noise.
"""
import numpy as np
import pytest

import graphcc as mx
from graphcc import autograd, gluon, init
from graphcc.gluon import nn

both_modes = pytest.mark.parametrize("hybridize", [False, True], ids=["eager", "hybridized"])


def make_blobs(n=320, seed=0):
    rs = np.random.RandomState(seed)
    quadrant = rs.randint(0, 4, size=n)
    sx = np.where(quadrant % 2 == 0, 1.0, -1.0)
    sy = np.where(quadrant < 2, 1.0, -1.0)
    X = np.stack([2 * sx, 2 * sy], axis=1) + rs.normal(scale=0.5, size=(n, 2))
    y = (sx * sy < 0).astype(np.float32)          # XOR of the signs
    return X.astype(np.float32), y


def _templates():
    t = np.zeros((4, 8, 8), np.float32)
    t[0, 3:5, 1:7] = 1                            # horizontal bar
    t[1, 1:7, 3:5] = 1                            # vertical bar
    for i in range(1, 7):                         # diagonal
        t[2, i, i] = t[2, i, i - 1] = 1
    t[3, 2:6, 2:6] = 1                            # ring
    t[3, 3:5, 3:5] = 0
    return t


def make_digits(n=320, seed=1):
    rs = np.random.RandomState(seed)
    templates = _templates()
    y = rs.randint(0, 4, size=n)
    X = np.zeros((n, 1, 8, 8), np.float32)
    for k in range(n):
        dy, dx = rs.randint(-1, 2, size=2)
        X[k, 0] = np.roll(np.roll(templates[y[k]], dy, axis=0), dx, axis=1)
    X += rs.normal(scale=0.3, size=X.shape).astype(np.float32)
    return X, y.astype(np.float32)


def evaluate_accuracy(data_iter, net):
    acc_sum, n = 0.0, 0
    for X, y in data_iter:
        acc_sum += (net(X).argmax(axis=1) == y.astype("float32")).sum().asscalar()
        n += y.size
    return acc_sum / n


def train(net, features, labels, num_epochs, lr, batch_size=32, momentum=0.9):
    """d2l's train_ch3/ch5 loop; returns the mean loss of every epoch and the accuracy."""
    dataset = gluon.data.ArrayDataset(features, labels)
    train_iter = gluon.data.DataLoader(dataset, batch_size, shuffle=True)
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = gluon.Trainer(net.collect_params(), "sgd",
                            {"learning_rate": lr, "momentum": momentum})
    curve = []
    for epoch in range(num_epochs):
        train_l_sum, n = 0.0, 0
        for X, y in train_iter:
            with autograd.record():
                y_hat = net(X)
                l = loss(y_hat, y).sum()
            l.backward()
            trainer.step(batch_size)
            train_l_sum += l.asscalar()
            n += y.size
        curve.append(train_l_sum / n)
    test_iter = gluon.data.DataLoader(dataset, batch_size, shuffle=False)
    return curve, evaluate_accuracy(test_iter, net)


def mlp():
    net = nn.HybridSequential()
    with net.name_scope():
        net.add(nn.Dense(16, activation="relu"),
                nn.Dense(16, activation="relu"),
                nn.Dense(2))
    return net


def lenet_small():
    net = nn.HybridSequential()
    with net.name_scope():
        net.add(nn.Conv2D(channels=6, kernel_size=3, padding=1, activation="relu"),
                nn.MaxPool2D(pool_size=2, strides=2),
                nn.Conv2D(channels=12, kernel_size=3, padding=1, activation="relu"),
                nn.MaxPool2D(pool_size=2, strides=2),
                nn.Dense(32, activation="relu"),
                nn.Dense(4))
    return net


def run(build, data, num_epochs, lr, hybridize, seed=42):
    mx.random.seed(seed)
    net = build()
    net.initialize(init.Xavier())
    if hybridize:
        net.hybridize()
    return train(net, *data, num_epochs=num_epochs, lr=lr)


@both_modes
def test_mlp_learns_xor_blobs(hybridize):
    curve, acc = run(mlp, make_blobs(), num_epochs=12, lr=0.05, hybridize=hybridize)
    assert acc >= 0.95, (acc, curve)
    assert curve[-1] < 0.5 * curve[0], curve
    assert curve[-1] < 0.2, curve


@both_modes
def test_lenet_learns_synthetic_digits(hybridize):
    curve, acc = run(lenet_small, make_digits(), num_epochs=15, lr=0.02, hybridize=hybridize)
    assert acc >= 0.95, (acc, curve)
    assert curve[-1] < 0.5 * curve[0], curve
    assert curve[-1] < 0.3, curve


def test_eager_and_hybridized_runs_follow_the_same_curve():
    data = make_blobs(n=96, seed=3)
    eager, acc_e = run(mlp, data, num_epochs=4, lr=0.05, hybridize=False, seed=7)
    hybrid, acc_h = run(mlp, data, num_epochs=4, lr=0.05, hybridize=True, seed=7)
    np.testing.assert_allclose(hybrid, eager, rtol=1e-3)
    assert acc_e == acc_h


def test_data_sets_are_what_the_tests_claim():
    """The generators are deterministic and the classes are balanced enough to matter."""
    X, y = make_blobs()
    X2, y2 = make_blobs()
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert X.shape == (320, 2) and set(np.unique(y)) == {0.0, 1.0}
    assert 0.35 < y.mean() < 0.65
    # no linear classifier does well on XOR: least squares reaches about chance
    A = np.hstack([X, np.ones((len(X), 1))])
    w = np.linalg.lstsq(A, 2 * y - 1, rcond=None)[0]
    assert ((A @ w > 0) == (y > 0.5)).mean() < 0.7
    D, t = make_digits()
    assert D.shape == (320, 1, 8, 8) and set(np.unique(t)) == {0.0, 1.0, 2.0, 3.0}
    assert min(np.bincount(t.astype(int))) > 50
