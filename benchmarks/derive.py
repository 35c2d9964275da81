"""How fast matcalc derives gradients, and how big the results are.

    python benchmarks/derive.py [--runs 25] [--max-layers 64]

Prints, for every seed model and for an L-layer tanh MLP loss w.r.t. all L
weight matrices (L = 1, 2, 4, ..., 64): the median, min and max time to
derive (parsing excluded, and parse + derive), and the size of the result
(distinct expression nodes; printed characters). For models SymPy's
MatrixSymbol can express, SymPy's own derivative is timed in the same run
and the ratio printed (SymPy / matcalc: > 1 means matcalc is faster).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import matcalc
from matcalc.gradient import derive

ROOT = Path(__file__).resolve().parent.parent
SEEDS = [
    ("seed000", "W,M,b,c"),
    ("seed001", "A,x"),
    ("seed002", "V,W"),
    ("seed003", "alpha,beta"),
    ("seed004", "V"),
    ("seed004_abstract", "V"),
]


def timed(fn, runs: int) -> tuple[float, float, float]:
    """Median, min and max wall time of ``fn()`` in milliseconds, after a warm-up."""
    fn()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(samples), min(samples), max(samples)


def mlp(layers: int) -> str:
    """An L-layer tanh network with squared loss, in the matcalc language."""
    lines = ["x: vector(n)", "y: vector(k)", "W1: matrix(d, n)" if layers > 1 else "W1: matrix(k, n)"]
    for i in range(2, layers + 1):
        lines.append(f"W{i}: matrix({'k' if i == layers else 'd'}, d)")
    prev = "x"
    for i in range(1, layers + 1):
        lines.append(f"h{i} = tanh(W{i}*{prev})")
        prev = f"h{i}"
    lines.append(f"f = 1/2*norm2({prev} - y)^2")
    return "\n".join(lines)


def sympy_peers() -> dict[str, object]:
    """SymPy MatrixSymbol derivatives of the models it can express, as callables."""
    try:
        import sympy as sp
    except ImportError:  # pragma: no cover
        return {}
    n, m = sp.symbols("n m", integer=True, positive=True)
    A = sp.MatrixSymbol("A", n, n)
    x = sp.MatrixSymbol("x", n, 1)
    X = sp.MatrixSymbol("X", m, n)
    w = sp.MatrixSymbol("w", n, 1)
    y = sp.MatrixSymbol("y", m, 1)
    return {
        "seed001": lambda: ((A * x).T * (A * x)).diff(A),
        "least squares": lambda: ((X * w - y).T * (X * w - y)).diff(w),
        "x'Ax": lambda: (x.T * A * x).diff(x),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=25)
    ap.add_argument("--max-layers", type=int, default=64)
    args = ap.parse_args()

    own = {
        "least squares": ("X: matrix(m, n); w: vector(n); y: vector(m); f = norm2(X*w - y)^2", "w"),
        "x'Ax": ("x: vector(n); A: matrix(n, n); f = x'*A*x", "x"),
    }
    cases = [(name, (ROOT / "tests" / "models" / f"{name}.mc").read_text(), wrt) for name, wrt in SEEDS]
    cases += [(name, text, wrt) for name, (text, wrt) in own.items()]
    peers = sympy_peers()

    print(
        f"{'model':<22}{'wrt':<12}{'derive ms (med/min/max)':>26}{'parse+derive ms':>17}"
        f"{'nodes':>7}{'chars':>7}{'SymPy ms':>10}{'SymPy/matcalc':>15}"
    )
    for name, text, wrt in cases:
        model = matcalc.parse(text)
        names = wrt.split(",")
        med, lo, hi = timed(lambda m=model, w=names: derive(m, w), args.runs)
        total, _, _ = timed(lambda t=text, w=names: matcalc.grad(t, w), args.runs)
        g = matcalc.grad(model, names)
        peer = peers.get(name)
        if peer is not None:
            pmed, _, _ = timed(peer, args.runs)
            ptxt, ratio = f"{pmed:.2f}", f"{pmed / med:.1f}x"
        else:
            ptxt, ratio = "n/a", "n/a"
        print(
            f"{name:<22}{wrt:<12}{f'{med:.2f} / {lo:.2f} / {hi:.2f}':>26}{total:>17.2f}"
            f"{g.size():>7}{len(g.text()):>7}{ptxt:>10}{ratio:>15}"
        )

    print()
    print(f"{'MLP layers L':<14}{'derive ms (med/min/max)':>26}{'nodes':>8}{'nodes/L':>9}")
    layers = 1
    while layers <= args.max_layers:
        model = matcalc.parse(mlp(layers))
        names = [f"W{i}" for i in range(1, layers + 1)]
        runs = max(3, args.runs // max(1, layers // 8))
        med, lo, hi = timed(lambda m=model, w=names: derive(m, w), runs)
        size = matcalc.grad(model, names).size()
        print(f"{layers:<14}{f'{med:.2f} / {lo:.2f} / {hi:.2f}':>26}{size:>8}{size / layers:>9.1f}")
        layers *= 2


if __name__ == "__main__":
    main()
