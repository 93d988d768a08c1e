"""Gluon parameters: ``Parameter``, ``Constant`` and ``ParameterDict`` (MXNet 1.x semantics).

A parameter's array is an autograd variable, so eager code that reads ``param.data()`` under
``autograd.record()`` fills ``param.grad()``. While a block is traced, ``data()`` returns the
graph variable standing for the parameter instead.
"""
from __future__ import annotations

import re
import threading
import warnings
from collections import OrderedDict

import numpy as np

from ... import initializer as _init
from ...errors import (DeferredInitializationError, GraphccError, ParameterError,
                        ParameterLoadError, ShapeError)
from ...ir.types import canon_dtype
from .. import autograd
from ..context import Context, current_context
from ..ndarray import NDArray
from ..trace import current as current_trace


_DEFERRED_LOCK = threading.RLock()


class ParameterNotInitialized(GraphccError, RuntimeError):
    """A parameter was used before ``initialize()``."""


def _ctx_list(ctx):
    if ctx is None:
        return [current_context()]
    if isinstance(ctx, Context):
        return [ctx]
    return list(ctx)


def _shape_ok(shape):
    return shape is not None and all(d > 0 for d in shape)


class Parameter:
    """A weight of a block: data and gradient per device, initializer, learning-rate scale."""

    def __init__(self, name, grad_req="write", shape=None, dtype="float32", lr_mult=1.0,
                 wd_mult=1.0, init=None, allow_deferred_init=False, differentiable=True,
                 stype="default", grad_stype="default"):
        self.name = name
        self._shape = None if shape is None else (
            (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape))
        self.dtype = canon_dtype(dtype)
        self.lr_mult = lr_mult
        self.wd_mult = wd_mult
        self.init = init
        self.allow_deferred_init = allow_deferred_init
        self._differentiable = differentiable
        self._grad_req = None
        self._data: OrderedDict | None = None      # ctx -> NDArray
        self._grad: OrderedDict | None = None
        self._deferred_init = ()
        self._stype = stype
        self.grad_req = grad_req

    def __repr__(self):
        return f"Parameter {self.name} (shape={self.shape}, dtype={self.dtype})"

    # ------------------------------------------------------------ properties
    @property
    def shape(self):
        return self._shape

    @shape.setter
    def shape(self, new_shape):
        new_shape = tuple(int(d) for d in new_shape)
        if self._shape is None:
            self._shape = new_shape
            return
        if len(self._shape) != len(new_shape) or any(
                a != 0 and a != b for a, b in zip(self._shape, new_shape)):
            raise ShapeError(f"Expected shape {new_shape} is incompatible with given shape "
                             f"{self._shape} for Parameter '{self.name}'")
        self._shape = new_shape

    @property
    def grad_req(self):
        return self._grad_req

    @grad_req.setter
    def grad_req(self, req):
        if req not in ("write", "add", "null"):
            raise ParameterError(f"grad_req must be one of 'write', 'add', or 'null', but got "
                                 f"'{req}'")
        if not self._differentiable:
            req = "null"
        if self._grad_req == req:
            return
        self._grad_req = req
        if req == "null" and self._grad is not None:
            self._grad = None
            for d in self._data.values():
                autograd.mark_variables([d], [None], "null")
        elif self._data is not None:
            self._init_grad()

    @property
    def stype(self):
        return self._stype

    def _check_and_get(self, store, ctx):
        if store is not None:
            if ctx is None:
                if len(store) == 1:
                    return next(iter(store.values()))
                ctx = current_context()
            if ctx in store:
                return store[ctx]
            raise GraphccError(f"Parameter '{self.name}' was not initialized on context {ctx}. "
                               f"It was only initialized on {list(store)}.")
        if self._deferred_init:
            raise DeferredInitializationError(
                f"Parameter '{self.name}' has not been initialized yet because initialization "
                "was deferred. Actual initialization happens during the first forward pass. "
                "Please pass one batch of data through the network before accessing Parameters. "
                "You can also avoid deferred initialization by specifying in_units, "
                "num_features, etc., for network layers.")
        raise ParameterNotInitialized(
            f"Parameter '{self.name}' has not been initialized. Note that you should initialize "
            "parameters and create Trainer with Block.collect_params() instead of Block.params "
            "because the later does not include Parameters of nested child Blocks")

    # ------------------------------------------------------------ initialisation
    def initialize(self, init=None, ctx=None, default_init=_init.Uniform(), force_reinit=False):
        if self._data is not None and not force_reinit:
            warnings.warn(f"Parameter '{self.name}' is already initialized, ignoring. Set "
                          "force_reinit=True to re-initialize.", stacklevel=2)
            return
        self._data = self._grad = None
        ctx = _ctx_list(ctx)
        if init is None:
            init = default_init if self.init is None else self.init
        if not _shape_ok(self._shape):
            if self.allow_deferred_init:
                self._deferred_init = (init, ctx, default_init, None)
                return
            raise ParameterError(f"Cannot initialize Parameter '{self.name}' because it has "
                                 f"invalid shape: {self._shape}.")
        self._deferred_init = (init, ctx, default_init, None)
        self._finish_deferred_init()

    def _finish_deferred_init(self):
        # several threads may make a net's first calls at once: exactly one initialises
        with _DEFERRED_LOCK:
            self._finish_deferred_init_locked()

    def _finish_deferred_init_locked(self):
        if not self._deferred_init:
            return
        init, ctx, default_init, data = self._deferred_init
        if not _shape_ok(self._shape):
            raise DeferredInitializationError(
                f"Cannot initialize Parameter '{self.name}' because it has invalid shape: "
                f"{self._shape}. Please specify in_units, in_channels, etc for `Block`s.")
        with autograd.pause():
            if data is None:
                arr = np.zeros(self._shape, dtype=self.dtype)
                _init.create(default_init)(_init.InitDesc(self.name, {"__init__": init}), arr)
            else:
                arr = np.asarray(data._data if isinstance(data, NDArray) else data,
                                 dtype=self.dtype)
                if arr.shape != self._shape:
                    raise ShapeError(f"Parameter '{self.name}': data of shape {arr.shape} for "
                                     f"shape {self._shape}")
        self._init_impl(arr, ctx)

    def _init_impl(self, arr: np.ndarray, ctx_list):
        self._deferred_init = ()
        self._data = OrderedDict((c, NDArray(np.array(arr, copy=True), c)) for c in ctx_list)
        self._init_grad()

    def _init_grad(self):
        if self._grad_req == "null":
            self._grad = None
            return
        self._grad = OrderedDict(
            (c, NDArray(np.zeros_like(d._data), c)) for c, d in self._data.items())
        for c, d in self._data.items():
            autograd.mark_variables([d], [self._grad[c]], self._grad_req)

    def _reduce(self) -> NDArray:
        """The parameter's value (from the first device)."""
        return self._check_and_get(self._data, next(iter(self._data)) if self._data else None)

    # ------------------------------------------------------------ access
    def data(self, ctx=None):
        tr = current_trace()
        if tr is not None:
            return tr.var_for(self)
        return self._check_and_get(self._data, ctx)

    def list_data(self):
        if self._data is None:
            self._check_and_get(None, None)
        return list(self._data.values())

    def grad(self, ctx=None):
        if self._data is not None and self._grad is None:
            raise GraphccError(f"Cannot get gradient array for Parameter '{self.name}' because "
                               "grad_req='null'")
        return self._check_and_get(self._grad, ctx)

    def list_grad(self):
        if self._data is not None and self._grad is None:
            raise GraphccError(f"Cannot get gradient array for Parameter '{self.name}' because "
                               "grad_req='null'")
        if self._grad is None:
            self._check_and_get(None, None)
        return list(self._grad.values())

    def list_ctx(self):
        if self._data is None:
            if self._deferred_init:
                return list(self._deferred_init[1])
            raise ParameterNotInitialized(f"Parameter '{self.name}' has not been initialized")
        return list(self._data)

    def set_data(self, data):
        """Replace the value (shape must match; a deferred parameter takes the data's shape)."""
        value = data._data if isinstance(data, NDArray) else np.asarray(data)
        self.shape = value.shape
        if self._data is None:
            if not self._deferred_init:
                raise ParameterNotInitialized(
                    f"Parameter '{self.name}' has not been initialized; call initialize() "
                    "before set_data()")
            init, ctx, default_init, _ = self._deferred_init
            self._deferred_init = (init, ctx, default_init, value)
            self._finish_deferred_init()
            return
        for d in self._data.values():
            if d._data.shape != value.shape:
                raise ShapeError(f"Parameter '{self.name}': cannot set data of shape "
                                 f"{value.shape} into shape {d._data.shape}")
            np.copyto(d._data, value, casting="unsafe")

    def zero_grad(self):
        if self._grad is None:
            return
        for g in self._grad.values():
            g._data[...] = 0

    def reset_ctx(self, ctx):
        ctx = _ctx_list(ctx)
        if self._data is not None:
            value = self._reduce()._data
            self._init_impl(value, ctx)
        elif self._deferred_init:
            init, _, default_init, data = self._deferred_init
            self._deferred_init = (init, ctx, default_init, data)
        else:
            raise ParameterNotInitialized(f"Cannot reset context for Parameter '{self.name}' "
                                          "because it has not been initialized.")

    def cast(self, dtype):
        self.dtype = canon_dtype(dtype)
        if self._data is None:
            return
        value = self._reduce()._data.astype(self.dtype)
        self._init_impl(value, list(self._data))

    def var(self):
        from .. import symbol
        return symbol.var(self.name, shape=self.shape, dtype=self.dtype, lr_mult=self.lr_mult,
                          wd_mult=self.wd_mult, init=self.init)

    def row_sparse_data(self, row_id):
        return self.data()


