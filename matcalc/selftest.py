"""``matcalc selftest``: random well-typed models, each gradient checked numerically.

The pieces, usable on their own (the test suite wraps them in hypothesis):

* :class:`ModelGenerator` writes a random, well-typed model as TEXT, from a
  small tree of its own (:class:`Node`), over every operator and function of
  the language. Domains are respected by construction: ``log``/``sqrt`` get
  positive arguments (``exp(·)``, ``1 + sq(·)``, positive inputs…),
  ``inv``/``logdet``/``det`` symmetric positive definite ones (a declared
  ``symmetric`` input drawn SPD, ``A*A' + eye``…), ``arcsin`` arguments
  inside (-1, 1). Every random choice goes through a :class:`Chooser`, so the
  same generator runs from a seed (here) or from hypothesis (which then
  shrinks a failing model to a minimal one).
* :class:`Reference` evaluates such a tree with NumPy — independently of
  matcalc's expression nodes, differentials, rewrites and code generator —
  for a whole batch of perturbed inputs at once (central differences).
* :func:`check_case` runs the property: matcalc parses the text, derives the
  gradients, generates the NumPy module; the module's value must equal the
  reference value and each gradient must agree with central differences of
  the reference (Richardson-extrapolated; draws too close to a kink or too
  ill-conditioned to judge are *rejected*, not counted).
* :func:`shrink` makes a failing model smaller while it fails the same way.
* :func:`ill_typed_model` makes models that must fail with a located
  :class:`~matcalc.errors.MatcalcError`; :func:`mutate`, :func:`random_text`
  and :func:`random_soup` make fuzzed text (:func:`fuzz_outcome` judges it).
* :func:`command` is ``matcalc selftest [--examples N] [--seed S]
  [--ill-typed N] [--fuzz N]``: the figures, and exit status 1 on any
  disagreement.

Nothing here imports hypothesis (the installed package does not depend on it);
tests/strategies.py drives the same generators from hypothesis.
"""

from __future__ import annotations

import random
import time
import traceback
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Protocol

import numpy as np

Dim = int | str
Shape = tuple[Dim, Dim]
SCALAR: Shape = (1, 1)

# ---------------------------------------------------------------- random choices


class Chooser(Protocol):
    """The source of every random decision: an integer in ``[lo, hi]``.

    Generators ask for small integers only and put the simplest option
    first, so a shrinker that lowers integers simplifies the model.
    """

    def integer(self, lo: int, hi: int) -> int: ...


class RandomChooser:
    """Decisions from a seeded :class:`random.Random` (same seed, same model)."""

    def __init__(self, seed: int | str) -> None:
        self.rng = random.Random(seed)

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)


def pick(ch: Chooser, options: Sequence):
    """One of ``options`` (the first is the simplest)."""
    return options[ch.integer(0, len(options) - 1)]


def weighted(ch: Chooser, table: Sequence[tuple[int, object]]):
    """A value of ``table`` (``(weight, value)`` pairs) with probability ∝ weight."""
    table = [(w, v) for w, v in table if w > 0]
    r = ch.integer(0, sum(w for w, _ in table) - 1)
    for w, v in table:
        if r < w:
            return v
        r -= w
    raise AssertionError("unreachable")


def chance(ch: Chooser, percent: int) -> bool:
    """True with probability ``percent``/100 (False is the simpler answer)."""
    return ch.integer(0, 99) >= 100 - percent


# ---------------------------------------------------------------- model trees


@dataclass(frozen=True, eq=False)
class Node:
    """An expression as written: ``op`` is ``name num call neg bin T`` (``raw``: text as is).

    ``value`` is the name, the number (a Fraction), the function or the
    operator; ``spelling`` chooses among equivalent spellings when printed
    (``'`` / ``.T`` / ``ᵀ`` / ``^T``, ``0.5`` / ``5e-1``).
    """

    op: str
    value: object = None
    kids: tuple[Node, ...] = ()
    spelling: str = ""

    def key(self) -> tuple:
        """The structure without spellings (what a parser must give back)."""
        return (self.op, self.value, tuple(k.key() for k in self.kids))


def name(n: str) -> Node:
    return Node("name", n)


def num(v: int | Fraction | str, spelling: str = "") -> Node:
    return Node("num", Fraction(v), (), spelling or str(v))


def call(fn: str, *args: Node) -> Node:
    return Node("call", fn, tuple(args))


def neg(x: Node) -> Node:
    return Node("neg", None, (x,))


def binary(op: str, left: Node, right: Node) -> Node:
    return Node("bin", op, (left, right))


def transpose(x: Node, spelling: str = "'") -> Node:
    return Node("T", None, (x,), spelling)


@dataclass(frozen=True)
class Decl:
    names: tuple[str, ...]
    kind: str  # scalar vector matrix symmetric elementwise
    dims: tuple[Dim, ...] = ()

    def text(self) -> str:
        kind = self.kind if not self.dims else f"{self.kind}({', '.join(map(str, self.dims))})"
        return f"{', '.join(self.names)}: {kind}"


@dataclass(frozen=True)
class Def:
    name: str | None  # None: a bare final expression
    expr: Node


Statement = Decl | Def

#: Binding levels, loosest first: ":" < "+ -" < "* / .* ..." < unary minus < "^" < postfix < atoms.
FROB, ADD, MUL, UNARY, POW, POSTFIX, ATOM = range(7)
_LEVEL = {":": FROB, "+": ADD, "-": ADD, "^": POW, ".^": POW}


def op_level(op: str) -> int:
    return _LEVEL.get(op, MUL)


class Printer:
    """Model text from trees: minimal parentheses (sometimes more), random spacing."""

    def __init__(self, seed: int = 0, plain: bool = False) -> None:
        self.rng = random.Random(seed)
        self.plain = plain

    def _space(self) -> str:
        return " " if self.plain or self.rng.random() < 0.7 else ""

    def expr(self, e: Node, least: int = FROB) -> str:
        text, level = self._emit(e)
        if level < least or (not self.plain and level < ATOM and self.rng.random() < 0.04):
            inner = text
            if not self.plain and self.rng.random() < 0.1:
                inner = f"\n  {text}\n"  # new lines inside parentheses are ignored
            return f"({inner})"
        return text

    def _emit(self, e: Node) -> tuple[str, int]:
        if e.op == "name":
            return str(e.value), ATOM
        if e.op == "num":
            return e.spelling, ATOM
        if e.op == "call":
            args = ", ".join(self.expr(a) for a in e.kids)
            return f"{e.value}({args})", ATOM
        if e.op == "neg":
            return "-" + self.expr(e.kids[0], UNARY), UNARY
        if e.op == "T":
            if e.spelling == "^T":
                return self.expr(e.kids[0], POSTFIX) + "^T", POW
            return self.expr(e.kids[0], POSTFIX) + e.spelling, POSTFIX
        assert e.op == "bin"
        op, (left, right) = str(e.value), e.kids
        level = op_level(op)
        if level == POW:
            return f"{self.expr(left, POSTFIX)}{op}{self.expr(right, UNARY)}", POW
        s = self._space()
        right_least = level + 1 if level < MUL else UNARY
        return f"{self.expr(left, level)}{s}{op}{s}{self.expr(right, right_least)}", level

    def statement(self, st: Statement) -> str:
        if isinstance(st, Decl):
            return st.text()
        if st.name is None:
            return self.expr(st.expr)
        return f"{st.name} = {self.expr(st.expr)}"

    def model(self, statements: Sequence[Statement]) -> str:
        if self.plain:
            return "\n".join(self.statement(s) for s in statements)
        out = []
        for i, st in enumerate(statements):
            text = self.statement(st)
            comment = self.rng.random() < 0.05
            if comment:
                text += "  # a comment: x' * y ; (unbalanced"
            out.append(text)
            if i < len(statements) - 1:
                r = self.rng.random()
                if comment or r < 0.6:
                    out.append("\n" if r < 0.9 else "\n\n")
                else:
                    out.append("; " if r < 0.8 else ";")
        if self.rng.random() < 0.3:
            out.append("\n")
        return "".join(out)


# ---------------------------------------------------------------- shapes and names


def is_scalar(s: Shape) -> bool:
    return s == SCALAR


def is_vector(s: Shape) -> bool:
    return s[1] == 1 and s[0] != 1


def is_row(s: Shape) -> bool:
    return s[0] == 1 and s[1] != 1


def is_square(s: Shape) -> bool:
    return s[0] == s[1] and s[0] != 1


@dataclass(frozen=True)
class NamePool:
    """Names the generator may give to things.

    ``declared`` names are used only for declared inputs, definitions and
    functions; ``matrices``/``vectors``/``scalars`` follow the convention for
    undeclared names (upper-case initial, lower-case, Greek) and may also be
    left undeclared.
    """

    matrices: tuple[str, ...] = ("A", "B", "C", "W", "X", "M", "V", "P", "Q", "Φ", "Sigma", "K2")
    vectors: tuple[str, ...] = ("x", "y", "b", "c", "u", "v", "w", "z", "a1", "h_0", "é")
    scalars: tuple[str, ...] = ("alpha", "beta", "gamma", "mu", "λ", "σ", "eta_2", "theta")
    definitions: tuple[str, ...] = ("s", "t", "r", "q", "e", "loss", "hidden", "z2", "Y", "G1", "ψ")
    functions: tuple[str, ...] = ("g", "phi_fn", "act")
    dims: tuple[str, ...] = ("n", "m", "p", "k", "d", "N_max", "ℓ")
    declared: tuple[str, ...] = ()
    #: Undeclared inputs are allowed (False: every input is declared).
    undeclared: bool = True


