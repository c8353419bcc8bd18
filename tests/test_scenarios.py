"""Before/after scenarios on the tiny dataset: no change, forest → built-up by hand, rules, outputs."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
import shapely
import typer
from shapely.geometry import box, mapping
from tests.tiny import CELL, X0, Y0, default_landcover, write_tiny_dataset
from typer.testing import CliRunner

from ecovalue.accounting.pipeline import run_account
from ecovalue.accounting.profiles import load_profile
from ecovalue.accounting.scenarios import load_scenario, run_scenario, scenario_from_dict
from ecovalue.cli.plot import register
from ecovalue.errors import InputError
from ecovalue.raster import io
from ecovalue.reports.scenario import write_scenario_outputs

# NPP by class (g C m⁻² a⁻¹): forest 600, paddy 400, lake 0, built-up 50, marsh 500
NPP = {1: 600.0, 2: 400.0, 3: 0.0, 4: 50.0, 5: 500.0}
PLOT = box(
    X0, Y0 - 4 * CELL, X0 + 2 * CELL, Y0
)  # columns 0–1, rows 0–3: 8 forest pixels of region A
PARAMS = load_profile("cn-2022").parameters


def co2_t(npp: float) -> float:
    """t CO₂ per 1-ha pixel: NPP ÷ 0.45 (C in dry matter) × 1.63 × 10 000 m² ÷ 10⁶ [S2][S5]."""
    return npp / 0.45 * 1.63 * 10_000 / 1e6


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    lc = default_landcover()
    npp = np.vectorize(NPP.get)(lc).astype(np.float32)
    return write_tiny_dataset(tmp_path_factory.mktemp("scen") / "d", rasters={"npp": npp})


@pytest.fixture(scope="module")
def base(tiny):
    return run_account(tiny, "cn-2022")


@pytest.fixture(scope="module")
def to_built(tiny, base):
    return run_scenario(
        tiny, PLOT, scenario_from_dict({"conversion": [{"from": [1], "to": 4}]}), baseline=base
    )


def test_no_change_gives_zero_delta_everywhere(tiny, base):
    res = run_scenario(
        tiny, PLOT, scenario_from_dict({"conversion": [{"from": [2], "to": 4}]}), baseline=base
    )
    assert not res.changed.any()  # no paddy in the plot
    assert np.all(res.delta_value == 0)
    tot = res.totals()
    assert tot["delta_in_plot"] == tot["delta_outside"] == tot["delta_total"] == 0
    for r in res.rows:
        assert (
            r.delta_value_in_plot == 0
            and r.delta_value_outside == 0
            and r.affected_km2_outside == 0
        )
        assert r.delta_physical_in_plot == 0 and r.delta_physical_outside == 0
    assert res.totals()["baseline"] == res.totals()["scenario"]
    assert any("changes no pixel" in n for n in res.notes)


def test_forest_to_built_up_by_hand(to_built):
    r = {x.indicator: x for x in to_built.rows}
    assert int(to_built.changed.sum()) == 8
    # water conservation: forest 3 800 m³/pixel → built-up (1200 − 0.8·1200 − 700 < 0) counts 0
    wc = r["water_conservation"]
    assert wc.delta_physical_in_plot == pytest.approx(-8 * 3800)
    price = PARAMS.get_float("reservoir_cost", "CNY/m**3")
    assert float(wc.delta_value_in_plot) == pytest.approx(-8 * 3800 * price, abs=0.01)
    # carbon: NPP on converted pixels becomes the built-up class mean (50): 8 × (co2(50) − co2(600))
    c = r["carbon_sequestration"]
    assert c.delta_physical_in_plot == pytest.approx(8 * (co2_t(50) - co2_t(600)))
    assert float(c.delta_value_in_plot) == pytest.approx(
        c.delta_physical_in_plot * PARAMS.get_float("carbon.price", "CNY/t"), abs=0.01
    )
    # air purification: forest (100 + 10 + 1000) kg/ha × 1 ha = 1.11 t per pixel → 0 on built-up
    a = r["air_purification"]
    assert a.delta_physical_in_plot == pytest.approx(-8 * 1.11)
    for ind in ("water_conservation", "carbon_sequestration", "air_purification", "soil_retention"):
        assert r[ind].delta_value_outside == 0 and r[ind].affected_km2_outside == 0, (
            ind
        )  # local effects
    assert r["soil_retention"].delta_value_in_plot < 0


def test_statistics_follow_the_converted_area_and_are_not_re_spread(to_built):
    f = {x.indicator: x for x in to_built.rows}["forestry"]
    # region A's 10 000 元 of forestry lies on its 30 forest pixels (333.33 元 each, 8 in the
    # plot); the 8 converted to built-up lose theirs, and nothing moves to the other 22 (before:
    # +2 666.67 outside, total 0)
    assert f.baseline_value == Decimal("2666.67") and f.scenario_value == Decimal("0.00")
    assert f.delta_value_outside == 0 and f.affected_km2_outside == 0
    assert f.delta_value_total == Decimal("-2666.67")
    assert f.method.startswith("scenario: output per hm² of the class")
    assert any("statistics are not re-spread" in n for n in to_built.notes)


def test_a_cropland_conversion_loses_food_production(tiny, base):
    # paddy (farmland) of region A: columns 2–3, 20 pixels of 1 ha carry A's 100 t of rice
    # (3 000 元/t), 5 t of pork (20 000 元/t) and 1 t of lotus (5 000 元/t)
    plot = box(X0 + 2 * CELL, Y0 - 4 * CELL, X0 + 4 * CELL, Y0)  # 8 paddy pixels
    res = run_scenario(tiny, plot, scenario_from_dict({"conversion": [{"from": [2], "to": 4}]}),
                       baseline=base)
    r = {x.indicator: x for x in res.rows}
    assert r["agriculture"].delta_physical_in_plot == pytest.approx(-8 * 100 / 20)
    assert r["agriculture"].delta_value_total == Decimal("-120000.00")  # 8 × 300 000 / 20
    assert r["agriculture"].delta_value_outside == 0 and r["agriculture"].affected_km2_outside == 0
    assert r["livestock"].delta_value_total == Decimal("-40000.00")  # 8 × 100 000 / 20
    assert r["other_products"].delta_value_total == Decimal("-2000.00")  # 8 × 5 000 / 20
    assert "output per hm²" in r["agriculture"].method
    # the approver's summary leads with the losses, the largest first
    losses = [x.delta_value_total for x in res.losses]
    assert {"agriculture", "livestock", "other_products"} <= {x.indicator for x in res.losses}
    assert losses == sorted(losses) and all(v < 0 for v in losses)
    paths = write_scenario_outputs(res, Path(tiny).parent / "crop-out", embed_font=False)
    html = paths["summary"].read_text("utf-8")
    assert html.index('id="losses"') < html.index("结论 Summary") < html.index("分指标比较")
    assert "农业产品 Agricultural products" in html[html.index('id="losses"'):html.index("结论 Summary")]
    csv = paths["comparison"].read_text("utf-8")
    assert "output per hm² of the class in its district" in csv


def test_only_the_plots_area_is_converted_and_local_indicators_stay_inside(tiny, base):
    # an outline that is not on pixel edges: columns 0.25–1.75 and rows 4.5–8.5 of region A's
    # forest, 1.5 × 4 = 6 pixels of area (before: pixels at least half inside were converted
    # whole, and their change outside the outline was labelled "neighbourhood or routing")
    plot = box(X0 + 0.25 * CELL, Y0 - 8.5 * CELL, X0 + 1.75 * CELL, Y0 - 4.5 * CELL)
    res = run_scenario(tiny, plot, scenario_from_dict({"conversion": [{"from": [1], "to": 4}]}),
                       baseline=base)
    assert float(res.transitions["area_km2"].sum()) == pytest.approx(0.06)
    r = {x.indicator: x for x in res.rows}
    wc = r["water_conservation"]
    assert wc.delta_physical_in_plot == pytest.approx(-6 * 3800)
    assert wc.baseline_physical == pytest.approx(6 * 3800)
    for ind in ("water_conservation", "climate_regulation", "carbon_sequestration", "air_purification"):
        assert r[ind].delta_value_outside == 0 and r[ind].affected_km2_outside == 0, ind
        assert r[ind].reach == "", ind
    assert any("converted by the fraction of them inside it" in n for n in res.notes)


def test_outside_effects_are_labelled_by_their_cause():
    from ecovalue.accounting.scenarios import reach_reason

    run = type("R", (), {"parameters": []})()
    assert "neighbourhood" in reach_reason("landscape_premium", "model:hedonic_premium", run)
    assert "routing" in reach_reason("soil_retention", "model:rusle_mfd", run)
    assert "water body" in reach_reason("flood_regulation", "model:lake_reservoir_marsh", run)
    assert "district cap" in reach_reason("air_purification", "model:rate_x_area_capped", run)
    assert "no mechanism" in reach_reason("climate_regulation", "model:x", run)
    assert "whole dataset" in reach_reason("carbon_sequestration", "m", run, frozenset({"carbon.price"}))


def test_landscape_premium_reaches_outside(to_built):
    lp = {x.indicator: x for x in to_built.rows}["landscape_premium"]
    assert lp.affected_km2_outside > 0 and "500 m" in lp.reach and "neighbourhood" in lp.reach
    assert any("Landscape premium" in n and "outside the plot" in n for n in to_built.notes)


def test_summary_and_outputs(to_built, tmp_path):
    paths = write_scenario_outputs(to_built, tmp_path / "o", embed_font=False)
    html = paths["summary"].read_text("utf-8")
    assert 'id="outside-effects"' in html and "Effects reach outside the plot" in html
    assert "水源涵养" in html and "Water conservation" in html
    assert paths["change_map"].read_bytes()[:4] == b"\x89PNG"
    csv = paths["comparison"].read_text("utf-8")
    assert "delta_value_outside_plot" in csv and "carbon_sequestration" in csv


def test_share_is_deterministic_and_capped(tiny, base):
    def scen(seed: int, share: float = 0.5):
        return run_scenario(
            tiny,
            PLOT,
            scenario_from_dict(
                {"scenario": {"seed": seed}, "conversion": [{"from": [1], "to": 4, "share": share}]}
            ),
            baseline=base,
        )

    a, b = scen(7), scen(7)
    assert int(a.changed.sum()) == 4  # round(0.5 × 8)
    assert np.array_equal(a.changed, b.changed)
    with pytest.raises(InputError, match="more than 100 %"):
        run_scenario(
            tiny,
            PLOT,
            scenario_from_dict(
                {
                    "conversion": [
                        {"from": [1], "to": 4, "share": 0.6},
                        {"from": [1], "to": 5, "share": 0.5},
                    ]
                }
            ),
            baseline=base,
        )
    with pytest.raises(InputError, match="codes \\[9\\]"):
        run_scenario(
            tiny, PLOT, scenario_from_dict({"conversion": [{"from": [1], "to": 9}]}), baseline=base
        )


def test_new_reservoir_is_local_and_hand_checked(tiny, base, tmp_path):
    res = run_scenario(
        tiny,
        PLOT,
        scenario_from_dict({"reservoir": [{"name": "新库", "capacity_wan_m3": 100}]}),
        baseline=base,
    )
    fr = {x.indicator: x for x in res.rows}["flood_regulation"]
    # storage = reservoir share × 100 万m³ [S1], spread over the plot's pixels (no water pixel there)
    assert fr.delta_physical_in_plot == pytest.approx(
        PARAMS.get_float("flood.reservoir_share") * 1e6
    )
    assert not res.reaches_outside
    html = write_scenario_outputs(res, tmp_path / "o", embed_font=False)["summary"].read_text(
        "utf-8"
    )
    assert 'id="no-outside-effects"' in html


def test_polygon_raster_and_parameter_changes(tiny, base, tmp_path):
    poly = box(X0, Y0 - CELL, X0 + 2 * CELL, Y0)  # row 0, columns 0–1
    res = run_scenario(
        tiny,
        PLOT,
        scenario_from_dict({"polygon": [{"to": 5, "geometry": mapping(poly)}]}),
        baseline=base,
    )
    assert int(res.changed.sum()) == 2 and set(res.transitions["to_code"]) == {5}
    lc = default_landcover()
    lc[1:3, 0:2] = 2
    path = tmp_path / "new_lc.tif"
    from tests.tiny import GRID

    io.write(path, lc, GRID, nodata=0, cog=False)
    res = run_scenario(
        tiny, PLOT, scenario_from_dict({"landcover": {"path": str(path)}}), baseline=base
    )
    assert int(res.changed.sum()) == 4
    price = PARAMS.get_float("carbon.price", "CNY/t")
    res = run_scenario(
        tiny,
        PLOT,
        scenario_from_dict({"parameters": {"carbon.price": {"value": 2 * price}}}),
        baseline=base,
    )
    c = {x.indicator: x for x in res.rows}["carbon_sequestration"]
    assert c.scenario_value == pytest.approx(2 * c.baseline_value, abs=Decimal("0.02"))
    assert "whole dataset" in c.reach


def test_toml_file_and_cli(tiny, tmp_path):
    (tmp_path / "s.toml").write_text(
        '[scenario]\nname = "新区"\ntitle_zh = "新区建设"\nseed = 3\n\n'
        "[[conversion]]\nfrom = [1]\nto = 4\nshare = 0.5\n",
        encoding="utf-8",
    )
    s = load_scenario(tmp_path / "s.toml")
    assert s.conversions[0].from_codes == (1,) and s.seed == 3
    with pytest.raises(InputError, match="unknown sections"):
        scenario_from_dict({"conversions": []})
    site = tmp_path / "site.geojson"
    site.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4547"}},
                "features": [{"type": "Feature", "properties": {}, "geometry": mapping(PLOT)}],
            }
        )
    )
    app = typer.Typer()
    register(app)
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        [
            "scenario",
            str(tiny),
            "--plot",
            str(site),
            "--scenario",
            str(tmp_path / "s.toml"),
            "--out",
            str(out),
            "--no-font",
        ],
    )
    assert res.exit_code == 0, res.output
    assert (out / "summary.html").exists() and (out / "comparison.csv").exists()
    assert shapely.is_valid(PLOT)
