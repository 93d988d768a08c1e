"""The interpreter backend's executor.

A graph becomes a flat list of steps, each an op row's NumPy implementation with its
attributes bound once. With a memory plan, every materialised value is stored at its planned
offset in one arena (``np.empty(arena_bytes)``): results are written into their slots, views
alias their source's slot, in-place values overwrite their input's slot. Values internal to a
fused kernel stay temporaries. So the plan is exercised on every run: a planning error would
corrupt results, not just a report.

A training program is a joint forward+backward graph whose nodes [0, k) run in the forward
call and [k, n) in the backward call; the forward keeps exactly the values the backward reads
(in the same arena).
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


class Saved:
    """What a forward leaves for its backward: the saved values (views into the arena when
    there is a plan) and the arena's slots."""
    __slots__ = ("values", "slots", "consumed")

    def __init__(self, values: dict, slots: dict | None):
        self.values = values
        self.slots = slots
        self.consumed = False     # a backward ran in this arena: the saved values are gone


class Program:
    """Run a graph (or a joint training graph split at ``k``) on NumPy arrays."""

    def __init__(self, g: Graph, k: int | None = None, n_forward_outputs: int | None = None,
                 plan=None):
        self.graph = g
        self.plan = plan
        self.k = len(g.nodes) if k is None else k
        self.n_fwd = len(g.outputs) if n_forward_outputs is None else n_forward_outputs
        self.input_ids = g.input_ids
        fwd_outs = set(g.outputs[:self.n_fwd])
        bwd_outs = set(g.outputs[self.n_fwd:])
        self.head_ids = [i for i in self.input_ids if g.nodes[i].attr("role") == "grad"]
        self.fwd_input_ids = [i for i in self.input_ids if i not in set(self.head_ids)]
        self.saved = sorted(({j for i in range(self.k, len(g.nodes)) for j in g.nodes[i].inputs
                              if j < self.k} | {o for o in bwd_outs if o < self.k}) -
                            set(self.head_ids))
        self.forward = Phase(g, 0, self.k, fwd_outs | set(self.saved), plan)
        self.backward = Phase(g, self.k, len(g.nodes), bwd_outs, plan) \
            if self.k < len(g.nodes) else None
        self._static_arena = None
        # (value, byte range, dtype, shape) of every planned slot, worked out once
        self._layout = [] if plan is None else [
            (v, plan.storages[sid].offset, plan.storages[sid].offset + g.nodes[v].nbytes,
             g.nodes[v].dtype, g.nodes[v].shape) for v, sid in plan.storage_of.items()]

    def _slots(self, static=False):
        plan = self.plan
        if plan is None:
            return None
        if static and self._static_arena is not None:
            return self._static_arena
        arena = np.empty(max(plan.arena_bytes, 1), dtype=np.uint8)
        slots = {-1: arena}           # the arena itself under -1 (no node has that index)
        for v, lo, hi, dtype, shape in self._layout:
            slots[v] = arena[lo:hi].view(dtype).reshape(shape)
        if static:
            self._static_arena = slots
        return slots

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

    def run_forward(self, arrays, hook=None, static=False):
        """Outputs of the forward part (fresh arrays), and the state the backward reads."""
        if len(arrays) != len(self.fwd_input_ids):
            raise GraphccError(f"the graph takes {len(self.fwd_input_ids)} inputs, got "
                               f"{len(arrays)}")
        env = self.bind_inputs(arrays, self.fwd_input_ids)
        given = list(env.values())       # (the run drops inputs after their last reader)
        slots = self._slots(static and self.backward is None)
        self.forward.run(env, slots, hook, self.graph)
        outs = [self._out(env[o], slots, given) for o in self.graph.outputs[:self.n_fwd]]
        return outs, Saved({j: env[j] for j in self.saved}, slots)

    @staticmethod
    def _out(value, slots, given):
        """Never hand out memory someone else owns: a view into the arena (later calls reuse
        it) or into one of the caller's inputs (an output that is an input, or a view of one)
        is copied; anything else is returned as it is."""
        if (slots is not None and np.may_share_memory(value, slots[-1])) or \
                any(np.may_share_memory(value, a) for a in given):
            return np.array(value, copy=True)
        return value

    def run_backward(self, saved: "Saved", head_grads, hook=None, keep_saved=False):
        """Gradients from the state ``run_forward`` returned. The backward's values share the
        forward's arena, so they overwrite saved values once those are read for the last
        time: with ``keep_saved`` (a later backward will follow) they go to a fresh arena."""
        if saved.consumed:
            raise GraphccError("this forward's saved values were overwritten by an earlier "
                               "backward; pass keep_saved=True (autograd: retain_graph=True) "
                               "to every backward but the last")
        slots = saved.slots
        if slots is not None:
            if keep_saved:
                slots = self._slots()
            else:
                saved.consumed = True
        env = dict(saved.values)
        heads = self.bind_inputs(head_grads, self.head_ids)
        given = list(heads.values())
        env.update(heads)
        if self.backward is not None:
            self.backward.run(env, slots, hook, self.graph)
        return [self._out(env[o], slots, given) for o in self.graph.outputs[self.n_fwd:]]
