"""The op registry: one row of facts per op.

Every stage reads the same row: eager NDArray calls (``impl``), the reference interpreter
(``impl``), shape inference (``infer``), autodiff (``grad`` + ``needs``), fusion (``kind``,
``expr``), memory planning (``inplace``). Adding an op means adding one row and its tests.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np

from ..errors import DTypeError, GraphccError, OpAttrError, ShapeError, UnknownOpError
from ..ir.types import TensorType, canon_dtype

REQUIRED = object()

KINDS = ("elementwise", "broadcast", "reduction", "opaque", "view", "source", "input")


# ---------------------------------------------------------------- attribute schema


def _literal(v):
    """Attribute values may arrive as strings (MXNet JSON, ``sym`` attrs): parse them."""
    if isinstance(v, str):
        s = v.strip()
        if s in ("None", "none"):
            return None
        if s in ("True", "true"):
            return True
        if s in ("False", "false"):
            return False
        try:
            return ast.literal_eval(s)
        except (ValueError, SyntaxError):
            return v
    return v


def _as_int(v):
    v = _literal(v)
    if isinstance(v, (bool, np.bool_)):
        return int(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return int(v)
    raise ValueError("an integer")


def _as_float(v):
    v = _literal(v)
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
        return float(v)
    if isinstance(v, bool):
        return float(v)
    raise ValueError("a number")


def _as_bool(v):
    v = _literal(v)
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)) and v in (0, 1):
        return bool(v)
    raise ValueError("True or False")


def _as_ints(v):
    v = _literal(v)
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return (int(v),)
    if isinstance(v, (list, tuple)):
        return tuple(_as_int(x) for x in v)
    raise ValueError("an int or a tuple of ints")


def _as_axes(v):
    v = _literal(v)
    if v is None or v == ():
        return None if v is None else ()
    return _as_ints(v)


def _as_str(v):
    if isinstance(v, str):
        return v
    raise ValueError("a string")


def _as_any(v):
    v = _literal(v)
    if isinstance(v, list):
        return tuple(_as_any(x) for x in v)
    if isinstance(v, np.generic):
        return v.item()
    return v


def _opt(parse):
    def p(v):
        v = _literal(v)
        return None if v is None else parse(v)
    return p


_PARSERS = {
    "int": _as_int,
    "float": _as_float,
    "bool": _as_bool,
    "str": _as_str,
    "ints": _as_ints,           # a shape, a kernel size, a tuple of axes
    "axes": _as_axes,           # None (all axes) or a tuple of ints
    "dtype": lambda v: canon_dtype(_literal(v) if _literal(v) != "None" else v),
    "any": _as_any,
    "int?": _opt(_as_int),
    "bool?": _opt(_as_bool),
    "float?": _opt(_as_float),
    "ints?": _opt(_as_ints),
    "dtype?": _opt(canon_dtype),
    "str?": _opt(_as_str),
}


@dataclass(frozen=True)
class Attr:
    kind: str
    default: object = REQUIRED
    choices: tuple = ()
    doc: str = ""

    def parse(self, op: str, name: str, value):
        try:
            v = _PARSERS[self.kind](value)
        except (ValueError, TypeError, SyntaxError) as e:
            raise OpAttrError(f"{op}: attribute {name}={value!r} must be {e}") from None
        if self.choices and v not in self.choices:
            raise OpAttrError(f"{op}: attribute {name}={value!r} must be one of "
                              f"{', '.join(repr(c) for c in self.choices)}")
        return v


# ---------------------------------------------------------------- gradient context


@dataclass
class GradCtx:
    """What a gradient rule sees.

    ``F`` is the namespace the rule builds its result with (eager ``nd`` or a graph builder);
    ``inputs[i]`` / ``out`` hold forward values only where the rule declared them in ``needs``
    (other entries are ``None``); types are always available.
    """
    F: object
    g: object
    inputs: tuple
    out: object
    in_types: tuple
    out_type: TensorType
    attrs: dict


# ---------------------------------------------------------------- the op row


@dataclass(frozen=True, eq=False)
class OpDef:
    name: str
    inputs: tuple[str, ...]               # input names; "*data" marks a variadic tail
    infer: Callable                       # (in_types, attrs) -> TensorType
    impl: Callable                        # (*arrays, **attrs) -> np.ndarray
    attrs: Mapping[str, Attr] = field(default_factory=dict)
    grad: Callable | None = None          # (GradCtx) -> tuple of input gradients (None = zero)
    needs: tuple = ()                     # forward values the gradient reads: "out", 0, 1, ...
    kind: str = "opaque"
    inplace: tuple[int, ...] = ()         # inputs whose buffer the output may take over
    expr: object = None                   # scalar template for elementwise codegen: "{0} + {1}",
    #                                       or attrs -> template (None: not fusible)
    row: object = None                    # reductions and row-wise ops, for codegen: the steps of
    #                                       one row (see ``row_of``), or attrs -> steps
    aliases: tuple[str, ...] = ()
    random: bool = False                  # draws from the RNG: never folded or merged
    nondiff: tuple[int, ...] = ()         # inputs that get no gradient (indices, labels)
    aux_inputs: tuple[int, ...] = ()      # inputs that are auxiliary states (BatchNorm's
    #                                       moving statistics): list_auxiliary_states()
    input_names: Callable | None = None   # attrs -> input names, when they depend on attrs
    complete: Callable | None = None      # (in_shapes with None, attrs) -> filled input shapes
    aux_update: Callable | None = None    # (F, inputs, attrs) -> [(input index, new value)]:
    #                                       auxiliary-state updates a training step applies
    #                                       when its backward runs (BatchNorm's moving stats)
    aux_decay: Callable | None = None     # attrs -> d: each update is affine in the old
    #                                       state, new = d * old + (the update with old = 0)
    train_aware: bool = False             # has a "training" attr the caller fills from
    #                                       autograd.is_training() when not given
    expand: Callable | None = None        # composite op: (F, inputs, attrs) -> value built of
    #                                       other ops (e.g. Dropout = x * bernoulli mask)
    doc: str = ""

    def names_of_inputs(self, attrs: Mapping) -> tuple[str, ...]:
        return tuple(self.input_names(attrs)) if self.input_names else self.inputs

    @property
    def variadic(self) -> bool:
        return bool(self.inputs) and self.inputs[-1].startswith("*")


OPS: dict[str, OpDef] = {}
ALIASES: dict[str, str] = {}


def register(op: OpDef) -> OpDef:
    if op.kind not in KINDS:
        raise ValueError(f"op {op.name}: unknown fusion kind {op.kind!r}")
    for n in (op.name, *op.aliases):
        if n in OPS or n in ALIASES:
            raise ValueError(f"op name {n!r} registered twice")
    OPS[op.name] = op
    for a in op.aliases:
        ALIASES[a] = op.name
    return op


def canonical(name: str) -> str:
    return ALIASES.get(name, name)


def get(name: str) -> OpDef:
    op = OPS.get(name) or OPS.get(ALIASES.get(name, ""))
    if op is None:
        raise UnknownOpError(f"unknown op {name!r}")
    return op


def kind(name: str) -> str:
    return get(name).kind


def expr_of(op: "OpDef", attrs) -> str | None:
    """The op's scalar expression template for these attributes (None: no template)."""
    e = op.expr
    return e(dict(attrs)) if callable(e) else e


