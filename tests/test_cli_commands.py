"""The grad, check and numpy commands, run as a user runs them (a subprocess)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

MODELS = Path(__file__).parent / "models"
SEED0 = str(MODELS / "seed000.mc")


def run(*args, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "matcalc", *args], capture_output=True, text=True, input=stdin
    )


def test_grad_text_is_the_seed_answer():
    r = run("grad", SEED0, "--wrt", "W")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "∂f/∂W = ((Mᵀ(t − y)) ∘ step(s)) xᵀ"


def test_grad_steps_follow_the_seed_answer():
    r = run("grad", SEED0, "--wrt", "W", "--steps")
    lines = [line.split("[")[0].strip().lstrip("df= ").strip() for line in r.stdout.splitlines()]
    assert lines[:9] == [
        "sum((t − y) ∘ dt)",
        "𝟏 : (t − y) ∘ dt",
        "(t − y) : dt",
        "(t − y) : M da",
        "Mᵀ(t − y) : da",
        "Mᵀ(t − y) : step(s) ∘ ds",
        "(Mᵀ(t − y)) ∘ step(s) : ds",
        "(Mᵀ(t − y)) ∘ step(s) : dW x",
        "((Mᵀ(t − y)) ∘ step(s)) xᵀ : dW",
    ]
    assert "[G:AX = AᵀG:X]" in r.stdout and "[G:A∘X = (G∘A):X]" in r.stdout


def test_grad_json_carries_gradients_shapes_and_steps():
    r = run("grad", SEED0, "--wrt", "W,b", "--format", "json")
    data = json.loads(r.stdout)
    assert data["wrt"] == ["W", "b"]
    assert data["gradients"]["W"]["shape"] == ["m", "n"]
    assert data["gradients"]["b"]["text"] == "(Mᵀ(t − y)) ∘ step(s)"
    assert len(data["steps"]) >= 8 and all("rule" in s for s in data["steps"])


def test_grad_latex_and_stdin():
    r = run("grad", "-", "--wrt", "W", "--format", "latex", stdin=(MODELS / "seed000.mc").read_text())
    assert r.returncode == 0
    assert r"\frac{\partial f}{\partial W}" in r.stdout and r"\odot" in r.stdout


def test_numpy_module_written_to_file_runs(tmp_path):
    out = tmp_path / "grad_f.py"
    r = run("numpy", SEED0, "--wrt", "W,M", "-o", str(out), "--name", "loss_and_grads")
    assert r.returncode == 0, r.stderr
    ns = {}
    exec(compile(out.read_text(), str(out), "exec"), ns)
    rng = np.random.default_rng(0)
    n, m, p = 3, 4, 5
    args = dict(
        x=rng.normal(size=n),
        b=rng.normal(size=m),
        W=rng.normal(size=(m, n)),
        M=rng.normal(size=(p, m)),
        c=rng.normal(size=p),
        y=rng.normal(size=p),
    )
    value, gW, gM = ns["loss_and_grads"](**args)
    assert isinstance(value, float) and gW.shape == (m, n) and gM.shape == (p, m)


def test_check_passes_and_reports_each_variable():
    r = run("check", str(MODELS / "seed003.mc"), "--wrt", "alpha,beta", "--seed", "4")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "∂L/∂alpha" in r.stdout and "∂L/∂beta" in r.stdout and "ok" in r.stdout


def test_check_options_positive_and_spd():
    r = run(
        "check",
        "X: matrix(n, n); y: vector(n); f = logdet(X) + sum(sqrt(y))",
        "--wrt",
        "X,y",
        "--spd",
        "X",
        "--positive",
        "y",
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_derivative_errors_exit_2_without_traceback():
    for args in (
        ("grad", SEED0, "--wrt", "Q"),
        ("grad", "x: vector(n); f = W*x", "--wrt", "W"),
        ("numpy", SEED0, "--wrt", "W", "--name", "class"),
        ("check", SEED0, "--wrt", "W", "--spd", "nothere"),
        ("grad", "no_such_file.mc", "--wrt", "W"),
    ):
        r = run(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr and r.stderr.strip(), args


def test_a_reader_that_stops_early_is_no_error():
    """``matcalc … | head``: the closed pipe ends the command quietly, with no internal error."""
    from matcalc.architectures import gated

    model, wrt = gated(128)  # a module of about 77 KB: more than a pipe holds
    proc = subprocess.Popen(
        [sys.executable, "-m", "matcalc", "numpy", model, "--wrt", wrt],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.read(20)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "internal error" not in err and "Traceback" not in err, err
