"""Kronecker products: the issue's models through ``check`` and through the generated
NumPy module (against the selftest's independent reference), both spellings, and
product sizes in declarations."""

from __future__ import annotations

import pytest

import matcalc
from matcalc import dims
from matcalc.check import check
from matcalc.selftest import case_from_text, check_case

MODELS = [
    ("A: matrix(m, p); X: matrix(n, q); B: matrix(p*q, m*n); f = tr(kron(A, X) * B)", "X,A"),
    ("A: matrix(m, m); B: matrix(n, n); x: vector(m*n); f = x'*kron(A, B)*x", "A,B,x"),
    ("A: matrix(m, m); B: matrix(n, n); x: vector(m*n); f = x'*(A ⊗ B)*x", "A,B,x"),
    ("A: matrix(m, p); B: matrix(n, q); C: matrix(m*n, p*q); f = sum(tanh(kron(A, B)) .* C)", "A,B"),
    ("A: matrix(m, p); x: vector(n); f = normF(kron(sin(A), x))^2", "A,x"),
    ("a: vector(m); b: vector(n); f = sum(exp(kron(a, b')))", "a,b"),
]


@pytest.mark.parametrize("model,wrt", MODELS)
def test_kron_gradients_agree_with_central_differences(model, wrt):
    g = matcalc.grad(model, wrt=wrt.split(","))
    result = check(g.derivation, seed=1)
    assert result.ok, result
    for seed in range(3):
        out = check_case(case_from_text(model, wrt, seed=seed))
        assert out.status == "ok", out.report()


def test_both_spellings_are_one_operation():
    a = matcalc.grad(MODELS[1][0], wrt=["A"])
    b = matcalc.grad(MODELS[2][0], wrt=["A"])
    assert a.text() == b.text() == "∂f/∂A = blockfrob(x xᵀ, B)"


def test_a_scalar_factor_scales():
    g = matcalc.grad("alpha: scalar; X: matrix(m, n); f = sum(kron(alpha, X))", wrt=["X"])
    assert g.text() == "∂f/∂X = α 𝟏 𝟏ᵀ"


def test_product_sizes_in_declarations():
    model = matcalc.parse(
        "x: vector(m*n); B: matrix(q*n, p*m); A: matrix(m, m); C: matrix(n, n); f = x'*kron(A, C)*x + sum(B)"
    )
    m, n, p, q = map(dims.symbol, "mnpq")
    assert model.lookup("x").shape == (dims.mul(m, n), 1)
    assert model.lookup("B").shape == (dims.mul(n, q), dims.mul(p, m))
    assert [str(d) for d in model.lookup("B").shape] == ["n*q", "m*p"]  # factors in a canonical order
    assert model.dims == ("m", "n", "q", "p")


@pytest.mark.parametrize("model,where", [
    ("A: matrix(m, m); B: matrix(n, n); x: vector(n*p); f = x'*kron(A, B)*x", "x'*kron(A, B)"),
    ("x: vector(m*(n+1)); f = sum(x)", "(n+1)"),
    ("A, B: matrix(m, n); f = kron(A)", "kron(A)"),
])
def test_kron_mistakes_are_located(model, where):
    with pytest.raises(matcalc.MatcalcError) as err:
        matcalc.grad(model, wrt=["A"] if "A" in model else ["x"])
    e = err.value
    assert e.line == 1 and e.column == model.index(where) + 1, str(e)


def test_a_product_of_sizes_is_one_size_in_any_order():
    g = matcalc.grad("A: matrix(m, m); B: matrix(n, n); x: vector(n*m); f = x'*kron(A, B)*x", wrt=["x"])
    assert g.derivation.wrt[0].shape == (dims.mul(dims.symbol("n"), dims.symbol("m")), 1)
    assert str(g.derivation.wrt[0].shape[0]) == "m*n"
    assert check(g.derivation).ok