class Constant(Parameter):
    """A parameter that never changes (grad_req 'null'), initialised to ``value``."""

    def __init__(self, name, value):
        if not isinstance(value, NDArray):
            value = NDArray(np.asarray(value, dtype="float32"))
        self.value = value

        class _CInit(_init.Initializer):
            def _init_weight(self_, _, arr):
                _init._fill(arr, value._data)
        super().__init__(name, grad_req="null", shape=value.shape, dtype=value._data.dtype.name,
                         init=_CInit())

    def __repr__(self):
        return f"Constant {self.name} (shape={self.shape}, dtype={self.dtype})"

    @property
    def grad_req(self):
        return "null"

    @grad_req.setter
    def grad_req(self, req):
        if req != "null":
            warnings.warn(f"Constant parameter '{self.name}' does not support grad_req other "
                          f"than 'null', and new value '{req}' is ignored.", stacklevel=2)
        self._grad_req = "null"


class ParameterDict:
    """An ordered name -> Parameter map with a name prefix (no ``len()``, as in MXNet)."""

    def __init__(self, prefix="", shared=None):
        self._prefix = prefix
        self._params: OrderedDict[str, Parameter] = OrderedDict()
        self._shared = shared

    def __repr__(self):
        body = "\n".join(f"  {v}" for v in self.values())
        return f"{self._prefix or ''}(\n{body}\n)"

    def __getitem__(self, key):
        return self._params[key]

    def __iter__(self):
        return iter(self._params)

    def __contains__(self, key):
        return key in self._params

    def __len__(self):
        raise TypeError("object of type 'ParameterDict' has no len()")

    def items(self):
        return self._params.items()

    def keys(self):
        return self._params.keys()

    def values(self):
        return self._params.values()

    @property
    def prefix(self):
        return self._prefix

    def _get_impl(self, name):
        if name in self._params:
            return self._params[name]
        if self._shared is not None and name in self._shared._params:
            self._params[name] = self._shared._params[name]
            return self._params[name]
        return None

    def get(self, name, **kwargs):
        """The parameter ``prefix + name``, created with ``kwargs`` if it does not exist."""
        full = self._prefix + name
        param = self._get_impl(full)
        if param is None:
            param = Parameter(full, **kwargs)
            self._params[full] = param
            return param
        for k, v in kwargs.items():
            if k == "shape" and v is not None:
                param.shape = tuple(int(d) for d in ((v,) if isinstance(v, int) else v)) \
                    if param.shape is None else _merge_shape(param, v)
            elif hasattr(param, k) and getattr(param, k) is not None and v is not None:
                existing = getattr(param, k)
                if k == "dtype":
                    same = canon_dtype(v) == existing
                else:
                    same = existing == v
                if not same and k not in ("init",):
                    raise ParameterError(f"Cannot retrieve Parameter '{full}' because desired "
                                         f"attribute does not match with stored for attribute "
                                         f"'{k}': desired '{v}' vs stored '{existing}'.")
            elif v is not None:
                setattr(param, k, v)
        return param

    def get_constant(self, name, value=None):
        full = self._prefix + name
        param = self._get_impl(full)
        if param is None:
            if value is None:
                raise ParameterError(f"No constant named '{full}'. Please specify value if you "
                                     "want to create a new constant.")
            param = Constant(full, value)
            self._params[full] = param
        elif value is not None and not isinstance(param, Constant):
            raise ParameterError(f"Parameter '{full}' already exists but is not a constant.")
        return param

    def update(self, other):
        for k, v in other.items():
            if k in self._params and self._params[k] is not v:
                raise ParameterError(f"Cannot update self with other because they have different "
                                     f"Parameters with the same name '{k}'")
        for k, v in other.items():
            self._params[k] = v

    def initialize(self, init=_init.Uniform(), ctx=None, verbose=False, force_reinit=False):
        if verbose:
            init.set_verbosity(verbose=verbose)
        for v in self.values():
            v.initialize(None, ctx, init, force_reinit=force_reinit)

    def zero_grad(self):
        for v in self.values():
            v.zero_grad()

    def reset_ctx(self, ctx):
        for v in self.values():
            v.reset_ctx(ctx)

    def list_ctx(self):
        out = []
        for v in self.values():
            for c in v.list_ctx():
                if c not in out:
                    out.append(c)
        return out

    def setattr(self, name, value):
        for v in self.values():
            setattr(v, name, value)

    def save(self, filename, strip_prefix=""):
        from ..serialization import save_arrays
        arrays = {}
        for name, p in self.items():
            if strip_prefix and not name.startswith(strip_prefix):
                raise ParameterError(f"Prefix '{strip_prefix}' is to be striped before saving, "
                                     f"but Parameter's name '{name}' does not start with it")
            arrays[name[len(strip_prefix):]] = p._reduce()
        save_arrays(filename, arrays)

    def load(self, filename, ctx=None, allow_missing=False, ignore_extra=False, restore_prefix="",
             cast_dtype=False, dtype_source="current"):
        from ..serialization import read_arrays
        _, arrays = read_arrays(filename)
        arrays = {restore_prefix + k: v for k, v in arrays.items()}
        assign_all(OrderedDict(self.items()), arrays, filename, ctx, allow_missing, ignore_extra,
                   cast_dtype, dtype_source)

    def select(self, select):
        """Parameters whose names match the regular expression ``select``."""
        out = ParameterDict(self._prefix)
        pattern = re.compile(select)
        out._params.update((k, v) for k, v in self.items() if pattern.match(k))
        return out


