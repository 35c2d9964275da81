"""``matcalc selftest --jacobians N --hessians N``: random models, checked through generated code.

* **Jacobians**: random vector- and matrix-valued models (the gradient
  selftest's generator, ending in an expression of a random non-scalar
  shape). The generated ``value_and_jacobian`` must return the reference
  value, and each Jacobian applied to every basis direction of its variable
  (``E_ij + E_ji`` for a symmetric one) must agree with central differences
  of the independent reference evaluator (:class:`~matcalc.selftest.Reference`).
* **Hessians**: the gradient selftest's scalar models (symmetric inputs,
  definitions in ``wrt``, abstract ``elementwise`` functions included). The
  generated ``value_grad_and_hessian`` must return the reference value and a
  symmetric matrix whose bilinear forms ``uᵀ H v`` on random directions agree
  with mixed second differences of the reference (Richardson-extrapolated);
  ``hvp`` must agree with ``H`` applied to a direction.

A draw the reference cannot judge (near a kink, overflowing, too noisy) is
rejected, not counted; a derivative that has no closed form in the notation
(``diag``/``Diag`` of a differential) must be a located
:class:`~matcalc.errors.DerivativeError` and is counted apart.
"""

from __future__ import annotations

import time
import unicodedata
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from . import dims as dimensions
from .selftest.check import Case, Outcome, _last_definition, _where, instance, relative_error
from .selftest.generate import (
    DEFAULT_NAMES,
    SCALAR,
    Def,
    Intermediate,
    ModelGenerator,
    Printer,
    RandomChooser,
    binary,
    generate,
    is_square,
    weighted,
)
from .selftest.generate import GeneratedModel as _Generated
from .selftest.reference import Reference, Rejected, Unsupported

#: The concrete abstract function: sin, and its first and second derivatives.
ABSTRACT3 = (np.sin, np.cos, lambda x: -np.sin(x))
TOLERANCE = 1e-5
NOISE = 1e-7
H_FIRST = 1e-4
H_SECOND = 2e-4


def generate_valued(seed: int) -> _Generated:
    """Model number ``seed`` whose function is a vector or a matrix."""
    ch = RandomChooser(f"matcalc-selftest-jacobian:{seed}")
    depth = weighted(ch, [(3, 3), (1, 2)])
    gen = ModelGenerator(ch, DEFAULT_NAMES, max_depth=depth, max_definitions=2)
    body: list[Def] = []
    for _ in range(ch.integer(0, 2)):
        gen.budget = 12
        shape = gen.shape()
        want = weighted(ch, [(6, "any"), (1, "positive"), (1 if is_square(shape) else 0, "spd")])
        rhs = gen.expr(shape, want, ch.integer(1, depth))
        n = gen._fresh(gen.pool.definitions, "s")
        body.append(Def(n, rhs))
        gen.defs.append(Intermediate(n, shape, want))
    gen.budget = 16
    shape = gen.shape()
    while shape == SCALAR:
        shape = gen.shape()
    final = gen.expr(shape, "any", depth)
    if not gen.inputs or final.op == "num":
        final = binary("+", final, gen.new_input(shape, "any"))
    body.append(Def("F" if "F" not in gen.taken else None, final))
    candidates = [i.name for i in gen.inputs] + [d.name for d in body[:-1] if ch.integer(0, 9) == 0]
    wrt = tuple(c for c in candidates if ch.integer(0, 9) < 7) or (candidates[0],)
    statements = [*gen._declarations(), *body]
    text = Printer(ch.integer(0, 2**31)).model(statements)
    dims = tuple(n for n in map(dimensions.symbol_name, gen.dims) if n is not None)
    return _Generated(tuple(statements), text, tuple(gen.inputs), tuple(gen.functions), dims, wrt, None, seed)


