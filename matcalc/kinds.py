"""Jacobians and Hessians as kinds over the two halves that gradients use.

The differential table (:mod:`matcalc.differential`) is the forward
derivative (JVP): walking the definitions forward and substituting each
one's differential gives ``dF`` as a linear map of ``dX`` (:func:`forward`).
The Frobenius pulls (:mod:`matcalc.rules`, via :func:`matcalc.gradient.derive`)
are its transpose. A **Jacobian** is the JVP written as a matrix by the first
identification theorem (:mod:`matcalc.identify`); a **Hessian** is the JVP of
the gradient expression (forward over reverse): its map ``H[dX] = d(∂f/∂X)``
and, identified the same way, its matrix ``∂²f/∂vec(X)∂vec(X)ᵀ``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from . import build as b
from . import kron as k
from .depth import at_definition
from .differential import Differentiator
from .errors import DerivativeError
from .expr import Adjoint, Call, Diff, Expr, PowerSum, Transpose, Var
from .forward import lift
from .gradient import Derivation, _nodes, _resolve, derive
from .identify import TooLargeError, collect, identify, too_large
from .model import Model
from .rules import HasDifferential
from .simplify import rewrite, simplify_all


@dataclass(frozen=True)
class ForwardStep:
    """``dV`` from ``V``'s definition (``raw``, in the differentials of the names it uses),
    and the same with those replaced by what they are in ``d wrt`` (``substituted``)."""

    var: Var
    raw: Expr
    substituted: Expr


@dataclass(frozen=True)
class Identification:
    """``d vec(out) = Σ M d vec(V)``: the rules applied and the coefficient of each ``V``."""

    trace: tuple = field(repr=False)
    blocks: dict[str, Expr]


@dataclass(frozen=True)
class JacobianDerivation:
    """``∂vec(F)/∂vec(X)ᵀ`` of ``of`` w.r.t. each of ``wrt`` (``blocks``, numerator layout
    unless ``layout == 'denominator'``), the map ``dF`` it identifies and the steps."""

    model: Model
    of: Var
    wrt: tuple[Var, ...]
    differential: Expr
    blocks: tuple[Expr, ...]
    layout: str
    forward: tuple[ForwardStep, ...] = field(repr=False)
    identification: Identification = field(repr=False)
    #: The nested values given a name (``u1 = tanh(W1 x)``, :func:`matcalc.forward.lift`),
    #: definitions of :attr:`model` that the model's text does not name.
    values: tuple[tuple[Var, Expr], ...] = ()


@dataclass(frozen=True)
class HessianDerivation:
    """The Hessian of the scalar ``of`` w.r.t. ``wrt``: the gradients, the maps
    ``d(∂f/∂X)`` (``maps``) and the blocks ``∂²f/∂vec(X)∂vec(Y)ᵀ`` keyed by name pairs."""

    model: Model
    of: Var
    wrt: tuple[Var, ...]
    gradient: Derivation
    maps: tuple[Expr, ...]
    blocks: dict[tuple[str, str], Expr]
    forward: tuple[ForwardStep, ...] = field(repr=False)
    identifications: tuple[Identification, ...] = field(repr=False)
    raw: tuple[Expr, ...] = field(default=(), repr=False)

    @property
    def adjoints(self) -> tuple[tuple[Var, Expr], ...]:
        """The gradient's named adjoints ``δV`` (the maps and blocks may use them too)."""
        return self.gradient.adjoints

    @property
    def values(self) -> tuple[tuple[Var, Expr], ...]:
        """The nested values the gradient named (``u1 = tanh(W1 x)``), definitions of
        :attr:`model` that the model's text does not name."""
        return self.gradient.forward

    def block(self, x: str, y: str) -> Expr:
        """``∂²f/∂vec(X)∂vec(Y)ᵀ`` (a lower block is the transpose of the upper one)."""
        if (x, y) in self.blocks:
            return self.blocks[(x, y)]
        return k.transpose(self.blocks[(y, x)])


