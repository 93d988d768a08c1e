"""Symbols: graph values built by ``graphcc.sym`` and by the tracer."""
from __future__ import annotations


class Symbol:
    """Placeholder until the symbolic frontend lands."""
