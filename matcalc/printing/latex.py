"""LaTeX: ``\\frac{\\partial f}{\\partial W} = \\left(\\left(M^\\top (t - y)\\right) \\odot …``."""

from __future__ import annotations

import re
from fractions import Fraction

from ..expr import Adjoint, Call, EProd, Expr, Ones, Transpose, Var
from ..ops.registry import OPS
from .base import GREEK, Printed, Printer, number_text
from .indexed import Run, Spelling, fold_lines

_SUB_COMMANDS = {"max", "min", "sup", "inf", "log", "exp", "det"}


#: Unicode sub- and superscript digits, as written in names (``x₁``, ``x²``).
_SUBSCRIPT_DIGITS = "₀₁₂₃₄₅₆₇₈₉"
_SUPERSCRIPT_DIGITS = "⁰¹²³⁴⁵⁶⁷⁸⁹"
_SCRIPTS = re.compile(f"(.+?)(?:([{_SUBSCRIPT_DIGITS}]+)|([{_SUPERSCRIPT_DIGITS}]+))")


def latex_name(name: str) -> str:
    """A user's name in LaTeX.

    ``alpha`` → ``\\alpha``, ``E_max`` → ``E_{\\max}``, ``W1`` → ``W_{1}``,
    ``x₁`` → ``x_{1}``, ``x²`` → ``x^{2}``.
    """
    m = _SCRIPTS.fullmatch(name)
    if m:
        head, sub, sup = m.groups()
        base = latex_name(head)
        if "_" in base or "^" in base:
            base = "{" + base + "}"
        if sub:
            return base + "_{" + "".join(str(_SUBSCRIPT_DIGITS.index(c)) for c in sub) + "}"
        return base + "^{" + "".join(str(_SUPERSCRIPT_DIGITS.index(c)) for c in sup) + "}"
    base, sep, sub = name.partition("_")
    if not sep:
        m = re.fullmatch(r"(.*?[^\d])(\d+)", name)
        if m:
            base, sub = m.group(1), m.group(2)
    if base.lower() in GREEK and base in (base.lower(), base.capitalize()):
        head = "\\" + base
    elif len(base) == 1:
        head = base
    else:
        head = r"\mathit{" + base.replace("_", r"\_") + "}"
    if not sub:
        return head
    if sub in _SUB_COMMANDS:
        tail = "\\" + sub
    elif sub.isdigit() or len(sub) == 1:
        tail = sub
    else:
        tail = r"\mathrm{" + sub.replace("_", r"\_") + "}"
    return f"{head}_{{{tail}}}"


def _latex_index(letter: str, offset: int) -> str:
    return letter if offset == 0 else f"{letter}{'+' if offset > 0 else '-'}{abs(offset)}"


#: ``h_{3}`` is ``h_{t}``, ``h_{2}`` is ``h_{t-1}``
LATEX_INDEX = Spelling(re.compile(r"_\{(\d+)\}"), _latex_index)


def latex_index_range(run: Run) -> str:
    r"""``\quad t = 1, \ldots, 7``."""
    return rf"\quad {run.letter} = {run.first}, \ldots, {run.last}"


def latex_index_block(run: Run) -> str:
    r"""``\text{for } t = 5, \ldots, 2{:}\ `` heading a block of lines."""
    return rf"\text{{for }} {run.letter} = {run.first}, \ldots, {run.last}{{:}}\ "


