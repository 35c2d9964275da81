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

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

from . import build as b
from . import kron as k
from .depth import at_definition
from .differential import Differentiator
from .errors import DerivativeError
from .expr import Add, Adjoint, Call, Diff, Expr, PowerSum, Transpose, Var
from .forward import lift
from .gradient import Derivation, _nodes, _resolve, derive
from .identify import TooLargeError, collect, identify, too_large
from .kron import JacobianOf
from .model import Model
from .rules import HasDifferential
from .simplify import rewrite, simplify_all
from .tangents import Tangents, graft, reachable, resolve


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
    #: The blocks as printed: with the named Jacobians (``blocks`` has them written in).
    named_blocks: tuple[Expr, ...] = ()
    #: The named tangents ``dV`` (:mod:`matcalc.tangents`) with their differentials, in order.
    tangents: tuple[tuple[Var, Expr], ...] = ()
    #: The named Jacobians ``∂vec(V)/∂vec(X)ᵀ`` of the named tangents, with their values.
    jacobians: tuple[tuple[Expr, Expr], ...] = ()
    #: ``differential`` as printed: with the named tangents (``differential`` has them in).
    named_differential: Expr | None = None


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
    #: The maps and blocks as printed: with the named tangents and Jacobians (``maps`` and
    #: ``blocks`` have them written in, for code and checks).
    named_maps: tuple[Expr, ...] = ()
    named_blocks: dict[tuple[str, str], Expr] = field(default_factory=dict)
    tangents: tuple[tuple[Var, Expr], ...] = ()
    jacobians: tuple[tuple[Expr, Expr], ...] = ()

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
) -> tuple[Differentiator, list[tuple[Var, Expr]]]:
    """The JVP's parts: each active definition's differential in the differentials of the names
    it uses, in order (a definition among ``variables`` is held fixed); also the differentiator."""
    defs, active = _active(model, target, variables)
    wrt = {v.name for v in variables}
    diff = ThroughAdjoints(lambda v: v.name in active)
    raws = []
    for var, rhs in defs:
        if var.name in wrt or var.name not in active:
            continue
        raws.append((var, diff(rhs, value=var)))
    return diff, raws


def _forward_steps(raws: list[tuple[Var, Expr]], written: dict[str, Expr]) -> list[ForwardStep]:
    return [ForwardStep(v, raw, written[v.name]) for v, raw in raws]


def _diffs(e: Expr) -> list[Var]:
    return [n.var for n in _nodes(e) if isinstance(n, Diff)]


def _names(defs, variables: tuple[Var, ...]) -> dict[Expr, Var]:
    """Definitions' names for their values; not those among the variables (there the name
    stands for the variable)."""
    return {rhs: var for var, rhs in defs if not isinstance(rhs, Var) and var not in variables}


def _identified(
    lin: Expr,
    variables: tuple[Var, ...],
    names: dict[Expr, Var],
    model: Model | None = None,
    jac: dict[tuple[str, str], Expr] | None = None,
    project: bool = True,
) -> Identification:
    """``d vec(lin)`` identified: the coefficient of each variable's ``d vec``, a named tangent's
    coefficient times its named Jacobian (``jac``) added to each variable's; ``project``: on the
    symmetric space for a symmetric variable."""
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
        through = [
            b.mul(blocks[t], leaf) for (t, x), leaf in (jac or {}).items() if x == v.name and t in blocks
        ]
        if through:
            m = b.add(*([m] if m is not None else []), *through)
        if m is None:
            m = b.zero((rows, k.size(v.shape)))
        if v.symmetric and project:
            d = v.shape[0]
            m = b.mul(m, b.scale(Fraction(1, 2), b.add(b.eye(b.dim_mul(d, d)), k.Commutation(d, d))))
        out[v.name] = tidy(m, names)
    return Identification(tuple(trace), out)


def _named_jacobians(
    t: Tangents, variables: tuple[Var, ...], names: dict[Expr, Var], model: Model
) -> tuple[dict[tuple[str, str], Expr], list[tuple[Expr, Expr]]]:
    """The explicit Jacobian of each named tangent w.r.t. each variable it depends on, in the
    named Jacobians before it (the chain rule): the leaves by pair of names, and each leaf with
    its value."""
    jac: dict[tuple[str, str], Expr] = {}
    values: list[tuple[Expr, Expr]] = []
    for v, value in t.named:
        lin = _symmetric_directions(simplify_all([value], names)[0], variables)
        if b.is_zero(lin):
            continue
        ident = _identified(lin, variables, names, model, jac, project=False)
        for x in variables:
            m = ident.blocks[x.name]
            if not b.is_zero(m):
                leaf = JacobianOf(v, x)
                jac[(v.name, x.name)] = leaf
                values.append((leaf, m))
    return jac, values


def _written_out(values: list[tuple[Expr, Expr]]) -> Callable[[Expr], Expr]:
    """Replaces the named Jacobians by their values, one shared graph."""
    mapping: dict[Expr, Expr] = {}
    memo: dict = {}
    for leaf, m in values:
        mapping[leaf] = graft(m, mapping, memo)
    return lambda e: graft(e, mapping, memo) if mapping else e


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


