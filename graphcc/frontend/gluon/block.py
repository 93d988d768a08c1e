"""Gluon blocks: ``Block``, ``HybridBlock`` (1.x ``hybrid_forward`` and array ``forward``
styles), name scopes and 1.x parameter prefixes, hooks, summary, save/load of parameters.

A hybridized block's call goes to ``CachedGraphs`` (frontend/cached.py): trace once per call
signature, compile, run the compiled graph. Deferred parameter shapes are inferred by tracing
the block symbolically with the inputs' shapes (``_infer_deferred``), for both styles.
"""
from __future__ import annotations

import re
import threading
import weakref
from collections import OrderedDict

import numpy as np

from ... import initializer as _init
from ...errors import DeferredInitializationError, GraphccError
from .. import autograd
from ..ndarray import NDArray
from ..serialization import read_arrays, save_arrays
from ..trace import Trace, tracing
from ..trace import current as current_trace
from .parameter import Parameter, ParameterDict, assign_all


class _NameManager:
    counters: dict[str, int] = {}
    lock = threading.Lock()

    @classmethod
    def get(cls, hint):
        with cls.lock:
            n = cls.counters.get(hint, 0)
            cls.counters[hint] = n + 1
        return f"{hint}{n}"


class _BlockScope:
    """The ``with block.name_scope():`` context that prefixes children's names."""
    _current = threading.local()

    def __init__(self, block):
        self._block = block
        self._counter: dict[str, int] = {}
        self._old_scope = None

    @staticmethod
    def create(prefix, params, hint):
        current = getattr(_BlockScope._current, "value", None)
        if current is None:
            if prefix is None:
                prefix = _NameManager.get(hint) + "_"
            params = ParameterDict(prefix) if params is None else ParameterDict(params.prefix,
                                                                                params)
            return prefix, params
        if prefix is None:
            count = current._counter.get(hint, 0)
            prefix = f"{hint}{count}_"
            current._counter[hint] = count + 1
        if params is None:
            parent = current._block.params
            params = ParameterDict(parent.prefix + prefix, parent._shared)
        else:
            params = ParameterDict(params.prefix, params)
        return current._block.prefix + prefix, params

    def __enter__(self):
        if self._block._empty_prefix:
            return self
        self._old_scope = getattr(_BlockScope._current, "value", None)
        _BlockScope._current.value = self
        return self

    def __exit__(self, *exc):
        if self._block._empty_prefix:
            return False
        _BlockScope._current.value = self._old_scope
        return False


