"""The array-API module on Dask: a logistic-regression gradient over a data matrix made on the fly.

    python benchmarks/dask_scale.py [--gb 2] [--numpy-gb 1] [--cols 100] [--chunk-mb 128]
        [--no-cluster] [--full]

The model is ``f = sum(softplus(X w)) − yᵀ X w`` with ``X: matrix(m, n)``;
the generated ``array-api`` module computes ``f`` and ``∂f/∂w = Xᵀ(sigmoid(X
w) − y)``. ``X`` (``--gb`` gigabytes of float64, ``--cols`` columns) and the
labels ``y`` are drawn by ``dask.array.random.default_rng`` in row chunks of
``--chunk-mb`` and never held whole: each chunk is drawn, used and dropped.
Timed:

- ``numpy``    the same work in memory on the largest slice that fits
               (``--numpy-gb``): NumPy's generator draws the slice, then the
               same generated function (array-API module, NumPy arrays) runs;
- ``threads``  Dask's threaded scheduler (the machine's cores);
- ``cluster``  a ``dask.distributed`` ``LocalCluster`` (one single-threaded
               worker process per core), unless ``--no-cluster``.

Each is reported as GB/s of ``X`` (drawing included, as Dask must draw it)
and as the ratio to NumPy's GB/s. The default run is modest (2 GB, a few
seconds); ``--full`` is the issue's run: about 10 GB, too big to hold twice
in this machine's 24 GB, against a 4 GB NumPy slice. Before timing, the Dask
result on a small matrix is checked against NumPy on the same numbers.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

MODEL = "X: matrix(m, n); w: vector(n); y: vector(m); f = sum(softplus(X*w)) - y'*X*w"


def functions():
    import matcalc

    g = matcalc.grad(MODEL, "w")
    return g.to_function(target="array-api")


def dask_inputs(rows: int, cols: int, chunk_rows: int, seed: int = 0):
    import dask.array as da

    rng = da.random.default_rng(seed)
    X = rng.standard_normal((rows, cols), chunks=(chunk_rows, cols))
    y = (rng.random(rows, chunks=chunk_rows) < 0.5).astype(np.float64)
    w = da.from_array(np.random.default_rng(1).normal(size=cols) / np.sqrt(cols))
    return X, w, y


def numpy_run(fn, rows: int, cols: int) -> float:
    """Seconds to draw a ``rows × cols`` slice with NumPy and run the generated function on it."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((rows, cols))
    y = (rng.random(rows) < 0.5).astype(np.float64)
    w = np.random.default_rng(1).normal(size=cols) / np.sqrt(cols)
    value, grad = fn(X=X, w=w, y=y)
    float(value), np.asarray(grad)
    return time.perf_counter() - t0


def dask_run(fn, rows: int, cols: int, chunk_rows: int, **compute) -> float:
    import dask

    t0 = time.perf_counter()
    X, w, y = dask_inputs(rows, cols, chunk_rows)
    value, grad = fn(X=X, w=w, y=y)
    dask.compute(value, grad, **compute)
    return time.perf_counter() - t0


def check(fn) -> None:
    """Dask and NumPy give the same value and gradient on the same small matrix."""
    import dask

    X, w, y = dask_inputs(20_000, 30, 3_000)
    value, grad = dask.compute(*fn(X=X, w=w, y=y), scheduler="threads")
    ref_value, ref_grad = fn(X=X.compute(), w=w.compute(), y=y.compute())
    assert np.isclose(float(value), float(ref_value), rtol=1e-10), (value, ref_value)
    assert np.allclose(np.asarray(grad), ref_grad, rtol=1e-9, atol=1e-9)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gb", type=float, default=2.0, help="gigabytes of X for Dask (default 2)")
    ap.add_argument("--numpy-gb", type=float, default=1.0, help="gigabytes of the in-memory NumPy slice")
    ap.add_argument("--cols", type=int, default=100)
    ap.add_argument("--chunk-mb", type=float, default=128.0)
    ap.add_argument("--no-cluster", action="store_true", help="skip the dask.distributed LocalCluster")
    ap.add_argument("--full", action="store_true", help="the issue's run: 10 GB for Dask, a 4 GB NumPy slice")
    args = ap.parse_args()
    if args.full:
        args.gb, args.numpy_gb = 10.0, 4.0

    fn = functions()
    check(fn)
    cols = args.cols
    bytes_per_row = 8 * cols
    rows = int(args.gb * 1e9 / bytes_per_row)
    np_rows = int(args.numpy_gb * 1e9 / bytes_per_row)
    chunk_rows = max(1, int(args.chunk_mb * 1e6 / bytes_per_row))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"logistic regression gradient, array-api module; X float64 with {cols} columns, "
          f"{chunk_rows} rows ({args.chunk_mb:g} MB) per Dask chunk; {cores} cores")
    print(f"{'run':<10}{'GB of X':>9}{'seconds':>9}{'GB/s':>8}{'vs numpy':>10}")

    def row(name: str, gb: float, seconds: float, base: float | None) -> float:
        rate = gb / seconds
        ratio = f"{rate / base:9.2f}x" if base else f"{'1.00x':>10}"
        print(f"{name:<10}{gb:9.2f}{seconds:9.2f}{rate:8.3f}{ratio}")
        return rate

    base = row("numpy", np_rows * bytes_per_row / 1e9, numpy_run(fn, np_rows, cols), None)
    gb = rows * bytes_per_row / 1e9
    threaded = row("threads", gb, dask_run(fn, rows, cols, chunk_rows, scheduler="threads"), base)
    if not args.no_cluster:
        from dask.distributed import Client, LocalCluster

        with LocalCluster(n_workers=cores, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster):
            row("cluster", gb, dask_run(fn, rows, cols, chunk_rows), base)
    met = "met" if threaded / base >= 0.7 else "NOT met"
    print(f"target: the threaded scheduler at least 70% of NumPy's GB/s: {threaded / base:.0%} ({met})")


if __name__ == "__main__":
    main()
