"""How fast the generated NumPy code runs, against hand-written NumPy, jax and PyTorch.

    python benchmarks/codegen.py [--runs 20] [--rounds 3] [--threads 1,2]
        [--cases 'seed000 W;seed000 W,M,b,c;seed004 V'] [--methods matcalc,closed form,jax,torch]
        [--glibc-heap] [--show-source] [--target numpy,torch,jax,array-api [--pairs]]

Cases: seed 000 (two-layer ReLU network, n = m = p = 2000) w.r.t. W and
w.r.t. W, M, b, c; seed 004 (L = ||1ᵀ tanh(X V)||², X 4000×500, V 500×300)
w.r.t. V. Methods, each timed in its OWN subprocess (importing torch slows
NumPy in the same process):

- ``matcalc``     the generated ``value_and_grad`` (``Gradient.to_function()``)
- ``closed form`` the same value and gradients written by hand in NumPy
- ``jax``         ``jax.jit(jax.value_and_grad(f))`` with ``jax_enable_x64``
- ``torch``       PyTorch autograd on CPU, float64
- ``matcalc T``   the generated module of target ``T`` (``torch``: on tensors; ``jax``:
                  under ``jax.jit``; ``array-api``: on NumPy arrays)

``--target T,…`` times each target's module against its own library's
autodiff in the same run (``numpy`` against the hand-written closed form,
``torch`` against PyTorch autograd, ``jax`` against
``jax.jit(jax.value_and_grad)``, ``array-api`` against the closed form) and
prints one verdict per target.

Each subprocess also times a hand-written NumPy forward pass (value only), call
by call alternating with the method's calls, so that each method is also
expressed as a ratio to a reference taken in its own process under the same
load. Every method's result is checked against the closed form before
timing. Each method runs in ``--rounds`` processes, interleaved with the
other methods, so that a burst of load on the machine is shared out.

The headline run is single-threaded (``OPENBLAS_NUM_THREADS=1
OMP_NUM_THREADS=1 MKL_NUM_THREADS=1``, ``torch.set_num_threads(1)``, XLA's
Eigen pool off, and the process pinned to one core because XLA still runs
loops on extra threads); a two-thread run is printed beside it. Warm-up
first, then the median of ``--runs`` calls with min and max. A peer that
cannot be imported prints ``n/a``. Install the peers with
``pip install -e .[bench]``.

Each method's column ``faults`` gives the minor page faults per call (fewest–most
over its processes), ``cpu`` the median CPU time per call (the process's, all its
threads; less disturbed by other processes on a shared machine than wall time).

The heap. Every process, ours and the peers' alike, runs with the same glibc malloc
settings, ``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_`` fixed so that
freed memory stays in the heap. With glibc's defaults the mmap threshold is dynamic
(it grows to at most 32 MiB as mmapped chunks are freed), and seed 000's 32 MB
gradients sit at that limit: in some processes they are mmapped, or the heap's top
trimmed, on each call, so both are faulted in afresh (15.6k faults, +15 ms), in
others not, whatever the method. That flipped the verdicts from process to process
(the torch module 0.8× autograd in one run, 2.4× in the next; ``jax.jit`` 1.6× in
another). ``MALLOC_ARENA_MAX=1`` as well: XLA runs a jitted function on a worker thread,
glibc gives that thread an arena of its own, and such an arena's extra heaps are mmapped
and unmapped as soon as they are empty, whatever the trim threshold says. A 32 MB result
could get a heap of its own, faulted in afresh on every call (7.8k faults, +5–15 ms), in
some processes and not in others: our JAX module 0.55× ``jax.jit`` on seed 000 w.r.t. W
in one run (the peer's processes faulted), 1.3× w.r.t. W, M, b, c in the same run. With
one arena the freed result is reused. ``--glibc-heap`` runs with glibc's defaults
instead, to see those figures.

The inputs. Every array starts on a 64-byte boundary, which lets ``jax.device_put`` on a
CPU use it in place, and ``--pairs`` hands ours and the peer one set of JAX arrays: so
every method reads the very memory that the forward reference and the other methods read
(NumPy and ``torch.from_numpy`` always did). With a copy each, the module whose copies
were made first took 1.75–2.13× the other's CPU time in ``--pairs`` on seed 000 w.r.t. W,
whichever module it was (ours first: 1.93, 1.75, 2.13×; the peer first: 0.56, 0.52,
0.53×), and one jitted ``W @ x`` took 1.64–1.86 ms on the first copies against
1.37–1.44 ms on the second: the memory, not the code (the two XLA programs are the same
fusions and dots).
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
MODELS = ROOT / "tests" / "models"
METHODS = ["matcalc", "closed form", "jax", "torch"]

#: name -> (model file, wrt, sizes)
CASES = {
    "seed000 W": ("seed000", ["W"], {"n": 2000, "m": 2000, "p": 2000}),
    "seed000 W,M,b,c": ("seed000", ["W", "M", "b", "c"], {"n": 2000, "m": 2000, "p": 2000}),
    "seed004 V": ("seed004", ["V"], {"t": 4000, "n": 500, "m": 300}),
}


# ---------------------------------------------------------------- inputs
def aligned(a):
    """A copy of ``a`` whose data starts on a 64-byte boundary, so that ``jax.device_put``
    on a CPU uses it in place instead of copying it: the JAX methods then read the very
    memory that the NumPy forward reference and the other methods read."""
    import numpy as np

    raw = np.empty(a.nbytes + 64, dtype=np.uint8)
    start = -raw.ctypes.data % 64
    out = raw[start:start + a.nbytes].view(a.dtype).reshape(a.shape)
    out[...] = a
    return out


def make_inputs(model: str, sizes: dict[str, int]):
    import numpy as np

    rng = np.random.default_rng(0)
    if model == "seed000":
        n, m, p = sizes["n"], sizes["m"], sizes["p"]
        inputs = {
            "x": rng.normal(size=n),
            "b": rng.normal(size=m),
            "W": rng.normal(size=(m, n)) / np.sqrt(n),
            "M": rng.normal(size=(p, m)) / np.sqrt(m),
            "c": rng.normal(size=p),
            "y": rng.normal(size=p),
        }
    else:
        t, n, m = sizes["t"], sizes["n"], sizes["m"]
        inputs = {"X": rng.normal(size=(t, n)) / np.sqrt(n), "V": rng.normal(size=(n, m))}
    return {k: aligned(v) for k, v in inputs.items()}


# ---------------------------------------------------------------- NumPy by hand
def numpy_forward(model: str):
    """The value only, written by hand: the per-process reference."""
    import numpy as np

    if model == "seed000":
        def forward(x, b, W, M, c, y):
            a = np.maximum(W @ x + b, 0.0)
            r = M @ a + c - y
            return 0.5 * (r @ r)
    else:
        def forward(X, V):
            col = np.tanh(X @ V).sum(axis=0)
            return col @ col
    return forward


def closed_form(model: str, wrt: list[str]):
    """Value and gradients written by hand in NumPy (the target to match)."""
    import numpy as np

    if model == "seed000" and wrt == ["W"]:
        def f(x, b, W, M, c, y):
            s = W @ x + b
            a = np.maximum(s, 0.0)
            r = M @ a + c - y
            return 0.5 * (r @ r), np.outer((M.T @ r) * (s > 0), x)
    elif model == "seed000":
        def f(x, b, W, M, c, y):
            s = W @ x + b
            a = np.maximum(s, 0.0)
            r = M @ a + c - y
            gs = (M.T @ r) * (s > 0)
            return 0.5 * (r @ r), np.outer(gs, x), np.outer(r, a), gs, r
    else:
        def f(X, V):
            Phi = np.tanh(X @ V)
            col = Phi.sum(axis=0)
            return col @ col, X.T @ ((1.0 - Phi * Phi) * (2.0 * col))
    return f


# ---------------------------------------------------------------- methods
_DEVICE: dict[int, dict] = {}


def jax_inputs(inputs: dict) -> dict:
    """``inputs`` on JAX's device, one copy per ``inputs`` dict (shared by ours and the peer)."""
    import jax

    if id(inputs) not in _DEVICE:
        _DEVICE[id(inputs)] = (inputs, {k: jax.device_put(v) for k, v in inputs.items()})
    return _DEVICE[id(inputs)][1]


