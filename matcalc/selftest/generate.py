"""Random well-typed models as text: the :class:`Chooser` every random choice goes
through, the small tree of model text (:class:`Node`) and its printer, and the
:class:`ModelGenerator` over every operator and function of the language
(entry-wise functions and their domains from the operation registry)."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

from .. import dims
from ..ops import entrywise as _entrywise  # noqa: F401  (the entries this module reads on import)
from ..ops import structural as _structural  # noqa: F401
from ..ops.registry import OPS, entrywise_ops

Dim = dims.Dim
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


@dataclass(frozen=True)
class Fun:
    """``name(param) = body``: a function defined by formula."""

    name: str
    param: str
    body: Node
    #: where its argument must lie (``any``, ``positive``, ``small``): the draw of the domain
    #: matcalc derives from the body (:attr:`matcalc.formulas.Formula.domain`)
    domain: str = "any"


Statement = Decl | Fun | Def

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
        if isinstance(st, Fun):
            return f"{st.name}({st.param}) = {self.expr(st.body)}"
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
    #: Functions defined by formula, and their parameters.
    formulas: tuple[str, ...] = ("softsign", "swish", "gelu", "mish", "leaky", "ψ_act")
    params: tuple[str, ...] = ("u", "t", "z", "ξ")
    dims: tuple[str, ...] = ("n", "m", "p", "k", "d", "N_max", "ℓ")
    declared: tuple[str, ...] = ()
    #: Undeclared inputs are allowed (False: every input is declared).
    undeclared: bool = True


DEFAULT_NAMES = NamePool()

#: Names with a meaning of their own in expressions: never given to anything generated.
RESERVED = frozenset(
    "ones eye vector matrix scalar symmetric elementwise T".split()
    + [s for op in OPS.values() for s in (op.name, *op.aliases)]
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
def _entrywise_by_domain() -> dict[str, tuple[str, ...]]:
    """Every spelling of every registered entry-wise function, by what its argument needs:
    ``any``, ``kink`` (any, but not smooth somewhere), ``positive`` or ``small``."""
    groups: dict[str, list[str]] = {"any": [], "kink": [], "positive": [], "small": []}
    for op in entrywise_ops():
        d = op.domain
        groups["kink" if d.draw == "any" and d.margin is not None else d.draw].extend(op.spellings)
    return {k: tuple(v) for k, v in groups.items()}


_BY_DOMAIN = _entrywise_by_domain()
ANY_ARG = _BY_DOMAIN["any"]
KINKED = _BY_DOMAIN["kink"]
POSITIVE_ARG = _BY_DOMAIN["positive"]
SMALL_ARG = _BY_DOMAIN["small"]


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
        self.formulas: list[Fun] = []
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
            free = [d for d in map(dims.symbol, self.pool.dims) if d not in self.dims]
            d = pick(self.ch, free) if free else dims.symbol(f"n{len(self.dims)}")
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
            self.bound.update(sym for d in shape for sym in dims.symbols(d))
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
            self.bound.update(sym for d in shape for sym in dims.symbols(d))
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
        size = self.bound_symbol(shape[0])
        if is_vector(shape):
            options = [(2, "ones"), (1, "vector")] + ([(1, "ones(n)")] if size else [])
        elif is_square(shape):
            options += [(2, "eye")] + ([(1, "eye(n)")] if size else [])
        how = weighted(self.ch, options)
        if how == "ones":
            return name("ones")
        if how == "ones(n)":
            return call("ones", name(size))
        if how == "eye":
            return name("eye")
        if how == "eye(n)":
            return call("eye", name(size))
        c = pick(self.ch, [num(1), num(2), neg(num("0.5"))])
        return call(how, c)

    def identity(self, shape: Shape) -> Node:
        size = self.bound_symbol(shape[0])
        if size and chance(self.ch, 50):
            return call("eye", name(size))
        return name("eye")

    def bound_symbol(self, d: Dim) -> str:
        """The name of ``d`` if it is a symbol a declared input's size gives ('' if not)."""
        symbol = dims.symbol_name(d)
        return symbol if symbol in self.bound else ""

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

    def formula(self) -> Fun:
        """A function defined by formula (a new one while there are few); one in four is
        defined only where an entry-wise function of its parameter is (``log(u) + …``,
        ``arcsin(u) * …``), and is called on arguments in that domain."""
        if self.formulas and (len(self.formulas) >= 2 or chance(self.ch, 60)):
            return pick(self.ch, self.formulas)
        fn = self._fresh(self.pool.formulas, "h")
        param = pick(self.ch, self.pool.params)
        body = self.formula_body(param, 2)
        domain = weighted(self.ch, [(6, "any"), (1, "positive"), (1, "small")])
        if domain != "any":
            inner = call(pick(self.ch, POSITIVE_ARG if domain == "positive" else SMALL_ARG), name(param))
            body = binary(pick(self.ch, ("+", "*")), inner, body)
        self.formulas.append(Fun(fn, param, body, domain))
        return self.formulas[-1]

    def formula_body(self, u: str, depth: int) -> Node:
        """A scalar expression in ``u`` defined for every real ``u``."""
        how = weighted(self.ch, [(3, "param"), (1, "number"), (3, "function"), (1, "kink"), (2, "sum"),
                                 (2, "product"), (1, "quotient"), (1, "power"), (1, "formula")])
        if depth <= 0 or how == "param":
            return name(u) if depth <= 0 or chance(self.ch, 80) else binary("*", num("1.5"), name(u))
        if how == "number":
            return binary(pick(self.ch, ("*", "+")), pick(self.ch, (num(2), num("0.5"), num("1.702"))),
                          self.formula_body(u, depth - 1))
        if how == "function":
            return call(pick(self.ch, ANY_ARG), self.formula_body(u, depth - 1))
        if how == "kink":
            return call(pick(self.ch, KINKED), self.formula_body(u, depth - 1))
        if how in ("sum", "product"):
            op = pick(self.ch, ("+", "-")) if how == "sum" else pick(self.ch, ("*", ".*", "∘"))
            return binary(op, self.formula_body(u, depth - 1), self.formula_body(u, depth - 1))
        if how == "quotient":
            bottom = pick(self.ch, (call("abs", self.formula_body(u, depth - 1)),
                                    call("sq", self.formula_body(u, depth - 1)),
                                    call("exp", self.formula_body(u, depth - 1))))
            return binary("/", self.formula_body(u, depth - 1), binary("+", num(1), bottom))
        if how == "power":
            return binary("^", self.formula_body(u, depth - 1), num(2))
        earlier = [f.name for f in self.formulas if f.domain == "any"]
        if not earlier:
            return self.formula_body(u, depth)
        return call(pick(self.ch, earlier), self.formula_body(u, depth - 1))

    def entrywise(self, shape: Shape, want: str, depth: int) -> Node:
        kind = weighted(self.ch, [(6, "any"), (2, "kink"), (3, "positive"), (1, "small"), (1, "abstract"),
                                  (1, "formula")])
        if kind == "formula":
            fun = self.formula()
            return call(fun.name, self.expr(shape, fun.domain, depth))
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
                                 (1, "inner"), (1, "kron")])
        if how == "kron":
            s, t = self.shape(), self.shape()
            # each factor holds a declared input: inference cannot split a size k1*k2 = n*m
            a, c = (binary(".*", self.expr(u, "any", depth), self.declared_input(u)) if u != SCALAR
                    else self.expr(u, "any", depth) for u in (s, t))
            k = call("kron", a, c) if chance(self.ch, 50) else binary("⊗", a, c)
            if chance(self.ch, 50):
                return call(pick(self.ch, ("sum", "normF")), k)
            shape = (dims.mul(s[0], t[0]), dims.mul(s[1], t[1]))  # declared as m*n, as kron makes it
            return binary(":", k, self.declared_input(shape))
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

    #: The levels of :meth:`deep_nest`, with weights: each takes the vector ``h`` below it.
    NEST_LEVELS = ((4, "entrywise"), (3, "softmax"), (2, "power"), (1, "inv"), (1, "diag"),
                   (1, "norm"), (1, "logdet"), (1, "tr"), (1, "det"), (1, "residual"), (1, "gate"))
    #: Levels that write ``h`` twice (the model's text doubles with each): at most this many.
    NEST_TWICE = 2

    def deep_nest(self) -> Def:
        """One definition nesting 3 to 6 levels in a single expression, entry-wise and
        structural (``softmax``, ``inv``, ``diag``/``Diag``, norms, ``logdet``, ``det``,
        ``tr``, a matrix power, a residual or gated level), the weights shared by every
        level or not; its value is a scalar (``sum`` or ``logsumexp`` of the last level)."""
        n = self.dim()
        shared = self.new_input((n, n), "any") if chance(self.ch, 40) else None
        h = self.new_input((n, 1), "any")
        twice = 0
        for _ in range(self.ch.integer(3, 6)):
            w = shared or self.new_input((n, n), "any")
            level = weighted(self.ch, self.NEST_LEVELS)
            if level in ("logdet", "tr", "det", "residual", "gate") and twice >= self.NEST_TWICE:
                level = "entrywise"
            wh = binary("*", w, h)
            if level == "entrywise":
                h = call(pick(self.ch, ("tanh", "sigmoid", "sin", "arctan")), wh)
            elif level == "softmax":
                h = call("softmax", wh)
            elif level == "power":
                h = call("tanh", binary("*", binary("^", w, num(self.ch.integer(2, 3))), h))
            elif level == "inv":  # a positive diagonal plus the identity: always invertible
                d = call("Diag", call("exp", wh))
                h = binary("*", call("inv", binary("+", name("eye"), d)), self.new_input((n, 1), "any"))
            elif level == "diag":
                h = call("diag", binary("*", binary("*", w, call("Diag", h)), transpose(w, self._tick())))
            elif level == "norm":
                h = binary("*", call("sigmoid", binary("*", w, self.new_input((n, 1), "any"))),
                           call(pick(self.ch, ("norm2", "normF")), h))
            else:
                twice += 1
                if level == "logdet":
                    outer = binary("*", h, transpose(h, self._tick()))
                    h = binary("*", call("tanh", wh), call("logdet", binary("+", name("eye"), outer)))
                elif level == "det":
                    outer = binary("*", h, transpose(h, self._tick()))
                    h = binary("*", call("sigmoid", wh), call("det", binary("+", name("eye"), outer)))
                elif level == "tr":
                    h = binary("*", call("tanh", wh), call("tr", binary("*", w, call("Diag", h))))
                elif level == "residual":
                    h = binary("+", h, call("tanh", wh))
                else:  # gated: h ∘ σ(W h)
                    h = binary(".*", h, call("sigmoid", wh))
        out = self._fresh(self.pool.definitions, "s")
        value = call(pick(self.ch, ("sum", "logsumexp")), h)
        self.defs.append(Intermediate(out, SCALAR, "any"))
        return Def(out, value)

    def model(self, seed: int = 0, deep: bool = False, nest: bool = False) -> GeneratedModel:
        """A whole model: declarations, definitions, a scalar output, ``wrt`` and ``of``;
        ``deep`` begins it with :meth:`deep_steps`, ``nest`` with :meth:`deep_nest` (whose
        value the output then always uses)."""
        body: list[Def] = self.deep_steps() if deep else []
        nest_name = None
        if nest:
            body.append(self.deep_nest())
            nest_name = body[-1].name
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
        if nest_name is not None and not any(t.op == "name" and t.value == nest_name for t in terms):
            terms.insert(0, name(nest_name))
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
        statements: list[Statement] = [*self.formulas, *decls, *body]
        if len(decls) > 1 and chance(self.ch, 10):  # a declaration may follow the uses of its name
            statements = [*self.formulas, *decls[1:], *body[:-1], decls[0], body[-1]]
        text = Printer(self.ch.integer(0, 2**31)).model(statements)
        return GeneratedModel(
            tuple(statements), text, tuple(self.inputs), tuple(self.functions),
            tuple(n for n in map(dims.symbol_name, self.dims) if n is not None), wrt, of, seed,
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
    from ..infer import conventional_kind

    kind = conventional_kind(n)
    if is_scalar(shape):
        return kind == "scalar"
    if is_vector(shape):
        return kind == "vector"
    return kind == "matrix" and not is_row(shape)



# ---------------------------------------------------------------- models from text


def from_syntax(statements) -> tuple[Statement, ...]:
    """matcalc's surface syntax (:mod:`matcalc.syntax`) as :class:`Decl`/:class:`Def` trees."""
    from .. import syntax as sx

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
        elif isinstance(st, sx.FunctionDef):
            result.append(Fun(st.name.name, st.param.name, node(st.body)))
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
    if isinstance(st, Fun):
        return ("fun", st.name, st.param, st.body.key())
    return ("def", st.name, st.expr.key())


def round_trip(text: str, statements: Sequence[Statement]) -> str | None:
    """Where matcalc's parser reads ``text`` differently from the trees it was printed from."""
    from ..parser import parse_statements

    parsed = from_syntax(parse_statements(text))
    if len(parsed) != len(statements):
        return f"{len(parsed)} statements parsed, {len(statements)} written"
    for i, (a, b) in enumerate(zip(parsed, statements)):
        if statement_key(a) != statement_key(b):
            return f"statement {i + 1} parsed as {statement_key(a)}, written as {statement_key(b)}"
    return None



# ---------------------------------------------------------------- the command


def generate(seed: int | str, names: NamePool = DEFAULT_NAMES, nests: bool = True) -> GeneratedModel:
    """Model number ``seed`` of the seeded generator (a few sizes of model, mostly small);
    ``nests=False``: no deep model is one nested expression (the others are drawn alike)."""
    ch = RandomChooser(f"matcalc-selftest:{seed}")
    depth = weighted(ch, [(3, 3), (1, 2), (1, 4)])
    defs = weighted(ch, [(3, 3), (1, 5)])
    gen = ModelGenerator(ch, names, max_depth=depth, max_definitions=defs)
    deep = chance(ch, 15)
    nest = deep and nests and chance(ch, 50)  # a deep model: steps of definitions or one expression
    return gen.model(seed=ch.integer(0, 2**32 - 1), deep=deep and not nest, nest=nest)


