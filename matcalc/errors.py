"""Errors that bad input can raise. Every one is a :class:`MatcalcError`."""

from __future__ import annotations


class MatcalcError(Exception):
    """Base of every error caused by what the user typed or asked for.

    ``line`` and ``column`` are 1-based (``None`` when the mistake is not in
    the model text, e.g. an unknown ``--wrt`` name); ``excerpt`` is the
    offending source line with the offending text underlined; ``note`` an
    optional last line of advice (empty when there is none).
    """

    kind = "error"

    def __init__(
        self,
        message: str,
        line: int | None = None,
        column: int | None = None,
        *,
        source: str | None = None,
        end_column: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.end_column = end_column
        self.excerpt = excerpt(source, line, column, end_column) if source is not None else ""
        self.note = ""

    def __str__(self) -> str:
        where = f"line {self.line}, column {self.column}: " if self.line is not None else ""
        text = f"{self.kind}: {where}{self.message}"
        if self.excerpt:
            text += "\n" + self.excerpt
        if self.note:
            text += "\n" + self.note
        return text


class MatcalcSyntaxError(MatcalcError):
    """The text does not follow the grammar."""

    kind = "syntax error"


class ShapeError(MatcalcError):
    """Shapes or kinds of operands do not fit the operation."""

    kind = "shape error"


class DimensionError(MatcalcError):
    """Two declarations or uses demand different sizes of one dimension."""

    kind = "dimension error"


class UnknownNameError(MatcalcError):
    """A name or function that the model does not know."""

    kind = "name error"


class DefinitionError(MatcalcError):
    """A name used before its definition, defined twice, or declared and defined."""

    kind = "definition error"


class ArityError(MatcalcError):
    """A function called with the wrong number of arguments."""

    kind = "arity error"


class NumberError(MatcalcError):
    """A number beyond the range of a float: too large, too small (rounds to 0) or too long."""

    kind = "number error"


class DerivativeError(MatcalcError):
    """A derivative that cannot be taken as asked (non-scalar, unknown variable...)."""

    kind = "derivative error"


def excerpt(source: str | None, line: int | None, column: int | None, end_column: int | None) -> str:
    """The source line ``line`` with ``^`` under columns ``column..end_column``."""
    if not source or line is None or column is None:
        return ""
    lines = source.splitlines() or [""]
    if not 1 <= line <= len(lines):
        return ""
    text = lines[line - 1].expandtabs(1)
    width = max(1, (end_column or column + 1) - column)
    width = min(width, max(1, len(text) - column + 1))
    return f"  {text}\n  {' ' * (column - 1)}{'^' * width}"
