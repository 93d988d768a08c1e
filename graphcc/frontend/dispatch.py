"""Calling an op: argument binding, device checks, eager execution, recording, and the
hand-off to the symbolic path when any input is a Symbol (traced array).
"""
from __future__ import annotations

import numpy as np

from ..errors import DeviceError, GraphccError, OpAttrError
from ..ops import registry
from . import autograd
from .context import current_context

_symbolic_apply = None      # set by frontend.symbol: (op, inputs, attrs) -> Symbol


def set_symbolic_apply(fn):
    global _symbolic_apply
    _symbolic_apply = fn


def _is_array(v):
    from .ndarray import NDArray
    return isinstance(v, NDArray) or _is_symbol(v)


def _is_symbol(v):
    from . import symbol
    return isinstance(v, symbol.Symbol)


def bind(op: registry.OpDef, args: tuple, kwargs: dict, missing=None):
    """Split a call's arguments into (inputs, attrs) the way MXNet's generated functions do:
    arrays fill the inputs in order, other positional values fill attributes in order, and
    keywords name either an input or an attribute."""
    names_all = op.inputs
    inputs: list = []
    attrs: dict = {}
    attr_order = list(op.attrs)
    pos = list(args)
    if op.variadic:
        while pos and (_is_array(pos[0]) or isinstance(pos[0], (list, tuple)) and pos[0] and
                       all(_is_array(v) for v in pos[0])):
            v = pos.pop(0)
            inputs.extend(v if isinstance(v, (list, tuple)) else [v])
        vname = names_all[-1][1:]
        if vname in kwargs:
            v = kwargs.pop(vname)
            inputs.extend(v if isinstance(v, (list, tuple)) else [v])
    else:
        slots: dict = {}
        for n in names_all:
            if n in kwargs:
                slots[n] = kwargs.pop(n)
        free = [n for n in names_all if n not in slots]
        while pos and free and (_is_array(pos[0]) or pos[0] is None):
            slots[free.pop(0)] = pos.pop(0)
        for k, v in kwargs.items():
            attrs[k] = v
        actual = op.names_of_inputs({**_defaults(op), **attrs})
        for n in actual:
            v = slots.get(n)
            if v is None and missing is not None:
                v = missing(n)
            if v is None:
                raise OpAttrError(f"{op.name}: input {n!r} is missing")
            inputs.append(v)
        kwargs = {}
    for k, v in kwargs.items():
        attrs[k] = v
    for v in pos:
        taken = [a for a in attr_order if a not in attrs]
        if not taken:
            raise OpAttrError(f"{op.name}: too many positional arguments")
        attrs[taken[0]] = v
    return inputs, attrs


def _defaults(op):
    return {k: a.default for k, a in op.attrs.items() if a.default is not registry.REQUIRED}


def invoke(op: registry.OpDef, inputs, attrs: dict, out=None, ctx=None):
    """Run one op eagerly (or build a node when an input is a Symbol)."""
    from .ndarray import NDArray
    if op.train_aware and "training" not in attrs:
        attrs = {**attrs, "training": autograd.is_training()}
    for x in inputs:
        if not isinstance(x, NDArray):
            if _is_symbol(x):
                return _symbolic_apply(op, inputs, attrs)
            raise GraphccError(f"{op.name}: inputs must be NDArrays, got {type(x).__name__}")
    attrs_t = registry.normalize_attrs(op, attrs)
    if op.expand is not None:
        from . import nd
        return _finish(op.expand(nd, list(inputs), dict(attrs_t)), out)
    if inputs:
        ctx = inputs[0]._ctx
        for x in inputs[1:]:
            if x._ctx != ctx:
                raise DeviceError(f"{op.name}: inputs are on different devices "
                                  f"({', '.join(str(i._ctx) for i in inputs)}); move them with "
                                  "as_in_context()")
    else:
        ctx = ctx or current_context()
    in_types = tuple(x._type for x in inputs)
    out_type = registry.infer(op, in_types, attrs_t)
    with np.errstate(all="ignore"):
        data = registry.run_impl(op, [x._data for x in inputs], attrs_t, out_type)
    result = NDArray(data, ctx)
    if autograd.is_recording() and autograd.needs_grad(inputs):
        node = autograd.record_op(op, attrs_t, inputs, result, in_types, out_type)
        if op.aux_update is not None and dict(attrs_t).get("training"):
            node.on_backward = _aux_writer(op, list(inputs), dict(attrs_t))
    return _finish(result, out)


def _aux_writer(op, inputs, attrs):
    """Apply an op's auxiliary-state update (e.g. moving statistics) in place."""
    def write():
        from . import nd
        for index, value in op.aux_update(nd, inputs, attrs):
            np.copyto(inputs[index]._data, value._data, casting="unsafe")
    return write


def _finish(result, out):
    if out is not None:
        out._assign_from(result)
        return out
    return result


def call(op_name: str, /, *args, out=None, ctx=None, **kwargs):
    op = registry.get(op_name)
    kwargs.pop("name", None)
    inputs, attrs = bind(op, args, kwargs)
    return invoke(op, inputs, attrs, out=out, ctx=ctx)


def bind_ids(op: registry.OpDef, args: tuple, kwargs: dict):
    """``bind`` for graph builders, whose values are node indices (ints)."""
    inputs, attrs = [], dict(kwargs)
    names = list(op.inputs)
    if op.variadic:
        for a in args:
            inputs.extend(a if isinstance(a, (list, tuple)) else [a])
        return inputs, attrs
    slots = {n: attrs.pop(n) for n in names if n in attrs}
    pos = list(args)
    free = [n for n in names if n not in slots]
    while pos and free and isinstance(pos[0], (int, np.integer)) and not isinstance(pos[0], bool):
        slots[free.pop(0)] = int(pos.pop(0))
    order = [a for a in op.attrs if a not in attrs]
    for v in pos:
        attrs[order.pop(0)] = v
    actual = op.names_of_inputs({**_defaults(op), **attrs})
    inputs = [slots[n] for n in actual if slots.get(n) is not None]
    return inputs, attrs
