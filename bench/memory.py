#!/usr/bin/env python
"""Memory plans of the benchmark zoo, inference and training step, every planner variant.

    python bench/memory.py                      # W1,W3,W4,W5,W6,W7,W8 (a few minutes)
    python bench/memory.py --models W5,W6 --explain --json out.json --plot out.png
    python bench/memory.py --quick --models W1  # smoke run

For each model and mode (inference: a hybridized call; training step: net + loss hybridized
as one block, forward under ``autograd.record()`` then ``backward()``) it prints the plan's
bytes (graphcc's ``MemoryReport``; internal memory only: activations, values saved for the
backward, gradients of intermediates; parameters, their gradients and the caller's inputs are
not counted): naive, inplace, share, inplace+share (MXNet's NNVM algorithm, = ``mxnet``),
arena (graphcc's default), recompute (the training plan of ``hybridize(recompute=True)``), the
peak-live lower bound, and the ratios naive/arena, arena/peak-live, mxnet/arena and
arena/recompute.

Then, per model, in a fresh subprocess each: the measured peak RSS growth of one training step
(the peak RSS, VmHWM of ``/proc/self/status`` -- the counter ``resource.getrusage``'s
ru_maxrss reads, minus what ru_maxrss inherits from the parent across exec -- after resetting
it through ``/proc/self/clear_refs``; glibc told to return freed memory, see ``measured``) and the peak of
NumPy's traced allocations in one step (``tracemalloc``: NumPy registers its buffers with it),
without and with recompute. Then the recompute time overhead: median training-step time with
and without recompute, interleaved, ``--reps`` (default 20) each. Last, the memory targets, PASS or
FAIL each.
"""
from __future__ import annotations

import _common  # noqa: F401  (threads + sys.path; before numpy)

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

from _common import fmt_ratio, header, interleaved, load_note, relerr

DEFAULT_MODELS = ("W1", "W3", "W4", "W5", "W6", "W7", "W8")
MIB = 2 ** 20
DEEP = ("W5", "W6")        # the "report memory" workloads of BENCHMARKS.md: the deep-net targets


# ---------------------------------------------------------------- plans


def _exe(block):
    return block._cached.last.exe


def _report(block):
    """(report dict, error text): memory_report() of the block's last call. When the report's
    own recompute variant fails, the report is made without it."""
    try:
        return block.memory_report().as_dict(), None
    except Exception as e:              # noqa: BLE001 - reported, not hidden
        from graphcc.passes.memreport import report_for
        exe = _exe(block)
        rep = report_for(exe.graph, exe.plan, None).as_dict()
        return rep, f"{type(e).__name__}: {str(e).splitlines()[0]}"


def _train_step(block, x, label):
    from graphcc import autograd
    with autograd.record():
        loss = block(x, label)
    loss.backward()
    return loss


def _grads(net):
    """Parameter gradients in registration order (a second copy of a model gets other
    parameter names: the prefixes count instances)."""
    return [p.grad().asnumpy().copy() for p in net.collect_params().values()
            if p.grad_req != "null"]


def plans(wid: str, explain: int = 0) -> dict:
    """Every plan of one model: inference, training, training with recompute."""
    from graphcc import nd
    from models import make
    out = {"model": wid}
    w = make(wid)
    out["title"] = w.title
    x = w.nd_inputs()[0]
    label = nd.array(w.labels)

    # inference: the hybridized net, not recording
    w.net.hybridize()
    w.net(x).wait_to_read()
    out["inference"], _ = _report(w.net)
    if explain:
        out["inference_explain"] = explain_plan(_exe(w.net), explain)

    # training step: net + loss in one hybridized block
    step = w.train_block()
    step.hybridize()
    _train_step(step, x, label)
    out["training"], err = _report(step)
    if err:
        out["training"]["variants"]["recompute"] = None
        out["report_recompute_error"] = err
    if explain:
        out["training_explain"] = explain_plan(_exe(step), explain)
    g_plain = _grads(w.net)

    # training step with recompute (a second copy of the model: same seeds, same data)
    w2 = make(wid)
    step2 = w2.train_block()
    step2.hybridize(recompute=True)
    try:
        _train_step(step2, x, label)
        out["recompute"], _ = _report(step2)
        g_rec = _grads(w2.net)
        out["recompute_grad_relerr"] = max(relerr(a, b) for a, b in zip(g_rec, g_plain))
        if explain:
            out["recompute_explain"] = explain_plan(_exe(step2), explain)
    except Exception as e:              # noqa: BLE001
        out["recompute"] = None
        out["recompute_error"] = f"{type(e).__name__}: {' / '.join(str(e).splitlines())}"
    return out


