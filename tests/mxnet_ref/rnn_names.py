"""Produces MX_NAMES in tests/test_gluon_rnn.py: the parameter names and shapes (after a
forward pass, so deferred shapes are filled), save_parameters keys, reprs and state shapes that
MXNet 1.9.1 reports for a few gluon.rnn configurations. Run under MXNet 1.9.1:
    python -m venv mxv && mxv/bin/pip install mxnet==1.9.1 numpy==1.23.5
    mxv/bin/python tests/mxnet_ref/rnn_names.py
"""
from mxnet import nd
from mxnet.gluon import rnn

CASES = [
    ("rnn.RNNCell(5, input_size=3)", (2, 3)),
    ("rnn.LSTMCell(4)", (2, 3)),
    ("rnn.GRUCell(6, input_size=2)", (2, 2)),
    ("rnn.RNN(5, activation='tanh')", (4, 2, 3)),
    ("rnn.LSTM(4, num_layers=2, input_size=3)", (4, 2, 3)),
    ("rnn.GRU(3, num_layers=2, bidirectional=True, layout='NTC')", (2, 4, 5)),
    ("rnn.LSTM(2, bidirectional=True)", (4, 2, 3)),
]


def layer_case(expr, shape):
    net = eval(expr)
    net.initialize()
    x = nd.ones(shape)
    if isinstance(net, rnn.HybridRecurrentCell):
        out, states = net(x, net.begin_state(batch_size=shape[0]))
    else:
        out, states = net(x, net.begin_state(batch_size=shape[1 if net._layout == 'TNC' else 0]))
    params = [(k[len(net.prefix):], v.shape) for k, v in net.collect_params().items()]
    keys = sorted(net._collect_params_with_prefix().keys())
    print((expr, shape, params, keys, repr(net), out.shape, [s.shape for s in states]), ",")


for expr, shape in CASES:
    layer_case(expr, shape)


def make_container(kind):
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


# Containers and modifiers (print CONTAINERS): names, prefix, repr, unroll output shapes.
for kind in ["seq", "bi", "zoneout", "residual"]:
    net = make_container(kind)
    net.initialize()
    outs, states = net.unroll(4, nd.ones((2, 4, 3)), layout="NTC", merge_outputs=True)
    print((kind, net.prefix, [(k, v.shape) for k, v in net.collect_params().items()],
           repr(net), outs.shape, [s.shape for s in states]), ",")
