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
from .parser import parse

__version__ = "0.1.0"

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
    "grad",
    "hessian",
    "jacobian",
    "parse",
]
