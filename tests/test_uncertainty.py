"""Monte Carlo uncertainty: degenerate distributions, reproducibility, ordering, the linear shortcut."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tests.tiny import write_tiny_dataset

from ecovalue.accounting.outputs import write_csv
from ecovalue.accounting.pipeline import run_account
from ecovalue.accounting.profiles import load_profile
from ecovalue.accounting.uncertainty import load_distributions, make_distribution, run_uncertainty
from ecovalue.errors import ParameterError, UnitError

INDEX = {2010: 80.0, 2011: 84.0, 2013: 90.0, 2018: 95.0, 2020: 100.0, 2023: 105.0}
KINDS = ["point", "uniform", "normal", "discrete", "lognormal", "triangular"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = write_tiny_dataset(tmp_path_factory.mktemp("unc") / "d", price_index=INDEX)
    return root, run_account(root, "cn-2022")


def degenerate(pids):
    """All mass on the profile's point value, cycling through every kind of distribution."""
    prof = load_profile("cn-2022")
    tables = {}
    for i, pid in enumerate(sorted(pids)):
        p, kind = prof.parameters[pid], KINDS[i % len(KINDS)]
        v = float(p.value)
        args = {
            "point": {"value": v},
            "uniform": {"low": v, "high": v},
            "normal": {"mean": v, "sd": 0},
            "discrete": {"values": [v, v, v]},
            "lognormal": {"median": v, "sigma": 0},
            "triangular": {"low": v, "mode": v, "high": v},
        }[kind]
        tables[pid] = {"kind": kind, "unit": p.unit, "source": "test", **args}
    return load_distributions(tables)


def test_degenerate_distributions_reproduce_the_point_estimate_exactly(tiny):
    root, point = tiny
    shipped = load_distributions("cn-2022")
    u = run_uncertainty(root, "cn-2022", degenerate(shipped), draws=20, seed=1, point=point)
    for df in (u.rows, u.indicators, u.regions):
        assert (df["p5"] == df["point"]).all() and (df["p95"] == df["point"]).all()
    assert u.total["p5"] == u.total["p50"] == u.total["p95"] == point.totals()["gep_current"]
    assert (u.rows["point"] == point.table["value_current"]).all()


def test_degenerate_also_exact_when_every_indicator_is_recomputed(tiny):
    root, point = tiny
    dists = degenerate(["reservoir_cost", "soil.bulk_density", "carbon.dm_carbon_fraction"])
    u = run_uncertainty(root, "cn-2022", dists, draws=3, seed=1, point=point, shortcut=False)
    assert set(u.recomputed) >= {"water_conservation", "soil_retention", "carbon_sequestration"}
    assert (u.rows["p5"] == u.rows["point"]).all() and (u.rows["p95"] == u.rows["point"]).all()


def test_same_seed_same_percentiles_and_ordered(tiny):
    root, point = tiny
    a = run_uncertainty(root, "cn-2022", draws=60, seed=7, point=point)
    b = run_uncertainty(root, "cn-2022", draws=60, seed=7, point=point)
    assert a.samples.equals(b.samples)
    assert a.rows.equals(b.rows) and a.regions.equals(b.regions) and a.total == b.total
    c = run_uncertainty(root, "cn-2022", draws=60, seed=8, point=point)
    assert not a.samples.equals(c.samples)
    for df in (a.rows, a.indicators, a.regions):
        assert (df["p5"] <= df["p50"]).all() and (df["p50"] <= df["p95"]).all()
    assert a.total["p5"] <= a.total["p50"] <= a.total["p95"]
    # a range exists where published values disagree (reservoir cost 0.67–7.06 元/m³)
    wc = a.indicators.set_index("indicator").loc["water_conservation"]
    assert wc["p5"] < wc["p95"]
    # district ranges cover the district rows
    assert set(a.regions["region_code"]) == {"A", "B"}


