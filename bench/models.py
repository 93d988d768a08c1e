"""The benchmark zoo W1-W8 (see /work/shared/BENCHMARKS.md) as graphcc Gluon models.

Every model is built with explicit input sizes (no deferred initialisation), its parameters
are then overwritten from a fixed NumPy seed (``seed_params``), and its inputs and labels come
from NumPy generators with fixed seeds, so every system (graphcc eager, graphcc hybridized,
PyTorch, hand-written NumPy) computes the same function on the same data.

    >>> from models import make
    >>> w = make("W5")                     # a Workload: w.net, w.inputs, w.labels, w.loss
    >>> step = w.train_block()             # net + loss as one HybridBlock (one training graph)

Use from the bench/ scripts (``python bench/memory.py``), which put bench/ on ``sys.path``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

import graphcc as mx
from graphcc import nd
from graphcc.gluon import loss as gloss
from graphcc.gluon import nn, rnn
from graphcc.gluon.block import HybridBlock

F32 = np.float32
ZOO = ("W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8")


# ---------------------------------------------------------------- parameters


def seed_params(net, seed: int = 0) -> dict:
    """Overwrite every parameter of ``net`` from ``np.random.default_rng(seed)``, in
    registration order: weights ~ N(0, 2 / fan_in) (He), biases/betas ~ N(0, 0.01^2),
    gammas ~ 1 + N(0, 0.05^2), running means 0, running variances 1. Returns name -> array
    (the exact values set, for copying into other systems)."""
    rng = np.random.default_rng(seed)
    values = {}
    for name, p in net.collect_params().items():
        shape = tuple(p.shape)
        if name.endswith("running_mean"):
            a = np.zeros(shape, F32)
        elif name.endswith("running_var"):
            a = np.ones(shape, F32)
        elif name.endswith("gamma"):
            a = (1 + 0.05 * rng.standard_normal(shape)).astype(F32)
        elif name.endswith(("bias", "beta")):
            a = (0.01 * rng.standard_normal(shape)).astype(F32)
        elif "embedding" in name:
            a = (0.1 * rng.standard_normal(shape)).astype(F32)
        else:
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
            a = (rng.standard_normal(shape) * math.sqrt(2.0 / fan_in)).astype(F32)
        p.set_data(nd.array(a))
        values[name] = a
    return values


def param_arrays(net) -> dict:
    """name -> NumPy copy of every parameter (registration order)."""
    return {name: p.data().asnumpy().copy() for name, p in net.collect_params().items()}


# ---------------------------------------------------------------- models


def mlp(hidden=(512, 512), n_in=784, n_out=10) -> HybridBlock:
    """W1/W2: Dense 784->512, ReLU, 512->512, ReLU, 512->10."""
    net = nn.HybridSequential(prefix="mlp_")
    with net.name_scope():
        units = n_in
        for h in hidden:
            net.add(nn.Dense(h, activation="relu", in_units=units))
            units = h
        net.add(nn.Dense(n_out, in_units=units))
    return net


def lenet() -> HybridBlock:
    """W3: Conv 20@5x5, ReLU, MaxPool 2/2, Conv 50@5x5, ReLU, MaxPool 2/2, Flatten, Dense 500,
    ReLU, Dense 10 on 1x28x28."""
    net = nn.HybridSequential(prefix="lenet_")
    with net.name_scope():
        net.add(nn.Conv2D(20, kernel_size=5, activation="relu", in_channels=1),
                nn.MaxPool2D(pool_size=2, strides=2),
                nn.Conv2D(50, kernel_size=5, activation="relu", in_channels=20),
                nn.MaxPool2D(pool_size=2, strides=2),
                nn.Flatten(),
                nn.Dense(500, activation="relu", in_units=50 * 4 * 4),
                nn.Dense(10, in_units=500))
    return net


class ElementwiseBlock(HybridBlock):
    """W4: LayerNorm(x) -> GELU (tanh form) -> * scale + bias -> + x on x of shape (256, 1024)."""

    def __init__(self, width=1024, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.norm = nn.LayerNorm(in_channels=width)
            self.scale = self.params.get("scale", shape=(width,))
            self.bias = self.params.get("bias", shape=(width,))

    def hybrid_forward(self, F, x, scale, bias):
        h = self.norm(x)
        g = 0.5 * h * (1 + F.tanh(0.7978845608028654 * (h + 0.044715 * h * h * h)))
        return F.broadcast_add(F.broadcast_mul(g, scale), bias) + x


def deep_mlp(depth=20, width=1024) -> HybridBlock:
    """W5: depth x (Dense width + ReLU)."""
    net = nn.HybridSequential(prefix="deep_")
    with net.name_scope():
        for _ in range(depth):
            net.add(nn.Dense(width, activation="relu", in_units=width))
    return net


class ResidualBlock(HybridBlock):
    """Conv3x3-BN-ReLU-Conv3x3-BN + skip (1x1 conv shortcut when the shape changes), ReLU."""

    def __init__(self, channels, in_channels, stride, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.conv1 = nn.Conv2D(channels, 3, strides=stride, padding=1, use_bias=False,
                                   in_channels=in_channels)
            self.bn1 = nn.BatchNorm(in_channels=channels)
            self.conv2 = nn.Conv2D(channels, 3, padding=1, use_bias=False,
                                   in_channels=channels)
            self.bn2 = nn.BatchNorm(in_channels=channels)
            self.shortcut = None
            if channels != in_channels or stride != 1:
                self.shortcut = nn.Conv2D(channels, 1, strides=stride, use_bias=False,
                                          in_channels=in_channels)

    def hybrid_forward(self, F, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        skip = self.shortcut(x) if self.shortcut is not None else x
        return F.relu(h + skip)


def resnet(stages=(16, 32, 64), blocks=2, n_out=10) -> HybridBlock:
    """W6: stem Conv3x3(16)-BN-ReLU, 3 stages x 2 residual blocks (16/32/64 channels; the
    first block of stages 2 and 3 has stride 2), global average pool, Dense 10."""
    net = nn.HybridSequential(prefix="resnet_")
    with net.name_scope():
        net.add(nn.Conv2D(stages[0], 3, padding=1, use_bias=False, in_channels=3),
                nn.BatchNorm(in_channels=stages[0]), nn.Activation("relu"))
        cin = stages[0]
        for s, c in enumerate(stages):
            for b in range(blocks):
                stride = 2 if (s > 0 and b == 0) else 1
                net.add(ResidualBlock(c, cin, stride))
                cin = c
        net.add(nn.GlobalAvgPool2D(), nn.Flatten(), nn.Dense(n_out, in_units=cin))
    return net


class LSTMLM(HybridBlock):
    """W7: Embedding(vocab, hidden) -> 2-layer LSTM(hidden) -> Dense(vocab, flatten=False).
    Input: token ids (T, N) as float32 (MXNet's convention); output logits (T, N, vocab)."""

    def __init__(self, vocab=1000, hidden=256, layers=2, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.embed = nn.Embedding(vocab, hidden)
            self.lstm = rnn.LSTM(hidden, num_layers=layers, input_size=hidden)
            self.decoder = nn.Dense(vocab, flatten=False, in_units=hidden)

    def hybrid_forward(self, F, tokens):
        return self.decoder(self.lstm(self.embed(tokens)))


class EncoderBlock(HybridBlock):
    """W8: post-LN Transformer encoder block on x (N, T, d): multi-head self-attention
    (batch_dot, softmax) + residual + LayerNorm, FFN (Dense d->ffn, ReLU, ffn->d) + residual +
    LayerNorm. Written with F ops; Dense layers use flatten=False."""

    def __init__(self, d=256, heads=4, ffn=1024, seq=128, batch=8, **kwargs):
        super().__init__(**kwargs)
        self._d, self._h, self._t, self._n = d, heads, seq, batch
        with self.name_scope():
            self.qkv = nn.Dense(3 * d, flatten=False, in_units=d)
            self.proj = nn.Dense(d, flatten=False, in_units=d)
            self.ln1 = nn.LayerNorm(in_channels=d)
            self.ffn1 = nn.Dense(ffn, activation="relu", flatten=False, in_units=d)
            self.ffn2 = nn.Dense(d, flatten=False, in_units=ffn)
            self.ln2 = nn.LayerNorm(in_channels=d)

    def hybrid_forward(self, F, x):
        n, t, d, h = self._n, self._t, self._d, self._h
        dh = d // h
        qkv = self.qkv(x)                                          # (N, T, 3d)
        qkv = F.reshape(qkv, shape=(n, t, 3, h, dh))
        qkv = F.transpose(qkv, axes=(2, 0, 3, 1, 4))               # (3, N, H, T, dh)
        q, k, v = [F.reshape(F.squeeze(s, axis=0), shape=(n * h, t, dh))
                   for s in F.split(qkv, num_outputs=3, axis=0)]
        scores = F.batch_dot(q, k, transpose_b=True) * (1.0 / math.sqrt(dh))
        att = F.softmax(scores, axis=-1)
        ctx = F.batch_dot(att, v)                                  # (N*H, T, dh)
        ctx = F.reshape(F.transpose(F.reshape(ctx, shape=(n, h, t, dh)), axes=(0, 2, 1, 3)),
                        shape=(n, t, d))
        x1 = self.ln1(x + self.proj(ctx))
        return self.ln2(x1 + self.ffn2(self.ffn1(x1)))


# ---------------------------------------------------------------- workloads


class WithLoss(HybridBlock):
    """``loss(net(x), label)``: net and loss in one block, so a hybridized training step is one
    graph (forward, loss, backward) and its memory plan covers all of it."""

    def __init__(self, net, loss, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.net = net
            self.loss = loss

    def forward(self, x, label):
        return self.loss(self.net(x), label)


@dataclass
class Workload:
    id: str
    title: str
    net: HybridBlock
    inputs: list                      # NumPy arrays (the data inputs of net)
    labels: np.ndarray                # NumPy labels for the loss
    loss: HybridBlock
    modes: tuple                      # BENCHMARKS.md modes: "inference", "training"
    params: dict = field(default_factory=dict)   # name -> the NumPy values set

    @property
    def batch(self) -> int:
        return self.inputs[0].shape[0] if self.id not in ("W7",) else self.inputs[0].shape[1]

    def nd_inputs(self):
        return [nd.array(a) for a in self.inputs]

    def train_block(self) -> WithLoss:
        return WithLoss(self.net, self.loss)


def _images(rng, shape):
    return rng.standard_normal(shape).astype(F32)


def _classes(rng, n, k=10):
    return rng.integers(0, k, size=n).astype(F32)


def make(wid: str, batch: int | None = None, seed: int = 0) -> Workload:
    """Build workload ``wid`` (W1..W8) with parameters from ``seed`` and inputs from
    ``seed + 1``. ``batch`` overrides the BENCHMARKS.md batch (W1: 64 by default, 1 also
    listed)."""
    wid = wid.upper()
    rng = np.random.default_rng(seed + 1)
    if wid in ("W1", "W2"):
        b = batch or 64
        net, x = mlp(), _images(rng, (b, 784))
        y, loss = _classes(rng, b), gloss.SoftmaxCrossEntropyLoss()
        title = "MLP 784-512-512-10"
        modes = ("inference",) if wid == "W1" else ("training",)
    elif wid == "W3":
        b = batch or 64
        net, x = lenet(), _images(rng, (b, 1, 28, 28))
        y, loss = _classes(rng, b), gloss.SoftmaxCrossEntropyLoss()
        title, modes = "LeNet", ("inference", "training")
    elif wid == "W4":
        b = batch or 256
        net, x = ElementwiseBlock(), _images(rng, (b, 1024))
        y, loss = rng.standard_normal((b, 1024)).astype(F32), gloss.L2Loss()
        title, modes = "LayerNorm-GELU-affine-residual", ("inference",)
    elif wid == "W5":
        b = batch or 256
        net, x = deep_mlp(), _images(rng, (b, 1024))
        y, loss = _classes(rng, b, 1024), gloss.SoftmaxCrossEntropyLoss()
        title, modes = "deep MLP 20x1024", ("inference", "training")
    elif wid == "W6":
        b = batch or 32
        net, x = resnet(), _images(rng, (b, 3, 32, 32))
        y, loss = _classes(rng, b), gloss.SoftmaxCrossEntropyLoss()
        title, modes = "ResNet-style CNN 3x2 blocks", ("inference", "training")
    elif wid == "W7":
        b = batch or 20
        net = LSTMLM()
        x = rng.integers(0, 1000, size=(35, b)).astype(F32)
        y, loss = rng.integers(0, 1000, size=(35, b)).astype(F32), \
            gloss.SoftmaxCrossEntropyLoss()
        title, modes = "2-layer LSTM LM", ("training",)
    elif wid == "W8":
        b = batch or 8
        net, x = EncoderBlock(batch=b), _images(rng, (b, 128, 256))
        y, loss = rng.standard_normal((b, 128, 256)).astype(F32), gloss.L2Loss()
        title, modes = "Transformer encoder block", ("inference", "training")
    else:
        raise ValueError(f"unknown workload {wid!r}; choose from {', '.join(ZOO)}")
    net.initialize(mx.init.Uniform())
    params = seed_params(net, seed)
    return Workload(wid, title, net, [x], y, loss, modes, params)


def parse_models(text: str | None, default=ZOO) -> list[str]:
    if not text:
        return list(default)
    ids = [t.strip().upper() for t in text.split(",") if t.strip()]
    bad = [t for t in ids if t not in ZOO]
    if bad:
        raise SystemExit(f"unknown model(s) {', '.join(bad)}; choose from {', '.join(ZOO)}")
    return ids
