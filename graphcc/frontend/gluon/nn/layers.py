"""Dropout, Embedding and the normalisation layers: BatchNorm, LayerNorm, InstanceNorm,
GroupNorm (MXNet 1.x names, defaults, parameter order and reprs).

Every layer calls one op through ``F`` with MXNet's attributes. Ops that behave differently
when training (Dropout, BatchNorm) get their ``training`` attribute from
``autograd.is_training()`` where the op is invoked; BatchNorm's moving statistics are updated
by the op's training step, not here.
"""
from __future__ import annotations

import numpy as np

from ..block import HybridBlock



def _affine(block, shape, scale, center, gamma_init, beta_init):
    """The gamma and beta parameters of a normalisation layer (frozen when not used)."""
    gamma = block.params.get("gamma", grad_req="write" if scale else "null", shape=shape,
                             init=gamma_init, allow_deferred_init=True)
    beta = block.params.get("beta", grad_req="write" if center else "null", shape=shape,
                            init=beta_init, allow_deferred_init=True)
    return gamma, beta

class Dropout(HybridBlock):
    """Zero each element with probability ``rate`` when training (scaling the rest by
    1 / (1 - rate)); the mask is shared along ``axes``. Identity in predict mode."""

    def __init__(self, rate, axes=(), **kwargs):
        super().__init__(**kwargs)
        self._rate = rate
        self._axes = axes

    def hybrid_forward(self, F, x):
        if self._rate > 0:
            return F.Dropout(x, p=self._rate, axes=self._axes, name="fwd", cudnn_off=False)
        return F.identity(x)

    def __repr__(self):
        return f"{type(self).__name__}(p = {self._rate}, axes={self._axes})"


class Embedding(HybridBlock):
    """Rows of ``weight`` (input_dim, output_dim) picked by integer-valued indices."""

    def __init__(self, input_dim, output_dim, dtype="float32", weight_initializer=None,
                 sparse_grad=False, **kwargs):
        super().__init__(**kwargs)
        grad_stype = "row_sparse" if sparse_grad else "default"
        self._kwargs = {"input_dim": input_dim, "output_dim": output_dim, "dtype": dtype,
                        "sparse_grad": sparse_grad}
        self.weight = self.params.get("weight", shape=(input_dim, output_dim),
                                      init=weight_initializer, dtype=dtype,
                                      allow_deferred_init=True, grad_stype=grad_stype)

    def hybrid_forward(self, F, x, weight):
        return F.Embedding(x, weight, name="fwd", **self._kwargs)

    def __repr__(self):
        k = self._kwargs
        return f"{type(self).__name__}({k['input_dim']} -> {k['output_dim']}, {k['dtype']})"


def _kwargs_repr(kwargs) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


class BatchNorm(HybridBlock):
    """Normalise each channel (``axis``) with the batch statistics when training and the
    running statistics otherwise (or always, with ``use_global_stats``).

    Parameters, in order: gamma, beta, running_mean, running_var. The running statistics
    have ``grad_req='null'`` and are not differentiable; ``scale=False`` fixes gamma to 1
    (``fix_gamma``) and ``center=False`` freezes beta.
    """

    def __init__(self, axis=1, momentum=0.9, epsilon=1e-5, center=True, scale=True,
                 use_global_stats=False, beta_initializer="zeros", gamma_initializer="ones",
                 running_mean_initializer="zeros", running_variance_initializer="ones",
                 in_channels=0, **kwargs):
        super().__init__(**kwargs)
        self._kwargs = {"axis": axis, "eps": epsilon, "momentum": momentum,
                        "fix_gamma": not scale, "use_global_stats": use_global_stats}
        if in_channels != 0:
            self.in_channels = in_channels
        shape = (in_channels,)
        self.gamma = self.params.get("gamma", grad_req="write" if scale else "null",
                                     shape=shape, init=gamma_initializer,
                                     allow_deferred_init=True, differentiable=scale)
        self.beta = self.params.get("beta", grad_req="write" if center else "null",
                                    shape=shape, init=beta_initializer,
                                    allow_deferred_init=True, differentiable=center)
        self.running_mean = self.params.get("running_mean", grad_req="null", shape=shape,
                                            init=running_mean_initializer,
                                            allow_deferred_init=True, differentiable=False)
        self.running_var = self.params.get("running_var", grad_req="null", shape=shape,
                                           init=running_variance_initializer,
                                           allow_deferred_init=True, differentiable=False)

    def cast(self, dtype):
        if np.dtype(dtype).name == "float16":      # statistics stay float32, as in MXNet
            dtype = "float32"
        super().cast(dtype)

    def hybrid_forward(self, F, x, gamma, beta, running_mean, running_var):
        return F.BatchNorm(x, gamma, beta, running_mean, running_var, name="fwd",
                           **self._kwargs)

    def __repr__(self):
        in_channels = self.gamma.shape[0]
        return (f"{type(self).__name__}({_kwargs_repr(self._kwargs)}, "
                f"in_channels={in_channels if in_channels else None})")


