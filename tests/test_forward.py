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
from matcalc.architectures import chain, nested, softmax_chain
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
    # symmetric by construction: the lifted values know it
    "S: symmetric(n); A: matrix(n, n); x: vector(n); f = x'*exp(tanh(sin(S + A'*A)))*x",
]


@pytest.mark.parametrize("text", MIXED, ids=["twice", "then-defined", "softplus", "symmetric"])
def test_other_nested_models_agree_with_finite_differences(text):
    wrt = ",".join(v.name for v in matcalc.parse(text).inputs if v.name != "x")
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


HETEROGENEOUS = ("tanh", "sigmoid", "sin", "exp", "cos")


def heterogeneous(depth: int) -> tuple[str, str]:
    """A nested chain whose layers apply different functions: no run folds over an index."""
    value = "x"
    for i in range(1, depth + 1):
        value = f"{HETEROGENEOUS[i % len(HETEROGENEOUS)]}(W{i}*{value})"
    decl = "; ".join(f"W{i}: matrix(n, n)" for i in range(1, depth + 1))
    return f"x: vector(n); {decl}; f = sum({value})", ",".join(f"W{i}" for i in range(1, depth + 1))


@pytest.mark.parametrize("build", [nested, heterogeneous])
def test_steps_of_a_deep_model_grow_linearly(build):
    small, large = (matcalc.grad(*build(depth)) for depth in (8, 32))
    for what in ("steps_text", "steps_latex"):
        a, c = len(getattr(small, what)()), len(getattr(large, what)())
        assert c <= 5.0 * a, (what, a, c)  # linear: 4× the layers, and a constant part
    assert len(large.steps_text()) < 40_000


def test_deep_steps_write_each_chain_step_on_its_own():
    g = matcalc.grad(*nested(4))
    lines = g.steps_text().splitlines()
    assert lines[0].startswith("df = sum(du4)")
    heads = [line.split(" = ")[0] for line in lines if not line.startswith(" ") and " = " in line]
    assert heads[:5] == ["df", "𝟏 : du4", "W4ᵀ(1 − u4.^2) : du3", "W3ᵀ(δu3 ∘ (1 − u3.^2)) : du2",
                         "W2ᵀ(δu2 ∘ (1 − u2.^2)) : du1"]
    named = [line for line in lines if line.startswith("W4ᵀ(1 − u4.^2) : du3 = ")]
    assert len(named) == 1 and named[0].startswith("W4ᵀ(1 − u4.^2) : du3 = δu3 : du3 ")
    assert named[0].endswith("   [name δu3 = ∂f/∂u3]")
    final = [line for line in lines if "[collect the terms of every step]" in line]
    assert final and final[0].startswith("df = (1 − u4.^2) u3ᵀ : dW4 + ")


@pytest.mark.parametrize("build,depth", [(nested, 5), (heterogeneous, 6)])
def test_every_block_of_a_deep_derivation_is_an_equation(build, depth):
    """Each line equals its block's left side (``df`` for the first and the last), with the
    differentials of a random direction and the named adjoints' values."""
    from test_steps import _differentials

    from matcalc import build as b

    g = matcalc.grad(*build(depth))
    assert g.derivation.adjoints and any(st.lhs is not None for st in g.steps)
    rng = np.random.default_rng(depth)
    inst = random_instance(g.model, rng)
    ev = _differentials(g.model, set(g.wrt), inst, rng)
    for var, adjoint in g.derivation.adjoints:
        ev.adjoints[var.name] = ev(adjoint)
    df = float(ev.env["d" + g.of][0, 0])

    def total(terms):
        return sum(ev(b.frob(gi, li)).item() for gi, li in terms)

    for step in g.steps:
        want = df if step.lhs is None else total(step.lhs)
        assert np.isclose(total(step.terms), want, rtol=1e-8, atol=1e-10), step.rule
    data = g.to_json()
    assert any("lhs" in st for st in data["steps"])


def test_deep_steps_latex_renders_with_katex():
    from test_latex import find_katex, render

    strings = []
    for build in (nested, heterogeneous):
        g = matcalc.grad(*build(8))
        strings += [g.steps_latex(), g.latex()]
    for s, res in zip(strings, render(find_katex(), strings), strict=True):
        assert res["ok"] and not res["warnings"], (res, s[:300])
        assert s.isascii()


@pytest.mark.parametrize("build", [chain, nested, softmax_chain], ids=lambda f: f.__name__)
def test_steps_of_a_deep_chain_are_written_once_over_an_index(build):
    """The chain steps alike at every depth are one block ``for t = …:``; the steps are as long
    at L = 32 as at L = 8 (they grew 4.4–5.1× before), in text and LaTeX."""
    sizes = {}
    for depth in (8, 32):
        g = matcalc.grad(*build(depth))
        sizes[depth] = (len(g.steps_text()), len(g.steps_latex()))
    text = matcalc.grad(*build(8)).steps_text()
    assert "for t = " in text and ("δu_t" in text or "δh_t" in text)
    for i in range(2):
        assert sizes[32][i] / sizes[8][i] < 1.2, sizes


def test_folded_steps_latex_renders_with_katex():
    from test_latex import find_katex, render

    strings = [matcalc.grad(*build(8)).steps_latex() for build in (chain, softmax_chain)]
    assert all(r"\text{for } t" in s for s in strings)
    for s, res in zip(strings, render(find_katex(), strings), strict=True):
        assert res["ok"] and not res["warnings"], (res, s[:300])


def test_folded_steps_are_the_steps_with_the_index_substituted():
    """Each folded block, written out for every value of its index, is the block the unfolded
    derivation has at that depth (the fold loses nothing)."""
    import re

    from matcalc.printing.text import TEXT_INDEX, TextPrinter
    from matcalc.steps import block_rows, folded_blocks

    g = matcalc.grad(*softmax_chain(8))
    p = TextPrinter(g.names)
    rows = block_rows(g.steps, p)
    plain = folded_blocks(rows, TEXT_INDEX, frozenset("tskji") | g.names)
    blocks = folded_blocks(rows, TEXT_INDEX, g.names)
    assert any(run is not None for run, _, _ in blocks)

    def at(text: str, t: int) -> str:
        text = re.sub(r"_\{t([+−])(\d+)\}", lambda m: str(t + int(m[2]) * (1 if m[1] == "+" else -1)), text)
        return text.replace("_t", str(t))

    expanded = []
    for run, lead, body in blocks:
        if run is None:
            expanded.append((lead, body))
            continue
        step = 1 if run.last >= run.first else -1
        for t in range(run.first, run.last + step, step):
            expanded.append((at(lead, t), [(at(line, t), at(rule, t)) for line, rule in body]))
    assert expanded == [(lead, body) for _, lead, body in plain]


def test_json_steps_fold_as_the_text_does():
    """The JSON steps of a deep chain write the run of alike blocks once too, each entry saying
    its index's range; its equations are the folded text's lines."""
    g = matcalc.grad(*softmax_chain(8))
    data = g.to_json()
    folded = [st for st in data["steps"] if "for" in st]
    assert folded and all(st["for"] == {"index": "t", "first": 7, "last": 3} for st in folded)
    text = g.steps_text()
    assert all(st["text"] in text for st in folded)
    size = {L: len(json.dumps(matcalc.grad(*softmax_chain(L)).to_json())) for L in (8, 32)}
    assert size[32] / size[8] < 2.5, size
