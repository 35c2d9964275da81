"""Numeric evaluation by the lowered form: a model's values and gradients computed by the
program the NumPy target prints from the shared lowering (:mod:`matcalc.codegen.lower`).

``matcalc check`` (:mod:`matcalc.check`) evaluates a model, its gradients and the
central differences of its value through :class:`Program`: the NumPy module of a
derivation, lowered and printed once and compiled (only validated identifiers
reach its code), run on 2-D arrays. So what is checked is the code that is
shipped, not a second interpreter of the expression tree. The selftest runs the
same modules (``Gradient.to_function``) against its independent reference.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import lru_cache

import numpy as np

from ..expr import Var
from ..gradient import Derivation
from ..model import Model


class Program:
    """The NumPy module of ``derivation`` as a function of named 2-D arrays: it returns the
    value of ``derivation.of`` and then each of ``derivation.gradients``, all 2-D."""

    def __init__(self, derivation: Derivation) -> None:
        from ..printing.numpy import NumpyModule

        self.derivation = derivation
        source = NumpyModule(derivation, "program").source()
        namespace: dict = {}
        exec(compile(source, "<matcalc program>", "exec"), namespace)
        self.function = namespace["program"]
        self.source = source

    def __call__(self, inputs: Mapping[str, np.ndarray],
                 functions: Mapping[str, list[Callable]] | None = None) -> list[np.ndarray]:
        """The value and the results at ``inputs`` (every model input, 2-D), with ``functions``
        giving ``g, g'`` for each declared ``elementwise`` function."""
        model = self.derivation.model
        args: list = []
        for v in model.inputs:
            a = inputs[v.name]
            args.append(float(a[0, 0]) if v.shape == (1, 1) else a[:, 0] if v.shape[1] == 1 else a)
        for g in sorted(model.elementwise):
            args += [functions[g][0], functions[g][1]] if functions else []
        return [_two_d(r) for r in self.function(*args)]


def _two_d(result) -> np.ndarray:
    a = np.asarray(result, dtype=float)
    if a.ndim == 2:
        return a
    return a.reshape(-1, 1) if a.ndim == 1 else a.reshape(1, 1)


@lru_cache(maxsize=32)
def gradient_program(derivation: Derivation) -> Program:
    """The value and every gradient of ``derivation``."""
    return Program(derivation)


@lru_cache(maxsize=64)
def value_program(model: Model, of: Var, given: Var | None = None,
                  show: tuple[Var, ...] = ()) -> Program:
    """The value of ``of``; with ``given`` (a definition), as a function of the inputs and of
    ``given``'s value (its own definition dropped); ``show`` (definitions
    before ``of``) are returned after the value, with their shapes. Programs are kept for the
    last models asked for (central differences run one many times)."""
    if given is not None:
        model = replace(model, inputs=(*model.inputs, replace(given, role="input")),
                        definitions=tuple((v, e) for v, e in model.definitions if v.name != given.name))
    return Program(Derivation(model, of, show, show))


__all__ = ["Program", "gradient_program", "value_program"]
