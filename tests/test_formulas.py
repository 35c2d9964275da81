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
from matcalc.ops.registry import entrywise_ops
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


def _formula_with_sympys_derivatives(body: str):
    """The function ``h(u) = body``, after checking that its ``f'`` and ``f''`` are SymPy's
    derivatives of its body (equal once written in exponentials)."""
    (h,) = matcalc.parse(f"h(u) = {body}; x: vector(n); f = sum(h(x))").formulas
    u = symbol()
    for k in (1, 2):
        exact = sp.diff(h.forms[0], u, k).replace(sp.DiracDelta, lambda *a: 0)
        assert sp.simplify((exact - h.forms[k]).rewrite(sp.exp)) == 0
    return h


@pytest.mark.parametrize("body", [f"u * {op.name}(u) + {op.name}(2*u)" for op in entrywise_ops()] + [
    # the selftest's models once sinh was added (SymPy's sinh' is cosh, not in the language)
    "u * u * sinh(u)", "sinh(cos(u))", "sin(sinh(u))", "arcsin(u) + sinh(u) / (1 + sq(u))",
    "tan(u) * (sinh(u) - u)", "sigm(sinh(u))",
])
def test_every_entrywise_function_may_be_used_in_a_formula(body):
    """A registry function whose SymPy derivative the language lacks (sinh' = cosh) still
    gives f' and f'' the language can write, right at every draw inside the domain."""
    h = _formula_with_sympys_derivatives(body)
    x = np.random.default_rng(2).uniform(0.2, 0.4, size=(4, 3))  # inside every domain, off every kink
    step = 1e-5
    for k in (1, 2):
        numeric = (h.numeric(k - 1)(x + step) - h.numeric(k - 1)(x - step)) / (2 * step)
        assert np.allclose(h.numeric(k)(x), numeric, rtol=1e-5, atol=1e-6)
    g = matcalc.grad(f"h(u) = {body}; x: vector(n); W: matrix(n, n); f = sum(h(W*x))", wrt=["W", "x"])
    assert "where h'(u) = " in g.text()


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


@pytest.mark.parametrize("body,draw", [
    ("log(u)", "positive"), ("sqrt(u) + u", "positive"), ("1 / u", "positive"),
    ("arcsin(u)^2", "small"), ("tan(u) * u", "small"), ("log(u + 3)", "small"),
    ("u / (1 + abs(u))", "any"), ("log(1 + sq(u))", "any"), ("relu(u) - 0.01*relu(-u)", "any"),
    ("sqrt(1 + u^2) * arctan(u)", "any"),
])
def test_the_domain_is_derived_from_the_body(body, draw):
    """The draw is the first range (any, small, positive) on which the body, f' and f'' are
    finite; the margin is the distance from the nearest point where a function is not defined
    or not smooth."""
    from matcalc.formulas import values

    (fn,) = matcalc.parse(f"h(u) = {body}; x: vector(n); f = sum(h(x))").formulas
    assert fn.domain.draw == draw
    ranges = {"any": (-3, 3), "small": (-0.5, 0.5), "positive": (0.5, 1.5)}
    grid = np.linspace(*ranges[draw], 401)
    for form in fn.forms:
        assert np.all(np.isfinite(values(form, grid))), form
    if draw != "any":  # and the wider ranges before it are not inside
        wide = np.linspace(-3, 3, 601)
        with np.errstate(all="ignore"):
            finite = all(np.all(np.isfinite(values(form, wide))) for form in fn.forms)
        assert not finite or fn.domain.margin(wide) < 0.05


def test_the_margin_is_the_distance_from_a_kink_or_an_edge():
    (relu,) = matcalc.parse("h(u) = relu(u - 1); x: vector(n); f = sum(h(x))").formulas
    assert relu.domain.margin(np.array([0.25, 3.0])) == pytest.approx(0.75)
    (log,) = matcalc.parse("h(u) = log(u) * sq(u); x: vector(n); f = sum(h(x))").formulas
    assert log.domain.margin(np.array([0.25, 3.0])) == pytest.approx(0.25)
    assert log.domain.margin(np.array([-0.5, 3.0])) < 0


@pytest.mark.parametrize("body", ["log(u)", "sqrt(u) * u", "arcsin(u) + u", "log1p(u) / (1 + sq(u))"])
def test_check_draws_inputs_inside_the_domain(body, monkeypatch):
    """``matcalc check`` draws the inputs reaching a function defined by formula in its domain;
    drawn as if it had none, the values are not finite and the check fails."""
    from matcalc.check import random_instance
    from matcalc.formulas import Formula
    from matcalc.ops.registry import ANY

    model = f"h(u) = {body}; x: vector(n); W: matrix(m, n); f = sum(h(W*x))"
    g = matcalc.grad(model, wrt=["W", "x"])
    assert check(g.derivation, seed=4).ok
    assert main(["check", model, "--wrt", "W,x"]) == 0
    inst = random_instance(g.model, np.random.default_rng(0))
    draw = g.model.formulas[0].domain.draw
    assert (inst.inputs["x"].min() > 0) if draw == "positive" else (abs(inst.inputs["x"]).max() < 0.5)
    monkeypatch.setattr(Formula, "domain", ANY)
    g = matcalc.grad(model, wrt=["W", "x"])  # its function without a domain
    with np.errstate(all="ignore"):
        assert not check(g.derivation, seed=4).ok


