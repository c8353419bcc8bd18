"""The rights register: each rule accepted and refused, history, scoping, import, concurrency."""

from __future__ import annotations

import json
import threading
from decimal import Decimal
from pathlib import Path

import pytest
import shapely
from platform_support import ADMIN, ANALYST, OFFICIAL_A, OFFICIAL_B, PUBLIC, D, square

from ecovalue.errors import InputError, ValidationFailed
from ecovalue.platform.errors import PermissionDenied, RuleViolation
from ecovalue.platform.registry import service as reg
from ecovalue.platform.registry.importer import import_parcels
from ecovalue.platform.registry.rules import Interval, TxKind, max_concurrent_share
from ecovalue.platform.registry.tables import Right


@pytest.fixture
def world(uow):  # type: ignore[no-untyped-def]
    """Register WH (EPSG:4547), a state owner, P1 and red-line P2 in 420102, P3 in 420103."""
    with uow() as s:
        reg.create_register(s, ADMIN, "WH", "武汉市自然资源登记簿", 4547)
        owner = reg.add_owner(s, ADMIN, "state", "全民所有", "武汉市自然资源和规划局")
        p1 = reg.register_parcel(
            s, ADMIN, "WH", "P1", "forest", "420102001", square(0, 0), owner.id
        )
        p2 = reg.register_parcel(
            s, ADMIN, "WH", "P2", "wetland", "420102002", square(200, 0), owner.id, red_line=True
        )
        p3 = reg.register_parcel(
            s, ADMIN, "WH", "P3", "water", "420103001", square(400, 0), owner.id
        )
        return {"owner": owner.id, "P1": p1.id, "P2": p2.id, "P3": p3.id}


def _grant(
    s,
    world,
    holder="村民甲",
    share="1",
    start=D(2020, 1, 1),
    end=D(2049, 12, 31),  # type: ignore[no-untyped-def]
    parcel="P1",
    use=None,
    kind="contracting",
):
    return reg.grant_right(
        s, ADMIN, world[parcel], kind, holder, Decimal(share), start, end, use=use
    )


def test_area_is_computed_in_the_projected_crs(session, world) -> None:  # type: ignore[no-untyped-def]
    parcel = reg.list_parcels(session, ADMIN, "WH")[0]
    assert parcel.area_m2 == Decimal("10000.00")  # 100 m × 100 m


def test_overlapping_parcel_refused_touching_accepted(uow, world) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RuleViolation, match="overlaps parcel 'P1' by 2500.00 m²"), uow() as s:
        reg.register_parcel(
            s, ADMIN, "WH", "X", "forest", "420102001", square(50, 50), world["owner"]
        )
    with uow() as s:  # shares only the edge x = 100 with P1
        reg.register_parcel(
            s, ADMIN, "WH", "X", "forest", "420102001", square(100, 0), world["owner"]
        )


def test_invalid_geometry_and_unknown_type_reported_together(uow, world) -> None:  # type: ignore[no-untyped-def]
    bowtie = shapely.Polygon([(0, 0), (10, 10), (10, 0), (0, 10)])
    with pytest.raises(RuleViolation) as err, uow() as s:
        reg.register_parcel(s, ADMIN, "WH", "B", "lava", "420102001", bowtie, world["owner"])
    text = str(err.value)
    assert "Self-intersection" in text and "'lava' is unknown" in text


def test_shares_of_one_kind_never_exceed_one(uow, world) -> None:  # type: ignore[no-untyped-def]
    with uow() as s:
        _grant(s, world, "甲", "0.6")
        _grant(s, world, "乙", "0.4")
    with pytest.raises(RuleViolation, match="shares would reach 1.1"), uow() as s:
        _grant(s, world, "丙", "0.1", start=D(2030, 1, 1), end=D(2031, 1, 1))
    with uow() as s:  # after the first two rights end, there is room again
        _grant(s, world, "丙", "1", start=D(2050, 1, 1), end=D(2060, 1, 1))
        # another kind of right has its own 100 %
        _grant(s, world, "丁", "1", kind="use_operation")


def test_max_concurrent_share_sweeps_dates() -> None:
    # 0.5 [1-10] + 0.5 [5-20] + 0.5 [11-30]: peak 1.0 (day 5-10 and 11-20), never 1.5
    ivs = [
        Interval(D(2020, 1, 1), D(2020, 1, 10), Decimal("0.5")),
        Interval(D(2020, 1, 5), D(2020, 1, 20), Decimal("0.5")),
        Interval(D(2020, 1, 11), D(2020, 1, 30), Decimal("0.5")),
    ]
    assert max_concurrent_share(ivs) == Decimal("1.0")


