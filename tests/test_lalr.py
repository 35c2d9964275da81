"""The fast readers (:mod:`matcalc.precedence`, :mod:`matcalc.lalr`) read exactly what
lark's parser reads.

For every text — the test models, deep architectures, fuzzed and random text —
each fast reader either gives the same statements as lark's parser (same nodes,
same spans), raises the same :class:`~matcalc.errors.MatcalcError` as lark's
callbacks, or gives up (:class:`~matcalc.lalr.NotFast`) on a text lark rejects too.
The precedence reader alone (before it hands a text to the table reader) gives
either lark's statements or up.
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import pytest

from matcalc.architectures import ARCHITECTURES
from matcalc.errors import MatcalcError
from matcalc.grammar import fast_parser, lark_parse, parser, table_parser
from matcalc.lalr import MORE, FastParser, NotFast
from matcalc.selftest import fuzz_input, generate
from matcalc.syntax import FAST_BUILDERS, Node, Source, Span

MODELS = Path(__file__).parent / "models"

#: Texts whose tokens sit where lexers differ: transposes, dots, new lines in and out
#: of parentheses, continuations, carriage returns, comments, Unicode names.
TRICKY = [
    "",
    "\n",
    "   ",
    "f = x'*x",
    "f = A.T*x + x.^2 + .5*x ./ 2.5e-3",
    "f = (x\n + y)'*(A\n\n*x)",
    "f = x \\\n + y",
    "f = x \\  \r\n + y",
    "x: vector(n)\r\nf = x'x\r\n",
    "f = x'*x # a comment\n# another\n\n",
    "f = xᵀ*Aᵀ*x",
    "Φ, λ: scalar; f = λ*Φ",
    "f(u) = u / (1 + abs(u))\ng = f(x)",
    "f = 2^3^2 - -x'*x + +1",
    "f = A^T*x",
    "f = x;;; g = f\n;\n",
    "f = sum(x) \t\f\n",
    "f = sum(\n#c\nx\n)",
    "f = x.Tx",
    "f = x .5",
    "f = (x\n",
    "f = x)\n",
    "x, y: vector(n)\nf = x:y",
    "f(u, v) = u",
    "f = 1e400",
    "f = x $ y",
    "f = x\n\r\r\ny",
    # where precedence climbing decides what the LALR table decides by lookahead
    "f(x)' = 1",
    'f(x)^2 = 1',
    'f(x) + 1',
    "sum(x)' * x",
    'f() = 1',
    'g = f()',
    'x = y = z',
    '(x) = 1',
    'x, y',
    'x, y: vector(n), z',
    'sum(x), y: scalar',
    "-x^2 + +y'^-2^x",
    'f = x^T + x^Tx + x^ T + x^(T)',
    "f = ((x)' * (-(y)))",
    'f = a:b:c + d',
    "f = x''",
    'f = (x,y)',
    'f = sum(x,)',
    'f = sum(,x)',
    'f = x - - - y',
    "x: vector(n); f = x'x",
    'f = 1e999 $',
    'f = 1e999 x',
    'f(2) = 1',
    "f(u) = u; g = f(x)'",
    'a: matrix(2, 3); f = a',
]


def dump(value):
    """A structural picture of statements (nodes compare by identity)."""
    if isinstance(value, Span):
        return tuple(value)
    if isinstance(value, Node):  # its span (lines and columns too), then its fields
        return (type(value).__name__, tuple(value.span)) + tuple(dump(f) for f in value.fields())
    if dataclasses.is_dataclass(value):  # a statement or kind: its span, then its fields
        return (type(value).__name__, tuple(value.span)) + tuple(
            dump(getattr(value, f.name)) for f in dataclasses.fields(value)
            if f.name not in ("source", "start", "end")
        )
    if isinstance(value, (tuple, list)):
        return tuple(dump(v) for v in value)
    return value


def outcome(read, text: str):
    try:
        return "ok", dump(read(text))
    except NotFast:
        return "not fast", None
    except MatcalcError as err:
        return "error", (type(err).__name__, str(err))
    except Exception as err:  # lark's UnexpectedInput
        return "lark error", type(err).__name__


#: The reader that matches ignored text as tokens of its own (Python 3.10's way).
TOKEN_BY_TOKEN = FastParser(parser(), FAST_BUILDERS, skip_ahead=False)


def check(text: str) -> None:
    for reader in (fast_parser(), table_parser(), TOKEN_BY_TOKEN):
        check_with(reader, text)
    check_climbing(text)


def check_climbing(text: str) -> None:
    """Precedence climbing alone: lark's statements, or it gives up (an error of its
    own, raised or not by lark, sends the text to the table reader)."""
    try:
        climbed = fast_parser().climb(text)
    except (NotFast, MatcalcError, RecursionError):
        return
    assert outcome(lark_parse, text) == ("ok", dump(climbed)), text


def check_with(reader: FastParser, text: str) -> None:
    fast = outcome(reader.run, text)
    slow = outcome(lark_parse, text)
    if fast[0] == "not fast":
        assert slow[0] != "ok", f"the fast reader gave up on a valid text: {text!r}"
    else:
        assert fast == slow, text


def texts() -> list[str]:
    found = [p.read_text(encoding="utf-8") for p in sorted(MODELS.glob("*.mc"))]
    found += [build(5)[0] for build in ARCHITECTURES.values()]
    found += [generate(f"lalr:{i}").text for i in range(200)]
    return found


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_texts_read_alike(text):
    check(text)


def test_models_read_alike():
    for text in texts():
        check(text)


@pytest.mark.parametrize("chunk", range(4))
def test_fuzzed_texts_read_alike(chunk):
    for i in range(chunk * 1000, (chunk + 1) * 1000):
        check(fuzz_input(i, seed=7))


def test_valid_texts_take_the_fast_path():
    for text in texts():
        fast_parser().climb(text)  # raises NotFast otherwise
        table_parser().run(text)


def test_deep_nesting_falls_back_to_the_table():
    """Nesting deeper than Python's stack allows is read by the table reader (no recursion)."""
    text = "f = " + "(" * 3000 + "x" + ")" * 3000
    with pytest.raises(RecursionError):
        fast_parser().climb(text)
    assert dump(fast_parser().run(text)) == dump(table_parser().run(text))


