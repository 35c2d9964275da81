"""Numeric evaluation of expressions with NumPy (every value a 2-D array)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

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


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


#: NumPy spelling of each entry-wise function.
ENTRYWISE_NUMPY: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "exp": np.exp,
    "log": np.log,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "arcsin": np.arcsin,
    "arccos": np.arccos,
    "arctan": np.arctan,
    "tanh": np.tanh,
    "sigmoid": _sigmoid,
    "relu": lambda x: np.maximum(x, 0.0),
    "step": lambda x: (x > 0).astype(float),
    "sq": np.square,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "sign": np.sign,
    "softplus": lambda x: np.logaddexp(0.0, x),
    "log1p": np.log1p,
}


def _softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max())
    return z / z.sum()


def _logsumexp(x: np.ndarray) -> np.ndarray:
    m = x.max()
    return np.array([[m + np.log(np.exp(x - m).sum())]])


def _scalar(v: float) -> np.ndarray:
    return np.array([[float(v)]])


#: NumPy spelling of each structural function (arguments and results 2-D).
CALL_NUMPY: dict[str, Callable[..., np.ndarray]] = {
    "sum": lambda x: _scalar(x.sum()),
    "tr": lambda x: _scalar(np.trace(x)),
    "diag": lambda x: np.diag(x).reshape(-1, 1).copy(),
    "Diag": lambda x: np.diag(x[:, 0]),
    "vec": lambda x: x.reshape(-1, 1, order="F"),
    "inv": np.linalg.inv,
    "det": lambda x: _scalar(np.linalg.det(x)),
    "logdet": lambda x: _scalar(np.linalg.slogdet(x)[1]),
    "norm1": lambda x: _scalar(np.abs(x).sum()),
    "norm2": lambda x: _scalar(np.sqrt((x * x).sum())),
    "normF": lambda x: _scalar(np.sqrt((x * x).sum())),
    "softmax": _softmax,
    "logsumexp": _logsumexp,
}


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
        if isinstance(d, int):
            return d
        if d in self.dims:
            return self.dims[d]
        out = 1
        for part in d.split("*"):
            out *= self.size(int(part) if part.isdigit() else part)
        return out

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
            if e.order == 0 and e.fn in ENTRYWISE_NUMPY:
                return ENTRYWISE_NUMPY[e.fn](ev(e.arg))
            return self.functions[e.fn][e.order](ev(e.arg))
        if isinstance(e, Transpose):
            return ev(e.arg).T
        if isinstance(e, Call):
            if e.fn == "unvec":
                return ev(e.args[0]).reshape(self.shape(e), order="F")
            return CALL_NUMPY[e.fn](*(ev(a) for a in e.args))
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
