"""Convolution and pooling layers: Conv1D/2D/3D, Conv1D/2D/3DTranspose, Max/AvgPool1D/2D/3D,
GlobalMax/AvgPool1D/2D/3D, ReflectionPad2D (MXNet 1.x names, defaults and reprs).

The layers call ``F.Convolution`` / ``F.Deconvolution`` / ``F.Pooling`` with MXNet's attributes,
so they run eagerly and hybridize unchanged. Only the channel-first layouts (NCW, NCHW, NCDHW)
are computed; asking for a channel-last one is an error at construction time.
"""
from __future__ import annotations

from numbers import Integral

from ....errors import OpAttrError
from ..block import HybridBlock
from .basic_layers import Activation

_CHANNEL_FIRST = {1: "NCW", 2: "NCHW", 3: "NCDHW"}
_CHANNEL_LAST = {1: "NWC", 2: "NHWC", 3: "NDHWC"}


def _tuple(value, n: int, what: str, layer: str) -> tuple:
    """An int or a sequence of ``n`` ints -> a tuple of ``n`` ints."""
    if isinstance(value, Integral):
        return (int(value),) * n
    value = tuple(value)
    if len(value) != n or not all(isinstance(v, Integral) for v in value):
        raise OpAttrError(f"{layer}: {what} must be a number or a list of {n} ints, "
                          f"got {value!r}")
    return tuple(int(v) for v in value)


def _check_layout(layer: str, layout: str, n: int):
    if layout == _CHANNEL_FIRST[n]:
        return
    if layout == _CHANNEL_LAST[n]:
        raise OpAttrError(f"{layer}: layout {layout!r} is not supported; graphcc computes in "
                          f"the channel-first layout {_CHANNEL_FIRST[n]!r} only (transpose the "
                          "data first)")
    raise OpAttrError(f"{layer}: layout must be {_CHANNEL_FIRST[n]!r} or "
                      f"{_CHANNEL_LAST[n]!r}, got {layout!r}")


# ---------------------------------------------------------------- convolutions