def _tangent_map(
    model: Model, target: Var, variables: tuple[Var, ...], names: dict[Expr, Var]
) -> tuple[Expr, Tangents, list[ForwardStep]]:
    """``dF`` of ``target``, written with the named tangents (simplified, on symmetric directions),
    the tangents, and the forward steps."""
    _, raws = forward(model, target, variables)
    own = [raw for v, raw in raws if v.name == target.name]
    before = [(v, raw) for v, raw in raws if v.name != target.name]
    root = own[0] if own else b.zero(target.shape)
    t, written = resolve(before, [root], variables, lambda e: _bounded(model, e))
    lin = _bounded(model, t.written(root))
    written[target.name] = lin
    lin = _symmetric_directions(simplify_all([lin], names)[0], variables)
    return lin, t, _forward_steps(raws, written)


def _full(t: Tangents, e: Expr, variables: tuple[Var, ...]) -> Expr:
    """``e`` with its named tangents written in (a shared graph), on symmetric directions."""
    if not t.named:
        return e
    e = t.substituted(e)
    mapping: dict[Expr, Expr] = {Transpose(Diff(v)): Diff(v) for v in variables if v.symmetric}
    return graft(e, mapping, {}) if mapping else e


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
    tangents: list[tuple[Var, Expr]] = []
    jacobians: list[tuple[Expr, Expr]] = []
    written_out = []
    if _dependence(model, target, variables) is None:
        lin, t, steps = _tangent_map(model, target, variables, names)
        full = _full(t, lin, variables)
        jac, jacobians = _named_jacobians(t, variables, names, model)
        tangents = list(t.named)
        written_out.append(_written_out(jacobians))
        ident = (
            _identified(lin, variables, names, model, jac) if not b.is_zero(lin) else Identification((), {})
        )
    else:
        # a definition among the variables depends on another one: each variable's Jacobian is
        # taken on its own (for an input, the definitions after it follow it), as gradients are
        lins, fulls, found, steps = [], [], {}, []
        for v in variables:
            lin_v, t, st = _tangent_map(model, target, (v,), names)
            steps += st
            lins.append(lin_v)
            fulls.append(_full(t, lin_v, (v,)))
            jac, jv = _named_jacobians(t, (v,), names, model)
            tangents += t.named
            jacobians += jv
            written_out.append(_written_out(jv))
            if not b.is_zero(lin_v):
                found.update(_identified(lin_v, (v,), names, model, jac).blocks)
        lin = simplify_all([b.add(*lins)], names)[0]
        full = lin if not tangents else graft(Add(tuple(fulls), target.shape), {}, {})
        ident = Identification((), found)
    named_blocks = []
    blocks = []
    for i, v in enumerate(variables):
        m = ident.blocks.get(v.name, b.zero((k.size(target.shape), k.size(v.shape))))
        m = k.transpose(m) if layout == "denominator" else m
        named_blocks.append(m)
        blocks.append(written_out[min(i, len(written_out) - 1)](m))
    tangents, jacobians = reachable([lin, *named_blocks], tangents, jacobians)
    return JacobianDerivation(
        model, target, variables, full, tuple(blocks), layout, tuple(steps), ident, values,
        tuple(named_blocks), tuple(tangents), tuple(jacobians), lin,
    )


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
    diff, raws = forward(model, target, variables)
    # the named adjoints are definitions of the gradients: the JVP of each value, in order
    # (each uses only the adjoints before it), with d(δV) standing for it afterwards
    raws += [(adjoint_name(v), diff(value)) for v, value in grad.adjoints]
    grad_raws = [diff(g) for g in grad.gradients]
    t, written = resolve(raws, grad_raws, variables, lambda e: _bounded(model, e))
    steps = _forward_steps(raws, written)
    jac, jacobians = _named_jacobians(t, variables, names, model)
    written_out = _written_out(jacobians)
    maps = []
    named_maps = []
    idents = []
    blocks: dict[tuple[str, str], Expr] = {}
    named_blocks: dict[tuple[str, str], Expr] = {}
    for i, (v, raw) in enumerate(zip(variables, grad_raws)):
        lin = _bounded(model, t.written(raw))
        lin = _symmetric_directions(simplify_all([lin], names)[0], variables)
        named_maps.append(lin)
        maps.append(_full(t, lin, variables))
        ident = Identification((), {})
        if not b.is_zero(lin):
            ident = _identified(lin, variables, names, model, jac)
        idents.append(ident)
        for w in variables[i:]:
            m = ident.blocks.get(w.name, b.zero((k.size(v.shape), k.size(w.shape))))
            named_blocks[(v.name, w.name)] = m
            blocks[(v.name, w.name)] = written_out(m)
    tangents, shown = reachable([*named_maps, *named_blocks.values()], t.named, jacobians)
    return HessianDerivation(
        model, target, variables, grad, tuple(maps), blocks, tuple(steps), tuple(idents), tuple(grad_raws),
        tuple(named_maps), named_blocks, tangents, shown,
    )
