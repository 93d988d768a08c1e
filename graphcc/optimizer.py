"""``mx.optimizer``: MXNet 1.9.1's optimizers, ``create``/``register`` and the ``Updater``.

Each optimizer's ``update(index, weight, grad, state)`` changes ``weight`` in place with the
formula of MXNet's kernel (``sgd_mom_update``, ``adam_update``...), computed with NumPy on the
arrays' buffers in the weight's dtype; optimizer steps are never differentiated. States are
NDArrays made by ``create_state``. The per-parameter learning rate is
``learning_rate * lr_mult`` where ``lr_mult`` comes from ``param_dict[index].lr_mult`` (set by
``gluon.Trainer``), else ``set_lr_mult``, else the name in ``param_idx2name``; ``wd`` likewise,
and, as in MXNet, names in ``param_idx2name`` not ending in ``_weight``/``_gamma`` get no
weight decay. ``multi_precision`` is accepted and ignored (weights are updated in their own
dtype).

Clipping follows MXNet: optimizers with a fused kernel (SGD, NAG, Adam, RMSProp) clip only when
``clip_gradient`` is positive; AdaGrad and AdaDelta clip whenever it is not None.
"""
from __future__ import annotations

import io
import math
import pickle
import warnings

import numpy as np

from .errors import GraphccError
from .frontend.ndarray import NDArray

__all__ = ["AdaDelta", "AdaGrad", "Adam", "AdamW", "NAG", "Optimizer", "RMSProp", "SGD",
           "Updater", "create", "get_updater", "register"]


class OptimizerError(GraphccError, ValueError):
    """An unknown optimizer, a bad setting, or a damaged optimizer-state file."""


def _buf(x) -> np.ndarray:
    """The NumPy buffer behind an NDArray (updated in place), or the array itself."""
    return x._data if isinstance(x, NDArray) else x


def _zeros_like(weight) -> NDArray:
    w = _buf(weight)
    return NDArray(np.zeros(w.shape, w.dtype), getattr(weight, "context", None))


def _kernel_grad(grad, weight, rescale_grad, clip_gradient, wd=0.0, wd_first=False):
    """``clip(rescale_grad * grad [+ wd * weight])`` as MXNet's fused update kernels do:
    clipped only when ``clip_gradient`` is positive."""
    w = _buf(weight)
    g = _buf(grad).astype(w.dtype, copy=False) * w.dtype.type(rescale_grad)
    if wd_first and wd:
        g = g + w.dtype.type(wd) * w
    if clip_gradient is not None and clip_gradient > 0:
        c = w.dtype.type(clip_gradient)
        g = np.clip(g, -c, c)
    return g