def _args(model, case: Case, second: bool) -> tuple[list, dict] | str:
    drawn = {unicodedata.normalize("NFC", k): a for k, a in case.inputs.items()}
    args = []
    for v in model.inputs:
        if v.name not in drawn:
            return f"matcalc found an input {v.name!r} the model does not have"
        a = drawn[v.name]
        args.append(float(a[0, 0]) if v.shape == (1, 1) else a[:, 0].copy() if v.shape[1] == 1 else a.copy())
    for _ in sorted(model.elementwise):
        args += list(ABSTRACT3 if second else ABSTRACT3[:2])
    return args, drawn


def _natural(v, a: np.ndarray):
    return float(a[0, 0]) if v.shape == (1, 1) else a[:, 0].copy() if v.shape[1] == 1 else a.copy()


def _base(case: Case, functions: dict):
    ref = Reference(case.dims, functions, track=True)
    return ref.run(case.statements, {k: v[None] for k, v in case.inputs.items()}, "<output>", stop=case.of)


def _perturbed(
    case: Case, functions: dict, base: dict, output: str, moves: dict[str, np.ndarray]
) -> np.ndarray:
    """The reference's ``output`` with each variable set to a batch (inputs or held definitions)."""
    ref = Reference(case.dims, functions)
    inputs = {k: base[k] for k in case.inputs}
    held = {}
    for name, batch in moves.items():
        (inputs if name in case.inputs else held)[name] = batch
    env = ref.run(case.statements, inputs, output, override=held or None, stop=output)
    return env[output]


def _basis(shape: tuple[int, int], symmetric: bool) -> list[np.ndarray]:
    r, c = shape
    out = []
    for j in range(c):
        for i in range(r):
            if symmetric and i > j:
                continue
            e = np.zeros((r, c))
            e[i, j] = 1.0
            if symmetric:
                e[j, i] = 1.0
            out.append(e)
    return out


def _drawn(case: Case, functions: dict):
    """The case's reference values, or the Outcome that ends it (a rejected draw, an
    unsupported operation)."""
    try:
        return _base(case, functions)
    except Rejected as err:
        return Outcome("rejected", str(err), case)
    except Unsupported as err:
        return Outcome("unsupported", str(err), case)


def _by_design(err: Exception, case: Case) -> Outcome | None:
    """The Outcome of a located error matcalc gives by design (no closed form, too large)."""
    if "no finite closed form" in str(err) or "is not written yet" in str(err):
        return Outcome("no closed form", str(err), case)
    if "to be written as an explicit matrix" in str(err):
        return Outcome("too large", str(err), case)
    return None


