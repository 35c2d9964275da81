"""The fastest reader: precedence climbing over the tokens of :mod:`matcalc.lalr`.

:class:`PrecedenceReader` reads a model by one function per level of precedence
(``:`` < ``+ -`` < ``* / …`` < unary ``-`` < ``^`` < postfix transposes, as in
``grammar/matcalc.lark``), making each node as soon as its parts are read, with the
builders of :mod:`matcalc.syntax`. It spends less per token than running the LALR
table, but it is only a shortcut: on anything it is not sure of — a character no
terminal matches, a token out of place, a node whose builder raises an error, nesting
deeper than Python's stack — it gives up and :class:`~matcalc.lalr.FastParser`
reads the text with lark's table, then lark itself, so every result and every error
is theirs. ``tests/test_lalr.py`` checks that the two readers agree.
"""

from __future__ import annotations

import sys
from dataclasses import replace

from .errors import MatcalcError
from .lalr import FastParser, NotFast
from .syntax import (
    Assign,
    Call,
    Name,
    Neg,
    Node,
    Span,
    Statement,
    Transpose,
    _fast_number,
    _function_of,
    _statement_of,
    fast_binary,
)

_new = object.__new__
_tuple_new = tuple.__new__
_set_span = Node.span.__set__
_set_name = Name.name.__set__
_set_operand = Transpose.operand.__set__
_set_neg_operand = Neg.operand.__set__

_intern = sys.intern
NAME, NUMBER, LPAR, RPAR, COMMA, EQUAL = map(_intern, ("NAME", "NUMBER", "LPAR", "RPAR", "COMMA", "EQUAL"))
PLUS, MINUS, MULOP, POWOP, COLON, TRANSPOSE = map(
    _intern, ("PLUS", "MINUS", "MULOP", "POWOP", "COLON", "TRANSPOSE")
)
NEWLINE, SEMICOLON, END = map(_intern, ("_NL", "SEMICOLON", "$END"))
#: After a name, the tokens that make it more than a factor of a product on its own
#: (a call, a transpose, a power) …
_NAME_GOES_ON = frozenset((LPAR, TRANSPOSE, POWOP))
#: … and more than a term of a sum on its own (also a product)
_TERM_GOES_ON = _NAME_GOES_ON | {MULOP}


