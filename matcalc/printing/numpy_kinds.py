"""Modules for Jacobians and Hessians in every code target: ``value_and_jacobian``,
``value_grad_and_hessian`` and ``hvp``, as the contract (``LANGUAGE.md``) fixes them.

Ordinary sub-expressions are computed by the target's gradient module over the
shared lowering (:class:`~matcalc.codegen.lower.Lowering`: cheapest chain order,
shared sub-expressions, ``Diag(h) X`` as a row scaling, the target's spellings);
:class:`KindMixin` adds what a derivative kind needs to any target's module
class, and :data:`KIND_SPELL` holds, per target, the few spellings of its own
(taking rows or columns by an index, and the helpers that apply ⊗ and K). The explicit-matrix notation
is never materialised on the way: a Kronecker product with an identity is
filled block by block or applied through a reshape, ``K(m,n)`` is an index
permutation, ``Diag(v)`` a broadcast product; only the final matrix is
assembled. ``hvp`` evaluates the map ``H[dX]`` and never builds ``H``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction

from .. import build as b
from ..expr import Add, Adjoint, Call, Diff, EProd, Expr, Eye, MatPow, Mul, Transpose, Var
from ..gradient import Derivation
from ..kinds import HessianDerivation, JacobianDerivation
from ..kron import Commutation, Kron, has_structure, is_kron
from .kron import named_lines
from .numpy import CodegenError, NumpyModule, _paren, python_name
from .text import TextPrinter, where_lines


@dataclass(frozen=True)
class _Outputs:
    """What :class:`NumpyModule` reads of a derivation: the model, where the forward pass
    stops (``of``), the expressions to compute (``gradients``; ``wrt`` left empty) and the
    named adjoints they may use (``adjoints``, each with its value)."""

    model: object
    of: Var
    wrt: tuple = ()
    gradients: tuple = ()
    adjoints: tuple = ()


#: One output of a generated function: the expression, its kind
#: (``scalar``, ``vector``, ``matrix`` — or ``block``, a 2-D matrix assembled if structured).
Output = tuple[Expr, str]


def _kind(v: Expr) -> str:
    if v.shape == (1, 1):
        return "scalar"
    return "vector" if v.shape[1] == 1 else "matrix"


#: Per target: the helpers that apply ⊗ and K without building them (``kron``: the
#: source lines, ``{np}`` the module alias, the helpers' names by key), and how rows and
#: columns are taken by an index list (``{x}``/``{a}`` the array, ``{i}`` the index).
#: NumPy fills the result in place; the other targets' arrays may be immutable (JAX) or lazy
#: (Dask), so their helpers take the array namespace and only reshape and multiply.
KIND_SPELL: dict[str, dict[str, str]] = {
    "numpy": {"rows": "{a}[{i}]", "cols": "{a}[:, {i}]"},
    "torch": {
        "rows": "{np}.index_select({x}, 0, {np}.as_tensor({i}, device={device}))",
        "cols": "{np}.index_select({x}, 1, {np}.as_tensor({i}, device={device}))",
    },
    "jax": {"rows": "{a}[{np}.asarray({i})]", "cols": "{a}[:, {np}.asarray({i})]"},
    "array-api": {
        "rows": "{np}.take({x}, {np}.asarray({i}, device={device}), axis=0)",
        "cols": "{np}.take({x}, {np}.asarray({i}, device={device}), axis=1)",
    },
}


class KindMixin:
    """One generated function over a model: validation, forward pass, outputs; mixed into a
    target's module class (:func:`kind_class`)."""

    def __init__(
        self,
        model,
        of: Var,
        name: str,
        directions: tuple[Var, ...] = (),
        second: bool = False,
        adjoints: tuple = (),
        roots: tuple = (),
    ):
        """``adjoints``: the named adjoints the outputs may use; ``roots``: the outputs (for the
        derivatives of functions defined by formula they apply)."""
        self.directions = directions
        extended = replace(model, inputs=model.inputs + directions) if directions else model
        outputs = _Outputs(extended, of, gradients=tuple(roots), adjoints=tuple(adjoints))
        super().__init__(outputs, name)  # type: ignore[call-arg]
        self.base_inputs = model.inputs
        if second:
            for g in model.elementwise:
                self.funcs[(g, 2)] = self.names.take(python_name("dd" + g))
        self.kron_helpers = {h: self.names.take("_" + h) for h in ("kron", "kron_left", "kron_right", "perm")}
        self.pieces: dict[Expr, str] = {}
        self.bound_count = 0

    # ------------------------------------------------------------ ordinary pieces of structured outputs
    def _collect(self, e: Expr, into: list[Expr]) -> None:
        """The ordinary sub-expressions of a structured ``e`` that are computed as arrays."""
        if not has_structure(e):
            if _is_diag(e):
                into.append(e.args[0])  # a diagonal is applied as a broadcast product
            elif not isinstance(e, Eye):
                into.append(e)
            return
        if isinstance(e, Add):
            for t in e.terms:
                if not isinstance(t, Eye):  # applied as the operand itself
                    self._collect(t, into)
        elif isinstance(e, Mul):
            for sc in e.scalars:
                self._collect(sc, into)
            for group in _groups(e.chain):
                if isinstance(group, list):
                    g = b.mul(*group)
                    if len(group) == 1 and isinstance(g, Call) and g.fn == "Diag":
                        into.append(g.args[0])  # applied as a broadcast product, never built
                    elif not isinstance(g, Eye):
                        into.append(g)
                else:
                    self._collect(group, into)
        elif is_kron(e):
            for side in e.args:
                if not isinstance(side, Eye):
                    self._collect(side, into)
        elif isinstance(e, EProd):
            for f, _ in e.factors:
                self._collect(f, into)
        elif isinstance(e, (Transpose, MatPow)):
            self._collect(e.children()[0], into)
        elif not isinstance(e, Commutation):
            raise CodegenError(f"no code for {type(e).__name__} in an explicit matrix")

    def _piece(self, e: Expr) -> str:
        return self.pieces[e]

    # ------------------------------------------------------------ structured code
    def value(self, e: Expr) -> str:
        """Code for the dense array of ``e``."""
        if not has_structure(e):
            return self._dense(e)
        if isinstance(e, Add):
            return "(" + " + ".join(f"({self.value(t)})" for t in e.terms) + ")"
        if isinstance(e, Mul):
            factors = _groups(e.chain)
            # start from a dense factor, else from a structured one; Diag and I are only applied
            if not factors:
                scale = self._scale(e) or "1.0"
                return f"-{_paren(scale)}" if e.coef == -1 else scale
            dense = [i for i, f in enumerate(factors) if isinstance(f, list) and b.mul(*f) in self.pieces]
            structured = [i for i, f in enumerate(factors) if not isinstance(f, list)]
            first = dense[0] if dense else structured[0] if structured else 0
            f0 = factors[first]
            cur = self._dense(b.mul(*f0)) if isinstance(f0, list) else self.value(f0)
            rest, left = factors[first + 1 :], factors[:first]
            for f in reversed(left):
                cur = self.left(f, cur)
            for f in rest:
                cur = self.right(cur, f)
            return self._scaled(e, cur)
        if is_kron(e):
            return self._kron_call("kron", e, [])
        if isinstance(e, Commutation):  # the result itself: the identity's rows permuted
            eye = self.spell("eye", r=f"{self.dim(e.m)} * {self.dim(e.n)}")
            return self._take("rows", eye, f"{self.kron_helpers['perm']}({self.dim(e.m)}, {self.dim(e.n)})")
        if isinstance(e, Transpose):
            return f"{_paren(self.value(e.arg))}.T"
        if isinstance(e, MatPow):  # a power of a structured matrix the rules left (rare): dense
            return self.spell("matrix_power", x=self.value(e.base), k=str(e.k))
        if isinstance(e, EProd):  # entry-wise, of a result that is small (a row, a scalar)
            top, bottom = [], []
            for f, p in e.factors:
                term = _paren(self.value(f)) + ("" if abs(p) == 1 else f" ** {float(abs(p))!r}")
                (top if p > 0 else bottom).append(term)
            return " * ".join(top or ["1.0"]) + "".join(f" / {t}" for t in bottom)
        raise CodegenError(f"no code for {type(e).__name__}")

    def _dense(self, g: Expr) -> str:
        """An ordinary factor as an array; a lone ``Diag`` or ``I`` only when nothing else is."""
        if g in self.pieces:
            return self.pieces[g]
        if _is_diag(g):
            piece, n = self._piece(g.args[0]), self.dim(g.shape[0])
            return self.STRUCTURAL["Diag"].format(  # type: ignore[attr-defined]
                np=self.np, x=piece, a=piece, r=n, c=n, n=n, **self._spell_locals()
            )
        if isinstance(g, Eye):  # a term of the result itself
            return self.spell("eye", r=self.dim(g.shape[0]))
        return self.value(g)

    def _scale(self, e: Mul) -> str:
        parts = [repr(float(e.coef))] if e.coef not in (1, -1) else []
        parts += [_paren(self.value(s)) for s in e.scalars]
        return " * ".join(parts)

    def _bind(self, cur: str) -> tuple[str, str]:
        """``cur`` to use first and a name for its later uses (computed once)."""
        if cur.isidentifier():
            return cur, cur
        self.bound_count += 1
        name = self.names.take(f"c{self.bound_count}")
        return f"({name} := {cur})", name

    def _scaled(self, e: Mul, cur: str) -> str:
        scale = self._scale(e)
        sign = "-" if e.coef == -1 else ""
        if scale:
            return f"{sign}{scale} * {_paren(cur)}"
        return f"{sign}{_paren(cur)}" if sign else cur

    def _kron_call(self, helper: str, e: Call, extra: list[str]) -> str:
        left, right = e.args
        (p, q), (r, s) = left.shape, right.shape
        a = "None" if isinstance(left, Eye) else self.value(left)
        c = "None" if isinstance(right, Eye) else self.value(right)
        if helper == "kron" and not self._in_place:  # the factor itself (p×p), not I ⊗ B
            a = self.spell("eye", r=self.dim(p)) if a == "None" else a
            c = self.spell("eye", r=self.dim(r)) if c == "None" else c
        dims = ", ".join(self.dim(d) for d in (p, q, r, s))
        args = [a, c, dims]
        if helper == "kron_right":
            args = [extra[0], a, c, dims]
        elif helper == "kron_left":
            args = [a, c, dims, extra[0]]
        if not self._in_place:
            args = [self.np, *args]
        return f"{self.kron_helpers[helper]}({', '.join(args)})"

    @property
    def _in_place(self) -> bool:
        """Whether the target's arrays are written in place (NumPy's helpers)."""
        return self.TARGET_NAME == "numpy"  # type: ignore[attr-defined]

    def _take(self, how: str, x: str, index: str) -> str:
        """Rows or columns of ``x`` by the index list ``index``, in the target's spelling."""
        return KIND_SPELL[self.TARGET_NAME][how].format(  # type: ignore[attr-defined]
            np=self.np, x=x, a=_paren(x), i=index, **self._spell_locals()
        )

    def left(self, f, cur: str) -> str:
        """Code for ``f @ cur``."""
        if isinstance(f, list):
            g = b.mul(*f)
            if isinstance(g, Eye):
                return cur
            if len(f) == 1 and isinstance(g, Call) and g.fn == "Diag":
                return f"{self._piece(g.args[0])} * {_paren(cur)}"
            return f"{self._piece(g)} @ {_paren(cur)}"
        if is_kron(f):
            return self._kron_call("kron_left", f, [cur])
        if isinstance(f, Commutation):
            return self._take("rows", cur, f"{self.kron_helpers['perm']}({self.dim(f.m)}, {self.dim(f.n)})")
        if isinstance(f, Add):
            cur, again = self._bind(cur)
            terms = [self.left(_as_factor(t), again if i else cur) for i, t in enumerate(f.terms)]
            return "(" + " + ".join(f"({t})" for t in terms) + ")"
        if isinstance(f, Mul):
            for g in reversed(_groups(f.chain)):
                cur = self.left(g, cur)
            return self._scaled(f, cur)
        return f"{_paren(self.value(f))} @ {_paren(cur)}"  # small structured factors: as arrays

    def right(self, cur: str, f) -> str:
        """Code for ``cur @ f``."""
        if isinstance(f, list):
            g = b.mul(*f)
            if isinstance(g, Eye):
                return cur
            if len(f) == 1 and isinstance(g, Call) and g.fn == "Diag":
                return f"{_paren(cur)} * {self._piece(g.args[0])}.T"
            return f"{_paren(cur)} @ {self._piece(g)}"
        if is_kron(f):
            return self._kron_call("kron_right", f, [cur])
        if isinstance(f, Commutation):
            return self._take("cols", cur, f"{self.kron_helpers['perm']}({self.dim(f.n)}, {self.dim(f.m)})")
        if isinstance(f, Add):
            cur, again = self._bind(cur)
            terms = [self.right(again if i else cur, _as_factor(t)) for i, t in enumerate(f.terms)]
            return "(" + " + ".join(f"({t})" for t in terms) + ")"
        if isinstance(f, Mul):
            for g in _groups(f.chain):
                cur = self.right(cur, g)
            return self._scaled(f, cur)
        return f"{_paren(cur)} @ {_paren(self.value(f))}"  # small structured factors: as arrays

    # ------------------------------------------------------------ the function
    def _needed(self, roots: list[Expr]) -> tuple[list, list[str]]:
        """The forward definitions and the named adjoints the outputs use, directly or through
        other definitions and adjoints (each in its order of computation)."""
        used: set[str] = set()
        adjoints: set[str] = set()
        stack = list(roots)
        seen: set[Expr] = set()
        while stack:
            e = stack.pop()
            if e in seen:
                continue
            seen.add(e)
            if isinstance(e, Var) and e.role == "def" and e.name in self.defs and e.name not in used:
                used.add(e.name)
                stack.append(self.defs[e.name])
            if isinstance(e, Adjoint) and e.var.name not in adjoints:
                adjoints.add(e.var.name)
                stack.append(self.adjoints[e.var.name])
            stack.extend(e.children())
        forward = [(v, rhs) for v, rhs in self._forward() if v.name in used]
        return forward, [n for n in self.adjoints if n in adjoints]

    def function(
        self, outputs: list[Output], doc: list[str], returns: str, thin: bool = False
    ) -> list[str]:
        """The source lines of the function computing ``outputs``, returned as a tuple;
        ``thin``: products of a sum of matrices with a vector are distributed (``A v + Aᵀ v``
        reads ``A`` twice instead of building ``A + Aᵀ``)."""
        out = self.helpers["out"]
        params = [self.var[v.name] for v in self.base_inputs]
        params += [self.funcs[k] for k in sorted(self.funcs)]
        params += [self.var[v.name] for v in self.directions]
        body = self._preamble() + self._validation()
        outputs = [(_push_scale(_distribute_diag(e)), kind) for e, kind in outputs]
        if thin:
            outputs = [(_distribute_thin(e), kind) for e, kind in outputs]
        ordinary: list[Expr] = []
        for e, _ in outputs:
            if has_structure(e):
                self._collect(e, ordinary)
            else:
                ordinary.append(e)
        lowered = {e: self.lower(e) for e in ordinary}
        forward, adjoints = self._needed(list(lowered.values()))
        roots = [self.defs[v.name] for v, _ in forward] + [self.adjoints[n] for n in adjoints]
        roots += list(lowered.values())
        shared = self.share(roots)
        shared_ids = set(shared)
        for var, _ in forward:
            rhs = self.defs[var.name]
            body.extend(self._temps_for(rhs, shared, shared_ids))
            body.append(f"{self.var[var.name]} = {self.argument(rhs)}")
        for n in adjoints:
            value = self.adjoints[n]
            body.extend(self._temps_for(value, shared, shared_ids))
            body.append(f"{self.adjoint_var[n]} = {self.argument(value)}")
        for e in dict.fromkeys(o for o, _ in outputs if has_structure(o)):
            mine = []
            self._collect(e, mine)
            for piece in dict.fromkeys(mine):
                if piece in self.pieces:
                    continue
                low = lowered[piece]
                body.extend(self._temps_for(low, shared, shared_ids))
                name = self.names.take(f"p{len(self.pieces)}")
                r, c = piece.shape
                # 2-D even when 1×1: a piece may stand in a matrix product
                shape = f"({self.dim(r)}, {self.dim(c)})"
                body.append(f"{name} = {out}({self.code(low)}, {shape}, 'matrix', True{self._extra()})")
                self.pieces[piece] = name
        results = []
        returned: set[str] = set()
        for i, (e, kind) in enumerate(outputs):
            name = self.names.take(f"r{i}")
            r, c = e.shape
            shape = f"({self.dim(r)}, {self.dim(c)})"
            if has_structure(e):  # a matrix assembled here (or a gradient holding a model's kron)
                body.append(f"{name} = {out}({self.value(e)}, {shape}, '{kind}', True{self._extra()})")
            else:
                low = lowered[e]
                body.extend(self._temps_for(low, shared, shared_ids))
                alias = self.alias(low)
                # a temporary not returned before is handed out as it is; anything else is copied
                fresh = alias is None or (alias in self.temps.values() and alias not in returned)
                if alias is not None:
                    returned.add(alias)
                body.append(f"{name} = {out}({self.code(low)}, {shape}, '{kind}', {fresh}{self._extra()})")
            results.append(name)
        body.append(f"return ({', '.join(results)}{',' if len(results) == 1 else ''})")
        return [
            f"def {self.func_name}({', '.join(params)}):",
            *[
                f"    {line}" if line else ""
                for line in ['"""' + doc[0], *doc[1:], *self._param_doc(), "", returns, '"""']
            ],
            *[f"    {line}" for line in body],
            "",
        ]

    def kron_helper_source(self) -> list[str]:
        """The module-level helpers that apply ⊗ and K without building them."""
        if not self._in_place:
            return self._neutral_kron_helpers()
        np_, h = self.np, self.kron_helpers
        return [
            f"def {h['kron']}(A, B, p, q, r, s):",
            '    """A ⊗ B (None: an identity, never built), assembled in place."""',
            "    if A is not None and B is not None:  # one pass, straight into the result",
            f"        out = {np_}.empty((p * r, q * s))",
            f"        {np_}.multiply(A[:, None, :, None], B[None, :, None, :], out=out.reshape(p, r, q, s))",
            "        return out",
            f"    out = {np_}.zeros((p * r, q * s))",
            "    v = out.reshape(p, r, q, s)",
            f"    i = {np_}.arange(p if A is None else r)",
            "    if A is None:",
            "        v[i, :, i, :] = B",
            "    else:",
            "        v[:, i, :, i] = A",
            "    return out",
            "",
            "",
            f"def {h['kron_left']}(A, B, p, q, r, s, M):",
            '    """(A ⊗ B) @ M without forming A ⊗ B (None: an identity)."""',
            "    Z = M.reshape(q, s, -1)",
            "    if B is not None:",
            f"        Z = {np_}.matmul(B, Z)",
            "    if A is not None:",
            f"        Z = {np_}.tensordot(A, Z, axes=(1, 0))",
            "    return Z.reshape(p * r, -1)",
            "",
            "",
            f"def {h['kron_right']}(M, A, B, p, q, r, s):",
            '    """M @ (A ⊗ B) without forming A ⊗ B (None: an identity)."""',
            "    Y = M.reshape(-1, p, r)",
            "    if B is not None:",
            f"        Y = {np_}.matmul(Y, B)",
            "    if A is not None:",
            f"        Y = {np_}.matmul(A.T, Y)",
            "    return Y.reshape(-1, q * s)",
            "",
            "",
            f"def {h['perm']}(m, n):",
            '    """The rows K(m,n) picks: (K(m,n) M)[i] = M[perm[i]]; K(m,n) vec(A) = vec(Aᵀ)."""',
            f"    return {np_}.arange(m * n).reshape((m, n), order='F').T.reshape(-1, order='F')",
            "",
            "",
        ]

    def _neutral_kron_helpers(self) -> list[str]:
        """The helpers written with the namespace ``ns`` the call passes, reshapes and matrix
        products only (no in-place writes: JAX's arrays are immutable, Dask's lazy)."""
        h = self.kron_helpers
        return [
            f"def {h['kron']}(ns, A, B, p, q, r, s):",
            '    """A ⊗ B, assembled by one broadcast product of its factors."""',
            "    return ns.reshape(A[:, None, :, None] * B[None, :, None, :], (p * r, q * s))",
            "",
            "",
            f"def {h['kron_left']}(ns, A, B, p, q, r, s, M):",
            '    """(A ⊗ B) @ M without forming A ⊗ B (None: an identity)."""',
            "    Z = ns.reshape(M, (q, s, -1))",
            "    if B is not None:",
            "        Z = ns.matmul(B, Z)",
            "    if A is not None:",
            "        Z = ns.reshape(ns.matmul(A, ns.reshape(Z, (q, -1))), (p, r, -1))",
            "    return ns.reshape(Z, (p * r, -1))",
            "",
            "",
            f"def {h['kron_right']}(ns, M, A, B, p, q, r, s):",
            '    """M @ (A ⊗ B) without forming A ⊗ B (None: an identity)."""',
            "    Y = ns.reshape(M, (-1, p, r))",
            "    if B is not None:",
            "        Y = ns.matmul(Y, B)",
            "    if A is not None:",
            "        Y = ns.matmul(A.T, Y)",
            "    return ns.reshape(Y, (-1, q * s))",
            "",
            "",
            f"def {h['perm']}(m, n):",
            '    """The rows K(m,n) picks: (K(m,n) M)[i] = M[perm[i]]; K(m,n) vec(A) = vec(Aᵀ)."""',
            "    return [k // n + m * (k % n) for k in range(m * n)]",
            "",
            "",
        ]


