"""Jupyter: ``%load_ext matcalc`` and the ``%%matcalc`` cell magic, and how results display.

A gradient displays as its rendered LaTeX with the step-by-step derivation folded
under it (an HTML ``<details>`` block, typeset by the notebook's own MathJax); the
cell magic differentiates the model written in the cell::

    %%matcalc --wrt W [--of f] [--steps] [--convention mc]
    x: vector(n); W: matrix(m, n)
    f = norm2(W*x)^2

and puts the :class:`~matcalc.api.Gradient` in the notebook's namespace as ``_matcalc``
(or the name given with ``--as``). ``--steps`` shows the derivation unfolded;
``--kind jacobian`` or ``--kind hessian`` (``--jacobian``, ``--hessian``) asks for that
kind instead, shown the same way (``--layout`` for a Jacobian's).
"""

from __future__ import annotations

import argparse
import html
import shlex

from .api import Gradient
from .ask import KINDS
from .errors import MatcalcError


class GradientView:
    """How a :class:`~matcalc.api.Gradient` (or a Jacobian, a Hessian) displays: LaTeX, the
    derivation folded under it."""

    def __init__(self, gradient: Gradient, steps_open: bool = False) -> None:
        self.gradient = gradient
        self.steps_open = steps_open

    def _repr_html_(self) -> str:
        g = self.gradient
        result = html.escape("$$" + g.latex() + "$$", quote=False)
        steps = html.escape("$$" + g.steps_latex() + "$$", quote=False)
        opened = " open" if self.steps_open else ""
        n = len(g.steps)
        return (
            f'<div class="matcalc-result">{result}'
            f"<details{opened}><summary>derivation ({n} step{'s' if n != 1 else ''})</summary>"
            f"{steps}</details></div>"
        )

    def _repr_latex_(self) -> str:
        return "$$" + self.gradient.latex() + "$$"

    def __repr__(self) -> str:
        g = self.gradient
        return g.steps_text() if self.steps_open else g.text()


class ErrorView:
    """A located error as the notebook shows it: the message, the line, the caret."""

    def __init__(self, err: MatcalcError) -> None:
        self.message = str(err)

    def _repr_html_(self) -> str:
        return f'<pre class="matcalc-error">{html.escape(self.message)}</pre>'

    def __repr__(self) -> str:
        return self.message


USAGE = ("%%matcalc --wrt X[,Y...] [--kind gradient|jacobian|hessian] [--of NAME] [--steps]"
         " [--layout numerator|denominator] [--convention mc] [--as NAME]")


class _Parser(argparse.ArgumentParser):
    """An argument parser that raises instead of printing and exiting."""

    def error(self, message: str):
        raise MatcalcError(f"%%matcalc: {message}; usage: {USAGE}")


def magic_parser() -> argparse.ArgumentParser:
    """The arguments of ``%%matcalc``."""
    p = _Parser(prog="%%matcalc", add_help=False)
    p.add_argument("--wrt", required=True, metavar="X[,Y...]")
    p.add_argument("--of", metavar="NAME")
    p.add_argument("--kind", choices=KINDS, default="gradient")
    p.add_argument("--jacobian", dest="kind", action="store_const", const="jacobian")
    p.add_argument("--hessian", dest="kind", action="store_const", const="hessian")
    p.add_argument("--layout", choices=("numerator", "denominator"))
    p.add_argument("--steps", action="store_true")
    p.add_argument("--convention", default="matcalc")
    p.add_argument("--as", dest="name", default="_matcalc", metavar="NAME")
    return p


def run_cell(line: str, cell: str, namespace: dict | None = None) -> GradientView | ErrorView:
    """What ``%%matcalc LINE`` shows for the model ``cell`` (stores the result in ``namespace``)."""
    from .ask import derivative

    try:
        try:
            words = shlex.split(line)
        except ValueError as err:
            raise MatcalcError(f"%%matcalc: {err}; usage: {USAGE}") from None
        args = magic_parser().parse_args(words)
        if not args.name.isidentifier():
            raise MatcalcError(f"--as {args.name!r} is not a Python name")
        if args.layout and args.kind != "jacobian":
            raise MatcalcError("%%matcalc: --layout is a Jacobian's; add --kind jacobian")
        g = derivative(args.kind, cell, args.wrt, of=args.of, layout=args.layout, convention=args.convention)
    except MatcalcError as err:
        return ErrorView(err)
    if namespace is not None:
        namespace[args.name] = g
    return GradientView(g, steps_open=args.steps)


def load_ipython_extension(ipython) -> None:
    """Register the ``%%matcalc`` cell magic (``%load_ext matcalc``)."""

    def matcalc(line: str, cell: str):
        return run_cell(line, cell, ipython.user_ns)

    ipython.register_magic_function(matcalc, magic_kind="cell", magic_name="matcalc")
