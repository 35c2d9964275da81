"""The gradient engine: seeds, the identity table and every differential rule,
each proved against central finite differences on random, distinct sizes."""

from pathlib import Path

import pytest
from identities import IDENTITIES

import matcalc
from matcalc.check import check
from matcalc.functions import ENTRYWISE
from matcalc.printing.text import to_text

MODELS = Path(__file__).parent / "models"

#: Seed questions: (model file, wrt, expected closed forms as the seed answers write them).
SEEDS = [
    (
        "seed000",
        "W,M,b,c",
        [
            "((Mᵀ(t − y)) ∘ step(s)) xᵀ",
            "(t − y) aᵀ",
            "(Mᵀ(t − y)) ∘ step(s)",
            "t − y",
        ],
    ),
    ("seed001", "A,x", ["2 w xᵀ", "2 Aᵀ w"]),
    ("seed002", "V,W", ["2 Bᵀ(Aᵀ ∘ y) rᵀ", "2 ((Vᵀ Bᵀ(Aᵀ ∘ y)) ∘ step(x)) zᵀ"]),
    ("seed003", "alpha,beta", ["(s − y) ((p 𝟏ᵀ) ∘ F : I)", "(s − y) ((p 𝟏ᵀ) ∘ F : D)"]),
    ("seed004", "V", ["2 Xᵀ((𝟏 𝟏ᵀ Φ) ∘ (1 − Φ.^2))"]),
    ("seed004_abstract", "V", ["2 Xᵀ((𝟏 𝟏ᵀ Φ) ∘ f'(X V))"]),
]


@pytest.mark.parametrize("name,wrt,expected", SEEDS, ids=[s[0] for s in SEEDS])
def test_seed_gradients(name, wrt, expected):
    g = matcalc.grad((MODELS / f"{name}.mc").read_text(), wrt=wrt)
    assert [to_text(e) for e in g.gradients.values()] == expected
    for seed in (0, 1):
        result = check(g.derivation, seed=seed)
        assert result.ok, (name, result)


@pytest.mark.parametrize("name,model,wrt,expected", IDENTITIES, ids=[i[0] for i in IDENTITIES])
def test_identity(name, model, wrt, expected):
    g = matcalc.grad(model, wrt=wrt)
    result = check(g.derivation, seed=3)
    assert result.ok, result
    assert [to_text(e) for e in g.gradients.values()] == expected


def test_identity_table_is_large_enough():
    assert len(IDENTITIES) >= 40


#: Node-count ceilings: "simplified" as a measurable property, not taste.
SIZES = [
    ("x: vector(n); A: matrix(n, n); f = x'*A*x", "x", 6),
    ("x: vector(n); S: symmetric(n); f = x'*S*x", "x", 3),
    ("X: matrix(m, n); w: vector(n); y: vector(m); f = 1/2*norm2(X*w - y)^2", "w", 9),
    ((MODELS / "seed000.mc").read_text(), "W", 13),
    ((MODELS / "seed004.mc").read_text(), "V", 16),
]


@pytest.mark.parametrize("model,wrt,ceiling", SIZES)
def test_results_are_small(model, wrt, ceiling):
    g = matcalc.grad(model, wrt=wrt)
    assert g.gradients[wrt].size() <= ceiling, to_text(g.gradients[wrt])


ENTRYWISE_MODELS = {fn: f"X, A: matrix(m, n); f = sum(A .* {fn}(X))" for fn in ENTRYWISE}
ENTRYWISE_MODELS["step"] = "X, A: matrix(m, n); f = sum(A .* step(X)) + sum(X .* A)"
ENTRYWISE_MODELS["sign"] = "X, A: matrix(m, n); f = sum(A .* sign(X)) + sum(X .* A)"

STRUCTURAL_MODELS = {
    "sum": ("X, A: matrix(m, n); f = sum(A .* X) * sum(X)", "X"),
    "tr": ("A: matrix(n, m); X: matrix(m, n); f = tr(A*X)^2", "X"),
    "diag": ("a: vector(n); X: matrix(n, n); f = sum(exp(diag(X) .* a))", "X"),
    "Diag": ("a, b, x: vector(n); f = a'*Diag(exp(x))*b", "x"),
    "vec": ("X: matrix(m, n); f = sum(exp(vec(X)))", "X"),
    "inv": ("a, b: vector(n); X: matrix(n, n); f = a'*inv(X)*b", "X"),
    "det": ("X: matrix(n, n); f = det(X)", "X"),
    "logdet": ("X: matrix(n, n); f = logdet(X)", "X"),
    "norm1": ("x: vector(n); A: matrix(n, m); y: vector(m); f = norm1(A*y - x)", "x,A"),
    "norm2": ("X: matrix(m, n); f = norm2(X)", "X"),
    "normF": ("X: matrix(m, n); f = normF(X)^3", "X"),
    "softmax": ("x, a: vector(n); W: matrix(n, m); z: vector(m); f = a'*softmax(W*z + x)", "x,W"),
    "logsumexp": ("W: matrix(n, m); z: vector(m); f = logsumexp(W*z)", "W"),
}

