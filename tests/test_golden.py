"""Golden run: the Wuhan demo at 3 km, seed 0, profile cn-2022.

The golden file holds the physical total and value of every indicator. It was produced by
this test with ECOVALUE_UPDATE_GOLDEN=1 (commit message says when and why it changed). A
change in the engine, the profile or the demo generator that moves any number by more than
1e-6 (relative) fails this test: update the golden file on purpose, never silently.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path

import pytest

from ecovalue.accounting.pipeline import run_account
from ecovalue.datasets.demo import build_demo

GOLDEN = Path(__file__).parent / "golden" / "demo_3000m_seed0.json"


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    root = build_demo(tmp_path_factory.mktemp("demo") / "wuhan", resolution=3000, seed=0, year=2023)
    return run_account(root, "cn-2022")


def snapshot(result) -> dict:
    t = result.table
    out = {"gep_current": str(result.totals()["gep_current"]), "indicators": {}}
    for ind, g in t.groupby("indicator", sort=True):
        out["indicators"][ind] = {"physical": float(g["physical_quantity"].sum()),
                                  "unit": g["physical_unit"].iloc[0],
                                  "value_current": str(sum(g["value_current"], Decimal(0)))}
    out["not_applicable"] = sorted(result.not_applicable)
    out["regions"] = [r.code for r in result.regions]
    return out


def test_golden_demo(demo_run):
    snap = snapshot(demo_run)
    if os.environ.get("ECOVALUE_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(json.dumps(snap, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert snap["regions"] == golden["regions"]
    assert snap["not_applicable"] == golden["not_applicable"]
    assert set(snap["indicators"]) == set(golden["indicators"])
    for ind, g in golden["indicators"].items():
        s = snap["indicators"][ind]
        assert s["unit"] == g["unit"], ind
        assert s["physical"] == pytest.approx(g["physical"], rel=1e-6), ind
        assert Decimal(s["value_current"]) == pytest.approx(Decimal(g["value_current"]), rel=Decimal("1e-6")), ind
    assert Decimal(snap["gep_current"]) == pytest.approx(Decimal(golden["gep_current"]), rel=Decimal("1e-6"))


def test_demo_run_is_labelled_synthetic_and_complete(demo_run):
    assert demo_run.synthetic
    assert len(demo_run.regions) == 13
    assert {"provisioning", "regulating", "cultural"} <= set(demo_run.table["category"])
    assert demo_run.totals()["gep_gdp_ratio"] is not None
