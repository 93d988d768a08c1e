"""gluon.rnn: cells (step, unroll), containers, modifiers and the RNN/LSTM/GRU layers.

Numbers are checked against NumPy written out by hand below (``np_step`` / ``np_layer``, in
float64); parameter names/shapes/reprs and a few layer outputs against MXNet 1.9.1 through the
lists printed by tests/mxnet_ref/rnn_names.py and tests/mxnet_ref/rnn_values.py.
"""
import importlib.util

import numpy as np
import pytest

import graphcc as mx
from graphcc import autograd, nd
from graphcc.errors import GraphccError, MXNetError, ShapeError
from graphcc.gluon import rnn

# Printed by tests/mxnet_ref/rnn_names.py (MXNet 1.9.1): expr, input shape, parameter
# (name without prefix, shape), save_parameters keys, repr, output shape, state shapes.
MX_NAMES = [('rnn.RNNCell(5, input_size=3)', (2, 3),
  [('i2h_weight', (5, 3)), ('h2h_weight', (5, 5)), ('i2h_bias', (5,)), ('h2h_bias', (5,))],
  ['h2h_bias', 'h2h_weight', 'i2h_bias', 'i2h_weight'], 'RNNCell(3 -> 5, tanh)', (2, 5),
  [(2, 5)]),
 ('rnn.LSTMCell(4)', (2, 3),
  [('i2h_weight', (16, 3)), ('h2h_weight', (16, 4)), ('i2h_bias', (16,)), ('h2h_bias', (16,))],
  ['h2h_bias', 'h2h_weight', 'i2h_bias', 'i2h_weight'], 'LSTMCell(3 -> 16)', (2, 4),
  [(2, 4), (2, 4)]),
 ('rnn.GRUCell(6, input_size=2)', (2, 2),
  [('i2h_weight', (18, 2)), ('h2h_weight', (18, 6)), ('i2h_bias', (18,)), ('h2h_bias', (18,))],
  ['h2h_bias', 'h2h_weight', 'i2h_bias', 'i2h_weight'], 'GRUCell(2 -> 18)', (2, 6), [(2, 6)]),
 ("rnn.RNN(5, activation='tanh')", (4, 2, 3),
  [('l0_i2h_weight', (5, 3)), ('l0_h2h_weight', (5, 5)), ('l0_i2h_bias', (5,)),
   ('l0_h2h_bias', (5,))],
  ['_unfused.0.h2h_bias', '_unfused.0.h2h_weight', '_unfused.0.i2h_bias', '_unfused.0.i2h_weight'],
  'RNN(3 -> 5, TNC)', (4, 2, 5), [(1, 2, 5)]),
 ('rnn.LSTM(4, num_layers=2, input_size=3)', (4, 2, 3),
  [('l0_i2h_weight', (16, 3)), ('l0_h2h_weight', (16, 4)), ('l0_i2h_bias', (16,)),
   ('l0_h2h_bias', (16,)), ('l1_i2h_weight', (16, 4)), ('l1_h2h_weight', (16, 4)),
   ('l1_i2h_bias', (16,)), ('l1_h2h_bias', (16,))],
  ['_unfused.0.h2h_bias', '_unfused.0.h2h_weight', '_unfused.0.i2h_bias', '_unfused.0.i2h_weight',
   '_unfused.1.h2h_bias', '_unfused.1.h2h_weight', '_unfused.1.i2h_bias',
   '_unfused.1.i2h_weight'],
  'LSTM(3 -> 4, TNC, num_layers=2)', (4, 2, 4), [(2, 2, 4), (2, 2, 4)]),
 ("rnn.GRU(3, num_layers=2, bidirectional=True, layout='NTC')", (2, 4, 5),
  [('l0_i2h_weight', (9, 5)), ('l0_h2h_weight', (9, 3)), ('l0_i2h_bias', (9,)),
   ('l0_h2h_bias', (9,)), ('r0_i2h_weight', (9, 5)), ('r0_h2h_weight', (9, 3)),
   ('r0_i2h_bias', (9,)), ('r0_h2h_bias', (9,)), ('l1_i2h_weight', (9, 6)),
   ('l1_h2h_weight', (9, 3)), ('l1_i2h_bias', (9,)), ('l1_h2h_bias', (9,)),
   ('r1_i2h_weight', (9, 6)), ('r1_h2h_weight', (9, 3)), ('r1_i2h_bias', (9,)),
   ('r1_h2h_bias', (9,))],
  ['_unfused.0.l_cell.h2h_bias', '_unfused.0.l_cell.h2h_weight', '_unfused.0.l_cell.i2h_bias',
   '_unfused.0.l_cell.i2h_weight', '_unfused.0.r_cell.h2h_bias', '_unfused.0.r_cell.h2h_weight',
   '_unfused.0.r_cell.i2h_bias', '_unfused.0.r_cell.i2h_weight', '_unfused.1.l_cell.h2h_bias',
   '_unfused.1.l_cell.h2h_weight', '_unfused.1.l_cell.i2h_bias', '_unfused.1.l_cell.i2h_weight',
   '_unfused.1.r_cell.h2h_bias', '_unfused.1.r_cell.h2h_weight', '_unfused.1.r_cell.i2h_bias',
   '_unfused.1.r_cell.i2h_weight'],
  'GRU(5 -> 3, NTC, num_layers=2, bidirectional)', (2, 4, 6), [(4, 2, 3)]),
 ('rnn.LSTM(2, bidirectional=True)', (4, 2, 3),
  [('l0_i2h_weight', (8, 3)), ('l0_h2h_weight', (8, 2)), ('l0_i2h_bias', (8,)),
   ('l0_h2h_bias', (8,)), ('r0_i2h_weight', (8, 3)), ('r0_h2h_weight', (8, 2)),
   ('r0_i2h_bias', (8,)), ('r0_h2h_bias', (8,))],
  ['_unfused.0.l_cell.h2h_bias', '_unfused.0.l_cell.h2h_weight', '_unfused.0.l_cell.i2h_bias',
   '_unfused.0.l_cell.i2h_weight', '_unfused.0.r_cell.h2h_bias', '_unfused.0.r_cell.h2h_weight',
   '_unfused.0.r_cell.i2h_bias', '_unfused.0.r_cell.i2h_weight'],
  'LSTM(3 -> 2, TNC, bidirectional)', (4, 2, 4), [(2, 2, 2), (2, 2, 2)])]

