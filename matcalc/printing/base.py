"""What every printer shares: one method per node type and minimal parentheses.

A printer returns ``(text, kind)`` for each node; ``kind`` says how the text
binds (``frob`` loosest, then ``add``, ``neg``, ``mul``/``had``, ``atom``), so
a parent adds parentheses only where they are needed. ``mul`` and ``had``
are deliberately incomparable: a Hadamard product inside a matrix product
(and the converse) is always parenthesised, as in the seed answers.
"""

from __future__ import annotations

from fractions import Fraction

from ..expr import (
    Add,
    Adjoint,
    Apply,
    Call,
    Diff,
    EProd,
    Expr,
    Eye,
    Frob,
    MatPow,
    Mul,
    Num,
    Ones,
    PowerSum,
    Transpose,
    Var,
    Zero,
)
from .indexed import MIN_RUN, Run, Spelling, fold

Printed = tuple[str, str]

GREEK = (
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi "
    "rho sigma tau upsilon phi chi psi omega"
).split()


def number_text(v: Fraction) -> str:
    """A number as a user writes it: ``2``, ``1/2``, ``0.001``."""
    if v.denominator == 1:
        return str(v.numerator)
    d = v.denominator
    while d % 10 == 0:
        d //= 10
    if d == 1:
        return repr(float(v)) if abs(v) >= Fraction(1, 10**4) else f"{float(v):g}"
    return f"{v.numerator}/{v.denominator}"


def _numeric(text: str) -> bool:
    return text.replace("/", "").replace(".", "").isdigit()


