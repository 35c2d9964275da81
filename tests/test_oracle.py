"""An exact oracle, independent of finite differences: for small fixed sizes, each model of
the identity table and its derived gradient are expanded into SymPy matrices of symbols,
and ``∂f/∂Xᵢⱼ`` (SymPy's own derivative of the expanded value) minus the gradient's entry
must simplify to zero. Every function is spelt by its registry entry's SymPy form."""

from __future__ import annotations

import pytest
import sympy as sp
from identities import IDENTITIES

import matcalc
from matcalc import dims as dimensions
from matcalc.expr import (
    Add,
    Adjoint,
    Apply,
    Call,
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
from matcalc.ops.registry import OPS

#: Small fixed sizes, one per dimension symbol in order of first appearance.
SIZES = (2, 3, 4)


class Expand:
    """Expressions as SymPy matrices (every value 2-D; scalars 1×1)."""

    def __init__(self, env: dict[str, sp.Matrix], sizes: dict[str, int], formulas=()) -> None:
        self.env = env
        self.sizes = sizes
        self.formulas = {f.name: f for f in formulas}
        self.memo: dict[Expr, sp.Matrix] = {}

    def shape(self, e: Expr) -> tuple[int, int]:
        return tuple(dimensions.size(d, self.sizes) for d in e.shape)

    def __call__(self, e: Expr) -> sp.Matrix:
        hit = self.memo.get(e)
        if hit is None:
            hit = self.memo[e] = self.go(e)
        return hit

    def go(self, e: Expr) -> sp.Matrix:
        if isinstance(e, Var):
            return self.env[e.name]
        if isinstance(e, Num):
            return sp.Matrix([[sp.Rational(e.value.numerator, e.value.denominator)]])
        if isinstance(e, Ones):
            return sp.ones(*self.shape(e))
        if isinstance(e, Eye):
            return sp.eye(self.shape(e)[0])
        if isinstance(e, Zero):
            return sp.zeros(*self.shape(e))
        if isinstance(e, Add):
            out = self(e.terms[0])
            for t in e.terms[1:]:
                out = out + self(t)
            return out
        if isinstance(e, Mul):
            scale = sp.Rational(e.coef.numerator, e.coef.denominator)
            for s in e.scalars:
                scale *= self(s)[0, 0]
            if not e.chain:
                return sp.Matrix([[scale]])
            out = self(e.chain[0])
            for f in e.chain[1:]:
                out = out * self(f)
            return scale * out
        if isinstance(e, EProd):
            out = None
            for f, k in e.factors:
                v = self(f).applyfunc(lambda x, k=k: x ** sp.Rational(k.numerator, k.denominator))
                out = v if out is None else out.multiply_elementwise(v)
            return out
        if isinstance(e, Apply):
            x = self(e.arg)
            if e.fn in self.formulas:
                form = self.formulas[e.fn].forms[e.order]
                return x.applyfunc(lambda v: form.subs(_u(), v))
            return x.applyfunc(lambda v: OPS[e.fn].sympy(sp, v))
        if isinstance(e, Transpose):
            return self(e.arg).T
        if isinstance(e, Call):
            op = OPS[e.fn]
            args = [self(a) for a in e.args]
            if op.result is None:
                return op.sympy(sp, *args, shape=self.shape(e))
            return op.sympy(sp, *args)
        if isinstance(e, Frob):
            return sp.Matrix([[sum(self(e.left).multiply_elementwise(self(e.right)))]])
        if isinstance(e, MatPow):
            return self(e.base) ** e.k
        if isinstance(e, PowerSum):
            left, mid, right = self(e.left), self(e.mid), self(e.right)
            first = mid * right ** (e.k - 1)
            return sum((left**i * mid * right ** (e.k - 1 - i) for i in range(1, e.k)), first)
        if isinstance(e, Adjoint):
            return self.env["δ" + e.var.name]
        raise TypeError(type(e).__name__)


def _u():
    from matcalc.formulas import symbol

    return symbol()


def _symbols(v: Var, shape: tuple[int, int]) -> sp.Matrix:
    r, c = shape
    if v.symmetric:
        return sp.Matrix(r, c, lambda i, j: sp.Symbol(f"{v.name}_{min(i, j)}{max(i, j)}", real=True))
    return sp.Matrix(r, c, lambda i, j: sp.Symbol(f"{v.name}_{i}{j}", real=True))


def _zero(e) -> bool:
    # step(x) is Heaviside(x, 0); SymPy's derivative of Max(0, x) is Heaviside(x): they differ at 0 only
    e = e.replace(sp.Heaviside, lambda a, *h: sp.Heaviside(a, 0)).replace(sp.DiracDelta, lambda *a: 0)
    e = sp.expand(e)
    if e == 0:
        return True
    return sp.simplify(e) == 0


def exact_check(model_text: str, wrt: list[str]) -> None:
    """Raises AssertionError at the first entry where the gradient is not SymPy's derivative."""
    model = matcalc.parse(model_text)
    g = matcalc.grad(model, wrt=wrt)
    sizes = dict(zip(model.dims, SIZES))
    env = {}
    for v in model.inputs:
        env[v.name] = _symbols(v, tuple(dimensions.size(d, sizes) for d in v.shape))
    ex = Expand(env, sizes, model.formulas)
    for var, rhs in model.definitions:
        env[var.name] = ex(rhs)
    for var, value in g.derivation.adjoints:  # the named adjoints δV the gradients use
        env["δ" + var.name] = ex(value)
    f = env[g.derivation.of.name][0, 0]
    for v, grad in zip(g.derivation.wrt, g.derivation.gradients):
        x = env[v.name]
        gx = ex(grad)
        gx = gx if gx.shape == x.shape else sp.ones(*x.shape) * gx[0, 0]  # a broadcast scalar
        for i in range(x.rows):
            for j in range(x.cols):
                if v.symmetric and j < i:
                    continue
                want = sp.diff(f, x[i, j])
                got = gx[i, j] + (gx[j, i] if v.symmetric and i != j else 0)
                assert _zero(want - got), f"∂{g.of}/∂{v.name}[{i},{j}]: {got} ≠ {want}"


@pytest.mark.parametrize("name,model,wrt", [(n, m, w) for n, m, w, _ in IDENTITIES],
                         ids=[n for n, *_ in IDENTITIES])
def test_identity_gradients_are_exact(name, model, wrt):
    exact_check(model, wrt.split(","))


@pytest.mark.parametrize("model,wrt", [
    ("A: matrix(m, p); X: matrix(n, n); B: matrix(p*n, m*n); f = tr(kron(A, X) * B)", "A,X"),
    ("A: matrix(m, m); B: matrix(n, n); x: vector(m*n); f = x'*kron(A, B)*x", "A,B,x"),
    ("softsign(u) = u / (1 + abs(u)); swish(u) = u * sigmoid(u); x, a: vector(n); f = a'*softsign(x)"
     " + sum(swish(x))", "x,a"),
    ("X: matrix(m, n); a: vector(m*n); f = vec(X)'*sin(a)", "X,a"),
])
def test_new_operations_are_exact(model, wrt):
    exact_check(model, wrt.split(","))


def test_the_oracle_catches_a_wrong_derivative(monkeypatch):
    """A deliberately wrong table entry fails the exact check (it is not vacuous)."""
    from dataclasses import replace

    from matcalc import build as b

    model = "W: matrix(m, n); x: vector(n); f = sum(tanh(W*x))"
    exact_check(model, ["W"])
    monkeypatch.setitem(OPS, "tanh", replace(OPS["tanh"], derivative=lambda x, y: b.sub(b.ones(x.shape), y)))
    with pytest.raises(AssertionError, match="∂f/∂W"):
        exact_check(model, ["W"])
