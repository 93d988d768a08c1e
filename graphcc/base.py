"""MXNet's ``mx.base``: the error class user code catches."""
from .errors import GraphccError, MXNetError  # noqa: F401
