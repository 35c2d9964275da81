"""Gradient extraction: from a model to ``df = Σ G_X : dX`` and ``∂f/∂X = G_X``.

The definitions are walked from the output back to the inputs (reverse
mode), so each intermediate's differential is taken once and its
coefficient ``G_V`` (``df = G_V : dV + …``) is the sum over its uses.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace
from fractions import Fraction

from . import adjoints, forward
from . import build as b
from .depth import at_definition, deep_recursion, too_deep
from .differential import Differentiator
from .errors import DerivativeError
from .expr import Add, Adjoint, Expr, Var
from .model import Model
from .rules import Rule, separate
from .simplify import simplify_all


@dataclass(frozen=True)
class ChainStep:
    """``G : dV`` expanded by substituting the differential of ``V``'s definition."""

    var: Var
    coefficient: Expr
    differential: Expr
    moves: tuple[tuple[Rule, tuple[Expr, Expr], tuple[tuple[Expr, Expr], ...]], ...]
    #: for a named adjoint (``coefficient`` is ``δV``), its value
    value: Expr | None = None


@dataclass(frozen=True)
class Derivation:
    """Gradients of ``of`` w.r.t. ``wrt``, and the chain-rule steps that gave them."""

    model: Model
    of: Var
    wrt: tuple[Var, ...]
    gradients: tuple[Expr, ...]
    steps: tuple[ChainStep, ...] = field(default=(), repr=False)
    #: The named adjoints ``δV`` the gradients use, each with its value, the output's
    #: first (each value uses only the adjoints before it).
    adjoints: tuple[tuple[Var, Expr], ...] = ()
    #: The nested values of the model given a name of their own (:mod:`matcalc.forward`),
    #: each with its value, innermost first; ``model`` holds them as definitions.
    forward: tuple[tuple[Var, Expr], ...] = ()

    def __getitem__(self, name: str) -> Expr:
        for v, g in zip(self.wrt, self.gradients):
            if v.name == name:
                return g
        raise KeyError(name)


def _nodes(e: Expr) -> list[Expr]:
    """The distinct nodes of ``e``."""
    seen: dict[Expr, None] = {}
    stack = [e]
    while stack:
        n = stack.pop()
        if n not in seen:
            seen[n] = None
            stack.extend(n.children())
    return list(seen)


def _resolve(model: Model, name: str) -> Var:
    var = model.lookup(name)
    if var is None:
        known = [v.name for v in model.inputs] + [v.name for v, _ in model.definitions]
        hint = [k for k in known if k.lower() == name.lower()] or difflib.get_close_matches(name, known, n=1)
        extra = f"; did you mean {hint[0]!r}?" if hint else f"; the model has {', '.join(known)}"
        raise DerivativeError(f"{name!r} is not a name in the model{extra}")
    return var


def derive(
    model: Model,
    wrt: list[str] | tuple[str, ...],
    of: str | None = None,
    expand: bool = False,
    name_variables: bool = True,
    lift: bool = True,
) -> Derivation:
    """Gradients of the scalar ``of`` (default: the model's output) w.r.t. each of ``wrt``;
    ``expand`` writes every adjoint out where it is used instead of naming any.

    ``name_variables=False``: a sub-expression equal to a definition among ``wrt`` is not
    written with its name (the Hessian differentiates the gradient again, and there the
    name would stand for the variable, not for the value it has here).

    ``lift=False``: nested values are not named (:func:`matcalc.forward.lift`); the Hessian
    differentiates the gradient over the model as written."""
    if not wrt:
        raise DerivativeError("nothing to differentiate with respect to: give at least one name")
    target = _resolve(model, of) if of is not None else model.output
    if target.role != "def":
        raise DerivativeError(f"{target.name!r} is an input, not a definition to differentiate")
    if target.shape != (1, 1):
        r, c = target.shape
        raise at_definition(
            model,
            target.name,
            f"{target.name} is {r}×{c}, not a scalar: a gradient needs a scalar function "
            f"(reduce it with sum(...), tr(...), a norm or ':'; or take its Jacobian: matcalc jacobian)",
        )
    variables = tuple(_resolve(model, n) for n in wrt)
    seen: set[str] = set()
    for v in variables:
        if v.name in seen:
            raise DerivativeError(f"{v.name!r} is given twice in wrt")
        seen.add(v.name)
    with deep_recursion():
        try:
            if expand or not lift:
                return _reverse_mode(model, target, variables, expand, name_variables)
            lifted, values = forward.lift(model)
            return replace(
                _reverse_mode(lifted, target, variables, expand, name_variables), forward=values
            )
        except RecursionError:
            raise too_deep(model, target.name) from None


#: The most a definition's differential may hold (:func:`_written_size`). The differential
#: of a chain of k factors is k terms of k factors (``x'*A^1000*x``: a million); past this
#: limit simplifying and printing it would take minutes, so the model is refused instead.
MAX_DIFFERENTIAL_SIZE = 50_000


