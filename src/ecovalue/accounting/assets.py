"""Natural-resource asset accounts per district (自然资源资产核算) between two years.

Stocks of forest, wetland, water, grassland and cropland as area (公顷, ha) from the
land-cover rasters — opening, additions, reductions, closing, change — and volume where the
dataset has it:

* water: total storage capacity of the reservoirs layer (attribute ``capacity_wan_m3``,
  万m³), counted in the district holding each reservoir's representative point;
* any statistics item ``stock:<resource>`` (e.g. ``stock:forest`` timber volume in m³,
  ``stock:water`` water resources in m³), in the unit the table gives, for each year.

Resource classes follow the ecosystem types of the land-cover table: forest = forest +
shrub (灌木林地 counts as 林地 in GB/T 21010-2017 《土地利用现状分类》), cropland = farmland;
``RESOURCES`` is a plain mapping a caller can replace. With one grid in both years,
additions and reductions are gross (pixels entering/leaving the resource) and the account
closes exactly in pixel counts; otherwise they are the net change (the notes say so).
"""

from __future__ import annotations

from decimal import Decimal
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from ecovalue.accounting.seea import ecosystem_types, region_mask, same_grid
from ecovalue.datasets.expectations import ECOSYSTEM_TYPES
from ecovalue.datasets.loader import Dataset

RESOURCES: MappingProxyType[str, tuple[str, str, tuple[str, ...]]] = MappingProxyType(
    {
        "forest": ("森林资源（林地）", "Forest land", ("forest", "shrub")),
        "wetland": ("湿地资源", "Wetland", ("wetland",)),
        "water": ("水资源（水域）", "Water bodies", ("water",)),
        "grassland": ("草地资源", "Grassland", ("grassland",)),
        "cropland": ("耕地资源", "Cropland", ("farmland",)),
    }
)
COLUMNS = ("region_code", "region_name_zh", "region_name_en", "resource", "resource_zh", "resource_en",
           "measure", "unit", "year_opening", "year_closing", "opening", "additions", "reductions", "closing",
           "change", "flows", "source")  # fmt: skip


def _ha(ds: Dataset) -> Decimal:
    return Decimal(repr(ds.grid.pixel_area_m2)) / Decimal(10_000)


def _in(eco: np.ndarray, types: tuple[str, ...]) -> np.ndarray:
    return np.isin(eco, [ECOSYSTEM_TYPES.index(t) for t in types])


def _area_rows(
    ds_a: Dataset,
    ds_b: Dataset,
    ya: int,
    yb: int,
    gross: bool,
    resources: MappingProxyType[str, tuple[str, str, tuple[str, ...]]],
) -> list[dict]:
    eco_a, eco_b = ecosystem_types(ds_a), ecosystem_types(ds_b)
    rows = []
    for i, reg in enumerate([*ds_b.regions, None]):
        code = reg.code if reg else "ALL"
        names = (reg.name_zh, reg.name_en) if reg else ("全部", "All regions")
        ma, mb = (
            region_mask(ds_a, code),
            (ds_b.region_index == i) if reg else ds_b.region_index >= 0,
        )
        for key, (zh, en, types) in resources.items():
            ia, ib = _in(eco_a, types) & ma, _in(eco_b, types) & mb
            o, c = int(ia.sum()), int(ib.sum())
            if gross:
                add, red = int((ib & ~ia).sum()), int((ia & ~ib).sum())
            else:
                add, red = max(c - o, 0), max(o - c, 0)
            ua, ub = _ha(ds_a), _ha(ds_b)
            rows.append(
                _row(code, names, key, (zh, en), "area", "ha", ya, yb, o * ua, c * ub,
                     "land-cover rasters", add * ub, red * ub, "gross" if gross else "net")
            )
    return rows


def _reservoir_storage(ds: Dataset, code: str) -> float | None:
    """Total storage (m³) of reservoirs whose representative point lies in district ``code``."""
    feats = ds.vectors.get("reservoirs", [])
    if not feats:
        return None
    geoms = {r.code: r.geometry for r in ds.regions}
    total = 0.0
    for f in feats:
        pt = f.geometry.representative_point()
        inside = (
            any(g.contains(pt) for g in geoms.values())
            if code == "ALL"
            else geoms[code].contains(pt)
        )
        if inside:
            total += float(f.attributes["capacity_wan_m3"]) * 1e4
    return total


