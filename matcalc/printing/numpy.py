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

import keyword
import unicodedata
from fractions import Fraction

from .. import dims as dimensions
from ..errors import MatcalcError
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
    Shape,
    Transpose,
    Var,
    Zero,
    _node,
)
from ..formulas import numpy_helper, used_derivatives
from ..gradient import Derivation
from ..ops.registry import OPS
from .indexed import fold_lines
from .text import TEXT_INDEX, TextPrinter, index_range, where_lines

#: The key of this target's spellings in :attr:`matcalc.ops.registry.Op.code`.
TARGET = "numpy"

#: ``step(x)`` as a factor of an entry-wise product with a float factor: a boolean mask is
#: cheaper than ``heaviside`` and the product is float again.
STEP_MASK = "({x} > 0.0)"

#: Builtins the module's helpers use: the generated function may not be called so.
_MODULE_BUILTINS = {"ValueError"}

#: A matrix power up to this exponent is computed as a product chain (so it shares and
#: orders like any chain); a higher one by ``matrix_power`` (repeated squaring).
SMALL_POWER = 3

#: A stand-in size for symbolic dimensions when choosing the order of a matrix chain.
_LARGE = 1000


class CodegenError(MatcalcError, ValueError):
    """A model or function name that no valid NumPy module can be generated for."""


def python_name(name: str) -> str:
    """The Python identifier that stands for a model name in generated code.

    Python reads identifiers in NFKC form, so the name is NFKC-normalised
    (``ℌ`` is ``H``, ``x²`` is ``x2``); characters that still cannot be part of
    an identifier become ``_`` (``a½`` is ``a1_2``), a name that cannot start an
    identifier gets a leading ``_``, and keywords a trailing ``_`` (``lambda_``).
    Soft keywords (``match``, ``case``, ``type``, ``_``) are valid parameter names
    and are kept, so the signature does not depend on the Python version. Names
    that meet after this are told apart by :class:`Names`.
    """
    text = unicodedata.normalize("NFKC", name)
    out = "".join(c if ("_" + c).isidentifier() else "_" for c in text)
    if not out.isidentifier():
        out = "_" + out
    out = unicodedata.normalize("NFKC", out)
    if not out.isidentifier():  # pragma: no cover - NFKC of identifier characters stays one
        out = "_" + "".join(c if c.isascii() and ("_" + c).isidentifier() else "_" for c in out)
    return out + "_" if keyword.iskeyword(out) else out


class Names:
    """Allocates the identifiers of one generated module, never two alike.

    Every identifier is taken in NFKC form (as Python reads it); one already
    taken gets trailing underscores. Callers take names in a fixed order (the
    model's inputs in order of first appearance, its functions, definitions,
    then the module's own names), so a model always gives the same code.
    """

    def __init__(self) -> None:
        self.used: set[str] = set()

    def reserve(self, name: str) -> None:
        """Mark ``name`` as taken."""
        self.used.add(unicodedata.normalize("NFKC", name))

    def take(self, want: str) -> str:
        """``want`` (a valid identifier), or it with underscores appended, now taken."""
        name = unicodedata.normalize("NFKC", want)
        while name in self.used or keyword.iskeyword(name):
            name += "_"
        self.reserve(name)
        return name


@_node
class _Prod(Expr):
    """``left @ right`` (codegen only): a node of a lowered matrix chain."""

    left: Expr
    right: Expr
    shape: Shape

    def fields(self) -> tuple:
        return (self.left, self.right, self.shape)

    def children(self) -> tuple[Expr, ...]:
        return (self.left, self.right)


@_node
class _Neg(Expr):
    """``-arg`` as a term of a sum (codegen only)."""

    arg: Expr

    @property
    def shape(self) -> Shape:  # type: ignore[override]
        return self.arg.shape

    def fields(self) -> tuple:
        return (self.arg,)

    def children(self) -> tuple[Expr, ...]:
        return (self.arg,)


