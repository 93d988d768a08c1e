"""The one random-number generator every random op draws from (``mx.random.seed`` seeds it)."""
from __future__ import annotations

import numpy as np

_gen = np.random.default_rng(0)


def seed(seed_state: int, ctx="all") -> None:
    global _gen
    _gen = np.random.default_rng(int(seed_state))


def generator() -> np.random.Generator:
    return _gen