# Printed by tests/mxnet_ref/rnn_names.py: kind, prefix, parameters, repr, merged unroll
# output shape, state shapes.
MX_CONTAINERS = [('seq', 'seq_',
  [('seq_lstm0_i2h_weight', (8, 3)), ('seq_lstm0_h2h_weight', (8, 2)),
   ('seq_lstm0_i2h_bias', (8,)), ('seq_lstm0_h2h_bias', (8,)), ('seq_gru0_i2h_weight', (6, 2)),
   ('seq_gru0_h2h_weight', (6, 2)), ('seq_gru0_i2h_bias', (6,)), ('seq_gru0_h2h_bias', (6,))],
  'SequentialRNNCell(\n'
  '(0): LSTMCell(3 -> 8)\n'
  '(1): DropoutCell(rate=0.5, axes=())\n'
  '(2): GRUCell(2 -> 6)\n'
  ')',
  (2, 4, 2), [(2, 2), (2, 2), (2, 2)]),
 ('bi', '',
  [('l_i2h_weight', (8, 3)), ('l_h2h_weight', (8, 2)), ('l_i2h_bias', (8,)), ('l_h2h_bias', (8,)),
   ('r_i2h_weight', (6, 3)), ('r_h2h_weight', (6, 2)), ('r_i2h_bias', (6,)),
   ('r_h2h_bias', (6,))],
  'BidirectionalCell(forward=LSTMCell(3 -> 8), backward=GRUCell(3 -> 6))', (2, 4, 4),
  [(2, 2), (2, 2), (2, 2)]),
 ('zoneout', 'g_zoneout',
  [('g_i2h_weight', (9, 3)), ('g_h2h_weight', (9, 3)), ('g_i2h_bias', (9,)), ('g_h2h_bias', (9,))],
  'ZoneoutCell(p_out=0.5, p_state=0.25, GRUCell(3 -> 9))', (2, 4, 3), [(2, 3)]),
 ('residual', 'r_residualcell',
  [('r_i2h_weight', (3, 3)), ('r_h2h_weight', (3, 3)), ('r_i2h_bias', (3,)), ('r_h2h_bias', (3,))],
  'ResidualCell(RNNCell(3 -> 3, tanh))', (2, 4, 3), [(2, 3)])]

# Printed by tests/mxnet_ref/rnn_values.py (MXNet 1.9.1 fused CPU kernel): expr, output,
# final states, for the deterministic weights/inputs/states that script describes.
MX_VALUES = [("rnn.RNN(2, num_layers=2, bidirectional=True, activation='relu')",
  [[[0.0, 0.0, 1.34482, 0.950067], [0.0, 0.0, 1.24708, 0.962481]],
   [[0.0, 0.0, 1.05101, 0.864233], [0.0, 0.0, 1.31852, 0.592812]],
   [[0.0, 0.0, 1.08632, 0.320594], [0.0, 0.0, 0.974476, 0.434179]]],
  [[[[0.324619, 0.0], [0.634638, 0.0]], [[0.0, 1.08683], [0.0, 0.725749]],
    [[0.0, 0.0], [0.0, 0.0]], [[1.34482, 0.950067], [1.24708, 0.962481]]]]),
 ("rnn.RNN(2, activation='tanh', layout='NTC')",
  [[[0.83223, 0.371092], [0.748152, 0.416381], [0.393887, 0.124798]],
   [[-0.0610741, -0.264138], [-0.0852713, -0.379944], [0.390418, -0.182373]]],
  [[[[0.393887, 0.124798], [0.390418, -0.182373]]]]),
 ("rnn.LSTM(2, num_layers=2, bidirectional=True, layout='NTC')",
  [[[0.0322548, 0.161796, -0.247741, -0.295469], [0.0753311, 0.215849, -0.203314, -0.236287],
    [0.104155, 0.232855, -0.107361, -0.101567]],
   [[0.128409, 0.199035, -0.264754, -0.298102], [0.146228, 0.202422, -0.228962, -0.244423],
    [0.141137, 0.210845, -0.150341, -0.133185]]],
  [[[[-0.192466, -0.0418145], [-0.31034, -0.0171044]],
    [[0.0131983, -0.0161654], [-0.157859, -0.167728]],
    [[0.104155, 0.232855], [0.141137, 0.210845]],
    [[-0.247741, -0.295469], [-0.264754, -0.298102]]],
   [[[-0.422732, -0.0612123], [-0.569877, -0.0270092]],
    [[0.08287, -0.0360945], [-0.291902, -0.914466]], [[0.173569, 0.430402], [0.233423, 0.397884]],
    [[-0.55943, -0.529011], [-0.624232, -0.531916]]]]),
 ('rnn.GRU(2, num_layers=2, bidirectional=True)',
  [[[-0.0511312, 0.150119, -0.381847, -0.531497], [0.0121085, 0.272643, -0.385588, -0.536947]],
   [[0.0480766, 0.305638, -0.3239, -0.413662], [0.127075, 0.351003, -0.335928, -0.396312]],
   [[0.15445, 0.343374, -0.178002, -0.167186], [0.115297, 0.398233, -0.079133, -0.259579]]],
  [[[[-0.441204, 0.313552], [-0.436844, -0.0291935]],
    [[0.0832054, 0.0299746], [0.00199731, -0.170641]], [[0.15445, 0.343374], [0.115297, 0.398233]],
    [[-0.381847, -0.531497], [-0.385588, -0.536947]]]]),
 ('rnn.LSTM(3, projection_size=2)',
  [[[-0.230502, 0.0165612], [-0.0923563, 0.0129908]],
   [[-0.149768, 0.107184], [-0.116083, 0.136798]],
   [[-0.141816, 0.153977], [-0.138479, 0.0725047]]],
  [[[[-0.141816, 0.153977], [-0.138479, 0.0725047]]],
   [[[-0.0492921, 0.255622, 0.748944], [0.21177, 0.289034, 0.449125]]]])]


