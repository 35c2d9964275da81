"""Dimensions: a size is a positive ``int``, a symbol (``"n"``) or a product of
symbols and numbers (``"m*n"``, as ``vec`` and ``kron`` produce and declarations
may write). Every reading of a product goes through these functions, so no other
module splits ``"*"`` itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

Dim = int | str


def mul(a: Dim, b: Dim) -> Dim:
    """The product of two dimensions: a number, or its factors in a canonical order (the
    number first, then the symbols sorted), so that ``n*m`` and ``m*n`` are one size."""
    if isinstance(a, int) and isinstance(b, int):
        return a * b
    if a == 1:
        return b
    if b == 1:
        return a
    if not isinstance(a, (int, str)) or not isinstance(b, (int, str)):
        return f"{a}*{b}"  # a stand-in for a size not known yet (see matcalc.infer)
    number = 1
    names: list[str] = []
    for f in factors(a) + factors(b):
        if isinstance(f, int):
            number *= f
        else:
            names.append(f)
    parts = ([str(number)] if number != 1 else []) + sorted(names)
    return "*".join(parts) if len(parts) > 1 else (parts[0] if names else number)


def product(factors: list[Dim] | tuple[Dim, ...]) -> Dim:
    """The product of several dimensions (``1`` for none)."""
    out: Dim = 1
    for f in factors:
        out = mul(out, f)
    return out


def factors(d: Dim) -> tuple[Dim, ...]:
    """The factors of a dimension: ``"m*n"`` gives ``("m", "n")``, ``"2*n"`` ``(2, "n")``."""
    if isinstance(d, int):
        return (d,)
    return tuple(int(p) if p.isdigit() else p for p in d.split("*"))


def symbols(d: Dim) -> tuple[str, ...]:
    """The dimension symbols a dimension is made of."""
    return tuple(f for f in factors(d) if isinstance(f, str))


def is_symbol(d: Dim) -> bool:
    """A single dimension symbol (not a number, not a product)."""
    return isinstance(d, str) and "*" not in d


def size(d: Dim, sizes: Mapping[str, int]) -> int:
    """The number a dimension stands for, given each symbol's size."""
    out = 1
    for f in factors(d):
        out *= f if isinstance(f, int) else sizes[f]
    return out


def code(d: Dim, name: Callable[[str], str]) -> str:
    """A dimension as a product expression, each symbol spelt by ``name``."""
    if isinstance(d, int):
        return str(d)
    return " * ".join(str(f) if isinstance(f, int) else name(f) for f in factors(d))
