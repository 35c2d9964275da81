"""The reference evaluator: model trees evaluated with NumPy over batches of
inputs, independently of matcalc's expression nodes, differentials, rewrites and
code generator (entry-wise functions by their registry entry's ``numeric``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..ops import entrywise as _entrywise  # noqa: F401  (the entries this module reads on import)
from ..ops import structural as _structural  # noqa: F401
from ..ops.registry import OPS, entrywise_ops
from .generate import Def, Fun, Node, Statement

# ---------------------------------------------------------------- reference evaluation


class Rejected(Exception):
    """The draw cannot judge the gradient (near a kink, ill-conditioned, overflow)."""


class Unsupported(Exception):
    """The reference evaluator cannot evaluate this model (an unsized constant it cannot place)."""


@dataclass(frozen=True)
class Fill:
    """A constant whose size is not known yet: ``ones``, ``vector(c)``, ``matrix(c)``, ``eye``.

    ``value`` is a batch of scalars ``(B, 1, 1)``; ``rows``/``cols`` are
    ``None`` while unknown.
    """

    value: np.ndarray
    rows: int | None
    cols: int | None
    eye: bool = False

    def sized(self, rows: int, cols: int) -> np.ndarray:
        if self.rows not in (None, rows) or self.cols not in (None, cols):
            raise Unsupported(f"constant of size {self.rows}×{self.cols} used as {rows}×{cols}")
        if self.eye:
            if rows != cols:
                raise Unsupported("a non-square identity")
            return self.value * np.eye(rows)
        return self.value * np.ones((rows, cols))

    def t(self) -> Fill:
        return Fill(self.value, self.cols, self.rows, self.eye)


#: Every function by each of its spellings: its registry entry's NumPy evaluation (no
#: derivative or code generator is involved), and its margin (distance from where it is
#: not smooth or not defined).
REF_ENTRYWISE: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    s: op.numeric for op in entrywise_ops() for s in op.spellings
}
_MARGIN: dict[str, Callable[[np.ndarray], float]] = {
    s: op.domain.margin for op in OPS.values() for s in (op.name, *op.aliases) if op.domain.margin is not None
}

MARGIN = 1e-3
HUGE = 1e8


def _batch_sum(x: np.ndarray) -> np.ndarray:
    return x.sum(axis=(-2, -1), keepdims=True)


def _softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max(axis=-2, keepdims=True))
    return z / z.sum(axis=-2, keepdims=True)


def _logsumexp(x: np.ndarray) -> np.ndarray:
    m = x.max(axis=-2, keepdims=True)
    return m + np.log(np.exp(x - m).sum(axis=-2, keepdims=True))


def _vec(x: np.ndarray) -> np.ndarray:
    b, r, c = x.shape
    return np.swapaxes(x, -1, -2).reshape(b, r * c, 1)


def _logdet(x: np.ndarray) -> np.ndarray:
    sign, logabs = np.linalg.slogdet(x)
    if np.any(sign <= 0):
        raise Rejected("logdet of a matrix with det <= 0")
    return logabs[:, None, None]


REF_STRUCTURAL: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sum": _batch_sum,
    "tr": lambda x: np.trace(x, axis1=-2, axis2=-1)[:, None, None],
    "diag": lambda x: np.diagonal(x, axis1=-2, axis2=-1)[:, :, None],
    "Diag": lambda x: x * np.eye(x.shape[-2]),
    "vec": _vec,
    "inv": np.linalg.inv,
    "det": lambda x: np.linalg.det(x)[:, None, None],
    "logdet": _logdet,
    "norm1": lambda x: _batch_sum(np.abs(x)),
    "norm2": lambda x: np.sqrt(_batch_sum(x * x)),
    "normF": lambda x: np.sqrt(_batch_sum(x * x)),
    "softmax": _softmax,
    "logsumexp": _logsumexp,
}


def _batch_kron(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The Kronecker product of each pair: ``[B, i·n + k, j·q + l] = a[B, i, j] b[B, k, l]``."""
    (m, p), (r, q) = a.shape[-2:], b.shape[-2:]
    out = np.einsum("...ij,...kl->...ikjl", a, b)  # batches of 1 broadcast
    return out.reshape(*out.shape[:-4], m * r, p * q)


#: Functions of two arguments.
REF_BINARY: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {"kron": _batch_kron}


def _is_scalar_array(x: np.ndarray) -> bool:
    return x.shape[-2:] == (1, 1)


