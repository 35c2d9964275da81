"""Naming conventions: matrixcalculus.org's rule as ``--convention mc``, and the note that
points to it when the default convention took an ``a``–``g`` name for a vector."""

import subprocess
import sys

import pytest

import matcalc
from matcalc import convention, dims
from matcalc.check import check
from matcalc.convention import convention_name, kind_by_convention

#: Examples pasted from matrixcalculus.org as written there: the start page's default,
#: the documentation's list of valid inputs (the scalar-valued ones), the older
#: documentation's ``sin(x)'*y``, inputs quoted in modules that the site generated, and
#: the examples the issue reports failing under matcalc's own convention.
SITE_EXAMPLES = [text for text, _ in convention.SITE_EXAMPLES]


def test_the_site_examples_are_at_least_ten_and_include_the_named_ones():
    assert len(SITE_EXAMPLES) >= 10
    assert {"x'*A*x + c*sin(y)'*x", "sum(log(exp(-y.*(X*w)) + vector(1)))", "log(det(inv(X)))",
            "norm1(A*x-y)", "norm2(A*x-y)^2"} <= set(SITE_EXAMPLES)


@pytest.mark.parametrize("text", SITE_EXAMPLES)
def test_site_examples_run_as_pasted_and_agree_with_finite_differences(text):
    model = matcalc.parse(text, convention="mc")
    wrt = [v.name for v in model.inputs]
    g = matcalc.grad(text, wrt=wrt, convention="mc")
    result = check(g.derivation, seed=3)
    assert result.ok, (text, dict(zip(result.names, result.errors)))
    assert model.convention == "matrixcalculus"


@pytest.mark.parametrize("text", SITE_EXAMPLES)
def test_site_examples_get_the_sites_kinds(text):
    """Every undeclared name has the kind the site gives it (a–g scalar, h–z vector, A–Z matrix)."""
    model = matcalc.parse(text, convention="matrixcalculus")
    for v in model.inputs:
        r, c = v.shape
        if v.name[0] in "abcdefg":
            assert (r, c) == (1, 1), v
        elif v.name[0].islower():
            assert c == 1 and r != 1, v
        else:
            assert r != 1 and c != 1, v


def test_default_convention_is_unchanged_and_points_to_the_site_rule():
    with pytest.raises(matcalc.DerivativeError) as info:
        matcalc.grad("x'*A*x + c*sin(y)'*x", wrt="x")
    err = info.value
    assert err.line == 1 and err.column == 1
    assert err.note.startswith("note: c was taken as a vector")
    assert "'c: scalar'" in err.note and "--convention mc" in err.note
    assert str(err).splitlines()[-1] == err.note  # one line, after the excerpt


def test_note_names_every_involved_name_once():
    with pytest.raises(matcalc.DimensionError) as info:
        matcalc.parse("a*exp(-b*x'*x)")
    assert "a, b were taken as vectors" in info.value.note
    assert "'a, b: scalar'" in info.value.note
    assert "\n" not in info.value.note


def test_note_follows_definitions():
    text = "r = c*norm2(X*w - y)^2\nloss = r + 0"
    with pytest.raises(matcalc.DerivativeError) as info:
        matcalc.grad(text, wrt="w", of="loss")
    assert "c was taken as a vector" in info.value.note


@pytest.mark.parametrize(
    "text",
    [
        "c: vector(n); x: vector(n); f = c*x",          # c declared: no note
        "f = x*y",                                      # no a–g name
        "f = alpha*x + eta",                            # Greek names are scalars anyway
        "x'*A*x + c*sin(y)'*x +",                       # a syntax error
    ],
)  # fmt: skip
def test_no_note_when_no_undeclared_a_to_g_vector_is_involved(text):
    with pytest.raises(matcalc.MatcalcError) as info:
        matcalc.grad(text, wrt="x")
    assert info.value.note == ""