def _is_diag(e: Expr) -> bool:
    return isinstance(e, Call) and e.fn == "Diag"


def _groups(chain: tuple[Expr, ...]) -> list:
    """A chain as runs of ordinary factors (lists) and single structured factors."""
    out: list = []
    for f in chain:
        if has_structure(f):
            out.append(f)
        elif out and isinstance(out[-1], list):
            out[-1].append(f)
        else:
            out.append([f])
    return out


def _has_diag_term(e: Expr) -> bool:
    return isinstance(e, Add) and any(isinstance(t, Call) and t.fn == "Diag" for t in e.terms)


def _distribute_diag(e: Expr, memo: dict | None = None) -> Expr:
    """``M (Diag(s) − R) N`` as ``M Diag(s) N − M R N``: a diagonal then scales rows instead of
    being built (``Xᵀ Diag(s) X`` is ``Xᵀ (s ∘ X)``)."""
    memo = {} if memo is None else memo
    if e in memo:
        return memo[e]
    out = e
    if isinstance(e, (Add, Mul)) and not has_structure(e):
        kids = tuple(_distribute_diag(k, memo) for k in e.children())
        out = b.rebuild(e, kids) if kids != e.children() else e
        if isinstance(out, Mul) and len(out.chain) > 1:
            for i, f in enumerate(out.chain):
                if _has_diag_term(f):
                    left, right = out.chain[:i], out.chain[i + 1 :]
                    out = b.add(*(b.mul(b.Num(out.coef), *out.scalars, *left, t, *right) for t in f.terms))
                    out = _distribute_diag(out, memo)
                    break
    memo[e] = out
    return out


