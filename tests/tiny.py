"""A tiny, hand-computable dataset writer for tests (10 × 10 pixels of 100 m, two regions).

Region A covers columns 0–4, region B columns 5–9. Every raster is constant unless a test
overrides it, so expected results can be worked out by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tomli_w

from ecovalue.raster import io
from ecovalue.raster.grid import Grid

CRS = "EPSG:4547"
X0, Y0, CELL, N = 500_000.0, 3_301_000.0, 100.0, 10
GRID = Grid.from_bounds(CRS, X0, Y0 - N * CELL, X0 + N * CELL, Y0, CELL)

LANDCOVER_ROWS = [
    # code, zh, en, type, runoff, c, p, so2, nox, dust, cod, nh3n, tn, tp, heat, water, flood, marsh, pest, veg
    (1, "有林地", "forest", "forest", 0.1, 0.01, 1.0, 100, 10, 1000, 0, 0, 0, 0, 1000, 0, 0.1, 0, 1, 0.9),
    (2, "水田", "paddy", "farmland", 0.3, 0.2, 0.5, 20, 5, 100, 0, 0, 0, 0, 500, 0, 0.05, 0, 0, 0.5),
    (3, "湖泊", "lake", "water", 0.0, 0.0, 1.0, 0, 0, 0, 200, 20, 40, 4, 0, 1, 0, 0, 0, 0),
    (4, "建设用地", "built-up", "urban", 0.8, 0.0, 1.0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    (5, "沼泽", "marsh", "wetland", 0.0, 0.0, 1.0, 10, 2, 50, 300, 30, 50, 5, 800, 1, 0, 0.3, 0, 0.8),
]
LC_COLUMNS = ["code", "name_zh", "name_en", "ecosystem_type", "storm_runoff_coef", "usle_c", "usle_p",
              "so2_absorption", "nox_absorption", "dust_retention", "cod_purification", "nh3n_purification",
              "tn_purification", "tp_purification", "transpiration_heat", "is_water_surface",
              "flood_storage_depth", "marsh_storage_depth", "pest_control", "rweq_veg_cover"]
LC_UNITS = {"storm_runoff_coef": "1", "usle_c": "1", "usle_p": "1", "so2_absorption": "kg/ha/a",
            "nox_absorption": "kg/ha/a", "dust_retention": "kg/ha/a", "cod_purification": "kg/ha/a",
            "nh3n_purification": "kg/ha/a", "tn_purification": "kg/ha/a", "tp_purification": "kg/ha/a",
            "transpiration_heat": "kJ/m**2/d", "is_water_surface": "1", "flood_storage_depth": "m",
            "marsh_storage_depth": "m", "pest_control": "1", "rweq_veg_cover": "1"}

RASTER_UNITS = {"dem": "m", "precipitation": "mm/a", "aet": "mm/a", "npp": "g/m**2/a",
                "erosivity": "MJ*mm/(ha*h*a)", "erodibility": "t*ha*h/(ha*MJ*mm)", "water_evaporation": "mm/a",
                "property_value": "CNY/m**2"}


def default_landcover() -> np.ndarray:
    lc = np.full((N, N), 1, dtype=np.int32)  # forest
    lc[:, 2:4] = 2  # paddy in region A
    lc[0:3, 6:9] = 3  # a lake in region B
    lc[6:10, 5:10] = 4  # built-up in region B
    lc[3:5, 8:10] = 5  # marsh in region B
    return lc


def default_rasters() -> dict[str, np.ndarray]:
    rows, cols = np.mgrid[0:N, 0:N]
    return {
        "dem": (50.0 + 2.0 * rows + 1.0 * cols).astype(np.float32),  # slopes down to the north-west
        "precipitation": np.full((N, N), 1200.0, np.float32),
        "aet": np.full((N, N), 700.0, np.float32),
        "npp": np.full((N, N), 500.0, np.float32),
        "erosivity": np.full((N, N), 6000.0, np.float32),
        "erodibility": np.full((N, N), 0.03, np.float32),
        "water_evaporation": np.full((N, N), 1000.0, np.float32),
        "property_value": np.full((N, N), 10000.0, np.float32),
    }


def default_statistics(year: int = 2023) -> list[dict[str, Any]]:
    rows = []
    for code in ("A", "B"):
        def add(item: str, q: float, unit: str, indicator: str = "", code: str = code) -> None:
            rows.append({"region_code": code, "year": year, "item": item, "indicator": indicator,
                         "quantity": q, "unit": unit, "source": "test"})
        add("product:rice", 100.0 if code == "A" else 0.0, "t", "agriculture")
        add("product:timber", 10.0, "m**3", "forestry")
        add("product:pork", 5.0, "t", "livestock")
        add("product:fish", 2.0, "t", "fishery")
        add("product:lotus", 1.0, "t", "other_products")
        add("water_use:domestic", 1000.0, "m**3")
        add("water_use:industrial", 2000.0, "m**3")
        add("water_use:agricultural", 3000.0, "m**3")
        add("hydropower", 0.0, "kW*h")
        add("tourism:visits", 1000.0, "visit")
        add("tourism:expenditure", 100.0, "CNY/visit")
        add("tourism:travel_hours", 2.0, "h/visit")
        add("wage:daily", 240.0, "CNY/d")
        add("tourism:revenue", 50000.0, "CNY")
        for pol in ("so2", "nox", "dust"):
            add(f"emission:{pol}", 1000.0, "t")
        for pol in ("cod", "nh3n", "tn", "tp"):
            add(f"load:{pol}", 1000.0, "t")
        add("climate:ac_days", 100.0, "d")
        add("gdp", 1e9, "CNY")
    return rows


PRICES = [
    {"item": "product:rice", "value": 3000, "unit": "CNY/t", "price_year": 2023, "region": "test", "source": "test"},
    {"item": "product:timber", "value": 1000, "unit": "CNY/m**3", "price_year": 2023, "region": "test", "source": "test"},
    {"item": "product:pork", "value": 20000, "unit": "CNY/t", "price_year": 2023, "region": "test", "source": "test"},
    {"item": "product:fish", "value": 10000, "unit": "CNY/t", "price_year": 2023, "region": "test", "source": "test"},
    {"item": "product:lotus", "value": 5000, "unit": "CNY/t", "price_year": 2023, "region": "test", "source": "test"},
]


def region_geojson(path: Path, regions: list[tuple[str, str, list[list[float]]]] | None = None) -> None:
    half = X0 + 5 * CELL
    if regions is None:
        regions = [
            ("A", "甲区", [[X0, Y0 - N * CELL], [half, Y0 - N * CELL], [half, Y0], [X0, Y0], [X0, Y0 - N * CELL]]),
            ("B", "乙区", [[half, Y0 - N * CELL], [X0 + N * CELL, Y0 - N * CELL], [X0 + N * CELL, Y0], [half, Y0],
                          [half, Y0 - N * CELL]]),
        ]
    fc = {"type": "FeatureCollection",
          "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4547"}},
          "features": [{"type": "Feature", "properties": {"code": c, "name_zh": zh, "name_en": c},
                        "geometry": {"type": "Polygon", "coordinates": [ring]}} for c, zh, ring in regions]}
    path.write_text(json.dumps(fc, ensure_ascii=False), encoding="utf-8")


def write_tiny_dataset(
    root: Path,
    landcover: np.ndarray | None = None,
    rasters: dict[str, np.ndarray] | None = None,
    raster_units: dict[str, str] | None = None,
    lc_rows: list[tuple] | None = None,
    lc_units: dict[str, str] | None = None,
    statistics: list[dict[str, Any]] | None = None,
    reported: list[dict[str, Any]] | None = None,
    prices: list[dict[str, Any]] | None = None,
    price_index: dict[int, float] | None = None,
    year: int = 2023,
    grids: dict[str, Grid] | None = None,
    lakes: bool = True,
) -> Path:
    """Write the tiny dataset into ``root`` and return it; every argument overrides a default."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "rasters").mkdir(exist_ok=True)
    (root / "vectors").mkdir(exist_ok=True)
    (root / "tables").mkdir(exist_ok=True)
    lc = default_landcover() if landcover is None else landcover
    io.write(root / "rasters/landcover.tif", lc.astype(np.int32), GRID, nodata=0, cog=False)
    data = default_rasters()
    data.update(rasters or {})
    units = dict(RASTER_UNITS)
    units.update(raster_units or {})
    manifest: dict[str, Any] = {
        "dataset": {"name": "tiny", "title_zh": "测试", "title_en": "tiny test", "year": year, "crs": CRS,
                    "synthetic": True},
        "rasters": {"landcover": {"path": "rasters/landcover.tif", "unit": "class"}},
        "vectors": {"regions": {"path": "vectors/regions.geojson"}},
        "tables": {},
    }
    for key, arr in data.items():
        g = (grids or {}).get(key, GRID)
        io.write(root / f"rasters/{key}.tif", arr.astype(np.float32), g, nodata=-9999.0, cog=False)
        manifest["rasters"][key] = {"path": f"rasters/{key}.tif", "unit": units[key]}
    region_geojson(root / "vectors/regions.geojson")
    if lakes:
        x1, y1 = X0 + 6 * CELL, Y0 - 3 * CELL
        fc = {"type": "FeatureCollection",
              "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4547"}},
              "features": [{"type": "Feature", "properties": {"name": "小湖"}, "geometry": {
                  "type": "Polygon", "coordinates": [[[x1, y1], [x1 + 300, y1], [x1 + 300, Y0], [x1, Y0], [x1, y1]]]}}]}
        (root / "vectors/lakes.geojson").write_text(json.dumps(fc, ensure_ascii=False), encoding="utf-8")
        manifest["vectors"]["lakes"] = {"path": "vectors/lakes.geojson"}
    pd.DataFrame(lc_rows or LANDCOVER_ROWS, columns=LC_COLUMNS).to_csv(root / "tables/landcover.csv", index=False)
    manifest["tables"]["landcover"] = {"path": "tables/landcover.csv", "units": lc_units or LC_UNITS}
    stats = statistics if statistics is not None else default_statistics(year)
    pd.DataFrame(stats).to_csv(root / "tables/statistics.csv", index=False)
    manifest["tables"]["statistics"] = {"path": "tables/statistics.csv"}
    pd.DataFrame(prices if prices is not None else PRICES).to_csv(root / "tables/prices.csv", index=False)
    manifest["tables"]["prices"] = {"path": "tables/prices.csv"}
    if reported:
        pd.DataFrame(reported).to_csv(root / "tables/reported.csv", index=False)
        manifest["tables"]["reported"] = {"path": "tables/reported.csv"}
    if price_index:
        pd.DataFrame([{"year": y, "index": v, "name": "CPI"} for y, v in price_index.items()]).to_csv(
            root / "tables/price_index.csv", index=False)
        manifest["tables"]["price_index"] = {"path": "tables/price_index.csv"}
    (root / "dataset.toml").write_text(tomli_w.dumps(manifest), encoding="utf-8")
    return root
