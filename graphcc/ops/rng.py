"""The one random-number generator every random op draws from (``mx.random.seed`` seeds it)."""
from __future__ import annotations

import numpy as np

from ..errors import OpAttrError

_gen = np.random.default_rng(0)


def seed(seed_state: int, ctx="all") -> None:
    global _gen
    if isinstance(seed_state, bool) or not isinstance(seed_state, (int, np.integer)) or \
            seed_state < 0:
        raise OpAttrError(f"random.seed: the seed must be a non-negative integer, got "
                          f"{seed_state!r}")
    _gen = np.random.default_rng(int(seed_state))


def generator() -> np.random.Generator:
    return _gen
