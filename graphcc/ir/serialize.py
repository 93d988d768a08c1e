"""JSON (de)serialisation of graphs; ``loads(dumps(g)) == g`` exactly."""
from __future__ import annotations

import base64
import json

import numpy as np

from .. import ops
from ..errors import GraphccError
from .graph import Graph, Node, kernel_record
from .types import TensorType

FORMAT = "graphcc-ir"
VERSION = 1


def _jsonable(v):
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    return v


def to_dict(g: Graph) -> dict:
    nodes = []
    for n in g.nodes:
        d = {"op": n.op, "inputs": list(n.inputs), "type": str(TensorType(n.shape, n.dtype)),
             "attrs": {k: _jsonable(v) for k, v in n.attrs}}
        if n.loc:
            d["loc"] = n.loc
        nodes.append(d)
    consts = {k: {"dtype": v.dtype.name, "shape": list(v.shape),
                  "data": base64.b64encode(np.ascontiguousarray(v).tobytes()).decode("ascii")}
              for k, v in g.consts.items()}
    d = {"format": FORMAT, "version": VERSION, "nodes": nodes, "outputs": list(g.outputs),
         "consts": consts}
    if g.kernels:
        d["kernels"] = [{"members": list(k), "kind": getattr(k, "kind", "elementwise"),
                         "domain": list(getattr(k, "domain", ())),
                         "reduce_axes": list(getattr(k, "reduce_axes", ())),
                         "anchor": getattr(k, "anchor", None)} for k in g.kernels]
    return d


def dumps(g: Graph, indent: int | None = None) -> str:
    return json.dumps(to_dict(g), indent=indent)


def from_dict(d: dict) -> Graph:
    if d.get("format") != FORMAT:
        raise GraphccError("not a graphcc IR document (missing \"format\": \"graphcc-ir\")")
    nodes = []
    for i, nd_ in enumerate(d["nodes"]):
        t = TensorType.parse(nd_["type"])
        row = ops.get(nd_["op"])
        attrs = ops.normalize_attrs(row, nd_.get("attrs", {}))
        nodes.append(Node(row.name, tuple(nd_["inputs"]), t.shape, t.dtype, attrs,
                          nd_.get("loc", "")))
    consts = {}
    for k, c in d.get("consts", {}).items():
        raw = base64.b64decode(c["data"])
        consts[k] = np.frombuffer(raw, dtype=c["dtype"]).reshape(c["shape"]).copy()
    outputs = tuple(d["outputs"])
    kernels = []
    for k in d.get("kernels", ()):
        if isinstance(k, dict):       # a record (older documents hold member lists)
            kernels.append(kernel_record(nodes, outputs, tuple(k["members"]),
                                         k.get("kind", "elementwise"), tuple(k.get("domain", ())),
                                         tuple(k.get("reduce_axes", ())), k.get("anchor")))
        else:
            kernels.append(kernel_record(nodes, outputs, tuple(k)))
    return Graph(tuple(nodes), outputs, consts, tuple(kernels))


def loads(text: str) -> Graph:
    try:
        d = json.loads(text)
    except json.JSONDecodeError as e:
        raise GraphccError(f"graph JSON does not parse: {e}") from None
    return from_dict(d)
