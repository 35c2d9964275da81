"""The Python API: ``matcalc.grad(model, wrt=[...])`` and what it returns."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from . import dims
from .convention import DEFAULT, add_scalar_hint, convention_name
from .depth import at_definition, guard_depth
from .errors import MatcalcError, NumberError
from .expr import SCALAR, Expr, Var
from .formulas import Formula, used_derivatives
from .gradient import Derivation, derive
from .model import Model
from .numbers import NumberRangeError
from .printing.indexed import fold_lines
from .printing.latex import (
    LATEX_INDEX,
    LatexPrinter,
    latex_index_block,
    latex_index_range,
    latex_name,
    latex_where_lines,
)
from .printing.numpy import numpy_source
from .printing.text import TEXT_INDEX, TextPrinter, greek, index_block, index_range, where_lines
from .steps import Step, block_rows, derivation_steps, folded_blocks, format_terms, step_rows


def _names(wrt: str | Iterable[str]) -> list[str]:
    if isinstance(wrt, str):
        return [w.strip() for w in wrt.split(",") if w.strip()]
    return [w.strip() for w in wrt]


def _at_output(g: Gradient, *args, **kwargs) -> tuple[Model, str]:
    return g.model, g.of


#: Printing recurses into the gradients; a too-deep one is a located error at the output.
_printing = guard_depth(_at_output, "print")


class Gradient:
    """The gradients of a scalar function of a model w.r.t. chosen variables.

    ``gradients`` maps each variable name to its gradient expression, in
    ``wrt`` order; ``derivation`` holds the chain-rule steps.
    """

    def __init__(self, derivation: Derivation) -> None:
        self.derivation = derivation
        self.model: Model = derivation.model
        self.of: str = derivation.of.name
        self.wrt: tuple[str, ...] = tuple(v.name for v in derivation.wrt)
        self.gradients: dict[str, Expr] = dict(zip(self.wrt, derivation.gradients))
        #: Every name of the model (an index of a printed sum takes none of them).
        self.names: frozenset[str] = model_names(self.model)
        #: The named adjoints the gradients use: ``δV = …`` by ``V``'s name, the output's first.
        self.adjoints: dict[str, Expr] = {v.name: g for v, g in derivation.adjoints}
        #: The model's nested values given a name (``u1 = tanh(W1 x)``), innermost first.
        self.values: dict[str, Expr] = {v.name: g for v, g in derivation.forward}

    def __getitem__(self, name: str) -> Expr:
        return self.gradients[name]

    def __iter__(self):
        return iter(self.gradients.items())

    def _where(self) -> list[tuple[Formula, int, Expr]]:
        """Each derivative of a function defined by formula that the gradients apply:
        the function, the order, and the derivative written in its parameter."""
        out = []
        for f in self.model.formulas:
            roots = list(self.gradients.values()) + [v for _, v in self.derivation.adjoints]
            for k in used_derivatives(f, roots):
                out.append((f, k, f.expr(k, Var(f.param, SCALAR))))
        return out

    @_printing
    def text(self) -> str:
        """One line per variable: ``∂f/∂W = …`` in Unicode text, then the ``where`` lines (of
        adjoints, and of each derivative of a function defined by formula that they use)."""
        p = TextPrinter(self.names)
        f = greek(self.of)
        lines = [f"∂{f}/∂{greek(name)} = {p(g)}" for name, g in self.gradients.items()]
        lines = fold_lines(lines, TEXT_INDEX, index_range, avoid=self.names)
        lines += where_lines(self.derivation.adjoints, p, self.derivation.forward)
        for fn, k, e in self._where():
            lines.append(f"where {p.function(fn.name, k, [greek(fn.param)])} = {p(e)}")
        return "\n".join(lines)

    def _latex_where(self, p: LatexPrinter) -> list[str]:
        return [
            rf"\text{{where }} {p.function(fn.name, k, [latex_name(fn.param)])} &= {p(e)}"
            for fn, k, e in self._where()
        ]

    @_printing
    def latex(self) -> str:
        """The gradients as LaTeX: ``\\frac{\\partial f}{\\partial W} = …``, one per line."""
        p = LatexPrinter(self.names)
        f = latex_name(self.of)
        lines = [
            rf"\frac{{\partial {f}}}{{\partial {latex_name(name)}}} &= {p(g)}"
            for name, g in self.gradients.items()
        ]
        lines = fold_lines(lines, LATEX_INDEX, latex_index_range, avoid=self.names)
        lines += latex_where_lines(self.derivation.adjoints, p, self.derivation.forward)
        lines += self._latex_where(p)
        return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"

    @property
    @_printing
    def steps(self) -> list[Step]:
        """The derivation, one :class:`~matcalc.steps.Step` (equation and rule) per line."""
        return derivation_steps(self.derivation)

    def _rows(self, printer, name: Callable[[str], str], latex: bool = False) -> list[tuple[str, str]]:
        """The derivation's rows; ``df = 0`` when ``f`` does not depend on any variable."""
        rows = step_rows(self.steps, printer, latex=latex)
        if rows:
            return rows
        names = ", ".join(name(w) for w in self.wrt)
        what = name(self.of)
        if latex:
            return [("0", rf"{what}\text{{ does not depend on }}{names}")]
        return [("0", f"{what} does not depend on {names}")]

    def _blocks(self) -> bool:
        """Whether the derivation is written one chain step at a time (it names adjoints)."""
        return any(st.lhs is not None for st in self.steps)

    def _block_lines(self, p, df: str, latex: bool) -> list[tuple[str, str, str]]:
        """``(head, equation, rule)`` per line of a derivation written one chain step at a time:
        the head is the block's left side and ``=`` where a block begins, else blank; a run of
        blocks alike but for an index is written once, after a line ``for t = …:`` (whose
        equation and rule are empty)."""
        sp, over = (LATEX_INDEX, latex_index_block) if latex else (TEXT_INDEX, index_block)
        rows = block_rows(self.steps, p, latex=latex)
        out = []
        for run, head, body in folded_blocks(rows, sp, self.names):
            if run is not None:
                out.append((over(run) if latex else over(run).rstrip(), "", ""))
            lead = head or df
            for i, (line, rule) in enumerate(body):
                if latex:
                    out.append((f"{lead} " if i == 0 else "", line, rule))
                else:
                    out.append((f"{lead} = " if i == 0 else " " * (len(lead) + 1) + "= ", line, rule))
        return out

    @_printing
    def steps_text(self) -> str:
        """The derivation as aligned Unicode text, each line with the rule it used."""
        f = greek(self.of)
        if self._blocks():
            out = []
            block: list[tuple[str, str]] = []
            for head, line, rule in self._block_lines(TextPrinter(self.names), f"d{f}", latex=False):
                if not head.startswith(" ") and block:  # each block aligned by itself: linear
                    out += _aligned(block)
                    block = []
                if not line:  # the range of the index of the block that follows
                    out.append(head)
                    continue
                block.append((head + line, rule))
            out += _aligned(block)
            out.extend(self.text().splitlines())
            return "\n".join(out)
        rows = self._rows(TextPrinter(self.names), greek)
        width = max((len(r[0]) for r in rows), default=0)
        out = []
        for i, (line, rule) in enumerate(rows):
            head = f"d{f} = " if i == 0 else " " * len(f"d{f} ") + "= "
            out.append(f"{head}{line.ljust(width)}   [{rule}]")
        out.extend(self.text().splitlines())
        return "\n".join(out)

    @_printing
    def steps_latex(self) -> str:
        """The derivation as a LaTeX ``aligned`` block, each line with its rule."""
        p = LatexPrinter(self.names)
        f = latex_name(self.of)
        lines = []
        if self._blocks():
            for head, line, rule in self._block_lines(p, rf"\mathrm{{d}}{f}", latex=True):
                lines.append(rf"{head}&= {line} && {_rule_tag(rule)}" if line else rf"&{head}")
        else:
            rows = self._rows(p, latex_name, latex=True)
            for i, (line, rule) in enumerate(rows):
                head = rf"\mathrm{{d}}{f} " if i == 0 else ""
                lines.append(rf"{head}&= {line} && {_rule_tag(rule)}")
        results = [
            rf"\frac{{\partial {f}}}{{\partial {latex_name(name)}}} &= {p(g)}"
            for name, g in self.gradients.items()
        ]
        lines += fold_lines(results, LATEX_INDEX, latex_index_range, avoid=self.names)
        lines += latex_where_lines(self.derivation.adjoints, p, self.derivation.forward)
        lines += self._latex_where(p)
        return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"

    @_printing
    def numpy_source(self, name: str = "value_and_grad") -> str:
        """A self-contained NumPy module defining ``name(inputs…) -> (value, grads…)``."""
        return numpy_source(self.derivation, name)

    @_printing
    def source(self, target: str = "numpy", name: str = "value_and_grad") -> str:
        """A self-contained module for ``target`` (``numpy``, ``torch``, ``jax``, ``array-api``)
        defining ``name(inputs…) -> (value, grads…)``."""
        from .codegen.targets import module_source

        return module_source(self.derivation, target, name)

    def to_function(self, name: str = "value_and_grad", target: str = "numpy") -> Callable:
        """The generated function for ``target``, compiled (only validated identifiers reach its
        code); the target's library is imported when it is called for."""
        namespace: dict = {}
        exec(compile(self.source(target, name), f"<matcalc {name}>", "exec"), namespace)
        return namespace[name]

    def to_sympy(self, symbols: Iterable = ()) -> dict:
        """Each gradient as a SymPy matrix expression (a scalar one for a scalar variable),
        inputs as ``MatrixSymbol``\\ s or the objects of ``symbols`` with their names."""
        from .sympy_interop import to_sympy

        adjoints = self.derivation.adjoints
        return {name: to_sympy(g, self.model, symbols, adjoints) for name, g in self.gradients.items()}

    def shapes(self) -> dict[str, str]:
        """Each gradient's shape as text (``m×n``)."""
        return {n: "×".join(map(str, v.shape)) for n, v in zip(self.wrt, self.derivation.wrt)}

    @_printing
    def to_json(self) -> dict:
        """Gradients, shapes and steps as plain data, for tools that call matcalc."""
        text, latex = TextPrinter(self.names), LatexPrinter(self.names)
        return {
            "of": self.of,
            "wrt": list(self.wrt),
            "gradients": {
                name: {"text": text(g), "latex": latex(g), "shape": dims.shape_json(v.shape)}
                for (name, g), v in zip(self.gradients.items(), self.derivation.wrt)
            },
            "values": {
                v.name: {"text": text(g), "latex": latex(g), "shape": dims.shape_json(v.shape)}
                for v, g in self.derivation.forward
            },
            "adjoints": {
                v.name: {"text": text(g), "latex": latex(g), "shape": dims.shape_json(v.shape)}
                for v, g in self.derivation.adjoints
            },
            "steps": self._json_steps(text, latex),
        }

    def _json_steps(self, text: TextPrinter, latex: LatexPrinter) -> list[dict]:
        """One entry per step (``text``, ``latex``, ``rule``, the block's ``lhs``); where the text
        writes a run of chain-step blocks once over an index, so does this, each entry of the run
        saying its range (``"for": {"index": "t", "first": 7, "last": 3}``)."""
        steps = self.steps
        entries = [
            {
                "text": format_terms(st.terms, text),
                "latex": format_terms(st.terms, latex),
                "rule": st.rule,
                **(
                    {"lhs": {"text": format_terms(st.lhs, text), "latex": format_terms(st.lhs, latex)}}
                    if st.lhs is not None
                    else {}
                ),
            }
            for st in steps
        ]
        if not self._blocks():
            return entries
        # the blocks folded in text and in LaTeX; where both fold the same run, it is written once
        starts = [i for i, st in enumerate(steps) if i == 0 or st.lhs != steps[i - 1].lhs]
        ends = starts[1:] + [len(steps)]

        def rows(key: str) -> list[tuple[str | None, str, str]]:
            out: list[tuple[str | None, str, str]] = []
            for a, z in zip(starts, ends):
                lhs = entries[a].get("lhs", {key: ""})[key]
                rule = (lambda i: steps[i].rule) if key == "text" else (lambda i: steps[i].rule_latex)
                out += [(lhs if i == a else None, entries[i][key], rule(i)) for i in range(a, z)]
            return out

        by_text = folded_blocks(rows("text"), TEXT_INDEX, self.names)
        by_latex = folded_blocks(rows("latex"), LATEX_INDEX, self.names)
        runs = [(r.length if r else 1) for r, _, _ in by_text]
        if runs != [(r.length if r else 1) for r, _, _ in by_latex]:
            return entries
        out: list[dict] = []
        block = 0
        for (run, lead, body), (_, lead_latex, body_latex) in zip(by_text, by_latex):
            if run is None:
                out += entries[starts[block] : ends[block]]
            else:
                span = {"index": run.letter, "first": run.first, "last": run.last}
                for (line, rule), (line_latex, _) in zip(body, body_latex):
                    entry = {"text": line, "latex": line_latex, "rule": rule, "for": span}
                    if lead or lead_latex:
                        entry["lhs"] = {"text": lead, "latex": lead_latex}
                    out.append(entry)
            block += run.length if run else 1
        return out

    def _repr_latex_(self) -> str:
        return "$$" + self.latex() + "$$"

    def _repr_html_(self) -> str:
        """The rendered result with the derivation folded under it (see :mod:`matcalc.jupyter`)."""
        from .jupyter import GradientView

        return GradientView(self)._repr_html_()

    def _repr_markdown_(self) -> str:
        return "$$" + self.latex() + "$$"

    def size(self) -> int:
        """Distinct nodes in all gradient expressions, named adjoints and named values
        together (shared sub-trees once)."""
        seen: set[Expr] = set()
        stack = list(self.gradients.values()) + list(self.adjoints.values()) + list(self.values.values())
        while stack:
            e = stack.pop()
            if e in seen:
                continue
            seen.add(e)
            stack.extend(e.children())
        return len(seen)

    @_printing
    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return f"<Gradient of {self.of} w.r.t. {', '.join(self.wrt)}>\n{self.text()}"


