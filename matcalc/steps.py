"""The step-by-step derivation: ``df = …`` to ``∂f/∂X = G``, one rule per line.

Built from the trace the gradient engine keeps: the state is the list of
terms ``G : L`` whose sum is ``df``; a chain-rule step replaces the terms in
``dV`` by ``(ΣG) : dV`` with ``dV`` written out from ``V``'s definition, and
each Frobenius identity replaces one term by the pieces it produced.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import build as b
from .expr import Adjoint, Diff, Expr, Frob
from .gradient import Derivation
from .printing.base import Printer
from .printing.indexed import Run, Spelling, fold
from .printing.latex import latex_name
from .printing.text import greek

Term = tuple[Expr, Expr]


@dataclass(frozen=True)
class Step:
    """One line: ``df = Σ G_i : L_i``, and the rule (text, LaTeX) that gave it."""

    terms: tuple[Term, ...]
    rule: str
    rule_latex: str
    #: the left side when it is not ``df``: the terms one chain step expands (a deep
    #: derivation writes each step's own part, :func:`chain_blocks`)
    lhs: tuple[Term, ...] | None = None


def derivation_steps(d: Derivation) -> list[Step]:
    """The ordered equations from ``df`` to the separated form ``Σ G_X : dX``; for a
    derivation that names adjoints, each chain step's own part (:func:`chain_blocks`)."""
    if d.adjoints:
        return chain_blocks(d)
    state: list[Term] = [(b.ONE, Diff(d.of))]
    steps: list[Step] = []
    wrt = {v.name for v in d.wrt}
    for chain in d.steps:
        name = chain.var.name
        idx = [i for i, (_, lin) in enumerate(state) if isinstance(lin, Diff) and lin.var.name == name]
        if len(idx) > 1:
            state = [t for i, t in enumerate(state) if i not in idx[1:]]
            state[idx[0]] = (chain.coefficient if chain.value is None else chain.value, Diff(chain.var))
            steps.append(Step(tuple(state), f"collect the terms in d{greek(name)}", r"\text{collect terms}"))
        if name in wrt and chain.var != d.of:
            steps.append(
                Step(tuple(state), f"read off ∂{greek(d.of.name)}/∂{greek(name)}", r"\text{read off}")
            )
        if isinstance(chain.coefficient, Adjoint):
            state[idx[0]] = (chain.coefficient, Diff(chain.var))
            steps.append(
                Step(
                    tuple(state),
                    f"name δ{greek(name)} = ∂{greek(d.of.name)}/∂{greek(name)}",
                    rf"\text{{name }}\delta {latex_name(name)}",
                )
            )
        state[idx[0]] = (chain.coefficient, chain.differential)
        steps.append(
            Step(
                tuple(state),
                f"differential of {greek(name)}",
                rf"\text{{differential of }}{latex_name(name)}",
            )
        )
        for rule, before, pieces in chain.moves:
            i = state.index(before)
            state[i : i + 1] = list(pieces)
            steps.append(Step(tuple(state), rule.text, rule.latex))
    groups: dict[str, list[Term]] = {}
    for g, lin in state:
        if isinstance(lin, Diff) and lin.var.name in wrt:
            groups.setdefault(lin.var.name, []).append((g, lin))
    collected = [(b.add(*(g for g, _ in terms)), terms[0][1]) for terms in groups.values()]
    if len(collected) != len(state) and collected:
        steps.append(
            Step(tuple(collected), "collect the terms in each differential", r"\text{collect terms}")
        )
    readable = [(d[lin.var.name], lin) for _, lin in collected]
    if readable != collected:
        steps.append(Step(tuple(readable), "simplify", r"\text{simplify}"))
    return steps


