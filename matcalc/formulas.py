"""Functions defined by formula: ``softsign(u) = u / (1 + abs(u))``.

A definition with one parameter defines a scalar function applied entry by
entry. Its body may use the parameter, numbers, ``+ - * / .* ./ ∘ ⊙ ^ .^``, the
entry-wise functions of the registry and functions defined before it; anything
else is a located error saying what is allowed. SymPy derives the first and
second derivatives exactly (from each registry entry's SymPy form) and keeps the
shorter of the derivative and its form over one denominator (``sp.together``)
that the language can write.

In models and gradients a formula function is an ``Apply`` node like a declared
``elementwise`` function (``gelu'(W x)`` is ``Apply("gelu", …, order=1)``);
this module turns its SymPy expressions back into expressions of the language
(:func:`to_expr`, for evaluation and for the ``where gelu'(u) = …`` lines) and
into NumPy helpers printed by SymPy's own code printer (:func:`numpy_helper`).
SymPy is imported only when a model defines a function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from typing import Any

from . import build as b
from .errors import DefinitionError, MatcalcError, ShapeError
from .expr import SCALAR, Expr, Var
from .ops.registry import entrywise_ops, lookup
from .syntax import Binary, Call, FunctionDef, Name, Neg, Node, Number, Span, Transpose

#: How many derivatives are kept: ``f'`` for gradients, ``f''`` for Hessians.
ORDERS = 2
#: Operators allowed in a body (all of them entry-wise on a scalar).
_ARITHMETIC = ("+", "-", "*", "/", ".*", "./", "∘", "⊙")
_POWERS = ("^", ".^")


def _sympy():
    import sympy

    return sympy


@lru_cache(maxsize=1)
def _symbol():
    return _sympy().Symbol("u", real=True)


@dataclass(frozen=True)
class Formula:
    """A function defined by formula: ``forms[k]`` is its ``k``-th derivative as a SymPy
    expression in :func:`symbol` ``u`` (``forms[0]`` the body)."""

    name: str
    param: str
    forms: tuple[Any, ...]
    line: int = 0
    column: int = 0
    _numeric: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    def expr(self, order: int, arg: Expr) -> Expr:
        """The ``order``-th derivative applied to ``arg``, in the language's nodes."""
        return to_expr(self.forms[order], arg)

    def numeric(self, order: int) -> Callable:
        """The ``order``-th derivative as a NumPy function of an array (entry by entry)."""
        from .evaluate import Evaluator

        def f(x):
            key = (order, x.shape)
            e = self._numeric.get(key)
            if e is None:
                e = self._numeric[key] = self.expr(order, Var("u", x.shape))
            return Evaluator({"u": x}, {})(e)

        return f


def symbol():
    """The SymPy symbol every formula is written in."""
    return _symbol()


# ---------------------------------------------------------------- from the body's syntax


