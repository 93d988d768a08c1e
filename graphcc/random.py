"""MXNet's ``mx.random``: seeding and the sampling functions."""
from .frontend.nd import random as _ndr
from .ops.rng import seed as _seed


def seed(seed_state, ctx="all"):
    """Seed the generator every random op and initializer draws from."""
    _seed(seed_state)
    import numpy as np
    np.random.seed(int(seed_state) % (2 ** 32))


uniform = _ndr.uniform
normal = _ndr.normal
randn = _ndr.randn
randint = _ndr.randint
exponential = _ndr.exponential
gamma = _ndr.gamma
poisson = _ndr.poisson
shuffle = _ndr.shuffle
