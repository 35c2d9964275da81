"""Jacobians and Hessians: the textbook table (numerically, as text, through KaTeX), the
command line, the steps, the layouts, symmetric variables and located errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from kind_identities import TABLE

import matcalc
from matcalc import kron
from matcalc.check_kinds import check_hessian, check_jacobian, vec
from matcalc.cli import main
from matcalc.identify import VEC_RULES

IDS = [f"{kind}:{model}:{wrt}" for model, wrt, kind, _ in TABLE]


def _derive(model: str, wrt: str, kind: str):
    return matcalc.jacobian(model, wrt) if kind == "jacobian" else matcalc.hessian(model, wrt)


def test_table_is_large_enough():
    assert len(TABLE) >= 40
    assert sum(kind == "jacobian" for *_, kind, _ in TABLE) >= 20
    assert sum(kind == "hessian" for *_, kind, _ in TABLE) >= 20


@pytest.mark.parametrize("model,wrt,kind,expected", TABLE, ids=IDS)
def test_table_numerically(model, wrt, kind, expected):
    d = _derive(model, wrt, kind)
    for seed in (0, 1):
        check = check_jacobian if kind == "jacobian" else check_hessian
        result = check(d.derivation, seed=seed)
        assert result.ok, result.errors


@pytest.mark.parametrize("model,wrt,kind,expected", TABLE, ids=IDS)
def test_table_as_text(model, wrt, kind, expected):
    assert _derive(model, wrt, kind).text().splitlines()[-1] == expected


def test_table_renders_in_katex():
    from test_latex import find_katex, render

    strings = []
    for model, wrt, kind, _ in TABLE:
        d = _derive(model, wrt, kind)
        strings += [d.latex(), d.steps_latex()]
    assert all(s.isascii() for s in strings)
    results = render(find_katex(), strings)
    bad = [(s, r) for s, r in zip(strings, results, strict=True) if not r["ok"] or r["warnings"]]
    assert not bad, bad[:3]


# ---------------------------------------------------------------- the contract's examples

LOGISTIC = (
    "X: matrix(n, k); y: vector(n); w: vector(k)\n"
    "p = sigmoid(X*w)\n"
    "f = -sum(y .* log(p) + (1 - y) .* log(1 - p))"
)
LSQ = "A: matrix(m, n); X: matrix(n, k); B: matrix(m, k); f = normF(A*X - B)^2"
SOFTMAX = "x: vector(n); W: matrix(m, n); p = softmax(W*x)"


def test_logistic_regression_hessian():
    h = matcalc.hessian(LOGISTIC, "w")
    assert h.text() == "H[dw] = Xᵀ(p ∘ (1 − p) ∘ (X dw))\n∂²f/∂w∂wᵀ = Xᵀ Diag(p ∘ (1 − p)) X"


def test_least_squares_hessian_and_steps():
    h = matcalc.hessian(LSQ, "X")
    assert h.text() == "H[dX] = 2 Aᵀ A dX\n∂²f/∂vec(X)∂vec(X)ᵀ = 2 (I ⊗ Aᵀ A)"
    steps = h.steps_text().splitlines()
    assert "[vec(AX) = (I ⊗ A) vec(X)]" in steps[3]
    assert "second identification theorem" in steps[-3]


def test_softmax_jacobian_and_layouts():
    j = matcalc.jacobian(SOFTMAX, "W")
    assert j.text() == "dp = p ∘ (dW x) − p pᵀ dW x\n∂p/∂vec(W)ᵀ = xᵀ ⊗ (Diag(p) − p pᵀ)"
    d = matcalc.jacobian(SOFTMAX, "W", layout="denominator")
    assert d.text().splitlines()[-1] == "∂pᵀ/∂vec(W) = x ⊗ (Diag(p) − p pᵀ)"
    assert check_jacobian(d.derivation, seed=4).ok


def test_every_step_is_an_equation_with_a_rule():
    for d in (matcalc.jacobian(SOFTMAX, "W"), matcalc.hessian(LOGISTIC, "w"), matcalc.hessian(LSQ, "X")):
        lines = d.steps_text().splitlines()
        body = lines[: len(lines) - len(d.text().splitlines())]
        assert all(" = " in ln and ln.rstrip().endswith("]") for ln in body)
        assert "identification theorem" in body[-1]


def test_mixed_blocks_and_symmetry():
    h = matcalc.hessian("x: vector(n); A: matrix(n, n); f = x'*A*x", "x,A")
    assert h.text().splitlines()[3] == "∂²f/∂x∂vec(A)ᵀ = xᵀ ⊗ I + I ⊗ xᵀ"
    assert check_hessian(h.derivation, seed=2).ok


def test_symmetric_variable_is_on_the_symmetric_space():
    h = matcalc.hessian("S: symmetric(n); f = logdet(S)", "S")
    assert "(I + K(n,n))" in h.text()
    assert h.text().splitlines()[0] == "H[dS] = −inv(S) dS inv(S)"
    assert check_hessian(h.derivation, seed=5).ok


def test_map_equals_matrix_on_a_direction_for_a_definition_variable():
    model = "x: vector(n); W: matrix(m, n); s = W*x; p = softmax(s); f = sum(log(p))"
    h = matcalc.hessian(model, "s")
    assert check_hessian(h.derivation, seed=1).ok
    j = matcalc.jacobian(model, "s", of="p")
    assert j.text().splitlines()[-1] == "∂p/∂sᵀ = Diag(p) − p pᵀ"


def test_commutation_matrix_numerically():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 5))
    assert np.array_equal(kron.commutation_matrix(3, 5) @ vec(a), vec(a.T))


def test_vec_rules_are_named():
    assert len({r.name for r in VEC_RULES}) == len(VEC_RULES)
    assert all(r.latex.isascii() for r in VEC_RULES)


# ---------------------------------------------------------------- command line


def test_cli_hessian_text_steps_json_latex(capsys):
    assert main(["hessian", LSQ, "--wrt", "X"]) == 0
    assert capsys.readouterr().out == "H[dX] = 2 Aᵀ A dX\n∂²f/∂vec(X)∂vec(X)ᵀ = 2 (I ⊗ Aᵀ A)\n"
    assert main(["hessian", LSQ, "--wrt", "X", "--steps"]) == 0
    assert "[second identification theorem" in capsys.readouterr().out
    assert main(["hessian", LSQ, "--wrt", "X", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["hessians"]["X,X"]["text"] == "2 (I ⊗ Aᵀ A)"
    assert main(["hessian", LSQ, "--wrt", "X", "--format", "latex"]) == 0
    assert r"\otimes" in capsys.readouterr().out


def test_cli_jacobian_layout(capsys):
    assert main(["jacobian", SOFTMAX, "--wrt", "W", "--layout", "denominator"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "∂pᵀ/∂vec(W) = x ⊗ (Diag(p) − p pᵀ)"


@pytest.mark.parametrize(
    "args,message",
    [
        (["hessian", "x: vector(n); A: matrix(m, n); F = A*x", "--wrt", "x"], "not a scalar"),
        (["jacobian", "X: matrix(n, n); F = diag(X)", "--wrt", "X"], "no finite closed form"),
        (["jacobian", "x: vector(n); F = x", "--wrt", "y"], "not a name"),
    ],
)
def test_cli_errors_are_located_messages(capsys, args, message):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize(
    "model,wrt,flag",
    [
        (LOGISTIC, "w", "--hessian"),
        (SOFTMAX, "W,x", "--jacobian"),
        ("g: elementwise; S: symmetric(n); x: vector(n); f = sum(g(S*x)) + logdet(S)", "S,x", "--hessian"),
        ("X: matrix(n, n); F = inv(X)*X'", "X", "--jacobian"),
    ],
)
def test_cli_check_jacobians_hessians_and_hvp(capsys, model, wrt, flag):
    assert main(["check", model, "--wrt", wrt, flag, "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "MISMATCH" not in out and "agree" in out.splitlines()[-1]
    assert ("code hvp" in out) == (flag == "--hessian")


def test_cli_check_reports_a_wrong_hessian(monkeypatch, capsys):
    """A deliberately wrong block is caught (the check is not vacuous)."""
    from matcalc import build as b
    from matcalc import kinds

    real = kinds.hessian

    def broken(*args, **kwargs):
        d = real(*args, **kwargs)
        key = next(iter(d.blocks))
        d.blocks[key] = b.scale(2, d.blocks[key])
        return d

    monkeypatch.setattr("matcalc.kinds_api.derive_hessian", broken)
    assert main(["check", LSQ, "--wrt", "X", "--hessian"]) == 1
    assert "MISMATCH" in capsys.readouterr().out


def test_no_closed_form_is_located_at_the_definition(capsys):
    assert main(["jacobian", "X: matrix(n, n); y = X*X; F = diag(y)", "--wrt", "X"]) == 2
    err = capsys.readouterr().err
    assert "line 1, column 27" in err and "no finite closed form" in err


def test_hessian_of_dependent_variables_is_a_located_error(capsys):
    assert main(["hessian", "b: vector(n); D = b.*b; f = sum(D) + sum(b)", "--wrt", "b,D"]) == 2
    assert "D depends on b" in capsys.readouterr().err


def test_jacobian_of_dependent_variables_follows_gradient_semantics():
    """w.r.t. an input, a definition in wrt still follows it (as gradients do)."""
    model = "b: vector(n); D = b.*b; F = D + 2*b"
    j = matcalc.jacobian(model, "b,D")
    assert check_jacobian(j.derivation, seed=1).ok
    assert j.text().splitlines()[1:] == ["∂F/∂bᵀ = 2 Diag(b) + 2 I", "∂F/∂Dᵀ = I"]


def test_cli_numpy_module_for_kinds(tmp_path):
    out = tmp_path / "h.py"
    assert main(["numpy", LSQ, "--wrt", "X", "--hessian", "-o", str(out)]) == 0
    text = out.read_text()
    assert "def value_grad_and_hessian(" in text and "def hvp(" in text and "def value_and_grad(" in text
    assert main(["numpy", SOFTMAX, "--wrt", "W", "--jacobian", "-o", str(out)]) == 0
    assert "def value_and_jacobian(" in out.read_text()


def test_hessian_wrt_a_definition_does_not_confuse_its_value_with_the_variable():
    """selftest model 2649: diag(Σ) in the gradient is not the variable t = diag(Σ)."""
    h = matcalc.hessian("Sigma: matrix(k, k); t = diag(Sigma); f = diag(Sigma)' * t", "t")
    assert h.text() == "H[dt] = 0\n∂²f/∂t∂tᵀ = 0"
    assert check_hessian(h.derivation, seed=1).ok


def test_a_hessian_constant_beyond_a_float_is_a_located_error(capsys):
    """The gradient 1.5e308 α² is a float; the Hessian 3e308 α is not."""
    assert main(["hessian", "alpha: scalar; f = 5e307*alpha^3", "--wrt", "alpha"]) == 2
    err = capsys.readouterr().err
    assert "number too large" in err and "line 1" in err


def test_a_map_with_no_differential_left_is_zero():
    """selftest model 1000002964: d(step(·)) leaves unvec(0) ∘ V, which is no term at all."""
    h = matcalc.hessian("A: symmetric(d); f = relu(sum(vec(A .* V)))", "A")
    assert h.text() == "H[dA] = 0\n∂²f/∂vec(A)∂vec(A)ᵀ = 0"


RESIDUAL = (
    "x: vector(n); W1: matrix(h,n); W2: matrix(h,h); W3: matrix(h,h); W4: matrix(h,h); "
    "W5: matrix(h,h); w: vector(h)\n"
    "h1 = tanh(W1*x); h2 = h1 + tanh(W2*h1); h3 = h2 + tanh(W3*h2); h4 = h3 + tanh(W4*h3)\n"
    "h5 = h4 + tanh(W5*h4); f = w'*h5"
)


def test_hessian_through_named_adjoints():
    """The gradient names δh₁ … δh₄; the forward pass differentiates through their values, and
    the maps, blocks and generated code (which computes them) agree with differences."""
    from matcalc.check_kinds import check_generated

    h = matcalc.hessian(RESIDUAL, "W1,W2")
    assert {v.name for v, _ in h.derivation.adjoints} == {"h1", "h2", "h3", "h4"}
    assert "where δh4 = " in h.text() and "for t = 3, …, 1" in h.text() and "δh2" in h.text()
    result = check_hessian(h.derivation, seed=2)
    assert result.ok, result.errors
    code = check_generated(h.derivation, h.numpy_source(), seed=2)
    assert code.ok, code.errors
    assert "delta_h1 = " in h.numpy_source()
    steps = h.steps_text()
    assert "differential of δh1" in steps


def test_a_deep_gated_hessian_names_its_tangents_and_agrees():
    """A deep gated network w.r.t. its first weights (refused as too large to write when the map
    was written out as a tree): the tangents dh_t, dg_t and their Jacobians are named, the text
    is short, and the blocks, map and generated code agree with differences."""
    from matcalc.check_kinds import check_generated

    steps = "".join(
        f"g{i} = sigmoid(A{i}*h{i - 1}); h{i} = (1 - g{i}) .* h{i - 1} + g{i} .* tanh(B{i}*h{i - 1})\n"
        for i in range(1, 9)
    )
    decl = "h0: vector(n); " + "; ".join(f"A{i}, B{i}: matrix(n, n)" for i in range(1, 9))
    h = matcalc.hessian(f"{decl}\n{steps}f = sum(h8)", "A1,B2")
    text = h.text()
    assert "/∂vec(A1)ᵀ = " in text and "dh_t = " in text and len(text) < 20_000
    result = check_hessian(h.derivation, seed=1)
    assert result.ok, result.errors
    source = h.numpy_source()
    assert "J_h1_A1 = " in source and "dh1 = " in source
    code = check_generated(h.derivation, source, seed=1)
    assert code.ok, code.errors
