"""``input`` and ``const`` rows, so that every graph node's op is in the registry."""
from __future__ import annotations

from ..errors import ShapeError
from .registry import Attr, OpDef, register

INPUT_ROLES = ("data", "param", "aux", "const", "grad")


def _no_infer(in_types, attrs):
    raise ShapeError("graph inputs and constants carry their own type")


register(OpDef(name="input", inputs=(), infer=_no_infer, impl=None, kind="input",
               attrs={"name": Attr("str"), "role": Attr("str", "data", INPUT_ROLES)},
               doc="a graph input: data, a parameter, an auxiliary state, a constant or a head "
                   "gradient"))
register(OpDef(name="const", inputs=(), infer=_no_infer, impl=None, kind="input",
               attrs={"name": Attr("str")}, doc="a folded constant; its value is in Graph.consts"))