def row_of(op: "OpDef", attrs):
    """The op's row program for these attributes (None: no generated code).

    A row program is a tuple of steps over one row of the reduced axes, in order:
    ``("acc", name, identity, update)`` combines every element of the row into ``name``
    (``update`` reads ``{x}``, the element of input 0, and the names defined before);
    ``("let", name, expr)`` defines a per-row value; ``("out", expr)`` is the result: per row
    for a reduction, per element (reading ``{x}``, ``{1}``, ``{2}``...) for a row-wise op
    such as softmax whose output has the input's shape. ``{n}`` is the row's length and
    ``{attr}`` an attribute's value."""
    r = op.row
    return r(dict(attrs)) if callable(r) else r


# ---------------------------------------------------------------- attributes and inference


def normalize_attrs(op: OpDef, attrs: Mapping) -> tuple[tuple[str, object], ...]:
    """Check names, fill defaults, parse values; return sorted (name, value) pairs."""
    out = {}
    for k, v in attrs.items():
        if k not in op.attrs:
            if k.startswith("__") or k == "name":   # MXNet JSON carries these; they mean nothing
                continue
            known = ", ".join(sorted(op.attrs)) or "none"
            raise OpAttrError(f"{op.name}: unknown attribute {k!r} (its attributes: {known})")
        out[k] = op.attrs[k].parse(op.name, k, v)
    for k, a in op.attrs.items():
        if k not in out:
            if a.default is REQUIRED:
                raise OpAttrError(f"{op.name}: missing required attribute {k!r}")
            out[k] = a.default
    return tuple(sorted(out.items()))


