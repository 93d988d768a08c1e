"""The CPU backend: every kernel of the optimised graph becomes generated code or a BLAS call
that writes straight into its planned slot.

Lowering turns a phase (a range of nodes) into *steps*, one per kernel of ``Graph.kernels``
or per node outside a kernel:
- ``GenStep``: an elementwise/broadcast group (or single node) rendered by ``render.py`` and
  compiled by Numba; it writes its outputs into their arena slots.
- ``OpaqueStep``: an opaque op (matrix product, convolution...) and its elementwise epilogue.
  Matrix products (``FullyConnected``, 2-d ``dot``, ``batch_dot``) go to BLAS
  (``np.matmul(..., out=slot)``); other opaque ops run their reference implementation into
  the same buffer. The epilogue (a bias, an activation, a residual add...) is one generated
  kernel that reads that buffer; when the product itself is not needed later, it is written
  into the epilogue's output slot and the epilogue runs in place over it.
- ``RefStep``: anything without generated code yet (reductions, index ops, random ops) runs
  its reference implementation and is copied into its slot; the profile counts these as
  fallbacks.
Values internal to a kernel never exist as arrays. A value must exist when a node outside its
step reads it, or it is kept for a later phase (saved for the backward, an output).
"""
from __future__ import annotations

import sys
import time

import numpy as np

from .. import flags, ops
from ..errors import GraphccError
from ..ir.graph import Node
from ..passes.planner import unplanned_outputs
from . import opaque, render
from .cache import CACHE
from .conv import OPS as CONV_OPS
from .kernel import Kernel
from .rows import RowKernel

class _Ctx:
    """What lowering needs to know about a phase."""

    def __init__(self, g, start, stop, keep, plan):
        self.g, self.plan, self.keep = g, plan, keep
        self.readers: dict[int, list[int]] = {}
        for i in range(start, len(g.nodes)):
            for j in g.nodes[i].inputs:
                self.readers.setdefault(j, []).append(i)
        self.outputs = set(g.outputs)
        # a backward phase's gradients live outside the plan; the runtime gives each a
        # destination among the slots (a parameter's gradient buffer, or a fresh array)
        self.grad_outs = set(unplanned_outputs(g, plan, start, sorted(keep)).values()) \
            if start > 0 else set()

    def needed(self, unit) -> list[int]:
        """Members of ``unit`` that must exist as arrays after it runs."""
        us = set(unit)
        return [m for m in unit
                if m in self.keep or m in self.outputs or
                any(r not in us for r in self.readers.get(m, ()))]

    def slotted(self, v) -> bool:
        plan = self.plan
        if plan is not None and v in self.grad_outs:
            return True           # the runtime puts its destination in the slots
        if plan is None or v not in plan.storage_of:
            return False
        n = self.g.nodes[v]
        if ops.get(n.op).kind == "view" and n.inputs and \
                plan.storage_of.get(n.inputs[0]) == plan.storage_of[v]:
            return False          # a view of its input's slot: nothing to write
        return True

    def storage(self, v):
        plan = self.plan
        if plan is None:
            return None
        return plan.storage_of.get(v)


# ---------------------------------------------------------------- steps


class Step:
    kind = "fallback"
    outs: tuple = ()
    members: tuple = ()
    frees: tuple = ()

    def describe(self, g) -> str:
        ops_ = " ".join(f"%{m} {g.nodes[m].op}" for m in self.members)
        return f"{self.kind}: {ops_}"


class FillStep(Step):
    """``zeros`` / ``ones`` / ``full``: the constant written straight into the slot."""
    kind = "generated"

    def __init__(self, ctx, i):
        n = ctx.g.nodes[i]
        self.i = i
        self.members = self.outs = (i,)
        self.value = {"zeros": 0, "ones": 1}.get(n.op, n.attr("value"))
        self.slotted = ctx.slotted(i)
        self.shape, self.dtype = n.shape, n.dtype

    def run(self, env, slots):
        d = slots[self.i] if self.slotted and slots is not None else \
            np.empty(self.shape, self.dtype)
        d.fill(self.value)
        env[self.i] = d

    def describe(self, g) -> str:
        return f"fill: %{self.i} {g.nodes[self.i].op}"


