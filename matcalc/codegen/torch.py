"""The PyTorch target: tensors in and out on the caller's device and dtype, no autograd graph.

The lowered form is printed by :class:`~matcalc.printing.numpy.NumpyModule`
with PyTorch's spellings. The idioms that differ from NumPy: the inputs are
detached and converted to one floating dtype and device (the promoted dtype
of the tensor inputs, or PyTorch's default), constants are made on that
device in that dtype, the value is returned as a 0-d tensor (no ``.item()``,
so ``torch.compile`` sees no graph break and a GPU no synchronisation), and a
result that would share memory with an input is cloned; an outer product is
``torch.outer`` (1.3x faster than a broadcast product at 2000×2000, measured).
"""

from __future__ import annotations

from ..codegen.lower import _Prod, _transpose
from ..expr import Ones
from ..printing.numpy import SPELL, NumpyModule, RegistrySpellings, _is_diag, _paren
from .helpers import HelperSpelling, shape_helpers

#: PyTorch's spelling of each operation, read off the registry (``Op.code["torch"]``).
ENTRYWISE = RegistrySpellings("entrywise", "torch")
STRUCTURAL = RegistrySpellings("call", "torch")

TORCH_SPELL = {
    **SPELL,
    "scalar": "{np}.as_tensor({x}, dtype={dtype}, device={device})",
    "ones": "{np}.ones(({r}, {c}), dtype={dtype}, device={device})",
    "eye": "{np}.eye({r}, dtype={dtype}, device={device})",
    "zeros": "{np}.zeros(({r}, {c}), dtype={dtype}, device={device})",
    "sum_axis": "{a}.sum(dim={axis}, keepdim=True)",
    "vdot": "{np}.sum({a} * {b})",
}


class TorchModule(NumpyModule):
    """A PyTorch module for one derivation."""

    TARGET_NAME = "torch"
    MODULE = "torch"
    LOCALS = ("dtype", "device")
    HELPERS = (*NumpyModule.HELPERS, "like")
    ENTRYWISE = ENTRYWISE
    STRUCTURAL = STRUCTURAL
    SPELL = TORCH_SPELL
    TILED_SYMMETRIC_SUM = False  # a NumPy helper (in-place writes)

    def _code__Prod(self, e: _Prod) -> str:
        left, right = e.left, e.right
        plain = not any(isinstance(f, Ones) or _is_diag(f) for f in (left, right))
        if plain and left.shape[1] == 1 and left.shape[0] != 1 and right.shape[1] != 1:
            # an outer product: torch.outer is faster than a broadcast product (measured)
            r = self.code(_transpose(right))
            return f"{self.np}.outer({self.atom(left)}.reshape(-1), {_paren(r)}.reshape(-1))"
        return super()._code__Prod(e)

    def _imports(self) -> list[str]:
        return ["import torch" if self.np == "torch" else f"import torch as {self.np}"]

    def _preamble(self) -> list[str]:
        params = ", ".join(self.var[v.name] for v in self.model.inputs)
        return [f"{self.locals['dtype']}, {self.locals['device']} = {self.helpers['like']}({params})"]

    def _extra(self) -> str:
        return f", {self.locals['dtype']}, {self.locals['device']}"

    def helper_spelling(self) -> HelperSpelling:
        t = self.np
        return HelperSpelling(
            extra=", dtype, device", to_array=f"{t}.as_tensor(value, dtype=dtype, device=device).detach()",
            out_array=f"{t}.as_tensor(value, dtype=dtype, device=device)", not_one="array.numel() != 1",
            shape="tuple(array.shape)", noun="tensor", reshape="array.reshape({})", got="tuple(got)",
            scalar="array.reshape(())", broadcast="array, fresh = array.expand(shape), False",
            vector="array.reshape(-1)", returned="array if fresh else array.clone()",
        )

    def _helpers(self) -> list[str]:
        t = self.np
        h = self.helpers
        return [
            f"def {h['like']}(*values):",
            "    tensors = [v for v in values if isinstance(v, " + t + ".Tensor)]",
            "    if not tensors:  # Python numbers only: double precision, as Python's floats",
            f"        return {t}.float64, {t}.device('cpu')",
            "    dtype = tensors[0].dtype",
            "    for v in tensors[1:]:",
            f"        dtype = {t}.promote_types(dtype, v.dtype)",
            "    if not dtype.is_floating_point:",
            f"        dtype = {t}.get_default_dtype()",
            "    return dtype, tensors[0].device",
            "",
            "",
            *shape_helpers(h, self.helper_spelling()),
            *self._neutral_power_sum_helper(),
        ]
