"""Shrinking: a failing model made smaller while it fails the same way."""

from __future__ import annotations

from collections.abc import Sequence

from .check import Case, Outcome, check_case
from .generate import Decl, Def, Fun, Node, Printer, Statement

# ---------------------------------------------------------------- shrinking


def failure_kind(out: Outcome) -> str:
    """What went wrong, without the particulars (so that a smaller model can fail alike)."""
    head = out.detail.split("\n")[0]
    for prefix in ("matcalc raised", "the generated module raised"):
        if head.startswith(prefix):
            return " ".join(head.split()[: len(prefix.split()) + 1]).rstrip(":")
    if "relative error" in head:
        return "gradient"
    return head.split(":")[0].split(" ")[0]


def _uses(statements: Sequence[Statement]) -> set[str]:
    names: set[str] = set()
    for st in statements:
        if isinstance(st, (Def, Fun)):
            stack = [st.expr if isinstance(st, Def) else st.body]
            while stack:
                n = stack.pop()
                if n.op in ("name", "call"):
                    names.add(str(n.value))
                stack.extend(n.kids)
    return names


def _simpler(statements: tuple[Statement, ...], wrt: tuple[str, ...]):
    """Candidate simplifications of a model, roughly the biggest cuts first."""
    defs = [i for i, st in enumerate(statements) if isinstance(st, Def)]
    for i in defs[:-1]:  # drop a definition
        yield statements[:i] + statements[i + 1 :], wrt
    for k in range(len(wrt)):  # differentiate w.r.t. fewer names
        if len(wrt) > 1:
            yield statements, wrt[:k] + wrt[k + 1 :]
    for i in defs:  # replace a sub-expression by one of its operands
        st = statements[i]
        assert isinstance(st, Def)
        for new in _smaller_trees(st.expr):
            yield statements[:i] + (Def(st.name, new),) + statements[i + 1 :], wrt
    used = _uses(statements) | set(wrt)
    for i, st in enumerate(statements):  # drop functions nothing calls
        if isinstance(st, Fun) and st.name not in used:
            yield statements[:i] + statements[i + 1 :], wrt
    for i, st in enumerate(statements):  # drop declarations of unused names
        if isinstance(st, Decl):
            keep = tuple(n for n in st.names if n in used)
            if keep != st.names:
                rest = (Decl(keep, st.kind, st.dims),) if keep else ()
                yield statements[:i] + rest + statements[i + 1 :], wrt


def _smaller_trees(e: Node):
    """``e`` with one sub-tree replaced by one of its children (outermost first)."""
    for kid in e.kids:
        yield kid
    for j, kid in enumerate(e.kids):
        for new in _smaller_trees(kid):
            yield Node(e.op, e.value, e.kids[:j] + (new,) + e.kids[j + 1 :], e.spelling)


def shrink(out: Outcome, budget: int = 300) -> Outcome:
    """A smaller model failing the same way (greedy: keep any simplification that still fails)."""
    assert out.case is not None
    kind = failure_kind(out)
    best = out
    tries = 0
    improved = True
    while improved and tries < budget:
        improved = False
        case = best.case
        assert case is not None
        for statements, wrt in _simpler(case.statements, case.wrt):
            tries += 1
            if tries > budget:
                break
            text = Printer(plain=True).model(statements)
            of = case.of if case.of in {s.name for s in statements if isinstance(s, Def)} else None
            if case.of and of is None:
                continue
            inputs = {k: v for k, v in case.inputs.items() if k in _uses(statements) or k in wrt}
            trial = Case(text, wrt, of, statements, case.dims, inputs, case.symmetric, case.functions)
            try:
                res = check_case(trial)
            except Exception:  # a candidate the harness itself cannot handle
                continue
            if res.status == "failed" and failure_kind(res) == kind:
                best, improved = res, True
                break
    return best


