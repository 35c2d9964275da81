"""The PyTorch target: tensors in and out on the caller's device and dtype, no autograd graph.

The lowered form is printed by :class:`~matcalc.printing.numpy.NumpyModule`
with PyTorch's spellings. The idioms that differ from NumPy: the inputs are
detached and converted to one floating dtype and device (the promoted dtype
of the tensor inputs, or PyTorch's default), constants are made on that
device in that dtype, the value is returned as a 0-d tensor (no ``.item()``,
so ``torch.compile`` sees no graph break and a GPU no synchronisation), and a
result that would share memory with an input is cloned; an outer product is
``torch.outer`` (1.3x faster than a broadcast product at 2000×2000, measured).

A tensor that the code of one expression makes and that nothing else names (a
product, a sum, an entry-wise function's result, never an input, a
definition or a temporary) is updated in place by the operation applied to
it next: ``(X @ V).tanh_()``, ``torch.square(Phi).neg_().add_(1.0).mul_(t0)``,
``(X.T @ E).mul_(2.0)``; ``A ± a∘b`` is one ``torch.addcmul``, and a row spread
over a product's operand scales the (smaller) product instead
(``(X.T @ E).mul_(t0)``). That is what autograd's fused backward kernels
(``tanh_backward``) save over fresh temporaries: on seed 004 the module took
1.43x autograd's time before (the benchmark's last run) and 0.95–0.97x after
(CPU time, one thread, calls alternating in one process).
"""

from __future__ import annotations

import re
from fractions import Fraction

from ..codegen.lower import _Neg, _Prod, _transpose
from ..expr import Add, Apply, EProd, Expr, Mul, Ones, Transpose
from ..printing.numpy import (
    SPELL,
    NumpyModule,
    RegistrySpellings,
    _constant,
    _is_atomic,
    _is_diag,
    _is_step,
    _paren,
)
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


