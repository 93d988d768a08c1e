"""Shape inference and lowering of Symbols.

The inference helpers give variables their types: from shapes the user gives (``_var_type``,
checked against partly known shapes) or from an op's ``complete`` rule (``_complete``).
``to_graph`` lowers symbols to the IR ``Graph`` the passes and backends work on; ``from_graph``
turns a graph back into symbols. Import these names from symbol.py, which re-exports them.
"""
from __future__ import annotations

import operator

import numpy as np

from .. import ops
from ..errors import GraphccError, ShapeError
from ..ir.graph import Graph, GraphBuilder
from ..ir.types import TensorType, canon_dtype
from .symbol import NameManager, Symbol, SymNode, _aux_vars, topo

# ---------------------------------------------------------------- inference helpers


def _var_type(n: SymNode, given):
    if given is not None:
        shape, dt = given
        dt = dt or (n.partial[1] if n.partial else None) or (n.type.dtype if n.type else
                                                             "float32")
        if n.partial and n.partial[0] is not None:
            _check_partial(n, shape)
        return TensorType(_shape_arg(f"the shape of {n.name}", shape), canon_dtype(dt))
    if n.type is not None:
        return n.type
    return None


def _check_partial(n: SymNode, shape):
    want = n.partial[0]
    if len(want) != len(shape) or any(w not in (0, s) for w, s in zip(want, shape)):
        raise ShapeError(f"{n.name}: shape {tuple(shape)} does not match its declared shape "
                         f"{tuple(want)} (0 = unknown)")


def _complete(op, in_nodes, in_types, attrs, types=None):
    """Fill unknown variable types from the op's ``complete`` rule."""
    shapes = [t.shape if t is not None else None for t in in_types]
    try:
        filled = op.complete(list(shapes), dict(attrs))
    except (ValueError, IndexError, TypeError, KeyError):
        return in_types
    data_dt = next((t.dtype for t in in_types if t is not None), "float32")
    out = list(in_types)
    for k, (node, t) in enumerate(zip(in_nodes, in_types)):
        if t is not None or not node.is_var or k >= len(filled) or filled[k] is None:
            continue
        shape = tuple(int(d) for d in filled[k])
        if any(d <= 0 for d in shape):
            continue
        if node.partial and node.partial[0] is not None:
            _check_partial(node, shape)
        dt = (node.partial[1] if node.partial else None) or data_dt
        out[k] = TensorType(shape, canon_dtype(dt))
        if types is not None:
            types[id(node)] = out[k]
        else:
            node.type = out[k]
    return out


def _shape_arg(what, shape) -> tuple[int, ...]:
    """A shape given by the user: a tuple of non-negative ints (0: unknown)."""
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        dims = tuple(operator.index(d) for d in shape)
    except TypeError:
        dims = None
    if dims is None or any(d < 0 for d in dims):
        raise ShapeError(f"{what} must be a tuple of non-negative ints, got {shape!r}")
    return dims


# ---------------------------------------------------------------- lowering


def to_graph(outputs, data_inputs=None, types=None):
    """Lower symbols to an IR Graph.

    Returns ``(graph, variables)``: ``variables[k]`` is the SymNode behind the graph's k-th
    input (data inputs first, in ``data_inputs`` order, then parameters, auxiliary states and
    captured constants in first-use order)."""
    out_nodes = []
    for s in outputs:
        out_nodes.extend(s._nodes if isinstance(s, Symbol) else [s])
    order = sorted(topo(out_nodes), key=lambda n: n.seq)   # the trace order: a topological
    #                                                         order that keeps lifetimes short
    aux = _aux_vars(order)
    types = types or {}

    def type_of(n):
        return types.get(id(n)) or n.type
    for n in order:
        if type_of(n) is None:
            raise ShapeError(f"cannot lower {n.name}: its shape is unknown; run infer_shape "
                             "or give input shapes")
    data = [s._single() if isinstance(s, Symbol) else s for s in (data_inputs or [])]
    seen = {id(n) for n in data}
    rest = [n for n in order if n.is_var and id(n) not in seen]
    variables = data + rest
    b = GraphBuilder()
    ids: dict[int, int] = {}
    used_names: set[str] = set()
    for n in variables:
        role = "aux" if id(n) in aux else ("param" if n.role == "param" else n.role)
        nm = n.name
        while nm in used_names:
            nm = nm + "_"
        used_names.add(nm)
        ids[id(n)] = b.input(nm, type_of(n), role)
    cache: dict = {}
    for n in order:
        if n.is_var:
            if id(n) not in ids:
                raise GraphccError(f"variable {n.name} was not bound")
            continue
        if n.op.expand is not None:           # a composite not expanded yet
            from .composite import lower
            ids[id(n)] = lower(b, n, ids, type_of, cache)
            continue
        ids[id(n)] = b.emit(n.op.name, [ids[id(i)] for i in n.inputs], dict(n.attrs), loc=n.loc)
    g = b.build([ids[id(n)] for n in out_nodes])
    return g, variables


def from_graph(g: Graph, names=None) -> Symbol:
    """Symbols for a graph's outputs (inputs become variables with the graph's types)."""
    nodes: list[SymNode] = []
    for i, n in enumerate(g.nodes):
        if n.op == "input":
            nodes.append(SymNode(None, (), (), n.attr("name"), n.type, role=n.attr("role")))
        elif n.op == "const":
            from .ndarray import NDArray
            nodes.append(SymNode(None, (), (), n.attr("name"), n.type, role="const",
                                 value=NDArray(g.consts[n.attr("name")])))
        else:
            nodes.append(SymNode(ops.get(n.op), [nodes[j] for j in n.inputs], n.attrs,
                                 NameManager.get(None, n.op), n.type, n.loc))
    return Symbol([nodes[o] for o in g.outputs])
