"""Numerical proof of gradients: random sizes, random inputs, central differences.

Values and gradients are computed by the program the NumPy target prints from the shared
lowering (:mod:`matcalc.codegen.run`): the code that is shipped is the code that is checked.
A model with a size no input gives (which no generated function can know) is interpreted
by :mod:`matcalc.evaluate` instead."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from . import dims as dimensions
from .codegen.lower import CodegenError
from .codegen.run import Program, gradient_program, value_program
from .evaluate import Evaluator, evaluate_model
from .expr import Apply, Call, EProd, Var
from .gradient import Derivation
from .model import Model
from .ops.registry import OPS


def _sin_derivative(k: int) -> Callable[[np.ndarray], np.ndarray]:
    return lambda x: np.sin(x + k * np.pi / 2)


def abstract_functions(model: Model, orders: int = 4) -> dict[str, list[Callable]]:
    """A concrete stand-in (``sin`` and its derivatives) for each abstract function, and each
    function defined by formula with its derivatives."""
    out = {g: [_sin_derivative(k) for k in range(orders)] for g in model.elementwise}
    for f in model.formulas:
        out[f.name] = [f.numeric(k) for k in range(len(f.forms))]
    return out


def _domains(model: Model) -> tuple[set[str], set[str], set[str]]:
    """Names (inputs or definitions) that reach a positive / SPD / small-argument slot
    (the domain of each function's registry entry, or of a function defined by formula)."""
    positive: set[str] = set()
    spd: set[str] = set()
    small: set[str] = set()
    buckets = {"positive": positive, "spd": spd, "small": small}
    formulas = {f.name: f for f in model.formulas}
    for _, rhs in model.definitions:
        for node in rhs.walk():
            arg = None
            op = OPS.get(node.fn) if isinstance(node, (Apply, Call)) else None
            if op is None and isinstance(node, Apply) and node.fn in formulas:
                op = formulas[node.fn]  # its domain, derived from its body's functions
            if op is not None and op.domain.draw in buckets:
                arg, bucket = (node.arg if isinstance(node, Apply) else node.args[0]), buckets[op.domain.draw]
            elif isinstance(node, EProd):
                for f, k in node.factors:
                    if k.denominator != 1 or k < 0:
                        for v in f.walk():
                            if isinstance(v, Var):
                                positive.add(v.name)
            if arg is not None:
                for v in arg.walk():
                    if isinstance(v, Var):
                        bucket.add(v.name)
    return positive, spd, small


@dataclass
class Instance:
    """Random sizes, inputs and abstract functions for one model."""

    dims: dict[str, int]
    inputs: dict[str, np.ndarray]
    functions: dict[str, list[Callable]]


def random_instance(
    model: Model,
    rng: np.random.Generator,
    positive: Iterable[str] = (),
    spd: Iterable[str] = (),
) -> Instance:
    """Distinct random sizes for the dimension symbols and random inputs respecting domains."""
    pool = list(range(2, 9 + len(model.dims)))
    sizes = rng.choice(pool, size=len(model.dims), replace=False)
    dims = {d: int(s) for d, s in zip(model.dims, sizes)}
    auto_pos, auto_spd, small = _domains(model)
    pos = auto_pos | set(positive)
    spds = auto_spd | set(spd)
    inputs = {}
    for v in model.inputs:
        r, c = (dimensions.size(d, dims) for d in v.shape)
        if v.name in spds and r == c:
            a = rng.normal(size=(r, r))
            x = a @ a.T / r + np.eye(r)
        elif v.name in pos:
            x = rng.uniform(0.5, 1.5, size=(r, c))
        elif v.name in small:
            x = rng.uniform(-0.3, 0.3, size=(r, c))
        else:
            x = rng.normal(size=(r, c))
        if v.symmetric:
            x = (x + x.T) / 2
        inputs[v.name] = x
    return Instance(dims, inputs, abstract_functions(model))


def value(model: Model, of: Var, inst: Instance, inputs: dict[str, np.ndarray]) -> float:
    """The model's value of ``of`` at ``inputs`` (definitions recomputed), by its lowered program."""
    program = _program(lambda: value_program(model, of))
    if program is None:
        return float(evaluate_model(model, inputs, inst.dims, inst.functions)[of.name][0, 0])
    return float(program(inputs, inst.functions)[0][0, 0])


def finite_difference(
    model: Model,
    of: Var,
    var: Var,
    inst: Instance,
    h: float = 1e-6,
) -> np.ndarray:
    """Central differences of ``of`` w.r.t. every entry of ``var``, by the lowered program of
    ``of``'s value (:mod:`matcalc.codegen.run`).

    For a definition, its value is perturbed and the later definitions recomputed.
    """
    given = var if var.role == "def" else None
    program = _program(lambda: value_program(model, of, given))
    if given is not None:
        shown = _program(lambda: value_program(model, of, show=(var,)))
        base = shown(inst.inputs, inst.functions)[1] if shown is not None else None
    else:
        base = inst.inputs[var.name]
    if program is None or base is None:
        return _interpreted_difference(model, of, var, inst, h)

    def f(x: np.ndarray) -> float:
        return float(program({**inst.inputs, var.name: x}, inst.functions)[0][0, 0])

    return _differences(f, base, var.symmetric, h)


def _program(make: Callable[[], Program]) -> Program | None:
    """The lowered program ``make`` gives, or ``None`` when the model has a size that no input
    gives (the generated function cannot know it; the tree is then interpreted)."""
    try:
        return make()
    except CodegenError:
        return None


def _interpreted_difference(model: Model, of: Var, var: Var, inst: Instance, h: float) -> np.ndarray:
    """:func:`finite_difference` by interpreting the expression tree with the sizes known."""
    env = evaluate_model(model, inst.inputs, inst.dims, inst.functions)
    defs = model.definitions
    start = 0
    if var.role == "def":
        start = next(i for i, (v, _) in enumerate(defs) if v.name == var.name) + 1

    def f(x: np.ndarray) -> float:
        ev = Evaluator({**env, var.name: x}, inst.dims, inst.functions)
        for v, rhs in defs[start:]:
            ev.env[v.name] = ev(rhs)
            if v.name == of.name:
                break
        return float(ev.env[of.name][0, 0])

    return _differences(f, env[var.name], var.symmetric, h)


def _differences(f: Callable[[np.ndarray], float], base: np.ndarray, symmetric: bool, h: float) -> np.ndarray:
    """Central differences of ``f`` at ``base``, entry by entry (symmetric pairs together)."""
    grad = np.zeros_like(base, dtype=float)
    if symmetric:
        n = base.shape[0]
        for i in range(n):
            for j in range(i, n):
                e = np.zeros_like(base)
                e[i, j] = e[j, i] = 1.0
                dfd = (f(base + h * e) - f(base - h * e)) / (2 * h)
                if i == j:
                    grad[i, i] = dfd
                else:
                    grad[i, j] = grad[j, i] = dfd / 2
        return grad
    for idx in np.ndindex(base.shape):
        e = np.zeros_like(base, dtype=float)
        e[idx] = h
        grad[idx] = (f(base + e) - f(base - e)) / (2 * h)
    return grad


@dataclass(frozen=True)
class CheckResult:
    """Relative error of each gradient against central differences."""

    names: tuple[str, ...]
    errors: tuple[float, ...]
    tolerance: float

    @property
    def ok(self) -> bool:
        return all(np.isfinite(e) and e <= self.tolerance for e in self.errors)


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """``|a - b| / max(|a|, |b|, 1)`` in the Frobenius norm."""
    scale = max(float(np.linalg.norm(a)), float(np.linalg.norm(b)), 1.0)
    return float(np.linalg.norm(a - b)) / scale


def check(
    derivation: Derivation,
    seed: int = 0,
    trials: int = 2,
    tolerance: float = 1e-5,
    positive: Iterable[str] = (),
    spd: Iterable[str] = (),
) -> CheckResult:
    """Compare every gradient of ``derivation`` with central differences on random inputs."""
    with np.errstate(all="ignore"):  # values that are not finite fail the check, quietly
        return _check(derivation, seed, trials, tolerance, positive, spd)


def _check(derivation: Derivation, seed: int, trials: int, tolerance: float,
           positive: Iterable[str], spd: Iterable[str]) -> CheckResult:
    rng = np.random.default_rng(seed)
    model = derivation.model
    worst = [0.0] * len(derivation.wrt)
    for _ in range(trials):
        inst = random_instance(model, rng, positive, spd)
        gradients = evaluate_gradient(derivation, inst)
        for i, (var, symbolic) in enumerate(zip(derivation.wrt, gradients)):
            numeric = finite_difference(model, derivation.of, var, inst)
            err = relative_error(symbolic, numeric)
            # a value that is not a number fails the check (max() would drop it)
            worst[i] = float("nan") if np.isnan(err) or np.isnan(worst[i]) else max(worst[i], err)
    return CheckResult(tuple(v.name for v in derivation.wrt), tuple(worst), tolerance)


def evaluate_gradient(derivation: Derivation, inst: Instance) -> list[np.ndarray]:
    """Each gradient of ``derivation`` evaluated at ``inst`` (2-D, of its variable's shape), by
    the lowered program the NumPy target prints."""
    program = _program(lambda: gradient_program(derivation))
    if program is not None:
        return program(inst.inputs, inst.functions)[1:]
    env = evaluate_model(derivation.model, inst.inputs, inst.dims, inst.functions)
    ev = Evaluator(env, inst.dims, inst.functions)
    for var, adjoint in derivation.adjoints:
        ev.adjoints[var.name] = ev(adjoint)
    return [np.broadcast_to(ev(g), ev.shape(v)) for v, g in zip(derivation.wrt, derivation.gradients)]
