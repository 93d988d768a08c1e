"""Profiling a compiled program step by step: per kernel its nodes, time, bytes moved,
achieved GB/s (GFLOP/s for matrix products), share of the call, and how it runs (generated
code, BLAS, or the reference implementation).

``Executable.profile(inputs)`` and ``HybridBlock.profile(x)`` build a ``Profile``; ``str()`` is
a table. Steps are timed one by one (the median of ``repeat`` runs), so the sum is close to a
call's time without the per-call overhead outside the steps.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

# how each step kind counts in the coverage figure
HOW = {"generated": "generated", "blas": "BLAS", "fallback": "reference", "view": "view",
       "const": "view"}


@dataclass
class ProfileRow:
    phase: str
    step: int
    kind: str                # generated / BLAS / reference / view
    nodes: str               # "%7 FullyConnected, %8 Activation"
    seconds: float
    bytes: int
    flops: int

    @property
    def rate(self) -> str:
        if self.seconds <= 0:
            return ""
        if self.flops:
            return f"{self.flops / self.seconds / 1e9:.1f} GFLOP/s"
        return f"{self.bytes / self.seconds / 1e9:.2f} GB/s"


@dataclass
class Profile:
    rows: list[ProfileRow] = field(default_factory=list)
    coverage: dict = field(default_factory=dict)   # kind -> number of nodes

    @property
    def total(self) -> float:
        return sum(r.seconds for r in self.rows)

    def time_share(self) -> dict:
        """Share of the time by kind (generated / BLAS / reference / view)."""
        out: dict = {}
        for r in self.rows:
            out[r.kind] = out.get(r.kind, 0.0) + r.seconds
        tot = self.total or 1.0
        return {k: v / tot for k, v in out.items()}

    def __str__(self) -> str:
        tot = self.total or 1.0
        lines = [f"{'phase':<9}{'#':>4} {'how':<10}{'time':>11}{'share':>7}{'bytes':>11}"
                 f"{'rate':>17}  nodes"]
        for r in self.rows:
            lines.append(f"{r.phase:<9}{r.step:>4} {r.kind:<10}{r.seconds * 1e6:9.1f}us"
                         f"{100 * r.seconds / tot:6.1f}%{_mb(r.bytes):>11}{r.rate:>17}  "
                         f"{r.nodes}")
        cov = ", ".join(f"{k} {v}" for k, v in self.coverage.items())
        share = ", ".join(f"{k} {100 * v:.0f}%" for k, v in self.time_share().items())
        lines.append(f"total {tot * 1e6:.1f}us over {len(self.rows)} steps; nodes: {cov}; "
                     f"time: {share}")
        return "\n".join(lines)


def _mb(n):
    return f"{n / 1e6:.3f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def _flops(g, st) -> int:
    a = getattr(st, "anchor", None)
    if a is None or st.kind != "blas":
        return 0
    n = g.nodes[a]
    ins = [g.nodes[j].shape for j in n.inputs]
    if n.op == "FullyConnected":
        return 2 * math.prod(n.shape) * ins[1][1]
    if n.op == "Convolution":               # 2 * output size * (channels * kernel size)
        return 2 * math.prod(n.shape) * math.prod(ins[1][1:])
    if n.op == "_conv_weight_grad":         # 2 * weight size * (batch * output positions)
        return 2 * math.prod(n.shape) * ins[0][0] * math.prod(ins[0][2:])
    if n.op == "Deconvolution":             # 2 * input size * (num_filter * kernel size)
        return 2 * math.prod(ins[0]) * math.prod(ins[1][1:])
    if n.op in ("dot", "batch_dot"):
        k = ins[0][-1] if not n.attr("transpose_a") else ins[0][-2 if n.op == "batch_dot"
                                                               else 0]
        return 2 * math.prod(n.shape) * k
    return 0


def _bytes(g, st) -> int:
    ms = set(st.members)
    read = {j for m in st.members for j in g.nodes[m].inputs if j not in ms}
    return sum(g.nodes[j].nbytes for j in read) + sum(g.nodes[v].nbytes for v in st.outs)


def coverage(g, phases) -> dict:
    """Nodes by how they run: generated code, BLAS, the reference implementation, views."""
    out = {"generated": 0, "BLAS": 0, "reference": 0, "view": 0}
    for ph in phases:
        for st in getattr(ph, "steps", ()):
            if not hasattr(st, "members"):
                return {"reference": sum(1 for n in g.nodes if n.op not in ("input", "const"))}
            kind = HOW.get(st.kind, st.kind)
            anchor = getattr(st, "anchor", None)
            if anchor is not None:       # an opaque op and its generated epilogue
                out[kind] = out.get(kind, 0) + 1
                out["generated"] += len(st.members) - 1
            else:
                out[kind] = out.get(kind, 0) + len(st.members)
    return {k: v for k, v in out.items() if v}


def profile_program(program, inputs, heads=None, repeat=10) -> Profile:
    """Time every step of ``program`` (forward, and backward when ``heads`` are given)."""
    g = program.graph
    phases = [("forward", program.forward)]
    if heads is not None and program.backward is not None:
        phases.append(("backward", program.backward))
    if not all(hasattr(ph, "steps") and all(hasattr(s, "run") for s in ph.steps)
               for _, ph in phases):
        return _whole_phases(program, inputs, heads, repeat, phases)
    times: dict = {}
    for _ in range(max(1, repeat)):
        slots = program.with_grad_slots(program._slots())
        env = program.bind_inputs(inputs, program.fwd_input_ids)
        if heads is not None:
            env.update(program.bind_inputs(heads, program.head_ids))
        with np.errstate(all="ignore"):
            for name, ph in phases:
                for k, st in enumerate(ph.steps):
                    t0 = time.perf_counter()
                    st.run(env, slots)
                    times.setdefault((name, k), []).append(time.perf_counter() - t0)
    prof = Profile(coverage=coverage(g, [ph for _, ph in phases]))
    for name, ph in phases:
        for k, st in enumerate(ph.steps):
            if st.kind == "const":
                continue
            nodes = ", ".join(f"%{m} {g.nodes[m].op}" for m in st.members)
            prof.rows.append(ProfileRow(name, k, HOW.get(st.kind, st.kind), nodes,
                                        float(np.median(times[(name, k)])), _bytes(g, st),
                                        _flops(g, st)))
    return prof


def _whole_phases(program, inputs, heads, repeat, phases) -> Profile:
    """A backend without steps (the interpreter): one row per phase."""
    g = program.graph
    prof = Profile(coverage=coverage(g, [ph for _, ph in phases]))
    for name, ph in phases:
        ts = []
        for _ in range(max(1, repeat)):
            slots = program.with_grad_slots(program._slots())
            env = program.bind_inputs(inputs, program.fwd_input_ids)
            if name == "backward":
                env.update(program.bind_inputs(heads, program.head_ids))
                program.forward.run(env, slots)
            t0 = time.perf_counter()
            ph.run(env, slots)
            ts.append(time.perf_counter() - t0)
        n = sum(1 for n in g.nodes if n.op not in ("input", "const"))
        prof.rows.append(ProfileRow(name, 0, "reference", f"{n} nodes", float(np.median(ts)),
                                    0, 0))
    return prof
