"""The structural functions (``Call`` nodes), one :func:`call` each: ``sum tr diag Diag
vec inv det logdet``, the norms, ``softmax logsumexp``, ``kron``, and the ones the
engine makes (``unvec``, and ``blockfrob``/``blocksum`` from pulls through ``kron``).

Shapes are ``(rows, cols)``; ``jvp[i](args, y, dx)`` is the term of ``d f`` in
argument ``i``; ``pull[i](g, args)`` gives the named identity and ``g'`` with
``g : f(…, dX, …) = g' : dX`` where ``f`` is linear in argument ``i``.
Code (``code=spelt(numpy, torch=…, jax=…, array_api=…)``, every target NumPy's
spelling unless given): ``{np}`` the module alias, ``{x}``/``{a}`` the first
argument (``{a}`` parenthesised unless atomic), ``{y}``/``{b}`` the second, ``{r} {c}``
the result's sizes, ``{r1} {c1}`` the second argument's, ``{n}`` the first argument's
rows, ``{softmax}``/``{logsumexp}`` the module's helpers, ``{dtype}``/``{device}`` the
locals of targets that have them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import build as b
from .. import dims
from ..expr import SCALAR, Expr, Eye, Ones, Shape
from .registry import Domain, Op, Rule, register, spelt

SUM_ALL = Rule(
    "sum-entries", "α:sum(X) = α𝟏 𝟏ᵀ:X", r"\alpha:\operatorname{sum}(X) = \alpha\mathbf{1}\mathbf{1}^\top:X"
)
TRACE = Rule("trace", "α:tr(X) = αI:X", r"\alpha:\operatorname{tr}(X) = \alpha I:X")
DIAG = Rule("diag", "g:diag(X) = Diag(g):X", r"g:\operatorname{diag}(X) = \operatorname{Diag}(g):X")
DIAG_MAT = Rule("Diag", "G:Diag(x) = diag(G):x", r"G:\operatorname{Diag}(x) = \operatorname{diag}(G):x")
VEC = Rule("vec", "g:vec(X) = unvec(g):X", r"g:\operatorname{vec}(X) = \operatorname{unvec}(g):X")
UNVEC = Rule("unvec", "G:unvec(x) = vec(G):x", r"G:\operatorname{unvec}(x) = \operatorname{vec}(G):x")
KRON_LEFT = Rule(
    "kron-left", "G:X⊗B = blockfrob(G, B):X",
    r"G:X\otimes B = \operatorname{blockfrob}(G, B):X",
)
KRON_RIGHT = Rule(
    "kron-right", "G:A⊗X = blocksum(G, A):X",
    r"G:A\otimes X = \operatorname{blocksum}(G, A):X",
)
BLOCKFROB_LEFT = Rule(
    "blockfrob-left", "H:blockfrob(X, B) = H⊗B:X",
    r"H:\operatorname{blockfrob}(X, B) = H\otimes B:X",
)
BLOCKFROB_RIGHT = Rule(
    "blockfrob-right", "H:blockfrob(G, X) = blocksum(G, H):X",
    r"H:\operatorname{blockfrob}(G, X) = \operatorname{blocksum}(G, H):X",
)
BLOCKSUM_LEFT = Rule(
    "blocksum-left", "H:blocksum(X, A) = A⊗H:X",
    r"H:\operatorname{blocksum}(X, A) = A\otimes H:X",
)
BLOCKSUM_RIGHT = Rule(
    "blocksum-right", "H:blocksum(G, X) = blockfrob(G, H):X",
    r"H:\operatorname{blocksum}(G, X) = \operatorname{blockfrob}(G, H):X",
)

SPD = Domain("spd", lambda x: 1e6 / float(np.linalg.cond(x).max()))


def _scalar(v: float) -> np.ndarray:
    return np.array([[float(v)]])


def _operator(name: str) -> str:
    return r"\operatorname{{" + name + r"}}\left({x}\right)"


def _norm(k: str) -> str:
    return r"\left\|{x}\right\|_{{" + k + "}}"


def _simple(text: str) -> bool:
    """A name or a command, possibly subscripted: ``X``, ``\\Sigma``, ``W_{1}``."""
    import re

    return re.fullmatch(r"\\?[A-Za-z]+(_\{[^{}]*\})?", text) is not None


def _grouped(text: str) -> str:
    return text if _simple(text) else rf"\left({text}\right)"


def _inv_latex(args: list[str]) -> str:
    arg = args[0]
    return f"{{{arg}}}^{{-1}}" if _simple(arg) else rf"\left({arg}\right)^{{-1}}"


def _inv_transposed_latex(args: list[str]) -> str:
    arg = args[0]
    return f"{{{arg}}}^{{-\\top}}" if _simple(arg) else rf"\left({arg}\right)^{{-\top}}"


def _simplify_sum(x: Expr) -> Expr | None:
    if isinstance(x, Ones):
        r, c = x.shape
        if isinstance(r, int) and isinstance(c, int):
            return b.num(r * c)
    return None


def _simplify_tr(x: Expr) -> Expr | None:
    if isinstance(x, Eye) and isinstance(x.shape[0], int):
        return b.num(x.shape[0])
    return None


def _simplify_diag(x: Expr) -> Expr | None:
    if isinstance(x, (Eye, Ones)):
        return Ones((x.shape[0], 1))
    return None


def _simplify_Diag(x: Expr) -> Expr | None:  # noqa: N802 (named after the function Diag)
    if isinstance(x, Ones):
        return b.eye(x.shape[0])
    return None


def _softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max())
    return z / z.sum()


def _logsumexp(x: np.ndarray) -> np.ndarray:
    m = x.max()
    return np.array([[m + np.log(np.exp(x - m).sum())]])


def _blocks(g: np.ndarray, outer: tuple[int, int], inner: tuple[int, int]) -> np.ndarray:
    """``g`` as its ``outer`` grid of ``inner``-sized blocks: ``[i, a, j, c] = G[i·n + a, j·q + c]``."""
    return g.reshape(outer[0], inner[0], outer[1], inner[1])


# ---------------------------------------------------------------- SymPy matrix expressions


def _sp_entry(sp, m):
    """A 1×1 matrix expression as the scalar it holds (``(𝟏ᵀ X 𝟏)[0, 0]``)."""
    return m[0, 0] if isinstance(m, sp.MatrixExpr) and m.shape == (1, 1) else m


def _sp_sum(sp, x):
    """``sum(X)`` as SymPy's ``𝟏ᵀ X 𝟏`` (no all-ones factor of size 1)."""
    r, c = x.shape
    left = x if r == 1 else sp.OneMatrix(1, r) * x
    return _sp_entry(sp, left if c == 1 else left * sp.OneMatrix(c, 1))


