"""How matcalc scales with depth: residual networks and gated RNNs of 8 … 128 steps.

    python benchmarks/depth.py [--steps 8,16,32,64,128] [--hessian-steps 8,16,32,64] [--runs 3]

For each model, ``matcalc grad`` (text) and ``matcalc numpy`` are run as a user runs
them, each in a fresh process (``python -m matcalc``), and the script prints the
median wall time, the peak resident memory of that process and the size of what it
wrote, then the ratio of each figure to the one at the smallest depth (``×``): for
linear growth that ratio follows the ratio of depths. Then the text of all
``∂f/∂W_i`` (and of ``--steps``, LaTeX, LaTeX ``--steps`` and JSON) at L = 4, 8, 16 and 32 of a plain chain
``h_i = tanh(W_i h_{i−1})`` written with definitions and as one nested expression, of a
softmax chain and of a nest cycling through the structural calls (``inv diag Diag tr vec
logdet kron``, norms, powers), both written as one expression, and the
time to derive ``x'*A^1000*x`` and to run its generated code.
Then ``matcalc jacobian`` and ``matcalc hessian`` w.r.t. the first weights (text and
``--format numpy``) of residual nets, gated RNNs, an RNN sharing its weights, and tanh and
softmax nests written as one expression, at ``--steps`` (Jacobians) and ``--hessian-steps``
(Hessians, 8 … 64) depths: seconds, characters and their ratio to the smallest depth.
Peers: the same run's figures at the smallest depth (no other tool writes these).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from matcalc.architectures import chain, gated, nested, residual, rnn, softmax_chain, structural

MODELS = {"residual": residual, "gated RNN": gated}

#: The depths of the chains whose text is measured (the target compares L = 32 with L = 8).
DEPTHS = (4, 8, 16, 32)


def run(args: list[str]) -> tuple[float, str]:
    """Wall seconds and standard output of ``python -m matcalc args``."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "matcalc", *args], capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"matcalc {args[0]} failed: {done.stderr}")
    return seconds, done.stdout


def peak_of(args: list[str]) -> int:
    """Peak RSS of one run, measured by a wrapper process of its own (ru_maxrss of children
    is the maximum over all children so far, so each measurement gets a fresh parent)."""
    code = (
        "import resource, subprocess, sys;"
        "subprocess.run([sys.executable, '-m', 'matcalc', *sys.argv[1:]], capture_output=True);"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    return int(out.stdout.strip())


def measure(args: list[str], output: Path | None, runs: int) -> tuple[float, int, int]:
    """Median seconds, peak KiB and output characters of ``matcalc args``."""
    times = []
    text = ""
    for _ in range(runs):
        seconds, text = run(args)
        times.append(seconds)
    size = len(output.read_text(encoding="utf-8")) if output is not None else len(text)
    return statistics.median(times), peak_of(args), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="8,16,32,64,128")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--hessian-steps", default="8,16,32,64")
    opts = parser.parse_args()
    steps = [int(s) for s in opts.steps.split(",")]
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    with tempfile.TemporaryDirectory() as tmp:
        for kind, build in MODELS.items():
            print(f"\n{kind}: matcalc grad (text) | matcalc numpy (module)")
            print(f"{'steps':>5} | {'s':>6} {'MiB':>6} {'chars':>8} {'×chars':>7} | "
                  f"{'s':>6} {'MiB':>6} {'chars':>8} {'×chars':>7}")
            base = None
            for n in steps:
                text, wrt = build(n)
                model = Path(tmp) / f"{kind.split()[0]}{n}.mc"
                model.write_text(text, encoding="utf-8")
                module = Path(tmp) / f"grad{n}.py"
                g = measure(["grad", str(model), "--wrt", wrt], None, opts.runs)
                m = measure(["numpy", str(model), "--wrt", wrt, "-o", str(module)], module, opts.runs)
                base = base or (g[2], m[2])
                print(f"{n:>5} | {g[0]:6.2f} {g[1] / 1024:6.1f} {g[2]:8,} {g[2] / base[0]:6.1f}× | "
                      f"{m[0]:6.2f} {m[1] / 1024:6.1f} {m[2]:8,} {m[2] / base[1]:6.1f}×")
        chains = (
            ("plain chain", chain),
            ("the same chain nested in one expression", nested),
            ("softmax chain nested in one expression", softmax_chain),
            ("structural calls nested in one expression", structural),
        )
        for label, build in chains:
            for what, extra in (
                ("text of all ∂f/∂W_i", []),
                ("its --steps", ["--steps"]),
                ("its LaTeX", ["--format", "latex"]),
                ("its LaTeX --steps", ["--format", "latex", "--steps"]),
                ("its JSON", ["--format", "json"]),
            ):
                sizes = {}
                for depth in DEPTHS:
                    text, wrt = build(depth)
                    model = Path(tmp) / f"{build.__name__}{depth}.mc"
                    model.write_text(text, encoding="utf-8")
                    sizes[depth] = len(run(["grad", str(model), "--wrt", wrt, *extra])[1].rstrip("\n"))
                ratio = sizes[32] / sizes[8]
                each = ", ".join(f"L = {d} {sizes[d]:,}" for d in DEPTHS)
                if not extra:
                    grows = len(build(32)[0]) / len(build(8)[0])
                    print(f"\n{label}: the model's own text at L = 32 is {grows:.2f}× that at L = 8")
                print(f"\n{label}, {what}: {each} chars; L = 32 is {ratio:.2f}× L = 8 (target "
                      f"≤ 4.5×: {'met' if ratio <= 4.5 else 'NOT met'})")
        kinds(tmp, opts)
    matrix_power()
    product_chains()


