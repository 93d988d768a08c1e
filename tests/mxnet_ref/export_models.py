"""Produces tests/mxnet_ref/export/: models exported by MXNet 1.9.1 itself, for
tests/test_export.py (import of real MXNet exports into graphcc). Run under MXNet:
    mxv/bin/python tests/mxnet_ref/export_models.py
For each model NAME it writes NAME-symbol.json and NAME-0000.params exactly as MXNet's
``HybridBlock.export`` does (MXNet's JSON and binary array format), and NAME-io.npz with two
inputs of different batch sizes (``x0``, ``x1``, and for several inputs ``x0_0``...) and
MXNet's outputs for them (``y0``, ``y1``), computed in predict mode by the original block.
Parameter k (collect_params() order) of n elements is sin(0.7 * arange(n) + k) * 0.4 (running
variances: 1 + that squared); inputs are cos(0.3 * arange(size) + b).

The other direction (MXNet loads graphcc's export) was checked during development with
    mxv/bin/python tests/mxnet_ref/export_models.py check PREFIX INPUTS.npz data[,data1..]
which loads PREFIX-symbol.json / PREFIX-0000.params written by graphcc (parameters converted
from graphcc's .npz file) into MXNet's SymbolBlock.imports and prints the largest difference
from the outputs stored in INPUTS.npz (``y`` or ``y0``, ``y1``...), plain and hybridized.
"""
import os
import sys

import mxnet as mx
import numpy as np
from mxnet import gluon, nd
from mxnet.gluon import nn, rnn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "export")


class Residual(gluon.HybridBlock):
    def __init__(self, channels, **kw):
        super().__init__(**kw)
        with self.name_scope():
            self.conv = nn.Conv2D(channels, 3, padding=1)
            self.bn = nn.BatchNorm()

    def hybrid_forward(self, F, x):
        return F.relu(x + self.bn(self.conv(x)))


class CellLSTM(gluon.HybridBlock):
    """An LSTMCell unrolled over 3 steps with the begin states as inputs."""

    def __init__(self, **kw):
        super().__init__(**kw)
        with self.name_scope():
            self.cell = rnn.LSTMCell(5, input_size=4)
            self.out = nn.Dense(2, flatten=False)

    def hybrid_forward(self, F, x, h, c):
        y, _ = self.cell.unroll(3, x, begin_state=[h, c], layout="NTC", merge_outputs=True)
        return self.out(F.reshape(y, shape=(0, 0, -1)))


def mlp():
    net = nn.HybridSequential()
    with net.name_scope():
        net.add(nn.Dense(8, activation="relu"), nn.Dropout(0.3), nn.Dense(3))
    return net, [(2, 6)], [(5, 6)]


def lenet():
    net = nn.HybridSequential()
    with net.name_scope():
        net.add(nn.Conv2D(4, 3, activation="tanh"), nn.MaxPool2D(2, 2),
                nn.Conv2D(6, 3, padding=1), nn.AvgPool2D(2), nn.Flatten(),
                nn.Dense(10, activation="sigmoid"), nn.Dense(3))
    return net, [(2, 1, 10, 10)], [(3, 1, 10, 10)]


def resnet():
    net = nn.HybridSequential()
    with net.name_scope():
        net.add(nn.Conv2D(4, 3, padding=1), nn.BatchNorm(), nn.Activation("relu"),
                Residual(4), nn.GlobalAvgPool2D(), nn.Dense(3))
    return net, [(2, 3, 6, 6)], [(4, 3, 6, 6)]


def cell_lstm():
    return CellLSTM(), [(2, 3, 4), (2, 5), (2, 5)], [(3, 3, 4), (3, 5), (3, 5)]


def fused_lstm():
    return rnn.LSTM(5, input_size=4), [(3, 2, 4)], [(3, 4, 4)]


def inputs(shapes, b):
    return [nd.array(np.cos(0.3 * np.arange(int(np.prod(s))) + b + k).reshape(s))
            for k, s in enumerate(shapes)]


def make(name, build):
    net, shapes0, shapes1 = build()
    net.initialize()
    net.hybridize()
    x0, x1 = inputs(shapes0, 0), inputs(shapes1, 1)
    net(*x0)
    for k, (pname, p) in enumerate(net.collect_params().items()):
        n = int(np.prod(p.shape))
        v = (np.sin(0.7 * np.arange(n) + k) * 0.4).reshape(p.shape)
        p.set_data(nd.array(1 + v ** 2 if pname.endswith("running_var") else v))
    y0, y1 = net(*x0), net(*x1)
    net.export(os.path.join(OUT, name))
    io = {}
    for tag, xs, y in (("0", x0, y0), ("1", x1, y1)):
        for k, x in enumerate(xs):
            io[f"x{tag}" if len(xs) == 1 else f"x{tag}_{k}"] = x.asnumpy()
        io[f"y{tag}"] = y.asnumpy()
    np.savez(os.path.join(OUT, f"{name}-io.npz"), **io)


def check(prefix, io_file, names):
    z = np.load(prefix + "-0000.params")
    arrays = {k: nd.array(z[k], dtype=z[k].dtype) for k in z.files if ":" in k}
    nd.save(prefix + "-mxnet.params", arrays)
    io = np.load(io_file)
    net = gluon.SymbolBlock.imports(prefix + "-symbol.json", names, prefix + "-mxnet.params")
    xs = [nd.array(io[n]) for n in names]
    for hybrid in (False, True):
        net.hybridize(hybrid)
        out = net(*xs)
        outs = out if isinstance(out, (list, tuple)) else [out]
        for k, o in enumerate(outs):
            want = io[f"y{k}"] if f"y{k}" in io.files else io["y"]
            print(f"{'hybridized' if hybrid else 'eager'} output {k} {o.shape}: max |diff| "
                  f"{np.abs(o.asnumpy() - want).max():.3g}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3], sys.argv[4].split(","))
    else:
        mx.random.seed(0)
        os.makedirs(OUT, exist_ok=True)
        for name, build in (("mlp", mlp), ("lenet", lenet), ("resnet", resnet),
                            ("cell_lstm", cell_lstm), ("fused_lstm", fused_lstm)):
            make(name, build)
