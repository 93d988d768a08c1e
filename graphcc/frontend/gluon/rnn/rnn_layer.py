"""Recurrent layers ``RNN``, ``LSTM``, ``GRU`` (MXNet 1.x ``gluon.rnn``), multi-layer and
bidirectional, with MXNet's fused-layer parameter names (``l0_i2h_weight`` ... ``r0_h2h_bias``).

There is no fused RNN op: ``hybrid_forward`` unrolls the cell math of rnn_cell.rnn_step over
time with F ops. Per layer and direction the input projection of every step is one
FullyConnected over the whole (T, N, C) sequence, split along time; each step then adds the
h2h projection of the previous state. The reverse direction walks the steps backwards and
reverses its outputs back into time order. A hybridized layer therefore traces into one graph
of T * layers * directions small steps; the sequence length must be known when tracing.

States follow MXNet's fused layout: (num_layers * directions, N, H), layer-major, forward
direction first.
"""
from __future__ import annotations

import re

from ....errors import GraphccError, ShapeError
from ... import nd as _nd
from ..block import HybridBlock
from . import rnn_cell, rnn_containers
from .rnn_cell import GATES, _as_list, known_shape, rnn_step, tensor_types

__all__ = ["RNN", "LSTM", "GRU"]


class _RNNLayer(HybridBlock):
    """The shared implementation of RNN, LSTM and GRU."""

    def __init__(self, hidden_size, num_layers, layout, dropout, bidirectional, input_size,
                 i2h_weight_initializer, h2h_weight_initializer, i2h_bias_initializer,
                 h2h_bias_initializer, mode, projection_size, h2r_weight_initializer,
                 lstm_state_clip_min, lstm_state_clip_max, lstm_state_clip_nan, dtype,
                 use_sequence_length=False, **kwargs):
        super().__init__(**kwargs)
        if layout not in ("TNC", "NTC"):
            raise GraphccError(f"Invalid layout {layout}; must be one of ['TNC' or 'NTC']")
        if mode not in GATES:
            raise GraphccError(f"{type(self).__name__}: unknown activation/mode {mode!r} "
                               "(RNN takes activation='relu' or 'tanh')")
        self._hidden_size = hidden_size
        self._projection_size = projection_size if projection_size else None
        self._num_layers = num_layers
        self._mode = mode
        self._layout = layout
        self._dropout = dropout
        self._dir = 2 if bidirectional else 1
        self._input_size = input_size
        self._i2h_weight_initializer = i2h_weight_initializer
        self._h2h_weight_initializer = h2h_weight_initializer
        self._i2h_bias_initializer = i2h_bias_initializer
        self._h2h_bias_initializer = h2h_bias_initializer
        self._h2r_weight_initializer = h2r_weight_initializer
        self._lstm_state_clip_min = lstm_state_clip_min
        self._lstm_state_clip_max = lstm_state_clip_max
        self._lstm_state_clip_nan = lstm_state_clip_nan
        self._dtype = dtype
        self._use_sequence_length = use_sequence_length
        self.skip_states = None
        self._gates = GATES[mode]

        ng, ni, nh = self._gates, input_size, hidden_size
        nr = self._projection_size or nh         # what the recurrence feeds back
        for i in range(num_layers):
            for j in ["l", "r"][:self._dir]:
                self._register_param(f"{j}{i}_i2h_weight", (ng * nh, ni),
                                     i2h_weight_initializer, dtype)
                self._register_param(f"{j}{i}_h2h_weight", (ng * nh, nr),
                                     h2h_weight_initializer, dtype)
                self._register_param(f"{j}{i}_i2h_bias", (ng * nh,), i2h_bias_initializer,
                                     dtype)
                self._register_param(f"{j}{i}_h2h_bias", (ng * nh,), h2h_bias_initializer,
                                     dtype)
                if self._projection_size:
                    self._register_param(f"{j}{i}_h2r_weight", (nr, nh),
                                         h2r_weight_initializer, dtype)
            ni = nr * self._dir

    def _register_param(self, name, shape, init, dtype):
        p = self.params.get(name, shape=shape, init=init, allow_deferred_init=True, dtype=dtype)
        setattr(self, name, p)
        return p

    def __repr__(self):
        s = f"{self.__class__.__name__}({{mapping}}, {self._layout}"
        if self._num_layers != 1:
            s += f", num_layers={self._num_layers}"
        if self._dropout != 0:
            s += f", dropout={self._dropout}"
        if self._dir == 2:
            s += ", bidirectional"
        s += ")"
        shape = self.l0_i2h_weight.shape
        mapping = f"{shape[1] if shape[1] else None} -> {shape[0] // self._gates}"
        return s.format(mapping=mapping)

    def _collect_params_with_prefix(self, prefix=""):
        """MXNet's save_parameters keys for fused layers: ``_unfused.0.i2h_weight`` or, when
        bidirectional, ``_unfused.0.l_cell.i2h_weight`` (so files load in either library)."""
        if prefix:
            prefix += "."
        pattern = re.compile(r"(l|r)(\d)_(i2h|h2h|h2r)_(weight|bias)\Z")

        def convert_key(m, bidirectional):
            d, l, g, t = [m.group(i) for i in range(1, 5)]
            if bidirectional:
                return f"_unfused.{l}.{d}_cell.{g}_{t}"
            return f"_unfused.{l}.{g}_{t}"
        bidirectional = any(pattern.match(k).group(1) == "r" for k in self._reg_params)
        ret = {prefix + convert_key(pattern.match(key), bidirectional): val
               for key, val in self._reg_params.items()}
        for name, child in self._children.items():
            ret.update(child._collect_params_with_prefix(prefix + name))
        return ret

    def state_info(self, batch_size=0):
        raise NotImplementedError

    def _unfuse(self):
        """The same network as a stack of cells sharing this layer's parameters."""
        if self._projection_size or self._lstm_state_clip_min or self._lstm_state_clip_max:
            raise GraphccError("_unfuse does not support projection or state clipping")

        def get_cell(**kwargs):
            if self._mode.startswith("rnn_"):
                return rnn_cell.RNNCell(self._hidden_size, activation=self._mode[4:], **kwargs)
            cls = {"lstm": rnn_cell.LSTMCell, "gru": rnn_cell.GRUCell}[self._mode]
            return cls(self._hidden_size, **kwargs)
        stack = rnn_containers.HybridSequentialRNNCell(prefix=self.prefix, params=self.params)
        with stack.name_scope():
            ni = self._input_size
            for i in range(self._num_layers):
                kwargs = {"input_size": ni,
                          "i2h_weight_initializer": self._i2h_weight_initializer,
                          "h2h_weight_initializer": self._h2h_weight_initializer,
                          "i2h_bias_initializer": self._i2h_bias_initializer,
                          "h2h_bias_initializer": self._h2h_bias_initializer}
                if self._dir == 2:
                    stack.add(rnn_containers.BidirectionalCell(
                        get_cell(prefix=f"l{i}_", **kwargs), get_cell(prefix=f"r{i}_", **kwargs)))
                else:
                    stack.add(get_cell(prefix=f"l{i}_", **kwargs))
                if self._dropout > 0 and i != self._num_layers - 1:
                    stack.add(rnn_containers.DropoutCell(self._dropout))
                ni = self._hidden_size * self._dir
        return stack

    def cast(self, dtype):
        super().cast(dtype)
        self._dtype = dtype

    def begin_state(self, batch_size=0, func=_nd.zeros, **kwargs):
        """Initial states, each of shape (num_layers * directions, batch_size, hidden)."""
        states = []
        for i, info in enumerate(self.state_info(batch_size)):
            if info is not None:
                info.update(kwargs)
            else:
                info = kwargs
            states.append(func(name=f"{self.prefix}h0_{i}", **info))
        return states

    def __call__(self, inputs, states=None, sequence_length=None, **kwargs):
        self.skip_states = states is None
        if isinstance(states, tensor_types):
            states = [states]
        if self._use_sequence_length:
            return super().__call__(inputs, states, sequence_length, **kwargs)
        if sequence_length is not None:
            raise GraphccError(f"{self.name}: sequence_length is only accepted by a layer "
                               "created with use_sequence_length=True")
        return super().__call__(inputs, states, **kwargs)

    # ------------------------------------------------------------ the unrolled graph
    def _check(self, inputs, states):
        """Input and state shapes in the layer's terms; returns (T, N)."""
        shape = known_shape(inputs)
        if shape is None:
            raise ShapeError(f"{self.name}: the shape of the input must be known to unroll the "
                             "layer over time (there is no fused RNN op); give the input "
                             "shape")
        if len(shape) != 3:
            raise ShapeError(f"{self.name}: expected a 3-D input in layout {self._layout}, "
                             f"got shape {shape}")
        t_len, batch = shape[self._layout.find("T")], shape[self._layout.find("N")]
        expect = self.l0_i2h_weight.shape[1]
        if expect and shape[2] != expect:
            raise ShapeError(f"{self.name}: input of shape {shape} ({self._layout}) has "
                             f"{shape[2]} features but the layer expects input_size={expect} "
                             f"(l0_i2h_weight {self.l0_i2h_weight.shape})")
        if states is not None:
            info = self.state_info(batch)
            if len(states) != len(info):
                raise GraphccError(f"{self.name}: expected {len(info)} state array(s) (see "
                                   f"begin_state()), got {len(states)}")
            for s, i in zip(states, info):
                s_shape = known_shape(s)
                if s_shape is not None and s_shape != i["shape"]:
                    raise ShapeError(f"Invalid recurrent state shape. Expecting {i['shape']}, "
                                     f"got {s_shape}.")
        return t_len, batch

    def hybrid_forward(self, F, inputs, states=None, sequence_length=None, **params):
        t_len, batch = self._check(inputs, states)
        if self._layout == "NTC":
            inputs = F.swapaxes(inputs, dim1=0, dim2=1)
        n_states = 2 if self._mode == "lstm" else 1
        n_slots = self._num_layers * self._dir
        if states is None:
            # zeros of shape (batch, size) computed from the input, so that an exported graph
            # keeps the batch size free: (1, N, C) -> (N, C) -> (N, 1) zeros -> (N, size)
            first = F.reshape(F.slice_axis(inputs, axis=0, begin=0, end=1), shape=(-3, 0))
            zero_col = F.zeros_like(F.slice_axis(first, axis=1, begin=0, end=1))
            sizes = [self._projection_size or self._hidden_size, self._hidden_size]
            begin = [[F.broadcast_axis(zero_col, axis=1, size=sizes[k])] * n_slots
                     for k in range(n_states)]
        else:
            begin = [_as_list(F.split(s, num_outputs=n_slots, axis=0, squeeze_axis=True))
                     for s in states]
        x = inputs
        finals = [[] for _ in range(n_states)]
        for layer in range(self._num_layers):
            outs = []
            for d, tag in enumerate(["l", "r"][:self._dir]):
                slot = layer * self._dir + d
                p = {k: params[f"{tag}{layer}_{k}"] for k in
                     ("i2h_weight", "h2h_weight", "i2h_bias", "h2h_bias", "h2r_weight")
                     if f"{tag}{layer}_{k}" in params}
                out, last = self._unroll_direction(F, x, [b[slot] for b in begin], p, t_len,
                                                   sequence_length, reverse=d == 1,
                                                   prefix=f"{tag}{layer}_")
                outs.append(out)
                for k in range(n_states):
                    finals[k].append(last[k])
            x = outs[0] if self._dir == 1 else F.concat(*outs, dim=2)
            if self._dropout and layer != self._num_layers - 1:
                x = F.Dropout(x, p=self._dropout)
        if self._layout == "NTC":
            x = F.swapaxes(x, dim1=0, dim2=1)
        if states is None:
            return x
        return x, [F.stack(*f, axis=0) for f in finals]

    def _unroll_direction(self, F, x, states, p, t_len, sequence_length, reverse, prefix):
        """One layer, one direction over the (T, N, C) sequence ``x``: returns its (T, N, H)
        outputs in time order and its final states."""
        rows = self._gates * self._hidden_size
        if reverse and sequence_length is not None:
            x = F.SequenceReverse(x, sequence_length=sequence_length, use_sequence_length=True)
        i2h = F.FullyConnected(x, p["i2h_weight"], p["i2h_bias"], num_hidden=rows,
                               flatten=False, name=prefix + "i2h")
        steps = _as_list(F.split(i2h, num_outputs=t_len, axis=0, squeeze_axis=True))
        if reverse and sequence_length is None:
            steps = steps[::-1]
        outputs, history = [], []
        for t, i2h_t in enumerate(steps):
            h2h = F.FullyConnected(states[0], p["h2h_weight"], p["h2h_bias"], num_hidden=rows,
                                   name=f"{prefix}t{t}_h2h")
            out, states = rnn_step(F, self._mode, i2h_t, h2h, states, prefix=f"{prefix}t{t}_",
                                   clip=self._clip())
            if self._mode == "lstm":
                out, states = self._lstm_extras(F, out, states, p)
            outputs.append(out)
            if sequence_length is not None:
                history.append(states)
        if sequence_length is not None:
            out = F.SequenceMask(F.stack(*outputs, axis=0), sequence_length=sequence_length,
                                 use_sequence_length=True)
            if reverse:
                out = F.SequenceReverse(out, sequence_length=sequence_length,
                                        use_sequence_length=True)
            last = [F.SequenceLast(F.stack(*ele, axis=0), sequence_length=sequence_length,
                                   use_sequence_length=True) for ele in zip(*history)]
            return out, last
        if reverse:
            outputs = outputs[::-1]
        return F.stack(*outputs, axis=0), states

    def _clip(self):
        lo, hi = self._lstm_state_clip_min, self._lstm_state_clip_max
        if lo is None or hi is None:
            return None
        return float(lo), float(hi)

    def _lstm_extras(self, F, out, states, p):
        """The projection ``r = W_hr h`` of LSTMP: r is the output and the fed-back state."""
        if self._projection_size:
            out = F.FullyConnected(out, p["h2r_weight"], no_bias=True,
                                   num_hidden=self._projection_size)
        return out, [out, states[1]]


