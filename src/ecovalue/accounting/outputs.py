"""Writing a run's machine-readable outputs: ``results.csv``, ``summary.json`` and the
per-indicator Cloud-Optimized GeoTIFFs (physical quantity and value per pixel).

Human-facing outputs (``results.xlsx``, ``report.html``) are written by ``ecovalue.reports``.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ecovalue.accounting.result import RunResult
from ecovalue.raster import io
from ecovalue.units import format_unit

if TYPE_CHECKING:
    import pandas as pd

    from ecovalue.accounting.streaming import StreamedResult
    from ecovalue.accounting.uncertainty import UncertaintyResult

PIXEL_VALUE_UNIT = "元 per pixel (current prices)"  # the unit tag of every *_value.tif
SYNTHETIC_NOTICE = "SYNTHETIC: the rasters of this dataset are synthetic demo data, not observations / 合成演示数据，非真实观测"


def _jsonable(x: Any) -> Any:
    if isinstance(x, Decimal):
        return str(x)
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x


def write_csv(result: RunResult | StreamedResult, path: Path,
              ranges: UncertaintyResult | None = None) -> Path:
    """The tidy results table; money as exact decimal strings.

    With ``ranges`` (a Monte Carlo run of this result) the columns p5, p50, p95 (元, current
    prices) follow for every row.
    """
    df = result.table.copy()
    if ranges is not None:
        keys = ["region_code", "indicator", "ecosystem_type"]
        df = df.merge(ranges.rows[[*keys, "p5", "p50", "p95"]], on=keys, how="left")
        for c in ("p5", "p50", "p95"):
            df[c] = df[c].map(lambda v: "" if v is None or v != v else str(v))
    _as_written(df).to_csv(path, index=False, encoding="utf-8")
    return path


def _as_written(df: pd.DataFrame) -> pd.DataFrame:
    """A results frame as its CSV holds it: money as exact decimal strings, units as users
    read them (``format_unit``)."""
    df = df.copy()
    for col in ("value_current", "value_constant"):
        df[col] = df[col].map(str)
    df["physical_unit"] = df["physical_unit"].map(format_unit)
    return df


SUB_ITEMS_CSV = "results_by_sub_item.csv"


def write_sub_items_csv(result: RunResult | StreamedResult, path: Path) -> Path:
    """The results of the indicators with sub-items by sub-item (``RunResult.sub_items``:
    pollutants, flood storage types, cooling processes, soil retention's benefits, as the
    published accounts show them); money as exact decimal strings. Each indicator's row of
    results.csv is the sum of its sub-item rows here."""
    _as_written(result.sub_items).to_csv(path, index=False, encoding="utf-8")
    return path


def summary(result: RunResult | StreamedResult, **extra: Any) -> dict[str, Any]:
    """summary.json of a run of either engine; ``extra`` adds engine-specific entries."""
    totals = result.totals()
    return _jsonable({
        "dataset": result.dataset_name,
        "title_zh": result.dataset_title_zh,
        "title_en": result.dataset_title_en,
        "synthetic": result.synthetic,
        "notice": SYNTHETIC_NOTICE if result.synthetic else "",
        "year": result.year,
        "profile": result.profile_id,
        "base_year": result.base_year,
        "currency": "CNY (元)",
        "totals": totals,
        "regions": [{"code": r.code, "name_zh": r.name_zh, "name_en": r.name_en, "area_km2": r.area_km2}
                    for r in result.regions],
        "warnings": [{"severity": w.severity, "where": w.where, "what": w.what, "expected": w.expected,
                      "fix": w.fix} for w in result.warnings],
        "not_applicable": result.not_applicable,
        "notes": result.notes,
        "hashes": result.hashes,
        "timings_s": {k: round(v, 3) for k, v in result.timings.items()},
        "grid": {"crs": result.grid.crs, "width": result.grid.width, "height": result.grid.height,
                 "cell_size_m": result.grid.cell_width},
        **extra,
    })


def write_summary(result: RunResult | StreamedResult, path: Path, **extra: Any) -> Path:
    path.write_text(json.dumps(summary(result, **extra), ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def write_layers(result: RunResult, folder: Path) -> list[Path]:
    """One COG per indicator for the physical quantity and one for the value (元 per pixel)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for ind, layer in result.layers.items():
        tags = {"indicator": ind, "synthetic_inputs": "yes" if result.synthetic else "no",
                "year": str(result.year), "profile": result.profile_id}
        out.append(io.write(folder / f"{ind}_physical.tif", layer.physical.astype(np.float32), result.grid,
                            nodata=float("nan"), tags={**tags, "unit": f"{format_unit(layer.physical_unit)} per pixel"}))
        out.append(io.write(folder / f"{ind}_value.tif", layer.value.astype(np.float32), result.grid,
                            nodata=float("nan"), tags={**tags, "unit": PIXEL_VALUE_UNIT}))
    return out


def write_outputs(result: RunResult, out_dir: str | Path, reports: bool = True,
                  ranges: UncertaintyResult | None = None) -> dict[str, Path]:
    """Write everything a run produces into ``out_dir``; return name → path.

    ``ranges`` (optional, from ``accounting.uncertainty``) adds P5/P50/P95 to results.csv,
    the 不确定性 sheet to results.xlsx and a ranges section to report.html.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "results.csv": write_csv(result, out / "results.csv", ranges),
        SUB_ITEMS_CSV: write_sub_items_csv(result, out / SUB_ITEMS_CSV),
        "summary.json": write_summary(result, out / "summary.json"),
    }
    write_layers(result, out / "layers")
    paths["layers"] = out / "layers"
    if reports:
        from ecovalue.reports import write_all

        paths.update(write_all(result, out, ranges))
    return paths

