"""The trace context: while a block is traced, parameters read as graph variables."""
from __future__ import annotations

import contextlib
import os
import sys
import threading

_local = threading.local()
_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Trace:
    """One tracing session: the variable standing for each parameter, and what was read."""

    def __init__(self, purpose: str = "hybridize", recording: bool = False):
        self.purpose = purpose          # "hybridize" or "infer_shape"
        self.recording = recording      # the traced call runs under autograd.record()
        self.param_vars: dict[int, object] = {}
        self.params: dict[int, object] = {}
        self.aux_calls: list = []       # (op, input SymNodes, attrs) of ops with aux updates

    def var_for(self, param):
        from .symbol import param_var
        v = self.param_vars.get(id(param))
        if v is None:
            v = param_var(param)
            self.param_vars[id(param)] = v
            self.params[id(param)] = param
        return v


def current() -> Trace | None:
    stack = getattr(_local, "stack", None)
    return stack[-1] if stack else None


@contextlib.contextmanager
def tracing(trace: Trace):
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    stack.append(trace)
    try:
        yield trace
    finally:
        stack.pop()


def user_loc() -> str:
    """'file.py:LINE' of the innermost frame outside the graphcc package (the user's line)."""
    f = sys._getframe(1)
    while f is not None:
        fn = f.f_code.co_filename
        if not os.path.abspath(fn).startswith(_PKG_DIR + os.sep) and "<frozen" not in fn:
            return f"{os.path.basename(fn)}:{f.f_lineno}"
        f = f.f_back
    return ""
