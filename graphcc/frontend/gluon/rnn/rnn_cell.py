"""Recurrent cells (MXNet 1.x ``gluon.rnn``): one time step per call, ``unroll`` for a sequence.

Cells: ``RNNCell``, ``LSTMCell`` (gates i, f, c, o), ``GRUCell`` (gates r, z, n; the h2h bias sits
inside the reset product, as in cuDNN and MXNet), on the base classes ``RecurrentCell`` and
``HybridRecurrentCell``. The containers and modifiers (``SequentialRNNCell``,
``HybridSequentialRNNCell``, ``DropoutCell``, ``ModifierCell``, ``ZoneoutCell``,
``ResidualCell``, ``BidirectionalCell``) are in rnn_containers.py. The gate math lives in
``rnn_step`` so that the layers in rnn_layer.py unroll exactly the same F ops. Everything goes
through ``F`` so a hybridized parent traces the steps into its graph unchanged.
"""
from __future__ import annotations

from ....errors import GraphccError, ShapeError
from ... import nd as _nd
from ... import sym as _sym
from ...ndarray import NDArray
from ...symbol import Symbol
from ..block import Block, HybridBlock

__all__ = ["RecurrentCell", "HybridRecurrentCell", "RNNCell", "LSTMCell", "GRUCell"]

tensor_types = (Symbol, NDArray)
GATES = {"rnn_relu": 1, "rnn_tanh": 1, "lstm": 4, "gru": 3}


# ---------------------------------------------------------------- shared helpers


def _as_list(x):
    if isinstance(x, (list, tuple)):
        return list(x)
    if isinstance(x, Symbol) and len(x.list_outputs()) > 1:     # a group of outputs
        return list(x)
    return [x]


def known_shape(x):
    """The shape of an array or traced array, or None when it is not known yet."""
    try:
        return tuple(x.shape)
    except GraphccError:
        return None


def _f_of(x):
    return _sym if isinstance(x, Symbol) else _nd


def rnn_step(F, mode, i2h, h2h, states, activation=None, recurrent_activation=None,
             prefix="", clip=None):
    """One step of the recurrence from the two projections ``i2h = W_ih x + b_ih`` and
    ``h2h = W_hh h + b_hh`` (both (N, gates * H)); returns ``(output, new_states)``.
    ``clip=(lo, hi)`` clips the LSTM cell state (the layers' state_clip_min/max)."""
    if mode in ("rnn_relu", "rnn_tanh"):
        act = activation or mode[4:]
        out = _activate(F, F.elemwise_add(i2h, h2h, name=prefix + "plus0"), act,
                        name=prefix + "out")
        return out, [out]
    if mode == "lstm":
        act, rec = activation or "tanh", recurrent_activation or "sigmoid"
        gates = F.elemwise_add(i2h, h2h, name=prefix + "plus0")
        g = F.SliceChannel(gates, num_outputs=4, name=prefix + "slice")
        in_gate = _activate(F, g[0], rec, name=prefix + "i")
        forget_gate = _activate(F, g[1], rec, name=prefix + "f")
        in_transform = _activate(F, g[2], act, name=prefix + "c")
        out_gate = _activate(F, g[3], rec, name=prefix + "o")
        next_c = F.elemwise_add(F.elemwise_mul(forget_gate, states[1], name=prefix + "mul0"),
                                F.elemwise_mul(in_gate, in_transform, name=prefix + "mul1"),
                                name=prefix + "state")
        if clip is not None:
            next_c = F.clip(next_c, clip[0], clip[1])
        next_h = F.elemwise_mul(out_gate, _activate(F, next_c, act, name=prefix + "activation0"),
                                name=prefix + "out")
        return next_h, [next_h, next_c]
    if mode == "gru":
        prev_h = states[0]
        i2h_r, i2h_z, i2h_n = F.SliceChannel(i2h, num_outputs=3, name=prefix + "i2h_slice")
        h2h_r, h2h_z, h2h_n = F.SliceChannel(h2h, num_outputs=3, name=prefix + "h2h_slice")
        reset_gate = F.sigmoid(F.elemwise_add(i2h_r, h2h_r, name=prefix + "plus0"),
                               name=prefix + "r_act")
        update_gate = F.sigmoid(F.elemwise_add(i2h_z, h2h_z, name=prefix + "plus1"),
                                name=prefix + "z_act")
        new_h = F.tanh(F.elemwise_add(i2h_n, F.elemwise_mul(reset_gate, h2h_n,
                                                            name=prefix + "mul0"),
                                      name=prefix + "plus2"), name=prefix + "h_act")
        ones = F.ones_like(update_gate)   # (nd.ones_like does not take name= yet)
        next_h = F.elemwise_add(
            F.elemwise_mul(F.elemwise_sub(ones, update_gate, name=prefix + "minus0"), new_h,
                           name=prefix + "mul1"),
            F.elemwise_mul(update_gate, prev_h, name=prefix + "mul20"), name=prefix + "out")
        return next_h, [next_h]
    raise GraphccError(f"unknown recurrent mode {mode!r}")