def _distribute_thin(e: Expr, memo: dict | None = None) -> Expr:
    """``(A + B) v`` as ``A v + B v`` when the product is a vector: no matrix-sized temporary."""
    memo = {} if memo is None else memo
    if e in memo:
        return memo[e]
    out = e
    if not isinstance(e, (Var, Diff)) and e.children() and not has_structure(e):
        kids = tuple(_distribute_thin(k, memo) for k in e.children())
        out = b.rebuild(e, kids) if kids != e.children() else e
        if isinstance(out, Mul) and len(out.chain) > 1 and 1 in out.shape:
            for i, f in enumerate(out.chain):
                if isinstance(f, Add) and 1 not in f.shape:
                    left, right = out.chain[:i], out.chain[i + 1 :]
                    terms = (b.mul(b.Num(out.coef), *out.scalars, *left, t, *right) for t in f.terms)
                    out = _distribute_thin(b.add(*terms), memo)
                    break
    memo[e] = out
    return out


def _push_scale(e: Expr) -> Expr:
    """``c (A ⊗ B)`` as ``A ⊗ (c B)``: the number scales the small factor, not the result."""
    if isinstance(e, Add) and has_structure(e):
        return Add(tuple(_push_scale(t) for t in e.terms), e.shape)
    if isinstance(e, Mul) and len(e.chain) == 1 and is_kron(e.chain[0]):
        left, right = e.chain[0].args
        scale = b.mul(b.Num(e.coef), *e.scalars)
        if not isinstance(right, Eye):
            return Kron(left, b.mul(scale, right))
        if not isinstance(left, Eye):
            return Kron(b.mul(scale, left), right)
    return e


