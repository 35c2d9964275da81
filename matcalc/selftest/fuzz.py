"""Ill-typed models and fuzzed text: each must end in a located error, never a crash."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from .. import dims
from .generate import (
    DEFAULT_NAMES,
    Chooser,
    Decl,
    Def,
    Fun,
    ModelGenerator,
    NamePool,
    Node,
    Printer,
    RandomChooser,
    Statement,
    binary,
    call,
    chance,
    generate,
    is_scalar,
    name,
    neg,
    pick,
    transpose,
    weighted,
)

# ---------------------------------------------------------------- ill-typed models and fuzzing


@dataclass
class BadModel:
    """A model that must fail with a located error.

    ``line`` is the line the error must name (``None``: any line); ``wrt``
    is set when the error shows only when differentiating.
    """

    text: str
    line: int | None
    what: str
    wrt: str | None = None


_BAD_FUNCTIONS = ("foo", "expp", "Sum", "relu2", "logdet2", "Tr", "softmax_", "nrom2", "sigmod")
_SYNTAX = (
    "({x} + 1", "{x} +", "* {x}", "{x} ** 2", "{x} +* {x}", "= {x}", "1{x}", "{x} $ 2", "{x}..T",
    "sum({x},)", "sum({x}", "{x})", "{x} ? 1", "({x}))", "{x} ' 2", "{x} = = 1", "2 3", "{x} {x}",
    "exp()", "{x}^", "{x}.^", "{x} @@ {x}", "{x} ∘∘ {x}", "{x}:", "({x}, {x})", "{x}[0]", "{x} % 2",
)  # fmt: skip


def ill_typed_model(ch: Chooser, names: NamePool = DEFAULT_NAMES) -> BadModel:
    """A random well-typed model with one mistake put in (a shape mismatch, a wrong arity,
    an unknown function, a misplaced definition, a syntax error...)."""
    gm = ModelGenerator(ch, names, max_depth=2, max_definitions=2).model()
    decls = [s for s in gm.statements if isinstance(s, Decl)]
    funs = [s for s in gm.statements if isinstance(s, Fun)]

    def render(decls: Sequence[Statement], body: Sequence[Def], bad: Def) -> tuple[str, int]:
        return _render([*funs, *decls], body, bad)

    body = [s for s in gm.statements if isinstance(s, Def)]
    taken = {n for d in decls for n in d.names} | {i.name for i in gm.inputs} | set(gm.functions)
    taken |= {f.name for f in funs}
    taken |= {d.name for d in body if d.name}
    used_dims = set(gm.dims)
    fresh_dims = [d for d in ("da", "db", "dc", "dd", "de") if d not in used_dims]
    da, db, dc = map(dims.symbol, fresh_dims[:3])
    q1, q2 = [n for n in ("Bad1", "Bad2", "Bad3", "Bad4") if n not in taken][:2]
    x = pick(ch, sorted(i.name for i in gm.inputs))
    extra: list[Decl] = []
    what = weighted(ch, [(3, "shape"), (2, "matmul"), (2, "square"), (1, "vector"), (1, "divide"),
                         (1, "exponent"), (2, "arity"), (2, "unknown"), (2, "definition"), (3, "syntax"),
                         (1, "output"), (1, "bare"), (1, "redeclared"), (1, "misuse"), (1, "declaration"),
                         (2, "formula")])
    line_text = ""
    at_end = False  # the mistake replaces the final statement
    line_known = True
    if what == "shape":
        extra = [Decl((q1,), "matrix", (da, db)), Decl((q2,), "matrix", (dc, db))]
        op = pick(ch, ("+", "-", ".*", "∘", "./", ":"))
        line_text = f"{q1} {op} {q2}" if chance(ch, 50) else f"sum(exp({q2}) {op} {q1}')"
        if "'" in line_text:
            extra = [Decl((q1,), "matrix", (db, da)), Decl((q2,), "matrix", (dc, db))]
    elif what == "matmul":
        extra = [Decl((q1,), "matrix", (da, db)), Decl((q2,), "matrix", (dc, da))]
        line_text = pick(ch, (f"{q1} * {q2}", f"{q1} @ {q2}", f"{q1}' * {q2}'", f"({q1} * {q2}) + 1"))
    elif what == "square":
        extra = [Decl((q1,), "matrix", (da, db))]
        line_text = pick(ch, (f"tr({q1})", f"det({q1})", f"inv({q1})", f"logdet({q1})", f"{q1}^2",
                              f"diag({q1})", f"{q1}^-1", f"tr({q1}) + 1"))
    elif what == "vector":
        extra = [Decl((q1,), "matrix", (da, db))]
        line_text = pick(ch, (f"Diag({q1})", f"softmax({q1})", f"logsumexp({q1})"))
    elif what == "divide":
        extra = [Decl((q1,), "matrix", (da, db)), Decl((q2,), "vector", (dc,))]
        line_text = pick(ch, (f"{q1} / {q2}", f"{q2} / {q1}", f"1 / {q2}"))
    elif what == "exponent":
        extra = [Decl((q1,), "matrix", (da, da)), Decl((q2,), "vector", (db,))]
        line_text = pick(ch, (f"{q1} .^ {q2}", f"{q1} ^ 0.5", f"{q1} ^ (1/2)", f"{q2} ^ 2", f"{q1}^{x}",
                              f"{q1} ^ 100000"))
    elif what == "arity":
        line_text = pick(ch, (f"exp({x}, {x})", "sum()", f"tr({x}, {x})", "norm2()", f"softmax({x}, {x})",
                              "inv()", "eye(2, 3)", f"log({x}, 2)", f"vector({x}, {x})", "ones(2, 3, 4)"))
    elif what == "unknown":
        fn = pick(ch, _BAD_FUNCTIONS)
        line_text = pick(ch, (f"{fn}({x})", f"sum({fn}({x}))", f"{x}(2)", f"1 + {fn}({x}, {x})"))
    elif what == "definition":
        how = pick(ch, ("before", "self", "redefine", "declared"))
        defs = [d.name for d in body if d.name]
        if how == "before" or (how == "redefine" and not defs):
            bad = Def(q1, Node("raw", f"sum({q2}) + 1"))
            body[-1:-1] = [bad, Def(q2, name(x))]
            text, line = render(decls, body, bad)
            return BadModel(text, line, f"definition: {q2} used before it is defined")
        if how == "self":
            line_text = f"{q1} + 1"
        elif how == "redefine":
            n = pick(ch, defs)
            bad = Def(n, Node("raw", f"{x}"))
            body.append(bad)  # after the first definition of n: the error is here
            text, line = render(decls, body, bad)
            return BadModel(text, line, f"definition: {n} defined twice")
        else:
            bad = Def(x, Node("raw", "1"))
            if not any(x in d.names for d in decls):
                decls.append(Decl((x,), "scalar"))  # declare it so it cannot be redefined
                if not is_scalar(next(i.shape for i in gm.inputs if i.name == x)):
                    return ill_typed_model(ch, names)
            body.insert(len(body) - 1, bad)
            text, line = render(decls, body, bad)
            return BadModel(text, line, f"definition: declared {x} defined")
    elif what == "syntax":
        line_text = pick(ch, _SYNTAX).format(x=x)
        line_known = not line_text.startswith(("(", "sum(")) or line_text.count("(") == line_text.count(")")
        if line_text in (f"{x})", f"({x}))"):
            line_known = True
    elif what == "output":  # a non-scalar output: an error when differentiating
        extra = [Decl((q1,), "matrix", (da, db))]
        bad = Def("out", Node("raw", f"exp({q1})"))
        if body[-1].name is None:
            body[-1] = Def("out0", body[-1].expr)
        body.append(bad)
        text, line = render(decls + extra, body, bad)
        return BadModel(text, line, "output: a non-scalar to differentiate", wrt=q1)
    elif what == "formula":  # a function defined by formula with a body it may not have
        bodies = (f"u + {x}", "sum(u)", "u'", "u : u", "u @ u", "tr(u)", f"{q1}(u)", "ones", "u^u",
                  "kron(u, u)", "u ⊗ u", "foo(u)", "exp(u, u)")
        head = pick(ch, (f"{q1}(u)", f"{q1}(u)", f"{q1}(u, t)", f"{q1}(2)", "exp(u)", f"{q1}()"))
        body_text = pick(ch, bodies) if head == f"{q1}(u)" else "u"
        bad = Def(None, Node("raw", f"{head} = {body_text}"))
        body.insert(len(body) - 1, bad)
        text, line = render(decls, body, bad)
        return BadModel(text, line, f"formula: {head} = {body_text}")
    elif what == "bare":
        bad = Def(None, Node("raw", f"{x} + 1"))
        body.insert(len(body) - 1, bad)
        text, line = render(decls, body, bad)
        return BadModel(text, line, "bare: an expression before the last statement")
    elif what == "redeclared":
        declared = [n for d in decls if d.kind != "elementwise" for n in d.names]
        if not declared:
            return ill_typed_model(ch, names)
        n = pick(ch, declared)
        kind = next(d for d in decls if n in d.names)
        other = Decl((n,), "matrix" if kind.kind != "matrix" else "vector",
                     (da, db) if kind.kind != "matrix" else (da,))
        bad = Def(None, Node("raw", other.text()))
        body.insert(len(body) - 1, bad)
        text, line = render(decls, body, bad)
        return BadModel(text, line, f"redeclared: {n} declared twice")
    elif what == "misuse":
        fname = gm.functions[0] if gm.functions else None
        options = ["exp + 1", "sum", f"scalar({x})", "matrix(2, 3)", f"vector({x}) + 1" if not any(
            i.name == x and is_scalar(i.shape) for i in gm.inputs) else "ones(0)", "eye(1/2)", "ones(-1)"]
        if fname:
            options.append(f"{fname} + 1")
        line_text = pick(ch, options)
    else:  # a malformed declaration
        bad_decl = pick(ch, ("vector(n, m)", "matrix(n)", "vector", "symmetric", "scalar(2)", "vector(0)",
                             "vector(1/2)", "matrix(n, 2.5)", "elementwise(1)", "vector(-1)"))
        bad = Def(None, Node("raw", f"{q1}: {bad_decl}"))
        body.insert(len(body) - 1, bad)
        text, line = render(decls, body, bad)
        return BadModel(text, line, f"declaration: {q1}: {bad_decl}")
    bad = Def(None if at_end else q1, Node("raw", line_text))
    body.insert(len(body) - 1, bad)
    text, line = render(decls + extra, body, bad)
    return BadModel(text, line if line_known else None, f"{what}: {line_text}")


def _render(decls: Sequence[Statement], body: Sequence[Def], bad: Def) -> tuple[str, int]:
    """The model one statement a line, and the line of ``bad``."""
    p = Printer(plain=True)
    lines = [p.statement(d) for d in decls]
    line = 0
    for d in body:
        if d is bad:
            line = len(lines) + 1
            text = str(d.expr.value)
            lines.append(text if d.name is None else f"{d.name} = {text}")
        else:
            lines.append(p.statement(d))
    return "\n".join(lines), line


_TOKENS = (
    "x", "y", "A", "W", "alpha", "λ", "Φ", "ℌ", "n", "m", "f", "g", "T", "_", "x1", "é",
    "0", "1", "2", "0.5", "1e-3", ".5", "3.", "1/2", "100",
    "+", "-", "*", "@", "/", ".*", "./", "∘", "⊙", "^", ".^", "'", ".T", "ᵀ", "^T", ":", "=", ",", ";",
    "(", ")", "(", ")", " ", " ", "  ", "\n", "\r\n", "\t", "# comment", "\\\n",
    "vector(n)", "matrix(m, n)", "symmetric(n)", "scalar", "elementwise", "vector", "matrix",
    "exp", "log", "sum", "tr", "inv", "det", "logdet", "Diag", "diag", "vec", "norm2", "softmax",
    "relu", "sigm", "ones", "eye", "sqrt", "abs", "step",
    "$", "?", "!", "[", "]", "{", "}", "\"", "\x00", "\ufeff", "\u200b", "∂", "💥", "\udcff", "ı",
)  # fmt: skip


#: Numbers at or beyond the range of a float, and exponents that make them: used by the fuzzer
#: only when asked (``extreme=True``), so that the bulk of fuzzing finds other mistakes.
EXTREME_NUMBERS = ("1000", "1e308", "1e-320", "1e400", "99999999999999999999", "1e100000000", "1" * 5000)


def random_text(ch: Chooser, max_tokens: int = 30, extreme: bool = False) -> str:
    """A random string of the language's tokens and of characters it does not know."""
    tokens = _TOKENS + EXTREME_NUMBERS if extreme else _TOKENS
    return "".join(pick(ch, tokens) for _ in range(ch.integer(0, max_tokens)))