def _sp_diagonal(sp, name: str):
    import sympy.matrices.expressions.diagonal as diagonal

    return getattr(diagonal, name)


def call(name: str, **fields) -> Op:
    """Register a structural function."""
    fields.setdefault("latex", _operator(name))
    return register(Op(name, "call", **fields))


def _x(rule: Rule, make: Callable[[Expr, Expr], Expr]) -> Callable:
    """A pull through a function of one argument: ``(g, (x,)) -> (rule, make(g, x))``."""
    return lambda g, a: (rule, make(g, a[0]))


call("sum", result=lambda s: SCALAR, factors_out=True, simplify=_simplify_sum,
     sympy=lambda sp, x: sp.Matrix([[sum(x)]]),
     sympy_matrix=lambda sp, x: _sp_sum(sp, x),
     jvp=(lambda a, y, dx: b.call("sum", dx),),
     pull=(_x(SUM_ALL, lambda g, x: b.mul(g, b.ones(x.shape))),),
     numeric=lambda x: _scalar(x.sum()), code=spelt("{np}.sum({x})"),
     example="X: matrix(m, n); f = sum(sin(X))")
call("tr", needs=("square",), result=lambda s: SCALAR, factors_out=True, simplify=_simplify_tr,
     sympy=lambda sp, x: sp.Matrix([[x.trace()]]),
     sympy_matrix=lambda sp, x: sp.Trace(x),
     jvp=(lambda a, y, dx: b.call("tr", dx),),
     pull=(_x(TRACE, lambda g, x: b.mul(g, b.eye(x.shape[0]))),),
     numeric=lambda x: _scalar(np.trace(x)), code=spelt(
         "{np}.trace({x})",
         array_api="{np}.sum({a} * {np}.eye({n}, dtype={dtype}, device={device}))",
     ),
     example="X, A: matrix(n, n); f = tr(A*X*X)")
