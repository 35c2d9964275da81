"""The generated NumPy module: its contract, proved by running it.

Every seed and every identity is turned into a module; its
``value_and_grad`` runs on random inputs of random, distinct sizes and must
give the model's value, gradients of exactly the variables' shapes, and
gradients that agree with central differences.
"""

from __future__ import annotations

import ast
import inspect
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from identities import IDENTITIES
from test_gradients import MODELS, POWERS, SEEDS

import matcalc
from matcalc.check import Instance, finite_difference, random_instance, relative_error
from matcalc.evaluate import Evaluator, evaluate_model
from matcalc.printing.numpy import python_name

CASES = [((MODELS / f"{name}.mc").read_text(), wrt) for name, wrt, _ in SEEDS]
CASES += [(model, wrt) for _, model, wrt, _ in IDENTITIES]
IDS = [name for name, _, _ in SEEDS] + [name for name, *_ in IDENTITIES]


def contract_value(var, array: np.ndarray):
    """An input as the generated function takes it: vectors 1-D, scalars floats."""
    r, c = array.shape
    if (r, c) == (1, 1) and var.shape == (1, 1):
        return float(array[0, 0])
    if var.shape[1] == 1:
        return array[:, 0].copy()
    return array.copy()


def expected_shape(var, inst: Instance) -> tuple[int, ...]:
    """The shape the contract gives the gradient w.r.t. ``var``: (), (n,) or (r, c)."""
    r, c = Evaluator({}, inst.dims).shape(var)
    if var.shape == (1, 1):
        return ()
    if var.shape[1] == 1:
        return (r,)
    return (r, c)


def kwargs_for(model, inst: Instance, fn) -> dict:
    """Keyword arguments of the generated function ``fn`` for ``inst``.

    Inputs keep their names (keywords get ``_``); after them come the
    callables ``g, dg`` of each ``elementwise`` ``g`` in name order (``dg_``
    if an input is already called ``dg``).
    """
    kwargs = {python_name(v.name): contract_value(v, inst.inputs[v.name]) for v in model.inputs}
    callables = list(inspect.signature(fn).parameters)[len(model.inputs):]
    pairs = [(g, k) for g in sorted(model.elementwise) for k in (0, 1)]
    assert len(callables) == len(pairs)
    for param, (g, k) in zip(callables, pairs, strict=True):
        kwargs[param] = inst.functions[g][k]
    return kwargs


def sin_functions(model) -> dict:
    """``np.sin`` and ``np.cos`` for every declared ``elementwise`` function."""
    return {g: [np.sin, np.cos] for g in model.elementwise}


def shrink(model, inst: Instance, ones: set[str]) -> Instance:
    """``inst`` with the sizes in ``ones`` set to 1 (inputs cut to their leading block).

    A leading block keeps every domain: positive stays positive, symmetric
    positive definite stays so.
    """
    dims = {d: 1 if d in ones else s for d, s in inst.dims.items()}
    ev = Evaluator({}, dims)
    inputs = {}
    for v in model.inputs:
        r, c = ev.shape(v)
        inputs[v.name] = inst.inputs[v.name][:r, :c].copy()
    return Instance(dims, inputs, inst.functions)


def run_and_check(g: matcalc.Gradient, seed: int, ones: str = "") -> None:
    """Run the generated function on random inputs; ``ones`` = "all"/"first": sizes set to 1."""
    model, d = g.model, g.derivation
    fn = g.to_function()
    rng = np.random.default_rng(seed)
    inst = random_instance(model, rng)
    inst = Instance(inst.dims, inst.inputs, sin_functions(model))
    assert len(set(inst.dims.values())) == len(inst.dims), "sizes must be distinct"
    if ones:
        inst = shrink(model, inst, set(model.dims if ones == "all" else model.dims[:1]))

    out = fn(**kwargs_for(model, inst, fn))
    assert isinstance(out, tuple) and len(out) == 1 + len(d.wrt)
    value, grads = out[0], out[1:]

    env = evaluate_model(model, inst.inputs, inst.dims, inst.functions)
    want = float(env[d.of.name][0, 0])
    assert isinstance(value, float), type(value)
    assert value == pytest.approx(want, rel=1e-10, abs=1e-12)

    for var, grad in zip(d.wrt, grads, strict=True):
        shape = expected_shape(var, inst)
        if shape == ():
            assert isinstance(grad, float), (var.name, type(grad))
        else:
            assert isinstance(grad, np.ndarray), (var.name, type(grad))
            assert grad.shape == shape, (var.name, grad.shape, shape)
            assert grad.dtype == np.float64
        numeric = finite_difference(model, d.of, var, inst)
        err = relative_error(np.reshape(grad, numeric.shape), numeric)
        assert err < 1e-5, (var.name, err)


