"""Bad input to the exchange: each refusal names what is wrong and why, and nothing moves.

Wrong tick, lot and band; an ineligible buyer (kind and area); a frozen block; an expired
right; not enough cash or free units; a suspended participant; someone else's order."""

from __future__ import annotations

import datetime as dt

import pytest
from exchange_support import HB, Clock, D, build_world, order
from platform_support import ADMIN

from ecovalue.platform.auth.rules import Principal, Role
from ecovalue.platform.errors import PermissionDenied, RuleViolation
from ecovalue.platform.exchange import service as X
from ecovalue.platform.exchange import trading as T
from ecovalue.platform.ledger import service as L

TRADER_A = Principal("trader-a", Role.public)


@pytest.fixture
def world(factory, uow):  # type: ignore[no-untyped-def]
    build_world(factory)
    with uow() as s:
        X.register_participant(s, ADMIN, "E", "宜昌某公司", "enterprise", "420500")
        X.deposit(s, ADMIN, "E", D("1000.00"), "dep-E")
        X.create_instrument(s, ADMIN, "HBEA", 2019, reference_price=D("30.00"),
                            overrides={"valid_until": "2020-12-31"})  # fmt: skip
        X.create_instrument(s, ADMIN, "HBEA", 2024, code="HBEA-2024-WH", regions=["4201"],
                            reference_price=D("40.00"))  # fmt: skip
        X.issue(s, ADMIN, "HBEA-2024-WH", "A", D("100"))
        X.add_member(s, ADMIN, "A", "trader-a")
    return factory


def _state(uow):  # type: ignore[no-untyped-def]
    with uow() as s:
        accounts = [a.key for p in "ABCDEW" for a in L.accounts_of(s, p)]
        return L.head(s), L.balances(s, accounts)


CASES = [
    (order("A", "buy", "10", "40.005"), "price 40.005 元 is not a multiple of the tick 0.01 元",
     "use 40.00 or 40.01"),
    (order("A", "buy", "10.5", "40.00"), "quantity 10.5 tCO2e is not a whole number of lots of 1",
     "use 10 or 11"),
    (order("A", "sell", "10", "44.01"), "outside the price band 36.00–44.00 元 (reference 40.00 ± 10%)",
     "inside the band"),
    (order("W", "buy", "10", "40.00"),
     "is a district; HBEA-2025 may be bought only by: enterprise, individual, institution",
     "an instrument open to your kind"),
    (order("E", "buy", "1", "40.00", instrument="HBEA-2024-WH"),
     "is registered in region 420500, outside HBEA-2024-WH's area (4201)", "own city or basin"),
    (order("A", "sell", "5", "30.00", instrument="HBEA-2019"),
     "the right expired on 2020-12-31 (vintage 2019)", "expired rights cannot be traded"),
    (order("E", "buy", "100", "40.00"),
     "has 1,000.00 元 of free cash; the order reserves 4,030.00 元 (100 × 40.00 + fee 30.00)",
     "pay money in or buy less"),
    (order("A", "sell", "10"),
     "a market-to-limit order found no opposite order", "enter a limit order"),
    (order("Z", "buy", "1", "40.00"), "'Z' is not registered", "register it first"),
]  # fmt: skip


@pytest.mark.parametrize("req,what,fix", CASES, ids=[c[1][:30] for c in CASES])
def test_refused_orders_say_what_and_move_nothing(world, uow, req, what, fix) -> None:  # type: ignore[no-untyped-def]
    before = _state(uow)
    (ack,) = T.Market(world).execute([(ADMIN, req)])
    assert ack.status == "rejected", ack
    assert what in ack.detail and fix in ack.detail, ack.detail
    assert _state(uow) == before


def test_a_frozen_block_cannot_be_sold_retired_or_pledged(world, uow) -> None:  # type: ignore[no-untyped-def]
    with uow() as s:
        hold = X.hold_units(s, ADMIN, "freeze", "A", HB, D("9990"), "court order (2025)鄂01执123号")
    before = _state(uow)
    (ack,) = T.Market(world).execute([(ADMIN, order("A", "sell", "20", "40.00"))])
    assert "holds 10 tCO2e of HBEA-2025 free (besides 9990 frozen); the order sells 20" in ack.detail
    frozen_block = (1, 5)
    with pytest.raises(RuleViolation, match=r"block CN-HB-EA-1-5-2025: serial 1 is frozen \(held by A\)"), uow() as s:  # fmt: skip
        X.retire(s, ADMIN, "A", HB, D("5"), "清缴", serials=[frozen_block])
    with pytest.raises(RuleViolation, match="holds 10 tCO2e of HBEA-2025 free"), uow() as s:
        X.hold_units(s, ADMIN, "pledge", "A", HB, D("11"), "loan", counterparty="某银行")
    assert _state(uow) == before
    with uow() as s:
        X.release_hold(s, ADMIN, hold.id)
    (ok,) = T.Market(world).execute([(ADMIN, order("A", "sell", "20", "40.00"))])
    assert ok.status == "open"


def test_a_suspended_participant_and_someone_elses_order(world, uow) -> None:  # type: ignore[no-untyped-def]
    m = T.Market(world)
    (b_order,) = m.execute([(ADMIN, order("B", "sell", "10", "40.00"))])
    (ack,) = m.execute([(TRADER_A, T.CancelRequest(b_order.order_id))])
    assert "belongs to 'B'" in ack.detail
    (ack,) = m.execute([(TRADER_A, order("B", "buy", "1", "40.00"))])
    assert "user 'trader-a' does not act for 'B'" in ack.detail
    with uow() as s:
        X.set_active(s, ADMIN, "A", False)
    (ack,) = m.execute([(TRADER_A, order("A", "buy", "1", "40.00"))])
    assert "participant A: is suspended" in ack.detail
    with pytest.raises(PermissionDenied, match="participants see and move only their own"), uow() as s:
        X.balances_of(s, TRADER_A, "B")


def test_gtd_needs_a_future_time_with_a_zone(world) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    naive = order("A", "buy", "1", "40.00", tif=T.R.TimeInForce.gtd,
                  expires_at=dt.datetime(2030, 1, 1))  # fmt: skip
    (ack,) = T.Market(world, clock).execute([(ADMIN, naive)])
    assert "expires_at: is missing or has no time zone" in ack.detail
