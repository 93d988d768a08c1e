"""Small helpers the neural-network op rows share (nn.py, linalg.py, norm.py): products of
dims, float-only dtype checks, parsed attributes, ``complete`` rules for parameter shapes, and
the reductions and broadcast shapes the normalisations' gradients are built of (always through
``F``)."""
from __future__ import annotations

from ..errors import DTypeError
from ..ir.types import is_float
from .registry import same_dtype


def _prod(xs) -> int:
    n = 1
    for x in xs:
        n *= int(x)
    return n


def _float_inputs(op: str, in_types) -> str:
    dt = same_dtype(op, in_types)
    if not is_float(dt):
        raise DTypeError(f"{op} supports float16/float32/float64 only, got {dt}")
    return dt


def _attrs_of(name: str, attrs) -> dict:
    """Parsed attributes with defaults (``complete`` may be handed raw user attributes)."""
    from .registry import get, normalize_attrs
    return dict(normalize_attrs(get(name), dict(attrs)))


def _shape_of(F, v) -> tuple:
    """Shape of a value in either namespace (NDArray / traced array, or a graph node id)."""
    return tuple(v.shape) if hasattr(v, "shape") else tuple(F.type(v).shape)


def _mean_keep(F, v, axes):
    return F.mean(v, axis=tuple(axes), keepdims=True) if axes else v


def _sum_keep(F, v, axes):
    return F.sum(v, axis=tuple(axes), keepdims=True) if axes else v


def _sum_to(F, v, ndim: int, keep: tuple, shape: tuple):
    """Sum ``v`` over every axis not in ``keep`` and give it ``shape`` (a parameter's)."""
    axes = tuple(i for i in range(ndim) if i not in keep)
    if axes:
        v = F.sum(v, axis=axes, keepdims=True)
    return F._reshape_to(v, shape=tuple(shape))


def _bshape(ndim: int, axis: int, c: int) -> tuple:
    """The shape that broadcasts a (c,) parameter along ``axis`` of an ndim-d array."""
    return tuple(c if i == axis else 1 for i in range(ndim))


def _param_complete(name, param_shape):
    """A ``complete`` rule: every unknown input after data gets ``param_shape(data, attrs)``."""
    def complete(shapes, attrs):
        shapes = list(shapes)
        if shapes[0] is None:
            return shapes
        a = _attrs_of(name, attrs)
        x = tuple(shapes[0])
        want = param_shape(x, a)
        return [x] + [s if s is not None else want for s in shapes[1:]]
    return complete
