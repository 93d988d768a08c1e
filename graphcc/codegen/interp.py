"""The interpreter backend: each op's reference implementation, one NumPy call per node, on
the planned arena. It stays the definition of what a compiled graph means.

A phase becomes a flat list of steps, each an op row's NumPy implementation with its
attributes bound once; results are copied into their planned slots. Values internal to a
fused kernel stay temporaries.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .. import ops
from ..errors import GraphccError
from ..ir.graph import Graph


class Phase:
    """Nodes [start, stop) of a graph as steps; ``keep`` values survive the phase."""

    def __init__(self, g: Graph, start: int, stop: int, keep: set[int], plan=None):
        self.steps = []
        last: dict[int, int] = {}
        for i in range(start, stop):
            for j in g.nodes[i].inputs:
                last[j] = i
        # A fused kernel is one step of the plan: its outputs may take over the storage of
        # inputs that later members of the kernel still read. Members run one by one here,
        # so their slotted values are written to the arena when the whole kernel has run.
        kernel_end = {i: ks[-1] for ks in g.kernels for i in ks}
        self.flush: dict[int, list[int]] = {}
        for i in range(start, stop):
            n = g.nodes[i]
            if n.op == "input":
                continue
            if n.op == "const":
                self.steps.append((i, None, g.consts[n.attr("name")], (), None, (), False))
                continue
            row = ops.get(n.op)
            frees = tuple(j for j in set(n.inputs) if last.get(j) == i and j not in keep)
            slotted = plan is not None and i in plan.storage_of and not (
                row.kind == "view" and n.inputs and (n.inputs[0] in plan.storage_of) and
                plan.storage_of[n.inputs[0]] == plan.storage_of[i])
            end = kernel_end.get(i, i)
            if slotted and end != i:
                self.flush.setdefault(end, []).append(i)
                slotted = False
            self.steps.append((i, row.impl, n.attrs_dict, n.inputs, (n.shape, n.dtype), frees,
                               slotted))

    def run(self, env: dict, slots: dict | None, hook: Callable | None = None,
            g: Graph | None = None) -> dict:
        with np.errstate(all="ignore"):
            for i, impl, attrs, inputs, typ, frees, slotted in self.steps:
                if impl is None:
                    env[i] = attrs
                    continue
                r = impl(*[env[j] for j in inputs], **attrs)
                if not isinstance(r, np.ndarray):
                    r = np.asarray(r)
                shape, dtype = typ
                if r.dtype.name != dtype:
                    r = r.astype(dtype)
                if r.shape != shape:
                    raise GraphccError(f"node %{i}: implementation returned shape {r.shape}, "
                                       f"expected {shape}")
                if slotted and slots is not None:
                    dst = slots[i]
                    np.copyto(dst, r)
                    r = dst
                env[i] = r
                if hook is not None:
                    hook(i, g.nodes[i] if g is not None else None, r)
                if slots is not None and i in self.flush:
                    for v in self.flush[i]:
                        np.copyto(slots[v], env[v])
                        env[v] = slots[v]
                for j in frees:
                    env.pop(j, None)
        return env


class InterpBackend:
    name = "interp"

    def lower(self, g, start, stop, keep, plan):
        return Phase(g, start, stop, keep, plan)