def _as_factor(t: Expr):
    return t if has_structure(t) else [t]


def _direction_vars(model, variables: tuple[Var, ...]) -> tuple[Var, ...]:
    taken = {python_name(v.name) for v in model.inputs}
    out = []
    for v in variables:
        name = "d" + python_name(v.name)  # lambda: dlambda_
        while name in taken:
            name += "_"
        taken.add(name)
        out.append(Var(name, v.shape, "input"))  # symmetrised in the code, not assumed
    return tuple(out)


def _direction_map(variables: tuple[Var, ...], directions: tuple[Var, ...]) -> dict[Expr, Expr]:
    """Each variable's differential as its direction (symmetrised for a symmetric variable)."""
    mapping: dict[Expr, Expr] = {}
    for v, d in zip(variables, directions):
        mapping[Diff(v)] = b.scale(Fraction(1, 2), b.add(d, b.transpose(d))) if v.symmetric else d
    return mapping


class _NamedValues:
    """The named tangents ``dV`` or named Jacobians of a deep derivative (:mod:`matcalc.tangents`)
    as values the generated function computes once, in order, as it does named adjoints: each
    leaf becomes a name of its own (``dh3``, ``J_h3_W1``). ``usable`` is false where a value holds
    a commutation matrix, which only a result's own structure writes (the blocks are then
    generated written out)."""

    def __init__(self, named: tuple[tuple[Expr, Expr], ...], mapping: dict[Expr, Expr] | None = None):
        from ..tangents import graft

        self.mapping: dict[Expr, Expr] = dict(mapping or {})
        self.memo: dict = {}
        self._graft = graft
        self.usable = not any(_has_commutation(m) for _, m in named)
        self.values: tuple = ()
        self.grafting = bool(named) and self.usable
        values = []
        if self.usable:
            for leaf, value in named:
                var = Var(_code_name(leaf), value.shape, "named")
                values.append((var, self(value)))
                self.mapping[Diff(leaf) if isinstance(leaf, Var) else leaf] = Adjoint(var)
                self.memo.clear()
        self.values = tuple(values)

    def __call__(self, e: Expr) -> Expr:
        if not self.grafting:  # nothing named: as before, re-canonicalised
            return b.substitute(e, self.mapping) if self.mapping else e
        return self._graft(e, self.mapping, self.memo)


