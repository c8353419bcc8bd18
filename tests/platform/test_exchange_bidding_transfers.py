"""Electronic bidding (price first, then time; public result; paid-use sale of new units) and
negotiated transfers (proposal, acceptance, approval, rejection) with their escrows."""

from __future__ import annotations

import datetime as dt

import pytest
from exchange_support import HB, START_CASH, START_UNITS, D, build_world
from platform_support import ADMIN

from ecovalue.platform.auth.rules import Principal, Role
from ecovalue.platform.errors import RuleViolation
from ecovalue.platform.exchange import bidding, keys
from ecovalue.platform.exchange import service as X
from ecovalue.platform.exchange import transfers as TR
from ecovalue.platform.exchange.verify import verify_books
from ecovalue.platform.ledger import service as L
from ecovalue.platform.ledger.verify import verify_journal

FC = "FCER-2025"  # forestry sinks trade by electronic bidding
TRADER = {p: Principal(f"trader-{p}", Role.public) for p in "ABCDF"}


@pytest.fixture
def world(factory, uow):  # type: ignore[no-untyped-def]
    build_world(factory)
    with uow() as s:
        X.create_instrument(s, ADMIN, "PWCOD", 2025)
        X.create_instrument(s, ADMIN, "FCER", 2025)
        X.issue(s, ADMIN, FC, "A", START_UNITS)
        X.create_instrument(s, ADMIN, "WRABS", 2025, reference_price=D("2.00"))
        X.register_participant(s, ADMIN, "GOV", "湖北省生态环境厅", "government", "420000")
        for p in "ABCD":
            X.add_member(s, ADMIN, p, f"trader-{p}")
    return factory


def _cash(uow, p: str) -> D:  # type: ignore[no-untyped-def]
    with uow() as s:
        return L.balances(s, [keys.cash(p)]).get((keys.cash(p), "CNY"), D(0))


def _units(uow, p: str, instrument: str = HB) -> D:  # type: ignore[no-untyped-def]
    with uow() as s:
        return L.balances(s, [keys.hold(p)]).get((keys.hold(p), instrument), D(0))


def _intact(uow) -> None:  # type: ignore[no-untyped-def]
    with uow() as s:
        assert verify_journal(s).problems == [] and verify_books(s) == []


def _listing(uow, **kw):  # type: ignore[no-untyped-def]
    now = dt.datetime.now(dt.UTC)
    args = dict(instrument=FC, quantity=D("100"), reserve_price=D("38.00"),
                opens_at=now - dt.timedelta(minutes=1), closes_at=now + dt.timedelta(seconds=3),
                seller="A")  # fmt: skip
    if "closes_in" in kw:
        args["closes_at"] = now + kw.pop("closes_in")
    args.update(kw)
    with uow() as s:
        return bidding.create_listing(s, TRADER["A"] if args["seller"] == "A" else ADMIN, **args)


def _close_when_over(uow, listing_id: int):  # type: ignore[no-untyped-def]
    with uow() as s:
        closes = dt.datetime.fromisoformat(bidding.get_listing(s, listing_id).closes_at)
    while dt.datetime.now(dt.UTC) < closes:
        pass
    with uow() as s:
        return bidding.close_listing(s, ADMIN, listing_id)


def test_bidding_allocates_price_first_then_time_and_publishes_the_result(world, uow) -> None:  # type: ignore[no-untyped-def]
    lst = _listing(uow)
    with uow() as s:
        bidding.place_bid(s, TRADER["B"], lst.id, "B", D("39.00"), D("60"))
        bidding.place_bid(s, TRADER["C"], lst.id, "C", D("40.00"), D("60"))
    with uow() as s:  # D bids 39.00 after B: same price, later in time
        bidding.place_bid(s, TRADER["D"], lst.id, "D", D("39.00"), D("60"))
    with pytest.raises(RuleViolation, match="below the reserve price 38.00"), uow() as s:
        bidding.place_bid(s, TRADER["D"], lst.id, "D", D("37.99"), D("10"))
    assert _units(uow, "A", FC) == START_UNITS - 100  # listed units in escrow
    result = _close_when_over(uow, lst.id).result
    assert result["awards"] == [
        {"bidder": "C", "quantity": "60", "price": "40.00"},  # price first
        {"bidder": "B", "quantity": "40", "price": "39.00"},  # then time: B before D
    ]  # fmt: skip
    assert _units(uow, "C", FC) == 60 and _units(uow, "D", FC) == 0
    assert _cash(uow, "D") == START_CASH  # the losing bid's reserve came back
    assert _cash(uow, "A") == START_CASH + D("3960.00") - D("29.70")  # 2400 + 1560, fee 0.75 %
    with uow() as s:
        assert bidding.listings(s)[0].status == "closed"
    _intact(uow)


