"""matcalc: symbolic matrix calculus — closed-form gradients of matrix expressions."""

from .api import Gradient, grad
from .errors import (
    ArityError,
    DefinitionError,
    DerivativeError,
    DimensionError,
    MatcalcError,
    MatcalcSyntaxError,
    NumberError,
    ShapeError,
    UnknownNameError,
)
from .kinds_api import Hessian, Jacobian, hessian, jacobian
from .model import Model
from .ops import entrywise as _entrywise  # noqa: F401  (registers the operations)
from .ops import structural as _structural  # noqa: F401
from .parser import parse

__version__ = "0.1.0"


def from_sympy(expr) -> Model:
    """The matcalc model of a scalar SymPy matrix expression (see :mod:`matcalc.sympy_interop`)."""
    from .sympy_interop import from_sympy as convert

    return convert(expr)


def load_ipython_extension(ipython) -> None:
    """``%load_ext matcalc``: the ``%%matcalc`` cell magic (see :mod:`matcalc.jupyter`)."""
    from .jupyter import load_ipython_extension as load

    load(ipython)


def diff(expr, *wrt):
    """The gradient of a scalar SymPy expression w.r.t. SymPy symbols, as SymPy expressions."""
    from .sympy_interop import diff as derivative

    return derivative(expr, *wrt)


__all__ = [
    "ArityError",
    "DefinitionError",
    "DerivativeError",
    "DimensionError",
    "Gradient",
    "Hessian",
    "Jacobian",
    "MatcalcError",
    "MatcalcSyntaxError",
    "Model",
    "NumberError",
    "ShapeError",
    "UnknownNameError",
    "__version__",
    "diff",
    "from_sympy",
    "grad",
    "hessian",
    "jacobian",
    "parse",
]