call("diag", needs=("square",), result=lambda s: (s[0], 1), factors_out=True, simplify=_simplify_diag,
     sympy=lambda sp, x: sp.Matrix([x[i, i] for i in range(x.rows)]),
     sympy_matrix=lambda sp, x: _sp_diagonal(sp, "DiagonalOf")(x),
     jvp=(lambda a, y, dx: b.call("diag", dx),),
     pull=(_x(DIAG, lambda g, x: b.call("Diag", g)),),
     numeric=lambda x: np.diag(x).reshape(-1, 1).copy(),
     code=spelt(
         "{np}.diag({x}).reshape(-1, 1)",
         torch="{np}.diagonal({x}).reshape(-1, 1)",
         jax="{np}.diagonal({x}).reshape(-1, 1)",
         array_api="{np}.sum({a} * {np}.eye({r}, dtype={dtype}, device={device}), axis=1, keepdims=True)",
     ), code_alias="read-only",
     example="X: matrix(n, n); a: vector(n); f = sum(exp(diag(X)) .* a)")
call("Diag", needs=("vector",), result=lambda s: (s[0], s[0]), factors_out=True, simplify=_simplify_Diag,
     symmetric=lambda a: True,
     sympy=lambda sp, x: sp.diag(*x),
     sympy_matrix=lambda sp, x: _sp_diagonal(sp, "DiagMatrix")(x),
     jvp=(lambda a, y, dx: b.call("Diag", dx),),
     pull=(_x(DIAG_MAT, lambda g, x: b.call("diag", g)),),
     numeric=lambda x: np.diag(x[:, 0]), code=spelt(
         "{np}.diagflat({x})",
         array_api="{np}.eye({r}, dtype={dtype}, device={device}) * {np}.reshape({x}, (1, -1))",
     ),
     example="x, a, c: vector(n); f = a'*Diag(sin(x))*c")
call("vec", result=lambda s: (dims.mul(s[0], s[1]), 1), factors_out=True,
     simplify=lambda x: x if x.shape[1] == 1 else None,  # a column (or a scalar) is its own vec
     sympy=lambda sp, x: x.T.reshape(x.rows * x.cols, 1),
     jvp=(lambda a, y, dx: b.call("vec", dx),),
     pull=(_x(VEC, lambda g, x: b.call("unvec", g, shape=x.shape)),),
     numeric=lambda x: x.reshape(-1, 1, order="F"),
     code=spelt(
         "{a}.reshape(-1, 1, order='F')",
         torch="{a}.T.reshape(-1, 1)",
         jax="{a}.T.reshape(-1, 1)",
         array_api="{np}.reshape({a}.T, (-1, 1))",
     ), code_alias="view",
     example="X: matrix(m, n); a: vector(m*n); f = vec(X)'*sin(a)")
call("unvec", internal=True,
     sympy=lambda sp, x, shape: x.reshape(shape[1], shape[0]).T,
     jvp=(lambda a, y, dx: b.call("unvec", dx, shape=y.shape),),
     pull=(_x(UNVEC, lambda g, x: b.call("vec", g)),),
     numeric=lambda x, shape: x.reshape(shape, order="F"),
     code=spelt(
         "{a}.reshape(({r}, {c}), order='F')",
         torch="{a}.reshape({c}, {r}).T",
         jax="{a}.reshape({c}, {r}).T",
         array_api="{np}.reshape({x}, ({c}, {r})).T",
     ), code_alias="view",
     example="X: matrix(m, n); f = sum(exp(vec(X)))")
call("inv", needs=("square",), result=lambda s: s,
     symmetric=lambda a: b.is_symmetric(a[0]),
     sympy=lambda sp, x: x.inv(),
     sympy_matrix=lambda sp, x: sp.Inverse(x),
     jvp=(lambda a, y, dx: b.neg(b.mul(y, dx, y)),),
     numeric=np.linalg.inv, latex=_inv_latex, latex_transposed=_inv_transposed_latex,
     code=spelt("{np}.linalg.inv({x})"), domain=SPD,
     example="X: matrix(n, n); a, c: vector(n); f = a'*inv(X)*c")
