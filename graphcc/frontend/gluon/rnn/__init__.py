"""``gluon.rnn``: recurrent cells and layers (MXNet 1.x)."""
from .rnn_cell import (BidirectionalCell, DropoutCell, GRUCell, HybridRecurrentCell,  # noqa
                       HybridSequentialRNNCell, LSTMCell, ModifierCell, RecurrentCell,
                       ResidualCell, RNNCell, SequentialRNNCell, ZoneoutCell)
from .rnn_layer import GRU, LSTM, RNN  # noqa: F401
