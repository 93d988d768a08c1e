"""``gluon.nn``: layers."""
from .activations import ELU, GELU, SELU, LeakyReLU, PReLU, Swish  # noqa: F401
from .basic_layers import (Activation, Dense, Flatten, HybridLambda, HybridSequential,  # noqa
                           Identity, Lambda, Sequential)
from .conv_layers import (AvgPool1D, AvgPool2D, AvgPool3D, Conv1D, Conv1DTranspose,  # noqa
                          Conv2D, Conv2DTranspose, Conv3D, Conv3DTranspose, GlobalAvgPool1D,
                          GlobalAvgPool2D, GlobalAvgPool3D, GlobalMaxPool1D, GlobalMaxPool2D,
                          GlobalMaxPool3D, MaxPool1D, MaxPool2D, MaxPool3D, ReflectionPad2D)
from .layers import BatchNorm, Dropout, Embedding, GroupNorm, InstanceNorm, LayerNorm  # noqa
from ..block import Block, HybridBlock  # noqa: F401
