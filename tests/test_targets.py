"""The PyTorch, JAX and array-API targets: every seed and identity run through each, on
random inputs of random distinct sizes, against the model's value and central differences.

Also: float32 in gives float32 out within float32 tolerance; ``torch.compile``,
``jax.jit`` and ``jax.vmap`` accept the functions; the PyTorch target builds no
autograd graph; the array-API module runs on ``array_api_strict`` (standard
conformance), NumPy, PyTorch and Dask arrays split into chunks; GPU runs
(PyTorch on CUDA, CuPy) when a GPU is present.
"""

from __future__ import annotations

import importlib.util
import warnings

import numpy as np
import pytest
from test_numpy_module import CASES, IDS, MODELS, expected_shape, kwargs_for
from test_registry import _entrywise_model, _ops_in

import matcalc
from matcalc.check import Instance, finite_difference, random_instance, relative_error
from matcalc.evaluate import evaluate_model
from matcalc.ops.registry import OPS
from matcalc.ops.registry import TARGETS as SPELT_TARGETS

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


#: How each library gets an input array, and its sin and cos for ``elementwise`` functions.
LIBRARIES = {
    "torch": (torch.from_numpy, to_numpy, torch.sin, torch.cos),
    "jax": (jnp.asarray, to_numpy, jnp.sin, jnp.cos),
    "numpy": (np.asarray, to_numpy, np.sin, np.cos),
    "strict": (array_api_strict.asarray, to_numpy, array_api_strict.sin, array_api_strict.cos),
    "dask": (lambda a: da.from_array(a, chunks=tuple(max(1, (n + 1) // 2) for n in a.shape)),
             to_numpy, da.sin, da.cos),
}

#: (target, the library its inputs come from)
RUNS = [("torch", "torch"), ("jax", "jax"), ("array-api", "numpy"), ("array-api", "strict"),
        ("array-api", "torch"), ("array-api", "dask")]


def convert(value, to):
    return value if isinstance(value, float) else to(np.ascontiguousarray(value))


def run_target(g: matcalc.Gradient, target: str, library: str, seed: int, dtype=np.float64):
    """Run ``g``'s ``target`` function on ``library`` arrays; return (instance, value, grads)."""
    to, back, sin, cos = LIBRARIES[library]
    model = g.model
    fn = g.to_function(target=target)
    inst = random_instance(model, np.random.default_rng(seed))
    assert len(set(inst.dims.values())) == len(inst.dims), "sizes must be distinct"
    functions = {**inst.functions, **{f: [np.sin, np.cos] for f in model.elementwise}}
    inst = Instance(inst.dims, inst.inputs, functions)
    kwargs = kwargs_for(model, inst, fn)
    for k, v in list(kwargs.items()):
        if callable(v):
            kwargs[k] = sin if v is np.sin else cos
        elif isinstance(v, float):
            kwargs[k] = v
        else:
            kwargs[k] = convert(v.astype(dtype), to)
    out = fn(**kwargs)
    return inst, out[0], out[1:], back


@pytest.mark.parametrize("target,library", RUNS, ids=[f"{t}-{lib}" for t, lib in RUNS])
@pytest.mark.parametrize("case", range(len(CASES)), ids=IDS)
def test_target_matches_model_and_finite_differences(case, target, library):
    model_text, wrt = CASES[case]
    if library == "dask" and any(f in model_text for f in ("inv(", "det(")):
        pytest.skip("dask.array's inv and det (LU) need square chunks all of one size")
    g = matcalc.grad(model_text, wrt)
    assert_matches_differences(g, *run_target(g, target, library, seed=100 + case))


def assert_matches_differences(g: matcalc.Gradient, inst, value, grads, back) -> None:
    """The value is the model's; each gradient has the contract's shape and dtype and agrees
    with central differences."""
    model, d = g.model, g.derivation
    env = evaluate_model(model, inst.inputs, inst.dims, inst.functions)
    assert back(value).shape == ()
    assert float(back(value)) == pytest.approx(float(env[d.of.name][0, 0]), rel=1e-9, abs=1e-12)
    for var, grad in zip(d.wrt, grads, strict=True):
        grad = back(grad)
        assert grad.shape == expected_shape(var, inst), (var.name, grad.shape)
        assert grad.dtype == np.float64
        numeric = finite_difference(model, d.of, var, inst)
        err = relative_error(np.reshape(grad, numeric.shape), numeric)
        assert err < 1e-5, (var.name, err)


#: The library each target's function gets its inputs from in the per-entry test.
ENTRY_LIBRARY = {"numpy": "numpy", "torch": "torch", "jax": "jax", "array-api": "strict"}


@pytest.mark.parametrize("target", SPELT_TARGETS)
@pytest.mark.parametrize("name", list(OPS))
def test_every_registry_entry_in_every_target(name, target):
    """Each entry's spelling for each target (``Op.code``), through a model using it (its
    gradient, for the engine's own), against central differences."""
    op = OPS[name]
    model = _entrywise_model(op) if op.kind == "entrywise" else op.example
    m = matcalc.parse(model)
    g = matcalc.grad(m, wrt=[v.name for v in m.inputs])
    used = set().union(*(_ops_in(rhs) for _, rhs in m.definitions), *map(_ops_in, g.derivation.gradients))
    assert name in used, f"the model {model!r} does not use {name}"
    assert_matches_differences(g, *run_target(g, target, ENTRY_LIBRARY[target], seed=3))


#: Bodies of functions defined by formula that make SymPy write every function of the
#: registry (``Max`` and ``Heaviside`` too), powers, roots and a constant derivative.
FORMULA_BODIES = [
    "u / (1 + abs(u))",
    "relu(u) - 0.01*relu(-u)",
    "u * sigmoid(1.702*u)",
    "u * tanh(softplus(u))",
    "arctan(u)^3 + arcsin(u / (2 + abs(u))) - arccos(u / (3 + sq(u)))",
    "3*u + 2",
    "sign(u) * u^2 + step(u) * u",
    "exp(-u^2/2) + cos(u) * tan(u/4) + sin(u)",
    "sqrt(1 + u^2) + log(1 + u^2) + log1p(sq(u)) + expm1(u/3)",
]
FORMULA_RUNS = [("numpy", "numpy"), ("torch", "torch"), ("jax", "jax"), ("array-api", "strict"),
                ("array-api", "torch")]


@pytest.mark.parametrize("target,library", FORMULA_RUNS, ids=[f"{t}-{lib}" for t, lib in FORMULA_RUNS])
@pytest.mark.parametrize("body", FORMULA_BODIES)
def test_functions_defined_by_formula_in_every_target(body, target, library):
    """The helpers SymPy's printer for the target writes (f and f'), against central differences."""
    g = matcalc.grad(f"h(u) = {body}; x: vector(n); W: matrix(m, n); y: vector(m); f = y'*h(W*x)",
                     wrt=["W", "x", "y"])
    assert "def _dh(" in g.source(target=target)
    assert_matches_differences(g, *run_target(g, target, library, seed=11))


@pytest.mark.parametrize("target,library", FORMULA_RUNS, ids=[f"{t}-{lib}" for t, lib in FORMULA_RUNS])
def test_the_issue_activations_in_every_target(target, library):
    from test_formulas import MODEL

    g = matcalc.grad(MODEL, wrt=["W", "V", "x"])
    assert_matches_differences(g, *run_target(g, target, library, seed=12))
    if target == "jax":  # the helpers are pure: jax.jit accepts them
        fn = g.to_function(target="jax")
        _, kwargs = _seed_inputs(g, np.random.default_rng(13), jnp.asarray)
        for a, b in zip(jax.jit(fn)(**kwargs), fn(**kwargs), strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12, atol=1e-12)
    if target == "numpy":  # float64 by its contract
        return
    _, value, grads, back = run_target(g, target, library, seed=12, dtype=np.float32)
    assert back(value).dtype == np.float32 and all(back(t).dtype == np.float32 for t in grads)


SEED_CASES = [i for i, name in enumerate(IDS) if name.startswith("seed")]


@pytest.mark.parametrize("target,library", RUNS[:3] + RUNS[4:5], ids=["torch", "jax", "numpy", "api-torch"])
@pytest.mark.parametrize("case", SEED_CASES, ids=[IDS[i] for i in SEED_CASES])
def test_float32_in_float32_out(case, target, library):
    model_text, wrt = CASES[case]
    g = matcalc.grad(model_text, wrt)
    inst, value, grads, back = run_target(g, target, library, seed=7 + case, dtype=np.float32)
    _, value64, grads64, _ = run_target(g, target, library, seed=7 + case)
    assert back(value).dtype == np.float32
    assert float(back(value)) == pytest.approx(float(back(value64)), rel=1e-3, abs=1e-4)
    for grad, grad64 in zip(grads, grads64, strict=True):
        grad, grad64 = back(grad), back(grad64)
        assert grad.dtype == np.float32
        assert relative_error(grad.astype(np.float64), grad64) < 1e-3


def _seed_function(target: str):
    g = matcalc.grad((CASES[0][0]), CASES[0][1])
    return g, g.to_function(target=target)


def _seed_inputs(g, rng, to):
    inst = random_instance(g.model, rng)
    return inst, {k: convert(v, to) for k, v in kwargs_for(g.model, inst, lambda *a: None).items()}


def test_torch_builds_no_graph_and_keeps_device_and_dtype():
    g, fn = _seed_function("torch")
    _, kwargs = _seed_inputs(g, np.random.default_rng(1), torch.from_numpy)
    for v in kwargs.values():
        v.requires_grad_(True)
    out = fn(**kwargs)
    assert all(not t.requires_grad and t.grad_fn is None for t in out)
    assert all(t.dtype == torch.float64 and t.device.type == "cpu" for t in out)


def test_torch_constants_raise_no_warning():
    """A constant that is itself a tensor expression (``1.5^-(1/2)``) is wrapped without
    PyTorch's copy-construct warning (selftest model 299 printed one)."""
    g = matcalc.grad("y: vector(n); gamma: scalar; f = sum(y) * (gamma - sum(1.5^-(1/2)))", "gamma,y")
    fn = g.to_function(target="torch")
    y = torch.arange(3, dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, d_gamma, d_y = fn(y=y, gamma=torch.tensor(2.0, dtype=torch.float64))
    assert float(value) == pytest.approx(3 * (2 - 1.5**-0.5))
    assert float(d_gamma) == pytest.approx(3.0)
    torch.testing.assert_close(d_y, torch.full((3,), 2 - 1.5**-0.5, dtype=torch.float64))


def test_torch_compile_accepts_the_function():
    g, fn = _seed_function("torch")
    _, kwargs = _seed_inputs(g, np.random.default_rng(2), torch.from_numpy)
    compiled = torch.compile(fn, fullgraph=True)
    for a, b in zip(compiled(**kwargs), fn(**kwargs), strict=True):
        torch.testing.assert_close(a, b)


def test_torch_compile_accepts_the_in_place_updates():
    """Seed 004's module writes into the tensors it makes (``(X @ V).tanh_()``, ``….mul_(t0)``):
    ``torch.compile`` takes it whole, with the eager function's results."""
    g = matcalc.grad((MODELS / "seed004.mc").read_text(), "V")
    fn = g.to_function(target="torch")
    assert ".tanh_()" in g.source(target="torch") and ".mul_(" in g.source(target="torch")
    _, kwargs = _seed_inputs(g, np.random.default_rng(5), torch.from_numpy)
    compiled = torch.compile(fn, fullgraph=True)
    for a, b in zip(compiled(**kwargs), fn(**kwargs), strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("case", range(len(CASES)), ids=IDS)
def test_torch_writes_in_place_only_into_its_own_tensors(case):
    """The in-place updates of the PyTorch target never touch an input: every input tensor
    (float64, so not converted) is unchanged after the call, and calling twice gives the same
    results."""
    model_text, wrt = CASES[case]
    g = matcalc.grad(model_text, wrt)
    fn = g.to_function(target="torch")
    inst = random_instance(g.model, np.random.default_rng(300 + case))
    functions = {**inst.functions, **{f: [np.sin, np.cos] for f in g.model.elementwise}}
    kwargs = kwargs_for(g.model, Instance(inst.dims, inst.inputs, functions), fn)
    for k, v in list(kwargs.items()):
        if callable(v):
            kwargs[k] = torch.sin if v is np.sin else torch.cos
        elif not isinstance(v, float):
            kwargs[k] = torch.from_numpy(np.array(v, dtype=np.float64))
    before = {k: v.clone() for k, v in kwargs.items() if isinstance(v, torch.Tensor)}
    first = [t.clone() for t in fn(**kwargs)]
    for k, v in before.items():
        assert torch.equal(kwargs[k], v), k
    for a, b in zip(fn(**kwargs), first, strict=True):
        assert torch.equal(a, b)


def test_jax_jit_and_vmap_accept_the_function():
    g, fn = _seed_function("jax")
    _, kwargs = _seed_inputs(g, np.random.default_rng(3), jnp.asarray)
    eager = fn(**kwargs)
    jitted = jax.jit(fn)(**kwargs)
    for a, b in zip(jitted, eager, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12, atol=1e-12)
    # a batch of 3 targets y: vmap over y's leading axis equals three separate calls
    names = list(kwargs)
    ys = jnp.stack([kwargs["y"] + i for i in range(3)])
    batched = jax.vmap(lambda y: fn(**{**kwargs, "y": y}))(ys)
    for i in range(3):
        single = fn(**{**kwargs, "y": ys[i]})
        for a, b in zip(batched, single, strict=True):
            np.testing.assert_allclose(np.asarray(a[i]), np.asarray(b), rtol=1e-12, atol=1e-12)
    assert "y" in names


def test_jax_shape_mismatch_is_a_value_error_under_jit():
    g, fn = _seed_function("jax")
    _, kwargs = _seed_inputs(g, np.random.default_rng(4), jnp.asarray)
    kwargs["y"] = jnp.concatenate([kwargs["y"], kwargs["y"]])
    with pytest.raises(ValueError, match="y must have shape"):
        jax.jit(fn)(**kwargs)


def test_array_api_on_dask_stays_lazy_and_chunked():
    g, fn = _seed_function("array-api")
    to = LIBRARIES["dask"][0]
    _, kwargs = _seed_inputs(g, np.random.default_rng(5), to)
    out = fn(**kwargs)
    assert all(isinstance(t, da.Array) for t in out)
    ref = g.to_function()(**{k: np.asarray(v.compute()) for k, v in kwargs.items()})
    computed = da.compute(*out)
    for a, b in zip(computed, ref, strict=True):
        np.testing.assert_allclose(np.asarray(a), b, rtol=1e-10, atol=1e-12)


def test_the_targets_import_only_their_library():
    g = matcalc.grad(CASES[0][0], CASES[0][1])
    imports = {t: [line for line in g.source(t).splitlines() if line.startswith("import ")]
               for t in ("numpy", "torch", "jax", "array-api")}
    assert imports == {
        "numpy": ["import numpy as np"],
        "torch": ["import torch"],
        "jax": ["import jax.numpy as jnp"],
        "array-api": ["import array_api_compat as _compat"],
    }


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU: PyTorch on a GPU is not tested here")
def test_torch_on_cuda():  # pragma: no cover - needs a GPU
    g, fn = _seed_function("torch")
    _, kwargs = _seed_inputs(g, np.random.default_rng(6), lambda a: torch.from_numpy(a).cuda())
    out = fn(**kwargs)
    assert all(t.device.type == "cuda" for t in out)
    ref = g.to_function()(**{k: v.cpu().numpy() for k, v in kwargs.items()})
    for a, b in zip(out, ref, strict=True):
        np.testing.assert_allclose(a.cpu().numpy(), b, rtol=1e-10, atol=1e-12)


def _cupy_gpu() -> bool:
    if importlib.util.find_spec("cupy") is None:
        return False
    try:  # pragma: no cover - needs CuPy
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # pragma: no cover
        return False


@pytest.mark.skipif(not _cupy_gpu(), reason="no CuPy with a GPU: the array-API module on CuPy is untested")
def test_array_api_on_cupy():  # pragma: no cover - needs a GPU
    import cupy

    g, fn = _seed_function("array-api")
    _, kwargs = _seed_inputs(g, np.random.default_rng(7), cupy.asarray)
    out = fn(**kwargs)
    ref = g.to_function()(**{k: cupy.asnumpy(v) for k, v in kwargs.items()})
    for a, b in zip(out, ref, strict=True):
        np.testing.assert_allclose(cupy.asnumpy(a), b, rtol=1e-10, atol=1e-12)



def test_cli_code_writes_each_target_and_grad_formats_them(tmp_path):
    from matcalc.cli import main

    model = CASES[0][0]
    for target in ("numpy", "torch", "jax", "array-api"):
        path = tmp_path / f"{target}.py"
        assert main(["code", model, "--wrt", "W", "--target", target, "-o", str(path)]) == 0
        g = matcalc.grad(model, "W")
        assert path.read_text() == g.source(target)
        assert ast_ok(path.read_text())
    path = tmp_path / "jax2.py"
    assert main(["grad", model, "--wrt", "W", "--format", "jax", "-o", str(path)]) == 0
    assert path.read_text() == matcalc.grad(model, "W").source("jax")


def ast_ok(text: str) -> bool:
    import ast

    ast.parse(text)
    return True


def test_unknown_target_is_an_error_not_a_traceback():
    g = matcalc.grad(CASES[0][0], "W")
    with pytest.raises(matcalc.MatcalcError, match="unknown target 'fortran'"):
        g.source("fortran")


def test_numpy_target_is_the_numpy_module():
    g = matcalc.grad(CASES[0][0], "W")
    assert g.source("numpy") == g.numpy_source()


SPREAD_ROWS = "X: matrix(t, n); V: matrix(n, m); Phi = tanh(X*V); L = norm2(Phi*ones)^2"
SPREAD_COLUMNS = "X: matrix(t, n); V: matrix(n, m); Phi = tanh(X*V); L = norm2(ones'*Phi)^2"


@pytest.mark.parametrize("model,wrt,after", [
    (SPREAD_ROWS, "X", True), (SPREAD_ROWS, "V", False),
    (SPREAD_COLUMNS, "X", False), (SPREAD_COLUMNS, "V", True),
])
def test_torch_scales_a_product_after_it(model, wrt, after):
    """``Xᵀ(E ∘ 1rᵀ)`` is ``(XᵀE) ∘ 1rᵀ`` and ``(c1ᵀ ∘ E)Vᵀ`` is ``c1ᵀ ∘ (EVᵀ)`` in the PyTorch
    module (the row or column scales the product in place); the other two stay as they are; all
    agree with central differences."""
    g = matcalc.grad(model, wrt)
    source = g.source(target="torch")
    assert (").mul_(t0).mul_(2.0)" in source) is after
    assert_matches_differences(g, *run_target(g, "torch", "torch", seed=41))
