"""Every layer and loss: hybridized == eager, outputs and gradients.

Eager and hybridized execution are independent paths: eager runs op by op on NDArrays and
records an autograd tape; hybridized traces the block into a graph, runs the pass pipeline
(fusion, memory planning), executes the planned arena program and differentiates with the
gradient pass. For each case, batch size and mode this file runs the same block both ways
from the same parameter values and compares

- the outputs,
- the gradients of the (differentiable) inputs and of every parameter with a gradient,
- the auxiliary states (BatchNorm's running statistics) after the backward,

with random head gradients. Modes: ``train`` (record, training mode, backward), ``predict``
(record with ``train_mode=False``, backward) and ``infer`` (no recording, outputs only).
The hybridized run is done twice (first call: trace + compile; second: cache hit) and both
must match. Dropout-style randomness is only used with rate 0 here (masks cannot match across
paths); test_hybridize.py tests random train-mode behaviour on its own.
"""
from __future__ import annotations

import inspect
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest
from graphcc.gluon import contrib, loss, nn, rnn

import graphcc as mx
from graphcc import autograd, gluon, nd

RTOL, ATOL = 1e-5, 1e-6
BATCHES = (2, 3)
MODES = ("train", "predict", "infer")


@dataclass
class Case:
    id: str
    make: Callable                      # () -> block (uninitialised)
    inputs: Callable                    # (batch, rng) -> list of np arrays (args in order)
    diff: tuple = ()                    # which inputs get gradients (default: float inputs)
    modes: tuple = MODES
    wrap: Callable | None = None        # (block) -> callable(*arrays) when the call is special
    covers: tuple = field(default_factory=tuple)   # classes this case exercises


def f32(*shape):
    return lambda b, rng: [rng.standard_normal((b,) + shape).astype(np.float32)]


def pos(*shape):
    return lambda b, rng: [rng.uniform(0.2, 2.0, (b,) + shape).astype(np.float32)]


def ints(high, *shape):
    return lambda b, rng: [rng.integers(0, high, (b,) + shape).astype(np.float32)]


def cat(*gens):
    def gen(b, rng):
        out = []
        for g in gens:
            out.extend(g(b, rng))
        return out
    return gen


def signs(*shape):
    return lambda b, rng: [np.where(rng.random((b,) + shape) < 0.5, -1.0, 1.0)
                           .astype(np.float32)]


def probs(n):
    def gen(b, rng):
        p = rng.uniform(0.1, 1.0, (b, n)).astype(np.float32)
        return [p / p.sum(axis=1, keepdims=True)]
    return gen


def seq(*cells_or_blocks, hybrid=True):
    net = nn.HybridSequential() if hybrid else nn.Sequential()
    with net.name_scope():
        net.add(*[c() for c in cells_or_blocks])
    return net


class CellStep(gluon.HybridBlock):
    """One step of a recurrent cell with explicit states: (x, h[, c]) -> (out, states)."""

    def __init__(self, cell, **kw):
        super().__init__(**kw)
        with self.name_scope():
            self.cell = cell

    def hybrid_forward(self, F, x, *states):
        self.cell.reset()           # ZoneoutCell keeps the previous output between steps
        out, new = self.cell(x, list(states))
        return [out] + list(new)


class CellUnroll(gluon.HybridBlock):
    """``cell.unroll`` over an NTC input from zero states (merged outputs)."""

    def __init__(self, cell, length, **kw):
        super().__init__(**kw)
        self._length = length
        with self.name_scope():
            self.cell = cell

    def hybrid_forward(self, F, x):
        out, states = self.cell.unroll(self._length, x, layout="NTC", merge_outputs=True)
        return [out] + list(states)


class PlainCellStep(gluon.Block):
    """A plain Block stepping a non-hybrid SequentialRNNCell (children hybridize alone)."""

    def __init__(self, cell, **kw):
        super().__init__(**kw)
        with self.name_scope():
            self.cell = cell

    def forward(self, x, *states):
        out, new = self.cell(x, list(states))
        return [out] + list(new)


def _lstm(h, **kw):
    return rnn.LSTMCell(h, **kw)


