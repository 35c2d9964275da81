"""The backend-neutral lowered form every code target prints.

:class:`Lowering` decides, once for every target, what a generated function
computes and in which order: the identifiers (:class:`Names`, checked by
:func:`python_name`), each matrix chain as a binary tree of :class:`_Prod`
nodes in the cheapest order (so shared sub-products are found by the same
dictionary lookup as any other common sub-expression), negated terms of sums
(:class:`_Neg`), which sub-expressions are computed once into temporaries
(:meth:`Lowering.share`, :meth:`Lowering.temps_for`), the forward definitions
the value needs, and which dimension symbols are read off which input's shape.
A target (:mod:`matcalc.printing.numpy`, :mod:`matcalc.codegen.torch`,
:mod:`matcalc.codegen.jax`, :mod:`matcalc.codegen.array_api`) only spells the
lowered nodes in its library and adds the idioms that really differ.
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
from ..formulas import used_derivatives
from ..gradient import Derivation

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


class Lowering:
    """The lowered form of one derivation: names, chains, sharing and sizes; a target prints it."""

    #: The module alias of the target's array library (``np``, ``torch``, ``jnp``, ``xp``).
    MODULE = "np"
    #: Module-level helpers of the target, named ``_`` + each.
    HELPERS: tuple[str, ...] = (
        "softmax", "logsumexp", "power_sum", "power_sum_outer", "input", "mismatch", "out"
    )
    #: Names of the target's own locals (``_dtype`` …), taken after every other name.
    LOCALS: tuple[str, ...] = ()

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
        self.adjoint_var = {  # a named tangent or Jacobian of a deep Jacobian or Hessian: its name
            v.name: self.names.take(python_name(v.name if v.role == "named" else "delta_" + v.name))
            for v, _ in derivation.adjoints
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
        self.np = self.names.take(self.MODULE)
        self.helpers = {h: self.names.take("_" + h) for h in self.HELPERS}
        self.dims = {d: self.names.take(python_name(d)) for d in self.model.dims}
        self.grad_names = [
            self.names.take("grad_" + self.var[v.name].rstrip("_")) for v in derivation.wrt
        ]
        self.locals = {h: self.names.take("_" + h) for h in self.LOCALS}
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
        spread = _distributed(e)
        if spread is not None:
            return self.lower(spread)
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
    # ------------------------------------------------------------ sharing and aliasing
    def share(self, roots: list[Expr]) -> list[Expr]:
        """Sub-expressions used more than once (worth a temporary), children first."""
        count: dict[Expr, int] = {}
        order: list[Expr] = []

        def visit(e: Expr) -> None:
            if isinstance(e, (Var, Adjoint, Num, Ones, Eye, Zero, Diff)):  # names: no copy
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


def _distributed(e: Mul) -> Add | None:
    """``M₁(A + B)M₂`` as ``M₁AM₂ + M₁BM₂`` when the product is a vector or a number and ``A + B`` a
    matrix: ``(A + Aᵀ)x`` is then ``Ax + Aᵀx``, two matrix-vector products instead of an n×n sum
    and one (and ``Ax`` is shared with ``xᵀAx``). Only one sum in the chain and no sum inside its
    terms, so that nothing grows faster than the model."""
    if 1 not in e.shape:
        return None
    sums = [i for i, f in enumerate(e.chain) if isinstance(f, Add)]
    if len(sums) != 1:
        return None
    i = sums[0]
    total = e.chain[i]
    if 1 in total.shape:
        return None
    terms = []
    for t in total.terms:
        coef, scalars, chain = (t.coef, t.scalars, t.chain) if isinstance(t, Mul) else (1, (), (t,))
        if not chain or any(isinstance(f, (Add, Eye, Ones, Zero)) for f in chain):
            return None
        terms.append(Mul(e.coef * coef, e.scalars + scalars, e.chain[:i] + chain + e.chain[i + 1:], e.shape))
    return Add(tuple(terms), e.shape)


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

