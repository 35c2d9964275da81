"""Simplification beyond the canonical form kept by the constructors.

A table of named rewrites applied bottom-up to a fixpoint, after the
sub-expressions that equal a definition's right-hand side are replaced by
the definition's name (so results keep the user's intermediates).
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from . import build as b
from .expr import Add, Apply, Call, Diff, EProd, Expr, Eye, Frob, Mul, Num, Ones, Transpose, Var

#: A term being factored: its scalar factors (the coefficient first), its matrix chain,
#: and the bounds ``lo:hi`` of the part of the chain not yet taken out as a common factor.
_Item = tuple[tuple[Expr, ...], tuple[Expr, ...], int, int]


def _item(t: Expr) -> _Item:
    """A term as an :data:`_Item` covering its whole chain."""
    if isinstance(t, Mul):
        return (b.Num(t.coef), *t.scalars), t.chain, 0, len(t.chain)
    if t.is_scalar:
        return (t,), (), 0, 0
    return (), (t,), 0, 1


def _rest(item: _Item) -> Expr:
    scalars, chain, lo, hi = item
    return b.mul(*scalars, *chain[lo:hi])


def _rest_shape(item: _Item) -> tuple:
    _, chain, lo, hi = item
    return (chain[lo].shape[0], chain[hi - 1].shape[1]) if hi > lo else (1, 1)


def _factored_sum(items: list[_Item], side: int) -> tuple[Expr, bool]:
    """The sum of ``items`` with common last (``side=-1``) or first (``side=0``) factors taken
    out, again inside each group; and whether any was. Each term's chain is read once."""
    # terms group by the common factor and by the shape of what is left: only those add up
    groups: dict[tuple[Expr, tuple], list[tuple[int, _Item]]] = {}
    for i, (sc, chain, lo, hi) in enumerate(items):
        if hi > lo:
            if side == -1:
                common, rest = chain[hi - 1], (sc, chain, lo, hi - 1)
            else:
                common, rest = chain[lo], (sc, chain, lo + 1, hi)
            groups.setdefault((common, _rest_shape(rest)), []).append((i, rest))
    merged: list[Expr] = []
    used: set[int] = set()
    for (common, _shape), members in groups.items():
        if len(members) < 2:
            continue
        inner, _ = _factored_sum([rest for _, rest in members], side)
        merged.append(b.mul(inner, common) if side == -1 else b.mul(common, inner))
        used.update(i for i, _ in members)
    others = [_rest(it) for i, it in enumerate(items) if i not in used]
    return b.add(*reversed(merged), *others), bool(merged)


def _common_scalar(e: Expr) -> Expr | None:
    """``αA + αB = α(A + B)``: a scalar factor that every term has is taken out once, and so
    is a fraction that every coefficient is (``½A − ½B = ½(A − B)``)."""
    if not isinstance(e, Add) or not all(isinstance(t, Mul) for t in e.terms):
        return None
    first, *others = e.terms
    k = abs(first.coef)
    if k.denominator == 1 or any(abs(t.coef) != k for t in others):
        k = Fraction(1)
    common = [s for s in first.scalars if all(s in t.scalars for t in others)]
    if not common and k == 1:
        return None
    rests = [b.mul(b.Num(t.coef / k), *(s for s in t.scalars if s not in common), *t.chain)
             for t in e.terms]
    return b.mul(b.Num(k), *common, b.add(*rests))


def _factor(e: Expr, side: int) -> Expr | None:
    """``A X + B X = (A + B) X`` (``side=-1``) or ``X A + X B = X (A + B)`` (``side=0``)."""
    if not isinstance(e, Add):
        return None
    out, changed = _factored_sum([_item(t) for t in e.terms], side)
    return out if changed else None


def _is_difference(e: Expr) -> bool:
    if not isinstance(e, Add) or len(e.terms) != 2:
        return False
    signs = [b.split_coef(t)[0] < 0 for t in e.terms]
    return signs == [False, True]


def _difference_of(f: Expr) -> Add | None:
    """The difference ``a − b`` that the factor ``f`` is, or is the transpose of."""
    inner = f.arg if isinstance(f, Transpose) else f
    return inner if _is_difference(inner) else None