def _code_name(leaf: Expr) -> str:
    """``dh3`` for a tangent, ``dδh3`` for an adjoint's; ``J_h3_W1`` for a named Jacobian."""
    from ..kron import JacobianOf

    if isinstance(leaf, JacobianOf):
        return f"J_{leaf.of.name}_{leaf.wrt.name}"
    return "d" + leaf.name  # type: ignore[attr-defined]


def _has_commutation(e: Expr) -> bool:
    seen: set[int] = set()
    stack = [e]
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        if isinstance(n, Commutation):
            return True
        stack.extend(n.children())
    return False


def _module(
    first: NumpyModule, functions: list[list[str]], extra_helpers: list[str], others: list[NumpyModule]
) -> str:
    """The gradient module's text with more functions (and helpers) appended; ``others``' helpers
    for derivatives of functions defined by formula that ``first`` has not written."""
    from ..codegen.formula_code import helper as formula_helper

    text = first.source()
    if any(mod.symmetric_sum_used for mod in others) and not first.symmetric_sum_used:
        first.symmetric_sum_used = True  # written once: after the gradient module's helpers
        extra_helpers = first.symmetric_sum_helper() + extra_helpers
    written = set(first.formulas)
    for mod in others:
        for (fname, k), name in mod.formulas.items():
            if (fname, k) not in written:
                written.add((fname, k))
                form = mod.model.formula(fname)
                extra_helpers = extra_helpers + formula_helper(form, k, name, mod.TARGET_NAME, mod.np)
    return (
        text.rstrip("\n") + "\n\n\n" + "\n".join(extra_helpers) + "\n\n".join("\n".join(f) for f in functions)
    )


