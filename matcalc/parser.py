"""``parse(text)``: model text in, typed :class:`~matcalc.model.Model` out."""

from __future__ import annotations

import gc
import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager

from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from .convention import DEFAULT, add_scalar_hint, convention_name
from .depth import deep_recursion
from .errors import MatcalcError, MatcalcSyntaxError, excerpt
from .grammar import fast_parser
from .infer import infer_model
from .model import Model
from .syntax import Statement

#: How the parser's terminals read in "expected ..." messages.
TERMINAL_WORDS: dict[str, str] = {
    "NAME": "a name",
    "NUMBER": "a number",
    "LPAR": "'('",
    "RPAR": "')'",
    "MINUS": "'-'",
    "PLUS": "'+'",
    "MULOP": "'*'",
    "POWOP": "'^'",
    "COLON": "':'",
    "TRANSPOSE": "a transpose (')",
    "COMMA": "','",
    "EQUAL": "'='",
    "SEMICOLON": "';'",
    "_NL": "a new line",
    "$END": "the end of the input",
}
_OPERAND = ("NAME", "NUMBER", "LPAR", "MINUS")
_OPERATORS = ("PLUS", "MINUS", "MULOP", "POWOP", "COLON", "TRANSPOSE")
_END = ("_NL", "SEMICOLON", "$END")

#: Recursion allowed while building a model (deep trees are walked iteratively,
#: but the smart constructors recurse into their operands).
RECURSION_LIMIT = 20_000


def parse(text: str, convention: str | None = None) -> Model:
    """The model written in ``text``.

    The text is read in Unicode normal form NFC (an ``e`` followed by a combining
    accent is the letter ``é``); lines and columns of errors count characters of
    the normalised text. Raises a :class:`~matcalc.errors.MatcalcError` subclass,
    located at a line and column of ``text``, for anything that is not a valid model.
    Undeclared names get their kinds by ``convention``: ``"matcalc"`` (the default)
    or ``"matrixcalculus"`` (``"mc"``), see :mod:`matcalc.convention`.
    """
    convention = convention_name(convention)
    text = unicodedata.normalize("NFC", text)
    with deep_recursion(RECURSION_LIMIT), _gc_paused():
        try:
            statements = parse_statements(text)
            return infer_model(text, statements, convention)
        except MatcalcError as err:
            if not err.excerpt and err.line is not None:
                err.excerpt = excerpt(text, err.line, err.column, err.end_column)
            if convention == DEFAULT:
                add_scalar_hint(err, text)
            raise


def parse_statements(text: str) -> tuple[Statement, ...]:
    """The statements of ``text`` as surface syntax (no kinds or shapes yet)."""
    try:
        return fast_parser().parse(text)
    except UnexpectedInput as err:
        raise syntax_error(err, text) from None
    except RecursionError:
        raise MatcalcSyntaxError("expression nested too deeply", 1, 1, source=text) from None


def syntax_error(err: UnexpectedInput, text: str) -> MatcalcSyntaxError:
    """A lark parse error as a located :class:`MatcalcSyntaxError` in plain words."""
    line, column, width = err.line, err.column, 1
    if isinstance(err, UnexpectedCharacters):
        got = f"unexpected character {text[err.pos_in_stream]!r}"
        expected = err.allowed
    elif isinstance(err, UnexpectedToken):
        tok = err.token
        expected = err.expected
        if tok.type == "$END":
            got = "unexpected end of input"
            line, column = _end_position(text)
        elif tok.type == "_NL":
            got = "unexpected end of line"
        else:
            got = f"unexpected {_describe_token(tok.type, str(tok))}"
            width = max(1, len(str(tok)))
    else:  # pragma: no cover - other UnexpectedInput kinds are not raised by LALR
        got, expected = "unexpected input", set()
    if not isinstance(line, int) or line < 1:
        line, column = _end_position(text)
    message = got
    expected = set(expected or ())
    if _open_parens(text[: _offset(err, text)]) == 0:
        expected -= {"RPAR", "COMMA"}  # lookahead sets of LALR states are merged
    words = expected_words(expected)
    if words:
        message += f"; expected {words}"
    return MatcalcSyntaxError(message, line, column, source=text, end_column=column + width)


def expected_words(terminals) -> str:
    """``{'NAME', 'LPAR', ...}`` as "one of: a name, a number, '('"."""
    names = set(terminals)
    words: list[str] = []
    if names & {"NAME", "NUMBER"}:
        words += [TERMINAL_WORDS[t] for t in _OPERAND if t in names]
    else:
        if "RPAR" in names:
            words.append(TERMINAL_WORDS["RPAR"])
        if len(names & set(_OPERATORS)) >= 3:
            words.append("an operator")
        else:
            words += [TERMINAL_WORDS[t] for t in _OPERATORS if t in names]
        words += [TERMINAL_WORDS[t] for t in ("COMMA", "EQUAL") if t in names]
        if names & set(_END):
            words.append("the end of the statement")
    if not words:
        return ""
    return words[0] if len(words) == 1 else "one of: " + ", ".join(words)


def _offset(err: UnexpectedInput, text: str) -> int:
    if isinstance(err, UnexpectedToken) and err.token.type == "$END":
        return len(text)
    pos = getattr(err, "pos_in_stream", None)
    return pos if isinstance(pos, int) else len(text)


def _open_parens(text: str) -> int:
    """How many parentheses are open at the end of ``text`` (comments ignored)."""
    code = re.sub(r"#[^\n]*", "", text)
    return code.count("(") - code.count(")")


def _describe_token(kind: str, value: str) -> str:
    if kind == "NAME":
        return f"name '{value}'"
    if kind == "NUMBER":
        return f"number {value}"
    return f"'{value}'"


def _end_position(text: str) -> tuple[int, int]:
    """Just after the last character that is not white space."""
    lines = text.rstrip().splitlines() or [""]
    return len(lines), len(lines[-1]) + 1


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while building (the trees hold no cycles; a
    large model allocates millions of objects, and collection would dominate)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
