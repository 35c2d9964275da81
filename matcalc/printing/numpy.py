"""A self-contained NumPy module computing a model's value and gradients.

The generated function takes every free input by name (vectors 1-D,
matrices 2-D, scalars floats or 0-d arrays), validates their shapes, runs
the forward definitions once, evaluates the gradients with shared
sub-expressions computed once, and returns ``value, grad_X, …``. Internally
every value is 2-D (vectors as columns); diagonal matrices and all-ones
factors are never built, and matrix chains are evaluated in the cheap order.
Only identifiers checked by :func:`python_name` reach the code.
"""

from __future__ import annotations

import keyword
import unicodedata
from fractions import Fraction

from ..expr import Add, Apply, Call, Diff, EProd, Expr, Eye, Frob, Mul, Num, Ones, Transpose, Var, Zero
from ..gradient import Derivation
from .text import TextPrinter

#: NumPy spelling of each entry-wise function; ``{np}`` is the module alias, ``{x}`` the argument.
ENTRYWISE = {
    "exp": "{np}.exp({x})",
    "log": "{np}.log({x})",
    "sin": "{np}.sin({x})",
    "cos": "{np}.cos({x})",
    "tan": "{np}.tan({x})",
    "arcsin": "{np}.arcsin({x})",
    "arccos": "{np}.arccos({x})",
    "arctan": "{np}.arctan({x})",
    "tanh": "{np}.tanh({x})",
    "sigmoid": "(0.5 + 0.5 * {np}.tanh(0.5 * {x}))",
    "relu": "{np}.maximum({x}, 0.0)",
    "step": "{np}.heaviside({x}, 0.0)",
    "sq": "{np}.square({x})",
    "sqrt": "{np}.sqrt({x})",
    "abs": "{np}.abs({x})",
    "sign": "{np}.sign({x})",
    "softplus": "{np}.logaddexp(0.0, {x})",
    "log1p": "{np}.log1p({x})",
}

#: NumPy spelling of each structural function (arguments and results 2-D).
STRUCTURAL = {
    "sum": "{np}.sum({x})",
    "tr": "{np}.trace({x})",
    "diag": "{np}.diag({x}).reshape(-1, 1)",
    "Diag": "{np}.diagflat({x})",
    "vec": "{x}.reshape(-1, 1, order='F')",
    "unvec": "{x}.reshape(({r}, {c}), order='F')",
    "inv": "{np}.linalg.inv({x})",
    "det": "{np}.linalg.det({x})",
    "logdet": "{np}.linalg.slogdet({x})[1]",
    "norm1": "{np}.sum({np}.abs({x}))",
    "norm2": "{np}.sqrt({np}.sum({x} * {x}))",
    "normF": "{np}.sqrt({np}.sum({x} * {x}))",
    "softmax": "{softmax}({x})",
    "logsumexp": "{logsumexp}({x})",
}

#: A stand-in size for symbolic dimensions when choosing the order of a matrix chain.
_LARGE = 1000


def python_name(name: str) -> str:
    """A model name as a Python parameter: keywords get a trailing underscore."""
    if not name.isidentifier():
        raise ValueError(f"{name!r} is not an identifier")
    return name + "_" if keyword.iskeyword(name) or keyword.issoftkeyword(name) else name


