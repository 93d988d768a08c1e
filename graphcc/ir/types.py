"""Tensor types: a shape and a dtype name. Dtypes are canonical NumPy names ('float32')."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DTypeError

# canonical name -> short printed name
DTYPES = {
    "float16": "f16", "float32": "f32", "float64": "f64",
    "int8": "i8", "uint8": "u8", "int32": "i32", "int64": "i64", "bool": "b1",
}
SHORT_TO_DTYPE = {v: k for k, v in DTYPES.items()}
ITEMSIZE = {k: np.dtype(k).itemsize for k in DTYPES}
FLOAT_DTYPES = ("float16", "float32", "float64")
INT_DTYPES = ("int8", "uint8", "int32", "int64")


def canon_dtype(dtype) -> str:
    """'float32', np.float32, np.dtype('float32') and 'f32' all give 'float32'."""
    if isinstance(dtype, str) and dtype in DTYPES:
        return dtype
    if isinstance(dtype, str) and dtype in SHORT_TO_DTYPE:
        return SHORT_TO_DTYPE[dtype]
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = None
    if name not in DTYPES:
        raise DTypeError(f"unsupported dtype {dtype!r}; graphcc supports {', '.join(DTYPES)}")
    return name


def is_float(dtype: str) -> bool:
    return dtype in FLOAT_DTYPES


@dataclass(frozen=True, slots=True)
class TensorType:
    shape: tuple[int, ...]
    dtype: str

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def nbytes(self) -> int:
        return self.size * ITEMSIZE[self.dtype]

    def __str__(self) -> str:
        return f"{DTYPES[self.dtype]}[{','.join(str(d) for d in self.shape)}]"

    @staticmethod
    def parse(text: str) -> "TensorType":
        """Inverse of str(): 'f32[4,8]' -> TensorType((4, 8), 'float32')."""
        short, rest = text.split("[", 1)
        body = rest.rstrip("]")
        shape = tuple(int(d) for d in body.split(",")) if body else ()
        return TensorType(shape, SHORT_TO_DTYPE[short])


def type_of(array: np.ndarray) -> TensorType:
    return TensorType(tuple(int(d) for d in array.shape), canon_dtype(array.dtype))