DEFAULT_NAMES = NamePool()

#: Names with a meaning of their own in expressions: never given to anything generated.
RESERVED = frozenset(
    "ones eye vector matrix scalar symmetric elementwise T".split()
    + "exp log sin cos tan arcsin arccos arctan tanh sigmoid sigm relu step sq sqrt abs sign".split()
    + "softplus log1p sum tr diag Diag vec inv det logdet norm1 norm2 normF softmax logsumexp".split()
)


@dataclass
class Input:
    name: str
    shape: Shape
    domain: str  # any, positive, small, spd
    declared: bool
    symmetric: bool = False

    @property
    def kind(self) -> str:
        if self.symmetric:
            return "symmetric"
        if is_scalar(self.shape):
            return "scalar"
        if is_vector(self.shape):
            return "vector"
        return "matrix"

    @property
    def decl_dims(self) -> tuple[Dim, ...]:
        if self.kind == "scalar":
            return ()
        if self.kind in ("vector", "symmetric"):
            return (self.shape[0],)
        return self.shape


@dataclass
class Intermediate:
    name: str
    shape: Shape
    domain: str


#: Entry-wise functions by the domain their argument needs.
ANY_ARG = ("exp", "sin", "cos", "arctan", "tanh", "sigmoid", "sigm", "softplus", "sq")
KINKED = ("relu", "abs", "step", "sign")
POSITIVE_ARG = ("log", "sqrt", "log1p")
SMALL_ARG = ("arcsin", "arccos", "tan")


@dataclass
class GeneratedModel:
    """A generated model: its statements, text, inputs and what to differentiate."""

    statements: tuple[Statement, ...]
    text: str
    inputs: tuple[Input, ...]
    functions: tuple[str, ...]
    dims: tuple[str, ...]
    wrt: tuple[str, ...]
    of: str | None
    seed: int = 0  # for the random sizes and inputs

    def domains(self) -> dict[str, str]:
        return {i.name: i.domain for i in self.inputs}


