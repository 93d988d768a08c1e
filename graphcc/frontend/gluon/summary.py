"""``Block.summary``: layers, output shapes and parameter counts, as MXNet prints them."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ..ndarray import NDArray


def _shape_of(x):
    if isinstance(x, NDArray):
        return tuple(x.shape)
    if isinstance(x, (list, tuple)):
        return [_shape_of(v) for v in x]
    return None


def summary(block, *inputs):
    rows = OrderedDict()
    seen: set[int] = set()
    handles = []

    def register(b):
        def hook(blk, _inputs, out):
            name = f"{type(blk).__name__}-{len(rows) + 1}"
            own = [p for p in blk._reg_params.values()]
            n_params = 0
            n_train = 0
            n_shared = 0
            for p in own:
                size = int(np.prod(p.shape)) if p.shape else 0
                n_params += size
                if p.grad_req != "null":
                    n_train += size
                if id(p) in seen:
                    n_shared += size
                seen.add(id(p))
            rows[name] = (_shape_of(out), n_params, n_train, n_shared)
        if b is not block or not b._children:
            handles.append(b.register_forward_hook(hook))
        for c in b._children.values():
            register(c)
    register(block)
    try:
        block(*inputs)
    finally:
        for h in handles:
            h.detach()
    line = "-" * 80
    print(line)
    print(f"{'Layer (type)':>20}{'Output Shape':>42}{'Param #':>15}")
    print("=" * 80)
    for x in inputs:
        print(f"{'Input':>20}{str(_shape_of(x)):>42}{0:>15}")
    total = trainable = shared = 0
    for name, (shape, n, t, s) in rows.items():
        print(f"{name:>20}{str(shape):>42}{n:>15}")
        total += n
        trainable += t
        shared += s
    print("=" * 80)
    print("Parameters in forward computation graph, duplicate included")
    print(f"   Total params: {total}")
    print(f"   Trainable params: {trainable}")
    print(f"   Non-trainable params: {total - trainable}")
    print(f"Shared params in forward computation graph: {shared}")
    print(f"Unique parameters in model: {total - shared}")
    print(line)
