"""Generated NumPy code for Jacobians and Hessians: every table entry through
``value_and_jacobian`` / ``value_grad_and_hessian`` / ``hvp`` against the
(numerically checked) explicit matrices, structure never materialised, inputs
validated, directions named as the contract says."""

from __future__ import annotations

import numpy as np
import pytest
from kind_identities import TABLE

import matcalc
from matcalc import kron
from matcalc.check import random_instance
from matcalc.check_kinds import environment, numeric_jacobian, vec

IDS = [f"{kind}:{model}:{wrt}" for model, wrt, kind, _ in TABLE]


def natural(v, x: np.ndarray):
    """A 2-D array as the generated code takes it: float, 1-D vector or 2-D matrix."""
    if v.shape == (1, 1):
        return float(x[0, 0])
    if v.shape[1] == 1:
        return x[:, 0].copy()
    return x.copy()


def _setup(d, seed: int):
    rng = np.random.default_rng(seed)
    inst = random_instance(d.model, rng)
    ev = environment(d.model, inst)
    args = {v.name: natural(v, inst.inputs[v.name]) for v in d.model.inputs}
    return rng, inst, ev, args


def _size(ev, v) -> int:
    r, c = ev.shape(v)
    return r * c


def _full_hessian(d, ev) -> np.ndarray:
    wrt = d.derivation.wrt
    return np.block(
        [
            [
                np.broadcast_to(
                    kron.evaluate(d.derivation.block(x.name, y.name), ev), (_size(ev, x), _size(ev, y))
                )
                for y in wrt
            ]
            for x in wrt
        ]
    )


@pytest.mark.parametrize("model,wrt,kind,expected", TABLE, ids=IDS)
def test_generated_code_matches_the_explicit_matrices(model, wrt, kind, expected):
    d = matcalc.jacobian(model, wrt) if kind == "jacobian" else matcalc.hessian(model, wrt)
    for seed in (0, 1):
        rng, inst, ev, args = _setup(d.derivation, seed)
        if kind == "jacobian":
            f = d.to_function("value_and_jacobian")
            value, *jacobians = f(**args)
            assert np.allclose(np.reshape(value, ev.shape(d.derivation.of)), ev.env[d.derivation.of.name])
            for v, m, got in zip(d.derivation.wrt, d.derivation.blocks, jacobians, strict=True):
                want = np.broadcast_to(kron.evaluate(m, ev), got.shape)
                assert got.shape == (_size(ev, d.derivation.of), _size(ev, v))
                assert np.allclose(got, want)
            continue
        wrt_vars = d.derivation.wrt
        out = d.to_function("value_grad_and_hessian")(**args)
        grads, blocks = out[1 : 1 + len(wrt_vars)], out[1 + len(wrt_vars) :]
        assert np.isclose(out[0], ev.env[d.derivation.of.name][0, 0])
        assert len(blocks) == len(wrt_vars) * (len(wrt_vars) + 1) // 2
        full = _full_hessian(d, ev)
        i = 0
        for a, x in enumerate(wrt_vars):
            for y in wrt_vars[a:]:
                assert blocks[i].ndim == 2 and blocks[i].shape == (_size(ev, x), _size(ev, y))
                i += 1
        # the blocks laid out agree with the checked explicit Hessian
        rebuilt = np.block(
            [
                [
                    blocks[_upper(a, c, len(wrt_vars))] if a <= c else blocks[_upper(c, a, len(wrt_vars))].T
                    for c in range(len(wrt_vars))
                ]
                for a in range(len(wrt_vars))
            ]
        )
        assert np.allclose(rebuilt, full)
        # the gradients are the gradients
        for g, x in zip(grads, wrt_vars):
            assert np.shape(g) == np.shape(args[x.name])
        # hvp = H d, without building H
        dirs = {}
        for x in wrt_vars:
            dd = rng.normal(size=ev.shape(x))
            dirs["d" + x.name] = natural(x, (dd + dd.T) / 2 if x.symmetric else dd)
        hv = d.to_function("hvp")(**args, **dirs)
        assert isinstance(hv, tuple) and len(hv) == len(wrt_vars)
        want = full @ np.concatenate([vec(np.reshape(dirs["d" + x.name], ev.shape(x))) for x in wrt_vars])
        got = np.concatenate([vec(np.reshape(h, ev.shape(x))) for h, x in zip(hv, wrt_vars)])
        for h, x in zip(hv, wrt_vars):
            assert np.shape(h) == np.shape(args[x.name])
        assert np.allclose(got, want)


def _upper(a: int, c: int, n: int) -> int:
    """Index of block (a, c), a <= c, in the returned upper blocks."""
    return sum(n - i for i in range(a)) + (c - a)


def test_hessian_code_against_differences_of_generated_gradient():
    """The generated Hessian is the Jacobian of the generated gradient (numerically)."""
    model = "R: matrix(m, n); U: matrix(m, k); V: matrix(n, k); f = normF(R - U*V')^2"
    h = matcalc.hessian(model, "U,V")
    _, _, ev, args = _setup(h.derivation, 3)
    vg = h.to_function("value_and_grad")
    _, _, _, huu, huv, hvv = h.to_function("value_grad_and_hessian")(**args)
    fd_uu = numeric_jacobian(lambda u: vg(**{**args, "U": u})[1], args["U"], h=1e-5)
    fd_uv = numeric_jacobian(lambda v: vg(**{**args, "V": v})[1], args["V"], h=1e-5)
    fd_vv = numeric_jacobian(lambda v: vg(**{**args, "V": v})[2], args["V"], h=1e-5)
    assert np.allclose(huu, fd_uu, atol=1e-6) and np.allclose(huv, fd_uv, atol=1e-6)
    assert np.allclose(hvv, fd_vv, atol=1e-6)


