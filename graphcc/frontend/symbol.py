"""Symbols: graph values built by ``graphcc.sym`` and by the tracer.

A ``Symbol`` holds one or more output ``SymNode``s of a DAG. A node is either a variable
(``op is None``: data, a parameter, an auxiliary state, or a captured constant array) or an op
applied to earlier nodes. Its type is known when the shapes of its inputs are known: always
while tracing a hybridized block (traced arrays know ``shape`` and ``dtype``), and after
``infer_shape`` for graphs built with ``mx.sym`` without shapes. Variables with partly known
shapes (0 = unknown, as for deferred parameters) get their shapes from the op's ``complete``
rule when the data shape is known.

Building symbols (``var``, ``Group``, ``apply``) is in symbol_build.py; shape-inference helpers
and lowering (``to_graph`` to the IR ``Graph`` the passes and backends work on, ``from_graph``
back) are in symbol_lower.py. Their names are re-exported here, so import them from this module.
"""
from __future__ import annotations

import contextlib
import itertools
import threading

import numpy as np

from .. import ops
from ..errors import GraphccError, ShapeError, TraceError
from ..ir.types import TensorType, canon_dtype
from .arith import ArithmeticMixin
from .trace import user_loc

_names = itertools.count()


class NameManager:
    """Automatic names like MXNet's: ``fullyconnected0``, ``fullyconnected1``...

    Inside ``name_prefix(prefix)`` (a HybridBlock's forward on symbols) every name gets the
    block's prefix and automatic names count from 0 again, as MXNet's ``Prefix`` manager does:
    ``name='fwd'`` in Dense becomes ``dense0_fwd``."""
    counters: dict[str, int] = {}
    _local = threading.local()

    @classmethod
    def get(cls, name, hint):
        scope = getattr(cls._local, "scope", None)
        if not name:
            hint = hint.lower().lstrip("_")
            counters = scope[1] if scope is not None else cls.counters
            n = counters.get(hint, 0)
            counters[hint] = n + 1
            name = f"{hint}{n}"
        return scope[0] + name if scope is not None else name


@contextlib.contextmanager
def name_prefix(prefix):
    """Names made inside get ``prefix`` (MXNet's ``with block.name_scope():`` on symbols)."""
    old = getattr(NameManager._local, "scope", None)
    NameManager._local.scope = (prefix, {})
    try:
        yield
    finally:
        NameManager._local.scope = old


class SymNode:
    __slots__ = ("op", "inputs", "attrs", "name", "type", "partial", "loc", "role", "value",
                 "param", "var_attrs", "origin", "seq", "__weakref__")
    _counter = itertools.count()

    def __init__(self, op, inputs, attrs, name, type_, loc="", role="data", value=None,
                 param=None, partial=None, var_attrs=None):
        self.op = op                  # OpDef, or None for a variable
        self.inputs = tuple(inputs)
        self.attrs = attrs            # normalised attribute pairs
        self.name = name
        self.type = type_             # TensorType or None (not inferred yet)
        self.partial = partial        # variables: (shape with 0 = unknown, dtype or None)
        self.loc = loc
        self.role = role              # variables: data / param / aux / const
        self.value = value            # const variables: the captured NDArray
        self.param = param            # parameter variables: the gluon Parameter
        self.var_attrs = var_attrs or {}
        self.origin = None            # (Origin, k): k-th output of a composite op's expansion
        self.seq = next(SymNode._counter)   # creation order (the order of the user's calls)

    @property
    def is_var(self):
        return self.op is None


def topo(outputs) -> list[SymNode]:
    """Nodes reachable from ``outputs``, inputs before users (first-visit order kept)."""
    order, seen = [], set()
    for root in outputs:
        if id(root) in seen:
            continue
        stack = [(root, 0)]
        while stack:
            node, k = stack.pop()
            if k == 0 and id(node) in seen:
                continue
            if k < len(node.inputs):
                stack.append((node, k + 1))
                child = node.inputs[k]
                if id(child) not in seen:
                    stack.append((child, 0))
            else:
                seen.add(id(node))
                order.append(node)
    return order


def _output_name(n) -> str:
    if n.is_var:
        return n.name
    if n.origin is not None and n.origin[0].n_out > 1:   # k-th output of split, topk...
        return f"{n.origin[0].name}_output{n.origin[1]}"
    return f"{n.name}_output"


def _aux_vars(order) -> set:
    aux = set()
    for n in order:
        if n.op is not None:
            for i in n.op.aux_inputs:
                if i < len(n.inputs) and n.inputs[i].is_var:
                    aux.add(id(n.inputs[i]))
    return aux