class Optimizer:
    """Base class of the optimizers (MXNet 1.x ``mx.optimizer.Optimizer``)."""

    opt_registry: dict = {}

    def __init__(self, rescale_grad=1., param_idx2name=None, wd=0., clip_gradient=None,
                 learning_rate=None, lr_scheduler=None, sym=None, begin_num_update=0,
                 multi_precision=False, param_dict=None):
        self.rescale_grad = rescale_grad
        self.lr_scheduler = lr_scheduler
        if lr_scheduler is None and learning_rate is None:
            learning_rate = 0.01
        self.lr = learning_rate
        if lr_scheduler is not None and learning_rate is not None:
            if lr_scheduler.base_lr != learning_rate:
                warnings.warn("learning rate from ``lr_scheduler`` has been overwritten by "
                              "``learning_rate`` in optimizer.", UserWarning, stacklevel=3)
                lr_scheduler.base_lr = learning_rate
        self.wd = wd
        self.lr_mult: dict = {}
        self.wd_mult: dict = {}
        self.begin_num_update = begin_num_update
        self.num_update = begin_num_update
        self._all_index_update_counts = {0: {}}
        self._index_update_count = self._all_index_update_counts[0]
        self.clip_gradient = clip_gradient
        self.multi_precision = multi_precision
        self.aggregate_num = 0
        if param_idx2name is None:
            param_idx2name = {}
        if not isinstance(param_idx2name, dict):
            raise OptimizerError("param_idx2name should be a dict of param indexes to names.")
        self.idx2name = param_idx2name.copy()
        self.sym_info = ()
        if sym is not None:
            attrs = sym.attr_dict() if hasattr(sym, "attr_dict") else {}
            self.sym_info = (attrs, sym.list_arguments())
        self.param_dict = param_dict if param_dict else {}
        self.set_lr_mult({})
        self.set_wd_mult({})

    def __repr__(self):
        return f"{type(self).__name__}(learning_rate={self.learning_rate}, wd={self.wd})"

    # ------------------------------------------------------------ registry
    @staticmethod
    def register(klass):
        """Register an optimizer class under its lower-cased name (a decorator)."""
        if not isinstance(klass, type):
            raise OptimizerError(f"register expects an Optimizer class, got {klass!r}")
        name = klass.__name__.lower()
        if name in Optimizer.opt_registry:
            old = Optimizer.opt_registry[name]
            warnings.warn(f"WARNING: New optimizer {klass.__module__}.{klass.__name__} is "
                          f"overriding existing optimizer {old.__module__}.{old.__name__}",
                          stacklevel=2)
        Optimizer.opt_registry[name] = klass
        return klass

    @staticmethod
    def create_optimizer(name, **kwargs):
        """An instance of the optimizer registered as ``name`` (case-insensitive)."""
        klass = Optimizer.opt_registry.get(str(name).lower())
        if klass is None:
            raise OptimizerError(f"Cannot find optimizer {name}; registered: "
                                 f"{', '.join(sorted(Optimizer.opt_registry))}")
        return klass(**kwargs)

    # ------------------------------------------------------------ learning rate
    @property
    def learning_rate(self):
        if self.lr_scheduler is not None:
            return self.lr_scheduler(self.num_update)
        return self.lr

    def set_learning_rate(self, lr):
        if self.lr_scheduler is not None:
            raise UserWarning("LRScheduler of the optimizer has already been defined. Note "
                              "that set_learning_rate can mutate the value of the learning "
                              "rate of the optimizer only when the LRScheduler of the "
                              "optimizer is undefined.")
        self.lr = lr

    def set_lr_scale(self, args_lrscale):
        raise DeprecationWarning("set_lr_scale is deprecated; use set_lr_mult")

    def set_lr_mult(self, args_lr_mult):
        """Learning-rate multipliers by parameter index or name."""
        self.lr_mult = {}
        if self.sym_info:
            attrs, names = self.sym_info
            for n in names:
                if n in attrs and "__lr_mult__" in attrs[n]:
                    self.lr_mult[n] = float(attrs[n]["__lr_mult__"])
        self.lr_mult.update(args_lr_mult)

    def set_wd_mult(self, args_wd_mult):
        """Weight-decay multipliers by index or name; names from ``param_idx2name`` that do
        not end in ``_weight`` or ``_gamma`` get 0."""
        self.wd_mult = {}
        for n in self.idx2name.values():
            if not (n.endswith("_weight") or n.endswith("_gamma")):
                self.wd_mult[n] = 0.0
        if self.sym_info:
            attrs, names = self.sym_info
            for n in names:
                if n in attrs and "__wd_mult__" in attrs[n]:
                    self.wd_mult[n] = float(attrs[n]["__wd_mult__"])
        self.wd_mult.update(args_wd_mult)

    def _set_current_context(self, device_id):
        if device_id not in self._all_index_update_counts:
            self._all_index_update_counts[device_id] = {}
        self._index_update_count = self._all_index_update_counts[device_id]

    def _update_count(self, index):
        for idx in index if isinstance(index, (list, tuple)) else [index]:
            if idx not in self._index_update_count:
                self._index_update_count[idx] = self.begin_num_update
            self._index_update_count[idx] += 1
            self.num_update = max(self._index_update_count[idx], self.num_update)

    def _get_lrs(self, indices):
        lr = self.lr_scheduler(self.num_update) if self.lr_scheduler is not None else self.lr
        return [lr * self._mult(index, self.lr_mult, "lr_mult") for index in indices]

    def _get_lr(self, index):
        return self._get_lrs([index])[0]

    def _get_wds(self, indices):
        return [self.wd * self._mult(index, self.wd_mult, "wd_mult") for index in indices]

    def _get_wd(self, index):
        return self._get_wds([index])[0]

    def _mult(self, index, table, attr):
        if index in self.param_dict:
            return getattr(self.param_dict[index], attr)
        if index in table:
            return table[index]
        if index in self.idx2name:
            return table.get(self.idx2name[index], 1.0)
        return 1.0

    # ------------------------------------------------------------ states and updates
    def create_state(self, index, weight):
        """The auxiliary state (momentum...) for one weight; None if the optimizer has none."""
        return None

    def create_state_multi_precision(self, index, weight):
        return self.create_state(index, weight)

    def update(self, index, weight, grad, state):
        """Update ``weight`` in place from ``grad`` and ``state``."""
        raise NotImplementedError(f"{type(self).__name__} must define update()")

    def update_multi_precision(self, index, weight, grad, state):
        self.update(index, weight, grad, state)

    def __getstate__(self):
        ret = self.__dict__.copy()
        ret.pop("param_dict", None)       # Parameters are not saved; the Trainer sets them
        return ret

    def __setstate__(self, state):
        self.__dict__ = state
        self.param_dict = {}


