"""The API through HTTP: login, rate limit, scoping per role and district, one transaction per request."""

from __future__ import annotations

from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from platform_support import ADMIN
from test_platform_reporting_runs import PROV, result_table

from ecovalue.api.app import create_app
from ecovalue.config import Settings
from ecovalue.db.session import unit_of_work
from ecovalue.platform.audit.service import verify_audit_chain
from ecovalue.platform.auth import service as auth
from ecovalue.platform.auth.rules import Role
from ecovalue.platform.runs import service as runs

PASSWORD = "a long password"


def _box(x: float, y: float, size: float = 100) -> dict:  # type: ignore[type-arg]
    x, y = 500000 + x, 3380000 + y
    return {
        "type": "Polygon",
        "coordinates": [[[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]],
    }


@pytest.fixture
def client(database_url, factory):  # type: ignore[no-untyped-def]
    with unit_of_work(factory) as s:
        auth.create_user(s, ADMIN, "admin", PASSWORD, Role.administrator)
        auth.create_user(s, ADMIN, "li", PASSWORD, Role.district_official, district_code="420102")
        auth.create_user(s, ADMIN, "wang", PASSWORD, Role.district_official, district_code="420103")
        auth.create_user(s, ADMIN, "ana", PASSWORD, Role.analyst)
        auth.create_user(
            s,
            ADMIN,
            "zhao",
            PASSWORD,
            Role.department_reporter,
            district_code="420102",
            department="forestry",
        )
    settings = Settings(
        env="test", secret_key="s" * 40, database_url=database_url, login_max_failures=3
    )
    app = create_app(settings)
    with TestClient(app) as c:
        yield c
    app.state.engine.dispose()


def _headers(client: TestClient, user: str) -> dict[str, str]:
    r = client.post("/api/auth/token", data={"username": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_openapi_and_login(client: TestClient) -> None:
    assert "/api/registry/holdings" in client.get("/openapi.json").json()["paths"]
    h = _headers(client, "li")
    assert client.get("/api/auth/me", headers=h).json()["district_code"] == "420102"
    assert client.get("/api/auth/me").status_code == 401
    assert client.get("/api/auth/me", headers={"Authorization": "Bearer junk"}).status_code == 401


def test_login_is_rate_limited(client: TestClient) -> None:
    for _ in range(3):
        r = client.post("/api/auth/token", data={"username": "li", "password": "wrong password"})
        assert r.status_code == 401
    r = client.post("/api/auth/token", data={"username": "li", "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0


def test_register_flow_and_district_scoping(client: TestClient) -> None:
    admin, li, wang = (_headers(client, u) for u in ("admin", "li", "wang"))
    assert (
        client.post(
            "/api/registry/registers", headers=li, json={"code": "WH", "name": "r"}
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/api/registry/registers", headers=admin, json={"code": "WH", "name": "r"}
        ).status_code
        == 201
    )
    owner = client.post(
        "/api/registry/owners",
        headers=li,
        json={"kind": "collective", "name": "某村", "representative_body": "某村股份经济合作社"},
    ).json()["id"]
    parcel = {
        "code": "P1",
        "resource_type": "forest",
        "admin_code": "420102001",
        "owner_id": owner,
        "geometry": _box(0, 0),
    }
    r = client.post("/api/registry/registers/WH/parcels", headers=wang, json=parcel)
    assert r.status_code == 403 and "420102001" in r.json()["detail"]
    r = client.post("/api/registry/registers/WH/parcels", headers=li, json=parcel)
    assert r.status_code == 201
    pid = r.json()["id"]
    r = client.post(
        "/api/registry/registers/WH/parcels",
        headers=li,
        json={**parcel, "code": "P2", "geometry": _box(50, 0)},
    )
    assert r.status_code == 409 and r.json()["problems"][0]["what"].startswith(
        "overlaps parcel 'P1'"
    )
    right = client.post(
        f"/api/registry/parcels/{pid}/rights",
        headers=li,
        json={
            "kind": "contracting",
            "holder": "村民甲",
            "share": "1",
            "start_date": "2020-01-01",
            "end_date": "2049-12-31",
        },
    ).json()["id"]
    r = client.post(
        f"/api/registry/rights/{right}/transfer",
        headers=li,
        json={"to_holder": "乙", "effective_date": "2025-01-01"},
    )
    assert r.status_code == 201
    holders = client.get("/api/registry/holdings", headers=li, params={"on": "2025-06-01"}).json()
    assert {h["holder"] for h in holders} == {"某村", "乙"}
    assert (
        client.get("/api/registry/holdings", headers=wang, params={"on": "2025-06-01"}).json() == []
    )
    assert client.get(f"/api/registry/parcels/{pid}/history", headers=wang).status_code == 403
    assert client.get("/api/audit/verify", headers=li).status_code == 403
    report = client.get("/api/audit/verify", headers=admin).json()
    assert report["intact"] and report["problems"] == [] and report["rows_replayed"] > 0
    assert report["checkpoint"]["seq"] == report["entries"]


def test_failed_request_writes_nothing(client: TestClient, factory) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from ecovalue.platform.audit.tables import AuditEntry

    admin = _headers(client, "admin")
    client.post("/api/registry/registers", headers=admin, json={"code": "WH", "name": "r"})
    with unit_of_work(factory) as s:
        before = s.scalar(select(func.count()).select_from(AuditEntry))
    # two problems in one request: both reported, and the transaction leaves no trace
    r = client.post(
        "/api/registry/registers/WH/parcels",
        headers=admin,
        json={
            "code": "P1",
            "resource_type": "lava",
            "admin_code": "42010x",
            "owner_id": 99,
            "geometry": _box(0, 0),
        },
    )
    assert r.status_code == 422
    assert {p["where"] for p in r.json()["problems"]} == {"body.resource_type", "body.admin_code"}
    with unit_of_work(factory) as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == before
        assert verify_audit_chain(s) == []


def test_reporting_through_http(client: TestClient) -> None:
    zhao, ana, wang = (_headers(client, u) for u in ("zhao", "ana", "wang"))
    body = {
        "department": "forestry",
        "district_code": "420102",
        "year": 2023,
        "rows": [
            {
                "table": "statistics",
                "region_code": "420102",
                "item": "product:timber",
                "indicator": "forestry",
                "quantity": "320",
                "unit": "m**3",
            }
        ],
    }
    r = client.post("/api/reports", headers=zhao, json=body)
    assert r.status_code == 201 and r.json()["status"] == "submitted"
    rid = r.json()["id"]
    bad = {**body, "rows": [{**body["rows"][0], "unit": "bananas"}]}
    r = client.post("/api/reports", headers=zhao, json=bad)
    assert r.status_code == 422 and "bananas" in r.json()["problems"][0]["what"]
    assert client.get(f"/api/reports/{rid}", headers=wang).status_code == 403
    r = client.post(f"/api/reports/{rid}/review", headers=ana, json={"decision": "approved"})
    assert r.json()["status"] == "approved"


def test_results_public_only_after_publication(client: TestClient, factory) -> None:  # type: ignore[no-untyped-def]
    with unit_of_work(factory) as s:
        run_id = runs.store_run(s, result_table("1000.00"), PROV).id
        run2 = runs.store_run(s, result_table("1100.50"), PROV).id
    admin, wang = _headers(client, "admin"), _headers(client, "wang")
    assert client.get("/api/results/2023").status_code == 404
    assert client.get(f"/api/runs/{run_id}/results").json() == []  # anonymous, unpublished
    rows = client.get(f"/api/runs/{run_id}/results", headers=wang).json()
    assert [r["region_code"] for r in rows] == ["420103"]  # only wang's district
    assert (
        client.post(f"/api/runs/{run_id}/publish", headers=wang, json={"reason": "x"}).status_code
        == 403
    )
    assert (
        client.post(
            f"/api/runs/{run_id}/publish", headers=admin, json={"reason": "first"}
        ).status_code
        == 201
    )
    client.post(f"/api/runs/{run2}/publish", headers=admin, json={"reason": "correction"})
    r = client.get(
        "/api/results/2023", params={"district": "420102", "indicator": "water_conservation"}
    ).json()
    assert r["publication"]["version"] == 2
    assert [Decimal(x["value_current"]) for x in r["rows"]] == [Decimal("1100.50")]
    d = client.get("/api/results/2023/diff", params={"old": 1, "new": 2}).json()
    assert [(c["region_code"], Decimal(c["change"])) for c in d] == [("420102", Decimal("100.50"))]