# ---------------------------------------------------------------- NumPy reference


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_step(mode, x, states, w, clip=None):
    """One step of MXNet's cells in float64. w: i2h_weight, h2h_weight, i2h_bias, h2h_bias
    (and h2r_weight for LSTMP). Gate order: LSTM i, f, c, o; GRU r, z, n."""
    x = x.reshape(len(x), -1)
    i2h = x @ w["i2h_weight"].T + w["i2h_bias"]
    h2h = states[0] @ w["h2h_weight"].T + w["h2h_bias"]
    if mode == "rnn_tanh":
        h = np.tanh(i2h + h2h)
        return h, [h]
    if mode == "rnn_relu":
        h = np.maximum(i2h + h2h, 0.0)
        return h, [h]
    if mode == "lstm":
        hc = states[1].shape[1]
        g = i2h + h2h
        i, f, cand, o = (g[:, k * hc:(k + 1) * hc] for k in range(4))
        c = sigmoid(f) * states[1] + sigmoid(i) * np.tanh(cand)
        if clip is not None:
            c = np.clip(c, *clip)
        h = sigmoid(o) * np.tanh(c)
        if "h2r_weight" in w:
            h = h @ w["h2r_weight"].T
        return h, [h, c]
    assert mode == "gru"
    hh = states[0].shape[1]
    r = sigmoid(i2h[:, :hh] + h2h[:, :hh])
    z = sigmoid(i2h[:, hh:2 * hh] + h2h[:, hh:2 * hh])
    n = np.tanh(i2h[:, 2 * hh:] + r * h2h[:, 2 * hh:])      # h2h bias inside the reset product
    h = (1 - z) * n + z * states[0]
    return h, [h]


def np_unroll(mode, xs, states, w, reverse=False, clip=None):
    """Run np_step over the list of steps xs; outputs in time order, final states."""
    ys = [None] * len(xs)
    order = range(len(xs) - 1, -1, -1) if reverse else range(len(xs))
    for t in order:
        ys[t], states = np_step(mode, xs[t], states, w, clip)
    return ys, states


def np_layer(mode, x, states, params, num_layers, dirs, clip=None):
    """A fused layer on x (T, N, C): states [(L*D, N, H)], params by MXNet's names."""
    finals = [[] for _ in states]
    out = x
    for layer in range(num_layers):
        outs = []
        for d in range(dirs):
            tag = "lr"[d]
            w = {k[3:]: v for k, v in params.items() if k.startswith(f"{tag}{layer}_")}
            st = [s[layer * dirs + d] for s in states]
            ys, st = np_unroll(mode, list(out), st, w, reverse=d == 1, clip=clip)
            outs.append(np.stack(ys))
            for k, s in enumerate(st):
                finals[k].append(s)
        out = np.concatenate(outs, axis=2)
    return out, [np.stack(f) for f in finals]


def randomize(block, rng, scale=0.5):
    """Random values for every parameter; returns {name without the block prefix: float64}."""
    out = {}
    for name, p in block.collect_params().items():
        v = rng.uniform(-scale, scale, p.shape)
        p.set_data(nd.array(v))
        out[name[len(block.params.prefix):]] = v.astype(np.float32).astype(np.float64)
    return out


def arr(rng, *shape):
    return rng.uniform(-1, 1, shape).astype(np.float32)


def close(got, want, tol=1e-5):
    np.testing.assert_allclose(np.asarray(got.asnumpy() if hasattr(got, "asnumpy") else got,
                                          np.float64), want, rtol=tol, atol=tol)


CELLS = {"rnn_tanh": lambda h, **k: rnn.RNNCell(h, **k),
         "rnn_relu": lambda h, **k: rnn.RNNCell(h, activation="relu", **k),
         "lstm": lambda h, **k: rnn.LSTMCell(h, **k),
         "gru": lambda h, **k: rnn.GRUCell(h, **k)}


def n_states(mode):
    return 2 if mode == "lstm" else 1


# ---------------------------------------------------------------- cells


@pytest.mark.parametrize("mode", list(CELLS))
def test_cell_step_matches_numpy(mode, rng):
    cell = CELLS[mode](4, input_size=3)
    cell.initialize()
    w = randomize(cell, rng)
    x = arr(rng, 2, 3)
    states = [arr(rng, 2, 4) for _ in range(n_states(mode))]
    out, new = cell(nd.array(x), [nd.array(s) for s in states])
    want, want_states = np_step(mode, x.astype(np.float64), [s.astype(np.float64)
                                                             for s in states], w)
    close(out, want)
    assert len(new) == n_states(mode)
    for got, ref in zip(new, want_states):
        close(got, ref)


