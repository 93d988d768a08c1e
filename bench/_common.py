"""Shared helpers of the bench/ scripts. Import this module *first*: it fixes the BLAS/OpenMP
thread count (``--threads N``, default 2 as BENCHMARKS.md asks) in the environment before
NumPy is imported, and puts the checkout on ``sys.path`` so the scripts run without an
install."""
from __future__ import annotations

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _threads_from_argv(argv, default=2) -> int:
    for k, a in enumerate(argv):
        if a == "--threads" and k + 1 < len(argv):
            return int(argv[k + 1])
        if a.startswith("--threads="):
            return int(a.split("=", 1)[1])
    return default


THREADS = _threads_from_argv(sys.argv[1:])
if "numpy" not in sys.modules:
    for _k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_k] = str(THREADS)
    # OpenMP workers (PyTorch's libgomp) sleep instead of spinning between parallel regions:
    # spinning workers steal the cores from OpenBLAS's threads when the systems are
    # interleaved in one process (on 2 cores that made medians 2-4x noisier)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
else:                                                    # pragma: no cover
    print("warning: numpy was imported before bench/_common; thread count not applied",
          file=sys.stderr)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
if ROOT not in sys.path:
    import importlib.util
    if importlib.util.find_spec("graphcc") is None:     # not installed, not on PYTHONPATH:
        sys.path.insert(1, ROOT)                        # use this checkout

import numpy as np  # noqa: E402


def header(title: str) -> str:
    import platform
    import graphcc
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    lines = [f"# {title}",
             f"# python {platform.python_version()}, numpy {np.__version__}, graphcc "
             f"{graphcc.__version__}, {os.cpu_count()} CPUs, threads {THREADS} "
             f"(OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, OMP_WAIT_POLICY="
             f"{os.environ.get('OMP_WAIT_POLICY')}), load average "
             f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
             f"# graphcc: {graphcc_source()}",
             f"# command: {' '.join([os.path.relpath(sys.argv[0], os.getcwd())] + sys.argv[1:])}"]
    if load[0] > (os.cpu_count() or 1):
        lines.append(f"# warning: load average {load[0]:.1f} exceeds the CPU count: other "
                     "processes share the cores; only ratios of interleaved runs mean much")
    return "\n".join(lines)


def git_state() -> str:
    """The checkout's commit, and whether graphcc/ has uncommitted changes."""
    import subprocess
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "graphcc"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if not head:
        return "unknown"
    return head + (f" + uncommitted changes in graphcc/ ({len(dirty.splitlines())} files)"
                   if dirty else "")


def graphcc_source() -> str:
    """Where the graphcc being measured comes from: this checkout (commit, dirty or not) or
    another directory (``PYTHONPATH``, e.g. a snapshot of a commit)."""
    import graphcc
    path = os.path.dirname(os.path.dirname(os.path.abspath(graphcc.__file__)))
    if os.path.realpath(path) == os.path.realpath(ROOT):
        return f"this checkout, {git_state()}"
    return f"{path} (not this checkout)"


def load_note() -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return f"load average at end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"


def relerr(a, b) -> float:
    """||a - b|| / ||b|| (normwise relative error, 2-norm over all elements; b is the
    reference). Normwise rather than elementwise: a pre-activation within rounding of a ReLU's
    kink legitimately flips one unit's gradient in one system, which an elementwise check
    would report as a disagreement of the whole model."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    scale = float(np.linalg.norm(b))
    diff = float(np.linalg.norm(a - b))
    return diff / scale if scale else diff


class Stats:
    """Times of one system: median and min-max."""

    def __init__(self, times):
        self.raw = list(times)              # in the order they were measured
        self.times = sorted(times)

    @property
    def median(self):
        return float(np.median(self.times)) if self.times else float("nan")

    @property
    def min(self):
        return self.times[0] if self.times else float("nan")

    @property
    def max(self):
        return self.times[-1] if self.times else float("nan")

    def __len__(self):
        return len(self.times)

    def fmt(self, unit=1e3, suffix="ms") -> str:
        return (f"{self.median * unit:9.3f} {suffix} [{self.min * unit:.3f}-"
                f"{self.max * unit:.3f}] n={len(self)}")

    def as_dict(self):
        return {"median_s": self.median, "min_s": self.min, "max_s": self.max,
                "n": len(self.times)}


def interleaved(fns: dict, n: int, warmup: int = 2) -> dict:
    """Time each callable ``n`` times, interleaved round-robin (the order rotates every round so
    no system always runs right after another); ``warmup`` untimed calls each first. Returns
    name -> Stats."""
    names = list(fns)
    for _ in range(warmup):
        for k in names:
            fns[k]()
    times = {k: [] for k in names}
    clock = time.perf_counter
    for r in range(n):
        order = names[r % len(names):] + names[:r % len(names)]
        if r % 2:
            order = order[::-1]
        for k in order:
            t0 = clock()
            fns[k]()
            times[k].append(clock() - t0)
    return {k: Stats(v) for k, v in times.items()}


def fmt_ratio(x: float) -> str:
    return "n/a" if x != x else f"{x:.2f}x"
