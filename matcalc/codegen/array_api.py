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

from ..printing.numpy import SPELL, NumpyModule

ENTRYWISE = {
    "exp": "{np}.exp({x})",
    "log": "{np}.log({x})",
    "sin": "{np}.sin({x})",
    "cos": "{np}.cos({x})",
    "tan": "{np}.tan({x})",
    "arcsin": "{np}.asin({x})",
    "arccos": "{np}.acos({x})",
    "arctan": "{np}.atan({x})",
    "tanh": "{np}.tanh({x})",
    "sigmoid": "(0.5 + 0.5 * {np}.tanh(0.5 * {a}))",
    "relu": "{np}.clip({x}, min=0.0)",
    "step": "{np}.sign({np}.clip({x}, min=0.0))",
    "sq": "{np}.square({x})",
    "sqrt": "{np}.sqrt({x})",
    "abs": "{np}.abs({x})",
    "sign": "{np}.sign({x})",
    "softplus": "{softplus}({np}, {x})",
    "log1p": "{np}.log1p({x})",
    "expm1": "{np}.expm1({x})",
}

STRUCTURAL = {
    "sum": "{np}.sum({x})",
    "tr": "{np}.sum({a} * {np}.eye({n}, dtype={dtype}, device={device}))",
    "diag": "{np}.sum({a} * {np}.eye({r}, dtype={dtype}, device={device}), axis=1, keepdims=True)",
    "Diag": "{np}.eye({r}, dtype={dtype}, device={device}) * {np}.reshape({x}, (1, -1))",
    "vec": "{np}.reshape({a}.T, (-1, 1))",
    "unvec": "{np}.reshape({x}, ({c}, {r})).T",
    "inv": "{np}.linalg.inv({x})",
    "det": "{np}.linalg.det({x})",
    "logdet": "{np}.linalg.slogdet({x})[1]",
    "norm1": "{np}.sum({np}.abs({x}))",
    "norm2": "{np}.sqrt({np}.sum({np}.square({x})))",
    "normF": "{np}.sqrt({np}.sum({np}.square({x})))",
    "softmax": "{softmax}({np}, {x})",
    "logsumexp": "{logsumexp}({np}, {x})",
    # the standard has no kron or einsum: broadcast products of reshaped blocks
    "kron": "{np}.reshape({a}[:, None, :, None] * {b}[None, :, None, :], ({r}, {c}))",
    "blockfrob": "{np}.sum({np}.reshape({x}, ({r}, {r1}, {c}, {c1})) * {b}[None, :, None, :], axis=(1, 3))",
    "blocksum": "{np}.sum({np}.reshape({x}, ({r1}, {r}, {c1}, {c})) * {b}[:, None, :, None], axis=(0, 2))",
}

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
    FORMULA_HELPERS = False
    MODULE = "xp"
    LOCALS = ("dtype", "device")
    HELPERS = (*NumpyModule.HELPERS, "softplus", "namespace", "compat", "matrix_power")
    ENTRYWISE = ENTRYWISE
    STRUCTURAL = STRUCTURAL
    SPELL = ARRAY_API_SPELL

    def _spell_locals(self) -> dict[str, str]:
        h = self.helpers
        return {**self.locals, "softplus": h["softplus"], "matrix_power": h["matrix_power"]}

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
            f"def {h['input']}(value, name, kind, xp, dtype, device):",
            "    array = xp.asarray(value, dtype=dtype, device=device)",
            "    if kind == 'scalar':",
            "        if array.ndim > 2 or any(n != 1 for n in array.shape):",
            "            raise ValueError(",
            "                f'{name} must be a scalar, got an array of shape {tuple(array.shape)}')",
            "        return xp.reshape(array, (1, 1))",
            "    if kind == 'vector':",
            "        if array.ndim != 1:",
            "            raise ValueError(",
            "                f'{name} must be a 1-D array (a vector), got shape {tuple(array.shape)}')",
            "        return xp.reshape(array, (-1, 1))",
            "    if array.ndim != 2:",
            "        raise ValueError(",
            "            f'{name} must be a 2-D array (a matrix), got shape {tuple(array.shape)}')",
            "    return array",
            "",
            "",
            f"def {h['mismatch']}(name, label, want, got):",
            "    raise ValueError(f'{name} must have shape {label} = {want} '",
            "                     f'to fit the other inputs, got {tuple(got)}')",
            "",
            "",
            f"def {h['out']}(value, shape, kind, fresh, xp, dtype, device):",
            "    array = xp.asarray(value, dtype=dtype, device=device)",
            "    if kind == 'scalar':",
            "        return xp.reshape(array, ())",
            "    if tuple(array.shape) != shape:",
            "        array, fresh = xp.broadcast_to(array, shape), False",
            "    if kind == 'vector':",
            "        array = xp.reshape(array, (-1,))",
            "    return array if fresh else xp.asarray(array, copy=True)",
            "",
            "",
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
            f"def {h['softmax']}(xp, x):",
            "    z = xp.exp(x - xp.max(x))",
            "    return z / xp.sum(z)",
            "",
            "",
            f"def {h['logsumexp']}(xp, x):",
            "    m = xp.max(x)",
            "    return m + xp.log(xp.sum(xp.exp(x - m)))",
            "",
            "",
            *self._neutral_power_sum_helper(),
        ]
