"""Produces tests/mxnet_ref/optimizers.json, read by tests/test_optimizer.py and
tests/test_trainer.py: weight trajectories of MXNet 1.9.1's optimizers over a few updates with
explicitly given initial weights and gradients, learning rates of its LR schedulers, and one
gluon.Trainer run on a Dense layer. Run under MXNet 1.9.1:
    python -m venv mxv && mxv/bin/pip install mxnet==1.9.1 numpy==1.23.5
    mxv/bin/python tests/mxnet_ref/optimizers.py
"""
import json
import os

import numpy as np
import mxnet as mx
from mxnet import autograd, gluon, lr_scheduler, nd

STEPS = 4
rs = np.random.RandomState(0)
W0 = [rs.randn(2, 3).astype(np.float32), rs.randn(3).astype(np.float32)]
GRADS = [[(rs.randn(*w.shape) * 1.5).astype(np.float32) for w in W0] for _ in range(STEPS)]
IDX2NAME = {0: "fc_weight", 1: "fc_bias"}

# (optimizer name, constructor kwargs, extra: set_lr_mult / set_wd_mult / idx2name / scheduler)
CASES = [
    ("sgd", {"learning_rate": 0.1}, {}),
    ("sgd", {"learning_rate": 0.1, "momentum": 0.9, "wd": 0.01}, {}),
    ("sgd", {"learning_rate": 0.1, "momentum": 0.9, "wd": 0.01, "clip_gradient": 0.5,
             "rescale_grad": 0.5}, {}),
    ("sgd", {"learning_rate": 0.1, "wd": 0.1}, {"idx2name": True}),
    ("sgd", {"learning_rate": 0.1, "wd": 0.1, "momentum": 0.5},
     {"lr_mult": {0: 0.5}, "wd_mult": {1: 3.0}}),
    ("sgd", {"momentum": 0.9}, {"scheduler": ("FactorScheduler", {"step": 2, "factor": 0.5,
                                                                   "base_lr": 0.2})}),
    ("nag", {"learning_rate": 0.1}, {}),
    ("nag", {"learning_rate": 0.1, "momentum": 0.9, "wd": 0.01}, {}),
    ("nag", {"learning_rate": 0.1, "momentum": 0.9, "clip_gradient": 0.5,
             "rescale_grad": 0.5, "wd": 0.02}, {}),
    ("adam", {}, {}),
    ("adam", {"learning_rate": 0.05, "wd": 0.01, "clip_gradient": 0.3, "rescale_grad": 0.5,
              "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-6}, {}),
    ("adam", {"learning_rate": 0.05}, {"lr_mult": {1: 2.0}}),
    ("rmsprop", {"learning_rate": 0.01}, {}),
    ("rmsprop", {"learning_rate": 0.01, "wd": 0.01, "clip_gradient": 0.5, "rescale_grad": 0.5,
                 "gamma1": 0.8}, {}),
    ("rmsprop", {"learning_rate": 0.01, "centered": True, "wd": 0.01, "gamma1": 0.8,
                 "gamma2": 0.7, "clip_weights": 0.9}, {}),
    ("adagrad", {"learning_rate": 0.1}, {}),
    ("adagrad", {"learning_rate": 0.1, "wd": 0.01, "clip_gradient": 0.5, "rescale_grad": 0.5,
                 "eps": 1e-5}, {}),
    ("adadelta", {}, {}),
    ("adadelta", {"rho": 0.8, "epsilon": 1e-4, "wd": 0.01, "clip_gradient": 0.5,
                  "rescale_grad": 0.5}, {}),
]

SCHEDULERS = [
    ("FactorScheduler", {"step": 3, "factor": 0.5, "base_lr": 1.0}),
    ("FactorScheduler", {"step": 2, "factor": 0.1, "base_lr": 1.0, "stop_factor_lr": 0.005}),
    ("FactorScheduler", {"step": 2, "factor": 0.5, "base_lr": 1.0, "warmup_steps": 4,
                         "warmup_begin_lr": 0.1}),
    ("MultiFactorScheduler", {"step": [2, 5, 6], "factor": 0.5, "base_lr": 1.0}),
    ("MultiFactorScheduler", {"step": [3, 7], "factor": 0.1, "base_lr": 2.0, "warmup_steps": 3,
                              "warmup_mode": "constant", "warmup_begin_lr": 0.5}),
    ("PolyScheduler", {"max_update": 8, "base_lr": 1.0, "pwr": 2}),
    ("PolyScheduler", {"max_update": 10, "base_lr": 1.0, "pwr": 1, "final_lr": 0.1,
                       "warmup_steps": 3, "warmup_begin_lr": 0.2}),
    ("CosineScheduler", {"max_update": 8, "base_lr": 1.0}),
    ("CosineScheduler", {"max_update": 10, "base_lr": 2.0, "final_lr": 0.5,
                         "warmup_steps": 2, "warmup_mode": "linear"}),
]


def run_case(name, kwargs, extra):
    kw = dict(kwargs)
    if "scheduler" in extra:
        cls, skw = extra["scheduler"]
        kw["lr_scheduler"] = getattr(lr_scheduler, cls)(**skw)
    if extra.get("idx2name"):
        kw["param_idx2name"] = IDX2NAME
    opt = mx.optimizer.create(name, **kw)
    if "lr_mult" in extra:
        opt.set_lr_mult(extra["lr_mult"])
    if "wd_mult" in extra:
        opt.set_wd_mult(extra["wd_mult"])
    weights = [nd.array(w) for w in W0]
    states = [opt.create_state(i, w) for i, w in enumerate(weights)]
    traj = []
    for step in range(STEPS):
        for i, w in enumerate(weights):
            opt.update(i, w, nd.array(GRADS[step][i]), states[i])
        traj.append([w.asnumpy().tolist() for w in weights])
    return traj


def scheduler_values(cls, kwargs):
    sched = getattr(lr_scheduler, cls)(**kwargs)
    return [sched(n) for n in range(0, 13)]


def trainer_run():
    """Dense(3, in_units=4) trained 3 steps with SGD(momentum, wd) through gluon.Trainer."""
    net = gluon.nn.Dense(3, in_units=4)
    net.initialize()
    rs2 = np.random.RandomState(1)
    w = rs2.randn(3, 4).astype(np.float32)
    b = rs2.randn(3).astype(np.float32)
    x = rs2.randn(5, 4).astype(np.float32)
    y = rs2.randn(5, 3).astype(np.float32)
    net.weight.set_data(nd.array(w))
    net.bias.set_data(nd.array(b))
    net.bias.lr_mult = 0.5
    trainer = gluon.Trainer(net.collect_params(), "sgd",
                            {"learning_rate": 0.1, "momentum": 0.9, "wd": 0.05})
    loss_fn = gluon.loss.L2Loss()
    traj = []
    for _ in range(3):
        with autograd.record():
            loss = loss_fn(net(nd.array(x)), nd.array(y))
        loss.backward()
        trainer.step(5)
        traj.append([net.weight.data().asnumpy().tolist(), net.bias.data().asnumpy().tolist()])
    return {"w": w.tolist(), "b": b.tolist(), "x": x.tolist(), "y": y.tolist(), "traj": traj}


out = {
    "w0": [w.tolist() for w in W0],
    "grads": [[g.tolist() for g in step] for step in GRADS],
    "idx2name": {str(k): v for k, v in IDX2NAME.items()},
    "cases": [{"name": n, "kwargs": k, "extra": {key: (val if key != "lr_mult" and
                                                       key != "wd_mult" else
                                                       {str(i): m for i, m in val.items()})
                                                 for key, val in e.items()},
               "traj": run_case(n, k, e)} for n, k, e in CASES],
    "schedulers": [{"cls": c, "kwargs": k, "lrs": scheduler_values(c, k)}
                   for c, k in SCHEDULERS],
    "trainer": trainer_run(),
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "optimizers.json")
with open(path, "w") as f:
    json.dump(out, f, indent=0)
print("wrote", path)
