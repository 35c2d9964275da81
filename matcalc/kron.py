"""Result notation of explicit Jacobians and Hessians: ``A ⊗ B``, ``K(m,n)``, ``Diag(vec(A))``.

These nodes appear only in derivatives (never in a model): the Kronecker
product :class:`Kron` and the commutation matrix :class:`Commutation`
(``K(m,n) vec(A) = vec(Aᵀ)`` for an m×n ``A``). ``Diag(vec(A))`` is written
with the language's own ``Diag`` and ``vec``. ``vec`` stacks columns, so the
size of ``vec(A)`` for an m×n ``A`` is the dimension product ``m*n`` (rows
first); a Kronecker product ``A ⊗ B`` has ``B``'s index running fastest, and
its shape is built in the same order, so products of these nodes with
ordinary matrices check their shapes as any other product does.

The simplification rules are named data (:data:`RULES`), like the Frobenius
identities of :mod:`matcalc.rules`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import build as b
from .expr import Add, Dim, EProd, Expr, Eye, Mul, Num, Shape, Transpose, _node


@_node
class Kron(Expr):
    """The Kronecker product ``left ⊗ right``."""

    left: Expr
    right: Expr

    @property
    def shape(self) -> Shape:  # type: ignore[override]
        (p, q), (r, s) = self.left.shape, self.right.shape
        return (b.dim_mul(r, p), b.dim_mul(s, q))

    def fields(self) -> tuple:
        return (self.left, self.right)

    def children(self) -> tuple[Expr, ...]:
        return (self.left, self.right)

    def __repr__(self) -> str:
        return f"({self.left!r} ⊗ {self.right!r})"


@_node
class Commutation(Expr):
    """The commutation matrix ``K(m,n)``: ``K(m,n) vec(A) = vec(Aᵀ)`` for an m×n ``A``."""

    m: Dim
    n: Dim

    @property
    def shape(self) -> Shape:  # type: ignore[override]
        return (b.dim_mul(self.n, self.m), b.dim_mul(self.m, self.n))

    def fields(self) -> tuple:
        return (self.m, self.n)

    def __repr__(self) -> str:
        return f"K({self.m},{self.n})"


def size(shape: Shape) -> Dim:
    """The length of ``vec`` of a matrix of this shape."""
    return b.dim_mul(shape[0], shape[1])


def identity(n: Dim) -> Expr:
    """The identity of size ``n``."""
    return b.eye(n)


def _scalar_parts(e: Expr) -> tuple[list[Expr], Expr]:
    c, rest = b.split_coef(e)
    sc, body = b.split_scalars(rest)
    return [Num(c), *sc], body


def kron(a: Expr, c: Expr) -> Expr:
    """``a ⊗ c`` in canonical form: scalars moved out, ``I ⊗ I = I``, ``x ⊗ yᵀ = x yᵀ``."""
    if b.is_zero(a) or b.is_zero(c):
        (p, q), (r, s) = a.shape, c.shape
        return b.zero((b.dim_mul(r, p), b.dim_mul(s, q)))
    if a.is_scalar:
        return b.mul(a, c)
    if c.is_scalar:
        return b.mul(c, a)
    sa, ra = _scalar_parts(a)
    sc, rc = _scalar_parts(c)
    if len(sa) > 1 or len(sc) > 1 or sa[0] != b.ONE or sc[0] != b.ONE:
        return b.mul(*sa, *sc, kron(ra, rc))
    if isinstance(ra, Eye) and isinstance(rc, Eye):
        return b.eye(b.dim_mul(rc.shape[0], ra.shape[0]))
    if ra.shape[1] == 1 and rc.shape[0] == 1:  # column ⊗ row = outer product
        return b.mul(ra, rc)
    if ra.shape[0] == 1 and rc.shape[1] == 1:
        return b.mul(rc, ra)
    return Kron(ra, rc)


def commutation(m: Dim, n: Dim) -> Expr:
    """``K(m,n)``; the identity when ``m`` or ``n`` is 1 (a vector's vec is itself)."""
    if m == 1 or n == 1:
        return b.eye(b.dim_mul(m, n))
    return Commutation(m, n)


def diag_vec(a: Expr) -> Expr:
    """``Diag(vec(a))``."""
    return b.call("Diag", b.call("vec", a))


def transpose(e: Expr) -> Expr:
    """``eᵀ`` through Kronecker products and commutation matrices too."""
    if isinstance(e, Kron):
        return kron(transpose(e.left), transpose(e.right))
    if isinstance(e, Commutation):
        return commutation(e.n, e.m)
    if isinstance(e, Add):
        return b.add(*(transpose(t) for t in e.terms))
    if isinstance(e, Mul) and any(_structured(f) for f in e.chain):
        return b.mul(Num(e.coef), *e.scalars, *(transpose(f) for f in reversed(e.chain)))
    return b.transpose(e)


def _structured(e: Expr) -> bool:
    return isinstance(e, (Kron, Commutation))


def has_structure(e: Expr) -> bool:
    """Whether ``e`` holds a Kronecker product or a commutation matrix."""
    return any(_structured(n) for n in e.walk())


# ---------------------------------------------------------------- simplification rules


def _mixed_product(x: Expr, y: Expr) -> Expr | None:
    """``(A ⊗ B)(C ⊗ D) = AC ⊗ BD`` when the factors conform."""
    if isinstance(x, Kron) and isinstance(y, Kron):
        if x.left.shape[1] == y.left.shape[0] and x.right.shape[1] == y.right.shape[0]:
            return kron(b.mul(x.left, y.left), b.mul(x.right, y.right))
    return None


def _absorb_left(x: Expr, y: Expr) -> Expr | None:
    """``M (a ⊗ B) = a ⊗ M B`` for a row ``a`` (and ``M (A ⊗ b) = M A ⊗ b`` for a row ``b``)."""
    if isinstance(y, Kron) and not _structured(x):
        if y.left.shape[0] == 1:
            return kron(y.left, b.mul(x, y.right))
        if y.right.shape[0] == 1:
            return kron(b.mul(x, y.left), y.right)
    return None


def _absorb_right(x: Expr, y: Expr) -> Expr | None:
    """``(a ⊗ B) M = a ⊗ B M`` for a column ``a`` (and ``(A ⊗ b) M = A M ⊗ b``)."""
    if isinstance(x, Kron) and not _structured(y):
        if x.left.shape[1] == 1:
            return kron(x.left, b.mul(x.right, y))
        if x.right.shape[1] == 1:
            return kron(b.mul(x.left, y), x.right)
    return None


def _commutation_pair(x: Expr, y: Expr) -> Expr | None:
    """``K(n,m) K(m,n) = I``."""
    if isinstance(x, Commutation) and isinstance(y, Commutation) and (x.m, x.n) == (y.n, y.m):
        return b.eye(x.shape[0])
    return None


def _commute_row(x: Expr, y: Expr) -> Expr | None:
    """``(aᵀ ⊗ B) K(n,s) = B ⊗ aᵀ`` for a row ``aᵀ`` (1×n) and an r×s ``B``."""
    if isinstance(x, Kron) and isinstance(y, Commutation) and x.left.shape[0] == 1:
        if (y.m, y.n) == (x.left.shape[1], x.right.shape[1]):
            return kron(x.right, x.left)
    return None


def _commute_column(x: Expr, y: Expr) -> Expr | None:
    """``K(r,m)(a ⊗ B) = B ⊗ a`` for a column ``a`` (m×1) and an r×s ``B``."""
    if isinstance(x, Commutation) and isinstance(y, Kron) and y.left.shape[1] == 1:
        if (x.m, x.n) == (y.right.shape[0], y.left.shape[0]):
            return kron(y.right, y.left)
    return None


def _vec_row(x: Expr, y: Expr) -> Expr | None:
    """``vec(A)ᵀ(C ⊗ B) = vec(Bᵀ A C)ᵀ``: a row times a Kronecker product is a row again."""
    from .expr import Call

    if isinstance(x, Transpose) and isinstance(x.arg, Call) and x.arg.fn == "vec" and isinstance(y, Kron):
        a = x.arg.args[0]
        if a.shape == (y.right.shape[0], y.left.shape[0]):
            return b.transpose(b.call("vec", b.mul(b.transpose(y.right), a, y.left)))
    return None


def _ones_diag(x: Expr, y: Expr) -> Expr | None:
    """``𝟏ᵀ Diag(v) = vᵀ`` and ``Diag(v) 𝟏 = v``: a row of the Jacobian of an entry-wise map."""
    from .expr import Call, Ones

    if isinstance(x, Ones) and x.shape[0] == 1 and isinstance(y, Call) and y.fn == "Diag":
        return b.transpose(y.args[0])
    if isinstance(y, Ones) and y.shape[1] == 1 and isinstance(x, Call) and x.fn == "Diag":
        return x.args[0]
    return None


#: Rules on two adjacent factors of a product: (name, rule).
PAIR_RULES: tuple[tuple[str, Callable[[Expr, Expr], Expr | None]], ...] = (
    ("(A ⊗ B)(C ⊗ D) = AC ⊗ BD", _mixed_product),
    ("M(aᵀ ⊗ B) = aᵀ ⊗ MB", _absorb_left),
    ("(a ⊗ B)M = a ⊗ BM", _absorb_right),
    ("K(n,m) K(m,n) = I", _commutation_pair),
    ("(aᵀ ⊗ B) K(n,s) = B ⊗ aᵀ", _commute_row),
    ("K(r,m)(a ⊗ B) = B ⊗ a", _commute_column),
    ("vec(A)ᵀ(C ⊗ B) = vec(Bᵀ A C)ᵀ", _vec_row),
    ("𝟏ᵀ Diag(v) = vᵀ", _ones_diag),
)


def _kron_sum(e: Expr) -> Expr | None:
    """``A ⊗ B + A ⊗ C = A ⊗ (B + C)`` (and on the right)."""
    if not isinstance(e, Add):
        return None
    for side in (0, 1):
        groups: dict[Expr, list[tuple[Expr, Expr]]] = {}
        for t in e.terms:
            sc, body = _scalar_parts(t)
            if isinstance(body, Kron):
                common, other = (body.left, body.right) if side == 0 else (body.right, body.left)
                groups.setdefault(common, []).append((t, b.mul(*sc, other)))
        for common, members in groups.items():
            if len(members) > 1:
                inner = b.add(*(o for _, o in members))
                merged = kron(common, inner) if side == 0 else kron(inner, common)
                rest = [t for t in e.terms if all(t is not m for m, _ in members)]
                return b.add(merged, *rest)
    return None


#: Rules on a whole node: (name, rule).
NODE_RULES: tuple[tuple[str, Callable[[Expr], Expr | None]], ...] = (
    ("A ⊗ B + A ⊗ C = A ⊗ (B + C)", _kron_sum),
)

#: Every rule's name, for documentation and tests.
RULE_NAMES: tuple[str, ...] = (
    "αA ⊗ B = α(A ⊗ B)",
    "I ⊗ I = I",
    "x ⊗ yᵀ = yᵀ ⊗ x = x yᵀ",
    "K(m,1) = K(1,n) = I",
    *(n for n, _ in PAIR_RULES),
    *(n for n, _ in NODE_RULES),
)


def _simplify_chain(e: Mul) -> Expr:
    chain = list(e.chain)
    changed = True
    while changed:
        changed = False
        for i in range(len(chain) - 1):
            for _, rule in PAIR_RULES:
                res = rule(chain[i], chain[i + 1])
                if res is not None:
                    chain[i : i + 2] = [res]
                    changed = True
                    break
            if changed:
                break
    if chain == list(e.chain):
        return e
    return b.mul(Num(e.coef), *e.scalars, *chain)


def simplify_structure(e: Expr, memo: dict[Expr, Expr] | None = None) -> Expr:
    """``e`` with the rules of this module applied bottom-up to a fixpoint."""
    if memo is None:
        memo = {}
    hit = memo.get(e)
    if hit is not None:
        return hit
    out = e
    if isinstance(e, Kron):
        out = kron(simplify_structure(e.left, memo), simplify_structure(e.right, memo))
    elif isinstance(e, (Add, Mul)):
        kids = tuple(simplify_structure(k, memo) for k in e.children())
        out = b.rebuild(e, kids)
    for _ in range(50):
        before = out
        if isinstance(out, Mul):
            out = _simplify_chain(out)
        for _, rule in NODE_RULES:
            res = rule(out)
            if res is not None:
                out = res
                break
        if out == before:
            break
        out = simplify_structure(out, memo) if out != e else out
    memo[e] = out
    return out


# ---------------------------------------------------------------- numbers


def commutation_matrix(m: int, n: int) -> np.ndarray:
    """``K(m,n)`` as a dense array (for checks only; generated code permutes instead)."""
    k = np.zeros((m * n, m * n))
    idx = np.arange(m * n).reshape((m, n), order="F")
    k[np.arange(m * n), idx.T.reshape(-1, order="F")] = 1.0
    return k


def evaluate(e: Expr, ev) -> np.ndarray:
    """``e`` as a dense array, with ``ev`` (an :class:`~matcalc.evaluate.Evaluator`) for the rest."""
    memo: dict[Expr, np.ndarray] = {}

    def run(x: Expr) -> np.ndarray:
        hit = memo.get(x)
        if hit is not None:
            return hit
        if not has_structure(x):
            out = ev(x)
        elif isinstance(x, Kron):
            out = np.kron(run(x.left), run(x.right))
        elif isinstance(x, Commutation):
            out = commutation_matrix(ev.size(x.m), ev.size(x.n))
        elif isinstance(x, Add):
            out = sum(run(t) for t in x.terms)
        elif isinstance(x, Mul):
            scale = float(x.coef)
            for s in x.scalars:
                scale *= float(run(s)[0, 0])
            out = np.full((1, 1), scale)
            if x.chain:
                out = run(x.chain[0])
                for f in x.chain[1:]:
                    out = out @ run(f)
                out = scale * out
        elif isinstance(x, Transpose):
            out = run(x.arg).T
        elif isinstance(x, EProd):
            out = np.ones((1, 1))
            for f, p in x.factors:
                out = out * np.power(run(f), float(p))
        else:
            raise TypeError(f"cannot evaluate {type(x).__name__} holding a Kronecker product")
        memo[x] = out
        return out

    return run(e)


__all__ = [
    "Commutation",
    "Kron",
    "commutation",
    "diag_vec",
    "evaluate",
    "has_structure",
    "kron",
    "simplify_structure",
    "size",
    "transpose",
]
