"""Where the generated code's time goes: NumPy's primitives against torch's and jax's.

    python benchmarks/primitives.py [--runs 20] [--rounds 3]

``benchmarks/codegen.py`` compares whole gradients. This script times the
operations those gradients are made of, at the same sizes, one library per
process (single thread, pinned to one core, as in ``codegen.py``):

- ``matmul``    X V with X 4000×500, V 500×300 (seed 004's two products)
- ``matvec``    W x with W 2000×2000 (seed 000's three products)
- ``tanh``      of a 4000×300 matrix (seed 004's forward pass)
- ``outer``     u vᵀ with u, v of length 2000 (every gradient of seed 000)
- ``2 fresh``   two new 2000×2000 results written and dropped in each call
                (seed 000 w.r.t. W, M, b, c returns two such gradients)

A gradient cannot be faster than the primitives it needs, so a row where
NumPy is slower than a peer bounds how close any NumPy-only module (the
generated one, or the hand-written closed form) can come to that peer.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from codegen import pin_one_core, samples, thread_env  # noqa: E402

LIBRARIES = ["numpy", "torch", "jax"]
PRIMITIVES = ["matmul", "matvec", "tanh", "outer", "2 fresh"]


def operations(library: str) -> dict:
    """name -> callable doing that primitive once with ``library``, on fixed random inputs."""
    import numpy as np

    rng = np.random.default_rng(0)
    X, V = rng.normal(size=(4000, 500)), rng.normal(size=(500, 300))
    W, x = rng.normal(size=(2000, 2000)), rng.normal(size=2000)
    Z, u, v = rng.normal(size=(4000, 300)), rng.normal(size=2000), rng.normal(size=2000)
    if library == "numpy":
        def fresh():
            a, b = np.empty((2000, 2000)), np.empty((2000, 2000))
            a.fill(1.0)
            b.fill(2.0)
            return a, b
        return {"matmul": lambda: X @ V, "matvec": lambda: W @ x, "tanh": lambda: np.tanh(Z),
                "outer": lambda: u[:, None] * v, "2 fresh": fresh}
    if library == "torch":
        import torch

        torch.set_num_threads(1)
        X, V, W, x, Z, u, v = (torch.from_numpy(a) for a in (X, V, W, x, Z, u, v))

        def fresh():
            a = torch.empty((2000, 2000), dtype=torch.float64)
            b = torch.empty((2000, 2000), dtype=torch.float64)
            a.fill_(1.0)
            b.fill_(2.0)
            return a, b
        return {"matmul": lambda: X @ V, "matvec": lambda: W @ x, "tanh": lambda: torch.tanh(Z),
                "outer": lambda: torch.outer(u, v), "2 fresh": fresh}
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    def ready(f, *args):
        f = jax.jit(f)
        args = [jax.device_put(a) for a in args]
        return lambda: jax.block_until_ready(f(*args))
    return {"matmul": ready(jnp.matmul, X, V), "matvec": ready(jnp.matmul, W, x),
            "tanh": ready(jnp.tanh, Z), "outer": ready(jnp.outer, u, v),
            "2 fresh": ready(lambda: (jnp.full((2000, 2000), 1.0), jnp.full((2000, 2000), 2.0)))}


def worker(library: str, runs: int) -> dict:
    """Runs inside the subprocess: the median ms of each primitive."""
    pin_one_core()
    try:
        ops = operations(library)
    except ImportError as e:
        return {"missing": str(e)}
    return {name: statistics.median(samples(ops[name], runs)) for name in PRIMITIVES}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20, help="timed calls per process")
    ap.add_argument("--rounds", type=int, default=3, help="processes per library, interleaved")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.runs)))
        return

    times: dict[str, dict[str, list[float]]] = {lib: {p: [] for p in PRIMITIVES} for lib in LIBRARIES}
    missing: dict[str, str] = {}
    for _ in range(args.rounds):
        for lib in LIBRARIES:
            cmd = [sys.executable, __file__, "--worker", lib, "--runs", str(args.runs)]
            run = subprocess.run(cmd, env=thread_env(1), capture_output=True, text=True)
            if run.returncode != 0:
                missing[lib] = (run.stderr.strip().splitlines() or ["?"])[-1]
                continue
            r = json.loads(run.stdout.strip().splitlines()[-1])
            if "missing" in r:
                missing[lib] = r["missing"]
                continue
            for p in PRIMITIVES:
                times[lib][p].append(r[p])

    print(f"1 thread, pinned; median ms over {args.rounds} processes per library "
          f"(each the median of {args.runs} calls); numpy / best peer")
    print(f"{'':<10}" + "".join(f"{lib:>9}" for lib in LIBRARIES) + f"{'ratio':>9}")
    for p in PRIMITIVES:
        cells, peers = "", []
        for lib in LIBRARIES:
            if times[lib][p]:
                ms = statistics.median(times[lib][p])
                cells += f"{ms:9.2f}"
                if lib != "numpy":
                    peers.append(ms)
            else:
                cells += f"{'n/a':>9}"
        ratio = (f"{statistics.median(times['numpy'][p]) / min(peers):8.2f}x"
                 if peers and times["numpy"][p] else f"{'n/a':>9}")
        print(f"{p:<10}{cells}{ratio}")
    for lib, why in missing.items():
        print(f"  ({lib}: {why})")


if __name__ == "__main__":
    main()
