"""The pass registry and the one driver that runs every pass.

A pass is a named pure function ``Graph -> Graph`` (or ``Graph -> (Graph, analysis)``),
registered with ``@register_pass("name")``. ``run_pipeline`` is the only place passes are
called. For each pass it: skips it if named in ``GRAPHCC_DISABLE``; times it; verifies the
result when ``GRAPHCC_VERIFY`` is on; prints the IR before/after when the pass is named in
``GRAPHCC_PRINT_BEFORE`` / ``GRAPHCC_PRINT_AFTER`` (``all`` works) or ``GRAPHCC_DEBUG>=3``;
writes numbered IR files under ``GRAPHCC_DUMP_DIR``; and on failure raises a ``PassError``
naming the pass, the passes before it, and the IR around the offending node.
"""
from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from .. import flags
from ..errors import GraphccError, PassError, VerifyError
from ..ir.graph import Graph
from ..ir.printer import context, format_graph
from ..ir.verifier import verify

PASSES: dict[str, Callable] = {}


def register_pass(name: str):
    """Record ``name -> function``. Duplicate names are an error."""
    def deco(fn):
        if name in PASSES:
            raise GraphccError(f"a pass named {name!r} is already registered "
                               f"({PASSES[name].__module__}.{PASSES[name].__name__})")
        PASSES[name] = fn
        fn.pass_name = name
        return fn
    return deco


def unregister_pass(name: str) -> None:
    PASSES.pop(name, None)


@dataclass
class PassRecord:
    name: str
    seconds: float
    nodes_before: int
    nodes_after: int
    analysis: object = None
    skipped: bool = False


@dataclass
class PipelineResult:
    graph: Graph
    records: list[PassRecord] = field(default_factory=list)
    analyses: dict = field(default_factory=dict)

    def timing_table(self) -> str:
        rows = [f"{'pass':<20}{'ms':>9}{'nodes':>14}"]
        for r in self.records:
            note = " (skipped)" if r.skipped else ""
            rows.append(f"{r.name:<20}{r.seconds * 1e3:>9.2f}"
                        f"{f'{r.nodes_before}->{r.nodes_after}':>14}{note}")
        return "\n".join(rows)


def _resolve(p) -> tuple[str, Callable]:
    if isinstance(p, str):
        if p not in PASSES:
            raise GraphccError(f"unknown pass {p!r}; registered passes: "
                               f"{', '.join(sorted(PASSES))}")
        return p, PASSES[p]
    if callable(p):
        return getattr(p, "pass_name", getattr(p, "__name__", repr(p))), p
    raise GraphccError(f"a pipeline entry must be a pass name or a function, got {p!r}")


def _selected(flag_value: str, name: str) -> bool:
    names = flags.names_in(flag_value)
    return "all" in names or name in names


_dump_counter = [0]


def _dump(stage: str, index: int, name: str, g: Graph):
    d = flags.DUMP_DIR
    if not d:
        return
    os.makedirs(d, exist_ok=True)
    _dump_counter[0] += 1
    fn = os.path.join(d, f"{index:02d}_{name}.{stage}.txt")
    with open(fn, "w") as f:
        f.write(format_graph(g) + "\n")


def _bad_node(err: Exception) -> int | None:
    m = re.search(r"node %(\d+)", str(err))
    return int(m.group(1)) if m else None


def run_pipeline(g: Graph, passes: Sequence, verify_each: bool | None = None) -> PipelineResult:
    """Run ``passes`` (names or functions) in order over ``g``."""
    verify_each = flags.VERIFY if verify_each is None else verify_each
    disabled = flags.names_in(flags.DISABLE)
    result = PipelineResult(g)
    done: list[str] = []
    if verify_each:
        try:
            verify(g)
        except VerifyError as e:
            raise PassError(f"the graph given to the pipeline is invalid: {e}") from None
    for index, entry in enumerate(passes, start=1):
        name, fn = _resolve(entry)
        if name in disabled:
            result.records.append(PassRecord(name, 0.0, len(g), len(g), skipped=True))
            continue
        out = _run_one(name, fn, g, index, result, done, verify_each)
        # what a later pass invalidates is made valid again: the kernels fusion found (a
        # pass that rebuilds the graph drops them) and the memory plan (made for one graph)
        if name != "plan_memory" and out is not g:
            if name != "fuse" and g.kernels and not out.kernels and "fuse" in done:
                out = _run_one("fuse", PASSES["fuse"], out, index, result, done, verify_each,
                               f"again: {name} dropped the kernels")
            if "plan_memory" in result.analyses:
                out = _run_one("plan_memory", PASSES["plan_memory"], out, index, result,
                               done, verify_each, f"again: {name} changed the planned graph")
        g = out
    result.graph = g
    return result


def _run_one(name, fn, g, index, result, done, verify_each, why=""):
    """Run one pass with everything the driver adds: printing, dumps, timing, verification,
    errors naming the pass; record it (``why``: a re-run and its reason)."""
    if _selected(flags.PRINT_BEFORE, name):
        print(f"--- IR before {name} ---\n{format_graph(g)}", file=sys.stderr)
    _dump("before", index, name, g)
    t0 = time.perf_counter()
    try:
        out = fn(g)
    except GraphccError as e:
        raise _pass_error(name, done, g, e) from None
    except Exception as e:  # a bug in the pass: say which and where
        raise _pass_error(name, done, g, e) from e
    seconds = time.perf_counter() - t0
    analysis = None
    if isinstance(out, tuple):
        out, analysis = out
    if not isinstance(out, Graph):
        raise PassError(f"pass {name!r} returned {type(out).__name__}, not a Graph")
    if verify_each:
        try:
            verify(out)
        except VerifyError as e:
            raise _pass_error(name, done, out, e, "produced an invalid graph") from None
    label = f"{name} ({why})" if why else name
    result.records.append(PassRecord(label, seconds, len(g), len(out), analysis))
    if analysis is not None:
        result.analyses[name] = analysis
    if _selected(flags.PRINT_AFTER, name) or flags.DEBUG >= 3:
        print(f"--- IR after {label} ---\n{format_graph(out)}", file=sys.stderr)
    _dump("after", index, name, out)
    done.append(name)
    return out


def _pass_error(name, done, g, err, what="failed"):
    before = ", ".join(done) if done else "none"
    text = f"pass {name!r} {what}: {err}\n  passes run before it: {before}"
    i = _bad_node(err)
    if i is not None and 0 <= i < len(g.nodes) and "\n" not in str(err):
        loc = g.nodes[i].loc
        text += f"\n  offending node %{i}" + (f" (from {loc})" if loc else "")
        text += "\n" + context(g, i)
    return PassError(text)
