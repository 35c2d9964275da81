"""A model printed back in normalised form: what matcalc understood."""

from __future__ import annotations

from .expr import Expr, Shape, Var
from .model import Model


def format_model(model: Model) -> str:
    """One line per input (its kind and shape), per elementwise function and per
    definition (``name = expr``, its kind and shape); the output is marked."""
    rows: list[tuple[str, str]] = []
    for v in model.inputs:
        rows.append((f"{v.name}: {declared_kind(v)}", f"input, {shape_text(v.shape)}"))
    for name in model.elementwise:
        rows.append((f"{name}: elementwise", "entry-wise function"))
    for f in model.formulas:
        body = expression_text(f.expr(0, Var(f.param, (1, 1))))
        rows.append((f"{f.name}({f.param}) = {body}", "entry-wise function, by formula"))
    for var, rhs in model.definitions:
        kind = "symmetric matrix" if var.symmetric else kind_word(var.shape)  # by construction
        note = f"{kind}, {shape_text(var.shape)}"
        if var == model.output:
            note += ", output"
        rows.append((f"{var.name} = {expression_text(rhs)}", note))
    width = max((len(code) for code, _ in rows if len(code) <= 48), default=0)
    return "\n".join(f"{code.ljust(width)}  # {note}" for code, note in rows)


def shape_text(shape: Shape) -> str:
    """``m×n``."""
    return f"{shape[0]}×{shape[1]}"


def kind_word(shape: Shape) -> str:
    """``scalar``, ``vector``, ``row vector`` or ``matrix``."""
    rows, cols = shape
    if shape == (1, 1):
        return "scalar"
    if cols == 1:
        return "vector"
    if rows == 1:
        return "row vector"
    return "matrix"


def declared_kind(v: Var) -> str:
    """The declaration that gives ``v`` its shape: ``vector(n)``, ``matrix(m, n)``..."""
    rows, cols = v.shape
    if v.symmetric:
        return f"symmetric({rows})"
    if v.shape == (1, 1):
        return "scalar"
    if cols == 1:
        return f"vector({rows})"
    return f"matrix({rows}, {cols})"


def expression_text(e: Expr) -> str:
    """``e`` as text (the Unicode printer when available)."""
    try:
        from .printing.text import to_text
    except ImportError:
        return repr(e)
    return to_text(e)
