#!/usr/bin/env python
"""Steady-state speed of graphcc eager vs graphcc hybridized (the interp and the cpu backends) on
W1-W5, with peers when they import: PyTorch CPU eager, ``torch.compile``, JAX ``jax.jit``, and
a hand-written NumPy forward for W1; for W4 also the memory-bandwidth floor.

    python bench/speed.py                         # every case (a few minutes)
    python bench/speed.py --models W1,W2 --json speed.json
    python bench/speed.py --quick --models W1     # smoke run
    python bench/speed.py --no-compile --no-jax   # leave the compiling peers out

Systems: ``graphcc-eager`` (the baseline), ``graphcc-interp`` (``hybridize(backend="interp")``:
one NumPy call per op), ``graphcc-cpu`` (``hybridize(backend="cpu")``: generated Numba kernels,
graphcc's default backend; "hybrid" in the tables means this one), ``torch-eager``,
``torch-compile`` (``torch.compile`` of the same module; training compiles module + loss and
runs ``loss.backward()`` and an eager SGD step), ``jax-jit`` (W1-W5 written in ``jax.numpy``,
the whole training step, update included, in one ``jax.jit``), ``numpy`` (W1). Every peer is
optional: skipped with a note when its import fails, or left out with ``--no-torch``,
``--no-compile``, ``--no-jax``.

Per BENCHMARKS.md: float32, weights and inputs from fixed NumPy seeds copied into every
system; outputs (inference) or the loss and the updated parameters after one step (training)
checked to agree within 1e-4 (normwise relative error ||a-b||/||ref||, graphcc eager the
reference) before timing; 2 threads (``OMP_NUM_THREADS`` set before NumPy is imported,
``torch.set_num_threads``, ``XLA_FLAGS`` set before JAX is imported). Each system's first
call (which traces and compiles where the system compiles) is made before timing and reported
separately. For every case: median and min-max of the time per call after warm-up, the systems
interleaved round-robin (>= 50 calls each, more for fast cases), and the ratios of medians
against graphcc eager (the baseline) and against graphcc-cpu. Then the first-call time of the
model hybridized with the cpu backend in a fresh process (trace + compile + run; median of
``--first-reps`` processes), with a cold kernel cache (an empty ``GRAPHCC_CACHE_DIR``: every
kernel compiled by Numba) and a warm one (the same directory again: kernels loaded from disk).

Cases: W1 inference batch 1 and 64; W2 training step (softmax cross-entropy, SGD lr 0.1,
forward + backward + update) batch 64; W3 inference and training step 64; W4 inference;
W5 inference and training step 256 (training steps all SGD lr 0.1, loss + backward + update).
W4's floor: the bytes that must move (read x, gamma, beta, scale, bias; write the output)
divided by the copy bandwidth measured here (``np.copyto`` of a 256 MB float32 array, bytes
read + written, median of a few copies).
"""
from __future__ import annotations

import _common  # noqa: F401  (threads + sys.path; before numpy)

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from _common import fmt_ratio, header, interleaved, load_note, relerr

TOL = 1e-4
LR = 0.1
# (case id, workload, mode, batch)
CASES = [("W1-b1", "W1", "inference", 1), ("W1-b64", "W1", "inference", 64),
         ("W2", "W2", "training", 64), ("W3-inf", "W3", "inference", 64),
         ("W3-train", "W3", "training", 64), ("W4", "W4", "inference", 256),
         ("W5-inf", "W5", "inference", 256), ("W5-train", "W5", "training", 256)]
SPEED_MODELS = ("W1", "W2", "W3", "W4", "W5")


def _torch():
    try:
        import torch
    except Exception:                    # noqa: BLE001 - any failure: no torch peer
        return None
    torch.set_num_threads(_common.THREADS)
    return torch


# ---------------------------------------------------------------- graphcc systems


class GraphccSystem:
    """One copy of the workload in graphcc, eager or hybridized."""

    def __init__(self, wid, mode, batch, hybrid):
        from graphcc import gluon, nd
        from models import make
        self.w = make(wid, batch)
        self.mode = mode
        self.x = self.w.nd_inputs()[0]
        self.label = nd.array(self.w.labels)
        self.block = self.w.net if mode == "inference" else self.w.train_block()
        if hybrid:
            self.block.hybridize(backend="interp")
        if mode == "training":
            self.trainer = gluon.Trainer(self.block.collect_params(), "sgd",
                                         {"learning_rate": LR})

    def __call__(self):
        if self.mode == "inference":
            out = self.block(self.x)
            out.wait_to_read()
            return out
        from graphcc import autograd
        with autograd.record():
            loss = self.block(self.x, self.label)
        loss.backward()
        self.trainer.step(self.x.shape[0] if self.w.id != "W7" else self.x.shape[1])
        return loss

    def result(self):
        """Inference: the output; training: the loss (mean) of one step, then the parameters."""
        out = self()
        if self.mode == "inference":
            return {"out": out.asnumpy()}
        res = {"loss": np.array([out.asnumpy().mean()])}
        for name, p in self.w.net.collect_params().items():
            res[name] = p.data().asnumpy()
        return res


