"""The stable text form of a graph: names by position, sorted attributes (defaults omitted),
one node per line with its source location as a comment."""
from __future__ import annotations

from .. import ops
from ..ops.registry import REQUIRED
from .types import TensorType


def _fmt_value(v) -> str:
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, tuple):
        return "(" + ",".join(_fmt_value(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    if isinstance(v, str):
        return repr(v)
    return str(v)


def format_attrs(op_name: str, attrs) -> str:
    row = ops.OPS.get(ops.canonical(op_name))
    shown = []
    for k, v in attrs:
        a = row.attrs.get(k) if row is not None else None
        if a is not None and a.default is not REQUIRED and a.default == v and \
                type(a.default) is type(v):
            continue
        shown.append(f"{k}={_fmt_value(v)}")
    return f"[{', '.join(shown)}]" if shown else ""


def format_node(g, i: int, width: int = 48, kernel: int | None = None) -> str:
    n = g.nodes[i]
    args = ", ".join(f"%{j}" for j in n.inputs)
    head = f"  %{i}: {TensorType(n.shape, n.dtype)} = {n.op}{format_attrs(n.op, n.attrs)}"
    line = f"{head} {args}" if args else head
    notes = [f"kernel {kernel}"] if kernel is not None else []
    if n.loc:
        notes.append(n.loc)
    if notes:
        line = f"{line:<{width}} # {'; '.join(notes)}"
    return line


def format_graph(g) -> str:
    params = []
    for i in g.input_ids:
        n = g.nodes[i]
        role = n.attr("role")
        tag = "" if role == "data" else f" {role}"
        params.append(f"%{i} {n.attr('name')}{tag}: {TensorType(n.shape, n.dtype)}")
    lines = [f"graph({', '.join(params)}) {{"]
    kernel_of = g.kernel_of() if getattr(g, "kernels", ()) else {}
    for i, n in enumerate(g.nodes):
        if n.op == "input":
            continue
        if n.op == "const":
            lines.append(f"  %{i}: {TensorType(n.shape, n.dtype)} = const {n.attr('name')!r}")
            continue
        lines.append(format_node(g, i, kernel=kernel_of.get(i)))
    lines.append(f"  return {', '.join(f'%{o}' for o in g.outputs)} }}")
    return "\n".join(lines)


def context(g, i: int, radius: int = 3) -> str:
    """The lines of the graph around node i (for error messages), with i marked."""
    lo, hi = max(0, i - radius), min(len(g.nodes), i + radius + 1)
    out = []
    for j in range(lo, hi):
        n = g.nodes[j]
        text = (f"  %{j}: {TensorType(n.shape, n.dtype)} = input {n.attr('name')!r}"
                if n.op == "input" else format_node(g, j))
        out.append(("> " if j == i else "  ") + text.lstrip())
    return "\n".join(out)
