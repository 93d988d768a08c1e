"""Devices. ``cpu()`` always works; ``gpu(i)`` names a CUDA device."""
from __future__ import annotations

import threading


class Context:
    """A device: ``Context('cpu', 0)``; also a ``with`` block that sets the default device."""
    _local = threading.local()
    devtype2str = {1: "cpu", 2: "gpu", 3: "cpu_pinned", 5: "cpu_shared"}
    devstr2type = {v: k for k, v in devtype2str.items()}

    def __init__(self, device_type="cpu", device_id=0):
        if isinstance(device_type, Context):
            device_type, device_id = device_type.device_type, device_type.device_id
        if device_type not in self.devstr2type:
            from ..errors import DeviceError
            raise DeviceError(f"unknown device type {device_type!r}: use 'cpu' or 'gpu'")
        self.device_type = device_type
        self.device_id = int(device_id)
        self._hash = hash((device_type, self.device_id))    # contexts key every cache lookup
        self._old = None

    @property
    def device_typeid(self):
        return self.devstr2type[self.device_type]

    def __eq__(self, other):
        return isinstance(other, Context) and (self.device_type, self.device_id) == (
            other.device_type, other.device_id)

    def __hash__(self):
        return self._hash

    def __repr__(self):
        return f"{self.device_type}({self.device_id})"

    __str__ = __repr__

    def __enter__(self):
        self._old = current_context()
        Context._local.value = self
        return self

    def __exit__(self, *exc):
        Context._local.value = self._old
        return False

    def empty_cache(self):
        """Nothing to release on the CPU; kept for MXNet compatibility."""


def cpu(device_id=0) -> Context:
    return Context("cpu", device_id)


def cpu_pinned(device_id=0) -> Context:
    return Context("cpu_pinned", device_id)


def gpu(device_id=0) -> Context:
    return Context("gpu", device_id)


def current_context() -> Context:
    return getattr(Context._local, "value", None) or Context("cpu", 0)


def num_gpus() -> int:
    """How many CUDA devices numba-cuda can see (0 without numba-cuda or a GPU)."""
    try:
        from numba import cuda  # noqa: PLC0415
        return len(cuda.gpus) if cuda.is_available() else 0
    except Exception:   # numba-cuda missing or broken: no GPUs
        return 0


def check_usable(ctx: Context) -> None:
    """Arrays live in host memory; a GPU context is refused until the CUDA runtime holds them."""
    if ctx.device_type == "gpu":
        from ..errors import DeviceError
        raise DeviceError(
            f"{ctx}: eager arrays on a GPU are not supported; create arrays on mx.cpu() "
            "(mx.context.num_gpus() tells whether a GPU is present)")