def test_paid_use_sale_of_new_units_by_bidding(world, uow) -> None:  # type: ignore[no-untyped-def]
    lst = _listing(uow, instrument="PWCOD-2025", quantity=D("133.252"), reserve_price=D("20000"),
                   seller="GOV", from_issuance=True)  # fmt: skip
    with uow() as s:
        for p in "BC":
            X.deposit(s, ADMIN, p, D("5000000.00"), f"big-{p}")
        bidding.place_bid(s, TRADER["B"], lst.id, "B", D("28140"), D("100.000"))
        bidding.place_bid(s, TRADER["C"], lst.id, "C", D("25000"), D("50.000"))
    view = _close_when_over(uow, lst.id)
    assert [(a["bidder"], a["quantity"]) for a in view.result["awards"]] == [
        ("B", "100.000"), ("C", "33.252")]  # fmt: skip
    with uow() as s:
        sale = [v for v in X.issuances(s, "PWCOD-2025")]
        assert [(v.participant, v.kind, v.serial) for v in sale] == [
            ("C", "sale", "CN-HB-PW-COD-100001-133252-2025"),
            ("B", "sale", "CN-HB-PW-COD-1-100000-2025")]  # fmt: skip
    assert _cash(uow, "GOV") == D("2814000.00") + D("831300.00") - D("21105.00") - D("6234.75")
    _intact(uow)


def test_raising_a_bid_releases_the_old_reserve(world, uow) -> None:  # type: ignore[no-untyped-def]
    lst = _listing(uow, closes_in=dt.timedelta(hours=1))
    with uow() as s:
        bidding.place_bid(s, TRADER["B"], lst.id, "B", D("39.00"), D("10"))
    with pytest.raises(RuleViolation, match="an earlier bid of 10 at 39.00 元 stands"), uow() as s:
        bidding.place_bid(s, TRADER["B"], lst.id, "B", D("38.50"), D("10"))
    with uow() as s:
        bidding.place_bid(s, TRADER["B"], lst.id, "B", D("39.50"), D("10"))
    assert _cash(uow, "B") == START_CASH - D("395.00") - D("2.97")  # only the raised bid reserved
    with pytest.raises(RuleViolation, match="closes at"), uow() as s:
        bidding.close_listing(s, ADMIN, lst.id)
    _intact(uow)


def test_negotiated_transfer_with_acceptance(world, uow) -> None:  # type: ignore[no-untyped-def]
    with uow() as s:
        t = TR.propose(s, TRADER["A"], HB, "A", "B", D("200"), D("41.00"), "A", serials=[(101, 300)])
    assert t.status == "proposed" and _units(uow, "A") == START_UNITS - 200
    with pytest.raises(RuleViolation, match="outside the price band"), uow() as s:
        TR.propose(s, TRADER["A"], HB, "A", "C", D("1"), D("60.00"), "A")  # ± 30 % of 40.00
    with uow() as s:
        done = TR.accept(s, TRADER["B"], t.id)
    assert done.status == "settled" and done.trade_id is not None
    with uow() as s:
        b = {x.serial for x in X.holdings(s, ADMIN, "B", HB)}
        assert "CN-HB-EA-101-300-2025" in b  # the named serials moved
    assert _cash(uow, "A") == START_CASH + D("8200.00") - D("61.50")
    _intact(uow)


def test_transfer_needing_approval_and_a_rejection(world, uow) -> None:  # type: ignore[no-untyped-def]
    with uow() as s:
        X.issue(s, ADMIN, "WRABS-2025", "A", D("50000"))
        t = TR.propose(s, TRADER["B"], "WRABS-2025", "A", "B", D("20000"), D("2.10"), "B")
    assert _cash(uow, "B") == START_CASH - D("42000.00") - D("315.00")  # buyer's cash escrowed
    with uow() as s:
        accepted = TR.accept(s, TRADER["A"], t.id)
    assert accepted.status == "accepted"  # 取水权 transfers wait for the exchange's approval
    with pytest.raises(Exception, match="may not approve"), uow() as s:
        TR.approve(s, TRADER["A"], t.id)
    with uow() as s:
        assert TR.approve(s, ADMIN, t.id).status == "settled"
    assert _units(uow, "B", "WRABS-2025") == D("20000")
    with uow() as s:
        t2 = TR.propose(s, TRADER["A"], "WRABS-2025", "A", "C", D("100"), D("2.00"), "A")
    with uow() as s:
        assert TR.reject(s, ADMIN, t2.id, "not in the quota area").status == "rejected"
    assert _units(uow, "A", "WRABS-2025") == D("30000")  # back from escrow
    _intact(uow)
