"""Rendering reduction groups: reductions and row-wise ops (sum, mean, max, softmax,
log_softmax, LayerNorm...) with their elementwise prologues and epilogues, as one kernel over
rows.

The group's reductions share one input shape S and reduced axes, which must be the trailing
axes of S; the kernel sees S as (R rows, C elements per row). Each member is *elementwise*
(shape S: computed per element inside a loop over a row) or *per row* (the reduced shape: one
value per row). Each reduction's row program (``ops.registry.row_of``) is a list of
accumulations: every one is a pass over the row that recomputes the elementwise values it
needs (prologues are cheap next to a memory pass), so a LayerNorm reads its row three times
and never stores an intermediate. A last pass writes the elementwise outputs; per-row
outputs are written once per row.

Inputs read from outside are indexed per element ([r, c], broadcast as [0, c] or [r, 0]) or
per row ([r], or [0] for a scalar); anything else (a broadcast across part of the kept axes)
is not renderable and runs the reference implementation.
"""
from __future__ import annotations

import math
import re

from .. import ops
from ..ops.registry import norm_axes, norm_axis
from .render import FLOAT_DTYPES, NotRenderable, expression, literal, typed_literals


def _axes(node, nodes):
    x = nodes[node.inputs[0]]
    axis = node.attr("axis")
    if isinstance(axis, int):
        return (norm_axis(axis, len(x.shape)),)
    return norm_axes(axis, len(x.shape), bool(node.attr("exclude", False)))


def _rename(text, names, suffix):
    for nm in names:
        text = re.sub(rf"\b{nm}\b", f"{nm}_{suffix}", text)
    return text


