"""Dimensions: the sizes in a shape ``(rows, cols)``.

A size is a positive ``int`` or a :class:`Symbolic` size: a dimension symbol (``n``)
or a product of symbols and a number (``m*n``, ``2*n``, as ``vec`` and ``kron``
produce and declarations may write). Both are immutable values. A symbolic size is
canonical (its number, then its symbols sorted), so ``n*m`` and ``m*n`` are one
value, and ``str`` spells it that way. Only this module looks inside a size; the
rest of matcalc multiplies, compares, prints and evaluates sizes through it.

Numbers stay plain ``int``: ``1`` is the column count of every vector and both
sizes of every scalar, compared against throughout (``shape[1] == 1``,
``shape == (1, 1)``), and numeric sizes are multiplied, printed and written to
JSON as they are. A product of numbers alone is an ``int`` too, never a
:class:`Symbolic`.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import TypeVar

T = TypeVar("T")


class Symbolic:
    """A size made of dimension symbols: ``number`` times the product of ``names``
    (sorted, a repeated symbol repeated; at least one).

    Equal sizes are one object (each is made once and reused while in use), so
    comparing and hashing sizes is as cheap as comparing identities. Immutable."""

    __slots__ = ("number", "names", "_text", "__weakref__")
    number: int
    names: tuple[str, ...]

    def __new__(cls, number: int, names: Iterable[str]) -> Symbolic:
        names = tuple(sorted(names))
        if not names or not isinstance(number, int) or number < 1:
            raise ValueError(f"not a symbolic size: {number} times {names}")
        key = (number, names)
        with _LOCK:
            d = _MADE.get(key)
            if d is None:
                d = object.__new__(cls)
                text = "*".join(names) if number == 1 else f"{number}*" + "*".join(names)
                for slot, value in (("number", number), ("names", names), ("_text", text)):
                    object.__setattr__(d, slot, value)
                _MADE[key] = d
        return d

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"a size is immutable (cannot set {name})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"a size is immutable (cannot delete {name})")

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"Symbolic({self._text!r})"

    def __reduce__(self) -> tuple:  # pickling and copying give back the one object
        return (Symbolic, (self.number, self.names))

    def __copy__(self) -> Symbolic:
        return self

    def __deepcopy__(self, memo: dict) -> Symbolic:
        return self


#: Every symbolic size in use, by ``(number, names)``: what keeps equal sizes one object.
_MADE: weakref.WeakValueDictionary[tuple[int, tuple[str, ...]], Symbolic] = weakref.WeakValueDictionary()
_LOCK = threading.Lock()

Dim = int | Symbolic


class Unknown:
    """A stand-in for a size not known yet (while shapes are inferred, see
    :mod:`matcalc.infer`): :func:`mul` of it with any size other than ``1`` is
    :data:`UNKNOWN`."""

    __slots__ = ()

    def __str__(self) -> str:
        return "?"


#: The product of an unknown size with another size.
UNKNOWN = Unknown()


@lru_cache(maxsize=4096)  # a model names the same few sizes again and again
def symbol(name: str) -> Symbolic:
    """The size a dimension symbol stands for (``n``)."""
    return Symbolic(1, (name,))


def mul(a: Dim | Unknown, b: Dim | Unknown) -> Dim | Unknown:
    """The product of two sizes (``n*m`` and ``m*n`` are one size; ``1`` is neutral)."""
    if a == 1:
        return b
    if b == 1:
        return a
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        return a * b  # type: ignore[operator]
    if isinstance(a, Unknown) or isinstance(b, Unknown):
        return UNKNOWN
    if ta is int:
        return Symbolic(a * b.number, b.names)  # type: ignore[union-attr,operator]
    if tb is int:
        return Symbolic(a.number * b, a.names)  # type: ignore[union-attr,operator]
    return Symbolic(a.number * b.number, a.names + b.names)  # type: ignore[union-attr]


def product(factors: Iterable[Dim]) -> Dim:
    """The product of several sizes (``1`` for none)."""
    out: Dim = 1
    for f in factors:
        out = mul(out, f)  # type: ignore[assignment]
    return out


def symbols(d: Dim) -> tuple[str, ...]:
    """The dimension symbols a size is made of (``m*n``: ``("m", "n")``; a number: none)."""
    return () if isinstance(d, int) else d.names


def is_symbol(d: Dim) -> bool:
    """A single dimension symbol (not a number, not a product)."""
    return not isinstance(d, int) and d.number == 1 and len(d.names) == 1


def symbol_name(d: Dim) -> str | None:
    """The name of a size that is a single dimension symbol, else ``None``."""
    return d.names[0] if is_symbol(d) else None  # type: ignore[union-attr]


def value(d: Dim, of: Callable[[str], T]) -> T | int:
    """A size with each symbol replaced by ``of(symbol)``: the number times their product."""
    if isinstance(d, int):
        return d
    out: T | int = d.number
    for name in d.names:
        out = out * of(name)  # type: ignore[operator]
    return out


def size(d: Dim, sizes: Mapping[str, int]) -> int:
    """The number a size stands for, given each symbol's size."""
    return value(d, sizes.__getitem__)  # type: ignore[return-value]


def code(d: Dim, name: Callable[[str], str]) -> str:
    """A size as a product expression, each symbol spelt by ``name`` (``2 * m * n``)."""
    if isinstance(d, int):
        return str(d)
    return " * ".join(([str(d.number)] if d.number != 1 else []) + [name(s) for s in d.names])


def shape_json(shape: tuple[Dim, ...]) -> list[int | str]:
    """A shape as JSON holds it: numbers as they are, symbolic sizes as their text."""
    return [d if isinstance(d, int) else str(d) for d in shape]
