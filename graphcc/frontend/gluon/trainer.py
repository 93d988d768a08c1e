"""``gluon.Trainer``: applies an optimizer to a set of Parameters (MXNet 1.9.1 semantics).

``step(batch_size)`` = ``allreduce_grads()`` (sum the gradients of parameters living on
several devices) + ``update(batch_size)`` (one optimizer update per parameter and device with
``rescale_grad = optimizer.rescale_grad / batch_size``). Parameters given as a dict are taken in
sorted-name order, which fixes their optimizer indices (and so the saved states).

Stale gradients: as in MXNet, ``update`` refuses a parameter whose gradient was not written by
a ``backward`` since the last update (``ignore_stale_grad=True`` skips such parameters). MXNet
keeps a "fresh gradient" flag on each variable that ``backward`` sets and the trainer clears;
see ``_fresh`` below for how graphcc tracks it.

There is one process and no parameter server: with several devices, "update on kvstore"
(MXNet's default then) means one update with the summed gradient on the first device, copied
to the others; otherwise each device updates its own copy with its own optimizer state.
"""
from __future__ import annotations


import numpy as np

from ... import optimizer as opt
from ...errors import GraphccError
from .. import autograd
from ..ndarray import NDArray
from .parameter import Parameter, ParameterDict


class TrainerError(GraphccError, ValueError):
    """The Trainer was given bad parameters or settings, or used out of order."""


class StaleGradientError(GraphccError, UserWarning):
    """A parameter's gradient was not updated by backward since the last step (MXNet raises
    ``UserWarning`` for this, so ``except UserWarning`` keeps working)."""


# ---------------------------------------------------------------- fresh-gradient flags
#
# As in MXNet, autograd.backward marks every variable of the recorded graph with grad_req !=
# 'null' as having a fresh gradient (``NDArray._fresh_grad``); the trainer checks the flag on
# each parameter's data array and clears it after updating. ``autograd.grad`` does not set it.


def _is_fresh(arr) -> bool:
    return bool(arr._fresh_grad)


def _set_fresh(arr, flag: bool):
    arr._fresh_grad = flag


# ---------------------------------------------------------------- Trainer