def _flipped(f: Expr) -> Expr:
    """The factor ``f`` (a difference or its transpose) negated: ``a − b`` becomes ``b − a``."""
    if isinstance(f, Transpose):
        return b.transpose(_flipped(f.arg))
    a, c = f.terms
    return b.add(b.neg(c), b.neg(a))


def _flip_difference(e: Expr) -> Expr | None:
    """``−(a − b) = b − a``: a negated difference reads as the difference reversed.

    Only in a product with one difference: in ``−(a − b)(a − b)ᵀ`` the two read alike.
    """
    if not isinstance(e, Mul) or e.coef >= 0:
        return None
    factors = list(e.scalars + e.chain)
    found = [i for i, f in enumerate(factors) if _difference_of(f) is not None]
    if len(found) != 1:
        return None
    factors[found[0]] = _flipped(factors[found[0]])
    return b.mul(b.Num(-e.coef), *factors)


def _align_differences(e: Expr) -> Expr | None:
    """``(b − a) ⋯ (a − b) = −(a − b) ⋯ (a − b)``: a difference and its negation in one
    product read the same way round (as the last of them does), the sign in front."""
    if not isinstance(e, Mul):
        return None
    factors = list(e.scalars + e.chain)
    seen: set[Expr] = set()
    flips = 0
    for i in reversed(range(len(factors))):
        d = _difference_of(factors[i])
        if d is None:
            continue
        if _flipped(d) in seen:
            factors[i] = _flipped(factors[i])
            flips += 1
        else:
            seen.add(d)
    if not flips:
        return None
    return b.mul(b.Num(e.coef * (-1) ** flips), *factors)


def _diag_times_vector(e: Expr) -> Expr | None:
    """``Diag(h) x = h ∘ x``: never build a diagonal matrix to scale a vector."""
    if not isinstance(e, Mul):
        return None
    chain = list(e.chain)
    for i in range(len(chain) - 1):
        d, x = chain[i], chain[i + 1]
        if isinstance(d, Call) and d.fn == "Diag" and x.shape[1] == 1:
            chain[i : i + 2] = [b.eprod(d.args[0], x)]
            return b.mul(b.Num(e.coef), *e.scalars, *chain)
    return None


def _diag_of_outer(e: Expr) -> Expr | None:
    """``diag(a rᵀ) = a ∘ r`` for a column vector ``a`` (``rᵀ`` any row product)."""
    if isinstance(e, Call) and e.fn == "diag":
        m = e.args[0]
        if isinstance(m, Mul) and len(m.chain) >= 2:
            if m.chain[0].shape[1] == 1:
                a, rest = m.chain[0], b.transpose(b.mul(*m.chain[1:]))
            elif m.chain[-1].shape[0] == 1:
                a, rest = b.transpose(m.chain[-1]), b.mul(*m.chain[:-1])
            else:
                return None
            return b.mul(b.Num(m.coef), *m.scalars, b.eprod(a, rest))
    return None


def _inner_cancels(e: Expr) -> Expr | None:
    """``aᵀ(b ∘ c) = sum(a ∘ b ∘ c)`` when the entry-wise product cancels (``aᵀ(b ⊘ a) = 1ᵀb``)."""
    if not isinstance(e, Mul):
        return None
    chain = list(e.chain)
    for i in range(len(chain) - 1):
        row, col = chain[i], chain[i + 1]
        if row.shape[0] == 1 and col.shape[1] == 1 and isinstance(col, EProd):
            merged = b.eprod(b.transpose(row), col)
            if merged.size() < col.size():
                chain[i : i + 2] = [b.call("sum", merged)]
                return b.mul(b.Num(e.coef), *e.scalars, *chain)
    return None


def _distribute(t: Expr) -> Expr:
    """One term with entry-wise products spread over the sums among their factors."""
    coef, rest = b.split_coef(t)
    if isinstance(rest, EProd):
        for i, (f, k) in enumerate(rest.factors):
            if isinstance(f, Add) and k == 1:
                others = rest.factors[:i] + rest.factors[i + 1 :]
                return b.add(*(b.mul(b.Num(coef), _distribute(b.eprod(u, *others))) for u in f.terms))
    return t


