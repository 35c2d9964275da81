"""Dimension variables and their unification (union-find).

Every row or column count met while inferring shapes is a variable; a
variable may be bound to a size (a positive ``int`` or a symbolic size, see
:mod:`matcalc.dims`).
Unifying two variables makes them one; two different sizes cannot be unified.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from . import dims
from .dims import Dim as Size


class Dims:
    """A union-find over dimension variables (plain ``int`` ids)."""

    def __init__(self) -> None:
        self._parent: list[int] = []
        self._value: dict[int, Size] = {}
        self._nonunit: set[int] = set()  # roots whose size may not be 1
        self._consts: dict[Size, int] = {}
        #: Every symbol the user wrote, in order of first use.
        self.user_symbols: dict[str, None] = {}
        #: How many times two classes have been made one (what was true of the variables
        #: holds while this count stays the same)
        self.merges = 0

    # ------------------------------------------------------------ making

    def new(self, nonunit: bool = False) -> int:
        """A fresh unbound variable; ``nonunit`` forbids it from ever becoming 1."""
        v = len(self._parent)
        self._parent.append(v)
        if nonunit:
            self._nonunit.add(v)
        return v

    def const(self, size: Size) -> int:
        """The variable bound to ``size`` (one per size)."""
        v = self._consts.get(size)
        if v is None:
            v = self.new()
            self._value[v] = size
            self._consts[size] = v
        return v

    def symbol(self, name: str) -> int:
        """The variable of a dimension symbol the user wrote."""
        self.user_symbols.setdefault(name, None)
        return self.const(dims.symbol(name))

    # ------------------------------------------------------------ reading

    @property
    def count(self) -> int:
        """How many variables exist (their ids are ``range(count)``, in creation order)."""
        return len(self._parent)

    def find(self, v: int) -> int:
        """The representative of ``v``'s class."""
        parent = self._parent
        root = parent[v]
        if root == v:
            return v
        while parent[root] != root:
            root = parent[root]
        while parent[v] != root:
            parent[v], v = root, parent[v]
        return root

    def value(self, v: int) -> Size | None:
        """The size ``v`` is bound to, if any."""
        return self._value.get(self.find(v))

    def is_one(self, v: int) -> bool:
        return self._value.get(self.find(v)) == 1

    def same(self, a: int, b: int) -> bool:
        return self.find(a) == self.find(b)

    # ------------------------------------------------------------ unifying

    def unify(self, a: int, b: int) -> bool:
        """Make ``a`` and ``b`` one size; ``False`` (and no change) if they cannot be."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        va, vb = self._value.get(ra), self._value.get(rb)
        if va is not None and vb is not None and va != vb:
            return False
        merged = va if va is not None else vb
        nonunit = ra in self._nonunit or rb in self._nonunit
        if nonunit and merged == 1:
            return False
        if ra < rb:  # the older variable stays the representative
            ra, rb = rb, ra
        self.merges += 1
        self._parent[ra] = rb
        if merged is not None:
            self._value[rb] = merged
        if nonunit:
            self._nonunit.add(rb)
        return True

    def bind(self, v: int, size: Size) -> bool:
        """Unify ``v`` with ``size``."""
        return self.unify(v, self.const(size))

    # ------------------------------------------------------------ naming

    def unbound_roots(self, skip: Iterable[int] = ()) -> list[int]:
        """Representatives of unbound classes in order of creation."""
        skipped = {self.find(v) for v in skip}
        seen: dict[int, None] = {}
        for v in range(len(self._parent)):
            r = self.find(v)
            if r not in self._value and r not in skipped:
                seen.setdefault(r, None)
        return list(seen)

    def fresh_names(self, count: int) -> list[str]:
        """``count`` names ``k1, k2, ...`` that no user symbol uses."""
        out: list[str] = []
        i = 0
        while len(out) < count:
            i += 1
            name = f"k{i}"
            if name not in self.user_symbols:
                out.append(name)
        return out

    def name_unbound(self, skip: Iterable[int] = ()) -> None:
        """Bind every unbound class (except ``skip``) to a fresh symbol, in creation order."""
        roots = self.unbound_roots(skip)
        for r, name in zip(roots, self.fresh_names(len(roots))):
            self._value[r] = dims.symbol(name)

    def namer(self) -> Callable[[int], str]:
        """A function printing a variable: its size, or the fresh name it would get."""
        roots = self.unbound_roots()
        provisional = dict(zip(roots, self.fresh_names(len(roots))))

        def text(v: int) -> str:
            r = self.find(v)
            if r in self._value:
                return str(self._value[r])
            return provisional.get(r, "?")

        return text
