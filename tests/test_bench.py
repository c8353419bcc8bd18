"""The benchmark's scripts still run, and their jobs agree with each other (bench/; the timings
themselves are measured by the benchmark, never here: this machine is shared)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _run(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_the_bench_runs_ecovalues_side_and_its_jobs_agree(tmp_path: Path) -> None:
    # ecovalue's side only (no InVEST here): every job in its own process on a 48² dataset
    _run(BENCH / "run.py", "--size", "48", "--no-invest", "--repeat", "1",
         "--inputs-dir", tmp_path / "inputs", "--out", tmp_path / "out")
    (report,) = (tmp_path / "out").glob("*.json")
    (run,) = json.loads(report.read_text())["runs"]
    assert run["size"] == 48 and run["pixels"] == 48 * 48
    jobs = ["floor", "account", "account-layers", "account-memory", "account-rerun"]
    for job in jobs:
        assert run[job]["ok"] and run[job]["wall_s"] > 0 and run[job]["peak_mb"] > 0, job
    for model in ("carbon", "sdr", "awy"):
        assert run["models"][model]["ecovalue"]["ok"], model
    assert run["floor"]["totals"]["rasters_read"] >= 10
    # the rerun found the LS in the cache the first run filled; both engines, with and
    # without layers, give the same totals
    assert run["account"]["routing_from_cache"] is False
    assert run["account-rerun"]["routing_from_cache"] is True
    first = run["account"]["totals"]
    assert len(first) >= 10 and first["gep_current_yuan"] > 0
    for job in ("account-layers", "account-memory", "account-rerun"):
        other = run[job]["totals"]
        assert sorted(other) == sorted(first) or job == "account-memory", job
        for key, value in first.items():
            if key in other:
                np.testing.assert_allclose(other[key], value, rtol=1e-9, err_msg=f"{job} {key}")
    md = report.with_suffix(".md").read_text()
    assert "full raster account" in md and "floor" in md


def test_routing_steps_times_each_kernel_and_finds_the_same_bits(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCH))
    try:
        from gen_inputs import generate
    finally:
        sys.path.remove(str(BENCH))
    folder = generate(tmp_path / "n300", 300)  # 300 rows: a fill in 2 bands, MFD in 2
    out = _run(BENCH / "routing_steps.py", folder, "--threads", "2", "--repeat", "1").stdout
    steps = [line for line in out.splitlines()
             if line.startswith(("depression fill", "flat resolution", "MFD + LS ("))]
    assert len(steps) == 3, out
    assert all(line.rstrip().endswith("yes") for line in steps), out
    assert "routing (sum)" in out
    # the multi-thread run's CPU time and its ratio to one thread's, on each step's line
    assert all(line.count("×") == 2 for line in steps), out
    assert "CPU: seconds of CPU time on all threads" in out


def test_timeline_shows_the_runs_steps_and_the_routings_kernels(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCH))
    try:
        from gen_inputs import generate
    finally:
        sys.path.remove(str(BENCH))
    folder = generate(tmp_path / "n64", 64)
    png = tmp_path / "timeline.png"
    out = _run(BENCH / "timeline.py", folder, "--png", png).stdout
    for label in ("metadata and tables", "scan block", "pass-1 chunk", "routing step",
                  "routing: depression fill", "routing: flat resolution",
                  "routing: MFD accumulation and LS", "landscape premium"):
        assert f" {label} " in out, (label, out)
    assert "first run: routed" in out and "routing step:" in out
    assert png.stat().st_size > 10_000
    # with a routing cache: a first run stores the LS, the next one reads it
    cache = tmp_path / "cache"
    first = _run(BENCH / "timeline.py", folder, "--cache", cache).stdout
    assert "routing cache: store" in first and "the LS stored in the cache" in first
    again = _run(BENCH / "timeline.py", folder, "--cache", cache).stdout
    assert "rerun: the LS from the routing cache" in again and "routing step" not in again
