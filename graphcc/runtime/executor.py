"""The interpreter backend's executor: a graph becomes a flat list of steps, each one op row's
NumPy implementation with its attributes bound once; values are dropped after their last
reader in the phase that runs them.

A training program is a joint forward+backward graph whose nodes [0, k) run in the forward
call and [k, n) in the backward call; the forward keeps exactly the values the backward reads.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .. import ops
from ..errors import GraphccError
from ..ir.graph import Graph


class Phase:
    """Nodes [start, stop) of a graph as steps; ``keep`` values survive the phase."""

    def __init__(self, g: Graph, start: int, stop: int, keep: set[int]):
        self.steps = []
        last: dict[int, int] = {}
        for i in range(start, stop):
            for j in g.nodes[i].inputs:
                last[j] = i
        for i in range(start, stop):
            n = g.nodes[i]
            if n.op == "input":
                continue
            if n.op == "const":
                value = g.consts[n.attr("name")]
                self.steps.append((i, None, value, (), None, ()))
                continue
            row = ops.get(n.op)
            frees = tuple(j for j in set(n.inputs) if last.get(j) == i and j not in keep)
            self.steps.append((i, row.impl, n.attrs_dict, n.inputs, (n.shape, n.dtype), frees))

    def run(self, env: dict, hook: Callable | None = None, g: Graph | None = None) -> dict:
        with np.errstate(all="ignore"):
            for i, impl, attrs, inputs, typ, frees in self.steps:
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
                env[i] = r
                if hook is not None:
                    hook(i, g.nodes[i] if g is not None else None, r)
                for j in frees:
                    env.pop(j, None)
        return env


class Program:
    """Run a graph (or a joint training graph split at ``k``) on NumPy arrays."""

    def __init__(self, g: Graph, k: int | None = None, n_forward_outputs: int | None = None):
        self.graph = g
        self.k = len(g.nodes) if k is None else k
        self.n_fwd = len(g.outputs) if n_forward_outputs is None else n_forward_outputs
        self.input_ids = g.input_ids
        fwd_outs = set(g.outputs[:self.n_fwd])
        bwd_outs = set(g.outputs[self.n_fwd:])
        # forward values the backward reads (saved between the calls)
        heads = {i for i in self.input_ids if g.nodes[i].attr("role") == "grad"}
        self.saved = sorted(({j for i in range(self.k, len(g.nodes)) for j in g.nodes[i].inputs
                              if j < self.k} | {o for o in bwd_outs if o < self.k}) - heads)
        self.forward = Phase(g, 0, self.k, fwd_outs | set(self.saved))
        self.backward = Phase(g, self.k, len(g.nodes), bwd_outs) if self.k < len(g.nodes) \
            else None

    def bind_inputs(self, arrays, ids) -> dict:
        env = {}
        for i, a in zip(ids, arrays):
            n = self.graph.nodes[i]
            a = np.asarray(a)
            if a.shape != n.shape or a.dtype.name != n.dtype:
                raise GraphccError(f"input {n.attr('name')!r}: expected {n.type}, got "
                                   f"{a.dtype.name}{list(a.shape)}")
            env[i] = a
        return env

    def run_forward(self, arrays, hook=None):
        """Outputs of the forward part, and the values the backward part will read."""
        fwd_inputs = [i for i in self.input_ids if self.graph.nodes[i].attr("role") != "grad"]
        if len(arrays) != len(fwd_inputs):
            raise GraphccError(f"the graph takes {len(fwd_inputs)} inputs, got {len(arrays)}")
        env = self.bind_inputs(arrays, fwd_inputs)
        self.forward.run(env, hook, self.graph)
        outs = [env[o] for o in self.graph.outputs[:self.n_fwd]]
        saved = {j: env[j] for j in self.saved}
        return outs, saved

    def run_backward(self, saved: dict, head_grads, hook=None):
        heads = [i for i in self.input_ids if self.graph.nodes[i].attr("role") == "grad"]
        env = dict(saved)
        env.update(self.bind_inputs(head_grads, heads))
        if self.backward is not None:
            self.backward.run(env, hook, self.graph)
        return [env[o] for o in self.graph.outputs[self.n_fwd:]]
