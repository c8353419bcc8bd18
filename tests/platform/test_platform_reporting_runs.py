"""Reporting workflow (validation, versions, review, approved export) and runs/publication."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest
from platform_support import ADMIN, ANALYST, OFFICIAL_A, OFFICIAL_B, PUBLIC, REPORTER

from ecovalue.accounting.result import TABLE_COLUMNS
from ecovalue.errors import InputError, ValidationFailed
from ecovalue.platform.errors import NotFound, PermissionDenied, RuleViolation
from ecovalue.platform.reporting import service as rep
from ecovalue.platform.runs import service as runs
from ecovalue.platform.runs.tables import Publication

GOOD_ROWS = [
    {
        "table": "reported",
        "region_code": "420102",
        "item": "water_conservation",
        "ecosystem_type": "forest",
        "quantity": "1250000.5",
        "unit": "m**3",
        "mode": "replace",
    },
    {
        "table": "statistics",
        "region_code": "420102",
        "item": "product:timber",
        "indicator": "forestry",
        "quantity": "320",
        "unit": "m**3",
    },
    {
        "table": "statistics",
        "region_code": "420102",
        "item": "gdp",
        "quantity": "1.5e11",
        "unit": "CNY",
    },
]


def test_bad_rows_are_all_reported(session) -> None:  # type: ignore[no-untyped-def]
    rows = [
        {
            "table": "reported",
            "region_code": "420103",
            "item": "magic",
            "ecosystem_type": "moon",
            "quantity": "x",
            "unit": "parsecs of joy",
            "mode": "overwrite",
        },
        {
            "table": "statistics",
            "region_code": "420102",
            "item": "gdp",
            "quantity": "1",
            "unit": "kg",
        },
    ]
    with pytest.raises(ValidationFailed) as err:
        rep.submit_report(session, REPORTER, "forestry", "420102", 2023, rows)
    text = str(err.value)
    for fragment in (
        "outside district 420102",
        "indicator 'magic' is unknown",
        "'moon'",
        "quantity 'x'",
        "mode 'overwrite'",
        "'parsecs of joy'",
        "row 1",
        "'kg' cannot",
    ):
        assert fragment in text, fragment


def test_reporter_scope(session) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PermissionDenied):
        rep.submit_report(session, REPORTER, "water", "420102", 2023, GOOD_ROWS)
    with pytest.raises(PermissionDenied):
        rep.submit_report(session, REPORTER, "forestry", "420103", 2023, GOOD_ROWS)
    with pytest.raises(PermissionDenied):
        rep.submit_report(session, OFFICIAL_A, "forestry", "420102", 2023, GOOD_ROWS)


def test_approval_workflow_keeps_every_version(session) -> None:  # type: ignore[no-untyped-def]
    v1 = rep.submit_report(session, REPORTER, "forestry", "420102", 2023, GOOD_ROWS)
    with pytest.raises(PermissionDenied):
        rep.review_report(session, REPORTER, v1.id, "approved")
    with pytest.raises(RuleViolation, match="reason: is empty"):
        rep.review_report(session, ANALYST, v1.id, "returned")
    rep.review_report(session, ANALYST, v1.id, "returned", "timber volume is in m³ not t?")
    assert rep.approved_reports(session, 2023).empty  # nothing approved yet
    with pytest.raises(RuleViolation, match="already reviewed"):
        rep.review_report(session, ANALYST, v1.id, "approved")
    v2 = rep.submit_report(session, REPORTER, "forestry", "420102", 2023, GOOD_ROWS[:2])
    rep.review_report(session, ANALYST, v2.id, "approved")
    v3 = rep.submit_report(session, REPORTER, "forestry", "420102", 2023, GOOD_ROWS[:1])
    with pytest.raises(RuleViolation, match="outdated by version 3"):
        rep.review_report(session, ANALYST, v2.id, "approved")
    views = rep.list_submissions(session, ANALYST, 2023)
    assert [(v.submission.version, v.status) for v in views] == [
        (1, "returned"),
        (2, "approved"),
        (3, "submitted"),
    ]
    assert v3.version == 3
    # v3 is pending, so the approved v2 is what runs use
    reported = rep.approved_reports(session, 2023, "reported")
    stats = rep.approved_reports(session, 2023, "statistics")
    assert list(reported.columns) == [
        "region_code",
        "year",
        "indicator",
        "ecosystem_type",
        "quantity",
        "unit",
        "department",
        "mode",
        "source",
    ]
    assert reported.to_dict("records") == [
        {
            "region_code": "420102",
            "year": 2023,
            "indicator": "water_conservation",
            "ecosystem_type": "forest",
            "quantity": Decimal("1250000.500000"),
            "unit": "m**3",
            "department": "forestry",
            "mode": "replace",
            "source": "reported:forestry",
        }
    ]
    assert list(stats["item"]) == ["product:timber"]
    assert rep.list_submissions(session, OFFICIAL_B, 2023) == []  # another district
    assert len(rep.list_submissions(session, OFFICIAL_A, 2023)) == 3


def result_table(value: str = "1000.00", region: str = "420102") -> pd.DataFrame:
    row = {c: "" for c in TABLE_COLUMNS}
    row.update(
        region_code=region,
        region_name_zh="江岸区",
        year=2023,
        indicator="water_conservation",
        category="regulating",
        ecosystem_type="forest",
        physical_quantity=12.5,
        physical_unit="m**3",
        value_current=Decimal(value),
        value_constant=Decimal(value),
        method="model:water_balance",
        source="model",
    )
    other = dict(
        row,
        region_code="420103",
        region_name_zh="江汉区",
        value_current=Decimal("5.00"),
        value_constant=Decimal("5.00"),
        physical_quantity=float("nan"),
    )
    return pd.DataFrame([row, other], columns=list(TABLE_COLUMNS))


PROV = {
    "dataset_path": "/data/wuhan",
    "profile_id": "cn-2022",
    "hashes": {"dataset": "d" * 64, "profile": "p" * 64, "code": "c" * 64},
}


def test_store_run_checks_money_and_provenance(session) -> None:  # type: ignore[no-untyped-def]
    bad = result_table()
    bad["value_current"] = [1000.0, 5.0]
    with pytest.raises(ValidationFailed, match="not finite Decimals"):
        runs.store_run(session, bad, PROV)
    with pytest.raises(InputError, match="no code hash"):
        runs.store_run(
            session, result_table(), {"profile_id": "x", "hashes": {"dataset": "d", "profile": "p"}}
        )
    run = runs.store_run(session, result_table(), PROV)
    rows = runs.run_results(session, ADMIN, run.id)
    assert (run.year, run.input_hash, run.row_count) == (2023, "d" * 64, 2)
    assert rows[0].value_current == Decimal("1000.00") and rows[0].physical_quantity == Decimal(
        "12.5"
    )
    assert rows[1].physical_quantity is None


def test_publication_is_versioned_and_immutable(session) -> None:  # type: ignore[no-untyped-def]
    r1 = runs.store_run(session, result_table("1000.00"), PROV)
    # unpublished: scoped reading
    assert {r.region_code for r in runs.run_results(session, OFFICIAL_B, r1.id)} == {"420103"}
    assert runs.run_results(session, PUBLIC, r1.id) == []
    with pytest.raises(NotFound):
        runs.published_results(session, 2023)
    with pytest.raises(PermissionDenied):
        runs.publish_run(session, ANALYST, r1.id, "first")
    p1 = runs.publish_run(session, ADMIN, r1.id, "first release")
    assert len(runs.run_results(session, PUBLIC, r1.id)) == 2  # published: public
    with pytest.raises(RuleViolation, match="already the official"):
        runs.publish_run(session, ADMIN, r1.id, "again")
    r2 = runs.store_run(session, result_table("1200.00"), PROV)
    p2 = runs.publish_run(session, ADMIN, r2.id, "corrects forest area")
    assert (p2.version, p2.supersedes_id) == (2, p1.id)
    pub, rows = runs.published_results(session, 2023, district="420102")
    assert pub.version == 2 and [r.value_current for r in rows] == [Decimal("1200.00")]
    _, old_rows = runs.published_results(session, 2023, district="420102", version=1)
    assert old_rows[0].value_current == Decimal("1000.00")
    changes = runs.diff_publications(session, 2023, 1, 2)
    assert [(c.region_code, c.change) for c in changes] == [("420102", Decimal("200.00"))]
    with pytest.raises(InputError, match="immutable"):
        session.get(Publication, p1.id).reason = "edited"
        session.flush()
