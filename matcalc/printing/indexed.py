"""Runs of printed items that differ only in the numbers ending names, folded over an index.

An unrolled network names its steps ``h1, h2, …``; its gradients are sums like
``(δh3 ∘ (1 − h3.^2)) h2ᵀ + (δh2 ∘ (1 − h2.^2)) h1ᵀ + (δh1 ∘ (1 − h1.^2)) h0ᵀ``. A
textbook writes ``Σ_{t=1}^{3} (δh_t ∘ (1 − h_t.^2)) h_{t−1}ᵀ``. :func:`fold` finds such
runs in printed text: the items must be alike except for the numbers that end names, and
every number that changes must be the index plus a constant, the index going up or down
by one from item to item. Numbers that do not change stay as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

#: Fewer items than this are left as they are.
MIN_RUN = 3

#: Index letters, the first not already a name in the items is used.
_LETTERS = ("t", "s", "k", "j", "i")


@dataclass(frozen=True)
class Spelling:
    """How one printer writes the numbers that end names and an index in their place."""

    #: matches a number ending a name; group 1 is the number
    number: re.Pattern
    #: the index plus a constant, in place of the number (``_t``, ``_{t−1}``)
    indexed: Callable[[str, int], str]


def _template(item: str, sp: Spelling) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The text around the numbers that end names, and those numbers (as written)."""
    parts, numbers, last = [], [], 0
    for m in sp.number.finditer(item):
        parts.append(item[last : m.start(1)])
        numbers.append(m.group(1))
        last = m.end(1)
    parts.append(item[last:])
    return tuple(parts), tuple(numbers)


@dataclass(frozen=True)
class Run:
    """Items of a list written once with the index ``letter`` going from ``first`` to ``last``
    (``period`` items at a time: ``text`` then holds them joined by :data:`JOIN`)."""

    text: str
    letter: str
    first: int
    last: int
    length: int
    period: int = 1


#: Joins the items of a block of a run with a period above one.
JOIN = "\x1f"


def _letter(items: list[str], avoid: frozenset[str]) -> str | None:
    for letter in _LETTERS:
        if letter not in avoid and not any(re.search(rf"(?<!\w){letter}(?!\w)", it) for it in items):
            return letter
    return None


def _as_run(items: list[str], start: int, sp: Spelling, avoid: frozenset[str]) -> Run | None:
    """The longest foldable run of ``items`` beginning at ``start``, if long enough."""
    parts, first = _template(items[start], sp)
    if not first:
        return None
    rows = [tuple(int(n) for n in first)]
    varying: set[int] | None = None
    step = 0
    end = start + 1
    while end < len(items):
        p, numbers = _template(items[end], sp)
        if p != parts or len(numbers) != len(first):
            break
        row = tuple(int(n) for n in numbers)
        moved = {j for j in range(len(row)) if row[j] != rows[-1][j]}
        steps = {row[j] - rows[-1][j] for j in moved}
        if not moved or len(steps) != 1 or (varying is not None and moved != varying):
            break
        s = steps.pop()
        if s not in (1, -1) or (step and s != step):
            break
        varying, step = moved, s
        rows.append(row)
        end += 1
    if len(rows) < MIN_RUN or varying is None:
        return None
    letter = _letter(items[start:end], avoid)
    if letter is None:
        return None
    base = min(varying)
    text = parts[0]
    for j, p in enumerate(parts[1:]):
        text += sp.indexed(letter, rows[0][j] - rows[0][base]) if j in varying else first[j]
        text += p
    return Run(text, letter, rows[0][base], rows[-1][base], len(rows))


def fold(items: list[str], sp: Spelling, avoid: frozenset[str] = frozenset()) -> list[Run | str]:
    """``items`` with every foldable run replaced by a :class:`Run` (its index not a name
    in ``avoid``: the model's names)."""
    out: list[Run | str] = []
    i = 0
    while i < len(items):
        run = _as_run(items, i, sp, avoid)
        if run is None:
            out.append(items[i])
            i += 1
        else:
            out.append(run)
            i += run.length
    return out


def fold_blocks(
    items: list[str], sp: Spelling, avoid: frozenset[str] = frozenset(), period: int = 2
) -> list[Run | str]:
    """Like :func:`fold`, and where no single item repeats, runs of blocks of ``period``
    consecutive items (a gated step defines ``z_t`` then ``h_{t−1}``)."""
    out: list[Run | str] = []
    i = 0
    while i < len(items):
        run = _as_run(items, i, sp, avoid)
        if run is None and i + period * MIN_RUN <= len(items):
            blocks = [JOIN.join(items[j : j + period]) for j in range(i, len(items) - period + 1, period)]
            block_run = _as_run(blocks, 0, sp, avoid)
            if block_run is not None:
                run = Run(block_run.text, block_run.letter, block_run.first, block_run.last,
                          block_run.length * period, period)
        if run is None:
            out.append(items[i])
            i += 1
        else:
            out.append(run)
            i += run.length
    return out


def fold_lines(
    lines: list[str],
    sp: Spelling,
    over: Callable[[Run], str],
    block: Callable[[Run], str] | None = None,
    avoid: frozenset[str] = frozenset(),
) -> list[str]:
    """``lines`` with each foldable run written once, ``over(run)`` saying the index's range;
    with ``block`` (which heads a block of lines with the range), blocks of two lines too."""
    out: list[str] = []
    for x in fold_blocks(lines, sp, avoid) if block is not None else fold(lines, sp, avoid):
        if isinstance(x, str):
            out.append(x)
        elif x.period == 1:
            out.append(x.text + over(x))
        else:
            assert block is not None
            head = block(x)
            first, *rest = x.text.split(JOIN)
            out.append(head + first)
            out.extend(" " * len(head) + line for line in rest)
    return out
