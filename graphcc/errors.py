"""Every error graphcc raises on purpose derives from :class:`GraphccError`.

Messages speak in the user's terms: the op or layer, the shapes, the source line recorded
at trace time. ``MXNetError`` is an alias so that code catching ``mx.base.MXNetError`` keeps
working.
"""
from __future__ import annotations


class GraphccError(Exception):
    """Base class of graphcc's errors."""


MXNetError = GraphccError


class ShapeError(GraphccError, ValueError):
    """Shapes of an op's inputs do not fit together or do not fit its attributes."""


class DTypeError(GraphccError, TypeError):
    """A dtype an op does not support, or inputs of different dtypes."""


class OpAttrError(GraphccError, ValueError):
    """An unknown attribute, a missing required one, or a value of the wrong kind."""


class UnknownOpError(GraphccError, KeyError):
    """No op of that name is registered."""

    def __str__(self):  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class DeviceError(GraphccError, ValueError):
    """Arrays on different devices were combined, or a device is unavailable."""


class AutogradError(GraphccError, RuntimeError):
    """backward() without a recorded graph, a freed graph, or a variable without a gradient."""


class TraceError(GraphccError, RuntimeError):
    """Something a traced (hybridized) block cannot do, such as reading a value."""


class VerifyError(GraphccError, ValueError):
    """A graph broke an IR invariant."""


class PassError(GraphccError, RuntimeError):
    """A pass failed; the message names the pass, those before it and the IR around the node."""


class DeferredInitializationError(GraphccError, RuntimeError):
    """A parameter's shape is not known yet (it is fixed on the first forward call)."""


class ParameterError(GraphccError, ValueError):
    """Loading, setting or naming parameters went wrong."""


class ParameterLoadError(ParameterError, AssertionError):
    """A parameter file does not match the block (missing, extra or mis-shaped parameters);
    also an ``AssertionError``, which MXNet raises here."""


class PlanError(GraphccError, RuntimeError):
    """The memory plan is invalid (overlapping live buffers, wrong sizes)."""


class CheckError(GraphccError, RuntimeError):
    """``hybridize(check=True)``: the compiled graph disagrees with eager execution. ``op``,
    ``loc`` and ``node`` name the first diverging node of the traced graph (when found)."""

    def __init__(self, message, op=None, loc=None, node=None):
        super().__init__(message)
        self.op, self.loc, self.node = op, loc, node


class ExportError(GraphccError, RuntimeError):
    """``HybridBlock.export`` cannot write this block (never traced, or its graph holds values
    MXNet's format cannot express)."""


class CodegenError(GraphccError, RuntimeError):
    """A generated kernel failed to compile or run: names the kernel, its nodes, the user's
    source lines and the generated source file."""
