"""SymPy out for every kind of result: a Jacobian's and a Hessian's blocks (``to_sympy``),
and gradients that name adjoints or nested values, evaluated at explicit random matrices
of distinct small sizes and compared with central differences of the model."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from sympy_numeric import evaluate

import matcalc
from matcalc import dims
from matcalc.architectures import nested, rnn
from matcalc.check import Instance, abstract_functions, relative_error
from matcalc.check_kinds import _gradient_fn, _value_of, numeric_jacobian
from matcalc.sympy_interop import Commutation, Vec

SIZES = {"m": 2, "n": 3, "p": 4, "d": 2}


def _instance(model, seed: int) -> Instance:
    rng = np.random.default_rng(seed)
    inputs = {}
    for v in model.inputs:
        r, c = (dims.size(d, SIZES) for d in v.shape)
        x = rng.normal(size=(r, c))
        inputs[v.name] = (x + x.T) / 2 if v.symmetric else x
    return Instance({d: SIZES[d] for d in model.dims}, inputs, abstract_functions(model))


def _explicit(e: sp.Basic, inst: Instance) -> np.ndarray:
    """``e`` at the instance's sizes and inputs (:func:`sympy_numeric.evaluate`)."""
    e = e.xreplace({
        s: inst.dims[s.name]
        for s in e.atoms(sp.Symbol)
        if s.name in inst.dims and not isinstance(s, sp.Dummy)  # not a function's variable
    })
    return evaluate(e, lambda s: inst.inputs[s.name] if isinstance(s, (sp.MatrixSymbol, sp.Symbol)) else None)


JACOBIANS = [
    ("X: matrix(m, n); A: matrix(p, m); F = A*tanh(X)", "X,A"),
    ("x: vector(n); W: matrix(m, n); F = tanh(W*x) .* (W*x)", "W,x"),
    ("X: matrix(m, n); A: matrix(m, p); F = X'*A", "X"),
]


@pytest.mark.parametrize("text, wrt", JACOBIANS, ids=["vec-kron", "hadamard", "commutation"])
def test_jacobian_blocks_as_sympy_agree_with_finite_differences(text, wrt):
    j = matcalc.jacobian(text, wrt)
    out = j.to_sympy()
    assert set(out) == set(j.wrt)
    inst = _instance(j.model, seed=1)
    for v in j.derivation.wrt:
        want = numeric_jacobian(_value_of(j.model, inst, v, j.of), inst.inputs[v.name])
        got = _explicit(out[v.name], inst)
        assert relative_error(got, want) < 1e-6, (text, v.name)


def test_the_commutation_matrix_and_vec_read_as_their_definitions():
    m, n = 2, 3
    a = sp.Matrix(m, n, lambda i, j: 10 * i + j)
    assert Vec(a).as_explicit() == sp.Matrix([a[i, j] for j in range(n) for i in range(m)])
    assert Commutation(m, n).as_explicit() * Vec(a).as_explicit() == Vec(a.T).as_explicit()
    assert matcalc.jacobian("X: matrix(m, n); F = X'", "X").to_sympy()["X"] == Commutation(
        sp.Symbol("m", integer=True, positive=True), sp.Symbol("n", integer=True, positive=True)
    )


HESSIANS = [
    ("X: matrix(m, n); w: vector(n); f = sum(softplus(X*w))", "w,X"),
    ("A: matrix(n, n); x: vector(n); f = x'*A^3*x", "A,x"),
    ("x: vector(n); W: matrix(m, n); f = x'*W'*W*x + sum(tanh(W*x).^2)", "x,W"),
]


@pytest.mark.parametrize("text, wrt", HESSIANS, ids=["softplus", "power", "quadratic"])
def test_hessian_blocks_as_sympy_agree_with_finite_differences(text, wrt):
    h = matcalc.hessian(text, wrt)
    out = h.to_sympy()
    d = h.derivation
    assert set(out) == set(d.blocks)
    inst = _instance(h.model, seed=2)
    grads = dict(zip(h.wrt, d.gradient.gradients))
    variables = {v.name: v for v in d.wrt}
    for (x, y), block in out.items():
        want = numeric_jacobian(_gradient_fn(d, inst, grads[x], variables[y]), inst.inputs[y])
        assert relative_error(_explicit(block, inst), want) < 1e-6, (text, x, y)


def test_hessian_with_named_adjoints_writes_them_out_in_sympy():
    text, _ = rnn(3)
    h = matcalc.hessian(text, "W")
    assert h.derivation.adjoints, "a 3-step RNN names its error signals"
    out = h.to_sympy()
    inst = _instance(h.model, seed=3)
    d = h.derivation
    want = numeric_jacobian(_gradient_fn(d, inst, d.gradient.gradients[0], d.wrt[0]), inst.inputs["W"])
    assert relative_error(_explicit(out[("W", "W")], inst), want) < 1e-6


def test_gradient_with_named_adjoints_and_values_goes_to_sympy():
    """``nested(4)`` names ``u1 … u4`` and ``δu1 … δu3``: SymPy gets them written out (a
    SymPy tree is walked as a tree: a deep result whose adjoints are used twice, as a softmax
    chain's, would be exponential there)."""
    from matcalc.check import finite_difference

    g = matcalc.grad(*nested(4))
    assert g.derivation.adjoints and g.derivation.forward
    out = g.to_sympy()
    model = matcalc.parse(nested(4)[0])
    inst = _instance(model, seed=4)
    for v in g.derivation.wrt:
        want = finite_difference(model, model.output, v, inst)
        assert relative_error(_explicit(out[v.name], inst), want) < 1e-6, v.name