OPERATOR_MODELS = {
    "product": ("A: matrix(m, n); B: matrix(n, p); C: matrix(p, m); f = tr(A*B*C)", "A,B,C"),
    "hadamard": ("A, B: matrix(m, n); f = sum(A .* B .* A)", "A,B"),
    "division": ("A, B: matrix(m, n); f = sum(A ./ B)", "A,B"),
    "scalar division": ("x: vector(n); alpha: scalar; f = sum(x / alpha)", "x,alpha"),
    "power": ("X: matrix(m, n); f = sum(X .^ 3)", "X"),
    "fractional power": ("X: matrix(m, n); f = sum(X .^ (1/2))", "X"),
    "negative power": ("X: matrix(m, n); f = sum(X .^ -2)", "X"),
    "matrix power": ("X: matrix(n, n); A: matrix(n, n); f = tr(A*X^3)", "X"),
    "matrix inverse power": ("X: matrix(n, n); a, b: vector(n); f = a'*X^-1*b", "X"),
    "transpose": ("X: matrix(m, n); a: vector(n); b: vector(m); f = a'*X'*b", "X,a,b"),
    "frobenius": ("A, X: matrix(m, n); f = (A .* X) : X", "A,X"),
    "scalar product": ("alpha, beta: scalar; x: vector(n); f = alpha*beta*x'*x", "alpha,beta,x"),
    "scalar power": ("alpha: scalar; x: vector(n); f = (alpha*x'*x)^3", "alpha,x"),
    "broadcast": ("F: matrix(m, n); f = sum(log(1 - F .* F / 4))", "F"),
    "1x1 as scalar": ("x, y, z: vector(n); f = (y'*z) * sum(x .* x)", "x,y,z"),
    "ones vector": ("X: matrix(m, n); f = norm2(ones'*X)^2", "X"),
    "eye": ("X: matrix(n, n); f = sum((X + eye) .^ 2)", "X"),
    "vector(c)": ("x: vector(n); f = sum(log(exp(x) + vector(1)))", "x"),
    "intermediate": ("x: vector(n); A: matrix(m, n); y = A*x; z = y .* y; f = sum(z)", "A,y,z"),
    "symmetric": ("S: symmetric(n); x: vector(n); f = x'*S*S*x", "S"),
}


def _check_model(model, wrt):
    g = matcalc.grad(model, wrt=wrt)
    for seed in (0, 1):
        result = check(g.derivation, seed=seed)
        assert result.ok, (model, result)


@pytest.mark.parametrize("fn", sorted(ENTRYWISE_MODELS))
def test_entrywise_differential(fn):
    _check_model(ENTRYWISE_MODELS[fn], "X")


@pytest.mark.parametrize("fn", sorted(STRUCTURAL_MODELS))
def test_structural_differential(fn):
    _check_model(*STRUCTURAL_MODELS[fn])


@pytest.mark.parametrize("op", sorted(OPERATOR_MODELS))
def test_operator_differential(op):
    _check_model(*OPERATOR_MODELS[op])


def test_abstract_elementwise_second_use():
    model = "g: elementwise; X: matrix(m, n); A: matrix(n, m); f = tr(A*g(X))"
    g = matcalc.grad(model, wrt="X")
    assert to_text(g["X"]) == "Aᵀ ∘ g'(X)"
    assert check(g.derivation).ok


POWERS = [
    ("A: matrix(n, n); x: vector(n); f = x'*A^5*x", "A,x"),
    ("X: matrix(n, n); B: matrix(n, n); f = tr(B*X^4)", "X"),
    ("X: matrix(n, n); f = sum(exp(X^-4))", "X"),
    ("S: symmetric(n); y: vector(n); f = y'*S^6*y", "S"),
    ("X: matrix(n, n); A: matrix(n, m); f = norm2(X^2*A + X^7*A)^2", "X,A"),
]


@pytest.mark.parametrize("model,wrt", POWERS)
def test_matrix_powers_differentiate_as_a_sum_over_i(model, wrt):
    g = matcalc.grad(model, wrt=wrt)
    for seed in (0, 1):
        assert check(g.derivation, seed=seed).ok, (model, g.text())
