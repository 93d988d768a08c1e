"""Initializers (``mx.init``): fill a parameter's array when it is initialised.

As in MXNet 1.x, a parameter initialised with an explicit initializer (its own ``init`` or the
one given to ``initialize``) is filled by that initializer's ``_init_weight``; otherwise the
parameter's name picks the rule (``*weight`` random, ``*bias``/``*beta`` zero, ``*gamma`` one,
running/moving means zero and variances one). Random initializers draw from the generator that
``mx.random.seed`` seeds.
"""
from __future__ import annotations

import json
import re

import numpy as np

from .errors import GraphccError
from .ops.rng import generator

_REGISTRY: dict[str, type] = {}


def register(klass):
    """Register an Initializer subclass so that ``create('name')`` and strings find it."""
    _REGISTRY[klass.__name__.lower()] = klass
    return klass


def alias(*names):
    def deco(klass):
        for n in names:
            _REGISTRY[n.lower()] = klass
        return klass
    return deco


class InitDesc(str):
    """A parameter's name with attributes (``__init__``: the initializer chosen for it)."""

    def __new__(cls, name, attrs=None, global_init=None):
        ret = super().__new__(cls, name)
        ret.attrs = attrs or {}
        ret.global_init = global_init
        return ret


def _fill(arr, values):
    from .frontend.ndarray import NDArray
    if isinstance(arr, NDArray):
        arr._data[...] = values
    else:
        arr[...] = values


def _shape(arr):
    return tuple(arr.shape)


class Initializer:
    """Base class. Override ``_init_weight`` (and optionally ``_init_bias``, ...)."""

    def __init__(self, **kwargs):
        self._kwargs = kwargs
        self._verbose = False
        self._print_func = None

    def set_verbosity(self, verbose=False, print_func=None):
        self._verbose = verbose
        self._print_func = print_func
        return self

    def dumps(self):
        return json.dumps([self.__class__.__name__.lower(), self._kwargs])

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._kwargs.items())
        return f"{type(self).__name__}({args})"

    def __call__(self, desc, arr):
        if not isinstance(desc, InitDesc):
            desc = InitDesc(str(desc))
        if desc.global_init is None:
            desc.global_init = self
        init = desc.attrs.get("__init__", "")
        if init:
            create(init)._init_weight(desc, arr)
        elif desc.endswith("weight"):
            self._init_weight(desc, arr)
        elif desc.endswith("bias"):
            self._init_bias(desc, arr)
        elif desc.endswith("gamma"):
            self._init_gamma(desc, arr)
        elif desc.endswith("beta"):
            self._init_beta(desc, arr)
        elif desc.endswith("running_mean") or desc.endswith("moving_mean") or \
                desc.endswith("min"):
            self._init_zero(desc, arr)
        elif desc.endswith("running_var") or desc.endswith("moving_var") or \
                desc.endswith("max"):
            self._init_one(desc, arr)
        else:
            self._init_default(desc, arr)
        if self._verbose and self._print_func:
            print(f"Initialized {desc} as {init or self}: {self._print_func(arr)}")

    def _init_zero(self, _, arr):
        _fill(arr, 0.0)

    def _init_one(self, _, arr):
        _fill(arr, 1.0)

    def _init_bias(self, _, arr):
        _fill(arr, 0.0)

    def _init_gamma(self, _, arr):
        _fill(arr, 1.0)

    def _init_beta(self, _, arr):
        _fill(arr, 0.0)

    def _init_weight(self, name, arr):
        raise NotImplementedError(f"{type(self).__name__} must override _init_weight")

    def _init_default(self, name, _):
        raise GraphccError(
            f"Unknown initialization pattern for {name}. Default initialization is now limited "
            'to "weight", "bias", "gamma" (1.0), and "beta" (0.0). Please use '
            "mx.sym.Variable(init=mx.init.*) to set initialization pattern")


def create(init):
    """An Initializer from an instance, a registered name ('zeros', 'xavier') or a dumps()."""
    if isinstance(init, (Initializer, Mixed)):
        return init
    if isinstance(init, type) and issubclass(init, Initializer):
        return init()
    if isinstance(init, str):
        s = init.strip()
        if s.startswith("["):
            name, kwargs = json.loads(s)
            return _REGISTRY[name.lower()](**kwargs)
        if s.lower() in _REGISTRY:
            return _REGISTRY[s.lower()]()
    raise GraphccError(f"unknown initializer {init!r}; known: {', '.join(sorted(_REGISTRY))}")


@register
@alias("zeros")
class Zero(Initializer):
    def _init_weight(self, _, arr):
        _fill(arr, 0.0)


@register
@alias("ones")
class One(Initializer):
    def _init_weight(self, _, arr):
        _fill(arr, 1.0)


@register
class Constant(Initializer):
    def __init__(self, value):
        super().__init__(value=value)
        self.value = value

    def _init_weight(self, _, arr):
        from .frontend.ndarray import NDArray
        v = self.value._data if isinstance(self.value, NDArray) else np.asarray(self.value)
        _fill(arr, v)

    def dumps(self):
        v = self.value.asnumpy().tolist() if hasattr(self.value, "asnumpy") else self.value
        return json.dumps(["constant", {"value": v}])


