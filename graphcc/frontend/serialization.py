"""Saving and loading arrays (``nd.save`` / ``nd.load``, parameter files).

Files written by MXNet 1.x are read too (see mxnet_params.py).

The file is a NumPy ``.npz`` archive written through an open file (so the name is kept as
given) with one marker entry telling whether a list or a dict was saved. Loading reads the
whole file before returning anything, and any damage becomes a ``ParameterError`` naming the
file.
"""
from __future__ import annotations

import io
import zipfile
import zlib

import numpy as np

from ..errors import ParameterError
from ..fileio import write_atomically

_KIND = "__graphcc_kind__"      # the marker of files written before user keys were prefixed
_FORMAT = "graphcc:format"      # the marker now: ':' cannot start a user key's stored name
_USER = "k:"                    # every user key is stored as "k:<key>"


def _packed(data) -> dict:
    from .ndarray import NDArray
    if isinstance(data, NDArray):
        data = [data]
    if isinstance(data, dict):
        kind, items = "dict", {str(k): v for k, v in data.items()}
    elif isinstance(data, (list, tuple)):
        kind, items = "list", {f"{i:06d}": v for i, v in enumerate(data)}
    else:
        raise ParameterError(f"nd.save: expected an NDArray, a list or a dict, got "
                             f"{type(data).__name__}")
    arrays = {}
    for k, v in items.items():
        if not isinstance(v, NDArray):
            raise ParameterError(f"nd.save: value for {k!r} is a {type(v).__name__}, "
                                 "not an NDArray")
        arrays[k] = v._data
    stored = {_USER + k: v for k, v in arrays.items()}     # no user key can be the marker
    stored[_FORMAT] = np.array(kind)
    return stored


def save_arrays(fname, data) -> None:
    """``nd.save``: write ``data`` (an NDArray, a list or a dict of them) to ``fname``."""
    arrays = _packed(data)
    write_atomically([(fname, lambda f: np.savez(f, **arrays), "wb")])   # never half-written


def save_arrays_to(f, data) -> None:
    """Write ``data`` as ``save_arrays`` does, into an open binary file."""
    np.savez(f, **_packed(data))


def read_arrays(fname) -> tuple[str, dict]:
    """(kind, name -> np.ndarray), fully read, or a ParameterError. Reads graphcc's files and
    MXNet 1.x's binary ones (``nd.save`` / ``.params`` written by MXNet)."""
    try:
        with open(fname, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise ParameterError(f"cannot read {fname}: {e.strerror}") from None
    from .mxnet_params import is_mxnet_file, read_mxnet_arrays
    if is_mxnet_file(raw):
        return read_mxnet_arrays(raw, fname)
    damaged = (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError, KeyError,
               NotImplementedError, RuntimeError)      # zipfile's "unsupported" and the like
    try:
        z = np.load(io.BytesIO(raw), allow_pickle=False)
    except damaged as e:
        raise ParameterError(f"{fname} is not a graphcc array file or is damaged "
                             f"(truncated or corrupted): {e}") from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise ParameterError(f"{fname} holds one NumPy array (an .npy file), not arrays saved "
                             "with nd.save: read it with numpy.load and wrap it with nd.array")
    try:
        with z:
            arrays = {k: z[k] for k in z.files}
    except damaged as e:
        raise ParameterError(f"{fname} is not a graphcc array file or is damaged "
                             f"(truncated or corrupted): {e}") from None
    if _FORMAT in arrays:
        kind = str(arrays.pop(_FORMAT))
        return kind, {k[len(_USER):]: v for k, v in arrays.items() if k.startswith(_USER)}
    kind = str(arrays.pop(_KIND, "dict"))             # an older graphcc file
    return kind, arrays


def load_arrays(fname, ctx=None):
    from .ndarray import NDArray
    kind, arrays = read_arrays(fname)
    out = {k: NDArray(v, ctx) for k, v in arrays.items()}
    if kind == "list":
        return [out[k] for k in sorted(out)]
    return out