class RowKernel:
    """Analysis and source of one reduction group."""

    def __init__(self, members, outputs, nodes):
        self.nodes = nodes
        reds = [m for m in members if ops.get(nodes[m].op).kind == "reduction"]
        if not reds:
            raise NotRenderable("no reduction")
        x0 = nodes[nodes[reds[0]].inputs[0]]
        S = x0.shape
        try:
            axes = {_axes(nodes[m], nodes) for m in reds}
        except Exception:      # noqa: BLE001 - unusual attributes: not generated
            raise NotRenderable("reduction axes") from None
        if len(axes) != 1 or any(nodes[nodes[m].inputs[0]].shape != S for m in reds):
            raise NotRenderable("reductions over different axes or shapes")
        ax = axes.pop()
        k = len(S) - len(ax)
        # trailing reduced axes: rows of C contiguous elements; leading ones ("lead", a bias
        # gradient's sum over the batch): the same (R, C) split, stored as (C, R)
        self.lead = ax != tuple(range(k, len(S)))
        if self.lead:
            if ax != tuple(range(len(ax))):
                raise NotRenderable("reduced axes are neither the leading nor the trailing ones")
            k = len(ax)
        self.S, self.k = S, k
        kept, red = (S[k:], S[:k]) if self.lead else (S[:k], S[k:])
        self.kept_shape, self.red_shape = kept, red
        self.R, self.C = math.prod(kept), math.prod(red)
        if self.C <= 1 or self.R == 0:
            raise NotRenderable("empty or one-element rows")
        self.level = {}
        for m in members:
            n = nodes[m]
            if n.dtype not in FLOAT_DTYPES:
                raise NotRenderable(f"dtype {n.dtype}")
            if n.shape == S:
                self.level[m] = "elem"
            elif math.prod(n.shape) == self.R:
                self.level[m] = "row"
            else:
                raise NotRenderable(f"shape {n.shape} in a group over {S}")
        self.members, self.outputs = list(members), list(outputs)
        self.loads = {}          # (value, "elem"/"row") -> param index
        self.load_shapes = []    # shape each load's array is reshaped to
        self.load_values = []
        self.expand = {}         # param index -> shape to broadcast that input to first
        self.specs = {}
        for m in reds:
            n = nodes[m]
            spec = ops.registry.row_of(ops.get(n.op), n.attrs)
            if spec is None:
                raise NotRenderable(f"{n.op} has no row program for these attributes")
            self.specs[m] = spec
        ms = set(members)
        for m in members:
            n = nodes[m]
            ctx = "row" if self.level[m] == "row" and m not in self.specs else "elem"
            for j in n.inputs:
                if j not in ms:
                    self._load(j, ctx)
        self.source = self._render_lead() if self.lead else self._render()

    # ------------------------------------------------------------ loads
    def _load(self, j, ctx):
        if (j, ctx) in self.loads:
            return
        shape = self.nodes[j].shape
        S, k = self.S, self.k
        if ctx == "elem":
            p = (1,) * (len(S) - len(shape)) + tuple(shape)
            if len(p) != len(S):
                raise NotRenderable("input of higher rank")
            pk, pr = (p[k:], p[:k]) if self.lead else (p[:k], p[k:])
            kept_full, kept_one = pk == self.kept_shape, all(d == 1 for d in pk)
            red_full, red_one = pr == self.red_shape, all(d == 1 for d in pr)
            if not (kept_full or kept_one) or not (red_full or red_one):
                # broadcast across part of the kept or reduced axes: the kernel reads a
                # full-size copy (np.broadcast_to + reshape copies it, per call)
                kept_full = red_full = True
                self.expand[len(self.load_shapes)] = S
            rs = (self.R if kept_full else 1, self.C if red_full else 1)
            if self.lead:
                rs = rs[::-1]
        else:
            size = math.prod(shape)
            if size not in (self.R, 1):
                raise NotRenderable(f"per-row input {shape}")
            rs = (self.R if size == self.R else 1,)
        self.loads[(j, ctx)] = len(self.load_shapes)
        self.load_shapes.append(rs)
        self.load_values.append(j)

    def _index(self, j, ctx):
        p = self.loads[(j, ctx)]
        rs = self.load_shapes[p]
        if ctx == "elem" and self.lead:
            return f"x{p}[{'c' if rs[0] != 1 else '0'}, {'r' if rs[1] != 1 else '0'}]"
        if ctx == "elem":
            return f"x{p}[{'r' if rs[0] != 1 else '0'}, {'c' if rs[1] != 1 else '0'}]"
        return f"x{p}[{'r' if rs[0] != 1 else '0'}]"

    # ------------------------------------------------------------ rendering
    def _closure(self, targets):
        """Elementwise members needed to compute ``targets`` (in member order)."""
        need, stack = set(), list(targets)
        while stack:
            m = stack.pop()
            if m in need or m not in self.level or self.level[m] != "elem":
                continue
            need.add(m)
            n = self.nodes[m]
            stack.extend(n.inputs if m not in self.specs else n.inputs[:3])
        return [m for m in self.members if m in need]

    def _elem_loop(self, lines, targets, pad, extra):
        """A loop over one row computing ``targets``; ``extra(names)`` adds lines at the end
        of the loop body."""
        lines.append(f"{pad}for c in range(C):")
        body = pad + "    "
        names = {}
        ms = set(self.members)
        for m in self._closure(targets):
            n = self.nodes[m]
            args = []
            for j in n.inputs:
                if j in names:
                    args.append(names[j])
                elif j in ms:
                    args.append(f"t{j}")        # a per-row value computed before the loop
                else:
                    args.append(self._index(j, "elem"))
            if m in self.specs:
                expr = self._spec_out(m, args)
            else:
                expr = expression(n, args, self.nodes[n.inputs[0]].dtype if n.inputs
                                  else n.dtype)
            lines.append(f"{body}e{m} = np.{n.dtype}({expr})")
            names[m] = f"e{m}"
        for t in targets:
            if t not in names:
                names[t] = self._index(t, "elem") if (t, "elem") in self.loads else f"t{t}"
        extra(lines, body, names)

    def _spec_names(self, m):
        return [st[1] for st in self.specs[m] if st[0] in ("acc", "let")]

    def _fmt(self, m, text, args):
        n = self.nodes[m]
        text = _rename(text, self._spec_names(m), m)
        attrs = {k: f"({literal(v)})" for k, v in n.attrs if isinstance(v, (int, float))}
        text = text.format(*[f"({a})" for a in args], x=f"({args[0]})", n="Cf", **attrs)
        return typed_literals(text, n.dtype)

    def _spec_out(self, m, args):
        out = [st for st in self.specs[m] if st[0] == "out"][0]
        return self._fmt(m, out[1], args)

    def _render(self):
        nodes = self.nodes
        n_in = len(self.load_shapes)
        params = ["R", "C"] + [f"x{p}" for p in range(n_in)] + \
            [f"o{q}" for q in range(len(self.outputs))]
        dt = nodes[self.members[-1]].dtype
        lines = ["@njit(cache=_CACHE, error_model='numpy', fastmath={'reassoc', 'contract'})",
                 f"def kernel({', '.join(params)}):",
                 f"    Cf = np.{dt}(C)",
                 "    for r in range(R):"]
        pad = "        "
        for m in self.members:
            n = nodes[m]
            if m in self.specs:
                x = n.inputs[0]
                for st in self.specs[m]:
                    if st[0] == "acc":
                        name = f"{st[1]}_{m}"
                        init = typed_literals(st[2], n.dtype)
                        lines.append(f"{pad}{name} = np.{n.dtype}({init})")

                        def upd(ls, body, names, st=st, name=name, m=m):
                            args = [names[x]] + [names.get(j, j) for j in n.inputs[1:]]
                            ls.append(f"{body}{name} = np.{n.dtype}("
                                      f"{self._fmt(m, st[3], args)})")
                        self._elem_loop(lines, [x], pad, upd)
                    elif st[0] == "let":
                        text = self._fmt(m, st[2], ["?"])
                        lines.append(f"{pad}{st[1]}_{m} = np.{n.dtype}({text})")
                if self.level[m] == "row":
                    lines.append(f"{pad}t{m} = np.{n.dtype}({self._spec_out(m, ['?'])})")
            elif self.level[m] == "row":
                args = [f"t{j}" if j in self.level else self._index(j, "row")
                        for j in n.inputs]
                expr = expression(n, args, nodes[n.inputs[0]].dtype if n.inputs else n.dtype)
                lines.append(f"{pad}t{m} = np.{n.dtype}({expr})")
        elem_outs = [m for m in self.outputs if self.level[m] == "elem"]
        if elem_outs:
            def store(ls, body, names):
                for q, m in enumerate(self.outputs):
                    if self.level[m] == "elem":
                        ls.append(f"{body}o{q}[r, c] = {names[m]}")
            self._elem_loop(lines, elem_outs, pad, store)
        for q, m in enumerate(self.outputs):
            if self.level[m] == "row":
                lines.append(f"{pad}o{q}[r] = t{m}")
        return "\n".join(lines) + "\n"

    def out_shape(self, m):
        if self.level[m] != "elem":
            return (self.R,)
        return (self.C, self.R) if self.lead else (self.R, self.C)

    def _render_lead(self):
        """A reduction over the leading axes: one accumulator per kept element, updated
        while walking the input in memory order, then the per-row epilogue."""
        nodes = self.nodes
        reds = list(self.specs)
        if len(reds) != 1:
            raise NotRenderable("several reductions over leading axes")
        m = reds[0]
        spec = self.specs[m]
        if [st[0] for st in spec] != ["acc", "out"] or self.level[m] != "row":
            raise NotRenderable(f"{nodes[m].op} over leading axes")
        if any(self.level[e] == "row" and e < m for e in self.members):
            raise NotRenderable("a per-row value before a reduction over leading axes")
        if any(self.level[e] == "elem" and e > m for e in self.members):
            raise NotRenderable("an elementwise value after a reduction over leading axes")
        n = nodes[m]
        dt = n.dtype
        params = ["R", "C"] + [f"x{p}" for p in range(len(self.load_shapes))] + \
            [f"o{q}" for q in range(len(self.outputs))]
        acc = f"{spec[0][1]}_{m}"
        lines = ["@njit(cache=_CACHE, error_model='numpy', fastmath={'reassoc', 'contract'})",
                 f"def kernel({', '.join(params)}):",
                 f"    Cf = np.{dt}(C)",
                 f"    acc = np.empty(R, np.{dt})",
                 "    for r in range(R):",
                 f"        acc[r] = np.{dt}({typed_literals(spec[0][2], dt)})",
                 "    for c in range(C):",
                 "        for r in range(R):"]
        body = "            "
        names = {}
        ms = set(self.members)
        for e in self._closure([n.inputs[0]] + [v for v in self.outputs
                                                 if self.level[v] == "elem"]):
            en = nodes[e]
            args = [names[j] if j in names else self._index(j, "elem") for j in en.inputs]
            expr = expression(en, args, nodes[en.inputs[0]].dtype if en.inputs else en.dtype)
            lines.append(f"{body}e{e} = np.{en.dtype}({expr})")
            names[e] = f"e{e}"
        x = n.inputs[0]
        xname = names[x] if x in names else self._index(x, "elem")
        upd = self._fmt(m, spec[0][3], [xname])
        lines.append(f"{body}{acc} = acc[r]")
        lines.append(f"{body}acc[r] = np.{dt}({upd})")
        for q, v in enumerate(self.outputs):
            if self.level[v] == "elem":
                lines.append(f"{body}o{q}[c, r] = {names[v]}")
        lines.append("    for r in range(R):")
        pad = "        "
        lines.append(f"{pad}{acc} = acc[r]")
        lines.append(f"{pad}t{m} = np.{dt}({self._spec_out(m, ['?'])})")
        for e in self.members:
            if e == m or self.level[e] != "row" or e < m:
                continue
            en = nodes[e]
            args = [f"t{j}" if j in ms else self._index(j, "row") for j in en.inputs]
            expr = expression(en, args, nodes[en.inputs[0]].dtype if en.inputs else en.dtype)
            lines.append(f"{pad}t{e} = np.{en.dtype}({expr})")
        for q, v in enumerate(self.outputs):
            if self.level[v] == "row":
                lines.append(f"{pad}o{q}[r] = t{v}")
        return "\n".join(lines) + "\n"
