"""The reference interpreter: what every graph means. One NumPy call per node."""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np

from .. import ops
from ..errors import GraphccError
from .graph import Graph


def interpret(g: Graph, inputs: Sequence[np.ndarray] | Mapping[str, np.ndarray],
              hook: Callable[[int, object, np.ndarray], None] | None = None,
              free: bool = True) -> list[np.ndarray]:
    """Run ``g`` on NumPy inputs (in input order, or by name); return its outputs.

    ``hook(i, node, value)`` sees every computed node; with ``free`` values are dropped after
    their last reader."""
    ids = g.input_ids
    if isinstance(inputs, Mapping):
        missing = [g.nodes[i].attr("name") for i in ids if g.nodes[i].attr("name") not in inputs]
        if missing:
            raise GraphccError(f"missing graph inputs: {', '.join(missing)}")
        inputs = [inputs[g.nodes[i].attr("name")] for i in ids]
    if len(inputs) != len(ids):
        raise GraphccError(f"graph takes {len(ids)} inputs, got {len(inputs)}")
    last = {}
    if free:
        for j, n in enumerate(g.nodes):
            for i in n.inputs:
                last[i] = j
        for o in g.outputs:
            last[o] = len(g.nodes)
    vals: dict[int, np.ndarray] = {}
    for i, x in zip(ids, inputs):
        n = g.nodes[i]
        x = np.asarray(x)
        if tuple(x.shape) != n.shape or x.dtype.name != n.dtype:
            raise GraphccError(f"input {n.attr('name')!r}: expected {n.type}, got "
                               f"{x.dtype.name}{list(x.shape)}")
        vals[i] = x
    with np.errstate(all="ignore"):
        for i, n in enumerate(g.nodes):
            if n.op == "input":
                continue
            if n.op == "const":
                vals[i] = g.consts[n.attr("name")]
            else:
                row = ops.get(n.op)
                vals[i] = ops.run_impl(row, [vals[j] for j in n.inputs], n.attrs, n.type)
            if hook is not None:
                hook(i, n, vals[i])
            if free:
                for j in set(n.inputs):
                    if last.get(j) == i:
                        del vals[j]
    return [vals[o] for o in g.outputs]
