"""Random well-typed models (the selftest's generator): every target's module gives the
NumPy module's value and gradients, which tests/test_random_models.py proves against
central differences. Catches a spelling that only some operator combinations reach."""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest

import matcalc
from matcalc import selftest

torch = pytest.importorskip("torch", reason="the targets' tests need PyTorch (the test extra)")
jax = pytest.importorskip("jax", reason="the targets' tests need JAX (the test extra)")
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402

#: target -> (array conversion, sin, cos)
TARGETS = {
    "torch": (torch.from_numpy, torch.sin, torch.cos),
    "jax": (jnp.asarray, jnp.sin, jnp.cos),
    "array-api": (np.asarray, np.sin, np.cos),
}


def arguments(model, case, to, sin, cos) -> list:
    drawn = {unicodedata.normalize("NFC", k): a for k, a in case.inputs.items()}
    args = []
    for v in model.inputs:
        a = drawn[v.name]
        a = float(a[0, 0]) if v.shape == (1, 1) else a[:, 0].copy() if v.shape[1] == 1 else a.copy()
        args.append(a if isinstance(a, float) else to(a))
    for _ in sorted(model.elementwise):
        args += [sin, cos]
    return args


#: Models per target (JAX runs eagerly op by op here, about 1 s a model).
MODELS = {"torch": 80, "jax": 30, "array-api": 80}


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_random_models_agree_with_the_numpy_module(target):
    to, sin, cos = TARGETS[target]
    compared = 0
    for number in range(5000, 5000 + MODELS[target]):
        case = selftest.instance(selftest.generate(number))
        if selftest.check_case(case, check_parse=False).status != "ok":
            continue  # rejected draws (too close to a kink, huge values)
        model = matcalc.parse(case.text)
        g = matcalc.grad(model, wrt=list(case.wrt), of=case.of)
        with np.errstate(all="ignore"):
            want = g.to_function()(*arguments(model, case, np.asarray, np.sin, np.cos))
        got = g.to_function(target=target)(*arguments(model, case, to, sin, cos))
        assert len(got) == len(want)
        for a, b in zip(got, want, strict=True):
            a = a.detach().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
            assert a.shape == np.shape(b), (case.describe(), a.shape, np.shape(b))
            scale = max(1.0, float(np.max(np.abs(b), initial=0.0)))
            assert np.allclose(a, b, rtol=1e-8, atol=1e-9 * scale), (case.describe(), a, b)
        compared += 1
    assert compared >= 0.75 * MODELS[target]
