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

# XLA reads XLA_FLAGS once, when JAX's CPU client starts: set them before anything imports jax.
# Measured with jaxlib 0.10: neither caps the threads of XLA's dots (XLA sizes its CPU thread
# pools from the CPUs the process may run on; the header says how many). A first word without
# "--" is taken for a file of flags, so the dashed flags go first.
XLA_THREAD_FLAGS = ["--xla_cpu_multi_thread_eigen=false",
                    f"intra_op_parallelism_threads={_common.THREADS}"]


def _set_xla_flags():
    have = os.environ.get("XLA_FLAGS", "").split()
    names = {f.lstrip("-").split("=", 1)[0] for f in have}
    add = [f for f in XLA_THREAD_FLAGS if f.lstrip("-").split("=", 1)[0] not in names]
    dashed = [f for f in add if f.startswith("--")]
    plain = [f for f in add if not f.startswith("--")]
    words = dashed + have
    if words and words[0].startswith("--"):
        words += plain
    if add:
        os.environ["XLA_FLAGS"] = " ".join(words)


_set_xla_flags()

import numpy as np  # noqa: E402

from _common import fmt_ratio, header, interleaved, load_note, relerr  # noqa: E402

TOL = 1e-4
LR = 0.1
# (case id, workload, mode, batch)
CASES = [("W1-b1", "W1", "inference", 1), ("W1-b64", "W1", "inference", 64),
         ("W2", "W2", "training", 64), ("W3-inf", "W3", "inference", 64),
         ("W3-train", "W3", "training", 64), ("W4", "W4", "inference", 256),
         ("W5-inf", "W5", "inference", 256), ("W5-train", "W5", "training", 256)]
SPEED_MODELS = ("W1", "W2", "W3", "W4", "W5")
BASE, HYBRID = "graphcc-eager", "graphcc-cpu"
# the peers a case may lose without failing the run (an import or a compile that fails)
OPTIONAL = ("torch-eager", "torch-compile", "jax-jit")
COPY_BYTES = 256 * 2 ** 20        # the array np.copyto copies to measure the bandwidth


def _torch():
    try:
        import torch
    except Exception:                    # noqa: BLE001 - any failure: no torch peer
        return None
    torch.set_num_threads(_common.THREADS)
    return torch


def _jax():
    """(jax, None), or (None, why not)."""
    try:
        import jax
        jax.config.update("jax_platforms", "cpu")
        import jax.numpy  # noqa: F401
        jax.devices("cpu")
    except Exception as e:               # noqa: BLE001 - any failure: no JAX peer
        return None, _short(e)
    return jax, None


def _short(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:160] if text else ''}"


# ---------------------------------------------------------------- graphcc systems


class GraphccSystem:
    """One copy of the workload in graphcc: eager (``backend=None``) or hybridized with
    ``backend`` ("interp" or "cpu")."""

    def __init__(self, wid, mode, batch, backend=None):
        from graphcc import gluon, nd
        from models import make
        self.w = make(wid, batch)
        self.mode = mode
        self.x = self.w.nd_inputs()[0]
        self.label = nd.array(self.w.labels)
        self.block = self.w.net if mode == "inference" else self.w.train_block()
        if backend is not None:
            self.block.hybridize(backend=backend)
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


# ---------------------------------------------------------------- PyTorch peers


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


