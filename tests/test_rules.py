"""Every Frobenius rewrite rule and every simplification rule, proved numerically.

Each case builds ``G : L`` with ``L`` linear in differentials, applies one
rule, and checks that both sides agree on random inputs of random,
distinct sizes — so a missing transpose cannot hide in a square matrix.
"""

from fractions import Fraction

import numpy as np
import pytest

from matcalc import build as b
from matcalc import rules, simplify
from matcalc.dims import mul, symbol
from matcalc.evaluate import Evaluator
from matcalc.expr import Call, Diff, Expr, Var

DIMS = ("m", "n", "p")
m, n, p = map(symbol, DIMS)


def _sizes(rng):
    return dict(zip(DIMS, (int(s) for s in rng.choice(np.arange(2, 9), 3, replace=False))))


def _env(rng, exprs, sizes, positive=()):
    env = {}
    ev = Evaluator({}, sizes)
    for e in exprs:
        for node in e.walk():
            if isinstance(node, Var) and node.name not in env:
                shape = ev.shape(node)
                v = rng.uniform(0.5, 1.5, shape) if node.name in positive else rng.normal(size=shape)
                if node.symmetric:
                    v = (v + v.T) / 2
                env[node.name] = v
            if isinstance(node, Diff) and "d" + node.var.name not in env:
                env["d" + node.var.name] = rng.normal(size=ev.shape(node))
    return env


A = Var("A", (m, n))
B = Var("B", (n, p))
C = Var("C", (p, m))
X = Var("X", (n, p))
Xs = Var("Xs", (n, n))
x = Var("x", (n, 1))
H = Var("H", (n, p))
alpha = Var("alpha", (1, 1))
dX, dXs, dx, dalpha = Diff(X), Diff(Xs), Diff(x), Diff(alpha)

#: (rule expected, G, L): one linear expression per rule of rules.py.
PULLS = [
    (rules.SUM, Var("G", (n, p)), b.add(dX, b.mul(Xs, dX))),
    (rules.SCALAR_OUT, Var("G", (n, p)), b.mul(alpha, dX)),
    (rules.SCALAR_IN, Var("G", (n, p)), b.mul(dalpha, X)),
    (rules.LEFT, Var("G", (m, p)), b.mul(A, dX)),
    (rules.RIGHT, Var("G", (n, m)), b.mul(dX, C)),
    (rules.BOTH, Var("G", (m, m)), b.mul(A, dX, C)),
    (rules.HADAMARD, Var("G", (n, p)), b.eprod(H, dX)),
    (rules.HADAMARD, Var("G", (n, p)), b.div(dX, Var("P", (n, p)))),
    (rules.TRANSPOSE, Var("G", (p, n)), b.transpose(dX)),
    (rules.SUM_ALL, Var("g", (1, 1)), b.call("sum", dX)),
    (rules.TRACE, Var("g", (1, 1)), b.call("tr", dXs)),
    (rules.DIAG, Var("G", (n, 1)), b.call("diag", dXs)),
    (rules.DIAG_MAT, Var("G", (n, n)), b.call("Diag", dx)),
    (rules.VEC, Var("G", (mul(n, p), 1)), b.call("vec", dX)),
    (rules.UNVEC, Var("G", (n, p)), Call("unvec", (Diff(Var("v", (mul(n, p), 1))),), (n, p))),
    (rules.FROB, Var("g", (1, 1)), b.frob(H, dX)),
    (rules.POWER_SUM, Var("G", (n, n)), b.power_sum(Xs, dXs, Var("R", (n, n)), 5)),
    # through a Kronecker product, and through the pulls it makes
    (rules.KRON_LEFT, Var("G", (mul(m, n), mul(n, p))),
     b.call("kron", Diff(Var("Xk", (m, n))), Var("Yk", (n, p)))),
    (rules.KRON_RIGHT, Var("G", (mul(m, n), mul(n, p))),
     b.call("kron", Var("Xk", (m, n)), Diff(Var("Yk", (n, p))))),
    (rules.BLOCKFROB_LEFT, Var("H", (m, n)),
     b.call("blockfrob", Diff(Var("Gk", (mul(m, n), mul(n, p)))), Var("Yk", (n, p)), shape=(m, n))),
    (rules.BLOCKFROB_RIGHT, Var("H", (m, n)),
     b.call("blockfrob", Var("Gk", (mul(m, n), mul(n, p))), Diff(Var("Yk", (n, p))), shape=(m, n))),
    (rules.BLOCKSUM_LEFT, Var("H", (n, p)),
     b.call("blocksum", Diff(Var("Gk", (mul(m, n), mul(n, p)))), Var("Xk", (m, n)), shape=(n, p))),
    (rules.BLOCKSUM_RIGHT, Var("H", (n, p)),
     b.call("blocksum", Var("Gk", (mul(m, n), mul(n, p))), Diff(Var("Xk", (m, n))), shape=(n, p))),
]


