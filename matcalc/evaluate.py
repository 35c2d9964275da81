"""An interpreter of expression trees with NumPy (every value a 2-D array); each function by
its registry entry's ``numeric`` spelling.

Models, gradients and their central differences are evaluated by their lowered program
(:mod:`matcalc.codegen.run`, what ``matcalc check`` runs). This interpreter is kept for what
no generated module computes: differentials (``dX`` nodes) and rewrite identities in the
tests, which need an evaluation independent of the code generator, and the rare model with a
size that no input gives (``check`` falls back to it)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from . import dims as dimensions
from .expr import (
    Add,
    Adjoint,
    Apply,
    Call,
    Diff,
    EProd,
    Expr,
    Eye,
    Frob,
    MatPow,
    Mul,
    Num,
    Ones,
    PowerSum,
    Transpose,
    Var,
    Zero,
)
from .model import Model
from .ops.registry import OPS


def _scalar(v: float) -> np.ndarray:
    return np.array([[float(v)]])


def power_sum(left: np.ndarray, mid: np.ndarray, right: np.ndarray, k: int) -> np.ndarray:
    """``Σ_{i=0}^{k−1} leftⁱ mid right^{k−1−i}`` by ``S ← left S + mid rightʲ`` (3k products)."""
    total, right_j = mid, np.eye(right.shape[0])
    for _ in range(1, k):
        right_j = right_j @ right
        total = left @ total + mid @ right_j
    return total


class Evaluator:
    """Evaluates expressions over an environment of named 2-D arrays.

    ``dims`` gives each dimension symbol's size; ``functions`` gives, for each
    abstract entry-wise function, the callables for ``g, g', g'', …``.
    """

    def __init__(
        self,
        env: Mapping[str, np.ndarray],
        dims: Mapping[str, int],
        functions: Mapping[str, list[Callable]] | None = None,
    ) -> None:
        self.env = dict(env)
        self.dims = dict(dims)
        self.functions = dict(functions or {})
        #: the values of the named adjoints ``δV`` (by ``V``'s name), set by their users
        self.adjoints: dict[str, np.ndarray] = {}
        self._memo: dict[Expr, np.ndarray] = {}

    def size(self, d) -> int:
        return dimensions.size(d, self.dims)

    def shape(self, e: Expr) -> tuple[int, int]:
        return (self.size(e.shape[0]), self.size(e.shape[1]))

    def __call__(self, e: Expr) -> np.ndarray:
        hit = self._memo.get(e)
        if hit is None:
            hit = self._eval(e)
            self._memo[e] = hit
        return hit

    def _eval(self, e: Expr) -> np.ndarray:
        ev = self
        if isinstance(e, Var):
            return self.env[e.name]
        if isinstance(e, Diff):
            return self.env["d" + e.var.name]
        if isinstance(e, Adjoint):
            return self.adjoints[e.var.name]
        if isinstance(e, Num):
            return _scalar(e.value)
        if isinstance(e, Ones):
            return np.ones(self.shape(e))
        if isinstance(e, Eye):
            return np.eye(self.size(e.shape[0]))
        if isinstance(e, Zero):
            return np.zeros(self.shape(e))
        if isinstance(e, Add):
            out = ev(e.terms[0])
            for t in e.terms[1:]:
                out = out + ev(t)
            return out
        if isinstance(e, Mul):
            scale = float(e.coef)
            for s in e.scalars:
                scale *= ev(s)[0, 0]
            if not e.chain:
                return _scalar(scale)
            out = ev(e.chain[0])
            for f in e.chain[1:]:
                out = out @ ev(f)
            return scale * out
        if isinstance(e, EProd):
            out = None
            for f, k in e.factors:
                v = ev(f)
                v = v if k == 1 else (1.0 / v if k == -1 else np.power(v, float(k)))
                out = v if out is None else out * v
            return out
        if isinstance(e, Apply):
            op = OPS.get(e.fn)
            if e.order == 0 and op is not None:
                return op.numeric(ev(e.arg))
            return self.functions[e.fn][e.order](ev(e.arg))
        if isinstance(e, Transpose):
            return ev(e.arg).T
        if isinstance(e, Call):
            op = OPS[e.fn]
            args = [ev(a) for a in e.args]
            if op.result is None:  # the result's shape is the node's, not the arguments'
                return op.numeric(*args, shape=self.shape(e))
            return op.numeric(*args)
        if isinstance(e, Frob):
            return _scalar((ev(e.left) * ev(e.right)).sum())
        if isinstance(e, MatPow):
            return np.linalg.matrix_power(ev(e.base), e.k)
        if isinstance(e, PowerSum):
            return power_sum(ev(e.left), ev(e.mid), ev(e.right), e.k)
        raise TypeError(f"cannot evaluate {type(e).__name__}")


def evaluate_model(
    model: Model,
    inputs: Mapping[str, np.ndarray],
    dims: Mapping[str, int],
    functions: Mapping[str, list[Callable]] | None = None,
) -> dict[str, np.ndarray]:
    """Every input and definition of ``model`` as a 2-D array."""
    ev = Evaluator(inputs, dims, functions)
    for var, rhs in model.definitions:
        ev.env[var.name] = ev(rhs)
    return ev.env