register = Optimizer.register
create = Optimizer.create_optimizer


class _Momentum(Optimizer):
    """What SGD and NAG share: a momentum buffer when momentum is not 0, and the plain step
    ``weight = (1 - lr wd) weight - lr clip(rescale_grad grad)`` without one."""

    def __init__(self, momentum=0.0, **kwargs):
        super().__init__(**kwargs)
        self.momentum = momentum

    def create_state(self, index, weight):
        return _zeros_like(weight) if self.momentum != 0.0 else None

    def _begin(self, index, weight, grad, state):
        """Count the update; return (weight buffer, gradient, lr, wd, scalar type), having
        already taken the plain step when there is no momentum state."""
        self._update_count(index)
        lr, wd = self._get_lr(index), self._get_wd(index)
        w = _buf(weight)
        t = w.dtype.type
        g = _kernel_grad(grad, weight, self.rescale_grad, self.clip_gradient)
        if state is None:
            w[...] = t(1.0 - lr * wd) * w - t(lr) * g
        return w, g, lr, wd, t


@register
class SGD(_Momentum):
    """SGD with momentum and weight decay (MXNet's ``sgd_update`` / ``sgd_mom_update``)::

        mom = momentum * mom - lr * wd * weight - lr * clip(rescale_grad * grad)
        weight = weight + mom                       # without momentum: mom = the rest
    """

    def __init__(self, momentum=0.0, lazy_update=True, **kwargs):
        super().__init__(momentum, **kwargs)
        self.lazy_update = lazy_update

    def update(self, index, weight, grad, state):
        w, g, lr, wd, t = self._begin(index, weight, grad, state)
        if state is None:
            return
        mom = _buf(state)
        momentum = self.momentum if self.momentum > 0 else 0.0
        mom[...] = t(momentum) * mom - t(lr * wd) * w - t(lr) * g
        w += mom


@register
class NAG(_Momentum):
    """Nesterov accelerated gradient (MXNet's ``nag_mom_update``)::

        step = lr * (clip(rescale_grad * grad) + wd * weight)
        weight' = weight + momentum * (momentum * mom - step) - step
        mom' = momentum * mom - lr * (clip(rescale_grad * grad) + wd * weight')

    The state update reads the *new* weight: MXNet's kernel runs with ``out=weight`` and reads
    the weight again after writing it, so with ``wd > 0`` its momentum decays by the updated
    weight. graphcc reproduces that to follow the same trajectory.
    """

    def update(self, index, weight, grad, state):
        w, g, lr, wd, t = self._begin(index, weight, grad, state)
        if state is None:
            return
        mom = _buf(state)
        momentum = t(self.momentum if self.momentum > 0 else 0.0)
        step = t(lr * wd) * w + t(lr) * g
        w[...] = w + momentum * (momentum * mom - step) - step
        mom[...] = momentum * mom - t(lr * wd) * w - t(lr) * g


