"""Named adjoints: deep chains, residual and gated networks and shared weights read like a
textbook (``where δh₃ = …``), stay linear in the model's size, and are proved numerically."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_cli_commands import run
from test_gradients import MODELS, SEEDS
from test_numpy_module import kwargs_for

import matcalc
from matcalc.architectures import ARCHITECTURES, chain, gated, residual, rnn
from matcalc.check import check, evaluate_gradient, random_instance, relative_error

DEEP = [(kind, steps) for kind in ARCHITECTURES for steps in (1, 2, 3, 5)]


@pytest.mark.parametrize("kind,steps", DEEP, ids=[f"{k}{s}" for k, s in DEEP])
def test_deep_gradients_agree_with_finite_differences_named_and_expanded(kind, steps):
    text, wrt = ARCHITECTURES[kind](steps)
    for expand in (False, True):
        g = matcalc.grad(text, wrt, expand=expand)
        assert not expand or g.derivation.adjoints == ()
        result = check(g.derivation, seed=steps)
        assert result.ok, (kind, steps, expand, result)


@pytest.mark.parametrize("kind", list(ARCHITECTURES))
def test_generated_module_with_named_adjoints_agrees_with_the_derivation(kind):
    text, wrt = ARCHITECTURES[kind](6)
    g = matcalc.grad(text, wrt)
    assert g.derivation.adjoints, "a 6-step model names its adjoints"
    source = g.numpy_source()
    assert "delta_" in source and "where δ" in source
    fn = g.to_function()
    rng = np.random.default_rng(7)
    inst = random_instance(g.model, rng)
    value, *grads = fn(**kwargs_for(g.model, inst, fn))
    for got, want, var in zip(grads, evaluate_gradient(g.derivation, inst), g.derivation.wrt):
        assert relative_error(np.reshape(got, want.shape), want) < 1e-10, var.name


def test_seeds_name_no_adjoint():
    """Even w.r.t. every input and every definition (a definition's gradient is its adjoint)."""
    for name, _, _ in SEEDS:
        model = matcalc.parse((MODELS / f"{name}.mc").read_text())
        for names in (model.inputs, model.inputs + tuple(v for v, _ in model.definitions[:-1])):
            wrt = ",".join(v.name for v in names)
            assert matcalc.grad(model, wrt).derivation.adjoints == (), (name, wrt)


def test_chain_of_four_reads_like_a_textbook():
    g = matcalc.grad(*chain(4))
    assert g.text().splitlines() == [
        "∂f/∂W1 = (δh1 ∘ (1 − h1.^2)) xᵀ",
        "∂f/∂W2 = (δh2 ∘ (1 − h2.^2)) h1ᵀ",
        "∂f/∂W3 = (δh3 ∘ (1 − h3.^2)) h2ᵀ",
        "∂f/∂W4 = (1 − h4.^2) h3ᵀ",
        "where δh3 = W4ᵀ(1 − h4.^2)",
        "      δh2 = W3ᵀ(δh3 ∘ (1 − h3.^2))",
        "      δh1 = W2ᵀ(δh2 ∘ (1 − h2.^2))",
    ]
    assert check(g.derivation, seed=4).ok


def test_shared_weights_sum_over_steps_with_named_adjoints():
    g = matcalc.grad(*rnn(3))
    lines = g.text().splitlines()
    assert lines[0] == "∂L/∂U = Σ_{t=1}^{3} (δh_t ∘ (1 − h_t.^2)) h_{t−1}ᵀ"
    assert lines[1] == "∂L/∂W = Σ_{t=1}^{3} (δh_t ∘ (1 − h_t.^2)) x_tᵀ"
    assert lines[2:] == [
        "where δh3 = h3 − y",
        "      δh2 = Uᵀ(δh3 ∘ (1 − h3.^2))",
        "      δh1 = Uᵀ(δh2 ∘ (1 − h2.^2))",
    ]
    assert check(g.derivation, seed=5).ok


@pytest.mark.parametrize("kind", ["residual", "gated"])
def test_an_adjoint_used_twice_in_one_step_is_named_when_one_weight_is_asked_for(kind):
    """``δh_{t+1}`` occurs twice in ``δh_t = δh_{t+1} + W_{t+1}ᵀ(δh_{t+1} ∘ …)``: even with
    ``W1`` alone asked for (no other gradient uses it), it is named, never written out twice."""
    text, wrt = ARCHITECTURES[kind](16)
    first = wrt.split(",")[0]
    g = matcalc.grad(text, first)
    assert g.derivation.adjoints
    assert len(g.text()) <= 1.2 * len(matcalc.grad(*_first_weight(kind, 4)).text())
    assert check(g.derivation, seed=16).ok


def _first_weight(kind, steps):
    text, wrt = ARCHITECTURES[kind](steps)
    return text, wrt.split(",")[0]


def test_residual_network_w_r_t_a_few_weights_reads_like_a_textbook():
    text, _ = residual(14)
    lines = matcalc.grad(text, "W1,W7,W14").text().splitlines()
    assert lines[3] == "where δh14 = h14 − y"
    assert lines[4].strip().startswith("δh_t = δh_{t+1} + W_{t+1}ᵀ(δh_{t+1} ∘ ")
    assert lines[4].endswith("for t = 13, …, 1") and len(lines) == 5


def _size(kind, steps):
    g = matcalc.grad(*ARCHITECTURES[kind](steps))
    return len(g.text()), len(g.latex()), len(g.steps_text()), len(g.numpy_source()), g.size()


@pytest.mark.parametrize("kind", list(ARCHITECTURES))
def test_every_output_grows_linearly_with_depth(kind):
    small, large = _size(kind, 8), _size(kind, 32)
    for what, a, c in zip(("text", "latex", "steps", "numpy", "nodes"), small, large):
        # steps print the whole df on every line: quadratic by nature, but no tree blow-up
        limit = 4.0 * 4.7 if what == "steps" else 4.7
        assert c <= limit * a, (kind, what, a, c)


def test_plain_chain_text_at_32_layers_is_at_most_four_and_a_half_times_that_at_8():
    sizes = [len(matcalc.grad(*chain(depth)).text()) for depth in (8, 32)]
    assert sizes[1] <= 4.5 * sizes[0], sizes


def test_runs_alike_but_for_an_index_fold_and_agree_numerically():
    g = matcalc.grad(*chain(8))
    assert g.text().splitlines()[1:3] == [
        "∂f/∂W_t = (δh_t ∘ (1 − h_t.^2)) h_{t−1}ᵀ for t = 2, …, 7",
        "∂f/∂W8 = (1 − h8.^2) h7ᵀ",
    ]
    assert g.text().splitlines()[-1] == "      δh_t = W_{t+1}ᵀ(δh_{t+1} ∘ (1 − h_{t+1}.^2)) for t = 6, …, 1"
    assert r"\quad t = 6, \ldots, 1" in g.latex()
    assert check(g.derivation, seed=8).ok


def test_expand_writes_the_nested_form():
    g = matcalc.grad(*chain(4), expand=True)
    assert "δ" not in g.text()
    assert g.text().splitlines()[0] == (
        "∂f/∂W1 = ((W2ᵀ((W3ᵀ((W4ᵀ(1 − h4.^2)) ∘ (1 − h3.^2))) ∘ (1 − h2.^2))) ∘ (1 − h1.^2)) xᵀ"
    )


def test_latex_json_and_steps_show_the_named_adjoints():
    g = matcalc.grad(*residual(3))
    assert r"\text{where } {\delta h_{3}} &= " in g.latex()
    assert r"{\delta h_{2}}" in g.steps_latex()
    data = json.loads(json.dumps(g.to_json()))
    assert set(data["adjoints"]) == {v.name for v, _ in g.derivation.adjoints}
    assert "name δh2 = ∂f/∂h2" in g.steps_text()


def test_cli_expand():
    text, wrt = gated(3)
    named = run("grad", text, "--wrt", wrt)
    nested = run("grad", text, "--wrt", wrt, "--expand")
    assert named.returncode == nested.returncode == 0
    assert "where δ" in named.stdout and "δ" not in nested.stdout


def test_a_gated_step_defines_two_adjoints_written_once_over_the_index():
    g = matcalc.grad(*gated(6))
    lines = g.text().splitlines()
    assert lines[0] == "∂L/∂W = Σ_{t=1}^{6} (δh_t ∘ z_t ∘ (1 − tanh(W x_t + U h_{t−1}).^2)) x_tᵀ"
    assert lines[5] == "      for t = 6, …, 2: δz_t = δh_t ∘ tanh(W x_t + U h_{t−1}) − δh_t ∘ h_{t−1}"
    assert lines[6].startswith(" " * 23 + "δh_{t−1} = δh_t ∘ (1 − z_t) + Uᵀ(")
    assert r"\text{for } t = 6, \ldots, 2{:}\ {\delta z_{t}} &= " in g.latex()
    assert check(g.derivation, seed=6).ok


def test_expand_refuses_a_nested_form_too_large_to_write_out():
    with pytest.raises(matcalc.MatcalcError) as err:
        matcalc.grad(*residual(16), expand=True)
    assert "without --expand" in str(err.value) and err.value.line is not None
    assert len(matcalc.grad(*residual(16)).text()) < 1000


def test_the_index_of_a_sum_is_no_name_of_the_model():
    steps = "h1 = tanh(U*h0); h2 = tanh(U*h1); h3 = tanh(U*h2); h4 = tanh(U*h3)"
    g = matcalc.grad(f"U: matrix(n, n); h0, t: vector(n); {steps}; f = t'*h4", "U")
    assert g.text().splitlines()[0] == (
        "∂f/∂U = (t ∘ (1 − h4.^2)) h3ᵀ + Σ_{s=1}^{3} (δh_s ∘ (1 − h_s.^2)) h_{s−1}ᵀ"
    )
    assert "t = " not in g.text() and check(g.derivation, seed=2).ok