class ModelGenerator:
    """Writes one random well-typed model per :meth:`model` call."""

    def __init__(
        self,
        ch: Chooser,
        names: NamePool = DEFAULT_NAMES,
        max_depth: int = 3,
        max_definitions: int = 3,
        max_inputs: int = 7,
    ) -> None:
        self.ch = ch
        self.pool = names
        self.max_depth = max_depth
        self.max_definitions = max_definitions
        self.max_inputs = max_inputs
        self.dims: list[Dim] = []
        self.bound: set[str] = set()  # dims used by a declared input: usable in ones(n), eye(n)
        self.inputs: list[Input] = []
        self.defs: list[Intermediate] = []
        self.functions: list[str] = []
        self.taken: set[str] = set()
        self.budget = 0

    # ------------------------------------------------------------ names and shapes

    def _fresh(self, pool: Sequence[str], fallback: str) -> str:
        free = [n for n in pool if n not in self.taken and n not in RESERVED]
        if free:
            n = pick(self.ch, free)
        else:
            i = 1
            while f"{fallback}{i}" in self.taken:
                i += 1
            n = f"{fallback}{i}"
        self.taken.add(n)
        return n

    def dim(self) -> Dim:
        """An existing dimension, or a new one (while there are few)."""
        new_ok = len(self.dims) < 4
        if self.dims and (not new_ok or chance(self.ch, 75)):
            return pick(self.ch, self.dims)
        if chance(self.ch, 5):
            d: Dim = pick(self.ch, (3, 4))
            if d in self.dims:
                return d
        else:
            free = [d for d in self.pool.dims if d not in self.dims]
            d = pick(self.ch, free) if free else f"n{len(self.dims)}"
        self.dims.append(d)
        return d

    def shape(self) -> Shape:
        kind = weighted(self.ch, [(4, "scalar"), (4, "vector"), (4, "matrix"), (2, "square"), (1, "row")])
        if kind == "scalar":
            return SCALAR
        if kind == "vector":
            return (self.dim(), 1)
        if kind == "square":
            d = self.dim()
            return (d, d)
        if kind == "row":
            return (1, self.dim())
        return (self.dim(), self.dim())

    # ------------------------------------------------------------ leaves

    def new_input(self, shape: Shape, domain: str) -> Node:
        symmetric = domain == "spd" or (is_square(shape) and domain == "any" and chance(self.ch, 20))
        declared = (
            symmetric
            or is_row(shape)
            or not self.pool.undeclared
            or any(isinstance(d, int) for d in shape if d != 1)
            or chance(self.ch, 60)
        )
        if declared and self.pool.declared and chance(self.ch, 70):
            n = self._fresh(self.pool.declared, "in")
        elif is_scalar(shape):
            n = self._fresh(self.pool.scalars, "alpha")
        elif is_vector(shape):
            n = self._fresh(self.pool.vectors, "x")
        else:
            n = self._fresh(self.pool.matrices, "A")
        if not declared and not _follows_convention(n, shape):
            declared = True
        self.inputs.append(Input(n, shape, domain, declared, symmetric))
        if declared:
            self.bound.update(d for d in shape if isinstance(d, str))
        return name(n)

    def declared_input(self, shape: Shape) -> Node:
        """A declared input of ``shape`` (its sizes are then known to inference)."""
        known = [i.name for i in self.inputs if i.shape == shape and i.declared]
        if known and chance(self.ch, 50):
            return name(pick(self.ch, known))
        before = len(self.inputs)
        node = self.new_input(shape, "any")
        if not self.inputs[before].declared:
            self.inputs[before].declared = True
            self.bound.update(d for d in shape if isinstance(d, str))
        return node

    def leaf(self, shape: Shape, want: str) -> Node:
        inputs = [i.name for i in self.inputs if i.shape == shape and _fits(i.domain, want)]
        defs = [d.name for d in self.defs if d.shape == shape and _fits(d.domain, want)]
        options: list[tuple[int, str]] = [(2, "input")] if inputs else []
        if defs:
            options.append((3, "definition"))
        if len(self.inputs) < self.max_inputs or not options:
            options.append((2, "new"))
        if is_scalar(shape) and want in ("any", "positive", "small"):
            options.append((1, "number"))
        how = weighted(self.ch, options)
        if how == "input":
            return name(pick(self.ch, inputs))
        if how == "definition":
            return name(pick(self.ch, defs))
        if how == "number":
            if want == "small":
                return num("0.5")
            return pick(self.ch, [num(2), num("0.5"), num(3), num("1.5"), num(Fraction(1, 10), "1e-1"),
                                  num(Fraction(1, 4), "0.25"), num(10)])
        domain = want
        if want == "any":
            domain = weighted(self.ch, [(8, "any"), (1, "positive"), (1, "small")])
        return self.new_input(shape, domain)

    # ------------------------------------------------------------ expressions

    def expr(self, shape: Shape, want: str = "any", depth: int | None = None) -> Node:
        """A random expression of ``shape`` whose values lie in the domain ``want``."""
        depth = self.max_depth if depth is None else depth
        self.budget -= 1
        if depth <= 0 or self.budget <= 0:
            return self.leaf(shape, want)
        table = self._productions(shape, want)
        make = weighted(self.ch, table)
        out = make(shape, want, depth - 1)
        return out if out is not None else self.leaf(shape, want)

    def _productions(self, shape: Shape, want: str) -> list[tuple[int, Callable]]:
        sq, vec, sc = is_square(shape), is_vector(shape), is_scalar(shape)
        if want == "spd":
            return [
                (3, lambda s, w, d: self.leaf(s, w)),
                (3, self.gram),
                (2, self.add),
                (1, self.scale),
                (1, self.hadamard),
                (1, lambda s, w, d: call("inv", self.expr(s, "spd", d))),
                (1, self.matpow),
                (1, self.transposed),
                (1, lambda s, w, d: call("Diag", self.expr((s[0], 1), "positive", d))),
            ]
        if want == "small":
            return [
                (3, lambda s, w, d: self.leaf(s, w)),
                (2, lambda s, w, d: binary("*", num("0.5"), call("tanh", self.expr(s, "any", d)))),
                (1, lambda s, w, d: binary("/", call("sin", self.expr(s, "any", d)), num(2))),
                (1, lambda s, w, d: binary("-", call("sigmoid", self.expr(s, "any", d)), num("0.5"))),
                (1, lambda s, w, d: binary("/", call("arctan", self.expr(s, "any", d)), num(2))),
                (1, lambda s, w, d: neg(self.expr(s, "small", d))),
                (1, self.hadamard),
                (1, self.transposed),
            ]
        if want == "positive":
            return [
                (4, lambda s, w, d: self.leaf(s, w)),
                (2, lambda s, w, d: call("exp", self.expr(s, "any", d))),
                (1, lambda s, w, d: call(pick(self.ch, ("sigmoid", "sigm", "softplus")),
                                         self.expr(s, "any", d))),
                (2, self.one_plus_square),
                (1, self.add),
                (1, self.hadamard),
                (1, self.divide),
                (1, self.power),
                (1, self.scale),
                (1, lambda s, w, d: call("sqrt", self.expr(s, "positive", d))),
                (1, self.transposed),
                (1 if sc else 0, self.positive_scalar),
                (1 if vec else 0, lambda s, w, d: call("softmax", self.expr(s, "any", d))),
                (1 if vec else 0, lambda s, w, d: call("diag", self.expr((s[0], s[0]), "spd", d))),
            ]
        return [
            (5, lambda s, w, d: self.leaf(s, w)),
            (4, self.add),
            (1, lambda s, w, d: neg(self.expr(s, "any", d))),
            (3, self.scale),
            (4, self.matmul),
            (3, self.hadamard),
            (2, self.divide),
            (2, self.power),
            (0 if sc else 2, self.transposed),
            (6, self.entrywise),
            (8 if sc else 0, self.reduction),
            (2 if vec else 0, self.vector_function),
            (2 if sq else 0, self.square_function),
            (1 if is_row(shape) else 0, self.column_sums),
            (1 if not sc else 0, self.broadcast),
        ]

    # ------------------------------------------------------------ productions

    def add(self, shape: Shape, want: str, depth: int) -> Node:
        terms = [self.expr(shape, want, depth)]
        ops = []
        for _ in range(pick(self.ch, (1, 1, 2))):
            op = "+" if want != "any" else pick(self.ch, ("+", "-"))
            if want == "any" and not is_scalar(shape) and chance(self.ch, 15):
                terms.append(self.fill(shape))
            elif want == "spd" and chance(self.ch, 30):
                terms.append(self.identity(shape))
            else:
                terms.append(self.expr(shape, want, depth))
            ops.append(op)
        out = terms[0]
        for op, t in zip(ops, terms[1:]):
            out = binary(op, out, t)
        return out

    def fill(self, shape: Shape) -> Node:
        """A constant the size of which is inferred (or written): ones, eye, vector(c), matrix(c)."""
        options = [(1, "matrix")]
        if is_vector(shape):
            options = [(2, "ones"), (1, "vector")] + (
                [(1, "ones(n)")] if shape[0] in self.bound else []
            )
        elif is_square(shape):
            options += [(2, "eye")] + ([(1, "eye(n)")] if shape[0] in self.bound else [])
        how = weighted(self.ch, options)
        if how == "ones":
            return name("ones")
        if how == "ones(n)":
            return call("ones", name(str(shape[0])))
        if how == "eye":
            return name("eye")
        if how == "eye(n)":
            return call("eye", name(str(shape[0])))
        c = pick(self.ch, [num(1), num(2), neg(num("0.5"))])
        return call(how, c)

    def identity(self, shape: Shape) -> Node:
        if shape[0] in self.bound and chance(self.ch, 50):
            return call("eye", name(str(shape[0])))
        return name("eye")

    def broadcast(self, shape: Shape, want: str, depth: int) -> Node:
        """A scalar combined with a matrix: ``1 - F``, ``X + alpha``."""
        s = self.expr(SCALAR, "any", depth - 1)
        x = self.expr(shape, "any", depth)
        op = pick(self.ch, ("+", "-"))
        return binary(op, s, x) if chance(self.ch, 50) else binary(op, x, s)

    def scale(self, shape: Shape, want: str, depth: int) -> Node:
        swant = "any" if want in ("any", "small") else "positive"
        x = self.expr(shape, want, depth)
        if want == "small":
            return binary("*", num("0.5"), x)
        form = pick(self.ch, ("s*x", "x*s", "x/s", "s.*x", "x./s"))
        if "/" in form:
            s = self.expr(SCALAR, "positive", depth - 1)
            return binary(form[1:-1], x, s)
        s = self.expr(SCALAR, swant, depth - 1)
        return binary("*" if "*" in form and "." not in form else ".*", s, x) if form[0] == "s" else \
            binary("*", x, s)

    def matmul(self, shape: Shape, want: str, depth: int) -> Node:
        r, c = shape
        if is_scalar(shape) and chance(self.ch, 30):
            return self.quadratic(depth)
        k = 1 if (not is_scalar(shape) and chance(self.ch, 20)) else self.dim()
        op = pick(self.ch, ("*", "*", "@"))
        left = self.expr((r, k), "any", depth)
        right = self.expr((k, c), "any", depth)
        return binary(op, left, right)

    def quadratic(self, depth: int) -> Node:
        d = self.dim()
        x = self.expr((d, 1), "any", depth - 1)
        m = self.expr((d, d), pick(self.ch, ("any", "spd")), depth)
        return binary("*", binary("*", transpose(x, self._tick()), m), x)

    def hadamard(self, shape: Shape, want: str, depth: int) -> Node:
        op = pick(self.ch, (".*", "∘", "⊙"))
        if want == "any" and not is_scalar(shape) and chance(self.ch, 10):
            return binary(op, self.expr(shape, "any", depth), self.fill(shape))
        return binary(op, self.expr(shape, want, depth), self.expr(shape, want, depth))

    def divide(self, shape: Shape, want: str, depth: int) -> Node:
        if want == "any" and not is_scalar(shape) and chance(self.ch, 10):
            top = self.fill(shape)
        else:
            top = self.expr(shape, want, depth)
        bottom = self.expr(shape, "positive", depth)
        return binary("/" if is_scalar(shape) and chance(self.ch, 50) else "./", top, bottom)

    def power(self, shape: Shape, want: str, depth: int) -> Node:
        op = "^" if is_scalar(shape) and chance(self.ch, 50) else ".^"
        if want == "any" and chance(self.ch, 50):
            return binary(op, self.expr(shape, "any", depth), pick(self.ch, (num(2), num(3))))
        k = pick(self.ch, [num(2), neg(num(1)), binary("/", num(1), num(2)), num("0.5"), num("1.5"),
                           neg(num(2)), neg(binary("/", num(1), num(2))), num(Fraction(5, 2), "2.5")])
        return binary(op, self.expr(shape, "positive", depth), k)

    def matpow(self, shape: Shape, want: str, depth: int) -> Node | None:
        if not is_square(shape):
            return None
        if want == "spd":
            k = pick(self.ch, [num(2), neg(num(1)), neg(num(2))])
            return binary("^", self.expr(shape, "spd", depth), k)
        if chance(self.ch, 60):
            return binary("^", self.expr(shape, "any", depth - 1), pick(self.ch, [num(2), num(3), num(1)]))
        return binary("^", self.expr(shape, "spd", depth), neg(num(1)))

    def transposed(self, shape: Shape, want: str, depth: int) -> Node:
        return transpose(self.expr((shape[1], shape[0]), want, depth), self._tick())

    def _tick(self) -> str:
        return weighted(self.ch, [(5, "'"), (1, ".T"), (1, "ᵀ"), (1, "^T")])

    def entrywise(self, shape: Shape, want: str, depth: int) -> Node:
        kind = weighted(self.ch, [(6, "any"), (2, "kink"), (3, "positive"), (1, "small"), (1, "abstract")])
        if kind == "any":
            return call(pick(self.ch, ANY_ARG), self.expr(shape, "any", depth))
        if kind == "kink":
            return call(pick(self.ch, KINKED), self.expr(shape, "any", depth))
        if kind == "positive":
            return call(pick(self.ch, POSITIVE_ARG), self.expr(shape, "positive", depth))
        if kind == "small":
            return call(pick(self.ch, SMALL_ARG), self.expr(shape, "small", depth))
        if not self.functions or (len(self.functions) < 2 and chance(self.ch, 20)):
            fn = self._fresh(self.pool.functions, "g")
            self.functions.append(fn)
        else:
            fn = pick(self.ch, self.functions)
        return call(fn, self.expr(shape, "any", depth))

    def one_plus_square(self, shape: Shape, want: str, depth: int) -> Node:
        x = self.expr(shape, "any", depth)
        sq = pick(self.ch, [call("sq", x), binary(".^", x, num(2)), binary(".*", x, x), call("abs", x)])
        c = pick(self.ch, [num(1), num("0.5")])
        return binary("+", c, sq) if chance(self.ch, 50) else binary("+", sq, c)

    def positive_scalar(self, shape: Shape, want: str, depth: int) -> Node:
        how = pick(self.ch, ("norm", "sum", "tr", "det", "inner"))
        if how == "norm":
            s = self.shape()
            return call(pick(self.ch, ("norm2", "normF")), self.expr(s, "any", depth))
        if how == "sum":
            return call("sum", self.expr(self.shape(), "positive", depth))
        if how in ("tr", "det"):
            d = self.dim()
            return call(how, self.expr((d, d), "spd", depth))
        d = self.dim()
        x = self.expr((d, 1), "any", depth)
        return binary("+", binary("*", transpose(x, self._tick()), x), num(1))

    def reduction(self, shape: Shape, want: str, depth: int) -> Node:
        how = weighted(self.ch, [(3, "sum"), (2, "tr"), (1, "logdet"), (1, "det"), (1, "norm1"),
                                 (2, "norm2"), (1, "logsumexp"), (3, "frob"), (1, "vec"), (1, "ones'x"),
                                 (1, "inner")])
        if how == "sum":
            return call("sum", self.expr(self.shape(), "any", depth))
        if how == "tr":
            d = self.dim()
            return call("tr", self.expr((d, d), "any", depth))
        if how in ("logdet", "det"):
            d = self.dim()
            return call(how, self.expr((d, d), "spd", depth))
        if how in ("norm1", "norm2"):
            fn = pick(self.ch, ("norm2", "normF")) if how == "norm2" else how
            out = call(fn, self.expr(self.shape(), "any", depth))
            return binary("^", out, num(2)) if how == "norm2" and chance(self.ch, 40) else out
        if how == "logsumexp":
            return call("logsumexp", self.expr((self.dim(), 1), "any", depth))
        if how == "frob":
            s = self.shape()
            return binary(":", self.expr(s, "any", depth), self.expr(s, "any", depth))
        if how == "vec":
            s = self.shape()
            if chance(self.ch, 50):
                return call(pick(self.ch, ("sum", "norm2")), call("vec", self.expr(s, "any", depth)))
            # vec(A)'*vec(B): inference cannot solve k1*k2 = n*m, so each side holds a declared input
            a = binary(".*", self.expr(s, "any", depth), self.declared_input(s))
            b = binary("+", self.declared_input(s), self.expr(s, "any", depth))
            return binary("*", transpose(call("vec", a), self._tick()), call("vec", b))
        if how == "ones'x":
            ones = transpose(name("ones"), self._tick())
            return binary("*", ones, self.expr((self.dim(), 1), "any", depth))
        d = self.dim()
        return binary("*", transpose(self.expr((d, 1), "any", depth), self._tick()),
                      self.expr((d, 1), "any", depth))

    def scalarize(self, x: Node, shape: Shape, domain: str) -> Node:
        """A scalar made of ``x`` (a definition's name): sum, trace, norm, inner product..."""
        depth = 1
        options: list[tuple[int, str]] = [(2, "sum"), (1, "norm"), (1, "frob")]
        if is_scalar(shape):
            options = [(3, "itself"), (1, "function")]
        elif is_vector(shape):
            options += [(2, "inner"), (1, "logsumexp"), (1, "ones")]
        elif is_square(shape):
            options += [(2, "tr"), (1, "quadratic")] + ([(2, "logdet")] if domain == "spd" else [])
        elif is_row(shape):
            options += [(2, "row")]
        how = weighted(self.ch, options)
        if how == "itself":
            return x
        if how == "function":
            return call(pick(self.ch, ANY_ARG), x)
        if how == "sum":
            return call("sum", x)
        if how == "norm":
            out = call(pick(self.ch, ("norm2", "normF", "norm1")), x)
            return binary("^", out, num(2)) if out.value != "norm1" and chance(self.ch, 50) else out
        if how == "frob":
            return binary(":", x, self.expr(shape, "any", depth))
        if how == "inner":
            y = self.expr(shape, "any", depth)
            return binary("*", transpose(y, self._tick()), x)
        if how == "logsumexp":
            return call("logsumexp", x)
        if how == "ones":
            return binary("*", transpose(name("ones"), self._tick()), x)
        if how in ("tr", "logdet"):
            return call(how, x)
        if how == "quadratic":
            y = self.expr((shape[0], 1), "any", depth)
            return binary("*", binary("*", transpose(y, self._tick()), x), y)
        return binary("*", x, self.expr((shape[1], 1), "any", depth))

    def vector_function(self, shape: Shape, want: str, depth: int) -> Node:
        how = pick(self.ch, ("diag", "softmax", "rowsums"))
        d = shape[0]
        if how == "diag":
            return call("diag", self.expr((d, d), "any", depth))
        if how == "softmax":
            return call("softmax", self.expr(shape, "any", depth))
        return binary("*", self.expr((d, self.dim()), "any", depth), name("ones"))

    def square_function(self, shape: Shape, want: str, depth: int) -> Node | None:
        how = pick(self.ch, ("Diag", "inv", "power", "eye"))
        if how == "Diag":
            return call("Diag", self.expr((shape[0], 1), "any", depth))
        if how == "inv":
            return call("inv", self.expr(shape, "spd", depth))
        if how == "power":
            return self.matpow(shape, "any", depth)
        x = self.expr(shape, "any", depth)
        e = self.identity(shape)
        return binary("+", x, e) if chance(self.ch, 50) else binary("-", e, x)

    def column_sums(self, shape: Shape, want: str, depth: int) -> Node:
        ones = transpose(name("ones"), self._tick())
        return binary("*", ones, self.expr((self.dim(), shape[1]), "any", depth))

    def gram(self, shape: Shape, want: str, depth: int) -> Node:
        d = shape[0]
        k = self.dim()
        if chance(self.ch, 50):
            a = self.expr((d, k), "any", depth)
            g = binary("*", a, transpose(a, self._tick()))
        else:
            a = self.expr((k, d), "any", depth)
            g = binary("*", transpose(a, self._tick()), a)
        return binary("+", g, self.identity(shape))

    # ------------------------------------------------------------ models

    def deep_steps(self) -> list[Def]:
        """A few steps of a deep architecture on a state ``h``: a plain chain
        (``tanh(W h)``), a residual step (``h + tanh(W h)``) or a gated one
        (``(1 − z) ∘ h + z ∘ tanh(W h)``, ``z = σ(U h)``), the weights shared by every
        step or not, some of them matrix powers (``W^k h``)."""
        n = self.dim()
        kind = pick(self.ch, ("chain", "residual", "gated"))
        shared = chance(self.ch, 50)
        weight = self.new_input((n, n), "any") if shared else None
        gate = self.new_input((n, n), "any") if shared and kind == "gated" else None
        h = self.new_input((n, 1), "any")
        body: list[Def] = []
        for _ in range(self.ch.integer(2, 5)):
            w = weight or self.new_input((n, n), "any")
            if chance(self.ch, 20):
                w = binary("^", w, num(self.ch.integer(2, 5)))
            step = call("tanh", binary("*", w, h))
            if kind == "residual":
                step = binary("+", h, step)
            elif kind == "gated":
                z = self._fresh(self.pool.definitions, "z")
                body.append(Def(z, call("sigmoid", binary("*", gate or self.new_input((n, n), "any"), h))))
                self.defs.append(Intermediate(z, (n, 1), "any"))
                keep = binary(".*", binary("-", num(1), name(z)), h)
                step = binary("+", keep, binary(".*", name(z), step))
            out = self._fresh(self.pool.definitions, "h")
            body.append(Def(out, step))
            self.defs.append(Intermediate(out, (n, 1), "any"))
            h = name(out)
        return body

    def model(self, seed: int = 0, deep: bool = False) -> GeneratedModel:
        """A whole model: declarations, definitions, a scalar output, ``wrt`` and ``of``;
        ``deep`` begins it with :meth:`deep_steps`."""
        body: list[Def] = self.deep_steps() if deep else []
        for _ in range(self.ch.integer(0, self.max_definitions)):
            self.budget = 12
            shape = self.shape()
            want = weighted(self.ch, [(6, "any"), (1, "positive"), (1 if is_square(shape) else 0, "spd")])
            rhs = self.expr(shape, want, self.ch.integer(1, self.max_depth))
            n = self._fresh(self.pool.definitions, "s")
            body.append(Def(n, rhs))
            self.defs.append(Intermediate(n, shape, want))
        self.budget = 16
        terms = [self.scalarize(name(d.name), d.shape, d.domain) for d in self.defs if chance(self.ch, 60)]
        if not terms or chance(self.ch, 50):
            terms.append(self.expr(SCALAR, "any", self.max_depth))
        final = terms[0]
        for t in terms[1:]:
            final = binary(pick(self.ch, ("+", "-", "*")), final, t)
        if final.op == "num" or not self.inputs:
            final = binary("+", final, call("sum", self.new_input((self.dim(), 1), "any")))
        out_name = None if chance(self.ch, 10) else ("f" if "f" not in self.taken else None)
        body.append(Def(out_name, final))
        of = None
        scalars = [d.name for d in self.defs if is_scalar(d.shape)]
        if scalars and chance(self.ch, 10):
            of = pick(self.ch, scalars)
        candidates = [i.name for i in self.inputs]
        limit = len(body) - 1 if of is None else [d.name for d in body].index(of)
        candidates += [d.name for d in body[:limit] if chance(self.ch, 10)]
        wrt = tuple(c for c in candidates if chance(self.ch, 70)) or (candidates[0],)
        decls = self._declarations()
        statements: list[Statement] = [*decls, *body]
        if len(decls) > 1 and chance(self.ch, 10):  # a declaration may follow the uses of its name
            statements = [*decls[1:], *body[:-1], decls[0], body[-1]]
        text = Printer(self.ch.integer(0, 2**31)).model(statements)
        return GeneratedModel(
            tuple(statements), text, tuple(self.inputs), tuple(self.functions),
            tuple(d for d in self.dims if isinstance(d, str)), wrt, of, seed,
        )

    def _declarations(self) -> list[Decl]:
        decls: list[Decl] = []
        for i in self.inputs:
            if not i.declared:
                continue
            last = decls[-1] if decls else None
            if last and last.kind == i.kind and last.dims == i.decl_dims and chance(self.ch, 50):
                decls[-1] = Decl(last.names + (i.name,), i.kind, i.decl_dims)
            else:
                decls.append(Decl((i.name,), i.kind, i.decl_dims))
        for f in self.functions:
            decls.append(Decl((f,), "elementwise"))
        return decls