@register
class Adam(Optimizer):
    """Adam (MXNet's ``adam_update``; weight decay is added to the gradient)::

        grad = clip(rescale_grad * grad + wd * weight)
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad ** 2
        weight -= lr * sqrt(1 - beta2 ** t) / (1 - beta1 ** t) * m / (sqrt(v) + epsilon)
    """

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8,
                 lazy_update=True, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.lazy_update = lazy_update

    def create_state(self, index, weight):
        return (_zeros_like(weight), _zeros_like(weight))     # mean, variance

    def _moments(self, weight, grad, state, wd):
        """Update and return the moments (m, v) from the preprocessed gradient."""
        w = _buf(weight)
        t = w.dtype.type
        g = _kernel_grad(grad, weight, self.rescale_grad, self.clip_gradient, wd, True)
        m, v = _buf(state[0]), _buf(state[1])
        m[...] = t(self.beta1) * m + t(1.0 - self.beta1) * g
        v[...] = t(self.beta2) * v + t(1.0 - self.beta2) * np.square(g)
        return m, v

    def update(self, index, weight, grad, state):
        self._update_count(index)
        lr, wd = self._get_lr(index), self._get_wd(index)
        n = self._index_update_count[index]
        lr *= math.sqrt(1.0 - self.beta2 ** n) / (1.0 - self.beta1 ** n)
        w = _buf(weight)
        t = w.dtype.type
        m, v = self._moments(weight, grad, state, wd)
        w -= t(lr) * m / (np.sqrt(v) + t(self.epsilon))


