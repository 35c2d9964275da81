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
    assert not isinstance(made, k.Kron) or made.left != left
    rng = np.random.default_rng(0)
    env = {**_env(left, rng), **_env(right, rng)}
    want = np.kron(np.atleast_2d(_value(left, env)), np.atleast_2d(_value(right, env)))
    assert np.allclose(_value(made, env), want)


def test_transpose_of_structure():
    e = b.mul(k.Kron(A, B), k.Commutation(6, 3))
    rng = np.random.default_rng(1)
    env = _env(e, rng)
    assert np.allclose(_value(k.transpose(e), env), _value(e, env).T)