# ---------------------------------------------------------------- where the memory goes


def explain_plan(exe, top: int = 8) -> dict:
    """The storages alive at the plan's peak step, largest first, by phase: 'fwd' (forward
    temporaries), 'saved' (forward values kept for the backward), 'bwd' (backward values),
    'out' (graph outputs)."""
    from graphcc.ir.phases import forward_region
    from graphcc.passes.planner import plan_memory
    g = exe.graph
    plan = exe.plan or plan_memory(g, "arena")
    fwd = forward_region(g)
    k = exe.program.k
    n = plan.n_steps or len(g.nodes)
    delta = np.zeros(n + 2, np.int64)
    for s in plan.storages:
        delta[s.start] += s.size
        delta[min(s.end, n) + 1] -= s.size
    live = np.cumsum(delta)
    peak_step = int(np.argmax(live))
    outputs = set(g.outputs)
    rows, by_phase = [], {}
    for s in plan.storages:
        if not (s.start <= peak_step <= s.end):
            continue
        node = g.nodes[s.root]
        if s.root in outputs and s.end >= len(g.nodes):
            phase = "out"
        elif s.root in fwd and s.end >= k:
            phase = "saved"
        elif s.root in fwd:
            phase = "fwd"
        else:
            phase = "bwd"
        recomputed = "(recomputed)" in node.loc
        by_phase[phase] = by_phase.get(phase, 0) + s.size
        rows.append({"root": s.root, "op": node.op, "shape": list(node.shape),
                     "bytes": s.size, "steps": [s.start, s.end], "phase": phase,
                     "members": len(s.members), "recomputed": recomputed})
    rows.sort(key=lambda r: -r["bytes"])
    ops_bytes: dict = {}
    for r in rows:
        key = f"{r['phase']}:{r['op']}"
        ops_bytes[key] = ops_bytes.get(key, 0) + r["bytes"]
    return {"peak_step": peak_step, "n_steps": n, "split": k, "live_at_peak": int(live[peak_step]),
            "arena_bytes": plan.arena_bytes, "storages": len(plan.storages),
            "by_phase": by_phase,
            "by_phase_op": dict(sorted(ops_bytes.items(), key=lambda kv: -kv[1])),
            "top": rows[:top], "n_alive": len(rows)}


def print_explain(name: str, ex: dict):
    print(f"  {name}: peak at step {ex['peak_step']} of {ex['n_steps']} (forward/backward split "
          f"at {ex['split']}), {ex['live_at_peak'] / MIB:.3f} MiB live in {ex['n_alive']} "
          f"storages; arena {ex['arena_bytes'] / MIB:.3f} MiB, {ex['storages']} storages")
    phases = ", ".join(f"{p} {b / MIB:.3f}" for p, b in
                       sorted(ex["by_phase"].items(), key=lambda kv: -kv[1]))
    print(f"    by phase (MiB): {phases}")
    ops_ = ", ".join(f"{k} {b / MIB:.3f}" for k, b in list(ex["by_phase_op"].items())[:8])
    print(f"    by phase:op (MiB): {ops_}")
    for r in ex["top"]:
        rc = " recomputed" if r["recomputed"] else ""
        print(f"    %{r['root']:<5} {r['op']:<22} {str(tuple(r['shape'])):<22} "
              f"{r['bytes'] / MIB:8.3f} MiB  steps {r['steps'][0]}-{r['steps'][1]}  "
              f"{r['phase']}{rc}")


