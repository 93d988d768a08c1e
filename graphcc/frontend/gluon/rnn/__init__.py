"""``gluon.rnn``: recurrent cells and layers (MXNet 1.x)."""
from .rnn_cell import (GRUCell, HybridRecurrentCell, LSTMCell, RecurrentCell,  # noqa: F401
                       RNNCell)
from .rnn_containers import (BidirectionalCell, DropoutCell,  # noqa: F401
                             HybridSequentialRNNCell, ModifierCell, ResidualCell,
                             SequentialRNNCell, ZoneoutCell)
from .rnn_layer import GRU, LSTM, RNN  # noqa: F401
