"""Every code target by name, and the source of a module for one."""
from __future__ import annotations

from ..gradient import Derivation
from ..printing.numpy import NumpyModule
from .array_api import ArrayApiModule
from .jax import JaxModule
from .torch import TorchModule

#: Every code target by the name the CLI and the API take.
TARGETS: dict[str, type[NumpyModule]] = {
    "numpy": NumpyModule,
    "torch": TorchModule,
    "jax": JaxModule,
    "array-api": ArrayApiModule,
}


def module_source(derivation: Derivation, target: str = "numpy", name: str = "value_and_grad") -> str:
    """The source of the ``target`` module computing the value and gradients of ``derivation``."""
    if target not in TARGETS:
        from .lower import CodegenError

        raise CodegenError(f"unknown target {target!r}; expected one of {', '.join(TARGETS)}")
    return TARGETS[target](derivation, name).source()
