"""Kinds and shapes: from surface syntax to the typed IR of :mod:`matcalc.expr`.

Pass 1 walks every statement and gives each node a shape whose dimensions are
union-find variables (:mod:`matcalc.unify`), so a size demanded anywhere in the
model (``W*x`` forces ``cols(W) = rows(x)``) reaches every use. Pass 2 builds IR
nodes with the smart constructors of :mod:`matcalc.build`, now that every
dimension is known. Both passes walk trees with an explicit stack, so deeply
nested input cannot exhaust Python's recursion limit here.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from fractions import Fraction
from typing import NamedTuple

from . import build as b
from . import dims as dimensions
from .convention import DEFAULT, GREEK_NAMES, kind_by_convention  # noqa: F401 (GREEK_NAMES re-exported)
from .errors import (
    ArityError,
    DefinitionError,
    DimensionError,
    MatcalcError,
    MatcalcSyntaxError,
    NumberError,
    ShapeError,
    UnknownNameError,
)
from .expr import Expr, Num, Var
from .model import Model, Places
from .numbers import NumberRangeError, checked, power
from .ops.registry import ALIASES, OPS, known_names, lookup
from .syntax import (
    Assign,
    Binary,
    Call,
    Declaration,
    ExprStatement,
    FunctionDef,
    Kind,
    Name,
    Neg,
    Node,
    Number,
    Source,
    Span,
    Statement,
    Transpose,
    error_at,
)
from .unify import Dims, Size

Ty = tuple[int, int]  # (rows, cols) as dimension variables

#: Names with a meaning of their own in expressions.
SPECIAL_NAMES = ("ones", "eye")
#: Kind words that may appear as calls in expressions (``vector(c)``, ``matrix(c)``).
FILL_NAMES = ("vector", "matrix")
#: Kind words: never a function's name.
KIND_WORDS = ("scalar", "vector", "matrix", "symmetric", "elementwise")
#: How deep the type and build walks recurse before they go on with an explicit stack.
SHALLOW = 100
ADDITIVE = ("+", "-")
PRODUCT = ("*", "@")
HADAMARD = (".*", "∘", "⊙")
KRON = ("⊗",)
POWERS = ("^", ".^")
#: Operators whose result depends on the operands' types alone (see :meth:`_Inference.infer`)
CACHED = ADDITIVE + PRODUCT + HADAMARD


def conventional_kind(name: str, convention: str = DEFAULT) -> str:
    """The kind an undeclared name gets: ``matrix``, ``scalar`` or ``vector``.

    Upper-case initial: a matrix. A lower-case Greek letter, spelled out or in
    Unicode, optionally followed by digits or ``_suffix`` (``alpha``, ``λ``,
    ``mu0``, ``eta_max``): a scalar. Anything else: a column vector, except
    that under the ``matrixcalculus`` convention a name whose first letter is
    ``a``–``g`` is a scalar (:mod:`matcalc.convention`).
    """
    return kind_by_convention(name, convention)


def infer_model(text: str, statements: tuple[Statement, ...], convention: str = DEFAULT) -> Model:
    """The typed model of parsed ``statements`` (``text`` is their source); undeclared
    names get their kinds by ``convention`` (see :mod:`matcalc.convention`)."""
    return _Inference(text, statements, convention).run()


# ---------------------------------------------------------------- tree walking


def postorder(
    root: Node,
    children: Callable[[Node], tuple[Node, ...]],
    visit: Callable[[Node, list], object],
    enter: Callable[[Node], None] | None = None,
):
    """``visit(node, results of its children)`` bottom-up, without recursion.

    ``enter(node)`` runs before a node's children are visited.
    """
    results: list = []
    stack: list[tuple[Node, int]] = [(root, -1)]  # (node, number of children once expanded)
    while stack:
        node, n = stack.pop()
        if n < 0:
            if enter is not None:
                enter(node)
            kids = children(node)
            if kids:
                stack.append((node, len(kids)))
                stack.extend((k, -1) for k in reversed(kids))
                continue
            results.append(visit(node, []))
            continue
        args = results[-n:]
        del results[-n:]
        results.append(visit(node, args))
    return results[0]


def syntax_children(node: Node) -> tuple[Node, ...]:
    """The sub-expressions that are values (not exponents, not sizes)."""
    if isinstance(node, Binary):
        return (node.left,) if node.op in POWERS else (node.left, node.right)
    if isinstance(node, (Neg, Transpose)):
        return (node.operand,)
    if isinstance(node, Call):
        return () if node.name in SPECIAL_NAMES else node.args
    return ()


def constant(node: Node) -> Fraction | None:
    """The value of a numeric constant expression (``2``, ``-1``, ``(1/2)``), else ``None``."""

    def kids(n: Node) -> tuple[Node, ...]:
        if isinstance(n, Binary):
            return (n.left, n.right)
        if isinstance(n, Neg):
            return (n.operand,)
        return ()

    def value(n: Node, args: list) -> Fraction | None:
        if isinstance(n, Number):
            return n.value
        if any(a is None for a in args):
            return None
        if isinstance(n, Neg):
            return -args[0]
        if not isinstance(n, Binary):
            return None
        try:
            return _fold(n.op, *args)
        except ZeroDivisionError:
            return None
        except NumberRangeError as err:
            raise error_at(NumberError, err.about(f"the result of '{n.op}'"), n.op_span) from None

    return postorder(node, kids, value)


def _fold(op: str, x: Fraction, y: Fraction) -> Fraction | None:
    """``x op y`` exactly, within a float's range (raises :class:`NumberRangeError`)."""
    if op == "+":
        return checked(x + y)
    if op == "-":
        return checked(x - y)
    if op in PRODUCT + HADAMARD:
        return checked(x * y)
    if op in ("/", "./"):
        return checked(x / y)
    if op in POWERS and y.denominator == 1:
        return power(x, y)
    return None