def test_lstm_cell_custom_activations(rng):
    cell = rnn.LSTMCell(2, input_size=3, activation="softsign", recurrent_activation="relu")
    cell.initialize()
    w = randomize(cell, rng)
    x, h, c = arr(rng, 2, 3), arr(rng, 2, 2), arr(rng, 2, 2)
    out, (h1, c1) = cell(nd.array(x), [nd.array(h), nd.array(c)])
    g = x @ w["i2h_weight"].T + w["i2h_bias"] + h @ w["h2h_weight"].T + w["h2h_bias"]

    def softsign(v):
        return v / (1 + np.abs(v))
    i, f, cand, o = (g[:, 2 * k:2 * k + 2] for k in range(4))
    want_c = np.maximum(f, 0) * c + np.maximum(i, 0) * softsign(cand)
    close(c1, want_c)
    close(out, np.maximum(o, 0) * softsign(want_c))


def test_cell_begin_state():
    cell = rnn.LSTMCell(3, input_size=2, prefix="c_")
    st = cell.begin_state(batch_size=4)
    assert [s.shape for s in st] == [(4, 3), (4, 3)]
    assert all((s.asnumpy() == 0).all() for s in st)
    st = cell.begin_state(batch_size=2, func=nd.ones, dtype="float64")
    assert all(s.dtype == np.float64 and (s.asnumpy() == 1).all() for s in st)
    names = []
    cell.begin_state(batch_size=1, func=lambda name, **kw: names.append(name) or nd.zeros(**kw))
    assert names == ["c_begin_state_4", "c_begin_state_5"]
    assert cell.state_info(5) == [{"shape": (5, 3), "__layout__": "NC"}] * 2


@pytest.mark.parametrize("layout", ["NTC", "TNC"])
@pytest.mark.parametrize("merge", [True, False, None])
@pytest.mark.parametrize("given_state", [True, False])
def test_lstm_unroll_matches_numpy(layout, merge, given_state, rng):
    cell = rnn.LSTMCell(3, input_size=2)
    cell.initialize()
    w = randomize(cell, rng)
    seq = arr(rng, 4, 2, 2)                                  # (T, N, C)
    x = seq if layout == "TNC" else seq.transpose(1, 0, 2)
    states = [arr(rng, 2, 3), arr(rng, 2, 3)] if given_state else [np.zeros((2, 3))] * 2
    begin = [nd.array(s) for s in states] if given_state else None
    outs, new = cell.unroll(4, nd.array(x), begin_state=begin, layout=layout,
                            merge_outputs=merge)
    ys, want_states = np_unroll("lstm", list(seq.astype(np.float64)), states, w)
    if merge:
        want = np.stack(ys, axis=layout.find("T"))
        assert outs.shape == want.shape
        close(outs, want)
    else:
        assert isinstance(outs, list) and len(outs) == 4
        for got, ref in zip(outs, ys):
            close(got, ref)
    for got, ref in zip(new, want_states):
        close(got, ref)


@pytest.mark.parametrize("mode", ["rnn_relu", "gru"])
def test_unroll_list_inputs_and_merge(mode, rng):
    cell = CELLS[mode](3, input_size=2)
    cell.initialize()
    w = randomize(cell, rng)
    steps = [arr(rng, 2, 2) for _ in range(3)]
    outs, new = cell.unroll(3, [nd.array(s) for s in steps], layout="TNC", merge_outputs=True)
    ys, want_states = np_unroll(mode, [s.astype(np.float64) for s in steps], [np.zeros((2, 3))],
                                w)
    close(outs, np.stack(ys))
    close(new[0], want_states[0])


def test_unroll_valid_length(rng):
    cell = rnn.GRUCell(3, input_size=2)
    cell.initialize()
    w = randomize(cell, rng)
    x = arr(rng, 2, 4, 2)                                    # NTC
    lengths = [2, 4]
    outs, new = cell.unroll(4, nd.array(x), layout="NTC", merge_outputs=True,
                            valid_length=nd.array(lengths))
    for b, n in enumerate(lengths):
        ys, st = np_unroll("gru", list(x[b:b + 1, :n].transpose(1, 0, 2).astype(np.float64)),
                           [np.zeros((1, 3))], w)
        want = np.zeros((4, 3))
        want[:n] = np.concatenate(ys)
        close(outs[b], want)
        close(new[0][b], st[0][0])


def test_deferred_input_size():
    cell = rnn.LSTMCell(3)
    assert cell.i2h_weight.shape == (12, 0)
    cell.initialize()
    cell(nd.ones((2, 5)), cell.begin_state(batch_size=2))
    assert cell.i2h_weight.shape == (12, 5) and cell.h2h_weight.shape == (12, 3)
    layer = rnn.GRU(4, num_layers=2, bidirectional=True)
    assert layer.l0_i2h_weight.shape == (12, 0) and layer.l1_i2h_weight.shape == (12, 8)
    layer.initialize()
    assert layer(nd.ones((3, 2, 7))).shape == (3, 2, 8)
    assert layer.l0_i2h_weight.shape == (12, 7) and layer.r0_i2h_weight.shape == (12, 7)


# ---------------------------------------------------------------- containers and modifiers


def test_sequential_cells_step_and_unroll(rng):
    for cls in (rnn.SequentialRNNCell, rnn.HybridSequentialRNNCell):
        seq = cls()
        with seq.name_scope():
            seq.add(rnn.LSTMCell(3, input_size=2))
            seq.add(rnn.GRUCell(2, input_size=3))
        seq.initialize()
        assert len(seq) == 2 and isinstance(seq[1], rnn.GRUCell)
        w = randomize(seq, rng)
        w0 = {k[6:]: v for k, v in w.items() if k.startswith("lstm0_")}
        w1 = {k[5:]: v for k, v in w.items() if k.startswith("gru0_")}
        x = arr(rng, 2, 3, 2)                                # NTC
        outs, states = seq.unroll(3, nd.array(x), merge_outputs=True)
        ys, s0 = np_unroll("lstm", list(x.transpose(1, 0, 2).astype(np.float64)),
                           [np.zeros((2, 3))] * 2, w0)
        ys, s1 = np_unroll("gru", ys, [np.zeros((2, 2))], w1)
        close(outs, np.stack(ys, axis=1))
        assert len(states) == 3
        for got, ref in zip(states, s0 + s1):
            close(got, ref)
        out, st = seq(nd.array(x[:, 0]), seq.begin_state(batch_size=2))   # one step
        h, _ = np_step("lstm", x[:, 0].astype(np.float64), [np.zeros((2, 3))] * 2, w0)
        close(out, np_step("gru", h, [np.zeros((2, 2))], w1)[0])


