"""Each cause of the fuzz run's server errors, as a regression test on both backends (issue 23).

The two backends must accept exactly the same data: whatever SQLite would store and
PostgreSQL refuse is refused on both, with a 4xx naming the field, never a 500.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from platform_support import ADMIN
from sqlalchemy import select
from test_platform_api import PASSWORD, _box, _headers, client  # noqa: F401  (fixture)

from ecovalue.db.bounds import INT_MAX
from ecovalue.db.session import unit_of_work
from ecovalue.errors import InputError, ValidationFailed
from ecovalue.platform.registry import service as registry
from ecovalue.platform.registry.tables import Register
from ecovalue.platform.runs.tables import Publication


def test_integers_beyond_the_columns_range_are_422(client: TestClient) -> None:  # noqa: F811
    admin = _headers(client, "admin")
    for url in ("/api/catalogue/323321528385/versions", "/api/reports?year=-87178291200",
                f"/api/registry/parcels/{INT_MAX + 1}/history", "/api/results/2023?version=0",
                f"/api/runs/{2**63}/results"):  # fmt: skip
        r = client.get(url, headers=admin)
        assert r.status_code == 422, (url, r.text)
        assert r.json()["problems"][0]["where"].split(".")[0] in ("path", "query")
    assert client.get(f"/api/registry/parcels/{INT_MAX}/history", headers=admin).status_code == 404


def test_a_nul_byte_is_refused_everywhere(client: TestClient) -> None:  # noqa: F811
    admin = _headers(client, "admin")
    assert client.get("/api/monitoring/stations?kind=o%00", headers=admin).status_code == 422
    assert client.get("/api/monitoring/alerts?district=4201%00", headers=admin).status_code == 422
    r = client.post("/api/registry/registers", headers=admin, json={"code": "WH", "name": "a\x00b"})
    assert r.status_code == 422 and r.json()["problems"][0]["where"] == "body.name"


def test_duplicate_and_empty_register_codes(client: TestClient) -> None:  # noqa: F811
    admin = _headers(client, "admin")
    body = {"code": "WH", "name": "武汉市自然资源登记簿"}
    assert client.post("/api/registry/registers", headers=admin, json=body).status_code == 201
    r = client.post("/api/registry/registers", headers=admin, json=body)
    assert r.status_code == 409 and "already exists" in r.json()["detail"]
    for code in ("", " ", "WH%", "W/H", "x" * 41):
        r = client.post("/api/registry/registers", headers=admin, json={**body, "code": code})
        assert r.status_code == 422, code


def test_lengths_and_amounts_the_columns_cannot_hold(client: TestClient) -> None:  # noqa: F811
    admin = _headers(client, "admin")
    r = client.post(
        "/api/registry/registers", headers=admin, json={"code": "WH", "name": "n" * 201}
    )
    assert r.status_code == 422 and "200" in r.text
    client.post("/api/registry/registers", headers=admin, json={"code": "WH", "name": "r"})
    owner = client.post("/api/registry/owners", headers=admin, json={
        "kind": "collective", "name": "某村", "representative_body": "某村股份经济合作社"}).json()["id"]  # fmt: skip
    parcel = client.post("/api/registry/registers/WH/parcels", headers=admin, json={
        "code": "P1", "resource_type": "forest", "admin_code": "420102001", "owner_id": owner,
        "geometry": _box(0, 0)}).json()["id"]  # fmt: skip
    grant = {"kind": "contracting", "holder": "甲", "start_date": "2020-01-01",
             "end_date": "2049-12-31"}  # fmt: skip
    for amount in ("1e30", "1000000000000000000", "0.001", "-5", "NaN", "Infinity"):
        r = client.post(f"/api/registry/parcels/{parcel}/rights", headers=admin,
                        json={**grant, "amount": amount})  # fmt: skip
        assert r.status_code == 422, (amount, r.text)
    r = client.post(f"/api/registry/parcels/{parcel}/rights", headers=admin,
                    json={**grant, "amount": "999999999999999999.99"})  # fmt: skip
    assert r.status_code == 201, r.text
    assert set(r.json()) == {"id", "kind", "right_id", "transaction_id"}
    assert r.json()["kind"] == "right" and r.json()["id"] == r.json()["right_id"]


def test_the_row_guard_refuses_what_one_backend_would_store(factory) -> None:  # type: ignore[no-untyped-def]
    """Below the API (CLI, importer, services): the same bounds, before anything is written."""
    with pytest.raises(ValidationFailed) as caught, unit_of_work(factory) as s:
        registry.create_register(s, ADMIN, "WH", "n" * 201, 4547)
    assert caught.value.problems[0].where == "registers.name"
    with pytest.raises(InputError, match="NUL"), unit_of_work(factory) as s:
        registry.create_register(s, ADMIN, "W\x00H", "r", 4547)  # refused before any query
    with unit_of_work(factory) as s:
        assert s.scalar(select(Register)) is None


def test_parcels_near_1e300_or_in_lon_lat_or_of_zero_area(client: TestClient) -> None:  # noqa: F811
    admin = _headers(client, "admin")
    client.post("/api/registry/registers", headers=admin, json={"code": "WH", "name": "r"})
    owner = client.post("/api/registry/owners", headers=admin, json={
        "kind": "state", "name": "国家", "representative_body": "自然资源部"}).json()["id"]  # fmt: skip
    base = {"resource_type": "forest", "admin_code": "420102001", "owner_id": owner}
    huge = {"type": "Polygon", "coordinates": [[[0, 0], [1e300, 0], [1e300, 1e300], [0, 0]]]}
    r = client.post("/api/registry/registers/WH/parcels", headers=admin,
                    json={**base, "code": "H", "geometry": huge})  # fmt: skip
    assert r.status_code == 422
    lonlat = {"type": "Polygon", "coordinates": [[[114.30, 30.59], [114.31, 30.59],
                                                  [114.31, 30.60], [114.30, 30.59]]]}  # fmt: skip
    r = client.post("/api/registry/registers/WH/parcels", headers=admin,
                    json={**base, "code": "L", "geometry": lonlat})  # fmt: skip
    assert r.status_code == 422 and "longitude/latitude" in r.json()["detail"]
    r = client.post("/api/registry/registers/WH/parcels", headers=admin,
                    json={**base, "code": "L", "geometry": lonlat, "crs": "EPSG:4490"})  # fmt: skip
    assert r.status_code == 201, r.text
    parcels = client.get("/api/registry/registers/WH/parcels", headers=admin).json()
    # half of a 0.01° × 0.01° square at 30.6° N: ≈ 0.5 × 962 m × 1113 m
    assert Decimal(parcels[0]["area_m2"]) == pytest.approx(Decimal("535000"), rel=Decimal("0.01"))
    tiny = _box(5000, 5000, size=0.001)
    r = client.post("/api/registry/registers/WH/parcels", headers=admin,
                    json={**base, "code": "T", "geometry": tiny})  # fmt: skip
    assert r.status_code == 409 and "area" in r.json()["problems"][0]["what"]


def test_admin_and_district_codes_have_their_format(client: TestClient) -> None:  # noqa: F811
    admin = _headers(client, "admin")
    for district in ("420111%", "42011", "4201110", "abcdef", "420111_"):
        r = client.get("/api/monitoring/stations", params={"district": district}, headers=admin)
        assert r.status_code == 422, district
        r = client.get("/api/results/2023", params={"district": district})
        assert r.status_code == 422, district
    for district in ("42", "4201", "420111", "420111001", "420111001001"):
        r = client.get("/api/monitoring/stations", params={"district": district}, headers=admin)
        assert r.status_code == 200, district


def test_a_request_body_over_the_limit_is_413_unread(database_url, factory) -> None:  # type: ignore[no-untyped-def]
    from ecovalue.api.app import create_app
    from ecovalue.config import Settings
    from ecovalue.platform.auth import service as auth
    from ecovalue.platform.auth.rules import Role

    with unit_of_work(factory) as s:
        auth.create_user(s, ADMIN, "admin", PASSWORD, Role.administrator)
    app = create_app(Settings(env="test", secret_key="s" * 40, database_url=database_url,
                              max_request_bytes=64 * 1024))  # fmt: skip
    with TestClient(app) as c:
        h = _headers(c, "admin")
        name = "名" * 50_000  # 150 kB of UTF-8
        r = c.post("/api/registry/registers", headers=h, json={"code": "WH", "name": name})
        assert r.status_code == 413 and "65536" in r.json()["detail"]

        def chunks():  # no Content-Length: counted as it arrives
            for _ in range(100):
                yield b"x" * 1024

        r = c.post("/api/monitoring/observations/csv", headers=h, content=chunks())
        assert r.status_code == 413
        ok = c.post("/api/registry/registers", headers=h, json={"code": "WH", "name": "r"})
        assert ok.status_code == 201
    app.state.engine.dispose()
    with unit_of_work(factory) as s:
        assert [r.name for r in s.scalars(select(Register))] == ["r"]


def test_timestamps_carry_their_offset_from_both_backends(client, factory) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from test_platform_reporting_runs import PROV, result_table

    from ecovalue.platform.runs import service as runs

    with unit_of_work(factory) as s:
        run_id = runs.store_run(s, result_table("1000.00"), PROV).id
    admin = _headers(client, "admin")
    created = client.post(f"/api/runs/{run_id}/publish", headers=admin, json={"reason": "first"})
    read = client.get("/api/results/2023/publications").json()[0]
    assert created.json()["published_at"] == read["published_at"]
    assert read["published_at"].endswith("Z")
    with unit_of_work(factory) as s:
        pub = s.scalar(select(Publication))
        assert pub is not None and pub.published_at.tzinfo is not None
        assert pub.published_at.utcoffset() == dt.timedelta(0)


def test_a_nul_in_any_row_of_an_executemany_is_refused(factory) -> None:  # type: ignore[no-untyped-def]
    """The bulk writes (db/bulk.py) hand thousands of rows at once: a NUL in the last one,
    or nested in a JSON-like value, is refused as in a single statement."""
    rows = [{"code": f"R{n}", "name": "r", "srid": 4547} for n in range(2000)]
    stmt = Register.__table__.insert()
    for bad in ({"code": "RX", "name": "a\x00b", "srid": 4547},
                {"code": "RY", "name": ("x", ["y", "z\x00"]), "srid": 4547}):  # fmt: skip
        with pytest.raises(InputError, match="NUL"), unit_of_work(factory) as s:
            s.execute(stmt, [*rows, bad])
    with unit_of_work(factory) as s:
        assert s.scalar(select(Register)) is None
