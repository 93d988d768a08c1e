"""Fusion: group ops into kernels so that values read only inside a kernel are never stored.

Stages:
1. Walk nodes in order and grow groups greedily along producer -> consumer edges:
   - *elementwise* groups: elementwise/broadcast ops (with a scalar expression template) whose
     outputs all have one shape (the loop domain) — vertical chains;
   - *reduction* groups: reductions and row-wise ops (softmax, norms) over one input shape and
     the same reduced axes, with elementwise prologues (at the input's shape) and epilogues (at
     the input's or the reduced shape);
   - *opaque* groups: one opaque op (matmul, convolution...) with elementwise epilogues at its
     output shape (bias + activation after a matmul).
2. Merge sibling groups: elementwise groups of one domain reading a common input.
3. Reorder nodes so that every group is a run of consecutive nodes; groups of two or more nodes
   become ``Graph.kernels``.
Invariant: a merge never creates a cycle between groups (checked with ancestor bitsets: no node
outside the union lies on a path between two of its members), so the reordering exists.
Not handled: views inside kernels, random ops, prologues into opaque ops, and more than one
opaque op per kernel.
"""
from __future__ import annotations

from dataclasses import replace

from .. import ops
from ..ir.graph import Graph
from ..ops.registry import norm_axes, norm_axis
from .manager import register_pass

_EW = ("elementwise", "broadcast")


class _Group:
    __slots__ = ("kind", "members", "bits", "shapes", "red_key", "anchor")

    def __init__(self, kind, i, shapes, red_key=None, anchor=None):
        self.kind = kind              # "ew", "red", "opaque"
        self.members = {i}
        self.bits = 1 << i
        self.shapes = set(shapes)     # output shapes members may have
        self.red_key = red_key        # (input shape, reduced axes) for reduction groups
        self.anchor = anchor          # the opaque op's node index


def _red_key(n, g):
    x = g.nodes[n.inputs[0]]
    axis = n.attr("axis")
    if isinstance(axis, int):
        axes = (norm_axis(axis, len(x.shape)),)
    else:
        axes = norm_axes(axis, len(x.shape), bool(n.attr("exclude", False)))
    return x.shape, axes


def _classify(g: Graph, i: int):
    n = g.nodes[i]
    if n.op in ("input", "const"):
        return None
    row = ops.get(n.op)
    if row.random or row.expand is not None:
        return None
    if row.kind in _EW and ops.registry.expr_of(row, n.attrs) is not None:
        return _Group("ew", i, {n.shape})
    if row.kind == "reduction" and n.inputs:
        try:
            key = _red_key(n, g)
        except Exception:      # a reduction without the usual axis attrs: keep it alone
            return None
        return _Group("red", i, {key[0], n.shape}, key)
    if row.kind == "opaque" and n.inputs:
        return _Group("opaque", i, {n.shape}, anchor=i)
    return None