def _fits(domain: str, want: str) -> bool:
    return want == "any" or domain == want


def _follows_convention(n: str, shape: Shape) -> bool:
    """Whether an undeclared ``n`` gets ``shape``'s kind by the naming convention."""
    from .infer import conventional_kind

    kind = conventional_kind(n)
    if is_scalar(shape):
        return kind == "scalar"
    if is_vector(shape):
        return kind == "vector"
    return kind == "matrix" and not is_row(shape)


# ---------------------------------------------------------------- reference evaluation


class Rejected(Exception):
    """The draw cannot judge the gradient (near a kink, ill-conditioned, overflow)."""


class Unsupported(Exception):
    """The reference evaluator cannot evaluate this model (an unsized constant it cannot place)."""


@dataclass(frozen=True)
class Fill:
    """A constant whose size is not known yet: ``ones``, ``vector(c)``, ``matrix(c)``, ``eye``.

    ``value`` is a batch of scalars ``(B, 1, 1)``; ``rows``/``cols`` are
    ``None`` while unknown.
    """

    value: np.ndarray
    rows: int | None
    cols: int | None
    eye: bool = False

    def sized(self, rows: int, cols: int) -> np.ndarray:
        if self.rows not in (None, rows) or self.cols not in (None, cols):
            raise Unsupported(f"constant of size {self.rows}×{self.cols} used as {rows}×{cols}")
        if self.eye:
            if rows != cols:
                raise Unsupported("a non-square identity")
            return self.value * np.eye(rows)
        return self.value * np.ones((rows, cols))

    def t(self) -> Fill:
        return Fill(self.value, self.cols, self.rows, self.eye)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


