"""``matcalc.jacobian(...)`` and ``matcalc.hessian(...)``: the objects they return.

Each prints its linear map (``dF = …``, ``H[dX] = …``) and its explicit matrix
as text and LaTeX, its derivation step by step (each line an equation with
the rule that gave it, the identification theorem last), JSON, and a NumPy
module (:mod:`matcalc.printing.numpy_kinds`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from . import build as b
from .api import _names
from .depth import at_definition, guard_depth
from .errors import NumberError
from .expr import Diff, Expr, Var
from .gradient import _nodes
from .identify import Piece
from .kinds import HessianDerivation, JacobianDerivation
from .kinds import hessian as derive_hessian
from .kinds import jacobian as derive_jacobian
from .model import Model
from .numbers import NumberRangeError
from .printing.base import Printer
from .printing.kron import KronLatexPrinter, KronTextPrinter, named_lines
from .printing.latex import latex_name, latex_where_lines
from .printing.text import greek, where_lines

#: One side of a printed equation: an expression, a sum of ``M vec(L)`` pieces, or a label.
Side = Expr | tuple[Piece, ...] | tuple[str, str]


@dataclass(frozen=True)
class Equation:
    """One line of a derivation: ``lhs = rhs`` and the rule (text, LaTeX) that gave it."""

    lhs: Side
    rhs: Side
    rule: str
    rule_latex: str


def _is_vector(v: Var | Expr) -> bool:
    return v.shape[1] == 1


def _vec_text(name: str, v: Var, latex: bool) -> str:
    if _is_vector(v):
        return name
    return rf"\operatorname{{vec}}({name})" if latex else f"vec({name})"


def _name(v: Var, latex: bool) -> str:
    return latex_name(v.name) if latex else greek(v.name)


def _partial(latex: bool) -> str:
    return r"\partial " if latex else "∂"


def _t(text: str, latex: bool) -> str:
    if latex:
        return f"{text}^\\top"
    return text + "ᵀ"


def jacobian_label(f: Var, x: Var, layout: str, latex: bool) -> str:
    """``∂p/∂vec(W)ᵀ``, ``∂(Ax)/∂xᵀ``-style names of a Jacobian block."""
    d = _partial(latex)
    top = _vec_text(_name(f, latex), f, latex)
    bottom = _name(x, latex) if x.is_scalar else _vec_text(_name(x, latex), x, latex)
    if layout == "numerator":
        bottom = bottom if x.is_scalar else _t(bottom, latex)
    else:
        top = top if f.is_scalar else _t(top, latex)
    if latex:
        return rf"\frac{{{d}{top}}}{{{d}{bottom}}}"
    return f"{d}{top}/{d}{bottom}"


def hessian_label(f: Var, x: Var, y: Var, latex: bool) -> str:
    """``∂²f/∂vec(X)∂vec(X)ᵀ`` (``∂²f/∂x∂xᵀ`` for vectors)."""
    if x.is_scalar and x == y:  # ∂²f/∂α²
        if latex:
            return rf"\frac{{\partial^2 {_name(f, True)}}}{{\partial {_name(x, True)}^2}}"
        return f"∂²{_name(f, False)}/∂{_name(x, False)}²"
    left = _name(x, latex) if x.is_scalar else _vec_text(_name(x, latex), x, latex)
    right = _name(y, latex) if y.is_scalar else _t(_vec_text(_name(y, latex), y, latex), latex)
    if latex:
        return rf"\frac{{\partial^2 {_name(f, latex)}}}{{\partial {left}\,\partial {right}}}"
    return f"∂²{_name(f, latex)}/∂{left}∂{right}"


def _gradient_label(f: Var, x: Var, latex: bool) -> str:
    if latex:
        return rf"\frac{{\partial {_name(f, True)}}}{{\partial {_name(x, True)}}}"
    return f"∂{_name(f, False)}/∂{_name(x, False)}"


def _pieces(pieces: tuple[Piece, ...], p: Printer, latex: bool, memo: dict | None = None) -> str:
    """``M₁ vec(L₁) + M₂ vec(L₂)`` (``memo``: each piece printed once across many lines)."""
    out = []
    for piece in pieces:
        text = memo.get(piece) if memo is not None else None
        if text is None:
            text = _piece(piece, p, latex)
            if memo is not None:
                memo[piece] = text
        out.append(text)
    if not out:
        return "0"
    # a state of the identification: its terms as they stand (not folded over an index)
    minus = p.minus
    lead = next((i for i, t in enumerate(out) if not t.startswith(minus)), 0)
    parts = [out[lead]]
    for text in out[:lead] + out[lead + 1 :]:
        parts.append(f" {minus} {text[len(minus):]}" if text.startswith(minus) else f" + {text}")
    return "".join(parts)


def _piece(piece: Piece, p: Printer, latex: bool) -> str:
    m, lin = piece
    plain = m == b.ONE or (m.shape[0] == m.shape[1] and m == b.eye(m.shape[0]))
    if isinstance(lin, Diff):
        name = p(lin.var)
        inner = (r"\mathrm{d}" if latex else "d") + (
            name if _is_vector(lin.var) else " " + _vec_text(name, lin.var, latex)
        )
    elif _is_vector(lin):
        inner, kind = p.print_term(lin)
        if kind in ("frob", "add") or (not plain and kind in ("had", "neg")):
            inner = p.paren(inner)
    else:
        inner = (r"\operatorname{vec}" if latex else "vec") + p.paren(p(lin))
    if plain:
        return inner
    coef = p.wrap(m, ("frob", "add", "had"))
    return p.join_factors([coef, inner])


def _side(side: Side, p: Printer, latex: bool, memo: dict | None = None) -> str:
    if isinstance(side, Expr):
        return p(side)
    if side and isinstance(side[0], str):
        return side[1] if latex else side[0]
    return _pieces(side, p, latex, memo)  # type: ignore[arg-type]


def render(equations: list[Equation], latex: bool) -> str:
    """The equations as aligned text (``lhs = rhs   [rule]``) or a LaTeX ``aligned`` block."""
    p: Printer = KronLatexPrinter() if latex else KronTextPrinter()
    rows: list[tuple[str, str, str]] = []
    memo: dict = {}
    for e in equations:
        row = (_side(e.lhs, p, latex, memo), _side(e.rhs, p, latex, memo), e.rule_latex if latex else e.rule)
        if rows and rows[-1][:2] == row[:2]:
            continue  # a rule that changes nothing visible is not a line of its own
        rows.append(row)
    if latex:
        lines = []
        prev = None
        for lhs, rhs, rule in rows:
            head = "" if lhs == prev else lhs + " "
            lines.append(rf"{head}&= {rhs} && \left[{rule}\right]")
            prev = lhs
        return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"
    width_l = max(len(r[0]) for r in rows)
    width_r = max(len(r[1]) for r in rows)
    out = []
    prev = None
    for lhs, rhs, rule in rows:
        head = " " * width_l if lhs == prev else lhs.rjust(width_l)
        out.append(f"{head} = {rhs.ljust(width_r)}   [{rule}]")
        prev = lhs
    return "\n".join(out)


def _at_output(obj, *args, **kwargs) -> tuple[Model, str]:
    return obj.model, obj.of


_printing = guard_depth(_at_output, "print")

_FIRST = (
    "first identification theorem: d vec(F) = J d vec(X)",
    r"\text{first identification: } \mathrm{d}\operatorname{vec}F = J\,\mathrm{d}\operatorname{vec}X",
)
_SECOND = (
    "second identification theorem: d²f = d vec(X)ᵀ H d vec(X)",
    r"\text{second identification: } \mathrm{d}^2 f = "
    r"\mathrm{d}\operatorname{vec}(X)^\top H\,\mathrm{d}\operatorname{vec}X",
)


def _differential_label(v: Var, latex: bool) -> tuple[str, str]:
    return (f"d{greek(v.name)}", rf"\mathrm{{d}}{latex_name(v.name)}")


def _vec_label(text: str, latex: str, vector: bool) -> tuple[str, str]:
    if vector:
        return (f"d{text}", rf"\mathrm{{d}}{latex}")
    return (f"d vec({text})", rf"\mathrm{{d}}\operatorname{{vec}}({latex})")


def _forward_equations(steps, used: set[str]) -> list[Equation]:
    out = []
    for st in steps:
        if st.var.name in used:
            lab = _differential_label(st.var, False)
            out.append(
                Equation(
                    lab,
                    st.raw,
                    f"differential of {greek(st.var.name)}",
                    rf"\text{{differential of }}{latex_name(st.var.name)}",
                )
            )
    return out


def _used(raw: Expr, steps) -> set[str]:
    """The definitions whose differentials ``raw`` needs, directly or through one another."""
    by_name = {st.var.name: st.raw for st in steps}
    used: set[str] = set()
    stack = [raw]
    while stack:
        for n in _nodes(stack.pop()):
            if isinstance(n, Diff) and n.var.name in by_name and n.var.name not in used:
                used.add(n.var.name)
                stack.append(by_name[n.var.name])
    return used


def _identification_equations(lhs: tuple[str, str], lin: Expr, trace) -> list[Equation]:
    """The states of the identification of ``lin``, one equation per rule applied; a rule whose
    result prints as the line before it (``vec(AX) = (I ⊗ A) vec(X)`` with a 1×1 ``I``, for a
    vector) is no line of its own."""
    out = []
    state: list[Piece] = [(b.eye(_size(lin)), lin)]
    p, memo = KronTextPrinter(), {}
    printed = _pieces(tuple(state), p, False, memo)
    for rule, before, pieces in trace:
        # the piece the rule rewrote: the same objects (found without comparing trees)
        i = next((j for j, s in enumerate(state) if s[0] is before[0] and s[1] is before[1]), None)
        if i is None:
            i = state.index(before)
        state[i : i + 1] = list(pieces)
        now = _pieces(tuple(state), p, False, memo)
        if now != printed:
            out.append(Equation(lhs, tuple(state), rule.text, rule.latex))
        printed = now
    return out


def _collected(lhs: tuple[str, str], ident, wrt: tuple[Var, ...]) -> list[Equation]:
    pieces = tuple(
        (ident.blocks[v.name], Diff(v))
        for v in wrt
        if v.name in ident.blocks and not b.is_zero(ident.blocks[v.name])
    )
    if not pieces:
        return []
    return [
        Equation(
            lhs, pieces, "collect the terms; (A ⊗ B)(C ⊗ D) = AC ⊗ BD, …", r"\text{collect terms, simplify}"
        )
    ]


def _size(e: Expr):
    return b.dim_mul(e.shape[0], e.shape[1])


class _Derivative:
    """What a Jacobian and a Hessian share: printing, JSON, Jupyter, code."""

    model: Model
    of: str

    def text(self) -> str:
        raise NotImplementedError

    def latex(self) -> str:
        raise NotImplementedError

    @property
    def steps(self) -> list[Equation]:
        raise NotImplementedError

    @_printing
    def steps_text(self) -> str:
        """The derivation as aligned Unicode text, each line with its rule, then the result."""
        return render(self.steps, latex=False) + "\n" + self.text()

    @_printing
    def steps_latex(self) -> str:
        """The derivation as a LaTeX ``aligned`` block, each line with its rule."""
        return render(self.steps, latex=True)

    def to_function(self, name: str | None = None, target: str = "numpy") -> Callable:
        """The generated function for ``target``, compiled (only validated identifiers reach
        its code); the target's library is imported when it is called for."""
        name = name or self.function_names[0]
        namespace: dict = {}
        exec(compile(self.source(target), f"<matcalc {name}>", "exec"), namespace)
        return namespace[name]

    function_names: tuple[str, ...] = ()

    def source(self, target: str = "numpy") -> str:
        """The module for ``target`` (``numpy``, ``torch``, ``jax``, ``array-api``)."""
        raise NotImplementedError

    def numpy_source(self) -> str:
        """The NumPy module (``source("numpy")``)."""
        return self.source("numpy")

    def _repr_latex_(self) -> str:
        return "$$" + self.latex() + "$$"

    def _repr_markdown_(self) -> str:
        return "$$" + self.latex() + "$$"

    def __str__(self) -> str:
        return self.text()


