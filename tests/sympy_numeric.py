"""SymPy matrix expressions evaluated with NumPy node by node, independently of matcalc's
own evaluation (the tests of SymPy out compare this with central differences)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.diagonal import DiagMatrix, DiagonalOf
from sympy.matrices.expressions.matexpr import MatrixElement

from matcalc.sympy_interop import Commutation, Vec

#: SymPy's scalar functions and their NumPy forms.
SCALAR_FUNCTIONS = {
    sp.exp: np.exp, sp.log: np.log, sp.sin: np.sin, sp.cos: np.cos, sp.tan: np.tan, sp.tanh: np.tanh,
    sp.Abs: np.abs, sp.sign: np.sign, sp.asin: np.arcsin, sp.acos: np.arccos, sp.atan: np.arctan,
}  # fmt: skip


def _product(values: list[np.ndarray]) -> np.ndarray:
    out = values[0]
    for v in values[1:]:
        out = out * v if 1 in (out.size, v.size) else out @ v
    return out


#: Node type -> its value from its arguments' values (``ev`` evaluates an argument).
_NODES: dict[type, Callable] = {
    sp.MatMul: lambda e, ev: _product([ev(a) for a in e.args]),
    sp.Mul: lambda e, ev: _product([ev(a) for a in e.args]),
    sp.MatAdd: lambda e, ev: sum(ev(a) for a in e.args),
    sp.Add: lambda e, ev: sum(ev(a) for a in e.args),
    sp.Transpose: lambda e, ev: ev(e.arg).T,
    sp.Inverse: lambda e, ev: np.linalg.inv(ev(e.arg)),
    sp.Trace: lambda e, ev: np.array([[np.trace(ev(e.arg))]]),
    sp.Determinant: lambda e, ev: np.array([[np.linalg.det(ev(e.arg))]]),
    DiagonalOf: lambda e, ev: np.diag(ev(e.args[0])).reshape(-1, 1),
    DiagMatrix: lambda e, ev: np.diagflat(ev(e.args[0])),
    sp.KroneckerProduct: lambda e, ev: np.kron(*[ev(a) for a in e.args]),
    sp.HadamardProduct: lambda e, ev: np.prod([ev(a) for a in e.args], axis=0),
    sp.HadamardPower: lambda e, ev: ev(e.base) ** float(e.exp),
    sp.MatPow: lambda e, ev: np.linalg.matrix_power(ev(e.base), int(e.exp)),
    sp.Pow: lambda e, ev: ev(e.base) ** ev(e.exp),
    MatrixElement: lambda e, ev: ev(e.parent)[int(e.i) : int(e.i) + 1, int(e.j) : int(e.j) + 1],
    ElementwiseApplyFunction: lambda e, ev: np.vectorize(
        sp.lambdify(e.function.variables, e.function.expr, "numpy"), otypes=[float])(ev(e.expr)),
    Vec: lambda e, ev: ev(e.arg).reshape(-1, 1, order="F"),
    Commutation: lambda e, ev: np.array(e.as_explicit(), dtype=float),
    **dict.fromkeys(SCALAR_FUNCTIONS, lambda e, ev: SCALAR_FUNCTIONS[type(e)](ev(e.args[0]))),
}


def evaluate(expr: sp.Basic, leaf: Callable[[sp.Basic], object | None]) -> np.ndarray:
    """``expr`` as a float array (a scalar 1×1); ``leaf`` gives a symbol's value (``None``: not
    a leaf). A node it does not know raises ``TypeError``."""

    def ev(e: sp.Basic) -> np.ndarray:
        value = leaf(e)
        if value is not None:
            return np.array(value, dtype=float, ndmin=2)
        if isinstance(e, sp.Identity):
            return np.eye(int(e.shape[0]))
        if isinstance(e, (sp.OneMatrix, sp.ZeroMatrix)):
            return np.full(tuple(map(int, e.shape)), 1.0 if isinstance(e, sp.OneMatrix) else 0.0)
        if isinstance(e, sp.Number):
            return np.array([[float(e)]])
        rule = next((f for t, f in _NODES.items() if isinstance(e, t)), None)
        if rule is None:
            raise TypeError(f"cannot evaluate {type(e).__name__}")
        return rule(e, ev)

    out = ev(expr)
    shape = tuple(map(int, expr.shape)) if isinstance(expr, sp.MatrixExpr) else (1, 1)
    return np.broadcast_to(out, shape) if out.size == 1 else out.reshape(shape)
