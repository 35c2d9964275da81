"""How fast matcalc's generated Hessians and Hessian-vector products run, against jax and PyTorch.

    python benchmarks/hessian.py [--runs 20] [--rounds 3] [--threads 1] [--cases xAx,logistic,...]

Cases (issue 13): ``xᵀAx`` (n = 2048) w.r.t. x; logistic regression (X 2048×256)
w.r.t. w; ``logsumexp(X w)`` (X 2048×256) w.r.t. w; softmax cross-entropy of one
example w.r.t. a 10×256 weight matrix; ``‖R − U Vᵀ‖²_F`` (R 128×256, rank 16)
w.r.t. the matrix U; a two-layer tanh network's squared loss w.r.t. its first
weight matrix (32×16).

Methods, each timed in its OWN subprocess (importing torch slows NumPy in the
same process), float64:

- ``matcalc``  the generated ``value_grad_and_hessian`` (value, gradient AND Hessian)
  and ``hvp``
- ``jax``      ``jax.jit(jax.hessian(f))`` and ``jax.jit`` of ``jax.jvp(jax.grad(f))``
- ``torch``    ``torch.func.hessian(f)`` and double backward
  (``autograd.grad(autograd.grad(f, w, create_graph=True), w, v)``)

Each process checks its results against matcalc's (the parent compares
fingerprints), warms up, then times ``--runs`` calls; the table shows the
median [min–max] over all processes, and matcalc's ratio to each peer (below
1 is faster). Single-threaded by default (BLAS env variables, XLA's Eigen pool
off, ``torch.set_num_threads(1)``, the process pinned to one core).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
METHODS = ["matcalc", "jax", "torch"]
KINDS = ["hessian", "hvp"]

#: name -> (model, wrt, sizes)
CASES = {
    "xAx": ("x: vector(n); A: matrix(n, n); f = x'*A*x", "x", {"n": 2048}),
    "logistic": (
        "X: matrix(n, k); y: vector(n); w: vector(k); p = sigmoid(X*w); "
        "f = -sum(y .* log(p) + (1 - y) .* log(1 - p))",
        "w",
        {"n": 2048, "k": 256},
    ),
    "logsumexp": ("X: matrix(n, k); w: vector(k); f = logsumexp(X*w)", "w", {"n": 2048, "k": 256}),
    "softmax-xent": (
        "x: vector(n); W: matrix(c, n); y: vector(c); p = softmax(W*x); f = -y'*log(p)",
        "W",
        {"n": 256, "c": 10},
    ),
    "low-rank": ("R: matrix(m, n); U: matrix(m, k); V: matrix(n, k); f = normF(R - U*V')^2", "U",
                 {"m": 128, "n": 256, "k": 16}),
    "tanh-net": (
        "x: vector(n); W1: matrix(h, n); W2: matrix(c, h); y: vector(c); a = tanh(W1*x); "
        "f = 1/2*sum((W2*a - y).^2)",
        "W1",
        {"n": 16, "h": 32, "c": 10},
    ),
}


def make_inputs(case: str) -> dict:
    import numpy as np

    rng = np.random.default_rng(0)
    _, _, s = CASES[case]
    if case == "xAx":
        return {"x": rng.normal(size=s["n"]), "A": rng.normal(size=(s["n"], s["n"]))}
    if case == "logistic":
        n, k = s["n"], s["k"]
        return {"X": rng.normal(size=(n, k)) / 16, "y": (rng.random(n) < 0.5).astype(float),
                "w": rng.normal(size=k)}
    if case == "logsumexp":
        return {"X": rng.normal(size=(s["n"], s["k"])) / 16, "w": rng.normal(size=s["k"])}
    if case == "softmax-xent":
        y = np.zeros(s["c"])
        y[3] = 1.0
        return {"x": rng.normal(size=s["n"]), "W": rng.normal(size=(s["c"], s["n"])) / 16, "y": y}
    if case == "low-rank":
        m, n, k = s["m"], s["n"], s["k"]
        return {"R": rng.normal(size=(m, n)), "U": rng.normal(size=(m, k)), "V": rng.normal(size=(n, k))}
    n, h, c = s["n"], s["h"], s["c"]
    return {"x": rng.normal(size=n), "W1": rng.normal(size=(h, n)) / 4, "W2": rng.normal(size=(c, h)) / 6,
            "y": rng.normal(size=c)}


def loss(case: str, xp, inputs: dict):
    """The function of the variable, written with ``xp`` (jax.numpy or torch)."""
    v = CASES[case][1]
    if case == "xAx":
        return v, lambda x: x @ (inputs["A"] @ x)
    if case == "logistic":
        def f(w):
            p = 1.0 / (1.0 + xp.exp(-(inputs["X"] @ w)))
            y = inputs["y"]
            return -xp.sum(y * xp.log(p) + (1.0 - y) * xp.log(1.0 - p))
        return v, f
    if case == "logsumexp":
        def f(w):
            z = inputs["X"] @ w
            m = z.max()
            return m + xp.log(xp.sum(xp.exp(z - m)))
        return v, f
    if case == "softmax-xent":
        def f(W):
            z = W @ inputs["x"]
            z = z - z.max()
            logp = z - xp.log(xp.sum(xp.exp(z)))
            return -(inputs["y"] @ logp)
        return v, f
    if case == "low-rank":
        def f(U):
            r = inputs["R"] - U @ inputs["V"].T
            return xp.sum(r * r)
        return v, f

    def f(W1):
        a = xp.tanh(W1 @ inputs["x"])
        r = inputs["W2"] @ a - inputs["y"]
        return 0.5 * xp.sum(r * r)
    return v, f


def build(method: str, kind: str, case: str, inputs: dict, direction):
    """A callable taking no arguments that returns the Hessian (2-D) or the HVP (variable's shape)."""
    import numpy as np

    model, wrt, _ = CASES[case]
    if method == "matcalc":
        import matcalc

        h = matcalc.hessian(model, wrt)
        if kind == "hessian":
            fn = h.to_function("value_grad_and_hessian")
            return lambda: fn(**inputs)[-1]
        fn = h.to_function("hvp")
        return lambda: fn(**inputs, **{"d" + wrt: direction})[0]
    if method == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        consts = {k: jax.device_put(v) for k, v in inputs.items()}
        name, f = loss(case, jnp, consts)
        x0 = consts[name]
        size = x0.size
        if kind == "hessian":
            hess = jax.jit(jax.hessian(f))

            def run():
                return np.asarray(jax.block_until_ready(hess(x0))).reshape(size, size, order="C")
            return run
        hvp = jax.jit(lambda x, v: jax.jvp(jax.grad(f), (x,), (v,))[1])
        d = jax.device_put(direction)
        return lambda: np.asarray(jax.block_until_ready(hvp(x0, d)))
    if method == "torch":
        import torch

        consts = {k: torch.from_numpy(v) for k, v in inputs.items()}
        name, f = loss(case, torch, consts)
        x0 = consts[name]
        if kind == "hessian":
            import torch.func

            hess = torch.func.hessian(f)
            size = x0.numel()
            return lambda: hess(x0).reshape(size, size).numpy()
        d = torch.from_numpy(direction)

        def run():
            x = x0.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(f(x), x, create_graph=True)
            (hv,) = torch.autograd.grad(g, x, grad_outputs=d)
            return hv.numpy()
        return run
    raise ValueError(method)


def fingerprint(result) -> list[float]:
    """Numbers that identify a result whatever order its entries are in (peers flatten a
    matrix variable row-major, matcalc's ``vec`` is column-major)."""
    import numpy as np

    a = np.asarray(result, dtype=float)
    return [float(np.linalg.norm(a)), float(a.sum()), float(np.abs(a).max())]


def pin_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


#: A process stops timing after this many seconds once it has ``MIN_RUNS`` calls (torch's
#: Hessian of xᵀAx at n = 2048 takes about 16 s a call).
BUDGET_SECONDS = 30.0
MIN_RUNS = 5


def samples(fn, runs: int, warmup: int = 3) -> list[float]:
    """Wall times in ms: ``warmup`` calls (one if a call takes over a second), then ``runs``."""
    t0 = time.perf_counter()
    fn()
    if time.perf_counter() - t0 < 1.0:
        for _ in range(warmup - 1):
            fn()
    out: list[float] = []
    start = time.perf_counter()
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1e3)
        if len(out) >= MIN_RUNS and time.perf_counter() - start > BUDGET_SECONDS:
            break
    return out