#: The most the gradients written out as trees may hold with ``expand`` (each use of an
#: adjoint written in full: a residual step doubles it).
MAX_EXPANDED_SIZE = 200_000


def _written_size(e: Expr) -> int:
    """How much there is to write out: each distinct node once, with its operands."""
    return sum(1 + len(n.children()) for n in _nodes(e))


def _too_large(model: Model, var: Var, size: int) -> DerivativeError:
    return at_definition(
        model,
        var.name,
        f"the differential of {var.name} has {size:,} terms and factors, more than matcalc "
        f"writes out ({MAX_DIFFERENTIAL_SIZE:,}): a product of k factors has a derivative of "
        "k terms of k factors each; shorten the product chains (or matrix powers)",
    )


def _chain_step(
    diff: Differentiator, var: Var, rhs: Expr, g: Expr, adjoint: dict[str, list[Expr]], model: Model
) -> ChainStep | None:
    """``g : dvar`` expanded through ``var``'s definition; the coefficients of the names it
    uses are added to ``adjoint``. ``None`` when the definition's differential is zero."""
    lin = diff(rhs, value=var)
    if b.is_zero(lin):
        return None
    size = _written_size(lin)
    if size > MAX_DIFFERENTIAL_SIZE:
        raise _too_large(model, var, size)
    trace: list = []
    for gv, dv in separate(g, lin, trace):
        adjoint.setdefault(dv.var.name, []).append(gv)
    return ChainStep(var, g, lin, tuple((r, x, tuple(p)) for r, x, p in trace))


def _reverse_mode(
    model: Model, target: Var, variables: tuple[Var, ...], expand: bool, name_variables: bool = True
) -> Derivation:
    """The derivation of ``target`` by reverse mode over the model's definitions."""
    sources = {v.name for v in variables}

    defs = []
    for var, rhs in model.definitions:
        defs.append((var, rhs))
        if var == target:
            break
    active: set[str] = set(sources)
    for var, rhs in defs:
        if any(isinstance(n, Var) and n.name in active for n in _nodes(rhs)):
            active.add(var.name)

    diff = Differentiator(lambda v: v.name in active)
    adjoint: dict[str, list[Expr]] = {target.name: [b.ONE]}
    raw: dict[Var, Expr] = {}  # each adjoint written as a leaf, with its value
    steps: list[ChainStep] = []
    for var, rhs in reversed(defs):
        terms = adjoint.get(var.name)
        if not terms or var.name not in active:
            continue
        g = b.add(*terms)
        if not adjoints.trivial(g):
            raw[var] = g
            g = Adjoint(var)
        try:
            step = _chain_step(diff, var, rhs, g, adjoint, model)
        except RecursionError:
            raise too_deep(model, var.name) from None
        if step is not None:
            steps.append(step)

    names = {rhs: var for var, rhs in defs
             if not isinstance(rhs, Var) and (name_variables or var not in variables)}
    grads = []
    for v in variables:
        terms = adjoint.get(v.name)
        g = b.add(*terms) if terms else b.zero(v.shape)
        if v.symmetric:  # declared, or a definition symmetric by construction: the gradient on
            # symmetric matrices, as the value only ever varies symmetrically
            terms = g.terms if isinstance(g, Add) else (g,)
            g = b.scale(Fraction(1, 2), b.add(g, *(b.transpose(t) for t in terms)))
        grads.append(g)
    # the gradient w.r.t. a definition is its adjoint: its uses are counted once, as the adjoint's
    named = adjoints.choose(raw, [g for v, g in zip(variables, grads) if v not in raw], expand)
    inline = adjoints.Inliner(raw, named)
    values = [(v, inline(g)) for v, g in raw.items() if v.name in named]
    out = simplify_all([inline(g) for g in grads] + [g for _, g in values], names)
    if expand:
        written = sum(g.size() for g in out)
        if written > MAX_EXPANDED_SIZE:
            raise at_definition(
                model,
                target.name,
                f"written out with every adjoint in place (--expand), the gradients of "
                f"{target.name} have {written:,} terms and factors, more than matcalc writes out "
                f"({MAX_EXPANDED_SIZE:,}); without --expand the adjoints used more than once are named",
            )
    named_values = dict(values)
    steps = [_inlined(st, inline, named_values.get(st.var)) for st in steps]
    return Derivation(
        model,
        target,
        variables,
        tuple(out[: len(grads)]),
        tuple(steps),
        tuple((v, g) for (v, _), g in zip(values, out[len(grads) :])),
    )


def _inlined(step: ChainStep, inline: adjoints.Inliner, value: Expr | None) -> ChainStep:
    """``step`` with the adjoints that are not named written out (``value``: the named
    adjoint's, when ``step`` names one)."""
    moves = tuple(
        (rule, (inline(g), lin), tuple((inline(pg), pl) for pg, pl in pieces))
        for rule, (g, lin), pieces in step.moves
    )
    return ChainStep(step.var, inline(step.coefficient), step.differential, moves, value)
