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
from ..printing.numpy import SPELL, NumpyModule, _is_diag, _paren

ENTRYWISE = {
    "exp": "{np}.exp({x})",
    "log": "{np}.log({x})",
    "sin": "{np}.sin({x})",
    "cos": "{np}.cos({x})",
    "tan": "{np}.tan({x})",
    "arcsin": "{np}.arcsin({x})",
    "arccos": "{np}.arccos({x})",
    "arctan": "{np}.arctan({x})",
    "tanh": "{np}.tanh({x})",
    "sigmoid": "{np}.sigmoid({x})",
    "relu": "{np}.relu({x})",
    "step": "{np}.sign({np}.relu({x}))",
    "sq": "{np}.square({x})",
    "sqrt": "{np}.sqrt({x})",
    "abs": "{np}.abs({x})",
    "sign": "{np}.sign({x})",
    "softplus": "{np}.nn.functional.softplus({x}, threshold=40.0)",
    "log1p": "{np}.log1p({x})",
    "expm1": "{np}.expm1({x})",
}

STRUCTURAL = {
    "sum": "{np}.sum({x})",
    "tr": "{np}.trace({x})",
    "diag": "{np}.diagonal({x}).reshape(-1, 1)",
    "Diag": "{np}.diagflat({x})",
    "vec": "{a}.T.reshape(-1, 1)",
    "unvec": "{a}.reshape({c}, {r}).T",
    "inv": "{np}.linalg.inv({x})",
    "det": "{np}.linalg.det({x})",
    "logdet": "{np}.linalg.slogdet({x})[1]",
    "norm1": "{np}.sum({np}.abs({x}))",
    "norm2": "{np}.linalg.norm({x})",
    "normF": "{np}.linalg.norm({x})",
    "softmax": "{np}.softmax({a}.reshape(-1), 0).reshape({r}, {c})",
    "logsumexp": "{np}.logsumexp({a}.reshape(-1), 0)",
    "kron": "{np}.kron({x}, {y})",
    "blockfrob": "{np}.einsum('iajc,ac->ij', {a}.reshape({r}, {r1}, {c}, {c1}), {y})",
    "blocksum": "{np}.einsum('iajc,ij->ac', {a}.reshape({r1}, {r}, {c1}, {c}), {y})",
}

TORCH_SPELL = {
    **SPELL,
    "scalar": "{np}.tensor({x}, dtype={dtype}, device={device})",
    "ones": "{np}.ones(({r}, {c}), dtype={dtype}, device={device})",
    "eye": "{np}.eye({r}, dtype={dtype}, device={device})",
    "zeros": "{np}.zeros(({r}, {c}), dtype={dtype}, device={device})",
    "sum_axis": "{a}.sum(dim={axis}, keepdim=True)",
    "vdot": "{np}.sum({a} * {b})",
}


class TorchModule(NumpyModule):
    """A PyTorch module for one derivation."""

    TARGET_NAME = "torch"
    FORMULA_HELPERS = False
    MODULE = "torch"
    LOCALS = ("dtype", "device")
    HELPERS = (*NumpyModule.HELPERS, "like")
    ENTRYWISE = ENTRYWISE
    STRUCTURAL = STRUCTURAL
    SPELL = TORCH_SPELL

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
            f"def {h['input']}(value, name, kind, dtype, device):",
            f"    array = {t}.as_tensor(value, dtype=dtype, device=device).detach()",
            "    if kind == 'scalar':",
            "        if array.numel() != 1:",
            "            raise ValueError(",
            "                f'{name} must be a scalar, got an array of shape {tuple(array.shape)}')",
            "        return array.reshape(1, 1)",
            "    if kind == 'vector':",
            "        if array.ndim != 1:",
            "            raise ValueError(",
            "                f'{name} must be a 1-D tensor (a vector), got shape {tuple(array.shape)}')",
            "        return array.reshape(-1, 1)",
            "    if array.ndim != 2:",
            "        raise ValueError(",
            "            f'{name} must be a 2-D tensor (a matrix), got shape {tuple(array.shape)}')",
            "    return array",
            "",
            "",
            f"def {h['mismatch']}(name, label, want, got):",
            "    raise ValueError(f'{name} must have shape {label} = {want} '",
            "                     f'to fit the other inputs, got {tuple(got)}')",
            "",
            "",
            f"def {h['out']}(value, shape, kind, fresh, dtype, device):",
            f"    array = {t}.as_tensor(value, dtype=dtype, device=device)",
            "    if kind == 'scalar':",
            "        return array.reshape(())",
            "    if tuple(array.shape) != shape:",
            "        array, fresh = array.expand(shape), False",
            "    if kind == 'vector':",
            "        array = array.reshape(-1)",
            "    return array if fresh else array.clone()",
            "",
            "",
            *self._neutral_power_sum_helper(),
        ]