def _activate(F, x, activation, **kwargs):
    """An activation given by name, as a block (LeakyReLU...) or as a callable."""
    func = {"tanh": F.tanh, "relu": F.relu, "sigmoid": F.sigmoid,
            "softsign": F.softsign}.get(activation)
    if func:
        return func(x, **kwargs)
    if isinstance(activation, str):
        return F.Activation(x, act_type=activation, **kwargs)
    if isinstance(activation, Block):
        return activation(x)
    return activation(x, **kwargs)


def _get_begin_state(cell, F, begin_state, inputs, batch_size):
    if begin_state is None:
        if F is _nd:
            ctx = inputs.context if isinstance(inputs, tensor_types) else inputs[0].context
            with ctx:
                begin_state = cell.begin_state(func=F.zeros, batch_size=batch_size)
        else:
            begin_state = cell.begin_state(func=F.zeros, batch_size=batch_size)
    return begin_state


def _format_sequence(length, inputs, layout, merge, in_layout=None):
    """Bring ``inputs`` (one tensor or a list of per-step tensors) to the form ``merge`` asks
    for: a list of (N, ...) steps (False), one tensor in ``layout`` (True), or as given (None).
    Returns (inputs, time axis, F, batch size)."""
    if inputs is None:
        raise GraphccError("unroll(inputs=None) has been deprecated. Please create input "
                           "variables outside unroll.")
    if layout not in ("NTC", "TNC"):
        raise GraphccError(f"Invalid layout {layout!r}; must be one of ['TNC' or 'NTC']")
    axis = layout.find("T")
    batch_axis = layout.find("N")
    batch_size = 0
    in_axis = in_layout.find("T") if in_layout is not None else axis
    if isinstance(inputs, tensor_types):
        F = _f_of(inputs)
        shape = known_shape(inputs)
        if shape is not None:
            if len(shape) < 2:
                raise ShapeError(f"unroll: inputs of shape {shape} have no time axis; expected "
                                 f"a {layout} tensor")
            batch_size = shape[batch_axis]
            if length is not None and length != shape[in_axis]:
                raise ShapeError(f"unroll: length={length} but the inputs of shape {shape} "
                                 f"have {shape[in_axis]} steps along axis {in_axis} ({layout})")
        if merge is False:
            n = shape[in_axis] if shape is not None else length
            inputs = _as_list(F.split(inputs, axis=in_axis, num_outputs=n, squeeze_axis=1))
    else:
        inputs = list(inputs)
        if length is not None and len(inputs) != length:
            raise ShapeError(f"unroll: length={length} but {len(inputs)} input steps were given")
        F = _f_of(inputs[0])
        shape = known_shape(inputs[0])
        if shape is not None:
            batch_size = shape[0]
        if merge is True:
            inputs = F.stack(*inputs, axis=axis)
            in_axis = axis
    if isinstance(inputs, tensor_types) and axis != in_axis:
        inputs = F.swapaxes(inputs, dim1=axis, dim2=in_axis)
    return inputs, axis, F, batch_size


def _mask_sequence_variable_length(F, data, length, valid_length, time_axis, merge):
    if not isinstance(data, tensor_types):
        data = F.stack(*data, axis=time_axis)
    outputs = F.SequenceMask(data, sequence_length=valid_length, use_sequence_length=True,
                             axis=time_axis)
    if not merge:
        outputs = _as_list(F.split(outputs, num_outputs=length, axis=time_axis,
                                   squeeze_axis=True))
    return outputs


def _check_not_modified(cell):
    if cell._modified:
        raise GraphccError("After applying modifier cells (e.g. ZoneoutCell) the base cell "
                           "cannot be called directly. Call the modifier cell instead.")