def check_jacobian_case(case: Case) -> Outcome:
    """The generated ``value_and_jacobian`` against the reference's central differences."""
    import matcalc

    functions = {g: ABSTRACT3[:2] for g in case.functions}
    base = _drawn(case, functions)
    if isinstance(base, Outcome):
        return base
    output = case.of or _last_definition(case.statements)
    try:
        model = matcalc.parse(case.text)
        j = matcalc.jacobian(model, list(case.wrt), of=case.of)
        j.text(), j.latex(), j.steps_text()
        fn = j.to_function()
    except matcalc.DerivativeError as err:
        if (known := _by_design(err, case)) is not None:
            return known
        return Outcome("failed", f"matcalc raised {type(err).__name__}: {err}", case)
    except Exception as err:
        return Outcome("failed", f"matcalc raised {type(err).__name__}: {err}\n{_where(err)}", case)
    got = _args(model, case, second=False)
    if isinstance(got, str):
        return Outcome("failed", got, case)
    args, _ = got
    try:
        with np.errstate(all="ignore"):
            value, *jacobians = fn(*args)
    except Exception as err:
        return Outcome(
            "failed", f"the generated module raised {type(err).__name__}: {err}\n{_where(err)}", case
        )
    want = base[output][0]
    if relative_error(np.reshape(value, want.shape), want) > 1e-7:
        return Outcome("failed", "value differs from the reference", case)
    for name_, jac in zip(case.wrt, jacobians):
        x = base[name_][0]
        dirs = _basis(x.shape, name_ in _symmetric(model, case))
        steps = (H_FIRST, 2 * H_FIRST)
        batch = np.stack([x + s * h * d for d in dirs for h in steps for s in (1.0, -1.0)])
        try:
            out = _perturbed(case, functions, base, output, {name_: batch})
        except (Rejected, Unsupported) as err:
            return Outcome("rejected", str(err), case)
        out = np.broadcast_to(out, (len(batch), *want.shape))
        vals = _vec_out(out).reshape(len(dirs), 2, 2, want.size)
        d1 = (vals[:, 0, 0] - vals[:, 0, 1]) / (2 * H_FIRST)
        d2 = (vals[:, 1, 0] - vals[:, 1, 1]) / (4 * H_FIRST)
        numeric = d1 + (d1 - d2) / 3
        noise = float(np.linalg.norm(d1 - d2)) / 15
        symbolic = np.stack([np.asarray(jac) @ d.reshape(-1, order="F") for d in dirs])
        scale = max(float(np.linalg.norm(numeric)), 1.0)
        if not np.all(np.isfinite(numeric)) or noise / scale > NOISE * 100:
            return Outcome("rejected", "finite differences too noisy", case)
        err = relative_error(symbolic, numeric)
        if not err <= TOLERANCE:
            return Outcome("failed", f"J {name_}: relative error {err:.2e}\n  {j.text()}", case)
    return Outcome("ok", "", case)


def _symmetric(model, case: Case) -> frozenset[str]:
    """The variables that vary only symmetrically: declared symmetric inputs, and definitions
    symmetric by construction (held fixed, their gradient is taken on symmetric matrices)."""
    return case.symmetric | {v.name for v, _ in model.definitions if v.symmetric}


def _vec_out(a: np.ndarray) -> np.ndarray:
    """Each batch item's ``(rows, cols)`` value as a column-major vector."""
    return np.swapaxes(a, 1, 2).reshape(a.shape[0], -1)


