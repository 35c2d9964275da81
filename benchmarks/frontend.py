"""How fast matcalc reads and types a model: 1 MB inputs of several kinds, and long chains.

    python benchmarks/frontend.py [--mb 1.0] [--runs 3] [--kinds sum,residual,...]

For each kind of input (a sum of many terms, a deep residual network written out,
one long product chain ``A*A*…*x``, many short definitions, a sum of calls ``tanh(x)``,
a chain of transposes ``A'*A'*…``, long comments, blank lines) the script prints,
per stage, the median wall time of ``--runs`` runs (and the CPU time of the
process, steadier on a shared machine, its least, and the page faults: new memory
touched, whose cost in system time is part of the CPU time) as seconds per MB and MB/s:

* ``lex``: the tokens alone (kinds and offsets, :meth:`matcalc.lalr.FastParser.tokens`; a
  run of operators and plain names, and a plain declaration, are one token each);
* ``read``: matcalc's reader (:mod:`matcalc.precedence`: precedence climbing over those
  tokens, building the syntax nodes; lark's table reads what it gives up on);
* ``read+type``: ``matcalc.parse`` — reading, shapes and the typed model;
* peers, measured in the same run on the same text: ``lalr table``, lark's LALR table
  run by matcalc's loop with the same node builders (:mod:`matcalc.lalr`, the reader
  before precedence climbing); ``lark+callbacks``, lark's own LALR parser with matcalc's
  callbacks (the reader before that); and ``lark tree``, lark's plain parse tree of the
  same grammar (no callbacks) — what a project that keeps its grammar in lark pays at least.

Then ``read+type`` of the chain ``x'*A*…*A*x`` at 2k, 4k, 8k and 16k factors: for
linear time each doubling takes ~2× (the column ``×``). Cyclic garbage collection is
paused for every measurement, as ``matcalc.parse`` pauses it.
"""

from __future__ import annotations

import argparse
import gc
import resource
import statistics
import time
from collections.abc import Callable

from lark import Lark

import matcalc
from matcalc.architectures import residual
from matcalc.depth import deep_recursion
from matcalc.grammar import NewlinesInParens, fast_parser, grammar_text, lark_parse, table_parser

MB = 1_000_000


