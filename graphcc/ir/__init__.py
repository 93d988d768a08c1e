"""The graph IR: ``Node``, ``Graph``, builder, printer, verifier, JSON, interpreter.

Names are loaded lazily so that ``ir.types`` can be imported by the op registry."""
import importlib

_WHERE = {
    "Graph": "graph", "GraphBuilder": "graph", "Node": "graph", "interpret": "interp",
    "Kernel": "graph", "kernel_record": "graph",
    "to_networkx": "nx", "format_graph": "printer", "dumps": "serialize",
    "from_dict": "serialize", "loads": "serialize", "to_dict": "serialize",
    "TensorType": "types", "canon_dtype": "types", "verify": "verifier",
}
__all__ = sorted(_WHERE)


def __getattr__(name):
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