def check_hessian_case(case: Case, pairs: int = 4) -> Outcome:
    """The generated ``value_grad_and_hessian`` and ``hvp`` against mixed second differences."""
    import matcalc

    functions = {g: ABSTRACT3[:2] for g in case.functions}
    base = _drawn(case, functions)
    if isinstance(base, Outcome):
        return base
    output = case.of or _last_definition(case.statements)
    try:
        model = matcalc.parse(case.text)
        h = matcalc.hessian(model, list(case.wrt), of=case.of)
        h.text(), h.latex(), h.steps_text()
        source = h.numpy_source()
        namespace: dict = {}
        exec(compile(source, "<matcalc hessian>", "exec"), namespace)  # matcalc's own code
    except matcalc.DerivativeError as err:
        if (known := _by_design(err, case)) is not None:
            return known
        if "needs independent variables" in str(err):
            # a located error by design; the inputs among the variables are independent
            inputs = tuple(w for w in case.wrt if w in case.inputs)
            if inputs and inputs != case.wrt:
                return check_hessian_case(replace(case, wrt=inputs), pairs)
            return Outcome("dependent", str(err), case)
        return Outcome("failed", f"matcalc raised {type(err).__name__}: {err}", case)
    except Exception as err:
        return Outcome("failed", f"matcalc raised {type(err).__name__}: {err}\n{_where(err)}", case)
    got = _args(model, case, second=True)
    if isinstance(got, str):
        return Outcome("failed", got, case)
    args, _ = got
    variables = [model.lookup(w) for w in case.wrt]
    shapes = [base[w][0].shape for w in case.wrt]
    sizes = [r * c for r, c in shapes]
    n = len(variables)
    try:
        with np.errstate(all="ignore"):
            out = namespace["value_grad_and_hessian"](*args)
    except Exception as err:
        return Outcome(
            "failed", f"the generated module raised {type(err).__name__}: {err}\n{_where(err)}", case
        )
    value, blocks = out[0], out[1 + n :]
    want = float(base[output][0, 0, 0])
    if abs(want) > 1e6:
        return Outcome("rejected", "the value is huge", case)
    if abs(value - want) > 1e-7 * max(abs(value), abs(want), 1.0):
        return Outcome("failed", f"value {value!r} but the model's value is {want!r}", case)
    if len(blocks) != n * (n + 1) // 2:
        return Outcome("failed", f"{len(blocks)} Hessian blocks for {n} variables", case)
    full = np.zeros((sum(sizes), sum(sizes)))
    offs = np.cumsum([0, *sizes])
    it = iter(blocks)
    for i in range(n):
        for k in range(i, n):
            blk = next(it)
            if not isinstance(blk, np.ndarray) or blk.shape != (sizes[i], sizes[k]):
                return Outcome("failed", f"block {i},{k} has shape {np.shape(blk)}", case)
            full[offs[i] : offs[i + 1], offs[k] : offs[k + 1]] = blk
            full[offs[k] : offs[k + 1], offs[i] : offs[i + 1]] = blk.T
    if not np.all(np.isfinite(full)):
        return Outcome("rejected", "the Hessian is not finite here", case)
    if relative_error(full, full.T) > 1e-9 or any(
        relative_error(blocks[_upper(i, n)], blocks[_upper(i, n)].T) > 1e-9 for i in range(n)
    ):
        return Outcome("failed", "the Hessian is not symmetric", case)
    rng = np.random.default_rng(zlib.crc32(case.text.encode()))  # the same directions every run
    symmetric = _symmetric(model, case)

    def direction() -> list[np.ndarray]:
        ds = []
        for w, shp in zip(case.wrt, shapes):
            d = rng.normal(size=shp)
            ds.append((d + d.T) / 2 if w in symmetric else d)
        norm = np.sqrt(sum(float((d * d).sum()) for d in ds))
        return [d / norm for d in ds]

    us = [direction() for _ in range(pairs)]
    vs = [direction() for _ in range(pairs)]
    steps = (H_SECOND, 2 * H_SECOND, H_SECOND / 2)
    moves: dict[str, list[np.ndarray]] = {w: [] for w in case.wrt}
    for u, v in zip(us, vs):
        for hh in steps:
            for su, sv in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                for w, x0, du, dv in zip(case.wrt, (base[w][0] for w in case.wrt), u, v):
                    moves[w].append(x0 + hh * (su * du + sv * dv))
    try:
        vals = _perturbed(case, functions, base, output, {w: np.stack(b) for w, b in moves.items()})
    except (Rejected, Unsupported) as err:
        return Outcome("rejected", str(err), case)
    f = np.broadcast_to(vals[:, 0, 0], (pairs * len(steps) * 4,)).reshape(pairs, len(steps), 4)
    est = (f[:, :, 0] - f[:, :, 1] - f[:, :, 2] + f[:, :, 3]) / (4 * np.array(steps) ** 2)
    r1 = est[:, 0] + (est[:, 0] - est[:, 1]) / 3
    r2 = est[:, 2] + (est[:, 2] - est[:, 0]) / 3
    noise = float(np.linalg.norm(r1 - r2))
    scale = max(float(np.linalg.norm(r1)), 1.0)
    if not np.all(np.isfinite(r1)) or noise / scale > 1e-6:
        return Outcome("rejected", f"second differences too noisy ({noise / scale:.1e})", case)
    symbolic = np.array(
        [
            np.concatenate([d.reshape(-1, order="F") for d in u])
            @ full
            @ np.concatenate([d.reshape(-1, order="F") for d in v])
            for u, v in zip(us, vs)
        ]
    )
    err = relative_error(symbolic, r1)
    if not err <= TOLERANCE * 10:
        return Outcome("failed", f"uᵀHv: relative error {err:.2e}\n  {h.text()}", case)
    # hvp: the map, never H, agrees with H applied to a direction
    d = direction()
    try:
        with np.errstate(all="ignore"):
            hv = namespace["hvp"](*args, *(_natural(v, x) for v, x in zip(variables, d)))
    except Exception as err:
        return Outcome("failed", f"hvp raised {type(err).__name__}: {err}\n{_where(err)}", case)
    want_hv = full @ np.concatenate([x.reshape(-1, order="F") for x in d])
    got_hv = np.concatenate([np.reshape(x, shp).reshape(-1, order="F") for x, shp in zip(hv, shapes)])
    if relative_error(got_hv, want_hv) > 1e-8:
        return Outcome("failed", "hvp differs from H applied to the direction", case)
    return Outcome("ok", "", case)


