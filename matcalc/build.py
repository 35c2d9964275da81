"""Smart constructors: the only way nodes are made.

They keep every tree in a canonical form: sums and products flattened,
numbers folded into one coefficient, zeros and identities dropped, like
terms merged, transposes pushed to the leaves. Callers pass operands whose
shapes already agree (the type checker guarantees it for user input); a
mismatch here is a bug and raises ``ValueError``.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

from . import dims, numbers
from .expr import (
    SCALAR,
    Add,
    Apply,
    Call,
    Dim,
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
)
from .ops.registry import OPS

ONE = Num(Fraction(1))
ZERO = Num(Fraction(0))


def num(value: int | Fraction) -> Num:
    """A scalar constant (raises :class:`~matcalc.numbers.NumberRangeError` beyond a float's range)."""
    return Num(numbers.checked(Fraction(value)))


def zero(shape: Shape) -> Expr:
    """The zero of a shape (``0`` for scalars)."""
    return ZERO if shape == SCALAR else Zero(shape)


def ones(shape: Shape) -> Expr:
    """The all-ones matrix of a shape (``1`` for scalars)."""
    return ONE if shape == SCALAR else Ones(shape)


def eye(n: Dim) -> Expr:
    """The identity of size ``n``."""
    return ONE if n == 1 else Eye((n, n))


def is_zero(e: Expr) -> bool:
    return isinstance(e, Zero) or (isinstance(e, Num) and e.value == 0)


def dim_mul(a: Dim, b: Dim) -> Dim:
    """The product of two dimensions (``m*n`` when symbolic); see :mod:`matcalc.dims`."""
    return dims.mul(a, b)


# ---------------------------------------------------------------- products


def split_coef(e: Expr) -> tuple[Fraction, Expr]:
    """``e == coef * rest`` with the numeric coefficient taken out."""
    if isinstance(e, Num):
        return e.value, ONE
    if isinstance(e, Mul):
        return e.coef, _mul_raw(_UNIT, e.scalars, e.chain, e.shape)
    return _UNIT, e


_UNIT = Fraction(1)
_NONE = Fraction(0)


def split_scalars(e: Expr) -> tuple[list[Expr], Expr]:
    """``e == prod(scalars) * rest`` with the scalar factors of a product taken out."""
    if isinstance(e, Mul) and e.chain and (e.coef != 1 or e.scalars):
        return [Num(e.coef), *e.scalars], _mul_raw(Fraction(1), (), e.chain, e.shape)
    return [], e


def _chain_shape(chain: tuple[Expr, ...]) -> Shape:
    for a, b in zip(chain, chain[1:]):
        if a.shape[1] != b.shape[0]:
            raise ValueError(f"matrix product of {a.shape} and {b.shape}")
    return (chain[0].shape[0], chain[-1].shape[1])


def _mul_raw(
    coef: Fraction, scalars: tuple[Expr, ...], chain: tuple[Expr, ...], shape: Shape | None = None
) -> Expr:
    """A product from parts already in canonical form (``shape``: the chain's, when known)."""
    if shape is None:
        shape = _chain_shape(chain) if chain else SCALAR
    if coef == 0:
        return zero(shape)
    items = len(scalars) + len(chain)
    if items == 0:
        return Num(coef)
    if coef == 1 and items == 1:
        return (scalars + chain)[0]
    return Mul(coef, scalars, chain, shape)


class _Chain:
    """A matrix chain being assembled: whole chains of products are appended at once, and
    only the joins between the pieces are checked (each piece is already valid), and
    merged where one matrix meets itself (``A A² = A³``)."""

    __slots__ = ("factors", "has_eye", "has_zero")

    def __init__(self) -> None:
        self.factors: list[Expr] = []
        self.has_eye = False
        self.has_zero = False

    def append(self, pieces: tuple[Expr, ...] | list[Expr]) -> None:
        if self.factors and self.factors[-1].shape[1] != pieces[0].shape[0]:
            raise ValueError(f"matrix product of {self.factors[-1].shape} and {pieces[0].shape}")
        if len(pieces) == 1:
            f = pieces[0]
            self.has_eye = self.has_eye or isinstance(f, Eye)
            self.has_zero = self.has_zero or isinstance(f, Zero)
        if self.factors and not isinstance(pieces[0], Eye):
            joined = _joined(self.factors[-1], pieces[0])
            if joined is not None:
                self.factors[-1] = joined
                pieces = pieces[1:]
        self.factors.extend(pieces)

    def shape(self) -> Shape:
        return (self.factors[0].shape[0], self.factors[-1].shape[1]) if self.factors else SCALAR

    def done(self) -> tuple[Expr, ...]:
        """The factors, identities dropped (a lone identity stays)."""
        chain = self.factors
        if self.has_eye and len(chain) > 1:
            chain = [f for f in chain if not isinstance(f, Eye)] or [chain[0]]
            if len(chain) > 1:
                chain = _merge_powers(chain)
        return tuple(chain)


def _base_power(f: Expr) -> tuple[Expr, int]:
    return (f.base, f.k) if isinstance(f, MatPow) else (f, 1)


def _joined(a: Expr, c: Expr) -> Expr | None:
    """``a c`` as one power when both are powers of one square matrix (``A A² = A³``)."""
    if a.shape[0] != a.shape[1] or c.shape != a.shape or isinstance(a, Eye):
        return None
    base, k = _base_power(a)
    other, j = _base_power(c)
    return matpow(base, k + j) if base == other else None


def _merge_powers(chain: list[Expr]) -> list[Expr]:
    """Adjacent factors with one base as one power (after identities between them went)."""
    out: list[Expr] = [chain[0]]
    for f in chain[1:]:
        joined = _joined(out[-1], f)
        if joined is None:
            out.append(f)
        else:
            out[-1] = joined
    return out


def mul(*factors: Expr) -> Expr:
    """The product of factors: 1x1 factors scale, the others form a matrix chain."""
    if len(factors) == 2:  # the commonest product, W x, at once: two different variables
        a, c = factors
        if type(a) is Var and type(c) is Var and a.shape != SCALAR and c.shape != SCALAR and (
            a.shape[1] == c.shape[0] and a.name != c.name  # (variables of one name are alike)
        ):
            return Mul(_UNIT, (), factors, (a.shape[0], c.shape[1]))
    coef = _UNIT
    scalars: list[Expr] = []
    chain = _Chain()
    repeated: Expr | None = None  # a square matrix met several times in a row …
    times = 0  # … and how many times: appended at once, as one power (A A A = A³)
    for f in factors:
        if f is repeated:
            times += 1
            continue
        if times:
            chain.append((repeated,) if times == 1 else (matpow(repeated, times),))
            repeated, times = None, 0
        if isinstance(f, Num):
            coef = f.value if coef is _UNIT else coef * f.value
        elif isinstance(f, Mul):
            if f.coef is not _UNIT:
                coef = f.coef if coef is _UNIT else coef * f.coef
            scalars.extend(f.scalars)
            if f.chain:
                if f.shape == SCALAR:
                    scalars.append(_mul_raw(Fraction(1), (), f.chain, SCALAR))
                else:
                    chain.append(f.chain)
        elif f.shape == SCALAR:
            scalars.append(f)
        elif f.shape[0] == f.shape[1] and not isinstance(f, (Eye, Zero)):
            repeated, times = f, 1
        else:
            chain.append((f,))
    if times:
        chain.append((repeated,) if times == 1 else (matpow(repeated, times),))
    shape = chain.shape()
    if chain.has_zero or coef == 0:
        return zero(shape)
    if len(scalars) > 1:
        scalars.sort(key=_scalar_order)
        scalars = _merge_scalar_powers(scalars)
    if any(is_zero(s) for s in scalars):
        return zero(shape)
    coef2, scalars = _fold_numbers(scalars)
    if coef2 is not _UNIT:
        coef *= coef2
    if coef is not _UNIT:
        coef = numbers.checked(coef)
    return _mul_raw(coef, tuple(scalars), chain.done(), shape)


def _scalar_order(s: Expr) -> tuple[int, str]:
    """Scalar factors print names first, then powers, then everything else."""
    base = s.factors[0][0] if isinstance(s, EProd) and len(s.factors) == 1 else s
    rank = 0 if isinstance(base, Var) else 1 if isinstance(base, Add) else 2
    return rank, s.key


def _merge_scalar_powers(scalars: list[Expr]) -> list[Expr]:
    """``a * a^-1 = 1``, ``a * a = a^2`` among scalar factors."""
    if len(scalars) < 2:
        return scalars
    merged: dict[Expr, Fraction] = {}
    for s in scalars:
        base, k = s.factors[0] if isinstance(s, EProd) and len(s.factors) == 1 else (s, Fraction(1))
        merged[base] = merged.get(base, Fraction(0)) + k
    out = []
    for base, k in merged.items():
        if k == 0:
            continue
        out.append(base if k == 1 else EProd(((base, numbers.checked(k)),), SCALAR))
    out.sort(key=_scalar_order)
    return out


def _fold_numbers(scalars: list[Expr]) -> tuple[Fraction, list[Expr]]:
    coef = _UNIT
    rest = []
    for s in scalars:
        if isinstance(s, Num):
            coef = coef * s.value
        else:
            rest.append(s)
    return coef, rest


def neg(e: Expr) -> Expr:
    """``-e``."""
    return mul(num(-1), e)


def scale(c: int | Fraction, e: Expr) -> Expr:
    """``c * e`` for a number ``c``."""
    return mul(num(c), e)


# ---------------------------------------------------------------- sums


def _like_key(e: Expr) -> object:
    """Equal for terms that differ only in the order of commuting entry-wise factors."""
    if isinstance(e, EProd):
        return ("eprod", tuple(sorted(((f.key, k) for f, k in e.factors))))
    return e


#: Terms that are their own like-key with coefficient 1 (not sums, products, numbers,
#: zeros or entry-wise products): two different ones add up to themselves.
_PLAIN_TERMS = frozenset((Var, Ones, Eye, Apply, Transpose, Call, Frob, MatPow, PowerSum))


def add(*terms: Expr) -> Expr:
    """The sum of terms of one shape; like terms (equal up to a number) merge."""
    if len(terms) == 2:  # the commonest sum, a + b, at once
        a, c = terms
        if type(a) in _PLAIN_TERMS and type(c) in _PLAIN_TERMS and a.shape == c.shape and (
            a.name != c.name if type(a) is Var and type(c) is Var else a != c  # (names: no hashing)
        ):
            return Add(terms, a.shape)
    flat: list[Expr] = []
    for t in terms:
        if isinstance(t, Add):
            flat.extend(t.terms)
        else:
            flat.append(t)
    shape = None
    groups: dict[object, Fraction] = {}
    first: dict[object, Expr] = {}
    units: dict[object, int] = {}  # how many times a term came with coefficient 1
    plain = _PLAIN_TERMS
    for t in flat:
        if shape is None:
            shape = t.shape
        elif t.shape != shape:
            raise ValueError(f"sum of {shape} and {t.shape}")
        if type(t) in plain:  # its own like-key, with coefficient 1 (most terms)
            if t not in first:
                first[t] = t
            units[t] = units.get(t, 0) + 1
            continue
        if is_zero(t):
            continue
        c, rest = split_coef(t)
        k = _like_key(rest)
        if k not in first:
            first[k] = rest
        if c is _UNIT:
            units[k] = units.get(k, 0) + 1
        else:
            groups[k] = groups.get(k, _NONE) + c
    if shape is None:
        raise ValueError("empty sum")
    coefs: dict[object, Fraction] = {}  # in the order the terms came
    for k in first:
        count = units.get(k, 0)
        other = groups.get(k)
        if other is None:
            coefs[k] = _UNIT if count == 1 else Fraction(count)
        else:
            coefs[k] = other + count if count else other
    groups = coefs
    # (a term once, not a product or a number: 1 * term is the term itself)
    out = [first[k] if c is _UNIT and not isinstance(first[k], (Mul, Num, Zero)) else mul(Num(c), first[k])
           for k, c in groups.items() if c != 0]
    nums = [t for t in out if isinstance(t, Num)]
    if len(nums) > 1:
        total = numbers.checked(sum(n.value for n in nums))
        out = [t for t in out if not isinstance(t, Num)] + [Num(total)]
    if not out:
        return zero(shape)
    if len(out) == 1:
        return out[0]
    return Add(tuple(out), shape)


def sub(a: Expr, b: Expr) -> Expr:
    """``a - b``."""
    return add(a, neg(b))


# ---------------------------------------------------------------- entry-wise


def eprod(*factors: Expr | tuple[Expr, Fraction | int]) -> Expr:
    """Entry-wise product of factors, each ``expr`` or ``(expr, exponent)``.

    Scalar factors and numeric coefficients move out into a :class:`Mul`.
    """
    pairs: list[tuple[Expr, Fraction]] = []
    for f in factors:
        e, k = f if isinstance(f, tuple) else (f, 1)
        pairs.append((e, Fraction(k)))
    outer: list[Expr] = []
    powers: dict[Expr, Fraction] = {}
    shape: Shape | None = None

    def put(e: Expr, k: Fraction) -> None:
        nonlocal shape
        if k == 0:
            return
        if isinstance(e, EProd):
            if k == 1 and e.shape != SCALAR and (shape is None or shape == e.shape):
                merge_canonical(e)
                return
            for b, j in e.factors:
                put(b, numbers.checked(j * k))
            return
        if isinstance(e, Mul) and (e.coef != 1 or e.scalars) and (k.denominator == 1 or e.coef > 0):
            c = numbers.power(e.coef, k)
            assert c is not None  # an integer power, or a power of a positive number
            outer.append(Num(c))
            for s in e.scalars:
                outer.append(power(s, k))
            if e.chain:
                put(_mul_raw(Fraction(1), (), e.chain, e.shape), k)
            return
        if e.shape == SCALAR:
            outer.append(power(e, k))
            return
        if shape is None:
            shape = e.shape
        elif e.shape != shape:
            raise ValueError(f"entry-wise product of {shape} and {e.shape}")
        powers[e] = numbers.checked(powers.get(e, Fraction(0)) + k)

    def merge_canonical(e: EProd) -> None:
        """An entry-wise product already in canonical form: its bases need no more work."""
        nonlocal shape
        shape = e.shape
        for b, j in e.factors:
            if b in powers:
                powers[b] = numbers.checked(powers[b] + j)
            else:
                powers[b] = j

    for e, k in pairs:
        put(e, k)
    if shape is None:
        return mul(*outer) if outer else ONE
    if any(isinstance(b, Zero) and k > 0 for b, k in powers.items()):
        return zero(shape)
    kept = tuple((b, k) for b, k in powers.items() if k != 0 and not isinstance(b, Ones))
    if not kept:
        body: Expr = Ones(shape)
    elif len(kept) == 1 and kept[0][1] == 1:
        body = kept[0][0]
    else:
        body = EProd(kept, shape)
    return mul(*outer, body) if outer else body


def power(e: Expr, k: int | Fraction) -> Expr:
    """Entry-wise power ``e.^k`` (for a scalar, its ordinary power)."""
    k = Fraction(k)
    if k == 1:
        return e
    if k == 0:
        return ones(e.shape)
    if isinstance(e, Num):
        if e.value == 0 and k < 0:
            raise ZeroDivisionError("0 to a negative power")
        if k.denominator == 1:
            return Num(numbers.power(e.value, k))
    if e.shape == SCALAR and isinstance(e, EProd):
        return eprod(*((b, numbers.checked(j * k)) for b, j in e.factors))
    if e.shape == SCALAR and isinstance(e, Mul) and (e.coef != 1 or e.scalars):
        return eprod((e, k))
    if e.shape == SCALAR:
        return EProd(((e, numbers.checked(k)),), SCALAR)
    return eprod((e, k))


def div(a: Expr, b: Expr) -> Expr:
    """Entry-wise ``a ./ b`` (ordinary division when ``b`` is a scalar)."""
    return eprod(a, (b, -1))


# ---------------------------------------------------------------- matrix powers

#: A differential of a power up to this exponent is written as its terms
#: (``d(X³) = dX X² + X dX X + X² dX``); a higher one as a sum over ``i`` (:class:`PowerSum`).
POWER_TERMS_UP_TO = 3


def matpow(x: Expr, k: int) -> Expr:
    """The matrix power ``x^k`` for an integer ``k ≥ 0`` (a negative power is of ``inv(x)``)."""
    if k == 0:
        return eye(x.shape[0])
    if k == 1 or isinstance(x, (Eye, Zero)) or x.shape == SCALAR:
        return x if x.shape != SCALAR else power(x, k)
    if isinstance(x, MatPow):
        return MatPow(x.base, x.k * k)
    return MatPow(x, k)


def power_sum(left: Expr, mid: Expr, right: Expr, k: int) -> Expr:
    """``Σ_{i=0}^{k−1} leftⁱ mid right^{k−1−i}``: written as its terms for small ``k``."""
    if is_zero(mid):
        return zero(mid.shape)
    if k <= POWER_TERMS_UP_TO:
        return add(*(mul(matpow(left, i), mid, matpow(right, k - 1 - i)) for i in range(k)))
    return PowerSum(left, mid, right, k)


# ---------------------------------------------------------------- transpose


@lru_cache(maxsize=1 << 16)
def is_symmetric(e: Expr) -> bool:
    """Whether ``e`` is symmetric by construction (so ``eᵀ = e``)."""
    if isinstance(e, Var):
        return e.symmetric
    if isinstance(e, Eye):
        return True
    if isinstance(e, Call):
        rule = OPS[e.fn].symmetric
        return rule is not None and rule(e.args)
    if isinstance(e, Add):
        if all(is_symmetric(t) for t in e.terms):
            return True
        return e.shape[0] == e.shape[1] and set(e.terms) == {transpose(t) for t in e.terms}  # A + Aᵀ
    if isinstance(e, Mul):
        if len(e.chain) == 1:
            return is_symmetric(e.chain[0])
        return list(e.chain) == [transpose(f) for f in reversed(e.chain)]
    if isinstance(e, EProd):
        return all(is_symmetric(f) for f, _ in e.factors)
    if isinstance(e, Apply):
        return is_symmetric(e.arg)
    if isinstance(e, MatPow):
        return is_symmetric(e.base)
    return False


def transpose(e: Expr) -> Expr:
    """``eᵀ``, pushed through sums, products and entry-wise operations."""
    if e.shape == SCALAR or is_symmetric(e):
        return e
    if isinstance(e, Transpose):
        return e.arg
    if isinstance(e, (Zero, Ones)):
        return type(e)((e.shape[1], e.shape[0]))
    if isinstance(e, Mul):
        return mul(Num(e.coef), *e.scalars, *(transpose(f) for f in reversed(e.chain)))
    if isinstance(e, EProd):
        return eprod(*((transpose(b), k) for b, k in e.factors))
    if isinstance(e, Apply) and isinstance(e.arg, (Var, Transpose)):
        return Apply(e.fn, transpose(e.arg), e.order)
    if isinstance(e, MatPow):
        return matpow(transpose(e.base), e.k)
    if isinstance(e, PowerSum):
        return power_sum(transpose(e.right), transpose(e.mid), transpose(e.left), e.k)
    return Transpose(e)


# ---------------------------------------------------------------- others


def frob(a: Expr, b: Expr) -> Expr:
    """The Frobenius product ``a : b``."""
    if a.shape != b.shape:
        raise ValueError(f"Frobenius product of {a.shape} and {b.shape}")
    if is_zero(a) or is_zero(b):
        return ZERO
    if a.shape == SCALAR:
        return mul(a, b)
    sa, ra = split_scalars(a)
    sb, rb = split_scalars(b)
    if sa or sb:
        return mul(*sa, *sb, frob(ra, rb))
    if isinstance(ra, Ones):
        return call("sum", rb)
    if isinstance(rb, Ones):
        return call("sum", ra)
    return Frob(ra, rb)


def apply(fn: str, arg: Expr, order: int = 0) -> Expr:
    """An entry-wise function applied to ``arg``."""
    e = Apply(fn, arg, order)
    object.__setattr__(e, "_shape", arg.shape)  # (known now: not worked out on first use)
    return e


def call(fn: str, *args: Expr, shape: Shape | None = None) -> Expr:
    """A structural function call; its shape from the operation's rule (``shape`` for the
    operations whose result's shape is not a function of the arguments', as ``unvec``)."""
    op = OPS[fn]
    if op.result is not None:
        shape = op.result(*(a.shape for a in args))
    elif shape is None:
        raise ValueError(f"{fn} needs the shape of its result")
    x = args[0]
    if op.pull and (is_zero(x) or (len(args) > 1 and any(is_zero(a) for a in args[1:]))):
        if any(p is not None and is_zero(a) for p, a in zip(op.pull, args)):
            return zero(shape)  # d tr(step(X)) = tr(0 ∘ dX) = 0: a function linear in a zero is zero
    if op.factors_out and isinstance(x, Mul) and (x.coef != 1 or x.scalars) and x.chain:
        body = _mul_raw(Fraction(1), (), x.chain, x.shape)
        return mul(Num(x.coef), *x.scalars, call(fn, body))
    if op.simplify is not None:
        quick = op.simplify(*args)
        if quick is not None:
            return quick
    return Call(fn, tuple(args), shape)


def rebuild(e: Expr, kids: tuple[Expr, ...]) -> Expr:
    """``e`` with its children replaced, re-canonicalised by the constructors."""
    if isinstance(e, Add):
        return add(*kids)
    if isinstance(e, Mul):
        return mul(Num(e.coef), *kids)
    if isinstance(e, EProd):
        return eprod(*zip(kids, (k for _, k in e.factors)))
    if isinstance(e, Apply):
        return apply(e.fn, kids[0], e.order)
    if isinstance(e, Transpose):
        return transpose(kids[0])
    if isinstance(e, Call):
        return call(e.fn, *kids, shape=e.shape)
    if isinstance(e, Frob):
        return frob(*kids)
    if isinstance(e, MatPow):
        return matpow(kids[0], e.k)
    if isinstance(e, PowerSum):
        return power_sum(*kids, e.k)
    return e


def substitute(e: Expr, mapping: dict[Expr, Expr], memo: dict | None = None) -> Expr:
    """Replace every sub-tree found in ``mapping`` (outermost first)."""
    if memo is None:
        memo = {}
    if e in mapping:
        return mapping[e]
    hit = memo.get(e)
    if hit is not None:
        return hit
    kids = e.children()
    if not kids or isinstance(e, Var):
        out = e
    else:
        new = tuple(substitute(k, mapping, memo) for k in kids)
        out = e if all(a is b for a, b in zip(new, kids)) else rebuild(e, new)
    memo[e] = out
    return out


__all__ = [
    "ONE",
    "ZERO",
    "add",
    "apply",
    "call",
    "div",
    "dim_mul",
    "eprod",
    "eye",
    "frob",
    "is_zero",
    "matpow",
    "mul",
    "neg",
    "num",
    "ones",
    "power",
    "power_sum",
    "rebuild",
    "scale",
    "split_coef",
    "split_scalars",
    "sub",
    "substitute",
    "transpose",
    "zero",
]
