"""The README's two set-up commands: what `make demo` and `make test` install.

`make demo` must stay lean (the package and its plot extra, a `.venv` of at most
700 MB); `make test` adds the test tools to the same environment, in either order.
The plans are read with `make -n` (nothing runs); the real install and its size
are measured by the slow test at the end.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is missing")


def plan(target, venv):
    proc = subprocess.run(
        ["make", "-n", f"VENV={venv}", target],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout


def pip_lines(text):
    return [
        line
        for line in text.splitlines()
        if "pip install" in line and "--upgrade" not in line
    ]


def test_demo_installs_only_the_package_and_its_plot_extra(tmp_path):
    lines = pip_lines(plan("demo", tmp_path / "fresh"))
    assert len(lines) == 1, lines
    assert '-e ".[plot]"' in lines[0]
    assert "--group" not in lines[0]
    assert "-m gaussmix.demo" in plan("demo", tmp_path / "fresh")


def test_test_adds_the_test_tools_without_the_linters(tmp_path):
    lines = pip_lines(plan("test", tmp_path / "fresh"))
    assert len(lines) == 1, lines
    assert "--group test" in lines[0]
    assert "--group lint" not in lines[0]
    assert "-m pytest" in plan("test", tmp_path / "fresh")


def test_each_step_installs_once_whatever_the_order(tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").touch()
    (venv / ".installed-demo").touch()
    # After `make demo`, `make test` still installs the test tools ...
    assert len(pip_lines(plan("test", venv))) == 1
    (venv / ".installed-test").touch()
    # ... and after both, neither installs anything again.
    assert pip_lines(plan("test", venv)) == []
    assert pip_lines(plan("demo", venv)) == []


@pytest.mark.slow
def test_demo_venv_is_at_most_700_mb(tmp_path):
    """A real `make demo` in a copy of the project (3-5 minutes, needs the package index)."""
    copy = tmp_path / "project"
    shutil.copytree(
        ROOT, copy, ignore=shutil.ignore_patterns(".venv", ".git", "out", "*.egg-info")
    )
    subprocess.run(["make", "demo"], cwd=copy, check=True, capture_output=True)
    size = sum(p.stat().st_size for p in (copy / ".venv").rglob("*") if p.is_file())
    assert size <= 700 * 2**20, f".venv is {size / 2**20:.0f} MB after make demo"
    assert (copy / "out" / "demo.png").stat().st_size > 10_000