BENCH_CASES = {
    "xAx": ("x: vector(n); A: matrix(n, n); f = x'*A*x", "x"),
    "logistic": (
        "X: matrix(n, k); y: vector(n); w: vector(k); p = sigmoid(X*w); "
        "f = -sum(y .* log(p) + (1 - y) .* log(1 - p))",
        "w",
    ),
    "logsumexp": ("X: matrix(m, n); w: vector(n); f = logsumexp(X*w)", "w"),
    "least squares": ("A: matrix(m, n); X: matrix(n, k); B: matrix(m, k); f = normF(A*X - B)^2", "X"),
    "low rank": ("R: matrix(m, n); U: matrix(m, k); V: matrix(n, k); f = normF(R - U*V')^2", "U"),
    "logdet": ("X: matrix(n, n); f = logdet(X)", "X"),
}


@pytest.mark.parametrize("name", list(BENCH_CASES))
def test_structure_is_never_materialised(name):
    model, wrt = BENCH_CASES[name]
    src = matcalc.hessian(model, wrt).numpy_source()
    body = src[src.index("def value_grad_and_hessian") :]
    for forbidden in ("np.eye", "np.diagflat", "_commutation(", "np.identity"):
        assert forbidden not in body, forbidden
    assert "np.kron(" not in body  # a Kronecker product is assembled by the helper, from its factors
    hvp = body[body.index("def hvp") :]
    assert "_kron" not in hvp and "_perm" not in hvp  # hvp applies the map, never H


def test_logistic_hessian_is_a_row_scaling():
    model, wrt = BENCH_CASES["logistic"]
    src = matcalc.hessian(model, wrt).numpy_source()
    assert "X.T @ ((p * t0) * X)" in src


def test_least_squares_hessian_is_a_block_diagonal_fill():
    model, wrt = BENCH_CASES["least squares"]
    assert "_kron(None, p0, k, k, n, n)" in matcalc.hessian(model, wrt).numpy_source()


def test_inputs_are_validated_and_directions_named():
    h = matcalc.hessian("x: vector(n); dx: vector(n); A: matrix(n, n); f = x'*A*x + dx'*x", "x")
    hvp = h.to_function("hvp")
    x, dx, a = np.ones(3), np.ones(3), np.eye(3)
    (hv,) = hvp(x=x, dx=dx, A=a, dx_=np.arange(3.0))
    assert np.allclose(hv, 2 * np.arange(3.0))
    with pytest.raises(ValueError, match="dx_ must have shape"):
        hvp(x=x, dx=dx, A=a, dx_=np.ones(4))
    with pytest.raises(ValueError, match="A must have shape"):
        h.to_function("value_grad_and_hessian")(x=x, dx=dx, A=np.eye(4))


def test_symmetric_direction_is_symmetrised():
    h = matcalc.hessian("S: symmetric(n); f = logdet(S)", "S")
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 4))
    s = a @ a.T + 4 * np.eye(4)
    d = rng.normal(size=(4, 4))
    (hv,) = h.to_function("hvp")(S=s, dS=d)
    (hv_sym,) = h.to_function("hvp")(S=s, dS=(d + d.T) / 2)
    assert np.allclose(hv, hv_sym)


def test_elementwise_function_needs_its_second_derivative():
    h = matcalc.hessian("g: elementwise; x: vector(n); A: matrix(m, n); f = sum(g(A*x))", "x")
    f = h.to_function("value_grad_and_hessian")
    rng = np.random.default_rng(1)
    a, x = rng.normal(size=(5, 3)), rng.normal(size=3)
    _, _, hxx = f(x=x, A=a, g=np.sin, dg=np.cos, ddg=lambda t: -np.sin(t))
    assert np.allclose(hxx, a.T @ (-np.sin(a @ x)[:, None] * a))


def test_jacobian_denominator_layout_code():
    j = matcalc.jacobian("x: vector(n); W: matrix(m, n); p = softmax(W*x)", "W", layout="denominator")
    w, x = np.random.default_rng(2).normal(size=(3, 4)), np.arange(4.0)
    p, jw = j.to_function()(x=x, W=w)
    assert jw.shape == (12, 3)
    num = matcalc.jacobian("x: vector(n); W: matrix(m, n); p = softmax(W*x)", "W").to_function()(x=x, W=w)[1]
    assert np.allclose(jw, num.T)


def test_direction_of_a_keyword_named_variable():
    h = matcalc.hessian("x: vector(n); lambda: scalar; f = lambda^2 * sum(x)", "lambda")
    src = h.numpy_source()
    assert "def hvp(x, lambda_, dlambda_):" in src
    (hv,) = h.to_function("hvp")(x=np.ones(3), lambda_=2.0, dlambda_=1.5)
    assert np.isclose(hv, 2 * 3 * 1.5)


def test_generated_modules_are_deterministic():
    model, wrt = BENCH_CASES["logistic"]
    assert matcalc.hessian(model, wrt).numpy_source() == matcalc.hessian(model, wrt).numpy_source()
    j1, j2 = (matcalc.jacobian(model, "w", of="p").numpy_source() for _ in range(2))
    assert j1 == j2
