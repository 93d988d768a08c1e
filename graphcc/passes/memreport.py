"""The memory report: the plan as data, with the planner variants side by side.

As in MXNet's published figures, the numbers count the graph's internal memory: intermediate
values (activations, values saved for the backward, gradients of intermediates). Graph inputs
(the caller's arrays, parameters) and the gradients handed back for them are not counted;
forward outputs are counted once.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .. import ops
from ..ir.graph import Graph
from .planner import MemoryPlan, plan_memory


@dataclass
class MemoryReport:
    naive_bytes: int
    planned_bytes: int
    peak_live_bytes: int
    inplace_count: int
    shared_count: int
    variants: dict = field(default_factory=dict)
    kernel_count: int = 0
    node_count: int = 0
    training: bool = False

    @property
    def ratio(self) -> float:
        return self.naive_bytes / self.planned_bytes if self.planned_bytes else float("inf")

    @property
    def slack(self) -> float:
        """planned / peak-live - 1 (how far the plan is above the lower bound)."""
        return self.planned_bytes / self.peak_live_bytes - 1 if self.peak_live_bytes else 0.0

    def __str__(self) -> str:
        def mb(b):
            return f"{b / 2**20:10.3f} MiB"
        kind = "training (forward+backward)" if self.training else "inference"
        lines = [f"memory plan, {kind}: {self.node_count} nodes, {self.kernel_count} kernels",
                 f"  {'variant':<16}{'bytes':>16}{'vs naive':>10}"]
        for name, b in self.variants.items():
            ratio = self.naive_bytes / b if b else float("inf")
            lines.append(f"  {name:<16}{mb(b):>16}{ratio:>9.2f}x")
        lines.append(f"  {'peak-live bound':<16}{mb(self.peak_live_bytes):>16}"
                     f"{self.naive_bytes / max(self.peak_live_bytes, 1):>9.2f}x")
        lines.append(f"  planned = {self.planned_bytes} B ({self.slack * 100:.1f}% above the "
                     f"peak-live bound); in-place {self.inplace_count}, shared "
                     f"{self.shared_count}")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {"naive_bytes": self.naive_bytes, "planned_bytes": self.planned_bytes,
                "peak_live_bytes": self.peak_live_bytes, "inplace_count": self.inplace_count,
                "shared_count": self.shared_count, "variants": dict(self.variants),
                "kernel_count": self.kernel_count, "node_count": self.node_count,
                "training": self.training}


def _unfused(g: Graph) -> Graph:
    return Graph(g.nodes, g.outputs, g.consts)


def kernel_count(g: Graph) -> int:
    fused = {i for k in g.kernels for i in k}
    loose = sum(1 for i, n in enumerate(g.nodes)
                if i not in fused and n.op not in ("input", "const") and
                ops.get(n.op).kind != "view")
    return len(g.kernels) + loose


def report_for(g: Graph, plan: MemoryPlan | None = None, recompute_graph: Graph | None = None
               ) -> MemoryReport:
    """Plan ``g`` with every variant and collect the figures."""
    plan = plan or plan_memory(g, "arena")
    variants = {"naive": plan.naive_bytes}
    variants["inplace"] = plan_memory(g, "separate", inplace=True).arena_bytes
    variants["share"] = plan_memory(g, "mxnet", inplace=False).arena_bytes
    mx = plan_memory(g, "mxnet", inplace=True)
    variants["inplace+share"] = mx.arena_bytes
    variants["mxnet"] = mx.arena_bytes
    variants["arena"] = plan.arena_bytes
    if recompute_graph is not None:
        variants["recompute"] = plan_memory(recompute_graph, "arena").arena_bytes
    training = any(n.op == "input" and n.attr("role") == "grad" for n in g.nodes)
    return MemoryReport(plan.naive_bytes, plan.arena_bytes, plan.peak_live_bytes,
                        plan.inplace_count, plan.shared_count, variants, kernel_count(g),
                        len(g.nodes), training)
