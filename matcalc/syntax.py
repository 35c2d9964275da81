"""Surface syntax: what the user wrote, as small immutable nodes with source positions.

The parser's callbacks (:class:`ToSyntax`) build these while parsing; kinds and
shapes are given to them later, by :mod:`matcalc.infer`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from typing import NamedTuple

from lark import Token, Transformer

from . import dims
from .errors import ArityError, DefinitionError, MatcalcError, MatcalcSyntaxError, NumberError
from .numbers import NumberRangeError, literal


class Span(NamedTuple):
    """Where a piece of text is: 1-based lines and columns (end exclusive), and
    0-based character offsets ``start:end``. (A named tuple: a large model has millions.)"""

    line: int
    column: int
    end_line: int
    end_column: int
    start: int
    end: int

    @staticmethod
    def of(tok: Token) -> Span:
        """The span of a lexer token."""
        return _tuple_new(
            Span, (tok.line, tok.column, tok.end_line, tok.end_column, tok.start_pos, tok.end_pos)
        )

    def to(self, other: Span) -> Span:
        """From the start of this span to the end of ``other``."""
        return _tuple_new(Span, (self[0], self[1], other[2], other[3], self[4], other[5]))


_tuple_new = tuple.__new__


# ---------------------------------------------------------------- expressions


@dataclass(frozen=True, slots=True, eq=False)
class Node:
    """Base of expression nodes (compared and hashed by identity: trees may be deep)."""

    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class Number(Node):
    """A numeric literal, exactly."""

    value: Fraction


@dataclass(frozen=True, slots=True, eq=False)
class Name(Node):
    """A variable, a definition, or one of ``ones``/``eye``."""

    name: str


@dataclass(frozen=True, slots=True, eq=False)
class Call(Node):
    """``name(args...)``."""

    name: str
    name_span: Span
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Neg(Node):
    """Unary minus."""

    operand: Node


@dataclass(frozen=True, slots=True, eq=False)
class Binary(Node):
    """``left op right`` for every infix operator, including ``:`` and ``^``."""

    op: str
    left: Node
    right: Node
    op_span: Span


@dataclass(frozen=True, slots=True, eq=False)
class Transpose(Node):
    """A postfix transpose (``'``, ``.T``, ``ᵀ``) or ``^T``."""

    operand: Node


# ---------------------------------------------------------------- statements


@dataclass(frozen=True, slots=True, eq=False)
class Kind:
    """A declared kind: ``scalar``, ``vector``, ``matrix``, ``symmetric`` or
    ``elementwise``, with its sizes (symbols or positive integers)."""

    name: str
    dims: tuple[dims.Dim, ...]
    span: Span

    def __str__(self) -> str:
        if not self.dims:
            return self.name
        return f"{self.name}({', '.join(map(str, self.dims))})"


@dataclass(frozen=True, slots=True, eq=False)
class Declaration:
    """``NAME[, NAME...]: KIND``."""

    names: tuple[Name, ...]
    kind: Kind
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class Assign:
    """``NAME = EXPR``."""

    target: Name
    expr: Node
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class FunctionDef:
    """``NAME(PARAM) = EXPR``: a scalar function by formula, applied entry-wise."""

    name: Name
    param: Name
    body: Node
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class ExprStatement:
    """A bare expression (allowed as the model's last statement)."""

    expr: Node
    span: Span


Statement = Declaration | Assign | FunctionDef | ExprStatement

#: Kind words and the number of sizes each takes in a declaration.
KINDS: dict[str, int] = {"scalar": 0, "elementwise": 0, "vector": 1, "symmetric": 1, "matrix": 2}
KIND_HELP = "scalar, vector(d), matrix(r, c), symmetric(d) or elementwise"


def error_at(cls: type[MatcalcError], message: str, span: Span, source: str | None = None):
    """An error of class ``cls`` located at ``span`` (underlined up to the end of its first line)."""
    end = span.end_column if span.end_line == span.line else None
    if end is None and source is not None:
        lines = source.splitlines()
        if 0 < span.line <= len(lines):
            end = len(lines[span.line - 1]) + 1
    return cls(message, span.line, span.column, source=source, end_column=end)


# ---------------------------------------------------------------- parse callbacks


class ToSyntax(Transformer):
    """Parser callbacks, one per grammar rule, building the nodes above.

    Stateless, so one instance serves every parse.
    """

    def start(self, children: list) -> tuple[Statement, ...]:
        return tuple(children)

    # statements ------------------------------------------------------------

    def assign(self, children: list) -> Assign:
        tok, expr = children
        target = Name(Span.of(tok), str(tok))
        return Assign(target, expr, target.span.to(expr.span))

    def fundef(self, children: list) -> FunctionDef:
        tok, lpar, args, rpar, body = children
        name = Name(Span.of(tok), str(tok))
        params = tuple(args or ())
        if len(params) != 1 or not isinstance(params[0], Name):
            where = params[0].span if len(params) == 1 else Span.of(lpar).to(Span.of(rpar))
            raise error_at(
                DefinitionError,
                f"a function is defined with one parameter name, as in {name.name}(u) = u / (1 + abs(u))",
                where,
            )
        return FunctionDef(name, params[0], body, name.span.to(body.span))

    def exprs(self, children: list) -> Declaration | ExprStatement:
        items = [c for c in children if not isinstance(c, Token)]
        commas = [c for c in children if isinstance(c, Token)]
        last = items[-1]
        span = items[0].span.to(last.span)
        if _looks_like_declaration(last):
            for item in (*items[:-1], last.left):
                if not isinstance(item, Name):
                    raise error_at(
                        MatcalcSyntaxError,
                        "only names can be declared (NAME, NAME, ...: KIND)",
                        item.span,
                    )
            names = (*items[:-1], last.left)
            return Declaration(names, _kind(last.right), span)
        if commas:
            raise error_at(
                MatcalcSyntaxError,
                f"a list separated by ',' is only allowed in a declaration "
                f"'NAME, NAME: KIND' where KIND is {KIND_HELP}",
                Span.of(commas[0]),
            )
        return ExprStatement(last, span)

    # expressions -----------------------------------------------------------

    def number(self, children: list) -> Number:
        (tok,) = children
        span = Span.of(tok)
        try:
            value = literal(str(tok))
        except NumberRangeError as err:
            raise error_at(NumberError, err.message, span) from None
        return Number(span, value)

    def name(self, children: list) -> Name:
        (tok,) = children
        return Name(Span.of(tok), str(tok))

    def call(self, children: list) -> Call:
        name, _lpar, args, rpar = children
        name_span = Span.of(name)
        return Call(name_span.to(Span.of(rpar)), str(name), name_span, tuple(args or ()))

    def args(self, children: list) -> list[Node]:
        return [c for c in children if not isinstance(c, Token)]

    def paren(self, children: list) -> Node:
        lpar, inner, rpar = children
        return replace(inner, span=Span.of(lpar).to(Span.of(rpar)))

    def neg(self, children: list) -> Neg:
        minus, operand = children
        return Neg(Span.of(minus).to(operand.span), operand)

    def pos(self, children: list) -> Node:
        plus, operand = children
        return replace(operand, span=Span.of(plus).to(operand.span))

    def binop(self, children: list) -> Node:
        left, tok, right = children
        span = left.span.to(right.span)
        op = str(tok)
        if op == "^" and isinstance(right, Name) and right.name == "T" and _width(right) == 1:
            return Transpose(span, left)
        return Binary(span, op, left, right, Span.of(tok))

    def transpose(self, children: list) -> Transpose:
        operand, tick = children
        return Transpose(operand.span.to(Span.of(tick)), operand)


def _width(node: Node) -> int:
    return node.span.end - node.span.start


def _looks_like_declaration(e: Node) -> bool:
    """``... : KIND`` (the right side is a kind word, possibly with sizes)."""
    if not (isinstance(e, Binary) and e.op == ":"):
        return False
    kind = e.right
    return (isinstance(kind, Name) and kind.name in KINDS) or (
        isinstance(kind, Call) and kind.name in KINDS
    )


def _kind(e: Name | Call) -> Kind:
    """The declared kind written as ``e``; malformed kinds are located errors."""
    want = KINDS[e.name]
    args = e.args if isinstance(e, Call) else ()
    if isinstance(e, Name) and want:
        sizes = "d" if want == 1 else "r, c"
        raise error_at(
            MatcalcSyntaxError, f"'{e.name}' needs its size: {e.name}({sizes})", e.span
        )
    if len(args) != want:
        if want == 0:
            msg = f"'{e.name}' takes no size: write '{e.name}'"
        else:
            sizes = "d" if want == 1 else "r, c"
            noun = "1 size" if want == 1 else f"{want} sizes"
            msg = f"{e.name} takes {noun} in a declaration, got {len(args)}: {e.name}({sizes})"
        raise error_at(ArityError, msg, e.span)
    return Kind(e.name, tuple(_dim(a) for a in args), e.span)


def _dim(e: Node) -> dims.Dim:
    """A size in a declaration: a dimension symbol, a positive integer, or a product of
    them (``m*n``, as ``vec`` and ``kron`` make)."""
    if isinstance(e, Name):
        return dims.symbol(e.name)
    if isinstance(e, Number) and e.value.denominator == 1 and e.value > 0:
        return int(e.value)
    if isinstance(e, Binary) and e.op == "*":
        return dims.mul(_dim(e.left), _dim(e.right))
    raise error_at(
        MatcalcSyntaxError,
        "a size must be a dimension symbol, a positive integer or a product of them (m*n)",
        e.span,
    )
