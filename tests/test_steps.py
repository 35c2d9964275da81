"""The step-by-step derivation: each line is the seed answer's line, and each
line is an equation that holds numerically (it evaluates to the same df)."""

from pathlib import Path

import numpy as np
import pytest
from identities import IDENTITIES

import matcalc
from matcalc import build as b
from matcalc.check import random_instance
from matcalc.differential import Differentiator
from matcalc.evaluate import Evaluator, evaluate_model
from matcalc.printing.text import TextPrinter
from matcalc.steps import format_terms, step_rows

MODELS = Path(__file__).parent / "models"


def text_lines(g):
    return step_rows(g.steps, TextPrinter())


def test_seed000_derivation_line_by_line():
    g = matcalc.grad((MODELS / "seed000.mc").read_text(), wrt="W")
    assert text_lines(g) == [
        ("sum((t − y) ∘ dt)", "differential of f"),
        ("𝟏 : (t − y) ∘ dt", "α:sum(X) = α𝟏 𝟏ᵀ:X"),
        ("(t − y) : dt", "G:A∘X = (G∘A):X"),
        ("(t − y) : M da", "differential of t"),
        ("Mᵀ(t − y) : da", "G:AX = AᵀG:X"),
        ("Mᵀ(t − y) : step(s) ∘ ds", "differential of a"),
        ("(Mᵀ(t − y)) ∘ step(s) : ds", "G:A∘X = (G∘A):X"),
        ("(Mᵀ(t − y)) ∘ step(s) : dW x", "differential of s"),
        ("((Mᵀ(t − y)) ∘ step(s)) xᵀ : dW", "G:XB = GBᵀ:X"),
    ]
    assert g.steps_text().splitlines()[-1] == "∂f/∂W = ((Mᵀ(t − y)) ∘ step(s)) xᵀ"


def test_seed004_derivation_line_by_line():
    g = matcalc.grad((MODELS / "seed004_abstract.mc").read_text(), wrt="V")
    assert text_lines(g) == [
        ("2 (𝟏ᵀ Φ : 𝟏ᵀ dΦ)", "differential of Φ".replace("Φ", "L")),
        ("2 𝟏ᵀ Φ : 𝟏ᵀ dΦ", "α:(A:X) = αA:X"),
        ("2 𝟏 𝟏ᵀ Φ : dΦ", "G:AX = AᵀG:X"),
        ("2 𝟏 𝟏ᵀ Φ : f'(X V) ∘ (X dV)", "differential of Φ"),
        ("2 ((𝟏 𝟏ᵀ Φ) ∘ f'(X V)) : X dV", "G:A∘X = (G∘A):X"),
        ("2 Xᵀ((𝟏 𝟏ᵀ Φ) ∘ f'(X V)) : dV", "G:AX = AᵀG:X"),
    ]
    latex = g.steps_latex()
    assert latex.startswith(r"\begin{aligned}") and latex.count(r"\\") == 6
    assert r"\frac{\partial L}{\partial V}" in latex


def _differentials(model, wrt, inst, rng):
    """Random dX for the variables and the matching d(definition) by forward mode."""
    env = evaluate_model(model, inst.inputs, inst.dims, inst.functions)
    ev = Evaluator(env, inst.dims, inst.functions)
    for v in model.inputs:
        ev.env["d" + v.name] = rng.normal(size=ev.shape(v)) if v.name in wrt else np.zeros(ev.shape(v))
    active = set(wrt)
    for var, rhs in model.definitions:
        if any(n.name in active for n in rhs.walk() if hasattr(n, "role")):
            active.add(var.name)
    diff = Differentiator(lambda v: v.name in active)
    for var, rhs in model.definitions:
        ev.env["d" + var.name] = np.broadcast_to(ev(diff(rhs, value=var)), ev.shape(var))
    return ev


SEED_CASES = [
    ("seed000", "W,M,b,c"),
    ("seed001", "A,x"),
    ("seed002", "V,W"),
    ("seed003", "alpha,beta"),
    ("seed004", "V"),
    ("seed004_abstract", "V"),
]


#: every seed case and every identity of the table
EVERY_DERIVATION = pytest.mark.parametrize(
    "model,wrt",
    [((MODELS / f"{n}.mc").read_text(), w) for n, w in SEED_CASES] + [(m, w) for _, m, w, _ in IDENTITIES],
    ids=[n for n, _ in SEED_CASES] + [i[0] for i in IDENTITIES],
)


@EVERY_DERIVATION
def test_every_line_of_every_derivation_is_an_equation(model, wrt):
    g = matcalc.grad(model, wrt=wrt)
    rng = np.random.default_rng(11)
    inst = random_instance(g.model, rng)
    ev = _differentials(g.model, set(g.wrt), inst, rng)
    df = float(ev.env["d" + g.of][0, 0])
    for step in g.steps:
        value = sum(ev(b.frob(gi, li)).item() for gi, li in step.terms)
        assert np.isclose(value, df, rtol=1e-8, atol=1e-10), (step.rule, value, df)
    separated = sum(
        float(np.sum(np.broadcast_to(ev(gx), ev.shape(v)) * ev.env["d" + v.name]))
        for v, gx in zip(g.derivation.wrt, g.derivation.gradients)
    )
    assert np.isclose(separated, df, rtol=1e-8, atol=1e-10)


def test_a_function_of_none_of_the_variables_has_the_derivation_df_0():
    g = matcalc.grad("x, y: vector(n); alpha: scalar; f = alpha^2", wrt="x,y")
    assert g.steps == []
    assert g.steps_text().splitlines() == ["df = 0   [f does not depend on x, y]", "∂f/∂x = 0", "∂f/∂y = 0"]
    assert r"\mathrm{d}f &= 0 && \left[f\text{ does not depend on }x, y\right]" in g.steps_latex()


@EVERY_DERIVATION
def test_a_line_leads_with_a_term_without_a_minus_when_it_has_one(model, wrt):
    g = matcalc.grad(model, wrt=wrt)
    p = TextPrinter()
    for step in g.steps:
        signs = [format_terms((t,), p).startswith(p.minus) for t in step.terms]
        if not all(signs):
            assert not format_terms(step.terms, p).startswith(p.minus), step.rule


def test_splitting_a_sum_prints_no_line_that_only_reorders_it():
    g = matcalc.grad("x, mu: vector(n); S: symmetric(n); f = (x - mu)'*inv(S)*(x - mu) + logdet(S)", wrt="S")
    lines = g.steps_text().splitlines()
    assert lines[0].startswith("df = tr(inv(S) dS) − (x − μ)ᵀ inv(S) dS inv(S) (x − μ)")
    assert not any("[G:(A + B) = G:A + G:B]" in line for line in lines)
    assert lines[-1] == "∂f/∂S = inv(S) − inv(S) (x − μ) (x − μ)ᵀ inv(S)"
