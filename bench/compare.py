"""Totals of InVEST's outputs, agreement with ecovalue's, and the markdown report (bench/run.py).

Runs in the project's .venv and reads InVEST's output rasters with rasterio after the timed
runs. InVEST 3.14+ writes carbon storage, RKLS and avoided erosion in t/ha per pixel and water
yield, AET and (clipped) precipitation in mm per pixel; totals multiply by the pixel area.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _raster_sum(path: Path) -> tuple[float, float, int]:
    """(sum of valid pixels, pixel area m², count of valid pixels)."""
    import rasterio

    with rasterio.open(path) as src:
        a = src.read(1, masked=True)
        area = abs(src.transform.a * src.transform.e)
    data = np.ma.masked_invalid(a.astype(np.float64))
    return float(data.sum()), area, int(data.count())


def _find(workspace: Path, *names: str) -> Path | None:
    for name in names:
        hits = sorted(workspace.rglob(name))
        if hits:
            return hits[0]
    return None


def invest_totals(model: str, workspace: Path, inputs: Path) -> dict[str, float]:
    """Totals of the InVEST outputs that ecovalue also computes (missing files are skipped)."""
    out: dict[str, float] = {}
    if model == "carbon":
        p = _find(workspace, "c_storage_bas.tif", "tot_c_cur.tif")
        if p:
            s, area, _ = _raster_sum(p)
            out["carbon_stock_MgC"] = s * area / 1e4
    elif model == "sdr":
        for key, name in (("rkls_t", "rkls.tif"), ("avoided_erosion_t", "avoided_erosion.tif")):
            p = _find(workspace, name)
            if p:
                s, area, n = _raster_sum(p)
                out[key] = s * area / 1e4
                out[f"{key}_pixels"] = n
        p = _find(workspace, "ls.tif")
        if p:
            s, _, n = _raster_sum(p)
            out["ls_mean"] = s / max(n, 1)
        p = _find(workspace, "stream.tif")
        if p:
            s, _, _ = _raster_sum(p)
            out["stream_pixels"] = s
    elif model == "awy":
        for key, name in (
            ("precip_volume_m3", "precip.tif"),
            ("aet_volume_m3", "aet.tif"),
            ("water_yield_m3", "wyield.tif"),
        ):
            p = _find(workspace, name)
            if p:
                s, area, _ = _raster_sum(p)
                out[key] = s * area / 1e3
    elif model == "ndr":
        p = _find(workspace, "n_total_export.tif", "n_export.tif")
        if p:
            out["n_total_export_kg"] = _raster_sum(p)[0]
    return out


# (model, quantity, ecovalue key, InVEST key, note)
SHARED: tuple[tuple[str, str, str, str, str], ...] = (
    (
        "carbon",
        "carbon stock (Mg C)",
        "carbon_stock_MgC",
        "carbon_stock_MgC",
        "same per-class pools × area; ecovalue side is class_lookup in the bench",
    ),
    (
        "sdr",
        "RKLS, non-stream pixels (t)",
        "rkls_t_nonstream",
        "rkls_t",
        "ecovalue's own LS (see LS note); InVEST leaves stream pixels out of RKLS",
    ),
    (
        "sdr",
        "RKLS, InVEST LS formula on ecovalue routing (t)",
        "rkls_t_invest_ls",
        "rkls_t",
        "isolates routing (fill, slope, accumulation) from the LS formula",
    ),
    (
        "sdr",
        "avoided erosion, non-stream pixels (t)",
        "avoided_erosion_t_nonstream",
        "avoided_erosion_t",
        "RKLS·(1 − C·P)",
    ),
    (
        "sdr",
        "avoided erosion, InVEST LS formula (t)",
        "avoided_erosion_t_invest_ls",
        "avoided_erosion_t",
        "isolates routing from the LS formula",
    ),
    (
        "sdr",
        "RKLS, all pixels (t)",
        "rkls_t",
        "rkls_t",
        "ecovalue counts stream pixels too: differs by design",
    ),
    (
        "awy",
        "precipitation volume (m³)",
        "precip_volume_m3",
        "precip_volume_m3",
        "same input raster: checks area and nodata handling",
    ),
    (
        "awy",
        "AET volume (m³)",
        "aet_volume_m3",
        "aet_volume_m3",
        "differs by design: ecovalue reads AET (e.g. MOD16), InVEST derives it (Budyko/Fu-Zhang)",
    ),
    (
        "awy",
        "water conservation vs water yield (m³)",
        "water_conservation_m3",
        "water_yield_m3",
        "differs by design: ecovalue P − αP − AET (retention), InVEST P − AET (yield)",
    ),
)


def agreement(model: str, entry: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows quantity / InVEST / ecovalue / relative difference for one model."""
    inv = (entry.get("invest") or {}).get("totals") or {}
    eco = (entry.get("ecovalue") or {}).get("totals") or {}
    rows = []
    for m, label, eco_key, inv_key, note in SHARED:
        if m != model or (eco_key not in eco and inv_key not in inv):
            continue
        a, b = inv.get(inv_key), eco.get(eco_key)
        diff = (b - a) / a if a not in (None, 0) and b is not None else None
        rows.append({"quantity": label, "invest": a, "ecovalue": b, "rel_diff": diff, "note": note})
    return rows


def _fmt(x: float | None, digits: int = 4) -> str:
    if x is None:
        return "–"
    if abs(x) >= 1e5 or (abs(x) < 1e-2 and x != 0):
        return f"{x:.{digits}e}"
    return f"{x:.{digits}g}"


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.1f}×" if a and b else "–"


def _job(entry: dict[str, Any] | None) -> tuple[float | None, float | None]:
    if not entry or not entry.get("ok"):
        return None, None
    return entry["wall_s"], entry["peak_mb"]


