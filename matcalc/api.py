"""The Python API: ``matcalc.grad(model, wrt=[...])`` and what it returns."""

from __future__ import annotations

from typing import Iterable

from .expr import Expr
from .gradient import Derivation, derive
from .model import Model
from .printing.text import TextPrinter, greek


def _names(wrt: str | Iterable[str]) -> list[str]:
    if isinstance(wrt, str):
        return [w.strip() for w in wrt.split(",") if w.strip()]
    return [w.strip() for w in wrt]


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

    def __getitem__(self, name: str) -> Expr:
        return self.gradients[name]

    def __iter__(self):
        return iter(self.gradients.items())

    def text(self) -> str:
        """One line per variable: ``∂f/∂W = …`` in Unicode text."""
        p = TextPrinter()
        f = greek(self.of)
        return "\n".join(f"∂{f}/∂{greek(name)} = {p(g)}" for name, g in self.gradients.items())

    def size(self) -> int:
        """Distinct nodes in all gradient expressions together (shared sub-trees once)."""
        seen: set[Expr] = set()
        stack = list(self.gradients.values())
        while stack:
            e = stack.pop()
            if e in seen:
                continue
            seen.add(e)
            stack.extend(e.children())
        return len(seen)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return f"<Gradient of {self.of} w.r.t. {', '.join(self.wrt)}>\n{self.text()}"


def grad(model: str | Model, wrt: str | Iterable[str], of: str | None = None) -> Gradient:
    """Gradients of the scalar ``of`` (default: the model's output) w.r.t. ``wrt``.

    ``model`` is model text or a parsed :class:`~matcalc.model.Model`;
    ``wrt`` a list of names or a comma-separated string.
    """
    from .parser import parse

    m = parse(model) if isinstance(model, str) else model
    return Gradient(derive(m, _names(wrt), of))
