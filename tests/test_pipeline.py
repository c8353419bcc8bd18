"""End-to-end accounting on the tiny dataset: hand-checked numbers, sums and invariants."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from tests.tiny import N, default_landcover, default_statistics, write_tiny_dataset

from ecovalue.accounting.pipeline import run_account
from ecovalue.accounting.result import TABLE_COLUMNS

INDEX = {2010: 80.0, 2011: 84.0, 2018: 95.0, 2020: 100.0, 2023: 105.0}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = write_tiny_dataset(tmp_path_factory.mktemp("tiny") / "d")
    return run_account(root, "cn-2022")


def total(result, indicator, region=None, col="physical_quantity"):
    t = result.table
    t = t[t["indicator"] == indicator]
    if region:
        t = t[t["region_code"] == region]
    return sum(t[col], Decimal(0)) if col.startswith("value") else float(t[col].sum())


def test_table_columns_and_sources(tiny_run):
    assert list(tiny_run.table.columns) == list(TABLE_COLUMNS)
    assert set(tiny_run.table["source"]) <= {"model", "statistics"}
    assert "sand_fixation" in tiny_run.not_applicable
    assert "no wind data" in tiny_run.not_applicable["sand_fixation"]


def test_water_conservation_by_hand(tiny_run):
    # forest: (1200 − 0.1·1200 − 700) mm = 380 mm × 10 000 m² = 3 800 m³ per pixel; 30 forest pixels in A
    # paddy would give 140 mm, but farmland is outside the profile's water-conservation scope
    assert total(tiny_run, "water_conservation", "A") == pytest.approx(30 * 3800)
    # value at the published 7.06 元/m³ (no price index: prices are not restated): 114 000 × 7.06
    assert total(tiny_run, "water_conservation", "A", "value_current") == Decimal("804840.00")
    rows = tiny_run.table[tiny_run.table["indicator"] == "water_conservation"]
    assert set(rows["ecosystem_type"]) <= {"forest", "wetland"}


def test_provisioning_by_hand(tiny_run):
    # A: rice 100 t × 3 000 元/t = 300 000 元 on farmland; B reports 0 t of rice
    assert total(tiny_run, "agriculture", "A", "value_current") == Decimal("300000.00")
    assert total(tiny_run, "agriculture", "B", "value_current") == Decimal("0")
    rows = tiny_run.table[(tiny_run.table["indicator"] == "agriculture")]
    assert set(rows["ecosystem_type"]) == {"farmland"}
    # water supply per region: 1 000 × 2.6 + 2 000 × 3.6 + 3 000 × 0.07 = 10 010 元
    assert total(tiny_run, "water_supply", "B", "value_current") == Decimal("10010.00")
    # recreation (travel cost): 1 000 visits × (100 + 2 h × 240/8 × 0.30 + 50) = 168 000 元
    assert total(tiny_run, "recreation", "A", "value_current") == Decimal("168000.00")


def test_carbon_by_hand(tiny_run):
    # 500 g C/m² ÷ 0.45 = 1 111.1 g dry matter/m²; × 1.63 = 1 811.1 g CO₂/m² = 18.111 t per 1 ha pixel
    per_pixel = 500 / 0.45 * 1.63 * 10_000 / 1e6
    assert total(tiny_run, "carbon_sequestration") == pytest.approx(N * N * per_pixel)
    assert total(tiny_run, "oxygen_release") == pytest.approx(N * N * 500 / 0.45 * 1.2 * 10_000 / 1e6)


def test_district_rows_sum_to_city_total_exactly(tiny_run):
    totals = tiny_run.totals()
    assert sum(totals["by_region"].values(), Decimal(0)) == totals["gep_current"]
    assert sum(totals["by_category"].values(), Decimal(0)) == totals["gep_current"]
    assert sum(totals["by_indicator"].values(), Decimal(0)) == totals["gep_current"]
    assert all(isinstance(v, Decimal) for v in tiny_run.table["value_current"])


def test_layers_agree_with_table(tiny_run):
    for ind, layer in tiny_run.layers.items():
        assert float(np.nansum(layer.value, dtype=np.float64)) == pytest.approx(float(total(tiny_run, ind, col="value_current")),
                                                              rel=1e-9, abs=0.01 * N * N)


def test_constant_prices_and_restatement(tmp_path):
    root = write_tiny_dataset(tmp_path / "d", price_index=INDEX)
    r = run_account(root, "cn-2022")
    # reservoir cost 7.06 (2010 prices) restated to 2023: × 105/80
    wc = total(r, "water_conservation", "A", "value_current")
    assert float(wc) == pytest.approx(114_000 * 7.06 * 105 / 80, rel=1e-6)
    # constant 2020 prices: × 100/105
    wcc = total(r, "water_conservation", "A", "value_constant")
    assert float(wcc) == pytest.approx(float(wc) * 100 / 105, abs=0.5)
    assert any(p.id == "reservoir_cost" and "restated from 2010" in p.source for p in r.parameters)


def test_reported_quantity_replaces_model(tmp_path):
    rep = [{"region_code": "A", "year": 2023, "indicator": "water_conservation", "ecosystem_type": "",
            "quantity": 10, "unit": "wan_m3", "department": "市水务局", "mode": "replace", "source": "统计报表"}]
    r = run_account(write_tiny_dataset(tmp_path / "d", reported=rep), "cn-2022")
    assert total(r, "water_conservation", "A") == pytest.approx(100_000.0)
    rows = r.table[(r.table["indicator"] == "water_conservation") & (r.table["region_code"] == "A")]
    assert set(rows["source"]) == {"reported:市水务局"}
    assert total(r, "water_conservation", "A", "value_current") == Decimal("706000.00")
    assert float(np.nansum(r.layers["water_conservation"].physical[:, :5], dtype=np.float64)) == pytest.approx(100_000.0)


def test_reported_complement_fills_an_indicator_the_model_lacks(tmp_path):
    rep = [{"region_code": "B", "year": 2023, "indicator": "sand_fixation", "ecosystem_type": "forest",
            "quantity": 50, "unit": "t", "department": "市林业局", "mode": "complement", "source": "统计报表"}]
    r = run_account(write_tiny_dataset(tmp_path / "d", reported=rep), "cn-2022")
    assert "sand_fixation" not in r.not_applicable
    assert total(r, "sand_fixation", "B") == pytest.approx(50.0)
    # valued at 3.75 元/m² ÷ (1.28 t/m³ × 0.1 m) = 29.296875 元/t
    assert float(total(r, "sand_fixation", "B", "value_current")) == pytest.approx(50 * 3.75 / 0.128, abs=0.01)


def test_all_water_gives_the_zeros_it_should(tmp_path):
    lc = np.full((N, N), 3, dtype=np.int32)
    r = run_account(write_tiny_dataset(tmp_path / "d", landcover=lc, lakes=False,
                                       rasters={"npp": np.zeros((N, N))}), "cn-2022")
    for ind in ("soil_retention", "carbon_sequestration", "oxygen_release", "air_purification",
                "landscape_premium"):
        assert total(r, ind) == 0.0, ind
    for ind in ("water_purification", "climate_regulation"):
        assert total(r, ind) > 0.0, ind


def test_all_built_up_gives_the_zeros_it_should(tmp_path):
    lc = np.full((N, N), 4, dtype=np.int32)
    r = run_account(write_tiny_dataset(tmp_path / "d", landcover=lc, lakes=False,
                                       rasters={"npp": np.zeros((N, N))}), "cn-2022")
    for ind in ("soil_retention", "water_conservation", "carbon_sequestration", "air_purification",
                "water_purification", "climate_regulation", "flood_regulation", "landscape_premium"):
        assert total(r, ind) == 0.0, ind
    # statistics still count, spread over built-up pixels with a note
    assert total(r, "water_supply", col="value_current") > 0
    assert any("has no water/wetland pixels" in n for n in r.notes)


def test_missing_statistics_stop_the_run(tmp_path):
    from ecovalue.errors import ValidationFailed

    stats = [s for s in default_statistics() if s["item"] != "climate:ac_days"]
    with pytest.raises(ValidationFailed, match="climate:ac_days"):
        run_account(write_tiny_dataset(tmp_path / "d", statistics=stats), "cn-2022")


def test_default_landcover_fixture_is_what_the_comments_say():
    lc = default_landcover()
    assert (lc[:, :5] == 1).sum() == 30 and (lc[:, :5] == 2).sum() == 20
