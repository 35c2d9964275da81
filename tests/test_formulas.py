"""Functions defined by formula: SymPy's derivatives, the ``where`` lines, the generated
helpers, ``matcalc check`` and located errors for bodies that are not allowed."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import matcalc
from matcalc.check import check
from matcalc.cli import main
from matcalc.formulas import symbol
from matcalc.selftest import case_from_text, check_case

ACTIVATIONS = """softsign(u) = u / (1 + abs(u))
swish(u) = u * sigmoid(u)
gelu(u) = u * sigmoid(1.702*u)
mish(t) = t * tanh(softplus(t))
leaky(u) = relu(u) - 0.01*relu(-u)
"""
MODEL = ACTIVATIONS + """x: vector(n); W, V: matrix(m, n)
f = sum(gelu(W*x) .* softsign(V*x)) + sum(swish(V*x)) + mish(x)'*leaky(x)
"""


def test_the_issue_model_passes_check_and_its_module_matches_the_reference():
    g = matcalc.grad(MODEL, wrt=["W", "V", "x"])
    assert check(g.derivation, seed=2).ok
    for seed in range(3):
        out = check_case(case_from_text(MODEL, "W,V,x", seed=seed))
        assert out.status == "ok", out.report()
    assert main(["check", MODEL, "--wrt", "W,V,x"]) == 0


def test_results_write_the_derivative_and_say_what_it_is():
    g = matcalc.grad("softsign(u) = u / (1 + abs(u)); x: vector(n); W: matrix(m, n); f = sum(softsign(W*x))",
                     wrt=["W"])
    assert g.text() == "∂f/∂W = softsign'(W x) xᵀ\nwhere softsign'(u) = 1 / (1 + abs(u))²"
    assert g.steps_text().endswith("where softsign'(u) = 1 / (1 + abs(u))²")
    where = r"\text{where } \mathit{softsign}'\left(u\right) &= "
    assert where + r"\frac{1}{{\left(1 + \left|u\right|\right)}^{2}}" in g.latex()
    assert r"\text{where }" in g.steps_latex()


def test_generated_helpers_are_printed_by_sympy():
    g = matcalc.grad(MODEL, wrt=["x"])
    src = g.numpy_source()
    for helper in ("_softsign", "_dsoftsign", "_gelu", "_dgelu", "_dmish"):
        helper = f"def {helper}(u):"
        assert helper in src
    assert "return u/(abs(u) + 1)" in src  # SymPy's NumPyPrinter wrote it
    f = g.to_function()
    rng = np.random.default_rng(0)
    x, W, V = rng.normal(size=4), rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    value, grad_x = f(x=x, W=W, V=V)
    assert np.isfinite(value) and grad_x.shape == (4,)


@pytest.mark.parametrize("body", [
    "u / (1 + abs(u))", "u * sigmoid(u)", "u * sigmoid(1.702*u)", "u * tanh(softplus(u))",
    "relu(u) - 0.01*relu(-u)", "exp(-u^2/2)", "log(1 + u.^2) ./ (2 + sin(u))", "arctan(u)^3",
])
def test_derivatives_are_sympys_and_agree_with_central_differences(body):
    m = matcalc.parse(f"h(u) = {body}; x: vector(n); f = sum(h(x))")
    (fn,) = m.formulas
    u = symbol()
    for k in (1, 2):
        exact = sp.diff(fn.forms[0], u, k).replace(sp.DiracDelta, lambda *a: 0)
        assert sp.simplify(exact - fn.forms[k]) == 0
    x = np.random.default_rng(1).normal(size=(5, 3))
    x = np.where(np.abs(x) < 0.1, 0.3, x)
    h = 1e-5
    for k in (1, 2):
        numeric = (fn.numeric(k - 1)(x + h) - fn.numeric(k - 1)(x - h)) / (2 * h)
        assert np.allclose(fn.numeric(k)(x), numeric, rtol=1e-5, atol=1e-6)


def test_a_function_may_use_one_defined_before_it():
    g = matcalc.grad("s(u) = u / (1 + abs(u)); t(u) = s(u)^2 + 1; x: vector(n); f = sum(t(x))", wrt=["x"])
    assert g.text().startswith("∂f/∂x = t'(x)")
    assert check(g.derivation).ok


@pytest.mark.parametrize("model,where,message", [
    ("h(u) = u + x; x: vector(n); f = sum(h(x))", "x;", "x is not allowed here"),
    ("h(u) = sum(u); x: vector(n); f = sum(h(x))", "sum", "sum is not an entry-wise function"),
    ("h(u) = u'; x: vector(n); f = sum(h(x))", "u'", "a transpose is not"),
    ("h(u) = u : u; x: vector(n); f = sum(h(x))", ":", "':' is a matrix operation"),
    ("h(u) = u^u; x: vector(n); f = sum(h(x))", "u;", "an exponent must be a number"),
    ("h(u) = k(u); k(u) = u; x: vector(n); f = sum(h(x))", "k(", "k is not defined before it"),
    ("h(u) = h(u); x: vector(n); f = sum(h(x))", "h(u);", "used in its own definition"),
    ("h(u, v) = u; x: vector(n); f = sum(h(x))", "(u, v)", "one parameter name"),
    ("exp(u) = u; x: vector(n); f = sum(x)", "exp", "built-in function"),
    ("h(u) = u; h(u) = 2*u; x: vector(n); f = sum(h(x))", "h(u) = 2", "defined twice"),
    ("h: elementwise; h(u) = u; x: vector(n); f = sum(h(x))", "h(u)", "cannot also be defined"),
    ("h(u) = u; x: vector(n); f = sum(h(x, x))", "h(x, x)", "takes 1 argument"),
    ("h(u) = u; x: vector(n); f = h + 1", "h +", "call it as h(...)"),
])
def test_a_body_that_is_not_allowed_is_a_located_error(model, where, message):
    with pytest.raises(matcalc.MatcalcError) as err:
        matcalc.parse(model)
    e = err.value
    assert message in str(e)
    assert (e.line, e.column) == (1, model.index(where) + 1), str(e)
