"""Mortgages follow the rules a bank relies on (issue 23): consent over the whole transferred
period, releases as dated one-time events by the mortgagee, mortgages following the property
(民法典 第406条) unless agreed otherwise, also under concurrency; ownership never disposed."""

from __future__ import annotations

import random
import threading
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from platform_support import ADMIN, OFFICIAL_A, D, square

from ecovalue.api.app import create_app
from ecovalue.db.session import unit_of_work
from ecovalue.platform.auth import service as auth
from ecovalue.platform.auth.rules import Principal, Role
from ecovalue.platform.errors import PermissionDenied, RuleViolation
from ecovalue.platform.registry import service as reg

BANK = Principal("zhang", Role.public, organization="农商银行")
OTHER_BANK = Principal("qian", Role.public, organization="建设银行")


@pytest.fixture
def right(uow):  # type: ignore[no-untyped-def]
    """Right R: a contracting right on P1 (district 420102) held by 甲 from 2020 to 2049."""
    with uow() as s:
        reg.create_register(s, ADMIN, "WH", "武汉市自然资源登记簿", 4547)
        owner = reg.add_owner(s, ADMIN, "state", "全民所有", "武汉市自然资源和规划局")
        parcel = reg.register_parcel(
            s, ADMIN, "WH", "P1", "forest", "420102001", square(0, 0), owner.id
        )
        r = reg.grant_right(
            s, ADMIN, parcel.id, "contracting", "甲", Decimal(1), D(2020, 1, 1), D(2049, 12, 31)
        )
        return {"parcel": parcel.id, "right": r.id}


def _mortgage(uow, right_id: int, start=D(2030, 1, 1), end=D(2031, 1, 1)) -> int:  # type: ignore[no-untyped-def]
    with uow() as s:
        return reg.mortgage_right(
            s, ADMIN, right_id, "农商银行", start, end, amount=Decimal("500000.00")
        ).id


def _burdens(uow, parcel: int, on) -> dict[str, tuple[str, ...]]:  # type: ignore[no-untyped-def]
    with uow() as s:
        return {
            h.holder: h.mortgaged_to
            for h in reg.holdings_on(s, ADMIN, on, parcel_id=parcel)
            if h.kind == "contracting"
        }


def test_consent_is_needed_where_any_mortgage_overlaps_the_transferred_period(uow, right) -> None:  # type: ignore[no-untyped-def]
    m = _mortgage(uow, right["right"])  # 2030-01-01 .. 2031-01-01
    with pytest.raises(RuleViolation, match=f"mortgage {m}.*overlaps the transferred period"):
        with uow() as s:  # effective 2028: no mortgage on that day, but one later in the term
            reg.transfer_right(s, ADMIN, right["right"], "乙", D(2028, 1, 1))
    assert _burdens(uow, right["parcel"], D(2030, 6, 1)) == {"甲": ("农商银行",)}
    with uow() as s:
        reg.transfer_right(s, ADMIN, right["right"], "乙", D(2028, 1, 1), consent_of=["农商银行"])
    # the mortgage followed the right to 乙; 甲 holds nothing in 2030
    assert _burdens(uow, right["parcel"], D(2030, 6, 1)) == {"乙": ("农商银行",)}
    assert _burdens(uow, right["parcel"], D(2029, 6, 1)) == {"乙": ()}


def test_a_mortgage_that_ended_or_was_released_needs_no_consent(uow, right) -> None:  # type: ignore[no-untyped-def]
    m = _mortgage(uow, right["right"], D(2022, 1, 1), D(2024, 12, 31))
    with uow() as s:  # ended before the transfer
        reg.transfer_right(s, ADMIN, right["right"], "乙", D(2025, 1, 1))
    with uow() as s:
        new = reg.holdings_on(s, ADMIN, D(2025, 1, 1), parcel_id=right["parcel"])
        successor = next(h.right_id for h in new if h.holder == "乙")
        m2 = reg.mortgage_right(s, ADMIN, successor, "农商银行", D(2026, 1, 1), D(2027, 1, 1)).id
        reg.release_mortgage(s, ADMIN, m2, D(2026, 3, 1))
        reg.transfer_right(s, ADMIN, successor, "丙", D(2026, 3, 1))  # released on that day
    assert m != m2


