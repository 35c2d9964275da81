"""Jacobians and Hessians of deep models written as one expression: their nested values are
named as in gradients (``where u1 = tanh(W1 x)``), the maps, blocks and generated code agree
with central differences, and the text of a deep entry-wise nest grows with the model."""

from __future__ import annotations

import pytest

import matcalc
from matcalc.architectures import gated, nested, residual, rnn, softmax_chain
from matcalc.check_kinds import check_generated, check_hessian, check_jacobian

#: Deep one-expression models: an entry-wise nest, a softmax nest, one mixing definitions
#: and a nest with shared weights and a residual level.
MODELS = {
    "tanh nest": nested(5),
    "softmax nest": softmax_chain(4),
    "mixed": (
        "x: vector(n); W, V: matrix(n, n); a = sigmoid(W*x)\n"
        "f = sum(tanh(V*tanh(W*tanh(V*a + x))) .* a)\n",
        "W,V",
    ),
    "shared residual": (
        "x: vector(n); W: matrix(n, n)\n"
        "f = sum(sigmoid(W*(x + tanh(W*(x + tanh(W*tanh(W*x)))))))\n",
        "W",
    ),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_hessian_of_a_nest_names_its_values_and_agrees(name):
    model, wrt = MODELS[name]
    wrt = ",".join(wrt.split(",")[:2])
    h = matcalc.hessian(model, wrt)
    assert h.derivation.values, "the nested values are named"
    assert "where u1 = " in h.text()
    for seed in (1, 2):
        result = check_hessian(h.derivation, seed=seed)
        assert result.ok, result.errors
        code = check_generated(h.derivation, h.numpy_source(), seed=seed)
        assert code.ok, code.errors


@pytest.mark.parametrize("name", sorted(MODELS))
def test_jacobian_of_a_nest_names_its_values_and_agrees(name):
    model, wrt = MODELS[name]
    j = matcalc.jacobian(model, wrt)
    assert j.derivation.values and "where u1 = " in j.text()
    assert r"\text{where }" in j.latex()
    for seed in (1, 2):
        result = check_jacobian(j.derivation, seed=seed)
        assert result.ok, result.errors
        code = check_generated(j.derivation, j.numpy_source(), seed=seed)
        assert code.ok, code.errors


def test_jacobian_of_an_inner_definition_of_a_nest():
    """``--of`` a definition that itself nests deep: its values are named too."""
    model = "x: vector(n); W: matrix(n, n); g = tanh(W*tanh(W*tanh(W*x)))\nf = sum(g)\n"
    j = matcalc.jacobian(model, "W", of="g")
    assert "u1 = tanh(W x)" in j.text()
    assert check_jacobian(j.derivation, seed=3).ok


def test_deep_entrywise_nest_jacobian_text_grows_linearly():
    """∂f/∂vec(W1)ᵀ of ``sum(tanh(W_L … tanh(W1 x)))``: the product of the L Jacobians, each
    level written by its name (it repeated every level below it: 3,244 characters at L = 16)."""
    sizes = {L: len(matcalc.jacobian(nested(L)[0], "W1").text()) for L in (8, 16, 32)}
    assert sizes[32] / sizes[16] < 2.1 and sizes[16] / sizes[8] < 2.1, sizes
    assert sizes[16] < 1000, sizes


def test_deep_entrywise_nest_hessian_reads_as_the_chain_with_definitions():
    """The Hessian of the nest is the Hessian of the same chain written with definitions, with
    ``u`` for ``h``: the nest no longer writes each level inside every level above it."""
    from matcalc.architectures import chain

    nest = matcalc.hessian(nested(6)[0], "W1").text()
    defined = matcalc.hessian(chain(6)[0], "W1").text()
    assert nest.split("\nwhere")[0] == defined.split("\nwhere")[0].replace("h", "u")


#: Deep models whose tangents are named: a residual net, a gated RNN, an RNN whose weights every
#: step shares, a softmax nest.
DEEP = {
    "residual": lambda L: residual(L),
    "gated": lambda L: gated(L),
    "rnn": lambda L: rnn(L),
    "softmax": lambda L: softmax_chain(L),
}


@pytest.mark.parametrize("name", sorted(DEEP))
def test_deep_jacobian_and_hessian_name_tangents_and_agree(name):
    """Maps, named Jacobians, blocks and the generated code (which computes every named tangent
    and Jacobian once) against central differences, random distinct sizes, two seeds."""
    model, wrt = DEEP[name](6)
    first = wrt.split(",")[0]
    h = matcalc.hessian(model, first)
    j = matcalc.jacobian(model, wrt)
    assert h.derivation.tangents and h.derivation.jacobians
    for seed in (1, 2):
        for d, check in ((h, check_hessian), (j, check_jacobian)):
            result = check(d.derivation, seed=seed)
            assert result.ok, (name, result.errors)
            code = check_generated(d.derivation, d.numpy_source(), seed=seed)
            assert code.ok, (name, code.errors)


@pytest.mark.parametrize("name", sorted(DEEP))
def test_deep_jacobian_and_hessian_text_grow_linearly(name):
    """Twice the depth, at most about twice the text (it doubled at every residual step and
    squared with depth in a chain's Hessian); the text at 16 steps is small."""
    sizes = {}
    for L in (8, 16, 32):
        model, wrt = DEEP[name](L)
        first = wrt.split(",")[0]
        sizes[L] = (len(matcalc.hessian(model, first).text()), len(matcalc.jacobian(model, first).text()))
    for i in range(2):
        assert sizes[32][i] / sizes[16][i] < 2.2 and sizes[16][i] / sizes[8][i] < 2.2, sizes
    assert max(sizes[16]) < 20_000, sizes


def test_named_jacobians_render_in_katex():
    from test_latex import find_katex, render

    strings = [matcalc.hessian(*residual(5)).latex(), matcalc.jacobian(*gated(4)).latex()]
    strings.append(matcalc.hessian(residual(5)[0], "W1").steps_latex())
    for s, res in zip(strings, render(find_katex(), strings), strict=True):
        assert res["ok"] and not res["warnings"], (res, s[:300])


def test_short_models_name_no_tangent():
    """The seeds and a 4-layer chain read as before: nothing is named."""
    from pathlib import Path

    for path in sorted(Path(__file__).parent.joinpath("models").glob("seed00*.mc")):
        text = path.read_text(encoding="utf-8")
        from matcalc.parser import parse

        first = parse(text).inputs[0].name
        for kind in (matcalc.jacobian, matcalc.hessian):
            try:
                d = kind(text, first)
            except matcalc.MatcalcError:
                continue
            assert not d.derivation.tangents and not d.derivation.jacobians, path.name
    assert not matcalc.hessian(nested(4)[0], "W1").derivation.tangents
