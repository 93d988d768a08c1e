"""The graph IR: frozen nodes in topological (SSA) order.

A node's inputs are indices of earlier nodes. Graph inputs are ``input`` nodes (attrs ``name``
and ``role``: "data", "param", "aux" or "const"); folded array constants are ``const`` nodes
whose values live in ``Graph.consts``. Analyses return their own tables; nodes carry no
mutable metadata.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from .. import ops
from .types import ITEMSIZE, TensorType, canon_dtype

from ..ops.pseudo import INPUT_ROLES


@dataclass(frozen=True, slots=True)
class Node:
    op: str                                   # a canonical name in the op registry
    inputs: tuple[int, ...]                   # indices of earlier nodes
    shape: tuple[int, ...]
    dtype: str
    attrs: tuple[tuple[str, object], ...] = ()   # sorted, hashable
    loc: str = ""                             # user source "model.py:12", set by the tracer

    @property
    def type(self) -> TensorType:
        return TensorType(self.shape, self.dtype)

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * ITEMSIZE[self.dtype]

    def attr(self, name, default=None):
        for k, v in self.attrs:
            if k == name:
                return v
        return default

    @property
    def attrs_dict(self) -> dict:
        return dict(self.attrs)


class Kernel(tuple):
    """A fused kernel, as the fusion pass found it.

    A ``Kernel`` *is* the tuple of its member node indices (consecutive and ascending), so
    code that walks members works on it, and it carries what fusion knew: ``kind``
    ("elementwise", "reduction" or "opaque"), ``domain`` (the loop shape: the members' shape,
    a reduction's input shape, the opaque op's output shape), ``reduce_axes``, ``anchor``
    (the opaque op an epilogue follows), ``inputs`` (values read from outside the kernel)
    and ``outputs`` (members that must be materialised: read outside it, or graph outputs).
    Equality is the members' (two records of the same nodes are the same kernel)."""

    def __new__(cls, members, kind="elementwise", domain=(), reduce_axes=(), anchor=None,
                inputs=(), outputs=()):
        k = super().__new__(cls, members)
        k.kind, k.domain, k.reduce_axes, k.anchor = kind, tuple(domain), tuple(reduce_axes), \
            anchor
        k.inputs, k.outputs = tuple(inputs), tuple(outputs)
        return k

    def __reduce__(self):
        return (Kernel, (tuple(self), self.kind, self.domain, self.reduce_axes, self.anchor,
                         self.inputs, self.outputs))

    def __repr__(self):
        extra = f", anchor=%{self.anchor}" if self.anchor is not None else ""
        return (f"Kernel({self.kind}, members={tuple(self)}, domain={self.domain}, "
                f"inputs={self.inputs}, outputs={self.outputs}{extra})")

    def moved(self, members, nodes, outputs) -> "Kernel":
        """The same kernel at new node indices ``members`` of a graph with ``nodes`` and
        ``outputs`` (inputs and outputs recomputed there; the anchor follows its node)."""
        anchor = None
        if self.anchor is not None and self.anchor in self:
            anchor = members[tuple(self).index(self.anchor)] if len(members) == len(self) \
                else None
        return kernel_record(nodes, outputs, members, self.kind, self.domain,
                             self.reduce_axes, anchor)


def kernel_record(nodes, outputs, members, kind="elementwise", domain=(), reduce_axes=(),
                  anchor=None) -> Kernel:
    """A ``Kernel`` of ``members`` with its inputs and outputs worked out from the graph."""
    ms = set(members)
    inputs: list[int] = []
    for m in members:
        for j in nodes[m].inputs:
            if j not in ms and j not in inputs:
                inputs.append(j)
    read_outside = set()
    for i, n in enumerate(nodes):
        if i not in ms:
            read_outside.update(j for j in n.inputs if j in ms)
    outs = set(outputs)
    materialised = [m for m in members if m in read_outside or m in outs]
    return Kernel(tuple(members), kind, domain, reduce_axes, anchor, inputs, materialised)