class ConstStep(Step):
    kind = "const"

    def __init__(self, i, value):
        self.i, self.value = i, value
        self.members = self.outs = (i,)

    def run(self, env, slots):
        env[self.i] = self.value


class RefStep(Step):
    """Reference implementations, member by member; needed values copied into their slots
    once the whole group has run (an output may take over an input a later member reads)."""

    def __init__(self, ctx, unit, needed):
        g = ctx.g
        self.members = tuple(unit)
        self.outs = tuple(needed)
        self.calls = []
        for m in unit:
            n = g.nodes[m]
            self.calls.append((m, ops.get(n.op).impl, n.attrs_dict, n.inputs, n.shape, n.dtype))
        self.slotted = tuple(v for v in needed if ctx.slotted(v))
        self.drop = tuple(m for m in unit if m not in set(needed))
        views = all(ops.get(g.nodes[m].op).kind == "view" for m in unit)
        self.kind = "view" if views else "fallback"

    def run(self, env, slots):
        for m, impl, attrs, inputs, shape, dtype in self.calls:
            r = impl(*[env[j] for j in inputs], **attrs)
            if not isinstance(r, np.ndarray):
                r = np.asarray(r)
            if r.dtype.name != dtype:
                r = r.astype(dtype)
            if r.shape != shape:
                raise GraphccError(f"node %{m}: implementation returned shape {r.shape}, "
                                   f"expected {shape}")
            env[m] = r
        if slots is not None:
            for v in self.slotted:
                dst = slots[v]
                np.copyto(dst, env[v])
                env[v] = dst
        for m in self.drop:
            env.pop(m, None)


def _ew_kernel(members, inputs, outputs, domain, nodes, what):
    """An elementwise kernel over the collapsed ``domain``; ``in_shapes`` are the shapes its
    inputs are reshaped to."""
    cdomain, cshapes = render.collapse(domain, [nodes[j].shape for j in inputs])
    r = render.render_elementwise(members, inputs, outputs, cdomain, cshapes, nodes)
    k = Kernel(r.source, what)
    k.domain, k.in_shapes = cdomain, tuple(cshapes)
    return k


def _dests(outs, direct, slotted, types, slots):
    """Where a step's kernel writes each output: its slot when it may write there directly,
    else a fresh array (copied into the slot afterwards by ``_publish``)."""
    return [slots[v] if sl and dr and slots is not None else np.empty(shape, dtype)
            for v, dr, sl, (shape, dtype) in zip(outs, direct, slotted, types)]


def _publish(env, outs, dests, slotted, slots):
    for v, d, sl in zip(outs, dests, slotted):
        if sl and slots is not None and d is not slots[v]:
            np.copyto(slots[v], d)
            d = slots[v]
        env[v] = d


def _what(g, members) -> str:
    parts = []
    for m in members:
        n = g.nodes[m]
        parts.append(f"%{m} {n.op}" + (f" ({n.loc})" if n.loc else ""))
    return ", ".join(parts)


class GenStep(Step):
    kind = "generated"

    def __init__(self, ctx, unit, needed):
        g = ctx.g
        self.members = tuple(unit)
        self.outs = tuple(needed)
        us = set(unit)
        inputs = []
        for m in unit:
            for j in g.nodes[m].inputs:
                if j not in us and j not in inputs:
                    inputs.append(j)
        render.check_dtypes(unit, inputs, g.nodes)
        domain = g.nodes[needed[0]].shape
        self.inputs = tuple(inputs)
        self.kernel = _ew_kernel(unit, inputs, needed, domain, g.nodes, _what(g, unit))
        # an output may share its slot with an input (in place) only when both are indexed
        # alike; otherwise it goes through a temporary
        self.direct = tuple(_direct(ctx, v, inputs, domain) for v in needed)
        self.slotted = tuple(ctx.slotted(v) for v in needed)
        self.types = tuple((g.nodes[v].shape, g.nodes[v].dtype) for v in needed)

    def run(self, env, slots):
        k = self.kernel
        args = [env[j].reshape(s) for j, s in zip(self.inputs, k.in_shapes)]
        dests = _dests(self.outs, self.direct, self.slotted, self.types, slots)
        k(args + [d.reshape(k.domain) for d in dests])
        _publish(env, self.outs, dests, self.slotted, slots)