def _expand_if_smaller(e: Expr) -> Expr | None:
    """``(a ⊘ q − b) ∘ q = a − b ∘ q``: expand entry-wise products of sums when terms cancel."""
    if not isinstance(e, Add) and not isinstance(e, EProd):
        return None
    terms = e.terms if isinstance(e, Add) else (e,)
    if not any(isinstance(b.split_coef(t)[1], EProd) for t in terms):
        return None
    expanded = b.add(*(_distribute(t) for t in terms))
    smaller = expanded.size() < e.size() and _size_counting_powers(expanded) < _size_counting_powers(e)
    return expanded if smaller and _factor_uses(expanded) <= _factor_uses(e) else None


def _factor_uses(e: Expr) -> int:
    """How many times the sums and entry-wise products on top of ``e`` use a factor, a
    power ``a.^k`` counting ``|k|`` times: expanding ``δ ∘ (1 − h.^2)`` into ``δ − h.^2 ∘ δ``
    writes ``δ`` twice and cancels nothing."""
    uses = 0
    stack = [e]
    while stack:
        n = b.split_coef(stack.pop())[1]
        if isinstance(n, Add):
            stack.extend(n.terms)
        elif isinstance(n, EProd):
            for f, k in n.factors:
                if isinstance(b.split_coef(f)[1], (Add, EProd)):
                    stack.extend([f] * int(max(abs(k), 1)))
                else:
                    uses += int(max(abs(k), 1))
        elif not isinstance(n, (Ones, Num)):
            uses += 1
    return uses


def _size_counting_powers(e: Expr) -> int:
    """The size of ``e`` with ``a.^k`` in its sums and entry-wise products counted as ``a``
    written ``|k|`` times: expanding ``σ ∘ (1 − σ)`` into ``σ − σ.^2`` cancels nothing,
    so it is not smaller. (Only the sums and products on top are looked into.)"""
    extra = 0
    stack = [e]
    while stack:
        n = b.split_coef(stack.pop())[1]
        if isinstance(n, Add):
            stack.extend(n.terms)
        elif isinstance(n, EProd):
            for f, k in n.factors:
                extra += f.size() * (int(abs(k)) - 1) if abs(k) > 1 else 0
                stack.append(f)
    return e.size() + extra


def _distribute_number(e: Expr) -> Expr | None:
    """``½(2A − 2B) = A − B``: a number moves into a sum when that clears a fraction."""
    if isinstance(e, Mul) and e.coef.denominator != 1 and not e.scalars and len(e.chain) == 1:
        inner = e.chain[0]
        if isinstance(inner, Add):
            coefs = [e.coef * b.split_coef(t)[0] for t in inner.terms]
            if all(c.denominator == 1 for c in coefs):
                return b.add(*(b.mul(b.Num(e.coef), t) for t in inner.terms))
    return None


def _frob_identity(e: Expr) -> Expr | None:
    """``G : I = tr(G)`` and ``sum(G ∘ I) = tr(G)``: a Frobenius product with the identity
    is a trace."""
    if isinstance(e, Frob):
        for g, other in ((e.left, e.right), (e.right, e.left)):
            if isinstance(other, Eye):
                return b.call("tr", g)
    if isinstance(e, Call) and e.fn == "sum" and isinstance(e.args[0], EProd):
        factors = e.args[0].factors
        eyes = [i for i, (f, k) in enumerate(factors) if isinstance(f, Eye) and k == 1]
        if eyes and e.args[0].shape[0] == e.args[0].shape[1]:
            i = eyes[0]
            return b.call("tr", b.eprod(*factors[:i], *factors[i + 1 :]))
    return None


