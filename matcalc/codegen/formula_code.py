"""Functions defined by formula as helpers of a generated module, in every target.

Each helper computes ``f`` or one of its derivatives entry by entry; its body is
the SymPy expression (:attr:`matcalc.formulas.Formula.forms`) printed by SymPy's
own code printer for the target: ``NumPyPrinter`` for ``numpy``, ``JaxPrinter``
for ``jax``, ``TorchPrinter`` for ``torch``. SymPy has no printer for the array
API, so there the functions are printed by their registry entries' ``array-api``
spelling (:attr:`matcalc.ops.registry.Op.code`) and the arithmetic by SymPy's
``PythonCodePrinter``. Where SymPy's spelling of a function is not one the target
runs on arrays (``torch.max(0, u)``, ``torch.heaviside(u, 0)`` with a number, the
``select``/``reduce`` forms of ``Heaviside``/``Max`` in NumPy and JAX), the
registry's spelling of ``relu``/``step`` is used instead.

A helper is ``def name(u)``; the array API's is ``def name(xp, u)`` (the caller's
namespace). SymPy is imported only when a model defines a function.
"""

from __future__ import annotations

from functools import cache

from ..formulas import Formula, _functions, symbol
from ..ops.registry import OPS
from ..ops.sympy_functions import functions
from .lower import CodegenError

#: Spellings inside a helper where the module's spelling calls a module helper.
_INSIDE_HELPERS = {("array-api", "softplus"): "{np}.logaddexp({x}, {np}.zeros_like({x}))"}


def _paren(text: str) -> str:
    from ..printing.numpy import _paren as paren

    return paren(text)


@cache
def _printer_class(target: str) -> type:
    """The SymPy printer class for ``target`` (made once, SymPy imported on first use)."""
    import sympy as sp
    from sympy.printing.numpy import JaxPrinter, NumPyPrinter
    from sympy.printing.pycode import PythonCodePrinter

    class Registry:
        """Spells a function by the target's registry entry (``{np}`` the module alias)."""

        TARGET = target
        alias = "np"

        def spell(self, name: str, x: str) -> str:
            code = _INSIDE_HELPERS.get((self.TARGET, name), OPS[name].code[self.TARGET])
            try:
                return code.format(np=self.alias, x=x, a=_paren(x))
            except KeyError as err:  # a spelling that needs a module helper or local
                raise CodegenError(
                    f"{name} inside a function defined by formula has no {self.TARGET} spelling "
                    f"a helper can use ({{{err.args[0]}}})"
                ) from None

        def _print_Max(self, e) -> str:  # noqa: N802 (SymPy's naming): relu(x) = Max(0, x)
            rest = [a for a in e.args if a != 0]
            if len(rest) != 1 or len(e.args) != 2:
                raise ValueError(f"no {self.TARGET} spelling for {e}")
            return self.spell("relu", self._print(rest[0]))

        def _print_Heaviside(self, e) -> str:  # noqa: N802 (step(x) = Heaviside(x, 0))
            return self.spell("step", self._print(e.args[0]))

    for name in functions():  # sigmoid, softplus: functions SymPy's printers do not know
        setattr(Registry, f"_print_{name}", _spelt_by_registry(name))

    if target == "numpy":

        class Numpy(Registry, NumPyPrinter):
            alias = "np"

            def _module_format(self, fqn: str, register: bool = True) -> str:
                text = super()._module_format(fqn, register)
                return self.alias + text[len("numpy"):] if text.startswith("numpy.") else text

            def _print_Heaviside(self, e) -> str:  # noqa: N802 (SymPy's naming)
                return f"{self.alias}.heaviside({self._print(e.args[0])}, 0.0)"

            def _print_Max(self, e) -> str:  # noqa: N802
                args = [self._print(a) for a in e.args]
                out = args[0]
                for a in args[1:]:
                    out = f"{self.alias}.maximum({out}, {a})"
                return out

        return Numpy

    if target == "jax":

        class Jax(Registry, JaxPrinter):
            def _module_format(self, fqn: str, register: bool = True) -> str:
                text = super()._module_format(fqn, register)
                return self.alias + text[len("jax.numpy"):] if text.startswith("jax.numpy.") else text

        return Jax

    if target == "torch":
        # imported here only: sympy.printing.pytorch imports torch (about 2 s and 300 MB)
        from sympy.printing.pytorch import TorchPrinter

        class Torch(Registry, TorchPrinter):
            def _module_format(self, fqn: str, register: bool = True) -> str:
                text = super()._module_format(fqn, register)
                return self.alias + text[len("torch"):] if text.startswith("torch.") else text

        return Torch

    # the array API: the registry's spelling of every function SymPy may write
    class ArrayApi(Registry, PythonCodePrinter):
        def _print_Pow(self, e, rational: bool = False) -> str:  # noqa: N802
            return self._hprint_Pow(e, rational=rational, sqrt=f"{self.alias}.sqrt")

    for cls, name in _functions().items():
        if cls not in (sp.Max, sp.Heaviside):
            setattr(ArrayApi, f"_print_{cls.__name__}", _spelt_by_registry(name))
    return ArrayApi


def _spelt_by_registry(name: str):
    return lambda self, e: self.spell(name, self._print(e.args[0]))


def helper(f: Formula, order: int, name: str, target: str, np: str) -> list[str]:
    """``def name(u): return …``: the ``order``-th derivative of ``f`` entry by entry, as a helper
    of the ``target`` module whose array library is called ``np``."""
    printer = _printer_class(target)({"fully_qualified_modules": True} if target != "torch" else None)
    printer.alias = np
    form = f.forms[order]
    body = printer.doprint(form)
    what = f"{f.name}{chr(39) * order}" if order else f.name
    params = f"{np}, u" if target == "array-api" else "u"
    if symbol() in form.free_symbols:
        ret = f"    return {body}"
    elif target == "numpy":
        ret = f"    return {np}.full_like(u, {body}, dtype=float)"
    else:  # the argument's dtype (float32 stays float32) and device
        ret = f"    return {np}.full_like(u, {body})"
    return [f"def {name}({params}):", f'    """{what}({f.param}) entry by entry."""', ret, "", ""]
