"""``exchange verify``: replay every book from its durable record and compare.

The record of a book is append-only: orders as they entered (``xch_orders``, in arrival
order ``book_seq``), the orders that left unfilled (``xch_order_events``) and the trades
(``xch_trades``). Replaying them through the same pure :class:`~.book.Book` and
:func:`~.auctions.uncross` must give the recorded trades, one by one, and end in the open
orders ``xch_order_state`` holds (remaining quantity and reserved cash). So after a crash
the book rebuilt from the database is the book the acknowledged orders made; and every
escrow account holds what its open orders reserve (checked too).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecovalue.errors import Problem
from ecovalue.platform.exchange import keys
from ecovalue.platform.exchange import rules as R
from ecovalue.platform.exchange import service as registry
from ecovalue.platform.exchange.auctions import CallOrder, uncross
from ecovalue.platform.exchange.book import Book, Resting
from ecovalue.platform.exchange.keys import Venue
from ecovalue.platform.exchange.tables import BookState, Order, OrderEvent, OrderState, Trade
from ecovalue.platform.ledger import service as ledger

FIX = "the trading record is append-only: restore it from a backup; do not edit it"


@dataclass
class _Timeline:
    orders: dict[int, Order] = field(default_factory=dict)  # by book_seq
    events: dict[int, list[OrderEvent]] = field(default_factory=lambda: defaultdict(list))
    trades: dict[int, list[Trade]] = field(default_factory=lambda: defaultdict(list))

    def seqs(self) -> list[int]:
        return sorted(set(self.orders) | set(self.events) | set(self.trades))


def _timeline(session: Session, code: str) -> _Timeline:
    tl = _Timeline()
    for o in session.scalars(select(Order).where(Order.instrument == code)):
        tl.orders[int(o.book_seq)] = o
    ids = {o.id for o in tl.orders.values()}
    for e in session.scalars(select(OrderEvent).order_by(OrderEvent.id)):
        if e.order_id in ids:
            tl.events[int(e.book_seq)].append(e)
    stmt = select(Trade).where(Trade.instrument == code, Trade.book_seq.is_not(None))
    for t in session.scalars(stmt.order_by(Trade.id)):
        tl.trades[int(t.book_seq or 0)].append(t)
    return tl


class _Replay:
    """One instrument's book replayed from its record, with the problems found."""

    def __init__(self, i: R.Instrument):
        self.i = i
        self.book = Book(i.code, i.self_trade)
        self.problems: list[Problem] = []
        self.closed: dict[int, str] = {}

    def fail(self, where: str, what: str, expected: str) -> None:
        self.problems.append(Problem(where, what, expected, FIX))

    def deliver(self, seq: int, buy: Resting, sell: Resting, qty: int, price: Decimal,
                buy_left: int, t: Trade | None) -> None:  # fmt: skip
        q = Decimal(qty) * self.i.quantum
        money = R.fill_money(price, q, buy.price, Decimal(buy_left) * self.i.quantum, buy.reserve,
                             self.i.fee_buy, self.i.fee_sell)  # fmt: skip
        buy.reserve = money.reserve_after
        want = (buy.order_id, sell.order_id, price, q, money.value, money.fee_buy, money.fee_sell)
        got = None if t is None else (t.buy_order, t.sell_order, t.price, t.quantity, t.value,
                                      t.fee_buy, t.fee_sell)  # fmt: skip
        if got != want:
            self.fail(f"{self.i.code} book seq {seq}", f"recorded trade {got}", f"{want} (replayed)")

    def leave(self, seq: int, o: Resting, kind: str, events: list[OrderEvent]) -> None:
        ev = next((e for e in events if e.order_id == o.order_id), None)
        qty = Decimal(o.remaining) * self.i.quantum
        if ev is None or ev.kind != kind or ev.quantity != qty:
            got = None if ev is None else (ev.kind, ev.quantity)
            self.fail(f"{self.i.code} book seq {seq}", f"order {o.order_id} left with {got}",
                      f"({kind}, {qty}) (replayed)")  # fmt: skip
        self.closed[o.order_id] = "expired" if kind == "expire" else "cancelled"

    def enter(self, seq: int, o: Order, events: list[OrderEvent], trades: list[Trade]) -> None:
        n = int(Decimal(o.quantity).scaleb(self.i.places))
        exp = dt.datetime.fromisoformat(o.expires_at) if o.expires_at else None
        order = Resting(o.id, o.participant, R.Side(o.side), self.i.price(o.price), n, seq, exp,
                        o.reserve)
        self.book.seq = seq
        if o.mode == "continuous":
            result = self.book.match(order)
            left = order.remaining + sum(f.qty for f in result.fills)
            for k, f in enumerate(result.fills):
                left -= f.qty
                maker = result.makers[f.maker]
                buy, sell = (order, maker) if order.side == R.Side.buy else (maker, order)
                buy_left = left if buy is order else maker.remaining
                self.deliver(seq, buy, sell, f.qty, f.price, buy_left,
                             trades[k] if k < len(trades) else None)  # fmt: skip
                if maker.remaining == 0:
                    self.closed[maker.order_id] = "filled"
            if len(trades) > len(result.fills):
                self.fail(f"{self.i.code} book seq {seq}", f"{len(trades)} trades recorded",
                          f"{len(result.fills)} (replayed)")  # fmt: skip
            for gone in result.cancelled_resting:
                self.leave(seq, gone, "self_trade", events)
            if result.self_trade_cancelled:
                order.remaining = result.self_trade_cancelled
                self.leave(seq, order, "self_trade", events)
                return
        if order.remaining > 0:
            self.book.rest(order)
        else:
            self.closed[o.id] = "filled"

    def call(self, seq: int, events: list[OrderEvent], trades: list[Trade]) -> None:
        orders = [CallOrder(o.order_id, o.participant, o.side, o.price, o.remaining, o.seq)
                  for o in self.book.resting()]  # fmt: skip
        # The recorded price stands in for the reference of that day: among prices tied on
        # volume and imbalance it is then the one chosen, so the replay checks the volume
        # and every allocation without knowing an old reference price.
        ref = trades[0].price if trades else self.i.reference_price
        result = uncross(orders, ref)
        for oid in result.cancelled:
            gone = self.book.cancel(oid)
            if gone is not None:
                self.leave(seq, gone, "self_trade", events)
        for k, f in enumerate(result.fills):
            buy, sell = self.book.orders[f.buy_order], self.book.orders[f.sell_order]
            buy.remaining -= f.qty
            sell.remaining -= f.qty
            self.deliver(seq, buy, sell, f.qty, f.price, buy.remaining,
                         trades[k] if k < len(trades) else None)  # fmt: skip
            for o in (buy, sell):
                if o.remaining == 0:
                    self.book.cancel(o.order_id)
                    self.closed[o.order_id] = "filled"

    def step(self, seq: int, tl: _Timeline) -> None:
        events, trades = tl.events.get(seq, []), tl.trades.get(seq, [])
        if seq in tl.orders:
            self.enter(seq, tl.orders[seq], events, trades)
        elif trades or any(e.kind == "self_trade" for e in events):
            self.call(seq, events, trades)
        for e in events:
            if e.kind in ("cancel", "expire"):
                o = self.book.cancel(e.order_id)
                if o is None:
                    self.fail(f"{self.i.code} book seq {seq}", f"order {e.order_id} "
                              f"{e.kind}ed while not open", "an open order")  # fmt: skip
                else:
                    self.leave(seq, o, e.kind, [e])
        self.book.seq = max(self.book.seq, seq)


