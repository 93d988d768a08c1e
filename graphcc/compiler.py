"""Public compiler entry points: ``trace`` (a function or block -> Graph) and ``compile``
(Graph -> Executable)."""
from __future__ import annotations

import time
from typing import Sequence

import numpy as np

from . import flags
from .errors import GraphccError
from .ir.graph import Graph
from .passes import (DEFAULT_PIPELINE, gradient_pass, recompute_pass, run_pipeline,
                     split_forward_backward)
from .runtime.executor import Program


def default_backend() -> str:
    """``GRAPHCC_BACKEND`` when set, else ``cpu`` (generated kernels)."""
    return flags.BACKEND or "cpu"


def _pipeline(passes, wrt, n_heads=None, recompute=None):
    if passes is not None and (isinstance(passes, (str, bytes)) or
                               not hasattr(passes, "__iter__")):
        raise GraphccError(f"passes must be a sequence of pass names or functions, got "
                           f"{passes!r}")
    pipeline = list(DEFAULT_PIPELINE if passes is None else passes)
    if wrt is None:
        return [p for p in pipeline if p != "gradient"]
    if "gradient" not in pipeline:
        pipeline.insert(0, "gradient")   # a training compile differentiates first by default
    pipeline = [gradient_pass(wrt, n_heads) if p == "gradient" else p for p in pipeline]
    if recompute:
        # recomputation goes right before scheduling (or fusion, or memory planning, or at the
        # end)
        if recompute is not True and (isinstance(recompute, bool) or
                                      not isinstance(recompute, (int, np.integer))):
            raise GraphccError(f"recompute must be True or a number of segments, got "
                               f"{recompute!r}")
        segments = None if recompute is True else int(recompute)
        at = next((k for k, p in enumerate(pipeline) if p in ("schedule", "fuse",
                                                               "plan_memory")), len(pipeline))
        pipeline.insert(at, recompute_pass(segments))
    return pipeline


class Executable:
    """A compiled graph. Call it on arrays (NDArrays or NumPy) to get NDArrays back."""

    def __init__(self, graph: Graph, backend: str, pipeline_result, grad_info=None):
        self.backend = backend
        self.pipeline = pipeline_result
        self.grad_info = grad_info
        plan = pipeline_result.analyses.get("plan_memory") if pipeline_result else None
        g, k = split_forward_backward(graph)
        if plan is not None and plan.graph is not g:
            plan = None        # made for another graph (a pass after plan_memory changed it)
        n_fwd = len(g.outputs) - len(grad_info.wrt) if grad_info is not None else None
        self.graph = g
        self.plan = plan
        from .codegen import get_backend
        lower = get_backend(backend).lower
        self._k = k if grad_info is not None else None
        self._n_fwd = n_fwd
        self.program = Program(g, self._k, n_fwd, plan, lower)
        self._reference = self.program if backend == "interp" else None
        self._report = None
        self.recompute_graph = None

    @property
    def input_names(self):
        return [self.graph.nodes[i].attr("name") for i in self.graph.input_ids
                if self.graph.nodes[i].attr("role") != "grad"]

    def __call__(self, *arrays):
        from .frontend.ndarray import NDArray
        outs, _ = self.program.run_forward([_np(a) for a in arrays])
        return [NDArray(o) for o in outs]

    def run_named(self, named: dict):
        missing = [n for n in self.input_names if n not in named]
        if missing:
            raise GraphccError(f"missing inputs: {', '.join(missing)}")
        return self(*[named[n] for n in self.input_names])

    @property
    def reference_program(self):
        """The same optimised graph and plan run by the reference interpreter (every node's
        value exists there: op hooks and ``check`` use it)."""
        if self._reference is None:
            from .codegen import get_backend
            self._reference = Program(self.graph, self._k, self._n_fwd, self.plan,
                                      get_backend("interp").lower)
        return self._reference

    def forward(self, arrays, hook=None, static=False, reference=False):
        """Run the forward region; ``static``: reuse one arena across (inference) calls;
        ``reference``: run it with the reference interpreter. ``hook(i, node, value)`` sees
        each value the program materialises (with ``reference``, every node)."""
        prog = self.reference_program if reference else self.program
        return prog.run_forward([_np(a) for a in arrays], hook, static)

    def backward(self, saved, head_grads, hook=None, keep_saved=False, out=None):
        """Run the backward region on a forward's state; ``keep_saved``: leave that state
        intact for another backward; ``out``: per gradient, an array to write it into (or
        None), such as a parameter's gradient buffer."""
        prog = saved.program if getattr(saved, "program", None) is not None else self.program
        return prog.run_backward(saved, [_np(h) for h in head_grads], hook, keep_saved, out)

    def coverage(self) -> dict:
        """How many nodes run generated code, BLAS, the reference implementation, or are
        views."""
        from .runtime.profile import coverage
        return coverage(self.graph, [p for p in (self.program.forward, self.program.backward)
                                     if p is not None])

    def profile(self, inputs, head_grads=None, repeat=10):
        """A ``Profile`` of one call, step by step (with ``head_grads``: forward and
        backward)."""
        from .runtime.profile import profile_program
        heads = None if head_grads is None else [_np(h) for h in head_grads]
        return profile_program(self.program, [_np(a) for a in inputs], heads, repeat)

    def memory_report(self):
        """A ``MemoryReport``: naive, planned, peak-live bytes and every planner variant
        (for a training graph also ``recompute``: the plan with recomputation)."""
        if self._report is None:
            from .passes.memreport import report_for
            rg = None
            if self.grad_info is not None:
                from .passes.fusion import fuse
                from .passes.recompute import recompute as rc
                rg = fuse(rc(Graph(self.graph.nodes, self.graph.outputs, self.graph.consts)))
            self._report = report_for(self.graph, self.plan, rg)
        return self._report

    def __repr__(self):
        return (f"<Executable backend={self.backend} nodes={len(self.graph.nodes)} "
                f"inputs={self.input_names}>")


