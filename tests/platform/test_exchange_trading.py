"""The order book through the database: price-time priority, market-to-limit, partial fills
and their exact money, self-trade prevention, cancel and expiry, T+1, call auctions, and a
batch where one order is refused while the others trade."""

from __future__ import annotations

import datetime as dt

import pytest
from exchange_support import HB, START_CASH, START_UNITS, Clock, D, build_world, order
from platform_support import ADMIN

from ecovalue.platform.exchange import keys
from ecovalue.platform.exchange import trading as T
from ecovalue.platform.exchange.verify import verify_books
from ecovalue.platform.ledger import service as L
from ecovalue.platform.ledger.verify import verify_journal


@pytest.fixture
def world(factory):  # type: ignore[no-untyped-def]
    build_world(factory)
    return factory


def _run(market: T.Market, *requests):  # type: ignore[no-untyped-def]
    return market.execute([(ADMIN, r) for r in requests])


def _cash(uow, p: str) -> D:  # type: ignore[no-untyped-def]
    with uow() as s:
        return L.balances(s, [keys.cash(p)]).get((keys.cash(p), "CNY"), D(0))


def _units(uow, p: str) -> D:  # type: ignore[no-untyped-def]
    with uow() as s:
        return L.balances(s, [keys.hold(p)]).get((keys.hold(p), HB), D(0))


def _intact(uow) -> None:  # type: ignore[no-untyped-def]
    with uow() as s:
        assert verify_journal(s).problems == []
        assert verify_books(s) == []


def test_price_then_time_priority_and_exact_money(world, uow) -> None:  # type: ignore[no-untyped-def]
    m = T.Market(world)
    _run(m, order("A", "sell", "100", "41.00"), order("B", "sell", "100", "40.50"),
         order("C", "sell", "100", "40.50"))  # fmt: skip
    (ack,) = _run(m, order("D", "buy", "150", "41.00"))
    # the best price first (40.50), and at 40.50 B came before C; 41.00 is not reached
    assert [(t.seller, t.price, t.quantity) for t in ack.trades] == [
        ("B", D("40.50"), D("100")), ("C", D("40.50"), D("50"))]  # fmt: skip
    assert ack.status == "filled"
    # 150 × 40.50 = 6075.00; fees 0.75 % rounded down: 100 t → 30.37, 50 t → 15.18
    assert [t.fee_buy for t in ack.trades] == [D("30.37"), D("15.18")]
    assert _cash(uow, "D") == START_CASH - D("6075.00") - D("45.55")
    assert _cash(uow, "B") == START_CASH + D("4050.00") - D("30.37")
    assert _units(uow, "D") == START_UNITS + 150
    with uow() as s:  # the buy order's reserve at 41.00 was given back in full
        esc = keys.escrow("D", HB, keys.Venue.book)
        assert L.balances(s, [esc]).get((esc, "CNY"), D(0)) == 0
        assert L.balances(s, [keys.FEE])[(keys.FEE, "CNY")] == D("91.10")
    _intact(uow)


def test_partial_fill_rests_and_cancel_gives_everything_back(world, uow) -> None:  # type: ignore[no-untyped-def]
    m = T.Market(world)
    (buy,) = _run(m, order("A", "buy", "300", "40.00"))
    assert buy.status == "open"
    (sell,) = _run(m, order("B", "sell", "120", "39.90"))
    assert [(t.price, t.quantity) for t in sell.trades] == [(D("40.00"), D("120"))]
    with uow() as s:
        (o,) = T.open_orders(s, ADMIN, "A")
        assert o["remaining"] == D("180")
        assert o["reserve"] == D("7254.00")  # 180 × 40.00 = 7200.00 + fee 54.00 rounded up
    (c,) = _run(m, T.CancelRequest(buy.order_id))
    assert c.status == "cancelled" and c.remaining == D("180")
    assert _cash(uow, "A") == START_CASH - D("4800.00") - D("36.00")
    (again,) = _run(m, T.CancelRequest(buy.order_id))
    assert not again.accepted and "no longer open" in again.detail
    _intact(uow)


def test_market_to_limit_takes_the_best_price_and_rests_there(world, uow) -> None:  # type: ignore[no-untyped-def]
    m = T.Market(world)
    _run(m, order("A", "sell", "50", "40.20"), order("B", "sell", "50", "40.30"))
    (mtl,) = _run(m, order("C", "buy", "80"))
    assert [(t.price, t.quantity) for t in mtl.trades] == [(D("40.20"), D("50"))]
    assert mtl.status == "open" and mtl.remaining == D("30")  # rests at 40.20, below B's 40.30
    with uow() as s:
        d = T.depth(s, HB)
        assert d["buy"] == [dict(price=D("40.20"), quantity=D("30"), orders=1)]
        assert d["sell"] == [dict(price=D("40.30"), quantity=D("50"), orders=1)]
    (none,) = _run(m, order("D", "sell", "10"), order("D", "sell", "10"))[:1]
    assert none.status == "filled"  # a market-to-limit sell takes the 40.20 bid
    _intact(uow)


def test_self_trade_prevention_cancels_the_incoming_order(world, uow) -> None:  # type: ignore[no-untyped-def]
    m = T.Market(world)
    _run(m, order("A", "sell", "100", "40.00"))
    (own,) = _run(m, order("A", "buy", "50", "40.00"))
    assert own.status == "cancelled" and own.trades == ()
    assert _cash(uow, "A") == START_CASH  # its reserve went straight back
    with uow() as s:
        assert [o["side"] for o in T.open_orders(s, ADMIN, "A")] == ["sell"]
    _intact(uow)