# ---------------------------------------------------------------- PyTorch peer


def torch_model(torch, wid, params):
    """The same function in PyTorch, parameters copied from graphcc (registration order)."""
    nn = torch.nn
    if wid in ("W1", "W2"):
        m = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                          nn.Linear(512, 10))
    elif wid == "W3":
        m = nn.Sequential(nn.Conv2d(1, 20, 5), nn.ReLU(), nn.MaxPool2d(2, 2),
                          nn.Conv2d(20, 50, 5), nn.ReLU(), nn.MaxPool2d(2, 2), nn.Flatten(),
                          nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 10))
    elif wid == "W5":
        layers = []
        for _ in range(20):
            layers += [nn.Linear(1024, 1024), nn.ReLU()]
        m = nn.Sequential(*layers)
    elif wid == "W4":
        class Block(nn.Module):
            def __init__(self):
                super().__init__()
                self.norm = nn.LayerNorm(1024, eps=1e-5)
                self.scale = nn.Parameter(torch.ones(1024))
                self.bias = nn.Parameter(torch.zeros(1024))

            def forward(self, x):
                g = nn.functional.gelu(self.norm(x), approximate="tanh")
                return g * self.scale + self.bias + x
        m = Block()
        by_suffix = {k.rsplit("_", 1)[-1]: v for k, v in params.items()}
        with torch.no_grad():
            m.norm.weight.copy_(torch.from_numpy(by_suffix["gamma"]))
            m.norm.bias.copy_(torch.from_numpy(by_suffix["beta"]))
            m.scale.copy_(torch.from_numpy(by_suffix["scale"]))
            m.bias.copy_(torch.from_numpy(by_suffix["bias"]))
        return m
    else:
        raise ValueError(wid)
    tparams = list(m.parameters())
    values = list(params.values())
    assert len(tparams) == len(values), (wid, len(tparams), len(values))
    with torch.no_grad():
        for tp, v in zip(tparams, values):
            assert tuple(tp.shape) == v.shape, (wid, tuple(tp.shape), v.shape)
            tp.copy_(torch.from_numpy(v))
    return m


class TorchSystem:
    def __init__(self, torch, wid, mode, batch):
        from models import make
        w = make(wid, batch)          # same seeds: the same weights, inputs and labels
        self.torch, self.mode, self.names = torch, mode, list(w.params)
        self.m = torch_model(torch, wid, w.params)
        self.x = torch.from_numpy(w.inputs[0].copy())
        if mode == "training":
            self.y = torch.from_numpy(w.labels.astype(np.int64))
            self.opt = torch.optim.SGD(self.m.parameters(), lr=LR)
            self.loss = torch.nn.CrossEntropyLoss()
        else:
            self.m.eval()

    def __call__(self):
        if self.mode == "inference":
            with self.torch.inference_mode():
                return self.m(self.x)
        self.opt.zero_grad(set_to_none=True)
        loss = self.loss(self.m(self.x), self.y)
        loss.backward()
        self.opt.step()
        return loss

    def result(self):
        out = self()
        if self.mode == "inference":
            return {"out": out.numpy()}
        res = {"loss": np.array([out.item()])}
        for name, p in zip(self.names, self.m.parameters()):
            res[name] = p.detach().numpy().copy()
        return res


# ---------------------------------------------------------------- NumPy floor (W1)


class NumpyMLP:
    """Hand-written NumPy forward of W1: three matmuls, bias adds and ReLUs in place."""

    def __init__(self, batch):
        from models import make
        w = make("W1", batch)
        vals = list(w.params.values())
        self.layers = [(np.ascontiguousarray(vals[k].T), vals[k + 1]) for k in range(0, 6, 2)]
        self.x = w.inputs[0]

    def __call__(self):
        h = self.x
        for k, (wt, b) in enumerate(self.layers):
            h = h @ wt
            h += b
            if k < 2:
                np.maximum(h, 0, out=h)
        return h

    def result(self):
        return {"out": self()}


# ---------------------------------------------------------------- one case


