"""Named forward values: a model written as one nested expression names its nested values
once (``where u1 = tanh(W1 x)``), stays linear in its depth, and is proved numerically
against the model as the user wrote it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_gradients import MODELS, SEEDS
from test_numpy_module import kwargs_for

import matcalc
from matcalc.architectures import nested
from matcalc.check import evaluate_gradient, finite_difference, random_instance, relative_error
from matcalc.forward import lift


def _against_the_written_model(text: str, wrt: str, expand: bool, seed: int) -> None:
    """Every gradient against central differences of the model as parsed (not lifted)."""
    model = matcalc.parse(text)
    g = matcalc.grad(model, wrt, expand=expand)
    rng = np.random.default_rng(seed)
    inst = random_instance(model, rng)
    got = evaluate_gradient(g.derivation, inst)
    for var, grad in zip(g.derivation.wrt, got):
        want = finite_difference(model, model.output, var, inst)
        assert relative_error(grad, want) < 1e-6, (text, var.name, expand)


@pytest.mark.parametrize("depth", [3, 4, 6])
def test_nested_chain_agrees_with_finite_differences_named_and_expanded(depth):
    text, wrt = nested(depth)
    for expand in (False, True):
        _against_the_written_model(text, wrt, expand, seed=depth)


MIXED = [
    # nested values used twice, an entry-wise product, a definition after the nested one
    "x: vector(n); A, B, C: matrix(n, n); f = sum(exp(A*tanh(B*sigmoid(C*x))) .* sigmoid(C*x))",
    "x: vector(n); A, B, C: matrix(n, n); h = tanh(A*tanh(B*tanh(C*x))); f = h'*h + sum(tanh(C*x))",
    "X: matrix(m, n); A: matrix(n, n); f = sum(log(1 + exp(tanh(tanh(X*A)))))",
]


@pytest.mark.parametrize("text", MIXED, ids=["twice", "then-defined", "softplus"])
def test_other_nested_models_agree_with_finite_differences(text):
    wrt = ",".join(v.name for v in matcalc.parse(text).inputs if v.shape[1] != 1 or v.name != "x")
    g = matcalc.grad(text, wrt)
    assert g.derivation.forward, "the model nests entry-wise functions three deep"
    for expand in (False, True):
        _against_the_written_model(text, wrt, expand, seed=3)


def test_nested_chain_of_four_reads_like_a_textbook():
    g = matcalc.grad(*nested(4))
    assert g.text().splitlines() == [
        "∂f/∂W1 = (δu1 ∘ (1 − u1.^2)) xᵀ",
        "∂f/∂W2 = (δu2 ∘ (1 − u2.^2)) u1ᵀ",
        "∂f/∂W3 = (δu3 ∘ (1 − u3.^2)) u2ᵀ",
        "∂f/∂W4 = (1 − u4.^2) u3ᵀ",
        "where u1 = tanh(W1 x)",
        "      u_t = tanh(W_t u_{t−1}) for t = 2, …, 4",
        "      δu3 = W4ᵀ(1 − u4.^2)",
        "      δu2 = W3ᵀ(δu3 ∘ (1 − u3.^2))",
        "      δu1 = W2ᵀ(δu2 ∘ (1 − u2.^2))",
    ]


def test_expand_keeps_the_nested_form():
    g = matcalc.grad(*nested(4), expand=True)
    assert g.derivation.forward == () and "u1" not in g.text()
    assert "tanh(W4 tanh(W3 tanh(W2 tanh(W1 x))))" in g.text()


def test_nested_text_at_32_layers_is_at_most_four_and_a_half_times_that_at_8():
    sizes = [len(matcalc.grad(*nested(depth)).text()) for depth in (8, 32)]
    assert sizes[1] <= 4.5 * sizes[0], sizes


def test_every_nested_output_grows_linearly_with_depth():
    def sizes(depth):
        g = matcalc.grad(*nested(depth))
        return len(g.text()), len(g.latex()), len(g.numpy_source()), g.size()

    small, large = sizes(8), sizes(32)
    for what, a, c in zip(("text", "latex", "numpy", "nodes"), small, large):
        assert c <= 4.7 * a, (what, a, c)


def test_seeds_lift_nothing():
    for name, _, _ in SEEDS:
        model = matcalc.parse((MODELS / f"{name}.mc").read_text())
        assert lift(model) == (model, ()), name


def test_shallow_nesting_is_written_as_it_is():
    """Two entry-wise functions deep reads as a textbook writes it: nothing is named."""
    g = matcalc.grad(*nested(2))
    assert g.derivation.forward == () and "tanh(W2 tanh(W1 x))" in g.text()


def test_introduced_names_never_clash_with_the_model():
    text = "x: vector(n); u1, U2, W: matrix(n, n); f = sum(tanh(W*tanh(U2*tanh(u1*x))))"
    g = matcalc.grad(text, "u1,U2,W")
    names = [v.name for v, _ in g.derivation.forward]
    assert names == ["v1", "v2", "v3"], names
    assert "where v1 = tanh(u1 x)" in g.text()


def test_latex_json_steps_and_module_show_the_named_values():
    g = matcalc.grad(*nested(5))
    assert r"\text{where } u_{1} &= \tanh" in g.latex() or r"\text{where } u_{1} &= " in g.latex()
    assert r"u_{1} &= " in g.steps_latex()
    data = json.loads(json.dumps(g.to_json()))
    assert list(data["values"]) == ["u1", "u2", "u3", "u4", "u5"]
    assert data["values"]["u1"]["text"] == "tanh(W1 x)"
    assert "where u1 = tanh(W1 x)" in g.steps_text()
    source = g.numpy_source()
    assert "where u1 = tanh(W1 x)" in source
    fn = g.to_function()
    model = matcalc.parse(nested(5)[0])
    inst = random_instance(model, np.random.default_rng(5))
    value, *grads = fn(**kwargs_for(model, inst, fn))
    for got, want, var in zip(grads, evaluate_gradient(g.derivation, inst), g.derivation.wrt):
        assert relative_error(np.reshape(got, want.shape), want) < 1e-10, var.name
