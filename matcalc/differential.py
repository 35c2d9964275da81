"""The differential of every expression: the rules for the node types here, and
for functions the operation registry (:mod:`matcalc.ops`): each entry-wise
function's scalar derivative ``f'(x)`` and each structural function's JVP per
argument.

``differential(e)`` returns ``de``: an expression of ``e``'s shape, linear in
the :class:`~matcalc.expr.Diff` leaves ``dV`` of the active names (those that
depend on the variables being differentiated). A function without an entry
(a declared ``elementwise`` or formula-defined one) has the derivative
``f'``, written as ``Apply(f, x, order + 1)``.
"""

from __future__ import annotations

from collections.abc import Callable

from . import build as b
from .errors import DerivativeError
from .expr import (
    Add,
    Apply,
    Call,
    Diff,
    EProd,
    Expr,
    Eye,
    Frob,
    MatPow,
    Mul,
    Num,
    Ones,
    PowerSum,
    Transpose,
    Var,
    Zero,
)
from .ops.registry import OPS


class Differentiator:
    """Takes differentials w.r.t. a set of active names, remembering results."""

    def __init__(self, active: Callable[[Var], bool]) -> None:
        self.active = active
        self._memo: dict[Expr, Expr] = {}
        self._live: dict[Expr, bool] = {}

    def live(self, e: Expr) -> bool:
        """Whether ``e`` depends on an active name."""
        hit = self._live.get(e)
        if hit is None:
            if isinstance(e, Var):
                hit = self.active(e)
            else:
                hit = any(self.live(c) for c in e.children())
            self._live[e] = hit
        return hit

    def __call__(self, e: Expr, value: Expr | None = None) -> Expr:
        """``de``; ``value`` names ``e`` (a definition's variable) for use in ``f'``."""
        if not self.live(e):
            return b.zero(e.shape)
        if value is None:
            hit = self._memo.get(e)
            if hit is not None:
                return hit
        out = self._rule(e, e if value is None else value)
        if value is None:
            self._memo[e] = out
        return out

    def _rule(self, e: Expr, y: Expr) -> Expr:
        d = self
        if isinstance(e, Var):
            return Diff(e)
        if isinstance(e, Add):
            return b.add(*(d(t) for t in e.terms))
        if isinstance(e, Mul):
            factors = e.scalars + e.chain
            terms = []
            for i, f in enumerate(factors):
                if d.live(f):
                    terms.append(b.mul(Num(e.coef), *factors[:i], d(f), *factors[i + 1 :]))
            return b.add(*terms)
        if isinstance(e, EProd):
            terms = []
            for i, (f, k) in enumerate(e.factors):
                if d.live(f):
                    rest = e.factors[:i] + ((f, k - 1),) + e.factors[i + 1 :]
                    terms.append(b.mul(b.num(k), b.eprod(*rest, d(f))))
            return b.add(*terms)
        if isinstance(e, Apply):
            op = OPS.get(e.fn)
            if op is not None and op.derivative is not None and e.order == 0:
                slope = op.derivative(e.arg, y)
            else:
                slope = b.apply(e.fn, e.arg, e.order + 1)
            return b.eprod(slope, d(e.arg))
        if isinstance(e, Transpose):
            return b.transpose(d(e.arg))
        if isinstance(e, Call):
            op = OPS.get(e.fn)
            if op is None or len(op.jvp) != len(e.args):
                raise DerivativeError(f"{e.fn} has no derivative rule")
            if len(e.args) == 1:  # live, since e is
                return op.jvp[0](e.args, y, d(e.args[0]))
            return b.add(*(jvp(e.args, y, d(a)) for jvp, a in zip(op.jvp, e.args) if d.live(a)))
        if isinstance(e, Frob):
            return b.add(b.frob(d(e.left), e.right), b.frob(e.left, d(e.right)))
        if isinstance(e, MatPow):  # d(Xᵏ) = Σ_{i=0}^{k−1} Xⁱ dX X^{k−1−i}
            return b.power_sum(e.base, d(e.base), e.base, e.k)
        if isinstance(e, PowerSum):
            raise DerivativeError("a sum over the terms of a matrix power has no differential rule")
        if isinstance(e, (Num, Ones, Eye, Zero)):
            return b.zero(e.shape)
        raise DerivativeError(f"no differential rule for {type(e).__name__}")
