"""Eco-product catalogue: build from a stored run and census data, versions, XLSX, API."""

from __future__ import annotations

import io
from decimal import Decimal

import openpyxl
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from platform_support import ADMIN, ANALYST, OFFICIAL_A, PUBLIC, square
from test_platform_monitoring import client, headers  # noqa: F401  (fixture)

from ecovalue.accounting.result import TABLE_COLUMNS
from ecovalue.db.session import unit_of_work
from ecovalue.errors import InputError, ValidationFailed
from ecovalue.platform.catalogue import rules
from ecovalue.platform.catalogue import service as cat
from ecovalue.platform.errors import NotFound, PermissionDenied
from ecovalue.platform.registry import service as reg
from ecovalue.platform.runs import service as runs

D = Decimal
PROV = {
    "dataset_path": "/data/wuhan",
    "profile_id": "cn-2022",
    "hashes": {"dataset": "d" * 64, "profile": "p" * 64, "code": "c" * 64},
}


def run_table(year: int = 2023) -> pd.DataFrame:
    """420102: water conservation on forest (12.5 m³) and wetland (7.5 m³), timber 3 t;
    420103: recreation without a physical quantity."""

    def row(region, name, indicator, category, eco, qty, unit, value):  # type: ignore[no-untyped-def]
        r = {c: "" for c in TABLE_COLUMNS}
        r.update(
            region_code=region,
            region_name_zh=name,
            year=year,
            indicator=indicator,
            category=category,
            ecosystem_type=eco,
            physical_quantity=qty,
            physical_unit=unit,
            value_current=D(value),
            value_constant=D(value),
            method="m",
            source="model",
        )
        return r

    rows = [
        row(
            "420102",
            "江岸区",
            "water_conservation",
            "regulating",
            "forest",
            12.5,
            "m**3",
            "1000.00",
        ),
        row(
            "420102", "江岸区", "water_conservation", "regulating", "wetland", 7.5, "m**3", "300.00"
        ),
        row("420102", "江岸区", "forestry", "provisioning", "forest", 3.0, "t", "4500.00"),
        row("420103", "江汉区", "recreation", "cultural", "all", float("nan"), "visit", "88.00"),
    ]
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def census_row(**over: object) -> dict[str, object]:
    row: dict[str, object] = {
        "product_class": "物质产品",
        "sub_item": "census:tea_garden",
        "sub_item_zh": "茶园",
        "region_code": "420102",
        "quantity": "12.5",
        "unit": "ha",
        "quality_grade": "一级",
        "location": "江岸区后湖街",
        "department": "农业农村局",
    }
    row.update(over)
    return row


def test_run_drafts_sum_over_ecosystem_types() -> None:
    rows = [
        rules.RunRow(
            "420102", "江岸区", "water_conservation", "regulating", D("12.5"), "m**3", D(1000)
        ),
        rules.RunRow(
            "420102", "江岸区", "water_conservation", "regulating", D("0.5"), "wan_m3", D(300)
        ),
    ]
    (d,) = rules.run_drafts(7, rows, {"water_conservation": "水务局"})
    # 12.5 m³ + 0.5 万m³ (= 5000 m³) = 5012.5 m³; 1000 + 300 元
    assert (d.quantity, d.unit, d.value_current) == (D("5012.5"), "m**3", D(1300))
    assert (d.product_class, d.sub_item_zh, d.department, d.source) == (
        "regulating",
        "水源涵养",
        "水务局",
        "accounting run 7",
    )


def test_build_from_run_and_versions(session) -> None:  # type: ignore[no-untyped-def]
    run = runs.store_run(session, run_table(), PROV)
    v1 = cat.build_version(session, ANALYST, 2023, run_id=run.id, note="first")
    ver, views = cat.entries(session, ANALYST, 2023)
    assert ver.id == v1.id and v1.version == 1
    got = [
        (
            e.product_class,
            e.sub_item,
            e.sub_item_zh,
            e.region_code,
            e.quantity,
            e.unit,
            e.department,
            e.source,
            e.value_current,
        )
        for e in (v.entry for v in views)
    ]
    src = f"accounting run {run.id}"
    assert got == [
        (
            "provisioning",
            "forestry",
            "林业产品",
            "420102",
            D("3.000000"),
            "t",
            "园林和林业局",
            src,
            D("4500.00"),
        ),
        (
            "regulating",
            "water_conservation",
            "水源涵养",
            "420102",
            D("20.000000"),
            "m**3",
            "水务和湖泊局",
            src,
            D("1300.00"),
        ),
        (
            "cultural",
            "recreation",
            "休闲游憩",
            "420103",
            None,
            "visit",
            "文化和旅游局",
            src,
            D("88.00"),
        ),
    ]
    v2 = cat.build_version(
        session, ADMIN, 2023, run_id=run.id, census=[census_row()], note="adds census"
    )
    assert (v2.version, v2.supersedes_id) == (2, v1.id)
    _, current = cat.entries(session, ANALYST, 2023, district="420102", product_class="物质产品")
    assert [(v.entry.sub_item_zh, v.entry.source) for v in current] == [
        ("林业产品", src),
        ("茶园", "census"),
    ]
    _, old = cat.entries(session, ANALYST, 2023, version=1)
    assert len(old) == 3  # history kept
    assert [v.version for v in cat.versions(session, ANALYST, 2023)] == [1, 2]
    with pytest.raises(InputError, match="immutable"):
        old[0].entry.quantity = D(0)
        session.flush()