def _compare_state(session: Session, rp: _Replay, code: str) -> None:
    stored = {s.order_id: s for s in session.scalars(select(OrderState)
                                                     .where(OrderState.instrument == code))}  # fmt: skip
    live = {o.order_id: o for o in rp.book.resting()}
    for oid, s in sorted(stored.items()):
        o = live.get(oid)
        want: tuple[Any, ...] = (("open", o.remaining, o.reserve) if o is not None
                                 else (rp.closed.get(oid, "?"), 0, Decimal(0)))  # fmt: skip
        got = (s.status, int(s.remaining), s.reserve)
        if got != want:
            rp.fail(f"xch_order_state order {oid}", f"holds {got}", f"{want} (replayed)")
    for oid in sorted(set(live) - set(stored)):
        rp.fail(f"xch_order_state order {oid}", "is missing", "a row for every order")
    state = session.get(BookState, code)
    if state is not None and int(state.book_seq) != rp.book.seq:
        rp.fail(f"xch_book_state {code}", f"book_seq {state.book_seq}", f"{rp.book.seq}")


def _compare_escrow(session: Session, rp: _Replay, code: str) -> None:
    want: dict[str, tuple[Decimal, Decimal]] = defaultdict(lambda: (Decimal(0), Decimal(0)))
    for o in rp.book.resting():
        cash, units = want[o.participant]
        if o.side == R.Side.buy:
            want[o.participant] = (cash + o.reserve, units)
        else:
            want[o.participant] = (cash, units + Decimal(o.remaining) * rp.i.quantum)
    participants = {o.participant for o in session.scalars(
        select(Order).where(Order.instrument == code))}  # fmt: skip
    escrows = [keys.escrow(p, code, Venue.book) for p in sorted(participants)]
    held = ledger.balances(session, escrows)
    for p, esc in zip(sorted(participants), escrows, strict=True):
        cash, units = want[p]
        got = (held.get((esc, "CNY"), Decimal(0)), held.get((esc, code), Decimal(0)))
        if got != (cash, units):
            rp.fail(f"escrow {esc}", f"holds {got[0]} 元 and {got[1]} units",
                    f"{cash} 元 and {units} units: the open orders' reserves")  # fmt: skip


def replay_book(session: Session, code: str) -> tuple[Book, list[Problem]]:
    """The book of ``code`` replayed from the record, and every disagreement found."""
    i = registry.get_instrument(session, code)
    rp = _Replay(i)
    tl = _timeline(session, code)
    for seq in tl.seqs():
        rp.step(seq, tl)
    _compare_state(session, rp, code)
    _compare_escrow(session, rp, code)
    return rp.book, rp.problems


def verify_books(session: Session, instrument: str | None = None) -> list[Problem]:
    """Replay every instrument's book (or one) and report every disagreement."""
    codes = [instrument] if instrument else [i.code for i in registry.list_instruments(session)]
    problems: list[Problem] = []
    for code in codes:
        problems += replay_book(session, code)[1]
    return problems
