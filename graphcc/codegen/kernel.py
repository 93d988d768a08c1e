"""A compiled generated kernel: its source, the Numba dispatcher (compiled on its first call,
from the on-disk cache when it can), compile statistics, and errors in the user's terms."""
from __future__ import annotations

import time

from ..errors import CodegenError
from .cache import CACHE


class Kernel:
    """A compiled generated kernel: its source, the Numba dispatcher (compiled on its first
    call), and what it computes (for errors)."""

    def __init__(self, source, what):
        self.source = source
        self.fn = CACHE.get(source)
        self.what = what
        self.ready = False

    def __call__(self, args):
        if self.ready:
            return self.fn(*args)
        t0 = time.perf_counter()
        seen = _cache_counts(self.fn)
        try:
            out = self.fn(*args)
        except Exception as e:      # noqa: BLE001 - becomes a CodegenError below
            import numba.core.errors as nerr
            if not isinstance(e, nerr.NumbaError):
                # a cache entry that did not load: compile afresh once
                CACHE.purge(self.source)
                self.fn = CACHE.get(self.source)
                try:
                    out = self.fn(*args)
                except Exception as e2:   # noqa: BLE001
                    raise self._error(e2) from None
            else:
                raise self._error(e) from None
        self.ready = True
        hits, misses = _cache_counts(self.fn)
        if misses > seen[1]:
            CACHE.count("compiled", time.perf_counter() - t0)
        elif hits > seen[0]:
            CACHE.count("loaded", time.perf_counter() - t0)
        return out

    def _error(self, e):
        path = CACHE.path_of(self.source)
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return CodegenError(f"generated kernel for {self.what} failed: {first}\n"
                            f"  source: {path or '(compiled in memory)'}\n{self.source}")


def _cache_counts(fn):
    """(loaded from Numba's cache, compiled) signatures of a dispatcher so far."""
    st = getattr(fn, "stats", None)
    if st is None:
        return 0, 0
    return sum(st.cache_hits.values()), sum(st.cache_misses.values())