def _frob_as_trace(e: Expr) -> Expr | None:
    """``Pᵀ : A = tr(P A)``: a Frobenius product with a transposed call (``inv(K)ᵀ : A``), or
    with a symmetric one (``inv(K) : A`` for a symmetric ``K``), reads as the trace a
    textbook writes (``tr(inv(K) A)``)."""
    if isinstance(e, Frob):
        for t, other in ((e.left, e.right), (e.right, e.left)):
            if t.shape[0] != t.shape[1]:
                continue
            if isinstance(t, Transpose) and isinstance(t.arg, Call):
                return b.call("tr", b.mul(t.arg, other))
            if isinstance(t, Call) and b.is_symmetric(t):
                return b.call("tr", b.mul(t, other))
    return None


def _sigmoid(e: Expr) -> Expr | None:
    """``exp(u) ⊘ (1 + exp(u)) = sigmoid(u)`` (so ``exp(−u) ⊘ (1 + exp(−u)) = sigmoid(−u)``)."""
    if not isinstance(e, EProd):
        return None
    for f, k in e.factors:
        if k == 1 and isinstance(f, Apply) and f.fn == "exp" and f.order == 0:
            den = b.add(b.ones(f.shape), f)
            ks = dict(e.factors)
            if ks.get(den) == -1:
                rest = [(g, j) for g, j in e.factors if g is not f and g != f and g != den]
                return b.eprod(b.apply("sigmoid", f.arg), *rest)
    return None


def _flipped_product(e: Expr) -> Expr | None:
    """A 1×1 matrix product ``a … b`` written the other way, ``bᵀ … aᵀ`` (the same number);
    ``None`` for anything else, or when it reads the same both ways."""
    if not (isinstance(e, Mul) and e.shape == (1, 1) and len(e.chain) > 1):
        return None
    flipped = tuple(b.transpose(f) for f in reversed(e.chain))
    if flipped == e.chain:
        return None
    return b.mul(b.Num(e.coef), *e.scalars, *flipped)


def _either_way(f: Expr) -> object:
    """Equal for a scalar factor and the same product written the other way."""
    flipped = _flipped_product(f)
    return f if flipped is None else frozenset((f, flipped))


def _like_terms_key(rest: Expr) -> object:
    """Equal for terms whose 1×1 products differ only in the way they are written
    (``s (xᵀ A y)`` and ``s (yᵀ Aᵀ x)``)."""
    if not isinstance(rest, Mul):
        return rest
    if not rest.chain:
        scalars = [_either_way(f) for f in rest.scalars]
        return ("scalars", frozenset((k, scalars.count(k)) for k in scalars))
    return ("product", _either_way(b.mul(*rest.chain)), _like_terms_key(b.mul(*rest.scalars)))


def _oriented(f: Expr) -> Expr:
    """A 1×1 product with a differential first (``dxᵀ A x``) written with it last, as a
    textbook writes it (``xᵀ Aᵀ dx``): the same number."""
    flipped = _flipped_product(f)
    if flipped is None or isinstance(f.chain[-1], Diff):
        return f
    return flipped if isinstance(flipped, Mul) and isinstance(flipped.chain[-1], Diff) else f


def _oriented_term(rest: Expr) -> Expr:
    """The term ``rest`` with each of its 1×1 products :func:`_oriented`."""
    if not isinstance(rest, Mul):
        return rest
    if rest.shape == (1, 1) and rest.chain:
        product = b.mul(*rest.chain)
        chain = _oriented(product)
        scalars = [_oriented(f) for f in rest.scalars]
        if chain is product and all(a is c for a, c in zip(scalars, rest.scalars)):
            return rest
        return b.mul(b.Num(rest.coef), *scalars, chain)
    scalars = [_oriented(f) for f in rest.scalars]
    if all(a is c for a, c in zip(scalars, rest.scalars)):
        return rest
    return b.mul(b.Num(rest.coef), *scalars, *rest.chain)