#: Entry-wise functions spelt ``torch.NAME(x)`` whose tensor method ``NAME_`` works in place.
IN_PLACE = frozenset(
    "exp log sin cos arcsin arccos tan arctan tanh sigmoid square relu abs sign sqrt log1p expm1 sinh".split()
)
_CALL = re.compile(r"\{np\}\.(\w+)\(\{x\}\)")


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
        if plain:
            scaled = self._scaled_after(e)
            if scaled is not None:
                return scaled
        return super()._code__Prod(e)

    def _scaled_after(self, e: _Prod) -> str | None:
        """``L (E ∘ 1rᵀ)`` as ``(L E) ∘ 1rᵀ`` (and ``(c1ᵀ ∘ E) R`` as ``c1ᵀ ∘ (E R)``) when the product is
        not larger than ``E``: the row ``r`` then scales the product in place, not ``E`` (seed 004:
        ``Xᵀ(…∘ 1 colᵀ)`` scales 500×300 entries instead of 4000×300)."""
        for side, inner in ((e.right, e.left), (e.left, e.right)):
            if not isinstance(side, EProd) or side in self.temps:
                continue
            if self.numel(e.shape) > self.numel(side.shape):  # sizes unknown: equal
                continue
            for i, (f, k) in enumerate(side.factors):
                if k != 1 or not isinstance(f, _Prod) or f in self.temps:
                    continue
                if side is e.right:
                    spread = isinstance(f.left, Ones) and f.left.shape[1] == 1  # 1 rᵀ
                else:
                    spread = isinstance(f.right, Ones) and f.right.shape[0] == 1  # c 1ᵀ
                if not spread:
                    continue
                rest = side.factors[:i] + side.factors[i + 1:]
                if len(rest) == 1 and rest[0][1] == 1:
                    kept = rest[0][0]
                else:
                    kept = EProd(rest, side.shape)
                product = _Prod(inner, kept, e.shape) if side is e.right else _Prod(kept, inner, e.shape)
                return f"({self.code(product)}).mul_({self._operand(f)})"
        return None

    # ------------------------------------------------------------ in place on fresh tensors
    def _fresh(self, e: Expr) -> bool:
        """Whether the code for ``e`` makes a new tensor of ``e``'s whole shape that no name refers
        to, so that the next operation on it may write into it."""
        if e in self.temps or e.shape == (1, 1) or _constant(e):
            return False
        if isinstance(e, Transpose):
            return self._fresh(e.arg)
        if isinstance(e, _Prod):
            return not (isinstance(e.left, Ones) or isinstance(e.right, Ones))
        if isinstance(e, (Add, _Neg)):
            return True
        if isinstance(e, (Mul, EProd)):
            return self.alias(e) is None
        if isinstance(e, Apply):
            return e.order == 0 and e.fn in self.ENTRYWISE
        return False

    def _operand(self, e: Expr) -> str:
        """Code for ``e`` as the argument of an in-place operation, which broadcasts: a row or
        column spread over a matrix (``1 vᵀ``) is the row or column itself."""
        if e not in self.temps and isinstance(e, _Prod):
            if isinstance(e.left, Ones) and e.left.shape[1] == 1:
                return self.code(e.right)
            if isinstance(e.right, Ones) and e.right.shape[0] == 1:
                return self.code(e.left)
        return self.code(e)

    def _code_Apply(self, e: Apply) -> str:
        found = _CALL.fullmatch(self.ENTRYWISE.get(e.fn, "")) if e.order == 0 else None
        if found and found.group(1) in IN_PLACE and self._fresh(e.arg):
            return f"{self.atom(e.arg)}.{found.group(1)}_()"
        return super()._code_Apply(e)

    def _code_Mul(self, e: Mul) -> str:
        if len(e.chain) == 1 and e.chain[0].shape == e.shape and self._fresh(e.chain[0]) and (
            e.coef != 1 or e.scalars
        ):
            out = self.atom(e.chain[0])
            if e.coef == -1:
                out += ".neg_()"
            elif e.coef != 1:
                out += f".mul_({float(e.coef)!r})"
            return out + "".join(f".mul_({self.code(s)})" for s in e.scalars)
        return super()._code_Mul(e)

    def _code__Neg(self, e: _Neg) -> str:
        if self._fresh(e.arg) and e.arg.shape == e.shape:
            return f"{self.atom(e.arg)}.neg_()"
        return super()._code__Neg(e)

    def _code_Add(self, e: Add) -> str:
        fused = self._addcmul(e)
        if fused is not None:
            return fused
        order = sorted(range(len(e.terms)), key=lambda i: isinstance(e.terms[i], _Neg))
        lead = next((i for i in order if self._can_lead(e.terms[i], e)), None)
        if lead is None:
            return super()._code_Add(e)
        first = e.terms[lead]
        out = f"{self.atom(first.arg)}.neg_()" if isinstance(first, _Neg) else self.atom(first)
        for i, t in enumerate(e.terms):
            if i == lead:
                continue
            if isinstance(t, _Neg):
                out += f".sub_({self._operand(t.arg)})"
            else:
                out += f".add_({'1.0' if isinstance(t, Ones) else self._operand(t)})"
        return out

    def _addcmul(self, e: Add) -> str | None:
        """``A ± a ∘ b`` (``1 − Φ∘Φ``, the derivative of ``tanh``) as one ``torch.addcmul``: one pass
        over the entries instead of a product and a sum (0.5 ms of 1.2 ms on seed 004, measured)."""
        if len(e.terms) != 2 or e.shape == (1, 1):
            return None
        for i, t in enumerate(e.terms):
            sign, prod = (-1.0, t.arg) if isinstance(t, _Neg) else (1.0, t)
            if not isinstance(prod, EProd) or prod in self.temps or prod.shape != e.shape:
                continue
            factors = [f for f, k in prod.factors for _ in range(int(k))]
            if sorted(k for _, k in prod.factors) not in ([1, 1], [2]) or any(
                f.shape != e.shape or _constant(f) or _is_step(f) for f in factors
            ):
                continue
            other = e.terms[1 - i]
            base = self.spell("scalar", x="1.0") if isinstance(other, Ones) else self.argument(other)
            a, b = (self.code(f) for f in factors)
            if len(prod.factors) == 1 and not a.isidentifier():
                continue  # a square of an expression: not computed twice
            return f"{self.np}.addcmul({base}, {a}, {b}, value={sign!r})"
        return None

    def _can_lead(self, t: Expr, whole: Expr) -> bool:
        """Whether the term ``t`` of ``whole`` is a fresh tensor of its whole shape."""
        if t.shape != whole.shape:
            return False
        return self._fresh(t.arg) if isinstance(t, _Neg) else self._fresh(t)

    def _power(self, f: Expr, k) -> str:
        """Code for ``f.^k`` (``k > 0``), a new tensor unless ``k`` is 1."""
        if k == 1:
            return self._operand(f)
        if k == 2:
            return self.spell("square", x=self.code(f))
        if k == Fraction(1, 2):
            return self.spell("sqrt", x=self.code(f))
        return f"{self.atom(f)} ** {float(k)!r}"

    def _code_EProd(self, e: EProd) -> str:
        lead = next(
            (i for i, (f, k) in enumerate(e.factors)
             if f.shape == e.shape and not _constant(f) and (
                 (k == 1 and self._fresh(f)) or k == 2)),
            None,
        )
        if lead is None or len(e.factors) == 1:
            return super()._code_EProd(e)
        f, k = e.factors[lead]
        out = self.atom(f) if k == 1 else self._power(f, k)
        for i, (f, k) in enumerate(e.factors):
            if i == lead:
                continue
            if k == 1 and _is_step(f):
                text = self.spell("mask", x=self.atom(f.arg))
                text = text[1:-1] if text.startswith("(") and _is_atomic(text) else text
            else:
                text = self._power(f, abs(k))
            out += f".{'mul_' if k > 0 else 'div_'}({text})"
        return out

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