class _Body:
    """Reads the body of one definition into SymPy, with located errors."""

    def __init__(self, st: FunctionDef, known: dict[str, Formula], text: str,
                 elementwise: tuple[str, ...], constant: Callable[[Node], Fraction | None]) -> None:
        self.st = st
        self.known = known
        self.text = text
        self.elementwise = elementwise
        self.constant = constant
        self.sp = _sympy()

    def error(self, cls: type[MatcalcError], message: str, span: Span) -> MatcalcError:
        from .syntax import error_at

        return error_at(cls, message, span, self.text)

    def allowed(self) -> str:
        f, p = self.st.name.name, self.st.param.name
        return (f"the body of {f}({p}) may use only {p}, numbers, + - * / ^, entry-wise"
                " functions and functions defined before it")

    def read(self, node: Node):
        sp = self.sp
        if isinstance(node, Number):
            return sp.Rational(node.value.numerator, node.value.denominator)
        if isinstance(node, Name):
            if node.name == self.st.param.name:
                return _symbol()
            raise self.error(DefinitionError, f"{self.allowed()}; {node.name} is not allowed here", node.span)
        if isinstance(node, Neg):
            return -self.read(node.operand)
        if isinstance(node, Transpose):
            raise self.error(ShapeError, f"{self.allowed()}; a transpose is not", node.span)
        if isinstance(node, Binary):
            return self.binary(node)
        assert isinstance(node, Call)
        return self.call(node)

    def binary(self, node: Binary):
        if node.op in _POWERS:
            k = self.constant(node.right)
            if k is None:
                raise self.error(
                    ShapeError, f"{self.allowed()}; an exponent must be a number", node.right.span
                )
            return self.read(node.left) ** self.sp.Rational(k.numerator, k.denominator)
        if node.op not in _ARITHMETIC:
            raise self.error(ShapeError, f"{self.allowed()}; '{node.op}' is a matrix operation", node.op_span)
        left, right = self.read(node.left), self.read(node.right)
        if node.op == "+":
            return left + right
        if node.op == "-":
            return left - right
        if node.op in ("/", "./"):
            if right == 0:
                raise self.error(MatcalcError, f"{self.allowed()}; this divides by zero", node.span)
            return left / right
        return left * right

    def call(self, node: Call):
        fn = node.name
        if fn == self.st.name.name:
            raise self.error(DefinitionError, f"{fn} is used in its own definition", node.name_span)
        op = lookup(fn)
        entrywise = (op is not None and op.kind == "entrywise") or fn in self.known
        if not entrywise:
            what = ("a declared elementwise function, which has no formula" if fn in self.elementwise
                    else "not an entry-wise function" if op is not None else "not defined before it")
            raise self.error(DefinitionError, f"{self.allowed()}; {fn} is {what}", node.name_span)
        if len(node.args) != 1:
            raise self.error(DefinitionError, f"{fn} takes 1 argument, got {len(node.args)}", node.span)
        arg = self.read(node.args[0])
        if fn in self.known:
            return self.known[fn].forms[0].subs(_symbol(), arg)
        return op.sympy(self.sp, arg)


def formula(st: FunctionDef, known: dict[str, Formula], text: str, elementwise: tuple[str, ...],
            constant: Callable[[Node], Fraction | None]) -> Formula:
    """The function ``st`` defines (``known``: those defined before it)."""
    body = _Body(st, known, text, elementwise, constant).read(st.body)
    forms = derivatives(body)
    if forms is None:
        raise error_from(st, text, "SymPy's derivative of this body cannot be written with the"
                         " language's functions")
    return Formula(st.name.name, st.param.name, forms, st.name.span.line, st.name.span.column)


def error_from(st: FunctionDef, text: str, message: str) -> MatcalcError:
    from .syntax import error_at

    return error_at(DefinitionError, message, st.name.span, text)


@lru_cache(maxsize=4096)
def derivatives(body) -> tuple | None:
    """``(f, f', f'')``, each the shortest form the language can write (``None``: none is)."""
    sp = _sympy()
    u = _symbol()
    out = [_simplest(body)]
    if out[0] is None:
        return None
    raw = body
    for _ in range(ORDERS):
        raw = sp.diff(raw, u).replace(sp.DiracDelta, lambda *a: sp.S.Zero)
        best = _simplest(raw)
        if best is None:
            return None
        out.append(best)
        raw = best
    return tuple(out)


def _simplest(e):
    sp = _sympy()
    u = _symbol()
    e = e.subs(u * sp.sign(u), sp.Abs(u))
    candidates = [e]
    # sp.together is quick and safe; sp.simplify takes about a second a body, and sp.cancel
    # or sp.factor expand exp(851/500 u) into a polynomial of degree 851 in exp(u/500)
    for how in (sp.together,):
        try:
            c = how(e).subs(u * sp.sign(u), sp.Abs(u))
        except Exception:  # noqa: BLE001 (a simplifier that gives up leaves the other forms)
            continue
        candidates.append(c)
    good = [c for c in candidates if _writable(c)]
    if not good:
        return None
    return min(good, key=lambda c: (sp.count_ops(c), len(str(c))))


def _writable(e) -> bool:
    try:
        to_expr(e, Var("u", SCALAR))
    except (_Unwritable, ValueError, ZeroDivisionError):
        return False
    return True


# ---------------------------------------------------------------- back into the language


