"""Rendering: a group of elementwise/broadcast nodes -> the source of one loop kernel.

The renderer reads each op row's scalar expression template (``ops.expr_of``); it never
restates what an op computes. What it adds:
- *Typing*: every member's value is converted to the member's dtype, and float literals in a
  float32 expression become float32 constants (so a float32 chain stays float32 and
  vectorises); the ``scalar`` attribute of an integer op is truncated to an integer, as the
  reference implementation does.
- *Broadcasting*: the loop runs over the kernel's domain; every input is indexed with 0 in
  the dimensions where it has size 1. Adjacent dimensions in which every input is either
  complete or broadcast alike are merged first (``collapse``), so most kernels are 1-d or 2-d
  loops whose inner loop runs over contiguous memory.
- *Identity*: the source names nothing specific to one graph (no node numbers, no sizes), so
  two structurally equal groups render to the same text and compile once; sizes are read from
  the arrays, so a new batch size compiles nothing.

A rendered kernel takes its inputs (already reshaped to the collapsed domain's rank) and then
its outputs; it loads every input element of an iteration before storing any output, so an
output may share memory with an input of the domain's shape (the plan's in-place writes).
``add_to`` outputs accumulate (``o[i] += t``) instead of overwriting.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .. import ops

# dtypes generated code handles; anything else (float16, bool...) runs its reference
# implementation
FLOAT_DTYPES = ("float32", "float64")
INT_DTYPES = ("int32", "int64", "int8", "uint8")
GEN_DTYPES = FLOAT_DTYPES + INT_DTYPES

# ops whose templates are exact on integer operands (the others divide, take logarithms... and
# run their reference implementation on integers)
INT_SAFE = frozenset({
    "add", "subtract", "multiply", "maximum", "minimum", "negative", "abs", "square",
    "_plus_scalar", "_minus_scalar", "_rminus_scalar", "_mul_scalar", "_maximum_scalar",
    "_minimum_scalar", "_equal_scalar", "_not_equal_scalar", "_greater_scalar",
    "_greater_equal_scalar", "_lesser_scalar", "_lesser_equal_scalar", "equal", "not_equal",
    "greater", "greater_equal", "lesser", "lesser_equal", "where", "_copy", "identity",
    "stop_gradient", "broadcast_to", "broadcast_like", "broadcast_axis", "zeros_like",
    "ones_like", "relu", "sign", "logical_not", "logical_and", "logical_or", "logical_xor",
})

_FLOAT_LIT = re.compile(r"(?<![\w.])((?:\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)")


class NotRenderable(Exception):
    """This node or group has no generated code (yet): run its reference implementation."""


def literal(v) -> str:
    """A Python scalar as source text (infinities and NaN included)."""
    if isinstance(v, bool):
        return repr(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "math.nan"
        if math.isinf(v):
            return "math.inf" if v > 0 else "(-math.inf)"
    return repr(v)


def expression(node, args: list[str], compute_dtype: str) -> str:
    """The scalar expression of ``node`` applied to the source expressions ``args``."""
    row = ops.get(node.op)
    tpl = ops.registry.expr_of(row, node.attrs)
    if tpl is None:
        raise NotRenderable(f"{node.op} has no expression template")
    if compute_dtype in INT_DTYPES and node.op not in INT_SAFE:
        raise NotRenderable(f"{node.op} on {compute_dtype}")
    attrs = {}
    for k, v in node.attrs:
        if k == "scalar" and compute_dtype in INT_DTYPES:
            v = int(math.trunc(v)) if math.isfinite(v) else v
        attrs[k] = f"({literal(v)})" if isinstance(v, (int, float)) else str(v)
    try:
        text = tpl.format(*[f"({a})" for a in args], **attrs)
    except (KeyError, IndexError) as e:
        raise NotRenderable(f"{node.op}: template {tpl!r} does not fit ({e})") from None
    return typed_literals(text, compute_dtype)


# float32 kernels call the vectorisable helpers of mathfns.py instead of libm's scalar ones
FAST32 = {"math.exp(": "fexp32(", "math.tanh(": "ftanh32("}


def typed_literals(text: str, dtype: str) -> str:
    """``text`` specialised to ``dtype``: float literals become constants of ``dtype`` (a
    float32 chain stays float32), and for float32 the vectorisable exp and tanh replace
    libm's."""
    if dtype == "float32":
        text = _FLOAT_LIT.sub(r"np.float32(\1)", text)
        for slow, fast in FAST32.items():
            text = text.replace(slow, fast)
    return text