def model_names(model: Model) -> frozenset[str]:
    """The model's names, as written and as printed (``alpha`` and ``α``)."""
    names = [v.name for v in model.inputs] + [v.name for v, _ in model.definitions]
    names += list(model.elementwise) + [d for d in model.dims if isinstance(d, str)]
    return frozenset(names) | frozenset(greek(n) for n in names)


def grad(
    model: str | Model,
    wrt: str | Iterable[str],
    of: str | None = None,
    convention: str | None = None,
    expand: bool = False,
) -> Gradient:
    """Gradients of the scalar ``of`` (default: the model's output) w.r.t. ``wrt``.

    ``model`` is model text or a parsed :class:`~matcalc.model.Model`;
    ``wrt`` a list of names or a comma-separated string; ``convention`` how
    undeclared names in model text get their kinds: ``"matcalc"`` (the default)
    or ``"matrixcalculus"`` (``"mc"``, the rule of matrixcalculus.org). Adjoints used
    more than once or deep in a chain are named (``where δh = …``); ``expand`` writes
    them out instead.
    """
    from .parser import parse

    convention_name(convention)
    m = parse(model, convention) if isinstance(model, str) else model
    try:
        try:
            return Gradient(derive(m, _names(wrt), of, expand))
        except NumberRangeError as err:
            of = of or m.output.name
            raise at_definition(
                m, of, err.about(f"a constant in the derivative of {of}"), NumberError
            ) from None
    except MatcalcError as err:
        if m.convention == DEFAULT:
            add_scalar_hint(err, m.source)
        raise


def _aligned(rows: list[tuple[str, str]]) -> list[str]:
    """Lines with their rules in one column."""
    width = max((len(line) for line, _ in rows), default=0)
    return [f"{line.ljust(width)}   [{rule}]" for line, rule in rows]


def _rule_tag(rule: str) -> str:
    return rf"\left[{rule}\right]"
