"""A self-contained NumPy module computing a model's value and gradients.

The generated function takes every free input by name (vectors 1-D,
matrices 2-D, scalars floats or 0-d arrays), validates their shapes, runs
the forward definitions once, evaluates the gradients with shared
sub-expressions computed once, and returns ``value, grad_X, …``.

Before printing, every expression is *lowered* (:meth:`NumpyModule.lower`):
each matrix chain becomes a binary tree of :class:`_Prod` nodes in the
cheapest order, so that shared sub-products (``1ᵀΦ`` in a value and in a
gradient, ``Bᵀ(Aᵀ ∘ y)`` in two gradients) are found by the same
dictionary lookup as any other common sub-expression. A product is then
spelt by what its factors are (:meth:`NumpyModule._code__Prod`): all-ones
factors become column/row sums or broadcasts, ``Diag(h)`` a row scaling,
an inner dimension of 1 a broadcast (outer) product, anything else ``@``.
Scalar coefficients multiply the smallest array of the chain. Internally
every value is 2-D (vectors as columns). Results that are fresh arrays are
returned without a copy. Only identifiers checked by :func:`python_name`
and allocated by :class:`Names` reach the code.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

from .. import dims as dimensions
from ..codegen.helpers import HelperSpelling, power_sum_helpers, shape_helpers, softmax_helpers
from ..codegen.lower import (  # noqa: F401 - the names printing.numpy has always offered
    _LARGE,
    NESTING_LIMIT,
    OPTIMAL_ORDER_UP_TO,
    CodegenError,
    Lowering,
    Names,
    Order,
    _dot_pair,
    _elementwise_factor,
    _greedy_order,
    _is_diag,
    _is_step,
    _Neg,
    _nodes,
    _optimal_order,
    _plain_product,
    _Prod,
    _too_deep,
    _transpose,
    python_name,
)
from ..expr import (
    Add,
    Adjoint,
    Apply,
    Call,
    Diff,
    EProd,
    Expr,
    Eye,
    Frob,
    MatPow,
    Mul,
    Num,
    Ones,
    PowerSum,
    Transpose,
    Var,
    Zero,
)
from ..gradient import Derivation
from ..ops import entrywise as _entrywise  # noqa: F401  (the tables below read the entries)
from ..ops import structural as _structural  # noqa: F401
from ..ops.registry import OPS
from .indexed import fold_lines
from .text import TEXT_INDEX, TextPrinter, index_range, where_lines

#: The key of this target's spellings in :attr:`matcalc.ops.registry.Op.code`.
TARGET = "numpy"

#: ``step(x)`` as a factor of an entry-wise product with a float factor: a boolean mask is
#: cheaper than ``heaviside`` and the product is float again.
STEP_MASK = "({x} > 0.0)"

#: NumPy spelling of each entry-wise and each structural function, read off the registry
#: (arguments and results 2-D; ``{np}`` the module alias, ``{x}`` the argument, ``{a}`` it
#: parenthesised unless atomic). Other targets keep tables of the same shape.
class RegistrySpellings(Mapping):
    """The ``target`` spelling of each operation of one ``kind``, read from the registry when asked."""

    def __init__(self, kind: str, target: str) -> None:
        self.kind, self.target = kind, target

    def __getitem__(self, name: str) -> str:
        op = OPS.get(name)
        if op is None or op.kind != self.kind or self.target not in op.code:
            raise KeyError(name)
        return op.code[self.target]

    def __iter__(self):
        return (n for n, op in OPS.items() if op.kind == self.kind and self.target in op.code)

    def __len__(self) -> int:
        return sum(1 for _ in self)


ENTRYWISE = RegistrySpellings("entrywise", TARGET)
STRUCTURAL = RegistrySpellings("call", TARGET)


#: NumPy spelling of the array operations the printer composes (``{np}`` the module alias,
#: ``{x}``/``{y}`` operands, ``{a}``/``{b}`` them parenthesised unless atomic, ``{r}``/``{c}``
#: sizes, ``{axis}`` an axis; ``{dtype}``/``{device}`` the locals of targets that have them).
SPELL = {
    "ones": "{np}.ones(({r}, {c}))",
    "eye": "{np}.eye({r})",
    "zeros": "{np}.zeros(({r}, {c}))",
    "sum_axis": "{a}.sum(axis={axis}, keepdims=True)",
    "broadcast": "{np}.broadcast_to({x}, ({r}, {c}))",
    "vdot": "{np}.vdot({x}, {y})",
    "sum": "{np}.sum({x})",
    "sum_product": "{np}.sum({a} * {b})",
    "diag_product": "{np}.einsum('ij,ji->i', {x}, {b}).reshape(-1, 1)",
    "sqrt": "{np}.sqrt({x})",
    "square": "{np}.square({x})",
    "mask": STEP_MASK,
    "matrix_power": "{np}.linalg.matrix_power({x}, {k})",
}


class NumpyModule(Lowering):
    """Builds the source of the module for one derivation."""

    #: The target's name, as the CLI and the API take it.
    TARGET_NAME = "numpy"
    #: The target's spellings: entry-wise functions, structural functions, array operations.
    ENTRYWISE = ENTRYWISE
    STRUCTURAL = STRUCTURAL
    SPELL = SPELL
    HELPERS = (*Lowering.HELPERS, "symmetric_sum")
    #: ``X + Xᵀ`` by :meth:`_symmetric_sum_helper` (NumPy adds a strided ``Xᵀ`` at half speed).
    TILED_SYMMETRIC_SUM = True
    #: Whether the printed code calls that helper (set while printing).
    symmetric_sum_used = False

    def spell(self, what: str, **parts: str) -> str:
        """The target's spelling of the array operation ``what`` with its operands."""
        return self.SPELL[what].format(np=self.np, **self._spell_locals(), **parts)

    def argument(self, e: Expr) -> str:
        """Code for ``e`` as the argument of a library function: numbers become an array
        where the target's functions take no Python numbers (its ``scalar`` spelling)."""
        if "scalar" in self.SPELL and _constant(e):
            return self.spell("scalar", x=self.code(e))
        return self.code(e)

    def _spell_locals(self) -> dict[str, str]:
        return {k: v for k, v in self.locals.items()}

    def code(self, e: Expr) -> str:
        """Python source for the lowered ``e`` (a temporary's name when it has one)."""
        if e in self.temps:
            return self.temps[e]
        method = getattr(self, "_code_" + type(e).__name__)
        return method(e)

    def atom(self, e: Expr) -> str:
        return _paren(self.code(e))

    def _code_Var(self, e: Var) -> str:
        return self.var[e.name]

    def _code_Adjoint(self, e: Adjoint) -> str:
        return self.adjoint_var[e.var.name]

    def _code_Diff(self, e: Diff) -> str:
        raise ValueError("a differential cannot be turned into code")

    def _code_Num(self, e: Num) -> str:
        return repr(float(e.value))

    def _code_Ones(self, e: Ones) -> str:
        return self.spell("ones", r=self.dim(e.shape[0]), c=self.dim(e.shape[1]))

    def _code_Eye(self, e: Eye) -> str:
        return self.spell("eye", r=self.dim(e.shape[0]))

    def _code_Zero(self, e: Zero) -> str:
        return self.spell("zeros", r=self.dim(e.shape[0]), c=self.dim(e.shape[1]))

    def _code__Neg(self, e: _Neg) -> str:
        return "-" + self.atom(e.arg)

    def _code_Add(self, e: Add) -> str:
        square = _symmetric_sum(e)
        if square is not None and self.TILED_SYMMETRIC_SUM:
            self.symmetric_sum_used = True
            return f"{self.helpers['symmetric_sum']}({self.code(square)})"
        parts = []
        full = [t for t in e.terms if not isinstance(t, Ones)]
        for t in e.terms:
            if isinstance(t, Ones) and full:
                text, neg = "1.0", False
            elif isinstance(t, _Neg):
                text, neg = self.code(t.arg), True
            else:
                text, neg = self.code(t), False
            if neg and not _is_product(text):
                text = f"({text})"
            parts.append(("- " if neg else "+ ") + text)
        out = " ".join(parts)
        return out[2:] if out.startswith("+ ") else "-" + out[2:]

    def _code_Mul(self, e: Mul) -> str:
        factors = []
        if e.coef == -1 and (e.scalars or e.chain):
            lead = "-"
        else:
            lead = ""
            if e.coef != 1:
                factors.append(repr(float(e.coef)))
        for s in e.scalars:
            factors.append(self.atom(s))
        for f in e.chain:
            factors.append(self.atom(f))
        return lead + " * ".join(factors)

    def _code__Prod(self, e: _Prod) -> str:
        left, right = e.left, e.right
        rows, cols = e.shape
        if isinstance(left, Ones) or isinstance(right, Ones):
            if isinstance(left, Ones):
                inner, other, axis, keep = left.shape[1], right, 0, left.shape[0]
            else:
                inner, other, axis, keep = right.shape[0], left, 1, right.shape[1]
            text = self.code(other)
            if inner != 1:
                text = self.spell("sum_axis", x=text, a=_paren(text), axis=str(axis))
            if keep != 1:
                text = self.spell("broadcast", x=text, r=self.dim(rows), c=self.dim(cols))
            return text
        if _is_diag(left):
            return f"{self.atom(left.args[0])} * {self.atom(right)}"
        if _is_diag(right):
            return f"{self.atom(left)} * {self.atom(right.args[0])}.T"
        if left.shape[1] == 1:
            return f"{self.atom(left)} * {self.atom(right)}"  # an outer product, by broadcasting
        return f"{self.atom(left)} @ {self.atom(right)}"

    def _code_EProd(self, e: EProd) -> str:
        top, bottom, masks = [], [], []
        mask = any(not _is_step(f) or k != 1 for f, k in e.factors)
        for f, k in e.factors:
            mag = abs(k)
            if mask and k == 1 and _is_step(f):
                masks.append(self.spell("mask", x=self.atom(f.arg)))
                continue
            if mag == 1:
                text = self.atom(f)
            elif mag == Fraction(1, 2):
                text = self.spell("sqrt", x=self.argument(f))
            elif mag == 2:
                text = self.spell("square", x=self.argument(f))
            else:
                text = f"{self.atom(f)} ** {float(mag)!r}"
            (top if k > 0 else bottom).append(text)
        # A mask never leads: "-(a > 0.0) * x" would negate a boolean array.
        top += masks
        if top and top[0] in masks:
            top.insert(0, "1.0")
        out = " * ".join(top) if top else "1.0"
        for b in bottom:
            out += f" / {_paren(b)}"
        return out

    def _code_Apply(self, e: Apply) -> str:
        x = self.argument(e.arg)
        if e.order == 0 and e.fn in self.ENTRYWISE:
            return self.ENTRYWISE[e.fn].format(np=self.np, x=x, a=_paren(x), **self._spell_locals())
        user = self.funcs.get((e.fn, e.order))
        if user is not None:  # a declared elementwise function: the caller's callable
            return f"{user}({x})"
        return f"{self.formulas[(e.fn, e.order)]}({self._formula_arguments(x)})"

    def _code_Transpose(self, e: Transpose) -> str:
        return f"{self.atom(e.arg)}.T"

    def _code_Call(self, e: Call) -> str:
        arg = e.args[0]
        if arg not in self.temps:
            if e.fn == "tr" and isinstance(arg, _Prod) and _plain_product(arg):
                # tr(L R) = sum(L ∘ Rᵀ): one pass instead of a matrix product
                return self._vdot(arg.left, _transpose(arg.right))
            if e.fn == "diag" and isinstance(arg, _Prod) and _plain_product(arg):
                left, right = self.code(arg.left), self.atom(arg.right)
                if arg.left.shape[1] == 1:  # diag(l rᵀ) = l ∘ r
                    return f"{_paren(left)} * {self.atom(_transpose(arg.right))}"
                # diag(L R)_i = Σ_k L_ik R_ki, without the off-diagonal entries
                return self.spell("diag_product", x=left, a=_paren(left), b=right)
            if e.fn == "sum" and isinstance(arg, EProd) and arg.shape != (1, 1):
                pair = _dot_pair(arg)
                if pair is not None:
                    return self._vdot(pair[0], pair[1])
        r, c = e.shape
        x = self.argument(arg)
        template = self.STRUCTURAL.get(e.fn)
        if template is None:
            raise CodegenError(f"{e.fn} has no spelling for the {self.TARGET_NAME} target yet")
        size = {"n": self.dim(arg.shape[0])} if "{n}" in template else {}  # the argument's rows
        if len(e.args) > 1:  # kron and its pulls: the second argument and its sizes
            other = e.args[1]
            y = self.argument(other)
            size.update(y=y, b=_paren(y), r1=self.dim(other.shape[0]), c1=self.dim(other.shape[1]))
        return template.format(
            np=self.np,
            **self._spell_locals(),
            **size,
            x=x,
            a=_paren(x),
            r=self.dim(r),
            c=self.dim(c),
            softmax=self.helpers["softmax"],
            logsumexp=self.helpers["logsumexp"],
        )

    def _code_MatPow(self, e: MatPow) -> str:
        return self.spell("matrix_power", x=self.code(e.base), k=str(e.k))

    def _code_PowerSum(self, e: PowerSum) -> str:
        mid = e.mid
        if isinstance(mid, _Prod) and mid.left.shape[1] == 1 and e.mid not in self.temps:
            # an outer product u vᵀ: Σ Lⁱ u vᵀ R^{k−1−i} = U Vᵀ from 2k matrix-vector products
            args = ", ".join(self.code(x) for x in (e.left, mid.left, mid.right, e.right))
            return f"{self.helpers['power_sum_outer']}({args}, {e.k})"
        args = ", ".join(self.code(x) for x in (e.left, e.mid, e.right))
        return f"{self.helpers['power_sum']}({args}, {e.k})"

    def _code_Frob(self, e: Frob) -> str:
        left, right = e.left, e.right
        if isinstance(right, Ones):
            left, right = right, left
        if isinstance(left, Ones):
            return self.spell("sum", x=self.code(right))
        if left.shape == (1, 1) or right.shape == (1, 1):
            return self.spell("sum_product", a=self.atom(left), b=self.atom(right))
        return self._vdot(left, right)

    def _vdot(self, left: Expr, right: Expr) -> str:
        """``sum(left ∘ right)`` of two arrays of one shape."""
        x, y = self.code(left), self.code(right)
        return self.spell("vdot", x=x, y=y, a=_paren(x), b=_paren(y))

    def alias(self, e: Expr) -> str | None:
        """What the array of the lowered ``e`` may share memory with.

        ``None`` for an array freshly made by ``e`` itself; a name (input,
        definition or temporary) for a view of that name's array; ``"<read-only>"``
        for a read-only view.
        """
        if e in self.temps:
            return self.temps[e]
        if isinstance(e, Var):
            if e.role == "def" and e.name in self.defs:
                return self.alias(self.defs[e.name]) or self.var[e.name]
            return self.var[e.name]
        if isinstance(e, Adjoint):
            return self.alias(self.adjoints[e.var.name]) or self.adjoint_var[e.var.name]
        if isinstance(e, Transpose):
            return self.alias(e.arg)
        if isinstance(e, Mul) and e.coef == 1 and not e.scalars and len(e.chain) == 1:
            return self.alias(e.chain[0])
        if isinstance(e, Call) and OPS[e.fn].code_alias == "view":
            return self.alias(e.args[0])
        if isinstance(e, Call) and OPS[e.fn].code_alias == "read-only":
            return "<read-only>"
        if isinstance(e, Apply) and ((e.fn, e.order) in self.funcs or (e.fn, e.order) in self.formulas):
            return "<callable>"  # a user's function may return its argument
        if isinstance(e, _Prod) and (isinstance(e.left, Ones) or isinstance(e.right, Ones)):
            inner = e.left.shape[1] if isinstance(e.left, Ones) else e.right.shape[0]
            keep = e.left.shape[0] if isinstance(e.left, Ones) else e.right.shape[1]
            if keep != 1:
                return "<read-only>"
            if inner == 1:
                return self.alias(e.right if isinstance(e.left, Ones) else e.left)
        if isinstance(e, EProd) and len(e.factors) == 1 and e.factors[0][1] == 1:
            return self.alias(e.factors[0][0])
        return None

    # ------------------------------------------------------------ module
    def source(self) -> str:
        """The whole module as Python source."""
        out = self.helpers["out"]
        names = [v.name for v in self.model.inputs] + [v.name for v, _ in self.model.definitions]
        text = TextPrinter(frozenset(names))
        params = [self.var[v.name] for v in self.model.inputs]
        params += [self.funcs[k] for k in sorted(self.funcs)]
        of, wrt = self.d.of.name, self.d.wrt
        doc = [f"{of} = {text(self._rhs(self.d.of))}"]
        results = [f"∂{of}/∂{v.name} = {text(g)}" for v, g in zip(wrt, self.d.gradients, strict=True)]
        doc += fold_lines(results, TEXT_INDEX, index_range, avoid=text.avoid)
        doc += where_lines(self.d.adjoints, text, self.d.forward)
        body: list[str] = []
        body += self._preamble()
        body += self._validation()
        grads = [self.lower(g) for g in self.d.gradients]
        roots = [self.defs[v.name] for v, _ in self._forward()] + list(self.adjoints.values()) + grads
        shared = self.share(roots)
        shared_ids = set(shared)
        for var, _ in self._forward():
            rhs = self.defs[var.name]
            body.extend(self._temps_for(rhs, shared, shared_ids))
            body.append(f"{self.var[var.name]} = {self.argument(rhs)}")  # a number: an array
        for name, value in self.adjoints.items():
            body.extend(self._temps_for(value, shared, shared_ids))
            body.append(f"{self.adjoint_var[name]} = {self.argument(value)}")
        returned: set[str] = set()
        fresh_names = set(self._fresh_defs())
        for gname, v, g in zip(self.grad_names, wrt, grads, strict=True):
            body.extend(self._temps_for(g, shared, shared_ids))
            r, c = v.shape
            kind = "scalar" if v.shape == (1, 1) else ("vector" if c == 1 else "matrix")
            alias = self.alias(g)
            # a fresh array is returned as it is; a view of an input, or of an array
            # already returned, is copied
            alias = self.alias(g)
            owned = alias in fresh_names or alias in self.temps.values()
            fresh = alias is None or (owned and alias not in returned)
            if alias is not None:
                returned.add(alias)
            shape = f"({self.dim(r)}, {self.dim(c)})"
            body.append(f"{gname} = {out}({self.code(g)}, {shape}, '{kind}', {fresh}{self._extra()})")
        value = self.var[self.d.of.name]
        body.append(
            f"return {out}({value}, (1, 1), 'scalar', True{self._extra()}), " + ", ".join(self.grad_names)
        )
        lines = [
            f'"""Generated by matcalc: {self.func_name}({", ".join(params)}).',
            "",
            *doc,
            '"""',
            "",
            *self._imports(),
            "",
            "",
            *self._helpers(),
            *self._formula_helpers(),
            f"def {self.func_name}({', '.join(params)}):",
            f'    """Value of {of} and its gradients w.r.t. {", ".join(v.name for v in wrt)}.',
            "",
            *[f"    {line}" for line in self._param_doc()],
            "",
            f"    Returns ({of}, " + ", ".join(f"d{of}/d{v.name}" for v in wrt) + ").",
            '    """',
            *[f"    {line}" for line in body],
            "",
        ]
        return "\n".join(lines)

    # ------------------------------------------------------------ the target's idioms
    def _imports(self) -> list[str]:
        """The module's import lines."""
        return [f"import numpy as {self.np}"]

    def _preamble(self) -> list[str]:
        """Lines before the inputs are validated (the namespace, dtype or device of a call)."""
        return []

    def _extra(self) -> str:
        """Arguments the input and output helpers take besides the value (``, _dtype`` …)."""
        return ""

    def _fresh_defs(self) -> set[str]:
        """Definitions whose array is made by their own line (not a view of an input)."""
        fresh = {self.var[name] for name, rhs in self.defs.items() if self.alias(rhs) is None}
        fresh |= {self.adjoint_var[n] for n, value in self.adjoints.items() if self.alias(value) is None}
        return fresh

    def _param_doc(self) -> list[str]:
        lines = []
        for v in self.model.inputs:
            r, c = v.shape
            if v.shape == (1, 1):
                kind = "a float"
            elif c == 1:
                kind = f"an array of shape ({r},)"
            else:
                kind = f"an array of shape ({r}, {c})" + (", symmetric" if v.symmetric else "")
            lines.append(f"{self.var[v.name]}: {_called(v.name, self.var[v.name])}{kind}")
        for (g, order), name in sorted(self.funcs.items()):
            lines.append(f"{name}: a callable, {g}{chr(39) * order} applied entry-wise")
        return lines

    def _validation(self) -> list[str]:
        lines = []
        bound = self.bound
        for v in self.model.inputs:
            r, c = v.shape
            name = self.var[v.name]
            kind = "scalar" if v.shape == (1, 1) else ("vector" if c == 1 else "matrix")
            lines.append(f"{name} = {self.helpers['input']}({name}, {v.name!r}, '{kind}'{self._extra()})")
            for axis, d in ((0, r), (1, c)):
                if kind != "matrix" and axis == 1:
                    continue
                symbol = dimensions.symbol_name(d)
                if symbol in self.dims and symbol not in bound:
                    lines.append(f"{self.dims[symbol]} = {name}.shape[{axis}]")
                    bound.add(symbol)
        for v in self.model.inputs:
            r, c = v.shape
            if v.shape == (1, 1):
                continue
            name = self.var[v.name]
            if c == 1:
                got, want, label = f"{name}.shape[:1]", f"({self.dim(r)},)", f"({r},)"
                lines.append(f"if {name}.shape[0] != {self.dim(r)}:")
            else:
                got, want, label = f"{name}.shape", f"({self.dim(r)}, {self.dim(c)})", f"({r}, {c})"
                lines.append(f"if {name}.shape != {want}:")
            lines.append(f"    {self.helpers['mismatch']}({v.name!r}, {label!r}, {want}, {got})")
        return lines

    def _formula_arguments(self, x: str) -> str:
        """The arguments of a call of a formula helper on ``x`` (the array API passes its namespace)."""
        return x

    def _formula_helpers(self) -> list[str]:
        """Each function defined by formula, and its derivatives, as a helper whose body SymPy's
        code printer for the target writes (:mod:`matcalc.codegen.formula_code`)."""
        from ..codegen.formula_code import helper

        lines: list[str] = []
        for (name, k), fname in self.formulas.items():
            lines += helper(self.model.formula(name), k, fname, self.TARGET_NAME, self.np)
        return lines

    def helper_spelling(self) -> HelperSpelling:
        """How this target's ``_input``, ``_mismatch`` and ``_out`` differ from the others'."""
        np_ = self.np
        return HelperSpelling(
            extra="", to_array=f"{np_}.asarray(value, dtype={np_}.float64)",
            out_array=f"{np_}.asarray(value, dtype={np_}.float64)", not_one="array.size != 1",
            shape="array.shape", noun="array", reshape="array.reshape({})", got="got",
            scalar="array.item()", broadcast=f"array, fresh = {np_}.broadcast_to(array, shape), False",
            vector="array.reshape(-1)", returned="array if fresh and array.flags.writeable else array.copy()",
        )

    def _helpers(self) -> list[str]:
        np_ = self.np
        h = self.helpers
        return [
            *shape_helpers(h, self.helper_spelling()),
            *softmax_helpers(h, np_),
            *self._power_sum_helper(),
            *self.symmetric_sum_helper(),
        ]

    def symmetric_sum_helper(self) -> list[str]:
        """``X + Xᵀ`` of a square matrix in 64 × 64 tiles, each read once in order (a whole
        strided ``Xᵀ`` misses the cache on every row: 2.5× slower at n = 1024 and 1536; from
        n = 512 down the plain sum is as fast or faster); only when the printed code calls it."""
        if not self.symmetric_sum_used:
            return []
        np_ = self.np
        return [
            f"def {self.helpers['symmetric_sum']}(x, tile=64):",
            "    n = x.shape[0]",
            "    if n < 8 * tile:",
            "        return x + x.T",
            f"    out = {np_}.empty((n, n))",
            "    for i in range(0, n, tile):",
            "        for j in range(0, n, tile):",
            f"            {np_}.add(x[i:i + tile, j:j + tile], x[j:j + tile, i:i + tile].T,",
            "                   out=out[i:i + tile, j:j + tile])",
            "    return out",
            "",
            "",
        ]

    def _neutral_power_sum_helper(self) -> list[str]:
        """:meth:`_power_sum_helper` written with ``@`` and ``+`` only (no in-place writes, no
        library call), for the targets whose arrays are immutable or lazy."""
        if not any(isinstance(n, PowerSum) for n in self.lowered.values()):
            return []
        return power_sum_helpers(self.helpers, None)

    def _power_sum_helper(self) -> list[str]:
        """``Σ_{i=0}^{k−1} Lⁱ M R^{k−1−i}`` as ``S ← L S + M Rʲ``, and for ``M = u vᵀ`` as
        ``U Vᵀ`` with columns ``Lⁱ u`` and ``(Rᵀ)^{k−1−i} v``; only when a result has one."""
        if not any(isinstance(n, PowerSum) for n in self.lowered.values()):
            return []
        return power_sum_helpers(self.helpers, self.np)


