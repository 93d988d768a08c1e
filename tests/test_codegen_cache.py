"""The kernel cache on disk: a hit in a new process, a miss, corrupt entries, a directory
that cannot be written, two processes compiling the same kernels at once."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = textwrap.dedent("""
    import json, numpy as np, graphcc, warnings
    from graphcc.ir import GraphBuilder
    from graphcc.ir.types import TensorType
    from graphcc.codegen.cache import CACHE
    b = GraphBuilder()
    x = b.input("x", TensorType((16,), "float32"))
    y = b.emit("_mul_scalar", [b.emit("exp", [x])], {"scalar": %(scale)r})
    g = b.build([b.emit("tanh", [y])])
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        exe = graphcc.compile(g, backend="cpu")
        out = exe(np.linspace(-1, 1, 16, dtype=np.float32))[0].asnumpy()
    want = np.tanh(np.exp(np.linspace(-1, 1, 16, dtype=np.float32)) * np.float32(%(scale)r))
    print(json.dumps({"ok": bool(np.allclose(out, want, rtol=1e-6)),
                      "compiled": CACHE.stats["compiled"], "loaded": CACHE.stats["loaded"],
                      "warnings": [str(x.message) for x in w]}))
""")


def _run(cache_dir, scale=0.37, wait=True):
    env = dict(os.environ, GRAPHCC_CACHE_DIR=str(cache_dir))
    p = subprocess.Popen([sys.executable, "-c", SCRIPT % {"scale": scale}], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return _result(p) if wait else p


def _result(p):
    import json
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def _files(d: Path, pattern):
    return sorted(d.rglob(pattern))


def test_a_new_process_loads_what_an_earlier_one_compiled(tmp_path):
    first = _run(tmp_path)
    assert first == {"ok": True, "compiled": 1, "loaded": 0, "warnings": []}
    assert len(_files(tmp_path, "k_*.py")) == 1 and _files(tmp_path, "*.nbc")
    second = _run(tmp_path)
    assert second == {"ok": True, "compiled": 0, "loaded": 1, "warnings": []}
    other = _run(tmp_path, scale=0.5)          # another constant: another kernel
    assert other["compiled"] == 1 and len(_files(tmp_path, "k_*.py")) == 2


@pytest.mark.parametrize("what", ["*.nbc", "*.nbi", "k_*.py"])
def test_a_corrupt_entry_is_rebuilt(tmp_path, what):
    _run(tmp_path)
    for f in _files(tmp_path, what):
        f.write_bytes(f.read_bytes()[:40])     # truncated
    again = _run(tmp_path)
    assert again["ok"] and again["warnings"] == []
    assert again["compiled"] + again["loaded"] == 1
    third = _run(tmp_path)                      # and the rebuilt entry is whole again
    assert third == {"ok": True, "compiled": 0, "loaded": 1, "warnings": []}


def test_a_directory_that_cannot_be_written_compiles_in_memory_with_one_warning(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    r = _run(blocker / "cache")
    assert r["ok"] and r["compiled"] == 1
    assert len(r["warnings"]) == 1 and "cannot be written" in r["warnings"][0]


def test_two_processes_compiling_the_same_kernel_at_once(tmp_path):
    procs = [_run(tmp_path, wait=False) for _ in range(2)]
    results = [_result(p) for p in procs]
    assert all(r["ok"] and r["warnings"] == [] for r in results)
    assert len(_files(tmp_path, "k_*.py")) == 1
    assert not _files(tmp_path, "*.tmp")
