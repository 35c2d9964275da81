"""Textbook forms of Jacobians and Hessians: a 1×1 product written both ways combines
(``dxᵀ x = xᵀ dx``), and a step that prints as the line before it is no line of its own;
each proved numerically (central differences of the model)."""

from __future__ import annotations

import pytest

import matcalc
from matcalc.check_kinds import check_hessian, check_jacobian

GAUSSIAN = "a*exp(-b*x'*x)"


def test_the_jacobian_of_a_gaussian_bump_combines_the_two_scalar_products():
    j = matcalc.jacobian(GAUSSIAN, "x", convention="mc")
    assert j.text().splitlines() == ["df = −2 a b exp(−b xᵀ x) (xᵀ dx)", "∂f/∂xᵀ = −2 a b exp(−b xᵀ x) xᵀ"]
    for seed in (0, 1):
        assert check_jacobian(j.derivation, seed=seed).ok


def test_the_hessian_map_of_a_gaussian_bump_combines_the_two_scalar_products():
    h = matcalc.hessian(GAUSSIAN, "x", convention="mc")
    assert h.text().splitlines() == [
        "H[dx] = a exp(−b xᵀ x) (4 b²(xᵀ dx) x − 2 b dx)",
        "∂²f/∂x∂xᵀ = a exp(−b xᵀ x) (4 b² x xᵀ − 2 b I)",
    ]
    for seed in (0, 1):
        assert check_hessian(h.derivation, seed=seed).ok


@pytest.mark.parametrize("model", [
    "x: vector(n); A: matrix(n, n); f = exp(x'*A*x + x'*x)",
    "x, y: vector(n); F = (x'*y + y'*x)*x",
])
def test_scalar_products_written_both_ways_are_one_term(model):
    j = matcalc.jacobian(model, "x")
    text = j.text()
    assert "dxᵀ" not in text, text
    for seed in (0, 1):
        assert check_jacobian(j.derivation, seed=seed).ok


LOGISTIC = "X: matrix(m, n); w: vector(n); y: vector(m); f = sum(softplus(X*w)) - y'*X*w"


def test_no_step_of_a_hessian_prints_as_the_line_before_it():
    h = matcalc.hessian(LOGISTIC, "w")
    lines = h.steps_text().splitlines()
    at = next(i for i, line in enumerate(lines) if "[substitute the differentials]" in line)
    printed = [line.split(" = ", 1)[1].split("   [")[0].rstrip() for line in lines[at:] if "   [" in line]
    assert all(a != b for a, b in zip(printed, printed[1:])), h.steps_text()
    assert not any("vec(AX) = (I ⊗ A) vec(X)" in line for line in lines)
    assert "d(∂f/∂w) = Xᵀ Diag(sigmoid(X w) ∘ (1 − sigmoid(X w))) X dw" in h.steps_text()
    for seed in (0, 1):
        assert check_hessian(h.derivation, seed=seed).ok


def test_a_matrix_variable_keeps_its_vec_step():
    """``vec(AX) = (I ⊗ A) vec(X)`` changes what a matrix's line prints: it stays."""
    h = matcalc.hessian("X: matrix(m, n); A: matrix(p, m); f = sum(tanh(A*X))", "X")
    assert "vec(AX) = (I ⊗ A) vec(X)" in h.steps_text()