CASES = [
    # ------------------------------------------------------------------ gluon.nn basics
    Case("Dense", lambda: nn.Dense(4), f32(5), covers=(nn.Dense,)),
    Case("Dense-act-noflatten", lambda: nn.Dense(4, activation="tanh", flatten=False,
                                                 in_units=5), f32(3, 5)),
    Case("Dense-nobias-relu", lambda: nn.Dense(3, use_bias=False, activation="relu"),
         f32(2, 3)),
    *[Case(f"Activation-{a}", (lambda a=a: nn.Activation(a)), f32(3, 2),
           covers=(nn.Activation,))
      for a in ("relu", "sigmoid", "tanh", "softrelu", "softsign")],
    Case("Flatten", lambda: nn.Flatten(), f32(2, 3), covers=(nn.Flatten,)),
    Case("Identity", lambda: nn.Identity(), f32(4), covers=(nn.Identity,)),
    Case("Lambda", lambda: nn.Lambda("tanh"), f32(4), covers=(nn.Lambda,)),
    Case("HybridLambda-name", lambda: nn.HybridLambda("tanh"), f32(4),
         covers=(nn.HybridLambda,)),
    Case("HybridLambda-fn", lambda: nn.HybridLambda(lambda F, x: F.relu(x) * 2 - x), f32(4)),
    Case("HybridSequential", lambda: seq(lambda: nn.Dense(6, activation="relu"),
                                         lambda: nn.Dense(3)), f32(5),
         covers=(nn.HybridSequential,)),
    Case("Sequential", lambda: seq(lambda: nn.Dense(6, activation="relu"), lambda: nn.Dense(3),
                                   hybrid=False), f32(5), covers=(nn.Sequential,)),
    Case("Dropout-0", lambda: nn.Dropout(0.0), f32(4, 3), covers=(nn.Dropout,)),
    Case("Dropout-0.5-predict", lambda: nn.Dropout(0.5), f32(4, 3), modes=("predict", "infer")),
    Case("Embedding", lambda: nn.Embedding(7, 4), ints(7, 3), diff=(False,),
         covers=(nn.Embedding,)),
    Case("BatchNorm", lambda: nn.BatchNorm(in_channels=3), f32(3, 4), covers=(nn.BatchNorm,)),
    Case("BatchNorm-deferred-2d", lambda: nn.BatchNorm(momentum=0.7), f32(2, 2, 3)),
    Case("BatchNorm-axis-last", lambda: nn.BatchNorm(axis=-1, epsilon=1e-3), f32(3, 2)),
    Case("BatchNorm-noscale-nocenter", lambda: nn.BatchNorm(scale=False, center=False),
         f32(3)),
    Case("BatchNorm-global-stats", lambda: nn.BatchNorm(use_global_stats=True), f32(3, 2)),
    Case("InstanceNorm", lambda: nn.InstanceNorm(), f32(3, 4), covers=(nn.InstanceNorm,)),
    Case("InstanceNorm-scale", lambda: nn.InstanceNorm(scale=True, in_channels=2), f32(2, 5)),
    Case("LayerNorm", lambda: nn.LayerNorm(), f32(3, 4), covers=(nn.LayerNorm,)),
    Case("LayerNorm-axis1", lambda: nn.LayerNorm(axis=1, epsilon=1e-3), f32(3, 4)),
    Case("GroupNorm", lambda: nn.GroupNorm(num_groups=2), f32(4, 3), covers=(nn.GroupNorm,)),
    Case("LeakyReLU", lambda: nn.LeakyReLU(0.1), f32(5), covers=(nn.LeakyReLU,)),
    Case("PReLU", lambda: nn.PReLU(), f32(5), covers=(nn.PReLU,)),
    Case("PReLU-channels", lambda: nn.PReLU(in_channels=3), f32(3, 2)),
    Case("ELU", lambda: nn.ELU(alpha=0.7), f32(5), covers=(nn.ELU,)),
    Case("SELU", lambda: nn.SELU(), f32(5), covers=(nn.SELU,)),
    Case("GELU", lambda: nn.GELU(), f32(5), covers=(nn.GELU,)),
    Case("Swish", lambda: nn.Swish(beta=1.5), f32(5), covers=(nn.Swish,)),
    # ------------------------------------------------------------------ convolution, pooling
    Case("Conv1D", lambda: nn.Conv1D(2, 3, padding=1, activation="relu"), f32(3, 6),
         covers=(nn.Conv1D,)),
    Case("Conv2D", lambda: nn.Conv2D(3, (3, 2), strides=2, padding=1), f32(2, 5, 5),
         covers=(nn.Conv2D,)),
    Case("Conv2D-groups-dilation", lambda: nn.Conv2D(4, 2, groups=2, dilation=2,
                                                     in_channels=2), f32(2, 5, 5)),
    Case("Conv3D", lambda: nn.Conv3D(2, 2, use_bias=False), f32(1, 3, 4, 3),
         covers=(nn.Conv3D,)),
    Case("Conv1DTranspose", lambda: nn.Conv1DTranspose(2, 3, strides=2), f32(3, 4),
         covers=(nn.Conv1DTranspose,)),
    Case("Conv2DTranspose", lambda: nn.Conv2DTranspose(2, 3, strides=2, padding=1,
                                                       output_padding=1), f32(2, 3, 3),
         covers=(nn.Conv2DTranspose,)),
    Case("Conv3DTranspose", lambda: nn.Conv3DTranspose(1, 2), f32(2, 2, 3, 2),
         covers=(nn.Conv3DTranspose,)),
    Case("MaxPool1D", lambda: nn.MaxPool1D(2), f32(2, 6), covers=(nn.MaxPool1D,)),
    Case("MaxPool2D", lambda: nn.MaxPool2D(3, strides=2, padding=1), f32(2, 5, 5),
         covers=(nn.MaxPool2D,)),
    Case("MaxPool2D-ceil", lambda: nn.MaxPool2D(2, ceil_mode=True), f32(1, 5, 5)),
    Case("MaxPool3D", lambda: nn.MaxPool3D(2), f32(1, 4, 4, 2), covers=(nn.MaxPool3D,)),
    Case("AvgPool1D", lambda: nn.AvgPool1D(3, strides=1, padding=1), f32(2, 5),
         covers=(nn.AvgPool1D,)),
    Case("AvgPool2D", lambda: nn.AvgPool2D(2, padding=1, count_include_pad=False),
         f32(2, 4, 3), covers=(nn.AvgPool2D,)),
    Case("AvgPool3D", lambda: nn.AvgPool3D(2), f32(1, 2, 4, 4), covers=(nn.AvgPool3D,)),
    Case("GlobalMaxPool1D", lambda: nn.GlobalMaxPool1D(), f32(2, 5),
         covers=(nn.GlobalMaxPool1D,)),
    Case("GlobalMaxPool2D", lambda: nn.GlobalMaxPool2D(), f32(2, 3, 3),
         covers=(nn.GlobalMaxPool2D,)),
    Case("GlobalMaxPool3D", lambda: nn.GlobalMaxPool3D(), f32(2, 2, 3, 2),
         covers=(nn.GlobalMaxPool3D,)),
    Case("GlobalAvgPool1D", lambda: nn.GlobalAvgPool1D(), f32(2, 5),
         covers=(nn.GlobalAvgPool1D,)),
    Case("GlobalAvgPool2D", lambda: nn.GlobalAvgPool2D(), f32(2, 3, 3),
         covers=(nn.GlobalAvgPool2D,)),
    Case("GlobalAvgPool3D", lambda: nn.GlobalAvgPool3D(), f32(2, 2, 3, 2),
         covers=(nn.GlobalAvgPool3D,)),
    Case("ReflectionPad2D", lambda: nn.ReflectionPad2D(1), f32(2, 3, 3),
         covers=(nn.ReflectionPad2D,)),
    # ------------------------------------------------------------------ gluon.rnn
    Case("RNNCell", lambda: CellStep(rnn.RNNCell(4, input_size=3)), cat(f32(3), f32(4)),
         covers=(rnn.RNNCell,)),
    Case("RNNCell-relu", lambda: CellStep(rnn.RNNCell(4, activation="relu")),
         cat(f32(3), f32(4))),
    Case("LSTMCell", lambda: CellStep(rnn.LSTMCell(4)), cat(f32(3), f32(4), f32(4)),
         covers=(rnn.LSTMCell,)),
    Case("GRUCell", lambda: CellStep(rnn.GRUCell(4)), cat(f32(3), f32(4)),
         covers=(rnn.GRUCell,)),
    Case("HybridSequentialRNNCell", lambda: CellStep(_hseq_cell()),
         cat(f32(3), f32(4), f32(4), f32(2)), covers=(rnn.HybridSequentialRNNCell,)),
    Case("SequentialRNNCell", lambda: PlainCellStep(_seq_cell()),
         cat(f32(3), f32(4), f32(2)), covers=(rnn.SequentialRNNCell,)),
    Case("DropoutCell-0", lambda: CellUnroll(_cells(rnn.GRUCell(3), rnn.DropoutCell(0.0)), 2),
         f32(2, 3), covers=(rnn.DropoutCell,)),
    Case("ZoneoutCell-0", lambda: CellStep(rnn.ZoneoutCell(rnn.GRUCell(3))),
         cat(f32(2), f32(3)), covers=(rnn.ZoneoutCell,)),
    Case("ZoneoutCell-predict", lambda: CellStep(rnn.ZoneoutCell(rnn.RNNCell(3), 0.5, 0.5)),
         cat(f32(2), f32(3)), modes=("predict", "infer")),
    Case("ResidualCell", lambda: CellStep(rnn.ResidualCell(rnn.GRUCell(3))),
         cat(f32(3), f32(3)), covers=(rnn.ResidualCell,)),
    Case("ResidualCell-unroll", lambda: CellUnroll(rnn.ResidualCell(rnn.RNNCell(3)), 3),
         f32(3, 3)),
    Case("LSTMCell-unroll", lambda: CellUnroll(rnn.LSTMCell(3), 3), f32(3, 2)),
    Case("BidirectionalCell", lambda: CellUnroll(rnn.BidirectionalCell(rnn.LSTMCell(2),
                                                                      rnn.GRUCell(3)), 3),
         f32(3, 2), covers=(rnn.BidirectionalCell,)),
    Case("RNN", lambda: rnn.RNN(4, layout="NTC"), f32(3, 2), covers=(rnn.RNN,)),
    Case("RNN-tanh-2layers-states", lambda: rnn.RNN(3, num_layers=2, activation="tanh"),
         lambda b, rng: [rng.standard_normal((3, b, 2)).astype(np.float32),
                         rng.standard_normal((2, b, 3)).astype(np.float32)],
         wrap=lambda net: (lambda x, h: net(x, [h]))),
    Case("LSTM", lambda: rnn.LSTM(3, input_size=2), lambda b, rng: [
        rng.standard_normal((3, b, 2)).astype(np.float32)], covers=(rnn.LSTM,)),
    Case("LSTM-states-NTC", lambda: rnn.LSTM(3, layout="NTC"),
         lambda b, rng: [rng.standard_normal((b, 2, 2)).astype(np.float32),
                         rng.standard_normal((1, b, 3)).astype(np.float32),
                         rng.standard_normal((1, b, 3)).astype(np.float32)],
         wrap=lambda net: (lambda x, h, c: net(x, [h, c]))),
    Case("GRU-bidirectional", lambda: rnn.GRU(3, bidirectional=True, layout="NTC"),
         f32(3, 2), covers=(rnn.GRU,)),
    Case("GRU-2layers-states", lambda: rnn.GRU(2, num_layers=2),
         lambda b, rng: [rng.standard_normal((2, b, 3)).astype(np.float32),
                         rng.standard_normal((2, b, 2)).astype(np.float32)],
         wrap=lambda net: (lambda x, h: net(x, h))),
    # ------------------------------------------------------------------ gluon.loss
    Case("L2Loss", lambda: loss.L2Loss(), cat(f32(3), f32(3)), covers=(loss.L2Loss,)),
    Case("L2Loss-weighted", lambda: loss.L2Loss(weight=0.7), cat(f32(3, 2), f32(3, 2),
                                                                 pos(1, 1))),
    Case("L1Loss", lambda: loss.L1Loss(), cat(f32(4), f32(4)), covers=(loss.L1Loss,)),
    Case("SigmoidBCELoss", lambda: loss.SigmoidBCELoss(), cat(f32(3), probs(3)),
         covers=(loss.SigmoidBinaryCrossEntropyLoss, loss.SigmoidBCELoss)),
    Case("SigmoidBCELoss-from-sigmoid", lambda: loss.SigmoidBCELoss(from_sigmoid=True),
         cat(probs(3), probs(3), pos(1))),
    Case("SigmoidBCELoss-pos-weight", lambda: loss.SigmoidBCELoss(),
         lambda b, rng: [rng.standard_normal((b, 3)).astype(np.float32),
                         rng.uniform(0, 1, (b, 3)).astype(np.float32), None,
                         rng.uniform(0.5, 2, (1, 3)).astype(np.float32)]),
    Case("SoftmaxCELoss-sparse", lambda: loss.SoftmaxCrossEntropyLoss(), cat(f32(5), ints(5)),
         diff=(True, False), covers=(loss.SoftmaxCrossEntropyLoss, loss.SoftmaxCELoss)),
    Case("SoftmaxCELoss-dense", lambda: loss.SoftmaxCELoss(sparse_label=False, weight=2.0),
         cat(f32(4), probs(4))),
    Case("SoftmaxCELoss-axis1-weights",
         lambda: loss.SoftmaxCELoss(axis=1, from_logits=True),
         cat(f32(3, 2), ints(3, 2), pos(1, 2)), diff=(True, False, True)),
    Case("KLDivLoss", lambda: loss.KLDivLoss(), cat(f32(4), probs(4)), covers=(loss.KLDivLoss,)),
    Case("KLDivLoss-logits", lambda: loss.KLDivLoss(from_logits=False), cat(f32(4), probs(4))),
    Case("HuberLoss", lambda: loss.HuberLoss(rho=0.5), cat(f32(4), f32(4)),
         covers=(loss.HuberLoss,)),
    Case("HingeLoss", lambda: loss.HingeLoss(), cat(f32(4), signs(4)), covers=(loss.HingeLoss,)),
    Case("SquaredHingeLoss", lambda: loss.SquaredHingeLoss(margin=0.5), cat(f32(4), signs(4)),
         covers=(loss.SquaredHingeLoss,)),
    Case("LogisticLoss", lambda: loss.LogisticLoss(), cat(f32(4), signs(4)),
         covers=(loss.LogisticLoss,)),
    Case("LogisticLoss-binary", lambda: loss.LogisticLoss(label_format="binary"),
         cat(f32(4), ints(2, 4))),
    Case("TripletLoss", lambda: loss.TripletLoss(margin=3.0), cat(f32(4), f32(4), f32(4)),
         covers=(loss.TripletLoss,)),
    Case("PoissonNLLLoss", lambda: loss.PoissonNLLLoss(), cat(f32(3), pos(3)),
         covers=(loss.PoissonNLLLoss,)),
    Case("PoissonNLLLoss-full", lambda: loss.PoissonNLLLoss(from_logits=False,
                                                            compute_full=True),
         cat(pos(3), lambda b, rng: [rng.integers(0, 4, (b, 3)).astype(np.float32)])),
    Case("CosineEmbeddingLoss", lambda: loss.CosineEmbeddingLoss(margin=0.2),
         cat(f32(4), f32(4), signs()), covers=(loss.CosineEmbeddingLoss,)),
    Case("SDMLLoss", lambda: loss.SDMLLoss(), cat(f32(3), f32(3)), covers=(loss.SDMLLoss,)),
    # ------------------------------------------------------------------ gluon.contrib.nn
    Case("HybridConcurrent", lambda: _concurrent(contrib.nn.HybridConcurrent), f32(4),
         covers=(contrib.nn.HybridConcurrent, contrib.nn.Identity)),
    Case("Concurrent", lambda: _concurrent(contrib.nn.Concurrent), f32(4),
         covers=(contrib.nn.Concurrent,)),
]