def _direct(ctx, v, inputs, domain) -> bool:
    sid = ctx.storage(v)
    if sid is None:
        return True
    node = ctx.g.nodes[v]
    for j in inputs:
        if ctx.storage(j) == sid:
            jn = ctx.g.nodes[j]
            if render.padded(jn.shape, len(domain)) != tuple(domain) or \
                    np.dtype(jn.dtype).itemsize != np.dtype(node.dtype).itemsize:
                return False
    return True


class OpaqueStep(Step):
    """An opaque op (BLAS or its reference implementation) into a buffer, then its generated
    epilogue."""

    def __init__(self, ctx, unit, needed, anchor):
        g = ctx.g
        self.g = g
        self.members = tuple(unit)
        self.outs = tuple(needed)
        self.anchor = anchor
        a = g.nodes[anchor]
        self.a_inputs = a.inputs
        self.blas = opaque.blas_call(a)
        self.kind = "blas" if self.blas is not None else "fallback"
        if self.blas is None:
            gen = opaque.generated_call(g, a, _what(g, (anchor,)))
            if gen is not None:          # convolutions are BLAS around generated loops
                self.blas = gen
                self.kind = "blas" if a.op in CONV_OPS else "generated"
        self.impl, self.attrs = ops.get(a.op).impl, a.attrs_dict
        self.a_shape, self.a_dtype = a.shape, a.dtype
        epilogue = [m for m in unit if m != anchor]
        bias = None
        if a.op == "FullyConnected" and not a.attr("no_bias") and self.blas is not None:
            bias = a.inputs[2]
        self.a_slot = anchor in needed and ctx.slotted(anchor)
        if not epilogue and bias is None:
            self.epi = None
            return
        # the epilogue reads the product buffer as pseudo-value "mm"; a bias makes the
        # anchor's value mm + bias
        nodes = {i: g.nodes[i] for i in range(len(g.nodes))}
        nodes["mm"] = Node("input", (), a.shape, a.dtype)
        us = set(epilogue)
        members = list(epilogue)
        if bias is not None:
            bn = g.nodes[bias]
            nodes[anchor] = Node("add", ("mm", bias), a.shape, a.dtype)
            nodes["bias"] = bn
            members = [anchor] + members
        inputs = ["mm"]
        for m in members:
            for j in nodes[m].inputs:
                if j not in us and j != "mm" and j not in inputs and \
                        (j != anchor or bias is None):
                    inputs.append(j)
        if bias is None:
            inputs = [("mm" if j == anchor else j) for j in inputs]
            inputs = list(dict.fromkeys(inputs))
            # epilogue members read the anchor under the pseudo name
            for m in members:
                n = nodes[m]
                if anchor in n.inputs:
                    nodes[m] = Node(n.op, tuple("mm" if j == anchor else j for j in n.inputs),
                                    n.shape, n.dtype, n.attrs, n.loc)
        outs = [v for v in needed if v != anchor or bias is not None]
        self.epi_outs = tuple(outs)
        render.check_dtypes([m for m in members], [j for j in inputs if j != "mm"], g.nodes)
        if a.dtype not in render.GEN_DTYPES:
            raise render.NotRenderable(a.dtype)
        self.epi_inputs = tuple(inputs)
        self.epi = _ew_kernel(members, inputs, outs, a.shape, nodes, _what(g, unit))
        # where the product goes: the anchor's slot when it is needed, else an epilogue
        # output of its shape whose slot no other input of the step shares
        ext = set(j for j in inputs if j != "mm") | set(a.inputs)
        self.into = None
        if anchor not in needed:
            for v in outs:
                n = g.nodes[v]
                sid = ctx.storage(v)
                if n.shape == a.shape and n.dtype == a.dtype and ctx.slotted(v) and \
                        all(ctx.storage(j) != sid for j in ext):
                    self.into = v
                    break
        self.direct = tuple(_direct(ctx, v, [j for j in inputs if j != "mm"], a.shape)
                            for v in outs)
        self.slotted = tuple(ctx.slotted(v) for v in outs)
        self.types = tuple((g.nodes[v].shape, g.nodes[v].dtype) for v in outs)

    def run(self, env, slots):
        if self.a_slot and slots is not None:
            buf = slots[self.anchor]
        elif self.epi is not None and self.into is not None and slots is not None:
            buf = slots[self.into]
        else:
            buf = np.empty(self.a_shape, self.a_dtype)
        args = [env[j] for j in self.a_inputs]
        if self.blas is not None:
            self.blas(buf, *args)
        else:
            r = self.impl(*args, **self.attrs)
            np.copyto(buf, r, casting="unsafe")
        if self.epi is None:
            env[self.anchor] = buf
            return
        k = self.epi
        kargs = [buf.reshape(k.in_shapes[0])]
        kargs += [env[j].reshape(s) for j, s in zip(self.epi_inputs[1:], k.in_shapes[1:])]
        dests = _dests(self.epi_outs, self.direct, self.slotted, self.types, slots)
        k(kargs + [d.reshape(k.domain) for d in dests])
        _publish(env, self.epi_outs, dests, self.slotted, slots)
        if self.anchor in self.outs and self.anchor not in self.epi_outs:
            env[self.anchor] = buf


