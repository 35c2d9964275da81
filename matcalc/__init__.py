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
from .model import Model
from .ops import entrywise as _entrywise  # noqa: F401  (registers the operations first)
from .ops import structural as _structural  # noqa: F401
from .parser import parse

__version__ = "0.1.0"

__all__ = [
    "ArityError",
    "DefinitionError",
    "DerivativeError",
    "DimensionError",
    "Gradient",
    "MatcalcError",
    "MatcalcSyntaxError",
    "Model",
    "NumberError",
    "ShapeError",
    "UnknownNameError",
    "__version__",
    "grad",
    "parse",
]