@pytest.mark.parametrize("merge", [True, False])
def test_bidirectional_cell_matches_numpy(merge, rng):
    bi = rnn.BidirectionalCell(rnn.LSTMCell(2, input_size=3, prefix="l_"),
                               rnn.GRUCell(2, input_size=3, prefix="r_"))
    bi.initialize()
    w = randomize(bi, rng)
    wl = {k[2:]: v for k, v in w.items() if k.startswith("l_")}
    wr = {k[2:]: v for k, v in w.items() if k.startswith("r_")}
    x = arr(rng, 4, 2, 3)                                    # TNC
    outs, states = bi.unroll(4, nd.array(x), layout="TNC", merge_outputs=merge)
    steps = list(x.astype(np.float64))
    yl, sl = np_unroll("lstm", steps, [np.zeros((2, 2))] * 2, wl)
    yr, sr = np_unroll("gru", steps, [np.zeros((2, 2))], wr, reverse=True)
    want = np.concatenate([np.stack(yl), np.stack(yr)], axis=2)
    if merge:
        close(outs, want)
    else:
        assert len(outs) == 4
        for t in range(4):
            close(outs[t], want[t])
    for got, ref in zip(states, sl + sr):
        close(got, ref)
    with pytest.raises(GraphccError, match="cannot be stepped"):
        bi(nd.array(x[0]), bi.begin_state(batch_size=2))


def test_dropout_cell(rng):
    cell = rnn.DropoutCell(0.5)
    x = nd.array(rng.uniform(1, 2, (50, 40)))
    out, st = cell(x, [])
    close(out, x.asnumpy())                                  # predict mode: identity
    with autograd.record():
        out, _ = cell(x, [])
    o, xv = out.asnumpy(), x.asnumpy()
    dropped = o == 0
    assert 0.3 < dropped.mean() < 0.7
    np.testing.assert_allclose(o[~dropped], 2 * xv[~dropped], rtol=1e-6)
    outs, _ = cell.unroll(3, nd.ones((2, 3, 4)), merge_outputs=True)   # merged: one dropout
    assert outs.shape == (2, 3, 4)


def test_residual_and_zoneout_cells(rng):
    base = rnn.GRUCell(3, input_size=3, prefix="g_")
    res = rnn.ResidualCell(base)
    res.initialize()
    w = randomize(res, rng)
    x = arr(rng, 2, 4, 3)
    outs, st = res.unroll(4, nd.array(x), merge_outputs=True)
    ys, s = np_unroll("gru", list(x.transpose(1, 0, 2).astype(np.float64)), [np.zeros((2, 3))],
                      w)
    close(outs, np.stack(ys, axis=1) + x)
    out, _ = res(nd.array(x[:, 0]), res.begin_state(batch_size=2))
    close(out, ys[0] + x[:, 0])
    with pytest.raises(GraphccError, match="modifier"):
        base.begin_state(batch_size=2)                       # a modified cell is not called
    with pytest.raises(GraphccError, match="already modified"):
        rnn.ZoneoutCell(base)

    zbase = rnn.LSTMCell(3, input_size=3, prefix="z_")
    zone = rnn.ZoneoutCell(zbase, zoneout_outputs=0.5)
    zone.initialize()
    wz = randomize(zone, rng)
    outs, _ = zone.unroll(4, nd.array(x), merge_outputs=True)        # predict mode: the base
    ys, _ = np_unroll("lstm", list(x.transpose(1, 0, 2).astype(np.float64)),
                      [np.zeros((2, 3))] * 2, wz)
    close(outs, np.stack(ys, axis=1))
    mx.random.seed(3)
    with autograd.record():
        outs, _ = zone.unroll(4, nd.array(x), merge_outputs=False)
    prev, kept = np.zeros((2, 3)), 0
    for o, y in zip(outs, ys):               # each unit: the new output or the previous one
        o = o.asnumpy()
        new, old = np.isclose(o, y, atol=1e-5), np.isclose(o, prev, atol=1e-5)
        assert np.all(new | old)
        kept += np.sum(old & ~new)
        prev = o
    assert 0 < kept < 24


# ---------------------------------------------------------------- layers


LAYERS = {"rnn_relu": lambda h, **k: rnn.RNN(h, activation="relu", **k),
          "rnn_tanh": lambda h, **k: rnn.RNN(h, activation="tanh", **k),
          "lstm": lambda h, **k: rnn.LSTM(h, **k),
          "gru": lambda h, **k: rnn.GRU(h, **k)}


@pytest.mark.parametrize("mode,num_layers,bidirectional,layout", [
    ("rnn_relu", 2, True, "TNC"), ("rnn_tanh", 1, False, "NTC"), ("lstm", 2, True, "NTC"),
    ("lstm", 1, False, "TNC"), ("gru", 2, True, "TNC"), ("gru", 3, False, "NTC")])
