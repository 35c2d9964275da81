"""README.md's first two lines are the commands CI runs: they and ``.ci/run`` must agree."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
CI_RUN = REPO / ".ci" / "run"


def readme_commands() -> list[str]:
    """The README's first two lines, without their code indentation."""
    lines = README.read_text(encoding="utf-8").splitlines()[:2]
    assert all(line.startswith("    ") for line in lines), "README's first two lines are indented commands"
    return [line[4:] for line in lines]


def ci_commands() -> list[str]:
    """The lines of ``.ci/run`` that follow its ``# README line N`` markers."""
    lines = CI_RUN.read_text(encoding="utf-8").splitlines()
    return [lines[i + 1] for i, line in enumerate(lines) if line.startswith("# README line ")]


def test_ci_runs_the_readme_commands_verbatim():
    if not CI_RUN.is_file():
        pytest.skip(".ci/run is not part of this copy (an sdist)")
    assert ci_commands() == readme_commands()


def test_ci_cleans_nothing_a_newcomer_would_not():
    if not CI_RUN.is_file():
        pytest.skip(".ci/run is not part of this copy (an sdist)")
    text = CI_RUN.read_text(encoding="utf-8")
    assert "rm -" not in text and "MATCALC_KATEX_DIR" not in text


#: Folders that are made by installs, builds, caches and tests, never written by hand.
GENERATED = {".ci-node", ".ci-venv", ".venv", "build", "dist", "__pycache__", ".pytest_cache",
             ".ruff_cache", ".hypothesis", ".ipynb_checkpoints", "node_modules"}


def is_generated(path: str) -> bool:
    """Whether a tracked path lies in a generated folder."""
    folders = path.split("/")[:-1]
    return any(f in GENERATED or f.endswith(".egg-info") for f in folders)


def test_nothing_generated_is_tracked():
    try:
        proc = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        pytest.skip("git is not installed")
    if proc.returncode != 0:
        pytest.skip("not a git checkout")
    assert is_generated(".ci-node/node_modules/katex/package.json")
    assert is_generated("matcalc.egg-info/PKG-INFO") and not is_generated("matcalc/build.py")
    assert [f for f in proc.stdout.splitlines() if is_generated(f)] == []
