"""``graphcc.gluon``: MXNet Gluon 1.x's high-level API."""
from . import nn  # noqa: F401
from . import contrib  # noqa: F401
from .block import Block, HybridBlock  # noqa: F401
from .parameter import Constant, Parameter, ParameterDict  # noqa: F401
from .symbol_block import SymbolBlock  # noqa: F401
from . import loss, data, utils  # noqa: F401,E402
from .trainer import Trainer  # noqa: F401,E402
