"""Structural calls nested deep in one expression (``softmax``, ``inv``, ``det``, ``logdet``,
``diag``, ``Diag``, ``tr``, ``vec``, the norms, ``kron``, matrix powers): their values are
named once like entry-wise ones, every output stays linear in the depth, and the gradients
agree with central differences of the model as written."""

from __future__ import annotations

import json

import numpy as np
import pytest

import matcalc
from matcalc.architectures import STRUCTURAL_LEVELS, softmax_chain, structural
from matcalc.check import evaluate_gradient, finite_difference, random_instance, relative_error


def _agrees(text: str, wrt: str, expand: bool, seed: int) -> None:
    model = matcalc.parse(text)
    g = matcalc.grad(model, wrt, expand=expand)
    inst = random_instance(model, np.random.default_rng(seed))
    for var, grad in zip(g.derivation.wrt, evaluate_gradient(g.derivation, inst)):
        want = finite_difference(model, model.output, var, inst)
        assert relative_error(grad, want) < 1e-6, (text, var.name, expand)


@pytest.mark.parametrize("depth", [3, 5])
def test_softmax_chain_agrees_with_finite_differences(depth):
    for expand in (False, True):
        _agrees(*softmax_chain(depth), expand, seed=depth)


@pytest.mark.parametrize("depth", [4, len(STRUCTURAL_LEVELS), len(STRUCTURAL_LEVELS) + 2])
def test_every_structural_level_agrees_with_finite_differences(depth):
    _agrees(*structural(depth), False, seed=depth)


def test_structural_nest_expanded_agrees_with_finite_differences():
    _agrees(*structural(5), True, seed=11)


NESTS = [
    "A, B, C: matrix(n, n); f = logdet(eye + inv(eye + A*inv(eye + B*inv(eye + C*C')*B')*A'))",
    "A, B, C: matrix(n, n); f = tr(inv(eye + C'*C*inv(eye + B'*B*inv(eye + A'*A))))",
    "x: vector(n); A, B: matrix(n, n); "
    "f = norm2(A*diag(B*Diag(softmax(A*x))*B'))*det(eye + softmax(B*x)*softmax(A*x)')",
    "x: vector(n); A, B: matrix(n, n); f = sum(vec(A^3*Diag(softmax(B^2*softmax(A*x)))))",
    "x: vector(n); A, B: matrix(n, n); f = logsumexp(kron(softmax(A*softmax(B*softmax(A*x))), softmax(B*x)))",
]


@pytest.mark.parametrize("text", NESTS, ids=["logdet-inv", "inv-inv-inv", "norm-diag", "vec-power", "kron"])
def test_mixed_structural_nests_are_named_and_agree(text):
    model = matcalc.parse(text)
    wrt = ",".join(v.name for v in model.inputs if v.name != "x")
    g = matcalc.grad(text, wrt)
    assert g.derivation.forward, "calls nest three deep inside the outermost one"
    for expand in (False, True):
        _agrees(text, wrt, expand, seed=7)


def _sizes(g) -> dict[str, int]:
    return {
        "text": len(g.text()),
        "latex": len(g.latex()),
        "steps": len(g.steps_text()),
        "json": len(json.dumps(g.to_json(), ensure_ascii=False)),
        "module": len(g.numpy_source()),
    }


@pytest.mark.parametrize("build", [softmax_chain, structural])
def test_every_output_of_a_structural_nest_grows_linearly(build):
    """Sizes, not times: 4× the levels gives at most 4.5× the text and about 4× the rest
    (a constant part, and names that grow a digit)."""
    small, large = (_sizes(matcalc.grad(*build(depth))) for depth in (8, 32))
    assert large["text"] <= 4.5 * small["text"], (small, large)
    for what in small:
        assert large[what] <= 6 * small[what], (what, small, large)


def test_softmax_chain_no_longer_doubles_with_each_level():
    """Written out, the adjoint of each softmax appears twice in the next (``s ∘ g − s sᵀ g``):
    before the values were named, 16 levels wrote 162 MB. Now 64 levels write a few hundred
    characters (the chain folds over an index)."""
    g = matcalc.grad(*softmax_chain(64))
    assert len(g.text()) < 1_000
    assert "where u1 = softmax(W1 x)" in g.text()


def test_softmax_chain_of_four_reads_like_a_textbook():
    g = matcalc.grad(*softmax_chain(4))
    assert g.text().splitlines() == [
        "∂f/∂W1 = (δu1 ∘ u1 − u1 u1ᵀ δu1) xᵀ",
        "∂f/∂W2 = (δu2 ∘ u2 − u2 u2ᵀ δu2) u1ᵀ",
        "∂f/∂W3 = (δu3 ∘ u3 − u3 u3ᵀ δu3) u2ᵀ",
        "∂f/∂W4 = softmax(W4 u3) u3ᵀ",
        "where u1 = softmax(W1 x)",
        "      u2 = softmax(W2 u1)",
        "      u3 = softmax(W3 u2)",
        "      δu3 = W4ᵀ softmax(W4 u3)",
        "      δu2 = W3ᵀ(δu3 ∘ u3 − u3 u3ᵀ δu3)",
        "      δu1 = W2ᵀ(δu2 ∘ u2 − u2 u2ᵀ δu2)",
    ]


def test_shallow_structural_calls_read_as_written():
    """Two layers inside the outermost operation, or calls applied directly to calls (one
    function written nested: ``sqrt(det(A))``): nothing is named."""
    for text, wrt in (("X: matrix(n, n); a: vector(n); f = sum(exp(diag(X)) .* a)", "X"),
                      ("A, B: matrix(n, n); f = logdet(inv(eye + A*A')*B*B' + eye)", "A"),
                      ("A: symmetric(n); x: vector(n); f = sum(x) + sum(sqrt(det(A')))", "A"),
                      ("S: symmetric(n); c: scalar; f = c*log1p(exp(tr(S)))", "S"),
                      ("X: symmetric(n); s: scalar; f = s*logdet(X^-2)", "X"),
                      ("c: vector(n); f = logsumexp(sqrt(softmax(c)))", "c"),
                      softmax_chain(3)):
        assert matcalc.grad(text, wrt).derivation.forward == (), text


def test_module_of_a_structural_nest_computes_the_gradients():
    from test_numpy_module import kwargs_for

    text, wrt = structural(len(STRUCTURAL_LEVELS))
    g = matcalc.grad(text, wrt)
    assert "where u1 = " in g.numpy_source()
    fn = g.to_function()
    model = matcalc.parse(text)
    inst = random_instance(model, np.random.default_rng(3))
    value, *grads = fn(**kwargs_for(model, inst, fn))
    for got, want, var in zip(grads, evaluate_gradient(g.derivation, inst), g.derivation.wrt):
        assert relative_error(np.reshape(got, want.shape), want) < 1e-10, var.name
