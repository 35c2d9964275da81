"""SymPy in and out: a SymPy matrix expression as a matcalc model, a gradient as SymPy.

:func:`from_sympy` writes the expression in matcalc's language (declaring every
``MatrixSymbol`` and ``Symbol`` it holds) and parses that text, so a SymPy
expression gets exactly the checks a typed model gets; :func:`to_sympy` turns a
gradient, a Jacobian or a Hessian back into a SymPy matrix expression (the vectorisation
and the commutation matrix a Jacobian's blocks hold as :class:`Vec` and
:class:`Commutation`, matrix expressions of their own); :func:`diff` does both.

Which SymPy function is which matcalc function is read off the operation registry
(:mod:`matcalc.ops`): an entry-wise function by its ``sympy`` form (``sigmoid`` goes out as
``1/(1 + exp(-u))``), a structural one by its ``sympy_matrix`` form (``tr`` is
``Trace``); this module holds no table of names. A function defined by formula
goes out as its formula (``gelu'`` as SymPy's derivative of its body).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.matexpr import MatrixElement

from . import dims
from .dims import Dim
from .errors import MatcalcError
from .expr import (
    Add,
    Adjoint,
    Call,
    Diff,
    EProd,
    Expr,
    Eye,
    Frob,
    MatPow,
    Mul,
    Num,
    Ones,
    PowerSum,
    Transpose,
    Var,
    Zero,
)
from .functions import KNOWN_FUNCTIONS
from .model import Model
from .ops.registry import OPS, call_ops, entrywise_ops
from .ops.sympy_functions import expanded

#: The variable of every entry-wise function written as a SymPy ``Lambda``.
_x = sp.Dummy("x")

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_RESERVED = set(KNOWN_FUNCTIONS) | {"ones", "eye", "vector", "matrix", "scalar", "symmetric", "elementwise"}


@dataclass(frozen=True)
class Tables:
    """The registry seen from SymPy.

    ``forms``: an entry-wise function's SymPy form in ``_x`` -> its name; ``classes``:
    a SymPy function class -> the entry-wise function whose form is that class applied
    to ``_x`` (``Heaviside`` for ``step``, whose form is ``Heaviside(x, 0)``); ``out``:
    name -> the SymPy function (a class, or a ``Lambda`` of ``_x``); ``calls``: a SymPy
    matrix-expression class -> the structural function whose ``sympy_matrix`` form is that
    class applied to its arguments (``Trace`` -> ``tr``, ``KroneckerProduct`` -> ``kron``).
    """

    forms: dict
    classes: dict
    out: dict
    calls: dict


_TABLES: dict[tuple[str, ...], Tables] = {}


def tables() -> Tables:
    """The tables for the registry as it is now (rebuilt when an entry is added)."""
    key = tuple(OPS)
    t = _TABLES.get(key)
    if t is None:
        _TABLES.clear()
        t = _TABLES[key] = _build_tables()
    return t


def _build_tables() -> Tables:
    forms: dict = {}
    classes: dict = {}
    out: dict = {}
    for op in entrywise_ops():
        if op.sympy is None:
            continue
        own = sp.sympify(op.sympy(sp, _x))
        form = expanded(own)  # sigmoid goes out as 1/(1 + exp(-x)), and is read in as either
        for f in (form, own):
            forms.setdefault(f, op.name)
            if _applied(f):
                classes.setdefault(f.func, op.name)
        out[op.name] = form.func if _applied(form) and len(form.args) == 1 else sp.Lambda(_x, form)
    calls: dict = {}
    for op in call_ops():
        if op.sympy_matrix is None or op.internal:
            continue
        probes = [_probe(need, i) for i, need in enumerate(op.needs[: op.arity])]
        form = op.sympy_matrix(sp, *probes)
        if isinstance(form, sp.MatrixExpr) or isinstance(form, sp.Expr):
            if tuple(form.args[: op.arity]) == tuple(probes) and all(
                a.is_number for a in form.args[op.arity:]
            ):
                calls.setdefault(type(form), op)
    return Tables(forms, classes, out, calls)


def _applied(form: sp.Basic) -> bool:
    """``form`` is a SymPy function class applied to ``_x`` (and numbers)."""
    return isinstance(form, sp.Function) and form.args[:1] == (_x,) and all(
        a.is_number for a in form.args[1:]
    )


def _probe(need: str, i: int) -> sp.MatrixSymbol:
    """A SymPy argument that meets ``need`` (``square``, ``vector`` or ``any``)."""
    rows, cols = {"square": (3, 3), "vector": (3, 1)}.get(need, (3, 4))
    return sp.MatrixSymbol(f"_probe{i}", rows, cols)


def entrywise_name(e: sp.Basic, arg: sp.Basic) -> str | None:
    """The entry-wise function ``e`` applies to ``arg`` (``e`` is ``F(arg, …)``), if any."""
    t = tables()
    name = t.forms.get(e.xreplace({arg: _x}))
    if name is None and isinstance(e, sp.Function) and e.args[:1] == (arg,):
        name = t.classes.get(e.func)
    return name


# ---------------------------------------------------------------- SymPy in


def from_sympy(expr: sp.Basic) -> Model:
    """The matcalc model of the scalar SymPy expression ``expr``.

    Accepts ``MatrixSymbol``, ``Symbol``, numbers, ``MatMul``, ``MatAdd``,
    ``Transpose``, ``Inverse``, ``MatPow``, ``Trace``, ``Determinant``,
    ``HadamardProduct``, ``HadamardPower``, ``Identity``, ``OneMatrix``,
    element-wise functions through ``applyfunc`` and scalar ``Add``/``Mul``/``Pow``
    and functions (``log``, ``exp``, …) of those. Raises
    :class:`~matcalc.errors.MatcalcError` for anything else.
    """
    from .parser import parse

    return parse(sympy_model_text(expr))


def sympy_model_text(expr: sp.Basic) -> str:
    """``expr`` written as a matcalc model: one declaration per symbol, then the expression."""
    if not isinstance(expr, sp.Basic):
        raise MatcalcError(f"from_sympy needs a SymPy expression, not {type(expr).__name__}")
    writer = _Writer()
    body = writer.write(expr)
    lines = [f"{name}: {kind}" for name, kind in writer.declarations.items()]
    return "\n".join([*lines, body]) + "\n"


class _Writer:
    """SymPy → matcalc text, collecting the declarations on the way."""

    def __init__(self) -> None:
        self.declarations: dict[str, str] = {}

    def name(self, name: str) -> str:
        if not _IDENTIFIER.match(name) or name in _RESERVED:
            raise MatcalcError(f"the SymPy name {name!r} cannot be a matcalc name")
        return name

    def dim(self, d: sp.Basic) -> str:
        if isinstance(d, sp.Integer) and d > 0:
            return str(int(d))
        if isinstance(d, sp.Symbol):
            return self.name(d.name)
        raise MatcalcError(f"the SymPy dimension {d} is not a positive integer or a symbol")

    def declare(self, name: str, kind: str) -> str:
        name = self.name(name)
        if self.declarations.setdefault(name, kind) != kind:
            raise MatcalcError(f"the SymPy name {name!r} stands for two different symbols")
        return name

    def write(self, e: sp.Basic) -> str:
        if isinstance(e, sp.MatrixSymbol):
            r, c = e.shape
            if r == 1 and c == 1:
                kind = "scalar"
            elif c == 1:
                kind = f"vector({self.dim(r)})"
            else:
                kind = f"matrix({self.dim(r)}, {self.dim(c)})"
            return self.declare(e.name, kind)
        if isinstance(e, sp.Symbol):
            return self.declare(e.name, "scalar")
        if isinstance(e, sp.Rational):
            return f"({e.p}/{e.q})" if e.q != 1 else f"({e.p})"
        if isinstance(e, sp.Float):
            return f"({sp.Rational(e).p}/{sp.Rational(e).q})"
        if e is sp.S.Exp1:
            return "exp(1)"
        if isinstance(e, sp.Identity):
            return f"eye({self.dim(e.shape[0])})"
        if isinstance(e, sp.OneMatrix):
            r, c = e.shape
            if c == 1:
                return f"ones({self.dim(r)})"
            return f"(ones({self.dim(r)})*ones({self.dim(c)})')"
        if isinstance(e, (sp.MatMul, sp.Mul)):
            return "(" + "*".join(self.write(a) for a in e.args) + ")"
        if isinstance(e, (sp.MatAdd, sp.Add)):
            return "(" + " + ".join(self.write(a) for a in e.args) + ")"
        if isinstance(e, sp.Transpose):
            return f"({self.write(e.arg)})'"
        op = tables().calls.get(type(e))
        if op is not None:
            return f"{op.name}(" + ", ".join(self.write(a) for a in e.args[: op.arity]) + ")"
        if isinstance(e, sp.HadamardProduct):
            return "(" + " .* ".join(self.write(a) for a in e.args) + ")"
        if isinstance(e, sp.HadamardPower):
            return f"({self.write(e.base)}) .^ {self.exponent(e.exp)}"
        if isinstance(e, sp.MatPow):
            return f"({self.write(e.base)})^{self.exponent(e.exp)}"
        if isinstance(e, sp.Pow):
            return f"({self.write(e.base)})^{self.exponent(e.exp)}"
        if isinstance(e, MatrixElement) and e.parent.shape == (1, 1):
            return self.write(e.parent)  # the entry of a 1×1 product, as in (x.T*A*x)[0, 0]
        if isinstance(e, ElementwiseApplyFunction):
            return self.entrywise(e.function, self.write(e.expr), matrix=True)
        if isinstance(e, (sp.Function, sp.Max, sp.Min)):
            args = [a for a in e.args if not a.is_number]
            name = entrywise_name(e, args[0]) if len(args) == 1 else None
            if name is not None:
                return f"{name}({self.write(args[0])})"
        raise MatcalcError(f"matcalc cannot read the SymPy expression {e} ({type(e).__name__})")

    def exponent(self, k: sp.Basic) -> str:
        if not isinstance(k, sp.Rational):
            raise MatcalcError(f"the exponent {k} must be a number")
        return f"({k.p}/{k.q})" if k.q != 1 else f"({k.p})"

    def entrywise(self, fn: sp.Basic, arg: str, matrix: bool) -> str:
        """``fn`` (a SymPy function class or a ``Lambda`` of one variable) applied entry-wise."""
        name = None
        if isinstance(fn, sp.Lambda) and len(fn.variables) == 1:
            (d,), body = fn.variables, fn.expr
            name = entrywise_name(body, d)
            if name is None and isinstance(body, sp.Pow) and body.base == d:
                return f"({arg}) .^ {self.exponent(body.exp)}"
        elif not isinstance(fn, sp.Lambda):
            name = tables().classes.get(fn)
        if name is not None:
            return f"{name}({arg})"
        raise MatcalcError(f"matcalc cannot apply the SymPy function {fn} entry-wise")


# ---------------------------------------------------------------- SymPy out


class Vec(sp.MatrixExpr):
    """``vec(A)``: the columns of the m×n matrix ``A`` stacked into an ``mn``-vector (SymPy's
    matrix expressions have none); explicit once ``A``'s sizes are numbers."""

    def __new__(cls, arg: sp.Basic):
        return super().__new__(cls, sp.sympify(arg))

    @property
    def arg(self) -> sp.Basic:
        return self.args[0]

    @property
    def shape(self):  # type: ignore[override]
        r, c = self.arg.shape
        return (r * c, sp.Integer(1))

    def _entry(self, i, j, **kwargs):
        rows = self.arg.shape[0]
        return self.arg[i % rows, i // rows]


class Commutation(sp.MatrixExpr):
    """``K(m, n)``: the ``nm×mn`` permutation with ``K(m, n) vec(A) = vec(Aᵀ)`` for an m×n ``A``."""

    def __new__(cls, m: sp.Basic, n: sp.Basic):
        return super().__new__(cls, sp.sympify(m), sp.sympify(n))

    @property
    def shape(self):  # type: ignore[override]
        m, n = self.args
        return (n * m, m * n)

    def _entry(self, i, j, **kwargs):
        m, n = self.args
        return sp.KroneckerDelta(i, j // m + (j % m) * n)


#: A matrix power's differential ``Σ_{i<k} Lⁱ M R^{k−1−i}`` is written out up to this ``k``.
MAX_POWER_TERMS = 64


def to_sympy(
    e: Expr, model: Model, symbols: Iterable[sp.Basic] = (), adjoints: Iterable[tuple[Var, Expr]] = ()
) -> sp.Basic:
    """The SymPy expression of the matcalc expression ``e`` (of ``model``).

    Inputs become ``MatrixSymbol``\\ s (scalars: ``Symbol``\\ s) named as in the model,
    or the objects of ``symbols`` with those names; definitions and the named adjoints
    ``adjoints`` (``δh``, each with its value) are written out.
    A 1×1 matrix product used as a scalar is its entry ``[0, 0]``.
    """
    return _Reader(model, symbols, adjoints).scalar_or_matrix(e)


class _Reader:
    """matcalc IR → SymPy."""

    def __init__(
        self, model: Model, symbols: Iterable[sp.Basic], adjoints: Iterable[tuple[Var, Expr]] = ()
    ) -> None:
        self.known = {s.name: s for s in symbols if isinstance(s, (sp.Symbol, sp.MatrixSymbol))}
        self.dims: dict[str, sp.Basic] = {}
        for s in self.known.values():
            if isinstance(s, sp.MatrixSymbol):
                for d in s.shape:
                    if isinstance(d, sp.Symbol):
                        self.dims[d.name] = d
        self.model = model
        self.defs = {v.name: rhs for v, rhs in model.definitions}
        self.adjoints = {v.name: g for v, g in adjoints}
        self.cache: dict[Expr, sp.Basic] = {}

    def dim(self, d: Dim) -> sp.Basic:
        """A size as SymPy writes it: an integer, a symbol, or their product (``m*n``)."""
        return sp.sympify(dims.value(d, self.dim_symbol))

    def dim_symbol(self, name: str) -> sp.Basic:
        return self.dims.setdefault(name, sp.Symbol(name, integer=True, positive=True))

    def scalar_or_matrix(self, e: Expr) -> sp.Basic:
        out = self(e)
        return self.scalar(out) if e.shape == (1, 1) else out

    @staticmethod
    def scalar(s: sp.Basic) -> sp.Basic:
        if isinstance(s, sp.MatrixExpr) and s.shape == (1, 1):
            return s[0, 0]
        return s

    def __call__(self, e: Expr) -> sp.Basic:
        hit = self.cache.get(e)
        if hit is None:
            hit = self.cache[e] = self.convert(e)
        return hit

    def convert(self, e: Expr) -> sp.Basic:  # noqa: C901 (one case per node type)
        r, c = e.shape
        if isinstance(e, Var):
            if e.role == "def" and e.name in self.defs:
                return self(self.defs[e.name])
            if e.name in self.known:
                return self.known[e.name]
            if e.shape == (1, 1):
                return sp.Symbol(e.name)
            return sp.MatrixSymbol(e.name, self.dim(r), self.dim(c))
        if isinstance(e, Num):
            return _rational(e.value)
        if isinstance(e, Ones):
            return sp.OneMatrix(self.dim(r), self.dim(c))
        if isinstance(e, Eye):
            return sp.Identity(self.dim(r))
        if isinstance(e, Zero):
            return sp.ZeroMatrix(self.dim(r), self.dim(c))
        if isinstance(e, Add):
            terms = [self(t) for t in e.terms]
            if e.shape == (1, 1):
                return sp.Add(*[self.scalar(t) for t in terms])
            return sp.MatAdd(*terms)
        if isinstance(e, Mul):
            factor = _rational(e.coef) * sp.Mul(*[self.scalar(self(s)) for s in e.scalars])
            if not e.chain:
                return factor
            chain = [self(x) for x in e.chain]
            product = chain[0] if len(chain) == 1 else sp.MatMul(*chain)
            return product if factor == 1 else sp.MatMul(factor, product)
        if isinstance(e, EProd):
            if e.shape == (1, 1):
                return sp.Mul(*[self.scalar(self(f)) ** _rational(k) for f, k in e.factors])
            parts = [self(f) if k == 1 else sp.HadamardPower(self(f), _rational(k)) for f, k in e.factors]
            return parts[0] if len(parts) == 1 else sp.HadamardProduct(*parts)
        if isinstance(e, Transpose):
            return sp.Transpose(self(e.arg))
        if isinstance(e, Frob):
            return sp.Trace(sp.Transpose(self(e.left)) * self(e.right))
        if isinstance(e, Call):
            return self.call(e)
        if isinstance(e, Adjoint):
            if e.var.name not in self.adjoints:
                raise MatcalcError(f"the adjoint δ{e.var.name} has no value to write out")
            return self(self.adjoints[e.var.name])
        if isinstance(e, MatPow):
            return sp.MatPow(self(e.base), e.k)
        if isinstance(e, PowerSum):
            return self.power_sum(e)
        from .expr import Apply
        from .kron import Commutation as KronCommutation

        if isinstance(e, KronCommutation):
            return Commutation(self.dim(e.m), self.dim(e.n))

        if isinstance(e, Apply):
            return self.apply(e)
        if isinstance(e, Diff):  # pragma: no cover - differentials never reach a gradient
            raise MatcalcError("a differential has no SymPy form")
        raise MatcalcError(f"no SymPy form for {type(e).__name__} nodes")

    def apply(self, e) -> sp.Basic:
        arg = self(e.arg)
        fn = self.function(e.fn, e.order)
        if e.arg.shape == (1, 1):
            return fn(self.scalar(arg))
        return arg.applyfunc(fn)

    def function(self, name: str, order: int):
        """The ``order``-th derivative of the entry-wise function ``name`` as a SymPy function:
        the registry's form, a function defined by formula, or an abstract ``elementwise`` one."""
        formula = self.model.formula(name)
        if formula is not None:
            from .formulas import symbol

            return sp.Lambda(_x, expanded(formula.forms[order]).xreplace({symbol(): _x}))
        fn = tables().out.get(name)
        if fn is None:  # a declared elementwise function: abstract
            if OPS.get(name) is not None:
                raise MatcalcError(f"{name} has no SymPy form in the operation registry")
            fn = sp.Function(name)
        if not order:
            return fn
        return sp.Lambda(_x, sp.diff(fn(_x), _x, order))

    def power_sum(self, e: PowerSum) -> sp.Basic:
        """``Σ_{i<k} Lⁱ M R^{k−1−i}`` written out (a matrix expression sums no index)."""
        if e.k > MAX_POWER_TERMS:
            raise MatcalcError(
                f"a sum over the {e.k} terms of a matrix power's derivative has no SymPy form "
                f"(matcalc writes it out up to k = {MAX_POWER_TERMS})"
            )
        left, mid, right = self(e.left), self(e.mid), self(e.right)
        terms = [sp.MatMul(left**i, mid, right ** (e.k - 1 - i)) for i in range(e.k)]
        return sp.MatAdd(*terms)

    def call(self, e: Call) -> sp.Basic:
        op = OPS[e.fn]
        if e.fn == "vec":  # the registry's vec has no SymPy form to read back: write it out
            return Vec(self(e.args[0]))
        if op.sympy_matrix is None:
            raise MatcalcError(f"{e.fn}(...) has no SymPy matrix-expression form")
        return op.sympy_matrix(sp, *[self(a) for a in e.args])


def _rational(q: Fraction) -> sp.Rational:
    return sp.Rational(q.numerator, q.denominator)


# ---------------------------------------------------------------- both


def diff(expr: sp.Basic, *wrt: sp.Basic):
    """The gradient of the scalar SymPy expression ``expr`` w.r.t. each symbol of ``wrt``,
    as SymPy expressions (one, or a tuple in ``wrt`` order)."""
    from .api import grad

    if not wrt:
        raise MatcalcError("diff needs at least one symbol to differentiate with respect to")
    for w in wrt:
        if not isinstance(w, (sp.Symbol, sp.MatrixSymbol)):
            raise MatcalcError(f"can only differentiate with respect to a symbol, not {w}")
    g = grad(from_sympy(expr), wrt=[w.name for w in wrt])
    symbols = [*expr.atoms(sp.MatrixSymbol), *expr.atoms(sp.Symbol), *wrt]
    out = tuple(to_sympy(g[w.name], g.model, symbols) for w in wrt)
    return out[0] if len(out) == 1 else out
