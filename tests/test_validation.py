"""Validation: every problem is reported at once, each message says where, what, expected, fix."""

from __future__ import annotations

import numpy as np
import pytest
from tests.tiny import (
    CELL,
    GRID,
    LANDCOVER_ROWS,
    LC_UNITS,
    X0,
    Y0,
    N,
    default_statistics,
    write_tiny_dataset,
)

from ecovalue.accounting.profiles import load_profile
from ecovalue.datasets.loader import load_dataset, open_dataset
from ecovalue.datasets.validation import needs_for_profile
from ecovalue.errors import ValidationFailed
from ecovalue.raster.grid import Grid

NEEDS = needs_for_profile(load_profile("cn-2022"), (2023,))


def problems_of(root):
    ds, problems = open_dataset(root, NEEDS)
    return ds, problems


def errors_text(problems) -> str:
    return "\n".join(str(p) for p in problems if p.severity == "error")


def test_clean_tiny_dataset_has_no_errors(tmp_path):
    ds, problems = problems_of(write_tiny_dataset(tmp_path / "d"))
    assert ds is not None, errors_text(problems)
    assert not [p for p in problems if p.severity == "error"]
    assert len(ds.regions) == 2 and ds.valid.sum() == N * N


def test_missing_landcover_code_is_an_error_not_a_zero(tmp_path):
    rows = [r for r in LANDCOVER_ROWS if r[0] != 5]  # drop the marsh row; the raster still has code 5
    ds, problems = problems_of(write_tiny_dataset(tmp_path / "d", lc_rows=rows))
    assert ds is None
    text = errors_text(problems)
    assert "land-cover codes 5 occur in the raster" in text
    assert "no row in the land-cover table" in text and "add rows for these codes" in text


def test_negative_precipitation_and_k_out_of_range_reported_together(tmp_path):
    precip = np.full((N, N), 1200.0)
    precip[0, 0] = -5.0
    k = np.full((N, N), 0.03)
    k[1, 1] = 0.5  # a US-units K or a typo
    ds, problems = problems_of(write_tiny_dataset(tmp_path / "d", rasters={"precipitation": precip,
                                                                           "erodibility": k}))
    text = errors_text(problems)
    assert ds is None
    assert "precipitation has 1 pixels below 0 mm/a (minimum -5)" in text
    assert "erodibility has 1 pixels above 0.1" in text and "check the unit" in text


def test_nodata_and_nan_inside_regions(tmp_path):
    aet = np.full((N, N), 700.0)
    aet[2, 3] = np.nan
    aet[4, 4] = -9999.0  # the declared nodata value
    ds, problems = problems_of(write_tiny_dataset(tmp_path / "d", rasters={"aet": aet}))
    text = errors_text(problems)
    assert ds is None
    assert "raster 'aet'" in text and "2 pixels (2.00 %) inside the accounting regions have no data" in text
    assert "first at row 2, col 3" in text and "fill the gaps" in text