def run_case(case, args, torch):
    cid, wid, mode, batch = case
    systems = {"graphcc-eager": lambda: GraphccSystem(wid, mode, batch, False),
               "graphcc-hybrid": lambda: GraphccSystem(wid, mode, batch, True)}
    if torch is not None and not args.no_torch:
        systems["torch-eager"] = lambda: TorchSystem(torch, wid, mode, batch)
    if wid == "W1" and mode == "inference":
        systems["numpy"] = lambda: NumpyMLP(batch)
    built, check = {}, {}
    for name, make_system in systems.items():
        built[name] = make_system()
        check[name] = built[name].result()          # also the first (compiling) call
    ref = check["graphcc-eager"]
    errors = {}
    for name, res in check.items():
        if name == "graphcc-eager":
            continue
        errors[name] = max(relerr(res[k], ref[k]) for k in ref)
    bad = {k: e for k, e in errors.items() if not e <= TOL}
    fns = {name: s.__call__ for name, s in built.items() if name not in bad}
    # calibrate: more calls for fast cases (at least args.calls, about args.budget s per case)
    t0 = time.perf_counter()
    for f in fns.values():
        f()
    per_round = time.perf_counter() - t0
    n = args.calls if args.quick else int(min(args.max_calls,
                                              max(args.calls, args.budget / max(per_round, 1e-6))))
    stats = interleaved(fns, n, warmup=args.warmup)
    final = {}
    if mode == "training":          # the loss after all the steps (SGD diverging would show)
        for name, s in built.items():
            if name not in bad:
                final[name] = float(s.result()["loss"][0])
    return {"case": cid, "model": wid, "mode": mode, "batch": batch, "errors": errors,
            "excluded": bad, "stats": stats, "final_loss": final}


def print_case(r):
    st = r["stats"]
    base = st["graphcc-eager"].median
    hyb = st["graphcc-hybrid"].median if "graphcc-hybrid" in st else float("nan")
    errs = ", ".join(f"{k} {e:.1e}" for k, e in r["errors"].items())
    print(f"\n{r['case']} ({r['mode']}, batch {r['batch']}); agreement vs graphcc-eager: {errs}")
    for k, e in r["excluded"].items():
        print(f"  {k}: EXCLUDED, outputs disagree ({e:.2e} > {TOL})")
    if r["final_loss"]:
        print("  loss after the timed steps: " +
              ", ".join(f"{k} {v:.4g}" for k, v in r["final_loss"].items()) +
              " (only the first step is checked: over many steps the systems' trajectories "
              "drift apart, rounding at ReLU kinks amplified, without being wrong)")
    print(f"  {'system':<16}{'median':>12} {'[min-max]':<26}{'eager/this':>11}{'hybrid/this':>12}")
    for name, s in st.items():
        rng = f"[{s.min * 1e3:.3f}-{s.max * 1e3:.3f}] n={len(s)}"
        print(f"  {name:<16}{s.median * 1e3:9.3f} ms {rng:<26}"
              f"{fmt_ratio(base / s.median):>11}{fmt_ratio(hyb / s.median):>12}")


# ---------------------------------------------------------------- first call (child)


def _first_call_child(cid):
    """In a fresh process: import, build, time the first hybridized call, then a second."""
    t0 = time.perf_counter()
    import graphcc  # noqa: F401
    t_import = time.perf_counter() - t0
    case = next(c for c in CASES if c[0] == cid)
    _, wid, mode, batch = case
    t0 = time.perf_counter()
    s = GraphccSystem(wid, mode, batch, True)
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    s()
    t_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    s()
    t_second = time.perf_counter() - t0
    return {"case": cid, "import_s": t_import, "build_s": t_build, "first_s": t_first,
            "second_s": t_second}