def test_layer_matches_numpy(mode, num_layers, bidirectional, layout, rng):
    layer = LAYERS[mode](3, num_layers=num_layers, bidirectional=bidirectional, layout=layout,
                         input_size=4)
    layer.initialize()
    w = randomize(layer, rng)
    dirs = 2 if bidirectional else 1
    seq = arr(rng, 5, 2, 4)                                  # TNC
    x = nd.array(seq if layout == "TNC" else seq.transpose(1, 0, 2))
    states = [arr(rng, num_layers * dirs, 2, 3) for _ in range(n_states(mode))]
    out, new = layer(x, [nd.array(s) for s in states] if len(states) > 1 else
                     nd.array(states[0]))
    want, want_states = np_layer(mode, seq.astype(np.float64), states, w, num_layers, dirs)
    if layout == "NTC":
        want = want.transpose(1, 0, 2)
    close(out, want)
    assert len(new) == len(want_states)
    for got, ref in zip(new, want_states):
        close(got, ref)
    # without states: zeros, and only the output comes back
    plain = layer(x)
    assert isinstance(plain, mx.nd.NDArray)
    zeros = [np.zeros_like(s) for s in states]
    want, _ = np_layer(mode, seq.astype(np.float64), zeros, w, num_layers, dirs)
    close(plain, want if layout == "TNC" else want.transpose(1, 0, 2))


def test_layer_begin_state_and_state_info():
    layer = rnn.LSTM(4, num_layers=2, bidirectional=True, input_size=3, prefix="m_")
    st = layer.begin_state(batch_size=5)
    assert [s.shape for s in st] == [(4, 5, 4), (4, 5, 4)]
    assert layer.state_info(5)[0] == {"shape": (4, 5, 4), "__layout__": "LNC",
                                      "dtype": "float32"}
    names = []
    layer.begin_state(2, func=lambda name, **kw: names.append(name) or nd.zeros(**kw))
    assert names == ["m_h0_0", "m_h0_1"]
    assert [s.shape for s in rnn.GRU(2, num_layers=3).begin_state(7)] == [(3, 7, 2)]


def test_lstm_projection_and_state_clip(rng):
    layer = rnn.LSTM(3, projection_size=2, input_size=4)
    layer.initialize()
    assert layer.l0_h2r_weight.shape == (2, 3) and layer.l0_h2h_weight.shape == (12, 2)
    w = randomize(layer, rng)
    seq = arr(rng, 3, 2, 4)
    states = [arr(rng, 1, 2, 2), arr(rng, 1, 2, 3)]
    out, new = layer(nd.array(seq), [nd.array(s) for s in states])
    want, want_states = np_layer("lstm", seq.astype(np.float64), states, w, 1, 1)
    close(out, want)
    for got, ref in zip(new, want_states):
        close(got, ref)

    clipped = rnn.LSTM(3, input_size=4, state_clip_min=-0.1, state_clip_max=0.1)
    clipped.initialize()
    w = randomize(clipped, rng, scale=1.5)
    out, new = clipped(nd.array(seq), clipped.begin_state(2))
    zeros = [np.zeros((1, 2, 3))] * 2
    want, want_states = np_layer("lstm", seq.astype(np.float64), zeros, w, 1, 1,
                                 clip=(-0.1, 0.1))
    close(out, want)
    close(new[1], want_states[1])
    assert np.abs(new[1].asnumpy()).max() <= 0.1 + 1e-7


def test_layer_sequence_length(rng):
    layer = rnn.GRU(3, bidirectional=True, input_size=2, use_sequence_length=True)
    layer.initialize()
    w = randomize(layer, rng)
    seq = arr(rng, 4, 2, 2)
    lengths = [3, 4]
    out, new = layer(nd.array(seq), layer.begin_state(2), sequence_length=nd.array(lengths))
    for b, n in enumerate(lengths):                  # each sequence alone, padding ignored
        want, st = np_layer("gru", seq[:n, b:b + 1].astype(np.float64), [np.zeros((2, 1, 3))],
                            w, 1, 2)
        close(out.asnumpy()[:n, b], want[:, 0])
        close(out.asnumpy()[n:, b], 0 * out.asnumpy()[n:, b])
        close(new[0].asnumpy()[:, b], st[0][:, 0])


def test_layer_dropout_between_layers(rng):
    layer = rnn.LSTM(3, num_layers=2, dropout=0.5, input_size=2)
    layer.initialize()
    w = randomize(layer, rng)
    seq = arr(rng, 3, 2, 2)
    want, _ = np_layer("lstm", seq.astype(np.float64), [np.zeros((2, 2, 3))] * 2, w, 2, 1)
    close(layer(nd.array(seq)), want)                        # predict mode: no dropout
    with autograd.record():
        trained = layer(nd.array(seq))
    assert not np.allclose(trained.asnumpy(), want, atol=1e-4)
    assert "dropout=0.5" in repr(layer)


def test_unfused_cells_compute_the_same(rng):
    layer = rnn.GRU(3, num_layers=2, bidirectional=True, input_size=2)
    layer.initialize()
    randomize(layer, rng)
    x = nd.array(arr(rng, 4, 2, 2))
    stack = layer._unfuse()
    outs, _ = stack.unroll(4, x, layout="TNC", merge_outputs=True)
    close(outs, layer(x).asnumpy())


def test_layer_save_load_uses_mxnet_keys(tmp_path, rng):
    layer = rnn.LSTM(2, bidirectional=True, input_size=3)
    layer.initialize()
    randomize(layer, rng)
    f = str(tmp_path / "lstm.params")
    layer.save_parameters(f)
    assert sorted(nd.load(f)) == sorted(layer._collect_params_with_prefix())
    other = rnn.LSTM(2, bidirectional=True, input_size=3)
    other.load_parameters(f)
    x = nd.array(arr(rng, 3, 2, 3))
    close(other(x), layer(x).asnumpy())


# ---------------------------------------------------------------- against MXNet


