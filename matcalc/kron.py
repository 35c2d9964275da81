"""Result notation of explicit Jacobians and Hessians: ``A ⊗ B``, ``K(m,n)``, ``Diag(vec(A))``.

The Kronecker product is the language's own ``kron`` (one registry entry,
:mod:`matcalc.ops.structural`: the same operation whether a user writes it or
an identification makes it); :func:`kron` builds it in the canonical form of
results. The commutation matrix :class:`Commutation` (``K(m,n) vec(A) =
vec(Aᵀ)`` for an m×n ``A``) appears only in derivatives: no operation of the
language makes it. ``Diag(vec(A))`` is written with the language's own ``Diag``
and ``vec``. ``vec`` stacks columns, so the
size of ``vec(A)`` for an m×n ``A`` is the dimension product ``m*n`` (rows
first); a Kronecker product ``A ⊗ B`` has ``B``'s index running fastest, and
its shape is built in the same order, so products of these nodes with
ordinary matrices check their shapes as any other product does.

The simplification rules are named data (:data:`RULES`), like the Frobenius
identities of :mod:`matcalc.rules`.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import numpy as np

from . import build as b
from .expr import Add, Call, Dim, EProd, Expr, Eye, MatPow, Mul, Num, Shape, Transpose, Var, _node


def Kron(left: Expr, right: Expr) -> Call:  # noqa: N802 - reads as the node it makes
    """``left ⊗ right`` as written (the registry's ``kron``, no rule applied)."""
    (p, q), (r, s) = left.shape, right.shape
    return Call("kron", (left, right), (b.dim_mul(p, r), b.dim_mul(q, s)))


def is_kron(e: Expr) -> bool:
    """Whether ``e`` is a Kronecker product ``A ⊗ B`` (the registry's ``kron``)."""
    return isinstance(e, Call) and e.fn == "kron"


def factors(e: Call) -> tuple[Expr, Expr]:
    """``(A, B)`` of ``A ⊗ B``."""
    return e.args[0], e.args[1]


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


@_node
class JacobianOf(Expr):
    """``∂vec(V)/∂vec(X)ᵀ`` of a named tangent ``dV`` (:mod:`matcalc.tangents`), a matrix written
    by its name in a Jacobian's or a Hessian's blocks and defined once after them."""

    of: Var
    wrt: Var

    @property
    def shape(self) -> Shape:  # type: ignore[override]
        return (size(self.of.shape), size(self.wrt.shape))

    def fields(self) -> tuple:
        return (self.of, self.wrt)

    def __repr__(self) -> str:
        return f"J({self.of.name},{self.wrt.name})"


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
    if is_kron(e):
        return kron(transpose(e.args[0]), transpose(e.args[1]))
    if isinstance(e, Commutation):
        return commutation(e.n, e.m)
    if isinstance(e, Add):
        return b.add(*(transpose(t) for t in e.terms))
    if isinstance(e, Mul) and any(_structured(f) for f in e.chain):
        return b.mul(Num(e.coef), *e.scalars, *(transpose(f) for f in reversed(e.chain)))
    return b.transpose(e)


def _structured(e: Expr) -> bool:
    return is_kron(e) or isinstance(e, Commutation)


#: The nodes through which a result's ⊗ and K are written, simplified and applied (sums,
#: products, powers, transposes, entry-wise products); inside any other node (``tanh(A ⊗ B)``,
#: a user's ``tr(kron(A, X) B)``) a Kronecker product is an ordinary value.
_SPINE = (Add, Mul, MatPow, Transpose, EProd)


def has_structure(e: Expr, memo: dict[Expr, bool] | None = None) -> bool:
    """Whether ``e`` holds a Kronecker product or a commutation matrix in its spine of sums,
    products, transposes and entry-wise products."""
    if _structured(e):
        return True
    if not isinstance(e, _SPINE):
        return False
    memo = {} if memo is None else memo
    hit = memo.get(e)
    if hit is None:
        hit = memo[e] = any(has_structure(c, memo) for c in e.children())
    return hit


# ---------------------------------------------------------------- simplification rules


def _mixed_product(x: Expr, y: Expr) -> Expr | None:
    """``(A ⊗ B)(C ⊗ D) = AC ⊗ BD`` when the factors conform."""
    if is_kron(x) and is_kron(y):
        if x.args[0].shape[1] == y.args[0].shape[0] and x.args[1].shape[1] == y.args[1].shape[0]:
            return kron(b.mul(x.args[0], y.args[0]), b.mul(x.args[1], y.args[1]))
    return None


def _absorb_left(x: Expr, y: Expr) -> Expr | None:
    """``M (a ⊗ B) = a ⊗ M B`` for a row ``a`` (and ``M (A ⊗ b) = M A ⊗ b`` for a row ``b``)."""
    if is_kron(y) and not _structured(x):
        if y.args[0].shape[0] == 1:
            return kron(y.args[0], b.mul(x, y.args[1]))
        if y.args[1].shape[0] == 1:
            return kron(b.mul(x, y.args[0]), y.args[1])
    return None


def _absorb_right(x: Expr, y: Expr) -> Expr | None:
    """``(a ⊗ B) M = a ⊗ B M`` for a column ``a`` (and ``(A ⊗ b) M = A M ⊗ b``)."""
    if is_kron(x) and not _structured(y):
        if x.args[0].shape[1] == 1:
            return kron(x.args[0], b.mul(x.args[1], y))
        if x.args[1].shape[1] == 1:
            return kron(b.mul(x.args[0], y), x.args[1])
    return None


def _commutation_pair(x: Expr, y: Expr) -> Expr | None:
    """``K(n,m) K(m,n) = I``."""
    if isinstance(x, Commutation) and isinstance(y, Commutation) and (x.m, x.n) == (y.n, y.m):
        return b.eye(x.shape[0])
    return None


def _commute_row(x: Expr, y: Expr) -> Expr | None:
    """``(aᵀ ⊗ B) K(n,s) = B ⊗ aᵀ`` for a row ``aᵀ`` (1×n) and an r×s ``B``."""
    if is_kron(x) and isinstance(y, Commutation) and x.args[0].shape[0] == 1:
        if (y.m, y.n) == (x.args[0].shape[1], x.args[1].shape[1]):
            return kron(x.args[1], x.args[0])
    return None


def _commute_column(x: Expr, y: Expr) -> Expr | None:
    """``K(r,m)(a ⊗ B) = B ⊗ a`` for a column ``a`` (m×1) and an r×s ``B``."""
    if isinstance(x, Commutation) and is_kron(y) and y.args[0].shape[1] == 1:
        if (x.m, x.n) == (y.args[1].shape[0], y.args[0].shape[0]):
            return kron(y.args[1], y.args[0])
    return None


def _vec_row(x: Expr, y: Expr) -> Expr | None:
    """``vec(A)ᵀ(C ⊗ B) = vec(Bᵀ A C)ᵀ``: a row times a Kronecker product is a row again."""
    from .expr import Call

    if isinstance(x, Transpose) and isinstance(x.arg, Call) and x.arg.fn == "vec" and is_kron(y):
        a = x.arg.args[0]
        if a.shape == (y.args[1].shape[0], y.args[0].shape[0]):
            return b.transpose(b.call("vec", b.mul(b.transpose(y.args[1]), a, y.args[0])))
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
            if is_kron(body):
                common, other = (body.args[0], body.args[1]) if side == 0 else (body.args[1], body.args[0])
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
    "K(n,n)² = I, (αI + βK)ᵏ = a I + b K",
    *(n for n, _ in PAIR_RULES),
    *(n for n, _ in NODE_RULES),
)


