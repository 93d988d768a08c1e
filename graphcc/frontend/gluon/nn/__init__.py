"""``gluon.nn``: layers."""
from .basic_layers import (Activation, Dense, Flatten, HybridLambda, HybridSequential,  # noqa
                           Identity, Lambda, Sequential)
from ..block import Block, HybridBlock  # noqa: F401
