"""The order-book service: orders, cancels, expiry and call auctions, run in batches.

:class:`Market` keeps each instrument's :class:`~.book.Book` in memory and runs a batch of
commands as **one** unit of work: it takes the journal's lock, refreshes any book another
process changed (``xch_book_state.version``), then for each command checks the order (tick,
lot, band, eligibility, validity), reserves its cash or units in escrow, matches it, and
settles each fill by delivery versus payment in one journal transaction (T+0) or moves both
legs to the clearing account (T+1). Before the batch commits it asserts, for every
participant it touched, that the escrow holds exactly the open orders' reserves; only after
the commit are the commands answered, so an acknowledged order is durable (group commit,
decision 0123). A refused command moves nothing and does not stop the others.

This module opens its own units of work (it is a service: the one writer of the books).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from ecovalue.db.session import EcoSession, unit_of_work
from ecovalue.errors import Problem
from ecovalue.platform.audit.service import append_entries
from ecovalue.platform.auth.rules import Principal, Role
from ecovalue.platform.errors import RuleViolation
from ecovalue.platform.exchange import keys
from ecovalue.platform.exchange import rules as R
from ecovalue.platform.exchange import service as registry
from ecovalue.platform.exchange.auctions import CallOrder, uncross
from ecovalue.platform.exchange.book import Book, Resting
from ecovalue.platform.exchange.keys import Venue
from ecovalue.platform.exchange.tables import (
    BookState,
    Member,
    Order,
    OrderEvent,
    OrderState,
    Participant,
    Settlement,
    Trade,
)
from ecovalue.platform.ledger import service as ledger
from ecovalue.platform.ledger.rules import Entry, Posted, Posting, TxKind, iso

ORDERS = cast(Table, Order.__table__)
EVENTS = cast(Table, OrderEvent.__table__)
TRADES = cast(Table, Trade.__table__)
STATES = cast(Table, OrderState.__table__)
BOOKS = cast(Table, BookState.__table__)
CHINA = dt.timezone(dt.timedelta(hours=8))  # a DAY order ends at midnight Beijing time


@dataclass(frozen=True)
class OrderRequest:
    """An order as a participant enters it (quantity in the instrument's unit)."""

    instrument: str
    participant: str
    side: R.Side
    quantity: Decimal
    price: Decimal | None = None
    kind: R.OrderKind = R.OrderKind.limit
    tif: R.TimeInForce = R.TimeInForce.gtc
    expires_at: dt.datetime | None = None
    client_ref: str | None = None


@dataclass(frozen=True)
class CancelRequest:
    order_id: int


@dataclass(frozen=True)
class CallRequest:
    """Run the periodic call auction of an instrument now."""

    instrument: str


@dataclass(frozen=True)
class PhaseRequest:
    """Switch an instrument between continuous trading and collecting orders for a call."""

    instrument: str
    phase: str  # continuous | call


Request = OrderRequest | CancelRequest | CallRequest | PhaseRequest


@dataclass(frozen=True)
class TradeView:
    id: int
    instrument: str
    mode: str
    buy_order: int | None
    sell_order: int | None
    buyer: str
    seller: str
    price: Decimal
    quantity: Decimal
    value: Decimal
    fee_buy: Decimal
    fee_sell: Decimal
    settle_on: dt.date
    ledger_seq: int
    at: str


@dataclass(frozen=True)
class Ack:
    """The answer to one command, given only after its batch is committed."""

    status: str  # open | filled | cancelled | expired | rejected | done
    order_id: int | None = None
    quantity: Decimal = Decimal(0)
    remaining: Decimal = Decimal(0)
    trades: tuple[TradeView, ...] = ()
    problems: tuple[Problem, ...] = ()
    detail: str = ""

    @property
    def accepted(self) -> bool:
        return self.status != "rejected"


@dataclass
class _Cached:
    """A book in memory with the database version it reflects."""

    book: Book
    version: int
    phase: str
    last_price: Decimal | None
    kinds: dict[int, str] = field(default_factory=dict)  # order id -> order kind


class Market:
    """This process's order books; :meth:`execute` runs one batch of commands."""

    def __init__(self, factory: sessionmaker[EcoSession], clock: Callable[[], dt.datetime] = ledger.now,
                 actor: str = "exchange"):  # fmt: skip
        self.factory = factory
        self.clock = clock
        self.actor = actor
        self.books: dict[str, _Cached] = {}
        self.members: set[tuple[str, str]] = set()
        self.accounts: set[str] = set()
        self._lock = threading.Lock()  # one batch at a time: this object owns the books

    def execute(self, commands: Sequence[tuple[Principal, Request]]) -> list[Ack]:
        """Run ``commands`` in one transaction; each gets an :class:`Ack` after the commit."""
        with self._lock:
            touched: set[str] = set()
            try:
                with unit_of_work(self.factory, self.actor) as session:
                    batch = _Batch(self, session, self.clock(), touched)
                    acks = [batch.run(actor, req) for actor, req in commands]
                    batch.finish()
            except BaseException:
                for code in touched:  # the books ran ahead of the rolled-back database
                    self.books.pop(code, None)
                self.accounts.clear()  # accounts opened in the batch were rolled back too
                raise
            return acks

    def book(self, instrument: str) -> Book | None:
        """The in-memory book of ``instrument`` (None until a batch has loaded it)."""
        cached = self.books.get(instrument)
        return cached.book if cached else None


def end_of_day(at: dt.datetime) -> dt.datetime:
    """Midnight (Beijing time) after ``at``, in UTC: when a DAY order expires."""
    local = at.astimezone(CHINA)
    midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), CHINA)
    return midnight.astimezone(dt.UTC)


