"""The executor: runs what a backend lowered, over one planned arena.

A backend lowers each phase (a range of nodes) to an object with ``run(env, slots, hook, g)``
(``graphcc.codegen``). With a memory plan, every materialised value is stored at its planned
offset in one arena (``np.empty(arena_bytes)``): results are written into their slots, views
alias their source's slot, in-place values overwrite their input's slot. So the plan is
exercised on every run: a planning error would corrupt results, not just a report.

A training program is a joint forward+backward graph whose nodes [0, k) run in the forward
call and [k, n) in the backward call; the forward keeps exactly the values the backward reads
(in the same arena).
"""
from __future__ import annotations

import threading

import numpy as np

from ..errors import GraphccError
from ..ir.graph import Graph
from ..passes.planner import unplanned_outputs


class Saved:
    """What a forward leaves for its backward: the saved values (views into the arena when
    there is a plan) and the arena's slots."""
    __slots__ = ("values", "slots", "consumed", "program")

    def __init__(self, values: dict, slots: dict | None, program=None):
        self.values = values
        self.slots = slots
        self.program = program    # the program whose backward may read this state
        self.consumed = False     # a backward ran in this arena: the saved values are gone


class Program:
    """Run a graph (or a joint training graph split at ``k``) on NumPy arrays."""

    def __init__(self, g: Graph, k: int | None = None, n_forward_outputs: int | None = None,
                 plan=None, lower=None):
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
        # ``lower(g, start, stop, keep, plan)`` is the backend's: it turns a range of nodes
        # into something with ``run(env, slots, hook, g)``
        self.forward = lower(g, 0, self.k, fwd_outs | set(self.saved), plan)
        self.backward = lower(g, self.k, len(g.nodes), bwd_outs, plan) \
            if self.k < len(g.nodes) else None
        # static_alloc: one arena per thread, so two threads never write each other's values
        self._static = threading.local()
        # (value, byte range, dtype, shape) of every planned slot, worked out once. Storages
        # holding a forward output are allocated afresh by each call instead (the plan still
        # counts them): the caller gets them without a copy, and they never alias the arena.
        self._layout, self._out_layout = [], []
        if plan is not None:
            out_sids = {plan.storage_of[o] for o in g.outputs[:self.n_fwd]
                        if o in plan.storage_of}
            for v, sid in plan.storage_of.items():
                n = g.nodes[v]
                if sid in out_sids:
                    self._out_layout.append((v, sid, plan.storages[sid].size, n.nbytes,
                                             np.dtype(n.dtype), n.shape))
                else:
                    off = plan.storages[sid].offset
                    self._layout.append((v, off, off + n.nbytes, n.dtype, n.shape))
        self._fresh = {v for v, *_ in self._out_layout}
        # gradient outputs computed by the backward (outside the plan): position -> value
        self._grad_slots = {
            k: (v, g.nodes[v].shape, np.dtype(g.nodes[v].dtype))
            for k, v in unplanned_outputs(g, plan, self.k, g.outputs[self.n_fwd:]).items()}
        self._in_types = {i: (g.nodes[i].shape, np.dtype(g.nodes[i].dtype))
                          for i in self.input_ids}

    def _slots(self, static=False):
        plan = self.plan
        if plan is None:
            return None
        slots = getattr(self._static, "slots", None) if static else None
        if slots is None:
            arena = np.empty(max(plan.arena_bytes, 1), dtype=np.uint8)
            slots = {-1: arena}           # the arena itself under -1 (no node has that index)
            for v, lo, hi, dtype, shape in self._layout:
                slots[v] = arena[lo:hi].view(dtype).reshape(shape)
            if static:
                self._static.slots = slots
        if self._out_layout:
            slots = dict(slots) if static else slots
            fresh = {}
            for v, sid, size, nbytes, dtype, shape in self._out_layout:
                buf = fresh.get(sid)
                if buf is None:
                    buf = fresh[sid] = np.empty(max(size, 1), np.uint8)
                slots[v] = buf[:nbytes].view(dtype).reshape(shape)
        return slots

    def with_grad_slots(self, slots, out=None):
        """``slots`` plus a destination for every gradient the backward computes outside the
        plan: ``out[k]`` (a parameter's gradient buffer) where given and fitting, else a fresh
        array; the kernels write there directly."""
        if slots is None or not self._grad_slots:
            return slots
        slots = dict(slots)
        for k, (v, shape, dtype) in self._grad_slots.items():
            d = out[k] if out is not None and k < len(out) else None
            if d is None or d.shape != shape or d.dtype != dtype or not d.flags.c_contiguous:
                d = np.empty(shape, dtype)
            slots[v] = d
        return slots

    def bind_inputs(self, arrays, ids) -> dict:
        env = {}
        types = self._in_types
        for i, a in zip(ids, arrays):
            if not isinstance(a, np.ndarray):
                a = np.asarray(a)
            shape, dtype = types[i]
            if a.shape != shape or a.dtype != dtype:
                n = self.graph.nodes[i]
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
        fresh = self._fresh
        outs = [env[o] if o in fresh else self._out(env[o], slots, given)
                for o in self.graph.outputs[:self.n_fwd]]
        return outs, Saved({j: env[j] for j in self.saved}, slots, self)

    @staticmethod
    def _out(value, slots, given):
        """Never hand out memory someone else owns: a view into the arena (later calls reuse
        it) or into one of the caller's inputs (an output that is an input, or a view of one)
        is copied; anything else is returned as it is."""
        if (slots is not None and np.may_share_memory(value, slots[-1])) or \
                any(np.may_share_memory(value, a) for a in given):
            return np.array(value, copy=True)
        return value

    def run_backward(self, saved: "Saved", head_grads, hook=None, keep_saved=False, out=None):
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
        slots = self.with_grad_slots(slots, out)
        env = dict(saved.values)
        heads = self.bind_inputs(head_grads, self.head_ids)
        given = list(heads.values())
        env.update(heads)
        if self.backward is not None:
            self.backward.run(env, slots, hook, self.graph)
        return [self._out(env[o], slots, given) for o in self.graph.outputs[self.n_fwd:]]