# ---------------------------------------------------------------- measured memory (child)


def _status_kb(key: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _rss_now_kb() -> int:
    v = _status_kb("VmRSS")
    if v is not None:
        return v
    import resource                                     # no /proc: the peak is all we have
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _peak_rss_kb() -> int:
    """The process's peak RSS. Linux: VmHWM from /proc/self/status, the counter getrusage's
    ru_maxrss reads, but without what ru_maxrss carries over from the parent across exec (a
    subprocess of a big parent would otherwise start with the parent's peak)."""
    v = _status_kb("VmHWM")
    if v is not None:
        return v
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss       # KiB on Linux


def _reset_hwm() -> bool:
    """Reset the peak RSS to the current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _child(wid: str, recompute: bool) -> dict:
    """Run in a fresh process: one training step (trace + compile + run), then one steady
    step measured by the peak RSS (high-water mark reset first), then one traced by
    tracemalloc."""
    import tracemalloc
    from graphcc import nd
    from models import make
    w = make(wid)
    x = w.nd_inputs()[0]
    label = nd.array(w.labels)
    step = w.train_block()
    step.hybridize(recompute=bool(recompute))
    res = {"model": wid, "recompute": recompute}
    before = _rss_now_kb()
    res["hwm_reset"] = _reset_hwm()
    _train_step(step, x, label)
    res["first_step_rss_growth_kib"] = max(_peak_rss_kb() - before, 0)
    before = _rss_now_kb()
    _reset_hwm()
    _train_step(step, x, label)
    res["steady_step_rss_growth_kib"] = max(_peak_rss_kb() - before, 0)
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    _train_step(step, x, label)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    res["steady_step_tracemalloc_peak_bytes"] = peak - base
    res["planned_bytes"] = _report(step)[0]["planned_bytes"]
    res["param_grad_bytes"] = sum(p.data().asnumpy().nbytes for p in
                                  w.net.collect_params().values() if p.grad_req != "null")
    return res


def measured(wid: str, recompute: bool, timeout=600) -> dict:
    env = dict(os.environ)
    # make freed memory go back to the OS and large arrays come from mmap, so the steady
    # step's RSS growth is the step's own peak rather than reuse of the heap's free lists
    env.update(MALLOC_MMAP_THRESHOLD_="131072", MALLOC_TRIM_THRESHOLD_="131072")
    cmd = [sys.executable, os.path.abspath(__file__), "--child", wid, "--threads",
           str(_common.THREADS)] + (["--child-recompute"] if recompute else [])
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": "timeout"}
    if p.returncode != 0:
        last = [ln for ln in p.stderr.strip().splitlines() if ln.strip()]
        return {"error": last[-1] if last else f"exit status {p.returncode}"}
    return json.loads(p.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- recompute time


def recompute_timing(wid: str, reps: int) -> dict:
    from graphcc import nd
    from models import make
    blocks = {}
    for name, rc in (("plain", None), ("recompute", True)):
        w = make(wid)
        step = w.train_block()
        step.hybridize(recompute=rc)
        blocks[name] = (step, w.nd_inputs()[0], nd.array(w.labels))
    fns = {name: (lambda b=b: _train_step(*b).wait_to_read()) for name, b in blocks.items()}
    try:
        stats = interleaved(fns, reps, warmup=2)
    except Exception as e:              # noqa: BLE001
        return {"error": f"{type(e).__name__}: {str(e).splitlines()[0]}"}
    # rounds are aligned (the same index ran back to back): the median of per-round ratios is
    # a second estimate, robust to the machine's load drifting during the run
    paired = float(np.median([r / p for r, p in zip(stats["recompute"].raw,
                                                     stats["plain"].raw)]))
    return {k: s.as_dict() for k, s in stats.items()} | {
        "ratio": stats["recompute"].median / stats["plain"].median, "paired_ratio": paired,
        "_stats": stats}


# ---------------------------------------------------------------- output


def _mib(b):
    return "error" if b is None else f"{b / MIB:9.3f}"


def print_tables(results):
    for mode in ("inference", "training"):
        cols = ["naive", "inplace", "share", "mxnet", "arena"]
        if mode == "training":
            cols.append("recompute")
        title = ("inference (one hybridized call)" if mode == "inference" else
                 "training step (forward under record + backward; net + loss in one graph)")
        print(f"\n## {title}: plan bytes, MiB ('mxnet' = inplace+share, MXNet's planner; "
              f"'arena' = graphcc's default)")
        head = f"{'model':<6}" + "".join(f"{c:>11}" for c in cols) + f"{'peak-live':>11}" + \
            f"{'naive/arena':>12}{'arena/peak':>11}{'mxnet/arena':>12}"
        if mode == "training":
            head += f"{'arena/recomp':>13}"
        print(head)
        for r in results:
            rep = r[mode]
            v = rep["variants"]
            vals = {c: v.get(c) for c in cols if c != "recompute"}
            if mode == "training":
                vals["recompute"] = r["recompute"]["planned_bytes"] if r.get("recompute") \
                    else None
            line = f"{r['model']:<6}" + "".join(f"{_mib(vals[c]):>11}" for c in cols)
            line += f"{_mib(rep['peak_live_bytes']):>11}"
            arena, mx = rep["planned_bytes"], v["mxnet"]
            line += f"{fmt_ratio(rep['naive_bytes'] / arena):>12}"
            line += f"{rep['planned_bytes'] / max(rep['peak_live_bytes'], 1):>10.3f} "
            line += f"{mx / arena:>11.3f} "
            if mode == "training":
                rc = vals["recompute"]
                line += f"{fmt_ratio(arena / rc) if rc else 'error':>13}"
            print(line)
    notes = [(r["model"], r["recompute_error"]) for r in results if r.get("recompute_error")]
    for m, e in notes:
        print(f"  {m}: hybridize(recompute=True) failed: {e}")
    for r in results:
        if r.get("report_recompute_error") and not r.get("recompute_error"):
            print(f"  {r['model']}: memory_report()'s recompute variant failed: "
                  f"{r['report_recompute_error']}")
    errs = [f"{r['model']} {r['recompute_grad_relerr']:.1e}" for r in results
            if r.get("recompute_grad_relerr") is not None]
    if errs:
        print("  recompute vs plain parameter gradients, max normwise relative error: " +
              ", ".join(errs))


def check_targets(results, timings) -> list:
    """[(target, scope, ok, detail)]"""
    out = []
    by = {r["model"]: r for r in results}
    for m in DEEP:
        if m not in by:
            continue
        inf = by[m]["inference"]
        q = inf["naive_bytes"] / inf["planned_bytes"]
        out.append(("inference planned <= naive/4", m, q >= 4, f"naive/planned {q:.2f}"))
        s = inf["planned_bytes"] / inf["peak_live_bytes"] - 1
        out.append(("inference planned within 10% of peak-live", m, s <= 0.10,
                    f"{s * 100:.1f}% above"))
    for r in results:
        tr = r["training"]
        q = tr["naive_bytes"] / tr["planned_bytes"]
        out.append(("training planned <= naive/2", r["model"], q >= 2, f"naive/planned {q:.2f}"))
    for r in results:
        m = r["model"]
        target = m in DEEP          # elsewhere the figure is printed as "info", not judged

        def judged(ok):
            return ok if target else None
        rc = r.get("recompute")
        if rc is None:
            out.append(("recompute a further >= 2x", m, judged(False),
                        r.get("recompute_error", "no recompute plan")))
        else:
            q = r["training"]["planned_bytes"] / rc["planned_bytes"]
            out.append(("recompute a further >= 2x", m, judged(q >= 2),
                        f"arena/recompute {q:.2f}"))
        t = timings.get(m)
        if t is None:
            continue
        if "error" in t:
            out.append(("recompute <= 35% extra time", m, judged(False), t["error"]))
        else:
            out.append(("recompute <= 35% extra time", m, judged(t["ratio"] <= 1.35),
                        f"time ratio {t['ratio']:.3f} (median {t['recompute']['median_s'] * 1e3:.1f}"
                        f" vs {t['plain']['median_s'] * 1e3:.1f} ms)"))
    worse, better = [], []
    for r in results:
        for mode in ("inference", "training"):
            rep = r[mode]
            a, mx = rep["variants"]["arena"], rep["variants"]["mxnet"]
            if a > mx:
                worse.append(f"{r['model']} {mode}")
            if a < mx:
                better.append(f"{r['model']} {mode} ({mx / a:.4f}x)")
    out.append(("arena never worse than mxnet", "all", not worse,
                "worse on " + ", ".join(worse) if worse else "never worse"))
    out.append(("arena better than mxnet on some", "all", bool(better),
                "better on " + ", ".join(better) if better else "equal everywhere"))
    return out


def plot(results, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"--plot {path}: matplotlib is not installed (pip install 'graphcc[bench]'); "
              "no plot written")
        return
    variants = ["naive", "inplace", "share", "mxnet", "arena", "recompute", "peak-live"]
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    for ax, mode in zip(axes, ("inference", "training")):
        names = [r["model"] for r in results]
        xs = np.arange(len(names))
        vs = [v for v in variants if mode == "training" or v != "recompute"]
        width = 0.8 / len(vs)
        for k, v in enumerate(vs):
            ys = []
            for r in results:
                rep = r[mode]
                if v == "peak-live":
                    b = rep["peak_live_bytes"]
                elif v == "recompute":
                    b = r["recompute"]["planned_bytes"] if r.get("recompute") else 0
                else:
                    b = rep["variants"][v]
                ys.append(b / MIB)
            ax.bar(xs + (k - len(vs) / 2 + 0.5) * width, ys, width, label=v,
                   color=f"C{variants.index(v)}")
        ax.set_xticks(xs, names)
        ax.set_yscale("log")
        ax.set_ylabel("MiB (log)")
        ax.set_title(f"graphcc memory plan, {mode}")
    for ax in axes:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"plot written to {path}")


# ---------------------------------------------------------------- main


def main(argv=None):
    from models import parse_models
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", help=f"comma-separated ids (default {','.join(DEFAULT_MODELS)})")
    ap.add_argument("--json", help="write every figure to this JSON file")
    ap.add_argument("--plot", help="write a bar chart of the variants (needs matplotlib)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 3 timing repetitions (figures not meaningful)")
    ap.add_argument("--reps", type=int, default=None,
                    help="interleaved training steps timed per variant (default 20; quick 3)")
    ap.add_argument("--no-rss", action="store_true", help="skip the subprocess measurements")
    ap.add_argument("--no-time", action="store_true", help="skip the recompute timing")
    ap.add_argument("--time-models", help="models whose recompute overhead is timed (default: "
                    "the selected ones among W5,W6, the deep-net targets; else all selected)")
    ap.add_argument("--explain", type=int, nargs="?", const=8, default=0,
                    help="print the storages alive at each plan's peak (top N, default 8)")
    ap.add_argument("--threads", type=int, default=2, help="BLAS/OpenMP threads (default 2)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--child-recompute", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child, args.child_recompute)))
        return 0
    models = parse_models(args.models, DEFAULT_MODELS)
    reps = args.reps or (3 if args.quick else 20)
    t_start = time.perf_counter()
    print(header("graphcc memory plans (bench/memory.py)"))

    results = []
    for m in models:
        t0 = time.perf_counter()
        r = plans(m, args.explain)
        r["plan_seconds"] = time.perf_counter() - t0
        results.append(r)
        print(f"# planned {m} ({r['title']}) in {r['plan_seconds']:.1f} s", flush=True)
    print_tables(results)
    if args.explain:
        print("\n## where the memory goes: storages alive at each plan's peak step")
        for r in results:
            for key in ("inference_explain", "training_explain", "recompute_explain"):
                if key in r:
                    print_explain(f"{r['model']} {key.split('_')[0]}", r[key])

    if not args.no_rss:
        print("\n## measured in a fresh subprocess per row: one training step (net + loss, "
              "forward under record + backward)")
        print("   RSS: growth of the peak RSS (VmHWM of /proc/self/status, what getrusage's "
              "ru_maxrss reads) over one steady step, the peak reset first (/proc/self/clear_refs)")
        print("   (MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_=128 KiB so freed memory "
              "leaves the process); tracemalloc: peak of NumPy's traced")
        print("   allocations over one steady step; first step: peak RSS growth over the first "
              "step (trace + compile + run); MiB")
        print("   params: bytes of the parameter gradients (outside the plan; the cpu backend "
              "writes them straight into the parameters' gradient buffers, so a steady step "
              "allocates none)")
        print(f"{'model':<6}{'variant':<11}{'planned':>10}{'params':>10}{'RSS step':>10}"
              f"{'tracemalloc':>12}{'RSS/plan':>10}{'first step':>11}")
        for r in results:
            r["measured"] = {}
            for rc in (False, True):
                name = "recompute" if rc else "plain"
                res = measured(r["model"], rc)
                r["measured"][name] = res
                if "error" in res:
                    print(f"{r['model']:<6}{name:<11}  error: {res['error']}")
                    continue
                pl = res["planned_bytes"]
                rss = res["steady_step_rss_growth_kib"] * 1024
                note = "" if res["hwm_reset"] else "  (high-water mark not reset: lower bound)"
                print(f"{r['model']:<6}{name:<11}{pl / MIB:10.3f}"
                      f"{res['param_grad_bytes'] / MIB:10.3f}{rss / MIB:10.3f}"
                      f"{res['steady_step_tracemalloc_peak_bytes'] / MIB:12.3f}"
                      f"{rss / max(pl, 1):9.2f}x"
                      f"{res['first_step_rss_growth_kib'] / 1024:11.3f}{note}", flush=True)

    timings = {}
    if not args.no_time:
        if args.time_models:
            timed = parse_models(args.time_models)
        else:
            timed = [m for m in models if m in DEEP] or list(models)
        print(f"\n## recompute time overhead: training step (forward+backward), median "
              f"[min-max] of {reps} interleaved steps each")
        for m in timed:
            t = recompute_timing(m, reps)
            timings[m] = t
            if "error" in t:
                print(f"{m:<6} error: {t['error']}")
                continue
            st = t.pop("_stats")
            print(f"{m:<6} plain {st['plain'].fmt()}   recompute "
                  f"{st['recompute'].fmt()}   ratio of medians {t['ratio']:.3f} (median of "
                  f"per-round ratios {t['paired_ratio']:.3f})", flush=True)

    print(f"\n## targets (the recompute targets are judged on {', '.join(DEEP)}, the deep "
          "nets; 'info' rows show the same figure elsewhere)")
    targets = check_targets(results, timings)
    for name, scope, ok, detail in targets:
        status = "info" if ok is None else ("PASS" if ok else "FAIL")
        print(f"{status:<5} {name:<44} {scope:<6} {detail}")
    n_pass = sum(1 for t in targets if t[2] is True)
    n_fail = sum(1 for t in targets if t[2] is False)
    print(f"targets: {n_pass} PASS, {n_fail} FAIL")
    if args.quick:
        print("(--quick: few repetitions; the timing targets are not meaningful)")
    print(f"# {load_note()}; total {time.perf_counter() - t_start:.1f} s")

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": results, "recompute_timing": timings,
                       "targets": [{"target": n, "model": s, "pass": ok, "detail": d}
                                   for n, s, ok, d in targets],
                       "threads": _common.THREADS}, f, indent=1, default=str)
        print(f"JSON written to {args.json}")
    if args.plot:
        plot(results, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
