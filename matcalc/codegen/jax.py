"""The JAX target: pure functions that ``jax.jit`` and ``jax.vmap`` accept.

The lowered form is printed by :class:`~matcalc.printing.numpy.NumpyModule`
with ``jax.numpy``'s spellings. The idioms that differ from NumPy: arrays are
immutable, so nothing is copied and nothing is written in place; the inputs
take one floating dtype (the promoted dtype of the array inputs, so float32
stays float32 and float64 needs ``jax_enable_x64``); shape checks read only
static shapes (``.shape`` is static under ``jit`` and per example under
``vmap``); the value is returned as a 0-d array (no ``.item()``, which would
need a concrete value). ``Aᵀ v`` for a column ``v`` is written ``(vᵀ A)ᵀ``:
XLA on a CPU copies the transposed matrix for ``A.T @ v`` (17x slower at
2000×2000, measured), not for ``v.T @ A``.
"""

from __future__ import annotations

from ..codegen.lower import _Prod, _transpose
from ..expr import Transpose
from ..printing.numpy import SPELL, NumpyModule, RegistrySpellings, _is_diag
from .helpers import HelperSpelling, shape_helpers, softmax_helpers

#: ``jax.numpy``'s spelling of each operation, read off the registry (``Op.code["jax"]``).
ENTRYWISE = RegistrySpellings("entrywise", "jax")
JAX_STRUCTURAL = RegistrySpellings("call", "jax")

JAX_SPELL = {
    **SPELL,
    "scalar": "{np}.asarray({x}, dtype={dtype})",
    "ones": "{np}.ones(({r}, {c}), dtype={dtype})",
    "eye": "{np}.eye({r}, dtype={dtype})",
    "zeros": "{np}.zeros(({r}, {c}), dtype={dtype})",
}


class JaxModule(NumpyModule):
    """A JAX module for one derivation."""

    TARGET_NAME = "jax"
    MODULE = "jnp"
    LOCALS = ("dtype",)
    HELPERS = (*NumpyModule.HELPERS, "like")
    ENTRYWISE = ENTRYWISE
    STRUCTURAL = JAX_STRUCTURAL
    SPELL = JAX_SPELL
    TILED_SYMMETRIC_SUM = False  # a NumPy helper (in-place writes)

    def _imports(self) -> list[str]:
        return [f"import jax.numpy as {self.np}"]

    def _code__Prod(self, e: _Prod) -> str:
        left, right = e.left, e.right
        if isinstance(left, Transpose) and right.shape[1] == 1 and left.shape[1] != 1 and not (
            _is_diag(left.arg) or _is_diag(right)
        ):
            return f"({self.atom(_transpose(right))} @ {self.atom(left.arg)}).T"
        return super()._code__Prod(e)

    def _preamble(self) -> list[str]:
        params = ", ".join(self.var[v.name] for v in self.model.inputs)
        return [f"{self.locals['dtype']} = {self.helpers['like']}({params})"]

    def _extra(self) -> str:
        return f", {self.locals['dtype']}"

    def helper_spelling(self) -> HelperSpelling:
        j = self.np
        return HelperSpelling(
            extra=", dtype", to_array=f"{j}.asarray(value, dtype=dtype)",
            out_array=f"{j}.asarray(value, dtype=dtype)", not_one="array.size != 1", shape="array.shape",
            noun="array", reshape="array.reshape({})", got="got", scalar="array.reshape(())",
            broadcast=f"array = {j}.broadcast_to(array, shape)", vector="array.reshape(-1)", returned="array",
        )

    def _helpers(self) -> list[str]:
        j = self.np
        h = self.helpers
        return [
            f"def {h['like']}(*values):",
            "    arrays = [v for v in values if hasattr(v, 'dtype')]",
            f"    dtype = {j}.result_type(*arrays) if arrays else {j}.result_type(float)",
            f"    if not {j}.issubdtype(dtype, {j}.floating):",
            f"        dtype = {j}.result_type(float)",
            "    return dtype",
            "",
            "",
            *shape_helpers(h, self.helper_spelling()),
            *softmax_helpers(h, j),
            *self._neutral_power_sum_helper(),
        ]