def worker(method: str, kind: str, case: str, threads: int, runs: int) -> dict:
    import numpy as np

    if threads == 1:
        pin_one_core()
    if method == "torch":
        import torch

        torch.set_num_threads(threads)
    inputs = make_inputs(case)
    wrt = CASES[case][1]
    direction = np.random.default_rng(1).normal(size=inputs[wrt].shape)
    try:
        fn = build(method, kind, case, inputs, direction)
    except ImportError as e:
        return {"missing": str(e)}
    result = fn()
    return {"time": samples(fn, runs), "check": fingerprint(result)}


def thread_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    if threads == 1:
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false").strip()
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def spawn(method: str, kind: str, case: str, threads: int, runs: int) -> dict:
    cmd = [sys.executable, __file__, "--worker", method, "--kind", kind, "--case", case,
           "--threads", str(threads), "--runs", str(runs)]
    run = subprocess.run(cmd, env=thread_env(threads), capture_output=True, text=True)
    if run.returncode != 0:
        return {"error": (run.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(run.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20, help="timed calls per process")
    ap.add_argument("--rounds", type=int, default=3, help="processes per method, interleaved")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--kind", help=argparse.SUPPRESS)
    ap.add_argument("--case", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.kind, args.case, args.threads, args.runs)))
        return
    methods = [m.strip() for m in args.methods.split(",")]
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    print(f"{args.threads} thread(s), float64; {args.rounds} processes per method, interleaved; "
          f"{args.runs} timed calls each after 3 warm-up calls")
    print("ms = median [min–max]; matcalc/peer < 1 is faster; matcalc's 'hessian' also returns "
          "the value and the gradient")
    summary = []
    for case in cases:
        print()
        print(f"{case:<14} {'kind':<8}" + "".join(f"{m:>26}" for m in methods)
              + "".join(f"{'matcalc/' + m:>15}" for m in methods if m != "matcalc"))
        for kind in KINDS:
            times: dict[str, list[float]] = {m: [] for m in methods}
            checks: dict[str, list[float]] = {}
            notes = []
            for _ in range(args.rounds):
                for m in methods:
                    r = spawn(m, kind, case, args.threads, args.runs)
                    if "time" in r:
                        times[m] += r["time"]
                        checks[m] = r["check"]
                    else:
                        notes.append(f"{m}: {r.get('error') or r.get('missing')}")
            ref = checks.get("matcalc")
            for m, c in checks.items():
                if ref and any(abs(a - b) > 1e-6 * max(1.0, abs(b)) for a, b in zip(c, ref)):
                    notes.append(f"{m}: result differs from matcalc's ({c} vs {ref})")
            line = f"  {'':<12} {kind:<8}"
            for m in methods:
                t = times[m]
                cell = f"{statistics.median(t):9.3f} [{min(t):.3f}–{max(t):.3f}]" if t else "n/a"
                line += cell.rjust(26)
            ratios = {}
            for m in methods:
                if m == "matcalc":
                    continue
                if times[m] and times["matcalc"]:
                    ratios[m] = statistics.median(times["matcalc"]) / statistics.median(times[m])
                    line += f"{ratios[m]:14.2f}x"
                else:
                    line += f"{'n/a':>15}"
            print(line)
            for n in notes:
                print(f"    ({n})")
            summary.append((case, kind, ratios))
    print()
    print("targets (issue 13), judged on the medians above:")
    for case, kind, ratios in summary:
        if not ratios:
            continue
        fastest = min(ratios.values())
        speedups = ", ".join(f"{1 / r:.1f}x faster than {m}" for m, r in ratios.items())
        need = []
        if kind == "hessian":
            need.append(("never slower than the fastest peer", max(ratios.values()) <= 1.0))
            if case == "logistic":
                need.append(("≥2.5x jax, ≥10x torch",
                             ratios.get("jax", 9) <= 1 / 2.5 and ratios.get("torch", 9) <= 1 / 10))
            if case == "xAx":
                need.append(("≥20x both", all(r <= 1 / 20 for r in ratios.values())))
        else:
            need.append(("no slower than jax.jvp(jax.grad)", ratios.get("jax", fastest) <= 1.0))
        verdicts = "; ".join(f"{label}: {'met' if ok else 'NOT met'}" for label, ok in need)
        print(f"  {case:<13} {kind:<8} {speedups}  [{verdicts}]")


if __name__ == "__main__":
    main()
