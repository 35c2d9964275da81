"""Exact numbers that stay within a float's range.

Numbers are exact :class:`~fractions.Fraction` values, but the generated code
computes in float64, so every literal and every folded constant must be a
finite float64 that is not rounded to zero: ``1e400``, ``2^1e20`` or
``1e-400`` raise :class:`NumberRangeError` (which callers turn into a located
error). Magnitudes are checked before exponentiating, so nothing huge is ever
computed exactly. A constant whose exact numerator or denominator would grow
beyond :data:`EXACT_BITS` is rounded to the nearest float (it is used as a
float anyway), which keeps every constant small.
"""

from __future__ import annotations

import math
import sys
from fractions import Fraction

#: The largest finite float64, exactly.
FLOAT_MAX = Fraction(sys.float_info.max)
#: Most digits a numeric literal may have (mantissa and fraction together).
MAX_DIGITS = 400
#: Most bits of an exact numerator or denominator; larger constants are rounded to a float.
EXACT_BITS = 4096
#: Past these powers of 2 a value is surely beyond the range of a float (the exact
#: check decides the cases near the edges).
_LOG2_MAX = 1025.0
_LOG2_MIN = -1076.0


class NumberRangeError(ArithmeticError):
    """A number that is not a finite float64: too large, too small (rounds to 0) or too long.

    ``what`` names the value; :meth:`about` words the error for another name of it.
    """

    def __init__(self, problem: str, what: str) -> None:
        self.problem = problem
        self.what = what
        super().__init__(self.about(what))

    @property
    def message(self) -> str:
        """The user-facing text: "number too large: …"."""
        return self.about(self.what)

    def about(self, what: str) -> str:
        """The message with the value called ``what``."""
        if self.problem == "large":
            return f"number too large: {what} is beyond the largest float (about 1.8e308)"
        if self.problem == "small":
            return (
                f"number too small: {what} is 0 as a float (the smallest is about 5e-324);"
                " write 0 for zero"
            )
        return f"number too long: {what} has more than {MAX_DIGITS} digits"


def too_large(what: str) -> NumberRangeError:
    """The error for a value beyond the largest float (``what`` says which value)."""
    return NumberRangeError("large", what)


def too_small(what: str) -> NumberRangeError:
    """The error for a non-zero value that a float rounds to 0."""
    return NumberRangeError("small", what)


def checked(x: Fraction, what: str = "the value") -> Fraction:
    """``x`` itself if it is a finite float64 not rounded to 0, else :class:`NumberRangeError`.

    A value whose exact form has more than :data:`EXACT_BITS` bits comes back as
    the nearest float.
    """
    n, d = x.numerator.bit_length(), x.denominator.bit_length()
    if 0 < n <= 1000 and d <= 1000 and n - d > -1000:  # 2^-1000 < |x| < 2^1001: the usual case
        return x
    if x == 0:
        return x
    lg = _log2(x)
    if lg > _LOG2_MAX:
        raise too_large(what)
    if lg < _LOG2_MIN:
        raise too_small(what)
    try:
        f = float(x)
    except OverflowError:
        raise too_large(what) from None
    if f == 0.0:
        raise too_small(what)
    if math.isinf(f):
        raise too_large(what)
    if max(x.numerator.bit_length(), x.denominator.bit_length()) > EXACT_BITS:
        return Fraction(f)
    return x


def literal(text: str) -> Fraction:
    """The exact value of a numeric literal (``2``, ``0.5``, ``1e-3``, ``.5``), checked.

    The digits and the exponent are looked at before any large integer is built.
    """
    mantissa, _, exponent = text.lower().partition("e")
    whole, _, frac = mantissa.partition(".")
    if len(whole) + len(frac) > MAX_DIGITS:
        raise NumberRangeError("long", f"the number {_shorten(text)}")
    digits = (whole + frac).lstrip("0")
    short = _shorten(text)
    if not digits:
        return Fraction(0)
    sign = -1 if exponent.startswith("-") else 1
    exp_digits = exponent.lstrip("+-").lstrip("0")
    if len(exp_digits) > 6:  # |exponent| >= 10^6: far beyond any float
        raise too_large(short) if sign > 0 else too_small(short)
    power = sign * int(exp_digits or "0") - len(frac)
    magnitude = len(digits) + power  # the value is below 10^magnitude, at least 10^(magnitude-1)
    if magnitude > 310:
        raise too_large(short)
    if magnitude < -324:
        raise too_small(short)
    value = Fraction(int(digits)) * Fraction(10) ** power
    return checked(value, short)


def power(x: Fraction, k: Fraction, what: str = "the power") -> Fraction | None:
    """``x ** k``, checked; exact for an integer ``k`` unless that is impractically large
    (then the nearest float). ``None`` when the power is not a real number (``(-8)^(1/3)``).

    Raises ``ZeroDivisionError`` for ``0`` to a negative power.
    """
    if k == 0:
        return Fraction(1)
    if x == 0:
        if k < 0:
            raise ZeroDivisionError("0 to a negative power")
        return Fraction(0)
    integer = k.denominator == 1
    if not integer and x < 0:
        return None
    if abs(x) == 1:
        if integer:
            return x ** int(k)
        return Fraction(1)
    lg = _log2(abs(x)) * float(k)
    if lg > _LOG2_MAX:
        raise too_large(what)
    if lg < _LOG2_MIN:
        raise too_small(what)
    bits = max(x.numerator.bit_length(), x.denominator.bit_length())
    if integer and abs(k) * bits <= EXACT_BITS:
        return checked(x ** int(k), what)
    try:
        f = math.pow(float(x), float(k))
    except OverflowError:
        raise too_large(what) from None
    return checked(Fraction(f), what)


def _log2(x: Fraction) -> float:
    """log2 of ``|x|`` (``x`` non-zero), without converting huge values to floats."""
    return math.log2(abs(x.numerator)) - math.log2(x.denominator)


def _shorten(text: str) -> str:
    return text if len(text) <= 24 else text[:10] + "…" + text[-10:]