def _describe(in_types) -> str:
    return ", ".join(str(t) for t in in_types) or "no inputs"


def infer(op: OpDef, in_types: tuple[TensorType, ...], attrs: Mapping,
          where: str = "") -> TensorType:
    """Shape/dtype rule of ``op``; any failure becomes an error naming the op and the shapes."""
    attrs = dict(attrs)
    n = len(op.names_of_inputs(attrs))
    if op.variadic:
        if len(in_types) < n - 1 or len(in_types) == 0 and n > 0:
            raise ShapeError(f"{op.name}: expects at least one input, got none{where}")
    elif len(in_types) != n:
        raise ShapeError(f"{op.name}: expects {n} input(s) "
                         f"({', '.join(op.names_of_inputs(attrs))}), got {len(in_types)}{where}")
    try:
        t = op.infer(tuple(in_types), attrs)
    except GraphccError as e:
        cls = type(e)
        raise cls(f"{op.name}: {e} (inputs: {_describe(in_types)}){where}") from None
    except (ValueError, IndexError, TypeError, ZeroDivisionError) as e:
        raise ShapeError(f"{op.name}: cannot infer the output for inputs "
                         f"{_describe(in_types)} ({e}){where}") from None
    if any(d < 0 for d in t.shape):
        raise ShapeError(f"{op.name}: the output shape {tuple(t.shape)} has a negative "
                         f"dimension (inputs: {_describe(in_types)}){where}")
    return t


def run_impl(op: OpDef, arrays, attrs: Mapping, out_type: TensorType):
    """Run the NumPy reference implementation and give the result the declared type."""
    r = op.impl(*arrays, **dict(attrs))
    r = np.asarray(r)
    if r.dtype.name != out_type.dtype:
        r = r.astype(out_type.dtype)
    if r.shape != out_type.shape:
        raise ShapeError(f"{op.name}: reference implementation returned shape {r.shape}, "
                         f"inferred {out_type.shape} (a bug in the op's row)")
    return r


# ---------------------------------------------------------------- helpers for rules


def same_dtype(op_name: str, in_types) -> str:
    dts = {t.dtype for t in in_types}
    if len(dts) > 1:
        raise DTypeError("inputs have different dtypes "
                         f"({', '.join(t.dtype for t in in_types)}); cast one with astype()")
    return in_types[0].dtype if in_types else "float32"


def broadcast_shapes(*shapes) -> tuple[int, ...]:
    nd = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(nd):
        dims = {s[i - nd + len(s)] for s in shapes if i - nd + len(s) >= 0}
        dims.discard(1)
        if len(dims) > 1:
            raise ShapeError("shapes " + " and ".join(str(tuple(s)) for s in shapes)
                             + " cannot be broadcast together")
        out.append(dims.pop() if dims else 1)
    return tuple(out)


def norm_axis(axis: int, ndim: int, op: str = "") -> int:
    if not -ndim <= axis < max(ndim, 1):
        raise ShapeError(f"axis {axis} is out of range for {ndim}-d input")
    return axis % ndim if ndim else 0


def norm_axes(axes, ndim: int, exclude: bool = False) -> tuple[int, ...]:
    """None means every axis; with ``exclude`` the listed axes are the ones kept."""
    if axes is None:
        picked = tuple(range(ndim))
    else:
        picked = tuple(sorted({norm_axis(a, ndim) for a in axes}))
        if len(picked) != len(axes):
            raise ShapeError(f"axis {axes} repeats an axis")
    if exclude:
        picked = tuple(i for i in range(ndim) if i not in picked)
    return picked