class _Fuser:
    def __init__(self, g: Graph):
        self.g = g
        self.anc = []
        for n in g.nodes:
            a = 0
            for j in n.inputs:
                a |= self.anc[j] | (1 << j)
            self.anc.append(a)
        self.group_of: dict[int, _Group] = {}
        from ..ir.phases import forward_region
        self.fwd_bits = 0
        for i in forward_region(g):
            self.fwd_bits |= 1 << i

    def _compatible(self, a: _Group, b: _Group) -> bool:
        if (a.bits & self.fwd_bits == 0) != (b.bits & self.fwd_bits == 0):
            return False            # never fuse across the forward/backward boundary
        if a.kind == "opaque" and b.kind == "opaque":
            return False
        if "opaque" in (a.kind, b.kind):
            op_g, ew = (a, b) if a.kind == "opaque" else (b, a)
            if ew.kind != "ew" or not ew.shapes <= op_g.shapes:
                return False
            # only epilogues: no member of the elementwise group may feed the opaque op
            return not (self.anc[op_g.anchor] & ew.bits)
        if a.kind == "red" and b.kind == "red":
            return a.red_key == b.red_key
        if "red" in (a.kind, b.kind):
            red, ew = (a, b) if a.kind == "red" else (b, a)
            return ew.shapes <= red.shapes
        return a.shapes == b.shapes

    def _acyclic(self, union_bits: int, members) -> bool:
        lo = min(members)
        outside = 0
        for m in members:
            outside |= self.anc[m]
        outside &= ~union_bits
        outside >>= lo
        x = lo
        while outside:
            if outside & 1 and self.anc[x] & union_bits:
                return False
            outside >>= 1
            x += 1
        return True

    def try_merge(self, a: _Group, b: _Group) -> bool:
        if a is b or not self._compatible(a, b):
            return False
        bits = a.bits | b.bits
        if not self._acyclic(bits, a.members | b.members):
            return False
        kind = "opaque" if "opaque" in (a.kind, b.kind) else (
            "red" if "red" in (a.kind, b.kind) else "ew")
        keep, other = (a, b) if a.kind == kind else (b, a)
        keep.members |= other.members
        keep.bits = bits
        keep.shapes |= other.shapes
        for m in other.members:
            self.group_of[m] = keep
        return True

    def run(self):
        g = self.g
        for i, n in enumerate(g.nodes):
            grp = _classify(g, i)
            if grp is None:
                continue
            self.group_of[i] = grp
            for j in n.inputs:
                if j in self.group_of:
                    self.try_merge(self.group_of[j], self.group_of[i])
        users: dict[int, list[int]] = {}
        for i, n in enumerate(g.nodes):
            for j in set(n.inputs):
                users.setdefault(j, []).append(i)
        for j, us in users.items():
            cands = [u for u in us if u in self.group_of and self.group_of[u].kind == "ew"]
            for a, b in zip(cands, cands[1:]):
                self.try_merge(self.group_of[a], self.group_of[b])
        groups, seen = [], set()
        for i in range(len(g.nodes)):
            grp = self.group_of.get(i)
            if grp is not None and id(grp) not in seen:
                seen.add(id(grp))
                groups.append(sorted(grp.members))
        return groups


def _reorder(g: Graph, groups) -> Graph:
    unit_of = {}
    units = []
    for members in groups:
        for m in members:
            unit_of[m] = len(units)
        units.append(members)
    for i in range(len(g.nodes)):
        if i not in unit_of:
            unit_of[i] = len(units)
            units.append([i])
    deps = [set() for _ in units]
    for u, members in enumerate(units):
        for m in members:
            for j in g.nodes[m].inputs:
                if unit_of[j] != u:
                    deps[u].add(unit_of[j])
    import heapq
    indeg = [len(d) for d in deps]
    users = [[] for _ in units]
    for u, d in enumerate(deps):
        for v in d:
            users[v].append(u)
    heap = [(units[u][0], u) for u in range(len(units)) if indeg[u] == 0]
    heapq.heapify(heap)
    order = []
    while heap:
        _, u = heapq.heappop(heap)
        order.append(u)
        for w in users[u]:
            indeg[w] -= 1
            if indeg[w] == 0:
                heapq.heappush(heap, (units[w][0], w))
    if len(order) != len(units):
        raise RuntimeError("fusion created a cycle between kernels")
    new_order = [m for u in order for m in units[u]]
    remap = {old: new for new, old in enumerate(new_order)}
    nodes = tuple(replace(g.nodes[old], inputs=tuple(remap[j] for j in g.nodes[old].inputs))
                  for old in new_order)
    kernels = tuple(tuple(remap[m] for m in units[u]) for u in order if len(units[u]) > 1)
    kernels = tuple(tuple(sorted(k)) for k in kernels)
    return Graph(nodes, tuple(remap[o] for o in g.outputs), g.consts, kernels)


@register_pass("fuse")
def fuse(g: Graph) -> Graph:
    """Group nodes into kernels (``Graph.kernels``); see the module comment."""
    groups = [m for m in _Fuser(g).run() if len(m) > 1]
    return _reorder(g, groups)