class Printer:
    """Base printer; subclasses supply the spellings."""

    minus = "-"
    hadamard = " ∘ "
    divide_entries = " ⊘ "
    divide = " / "
    frob_sep = " : "
    open_paren = "("
    dot = "·"

    def __init__(self, avoid: frozenset[str] = frozenset()) -> None:
        self._memo: dict[Expr, Printed] = {}
        #: names an index of a sum may not take (the model's)
        self.avoid = avoid

    def __call__(self, e: Expr) -> str:
        return self.print(e)[0]

    def print(self, e: Expr) -> Printed:
        hit = self._memo.get(e)
        if hit is None:
            method = getattr(self, "_print_" + type(e).__name__)
            hit = method(e)
            self._memo[e] = hit
        return hit

    # ------------------------------------------------------------ spellings
    def name(self, name: str) -> str:
        return name

    def paren(self, text: str) -> str:
        return f"({text})"

    def transpose_of(self, text: str) -> str:
        raise NotImplementedError

    def power_of(self, text: str, k: Fraction, scalar: bool) -> str:
        raise NotImplementedError

    def function(self, fn: str, order: int, args: list[str]) -> str:
        raise NotImplementedError

    def ones(self, shape) -> Printed:
        raise NotImplementedError

    def identity(self) -> str:
        return "I"

    def differential(self, text: str) -> str:
        return "d" + text

    def adjoint(self, text: str) -> str:
        """The adjoint ``δV`` of the value named ``text``."""
        return "δ" + text

    def number(self, v: Fraction) -> str:
        return number_text(v)

    def fraction(self, num: str, den: str) -> str:
        return f"{num}{self.divide}{den}"

    def join_factors(self, parts: list[str]) -> str:
        """Juxtaposed factors: ``Mᵀ(t − y)`` but ``2 (x − y)`` and ``(a) (b)``."""
        out = parts[0]
        for prev, p in zip(parts, parts[1:]):
            tight = p.startswith(self.open_paren) and not prev.endswith(")") and not _numeric(prev)
            out += p if tight else " " + p
        return out

    # ------------------------------------------------------------ helpers
    def wrap(self, e: Expr, loose: tuple[str, ...]) -> str:
        text, kind = self.print(e)
        return self.paren(text) if kind in loose else text

    def atom(self, e: Expr) -> str:
        return self.wrap(e, ("frob", "add", "neg", "mul", "had"))

    # ------------------------------------------------------------ nodes
    def _print_Var(self, e: Var) -> Printed:
        return self.name(e.name), "atom"

    def _print_Diff(self, e: Diff) -> Printed:
        return self.differential(self.name(e.var.name)), "atom"

    def _print_Adjoint(self, e: Adjoint) -> Printed:
        return self.adjoint(self.name(e.var.name)), "atom"

    def _print_Num(self, e: Num) -> Printed:
        if e.value < 0:
            return self.minus + self.number(-e.value), "neg"
        return self.number(e.value), ("atom" if e.value.denominator == 1 else "mul")

    def _print_Ones(self, e: Ones) -> Printed:
        return self.ones(e.shape)

    def _print_Eye(self, e: Eye) -> Printed:
        return self.identity(), "atom"

    def _print_Zero(self, e: Zero) -> Printed:
        return "0", "atom"

    def _print_Add(self, e: Add) -> Printed:
        printed = [self.print_term(t) for t in e.terms]
        return self.sum_of([self.paren(t) if k == "frob" else t for t, k in printed]), "add"

    #: how this printer writes the numbers ending names (``h3``), for sums over an index
    index: Spelling | None = None

    def sum_over_index(self, run: Run) -> str:
        """``Σ_{t=1}^{3} …``: a run of terms alike but for an index."""
        raise NotImplementedError

    def sum_of(self, terms: list[str]) -> str:
        """Printed terms joined by ``+`` and ``−``, the first term without a minus leading;
        a run of terms alike but for the numbers ending names is one sum over an index."""
        if self.index is not None and len(terms) >= MIN_RUN:
            folded = fold(terms, self.index, self.avoid)
            terms = [t if isinstance(t, str) else self._indexed_term(t) for t in folded]
        lead = next((i for i, t in enumerate(terms) if not t.startswith(self.minus)), 0)
        terms = [terms[lead], *terms[:lead], *terms[lead + 1 :]]
        out = terms[0]
        for text in terms[1:]:
            if text.startswith(self.minus):
                out += f" {self.minus} " + text[len(self.minus) :]
            else:
                out += " + " + text
        return out

    def _indexed_term(self, run: Run) -> str:
        if run.text.startswith(self.minus):
            body = run.text[len(self.minus) :]
            return self.minus + self.sum_over_index(Run(body, run.letter, run.first, run.last, run.length))
        return self.sum_over_index(run)

    def print_term(self, t: Expr) -> Printed:
        """A term of a sum: ``1`` and ``c 1`` read as the scalars they broadcast,
        and a negated entry-wise product needs no parentheses."""
        if isinstance(t, Ones):
            return "1", "atom"
        if isinstance(t, Mul) and len(t.chain) == 1 and isinstance(t.chain[0], Ones):
            if not t.scalars:
                return self.print(Num(t.coef))
            return self.print(Mul(t.coef, t.scalars, (), (1, 1)))
        if isinstance(t, Mul) and t.coef == -1 and not t.scalars and len(t.chain) == 1:
            text, kind = self.print(t.chain[0])
            if kind not in ("frob", "add", "neg"):
                return self.minus + text, "neg"
        return self.print(t)

    def _print_Mul(self, e: Mul) -> Printed:
        coef = e.coef
        sign = ""
        if coef < 0:
            sign, coef = self.minus, -coef
        top: list[str] = []
        bottom: list[str] = []
        for s in e.scalars:
            if isinstance(s, EProd) and len(s.factors) == 1 and s.factors[0][1] < 0:
                base, k = s.factors[0]
                bottom.append(self.print_power(base, -k))
            else:
                alone = len(e.scalars) + len(e.chain) == 1
                text = self.wrap(s, ("frob", "add", "neg", "had") + (() if alone else ("mul",)))
                if isinstance(s, Frob) and top and not top[-1].endswith(")"):
                    text = f"{self.dot} {text}"  # f · (G : A), not f(G : A): no function call
                top.append(text)
        chain = list(e.chain)
        i = 0
        while i < len(chain):  # a run of one factor k times prints as a power: (Aᵀ)³
            j = i
            while j + 1 < len(chain) and chain[j + 1] == chain[i]:
                j += 1
            if j > i:
                top.append(self.matrix_power(chain[i], j - i + 1))
            else:
                top.append(self.wrap(chain[i], ("frob", "add", "neg", "had")))
            i = j + 1
        if coef.denominator != 1 and not bottom and top:
            lead = self.number(coef)
        elif coef.denominator != 1:
            if coef.numerator != 1:
                top.insert(0, str(coef.numerator))
            bottom.insert(0, str(coef.denominator))
            lead = ""
        else:
            lead = self.number(coef) if coef != 1 else ""
        if lead:
            top.insert(0, lead)
        num = self.join_factors(top) if top else "1"
        if bottom:
            den = self.join_factors(bottom)
            if len(bottom) > 1:
                den = self.paren(den)
            num = self.fraction(num, den)
        return sign + num, ("neg" if sign else "mul")

    def matrix_power(self, e: Expr, k: int) -> str:
        """The square matrix ``e`` multiplied by itself ``k`` times: ``A²``, ``(Aᵀ)³``."""
        text = self.paren(self(e)) if isinstance(e, Transpose) else self.atom(e)
        return self.power_of(text, Fraction(k), True)

    def _print_MatPow(self, e: MatPow) -> Printed:
        return self.matrix_power(e.base, e.k), "atom"

    def _print_PowerSum(self, e: PowerSum) -> Printed:
        last = e.k - 1
        parts = [
            self.index_power(e.left, "i"),
            self.wrap(e.mid, ("frob", "add", "neg", "had")),
            self.index_power(e.right, f"{last}{self.minus}i"),
        ]
        return self.sum_over(last, " ".join(parts)), "add"

    def index_power(self, e: Expr, exponent: str) -> str:
        """``e`` to a power that depends on the summation index: ``(Aᵀ)ⁱ``."""
        text = self.paren(self(e)) if isinstance(e, Transpose) else self.atom(e)
        return self.symbolic_power(text, exponent)

    def symbolic_power(self, text: str, exponent: str) -> str:
        raise NotImplementedError

    def sum_over(self, last: int, body: str) -> str:
        """``Σ_{i=0}^{last} body``."""
        raise NotImplementedError

    def print_power(self, e: Expr, k: Fraction) -> str:
        if k == 1:
            return self.wrap(e, ("frob", "add", "neg", "mul", "had"))
        return self.power_of(self.atom(e), k, e.is_scalar)

    def _print_EProd(self, e: EProd) -> Printed:
        if (not e.is_scalar and len(e.factors) > 1
                and all(isinstance(f, Transpose) for f, _ in e.factors)
                and not all(isinstance(f.arg, Var) for f, _ in e.factors)):
            # (f(A) ∘ (1 − f(A)))ᵀ reads better than f(A)ᵀ ∘ (1 − f(A))ᵀ; Aᵀ ∘ Bᵀ stays
            inner = EProd(tuple((f.arg, k) for f, k in e.factors), (e.shape[1], e.shape[0]))
            return self.transpose_of(self.paren(self.print(inner)[0])), "atom"
        top = [self.print_power(f, k) for f, k in e.factors if k > 0 and not isinstance(f, Ones)]
        bottom = [self.print_power(f, -k) for f, k in e.factors if k < 0]
        if len(top) == 1 and not bottom and e.factors[0][1] != 1:
            return top[0], "atom"
        sep = " · " if e.is_scalar else self.hadamard
        out = sep.join(top) if top else "1"
        for d in bottom:
            out += (self.divide if e.is_scalar else self.divide_entries) + d
        return out, ("mul" if e.is_scalar else "had")

    def _print_Apply(self, e: Apply) -> Printed:
        return self.function(e.fn, e.order, [self(e.arg)]), "atom"

    def _print_Call(self, e: Call) -> Printed:
        return self.function(e.fn, 0, [self(a) for a in e.args]), "atom"

    def _print_Transpose(self, e: Transpose) -> Printed:
        return self.transpose_of(self.atom(e.arg)), "atom"

    def _print_Frob(self, e: Frob) -> Printed:
        left = self.wrap(e.left, ("frob", "add"))
        right = self.wrap(e.right, ("frob", "add"))
        return left + self.frob_sep + right, "frob"
