"""Starting a run on a dataset plus the approved department reports (issue 5: runs)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from platform_support import ANALYST, OFFICIAL_A, REPORTER

from ecovalue.datasets.demo import build_demo
from ecovalue.platform.errors import PermissionDenied
from ecovalue.platform.reporting import service as rep
from ecovalue.platform.runs import service as runs

ROWS = [
    {
        "table": "reported",
        "region_code": "420102",
        "item": "water_conservation",
        "ecosystem_type": "all",
        "quantity": "1250000.5",
        "unit": "m**3",
        "mode": "replace",
    },
    {
        "table": "statistics",
        "region_code": "420102",
        "item": "gdp",
        "quantity": "1.5e11",
        "unit": "CNY",
    },
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return build_demo(tmp_path_factory.mktemp("demo") / "wuhan", resolution=3000, seed=0, year=2023)


def test_run_uses_only_approved_reports(session, demo) -> None:  # type: ignore[no-untyped-def]
    submitted = rep.submit_report(session, REPORTER, "forestry", "420102", 2023, ROWS)
    before = runs.start_run(session, ANALYST, str(demo), 2023)  # not yet approved: model numbers
    rows = {
        (r.region_code, r.indicator): r
        for r in runs.run_results(session, ANALYST, before.id)
        if r.region_code == "420102" and r.indicator == "water_conservation"
    }
    assert all(not r.source.startswith("reported:forestry") for r in rows.values())
    rep.review_report(session, ANALYST, submitted.id, "approved")
    after = runs.start_run(session, ANALYST, str(demo), 2023)
    wc = [
        r
        for r in runs.run_results(session, ANALYST, after.id)
        if r.region_code == "420102" and r.indicator == "water_conservation"
    ]
    assert sum(Decimal(str(r.physical_quantity)) for r in wc) == pytest.approx(Decimal("1250000.5"))
    assert {r.source for r in wc} == {"reported:forestry"}
    assert after.input_hash != before.input_hash  # the approved numbers are part of the inputs
    assert after.row_count > 0 and after.profile_id == "cn-2022"


def test_only_analysts_and_administrators_start_runs(session, demo) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PermissionDenied):
        runs.start_run(session, OFFICIAL_A, str(demo), 2023)


# Over HTTP a run is a background job: tests/platform/test_platform_jobs.py.