def test_linear_shortcut_equals_recomputing(tiny):
    root, point = tiny
    shipped = load_distributions("cn-2022")
    dists = {
        k: shipped[k]
        for k in (
            "reservoir_cost",
            "carbon.price",
            "soil.n_cost",
            "soil.dredging_cost",
            "soil.bulk_density",
            "landscape.premium_rate",
        )
    }
    fast = run_uncertainty(root, "cn-2022", dists, draws=12, seed=3, point=point)
    slow = run_uncertainty(root, "cn-2022", dists, draws=12, seed=3, point=point, shortcut=False)
    assert "water_conservation" in fast.rescaled and "landscape_premium" in fast.rescaled
    # soil value = A·(λ/ρ·P_s + …): ρ is not linear → recomputed
    assert "soil_retention" in fast.recomputed
    for col in ("p5", "p50", "p95"):
        diff = [abs(x - y) for x, y in zip(fast.rows[col], slow.rows[col], strict=True)]
        assert max(diff) <= Decimal("0.02")


def test_a_point_elsewhere_equals_a_rerun_with_that_value(tiny, tmp_path):
    root, point = tiny
    # reservoir cost 6.11 元/m³ at 2011 prices [S3]; restated × 105/84 to 2023 by sampler and pipeline alike
    dists = load_distributions(
        {
            "reservoir_cost": {
                "kind": "point",
                "value": 6.11,
                "unit": "CNY/m**3",
                "price_year": 2011,
                "source": "[S3]",
            }
        }
    )
    u = run_uncertainty(root, "cn-2022", dists, draws=5, seed=0, point=point)
    prof = tmp_path / "p.toml"
    prof.write_text(
        '[profile]\nextends = "cn-2022"\nid = "t"\nbase_year = 2020\n'
        '[parameters."reservoir_cost"]\nvalue = "6.11"\nunit = "CNY/m**3"\nprice_year = 2011\n'
        'source = "[S3]"\n',
        encoding="utf-8",
    )
    rerun = run_account(root, prof).totals()["gep_current"]
    assert abs(u.total["p50"] - rerun) <= Decimal("0.05")
    assert u.total["p5"] == u.total["p95"] == u.total["p50"] != u.total["point"]


def test_sensitivity_names_the_driver(tiny):
    root, point = tiny
    shipped = load_distributions("cn-2022")
    dists = {"reservoir_cost": shipped["reservoir_cost"], **degenerate(["carbon.price"])}
    u = run_uncertainty(root, "cn-2022", dists, draws=50, seed=2, point=point)
    gep = u.sensitivity[u.sensitivity["target"] == "GEP"].set_index("parameter")
    assert gep.at["reservoir_cost", "rank"] == 1
    assert gep.at["reservoir_cost", "share"] == pytest.approx(1.0)
    assert gep.at["carbon.price", "rho2"] == 0.0


def test_bad_distributions_say_what_to_fix(tiny):
    root, point = tiny
    with pytest.raises(ParameterError, match="not in the register.*no_such"):
        run_uncertainty(
            root,
            "cn-2022",
            {
                "no_such": make_distribution(
                    "no_such", {"kind": "point", "value": 1, "unit": "1", "source": "x"}, "t"
                )
            },
            draws=5,
            point=point,
        )
    with pytest.raises(ParameterError, match="mode 9 is outside"):
        make_distribution(
            "x",
            {"kind": "triangular", "low": 1, "mode": 9, "high": 2, "unit": "1", "source": "s"},
            "t",
        )
    with pytest.raises(ParameterError, match="kind 'beta'"):
        make_distribution("x", {"kind": "beta", "unit": "1", "source": "s"}, "t")
    with pytest.raises(ParameterError, match="no 'source'"):
        make_distribution("x", {"kind": "point", "value": 1, "unit": "1"}, "t")
    bad_unit = {
        "reservoir_cost": make_distribution(
            "reservoir_cost", {"kind": "point", "value": 1, "unit": "CNY/t*m", "source": "s"}, "t"
        )
    }
    with pytest.raises(UnitError, match="reservoir_cost"):
        run_uncertainty(root, "cn-2022", bad_unit, draws=5, point=point)


