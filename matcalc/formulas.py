"""Functions defined by formula: ``softsign(u) = u / (1 + abs(u))``.

A definition with one parameter defines a scalar function applied entry by
entry. Its body may use the parameter, numbers, ``+ - * / .* ./ ∘ ⊙ ^ .^``, the
entry-wise functions of the registry and functions defined before it; anything
else is a located error saying what is allowed. SymPy derives the first and
second derivatives exactly (from each registry entry's SymPy form) and keeps the
shorter of the derivative and its form over one denominator (``sp.together``)
that the language can write; when neither can be written (SymPy's ``sinh'`` is
``cosh``, not a function of the language), the same in exponentials.

In models and gradients a formula function is an ``Apply`` node like a declared
``elementwise`` function (``gelu'(W x)`` is ``Apply("gelu", …, order=1)``);
this module turns its SymPy expressions back into expressions of the language
(:func:`to_expr`, for evaluation and for the ``where gelu'(u) = …`` lines) and
into helpers of generated modules printed by SymPy's own code printers
(:mod:`matcalc.codegen.formula_code`).
SymPy is imported only when a model defines a function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property, lru_cache
from typing import Any

from . import build as b
from .errors import DefinitionError, MatcalcError, ShapeError
from .expr import SCALAR, Expr, Var
from .ops.registry import ANY, OPS, Domain, entrywise_ops, lookup
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

    def expr(self, order: int, arg: Expr) -> Expr:
        """The ``order``-th derivative applied to ``arg``, in the language's nodes."""
        return to_expr(self.forms[order], arg)

    def numeric(self, order: int) -> Callable:
        """The ``order``-th derivative as a NumPy function of an array (entry by entry)."""
        form = self.forms[order]
        return lambda x: values(form, np_array(x))

    @cached_property
    def domain(self) -> Domain:
        """Where the function may be evaluated (for checks and random draws), from the
        domains of the entry-wise functions and powers in its body: :func:`domain_of`."""
        return domain_of(self.forms)


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
    if not good:  # a function the language lacks (sinh' = cosh): it alone in exponentials
        known = _functions()
        t = sp.Dummy()
        e = e.replace(lambda x: isinstance(x, sp.Function) and x.func not in known and len(x.args) == 1,
                      lambda x: x.func(t).rewrite(sp.exp).subs(t, x.args[0]))
        good = [c for c in (e, sp.together(e)) if _writable(c)]
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


# ---------------------------------------------------------------- domains

#: Where a draw of each kind lies (``check`` and the selftest draw from about these ranges).
_DRAWS = (("any", (-3.0, 3.0)), ("small", (-0.5, 0.5)), ("positive", (0.5, 1.5)))
#: A draw range counts as inside a body's domain when every function's margin (``|cos u|``
#: for ``tan``, the argument for ``log`` …) stays above this on a fine grid over it.
_EDGE = 0.05


def _restrictions(forms: tuple) -> list[tuple[Domain, Any]]:
    """``(domain, argument)`` for every function and power in ``forms`` that is not defined,
    or not smooth, everywhere: ``log(g(u))`` gives ``(log's domain, g(u))``; a fractional
    power needs a positive base, a negative one a nonzero base."""
    sp = _sympy()
    out: list[tuple[Domain, Any]] = []
    for form in forms:
        for e in sp.preorder_traversal(form):
            if e.is_Pow and not e.exp.is_integer:
                out.append((_POSITIVE_BASE, e.base))
            elif e.is_Pow and e.exp.is_negative:
                out.append((_NONZERO_BASE, e.base))
            elif isinstance(e, sp.Function) or isinstance(e, (sp.Max, sp.Min)):
                op = OPS.get(_functions().get(e.func, ""))
                if op is not None and op.domain is not ANY:
                    out.append((op.domain, next(a for a in e.args if a != 0)))
    return out


_POSITIVE_BASE = Domain("positive", lambda x: float(x.min()))
_NONZERO_BASE = Domain("any", lambda x: float(abs(x).min()))


def np_array(x):
    import numpy as np

    return np.asarray(x, dtype=float)


def values(e, x):
    """The SymPy expression ``e`` (in :func:`symbol`) evaluated entry by entry at the NumPy
    array ``x``, each function by its registry entry's ``numeric``."""
    import numpy as np

    sp = _sympy()
    if e == _symbol():
        return x
    if e.is_Number:
        return np.full_like(x, float(e), dtype=float)
    if e.is_Add or e.is_Mul:
        parts = [values(a, x) for a in e.args]
        out = parts[0]
        for p in parts[1:]:
            out = out + p if e.is_Add else out * p
        return out
    if e.is_Pow:
        return np.power(values(e.base, x), float(e.exp))
    name = "exp" if e.func == sp.exp else _functions().get(e.func)
    if name is None:
        raise ValueError(f"no numeric form for {e}")
    return OPS[name].numeric(values(next(a for a in e.args if a != 0), x))


def domain_of(forms: tuple) -> Domain:
    """The domain of a function whose body and derivatives are ``forms``, conservatively: the
    first draw (``any``, ``small``, ``positive``) whose whole range keeps every function of the
    body inside its own domain, with the margin (distance from where the body is not defined or
    not smooth) the least of its functions' margins at their arguments. When no range is
    inside, the one that comes closest (``check`` then reports values that are not finite)."""
    import numpy as np

    restricted = _restrictions(forms)
    if not restricted:
        return ANY

    def margin(x) -> float:
        x = np.asarray(x, dtype=float)
        with np.errstate(all="ignore"):
            ms = [d.margin(values(arg, x)) if d.margin is not None else float("inf")
                  for d, arg in restricted]
        ms = [m if m == m else float("-inf") for m in ms]  # nan: outside
        return float(min(ms))

    needs = [(d, arg) for d, arg in restricted if d.draw != "any" or d is _NONZERO_BASE]
    best: tuple[float, str] | None = None
    for kind, (low, high) in _DRAWS:
        with np.errstate(all="ignore"):
            least = min(
                (d.margin(values(arg, np.linspace(low, high, 241))) for d, arg in needs if d.margin),
                default=float("inf"),
            )
        least = least if least == least else float("-inf")  # nan: outside
        if least > _EDGE:
            return Domain(kind, margin)
        if best is None or least > best[0]:
            best = (least, kind)
    assert best is not None
    return Domain(best[1], margin)


# ---------------------------------------------------------------- code


def numpy_helper(f: Formula, order: int, name: str, np: str) -> list[str]:
    """``def name(u): return …``: the ``order``-th derivative as a NumPy function, its body
    printed by SymPy's code printer (``np`` is the module's alias of numpy); every target's
    helpers are in :mod:`matcalc.codegen.formula_code`."""
    from .codegen.formula_code import helper

    return helper(f, order, name, "numpy", np)


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


__all__ = [
    "Formula", "derivatives", "domain_of", "formula", "numpy_helper", "symbol", "to_expr",
    "used_derivatives", "values",
]
