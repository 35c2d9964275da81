"""Surface syntax: what the user wrote, as small immutable nodes with source positions.

The parser's callbacks (:class:`ToSyntax`) build these while parsing; kinds and
shapes are given to them later, by :mod:`matcalc.infer`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from fractions import Fraction
from itertools import accumulate
from operator import itemgetter
from typing import ClassVar, NamedTuple

from lark import Token, Transformer

from . import dims
from .errors import ArityError, DefinitionError, MatcalcError, MatcalcSyntaxError, NumberError
from .numbers import NumberRangeError, literal


class Span(NamedTuple):
    """Where a piece of text is: 1-based lines and columns (end exclusive), and
    0-based character offsets ``start:end``. Nodes keep only the offsets; a span is
    made when asked for (:meth:`Source.span`)."""

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


class Source:
    """A model's text, and how to find the line of an offset, so that a node need only
    keep character offsets. Lines are counted from the last offset asked for while the
    offsets asked for go forward (as a model's statements are read); the first time one
    goes back, where every line starts is found once, and searched from then on."""

    __slots__ = ("text", "_starts", "_at")

    def __init__(self, text: str) -> None:
        self.text = text
        self._starts: list[int] | None = None
        self._at = (0, 1, 0)  # the last offset asked for, its line, and where that line starts

    def _line(self, offset: int) -> tuple[int, int]:
        """The line of ``offset`` (lines end at ``\n``, as lark counts) and where it starts."""
        starts = self._starts
        if starts is None:
            at, line, line_start = self._at
            if offset >= at:
                text = self.text
                line += text.count("\n", at, offset)
                newline = text.rfind("\n", at, offset)
                if newline >= 0:
                    line_start = newline + 1
                self._at = (offset, line, line_start)
                return line, line_start
            # offsets where lines start: 0, then one past each "\n"
            starts = list(accumulate(map((1).__add__, map(len, self.text.split("\n"))), initial=0))
            starts.pop()
            self._starts = starts
        line = bisect_right(starts, offset)
        return line, starts[line - 1]

    def span(self, start: int, end: int) -> Span:
        """The lines and columns of ``text[start:end]``."""
        line, line_start = self._line(start)
        end_line, end_start = self._line(end)
        return _tuple_new(Span, (line, start - line_start + 1, end_line, end - end_start + 1, start, end))


# ---------------------------------------------------------------- expressions
#
# An expression node is an immutable tuple ``(source, start, end, fields...)``: a large
# model has millions, and a tuple is made several times faster than a frozen dataclass.
# Nodes compare and hash by identity (trees may be deep); ``span`` is made on demand.


class Node(tuple):
    """Base of expression nodes: where they are written (``source``, character offsets
    ``start:end``) and their fields (:attr:`FIELDS`). Compared and hashed by identity."""

    __slots__ = ()
    #: the names of the fields after ``source, start, end``
    FIELDS: ClassVar[tuple[str, ...]] = ()
    __hash__ = object.__hash__
    __eq__ = object.__eq__
    __ne__ = object.__ne__
    source: Source = property(itemgetter(0))  # type: ignore[assignment]
    start: int = property(itemgetter(1))  # type: ignore[assignment]
    end: int = property(itemgetter(2))  # type: ignore[assignment]

    @property
    def span(self) -> Span:
        """Where the node is written."""
        return self[0].span(self[1], self[2])

    def fields(self) -> tuple:
        """The values of :attr:`FIELDS`."""
        return tuple(self[3:])

    def at(self, start: int, end: int) -> Node:
        """This node, written from ``start`` to ``end`` (a parenthesised expression)."""
        return _tuple_new(type(self), (self[0], start, end, *self[3:]))

    def __repr__(self) -> str:
        return f"{type(self).__name__}@{self[1]}:{self[2]}"


class Number(Node):
    """A numeric literal, exactly."""

    __slots__ = ()
    FIELDS = ("value",)
    value: Fraction = property(itemgetter(3))  # type: ignore[assignment]


class Name(Node):
    """A variable, a definition, or one of ``ones``/``eye``."""

    __slots__ = ()
    FIELDS = ("name",)
    name: str = property(itemgetter(3))  # type: ignore[assignment]


class Call(Node):
    """``name(args...)``; the name is written at ``name_start``."""

    __slots__ = ()
    FIELDS = ("name", "name_start", "args")
    name: str = property(itemgetter(3))  # type: ignore[assignment]
    name_start: int = property(itemgetter(4))  # type: ignore[assignment]
    args: tuple[Node, ...] = property(itemgetter(5))  # type: ignore[assignment]

    @property
    def name_span(self) -> Span:
        """Where the function's name is written."""
        return self[0].span(self[4], self[4] + len(self[3]))


class Neg(Node):
    """Unary minus."""

    __slots__ = ()
    FIELDS = ("operand",)
    operand: Node = property(itemgetter(3))  # type: ignore[assignment]


class Binary(Node):
    """``left op right`` for every infix operator, including ``:`` and ``^``; the operator
    is written at ``op_start``."""

    __slots__ = ()
    FIELDS = ("op", "left", "right", "op_start")
    op: str = property(itemgetter(3))  # type: ignore[assignment]
    left: Node = property(itemgetter(4))  # type: ignore[assignment]
    right: Node = property(itemgetter(5))  # type: ignore[assignment]
    op_start: int = property(itemgetter(6))  # type: ignore[assignment]

    @property
    def op_span(self) -> Span:
        """Where the operator is written."""
        return self[0].span(self[6], self[6] + len(self[3]))


class Transpose(Node):
    """A postfix transpose (``'``, ``.T``, ``ᵀ``) or ``^T``."""

    __slots__ = ()
    FIELDS = ("operand",)
    operand: Node = property(itemgetter(3))  # type: ignore[assignment]


# ---------------------------------------------------------------- statements
#
# Statements keep where they are written as offsets too (``source``, ``start``, ``end``);
# ``span`` gives lines and columns when asked.


class _Located:
    """Where a statement or kind is written: ``source.text[start:end]``."""

    __slots__ = ()
    source: Source
    start: int
    end: int

    @property
    def span(self) -> Span:
        """Where it is written."""
        return self.source.span(self.start, self.end)


@dataclass(frozen=True, slots=True, eq=False)
class Kind(_Located):
    """A declared kind: ``scalar``, ``vector``, ``matrix``, ``symmetric`` or
    ``elementwise``, with its sizes (symbols or positive integers)."""

    name: str
    dims: tuple[dims.Dim, ...]
    source: Source
    start: int
    end: int

    def __str__(self) -> str:
        if not self.dims:
            return self.name
        return f"{self.name}({', '.join(map(str, self.dims))})"


@dataclass(frozen=True, slots=True, eq=False)
class Declaration(_Located):
    """``NAME[, NAME...]: KIND``."""

    names: tuple[Name, ...]
    kind: Kind
    source: Source
    start: int
    end: int


@dataclass(frozen=True, slots=True, eq=False)
class Assign(_Located):
    """``NAME = EXPR``."""

    target: Name
    expr: Node
    source: Source
    start: int
    end: int


@dataclass(frozen=True, slots=True, eq=False)
class FunctionDef(_Located):
    """``NAME(PARAM) = EXPR``: a scalar function by formula, applied entry-wise."""

    name: Name
    param: Name
    body: Node
    source: Source
    start: int
    end: int


@dataclass(frozen=True, slots=True, eq=False)
class ExprStatement(_Located):
    """A bare expression (allowed as the model's last statement)."""

    expr: Node
    source: Source
    start: int
    end: int


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

#: The source lark's parser is reading (its callbacks see tokens, not the text).
_READING: ContextVar[Source] = ContextVar("matcalc_reading")


@contextmanager
def reading(text: str) -> Iterator[Source]:
    """While lark's parser reads ``text``: the :class:`Source` its callbacks' nodes point to."""
    source = Source(text)
    token = _READING.set(source)
    try:
        yield source
    finally:
        _READING.reset(token)


def _source() -> Source:
    try:
        return _READING.get()
    except LookupError:
        raise RuntimeError("lark's parser with matcalc's callbacks reads inside reading(text)") from None


class ToSyntax(Transformer):
    """Parser callbacks, one per grammar rule, building the nodes above (inside
    :func:`reading`, which says the text).

    Stateless, so one instance serves every parse.
    """

    def start(self, children: list) -> tuple[Statement, ...]:
        return tuple(children)

    # statements ------------------------------------------------------------

    def assign(self, children: list) -> Assign:
        tok, expr = children
        source = _source()
        target = Name((source, tok.start_pos, tok.end_pos, str(tok)))
        return Assign(target, expr, source, tok.start_pos, expr[2])

    def fundef(self, children: list) -> FunctionDef:
        tok, lpar, args, rpar, body = children
        source = _source()
        name = Name((source, tok.start_pos, tok.end_pos, str(tok)))
        return _function_of(name, _offsets(lpar), args, _offsets(rpar), body, source)

    def exprs(self, children: list) -> Declaration | ExprStatement:
        items = [c for c in children if not isinstance(c, Token)]
        commas = [_offsets(c) for c in children if isinstance(c, Token)]
        return _statement_of(items, commas, _source())

    # expressions -----------------------------------------------------------

    def number(self, children: list) -> Number:
        (tok,) = children
        try:
            value = literal(str(tok))
        except NumberRangeError as err:
            raise error_at(NumberError, err.message, Span.of(tok)) from None
        return Number((_source(), tok.start_pos, tok.end_pos, value))

    def name(self, children: list) -> Name:
        (tok,) = children
        return Name((_source(), tok.start_pos, tok.end_pos, str(tok)))

    def call(self, children: list) -> Call:
        name, _lpar, args, rpar = children
        return Call((_source(), name.start_pos, rpar.end_pos, str(name), name.start_pos, tuple(args or ())))

    def args(self, children: list) -> list[Node]:
        return [c for c in children if not isinstance(c, Token)]

    def paren(self, children: list) -> Node:
        lpar, inner, rpar = children
        return inner.at(lpar.start_pos, rpar.end_pos)

    def neg(self, children: list) -> Neg:
        minus, operand = children
        return Neg((_source(), minus.start_pos, operand[2], operand))

    def pos(self, children: list) -> Node:
        plus, operand = children
        return operand.at(plus.start_pos, operand[2])

    def binop(self, children: list) -> Node:
        left, tok, right = children
        return fast_binary(left, _offsets(tok), right, _source())

    def transpose(self, children: list) -> Transpose:
        operand, tick = children
        return Transpose((_source(), operand[1], tick.end_pos, operand))


def _offsets(tok: Token) -> tuple[int, int]:
    return (tok.start_pos, tok.end_pos)


def _function_of(name: Name, lpar: tuple[int, int], args: list | None, rpar: tuple[int, int],
                 body: Node, source: Source) -> FunctionDef:
    """``name(args) = body``: a function definition, if ``args`` is one parameter name
    (``lpar``, ``rpar``: where the parentheses are)."""
    params = tuple(args or ())
    if len(params) != 1 or not isinstance(params[0], Name):
        where = params[0].span if len(params) == 1 else source.span(lpar[0], rpar[1])
        raise error_at(
            DefinitionError,
            f"a function is defined with one parameter name, as in {name.name}(u) = u / (1 + abs(u))",
            where,
        )
    return FunctionDef(name, params[0], body, source, name[1], body[2])


def _statement_of(items: list[Node], commas: list[tuple[int, int]], source: Source
                  ) -> Declaration | ExprStatement:
    """``items`` separated by ``commas`` (their offsets): a declaration, or a bare expression."""
    last = items[-1]
    start, end = items[0][1], last[2]
    if _looks_like_declaration(last):
        for item in (*items[:-1], last.left):
            if not isinstance(item, Name):
                raise error_at(
                    MatcalcSyntaxError,
                    "only names can be declared (NAME, NAME, ...: KIND)",
                    item.span,
                )
        names = (*items[:-1], last.left)
        return Declaration(names, _kind(last.right), source, start, end)
    if commas:
        raise error_at(
            MatcalcSyntaxError,
            f"a list separated by ',' is only allowed in a declaration "
            f"'NAME, NAME: KIND' where KIND is {KIND_HELP}",
            source.span(*commas[0]),
        )
    return ExprStatement(last, source, start, end)


def _width(node: Node) -> int:
    return node[2] - node[1]


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
    return Kind(e.name, tuple(_dim(a) for a in args), e[0], e[1], e[2])


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


# ---------------------------------------------------------------- the fast reader's builders
#
# The fast reader (matcalc.lalr) runs lark's LALR table itself and builds nodes with
# these functions instead of lark's callbacks: a token is its offsets ``(start, end)``
# (its text is ``source.text[start:end]``). Each function makes exactly what the
# ToSyntax method of its rule makes (tests/test_lalr.py compares them).


def _fast_name(c: list, source: Source) -> Name:
    start, end = c[0]
    return Name((source, start, end, source.text[start:end]))


def _fast_binop(c: list, source: Source) -> Node:
    return fast_binary(c[0], c[1], c[2], source)


def fast_binary(left: Node, tok: tuple[int, int], right: Node, source: Source) -> Node:
    """``left op right`` as a node (``x^T`` as a transpose), ``tok`` the operator's offsets."""
    start, end = tok
    op = source.text[start:end]
    if op == "^" and type(right) is Name and right[3] == "T" and right[2] - right[1] == 1:
        return Transpose((source, left[1], right[2], left))
    return Binary((source, left[1], right[2], op, left, right, start))


def _fast_transpose(c: list, source: Source) -> Transpose:
    operand, tick = c
    return Transpose((source, operand[1], tick[1], operand))


def _fast_neg(c: list, source: Source) -> Neg:
    minus, operand = c
    return Neg((source, minus[0], operand[2], operand))


def _fast_pos(c: list, source: Source) -> Node:
    plus, operand = c
    return operand.at(plus[0], operand[2])


def _fast_number(c: list, source: Source) -> Number:
    start, end = c[0]
    try:
        value = literal(source.text[start:end])
    except NumberRangeError as err:
        raise error_at(NumberError, err.message, source.span(start, end)) from None
    return Number((source, start, end, value))


def _fast_call(c: list, source: Source) -> Call:
    name, _lpar, args, rpar = c if len(c) == 4 else (c[0], c[1], None, c[2])
    return Call((source, name[0], rpar[1], source.text[name[0]:name[1]], name[0], tuple(args or ())))


def _fast_paren(c: list, source: Source) -> Node:
    lpar, inner, rpar = c
    return inner.at(lpar[0], rpar[1])


class _Items(list):
    """``expr (COMMA expr)*`` being read: the expressions, and the offsets of the commas."""

    __slots__ = ("commas",)


def _fast_more(c: list, source: Source) -> _Items:
    if len(c) == 2:  # COMMA expr
        items = _Items()
        items.commas = []
        comma, expr = c
    else:  # more COMMA expr
        items, comma, expr = c
    items.commas.append(comma)
    items.append(expr)
    return items


def _fast_exprs(c: list, source: Source) -> Declaration | ExprStatement:
    items = [c[0], *c[1]] if len(c) == 2 else [c[0]]
    commas = c[1].commas if len(c) == 2 else []
    return _statement_of(items, commas, source)


def _fast_args(c: list, source: Source) -> list[Node]:
    return [c[0], *c[1]] if len(c) == 2 else [c[0]]


def _fast_assign(c: list, source: Source) -> Assign:
    tok, _equal, expr = c
    target = _fast_name([tok], source)
    return Assign(target, expr, source, tok[0], expr[2])


def _fast_fundef(c: list, source: Source) -> FunctionDef:
    if len(c) == 6:
        tok, lpar, args, rpar, _equal, body = c
    else:
        (tok, lpar, rpar, _equal, body), args = c, None
    return _function_of(_fast_name([tok], source), lpar, args, rpar, body, source)


def _fast_start_more(c: list, source: Source) -> list:
    if len(c) == 1:  # _sep
        return []
    if len(c) == 2:  # _statement _sep   or   more _sep
        return [c[0]] if type(c[0]) is not list else c[0]
    statements = c[0]  # more _statement _sep
    statements.append(c[1])
    return statements


def _fast_start(c: list, source: Source) -> tuple[Statement, ...]:
    if len(c) == 2:
        return (*c[0], c[1])
    if len(c) == 1:
        return tuple(c[0]) if type(c[0]) is list else (c[0],)
    return ()


def _fast_drop(c: list, source: Source) -> None:
    return None


def _fast_one(c: list, source: Source):
    return c[0]


#: The builder of each rule, by the rule's name (its alias, if it has one) and the
#: symbols of its expansion. A grammar rule missing here makes lark read every text.
FAST_BUILDERS: dict[tuple[str, tuple[str, ...]], Callable[[list, Source], object]] = {
    ("start", ("__start_star_0", "_statement")): _fast_start,
    ("start", ("__start_star_0",)): _fast_start,
    ("start", ("_statement",)): _fast_start,
    ("start", ()): _fast_start,
    ("__start_star_0", ("_statement", "_sep")): _fast_start_more,
    ("__start_star_0", ("_sep",)): _fast_start_more,
    ("__start_star_0", ("__start_star_0", "_statement", "_sep")): _fast_start_more,
    ("__start_star_0", ("__start_star_0", "_sep")): _fast_start_more,
    ("_sep", ("_NL",)): _fast_drop,
    ("_sep", ("SEMICOLON",)): _fast_drop,
    ("_statement", ("assign",)): _fast_one,
    ("_statement", ("fundef",)): _fast_one,
    ("_statement", ("exprs",)): _fast_one,
    ("assign", ("NAME", "EQUAL", "expr")): _fast_assign,
    ("fundef", ("NAME", "LPAR", "args", "RPAR", "EQUAL", "expr")): _fast_fundef,
    ("fundef", ("NAME", "LPAR", "RPAR", "EQUAL", "expr")): _fast_fundef,
    ("exprs", ("expr", "__exprs_star_1")): _fast_exprs,
    ("exprs", ("expr",)): _fast_exprs,
    ("binop", ("expr", "COLON", "sum")): _fast_binop,
    ("binop", ("sum", "PLUS", "product")): _fast_binop,
    ("binop", ("sum", "MINUS", "product")): _fast_binop,
    ("binop", ("product", "MULOP", "unary")): _fast_binop,
    ("binop", ("atom", "POWOP", "unary")): _fast_binop,
    ("neg", ("MINUS", "unary")): _fast_neg,
    ("pos", ("PLUS", "unary")): _fast_pos,
    ("number", ("NUMBER",)): _fast_number,
    ("name", ("NAME",)): _fast_name,
    ("call", ("NAME", "LPAR", "args", "RPAR")): _fast_call,
    ("call", ("NAME", "LPAR", "RPAR")): _fast_call,
    ("paren", ("LPAR", "expr", "RPAR")): _fast_paren,
    ("transpose", ("atom", "TRANSPOSE")): _fast_transpose,
    ("args", ("expr", "__exprs_star_1")): _fast_args,
    ("args", ("expr",)): _fast_args,
    ("__exprs_star_1", ("COMMA", "expr")): _fast_more,
    ("__exprs_star_1", ("__exprs_star_1", "COMMA", "expr")): _fast_more,
}
