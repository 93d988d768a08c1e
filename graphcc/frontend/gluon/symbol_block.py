"""``gluon.SymbolBlock``: a HybridBlock made from a Symbol graph (``SymbolBlock.imports`` loads
an exported model; ``SymbolBlock(outputs, inputs, params)`` wraps ``net(sym.var('data'))`` or
its internals as a feature extractor).

Every argument of the graph that is not an input becomes a Parameter named after it
(auxiliary states with ``grad_req='null'``), with the shape the graph gives it where known and
deferred otherwise. A call re-runs the graph's op-level view (symbol_graph.run): eagerly with
NDArray ops, or, when hybridized, by tracing the same walk, so that train/predict-dependent ops
(Dropout, BatchNorm) follow the mode of each call.
"""
from __future__ import annotations

from collections import OrderedDict

from ...errors import GraphccError, ParameterError
from ..ndarray import NDArray
from ..serialization import read_arrays
from ..symbol import Group, Symbol
from ..symbol_graph import aux_indices, logical, run
from ..trace import current as current_trace
from .block import HybridBlock
from .parameter import ParameterDict, assign_all


def _flat_symbols(x, what):
    if isinstance(x, Symbol):
        return [x]
    if isinstance(x, (list, tuple)):
        out = []
        for v in x:
            out.extend(_flat_symbols(v, what))
        return out
    raise GraphccError(f"SymbolBlock: {what} must be Symbols or lists of Symbols, got "
                       f"{type(x).__name__}")


def _common_prefix(names):
    if not names:
        return ""
    prefix = names[0]
    for name in names:
        i = 0
        while i < len(prefix) and i < len(name) and prefix[i] == name[i]:
            i += 1
        prefix = prefix[:i]
    return prefix


class SymbolBlock(HybridBlock):
    """Construct a block from a symbol: ``outputs`` (a Symbol or a list), ``inputs`` (the
    variables fed by the call's arguments, in order) and optionally ``params`` (a
    ParameterDict whose parameters are shared, e.g. ``net.collect_params()``)."""

    def __init__(self, outputs, inputs, params=None):
        super().__init__(prefix=None, params=None)
        self._prefix = ""
        self._params = ParameterDict("", params)
        if isinstance(outputs, (list, tuple)) and len(outputs) == 1:
            outputs = outputs[0]
        in_syms = _flat_symbols(inputs, "inputs")
        for s in in_syms:
            if len(s._nodes) != 1 or not s._nodes[0].is_var:
                raise GraphccError(f"Input symbols must be variable, but {s} is an output of "
                                   "operators")
        out_syms = _flat_symbols(outputs, "outputs")
        out = out_syms[0] if len(out_syms) == 1 else Group(out_syms)
        self._n_out = len(out._nodes)
        self._as_list = isinstance(outputs, (list, tuple)) or self._n_out > 1
        self._symbol = out
        self._input_names = [s._nodes[0].name for s in in_syms]
        self._nodes, self._heads = logical(out._nodes)
        aux = aux_indices(self._nodes)
        inputs_set = set(self._input_names)
        arg_nodes = [(i, ln) for i, ln in enumerate(self._nodes)
                     if ln.is_var and i not in aux and ln.name not in inputs_set]
        aux_nodes = [(i, ln) for i, ln in enumerate(self._nodes)
                     if ln.is_var and i in aux and ln.name not in inputs_set]
        for _, ln in arg_nodes:
            self._param_for(ln, grad_req="write")
        for _, ln in aux_nodes:
            self._param_for(ln, grad_req="null")
        names = list(self._params.keys())
        cut = len(_common_prefix(names))
        self._reg_params = OrderedDict((k[cut:], v) for k, v in self._params.items())

    def _param_for(self, ln, grad_req):
        node = ln.var
        kwargs = {"allow_deferred_init": True}
        if grad_req == "null":
            kwargs["grad_req"] = "null"
        shape, dtype = None, None
        if node is not None and node.param is not None:
            shape, dtype = node.param.shape, node.param.dtype
        elif node is not None and node.type is not None:
            shape, dtype = node.type.shape, node.type.dtype
        elif node is not None and node.partial is not None:
            shape, dtype = node.partial
        if shape is not None:
            kwargs["shape"] = shape
        if dtype is not None:
            kwargs["dtype"] = dtype
        self._params.get(ln.name, **kwargs)

    def __repr__(self):
        return (f"{type(self).__name__}(\n{self._symbol!r} : {len(self._input_names)} -> "
                f"{self._n_out}\n)")

    # ------------------------------------------------------------ calls
    def forward(self, x, *args):
        arrays = _flat_symbols_or_arrays([x, *args])
        if len(arrays) != len(self._input_names):
            raise GraphccError(f"SymbolBlock: expected {len(self._input_names)} input(s) "
                               f"({', '.join(self._input_names)}), got {len(arrays)}")
        values = dict(zip(self._input_names, arrays))
        if current_trace() is not None:      # traced: hybridize, shape inference, or sym input
            for name, p in self._params.items():
                values.setdefault(name, p.data())
            outs = run(self._nodes, self._heads, values, symbolic=True)
        else:
            ctx = arrays[0].context
            for name, p in self._params.items():
                values.setdefault(name, p.data(ctx))
            outs = run(self._nodes, self._heads, values, symbolic=False, ctx=ctx)
        return list(outs) if self._as_list else outs[0]

    def hybrid_forward(self, F, x, *args, **kwargs):
        raise NotImplementedError

    # ------------------------------------------------------------ import
    @staticmethod
    def imports(symbol_file, input_names, param_file=None, ctx=None, allow_missing=False,
                ignore_extra=False):
        """Load a model written by ``HybridBlock.export`` (ours or MXNet's JSON)."""
        from .. import sym
        symbol = sym.load(symbol_file)
        if isinstance(input_names, str):
            input_names = [input_names]
        known = symbol.list_inputs()
        missing = [n for n in input_names if n not in known]
        if missing:
            raise GraphccError(f"SymbolBlock.imports: input(s) {', '.join(map(repr, missing))} "
                               f"are not variables of the symbol in '{symbol_file}'; its "
                               f"variables are: {', '.join(known)}")
        if param_file is None:
            inputs = [sym.var(n, dtype="float32") for n in input_names]
        else:
            inputs = [sym.var(n) for n in input_names]
        block = SymbolBlock(symbol, inputs)
        if param_file is not None:
            block._load_exported(param_file, ctx, allow_missing, ignore_extra)
        return block

    def _load_exported(self, filename, ctx, allow_missing, ignore_extra):
        """Load ``arg:``/``aux:`` keyed arrays into the parameters, all or nothing."""
        arrays = _read_params(filename)
        loaded = OrderedDict()
        for k, v in arrays.items():
            name = k[4:] if k.startswith(("arg:", "aux:")) else k
            if name in loaded:
                raise ParameterError(f"{filename}: parameter {name!r} is stored twice")
            loaded[name] = v
        assign_all(OrderedDict(self._params.items()), loaded, filename, ctx, allow_missing,
                   ignore_extra, cast_dtype=True, dtype_source="saved")


def _read_params(filename) -> dict:
    """name -> array from our parameter files or MXNet 1.x's binary ``.params``."""
    return read_arrays(filename)[1]


def _flat_symbols_or_arrays(x):
    out = []
    for v in x:
        if isinstance(v, (list, tuple)):
            out.extend(_flat_symbols_or_arrays(v))
        elif isinstance(v, (NDArray, Symbol)):
            out.append(v)
        else:
            raise GraphccError(f"SymbolBlock: inputs must be NDArrays or Symbols, got "
                               f"{type(v).__name__}")
    return out