def load_book(session: Session, instrument: R.Instrument) -> _Cached:
    """The book of ``instrument`` rebuilt from the trading record (open orders by arrival)."""
    state = session.get(BookState, instrument.code)
    if state is None:
        raise RuleViolation([Problem(f"instrument {instrument.code}", "has no book",
                                     "an instrument created by the exchange",
                                     "create it with ecovalue ledger instrument")])  # fmt: skip
    book = Book(instrument.code, instrument.self_trade)
    stmt = (select(Order.id, Order.participant, Order.side, Order.price, Order.book_seq,
                   Order.expires_at, Order.kind, OrderState.remaining, OrderState.reserve)
            .join(OrderState, OrderState.order_id == Order.id)
            .where(OrderState.instrument == instrument.code, OrderState.status == "open")
            .order_by(Order.book_seq))  # fmt: skip
    kinds = {}
    for oid, who, side, price, seq, exp, kind, left, reserve in session.execute(stmt):
        book.rest(Resting(oid, who, R.Side(side), price, int(left), int(seq),
                          dt.datetime.fromisoformat(exp) if exp else None, reserve))  # fmt: skip
        kinds[oid] = kind
    book.seq = int(state.book_seq)
    return _Cached(book, int(state.version), state.phase, state.last_price, kinds)