class LatexPrinter(Printer):
    """LaTeX math, one method per node (see :class:`~matcalc.printing.base.Printer`)."""

    index = LATEX_INDEX

    def sum_over_index(self, run: Run) -> str:
        lo, hi = sorted((run.first, run.last))
        return rf"\sum_{{{run.letter}={lo}}}^{{{hi}}} {run.text}"

    minus = "-"
    hadamard = r" \odot "
    divide_entries = r" \oslash "
    frob_sep = " : "
    open_paren = r"\left("
    dot = r"\cdot"

    def name(self, name: str) -> str:
        return latex_name(name)

    def paren(self, text: str) -> str:
        return rf"\left({text}\right)"

    def adjoint(self, text: str) -> str:
        return rf"{{\delta {text}}}"

    def transpose_of(self, text: str) -> str:
        return f"{{{text}}}^\\top"

    def symbolic_power(self, text: str, exponent: str) -> str:
        return f"{{{text}}}^{{{exponent}}}"

    def sum_over(self, last: int, body: str) -> str:
        return rf"\sum_{{i=0}}^{{{last}}} {body}"

    def power_of(self, text: str, k: Fraction, scalar: bool) -> str:
        exp = number_text(k) if k.denominator == 1 else rf"{k.numerator}/{k.denominator}"
        return f"{{{text}}}^{{{exp}}}" if scalar else f"{{{text}}}^{{\\circ {exp}}}"

    def function(self, fn: str, order: int, args: list[str]) -> str:
        """The operation's LaTeX spelling from the registry; a user's function by its name."""
        op = OPS.get(fn)
        spelling = op.latex if op is not None else None
        if callable(spelling):
            return spelling(args)
        arg = ", ".join(args)
        prime = "'" * order
        if spelling is None:
            return rf"{latex_name(fn)}{prime}\left({arg}\right)"
        return spelling.format(x=arg, prime=prime)

    def _print_Transpose(self, e: Transpose) -> Printed:
        if isinstance(e.arg, Call):
            spelling = OPS[e.arg.fn].latex_transposed
            if spelling is not None:
                return spelling([self(a) for a in e.arg.args]), "atom"
        return super()._print_Transpose(e)

    def ones(self, shape) -> Printed:
        rows, cols = shape
        if cols == 1:
            return r"\mathbf{1}", "atom"
        if rows == 1:
            return r"\mathbf{1}^\top", "atom"
        return r"\mathbf{1}\mathbf{1}^\top", "mul"

    def differential(self, text: str) -> str:
        return r"\mathrm{d}" + text

    def number(self, v: Fraction) -> str:
        text = number_text(v)
        if v.denominator != 1 and "." not in text and "e" not in text:
            return rf"\frac{{{v.numerator}}}{{{v.denominator}}}"
        mantissa, e, exponent = text.partition("e")
        if e:  # 1e-06 -> 10^{-6}, 1.5e-07 -> 1.5 \cdot 10^{-7}
            power = rf"10^{{{int(exponent)}}}"
            return power if mantissa == "1" else rf"{mantissa} \cdot {power}"
        return text

    def fraction(self, num: str, den: str) -> str:
        return rf"\frac{{{_unparen(num)}}}{{{_unparen(den)}}}"

    def join_factors(self, parts: list[str]) -> str:
        return " ".join(parts)

    def _print_EProd(self, e: EProd) -> Printed:
        """Scalar factors as ``\\alpha \\cdot \\beta`` and ``\\frac{\\alpha}{\\beta}``."""
        if not e.is_scalar:
            return super()._print_EProd(e)
        top = [self.print_power(f, k) for f, k in e.factors if k > 0 and not isinstance(f, Ones)]
        bottom = [self.print_power(f, -k) for f, k in e.factors if k < 0]
        if len(top) == 1 and not bottom and e.factors[0][1] != 1:
            return top[0], "atom"
        num = r" \cdot ".join(top) if top else "1"
        if bottom:
            return self.fraction(num, r" \cdot ".join(bottom)), "mul"
        return num, "mul"


def _unparen(text: str) -> str:
    """``text`` without one pair of outer ``\\left( … \\right)`` that encloses all of it."""
    if not (text.startswith(r"\left(") and text.endswith(r"\right)")):
        return text
    depth = 0
    for m in re.finditer(r"\\left\(|\\right\)", text):
        depth += 1 if m.group() == r"\left(" else -1
        if depth == 0 and m.end() != len(text):
            return text
    return text[6:-7]


def to_latex(e: Expr) -> str:
    """``e`` as LaTeX math."""
    return LatexPrinter()(e)


def latex_where_lines(
    adjoints: tuple[tuple[Var, Expr], ...], p: LatexPrinter, values: tuple[tuple[Var, Expr], ...] = ()
) -> list[str]:
    """The named forward ``values``, then the named adjoints, as lines of an ``aligned``
    block, the first after ``where``."""
    lead = r"\text{where } "
    lines = [rf"{p(v)} &= {p(g)}" for v, g in values]
    lines = fold_lines(lines, LATEX_INDEX, latex_index_range, latex_index_block, p.avoid)
    adjoint_lines = [rf"{p(Adjoint(v))} &= {p(g)}" for v, g in adjoints]
    lines += fold_lines(adjoint_lines, LATEX_INDEX, latex_index_range, latex_index_block, p.avoid)
    return [f"{lead if i == 0 else ''}{line}" for i, line in enumerate(lines)]
