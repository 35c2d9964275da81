"""Text and LaTeX spellings of the explicit-matrix notation: ``A ⊗ B`` and ``K(m,n)``.

A Kronecker product binds looser than juxtaposition (``AC ⊗ BD``) and is
parenthesised inside a product, as a Hadamard product is.
"""

from __future__ import annotations

from ..kron import Commutation, Kron
from .base import Printed
from .latex import LatexPrinter
from .text import TextPrinter


class _KronMixin:
    kron_sep = " ⊗ "

    def _print_Kron(self, e: Kron) -> Printed:
        loose = ("frob", "add", "neg", "had")
        return self.wrap(e.left, loose) + self.kron_sep + self.wrap(e.right, loose), "had"  # type: ignore[attr-defined]

    def _print_Commutation(self, e: Commutation) -> Printed:
        return self.commutation(self.dim_text(e.m), self.dim_text(e.n)), "atom"

    def dim_text(self, d) -> str:
        return str(d).replace("*", "")


class KronTextPrinter(_KronMixin, TextPrinter):
    """:class:`~matcalc.printing.text.TextPrinter` with ``⊗`` and ``K(m,n)``."""

    def commutation(self, m: str, n: str) -> str:
        return f"K({m},{n})"


class KronLatexPrinter(_KronMixin, LatexPrinter):
    """:class:`~matcalc.printing.latex.LatexPrinter` with ``\\otimes`` and ``K_{m,n}``."""

    kron_sep = r" \otimes "

    def commutation(self, m: str, n: str) -> str:
        return f"K_{{{m},{n}}}"