#: Entry-wise functions, written out here (not shared with matcalc's evaluator).
REF_ENTRYWISE: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "exp": np.exp, "log": np.log, "sin": np.sin, "cos": np.cos, "tan": np.tan,
    "arcsin": np.arcsin, "arccos": np.arccos, "arctan": np.arctan, "tanh": np.tanh,
    "sigmoid": _sigmoid, "sigm": _sigmoid, "relu": lambda x: np.where(x > 0, x, 0.0),
    "step": lambda x: np.where(x > 0, 1.0, 0.0), "sq": lambda x: x * x, "sqrt": np.sqrt,
    "abs": np.abs, "sign": np.sign, "softplus": lambda x: np.logaddexp(0.0, x), "log1p": np.log1p,
}  # fmt: skip

#: Distance from the argument to where the function is not smooth (or not defined).
_MARGIN: dict[str, Callable[[np.ndarray], float]] = {
    "relu": lambda x: np.abs(x).min(), "abs": lambda x: np.abs(x).min(),
    "step": lambda x: np.abs(x).min(), "sign": lambda x: np.abs(x).min(),
    "log": lambda x: x.min(), "sqrt": lambda x: x.min(), "log1p": lambda x: (1 + x).min(),
    "arcsin": lambda x: 1 - np.abs(x).max(), "arccos": lambda x: 1 - np.abs(x).max(),
    "tan": lambda x: np.abs(np.cos(x)).min(), "norm1": lambda x: np.abs(x).min(),
}  # fmt: skip

MARGIN = 1e-3
HUGE = 1e8


def _batch_sum(x: np.ndarray) -> np.ndarray:
    return x.sum(axis=(-2, -1), keepdims=True)


def _softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max(axis=-2, keepdims=True))
    return z / z.sum(axis=-2, keepdims=True)


def _logsumexp(x: np.ndarray) -> np.ndarray:
    m = x.max(axis=-2, keepdims=True)
    return m + np.log(np.exp(x - m).sum(axis=-2, keepdims=True))


def _vec(x: np.ndarray) -> np.ndarray:
    b, r, c = x.shape
    return np.swapaxes(x, -1, -2).reshape(b, r * c, 1)


def _logdet(x: np.ndarray) -> np.ndarray:
    sign, logabs = np.linalg.slogdet(x)
    if np.any(sign <= 0):
        raise Rejected("logdet of a matrix with det <= 0")
    return logabs[:, None, None]


REF_STRUCTURAL: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sum": _batch_sum,
    "tr": lambda x: np.trace(x, axis1=-2, axis2=-1)[:, None, None],
    "diag": lambda x: np.diagonal(x, axis1=-2, axis2=-1)[:, :, None],
    "Diag": lambda x: x * np.eye(x.shape[-2]),
    "vec": _vec,
    "inv": np.linalg.inv,
    "det": lambda x: np.linalg.det(x)[:, None, None],
    "logdet": _logdet,
    "norm1": lambda x: _batch_sum(np.abs(x)),
    "norm2": lambda x: np.sqrt(_batch_sum(x * x)),
    "normF": lambda x: np.sqrt(_batch_sum(x * x)),
    "softmax": _softmax,
    "logsumexp": _logsumexp,
}


def _is_scalar_array(x: np.ndarray) -> bool:
    return x.shape[-2:] == (1, 1)


class Reference:
    """Evaluates model trees over batches of inputs: every value is ``(B, rows, cols)``.

    ``dims`` gives the size of each dimension symbol (for ``ones(n)``,
    ``eye(n)``); ``functions`` the callables ``(g, g')`` of abstract
    entry-wise functions. With ``track`` set, values near a kink or a
    singularity, huge or non-finite values raise :class:`Rejected`.
    """

    def __init__(
        self,
        dims: dict[str, int],
        functions: dict[str, tuple[Callable, Callable]] | None = None,
        track: bool = False,
    ) -> None:
        self.dims = dims
        self.functions = functions or {}
        self.track = track
        self.env: dict[str, np.ndarray] = {}

    def run(
        self,
        statements: Sequence[Statement],
        inputs: dict[str, np.ndarray],
        output: str,
        override: dict[str, np.ndarray] | None = None,
        stop: str | None = None,
    ) -> dict[str, np.ndarray]:
        """Every definition's value (a bare expression is named ``output``), up to ``stop``."""
        self.env = dict(inputs)
        override = override or {}
        for st in statements:
            if not isinstance(st, Def):
                continue
            target = st.name if st.name is not None else output
            if target in override:
                self.env[target] = override[target]
            else:
                v = self.eval(st.expr)
                if isinstance(v, Fill):
                    raise Unsupported("a definition that is an unsized constant")
                self.env[target] = v
            if target == stop:
                break
        return self.env

    def check(self, x: np.ndarray) -> np.ndarray:
        if self.track:
            if not np.all(np.isfinite(x)):
                raise Rejected("a value is not finite")
            if x.size and np.abs(x).max() > HUGE:
                raise Rejected("a value is huge")
        return x

    def margin(self, what: str, m: float) -> None:
        if self.track and not m > MARGIN:
            raise Rejected(f"{what}: within {MARGIN} of a kink or singularity ({m:.2g})")

    def eval(self, e: Node) -> np.ndarray | Fill:
        with np.errstate(all="ignore"):
            out = self._eval(e)
        return out if isinstance(out, Fill) else self.check(out)

    def _size(self, node: Node) -> int:
        if node.op == "num":
            return int(node.value)  # type: ignore[arg-type]
        if node.op == "name" and node.value in self.dims:
            return self.dims[node.value]  # type: ignore[index]
        raise Unsupported(f"size {node.value!r}")

    def _eval(self, e: Node) -> np.ndarray | Fill:
        if e.op == "num":
            return np.full((1, 1, 1), float(e.value))  # type: ignore[arg-type]
        if e.op == "name":
            n = e.value
            if n in self.env:
                return self.env[n]  # type: ignore[index]
            if n == "ones":
                return Fill(np.ones((1, 1, 1)), None, 1)
            if n == "eye":
                return Fill(np.ones((1, 1, 1)), None, None, eye=True)
            raise Unsupported(f"unknown name {n!r}")
        if e.op == "neg":
            x = self.eval(e.kids[0])
            if isinstance(x, Fill):
                if x.eye:
                    raise Unsupported("-eye")
                return Fill(-x.value, x.rows, x.cols)
            return -x
        if e.op == "T":
            x = self.eval(e.kids[0])
            return x.t() if isinstance(x, Fill) else np.swapaxes(x, -1, -2)
        if e.op == "call":
            return self._call(e)
        assert e.op == "bin"
        op = str(e.value)
        if op in ("^", ".^"):
            return self._power(op, e.kids[0], e.kids[1])
        left, right = self.eval(e.kids[0]), self.eval(e.kids[1])
        return self._binary(op, left, right)

    def constant(self, e: Node) -> float:
        v = Reference({}, {}).eval(e)
        if isinstance(v, Fill) or v.shape != (1, 1, 1):
            raise Unsupported("a non-constant exponent")
        return float(v[0, 0, 0])

    def _power(self, op: str, base_node: Node, k_node: Node) -> np.ndarray | Fill:
        base = self.eval(base_node)
        k = self.constant(k_node)
        if isinstance(base, Fill):
            if base.eye:
                raise Unsupported("a power of eye")
            return Fill(np.power(base.value, k), base.rows, base.cols)
        if op == ".^" or _is_scalar_array(base):
            if k != int(k) or k < 0:
                self.margin("a fractional or negative power", float(np.abs(base).min()))
            return np.power(base, k)
        if k != int(k):
            raise Unsupported("a fractional matrix power")
        if k < 0:
            self.margin("a matrix inverse", 1.0 / float(np.linalg.cond(base).max()) * 1e6)
            base = np.linalg.inv(base)
        out = np.broadcast_to(np.eye(base.shape[-1]), base.shape).copy()
        for _ in range(int(abs(k))):
            out = out @ base
        return out

    def _binary(self, op: str, a, b) -> np.ndarray | Fill:
        if isinstance(a, Fill) or isinstance(b, Fill):
            return self._with_fill(op, a, b)
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op in ("*", "@"):
            if _is_scalar_array(a) or _is_scalar_array(b):
                return a * b
            if a.shape[-1] != b.shape[-2]:
                raise Unsupported(f"matrix product of {a.shape[1:]} and {b.shape[1:]}")
            return a @ b
        if op in (".*", "∘", "⊙"):
            return a * b
        if op in ("./", "/"):
            self.margin("a division", float(np.abs(b).min()))
            return a / b
        if op == ":":
            return _batch_sum(a * b)
        raise Unsupported(f"operator {op!r}")

    def _with_fill(self, op: str, a, b) -> np.ndarray | Fill:
        """An operation with an unsized constant: it takes the size its partner demands."""
        fa, fb = isinstance(a, Fill), isinstance(b, Fill)
        if fa and fb:
            raise Unsupported("an operation between two unsized constants")
        f, x = (a, b) if fa else (b, a)
        if _is_scalar_array(x):  # c * ones, alpha + ones: still a constant of unknown size
            if f.eye:
                raise Unsupported("a scalar with an unsized identity")
            value = self._binary(op, f.value, x) if fa else self._binary(op, x, f.value)
            return Fill(value, f.rows, f.cols)
        r, c = x.shape[-2:]
        if op in ("*", "@"):
            if f.eye:
                return x
            if fa:
                if f.rows is None:
                    raise Unsupported("an unsized constant on the left of a product")
                return self._binary(op, f.sized(f.rows, r), x)
            if f.cols is None:
                raise Unsupported("an unsized constant on the right of a product")
            return self._binary(op, x, f.sized(c, f.cols))
        sized = f.sized(r, c)
        return self._binary(op, sized, x) if fa else self._binary(op, x, sized)

    def _call(self, e: Node) -> np.ndarray | Fill:
        fn = str(e.value)
        if fn in ("ones", "eye") and e.kids:
            sizes = [self._size(k) for k in e.kids]
            if fn == "eye":
                return np.eye(sizes[0])[None]
            return np.ones((sizes[0], sizes[1] if len(sizes) > 1 else 1))[None]
        if fn in ("vector", "matrix"):
            c = self.eval(e.kids[0])
            if isinstance(c, Fill) or not _is_scalar_array(c):
                raise Unsupported(f"{fn}(...) of a non-scalar")
            return Fill(c, None, 1 if fn == "vector" else None)
        if len(e.kids) != 1:
            raise Unsupported(f"{fn} with {len(e.kids)} arguments")
        x = self.eval(e.kids[0])
        if fn in REF_ENTRYWISE or fn in self.functions:
            f = REF_ENTRYWISE.get(fn) or self.functions[fn][0]
            if isinstance(x, Fill):
                if x.eye:
                    raise Unsupported(f"{fn}(eye)")
                return Fill(f(x.value), x.rows, x.cols)
            if fn in _MARGIN:
                self.margin(fn, float(_MARGIN[fn](x)))
            return f(x)
        if isinstance(x, Fill):
            raise Unsupported(f"{fn} of an unsized constant")
        if fn in ("norm2", "normF"):
            self.margin(fn, float(np.sqrt(_batch_sum(x * x)).min()))
        elif fn == "norm1":
            self.margin(fn, float(np.abs(x).min()))
        elif fn == "inv":
            self.margin("inv", 1e6 / float(np.linalg.cond(x).max()))
        elif fn == "det":
            self.margin("det", 1e6 / float(np.linalg.cond(x).max()))
        if fn not in REF_STRUCTURAL:
            raise Unsupported(f"unknown function {fn!r}")
        return REF_STRUCTURAL[fn](x)