def first_call(cid, cache_dir, timeout=600):
    env = dict(os.environ, GRAPHCC_CACHE_DIR=cache_dir)
    cmd = [sys.executable, os.path.abspath(__file__), "--child-first", cid, "--threads",
           str(_common.THREADS)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": "timeout"}
    if p.returncode != 0:
        last = [ln for ln in p.stderr.strip().splitlines() if ln.strip()]
        return {"error": last[-1] if last else f"exit status {p.returncode}"}
    return json.loads(p.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- main


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", help="comma-separated workload ids among W1-W5 (default all)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 5 calls per system, 1 warm-up (figures not meaningful)")
    ap.add_argument("--calls", type=int, default=None,
                    help="minimum timed calls per system (default 50; quick 5)")
    ap.add_argument("--max-calls", type=int, default=400, help="at most this many calls")
    ap.add_argument("--budget", type=float, default=6.0,
                    help="seconds of timed calls per case that fast cases may fill (default 6)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed calls each (default 5)")
    ap.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    ap.add_argument("--no-first-call", action="store_true", help="skip the fresh-process runs")
    ap.add_argument("--first-reps", type=int, default=None,
                    help="fresh-process cold/warm pairs per case, medians reported (default 3; "
                    "quick 1)")
    ap.add_argument("--json", help="write every figure to this JSON file")
    ap.add_argument("--threads", type=int, default=2, help="BLAS/OpenMP threads (default 2)")
    ap.add_argument("--child-first", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child_first:
        print(json.dumps(_first_call_child(args.child_first)))
        return 0
    from models import parse_models
    if args.calls is None:
        args.calls = 5 if args.quick else 50
    if args.warmup is None:
        args.warmup = 1 if args.quick else 5
    if args.first_reps is None:
        args.first_reps = 1 if args.quick else 3
    models = parse_models(args.models, SPEED_MODELS)
    bad = [m for m in models if m not in SPEED_MODELS]
    if bad:
        raise SystemExit(f"speed.py covers {', '.join(SPEED_MODELS)}; not {', '.join(bad)}")
    t_start = time.perf_counter()
    print(header("graphcc speed (bench/speed.py)"))
    torch = None if args.no_torch else _torch()
    print(f"# peers: graphcc eager (baseline), graphcc hybridized (interp backend), "
          f"{'PyTorch ' + torch.__version__ + ' CPU eager' if torch else 'PyTorch: not available (import torch failed); skipped'}"
          f", NumPy hand-written forward (W1)")
    print("# times per call; ratios are of medians: eager/this > 1 means this system is "
          "faster than graphcc eager")
    cases = [c for c in CASES if c[1] in models]
    results = []
    for case in cases:
        r = run_case(case, args, torch)
        print_case(r)
        results.append(r)
        sys.stdout.flush()

    print("\n## summary: median time per call (ms) and speedups (ratio of medians)")
    print(f"{'case':<10}{'eager':>10}{'hybrid':>10}{'torch':>10}{'numpy':>10}"
          f"{'hyb vs eager':>14}{'torch vs hyb':>14}{'numpy vs hyb':>14}")
    for r in results:
        st = r["stats"]

        def med(k):
            return st[k].median if k in st else float("nan")
        e, h, t, n = (med(k) for k in ("graphcc-eager", "graphcc-hybrid", "torch-eager",
                                       "numpy"))
        print(f"{r['case']:<10}{e * 1e3:10.3f}{h * 1e3:10.3f}{t * 1e3:10.3f}{n * 1e3:10.3f}"
              f"{fmt_ratio(e / h):>14}{fmt_ratio(h / t):>14}{fmt_ratio(h / n):>14}")
    print("  (hyb vs eager = eager/hybrid: > 1 means hybridizing helps; torch vs hyb = "
          "hybrid/torch: > 1 means PyTorch is faster)")

    first = []
    if not args.no_first_call:
        print(f"\n## first call of the hybridized model in a fresh process (trace + compile + "
              f"run), seconds, median of {args.first_reps} processes each")
        print("   cold: empty GRAPHCC_CACHE_DIR; warm: the same directory again (the interp "
              "backend keeps no kernel cache yet, so the two should match)")
        print(f"{'case':<10}{'import':>8}{'build':>8}{'cold 1st':>10}{'warm 1st':>10}"
              f"{'2nd call':>10}{'1st/2nd':>9}")
        seen = set()
        for case in cases:
            if args.quick and case[1] in seen:
                continue
            seen.add(case[1])
            colds, warms = [], []
            for _ in range(args.first_reps):
                with tempfile.TemporaryDirectory(prefix="graphcc-cache-") as d:
                    colds.append(first_call(case[0], d))
                    warms.append(first_call(case[0], d))
            errs = [r["error"] for r in colds + warms if "error" in r]
            if errs:
                first.append({"case": case[0], "cold": {"error": errs[0]},
                              "warm": {"error": errs[0]}})
                print(f"{case[0]:<10} error: {errs[0]}")
                continue
            cold = {k: float(np.median([r[k] for r in colds])) for k in colds[0] if k != "case"}
            warm = {k: float(np.median([r[k] for r in warms])) for k in warms[0] if k != "case"}
            first.append({"case": case[0], "cold": cold, "warm": warm, "runs": args.first_reps})
            print(f"{case[0]:<10}{cold['import_s']:8.2f}{cold['build_s']:8.2f}"
                  f"{cold['first_s']:10.3f}{warm['first_s']:10.3f}{warm['second_s']:10.4f}"
                  f"{warm['first_s'] / warm['second_s']:8.0f}x", flush=True)
    print(f"\n# {load_note()}; total {time.perf_counter() - t_start:.1f} s")
    if args.json:
        out = []
        for r in results:
            out.append({k: v for k, v in r.items() if k != "stats"} |
                       {"stats": {k: s.as_dict() for k, s in r["stats"].items()}})
        with open(args.json, "w") as f:
            json.dump({"cases": out, "first_call": first, "threads": _common.THREADS,
                       "torch": torch.__version__ if torch else None}, f, indent=1)
        print(f"JSON written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