_SOUP_NAMES = ("x", "y", "A", "B", "S", "alpha", "λ", "n", "m", "f", "g", "T", "ones", "eye", "vector",
               "matrix", "scalar", "symmetric", "elementwise", "sum", "exp", "Φ", "ℌ", "H", "t0", "np")
_SOUP_FUNCTIONS = ("exp", "log", "sum", "tr", "inv", "det", "logdet", "Diag", "diag", "vec", "norm1",
                   "norm2", "normF", "softmax", "logsumexp", "relu", "step", "sigm", "ones", "eye", "vector",
                   "matrix", "g", "foo", "x", "sq", "abs", "sign", "arcsin", "scalar")
_SOUP_NUMBERS = ("0", "1", "2", "0.5", "1e-3", "3", "100", "-1", "1/2", "0.0")
_SOUP_OPS = ("+", "-", "*", "@", "/", ".*", "./", "∘", "⊙", "^", ".^", ":")


def _size(d: int | str) -> dims.Dim:
    return d if isinstance(d, int) else dims.symbol(d)


def random_soup(ch: Chooser, extreme: bool = False) -> str:
    """A model that follows the grammar but not the types: random names, calls, operators,
    declarations of random kinds. Most are ill-typed; some are valid and get differentiated."""

    numbers = _SOUP_NUMBERS + EXTREME_NUMBERS if extreme else _SOUP_NUMBERS

    def expr(depth: int) -> Node:
        how = ch.integer(0, 7) if depth > 0 else ch.integer(0, 1)
        if how == 0:
            return name(pick(ch, _SOUP_NAMES))
        if how == 1:
            return Node("num", None, (), pick(ch, numbers))
        if how in (2, 3):
            return binary(pick(ch, _SOUP_OPS), expr(depth - 1), expr(depth - 1))
        if how == 4:
            arity = pick(ch, (1, 1, 1, 0, 2))
            return call(pick(ch, _SOUP_FUNCTIONS), *(expr(depth - 1) for _ in range(arity)))
        if how == 5:
            return transpose(expr(depth - 1), pick(ch, ("'", ".T", "ᵀ", "^T")))
        if how == 6:
            return neg(expr(depth - 1))
        return binary(pick(ch, ("^", ".^")), expr(depth - 1), Node("num", None, (), pick(ch, numbers)))

    statements: list[Statement] = []
    for _ in range(ch.integer(0, 3)):
        kind = pick(ch, ("scalar", "vector", "matrix", "symmetric", "elementwise"))
        slots = {"scalar": (), "elementwise": (), "vector": (1,), "symmetric": (1,), "matrix": (1, 1)}[kind]
        sizes = tuple(_size(pick(ch, ("n", "m", "k", 1, 2, "x"))) for _ in slots)
        statements.append(Decl(tuple(pick(ch, _SOUP_NAMES) for _ in range(ch.integer(1, 2))), kind, sizes))
    for _ in range(ch.integer(1, 3)):
        statements.append(Def(pick(ch, ("f", "s", "t", "x", "A", "out")), expr(ch.integer(0, 4))))
    if chance(ch, 30):
        statements.append(Def(None, expr(ch.integer(0, 3))))
    return Printer(ch.integer(0, 2**31)).model(statements)


