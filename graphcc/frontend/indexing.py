"""``x[key]`` and ``x[key] = v`` for NDArrays (and traced arrays), with MXNet's rules.

Basic indexing (ints, slices, ``None``, ``...``) of an array outside autograd returns a view
that shares memory, as MXNet does; inside ``autograd.record()`` or while tracing it becomes
``slice`` + ``_reshape_to`` nodes so that gradients flow. An integer array or NDArray key
selects rows with ``take``; a tuple of them gathers with ``gather_nd``.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..errors import DTypeError, GraphccError, ShapeError
from . import autograd
from .dispatch import call

_INT = (numbers.Integral, np.integer)


def _is_index_array(k):
    from .ndarray import NDArray
    return isinstance(k, (NDArray, np.ndarray, list)) or _is_sym(k)


def _is_sym(k):
    from .dispatch import _is_symbol
    return _is_symbol(k)


def _as_index_array(x, k):
    from .ndarray import NDArray
    if isinstance(k, NDArray) or _is_sym(k):
        return k
    from . import nd
    return nd.array(np.asarray(k), ctx=x.context, dtype="int64")


def _expand(key, ndim):
    """Replace Ellipsis; return the list of per-axis keys (ints, slices, None)."""
    key = list(key)
    n_ell = sum(k is Ellipsis for k in key)
    if n_ell > 1:
        raise ShapeError("an index can only have a single ellipsis ('...')")
    used = sum(1 for k in key if k is not None and k is not Ellipsis)
    if used > ndim:
        raise ShapeError(f"too many indices ({used}) for an array of {ndim} dims")
    if n_ell:
        i = key.index(Ellipsis)
        key[i:i + 1] = [slice(None)] * (ndim - used)
    else:
        key += [slice(None)] * (ndim - used)
    return key


def basic_plan(shape, key):
    """(begin, end, step, result shape) for a basic-indexing key."""
    begin, end, step, out = [], [], [], []
    axis = 0
    for k in _expand(key, len(shape)):
        if k is None:
            out.append(1)
            continue
        d = shape[axis]
        if isinstance(k, _INT):
            i = int(k)
            if not -d <= i < d:
                raise ShapeError(f"index {i} is out of bounds for axis {axis} of size {d}")
            i %= d
            begin.append(i), end.append(i + 1), step.append(1)
        elif isinstance(k, slice):
            a, b, s = k.indices(d)
            begin.append(a), end.append(b if b >= 0 else None), step.append(s)
            out.append(len(range(a, b, s)))
        else:
            raise GraphccError(f"unsupported index {k!r} of type {type(k).__name__}")
        axis += 1
    if not out and shape:
        out = [1]          # MXNet gives shape (1,) where NumPy would give a 0-d array
    return tuple(begin), tuple(end), tuple(step), tuple(out)


def getitem(x, key):
    if not isinstance(key, tuple):
        key = (key,)
    if any(_is_index_array(k) for k in key):
        return _advanced(x, key)
    begin, end, step, out_shape = basic_plan(tuple(x.shape), key)
    if not _is_sym(x) and not (autograd.is_recording() and x._ag_node is not None):
        from .ndarray import NDArray
        view = x._data[tuple(slice(a, b, s) for a, b, s in zip(begin, end, step))]
        return NDArray(view.reshape(out_shape), x.context)
    if begin:
        x = call("slice", x, begin=begin, end=end, step=step)
    if tuple(x.shape) != out_shape:
        x = call("_reshape_to", x, shape=out_shape)
    return x


def _advanced(x, key):
    if len(key) == 1:
        return call("take", x, _as_index_array(x, key[0]), axis=0, mode="clip")
    if all(_is_index_array(k) for k in key):
        idx = [_as_index_array(x, k) for k in key]
        from . import nd
        stacked = nd.stack(*[i.astype("float32") if not _is_sym(i) else i for i in idx], axis=0)
        return call("gather_nd", x, stacked)
    raise GraphccError("mixing integer-array and slice indices is not supported; index in two "
                       "steps (first the slices, then take())")


def setitem(x, key, value):
    from .ndarray import NDArray
    if _is_sym(x):
        raise GraphccError("item assignment on a traced array is not supported; build the value "
                           "with where() or concat() instead")
    x._check_inplace()
    if isinstance(value, NDArray):
        v = value._data
    elif isinstance(value, (numbers.Number, np.generic)):
        v = value
    else:
        try:
            v = np.asarray(value, dtype=x._data.dtype)
        except (ValueError, TypeError) as e:
            raise DTypeError(f"cannot assign {value!r} to an array of {x._data.dtype.name}: "
                             f"{e}") from None
    if not isinstance(key, tuple):
        key = (key,)
    key = tuple(np.asarray(k._data if isinstance(k, NDArray) else k, dtype=np.int64)
                if _is_index_array(k) else k for k in key)
    try:
        x._data[key] = v
    except (ValueError, IndexError) as e:
        raise ShapeError(f"cannot assign a value of shape {np.shape(v)} to x{list(key)} of an "
                         f"array of shape {x.shape}: {e}") from None