def sum_text(size: int) -> str:
    """``f = sum(x + y + z + w + x + …)``: one expression of ``size / 4`` terms."""
    names = ("x", "y", "z", "w")
    terms = max(1, (size - 10) // 4)
    return "f = sum(" + " + ".join(names[i % 4] for i in range(terms)) + ")\n"


def residual_text(size: int) -> str:
    """A residual network ``h_i = h_{i−1} + tanh(W_i h_{i−1})`` of about ``size`` characters."""
    lo, hi = 1, 2
    while len(residual(hi)[0]) < size:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if len(residual(mid)[0]) < size else (lo, mid)
    return residual(hi)[0]


def chain_text(factors: int) -> str:
    """``f = x'*A*A*…*A*x`` with ``factors`` factors ``A``."""
    return "f = x'*" + "*".join(["A"] * factors) + "*x\n"


def assignments_text(size: int) -> str:
    """Many short definitions ``h1 = x + y``, ``h2 = x + h1``, … (about ``size`` characters)."""
    lines, total, i = ["x, y: vector(n)\n", "h0 = x + y\n"], 0, 0
    while total < size - 40:
        i += 1
        line = f"h{i} = x + h{i - 1}\n"
        lines.append(line)
        total += len(line)
    lines.append(f"f = sum(h{i})\n")
    return "".join(lines)


def calls_text(size: int) -> str:
    """``f = sum(tanh(x) + tanh(x) + …)``: a sum of ``size / 10`` calls."""
    return "f = sum(" + " + ".join(["tanh(x)"] * max(1, (size - 10) // 10)) + ")\n"


def transposed_chain_text(factors: int) -> str:
    """``f = x'*A'*A'*…*A'*x`` with ``factors`` factors ``A'``."""
    return "f = x'*" + "*".join(["A'"] * factors) + "*x\n"


def comments_text(size: int) -> str:
    line = "# " + "a long comment about the model " * 3 + "\n"
    return line * max(1, size // len(line)) + "x: vector(n)\nf = sum(x)\n"


def blank_text(size: int) -> str:
    return "x: vector(n)\n" + "\n" * max(1, size - 24) + "f = sum(x)\n"


KINDS: dict[str, Callable[[int], str]] = {
    "sum": sum_text,
    "residual": residual_text,
    "chain": lambda size: chain_text(size // 2),
    "assignments": assignments_text,
    "calls": calls_text,
    "transposed chain": lambda size: transposed_chain_text(size // 3),
    "comments": comments_text,
    "blank lines": blank_text,
}


def plain_tree_parser() -> Lark:
    """lark's LALR parser of the same grammar that builds its parse tree (no callbacks)."""
    return Lark(grammar_text(), parser="lalr", lexer="contextual", postlex=NewlinesInParens(),
                maybe_placeholders=True)


def timed(work: Callable[[], object], runs: int) -> tuple[float, float, float, float]:
    """Median wall and CPU seconds of ``work()`` (garbage collection paused, as in parse),
    the least CPU seconds, and the median count of page faults (new memory touched: on this
    virtual machine each costs microseconds of system time, counted in the CPU time)."""
    walls, cpus, faults = [], [], []
    for _ in range(runs):
        was = gc.isenabled()
        gc.disable()
        try:
            with deep_recursion(20_000):
                f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                w0, c0 = time.perf_counter(), time.process_time()
                work()
                walls.append(time.perf_counter() - w0)
                cpus.append(time.process_time() - c0)
                faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
        finally:
            if was:
                gc.enable()
        gc.collect()
    return statistics.median(walls), statistics.median(cpus), min(cpus), statistics.median(faults)


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--mb", type=float, default=1.0, help="size of each input in MB")
    cli.add_argument("--runs", type=int, default=3)
    cli.add_argument("--kinds", default=",".join(KINDS))
    cli.add_argument("--no-peers", action="store_true", help="skip lark's parsers")
    opts = cli.parse_args()
    size = int(opts.mb * MB)
    fast, table = fast_parser(), table_parser()
    lark_tree = plain_tree_parser()
    matcalc.parse("f = sum(x)")  # warm up: imports, tables

    print(f"{'input':<16} {'stage':<15} {'s/MB':>7} {'MB/s':>7} {'cpu s/MB':>9} {'least':>7}"
          f" {'faults/MB':>10} {'÷ read+type':>12}")
    for kind in opts.kinds.split(","):
        text = KINDS[kind](size)
        mb = len(text.encode("utf-8")) / MB
        stages: list[tuple[str, Callable[[], object]]] = [
            ("lex", lambda text=text: table.tokens(text)),
            ("read", lambda text=text: fast.run(text)),
            ("read+type", lambda text=text: matcalc.parse(text)),
        ]
        if not opts.no_peers:
            stages += [("lalr table", lambda text=text: table.run(text)),
                       ("lark+callbacks", lambda text=text: lark_parse(text)),
                       ("lark tree", lambda text=text: lark_tree.parse(text))]
        base = None
        for name, work in stages:
            wall, cpu, least, faults = timed(work, opts.runs)
            base = wall if name == "read+type" else base
            ratio = f"{wall / base:.2f}×" if base else ""
            print(f"{kind if name == 'lex' else '':<16} {name:<15} {wall / mb:7.3f} {mb / wall:7.2f}"
                  f" {cpu / mb:9.3f} {least / mb:7.3f} {faults / mb:10.0f} {ratio:>12}", flush=True)

    print("\nread+type of f = x'*A*…*A*x (linear: × ≈ 2 per doubling)")
    print(f"{'factors':>8} {'s':>8} {'×':>6} {'cpu s':>8}")
    previous = None
    for factors in (2000, 4000, 8000, 16000):
        text = chain_text(factors)
        wall, cpu, _, _ = timed(lambda text=text: matcalc.parse(text), max(opts.runs, 5))
        ratio = f"{wall / previous:.2f}" if previous else ""
        print(f"{factors:>8} {wall:8.4f} {ratio:>6} {cpu:8.4f}", flush=True)
        previous = wall


if __name__ == "__main__":
    main()