def _scalar_products_alike(e: Expr) -> Expr | None:
    """``aᵀb + bᵀa = 2 aᵀb``: a 1×1 product equals its transpose, so terms that differ only in
    the way their 1×1 products are written (``dxᵀ x`` and ``xᵀ dx``) are like terms. Each is
    written the way a textbook writes it: the differential last (``xᵀ Aᵀ dx``, so that
    ``dxᵀ A x + xᵀ A dx`` reads ``xᵀ(Aᵀ + A) dx``), else as first met."""
    if isinstance(e, Mul):
        out = _oriented_term(e)
        return None if out is e else out
    if not (isinstance(e, Add) and e.shape == (1, 1)):
        return None
    rests = [(c, rest, _oriented_term(rest)) for c, rest in map(b.split_coef, e.terms)]
    groups: dict[object, Expr] = {}
    for _, _, oriented in rests:
        groups.setdefault(_like_terms_key(oriented), oriented)
    chosen = [groups[_like_terms_key(oriented)] for _, _, oriented in rests]
    if all(c is rest for (_, rest, _), c in zip(rests, chosen)):
        return None
    return b.add(*(b.mul(b.Num(c), rest) for (c, _, _), rest in zip(rests, chosen)))


def _inverse_of_inverse(e: Expr) -> Expr | None:
    """``inv(inv(A)) = A``."""
    if isinstance(e, Call) and e.fn == "inv" and isinstance(e.args[0], Call) and e.args[0].fn == "inv":
        return e.args[0].args[0]
    return None


def _inverse_parts(f: Expr) -> tuple[Expr, bool, bool]:
    """A chain factor as (the matrix it is made of, transposed?, inverted?)."""
    transposed = isinstance(f, Transpose)
    core = f.arg if transposed else f
    inverted = isinstance(core, Call) and core.fn == "inv"
    return (core.args[0] if inverted else core), transposed, inverted


def _is_inverse(e: Expr) -> bool:
    return isinstance(e, Call) and e.fn == "inv"


def _inverse_cancels(e: Expr) -> Expr | None:
    """``A⁻¹A = AA⁻¹ = I`` (and the transposed ``A⁻ᵀAᵀ``) between neighbours of a product."""
    if not isinstance(e, Mul):
        return None
    chain = e.chain
    for i in range(len(chain) - 1):
        (p, pt, pi), (q, qt, qi) = _inverse_parts(chain[i]), _inverse_parts(chain[i + 1])
        if pi != qi and pt == qt and p == q:
            rest = chain[:i] + chain[i + 2 :] or (b.eye(chain[i].shape[0]),)
            return b.mul(b.Num(e.coef), *e.scalars, *rest)
    return None


#: Named rewrites, tried in order at every node until none applies.
RULES: tuple[tuple[str, Callable[[Expr], Expr | None]], ...] = (
    ("aᵀb + bᵀa = 2 aᵀb", _scalar_products_alike),
    ("AX + BX = (A + B)X", lambda e: _factor(e, -1)),
    ("XA + XB = X(A + B)", lambda e: _factor(e, 0)),
    ("αA + αB = α(A + B)", _common_scalar),
    ("−(a − b) = b − a", _flip_difference),
    ("(b − a)(a − b) = −(a − b)(a − b)", _align_differences),
    ("Diag(h)x = h∘x", _diag_times_vector),
    ("diag(abᵀ) = a∘b", _diag_of_outer),
    ("aᵀ(b ⊘ a) = sum(b)", _inner_cancels),
    ("(a ⊘ q − b) ∘ q = a − b ∘ q", _expand_if_smaller),
    ("c(cA − cB) = A − B", _distribute_number),
    ("G : I = tr(G)", _frob_identity),
    ("Pᵀ : A = tr(P A)", _frob_as_trace),
    ("exp(u) ⊘ (1 + exp(u)) = sigmoid(u)", _sigmoid),
    ("inv(inv(A)) = A", _inverse_of_inverse),
    ("A⁻¹A = I", _inverse_cancels),
)


def rewrite(e: Expr, memo: dict[Expr, Expr] | None = None) -> Expr:
    """``e`` with every rule of :data:`RULES` applied bottom-up to a fixpoint."""
    if memo is None:
        memo = {}
    hit = memo.get(e)
    if hit is not None:
        return hit
    out = e
    kids = e.children()
    if kids and not isinstance(e, (Var, Diff)):
        new = tuple(rewrite(k, memo) for k in kids)
        if any(a is not c for a, c in zip(new, kids)):
            out = b.rebuild(e, new)
    for _ in range(100):
        for _, rule in RULES:
            res = rule(out)
            if res is not None and res != out:
                out = rewrite(res, memo)
                break
        else:
            break
    memo[e] = out
    return out