class KindModule(KindMixin, NumpyModule):
    """The NumPy module of a derivative kind."""


_CLASSES: dict[str, type] = {"numpy": KindModule}


def kind_class(target: str) -> type:
    """The module class of a derivative kind for ``target`` (``numpy torch jax array-api``):
    :class:`KindMixin` over that target's module class."""
    from ..codegen.targets import TARGETS

    cls = _CLASSES.get(target)
    if cls is None:
        if target not in TARGETS:
            raise CodegenError(f"unknown target {target!r}; expected one of {', '.join(TARGETS)}")
        base = TARGETS[target]
        cls = type(base.__name__ + "Kind", (KindMixin, base), {"__doc__": KindModule.__doc__})
        _CLASSES[target] = cls
    return cls


def _base(d, target: str) -> NumpyModule:
    from ..codegen.targets import TARGETS

    kind_class(target)  # an unknown target is a clear error
    return TARGETS[target](d, "value_and_grad")


def _check_helpers(base: NumpyModule, other: KindMixin) -> None:
    if (
        base.helpers != other.helpers or base.np != other.np
    ):  # pragma: no cover - names are taken in one order
        raise CodegenError("internal: helper names differ between the generated functions")


def hessian_source(d: HessianDerivation, target: str = "numpy") -> str:
    """``value_and_grad``, ``value_grad_and_hessian`` and ``hvp`` in one module for ``target``."""
    grad: Derivation = d.gradient
    base = _base(grad, target)
    Module = kind_class(target)  # noqa: N806 - a class
    text = TextPrinter()
    outs: list[Output] = [(Var(d.of.name, (1, 1), "def"), "scalar")]
    outs += [(g, _kind(v)) for v, g in zip(d.wrt, grad.gradients)]
    named = _NamedValues(d.jacobians)
    blocks = d.named_blocks if named.grafting else d.blocks
    for i, v in enumerate(d.wrt):
        for w in d.wrt[i:]:
            outs.append((named(blocks[(v.name, w.name)]), "matrix"))
    full = Module(
        d.model, d.of, "value_grad_and_hessian", second=True, adjoints=d.adjoints + named.values,
        roots=[o for o, _ in outs],
    )
    _check_helpers(base, full)
    names = ", ".join(v.name for v in d.wrt)
    blocks = ", ".join(f"H_{v.name}{w.name}" for i, v in enumerate(d.wrt) for w in d.wrt[i:])
    hess = full.function(
        outs,
        [f"Value, gradients and Hessian blocks of {d.of.name} w.r.t. {names}.", ""],
        f"Returns ({d.of.name}, "
        + ", ".join(f"d{d.of.name}/d{v.name}" for v in d.wrt)
        + f", {blocks}): each block a 2-D array size(X) × size(Y).",
    )
    directions = _direction_vars(d.model, d.wrt)
    tangents = _NamedValues(d.tangents, _direction_map(d.wrt, directions))
    maps = [(tangents(m), _kind(v)) for v, m in zip(d.wrt, d.named_maps if tangents.grafting else d.maps)]
    shown = d.named_maps or d.maps  # the docstring's maps: with the named tangents
    roots = [*shown, *(g for _, g in d.tangents)]
    where = where_lines(
        used_adjoints(d.adjoints, roots),
        text,
        used_values(d.values, [*roots, *(g for _, g in used_adjoints(d.adjoints, roots))]),
    )
    where += named_lines(d.tangents, (), text, len(where))
    hv = Module(
        d.model, d.of, "hvp", directions, second=True, adjoints=d.adjoints + tangents.values,
        roots=[m for m, _ in maps],
    )
    _check_helpers(base, hv)
    hvp = hv.function(
        maps,
        [
            f"Hessian-vector product of {d.of.name} w.r.t. {names}: H[d] = d(∂{d.of.name}/∂X)[d].",
            "",
            *[f"H[d{v.name}] = {text(m)}" for v, m in zip(d.wrt, shown)],
            *where,
            "",
        ],
        "Returns (" + ", ".join(f"Hv_{v.name}" for v in d.wrt) + "), each in its variable's shape.",
        thin=True,
    )
    return _module(base, [hess, hvp], full.kron_helper_source(), [full, hv])