def test_errors_are_lark_s():
    """A text with a syntax error is read by lark, so its message is lark's."""
    with pytest.raises(NotFast):
        fast_parser().run("f = (x +\n")


#: Pieces random texts are made of: every kind of token, and the names of kinds.
PIECES = ["x", "A", "f", "T", "sum", "vector", "scalar", "n", "2", ".5", "1e999", "(", ")", "'",
          "ᵀ", ".T", "^", ".^", "-", "+", "*", "./", ":", ",", "=", "\n", ";", " ", "#c\n"]


@pytest.mark.parametrize("chunk", range(2))
def test_random_token_strings_read_alike(chunk):
    """Strings of a few random tokens: mostly near misses of valid models."""
    rng = random.Random(chunk)
    for _ in range(3000):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 12)))
        check(text)


def test_spans_made_from_offsets_are_lark_s():
    """A node keeps only offsets; the lines and columns made from them (``Source.span``)
    are those lark gives its tokens, across new lines, continuations and CR LF."""
    for text in TRICKY + texts()[:40] + [fuzz_input(i, seed=7) for i in range(200)]:
        source = Source(text)
        try:
            tokens = list(parser().lex(text))
        except Exception:  # lark's lexer stops at a character no terminal matches
            continue
        for tok in tokens:  # in order: lines counted from the last offset asked for
            assert source.span(tok.start_pos, tok.end_pos) == Span.of(tok), (text, tok)
        for tok in reversed(tokens):  # backwards: where every line starts, searched
            assert source.span(tok.start_pos, tok.end_pos) == Span.of(tok), (text, tok)


