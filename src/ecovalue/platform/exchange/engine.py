"""The order-book engine: the commands of one batch over a store and a journal, pure.

:class:`Batch` checks each order (tick, lot, band, eligibility, validity), reserves its cash or
units in escrow with a journal entry (refused → nothing moves), matches it in the instrument's
:class:`~.book.Book`, settles each fill by delivery versus payment (T+0) or into the clearing
account (T+1), and before the batch ends asserts that every escrow it touched holds exactly
its open orders' reserves. Where books, instruments and participants come from and where
the rows go is a :class:`Store`: the database (:mod:`.trading`) or memory
(:class:`MemoryMarket`, used by the property test's 10⁵ operations and the benchmark's
in-memory figure). No I/O here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from ecovalue.errors import Problem
from ecovalue.platform.auth.rules import Principal, Role
from ecovalue.platform.errors import RuleViolation
from ecovalue.platform.exchange import keys
from ecovalue.platform.exchange import rules as R
from ecovalue.platform.exchange.auctions import CallOrder, uncross
from ecovalue.platform.exchange.book import Book, Resting
from ecovalue.platform.exchange.keys import Venue
from ecovalue.platform.ledger.model import JournalState, new_account
from ecovalue.platform.ledger.rules import (
    CNY,
    AccountKind,
    Commodity,
    Entry,
    Posted,
    Posting,
    TxKind,
    iso,
)

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
class Cached:
    """A book in memory with the version of the record it reflects."""

    book: Book
    version: int
    phase: str
    last_price: Decimal | None
    kinds: dict[int, str] = field(default_factory=dict)  # order id -> order kind


class Journal(Protocol):
    """What the engine needs of the journal (the database's or one in memory)."""

    def post(self, entry: Entry) -> Posted: ...

    def preload(self, keys: Iterable[tuple[str, str]], lots: Iterable[tuple[str, str]] = ()
                ) -> None: ...  # fmt: skip

    def balance(self, account: str, commodity: str) -> Decimal: ...

    def assert_balance(self, account: str, commodity: str, expected: Decimal, why: str) -> None: ...


class Store(Protocol):
    """Where a batch finds instruments, books and participants."""

    def instrument(self, code: str) -> R.Instrument: ...

    def book(self, instrument: R.Instrument) -> Cached: ...

    def participant(self, code: str) -> R.Participant | None: ...

    def acts_for(self, actor: Principal, participant: str) -> bool: ...

    def ensure_account(self, account: tuple[str, AccountKind, str], at: dt.datetime) -> None: ...

    def max_id(self, table: str) -> int: ...

    def participants(self, codes: Iterable[str]) -> dict[str, R.Participant | None]: ...

    def find_order(self, order_id: int) -> tuple[str, str, Decimal] | None: ...


def end_of_day(at: dt.datetime) -> dt.datetime:
    """Midnight (Beijing time) after ``at``, in UTC: when a DAY order expires."""
    local = at.astimezone(CHINA)
    midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), CHINA)
    return midnight.astimezone(dt.UTC)