def _variables(model: Model, wrt: list[str] | tuple[str, ...]) -> tuple[Var, ...]:
    if not wrt:
        raise DerivativeError("nothing to differentiate with respect to: give at least one name")
    variables = tuple(_resolve(model, n) for n in wrt)
    seen: set[str] = set()
    for v in variables:
        if v.name in seen:
            raise DerivativeError(f"{v.name!r} is given twice in wrt")
        seen.add(v.name)
    return variables


def _target(model: Model, of: str | None) -> Var:
    target = _resolve(model, of) if of is not None else model.output
    if target.role != "def":
        raise DerivativeError(f"{target.name!r} is an input, not a definition to differentiate")
    return target


def _active(model: Model, target: Var, variables: tuple[Var, ...]) -> tuple[list, set[str]]:
    defs = []
    for var, rhs in model.definitions:
        defs.append((var, rhs))
        if var == target:
            break
    active = {v.name for v in variables}
    for var, rhs in defs:
        if var.name not in active and any(isinstance(n, Var) and n.name in active for n in _nodes(rhs)):
            active.add(var.name)
    return defs, active


def _dependence(model: Model, target: Var, variables: tuple[Var, ...]) -> tuple[Var, Var] | None:
    """A definition among ``variables`` and another of them its value depends on, if any."""
    names = {v.name for v in variables}
    for d in variables:
        if d.role == "def":
            for n in _depends(model, d):
                if n.name in names and n.name != d.name:
                    return d, n
    return None


def _depends(model: Model, d: Var) -> list[Var]:
    """The names ``d``'s value depends on (through definitions)."""
    rhs = {v.name: e for v, e in model.definitions}
    seen: dict[str, Var] = {}
    stack = [rhs[d.name]]
    while stack:
        e = stack.pop()
        for n in _nodes(e):
            if isinstance(n, Var) and n.name not in seen:
                seen[n.name] = n
                if n.role == "def" and n.name in rhs:
                    stack.append(rhs[n.name])
    return list(seen.values())


def adjoint_name(v: Var) -> Var:
    """The name that stands for the named adjoint ``δV`` while differentiating: ``d(δV)`` is
    ``Diff`` of it (its role, ``adjoint``, keeps it apart from every name of the model)."""
    return Var("δ" + v.name, v.shape, "adjoint")


def power_terms(e: PowerSum) -> Expr:
    """``Σ_{i=0}^{k−1} Lⁱ M R^{k−1−i}`` written as its ``k`` terms."""
    return b.add(*(b.mul(b.matpow(e.left, i), e.mid, b.matpow(e.right, e.k - 1 - i)) for i in range(e.k)))


class ThroughAdjoints(Differentiator):
    """A differentiator that treats a named adjoint ``δV`` like a definition: its differential
    is the leaf ``d(δV)``, which the forward pass replaces by the JVP of its value."""

    def live(self, e: Expr) -> bool:
        return True if isinstance(e, Adjoint) else super().live(e)

    def _rule(self, e: Expr, y: Expr) -> Expr:
        if isinstance(e, Adjoint):
            return Diff(adjoint_name(e.var))
        if isinstance(e, PowerSum):  # a gradient's Σ Lⁱ M R^{k−1−i}: the differential of its terms
            return self(power_terms(e))
        return super()._rule(e, y)


def _symmetric_directions(e: Expr, variables: tuple[Var, ...]) -> Expr:
    """``dSᵀ`` written ``dS`` for a symmetric variable (directions are symmetric); a map
    with no differential left in it (``V ∘ unvec(0)``) is written 0."""
    if not HasDifferential()(e):
        return b.zero(e.shape)
    mapping: dict[Expr, Expr] = {Transpose(Diff(v)): Diff(v) for v in variables if v.symmetric}
    return b.substitute(e, mapping) if mapping else e


#: The most a JVP written out as a tree may hold (each use of a tangent written in full: a
#: residual step doubles it) before its explicit matrix is written; a larger one is a
#: located error (:func:`matcalc.identify.too_large`).
MAX_TANGENT_SIZE = 20_000


