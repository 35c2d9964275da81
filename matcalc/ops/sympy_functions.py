"""SymPy functions for the entry-wise functions SymPy has no class for: ``sigmoid``, ``softplus``.

Written as exponentials (``1/(1 + exp(-u))``, ``log(1 + exp(u))``), their derivatives
come out of SymPy as ``exp(-u)/(1 + exp(-u))**2`` and the like, which a computer
evaluates as ``inf/inf`` once ``|u|`` passes about 709, where the true value is
finite. As functions of their own they differentiate to themselves
(``sigmoid' = sigmoid (1 - sigmoid)``, ``softplus' = sigmoid``), which every
target evaluates stably. :func:`expanded` writes them as exponentials again (for
SymPy users, who may not want functions SymPy does not know); ``rewrite(exp)``
does the same for one expression, ``evalf`` evaluates them, and ``lambdify`` uses
their NumPy forms. SymPy is imported on first use.
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def functions() -> dict[str, type]:
    """Name -> SymPy function class (made once, so the classes compare equal)."""
    import numpy as np
    import sympy as sp

    class sigmoid(sp.Function):  # noqa: N801 (SymPy prints a function by its class name)
        """The logistic function ``1/(1 + exp(-u))``."""

        _imp_ = staticmethod(lambda u: 0.5 + 0.5 * np.tanh(0.5 * u))

        def fdiff(self, argindex: int = 1) -> Any:
            s = self.func(self.args[0])
            return s * (1 - s)

        def _eval_rewrite_as_exp(self, u: Any, **kwargs: Any) -> Any:
            return 1 / (1 + sp.exp(-u))

        def _eval_rewrite_as_tanh(self, u: Any, **kwargs: Any) -> Any:
            return (1 + sp.tanh(u / 2)) / 2

        def _eval_evalf(self, prec: int) -> Any:
            return self.rewrite(sp.tanh)._eval_evalf(prec)

        def _eval_is_real(self) -> bool | None:
            return self.args[0].is_real

        def _eval_is_positive(self) -> bool | None:
            return True if self.args[0].is_real else None

    class softplus(sp.Function):  # noqa: N801
        """``log(1 + exp(u))``."""

        _imp_ = staticmethod(lambda u: np.logaddexp(0.0, u))

        def fdiff(self, argindex: int = 1) -> Any:
            return sigmoid(self.args[0])

        def _eval_rewrite_as_exp(self, u: Any, **kwargs: Any) -> Any:
            return sp.log(1 + sp.exp(u))

        def _eval_evalf(self, prec: int) -> Any:
            return self.rewrite(sp.exp)._eval_evalf(prec)

        def _eval_is_real(self) -> bool | None:
            return self.args[0].is_real

        def _eval_is_positive(self) -> bool | None:
            return True if self.args[0].is_real else None

    return {"sigmoid": sigmoid, "softplus": softplus}


def function(name: str) -> type:
    """The SymPy function class of the entry-wise function ``name``."""
    return functions()[name]


def expanded(e: Any) -> Any:
    """``e`` with these functions written as exponentials."""
    classes = tuple(functions().values())
    return e.replace(lambda x: isinstance(x, classes), lambda x: x.rewrite("exp"))


__all__ = ["expanded", "function", "functions"]
