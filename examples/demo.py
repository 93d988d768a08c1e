"""Placeholder demo: a small MLP trained eagerly with autograd."""
import numpy as np

import graphcc as mx
from graphcc import autograd, nd

mx.random.seed(0)
rng = np.random.default_rng(0)
X = rng.normal(size=(64, 4)).astype(np.float32)
y = (X[:, :1] * 2 - X[:, 1:2] + 0.5).astype(np.float32)
w1 = nd.array(rng.normal(scale=0.5, size=(4, 16)))
w2 = nd.array(rng.normal(scale=0.5, size=(16, 1)))
for p in (w1, w2):
    p.attach_grad()
x, t = nd.array(X), nd.array(y)
for step in range(201):
    with autograd.record():
        loss = ((nd.dot(nd.relu(nd.dot(x, w1)), w2) - t) ** 2).mean()
    loss.backward()
    for p in (w1, w2):
        p[:] = p - 0.05 * p.grad
    if step % 50 == 0:
        print(f"step {step:3d}  loss {loss.asscalar():.4f}")