def test_self_trade_prevention_can_cancel_the_resting_order(factory, uow) -> None:  # type: ignore[no-untyped-def]
    build_world(factory, instrument_overrides={"self_trade": "cancel_resting"})
    m = T.Market(factory)
    _run(m, order("A", "sell", "100", "40.00"), order("B", "sell", "100", "40.10"))
    (ack,) = _run(m, order("A", "buy", "50", "40.10"))
    assert [(t.seller, t.price) for t in ack.trades] == [("B", D("40.10"))]
    with uow() as s:
        assert T.open_orders(s, ADMIN, "A") == []  # its resting sell was cancelled
    assert _units(uow, "A") == START_UNITS + 50
    _intact(uow)


def test_orders_expire_at_their_time(world, uow) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    m = T.Market(world, clock)
    until = clock.at + dt.timedelta(minutes=5)
    (gtd,) = _run(m, order("A", "buy", "10", "40.00", tif=T.R.TimeInForce.gtd, expires_at=until))
    (day,) = _run(m, order("B", "buy", "10", "39.00", tif=T.R.TimeInForce.day))
    clock.at += dt.timedelta(minutes=6)
    (sell,) = _run(m, order("C", "sell", "10", "39.00"))
    # the GTD order expired before the sell arrived; the DAY order (until midnight) traded
    assert [(t.buyer, t.price) for t in sell.trades] == [("B", D("39.00"))]
    assert _cash(uow, "A") == START_CASH
    (late,) = _run(m, order("A", "buy", "10", "40.00", tif=T.R.TimeInForce.gtd,
                            expires_at=clock.at - dt.timedelta(seconds=1)))  # fmt: skip
    assert not late.accepted and "has passed" in late.detail
    assert gtd.order_id and day.order_id
    _intact(uow)


def test_t_plus_one_keeps_both_legs_in_clearing_until_settlement(factory, uow) -> None:  # type: ignore[no-untyped-def]
    build_world(factory, instrument_overrides={"settlement_days": 1})
    m = T.Market(factory)
    _run(m, order("A", "sell", "100", "40.00"))
    (buy,) = _run(m, order("B", "buy", "100", "40.00"))
    (trade,) = buy.trades
    assert trade.settle_on == dt.datetime.now(T.CHINA).date() + dt.timedelta(days=1)
    assert _units(uow, "B") == START_UNITS  # not delivered yet
    with uow() as s:
        assert T.settle_due(s, ADMIN, dt.datetime.now(T.CHINA).date()) == []
        assert L.balances(s, [keys.CLEARING])[(keys.CLEARING, HB)] == D("100")
    with uow() as s:
        assert T.settle_due(s, ADMIN, trade.settle_on) == [trade.id]
    assert _units(uow, "B") == START_UNITS + 100
    assert _cash(uow, "A") == START_CASH + D("4000.00") - D("30.00")
    with uow() as s:
        assert L.balances(s, [keys.CLEARING]).get((keys.CLEARING, HB)) == 0
    _intact(uow)


def test_call_auction_clears_at_maximum_volume(world, uow) -> None:  # type: ignore[no-untyped-def]
    m = T.Market(world)
    (ph,) = _run(m, T.PhaseRequest(HB, "call"))
    assert ph.accepted
    acks = _run(m, order("A", "buy", "100", "41.00"), order("B", "buy", "100", "40.00"),
                order("C", "sell", "150", "39.50"), order("D", "sell", "100", "40.50"))  # fmt: skip
    assert all(a.status == "open" and not a.trades for a in acks)  # collected, not matched
    (call,) = _run(m, T.CallRequest(HB))
    # at 40.00: demand 200, supply 150 (volume 150); at 40.50: demand 100, supply 250 → 40.00
    assert {t.price for t in call.trades} == {D("40.00")}
    assert sum(t.quantity for t in call.trades) == D("150")
    assert [(t.buyer, t.quantity) for t in call.trades] == [("A", D("100")), ("B", D("50"))]
    _intact(uow)


def test_one_refused_order_in_a_batch_does_not_stop_the_others(world, uow) -> None:  # type: ignore[no-untyped-def]
    m = T.Market(world)
    with uow() as s:
        head = L.head(s)[0]
    acks = _run(m, order("A", "sell", "10", "40.00"), order("B", "buy", "10", "40.001"),
                order("B", "buy", "10", "40.00"))  # fmt: skip
    assert [a.status for a in acks] == ["open", "rejected", "filled"]
    with uow() as s:
        assert L.head(s)[0] == head + 2 + 1  # two escrows and one settlement: none for the refusal
    _intact(uow)


def test_a_book_changed_by_another_process_is_reloaded(world, uow) -> None:  # type: ignore[no-untyped-def]
    first, second = T.Market(world), T.Market(world)
    _run(first, order("A", "sell", "10", "40.00"))
    (ack,) = _run(second, order("B", "buy", "10", "40.00"))  # second never saw A's order
    assert [t.seller for t in ack.trades] == ["A"]
    (again,) = _run(first, order("C", "buy", "10", "40.00"))  # first's copy is stale: reloaded
    assert again.status == "open" and again.trades == ()
    _intact(uow)
