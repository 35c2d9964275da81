"""A parsed, typed model: its inputs, definitions and the value to differentiate."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from .expr import Expr, Var


class Places(Sequence):
    """``(line, column, end_column)`` per definition, counted the first time one is asked
    for (lines are counted from character offsets: a large model need not count them)."""

    __slots__ = ("_make", "_places")

    def __init__(self, make: Callable[[], tuple[tuple[int, int, int], ...]]) -> None:
        self._make: Callable[[], tuple[tuple[int, int, int], ...]] | None = make
        self._places: tuple[tuple[int, int, int], ...] = ()

    def _all(self) -> tuple[tuple[int, int, int], ...]:
        if self._make is not None:
            self._places, self._make = self._make(), None
        return self._places

    def __getitem__(self, index):
        return self._all()[index]

    def __len__(self) -> int:
        return len(self._all())

    def __iter__(self) -> Iterator[tuple[int, int, int]]:
        return iter(self._all())

    def __eq__(self, other: object) -> bool:
        return tuple(self) == (tuple(other) if isinstance(other, Sequence) else other)

    def __hash__(self) -> int:
        return hash(self._all())

    def __repr__(self) -> str:
        return repr(self._all())


@dataclass(frozen=True)
class Model:
    """What :func:`matcalc.parse` returns.

    ``inputs`` are the free variables in order of first appearance
    (declarations first), ``definitions`` the ``NAME = EXPR`` lines in order
    (a final bare expression becomes a definition named ``f``, or ``f_`` if taken),
    ``elementwise`` the declared abstract functions, ``dims`` every dimension
    symbol in order of first appearance, ``source`` the text parsed,
    ``places`` where each definition is written: ``(line, column, end_column)``
    of its name (of the expression, for a final bare one), ``convention`` the
    naming convention that gave undeclared names their kinds, ``formulas`` the
    functions defined by formula (``softsign(u) = u / (1 + abs(u))``).
    """

    inputs: tuple[Var, ...]
    definitions: tuple[tuple[Var, Expr], ...]
    output: Var
    elementwise: tuple[str, ...] = ()
    dims: tuple[str, ...] = ()
    source: str = ""
    places: Sequence[tuple[int, int, int]] = ()
    convention: str = "matcalc"
    formulas: tuple = ()  # the functions defined by formula (matcalc.formulas.Formula), in order

    def formula(self, name: str):
        """The function called ``name`` defined by formula, if any."""
        return next((f for f in self.formulas if f.name == name), None)

    def definition(self, name: str) -> tuple[Var, Expr] | None:
        """The definition of ``name`` (compared in NFC, as the model text is read), if any."""
        name = _nfc(name)
        for var, rhs in self.definitions:
            if var.name == name:
                return var, rhs
        return None

    def place(self, name: str) -> tuple[int, int, int] | None:
        """``(line, column, end_column)`` of the definition of ``name`` in ``source``."""
        name = _nfc(name)
        for (var, _), where in zip(self.definitions, self.places):
            if var.name == name:
                return where
        return None

    def lookup(self, name: str) -> Var | None:
        """The input or definition called ``name`` (compared in NFC, as the model text is read)."""
        name = _nfc(name)
        for v in self.inputs:
            if v.name == name:
                return v
        d = self.definition(name)
        return d[0] if d else None


def _nfc(name: str) -> str:
    """A name as the parser reads it (the model text is normalised to NFC)."""
    return unicodedata.normalize("NFC", name.strip())