def _merge_shape(param, v):
    v = (v,) if isinstance(v, int) else tuple(v)
    old = param.shape
    if len(old) != len(v) or any(a and b and a != b for a, b in zip(old, v)):
        raise ShapeError(f"Cannot retrieve Parameter '{param.name}' because desired shape {v} "
                         f"does not match stored shape {old}")
    return tuple(a or b for a, b in zip(old, v))


def assign_all(params: "OrderedDict[str, Parameter]", arrays: dict, filename, ctx,
               allow_missing, ignore_extra, cast_dtype, dtype_source):
    """Load ``arrays`` into ``params`` all at once: every check passes first, or nothing
    changes."""
    missing = [k for k in params if k not in arrays]
    extra = [k for k in arrays if k not in params]
    if missing and not allow_missing:
        raise ParameterLoadError(
            f"Parameter(s) {', '.join(repr(m) for m in missing)} missing in file '{filename}', "
            f"which contains parameters: {', '.join(repr(k) for k in arrays)}. Set "
            "allow_missing=True to ignore missing parameters.")
    if extra and not ignore_extra:
        raise ParameterLoadError(
            f"Parameter(s) {', '.join(repr(e) for e in extra)} loaded from file '{filename}' "
            f"not present in the block, which contains parameters: "
            f"{', '.join(repr(k) for k in params)}. Set ignore_extra=True to ignore.")
    plan = []
    for name, p in params.items():
        if name not in arrays:
            continue
        value = arrays[name]
        if p.shape is not None and (len(p.shape) != value.ndim or any(
                a != 0 and a != b for a, b in zip(p.shape, value.shape))):
            raise ParameterLoadError(
                f"Failed loading Parameter '{name}' from saved params: shape incompatible "
                f"expected {p.shape} vs saved {value.shape}")
        if value.dtype.name != p.dtype:
            if cast_dtype:
                value = value.astype(p.dtype if dtype_source == "current" else value.dtype)
            else:
                raise ParameterLoadError(
                    f"Failed loading Parameter '{name}' from saved params: dtype incompatible "
                    f"expected {p.dtype} vs saved {value.dtype.name}. Set cast_dtype=True to "
                    "cast the dtype of saved params.")
        plan.append((p, value))
    for p, value in plan:
        if dtype_source == "saved" and cast_dtype:
            p.dtype = value.dtype.name
        if p._data is None:
            p.shape = value.shape
            ctx_list = _ctx_list(ctx) if ctx is not None else (
                list(p._deferred_init[1]) if p._deferred_init else _ctx_list(None))
            p._init_impl(value.astype(p.dtype), ctx_list)
        else:
            ctx_list = _ctx_list(ctx) if ctx is not None else list(p._data)
            if set(ctx_list) != set(p._data) or p._reduce()._data.dtype.name != p.dtype:
                p._init_impl(value.astype(p.dtype), ctx_list)   # new devices or dtype
            else:
                p.set_data(value)
