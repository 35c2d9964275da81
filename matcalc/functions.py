"""The functions of the language, one table line each: arity, what the
argument must be, and the shape of the result.

Their differentials live in :mod:`matcalc.differential`, their spellings in
the printers and the NumPy evaluator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .expr import SCALAR, Expr, Shape

#: Entry-wise functions (the result has the argument's shape).
ENTRYWISE: tuple[str, ...] = (
    "exp", "log", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "tanh",
    "sigmoid", "relu", "step", "sq", "sqrt", "abs", "sign", "softplus", "log1p",
)  # fmt: skip

#: Alternative spellings accepted in input.
ALIASES: dict[str, str] = {"sigm": "sigmoid"}


@dataclass(frozen=True)
class Structural:
    """A structural function: ``needs`` is ``any``, ``square`` or ``vector``."""

    needs: str
    result: Callable[[Shape], Shape]
    simplify: Callable[..., Expr | None] | None = None


def _vec_shape(s: Shape) -> Shape:
    from .build import dim_mul

    return (dim_mul(s[0], s[1]), 1)


def _simplify_sum(x: Expr) -> Expr | None:
    from . import build as b
    from .expr import Ones

    if isinstance(x, Ones):
        r, c = x.shape
        if isinstance(r, int) and isinstance(c, int):
            return b.num(r * c)
    return None


def _simplify_tr(x: Expr) -> Expr | None:
    from . import build as b
    from .expr import Eye

    if isinstance(x, Eye) and isinstance(x.shape[0], int):
        return b.num(x.shape[0])
    return None


def _simplify_diag(x: Expr) -> Expr | None:
    from .expr import Eye, Ones

    if isinstance(x, (Eye, Ones)):
        return Ones((x.shape[0], 1))
    return None


def _simplify_Diag(x: Expr) -> Expr | None:  # noqa: N802 (named after the function Diag)
    from . import build as b
    from .expr import Ones

    if isinstance(x, Ones):
        return b.eye(x.shape[0])
    return None


STRUCTURAL: dict[str, Structural] = {
    "sum": Structural("any", lambda s: SCALAR, _simplify_sum),
    "tr": Structural("square", lambda s: SCALAR, _simplify_tr),
    "diag": Structural("square", lambda s: (s[0], 1), _simplify_diag),
    "Diag": Structural("vector", lambda s: (s[0], s[0]), _simplify_Diag),
    "vec": Structural("any", _vec_shape),
    "inv": Structural("square", lambda s: s),
    "det": Structural("square", lambda s: SCALAR),
    "logdet": Structural("square", lambda s: SCALAR),
    "norm1": Structural("any", lambda s: SCALAR),
    "norm2": Structural("any", lambda s: SCALAR),
    "normF": Structural("any", lambda s: SCALAR),
    "softmax": Structural("vector", lambda s: s),
    "logsumexp": Structural("vector", lambda s: SCALAR),
}

#: Every function name a user may call (besides declared ``elementwise`` names).
KNOWN_FUNCTIONS: tuple[str, ...] = tuple(sorted(ENTRYWISE + tuple(STRUCTURAL) + tuple(ALIASES)))