#: How a sum is built, by inference's decision.
SUMS = ("same", "broadcast_left", "broadcast_right")
PRODUCTS = ("matmul",)  # a scaling settles its operands: a 1×1 product scales as a whole


#: What :meth:`_Inference.of_name` makes of a name transposed
_TRANSPOSED = "ᵀ"


class _Terms(list):
    """The terms of a chain of ``+`` and ``-``, not yet added up."""


class _Factors(list):
    """The factors of a chain of products ``a*b*c …``, not yet multiplied (so a long chain
    is built once, not copied and hashed at every ``*``)."""


class _Ref(dimensions.Unknown):
    """A dimension variable standing in for a size in the function table's shape rules."""

    __slots__ = ("var",)

    def __init__(self, var: int) -> None:
        self.var = var


def _places(source: Source, offsets: list[tuple[int, int]]) -> Places:
    """Where each definition is written (``offsets``: of its name, or of a bare expression),
    counted in lines and columns when first asked for; only the offsets are kept, not the
    syntax tree."""

    def place(start: int, end: int) -> tuple[int, int, int]:
        at = source.span(start, end)
        return (at.line, at.column, at.end_column if at.end_line == at.line else at.column + 1)

    return Places(lambda: tuple(place(start, end) for start, end in offsets))


class _Declared(NamedTuple):  # (a named tuple: a model may declare many names)
    kind: Kind
    ty: Ty
    node: Name  # the declared name as written

    @property
    def line(self) -> int:
        """The line of the declaration (counted only for a message that names it)."""
        return self.node.span.line


# ---------------------------------------------------------------- the inference