class _Batch:
    """One unit of work of the market: commands applied in order, rows written at the end."""

    def __init__(self, market: Market, session: Session, now: dt.datetime, touched: set[str]):
        self.m, self.s, self.now, self.touched = market, session, now, touched
        self.journal = ledger.Journal(session, market.actor)
        self.instruments: dict[str, R.Instrument] = {}
        self.participants: dict[str, R.Participant | None] = {}
        self.rows: dict[str, list[dict[str, Any]]] = {"orders": [], "events": [], "trades": []}
        self.states: dict[int, dict[str, Any]] = {}
        self.new_orders: set[int] = set()
        self.escrow_touched: set[tuple[str, str]] = set()  # (participant, instrument)
        self._ids: dict[str, int] = {}

    # ------------------------------------------------------------------ loading

    def _next_id(self, table: Table) -> int:
        if table.name not in self._ids:
            self._ids[table.name] = int(self.s.scalar(select(func.max(table.c.id))) or 0)
        self._ids[table.name] += 1
        return self._ids[table.name]

    def cached(self, code: str) -> tuple[_Cached, R.Instrument]:
        if code not in self.instruments:
            self.instruments[code] = registry.get_instrument(self.s, code)
            cached = self.m.books.get(code)
            version = self.s.scalar(select(BookState.version).where(BookState.instrument == code))
            if cached is None or cached.version != version:
                cached = self.m.books[code] = load_book(self.s, self.instruments[code])
            self.touched.add(code)
            self._expire_due(cached, self.instruments[code])
        return self.m.books[code], self.instruments[code]

    def participant(self, code: str) -> R.Participant | None:
        if code not in self.participants:
            row = self.s.scalar(select(Participant).where(Participant.code == code))
            self.participants[code] = registry.participant_record(row) if row else None
        return self.participants[code]

    def _acts_for(self, actor: Principal, participant: str) -> bool:
        if actor.role == Role.administrator or (actor.username, participant) in self.m.members:
            return True
        stmt = (select(Member.id).join(Participant, Participant.id == Member.participant_id)
                .where(Participant.code == participant, Member.username == actor.username))  # fmt: skip
        if self.s.scalar(stmt) is None:
            return False
        self.m.members.add((actor.username, participant))  # members are never removed
        return True

    # ------------------------------------------------------------------ commands

    def run(self, actor: Principal, req: Request) -> Ack:
        try:
            if isinstance(req, OrderRequest):
                return self.submit(actor, req)
            if isinstance(req, CancelRequest):
                return self.cancel(actor, req.order_id, "cancel")
            if isinstance(req, CallRequest):
                return self.call(actor, req.instrument)
            return self.phase(actor, req)
        except RuleViolation as exc:
            return Ack("rejected", problems=tuple(exc.problems), detail=str(exc))

    def _refuse(self, problems: list[Problem]) -> None:
        if problems:
            raise RuleViolation(problems)

    def submit(self, actor: Principal, req: OrderRequest) -> Ack:
        p = self.participant(req.participant)
        if p is None:
            self._refuse([Problem("participant", f"'{req.participant}' is not registered",
                                  "a registered participant", "register it first")])  # fmt: skip
        assert p is not None
        if not self._acts_for(actor, p.code):
            self._refuse([Problem("participant", f"user '{actor.username}' does not act for "
                                  f"'{p.code}'", "a member of the participant",
                                  "enter orders for your own participant")])  # fmt: skip
        cached, i = self.cached(req.instrument)
        mode = R.TradingMode(cached.phase)
        problems = R.check_order(i, req.side, req.kind, req.price, req.quantity, mode,
                                 self.now.astimezone(CHINA).date())  # fmt: skip
        problems += R.check_eligibility(i, p, req.side)
        expires = self._expiry(req, problems)
        price = req.price
        if req.kind == R.OrderKind.market_to_limit and not problems:
            price = cached.book.best(R.Side.sell if req.side == R.Side.buy else R.Side.buy)
            if price is None:
                problems.append(Problem("kind", "a market-to-limit order found no opposite order "
                                        "to take its price from", "resting opposite orders",
                                        "enter a limit order instead"))  # fmt: skip
        self._refuse(problems)
        assert price is not None
        return self._enter(cached, i, p, req, price, expires, mode)

    def _expiry(self, req: OrderRequest, problems: list[Problem]) -> dt.datetime | None:
        if req.tif == R.TimeInForce.day:
            return end_of_day(self.now)
        if req.tif == R.TimeInForce.gtd:
            if req.expires_at is None or req.expires_at.tzinfo is None:
                problems.append(Problem("expires_at", "is missing or has no time zone",
                                        "a UTC date-time for a GTD order", "give expires_at"))  # fmt: skip
            elif req.expires_at <= self.now:
                problems.append(Problem("expires_at", f"{req.expires_at.isoformat()} has passed",
                                        "a time in the future", "give a later expiry"))  # fmt: skip
            return req.expires_at
        return None

    def _post(self, kind: TxKind, legs: Iterable[tuple[str, str, Decimal]], ref: str,
              serials: dict[int, tuple[tuple[int, int], ...]] | None = None) -> Posted:  # fmt: skip
        serials = serials or {}
        postings = tuple(Posting(a, c, x, serials.get(n, ()))
                         for n, (a, c, x) in enumerate(leg for leg in legs if leg[2] != 0))  # fmt: skip
        return self.journal.post(Entry(kind, postings, self.now, "", None, {"ref": ref}))

    def _enter(self, cached: _Cached, i: R.Instrument, p: R.Participant, req: OrderRequest,
               price: Decimal, expires: dt.datetime | None, mode: R.TradingMode) -> Ack:  # fmt: skip
        esc = keys.escrow(p.code, i.code, Venue.book)
        if esc not in self.m.accounts:  # accounts are never deleted: known once, known for good
            ledger.ensure_accounts(self.s, [keys.escrow_account(p.code, i.code, Venue.book)],
                                   self.now)
            self.m.accounts.add(esc)
        oid = self._next_id(ORDERS)
        if req.side == R.Side.buy:
            reserve = R.buy_reserve(price, req.quantity, i.fee_buy)
            legs = [(keys.cash(p.code), "CNY", -reserve), (esc, "CNY", reserve)]
        else:
            reserve = Decimal(0)
            legs = [(keys.hold(p.code), i.code, -req.quantity), (esc, i.code, req.quantity)]
        try:
            posted = self._post(TxKind.escrow, legs, f"order:{oid}")
        except RuleViolation:  # short of cash or units: say how much is free and what is tied up
            self._refuse([self._short(p.code, i, req, reserve, price)])
        self.escrow_touched.add((p.code, i.code))
        book = cached.book
        order = Resting(oid, p.code, req.side, price, int(req.quantity.scaleb(i.places)),
                        book.next_seq(), expires, reserve)  # fmt: skip
        cached.kinds[oid] = req.kind.value
        self.rows["orders"].append(dict(
            id=oid, instrument=i.code, participant=p.code, side=req.side.value,
            kind=req.kind.value, mode=mode.value, price=price, quantity=req.quantity,
            tif=req.tif.value, expires_at=iso(expires) if expires else None, reserve=reserve,
            book_seq=order.seq, ledger_seq=posted.seq, client_ref=req.client_ref,
            accepted_at=iso(self.now)))  # fmt: skip
        self.new_orders.add(oid)
        trades: list[TradeView] = []
        stopped = False
        if mode == R.TradingMode.continuous:
            result = book.match(order)
            left = order.remaining + sum(f.qty for f in result.fills)  # before the first fill
            for fill in result.fills:
                left -= fill.qty
                maker = result.makers[fill.maker]
                buy, sell = (order, maker) if req.side == R.Side.buy else (maker, order)
                buy_left = left if buy is order else maker.remaining
                trades.append(self._deliver(i, fill.qty, fill.price, buy, sell, buy_left,
                                            mode.value, order.seq, cached))  # fmt: skip
            for gone in result.cancelled_resting:
                self._leave(i, gone, "self_trade", order.seq)
            if result.self_trade_cancelled:
                order.remaining = result.self_trade_cancelled
                self._leave(i, order, "self_trade", order.seq)
                order.remaining, stopped = 0, True
        if order.remaining > 0:
            book.rest(order)
        if not stopped:
            self._state(i.code, order)
        status = "open" if order.remaining > 0 else ("cancelled" if stopped else "filled")
        return Ack(status, oid, req.quantity, Decimal(order.remaining) * i.quantum, tuple(trades))

    def _short(self, who: str, i: R.Instrument, req: OrderRequest, reserve: Decimal,
               price: Decimal) -> Problem:  # fmt: skip
        j = self.journal
        if req.side == R.Side.buy:
            free = j.balance(keys.cash(who), "CNY")
            fee = reserve - R.trade_value(price, req.quantity)
            return Problem(f"participant {who}", f"has {free:,} 元 of free cash; the order reserves "
                           f"{reserve:,} 元 ({req.quantity} × {price} + fee {fee})",
                           f"at most {free:,} 元 reserved", "pay money in or buy less")  # fmt: skip
        free = j.balance(keys.hold(who), i.code)
        tied = [(name, j.balance(acc, i.code)) for name, acc in (
            ("frozen", keys.frozen(who)), ("pledged", keys.pledged(who)),
            ("in open orders", keys.escrow(who, i.code, Venue.book)))]  # fmt: skip
        besides = ", ".join(f"{v} {name}" for name, v in tied if v)
        return Problem(f"participant {who}", f"holds {free} {i.unit} of {i.code} free"
                       f"{f' (besides {besides})' if besides else ''}; the order sells "
                       f"{req.quantity}", f"at most {free}",
                       "sell only free units: frozen and pledged blocks cannot be sold")  # fmt: skip

    def _state(self, instrument: str, o: Resting, status: str | None = None) -> None:
        self.states[o.order_id] = dict(
            order_id=o.order_id, instrument=instrument, remaining=o.remaining,
            reserve=o.reserve, status=status or ("open" if o.remaining > 0 else "filled"))  # fmt: skip

    def _deliver(self, i: R.Instrument, qty_serials: int, price: Decimal, buy: Resting,
                 sell: Resting, buy_left: int, mode: str, seq: int, cached: _Cached
                 ) -> TradeView:  # fmt: skip
        """Settle one fill (``buy_left``: serials the buy order still wants after it)."""
        q = Decimal(qty_serials) * i.quantum
        money = R.fill_money(price, q, buy.price, Decimal(buy_left) * i.quantum, buy.reserve,
                             i.fee_buy, i.fee_sell)  # fmt: skip
        buy.reserve = money.reserve_after
        tid = self._next_id(TRADES)
        b_esc, s_esc = keys.escrow(buy.participant, i.code, Venue.book), keys.escrow(
            sell.participant, i.code, Venue.book)  # fmt: skip
        cash_leg = money.value + money.fee_buy + money.release
        if i.settlement_days == 0:
            legs = [(b_esc, "CNY", -cash_leg), (keys.cash(buy.participant), "CNY", money.release),
                    (keys.cash(sell.participant), "CNY", money.value - money.fee_sell),
                    (keys.FEE, "CNY", money.fee_buy + money.fee_sell),
                    (s_esc, i.code, -q), (keys.hold(buy.participant), i.code, q)]  # fmt: skip
            posted = self._post(TxKind.settle, legs, f"trade:{tid}")
        else:
            legs = [(b_esc, "CNY", -cash_leg), (keys.cash(buy.participant), "CNY", money.release),
                    (keys.CLEARING, "CNY", money.value + money.fee_buy),
                    (s_esc, i.code, -q), (keys.CLEARING, i.code, q)]  # fmt: skip
            posted = self._post(TxKind.escrow, legs, f"trade:{tid}")
        self.escrow_touched.update({(buy.participant, i.code), (sell.participant, i.code)})
        settle_on = self.now.astimezone(CHINA).date() + dt.timedelta(days=i.settlement_days)
        row = dict(id=tid, instrument=i.code, mode=mode, buy_order=buy.order_id,
                   sell_order=sell.order_id, buyer=buy.participant, seller=sell.participant,
                   price=price, quantity=q, value=money.value, fee_buy=money.fee_buy,
                   fee_sell=money.fee_sell, book_seq=seq, cycle=i.settlement_days,
                   settle_on=settle_on,
                   ledger_seq=posted.seq, at=iso(self.now))  # fmt: skip
        self.rows["trades"].append(row)
        for o in (buy, sell):
            self._state(i.code, o)
        cached.last_price = price
        return TradeView(**{k: row[k] for k in TradeView.__dataclass_fields__})  # type: ignore[arg-type]

    def _leave(self, i: R.Instrument, o: Resting, kind: str, seq: int) -> None:
        """An order leaves the book unfilled: give back its reserve or units, record why."""
        esc = keys.escrow(o.participant, i.code, Venue.book)
        qty = Decimal(o.remaining) * i.quantum
        if o.side == R.Side.buy:
            legs = [(esc, "CNY", -o.reserve), (keys.cash(o.participant), "CNY", o.reserve)]
        else:
            legs = [(esc, i.code, -qty), (keys.hold(o.participant), i.code, qty)]
        posted = self._post(TxKind.release, legs, f"order:{o.order_id}")
        self.escrow_touched.add((o.participant, i.code))
        self.rows["events"].append(dict(id=self._next_id(EVENTS), order_id=o.order_id, kind=kind,
                                        quantity=qty, book_seq=seq, ledger_seq=posted.seq,
                                        by=self.m.actor, at=iso(self.now)))  # fmt: skip
        o.reserve = Decimal(0)
        status = {"cancel": "cancelled", "expire": "expired", "self_trade": "cancelled"}[kind]
        self.states[o.order_id] = dict(order_id=o.order_id, instrument=i.code, remaining=0,
                                       reserve=Decimal(0), status=status)  # fmt: skip

    def cancel(self, actor: Principal, order_id: int, kind: str) -> Ack:
        row = self.s.execute(select(Order.instrument, Order.participant, Order.quantity)
                             .where(Order.id == order_id)).first()  # fmt: skip
        pending = next((o for o in self.rows["orders"] if o["id"] == order_id), None)
        if row is None and pending is None:
            self._refuse([Problem("order", f"order {order_id} does not exist", "an order id",
                                  "check the order id")])  # fmt: skip
        instrument, who, qty = (row if row is not None else
                                (pending["instrument"], pending["participant"], pending["quantity"]))  # type: ignore[index]
        if not self._acts_for(actor, who):
            self._refuse([Problem("order", f"order {order_id} belongs to '{who}'",
                                  "one of your own orders", "cancel only your own orders")])  # fmt: skip
        cached, i = self.cached(instrument)
        o = cached.book.cancel(order_id)
        if o is None:
            self._refuse([Problem("order", f"order {order_id} is no longer open (filled, cancelled "
                                  "or expired)", "an open order", "nothing to cancel")])  # fmt: skip
        assert o is not None
        left = Decimal(o.remaining) * i.quantum
        self._leave(i, o, kind, cached.book.next_seq())
        return Ack("cancelled", order_id, Decimal(qty).quantize(i.quantum), left)

    def _expire_due(self, cached: _Cached, i: R.Instrument) -> None:
        for oid in cached.book.due(self.now):
            o = cached.book.cancel(oid)
            if o is not None:
                self._leave(i, o, "expire", cached.book.next_seq())

    def call(self, actor: Principal, instrument: str) -> Ack:
        """The periodic call auction: one price for all (:func:`.auctions.uncross`)."""
        if actor.role != Role.administrator:
            self._refuse([Problem("call auction", "only the exchange runs call auctions",
                                  "an administrator", "wait for the scheduled call")])  # fmt: skip
        cached, i = self.cached(instrument)
        book = cached.book
        orders = [CallOrder(o.order_id, o.participant, o.side, o.price, o.remaining, o.seq)
                  for o in book.resting()]  # fmt: skip
        result = uncross(orders, i.reference_price or cached.last_price)
        seq = book.next_seq()
        for oid in result.cancelled:
            gone = book.cancel(oid)
            if gone is not None:
                self._leave(i, gone, "self_trade", seq)
        trades = []
        for f in result.fills:
            buy, sell = book.orders[f.buy_order], book.orders[f.sell_order]
            buy.remaining -= f.qty
            sell.remaining -= f.qty
            trades.append(self._deliver(i, f.qty, f.price, buy, sell, buy.remaining, "call", seq,
                                        cached))  # fmt: skip
            for o in (buy, sell):
                if o.remaining == 0:
                    book.cancel(o.order_id)
        detail = (f"cleared {Decimal(result.volume) * i.quantum} {i.unit} at {result.price} 元"
                  if result.price is not None else "no orders cross; nothing traded")  # fmt: skip
        return Ack("done", trades=tuple(trades), detail=detail)

    def phase(self, actor: Principal, req: PhaseRequest) -> Ack:
        if actor.role != Role.administrator:
            self._refuse([Problem("phase", "only the exchange switches trading phases",
                                  "an administrator", "ask the exchange")])  # fmt: skip
        cached, i = self.cached(req.instrument)
        wanted = R.TradingMode(req.phase) if req.phase in ("continuous", "call") else None
        if wanted is None or wanted not in i.modes:
            self._refuse([Problem("phase", f"'{req.phase}' is not a book phase of {i.code}",
                                  ", ".join(m.value for m in i.modes
                                            if m in (R.TradingMode.continuous, R.TradingMode.call)),
                                  "choose continuous or call")])  # fmt: skip
        if wanted == R.TradingMode.continuous and cached.phase == "call":
            best_bid, best_ask = cached.book.best(R.Side.buy), cached.book.best(R.Side.sell)
            if best_bid is not None and best_ask is not None and best_bid >= best_ask:
                self._refuse([Problem("phase", "the collected orders cross", "an uncrossed book",
                                      "run the call auction first")])  # fmt: skip
        cached.phase = req.phase
        return Ack("done", detail=f"{i.code} now trades by {req.phase}")

    # ------------------------------------------------------------------ the end of the batch

    def _assert_escrow(self) -> None:
        """Escrowed = open orders, for every participant and instrument this batch touched."""
        want: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}
        for code in {ins for _, ins in self.escrow_touched}:
            i = self.instruments[code]
            for o in self.m.books[code].book.resting():
                if (o.participant, code) in self.escrow_touched:
                    cash, units = want.get((o.participant, code), (Decimal(0), Decimal(0)))
                    if o.side == R.Side.buy:
                        cash += o.reserve
                    else:
                        units += Decimal(o.remaining) * i.quantum
                    want[(o.participant, code)] = (cash, units)
        for who, code in sorted(self.escrow_touched):
            cash, units = want.get((who, code), (Decimal(0), Decimal(0)))
            esc = keys.escrow(who, code, Venue.book)
            self.journal.assert_balance(esc, "CNY", cash, "reserves of the open buy orders")
            self.journal.assert_balance(esc, code, units, "units of the open sell orders")

    def finish(self) -> None:
        """Check the escrow invariant, then write the journal, the trading record and states."""
        self._assert_escrow()
        self.journal.flush()
        conn = self.s.connection()
        audited = []
        for table, name in ((ORDERS, "orders"), (TRADES, "trades"), (EVENTS, "events")):
            rows = self.rows[name]
            if rows:
                conn.execute(insert(table), rows)
                audited += [("insert", table.name, str(r["id"]), r) for r in rows]
        new = [v for k, v in self.states.items() if k in self.new_orders]
        old = [{f"s_{k}": x for k, x in v.items() if k != "instrument"}
               for k, v in self.states.items() if k not in self.new_orders]  # fmt: skip
        if new:
            conn.execute(insert(STATES), new)
        if old:
            conn.execute(update(STATES).where(STATES.c.order_id == bindparam("s_order_id"))
                         .values(remaining=bindparam("s_remaining"), reserve=bindparam("s_reserve"),
                                 status=bindparam("s_status")), old)  # fmt: skip
        for code in sorted(self.touched):
            c = self.m.books[code]
            conn.execute(update(BOOKS).where(BOOKS.c.instrument == code).values(
                version=BOOKS.c.version + 1, book_seq=c.book.seq, phase=c.phase,
                last_price=c.last_price, last_at=iso(self.now)))  # fmt: skip
            c.version += 1
        append_entries(self.s, self.m.actor, audited)


