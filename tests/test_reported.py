"""Departments' reported quantities: conflicting rows are refused, sub-items (pollutants, flood
storage types, cooling processes, soil retention's benefits) are valued each at its own price,
and both engines give the same tables (issue 22 items 4 and 5)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from tests.test_streaming import assert_same_run
from tests.tiny import write_tiny_dataset

from ecovalue.accounting.pipeline import run_account
from ecovalue.accounting.profiles import load_profile
from ecovalue.accounting.result import RunResult
from ecovalue.accounting.streaming import run_account_streamed
from ecovalue.errors import InputError, ValidationFailed

PARAMS = load_profile("cn-2022").parameters


def rep(code: str, ind: str, q: float, *, sub: str = "", et: str = "", mode: str = "replace",
        unit: str = "t", dept: str = "市生态环境局") -> dict[str, object]:
    return {"region_code": code, "year": 2023, "indicator": ind, "ecosystem_type": et, "quantity": q,
            "unit": unit, "department": dept, "mode": mode, "source": "统计报表", "sub_item": sub}


def dataset(tmp_path: Path, rows: list[dict[str, object]]) -> Path:
    return write_tiny_dataset(tmp_path / "d", reported=rows)


def price(pid: str, unit: str = "CNY/t") -> float:
    return PARAMS.get_float(pid, unit)


def subs(run: RunResult, code: str, ind: str) -> dict[str, tuple[float, Decimal]]:
    s = run.sub_items[(run.sub_items["region_code"] == code) & (run.sub_items["indicator"] == ind)]
    return {str(k): (float(g["physical_quantity"].sum()), sum(g["value_current"], Decimal(0)))
            for k, g in s.groupby("sub_item")}


def row_value(run: RunResult, code: str, ind: str) -> Decimal:
    t = run.table
    return sum(t.loc[(t["region_code"] == code) & (t["indicator"] == ind), "value_current"], Decimal(0))


# ------------------------------------------------------------------ item 4: one number per pixels


@pytest.mark.parametrize("second_et", ["", "forest"])
def test_two_rows_for_the_same_region_and_indicator_are_an_error(tmp_path: Path, second_et: str) -> None:
    # before: the row applied last won silently (or rescaled what the first had set)
    root = dataset(tmp_path, [
        rep("A", "water_conservation", 90_000.0, unit="m**3", dept="市水务局"),
        rep("A", "water_conservation", 50_000.0, unit="m**3", et=second_et, dept="区水务局"),
    ])
    for run in (run_account, run_account_streamed):
        with pytest.raises(ValidationFailed) as err:
            run(root)
        msg = str(err.value)
        assert "tables/reported.csv lines 2 and 3" in msg
        assert "water_conservation for region A in 2023 for the same pixels" in msg
        assert "replace 90000 by 市水务局" in msg and "replace 50000 by 区水务局" in msg


def test_rows_for_different_pixels_or_sub_items_are_fine(tmp_path: Path) -> None:
    root = dataset(tmp_path, [
        rep("A", "water_conservation", 9_000.0, unit="m**3", et="farmland"),
        rep("A", "water_conservation", 50_000.0, unit="m**3", et="forest"),
        rep("A", "air_purification", 0.5, sub="so2"),
        rep("A", "air_purification", 0.1, sub="nox"),
    ])
    run = run_account(root)
    t = run.table
    wc = t[(t["region_code"] == "A") & (t["indicator"] == "water_conservation")]
    assert wc.set_index("ecosystem_type")["physical_quantity"].to_dict() == pytest.approx(
        {"farmland": 9_000.0, "forest": 50_000.0})


def test_a_sub_item_the_indicator_does_not_have_is_a_validation_error(tmp_path: Path) -> None:
    root = dataset(tmp_path, [rep("A", "air_purification", 1.0, sub="cod")])
    with pytest.raises(ValidationFailed, match=r"sub_item 'cod' of air_purification.*one of \['so2', 'nox', 'dust'\]"):
        run_account(root)


# ------------------------------------------------------------------ item 5: sub-items at their prices


def test_a_pollutant_total_is_refused_where_the_pollutants_have_different_prices(tmp_path: Path) -> None:
    # before: valued at the model's pollutant mix (−73 % on a real table), exit 0
    root = dataset(tmp_path, [rep("A", "air_purification", 100.0)])
    for run in (run_account, run_account_streamed):
        with pytest.raises(InputError) as err:
            run(root)
        msg = str(err.value)
        assert "reported air_purification for A by 市生态环境局 (line 2) is a total without sub-items" in msg
        assert "so2 (SO₂) 1200" in msg and "nox (NOₓ) 630" in msg and "dust (Dust) 150" in msg
        assert "sub_item column: so2, nox, dust" in msg


def test_pollutants_reported_one_by_one_are_each_valued_at_their_own_price(tmp_path: Path) -> None:
    # A's model mix is 1.11 t per forest pixel of which 1 t dust (150 元/t): a total would be
    # valued near the dust price; per pollutant, each takes its own
    root = dataset(tmp_path, [
        rep("A", "air_purification", 60.0, sub="so2"),
        rep("A", "air_purification", 30.0, sub="nox"),
        rep("A", "air_purification", 10.0, sub="dust"),
        rep("B", "water_purification", 2.0, sub="cod", dept="市水务局"),
        rep("B", "water_purification", 0.5, sub="tp", dept="市水务局"),
    ])
    mem = run_account(root)
    got = subs(mem, "A", "air_purification")
    assert {k: q for k, (q, _v) in got.items()} == pytest.approx({"so2": 60.0, "nox": 30.0, "dust": 10.0})
    for pol, q in (("so2", 60.0), ("nox", 30.0), ("dust", 10.0)):
        assert float(got[pol][1]) == pytest.approx(q * price(f"air.{pol}_cost"), abs=0.02)
    expected = 60 * price("air.so2_cost") + 30 * price("air.nox_cost") + 10 * price("air.dust_cost")
    assert float(row_value(mem, "A", "air_purification")) == pytest.approx(expected, abs=0.05)
    # the table's rows are exactly the sums of their sub-item rows
    assert row_value(mem, "A", "air_purification") == sum(v for _q, v in got.values())
    water = subs(mem, "B", "water_purification")
    assert water["cod"][0] == pytest.approx(2.0) and water["tp"][0] == pytest.approx(0.5)
    assert float(water["tp"][1]) == pytest.approx(0.5 * price("water.tp_cost"), abs=0.01)
    assert set(mem.table.loc[mem.table["indicator"] == "air_purification", "source"]) >= {"reported:市生态环境局"}
    assert_same_run(mem, run_account_streamed(root, block_rows=3))


def test_a_total_is_accepted_where_every_sub_item_has_one_price(tmp_path: Path) -> None:
    # flood storage of lakes, reservoirs and marshes is valued at one price (reservoir cost):
    # a total is scaled over the model's parts; climate regulation in a region without any
    # model value goes into one row 'not split'
    root = dataset(tmp_path, [
        rep("B", "flood_regulation", 8_000.0, unit="m**3", dept="市水务局"),
        rep("B", "climate_regulation", 2e5, et="urban", unit="kW*h", dept="市气象局"),
    ])
    profile = tmp_path / "p.toml"
    profile.write_text('[profile]\nid = "one-price"\nextends = "cn-2022"\nversion = "1"\n'
                       '[parameters."air.nox_cost"]\nvalue = "1200"\nunit = "CNY/t"\nprice_year = 2010\n'
                       'source = "test"\nstatus = "assumed"\n'
                       '[parameters."air.dust_cost"]\nvalue = "1200"\nunit = "CNY/t"\nprice_year = 2010\n'
                       'source = "test"\nstatus = "assumed"\n', encoding="utf-8")
    mem = run_account(root)
    flood = subs(mem, "B", "flood_regulation")
    assert sum(q for q, _v in flood.values()) == pytest.approx(8_000.0)
    assert float(row_value(mem, "B", "flood_regulation")) == pytest.approx(
        8_000 * price("reservoir_cost", "CNY/m**3"), abs=0.05)
    climate = subs(mem, "B", "climate_regulation")
    assert climate[""][0] == pytest.approx(2e5)  # built-up land does not cool in the model
    assert mem.sub_items.loc[mem.sub_items["sub_item"] == "", "sub_item_en"].iloc[0] == "not split"
    assert_same_run(mem, run_account_streamed(root))
    # a pollutant total, once the profile gives every pollutant one price
    root2 = dataset(tmp_path / "two", [rep("A", "air_purification", 100.0)])
    one = run_account(root2, profile)
    assert float(row_value(one, "A", "air_purification")) == pytest.approx(100 * price("air.so2_cost"), abs=0.05)


def test_soil_retention_total_and_its_nitrogen_and_phosphorus(tmp_path: Path) -> None:
    # a total of retained soil: silting at λ/ρ·P_s per t, N and P by the soil's contents [S1]
    root = dataset(tmp_path, [
        rep("A", "soil_retention", 1_000.0, et="farmland", dept="市水利局"),
        rep("B", "soil_retention", 2.0, sub="nitrogen", dept="市农业局"),
    ])
    mem = run_account(root)
    soil = mem.sub_items[(mem.sub_items["region_code"] == "A") & (mem.sub_items["ecosystem_type"] == "farmland")]
    by = soil.set_index("sub_item")
    c_n, c_p = PARAMS.get_float("soil.n_fraction"), PARAMS.get_float("soil.p_fraction")
    assert by.loc["sediment", "physical_quantity"] == pytest.approx(1_000.0)
    assert by.loc["nitrogen", "physical_quantity"] == pytest.approx(1_000.0 * c_n)
    assert by.loc["phosphorus", "physical_quantity"] == pytest.approx(1_000.0 * c_p)
    assert not by.loc["nitrogen", "in_indicator_total"] and by.loc["sediment", "in_indicator_total"]
    silt = price("soil.silting_coef", "1") / price("soil.bulk_density", "t/m**3") * price(
        "soil.dredging_cost", "CNY/m**3")
    assert float(by.loc["sediment", "value_current"]) == pytest.approx(1_000 * silt, abs=0.01)
    # the table's physical quantity is the soil, not soil + N + P
    t = mem.table
    row = t[(t["region_code"] == "A") & (t["indicator"] == "soil_retention") & (t["ecosystem_type"] == "farmland")]
    assert float(row["physical_quantity"].iloc[0]) == pytest.approx(1_000.0)
    assert float(subs(mem, "B", "soil_retention")["nitrogen"][0]) == pytest.approx(2.0)
    assert float(subs(mem, "B", "soil_retention")["nitrogen"][1]) == pytest.approx(
        2.0 * price("soil.n_cost"), abs=0.01)
    assert_same_run(mem, run_account_streamed(root, block_rows=4))


def test_results_by_sub_item_are_written(tmp_path: Path) -> None:
    from ecovalue.accounting.outputs import write_outputs

    root = dataset(tmp_path, [rep("A", "air_purification", 60.0, sub="so2")])
    mem = run_account(root)
    paths = write_outputs(mem, tmp_path / "out")
    text = Path(paths["results_by_sub_item.csv"]).read_text("utf-8")
    assert text.splitlines()[0].startswith("region_code,region_name_zh,region_name_en,year,indicator,")
    assert ",so2,二氧化硫,SO₂,True," in text and ",cod,化学需氧量," in text


def test_the_workbook_has_a_sheet_by_sub_item(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    from ecovalue.reports.xlsx import write_xlsx

    root = dataset(tmp_path, [rep("A", "air_purification", 60.0, sub="so2")])
    mem = run_account(root)
    ws = load_workbook(write_xlsx(mem, tmp_path / "r.xlsx"))["分项"]
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=4)]
    so2 = next(r for r in rows if r[0] == "甲区" and r[2] == "二氧化硫")
    assert so2[1] == "空气净化" and so2[3] == pytest.approx(60.0) and "市生态环境局" in so2[7]
    assert {r[2] for r in rows} >= {"减少泥沙淤积", "减少氮流失", "植被蒸腾降温增湿", "湖泊调蓄", "化学需氧量"}
