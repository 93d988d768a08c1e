"""graphcc demo: MXNet Gluon code, unchanged apart from the import, compiled.

1. a LeNet written as Gluon 1.x code, trained on synthetic digits, eagerly and hybridized;
2. eager and compiled outputs and gradients agree;
3. the compiled graph, the pass timings and the memory plan (inference and training).
"""
import time

import numpy as np

import graphcc as mx
from graphcc import autograd, gluon, init, nd
from graphcc.gluon import nn


def lenet():
    net = nn.HybridSequential()
    with net.name_scope():
        net.add(nn.Conv2D(channels=6, kernel_size=5, activation="relu"),
                nn.MaxPool2D(pool_size=2, strides=2),
                nn.Conv2D(channels=16, kernel_size=3, activation="relu"),
                nn.MaxPool2D(pool_size=2, strides=2),
                nn.Flatten(),
                nn.Dense(64, activation="relu"),
                nn.Dense(10))
    return net


def synthetic_digits(n, rng):
    """16x16 images: class k is a bar at row/column position k plus noise."""
    x = rng.normal(0, 0.3, size=(n, 1, 16, 16)).astype(np.float32)
    y = rng.integers(0, 10, size=n)
    for i, k in enumerate(y):
        if k < 5:
            x[i, 0, 2 + 3 * k: 4 + 3 * k, :] += 1.5
        else:
            x[i, 0, :, 2 + 3 * (k - 5): 4 + 3 * (k - 5)] += 1.5
    return x, y.astype(np.float32)


def train(net, x, y, epochs=4, batch=50):
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.05,
                                                          "momentum": 0.9})
    data = gluon.data.DataLoader(gluon.data.ArrayDataset(x, y), batch_size=batch,
                                 shuffle=False)
    for epoch in range(epochs):
        total, t0 = 0.0, time.perf_counter()
        for xb, yb in data:
            with autograd.record():
                loss = loss_fn(net(xb), yb)
            loss.backward()
            trainer.step(batch)
            total += loss.mean().asscalar()
        acc = (net(nd.array(x)).argmax(axis=1) == nd.array(y)).mean().asscalar()
        print(f"  epoch {epoch}: loss {total / len(data):.4f}  train accuracy {acc:.3f}  "
              f"({time.perf_counter() - t0:.2f} s)")


def main():
    rng = np.random.default_rng(0)
    x, y = synthetic_digits(500, rng)

    print("== 1. Gluon code, eager ==")
    mx.random.seed(1)
    eager = lenet()
    eager.initialize(init.Xavier())
    train(eager, x, y)

    print("== 1. the same code, hybridized ==")
    mx.random.seed(1)
    net = lenet()
    net.initialize(init.Xavier())
    net.hybridize()
    train(net, x, y)
    print(f"  traces: {net.trace_count} (one per call signature: training batch, "
          "inference batch)")

    print("== 2. eager and compiled agree ==")
    xb = nd.array(x[:8])
    net.hybridize(False)
    ref = net(xb).asnumpy()
    net.hybridize()
    out = net(xb).asnumpy()
    print(f"  max |eager - compiled| = {np.abs(ref - out).max():.2e}")

    print("== 3. the compiled program ==")
    small = nn.HybridSequential()
    with small.name_scope():
        small.add(nn.Dense(16, activation="relu", in_units=8), nn.Dense(4, in_units=16))
    small.initialize()
    graph = mx.trace(small, nd.ones((2, 8)))
    print(graph)
    exe = mx.compile(graph)
    print(exe.graph)
    print(exe.pipeline.timing_table())
    print()
    xb = nd.array(x[:64])
    net(xb)
    print(net.memory_report())
    with autograd.record():
        loss = gluon.loss.SoftmaxCrossEntropyLoss()(net(xb), nd.array(y[:64]))
    loss.backward()
    print(net.memory_report())


if __name__ == "__main__":
    main()
