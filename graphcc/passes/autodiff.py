"""The gradient pass: append the backward graph of a graph's outputs.

Stages: (1) find the nodes on a path from the inputs being differentiated to the outputs;
(2) walk those nodes in reverse order, applying each op's gradient rule with ``F`` bound to a
graph builder, so backward nodes are ordinary nodes appended after the forward ones;
gradients reaching one value from several users are summed. Each rule reads only the forward
values its row declares in ``needs``, so the backward depends on as few forward values as
possible. New inputs: one head gradient per output (role "grad", named ``_head_grad<k>``);
new outputs, after the original ones: one gradient per differentiated input (zeros where no
gradient reaches it). Not handled: ops without a gradient rule on a differentiated path (an
error naming the op and its source line).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .. import ops
from ..errors import GraphccError
from ..ir.graph import Kernel, kernel_record, Graph, GraphBuilder
from ..ops.registry import GradCtx
from .manager import register_pass


@dataclass(frozen=True)
class GradInfo:
    n_outputs: int                 # forward outputs come first in the joint graph's outputs
    wrt: tuple[str, ...]           # names of the differentiated inputs, in grad-output order
    head_inputs: tuple[int, ...]   # node indices of the head-gradient inputs


def _reach(g: Graph, wrt_ids) -> set:
    reach = set(wrt_ids)
    for i, n in enumerate(g.nodes):
        if any(j in reach for j in n.inputs):
            reach.add(i)
    return reach


def gradient(g: Graph, wrt: Sequence[str], n_heads: int | None = None
             ) -> tuple[Graph, GradInfo]:
    """The joint forward+backward graph for the inputs named in ``wrt``.

    The first ``n_heads`` outputs (default: all) get head gradients; later outputs are
    forward-only values (auxiliary-state updates)."""
    n_heads = len(g.outputs) if n_heads is None else n_heads
    by_name = {g.nodes[i].attr("name"): i for i in g.input_ids}
    missing = [w for w in wrt if w not in by_name]
    if missing:
        raise GraphccError(f"gradient: no graph inputs named {', '.join(missing)}")
    wrt_ids = [by_name[w] for w in wrt]
    reach = _reach(g, wrt_ids)
    b = GraphBuilder(base=g)
    heads = tuple(b.input(f"_head_grad{k}", g.type(o), "grad")
                  for k, o in enumerate(g.outputs[:n_heads]))
    adj: dict[int, int] = {}

    def accumulate(i, v):
        adj[i] = v if i not in adj else b.emit("add", [adj[i], v])

    for o, h in zip(g.outputs, heads):
        if o in reach:
            accumulate(o, h)
    for i in reversed(range(len(g.nodes))):
        n = g.nodes[i]
        if i not in adj or n.op in ("input", "const"):
            continue
        row = ops.get(n.op)
        if row.grad is None:
            where = f" at {n.loc}" if n.loc else ""
            raise GraphccError(f"{n.op}{where} has no gradient rule, but a gradient must flow "
                               "through it (wrap its input with stop_gradient if intended)")
        b.loc = f"{n.loc} (backward of {n.op})" if n.loc else f"(backward of {n.op})"
        ctx = GradCtx(b, adj[i],
                      tuple(j if k in row.needs else None for k, j in enumerate(n.inputs)),
                      i if "out" in row.needs else None,
                      tuple(g.nodes[j].type for j in n.inputs), n.type, n.attrs_dict)
        grads = row.grad(ctx)
        if len(grads) != len(n.inputs):
            raise GraphccError(f"gradient rule of {n.op} returned {len(grads)} gradients for "
                               f"{len(n.inputs)} inputs")
        for j, gv in zip(n.inputs, grads):
            if gv is None or j not in reach:
                continue
            if b.nodes[gv].shape != g.nodes[j].shape:
                raise GraphccError(f"gradient rule of {n.op} gave shape {b.nodes[gv].shape} "
                                   f"for an input of shape {g.nodes[j].shape} (a bug in the "
                                   "rule)")
            accumulate(j, gv)
    b.loc = ""
    outs = list(g.outputs)
    for w in wrt_ids:
        if w in adj:
            outs.append(adj[w])
        else:
            t = g.type(w)
            outs.append(b.emit("zeros", [], {"shape": t.shape, "dtype": t.dtype}))
    return b.build(outs), GradInfo(len(g.outputs), tuple(wrt), heads)


def gradient_pass(wrt: Sequence[str], n_heads: int | None = None):
    """A pipeline entry that appends the backward graph for the inputs named ``wrt``."""
    def gradient_for(g: Graph):
        return gradient(g, wrt, n_heads)
    gradient_for.pass_name = "gradient"
    return gradient_for


@register_pass("gradient")
def _gradient_marker(g: Graph) -> Graph:
    """Placeholder in pipelines: the compiler replaces it by ``gradient_pass(wrt)`` when it
    compiles a training graph, and drops it for inference."""
    return g


def split_forward_backward(g: Graph) -> tuple[Graph, int]:
    """Reorder a joint graph so that its forward region (``ir.phases``) comes first, keeping
    kernels. Returns (graph, k): nodes [0, k) run in the forward call, [k, n) in backward."""
    from ..ir.phases import forward_region
    fwd = forward_region(g)
    order = [i for i in range(len(g.nodes)) if i in fwd] + \
        [i for i in range(len(g.nodes)) if i not in fwd]
    if order == list(range(len(g.nodes))):
        return g, len(fwd)
    remap = {old: new for new, old in enumerate(order)}
    from dataclasses import replace
    nodes = tuple(replace(g.nodes[old], inputs=tuple(remap[j] for j in g.nodes[old].inputs))
                  for old in order)
    outputs = tuple(remap[o] for o in g.outputs)
    kernels = []
    for k in g.kernels:
        moved = tuple(sorted(remap[i] for i in k))
        if moved == tuple(range(moved[0], moved[0] + len(moved))):
            kernels.append(k.moved(moved, nodes, outputs) if isinstance(k, Kernel)
                           else kernel_record(nodes, outputs, moved))
    return Graph(nodes, outputs, g.consts, tuple(kernels)), len(fwd)