def test_raster_on_another_grid_is_aligned_and_said(tmp_path):
    coarse = Grid.from_bounds("EPSG:4547", X0, Y0 - N * CELL, X0 + N * CELL, Y0, 2 * CELL)
    ds, problems = problems_of(write_tiny_dataset(
        tmp_path / "d", rasters={"precipitation": np.full((N // 2, N // 2), 1300.0)},
        grids={"precipitation": coarse}))
    assert ds is not None, errors_text(problems)
    warn = [str(p) for p in problems if p.severity == "warning" and "different grid" in p.what]
    assert warn and "aligned to the land-cover grid with bilinear resampling" in warn[0]
    assert np.allclose(ds.rasters["precipitation"], 1300.0)


def test_raster_in_another_crs_is_aligned(tmp_path):
    from pyproj import Transformer

    tr = Transformer.from_crs("EPSG:4547", "EPSG:32650", always_xy=True)
    x0, y0 = tr.transform(X0 - 500, Y0 - N * CELL - 500)
    x1, y1 = tr.transform(X0 + N * CELL + 500, Y0 + 500)
    g = Grid.from_bounds("EPSG:32650", x0, y0, x1, y1, 50.0)
    ds, problems = problems_of(write_tiny_dataset(
        tmp_path / "d", rasters={"npp": np.full(g.shape, 480.0)}, grids={"npp": g}))
    assert ds is not None, errors_text(problems)
    assert any("EPSG:32650" in p.what and p.severity == "warning" for p in problems)
    assert np.allclose(ds.rasters["npp"], 480.0)


def test_missing_and_unknown_units_in_landcover_table(tmp_path):
    units = dict(LC_UNITS)
    del units["usle_c"]
    units["so2_absorption"] = "kg per wombat"
    units["nox_absorption"] = "m"  # wrong dimension
    ds, problems = problems_of(write_tiny_dataset(tmp_path / "d", lc_units=units))
    text = errors_text(problems)
    assert ds is None
    assert "column usle_c: has no unit" in text and 'add usle_c = "1"' in text
    assert "'kg per wombat' is not a unit pint understands" in text
    assert "'m' cannot be converted to 'kg/(hm²·a)'" in text


def test_statistics_missing_for_region_and_year(tmp_path):
    stats = [r for r in default_statistics() if not (r["region_code"] == "B" and r["item"] == "water_use:domestic")]
    ds, problems = problems_of(write_tiny_dataset(tmp_path / "d", statistics=stats))
    assert "'water_use:domestic' (needed by water_supply) missing for year 2023 in regions B" in errors_text(problems)
    ds, problems = problems_of(write_tiny_dataset(tmp_path / "e", statistics=default_statistics(2021)))
    assert "column year: no row has year 2023 (the years written are 2021)" in errors_text(problems)


def test_bad_region_geometries(tmp_path):
    from tests import tiny

    root = write_tiny_dataset(tmp_path / "d")
    far = X0 + 1e6
    tiny.region_geojson(root / "vectors/regions.geojson", [
        ("A", "甲", [[X0, Y0 - 500], [X0 + 500, Y0], [X0 + 500, Y0 - 500], [X0, Y0], [X0, Y0 - 500]]),  # bow-tie
        ("B", "乙", [[far, Y0], [far + 100, Y0], [far + 100, Y0 + 100], [far, Y0]]),  # outside the rasters
    ])
    ds, problems = problems_of(root)
    text = errors_text(problems)
    assert ds is None
    assert "feature 0 (code A): geometry is invalid (Self-intersection" in text and "make_valid" in text
    assert "feature 1 (code B): does not overlap the rasters" in text


def test_every_problem_listed_at_once(tmp_path):
    rows = [r for r in LANDCOVER_ROWS if r[0] != 4]
    precip = np.full((N, N), 1200.0)
    precip[5, 5] = -1.0
    with pytest.raises(ValidationFailed) as exc:
        load_dataset(write_tiny_dataset(tmp_path / "d", lc_rows=rows, rasters={"precipitation": precip}), NEEDS)
    msg = str(exc.value)
    assert "land-cover codes 4" in msg and "precipitation has 1 pixels below 0" in msg
    assert len([p for p in exc.value.problems if p.severity == "error"]) >= 2


def test_missing_manifest_and_bad_toml(tmp_path):
    _, problems = open_dataset(tmp_path)
    assert "dataset.toml: file not found" in str(problems[0])
    (tmp_path / "dataset.toml").write_text("[dataset\nname=", encoding="utf-8")
    _, problems = open_dataset(tmp_path)
    assert "is not valid TOML" in str(problems[0])


def test_reported_table_errors(tmp_path):
    rep = [{"region_code": "Z", "year": 2023, "indicator": "water_magic", "ecosystem_type": "", "quantity": 1,
            "unit": "m**3", "department": "水务局", "mode": "replace", "source": "t"},
           {"region_code": "A", "year": 2023, "indicator": "water_conservation", "ecosystem_type": "", "quantity": 1,
            "unit": "t", "department": "水务局", "mode": "sometimes", "source": "t"}]
    _, problems = problems_of(write_tiny_dataset(tmp_path / "d", reported=rep))
    text = errors_text(problems)
    assert "line 2: unknown region code 'Z'" in text and "unknown indicator 'water_magic'" in text
    assert "mode 'sometimes'" in text and "'t' cannot be converted to 'm³'" in text


def test_grid_is_metric_projected():
    assert GRID.pixel_area_m2 == CELL * CELL


def test_empty_region_geometry(tmp_path):
    import json

    root = write_tiny_dataset(tmp_path / "d")
    path = root / "vectors/regions.geojson"
    fc = json.loads(path.read_text(encoding="utf-8"))
    fc["features"].append({"type": "Feature", "properties": {"code": "C", "name_zh": "丙", "name_en": "C"},
                           "geometry": None})
    path.write_text(json.dumps(fc, ensure_ascii=False), encoding="utf-8")
    ds, problems = problems_of(root)
    assert ds is None
    assert "feature 2 (code C): geometry is empty" in errors_text(problems)