@register
class Uniform(Initializer):
    """Uniform in [-scale, scale]."""

    def __init__(self, scale=0.07):
        super().__init__(scale=scale)
        self.scale = scale

    def _init_weight(self, _, arr):
        _fill(arr, generator().uniform(-self.scale, self.scale, _shape(arr)))


@register
class Normal(Initializer):
    """Normal with mean 0 and standard deviation sigma."""

    def __init__(self, sigma=0.01):
        super().__init__(sigma=sigma)
        self.sigma = sigma

    def _init_weight(self, _, arr):
        _fill(arr, generator().normal(0.0, self.sigma, _shape(arr)))


@register
class Orthogonal(Initializer):
    """A (scaled) orthogonal matrix from the SVD of a random one."""

    def __init__(self, scale=1.414, rand_type="uniform"):
        super().__init__(scale=scale, rand_type=rand_type)
        self.scale = scale
        self.rand_type = rand_type

    def _init_weight(self, _, arr):
        shape = _shape(arr)
        nout, nin = shape[0], int(np.prod(shape[1:]))
        if self.rand_type == "uniform":
            tmp = generator().uniform(-1.0, 1.0, (nout, nin))
        elif self.rand_type == "normal":
            tmp = generator().normal(0.0, 1.0, (nout, nin))
        else:
            raise GraphccError(f"Orthogonal: unknown rand_type {self.rand_type!r}")
        u, _s, v = np.linalg.svd(tmp, full_matrices=False)
        res = u if u.shape == tmp.shape else v
        _fill(arr, self.scale * res.reshape(shape))


@register
class Xavier(Initializer):
    """Glorot: scale = sqrt(magnitude / factor), factor from fan in/out ('avg', 'in', 'out')."""

    def __init__(self, rnd_type="uniform", factor_type="avg", magnitude=3):
        super().__init__(rnd_type=rnd_type, factor_type=factor_type, magnitude=magnitude)
        self.rnd_type = rnd_type
        self.factor_type = factor_type
        self.magnitude = float(magnitude)

    def _init_weight(self, name, arr):
        shape = _shape(arr)
        if len(shape) < 2:
            raise GraphccError(f"Xavier initializer cannot be applied to vector {name}. It "
                               "requires at least 2D.")
        hw = float(np.prod(shape[2:])) if len(shape) > 2 else 1.0
        fan_in, fan_out = shape[1] * hw, shape[0] * hw
        factor = {"avg": (fan_in + fan_out) / 2.0, "in": fan_in, "out": fan_out}.get(
            self.factor_type)
        if factor is None:
            raise GraphccError(f"Xavier: incorrect factor_type {self.factor_type!r} "
                               "('avg', 'in' or 'out')")
        scale = np.sqrt(self.magnitude / factor)
        if self.rnd_type == "uniform":
            _fill(arr, generator().uniform(-scale, scale, shape))
        elif self.rnd_type == "gaussian":
            _fill(arr, generator().normal(0.0, scale, shape))
        else:
            raise GraphccError(f"Xavier: unknown rnd_type {self.rnd_type!r} "
                               "('uniform' or 'gaussian')")


@register
class MSRAPrelu(Xavier):
    """He initialisation for PReLU nets: gaussian, magnitude 2 / (1 + slope^2)."""

    def __init__(self, factor_type="avg", slope=0.25):
        super().__init__("gaussian", factor_type, 2.0 / (1 + slope ** 2))
        self._kwargs = {"factor_type": factor_type, "slope": slope}


@register
class LSTMBias(Initializer):
    """Zeros, except the forget gate's bias (the second quarter), set to forget_bias."""

    def __init__(self, forget_bias=1.0):
        super().__init__(forget_bias=forget_bias)
        self.forget_bias = forget_bias

    def _init_weight(self, name, arr):
        n = _shape(arr)[0] // 4
        vals = np.zeros(_shape(arr))
        vals[n:2 * n] = self.forget_bias
        _fill(arr, vals)


@register
class Bilinear(Initializer):
    """Bilinear upsampling weights (for Deconvolution)."""

    def _init_weight(self, _, arr):
        shape = _shape(arr)
        weight = np.zeros(int(np.prod(shape)), dtype="float32")
        f = np.ceil(shape[3] / 2.0)
        c = (2 * f - 1 - f % 2) / (2.0 * f)
        for i in range(int(np.prod(shape))):
            x = i % shape[3]
            y = (i // shape[3]) % shape[2]
            weight[i] = (1 - abs(x / f - c)) * (1 - abs(y / f - c))
        _fill(arr, weight.reshape(shape))


class Mixed:
    """Pick an initializer by the first regular expression matching the parameter's name."""

    def __init__(self, patterns, initializers):
        if len(patterns) != len(initializers):
            raise GraphccError("Mixed: patterns and initializers must have the same length")
        self.map = [(re.compile(p), create(i)) for p, i in zip(patterns, initializers)]

    def __call__(self, name, arr):
        for prog, init in self.map:
            if prog.match(str(name)):
                init(InitDesc(str(name)), arr)
                return
        raise GraphccError(f"Parameter name {name} did not match any pattern. Consider adding "
                           'a ".*" pattern at the end with a default Initializer.')

    def _init_weight(self, name, arr):
        self(name, arr)

    def dumps(self):
        return json.dumps(["mixed", {}])
