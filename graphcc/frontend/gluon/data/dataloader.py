"""``DataLoader``: batches of samples from a dataset, stacked by ``batchify_fn``.

Loading always runs in the calling process: ``num_workers``, ``thread_pool``, ``prefetch`` and
``timeout`` are accepted for compatibility and change nothing but speed."""
from __future__ import annotations

import numpy as np

from ... import nd
from ...context import cpu_pinned
from ...ndarray import NDArray
from . import sampler as _sampler
from .sampler import DataError

__all__ = ["DataLoader", "default_batchify_fn"]


def default_batchify_fn(data):
    """Stack a list of samples: NDArrays with ``nd.stack``, tuples element by element (a list
    back), anything else (NumPy arrays, scalars) through NumPy into an NDArray of the NumPy
    dtype."""
    if isinstance(data[0], NDArray):
        return nd.stack(*data)
    if isinstance(data[0], tuple):
        return [default_batchify_fn(list(i)) for i in zip(*data)]
    arr = np.asarray(data)
    return nd.array(arr, dtype=arr.dtype)


default_mp_batchify_fn = default_batchify_fn


def _as_in_context(data, ctx):
    if isinstance(data, NDArray):
        return data.as_in_context(ctx)
    if isinstance(data, (list, tuple)):
        return [_as_in_context(d, ctx) for d in data]
    return data


class DataLoader:
    """Iterate over ``dataset`` in mini-batches.

    Give either ``batch_size`` (with optional ``shuffle`` or ``sampler``, and ``last_batch``
    'keep' | 'discard' | 'rollover') or a ``batch_sampler`` yielding lists of indices."""

    def __init__(self, dataset, batch_size=None, shuffle=False, sampler=None, last_batch=None,
                 batch_sampler=None, batchify_fn=None, num_workers=0, pin_memory=False,
                 pin_device_id=0, prefetch=None, thread_pool=False, timeout=120,
                 auto_reload=False):
        self._dataset = dataset
        self._pin_memory = pin_memory
        self._pin_device_id = pin_device_id
        if timeout <= 0:
            raise DataError(f"timeout must be positive, given {timeout}")
        if batch_sampler is None:
            if batch_size is None:
                raise DataError("batch_size must be specified unless batch_sampler is "
                                "specified")
            if sampler is None:
                sampler = _sampler.RandomSampler(len(dataset)) if shuffle else \
                    _sampler.SequentialSampler(len(dataset))
            elif shuffle:
                raise DataError("shuffle must not be specified if sampler is specified")
            batch_sampler = _sampler.BatchSampler(sampler, batch_size,
                                                  last_batch if last_batch else "keep")
        elif batch_size is not None or shuffle or sampler is not None or \
                last_batch is not None:
            raise DataError("batch_size, shuffle, sampler and last_batch must not be specified "
                            "if batch_sampler is specified.")
        self._batch_sampler = batch_sampler
        self._num_workers = num_workers if num_workers >= 0 else 0
        self._batchify_fn = default_batchify_fn if batchify_fn is None else batchify_fn

    def __iter__(self):
        for batch in self._batch_sampler:
            ret = self._batchify_fn([self._dataset[idx] for idx in batch])
            if self._pin_memory:
                ret = _as_in_context(ret, cpu_pinned(self._pin_device_id))
            yield ret

    def __len__(self):
        return len(self._batch_sampler)