class Jacobian(_Derivative):
    """The Jacobian ``∂vec(F)/∂vec(X)ᵀ`` of ``of`` w.r.t. chosen variables (``--layout``)."""

    function_names = ("value_and_jacobian",)

    def __init__(self, derivation: JacobianDerivation) -> None:
        self.derivation = derivation
        self.model = derivation.model
        self.of = derivation.of.name
        self.wrt = tuple(v.name for v in derivation.wrt)
        self.jacobians: dict[str, Expr] = dict(zip(self.wrt, derivation.blocks))
        self.layout = derivation.layout

    def __getitem__(self, name: str) -> Expr:
        return self.jacobians[name]

    def to_sympy(self, symbols: Iterable = ()) -> dict:
        """Each block ``∂vec(F)/∂vec(X)ᵀ`` as a SymPy matrix expression, by ``X``'s name (see
        :meth:`matcalc.api.Gradient.to_sympy`; ``vec`` and ``K`` as
        :class:`matcalc.sympy_interop.Vec` and :class:`~matcalc.sympy_interop.Commutation`)."""
        from .sympy_interop import to_sympy

        return {name: to_sympy(m, self.model, symbols) for name, m in self.jacobians.items()}

    def _lines(self, latex: bool) -> list[tuple[str, str]]:
        d = self.derivation
        p = KronLatexPrinter() if latex else KronTextPrinter()
        lab = _differential_label(d.of, latex)
        rows = [(lab[1] if latex else lab[0], p(_shown(d)))]
        for v, m in zip(d.wrt, d.named_blocks or d.blocks):
            rows.append((jacobian_label(d.of, v, self.layout, latex), p(m)))
        return rows

    def _values(self) -> tuple:
        """The named nested values (``u1 = tanh(W1 x)``) that the map and the blocks use."""
        from .printing.numpy_kinds import used_values

        d = self.derivation
        named = [g for _, g in d.tangents] + [m for _, m in d.jacobians]
        return used_values(d.values, [_shown(d), *(d.named_blocks or d.blocks), *named])

    @_printing
    def text(self) -> str:
        """The linear map ``dF = …`` and each block ``∂vec(F)/∂vec(X)ᵀ = …`` (then ``where
        u1 = …`` for the named nested values they use)."""
        lines = [f"{lhs} = {rhs}" for lhs, rhs in self._lines(False)]
        lines += where_lines((), KronTextPrinter(), self._values())
        d = self.derivation
        where = len(lines) - 1 - len(d.wrt)
        return "\n".join(lines + named_lines(d.tangents, d.jacobians, KronTextPrinter(), where))

    @_printing
    def latex(self) -> str:
        """The map and the blocks as a LaTeX ``aligned`` block."""
        rows = [f"{lhs} &= {rhs}" for lhs, rhs in self._lines(True)]
        before = len(rows)
        rows += latex_where_lines((), KronLatexPrinter(), self._values())
        d = self.derivation
        rows += named_lines(d.tangents, d.jacobians, KronLatexPrinter(), len(rows) - before)
        return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"

    @property
    def steps(self) -> list[Equation]:
        """The derivation: each definition's differential, the substitution, the vec rules,
        and the identification."""
        d = self.derivation
        used = {st.var.name for st in d.forward}
        eqs = list(reversed(_forward_equations(d.forward, used)))
        lab = _differential_label(d.of, False)
        eqs.append(Equation(lab, _shown(d), "substitute the differentials", r"\text{substitute}"))
        text_name, latex_name_ = greek(d.of.name), latex_name(d.of.name)
        vlab = _vec_label(text_name, latex_name_, _is_vector(d.of))
        eqs += _identification_equations(vlab, _shown(d), d.identification.trace)
        eqs += _collected(vlab, d.identification, d.wrt)
        eqs += _jacobian_equations(d.jacobians)
        for v, m in zip(d.wrt, d.named_blocks or d.blocks):
            label = (jacobian_label(d.of, v, self.layout, False), jacobian_label(d.of, v, self.layout, True))
            eqs.append(Equation(label, m, *_FIRST))
        return eqs

    @_printing
    def source(self, target: str = "numpy") -> str:
        """A module for ``target`` defining ``value_and_jacobian(inputs…) -> (F, J_X, …)``."""
        from .printing.numpy_kinds import jacobian_source

        return jacobian_source(self.derivation, target)

    @_printing
    def to_json(self) -> dict:
        """The map, the blocks, their shapes and the steps as plain data."""
        t, lx = KronTextPrinter(), KronLatexPrinter()
        d = self.derivation
        return {
            "of": self.of,
            "wrt": list(self.wrt),
            "layout": self.layout,
            "differential": {"text": t(_shown(d)), "latex": lx(_shown(d))},
            "jacobians": {
                v.name: {"text": t(m), "latex": lx(m), "shape": [str(s) for s in m.shape]}
                for v, m in zip(d.wrt, d.named_blocks or d.blocks)
            },
            **_json_named(d.tangents, d.jacobians),
            "steps": _json_steps(self.steps),
        }

    def __repr__(self) -> str:
        return f"<Jacobian of {self.of} w.r.t. {', '.join(self.wrt)}>\n{self.text()}"