call("det", needs=("square",), result=lambda s: SCALAR,
     sympy=lambda sp, x: sp.Matrix([[x.det()]]),
     sympy_matrix=lambda sp, x: sp.Determinant(x),
     jvp=(lambda a, y, dx: b.mul(y, b.call("tr", b.mul(b.call("inv", a[0]), dx))),),
     numeric=lambda x: _scalar(np.linalg.det(x)), latex=r"\det\left({x}\right)",
     code=spelt("{np}.linalg.det({x})"), domain=SPD,
     example="X: matrix(n, n); f = det(X)")
call("logdet", needs=("square",), result=lambda s: SCALAR,
     sympy=lambda sp, x: sp.Matrix([[sp.log(x.det())]]),
     sympy_matrix=lambda sp, x: sp.log(sp.Determinant(x)),
     jvp=(lambda a, y, dx: b.call("tr", b.mul(b.call("inv", a[0]), dx)),),
     numeric=lambda x: _scalar(np.linalg.slogdet(x)[1]), latex=r"\mathit{{logdet}}\left({x}\right)",
     code=spelt("{np}.linalg.slogdet({x})[1]"), domain=Domain("spd"),
     example="X: matrix(n, n); f = logdet(X)")
call("norm1", result=lambda s: SCALAR,
     sympy=lambda sp, x: sp.Matrix([[sum(sp.Abs(v) for v in x)]]),
     sympy_matrix=lambda sp, x: _sp_sum(sp, x.applyfunc(sp.Abs)),
     jvp=(lambda a, y, dx: b.frob(b.apply("sign", a[0]), dx),),
     numeric=lambda x: _scalar(np.abs(x).sum()), latex=_norm("1"),
     code=spelt("{np}.sum({np}.abs({x}))"), domain=Domain("any", lambda x: float(np.abs(x).min())),
     example="x: vector(n); W: matrix(n, m); y: vector(m); f = norm1(W*y - x)")
for _name, _k in (("norm2", "2"), ("normF", "F")):
    call(_name, result=lambda s: SCALAR,
         sympy=lambda sp, x: sp.Matrix([[sp.sqrt(sum(v**2 for v in x))]]),
         sympy_matrix=lambda sp, x: sp.sqrt(_sp_sum(sp, sp.HadamardPower(x, 2))),
         jvp=(lambda a, y, dx: b.mul(b.frob(a[0], dx), b.power(y, -1)),),
         numeric=lambda x: _scalar(np.sqrt((x * x).sum())), latex=_norm(_k),
         code=spelt(
         "{np}.linalg.norm({x})",
         array_api="{np}.sqrt({np}.sum({np}.square({x})))",
     ),
         domain=Domain("any", lambda x: float(np.sqrt((x * x).sum(axis=(-2, -1))).min())),
         example=f"X: matrix(m, n); f = {_name}(X)")
call("softmax", needs=("vector",), result=lambda s: s,
     sympy=lambda sp, x: x.applyfunc(sp.exp) / sum(x.applyfunc(sp.exp)),
     sympy_matrix=lambda sp, x: x.applyfunc(sp.exp) / _sp_sum(sp, x.applyfunc(sp.exp)),
     jvp=(lambda a, y, dx: b.sub(b.eprod(y, dx), b.mul(y, b.transpose(y), dx)),),
     numeric=_softmax, code=spelt(
         "{softmax}({x})",
         torch="{np}.softmax({a}.reshape(-1), 0).reshape({r}, {c})",
         array_api="{softmax}({np}, {x})",
     ),
     example="x, a: vector(n); f = a'*softmax(x)")
call("logsumexp", needs=("vector",), result=lambda s: SCALAR,
     sympy=lambda sp, x: sp.Matrix([[sp.log(sum(x.applyfunc(sp.exp)))]]),
     sympy_matrix=lambda sp, x: sp.log(_sp_sum(sp, x.applyfunc(sp.exp))),
     jvp=(lambda a, y, dx: b.frob(b.call("softmax", a[0]), dx),),
     numeric=_logsumexp, code=spelt(
         "{logsumexp}({x})",
         torch="{np}.logsumexp({a}.reshape(-1), 0)",
         array_api="{logsumexp}({np}, {x})",
     ),
     example="x: vector(n); W: matrix(n, m); y: vector(m); f = logsumexp(W*y + x)")


# ---------------------------------------------------------------- Kronecker products


def _kron_shape(s: Shape, t: Shape) -> Shape:
    return (dims.mul(s[0], t[0]), dims.mul(s[1], t[1]))


