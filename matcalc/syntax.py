"""Surface syntax: what the user wrote, as small immutable nodes with source positions.

The parser's callbacks (:class:`ToSyntax`) build these while parsing; kinds and
shapes are given to them later, by :mod:`matcalc.infer`.
"""

from __future__ import annotations

from collections.abc import Callable
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
        return _function_of(name, Span.of(lpar), args, Span.of(rpar), body)

    def exprs(self, children: list) -> Declaration | ExprStatement:
        items = [c for c in children if not isinstance(c, Token)]
        commas = [Span.of(c) for c in children if isinstance(c, Token)]
        return _statement_of(items, commas)

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


def _function_of(name: Name, lpar: Span, args: list | None, rpar: Span, body: Node) -> FunctionDef:
    """``name(args) = body``: a function definition, if ``args`` is one parameter name."""
    params = tuple(args or ())
    if len(params) != 1 or not isinstance(params[0], Name):
        where = params[0].span if len(params) == 1 else lpar.to(rpar)
        raise error_at(
            DefinitionError,
            f"a function is defined with one parameter name, as in {name.name}(u) = u / (1 + abs(u))",
            where,
        )
    return FunctionDef(name, params[0], body, name.span.to(body.span))


def _statement_of(items: list[Node], commas: list[Span]) -> Declaration | ExprStatement:
    """``items`` separated by ``commas``: a declaration, or a bare expression."""
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
            commas[0],
        )
    return ExprStatement(last, span)


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


# ---------------------------------------------------------------- the fast reader's builders
#
# The fast reader (matcalc.lalr) runs lark's LALR table itself and builds nodes with
# these functions instead of lark's callbacks: a token is its Span (its text is
# ``text[span.start:span.end]``), and nodes are made without the frozen dataclasses'
# __init__ (which sets each field through object.__setattr__). Each function makes
# exactly what the ToSyntax method of its rule makes (tests/test_lalr.py compares them).

_new = object.__new__
_set_span = Node.span.__set__
_set_name = Name.name.__set__
_set_op, _set_left, _set_right, _set_op_span = (
    Binary.op.__set__, Binary.left.__set__, Binary.right.__set__, Binary.op_span.__set__
)
_set_operand = Transpose.operand.__set__
_set_neg_operand = Neg.operand.__set__


def _fast_name(c: list, text: str) -> Name:
    span = c[0]
    node = _new(Name)
    _set_span(node, span)
    _set_name(node, text[span[4]:span[5]])
    return node


def _fast_binop(c: list, text: str) -> Node:
    return fast_binary(c[0], c[1], c[2], text)


def fast_binary(left: Node, tok: Span, right: Node, text: str) -> Node:
    """``left op right`` as a node (``x^T`` as a transpose), ``tok`` the operator's span."""
    ls, rs = left.span, right.span
    span = _tuple_new(Span, (ls[0], ls[1], rs[2], rs[3], ls[4], rs[5]))
    op = text[tok[4]:tok[5]]
    if op == "^" and type(right) is Name and right.name == "T" and rs[5] - rs[4] == 1:
        node = _new(Transpose)
        _set_span(node, span)
        _set_operand(node, left)
        return node
    node = _new(Binary)
    _set_span(node, span)
    _set_op(node, op)
    _set_left(node, left)
    _set_right(node, right)
    _set_op_span(node, tok)
    return node


def _fast_transpose(c: list, text: str) -> Transpose:
    operand, tick = c
    s = operand.span
    node = _new(Transpose)
    _set_span(node, _tuple_new(Span, (s[0], s[1], tick[2], tick[3], s[4], tick[5])))
    _set_operand(node, operand)
    return node


def _fast_neg(c: list, text: str) -> Neg:
    minus, operand = c
    node = _new(Neg)
    _set_span(node, minus.to(operand.span))
    _set_neg_operand(node, operand)
    return node


def _fast_pos(c: list, text: str) -> Node:
    plus, operand = c
    return replace(operand, span=plus.to(operand.span))


def _fast_number(c: list, text: str) -> Number:
    span = c[0]
    try:
        value = literal(text[span[4]:span[5]])
    except NumberRangeError as err:
        raise error_at(NumberError, err.message, span) from None
    return Number(span, value)


def _fast_call(c: list, text: str) -> Call:
    name, _lpar, args, rpar = c if len(c) == 4 else (c[0], c[1], None, c[2])
    return Call(name.to(rpar), text[name[4]:name[5]], name, tuple(args or ()))


def _fast_paren(c: list, text: str) -> Node:
    lpar, inner, rpar = c
    return replace(inner, span=lpar.to(rpar))


class _Items(list):
    """``expr (COMMA expr)*`` being read: the expressions, and the spans of the commas."""

    __slots__ = ("commas",)


def _fast_more(c: list, text: str) -> _Items:
    if len(c) == 2:  # COMMA expr
        items = _Items()
        items.commas = []
        comma, expr = c
    else:  # more COMMA expr
        items, comma, expr = c
    items.commas.append(comma)
    items.append(expr)
    return items


def _fast_exprs(c: list, text: str) -> Declaration | ExprStatement:
    items = [c[0], *c[1]] if len(c) == 2 else [c[0]]
    commas = c[1].commas if len(c) == 2 else []
    return _statement_of(items, commas)


def _fast_args(c: list, text: str) -> list[Node]:
    return [c[0], *c[1]] if len(c) == 2 else [c[0]]


def _fast_assign(c: list, text: str) -> Assign:
    tok, _equal, expr = c
    target = _fast_name([tok], text)
    return Assign(target, expr, tok.to(expr.span))


def _fast_fundef(c: list, text: str) -> FunctionDef:
    if len(c) == 6:
        tok, lpar, args, rpar, _equal, body = c
    else:
        (tok, lpar, rpar, _equal, body), args = c, None
    return _function_of(_fast_name([tok], text), lpar, args, rpar, body)


def _fast_start_more(c: list, text: str) -> list:
    if len(c) == 1:  # _sep
        return []
    if len(c) == 2:  # _statement _sep   or   more _sep
        return [c[0]] if type(c[0]) is not list else c[0]
    statements = c[0]  # more _statement _sep
    statements.append(c[1])
    return statements


def _fast_start(c: list, text: str) -> tuple[Statement, ...]:
    if len(c) == 2:
        return (*c[0], c[1])
    if len(c) == 1:
        return tuple(c[0]) if type(c[0]) is list else (c[0],)
    return ()


def _fast_drop(c: list, text: str) -> None:
    return None


def _fast_one(c: list, text: str):
    return c[0]


#: The builder of each rule, by the rule's name (its alias, if it has one) and the
#: symbols of its expansion. A grammar rule missing here makes lark read every text.
FAST_BUILDERS: dict[tuple[str, tuple[str, ...]], Callable[[list, str], object]] = {
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