def chain_blocks(d: Derivation) -> list[Step]:
    """The derivation as one block per chain step, each an equation of its own: the terms
    in ``dV`` (``δV : dV``) equal ``V``'s differential, moved term by term to the pieces it
    gives; then ``df`` once, as the sum of what the blocks left. Each line writes only its
    step's part, so the whole is linear in the depth of the model."""
    state: list[Term] = [(b.ONE, Diff(d.of))]
    steps: list[Step] = []
    for chain in d.steps:
        name = chain.var.name
        idx = [i for i, (_, lin) in enumerate(state) if isinstance(lin, Diff) and lin.var.name == name]
        lhs = tuple(state[i] for i in idx)
        collected = chain.coefficient if chain.value is None else chain.value
        if len(idx) > 1:
            steps.append(Step(((collected, Diff(chain.var)),), f"collect the terms in d{greek(name)}",
                              r"\text{collect terms}", lhs))
        if isinstance(chain.coefficient, Adjoint):
            steps.append(
                Step(
                    ((chain.coefficient, Diff(chain.var)),),
                    f"name δ{greek(name)} = ∂{greek(d.of.name)}/∂{greek(name)}",
                    rf"\text{{name }}\delta {latex_name(name)}",
                    lhs,
                )
            )
        local: list[Term] = [(chain.coefficient, chain.differential)]
        rule = rf"\text{{differential of }}{latex_name(name)}"
        steps.append(Step(tuple(local), f"differential of {greek(name)}", rule, lhs))
        for rule, before, pieces in chain.moves:
            i = local.index(before)
            local[i : i + 1] = list(pieces)
            steps.append(Step(tuple(local), rule.text, rule.latex, lhs))
        rest = [t for i, t in enumerate(state) if i not in idx]
        state = rest[: idx[0]] + local + rest[idx[0] :]
    wrt = {v.name for v in d.wrt}
    groups: dict[str, list[Term]] = {}
    for g, lin in state:
        if isinstance(lin, Diff) and lin.var.name in wrt:
            groups.setdefault(lin.var.name, []).append((g, lin))
    collected_terms = [(b.add(*(g for g, _ in terms)), terms[0][1]) for terms in groups.values()]
    if collected_terms:
        steps.append(Step(tuple(collected_terms), "collect the terms of every step", r"\text{collect terms}"))
        readable = [(d[lin.var.name], lin) for _, lin in collected_terms]
        if readable != collected_terms:
            steps.append(Step(tuple(readable), "simplify", r"\text{simplify}"))
    return steps


def block_rows(steps: list[Step], p: Printer, latex: bool = False) -> list[tuple[str | None, str, str]]:
    """``(left side, equation, rule)`` per displayed line of :func:`chain_blocks`: the left
    side where a block begins (``None`` where a block goes on); a line that prints as the
    line before in the same block is merged."""
    rows: list[tuple[str | None, str, str]] = []
    last: tuple | None = None
    for st in steps:
        line = format_terms(st.terms, p)
        block = st.lhs
        same = bool(rows) and block == last
        if same and rows[-1][1] == line:
            continue
        head = None if same else (format_terms(block, p) if block else "")  # "": ``df``
        rows.append((head, line, st.rule_latex if latex else st.rule))
        last = block
    return rows


#: Separate the rows of a block, and a row's equation from its rule, in the text folded by
#: :func:`folded_blocks` (characters no printer writes).
_ROW, _RULE = "\x1d", "\x1e"


def folded_blocks(
    rows: list[tuple[str | None, str, str]], sp: Spelling, avoid: frozenset[str] = frozenset()
) -> list[tuple[Run | None, str, list[tuple[str, str]]]]:
    """The rows of :func:`block_rows` as blocks ``(run, left side, [(equation, rule)])``; a run of
    blocks alike but for the numbers ending names (the same chain step at every depth of a
    deep model) is one block written with an index, ``run`` saying its range (``None``: a block
    as it is). The derivation of an L-step chain is then as long at every L."""
    blocks: list[tuple[str, list[tuple[str, str]]]] = []
    for head, line, rule in rows:
        if head is not None or not blocks:
            blocks.append((head or "", []))
        blocks[-1][1].append((line, rule))
    items = [_ROW.join([lead] + [f"{line}{_RULE}{rule}" for line, rule in body]) for lead, body in blocks]
    out: list[tuple[Run | None, str, list[tuple[str, str]]]] = []
    i = 0
    for x in fold(items, sp, avoid):
        if isinstance(x, str):
            lead, body = blocks[i]
            out.append((None, lead, body))
            i += 1
        else:
            lead, *body = x.text.split(_ROW)
            pairs = [tuple(r.split(_RULE)) for r in body]
            out.append((x, lead, [(line, rule) for line, rule in pairs]))
            i += x.length
    return out


def format_terms(terms: tuple[Term, ...], p: Printer) -> str:
    """``G₁ : L₁ + G₂ : L₂`` with scalar coefficients written as products."""
    if not terms:
        return "0"
    texts = []
    for g, lin in terms:
        if g == b.ONE:
            texts.append(p(lin))
        elif g.is_scalar and not isinstance(lin, Diff):
            texts.append(p(b.mul(g, lin)))
        else:
            texts.append(p(Frob(g, lin)))
    return p.sum_of(texts)


def step_rows(steps: list[Step], p: Printer, latex: bool = False) -> list[tuple[str, str]]:
    """``(equation, rule)`` per displayed line; a step that prints as the line before is merged."""
    rows: list[tuple[str, str]] = []
    for st in steps:
        line = format_terms(st.terms, p)
        if not rows or rows[-1][0] != line:
            rows.append((line, st.rule_latex if latex else st.rule))
    return rows
