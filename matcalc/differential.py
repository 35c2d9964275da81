"""The differential of every operation, one table line each.

``differential(e)`` returns ``de``: an expression of ``e``'s shape, linear in
the :class:`~matcalc.expr.Diff` leaves ``dV`` of the active names (those that
depend on the variables being differentiated). Entry-wise functions are
described by their scalar derivative ``f'(x)``, written with the argument
``x`` and, where shorter, the function's own value ``y = f(x)``.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

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


def _one_minus(e: Expr) -> Expr:
    return b.sub(b.ones(e.shape), e)


#: f'(x) for each entry-wise function, given the argument x and the value y = f(x).
DERIVATIVES: dict[str, Callable[[Expr, Expr], Expr]] = {
    "exp": lambda x, y: y,
    "log": lambda x, y: b.power(x, -1),
    "sin": lambda x, y: b.apply("cos", x),
    "cos": lambda x, y: b.neg(b.apply("sin", x)),
    "tan": lambda x, y: b.add(b.ones(x.shape), b.power(y, 2)),
    "arcsin": lambda x, y: b.power(_one_minus(b.power(x, 2)), Fraction(-1, 2)),
    "arccos": lambda x, y: b.neg(b.power(_one_minus(b.power(x, 2)), Fraction(-1, 2))),
    "arctan": lambda x, y: b.power(b.add(b.ones(x.shape), b.power(x, 2)), -1),
    "tanh": lambda x, y: _one_minus(b.power(y, 2)),
    "sigmoid": lambda x, y: b.eprod(y, _one_minus(y)),
    "relu": lambda x, y: b.apply("step", x),
    "step": lambda x, y: b.zero(x.shape),
    "sq": lambda x, y: b.scale(2, x),
    "sqrt": lambda x, y: b.scale(Fraction(1, 2), b.power(y, -1)),
    "abs": lambda x, y: b.apply("sign", x),
    "sign": lambda x, y: b.zero(x.shape),
    "softplus": lambda x, y: b.apply("sigmoid", x),
    "log1p": lambda x, y: b.power(b.add(b.ones(x.shape), x), -1),
}

#: d f(X) for each structural function, given X, its value Y = f(X) and dX.
CALL_DIFFERENTIALS: dict[str, Callable[[Expr, Expr, Expr], Expr]] = {
    "sum": lambda x, y, dx: b.call("sum", dx),
    "tr": lambda x, y, dx: b.call("tr", dx),
    "diag": lambda x, y, dx: b.call("diag", dx),
    "Diag": lambda x, y, dx: b.call("Diag", dx),
    "vec": lambda x, y, dx: b.call("vec", dx),
    "inv": lambda x, y, dx: b.neg(b.mul(y, dx, y)),
    "det": lambda x, y, dx: b.mul(y, b.call("tr", b.mul(b.call("inv", x), dx))),
    "logdet": lambda x, y, dx: b.call("tr", b.mul(b.call("inv", x), dx)),
    "norm1": lambda x, y, dx: b.frob(b.apply("sign", x), dx),
    "norm2": lambda x, y, dx: b.mul(b.frob(x, dx), b.power(y, -1)),
    "normF": lambda x, y, dx: b.mul(b.frob(x, dx), b.power(y, -1)),
    "softmax": lambda x, y, dx: b.sub(b.eprod(y, dx), b.mul(y, b.transpose(y), dx)),
    "logsumexp": lambda x, y, dx: b.frob(b.call("softmax", x), dx),
    "unvec": lambda x, y, dx: Call("unvec", (dx,), y.shape),
}


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
            if e.fn in DERIVATIVES:
                slope = DERIVATIVES[e.fn](e.arg, y)
            else:
                slope = b.apply(e.fn, e.arg, e.order + 1)
            return b.eprod(slope, d(e.arg))
        if isinstance(e, Transpose):
            return b.transpose(d(e.arg))
        if isinstance(e, Call):
            rule = CALL_DIFFERENTIALS.get(e.fn)
            if rule is None:
                raise DerivativeError(f"{e.fn} has no derivative rule")
            return rule(e.args[0], y, d(e.args[0]))
        if isinstance(e, Frob):
            return b.add(b.frob(d(e.left), e.right), b.frob(e.left, d(e.right)))
        if isinstance(e, MatPow):  # d(Xᵏ) = Σ_{i=0}^{k−1} Xⁱ dX X^{k−1−i}
            return b.power_sum(e.base, d(e.base), e.base, e.k)
        if isinstance(e, PowerSum):
            raise DerivativeError("a sum over the terms of a matrix power has no differential rule")
        if isinstance(e, (Num, Ones, Eye, Zero)):
            return b.zero(e.shape)
        raise DerivativeError(f"no differential rule for {type(e).__name__}")
