"""Building Symbols: variables (``var``, ``typed_var``, ``param_var``), ``Group``, and ``apply``,
which applies an op to symbolic inputs (inferring the new node's type when its inputs' types
are known, expanding composite ops, recording auxiliary-state updates while tracing);
``chain_aux_updates`` orders those updates. Import these names from symbol.py, which
re-exports them.
"""
from __future__ import annotations

import itertools
import numbers

import numpy as np

from .. import ops
from ..errors import GraphccError, ShapeError
from ..ir.types import TensorType, canon_dtype
from . import autograd
from .symbol import NameManager, Symbol, SymNode
from .symbol_lower import _complete, _shape_arg
from .trace import current as current_trace
from .trace import user_loc

# ---------------------------------------------------------------- building


def var(name, attr=None, shape=None, lr_mult=None, wd_mult=None, dtype=None, init=None,
        stype=None, **kwargs):
    """A named input variable (shape may contain 0 for unknown dims)."""
    if not isinstance(name, str):
        raise GraphccError("sym.var: name must be a string")
    partial = None
    type_ = None
    if shape is not None:
        shape = _shape_arg(f"sym.var({name!r}): shape", shape)
        if all(d > 0 for d in shape) or (shape == ()):
            type_ = TensorType(shape, canon_dtype(dtype or "float32"))
        else:
            partial = (shape, canon_dtype(dtype) if dtype is not None else None)
    elif dtype is not None:
        partial = (None, canon_dtype(dtype))
    va = dict(attr or {})
    for k, v in (("__shape__", shape), ("__dtype__", dtype), ("__lr_mult__", lr_mult),
                 ("__wd_mult__", wd_mult), ("__init__", init)):
        if v is not None:
            va[k] = v
    va.update(kwargs)
    return Symbol([SymNode(None, (), (), name, type_, role="data", partial=partial,
                           var_attrs=va)])


Variable = var


def typed_var(name, t: TensorType, role="data", param=None, value=None):
    return Symbol([SymNode(None, (), (), name, t, role=role, param=param, value=value,
                           loc=user_loc())])


def param_var(param):
    """The variable standing for a gluon Parameter while tracing."""
    shape = tuple(param.shape) if param.shape is not None else None
    known = shape is not None and all(d > 0 for d in shape)
    t = TensorType(shape, canon_dtype(param.dtype)) if known else None
    partial = None if known else (shape, canon_dtype(param.dtype))
    return Symbol([SymNode(None, (), (), param.name, t, role="param", param=param,
                           partial=partial)])


def Group(symbols):  # noqa: N802 - MXNet's name
    nodes = []
    for s in symbols:
        if not isinstance(s, Symbol):
            raise GraphccError(f"sym.Group: expected Symbols, got {type(s).__name__}")
        nodes.extend(s._nodes)
    if not nodes:
        raise GraphccError("sym.Group: needs at least one Symbol")
    return Symbol(nodes)


_const_count = itertools.count()


def _as_node(x) -> SymNode:
    from .ndarray import NDArray
    if isinstance(x, Symbol):
        return x._single("an op input")
    if isinstance(x, NDArray):
        return SymNode(None, (), (), f"_const{next(_const_count)}", x._type, role="const",
                       value=x)
    if isinstance(x, (numbers.Number, np.generic)):
        raise GraphccError("a Python scalar cannot be an array input here; use the scalar "
                           "form of the op (x + 1, nd.maximum(x, 0))")
    raise GraphccError(f"cannot use a {type(x).__name__} as a graph input")


def apply(op, inputs, attrs: dict, name: str | None = None):
    """Apply ``op`` to symbolic inputs: a new node (or, for composite ops, their expansion)."""
    if op.train_aware and "training" not in attrs:
        attrs = {**attrs, "training": autograd.is_training()}
    nodes = [_as_node(x) for x in inputs]
    attrs_t = ops.normalize_attrs(op, attrs)
    loc = user_loc()
    name = name or NameManager.get(None, op.name)
    if op.expand is not None:
        from . import composite
        if any(n.type is None for n in nodes) and not (
                current_trace() is not None and current_trace().purpose == "hybridize"):
            return composite.pending(op, nodes, attrs_t, name, loc)
        from . import sym as F
        res = op.expand(F, [Symbol([n]) for n in nodes], dict(attrs_t))
        return composite.mark(res, op, nodes, attrs_t, name)
    types = [n.type for n in nodes]
    if any(t is None for t in types) and op.complete is not None:
        types = _complete(op, nodes, types, attrs_t)
    if all(t is not None for t in types):
        where = f" at {loc}" if loc else ""
        t = ops.infer(op, tuple(types), attrs_t, where)
    else:
        if current_trace() is not None and current_trace().purpose == "hybridize":
            unknown = [n.name for n, tt in zip(nodes, types) if tt is None]
            raise ShapeError(f"{op.name} at {loc}: cannot infer the shape of "
                             f"{', '.join(unknown)}; give the layer its input size "
                             "(in_units / in_channels)")
        t = None
    node = SymNode(op, nodes, attrs_t, name, t, loc)
    tr = current_trace()
    if (op.aux_update is not None and tr is not None and tr.purpose == "hybridize"
            and dict(attrs_t).get("training") and tr.recording):
        # computed here, next to the op, so the batch statistics do not keep the op's input
        # alive to the end of the graph; chained at the end if a state is updated twice.
        # The graph computes the update with the old state taken as 0: the runtime applies
        # it to the state as it is when the backward runs (new = decay * state + update), as
        # eager mode does, so calls, backwards and retained graphs chain alike
        from . import sym as F
        ins = [F.zeros_like(Symbol([n])) if k in op.aux_inputs else Symbol([n])
               for k, n in enumerate(nodes)]
        updates = op.aux_update(F, ins, dict(attrs_t))
        tr.aux_calls.append((op, nodes, dict(attrs_t), updates))
    return Symbol([node])


def chain_aux_updates(aux_calls) -> list:
    """[(variable SymNode, update Symbol, decay)] for the auxiliary-state updates of a trace:
    the state becomes ``decay * state + update`` when the backward runs.

    As in MXNet, where each call's update runs in its backward, calls that update the same
    state (one BatchNorm used twice) apply in reverse call order, each starting from the
    value the later call left: composed, the decays multiply and each update is applied to
    the one before."""
    from . import sym as F
    current: dict[int, Symbol] = {}
    decay: dict[int, float] = {}
    targets: dict[int, SymNode] = {}
    for op, nodes, attrs, early in reversed(aux_calls):
        chained = any(id(n) in current for n in nodes)
        d = float(op.aux_decay(attrs)) if op.aux_decay is not None else 0.0
        if chained:
            ins = [current[id(n)] if id(n) in current
                   else F.zeros_like(Symbol([n])) if k in op.aux_inputs else Symbol([n])
                   for k, n in enumerate(nodes)]
            updates = op.aux_update(F, ins, attrs)
        else:
            updates = early
        for index, value in updates:
            node = nodes[index]
            if node.is_var and node.param is not None:
                current[id(node)] = value
                decay[id(node)] = decay.get(id(node), 1.0) * d
                targets[id(node)] = node
    return [(targets[k], current[k], decay[k]) for k in targets]