class _Conv(HybridBlock):
    """Shared body of the convolution layers. ``weight`` is (channels, in_channels / groups,
    *kernel) for Convolution and (in_channels, channels / groups, *kernel) for Deconvolution;
    ``in_channels=0`` leaves it to the first call."""

    def __init__(self, channels, kernel_size, strides, padding, dilation, groups, layout,
                 in_channels=0, activation=None, use_bias=True, weight_initializer=None,
                 bias_initializer="zeros", op_name="Convolution", adj=None, prefix=None,
                 params=None):
        super().__init__(prefix=prefix, params=params)
        name = type(self).__name__
        n = len(kernel_size)
        with self.name_scope():
            self._channels = channels
            self._in_channels = in_channels
            strides = _tuple(strides, n, "strides", name)
            padding = _tuple(padding, n, "padding", name)
            dilation = _tuple(dilation, n, "dilation", name)
            self._op_name = op_name
            self._kwargs = {
                "kernel": kernel_size, "stride": strides, "dilate": dilation,
                "pad": padding, "num_filter": channels, "num_group": groups,
                "no_bias": not use_bias, "layout": layout}
            if adj is not None:
                self._kwargs["adj"] = adj
            if op_name == "Convolution":
                wshape = (channels, in_channels // groups) + tuple(kernel_size)
            else:
                wshape = (in_channels, channels // groups) + tuple(kernel_size)
            self.weight = self.params.get("weight", shape=wshape, init=weight_initializer,
                                          allow_deferred_init=True)
            if use_bias:
                self.bias = self.params.get("bias", shape=(channels,), init=bias_initializer,
                                            allow_deferred_init=True)
            else:
                self.bias = None
            if activation is not None:
                self.act = Activation(activation, prefix=activation + "_")
            else:
                self.act = None

    def hybrid_forward(self, F, x, weight, bias=None):
        op = getattr(F, self._op_name)
        if bias is None:
            act = op(x, weight, name="fwd", **self._kwargs)
        else:
            act = op(x, weight, bias, name="fwd", **self._kwargs)
        if self.act is not None:
            act = self.act(act)
        return act

    def _alias(self):
        return "conv"

    def __repr__(self):
        s = "{name}({mapping}, kernel_size={kernel}, stride={stride}"
        n = len(self._kwargs["kernel"])
        if self._kwargs["pad"] != (0,) * n:
            s += ", padding={pad}"
        if self._kwargs["dilate"] != (1,) * n:
            s += ", dilation={dilate}"
        # MXNet 1.9 tests `hasattr(self, 'out_pad')` but stores `outpad`: output_padding is
        # never shown. Kept for identical reprs.
        if self._kwargs["num_group"] != 1:
            s += ", groups={num_group}"
        if self.bias is None:
            s += ", bias=False"
        if self.act:
            s += f", {self.act}"
        s += ")"
        shape = self.weight.shape
        return s.format(name=type(self).__name__,
                        mapping=f"{shape[1] if shape[1] else None} -> {shape[0]}",
                        **self._kwargs)


def _conv_init(cls, n, channels, kernel_size, strides, padding, dilation, groups, layout,
               activation, use_bias, weight_initializer, bias_initializer, in_channels,
               kwargs, output_padding=None):
    name = cls.__name__
    _check_layout(name, layout, n)
    kernel_size = _tuple(kernel_size, n, "kernel_size", name)
    adj = None
    op_name = kwargs.pop("op_name", "Convolution" if output_padding is None else "Deconvolution")
    if output_padding is not None:
        adj = _tuple(output_padding, n, "output_padding", name)
    return dict(channels=channels, kernel_size=kernel_size, strides=strides, padding=padding,
                dilation=dilation, groups=groups, layout=layout, in_channels=in_channels,
                activation=activation, use_bias=use_bias,
                weight_initializer=weight_initializer, bias_initializer=bias_initializer,
                op_name=op_name, adj=adj, **kwargs)


class Conv1D(_Conv):
    """1-D convolution over (batch, in_channels, width)."""

    def __init__(self, channels, kernel_size, strides=1, padding=0, dilation=1, groups=1,
                 layout="NCW", activation=None, use_bias=True, weight_initializer=None,
                 bias_initializer="zeros", in_channels=0, **kwargs):
        super().__init__(**_conv_init(Conv1D, 1, channels, kernel_size, strides, padding,
                                      dilation, groups, layout, activation, use_bias,
                                      weight_initializer, bias_initializer, in_channels,
                                      kwargs))


class Conv2D(_Conv):
    """2-D convolution over (batch, in_channels, height, width)."""

    def __init__(self, channels, kernel_size, strides=(1, 1), padding=(0, 0), dilation=(1, 1),
                 groups=1, layout="NCHW", activation=None, use_bias=True,
                 weight_initializer=None, bias_initializer="zeros", in_channels=0, **kwargs):
        super().__init__(**_conv_init(Conv2D, 2, channels, kernel_size, strides, padding,
                                      dilation, groups, layout, activation, use_bias,
                                      weight_initializer, bias_initializer, in_channels,
                                      kwargs))


class Conv3D(_Conv):
    """3-D convolution over (batch, in_channels, depth, height, width)."""

    def __init__(self, channels, kernel_size, strides=(1, 1, 1), padding=(0, 0, 0),
                 dilation=(1, 1, 1), groups=1, layout="NCDHW", activation=None, use_bias=True,
                 weight_initializer=None, bias_initializer="zeros", in_channels=0, **kwargs):
        super().__init__(**_conv_init(Conv3D, 3, channels, kernel_size, strides, padding,
                                      dilation, groups, layout, activation, use_bias,
                                      weight_initializer, bias_initializer, in_channels,
                                      kwargs))


class Conv1DTranspose(_Conv):
    """1-D transposed convolution (Deconvolution); ``output_padding`` is its ``adj``."""

    def __init__(self, channels, kernel_size, strides=1, padding=0, output_padding=0,
                 dilation=1, groups=1, layout="NCW", activation=None, use_bias=True,
                 weight_initializer=None, bias_initializer="zeros", in_channels=0, **kwargs):
        super().__init__(**_conv_init(Conv1DTranspose, 1, channels, kernel_size, strides,
                                      padding, dilation, groups, layout, activation, use_bias,
                                      weight_initializer, bias_initializer, in_channels,
                                      kwargs, output_padding))
        self.outpad = self._kwargs["adj"]


class Conv2DTranspose(_Conv):
    """2-D transposed convolution (Deconvolution); ``output_padding`` is its ``adj``."""

    def __init__(self, channels, kernel_size, strides=(1, 1), padding=(0, 0),
                 output_padding=(0, 0), dilation=(1, 1), groups=1, layout="NCHW",
                 activation=None, use_bias=True, weight_initializer=None,
                 bias_initializer="zeros", in_channels=0, **kwargs):
        super().__init__(**_conv_init(Conv2DTranspose, 2, channels, kernel_size, strides,
                                      padding, dilation, groups, layout, activation, use_bias,
                                      weight_initializer, bias_initializer, in_channels,
                                      kwargs, output_padding))
        self.outpad = self._kwargs["adj"]


class Conv3DTranspose(_Conv):
    """3-D transposed convolution (Deconvolution); ``output_padding`` is its ``adj``."""

    def __init__(self, channels, kernel_size, strides=(1, 1, 1), padding=(0, 0, 0),
                 output_padding=(0, 0, 0), dilation=(1, 1, 1), groups=1, layout="NCDHW",
                 activation=None, use_bias=True, weight_initializer=None,
                 bias_initializer="zeros", in_channels=0, **kwargs):
        super().__init__(**_conv_init(Conv3DTranspose, 3, channels, kernel_size, strides,
                                      padding, dilation, groups, layout, activation, use_bias,
                                      weight_initializer, bias_initializer, in_channels,
                                      kwargs, output_padding))
        self.outpad = self._kwargs["adj"]


# ---------------------------------------------------------------- pooling


class _Pooling(HybridBlock):
    """Shared body of the pooling layers: ``ceil_mode`` is ``pooling_convention='full'``."""

    def __init__(self, pool_size, strides, padding, ceil_mode, global_pool, pool_type, layout,
                 count_include_pad=None, **kwargs):
        super().__init__(**kwargs)
        name = type(self).__name__
        n = len(pool_size)
        _check_layout(name, layout, n)
        if strides is None:
            strides = pool_size
        strides = _tuple(strides, n, "strides", name)
        padding = _tuple(padding, n, "padding", name)
        self._kwargs = {
            "kernel": pool_size, "stride": strides, "pad": padding,
            "global_pool": global_pool, "pool_type": pool_type, "layout": layout,
            "pooling_convention": "full" if ceil_mode else "valid"}
        if count_include_pad is not None:
            self._kwargs["count_include_pad"] = count_include_pad

    def _alias(self):
        return "pool"

    def hybrid_forward(self, F, x):
        return F.Pooling(x, name="fwd", **self._kwargs)

    def __repr__(self):
        s = "{name}(size={kernel}, stride={stride}, padding={pad}, ceil_mode={ceil_mode}"
        s += ", global_pool={global_pool}, pool_type={pool_type}, layout={layout})"
        return s.format(name=type(self).__name__,
                        ceil_mode=self._kwargs["pooling_convention"] == "full", **self._kwargs)


def _pool_size(cls, pool_size, n):
    return _tuple(pool_size, n, "pool_size", cls.__name__)


class MaxPool1D(_Pooling):
    def __init__(self, pool_size=2, strides=None, padding=0, layout="NCW", ceil_mode=False,
                 **kwargs):
        super().__init__(_pool_size(MaxPool1D, pool_size, 1), strides, padding, ceil_mode,
                         False, "max", layout, **kwargs)


class MaxPool2D(_Pooling):
    def __init__(self, pool_size=(2, 2), strides=None, padding=0, layout="NCHW",
                 ceil_mode=False, **kwargs):
        super().__init__(_pool_size(MaxPool2D, pool_size, 2), strides, padding, ceil_mode,
                         False, "max", layout, **kwargs)


class MaxPool3D(_Pooling):
    def __init__(self, pool_size=(2, 2, 2), strides=None, padding=0, ceil_mode=False,
                 layout="NCDHW", **kwargs):
        super().__init__(_pool_size(MaxPool3D, pool_size, 3), strides, padding, ceil_mode,
                         False, "max", layout, **kwargs)


class AvgPool1D(_Pooling):
    def __init__(self, pool_size=2, strides=None, padding=0, layout="NCW", ceil_mode=False,
                 count_include_pad=True, **kwargs):
        super().__init__(_pool_size(AvgPool1D, pool_size, 1), strides, padding, ceil_mode,
                         False, "avg", layout, count_include_pad, **kwargs)


class AvgPool2D(_Pooling):
    def __init__(self, pool_size=(2, 2), strides=None, padding=0, ceil_mode=False,
                 layout="NCHW", count_include_pad=True, **kwargs):
        super().__init__(_pool_size(AvgPool2D, pool_size, 2), strides, padding, ceil_mode,
                         False, "avg", layout, count_include_pad, **kwargs)


class AvgPool3D(_Pooling):
    def __init__(self, pool_size=(2, 2, 2), strides=None, padding=0, ceil_mode=False,
                 layout="NCDHW", count_include_pad=True, **kwargs):
        super().__init__(_pool_size(AvgPool3D, pool_size, 3), strides, padding, ceil_mode,
                         False, "avg", layout, count_include_pad, **kwargs)


class GlobalMaxPool1D(_Pooling):
    def __init__(self, layout="NCW", **kwargs):
        super().__init__((1,), None, 0, True, True, "max", layout, **kwargs)


class GlobalMaxPool2D(_Pooling):
    def __init__(self, layout="NCHW", **kwargs):
        super().__init__((1, 1), None, 0, True, True, "max", layout, **kwargs)


class GlobalMaxPool3D(_Pooling):
    def __init__(self, layout="NCDHW", **kwargs):
        super().__init__((1, 1, 1), None, 0, True, True, "max", layout, **kwargs)


class GlobalAvgPool1D(_Pooling):
    def __init__(self, layout="NCW", **kwargs):
        super().__init__((1,), None, 0, True, True, "avg", layout, **kwargs)


class GlobalAvgPool2D(_Pooling):
    def __init__(self, layout="NCHW", **kwargs):
        super().__init__((1, 1), None, 0, True, True, "avg", layout, **kwargs)


class GlobalAvgPool3D(_Pooling):
    def __init__(self, layout="NCDHW", **kwargs):
        super().__init__((1, 1, 1), None, 0, True, True, "avg", layout, **kwargs)


# ---------------------------------------------------------------- padding


class ReflectionPad2D(HybridBlock):
    """Mirror-pad the two spatial axes of (N, C, H, W) data by ``padding`` on every side."""

    def __init__(self, padding=0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(padding, Integral):
            padding = (0, 0, 0, 0, padding, padding, padding, padding)
        padding = tuple(padding)
        if len(padding) != 8:
            raise OpAttrError(f"ReflectionPad2D: padding must be an int or 8 ints "
                              f"(before/after for each of N, C, H, W), got {padding!r}")
        self._padding = padding

    def hybrid_forward(self, F, x):
        return F.pad(x, mode="reflect", pad_width=self._padding)