_INSERTS = (
    b"(", b")", b"'", b"*", b"^", b":", b";", b",", b"\n", b"=", b".", b"-", b"+", b"1", b"x", b"A",
    b"(((", b")))", b"\x00", b"\xff", b"\xe2\x88\x98", b"\xe1\xb5\x80", b"\xce\xb1", b"\xc3",
    b"vector(", b"eye", b"ones", b"^T", b".^", b"./", b"#", b"\\\n", b" ",
)  # fmt: skip


def mutate(text: str, ch: Chooser, extreme: bool = False) -> str:
    """``text`` with a few byte-level mutations, decoded back (bad UTF-8 included)."""
    data = bytearray(text.encode("utf-8"))
    for _ in range(ch.integer(1, 4)):
        n = len(data)
        how = ch.integer(0, 6)
        i = ch.integer(0, n)
        j = min(n, i + ch.integer(0, 8))
        if how == 0 and n:  # delete a range
            del data[i:j]
        elif how == 1:  # insert an interesting byte string
            data[i:i] = pick(ch, _INSERTS + (b"e400", b"9" * 30) if extreme else _INSERTS)
        elif how == 2 and i < n:  # replace a byte
            data[i] = ch.integer(0, 255)
        elif how == 3:  # duplicate a range
            data[i:i] = data[i:j]
        elif how == 4 and n:  # truncate
            del data[i:]
        elif how == 5:  # swap two ranges
            k = ch.integer(0, n)
            a, b = sorted((i, k))
            data[a:b] = data[a:b][::-1] if ch.integer(0, 1) else data[a:b]
        else:  # insert a random byte
            data[i:i] = bytes([ch.integer(0, 255)])
    errors = pick(ch, ("replace", "surrogateescape", "ignore"))
    return bytes(data).decode("utf-8", errors=errors)