class Hessian(_Derivative):
    """The Hessian of a scalar: maps ``H[dX] = d(∂f/∂X)`` and blocks ``∂²f/∂vec(X)∂vec(Y)ᵀ``."""

    function_names = ("value_grad_and_hessian", "hvp", "value_and_grad")

    def __init__(self, derivation: HessianDerivation) -> None:
        self.derivation = derivation
        self.model = derivation.model
        self.of = derivation.of.name
        self.wrt = tuple(v.name for v in derivation.wrt)

    def __getitem__(self, pair: tuple[str, str]) -> Expr:
        return self.derivation.block(*pair)

    def to_sympy(self, symbols: Iterable = ()) -> dict:
        """Each upper block ``∂²f/∂vec(X)∂vec(Y)ᵀ`` as a SymPy matrix expression, keyed by the
        pair of names ``(X, Y)`` (see :meth:`Jacobian.to_sympy`); the named adjoints and
        values they use are written out."""
        from .sympy_interop import to_sympy

        d = self.derivation
        return {pair: to_sympy(m, self.model, symbols, d.adjoints) for pair, m in d.blocks.items()}

    @property
    def maps(self) -> dict[str, Expr]:
        """``d(∂f/∂X)`` for each variable ``X``."""
        return dict(zip(self.wrt, self.derivation.maps))

    def _map_label(self, v: Var, latex: bool) -> str:
        d = self.derivation
        if len(d.wrt) == 1:
            return rf"H[\mathrm{{d}}{latex_name(v.name)}]" if latex else f"H[d{greek(v.name)}]"
        g = _gradient_label(d.of, v, latex)
        return rf"\mathrm{{d}}\left({g}\right)" if latex else f"d({g})"

    def _lines(self, latex: bool) -> list[tuple[str, str]]:
        d = self.derivation
        p = KronLatexPrinter() if latex else KronTextPrinter()
        rows = [(self._map_label(v, latex), p(m)) for v, m in zip(d.wrt, d.named_maps or d.maps)]
        blocks = d.named_blocks or d.blocks
        for i, v in enumerate(d.wrt):
            for w in d.wrt[i:]:
                rows.append((hessian_label(d.of, v, w, latex), p(blocks[(v.name, w.name)])))
        return rows

    def _named(self) -> tuple[tuple, tuple]:
        """The gradient's named adjoints and named nested values that the maps and blocks use
        (each written once, after them)."""
        from .printing.numpy_kinds import used_adjoints, used_values

        d = self.derivation
        roots = [*(d.named_maps or d.maps), *(d.named_blocks or d.blocks).values()]
        roots += [g for _, g in d.tangents] + [m for _, m in d.jacobians]
        adjoints = used_adjoints(d.adjoints, roots)
        values = used_values(d.values, [*roots, *(g for _, g in adjoints)])
        return adjoints, values

    @_printing
    def text(self) -> str:
        """The maps ``H[dX] = …`` and the upper blocks ``∂²f/∂vec(X)∂vec(Y)ᵀ = …`` (then
        ``where δV = …`` for the named adjoints and values they use)."""
        lines = [f"{lhs} = {rhs}" for lhs, rhs in self._lines(False)]
        adjoints, values = self._named()
        where = where_lines(adjoints, KronTextPrinter(), values)
        d = self.derivation
        where += named_lines(d.tangents, d.jacobians, KronTextPrinter(), len(where))
        return "\n".join(lines + where)

    @_printing
    def latex(self) -> str:
        """The maps and the blocks as a LaTeX ``aligned`` block."""
        rows = [f"{lhs} &= {rhs}" for lhs, rhs in self._lines(True)]
        adjoints, values = self._named()
        where = latex_where_lines(adjoints, KronLatexPrinter(), values)
        d = self.derivation
        rows += where + named_lines(d.tangents, d.jacobians, KronLatexPrinter(), len(where))
        return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"

    @property
    def steps(self) -> list[Equation]:
        """Per variable: the gradient, its differential, the definitions' differentials, the
        substituted map, the vec rules and the identification of each block."""
        d = self.derivation
        eqs: list[Equation] = []
        blocks = d.named_blocks or d.blocks
        rows = zip(d.wrt, d.gradient.gradients, d.raw, d.named_maps or d.maps, d.identifications)
        for i, (v, g, raw, lin, ident) in enumerate(rows):
            glab = (_gradient_label(d.of, v, False), _gradient_label(d.of, v, True))
            eqs.append(Equation(glab, g, "gradient (matcalc grad --steps)", r"\text{gradient}"))
            dlab = (f"d({glab[0]})", rf"\mathrm{{d}}\left({glab[1]}\right)")
            eqs.append(
                Equation(
                    dlab,
                    raw,
                    f"differential of ∂{greek(d.of.name)}/∂{greek(v.name)}",
                    r"\text{differential of the gradient}",
                )
            )
            eqs += _forward_equations(d.forward, _used(raw, d.forward))
            mlab = (self._map_label(v, False), self._map_label(v, True))
            eqs.append(Equation(mlab, lin, "substitute the differentials", r"\text{substitute}"))
            vlab = dlab
            if not _is_vector(v):
                vlab = (f"d vec({glab[0]})", rf"\mathrm{{d}}\operatorname{{vec}}\left({glab[1]}\right)")
            eqs += _identification_equations(vlab, lin, ident.trace)
            eqs += _collected(vlab, ident, d.wrt)
            if i == 0:
                eqs += _jacobian_equations(d.jacobians)
            for w in d.wrt[i:]:
                label = (hessian_label(d.of, v, w, False), hessian_label(d.of, v, w, True))
                eqs.append(Equation(label, blocks[(v.name, w.name)], *_SECOND))
        return eqs

    @_printing
    def source(self, target: str = "numpy") -> str:
        """A module for ``target``: ``value_and_grad``, ``value_grad_and_hessian`` and ``hvp``."""
        from .printing.numpy_kinds import hessian_source

        return hessian_source(self.derivation, target)

    @_printing
    def to_json(self) -> dict:
        """Maps, blocks, shapes and steps as plain data."""
        t, lx = KronTextPrinter(), KronLatexPrinter()
        d = self.derivation
        return {
            "of": self.of,
            "wrt": list(self.wrt),
            "gradients": {
                v.name: {"text": t(g), "latex": lx(g)} for v, g in zip(d.wrt, d.gradient.gradients)
            },
            "maps": {v.name: {"text": t(m), "latex": lx(m)} for v, m in zip(d.wrt, d.named_maps or d.maps)},
            "hessians": {
                f"{x},{y}": {"text": t(m), "latex": lx(m), "shape": [str(s) for s in m.shape]}
                for (x, y), m in (d.named_blocks or d.blocks).items()
            },
            **_json_named(d.tangents, d.jacobians),
            "steps": _json_steps(self.steps),
        }

    def __repr__(self) -> str:
        return f"<Hessian of {self.of} w.r.t. {', '.join(self.wrt)}>\n{self.text()}"


