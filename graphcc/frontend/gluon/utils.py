"""``gluon.utils``: splitting batches over devices and global-norm gradient clipping."""
from __future__ import annotations

import hashlib
import warnings

import numpy as np

from ...errors import GraphccError, ShapeError
from .. import nd
from ..ndarray import NDArray

__all__ = ["check_sha1", "clip_global_norm", "split_and_load", "split_data"]


def split_data(data, num_slice, batch_axis=0, even_split=True):
    """Split ``data`` into ``num_slice`` slices along ``batch_axis`` (always a list).

    With ``even_split=False`` the first ``size % num_slice`` slices get one extra element."""
    if not -data.ndim <= batch_axis < data.ndim:
        raise ShapeError(f"split_data: batch_axis {batch_axis} is out of range for data of "
                         f"shape {data.shape}")
    size = data.shape[batch_axis]
    if even_split and size % num_slice != 0:
        raise ShapeError(
            f"data with shape {data.shape} cannot be evenly split into {num_slice} slices "
            f"along axis {batch_axis}. Use a batch size that's multiple of {num_slice} or set "
            "even_split=False to allow uneven partitioning of data.")
    each, extras = divmod(size, num_slice)
    sizes = [0] + extras * [each + 1] + (num_slice - extras) * [each]
    points = np.cumsum(sizes)
    if batch_axis in (0, -data.ndim):
        return [data[int(points[i]):int(points[i + 1])] for i in range(num_slice)]
    return [nd.slice_axis(data, axis=batch_axis, begin=int(points[i]), end=int(points[i + 1]))
            for i in range(num_slice)]


def split_and_load(data, ctx_list, batch_axis=0, even_split=True):
    """Split ``data`` (NDArray or anything ``nd.array`` takes) into one slice per context
    in ``ctx_list`` and copy each slice there."""
    if not isinstance(data, NDArray):
        data = nd.array(data, ctx=ctx_list[0])
    if len(ctx_list) == 1:
        return [data.as_in_context(ctx_list[0])]
    slices = split_data(data, len(ctx_list), batch_axis, even_split)
    return [s.as_in_context(ctx) for s, ctx in zip(slices, ctx_list)]


def clip_global_norm(arrays, max_norm, check_isfinite=True):
    """Scale ``arrays`` in place so that their joint 2-norm is at most ``max_norm``.

    Returns the norm before scaling: a NumPy float32 scalar, or, with
    ``check_isfinite=False``, an NDArray of shape (1,). With ``check_isfinite`` a NaN or
    infinite norm gives a warning (the result of the scaling is then undefined)."""
    if len(arrays) == 0:
        raise GraphccError("clip_global_norm: arrays must not be empty")
    ctx = arrays[0].context
    total = np.float32(0)
    for a in arrays:
        x = a._data.reshape(-1).astype(np.float32, copy=False)
        total = total + np.dot(x, x)
    total = np.sqrt(np.float32(total), dtype=np.float32).reshape(1)
    if check_isfinite and not np.isfinite(total[0]):
        warnings.warn(UserWarning("nan or inf is detected. Clipping results will be "
                                  "undefined."), stacklevel=2)
    scale = min(np.float32(max_norm) / (total[0] + np.float32(1e-8)), np.float32(1.0))
    with np.errstate(invalid="ignore", over="ignore"):
        for a in arrays:
            a._check_inplace()
            a._data *= a._data.dtype.type(scale)
    if check_isfinite:
        return total[0]
    return NDArray(total, ctx)


def check_sha1(filename, sha1_hash):
    """Whether the file's SHA-1 digest is ``sha1_hash``."""
    sha1 = hashlib.sha1()
    with open(filename, "rb") as f:
        for chunk in iter(lambda: f.read(1048576), b""):
            sha1.update(chunk)
    return sha1.hexdigest() == sha1_hash
