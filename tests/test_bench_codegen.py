"""What ``benchmarks/codegen.py`` relies on to time ours and the peers on the same memory:
inputs on a 64-byte boundary are used in place by ``jax.device_put`` (no copy) and by
``torch.from_numpy``; ``--pairs`` hands ours and the peer one set of JAX arrays; every
process keeps one glibc arena. No timing here (speed is the benchmark's business)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "codegen.py"
_spec = importlib.util.spec_from_file_location("bench_codegen", _PATH)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


@pytest.mark.parametrize("shape", [(7,), (5, 3), (64, 9)])
def test_aligned_copies_onto_a_64_byte_boundary(shape):
    a = np.random.default_rng(1).normal(size=shape)
    out = bench.aligned(a)
    assert out.ctypes.data % 64 == 0
    assert out.shape == a.shape and out.dtype == a.dtype
    np.testing.assert_array_equal(out, a)
    assert not np.shares_memory(out, a)


def test_inputs_are_aligned():
    inputs = bench.make_inputs("seed000", {"n": 3, "m": 4, "p": 5})
    assert {k: v.shape for k, v in inputs.items()} == {
        "x": (3,), "b": (4,), "W": (4, 3), "M": (5, 4), "c": (5,), "y": (5,)}
    assert all(v.ctypes.data % 64 == 0 for v in inputs.values())


def test_jax_uses_the_inputs_in_place_and_shares_them():
    jax = pytest.importorskip("jax", reason="needs JAX (the test extra)")
    jax.config.update("jax_enable_x64", True)
    inputs = bench.make_inputs("seed004", {"t": 6, "n": 4, "m": 3})
    on_device = bench.jax_inputs(inputs)
    if jax.default_backend() == "cpu":
        assert all(on_device[k].unsafe_buffer_pointer() == v.ctypes.data for k, v in inputs.items())
    assert bench.jax_inputs(inputs) is on_device
    other = bench.make_inputs("seed004", {"t": 6, "n": 4, "m": 3})
    assert bench.jax_inputs(other) is not on_device


def test_every_process_keeps_one_arena_unless_glibc_heap():
    kept, default = bench.thread_env(1, keep_heap=True), bench.thread_env(1, keep_heap=False)
    assert kept["MALLOC_ARENA_MAX"] == "1"
    assert int(kept["MALLOC_MMAP_THRESHOLD_"]) > 32 * 2**20
    assert "MALLOC_ARENA_MAX" not in default or default["MALLOC_ARENA_MAX"] == bench.os.environ.get(
        "MALLOC_ARENA_MAX")
