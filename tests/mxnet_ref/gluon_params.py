"""Writes gluon_params/mlp.params (MXNet 1.9.1 save_parameters) and gluon_params/arrays.nd
(mx.nd.save of a dict) for tests/test_mxnet_files.py. Weights are arange-based, so the test
recomputes them without MXNet. Run: mxv/bin/python tests/mxnet_ref/gluon_params.py"""
import os

import mxnet as mx
import numpy as np
from mxnet.gluon import nn

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gluon_params")
os.makedirs(HERE, exist_ok=True)
net = nn.HybridSequential()
net.add(nn.Dense(4, activation="relu", in_units=3), nn.Dense(2, in_units=4))
net.initialize()
for k, (name, p) in enumerate(net.collect_params().items()):
    n = int(np.prod(p.shape))
    p.set_data(mx.nd.array((np.arange(n) - n / 2).reshape(p.shape) / (7 + k)))
net.save_parameters(os.path.join(HERE, "mlp.params"))
x = mx.nd.array(np.linspace(-1, 1, 6).reshape(2, 3))
print(net(x).asnumpy().tolist())
mx.nd.save(os.path.join(HERE, "arrays.nd"),
           {"a": mx.nd.arange(6).reshape((2, 3)), "b": mx.nd.ones((2,), dtype="float64")})
