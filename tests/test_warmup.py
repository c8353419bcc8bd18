"""``ecovalue warm-up`` (run by ``make setup``) compiles every kernel ``make demo``'s account
needs: afterwards the account at 200 m — first run and rerun, either engine — and that of
a small grid load every kernel from numba's cache and compile none, and the warm-up leaves
no routing-cache entry nor output behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def _run(args: list[str], env: dict[str, str]) -> str:
    proc = subprocess.run([str(BIN / "ecovalue"), *args], capture_output=True, text=True, env=env,
                          timeout=900)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


@pytest.mark.slow
@pytest.mark.skipif(
    bool(os.environ.get("NPY_DISABLE_CPU_FEATURES")),
    reason="numba compiles for the CPU, not for numpy's SIMD paths: once is enough",
)
def test_after_the_warm_up_the_demo_account_compiles_nothing(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "NUMBA_CACHE_DIR": str(tmp_path / "numba"),  # an empty numba cache: a fresh machine
        "ECOVALUE_CACHE_DIR": str(tmp_path / "ecovalue-cache"),
        "MPLCONFIGDIR": str(tmp_path / "matplotlib"),
        "TMPDIR": str(tmp_path / "tmp"),
        "COLUMNS": "200",
    }
    (tmp_path / "tmp").mkdir()
    printed = _run(["warm-up"], env)
    assert "warm-up 4/4" in printed and "Warm-up done" in printed
    assert any((tmp_path / "numba").rglob("*.nbc")), "nothing was compiled into the cache"
    assert not (tmp_path / "ecovalue-cache" / "routing").exists() or not any(
        (tmp_path / "ecovalue-cache" / "routing").iterdir()
    ), "the warm-up stored a routing-cache entry"
    assert not any((tmp_path / "tmp").iterdir()), "the warm-up left files behind"
    assert any((tmp_path / "matplotlib").iterdir()), "matplotlib's font list was not built"

    demo, small = tmp_path / "demo", tmp_path / "small"
    _run(["demo-data", str(demo), "--resolution", "200"], env)  # make demo's
    _run(["demo-data", str(small), "--resolution", "4000"], env)  # a small grid: other paths
    debug = {**env, "NUMBA_DEBUG_CACHE": "1"}
    runs = [(demo, "memory"), (demo, "memory"), (demo, "streamed"), (demo, "streamed"), (small, "memory")]
    for n, (dataset, engine) in enumerate(runs):  # first runs, reruns (the routing cached)
        out = _run(["account", str(dataset), "--engine", engine, "--no-reports", "--out",
                    str(tmp_path / f"run{n}")], debug)  # fmt: skip
        compiled = [line for line in out.splitlines() if "data saved" in line]
        assert not compiled, f"{engine} account {n} compiled after the warm-up:\n" + "\n".join(compiled)
        assert "data loaded" in out
