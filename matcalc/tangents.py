"""Named tangents: which ``dV`` a Jacobian or a Hessian writes once, by name, and the explicit
Jacobian ``∂vec(V)/∂vec(X)ᵀ`` of each.

The forward pass gives each definition a differential in the differentials of the names it
uses (``dh₃ = (1 − h₃.^2) ∘ (W₃ dh₂)``), and a Hessian gives each named adjoint one too
(``dδh₂ = W₃ᵀ(dδh₃ ∘ (1 − h₃.^2) − 2 δh₃ ∘ h₃ ∘ (1 − h₃.^2) ∘ dh₃)``). Written into one
another as a tree, a residual step doubles them (``dh₃ = dh₂ + …(W₃ dh₂)``) and a chain's
Hessian writes each level again in every second-order term. As :mod:`matcalc.adjoints` does
for adjoints, a deep or repeated tangent is *named* here: the maps use ``dh₃``, and the result
says ``where dh₃ = …`` once. Its explicit Jacobian is named the same way
(``∂h₃/∂vec(W₁)ᵀ = Diag(1 − h₃.^2) W₃ ∂h₂/∂vec(W₁)ᵀ``, the chain rule of matrices), so
blocks are products of named Jacobians, linear in the depth. Short models name nothing and
read as before. The generated code and the numerical checks get the same maps and blocks with
every name replaced by its value, one shared graph (:attr:`Tangents.full`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from . import build as b
from .adjoints import MAX_NESTING, MAX_REPEATED_SIZE, count_uses, spread, tally
from .expr import Add, Apply, Call, Diff, EProd, Expr, Frob, MatPow, Mul, PowerSum, Transpose, Var
from .kron import JacobianOf


def _uses(e: Expr, candidates: set[str], memo: dict[Expr, dict[str, int]]) -> dict[str, int]:
    """How often each candidate's differential occurs in ``e`` written out as a tree (up to 2)."""
    return count_uses(e, memo, lambda n: (
        ({n.var.name: 1} if n.var.name in candidates else {}) if isinstance(n, Diff) else None))


def choose(raws: dict[str, Expr], roots: list[Expr]) -> set[str]:
    """The candidates to name; ``raws`` holds each one's differential in order (each written with
    the differentials of those before it), ``roots`` what the result prints (maps, ``dF``)."""
    candidates = set(raws)
    memo: dict[Expr, dict[str, int]] = {}
    uses = {name: _uses(raw, candidates, memo) for name, raw in raws.items()}
    count, users = tally(uses, (_uses(root, candidates, memo) for root in roots))
    nesting: dict[str, int] = {}
    size: dict[str, int] = {}
    named: set[str] = set()
    for name, raw in raws.items():
        inner = [u for u in uses[name] if u not in named]
        nesting[name] = 1 + max((nesting[u] for u in inner), default=0)
        size[name] = raw.size() + sum(size[u] for u in inner)
        if nesting[name] > MAX_NESTING or (count.get(name, 0) >= 2 and size[name] > MAX_REPEATED_SIZE):
            named.add(name)
            nesting[name] = 0
            size[name] = 1
    spread(named, users, uses, count)  # the rest of the chain reads alike, as for adjoints
    return named


@dataclass
class Tangents:
    """The tangents of one derivation: each written with the named ones as leaves ``dV``
    (``leaf``), and with everything substituted as one shared graph (``full``)."""

    #: the variables' names (their differentials stay as they are)
    variables: frozenset[str]
    #: the named tangents in order, each with its differential written with the leaves
    named: list[tuple[Var, Expr]] = field(default_factory=list)
    leaf: dict[Expr, Expr] = field(default_factory=dict)
    full: dict[Expr, Expr] = field(default_factory=dict)
    _leaf_memo: dict = field(default_factory=dict)
    _full_memo: dict = field(default_factory=dict)

    def _mapping(self, raw: Expr, into: dict[Expr, Expr]) -> dict[Expr, Expr]:
        """``into``, with the differential of any name neither a variable nor a tangent as 0."""
        for n in _diffs(raw):
            if n not in into and n.var.name not in self.variables:
                into[n] = b.zero(n.shape)
        return into

    def written(self, raw: Expr) -> Expr:
        """``raw`` with the tangents written in, the named ones as leaves."""
        mapping = self._mapping(raw, self.leaf)
        return b.substitute(raw, mapping, self._leaf_memo) if mapping else raw

    def substituted(self, raw: Expr) -> Expr:
        """``raw`` with every tangent written in (a shared graph, for code and checks)."""
        mapping = self._mapping(raw, self.full)
        return graft(raw, mapping, self._full_memo) if mapping else raw