def _cells(*cells):
    c = rnn.HybridSequentialRNNCell()
    for x in cells:
        c.add(x)
    return c


def _hseq_cell():
    c = rnn.HybridSequentialRNNCell()
    with c.name_scope():
        c.add(rnn.LSTMCell(4))
        c.add(rnn.GRUCell(2))
    return c


def _seq_cell():
    c = rnn.SequentialRNNCell()
    with c.name_scope():
        c.add(rnn.RNNCell(4))
        c.add(rnn.GRUCell(2))
    return c


def _concurrent(cls):
    net = cls(axis=1)
    with net.name_scope():
        net.add(nn.Dense(3), contrib.nn.Identity(), nn.Activation("tanh"))
    return net


# ---------------------------------------------------------------------- running both ways


def _flat(x):
    if isinstance(x, (list, tuple)):
        return [a for v in x for a in _flat(v)]
    return [x]


def _params(net):
    return list(net.collect_params().values())


def _snapshot(net):
    return [p.data().asnumpy().copy() for p in _params(net)]


def _restore(net, values):
    for p, v in zip(_params(net), values):
        p.set_data(nd.array(v, dtype=v.dtype))
    net.collect_params().zero_grad()


def _run(case, net, arrays, mode, seed):
    """One call in ``mode``: outputs, input grads, param grads, aux values (NumPy)."""
    call = case.wrap(net) if case.wrap else net
    xs = [None if a is None else nd.array(a) for a in arrays]
    diff = case.diff or tuple(a is not None for a in arrays)
    for x, d in zip(xs, diff):
        if x is not None and d:
            x.attach_grad()
    if mode == "infer":
        outs = _flat(call(*xs))
        return {"out": [o.asnumpy() for o in outs]}
    with autograd.record(train_mode=mode == "train"):
        outs = _flat(call(*xs))
    rng = np.random.default_rng(seed)
    heads = [nd.array(rng.standard_normal(o.shape).astype(np.float32)) for o in outs]
    autograd.backward(outs, heads)
    ps = _params(net)
    return {
        "out": [o.asnumpy() for o in outs],
        "input grads": [x.grad.asnumpy() for x, d in zip(xs, diff) if x is not None and d],
        "param grads": [p.grad().asnumpy() if p.grad_req != "null" else None for p in ps],
        "params after": [p.data().asnumpy() for p in ps],
    }