def markdown_run(run: dict[str, Any]) -> list[str]:
    n = run["size"]
    floor_s, floor_mb = _job(run.get("floor"))
    lines = [
        f"### {n} × {n} pixels ({run['pixels'] / 1e6:.1f} Mpixel, 30 m)",
        "",
        "| model | InVEST s | InVEST execute s | InVEST MB | ecovalue s | ecovalue MB | "
        "time InVEST/ecovalue | memory InVEST/ecovalue |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    inv_sum = exe_sum = 0.0
    for model, entry in run["models"].items():
        it, im = _job(entry.get("invest"))
        et, em = _job(entry.get("ecovalue"))
        exe = ((entry.get("invest") or {}).get("timings") or {}).get("execute")
        if model in ("carbon", "sdr", "awy") and it:
            inv_sum += it
            exe_sum += exe or 0.0
        lines.append(
            f"| {model} | {_fmt(it, 3)} | {_fmt(exe, 3)} | {_fmt(im, 4)} | {_fmt(et, 3)} | "
            f"{_fmt(em, 4)} | {_ratio(it, et)} | {_ratio(im, em)} |"
        )
    at, _am = _job(run.get("account"))
    for job, label in (
        ("account", "full raster account (streamed engine, table)"),
        ("account-layers", "full raster account + every layer written (COG)"),
        ("account-memory", "full raster account, in-memory engine"),
        ("account-rerun", "full raster account rerun, routing from the cache"),
    ):
        jt, jm = _job(run.get(job))
        if jt is None:
            continue
        lines.append(
            f"| **carbon + SDR + AWY** vs ecovalue {label} | "
            f"{_fmt(inv_sum or None, 3)} | {_fmt(exe_sum or None, 3)} | | {_fmt(jt, 3)} | "
            f"{_fmt(jm, 4)} | {_ratio(inv_sum, jt)} (execute only: {_ratio(exe_sum, jt)}) | |"
        )
    rt, _rm = _job(run.get("account-rerun"))
    lines += [
        f"| floor: read every ecovalue input once | | | | {_fmt(floor_s, 3)} | {_fmt(floor_mb, 4)} | "
        f"ecovalue/floor {_ratio(at, floor_s)}"
        + (f" (rerun: {_ratio(rt, floor_s)})" if rt else "")
        + " | |",
        "",
    ]
    lines += [
        "| quantity | InVEST | ecovalue | ecovalue − InVEST | note |",
        "|---|---:|---:|---:|---|",
    ]
    for entry in run["models"].values():
        for row in entry.get("agreement", []):
            d = row["rel_diff"]
            lines.append(
                f"| {row['quantity']} | {_fmt(row['invest'], 6)} | {_fmt(row['ecovalue'], 6)} | "
                f"{'–' if d is None else f'{100 * d:+.2f} %'} | {row['note']} |"
            )
    notes = []
    for part in [run.get("account"), *[e.get("ecovalue") for e in run["models"].values()]]:
        for note in (part or {}).get("notes", []):
            if note not in notes:
                notes.append(note)
    if notes:
        lines += ["", "Notes:", *[f"- {x}" for x in notes]]
    for job in ("account", "account-rerun"):
        timings = (run.get(job) or {}).get("timings")
        if timings:
            lines += [
                "",
                f"ecovalue {job} step times (s): "
                + ", ".join(f"{k} {v:.2f}" for k, v in timings.items()),
            ]
    return lines + [""]


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        f"## Benchmark {report['timestamp']}",
        "",
        f"Machine: {m.get('cpus')} CPUs, {m.get('mem_gb')} GB; InVEST {m.get('invest', '–')} "
        f"(pygeoprocessing {m.get('pygeoprocessing', '–')}, GDAL {m.get('gdal', '–')}); "
        f"ecovalue {m.get('ecovalue')}; routing {report['options'].get('routing')}, "
        f"l_max {report['options'].get('l_max')}; inputs GeoTIFF tiles compressed: "
        f"{report['options'].get('compress', 'none')}.",
        "",
        "Wall time and peak resident memory of each run's own process (start-up, imports, "
        "reading and writing included); ratios > 1 mean ecovalue is faster / smaller.",
        "",
    ]
    for run in report["runs"]:
        lines += markdown_run(run)
    lines += scaling(report["runs"])
    return "\n".join(lines)


def scaling(runs: list[dict[str, Any]]) -> list[str]:
    """Seconds and MB per million pixels of each size: flat columns mean linear cost."""
    if len(runs) < 2:
        return []
    lines = [
        "### Scaling",
        "",
        "| size | Mpixel | floor s | account s | s per Mpixel | account MB | rerun s | layers s | "
        "InVEST C+SDR+AWY s | InVEST s per Mpixel |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        mpx = run["pixels"] / 1e6
        fs, _ = _job(run.get("floor"))
        at, am = _job(run.get("account"))
        lt, _ = _job(run.get("account-layers"))
        rt, _ = _job(run.get("account-rerun"))
        inv = [_job((e or {}).get("invest"))[0] for m, e in run["models"].items() if m != "ndr"]
        inv_s = sum(inv) if inv and all(inv) else None  # type: ignore[arg-type]
        lines.append(
            f"| {run['size']}² | {mpx:.0f} | {_fmt(fs, 3)} | {_fmt(at, 3)} | "
            f"{_fmt(at / mpx if at else None, 3)} | {_fmt(am, 4)} | {_fmt(rt, 3)} | {_fmt(lt, 3)} | "
            f"{_fmt(inv_s, 3)} | {_fmt(inv_s / mpx if inv_s else None, 3)} |"
        )
    return lines + [""]
