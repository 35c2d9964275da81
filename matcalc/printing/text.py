"""Plain Unicode text: ``∂f/∂W = ((Mᵀ(t − y)) ∘ step(s)) xᵀ``."""

from __future__ import annotations

import re
from fractions import Fraction

from ..expr import Adjoint, Expr, Var
from .base import GREEK, Printed, Printer, number_text
from .indexed import Run, Spelling, fold_lines

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


def _text_index(letter: str, offset: int) -> str:
    if offset == 0:
        return "_" + letter
    return f"_{{{letter}{'+' if offset > 0 else '−'}{abs(offset)}}}"


#: ``h3`` is ``h_t``, ``h2`` is ``h_{t−1}``
TEXT_INDEX = Spelling(re.compile(r"[^\W\d_](\d+)"), _text_index)


def index_range(run: Run) -> str:
    """`` for t = 1, …, 7`` (in the order of the items)."""
    return f" for {run.letter} = {run.first}, …, {run.last}"


def index_block(run: Run) -> str:
    """``for t = 5, …, 2: `` heading a block of lines written with the index."""
    return f"for {run.letter} = {run.first}, …, {run.last}: "


class TextPrinter(Printer):
    """Unicode text, one method per node (see :class:`~matcalc.printing.base.Printer`)."""

    minus = "−"
    index = TEXT_INDEX

    def sum_over_index(self, run: Run) -> str:
        lo, hi = sorted((run.first, run.last))
        return f"Σ_{{{run.letter}={lo}}}^{{{hi}}} {run.text}"

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


def where_lines(
    adjoints: tuple[tuple[Var, Expr], ...], p: TextPrinter, values: tuple[tuple[Var, Expr], ...] = ()
) -> list[str]:
    """``where δh₃ = …``, then one aligned line for each further named adjoint (a run of
    them alike but for an index as one line: ``δh_t = W_{t+1}ᵀ(…) for t = 6, …, 1``); the
    named forward ``values`` (``u1 = tanh(W1 x)``) come first."""
    lines = fold_lines([f"{p(v)} = {p(g)}" for v, g in values], TEXT_INDEX, index_range, index_block, p.avoid)
    adjoint_lines = [f"{p(Adjoint(v))} = {p(g)}" for v, g in adjoints]
    lines += fold_lines(adjoint_lines, TEXT_INDEX, index_range, index_block, p.avoid)
    return [f"{'where' if i == 0 else '     '} {line}" for i, line in enumerate(lines)]