class InstanceNorm(HybridBlock):
    """Normalise each (sample, channel) over the remaining axes; ``axis`` is the channel axis.
    MXNet's default ``scale=False`` keeps gamma at its initial value (grad_req 'null')."""

    def __init__(self, axis=1, epsilon=1e-5, center=True, scale=False, beta_initializer="zeros",
                 gamma_initializer="ones", in_channels=0, **kwargs):
        super().__init__(**kwargs)
        self._kwargs = {"eps": epsilon, "axis": axis, "center": center, "scale": scale}
        self._axis = axis
        self._epsilon = epsilon
        self.gamma, self.beta = _affine(self, (in_channels,), scale, center, gamma_initializer,
                                        beta_initializer)

    def hybrid_forward(self, F, x, gamma, beta):
        if self._axis == 1:
            return F.InstanceNorm(x, gamma, beta, name="fwd", eps=self._epsilon)
        x = F.swapaxes(x, dim1=1, dim2=self._axis)
        y = F.InstanceNorm(x, gamma, beta, name="fwd", eps=self._epsilon)
        return F.swapaxes(y, dim1=1, dim2=self._axis)

    def __repr__(self):
        return (f"{type(self).__name__}({_kwargs_repr(self._kwargs)}, "
                f"in_channels={self.gamma.shape[0]})")


class LayerNorm(HybridBlock):
    """Normalise over ``axis`` (the last by default), then ``gamma * . + beta``."""

    def __init__(self, axis=-1, epsilon=1e-5, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", in_channels=0, prefix=None, params=None):
        super().__init__(prefix=prefix, params=params)
        self._kwargs = {"eps": epsilon, "axis": axis, "center": center, "scale": scale}
        self._axis = axis
        self._epsilon = epsilon
        self._center = center
        self._scale = scale
        self.gamma, self.beta = _affine(self, (in_channels,), scale, center, gamma_initializer,
                                        beta_initializer)

    def hybrid_forward(self, F, data, gamma, beta):
        return F.LayerNorm(data, gamma=gamma, beta=beta, axis=self._axis, eps=self._epsilon)

    def __repr__(self):
        return (f"{type(self).__name__}({_kwargs_repr(self._kwargs)}, "
                f"in_channels={self.gamma.shape[0]})")


class GroupNorm(HybridBlock):
    """Split the channels (axis 1) into ``num_groups`` groups and normalise each (sample,
    group); gamma and beta have one value per group (MXNet 1.x)."""

    def __init__(self, num_groups=1, epsilon=1e-5, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", prefix=None, params=None):
        super().__init__(prefix=prefix, params=params)
        self._kwargs = {"eps": epsilon, "num_groups": num_groups, "center": center,
                        "scale": scale}
        self._num_groups = num_groups
        self._epsilon = epsilon
        self._center = center
        self._scale = scale
        self.gamma, self.beta = _affine(self, (num_groups,), scale, center, gamma_initializer,
                                        beta_initializer)

    def hybrid_forward(self, F, data, gamma, beta):
        return F.GroupNorm(data, gamma=gamma, beta=beta, num_groups=self._num_groups,
                           eps=self._epsilon)

    def __repr__(self):
        return f"{type(self).__name__}({_kwargs_repr(self._kwargs)})"