@pytest.mark.parametrize("model,wrt", CASES, ids=IDS)
@pytest.mark.parametrize("seed", [0, 1])
def test_generated_module_matches_model_and_finite_differences(model, wrt, seed):
    run_and_check(matcalc.grad(model, wrt=wrt), seed)


@pytest.mark.parametrize("model,wrt", CASES, ids=IDS)
@pytest.mark.parametrize("ones", ["all", "first"])
def test_sizes_of_one_do_not_break_broadcasting(model, wrt, ones):
    """Outer products and sums are spelt with broadcasting: sizes of 1 must still work."""
    run_and_check(matcalc.grad(model, wrt=wrt), 7, ones)


@pytest.mark.parametrize("model,wrt", CASES, ids=IDS)
def test_module_imports_only_numpy(model, wrt):
    tree = ast.parse(matcalc.grad(model, wrt=wrt).numpy_source())
    imports = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imports += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            imports.append(node.module)
    assert imports == ["numpy"]


@pytest.mark.parametrize("model,wrt", CASES, ids=IDS)
def test_parameters_are_the_free_inputs(model, wrt):
    g = matcalc.grad(model, wrt=wrt)
    params = list(inspect.signature(g.to_function()).parameters)
    want = [python_name(v.name) for v in g.model.inputs]
    for f in g.model.elementwise:
        want += [python_name(f), python_name("d" + f)]
    assert sorted(params) == sorted(want)
    assert params[: len(g.model.inputs)] == [python_name(v.name) for v in g.model.inputs]


SEED000 = (MODELS / "seed000.mc").read_text()


def seed000_inputs(n=4, m=3, p=5, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "x": rng.normal(size=n),
        "b": rng.normal(size=m),
        "W": rng.normal(size=(m, n)),
        "M": rng.normal(size=(p, m)),
        "c": rng.normal(size=p),
        "y": rng.normal(size=p),
    }


def test_wrong_matrix_shape_names_input_and_both_shapes():
    fn = matcalc.grad(SEED000, wrt="W").to_function()
    args = seed000_inputs()
    args["W"] = np.zeros((3, 7))
    with pytest.raises(ValueError) as info:
        fn(**args)
    msg = str(info.value)
    assert "W" in msg and "(3, 4)" in msg and "(3, 7)" in msg, msg


def test_wrong_vector_length_names_input_and_both_shapes():
    fn = matcalc.grad(SEED000, wrt="W").to_function()
    args = seed000_inputs()
    args["y"] = np.zeros(6)
    with pytest.raises(ValueError) as info:
        fn(**args)
    msg = str(info.value)
    assert "y" in msg and "(5,)" in msg and "(6,)" in msg, msg


def test_column_array_where_vector_expected_is_rejected():
    fn = matcalc.grad(SEED000, wrt="W").to_function()
    args = seed000_inputs()
    args["x"] = args["x"].reshape(-1, 1)
    with pytest.raises(ValueError, match=r"x must be a 1-D array.*\(4, 1\)"):
        fn(**args)


def test_vector_where_matrix_expected_is_rejected():
    fn = matcalc.grad(SEED000, wrt="W").to_function()
    args = seed000_inputs()
    args["M"] = np.zeros(5)
    with pytest.raises(ValueError, match=r"M must be a 2-D array"):
        fn(**args)


def test_array_where_scalar_expected_is_rejected():
    fn = matcalc.grad("x: vector(n); alpha: scalar; f = alpha*x'*x", wrt="alpha").to_function()
    with pytest.raises(ValueError, match=r"alpha must be a scalar.*\(3,\)"):
        fn(x=np.ones(3), alpha=np.ones(3))


def test_scalars_accept_floats_and_0d_arrays():
    fn = matcalc.grad("x: vector(n); alpha: scalar; f = alpha*x'*x", wrt="alpha,x").to_function()
    a = fn(x=np.arange(3.0), alpha=2.0)
    b = fn(x=np.arange(3.0), alpha=np.array(2.0))
    assert a[0] == b[0] == 10.0
    assert isinstance(a[1], float) and a[1] == 5.0
    np.testing.assert_allclose(a[2], b[2])


def test_positional_call_follows_input_order():
    g = matcalc.grad(SEED000, wrt="W,b")
    fn = g.to_function()
    args = seed000_inputs()
    by_name = fn(**args)
    by_position = fn(*(args[v.name] for v in g.model.inputs))
    assert by_name[0] == by_position[0]
    for a, b in zip(by_name[1:], by_position[1:], strict=True):
        np.testing.assert_array_equal(a, b)


