"""Immutable, hashable expression nodes: the one tree that models, differentials
and gradients are written in.

Every value is a matrix with a shape ``(rows, cols)``; a dimension is an ``int``
or a symbolic size (:mod:`matcalc.dims`). Column vectors are ``(n, 1)``, row vectors ``(1, n)`` and
scalars ``(1, 1)``. Nodes are built through the smart constructors of
:mod:`matcalc.build`, which keep them in a canonical form; the classes here
only hold data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

from .dims import Dim, Symbolic

Shape = tuple[Dim, Dim]
SCALAR: Shape = (1, 1)


class Expr:
    """Base of all nodes: structural equality, cached hash, deterministic key."""

    __slots__ = ("_hash", "_key", "_shape", "_size")
    shape: Shape

    def fields(self) -> tuple:
        """The values that identify this node (children and parameters)."""
        raise NotImplementedError

    def children(self) -> tuple[Expr, ...]:
        """The sub-expressions of this node, in order."""
        return ()

    @property
    def is_scalar(self) -> bool:
        return self.shape == SCALAR

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if type(self) is not type(other):
            return False
        return hash(self) == hash(other) and self.fields() == other.fields()

    def __hash__(self) -> int:
        try:
            return self._hash
        except AttributeError:
            h = hash((type(self).__name__, self._hashed_fields()))
            object.__setattr__(self, "_hash", h)
            return h

    def _hashed_fields(self) -> tuple:
        """:meth:`fields`, or values that hash as they do but faster."""
        return self.fields()

    @property
    def key(self) -> str:
        """A deterministic structural key, used to order commutative operands."""
        try:
            return self._key
        except AttributeError:
            parts = []
            for f in self.fields():
                if isinstance(f, Expr):
                    parts.append(f.key)
                elif isinstance(f, tuple):
                    parts.append("(" + ",".join(_key_of(x) for x in f) + ")")
                else:
                    parts.append(_key_of(f))
            k = type(self).__name__ + "[" + ";".join(parts) + "]"
            if len(k) > MAX_KEY:  # a shared graph's tree may be exponential: its digest
                k = "#" + hashlib.sha256(k.encode()).hexdigest()
            object.__setattr__(self, "_key", k)
            return k

    def walk(self) -> Iterator[Expr]:
        """Every node of the tree, parents before children (with repeats)."""
        stack = [self]
        while stack:
            e = stack.pop()
            yield e
            stack.extend(reversed(e.children()))

    def size(self) -> int:
        """Number of nodes in the tree (shared sub-trees counted each time)."""
        try:
            return self._size
        except AttributeError:
            pass
        stack: list[tuple[Expr, bool]] = [(self, False)]
        while stack:  # children before parents, each distinct node once
            e, ready = stack.pop()
            if ready:
                object.__setattr__(e, "_size", 1 + sum(c._size for c in e.children()))
            elif not hasattr(e, "_size"):
                stack.append((e, True))
                stack.extend((c, False) for c in e.children() if not hasattr(c, "_size"))
        return self._size


#: A key longer than this is written as its digest (each node's key then holds at most its
#: operands' digests: linear in the graph, not in its tree). No model a person writes has one
#: so long, so the order of operands is as it was.
MAX_KEY = 20_000


def _key_of(x: object) -> str:
    if isinstance(x, Expr):
        return x.key
    if isinstance(x, tuple):
        return "(" + ",".join(_key_of(y) for y in x) + ")"
    if isinstance(x, Symbolic):  # quoted text, as when sizes were strings: operand order stays
        return repr(str(x))
    return repr(x)


def _hashed_number(value: Fraction) -> Fraction | int:
    """``value``, or the ``int`` equal to it, whose hash is the same and not computed in
    Python (a whole number's :class:`~fractions.Fraction` hashes by slow arithmetic)."""
    return value.numerator if value.denominator == 1 else value


def _node(cls):
    return dataclass(frozen=True, eq=False, slots=True, repr=False)(cls)


@_node
class Var(Expr):
    """A named value: a free input (``role='input'``) or a definition (``role='def'``)."""

    name: str
    shape: Shape
    role: str = "input"
    symmetric: bool = False

    def fields(self) -> tuple:
        return (self.name, self.shape, self.role, self.symmetric)

    def __repr__(self) -> str:
        return self.name


@_node
class Diff(Expr):
    """The differential ``dV`` of a named value."""

    var: Var

    @property
    def shape(self) -> Shape:  # type: ignore[override]
        return self.var.shape

    def fields(self) -> tuple:
        return (self.var,)

    def children(self) -> tuple[Expr, ...]:
        return (self.var,)

    def __repr__(self) -> str:
        return f"d{self.var.name}"


@_node
class Adjoint(Expr):
    """The adjoint ``δV = ∂f/∂V`` of a definition ``V``, written by its name in a result
    (a leaf: its value is given once, in the result's ``where`` lines)."""

    var: Var

    @property
    def shape(self) -> Shape:  # type: ignore[override]
        return self.var.shape

    def fields(self) -> tuple:
        return (self.var,)

    def __repr__(self) -> str:
        return f"δ{self.var.name}"


@_node
class Num(Expr):
    """An exact scalar constant."""

    value: Fraction
    shape: Shape = SCALAR

    def fields(self) -> tuple:
        return (self.value,)

    def _hashed_fields(self) -> tuple:
        return (_hashed_number(self.value),)

    def __repr__(self) -> str:
        return str(self.value)


@_node
class Ones(Expr):
    """The all-ones matrix (a vector when ``cols == 1``)."""

    shape: Shape

    def fields(self) -> tuple:
        return (self.shape,)

    def __repr__(self) -> str:
        return f"ones{self.shape}"


@_node
class Eye(Expr):
    """The identity matrix."""

    shape: Shape

    def fields(self) -> tuple:
        return (self.shape,)

    def __repr__(self) -> str:
        return f"eye{self.shape}"


@_node
class Zero(Expr):
    """The zero matrix (scalar zero is ``Num(0)``)."""

    shape: Shape

    def fields(self) -> tuple:
        return (self.shape,)

    def __repr__(self) -> str:
        return f"zeros{self.shape}"


@_node
class Add(Expr):
    """A sum of two or more terms of one shape."""

    terms: tuple[Expr, ...]
    shape: Shape

    def fields(self) -> tuple:
        return (self.terms,)

    def children(self) -> tuple[Expr, ...]:
        return self.terms

    def __repr__(self) -> str:
        return "(" + " + ".join(map(repr, self.terms)) + ")"


@_node
class Mul(Expr):
    """``coef * (product of scalar factors) * (matrix chain)``.

    ``scalars`` are 1x1 factors (never numbers), ``chain`` the factors of a
    matrix product in order; either may be empty but not both with
    ``coef == 1``.
    """

    coef: Fraction
    scalars: tuple[Expr, ...]
    chain: tuple[Expr, ...]
    shape: Shape

    def fields(self) -> tuple:
        return (self.coef, self.scalars, self.chain)

    def _hashed_fields(self) -> tuple:
        return (_hashed_number(self.coef), self.scalars, self.chain)

    def children(self) -> tuple[Expr, ...]:
        return self.scalars + self.chain

    def __repr__(self) -> str:
        parts = [] if self.coef == 1 else [str(self.coef)]
        parts += [repr(s) for s in self.scalars + self.chain]
        return "(" + " * ".join(parts) + ")"


@_node
class EProd(Expr):
    """Entry-wise product of powers ``A1.^k1 ∘ A2.^k2 ∘ ...`` (division: ``k < 0``)."""

    factors: tuple[tuple[Expr, Fraction], ...]
    shape: Shape

    def fields(self) -> tuple:
        return (self.factors,)

    def children(self) -> tuple[Expr, ...]:
        return tuple(f for f, _ in self.factors)

    def __repr__(self) -> str:
        return "(" + " ∘ ".join(f"{f!r}.^{k}" for f, k in self.factors) + ")"


@_node
class Apply(Expr):
    """An entry-wise function; ``order`` counts derivatives of an abstract one."""

    fn: str
    arg: Expr
    order: int = 0

    @property
    def shape(self) -> Shape:  # type: ignore[override]
        try:
            return self._shape
        except AttributeError:  # worked out once: nested calls would walk the whole tree
            shape = self.arg.shape
            object.__setattr__(self, "_shape", shape)
            return shape

    def fields(self) -> tuple:
        return (self.fn, self.arg, self.order)

    def children(self) -> tuple[Expr, ...]:
        return (self.arg,)

    def __repr__(self) -> str:
        return f"{self.fn}{chr(39) * self.order}({self.arg!r})"


@_node
class Transpose(Expr):
    """The transpose of a leaf or of a call (transposes are pushed to the leaves)."""

    arg: Expr

    @property
    def shape(self) -> Shape:  # type: ignore[override]
        try:
            return self._shape
        except AttributeError:
            r, c = self.arg.shape
            object.__setattr__(self, "_shape", (c, r))
            return (c, r)

    def fields(self) -> tuple:
        return (self.arg,)

    def children(self) -> tuple[Expr, ...]:
        return (self.arg,)

    def __repr__(self) -> str:
        return f"{self.arg!r}'"


@_node
class Call(Expr):
    """A structural function (``sum tr diag Diag vec unvec inv det logdet norm*
    softmax logsumexp``); its shape comes from :mod:`matcalc.functions`."""

    fn: str
    args: tuple[Expr, ...]
    shape: Shape

    def fields(self) -> tuple:
        return (self.fn, self.args, self.shape)

    def children(self) -> tuple[Expr, ...]:
        return self.args

    def __repr__(self) -> str:
        return f"{self.fn}(" + ", ".join(map(repr, self.args)) + ")"


@_node
class Frob(Expr):
    """The Frobenius product ``A : B = sum(A ∘ B)``."""

    left: Expr
    right: Expr
    shape: Shape = SCALAR

    def fields(self) -> tuple:
        return (self.left, self.right)

    def children(self) -> tuple[Expr, ...]:
        return (self.left, self.right)

    def __repr__(self) -> str:
        return f"({self.left!r} : {self.right!r})"


@_node
class MatPow(Expr):
    """The matrix power ``base^k`` of a square matrix (``k ≥ 2``)."""

    base: Expr
    k: int

    @property
    def shape(self) -> Shape:  # type: ignore[override]
        return self.base.shape

    def fields(self) -> tuple:
        return (self.base, self.k)

    def children(self) -> tuple[Expr, ...]:
        return (self.base,)

    def __repr__(self) -> str:
        return f"{self.base!r}^{self.k}"


@_node
class PowerSum(Expr):
    """``Σ_{i=0}^{k−1} leftⁱ · mid · right^{k−1−i}``: the differential of a matrix power
    (``mid = dX``) and the gradient it gives (``left = Xᵀ``, ``mid = G``, ``right = Xᵀ``)."""

    left: Expr
    mid: Expr
    right: Expr
    k: int

    @property
    def shape(self) -> Shape:  # type: ignore[override]
        return self.mid.shape

    def fields(self) -> tuple:
        return (self.left, self.mid, self.right, self.k)

    def children(self) -> tuple[Expr, ...]:
        return (self.left, self.mid, self.right)

    def __repr__(self) -> str:
        return f"Σ[{self.k}]({self.left!r}^i {self.mid!r} {self.right!r}^(k-1-i))"
