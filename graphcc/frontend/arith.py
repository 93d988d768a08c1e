"""Python operators shared by NDArray and Symbol: each becomes an op call."""
from __future__ import annotations

import numbers

import numpy as np

from ..errors import DTypeError
from .dispatch import call

_SCALARS = (numbers.Number, np.generic)


def _operand(o) -> bool:
    from .ndarray import NDArray
    from .symbol import Symbol
    return isinstance(o, (NDArray, Symbol))


class ArithmeticMixin:
    """``+ - * / % **`` (both sides, scalars too), unary ``-``/``abs``, comparisons."""
    __slots__ = ()

    def _binary(self, other, op, scalar_op, reflected=False):
        if _operand(other):
            return call(op, other, self) if reflected else call(op, self, other)
        if isinstance(other, _SCALARS):
            return call(scalar_op, self, scalar=float(other))
        raise DTypeError(f"type {type(other).__name__} is not supported with "
                         f"{type(self).__name__} ({op}); wrap it with nd.array()")

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

    def __hash__(self):
        return id(self)

    # methods shared by arrays and symbols
    def reshape(self, *shape, **kwargs):
        if len(shape) == 1 and isinstance(shape[0], (list, tuple)):
            shape = tuple(shape[0])
        if "shape" in kwargs:
            shape = kwargs.pop("shape")
        return call("reshape", self, shape=shape, **kwargs)

    def transpose(self, *axes, **kw):
        if len(axes) == 1 and isinstance(axes[0], (list, tuple)):
            axes = tuple(axes[0])
        if axes:
            kw["axes"] = axes
        return call("transpose", self, **kw)

    def astype(self, dtype, copy=True):
        from ..ir.types import canon_dtype
        dt = canon_dtype(dtype)
        if not copy and dt == np.dtype(self.dtype).name:
            return self
        return call("cast", self, dtype=dt)

    def split(self, *args, **kw):
        from . import nd
        return nd.split(self, *args, **kw)

    def split_v2(self, *args, **kw):
        from . import nd
        return nd.split_v2(self, *args, **kw)

    def reshape_like(self, other, **kw):
        return call("reshape_like", self, other, **kw)

    def zeros_like(self):
        return call("zeros_like", self)

    def ones_like(self):
        return call("ones_like", self)

    @property
    def T(self):
        return call("transpose", self)

    def __getitem__(self, key):
        from .indexing import getitem
        return getitem(self, key)

    def _op_method(self, name):
        from ..ops import registry
        if name.startswith("__") or (name not in registry.OPS and name not in registry.ALIASES):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

        def method(*args, **kwargs):
            return call(name, self, *args, **kwargs)
        method.__name__ = name
        return method
