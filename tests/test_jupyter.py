"""The ``%%matcalc`` cell magic and how gradients display, in an in-process IPython shell
(tests/test_notebooks.py runs the same magic in an executed notebook)."""

from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

import matcalc
from matcalc.check import check
from matcalc.jupyter import ErrorView, GradientView

SEED0 = (Path(__file__).parent / "models" / "seed000.mc").read_text()


@pytest.fixture(scope="module")
def shell():
    sh = InteractiveShell.instance()
    sh.run_line_magic("load_ext", "matcalc")
    return sh


def test_the_magic_shows_the_gradient_and_keeps_it(shell):
    shown = shell.run_cell_magic("matcalc", "--wrt W --as g0", SEED0)
    assert isinstance(shown, GradientView) and not shown.steps_open
    g = shell.user_ns["g0"]
    assert repr(shown) == g.text() == "∂f/∂W = ((Mᵀ(t − y)) ∘ step(s)) xᵀ"
    assert check(g.derivation).ok
    html = shown._repr_html_()
    assert html.index("$$\\begin{aligned}") < html.index("<details><summary>derivation (9 steps)")
    assert "&amp;=" in html and "[G:XB = GBᵀ:X]" not in html  # LaTeX rules, escaped for HTML


def test_steps_unfold_the_derivation_and_the_convention_applies(shell):
    shown = shell.run_cell_magic("matcalc", "--wrt x,c --steps --convention mc", "x'*A*x + c*sin(y)'*x")
    assert shown.steps_open and "<details open>" in shown._repr_html_()
    assert repr(shown).startswith("df = ")
    assert check(shell.user_ns["_matcalc"].derivation).ok


@pytest.mark.parametrize(
    "line, cell, message",
    [
        ("--wrt x", "x'*A*x + c*sin(y)'*x", "note: c was taken as a vector"),
        ("", "f = x'*x", "the following arguments are required: --wrt"),
        ("--wrt x --of", "f = x'*x", "argument --of: expected one argument"),
        ("--wrt x --as 1x", "f = x'*x", "--as '1x' is not a Python name"),
        ("--wrt x 'unclosed", "f = x'*x", "No closing quotation"),
        ("--wrt x", "f = x'*", "syntax error: line 1, column 8"),
    ],
)
def test_mistakes_display_as_located_messages(shell, line, cell, message):
    shown = shell.run_cell_magic("matcalc", line, cell)
    assert isinstance(shown, ErrorView) and message in repr(shown)
    assert "<pre" in shown._repr_html_()


def test_a_gradient_displays_latex_with_its_derivation_folded():
    g = matcalc.grad("x: vector(n); f = norm2(x)^2", wrt="x")
    assert "<details>" in g._repr_html_() and g._repr_latex_().startswith("$$")


LOGISTIC = (
    "X: matrix(N, d); y: vector(N); w: vector(d); lambda: scalar\n"
    "z = X*w\nf = sum(softplus(z)) - y'*z + lambda/2 * w'*w"
)


@pytest.mark.parametrize("line", ["--wrt w --kind hessian --as h", "--wrt w --hessian --as h"])
def test_the_magic_asks_for_a_hessian(shell, line):
    shown = shell.run_cell_magic("matcalc", line, LOGISTIC)
    h = shell.user_ns["h"]
    assert isinstance(h, matcalc.Hessian)
    assert repr(shown) == h.text() == matcalc.hessian(LOGISTIC, wrt="w").text()
    assert "<details><summary>derivation" in shown._repr_html_() and r"\partial^2 f" in shown._repr_html_()


def test_the_magic_asks_for_a_jacobian_in_a_layout(shell):
    line = "--wrt W --of t --kind jacobian --layout denominator --as j"
    shown = shell.run_cell_magic("matcalc", line, SEED0)
    j = shell.user_ns["j"]
    assert isinstance(j, matcalc.Jacobian) and j.layout == "denominator"
    assert repr(shown) == matcalc.jacobian(SEED0, wrt="W", of="t", layout="denominator").text()


@pytest.mark.parametrize(
    "line, message",
    [
        ("--wrt w --kind hess", "argument --kind: invalid choice: 'hess'"),
        ("--wrt w --layout numerator", "--layout is a Jacobian's"),
    ],
)
def test_kind_mistakes_display_as_messages(shell, line, message):
    shown = shell.run_cell_magic("matcalc", line, LOGISTIC)
    assert isinstance(shown, ErrorView) and message in repr(shown)
