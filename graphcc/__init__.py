"""graphcc: a symbolic graph compiler with an imperative (Gluon-style) tracing frontend.

``import graphcc as mx`` gives MXNet 1.x's user namespace: ``mx.nd``, ``mx.sym``,
``mx.autograd``, ``mx.gluon``, ``mx.init``, ``mx.optimizer``, ``mx.cpu()``, ``mx.random.seed``;
and the compiler's: ``graphcc.trace``, ``graphcc.compile``, ``graphcc.passes``.
"""
from . import errors, flags, ops
from .errors import GraphccError
from .frontend import autograd, nd, sym
from .frontend.context import Context, cpu, cpu_pinned, current_context, gpu, num_gpus
from .frontend.ndarray import NDArray
from . import base, context, random  # noqa: E402  (MXNet-style modules)
from . import initializer  # noqa: E402
from . import lr_scheduler, optimizer  # noqa: E402
from .frontend import gluon  # noqa: E402
from ._aliases import install as _install_aliases  # noqa: E402

from . import passes  # noqa: E402
from .compiler import Executable, compile, trace  # noqa: E402,A004

init = initializer
_install_aliases()

ndarray = nd
symbol = sym
__version__ = "0.1.0"

__all__ = ["autograd", "base", "compile", "context", "Context", "cpu", "cpu_pinned",
           "current_context", "errors", "Executable", "flags", "gluon", "gpu", "GraphccError",
           "init", "initializer", "lr_scheduler", "nd", "NDArray", "ndarray", "num_gpus", "ops",
           "optimizer", "passes", "random", "sym", "symbol", "trace"]
