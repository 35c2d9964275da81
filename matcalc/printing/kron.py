"""Text and LaTeX spellings of the explicit-matrix notation: ``A ⊗ B`` and ``K(m,n)``.

A Kronecker product (the registry's ``kron``) is written ``A ⊗ B`` in Jacobians
and Hessians, as the textbooks write it; it binds looser than juxtaposition
(``AC ⊗ BD``) and is parenthesised inside a product, as a Hadamard product is.
"""

from __future__ import annotations

from ..expr import Call, Diff, Expr, Var
from ..kron import Commutation, JacobianOf, is_kron
from .base import Printed
from .indexed import fold_lines
from .latex import LATEX_INDEX, LatexPrinter, latex_index_block, latex_index_range
from .text import TEXT_INDEX, TextPrinter, index_block, index_range


class _KronMixin:
    kron_sep = " ⊗ "

    def _print_Call(self, e: Call) -> Printed:
        if not is_kron(e):
            return super()._print_Call(e)  # type: ignore[misc]
        loose = ("frob", "add", "neg", "had")
        left, right = e.args
        return self.wrap(left, loose) + self.kron_sep + self.wrap(right, loose), "had"  # type: ignore[attr-defined]

    def _print_Commutation(self, e: Commutation) -> Printed:
        return self.commutation(self.dim_text(e.m), self.dim_text(e.n)), "atom"

    def _print_JacobianOf(self, e: JacobianOf) -> Printed:
        of, wrt = e.of, e.wrt
        top = self.adjoint(self.name(of.name[1:])) if of.role == "adjoint" else self.name(of.name)
        if of.shape[1] != 1:
            top = self.vec_of(top)  # type: ignore[attr-defined]
        bottom = self.name(wrt.name)  # type: ignore[attr-defined]
        if not wrt.is_scalar:
            bottom = self.transpose_of(bottom if wrt.shape[1] == 1 else self.vec_of(bottom))  # type: ignore[attr-defined]
        return self.jacobian_of(top, bottom), "atom"

    def dim_text(self, d) -> str:
        return str(d).replace("*", "")


class KronTextPrinter(_KronMixin, TextPrinter):
    """:class:`~matcalc.printing.text.TextPrinter` with ``⊗`` and ``K(m,n)``."""

    def commutation(self, m: str, n: str) -> str:
        return f"K({m},{n})"

    def vec_of(self, text: str) -> str:
        return f"vec({text})"

    def jacobian_of(self, top: str, bottom: str) -> str:
        return f"∂{top}/∂{bottom}"


class KronLatexPrinter(_KronMixin, LatexPrinter):
    """:class:`~matcalc.printing.latex.LatexPrinter` with ``\\otimes`` and ``K_{m,n}``."""

    kron_sep = r" \otimes "

    def commutation(self, m: str, n: str) -> str:
        return f"K_{{{m},{n}}}"

    def vec_of(self, text: str) -> str:
        return rf"\operatorname{{vec}}({text})"

    def jacobian_of(self, top: str, bottom: str) -> str:
        return rf"\frac{{\partial {top}}}{{\partial {bottom}}}"


def named_lines(
    tangents: tuple[tuple[Var, Expr], ...],
    jacobians: tuple[tuple[Expr, Expr], ...],
    p: KronTextPrinter | KronLatexPrinter,
    after: int,
) -> list[str]:
    """``dh₃ = …`` for each named tangent, then ``∂h₃/∂vec(W₁)ᵀ = …`` for each named Jacobian
    (runs alike but for an index folded), continuing ``after`` lines of ``where``."""
    latex = isinstance(p, KronLatexPrinter)
    eq = " &= " if latex else " = "
    lines = [f"{p(Diff(v))}{eq}{p(g)}" for v, g in tangents]
    lines += [f"{p(j)}{eq}{p(m)}" for j, m in jacobians]
    if latex:
        lines = fold_lines(lines, LATEX_INDEX, latex_index_range, latex_index_block, p.avoid)
        lead = r"\text{where } "
        return [(lead if after + i == 0 else "") + line for i, line in enumerate(lines)]
    lines = fold_lines(lines, TEXT_INDEX, index_range, index_block, p.avoid)
    return [f"{'where' if after + i == 0 else '     '} {line}" for i, line in enumerate(lines)]
