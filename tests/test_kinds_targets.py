"""Jacobians, Hessians and Hessian-vector products in every code target (PyTorch, JAX, the
array API on NumPy, ``array_api_strict``, PyTorch and Dask inputs): a sample of the
textbook table, each run on random inputs of random distinct sizes against central
differences (of the model's value for a Jacobian, of its gradient for a Hessian); and
``jax.jit``/``jax.vmap`` and ``torch.compile`` accept a Hessian function."""

from __future__ import annotations

import numpy as np
import pytest
from kind_identities import TABLE

import matcalc
from matcalc.architectures import gated, residual, softmax_chain
from matcalc.check import random_instance
from matcalc.check_kinds import _gradient_fn, _value_of, environment, numeric_jacobian, symmetrizer, vec

torch = pytest.importorskip("torch", reason="the torch target's tests need PyTorch (the test extra)")
jax = pytest.importorskip("jax", reason="the jax target's tests need JAX (the test extra)")
jax.config.update("jax_enable_x64", True)
import array_api_strict  # noqa: E402
import dask.array as da  # noqa: E402
import jax.numpy as jnp  # noqa: E402


def to_numpy(a) -> np.ndarray:
    """A result of any of the libraries as a NumPy array (Dask's computed)."""
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().numpy()
    if isinstance(a, da.Array):
        return np.asarray(a.compute())
    if type(a).__module__.startswith("array_api_strict"):
        return np.from_dlpack(a)
    return np.asarray(a)


