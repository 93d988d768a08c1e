"""Memory planning: where every materialised value lives in one arena.

Stages:
1. *Values.* Every node that is not a graph input or constant computes a value. A value read
   only inside its fused kernel is never materialised (it stays in registers/temporaries).
2. *Steps.* Nodes run in graph order; a fused kernel is one step spanning its nodes: it reads
   its inputs and writes its outputs anywhere in that span, so lifetimes are widened to it.
   Graph outputs live to the end.
3. *Aliasing.* A view (reshape...) shares its input's storage (even when the input has other
   readers). A value may take over an input's storage in place when the op (or an all-
   elementwise kernel) allows it, the sizes match, and this step is the storage's last use.
   Views of graph inputs need no storage at all.
4. *Placement.* Storages (value groups sharing memory) get offsets. ``arena`` (the default)
   places them greedily, largest first, at the best-fitting gap among the storages alive at
   the same time, trying a few orders and keeping the smallest. ``mxnet`` is MXNet's NNVM
   planner: a size-ordered free pool, best fit within a match range, blocks grow when a larger
   value reuses them, tried over match ranges 1..32.
The lower bound ``peak_live_bytes`` is the largest sum of storage sizes alive at one step
(sizes exact; every placement, MXNet's included, puts storages at ``ALIGN``-byte boundaries,
as the executor needs). ``verify_plan`` checks that storages
alive at the same step never overlap.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import ops
from ..errors import PlanError
from ..ir.graph import Graph

ALIGN = 64


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


@dataclass
class Storage:
    root: int                 # the value that owns the storage
    size: int                 # bytes (exact)
    start: int                # first step it holds a value
    end: int                  # last step it is read (len(nodes) for outputs)
    members: list[int] = field(default_factory=list)   # values living in it, in order
    offset: int = -1


@dataclass
class MemoryPlan:
    """Offsets of every materialised value in one arena."""
    storages: list[Storage]
    storage_of: dict[int, int]     # value -> index into storages (values with storage)
    external: dict[int, int]       # value -> graph input/constant it is a view of
    arena_bytes: int
    naive_bytes: int
    peak_live_bytes: int
    inplace_count: int
    view_count: int
    shared_count: int = 0
    algorithm: str = "arena"
    n_steps: int = 0
    graph: Graph | None = field(default=None, repr=False, compare=False)   # the planned graph

    def offset_of(self, value: int) -> int:
        return self.storages[self.storage_of[value]].offset


# ---------------------------------------------------------------- analysis


@dataclass
class Lifetimes:
    materialized: list[int]        # values that need memory (or alias external memory)
    step: dict[int, tuple[int, int]]   # node -> (first, last) index of its kernel/itself
    last_use: dict[int, int]       # value -> last step it (or a view of it) is read
    readers: dict[int, list[int]]
    end: int


def lifetimes(g: Graph) -> Lifetimes:
    n = len(g.nodes)
    kernel_of = g.kernel_of()
    span = {}
    for ks in g.kernels:
        for i in ks:
            span[i] = (ks[0], ks[-1])
    readers: dict[int, list[int]] = {}
    for i, node in enumerate(g.nodes):
        for j in node.inputs:
            readers.setdefault(j, []).append(i)
    outputs = set(g.outputs)
    grads_out = _gradient_outputs(g)
    materialized = []
    for i, node in enumerate(g.nodes):
        if node.op in ("input", "const") or i in grads_out:
            continue
        k = kernel_of.get(i)
        internal = (k is not None and i not in outputs and
                    all(kernel_of.get(r) == k for r in readers.get(i, [])))
        if not internal:
            materialized.append(i)
    step = {i: span.get(i, (i, i)) for i in range(n)}
    last_use = {}
    for i in range(n):
        uses = [step[r][1] for r in readers.get(i, [])]
        last_use[i] = max(uses) if uses else step[i][1]
        if i in outputs:
            last_use[i] = n
    # a view keeps its source alive as long as the view is read
    for i in reversed(range(n)):
        node = g.nodes[i]
        if node.op not in ("input", "const") and ops.get(node.op).kind == "view" and \
                i not in kernel_of:
            src = node.inputs[0]
            last_use[src] = max(last_use[src], last_use[i])
    return Lifetimes(materialized, step, last_use, readers, n)


def _gradient_outputs(g: Graph) -> set[int]:
    """Outputs computed from head gradients: they go to the variables' gradient storage
    (Parameter.grad, x.grad), outside the plan."""
    from ..ir.phases import depends_on_heads
    dep = depends_on_heads(g)
    return {o for o in g.outputs if o in dep and g.nodes[o].op != "input"}



def _inplace_candidates(g: Graph, i: int, kernel_of) -> list[int]:
    """Inputs whose storage value i may overwrite."""
    node = g.nodes[i]
    k = kernel_of.get(i)
    if k is None:
        row = ops.get(node.op)
        return [node.inputs[s] for s in row.inplace if s < len(node.inputs)]
    ks = g.kernels[k]
    if any(ops.get(g.nodes[m].op).kind not in ("elementwise", "broadcast") for m in ks):
        return []
    ext = []
    for m in ks:
        for j in g.nodes[m].inputs:
            if kernel_of.get(j) != k and j not in ext:
                ext.append(j)
    return ext


def build_storages(g: Graph, lt: Lifetimes, inplace: bool = True):
    """Group values into storages (views and in-place reuse). Returns
    (storages, storage_of, external, inplace_count, view_count)."""
    kernel_of = g.kernel_of()
    storages: list[Storage] = []
    storage_of: dict[int, int] = {}
    external: dict[int, int] = {}
    inplace_count = view_count = 0
    for i in lt.materialized:
        node = g.nodes[i]
        first, _ = lt.step[i]
        row = ops.get(node.op)
        if row.kind == "view" and i not in kernel_of:
            src = node.inputs[0]
            if src in storage_of:
                storage_of[i] = storage_of[src]
                s = storages[storage_of[i]]
                s.members.append(i)
                s.end = max(s.end, lt.last_use[i])
                view_count += 1
                continue
            if src in external or g.nodes[src].op in ("input", "const"):
                external[i] = external.get(src, src)
                view_count += 1
                continue
        size = node.nbytes
        if inplace:
            taken = False
            for j in _inplace_candidates(g, i, kernel_of):
                sid = storage_of.get(j)
                if sid is None:
                    continue
                s = storages[sid]
                if s.size == size and s.end <= lt.step[i][1] and \
                        g.nodes[j].dtype == node.dtype and g.nodes[j].shape == node.shape:
                    storage_of[i] = sid
                    s.members.append(i)
                    s.end = max(s.end, lt.last_use[i])
                    inplace_count += 1
                    taken = True
                    break
            if taken:
                continue
        storage_of[i] = len(storages)
        storages.append(Storage(i, size, first, max(lt.last_use[i], first), [i]))
    return storages, storage_of, external, inplace_count, view_count


def peak_live(storages: list[Storage]) -> int:
    events = []
    for s in storages:
        events.append((s.start, 1, s.size))
        events.append((s.end + 1, 0, -s.size))     # released after its last step
    events.sort()
    live = peak = 0
    for _, _, d in events:
        live += d
        peak = max(peak, live)
    return peak


# ---------------------------------------------------------------- placement algorithms


def place_arena(storages: list[Storage]) -> int:
    """Greedy offset assignment; tries several orders, and MXNet's pool layout as one more
    candidate, and keeps the smallest arena (so it is never worse than ``mxnet``)."""
    if not storages:
        return 0
    mx_total = place_mxnet(storages, align=True)
    mx_offsets = [s.offset for s in storages]
    orders = [
        sorted(range(len(storages)), key=lambda k: (-storages[k].size,
                                                     storages[k].start)),
        sorted(range(len(storages)), key=lambda k: (-(storages[k].end - storages[k].start),
                                                     -storages[k].size)),
        sorted(range(len(storages)), key=lambda k: (storages[k].start, -storages[k].size)),
    ]
    best, best_offsets = None, None
    for order in orders:
        offsets = _greedy(storages, order)
        total = max(offsets[k] + _align(storages[k].size) for k in range(len(storages)))
        if best is None or total < best:
            best, best_offsets = total, offsets
    if mx_total < best:
        best, best_offsets = mx_total, mx_offsets
    for k, s in enumerate(storages):
        s.offset = best_offsets[k]
    return best


def _greedy(storages, order):
    """Place storages in ``order``, each at the best-fitting gap among the already placed
    storages alive at the same time (vectorised over the placed ones)."""
    n = len(storages)
    starts = np.array([s.start for s in storages], dtype=np.int64)
    ends = np.array([s.end for s in storages], dtype=np.int64)
    sizes = np.array([_align(s.size) for s in storages], dtype=np.int64)
    offsets = np.zeros(n, dtype=np.int64)
    placed = np.zeros(n, dtype=bool)
    for k in order:
        size = sizes[k]
        idx = np.nonzero(placed & (starts <= ends[k]) & (ends >= starts[k]))[0]
        if idx.size == 0:
            off = 0
        else:
            lo = offsets[idx]
            srt = np.argsort(lo, kind="stable")
            lo = lo[srt]
            hi = np.maximum.accumulate(lo + sizes[idx][srt])
            gap_start = np.concatenate(([0], hi[:-1]))
            gaps = lo - gap_start
            fits = np.nonzero(gaps >= size)[0]
            if fits.size:
                best = fits[np.argmin(gaps[fits])]
                off = gap_start[best]
            else:
                off = hi[-1]
        offsets[k] = off
        placed[k] = True
    return [int(o) for o in offsets]


def place_mxnet(storages: list[Storage], match_ranges=(1, 2, 4, 8, 16, 32),
                align: bool = False) -> int:
    """MXNet's NNVM pool planner (searched over match ranges); blocks laid out in a row
    (with ``align``, each block starts at an ``ALIGN`` boundary)."""
    if not storages:
        return 0
    best, best_assign, best_blocks = None, None, None
    for mr in match_ranges:
        assign, blocks = _pool(storages, mr)
        total = sum(blocks)
        if best is None or total < best:
            best, best_assign, best_blocks = total, assign, blocks
    widths = [_align(b) for b in best_blocks] if align else best_blocks
    starts = np.concatenate([[0], np.cumsum(widths)[:-1]]).astype(np.int64)
    for k, s in enumerate(storages):
        s.offset = int(starts[best_assign[k]])
    return int(sum(widths))


def _pool(storages, match_range):
    order = sorted(range(len(storages)), key=lambda k: storages[k].start)
    ends = sorted(range(len(storages)), key=lambda k: storages[k].end)
    blocks: list[int] = []
    free: list[int] = []            # free block ids
    assign = [0] * len(storages)
    e = 0
    for k in order:
        s = storages[k]
        while e < len(ends) and storages[ends[e]].end < s.start:
            free.append(assign[ends[e]])
            e += 1
        lo, hi = s.size / match_range, s.size * match_range
        up = [b for b in free if s.size <= blocks[b] <= hi]
        if up:
            b = min(up, key=lambda b: blocks[b])
        else:
            down = [b for b in free if lo <= blocks[b] < s.size]
            b = max(down, key=lambda b: blocks[b]) if down else None
            if b is not None:
                blocks[b] = s.size                  # grow the block
        if b is None:
            b = len(blocks)
            blocks.append(s.size)
        else:
            free.remove(b)
        assign[k] = b
    return assign, blocks


def place_separate(storages: list[Storage]) -> int:
    off = 0
    for s in storages:
        s.offset = off
        off += _align(s.size)
    return off


# ---------------------------------------------------------------- entry points


def naive_bytes(g: Graph) -> int:
    """Every intermediate value in its own buffer (views free, nothing fused)."""
    total = 0
    grads_out = _gradient_outputs(g)
    for i, node in enumerate(g.nodes):
        if node.op in ("input", "const") or ops.get(node.op).kind == "view" or i in grads_out:
            continue
        total += node.nbytes
    return total


def plan_memory(g: Graph, algorithm: str = "arena", inplace: bool = True) -> MemoryPlan:
    lt = lifetimes(g)
    storages, storage_of, external, n_inplace, n_view = build_storages(g, lt, inplace)
    if algorithm == "arena":
        arena = place_arena(storages)
    elif algorithm == "mxnet":
        arena = place_mxnet(storages, align=True)
    elif algorithm == "separate":
        arena = place_separate(storages)
    else:
        raise PlanError(f"unknown planner {algorithm!r}")
    shared = _shared_count(storages)
    return MemoryPlan(storages, storage_of, external, arena, naive_bytes(g),
                      peak_live(storages), n_inplace, n_view, shared, algorithm, lt.end, g)


def _shared_count(storages) -> int:
    """Storages placed at an offset another (earlier-ending) storage also used."""
    if not storages:
        return 0
    starts = np.array([s.start for s in storages])
    ends = np.array([s.end for s in storages])
    lo = np.array([s.offset for s in storages])
    hi = lo + np.array([s.size for s in storages])
    count = 0
    for k in range(len(storages)):
        count += bool(np.any((ends < starts[k]) & (lo < hi[k]) & (lo[k] < hi)))
    return count


def verify_plan(g: Graph, plan: MemoryPlan) -> None:
    """Raise PlanError if two storages alive at the same step overlap in the arena, a value
    outgrows its storage, or in-place reuse overlaps two live values."""
    ss = plan.storages
    for s in ss:
        if s.offset < 0 or s.offset + s.size > plan.arena_bytes:
            raise PlanError(f"storage of %{s.root} ({s.size} B at {s.offset}) is outside the "
                            f"{plan.arena_bytes}-byte arena")
        for m in s.members:
            if g.nodes[m].nbytes > s.size:
                raise PlanError(f"%{m} ({g.nodes[m].nbytes} B) does not fit the storage of "
                                f"%{s.root} ({s.size} B)")
    order = sorted(range(len(ss)), key=lambda k: ss[k].start)
    active: list[int] = []
    for k in order:
        s = ss[k]
        active = [a for a in active if ss[a].end >= s.start]
        for a in active:
            o = ss[a]
            if s.offset < o.offset + o.size and o.offset < s.offset + s.size:
                raise PlanError(f"values %{s.root} (steps {s.start}-{s.end}) and %{o.root} "
                                f"(steps {o.start}-{o.end}) are alive together but overlap "
                                f"in the arena ([{s.offset}, {s.offset + s.size}) and "
                                f"[{o.offset}, {o.offset + o.size}))")
        active.append(k)
    lt = lifetimes(g)
    for s in ss:
        owners = [m for m in s.members if ops.get(g.nodes[m].op).kind != "view"
                  or m in g.kernel_of()]
        for a, b in zip(owners, owners[1:]):
            if lt.last_use[a] > lt.step[b][1]:
                raise PlanError(f"%{b} overwrites %{a} in place, but %{a} is still read at "
                                f"step {lt.last_use[a]}")


def unplanned_outputs(g: Graph, plan, start: int, outputs) -> dict[int, int]:
    """Outputs the nodes from ``start`` on compute outside the plan (a training graph's
    gradients: they go to the variables' gradient buffers): position in ``outputs`` -> value,
    each value once. The executor gives each a destination among the slots and the backends
    write there, so both read this one rule."""
    found: dict[int, int] = {}
    if plan is None:
        return found
    for k, v in enumerate(outputs):
        if v >= start and v not in plan.storage_of and g.nodes[v].op != "input" and \
                v not in found.values():
            found[k] = v
    return found