# ---------------------------------------------------------------- base classes


class RecurrentCell(Block):
    """Base class of recurrent cells: ``cell(x_t, states) -> (output, new_states)``."""

    def __init__(self, prefix=None, params=None):
        super().__init__(prefix=prefix, params=params)
        self._modified = False
        self.reset()

    def reset(self):
        """Reset before re-using the cell for another graph."""
        self._init_counter = -1
        self._counter = -1
        for cell in self._children.values():
            if isinstance(cell, RecurrentCell):
                cell.reset()

    def state_info(self, batch_size=0):
        """Shape and layout of each state."""
        raise NotImplementedError()

    def begin_state(self, batch_size=0, func=_nd.zeros, **kwargs):
        """Initial states made by ``func(name=..., shape=..., **kwargs)`` (default zeros)."""
        _check_not_modified(self)
        states = []
        for info in self.state_info(batch_size):
            self._init_counter += 1
            if info is not None:
                info.update(kwargs)
            else:
                info = kwargs
            states.append(func(name=f"{self._prefix}begin_state_{self._init_counter}", **info))
        return states

    def unroll(self, length, inputs, begin_state=None, layout="NTC", merge_outputs=None,
               valid_length=None):
        """Run the cell over ``length`` steps; returns (outputs, states). ``inputs`` is one
        tensor in ``layout`` or a list of (N, C) steps; outputs are a list of steps
        (``merge_outputs`` False or None) or one tensor in ``layout`` (True)."""
        self.reset()
        inputs, axis, F, batch_size = _format_sequence(length, inputs, layout, False)
        begin_state = _get_begin_state(self, F, begin_state, inputs, batch_size)
        states = begin_state
        outputs, all_states = [], []
        for i in range(length):
            output, states = self(inputs[i], states)
            outputs.append(output)
            if valid_length is not None:
                all_states.append(states)
        if valid_length is not None:
            states = [F.SequenceLast(F.stack(*ele, axis=0), sequence_length=valid_length,
                                     use_sequence_length=True, axis=0)
                      for ele in zip(*all_states)]
            outputs = _mask_sequence_variable_length(F, outputs, length, valid_length, axis,
                                                     True)
        outputs, _, _, _ = _format_sequence(length, outputs, layout, merge_outputs)
        return outputs, states

    def _get_activation(self, F, inputs, activation, **kwargs):
        return _activate(F, inputs, activation, **kwargs)

    def forward(self, inputs, states):
        """One time step."""
        self._counter += 1
        return super().forward(inputs, states)


class HybridRecurrentCell(RecurrentCell, HybridBlock):
    """A recurrent cell that can be hybridized."""

    def __init__(self, prefix=None, params=None):
        super().__init__(prefix=prefix, params=params)

    def hybrid_forward(self, F, x, *args, **kwargs):
        raise NotImplementedError