def _upper(i: int, n: int) -> int:
    """Index of the diagonal block ``(i, i)`` among the upper blocks."""
    return sum(n - k for k in range(i))


@dataclass
class KindSummary:
    """Figures of a run: outcomes by status, and the failures."""

    kind: str
    counts: dict[str, int] = field(default_factory=dict)
    failures: list[tuple[int, Outcome]] = field(default_factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        c = self.counts
        tried = sum(c.values())
        return (
            f"{self.kind:<10} {tried} models: {c.get('ok', 0)} checked, {c.get('rejected', 0)} rejected "
            f"draws, {c.get('no closed form', 0)} located 'no closed form' errors, "
            f"{c.get('too large', 0)} located 'too large' errors, "
            f"{c.get('unsupported', 0)} unsupported, {len(self.failures)} disagreements "
            f"({self.seconds:.1f} s)"
        )


def run_kind(
    kind: str, examples: int, seed: int = 0, progress: Callable[[KindSummary], None] | None = None
) -> KindSummary:
    """``examples`` random models checked as Jacobians or Hessians; uncaught errors are failures."""
    s = KindSummary(kind)
    start = time.perf_counter()
    step = max(1, examples // 10)
    for i in range(examples):
        number = seed * 10**9 + i
        try:
            if kind == "jacobians":
                out = check_jacobian_case(instance(generate_valued(number)))
            else:
                # no deep nested expressions: a Hessian differentiates the model as written
                # (derive(lift=False)), and most of those are refused as too large
                out = check_hessian_case(instance(generate(number)))
        except Exception as err:  # an uncaught error is a disagreement too
            out = Outcome("failed", f"uncaught {type(err).__name__}: {err}\n{_where(err)}")
        s.counts[out.status] = s.counts.get(out.status, 0) + 1
        if out.status == "failed":
            s.failures.append((number, out))
        s.seconds = time.perf_counter() - start
        if progress is not None and (i + 1) % step == 0:
            progress(s)
    return s


def _progress(s: KindSummary) -> None:
    import sys

    print(f"  ... {sum(s.counts.values())} {s.kind}, {len(s.failures)} disagreements, {s.seconds:.0f} s",
          file=sys.stderr, flush=True)


def command_kinds(args) -> int:
    """The Jacobian and Hessian part of ``matcalc selftest``: figures, and 1 on a disagreement."""
    bad = 0
    for kind, n in (("jacobians", args.jacobians), ("hessians", args.hessians)):
        if not n:
            continue
        s = run_kind(kind, n, args.seed, progress=_progress if n >= 5000 else None)
        print(s.line())
        for number, out in s.failures[: args.show]:
            call = (f"selftest_kinds.generate_valued({number})" if kind == "jacobians"
                    else f"selftest.generate({number}, nests=False)")
            print(f"\ndisagreement on {kind[:-1]} model #{number} "
                  f"(matcalc.selftest.instance(matcalc.{call})):")
            print(out.report())
        bad += len(s.failures)
    return 1 if bad else 0