def test_release_is_a_dated_event_once_by_the_mortgagee_or_an_administrator(uow, right) -> None:  # type: ignore[no-untyped-def]
    m = _mortgage(uow, right["right"])
    refusals = {
        "before it starts": (ADMIN, D(2029, 6, 1), "before the mortgage starts 2030-01-01"),
        "after it ended": (ADMIN, D(2031, 1, 2), "after the mortgage ended on 2031-01-01"),
    }
    for _, (actor, on, message) in refusals.items():
        with pytest.raises(RuleViolation, match=message), uow() as s:
            reg.release_mortgage(s, actor, m, on)
    for actor in (OFFICIAL_A, OTHER_BANK):  # the district's official is not the mortgagee
        with pytest.raises(PermissionDenied, match="only the mortgagee"), uow() as s:
            reg.release_mortgage(s, actor, m, D(2030, 7, 1))
    with uow() as s:
        reg.release_mortgage(s, BANK, m, D(2030, 7, 1))
    with pytest.raises(RuleViolation, match="already released on 2030-07-01"), uow() as s:
        reg.release_mortgage(s, ADMIN, m, D(2030, 8, 1))
    # nothing is overwritten: the mortgage stays on every date before the release
    assert _burdens(uow, right["parcel"], D(2030, 6, 30)) == {"甲": ("农商银行",)}
    assert _burdens(uow, right["parcel"], D(2030, 7, 1)) == {"甲": ()}


def test_mortgages_follow_by_default_or_are_released_by_agreement(uow, right) -> None:  # type: ignore[no-untyped-def]
    _mortgage(uow, right["right"], D(2024, 1, 1), D(2034, 12, 31))
    with uow() as s:
        second = reg.grant_right(
            s, ADMIN, right["parcel"], "use_operation", "丁", Decimal(1), D(2020, 1, 1), None
        )
        reg.mortgage_right(s, ADMIN, second.id, "建设银行", D(2024, 1, 1), D(2034, 12, 31))
    with uow() as s:  # the law's default: the mortgage follows
        reg.transfer_right(s, ADMIN, right["right"], "乙", D(2026, 1, 1), consent_of=["农商银行"])
        reg.transfer_right(  # the parties agreed otherwise
            s,
            ADMIN,
            second.id,
            "戊",
            D(2026, 1, 1),
            consent_of=["建设银行"],
            mortgages_follow=False,
        )
    with uow() as s:
        on = {h.holder: h.mortgaged_to for h in reg.holdings_on(s, ADMIN, D(2027, 1, 1))}
        before = {h.holder: h.mortgaged_to for h in reg.holdings_on(s, ADMIN, D(2025, 1, 1))}
        history = [t.kind for t in reg.parcel_history(s, ADMIN, right["parcel"])]
    assert on["乙"] == ("农商银行",) and on["戊"] == ()
    assert before["甲"] == ("农商银行",) and before["丁"] == ("建设银行",)
    assert history.count("mortgage_release") == 1


def test_a_mortgage_follows_through_a_chain_of_transfers(uow, right) -> None:  # type: ignore[no-untyped-def]
    _mortgage(uow, right["right"], D(2030, 1, 1), D(2040, 1, 1))
    with uow() as s:
        s2 = reg.transfer_right(
            s, ADMIN, right["right"], "乙", D(2025, 1, 1), consent_of=["农商银行"]
        )
        with pytest.raises(RuleViolation, match="mortgaged to '农商银行'"):
            reg.transfer_right(s, ADMIN, s2.id, "丙", D(2026, 1, 1))  # consent again
        reg.transfer_right(
            s,
            ADMIN,
            s2.id,
            "丙",
            D(2026, 1, 1),
            consent_of=["农商银行"],
            kind=reg.TxKind.equity_contribution,
        )
    assert _burdens(uow, right["parcel"], D(2035, 1, 1)) == {"丙": ("农商银行",)}


def test_ownership_is_never_leased_transferred_or_mortgaged(uow, right) -> None:  # type: ignore[no-untyped-def]
    with uow() as s:
        ownership = next(
            h.right_id
            for h in reg.holdings_on(s, ADMIN, D(2024, 1, 1), parcel_id=right["parcel"])
            if h.kind == "ownership"
        )
    attempts = {
        "lease": lambda s: reg.lease_right(
            s, ADMIN, ownership, "公司", D(2025, 1, 1), D(2026, 1, 1)
        ),
        "transfer": lambda s: reg.transfer_right(s, ADMIN, ownership, "公司", D(2025, 1, 1)),
        "mortgage": lambda s: reg.mortgage_right(
            s, ADMIN, ownership, "农商银行", D(2025, 1, 1), D(2026, 1, 1)
        ),
    }
    for action, attempt in attempts.items():
        with pytest.raises(RuleViolation) as err, uow() as s:
            attempt(s)
        assert f"ownership of natural resources cannot be the object of a {action}" in str(
            err.value
        )
        assert "grant a use right on the parcel instead" in str(err.value)


