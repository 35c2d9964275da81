"""The first identification theorem: from ``dF = L(dX)`` to ``d vec(F) = J d vec(X)``.

``identify(lin)`` moves ``vec`` into a linear expression one named rule at a
time (``vec(AXB) = (Bᵀ ⊗ A) vec(X)``, ``vec(A ∘ X) = Diag(vec(A)) vec(X)``,
``vec(Xᵀ) = K vec(X)``, …) until every term reads ``M d vec(X)``; the sum of
the ``M`` in front of ``d vec(X)`` is the Jacobian ``∂vec(F)/∂vec(X)ᵀ``. It is
the transpose of what :mod:`matcalc.rules` does for gradients: there the
coefficient is pulled through ``G : L``, here ``L`` is written as a matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import build as b
from . import kron as k
from .errors import DerivativeError
from .expr import Add, Call, Diff, EProd, Expr, Frob, Mul, PowerSum, Transpose
from .rules import HasDifferential


@dataclass(frozen=True)
class VecRule:
    """A named identity used to move ``vec`` inward: Unicode ``text`` and ``latex``."""

    name: str
    text: str
    latex: str


V_SUM = VecRule(
    "vec-sum",
    "vec(A + B) = vec(A) + vec(B)",
    r"\operatorname{vec}(A+B) = \operatorname{vec}(A) + \operatorname{vec}(B)",
)
V_BOTH = VecRule(
    "vec-product",
    "vec(AXB) = (Bᵀ ⊗ A) vec(X)",
    r"\operatorname{vec}(AXB) = (B^\top \otimes A)\operatorname{vec}(X)",
)
V_LEFT = VecRule(
    "vec-left",
    "vec(AX) = (I ⊗ A) vec(X)",
    r"\operatorname{vec}(AX) = (I \otimes A)\operatorname{vec}(X)",
)
V_RIGHT = VecRule(
    "vec-right",
    "vec(XB) = (Bᵀ ⊗ I) vec(X)",
    r"\operatorname{vec}(XB) = (B^\top \otimes I)\operatorname{vec}(X)",
)
V_SCALAR = VecRule(
    "vec-scalar",
    "vec(αX) = α vec(X)",
    r"\operatorname{vec}(\alpha X) = \alpha\operatorname{vec}(X)",
)
V_BY_SCALAR = VecRule(
    "vec-by-scalar",
    "vec(A dα) = vec(A) dα",
    r"\operatorname{vec}(A\,\mathrm{d}\alpha) = \operatorname{vec}(A)\,\mathrm{d}\alpha",
)
V_HADAMARD = VecRule(
    "vec-hadamard",
    "vec(A ∘ X) = Diag(vec(A)) vec(X)",
    r"\operatorname{vec}(A \odot X) = \operatorname{Diag}(\operatorname{vec}(A))\operatorname{vec}(X)",
)
V_TRANSPOSE = VecRule(
    "vec-transpose",
    "vec(Xᵀ) = K vec(X)",
    r"\operatorname{vec}(X^\top) = K\operatorname{vec}(X)",
)
V_SUM_ALL = VecRule(
    "vec-sum-entries",
    "sum(X) = 𝟏ᵀ vec(X)",
    r"\operatorname{sum}(X) = \mathbf{1}^\top\operatorname{vec}(X)",
)
V_TRACE = VecRule(
    "vec-trace",
    "tr(X) = vec(I)ᵀ vec(X)",
    r"\operatorname{tr}(X) = \operatorname{vec}(I)^\top\operatorname{vec}(X)",
)
V_FROB = VecRule(
    "vec-frobenius",
    "A : X = vec(A)ᵀ vec(X)",
    r"A : X = \operatorname{vec}(A)^\top\operatorname{vec}(X)",
)
V_VEC = VecRule(
    "vec-vec",
    "vec(vec(X)) = vec(X)",
    r"\operatorname{vec}(\operatorname{vec}(X)) = \operatorname{vec}(X)",
)

#: Every rule, for documentation and tests.
VEC_RULES: tuple[VecRule, ...] = (
    V_SUM, V_BOTH, V_LEFT, V_RIGHT, V_SCALAR, V_BY_SCALAR, V_HADAMARD, V_TRANSPOSE,
    V_SUM_ALL, V_TRACE, V_FROB, V_VEC,
)  # fmt: skip

#: ``coefficient @ vec(linear)``: one term of ``d vec(F)``.
Piece = tuple[Expr, Expr]


def _no_form(what: str) -> DerivativeError:
    return DerivativeError(
        f"{what} has no finite closed form in the notation of explicit matrices "
        "(⊗, K(m,n), Diag(vec(·))), so no Jacobian or Hessian matrix is written for it; "
        "its gradient (matcalc grad) is"
    )


def _mul(m: Expr, e: Mul, live: HasDifferential) -> tuple[VecRule, list[Piece]]:
    for i, s in enumerate(e.scalars):
        if live(s):
            rest = b.mul(b.Num(e.coef), *e.scalars[:i], *e.scalars[i + 1 :], *e.chain)
            return V_BY_SCALAR, [(b.mul(m, b.call("vec", rest)), s)]
    for i, x in enumerate(e.chain):
        if live(x):
            left, right = e.chain[:i], e.chain[i + 1 :]
            a = b.mul(*left) if left else b.eye(x.shape[0])
            c = b.mul(*right) if right else b.eye(x.shape[1])
            rule = V_BOTH if left and right else V_LEFT if left else V_RIGHT if right else V_SCALAR
            factor = k.kron(k.transpose(c), a) if (left or right) else b.ONE
            return rule, [(b.mul(m, b.Num(e.coef), *e.scalars, factor), x)]
    raise DerivativeError("internal: product without a differential")


def _call(m: Expr, e: Call) -> tuple[VecRule, list[Piece]]:
    x = e.args[0]
    if e.fn == "sum":
        return V_SUM_ALL, [(b.mul(m, b.ones((1, k.size(x.shape)))), x)]
    if e.fn == "tr":
        return V_TRACE, [(b.mul(m, b.transpose(b.call("vec", b.eye(x.shape[0])))), x)]
    if e.fn in ("vec", "unvec"):
        return V_VEC, [(m, x)]
    if e.fn in ("kron", "blockfrob", "blocksum"):
        raise DerivativeError(
            f"{e.fn}(…) of a differential: its explicit matrix (vec(A ⊗ X) = (I ⊗ K ⊗ I)(vec(A) ⊗ "
            "vec(X))) is not written yet, so no Jacobian or Hessian matrix is written for it; "
            "its gradient (matcalc grad) is"
        )
    raise _no_form(f"{e.fn}(…) of a differential")


def step(m: Expr, lin: Expr, live: HasDifferential) -> tuple[VecRule, list[Piece]]:
    """One rule: ``m vec(lin) = Σ m_i vec(lin_i)`` by the rule for ``lin``'s outer node."""
    if isinstance(lin, Add):
        return V_SUM, [(m, t) for t in lin.terms if live(t)]
    if isinstance(lin, PowerSum):  # d(Xᵏ) = Σ Xⁱ dX X^{k−1−i}: its terms
        k_ = lin.k
        terms = (b.mul(b.matpow(lin.left, i), lin.mid, b.matpow(lin.right, k_ - 1 - i)) for i in range(k_))
        return V_SUM, [(m, t) for t in terms if live(t)]
    if isinstance(lin, Mul):
        return _mul(m, lin, live)
    if isinstance(lin, EProd):
        for i, (x, p) in enumerate(lin.factors):
            if live(x):
                if p != 1:
                    break
                others = b.eprod(*lin.factors[:i], *lin.factors[i + 1 :])
                return V_HADAMARD, [(b.mul(m, k.diag_vec(others)), x)]
        raise DerivativeError("internal: entry-wise product not linear in the differential")
    if isinstance(lin, Transpose):
        r, c = lin.arg.shape
        return V_TRANSPOSE, [(b.mul(m, k.commutation(r, c)), lin.arg)]
    if isinstance(lin, Call):
        return _call(m, lin)
    if isinstance(lin, Frob):
        a, x = (lin.left, lin.right) if live(lin.right) else (lin.right, lin.left)
        return V_FROB, [(b.mul(m, b.transpose(b.call("vec", a))), x)]
    raise _no_form(type(lin).__name__)


