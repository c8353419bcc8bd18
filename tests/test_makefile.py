"""What ``make setup`` and ``make demo`` do on a fresh machine (dry runs of the Makefile)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _dry_run(target: str, venv: Path) -> list[str]:
    proc = subprocess.run(["make", "-n", "-B", target, f"VENV={venv}"], cwd=ROOT, capture_output=True,
                          text=True, check=True)  # fmt: skip
    return proc.stdout.splitlines()


def test_setup_shows_what_it_installs_then_compiles_the_kernels(tmp_path: Path) -> None:
    lines = _dry_run("setup", tmp_path / "venv")
    locked = [ln for ln in lines if "-r requirements.lock" in ln]
    assert len(locked) == 1 and "--require-hashes" in locked[0]
    assert " -q" not in locked[0], "pip -q hides minutes of installing: show what is installed"
    warm = [n for n, ln in enumerate(lines) if ln.endswith("ecovalue warm-up")]
    assert warm and warm[0] > lines.index(locked[0]), "the kernels are compiled after the install"


def test_demo_sets_up_first_and_accounts_at_its_resolution(tmp_path: Path) -> None:
    lines = _dry_run("demo", tmp_path / "venv")
    assert any(ln.endswith("ecovalue warm-up") for ln in lines)
    assert any("demo-platform" in ln and "--resolution 200" in ln and "--serve" in ln for ln in lines)