# ---------------------------------------------------------------- instances and the property


@dataclass
class Case:
    """A model text, what to differentiate, and concrete sizes and inputs."""

    text: str
    wrt: tuple[str, ...]
    of: str | None
    statements: tuple[Statement, ...]
    dims: dict[str, int]
    inputs: dict[str, np.ndarray]  # every value 2-D
    symmetric: frozenset[str] = frozenset()
    functions: tuple[str, ...] = ()

    def describe(self) -> str:
        of = f" --of {self.of}" if self.of else ""
        sizes = ", ".join(f"{d}={s}" for d, s in self.dims.items())
        return f"matcalc check {self.text!r} --wrt {','.join(self.wrt)}{of}   # sizes {sizes}"


def draw_array(rng: np.random.Generator, shape: tuple[int, int], domain: str, symmetric: bool) -> np.ndarray:
    r, c = shape
    if domain == "spd":
        a = rng.normal(size=(r, r))
        return a @ a.T / r + np.eye(r)
    if domain == "positive":
        x = rng.uniform(0.5, 1.5, size=(r, c))
    elif domain == "small":
        x = rng.uniform(-0.5, 0.5, size=(r, c))
    else:
        x = rng.normal(size=(r, c))
    return (x + x.T) / 2 if symmetric else x


def distinct_sizes(rng: np.random.Generator, dims: Sequence[str]) -> dict[str, int]:
    """A different size, from 2 up, for every dimension symbol."""
    pool = list(range(2, 5 + len(dims)))
    sizes = rng.choice(pool, size=len(dims), replace=False)
    return {d: int(s) for d, s in zip(dims, sizes)}


def instance(gm: GeneratedModel) -> Case:
    """Random distinct sizes and random inputs (in their domains) for a generated model."""
    rng = np.random.default_rng(gm.seed)
    dims = distinct_sizes(rng, gm.dims)

    def size(d: Dim) -> int:
        return d if isinstance(d, int) else dims[d]

    inputs = {
        i.name: draw_array(rng, (size(i.shape[0]), size(i.shape[1])), i.domain, i.symmetric)
        for i in gm.inputs
    }
    sym = frozenset(i.name for i in gm.inputs if i.symmetric)
    return Case(gm.text, gm.wrt, gm.of, gm.statements, dims, inputs, sym, gm.functions)


#: The concrete abstract function used for every declared elementwise name: sin, and cos its derivative.
ABSTRACT = (np.sin, np.cos)


@dataclass
class Outcome:
    """``ok``, ``rejected`` (the draw cannot judge) or ``failed`` (a disagreement)."""

    status: str
    detail: str = ""
    case: Case | None = field(default=None, repr=False)

    def report(self) -> str:
        head = f"{self.status}: {self.detail}"
        return head if self.case is None else f"{head}\n  model: {self.case.describe()}"


H = 1e-4
TOLERANCE = 1e-5
VALUE_TOLERANCE = 1e-7
NOISE = 1e-7


def _to_2d(value) -> np.ndarray:
    a = np.asarray(value, dtype=float)
    return a.reshape(1, 1) if a.ndim == 0 else a.reshape(-1, 1) if a.ndim == 1 else a


def numeric_gradient(
    ref: Reference,
    case: Case,
    output: str,
    var: str,
    base_env: dict[str, np.ndarray],
    is_input: bool,
    symmetric: bool | None = None,
) -> tuple[np.ndarray, float]:
    """Central differences of ``output`` w.r.t. every entry of ``var`` (Richardson-extrapolated)
    and an estimate of their error; ``symmetric``: perturb ``var`` symmetrically (default: when
    it is a declared symmetric input)."""
    base = base_env[var][0]
    r, c = base.shape
    if symmetric is None:
        symmetric = var in case.symmetric
    entries = [(i, j) for i in range(r) for j in range(c) if not symmetric or j >= i]
    steps = (H, 2 * H, 4 * H, H / 8, H / 4)
    stack = np.empty((len(entries), len(steps), 2, r, c))
    stack[...] = base
    for n, (i, j) in enumerate(entries):
        for s, h in enumerate(steps):
            for k, sign in enumerate((1.0, -1.0)):
                stack[n, s, k, i, j] += sign * h
                if symmetric and i != j:
                    stack[n, s, k, j, i] += sign * h
    batch = stack.reshape(-1, r, c)
    if is_input:
        inputs = {k: v for k, v in base_env.items() if k in case.inputs}
        env = ref.run(case.statements, {**inputs, var: batch}, output, stop=output)
    else:
        inputs = {k: base_env[k] for k in case.inputs}
        env = ref.run(case.statements, inputs, output, override={var: batch}, stop=output)
    f = np.broadcast_to(env[output][:, 0, 0], (len(batch),)).reshape(len(entries), len(steps), 2)
    d = (f[:, :, 0] - f[:, :, 1]) / (2 * np.array(steps))
    r1 = d[:, 0] + (d[:, 0] - d[:, 1]) / 3
    r2 = d[:, 1] + (d[:, 1] - d[:, 2]) / 3  # h⁴ error: 16 times r1's
    r3 = d[:, 3] + (d[:, 3] - d[:, 4]) / 3  # steps 32 times smaller: catches what oscillates within h
    grad = np.zeros((r, c))
    noise = np.zeros((r, c))
    for n, (i, j) in enumerate(entries):
        scale = 0.5 if symmetric and i != j else 1.0
        grad[i, j] = r1[n] * scale
        noise[i, j] = max(abs(r1[n] - r2[n]) / 15, abs(r1[n] - r3[n])) * scale + 1e-15
        if symmetric:
            grad[j, i], noise[j, i] = grad[i, j], noise[i, j]
    return grad, float(np.linalg.norm(noise))


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    scale = max(float(np.linalg.norm(a)), float(np.linalg.norm(b)), 1.0)
    return float(np.linalg.norm(a - b)) / scale