class HookHandle:
    def __init__(self, hooks, key):
        self._hooks, self._key = hooks, key

    def detach(self):
        self._hooks.pop(self._key, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.detach()


def _indent(s, n=2):
    lines = s.split("\n")
    return "\n".join([lines[0]] + [" " * n + line for line in lines[1:]])


class Block:
    """Base class of every layer and model."""

    def __init__(self, prefix=None, params=None):
        self._empty_prefix = prefix == ""
        self._prefix, self._params = _BlockScope.create(prefix, params, self._alias())
        self._name = self._prefix[:-1] if self._prefix.endswith("_") else self._prefix
        self._scope = _BlockScope(self)
        self._children: OrderedDict[str, Block] = OrderedDict()
        self._reg_params: OrderedDict[str, Parameter] = OrderedDict()
        self._forward_hooks: OrderedDict = OrderedDict()
        self._forward_pre_hooks: OrderedDict = OrderedDict()
        self._hook_id = 0
        self._parents = weakref.WeakSet()    # blocks holding this one as a child

    def _alias(self):
        return self.__class__.__name__.lower()

    def __repr__(self):
        if not self._children:
            return f"{self.__class__.__name__}()"
        body = "\n".join(f"  ({k}): {_indent(repr(b), 2)}" for k, b in self._children.items())
        return f"{self.__class__.__name__}(\n{body}\n)"

    def __setattr__(self, name, value):
        if hasattr(self, "_children") and name in self.__dict__:
            existing = self.__dict__[name]
            if isinstance(existing, (Parameter, Block)) and value is not None and \
                    not isinstance(value, type(existing)) and \
                    not isinstance(existing, type(value)):
                raise GraphccError(f"Changing attribute type for {self.name}.{name} from "
                                   f"{type(existing)} to {type(value)} is not allowed.")
        if isinstance(value, Block):
            self.register_child(value, name)
        elif isinstance(value, Parameter):
            replaced = getattr(self, "_reg_params", {}).get(name) not in (None, value)
            self.__dict__.setdefault("_reg_params", OrderedDict())[name] = value
            if replaced:
                self._children_changed()      # compiled graphs read the old parameter
        elif value is None and hasattr(self, "_children") and name in self._children:
            self._children.pop(name)
            self._children_changed()
        super().__setattr__(name, value)

    # ------------------------------------------------------------ names and children
    @property
    def prefix(self):
        return self._prefix

    @property
    def name(self):
        return self._name

    @property
    def params(self):
        return self._params

    def name_scope(self):
        return self._scope

    def register_child(self, block, name=None):
        if name is None:
            name = str(len(self._children))
        self._children[name] = block
        parents = getattr(block, "_parents", None)
        if parents is not None:
            parents.add(self)
        self._children_changed()

    def _children_changed(self):
        """A child or a descendant was added, replaced, removed or cast: the compiled graphs
        of this block and of every block that inlines it are stale."""
        # iteratively (a nest of thousands of blocks must not exhaust Python's stack); a
        # block reached twice (shared by two parents) is handled once
        seen, todo = set(), [self]
        while todo:
            b = todo.pop()
            if id(b) in seen:
                continue
            seen.add(id(b))
            b._forget_graphs()
            todo.extend(getattr(b, "_parents", ()))

    def _forget_graphs(self):
        """Drop compiled graphs (a HybridBlock's cache)."""

    def collect_params(self, select=None):
        """Every parameter of this block and its children (optionally regex-selected)."""
        ret = ParameterDict(self._params.prefix)
        pattern = re.compile(select) if select else None
        todo = [self]            # depth first, children in order (no recursion: deep nests)
        while todo:
            b = todo.pop()
            b._check_container_with_block()
            if pattern is None:
                ret.update(b.params)
            else:
                ret.update({n: v for n, v in b.params.items() if pattern.match(n)})
            todo.extend(reversed(list(b._children.values())))
        return ret

    def _check_container_with_block(self):
        """MXNet warns about blocks hidden in lists/dicts; they are simply not registered."""

    def _collect_params_with_prefix(self, prefix=""):
        ret = OrderedDict()
        todo = [(self, prefix)]
        while todo:
            b, pre = todo.pop()
            dot = pre + "." if pre else ""
            ret.update((dot + k, v) for k, v in b._reg_params.items())
            todo.extend(reversed([(c, dot + name) for name, c in b._children.items()]))
        return ret

    # ------------------------------------------------------------ parameters
    def initialize(self, init=_init.Uniform(), ctx=None, verbose=False, force_reinit=False):
        self.collect_params().initialize(init, ctx, verbose, force_reinit)

    def save_parameters(self, filename, deduplicate=False):
        params = self._collect_params_with_prefix()
        arrays, seen = {}, {}
        for k, p in params.items():
            if deduplicate and id(p) in seen:
                continue
            seen[id(p)] = k
            arrays[k] = p._reduce()
        save_arrays(filename, arrays)

    def save_params(self, filename):
        self.save_parameters(filename)

    def load_parameters(self, filename, ctx=None, allow_missing=False, ignore_extra=False,
                        cast_dtype=False, dtype_source="current"):
        _, loaded = read_arrays(filename)
        params = self._collect_params_with_prefix()
        if not loaded and not params:
            return
        if loaded and not any("." in k for k in loaded) and any("." in k for k in params):
            # a file written by collect_params().save(): names carry the 1.x prefixes
            params = OrderedDict((p.name, p) for p in self.collect_params().values())
        assign_all(params, loaded, filename, ctx, allow_missing, ignore_extra, cast_dtype,
                   dtype_source)
        self._children_changed_recursive()     # dtypes or devices may have changed

    def load_params(self, filename, ctx=None, allow_missing=False, ignore_extra=False):
        self.load_parameters(filename, ctx, allow_missing, ignore_extra)

    def _children_changed_recursive(self):
        todo = [self]
        while todo:
            b = todo.pop()
            b._children_changed()
            todo.extend(b._children.values())

    def cast(self, dtype):
        for child in self._children.values():
            child.cast(dtype)
        for p in self._reg_params.values():
            p.cast(dtype)
        self._children_changed()

    def zero_grad(self):
        self.collect_params().zero_grad()

    def reset_ctx(self, ctx):
        self.collect_params().reset_ctx(ctx)

    def apply(self, fn):
        for child in self._children.values():
            child.apply(fn)
        fn(self)
        return self

    def hybridize(self, active=True, **kwargs):
        for child in self._children.values():
            child.hybridize(active, **kwargs)

    # ------------------------------------------------------------ hooks and calls
    def register_forward_pre_hook(self, hook):
        self._hook_id += 1
        self._forward_pre_hooks[self._hook_id] = hook
        return HookHandle(self._forward_pre_hooks, self._hook_id)

    def register_forward_hook(self, hook):
        self._hook_id += 1
        self._forward_hooks[self._hook_id] = hook
        return HookHandle(self._forward_hooks, self._hook_id)

    def register_op_hook(self, callback, monitor_all=False):
        for child in self._children.values():
            child.register_op_hook(callback, monitor_all)

    def __call__(self, *args, **kwargs):
        if self._forward_pre_hooks:
            for hook in list(self._forward_pre_hooks.values()):
                hook(self, args)
        out = self._call_impl(*args, **kwargs)
        if self._forward_hooks:
            for hook in list(self._forward_hooks.values()):
                hook(self, args, out)
        return out

    def _call_impl(self, *args, **kwargs):
        if current_trace() is None and _has_symbol(args):
            return _symbolic_call(self, args, kwargs)
        try:
            return self.forward(*args, **kwargs)
        except DeferredInitializationError:
            if current_trace() is not None:
                raise
            self._infer_deferred(args, kwargs)
            return self.forward(*args, **kwargs)

    def _infer_deferred(self, args, kwargs):
        """Give deferred parameters their shapes by tracing this block on the inputs' shapes."""
        from ..symbol import typed_var
        tr = Trace("infer_shape")
        with tracing(tr), autograd.pause(autograd.is_training()):
            sargs = _map_arrays(args, lambda a, i: typed_var(f"data{i}", a._type))
            skw = {k: _map_arrays(v, lambda a, i: typed_var(k, a._type))
                   for k, v in kwargs.items()}
            self.forward(*sargs, **skw)
        for pid, v in tr.param_vars.items():
            p = tr.params[pid]
            node = v._nodes[0]
            if p._deferred_init and node.type is not None:
                p.shape = node.type.shape
                p._finish_deferred_init()
        still = [p.name for p in tr.params.values() if p._deferred_init]
        if still:
            raise DeferredInitializationError(
                f"cannot infer the shapes of {', '.join(still)} from the inputs "
                f"{[tuple(a.shape) for a in _flat(args)]}; give the layer its input size "
                "(in_units / in_channels)")

    def forward(self, *args):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def summary(self, *inputs):
        """Print a table of layers, output shapes and parameter counts for these inputs."""
        from .summary import summary
        summary(self, *inputs)


def _flat(x):
    if isinstance(x, (list, tuple)):
        out = []
        for v in x:
            out.extend(_flat(v))
        return out
    return [x] if isinstance(x, NDArray) else []


_SYMBOL = []        # the Symbol class, imported once on first use


def _has_symbol(x):
    if not _SYMBOL:
        from ..symbol import Symbol
        _SYMBOL.append(Symbol)
    if isinstance(x, (list, tuple)):
        return any(_has_symbol(v) for v in x)
    return isinstance(x, _SYMBOL[0])


def _has_ndarray(x):
    if isinstance(x, (list, tuple)):
        return any(_has_ndarray(v) for v in x)
    return isinstance(x, NDArray)


def _symbolic_call(block, args, kwargs):
    """``block(mx.sym.var('data'))``: build the block's Symbol, parameters as variables named
    after them (MXNet's ``Parameter.var()``), one variable per parameter."""
    with tracing(Trace("symbol")):
        return block._call_impl(*args, **kwargs)


def _map_arrays(x, fn, counter=None):
    counter = counter if counter is not None else [0]
    if isinstance(x, (list, tuple)):
        return type(x)(_map_arrays(v, fn, counter) for v in x)
    if isinstance(x, NDArray):
        counter[0] += 1
        return fn(x, counter[0] - 1)
    return x


class HybridBlock(Block):
    """A block that can be compiled: ``hybridize()`` traces it into one graph.

    Subclasses define either ``hybrid_forward(self, F, x, *args, **params)`` (MXNet 1.x: ``F`` is
    ``nd`` when eager and ``sym`` when traced; registered parameters arrive as keywords) or
    ``forward(self, x, ...)`` on arrays.
    """

    def __init__(self, prefix=None, params=None):
        super().__init__(prefix, params)
        self._active = False
        self._flags: dict = {}
        self._cached = None
        self._op_hooks: list = []

    def hybridize(self, active=True, backend=None, backend_opts=None, static_alloc=False,
                  static_shape=False, passes=None, recompute=None, check=False,
                  inline_limit=2, forward_bulk_size=None, backward_bulk_size=None, **kwargs):
        if kwargs:
            raise GraphccError(f"hybridize() got unexpected keyword argument(s) "
                               f"{', '.join(repr(k) for k in kwargs)}; accepted: active, backend, "
                               "static_alloc, static_shape, passes, recompute, check")
        if backend is not None:
            from ...codegen import BACKENDS
            if backend not in BACKENDS:
                raise GraphccError(f"hybridize(): unknown backend {backend!r} "
                                   f"({', '.join(repr(b) for b in BACKENDS)})")
        self._active = bool(active)
        self._flags = dict(backend=backend, static_alloc=static_alloc,
                           static_shape=static_shape, passes=passes, recompute=recompute,
                           check=check)
        self._cached = None
        super().hybridize(active, backend=backend, static_alloc=static_alloc,
                          static_shape=static_shape, passes=passes, recompute=recompute,
                          check=check)

    def _forget_graphs(self):
        self._cached = None

    def cast(self, dtype):
        super().cast(dtype)     # forgets the graphs of this block and every block above it

    def register_op_hook(self, callback, monitor_all=False):
        self._op_hooks = [(callback, monitor_all)]
        self._cached = None
        super().register_op_hook(callback, monitor_all)

    @property
    def trace_count(self):
        return self._cached.trace_count if self._cached is not None else 0

    def profile(self, *args, repeat=10, show=True):
        """Profile the compiled program of a call on ``args`` kernel by kernel: nodes, time,
        bytes moved, GB/s or GFLOP/s, share, and whether each step runs generated code, BLAS
        or a reference implementation. Under ``autograd.record()`` the backward is profiled
        too. Prints the table (``show``) and returns the ``Profile``."""
        if not self._active:
            raise GraphccError(f"{type(self).__name__}.profile(): call hybridize() first")
        from ..cached import CachedGraphs
        if self._cached is None:
            self._cached = CachedGraphs(self, **self._flags)
        prof = self._cached.profile(args, repeat)
        if show:
            print(prof)
        return prof

    def _call_impl(self, *args, **kwargs):
        if current_trace() is None and _has_symbol(args):
            return _symbolic_call(self, args, kwargs)
        if self._active and current_trace() is None:
            from ..cached import CachedGraphs
            if self._cached is None:
                self._cached = CachedGraphs(self, **self._flags)
            return self._cached(*args, **kwargs)
        return super()._call_impl(*args, **kwargs)

    def forward(self, x, *args):
        """1.x style: call ``hybrid_forward`` with ``F`` and the parameters."""
        tr = current_trace()
        if tr is not None:
            from .. import sym as F
            from ..symbol import name_prefix
            params = {k: v.data() for k, v in self._reg_params.items()}
            with name_prefix(self.prefix):    # node names as MXNet's: dense0_fwd
                return self.hybrid_forward(F, x, *args, **params)
        from .. import nd as F
        if not isinstance(x, NDArray) and type(self).forward is HybridBlock.forward and \
                type(self).hybrid_forward is not HybridBlock.hybrid_forward and \
                not _has_symbol(x) and not _has_ndarray(x):
            raise GraphccError(f"{type(self).__name__}: HybridBlock requires the first argument "
                               f"to forward be either Symbol or NDArray, but got "
                               f"{type(x).__name__} (wrap it with nd.array)")
        ctx = x.context if isinstance(x, NDArray) else None
        params = {k: v.data(ctx) for k, v in self._reg_params.items()}
        return self.hybrid_forward(F, x, *args, **params)

    def hybrid_forward(self, F, x, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define hybrid_forward() or "
                                  "forward()")

    def infer_shape(self, *args):
        self._infer_deferred(args, {})

    def infer_type(self, *args):
        pass

    def export(self, path, epoch=0, remove_amp_cast=True):
        """Write ``path-symbol.json`` and ``path-%04d.params`` (MXNet's format names)."""
        from ..export import export_block
        return export_block(self, path, epoch)

    def optimize_for(self, x, *args, backend=None, **kwargs):
        self.hybridize(True, backend=backend)
        return self(x, *args)

    def memory_report(self):
        """The memory plan of the last compiled call (training plan after backward)."""
        if self._cached is None:
            raise GraphccError("memory_report(): the block has not been hybridized and called")
        return self._cached.memory_report()


def _np(x):
    return np.asarray(x)