def test_red_line_allows_only_listed_uses(uow, world) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RuleViolation, match="use 'sand_mining' is not allowed"), uow() as s:
        _grant(s, world, parcel="P2", use="sand_mining")
    with uow() as s:
        _grant(s, world, parcel="P2", use="low_impact_tourism")
    with uow() as s:  # the allowed list is data of the register
        reg.create_register(
            s, ADMIN, "STRICT", "strict", 4547, red_line_uses=["ecological_protection"]
        )
        assert json.loads(reg.get_register(s, "STRICT").red_line_uses) == ["ecological_protection"]


def test_lease_only_within_the_term(uow, world) -> None:  # type: ignore[no-untyped-def]
    with uow() as s:
        right = _grant(s, world, end=D(2030, 12, 31))
    with (
        pytest.raises(RuleViolation, match="beyond the right's term ending 2030-12-31"),
        uow() as s,
    ):
        reg.lease_right(s, ADMIN, right.id, "合作社", D(2025, 1, 1), D(2035, 1, 1))
    with uow() as s:
        lease = reg.lease_right(s, ADMIN, right.id, "合作社", D(2025, 1, 1), D(2030, 12, 31))
        assert lease.derived and lease.kind == "use_operation"
    with pytest.raises(RuleViolation, match="leases of right"), uow() as s:  # already fully leased
        reg.lease_right(s, ADMIN, right.id, "公司", D(2026, 1, 1), D(2027, 1, 1))


def test_transfer_only_within_the_term(uow, world) -> None:  # type: ignore[no-untyped-def]
    with uow() as s:
        right = _grant(s, world, end=D(2030, 12, 31))
    with pytest.raises(RuleViolation, match="after the right ended"), uow() as s:
        reg.transfer_right(s, ADMIN, right.id, "乙", D(2031, 6, 1))


def test_mortgaged_right_needs_the_mortgagees_consent(uow, world) -> None:  # type: ignore[no-untyped-def]
    with uow() as s:
        right = _grant(s, world)
        mortgage = reg.mortgage_right(
            s,
            ADMIN,
            right.id,
            "农商银行",
            D(2024, 1, 1),
            D(2026, 12, 31),
            amount=Decimal("500000.00"),
        )
    with pytest.raises(RuleViolation, match="mortgaged to '农商银行'"), uow() as s:
        reg.transfer_right(s, ADMIN, right.id, "乙", D(2025, 1, 1))
    with uow() as s:  # after release no consent is needed
        reg.release_mortgage(s, ADMIN, mortgage.id, D(2025, 6, 30))
        reg.transfer_right(s, ADMIN, right.id, "乙", D(2025, 7, 1))
    with uow() as s:
        right2 = _grant(s, world, "丙", parcel="P2", use="ecological_protection")
        reg.mortgage_right(s, ADMIN, right2.id, "农商银行", D(2024, 1, 1), D(2026, 12, 31))
        reg.transfer_right(
            s,
            ADMIN,
            right2.id,
            "丁",
            D(2025, 1, 1),
            consent_of=["农商银行"],
            kind=TxKind.equity_contribution,
        )


def test_history_and_holdings_on_a_date(uow, world) -> None:  # type: ignore[no-untyped-def]
    with uow() as s:
        right = _grant(s, world, "甲")
        reg.transfer_right(s, ADMIN, right.id, "乙", D(2025, 1, 1), amount=Decimal("120000.50"))
    with uow() as s:
        before = {
            h.holder for h in reg.holdings_on(s, ADMIN, D(2024, 12, 31), parcel_id=world["P1"])
        }
        after = {h.holder for h in reg.holdings_on(s, ADMIN, D(2025, 1, 1), parcel_id=world["P1"])}
        history = reg.parcel_history(s, ADMIN, world["P1"])
        # a second transfer of the old right is refused: it is no longer held
        with pytest.raises(RuleViolation, match="already transferred on 2025-01-01"):
            reg.transfer_right(s, ADMIN, right.id, "丙", D(2026, 1, 1))
    assert before == {"全民所有", "甲"} and after == {"全民所有", "乙"}
    assert [t.kind for t in history] == ["grant", "transfer"]
    assert history[1].amount == Decimal("120000.50")


def test_rows_are_never_overwritten(uow, world) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match="immutable"), uow() as s:
        right = s.get(Right, 1)
        right.holder = "someone else"
        s.flush()


