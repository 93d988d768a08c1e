"""Produces MX_VALUES in tests/test_gluon_rnn.py: outputs and final states of MXNet 1.9.1's
fused RNN/LSTM/GRU layers (CPU kernel) for deterministic weights, inputs and begin states, to
pin down state ordering, direction handling, projection and state clipping. Run under MXNet:
    mxv/bin/python tests/mxnet_ref/rnn_values.py
Parameter k (in collect_params() order) of n elements is sin(0.7 * arange(n) + k) * 0.4; the
input is cos(0.3 * arange(size)); state j is sin(0.5 * arange(size) + 1 + j) * 0.3.
"""
import numpy as np
from mxnet import nd

CASES = [
    "rnn.RNN(2, num_layers=2, bidirectional=True, activation='relu')",
    "rnn.RNN(2, activation='tanh', layout='NTC')",
    "rnn.LSTM(2, num_layers=2, bidirectional=True, layout='NTC')",
    "rnn.GRU(2, num_layers=2, bidirectional=True)",
    "rnn.LSTM(3, projection_size=2)",
]
# Not here: state_clip_min/max. MXNet's CPU kernel ignores them (only cuDNN clips), so graphcc
# follows the documented, cuDNN behaviour and the tests check clipping against NumPy instead.


def fill(net, shape):
    net.initialize()
    x = nd.array(np.cos(0.3 * np.arange(np.prod(shape))).reshape(shape))
    net(x)      # finish deferred initialisation
    for k, p in enumerate(net.collect_params().values()):
        n = int(np.prod(p.shape))
        p.set_data(nd.array((np.sin(0.7 * np.arange(n) + k) * 0.4).reshape(p.shape)))
    return x


def short(a):
    return np.vectorize(lambda v: float("%.6g" % v))(a.asnumpy().astype(np.float64)).tolist()


for expr in CASES:
    net = eval(expr)
    shape = (3, 2, 3) if net._layout == "TNC" else (2, 3, 3)
    x = fill(net, shape)
    info = net.state_info(2)
    states = [nd.array((np.sin(0.5 * np.arange(np.prod(i["shape"])) + 1 + j) * 0.3)
                       .reshape(i["shape"])) for j, i in enumerate(info)]
    out, new = net(x, states)
    print((expr, short(out), [short(s) for s in new]), ",")
