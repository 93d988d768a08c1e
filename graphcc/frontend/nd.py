"""``graphcc.nd``: the eager op namespace, MXNet's ``mx.nd``.

Every registered op is a function here (``nd.relu``, ``nd.FullyConnected``, ``nd._mul_scalar``),
generated from its row. The functions below add MXNet's Python-level signatures: creation with
``ctx``/``dtype``, binary functions that accept scalars, list-returning ``split``, save/load.
Every function also accepts Symbols (traced arrays), so hybridized code may call ``nd.*``.
"""
from __future__ import annotations

import numbers
import sys
import types

import numpy as np

from ..errors import GraphccError, OpAttrError
from ..ir.types import canon_dtype
from ..ops import registry
from .context import Context, check_usable, current_context
from .dispatch import _is_symbol, call
from .ndarray import NDArray

_SCALARS = (numbers.Number, np.generic)


def _ctx(ctx):
    c = Context(ctx) if ctx is not None else current_context()
    check_usable(c)
    return c


# ---------------------------------------------------------------- creation


def array(source_array, ctx=None, dtype=None):
    """An NDArray copied from a list, a NumPy array, a scalar or another NDArray.

    As in MXNet, the dtype defaults to float32 unless the source is an NDArray."""
    if isinstance(source_array, NDArray):
        dtype = source_array.dtype if dtype is None else dtype
        source_array = source_array._data
    elif dtype is None:
        dtype = "float32"
    dt = canon_dtype(dtype)
    try:
        data = np.array(source_array, dtype=dt, copy=True)
    except (TypeError, ValueError) as e:
        raise GraphccError(f"nd.array: cannot make an array of {type(source_array).__name__}: "
                           f"{e}") from None
    return NDArray(data, _ctx(ctx))


from .ndarray import from_numpy  # noqa: E402,F401  (MXNet's nd.from_numpy)


def _dt(dtype):
    return canon_dtype(dtype) if dtype is not None else "float32"


def _shape(shape):
    return (int(shape),) if isinstance(shape, (numbers.Integral, np.integer)) else tuple(shape)


def zeros(shape, ctx=None, dtype=None, **kwargs):
    return call("zeros", shape=_shape(shape), dtype=_dt(dtype), ctx=_ctx(ctx))


def ones(shape, ctx=None, dtype=None, **kwargs):
    return call("ones", shape=_shape(shape), dtype=_dt(dtype), ctx=_ctx(ctx))


def empty(shape, ctx=None, dtype=None):
    return zeros(shape, ctx, dtype)


def full(shape, val, ctx=None, dtype=None, out=None):
    return call("full", shape=_shape(shape), value=float(val), dtype=_dt(dtype), ctx=_ctx(ctx),
                out=out)


def arange(start, stop=None, step=1.0, repeat=1, infer_range=None, ctx=None, dtype=None):
    return call("arange", start=float(start), stop=None if stop is None else float(stop),
                step=float(step), repeat=int(repeat), dtype=_dt(dtype), ctx=_ctx(ctx))


def eye(N, M=0, k=0, ctx=None, dtype=None, **kwargs):
    return call("eye", N=N, M=M, k=k, dtype=_dt(dtype), ctx=_ctx(ctx))


def linspace(start, stop, num, endpoint=True, ctx=None, dtype=None):
    return call("linspace", start=start, stop=stop, num=num, endpoint=endpoint,
                dtype=_dt(dtype), ctx=_ctx(ctx))


def zeros_like(data, **kw):
    return call("zeros_like", data, **kw)


def ones_like(data, **kw):
    return call("ones_like", data, **kw)


def full_like(data, fill_value, **kw):
    return call("_plus_scalar", call("zeros_like", data), scalar=float(fill_value))


# ---------------------------------------------------------------- binary with scalars


def _arr(v):
    return isinstance(v, NDArray) or _is_symbol(v)


def _binary(op, scalar_op, rscalar_op):
    def f(lhs, rhs, out=None, **kw):
        kw.pop("name", None)
        if _arr(lhs) and _arr(rhs):
            return call(op, lhs, rhs, out=out)
        if _arr(lhs) and isinstance(rhs, _SCALARS):
            return call(scalar_op, lhs, scalar=float(rhs), out=out)
        if _arr(rhs) and isinstance(lhs, _SCALARS):
            return call(rscalar_op, rhs, scalar=float(lhs), out=out)
        if isinstance(lhs, _SCALARS) and isinstance(rhs, _SCALARS):
            return registry.get(op).impl(np.float32(lhs), np.float32(rhs))
        raise GraphccError(f"{op}: operands must be arrays or scalars, got "
                           f"{type(lhs).__name__} and {type(rhs).__name__}")
    f.__name__ = op
    f.__doc__ = f"{op}(lhs, rhs): broadcasting; either side may be a Python scalar"
    return f


add = _binary("add", "_plus_scalar", "_plus_scalar")
subtract = _binary("subtract", "_minus_scalar", "_rminus_scalar")
multiply = _binary("multiply", "_mul_scalar", "_mul_scalar")
divide = _binary("divide", "_div_scalar", "_rdiv_scalar")
true_divide = divide
power = _binary("power", "_power_scalar", "_rpower_scalar")
maximum = _binary("maximum", "_maximum_scalar", "_maximum_scalar")
minimum = _binary("minimum", "_minimum_scalar", "_minimum_scalar")
modulo = _binary("mod", "_mod_scalar", "_rmod_scalar")
mod = modulo
equal = _binary("equal", "_equal_scalar", "_equal_scalar")
not_equal = _binary("not_equal", "_not_equal_scalar", "_not_equal_scalar")
greater = _binary("greater", "_greater_scalar", "_lesser_scalar")
greater_equal = _binary("greater_equal", "_greater_equal_scalar", "_lesser_equal_scalar")
lesser = _binary("lesser", "_lesser_scalar", "_greater_scalar")
lesser_equal = _binary("lesser_equal", "_lesser_equal_scalar", "_greater_equal_scalar")