def test_shipped_distributions_are_complete_and_cited():
    prof = load_profile("cn-2022")
    dists = load_distributions("cn-2022")
    assert "reservoir_cost" in dists and set(dists["reservoir_cost"].values) == {
        7.06,
        6.11,
        0.88,
        0.67,
    }
    for pid, d in dists.items():
        assert pid in prof.parameters
        assert d.source and (d.kind != "discrete" or len(d.sources) == len(d.values))


def test_ranges_reach_csv_xlsx_and_report(tiny, tmp_path):
    root, point = tiny
    u = run_uncertainty(root, "cn-2022", draws=20, seed=1, point=point)
    import pandas as pd

    csv = pd.read_csv(write_csv(point, tmp_path / "results.csv", ranges=u), dtype=str)
    assert {"p5", "p50", "p95"} <= set(csv.columns) and csv["p5"].notna().all()
    from openpyxl import load_workbook

    from ecovalue.reports.html import render_html
    from ecovalue.reports.xlsx import write_xlsx

    assert "不确定性" in load_workbook(write_xlsx(point, tmp_path / "r.xlsx", ranges=u)).sheetnames
    assert "不确定性" not in load_workbook(write_xlsx(point, tmp_path / "p.xlsx")).sheetnames
    html = render_html(point, {}, embed_font=False, ranges=u)
    assert 'id="uncertainty"' in html and "reservoir_cost" in html
    assert 'id="uncertainty"' not in render_html(point, {}, embed_font=False)


def test_draws_on_a_local_dask_cluster_equal_a_local_run(tiny):
    pytest.importorskip("distributed")
    root, point = tiny
    shipped = load_distributions("cn-2022")
    dists = {k: shipped[k] for k in ("soil.bulk_density", "carbon.price")}  # ρ: recomputed per draw
    local = run_uncertainty(root, "cn-2022", dists, draws=10, seed=5, point=point)
    remote = run_uncertainty(root, "cn-2022", dists, draws=10, seed=5, point=point, workers=2)
    assert local.recomputed == remote.recomputed == ["soil_retention"]
    for col in ("p5", "p50", "p95"):
        assert local.rows[col].tolist() == remote.rows[col].tolist()


def test_the_progress_bar_ends_at_the_number_of_draws(tiny):
    # issue 22: 200 draws ended at 198/200 (each draw was reported before it ran)
    root, point = tiny
    dists = degenerate(["soil.bulk_density", "carbon.dm_carbon_fraction"])
    seen: list[tuple[int, int]] = []
    run_uncertainty(root, "cn-2022", dists, draws=200, seed=1, point=point, shortcut=False,
                    progress=lambda step, i, total: seen.append((i, total)))
    assert seen and seen[-1] == (200, 200)
    assert [i for i, _ in seen] == sorted(i for i, _ in seen)


def test_the_shipped_distributions_and_the_shipped_demo_agree():
    # every price year of the shipped profile and of its distributions is in the demo's price
    # index (issue 22: reservoir_cost's 1990 value of [S6] was not restated on the demo)
    import tomllib

    from ecovalue.accounting.profiles import PROFILE_DIR
    from ecovalue.datasets.demo import _price_index_rows

    index = {r["year"] for r in _price_index_rows(2023)}
    prof = load_profile("cn-2022")
    years = {p.price_year for p in prof.parameters.values() if p.price_year is not None}
    raw = tomllib.loads((PROFILE_DIR / "cn-2022.uncertainty.toml").read_text(encoding="utf-8"))
    for d in raw["distributions"].values():
        years |= {int(y) for y in d.get("price_years", []) if y} | ({int(d["price_year"])} if "price_year" in d else set())
    assert 1990 in years and years <= index, sorted(years - index)