#: How each library gets an input array, and its sin, cos and −sin for ``elementwise`` functions.
LIBRARIES = {
    "torch": (torch.from_numpy, (torch.sin, torch.cos, lambda t: -torch.sin(t))),
    "jax": (jnp.asarray, (jnp.sin, jnp.cos, lambda t: -jnp.sin(t))),
    "numpy": (np.asarray, (np.sin, np.cos, lambda t: -np.sin(t))),
    "strict": (array_api_strict.asarray, (array_api_strict.sin, array_api_strict.cos,
                                          lambda t: -array_api_strict.sin(t))),
    "dask": (lambda a: da.from_array(a, chunks=tuple(max(1, (n + 1) // 2) for n in a.shape)),
             (da.sin, da.cos, lambda t: -da.sin(t))),
}

#: (target, the library its inputs come from)
RUNS = [("torch", "torch"), ("jax", "jax"), ("array-api", "numpy"), ("array-api", "strict"),
        ("array-api", "torch"), ("array-api", "dask")]

#: A sample of the table: every third row (Jacobians and Hessians, K, ⊗ with and without an
#: identity, Diag, mixed blocks), K alone, symmetric variables and a model's kron; a sample
#: keeps CI's time reasonable.
_EXTRA = ("F = X'", "F = A*S*A'", "f = logdet(S)", "kron(A, B)")
SAMPLE = TABLE[::3] + [row for row in TABLE if row[0].endswith(_EXTRA) or "kron(A, B)" in row[0]]
IDS = [f"{kind}:{model}:{wrt}" for model, wrt, kind, _ in SAMPLE]


def _arguments(d, inst, library: str, directions: dict | None = None) -> dict:
    to, functions = LIBRARIES[library]
    out = {}
    for v in d.model.inputs:
        x = inst.inputs[v.name]
        out[v.name] = float(x[0, 0]) if v.shape == (1, 1) else to(np.ascontiguousarray(
            x[:, 0] if v.shape[1] == 1 else x))
    for g in d.model.elementwise:
        out[g], out["d" + g], out["dd" + g] = functions
    for name, x in (directions or {}).items():
        out[name] = to(np.ascontiguousarray(x))
    return out


def _natural(v, x: np.ndarray) -> np.ndarray:
    return x[:, 0] if v.shape[1] == 1 else x


def _instance(d, seed: int):
    inst = random_instance(d.model, np.random.default_rng(seed))
    assert len(set(inst.dims.values())) == len(inst.dims), "sizes must be distinct"
    functions = {**inst.functions, **{g: [np.sin, np.cos, lambda t: -np.sin(t)] for g in d.model.elementwise}}
    return type(inst)(inst.dims, inst.inputs, functions)


def _close(got, want, tol=1e-5) -> bool:
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    return got.shape == want.shape and np.linalg.norm(got - want) <= tol * max(1.0, np.linalg.norm(want))


@pytest.mark.parametrize("target,library", RUNS)
@pytest.mark.parametrize("model,wrt,kind,expected", SAMPLE, ids=IDS)
def test_kind_through_target_against_central_differences(model, wrt, kind, expected, target, library):
    if library == "dask" and ("inv(" in model or "det(" in model):
        pytest.skip("Dask's inv and det need square chunks of one size (README)")
    h = matcalc.jacobian(model, wrt) if kind == "jacobian" else matcalc.hessian(model, wrt)
    d = h.derivation
    inst = _instance(d, seed=5)
    ev = environment(d.model, inst)
    if kind == "jacobian":
        value, *jacobians = h.to_function("value_and_jacobian", target=target)(**_arguments(d, inst, library))
        assert _close(np.reshape(to_numpy(value), np.shape(_natural(d.of, ev.env[d.of.name]))),
                      _natural(d.of, ev.env[d.of.name]), 1e-10)
        for v, got in zip(d.wrt, jacobians, strict=True):
            fd = numeric_jacobian(_value_of(d.model, inst, v, d.of.name), ev.env[v.name])
            if v.symmetric:
                fd = fd @ symmetrizer(ev.shape(v)[0])
            assert _close(to_numpy(got), fd), f"J {v.name}"
        return
    rng = np.random.default_rng(7)
    out = h.to_function("value_grad_and_hessian", target=target)(**_arguments(d, inst, library))
    n = len(d.wrt)
    blocks = iter(out[1 + n :])
    fd_rows = []
    for i, x in enumerate(d.wrt):
        row = []
        for y in d.wrt:
            fd = numeric_jacobian(_gradient_fn(d, inst, d.gradient.gradients[i], y), ev.env[y.name], h=1e-5)
            if y.symmetric:
                fd = fd @ symmetrizer(ev.shape(y)[0])
            row.append(fd)
        fd_rows.append(row)
        for j in range(i, n):
            assert _close(to_numpy(next(blocks)), fd_rows[i][j]), f"H {x.name},{d.wrt[j].name}"
    directions = {}
    for v in d.wrt:
        a = rng.normal(size=ev.shape(v))
        directions["d" + v.name] = _natural(v, (a + a.T) / 2 if v.symmetric else a)
    hv = h.to_function("hvp", target=target)(**_arguments(d, inst, library, directions))
    want = np.block(fd_rows) @ np.concatenate(
        [vec(np.reshape(directions["d" + v.name], ev.shape(v))) for v in d.wrt])
    got = np.concatenate([vec(np.reshape(to_numpy(x), ev.shape(v))) for x, v in zip(hv, d.wrt)])
    assert _close(got, want), "hvp"


LOGISTIC = ("X: matrix(n, k); y: vector(n); w: vector(k); p = sigmoid(X*w); "
            "f = -sum(y .* log(p) + (1 - y) .* log(1 - p))")
LOW_RANK = "R: matrix(m, n); U: matrix(m, k); V: matrix(n, k); f = normF(R - U*V')^2"


def _low_rank_inputs(rng, lib):
    shapes = {"R": (5, 4), "U": (5, 3), "V": (4, 3)}
    return {name: lib(rng.normal(size=shape)) for name, shape in shapes.items()}


def test_jax_jit_and_vmap_accept_a_hessian_function():
    h = matcalc.hessian(LOW_RANK, "U,V")
    fn = h.to_function("value_grad_and_hessian", target="jax")
    rng = np.random.default_rng(0)
    args = _low_rank_inputs(rng, jnp.asarray)
    eager = fn(**args)
    jitted = jax.jit(fn)(**args)
    for a, b in zip(eager, jitted):
        assert np.allclose(to_numpy(a), to_numpy(b))
    batch = {k: jnp.stack([v, 2 * v]) for k, v in args.items()}
    mapped = jax.vmap(fn)(**batch)
    assert mapped[3].shape == (2, 15, 15)  # H_UU for each of the two
    assert np.allclose(to_numpy(mapped[3][0]), to_numpy(eager[3]))
    hvp = jax.jit(h.to_function("hvp", target="jax"))
    dirs = {"dU": jnp.ones((5, 3)), "dV": jnp.ones((4, 3))}
    got = hvp(**args, **dirs)
    want = np.block([[to_numpy(eager[3]), to_numpy(eager[4])], [to_numpy(eager[4]).T, to_numpy(eager[5])]])
    v = np.concatenate([vec(np.ones((5, 3))), vec(np.ones((4, 3)))])
    assert np.allclose(np.concatenate([vec(to_numpy(got[0])), vec(to_numpy(got[1]))]), want @ v)


def test_torch_compile_accepts_a_hessian_function():
    h = matcalc.hessian(LOGISTIC, "w")
    fn = h.to_function("value_grad_and_hessian", target="torch")
    rng = np.random.default_rng(1)
    args = {"X": torch.from_numpy(rng.normal(size=(7, 4))), "y": torch.from_numpy(rng.uniform(size=7)),
            "w": torch.from_numpy(rng.normal(size=4))}
    compiled = torch.compile(fn, backend="eager" if not _inductor_works() else "inductor")
    for a, b in zip(fn(**args), compiled(**args)):
        assert torch.allclose(a, b)
    assert not any(t.requires_grad for t in compiled(**args))


def _inductor_works() -> bool:
    """Whether torch.compile's default backend can build here (it needs a C compiler)."""
    import shutil

    return shutil.which("gcc") is not None or shutil.which("cc") is not None


def test_torch_keeps_dtype_and_device_and_a_jacobian_needs_no_graph():
    j = matcalc.jacobian("x: vector(n); W: matrix(m, n); p = softmax(W*x)", "W")
    fn = j.to_function(target="torch")
    x, w = torch.arange(4.0, dtype=torch.float32), torch.ones((3, 4), dtype=torch.float32, requires_grad=True)
    p, jw = fn(x=x, W=w)
    assert jw.dtype == torch.float32 and jw.shape == (3, 12) and not jw.requires_grad
    want = j.to_function()(x=x.numpy(), W=w.detach().numpy())[1]
    assert np.allclose(jw.numpy(), want, atol=1e-6)


def test_array_api_hessian_on_dask_stays_lazy():
    h = matcalc.hessian(LOGISTIC, "w")
    rng = np.random.default_rng(2)
    x, y, w = rng.normal(size=(8, 3)), rng.uniform(size=8), rng.normal(size=3)
    fn = h.to_function("value_grad_and_hessian", target="array-api")
    out = fn(X=da.from_array(x, chunks=(4, 3)), y=da.from_array(y, chunks=4), w=da.from_array(w, chunks=3))
    assert isinstance(out[2], da.Array)
    want = h.to_function("value_grad_and_hessian")(X=x, y=y, w=w)
    assert np.allclose(to_numpy(out[2]), want[2])


def test_cli_code_writes_jacobian_and_hessian_modules_for_each_target(tmp_path):
    from matcalc.cli import main

    for target in ("numpy", "torch", "jax", "array-api"):
        path = tmp_path / f"h_{target.replace('-', '_')}.py"
        assert main(["code", LOGISTIC, "--wrt", "w", "--hessian", "--target", target, "-o", str(path)]) == 0
        text = path.read_text()
        assert "def value_grad_and_hessian(" in text and "def hvp(" in text
        assert main(["hessian", LOGISTIC, "--wrt", "w", "--format", target, "-o", str(path)]) == 0
        assert path.read_text() == text
        path = tmp_path / f"j_{target.replace('-', '_')}.py"
        assert main(["code", LOGISTIC, "--wrt", "w", "--of", "p", "--jacobian", "--target", target,
                     "-o", str(path)]) == 0
        assert "def value_and_jacobian(" in path.read_text()


@pytest.mark.parametrize("target,library", [("torch", "torch"), ("jax", "jax"), ("array-api", "numpy")])
def test_a_function_defined_by_formula_in_every_target(target, library):
    """``f''`` of a function defined by formula (SymPy's) is a helper in every target."""
    h = matcalc.hessian("f(u) = u^3 + sin(u); x: vector(n); A: matrix(m, n); g = sum(f(A*x))", "x")
    d = h.derivation
    inst = _instance(d, seed=3)
    ev = environment(d.model, inst)
    _, grad, hxx = h.to_function("value_grad_and_hessian", target=target)(**_arguments(d, inst, library))
    fd = numeric_jacobian(_gradient_fn(d, inst, d.gradient.gradients[0], d.wrt[0]), ev.env["x"], h=1e-5)
    assert _close(to_numpy(hxx), fd)


#: Small deep models whose tangents and Jacobians are named (``matcalc/tangents.py``): every
#: target computes them once, as values of their own.
DEEP_SAMPLE = [
    (residual(4)[0], "W1", "hessian"),
    (gated(3)[0], "U", "jacobian"),
    (softmax_chain(4)[0], "W1", "hessian"),
]


@pytest.mark.parametrize("target,library", RUNS)
@pytest.mark.parametrize("model,wrt,kind", DEEP_SAMPLE, ids=["residual", "gated", "softmax"])
def test_deep_kind_through_target_against_central_differences(model, wrt, kind, target, library):
    d = (matcalc.hessian if kind == "hessian" else matcalc.jacobian)(model, wrt).derivation
    assert d.tangents
    test_kind_through_target_against_central_differences(model, wrt, kind, None, target, library)