def test_inputs_are_not_modified():
    fn = matcalc.grad(SEED000, wrt="W,M,b,c").to_function()
    args = seed000_inputs()
    copies = {k: v.copy() for k, v in args.items()}
    grads = fn(**args)[1:]
    for k in args:
        np.testing.assert_array_equal(args[k], copies[k])
    for gr in grads:  # results own their memory: writing to them is safe
        assert gr.flags.writeable
        gr[...] = 0.0
    for k in args:
        np.testing.assert_array_equal(args[k], copies[k])


def test_keyword_lambda_becomes_lambda_underscore():
    model = "X: matrix(m, n); w: vector(n); y: vector(m); lambda: scalar; " \
        "f = norm2(X*w - y)^2 + lambda*norm2(w)^2"
    g = matcalc.grad(model, wrt="w,lambda")
    fn = g.to_function()
    assert "lambda_" in inspect.signature(fn).parameters
    rng = np.random.default_rng(2)
    X, w, y = rng.normal(size=(5, 3)), rng.normal(size=3), rng.normal(size=5)
    value, gw, glam = fn(X=X, w=w, y=y, lambda_=0.7)
    r = X @ w - y
    assert value == pytest.approx(r @ r + 0.7 * w @ w)
    np.testing.assert_allclose(gw, 2 * X.T @ r + 1.4 * w)
    assert glam == pytest.approx(w @ w)


CLASH_MODELS = [
    # names the generator itself uses: the NumPy alias, gradients, temporaries, helpers
    ("np: vector(n); A: matrix(n, n); f = np'*A*np + sum(exp(A*np))", "np,A"),
    ("W, grad_W: matrix(m, n); f = sum(tanh(W) .* grad_W) + tr(W'*W)", "W,grad_W"),
    ("t0, t1: vector(n); A: matrix(n, n); s = A*t0 + t1; f = s'*s + s'*A*s", "t0,A"),
    ("_input, _out: vector(n); f = sum(exp(_input .* _out)) + _input'*_out", "_input,_out"),
    ("ValueError: matrix(m, n); x: vector(n); f = sum(exp(ValueError*x))", "ValueError,x"),
    ("n: vector(n); m: matrix(m, n); f = n'*m'*m*n", "n,m"),
    ("x: vector(n); W: matrix(m, n); t0 = W*x; t1 = exp(t0); f = sum(t1) + t0'*t0", "W,x"),
    ("g: elementwise; dg, x: vector(n); f = sum(g(x) .* dg)", "x,dg"),
]


@pytest.mark.parametrize("model,wrt", CLASH_MODELS)
def test_names_do_not_clash_with_module_internals(model, wrt):
    run_and_check(matcalc.grad(model, wrt=wrt), seed=5)


def test_input_named_like_a_derivative_callable_keeps_its_name():
    model = "g: elementwise; dg, x: vector(n); f = sum(g(x) .* dg)"
    fn = matcalc.grad(model, wrt="x").to_function()
    assert list(inspect.signature(fn).parameters) == ["dg", "x", "g", "dg_"]


@pytest.mark.parametrize("name", ["value_and_grad", "grad_f", "loss", "np", "_out", "x", "f"])
def test_custom_function_name(name):
    g = matcalc.grad(SEED000, wrt="W,b")
    source = g.numpy_source(name)
    namespace: dict = {}
    exec(compile(source, "<test>", "exec"), namespace)
    fn = namespace[name]
    assert fn.__name__ == name
    ref = matcalc.grad(SEED000, wrt="W,b").to_function()
    args = seed000_inputs()
    got, want = fn(**args), ref(**args)
    assert got[0] == want[0]
    for a, b in zip(got[1:], want[1:], strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["lambda", "1f", "a-b", "", "ValueError"])
def test_invalid_function_name_is_refused(name):
    with pytest.raises(ValueError):
        matcalc.grad(SEED000, wrt="W").numpy_source(name)


def test_two_generations_are_byte_identical():
    for model, wrt in CASES:
        a = matcalc.grad(model, wrt=wrt).numpy_source()
        b = matcalc.grad(model, wrt=wrt).numpy_source()
        assert a == b


_PRINT_ALL = """
import sys
sys.path.insert(0, {tests!r})
import matcalc
from test_numpy_module import CASES
for model, wrt in CASES:
    sys.stdout.write(matcalc.grad(model, wrt=wrt).numpy_source())
"""