class Reference:
    """Evaluates model trees over batches of inputs: every value is ``(B, rows, cols)``.

    ``dims`` gives the size of each dimension symbol (for ``ones(n)``,
    ``eye(n)``); ``functions`` the callables ``(g, g')`` of abstract
    entry-wise functions. With ``track`` set, values near a kink or a
    singularity, huge or non-finite values raise :class:`Rejected`.
    """

    def __init__(
        self,
        dims: dict[str, int],
        functions: dict[str, tuple[Callable, Callable]] | None = None,
        track: bool = False,
    ) -> None:
        self.dims = dims
        self.functions = functions or {}
        self.track = track
        self.env: dict[str, np.ndarray] = {}
        self.formulas: dict[str, Fun] = {}

    def run(
        self,
        statements: Sequence[Statement],
        inputs: dict[str, np.ndarray],
        output: str,
        override: dict[str, np.ndarray] | None = None,
        stop: str | None = None,
    ) -> dict[str, np.ndarray]:
        """Every definition's value (a bare expression is named ``output``), up to ``stop``."""
        self.env = dict(inputs)
        self.formulas = {st.name: st for st in statements if isinstance(st, Fun)}
        override = override or {}
        for st in statements:
            if not isinstance(st, Def):
                continue
            target = st.name if st.name is not None else output
            if target in override:
                self.env[target] = override[target]
            else:
                v = self.eval(st.expr)
                if isinstance(v, Fill):
                    raise Unsupported("a definition that is an unsized constant")
                self.env[target] = v
            if target == stop:
                break
        return self.env

    def check(self, x: np.ndarray) -> np.ndarray:
        if self.track:
            if not np.all(np.isfinite(x)):
                raise Rejected("a value is not finite")
            if x.size and np.abs(x).max() > HUGE:
                raise Rejected("a value is huge")
        return x

    def margin(self, what: str, m: float) -> None:
        if self.track and not m > MARGIN:
            raise Rejected(f"{what}: within {MARGIN} of a kink or singularity ({m:.2g})")

    def eval(self, e: Node) -> np.ndarray | Fill:
        with np.errstate(all="ignore"):
            out = self._eval(e)
        return out if isinstance(out, Fill) else self.check(out)

    def _size(self, node: Node) -> int:
        if node.op == "num":
            return int(node.value)  # type: ignore[arg-type]
        if node.op == "name" and node.value in self.dims:
            return self.dims[node.value]  # type: ignore[index]
        raise Unsupported(f"size {node.value!r}")

    def _eval(self, e: Node) -> np.ndarray | Fill:
        if e.op == "num":
            return np.full((1, 1, 1), float(e.value))  # type: ignore[arg-type]
        if e.op == "name":
            n = e.value
            if n in self.env:
                return self.env[n]  # type: ignore[index]
            if n == "ones":
                return Fill(np.ones((1, 1, 1)), None, 1)
            if n == "eye":
                return Fill(np.ones((1, 1, 1)), None, None, eye=True)
            raise Unsupported(f"unknown name {n!r}")
        if e.op == "neg":
            x = self.eval(e.kids[0])
            if isinstance(x, Fill):
                if x.eye:
                    raise Unsupported("-eye")
                return Fill(-x.value, x.rows, x.cols)
            return -x
        if e.op == "T":
            x = self.eval(e.kids[0])
            return x.t() if isinstance(x, Fill) else np.swapaxes(x, -1, -2)
        if e.op == "call":
            return self._call(e)
        assert e.op == "bin"
        op = str(e.value)
        if op in ("^", ".^"):
            return self._power(op, e.kids[0], e.kids[1])
        left, right = self.eval(e.kids[0]), self.eval(e.kids[1])
        return self._binary(op, left, right)

    def constant(self, e: Node) -> float:
        v = Reference({}, {}).eval(e)
        if isinstance(v, Fill) or v.shape != (1, 1, 1):
            raise Unsupported("a non-constant exponent")
        return float(v[0, 0, 0])

    def _power(self, op: str, base_node: Node, k_node: Node) -> np.ndarray | Fill:
        base = self.eval(base_node)
        k = self.constant(k_node)
        if isinstance(base, Fill):
            if base.eye:
                raise Unsupported("a power of eye")
            return Fill(np.power(base.value, k), base.rows, base.cols)
        if op == ".^" or _is_scalar_array(base):
            if k != int(k) or k < 0:
                self.margin("a fractional or negative power", float(np.abs(base).min()))
            return np.power(base, k)
        if k != int(k):
            raise Unsupported("a fractional matrix power")
        if k < 0:
            self.margin("a matrix inverse", 1.0 / float(np.linalg.cond(base).max()) * 1e6)
            base = np.linalg.inv(base)
        out = np.broadcast_to(np.eye(base.shape[-1]), base.shape).copy()
        for _ in range(int(abs(k))):
            out = out @ base
        return out

    def formula(self, f: Fun, x: np.ndarray | Fill) -> np.ndarray | Fill:
        """A function defined by formula: its body evaluated with the parameter bound to each
        entry of ``x`` (a batch of 1×1 values, so that every operator is the scalar one)."""
        value = x.value if isinstance(x, Fill) else x
        if isinstance(x, Fill) and x.eye:
            raise Unsupported(f"{f.name}(eye)")
        inner = Reference(self.dims, self.functions, self.track)
        inner.formulas = self.formulas
        inner.env = {f.param: value.reshape(-1, 1, 1)}
        out = inner.eval(f.body)
        if isinstance(out, Fill):
            raise Unsupported(f"{f.name}: a body without its parameter")
        out = np.broadcast_to(out, (value.size, 1, 1)).reshape(value.shape)
        return Fill(out, x.rows, x.cols) if isinstance(x, Fill) else out

    def _binary(self, op: str, a, b) -> np.ndarray | Fill:
        if isinstance(a, Fill) or isinstance(b, Fill):
            return self._with_fill(op, a, b)
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op in ("*", "@"):
            if _is_scalar_array(a) or _is_scalar_array(b):
                return a * b
            if a.shape[-1] != b.shape[-2]:
                raise Unsupported(f"matrix product of {a.shape[1:]} and {b.shape[1:]}")
            return a @ b
        if op in (".*", "∘", "⊙"):
            return a * b
        if op in ("./", "/"):
            self.margin("a division", float(np.abs(b).min()))
            return a / b
        if op == ":":
            return _batch_sum(a * b)
        if op == "⊗":
            return _batch_kron(a, b)
        raise Unsupported(f"operator {op!r}")

    def _with_fill(self, op: str, a, b) -> np.ndarray | Fill:
        """An operation with an unsized constant: it takes the size its partner demands."""
        fa, fb = isinstance(a, Fill), isinstance(b, Fill)
        if fa and fb:
            raise Unsupported("an operation between two unsized constants")
        f, x = (a, b) if fa else (b, a)
        if _is_scalar_array(x):  # c * ones, alpha + ones: still a constant of unknown size
            if f.eye:
                raise Unsupported("a scalar with an unsized identity")
            value = self._binary(op, f.value, x) if fa else self._binary(op, x, f.value)
            return Fill(value, f.rows, f.cols)
        r, c = x.shape[-2:]
        if op in ("*", "@"):
            if f.eye:
                return x
            if fa:
                if f.rows is None:
                    raise Unsupported("an unsized constant on the left of a product")
                return self._binary(op, f.sized(f.rows, r), x)
            if f.cols is None:
                raise Unsupported("an unsized constant on the right of a product")
            return self._binary(op, x, f.sized(c, f.cols))
        sized = f.sized(r, c)
        return self._binary(op, sized, x) if fa else self._binary(op, x, sized)

    def _call(self, e: Node) -> np.ndarray | Fill:
        fn = str(e.value)
        if fn in ("ones", "eye") and e.kids:
            sizes = [self._size(k) for k in e.kids]
            if fn == "eye":
                return np.eye(sizes[0])[None]
            return np.ones((sizes[0], sizes[1] if len(sizes) > 1 else 1))[None]
        if fn in ("vector", "matrix"):
            c = self.eval(e.kids[0])
            if isinstance(c, Fill) or not _is_scalar_array(c):
                raise Unsupported(f"{fn}(...) of a non-scalar")
            return Fill(c, None, 1 if fn == "vector" else None)
        if fn in self.formulas:
            return self.formula(self.formulas[fn], self.eval(e.kids[0]))
        if fn in REF_BINARY and len(e.kids) == 2:
            a, b = self.eval(e.kids[0]), self.eval(e.kids[1])
            if isinstance(a, Fill) or isinstance(b, Fill):
                raise Unsupported(f"{fn} of an unsized constant")
            return REF_BINARY[fn](a, b)
        if len(e.kids) != 1:
            raise Unsupported(f"{fn} with {len(e.kids)} arguments")
        x = self.eval(e.kids[0])
        if fn in REF_ENTRYWISE or fn in self.functions:
            f = REF_ENTRYWISE.get(fn) or self.functions[fn][0]
            if isinstance(x, Fill):
                if x.eye:
                    raise Unsupported(f"{fn}(eye)")
                return Fill(f(x.value), x.rows, x.cols)
            if fn in _MARGIN:
                self.margin(fn, float(_MARGIN[fn](x)))
            return f(x)
        if isinstance(x, Fill):
            raise Unsupported(f"{fn} of an unsized constant")
        if fn in _MARGIN:
            self.margin(fn, float(_MARGIN[fn](x)))
        if fn not in REF_STRUCTURAL:
            raise Unsupported(f"unknown function {fn!r}")
        return REF_STRUCTURAL[fn](x)


