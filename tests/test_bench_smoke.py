"""Keep the bench/ scripts from rotting: run their --quick modes on W1 as subprocesses.

No timing is asserted (the scripts print ratios; a shared machine's times are not results):
only that each script runs to the end and prints its tables.
"""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")


def _run(script, *args, timeout=180):
    env = dict(os.environ)
    env.pop("GRAPHCC_DEBUG", None)
    p = subprocess.run([sys.executable, os.path.join(BENCH, script), *args], cwd=ROOT,
                       capture_output=True, text=True, timeout=timeout, env=env)
    assert p.returncode == 0, f"{script} {' '.join(args)} failed:\n{p.stdout}\n{p.stderr}"
    return p.stdout


def test_memory_quick_w1(tmp_path):
    out_json = tmp_path / "memory.json"
    out = _run("memory.py", "--quick", "--models", "W1", "--json", str(out_json))
    for text in ("## inference", "## training step", "peak-live", "naive/arena", "## targets",
                 "arena never worse than mxnet", "RSS step", "recompute time overhead"):
        assert text in out, text
    data = json.loads(out_json.read_text())
    (r,) = data["results"]
    assert r["model"] == "W1"
    for mode in ("inference", "training"):
        rep = r[mode]
        assert rep["peak_live_bytes"] <= rep["planned_bytes"] <= rep["naive_bytes"]
        assert rep["variants"]["arena"] <= rep["variants"]["mxnet"]
    assert r["recompute"]["planned_bytes"] > 0
    assert r["measured"]["plain"]["steady_step_tracemalloc_peak_bytes"] > 0
    assert "ratio" in data["recompute_timing"]["W1"]


def test_speed_quick_w1(tmp_path):
    out_json = tmp_path / "speed.json"
    out = _run("speed.py", "--quick", "--models", "W1", "--json", str(out_json))
    assert "## summary" in out and "first call" in out
    data = json.loads(out_json.read_text())
    cases = {c["case"]: c for c in data["cases"]}
    assert set(cases) == {"W1-b1", "W1-b64"}
    for c in cases.values():
        assert not c["excluded"], c["excluded"]            # every system agreed within 1e-4
        assert {"graphcc-eager", "graphcc-interp", "graphcc-cpu", "numpy"} <= set(c["stats"])
        if data["torch"]:
            assert "torch-eager" in c["stats"]
    assert data["first_call"] and "error" not in data["first_call"][0]["cold"]


def test_models_build_every_workload():
    import importlib.util
    spec = importlib.util.spec_from_file_location("graphcc_bench_models",
                                                  os.path.join(BENCH, "models.py"))
    models = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = models          # dataclasses look their module up there
    spec.loader.exec_module(models)
    w = models.make("W1", batch=2)
    assert w.inputs[0].shape == (2, 784) and w.labels.shape == (2,)
    with pytest.raises(SystemExit):
        models.parse_models("W9")
