"""``matcalc show`` and the command line's error handling, run as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import matcalc
from matcalc import cli
from matcalc.show import format_model

MODELS = Path(__file__).parent / "models"


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "matcalc", *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )


# ---------------------------------------------------------------- success


def test_show_model_file():
    out = run("show", str(MODELS / "seed000.mc"))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("x: vector(n)") and "input, n×1" in lines[0]
    assert any(line.startswith("W: matrix(m, n)") and "m×n" in line for line in lines)
    assert any(line.startswith("s = ") and "vector, m×1" in line for line in lines)
    assert lines[-1].startswith("f = ") and lines[-1].endswith("scalar, 1×1, output")
    assert out.stderr == ""


def test_show_inline_model():
    out = run("show", "x'*A*x + alpha")
    assert out.returncode == 0, out.stderr
    assert "A: matrix(k1, k1)" in out.stdout
    assert "alpha: scalar" in out.stdout
    assert out.stdout.splitlines()[-1].endswith("output")


def test_show_stdin():
    out = run("show", "-", stdin="S: symmetric(n)\ng: elementwise\nx: vector(n)\nf = sum(g(S*x))\n")
    assert out.returncode == 0, out.stderr
    assert "S: symmetric(n)" in out.stdout
    assert "g: elementwise" in out.stdout


def test_version():
    out = run("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"matcalc {matcalc.__version__}"


def test_help_lists_show():
    out = run("--help")
    assert out.returncode == 0
    assert "show" in out.stdout and "usage: matcalc" in out.stdout


def test_format_model_marks_output_and_shapes():
    model = matcalc.parse("x: vector(n)\nr: matrix(1, n)\ns = r*x\nt = x*r\nf = s")
    lines = format_model(model).splitlines()
    assert len(lines) == 5
    assert lines[1].startswith("r: matrix(1, n)") and "1×n" in lines[1]
    assert lines[2].startswith("s = ") and lines[2].endswith("# scalar, 1×1")
    assert lines[3].endswith("# matrix, n×n")
    assert lines[4].endswith("# scalar, 1×1, output")


# ---------------------------------------------------------------- user errors: exit 2


@pytest.mark.parametrize(
    "model, message",
    [
        ("x: vector(n); W: matrix(m, k); f = W*x", "line 1, column 36: W*x: W is m×k but x has n rows"),
        ("f = (x + ", "syntax error: line 1, column 9: unexpected end of input"),
        ("f = sinn(x)", "did you mean 'sin'"),
        ("f = tr(A, B)", "tr takes 1 argument, got 2"),
        ("y = x\nx = z", "x is used before its definition on line 2"),
        ("x: matrix(n)\nf = x", "matrix takes 2 sizes"),
        ("A: matrix(m, n); f = tr(A)", "needs a square matrix"),
    ],
)  # fmt: skip
def test_bad_models_exit_2_without_traceback(model, message):
    out = run("show", model)
    assert out.returncode == 2
    assert message in out.stderr
    assert "^" in out.stderr
    assert "Traceback" not in out.stderr + out.stdout
    assert out.stdout == ""


def test_bad_model_file_reports_its_line(tmp_path):
    path = tmp_path / "bad.mc"
    path.write_text("x: vector(n)\nA: matrix(m, m)\n\nf = x'*A*x\n", encoding="utf-8")
    out = run("show", str(path))
    assert out.returncode == 2
    assert "dimension error: line 4, column 5" in out.stderr
    assert "Traceback" not in out.stderr


def test_missing_model_file_exit_2():
    out = run("show", "no_such_model.mc")
    assert out.returncode == 2
    assert "no such model file" in out.stderr
    assert "Traceback" not in out.stderr


def test_no_command_is_a_usage_error():
    out = run()
    assert out.returncode == 2
    assert "usage" in out.stderr
    assert "Traceback" not in out.stderr


# ---------------------------------------------------------------- in-process main()


def test_main_returns_2_on_user_error(capsys):
    assert cli.main(["show", "f = x*y"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dimension error: line 1, column 5")


def test_main_reports_internal_errors_as_exit_3(monkeypatch, capsys):
    def broken(args):
        raise RuntimeError("something inside broke")

    help_text, setup, _ = cli.COMMANDS["show"]
    monkeypatch.setitem(cli.COMMANDS, "show", (help_text, setup, broken))
    assert cli.main(["show", "f = x'*x"]) == 3
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: something inside broke" in err
    assert "Traceback" not in err


def test_main_show_succeeds(capsys):
    assert cli.main(["show", "f = x'*x"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith("scalar, 1×1, output")
