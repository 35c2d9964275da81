"""The same model gives byte-identical output — text, LaTeX, derivations, NumPy code, the
model as understood, error messages — in processes with different ``PYTHONHASHSEED``
(set and dict orders of strings differ between them)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).parent
ROOT = TESTS.parent

#: Prints everything matcalc makes of many models, one record per line.
SCRIPT = r"""
import json, sys
sys.path.insert(0, {tests!r})
import matcalc
from matcalc import selftest
from matcalc.show import format_model
from identities import IDENTITIES
from test_gradients import MODELS, SEEDS

def attempt(f):
    try:
        return f()
    except Exception as err:  # recorded, so that failures compare too
        return f"{{type(err).__name__}}: {{err}}"

models = [((MODELS / f"{{n}}.mc").read_text(), w, None) for n, w, _ in SEEDS]
models += [(m, w, None) for _, m, w, _ in IDENTITIES]
for i in range({count}):
    gm = selftest.generate(i)
    models.append((gm.text, list(gm.wrt), gm.of))
for text, wrt, of in models:
    g = matcalc.grad(text, wrt=wrt, of=of)
    record = [
        text, format_model(g.model), g.text(), g.latex(), g.numpy_source(),
        attempt(g.steps_text), attempt(g.steps_latex),
        attempt(lambda: json.dumps(g.to_json(), ensure_ascii=False, sort_keys=False)),
    ]
    print(json.dumps(record, ensure_ascii=False))
for i in range({count}):
    bm = selftest.ill_typed_model(selftest.RandomChooser(i))
    error = str(attempt(lambda: matcalc.grad(bm.text, wrt=bm.wrt or "x")))
    print(json.dumps([bm.text, error], ensure_ascii=False))
"""


def _run(hash_seed: str, count: int) -> str:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(tests=str(TESTS), count=count)],
        env=env, capture_output=True, text=True, encoding="utf-8", check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout


def test_output_is_byte_identical_across_hash_seeds():
    outs = {seed: _run(seed, 150) for seed in ("0", "1", "4242")}
    first = outs["0"].splitlines()
    assert len(first) > 300
    for seed, out in outs.items():
        lines = out.splitlines()
        assert len(lines) == len(first)
        for a, b in zip(first, lines):
            assert a == b, f"PYTHONHASHSEED={seed} differs:\n{a[:2000]}\n---\n{b[:2000]}"
    digest = hashlib.sha256(outs["0"].encode()).hexdigest()
    assert all(hashlib.sha256(o.encode()).hexdigest() == digest for o in outs.values())


def test_generator_is_independent_of_hash_seed():
    script = (
        "import sys; from matcalc import selftest\n"
        "for i in range(300): sys.stdout.write(selftest.generate(i).text + '\\n#\\n')\n"
        "for i in range(300): sys.stdout.write(ascii(selftest.fuzz_input(i)) + '\\n')\n"
    )
    outs = []
    for seed in ("3", "99"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
        run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                             text=True, encoding="utf-8", check=True)
        outs.append(run.stdout)
    assert outs[0] == outs[1]
