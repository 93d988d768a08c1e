"""``gluon.contrib.nn``: Concurrent, HybridConcurrent (run every child on the same input and
concatenate the outputs along ``axis``) and Identity."""
from __future__ import annotations

from ..block import HybridBlock
from ..nn.basic_layers import HybridSequential, Identity, Sequential

__all__ = ["Concurrent", "HybridConcurrent", "Identity"]


class Concurrent(Sequential):
    """Lays Blocks side by side: ``concat([child(x) for child in children], dim=axis)``."""

    def __init__(self, axis=-1, prefix=None, params=None):
        super().__init__(prefix=prefix, params=params)
        self.axis = axis

    def forward(self, x):
        from ... import nd
        out = [block(x) for block in self._children.values()]
        return nd.concat(*out, dim=self.axis)


class HybridConcurrent(HybridSequential):
    """Lays HybridBlocks side by side: ``F.concat([child(x) ...], dim=axis)``."""

    def __init__(self, axis=-1, prefix=None, params=None):
        super().__init__(prefix=prefix, params=params)
        self.axis = axis

    forward = HybridBlock.forward      # HybridSequential defines an array forward; use F

    def hybrid_forward(self, F, x):
        out = [block(x) for block in self._children.values()]
        return F.concat(*out, dim=self.axis)
