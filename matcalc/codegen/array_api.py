"""The array API target: one module for NumPy, CuPy, PyTorch, Dask … (through ``array_api_compat``).

The lowered form is printed by :class:`~matcalc.printing.numpy.NumpyModule`
with the spellings of the Python array API standard, as functions of the
namespace ``xp`` of the caller's arrays (``array_api_compat.array_namespace``).
What the standard lacks is composed from what it has, so that nothing needs
an extension a library may not implement (Dask has no ``linalg.diagonal``):
``diag``, ``Diag`` and ``tr`` by an identity mask, ``heaviside`` by ``sign``
of ``clip``, a column-major ``vec`` by a transpose and a reshape. Constants
are made in the inputs' dtype on their device; the value is returned as a 0-d
array, lazily for a lazy library (Dask: compute the results together, once).
"""

from __future__ import annotations

from ..printing.numpy import SPELL, NumpyModule, RegistrySpellings
from .helpers import HelperSpelling, shape_helpers, softmax_helpers

#: The array API's spelling of each operation, read off the registry (``Op.code["array-api"]``).
ENTRYWISE = RegistrySpellings("entrywise", "array-api")
STRUCTURAL = RegistrySpellings("call", "array-api")

ARRAY_API_SPELL = {
    **SPELL,
    "scalar": "{np}.asarray({x}, dtype={dtype}, device={device})",
    "ones": "{np}.ones(({r}, {c}), dtype={dtype}, device={device})",
    "eye": "{np}.eye({r}, dtype={dtype}, device={device})",
    "zeros": "{np}.zeros(({r}, {c}), dtype={dtype}, device={device})",
    "sum_axis": "{np}.sum({x}, axis={axis}, keepdims=True)",
    "vdot": "{np}.sum({a} * {b})",
    "diag_product": "{np}.sum({a} * {b}.T, axis=1, keepdims=True)",
    "mask": "{np}.astype({x} > 0.0, {dtype})",
    "matrix_power": "{matrix_power}({x}, {k})",
}


class ArrayApiModule(NumpyModule):
    """An array-API module for one derivation."""

    TARGET_NAME = "array-api"
    MODULE = "xp"
    LOCALS = ("dtype", "device")
    HELPERS = (*NumpyModule.HELPERS, "softplus", "namespace", "compat", "matrix_power")
    ENTRYWISE = ENTRYWISE
    STRUCTURAL = STRUCTURAL
    SPELL = ARRAY_API_SPELL
    TILED_SYMMETRIC_SUM = False  # a NumPy helper (in-place writes)

    def _spell_locals(self) -> dict[str, str]:
        h = self.helpers
        return {**self.locals, "softplus": h["softplus"], "matrix_power": h["matrix_power"]}

    def _formula_arguments(self, x: str) -> str:
        return f"{self.np}, {x}"

    def _imports(self) -> list[str]:
        return [f"import array_api_compat as {self.helpers['compat']}"]

    def _preamble(self) -> list[str]:
        params = ", ".join(self.var[v.name] for v in self.model.inputs)
        return [
            f"{self.np}, {self.locals['dtype']}, {self.locals['device']} = "
            f"{self.helpers['namespace']}({params})"
        ]

    def _extra(self) -> str:
        return f", {self.np}, {self.locals['dtype']}, {self.locals['device']}"

    def helper_spelling(self) -> HelperSpelling:
        return HelperSpelling(
            extra=", xp, dtype, device", to_array="xp.asarray(value, dtype=dtype, device=device)",
            out_array="xp.asarray(value, dtype=dtype, device=device)",
            not_one="array.ndim > 2 or any(n != 1 for n in array.shape)", shape="tuple(array.shape)",
            noun="array", reshape="xp.reshape(array, ({}))", got="tuple(got)", scalar="xp.reshape(array, ())",
            broadcast="array, fresh = xp.broadcast_to(array, shape), False",
            vector="xp.reshape(array, (-1,))",
            returned="array if fresh else xp.asarray(array, copy=True)",
        )

    def _helpers(self) -> list[str]:
        c = self.helpers["compat"]
        h = self.helpers
        return [
            f"def {h['namespace']}(*values):",
            "    arrays = [v for v in values if not isinstance(v, (int, float))]",
            "    if not arrays:",
            "        import array_api_compat.numpy as xp  # plain numbers: computed by NumPy",
            "        return xp, xp.float64, 'cpu'",
            f"    xp = {c}.array_namespace(*arrays)",
            "    arrays = [xp.asarray(v) for v in arrays]",
            "    dtype = xp.result_type(*arrays)",
            "    if not xp.isdtype(dtype, 'real floating'):",
            "        dtype = xp.float64",
            f"    return xp, dtype, {c}.device(arrays[0])",
            "",
            "",
            *shape_helpers(h, self.helper_spelling()),
            f"def {h['matrix_power']}(x, k):  # by repeated squaring (the standard has none)",
            "    result, square = None, x",
            "    while k:",
            "        if k & 1:",
            "            result = square if result is None else result @ square",
            "        k >>= 1",
            "        if k:",
            "            square = square @ square",
            "    return result",
            "",
            "",
            f"def {h['softplus']}(xp, x):",
            "    return xp.logaddexp(x, xp.zeros_like(x))",
            "",
            "",
            *softmax_helpers(h, "xp", namespace=True),
            *self._neutral_power_sum_helper(),
        ]
