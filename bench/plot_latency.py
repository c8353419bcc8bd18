"""Latency of plot-level GEP queries (PlotEngine.plot) on the demo city at 30 m.

Not a timed test: run it by hand. It builds the demo city once (cached in the work folder),
runs the account once, builds a PlotEngine and times ~50 random square plots of 1 km² and of
100 km² lying inside the city, printing p50/p95/max per size. Target (issue 3): p95 ≤ 300 ms
for 1 km².

    .venv/bin/python bench/plot_latency.py --work /tmp/plot-bench [--resolution 30] [--n 50]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import box

from ecovalue.accounting.pipeline import run_account
from ecovalue.accounting.plot import PlotEngine
from ecovalue.datasets.demo import build_demo


def random_plots(
    city: shapely.Geometry, side_m: float, n: int, rng: np.random.Generator
) -> list[shapely.Geometry]:
    """``n`` axis-aligned squares of side ``side_m`` lying wholly inside ``city``."""
    shapely.prepare(city)
    minx, miny, maxx, maxy = city.bounds
    out: list[shapely.Geometry] = []
    for _ in range(200 * n):
        x, y = rng.uniform(minx, maxx - side_m), rng.uniform(miny, maxy - side_m)
        sq = box(x, y, x + side_m, y + side_m)
        if city.contains(sq):
            out.append(sq)
            if len(out) == n:
                break
    return out


def percentiles(ms: list[float]) -> str:
    a = np.asarray(ms)
    return f"p50 {np.percentile(a, 50):7.1f} ms   p95 {np.percentile(a, 95):7.1f} ms   max {a.max():7.1f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/plot-bench"))
    ap.add_argument("--resolution", type=float, default=30.0)
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--dtype", choices=("float64", "float32"), default="float32")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    folder = args.work / f"demo{args.resolution:g}"
    if not (folder / "dataset.toml").exists():
        t = time.perf_counter()
        build_demo(folder, resolution=args.resolution, seed=0, year=2023)
        print(f"built demo at {args.resolution:g} m in {time.perf_counter() - t:.0f} s")
    t = time.perf_counter()
    run = run_account(folder, "cn-2022")
    print(f"account: {time.perf_counter() - t:.0f} s, grid {run.grid.width}×{run.grid.height}")
    t = time.perf_counter()
    engine = PlotEngine.from_run(run, dtype=np.dtype(args.dtype))
    print(
        f"PlotEngine ({args.dtype}): built in {time.perf_counter() - t:.1f} s, {engine.n_pixels:,} pixels, "
        f"{engine.nbytes / 2**20:,.0f} MiB, {len(engine.indicators)} indicators"
    )
    city = shapely.union_all([r.geometry for r in run.regions])
    rng = np.random.default_rng(args.seed)
    for km2 in (1.0, 100.0):
        plots = random_plots(city, 1000.0 * km2**0.5, args.n, rng)
        engine.plot(plots[0])  # warm-up (imports, first exactextract call)
        ms = []
        for g in plots:
            t = time.perf_counter()
            res = engine.plot(g)
            ms.append(1000 * (time.perf_counter() - t))
            assert abs(res.covered_area_km2 - km2) < 0.01 * km2 + 0.01, res.covered_area_km2
        print(f"{km2:5g} km² ({len(plots)} plots): {percentiles(ms)}")


if __name__ == "__main__":
    main()
