"""Deterministic synthetic inputs for the InVEST side-by-side benchmark (bench/run.py).

:func:`generate` writes, for an N×N grid of 30 m pixels in a projected CRS (EPSG:4547,
CGCS2000 / 3-degree Gauss-Krüger CM 114E), one folder holding

* the rasters both engines read: land cover (8 classes), DEM, precipitation, actual ET,
  reference ET0, RUSLE erosivity and erodibility, NPP; plus rasters only one side uses:
  InVEST's root-restricting depth and plant-available water content (annual water yield),
  ecovalue's open-water evaporation, property value and RWEQ wind factors (full account);
* the InVEST biophysical tables (carbon pools, SDR ``usle_c``/``usle_p``, annual water yield
  ``Kc``/``root_depth``/``LULC_veg``, NDR nitrogen) and watersheds (shapefile, ``ws_id``);
* an ecovalue dataset (``dataset.toml``, land-cover table, regions, lakes and reservoirs,
  statistics) over the same rasters, so ``run_account`` can run on identical inputs.

Every field is a sum of smooth noise at fixed wavelengths in metres, so the landscape has the
same statistics at every size and cost per pixel stays comparable across sizes. The DEM has
ridges and V-shaped valleys (``|noise|`` folds) on a regional tilt, so flow routing has real
drainage networks and depressions to fill. All table values are illustrative (assumed — bench
only), chosen within the ranges of InVEST's sample data; they are not calibrated for any place.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

GENERATOR_VERSION = 6  # bump when the generated data change, so cached inputs are rebuilt
PIXEL_M = 30.0
CRS = "EPSG:4547"
ORIGIN = (500_000.0, 3_400_000.0)  # (left, top) near Wuhan in EPSG:4547
YEAR = 2023

# code, name_en, name_zh, ecosystem_type
CLASSES: tuple[tuple[int, str, str, str], ...] = (
    (1, "forest", "森林", "forest"),
    (2, "shrub", "灌丛", "shrub"),
    (3, "grassland", "草地", "grassland"),
    (4, "farmland", "农田", "farmland"),
    (5, "urban", "城镇", "urban"),
    (6, "water", "水体", "water"),
    (7, "wetland", "湿地", "wetland"),
    (8, "bare", "裸地", "bare"),
)

# Illustrative per-class parameters (assumed — bench only).
# carbon pools Mg C/ha: above, below, soil, dead (ranges of IPCC 2006 AFOLU defaults)
CARBON = {
    1: (120, 30, 90, 12),
    2: (40, 12, 70, 5),
    3: (6, 10, 60, 1),
    4: (5, 2, 55, 0),
    5: (2, 0, 20, 0),
    6: (0, 0, 0, 0),
    7: (10, 8, 150, 2),
    8: (0, 0, 10, 0),
}
# RUSLE C and P
USLE = {
    1: (0.003, 1.0),
    2: (0.02, 1.0),
    3: (0.05, 1.0),
    4: (0.25, 0.5),
    5: (0.01, 1.0),
    6: (0.0, 1.0),
    7: (0.0, 1.0),
    8: (0.45, 1.0),
}
# annual water yield: Kc, root depth (mm), LULC_veg
AWY = {
    1: (1.0, 5000, 1),
    2: (0.9, 2500, 1),
    3: (0.85, 1500, 1),
    4: (0.75, 1200, 1),
    5: (0.3, 500, 0),
    6: (1.05, 1000, 0),
    7: (1.1, 1000, 0),
    8: (0.3, 300, 0),
}
# NDR nitrogen: load (kg/ha/a), retention efficiency, critical length (m)
NDR = {
    1: (2.0, 0.8, 150),
    2: (2.5, 0.7, 150),
    3: (4.0, 0.6, 150),
    4: (25.0, 0.3, 30),
    5: (10.0, 0.05, 10),
    6: (0.0, 0.05, 10),
    7: (1.0, 0.9, 150),
    8: (5.0, 0.05, 10),
}
# ecovalue land-cover table: storm runoff coefficient and the other service columns
RUNOFF = {1: 0.05, 2: 0.08, 3: 0.12, 4: 0.25, 5: 0.6, 6: 0.0, 7: 0.02, 8: 0.3}

RASTER_UNITS = {
    "landcover": "class",
    "dem": "m",
    "precipitation": "mm/a",
    "aet": "mm/a",
    "et0": "mm/a",
    "npp": "g/m**2/a",
    "erosivity": "MJ*mm/(ha*h*a)",
    "erodibility": "t*ha*h/(ha*MJ*mm)",
    "water_evaporation": "mm/a",
    "property_value": "CNY/m**2",
    "weather_factor": "kg/m",
    "soil_erodible_fraction": "1",
    "soil_crust_factor": "1",
    "root_depth": "mm",
    "pawc": "1",
}
# rasters that ecovalue's side reads (the "floor" reads exactly these once)
ECOVALUE_RASTERS = (
    "landcover",
    "dem",
    "precipitation",
    "aet",
    "npp",
    "erosivity",
    "erodibility",
    "water_evaporation",
    "property_value",
    "weather_factor",
    "soil_erodible_fraction",
    "soil_crust_factor",
)
# units of the ecovalue land-cover table columns (docs/dataset-format.md)
LANDCOVER_UNITS = {
    "storm_runoff_coef": "1",
    "usle_c": "1",
    "usle_p": "1",
    "so2_absorption": "kg/ha/a",
    "nox_absorption": "kg/ha/a",
    "dust_retention": "kg/ha/a",
    "cod_purification": "kg/ha/a",
    "nh3n_purification": "kg/ha/a",
    "tn_purification": "kg/ha/a",
    "tp_purification": "kg/ha/a",
    "transpiration_heat": "kJ/m**2/d",
    "is_water_surface": "1",
    "flood_storage_depth": "m",
    "marsh_storage_depth": "m",
    "pest_control": "1",
    "rweq_veg_cover": "1",
}
NODATA_F = -9999.0
NODATA_LC = 255


def _noise(rng: np.random.Generator, n: int, wavelength_m: float) -> np.ndarray:
    """Smooth noise, unit standard deviation, features ~``wavelength_m`` across (cubic spline)."""
    from scipy import ndimage

    step = max(wavelength_m / PIXEL_M, 2.0)
    coarse_n = int(math.ceil(n / step)) + 4
    coarse = rng.standard_normal((coarse_n, coarse_n))
    zoom = step
    fine = ndimage.zoom(coarse, zoom, order=3, mode="reflect", grid_mode=False)
    off = int(2 * step)
    out = fine[off : off + n, off : off + n].astype(np.float32)
    if out.shape != (n, n):  # tiny grids: pad by reflection
        out = np.pad(out, ((0, n - out.shape[0]), (0, n - out.shape[1])), mode="reflect")
    out -= out.mean()
    out /= max(float(out.std()), 1e-6)
    return out


def make_fields(n: int, seed: int) -> dict[str, np.ndarray]:
    """All rasters as arrays (float32; land cover uint8), deterministic in ``(n, seed)``."""
    rng = np.random.default_rng(seed)
    rows = np.arange(n, dtype=np.float32)[:, None] * PIXEL_M
    cols = np.arange(n, dtype=np.float32)[None, :] * PIXEL_M
    ridges = _noise(rng, n, 6000.0)
    hills = _noise(rng, n, 1500.0)
    rough = _noise(rng, n, 300.0)
    # V-shaped valleys where the ridge noise crosses zero; a tilt to the south-east drains
    # the landscape so most pixels reach the grid edge after depression filling
    dem = (
        60.0
        + 180.0 * np.abs(ridges)
        + 60.0 * np.abs(hills)
        + 8.0 * rough
        + 0.004 * (n * PIXEL_M - rows)
        + 0.002 * (n * PIXEL_M - cols)
    ).astype(np.float32)
    wet = _noise(rng, n, 4000.0)
    town = _noise(rng, n, 3000.0)
    mix = _noise(rng, n, 800.0)
    lowland = np.abs(ridges) < 0.08
    lc = np.full((n, n), 3, dtype=np.uint8)  # grassland
    lc[mix > -0.3] = 4  # farmland
    steep = (np.abs(ridges) > 0.9) | (np.abs(hills) > 1.3)
    lc[steep & (mix > -0.8)] = 1  # forest on ridges and hillsides
    lc[steep & (mix <= -0.8)] = 2  # shrub
    lc[(mix > 1.6) & ~steep] = 8  # bare
    lc[(town > 1.1) & ~steep] = 5  # urban
    lc[lowland & (wet > 0.4)] = 7  # wetland along valley floors
    lc[lowland & (wet > 1.0)] = 6  # water
    precip = (1250.0 + 150.0 * wet + 0.4 * (dem - 150.0)).clip(600.0, None).astype(np.float32)
    et0 = (1100.0 - 0.6 * (dem - 150.0) + 40.0 * town).clip(500.0, None).astype(np.float32)
    kc = np.array([AWY.get(c, (0.5,))[0] for c in range(256)], dtype=np.float32)[lc]
    aet = np.minimum(0.75 * kc * et0, 0.9 * precip).astype(np.float32)
    veg = np.isin(lc, (1, 2, 3, 4, 7))
    npp = np.where(veg, 550.0 + 120.0 * mix + 100.0 * (lc == 1), 20.0).clip(5.0, None)
    erosivity = (4500.0 + 600.0 * wet + 300.0 * hills).clip(1000.0, None)
    erodibility = (0.030 + 0.006 * rough + 0.004 * mix).clip(0.005, 0.08)
    fields = {
        "landcover": lc,
        "dem": dem,
        "precipitation": precip,
        "aet": aet,
        "et0": et0,
        "npp": npp.astype(np.float32),
        "erosivity": erosivity.astype(np.float32),
        "erodibility": erodibility.astype(np.float32),
        "water_evaporation": (1000.0 + 30.0 * wet).astype(np.float32),
        "property_value": np.where(lc == 5, 15000.0 + 3000.0 * town, 0.0).astype(np.float32),
        "weather_factor": (30.0 + 5.0 * ridges).clip(1.0, None).astype(np.float32),
        "soil_erodible_fraction": (0.3 + 0.05 * rough).clip(0.0, 1.0).astype(np.float32),
        "soil_crust_factor": (0.5 + 0.05 * mix).clip(0.0, 1.0).astype(np.float32),
        "root_depth": (1500.0 + 400.0 * hills).clip(300.0, None).astype(np.float32),
        "pawc": (0.15 + 0.03 * rough).clip(0.02, 0.4).astype(np.float32),
    }
    return fields


#: GeoTIFF compressions the inputs can be written with (``generate(compress=…)``): none (the
#: default: tiles are read by a copy, the lowest floor), or DEFLATE with the predictor for the
#: data type, as GIS deliverables usually come (every read decompresses).
COMPRESSIONS = ("none", "deflate")


def _write_raster(path: Path, array: np.ndarray, n: int, compress: str = "none") -> None:
    import rasterio
    from affine import Affine

    is_lc = array.dtype == np.uint8
    profile = {
        "driver": "GTiff",
        "width": n,
        "height": n,
        "count": 1,
        "dtype": str(array.dtype),
        "crs": CRS,
        "transform": Affine(PIXEL_M, 0.0, ORIGIN[0], 0.0, -PIXEL_M, ORIGIN[1]),
        "nodata": NODATA_LC if is_lc else NODATA_F,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": compress,
        "BIGTIFF": "IF_SAFER",
    }
    if compress != "none":
        profile["predictor"] = 2 if np.issubdtype(array.dtype, np.integer) else 3
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(array, 1)


def _regions(n: int) -> list[tuple[str, str, str, int, object]]:
    """Four quadrant regions (code, name_zh, name_en, ws_id, polygon) covering the grid."""
    import shapely

    left, top = ORIGIN
    half = n * PIXEL_M / 2.0
    out = []
    for i, (dx, dy) in enumerate(((0, 0), (1, 0), (0, 1), (1, 1))):
        x0, y1 = left + dx * half, top - dy * half
        out.append(
            (
                f"42010{i + 1}",
                f"区{i + 1}",
                f"District {i + 1}",
                i + 1,
                shapely.box(x0, y1 - half, x0 + half, y1),
            )
        )
    return out


def _write_vectors(folder: Path, n: int) -> None:
    import pyogrio
    import shapely

    regions = _regions(n)
    geoms = np.array([shapely.to_wkb(r[4]) for r in regions], dtype=object)
    fields_r = {
        "code": np.array([r[0] for r in regions]),
        "name_zh": np.array([r[1] for r in regions]),
        "name_en": np.array([r[2] for r in regions]),
        "ws_id": np.array([r[3] for r in regions], dtype=np.int32),
    }
    pyogrio.raw.write(
        folder / "vectors" / "regions.geojson",
        geoms,
        fields_r.values(),
        list(fields_r),
        crs=CRS,
        geometry_type="Polygon",
        driver="GeoJSON",
    )
    # InVEST's watersheds: a shapefile with only ws_id, readable by any GDAL (a GeoPackage
    # written by pyogrio's newer GDAL warns under Debian's 3.6) and no non-Latin names
    pyogrio.raw.write(
        folder / "vectors" / "watersheds.shp",
        geoms,
        [fields_r["ws_id"]],
        ["ws_id"],
        crs=CRS,
        geometry_type="Polygon",
        driver="ESRI Shapefile",
    )
    left, top = ORIGIN
    size = n * PIXEL_M
    lake = shapely.box(left + 0.3 * size, top - 0.42 * size, left + 0.36 * size, top - 0.36 * size)
    res = shapely.box(left + 0.6 * size, top - 0.72 * size, left + 0.65 * size, top - 0.66 * size)
    pyogrio.raw.write(
        folder / "vectors" / "lakes.geojson",
        np.array([shapely.to_wkb(lake)], dtype=object),
        [np.array(["Lake A"])],
        ["name"],
        crs=CRS,
        geometry_type="Polygon",
        driver="GeoJSON",
    )
    pyogrio.raw.write(
        folder / "vectors" / "reservoirs.geojson",
        np.array([shapely.to_wkb(res)], dtype=object),
        [np.array(["Reservoir B"]), np.array([5000.0])],
        ["name", "capacity_wan_m3"],
        crs=CRS,
        geometry_type="Polygon",
        driver="GeoJSON",
    )


def _write_tables(folder: Path) -> None:
    import pandas as pd

    t = folder / "tables"
    codes = [c[0] for c in CLASSES]
    pd.DataFrame(
        {
            "lucode": codes,
            "LULC_name": [c[1] for c in CLASSES],
            "c_above": [CARBON[c][0] for c in codes],
            "c_below": [CARBON[c][1] for c in codes],
            "c_soil": [CARBON[c][2] for c in codes],
            "c_dead": [CARBON[c][3] for c in codes],
        }
    ).to_csv(t / "carbon_pools.csv", index=False)
    pd.DataFrame(
        {
            "lucode": codes,
            "usle_c": [USLE[c][0] for c in codes],
            "usle_p": [USLE[c][1] for c in codes],
        }
    ).to_csv(t / "sdr_biophysical.csv", index=False)
    pd.DataFrame(
        {
            "lucode": codes,
            "Kc": [AWY[c][0] for c in codes],
            "root_depth": [AWY[c][1] for c in codes],
            "LULC_veg": [AWY[c][2] for c in codes],
        }
    ).to_csv(t / "awy_biophysical.csv", index=False)
    pd.DataFrame(
        {
            "lucode": codes,
            "load_n": [NDR[c][0] for c in codes],
            "eff_n": [NDR[c][1] for c in codes],
            "crit_len_n": [NDR[c][2] for c in codes],
            "proportion_subsurface_n": [0.0] * len(codes),
            "load_type_n": ["application-rate"] * len(codes),
        }
    ).to_csv(t / "ndr_biophysical.csv", index=False)
    eco = {c[0]: c[3] for c in CLASSES}
    veg = {1: 1.0, 2: 0.8, 3: 0.6, 4: 0.4, 7: 0.5}
    pd.DataFrame(
        {
            "code": codes,
            "name_zh": [c[2] for c in CLASSES],
            "name_en": [c[1] for c in CLASSES],
            "ecosystem_type": [eco[c] for c in codes],
            "storm_runoff_coef": [RUNOFF[c] for c in codes],
            "usle_c": [USLE[c][0] for c in codes],
            "usle_p": [USLE[c][1] for c in codes],
            "so2_absorption": [88.65 if c == 1 else 20.0 if c in (2, 3) else 0.0 for c in codes],
            "nox_absorption": [6.0 if c == 1 else 2.0 if c in (2, 3) else 0.0 for c in codes],
            "dust_retention": [
                10110.0 if c == 1 else 1000.0 if c in (2, 3) else 0.0 for c in codes
            ],
            "cod_purification": [300.0 if c in (6, 7) else 0.0 for c in codes],
            "nh3n_purification": [30.0 if c in (6, 7) else 0.0 for c in codes],
            "tn_purification": [40.0 if c in (6, 7) else 0.0 for c in codes],
            "tp_purification": [5.0 if c in (6, 7) else 0.0 for c in codes],
            "transpiration_heat": [2000.0 * veg.get(c, 0.0) for c in codes],
            "is_water_surface": [1.0 if c == 6 else 0.0 for c in codes],
            "flood_storage_depth": [0.1 if c in veg else 0.0 for c in codes],
            "marsh_storage_depth": [0.5 if c == 7 else 0.0 for c in codes],
            "pest_control": [1.0 if c in (1, 3) else 0.0 for c in codes],
            "rweq_veg_cover": [veg.get(c, 0.0) for c in codes],
        }
    ).to_csv(t / "landcover.csv", index=False)
    rows = [(r[0], YEAR, "climate:ac_days", "", 60.0, "d", "assumed (bench)") for r in _regions(2)]
    pd.DataFrame(
        rows, columns=["region_code", "year", "item", "indicator", "quantity", "unit", "source"]
    ).to_csv(t / "statistics.csv", index=False)


# The raster indicators of cn-2022 (statistics-based ones left out: they read no raster);
# no emission/load caps because the bench has no emission statistics.
PROFILE = """[profile]
id = "bench-{routing}"
extends = "cn-2022"
base_year = 2020
name_en = "InVEST benchmark: raster indicators of cn-2022"