def graft(e: Expr, mapping: dict[Expr, Expr], memo: dict[Expr, Expr]) -> Expr:
    """``e`` with every sub-tree found in ``mapping`` replaced, the nodes above rebuilt as they
    are (not re-canonicalised: ordering a sum's terms reads each term's whole tree, and the
    graphs grafted here are shared ones whose trees may be exponential)."""
    stack = [(e, False)]
    while stack:
        n, ready = stack.pop()
        if n in memo:
            continue
        if n in mapping:
            memo[n] = mapping[n]
            continue
        kids = () if isinstance(n, Var) else n.children()
        if not kids:
            memo[n] = n
        elif not ready:
            stack.append((n, True))
            stack.extend((c, False) for c in kids if c not in memo)
        else:
            new = tuple(memo[c] for c in kids)
            memo[n] = n if all(a is c for a, c in zip(new, kids)) else _rebuilt(n, new)
    return memo[e]


def _rebuilt(n: Expr, new: tuple[Expr, ...]) -> Expr:
    """``n`` with children ``new``: as it is, or canonically where a child became 0."""
    if any(b.is_zero(c) for c in new):
        return b.rebuild(n, new)
    if isinstance(n, Add):
        return Add(new, n.shape)
    if isinstance(n, Mul):
        k = len(n.scalars)
        return Mul(n.coef, new[:k], new[k:], n.shape)
    if isinstance(n, EProd):
        return EProd(tuple((c, p) for c, (_, p) in zip(new, n.factors)), n.shape)
    if isinstance(n, Apply):
        return Apply(n.fn, new[0], n.order)
    if isinstance(n, Transpose):
        return Transpose(new[0])
    if isinstance(n, Call):
        return Call(n.fn, new, n.shape)
    if isinstance(n, Frob):
        return Frob(new[0], new[1])
    if isinstance(n, MatPow):
        return MatPow(new[0], n.k)
    if isinstance(n, PowerSum):
        return PowerSum(new[0], new[1], new[2], n.k)
    return b.rebuild(n, new)


def _diffs(e: Expr) -> list[Diff]:
    seen: set[Expr] = set()
    out = []
    stack = [e]
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        if isinstance(n, Diff):
            out.append(n)
        else:
            stack.extend(n.children())
    return out


def _reached(raws: dict[str, Expr], roots: list[Expr]) -> dict[str, Expr]:
    """The tangents of ``raws`` that ``roots`` use, directly or through one another, in order
    (the function's own tangent, which nothing printed uses, is no candidate for a name)."""
    used: set[str] = set()
    stack = list(roots)
    while stack:
        for n in _diffs(stack.pop()):
            name = n.var.name
            if name in raws and name not in used:
                used.add(name)
                stack.append(raws[name])
    return {name: raw for name, raw in raws.items() if name in used}


def resolve(
    raws: list[tuple[Var, Expr]],
    roots: list[Expr],
    variables: tuple[Var, ...],
    bounded: Callable[[Expr], Expr] = lambda e: e,
) -> tuple[Tangents, dict[str, Expr]]:
    """The tangents of ``raws`` (in order) named or written in; also each one written with the
    leaves (for the steps). ``bounded`` refuses a written form too large."""
    t = Tangents(frozenset(v.name for v in variables))
    named = choose(_reached({v.name: raw for v, raw in raws}, roots), roots)
    written: dict[str, Expr] = {}
    for v, raw in raws:
        value = bounded(t.written(raw))
        written[v.name] = value
        full = t.substituted(raw)
        t.leaf[Diff(v)] = Diff(v) if v.name in named else value
        t.full[Diff(v)] = full
        t._leaf_memo.clear()  # a memo holds results under the mapping as it was
        if v.name in named:
            t.named.append((v, value))
    return t, written


def reachable(
    roots: list[Expr], tangents: list[tuple[Var, Expr]], jacobians: list[tuple[Expr, Expr]]
) -> tuple[tuple[tuple[Var, Expr], ...], tuple[tuple[Expr, Expr], ...]]:
    """The named tangents and Jacobians that ``roots`` use, directly or through one another."""
    by_leaf: dict[Expr, Expr] = {Diff(v): g for v, g in tangents}
    by_leaf.update(jacobians)
    used: set[Expr] = set()
    seen: set[Expr] = set()
    stack = list(roots)
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        if n in by_leaf and n not in used:
            used.add(n)
            stack.append(by_leaf[n])
        stack.extend(n.children())
    return (
        tuple((v, g) for v, g in tangents if Diff(v) in used),
        tuple((j, m) for j, m in jacobians if j in used),
    )


def jacobian_leaves(t: Tangents, variables: tuple[Var, ...]) -> dict[tuple[str, str], JacobianOf]:
    """A leaf ``∂vec(V)/∂vec(X)ᵀ`` for each named tangent and variable."""
    return {(v.name, x.name): JacobianOf(v, x) for v, _ in t.named for x in variables}


__all__ = ["Tangents", "choose", "graft", "jacobian_leaves", "reachable", "resolve"]
