"""Numerical proof of Jacobians and Hessians: random sizes, random inputs, central differences.

A Jacobian block is compared with central differences of ``F`` w.r.t. each
entry of ``vec(X)``; a Hessian block with central differences of the
gradient (itself checked by :mod:`matcalc.check`); each linear map with its
explicit matrix applied to a random direction; and the whole Hessian with its
own transpose. Symmetric variables are compared on the symmetric space
(``J P``, ``P = (I + K)/2``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from . import kron
from .check import Instance, random_instance, relative_error
from .evaluate import Evaluator
from .expr import Expr, Var
from .kinds import HessianDerivation, JacobianDerivation
from .model import Model


def environment(
    model: Model,
    inst: Instance,
    overrides: dict[str, np.ndarray] | None = None,
    until: str | None = None,
    adjoints: tuple[tuple[Var, Expr], ...] = (),
) -> Evaluator:
    """An evaluator holding every input and definition, ``overrides`` held at their values,
    and the named ``adjoints`` (a gradient's, in order)."""
    overrides = overrides or {}
    ev = Evaluator({**inst.inputs, **overrides}, inst.dims, inst.functions)
    for var, rhs in model.definitions:
        if var.name not in overrides:
            ev.env[var.name] = ev(rhs)
        if var.name == until:
            break
    for var, value in adjoints:
        ev.adjoints[var.name] = ev(value)
    return ev


def _with(ev: Evaluator, values: dict[str, np.ndarray]) -> Evaluator:
    """A fresh evaluator of ``ev``'s values and adjoints, with ``values`` (directions) added."""
    out = Evaluator({**ev.env, **values}, ev.dims, ev.functions)
    out.adjoints.update(ev.adjoints)
    return out


def vec(a: np.ndarray) -> np.ndarray:
    """Columns stacked (column-major)."""
    return np.asarray(a, dtype=float).reshape(-1, order="F")


def symmetrizer(d: int) -> np.ndarray:
    """``P = (I + K(d,d))/2``: the projection on vec of symmetric matrices."""
    return (np.eye(d * d) + kron.commutation_matrix(d, d)) / 2


def numeric_jacobian(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """``∂vec(fn(x))/∂vec(x)ᵀ`` by central differences."""
    base = np.asarray(x, dtype=float)
    cols = []
    for j in range(base.size):
        e = np.zeros(base.size)
        e[j] = h
        step = e.reshape(base.shape, order="F")
        cols.append((vec(fn(base + step)) - vec(fn(base - step))) / (2 * h))
    return np.stack(cols, axis=1)


def _value_of(model: Model, inst: Instance, var: Var, of: str, others: dict | None = None):
    def fn(x: np.ndarray) -> np.ndarray:
        return environment(model, inst, {**(others or {}), var.name: x}, until=of).env[of]

    return fn


def _direction(v: Var, ev: Evaluator, rng: np.random.Generator) -> np.ndarray:
    d = rng.normal(size=ev.shape(v))
    return (d + d.T) / 2 if v.symmetric else d


@dataclass(frozen=True)
class KindCheck:
    """The worst relative error of each compared quantity (``label -> error``)."""

    errors: dict[str, float]
    tolerance: float

    @property
    def ok(self) -> bool:
        return all(np.isfinite(e) and e <= self.tolerance for e in self.errors.values())


def _worse(errors: dict[str, float], label: str, err: float) -> None:
    errors[label] = max(errors.get(label, 0.0), err if np.isfinite(err) else float("inf"))


def check_jacobian(
    d: JacobianDerivation,
    seed: int = 0,
    trials: int = 2,
    tolerance: float = 1e-5,
    positive: Iterable[str] = (),
    spd: Iterable[str] = (),
) -> KindCheck:
    """Each block against central differences, and the map against the blocks."""
    rng = np.random.default_rng(seed)
    errors: dict[str, float] = {}
    for _ in range(trials):
        inst = random_instance(d.model, rng, positive, spd)
        ev = environment(d.model, inst)
        total = 0.0
        dirs = {}
        for v, m in zip(d.wrt, d.blocks):
            j = kron.evaluate(m, ev)
            j = j.T if d.layout == "denominator" else j
            # each variable on its own, as gradients are: definitions after an input follow it
            fd = numeric_jacobian(_value_of(d.model, inst, v, d.of.name), ev.env[v.name])
            if v.symmetric:
                fd = fd @ symmetrizer(ev.shape(v)[0])
            _worse(errors, f"J {v.name}", relative_error(np.broadcast_to(j, fd.shape), fd))
            dirs["d" + v.name] = _direction(v, ev, rng)
            total = total + np.broadcast_to(j, fd.shape) @ vec(dirs["d" + v.name])
        mapped = Evaluator({**ev.env, **dirs}, inst.dims, inst.functions)(d.differential)
        _worse(errors, "map", relative_error(np.broadcast_to(vec(mapped), np.shape(total)), total))
    return KindCheck(errors, tolerance)


def _gradient_fn(d: HessianDerivation, inst: Instance, g: Expr, v: Var):
    def fn(x: np.ndarray) -> np.ndarray:
        ev = environment(d.model, inst, {v.name: x}, adjoints=d.adjoints)
        return np.broadcast_to(ev(g), ev.shape(g))

    return fn


def check_hessian(
    d: HessianDerivation,
    seed: int = 0,
    trials: int = 2,
    tolerance: float = 1e-5,
    positive: Iterable[str] = (),
    spd: Iterable[str] = (),
) -> KindCheck:
    """Each block against differences of the gradient, the maps against the blocks, and the
    whole matrix against its transpose."""
    rng = np.random.default_rng(seed)
    errors: dict[str, float] = {}
    for _ in range(trials):
        inst = random_instance(d.model, rng, positive, spd)
        ev = environment(d.model, inst, adjoints=d.adjoints)
        dirs = {"d" + v.name: _direction(v, ev, rng) for v in d.wrt}
        rows = []
        for x, g, lin in zip(d.wrt, d.gradient.gradients, d.maps):
            row = []
            for y in d.wrt:
                h = np.broadcast_to(
                    kron.evaluate(d.block(x.name, y.name), ev),
                    (int(np.prod(ev.shape(x))), int(np.prod(ev.shape(y)))),
                )
                fd = numeric_jacobian(
                    _gradient_fn(d, inst, g, y),
                    ev.env[y.name],
                    h=1e-5,
                )
                if y.symmetric:
                    fd = fd @ symmetrizer(ev.shape(y)[0])
                _worse(errors, f"H {x.name},{y.name}", relative_error(h, fd))
                row.append(h)
            rows.append(row)
            mapped = _with(ev, dirs)(lin)
            applied = sum(h @ vec(dirs["d" + y.name]) for h, y in zip(row, d.wrt))
            _worse(
                errors,
                f"map {x.name}",
                relative_error(np.broadcast_to(vec(mapped), np.shape(applied)), applied),
            )
        full = np.block(rows)
        _worse(errors, "symmetry", relative_error(full, full.T))
    return KindCheck(errors, tolerance)


def _natural(v: Var, x: np.ndarray):
    if v.shape == (1, 1):
        return float(x[0, 0])
    return x[:, 0].copy() if v.shape[1] == 1 else x.copy()


def check_generated(
    d,
    source: str,
    seed: int = 0,
    trials: int = 2,
    tolerance: float = 1e-8,
    positive: Iterable[str] = (),
    spd: Iterable[str] = (),
) -> KindCheck:
    """The generated module against the explicit matrices: ``value_and_jacobian``, or
    ``value_grad_and_hessian`` and ``hvp`` (``H d`` with the explicit ``H``)."""
    namespace: dict = {}
    exec(compile(source, "<matcalc generated>", "exec"), namespace)  # matcalc's own code
    rng = np.random.default_rng(seed)
    errors: dict[str, float] = {}
    funcs = abstract_names(d.model)
    for _ in range(trials):
        inst = random_instance(d.model, rng, positive, spd)
        ev = environment(d.model, inst, adjoints=getattr(d, "adjoints", ()))
        args = {python: _natural(v, inst.inputs[v.name]) for v, python in _parameters(d.model)}
        jac = isinstance(d, JacobianDerivation)
        args.update(funcs(inst, not jac))
        if jac:
            _, *js = namespace["value_and_jacobian"](**args)
            for v, m, got in zip(d.wrt, d.blocks, js):
                want = np.broadcast_to(kron.evaluate(m, ev), np.shape(got))
                _worse(errors, f"code J {v.name}", relative_error(got, want))
            continue
        n = len(d.wrt)
        out = namespace["value_grad_and_hessian"](**args)
        blocks = iter(out[1 + n :])
        sizes = [int(np.prod(ev.shape(v))) for v in d.wrt]
        full = np.zeros((sum(sizes), sum(sizes)))
        offsets = np.cumsum([0, *sizes])
        for i, x in enumerate(d.wrt):
            for j in range(i, n):
                got = next(blocks)
                want = np.broadcast_to(
                    kron.evaluate(d.block(x.name, d.wrt[j].name), ev), (sizes[i], sizes[j])
                )
                _worse(errors, f"code H {x.name},{d.wrt[j].name}", relative_error(got, want))
                full[offsets[i] : offsets[i + 1], offsets[j] : offsets[j + 1]] = want
                full[offsets[j] : offsets[j + 1], offsets[i] : offsets[i + 1]] = want.T
        dirs = [_direction(v, ev, rng) for v in d.wrt]
        from .printing.numpy_kinds import _direction_vars

        named = {dv.name: _natural(v, x) for dv, v, x in zip(_direction_vars(d.model, d.wrt), d.wrt, dirs)}
        hv = namespace["hvp"](**args, **named)
        want = full @ np.concatenate([vec(x) for x in dirs])
        got = np.concatenate([vec(np.reshape(h, ev.shape(v))) for h, v in zip(hv, d.wrt)])
        _worse(errors, "code hvp", relative_error(got, want))
    return KindCheck(errors, tolerance)


def _parameters(model: Model) -> list[tuple[Var, str]]:
    """Each input and the parameter name the generated code gives it."""
    from .printing.numpy import Names, python_name

    names = Names()
    return [(v, names.take(python_name(v.name))) for v in model.inputs]


def abstract_names(model: Model) -> Callable[..., dict]:
    """The callables ``g, dg, ddg`` of each abstract function, by parameter name."""
    from .printing.numpy import python_name

    def make(inst: Instance, second: bool = True) -> dict:
        out = {}
        orders = (("", 0), ("d", 1), ("dd", 2)) if second else (("", 0), ("d", 1))
        for g in model.elementwise:
            for prefix, k in orders:
                out[python_name(prefix + g)] = inst.functions[g][k]
        return out

    return make