def _symmetric_sum(e: Add) -> Expr | None:
    """``X`` when the lowered ``e`` is ``X + Xᵀ`` (either order) of a square matrix."""
    if len(e.terms) != 2 or e.shape[0] == 1:
        return None
    a, b = e.terms
    if isinstance(b, Transpose) and b.arg == a and not isinstance(a, Transpose):
        return a
    if isinstance(a, Transpose) and a.arg == b and not isinstance(b, Transpose):
        return b
    return None


def _constant(e: Expr) -> bool:
    """Numbers only (``10``, ``1.5^2.5``): Python computes them as a float, not an array."""
    return all(isinstance(n, (Num, EProd, Mul, Add, _Neg)) for n in _nodes(e))


def _called(name: str, parameter: str) -> str:
    """``"the model's ℌ, "`` when the parameter is not spelt as the model's name."""
    return "" if parameter == name else f"the model's {name}, "


def _top_level(text: str):
    """The characters of ``text`` outside brackets (the sign of an exponent, as in
    ``1e-05``, is not one of them)."""
    depth = 0
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0 and not (ch in "+-" and i > 0 and text[i - 1] == "e"):
            yield ch


def _is_atomic(text: str) -> bool:
    """An identifier, a call or a bracketed expression: needs no parentheses."""
    if text.isidentifier():
        return True
    return not text.startswith("-") and not any(ch in " +-*/@<>=" for ch in _top_level(text))


def _is_product(text: str) -> bool:
    """No ``+`` or ``-`` outside parentheses (so ``- text`` needs none)."""
    return not any(ch in "+-" for ch in _top_level(text))


def _paren(text: str) -> str:
    return text if _is_atomic(text) else f"({text})"


def numpy_source(derivation: Derivation, name: str = "value_and_grad") -> str:
    """The source of a NumPy module computing the value and gradients of ``derivation``."""
    return NumpyModule(derivation, name).source()