class RNN(_RNNLayer):
    """Multi-layer Elman RNN with tanh or ReLU: ``h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} +
    b_hh)``. Input (T, N, C) for layout 'TNC'; states [(layers * dirs, N, H)]."""

    def __init__(self, hidden_size, num_layers=1, activation="relu", layout="TNC", dropout=0,
                 bidirectional=False, i2h_weight_initializer=None, h2h_weight_initializer=None,
                 i2h_bias_initializer="zeros", h2h_bias_initializer="zeros", input_size=0,
                 dtype="float32", **kwargs):
        super().__init__(hidden_size, num_layers, layout, dropout, bidirectional, input_size,
                         i2h_weight_initializer, h2h_weight_initializer, i2h_bias_initializer,
                         h2h_bias_initializer, "rnn_" + str(activation), None, None, None,
                         None, False, dtype, **kwargs)

    def state_info(self, batch_size=0):
        return [{"shape": (self._num_layers * self._dir, batch_size, self._hidden_size),
                 "__layout__": "LNC", "dtype": self._dtype}]


class LSTM(_RNNLayer):
    """Multi-layer LSTM (gates i, f, c, o); states [h, c], each (layers * dirs, N, H)."""

    def __init__(self, hidden_size, num_layers=1, layout="TNC", dropout=0, bidirectional=False,
                 input_size=0, i2h_weight_initializer=None, h2h_weight_initializer=None,
                 i2h_bias_initializer="zeros", h2h_bias_initializer="zeros",
                 projection_size=None, h2r_weight_initializer=None, state_clip_min=None,
                 state_clip_max=None, state_clip_nan=False, dtype="float32", **kwargs):
        super().__init__(hidden_size, num_layers, layout, dropout, bidirectional, input_size,
                         i2h_weight_initializer, h2h_weight_initializer, i2h_bias_initializer,
                         h2h_bias_initializer, "lstm", projection_size, h2r_weight_initializer,
                         state_clip_min, state_clip_max, state_clip_nan, dtype, **kwargs)

    def state_info(self, batch_size=0):
        h = self._projection_size or self._hidden_size
        return [{"shape": (self._num_layers * self._dir, batch_size, h),
                 "__layout__": "LNC", "dtype": self._dtype},
                {"shape": (self._num_layers * self._dir, batch_size, self._hidden_size),
                 "__layout__": "LNC", "dtype": self._dtype}]


class GRU(_RNNLayer):
    """Multi-layer GRU (cuDNN variant, gates r, z, n); states [(layers * dirs, N, H)]."""

    def __init__(self, hidden_size, num_layers=1, layout="TNC", dropout=0, bidirectional=False,
                 input_size=0, i2h_weight_initializer=None, h2h_weight_initializer=None,
                 i2h_bias_initializer="zeros", h2h_bias_initializer="zeros", dtype="float32",
                 **kwargs):
        super().__init__(hidden_size, num_layers, layout, dropout, bidirectional, input_size,
                         i2h_weight_initializer, h2h_weight_initializer, i2h_bias_initializer,
                         h2h_bias_initializer, "gru", None, None, None, None, False, dtype,
                         **kwargs)

    def state_info(self, batch_size=0):
        return [{"shape": (self._num_layers * self._dir, batch_size, self._hidden_size),
                 "__layout__": "LNC", "dtype": self._dtype}]