def simplify(e: Expr, names: dict[Expr, Var] | None = None) -> Expr:
    """``e`` simplified, with sub-expressions equal to a definition replaced by its name."""
    return simplify_all([e], names)[0]


def _constant(e: Expr) -> bool:
    """No variable in ``e`` (a number, zeros, ones, the identity, or made of them)."""
    return not any(isinstance(n, (Var, Diff)) for n in e.walk())


#: A definition's matrix chain, by its first factor: the chain and what replaces it.
Chains = dict[Expr, list[tuple[tuple[Expr, ...], Expr]]]


def _chains(names: dict[Expr, Expr]) -> Chains:
    """The definitions whose value is a product of matrices (``w = inv(K) Xᵀ y``)."""
    out: Chains = {}
    for rhs, v in names.items():
        if isinstance(rhs, Mul) and rhs.coef == 1 and not rhs.scalars and len(rhs.chain) >= 2:
            out.setdefault(rhs.chain[0], []).append((rhs.chain, v))
    return out


def _name_chains(e: Expr, chains: Chains, memo: dict[Expr, Expr]) -> Expr:
    """``e`` with every run of factors that is a definition's product written by its name
    (``X inv(K) Xᵀ y = X w``; with the transposed definitions, ``yᵀ X inv(K) = wᵀ``)."""
    hit = memo.get(e)
    if hit is not None:
        return hit
    out = e
    kids = e.children()
    if kids and not isinstance(e, (Var, Diff)):
        new = tuple(_name_chains(k, chains, memo) for k in kids)
        if any(a is not c for a, c in zip(new, kids)):
            out = b.rebuild(e, new)
    if isinstance(out, Mul) and len(out.chain) >= 2:
        chain = list(out.chain)
        i, changed = 0, False
        while i < len(chain):
            for run, v in chains.get(chain[i], ()):
                if tuple(chain[i : i + len(run)]) == run and len(run) < len(chain) + len(out.scalars):
                    chain[i : i + len(run)] = [v]
                    changed = True
                    break
            i += 1
        if changed:
            out = b.mul(b.Num(out.coef), *out.scalars, *chain)
    memo[e] = out
    return out


def simplify_all(exprs: list[Expr], names: dict[Expr, Var] | None = None) -> list[Expr]:
    """Several expressions simplified together (shared sub-trees are worked on once)."""
    before: dict = {}
    after: dict = {}
    rewritten: dict = {}
    chained: dict = {}
    chained_before: dict = {}
    mapping: dict[Expr, Expr] = {}
    if names:
        # a definition whose value is a constant (``z = x - x``) names no sub-expression:
        # otherwise every zero gradient would print as ``z``
        mapping = {rhs: v for rhs, v in names.items() if not _constant(rhs)}
        # a definition's value transposed is its name transposed (``yᵀ X inv(K) = wᵀ``)
        for rhs, v in list(mapping.items()):
            t = b.transpose(rhs)
            if t not in mapping and not v.is_scalar:
                mapping[t] = b.transpose(v)
    chains = _chains(mapping)
    # an inverse's name is read as the inverse while the rules run (``inv(Y) = X`` and
    # ``Yᵀ Xᵀ = I`` for ``Y = inv(X)``); the substitution after them names it again
    inverses = {v: rhs for rhs, v in mapping.items() if isinstance(v, Var) and _is_inverse(rhs)}
    for v in inverses:  # definitions in order: an inverse of an inverse reads as both
        inverses[v] = b.substitute(inverses[v], inverses, {})
    opened: dict = {}
    out = []
    for e in exprs:
        if mapping:
            e = b.substitute(e, mapping, before)
            if chains:
                e = _name_chains(e, chains, chained_before)
        if inverses:
            e = b.substitute(e, inverses, opened)
        e = rewrite(e, rewritten)
        if mapping:
            e = b.substitute(e, mapping, after)
            if chains:
                e = _name_chains(e, chains, chained)
        out.append(e)
    return out