class PrecedenceReader:
    """Reads like ``table.run(text)`` (``table``: the LALR reader), faster; ``table`` reads
    whatever this reader gives up on."""

    def __init__(self, table: FastParser) -> None:
        self.table = table
        self.lark = table.lark

    def parse(self, text: str) -> tuple[Statement, ...]:
        """What lark's parser gives for ``text``; lark's own error if the text has one."""
        try:
            return self.run(text)
        except NotFast:
            return self.lark.parse(text)

    def run(self, text: str) -> tuple[Statement, ...]:
        """The statements of ``text``, or :class:`NotFast` where the table reader gives up."""
        try:
            return self.climb(text)
        except (NotFast, MatcalcError, RecursionError):
            return self.table.run(text)

    def climb(self, text: str) -> tuple[Statement, ...]:
        """The statements of ``text`` by precedence climbing; :class:`NotFast` (or the
        error of a builder) where this reader cannot go on."""
        kinds, spans = self.table.tokens(text)
        i = 0

        def binop(left: Node, tok: Span, right: Node) -> Node:
            return fast_binary(left, tok, right, text)

        def arguments() -> list[Node] | None:
            """``( [expr (, expr)*] )`` after a name; ``i`` at the ``(``."""
            nonlocal i
            i += 1
            if kinds[i] is RPAR:
                return None
            args = [expr(None)]
            while kinds[i] is COMMA:
                i += 1
                args.append(expr(None))
            if kinds[i] is not RPAR:
                raise NotFast("')' expected")
            return args

        def atom(first: Node | None) -> Node:
            nonlocal i
            if first is not None:
                node = first
            else:
                kind = kinds[i]
                tok = spans[i]
                i += 1
                if kind is NAME:
                    if kinds[i] is LPAR:
                        args = arguments()
                        rpar = spans[i]
                        i += 1
                        node = Call(tok.to(rpar), text[tok[4]:tok[5]], tok, tuple(args or ()))
                    else:
                        node = _new(Name)
                        _set_span(node, tok)
                        _set_name(node, text[tok[4]:tok[5]])
                elif kind is NUMBER:
                    node = _fast_number([tok], text)
                elif kind is LPAR:
                    inner = expr(None)
                    if kinds[i] is not RPAR:
                        raise NotFast("')' expected")
                    node = replace(inner, span=tok.to(spans[i]))
                    i += 1
                else:
                    raise NotFast("an operand expected")
            while kinds[i] is TRANSPOSE:
                tick = spans[i]
                i += 1
                s = node.span
                operand, node = node, _new(Transpose)
                _set_span(node, _tuple_new(Span, (s[0], s[1], tick[2], tick[3], s[4], tick[5])))
                _set_operand(node, operand)
            return node

        def unary(first: Node | None) -> Node:
            nonlocal i
            if first is None:
                kind = kinds[i]
                if kind is MINUS:
                    minus = spans[i]
                    i += 1
                    operand = unary(None)
                    node = _new(Neg)
                    _set_span(node, minus.to(operand.span))
                    _set_neg_operand(node, operand)
                    return node
                if kind is PLUS:
                    plus = spans[i]
                    i += 1
                    operand = unary(None)
                    return replace(operand, span=plus.to(operand.span))
            base = atom(first)
            if kinds[i] is POWOP:
                tok = spans[i]
                i += 1
                return binop(base, tok, unary(None))
            return base

        def product(first: Node | None) -> Node:
            nonlocal i
            left = unary(first)
            while kinds[i] is MULOP:
                tok = spans[i]
                i += 1
                if kinds[i] is NAME and kinds[i + 1] not in _NAME_GOES_ON:  # a plain name
                    name = spans[i]
                    i += 1
                    right = _new(Name)
                    _set_span(right, name)
                    _set_name(right, text[name[4]:name[5]])
                    left = binop(left, tok, right)
                else:
                    left = binop(left, tok, unary(None))
            return left

        def total(first: Node | None) -> Node:
            nonlocal i
            left = product(first)
            kind = kinds[i]
            while kind is PLUS or kind is MINUS:
                tok = spans[i]
                i += 1
                if kinds[i] is NAME and kinds[i + 1] not in _TERM_GOES_ON:  # a plain name
                    name = spans[i]
                    i += 1
                    right = _new(Name)
                    _set_span(right, name)
                    _set_name(right, text[name[4]:name[5]])
                    left = binop(left, tok, right)
                else:
                    left = binop(left, tok, product(None))
                kind = kinds[i]
            return left

        def expr(first: Node | None) -> Node:
            nonlocal i
            left = total(first)
            while kinds[i] is COLON:
                tok = spans[i]
                i += 1
                left = binop(left, tok, total(None))
            return left

        def statement() -> Statement:
            nonlocal i
            first = None
            if kinds[i] is NAME:
                following = kinds[i + 1]
                if following is EQUAL:  # NAME = expr
                    tok = spans[i]
                    i += 2
                    value = expr(None)
                    target = _new(Name)
                    _set_span(target, tok)
                    _set_name(target, text[tok[4]:tok[5]])
                    return Assign(target, value, tok.to(value.span))
                if following is LPAR:  # NAME(args) = expr, or a call that starts an expression
                    tok = spans[i]
                    i += 1
                    lpar = spans[i]
                    args = arguments()
                    rpar = spans[i]
                    i += 1
                    if kinds[i] is EQUAL:
                        i += 1
                        body = expr(None)
                        name = _new(Name)
                        _set_span(name, tok)
                        _set_name(name, text[tok[4]:tok[5]])
                        return _function_of(name, lpar, args, rpar, body)
                    first = Call(tok.to(rpar), text[tok[4]:tok[5]], tok, tuple(args or ()))
            items = [expr(first)]
            commas = []
            while kinds[i] is COMMA:
                commas.append(spans[i])
                i += 1
                items.append(expr(None))
            return _statement_of(items, commas)

        statements: list[Statement] = []
        while True:
            kind = kinds[i]
            if kind is NEWLINE or kind is SEMICOLON:
                i += 1
                continue
            if kind is END:
                return tuple(statements)
            statements.append(statement())
            kind = kinds[i]
            if kind is NEWLINE or kind is SEMICOLON:
                i += 1
            elif kind is not END:
                raise NotFast("the end of the statement expected")

