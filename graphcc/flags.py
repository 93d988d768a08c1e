"""Every environment knob graphcc reads, in one place.

Each flag has a one-line help string, is read once from the environment at import, and can be
changed in-process for a block of code::

    with flags.override(DEBUG=3):
        ...
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass


@dataclass
class _Flag:
    name: str
    kind: type
    default: object
    help: str


_FLAGS = {
    f.name: f
    for f in [
        _Flag("DEBUG", int, 0, "1: one line per compiled graph; 2: kernel times; 3: IR after "
              "every pass; 4: kernel source; 5: every rewrite rule that fired"),
        _Flag("VERIFY", bool, False, "verify the graph after every pass"),
        _Flag("DUMP_DIR", str, "", "write numbered IR files before/after passes here"),
        _Flag("DISABLE", str, "", "comma-separated pass names to skip"),
        _Flag("PRINT_BEFORE", str, "", "comma-separated pass names (or 'all') to print before"),
        _Flag("PRINT_AFTER", str, "", "comma-separated pass names (or 'all') to print after"),
        _Flag("CACHE_DIR", str, "", "kernel cache directory (default ~/.cache/graphcc)"),
        _Flag("BACKEND", str, "", "backend of compile() and hybridize() when none is given: "
              "'cpu' (the default: generated kernels) or 'interp' (the reference interpreter)"),
        _Flag("CACHE_SIZE", int, 32, "cached graphs kept per hybridized block"),
        _Flag("THREADS", int, 0, "threads for kernels and BLAS (0: leave the library default)"),
    ]
}


def _parse(flag: _Flag, text: str):
    if flag.kind is bool:
        return text.strip().lower() not in ("", "0", "false", "no", "off")
    if flag.kind is int:
        try:
            return int(text)
        except ValueError:
            return flag.default
    return text


class _Values:
    def __init__(self):
        for f in _FLAGS.values():
            raw = os.environ.get("GRAPHCC_" + f.name)
            object.__setattr__(self, f.name, f.default if raw is None else _parse(f, raw))

    def __setattr__(self, name, value):
        if name not in _FLAGS:
            raise AttributeError(f"graphcc has no flag {name!r}; flags: {', '.join(_FLAGS)}")
        object.__setattr__(self, name, value)


values = _Values()


def __getattr__(name):  # flags.DEBUG reads the current value
    if name in _FLAGS:
        return getattr(values, name)
    raise AttributeError(name)


def set(**kw):  # noqa: A001 - mirrors override()
    for k, v in kw.items():
        setattr(values, k, v)


@contextlib.contextmanager
def override(**kw):
    """Temporarily change flags: ``with flags.override(VERIFY=True): ...``."""
    old = {k: getattr(values, k) for k in kw}
    set(**kw)
    try:
        yield
    finally:
        set(**old)


def describe() -> str:
    return "\n".join(f"GRAPHCC_{f.name:<13} {f.help} (default {f.default!r})"
                     for f in _FLAGS.values())


def names_in(flag_value: str) -> frozenset:
    return frozenset(s.strip() for s in flag_value.split(",") if s.strip())