def build(method: str, model: str, wrt: list[str], inputs: dict):
    """(callable taking no arguments and returning (value, grads…) as NumPy, names)."""
    import numpy as np

    if method == "closed form":
        f = closed_form(model, wrt)
        return lambda: f(**inputs)
    if method.startswith("matcalc "):
        return build_target(method.split(" ", 1)[1], model, wrt, inputs)
    if method == "matcalc":
        import matcalc

        fn = matcalc.grad((MODELS / f"{model}.mc").read_text(), wrt=wrt).to_function()
        return lambda: fn(**inputs)
    if method == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        if model == "seed000":
            def loss(W, M, b, c, x, y):
                a = jnp.maximum(W @ x + b, 0.0)
                r = M @ a + c - y
                return 0.5 * (r @ r)
            order = ["W", "M", "b", "c", "x", "y"]
        else:
            def loss(V, X):
                col = jnp.tanh(X @ V).sum(axis=0)
                return col @ col
            order = ["V", "X"]
        argnums = tuple(order.index(w) for w in wrt)
        vg = jax.jit(jax.value_and_grad(loss, argnums=argnums))
        args = [jax_inputs(inputs)[k] for k in order]

        def run():
            value, grads = vg(*args)
            jax.block_until_ready(grads)
            return (value, *grads)
        return lambda: tuple(np.asarray(v) for v in run())
    if method == "torch":
        import torch

        tensors = {k: torch.from_numpy(v) for k, v in inputs.items()}
        if model == "seed000":
            def loss(x, b, W, M, c, y):
                a = torch.relu(W @ x + b)
                r = M @ a + c - y
                return 0.5 * (r @ r)
        else:
            def loss(X, V):
                col = torch.tanh(X @ V).sum(dim=0)
                return col @ col

        def run():
            leaves = {k: (v.detach().requires_grad_(True) if k in wrt else v)
                      for k, v in tensors.items()}
            value = loss(**leaves)
            grads = torch.autograd.grad(value, [leaves[w] for w in wrt])
            return (value.item(), *(g.numpy() for g in grads))
        return run
    raise ValueError(method)