def test_source_does_not_depend_on_hash_seed():
    tests = str(Path(__file__).parent)
    root = str(Path(__file__).parent.parent)
    outs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        run = subprocess.run(
            [sys.executable, "-c", _PRINT_ALL.format(tests=tests)],
            env=env, capture_output=True, text=True, check=True,
        )
        outs.append(run.stdout)
    assert outs[0] == outs[1]


def test_input_named_valueerror_still_raises_valueerror():
    fn = matcalc.grad("ValueError: matrix(m, n); x: vector(n); f = sum(exp(ValueError*x))",
                      wrt="x").to_function()
    with pytest.raises(ValueError, match=r"x must have shape"):
        fn(ValueError=np.ones((2, 3)), x=np.ones(4))


def test_size_fixed_by_no_input_is_refused_at_generation():
    g = matcalc.grad("x: vector(n); f = sum(exp(x)) * sum(ones(k))", wrt="x")
    with pytest.raises(ValueError, match=r"size k is not the size of any input"):
        g.numpy_source()


#: Models whose printing needs care: operator precedence around templates, the
#: one-pass rewrites of tr(L R) and sum(A ∘ B), broadcasting of all-ones factors.
PRINTING_MODELS = [
    ("A: matrix(m, k); X: matrix(k, n); f = sum(exp(vec(A*X)))", "A,X"),
    ("A: matrix(m, n); x: vector(n); f = sum(sigmoid(A*x))", "A,x"),
    ("A: matrix(p, m); X: matrix(m, n); B: matrix(n, p); f = tr(A*X*B)^2", "X"),
    ("a, b: vector(n); f = tr(a*b')", "a,b"),
    ("A, X: matrix(m, n); f = sum(X .* A) + sum(X .^ 2) + sum(step(X) .* A)", "X"),
    ("X: matrix(m, n); f = norm2(ones'*X)^2 + norm2(X*ones)^2", "X"),
    ("X: matrix(m, n); a: vector(m); f = sum(exp(ones(m)*ones'*X)) + a'*X*ones", "X,a"),
    ("x, y: vector(n); f = sum(relu(x) .* step(y)) + sum(step(x))", "x"),
    ("a, b, x: vector(n); A: matrix(n, n); f = a'*Diag(x)*A*Diag(x)*b", "x,A"),
    ("x: vector(n); y: vector(m); f = sum(exp(1 - x*y'))", "x,y"),
]


@pytest.mark.parametrize("model,wrt", PRINTING_MODELS)
@pytest.mark.parametrize("ones", ["", "all"])
def test_printing_models(model, wrt, ones):
    run_and_check(matcalc.grad(model, wrt=wrt), 11, ones)


def _body(model: str, wrt: str) -> str:
    source = matcalc.grad(model, wrt=wrt).numpy_source()
    return source[source.index("def value_and_grad"):]


def test_seed004_sums_columns_once_without_a_matrix_of_ones():
    body = _body((MODELS / "seed004.mc").read_text(), "V")
    assert "ones" not in body
    assert body.count(".sum(axis=0") == 1
    assert "2.0 * X" not in body  # the coefficient scales the small result, not X


def test_seed000_outer_product_by_broadcasting_and_mask_without_heaviside():
    body = _body(SEED000, "W,M,b,c")
    assert "heaviside" not in body and "(s > 0.0)" in body
    assert "* x.T" in body and "@ x.T" not in body
    assert "'matrix', True)" in body  # fresh gradients are not copied


def test_shared_sub_products_are_computed_once():
    body = _body((MODELS / "seed002.mc").read_text(), "V,W")
    assert body.count("B.T @") == 1


RESIDUAL3 = """x, y: vector(n); W1, W2, W3: matrix(n, n)
h1 = x + tanh(W1*x)
h2 = h1 + tanh(W2*h1)
h3 = h2 + tanh(W3*h2)
f = 1/2*sum((h3 - y).^2)"""


@pytest.mark.parametrize("target", ["numpy", "torch", "jax", "array-api"])
def test_adjoint_used_twice_is_read_by_name_not_copied(target):
    """``δh2`` feeds both ``δh1`` and ``∂f/∂W2``: the code reads ``delta_h2`` itself, with no
    ``tN = delta_h2`` line, and the NumPy module still agrees with finite differences."""
    g = matcalc.grad(RESIDUAL3, wrt=["W1", "W2", "W3"])
    tree = ast.parse(g.source(target=target))
    plain = [ast.unparse(a) for a in ast.walk(tree) if isinstance(a, ast.Assign)
             and isinstance(a.value, ast.Name) and a.value.id.startswith("delta_")]
    assert plain == []
    assert "delta_h2" in g.source(target=target)
    if target == "numpy":
        run_and_check(g, seed=3)


