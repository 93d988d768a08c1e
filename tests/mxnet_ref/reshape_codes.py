"""Produces RESHAPE_CASES in tests/test_ops_shape.py. Run under MXNet 1.9.1:
    python -m venv mxv && mxv/bin/pip install mxnet==1.9.1 numpy==1.23.5
    mxv/bin/python tests/mxnet_ref/reshape_codes.py
"""
from mxnet import nd

CASES = [((2, 3, 4), (4, 0, 2), False), ((2, 3, 4), (2, 0, 0), False),
         ((2, 3, 4), (6, 1, -1), False), ((2, 3, 4), (3, -1, 8), False),
         ((2, 3, 4), (-1,), False), ((2, 3, 4), (-2,), False), ((2, 3, 4), (2, -2), False),
         ((2, 3, 4), (-2, 1, 1), False), ((2, 3, 4), (-3, 4), False),
         ((2, 3, 4, 5), (-3, -3), False), ((2, 3, 4), (0, -3), False),
         ((2, 3, 4, 5), (-3, -2), False), ((2, 3, 4), (-4, 1, 2, -2), False),
         ((2, 3, 4), (2, -4, -1, 3, -2), False), ((10, 5, 4), (-1, 0), False),
         ((10, 5, 4), (-1, 0), True), ((2, 3, 4), (0, -4, -1, 1, 0), False)]
for src, spec, rev in CASES:
    print((src, spec, rev, nd.zeros(src).reshape(shape=spec, reverse=rev).shape), ",")