# ---------------------------------------------------------------- loop domains


def padded(shape, rank):
    return (1,) * (rank - len(shape)) + tuple(shape)


def collapse(domain, in_shapes):
    """Merge adjacent dimensions of the loop domain in which every input is broadcast the same
    way. Returns (collapsed domain, collapsed input shapes), each of the same rank (>= 1)."""
    rank = len(domain)
    shapes = [padded(s, rank) for s in in_shapes]
    dims = []       # (size, pattern): pattern[k] is True where input k is broadcast
    for d in range(rank):
        if domain[d] == 1:
            continue            # a size-1 dimension merges with anything
        pat = tuple(s[d] == 1 for s in shapes)
        if dims and dims[-1][1] == pat:
            dims[-1] = (dims[-1][0] * domain[d], pat)
        else:
            dims.append((domain[d], pat))
    if not dims:
        dims = [(1, tuple(False for _ in shapes))]
    cdomain = tuple(n for n, _ in dims)
    cshapes = [tuple(1 if pat[k] else n for n, pat in dims) for k in range(len(shapes))]
    return cdomain, cshapes


@dataclass(frozen=True)
class Rendered:
    source: str          # the kernel function (without the module header)
    name: str


def render_elementwise(members, inputs, outputs, domain, in_shapes, nodes, add_to=()):
    """Source of a loop kernel.

    ``members``: node indices in order; ``inputs``: values read from outside (their loads);
    ``outputs``: member values written out; ``domain``: the collapsed loop shape;
    ``in_shapes``: each input's shape at the domain's rank; ``nodes``: the graph's nodes;
    ``add_to``: outputs that accumulate into their destination."""
    rank = len(domain)
    idx = [f"i{d}" for d in range(rank)]
    lines = []
    params = [f"x{k}" for k in range(len(inputs))] + [f"o{k}" for k in range(len(outputs))]
    lines.append("@njit(cache=_CACHE, error_model='numpy', fastmath={'contract'})")
    lines.append(f"def kernel({', '.join(params)}):")
    ref = "o0"
    for d in range(rank):
        lines.append(f"    n{d} = {ref}.shape[{d}]")
    pad = "    "
    for d in range(rank):
        lines.append(f"{pad}for i{d} in range(n{d}):")
        pad += "    "
    names = {}
    for k, (j, shp) in enumerate(zip(inputs, in_shapes)):
        sub = ", ".join("0" if shp[d] == 1 and domain[d] != 1 else idx[d] for d in range(rank))
        lines.append(f"{pad}a{k} = x{k}[{sub}]")
        names[j] = f"a{k}"
    for t, m in enumerate(members):
        node = nodes[m]
        args = [names[j] for j in node.inputs]
        cdt = nodes[node.inputs[0]].dtype if node.inputs else node.dtype
        expr = expression(node, args, cdt)
        lines.append(f"{pad}t{t} = np.{node.dtype}({expr})")
        names[m] = f"t{t}"
    sub = ", ".join(idx)
    for k, m in enumerate(outputs):
        op = "+=" if m in add_to else "="
        lines.append(f"{pad}o{k}[{sub}] {op} {names[m]}")
    return Rendered("\n".join(lines) + "\n", "kernel")


def check_dtypes(members, inputs, nodes):
    for i in list(members) + list(inputs):
        dt = nodes[i].dtype
        if dt not in GEN_DTYPES:
            raise NotRenderable(f"dtype {dt} ({nodes[i].op})")
