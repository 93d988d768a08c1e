"""The eager array: host memory (a NumPy array), a device, autograd links.

Every operation calls an op row's reference implementation through ``dispatch.invoke``:
eager mode has no second copy of semantics.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..errors import AutogradError, DTypeError, GraphccError, ShapeError
from ..ir.types import TensorType, canon_dtype
from . import autograd
from .context import Context, current_context
from .dispatch import call

_SCALARS = (numbers.Number, np.generic)


class NDArray:
    """An n-dimensional array with MXNet's NDArray methods and operators."""
    __slots__ = ("_data", "_ctx", "_grad", "_grad_req", "_ag_node", "_ag_index", "__weakref__")
    __array_priority__ = 1000.0

    def __init__(self, data: np.ndarray, ctx: Context | None = None):
        self._data = data
        self._ctx = ctx or current_context()
        self._grad = None
        self._grad_req = "null"
        self._ag_node = None
        self._ag_index = 0

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
    def T(self):
        return call("transpose", self)

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

    def astype(self, dtype, copy=True):
        dt = canon_dtype(dtype)
        if not copy and dt == self._data.dtype.name:
            return self
        return call("cast", self, dtype=dt)

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

    def __hash__(self):
        return id(self)

    def __getstate__(self):
        return {"data": self._data, "ctx": (self._ctx.device_type, self._ctx.device_id)}

    def __setstate__(self, state):
        NDArray.__init__(self, state["data"], Context(*state["ctx"]))

    # ------------------------------------------------------------ arithmetic
    def _binary(self, other, op, scalar_op, reflected=False):
        if isinstance(other, NDArray):
            return call(op, other, self) if reflected else call(op, self, other)
        if isinstance(other, _SCALARS):
            return call(scalar_op, self, scalar=float(other))
        from .dispatch import _is_symbol
        if _is_symbol(other):
            return NotImplemented
        raise DTypeError(f"type {type(other).__name__} is not supported with NDArray "
                         f"({op}); wrap it with nd.array()")

    def __add__(self, o):
        return self._binary(o, "add", "_plus_scalar")

    def __radd__(self, o):
        return self._binary(o, "add", "_plus_scalar", True)

    def __sub__(self, o):
        return self._binary(o, "subtract", "_minus_scalar")

    def __rsub__(self, o):
        return self._binary(o, "subtract", "_rminus_scalar", True)

    def __mul__(self, o):
        return self._binary(o, "multiply", "_mul_scalar")

    def __rmul__(self, o):
        return self._binary(o, "multiply", "_mul_scalar", True)

    def __truediv__(self, o):
        return self._binary(o, "divide", "_div_scalar")

    def __rtruediv__(self, o):
        return self._binary(o, "divide", "_rdiv_scalar", True)

    __div__, __rdiv__ = __truediv__, __rtruediv__

    def __mod__(self, o):
        return self._binary(o, "mod", "_mod_scalar")

    def __rmod__(self, o):
        return self._binary(o, "mod", "_rmod_scalar", True)

    def __pow__(self, o):
        return self._binary(o, "power", "_power_scalar")

    def __rpow__(self, o):
        return self._binary(o, "power", "_rpower_scalar", True)

    def __neg__(self):
        return call("negative", self)

    def __pos__(self):
        return self

    def __abs__(self):
        return call("abs", self)

    def __eq__(self, o):
        if o is None:
            return False
        return self._binary(o, "equal", "_equal_scalar")

    def __ne__(self, o):
        if o is None:
            return True
        return self._binary(o, "not_equal", "_not_equal_scalar")

    def __gt__(self, o):
        return self._binary(o, "greater", "_greater_scalar")

    def __ge__(self, o):
        return self._binary(o, "greater_equal", "_greater_equal_scalar")

    def __lt__(self, o):
        return self._binary(o, "lesser", "_lesser_scalar")

    def __le__(self, o):
        return self._binary(o, "lesser_equal", "_lesser_equal_scalar")

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
    def __getitem__(self, key):
        from .indexing import getitem
        return getitem(self, key)

    def __setitem__(self, key, value):
        from .indexing import setitem
        setitem(self, key, value)

    # ------------------------------------------------------------ methods
    def reshape(self, *shape, **kwargs):
        if len(shape) == 1 and isinstance(shape[0], (list, tuple)):
            shape = tuple(shape[0])
        if "shape" in kwargs:
            shape = kwargs.pop("shape")
        return call("reshape", self, shape=shape, **kwargs)

    def reshape_like(self, other, **kw):
        return call("reshape_like", self, other, **kw)

    def zeros_like(self):
        return call("zeros_like", self)

    def ones_like(self):
        return call("ones_like", self)

    def transpose(self, *axes, **kw):
        if len(axes) == 1 and isinstance(axes[0], (list, tuple)):
            axes = tuple(axes[0])
        if axes:
            kw["axes"] = axes
        return call("transpose", self, **kw)

    def split(self, *args, **kw):
        from . import nd
        return nd.split(self, *args, **kw)

    def split_v2(self, *args, **kw):
        from . import nd
        return nd.split_v2(self, *args, **kw)

    def __getattr__(self, name):
        # every registered op is also a method (x.sum(axis=1), x.exp(), x.clip(0, 1), ...)
        from ..ops import registry
        if name.startswith("__") or (name not in registry.OPS and name not in registry.ALIASES):
            raise AttributeError(f"'NDArray' object has no attribute {name!r}")

        def method(*args, **kwargs):
            return call(name, self, *args, **kwargs)
        method.__name__ = name
        return method


def from_numpy(a, ctx=None, dtype=None) -> NDArray:
    arr = np.array(a, dtype=canon_dtype(dtype) if dtype is not None else None, copy=True)
    canon_dtype(arr.dtype)
    return NDArray(arr, ctx)
