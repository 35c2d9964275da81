"""The lark grammar of the input language and the one LALR parser built from it (with
the fast reader of :mod:`matcalc.lalr` running lark's table)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from lark import Lark, Token
from lark.lark import PostLex

_HERE = Path(__file__).resolve().parent
#: Where the grammar lives: next to the package in a wheel, in grammar/ in a checkout.
GRAMMAR_PATHS: tuple[Path, ...] = (
    _HERE / "matcalc.lark",
    _HERE.parent / "grammar" / "matcalc.lark",
)


def grammar_text() -> str:
    """The text of ``matcalc.lark``, from the installed package or the source tree."""
    for path in GRAMMAR_PATHS:
        if path.is_file():
            return path.read_text(encoding="utf-8")
    tried = ", ".join(str(p) for p in GRAMMAR_PATHS)
    raise FileNotFoundError(f"matcalc grammar not found (looked in {tried})")


class NewlinesInParens(PostLex):
    """Drops new-line tokens inside parentheses, so a bracketed expression may span lines."""

    always_accept = ("_NL",)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        depth = 0
        for tok in stream:
            if tok.type == "LPAR":
                depth += 1
            elif tok.type == "RPAR":
                depth = max(0, depth - 1)
            elif tok.type == "_NL" and depth:
                continue
            yield tok


@lru_cache(maxsize=1)
def parser() -> Lark:
    """The LALR parser; its callbacks build :mod:`matcalc.syntax` nodes while parsing."""
    from .syntax import ToSyntax

    return Lark(
        grammar_text(),
        parser="lalr",
        lexer="contextual",
        postlex=NewlinesInParens(),
        # Positions come from the tokens the callbacks receive; lark's own
        # position propagation only annotates Tree nodes, which this parser never builds.
        propagate_positions=False,
        maybe_placeholders=True,
        transformer=ToSyntax(),
    )


#: Two tokens the tokenizer reads in one match: an infix operator and the name after it
#: (in ``W*x``, ``h + y``, ``a - b`` every operator is followed by a name).
TOKEN_PAIRS = (("MULOP", "NAME"), ("PLUS", "NAME"), ("MINUS", "NAME"))


#: Infix operators a part of a text's tokens may end before (after one of ``OPERAND_ENDS``):
#: :meth:`matcalc.lalr.FastParser.tokens` reads a long expression a part at a time
TOKEN_SPLITS = ("MULOP", "PLUS", "MINUS")
OPERAND_ENDS = ("NAME", "NUMBER", "RPAR", "TRANSPOSE")

#: Runs of infix operators of one level of precedence read in one match, each operator
#: followed by a plain name (``A*B*C``, ``x + y - z``; a part of a long product or sum):
#: the kind of token a run is given, its operators, its operand, the tokens after a name
#: that make it more than an operand there (a call, a transpose, a power, a product), and
#: the postfix operator a name may have once in a run (``A*Bᵀ*Cᵀ``)
TOKEN_RUNS = (
    ("PRODUCT_RUN", ("MULOP",), "NAME", ("LPAR", "TRANSPOSE", "POWOP"), "TRANSPOSE"),
    ("SUM_RUN", ("PLUS", "MINUS"), "NAME", ("LPAR", "TRANSPOSE", "POWOP", "MULOP"), "TRANSPOSE"),
)


def _declarations() -> tuple:
    """The commonest declarations, ``W: matrix(m, n)``, ``x: vector(n)``, ``a: scalar`` (one
    name, sizes that are names), as forms of statements read in one match."""
    from .syntax import KINDS

    forms = []
    for count in sorted(set(KINDS.values()), reverse=True):
        words = "|".join(sorted(word for word, n in KINDS.items() if n == count))
        sizes = ("LPAR", "NAME", *["COMMA", "NAME"] * (count - 1), "RPAR") if count else ()
        terminals = ("NAME", "COLON", ("NAME", words), *sizes)
        forms.append((f"DECLARATION{count}", terminals, ("_NL", "SEMICOLON")))
    return tuple(forms)


#: Statements read in one match where a statement begins: the kind of token, the terminals
#: (a kind's word matching only the words of its number of sizes), what may follow
TOKEN_STATEMENTS = _declarations()


@lru_cache(maxsize=1)
def table_parser():
    """The fast reader over :func:`parser`'s table; lark's own parser reads texts with errors."""
    from .lalr import FastParser
    from .syntax import FAST_BUILDERS

    return FastParser(parser(), FAST_BUILDERS, pairs=TOKEN_PAIRS, splits=TOKEN_SPLITS,
                      operand_ends=OPERAND_ENDS, runs=TOKEN_RUNS, statements=TOKEN_STATEMENTS)


@lru_cache(maxsize=1)
def fast_parser():
    """The fastest reader: precedence climbing, :func:`table_parser` where it gives up."""
    from .precedence import PrecedenceReader

    return PrecedenceReader(table_parser())


def lark_parse(text: str):
    """The statements of ``text`` read by lark's own parser and matcalc's callbacks (the
    slowest reader, and the one whose errors are the reference)."""
    from .syntax import reading

    with reading(text):
        return parser().parse(text)