class _GatedCell(HybridRecurrentCell):
    """RNNCell, LSTMCell and GRUCell: i2h/h2h weights and biases, ``gates * hidden`` rows."""

    _mode = ""

    def __init__(self, hidden_size, i2h_weight_initializer, h2h_weight_initializer,
                 i2h_bias_initializer, h2h_bias_initializer, input_size, prefix, params):
        super().__init__(prefix=prefix, params=params)
        rows = GATES[self._mode] * hidden_size
        self._hidden_size = hidden_size
        self._input_size = input_size
        self.i2h_weight = self.params.get("i2h_weight", shape=(rows, input_size),
                                          init=i2h_weight_initializer, allow_deferred_init=True)
        self.h2h_weight = self.params.get("h2h_weight", shape=(rows, hidden_size),
                                          init=h2h_weight_initializer, allow_deferred_init=True)
        self.i2h_bias = self.params.get("i2h_bias", shape=(rows,), init=i2h_bias_initializer,
                                        allow_deferred_init=True)
        self.h2h_bias = self.params.get("h2h_bias", shape=(rows,), init=h2h_bias_initializer,
                                        allow_deferred_init=True)

    def state_info(self, batch_size=0):
        n = 2 if self._mode == "lstm" else 1
        return [{"shape": (batch_size, self._hidden_size), "__layout__": "NC"}
                for _ in range(n)]

    def __repr__(self):
        shape = self.i2h_weight.shape
        mapping = f"{shape[1] if shape[1] else None} -> {shape[0]}"
        return f"{self.__class__.__name__}({mapping})"

    def _check(self, inputs, states):
        """Wrong input or state sizes, in the cell's terms (before FullyConnected sees them)."""
        want = len(self.state_info())
        if not isinstance(states, (list, tuple)) or len(states) != want:
            got = len(states) if isinstance(states, (list, tuple)) else type(states).__name__
            raise GraphccError(f"{self.name}: expected a list of {want} state(s) "
                               f"(see begin_state()), got {got}")
        shape = known_shape(inputs)
        if shape is None:
            return
        if len(shape) < 2:
            raise ShapeError(f"{self.name}: input of shape {shape} must be (batch_size, "
                             "input_size)")
        size = 1
        for d in shape[1:]:
            size *= d
        expect = self.i2h_weight.shape[1] if self.i2h_weight.shape else 0
        if expect and size != expect:
            raise ShapeError(f"{self.name}: input of shape {shape} has {size} features but the "
                             f"cell expects input_size={expect} (i2h_weight "
                             f"{self.i2h_weight.shape})")
        for k, s in enumerate(states):
            s_shape = known_shape(s)
            if s_shape is not None and s_shape != (shape[0], self._hidden_size):
                raise ShapeError(f"{self.name}: state {k} has shape {s_shape}, expected "
                                 f"{(shape[0], self._hidden_size)} (batch_size, hidden_size)")

    def hybrid_forward(self, F, inputs, states, i2h_weight, h2h_weight, i2h_bias, h2h_bias):
        self._check(inputs, states)
        prefix = f"t{self._counter}_"
        rows = GATES[self._mode] * self._hidden_size
        i2h = F.FullyConnected(data=inputs, weight=i2h_weight, bias=i2h_bias, num_hidden=rows,
                               name=prefix + "i2h")
        h2h = F.FullyConnected(data=states[0], weight=h2h_weight, bias=h2h_bias,
                               num_hidden=rows, name=prefix + "h2h")
        return rnn_step(F, self._mode, i2h, h2h, states,
                        activation=getattr(self, "_activation", None),
                        recurrent_activation=getattr(self, "_recurrent_activation", None),
                        prefix=prefix)


class RNNCell(_GatedCell):
    """Elman cell: ``h_t = activation(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``."""

    _mode = "rnn_tanh"

    def __init__(self, hidden_size, activation="tanh", i2h_weight_initializer=None,
                 h2h_weight_initializer=None, i2h_bias_initializer="zeros",
                 h2h_bias_initializer="zeros", input_size=0, prefix=None, params=None):
        super().__init__(hidden_size, i2h_weight_initializer, h2h_weight_initializer,
                         i2h_bias_initializer, h2h_bias_initializer, input_size, prefix, params)
        self._activation = activation

    def _alias(self):
        return "rnn"

    def __repr__(self):
        shape = self.i2h_weight.shape
        return (f"{self.__class__.__name__}({shape[1] if shape[1] else None} -> {shape[0]}, "
                f"{self._activation})")


class LSTMCell(_GatedCell):
    """LSTM cell; gates in MXNet's order i, f, c (candidate), o; states [h, c]."""

    _mode = "lstm"

    def __init__(self, hidden_size, i2h_weight_initializer=None, h2h_weight_initializer=None,
                 i2h_bias_initializer="zeros", h2h_bias_initializer="zeros", input_size=0,
                 prefix=None, params=None, activation="tanh", recurrent_activation="sigmoid"):
        super().__init__(hidden_size, i2h_weight_initializer, h2h_weight_initializer,
                         i2h_bias_initializer, h2h_bias_initializer, input_size, prefix, params)
        self._activation = activation
        self._recurrent_activation = recurrent_activation

    def _alias(self):
        return "lstm"


class GRUCell(_GatedCell):
    """GRU cell (cuDNN variant): gates r, z, n;
    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - z) * n + z * h``."""

    _mode = "gru"

    def __init__(self, hidden_size, i2h_weight_initializer=None, h2h_weight_initializer=None,
                 i2h_bias_initializer="zeros", h2h_bias_initializer="zeros", input_size=0,
                 prefix=None, params=None):
        super().__init__(hidden_size, i2h_weight_initializer, h2h_weight_initializer,
                         i2h_bias_initializer, h2h_bias_initializer, input_size, prefix, params)

    def _alias(self):
        return "gru"