class _Inference:
    """One model's inference: pass 1 (shapes), dimension naming, pass 2 (IR)."""

    def __init__(self, text: str, statements: tuple[Statement, ...], convention: str = DEFAULT) -> None:
        self.text = text
        self.convention = convention
        self.statements = statements
        self.dims = Dims()
        self.one = self.dims.const(1)
        self.scalar: Ty = (self.one, self.one)
        self.declared: dict[str, _Declared] = {}
        self.kind_types: dict[tuple, Ty] = {}
        self.elementwise: dict[str, _Declared] = {}
        self.formulas: dict = {}  # name -> matcalc.formulas.Formula
        self.undeclared: dict[str, Ty] = {}
        self.def_at: dict[str, Assign] = {}
        self.defined: dict[str, Ty] = {}
        self.current: Statement | None = None
        # per node: (type, how it is built, extra data)
        self.info: dict[Node, tuple[Ty, str, object]] = {}
        #: pairs of types a sum has unified (a chain x + y + x + … unifies each pair once)
        self.added: set[tuple[Ty, Ty]] = set()
        #: per chain of infix operators walked by :meth:`infer`, its nodes from the top down
        #: and their notes from the bottom up (:meth:`built` walks it again)
        self.spines: dict[Node, tuple[list[Binary], list]] = {}
        #: per step of such a chain met (operator and operand types): the merges of
        #: dimensions after it and its note
        self.steps: dict[tuple[str, Ty, Ty], tuple[int, tuple]] = {}
        #: per name called as an entry-wise function of one argument: the function
        self.applied: dict[str, str] = {}
        #: per type: its transpose's
        self.flipped: dict[Ty, Ty] = {}
        #: per kind of node and value of a name: the node made of that name (:meth:`of_name`)
        self.of_names: dict[tuple[str, int], tuple[Expr, Expr]] = {}
        self.deferred: list[tuple[int, str, Ty, int, Node]] = []
        self.inputs: dict[str, Var] = {}
        self.def_vars: dict[str, Var] = {}

    # ------------------------------------------------------------ driver

    def run(self) -> Model:
        of_kind: dict[type, list[Statement]] = {
            Declaration: [], FunctionDef: [], Assign: [], ExprStatement: []
        }
        values: list[Statement] = []
        for st in self.statements:
            of_kind[type(st)].append(st)
            if type(st) is Assign or type(st) is ExprStatement:
                values.append(st)
        for st in of_kind[Declaration]:
            self.declare(st)
        for st in of_kind[FunctionDef]:
            self.define_function(st)
        for st in of_kind[Assign]:
            self.register_definition(st)
        self.check_placement(values)

        with self.guarded():
            for st in values:
                self.current = st
                ty = self.infer(st.expr)
                if type(st) is Assign:
                    self.defined[st.target.name] = ty
        self.resolve_dims()
        self.make_vars()

        definitions: list[tuple[Var, Expr]] = []
        with self.guarded():
            for st in values:
                self.current = st
                rhs = self.build(st.expr)
                if type(st) is not Assign:
                    break
                var = self.def_vars[st.target.name]
                if rhs.shape[0] == rhs.shape[1] != 1 and b.is_symmetric(rhs):
                    # symmetric by construction (AᵀA, A + Aᵀ, inv(S), exp(S), …): its uses know it
                    var = Var(var.name, var.shape, "def", True)
                    self.def_vars[st.target.name] = var
                definitions.append((var, rhs))
        if type(st) is not Assign:
            definitions.append((Var(self.output_name(), rhs.shape, role="def"), rhs))
        places = _places(values[0].source, [
            (st.target[1], st.target[2]) if type(st) is Assign else (st.start, st.end) for st in values
        ])
        return Model(
            inputs=tuple(self.inputs.values()),
            definitions=tuple(definitions),
            output=definitions[-1][0],
            elementwise=tuple(self.elementwise),
            formulas=tuple(self.formulas.values()),
            dims=self.dims_in_order(),
            source=self.text,
            places=places,
            convention=self.convention,
        )

    @contextmanager
    def guarded(self) -> Iterator[None]:
        """A too-deep expression in the statement being read (:attr:`current`) becomes a
        located error."""
        try:
            yield
        except RecursionError:
            raise self.error(MatcalcSyntaxError, "expression nested too deeply", self.current.span) from None

    # ------------------------------------------------------------ errors

    def error(self, cls: type[MatcalcError], message: str, where: Node | Span) -> MatcalcError:
        span = where if isinstance(where, Span) else where.span
        return error_at(cls, message, span, self.text)

    def src(self, node: Node) -> str:
        """The source text of ``node``, on one line and shortened."""
        s = " ".join(self.text[node.span.start : node.span.end].split())
        return s if len(s) <= 40 else s[:37] + "..."

    def shape_text(self, ty: Ty) -> str:
        name = self.dims.namer()
        return f"{name(ty[0])}×{name(ty[1])}"

    def mismatch(self, node: Binary, lt: Ty, rt: Ty, what: str) -> MatcalcError:
        l, r = self.src(node.left), self.src(node.right)
        msg = (
            f"{self.src(node)}: {l} is {self.shape_text(lt)} but {r} is {self.shape_text(rt)}"
            f"; {what}{self.convention_note(node.left, node.right)}"
        )
        return self.error(DimensionError, msg, node)

    def convention_note(self, *operands: Node) -> str:
        """Why an undeclared operand has the shape it has, for a shape error about it."""
        notes = []
        for op in operands:
            while isinstance(op, (Neg, Transpose)):
                op = op.operand
            name = op.name if isinstance(op, Name) else None
            if name is None or name not in self.undeclared or name in self.def_at:
                continue
            kind = conventional_kind(name, self.convention)
            also = (f" ({name} is also a dimension name, but dimensions are not values)"
                    if name in self.dims.user_symbols else "")
            others = [k for k in ("scalar", "vector(d)", "matrix(r, c)") if not k.startswith(kind)]
            notes.append(f"{name} is not declared, so it is a {kind} by convention{also};"
                         " declare another kind if that is not meant: "
                         + " or ".join(f"'{name}: {k}'" for k in others))
        return "".join("; " + n for n in notes)

    # ------------------------------------------------------------ declarations

    def declare(self, st: Declaration) -> None:
        kind = st.kind
        for n in st.names:
            prev = self.declared.get(n.name) or self.elementwise.get(n.name)
            if prev is not None:
                if str(prev.kind) != str(kind):
                    raise self.error(
                        DefinitionError,
                        f"{n.name} is declared twice: as {prev.kind} on line {prev.line}"
                        f" and as {kind} here",
                        n,
                    )
                continue
            if kind.name == "elementwise":
                if lookup(n.name) is not None or n.name in SPECIAL_NAMES + FILL_NAMES:
                    raise self.error(
                        DefinitionError,
                        f"{n.name} is a built-in function; give the elementwise function"
                        " another name",
                        n,
                    )
                self.elementwise[n.name] = _Declared(kind, self.scalar, n)
            else:
                self.declared[n.name] = _Declared(kind, self.kind_type(kind), n)

    def kind_type(self, kind: Kind) -> Ty:
        """The type of a declared kind; one object for every declaration of one kind."""
        key = (kind.name, kind.dims)
        ty = self.kind_types.get(key)
        if ty is None:
            ty = self.kind_types[key] = self.new_kind_type(kind)
        return ty

    def new_kind_type(self, kind: Kind) -> Ty:
        d = [self.size_var(x, user=True) for x in kind.dims]
        if kind.name == "scalar":
            return self.scalar
        if kind.name == "vector":
            return (d[0], self.one)
        if kind.name == "symmetric":
            return (d[0], d[0])
        return (d[0], d[1])

    def size_var(self, size: Size, user: bool = False) -> int:
        if user:
            for symbol in dimensions.symbols(size):
                self.dims.symbol(symbol)
        return self.dims.const(size)

    def define_function(self, st: FunctionDef) -> None:
        """A function defined by formula (its body read into SymPy by :mod:`matcalc.formulas`)."""
        from .formulas import formula

        name = st.name.name
        if lookup(name) is not None or name in SPECIAL_NAMES + FILL_NAMES or name in KIND_WORDS:
            raise self.error(
                DefinitionError, f"{name} is a built-in function; give your function another name", st.name
            )
        if name in self.formulas:
            first = self.formulas[name].line
            raise self.error(DefinitionError, f"{name} is defined twice (first on line {first})", st.name)
        declared = self.declared.get(name) or self.elementwise.get(name)
        if declared is not None:
            raise self.error(
                DefinitionError,
                f"{name} is declared on line {declared.line} as {declared.kind}"
                " and cannot also be defined",
                st.name,
            )
        self.formulas[name] = formula(st, dict(self.formulas), self.text, tuple(self.elementwise), constant)

    def register_definition(self, st: Assign) -> None:
        name = st.target.name
        if name in self.formulas:
            raise self.error(
                DefinitionError,
                f"{name} is a function defined on line {self.formulas[name].line}; give the value"
                " another name",
                st.target,
            )
        if name in self.def_at:
            first = self.def_at[name].span.line
            raise self.error(
                DefinitionError, f"{name} is defined twice (first on line {first})", st.target
            )
        declared = self.declared.get(name) or self.elementwise.get(name)
        if declared is not None:
            raise self.error(
                DefinitionError,
                f"{name} is declared on line {declared.line} as {declared.kind}"
                " and cannot also be defined",
                st.target,
            )
        self.def_at[name] = st

    def check_placement(self, values: list[Statement]) -> None:
        if not values:
            span = self.statements[-1].span if self.statements else Span(1, 1, 1, 2, 0, 0)
            raise self.error(
                DefinitionError,
                "the model has no expression to differentiate; end it with a definition"
                " 'NAME = EXPR' or an expression",
                span,
            )
        for st in values[:-1]:
            if isinstance(st, ExprStatement):
                hint = ""
                e = st.expr
                if isinstance(e, Binary) and e.op == ":" and isinstance(e.left, Name):
                    hint = (
                        "; a declaration is 'NAME: KIND' with KIND one of scalar, vector(d),"
                        " matrix(r, c), symmetric(d), elementwise"
                    )
                raise self.error(
                    MatcalcSyntaxError,
                    "only the last statement may be a bare expression; name this one"
                    f" 'NAME = ...'{hint}",
                    st,
                )

    # ------------------------------------------------------------ pass 1: shapes

    def infer(self, root: Node, depth: int = 0) -> Ty:
        """The type of ``root``: :meth:`visit` bottom-up, in the order of :func:`postorder`.

        Chains of infix operators (``a + b + …``, ``A*B*…``) are walked down their left
        side by a loop; other operands by recursion, up to :data:`SHALLOW` levels, below
        which :func:`postorder` takes over (so nesting is not limited by Python's stack).
        """
        if depth > SHALLOW:
            return postorder(root, syntax_children, self.visit, self.enter)
        kind = type(root)
        if kind is Name:
            return self.visit_name(root)
        if kind is Binary and root[3] not in POWERS:
            spine = []
            node: Node = root
            while type(node) is Binary and node[3] not in POWERS:  # op, left
                spine.append(node)
                node = node[4]
            ty = self.visit_name(node) if type(node) is Name else self.infer(node, depth + 1)
            visit_binary, visit_name = self.visit_binary, self.visit_name
            undeclared, declared, info, dims = self.undeclared, self.declared, self.info, self.dims
            # a step like one met before (same operator and operand types, no dimensions
            # merged since: ``A*A*…``, ``x + y + x + y …``) is given the same result at once
            steps = self.steps
            last_op, last_lt, last_rt, last_note, last_merges = None, None, None, None, -1
            # per step, from the bottom up: its note (a step like the one before shares its
            # note, kept here and not in ``info``: a chain may have millions of steps)
            notes: list = []
            self.spines[root] = (spine, notes)
            add_note = notes.append
            for node in reversed(spine):
                right = node[5]
                if type(right) is Name:
                    # an input met before, or declared: its type, and no note (pass 2 finds
                    # an operand of a chain without a note among the inputs)
                    rt = undeclared.get(right[3])
                    if rt is None:
                        known = declared.get(right[3])
                        rt = visit_name(right) if known is None else known.ty
                elif type(right) is Transpose and type(right[3]) is Name:  # Aᵀ, at once
                    rt = self.transposed_name(right)
                else:
                    rt = self.infer(right, depth + 1)
                op = node[3]
                if rt is last_rt and ty is last_lt and op == last_op and dims.merges == last_merges:
                    add_note(last_note)  # (the step before, again: A*A*…, at once)
                    ty = last_note[0]
                    continue
                key = (op, ty, rt)
                seen = steps.get(key)
                if seen is not None and seen[0] == dims.merges:
                    note = seen[1]
                else:
                    visit_binary(node, ty, rt)
                    note = info.pop(node)  # (kept in the list only: pass 2 puts it back where needed)
                    if op not in CACHED:
                        add_note(note)
                        ty = note[0]
                        continue
                    steps[key] = (dims.merges, note)
                add_note(note)
                last_op, last_lt, last_rt, last_note, last_merges = op, ty, rt, note, dims.merges
                ty = note[0]
            return ty
        if kind is Transpose and type(root[3]) is Name:
            return self.transposed_name(root)
        if kind is Call:
            args = root[5]
            fn = self.applied.get(root[3]) if len(args) == 1 else None
            if fn is not None:  # an entry-wise function met before, of one argument again
                ty = self.infer(args[0], depth + 1)
                self.info[root] = (ty, "apply", fn)
                return ty
            self.check_call(root)
            if root.name in SPECIAL_NAMES:
                args = ()
            ty = self.visit_call(root, [self.infer(k, depth + 1) for k in args])
            _, how, fn = self.info[root]
            if how == "apply":
                self.applied[root[3]] = fn
            return ty
        return self.visit(root, [self.infer(k, depth + 1) for k in syntax_children(root)])

    def transposed_name(self, node: Transpose) -> Ty:
        """The type of ``Aᵀ`` (one type for every type transposed)."""
        ty = self.visit_name(node[3])
        flipped = self.flipped.get(ty)
        if flipped is None:
            flipped = self.flipped[ty] = (ty[1], ty[0])
        self.info[node] = (flipped, "transpose", None)
        return flipped

    def note(self, node: Node, ty: Ty, how: str, extra: object = None) -> Ty:
        self.info[node] = (ty, how, extra)
        return ty

    def is_scalar(self, ty: Ty) -> bool:
        if ty is self.scalar:
            return True
        one = self.dims.is_one
        return one(ty[0]) and one(ty[1])

    def enter(self, node: Node) -> None:
        if isinstance(node, Call):
            self.check_call(node)

    def visit(self, node: Node, kids: list[Ty]) -> Ty:
        if isinstance(node, Number):
            return self.note(node, self.scalar, "num", node.value)
        if isinstance(node, Name):
            return self.visit_name(node)
        if isinstance(node, Neg):
            return self.note(node, kids[0], "neg")
        if isinstance(node, Transpose):
            r, c = kids[0]
            return self.note(node, (c, r), "transpose")
        if isinstance(node, Call):
            return self.visit_call(node, kids)
        assert isinstance(node, Binary)
        if node.op in POWERS:
            return self.visit_power(node, kids[0])
        return self.visit_binary(node, kids[0], kids[1])

    def visit_name(self, node: Name) -> Ty:
        name = node.name
        ty = self.undeclared.get(name)
        if ty is not None:  # met before (never a definition's name: those are known first)
            self.info[node] = (ty, "input", name)
            return ty
        if name in self.defined:
            return self.note(node, self.defined[name], "def", name)
        if name in self.def_at:
            st = self.def_at[name]
            msg = (
                f"{name} is used in its own definition"
                if st is self.current
                else f"{name} is used before its definition on line {st.span.line}"
            )
            raise self.error(DefinitionError, msg, node)
        if name in self.declared:
            return self.note(node, self.declared[name].ty, "input", name)
        if name in self.elementwise or name in self.formulas:
            raise self.error(
                ShapeError, f"{name} is an elementwise function; call it as {name}(...)", node
            )
        if name == "ones":
            return self.note(node, (self.dims.new(), self.one), "ones")
        if name == "eye":
            n = self.dims.new()
            return self.note(node, (n, n), "eye")
        if name in known_names():
            raise self.error(
                ShapeError, f"{name} is a function; call it as {name}(...)", node
            )
        ty = self.undeclared.get(name)
        if ty is None:
            kind = conventional_kind(name, self.convention)
            if kind == "scalar":
                ty = self.scalar
            elif kind == "matrix":
                ty = (self.dims.new(), self.dims.new())
            else:
                ty = (self.dims.new(nonunit=True), self.one)
            self.undeclared[name] = ty
        return self.note(node, ty, "input", name)

    def visit_binary(self, node: Binary, lt: Ty, rt: Ty) -> Ty:
        op, dims = node[3], self.dims
        additive = op in ADDITIVE
        if additive and (lt, rt) in self.added:  # unified before: both sides stay one shape
            self.info[node] = (lt, "same", None)
            return lt
        one, scalar, unit = dims.is_one, self.scalar, self.one
        ls = lt is scalar or ((lt[0] == unit or one(lt[0])) and (lt[1] == unit or one(lt[1])))
        rs = rt is scalar or ((rt[0] == unit or one(rt[0])) and (rt[1] == unit or one(rt[1])))
        if additive:
            if ls and not rs:
                return self.note(node, rt, "broadcast_left")
            if rs and not ls:
                return self.note(node, lt, "broadcast_right")
            if not self.unify_shapes(lt, rt):
                what = f"'{op}' needs equal shapes (or a scalar on one side)"
                raise self.mismatch(node, lt, rt, what)
            self.added.add((lt, rt))
            return self.note(node, lt, "same")
        if op in PRODUCT:
            if ls or rs:
                return self.note(node, rt if ls else lt, "scale")
            if not dims.unify(lt[1], rt[0]):
                name = dims.namer()
                msg = (
                    f"{self.src(node)}: {self.src(node.left)} is {self.shape_text(lt)}"
                    f" but {self.src(node.right)} has {name(rt[0])} rows"
                )
                if dims.is_one(lt[1]) and dims.is_one(rt[1]):
                    msg += f" (for the inner product of two vectors write {self.src(node.left)}'*...)"
                raise self.error(DimensionError, msg, node)
            ty = lt if lt[1] == rt[1] else (lt[0], rt[1])
            self.info[node] = (ty, "matmul", None)
            return ty
        if op in HADAMARD:
            if ls or rs:
                return self.note(node, rt if ls else lt, "scale")
            if not self.unify_shapes(lt, rt):
                raise self.mismatch(node, lt, rt, f"'{op}' needs equal shapes (or a scalar)")
            return self.note(node, lt, "eprod")
        if op == "./":
            if rs:
                return self.note(node, lt, "div")
            if ls:
                return self.note(node, rt, "scalar_over")
            if not self.unify_shapes(lt, rt):
                raise self.mismatch(node, lt, rt, "'./' needs equal shapes (or a scalar)")
            return self.note(node, lt, "div")
        if op == "/":
            if not rs:
                raise self.error(
                    ShapeError,
                    f"{self.src(node)}: the divisor {self.src(node.right)} is"
                    f" {self.shape_text(rt)}, not a scalar; use './' for entry-wise division"
                    f" or inv(...) for a matrix inverse{self.convention_note(node.right)}",
                    node,
                )
            return self.note(node, lt, "div")
        if op in KRON:
            return self.note(node, self.structural(node, "kron", [lt, rt]), "kron")
        assert op == ":"
        if not self.unify_shapes(lt, rt):
            raise self.mismatch(node, lt, rt, "':' (Frobenius product) needs equal shapes")
        return self.note(node, self.scalar, "frob")

    def unify_shapes(self, a: Ty, b: Ty) -> bool:
        return self.dims.unify(a[0], b[0]) and self.dims.unify(a[1], b[1])

    def visit_power(self, node: Binary, base: Ty) -> Ty:
        k = constant(node.right)
        if k is None:
            hint = " (for the transpose write ^T or ')" if node.op == ".^" else ""
            inner = node.right.operand if isinstance(node.right, Neg) else node.right
            if isinstance(inner, Transpose):
                sign = "-" if inner is not node.right else ""
                power = f"{self.src(node.left)}{node.op}{sign}{self.src(inner.operand)}"
                hint = f"; to transpose a power write ({power})'"
            raise self.error(
                ShapeError,
                f"{self.src(node)}: the exponent {self.src(node.right)} must be a number{hint}",
                node.right,
            )
        if node.op == ".^" or self.is_scalar(base):
            return self.note(node, base, "power", k)
        if k.denominator != 1:
            raise self.error(
                ShapeError,
                f"{self.src(node)}: a matrix power needs an integer exponent, got {k};"
                " use '.^' for an entry-wise power",
                node,
            )
        if abs(k) > 1000:
            raise self.error(ShapeError, f"{self.src(node)}: matrix power {k} is too large", node)
        self.need_square(node.left, base, f"{self.src(node)} (a matrix power)", ".^")
        return self.note(node, base, "matrix_power", int(k))

    def need_square(self, arg: Node, ty: Ty, what: str, alternative: str = "") -> None:
        r, c = ty
        vr, vc = self.dims.value(r), self.dims.value(c)
        vector_like = (vr == 1) != (vc == 1) and (vr is None or vc is None)
        if vector_like or not self.dims.unify(r, c):
            hint = f"; use '{alternative}' for an entry-wise power" if alternative else ""
            raise self.error(
                ShapeError,
                f"{what} needs a square matrix, but {self.src(arg)} is {self.shape_text(ty)}"
                + hint,
                arg,
            )

    # ------------------------------------------------------------ pass 1: calls

    def check_call(self, node: Call) -> None:
        """The called name exists and gets the right number of arguments."""
        fn, n = node.name, len(node.args)
        op = lookup(fn)
        if op is not None and op.internal:
            op = None
        if fn in self.elementwise or fn in self.formulas or op is not None:
            want = 1 if op is None else op.arity
            if n != want:
                noun = "argument" if want == 1 else "arguments"
                raise self.error(ArityError, f"{fn} takes {want} {noun}, got {n}", node)
        elif fn in SPECIAL_NAMES:
            most = 2 if fn == "ones" else 1
            if n > most:
                raise self.error(
                    ArityError,
                    f"{fn} takes at most {most} size{'s' if most > 1 else ''}, got {n}",
                    node,
                )
        elif fn in FILL_NAMES:
            if fn == "matrix" and n == 2:
                raise self.error(
                    MatcalcSyntaxError,
                    "matrix(r, c) is a kind, allowed only in a declaration such as"
                    " 'X: matrix(r, c)'; in an expression matrix(c) is the matrix with"
                    " every entry c",
                    node,
                )
            if n != 1:
                raise self.error(
                    ArityError,
                    f"{fn} takes 1 argument in an expression (the value of every entry),"
                    f" got {n}; to declare a variable write 'x: {fn}(...)'",
                    node,
                )
        elif fn in ("scalar", "symmetric", "elementwise"):
            raise self.error(
                MatcalcSyntaxError,
                f"'{fn}' is a kind, allowed only in a declaration such as 'S: symmetric(d)'",
                node,
            )
        else:
            raise self.unknown_function(node)

    def unknown_function(self, node: Call) -> MatcalcError:
        fn = node.name
        if fn in self.declared or fn in self.def_at or fn in self.undeclared:
            msg = f"{fn} is a variable, not a function; write {fn}*(...) for a product"
        else:
            known = [*known_names(), *self.elementwise, *self.formulas, *SPECIAL_NAMES, *FILL_NAMES]
            close = difflib.get_close_matches(fn, known, n=3)
            msg = f"unknown function '{fn}'"
            if close:
                msg += "; did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
            else:
                msg += f" (for a product write {fn}*(...))"
        return self.error(UnknownNameError, msg, node.name_span)

    def visit_call(self, node: Call, kids: list[Ty]) -> Ty:
        fn = ALIASES.get(node.name, node.name)
        op = OPS.get(fn)
        if fn in self.elementwise or fn in self.formulas or (op is not None and op.kind == "entrywise"):
            return self.note(node, kids[0], "apply", fn)
        if op is not None:
            return self.note(node, self.structural(node, fn, kids), "call", fn)
        if fn in SPECIAL_NAMES:
            sizes = [self.call_size(a) for a in node.args]
            if fn == "eye":
                n = sizes[0] if sizes else self.dims.new()
                return self.note(node, (n, n), "eye")
            rows = sizes[0] if sizes else self.dims.new()
            cols = sizes[1] if len(sizes) > 1 else self.one
            return self.note(node, (rows, cols), "ones")
        assert fn in FILL_NAMES
        if not self.is_scalar(kids[0]):
            raise self.error(
                ShapeError,
                f"{self.src(node)}: the entry value {self.src(node.args[0])} must be a scalar,"
                f" but it is {self.shape_text(kids[0])}",
                node,
            )
        cols = self.one if fn == "vector" else self.dims.new()
        return self.note(node, (self.dims.new(), cols), "fill")

    def call_size(self, arg: Node) -> int:
        if isinstance(arg, Name):
            return self.dims.symbol(arg.name)
        if isinstance(arg, Number) and arg.value.denominator == 1 and arg.value > 0:
            return self.dims.const(int(arg.value))
        raise self.error(
            ShapeError, "a size must be a dimension symbol or a positive integer", arg
        )

    def structural(self, node: Call | Binary, fn: str, args: list[Ty]) -> Ty:
        """Check what ``fn`` needs of its arguments; the result type from its registry entry."""
        op = OPS[fn]
        operands = node.args if isinstance(node, Call) else (node.left, node.right)
        for need, arg, ty in zip(op.needs, operands, args):
            if need == "square":
                self.need_square(arg, ty, f"{fn}(...)")
            elif need == "vector" and not self.dims.unify(ty[1], self.one):
                raise self.error(
                    ShapeError,
                    f"{fn}(...) needs a column vector, but {self.src(arg)} is"
                    f" {self.shape_text(ty)}",
                    arg,
                )
        assert op.result is not None
        values = [(self.dims.value(ty[0]), self.dims.value(ty[1])) for ty in args]
        if all(r is not None and c is not None for r, c in values):
            return tuple(self.size_var(d) for d in op.result(*values))  # type: ignore[return-value]
        def known(v: int) -> Size | _Ref:
            value = self.dims.value(v)
            return _Ref(v) if value is None else value

        out = []
        for i, d in enumerate(op.result(*((known(ty[0]), known(ty[1])) for ty in args))):
            if isinstance(d, _Ref):
                out.append(d.var)
            elif not isinstance(d, dimensions.Unknown):
                out.append(self.size_var(d))
            else:  # a size computed from unknown sizes of the arguments: known only at the end
                v = self.dims.new()
                self.deferred.append((v, fn, args, i, node))
                out.append(v)
        return (out[0], out[1])

    # ------------------------------------------------------------ dimensions

    def resolve_dims(self) -> None:
        """Name every size left unknown, then compute sizes derived from others."""
        self.check_sizes_fixed()
        self.dims.name_unbound(skip=[v for v, *_ in self.deferred])
        for v, fn, args, i, node in self.deferred:
            shapes = [(self.dims.value(ty[0]), self.dims.value(ty[1])) for ty in args]
            size = OPS[fn].result(*shapes)[i]
            if not self.dims.bind(v, size):
                raise self.error(
                    DimensionError,
                    f"{self.src(node)} has size {size} where {self.dims.value(v)} is needed",
                    node,
                )

    def check_sizes_fixed(self) -> None:
        """Every size must be an input's: ``sum(x) + sum(ones)`` leaves the size of
        ``ones``, and so the value, open; that is an error at the first such expression."""
        find = self.dims.find
        inputs = [d.ty for d in self.declared.values()] + list(self.undeclared.values())
        fixed = {find(v) for ty in inputs for v in ty}
        free = set(self.dims.unbound_roots(skip=[v for v, *_ in self.deferred])) - fixed
        if not free:
            return
        for node, (ty, _, _) in self.info.items():
            if find(ty[0]) in free or find(ty[1]) in free:
                raise self.error(
                    DimensionError,
                    f"nothing in the model fixes the size of {self.src(node)}; give it "
                    "(as in ones(n) or eye(n)) or tie it to an input",
                    node,
                )

    def shape(self, ty: Ty) -> tuple[Size, Size]:
        r, c = self.dims.value(ty[0]), self.dims.value(ty[1])
        assert r is not None and c is not None
        return (r, c)

    def dims_in_order(self) -> tuple[str, ...]:
        """Dimension symbols: declared ones first, then in the order inference met them."""
        seen: dict[str, None] = {}
        for v in range(self.dims.count):
            d = self.dims.value(v)
            name = None if d is None else dimensions.symbol_name(d)
            if name is not None:
                seen.setdefault(name, None)
        return tuple(seen)

    # ------------------------------------------------------------ pass 2: IR

    def make_vars(self) -> None:
        shapes: dict[Ty, tuple[Size, Size]] = {}  # (many names share one type)

        def shape(ty: Ty) -> tuple[Size, Size]:
            known = shapes.get(ty)
            if known is None:
                known = shapes[ty] = self.shape(ty)
            return known

        for name, d in self.declared.items():
            symmetric = d.kind.name == "symmetric"
            self.inputs[name] = Var(name, shape(d.ty), "input", symmetric)
        for name, ty in self.undeclared.items():
            self.inputs[name] = Var(name, shape(ty), "input")
        for name, ty in self.defined.items():
            self.def_vars[name] = Var(name, shape(ty), "def")

    def output_name(self) -> str:
        taken = set(self.inputs) | set(self.def_vars) | set(self.elementwise)
        name = "f"
        while name in taken:
            name += "_"
        return name

    def build(self, root: Node) -> Expr:
        return self.settle(self.built(root), root)

    def built(self, root: Node, depth: int = 0) -> Expr | _Terms | _Factors:
        """:meth:`build_node` bottom-up over ``root``, walked as :meth:`infer` walks it."""
        if depth > SHALLOW:
            return postorder(root, syntax_children, self.build_node)
        kind = type(root)
        if kind is Name:
            _, how, name = self.info[root]
            if how == "input":
                return self.inputs[name]
            if how == "def":
                return self.def_vars[name]
        elif kind is Binary and root[3] not in POWERS:
            spine, notes = self.spines.pop(root)
            info, inputs, def_vars, settle = self.info, self.inputs, self.def_vars, self.settle
            out = self.built(spine[-1][4], depth + 1)  # the first operand (op, left)
            for node, note in zip(reversed(spine), notes):
                right = node[5]
                how = note[1]
                if type(right) is not Name:
                    if type(right) is Transpose and type(right[3]) is Name:  # Aᵀ, at once
                        value = self.of_name(_TRANSPOSED, right[3], right)
                    else:
                        value = self.built(right, depth + 1)
                    if how == "same":  # a term of a sum (collected, and added up once)
                        value = settle(value, node)
                        if node[3] != "+":
                            value = b.neg(value)
                        if type(out) is _Terms:
                            out.append(value)
                        else:
                            out = _Terms((settle(out, node), value))
                        continue
                    if how == "matmul" and type(value) is not Num and type(out) is not Num:
                        if type(out) is not _Factors:  # (as build_node joins a product)
                            out = _Factors((settle(out, node),))
                        out.append(settle(value, node))
                        continue
                    info[node] = note  # (build_node reads the note there)
                    out = self.build_node(node, [out, value])
                    continue
                right_info = info.get(right)
                if right_info is None:  # an input that infer did not note
                    value = inputs[right[3]]
                elif right_info[1] == "input":
                    value = inputs[right_info[2]]
                elif right_info[1] == "def":
                    value = def_vars[right_info[2]]
                else:
                    info[node] = note
                    out = self.build_node(node, [out, self.built(right, depth + 1)])
                    continue
                # a name joins a chain being collected as build_node would join it
                if type(out) is _Factors and how == "matmul" or (
                    type(out) is _Terms and how == "same" and node[3] == "+"
                ):
                    out.append(value)
                elif how == "matmul" and type(out) is not Num:  # a chain of products begins
                    out = _Factors((settle(out, node), value))
                else:
                    info[node] = note
                    out = self.build_node(node, [out, value])
            return out
        elif kind is Call:
            _, how, fn = self.info[root]
            if how == "apply":  # an entry-wise function of one argument
                arg = root[5][0]
                if type(arg) is Name:  # of a name: one node for every f(x) written
                    return self.of_name(fn, arg, root)
                return b.apply(fn, self.settle(self.built(arg, depth + 1), root))
        elif kind is Transpose and type(root[3]) is Name:  # one node for every Aᵀ written
            return self.of_name(_TRANSPOSED, root[3], root)
        return self.build_node(root, [self.built(k, depth + 1) for k in syntax_children(root)])

    def of_name(self, fn: str, name: Name, node: Node) -> Expr:
        """``fn(x)`` (``xᵀ`` for :data:`_TRANSPOSED`) for the value ``x`` of ``name``, as
        ``node`` makes it, made once per value."""
        x = self.built(name)
        known = self.of_names.get((fn, id(x)))
        if known is None or known[0] is not x:  # (the value kept: its id is not reused)
            made = self.build_node(node, [x]) if fn == _TRANSPOSED else b.apply(fn, x)
            known = self.of_names[fn, id(x)] = (x, made)
        return known[1]

    def build_node(self, node: Node, kids: list) -> Expr | _Terms:
        try:
            how = self.info[node][1]
            if how in SUMS:
                return self.add_terms(node, kids[0], kids[1])
            if how in PRODUCTS and not (isinstance(kids[0], Num) or isinstance(kids[1], Num)):
                # (numbers multiply at once, so a constant out of range is found where it is)
                left, right = kids
                factors = left if isinstance(left, _Factors) else _Factors([self.settle(left, node)])
                factors.append(self.settle(right, node))
                return factors
            e = self.construct(node, [self.settle(k, node) for k in kids])
        except ValueError as err:
            raise self.error(ShapeError, f"{self.src(node)}: {err}", node) from None
        except ZeroDivisionError:
            raise self.error(MatcalcError, f"{self.src(node)}: division by zero", node) from None
        except NumberRangeError as err:
            where = node.op_span if isinstance(node, Binary) else node
            what = f"a constant in {self.src(node)}"
            raise self.error(NumberError, err.about(what), where) from None
        # Hashes are cached bottom-up here, where nodes are made below SHALLOW levels of
        # nesting (by postorder, and in chains of operators): hashing a deep tree later
        # then recurses only through the few levels above a hashed node.
        hash(e)
        return e

    def add_terms(self, node: Node, left: Expr | _Terms, right: Expr | _Terms) -> _Terms:
        """A chain ``a + b - c ...`` is collected and summed once (sums are not re-flattened
        at every ``+``)."""
        ty, how, _ = self.info[node]
        right = self.settle(right, node)
        if how == "broadcast_left":
            left = b.mul(self.settle(left, node), b.ones(self.shape(ty)))
        elif how == "broadcast_right":
            right = b.mul(right, b.ones(self.shape(ty)))
        terms = left if isinstance(left, _Terms) else _Terms([self.settle(left, node)])
        terms.append(right if node.op == "+" else b.neg(right))
        return terms

    def settle(self, e: Expr | _Terms | _Factors, node: Node) -> Expr:
        """``e``, with a pending chain of sums added up (or of products multiplied)."""
        kind = type(e)
        if kind is not _Factors and kind is not _Terms:
            return e
        if kind is _Factors:
            try:
                product = b.mul(*e)
            except ValueError as err:
                raise self.error(ShapeError, f"{self.src(node)}: {err}", node) from None
            except NumberRangeError as err:
                raise self.error(NumberError, err.about(f"a constant in {self.src(node)}"), node) from None
            return product
        try:
            total = b.add(*e)
        except ValueError as err:
            raise self.error(ShapeError, f"{self.src(node)}: {err}", node) from None
        return total

    def construct(self, node: Node, kids: list[Expr]) -> Expr:
        ty, how, extra = self.info[node]
        if how == "num":
            return b.num(extra)
        if how == "input":
            return self.inputs[extra]
        if how == "def":
            return self.def_vars[extra]
        if how == "ones":
            return b.ones(self.shape(ty))
        if how == "eye":
            return b.eye(self.shape(ty)[0])
        if how == "neg":
            return b.neg(kids[0])
        if how == "transpose":
            return b.transpose(kids[0])
        if how == "apply":
            return b.apply(extra, kids[0])
        if how == "call":
            return b.call(extra, *kids)
        if how == "fill":
            return b.mul(kids[0], b.ones(self.shape(ty)))
        if how == "power":
            return b.power(kids[0], extra)
        if how == "matrix_power":
            if extra == 0:
                return b.eye(self.shape(ty)[0])
            base = kids[0] if extra > 0 else b.call("inv", kids[0])
            return b.matpow(base, abs(extra))
        left, right = kids
        if how in ("scale", "matmul"):
            return b.mul(left, right)
        if how == "eprod":
            return b.eprod(left, right)
        if how == "kron":
            return b.call("kron", left, right)
        if how == "div":
            return b.div(left, right)
        if how == "scalar_over":
            return b.mul(left, b.power(right, -1))
        assert how == "frob"
        return b.frob(left, right)
