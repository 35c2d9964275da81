"""Every simplification rule of the explicit-matrix notation (``matcalc.kron``), proven
numerically: the expression before and after the rule, on random matrices of distinct sizes."""

from __future__ import annotations

import numpy as np
import pytest

from matcalc import build as b
from matcalc import kron as k
from matcalc.evaluate import Evaluator
from matcalc.expr import Add, Mul, Var


def var(name: str, r: int, c: int) -> Var:
    return Var(name, (r, c))


def _value(e, env):
    return k.evaluate(e, Evaluator(env, {}))


def _raw_product(*factors):
    """A product kept as written (the rules have not run)."""
    from fractions import Fraction

    return Mul(Fraction(1), (), tuple(factors), (factors[0].shape[0], factors[-1].shape[1]))


A, B, C, D = var("A", 2, 3), var("B", 5, 6), var("C", 3, 4), var("D", 6, 7)
a_row, B45, M64 = var("a", 1, 3), var("B2", 4, 5), var("M", 6, 4)
a_col, M56 = var("c", 3, 1), var("N", 5, 6)

CASES = {
    "(A ⊗ B)(C ⊗ D) = AC ⊗ BD": _raw_product(k.Kron(A, B), k.Kron(C, D)),
    "M(aᵀ ⊗ B) = aᵀ ⊗ MB": _raw_product(M64, k.Kron(a_row, B45)),
    "M(A ⊗ bᵀ) = MA ⊗ bᵀ": _raw_product(M64, k.Kron(B45, a_row)),
    "(a ⊗ B)M = a ⊗ BM": _raw_product(k.Kron(a_col, B45), M56),
    "(A ⊗ b)M = AM ⊗ b": _raw_product(k.Kron(B45, a_col), M56),
    "K(n,m) K(m,n) = I": _raw_product(k.Commutation(4, 3), k.Commutation(3, 4)),
    "(aᵀ ⊗ B) K(n,s) = B ⊗ aᵀ": _raw_product(k.Kron(a_row, B45), k.Commutation(3, 5)),
    "K(r,m)(a ⊗ B) = B ⊗ a": _raw_product(k.Commutation(4, 3), k.Kron(a_col, B45)),
    "vec(A)ᵀ(C ⊗ B) = vec(Bᵀ A C)ᵀ": _raw_product(
        b.transpose(b.call("vec", var("G", 5, 2))), k.Kron(var("E", 2, 3), var("F", 5, 4))
    ),
    "𝟏ᵀ Diag(v) = vᵀ": _raw_product(b.ones((1, 4)), b.call("Diag", var("v", 4, 1))),
    "A ⊗ B + A ⊗ C = A ⊗ (B + C)": Add((k.Kron(A, B), k.Kron(A, var("B3", 5, 6))), k.Kron(A, B).shape),
}


def _env(e, rng):
    env = {}
    for n in e.walk():
        if isinstance(n, Var) and n.name not in env:
            env[n.name] = rng.normal(size=n.shape)
    return env


@pytest.mark.parametrize("name", list(CASES))
def test_rule_holds_numerically_and_fires(name):
    before = CASES[name]
    after = k.simplify_structure(before)
    assert after != before, "the rule did not fire"
    rng = np.random.default_rng(len(name))
    env = _env(before, rng)
    assert np.allclose(_value(before, env), _value(after, env))


def test_every_rule_has_a_case():
    assert {n for n, _ in k.PAIR_RULES} | {n for n, _ in k.NODE_RULES} <= set(CASES)
    assert len(k.RULE_NAMES) == len(set(k.RULE_NAMES))


@pytest.mark.parametrize(
    "left,right",
    [
        (b.eye(3), b.eye(4)),  # I ⊗ I = I
        (var("x", 3, 1), b.transpose(var("y", 4, 1))),  # x ⊗ yᵀ = x yᵀ
        (b.transpose(var("y", 4, 1)), var("x", 3, 1)),  # yᵀ ⊗ x = x yᵀ
        (b.scale(3, var("P", 2, 3)), var("Q", 4, 5)),  # numbers move out
    ],
)
def test_canonical_kron_numerically(left, right):
    made = k.kron(left, right)
    assert not k.is_kron(made) or k.factors(made)[0] != left
    rng = np.random.default_rng(0)
    env = {**_env(left, rng), **_env(right, rng)}
    want = np.kron(np.atleast_2d(_value(left, env)), np.atleast_2d(_value(right, env)))
    assert np.allclose(_value(made, env), want)


def test_the_kronecker_product_of_results_is_the_registry_kron():
    """One concept: the ⊗ of a Jacobian is the language's kron (its shape rule, its spelling)."""
    from matcalc.expr import Call
    from matcalc.ops.registry import OPS

    made = k.kron(A, B)
    assert isinstance(made, Call) and made.fn == "kron" and "kron" in OPS
    assert made.shape == OPS["kron"].result(A.shape, B.shape)
    rng = np.random.default_rng(2)
    env = _env(made, rng)
    assert np.allclose(Evaluator(env, {})(made), np.kron(env["A"], env["B"]))


def test_transpose_of_structure():
    e = b.mul(k.Kron(A, B), k.Commutation(6, 3))
    rng = np.random.default_rng(1)
    env = _env(e, rng)
    assert np.allclose(_value(k.transpose(e), env), _value(e, env).T)


@pytest.mark.parametrize("times", [2, 3, 4])
def test_powers_of_the_symmetrizer_and_of_k(times):
    """``K(n,n)² = I``: a power of ``αI + βK`` (the symmetrizer applied twice, as a symmetric
    variable's Hessian block does) is ``a I + b K`` again, numerically the same matrix."""
    from fractions import Fraction

    from matcalc.expr import MatPow

    n = 3
    base = b.add(b.scale(Fraction(1, 2), b.eye(n * n)), b.scale(Fraction(3, 2), k.Commutation(n, n)))
    after = k.simplify_structure(MatPow(base, times))
    assert not isinstance(after, MatPow)
    want = np.linalg.matrix_power(0.5 * np.eye(n * n) + 1.5 * k.commutation_matrix(n, n), times)
    assert np.allclose(_value(after, {}), want)
    kk = k.Commutation(n, n)
    assert k.simplify_structure(MatPow(kk, times)) == (kk if times % 2 else b.eye(n * n))
