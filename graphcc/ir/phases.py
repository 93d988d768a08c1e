"""Forward and backward regions of a joint training graph.

Head gradients are inputs with role "grad". Outputs that do not depend on any of them are
forward outputs; their ancestors (and every graph input) form the forward region, run by the
forward call; all other nodes form the backward region. Every pass and the executor use this
one rule, so kernels never straddle the two calls.
"""
from __future__ import annotations


def depends_on_heads(g) -> set[int]:
    dep = {i for i in g.input_ids if g.nodes[i].attr("role") == "grad"}
    for i, n in enumerate(g.nodes):
        if any(j in dep for j in n.inputs):
            dep.add(i)
    return dep


def forward_region(g) -> set[int]:
    """Indices of the nodes the forward call runs (all of them for an inference graph)."""
    dep = depends_on_heads(g)
    if not dep:
        return set(range(len(g.nodes)))
    fwd = set(g.input_ids)
    stack = [o for o in g.outputs if o not in dep]
    while stack:
        i = stack.pop()
        if i in fwd and g.nodes[i].op != "input":
            continue
        fwd.add(i)
        stack.extend(g.nodes[i].inputs)
    return fwd
