"""The eager array: host memory (a NumPy array), a device, autograd links.

Every operation calls an op row's reference implementation through ``dispatch.invoke``:
eager mode has no second copy of semantics.
"""
from __future__ import annotations

import numpy as np

from ..errors import AutogradError, GraphccError, ShapeError
from ..ir.types import TensorType, canon_dtype
from . import autograd
from .arith import ArithmeticMixin
from .context import Context, current_context
from .dispatch import call

class NDArray(ArithmeticMixin):
    """An n-dimensional array with MXNet's NDArray methods and operators."""
    __slots__ = ("_data", "_ctx", "_grad", "_grad_req", "_ag_node", "_ag_index", "_fresh_grad",
                 "__weakref__")
    __array_priority__ = 1000.0

    def __init__(self, data: np.ndarray, ctx: Context | None = None):
        self._data = data
        self._ctx = ctx or current_context()
        self._grad = None
        self._grad_req = "null"
        self._ag_node = None
        self._ag_index = 0
        self._fresh_grad = False        # backward() wrote this variable's gradient

    # ------------------------------------------------------------ attributes
    @property
    def _type(self) -> TensorType:
        return TensorType(self._data.shape, self._data.dtype.name)

    @property
    def shape(self) -> tuple:
        return self._data.shape

    @property
    def dtype(self):
        return self._data.dtype.type

    @property
    def size(self) -> int:
        return int(self._data.size)

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def context(self) -> Context:
        return self._ctx

    ctx = context

    @property
    def stype(self) -> str:
        return "default"

    @property
    def grad(self):
        return self._grad

    @property
    def handle(self):
        return id(self)

    # ------------------------------------------------------------ conversion
    def asnumpy(self) -> np.ndarray:
        return self._data.copy()

    def asscalar(self):
        if self._data.size != 1:
            raise ShapeError(f"asscalar() needs an array of one element, not shape {self.shape}")
        return self._data.reshape(-1)[0]

    def item(self):
        return self.asscalar().item()

    def __array__(self, dtype=None, copy=None):
        return self._data if dtype is None else self._data.astype(dtype)

    def copy(self):
        return call("_copy", self)

    def copyto(self, other):
        if isinstance(other, Context):
            r = NDArray(self._data.copy(), other)
            return r
        if not isinstance(other, NDArray):
            raise GraphccError(f"copyto: expected an NDArray or a Context, got {type(other)}")
        if other.shape != self.shape:
            raise ShapeError(f"copyto: shape {self.shape} into {other.shape}")
        other._check_inplace()
        np.copyto(other._data, self._data, casting="unsafe")
        return other

    def as_in_context(self, ctx):
        if ctx == self._ctx:
            return self
        from .context import check_usable
        check_usable(ctx)
        return self.copyto(ctx)

    as_in_ctx = as_in_context

    def tostype(self, stype):
        if stype != "default":
            raise GraphccError("graphcc supports dense arrays only (stype='default')")
        return self

    def wait_to_read(self):
        return None

    def wait_to_write(self):
        return None

    def detach(self):
        r = NDArray(self._data, self._ctx)
        return r

    def attach_grad(self, grad_req="write", stype=None):
        grad = NDArray(np.zeros_like(self._data), self._ctx)
        autograd.mark_variables([self], [grad], grad_req)

    def backward(self, out_grad=None, retain_graph=False, train_mode=True):
        autograd.backward([self], None if out_grad is None else [out_grad],
                          retain_graph=retain_graph, train_mode=train_mode)

    # ------------------------------------------------------------ printing
    def __repr__(self):
        body = np.array2string(self._data, separator=" ", precision=8, suppress_small=False)
        shape = "x".join(str(d) for d in self.shape)
        return f"\n{body}\n<NDArray {shape} @{self._ctx}>"

    def __str__(self):
        return self.__repr__()

    # ------------------------------------------------------------ Python protocol
    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d NDArray")
        return self.shape[0]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __bool__(self):
        if self.size == 1:
            return bool(self._data.reshape(-1)[0])
        if self.size == 0:
            return False
        raise ValueError("The truth value of an NDArray with multiple elements is ambiguous.")

    def __float__(self):
        return float(self.asscalar())

    def __int__(self):
        return int(self.asscalar())

    def __index__(self):
        return int(self.asscalar())

    def __getstate__(self):
        return {"data": self._data, "ctx": (self._ctx.device_type, self._ctx.device_id)}

    def __setstate__(self, state):
        NDArray.__init__(self, state["data"], Context(*state["ctx"]))

    # ------------------------------------------------------------ in-place
    def _check_inplace(self):
        if autograd.is_recording() and self._ag_node is not None:
            raise AutogradError("Inplace operations (+=, -=, x[:]=, etc) are not supported when "
                                "recording with autograd.")

    def _assign_from(self, value: "NDArray"):
        self._check_inplace()
        if value.shape != self.shape:
            try:
                np.broadcast_to(value._data, self.shape)
            except ValueError:
                raise ShapeError(f"cannot write shape {value.shape} into {self.shape}") from None
        np.copyto(self._data, value._data, casting="unsafe")
        return self

    def _inplace(self, o, op, scalar_op):
        self._check_inplace()
        r = self._binary(o, op, scalar_op)
        if r is NotImplemented:
            return r
        if r.shape != self.shape:
            raise ShapeError(f"in-place {op}: result shape {r.shape} differs from {self.shape}")
        np.copyto(self._data, r._data, casting="unsafe")
        return self

    def __iadd__(self, o):
        return self._inplace(o, "add", "_plus_scalar")

    def __isub__(self, o):
        return self._inplace(o, "subtract", "_minus_scalar")

    def __imul__(self, o):
        return self._inplace(o, "multiply", "_mul_scalar")

    def __itruediv__(self, o):
        return self._inplace(o, "divide", "_div_scalar")

    def __imod__(self, o):
        return self._inplace(o, "mod", "_mod_scalar")

    # ------------------------------------------------------------ indexing
    def __setitem__(self, key, value):
        from .indexing import setitem
        setitem(self, key, value)

    # ------------------------------------------------------------ methods
    def __getattr__(self, name):
        # every registered op is also a method (x.sum(axis=1), x.exp(), x.clip(0, 1), ...)
        return self._op_method(name)


def from_numpy(ndarray, zero_copy=True, ctx=None) -> NDArray:
    """An NDArray over a NumPy array (MXNet's ``nd.from_numpy``): with ``zero_copy`` it shares
    the array's memory when the array is C-contiguous, otherwise the data is copied. Unlike
    ``nd.array``, the dtype is kept."""
    a = np.asarray(ndarray)
    canon_dtype(a.dtype)
    if not (zero_copy and a.flags["C_CONTIGUOUS"] and a.flags["WRITEABLE"]):
        a = np.array(a, copy=True, order="C")
    return NDArray(a, ctx)