def used_adjoints(adjoints: tuple[tuple[Var, Expr], ...], roots) -> tuple[tuple[Var, Expr], ...]:
    """The named adjoints that ``roots`` use, directly or through one another, in order."""
    return _used(adjoints, roots, lambda e: e.var.name if isinstance(e, Adjoint) else None)


def used_values(values: tuple[tuple[Var, Expr], ...], roots) -> tuple[tuple[Var, Expr], ...]:
    """The named nested values (:mod:`matcalc.forward`) that ``roots`` use, directly or through
    one another, in order."""
    return _used(values, roots, lambda e: e.name if isinstance(e, Var) else None)


def _used(definitions, roots, name_of) -> tuple[tuple[Var, Expr], ...]:
    """The ``definitions`` reached from ``roots``: a node whose ``name_of`` is a defined name
    reaches that definition's right-hand side."""
    by_name = {v.name: g for v, g in definitions}
    used: set[str] = set()
    stack = list(roots)
    seen: set[Expr] = set()
    while stack:
        e = stack.pop()
        if e in seen:
            continue
        seen.add(e)
        name = name_of(e)
        if name in by_name and name not in used:
            used.add(name)
            stack.append(by_name[name])
        stack.extend(e.children())
    return tuple((v, g) for v, g in definitions if v.name in used)


