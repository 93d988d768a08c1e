import os
from pathlib import Path

# Compiled kernels are shared by every test worker and kept between runs (Numba's on-disk
# cache): one directory beside the checkout unless the caller chose one.
os.environ.setdefault("GRAPHCC_CACHE_DIR",
                      str(Path(__file__).resolve().parent.parent / ".graphcc-cache"))

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, max_examples=25, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile(
    "dev", max_examples=60, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile("ci" if os.environ.get("CI", "").lower() in ("1", "true", "yes") else "dev")


@pytest.fixture(autouse=True)
def _verify_every_pass():
    """Every test runs with the IR verifier on after each pass."""
    from graphcc import flags
    with flags.override(VERIFY=True):
        yield


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