def _stock_items(ds: Dataset, year: int) -> pd.DataFrame:
    s = ds.statistics
    if s.empty:
        return s
    return s[(s["year"] == year) & s["item"].astype(str).str.startswith("stock:")]


def _volume_rows(ds_a: Dataset, ds_b: Dataset, ya: int, yb: int) -> list[dict]:
    rows = []
    sa, sb = _stock_items(ds_a, ya), _stock_items(ds_b, yb)
    items = sorted(set(sa["item"]) | set(sb["item"])) if not (sa.empty and sb.empty) else []
    for reg in [*ds_b.regions, None]:
        code = reg.code if reg else "ALL"
        names = (reg.name_zh, reg.name_en) if reg else ("全部", "All regions")
        o, c = _reservoir_storage(ds_a, code), _reservoir_storage(ds_b, code)
        if o is not None or c is not None:
            rows.append(
                _volume_row(
                    code,
                    names,
                    "water",
                    "reservoir storage capacity",
                    "m**3",
                    ya,
                    yb,
                    o,
                    c,
                    "reservoirs layer, capacity_wan_m3",
                )
            )
        for item in items:
            ga = sa[(sa["item"] == item) & ((sa["region_code"] == code) | (code == "ALL"))]
            gb = sb[(sb["item"] == item) & ((sb["region_code"] == code) | (code == "ALL"))]
            if ga.empty and gb.empty:
                continue  # this district reports no such stock in either year
            unit = str((ga if not ga.empty else gb)["unit"].iloc[0])
            rows.append(
                _volume_row(
                    code,
                    names,
                    str(item)[6:],
                    f"volume ({item})",
                    unit,
                    ya,
                    yb,
                    float(ga["quantity"].sum()) if not ga.empty else None,
                    float(gb["quantity"].sum()) if not gb.empty else None,
                    "statistics table",
                )
            )
    return rows


def _volume_row(
    code: str,
    names: tuple[str, str],
    key: str,
    measure: str,
    unit: str,
    ya: int,
    yb: int,
    o: float | None,
    c: float | None,
    source: str,
) -> dict:
    zh, en, _ = RESOURCES.get(key, (key, key, ()))
    return _row(code, names, key, (zh, en), measure, unit, ya, yb, o, c, source)


def _row(
    code: str,
    names: tuple[str, str],
    key: str,
    label: tuple[str, str],
    measure: str,
    unit: str,
    ya: int,
    yb: int,
    o: Any,
    c: Any,
    source: str,
    additions: Any = None,
    reductions: Any = None,
    basis: str = "net",
) -> dict:
    """One row of the asset account (COLUMNS order); change = closing − opening when both exist.

    Quantities are all Decimal (areas) or all float (volumes) within a row."""
    change = c - o if o is not None and c is not None else None
    values = (code, *names, key, *label, measure, unit, ya, yb, o, additions, reductions, c, change,
              basis, source)
    return dict(zip(COLUMNS, values, strict=True))


def natural_resource_account(
    ds_a: Dataset,
    ds_b: Dataset,
    year_a: int,
    year_b: int,
    notes: list[str] | None = None,
    resources: MappingProxyType[str, tuple[str, str, tuple[str, ...]]] = RESOURCES,
) -> pd.DataFrame:
    """Areas (ha) and, where data exist, volumes of each resource per district and "ALL"."""
    gross = same_grid(ds_a, ds_b)
    if not gross and notes is not None:
        notes.append(
            f"natural resources {year_a}→{year_b}: different grids, so additions/reductions are net"
        )
    rows = _area_rows(ds_a, ds_b, year_a, year_b, gross, resources) + _volume_rows(
        ds_a, ds_b, year_a, year_b
    )
    out = pd.DataFrame(rows, columns=list(COLUMNS))
    return out.sort_values(
        ["region_code", "measure"],
        key=lambda s: s.map(lambda v: (v == "ALL", v) if isinstance(v, str) else v),
        kind="stable",
    ).reset_index(drop=True)