def test_concurrent_transfers_with_consent_keep_every_mortgage(factory, right) -> None:  # type: ignore[no-untyped-def]
    """40 mortgaged rights, 4 clients racing to transfer each (with consent), two rounds:
    one winner per right per round and all 40 mortgages on the final holders."""
    n, clients = 40, 4
    with unit_of_work(factory) as s:
        parcels = []
        for i in range(n):
            p = reg.register_parcel(
                s, ADMIN, "WH", f"M{i}", "forest", "420102001", square(1000 + 200 * i, 0), 1
            )
            r = reg.grant_right(
                s, ADMIN, p.id, "contracting", f"h{i}", Decimal(1), D(2020, 1, 1), D(2049, 1, 1)
            )
            reg.mortgage_right(s, ADMIN, r.id, "农商银行", D(2030, 1, 1), D(2035, 1, 1))
            parcels.append((p.id, r.id))
    wins: list[tuple[int, int]] = []
    lock = threading.Lock()

    def client(name: str, targets: list[tuple[int, int, int]]) -> None:
        for round_no, parcel_id, right_id in targets:
            try:
                with unit_of_work(factory, name) as s:
                    reg.transfer_right(
                        s,
                        ADMIN,
                        right_id,
                        f"{name}-r{round_no}",
                        D(2024 + round_no, 1, 1),
                        consent_of=["农商银行"],
                    )
                with lock:
                    wins.append((round_no, parcel_id))
            except RuleViolation as exc:
                assert "already transferred" in str(exc)

    for round_no in (1, 2):
        with unit_of_work(factory) as s:
            current = [
                (
                    round_no,
                    p,
                    next(
                        h.right_id
                        for h in reg.holdings_on(s, ADMIN, D(2024 + round_no, 1, 1), parcel_id=p)
                        if h.kind == "contracting"
                    ),
                )
                for p, _ in parcels
            ]
        threads = []
        for c in range(clients):
            order = current[:]
            random.Random(c).shuffle(order)
            threads.append(threading.Thread(target=client, args=(f"c{c}", order)))
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
    assert sorted(wins) == sorted((r, p) for r in (1, 2) for p, _ in parcels)
    with unit_of_work(factory) as s:
        kept = [
            h.mortgaged_to
            for p, _ in parcels
            for h in reg.holdings_on(s, ADMIN, D(2031, 1, 1), parcel_id=p)
            if h.kind == "contracting"
        ]
    assert len(kept) == n and all(m == ("农商银行",) for m in kept)


def test_the_api_answers_for_the_bank(database_url, factory, settings, right) -> None:  # type: ignore[no-untyped-def]
    with unit_of_work(factory) as s:
        auth.create_user(s, ADMIN, "admin", "a long password", Role.administrator)
        auth.create_user(s, ADMIN, "zhang", "a long password", Role.public, organization="农商银行")
        auth.create_user(
            s, ADMIN, "li", "a long password", Role.district_official, district_code="420102"
        )
    app = create_app(settings)
    with TestClient(app) as c:

        def h(user: str) -> dict[str, str]:
            r = c.post("/api/auth/token", data={"username": user, "password": "a long password"})
            return {"Authorization": f"Bearer {r.json()['access_token']}"}

        admin, li, bank = h("admin"), h("li"), h("zhang")
        rid = right["right"]
        m = c.post(
            f"/api/registry/rights/{rid}/mortgage",
            headers=li,
            json={"mortgagee": "农商银行", "start_date": "2030-01-01", "end_date": "2031-01-01"},
        ).json()["id"]
        r = c.post(
            f"/api/registry/rights/{rid}/transfer",
            headers=li,
            json={"to_holder": "乙", "effective_date": "2028-01-01"},
        )
        assert r.status_code == 409 and "overlaps the transferred period" in r.json()["detail"]
        r = c.post(
            f"/api/registry/rights/{rid}/transfer",
            headers=li,
            json={"to_holder": "乙", "effective_date": "2028-01-01", "consent_of": ["农商银行"]},
        )
        assert r.status_code == 201
        held = c.get(
            "/api/registry/holdings",
            headers=admin,
            params={"on": "2030-06-01", "parcel_id": right["parcel"]},
        ).json()
        assert {x["holder"]: x["mortgaged_to"] for x in held if x["kind"] == "contracting"} == {
            "乙": ["农商银行"]
        }
        release = f"/api/registry/mortgages/{m}/release"
        assert c.post(release, headers=li, params={"on": "2030-07-01"}).status_code == 403
        assert c.post(release, headers=bank, params={"on": "2029-07-01"}).status_code == 409
        assert c.post(release, headers=bank, params={"on": "2030-07-01"}).status_code == 201
        assert c.post(release, headers=admin, params={"on": "2030-07-02"}).status_code == 409
    app.state.engine.dispose()