@dataclass(frozen=True)
class Graph:
    nodes: tuple[Node, ...]
    outputs: tuple[int, ...]
    consts: Mapping[str, np.ndarray] = field(default_factory=dict)
    # fused kernels (``Kernel`` records): each a run of consecutive node indices executed as
    # one kernel; values read only inside their kernel are never materialised (set by the
    # fusion pass)
    kernels: tuple[tuple[int, ...], ...] = ()

    # ---------------------------------------------------------------- queries
    def __len__(self):
        return len(self.nodes)

    @property
    def input_ids(self) -> tuple[int, ...]:
        return tuple(i for i, n in enumerate(self.nodes) if n.op == "input")

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(self.nodes[i].attr("name") for i in self.input_ids)

    def inputs_with_role(self, role: str) -> tuple[int, ...]:
        return tuple(i for i in self.input_ids if self.nodes[i].attr("role") == role)

    def type(self, i: int) -> TensorType:
        return self.nodes[i].type

    def users(self) -> list[list[int]]:
        """users[i]: the nodes that read node i, in order (repeats kept)."""
        out: list[list[int]] = [[] for _ in self.nodes]
        for j, n in enumerate(self.nodes):
            for i in n.inputs:
                out[i].append(j)
        return out

    def is_const(self, i: int, value: float | None = None) -> bool:
        """Is node i a constant (optionally: with every element equal to ``value``)?"""
        return is_const(self.nodes, self.consts, i, value)

    def keep(self, indices: Sequence[int], outputs: Sequence[int] | None = None) -> "Graph":
        """The graph restricted to ``indices`` (closed under inputs), with ``outputs`` (old
        indices; default: the current outputs, which must all be kept)."""
        indices = sorted(set(indices))
        outputs = self.outputs if outputs is None else tuple(outputs)
        remap = {old: new for new, old in enumerate(indices)}
        nodes = []
        for old in indices:
            n = self.nodes[old]
            nodes.append(Node(n.op, tuple(remap[i] for i in n.inputs), n.shape, n.dtype,
                              n.attrs, n.loc))
        used = {n.attr("name") for n in nodes if n.op == "const"}
        new_outputs = tuple(remap[o] for o in outputs)
        kernels = []
        for k in self.kernels:
            kept = tuple(remap[i] for i in k if i in remap)
            if len(kept) > 1 and kept == tuple(range(kept[0], kept[-1] + 1)):
                kernels.append(k.moved(kept, nodes, new_outputs) if isinstance(k, Kernel)
                               else kernel_record(nodes, new_outputs, kept))
        return Graph(tuple(nodes), new_outputs,
                     {k: v for k, v in self.consts.items() if k in used}, tuple(kernels))

    def with_outputs(self, outputs: Sequence[int]) -> "Graph":
        return Graph(self.nodes, tuple(outputs), self.consts, self.kernels)

    def kernel_of(self) -> dict[int, int]:
        """node index -> kernel number, for fused nodes."""
        return {i: k for k, ks in enumerate(self.kernels) for i in ks}

    def __str__(self) -> str:
        from .printer import format_graph
        return format_graph(self)

    def __eq__(self, other):
        if not isinstance(other, Graph):
            return NotImplemented
        return (self.nodes == other.nodes and self.outputs == other.outputs and
                self.kernels == other.kernels and
                self.consts.keys() == other.consts.keys() and
                all(np.array_equal(v, other.consts[k]) and v.dtype == other.consts[k].dtype
                    for k, v in self.consts.items()))

    __hash__ = None


def is_const(nodes, consts, i: int, value: float | None = None) -> bool:
    n = nodes[i]
    if n.op in ("zeros", "ones", "full"):
        v = {"zeros": 0.0, "ones": 1.0}.get(n.op, n.attr("value"))
        return value is None or v == value
    if n.op == "const":
        if value is None:
            return True
        arr = consts[n.attr("name")]
        return arr.size > 0 and bool(np.all(arr == value))
    return False


# ---------------------------------------------------------------- building graphs


class GraphBuilder:
    """Appends typed nodes; also an op namespace (``F``) for gradient rules and expansions:
    ``b.multiply(a, c)`` appends a node and returns its index."""

    def __init__(self, base: Graph | None = None, loc: str = ""):
        self.nodes: list[Node] = list(base.nodes) if base else []
        self.consts: dict[str, np.ndarray] = dict(base.consts) if base else {}
        self.loc = loc

    def input(self, name: str, t: TensorType, role: str = "data") -> int:
        if role not in INPUT_ROLES:
            raise ValueError(f"input role must be one of {INPUT_ROLES}")
        self.nodes.append(Node("input", (), tuple(t.shape), canon_dtype(t.dtype),
                               (("name", name), ("role", role))))
        return len(self.nodes) - 1

    def const(self, value: np.ndarray, name: str | None = None) -> int:
        value = np.asarray(value)
        name = name or f"c{len(self.consts)}"
        while name in self.consts:
            name += "_"
        self.consts[name] = value
        self.nodes.append(Node("const", (), tuple(value.shape), canon_dtype(value.dtype),
                               (("name", name),)))
        return len(self.nodes) - 1

    def type(self, i: int) -> TensorType:
        return self.nodes[i].type

    def is_const(self, i: int, value: float | None = None) -> bool:
        return is_const(self.nodes, self.consts, i, value)

    def emit(self, op_name: str, inputs: Sequence[int], attrs: Mapping | None = None,
             loc: str | None = None) -> int:
        """Append ``op_name(*inputs)`` (type inferred) and return its index. (Named ``emit``,
        not ``add``: as an op namespace, ``b.add(x, y)`` is the add op.)"""
        op = ops.get(op_name)
        attrs_t = ops.normalize_attrs(op, attrs or {})
        where = f" at {loc or self.loc}" if (loc or self.loc) else ""
        if op.expand is not None:
            return op.expand(self, list(inputs), dict(attrs_t))
        t = ops.infer(op, tuple(self.nodes[i].type for i in inputs), attrs_t, where)
        self.nodes.append(Node(op.name, tuple(int(i) for i in inputs), tuple(t.shape), t.dtype,
                               attrs_t, loc if loc is not None else self.loc))
        return len(self.nodes) - 1

    def append(self, node: Node) -> int:
        self.nodes.append(node)
        return len(self.nodes) - 1

    def build(self, outputs: Sequence[int]) -> Graph:
        used = {n.attr("name") for n in self.nodes if n.op == "const"}
        return Graph(tuple(self.nodes), tuple(int(o) for o in outputs),
                     {k: v for k, v in self.consts.items() if k in used})

    # F namespace: any op name is a method
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        op = ops.get(name)

        def f(*args, **attrs):
            from ..frontend.dispatch import bind_ids
            inputs, at = bind_ids(op, args, attrs)
            return self.emit(name, inputs, at)
        f.__name__ = name
        return f