#: The tokenizer without pairs of tokens read in one match.
ONE_BY_ONE = FastParser(parser(), FAST_BUILDERS)


def tokens_of(reader: FastParser, text: str, limit: int | None = None):
    """The tokens of ``text``, each run of operators and names and each statement read in
    one match written out token by token (and the number of those), read whole or
    ``limit`` tokens at a time."""
    kinds, spans, runs, pos, depth = [], [], 0, 0, 0
    while True:
        try:
            part_kinds, part_spans = reader.tokens(text, pos, limit, depth)
        except NotFast:
            return "not fast"
        for kind, span in zip(part_kinds, part_spans):
            if kind in reader.run_pieces or kind in reader.statement_groups:
                more_kinds, more_spans = (reader.run_tokens(text, kind, *span) if kind in reader.run_pieces
                                          else reader.statement_tokens(text, kind, *span))
                kinds += more_kinds
                spans += more_spans
                runs += 1
            elif kind is not MORE:
                kinds.append(kind)
                spans.append(span)
        if part_kinds[-1] is not MORE:
            return kinds, spans, runs
        pos, depth = part_spans[-1]


#: Pieces of texts with long runs of operators and names: runs of products and sums,
#: and what ends them (a call, a transpose, a power, a product after a term, a new line
#: in and out of parentheses, a comment, a continuation, a sign)
RUN_PIECES = ["*A", "* B ", "./x", "+y", " - z", "+ w", "-x", "*x", "∘A", "@A", "(", ")",
              "f(x)", "'", "ᵀ", ".T", "^2", ".^2", "*(x)", "\n", " #c\n", "\\\n", "=", "-", "2",
              "\n*", "\n(", "\n'", ";", ",", ":"]


def run_texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["x = a" + "".join(rng.choice(RUN_PIECES[:10] * 4 + RUN_PIECES)
                              for _ in range(rng.randint(1, 40))) for _ in range(count)]


def run_expression(rng: random.Random, depth: int = 0) -> str:
    """A valid expression with runs of products and sums, written in varied ways (blanks,
    comments, continuations, new lines in parentheses), and what ends a run."""
    blanks = ["", "", " ", "  ", " \\\n "] + ([" #c\n", "\n"] if depth else [])
    parts = []
    for _ in range(rng.randint(1, 10)):
        roll = rng.random()
        if roll < 0.75 or depth > 1:
            operand = rng.choice(["a", "B", "x", "w", "y1", "λ"])
        elif roll < 0.85:
            operand = "(" + run_expression(rng, depth + 1) + ")"
        elif roll < 0.92:
            operand = "sum(" + run_expression(rng, depth + 1) + ")"
        else:
            operand = "-" + rng.choice(["a", "x"])
        operand += rng.choice(["", "", "", "", "", "", "'", "ᵀ", ".T", " '", " \\\n ᵀ", "''", "^2", ".^2"])
        op = rng.choice(["*", "*", "*", "+", "-", "+", "./", "∘", "@", ".*"])
        parts.append(operand if not parts else rng.choice(blanks) + op + rng.choice(blanks) + operand)
    return "".join(parts)


def valid_run_texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["; ".join(f"y{k} = {run_expression(rng)}" for k in range(rng.randint(1, 3)))
            for _ in range(count)]


#: Pieces of declarations, right and near misses (read in one match: ``TOKEN_STATEMENTS``)
DECLARATION_PIECES = ["W", " W1", "x, y", "λ", ":", " : ", "matrix", "vector", "symmetric", "scalar",
                      "elementwise", "matrixx", "scalarᵀ", "(", "( ", "m", " n", ",", ", ", ")", " #c",
                      " \\\n", "'", "+ 1", "2"]


