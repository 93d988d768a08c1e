"""Composite ops (rows with ``expand``: Dropout, split, split_v2, topk) in symbol graphs.

``apply`` expands a composite into simpler ops as soon as its input types are known, and
marks each result node with ``origin = (Origin, k)`` ("output k of this composite call"), so
that export and ``SymbolBlock`` see the op the user called (MXNet's ``Dropout``,
``SliceChannel``) rather than its expansion, whose attributes may hold traced shapes.

When an input type is unknown (``mx.sym`` graphs built without shapes, imported JSON) the
composite cannot be expanded yet: it stays as one node per output whose op is the composite
itself. Shape inference (``composite_type``) and lowering (``lower``) expand it on the types
known by then. Nothing else in the compiler ever sees a composite node.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import GraphccError


@dataclass(eq=False)
class Origin:
    """One call of a composite op: what the user wrote, before expansion."""
    op: object             # OpDef with ``expand``
    inputs: tuple          # SymNodes
    attrs: tuple           # normalised attribute pairs
    name: str
    n_out: int


def n_outputs(op, attrs: dict) -> int:
    """How many values a composite returns, from its attributes alone."""
    if op.name == "split":
        return int(attrs["num_outputs"])
    if op.name == "split_v2":
        ios = attrs["indices_or_sections"]
        return len(ios) + 1 if isinstance(ios, (tuple, list)) else int(ios)
    if op.name == "topk":
        return 2 if attrs.get("ret_typ") == "both" else 1
    return 1


def _as_list(res):
    return list(res) if isinstance(res, (list, tuple)) else [res]


def mark(result, op, nodes, attrs_t, name):
    """Record on the expansion's outputs which composite call produced them."""
    outs = _as_list(result)
    origin = Origin(op, tuple(nodes), attrs_t, name, len(outs))
    for k, s in enumerate(outs):
        node = s._nodes[0]
        if node.is_var or any(node is i for i in nodes):
            continue                         # the expansion returned an input unchanged
        node.origin = (origin, k)
        if len(outs) == 1:
            node.name = name
    return result


def pending(op, nodes, attrs_t, name, loc):
    """Unexpanded composite: one node per output (input types not known yet)."""
    from .symbol import Symbol, SymNode
    n = n_outputs(op, dict(attrs_t))
    origin = Origin(op, tuple(nodes), attrs_t, name, n)
    outs = []
    for k in range(n):
        node = SymNode(op, nodes, attrs_t, name, None, loc)
        node.origin = (origin, k)
        outs.append(Symbol([node]))
    return outs[0] if n == 1 else outs


def _expand_on(origin, in_types):
    """Expand ``origin`` on fresh typed placeholder inputs: (placeholders, output nodes)."""
    from . import sym as F
    from .symbol import Symbol, SymNode, name_prefix
    proxies = [SymNode(None, (), (), f"_in{i}", t, role="data") for i, t in enumerate(in_types)]
    with name_prefix(origin.name + "_"):
        res = origin.op.expand(F, [Symbol([p]) for p in proxies], dict(origin.attrs))
    outs = [s._nodes[0] for s in _as_list(res)]
    if len(outs) != origin.n_out:
        raise GraphccError(f"{origin.op.name} ({origin.name}) gave {len(outs)} outputs, "
                           f"expected {origin.n_out}")
    return proxies, outs


def composite_type(node, in_types, cache: dict):
    """The type of an unexpanded composite node given its input types."""
    origin, k = node.origin
    key = id(origin)
    if key not in cache:
        cache[key] = _expand_on(origin, in_types)
    return cache[key][1][k].type


def lower(builder, node, ids: dict, type_of, cache: dict) -> int:
    """Emit the expansion of an unexpanded composite node into ``builder``; its graph id."""
    from .symbol import topo
    origin, k = node.origin
    key = ("lower", id(origin))
    if key not in cache:
        proxies, outs = _expand_on(origin, [type_of(i) for i in origin.inputs])
        local = {id(p): ids[id(real)] for p, real in zip(proxies, origin.inputs)}
        for n in topo(outs):
            if id(n) in local:
                continue
            if n.is_var:
                raise GraphccError(f"{origin.op.name} ({origin.name}): its expansion reads "
                                   f"an unbound value {n.name}")
            local[id(n)] = builder.emit(n.op.name, [local[id(i)] for i in n.inputs],
                                        dict(n.attrs), loc=node.loc)
        cache[key] = [local[id(o)] for o in outs]
    return cache[key][k]
