"""``graphcc.sym``: MXNet's symbolic namespace.

Every op is a function returning a Symbol (missing parameter inputs become variables named
``<name>_<input>``, as in MXNet: ``sym.FullyConnected(x, num_hidden=10, name='fc1')`` creates
``fc1_weight`` and ``fc1_bias``). Ops with no inputs (zeros, random) build nodes too.
"""
from __future__ import annotations

import sys

from ..errors import GraphccError
from ..ops import registry
from . import nd as _nd
from .dispatch import bind
from .symbol import Group, NameManager, Symbol, Variable, apply, var  # noqa: F401


def _sym_call(opname, *args, name=None, **kwargs):
    op = registry.get(opname)
    kwargs.pop("out", None)
    kwargs.pop("ctx", None)
    attr = kwargs.pop("attr", None)
    base = NameManager.get(name, op.name)

    def missing(input_name):
        return var(f"{base}_{input_name}")
    inputs, attrs = bind(op, args, kwargs, missing=missing)
    res = apply(op, inputs, attrs, name=base)
    if isinstance(res, list):
        return res[0] if len(res) == 1 else Group(res)
    if attr and isinstance(res, Symbol):
        res._nodes[0].var_attrs.update(attr)
    return res


def _make(opname):
    def f(*args, **kwargs):
        return _sym_call(opname, *args, **kwargs)
    f.__name__ = opname
    f.__doc__ = getattr(_nd, opname).__doc__ if opname in registry.OPS else None
    return f


def _creation(opname):
    def f(shape=None, dtype=None, **kwargs):
        kwargs.pop("ctx", None)
        if shape is not None:
            kwargs["shape"] = (shape,) if isinstance(shape, int) else tuple(shape)
        if dtype is not None:
            kwargs["dtype"] = dtype
        return _sym_call(opname, **kwargs)
    f.__name__ = opname
    return f


zeros = _creation("zeros")
ones = _creation("ones")


def full(shape, val, dtype=None, **kwargs):
    return _sym_call("full", shape=tuple(shape), value=float(val), dtype=dtype or "float32")


def arange(start, stop=None, step=1.0, repeat=1, infer_range=None, name=None, dtype=None):
    return _sym_call("arange", start=start, stop=stop, step=step, repeat=repeat,
                     dtype=dtype or "float32", name=name)


def load_json(json_str):
    from .symbol_json import from_mxnet_json
    return from_mxnet_json(json_str)


def load(fname):
    try:
        with open(fname) as f:
            return load_json(f.read())
    except OSError as e:
        raise GraphccError(f"cannot read symbol file {fname}: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise GraphccError(f"symbol file {fname} is not JSON text (damaged?): {e}") from None


# Python-level functions shared with nd (scalars on either side, add_n, ...)
for _n in ("add", "subtract", "multiply", "divide", "true_divide", "power", "maximum", "minimum",
           "modulo", "mod", "equal", "not_equal", "greater", "greater_equal", "lesser",
           "lesser_equal", "add_n", "ElementWiseSum", "full_like"):
    globals()[_n] = getattr(_nd, _n)


class _Random:
    def uniform(self, low=0, high=1, shape=None, dtype=None, **kw):
        return _sym_call("_random_uniform", low=low, high=high, shape=shape or (1,),
                         dtype=dtype or "float32")

    def normal(self, loc=0, scale=1, shape=None, dtype=None, **kw):
        return _sym_call("_random_normal", loc=loc, scale=scale, shape=shape or (1,),
                         dtype=dtype or "float32")


random = _Random()


class _Linalg:
    """``sym.linalg.gemm2`` is the op ``linalg_gemm2``, as in MXNet."""

    def __getattr__(self, name):
        if "linalg_" + name in registry.OPS or "linalg_" + name in registry.ALIASES:
            return __getattr__("linalg_" + name)
        raise AttributeError(f"module 'graphcc.sym.linalg' has no attribute {name!r}")


linalg = _Linalg()


def __getattr__(name):
    if name in registry.OPS or name in registry.ALIASES:
        f = _make(name)
        setattr(sys.modules[__name__], name, f)
        return f
    raise AttributeError(f"module 'graphcc.sym' has no attribute {name!r}")
