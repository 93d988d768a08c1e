"""The memory-planning pass: returns the graph unchanged and its ``MemoryPlan`` (offsets of
every materialised value in one arena; see planner.py). It first puts a training graph's
forward region before its backward region (a no-op when already so), because the executor runs
the two regions in separate calls and the plan follows the node order."""
from __future__ import annotations

from .. import flags
from ..errors import PlanError
from ..ir.graph import Graph
from .planner import plan_memory as _plan, verify_plan
from .autodiff import split_forward_backward
from .manager import register_pass


@register_pass("plan_memory")
def plan_memory(g: Graph):
    g, _ = split_forward_backward(g)
    plan = _plan(g, "arena")
    if flags.VERIFY:
        verify_plan(g, plan)
    if plan.arena_bytes < 0:
        raise PlanError("negative arena size")
    return g, plan
