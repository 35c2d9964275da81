"""Random well-typed models (the selftest's generator): every target's module gives the
NumPy module's value and gradients, which tests/test_random_models.py proves against
central differences. Catches a spelling that only some operator combinations reach.
The same comparison is ``matcalc selftest --target T`` (matcalc/codegen/agree.py)."""

from __future__ import annotations

import pytest

from matcalc import selftest
from matcalc.cli import main
from matcalc.codegen import agree

pytest.importorskip("torch", reason="the targets' tests need PyTorch (the test extra)")
pytest.importorskip("jax", reason="the targets' tests need JAX (the test extra)")

#: Models per target (JAX runs eagerly op by op here, about 1 s a model).
MODELS = {"torch": 80, "jax": 30, "array-api": 80}


@pytest.mark.parametrize("target", sorted(MODELS))
def test_random_models_agree_with_the_numpy_module(target):
    s = agree.run(MODELS[target], seed=5, target=target)
    assert not s.failures, "\n".join(report for _, report in s.failures[:5])
    assert s.compared >= 0.75 * MODELS[target]
    assert s.with_formulas > 0, "no model with a function defined by formula was compared"


def test_a_disagreement_is_reported(monkeypatch):
    """A wrong spelling is caught: torch's exp written as sin."""
    from matcalc.codegen.torch import TorchModule

    monkeypatch.setattr(TorchModule, "ENTRYWISE", {**TorchModule.ENTRYWISE, "exp": "{np}.sin({x})"})
    case = selftest.case_from_text("x: vector(n); f = sum(exp(x))", "x")
    problem = agree.disagreement(case, "torch", agree._library("torch"))
    assert problem is not None and "result 0" in problem


def test_selftest_target_option(capsys):
    assert main(["selftest", "--examples", "5", "--target", "array-api"]) == 0
    out = capsys.readouterr().out
    assert "array-api module" in out and "0 disagreements" in out