def test_district_scoping_in_the_service(uow, world) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PermissionDenied), uow() as s:
        reg.register_parcel(
            s, OFFICIAL_B, "WH", "Y", "forest", "420102003", square(0, 500), world["owner"]
        )
    with uow() as s:
        reg.register_parcel(
            s, OFFICIAL_A, "WH", "Y", "forest", "420102003", square(0, 500), world["owner"]
        )
        with pytest.raises(PermissionDenied):
            reg.grant_right(
                s, OFFICIAL_A, world["P3"], "contracting", "x", Decimal(1), D(2020, 1, 1), None
            )
        seen_b = {h.parcel_code for h in reg.holdings_on(s, OFFICIAL_B, D(2024, 1, 1))}
        seen_analyst = {h.parcel_code for h in reg.holdings_on(s, ANALYST, D(2024, 1, 1))}
        assert reg.holdings_on(s, PUBLIC, D(2024, 1, 1)) == []
        with pytest.raises(PermissionDenied):
            reg.parcel_history(s, OFFICIAL_B, world["P1"])
    assert seen_b == {"P3"}
    assert seen_analyst == {"P1", "P2", "P3", "Y"}


def _write_geojson(path: Path, features: list[dict]) -> Path:  # type: ignore[type-arg]
    fc = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4547"}},
        "features": features,
    }
    path.write_text(json.dumps(fc), encoding="utf-8")
    return path


def _feature(code: str, poly: shapely.Polygon | None, **props: object) -> dict:  # type: ignore[type-arg]
    base = {
        "code": code,
        "resource_type": "forest",
        "admin_code": "420102001",
        "owner_kind": "collective",
        "owner_name": "某村集体",
        "red_line": 0,
    }
    base.update(props)
    return {
        "type": "Feature",
        "properties": base,
        "geometry": None if poly is None else shapely.geometry.mapping(poly),
    }


def test_import_reports_every_bad_feature(uow, world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = _write_geojson(
        tmp_path / "parcels.geojson",
        [
            _feature("G1", square(0, 1000)),
            _feature("G2", square(50, 50)),  # overlaps P1
            _feature("G3", square(0, 2000), owner_kind="private"),
            _feature("", square(0, 3000)),
            _feature("G5", square(0, 4000), resource_type="lava"),
        ],
    )
    with pytest.raises(ValidationFailed) as err, uow() as s:
        import_parcels(s, ADMIN, "WH", path)
    wheres = sorted({p.where.split(" (")[0].split(":")[0] for p in err.value.problems})
    assert wheres == ["feature 1", "feature 2", "feature 3", "feature 4"]
    with uow() as s:
        assert reg.list_parcels(s, ADMIN, "WH")[-1].code == "P3"  # nothing was imported
        report = import_parcels(s, ADMIN, "WH", path, skip_bad=True)
    assert report.imported == ["G1"] and len(report.problems) == 4, report.problems


def test_import_reprojects_from_geographic_coordinates(uow, world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # A ~0.001° square near Wuhan (114°E, 30.5°N) ≈ 96 m × 111 m ≈ 10 700 m².
    poly = shapely.box(114.0, 30.5, 114.001, 30.501)
    path = tmp_path / "wgs.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [_feature("W1", poly, admin_code="420103001")],
            }
        ),
        encoding="utf-8",
    )
    with uow() as s:
        import_parcels(s, ADMIN, "WH", path)
        parcel = [p for p in reg.list_parcels(s, ADMIN, "WH") if p.code == "W1"][0]
    assert Decimal("10600") < parcel.area_m2 < Decimal("10800")


def test_concurrent_transfers_exactly_one_succeeds(factory, world) -> None:  # type: ignore[no-untyped-def]
    # PostgreSQL: SELECT … FOR UPDATE on the right; SQLite: BEGIN IMMEDIATE serialises writers.
    from ecovalue.db.session import unit_of_work

    with unit_of_work(factory) as s:
        right_id = _grant(s, world).id
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def client(name: str) -> None:
        try:
            with unit_of_work(factory, name) as s:
                barrier.wait()
                reg.transfer_right(s, ADMIN, right_id, name, D(2025, 1, 1))
            outcomes.append("ok")
        except RuleViolation as exc:
            outcomes.append(f"refused: {exc}")

    threads = [threading.Thread(target=client, args=(n,)) for n in ("buyer-1", "buyer-2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(o[:7] for o in outcomes) == ["ok", "refused"]
    assert "already transferred" in [o for o in outcomes if o != "ok"][0]
    with unit_of_work(factory) as s:
        holders = {
            h.holder for h in reg.holdings_on(s, ADMIN, D(2025, 1, 1), parcel_id=world["P1"])
        }
    assert len(holders & {"buyer-1", "buyer-2"}) == 1