class Batch:
    """One batch of commands applied in order over a :class:`Store` and a journal.

    The rows it produces (orders, events, trades, order states) are kept until the store
    writes them; :meth:`finish` first asserts the escrow invariant.
    """

    def __init__(self, store: Store, journal: Journal, now: dt.datetime, actor: str):
        self.store, self.journal, self.now, self.actor = store, journal, now, actor
        self.touched: set[str] = set()
        self.instruments: dict[str, R.Instrument] = {}
        self.participants: dict[str, R.Participant | None] = {}
        self.rows: dict[str, list[dict[str, Any]]] = {"orders": [], "events": [], "trades": []}
        self.states: dict[int, dict[str, Any]] = {}
        self.new_orders: set[int] = set()
        self.escrow_touched: set[tuple[str, str]] = set()  # (participant, instrument)
        self.books: dict[str, Cached] = {}
        self.ids: dict[str, int] = {}

    # ------------------------------------------------------------------ loading

    def _next_id(self, table: str) -> int:
        if table not in self.ids:
            self.ids[table] = self.store.max_id(table)
        self.ids[table] += 1
        return self.ids[table]

    def cached(self, code: str) -> tuple[Cached, R.Instrument]:
        if code not in self.instruments:
            self.instruments[code] = self.store.instrument(code)
            self.books[code] = self.store.book(self.instruments[code])
            self.touched.add(code)
            self._expire_due(self.books[code], self.instruments[code])
        return self.books[code], self.instruments[code]

    def participant(self, code: str) -> R.Participant | None:
        if code not in self.participants:
            self.participants[code] = self.store.participant(code)
        return self.participants[code]

    def prepare(self, requests: Iterable[Request]) -> None:
        """Load in bulk what the orders of the batch will touch (only speed, no effect)."""
        orders = [r for r in requests if isinstance(r, OrderRequest)]
        self.participants.update(self.store.participants({r.participant for r in orders}))
        keys_: set[tuple[str, str]] = set()
        lots: set[tuple[str, str]] = set()
        for code in {r.instrument for r in orders}:
            try:
                cached, _ = self.cached(code)
            except RuleViolation:
                continue  # the order itself will be refused with the message
            makers = set(cached.book.of)
            for who in makers | {r.participant for r in orders if r.instrument == code}:
                esc = keys.escrow(who, code, Venue.book)
                keys_.update({(keys.cash(who), "CNY"), (keys.hold(who), code), (esc, "CNY")})
                lots.add((esc, code))
            lots.update((keys.hold(r.participant), code) for r in orders
                        if r.instrument == code and r.side == R.Side.sell)  # fmt: skip
        self.journal.preload(keys_, lots)

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
        if not self.store.acts_for(actor, p.code):
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

    def _enter(self, cached: Cached, i: R.Instrument, p: R.Participant, req: OrderRequest,
               price: Decimal, expires: dt.datetime | None, mode: R.TradingMode) -> Ack:  # fmt: skip
        esc = keys.escrow(p.code, i.code, Venue.book)
        self.store.ensure_account(keys.escrow_account(p.code, i.code, Venue.book), self.now)
        oid = self._next_id("xch_orders")
        if req.side == R.Side.buy:
            reserve = R.buy_reserve(price, req.quantity, i.fee_buy)
            legs = [(keys.cash(p.code), "CNY", -reserve), (esc, "CNY", reserve)]
        else:
            reserve = Decimal(0)
            legs = [(keys.hold(p.code), i.code, -req.quantity), (esc, i.code, req.quantity)]
        try:
            posted = self._post(TxKind.escrow, legs, f"order:{oid}")
        except RuleViolation:  # short of cash or units: say how much is free and what is tied up
            short = self._short(p.code, i, req, reserve, price)
            if short is None:
                raise
            self._refuse([short])
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
               price: Decimal) -> Problem | None:  # fmt: skip
        """The problem of an order its participant cannot cover (None: it can)."""
        j = self.journal
        if req.side == R.Side.buy:
            free = j.balance(keys.cash(who), "CNY")
            if free >= reserve:
                return None
            fee = reserve - R.trade_value(price, req.quantity)
            return Problem(f"participant {who}", f"has {free:,} 元 of free cash; the order reserves "
                           f"{reserve:,} 元 ({req.quantity} × {price} + fee {fee})",
                           f"at most {free:,} 元 reserved", "pay money in or buy less")  # fmt: skip
        free = j.balance(keys.hold(who), i.code)
        if free >= req.quantity:
            return None
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
                 sell: Resting, buy_left: int, mode: str, seq: int, cached: Cached
                 ) -> TradeView:  # fmt: skip
        """Settle one fill (``buy_left``: serials the buy order still wants after it)."""
        q = Decimal(qty_serials) * i.quantum
        money = R.fill_money(price, q, buy.price, Decimal(buy_left) * i.quantum, buy.reserve,
                             i.fee_buy, i.fee_sell)  # fmt: skip
        buy.reserve = money.reserve_after
        tid = self._next_id("xch_trades")
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
        self.rows["events"].append(dict(id=self._next_id("xch_order_events"), order_id=o.order_id, kind=kind,
                                        quantity=qty, book_seq=seq, ledger_seq=posted.seq,
                                        by=self.actor, at=iso(self.now)))  # fmt: skip
        o.reserve = Decimal(0)
        status = {"cancel": "cancelled", "expire": "expired", "self_trade": "cancelled"}[kind]
        self.states[o.order_id] = dict(order_id=o.order_id, instrument=i.code, remaining=0,
                                       reserve=Decimal(0), status=status)  # fmt: skip

    def cancel(self, actor: Principal, order_id: int, kind: str) -> Ack:
        row = self.store.find_order(order_id)
        if row is None:  # entered earlier in this same batch?
            pending = next((o for o in self.rows["orders"] if o["id"] == order_id), None)
            if pending is not None:
                row = (pending["instrument"], pending["participant"], pending["quantity"])
        if row is None:
            raise RuleViolation([Problem("order", f"order {order_id} does not exist",
                                         "an order id", "check the order id")])  # fmt: skip
        instrument, who, qty = row
        if not self.store.acts_for(actor, who):
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

    def _expire_due(self, cached: Cached, i: R.Instrument) -> None:
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
        for who, code in sorted(self.escrow_touched):
            i, book = self.instruments[code], self.books[code].book
            cash = units = Decimal(0)
            for o in book.of.get(who, {}).values():
                if o.side == R.Side.buy:
                    cash += o.reserve
                else:
                    units += o.remaining
            esc = keys.escrow(who, code, Venue.book)
            self.journal.assert_balance(esc, "CNY", cash, "reserves of the open buy orders")
            self.journal.assert_balance(
                esc, code, units * i.quantum, "units of the open sell orders"
            )

    def finish(self) -> None:
        """Assert escrowed = open orders; the store then writes the batch."""
        self._assert_escrow()


