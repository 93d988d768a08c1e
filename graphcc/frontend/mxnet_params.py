"""Reading MXNet 1.x's binary NDArray files (``nd.save`` / ``export``'s ``.params``).

Layout (little-endian): ``uint64 0x112`` (list magic), ``uint64 0``, ``uint64 n`` arrays, each
``uint32 magic`` (0xF993FAC9 v2, 0xF993FACA v3), ``int32 storage type`` (0 = dense),
``int32 ndim`` and ``int64 dims[ndim]``, ``int32 dev_type, dev_id``, ``int32 type flag``, raw
data; then ``uint64 m`` names, each ``uint64 length`` and its bytes. Only dense arrays are
read; anything else, or a short or damaged file, is a ``ParameterError`` naming the file.
"""
from __future__ import annotations

import struct

import numpy as np

from ..errors import ParameterError

LIST_MAGIC = 0x112
ARRAY_MAGICS = (0xF993FAC9, 0xF993FACA)
TYPE_FLAGS = {0: "float32", 1: "float64", 2: "float16", 3: "uint8", 4: "int32", 5: "int8",
              6: "int64", 7: "bool"}


def is_mxnet_file(raw: bytes) -> bool:
    return len(raw) >= 8 and struct.unpack_from("<Q", raw, 0)[0] == LIST_MAGIC


class _Reader:
    def __init__(self, raw, fname):
        self.raw, self.pos, self.fname = raw, 0, fname

    def take(self, fmt):
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.raw):
            raise ParameterError(f"{self.fname}: MXNet parameter file is truncated")
        vals = struct.unpack_from(fmt, self.raw, self.pos)
        self.pos += size
        return vals if len(vals) > 1 else vals[0]

    def bytes(self, n):
        if n < 0 or self.pos + n > len(self.raw):
            raise ParameterError(f"{self.fname}: MXNet parameter file is truncated")
        out = self.raw[self.pos:self.pos + n]
        self.pos += n
        return out


def _array(r: _Reader) -> np.ndarray:
    magic = r.take("<I")
    if magic not in ARRAY_MAGICS:
        raise ParameterError(f"{r.fname}: unsupported MXNet array format (magic {magic:#x}); "
                             "only MXNet 1.x dense arrays are read")
    stype = r.take("<i")
    if stype != 0:
        raise ParameterError(f"{r.fname}: sparse arrays (storage type {stype}) are not "
                             "supported")
    ndim = r.take("<i")
    if ndim < 0 or ndim > 32:
        raise ParameterError(f"{r.fname}: damaged MXNet parameter file (ndim {ndim})")
    shape = tuple(r.take(f"<{ndim}q")) if ndim > 1 else ((r.take("<q"),) if ndim else ())
    if any(d < 0 for d in shape) or any(d > len(r.raw) for d in shape):
        raise ParameterError(f"{r.fname}: damaged MXNet parameter file (shape {shape})")
    if ndim == 0 and magic == ARRAY_MAGICS[0]:
        return np.zeros((0,), "float32")            # v2: ndim 0 is an empty array
    r.take("<ii")                                    # context: device type and id
    flag = r.take("<i")
    dtype = TYPE_FLAGS.get(flag)
    if dtype is None:
        raise ParameterError(f"{r.fname}: unsupported MXNet dtype flag {flag}")
    n = 1
    for d in shape:                 # exact (Python ints): a huge product cannot wrap around
        n *= int(d)
    if n * np.dtype(dtype).itemsize > len(r.raw):
        raise ParameterError(f"{r.fname}: damaged MXNet parameter file (shape {shape} needs "
                             "more bytes than the file has)")
    data = r.bytes(n * np.dtype(dtype).itemsize)
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()


def read_mxnet_arrays(raw: bytes, fname) -> tuple[str, dict]:
    """(kind, name -> array) of an MXNet 1.x binary file already read into ``raw``."""
    r = _Reader(raw, fname)
    if r.take("<Q") != LIST_MAGIC:
        raise ParameterError(f"{fname} is not an MXNet parameter file")
    r.take("<Q")
    count = r.take("<Q")
    if count > len(raw):
        raise ParameterError(f"{fname}: damaged MXNet parameter file")
    arrays = [_array(r) for _ in range(count)]
    n_names = r.take("<Q")
    if n_names not in (0, count):
        raise ParameterError(f"{fname}: damaged MXNet parameter file ({count} arrays, "
                             f"{n_names} names)")
    names = []
    for _ in range(n_names):
        length = r.take("<Q")
        try:
            names.append(r.bytes(length).decode("utf-8"))
        except UnicodeDecodeError:
            raise ParameterError(f"{fname}: damaged MXNet parameter file (bad name)") from None
    if not names:
        return "list", {f"{i:06d}": a for i, a in enumerate(arrays)}
    return "dict", dict(zip(names, arrays))