@pytest.mark.parametrize("case", MX_NAMES, ids=[c[0] for c in MX_NAMES])
def test_names_shapes_reprs_match_mxnet(case):
    expr, shape, params, keys, text, out_shape, state_shapes = case
    net = eval(expr)
    net.initialize()
    x = nd.ones(shape)
    if isinstance(net, rnn.HybridRecurrentCell):
        out, states = net(x, net.begin_state(batch_size=shape[0]))
    else:
        out, states = net(x, net.begin_state(batch_size=shape[net._layout.find("N")]))
    assert [(k[len(net.prefix):], v.shape) for k, v in net.collect_params().items()] == params
    assert sorted(net._collect_params_with_prefix()) == keys
    assert repr(net) == text
    assert out.shape == out_shape and [s.shape for s in states] == state_shapes


def _container(kind):
    if kind == "seq":
        net = rnn.SequentialRNNCell(prefix="seq_")
        with net.name_scope():
            net.add(rnn.LSTMCell(2, input_size=3))
            net.add(rnn.DropoutCell(0.5))
            net.add(rnn.GRUCell(2))
        return net
    if kind == "bi":
        return rnn.BidirectionalCell(rnn.LSTMCell(2, prefix="l_"), rnn.GRUCell(2, prefix="r_"))
    if kind == "zoneout":
        return rnn.ZoneoutCell(rnn.GRUCell(3, prefix="g_"), 0.5, 0.25)
    return rnn.ResidualCell(rnn.RNNCell(3, prefix="r_"))


@pytest.mark.parametrize("case", MX_CONTAINERS, ids=[c[0] for c in MX_CONTAINERS])
def test_containers_match_mxnet(case):
    kind, prefix, params, text, out_shape, state_shapes = case
    net = _container(kind)
    net.initialize()
    outs, states = net.unroll(4, nd.ones((2, 4, 3)), layout="NTC", merge_outputs=True)
    assert net.prefix == prefix
    assert [(k, v.shape) for k, v in net.collect_params().items()] == params
    assert repr(net) == text
    assert outs.shape == out_shape and [s.shape for s in states] == state_shapes


@pytest.mark.parametrize("case", MX_VALUES, ids=[c[0] for c in MX_VALUES])
def test_layer_outputs_match_mxnet(case):
    expr, out_ref, states_ref = case
    net = eval(expr)
    shape = (3, 2, 3) if net._layout == "TNC" else (2, 3, 3)
    net.initialize()
    x = nd.array(np.cos(0.3 * np.arange(np.prod(shape))).reshape(shape))
    net(x)
    for k, p in enumerate(net.collect_params().values()):
        n = int(np.prod(p.shape))
        p.set_data(nd.array((np.sin(0.7 * np.arange(n) + k) * 0.4).reshape(p.shape)))
    states = [nd.array((np.sin(0.5 * np.arange(np.prod(i["shape"])) + 1 + j) * 0.3)
                       .reshape(i["shape"])) for j, i in enumerate(net.state_info(2))]
    out, new = net(x, states)
    close(out, np.array(out_ref), 2e-5)
    for got, ref in zip(new, states_ref):
        close(got, np.array(ref), 2e-5)


# ---------------------------------------------------------------- gradients


def test_unrolled_lstm_gradients_match_finite_differences(rng):
    cell = rnn.LSTMCell(2, input_size=2)
    cell.initialize()
    w = randomize(cell, rng, scale=1.0)
    x = arr(rng, 1, 3, 2).astype(np.float64)                 # NTC, T = 3
    coef = rng.uniform(-1, 1, (1, 3, 2))

    def loss(wd, xv):
        ys, (h, c) = np_unroll("lstm", list(xv.transpose(1, 0, 2)), [np.zeros((1, 2))] * 2, wd)
        return (np.stack(ys, axis=1) * coef).sum() + (c * coef[:, 0]).sum()

    xa = nd.array(x)
    xa.attach_grad()
    with autograd.record():
        outs, (h, c) = cell.unroll(3, xa, merge_outputs=True)
        total = (outs * nd.array(coef)).sum() + (c * nd.array(coef[:, 0])).sum()
    total.backward()
    eps = 1e-6
    for name, p in cell.collect_params().items():
        key = name[len(cell.prefix):]
        num = np.zeros_like(w[key])
        for idx in np.ndindex(num.shape):
            hi, lo = dict(w), dict(w)
            hi[key] = w[key].copy()
            lo[key] = w[key].copy()
            hi[key][idx] += eps
            lo[key][idx] -= eps
            num[idx] = (loss(hi, x) - loss(lo, x)) / (2 * eps)
        close(p.grad(), num, 1e-4)
    num = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        hi, lo = x.copy(), x.copy()
        hi[idx] += eps
        lo[idx] -= eps
        num[idx] = (loss(w, hi) - loss(w, lo)) / (2 * eps)
    close(xa.grad, num, 1e-4)


def test_bidirectional_layer_gradients_match_finite_differences(rng):
    layer = rnn.GRU(2, bidirectional=True, input_size=2)
    layer.initialize()
    w = randomize(layer, rng, scale=1.0)
    x = arr(rng, 2, 1, 2).astype(np.float64)
    coef = rng.uniform(-1, 1, (2, 1, 4))

    def loss(wd):
        out, _ = np_layer("gru", x, [np.zeros((2, 1, 2))], wd, 1, 2)
        return (out * coef).sum()
    with autograd.record():
        total = (layer(nd.array(x)) * nd.array(coef)).sum()
    total.backward()
    eps = 1e-6
    for name, p in layer.collect_params().items():
        key = name[len(layer.prefix):]
        num = np.zeros_like(w[key])
        for idx in np.ndindex(num.shape):
            hi, lo = dict(w), dict(w)
            hi[key] = w[key].copy()
            lo[key] = w[key].copy()
            hi[key][idx] += eps
            lo[key][idx] -= eps
            num[idx] = (loss(hi) - loss(lo)) / (2 * eps)
        close(p.grad(), num, 1e-4)


# ---------------------------------------------------------------- errors