# ------------------------------------------------------------------ reading


def open_orders(session: Session, actor: Principal, participant: str) -> list[dict[str, Any]]:
    """A participant's open orders with what is left of each."""
    registry.require_reading(session, actor, participant)
    stmt = (select(Order, OrderState.remaining, OrderState.reserve)
            .join(OrderState, OrderState.order_id == Order.id)
            .where(Order.participant == participant, OrderState.status == "open")
            .order_by(Order.id))  # fmt: skip
    out = []
    for o, left, reserve in session.execute(stmt):
        q = registry.get_instrument(session, o.instrument).quantum
        out.append(dict(id=o.id, instrument=o.instrument, side=o.side, kind=o.kind, price=o.price,
                        quantity=o.quantity, remaining=Decimal(left) * q, reserve=reserve,
                        tif=o.tif, expires_at=o.expires_at, accepted_at=o.accepted_at))  # fmt: skip
    return out


def trades(session: Session, instrument: str, limit: int = 100,
           participant: str | None = None) -> list[TradeView]:  # fmt: skip
    """The newest trades of an instrument (optionally of one participant), newest first."""
    stmt = select(Trade).where(Trade.instrument == instrument).order_by(Trade.id.desc()).limit(limit)
    if participant:
        stmt = stmt.where((Trade.buyer == participant) | (Trade.seller == participant))
    return [TradeView(**{k: getattr(t, k) for k in TradeView.__dataclass_fields__})
            for t in session.scalars(stmt)]  # fmt: skip