# ------------------------------------------------------------------ the engine in memory


class MemoryStore:
    """Instruments, books and participants in memory (a store with nothing to write to)."""

    def __init__(self, journal: JournalState):
        self.journal = journal
        self.instruments: dict[str, R.Instrument] = {}
        self.books: dict[str, Cached] = {}
        self.people: dict[str, R.Participant] = {}
        self.members: set[tuple[str, str]] = set()
        self.ids: dict[str, int] = {}
        self.orders: dict[int, tuple[str, str, Decimal]] = {}
        self.trades: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []

    def instrument(self, code: str) -> R.Instrument:
        if code not in self.instruments:
            raise RuleViolation([Problem("instrument", f"'{code}' does not exist",
                                         "a listed instrument", "list it first")])  # fmt: skip
        return self.instruments[code]

    def book(self, instrument: R.Instrument) -> Cached:
        if instrument.code not in self.books:
            self.books[instrument.code] = Cached(Book(instrument.code, instrument.self_trade), 0,
                                                 "continuous", None)  # fmt: skip
        return self.books[instrument.code]

    def participant(self, code: str) -> R.Participant | None:
        return self.people.get(code)

    def acts_for(self, actor: Principal, participant: str) -> bool:
        return actor.role == Role.administrator or (actor.username, participant) in self.members

    def ensure_account(self, account: tuple[str, AccountKind, str], at: dt.datetime) -> None:
        key, kind, owner = account
        if key not in self.journal.accounts:
            self.journal.add_account(new_account(key, kind, owner, at))

    def max_id(self, table: str) -> int:
        return self.ids.get(table, 0)

    def participants(self, codes: Iterable[str]) -> dict[str, R.Participant | None]:
        return {c: self.people.get(c) for c in codes}

    def find_order(self, order_id: int) -> tuple[str, str, Decimal] | None:
        return self.orders.get(order_id)

    def write(self, batch: Batch) -> None:
        """Keep what the batch produced (ids, orders, trades and events)."""
        for name, table in (("orders", "xch_orders"), ("trades", "xch_trades"),
                            ("events", "xch_order_events")):  # fmt: skip
            rows = batch.rows[name]
            if rows:
                self.ids[table] = max(self.ids.get(table, 0), max(r["id"] for r in rows))
        for r in batch.rows["orders"]:
            self.orders[r["id"]] = (r["instrument"], r["participant"], r["quantity"])
        self.trades += batch.rows["trades"]
        self.events += batch.rows["events"]
        for cached in batch.books.values():
            cached.version += 1


class MemoryMarket:
    """The whole exchange in memory: the same :class:`Batch` over a journal in memory.

    What the property test drives with 10⁵ random operations, and the in-memory figure of
    the benchmark. ``at`` is the clock (UTC).
    """

    def __init__(self, at: dt.datetime | None = None, journal: JournalState | None = None):
        self.journal = journal or JournalState()
        self.store = MemoryStore(self.journal)
        self.at = at or dt.datetime(2026, 1, 5, 2, 0, tzinfo=dt.UTC)
        self.journal.add_commodity(CNY)
        for acc in keys.EXCHANGE_ACCOUNTS:
            self.store.ensure_account(acc, self.at)

    def add_instrument(self, i: R.Instrument) -> None:
        self.journal.add_commodity(Commodity(i.code, i.unit, i.places, True))
        self.store.instruments[i.code] = i
        for acc in keys.programme_accounts(i.programme.code):
            self.store.ensure_account(acc, self.at)

    def add_participant(self, p: R.Participant) -> None:
        self.store.people[p.code] = p
        for acc in keys.participant_accounts(p.code):
            self.store.ensure_account(acc, self.at)

    def post(self, kind: TxKind, legs: Iterable[tuple[str, str, Decimal, tuple[tuple[int, int], ...]]]
             ) -> Posted:  # fmt: skip
        """Post a registry movement (issue, transfer, freeze, retire…) straight to the journal."""
        postings = tuple(Posting(a, c, x, s) for a, c, x, s in legs)
        return self.journal.post(Entry(kind, postings, self.at))

    def execute(self, commands: Iterable[tuple[Principal, Request]]) -> list[Ack]:
        batch = Batch(self.store, self.journal, self.at, "exchange")
        commands = list(commands)
        acks = [batch.run(actor, req) for actor, req in commands]
        batch.finish()
        self.store.write(batch)
        return acks