#: The most ``vec`` rules one identification applies: a map written out as a tree (a deep
#: model's, whose tangents are shared many times over) can need exponentially many.
MAX_RULES = 3000


class TooLargeError(DerivativeError):
    """An explicit matrix too large to write (located at the function by the caller)."""


def too_large(what: str, size: int, limit: int) -> DerivativeError:
    """The error for an explicit matrix too large to write."""
    return TooLargeError(
        f"{what} needs more than {limit:,} terms and steps ({size:,}) to be written as an explicit "
        "matrix: its map is shared in ways a matrix of ⊗ and K cannot show, so no Jacobian or "
        "Hessian matrix is written for it; take fewer variables, or its gradient (matcalc grad)"
    )


def identify(lin: Expr, trace: list | None = None) -> list[tuple[Expr, Diff]]:
    """``vec(lin)`` as ``Σ M_V d vec(V)``; each rule applied is appended to ``trace``."""
    live = HasDifferential()
    done: list[tuple[Expr, Diff]] = []
    work: list[Piece] = [(b.eye(k.size(lin.shape)), lin)]
    rules = 0
    while work:
        m, lin = work.pop(0)
        if isinstance(lin, Diff):
            done.append((m, lin))
            continue
        if not live(lin):  # no differential left in it (a zero not folded, unvec(0) ∘ V): no term
            continue
        rules += 1
        if rules > MAX_RULES:
            raise too_large("the differential", rules, MAX_RULES)
        rule, pieces = step(m, lin, live)
        if trace is not None:
            trace.append((rule, (m, lin), tuple(pieces)))
        work[0:0] = pieces
    return done


def collect(pieces: list[tuple[Expr, Diff]]) -> dict[str, Expr]:
    """The coefficient of each ``d vec(V)``, summed and simplified, by the name of ``V``."""
    groups: dict[str, list[Expr]] = {}
    for m, d in pieces:
        groups.setdefault(d.var.name, []).append(m)
    return {name: b.add(*ms) for name, ms in groups.items()}