def add_n(*args, **kw):
    """Sum of any number of arrays of the same shape (``ElementWiseSum``)."""
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        args = tuple(args[0])
    if not args:
        raise GraphccError("add_n: needs at least one array")
    out = args[0]
    for a in args[1:]:
        out = call("add", out, a)
    return out


ElementWiseSum = add_n


# ---------------------------------------------------------------- misc


def waitall():
    """Every computation is synchronous on the CPU: nothing to wait for."""


def save(fname, data):
    """Save an NDArray, a list of them or a dict str -> NDArray (``nd.load`` reads it back)."""
    from .serialization import save_arrays
    save_arrays(fname, data)


def load(fname, ctx=None):
    from .serialization import load_arrays
    return load_arrays(fname, ctx)


def concatenate(arrays, axis=0, always_copy=True):
    return call("concat", *arrays, dim=axis)


def moveaxis(tensor, source, destination):
    axes = list(range(tensor.ndim))
    axes.insert(destination % tensor.ndim, axes.pop(source % tensor.ndim))
    return call("transpose", tensor, axes=tuple(axes))


# ---------------------------------------------------------------- sub-namespaces


def _sub(name):
    mod = types.ModuleType(f"{__name__}.{name}")
    sys.modules[mod.__name__] = mod
    return mod


random = _sub("random")


def _rand_args(shape, dtype, ctx, out):
    return dict(shape=_shape(shape) if shape is not None else (1,), dtype=_dt(dtype),
                ctx=_ctx(ctx), out=out)


def _uniform(low=0, high=1, shape=None, dtype=None, ctx=None, out=None, **kw):
    return call("_random_uniform", low=low, high=high, **_rand_args(shape, dtype, ctx, out))


def _normal(loc=0, scale=1, shape=None, dtype=None, ctx=None, out=None, **kw):
    return call("_random_normal", loc=loc, scale=scale, **_rand_args(shape, dtype, ctx, out))


def _randn(*shape, loc=0, scale=1, dtype=None, ctx=None, **kw):
    return _normal(loc, scale, shape or (1,), dtype, ctx)


def _randint(low, high, shape=None, dtype=None, ctx=None, out=None, **kw):
    return call("_random_randint", low=low, high=high,
                **_rand_args(shape, dtype or "int32", ctx, out))


def _exponential(scale=1, shape=None, dtype=None, ctx=None, out=None, **kw):
    if not scale > 0:
        raise OpAttrError(f"random.exponential: scale must be positive, got {scale}")
    return call("_random_exponential", lam=1.0 / scale, **_rand_args(shape, dtype, ctx, out))


def _gamma(alpha=1, beta=1, shape=None, dtype=None, ctx=None, out=None, **kw):
    return call("_random_gamma", alpha=alpha, beta=beta, **_rand_args(shape, dtype, ctx, out))


def _poisson(lam=1, shape=None, dtype=None, ctx=None, out=None, **kw):
    return call("_random_poisson", lam=lam, **_rand_args(shape, dtype, ctx, out))


def _shuffle(data, **kw):
    return call("_shuffle", data)


def _seed(seed_state, ctx="all"):
    from ..random import seed        # mx.nd.random.seed is mx.random.seed, as in MXNet
    seed(seed_state, ctx)


for _n, _f in [("uniform", _uniform), ("normal", _normal), ("randn", _randn),
               ("randint", _randint), ("exponential", _exponential), ("gamma", _gamma),
               ("poisson", _poisson), ("shuffle", _shuffle), ("seed", _seed)]:
    setattr(random, _n, _f)


# ``nd.linalg.gemm2`` is the op ``linalg_gemm2`` (MXNet's sub-namespace of the linalg ops)
linalg = _sub("linalg")


def _linalg_getattr(name):
    if "linalg_" + name in registry.OPS or "linalg_" + name in registry.ALIASES:
        return __getattr__("linalg_" + name)
    raise AttributeError(f"module 'graphcc.nd.linalg' has no attribute {name!r}")


linalg.__getattr__ = _linalg_getattr


# every registered op (and alias) not defined above becomes a generated function


def _make(name):
    def f(*args, out=None, name=None, ctx=None, **kwargs):
        return call(_opname, *args, out=out, ctx=ctx, **kwargs)
    _opname = name
    f.__name__ = name
    f.__qualname__ = name
    op = registry.get(name)
    ins = ", ".join(op.inputs)
    at = ", ".join(f"{k}={'required' if a.default is registry.REQUIRED else repr(a.default)}"
                   for k, a in op.attrs.items())
    f.__doc__ = f"{op.name}({ins}{', ' if ins and at else ''}{at})\n\n{op.doc}"
    return f


def __getattr__(name):
    if name in registry.OPS or name in registry.ALIASES:
        f = _make(name)
        globals()[name] = f
        return f
    raise AttributeError(f"module 'graphcc.nd' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(registry.OPS) | set(registry.ALIASES))
