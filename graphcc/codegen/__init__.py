"""Backends: each lowers a planned graph's phases to something the runtime runs.

``interp`` runs the reference implementations (one NumPy call per node) and defines what a
graph means; ``cpu`` renders kernels to Numba-compiled source and calls BLAS. A backend is an
object with a ``name`` and ``lower(g, start, stop, keep, plan)``; register a new one with
``register_backend``.
"""
from __future__ import annotations

from ..errors import GraphccError
from .cpu import CpuBackend
from .interp import InterpBackend

BACKENDS: dict[str, object] = {}


def register_backend(backend) -> None:
    if backend.name in BACKENDS:
        raise GraphccError(f"backend {backend.name!r} registered twice")
    BACKENDS[backend.name] = backend


def get_backend(name: str):
    b = BACKENDS.get(name)
    if b is None:
        raise GraphccError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    return b


register_backend(InterpBackend())
register_backend(CpuBackend())