#: Deep models whose Jacobian and Hessian w.r.t. their first weights are measured: each
#: builder's text and that variable.
KIND_MODELS = {
    "residual": lambda n: (residual(n)[0], "W1"),
    "gated RNN": lambda n: (gated(n)[0], "U"),
    "RNN, shared weights": lambda n: (rnn(n)[0], "U"),
    "tanh nest, one expression": lambda n: (nested(n)[0], "W1"),
    "softmax nest, one expression": lambda n: (softmax_chain(n)[0], "W1"),
}


def kinds(tmp: str, opts: argparse.Namespace) -> None:
    """``matcalc jacobian`` and ``matcalc hessian`` (text and ``--format numpy``) of deep models,
    each in a fresh process: median seconds and characters, and the ratio of characters to
    those at the smallest depth."""
    depths = {"jacobian": [int(s) for s in opts.steps.split(",")],
              "hessian": [int(s) for s in opts.hessian_steps.split(",")]}
    for kind in ("jacobian", "hessian"):
        for label, build in KIND_MODELS.items():
            print(f"\n{label}: matcalc {kind} (text) | --format numpy")
            print(f"{'steps':>5} | {'s':>6} {'chars':>8} {'×chars':>7} | {'s':>6} {'chars':>8} {'×chars':>7}")
            base = None
            for n in depths[kind]:
                text, wrt = build(n)
                model = Path(tmp) / f"{kind}{label.split()[0]}{n}.mc"
                model.write_text(text, encoding="utf-8")
                t = measure_time([kind, str(model), "--wrt", wrt], opts.runs)
                c = measure_time([kind, str(model), "--wrt", wrt, "--format", "numpy"], opts.runs)
                base = base or (t[1], c[1])
                print(f"{n:>5} | {t[0]:6.2f} {t[1]:8,} {t[1] / base[0]:6.1f}× | "
                      f"{c[0]:6.2f} {c[1]:8,} {c[1] / base[1]:6.1f}×")


def measure_time(args: list[str], runs: int) -> tuple[float, int]:
    """Median seconds and output characters of ``matcalc args``."""
    times, text = [], ""
    for _ in range(runs):
        seconds, text = run(args)
        times.append(seconds)
    return statistics.median(times), len(text)


def matrix_power() -> None:
    """``x'*A^1000*x``: parse, derive and generate in this process (after a warm-up), and one
    call of the generated function at n = 50, against NumPy's own ``matrix_power``."""
    import numpy as np

    import matcalc

    text = "A: matrix(n, n); x: vector(n); f = x'*A^1000*x"

    def derive():
        return matcalc.grad(text, "A,x")

    derive()
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        g = derive()
        g.text()
        fn = g.to_function()
        times.append(time.perf_counter() - t0)
    rng = np.random.default_rng(0)
    A = np.linalg.qr(rng.normal(size=(50, 50)))[0]
    x = rng.normal(size=50)
    calls, powers = [], []
    for _ in range(20):
        t0 = time.perf_counter()
        fn(A=A, x=x)
        calls.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        np.linalg.matrix_power(A, 1000)
        powers.append(time.perf_counter() - t0)
    derive_s, call_s, power_s = (statistics.median(v) for v in (times, calls, powers))
    print(f"\nx'*A^1000*x: parse + derive + print + compile {derive_s * 1e3:.1f} ms "
          f"(min {min(times) * 1e3:.1f}, max {max(times) * 1e3:.1f}); value and both gradients at n = 50 "
          f"{call_s * 1e3:.1f} ms = {call_s / power_s:.1f}× NumPy's matrix_power(A, 1000) alone "
          f"(target < 100 ms: {'met' if derive_s + call_s < 0.1 else 'NOT met'})")


def product_chains() -> None:
    """Parse and type ``x'*A*B*A*B*…*x`` of 4,000 and 16,000 factors: linear means 4× the time."""
    from matcalc.parser import parse

    seconds = {}
    for n in (4000, 16000):
        text = "A, B: matrix(n, n); x: vector(n); f = x'*" + "*".join(["A", "B"] * (n // 2)) + "*x"
        parse(text)
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            parse(text)
            runs.append(time.perf_counter() - t0)
        seconds[n] = statistics.median(runs)
    ratio = seconds[16000] / seconds[4000]
    print(f"\nproduct chains, parse + type: 4,000 factors {seconds[4000] * 1e3:.0f} ms, 16,000 factors "
          f"{seconds[16000] * 1e3:.0f} ms: {ratio:.1f}× for 4× the factors")


if __name__ == "__main__":
    main()