def test_the_selftest_calls_a_function_with_a_domain_inside_it():
    """The generator defines some functions only where ``log``, ``sqrt``, ``arcsin`` … of the
    parameter are, calls them on arguments in that domain, and matcalc derives a domain too."""
    from matcalc import selftest
    from matcalc.selftest.generate import Fun

    seen = 0
    for i in range(600):
        gm = selftest.generate(i)
        funs = [s for s in gm.statements if isinstance(s, Fun) and s.domain != "any"]
        if not funs:
            continue
        model = matcalc.parse(gm.text)
        for f in funs:
            assert model.formula(f.name).domain.draw != "any", gm.text
        outcome = check_case(selftest.instance(gm))
        assert outcome.status != "failed", outcome.report()
        seen += outcome.status == "ok"
    assert seen >= 5


#: Bodies whose derivatives SymPy once wrote as ``inf/inf`` for large arguments
#: (``exp(851/500 u)/(1 + exp(851/500 u))²`` in ``gelu'``; the selftest found ``mish``).
LARGE = ["u * sigmoid(1.702*u)", "log1p(u) * sigm(u^2)", "softplus(u)^2 - softplus(-3*u)",
         "u * tanh(softplus(u))"]


@pytest.mark.parametrize("body", LARGE)
def test_derivatives_stay_finite_where_the_function_is(body):
    """``sigmoid`` and ``softplus`` differentiate to themselves, so ``f'`` and ``f''`` are finite
    wherever ``f`` is, and right there (central differences of ``f`` and ``f'``)."""
    h = _formula_with_sympys_derivatives(body)
    low = 0.5 if "log1p" in body else -900.0
    x = np.concatenate([np.linspace(low, 900.0, 37), [26.7, 417.5, 709.9, 30.0]])
    with np.errstate(over="ignore"):  # exp(-u) of a large u inside sigmoid's NumPy form is fine
        for k in (1, 2):
            assert np.isfinite(h.numeric(k)(x)).all(), (k, h.forms[k])
            step = 1e-4 * np.maximum(1.0, np.abs(x))
            numeric = (h.numeric(k - 1)(x + step) - h.numeric(k - 1)(x - step)) / (2 * step)
            assert np.allclose(h.numeric(k)(x), numeric, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("target", ["numpy", "torch", "jax", "array-api"])
def test_generated_helpers_stay_finite_for_large_arguments(target):
    pytest.importorskip({"numpy": "numpy", "array-api": "array_api_compat"}.get(target, target))
    text = "gelu(u) = u * sigmoid(1.702*u); mish(z) = log1p(z) * sigm(z^2); sp2(u) = softplus(u)^2\n" \
           "x: vector(n); W: matrix(m, n); f = sum(gelu(W*x)) + sum(mish(sq(W*x))) + sum(sp2(-W*x))"
    g = matcalc.grad(text, wrt=["W", "x"])
    rng = np.random.default_rng(4)
    W, x = rng.normal(size=(3, 5)), 40.0 * rng.normal(size=5)  # W x reaches several hundred
    x[np.abs(W @ x).argmin()] += 1.0
    W = W * (600.0 / np.abs(W @ x).max())
    f = g.to_function(target=target)
    if target == "torch":
        import torch

        out = f(W=torch.tensor(W), x=torch.tensor(x))
        value, gW, gx = (np.asarray(o) for o in out)
    elif target == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)
        value, gW, gx = (np.asarray(o) for o in f(W=W, x=x))
    else:
        value, gW, gx = f(W=W, x=x)
    reference = g.to_function(target="numpy")
    with np.errstate(over="ignore"):
        _, rW, rx = reference(W=W, x=x)
        dW = rng.normal(size=W.shape)
        step = 1e-6
        slope = (reference(W=W + step * dW, x=x)[0] - reference(W=W - step * dW, x=x)[0]) / (2 * step)
    assert np.isfinite(gW).all() and np.isfinite(gx).all(), target
    assert np.allclose(gW, rW) and np.allclose(gx, rx)
    assert np.isclose(np.sum(rW * dW), slope, rtol=1e-5)


def test_the_readme_shows_gelus_derivative_as_printed():
    from pathlib import Path

    readme = " ".join((Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8").split())
    g = matcalc.grad("gelu(u) = u * sigmoid(1.702*u); x: vector(n); W: matrix(m, n); f = sum(gelu(W*x))",
                     wrt=["W"])
    where = g.text().splitlines()[-1]
    assert where.startswith("where gelu'(u) = ") and f"`{where}`" in readme
