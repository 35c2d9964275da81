"""``matcalc selftest``: the runs and the figures it prints."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .check import Outcome, check_case, instance
from .fuzz import run_fuzz, run_ill_typed
from .generate import DEFAULT_NAMES, NamePool, generate
from .shrink import shrink


@dataclass
class Summary:
    """Figures of a run of the random-model property."""

    tried: int = 0
    checked: int = 0
    rejected: int = 0
    unsupported: int = 0
    failures: list[tuple[int, Outcome]] = field(default_factory=list)
    seconds: float = 0.0


def run(
    examples: int,
    seed: int = 0,
    names: NamePool = DEFAULT_NAMES,
    derivations: bool = False,
    max_seconds: float | None = None,
    progress: Callable[[Summary], None] | None = None,
) -> Summary:
    """Check ``examples`` random models (numbers ``seed * 10**9 + i``), or as many as fit in
    ``max_seconds``."""
    s = Summary()
    start = time.perf_counter()
    step = max(1, examples // 10)
    for i in range(examples):
        number = seed * 10**9 + i
        out = check_case(instance(generate(number, names)), derivations=derivations)
        s.tried += 1
        if out.status == "ok":
            s.checked += 1
        elif out.status == "rejected":
            s.rejected += 1
        elif out.status == "unsupported":
            s.unsupported += 1
        else:
            s.failures.append((number, out))
        s.seconds = time.perf_counter() - start
        if progress is not None and (i + 1) % step == 0:
            progress(s)
        if max_seconds is not None and s.seconds > max_seconds:
            break
    return s



def command(args) -> int:
    """``matcalc selftest``: the figures, and exit status 1 on any disagreement."""
    import sys

    def progress(s: Summary) -> None:
        print(f"  ... {s.tried} models, {len(s.failures)} disagreements, {s.seconds:.0f} s",
              file=sys.stderr, flush=True)

    print(f"matcalc selftest: seed {args.seed}")
    s = run(args.examples, args.seed, derivations=args.derivations, max_seconds=args.max_seconds,
            progress=progress if args.examples >= 5000 else None)
    print(format_summary(s))
    bad = len(s.failures)
    for number, out in s.failures[: args.show]:
        print(f"\ndisagreement on model #{number} "
              f"(matcalc.selftest.instance(matcalc.selftest.generate({number}))):")
        print(out.report())
        small = shrink(out)
        if small is not out:
            print(f"shrunk to:\n{small.report()}")
    if args.ill_typed:
        t = time.perf_counter()
        n, wrong = run_ill_typed(args.ill_typed, args.seed)
        print(f"ill-typed models   {n}, without a located error: {len(wrong)}  "
              f"({time.perf_counter() - t:.1f} s)")
        for w in wrong[: args.show]:
            print("  " + w)
        bad += len(wrong)
    if args.fuzz:
        t = time.perf_counter()
        counts, wrong = run_fuzz(args.fuzz, args.seed, extreme=args.extreme_numbers)
        print(f"fuzzed inputs      {args.fuzz}: {counts['derived']} differentiated, "
              f"{counts['parsed']} parsed, {counts['error']} located errors, {len(wrong)} uncaught"
              f"  ({time.perf_counter() - t:.1f} s)")
        for w in wrong[: args.show]:
            print("  " + w[:300])
        bad += len(wrong)
    return 1 if bad else 0


def format_summary(s: Summary) -> str:
    """The figures of a run, one per line."""
    per = 1000 * s.seconds / max(s.tried, 1)
    return "\n".join([
        f"models tried       {s.tried}",
        f"  checked          {s.checked}",
        f"  rejected draws   {s.rejected}  (near a kink or singularity, overflowing, or too noisy to judge)",
        f"  unsupported      {s.unsupported}",
        f"disagreements      {len(s.failures)}",
        f"time               {s.seconds:.1f} s ({per:.1f} ms per model)",
    ])