def _power(e: Expr) -> Expr:
    """``K(n,n)² = I``, so ``(αI + βK)ᵏ = ((α+β)ᵏ + (α−β)ᵏ)/2 I + ((α+β)ᵏ − (α−β)ᵏ)/2 K``
    (the symmetrizer ``P = (I + K)/2`` applied twice is ``P``)."""
    if not isinstance(e, MatPow):
        return e
    parts = e.base.terms if isinstance(e.base, Add) else (e.base,)
    alpha, beta, comm = Fraction(0), Fraction(0), None
    for t in parts:
        c, body = b.split_coef(t)
        if isinstance(body, Eye):
            alpha += c
        elif isinstance(body, Commutation) and body.m == body.n and comm in (None, body):
            beta, comm = beta + c, body
        else:
            return e
    if comm is None:
        return e
    p, q = (alpha + beta) ** e.k, (alpha - beta) ** e.k
    return b.add(b.scale((p + q) / 2, b.eye(e.shape[0])), b.scale((p - q) / 2, comm))


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
    if isinstance(e, MatPow):
        out = _power(b.matpow(simplify_structure(e.base, memo), e.k))
    elif is_kron(e):
        out = kron(simplify_structure(e.args[0], memo), simplify_structure(e.args[1], memo))
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
        elif is_kron(x):
            out = np.kron(run(x.args[0]), run(x.args[1]))
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
        elif isinstance(x, MatPow):
            out = np.linalg.matrix_power(run(x.base), x.k)
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
    "factors",
    "is_kron",
    "commutation",
    "diag_vec",
    "evaluate",
    "has_structure",
    "kron",
    "simplify_structure",
    "size",
    "transpose",
]