def check_case(case: Case, derivations: bool = False, check_parse: bool = True) -> Outcome:
    """The property: the generated NumPy module's value and gradients agree with the
    reference value and its central differences."""
    import matcalc

    def failed(what: str) -> Outcome:
        return Outcome("failed", what, case)

    functions = {g: ABSTRACT for g in case.functions}
    # 1. the reference, first: a draw it cannot judge is rejected before matcalc runs
    try:
        ref = Reference(case.dims, functions, track=True)
        # the output's name is matcalc's; the reference names a bare expression "<output>"
        base = ref.run(case.statements, {k: v[None] for k, v in case.inputs.items()}, "<output>",
                       stop=case.of)
    except Rejected as err:
        return Outcome("rejected", str(err), case)
    except Unsupported as err:
        return Outcome("unsupported", str(err), case)
    output = case.of or _last_definition(case.statements)
    want_value = float(base[output][0, 0, 0])
    if abs(want_value) > 1e6:
        return Outcome("rejected", "the value is huge", case)

    # 2. matcalc: parse (as written), derive, print, generate
    try:
        if check_parse:
            misread = round_trip(case.text, case.statements)
            if misread:
                return failed(f"the parser misread the model: {misread}")
        model = matcalc.parse(case.text)
        g = matcalc.grad(model, wrt=list(case.wrt), of=case.of)
        g.text()
        g.latex()
        if derivations:
            g.steps_text()
        fn = g.to_function()
    except Exception as err:  # any error on a well-typed model is a disagreement
        return failed(f"matcalc raised {type(err).__name__}: {err}\n{_where(err)}")

    # 3. the generated module
    args = []
    drawn = {unicodedata.normalize("NFC", k): a for k, a in case.inputs.items()}  # as matcalc reads
    for v in model.inputs:
        if v.name not in drawn:
            return failed(f"matcalc found an input {v.name!r} the model does not have")
        a = drawn[v.name]
        args.append(float(a[0, 0]) if v.shape == (1, 1) else a[:, 0].copy() if v.shape[1] == 1 else a.copy())
    for f in sorted(model.elementwise):
        args += list(functions[f])
    try:
        with np.errstate(all="ignore"):
            result = fn(*args)
    except Exception as err:
        return failed(f"the generated module raised {type(err).__name__}: {err}\n{_where(err)}")
    if not isinstance(result, tuple) or len(result) != 1 + len(case.wrt):
        return failed(f"the generated module returned {type(result).__name__} of the wrong length")
    value, grads = result[0], result[1:]
    if not isinstance(value, float):
        return failed(f"the value is a {type(value).__name__}, not a float")
    if abs(value - want_value) > VALUE_TOLERANCE * max(abs(value), abs(want_value), 1.0):
        return failed(f"value {value!r} but the model's value is {want_value!r}")

    # 4. each gradient: its shape by the contract, then central differences
    ref = Reference(case.dims, functions)
    for name_, grad in zip(case.wrt, grads):
        want_shape = base[name_][0].shape
        if want_shape == (1, 1) and model.lookup(name_).shape == (1, 1):
            if not isinstance(grad, float):
                return failed(f"∂/∂{name_} is a {type(grad).__name__}, not a float")
        else:
            vector = model.lookup(name_).shape[1] == 1
            shape = (want_shape[0],) if vector else want_shape
            if not isinstance(grad, np.ndarray) or grad.shape != shape or grad.dtype != np.float64:
                got = getattr(grad, "shape", type(grad).__name__)
                return failed(f"∂/∂{name_} has shape {got}, the contract says {shape}")
        try:
            # a definition symmetric by construction varies only symmetrically (README)
            by_construction = any(v.name == name_ and v.symmetric for v, _ in model.definitions)
            numeric, noise = numeric_gradient(
                ref, case, output, name_, base, name_ in case.inputs, by_construction or None
            )
        except (Rejected, Unsupported) as err:
            return Outcome("rejected", str(err), case)
        symbolic = _to_2d(grad)
        # the noise is judged against the differences alone: a wrong (large) symbolic gradient
        # must not make noisy differences look precise
        scale = max(float(np.linalg.norm(numeric)), 1.0)
        if not np.all(np.isfinite(numeric)) or noise / scale > NOISE:
            why = f"∂/∂{name_}: finite differences too noisy ({noise / scale:.1e})"
            return Outcome("rejected", why, case)
        err = relative_error(symbolic, numeric)
        if not err <= TOLERANCE:
            text = g.text().splitlines()[list(g.wrt).index(name_)]
            return failed(
                f"∂/∂{name_}: relative error {err:.2e}\n  matcalc: {text}\n"
                f"  symbolic: {np.array2string(symbolic, precision=5)}\n"
                f"  numeric:  {np.array2string(numeric, precision=5)}"
            )
    return Outcome("ok", "", case)


def _last_definition(statements: Sequence[Statement]) -> str:
    last = [s for s in statements if isinstance(s, Def)][-1]
    return last.name if last.name is not None else "<output>"


def _where(err: BaseException) -> str:
    tb = traceback.extract_tb(err.__traceback__)
    return "".join(traceback.format_list(tb[-3:])).rstrip()


# ---------------------------------------------------------------- models from text


def from_syntax(statements) -> tuple[Statement, ...]:
    """matcalc's surface syntax (:mod:`matcalc.syntax`) as :class:`Decl`/:class:`Def` trees."""
    from . import syntax as sx

    def node(e) -> Node:
        stack, out = [(e, False)], []
        while stack:  # iterative: parsed trees may be deep
            n, done = stack.pop()
            kids = _syntax_kids(n, sx)
            if not done:
                stack.append((n, True))
                stack.extend((k, False) for k in reversed(kids))
                continue
            args = tuple(out[len(out) - len(kids):]) if kids else ()
            if kids:
                del out[len(out) - len(kids):]
            if isinstance(n, sx.Number):
                out.append(Node("num", n.value, (), str(n.value)))
            elif isinstance(n, sx.Name):
                out.append(name(n.name))
            elif isinstance(n, sx.Call):
                out.append(Node("call", n.name, args))
            elif isinstance(n, sx.Neg):
                out.append(Node("neg", None, args))
            elif isinstance(n, sx.Transpose):
                out.append(Node("T", None, args, "'"))
            else:
                out.append(Node("bin", n.op, args))
        return out[0]

    result: list[Statement] = []
    for st in statements:
        if isinstance(st, sx.Declaration):
            result.append(Decl(tuple(n.name for n in st.names), st.kind.name, tuple(st.kind.dims)))
        elif isinstance(st, sx.Assign):
            result.append(Def(st.target.name, node(st.expr)))
        else:
            result.append(Def(None, node(st.expr)))
    return tuple(result)


def _syntax_kids(n, sx) -> tuple:
    if isinstance(n, sx.Binary):
        return (n.left, n.right)
    if isinstance(n, (sx.Neg, sx.Transpose)):
        return (n.operand,)
    if isinstance(n, sx.Call):
        return n.args
    return ()


def statement_key(st: Statement) -> tuple:
    if isinstance(st, Decl):
        return ("decl", st.names, st.kind, st.dims)
    return ("def", st.name, st.expr.key())


def round_trip(text: str, statements: Sequence[Statement]) -> str | None:
    """Where matcalc's parser reads ``text`` differently from the trees it was printed from."""
    from .parser import parse_statements

    parsed = from_syntax(parse_statements(text))
    if len(parsed) != len(statements):
        return f"{len(parsed)} statements parsed, {len(statements)} written"
    for i, (a, b) in enumerate(zip(parsed, statements)):
        if statement_key(a) != statement_key(b):
            return f"statement {i + 1} parsed as {statement_key(a)}, written as {statement_key(b)}"
    return None


def case_from_text(
    text: str,
    wrt: str | Sequence[str],
    of: str | None = None,
    seed: int = 0,
    domains: dict[str, str] | None = None,
) -> Case:
    """A case for a model given as text (a regression): sizes and inputs drawn at random.

    ``domains`` maps inputs to ``positive``, ``small`` or ``spd`` (others are
    standard normal; ``symmetric`` inputs are drawn symmetric). Names are taken in NFC,
    as matcalc reads the text.
    """
    import matcalc

    from .parser import parse_statements

    text = unicodedata.normalize("NFC", text)
    model = matcalc.parse(text)
    domains = domains or {}
    rng = np.random.default_rng(seed)
    dims = distinct_sizes(rng, model.dims)

    def size(d: Dim) -> int:
        if isinstance(d, int):
            return d
        out = 1
        for part in d.split("*"):
            out *= int(part) if part.isdigit() else dims[part]
        return out

    inputs = {
        v.name: draw_array(rng, (size(v.shape[0]), size(v.shape[1])), domains.get(v.name, "any"), v.symmetric)
        for v in model.inputs
    }
    sym = frozenset(v.name for v in model.inputs if v.symmetric)
    wrt = tuple(w.strip() for w in wrt.split(",")) if isinstance(wrt, str) else tuple(wrt)
    wrt = tuple(unicodedata.normalize("NFC", w) for w in wrt)
    statements = from_syntax(parse_statements(text))
    return Case(text, wrt, of, statements, dims, inputs, sym, tuple(model.elementwise))


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
    body = [s for s in gm.statements if isinstance(s, Def)]
    taken = {n for d in decls for n in d.names} | {i.name for i in gm.inputs} | set(gm.functions)
    taken |= {d.name for d in body if d.name}
    used_dims = set(gm.dims)
    fresh_dims = [d for d in ("da", "db", "dc", "dd", "de") if d not in used_dims]
    da, db, dc = fresh_dims[:3]
    q1, q2 = [n for n in ("Bad1", "Bad2", "Bad3", "Bad4") if n not in taken][:2]
    x = pick(ch, sorted(i.name for i in gm.inputs))
    extra: list[Decl] = []
    what = weighted(ch, [(3, "shape"), (2, "matmul"), (2, "square"), (1, "vector"), (1, "divide"),
                         (1, "exponent"), (2, "arity"), (2, "unknown"), (2, "definition"), (3, "syntax"),
                         (1, "output"), (1, "bare"), (1, "redeclared"), (1, "misuse"), (1, "declaration")])
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
            text, line = _render(decls, body, bad)
            return BadModel(text, line, f"definition: {q2} used before it is defined")
        if how == "self":
            line_text = f"{q1} + 1"
        elif how == "redefine":
            n = pick(ch, defs)
            bad = Def(n, Node("raw", f"{x}"))
            body.append(bad)  # after the first definition of n: the error is here
            text, line = _render(decls, body, bad)
            return BadModel(text, line, f"definition: {n} defined twice")
        else:
            bad = Def(x, Node("raw", "1"))
            if not any(x in d.names for d in decls):
                decls.append(Decl((x,), "scalar"))  # declare it so it cannot be redefined
                if not is_scalar(next(i.shape for i in gm.inputs if i.name == x)):
                    return ill_typed_model(ch, names)
            body.insert(len(body) - 1, bad)
            text, line = _render(decls, body, bad)
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
        text, line = _render(decls + extra, body, bad)
        return BadModel(text, line, "output: a non-scalar to differentiate", wrt=q1)
    elif what == "bare":
        bad = Def(None, Node("raw", f"{x} + 1"))
        body.insert(len(body) - 1, bad)
        text, line = _render(decls, body, bad)
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
        text, line = _render(decls, body, bad)
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
        text, line = _render(decls, body, bad)
        return BadModel(text, line, f"declaration: {q1}: {bad_decl}")
    bad = Def(None if at_end else q1, Node("raw", line_text))
    body.insert(len(body) - 1, bad)
    text, line = _render(decls + extra, body, bad)
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
        dims = {"scalar": (), "elementwise": (), "vector": (1,), "symmetric": (1,), "matrix": (1, 1)}[kind]
        sizes = tuple(pick(ch, ("n", "m", "k", 1, 2, "x")) for _ in dims)
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

    from .errors import MatcalcError

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