def _torch_with_loss(torch, net, loss):
    """``loss(net(x), y)`` as one module, so ``torch.compile`` traces forward and loss as one
    graph (and AOTAutograd compiles their backward)."""
    class WithLoss(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net
            self.loss = loss

        def forward(self, x, y):
            return self.loss(self.net(x), y)
    return WithLoss()


class TorchSystem:
    """PyTorch eager, or with ``compiled=True`` the same module under ``torch.compile``
    (training: module + loss compiled, ``loss.backward()``, an eager ``optim.SGD`` step)."""

    SETTLE = 2      # torch.compile: calls after the first, untimed, so recompiles are not timed

    def __init__(self, torch, wid, mode, batch, compiled=False):
        from models import make
        w = make(wid, batch)          # same seeds: the same weights, inputs and labels
        self.torch, self.mode, self.names = torch, mode, list(w.params)
        self.compiled = compiled
        self.m = torch_model(torch, wid, w.params)
        self.x = torch.from_numpy(w.inputs[0].copy())
        if mode == "training":
            self.y = torch.from_numpy(w.labels.astype(np.int64))
            self.opt = torch.optim.SGD(self.m.parameters(), lr=LR)
            self.loss = torch.nn.CrossEntropyLoss()
            step = _torch_with_loss(torch, self.m, self.loss)
            self.fn = torch.compile(step, dynamic=False) if compiled else step
        else:
            self.m.eval()
            self.fn = torch.compile(self.m, dynamic=False) if compiled else self.m

    def __call__(self):
        if self.mode == "inference":
            with self.torch.inference_mode():
                return self.fn(self.x)
        self.opt.zero_grad(set_to_none=True)
        loss = self.fn(self.x, self.y)
        loss.backward()
        self.opt.step()
        return loss

    def result(self):
        out = self()
        if self.mode == "inference":
            res = {"out": out.numpy().copy()}
        else:
            res = {"loss": np.array([out.item()])}
            for name, p in zip(self.names, self.m.parameters()):
                res[name] = p.detach().numpy().copy()
        return res

    def settle(self):
        if self.compiled:
            for _ in range(self.SETTLE):
                self()


# ---------------------------------------------------------------- JAX peer


def _jax_forward(jax, wid):
    """``f(params, x)`` of workload ``wid`` in jax.numpy; params in graphcc's registration
    order (Dense: weight (out, in), bias), for W4 (gamma, beta, scale, bias)."""
    jnp, lax = jax.numpy, jax.lax
    relu = jax.nn.relu

    def dense(h, w, b):
        return h @ w.T + b

    if wid in ("W1", "W2"):
        def f(p, x):
            h = relu(dense(x, p[0], p[1]))
            h = relu(dense(h, p[2], p[3]))
            return dense(h, p[4], p[5])
    elif wid == "W5":
        def f(p, x):
            h = x
            for k in range(0, len(p), 2):
                h = relu(dense(h, p[k], p[k + 1]))
            return h
    elif wid == "W3":
        def conv(h, w, b):
            h = lax.conv_general_dilated(h, w, (1, 1), "VALID",
                                         dimension_numbers=("NCHW", "OIHW", "NCHW"))
            return h + b[None, :, None, None]

        def pool(h):
            return lax.reduce_window(h, np.float32(-np.inf), lax.max, (1, 1, 2, 2),
                                     (1, 1, 2, 2), "VALID")

        def f(p, x):
            h = pool(relu(conv(x, p[0], p[1])))
            h = pool(relu(conv(h, p[2], p[3])))
            h = h.reshape(h.shape[0], -1)
            h = relu(dense(h, p[4], p[5]))
            return dense(h, p[6], p[7])
    elif wid == "W4":
        def f(p, x):
            gamma, beta, scale, bias = p
            mu = jnp.mean(x, axis=-1, keepdims=True)
            d = x - mu
            var = jnp.mean(d * d, axis=-1, keepdims=True)
            h = d * lax.rsqrt(var + np.float32(1e-5)) * gamma + beta
            return jax.nn.gelu(h, approximate=True) * scale + bias + x
    else:
        raise ValueError(wid)
    return f


class JaxSystem:
    """The workload in jax.numpy under ``jax.jit``: inference the forward; training the whole
    step (softmax cross-entropy averaged over the batch, as graphcc's summed per-sample loss
    with ``trainer.step(batch)`` amounts to; gradients; SGD update) in one jitted function that
    returns the new parameters and the loss."""

    def __init__(self, jax, wid, mode, batch):
        from models import make
        w = make(wid, batch)          # same seeds: the same weights, inputs and labels
        self.jax, self.mode = jax, mode
        if wid == "W4":
            by_suffix = {k.rsplit("_", 1)[-1]: k for k in w.params}
            self.names = [by_suffix[s] for s in ("gamma", "beta", "scale", "bias")]
        else:
            self.names = list(w.params)
        # copies: a donated buffer must not alias the NumPy arrays
        self.params = [jax.device_put(np.array(w.params[k], np.float32)) for k in self.names]
        self.x = jax.device_put(np.array(w.inputs[0], np.float32))
        f = _jax_forward(jax, wid)
        if mode == "inference":
            self.fn = jax.jit(f)
            return
        self.y = jax.device_put(w.labels.astype(np.int32))
        jnp = jax.numpy

        def loss_fn(p, x, y):
            logp = jax.nn.log_softmax(f(p, x), axis=-1)
            return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=-1))

        def step(p, x, y):
            loss, g = jax.value_and_grad(loss_fn)(p, x, y)
            return [a - np.float32(LR) * b for a, b in zip(p, g)], loss
        self.fn = jax.jit(step, donate_argnums=0)

    def __call__(self):
        if self.mode == "inference":
            return self.fn(self.params, self.x).block_until_ready()
        self.params, loss = self.fn(self.params, self.x, self.y)
        self.jax.block_until_ready((self.params, loss))
        return loss

    def result(self):
        out = self()
        if self.mode == "inference":
            return {"out": np.asarray(out).copy()}
        res = {"loss": np.array([float(out)])}
        for name, p in zip(self.names, self.params):
            res[name] = np.asarray(p).copy()
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


