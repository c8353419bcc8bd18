"""What ties the exchange to the accounts: indicator trades measured from the published run
and monitoring, and forestry carbon-sink credits issued from plot-level accounting minus
the baseline scenario (tiny dataset: 10 × 10 pixels of 1 ha; district 420102 = columns 0–4,
420103 = columns 5–9)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
import shapely
from platform_support import ADMIN, OFFICIAL_A, OFFICIAL_B
from tests.tiny import CELL, X0, Y0, N, default_landcover, region_geojson, write_tiny_dataset

from ecovalue.platform.errors import RuleViolation
from ecovalue.platform.exchange import indicators as IND
from ecovalue.platform.exchange import keys, sinks
from ecovalue.platform.exchange import service as X
from ecovalue.platform.exchange import transfers as TR
from ecovalue.platform.ledger import service as L
from ecovalue.platform.ledger.verify import verify_journal
from ecovalue.platform.monitoring import service as mon
from ecovalue.platform.registry import service as reg
from ecovalue.platform.runs import service as runs

D = Decimal
HALF = X0 + 5 * CELL
REGIONS = [("420102", "江岸区", [[X0, Y0 - N * CELL], [HALF, Y0 - N * CELL], [HALF, Y0], [X0, Y0],
                                   [X0, Y0 - N * CELL]]),
           ("420103", "江汉区", [[HALF, Y0 - N * CELL], [X0 + N * CELL, Y0 - N * CELL],
                                   [X0 + N * CELL, Y0], [HALF, Y0], [HALF, Y0 - N * CELL]])]  # fmt: skip


NPP = {1: 600.0, 2: 400.0, 3: 0.0, 4: 50.0, 5: 500.0}  # g C m⁻² a⁻¹ by class (as test_scenarios)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):  # type: ignore[no-untyped-def]
    npp = np.vectorize(NPP.get)(default_landcover()).astype(np.float32)
    root = write_tiny_dataset(tmp_path_factory.mktemp("xtiny") / "d", rasters={"npp": npp})
    region_geojson(root / "vectors/regions.geojson", REGIONS)
    stats = pd.read_csv(root / "tables/statistics.csv")
    stats["region_code"] = stats["region_code"].map({"A": "420102", "B": "420103"})
    stats.to_csv(root / "tables/statistics.csv", index=False)
    return root


@pytest.fixture
def published(uow, tiny):  # type: ignore[no-untyped-def]
    with uow() as s:
        run = runs.start_run(s, ADMIN, str(tiny), 2023)
        runs.publish_run(s, ADMIN, run.id, "first release")
        X.adopt_ruleset(s, ADMIN)
        X.create_instrument(s, ADMIN, "IFOREST", 2023)
        for code, district, user in (("JA", "420102", "li"), ("JH", "420103", "wang")):
            X.register_participant(s, ADMIN, code, f"{district} 人民政府", "district", district)
            X.add_member(s, ADMIN, code, user)
            X.deposit(s, ADMIN, code, D("1000000.00"), f"dep-{code}")
    return tiny


def test_forest_coverage_trade_from_the_published_run(uow, published) -> None:  # type: ignore[no-untyped-def]
    with uow() as s:
        for district, rate in (("420102", "0.50"), ("420103", "0.40")):
            IND.set_target(s, ADMIN, "forest_coverage", district, 2023, D(rate), "尽责目标 (test)")
            m = IND.measure(s, ADMIN, "forest_coverage", district, 2023)
        a = IND.position(s, "forest_coverage", "420102", 2023)
        b = IND.position(s, "forest_coverage", "420103", 2023)
    # 420102: 30 forest pixels of 50 (1 ha = 15 亩) → 450 of 750 亩, target 50 % = 375 亩
    # 420103: 17 forest pixels → 255 亩, target 40 % = 300 亩 → short by 45 亩
    assert (a.measured, a.target, a.surplus) == (D(450), D(375), D(75))
    assert (b.measured, b.target, b.shortfall) == (D(255), D(300), D(45))
    assert m.basis == D("750.00")
    duties = [IND.ObligationIn("patch", "林班 12-3 造林地块", "P-12-3"),
              IND.ObligationIn("upkeep", "两名护林员, 管护 5 年", due=dt.date(2028, 12, 31))]
    with pytest.raises(RuleViolation, match="46 exceeds buyer 420103's shortfall 45"), uow() as s:
        IND.propose_trade(s, OFFICIAL_A, "forest_coverage", 2023, "420102", "420103", D(46),
                          D("2500"), duties)  # fmt: skip
    with pytest.raises(RuleViolation, match="below the floor 2500"), uow() as s:
        IND.propose_trade(s, OFFICIAL_A, "forest_coverage", 2023, "420102", "420103", D(45),
                          D("2400"), duties)  # fmt: skip
    with pytest.raises(RuleViolation, match="the forest patch and its upkeep"), uow() as s:
        IND.propose_trade(s, OFFICIAL_A, "forest_coverage", 2023, "420102", "420103", D(45),
                          D("2500"), duties[:1])  # fmt: skip
    with pytest.raises(RuleViolation, match="not below its target"), uow() as s:
        IND.propose_trade(s, OFFICIAL_B, "forest_coverage", 2023, "420103", "420102", D(1),
                          D("2500"), duties)  # fmt: skip
    with uow() as s:
        t = IND.propose_trade(s, OFFICIAL_A, "forest_coverage", 2023, "420102", "420103", D(45),
                              D("2500"), duties)  # fmt: skip
        assert t.kind == "indicator" and len(IND.obligations_of(s, t.id)) == 2
    with uow() as s:
        assert TR.accept(s, OFFICIAL_B, t.id).status == "accepted"  # the exchange approves
        assert TR.approve(s, ADMIN, t.id).status == "settled"
        seller = IND.assessed(s, "forest_coverage", "420102", 2023)
        buyer = IND.assessed(s, "forest_coverage", "420103", 2023)
    assert (seller["assessed"], buyer["assessed"], buyer["meets_target"]) == (D(405), D(300), True)
    assert buyer["assessed_rate"] == D("0.4000")
    assert buyer["measurement"]["input_hash"] and buyer["measurement"]["publication_version"] == 1
    with uow() as s:  # 45 亩 × 2,500 元 = 112,500 元, fees 0.75 % each side
        cash = L.balances(s, [keys.cash("JA"), keys.cash("JH")])
        assert cash[(keys.cash("JA"), "CNY")] == D("1000000.00") + D("112500.00") - D("843.75")
        assert cash[(keys.cash("JH"), "CNY")] == D("1000000.00") - D("112500.00") - D("843.75")
        assert verify_journal(s).intact


def test_a_changed_dataset_cannot_be_measured_against_the_publication(uow, published) -> None:  # type: ignore[no-untyped-def]
    stats = published / "tables/statistics.csv"
    original = stats.read_text()
    try:
        stats.write_text(original.replace("100.0", "101.0", 1))
        with pytest.raises(RuleViolation, match="not the run's"), uow() as s:
            IND.measure(s, ADMIN, "forest_coverage", "420102", 2023)
    finally:
        stats.write_text(original)


def test_clean_water_counts_sections_meeting_their_target(uow, published) -> None:  # type: ignore[no-untyped-def]
    with uow() as s:
        X.create_instrument(s, ADMIN, "IWATER", 2023)
        for code, do in (("S1", "7.6"), ("S2", "4.0")):  # DO ≥ 7.5 class I; 4.0 → class IV
            mon.create_station(s, ADMIN, code, code, "water_section", "420102", 114.3, 30.6,
                               target_class=3)  # fmt: skip
            mon.ingest(s, ADMIN, [("r", {"station_code": code, "parameter": "DO",
                                         "observed_at": "2023-06-01T08:00+08:00", "value": do,
                                         "unit": "mg/L"})], "test")  # fmt: skip
        m = IND.measure(s, ADMIN, "water_quality", "420102", 2023)
    assert (m.measured, m.basis) == (D(1), D(2))  # S1 meets class III, S2 does not


def test_sink_credits_from_plot_accounting_minus_the_baseline(uow, tiny) -> None:  # type: ignore[no-untyped-def]
    plot = shapely.box(X0, Y0 - 4 * CELL, X0 + 2 * CELL, Y0)  # 8 forest pixels of 420102
    with uow() as s:
        X.adopt_ruleset(s, ADMIN)
        X.create_instrument(s, ADMIN, "FCER", 2023)
        X.register_participant(s, ADMIN, "LC", "某林场", "enterprise", "420102")
        reg.create_register(s, ADMIN, "WH", "武汉市自然资源登记簿", 4547)
        owner = reg.add_owner(s, ADMIN, "collective", "某村", "某村股份经济合作社")
        reg.register_parcel(s, ADMIN, "WH", "FOREST-1", "forest", "420102001", plot, owner.id)
        sinks.register_project(s, ADMIN, "SINK-1", "LC", "WH", "FOREST-1", 2021, 2030)
    with pytest.raises(RuleViolation, match="below the methodology's 400 m²"), uow() as s:
        reg.register_parcel(s, ADMIN, "WH", "TINY", "forest", "420102001",
                            shapely.box(X0 + 900, Y0 - 20, X0 + 910, Y0), owner.id)  # fmt: skip
        sinks.register_project(s, ADMIN, "SINK-2", "LC", "WH", "TINY", 2021, 2030)
    with uow() as s:
        geom, crs = sinks.parcel_geometry(s, ADMIN, "SINK-1")
    baseline = {"conversion": [{"from": [1], "to": 2}]}  # without the project: paddy
    evidence = sinks.sink_evidence({2023: tiny}, geom, crs, baseline)
    (y,) = evidence
    # t CO₂ per 1-ha pixel = NPP ÷ 0.45 (C in dry matter) × 1.63 × 10⁴ m² ÷ 10⁶ [the indicator's
    # sources]: forest 600 → 21.733…, paddy 400 → 14.488… t; 8 pixels → 57.956 t additional
    assert y.project_t - y.baseline_t == pytest.approx(D("57.956"), abs=D("0.001"))
    assert y.hashes["dataset"] and y.hashes["scenario"] and y.hashes["baseline_dataset"]
    with uow() as s:
        v = sinks.issue_sink(s, ADMIN, "SINK-1", "FCER-2023", evidence)
    # gross 57 t (rounded down), buffer 10 % rounded up = 6 t (assumed — set your own), net 51 t
    assert (v.quantity, v.buffer_quantity, v.serial) == (D(51), D(6), "CN-FC-1-57-2023")
    assert v.provenance["years"][0]["dataset"] == y.hashes["dataset"]
    with uow() as s:
        held = L.balances(s, [keys.hold("LC"), keys.buffer("FCER")])
        assert held[(keys.buffer("FCER"), "FCER-2023")] == 6
    with pytest.raises(RuleViolation, match=r"\[2023\] were issued already"), uow() as s:
        sinks.issue_sink(s, ADMIN, "SINK-1", "FCER-2023", evidence)