def test_build_checks(session) -> None:  # type: ignore[no-untyped-def]
    run = runs.store_run(session, run_table(2022), PROV)
    with pytest.raises(PermissionDenied):
        cat.build_version(session, OFFICIAL_A, 2022, run_id=run.id)
    with pytest.raises(ValidationFailed, match="run .* accounts 2022"):
        cat.build_version(session, ADMIN, 2023, run_id=run.id)
    with pytest.raises(ValidationFailed, match="has no entries"):
        cat.build_version(session, ADMIN, 2023)
    bad = [
        census_row(product_class="矿产"),
        census_row(sub_item="tea", quantity="-1"),
        census_row(sub_item="forestry", product_class="调节服务", unit="ha", department=""),
        census_row(sub_item_zh="", unit="furlongs of joy"),
    ]
    with pytest.raises(ValidationFailed) as err:
        cat.build_version(session, ADMIN, 2022, census=bad)
    text = str(err.value)
    for fragment in (
        "census row 0: product_class '矿产' is unknown",
        "census row 1: sub_item 'tea' is neither",
        "census row 1: quantity '-1'",
        "census row 2: 'forestry' belongs to 物质产品, not 调节服务",
        "'ha' cannot be converted to 't'",
        "census row 2: department is empty",
        "census row 3: sub_item_zh is empty",
        "'furlongs of joy' is not a unit",
    ):
        assert fragment in text, fragment
    with pytest.raises(PermissionDenied):
        cat.versions(session, PUBLIC, 2022)
    with pytest.raises(NotFound):
        cat.entries(session, ANALYST, 2022)


def test_parcel_links_and_xlsx(session) -> None:  # type: ignore[no-untyped-def]
    reg.create_register(session, ADMIN, "WH", "武汉市自然资源登记簿", 4547)
    owner = reg.add_owner(session, ADMIN, "state", "全民所有", "武汉市自然资源和规划局")
    p1 = reg.register_parcel(
        session, ADMIN, "WH", "P1", "forest", "420102001", square(0, 0), owner.id
    )
    p3 = reg.register_parcel(
        session, ADMIN, "WH", "P3", "water", "420103001", square(400, 0), owner.id
    )
    with pytest.raises(ValidationFailed) as err:
        cat.build_version(session, ADMIN, 2023, census=[census_row(parcel_ids=[p3.id, 99999])])
    assert "parcel P3 lies in 420103001, outside region 420102" in str(err.value)
    assert "parcel 99999 does not exist" in str(err.value)
    run = runs.store_run(session, run_table(), PROV)
    cat.build_version(session, ADMIN, 2023, run_id=run.id, census=[census_row(parcel_ids=[p1.id])])
    _, views = cat.entries(session, ANALYST, 2023, product_class="provisioning")
    assert [v.parcel_codes for v in views] == [(), ("P1",)]

    wb = openpyxl.load_workbook(io.BytesIO(cat.export_xlsx(session, ANALYST, 2023)))
    assert wb.sheetnames == ["物质产品", "调节服务", "文化服务"]
    ws = wb["物质产品"]
    assert ws["A1"].value == "2023年生态产品目录清单（物质产品，第1版）"
    assert tuple(c.value for c in ws[2]) == rules.XLSX_HEADERS
    tea = [c.value for c in ws[4]]
    assert tea[:4] == [2, "物质产品", "茶园", "census:tea_garden"]
    assert (tea[6], tea[7], tea[8], tea[10], tea[11]) == (12.5, "hm²", "一级", "P1", "农业农村局")
    regulating = [c.value for c in wb["调节服务"][3]]
    # units as users read them (ecovalue.units.format_unit), never pint's m**3
    assert (regulating[2], regulating[6], regulating[7], regulating[14]) == ("水源涵养", 20, "m³", 1300)
    assert wb["文化服务"].max_row == 3  # title, headers, one row


def test_api_round_trip(client: TestClient, factory) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    with unit_of_work(factory) as s:
        run_id = runs.store_run(s, run_table(), PROV).id
    ana, li = headers(client, "ana"), headers(client, "li")
    body = {"run_id": run_id, "census": [census_row()], "note": "2023 catalogue"}
    assert client.post("/api/catalogue/2023/versions", json=body, headers=li).status_code == 403
    r = client.post("/api/catalogue/2023/versions", json=body, headers=ana)
    assert r.status_code == 201, r.text
    assert (r.json()["version"], r.json()["run_id"]) == (1, run_id)
    bad = {"census": [census_row(unit="parsecs of joy")]}
    r = client.post("/api/catalogue/2023/versions", json=bad, headers=ana)
    assert r.status_code == 422 and r.json()["problems"][0]["where"] == "census row 0"
    r = client.get("/api/catalogue/2023", params={"district": "420103"}, headers=li)
    assert [e["sub_item"] for e in r.json()["entries"]] == ["recreation"]
    assert client.get("/api/catalogue/2023").status_code == 401
    r = client.get("/api/catalogue/2023/export.xlsx", headers=li)
    assert r.status_code == 200 and r.headers["content-type"].startswith(
        "application/vnd.openxmlformats"
    )
    assert openpyxl.load_workbook(io.BytesIO(r.content)).sheetnames[0] == "物质产品"
    assert [
        v["version"] for v in client.get("/api/catalogue/2023/versions", headers=li).json()
    ] == [1]
