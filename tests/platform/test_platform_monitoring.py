"""Monitoring: GB 3838 class and HJ 633 AQI at breakpoints, flags, CSV import, alerts, API."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from platform_support import ADMIN, ANALYST, OFFICIAL_A, OFFICIAL_B, PUBLIC
from sqlalchemy import func, select

from ecovalue.api.app import create_app
from ecovalue.config import Settings
from ecovalue.db.session import unit_of_work
from ecovalue.errors import InputError, ValidationFailed
from ecovalue.platform.audit.service import verify_audit_chain
from ecovalue.platform.audit.tables import AuditEntry
from ecovalue.platform.auth import service as auth
from ecovalue.platform.auth.rules import Role
from ecovalue.platform.errors import PermissionDenied, RuleViolation
from ecovalue.platform.monitoring import rules
from ecovalue.platform.monitoring import service as mon
from ecovalue.platform.monitoring.rules import FlagSettings, iaqi, parameter_class
from ecovalue.platform.monitoring.tables import Observation

D = Decimal
PASSWORD = "a long password"
UTC = dt.UTC


# ------------------------------------------------------------------ pure rules


@pytest.mark.parametrize(
    ("parameter", "value", "body", "expected"),
    [
        ("NH3-N", "0.15", "river", 1),  # ≤ 0.15 → I
        ("NH3-N", "0.5", "river", 2),  # limits are inclusive: 0.5 → II
        ("NH3-N", "0.51", "river", 3),
        ("NH3-N", "2.0", "river", 5),
        ("NH3-N", "2.01", "river", 6),  # beyond V → 劣V
        ("DO", "7.5", "river", 1),  # DO is "≥": 7.5 → I
        ("DO", "7.49", "river", 2),
        ("DO", "2", "river", 5),
        ("DO", "1.99", "river", 6),
        ("COD", "15", "river", 1),  # I and II share 15: the best class wins
        ("CODMn", "6", "river", 3),
        ("BOD5", "4.1", "river", 4),
        ("TP", "0.1", "river", 2),  # river TP: 0.02/0.1/0.2/0.3/0.4
        ("TP", "0.1", "lake", 4),  # lake TP: 0.01/0.025/0.05/0.1/0.2
        ("TN", "1.0", "lake", 3),
    ],
)
def test_gb3838_class_at_breakpoints(parameter: str, value: str, body: str, expected: int) -> None:
    assert parameter_class(parameter, D(value), body) == expected


def test_section_class_is_the_worst_parameter() -> None:
    # DO 6.2 → II, COD 18 → III, NH3-N 1.2 → IV; TN is not assessed for rivers.
    a = rules.water_quality({"DO": D("6.2"), "COD": D(18), "NH3-N": D("1.2"), "TN": D(9)})
    assert a is not None
    assert (a.label, a.worst, a.by_parameter) == ("IV", ("NH3-N",), {"DO": 2, "COD": 3, "NH3-N": 4})
    assert parameter_class("TN", D(9), "river") is None
    assert rules.water_quality({"pH": D(7)}) is None
    assert rules.water_class_number("劣V") == 6


@pytest.mark.parametrize(
    ("pollutant", "c", "expected"),
    [
        ("PM2.5", "35", 50),
        ("PM2.5", "75", 100),
        ("PM2.5", "80", 107),  # 50/40 × (80 − 75) + 100 = 106.25 → rounded up to 107
        ("PM2.5", "20", 29),  # 50/35 × 20 = 28.57 → 29
        ("PM10", "150", 100),
        ("PM10", "120", 85),  # 50/100 × (120 − 50) + 50 = 85
        ("SO2", "0", 0),
        ("NO2", "280", 200),
        ("CO", "4", 100),  # mg/m³
        ("O3_8h", "160", 100),
        ("O3_8h", "800", 300),
        ("PM2.5", "600", 500),  # above the table
    ],
)
def test_hj633_iaqi_at_breakpoints(pollutant: str, c: str, expected: int) -> None:
    assert iaqi(pollutant, D(c)) == expected


def test_aqi_is_max_iaqi_with_primary_pollutant() -> None:
    # PM2.5 80 → 107, PM10 120 → 85, NO2 40 → 50: AQI 107, primary PM2.5
    a = rules.air_quality({"PM2.5": D(80), "PM10": D(120), "NO2": D(40)})
    assert a is not None and (a.aqi, a.primary) == (107, ("PM2.5",))
    tie = rules.air_quality({"PM2.5": D(75), "PM10": D(150)})
    assert tie is not None and tie.primary == ("PM10", "PM2.5")
    clean = rules.air_quality({"PM2.5": D(20)})
    assert clean is not None and (clean.aqi, clean.primary) == (29, ())  # AQI ≤ 50: none
    with pytest.raises(ValueError, match="1-hour"):
        iaqi("O3_8h", D(900))
    high_o3 = rules.air_quality({"O3_8h": D(900), "PM10": D(50)})
    assert high_o3 is not None and (high_o3.aqi, high_o3.not_assessed) == (50, ("O3_8h",))


@given(st.decimals(0, 600, places=2), st.decimals(0, 600, places=2))
def test_iaqi_and_class_are_monotone(a: Decimal, b: Decimal) -> None:
    lo, hi = min(a, b), max(a, b)
    assert iaqi("PM2.5", lo) <= iaqi("PM2.5", hi)
    assert parameter_class("COD", lo) <= parameter_class("COD", hi)  # type: ignore[operator]
    assert parameter_class("DO", lo) >= parameter_class("DO", hi)  # type: ignore[operator]


def test_each_quality_flag() -> None:
    s = FlagSettings()
    assert [f.index for f in rules.range_flags("DO", [D(5), D(25), D(-1)], s)] == [1, 2]
    # index 3's window is all 7: median 5, |dev| median 0.1 → MAD 0.14826, 3·MAD = 0.445 < |50 − 5|
    series = [D(x) for x in ("5", "5.1", "4.9", "50", "5", "5.1", "5")]
    assert [f.index for f in rules.spike_flags(series, s)] == [3]
    assert rules.spike_flags(series, FlagSettings(spike_k=D(400))) == []  # 400·MAD = 59.3 > 45
    flat = [D(x) for x in (1, 2, 2, 2, 2, 2, 2, 3)]
    assert [f.index for f in rules.flat_line_flags(flat, s)] == [1, 2, 3, 4, 5, 6]
    assert rules.flat_line_flags(flat, FlagSettings(flat_n=7)) == []
    t0 = dt.datetime(2024, 5, 1, tzinfo=UTC)
    times = [t0 + dt.timedelta(hours=h) for h in (0, 1, 2, 5)]  # 3 h step, 2 hours missing
    gaps = rules.gap_flags(times, 3600, s)
    assert [(g.index, g.detail.split()[0]) for g in gaps] == [(3, "2")]
    assert rules.gap_flags(times, None, s) == []


# ------------------------------------------------------------------ services


def make_stations(session) -> None:  # type: ignore[no-untyped-def]
    """A Han river cross-district section (420102 → 420103, target III) and an air station."""
    mon.create_station(
        session,
        OFFICIAL_A,
        "HJ-01",
        "汉江宗关断面",
        "water_section",
        "420102",
        114.22,
        30.57,
        river="汉江",
        upstream_district="420102",
        downstream_district="420103",
        target_class=3,
    )
    mon.create_station(
        session,
        ADMIN,
        "AQ-01",
        "汉口江滩站",
        "air",
        "420102",
        114.30,
        30.59,
        expected_interval_s=86400,
    )
    mon.create_station(session, ADMIN, "AQ-02", "武昌紫阳站", "air", "420106", 114.30, 30.53)


def test_station_scope_and_checks(session) -> None:  # type: ignore[no-untyped-def]
    make_stations(session)
    with pytest.raises(PermissionDenied, match="district 420106"):
        mon.create_station(session, OFFICIAL_A, "X", "x", "air", "420106", 114.3, 30.5)
    with pytest.raises(RuleViolation) as err:
        mon.create_station(
            session, ADMIN, "HJ-01", "x", "lake", "420102", 30.5, 114.3, target_class=7
        )
    text = str(err.value)
    for fragment in ("'lake' is unknown", "not a longitude/latitude", "7 is not a class", "exists"):
        assert fragment in text, fragment
    assert [s.code for s in mon.list_stations(session, ANALYST, district="420102")] == [
        "AQ-01",
        "HJ-01",
    ]
    section = mon.get_station(session, "HJ-01")
    assert (section.water_body, section.location.x) == ("river", 114.22)
    with pytest.raises(PermissionDenied):
        mon.list_stations(session, PUBLIC)


BAD_CSV = """station_code,parameter,observed_at,value,unit
HJ-01,NH3-N,2024-05-01T08:00,0.4,mg/L
NOPE,NH3-N,2024-05-01T08:00,0.4,mg/L
HJ-01,PM2.5,2024-05-01T08:00,40,ug/m3
HJ-01,COD,yesterday,abc,mg/L
HJ-01,TP,2024-05-01T08:00,0.1,kg
HJ-01,NH3-N,2024-05-01T08:00,0.4,mg/L
AQ-01,PM2.5,2024-05-01,40,ppb
"""


def test_csv_import_reports_every_bad_row(session) -> None:  # type: ignore[no-untyped-def]
    make_stations(session)
    with pytest.raises(ValidationFailed) as err:
        mon.import_csv(session, ADMIN, BAD_CSV)
    text = str(err.value)
    for fragment in (
        "line 3: station 'NOPE' is unknown",
        "line 4: parameter 'PM2.5' is not measured at water_section",
        "line 5: observed_at 'yesterday' is not a time",
        "line 5: value 'abc' is not a number",
        "line 6: line 6: 'kg' cannot be converted to 'mg/L'",
        "line 7: repeats line 2",
        "line 8: line 8: 'ppb' is not a unit",
    ):
        assert fragment in text, fragment
    assert len(err.value.problems) == 7
    assert session.scalar(select(func.count()).select_from(Observation)) == 0
    with pytest.raises(ValidationFailed, match="columns \\['unit'\\] are missing"):
        mon.import_csv(session, ADMIN, "station_code,parameter,observed_at,value\n")


def test_units_converted_and_never_overwritten(session) -> None:  # type: ignore[no-untyped-def]
    make_stations(session)
    csv_text = (
        "station_code,parameter,observed_at,value,unit\n"
        "HJ-01,NH3-N,2024-05-01T08:00,500,ug/L\n"  # 500 μg/L = 0.5 mg/L
        "AQ-01,PM2.5,2024-05-01T00:00+00:00,0.08,mg/m3\n"  # 0.08 mg/m³ = 80 μg/m³
        "AQ-01,CO,2024-05-01T00:00Z,1200,μg/m³\n"  # 1.2 mg/m³
    )
    report = mon.import_csv(session, ADMIN, csv_text)
    got = {(o.parameter, o.value, o.unit, o.raw_unit) for o in report.observations}
    assert got == {
        ("NH3-N", D("0.500000"), "mg/L", "ug/L"),
        ("PM2.5", D("80.000000"), "μg/m**3", "mg/m3"),
        ("CO", D("1.200000"), "mg/m**3", "μg/m³"),
    }
    # 08:00 China Standard Time is 00:00 UTC
    nh3 = mon.time_series(session, ANALYST, "HJ-01", "NH3-N")
    assert nh3[0].observed_at == dt.datetime(2024, 5, 1, 0, 0, tzinfo=UTC)
    with pytest.raises(ValidationFailed, match="already stored"):
        mon.import_csv(session, ADMIN, csv_text)
    with pytest.raises(InputError, match="immutable"):
        report.observations[0].value = D(1)
        session.flush()


def test_district_official_writes_only_for_own_stations(session) -> None:  # type: ignore[no-untyped-def]
    make_stations(session)
    row = {
        "station_code": "HJ-01",
        "parameter": "DO",
        "observed_at": "2024-05-01T08:00",
        "value": "6",
        "unit": "mg/L",
    }
    with pytest.raises(PermissionDenied, match="420102"):
        mon.ingest(session, OFFICIAL_B, [("item 0", row)], "api")
    with pytest.raises(PermissionDenied):
        mon.ingest(session, ANALYST, [("item 0", row)], "api")
    assert len(mon.ingest(session, OFFICIAL_A, [("item 0", row)], "api").observations) == 1


def test_flags_stored_and_exported(session) -> None:  # type: ignore[no-untyped-def]
    make_stations(session)
    days = [1, 2, 3, 4, 5, 6, 9]  # daily station: 6 → 9 leaves 2 days out
    values = ["40", "42", "41", "400", "40", "41", "42"]  # 400 is a spike
    rows = [
        (
            f"item {i}",
            {
                "station_code": "AQ-01",
                "parameter": "PM10",
                "observed_at": f"2024-05-{d:02d}T00:00Z",
                "value": v,
                "unit": "ug/m**3",
            },
        )
        for i, (d, v) in enumerate(zip(days, values, strict=True))
    ]
    report = mon.ingest(session, ADMIN, rows[:4], "api")
    assert [f.flag for f in report.flags] == ["spike"]
    report = mon.ingest(session, ADMIN, rows[4:], "api")  # recomputed: no duplicate spike
    assert [f.flag for f in report.flags] == ["gap"]
    points = mon.time_series(session, ANALYST, "AQ-01", "PM10")
    assert [p.flags for p in points] == [(), (), (), ("spike",), (), (), ("gap",)]
    period = mon.time_series(
        session,
        ANALYST,
        "AQ-01",
        "PM10",
        dt.datetime(2024, 5, 2, tzinfo=UTC),
        dt.datetime(2024, 5, 4, tzinfo=UTC),
    )
    assert [p.value for p in period] == [D(42), D(41), D(400)]
    text = mon.series_csv(period)
    assert text.splitlines() == [
        "station_code,parameter,observed_at,value,unit,flags",
        "AQ-01,PM10,2024-05-02T00:00:00+00:00,42,μg/m**3,",
        "AQ-01,PM10,2024-05-03T00:00:00+00:00,41,μg/m**3,",
        "AQ-01,PM10,2024-05-04T00:00:00+00:00,400,μg/m**3,spike",
    ]
    assert verify_audit_chain(session) == []
    logged = session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.entity == "monitoring_flags")
    )
    assert logged == 2


def test_exceedance_alerts(session) -> None:  # type: ignore[no-untyped-def]
    make_stations(session)
    rows = [
        {
            "station_code": "HJ-01",
            "parameter": "DO",
            "observed_at": "2024-05-01T08:00",
            "value": "6",
            "unit": "mg/L",
        },
        {
            "station_code": "HJ-01",
            "parameter": "NH3-N",
            "observed_at": "2024-05-01T08:00",
            "value": "1.2",
            "unit": "mg/L",
        },
        {
            "station_code": "HJ-01",
            "parameter": "NH3-N",
            "observed_at": "2024-06-01T08:00",
            "value": "0.9",
            "unit": "mg/L",
        },
        {
            "station_code": "AQ-01",
            "parameter": "PM2.5",
            "observed_at": "2024-05-01",
            "value": "80",
            "unit": "ug/m**3",
        },
        {
            "station_code": "AQ-02",
            "parameter": "PM2.5",
            "observed_at": "2024-05-01",
            "value": "75",
            "unit": "ug/m**3",
        },
    ]
    report = mon.ingest(session, ADMIN, [(f"item {i}", r) for i, r in enumerate(rows)], "api")
    # May: NH3-N 1.2 → IV > target III; June 0.9 → III meets the target; AQ-02 AQI 100 is not > 100
    got = sorted((a.kind, a.value, a.threshold) for a in report.alerts)
    assert got == [("aqi", 107, 100), ("water_class", 4, 3)]
    water = next(a for a in report.alerts if a.kind == "water_class")
    assert "class IV worse than target III (worst: NH3-N)" in water.detail
    a = mon.assess_station(
        session,
        ANALYST,
        "HJ-01",
        dt.datetime(2024, 5, 1, tzinfo=UTC),
        dt.datetime(2024, 6, 30, tzinfo=UTC),
    )
    # period mean NH3-N (1.2 + 0.9) / 2 = 1.05 → IV
    assert a.water is not None and a.water.by_parameter["NH3-N"] == 4
    open_alerts = mon.list_alerts(session, ANALYST, status="open", district="420102")
    assert len(open_alerts) == 2
    with pytest.raises(PermissionDenied):
        mon.acknowledge_alert(session, OFFICIAL_B, water.id)
    acked = mon.acknowledge_alert(session, OFFICIAL_A, water.id)
    assert (acked.status, acked.acknowledged_by) == ("acknowledged", "li")
    with pytest.raises(RuleViolation, match="acknowledged already"):
        mon.acknowledge_alert(session, OFFICIAL_A, water.id)
    assert len(mon.list_alerts(session, ANALYST, status="open")) == 1
    assert verify_audit_chain(session) == []


# ------------------------------------------------------------------ API


@pytest.fixture
def client(database_url, factory):  # type: ignore[no-untyped-def]
    with unit_of_work(factory) as s:
        auth.create_user(s, ADMIN, "admin", PASSWORD, Role.administrator)
        auth.create_user(s, ADMIN, "li", PASSWORD, Role.district_official, district_code="420102")
        auth.create_user(s, ADMIN, "wang", PASSWORD, Role.district_official, district_code="420103")
        auth.create_user(s, ADMIN, "ana", PASSWORD, Role.analyst)
    settings = Settings(env="test", secret_key="s" * 40, database_url=database_url)
    app = create_app(settings)
    with TestClient(app) as c:
        yield c
    app.state.engine.dispose()


def headers(client: TestClient, user: str) -> dict[str, str]:
    r = client.post("/api/auth/token", data={"username": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_api_round_trip(client: TestClient) -> None:
    li, wang, ana = (headers(client, u) for u in ("li", "wang", "ana"))
    station = {
        "code": "CJ-01",
        "name": "长江白沙洲断面",
        "kind": "water_section",
        "district_code": "420102",
        "lon": 114.28,
        "lat": 30.49,
        "river": "长江",
        "target_class": 2,
    }
    r = client.post("/api/monitoring/stations", json=station, headers=li)
    assert r.status_code == 201, r.text
    assert (r.json()["lon"], r.json()["water_body"]) == (114.28, "river")
    assert (
        client.post(
            "/api/monitoring/stations",
            json={**station, "code": "X", "district_code": "420104"},
            headers=li,
        ).status_code
        == 403
    )
    obs = [
        {
            "station_code": "CJ-01",
            "parameter": "TP",
            "observed_at": "2024-05-01T08:00",
            "value": "0.15",
            "unit": "mg/L",
        },
        {
            "station_code": "CJ-01",
            "parameter": "DO",
            "observed_at": "2024-05-01T08:00",
            "value": "8",
            "unit": "mg/L",
        },
    ]
    assert client.post("/api/monitoring/observations", json=obs, headers=wang).status_code == 403
    bad = [dict(obs[0], value="x"), dict(obs[1], parameter="DOO")]
    r = client.post("/api/monitoring/observations", json=bad, headers=li)
    assert r.status_code == 422
    assert [p["where"] for p in r.json()["problems"]] == ["item 0", "item 1"]
    r = client.post("/api/monitoring/observations", json=obs, headers=li)
    assert r.status_code == 201 and r.json() == {"observations": 2, "flags": 0, "alerts": 1}
    csv_body = (
        "station_code,parameter,observed_at,value,unit\nCJ-01,TP,2024-06-01T08:00,0.05,mg/L\n"
    )
    r = client.post("/api/monitoring/observations/csv", content=csv_body.encode(), headers=li)
    assert r.status_code == 201 and r.json()["observations"] == 1
    r = client.get("/api/monitoring/stations/CJ-01/series", params={"parameter": "TP"}, headers=ana)
    assert [(p["value"], p["unit"]) for p in r.json()] == [
        ("0.150000", "mg/L"),
        ("0.050000", "mg/L"),
    ]
    r = client.get("/api/monitoring/stations/CJ-01/series.csv", headers=ana)
    assert r.headers["content-type"].startswith("text/csv") and "CJ-01,TP" in r.text
    assert client.get("/api/monitoring/stations/CJ-01/series").status_code == 401
    r = client.get(
        "/api/monitoring/stations/CJ-01/assessment",
        params={"start": "2024-05-01T00:00:00Z", "end": "2024-05-01T00:00:00Z"},
        headers=ana,
    )
    # TP 0.15 in a river → III (0.1 < 0.15 ≤ 0.2); DO 8 → I: section class III
    assert r.json()["water_class"] == "III" and r.json()["water_by_parameter"]["TP"] == "III"
    alerts = client.get("/api/monitoring/alerts", params={"status": "open"}, headers=ana).json()
    assert [(a["station_code"], a["kind"], a["value"]) for a in alerts] == [
        ("CJ-01", "water_class", 3)
    ]
    r = client.post(f"/api/monitoring/alerts/{alerts[0]['id']}/acknowledge", headers=li)
    assert r.status_code == 200 and r.json()["status"] == "acknowledged"
    assert "PM2.5" in client.get("/api/monitoring/parameters").json()
