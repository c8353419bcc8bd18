"""ecovalue's raster engine side by side with InVEST (natcap.invest) on identical inputs.

Run under the project's .venv (``make bench`` → ``.venv/bin/python bench/run.py --size 1000``);
InVEST runs under its own environment, bench/.invest-venv (``make bench-setup``), through
subprocesses, so the two never share an interpreter. For each size N (N×N pixels of 30 m):

1. writes deterministic inputs (bench/gen_inputs.py; cached under bench/results/inputs/);
2. measures the floor: one process reading every ecovalue input raster once with rasterio
   (the fastest of three such processes);
3. per model — InVEST carbon, SDR, annual water yield (and NDR with ``--ndr``, timing only)
   and ecovalue's counterpart (bench/ecovalue_job.py) — runs each in its own process and
   records wall time and peak resident memory (``os.wait4`` rusage of that process);
4. runs ecovalue's full raster account as ``ecovalue account`` runs a large grid (the
   streamed engine; also with every layer written, and the in-memory engine up to
   ``--memory-max``) and compares its time with InVEST carbon + SDR + annual water yield;
5. prints per model wall time, peak memory, ratio InVEST/ecovalue and the agreement of the
   shared quantities, and writes bench/results/<timestamp>.json and .md.

Everything reads the same files from the page cache (the floor runs first and warms it);
numba's compiled kernels are cached by a small untimed warm-up run, so compile time is not
counted (it is paid once per machine).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import compare  # noqa: E402
from gen_inputs import COMPRESSIONS, generate  # noqa: E402

INVEST_PY = HERE / ".invest-venv" / "bin" / "python"
RESULTS = HERE / "results"
MODELS = ("carbon", "sdr", "awy")
MODEL_NAMES = {
    "carbon": "carbon storage",
    "sdr": "SDR (RKLS, avoided erosion)",
    "awy": "annual water yield",
    "ndr": "NDR (nitrogen)",
}


TIME = Path("/usr/bin/time")


def measure_rss(cmd: list[str]) -> dict[str, Any]:
    """Run ``cmd``; wall time (s), peak RSS (MB) of that process, exit code, output.

    The peak comes from GNU time (``%M``) when present: it forks the job from a small
    process, whereas a child forked from this (larger) process starts with this process's
    resident pages in its ``ru_maxrss``. Fallback: ``os.wait4`` on the child.
    """
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        stats = Path(tmp) / "time.txt"
        full = [str(TIME), "-f", "%e %M", "-o", str(stats), *cmd] if TIME.exists() else cmd
        t0 = time.perf_counter()
        proc = subprocess.run(full, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        peak_mb = usage.ru_maxrss / 1024.0
        if TIME.exists() and stats.exists():
            last = stats.read_text().strip().splitlines()[-1].split()
            wall, peak_mb = float(last[0]), int(last[1]) / 1024.0
    return {
        "wall_s": wall,
        "peak_mb": peak_mb,
        "returncode": proc.returncode,
        "stdout": proc.stdout[-2000:],
        "stderr": proc.stderr[-4000:],
    }


def ecovalue_cmd(job: str, inputs: Path, out: Path, opts: argparse.Namespace) -> list[str]:
    return [
        sys.executable,
        str(HERE / "ecovalue_job.py"),
        job,
        str(inputs),
        str(out),
        "--routing",
        opts.routing,
        "--l-max",
        str(opts.l_max),
        "--exponent",
        str(opts.exponent),
        "--threshold",
        str(opts.threshold),
    ]


def invest_cmd(
    model: str, inputs: Path, workspace: Path, out: Path, opts: argparse.Namespace
) -> list[str]:
    return [
        str(INVEST_PY),
        str(HERE / "invest_job.py"),
        model,
        str(inputs),
        str(workspace),
        str(out),
        "--routing",
        opts.routing,
        "--l-max",
        str(opts.l_max),
        "--threshold",
        str(opts.threshold),
    ]


FLOOR_RUNS = 3  # the floor is the fastest of this many runs (at least; ``--repeat`` more)


def run_job(
    cmd: list[str], out: Path, label: str, repeat: int = 1, before: Any = None
) -> dict[str, Any]:
    """Measure one job (the fastest of ``repeat`` runs, with the highest peak memory of them)
    and merge the JSON the fastest run wrote.

    A failed job is reported, not fatal. ``before()`` runs untimed before each run.
    """
    best: dict[str, Any] | None = None
    for _ in range(max(repeat, 1)):
        if before is not None:
            before()
        out.unlink(missing_ok=True)
        m = measure_rss(cmd)
        if m["returncode"] != 0 or not out.exists():
            print(f"  ! {label} failed (exit {m['returncode']}):\n{m['stderr']}", file=sys.stderr)
            return {**m, "ok": False}
        peak = max(m["peak_mb"], best["peak_mb"] if best else 0.0)
        if best is None or m["wall_s"] < best["wall_s"]:
            # the fastest run's own report (its step times), with the highest peak of all runs
            best = {**m, "report": json.loads(out.read_text())}
        best["peak_mb"] = peak
    m = best
    assert m is not None
    print(f"  {label}: {m['wall_s']:.2f} s, {m['peak_mb']:.0f} MB", flush=True)
    report = m.pop("report")
    return {**m, "ok": True, **report}


def warm_up(opts: argparse.Namespace) -> None:
    """Compile and cache numba kernels on a tiny grid so compile time is not timed."""
    small = opts.inputs_dir / "warmup"
    generate(small, 96, 1)
    out = opts.inputs_dir / "warmup" / "warm.json"
    for job in ("kernels", "account", "account-layers"):
        subprocess.run(
            ecovalue_cmd(job, small, out, opts),
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


def prepare_inputs(n: int, opts: argparse.Namespace) -> Path:
    """Generate (or reuse) the inputs in a child process, so this process stays small."""
    suffix = "" if opts.compress == "none" else f"-{opts.compress}"
    folder = opts.inputs_dir / f"n{n}-s{opts.seed}{suffix}"
    subprocess.run(
        [
            sys.executable, str(HERE / "gen_inputs.py"), str(folder), str(n), str(opts.seed),
            opts.compress,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return folder


def warm_page_cache(folder: Path) -> int:
    """Read every file under ``folder`` once (untimed), so that the floor and every job read
    their inputs from memory alike; returns the bytes read."""
    total = 0
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            with path.open("rb") as f:
                while chunk := f.read(1 << 24):
                    total += len(chunk)
    return total


def run_size(n: int, opts: argparse.Namespace, invest_ok: bool) -> dict[str, Any]:
    print(f"== {n}×{n} ({n * n / 1e6:.1f} Mpixel) ==", flush=True)
    t0 = time.perf_counter()
    inputs = prepare_inputs(n, opts)
    print(f"  inputs ready in {time.perf_counter() - t0:.1f} s: {inputs}", flush=True)
    work = opts.inputs_dir / f"work-n{n}"
    work.mkdir(parents=True, exist_ok=True)
    res: dict[str, Any] = {"size": n, "pixels": n * n, "inputs": str(inputs), "models": {}}
    rep = opts.repeat
    # every job after the floor finds the inputs in the page cache; so must the floor, or it
    # measures the disk (a 4000² floor read 1.2 s warm and 2.5 s cold on this machine)
    warmed = warm_page_cache(inputs)
    print(f"  page cache warmed: {warmed / 1e9:.2f} GB of inputs read once, untimed", flush=True)
    # the floor is the yardstick of every ratio: the fastest of at least three runs (a few
    # seconds), so that one slow read on a shared machine does not flatter them all
    res["floor"] = run_job(
        ecovalue_cmd("floor", inputs, work / "floor.json", opts),
        work / "floor.json",
        "floor (read ecovalue inputs once)",
        max(rep, FLOOR_RUNS),
    )
    invest_ok = invest_ok and n <= opts.invest_max
    for model in list(MODELS) + (["ndr"] if opts.ndr else []):
        entry: dict[str, Any] = {}
        if invest_ok:
            ws = work / f"invest-{model}"
            out = work / f"invest-{model}.json"
            entry["invest"] = run_job(
                invest_cmd(model, inputs, ws, out, opts),
                out,
                f"InVEST {model}",
                rep,
                # a fresh workspace for each run: taskgraph would skip work it finds done
                before=lambda ws=ws: shutil.rmtree(ws, ignore_errors=True),
            )
            if entry["invest"]["ok"]:
                entry["invest"]["totals"] = compare.invest_totals(model, ws, inputs)
        if model != "ndr":
            out = work / f"eco-{model}.json"
            entry["ecovalue"] = run_job(
                ecovalue_cmd(model, inputs, out, opts), out, f"ecovalue {model}", rep
            )
        entry["agreement"] = compare.agreement(model, entry)
        res["models"][model] = entry
    for job, label in (
        ("account", "ecovalue account (streamed engine, results table)"),
        ("account-layers", "ecovalue account + every layer written as COG"),
        ("account-memory", "ecovalue account, in-memory engine"),
    ):
        if job == "account-memory" and n > opts.memory_max:
            continue
        res[job] = run_job(
            ecovalue_cmd(job, inputs, work / f"{job}.json", opts), work / f"{job}.json", label, rep
        )
    # a rerun on the same DEM: a first, untimed run fills a fresh routing cache
    cache = work / "routing-cache"
    shutil.rmtree(cache, ignore_errors=True)
    rerun = ecovalue_cmd("account-rerun", inputs, work / "account-rerun.json", opts)
    subprocess.run(rerun, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    res["account-rerun"] = run_job(
        rerun, work / "account-rerun.json", "ecovalue account rerun (routing from the cache)", rep
    )
    shutil.rmtree(cache, ignore_errors=True)
    return res


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
    }
    try:
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
        info["mem_gb"] = round(int(mem) / 1024 / 1024, 1)
    except OSError:
        pass
    if INVEST_PY.exists():
        v = subprocess.run(
            [
                str(INVEST_PY),
                "-c",
                "import natcap.invest as i, pygeoprocessing as p;"
                "from osgeo import gdal; print(i.__version__, p.__version__, gdal.__version__)",
            ],
            capture_output=True,
            text=True,
        )
        if v.returncode == 0:
            info["invest"], info["pygeoprocessing"], info["gdal"] = v.stdout.split()
    import ecovalue

    info["ecovalue"] = ecovalue.__version__
    info["numpy"] = np.__version__
    return info


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description="ecovalue vs InVEST benchmark (see docs/benchmarks.md)"
    )
    ap.add_argument(
        "--size",
        type=int,
        nargs="+",
        default=[1000],
        help="grid side N (N×N pixels of 30 m); several sizes allowed",
    )
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument(
        "--compress",
        choices=COMPRESSIONS,
        default="none",
        help="GeoTIFF compression of the generated inputs (deflate: every read decompresses, "
        "as with most GIS deliverables; the floor rises with it)",
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run each job R times and keep the fastest (the machine is shared)",
    )
    ap.add_argument(
        "--routing",
        choices=("mfd", "d8"),
        default="mfd",
        help="flow routing for both engines (InVEST flow_dir_algorithm)",
    )
    ap.add_argument("--l-max", type=float, default=122.0, help="cap on the L factor, both engines")
    ap.add_argument(
        "--exponent",
        type=float,
        default=1.0,
        help="ecovalue MFD slope exponent (pygeoprocessing partitions by slope^1)",
    )
    ap.add_argument(
        "--threshold",
        type=int,
        default=1000,
        help="flow accumulation (pixels) that makes a stream, both engines",
    )
    ap.add_argument("--ndr", action="store_true", help="also time InVEST NDR (no ecovalue twin)")
    ap.add_argument("--no-invest", action="store_true", help="run only ecovalue's side")
    ap.add_argument(
        "--invest-max",
        type=int,
        default=10**9,
        help="run InVEST only for sizes up to this (ecovalue alone above it)",
    )
    ap.add_argument(
        "--memory-max",
        type=int,
        default=4000,
        help="run ecovalue's in-memory engine only for sizes up to this (≈ 430 bytes/pixel)",
    )
    ap.add_argument("--inputs-dir", type=Path, default=RESULTS / "inputs")
    ap.add_argument("--out", type=Path, default=RESULTS)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    opts.inputs_dir.mkdir(parents=True, exist_ok=True)
    invest_ok = INVEST_PY.exists() and not opts.no_invest
    if not invest_ok and not opts.no_invest:
        print(
            f"InVEST environment {INVEST_PY} not found: run `make bench-setup` first "
            "(or pass --no-invest for ecovalue's side only)",
            file=sys.stderr,
        )
        return 2
    print("warming up numba caches (untimed) …", flush=True)
    warm_up(opts)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    report: dict[str, Any] = {
        "timestamp": stamp,
        "machine": machine(),
        "options": {k: str(v) for k, v in vars(opts).items()},
        "runs": [],
    }
    for n in opts.size:
        report["runs"].append(run_size(n, opts, invest_ok))
    opts.out.mkdir(parents=True, exist_ok=True)
    text = compare.markdown(report)
    (opts.out / f"{stamp}.json").write_text(json.dumps(report, indent=1, default=str))
    (opts.out / f"{stamp}.md").write_text(text, encoding="utf-8")
    print()
    print(text)
    print(f"written: {opts.out / f'{stamp}.json'} and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