class RowStep(Step):
    """A reduction group (reductions, row-wise ops and their elementwise neighbours) as one
    generated kernel over rows (``rows.py``)."""
    kind = "generated"

    def __init__(self, ctx, unit, needed):
        g = ctx.g
        self.members = tuple(unit)
        self.outs = tuple(needed)
        rk = RowKernel(unit, needed, g.nodes)
        self.kernel = Kernel(rk.source, _what(g, unit))
        self.R, self.C = rk.R, rk.C
        self.loads = tuple((j, s, rk.expand.get(p)) for p, (j, s) in
                           enumerate(zip(rk.load_values, rk.load_shapes)))
        self.out_shapes = tuple(rk.out_shape(v) for v in needed)
        ins = [j for j in rk.load_values]
        self.direct = tuple(_direct(ctx, v, ins, rk.S) for v in needed)
        self.slotted = tuple(ctx.slotted(v) for v in needed)
        self.types = tuple((g.nodes[v].shape, g.nodes[v].dtype) for v in needed)

    def run(self, env, slots):
        args = [self.R, self.C]
        for j, s, expand in self.loads:
            a = env[j]
            args.append((np.broadcast_to(a, expand) if expand else a).reshape(s))
        dests = _dests(self.outs, self.direct, self.slotted, self.types, slots)
        self.kernel(args + [d.reshape(s) for d, s in zip(dests, self.out_shapes)])
        _publish(env, self.outs, dests, self.slotted, slots)


# ---------------------------------------------------------------- lowering


