"""The op library. ``ops.get(name)`` returns an op's row; ``ops.OPS`` holds them all."""
from .registry import (ALIASES, OPS, REQUIRED, Attr, GradCtx, OpDef, canonical, get, infer,
                       kind, normalize_attrs, register, run_impl)
from . import binary, elemwise, pseudo, random, reduce, shape  # noqa: F401  (register rows)
from . import conv, indexing, linalg, movement, nn, norm, pool, sequence  # noqa: F401,E402

__all__ = ["ALIASES", "OPS", "REQUIRED", "Attr", "GradCtx", "OpDef", "canonical", "get",
           "infer", "kind", "normalize_attrs", "register", "run_impl"]
