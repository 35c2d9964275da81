"""The entry-wise functions of the language, one :func:`entrywise` call each.

Each gives its derivative ``f'(x)`` (with ``x`` the argument and ``y = f(x)``
its value, whichever reads shorter), its SymPy form, its NumPy evaluation
(``numeric``) and code for every target (``{np}`` the module alias, ``{x}`` the
argument, ``{a}`` the argument parenthesised unless atomic; a target's helpers and
locals such as ``{softplus}`` by name), its LaTeX spelling
(``{x}`` the argument, ``{prime}`` the derivative marks) and the domain of its
argument.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import numpy as np

from .. import build as b
from ..expr import Expr
from .registry import ANY, Domain, Op, register, spelt
from .sympy_functions import function


def _one_minus(e: Expr) -> Expr:
    return b.sub(b.ones(e.shape), e)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _command(name: str) -> str:
    return "\\" + name + r"{prime}\left({x}\right)"


def _operator(name: str) -> str:
    return r"\operatorname{{" + name + r"}}{prime}\left({x}\right)"


#: A kink at 0 (``relu abs step sign``): draws keep away from it.
KINK = Domain("any", lambda x: float(np.abs(x).min()))
POSITIVE = Domain("positive", lambda x: float(x.min()))
#: Inside (-1, 1) (``arcsin arccos``).
UNIT = Domain("small", lambda x: 1 - float(np.abs(x).max()))


def entrywise(
    name: str,
    derivative: Callable[[Expr, Expr], Expr],
    sympy: Callable,
    numeric: Callable[[np.ndarray], np.ndarray],
    numpy: str | None = None,
    latex: str | None = None,
    domain: Domain = ANY,
    aliases: tuple[str, ...] = (),
    **targets: str,
) -> Op:
    """Register an entry-wise function (NumPy code and LaTeX default to ``np.name`` and ``\\name``;
    the other targets' code to the NumPy spelling, unless given as ``torch=``, ``jax=``,
    ``array_api=``)."""
    return register(Op(
        name, "entrywise", aliases=aliases, domain=domain, derivative=derivative, sympy=sympy,
        numeric=numeric, latex=latex if latex is not None else _command(name),
        code=spelt(numpy if numpy is not None else "{np}." + name + "({x})", **targets),
    ))


# In this order, the selftest's generator picks functions as it did before the registry
# (its choices are by position); a new function goes at the end.
entrywise("exp", lambda x, y: y, lambda sp, u: sp.exp(u), np.exp)
entrywise("log", lambda x, y: b.power(x, -1), lambda sp, u: sp.log(u), np.log, domain=POSITIVE)
entrywise("sin", lambda x, y: b.apply("cos", x), lambda sp, u: sp.sin(u), np.sin)
entrywise("cos", lambda x, y: b.neg(b.apply("sin", x)), lambda sp, u: sp.cos(u), np.cos)
entrywise("arcsin", lambda x, y: b.power(_one_minus(b.power(x, 2)), Fraction(-1, 2)),
          lambda sp, u: sp.asin(u), np.arcsin, domain=UNIT, array_api="{np}.asin({x})")
entrywise("arccos", lambda x, y: b.neg(b.power(_one_minus(b.power(x, 2)), Fraction(-1, 2))),
          lambda sp, u: sp.acos(u), np.arccos, domain=UNIT, array_api="{np}.acos({x})")
entrywise("tan", lambda x, y: b.add(b.ones(x.shape), b.power(y, 2)), lambda sp, u: sp.tan(u), np.tan,
          domain=Domain("small", lambda x: float(np.abs(np.cos(x)).min())))
entrywise("arctan", lambda x, y: b.power(b.add(b.ones(x.shape), b.power(x, 2)), -1),
          lambda sp, u: sp.atan(u), np.arctan, array_api="{np}.atan({x})")
entrywise("tanh", lambda x, y: _one_minus(b.power(y, 2)), lambda sp, u: sp.tanh(u), np.tanh)
entrywise("sigmoid", lambda x, y: b.eprod(y, _one_minus(y)), lambda sp, u: function("sigmoid")(u),
          _sigmoid, numpy="(0.5 + 0.5 * {np}.tanh(0.5 * {a}))", latex=_operator("sigmoid"),
          aliases=("sigm",), torch="{np}.sigmoid({x})")
entrywise("softplus", lambda x, y: b.apply("sigmoid", x), lambda sp, u: function("softplus")(u),
          lambda x: np.logaddexp(0.0, x), numpy="{np}.logaddexp(0.0, {x})", latex=_operator("softplus"),
          torch="{np}.nn.functional.softplus({x}, threshold=40.0)", jax="{np}.logaddexp({x}, 0.0)",
          array_api="{softplus}({np}, {x})")
entrywise("sq", lambda x, y: b.scale(2, x), lambda sp, u: u**2, np.square, numpy="{np}.square({x})",
          latex=_operator("sq"))
entrywise("relu", lambda x, y: b.apply("step", x), lambda sp, u: sp.Max(0, u),
          lambda x: np.maximum(x, 0.0), numpy="{np}.maximum({x}, 0.0)", latex=_operator("relu"),
          domain=KINK, torch="{np}.relu({x})", array_api="{np}.clip({x}, min=0.0)")
entrywise("abs", lambda x, y: b.apply("sign", x), lambda sp, u: sp.Abs(u), np.abs,
          latex=r"\left|{x}\right|", domain=KINK)
entrywise("step", lambda x, y: b.zero(x.shape), lambda sp, u: sp.Heaviside(u, 0),
          lambda x: (x > 0).astype(float), numpy="{np}.heaviside({x}, 0.0)", latex=_operator("step"),
          domain=KINK, torch="{np}.sign({np}.relu({x}))", array_api="{np}.sign({np}.clip({x}, min=0.0))")
entrywise("sign", lambda x, y: b.zero(x.shape), lambda sp, u: sp.sign(u), np.sign,
          latex=_operator("sign"), domain=KINK)
entrywise("sqrt", lambda x, y: b.scale(Fraction(1, 2), b.power(y, -1)), lambda sp, u: sp.sqrt(u),
          np.sqrt, latex=r"\sqrt{{{x}}}", domain=POSITIVE)
entrywise("log1p", lambda x, y: b.power(b.add(b.ones(x.shape), x), -1), lambda sp, u: sp.log(1 + u),
          np.log1p, latex=_operator("log1p"), domain=Domain("positive", lambda x: float((1 + x).min())))
entrywise("expm1", lambda x, y: b.apply("exp", x), lambda sp, u: sp.exp(u) - 1, np.expm1,
          latex=_operator("expm1"))
entrywise("sinh", lambda x, y: b.power(b.add(b.ones(x.shape), b.power(y, 2)), Fraction(1, 2)),
          lambda sp, u: sp.sinh(u), np.sinh)