def fuzz_outcome(text: str, differentiate: bool = True) -> str:
    """What matcalc makes of ``text``: ``parsed``, ``error`` or ``derived``.

    Raises AssertionError for anything else: an exception that is not a
    MatcalcError, or an error without a line and column.
    """
    import matcalc

    from ..errors import MatcalcError

    try:
        model = matcalc.parse(text)
    except MatcalcError as err:
        if err.line is None or err.column is None:
            raise AssertionError(f"an error without a location: {err!r} for {text!r}") from err
        str(err)
        return "error"
    except Exception as err:
        raise AssertionError(f"{type(err).__name__}: {err} for {text!r}") from err
    if not differentiate or not model.inputs or model.output.shape != (1, 1):
        return "parsed"
    try:
        g = matcalc.grad(model, wrt=[v.name for v in model.inputs])
        g.text()
        g.latex()
        compile(g.numpy_source(), "<fuzz>", "exec")
    except MatcalcError:
        return "error"
    except Exception as err:
        raise AssertionError(f"{type(err).__name__}: {err} differentiating {text!r}") from err
    return "derived"



def run_ill_typed(examples: int, seed: int = 0) -> tuple[int, list[str]]:
    """Check that ``examples`` ill-typed models each fail with a located MatcalcError."""
    import matcalc

    wrong = []
    for i in range(examples):
        bm = ill_typed_model(RandomChooser(f"matcalc-ill-typed:{seed}:{i}"))
        problem = located_error(bm, matcalc)
        if problem:
            wrong.append(f"{bm.what}: {problem}\n  model: {bm.text!r}")
    return examples, wrong