# ---------------------------------------------------------------- bandwidth floor (W4)


def copy_bandwidth(reps, nbytes=COPY_BYTES):
    """Bytes per second of ``np.copyto`` between two float32 arrays of ``nbytes`` each, counting
    bytes read + written (2 * nbytes per copy); the median of ``reps`` copies, the destination
    touched by one untimed copy first."""
    src = np.ones(nbytes // 4, np.float32)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        times.append(time.perf_counter() - t0)
    del src, dst
    t = float(np.median(times))
    return {"array_bytes": nbytes, "reps": reps, "median_s": t, "min_s": min(times),
            "bandwidth_Bps": 2 * nbytes / t}


def w4_floor(stats, out, reps):
    """W4's memory-bandwidth floor: bytes that must move (read x and the four (1024,) vectors,
    write the output) / the measured copy bandwidth; and graphcc-cpu's median against it."""
    from models import make
    w = make("W4")
    moved = {"read_x": int(w.inputs[0].nbytes),
             "read_params": int(sum(v.nbytes for v in w.params.values())),   # gamma beta scale bias
             "write_out": int(out.nbytes)}
    bw = copy_bandwidth(reps)
    total = sum(moved.values())
    floor = total / bw["bandwidth_Bps"]
    res = {"bytes": moved, "total_bytes": total, "copy": bw, "floor_s": floor}
    for name in (HYBRID, "graphcc-interp", "torch-compile", "jax-jit"):
        if name in stats:
            res[f"{name}_over_floor"] = stats[name].median / floor
    return res


# ---------------------------------------------------------------- one case


def run_case(case, args, torch, jax):
    cid, wid, mode, batch = case
    systems = {BASE: lambda: GraphccSystem(wid, mode, batch),
               "graphcc-interp": lambda: GraphccSystem(wid, mode, batch, "interp"),
               HYBRID: lambda: GraphccSystem(wid, mode, batch, "cpu")}
    if torch is not None:
        systems["torch-eager"] = lambda: TorchSystem(torch, wid, mode, batch)
        if not args.no_compile:
            systems["torch-compile"] = lambda: TorchSystem(torch, wid, mode, batch,
                                                           compiled=True)
    if jax is not None:
        systems["jax-jit"] = lambda: JaxSystem(jax, wid, mode, batch)
    if wid == "W1" and mode == "inference":
        systems["numpy"] = lambda: NumpyMLP(batch)
    built, check, first, failed = {}, {}, {}, {}
    for name, make_system in systems.items():
        try:
            s = make_system()
            t0 = time.perf_counter()
            check[name] = s.result()          # the first (tracing/compiling) call, checked
            first[name] = time.perf_counter() - t0
            if hasattr(s, "settle"):
                s.settle()
        except Exception as e:                # noqa: BLE001 - an optional peer may fail
            if name not in OPTIONAL:
                raise
            failed[name] = _short(e)
            check.pop(name, None)
            continue
        built[name] = s
    ref = check[BASE]
    errors, worst = {}, {}
    for name, res in check.items():
        if name == BASE:
            continue
        errors[name], worst[name] = max((relerr(res[k], ref[k]), k) for k in ref)
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
    r = {"case": cid, "model": wid, "mode": mode, "batch": batch, "errors": errors,
         "worst_key": worst, "excluded": bad, "failed": failed, "first_call_s": first,
         "stats": stats, "final_loss": final}
    if wid == "W4":
        r["bandwidth_floor"] = w4_floor(stats, ref["out"], 3 if args.quick else 7)
    return r


def print_case(r):
    st = r["stats"]
    base = st[BASE].median
    hyb = st[HYBRID].median if HYBRID in st else float("nan")
    errs = ", ".join(f"{k} {e:.1e}" for k, e in r["errors"].items())
    print(f"\n{r['case']} ({r['mode']}, batch {r['batch']}); agreement vs {BASE}: {errs}")
    for k, why in r["failed"].items():
        print(f"  {k}: skipped, it failed to build or run: {why}")
    for k, e in r["excluded"].items():
        print(f"  {k}: EXCLUDED, outputs disagree ({e:.2e} > {TOL}; largest in "
              f"{r['worst_key'][k]})")
        if r["mode"] == "training" and e < 10 * TOL:
            print("    (close to the tolerance: in a ReLU net, a pre-activation within rounding "
                  "of 0 that lands on the other side of the kink in one system changes that "
                  "sample's gradient below it by about this much)")
    print("  first call in this process, untimed in the figures below (s): " +
          ", ".join(f"{k} {v:.3g}" for k, v in r["first_call_s"].items()))
    if r["final_loss"]:
        print("  loss after the timed steps: " +
              ", ".join(f"{k} {v:.4g}" for k, v in r["final_loss"].items()) +
              " (only the first step is checked: over many steps the systems' trajectories "
              "drift apart, rounding at ReLU kinks amplified, without being wrong" +
              (f"; torch-compile took {TorchSystem.SETTLE} more untimed warm-up steps"
               if "torch-compile" in r["final_loss"] else "") + ")")
    print(f"  {'system':<16}{'median':>12} {'[min-max]':<26}{'eager/this':>11}{'cpu/this':>10}")
    for name, s in st.items():
        rng = f"[{s.min * 1e3:.3f}-{s.max * 1e3:.3f}] n={len(s)}"
        print(f"  {name:<16}{s.median * 1e3:9.3f} ms {rng:<26}"
              f"{fmt_ratio(base / s.median):>11}{fmt_ratio(hyb / s.median):>10}")
    if "bandwidth_floor" in r:
        print_floor(r["bandwidth_floor"], "  ")


def print_floor(fl, indent=""):
    b = fl["bytes"]
    cp = fl["copy"]
    over = fl.get(f"{HYBRID}_over_floor", float("nan"))
    print(f"{indent}memory-bandwidth floor: {fl['total_bytes'] / 1e6:.3f} MB must move (read x "
          f"{b['read_x']} B, gamma/beta/scale/bias {b['read_params']} B, write out "
          f"{b['write_out']} B) / copy bandwidth {cp['bandwidth_Bps'] / 1e9:.2f} GB/s "
          f"(np.copyto of {cp['array_bytes'] // 2 ** 20} MiB, read + write, median of "
          f"{cp['reps']}) = {fl['floor_s'] * 1e3:.4f} ms; {HYBRID} / floor = "
          f"{fmt_ratio(over)}")
    print(f"{indent}  (x and the output, 1 MiB each, can stay in cache between calls, so a "
          "system may come in under this DRAM floor)")


# ---------------------------------------------------------------- first call (child)


def _first_call_child(cid):
    """In a fresh process: import, build, time the first hybridized (cpu backend) call, then a
    second."""
    t0 = time.perf_counter()
    import graphcc  # noqa: F401
    t_import = time.perf_counter() - t0
    case = next(c for c in CASES if c[0] == cid)
    _, wid, mode, batch = case
    t0 = time.perf_counter()
    s = GraphccSystem(wid, mode, batch, "cpu")
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


def thread_notes(torch, jax):
    """Lines for the header: how each library's threads were set."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    lines = [f"# threads: {_common.THREADS} each. NumPy/OpenBLAS and graphcc's BLAS calls: "
             f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')} (set before NumPy is "
             "imported); graphcc's generated kernels are single-threaded"]
    if torch is not None:
        lines.append(f"#   PyTorch: torch.set_num_threads({_common.THREADS}) -> "
                     f"torch.get_num_threads() = {torch.get_num_threads()} (torch.compile's "
                     "kernels use the same OpenMP threads)")
    if jax is not None:
        lines.append(f"#   JAX: XLA_FLAGS='{os.environ.get('XLA_FLAGS', '')}' (set before jax "
                     f"is imported; they do not cap the threads of XLA's dots); XLA sizes its "
                     f"CPU thread pools from the CPUs this process may run on: {cpus}")
        if cpus and cpus > _common.THREADS:
            lines.append(f"#   warning: {cpus} CPUs are schedulable and XLA has no flag capping "
                         f"its pool, so jax-jit may use more than {_common.THREADS} threads "
                         f"(run under `taskset -c 0-{_common.THREADS - 1}` for a strict "
                         f"{_common.THREADS})")
    return "\n".join(lines)


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
    ap.add_argument("--no-torch", action="store_true",
                    help="leave PyTorch out (torch-eager and torch-compile)")
    ap.add_argument("--no-compile", action="store_true", help="leave torch.compile out")
    ap.add_argument("--no-jax", action="store_true", help="leave JAX (jax.jit) out")
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
    jax, jax_why = (None, "left out (--no-jax)") if args.no_jax else _jax()
    print(thread_notes(torch, jax))
    peers = [f"{BASE} (baseline)", "graphcc-interp (hybridize(backend='interp'))",
             f"{HYBRID} (hybridize(backend='cpu'); 'hybrid' below)"]
    notes = []
    if torch is not None:
        peers.append(f"torch-eager (PyTorch {torch.__version__} CPU)")
        if args.no_compile:
            notes.append("torch-compile: left out (--no-compile)")
        else:
            peers.append("torch-compile (torch.compile, inductor)")
    else:
        why = "left out (--no-torch)" if args.no_torch else "import torch failed"
        notes.append(f"torch-eager, torch-compile: {why}; skipped")
    if jax is not None:
        peers.append(f"jax-jit (JAX {jax.__version__}, jax.jit on the CPU)")
    else:
        notes.append(f"jax-jit: {jax_why}; skipped")
    peers.append("numpy (hand-written forward, W1)")
    print("# systems: " + ", ".join(peers))
    for note in notes:
        print(f"# note: {note}")
    print("# times per call; ratios are of medians: eager/this > 1 means this system is "
          "faster than graphcc eager, cpu/this > 1 that it is faster than graphcc-cpu")
    cases = [c for c in CASES if c[1] in models]
    results = []
    for case in cases:
        r = run_case(case, args, torch, jax)
        print_case(r)
        results.append(r)
        sys.stdout.flush()

    cols = [(BASE, "eager"), ("graphcc-interp", "interp"), (HYBRID, "cpu"),
            ("torch-eager", "torch"), ("torch-compile", "t.compile"), ("jax-jit", "jax"),
            ("numpy", "numpy")]
    print("\n## summary: median time per call (ms)")
    print(f"{'case':<10}" + "".join(f"{c:>11}" for _, c in cols))
    for r in results:
        st = r["stats"]
        print(f"{r['case']:<10}" + "".join(
            f"{st[k].median * 1e3:11.3f}" if k in st else f"{'-':>11}" for k, _ in cols))
    ratios = [("eager/interp", BASE, "graphcc-interp"), ("eager/cpu", BASE, HYBRID),
              ("interp/cpu", "graphcc-interp", HYBRID), ("cpu/torch", HYBRID, "torch-eager"),
              ("cpu/t.comp", HYBRID, "torch-compile"), ("cpu/jax", HYBRID, "jax-jit"),
              ("cpu/numpy", HYBRID, "numpy")]
    print("\n## summary: speedups (ratio of medians a/b: > 1 means b is faster than a)")
    print(f"{'case':<10}" + "".join(f"{c:>13}" for c, _, _ in ratios))
    for r in results:
        st = r["stats"]

        def med(k):
            return st[k].median if k in st else float("nan")
        print(f"{r['case']:<10}" + "".join(f"{fmt_ratio(med(a) / med(b)):>13}"
                                           for _, a, b in ratios))
    print("  (eager/cpu > 1: the cpu backend beats graphcc eager; cpu/jax > 1: jax.jit beats "
          "graphcc-cpu; n/a: the system was not run on that case)")
    for r in results:
        if "bandwidth_floor" in r:
            print(f"{r['case']}: ", end="")
            print_floor(r["bandwidth_floor"])
    excluded = [f"{r['case']} {k}" for r in results for k in r["excluded"]]
    if excluded:
        print(f"  EXCLUDED (outputs disagree): {', '.join(excluded)}")

    first = []
    if not args.no_first_call:
        print(f"\n## first call of the model hybridized with the cpu backend in a fresh process "
              f"(trace + compile + run), seconds, median of {args.first_reps} processes each")
        print("   cold: empty GRAPHCC_CACHE_DIR, every kernel compiled by Numba; warm: the same "
              "directory again, the kernels loaded from graphcc's on-disk cache, so warm < cold")
        print(f"{'case':<10}{'import':>8}{'build':>8}{'cold 1st':>10}{'warm 1st':>10}"
              f"{'2nd call':>10}{'cold/warm':>10}{'warm 1st/2nd':>13}")
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
            first.append({"case": case[0], "backend": "cpu", "cold": cold, "warm": warm,
                          "runs": args.first_reps})
            print(f"{case[0]:<10}{cold['import_s']:8.2f}{cold['build_s']:8.2f}"
                  f"{cold['first_s']:10.3f}{warm['first_s']:10.3f}{warm['second_s']:10.4f}"
                  f"{cold['first_s'] / warm['first_s']:9.1f}x"
                  f"{warm['first_s'] / warm['second_s']:12.0f}x", flush=True)
    print(f"\n# {load_note()}; total {time.perf_counter() - t_start:.1f} s")
    if args.json:
        out = []
        for r in results:
            stats = {k: s.as_dict() for k, s in r["stats"].items()}
            out.append({k: v for k, v in r.items() if k != "stats"} | {"stats": stats})
        with open(args.json, "w") as f:
            json.dump({"cases": out, "first_call": first, "threads": _common.THREADS,
                       "baseline": BASE, "hybrid": HYBRID,
                       "torch": torch.__version__ if torch else None,
                       "torch_compile": bool(torch) and not args.no_compile,
                       "jax": jax.__version__ if jax else None,
                       "xla_flags": os.environ.get("XLA_FLAGS") if jax else None},
                      f, indent=1)
        print(f"JSON written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