def declaration_texts(count: int, seed: int) -> list[str]:
    """Texts of declarations: mostly right, some near misses, between other statements."""
    rng = random.Random(seed)
    right = ["W: matrix(m, n)", "x: vector(n)", "S: symmetric(n)", "a: scalar", "g: elementwise",
             " W2 : matrix( m ,n ) #c", "b:vector(m)", "y = W*x", "f = sum(x)"]
    texts = []
    for _ in range(count):
        lines = [rng.choice(right) if rng.random() < 0.7 else
                 "".join(rng.choice(DECLARATION_PIECES) for _ in range(rng.randint(1, 9)))
                 for _ in range(rng.randint(1, 6))]
        texts.append("".join(line + rng.choice(["\n", "\n", ";", "; ", "\r\n", "\n\n"]) for line in lines)
                     + "f = x")
    return texts


def test_pairs_read_in_one_match_are_the_tokens_read_one_by_one():
    """An operator and the name after it are read in one match (``TOKEN_PAIRS``), and a
    run of them (``TOKEN_RUNS``) as one token: written out, the same tokens, at the same
    places, as when read one by one, whole or a few tokens at a time."""
    assert table_parser().pairs
    rng = random.Random(3)
    strings = ["".join(rng.choice(PIECES + ["+x", "- y", "*\\\n z", "./ w", "-#c\nx"])
                       for _ in range(rng.randint(1, 16))) for _ in range(3000)]
    runs = 0
    cases = strings + run_texts(3000, 4) + valid_run_texts(1000, 4) + declaration_texts(2000, 4)
    for text in TRICKY + texts() + cases:
        one_by_one = tokens_of(ONE_BY_ONE, text)
        assert one_by_one == "not fast" or one_by_one[2] == 0
        for limit in (None, 1, 3):
            found = tokens_of(table_parser(), text, limit)
            assert found == one_by_one or found[:2] == one_by_one[:2], (text, limit)
            runs += found != "not fast" and found[2]
    assert runs > 5000  # (the texts have many runs and declarations)


def test_runs_of_operators_and_declarations_read_alike():
    """Texts with many runs of operators and plain names, and many declarations (read as
    one token each), read as lark reads them, whole and a few tokens at a time."""
    from matcalc import precedence

    cases = valid_run_texts(1000, 6) + run_texts(1000, 6) + declaration_texts(1000, 6)
    for text in cases:
        check(text)
    climbed = [fast_parser().climb(text) for text in cases[:1000]]  # (valid: no error)
    for part in (2, 5):
        precedence._PART, saved = part, precedence._PART
        try:
            for text, whole in zip(cases, climbed):
                assert dump(fast_parser().climb(text)) == dump(whole), (part, text)
            for text in cases[1000:1300] + cases[2000:2500]:
                check_climbing(text)
        finally:
            precedence._PART = saved


def test_a_text_read_a_few_tokens_at_a_time_reads_alike(monkeypatch):
    """Read a part of its tokens at a time (parts ending at new lines outside parentheses),
    a text gives the statements it gives read whole, or the reader gives up on both (a
    mistake may be found at another place first: the table reader reads the text then)."""
    from matcalc import precedence

    rng = random.Random(5)
    strings = ["".join(rng.choice(PIECES) for _ in range(rng.randint(1, 24))) for _ in range(1500)]
    cases = texts() + TRICKY + [fuzz_input(i, seed=9) for i in range(300)] + strings

    def read(text: str):  # the statements, or None where the reader gives up (for the table)
        found = outcome(fast_parser().climb, text)
        return found if found[0] == "ok" else None

    whole = [read(text) for text in cases]
    assert sum(found is not None for found in whole) > 400
    for part in (1, 2, 7):
        monkeypatch.setattr(precedence, "_PART", part)
        for text, expected in zip(cases, whole):
            assert read(text) == expected, (part, text)
    monkeypatch.undo()
    parts = fast_parser().table.tokens("x: vector(n)\nf = sum(\nx)\n\ny = f", 0, 1)
    assert parts[0][-1] is precedence.MORE and parts[1][-1] == (13, 0)
