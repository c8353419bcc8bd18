"""Multi-year series and the decomposition of each district's GEP change (tiny datasets)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
import typer
from tests.tiny import N, default_landcover, write_tiny_dataset
from typer.testing import CliRunner

from ecovalue.accounting.series import DECOMPOSITION_COLUMNS, run_series, write_series
from ecovalue.errors import InputError

# 2022 = 2020 = 100 so that year 2022 prices are the constant (base-year) prices
INDEX = {2010: 80.0, 2011: 84.0, 2013: 90.0, 2018: 95.0, 2020: 100.0, 2022: 100.0, 2023: 105.0}
PROFILE = """[profile]
extends = "cn-2022"
id = "test-series"
base_year = 2020
[indicators]
include = ["water_conservation", "forestry"]
"""


def converted_landcover() -> np.ndarray:
    lc = default_landcover()
    lc[0:5, 0:2] = 4  # 10 forest pixels of district A become built-up
    return lc


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("series")
    prof = root / "profile.toml"
    prof.write_text(PROFILE, encoding="utf-8")
    a = write_tiny_dataset(root / "a", year=2022, price_index=INDEX)
    b = write_tiny_dataset(
        root / "b", year=2023, price_index=INDEX, landcover=converted_landcover()
    )
    wet = np.full((N, N), 1200.0)
    wet[:, 5:] = 1300.0  # more rain in district B, no land-cover change there
    c = write_tiny_dataset(
        root / "c",
        year=2023,
        price_index=INDEX,
        landcover=converted_landcover(),
        rasters={"precipitation": wet},
    )
    return {"profile": prof, "a": a, "b": b, "c": c, "root": root}


@pytest.fixture(scope="module")
def small(folders):
    return run_series([folders["b"], folders["a"]], folders["profile"])  # order does not matter


def row(result, region, indicator="GEP"):
    d = result.decomposition
    sel = d[(d["region_code"] == region) & (d["indicator"] == indicator)]
    assert len(sel) == 1
    return sel.iloc[0]


def test_hand_checked_conversion_of_ten_forest_pixels(small):
    assert small.years == [2022, 2023]
    # reservoir cost 7.06 (2010 prices) → 2022: × 100/80 = 8.825 元/m³; 2023: × 105/80 = 9.26625 元/m³
    # each forest pixel conserves (1200 − 0.1·1200 − 700) mm × 10 000 m² = 3 800 m³; built-up conserves 0
    wc = row(small, "A", "water_conservation")
    assert wc["quantity_effect"] == Decimal("-335350.00")  # −10 × 3 800 m³ × 8.825
    assert wc["conversion_effect"] == Decimal("-335350.00")
    assert wc["condition_effect"] == Decimal("0.00")
    # price effect: the 2023 quantity (20 forest pixels · 3 800 m³) × (9.26625 − 8.825)
    assert wc["price_effect"] == Decimal("33535.00")
    # base year 2020 has the same index as 2022, so QE is the change at constant prices
    assert wc["change_constant"] == wc["quantity_effect"]
    assert row(small, "A")["converted_area_km2"] == pytest.approx(0.10)
    # district B did not change: no quantity effect
    assert row(small, "B", "water_conservation")["quantity_effect"] == Decimal("0.00")
    # forestry is statistics-based: 10 m³ × 1 000 元/m³ both years → only a price effect
    fo = row(small, "A", "forestry")
    assert fo["basis"] == "statistics" and fo["conversion_effect"] is None
    assert fo["statistics_effect"] == Decimal("0.00")
    assert fo["price_effect"] == Decimal("10000.00") - Decimal("9523.81")


def check_identities(d):
    for _, r in d.iterrows():
        assert r["change_current"] == r["quantity_effect"] + r["price_effect"]
        assert r["change_current"] == r["value_to"] - r["value_from"]
        assert r["quantity_effect"] == r["model_effect"] + r["statistics_effect"]
        if r["conversion_effect"] is not None:
            assert (
                r["model_effect"]
                == r["conversion_effect"] + r["condition_effect"] + r["rounding_residual"]
            )
            assert abs(r["rounding_residual"]) <= Decimal("0.05")
    for ind, g in d.groupby("indicator"):
        districts = g[g["region_code"] != "ALL"]
        total = g[g["region_code"] == "ALL"].iloc[0]
        for col in ("change_current", "quantity_effect", "price_effect", "conversion_effect"):
            vals = [v for v in districts[col] if v is not None]
            if vals:
                assert sum(vals, Decimal(0)) == total[col], (ind, col)


def test_parts_add_up_exactly_with_the_full_profile(folders):
    result = run_series([(folders["a"], None), (folders["c"], 2023)], "cn-2022")
    d = result.decomposition
    assert list(d.columns) == list(DECOMPOSITION_COLUMNS)
    check_identities(d)
    gep_b = row(result, "B")
    # more rain on unchanged pixels of B: a condition change, no conversion there
    assert gep_b["conversion_effect"] == Decimal("0.00")
    assert gep_b["condition_effect"] > 0
    assert row(result, "A")["conversion_effect"] < 0


def test_series_table_and_constant_prices(small):
    t = small.table
    gep = t[(t["indicator"] == "GEP") & (t["region_code"] == "A")].set_index("year")
    # 2023 at constant 2020 prices = current × 100/105
    assert float(gep.at[2023, "value_constant"]) == pytest.approx(
        float(gep.at[2023, "value_current"]) * 100 / 105, abs=0.02
    )
    assert gep.at[2022, "value_constant"] == gep.at[2022, "value_current"]


def test_same_year_twice_is_an_error(folders):
    with pytest.raises(InputError, match="same year"):
        run_series([folders["a"], (folders["a"], 2022)], folders["profile"])
    with pytest.raises(InputError, match="at least two"):
        run_series([folders["a"]], folders["profile"])


def test_outputs_and_cli(small, folders):
    paths = write_series(small, folders["root"] / "out")
    for name in ("series.csv", "decomposition.csv", "series.xlsx", "decomposition_2022_2023.png"):
        assert paths[name].exists() and paths[name].stat().st_size > 0
    from openpyxl import load_workbook

    assert {"时间序列", "变化分解", "分解明细"} <= set(
        load_workbook(paths["series.xlsx"]).sheetnames
    )
    from ecovalue.cli.analysis import register

    app = typer.Typer()
    register(app)
    out = folders["root"] / "cli"
    res = CliRunner().invoke(
        app,
        [
            "series",
            str(folders["a"]),
            str(folders["b"]),
            "--out",
            str(out),
            "--profile",
            str(folders["profile"]),
        ],
    )
    assert res.exit_code == 0, res.output
    assert (out / "decomposition.csv").exists()