def _shown(d: JacobianDerivation) -> Expr:
    """The map ``dF`` as printed (with the named tangents)."""
    return d.named_differential if d.named_differential is not None else d.differential


def _jacobian_equations(jacobians: tuple[tuple[Expr, Expr], ...]) -> list[Equation]:
    """Each named Jacobian ``∂vec(V)/∂vec(X)ᵀ``, identified from ``V``'s differential in the
    named Jacobians before it (the chain rule of explicit matrices)."""
    rule = ("chain rule: ∂vec(V)/∂vec(X)ᵀ from dV", r"\text{chain rule}")
    return [Equation(j, m, *rule) for j, m in jacobians]


def _json_named(tangents: tuple[tuple[Var, Expr], ...], jacobians: tuple[tuple[Expr, Expr], ...]) -> dict:
    """The named tangents and Jacobians, when there are any."""
    if not tangents and not jacobians:
        return {}
    t, lx = KronTextPrinter(), KronLatexPrinter()
    return {
        "tangents": {t(Diff(v)): {"text": t(g), "latex": lx(g)} for v, g in tangents},
        "named_jacobians": [
            {"name": {"text": t(j), "latex": lx(j)}, "text": t(m), "latex": lx(m)} for j, m in jacobians
        ],
    }


def _json_steps(eqs: list[Equation]) -> list[dict]:
    t, lx = KronTextPrinter(), KronLatexPrinter()
    return [
        {
            "lhs": _side(e.lhs, t, False),
            "text": _side(e.rhs, t, False),
            "latex": _side(e.rhs, lx, True),
            "rule": e.rule,
        }
        for e in eqs
    ]


