"""The derivative of the kind a front end asks for: what ``matcalc serve`` and the
``%%matcalc`` cell magic share (``kind`` is ``gradient``, ``jacobian`` or ``hessian``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .errors import MatcalcError

#: The derivative kinds, as the page, the JSON endpoint and the cell magic name them.
KINDS: tuple[str, ...] = ("gradient", "jacobian", "hessian")


def derivative(
    kind: str,
    model: str,
    wrt: str | Iterable[str],
    of: str | None = None,
    layout: str | None = None,
    convention: str | None = None,
):
    """``matcalc.grad``, ``matcalc.jacobian`` or ``matcalc.hessian`` of ``model``, as ``kind``
    says (``layout`` is the Jacobian's, ``numerator`` unless given)."""
    if kind == "gradient":
        from .api import grad

        return grad(model, wrt=wrt, of=of, convention=convention)
    if kind == "jacobian":
        from .kinds_api import jacobian

        return jacobian(model, wrt=wrt, of=of, layout=layout or "numerator", convention=convention)
    if kind == "hessian":
        from .kinds_api import hessian

        return hessian(model, wrt=wrt, of=of, convention=convention)
    raise MatcalcError(f"unknown kind {kind!r}; expected one of: {', '.join(KINDS)}")


@dataclass(frozen=True)
class Checked:
    """A derivative against central differences: one relative error per label."""

    labels: tuple[str, ...]
    errors: tuple[float, ...]
    tolerance: float
    ok: bool


def check_numerically(d, seed: int = 0) -> Checked:
    """``d`` (what :func:`derivative` returned) against central differences on random inputs."""
    from .api import Gradient

    if isinstance(d, Gradient):
        from .check import check

        r = check(d.derivation, seed=seed)
        labels = tuple(f"∂{d.of}/∂{name}" for name in r.names)
        return Checked(labels, tuple(float(e) for e in r.errors), r.tolerance, bool(r.ok))
    from .check_kinds import check_hessian, check_jacobian
    from .kinds_api import Jacobian

    run = check_jacobian if isinstance(d, Jacobian) else check_hessian
    r = run(d.derivation, seed=seed)
    labels = tuple(_label(d, key) for key in r.errors)
    return Checked(labels, tuple(float(e) for e in r.errors.values()), r.tolerance, bool(r.ok))


def _label(d, key: str) -> str:
    """What a check of :mod:`matcalc.check_kinds` compared (``J X``, ``H X,Y``, ``map X``,
    ``symmetry``), as the result prints it."""
    from .kinds_api import hessian_label, jacobian_label
    from .printing.text import greek

    der = d.derivation
    var = {v.name: v for v in der.wrt}
    what, _, names = key.partition(" ")
    if what == "J":
        return jacobian_label(der.of, var[names], d.layout, False)
    if what == "H":
        x, y = names.split(",")
        return hessian_label(der.of, var[x], var[y], False)
    if what == "map":
        if not names:  # a Jacobian's: dF
            at = f"d{greek(d.of)}"
        elif len(der.wrt) == 1:
            at = f"H[d{greek(names)}]"
        else:
            at = f"d(∂{greek(d.of)}/∂{greek(names)})"
        return f"the map {at} against the blocks"
    if what == "symmetry":
        return "the Hessian against its transpose"
    return key