def located_error(bm: BadModel, matcalc) -> str | None:
    """``None`` when ``bm`` fails as it must (a MatcalcError naming its line and a column)."""
    try:
        model = matcalc.parse(bm.text)
        if bm.wrt:
            matcalc.grad(model, wrt=bm.wrt)
    except matcalc.MatcalcError as err:
        if err.line is None or err.column is None:
            return f"an error without a location: {err}"
        if bm.line is not None and err.line != bm.line:
            return f"the error names line {err.line}, the mistake is on line {bm.line}: {err}"
        if not str(err):
            return "an empty message"
        return None
    except Exception as err:
        return f"{type(err).__name__} (not a MatcalcError): {err}"
    return "no error"


def fuzz_input(i: int, seed: int = 0, extreme: bool = False) -> str:
    """Fuzzed input number ``i``: mostly byte-level mutations of valid models, some random
    token strings and some grammatical but untyped models (with numbers beyond a float's
    range if ``extreme``)."""
    ch = RandomChooser(f"matcalc-fuzz:{seed}:{i}")
    how = weighted(ch, [(6, "mutate"), (2, "random"), (2, "soup")])
    if how == "mutate":
        return mutate(generate(f"fuzz:{seed}:{i % 997}").text, ch, extreme)
    if how == "random":
        return random_text(ch, extreme=extreme)
    return random_soup(ch, extreme)


@contextmanager
def time_limit(seconds: float, what: str = "") -> Iterator[None]:
    """Raise :class:`TimeoutError` in the body after ``seconds`` (where signals allow it:
    the main thread on Unix; elsewhere no limit)."""
    import signal
    import threading

    if not hasattr(signal, "SIGALRM") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise TimeoutError(f"took more than {seconds} s{': ' if what else ''}{what}")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_fuzz(
    examples: int, seed: int = 0, extreme: bool = False, seconds: float = 5.0
) -> tuple[dict[str, int], list[str]]:
    """Fuzzed inputs: each must parse (and differentiate) or fail with a located MatcalcError,
    within ``seconds``."""
    counts = {"parsed": 0, "derived": 0, "error": 0}
    wrong = []
    for i in range(examples):
        text = fuzz_input(i, seed, extreme)
        try:
            with time_limit(seconds, repr(text)[:200]):
                counts[fuzz_outcome(text)] += 1
        except (AssertionError, TimeoutError) as err:
            wrong.append(str(err))
    return counts, wrong


