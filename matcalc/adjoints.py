"""Named adjoints: which ``δV = ∂f/∂V`` a result writes once, by name, and which inline.

Reverse mode gives every definition ``V`` an adjoint ``δV`` (the coefficient of
``dV`` in ``df``). The derivation writes each non-trivial one as a leaf
:class:`~matcalc.expr.Adjoint`, so that nothing is ever copied: a residual
step uses ``δh`` twice and a tree would double with every step. At the end
each adjoint is either *named* — the result says ``where δh₃ = …`` once and
uses ``δh₃`` — or written out where it is used, as a textbook does for a
short chain. The choice (:func:`choose`) keeps the seed answers as they are
and every result linear in the size of the model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from . import build as b
from .expr import Adjoint, Expr, Eye, Num, Ones, Var, Zero

#: An adjoint nests at most this many others written out inside it (``δh₁`` written out
#: in ``∂f/∂W₁`` holds ``δh₂`` holds ``δh₃``…); a deeper one is named.
MAX_NESTING = 4

#: An adjoint used more than once whose written-out form is larger than this is named.
MAX_REPEATED_SIZE = 40


def trivial(g: Expr) -> bool:
    """An adjoint that is as short as its name (``1``, ``𝟏``, a name): always written out."""
    return isinstance(g, (Num, Ones, Zero, Eye, Var, Adjoint))


def _uses(e: Expr, memo: dict[Expr, dict[str, int]]) -> dict[str, int]:
    """How often each adjoint occurs in ``e`` written out as a tree, counted up to 2 (enough
    to tell "once" from "more than once": ``δh + Wᵀ(δh ∘ …)`` uses ``δh`` twice)."""
    return count_uses(e, memo, lambda n: {n.var.name: 1} if isinstance(n, Adjoint) else None)


def count_uses(e: Expr, memo: dict[Expr, dict[str, int]],
               leaf: Callable[[Expr], dict[str, int] | None]) -> dict[str, int]:
    """How often each name occurs in ``e`` written out as a tree, counted up to 2, where
    ``leaf(n)`` gives the names a leaf counts (``None``: ``n`` is no leaf); one walk of the
    shared graph (``memo`` holds every node's counts)."""
    stack = [(e, False)]
    while stack:
        n, ready = stack.pop()
        if n in memo:
            continue
        found = leaf(n)
        if found is not None:
            memo[n] = found
        elif ready:
            out: dict[str, int] = {}
            for c in n.children():
                for name, k in memo[c].items():
                    out[name] = min(2, out.get(name, 0) + k)
            memo[n] = out
        else:
            stack.append((n, True))
            stack.extend((c, False) for c in n.children() if c not in memo)
    return memo[e]


def choose(raw: dict[Var, Expr], gradients: list[Expr], expand: bool = False) -> set[str]:
    """The names of the adjoints to name; ``raw`` holds each in order of derivation (the
    output's first), written with the adjoints before it."""
    if expand:
        return set()
    memo: dict[Expr, dict[str, int]] = {}
    uses = {v.name: _uses(g, memo) for v, g in raw.items()}
    refs = {name: frozenset(used) for name, used in uses.items()}
    count, users = tally(uses, (_uses(g, memo) for g in gradients))
    depth: dict[str, int] = {}
    nesting: dict[str, int] = {}
    size: dict[str, int] = {}
    named: set[str] = set()
    for v, g in raw.items():
        name = v.name
        inner = refs[name]
        depth[name] = 1 + max((depth[u] for u in inner), default=0)
        nesting[name] = 1 + max((nesting[u] for u in inner if u not in named), default=0)
        size[name] = g.size() + sum(size[u] for u in inner if u not in named)
        used = count.get(name, 0)
        if (
            (depth[name] >= 2 and used >= 2 and name in users)  # a chain, shared
            or nesting[name] > MAX_NESTING  # deep
            or (used >= 2 and size[name] > MAX_REPEATED_SIZE)  # large, repeated
        ):
            named.add(name)
            nesting[name] = 0
            size[name] = 1
    spread(named, users, refs, count)
    return named


def tally(uses: dict[str, dict[str, int]], results: Iterable[dict[str, int]]
          ) -> tuple[dict[str, int], dict[str, list[str]]]:
    """How often each name is used (``uses``: by each named value, in order; ``results``: by
    what the result prints), and which named values use it."""
    count: dict[str, int] = {}
    users: dict[str, list[str]] = {}
    for name, used in uses.items():
        for u, k in used.items():
            count[u] = count.get(u, 0) + k
            users.setdefault(u, []).append(name)
    for used in results:
        for u, k in used.items():
            count[u] = count.get(u, 0) + k
    return count, users


def spread(named: set[str], users: dict[str, list[str]], refs: dict, count: dict[str, int]) -> None:
    """Add to ``named`` the rest of their chains: what uses a named one (``users``), and what a
    named one shares with others (``refs`` used twice or more: ``δh₃`` in ``δh₂ = W₃ᵀ(δh₃ ∘ …)``
    and in ``∂f/∂W₃``), until nothing changes (each name added once, each reference followed once)."""
    todo = list(named)
    while todo:
        name = todo.pop()
        more = [u for u in users.get(name, ()) if u not in named]
        more += [u for u in refs[name] if u not in named and count.get(u, 0) >= 2]
        named.update(more)
        todo.extend(more)


class Inliner:
    """Writes out the adjoints that are not named, sharing what it builds."""

    def __init__(self, raw: dict[Var, Expr], named: set[str]) -> None:
        self.mapping: dict[Expr, Expr] = {}
        self.memo: dict = {}
        for v, g in raw.items():  # each refers only to those before it
            if v.name not in named:
                self.mapping[Adjoint(v)] = self(g)

    def __call__(self, e: Expr) -> Expr:
        return b.substitute(e, self.mapping, self.memo) if self.mapping else e