class Names:
    """Allocates identifiers that never collide (after NFKC normalisation)."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def take(self, want: str) -> str:
        name = want
        while unicodedata.normalize("NFKC", name) in self.used or keyword.iskeyword(name):
            name += "_"
        self.used.add(unicodedata.normalize("NFKC", name))
        return name


class NumpyModule:
    """Builds the source of the module for one derivation."""

    def __init__(self, derivation: Derivation, name: str = "value_and_grad") -> None:
        self.d = derivation
        self.model = derivation.model
        self.names = Names()
        self.var: dict[str, str] = {}
        for v in self.model.inputs:
            self.var[v.name] = self.names.take(python_name(v.name))
        self.funcs: dict[tuple[str, int], str] = {}
        for g in self.model.elementwise:
            self.funcs[(g, 0)] = self.names.take(python_name(g))
            self.funcs[(g, 1)] = self.names.take(python_name("d" + g))
        for v, _ in self.model.definitions:
            self.var[v.name] = self.names.take(python_name(v.name))
        self.func_name = name
        if not name.isidentifier() or keyword.iskeyword(name):
            raise ValueError(f"{name!r} is not a valid function name")
        self.np = self.names.take("np")
        self.helpers = {h: self.names.take("_" + h) for h in ("softmax", "logsumexp", "input", "out")}
        self.dims = {d: self.names.take(d.replace("*", "_")) for d in self.model.dims}
        self.grad_names = [self.names.take("grad_" + self.var[v.name].rstrip("_")) for v in derivation.wrt]
        self.temps: dict[Expr, str] = {}
        self.lines: list[str] = []

    # ------------------------------------------------------------ expressions
    def dim(self, d) -> str:
        if isinstance(d, int):
            return str(d)
        return " * ".join(self.dims[p] if not p.isdigit() else p for p in d.split("*"))

    def size(self, d) -> int:
        if isinstance(d, int):
            return d
        return _LARGE

    def code(self, e: Expr) -> str:
        """Python source for ``e`` (a temporary's name when it has one)."""
        if e in self.temps:
            return self.temps[e]
        method = getattr(self, "_code_" + type(e).__name__)
        return method(e)

    def atom(self, e: Expr) -> str:
        text = self.code(e)
        return text if _is_atomic(text) else f"({text})"

    def _code_Var(self, e: Var) -> str:
        return self.var[e.name]

    def _code_Diff(self, e: Diff) -> str:
        raise ValueError("a differential cannot be turned into code")

    def _code_Num(self, e: Num) -> str:
        return repr(float(e.value))

    def _code_Ones(self, e: Ones) -> str:
        return f"{self.np}.ones(({self.dim(e.shape[0])}, {self.dim(e.shape[1])}))"

    def _code_Eye(self, e: Eye) -> str:
        return f"{self.np}.eye({self.dim(e.shape[0])})"

    def _code_Zero(self, e: Zero) -> str:
        return f"{self.np}.zeros(({self.dim(e.shape[0])}, {self.dim(e.shape[1])}))"

    def _code_Add(self, e: Add) -> str:
        parts = []
        full = [t for t in e.terms if not isinstance(t, Ones)]
        for t in e.terms:
            if isinstance(t, Ones) and full:
                text, neg = "1.0", False
            elif isinstance(t, Mul) and t.coef < 0:
                text, neg = self.code(Mul(-t.coef, t.scalars, t.chain, t.shape)), True
            else:
                text, neg = self.code(t), False
            if neg and not _is_product(text):
                text = f"({text})"
            parts.append(("- " if neg else "+ ") + text)
        out = " ".join(parts)
        return out[2:] if out.startswith("+ ") else "-" + out[2:]

    def _code_Mul(self, e: Mul) -> str:
        factors = []
        if e.coef != 1:
            factors.append(repr(float(e.coef)))
        for s in e.scalars:
            factors.append(self.atom(s))
        if e.chain:
            factors.append(self.chain(e.chain))
        return " * ".join(factors)

    def chain(self, chain: tuple[Expr, ...]) -> str:
        """A matrix product in the cheapest order, without diagonal or all-ones matrices."""
        items = list(chain)
        i = 0
        merged: list[tuple[str, tuple[int, int], Expr | None]] = []
        while i < len(items):
            f = items[i]
            if isinstance(f, Call) and f.fn == "Diag" and len(items) > 1:
                h = self.atom(f.args[0])
                if i + 1 < len(items):
                    nxt = items[i + 1]
                    merged.append((f"{h} * {self.atom(nxt)}", _shape(nxt.shape, self), None))
                    i += 2
                    continue
                prev_code, prev_shape, _ = merged.pop()
                merged.append((f"{_paren(prev_code)} * {h}.T", prev_shape, None))
                i += 1
                continue
            merged.append((self.atom(f), _shape(f.shape, self), f))
            i += 1
        return self._best_order(merged)

    def _best_order(self, items: list[tuple[str, tuple[int, int], Expr | None]]) -> str:
        n = len(items)
        if n == 1:
            return items[0][0]
        dims = [items[0][1][0]] + [it[1][1] for it in items]
        cost = [[0] * n for _ in range(n)]
        split = [[0] * n for _ in range(n)]
        for length in range(2, n + 1):
            for i in range(n - length + 1):
                j = i + length - 1
                cost[i][j] = None  # type: ignore[assignment]
                for k in range(i, j):
                    c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                    if cost[i][j] is None or c < cost[i][j]:
                        cost[i][j], split[i][j] = c, k
        return self._emit_product(items, split, 0, n - 1)[0]

    def _emit_product(self, items, split, i, j) -> tuple[str, Expr | None]:
        if i == j:
            return items[i][0], items[i][2]
        k = split[i][j]
        left, lnode = self._emit_product(items, split, i, k)
        right, rnode = self._emit_product(items, split, k + 1, j)
        rows = self.dim_of(items[i][1], items, i, 0)
        cols = self.dim_of(items[j][1], items, j, 1)
        if isinstance(lnode, Ones) and lnode.shape[0] == 1:
            return f"{_paren(right)}.sum(axis=0, keepdims=True)", None
        if isinstance(rnode, Ones) and rnode.shape[1] == 1:
            return f"{_paren(left)}.sum(axis=1, keepdims=True)", None
        if isinstance(lnode, Ones) and lnode.shape[1] == 1:
            return f"{self.np}.broadcast_to({right}, ({rows}, {cols}))", None
        if isinstance(rnode, Ones) and rnode.shape[0] == 1:
            return f"{self.np}.broadcast_to({left}, ({rows}, {cols}))", None
        return f"{_paren(left)} @ {_paren(right)}", None

    def dim_of(self, shape, items, idx, axis) -> str:
        node = items[idx][2]
        return self.dim(node.shape[axis]) if node is not None else str(shape[axis])

    def _code_EProd(self, e: EProd) -> str:
        top, bottom = [], []
        for f, k in e.factors:
            base = self.atom(f)
            mag = abs(k)
            if mag == 1:
                text = base
            elif mag == Fraction(1, 2):
                text = f"{self.np}.sqrt({self.code(f)})"
            elif mag.denominator == 1 and mag == 2:
                text = f"{self.np}.square({self.code(f)})"
            else:
                text = f"{base} ** {float(mag)!r}"
            (top if k > 0 else bottom).append(text)
        out = " * ".join(top) if top else "1.0"
        for b in bottom:
            out += f" / {b if _is_atomic(b) or b.endswith(')') else '(' + b + ')'}"
        return out

    def _code_Apply(self, e: Apply) -> str:
        x = self.code(e.arg)
        if e.order == 0 and e.fn in ENTRYWISE:
            return ENTRYWISE[e.fn].format(np=self.np, x=x)
        return f"{self.funcs[(e.fn, e.order)]}({x})"

    def _code_Transpose(self, e: Transpose) -> str:
        return f"{self.atom(e.arg)}.T"

    def _code_Call(self, e: Call) -> str:
        r, c = e.shape
        return STRUCTURAL[e.fn].format(
            np=self.np,
            x=self.code(e.args[0]),
            r=self.dim(r),
            c=self.dim(c),
            softmax=self.helpers["softmax"],
            logsumexp=self.helpers["logsumexp"],
        )

    def _code_Frob(self, e: Frob) -> str:
        return f"{self.np}.sum({self.atom(e.left)} * {self.atom(e.right)})"

    # ------------------------------------------------------------ module
    def share(self, roots: list[Expr]) -> list[Expr]:
        """Sub-expressions used more than once (worth a temporary), children first."""
        count: dict[Expr, int] = {}
        order: list[Expr] = []

        def visit(e: Expr) -> None:
            if isinstance(e, (Var, Num, Ones, Eye, Zero, Diff)):
                return
            count[e] = count.get(e, 0) + 1
            if count[e] > 1:
                return
            for c in e.children():
                visit(c)
            order.append(e)

        for r in roots:
            visit(r)
        return [e for e in order if count[e] > 1 and not _cheap(e)]

    def source(self) -> str:
        """The whole module as Python source."""
        np_, out = self.np, self.helpers["out"]
        inputs = self.model.inputs
        text = TextPrinter()
        params = [self.var[v.name] for v in inputs] + [self.funcs[k] for k in sorted(self.funcs)]
        doc = [f"{self.d.of.name} = {text(self._rhs(self.d.of))}"]
        doc += [f"∂{self.d.of.name}/∂{v.name} = {text(g)}" for v, g in zip(self.d.wrt, self.d.gradients)]
        body: list[str] = []
        body += self._validation()
        roots = [rhs for _, rhs in self._forward()] + list(self.d.gradients)
        shared = self.share(roots)
        shared_ids = set(shared)
        for var, rhs in self._forward():
            body.extend(self._temps_for(rhs, shared, shared_ids))
            body.append(f"{self.var[var.name]} = {self.code(rhs)}")
        for gname, v, g in zip(self.grad_names, self.d.wrt, self.d.gradients):
            body.extend(self._temps_for(g, shared, shared_ids))
            r, c = v.shape
            kind = "scalar" if v.shape == (1, 1) else ("vector" if c == 1 else "matrix")
            body.append(f"{gname} = {out}({self.code(g)}, ({self.dim(r)}, {self.dim(c)}), '{kind}')")
        value = self.var[self.d.of.name]
        body.append(f"return {out}({value}, (1, 1), 'scalar'), " + ", ".join(self.grad_names))
        lines = [
            f'"""Generated by matcalc: {self.func_name}({", ".join(params)}).',
            "",
            *doc,
            '"""',
            "",
            f"import numpy as {np_}",
            "",
            "",
            *self._helpers(),
            f"def {self.func_name}({', '.join(params)}):",
            f'    """Value of {self.d.of.name} and its gradients w.r.t. {", ".join(v.name for v in self.d.wrt)}.',
            "",
            *[f"    {line}" for line in self._param_doc()],
            "",
            f"    Returns ({self.d.of.name}, " + ", ".join(f"d{self.d.of.name}/d{v.name}" for v in self.d.wrt) + ").",
            '    """',
            *[f"    {line}" for line in body],
            "",
        ]
        return "\n".join(lines)

    def _rhs(self, var: Var) -> Expr:
        found = self.model.definition(var.name)
        return found[1] if found else var

    def _forward(self) -> list[tuple[Var, Expr]]:
        out = []
        for var, rhs in self.model.definitions:
            out.append((var, rhs))
            if var.name == self.d.of.name:
                break
        return out

    def _temps_for(self, root: Expr, shared: list[Expr], shared_ids: set[Expr]) -> list[str]:
        lines = []
        inside = _nodes(root) & shared_ids
        for e in shared:
            if e in inside and e not in self.temps:
                name = self.names.take(f"t{len(self.temps)}")
                lines.append(f"{name} = {self.code(e)}")
                self.temps[e] = name
        return lines

    def _param_doc(self) -> list[str]:
        lines = []
        for v in self.model.inputs:
            r, c = v.shape
            if v.shape == (1, 1):
                kind = "a float"
            elif c == 1:
                kind = f"an array of shape ({r},)"
            else:
                kind = f"an array of shape ({r}, {c})" + (", symmetric" if v.symmetric else "")
            lines.append(f"{self.var[v.name]}: {kind}")
        for (g, order), name in sorted(self.funcs.items()):
            lines.append(f"{name}: a callable, {g}{chr(39) * order} applied entry-wise")
        return lines

    def _validation(self) -> list[str]:
        lines = []
        bound: set[str] = set()
        for v in self.model.inputs:
            r, c = v.shape
            name = self.var[v.name]
            kind = "scalar" if v.shape == (1, 1) else ("vector" if c == 1 else "matrix")
            lines.append(f"{name} = {self.helpers['input']}({name}, {v.name!r}, '{kind}')")
            for axis, d in ((0, r), (1, c)):
                if kind != "matrix" and axis == 1:
                    continue
                if isinstance(d, str) and d in self.dims and d not in bound:
                    lines.append(f"{self.dims[d]} = {name}.shape[{axis}]")
                    bound.add(d)
        for v in self.model.inputs:
            r, c = v.shape
            if v.shape == (1, 1):
                continue
            name = self.var[v.name]
            if c == 1:
                got, want, label = f"{name}.shape[:1]", f"({self.dim(r)},)", f"({r},)"
                lines.append(f"if {name}.shape[0] != {self.dim(r)}:")
            else:
                got, want, label = f"{name}.shape", f"({self.dim(r)}, {self.dim(c)})", f"({r}, {c})"
                lines.append(f"if {name}.shape != {want}:")
            lines.append(
                f"    raise ValueError(f\"{v.name} must have shape {label} = {{{want}}} "
                f"to fit the other inputs, got {{{got}}}\")"
            )
        return lines

    def _helpers(self) -> list[str]:
        np_ = self.np
        h = self.helpers
        return [
            f"def {h['input']}(value, name, kind):",
            "    array = " + np_ + ".asarray(value, dtype=" + np_ + ".float64)",
            "    if kind == 'scalar':",
            "        if array.size != 1:",
            "            raise ValueError(f'{name} must be a scalar, got an array of shape {array.shape}')",
            "        return array.reshape(1, 1)",
            "    if kind == 'vector':",
            "        if array.ndim != 1:",
            "            raise ValueError(f'{name} must be a 1-D array (a vector), got shape {array.shape}')",
            "        return array.reshape(-1, 1)",
            "    if array.ndim != 2:",
            "        raise ValueError(f'{name} must be a 2-D array (a matrix), got shape {array.shape}')",
            "    return array",
            "",
            "",
            f"def {h['out']}(value, shape, kind):",
            f"    array = {np_}.broadcast_to({np_}.asarray(value, dtype={np_}.float64), shape)",
            "    if kind == 'scalar':",
            "        return array.item()",
            "    if kind == 'vector':",
            "        return array.reshape(-1).copy()",
            "    return array if array.flags.writeable else array.copy()",
            "",
            "",
            f"def {h['softmax']}(x):",
            f"    z = {np_}.exp(x - x.max())",
            "    return z / z.sum()",
            "",
            "",
            f"def {h['logsumexp']}(x):",
            "    m = x.max()",
            f"    return m + {np_}.log({np_}.exp(x - m).sum())",
            "",
            "",
        ]


def _nodes(root: Expr) -> set[Expr]:
    seen: set[Expr] = set()
    stack = [root]
    while stack:
        e = stack.pop()
        if e not in seen:
            seen.add(e)
            stack.extend(e.children())
    return seen


def _shape(shape, mod: NumpyModule) -> tuple[int, int]:
    return (mod.size(shape[0]), mod.size(shape[1]))


def _cheap(e: Expr) -> bool:
    return isinstance(e, Transpose) and isinstance(e.arg, Var)


def _is_atomic(text: str) -> bool:
    if text.isidentifier():
        return True
    depth = 0
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0 and ch in " +-*/@":
            if ch == "-" and i > 0 and text[i - 1] in "e":
                continue
            return False
    return True


def _is_product(text: str) -> bool:
    depth = 0
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0 and ch in "+-":
            return False
    return True


def _paren(text: str) -> str:
    return text if _is_atomic(text) else f"({text})"


def numpy_source(derivation: Derivation, name: str = "value_and_grad") -> str:
    """The source of a NumPy module computing the value and gradients of ``derivation``."""
    return NumpyModule(derivation, name).source()
