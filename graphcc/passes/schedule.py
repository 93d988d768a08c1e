"""Scheduling for memory: run reductions as early as possible.

A reduction whose output is smaller than its largest input (a mean, a moving-statistics
update, a loss) — or an elementwise op that only feeds such nodes (the ``x - mean`` and
square before a variance) — is emitted as soon as its inputs exist instead of where the trace
put it, so its big inputs can die sooner. Ops that only cut their input into smaller pieces
(the slices of a sequence, made all at once by ``split``) may go the other way: each waits
until its first reader, so the pieces are not all alive at once (the pass keeps whichever of
the two orders has the lower peak of live bytes). Every other node keeps its order. The
forward and backward regions of a training graph are scheduled separately (nothing crosses
between them).
"""
from __future__ import annotations

from dataclasses import replace


from .. import ops
from ..ir.graph import Graph
from ..ir.phases import forward_region
from .manager import register_pass



def _order(g: Graph, ids: list[int], done: set, sink: bool = True) -> list[int]:
    idset = set(ids)
    users: dict[int, list[int]] = {}
    for i in ids:
        for j in g.nodes[i].inputs:
            users.setdefault(j, []).append(i)
    outputs = set(g.outputs)
    shrinks: set[int] = set()
    for i in reversed(ids):                 # consumers first
        n = g.nodes[i]
        if n.op in ("input", "const") or not n.inputs:
            continue
        biggest = max(g.nodes[j].nbytes for j in n.inputs)
        us = users.get(i, [])
        feeds_shrinks = (us and i not in outputs and n.nbytes <= biggest and
                         ops.get(n.op).kind in ("elementwise", "broadcast") and
                         all(u in shrinks for u in us if u in idset))
        if (n.nbytes < biggest and ops.get(n.op).kind == "reduction") or feeds_shrinks:
            shrinks.add(i)                  # shrinks data, or an elementwise op feeding those
    # ops that only cut their input into smaller pieces (the slices of a sequence) wait until
    # their first reader: their input stays alive anyway, the pieces need not
    sinks = {i for i in ids if sink and i not in shrinks and i not in outputs
             and g.nodes[i].inputs
             and g.nodes[i].op not in ("input", "const")
             and ops.get(g.nodes[i].op).kind in ("opaque", "view")
             and not ops.get(g.nodes[i].op).random
             and any(u in idset for u in users.get(i, ()))
             and g.nodes[i].nbytes < max(g.nodes[j].nbytes for j in g.nodes[i].inputs)}
    for i in ids:                           # ... and so do views of the pieces
        n = g.nodes[i]
        if n.inputs and i not in outputs and ops.get(n.op).kind == "view" and \
                all(j in sinks for j in n.inputs):
            sinks.add(i)
    waiting = {}
    for i in shrinks:
        for j in g.nodes[i].inputs:
            waiting.setdefault(j, []).append(i)
    out: list[int] = []

    def emit(i):
        for j in g.nodes[i].inputs:         # pieces this node reads are cut now
            if j in sinks and j not in done:
                emit(j)
        # depth first: each emitted node then emits the waiting nodes it made ready (a loop,
        # not recursion: chains of shrinking nodes can be thousands long)
        out.append(i)
        done.add(i)
        stack = [iter(waiting.get(i, ()))]
        while stack:
            k = next(stack[-1], None)
            if k is None:
                stack.pop()
            elif k not in done and all(j in done for j in g.nodes[k].inputs):
                out.append(k)
                done.add(k)
                stack.append(iter(waiting.get(k, ())))
    for i in ids:
        if i in done or i in sinks:
            continue
        if i in shrinks and not all(j in done for j in g.nodes[i].inputs):
            continue          # emitted by the last of its inputs
        emit(i)
    for i in ids:                           # pieces nobody in this region read (none, usually)
        if i not in done:
            emit(i)
    return out


def _reordered(g: Graph, sink: bool) -> Graph:
    fwd = forward_region(g)
    done: set = set()
    order = _order(g, [i for i in range(len(g.nodes)) if i in fwd], done, sink)
    order += _order(g, [i for i in range(len(g.nodes)) if i not in fwd], done, sink)
    if order == list(range(len(g.nodes))):
        return g
    remap = {old: new for new, old in enumerate(order)}
    nodes = tuple(replace(g.nodes[o], inputs=tuple(remap[j] for j in g.nodes[o].inputs))
                  for o in order)
    return Graph(nodes, tuple(remap[o] for o in g.outputs), g.consts)


@register_pass("schedule")
def schedule(g: Graph) -> Graph:
    """Whether cutting pieces late pays depends on how far apart their readers are (the
    steps of a sequence: yes; the query/key/value of one attention: no), so both orders are
    built and the one with the lower peak of live bytes is kept."""
    from .planner import build_storages, lifetimes, peak_live
    best, best_peak = None, None
    for sink in (False, True):
        cand = _reordered(g, sink)
        peak = peak_live(build_storages(cand, lifetimes(cand))[0])
        if best is None or peak < best_peak:
            best, best_peak = cand, peak
    return best
