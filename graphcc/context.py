"""MXNet's ``mx.context`` module."""
from .frontend.context import (Context, cpu, cpu_pinned, current_context, gpu,  # noqa: F401
                               num_gpus)