# ---------------------------------------------------------------- shrinking


def failure_kind(out: Outcome) -> str:
    """What went wrong, without the particulars (so that a smaller model can fail alike)."""
    head = out.detail.split("\n")[0]
    for prefix in ("matcalc raised", "the generated module raised"):
        if head.startswith(prefix):
            return " ".join(head.split()[: len(prefix.split()) + 1]).rstrip(":")
    if "relative error" in head:
        return "gradient"
    return head.split(":")[0].split(" ")[0]


def _uses(statements: Sequence[Statement]) -> set[str]:
    names: set[str] = set()
    for st in statements:
        if isinstance(st, Def):
            stack = [st.expr]
            while stack:
                n = stack.pop()
                if n.op in ("name", "call"):
                    names.add(str(n.value))
                stack.extend(n.kids)
    return names


def _simpler(statements: tuple[Statement, ...], wrt: tuple[str, ...]):
    """Candidate simplifications of a model, roughly the biggest cuts first."""
    defs = [i for i, st in enumerate(statements) if isinstance(st, Def)]
    for i in defs[:-1]:  # drop a definition
        yield statements[:i] + statements[i + 1 :], wrt
    for k in range(len(wrt)):  # differentiate w.r.t. fewer names
        if len(wrt) > 1:
            yield statements, wrt[:k] + wrt[k + 1 :]
    for i in defs:  # replace a sub-expression by one of its operands
        st = statements[i]
        assert isinstance(st, Def)
        for new in _smaller_trees(st.expr):
            yield statements[:i] + (Def(st.name, new),) + statements[i + 1 :], wrt
    used = _uses(statements) | set(wrt)
    for i, st in enumerate(statements):  # drop declarations of unused names
        if isinstance(st, Decl):
            keep = tuple(n for n in st.names if n in used)
            if keep != st.names:
                rest = (Decl(keep, st.kind, st.dims),) if keep else ()
                yield statements[:i] + rest + statements[i + 1 :], wrt


def _smaller_trees(e: Node):
    """``e`` with one sub-tree replaced by one of its children (outermost first)."""
    for kid in e.kids:
        yield kid
    for j, kid in enumerate(e.kids):
        for new in _smaller_trees(kid):
            yield Node(e.op, e.value, e.kids[:j] + (new,) + e.kids[j + 1 :], e.spelling)


def shrink(out: Outcome, budget: int = 300) -> Outcome:
    """A smaller model failing the same way (greedy: keep any simplification that still fails)."""
    assert out.case is not None
    kind = failure_kind(out)
    best = out
    tries = 0
    improved = True
    while improved and tries < budget:
        improved = False
        case = best.case
        assert case is not None
        for statements, wrt in _simpler(case.statements, case.wrt):
            tries += 1
            if tries > budget:
                break
            text = Printer(plain=True).model(statements)
            of = case.of if case.of in {s.name for s in statements if isinstance(s, Def)} else None
            if case.of and of is None:
                continue
            inputs = {k: v for k, v in case.inputs.items() if k in _uses(statements) or k in wrt}
            trial = Case(text, wrt, of, statements, case.dims, inputs, case.symmetric, case.functions)
            try:
                res = check_case(trial)
            except Exception:  # a candidate the harness itself cannot handle
                continue
            if res.status == "failed" and failure_kind(res) == kind:
                best, improved = res, True
                break
    return best


# ---------------------------------------------------------------- the command


def generate(seed: int | str, names: NamePool = DEFAULT_NAMES) -> GeneratedModel:
    """Model number ``seed`` of the seeded generator (a few sizes of model, mostly small)."""
    ch = RandomChooser(f"matcalc-selftest:{seed}")
    depth = weighted(ch, [(3, 3), (1, 2), (1, 4)])
    defs = weighted(ch, [(3, 3), (1, 5)])
    gen = ModelGenerator(ch, names, max_depth=depth, max_definitions=defs)
    deep = chance(ch, 15)
    return gen.model(seed=ch.integer(0, 2**32 - 1), deep=deep)


@dataclass
class Summary:
    """Figures of a run of the random-model property."""

    tried: int = 0
    checked: int = 0
    rejected: int = 0
    unsupported: int = 0
    failures: list[tuple[int, Outcome]] = field(default_factory=list)
    seconds: float = 0.0


def run(
    examples: int,
    seed: int = 0,
    names: NamePool = DEFAULT_NAMES,
    derivations: bool = False,
    max_seconds: float | None = None,
    progress: Callable[[Summary], None] | None = None,
) -> Summary:
    """Check ``examples`` random models (numbers ``seed * 10**9 + i``), or as many as fit in
    ``max_seconds``."""
    s = Summary()
    start = time.perf_counter()
    step = max(1, examples // 10)
    for i in range(examples):
        number = seed * 10**9 + i
        out = check_case(instance(generate(number, names)), derivations=derivations)
        s.tried += 1
        if out.status == "ok":
            s.checked += 1
        elif out.status == "rejected":
            s.rejected += 1
        elif out.status == "unsupported":
            s.unsupported += 1
        else:
            s.failures.append((number, out))
        s.seconds = time.perf_counter() - start
        if progress is not None and (i + 1) % step == 0:
            progress(s)
        if max_seconds is not None and s.seconds > max_seconds:
            break
    return s


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


def command(args) -> int:
    """``matcalc selftest``: the figures, and exit status 1 on any disagreement."""
    import sys

    def progress(s: Summary) -> None:
        print(f"  ... {s.tried} models, {len(s.failures)} disagreements, {s.seconds:.0f} s",
              file=sys.stderr, flush=True)

    print(f"matcalc selftest: seed {args.seed}")
    s = run(args.examples, args.seed, derivations=args.derivations, max_seconds=args.max_seconds,
            progress=progress if args.examples >= 5000 else None)
    print(format_summary(s))
    bad = len(s.failures)
    for number, out in s.failures[: args.show]:
        print(f"\ndisagreement on model #{number} "
              f"(matcalc.selftest.instance(matcalc.selftest.generate({number}))):")
        print(out.report())
        small = shrink(out)
        if small is not out:
            print(f"shrunk to:\n{small.report()}")
    if args.ill_typed:
        t = time.perf_counter()
        n, wrong = run_ill_typed(args.ill_typed, args.seed)
        print(f"ill-typed models   {n}, without a located error: {len(wrong)}  "
              f"({time.perf_counter() - t:.1f} s)")
        for w in wrong[: args.show]:
            print("  " + w)
        bad += len(wrong)
    if args.fuzz:
        t = time.perf_counter()
        counts, wrong = run_fuzz(args.fuzz, args.seed, extreme=args.extreme_numbers)
        print(f"fuzzed inputs      {args.fuzz}: {counts['derived']} differentiated, "
              f"{counts['parsed']} parsed, {counts['error']} located errors, {len(wrong)} uncaught"
              f"  ({time.perf_counter() - t:.1f} s)")
        for w in wrong[: args.show]:
            print("  " + w[:300])
        bad += len(wrong)
    return 1 if bad else 0


def format_summary(s: Summary) -> str:
    """The figures of a run, one per line."""
    per = 1000 * s.seconds / max(s.tried, 1)
    return "\n".join([
        f"models tried       {s.tried}",
        f"  checked          {s.checked}",
        f"  rejected draws   {s.rejected}  (near a kink or singularity, overflowing, or too noisy to judge)",
        f"  unsupported      {s.unsupported}",
        f"disagreements      {len(s.failures)}",
        f"time               {s.seconds:.1f} s ({per:.1f} ms per model)",
    ])