class CpuPhase:
    """Nodes [start, stop) of a graph lowered to steps."""

    def __init__(self, g, start, stop, keep, plan):
        ctx = _Ctx(g, start, stop, keep, plan)
        self.g = g
        self.steps: list[Step] = []
        kernel_at = {ks[0]: ks for ks in g.kernels}
        i = start
        while i < stop:
            unit = kernel_at.get(i, (i,))
            i = unit[-1] + 1
            if g.nodes[unit[0]].op == "input":
                continue
            self.steps.append(_lower(ctx, unit))
        # drop values no later step of this phase reads (unless kept)
        last: dict[int, int] = {}
        for k, st in enumerate(self.steps):
            for m in st.members:
                for j in g.nodes[m].inputs:
                    last[j] = k
        for k, st in enumerate(self.steps):
            st.frees = tuple(j for j, lk in last.items() if lk == k and j not in keep)
        self._ran = False
        self.where = "forward" if start == 0 else "backward"
        if flags.DEBUG >= 4:
            for k, st in enumerate(self.steps):
                kern = getattr(st, "kernel", None) or getattr(st, "epi", None)
                if kern is not None:
                    print(f"# graphcc {self.where} step {k}: {st.describe(g)}\n"
                          f"# {_what(g, st.members)}\n{kern.source}", file=sys.stderr)

    def _first_run(self, env, slots, hook):
        """The first run compiles (or loads) every kernel it calls: timed apart, and told
        with GRAPHCC_DEBUG >= 1 (>= 2: per step)."""
        before = dict(CACHE.stats)
        t0 = time.perf_counter()
        self._ran = True
        if flags.DEBUG < 2:
            try:
                return self.run(env, slots, hook)
            finally:
                self._report(before, t0)
        with np.errstate(all="ignore"):
            for k, st in enumerate(self.steps):
                t1 = time.perf_counter()
                st.run(env, slots)
                print(f"graphcc:   {self.where} step {k}: {st.describe(self.g)}: first run "
                      f"{(time.perf_counter() - t1) * 1e3:.2f} ms", file=sys.stderr)
                if hook is not None:
                    for v in st.outs:
                        hook(v, self.g.nodes[v], env[v])
                for j in st.frees:
                    env.pop(j, None)
        self._report(before, t0)
        return env

    def _report(self, before, t0):
        if flags.DEBUG < 1:
            return
        d = {k: CACHE.stats[k] - before.get(k, 0) for k in CACHE.stats}
        gen = sum(1 for s in self.steps if s.kind in ("generated", "blas"))
        fb = [s for s in self.steps if s.kind == "fallback"]
        print(f"graphcc: cpu {self.where}: {len(self.steps)} steps ({gen} generated or "
              f"BLAS, {len(fb)} reference fallbacks); kernels {d['compiled']} "
              f"compiled, {d['loaded']} loaded from the cache in {d['seconds']:.2f} s; "
              f"first run {time.perf_counter() - t0:.2f} s", file=sys.stderr)

    def run(self, env, slots, hook=None, g=None):
        if not self._ran:
            return self._first_run(env, slots, hook)
        with np.errstate(all="ignore"):
            for st in self.steps:
                st.run(env, slots)
                if hook is not None:
                    for v in st.outs:
                        hook(v, self.g.nodes[v], env[v])
                for j in st.frees:
                    env.pop(j, None)
        return env


def _lower(ctx, unit) -> Step:
    g = ctx.g
    n0 = g.nodes[unit[0]]
    if len(unit) == 1 and n0.op == "const":
        return ConstStep(unit[0], g.consts[n0.attr("name")])
    needed = ctx.needed(unit)
    rows = [ops.get(g.nodes[m].op) for m in unit]
    if len(unit) == 1 and n0.op in ("zeros", "ones", "full") and needed:
        return FillStep(ctx, unit[0])
    try:
        if not needed:
            raise render.NotRenderable("nothing to write")
        if all(r.kind in ("elementwise", "broadcast") and not r.random for r in rows):
            return GenStep(ctx, unit, needed)
        if any(r.kind == "reduction" for r in rows) and all(
                r.kind in ("elementwise", "broadcast", "reduction") and not r.random
                for r in rows):
            return RowStep(ctx, unit, needed)
        opaque = [m for m, r in zip(unit, rows) if r.kind == "opaque"]
        if len(opaque) == 1 and all(r.kind in ("elementwise", "broadcast", "opaque")
                                    and not r.random for r in rows):
            return OpaqueStep(ctx, unit, needed, opaque[0])
    except render.NotRenderable:
        pass
    return RefStep(ctx, unit, needed)


class CpuBackend:
    name = "cpu"

    def lower(self, g, start, stop, keep, plan):
        return CpuPhase(g, start, stop, keep, plan)
