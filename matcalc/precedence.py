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

from .dims import Dim, symbol
from .errors import MatcalcError
from .lalr import MORE, FastParser, NotFast
from .syntax import (
    KINDS,
    Assign,
    Binary,
    Call,
    Declaration,
    Kind,
    Name,
    Neg,
    Node,
    Source,
    Statement,
    Transpose,
    _fast_number,
    _function_of,
    _statement_of,
    fast_binary,
    reading,
)

_intern = sys.intern
NAME, NUMBER, LPAR, RPAR, COMMA, EQUAL = map(_intern, ("NAME", "NUMBER", "LPAR", "RPAR", "COMMA", "EQUAL"))
PLUS, MINUS, MULOP, POWOP, COLON, TRANSPOSE = map(
    _intern, ("PLUS", "MINUS", "MULOP", "POWOP", "COLON", "TRANSPOSE")
)
NEWLINE, SEMICOLON, END = map(_intern, ("_NL", "SEMICOLON", "$END"))
#: Runs of operators and plain names read as one token (``grammar.TOKEN_RUNS``)
PRODUCT_RUN, SUM_RUN = map(_intern, ("PRODUCT_RUN", "SUM_RUN"))
#: After a name, the tokens that make it more than a factor of a product on its own
#: (a call, a transpose, a power) …
_NAME_GOES_ON = frozenset((LPAR, TRANSPOSE, POWOP))
#: … and more than a term of a sum on its own (also a product; the end of a part of the
#: tokens is before an infix operator, which may be a product's)
_TERM_GOES_ON = _NAME_GOES_ON | {MULOP, PRODUCT_RUN, MORE}
#: How many tokens are read at a time (at least: up to the end of a statement)
_PART = 20_000
#: The tokens that end a statement
_STATEMENT_ENDS = frozenset((NEWLINE, SEMICOLON, END))
#: The text of the operators of one spelling
_OP_TEXT = {PLUS: "+", MINUS: "-"}


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
            with reading(text):
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
        tokens = self.table.tokens
        kinds, spans = tokens(text, 0, _PART)
        source = Source(text)
        i = 0
        symbols: dict[str, Dim] = {}  # the sizes declarations name, each made once

        def more() -> None:
            """The next part of the tokens; ``i`` at the :data:`MORE` that ends this one."""
            nonlocal i, kinds, spans
            pos, depth = spans[i]
            kinds, spans = tokens(text, pos, _PART, depth)
            i = 0

        pieces = self.table.run_pieces
        read_whole = self.table.statement_groups  # (the forms of declarations: grammar.py)
        match_statement = self.table.statement_start

        def run(left: Node) -> Node:
            """``left`` and the run of operators and plain (or once transposed) names at
            ``i`` after it, as the nodes of a chain of infix operators."""
            nonlocal i
            pos, end = spans[i]
            piece = pieces[kinds[i]]
            i += 1
            for skipped, op, blank, name, before, post in piece.findall(text, pos, end):
                if skipped:  # (most operators follow their operand at once: no new offset)
                    pos += len(skipped)
                op_start = pos
                start = pos + len(op)
                if blank:
                    start += len(blank)
                pos = start + len(name)
                right = Name((source, start, pos, name))
                if post:  # a name transposed, Bᵀ
                    pos += len(before) + len(post)
                    right = Transpose((source, start, pos, right))
                left = Binary((source, left[1], pos, op, left, right, op_start))
            return left

        def plain_name(goes_on: frozenset[str]) -> Name | None:
            """The name at ``i`` when the token after it is not one of ``goes_on`` (which
            would make it more than a name: a call, a transpose, a power, a product)."""
            nonlocal i
            if kinds[i] is not NAME or kinds[i + 1] in goes_on:
                return None
            start, end = spans[i]
            i += 1
            return Name((source, start, end, text[start:end]))

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
                start, end = spans[i]
                i += 1
                if kind is NAME:
                    if kinds[i] is LPAR:
                        args = arguments()
                        rpar = spans[i][1]
                        i += 1
                        node = Call((source, start, rpar, text[start:end], start, tuple(args or ())))
                    else:
                        node = Name((source, start, end, text[start:end]))
                elif kind is NUMBER:
                    node = _fast_number([(start, end)], source)
                elif kind is LPAR:
                    inner = expr(None)
                    if kinds[i] is not RPAR:
                        raise NotFast("')' expected")
                    node = inner.at(start, spans[i][1])
                    i += 1
                else:
                    raise NotFast("an operand expected")
            while kinds[i] is TRANSPOSE:
                node = Transpose((source, node[1], spans[i][1], node))
                i += 1
            return node

        def unary(first: Node | None) -> Node:
            nonlocal i
            if first is None:
                kind = kinds[i]
                if kind is MINUS:
                    minus = spans[i][0]
                    i += 1
                    operand = unary(None)
                    return Neg((source, minus, operand[2], operand))
                if kind is PLUS:
                    plus = spans[i][0]
                    i += 1
                    operand = unary(None)
                    return operand.at(plus, operand[2])
            base = atom(first)
            if kinds[i] is POWOP:
                tok = spans[i]
                i += 1
                return fast_binary(base, tok, unary(None), source)
            return base

        def product(first: Node | None) -> Node:
            nonlocal i
            left = (first is None and plain_name(_NAME_GOES_ON)) or unary(first)
            while True:
                kind = kinds[i]
                if kind is not MULOP:
                    if kind is PRODUCT_RUN:
                        left = run(left)
                        continue
                    if kind is not MORE:
                        break
                    more()  # (a part of the tokens ends before an infix operator)
                    continue
                op_start, op_end = spans[i]
                i += 1
                if kinds[i] is NAME and kinds[i + 1] not in _NAME_GOES_ON:  # a plain name
                    start, end = spans[i]
                    i += 1
                    right = Name((source, start, end, text[start:end]))
                elif kinds[i] is NAME and kinds[i + 1] is TRANSPOSE and kinds[i + 2] not in _NAME_GOES_ON:
                    start, end = spans[i]  # a name transposed once, Aᵀ
                    name = Name((source, start, end, text[start:end]))
                    right = Transpose((source, start, spans[i + 1][1], name))
                    i += 2
                else:
                    right = unary(None)
                left = Binary((source, left[1], right[2], text[op_start:op_end], left, right, op_start))
            return left

        def total(first: Node | None) -> Node:
            nonlocal i
            left = (first is None and plain_name(_TERM_GOES_ON)) or product(first)
            while True:
                kind = kinds[i]
                if kind is not PLUS and kind is not MINUS:
                    if kind is SUM_RUN:
                        left = run(left)
                        continue
                    if kind is not MORE:
                        break
                    more()  # (a part of the tokens ends before an infix operator)
                    continue
                op_start = spans[i][0]
                i += 1
                if kinds[i] is NAME and kinds[i + 1] not in _TERM_GOES_ON:  # a plain name
                    start, end = spans[i]
                    i += 1
                    right = Name((source, start, end, text[start:end]))
                else:
                    right = product(None)
                left = Binary((source, left[1], right[2], _OP_TEXT[kind], left, right, op_start))
            return left

        def expr(first: Node | None) -> Node:
            nonlocal i
            left = total(first)
            while kinds[i] is COLON:
                tok = spans[i]
                i += 1
                left = fast_binary(left, tok, total(None), source)
            return left

        def declared(name: tuple[int, int], word: tuple[int, int], sizes: list[tuple[int, int]],
                     end: int) -> Declaration:
            """``NAME: KIND`` from the offsets of its name, kind's word and sizes (names)."""
            dims = []
            for start, stop in sizes:
                size_name = text[start:stop]
                size = symbols.get(size_name)
                if size is None:
                    size = symbols[size_name] = symbol(size_name)
                dims.append(size)
            start, stop = name
            word_start, word_end = word
            return Declaration((Name((source, start, stop, text[start:stop])),),
                               Kind(text[word_start:word_end], tuple(dims), source, word_start, end),
                               source, start, end)

        def declaration() -> Declaration | None:
            """``NAME: KIND`` whose sizes are names (``W: matrix(m, n)``, the commonest
            declaration) read at once; ``None`` for any other (read as an expression, which
            finds its mistakes). ``i`` at the name."""
            nonlocal i
            j = i + 2
            if kinds[j] is not NAME:
                return None
            word = spans[j]
            want = KINDS.get(text[word[0]:word[1]])
            if want is None:
                return None
            end = word[1]
            j += 1
            sizes = []
            if want:
                if kinds[j] is not LPAR:
                    return None
                j += 1
                while kinds[j] is NAME:
                    sizes.append(spans[j])
                    j += 1
                    if kinds[j] is not COMMA:
                        break
                    j += 1
                if kinds[j] is not RPAR or len(sizes) != want:
                    return None
                end = spans[j][1]
                j += 1
            if kinds[j] not in _STATEMENT_ENDS:
                return None
            name = spans[i]
            i = j
            return declared(name, word, sizes, end)

        def statement() -> Statement:
            nonlocal i
            groups = read_whole.get(kinds[i])
            if groups is not None:  # a declaration read in one match (its groups: name,
                # colon, word, then "(", sizes and commas between them, and ")")
                match = match_statement(text, spans[i][0])
                i += 1
                return declared(match.span(groups[0]), match.span(groups[2]),
                                [match.span(g) for g in groups[4::2]], match.end(groups[-1]))
            first = None
            if kinds[i] is NAME:
                following = kinds[i + 1]
                if following is COLON:
                    read = declaration()
                    if read is not None:
                        return read
                if following is EQUAL:  # NAME = expr
                    start, end = spans[i]
                    i += 2
                    value = expr(None)
                    target = Name((source, start, end, text[start:end]))
                    return Assign(target, value, source, start, value[2])
                if following is LPAR:  # NAME(args) = expr, or a call that starts an expression
                    start, end = spans[i]
                    i += 1
                    lpar = spans[i]
                    args = arguments()
                    rpar = spans[i]
                    i += 1
                    if kinds[i] is EQUAL:
                        i += 1
                        body = expr(None)
                        name = Name((source, start, end, text[start:end]))
                        return _function_of(name, lpar, args, rpar, body, source)
                    first = Call((source, start, rpar[1], text[start:end], start, tuple(args or ())))
            items = [expr(first)]
            commas = []
            while kinds[i] is COMMA:
                commas.append(spans[i])
                i += 1
                items.append(expr(None))
            return _statement_of(items, commas, source)

        statements: list[Statement] = []
        while True:
            kind = kinds[i]
            if kind is NEWLINE or kind is SEMICOLON:
                i += 1
                continue
            if kind is MORE:  # the next statements' tokens
                more()
                continue
            if kind is END:
                return tuple(statements)
            statements.append(statement())
            kind = kinds[i]
            if kind is NEWLINE or kind is SEMICOLON:
                i += 1
            elif kind is not END:
                raise NotFast("the end of the statement expected")