def _compare(case, want, got, what):
    assert want.keys() == got.keys()
    for key in want:
        assert len(want[key]) == len(got[key]), f"{case.id} {what}: number of {key}"
        for k, (w, g) in enumerate(zip(want[key], got[key])):
            if w is None:
                assert g is None
                continue
            assert w.shape == g.shape, f"{case.id} {what}: {key}[{k}] shape"
            np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL,
                                       err_msg=f"{case.id} {what}: {key}[{k}]")


# a case runs only in the modes where both paths are deterministic (Dropout 0.5 in training is
# checked statistically in test_hybridize.py)
PAIRS = [(c, m) for c in CASES for m in MODES if m in c.modes]


@pytest.mark.parametrize("backend", ["cpu", "interp"])
@pytest.mark.parametrize("case, mode", PAIRS, ids=[f"{c.id}-{m}" for c, m in PAIRS])
def test_hybridized_matches_eager(case, mode, backend):
    mx.random.seed(7)
    net = case.make()
    net.initialize(mx.init.Uniform(0.5))
    rng = np.random.default_rng(zlib.crc32(case.id.encode()))
    for batch in BATCHES:
        arrays = case.inputs(batch, rng)
        if batch == BATCHES[0]:
            call = case.wrap(net) if case.wrap else net
            call(*[None if a is None else nd.array(a) for a in arrays])   # deferred init
        start = _snapshot(net)
        net.hybridize(False) if isinstance(net, gluon.HybridBlock) else None
        eager = _run(case, net, arrays, mode, seed=batch)
        net.hybridize(backend=backend)
        for attempt in ("first hybridized call", "second hybridized call (cached)"):
            _restore(net, start)
            got = _run(case, net, arrays, mode, seed=batch)
            _compare(case, eager, got, f"batch {batch}, {mode}, {attempt}")
            traces = _trace_counts(net)
            if attempt.startswith("first"):
                assert all(t >= 1 for t in traces), f"{case.id}: the call did not compile"
                first = traces
            else:
                assert traces == first, f"{case.id}: the second call retraced"
        _restore(net, start)


