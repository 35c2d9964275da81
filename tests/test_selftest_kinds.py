"""The Jacobian and Hessian selftest: random models through generated code, no disagreement."""

from __future__ import annotations

from matcalc.cli import main
from matcalc.selftest import instance
from matcalc.selftest_kinds import check_hessian_case, generate_valued, run_kind


def test_random_jacobians_agree():
    s = run_kind("jacobians", 120, seed=7)
    assert not s.failures, s.failures[0][1].report()
    assert s.counts.get("ok", 0) >= 100


def test_random_hessians_agree():
    s = run_kind("hessians", 60, seed=7)
    assert not s.failures, s.failures[0][1].report()
    assert s.counts.get("ok", 0) >= 50


def test_jacobian_models_are_not_scalar():
    for n in range(20):
        gm = generate_valued(n)
        assert "F" in gm.text or gm.statements[-1].name is None


def test_a_wrong_hessian_is_caught(monkeypatch):
    """The property is not vacuous: a Hessian scaled by 2 fails."""
    from matcalc import build as b
    from matcalc import kinds

    real = kinds.hessian

    def broken(*args, **kwargs):
        d = real(*args, **kwargs)
        for key in d.blocks:
            d.blocks[key] = b.scale(2, d.blocks[key])
        return d

    monkeypatch.setattr("matcalc.kinds_api.derive_hessian", broken)
    outcomes = [check_hessian_case(instance(__import__("matcalc").selftest.generate(n))) for n in range(8)]
    assert any(o.status == "failed" for o in outcomes)


def test_cli_selftest_with_kinds(capsys):
    assert main(["selftest", "--examples", "0", "--jacobians", "10", "--hessians", "10"]) == 0
    out = capsys.readouterr().out
    assert "jacobians  10 models" in out and "hessians   10 models" in out and " 0 disagreements" in out
