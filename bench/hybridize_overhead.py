"""Per-call time of a small MLP, eager vs hybridized (interp backend), on small inputs.

Prints the median time per call of each, and their ratio, measured in one run (so the two
numbers come from the same machine state). Inference calls (no autograd) and training calls
(forward + backward under ``autograd.record()``) are timed separately. Not a test: nothing is
asserted.

    .venv/bin/python bench/hybridize_overhead.py [--repeat 200] [--batch 4]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from graphcc.gluon import nn

import graphcc as mx
from graphcc import autograd, nd


def make_mlp():
    net = nn.HybridSequential()
    with net.name_scope():
        net.add(nn.Dense(32, activation="relu"), nn.Dense(32, activation="relu"), nn.Dense(10))
    net.initialize(mx.init.Xavier())
    return net


def infer(net, x):
    return net(x)


def train(net, x):
    with autograd.record():
        y = net(x)
    y.backward()
    return y


def median_seconds(fn, net, x, repeat):
    for _ in range(5):                      # warm up (the first hybridized call compiles)
        fn(net, x)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(net, x)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=200)
    ap.add_argument("--batch", type=int, default=4)
    args = ap.parse_args()
    mx.random.seed(0)
    x = nd.array(np.random.default_rng(0).standard_normal((args.batch, 16)))
    print(f"MLP 16-32-32-10, batch {args.batch}, median of {args.repeat} calls")
    print(f"{'call':<10}{'eager us':>12}{'hybrid us':>12}{'hybrid/eager':>14}")
    for name, fn in (("inference", infer), ("training", train)):
        net = make_mlp()
        eager = median_seconds(fn, net, x, args.repeat)
        net.hybridize()
        hybrid = median_seconds(fn, net, x, args.repeat)
        print(f"{name:<10}{eager * 1e6:>12.1f}{hybrid * 1e6:>12.1f}{hybrid / eager:>14.2f}")


if __name__ == "__main__":
    main()
