"""The Frobenius-product identities that move a differential out of an expression.

Each rule rewrites ``G : L`` — ``L`` linear in some ``dV`` — into a sum of
``G' : L'`` where ``L'`` is a smaller piece of ``L``. Repeating them until
every ``L'`` is a bare ``dV`` turns ``df = G : dF`` into ``Σ G_V : dV``: the
method of the seed answers. Rules are named data so that a derivation can
print the identity it used beside each line.
"""

from __future__ import annotations

from collections.abc import Callable

from . import build as b
from .errors import DerivativeError
from .expr import Add, Call, Diff, EProd, Expr, Frob, Mul, PowerSum, Transpose
from .ops.registry import OPS, Rule
from .ops.structural import (  # noqa: F401 (the pulls through functions: named with their operations)
    BLOCKFROB_LEFT,
    BLOCKFROB_RIGHT,
    BLOCKSUM_LEFT,
    BLOCKSUM_RIGHT,
    DIAG,
    DIAG_MAT,
    KRON_LEFT,
    KRON_RIGHT,
    SUM_ALL,
    TRACE,
    UNVEC,
    VEC,
)

SUM = Rule("sum", "G:(A + B) = G:A + G:B", r"G:(A+B) = G:A + G:B")
SCALAR_OUT = Rule("scalar", "G:αX = αG:X", r"G:\alpha X = \alpha G:X")
SCALAR_IN = Rule("scalar-factor", "G:αA = (G:A) α", r"G:\alpha A = (G:A)\,\alpha")
LEFT = Rule("left", "G:AX = AᵀG:X", r"G:AX = A^\top G:X")
RIGHT = Rule("right", "G:XB = GBᵀ:X", r"G:XB = GB^\top:X")
BOTH = Rule("middle", "G:AXB = AᵀGBᵀ:X", r"G:AXB = A^\top G B^\top:X")
HADAMARD = Rule("hadamard", "G:A∘X = (G∘A):X", r"G:A\odot X = (G\odot A):X")
TRANSPOSE = Rule("transpose", "G:Xᵀ = Gᵀ:X", r"G:X^\top = G^\top:X")
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


def _call(g: Expr, e: Call, live: Callable[[Expr], bool]) -> tuple[Rule, list[Piece]]:
    """The pull of the function's entry (:attr:`~matcalc.ops.registry.Op.pull`) in its live argument."""
    pulls = OPS[e.fn].pull
    for i, x in enumerate(e.args):
        if live(x):
            if i >= len(pulls) or pulls[i] is None:
                break
            rule, g2 = pulls[i](g, e.args)
            return rule, [(g2, x)]
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
        return _call(g, lin, live)
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
