"""One measured job of ecovalue's side of the benchmark, run by bench/run.py in its own process.

Usage: ``python bench/ecovalue_job.py JOB INPUTS OUT.json [--routing mfd] [--l-max 122]
[--exponent 1.0]`` with JOB one of

* ``floor``   — read every ecovalue input raster once with rasterio (the floor of the issue);
* ``carbon``  — carbon stock: per-class pools (Mg C/ha) looked up on the land cover
  (``ecovalue.models.common.class_lookup``) times pixel area. ecovalue has no carbon-stock
  indicator (its carbon service is sequestration from NPP), so this lookup is written here;
* ``sdr``     — flow routing and LS (``ecovalue.raster.hydrology.route``), RKLS = R·K·LS·area
  and avoided erosion RKLS·(1 − C·P) (``ecovalue.models.soil_retention`` when present);
* ``awy``     — water conservation water balance (``ecovalue.models.water_conservation``) and
  the precipitation / AET volumes it shares with InVEST's annual water yield;
* ``account`` — the raster part of the accounting as ``ecovalue account`` runs it on a large
  grid: the streamed engine (``run_account_streamed``) on the bench dataset and profile, the
  results table; ``account-layers`` — the same, also writing every per-pixel layer (COG);
  ``account-memory`` — the in-memory engine (``load_dataset`` + ``run_account``);
  ``account-rerun`` — ``account`` with a routing cache an earlier run of the same job filled
  (every input but the routing recomputed: a rerun for another year or scenario);
  ``kernels`` — the three model jobs above in one process.

The job writes its totals, inner timings and notes as JSON to OUT.json. Wall time and peak
memory are measured from outside by run.py (the whole process: start-up, imports, reading).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import ecovalue  # noqa: F401  (before numpy, as the command line: its BLAS thread setting)

# isort: split
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen_inputs import ECOVALUE_RASTERS  # noqa: E402

CARBON_COLUMNS = ("c_above", "c_below", "c_soil", "c_dead")


def _read(folder: Path, key: str) -> tuple[np.ndarray, np.ndarray, Any]:
    from ecovalue.raster import io

    path = folder / "rasters" / f"{key}.tif"
    arr, valid = io.read(path)
    return arr, valid, io.info(path).grid


def job_floor(folder: Path, opts: argparse.Namespace) -> dict[str, Any]:
    """Read each raster once, whole, with rasterio; nothing else."""
    import rasterio

    keys = [k for k in ECOVALUE_RASTERS if (folder / "rasters" / f"{k}.tif").exists()]
    nbytes = 0
    for key in keys:
        with rasterio.open(folder / "rasters" / f"{key}.tif") as src:
            nbytes += src.read(1).nbytes
    return {"totals": {"rasters_read": len(keys), "bytes_read": nbytes}, "notes": []}


def job_carbon(folder: Path, opts: argparse.Namespace) -> dict[str, Any]:
    import pandas as pd

    from ecovalue.models.common import class_lookup

    lc, valid, grid = _read(folder, "landcover")
    table = pd.read_csv(folder / "tables" / "carbon_pools.csv")
    per_ha = table[list(CARBON_COLUMNS)].sum(axis=1).to_numpy(float)  # Mg C/ha
    stock = class_lookup(lc, table["lucode"].to_numpy(), per_ha, "carbon_pools", valid)
    stock *= grid.pixel_area_m2 / 1e4  # Mg C per pixel
    return {
        "totals": {"carbon_stock_MgC": float(np.nansum(stock))},
        "notes": [
            "carbon stock computed in the bench with ecovalue.models.common.class_lookup "
            "(ecovalue has no carbon-stock indicator)"
        ],
    }


def _avoided_erosion(
    r: np.ndarray,
    k: np.ndarray,
    ls: np.ndarray,
    c: np.ndarray,
    p: np.ndarray,
    area_ha: float,
    valid: np.ndarray,
) -> tuple[np.ndarray, str]:
    try:
        from ecovalue.models import soil_retention
    except ImportError:
        avoided = r * k * ls * (1.0 - c * p) * area_ha
        return (
            avoided,
            "ecovalue.models.soil_retention missing: RKLS·(1 − C·P) computed in the bench",
        )
    out = soil_retention.soil_retained(r, k, ls, c, p, area_ha, valid=valid)
    return np.asarray(out), "avoided erosion from ecovalue.models.soil_retention.soil_retained"


def job_sdr(folder: Path, opts: argparse.Namespace) -> dict[str, Any]:
    import pandas as pd

    from ecovalue.models.common import class_lookup
    from ecovalue.raster.hydrology import ls_factor, route

    dem, valid, grid = _read(folder, "dem")
    t0 = time.perf_counter()
    routing = route(
        dem.astype(np.float64),
        valid,
        grid.cell_width,
        method=opts.routing,
        exponent=opts.exponent,
        l_max=opts.l_max,
    )
    t_route = time.perf_counter() - t0
    del dem
    r, vr, _ = _read(folder, "erosivity")
    k, vk, _ = _read(folder, "erodibility")
    lc, vl, _ = _read(folder, "landcover")
    valid &= vr & vk & vl
    table = pd.read_csv(folder / "tables" / "landcover.csv")
    c = class_lookup(lc, table["code"].to_numpy(), table["usle_c"].to_numpy(float), "usle_c", valid)
    p = class_lookup(lc, table["code"].to_numpy(), table["usle_p"].to_numpy(float), "usle_p", valid)
    area_ha = grid.pixel_area_m2 / 1e4
    r64, k64 = r.astype(np.float64), k.astype(np.float64)
    rkls = r64 * k64 * routing.ls * area_ha
    avoided, note = _avoided_erosion(r64, k64, routing.ls, c, p, area_ha, valid)
    t_model = time.perf_counter() - t0
    # comparison-only quantities (not part of ecovalue's method), timed separately
    land = valid & (routing.accumulation < opts.threshold)
    ls_inv = ls_factor(routing.filled, valid, grid.cell_width, routing.accumulation, opts.routing,
                       exponent=opts.exponent, l_max=opts.l_max, formulation="invest")
    rkls_inv = r64 * k64 * ls_inv * area_ha
    cp = 1.0 - c * p
    return {
        "totals": {
            "rkls_t": float(np.nansum(rkls[valid])),
            "avoided_erosion_t": float(np.nansum(avoided[valid])),
            "rkls_t_nonstream": float(np.nansum(rkls[land])),
            "avoided_erosion_t_nonstream": float(np.nansum(avoided[land])),
            "rkls_t_invest_ls": float(np.nansum(rkls_inv[land])),
            "avoided_erosion_t_invest_ls": float(np.nansum((rkls_inv * cp)[land])),
            "ls_mean": float(np.nanmean(routing.ls[valid])),
            "ls_mean_invest_formula": float(np.nanmean(ls_inv[valid])),
            "stream_pixels": int((valid & ~land).sum()),
        },
        "timings": {"route": t_route, "model": t_model},
        "notes": [
            note,
            f"routing {opts.routing}, MFD exponent {opts.exponent}, l_max {opts.l_max}, "
            f"streams = accumulation ≥ {opts.threshold} pixels",
        ],
    }


def job_awy(folder: Path, opts: argparse.Namespace) -> dict[str, Any]:
    import pandas as pd

    from ecovalue.models.common import class_lookup
    from ecovalue.models.water_conservation import water_conservation_m3

    precip, vp, grid = _read(folder, "precipitation")
    aet, va, _ = _read(folder, "aet")
    lc, vl, _ = _read(folder, "landcover")
    valid = vp & va & vl
    table = pd.read_csv(folder / "tables" / "landcover.csv")
    alpha = class_lookup(
        lc,
        table["code"].to_numpy(),
        table["storm_runoff_coef"].to_numpy(float),
        "storm_runoff_coef",
        valid,
    )
    res = water_conservation_m3(precip, alpha, aet, grid.pixel_area_m2, valid)
    m3_per_mm = grid.pixel_area_m2 / 1000.0
    return {
        "totals": {
            "precip_volume_m3": float(precip[valid].sum(dtype=np.float64) * m3_per_mm),
            "aet_volume_m3": float(aet[valid].sum(dtype=np.float64) * m3_per_mm),
            "water_conservation_m3": float(np.nansum(res.quantity_m3)),
            "n_clamped": res.n_clamped,
        },
        "notes": [
            "water conservation = P − αP − AET (AET an input raster) differs by design "
            "from InVEST's Budyko water yield"
        ],
    }


def job_kernels(folder: Path, opts: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {
        "totals": {},
        "timings": {},
        "notes": [
            "ecovalue.accounting.pipeline.run_account not importable: timed the carbon, sdr and awy "
            "kernels in one process instead of the full raster account"
        ],
    }
    for name, job in (("carbon", job_carbon), ("sdr", job_sdr), ("awy", job_awy)):
        t0 = time.perf_counter()
        res = job(folder, opts)
        out["timings"][name] = time.perf_counter() - t0
        out["totals"].update(res["totals"])
    return out


def _bench_profile(folder: Path, opts: argparse.Namespace) -> tuple[Path, int]:
    year = int(json.loads((folder / "inputs.json").read_text()).get("year", 2023))
    return folder / f"bench-profile-{opts.routing}.toml", year


def job_account_memory(folder: Path, opts: argparse.Namespace) -> dict[str, Any]:
    """The in-memory engine: ``load_dataset`` + ``run_account`` (every layer held in memory)."""
    try:
        from ecovalue.accounting.pipeline import run_account
        from ecovalue.accounting.profiles import load_profile
        from ecovalue.datasets.loader import load_dataset
        from ecovalue.datasets.validation import needs_for_profile
    except ImportError as exc:
        res = job_kernels(folder, opts)
        res["notes"].append(f"import error: {exc}")
        res["mode"] = "kernels"
        return res
    t0 = time.perf_counter()
    path, year = _bench_profile(folder, opts)
    profile = load_profile(path)
    ds, _ = load_dataset(folder, needs_for_profile(profile, (year,)))
    t_load = time.perf_counter() - t0
    result = run_account(ds, profile, year)
    totals = {f"{k}_physical": float(np.nansum(v.physical)) for k, v in result.layers.items()}
    return {
        "mode": "pipeline",
        "totals": totals,
        "timings": {"load_dataset": t_load, **{k: float(v) for k, v in result.timings.items()}},
        "notes": [
            "ecovalue in-memory engine: load_dataset + run_account (outputs not written)",
            *[f"not applicable: {k}: {v}" for k, v in result.not_applicable.items()],
        ],
    }


def _streamed(
    folder: Path, opts: argparse.Namespace, layers: bool, cache: Path | None = None
) -> dict[str, Any]:
    """The streamed engine, as ``ecovalue account`` runs it on a large grid (``--engine auto``);
    with ``cache``, through a routing cache in that folder (``ecovalue account --cache-dir``)."""
    import shutil
    import tempfile

    from ecovalue.accounting.streaming import run_account_streamed
    from ecovalue.raster.routing_cache import RoutingCache

    path, year = _bench_profile(folder, opts)
    out = Path(tempfile.mkdtemp(prefix="ecovalue-bench-")) if layers else None
    try:
        result = run_account_streamed(
            folder, profile=path, year=year, out_dir=out,
            cache=RoutingCache(cache) if cache is not None else None,
        )
    finally:
        if out is not None:
            shutil.rmtree(out, ignore_errors=True)
    table = result.table
    totals = {
        f"{ind}_physical": float(g["physical_quantity"].sum())
        for ind, g in table.groupby("indicator", sort=False)
    }
    totals["gep_current_yuan"] = float(sum(table["value_current"]))
    what = "results table and one COG per indicator and quantity" if layers else "results table"
    if cache is not None:
        what += (", LS factor read from the routing cache (a rerun on the same DEM)"
                 if result.routing_from_cache else ", routing computed and stored in the cache")
    return {
        "mode": "streamed",
        "totals": totals,
        "timings": {k: float(v) for k, v in result.timings.items()},
        "routing_from_cache": result.routing_from_cache,
        "notes": [
            f"ecovalue account (streamed engine, {result.n_blocks} blocks, local threads): {what}",
            *[f"not applicable: {k}: {v}" for k, v in result.not_applicable.items()],
        ],
    }


def job_account(folder: Path, opts: argparse.Namespace) -> dict[str, Any]:
    return _streamed(folder, opts, layers=False)


def job_account_layers(folder: Path, opts: argparse.Namespace) -> dict[str, Any]:
    return _streamed(folder, opts, layers=True)


def job_account_rerun(folder: Path, opts: argparse.Namespace) -> dict[str, Any]:
    """``account`` again on the same DEM with the routing cache of an earlier run (run.py
    primes it): the year-after-year and scenario reruns officials make."""
    return _streamed(folder, opts, layers=False, cache=opts.out.parent / "routing-cache")


JOBS = {
    "floor": job_floor,
    "carbon": job_carbon,
    "sdr": job_sdr,
    "awy": job_awy,
    "kernels": job_kernels,
    "account": job_account,
    "account-layers": job_account_layers,
    "account-memory": job_account_memory,
    "account-rerun": job_account_rerun,
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("job", choices=sorted(JOBS))
    ap.add_argument("inputs", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--routing", choices=("mfd", "d8"), default="mfd")
    ap.add_argument("--l-max", type=float, default=122.0)
    ap.add_argument("--exponent", type=float, default=1.0)
    ap.add_argument("--threshold", type=int, default=1000)
    opts = ap.parse_args(argv)
    # every job's process ends as an ``ecovalue`` command's does (ecovalue.process)
    from ecovalue.process import freeze_heap_at_exit, lean_numba

    freeze_heap_at_exit()
    lean_numba()
    t0 = time.perf_counter()
    res = JOBS[opts.job](opts.inputs, opts)
    res["inner_seconds"] = time.perf_counter() - t0
    opts.out.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