def jacobian_source(d: JacobianDerivation, target: str = "numpy") -> str:
    """``value_and_jacobian`` in a module for ``target``."""
    named = _NamedValues(d.jacobians)
    blocks = d.named_blocks if named.grafting else d.blocks
    outs: list[Output] = [(d.of, _kind(d.of))] + [(named(m), "matrix") for m in blocks]
    mod = kind_class(target)(
        d.model, d.of, "value_and_jacobian", adjoints=named.values, roots=[o for o, _ in outs]
    )
    names = ", ".join(v.name for v in d.wrt)
    layout = "size(F) × size(X)" if d.layout == "numerator" else "size(X) × size(F)"
    fn = mod.function(
        outs,
        [f"Value of {d.of.name} and its Jacobians w.r.t. {names} ({d.layout} layout).", ""],
        f"Returns ({d.of.name}, "
        + ", ".join(f"J_{v.name}" for v in d.wrt)
        + f"): each J a 2-D array {layout}.",
    )
    header = [
        f'"""Generated by matcalc: value_and_jacobian of {d.of.name} w.r.t. {names}."""',
        "",
        *mod._imports(),
        "",
        "",
    ]
    return "\n".join(header + mod._helpers() + mod._formula_helpers() + mod.kron_helper_source() + fn)


__all__ = ["KIND_SPELL", "KindMixin", "KindModule", "hessian_source", "jacobian_source", "kind_class"]