def _blockfrob(g: np.ndarray, x: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    return np.einsum("iajc,ac->ij", _blocks(g, shape, x.shape), x)


def _blocksum(g: np.ndarray, a: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    return np.einsum("iajc,ij->ac", _blocks(g, a.shape, shape), a)


def _simplify_kron(a: Expr, x: Expr) -> Expr | None:
    """A scalar factor scales: ``α ⊗ X = X ⊗ α = αX``."""
    return b.mul(a, x) if a.shape == SCALAR or x.shape == SCALAR else None


call("kron", arity=2, needs=("any", "any"), result=_kron_shape, simplify=_simplify_kron,
     latex=lambda a: _grouped(a[0]) + r" \otimes " + _grouped(a[1]),
     sympy=lambda sp, a, c: sp.kronecker_product(a, c),
     sympy_matrix=lambda sp, a, c: sp.KroneckerProduct(a, c),
     jvp=(lambda a, y, dx: b.call("kron", dx, a[1]), lambda a, y, dx: b.call("kron", a[0], dx)),
     pull=(lambda g, a: (KRON_LEFT, b.call("blockfrob", g, a[1], shape=a[0].shape)),
           lambda g, a: (KRON_RIGHT, b.call("blocksum", g, a[0], shape=a[1].shape))),
     numeric=np.kron, code=spelt(
         "{np}.kron({x}, {y})",
         # the array API has no kron or einsum: broadcast products of reshaped blocks
         array_api="{np}.reshape({a}[:, None, :, None] * {b}[None, :, None, :], ({r}, {c}))",
     ),
     example="A: matrix(m, p); X: matrix(n, q); B: matrix(p*q, m*n); f = tr(kron(A, X) * B)")
call("blockfrob", arity=2, needs=("any", "any"), internal=True, latex=_operator("blockfrob"),
     sympy=lambda sp, g, x, shape: sp.Matrix(*shape, lambda i, j: sum(
         g[i * x.rows + a, j * x.cols + c] * x[a, c] for a in range(x.rows) for c in range(x.cols))),
     jvp=(lambda a, y, dx: b.call("blockfrob", dx, a[1], shape=y.shape),
          lambda a, y, dx: b.call("blockfrob", a[0], dx, shape=y.shape)),
     pull=(lambda g, a: (BLOCKFROB_LEFT, b.call("kron", g, a[1])),
           lambda g, a: (BLOCKFROB_RIGHT, b.call("blocksum", a[0], g, shape=a[1].shape))),
     numeric=_blockfrob,
     code=spelt(
         "{np}.einsum('iajc,ac->ij', {a}.reshape({r}, {r1}, {c}, {c1}), {y})",
         array_api="{np}.sum({np}.reshape({x}, ({r}, {r1}, {c}, {c1})) * {b}[None, :, None, :], axis=(1, 3))",
     ),
     example="A: matrix(m, p); X: matrix(n, q); B: matrix(p*q, m*n); f = sum(exp(tr(kron(A, X) * B)))")
call("blocksum", arity=2, needs=("any", "any"), internal=True, latex=_operator("blocksum"),
     sympy=lambda sp, g, a, shape: sp.Matrix(*shape, lambda r, c: sum(
         a[i, j] * g[i * shape[0] + r, j * shape[1] + c] for i in range(a.rows) for j in range(a.cols))),
     jvp=(lambda a, y, dx: b.call("blocksum", dx, a[1], shape=y.shape),
          lambda a, y, dx: b.call("blocksum", a[0], dx, shape=y.shape)),
     pull=(lambda g, a: (BLOCKSUM_LEFT, b.call("kron", a[1], g)),
           lambda g, a: (BLOCKSUM_RIGHT, b.call("blockfrob", a[0], g, shape=a[1].shape))),
     numeric=_blocksum,
     code=spelt(
         "{np}.einsum('iajc,ij->ac', {a}.reshape({r1}, {r}, {c1}, {c}), {y})",
         array_api="{np}.sum({np}.reshape({x}, ({r1}, {r}, {c1}, {c})) * {b}[:, None, :, None], axis=(0, 2))",
     ),
     example="A: matrix(m, p); X: matrix(n, q); B: matrix(p*q, m*n); f = sum(exp(tr(kron(A, X) * B)))")