def build_target(target: str, model: str, wrt: list[str], inputs: dict):
    """The generated module of ``target`` on its library's arrays (jitted for JAX)."""
    import matcalc

    fn = matcalc.grad((MODELS / f"{model}.mc").read_text(), wrt=wrt).to_function(target=target)
    if target == "torch":
        import torch

        tensors = {k: torch.from_numpy(v) for k, v in inputs.items()}
        return lambda: fn(**tensors)
    if target == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)
        jitted = jax.jit(fn)
        args = jax_inputs(inputs)

        def run():
            out = jitted(**args)
            jax.block_until_ready(out)
            return out
        return run
    return lambda: fn(**inputs)


def samples(fn, runs: int, warmup: int = 3, cpu: list[float] | None = None) -> list[float]:
    """Wall times of ``runs`` calls of ``fn()`` in ms, after ``warmup`` calls (their CPU times
    appended to ``cpu`` when given)."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        t1, c1 = time.perf_counter(), time.process_time()
        out.append((t1 - t0) * 1e3)
        if cpu is not None:
            cpu.append((c1 - c0) * 1e3)
    return out


def minor_faults() -> int:
    """Minor page faults of this process so far (0 where ``resource`` is missing)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def pin_one_core() -> None:
    """Keep this process on one core (single-thread runs).

    XLA's CPU runtime runs some loops on its own threads whatever its flags say,
    so pinning is what gives every method the same single core.
    """
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def worker(method: str, case: str, threads: int, runs: int) -> dict:
    """Runs inside the subprocess: check, then time the method and the forward reference."""
    import numpy as np

    if threads == 1:
        pin_one_core()
    model, wrt, sizes = CASES[case]
    inputs = make_inputs(model, sizes)
    if "torch" in method:
        import torch

        torch.set_num_threads(threads)
    try:
        fn = build(method, model, wrt, inputs)
    except ImportError as e:
        return {"missing": str(e)}
    want = closed_form(model, wrt)(**inputs)
    got = fn()
    for w, g in zip(want, got, strict=True):
        g = np.asarray(g, dtype=float)
        if g.shape != np.shape(w) or not np.allclose(g, w, rtol=1e-8, atol=1e-8 * np.abs(w).max()):
            raise AssertionError(f"{method} on {case}: result differs from the closed form")
    forward = numpy_forward(model)
    samples(lambda: forward(**inputs), 0)  # warm-up
    ref: list[float] = []
    own: list[float] = []
    cpu: list[float] = []
    faults = 0
    for _ in range(3):  # warm-up
        fn()
    for _ in range(runs):  # the reference and the method call by call, so that load hits both
        ref += samples(lambda: forward(**inputs), 1, warmup=0)
        before = minor_faults()
        own += samples(fn, 1, warmup=0, cpu=cpu)
        faults += minor_faults() - before
    return {"time": own, "cpu": cpu, "forward": ref, "faults": faults / runs}