[indicators]
include = ["water_conservation", "soil_retention", "sand_fixation", "flood_regulation",
  "air_purification", "water_purification", "carbon_sequestration", "oxygen_release",
  "climate_regulation", "landscape_premium"]

[switches]
cap_air_by_emissions = false
cap_water_by_loads = false

[methods]
routing = "{routing}"
"""


def _write_manifest(folder: Path, n: int) -> None:
    lines = [
        "[dataset]",
        f'name = "bench-{n}"',
        f'title_en = "InVEST benchmark inputs {n}x{n}"',
        f'title_zh = "基准测试输入 {n}x{n}"',
        f"year = {YEAR}",
        f'crs = "{CRS}"',
        "synthetic = true",
        'description = "Synthetic, deterministic inputs written by bench/gen_inputs.py"',
        "",
    ]
    for key in ECOVALUE_RASTERS:
        lines += [
            f"[rasters.{key}]",
            f'path = "rasters/{key}.tif"',
            f'unit = "{RASTER_UNITS[key]}"',
            "",
        ]
    lines += [
        "[vectors.regions]",
        'path = "vectors/regions.geojson"',
        'code_field = "code"',
        'name_zh_field = "name_zh"',
        'name_en_field = "name_en"',
        "",
        "[vectors.lakes]",
        'path = "vectors/lakes.geojson"',
        'name_field = "name"',
        "",
        "[vectors.reservoirs]",
        'path = "vectors/reservoirs.geojson"',
        'name_field = "name"',
        "",
        "[tables.landcover]",
        'path = "tables/landcover.csv"',
        "units = { " + ", ".join(f'{k} = "{u}"' for k, u in LANDCOVER_UNITS.items()) + " }",
        "",
        "[tables.statistics]",
        'path = "tables/statistics.csv"',
        "",
    ]
    (folder / "dataset.toml").write_text("\n".join(lines), encoding="utf-8")
    for routing in ("mfd", "d8"):
        (folder / f"bench-profile-{routing}.toml").write_text(
            PROFILE.format(routing=routing), encoding="utf-8"
        )


def generate(folder: Path, n: int, seed: int = 42, compress: str = "none") -> Path:
    """Write all inputs for an ``n``×``n`` grid into ``folder`` (reused if already complete);
    ``compress``: one of :data:`COMPRESSIONS`."""
    if compress not in COMPRESSIONS:
        raise ValueError(f"compress = {compress!r}; expected one of {COMPRESSIONS}")
    stamp = folder / "inputs.json"
    meta = {
        "generator_version": GENERATOR_VERSION,
        "size": n,
        "seed": seed,
        "pixel_m": PIXEL_M,
        "crs": CRS,
        "year": YEAR,
    }
    if compress != "none":  # (the stamps of uncompressed inputs written before stay valid)
        meta["compress"] = compress
    if stamp.exists() and json.loads(stamp.read_text()) == meta:
        return folder
    for sub in ("rasters", "vectors", "tables"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for p in (folder / "vectors").glob("*"):
        p.unlink()
    fields = make_fields(n, seed)
    for key, arr in fields.items():
        _write_raster(folder / "rasters" / f"{key}.tif", arr, n, compress)
    del fields
    _write_vectors(folder, n)
    _write_tables(folder)
    _write_manifest(folder, n)
    stamp.write_text(json.dumps(meta))
    return folder


if __name__ == "__main__":
    import sys

    out = generate(
        Path(sys.argv[1]),
        int(sys.argv[2]),
        int(sys.argv[3]) if len(sys.argv) > 3 else 42,
        sys.argv[4] if len(sys.argv) > 4 else "none",
    )
    print(out)