class Symbol(ArithmeticMixin):
    """A symbolic value (or a group of them). Traced arrays are Symbols with known types."""
    __slots__ = ("_nodes",)

    def __init__(self, nodes):
        self._nodes = tuple(nodes)

    # ------------------------------------------------------------ structure
    @property
    def name(self):
        return self._nodes[0].name if len(self._nodes) == 1 else None

    def _single(self, what="this"):
        if len(self._nodes) != 1:
            raise GraphccError(f"{what} needs a single-output symbol; this one has "
                               f"{len(self._nodes)} outputs (index it first)")
        return self._nodes[0]

    def list_outputs(self):
        return [_output_name(n) for n in self._nodes]

    def list_arguments(self):
        order = topo(self._nodes)
        aux = _aux_vars(order)
        return [n.name for n in order if n.is_var and id(n) not in aux]

    def list_auxiliary_states(self):
        order = topo(self._nodes)
        aux = _aux_vars(order)
        return [n.name for n in order if n.is_var and id(n) in aux]

    def list_inputs(self):
        return [n.name for n in topo(self._nodes) if n.is_var]

    def get_internals(self):
        return Symbol(topo(self._nodes))

    def get_children(self):
        node = self._single("get_children")
        return Symbol(node.inputs) if node.inputs else None

    def attr(self, key):
        node = self._single("attr")
        if node.is_var:
            v = node.var_attrs.get(key)
            return None if v is None else str(v)
        return dict((k, str(v)) for k, v in node.attrs).get(key)

    def list_attr(self):
        node = self._single("list_attr")
        if node.is_var:
            return {k: str(v) for k, v in node.var_attrs.items()}
        return {k: str(v) for k, v in node.attrs}

    def __len__(self):
        if len(self._nodes) > 1:
            return len(self._nodes)
        t = self._nodes[0].type
        return t.shape[0] if t is not None and t.ndim else 1

    def __iter__(self):
        if len(self._nodes) > 1:
            return (Symbol([n]) for n in self._nodes)
        return (self[i] for i in range(len(self)))

    def __getitem__(self, key):
        if isinstance(key, str):
            names = self.list_outputs()
            for n, nm in zip(self._nodes, names):
                if key in (nm, n.name):
                    return Symbol([n])
            internals = {n.name: n for n in topo(self._nodes)}
            if key.endswith("_output") and key[:-7] in internals:
                return Symbol([internals[key[:-7]]])
            if key in internals:
                return Symbol([internals[key]])
            raise GraphccError(f"no output named {key!r} (outputs: {', '.join(names)})")
        if len(self._nodes) > 1:
            if isinstance(key, slice):
                return Symbol(self._nodes[key])
            return Symbol([self._nodes[key]])
        return super().__getitem__(key)

    def __repr__(self):
        if len(self._nodes) > 1:
            return f"<Symbol group [{', '.join(n.name for n in self._nodes)}]>"
        return f"<Symbol {self._nodes[0].name}>"

    def __copy__(self):
        return Symbol(self._nodes)

    def __deepcopy__(self, memo):
        return Symbol(self._nodes)

    # ------------------------------------------------------------ traced-array view
    @property
    def _type(self) -> TensorType:
        node = self._single("shape")
        if node.type is None:
            raise ShapeError(f"the shape of {node.name} is not known yet; give the input shapes "
                             "(infer_shape(data=...)) first")
        return node.type

    @property
    def shape(self):
        return self._type.shape

    @property
    def dtype(self):
        return np.dtype(self._type.dtype).type

    @property
    def ndim(self):
        return self._type.ndim

    @property
    def size(self):
        return self._type.size

    @property
    def context(self):
        from .context import current_context
        return current_context()

    ctx = context

    def _no_value(self, what):
        raise TraceError(
            f"{what} reads the value of a traced array ({user_loc() or 'unknown line'}): inside "
            "a hybridized block values are not known while the graph is built. Use graph ops "
            "instead (nd.where / F.where for data-dependent choices, shape arithmetic on "
            "x.shape), or leave this block un-hybridized.")

    def asnumpy(self):
        self._no_value("asnumpy()")

    def asscalar(self):
        self._no_value("asscalar()")

    def item(self):
        self._no_value("item()")

    def __bool__(self):
        self._no_value("using an array as a truth value (if/while/and/or)")

    def __float__(self):
        self._no_value("float()")

    def __int__(self):
        self._no_value("int()")

    def __index__(self):
        self._no_value("using an array as an index")

    def __array__(self, *a, **k):
        self._no_value("np.asarray()")

    def wait_to_read(self):
        return None

    def attach_grad(self, *a, **k):
        raise TraceError(f"attach_grad() on a traced array ({user_loc()}): gradients of a "
                         "hybridized block are computed for its parameters and inputs outside it")

    def detach(self):
        return _call("stop_gradient", self)

    def copy(self):
        return _call("_copy", self)

    def as_in_context(self, ctx):
        return self

    def __setitem__(self, key, value):
        raise TraceError(f"item assignment on a traced array ({user_loc()}) is not supported; "
                         "build the value with where() or concat() instead")

    def __getattr__(self, name):
        return self._op_method(name)

    # ------------------------------------------------------------ inference
    def infer_shape(self, *args, **kwargs):
        """(arg_shapes, out_shapes, aux_shapes) given input shapes by name or position."""
        types = self._infer({k: (tuple(v), None) for k, v in self._named(args, kwargs).items()},
                            partial=False)
        return types and self._shapes_of(types)

    def infer_shape_partial(self, *args, **kwargs):
        types = self._infer({k: (tuple(v), None) for k, v in self._named(args, kwargs).items()},
                            partial=True)
        return self._shapes_of(types)

    def infer_type(self, *args, **kwargs):
        """(arg_types, out_types, aux_types) as NumPy dtypes, given input dtypes."""
        named = self._named(args, kwargs)
        order = topo(self._nodes)
        aux = _aux_vars(order)
        dts = {}
        for n in order:
            if n.is_var:
                given = named.get(n.name)
                dts[id(n)] = canon_dtype(given) if given is not None else (
                    n.type.dtype if n.type else (n.partial[1] if n.partial and n.partial[1]
                                                 else None))
            else:
                ins = [dts[id(i)] for i in n.inputs]
                dts[id(n)] = n.type.dtype if n.type else next((d for d in ins if d), "float32")
        for n in order:   # untyped variables take the dtype of their op's data input
            if n.is_var and dts[id(n)] is None:
                dts[id(n)] = "float32"
        args_ = [np.dtype(dts[id(n)]).type for n in order if n.is_var and id(n) not in aux]
        auxs = [np.dtype(dts[id(n)]).type for n in order if n.is_var and id(n) in aux]
        outs = [np.dtype(dts[id(n)]).type for n in self._nodes]
        return args_, outs, auxs

    def _named(self, args, kwargs):
        named = dict(kwargs)
        if args:
            for nm, v in zip(self.list_arguments(), args):
                if v is not None:
                    named[nm] = v
        return named

    def _shapes_of(self, types):
        order = topo(self._nodes)
        aux = _aux_vars(order)

        def sh(n):
            t = types.get(id(n))
            return None if t is None else tuple(t.shape)
        return ([sh(n) for n in order if n.is_var and id(n) not in aux],
                [sh(n) for n in self._nodes],
                [sh(n) for n in order if n.is_var and id(n) in aux])

    def _infer(self, given: dict, partial: bool):
        """Types of every node (by id) from the given variable shapes/dtypes."""
        types, cache = {}, {}
        for n in topo(self._nodes):
            if n.is_var:
                types[id(n)] = _var_type(n, given.get(n.name))
                continue
            ins = [types.get(id(i)) for i in n.inputs]
            if any(t is None for t in ins) and n.op.complete is not None:
                ins = _complete(n.op, n.inputs, ins, n.attrs, types)
            if any(t is None for t in ins):
                if not partial:
                    missing = [i.name for i, t in zip(n.inputs, ins) if t is None]
                    raise ShapeError(f"cannot infer the shape of {n.name} ({n.op.name}): shapes "
                                     f"of {', '.join(missing)} are unknown; pass them to "
                                     "infer_shape")
                types[id(n)] = None
                continue
            if n.op.expand is not None:       # a composite not expanded yet
                from .composite import composite_type
                types[id(n)] = composite_type(n, ins, cache)
                continue
            where = f" at {n.loc}" if n.loc else f" (node {n.name})"
            types[id(n)] = ops.infer(n.op, tuple(ins), n.attrs, where)
        return types

    # ------------------------------------------------------------ serialisation
    def tojson(self):
        from .symbol_json import to_mxnet_json
        return to_mxnet_json(self)

    def save(self, fname, remove_amp_cast=True):
        with open(fname, "w") as f:
            f.write(self.tojson())

    def eval(self, ctx=None, **kwargs):
        """Evaluate with NDArray inputs given by name; returns a list of NDArrays."""
        from ..compiler import compile_symbol
        exe = compile_symbol(self, {k: v for k, v in kwargs.items()})
        return exe.run_named(kwargs)

    def optimize_for(self, *a, **k):
        return self


def _call(name, *args, **kwargs):
    from .dispatch import call
    return call(name, *args, **kwargs)


# ---------------------------------------------------------------- re-exports
# (imported last: those modules build on the classes above)

from .symbol_lower import _complete, _var_type, from_graph, to_graph  # noqa: E402,F401
from .symbol_build import (Group, Variable, apply, chain_aux_updates,  # noqa: E402,F401
                           param_var, typed_var, var)


def _register():
    from .dispatch import set_symbolic_apply
    set_symbolic_apply(apply)


_register()