def test_trace_of_product_is_one_pass():
    body = _body("A: matrix(p, m); X: matrix(m, p); f = tr(A*X)", "X")
    assert "trace" not in body and "vdot" in body


def test_long_chain_code_is_ordered_greedily_and_correct():
    """A chain beyond the cubic search's reach (50 factors) still computes the right gradients,
    and the generated code stays within Python's nesting limits."""
    k = 50
    g = matcalc.grad("A: matrix(n, n); x: vector(n); f = x'*" + "A*" * k + "x", wrt=["A", "x"])
    fn = g.to_function()
    rng = np.random.default_rng(0)
    A = rng.normal(size=(4, 4)) / 2.5
    x = rng.normal(size=4)
    value, dA, dx = fn(A, x)
    P = np.linalg.matrix_power(A, k)
    assert np.isclose(value, x @ P @ x)
    assert np.allclose(dx, (P + P.T) @ x)
    powers = [np.linalg.matrix_power(A.T, i) for i in range(k)]
    expected = sum(powers[i] @ np.outer(x, x) @ powers[k - 1 - i] for i in range(k))
    assert np.allclose(dA, expected)


def test_deeply_nested_code_uses_temporaries():
    """300 nested inverses compile (no expression nests past the parser's limit) and agree with NumPy."""
    depth = 300
    g = matcalc.grad("A: matrix(n, n); f = tr(" + "inv(" * depth + "A" + ")" * depth + ")", wrt="A")
    A = np.eye(3) + 0.1 * np.arange(9.0).reshape(3, 3)
    value, dA = g.to_function()(A)
    assert np.isclose(value, np.trace(A))  # an even number of inverses
    assert np.allclose(dA, np.eye(3))


@pytest.mark.parametrize("model,wrt", POWERS)
def test_matrix_power_sums_in_generated_code_agree_with_finite_differences(model, wrt):
    g = matcalc.grad(model, wrt=wrt)
    fn = g.to_function()
    rng = np.random.default_rng(11)
    inst = random_instance(g.model, rng)
    _, *grads = fn(**kwargs_for(g.model, inst, fn))
    for got, var in zip(grads, g.derivation.wrt):
        want = finite_difference(g.model, g.derivation.of, var, inst)
        assert relative_error(np.reshape(got, want.shape), want) < 1e-6, (model, var.name)


@pytest.mark.parametrize("n", [5, 515])
def test_x_plus_x_transpose_is_summed_in_tiles_and_exactly(n):
    """``A + Aᵀ`` in the NumPy Hessian of ``xᵀAx`` goes through the module's tiled helper,
    written once, and gives exactly ``A + Aᵀ`` below and above the tiling size (515: ragged tiles)."""
    h = matcalc.hessian("A: matrix(n, n); x: vector(n); f = x'*A*x", "x")
    source = h.source()
    assert source.count("def _symmetric_sum(") == 1 and "A + A.T" not in source
    assert "_symmetric_sum" not in h.source(target="array-api")
    rng = np.random.default_rng(n)
    A, x = rng.normal(size=(n, n)), rng.normal(size=n)
    value, grad, hess = h.to_function("value_grad_and_hessian")(A, x)
    assert np.array_equal(hess, A + A.T)
    assert np.isclose(value, x @ A @ x) and np.allclose(grad, (A + A.T) @ x)


@pytest.mark.parametrize("target", ["numpy", "torch", "jax", "array-api"])
def test_gradient_of_a_quadratic_form_makes_no_square_sum(target):
    """``∂(xᵀAx)/∂x = (A + Aᵀ)x`` is generated as ``Ax + Aᵀx``: no n×n sum, and ``Ax`` is
    computed once for the value and the gradient; the result agrees with central differences."""
    g = matcalc.grad("A: matrix(n, n); x: vector(n); f = x'*A*x + 3*x'*(A*A')*x", "x")
    source = g.source(target=target)
    assert "_symmetric_sum" not in source and "A + A.T" not in source and "A.T + A" not in source
    if target == "numpy":
        assert source.count("A @ x") == 1
        fn = g.to_function()
        inst = random_instance(g.model, np.random.default_rng(7))
        _, grad = fn(**kwargs_for(g.model, inst, fn))
        want = finite_difference(g.model, g.derivation.of, g.derivation.wrt[0], inst)
        assert relative_error(np.reshape(grad, want.shape), want) < 1e-6
