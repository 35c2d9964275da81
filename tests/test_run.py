"""Numeric evaluation by the lowered form (matcalc/codegen/run.py): the program the NumPy
target prints gives the tree interpreter's values and gradients, with a definition given
as an input too, and ``check`` runs it (falling back to the interpreter only for a size
that no input gives)."""

from __future__ import annotations

import numpy as np
import pytest
from test_numpy_module import CASES, IDS

import matcalc
import matcalc.check as checking
from matcalc.check import check, evaluate_gradient, finite_difference, random_instance
from matcalc.codegen.run import gradient_program, value_program
from matcalc.evaluate import Evaluator, evaluate_model


@pytest.mark.parametrize("case", range(len(CASES)), ids=IDS)
def test_the_lowered_program_gives_the_interpreters_values(case):
    text, wrt = CASES[case]
    g = matcalc.grad(text, wrt)
    d, model = g.derivation, g.model
    inst = random_instance(model, np.random.default_rng(case))
    env = evaluate_model(model, inst.inputs, inst.dims, inst.functions)
    value, *grads = gradient_program(d)(inst.inputs, inst.functions)
    assert value[0, 0] == pytest.approx(env[d.of.name][0, 0], rel=1e-10, abs=1e-12)
    ev = Evaluator(env, inst.dims, inst.functions)
    for var, adjoint in d.adjoints:
        ev.adjoints[var.name] = ev(adjoint)
    for var, got, expr in zip(d.wrt, grads, d.gradients, strict=True):
        want = np.broadcast_to(ev(expr), ev.shape(var))
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    # every definition before the output, shown; and the output with each given as an input
    before = tuple(v for v, _ in model.definitions[: [v.name for v, _ in model.definitions].index(d.of.name)])
    shown = value_program(model, d.of, show=before)(inst.inputs, inst.functions)
    for var, got in zip(before, shown[1:], strict=True):
        np.testing.assert_allclose(got, np.broadcast_to(env[var.name], got.shape), rtol=1e-9, atol=1e-12)
        again = value_program(model, d.of, given=var)({**inst.inputs, var.name: got}, inst.functions)
        assert again[0][0, 0] == pytest.approx(value[0, 0], rel=1e-10, abs=1e-12)


def test_check_runs_the_program_and_its_differences(monkeypatch):
    """With the interpreter made to fail, check still passes: it never ran."""
    g = matcalc.grad("x: vector(n); W: matrix(m, n); y: vector(m); h = tanh(W*x); f = y'*h", ["W", "x", "h"])
    monkeypatch.setattr(checking, "evaluate_model", None)
    monkeypatch.setattr(checking, "Evaluator", None)
    assert check(g.derivation, seed=1).ok
    inst = random_instance(g.model, np.random.default_rng(2))
    assert [a.shape for a in evaluate_gradient(g.derivation, inst)] == [
        inst.inputs["W"].shape, inst.inputs["x"].shape, (inst.dims["m"], 1)]


def test_a_size_no_input_gives_is_interpreted():
    """``x: vector(m*n)`` gives m·n but not m: no generated function can know m, so check
    interprets the tree with the drawn sizes."""
    g = matcalc.grad("x: vector(m*n); f = sum(exp(x))", ["x"])
    with pytest.raises(matcalc.MatcalcError, match="the size m is not the size of any input"):
        g.source()
    assert check(g.derivation, seed=3).ok
    inst = random_instance(g.model, np.random.default_rng(4))
    numeric = finite_difference(g.model, g.derivation.of, g.derivation.wrt[0], inst)
    np.testing.assert_allclose(numeric, np.exp(inst.inputs["x"]), rtol=1e-6)
