"""The Frobenius-product identities that move a differential out of an expression.

Each rule rewrites ``G : L`` — ``L`` linear in some ``dV`` — into a sum of
``G' : L'`` where ``L'`` is a smaller piece of ``L``. Repeating them until
every ``L'`` is a bare ``dV`` turns ``df = G : dF`` into ``Σ G_V : dV``: the
method of the seed answers. Rules are named data so that a derivation can
print the identity it used beside each line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import build as b
from .errors import DerivativeError
from .expr import Add, Call, Diff, EProd, Expr, Frob, Mul, PowerSum, Transpose


@dataclass(frozen=True)
class Rule:
    """A named identity: ``text`` in Unicode, ``latex`` for typeset derivations."""

    name: str
    text: str
    latex: str


SUM = Rule("sum", "G:(A + B) = G:A + G:B", r"G:(A+B) = G:A + G:B")
SCALAR_OUT = Rule("scalar", "G:αX = αG:X", r"G:\alpha X = \alpha G:X")
SCALAR_IN = Rule("scalar-factor", "G:αA = (G:A) α", r"G:\alpha A = (G:A)\,\alpha")
LEFT = Rule("left", "G:AX = AᵀG:X", r"G:AX = A^\top G:X")
RIGHT = Rule("right", "G:XB = GBᵀ:X", r"G:XB = GB^\top:X")
BOTH = Rule("middle", "G:AXB = AᵀGBᵀ:X", r"G:AXB = A^\top G B^\top:X")
HADAMARD = Rule("hadamard", "G:A∘X = (G∘A):X", r"G:A\odot X = (G\odot A):X")
TRANSPOSE = Rule("transpose", "G:Xᵀ = Gᵀ:X", r"G:X^\top = G^\top:X")
SUM_ALL = Rule(
    "sum-entries", "α:sum(X) = α𝟏 𝟏ᵀ:X", r"\alpha:\operatorname{sum}(X) = \alpha\mathbf{1}\mathbf{1}^\top:X"
)
TRACE = Rule("trace", "α:tr(X) = αI:X", r"\alpha:\operatorname{tr}(X) = \alpha I:X")
DIAG = Rule("diag", "g:diag(X) = Diag(g):X", r"g:\operatorname{diag}(X) = \operatorname{Diag}(g):X")
DIAG_MAT = Rule("Diag", "G:Diag(x) = diag(G):x", r"G:\operatorname{Diag}(x) = \operatorname{diag}(G):x")
VEC = Rule("vec", "g:vec(X) = unvec(g):X", r"g:\operatorname{vec}(X) = \operatorname{unvec}(g):X")
UNVEC = Rule("unvec", "G:unvec(x) = vec(G):x", r"G:\operatorname{unvec}(x) = \operatorname{vec}(G):x")
POWER_SUM = Rule(
    "power-sum",
    "G:Σᵢ AⁱXB^(k−1−i) = Σᵢ (Aᵀ)ⁱG(Bᵀ)^(k−1−i):X",
    r"G:\sum_i A^i X B^{k-1-i} = \sum_i {A^\top}^i G {B^\top}^{k-1-i}:X",
)
FROB = Rule("frobenius", "α:(A:X) = αA:X", r"\alpha:(A:X) = \alpha A:X")

Piece = tuple[Expr, Expr]


def _mul(g: Expr, e: Mul, live: Callable[[Expr], bool]) -> tuple[Rule, list[Piece]]:
    for i, s in enumerate(e.scalars):
        if live(s):
            rest = b.mul(b.Num(e.coef), *e.scalars[:i], *e.scalars[i + 1 :], *e.chain)
            return SCALAR_IN, [(b.frob(g, rest), s)]
    for k, x in enumerate(e.chain):
        if live(x):
            left, right = e.chain[:k], e.chain[k + 1 :]
            factors: list[Expr] = [b.Num(e.coef), *e.scalars]
            if left:
                factors.append(b.transpose(b.mul(*left)))
            factors.append(g)
            if right:
                factors.append(b.transpose(b.mul(*right)))
            rule = BOTH if left and right else LEFT if left else RIGHT if right else SCALAR_OUT
            return rule, [(b.mul(*factors), x)]
    raise DerivativeError("internal: product without a differential")


def _eprod(g: Expr, e: EProd, live: Callable[[Expr], bool]) -> tuple[Rule, list[Piece]]:
    for i, (x, k) in enumerate(e.factors):
        if live(x):
            if k != 1:
                break
            others = e.factors[:i] + e.factors[i + 1 :]
            return HADAMARD, [(b.eprod(g, *others), x)]
    raise DerivativeError("internal: entry-wise product not linear in the differential")


def _call(g: Expr, e: Call) -> tuple[Rule, list[Piece]]:
    x = e.args[0]
    if e.fn == "sum":
        return SUM_ALL, [(b.mul(g, b.ones(x.shape)), x)]
    if e.fn == "tr":
        return TRACE, [(b.mul(g, b.eye(x.shape[0])), x)]
    if e.fn == "diag":
        return DIAG, [(b.call("Diag", g), x)]
    if e.fn == "Diag":
        return DIAG_MAT, [(b.call("diag", g), x)]
    if e.fn == "vec":
        return VEC, [(Call("unvec", (g,), x.shape), x)]
    if e.fn == "unvec":
        return UNVEC, [(b.call("vec", g), x)]
    raise DerivativeError(f"internal: {e.fn} is not linear")


def pull(g: Expr, lin: Expr, live: Callable[[Expr], bool]) -> tuple[Rule, list[Piece]]:
    """One step: ``g : lin = Σ g_i : lin_i`` by the rule for ``lin``'s outer node."""
    if isinstance(lin, Add):
        return SUM, [(g, t) for t in lin.terms if live(t)]
    if isinstance(lin, Mul):
        return _mul(g, lin, live)
    if isinstance(lin, EProd):
        return _eprod(g, lin, live)
    if isinstance(lin, Transpose):
        return TRANSPOSE, [(b.transpose(g), lin.arg)]
    if isinstance(lin, Call):
        return _call(g, lin)
    if isinstance(lin, PowerSum):
        pulled = b.power_sum(b.transpose(lin.left), g, b.transpose(lin.right), lin.k)
        return POWER_SUM, [(pulled, lin.mid)]
    if isinstance(lin, Frob):
        if live(lin.right):
            return FROB, [(b.mul(g, lin.left), lin.right)]
        return FROB, [(b.mul(g, lin.right), lin.left)]
    raise DerivativeError(f"internal: cannot move a differential out of {type(lin).__name__}")


class HasDifferential:
    """Whether an expression contains a ``dV`` leaf (memoised)."""

    def __init__(self) -> None:
        self._memo: dict[Expr, bool] = {}

    def __call__(self, e: Expr) -> bool:
        hit = self._memo.get(e)
        if hit is None:
            hit = isinstance(e, Diff) or any(self(c) for c in e.children())
            self._memo[e] = hit
        return hit


def separate(g: Expr, lin: Expr, trace: list | None = None) -> list[tuple[Expr, Diff]]:
    """``g : lin`` as ``Σ g_V : dV``; each step is appended to ``trace`` if given."""
    live = HasDifferential()
    done: list[tuple[Expr, Diff]] = []
    work: list[Piece] = [(g, lin)]
    while work:
        g, lin = work.pop(0)
        if isinstance(lin, Diff):
            done.append((g, lin))
            continue
        rule, pieces = pull(g, lin, live)
        if trace is not None:
            trace.append((rule, (g, lin), pieces))
        work[0:0] = pieces
    return done