class _Unwritable(Exception):
    """A SymPy expression with a node the language has no spelling for."""


@lru_cache(maxsize=1)
def _functions() -> dict:
    """SymPy function class -> registry name, for entries whose SymPy form is ``F(u, …)``."""
    sp = _sympy()
    u = _symbol()
    out = {}
    for op in entrywise_ops():
        form = op.sympy(sp, u)
        if isinstance(form, sp.Function) and form.args and form.args[0] == u or (
            isinstance(form, (sp.Max, sp.Min)) and u in form.args
        ):
            out.setdefault(form.func, op.name)
    return out


def to_expr(e, arg: Expr) -> Expr:
    """The SymPy expression ``e`` (in :func:`symbol`) applied entry-wise to ``arg``."""
    sp = _sympy()
    shape = arg.shape

    def num(v) -> Expr:
        return b.mul(b.num(v), b.ones(shape)) if shape != SCALAR else b.num(v)

    def go(x) -> Expr:
        if x == _symbol():
            return arg
        if x.is_Rational:
            return num(Fraction(int(x.p), int(x.q)))
        if x.is_Add:
            terms = [go(t) for t in x.args]
            return b.add(*(b.mul(t, b.ones(shape)) if t.shape != shape else t for t in terms))
        if x.is_Mul:
            return b.eprod(*(go(f) for f in x.args))
        if x.is_Pow:
            k = x.exp
            if not k.is_Rational:
                raise _Unwritable(str(x))
            return b.power(go(x.base), Fraction(int(k.p), int(k.q)))
        if x.func == sp.exp and x.args[0] != _symbol():
            return b.apply("exp", go(x.args[0]))
        name = _functions().get(x.func)
        if name is None:
            raise _Unwritable(str(x))
        if isinstance(x, (sp.Max, sp.Min)):
            if x.func != sp.Max or len(x.args) != 2 or 0 not in x.args:
                raise _Unwritable(str(x))
            inner = next(a for a in x.args if a != 0)
        else:
            inner = x.args[0]
        return b.apply(name, go(inner))

    return go(e)


# ---------------------------------------------------------------- code


def numpy_helper(f: Formula, order: int, name: str, np: str) -> list[str]:
    """``def name(u): return …``: the ``order``-th derivative as a NumPy function, its body
    printed by SymPy's code printer (``np`` is the module's alias of numpy)."""
    from sympy.printing.numpy import NumPyPrinter

    class Printer(NumPyPrinter):
        def _module_format(self, fqn: str, register: bool = True) -> str:
            text = super()._module_format(fqn, register)
            return np + text[len("numpy"):] if text.startswith("numpy.") else text

        def _print_Heaviside(self, e) -> str:  # noqa: N802 (SymPy's naming)
            return f"{np}.heaviside({self._print(e.args[0])}, 0.0)"

        def _print_Max(self, e) -> str:  # noqa: N802
            args = [self._print(a) for a in e.args]
            out = args[0]
            for a in args[1:]:
                out = f"{np}.maximum({out}, {a})"
            return out

    body = Printer({"fully_qualified_modules": True}).doprint(f.forms[order])
    what = f"{f.name}{chr(39) * order}" if order else f.name
    return [
        f"def {name}(u):",
        f'    """{what}({f.param}) entry by entry."""',
        f"    return {body}" if _symbol() in f.forms[order].free_symbols
        else f"    return {np}.full_like(u, {body}, dtype=float)",
        "",
        "",
    ]


def used_derivatives(f: Formula, roots: list[Expr]) -> list[int]:
    """The orders of ``f``'s derivatives applied in ``roots`` (order 0 excluded)."""
    from .expr import Apply

    orders: set[int] = set()
    seen: set[Expr] = set()
    stack = list(roots)
    while stack:
        e = stack.pop()
        if e in seen:
            continue
        seen.add(e)
        if isinstance(e, Apply) and e.fn == f.name and e.order:
            orders.add(e.order)
        stack.extend(e.children())
    return sorted(orders)


__all__ = ["Formula", "derivatives", "formula", "numpy_helper", "symbol", "to_expr", "used_derivatives"]