def _trace_counts(net):
    """Trace counts of the outermost HybridBlocks (the block itself, or the children of a
    plain Block, which hybridize separately)."""
    if isinstance(net, gluon.HybridBlock):
        return [net.trace_count]
    return [t for c in net._children.values() for t in _trace_counts(c)]


# ---------------------------------------------------------------------- coverage of the API


def _blocks_in(module):
    return {obj for name, obj in vars(module).items()
            if inspect.isclass(obj) and issubclass(obj, gluon.Block) and not name.startswith("_")
            and obj.__module__.startswith(("graphcc.frontend.gluon", "graphcc.gluon"))}


ABSTRACT = {gluon.Block, gluon.HybridBlock, loss.Loss, rnn.RecurrentCell,
            rnn.HybridRecurrentCell, rnn.ModifierCell}


def test_matrix_covers_every_layer_and_loss():
    """Every public block in gluon.nn / rnn / loss / contrib.nn has a case above (a newly
    added layer fails here until it gets one)."""
    covered = {c for case in CASES for c in case.covers}
    public = set()
    for module in (nn, rnn, loss, contrib.nn):
        public |= _blocks_in(module)
    missing = sorted(c.__name__ for c in public - covered - ABSTRACT)
    assert not missing, f"layers without a hybridize-vs-eager case: {missing}"
