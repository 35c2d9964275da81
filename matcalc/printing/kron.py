"""Text and LaTeX spellings of the explicit-matrix notation: ``A ⊗ B`` and ``K(m,n)``.

A Kronecker product (the registry's ``kron``) is written ``A ⊗ B`` in Jacobians
and Hessians, as the textbooks write it; it binds looser than juxtaposition
(``AC ⊗ BD``) and is parenthesised inside a product, as a Hadamard product is.
"""

from __future__ import annotations

from ..expr import Call
from ..kron import Commutation, is_kron
from .base import Printed
from .latex import LatexPrinter
from .text import TextPrinter


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
