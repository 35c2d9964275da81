"""Random well-typed models: every printed gradient, run through the generated NumPy
module, agrees with central differences of the model's own value.

The models come from :mod:`matcalc.selftest` (TEXT over every operator and
function of the language, domains respected by construction); the model's
value is computed by the reference evaluator there, which shares nothing with
matcalc's expression nodes, differentials, rewrites or code generator. A
hypothesis failure shrinks to a minimal model: add it to ``regressions.py``.

Counts (CI budget): 1,000 hypothesis models + 1,200 seeded ``selftest`` models
here, and 200 more with hostile names in test_hostile_names.py.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import assume, given
from regressions import REGRESSIONS
from strategies import cases, generated_models, property_settings

import matcalc
from matcalc import selftest
from matcalc.ops.registry import OPS
from matcalc.selftest import Outcome, case_from_text, check_case


def assert_agrees(out: Outcome) -> None:
    assume(out.status != "rejected")
    assert out.status == "ok", out.report()


@property_settings(max_examples=1000)
@given(cases())
def test_random_model_gradients_agree_with_finite_differences(case):
    assert_agrees(check_case(case))


@property_settings(max_examples=150)
@given(cases(max_depth=4, max_definitions=5))
def test_larger_random_models_agree_with_finite_differences(case):
    assert_agrees(check_case(case))


@property_settings(max_examples=100)
@given(cases())
def test_random_models_print_their_derivations(case):
    """The step-by-step derivation (text) of every random model prints without error."""
    assert_agrees(check_case(case, derivations=True))


@pytest.mark.parametrize("chunk", range(4))
def test_seeded_selftest_models(chunk):
    """The generator ``matcalc selftest`` runs: 4 × 300 models, no disagreement, few rejections."""
    s = selftest.run(300, seed=1000 + chunk)
    reports = "\n\n".join(f"model #{n}: {out.report()}" for n, out in s.failures[:5])
    assert not s.failures, f"{len(s.failures)} disagreements:\n{reports}"
    assert s.unsupported == 0
    assert s.rejected <= 0.05 * s.tried, selftest.format_summary(s)


def _regression_case(entry: dict, seed: int):
    return case_from_text(entry["model"], entry["wrt"], entry.get("of"), seed, entry.get("domains"))


def _regression_params():
    out = []
    for entry in REGRESSIONS:
        marks = [pytest.mark.xfail(reason=entry["open"], strict=True)] if entry.get("open") else []
        out.append(pytest.param(entry, id=entry["name"], marks=marks))
    return out


@pytest.mark.parametrize("entry", _regression_params())
def test_regression(entry):
    if "error" in entry:  # now refused by the front end, with a location
        with pytest.raises(matcalc.MatcalcError) as err:
            matcalc.parse(entry["model"])
        assert (err.value.line, err.value.column) == entry["error"][:2]
        assert entry["error"][2] in str(err.value)
        return
    for seed in range(3):
        out = check_case(_regression_case(entry, seed), derivations=True)
        assert out.status in ("ok", "rejected"), out.report()
    if "expect" in entry:
        g = matcalc.grad(entry["model"], wrt=entry["wrt"], of=entry.get("of"))
        texts = [line.split(" = ", 1)[1] for line in g.text().splitlines()]
        assert texts == entry["expect"]


# ------------------------------------------------------------------ the harness itself


@property_settings(max_examples=200)
@given(generated_models())
def test_generated_text_parses_back_to_the_tree_it_was_printed_from(gm):
    assert selftest.round_trip(gm.text, gm.statements) is None


def test_generator_is_deterministic():
    for i in range(20):
        a, b = selftest.generate(i), selftest.generate(i)
        assert a.text == b.text and a.wrt == b.wrt and a.of == b.of
        ca, cb = selftest.instance(a), selftest.instance(b)
        assert ca.dims == cb.dims
        for k in ca.inputs:
            np.testing.assert_array_equal(ca.inputs[k], cb.inputs[k])


def test_sizes_are_distinct():
    for i in range(50):
        case = selftest.instance(selftest.generate(i))
        assert len(set(case.dims.values())) == len(case.dims)


def test_the_check_catches_a_wrong_gradient(monkeypatch):
    """A deliberately wrong differential rule must be caught (the property is not vacuous)."""
    from matcalc import differential

    case = case_from_text("x: vector(n); W: matrix(m, n); f = sum(sin(W*x))", "W,x")
    assert check_case(case).status == "ok"
    wrong = replace(OPS["sin"], derivative=lambda x, y: differential.b.apply("sin", x))
    monkeypatch.setitem(OPS, "sin", wrong)
    out = check_case(case)
    assert out.status == "failed" and "relative error" in out.detail, out.report()


def test_the_check_catches_a_wrong_value(monkeypatch):
    case = case_from_text("x: vector(n); f = sum(exp(x))", "x")
    monkeypatch.setitem(OPS, "exp", replace(OPS["exp"], code={"numpy": "{np}.exp(2 * {x})"}))
    out = check_case(case)
    assert out.status == "failed" and "value" in out.detail, out.report()


def test_the_check_catches_a_misparse(monkeypatch):
    gm = selftest.generate(3)
    broken = selftest.GeneratedModel(
        gm.statements, gm.text.replace("f = ", "f = -", 1), gm.inputs, gm.functions, gm.dims, gm.wrt, gm.of
    )
    if broken.text != gm.text:
        out = check_case(selftest.instance(broken))
        assert out.status == "failed" and "misread" in out.detail


def test_reference_evaluator_matches_matcalcs_evaluator_on_seed_models():
    """Two independent evaluators agree on the seed models' values."""
    from pathlib import Path

    from matcalc.evaluate import evaluate_model

    for path in sorted((Path(__file__).parent / "models").glob("*.mc")):
        text = path.read_text()
        model = matcalc.parse(text)
        case = case_from_text(text, [model.inputs[0].name], seed=1)
        functions = {g: selftest.ABSTRACT for g in case.functions}
        ref = selftest.Reference(case.dims, functions)
        out = model.output.name
        env = ref.run(case.statements, {k: v[None] for k, v in case.inputs.items()}, out)
        theirs = evaluate_model(model, case.inputs, case.dims, {g: list(f) for g, f in functions.items()})
        assert env[out][0, 0, 0] == pytest.approx(theirs[out][0, 0], rel=1e-10), path.name


def test_selftest_shrinks_a_failing_model(monkeypatch):
    """``matcalc selftest`` prints a smaller model failing the same way."""
    from matcalc import differential

    wrong = replace(OPS["tanh"], derivative=lambda x, y: differential.b.apply("tanh", x))
    monkeypatch.setitem(OPS, "tanh", wrong)
    found = 0
    for i in range(300):
        out = check_case(selftest.instance(selftest.generate(i)))
        if out.status != "failed":
            continue
        small = selftest.shrink(out)
        assert small.status == "failed" and selftest.failure_kind(small) == "gradient"
        assert len(small.case.text) <= len(out.case.text)
        assert "tanh" in small.case.text
        found += 1
        if found == 3:
            break
    assert found == 3


def test_selftest_command_prints_the_figures(capsys):
    from matcalc.cli import main

    status = main(["selftest", "--examples", "40", "--ill-typed", "40", "--fuzz", "40", "--seed", "3"])
    assert status in (0, 1)
    out = capsys.readouterr().out
    figures = ("models tried       40", "disagreements", "time", "ill-typed", "fuzzed inputs      40")
    for figure in figures:
        assert figure in out, out
