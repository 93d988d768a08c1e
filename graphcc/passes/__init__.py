"""Passes: named pure functions ``Graph -> Graph`` and the driver that runs them.

``DEFAULT_PIPELINE`` is an explicit tuple; replace it per call (``graphcc.compile(g,
passes=...)``, ``net.hybridize(passes=...)``). The ``gradient`` entry marks where a training
compile appends the backward graph (it is dropped for inference).
"""
from . import (autodiff, constfold, cse, dce, fusion, memory, schedule,  # noqa: F401
               simplify)
from .autodiff import GradInfo, gradient, gradient_pass, split_forward_backward
from .recompute import recompute, recompute_pass
from .manager import PASSES, PipelineResult, register_pass, run_pipeline, unregister_pass

DEFAULT_PIPELINE = ("simplify", "constant_fold", "cse", "dce", "gradient", "simplify", "cse",
                    "dce", "schedule", "fuse", "plan_memory")

__all__ = ["DEFAULT_PIPELINE", "GradInfo", "PASSES", "PipelineResult", "gradient",
           "gradient_pass", "recompute", "recompute_pass", "register_pass", "run_pipeline",
           "split_forward_backward", "unregister_pass"]