def pair_worker(target: str, case: str, runs: int) -> dict:
    """Runs inside the subprocess (one thread, one core): the ``target``'s module and its
    peer, both checked against the closed form, then called alternately, ``runs`` pairs."""
    import numpy as np

    pin_one_core()
    model, wrt, sizes = CASES[case]
    inputs = make_inputs(model, sizes)
    if target == "torch":
        import torch

        torch.set_num_threads(1)
    want = closed_form(model, wrt)(**inputs)
    fns = {}
    for key, method in (("ours", f"matcalc {target}"), ("peer", TARGET_PEERS[target][0])):
        try:
            fns[key] = build(method, model, wrt, inputs)
        except ImportError as e:
            return {"missing": str(e)}
        for w, g in zip(want, fns[key](), strict=True):
            g = np.asarray(g, dtype=float)
            if g.shape != np.shape(w) or not np.allclose(g, w, rtol=1e-8, atol=1e-8 * np.abs(w).max()):
                raise AssertionError(f"{method} on {case}: result differs from the closed form")
    for _ in range(3):
        for fn in fns.values():
            fn()
    cpu: dict[str, list[float]] = {"ours": [], "peer": []}
    faults = {"ours": 0, "peer": 0}
    for i in range(runs):  # ours first in even pairs, the peer first in odd ones
        for key in (("ours", "peer") if i % 2 == 0 else ("peer", "ours")):
            before = minor_faults()
            samples(fns[key], 1, warmup=0, cpu=cpu[key])
            faults[key] += minor_faults() - before
    return {**cpu, "faults": {k: v / runs for k, v in faults.items()}}


def pairs(targets: list[str], cases: list[str], runs: int, keep_heap: bool) -> None:
    """Print, per case and target, the median over pairs of calls of CPU time ours / peer's."""
    print(f"\nours and the peer in ONE process per target (one thread, one core), {runs} pairs of "
          "calls\nalternating; ratio = median over pairs of (our CPU ms / the peer's CPU ms)")
    print("faults = minor page faults per call, ours / the peer's, in thousands")
    print(f"{'case':<18}{'target':<12}{'peer':<14}{'ours ms':>9}{'peer ms':>9}{'faults':>12}{'ratio':>8}"
          "  target")
    for case in cases:
        for x in targets:
            peer, goal = TARGET_PEERS[x]
            cmd = [sys.executable, __file__, "--pair-worker", x, "--case", case, "--runs", str(runs)]
            run = subprocess.run(cmd, env=thread_env(1, keep_heap), capture_output=True, text=True)
            if run.returncode != 0:
                print(f"{case:<18}{x:<12}{peer:<14} error: {(run.stderr.strip().splitlines() or ['?'])[-1]}")
                continue
            r = json.loads(run.stdout.strip().splitlines()[-1])
            if "missing" in r:
                print(f"{case:<18}{x:<12}{peer:<14} n/a ({r['missing']})")
                continue
            ratio = statistics.median(o / p for o, p in zip(r["ours"], r["peer"]))
            verdict = "" if goal is None else f"≤ {goal}x: {'met' if ratio <= goal else 'NOT met'}"
            faults = f"{r['faults']['ours'] / 1e3:.1f}/{r['faults']['peer'] / 1e3:.1f}k"
            print(f"{case:<18}{x:<12}{peer:<14}{statistics.median(r['ours']):9.2f}"
                  f"{statistics.median(r['peer']):9.2f}{faults:>12}{ratio:7.2f}x  {verdict}")