class Trainer:
    """Applies an ``Optimizer`` (object or registered name) to a set of Parameters."""

    def __init__(self, params, optimizer, optimizer_params=None, kvstore="device",
                 compression_params=None, update_on_kvstore=None):
        if isinstance(params, (dict, ParameterDict)):
            params = [params[key] for key in sorted(list(params.keys()))]
        if not isinstance(params, (list, tuple)):
            raise TrainerError(f"First argument must be a list or dict of Parameters, got "
                               f"{type(params)}.")
        self._params = []
        self._param2idx = {}
        for i, param in enumerate(params):
            if not isinstance(param, Parameter):
                raise TrainerError(f"First argument must be a list or dict of Parameters, got "
                                   f"list of {type(param)}.")
            self._param2idx[param.name] = i
            self._params.append(param)
        self._compression_params = compression_params
        self._contexts = self._check_contexts()
        self._init_optimizer(optimizer, optimizer_params or {})
        self._scale = self._optimizer.rescale_grad
        self._kvstore_params = {"kvstore": kvstore, "update_on_kvstore": update_on_kvstore}
        multi = self._contexts is not None and len(self._contexts) > 1
        self._kvstore = kvstore if (multi and kvstore) else None
        self._update_on_kvstore = None
        if self._kvstore is not None:
            self._update_on_kvstore = True if update_on_kvstore is None else \
                bool(update_on_kvstore)

    def _check_contexts(self):
        contexts = None
        for param in self._params:
            ctx = param.list_ctx()
            if contexts is not None and contexts != ctx:
                raise TrainerError(f"All Parameters must be initialized on the same set of "
                                   f"contexts, but Parameter {param.name} is initialized on "
                                   f"{ctx} while previous Parameters are initialized on "
                                   f"{contexts}.")
            contexts = ctx
        return contexts

    def _init_optimizer(self, optimizer, optimizer_params):
        param_dict = {i: param for i, param in enumerate(self._params)}
        if isinstance(optimizer, opt.Optimizer):
            if optimizer_params:
                raise TrainerError("optimizer_params must be None if optimizer is an instance "
                                   "of Optimizer instead of str")
            self._optimizer = optimizer
            self._optimizer.param_dict = param_dict
        else:
            self._optimizer = opt.create(optimizer, param_dict=param_dict, **optimizer_params)
        self._updaters = [opt.get_updater(self._optimizer) for _ in (self._contexts or [None])]

    # ------------------------------------------------------------ learning rate
    @property
    def learning_rate(self):
        return self._optimizer.learning_rate

    @property
    def optimizer(self):
        return self._optimizer

    def set_learning_rate(self, lr):
        self._optimizer.set_learning_rate(lr)

    # ------------------------------------------------------------ steps
    def step(self, batch_size, ignore_stale_grad=False):
        """``allreduce_grads()`` then an update with gradients scaled by ``1/batch_size``.
        Call it after ``backward()``, outside ``autograd.record()``."""
        self._set_batch_size(batch_size)
        self._allreduce_grads()
        self._update(ignore_stale_grad)

    def allreduce_grads(self):
        """Sum each parameter's gradients over its devices (nothing to do on one device)."""
        self._check_not_on_kvstore("allreduce_grads()")
        self._allreduce_grads()

    def update(self, batch_size, ignore_stale_grad=False):
        """The update half of ``step`` (after ``allreduce_grads``)."""
        self._check_not_on_kvstore("update()")
        self._set_batch_size(batch_size)
        self._update(ignore_stale_grad)

    def _set_batch_size(self, batch_size):
        if not batch_size:
            raise TrainerError(f"batch_size must not be {batch_size!r}: gradients are "
                               "scaled by 1 / batch_size")
        self._optimizer.rescale_grad = self._scale / batch_size

    def _check_not_on_kvstore(self, what):
        if self._kvstore is not None and self._update_on_kvstore:
            raise TrainerError(f"{what} when parameters are updated on kvstore is not "
                               "supported. Try setting `update_on_kvstore` to False when "
                               "creating trainer.")

    def _allreduce_grads(self):
        if self._kvstore is None:
            return
        for param in self._params:
            if param.grad_req == "null":
                continue
            grads = param.list_grad()
            if len(grads) < 2:
                continue
            total = np.sum([g._data for g in grads], axis=0, dtype=grads[0]._data.dtype)
            for g in grads:
                g._data[...] = total

    def _update(self, ignore_stale_grad=False):
        live = [(i, p) for i, p in enumerate(self._params) if p.grad_req != "null"]
        if not ignore_stale_grad:      # check everything first: a refused step changes nothing
            for _, param in live:
                for arr in param.list_data():
                    if not _is_fresh(arr):
                        raise StaleGradientError(
                            f"Gradient of Parameter `{param.name}` on context {arr.context} "
                            "has not been updated by backward since last `step`. This could "
                            "mean a bug in your model that made it only use a subset of the "
                            "Parameters (Blocks) for this iteration. If you are intentionally "
                            "only using a subset, call step with ignore_stale_grad=True to "
                            "suppress this warning and skip updating of Parameters with stale "
                            "gradient")
        updates = [[] for _ in self._updaters]
        for i, param in live:
            for upd, arr, grad in zip(updates, param.list_data(), param.list_grad()):
                if _is_fresh(arr):
                    upd.append((i, grad, arr))
                    _set_fresh(arr, False)
        with autograd.pause():
            if self._kvstore is not None and self._update_on_kvstore:
                self._update_first_device_and_copy(updates[0])
                return
            for updater, upd in zip(self._updaters, updates):
                for i, grad, arr in upd:
                    updater(i, grad, arr)

    def _update_first_device_and_copy(self, upd):
        for i, grad, arr in upd:
            self._updaters[0](i, grad, arr)
            for other in self._params[i].list_data()[1:]:
                other._data[...] = arr._data

    # ------------------------------------------------------------ states
    def save_states(self, fname):
        """Save the optimizer and its states (momentum...) to ``fname``. Parameter
        attributes (``lr_mult``, ``wd_mult``) are not saved."""
        data = self._updaters[0].get_states(dump_optimizer=True)
        from ...fileio import write_atomically
        write_atomically([(fname, lambda f: f.write(data), "wb")])   # failure keeps the old

    def load_states(self, fname):
        """Load what ``save_states`` wrote. The file is checked completely first: a missing,
        damaged or mismatched file raises and leaves the trainer as it was."""
        try:
            with open(fname, "rb") as f:
                data = f.read()
        except OSError as e:
            raise opt.OptimizerError(f"cannot read trainer states from {fname}: "
                                     f"{e.strerror}") from None
        try:
            states, optimizer = self._check_states(opt.loads_states(data))
        except opt.OptimizerError as e:
            raise opt.OptimizerError(f"cannot load trainer states from {fname}: {e}") from None
        for updater in self._updaters:
            updater.set_states(data)
            updater.optimizer = optimizer
        self._optimizer = optimizer
        self._optimizer.param_dict = {i: param for i, param in enumerate(self._params)}

    def _check_states(self, loaded):
        if not (isinstance(loaded, tuple) and len(loaded) == 2 and isinstance(loaded[0], dict)
                and isinstance(loaded[1], opt.Optimizer)):
            raise opt.OptimizerError("the file does not hold (states, optimizer) as written by "
                                     "Trainer.save_states")
        states, optimizer = loaded
        for idx, state in states.items():
            if not isinstance(idx, int) or not 0 <= idx < len(self._params):
                raise opt.OptimizerError(f"it has a state for parameter index {idx!r} but the "
                                         f"trainer has {len(self._params)} parameters")
            shape = self._params[idx].shape
            if type(optimizer).__module__ == opt.__name__:
                for s in _arrays(state):
                    if shape is not None and all(shape) and tuple(s.shape) != tuple(shape):
                        raise opt.OptimizerError(
                            f"its state for parameter {self._params[idx].name} has shape "
                            f"{tuple(s.shape)}, the parameter has shape {tuple(shape)}")
        return states, optimizer


def _arrays(state):
    if isinstance(state, NDArray):
        return [state]
    if isinstance(state, (list, tuple)):
        return [a for s in state for a in _arrays(s)]
    return []