@pytest.mark.parametrize("rule,g,lin", PULLS, ids=[f"{r.name}-{i}" for i, (r, _, _) in enumerate(PULLS)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pull_is_an_identity(rule, g, lin, seed):
    rng = np.random.default_rng(seed)
    sizes = _sizes(rng)
    used, pieces = rules.pull(g, lin, rules.HasDifferential())
    assert used == rule
    lhs = b.frob(g, lin)
    rhs = b.add(*(b.frob(gi, li) for gi, li in pieces))
    env = _env(rng, [lhs, rhs], sizes, positive=("P",))
    ev = Evaluator(env, sizes)
    assert np.allclose(ev(lhs), ev(rhs), rtol=1e-10, atol=1e-10)


def test_separate_reaches_bare_differentials():
    g = Var("G", (m, m))
    lin = b.add(b.mul(A, b.add(dX, b.mul(Xs, dX)), C), b.mul(A, b.eprod(H, dX), C))
    done = rules.separate(g, lin)
    assert all(isinstance(d, Diff) for _, d in done)
    rng = np.random.default_rng(3)
    sizes = _sizes(rng)
    lhs = b.frob(g, lin)
    rhs = b.add(*(b.frob(gi, di) for gi, di in done))
    env = _env(rng, [lhs, rhs], sizes)
    ev = Evaluator(env, sizes)
    assert np.allclose(ev(lhs), ev(rhs))


S = Var("S", (n, n), symmetric=True)
y = Var("y", (n, 1))
h = Var("h", (n, 1))
s1, s2 = Var("s", (1, 1)), Var("u", (1, 1))

#: (rule name, expression it must rewrite).
SIMPLIFICATIONS = [
    ("AX + BX = (A + B)X", b.add(b.mul(Xs, x), b.mul(b.transpose(Xs), x))),
    ("XA + XB = X(A + B)", b.add(b.mul(A, B), b.mul(A, Var("B2", (n, p))))),
    # two of three terms share the last factor and the shape of what is left
    ("AX + BX = (A + B)X", b.add(b.mul(Xs, x), b.mul(S, x), b.mul(s1, x))),
    ("αA + αB = α(A + B)", b.add(b.mul(s1, s2, Xs), b.mul(b.num(-3), s1, S))),
    ("αA + αB = α(A + B)", b.add(b.mul(b.num(Fraction(1, 2)), Xs), b.mul(b.num(Fraction(-1, 2)), S))),
    ("−(a − b) = b − a", b.mul(b.num(-2), b.sub(x, y))),
    ("−(a − b) = b − a", b.mul(b.num(-2), b.transpose(b.sub(x, y)), Xs)),
    (
        "(b − a)(a − b) = −(a − b)(a − b)",
        b.mul(Xs, b.sub(y, x), b.transpose(b.sub(x, y)), S),
    ),
    ("Diag(h)x = h∘x", b.mul(Xs, b.call("Diag", h), x)),
    ("diag(abᵀ) = a∘b", b.call("diag", b.mul(h, b.transpose(x)))),
    ("aᵀ(b ⊘ a) = sum(b)", b.mul(x, b.transpose(h), b.div(y, h))),
    (
        "(a ⊘ q − b) ∘ q = a − b ∘ q",
        b.eprod(b.sub(b.div(x, h), y), h),
    ),
    ("c(cA − cB) = A − B", b.mul(b.num(Fraction(1, 2)), b.sub(b.scale(2, Xs), b.scale(4, S)))),
    ("G : I = tr(G)", b.frob(Xs, b.eye(n))),
    ("G : I = tr(G)", b.call("sum", b.eprod(Xs, S, b.eye(n)))),
    ("Pᵀ : A = tr(P A)", b.frob(b.transpose(b.call("inv", Xs)), S)),
    (
        "exp(u) ⊘ (1 + exp(u)) = sigmoid(u)",
        b.eprod(y, b.apply("exp", b.neg(x)), (b.add(b.ones(x.shape), b.apply("exp", b.neg(x))), -1)),
    ),
    ("aᵀb + bᵀa = 2 aᵀb", b.add(b.mul(b.transpose(x), y), b.mul(b.transpose(y), x))),
    (
        "aᵀb + bᵀa = 2 aᵀb",
        b.add(b.mul(s1, b.transpose(x), Xs, y), b.mul(b.num(-3), s1, b.transpose(y), b.transpose(Xs), x), s2),
    ),
    ("inv(inv(A)) = A", b.call("inv", b.call("inv", Xs))),
    ("A⁻¹A = I", b.mul(A, b.call("inv", Xs), Xs, B)),
    ("A⁻¹A = I", b.mul(b.num(-1), b.transpose(b.call("inv", Xs)), b.transpose(Xs), X)),
    ("A⁻¹A = I", b.mul(s1, Xs, b.call("inv", Xs))),
]


@pytest.mark.parametrize("name,e", SIMPLIFICATIONS, ids=[n for n, _ in SIMPLIFICATIONS])
@pytest.mark.parametrize("seed", [0, 1])
def test_simplification_rule_preserves_value(name, e, seed):
    rule = dict(simplify.RULES)[name]
    out = rule(e)
    positive = ("h",)
    assert out is not None and out != e
    assert out.size() <= e.size()
    rng = np.random.default_rng(seed)
    sizes = _sizes(rng)
    env = _env(rng, [e, out], sizes, positive)
    ev = Evaluator(env, sizes)
    assert np.allclose(ev(e), ev(out))


def test_every_simplification_rule_has_a_case():
    assert {n for n, _ in SIMPLIFICATIONS} == {n for n, _ in simplify.RULES}


def test_every_pull_rule_has_a_case():
    named = {v for v in vars(rules).values() if isinstance(v, rules.Rule)}
    assert named == {r for r, _, _ in PULLS}


def test_symmetric_quadratic_form_merges_to_2Sx():
    e = b.add(b.mul(S, x), b.mul(b.transpose(S), x))
    assert simplify.simplify(e) == b.mul(b.num(2), S, x)


CANONICAL: list[tuple[str, Expr, Expr]] = [
    ("(AB)ᵀ = BᵀAᵀ", b.transpose(b.mul(A, B)), b.mul(b.transpose(B), b.transpose(A))),
    ("Aᵀᵀ = A", b.transpose(b.transpose(A)), A),
    ("A∘A⁻¹ = 1", b.eprod(X, (X, -1)), b.ones(X.shape)),
    ("IA = A", b.mul(b.eye(m), A), A),
    ("2A - A = A", b.sub(b.scale(2, A), A), A),
    ("x∘x = x.^2", b.eprod(x, x), b.power(x, 2)),
    ("(αx).^2 = α²x.^2", b.power(b.mul(alpha, x), 2), b.mul(b.power(alpha, 2), b.power(x, 2))),
    ("½(2A) = A", b.scale(Fraction(1, 2), b.scale(2, A)), A),
]


@pytest.mark.parametrize("name,e,expected", CANONICAL, ids=[n for n, _, _ in CANONICAL])
def test_constructor_canonical_forms(name, e, expected):
    assert e == expected
    rng = np.random.default_rng(7)
    sizes = _sizes(rng)
    env = _env(rng, [e], sizes)
    ev = Evaluator(env, sizes)
    assert np.allclose(np.broadcast_to(ev(expected), ev(e).shape), ev(e))