def _model(model: str | Model, convention: str | None = None) -> Model:
    from .convention import convention_name
    from .parser import parse

    convention_name(convention)
    return parse(model, convention) if isinstance(model, str) else model


def _located(m: Model, of: str | None, derive: Callable):
    """``derive()``, a constant out of a float's range being a located error at the function."""
    try:
        return derive()
    except NumberRangeError as err:
        of = of or m.output.name
        raise at_definition(m, of, err.about(f"a constant in the derivative of {of}"), NumberError) from None


def jacobian(
    model: str | Model,
    wrt: str | Iterable[str],
    of: str | None = None,
    layout: str = "numerator",
    convention: str | None = None,
) -> Jacobian:
    """The Jacobian of ``of`` (any shape; default: the model's output) w.r.t. ``wrt``;
    ``convention`` as for :func:`matcalc.grad`."""
    m = _model(model, convention)
    return Jacobian(_located(m, of, lambda: derive_jacobian(m, _names(wrt), of, layout)))


def hessian(
    model: str | Model, wrt: str | Iterable[str], of: str | None = None, convention: str | None = None
) -> Hessian:
    """The Hessian of the scalar ``of`` (default: the model's output) w.r.t. ``wrt``;
    ``convention`` as for :func:`matcalc.grad`."""
    m = _model(model, convention)
    return Hessian(_located(m, of, lambda: derive_hessian(m, _names(wrt), of)))
