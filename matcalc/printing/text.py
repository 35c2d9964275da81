"""Plain Unicode text: ``∂f/∂W = ((Mᵀ(t − y)) ∘ step(s)) xᵀ``."""

from __future__ import annotations

from fractions import Fraction

from ..expr import Adjoint, Expr, Var
from .base import GREEK, Printed, Printer, number_text

_GREEK_LOWER = "αβγδεζηθικλμνξοπρστυφχψω"
_GREEK_UPPER = "ΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩ"
_SUPERSCRIPT = str.maketrans("0123456789-/", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻ᐟ")


def greek(name: str) -> str:
    """``alpha`` → ``α``, ``Phi`` → ``Φ``; other names unchanged."""
    low = name.lower()
    if low in GREEK:
        i = GREEK.index(low)
        return _GREEK_LOWER[i] if name == low else (_GREEK_UPPER[i] if name == name.capitalize() else name)
    return name


class TextPrinter(Printer):
    """Unicode text, one method per node (see :class:`~matcalc.printing.base.Printer`)."""

    minus = "−"

    def name(self, name: str) -> str:
        return greek(name)

    def transpose_of(self, text: str) -> str:
        return text + "ᵀ"

    def power_of(self, text: str, k: Fraction, scalar: bool) -> str:
        if k.denominator == 1 and k > 0 and scalar:
            return text + str(k.numerator).translate(_SUPERSCRIPT)
        exp = number_text(k)
        exp = exp if k.denominator == 1 and k > 0 else f"({exp})"
        return f"{text}^{exp}" if scalar else f"{text}.^{exp}"

    def symbolic_power(self, text: str, exponent: str) -> str:
        return text + "ⁱ" if exponent == "i" else f"{text}^({exponent})"

    def sum_over(self, last: int, body: str) -> str:
        return f"Σ_{{i=0}}^{{{last}}} {body}"

    def function(self, fn: str, order: int, args: list[str]) -> str:
        return f"{greek(fn)}{chr(39) * order}({', '.join(args)})"

    def ones(self, shape) -> Printed:
        rows, cols = shape
        if cols == 1:
            return "𝟏", "atom"
        if rows == 1:
            return "𝟏ᵀ", "atom"
        return "𝟏 𝟏ᵀ", "mul"


def to_text(e: Expr) -> str:
    """``e`` as Unicode text."""
    return TextPrinter()(e)


def where_lines(adjoints: tuple[tuple[Var, Expr], ...], p: TextPrinter) -> list[str]:
    """``where δh₃ = …``, then one aligned line for each further named adjoint."""
    return [f"{'where' if i == 0 else '     '} {p(Adjoint(v))} = {p(g)}" for i, (v, g) in enumerate(adjoints)]
