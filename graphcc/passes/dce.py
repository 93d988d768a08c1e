"""Dead-code elimination."""
from __future__ import annotations

from ..ir.graph import Graph
from .manager import register_pass


@register_pass("dce")
def dce(g: Graph) -> Graph:
    """Drop nodes whose values never reach an output (inputs are always kept)."""
    live = set(g.outputs)
    for i in reversed(range(len(g.nodes))):
        if i in live:
            live.update(g.nodes[i].inputs)
    return g.keep([i for i, n in enumerate(g.nodes) if i in live or n.op == "input"])