def _np(a):
    if isinstance(a, np.ndarray):
        return a
    data = getattr(a, "_data", None)          # an NDArray
    return data if isinstance(data, np.ndarray) else np.asarray(a)


def compile(graph: Graph, backend: str | None = None,  # noqa: A001
            passes: Sequence | None = None,
            wrt: Sequence[str] | None = None, n_heads: int | None = None,
            recompute=None) -> Executable:
    """Optimise ``graph`` with ``passes`` (default ``DEFAULT_PIPELINE``) and build an
    executable. ``wrt``: input names to differentiate (a training executable); ``n_heads``:
    how many leading outputs are differentiated (the rest are forward-only values);
    ``recompute``: True (or a number of segments) to recompute forward values in the backward
    instead of keeping them."""
    from .codegen import get_backend
    backend = backend or default_backend()
    get_backend(backend)          # an unknown name fails before any work
    t0 = time.perf_counter()
    result = run_pipeline(graph, _pipeline(passes, wrt, n_heads, recompute))
    info = result.analyses.get("gradient")
    if wrt is not None and info is None:
        raise GraphccError("a training compile needs the gradient pass, which did not run "
                           "(is 'gradient' in GRAPHCC_DISABLE?)")
    exe = Executable(result.graph, backend, result, info)
    if flags.DEBUG >= 1:
        _debug_line(graph, exe, time.perf_counter() - t0)
    return exe


def _debug_line(before: Graph, exe: Executable, seconds: float):
    import sys
    rep = exe.memory_report()
    print(f"graphcc: compiled {len(before.nodes)} -> {len(exe.graph.nodes)} nodes "
          f"({'training' if exe.grad_info else 'inference'}), kernels {rep.kernel_count}, "
          f"memory {rep.naive_bytes / 1e6:.2f} MB naive -> {rep.planned_bytes / 1e6:.2f} MB "
          f"planned, {seconds * 1e3:.1f} ms", file=sys.stderr)


def trace(fn_or_block, *example_inputs) -> Graph:
    """The graph of a function of arrays, or of a HybridBlock, on example inputs' shapes."""
    from .frontend.gluon.block import HybridBlock
    if isinstance(fn_or_block, HybridBlock):
        from .frontend.cached import trace_block
        return trace_block(fn_or_block, example_inputs).graph
    from .frontend.symbol import to_graph, typed_var
    from .frontend.trace import Trace, tracing
    from .frontend.ndarray import NDArray
    from .ir.types import type_of
    if not callable(fn_or_block):
        raise GraphccError(f"trace() needs a function or a HybridBlock, got "
                           f"{type(fn_or_block).__name__}")
    args = []
    for k, x in enumerate(example_inputs):
        a = x._data if isinstance(x, NDArray) else np.asarray(x)
        args.append(typed_var("data" if len(example_inputs) == 1 else f"data{k}", type_of(a)))
    with tracing(Trace("hybridize")):
        out = fn_or_block(*args)
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    from .frontend.symbol import Symbol
    for o in outs:
        if not isinstance(o, Symbol):
            raise GraphccError(f"{getattr(fn_or_block, '__name__', 'the function')} returned a "
                               f"{type(o).__name__}; a traced function must return arrays "
                               "computed from its inputs")
    g, _ = to_graph(outs, args)
    return g


def compile_symbol(symbol, named_inputs: dict, backend=None) -> Executable:
    """Compile a Symbol given its inputs by name (their shapes and dtypes fix the graph)."""
    from .frontend.symbol import to_graph, topo
    given = {}
    for name, a in named_inputs.items():
        a = _np(a)
        given[name] = (tuple(a.shape), a.dtype.name)
    types = symbol._infer(given, partial=False)
    data = [n for n in topo(symbol._nodes) if n.is_var and n.name in named_inputs]
    g, _ = to_graph([symbol], data, types)
    return compile(g, backend)