@register
class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, "Decoupled Weight Decay
    Regularization", Algorithm 2 with the schedule multiplier folded into the learning rate).

    MXNet 1.9.1 has no ``AdamW`` optimizer (``mx.optimizer.create('adamw')`` fails there; it
    only ships the ``contrib.adamw_update`` kernel). This one follows the paper (and
    ``torch.optim.AdamW``): the decay is not part of the gradient, it is scaled by the learning
    rate, and ``epsilon`` is added to the bias-corrected ``sqrt(v)``::

        grad = clip(rescale_grad * grad)
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad ** 2
        m_hat = m / (1 - beta1 ** t);  v_hat = v / (1 - beta2 ** t)
        weight -= lr * (m_hat / (sqrt(v_hat) + epsilon) + wd * weight)
    """

    def update(self, index, weight, grad, state):
        self._update_count(index)
        lr, wd = self._get_lr(index), self._get_wd(index)
        n = self._index_update_count[index]
        w = _buf(weight)
        t = w.dtype.type
        m, v = self._moments(weight, grad, state, 0.0)
        m_hat = m / t(1.0 - self.beta1 ** n)
        v_hat = v / t(1.0 - self.beta2 ** n)
        w -= t(lr) * (m_hat / (np.sqrt(v_hat) + t(self.epsilon)) + t(wd) * w)


@register
class RMSProp(Optimizer):
    """RMSProp: Tieleman & Hinton (``centered=False``, MXNet's ``rmsprop_update``) or Graves
    (``centered=True``, ``rmspropalex_update``)::

        grad = clip(rescale_grad * grad + wd * weight)
        n = (1 - gamma1) * grad ** 2 + gamma1 * n
        plain:    weight -= lr * grad / sqrt(n + epsilon)
        centered: g = (1 - gamma1) * grad + gamma1 * g
                  delta = gamma2 * delta - lr * grad / sqrt(n - g ** 2 + epsilon)
                  weight += delta
        then weight = clip(weight, clip_weights) when clip_weights is positive
    """

    def __init__(self, learning_rate=0.001, gamma1=0.9, gamma2=0.9, epsilon=1e-8,
                 centered=False, clip_weights=None, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.gamma1 = gamma1
        self.gamma2 = gamma2
        self.centered = centered
        self.epsilon = epsilon
        self.clip_weights = clip_weights

    def create_state(self, index, weight):
        if self.centered:
            return (_zeros_like(weight), _zeros_like(weight), _zeros_like(weight))
        return (_zeros_like(weight),)

    def update(self, index, weight, grad, state):
        self._update_count(index)
        lr, wd = self._get_lr(index), self._get_wd(index)
        w = _buf(weight)
        t = w.dtype.type
        g = _kernel_grad(grad, weight, self.rescale_grad, self.clip_gradient, wd, True)
        g1, eps = t(self.gamma1), t(self.epsilon)
        n = _buf(state[0])
        n[...] = (t(1) - g1) * np.square(g) + g1 * n
        if not self.centered:
            w -= t(lr) * (g / np.sqrt(n + eps))
        else:
            gm, delta = _buf(state[1]), _buf(state[2])
            gm[...] = (t(1) - g1) * g + g1 * gm
            delta[...] = t(self.gamma2) * delta - t(lr) * (g / np.sqrt(n - np.square(gm) + eps))
            w += delta
        if self.clip_weights:
            c = t(self.clip_weights)
            if c > 0:
                np.clip(w, -c, c, out=w)


@register
class AdaGrad(Optimizer):
    """AdaGrad::

        grad = clip(rescale_grad * grad)           # clipped if clip_gradient is not None
        history += grad ** 2
        weight -= lr * (grad / sqrt(history + eps) + wd * weight)
    """

    def __init__(self, eps=1e-7, **kwargs):
        super().__init__(**kwargs)
        self.float_stable_eps = eps

    def create_state(self, index, weight):
        return _zeros_like(weight)                  # history

    def update(self, index, weight, grad, state):
        self._update_count(index)
        lr, wd = self._get_lr(index), self._get_wd(index)
        w = _buf(weight)
        t = w.dtype.type
        g = _buf(grad).astype(w.dtype, copy=False) * t(self.rescale_grad)
        if self.clip_gradient is not None:
            g = np.clip(g, t(-self.clip_gradient), t(self.clip_gradient))
        history = _buf(state)
        history += np.square(g)
        div = g / np.sqrt(history + t(self.float_stable_eps))
        w += (div + w * t(wd)) * t(-lr)


@register
class AdaDelta(Optimizer):
    """AdaDelta (no learning rate)::

        grad = clip(rescale_grad * grad)           # clipped if clip_gradient is not None
        acc_g = rho * acc_g + (1 - rho) * grad ** 2
        delta = sqrt(acc_delta + epsilon) / sqrt(acc_g + epsilon) * grad
        acc_delta = rho * acc_delta + (1 - rho) * delta ** 2
        weight -= delta + wd * weight

    (MXNet 1.9.1 also scales the caller's gradient array in place; graphcc leaves it as is.)
    """

    def __init__(self, rho=0.90, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.rho = rho
        self.epsilon = epsilon

    def create_state(self, index, weight):
        return (_zeros_like(weight), _zeros_like(weight))     # accumulated g, delta

    def update(self, index, weight, grad, state):
        wd = self._get_wd(index)
        self._update_count(index)
        w = _buf(weight)
        t = w.dtype.type
        g = _buf(grad).astype(w.dtype, copy=False) * t(self.rescale_grad)
        if self.clip_gradient is not None:
            g = np.clip(g, t(-self.clip_gradient), t(self.clip_gradient))
        acc_g, acc_delta = _buf(state[0]), _buf(state[1])
        rho, eps = t(self.rho), t(self.epsilon)
        acc_g *= rho
        acc_g += (t(1) - rho) * g * g
        delta = np.sqrt(acc_delta + eps) / np.sqrt(acc_g + eps) * g
        acc_delta *= rho
        acc_delta += (t(1) - rho) * delta * delta
        w -= delta + t(wd) * w


# ---------------------------------------------------------------- updater and state files


class Updater:
    """Applies an optimizer to (index, grad, weight), creating states on first use."""

    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.states: dict = {}
        self.states_synced: dict = {}
        self.aggregate_updates = False

    def __call__(self, index, grad, weight):
        indices = list(index) if isinstance(index, (list, tuple)) else [index]
        grads = list(grad) if isinstance(index, (list, tuple)) else [grad]
        weights = list(weight) if isinstance(index, (list, tuple)) else [weight]
        if weights and isinstance(weights[0], NDArray):
            self.optimizer._set_current_context(weights[0].context.device_id)
        for idx, w, g in zip(indices, weights, grads):
            if idx not in self.states:
                self.states[idx] = self.optimizer.create_state_multi_precision(idx, w)
                self.states_synced[idx] = True
            elif not self.states_synced[idx]:
                self.states[idx] = self.sync_state_context(self.states[idx], w.context)
                self.states_synced[idx] = True
            self.optimizer.update_multi_precision(idx, w, g, self.states[idx])

    def sync_state_context(self, state, context):
        if isinstance(state, NDArray):
            return state.as_in_context(context)
        if isinstance(state, (tuple, list)):
            synced = [self.sync_state_context(s, context) for s in state]
            return tuple(synced) if isinstance(state, tuple) else synced
        return state

    def set_states(self, states):
        """Restore states (and the optimizer, if it was dumped) from ``get_states`` bytes."""
        states = loads_states(states)
        if isinstance(states, tuple) and len(states) == 2:
            self.states, self.optimizer = states
        else:
            self.states = states
        self.states_synced = dict.fromkeys(self.states.keys(), False)

    def get_states(self, dump_optimizer=False):
        return pickle.dumps((self.states, self.optimizer) if dump_optimizer else self.states,
                            protocol=pickle.HIGHEST_PROTOCOL)


def get_updater(optimizer):
    return Updater(optimizer)


_SAFE_BUILTINS = {"dict", "list", "tuple", "set", "frozenset", "int", "float", "complex",
                  "bool", "str", "bytes", "slice", "range", "NoneType"}
_SAFE_NUMPY = {("numpy", "ndarray"), ("numpy", "dtype"), ("collections", "OrderedDict"),
               ("copyreg", "_reconstructor")}
_SAFE_NUMPY_FUNCS = {"_reconstruct", "_frombuffer", "scalar"}


class _StateUnpickler(pickle.Unpickler):
    """Loads only plain data, NumPy arrays and graphcc classes (never arbitrary callables)."""

    def find_class(self, module, name):
        if module == "builtins" and name in _SAFE_BUILTINS:
            return super().find_class(module, name)
        numpy_core = module in ("numpy.core.multiarray", "numpy._core.multiarray",
                                "numpy.core.numeric", "numpy._core.numeric")
        if (module, name) in _SAFE_NUMPY or (numpy_core and name in _SAFE_NUMPY_FUNCS) or (
                module.startswith("numpy") and name.startswith("dtype") or
                module == "numpy" and name in np.sctypeDict):
            return super().find_class(module, name)
        if (module, name) in (("graphcc.frontend.ndarray", "NDArray"),
                              ("graphcc.frontend.context", "Context")):
            return super().find_class(module, name)     # optimizer states (momentum...)
        if module in ("graphcc.optimizer", "graphcc.lr_scheduler") and "." not in name:
            # only what a states file holds: the optimizer and its learning-rate schedule
            from .lr_scheduler import LRScheduler
            obj = super().find_class(module, name)
            if isinstance(obj, type) and issubclass(obj, (Optimizer, LRScheduler)):
                return obj
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in an optimizer-state "
                                     "file")


def loads_states(data: bytes):
    """Decode ``Updater.get_states`` bytes; any damage is an OptimizerError."""
    try:
        return _StateUnpickler(io.BytesIO(data)).load()
    except Exception as e:   # noqa: BLE001 - a damaged file can fail in many ways
        raise OptimizerError(f"not a graphcc optimizer-state file or damaged "
                             f"({type(e).__name__}: {e})") from None
