"""``matcalc selftest --target T``: random models through one target's module, against the
NumPy module (which the selftest itself checks against central differences).

A model counts when the selftest checks it (``ok``); then the target's module,
run on the same inputs converted to its library's arrays, must give the NumPy
module's value and gradients (relative tolerance 1e-8). The target's library
is imported only here, when asked for.
"""

from __future__ import annotations

import time
import unicodedata
from dataclasses import dataclass, field

import numpy as np

#: target -> the module to convert NumPy inputs with (its ``asarray``), and how results come back
LIBRARIES = {
    "numpy": "numpy",
    "array-api": "numpy",
    "torch": "torch",
    "jax": "jax.numpy",
}


@dataclass
class TargetSummary:
    """How many random models one target was compared on, and where it disagreed."""

    target: str
    tried: int = 0
    compared: int = 0
    #: compared models with a function defined by formula (their helpers printed for the target)
    with_formulas: int = 0
    seconds: float = 0.0
    failures: list[tuple[int, str]] = field(default_factory=list)


def _library(target: str):
    import importlib

    if target == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)
    return importlib.import_module(LIBRARIES[target])


def _arguments(model, case, lib) -> list:
    drawn = {unicodedata.normalize("NFC", k): a for k, a in case.inputs.items()}
    args: list = []
    for v in model.inputs:
        a = drawn[v.name]
        if v.shape == (1, 1):
            args.append(float(a[0, 0]))
        else:
            a = a[:, 0].copy() if v.shape[1] == 1 else a.copy()
            args.append(lib.asarray(a))
    for _ in sorted(model.elementwise):
        args += [lib.sin, lib.cos]
    return args


def _numpy(a) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().cpu()
    return np.asarray(a, dtype=float)


def disagreement(case, target: str, lib) -> str | None:
    """``None`` when ``target``'s module gives the NumPy module's results on ``case``."""
    from .. import api, parser

    model = parser.parse(case.text)
    g = api.grad(model, wrt=list(case.wrt), of=case.of)
    with np.errstate(all="ignore"):
        want = g.to_function()(*_arguments(model, case, np))
    try:
        got = g.to_function(target=target)(*_arguments(model, case, lib))
    except Exception as err:  # any error on a well-typed model is a disagreement
        return f"the {target} module raised {type(err).__name__}: {err}"
    for i, (a, b) in enumerate(zip(got, want, strict=True)):
        a = _numpy(a)
        if a.shape != np.shape(b):
            return f"result {i}: shape {a.shape}, the NumPy module's {np.shape(b)}"
        scale = max(1.0, float(np.max(np.abs(b), initial=0.0)))
        if not np.allclose(a, b, rtol=1e-8, atol=1e-9 * scale):
            return f"result {i}: {a!r}, the NumPy module's {b!r}"
    return None


def run(examples: int, seed: int, target: str) -> TargetSummary:
    """Compare ``target`` with the NumPy module on the selftest's models ``seed * 10**9 + i``."""
    from .. import parser, selftest

    lib = _library(target)
    s = TargetSummary(target)
    start = time.perf_counter()
    for i in range(examples):
        number = seed * 10**9 + i
        case = selftest.instance(selftest.generate(number))
        s.tried += 1
        if selftest.check_case(case, check_parse=False).status != "ok":
            continue
        s.compared += 1
        s.with_formulas += bool(parser.parse(case.text).formulas)
        problem = disagreement(case, target, lib)
        if problem is not None:
            s.failures.append((number, f"{case.describe()}\n  {problem}"))
    s.seconds = time.perf_counter() - start
    return s