def _bounded(model: Model, e: Expr) -> Expr:
    """``e``, or the located error when it is too large to write out."""
    if e.size() > MAX_TANGENT_SIZE:
        error = too_large("the differential", e.size(), MAX_TANGENT_SIZE)
        raise at_definition(model, model.output.name, error.message)
    return e


def forward(
    model: Model, target: Var, variables: tuple[Var, ...]
) -> tuple[Differentiator, dict[str, Expr], list]:
    """The JVP: each active definition's differential in the differentials of ``variables``
    (a definition among them is held fixed); also the differentiator and the steps."""
    defs, active = _active(model, target, variables)
    wrt = {v.name for v in variables}
    diff = ThroughAdjoints(lambda v: v.name in active)
    jvp: dict[str, Expr] = {v.name: Diff(v) for v in variables}
    steps = []
    for var, rhs in defs:
        if var.name in wrt or var.name not in active:
            continue
        raw = diff(rhs, value=var)
        sub = {Diff(u): jvp[u.name] for u in _diffs(raw) if u.name in jvp}
        jvp[var.name] = _bounded(model, b.substitute(raw, sub) if sub else raw)
        steps.append(ForwardStep(var, raw, jvp[var.name]))
    return diff, jvp, steps


def _diffs(e: Expr) -> list[Var]:
    return [n.var for n in _nodes(e) if isinstance(n, Diff)]


def _names(defs, variables: tuple[Var, ...]) -> dict[Expr, Var]:
    """Definitions' names for their values; not those among the variables (there the name
    stands for the variable)."""
    return {rhs: var for var, rhs in defs if not isinstance(rhs, Var) and var not in variables}


def _identified(
    lin: Expr, variables: tuple[Var, ...], names: dict[Expr, Var], model: Model | None = None
) -> Identification:
    trace: list = []
    try:
        blocks = collect(identify(lin, trace))
    except DerivativeError as err:
        if model is None or err.line is not None:
            raise
        place = model.output.name if isinstance(err, TooLargeError) else _no_form_place(model, variables)
        raise at_definition(model, place, err.message) from None
    out: dict[str, Expr] = {}
    for v in variables:
        m = blocks.get(v.name)
        rows = k.size(lin.shape)
        if m is None:
            m = b.zero((rows, k.size(v.shape)))
        if v.symmetric:
            d = v.shape[0]
            m = b.mul(m, b.scale(Fraction(1, 2), b.add(b.eye(b.dim_mul(d, d)), k.Commutation(d, d))))
        out[v.name] = tidy(m, names)
    return Identification(tuple(trace), out)


def _no_form_place(model: Model, variables: tuple[Var, ...]) -> str:
    """The first definition with ``diag``/``Diag`` of something that depends on a variable."""
    active = {v.name for v in variables}
    first = None
    for var, rhs in model.definitions:
        nodes = _nodes(rhs)
        if any(isinstance(n, Var) and n.name in active for n in nodes):
            active.add(var.name)
            first = first or var.name
            for n in nodes:
                if isinstance(n, Call) and n.fn in ("diag", "Diag") and any(
                    isinstance(x, Var) and x.name in active for x in _nodes(n)
                ):
                    return var.name
    return first or model.output.name


def tidy(m: Expr, names: dict[Expr, Var] | None = None) -> Expr:
    """An explicit matrix simplified: the structure rules, then the ordinary ones."""
    m = k.simplify_structure(m)
    if not k.has_structure(m):
        return simplify_all([m], names)[0]
    return k.simplify_structure(rewrite(m))


