"""Fusion: group ops into kernels so that values read only inside a kernel are never stored.

Stages:
1. Walk nodes in order and grow groups greedily along producer -> consumer edges, joining a
   producer's group only when every reader of the producer's value could then be inside it:
   - *elementwise* groups: elementwise/broadcast ops (with a scalar expression template) whose
     outputs all have one shape (the loop domain) — vertical chains;
   - *reduction* groups: reductions and row-wise ops (softmax, norms) over one input shape and
     the same reduced axes, with elementwise prologues (at the input's shape) and epilogues (at
     the input's or the reduced shape);
   - *opaque* groups: one opaque op (matmul, convolution...) with elementwise epilogues at its
     output shape (bias + activation after a matmul).
2. Merge sibling groups: elementwise groups of one domain reading a common input.
3. Closure: a value whose readers can all join its group is merged with them (it becomes
   internal).
4. Reorder nodes so that every group is a run of consecutive nodes; groups of two or more nodes
   become ``Graph.kernels``.
Invariant: a merge never creates a cycle between groups (checked with ancestor bitsets: no node
outside the union lies on a path between two of its members), so the reordering exists.
Not handled: views inside kernels, random ops, prologues into opaque ops, and more than one
opaque op per kernel.
"""
from __future__ import annotations

from dataclasses import replace

from .. import ops
from ..ir.graph import Graph, kernel_record
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
        self.meta: dict[int, tuple] = {}      # id(member list) -> what the record keeps
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

    def _delays(self, producer: _Group, i: int) -> bool:
        """Would joining node i hold the producer's kernel back until an opaque op computed
        after the kernel's start has run? (An accumulation chain ``g1 + g2 + ...`` over matmul
        results would otherwise become one kernel that keeps every matmul result alive.)"""
        first = min(producer.members)
        for j in self.g.nodes[i].inputs:
            if j in producer.members or j < first or self.g.nodes[j].op in ("input", "const"):
                continue
            if ops.get(self.g.nodes[j].op).kind == "opaque" and self.group_of.get(j) is not \
                    producer:
                return True
        return False

    def _merge_all(self, groups) -> bool:
        """Merge several groups at once (all pairwise compatible, no cycle)."""
        uniq = []
        for grp in groups:
            if all(grp is not u for u in uniq):
                uniq.append(grp)
        if len(uniq) < 2:
            return False
        for a in range(len(uniq)):
            for b in range(a + 1, len(uniq)):
                if not self._compatible(uniq[a], uniq[b]):
                    return False
        bits, members = 0, set()
        for grp in uniq:
            bits |= grp.bits
            members |= grp.members
        if not self._acyclic(bits, members):
            return False
        keep = next((grp for grp in uniq if grp.kind == "opaque"),
                    next((grp for grp in uniq if grp.kind == "red"), uniq[0]))
        for grp in uniq:
            if grp is not keep:
                keep.members |= grp.members
                keep.shapes |= grp.shapes
                for m in grp.members:
                    self.group_of[m] = keep
        keep.bits = bits
        return True

    def run(self):
        g = self.g
        users: dict[int, list[int]] = {}
        for i, n in enumerate(g.nodes):
            for j in dict.fromkeys(n.inputs):
                users.setdefault(j, []).append(i)
        outputs = set(g.outputs)
        # 1. vertical: join a producer's group only when that can make the producer's value
        #    internal (every reader of it would then be in the group); a second reader such as
        #    a gradient mask waits for its own consumer instead of forcing a stored output
        for i, n in enumerate(g.nodes):
            grp = _classify(g, i)
            if grp is None:
                continue
            self.group_of[i] = grp
            for j in n.inputs:
                if j not in self.group_of or j in outputs:
                    continue
                producer = self.group_of[j]
                if all(u == i or self.group_of.get(u) is producer for u in users[j]) and \
                        not self._delays(producer, i):
                    self.try_merge(producer, self.group_of[i])
        # 2. siblings: elementwise groups of one domain reading a common input
        for j, us in users.items():
            cands = [u for u in us if u in self.group_of and self.group_of[u].kind == "ew"]
            for a, b in zip(cands, cands[1:]):
                self.try_merge(self.group_of[a], self.group_of[b])
        # 3. closure: a value all of whose readers can join its group becomes internal
        for j in range(len(g.nodes)):
            if j not in self.group_of or j in outputs or j not in users:
                continue
            readers = users[j]
            if all(u in self.group_of for u in readers):
                self._merge_all([self.group_of[j]] + [self.group_of[u] for u in readers])
        groups, seen = [], set()
        for i in range(len(g.nodes)):
            grp = self.group_of.get(i)
            if grp is not None and id(grp) not in seen:
                seen.add(id(grp))
                groups.append(sorted(grp.members))
                self.meta[id(groups[-1])] = _meta(g, grp)
        return groups


_KIND = {"ew": "elementwise", "red": "reduction", "opaque": "opaque"}


def _meta(g: Graph, grp: _Group):
    """(kind, domain, reduced axes, anchor) of a group, for its ``Kernel`` record."""
    if grp.kind == "red":
        return _KIND["red"], grp.red_key[0], grp.red_key[1], None
    if grp.kind == "opaque":
        return _KIND["opaque"], g.nodes[grp.anchor].shape, (), grp.anchor
    return _KIND["ew"], g.nodes[max(grp.members)].shape, (), None


def _reorder(g: Graph, groups, meta=None) -> Graph:
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
        stuck = [units[u] for u in range(len(units)) if indeg[u] > 0 and len(units[u]) > 1]
        raise _Cycle(max(stuck, key=len) if stuck else None)
    new_order = [m for u in order for m in units[u]]
    remap = {old: new for new, old in enumerate(new_order)}
    nodes = tuple(replace(g.nodes[old], inputs=tuple(remap[j] for j in g.nodes[old].inputs))
                  for old in new_order)
    outputs = tuple(remap[o] for o in g.outputs)
    kernels = []
    for u in order:
        if len(units[u]) > 1:
            kind, domain, axes, anchor = (meta or {}).get(
                id(units[u]), ("elementwise", g.nodes[units[u][-1]].shape, (), None))
            kernels.append(kernel_record(nodes, outputs, sorted(remap[m] for m in units[u]),
                                         kind, domain, axes,
                                         None if anchor is None else remap[anchor]))
    return Graph(nodes, outputs, g.consts, tuple(kernels))


class _Cycle(Exception):
    def __init__(self, group):
        super().__init__("fusion created a cycle between kernels")
        self.group = group


@register_pass("fuse")
def fuse(g: Graph) -> Graph:
    """Group nodes into kernels (``Graph.kernels``); see the module comment."""
    fuser = _Fuser(g)
    groups = [m for m in fuser.run() if len(m) > 1]
    # Each merge is checked for cycles through outside nodes, but separately formed groups
    # can still depend on each other both ways (a1 -> b1 and b2 -> a2); then the largest group
    # on the cycle is dissolved and the order retried.
    while True:
        try:
            return _reorder(g, groups, fuser.meta)
        except _Cycle as c:
            if c.group is None:
                raise RuntimeError("fusion: a cycle without a fused group (a bug)") from None
            groups = [m for m in groups if m is not c.group]