def thread_env(threads: int, keep_heap: bool = True) -> dict[str, str]:
    env = dict(os.environ)
    if keep_heap:
        env["MALLOC_MMAP_THRESHOLD_"] = str(2**31)
        env["MALLOC_TRIM_THRESHOLD_"] = str(2**33)
        env["MALLOC_ARENA_MAX"] = "1"
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    if threads == 1:
        flags = env.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
        env["XLA_FLAGS"] = flags.strip()
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def spawn(method: str, case: str, threads: int, runs: int, keep_heap: bool = True) -> dict:
    cmd = [sys.executable, __file__, "--worker", method, "--case", case,
           "--threads", str(threads), "--runs", str(runs)]
    env = thread_env(threads, keep_heap)
    run = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if run.returncode != 0:
        return {"error": (run.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(run.stdout.strip().splitlines()[-1])


class Pooled:
    """One method's samples over all rounds (each round its own process)."""

    def __init__(self) -> None:
        self.time: list[float] = []
        self.cpu: list[float] = []
        self.ratios: list[float] = []  # per process: median time / median forward pass
        self.forward: list[float] = []
        self.faults: list[float] = []  # per process: minor page faults per call
        self.note = ""

    def add(self, r: dict) -> None:
        if "time" not in r:
            self.note = r.get("error") or r.get("missing") or "?"
            return
        self.time += r["time"]
        self.cpu += r.get("cpu", [])
        self.forward += r["forward"]
        self.faults.append(r.get("faults", 0.0))
        self.ratios.append(statistics.median(r["time"]) / statistics.median(r["forward"]))

    @property
    def ok(self) -> bool:
        return bool(self.time)

    @property
    def median(self) -> float:
        return statistics.median(self.time)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu) if self.cpu else float("nan")

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20, help="timed calls per process")
    ap.add_argument("--rounds", type=int, default=3,
                    help="processes per method, interleaved with the other methods")
    ap.add_argument("--threads", default="1,2",
                    help="comma-separated thread counts (the first is the headline)")
    ap.add_argument("--cases", default=";".join(CASES),
                    help="semicolon-separated subset of: " + "; ".join(CASES))
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--glibc-heap", action="store_true",
                    help="run every process with glibc's default heap settings instead of keeping "
                    "freed memory (then 32 MB arrays may be faulted in afresh on each call)")
    ap.add_argument("--show-source", action="store_true",
                    help="print the generated modules (of each --target)")
    ap.add_argument("--target", help="comma-separated targets to time against their own library's "
                    "autodiff: " + ", ".join(TARGET_PEERS))
    ap.add_argument("--pairs", action="store_true",
                    help="with --target: time ours and the peer in one process, call by call "
                    "alternately, instead of each in its own processes (what one process's memory "
                    "placement does to its timings then hits both alike)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--pair-worker", help=argparse.SUPPRESS)
    ap.add_argument("--case", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        print(json.dumps(worker(args.worker, args.case, int(args.threads), args.runs)))
        return
    if args.pair_worker:
        print(json.dumps(pair_worker(args.pair_worker, args.case, args.runs)))
        return

    cases = [c.strip() for c in args.cases.split(";") if c.strip()]
    threads = [int(t) for t in args.threads.split(",")]
    methods = [m.strip() for m in args.methods.split(",")]
    targets = [x.strip() for x in (args.target or "").split(",") if x.strip()]
    if targets:
        methods = []
        for x in targets:
            for m in (f"matcalc {x}", TARGET_PEERS[x][0]):
                if m not in methods:
                    methods.append(m)
    if args.show_source:
        import matcalc

        for case in cases:
            model, wrt, _ = CASES[case]
            g = matcalc.grad((MODELS / f"{model}.mc").read_text(), wrt=wrt)
            for x in targets or ["numpy"]:
                print(f"# ---- {case}, target {x}")
                print(g.source(target=x))
    if args.pairs:
        if not targets:
            ap.error("--pairs needs --target")
        pairs(targets, cases, args.runs, not args.glibc_heap)
        return

    print(f"{args.rounds} processes per method and thread count, interleaved; {args.runs} timed "
          "calls each after 3 warm-up calls")
    print("ms = median [min–max] over all calls; fwd = median hand-written NumPy forward pass")
    print("timed in the same processes; /fwd = median over processes of (method / forward);")
    print("vs closed = /fwd of the method divided by /fwd of the closed form;")
    print("raw = median ms of the method / median ms of the closed form; faults = minor page")
    print("faults per call, fewest–most over processes, in thousands (fresh pages of new arrays)")
    print("cpu = median CPU ms per call (all the process's threads)")
    if args.glibc_heap:
        print("glibc's default heap settings (--glibc-heap): freed memory may go back to the kernel")
    else:
        print("every process: glibc keeps freed memory (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_)")
    for case in cases:
        results = {t: {m: Pooled() for m in methods} for t in threads}
        for t in threads:
            for _ in range(args.rounds):
                for m in methods:
                    results[t][m].add(spawn(m, case, t, args.runs, not args.glibc_heap))
        print()
        header = f"{case:<18}"
        for t in threads:
            label = f"{t} thread{'s' if t > 1 else ' '}  ms"
            header += (f"| {label:<27}{'cpu':>7}{'fwd':>7}{'/fwd':>6}{'vs closed':>10}{'raw':>7}"
                       f"{'faults':>12} ")
        print(header)
        for m in methods:
            line = f"  {m:<16}"
            for t in threads:
                r, c = results[t][m], results[t].get("closed form", Pooled())
                if not r.ok:
                    line += f"| {'n/a':<76} "
                    continue
                times = f"{r.median:7.2f} [{min(r.time):.2f}–{max(r.time):.2f}]"
                fwd = statistics.median(r.forward)
                if c.ok:
                    vs, raw = f"{r.ratio / c.ratio:9.2f}x", f"{r.median / c.median:6.2f}x"
                else:
                    vs, raw = f"{'n/a':>10}", f"{'n/a':>7}"
                faults = f"{min(r.faults) / 1e3:.1f}–{max(r.faults) / 1e3:.1f}k"
                line += f"| {times:<27}{r.cpu_median:7.2f}{fwd:7.2f}{r.ratio:6.2f}{vs}{raw}{faults:>12} "
            print(line)
        for t in threads:
            for m in methods:
                if results[t][m].note:
                    print(f"  ({m}, {t} thread(s): {results[t][m].note})")
        if targets:
            for x in targets:
                print("  " + target_verdict(results[threads[0]], x, threads[0]))
        else:
            print("  " + verdict(results[threads[0]], threads[0]))


#: target -> (the method it is timed against, the issue's target ratio)
TARGET_PEERS = {
    "numpy": ("closed form", 1.1),
    "torch": ("torch", 1.0),
    "jax": ("jax", 1.0),
    "array-api": ("closed form", None),
}


def target_verdict(results: dict[str, Pooled], target: str, threads: int) -> str:
    """One target's module against its own library's autodiff (or the closed form)."""
    mine, (peer, goal) = results[f"matcalc {target}"], TARGET_PEERS[target]
    other = results[peer]
    if not mine.ok or not other.ok:
        return f"{target}: n/a"
    fwd, raw = mine.ratio / other.ratio, mine.median / other.median
    cpu = mine.cpu_median / other.cpu_median
    met = "" if goal is None else f" (target {goal}x: {'met' if max(fwd, raw) <= goal else 'NOT met'})"
    return (f"{target} target, {threads} thread(s): {fwd:.2f}x (/fwd), {raw:.2f}x (raw), "
            f"{cpu:.2f}x (cpu) {peer}{met}")


def verdict(results: dict[str, Pooled], threads: int) -> str:
    """The issue's targets for one case in the headline run, judged on both ratios: ``/fwd``
    (each method against a NumPy forward pass in its own processes) and raw medians. A
    target counts as met only if both ratios meet it."""
    mine = results.get("matcalc")
    if mine is None or not mine.ok:
        return "targets: n/a (matcalc not timed)"

    def against(other: Pooled, target: float, label: str) -> str:
        fwd, raw = mine.ratio / other.ratio, mine.median / other.median
        met = "met" if max(fwd, raw) <= target else "NOT met"
        return f"{fwd:.2f}x (/fwd), {raw:.2f}x (raw) {label} (target {target}x: {met})"

    parts = []
    closed = results.get("closed form")
    if closed is not None and closed.ok:
        parts.append(against(closed, 1.2, "the closed form"))
    peers = {m: p for m, p in results.items() if m in ("jax", "torch") and p.ok}
    if peers:
        best = min(peers, key=lambda m: peers[m].median)
        parts.append(against(peers[best], 1.0, f"the fastest autodiff peer ({best})"))
    return f"targets, {threads} thread{'s' if threads > 1 else ''}: " + "; ".join(parts)

if __name__ == "__main__":
    main()