def jacobian(
    model: Model, wrt: list[str] | tuple[str, ...], of: str | None = None, layout: str = "numerator"
) -> JacobianDerivation:
    """The Jacobian of ``of`` (default: the model's output, of any shape) w.r.t. ``wrt``."""
    if layout not in ("numerator", "denominator"):
        raise DerivativeError(f"layout must be 'numerator' or 'denominator', not {layout!r}")
    target = _target(model, of)
    variables = _variables(model, wrt)
    model, values = lift(model)
    defs, _ = _active(model, target, variables)
    names = _names(defs, variables)
    if target.name in {v.name for v in variables}:
        raise at_definition(model, target.name, f"{target.name} is both the function and a variable")
    if _dependence(model, target, variables) is None:
        _, jvp, steps = forward(model, target, variables)
        lin = jvp.get(target.name, b.zero(target.shape))
        lin = _symmetric_directions(simplify_all([lin], names)[0], variables)
        ident = _identified(lin, variables, names, model) if not b.is_zero(lin) else Identification((), {})
    else:
        # a definition among the variables depends on another one: each variable's Jacobian is
        # taken on its own (for an input, the definitions after it follow it), as gradients are
        lins, found, steps = [], {}, []
        for v in variables:
            _, jvp, st = forward(model, target, (v,))
            steps += st
            lin_v = _symmetric_directions(
                simplify_all([jvp.get(target.name, b.zero(target.shape))], names)[0], (v,)
            )
            lins.append(lin_v)
            if not b.is_zero(lin_v):
                found.update(_identified(lin_v, (v,), names, model).blocks)
        lin = simplify_all([b.add(*lins)], names)[0]
        ident = Identification((), found)
    blocks = []
    for v in variables:
        m = ident.blocks.get(v.name, b.zero((k.size(target.shape), k.size(v.shape))))
        blocks.append(k.transpose(m) if layout == "denominator" else m)
    return JacobianDerivation(model, target, variables, lin, tuple(blocks), layout, tuple(steps), ident, values)


def hessian(model: Model, wrt: list[str] | tuple[str, ...], of: str | None = None) -> HessianDerivation:
    """The Hessian of the scalar ``of`` w.r.t. ``wrt``: maps and explicit blocks."""
    grad = derive(model, list(wrt), of, name_variables=False)
    model = grad.model  # with the nested values it named (:func:`matcalc.forward.lift`)
    target, variables = grad.of, grad.wrt
    pair = _dependence(model, target, variables)
    if pair is not None:
        d, v = pair
        raise at_definition(
            model,
            d.name,
            f"{d.name} depends on {v.name}: a Hessian needs independent variables "
            f"(differentiate w.r.t. {v.name} or hold {d.name} fixed without {v.name})",
        )
    defs, _ = _active(model, target, variables)
    names = _names(defs, variables)
    diff, jvp, steps = forward(model, target, variables)
    # the named adjoints are definitions of the gradients: the JVP of each value, in order
    # (each uses only the adjoints before it), with d(δV) standing for it afterwards
    adjoint_jvp: dict[str, Expr] = {}

    def substituted(raw: Expr) -> Expr:
        sub = {
            Diff(u): adjoint_jvp[u.name] if u.role == "adjoint" else jvp.get(u.name, b.zero(u.shape))
            for u in _diffs(raw)
        }
        return _bounded(model, b.substitute(raw, sub) if sub else raw)

    for v, value in grad.adjoints:
        raw = diff(value)
        name = adjoint_name(v)
        adjoint_jvp[name.name] = substituted(raw)
        steps.append(ForwardStep(name, raw, adjoint_jvp[name.name]))
    maps = []
    raws = []
    idents = []
    blocks: dict[tuple[str, str], Expr] = {}
    for i, (v, g) in enumerate(zip(variables, grad.gradients)):
        raw = diff(g)
        raws.append(raw)
        lin = substituted(raw)
        lin = _symmetric_directions(simplify_all([lin], names)[0], variables)
        maps.append(lin)
        ident = _identified(lin, variables, names, model) if not b.is_zero(lin) else Identification((), {})
        idents.append(ident)
        for w in variables[i:]:
            blocks[(v.name, w.name)] = ident.blocks.get(w.name, b.zero((k.size(v.shape), k.size(w.shape))))
    return HessianDerivation(
        model, target, variables, grad, tuple(maps), blocks, tuple(steps), tuple(idents), tuple(raws)
    )
