"""The op-level view of a Symbol: one node per op call, as the user wrote it.

A Symbol's nodes may hold the expansions of composite ops (Dropout, split: see composite.py)
and attributes the tracer adds (``training``, filled from the autograd mode). ``logical``
folds those back into one node per call with the user's attributes. That view is what MXNet's
symbol JSON stores (symbol_json.py), what ``HybridBlock.export`` writes, and what
``SymbolBlock`` re-runs on every call (``run``): eagerly on NDArrays, or symbolically while it
is traced, so that train/predict-dependent ops follow the mode of the call, not the mode at
the time the Symbol was built.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import GraphccError

INTERNAL_ATTRS = ("training",)     # set by the tracer from the mode; never exported


@dataclass(eq=False)
class LNode:
    op: object                    # OpDef, a macro ``(F, inputs, attrs) -> value``, or None (var)
    name: str
    attrs: dict                   # ops: attribute values; variables: their attributes
    inputs: list = field(default_factory=list)    # (node index, output index)
    n_out: int = 1
    var: object = None            # variables: the SymNode (type, role, parameter, value)

    @property
    def is_var(self):
        return self.op is None


def _key(n):
    return id(n.origin[0]) if n.origin is not None else id(n)


def _children(n):
    return n.origin[0].inputs if n.origin is not None else n.inputs


def _out_index(n):
    return n.origin[1] if n.origin is not None else 0


def _lnode(n, inputs) -> LNode:
    if n.is_var:
        return LNode(None, n.name, dict(n.var_attrs), [], 1, n)
    if n.origin is not None:
        o = n.origin[0]
        attrs = {k: v for k, v in o.attrs if k not in INTERNAL_ATTRS}
        return LNode(o.op, o.name, attrs, inputs, o.n_out)
    attrs = {k: v for k, v in n.attrs if k not in INTERNAL_ATTRS}
    return LNode(n.op, n.name, attrs, inputs, 1)


def logical(out_nodes) -> tuple[list[LNode], list[tuple[int, int]]]:
    """(nodes in topological order, heads as (node index, output index)) of these outputs.

    Depth-first from the outputs, inputs before users, first visit kept: the order of
    variables is the order of ``Symbol.list_arguments()``."""
    nodes: list[LNode] = []
    index: dict[int, int] = {}
    for root in out_nodes:
        stack = [(root, 0)]
        while stack:
            node, k = stack.pop()
            if k == 0 and _key(node) in index:
                continue
            kids = _children(node)
            if k < len(kids):
                stack.append((node, k + 1))
                if _key(kids[k]) not in index:
                    stack.append((kids[k], 0))
            elif _key(node) not in index:
                index[_key(node)] = len(nodes)
                nodes.append(_lnode(node, [(index[_key(c)], _out_index(c)) for c in kids]))
    heads = [(index[_key(n)], _out_index(n)) for n in out_nodes]
    return nodes, heads


def aux_indices(nodes: list[LNode]) -> set[int]:
    """Indices of the variables that are auxiliary states (BatchNorm's moving statistics)."""
    aux = set()
    for ln in nodes:
        if ln.is_var or not hasattr(ln.op, "aux_inputs"):
            continue
        for pos in ln.op.aux_inputs:
            if pos < len(ln.inputs) and nodes[ln.inputs[pos][0]].is_var:
                aux.add(ln.inputs[pos][0])
    return aux


def run(nodes: list[LNode], heads, values: dict, symbolic: bool, ctx=None) -> list:
    """Evaluate the op-level graph: ``values`` maps variable names to NDArrays (eager) or
    Symbols (``symbolic``); a variable without a value keeps its own node when symbolic."""
    from . import nd, sym
    from .dispatch import invoke
    from .symbol import Symbol, apply
    outs: list[list] = []
    for ln in nodes:
        if ln.is_var:
            if ln.name in values:
                outs.append([values[ln.name]])
            elif symbolic and ln.var is not None:
                outs.append([Symbol([ln.var])])
            else:
                raise GraphccError(f"no value for the graph input {ln.name!r}")
            continue
        ins = []
        for j, k in ln.inputs:
            if k >= len(outs[j]):
                raise GraphccError(f"node {ln.name!r} reads output {k} of {nodes[j].name!r}, "
                                   f"which has {len(outs[j])} output(s)")
            ins.append(outs[j][k])
        attrs = {k: v for k, v in ln.attrs.items() if k not in INTERNAL_ATTRS}
        try:
            if not hasattr(ln.op, "impl"):            # an import macro (add_n)
                res = ln.op(sym if symbolic else nd, ins, attrs)
            elif symbolic:
                res = apply(ln.op, ins, attrs, name=ln.name)
            else:
                res = invoke(ln.op, ins, attrs, ctx=ctx)
        except GraphccError as e:
            raise type(e)(f"in node {ln.name!r}: {e}") from None
        outs.append(list(res) if isinstance(res, (list, tuple)) else [res])
    return [outs[j][k] for j, k in heads]