def test_no_note_under_the_site_convention():
    with pytest.raises(matcalc.MatcalcError) as info:
        matcalc.grad("c*x", wrt="x", convention="mc")
    assert info.value.note == ""


def test_declarations_win_under_the_site_convention():
    model = matcalc.parse("c: vector(n); X: scalar; f = X*c'*c", convention="mc")
    shapes = {v.name: dims.shape_json(v.shape) for v in model.inputs}
    assert shapes == {"c": ["n", 1], "X": [1, 1]}
    g = matcalc.grad("c: vector(n); f = c'*c + d*e", wrt="c,d", convention="mc")
    assert check(g.derivation, seed=1).ok


@pytest.mark.parametrize(
    "name, default, site",
    [
        ("a", "vector", "scalar"), ("g", "vector", "scalar"), ("h", "vector", "vector"),
        ("z", "vector", "vector"), ("A", "matrix", "matrix"), ("Z", "matrix", "matrix"),
        ("cost", "vector", "scalar"), ("weights", "vector", "vector"), ("Phi", "matrix", "matrix"),
        ("alphas", "vector", "scalar"), ("theta", "scalar", "scalar"), ("lambda", "scalar", "scalar"),
        ("xi", "scalar", "scalar"), ("λ", "scalar", "scalar"), ("mu0", "scalar", "scalar"),
        ("_b", "vector", "scalar"), ("é", "vector", "vector"),
    ],
)  # fmt: skip
def test_kind_by_convention(name, default, site):
    assert kind_by_convention(name) == default
    assert kind_by_convention(name, "matrixcalculus") == site


def test_convention_names():
    assert convention_name(None) == convention_name("default") == "matcalc"
    assert convention_name("mc") == convention_name("MatrixCalculus") == "matrixcalculus"
    with pytest.raises(matcalc.MatcalcError, match="unknown naming convention 'sympy'"):
        matcalc.parse("f = x'*x", convention="sympy")


def test_greek_stays_scalar_under_the_site_convention():
    text = "norm2(X*w - y)^2 + lambda*norm2(w)^2 + theta*sum(w)"
    g = matcalc.grad(text, wrt="w,lambda,theta", convention="mc")
    assert g.shapes() == {"w": "k2×1", "lambda": "1×1", "theta": "1×1"}
    assert check(g.derivation, seed=2).ok


# ---------------------------------------------------------------- the command line


def run(*args):
    return subprocess.run([sys.executable, "-m", "matcalc", *args], capture_output=True, text=True)


def test_every_model_command_takes_the_convention(tmp_path):
    text = "x'*A*x + c*sin(y)'*x"
    shown = run("show", text, "--convention", "mc")
    assert shown.returncode == 0, shown.stderr
    assert "c: scalar" in shown.stdout
    r = run("grad", text, "--wrt", "x,c", "--convention", "matrixcalculus")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1] == "∂f/∂c = sin(yᵀ) x"
    r = run("check", text, "--wrt", "x,c,y,A", "--convention", "mc")
    assert r.returncode == 0 and "all gradients agree" in r.stdout, r.stdout + r.stderr
    out = tmp_path / "g.py"
    r = run("numpy", text, "--wrt", "x", "--convention", "mc", "-o", str(out))
    assert r.returncode == 0 and "def value_and_grad(" in out.read_text()


def test_the_command_line_error_carries_the_note():
    r = run("grad", "x'*A*x + c*sin(y)'*x", "--wrt", "x")
    assert r.returncode == 2
    lines = r.stderr.splitlines()
    assert lines[0].startswith("derivative error: line 1, column 1: f is k2×1, not a scalar")
    assert lines[-1].startswith("note: c was taken as a vector") and "--convention mc" in lines[-1]
    assert "Traceback" not in r.stderr


def test_an_unknown_convention_is_a_usage_error():
    r = run("grad", "x'*x", "--wrt", "x", "--convention", "numpy")
    assert r.returncode == 2 and "invalid choice: 'numpy'" in r.stderr
