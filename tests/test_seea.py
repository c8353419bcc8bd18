"""SEEA EA accounts (extent, condition, supply, assets) and natural-resource asset accounts."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.tiny import LANDCOVER_ROWS, N, default_landcover, default_statistics, write_tiny_dataset
from typer.testing import CliRunner

from ecovalue.accounting.assets import natural_resource_account
from ecovalue.accounting.seea import annuity_factor, extent_account, run_seea, write_seea
from ecovalue.datasets.expectations import ECOSYSTEM_TYPES
from ecovalue.errors import InputError

INDEX = {2010: 80.0, 2011: 84.0, 2013: 90.0, 2018: 95.0, 2020: 100.0, 2022: 100.0, 2023: 105.0}


def stats_with_stock(year: int, forest_m3: float) -> list[dict]:
    rows = default_statistics(year)
    rows.append(
        {
            "region_code": "A",
            "year": year,
            "item": "stock:forest",
            "indicator": "",
            "quantity": forest_m3,
            "unit": "m**3",
            "source": "forest inventory (test)",
        }
    )
    return rows


@pytest.fixture(scope="module")
def seea(tmp_path_factory):
    root = tmp_path_factory.mktemp("seea")
    lc = default_landcover()
    lc[0:5, 0:2] = 4  # 10 forest pixels (1 ha each) of district A become built-up
    a = write_tiny_dataset(
        root / "a", year=2022, price_index=INDEX, statistics=stats_with_stock(2022, 5000.0)
    )
    b = write_tiny_dataset(
        root / "b",
        year=2023,
        price_index=INDEX,
        landcover=lc,
        statistics=stats_with_stock(2023, 4200.0),
    )
    return run_seea(a, b, "cn-2022"), root, a, b


def ext(result, region, etype):
    e = result.extent
    return e[(e["region_code"] == region) & (e["ecosystem_type"] == etype)].iloc[0]


def test_extent_hand_checked_and_closes(seea):
    result = seea[0]
    f = ext(result, "A", "forest")
    # forest in A: 30 pixels of 0.01 km², 10 become built-up
    assert (f["opening_km2"], f["reductions_km2"], f["closing_km2"]) == (
        Decimal("0.3"),
        Decimal("0.1"),
        Decimal("0.2"),
    )
    assert ext(result, "A", "urban")["additions_km2"] == Decimal("0.1")
    for _, r in result.extent.iterrows():
        assert r["opening_km2"] + r["additions_km2"] - r["reductions_km2"] == r["closing_km2"]
    total = ext(result, "ALL", "total")
    assert total["additions_km2"] == total["reductions_km2"] == Decimal("0.1")
    assert total["opening_km2"] == total["closing_km2"] == Decimal("1.00")  # 10 × 10 pixels of 1 ha
    m = result.change_matrix
    moved = m[(m["region_code"] == "ALL") & (m["from_type"] != m["to_type"])]
    assert list(zip(moved["from_type"], moved["to_type"], moved["pixels"], strict=True)) == [
        ("forest", "urban", 10)
    ]


def fake_ds(lc: np.ndarray) -> SimpleNamespace:
    """What extent_account reads of a dataset: land cover, its table, districts and grid."""
    from tests.tiny import GRID, LC_COLUMNS

    index = np.where(np.arange(N)[None, :] < 5, 0, 1).repeat(N, axis=0).astype(np.int32)
    regions = [
        SimpleNamespace(code="A", name_zh="甲", name_en="A"),
        SimpleNamespace(code="B", name_zh="乙", name_en="B"),
    ]
    return SimpleNamespace(
        rasters={"landcover": lc},
        landcover_table=pd.DataFrame(LANDCOVER_ROWS, columns=LC_COLUMNS),
        region_index=index,
        grid=GRID,
        regions=regions,
        info=SimpleNamespace(name="fake"),
    )


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.integers(1, 5), min_size=N * N, max_size=N * N),
    st.lists(st.integers(1, 5), min_size=N * N, max_size=N * N),
)
def test_extent_account_always_closes(codes_a, codes_b):
    a = fake_ds(np.array(codes_a, dtype=np.int32).reshape(N, N))
    b = fake_ds(np.array(codes_b, dtype=np.int32).reshape(N, N))
    extent, matrix = extent_account(a, b, 2022, 2023)  # type: ignore[arg-type]
    for _, r in extent.iterrows():
        assert r["opening_km2"] + r["additions_km2"] - r["reductions_km2"] == r["closing_km2"]
    for code, g in extent.groupby("region_code"):
        types = g[g["ecosystem_type"] != "total"]
        tot = g[g["ecosystem_type"] == "total"].iloc[0]
        assert sum(types["closing_km2"], Decimal(0)) == tot["closing_km2"]
        assert (
            tot["additions_km2"] == tot["reductions_km2"]
        )  # one grid: every addition is someone's reduction
        mm = matrix[matrix["region_code"] == code]
        assert mm["pixels"].sum() == 50 * (2 if code == "ALL" else 1)


def test_asset_account_npv_and_identity(seea):
    result = seea[0]
    # (1 − 1.0277^−100)/0.0277 = 33.752 [S2]
    assert float(annuity_factor(0.0277, 100)) == pytest.approx(33.752, abs=1e-3)
    assert annuity_factor(0.0, 10) == 10
    with pytest.raises(InputError, match="asset life"):
        annuity_factor(0.03, 0)
    a = result.assets
    for _, r in a.iterrows():
        assert r["opening"] + r["volume_change"] + r["revaluation"] == r["closing"]
    total = a[(a["region_code"] == "ALL") & (a["ecosystem_type"] == "total")].iloc[0]
    gep_a = result.series.runs[0].totals()["gep_current"]
    assert total["annual_flow_opening"] == gep_a
    assert float(total["opening"]) == pytest.approx(float(gep_a) * 33.752, rel=1e-4)


def test_supply_tables_match_the_runs(seea):
    result = seea[0]
    m = result.supply_monetary
    for run in result.series.runs:
        gep = m[(m["year"] == run.year) & (m["indicator"] == "GEP")].iloc[0]
        assert gep["total"] == run.totals()["gep_current"]
        assert sum((gep[t] for t in ECOSYSTEM_TYPES), Decimal(0)) == gep["total"]
    p = result.supply_physical
    wc = p[(p["year"] == 2022) & (p["indicator"] == "water_conservation")].iloc[0]
    assert wc["total"] == pytest.approx(sum(wc[t] for t in ECOSYSTEM_TYPES))
    c = result.condition
    assert {"npp", "vegetation_cover"} <= set(c["indicator"])
    assert c[(c["indicator"] == "npp") & (c["ecosystem_type"] == "forest")].iloc[0][
        "opening"
    ] == pytest.approx(500.0)


def test_natural_resource_accounts(seea):
    result = seea[0]
    nr = result.natural_resources
    forest = nr[
        (nr["region_code"] == "A") & (nr["resource"] == "forest") & (nr["measure"] == "area")
    ].iloc[0]
    assert (forest["opening"], forest["reductions"], forest["closing"]) == (30, 10, 20)  # ha
    for _, r in nr[nr["measure"] == "area"].iterrows():
        assert r["opening"] + r["additions"] - r["reductions"] == r["closing"]
    vol = nr[(nr["region_code"] == "A") & (nr["measure"] == "volume (stock:forest)")].iloc[0]
    assert (vol["opening"], vol["closing"], vol["change"]) == (5000.0, 4200.0, -800.0)
    da, db = result.series.datasets
    assert natural_resource_account(da, db, 2022, 2023).equals(nr)  # notes are optional


def test_outputs_and_cli(seea):
    result, root, a, b = seea
    paths = write_seea(result, root / "out")
    from openpyxl import load_workbook

    sheets = load_workbook(paths["seea.xlsx"]).sheetnames
    assert {
        "生态系统范围",
        "范围变化矩阵",
        "生态系统状况",
        "服务供给(实物量)",
        "服务供给(价值量)",
        "资产账户",
        "自然资源资产",
    } <= set(sheets)
    assert (root / "out" / "extent.csv").exists()
    from ecovalue.cli.analysis import register

    app = typer.Typer()
    register(app)
    res = CliRunner().invoke(
        app, ["seea", str(a), str(b), "--out", str(root / "cli"), "--discount-rate", "0.03"]
    )
    assert res.exit_code == 0, res.output
    assert "0.03" in (root / "cli" / "asset_account.csv").read_text(encoding="utf-8")
