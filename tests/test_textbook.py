"""Textbook forms: results read as a textbook writes them, each form a named rule (or
symmetry known from a declaration or from how a matrix is built), proved numerically."""

from __future__ import annotations

import pytest

import matcalc
from matcalc import build as b
from matcalc.check import check
from matcalc.dims import symbol
from matcalc.expr import Var
from matcalc.printing.text import to_text

#: (what, model, wrt, expected text of each gradient)
FORMS = [
    ("G : I = tr(G)", "G: matrix(n, n); alpha: scalar; f = sum(G .* (alpha*eye(n)))", "alpha", ["tr(G)"]),
    (
        "Pᵀ : A = tr(P A)",
        "A: matrix(n, n); alpha: scalar; K = eye(n) + alpha*A; f = det(K)",
        "alpha",
        ["f tr(inv(K) A)"],
    ),
    (
        "Pᵀ : A = tr(P A), P symmetric",
        "A: symmetric(n); alpha: scalar; K = eye(n) + alpha*A; f = det(K)",
        "alpha",
        ["f tr(inv(K) A)"],
    ),
    (
        "a name times a Frobenius product is no function call",
        "B, X: matrix(n, n); alpha: scalar; g = sum(X.*X); f = g*(B:(alpha*X))",
        "alpha",
        ["g · (B : X)"],
    ),
    ("sigmoid", "u: vector(n); f = sum(log(1 + exp(-u)))", "u", ["−sigmoid(−u)"]),
    (
        "a definition's value, transposed",
        "X: matrix(m, n); y: vector(m); lambda: scalar; w = inv(X'*X + lambda*eye(n))*X'*y; f = sum(w)",
        "X",
        ["(y − X w) 𝟏ᵀ inv(Xᵀ X + λ I) − X inv(Xᵀ X + λ I) 𝟏 wᵀ"],
    ),
    (
        "symmetric by construction: α exp(−D/β) + σI of a symmetric D",
        "D: symmetric(n); x: vector(n); alpha, beta, sigma: scalar; "
        "K = alpha*exp(-D/beta) + sigma*eye(n); f = x'*inv(K)*x",
        "alpha,x",
        ["−(inv(K) x xᵀ inv(K) : exp(−D / β))", "2 inv(K) x"],
    ),
    ("symmetric by construction: A + Aᵀ", "A: matrix(n, n); x: vector(n); S = A + A'; f = x'*inv(S)*x", "A",
     ["−2 inv(S) x xᵀ inv(S)"]),
    ("symmetric by construction: AᵀA", "A: matrix(n, n); x: vector(n); S = A'*A; f = x'*inv(S)*x", "x",
     ["2 inv(S) x"]),
    ("an inverse's name read as the inverse: inv(Y) = X, Yᵀ Xᵀ = I",
     "X: matrix(n, n); Y = inv(X); f = logdet(Y) + tr(Y*X)", "X", ["−Yᵀ"]),
    ("an inverse of an inverse's name", "X: matrix(n, n); A: matrix(n, n); Y = inv(X); Z = inv(Y); "
     "f = tr(A*Z)", "X", ["Aᵀ"]),
    ("symmetric by declaration, scaled and summed", "S, T: symmetric(n); x: vector(n); alpha: scalar; "
     "K = alpha*S + T; f = x'*K*x", "x", ["2 K x"]),
]


@pytest.mark.parametrize("what,model,wrt,expected", FORMS, ids=[f[0] for f in FORMS])
def test_textbook_form(what, model, wrt, expected):
    g = matcalc.grad(model, wrt=wrt)
    assert [to_text(e) for e in g.gradients.values()] == expected
    for seed in (0, 1):
        assert check(g.derivation, seed=seed).ok, (what, g.text())


def test_symmetric_by_construction():
    n = symbol("n")
    A = Var("A", (n, n))
    S = Var("S", (n, n), symmetric=True)
    for e in (b.add(A, b.transpose(A)), b.mul(b.transpose(A), A), b.call("inv", S),
              b.apply("exp", S), b.add(b.scale(3, S), b.eye(n))):
        assert b.is_symmetric(e) and b.transpose(e) == e
    assert not b.is_symmetric(b.add(A, S))


def test_the_gradient_wrt_a_definition_symmetric_by_construction_is_on_symmetric_matrices():
    """Like a declared symmetric input's: the definition only ever varies symmetrically
    (so its transposes may be dropped), and the check perturbs it so."""
    cases = [
        ("X, P: matrix(n, n); Y = X'*X + eye(n); f = sum(Y .* (P*X))", "Y", "1/2 (P X + Xᵀ Pᵀ)"),
        ("P: symmetric(k); a1: vector(k); G1 = P; f = (G1*a1)'*(G1*a1)", "G1", "a1 a1ᵀ G1 + G1 a1 a1ᵀ"),
    ]
    for model, wrt, expected in cases:
        g = matcalc.grad(model, wrt=wrt)
        assert to_text(g[wrt]) == expected
        assert check(g.derivation, seed=3).ok, g.text()
