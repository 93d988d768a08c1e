"""Cached graphs of a hybridized block: trace once per call signature, compile, run.

The signature of a call is its argument structure (nesting, non-array values), every array's
shape and dtype, the device, train/predict mode, whether autograd is recording and which
inputs need gradients. A hit runs the compiled executable without running any Python of the
block. Under ``autograd.record()`` the forward runs the first part of a joint forward+backward
program and records one tape node whose backward runs the second part; auxiliary-state
updates (BatchNorm's moving statistics) computed by the forward are written when the backward
runs, as MXNet does.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from .. import flags, ops
from ..errors import AutogradError, DeviceError, GraphccError
from . import autograd
from .ndarray import NDArray
from .symbol import Symbol, to_graph, typed_var
from .trace import Trace, tracing


@dataclass
class TraceResult:
    graph: object
    variables: list           # SymNodes behind the graph inputs, in order
    out_format: object        # nesting of the outputs (None = single output)
    n_outputs: int            # user outputs; aux-state updates follow them
    aux_targets: list = field(default_factory=list)   # Parameters updated by the extra outputs
    outputs: list = field(default_factory=list)   # the traced output Symbols (for export)
    inputs: list = field(default_factory=list)    # the data variables: data or data0, data1..
    aux_decays: list = field(default_factory=list)   # state = decay * state + aux output


def _flatten(x, out):
    """Flatten nested lists/tuples of arrays; return a format to rebuild them."""
    if isinstance(x, (list, tuple)):
        return (type(x), [_flatten(v, out) for v in x])
    if isinstance(x, (NDArray, Symbol)):
        out.append(x)
        return None
    return ("value", x)


def _rebuild(fmt, it):
    if fmt is None:
        return next(it)
    if fmt[0] == "value":
        return fmt[1]
    kind, parts = fmt
    return kind(_rebuild(p, it) for p in parts)


_VALUE_TYPES = (int, float, str, bool, complex, bytes, type(None))


def _value_key(v, block):
    """A cache key for a non-array argument: its value. Numbers, strings, None, NumPy scalars
    and tuples of those key by value (the type too: 1, 1.0 and True differ). Anything else
    could change after the call without the cache seeing it (a dict mutated, an object's
    attribute set), which would make the cached graph silently stale: it is refused."""
    if isinstance(v, np.generic):
        return ("V", type(v).__name__, v.item())
    if isinstance(v, _VALUE_TYPES):
        return ("V", type(v).__name__, v)
    if isinstance(v, (tuple, frozenset)):
        return ("V", type(v).__name__, tuple(_value_key(e, block) for e in v))
    raise GraphccError(
        f"{type(block).__name__}: the input of HybridBlock must be (nested) list of Symbol or "
        f"NDArray, or numbers, strings, None and tuples of them; got a {type(v).__name__}, "
        "whose value a compiled graph cannot follow (pass its contents, or an array)")


def _signature(fmt, block=None):
    if fmt is None:
        return "A"
    if fmt[0] == "value":
        return _value_key(fmt[1], block)
    return (fmt[0].__name__, tuple(_signature(p, block) for p in fmt[1]))


def trace_block(block, args, kwargs=None, recording=False) -> TraceResult:
    """Run the block's Python once on traced arrays and lower the result to a graph.
    ``recording``: the call is under ``autograd.record()`` (training ops then also emit
    their auxiliary-state updates as extra outputs)."""
    arrays: list = []
    fmt = _flatten(list(args), arrays)
    names = ["data"] if len(arrays) == 1 else [f"data{i}" for i in range(len(arrays))]
    data_vars = [typed_var(n, a._type) for n, a in zip(names, arrays)]
    tr = Trace("hybridize", recording)
    with tracing(tr):
        sargs = _rebuild(fmt, iter(data_vars))
        out = block.forward(*sargs, **(kwargs or {}))
    outs: list = []
    out_fmt = _flatten(out, outs)
    for o in outs:
        if not isinstance(o, Symbol):
            raise GraphccError(f"{type(block).__name__}.forward returned a {type(o).__name__}; "
                               "a hybridized block must return arrays computed from its "
                               "inputs")
    from .symbol import chain_aux_updates
    aux_updates = chain_aux_updates(tr.aux_calls)
    aux_vals = [v for _, v, _ in aux_updates]
    g, variables = to_graph(outs + aux_vals, data_vars)
    for pid, v in tr.param_vars.items():
        p = tr.params[pid]
        if p._deferred_init and v._nodes[0].type is not None:
            p.shape = v._nodes[0].type.shape
            p._finish_deferred_init()
    return TraceResult(g, variables, out_fmt, len(outs),
                       [node.param for node, _, _ in aux_updates], outs, data_vars,
                       [d for _, _, d in aux_updates])


@dataclass
class Entry:
    trace: TraceResult
    exe: object
    wrt_vars: list           # indices into trace.variables that get gradients


class CachedGraphs:
    """The compiled graphs of one hybridized block, keyed by call signature (bounded LRU)."""

    def __init__(self, block, backend=None, static_alloc=False, static_shape=False,
                 passes=None, recompute=None, check=False):
        self.block = block
        self.backend = backend      # None: the default backend at compile time
        self.static_alloc = bool(static_alloc)   # inference calls reuse one arena
        self.passes = passes
        self.recompute = recompute
        self.check = check
        self.entries: OrderedDict = OrderedDict()
        self.trace_count = 0
        self.last: Entry | None = None
        self._params = None       # the block's parameters, for their grad_req in the key

    def __call__(self, *args, **kwargs):
        if kwargs:
            raise GraphccError(f"{type(self.block).__name__}: a hybridized block takes its "
                               "inputs positionally")
        arrays: list = []
        fmt = _flatten(list(args), arrays)
        if not arrays:
            raise GraphccError(f"{type(self.block).__name__}: a hybridized block needs at least "
                               "one array input")
        ctx = arrays[0].context
        for a in arrays[1:]:
            if a.context != ctx:
                raise DeviceError(f"{type(self.block).__name__}: inputs are on different devices "
                                  f"({', '.join(str(x.context) for x in arrays)})")
        recording = autograd.is_recording()
        training = autograd.is_training()
        needs = tuple(a._ag_node is not None for a in arrays) if recording else ()
        if recording:     # which parameters get gradients decides what the graph computes
            if self._params is None:
                self._params = list(self.block.collect_params().values())
            needs += tuple(p.grad_req != "null" for p in self._params)
        key = (_signature(fmt, self.block), tuple((a.shape, a._data.dtype) for a in arrays), ctx,
               training, recording, needs)
        entry = self.entries.get(key)
        if entry is None:
            entry = self._build(args, arrays, recording, needs[:len(arrays)])
            self.entries[key] = entry
            while len(self.entries) > max(1, flags.CACHE_SIZE):
                self.entries.popitem(last=False)
        else:
            self.entries.move_to_end(key)
        self.last = entry
        return self._run(entry, arrays, ctx, recording)

    # ------------------------------------------------------------ build
    def _build(self, args, arrays, recording, needs) -> Entry:
        with autograd.pause(autograd.is_training()):
            tr = trace_block(self.block, args, recording=recording)
        self.trace_count += 1
        wrt_vars = []
        if recording:
            data_k = 0
            for k, v in enumerate(tr.variables):
                if v.role == "data":
                    if needs[data_k]:
                        wrt_vars.append(k)
                    data_k += 1
                elif v.role == "param" and v.param is not None and v.param.grad_req != "null":
                    wrt_vars.append(k)
        from ..compiler import compile as compile_graph
        g = tr.graph
        names = [g.nodes[i].attr("name") for i in g.input_ids]
        wrt = [names[k] for k in wrt_vars] if wrt_vars else None
        exe = compile_graph(g, self.backend, self.passes, wrt, n_heads=tr.n_outputs,
                            recompute=self.recompute)
        entry = Entry(tr, exe, wrt_vars)
        if self.check:
            from .check import check_entry
            check_entry(self, entry, args, arrays)
        return entry

    # ------------------------------------------------------------ run
    def _inputs(self, entry, arrays, ctx):
        out, k = [], 0
        for v in entry.trace.variables:
            if v.role == "data":
                out.append(arrays[k])
                k += 1
            elif v.param is not None:
                store = v.param._data          # (the common case without a lookup chain)
                a = store.get(ctx) if store is not None else None
                out.append(a if a is not None else v.param.data(ctx))
            elif v.value is not None:
                out.append(v.value)
            else:
                raise GraphccError(f"graph input {v.name} has no value")
        return out

    def _run(self, entry, arrays, ctx, recording):
        inputs = self._inputs(entry, arrays, ctx)
        hook = self._hook(entry, inputs)
        # an op hook sees every node, so a monitored call runs the reference interpreter
        outs, saved = entry.exe.forward(inputs, hook, static=self.static_alloc,
                                        reference=hook is not None)
        n = entry.trace.n_outputs
        results = [NDArray(o, ctx) for o in outs[:n]]
        aux_values = outs[n:]
        if recording and entry.wrt_vars:
            targets = [inputs[k] for k in entry.wrt_vars]
            exe = entry.exe
            aux_targets = entry.trace.aux_targets
            aux_decays = entry.trace.aux_decays

            def backward(out_grads, retain_graph, dests=None):
                if autograd.is_recording():       # autograd.grad(..., create_graph=True)
                    raise AutogradError(
                        f"{type(self.block).__name__}: create_graph=True (higher-order "
                        "gradients) cannot go through a hybridized block, whose compiled "
                        "backward is not recorded; call the block without hybridize()")
                grads = exe.backward(saved, [g._data for g in out_grads],
                                     keep_saved=retain_graph, out=dests)
                for p, value, decay in zip(aux_targets, aux_values, aux_decays):
                    state = p.data(ctx)._data       # as it is now: earlier backwards count
                    np.copyto(state, decay * state + value, casting="unsafe")
                return [NDArray(gr, ctx) for gr in grads]
            backward.accepts_dests = True    # gradients may go straight to grad buffers
            autograd.record_custom(type(self.block).__name__, targets, results, backward)
        return _rebuild(entry.trace.out_format, iter(results))

    def _hook(self, entry, inputs):
        """The block's op hook (``register_op_hook``) as an executor hook. Names follow
        MXNet's monitor: ``callback(f"{op}{index}_output", op, value)`` for each executed node
        (``index`` into ``entry.exe.graph``; the value is a copy), and with ``monitor_all``
        first each of its inputs as ``f"{op}{index}_{input name}"``."""
        hooks = getattr(self.block, "_op_hooks", None)
        if not hooks:
            return None
        callback, monitor_all = hooks[0]
        g = entry.exe.graph
        values = {}
        if monitor_all:
            ids = [i for i in g.input_ids if g.nodes[i].attr("role") != "grad"]
            values = {i: x._data if isinstance(x, NDArray) else np.asarray(x)
                      for i, x in zip(ids, inputs)}
            values.update({i: g.consts[n.attr("name")] for i, n in enumerate(g.nodes)
                           if n.op == "const"})

        def hook(i, node, value):
            node = g.nodes[i]
            value = np.array(value, copy=True)     # arena slots are reused later
            if monitor_all:
                names = ops.get(node.op).inputs
                for k, j in enumerate(node.inputs):
                    arg = names[k] if k < len(names) and not names[k].startswith("*") \
                        else f"input{k}"
                    if j in values:
                        callback(f"{node.op}{i}_{arg}", node.op,
                                 NDArray(np.array(values[j], copy=True)))
                values[i] = value
            callback(f"{node.op}{i}_output", node.op, NDArray(value))
        return hook

    def profile(self, args, repeat=10):
        """Call the block once (compiling if needed), then profile that compiled program
        step by step: forward, and under ``autograd.record()`` also the backward (head
        gradients of ones)."""
        self(*args)
        entry = self.last
        arrays: list = []
        _flatten(list(args), arrays)
        inputs = self._inputs(entry, arrays, arrays[0].context)
        heads = None
        if entry.wrt_vars:
            prog = entry.exe.program
            heads = [np.ones(entry.exe.graph.nodes[i].shape, entry.exe.graph.nodes[i].dtype)
                     for i in prog.head_ids]
        return entry.exe.profile(inputs, heads, repeat)

    def memory_report(self):
        if self.last is None:
            raise GraphccError("memory_report(): the block has not been called since "
                               "hybridize()")
        return self.last.exe.memory_report()

