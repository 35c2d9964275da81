"""SymPy out for every kind of result: a Jacobian's and a Hessian's blocks (``to_sympy``),
and gradients that name adjoints or nested values, evaluated at explicit random matrices
of distinct small sizes and compared with central differences of the model."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.diagonal import DiagMatrix, DiagonalOf
from sympy.matrices.expressions.matexpr import MatrixElement

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
    """``e`` at the instance's sizes and inputs, as a float array, computed with NumPy node by
    node (independently of matcalc's own evaluation); a node it does not know raises."""
    e = e.xreplace({
        s: inst.dims[s.name]
        for s in e.atoms(sp.Symbol)
        if s.name in inst.dims and not isinstance(s, sp.Dummy)  # not a function's variable
    })

    def ev(e: sp.Basic) -> np.ndarray:  # noqa: C901 (one case per node type)
        if isinstance(e, sp.MatrixSymbol):
            return np.asarray(inst.inputs[e.name], dtype=float)
        if isinstance(e, sp.Symbol):
            return np.asarray(inst.inputs[e.name], dtype=float).reshape(1, 1)
        if isinstance(e, sp.Identity):
            return np.eye(int(e.shape[0]))
        if isinstance(e, (sp.OneMatrix, sp.ZeroMatrix)):
            return np.full(tuple(map(int, e.shape)), 1.0 if isinstance(e, sp.OneMatrix) else 0.0)
        if isinstance(e, sp.Number):
            return np.array([[float(e)]])
        if isinstance(e, (sp.MatMul, sp.Mul)):
            out = None
            for a in e.args:
                v = ev(a)
                out = v if out is None else (out * v if 1 in (out.size, v.size) else out @ v)
            return out
        if isinstance(e, (sp.MatAdd, sp.Add)):
            return sum(ev(a) for a in e.args)
        if isinstance(e, sp.Transpose):
            return ev(e.arg).T
        if isinstance(e, sp.Inverse):
            return np.linalg.inv(ev(e.arg))
        if isinstance(e, sp.Trace):
            return np.array([[np.trace(ev(e.arg))]])
        if isinstance(e, DiagonalOf):
            return np.diag(ev(e.args[0])).reshape(-1, 1)
        if isinstance(e, DiagMatrix):
            return np.diagflat(ev(e.args[0]))
        if isinstance(e, sp.KroneckerProduct):
            return np.kron(*[ev(a) for a in e.args])
        if isinstance(e, sp.HadamardProduct):
            return np.prod([ev(a) for a in e.args], axis=0)
        if isinstance(e, sp.HadamardPower):
            return ev(e.base) ** float(e.exp)
        if isinstance(e, sp.MatPow):
            return np.linalg.matrix_power(ev(e.base), int(e.exp))
        if isinstance(e, sp.Pow):
            return ev(e.base) ** ev(e.exp)
        if isinstance(e, MatrixElement):
            return ev(e.parent)[int(e.i) : int(e.i) + 1, int(e.j) : int(e.j) + 1]
        if isinstance(e, ElementwiseApplyFunction):
            f = sp.lambdify(e.function.variables, e.function.expr, "numpy")
            return np.vectorize(f, otypes=[float])(ev(e.expr))
        if isinstance(e, Vec):
            return ev(e.arg).reshape(-1, 1, order="F")
        if isinstance(e, Commutation):
            return np.array(e.as_explicit(), dtype=float)
        if isinstance(e, (sp.exp, sp.log, sp.tanh)):
            return getattr(np, type(e).__name__)(ev(e.args[0]))
        raise TypeError(f"cannot evaluate {type(e).__name__}")

    out = ev(e)
    shape = tuple(map(int, e.shape)) if isinstance(e, sp.MatrixExpr) else (1, 1)
    return np.broadcast_to(out, shape) if out.size == 1 else out.reshape(shape)


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