def test_cell_errors():
    cell = rnn.LSTMCell(3, input_size=4, prefix="enc_")
    cell.initialize()
    with pytest.raises(ShapeError, match=r"enc.*\(2, 5\).*input_size=4"):
        cell(nd.ones((2, 5)), cell.begin_state(batch_size=2))
    with pytest.raises(GraphccError, match="2 state"):
        cell(nd.ones((2, 4)), [nd.zeros((2, 3))])
    with pytest.raises(ShapeError, match=r"state 1 has shape \(2, 4\)"):
        cell(nd.ones((2, 4)), [nd.zeros((2, 3)), nd.zeros((2, 4))])
    with pytest.raises(ShapeError, match="length=3"):
        cell.unroll(3, nd.ones((2, 5, 4)))
    with pytest.raises(GraphccError, match="layout"):
        cell.unroll(3, nd.ones((2, 3, 4)), layout="CTN")
    deferred = rnn.GRUCell(2)
    deferred.initialize()
    deferred(nd.ones((1, 3)), deferred.begin_state(batch_size=1))
    with pytest.raises(MXNetError, match="input_size=3"):
        deferred(nd.ones((1, 6)), deferred.begin_state(batch_size=1))


def test_layer_errors():
    layer = rnn.LSTM(3, input_size=4, prefix="dec_")
    layer.initialize()
    with pytest.raises(ShapeError, match=r"dec.*3-D"):
        layer(nd.ones((2, 4)))
    with pytest.raises(ShapeError, match=r"dec.*5 features.*input_size=4"):
        layer(nd.ones((3, 2, 5)))
    with pytest.raises(ShapeError, match=r"Invalid recurrent state shape. Expecting \(1, 2, 3\)"):
        layer(nd.ones((3, 2, 4)), [nd.zeros((1, 3, 3)), nd.zeros((1, 2, 3))])
    with pytest.raises(GraphccError, match="2 state"):
        layer(nd.ones((3, 2, 4)), nd.zeros((1, 2, 3)))
    with pytest.raises(GraphccError, match="layout"):
        rnn.GRU(3, layout="NCT")
    with pytest.raises(GraphccError, match="activation"):
        rnn.RNN(3, activation="sigmoid")
    gru = rnn.GRU(2)
    gru.initialize()
    gru(nd.ones((2, 1, 3)))
    with pytest.raises(ShapeError, match="input_size=3"):
        gru(nd.ones((2, 1, 4)))


# ---------------------------------------------------------------- hybridization


def _traced(net, *arrays):
    """Trace ``net`` as hybridize does and run the resulting single graph in the reference
    interpreter: the layers must be expressible with graph ops alone."""
    from graphcc.frontend.symbol import to_graph, typed_var
    from graphcc.frontend.trace import Trace, tracing
    from graphcc.ir.interp import interpret
    with tracing(Trace("hybridize")):
        vs = [typed_var(f"data{i}", a._type) for i, a in enumerate(arrays)]
        out = net(*vs)
    flat = []
    for o in (out if isinstance(out, (list, tuple)) else [out]):
        flat.extend(o if isinstance(o, list) else [o])
    g, variables = to_graph(flat, vs)
    data_nodes = [v._nodes[0] for v in vs]
    vals = []
    for v in variables:
        if v.role == "param":
            vals.append(v.param.data().asnumpy())
        elif v.role == "const":
            vals.append(v.value.asnumpy())
        else:
            vals.append(arrays[data_nodes.index(v)].asnumpy())
    return interpret(g, vals)


class _WithStates(mx.gluon.HybridBlock):
    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def hybrid_forward(self, F, x, *states):
        out, new = self.layer(x, list(states))
        return [out] + new


class _CellLoop(mx.gluon.HybridBlock):
    def __init__(self, cell):
        super().__init__()
        self.cell = cell

    def hybrid_forward(self, F, x):
        outs, states = self.cell.unroll(3, x, layout="NTC", merge_outputs=True)
        return [outs] + states


def test_layers_and_cells_trace_into_one_graph(rng):
    layer = rnn.LSTM(3, num_layers=2, bidirectional=True, layout="NTC")
    layer.initialize()
    x = nd.array(arr(rng, 2, 3, 4))
    want = layer(x)
    close(_traced(layer, x)[0], want.asnumpy())
    states = [nd.array(arr(rng, 4, 2, 3)) for _ in range(2)]
    want = _WithStates(layer)(x, *states)
    for got, ref in zip(_traced(_WithStates(layer), x, *states), want):
        close(got, ref.asnumpy())
    seq = rnn.HybridSequentialRNNCell()
    seq.add(rnn.GRUCell(3))
    seq.add(rnn.ResidualCell(rnn.RNNCell(3)))
    seq.initialize()
    want = _CellLoop(seq)(x)
    for got, ref in zip(_traced(_CellLoop(seq), x), want):
        close(got, ref.asnumpy())


@pytest.mark.skipif(importlib.util.find_spec("graphcc.frontend.cached") is None,
                    reason="hybridize (frontend/cached.py) has not landed")
def test_hybridize_layer_and_cell_loop(rng):
    layer = rnn.GRU(3, num_layers=2, bidirectional=True)
    layer.initialize()
    x = nd.array(arr(rng, 3, 2, 4))
    want = layer(x).asnumpy()
    states = layer.begin_state(2)
    want_out, want_states = layer(x, states)
    layer.hybridize()
    close(layer(x), want)
    out, new = layer(x, states)
    close(out, want_out.asnumpy())
    close(new[0], want_states[0].asnumpy())
    loop = _CellLoop(rnn.LSTMCell(3))
    loop.initialize()
    x = nd.array(arr(rng, 2, 3, 4))
    want = [a.asnumpy() for a in loop(x)]
    loop.hybridize()
    for got, ref in zip(loop(x), want):
        close(got, ref)
