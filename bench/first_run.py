"""A new user's first ``make demo``: its account's first run and rerun, before and after the
set-up warms numba's cache — with the account (the table) and the outputs (CSV, COGs, maps,
workbook, report) timed apart.

``.venv/bin/python bench/first_run.py`` (``make first-run-bench``) builds the demo city as
``make demo`` does (200 m) and runs ``ecovalue account`` — the command itself, in a process
of its own — in four situations, each from empty caches (numba's, the routing cache,
matplotlib's font list: ``NUMBA_CACHE_DIR``, ``ECOVALUE_CACHE_DIR``, ``MPLCONFIGDIR`` in a
temporary folder, as on a fresh machine):

1. *without warm-up* — the first account compiles every numba kernel, builds matplotlib's
   font list and routes the DEM; then a *rerun*;
2. *after set-up* — ``ecovalue warm-up`` (what ``make setup`` runs; timed too), then the
   first account and a rerun.

Per run it records the process's wall time and CPU time and, from inside the command,
the time to the command's start (interpreter and imports), of the account (``run_account``:
everything the totals table needs) and of the outputs (``write_outputs``), and whether numba
compiled anything (``NUMBA_DEBUG_CACHE``). ``--repeat R`` keeps the fastest of R (the
machine is shared). Results: bench/reports/first-run-<timestamp>.json and .md; the Markdown
table is what docs/benchmarks.md quotes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ECOVALUE = Path(sys.executable).parent / "ecovalue"
RESOLUTION = 200.0  # make demo's DEMO_RES

# run inside the measured process: the real `ecovalue account`, with its two phases timed
JOB = r"""
import json, sys, time
t_start = time.perf_counter()
import ecovalue.accounting.outputs as outputs
import ecovalue.accounting.pipeline as pipeline
from ecovalue.cli.main import app
times = {"imports_s": time.perf_counter() - t_start}

def timed(name, fn):
    def wrapper(*args, **kwargs):
        t, c = time.perf_counter(), time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            times[name] = time.perf_counter() - t
            times[name.replace("_s", "_cpu_s")] = time.process_time() - c
    return wrapper

pipeline.run_account = timed("account_s", pipeline.run_account)
outputs.write_outputs = timed("outputs_s", outputs.write_outputs)
try:
    app(sys.argv[2:], standalone_mode=False)
finally:
    times["command_s"] = time.perf_counter() - t_start
    with open(sys.argv[1], "w") as f:
        json.dump(times, f)
"""


def _run(cmd: list[str], env: dict[str, str]) -> dict[str, Any]:
    t0 = time.perf_counter()
    before = os.times()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    after = os.times()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    out = proc.stdout + proc.stderr
    return {"wall_s": wall, "cpu_s": cpu, "compiled": out.count("data saved to"), "output": out}


def account(dataset: Path, out: Path, env: dict[str, str]) -> dict[str, Any]:
    """``ecovalue account DATASET --out OUT`` in its own process, its phases timed."""
    times = out.with_suffix(".times.json")
    m = _run([sys.executable, "-c", JOB, str(times), "account", str(dataset), "--out", str(out)],
             {**env, "NUMBA_DEBUG_CACHE": "1"})  # fmt: skip
    m.update(json.loads(times.read_text()))
    m.pop("output")
    return m


def situation(dataset: Path, work: Path, warm: bool) -> dict[str, Any]:
    """Empty caches, the warm-up when ``warm``, then the account twice (first run, rerun)."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(work / "numba"), "ECOVALUE_CACHE_DIR": str(work / "cache"),
           "MPLCONFIGDIR": str(work / "matplotlib"), "COLUMNS": "120"}  # fmt: skip
    env.pop("NUMBA_DEBUG_CACHE", None)
    res: dict[str, Any] = {}
    if warm:
        w = _run([str(ECOVALUE), "warm-up"], env)
        res["warm_up"] = {k: w[k] for k in ("wall_s", "cpu_s")}
    res["first"] = account(dataset, work / "first", env)
    res["rerun"] = account(dataset, work / "rerun", env)
    return res


def fastest(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per situation and run, the fastest of the repeats (by wall time)."""
    out: dict[str, Any] = {}
    for key in runs[0]:
        out[key] = min((r[key] for r in runs), key=lambda m: m["wall_s"])
    return out


def markdown(results: dict[str, dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        f"# make demo's account, first run and rerun ({meta['date']})",
        "",
        f"{meta['resolution']:g} m demo ({meta['pixels']:,} pixels), {meta['cpus']} CPUs, "
        f"{meta['machine']}; fastest of {meta['repeat']}; each situation from empty caches.",
        "",
        "Wall and CPU seconds; the account (`run_account`: everything the totals table needs) and the",
        "outputs (`write_outputs`: CSV, JSON, COGs, maps, workbook, report) as wall / CPU seconds.",
        "",
        "| situation | run | wall s | CPU s | imports s | account (table) s | outputs (maps, report) s | kernels compiled |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    names = {"cold": "without warm-up", "warm": "after make setup (warm-up)"}
    for sit, res in results.items():
        if "warm_up" in res:
            w = res["warm_up"]
            lines.append(f"| {names[sit]} | `ecovalue warm-up` (in make setup) | {w['wall_s']:.1f} | {w['cpu_s']:.1f} | | | | |")
        for run in ("first", "rerun"):
            m = res[run]
            lines.append(
                f"| {names[sit]} | {run} | {m['wall_s']:.1f} | {m['cpu_s']:.1f} | {m['imports_s']:.1f} | "
                f"{m['account_s']:.1f} / {m['account_cpu_s']:.1f} | {m['outputs_s']:.1f} / {m['outputs_cpu_s']:.1f} | "
                f"{m['compiled']} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resolution", type=float, default=RESOLUTION, help="demo pixel size, metres")
    ap.add_argument("--repeat", type=int, default=1, help="keep the fastest of this many")
    ap.add_argument("--out", type=Path, default=HERE / "reports", help="folder of the report")
    ap.add_argument("--only", choices=("cold", "warm"), help="one situation only")
    args = ap.parse_args(argv)
    from ecovalue.datasets.demo import build_demo

    with tempfile.TemporaryDirectory(prefix="ecovalue-first-run-") as tmp:
        base = Path(tmp)
        dataset = build_demo(base / "wuhan", resolution=args.resolution)
        from ecovalue.raster import io

        grid = io.info(dataset / "rasters" / "landcover.tif").grid
        results = {}
        for sit in [s for s in ("cold", "warm") if args.only in (None, s)]:
            runs = []
            for r in range(max(args.repeat, 1)):
                print(f"{sit} {r + 1}/{args.repeat}…", flush=True)
                runs.append(situation(dataset, base / sit, warm=sit == "warm"))
            results[sit] = fastest(runs)
    meta = {"date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"), "resolution": args.resolution,
            "pixels": grid.width * grid.height, "cpus": os.cpu_count(), "repeat": args.repeat,
            "machine": f"{platform.processor() or platform.machine()}, Python {platform.python_version()}"}  # fmt: skip
    md = markdown(results, meta)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    (args.out / f"first-run-{stamp}.json").write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    (args.out / f"first-run-{stamp}.md").write_text(md)
    print(md, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