class NumpyModule:
    """Builds the source of the module for one derivation."""

    def __init__(self, derivation: Derivation, name: str = "value_and_grad") -> None:
        if not name.isidentifier() or keyword.iskeyword(name):
            raise CodegenError(f"{name!r} is not a valid function name")
        if name in _MODULE_BUILTINS:
            raise CodegenError(f"{name!r} would hide the builtin the generated module uses")
        self.d = derivation
        self.model = derivation.model
        self.names = Names()
        self.var: dict[str, str] = {}
        for v in self.model.inputs:
            self.var[v.name] = self.names.take(python_name(v.name))
        self.funcs: dict[tuple[str, int], str] = {}
        for g in self.model.elementwise:
            self.funcs[(g, 0)] = self.names.take(python_name(g))
            self.funcs[(g, 1)] = self.names.take(python_name("d" + g))
        for v, _ in self.model.definitions:
            self.var[v.name] = self.names.take(python_name(v.name))
        self.adjoint_var = {
            v.name: self.names.take(python_name("delta_" + v.name)) for v, _ in derivation.adjoints
        }
        # functions defined by formula: helpers for the function and the derivatives used
        self.formulas: dict[tuple[str, int], str] = {}
        roots = [rhs for _, rhs in self.model.definitions] + list(derivation.gradients)
        roots += [value for _, value in derivation.adjoints]
        for f in self.model.formulas:
            for k in sorted({0, 1, *used_derivatives(f, roots)}):
                self.formulas[(f.name, k)] = self.names.take(python_name("_" + "d" * k + f.name))
        self.func_name = name
        self.names.reserve(name)  # a module-level name: the alias and helpers must differ
        self.np = self.names.take("np")
        helpers = ("softmax", "logsumexp", "power_sum", "power_sum_outer", "input", "mismatch", "out")
        self.helpers = {h: self.names.take("_" + h) for h in helpers}
        self.dims = {d: self.names.take(python_name(d)) for d in self.model.dims}
        self.grad_names = [
            self.names.take("grad_" + self.var[v.name].rstrip("_")) for v in derivation.wrt
        ]
        self.bound: set[str] = set()  # dimension symbols read off the inputs' shapes
        self.temps: dict[Expr, str] = {}
        self.lowered: dict[Expr, Expr] = {}
        self.defs = {v.name: self.lower(rhs) for v, rhs in self._forward()}
        self.adjoints = {v.name: self.lower(g) for v, g in derivation.adjoints}

    # ------------------------------------------------------------ sizes
    def dim(self, d) -> str:
        """A dimension as code: a number, or the size bound from an input's shape."""
        unbound = [p for p in dimensions.symbols(d) if p not in self.bound]
        if unbound:
            raise CodegenError(
                f"the size {unbound[0]} is not the size of any input, so the generated "
                f"function cannot know it; give it by a declared input of that size"
            )
        return dimensions.code(d, self.dims.__getitem__)

    @staticmethod
    def size(d) -> int:
        """An estimate of a dimension for cost models: symbols count as large."""
        return d if isinstance(d, int) else _LARGE

    def numel(self, shape: Shape) -> int:
        return self.size(shape[0]) * self.size(shape[1])

    # ------------------------------------------------------------ lowering
    def lower(self, e: Expr) -> Expr:
        """``e`` with every matrix chain a binary tree of :class:`_Prod` in the cheapest order."""
        hit = self.lowered.get(e)
        if hit is None:
            hit = self._lower(e)
            self.lowered[e] = hit
        return hit

    def _lower(self, e: Expr) -> Expr:
        if isinstance(e, Mul):
            return self._lower_mul(e)
        if isinstance(e, Add):
            terms = []
            for t in e.terms:
                if isinstance(t, Mul) and t.coef < 0:
                    terms.append(_Neg(self.lower(Mul(-t.coef, t.scalars, t.chain, t.shape))))
                else:
                    terms.append(self.lower(t))
            return Add(tuple(terms), e.shape)
        if isinstance(e, EProd):
            return EProd(tuple((self.lower(f), k) for f, k in e.factors), e.shape)
        if isinstance(e, Apply):
            arg = self.lower(e.arg)
            if isinstance(arg, Transpose):  # g(Aᵀ) = g(A)ᵀ: shares g(A) with its other uses
                return _transpose(self.lower(Apply(e.fn, arg.arg, e.order)))
            return Apply(e.fn, arg, e.order)
        if isinstance(e, Transpose):
            return _transpose(self.lower(e.arg))
        if isinstance(e, Call):
            return Call(e.fn, tuple(self.lower(a) for a in e.args), e.shape)
        if isinstance(e, Frob):
            return Frob(self.lower(e.left), self.lower(e.right))
        if isinstance(e, MatPow) and e.k <= SMALL_POWER:  # a short chain: ordered, tr(X X) a vdot
            return self._lower_mul(Mul(Fraction(1), (), (e.base,) * e.k, e.shape))
        if isinstance(e, MatPow):
            base = self.lower(e.base)
            if isinstance(base, Transpose):  # (Aᵀ)ᵏ = (Aᵏ)ᵀ: shares Aᵏ with its other uses
                return _transpose(self.lower(MatPow(base.arg, e.k)))
            return MatPow(base, e.k)
        if isinstance(e, PowerSum):
            return PowerSum(self.lower(e.left), self.lower(e.mid), self.lower(e.right), e.k)
        return e

    def _lower_mul(self, e: Mul) -> Expr:
        scalars = tuple(self.lower(s) for s in e.scalars)
        items = [self.lower(f) for f in e.chain]
        if not items:
            return Mul(e.coef, scalars, (), e.shape)
        n = len(items)
        dims = [self.size(items[0].shape[0])] + [self.size(f.shape[1]) for f in items]
        tree = _optimal_order(items, dims) if n <= OPTIMAL_ORDER_UP_TO else _greedy_order(dims, 0, n - 1)
        # the coefficient multiplies the smallest array of the tree (ties: the outermost)
        target = None
        if e.coef != 1 or scalars:
            candidates = []
            stack = [(tree, 0)]
            while stack:
                t, depth = stack.pop()
                i, j = t[0], t[1]
                if i != j or not _elementwise_factor(items[i]):
                    shape = (items[i].shape[0], items[j].shape[1])
                    candidates.append((self.numel(shape), depth, (i, j)))
                if i != j:
                    stack += [(t[3], depth + 1), (t[2], depth + 1)]
            target = min(candidates)[2] if candidates else None

        def build(t: tuple) -> Expr:
            i, j = t[0], t[1]
            if i == j:
                node = items[i]
            else:
                node = _Prod(build(t[2]), build(t[3]), (items[i].shape[0], items[j].shape[1]))
            if target == (i, j):
                node = Mul(e.coef, scalars, (node,), node.shape)
            return node

        root = build(tree)
        if (e.coef != 1 or scalars) and target is None:
            root = Mul(e.coef, scalars, (root,), root.shape)
        return root

    # ------------------------------------------------------------ expressions
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
        return f"{self.np}.ones(({self.dim(e.shape[0])}, {self.dim(e.shape[1])}))"

    def _code_Eye(self, e: Eye) -> str:
        return f"{self.np}.eye({self.dim(e.shape[0])})"

    def _code_Zero(self, e: Zero) -> str:
        return f"{self.np}.zeros(({self.dim(e.shape[0])}, {self.dim(e.shape[1])}))"

    def _code__Neg(self, e: _Neg) -> str:
        return "-" + self.atom(e.arg)

    def _code_Add(self, e: Add) -> str:
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
                text = f"{_paren(text)}.sum(axis={axis}, keepdims=True)"
            if keep != 1:
                text = f"{self.np}.broadcast_to({text}, ({self.dim(rows)}, {self.dim(cols)}))"
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
                masks.append(STEP_MASK.format(x=self.atom(f.arg)))
                continue
            if mag == 1:
                text = self.atom(f)
            elif mag == Fraction(1, 2):
                text = f"{self.np}.sqrt({self.code(f)})"
            elif mag == 2:
                text = f"{self.np}.square({self.code(f)})"
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
        x = self.code(e.arg)
        op = OPS.get(e.fn)
        if e.order == 0 and op is not None:
            return op.code[TARGET].format(np=self.np, x=x, a=_paren(x))
        return f"{self.funcs.get((e.fn, e.order)) or self.formulas[(e.fn, e.order)]}({x})"

    def _code_Transpose(self, e: Transpose) -> str:
        return f"{self.atom(e.arg)}.T"

    def _code_Call(self, e: Call) -> str:
        arg = e.args[0]
        if arg not in self.temps:
            if e.fn == "tr" and isinstance(arg, _Prod) and _plain_product(arg):
                # tr(L R) = sum(L ∘ Rᵀ): one pass instead of a matrix product
                return f"{self.np}.vdot({self.code(arg.left)}, {self.code(_transpose(arg.right))})"
            if e.fn == "diag" and isinstance(arg, _Prod) and _plain_product(arg):
                left, right = self.code(arg.left), self.atom(arg.right)
                if arg.left.shape[1] == 1:  # diag(l rᵀ) = l ∘ r
                    return f"{_paren(left)} * {self.atom(_transpose(arg.right))}"
                # diag(L R)_i = Σ_k L_ik R_ki, without the off-diagonal entries
                return f"{self.np}.einsum('ij,ji->i', {left}, {right}).reshape(-1, 1)"
            if e.fn == "sum" and isinstance(arg, EProd) and arg.shape != (1, 1):
                pair = _dot_pair(arg)
                if pair is not None:
                    return f"{self.np}.vdot({self.code(pair[0])}, {self.code(pair[1])})"
        r, c = e.shape
        x = self.code(arg)
        second = {}
        if len(e.args) > 1:
            other = e.args[1]
            second = {"y": self.code(other), "r1": self.dim(other.shape[0]), "c1": self.dim(other.shape[1])}
        return OPS[e.fn].code[TARGET].format(
            np=self.np,
            x=x,
            a=_paren(x),
            r=self.dim(r),
            c=self.dim(c),
            softmax=self.helpers["softmax"],
            logsumexp=self.helpers["logsumexp"],
            **second,
        )

    def _code_MatPow(self, e: MatPow) -> str:
        return f"{self.np}.linalg.matrix_power({self.code(e.base)}, {e.k})"

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
            return f"{self.np}.sum({self.code(right)})"
        if left.shape == (1, 1) or right.shape == (1, 1):
            return f"{self.np}.sum({self.atom(left)} * {self.atom(right)})"
        return f"{self.np}.vdot({self.code(left)}, {self.code(right)})"

    # ------------------------------------------------------------ sharing and aliasing
    def share(self, roots: list[Expr]) -> list[Expr]:
        """Sub-expressions used more than once (worth a temporary), children first."""
        count: dict[Expr, int] = {}
        order: list[Expr] = []

        def visit(e: Expr) -> None:
            if isinstance(e, (Var, Num, Ones, Eye, Zero, Diff)):
                return
            if isinstance(e, _Neg):  # printed by its sum as "- arg": never a temporary
                visit(e.arg)
                return
            count[e] = count.get(e, 0) + 1
            if count[e] > 1:
                return
            for c in e.children():
                if isinstance(e, _Prod) and _is_diag(c):
                    c = c.args[0]  # a product with Diag(h) is printed with h itself
                visit(c)
            order.append(e)

        for r in roots:
            visit(r)
        deep = _too_deep(order)
        return [e for e in order if (count[e] > 1 and not self._cheap(e)) or e in deep]

    def _cheap(self, e: Expr) -> bool:
        """Views that cost nothing to recompute."""
        if isinstance(e, Transpose):
            return isinstance(e.arg, Var) or self._cheap(e.arg)
        if isinstance(e, _Prod) and isinstance(e.left, Ones) and e.left.shape[1] == 1:
            other = e.right
        elif isinstance(e, _Prod) and isinstance(e.right, Ones) and e.right.shape[0] == 1:
            other = e.left
        else:
            return False
        return isinstance(other, Var) or other in self.temps or self._cheap(other)

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
        doc += where_lines(self.d.adjoints, text)
        body: list[str] = []
        body += self._validation()
        grads = [self.lower(g) for g in self.d.gradients]
        roots = [self.defs[v.name] for v, _ in self._forward()] + list(self.adjoints.values()) + grads
        shared = self.share(roots)
        shared_ids = set(shared)
        for var, _ in self._forward():
            rhs = self.defs[var.name]
            body.extend(self._temps_for(rhs, shared, shared_ids))
            body.append(f"{self.var[var.name]} = {self.code(rhs)}")
        for name, value in self.adjoints.items():
            body.extend(self._temps_for(value, shared, shared_ids))
            body.append(f"{self.adjoint_var[name]} = {self.code(value)}")
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
            body.append(f"{gname} = {out}({self.code(g)}, {shape}, '{kind}', {fresh})")
        value = self.var[self.d.of.name]
        body.append(f"return {out}({value}, (1, 1), 'scalar', True), " + ", ".join(self.grad_names))
        lines = [
            f'"""Generated by matcalc: {self.func_name}({", ".join(params)}).',
            "",
            *doc,
            '"""',
            "",
            f"import numpy as {self.np}",
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

    def _fresh_defs(self) -> set[str]:
        """Definitions whose array is made by their own line (not a view of an input)."""
        fresh = {self.var[name] for name, rhs in self.defs.items() if self.alias(rhs) is None}
        fresh |= {self.adjoint_var[n] for n, value in self.adjoints.items() if self.alias(value) is None}
        return fresh

    def _rhs(self, var: Var) -> Expr:
        found = self.model.definition(var.name)
        return found[1] if found else var

    def _forward(self) -> list[tuple[Var, Expr]]:
        out = []
        for var, rhs in self.model.definitions:
            out.append((var, rhs))
            if var.name == self.d.of.name:
                break
        return out

    def _temps_for(self, root: Expr, shared: list[Expr], shared_ids: set[Expr]) -> list[str]:
        lines = []
        inside = _nodes(root) & shared_ids
        for e in shared:
            if e in inside and e not in self.temps:
                name = self.names.take(f"t{len(self.temps)}")
                lines.append(f"{name} = {self.code(e)}")
                self.temps[e] = name
        return lines

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
            lines.append(f"{name} = {self.helpers['input']}({name}, {v.name!r}, '{kind}')")
            for axis, d in ((0, r), (1, c)):
                if kind != "matrix" and axis == 1:
                    continue
                if isinstance(d, str) and d in self.dims and d not in bound:
                    lines.append(f"{self.dims[d]} = {name}.shape[{axis}]")
                    bound.add(d)
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

    def _formula_helpers(self) -> list[str]:
        """Each function defined by formula, and its derivatives, as a helper whose body SymPy's
        code printer writes."""
        lines: list[str] = []
        for (name, k), helper in self.formulas.items():
            lines += numpy_helper(self.model.formula(name), k, helper, self.np)
        return lines

    def _helpers(self) -> list[str]:
        np_ = self.np
        h = self.helpers
        return [
            f"def {h['input']}(value, name, kind):",
            "    array = " + np_ + ".asarray(value, dtype=" + np_ + ".float64)",
            "    if kind == 'scalar':",
            "        if array.size != 1:",
            "            raise ValueError(",
            "                f'{name} must be a scalar, got an array of shape {array.shape}')",
            "        return array.reshape(1, 1)",
            "    if kind == 'vector':",
            "        if array.ndim != 1:",
            "            raise ValueError(",
            "                f'{name} must be a 1-D array (a vector), got shape {array.shape}')",
            "        return array.reshape(-1, 1)",
            "    if array.ndim != 2:",
            "        raise ValueError(",
            "            f'{name} must be a 2-D array (a matrix), got shape {array.shape}')",
            "    return array",
            "",
            "",
            f"def {h['mismatch']}(name, label, want, got):",
            "    raise ValueError(f'{name} must have shape {label} = {want} '",
            "                     f'to fit the other inputs, got {got}')",
            "",
            "",
            f"def {h['out']}(value, shape, kind, fresh):",
            f"    array = {np_}.asarray(value, dtype={np_}.float64)",
            "    if kind == 'scalar':",
            "        return array.item()",
            "    if array.shape != shape:",
            f"        array, fresh = {np_}.broadcast_to(array, shape), False",
            "    if kind == 'vector':",
            "        array = array.reshape(-1)",
            "    return array if fresh and array.flags.writeable else array.copy()",
            "",
            "",
            f"def {h['softmax']}(x):",
            f"    z = {np_}.exp(x - x.max())",
            "    return z / z.sum()",
            "",
            "",
            f"def {h['logsumexp']}(x):",
            "    m = x.max()",
            f"    return m + {np_}.log({np_}.exp(x - m).sum())",
            "",
            "",
            *self._power_sum_helper(),
        ]

    def _power_sum_helper(self) -> list[str]:
        """``Σ_{i=0}^{k−1} Lⁱ M R^{k−1−i}`` as ``S ← L S + M Rʲ``, and for ``M = u vᵀ`` as
        ``U Vᵀ`` with columns ``Lⁱ u`` and ``(Rᵀ)^{k−1−i} v``; only when a result has one."""
        if not any(isinstance(n, PowerSum) for n in self.lowered.values()):
            return []
        return [
            f"def {self.helpers['power_sum']}(left, mid, right, k):",
            "    total, right_j = mid, right",
            "    for _ in range(1, k):",
            "        total = left @ total + mid @ right_j",
            "        right_j = right_j @ right",
            "    return total",
            "",
            "",
            f"def {self.helpers['power_sum_outer']}(left, u, v, right, k):",
            f"    us, vs = {self.np}.empty((u.shape[0], k)), {self.np}.empty((v.shape[1], k))",
            "    col, row = u[:, 0], v[0]",
            "    for i in range(k):",
            "        us[:, i], vs[:, k - 1 - i] = col, row",
            "        col, row = left @ col, row @ right",
            "    return us @ vs.T",
            "",
            "",
        ]


def _called(name: str, parameter: str) -> str:
    """``"the model's ℌ, "`` when the parameter is not spelt as the model's name."""
    return "" if parameter == name else f"the model's {name}, "


def _nodes(root: Expr) -> set[Expr]:
    seen: set[Expr] = set()
    stack = [root]
    while stack:
        e = stack.pop()
        if e not in seen:
            seen.add(e)
            stack.extend(e.children())
    return seen


def _is_diag(e: Expr) -> bool:
    return isinstance(e, Call) and e.fn == "Diag"


def _is_step(e: Expr) -> bool:
    return isinstance(e, Apply) and e.fn == "step" and e.order == 0


def _transpose(e: Expr) -> Expr:
    return e.arg if isinstance(e, Transpose) else Transpose(e)


def _plain_product(e: _Prod) -> bool:
    """A product spelt ``@`` or as an outer product (no all-ones or ``Diag`` factor)."""
    return not any(isinstance(f, Ones) or _is_diag(f) for f in (e.left, e.right))


def _dot_pair(e: EProd) -> tuple[Expr, Expr] | None:
    """``(A, B)`` when ``sum(e)`` is ``A : B`` (``A ∘ B`` or ``A.^2``) of plain float factors."""
    factors = e.factors
    if len(factors) == 1 and factors[0][1] == 2:
        pair = (factors[0][0], factors[0][0])
    elif len(factors) == 2 and factors[0][1] == factors[1][1] == 1:
        pair = (factors[0][0], factors[1][0])
    else:
        return None
    if any(_is_step(f) or f.shape != e.shape for f in pair):
        return None
    return pair


def _elementwise_factor(e: Expr) -> bool:
    """A chain factor whose product costs one pass over the result (all-ones or ``Diag``)."""
    return isinstance(e, Ones) or _is_diag(e)


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


#: Chains up to this length are multiplied in the cheapest order (a cubic search);
#: longer ones in a greedy order found in about linear time.
OPTIMAL_ORDER_UP_TO = 40

#: An order of multiplication: ``(i, j)`` for the factor ``i == j``, or
#: ``(i, j, left, right)`` for the product of factors ``i..j`` split in two.
Order = tuple


def _optimal_order(items: list[Expr], dims: list[int]) -> Order:
    """The cheapest order of the chain ``items`` (``dims``: its dimensions), by dynamic
    programming; products with an all-ones or ``Diag`` factor cost one pass."""
    n = len(items)
    cheap = [_elementwise_factor(f) for f in items]
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(2, n + 1):
        for i in range(n - length + 1):
            j = i + length - 1
            best = None
            for k in range(i, j):
                if (k == i and cheap[i]) or (k + 1 == j and cheap[j]):
                    step = dims[i] * dims[j + 1]  # a broadcast, a sum or a scaling
                else:
                    step = dims[i] * dims[k + 1] * dims[j + 1]
                c = cost[i][k] + cost[k + 1][j] + step
                if best is None or c < best:
                    best, split[i][j] = c, k
            cost[i][j] = best  # type: ignore[assignment]

    def tree(i: int, j: int) -> Order:
        if i == j:
            return (i, j)
        k = split[i][j]
        return (i, j, tree(i, k), tree(k + 1, j))

    return tree(0, n - 1)


def _greedy_order(dims: list[int], i: int, j: int) -> Order:
    """An order for factors ``i..j`` of a long chain: split at an inner dimension smaller than
    both outer ones, otherwise multiply towards the smaller outer dimension (``A(B(Cx))``)."""
    if i == j:
        return (i, j)
    k = min(range(i, j), key=lambda k: dims[k + 1])
    if dims[k + 1] < min(dims[i], dims[j + 1]):
        return (i, j, _greedy_order(dims, i, k), _greedy_order(dims, k + 1, j))
    if dims[j + 1] <= dims[i]:  # from the right
        t: Order = (j, j)
        for m in range(j - 1, i - 1, -1):
            t = (m, j, (m, m), t)
        return t
    t = (i, i)
    for m in range(i + 1, j + 1):
        t = (i, m, t, (m, m))
    return t


#: Nodes of one generated expression nested below a temporary at most (Python's parser
#: allows 200 nested parentheses; a node opens at most a few).
NESTING_LIMIT = 24


def _too_deep(order: list[Expr]) -> set[Expr]:
    """Nodes of ``order`` (children before parents) to compute into temporaries so that
    no generated expression nests more than :data:`NESTING_LIMIT` nodes deep."""
    heights: dict[Expr, int] = {}
    deep: set[Expr] = set()

    def height(c: Expr) -> int:
        return heights.get(c.arg if isinstance(c, _Neg) else c, 0) + isinstance(c, _Neg)

    for e in order:
        h = 1 + max((height(c) for c in e.children()), default=0)
        if h >= NESTING_LIMIT:
            deep.add(e)
            h = 0
        heights[e] = h
    return deep