def depth(session: Session, instrument: str, levels: int = 10) -> dict[str, Any]:
    """Order-book depth (price, quantity, orders per level) from the durable record."""
    i = registry.get_instrument(session, instrument)
    cached = load_book(session, i)
    d = cached.book.depth(levels)
    return {
        "instrument": i.code, "phase": cached.phase,
        "last_price": cached.last_price.quantize(i.tick) if cached.last_price else None,
        "reference_price": i.reference_price,
        **{side: [dict(price=p, quantity=Decimal(q) * i.quantum, orders=n) for p, q, n in rows]
           for side, rows in d.items()},
    }  # fmt: skip


def settle_due(session: Session, actor: Principal, on: dt.date) -> list[int]:
    """Deliver every T+1 trade due on or before ``on``: clearing → seller's cash, fees, buyer's
    units (the same serials the trade moved into clearing), one journal entry per trade."""
    registry.require_admin(actor, "run settlement")
    done = select(Settlement.trade_id)
    stmt = (select(Trade).where(Trade.cycle > 0, Trade.settle_on <= on, Trade.id.not_in(done))
            .order_by(Trade.id))  # fmt: skip
    settled: list[Settlement] = []
    journal = ledger.Journal(session, actor.username)
    for t in session.scalars(stmt):
        moved = next(p.serials for p in ledger.get_transaction(session, t.ledger_seq).entry.postings
                     if p.account == keys.CLEARING and p.commodity == t.instrument)  # fmt: skip
        legs = [(keys.CLEARING, "CNY", -(t.value + t.fee_buy)),
                (keys.cash(t.seller), "CNY", t.value - t.fee_sell),
                (keys.FEE, "CNY", t.fee_buy + t.fee_sell),
                (keys.CLEARING, t.instrument, -t.quantity),
                (keys.hold(t.buyer), t.instrument, t.quantity)]  # fmt: skip
        postings = tuple(Posting(a, c, x, moved if a == keys.CLEARING and c == t.instrument else ())
                         for a, c, x in legs if x != 0)  # fmt: skip
        posted = journal.post(Entry(TxKind.settle, postings, ledger.now(), f"T+1 trade {t.id}",
                                    None, {"ref": f"trade:{t.id}"}))  # fmt: skip
        settled.append(Settlement(trade_id=t.id, ledger_seq=posted.seq, at=iso(posted.entry.at)))
    journal.flush()  # the journal rows first: settlements refer to them
    session.add_all(settled)
    session.flush()
    return [s.trade_id for s in settled]
