"""The order-book service over the database: :class:`Market` runs batches of commands.

:class:`Market` keeps each instrument's book in memory and runs a batch of commands
(:class:`~.engine.Batch`) as **one** unit of work: it takes the journal's lock, refreshes any
book another process changed (``xch_book_state.version``), runs the commands, and writes the
journal, the trading record (with its audit entries) and the derived order and book states.
Only after the commit are the commands answered, so an acknowledged order is durable (group
commit, decision 0123); :mod:`.gateway` is the thread that feeds it. Also here: T+1
settlement and the reading side (open orders, trades, depth).

This module opens its own units of work (it is a service: the one writer of the books).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from ecovalue.db.bulk import insert_rows, update_rows
from ecovalue.db.session import EcoSession, unit_of_work
from ecovalue.errors import Problem
from ecovalue.platform.audit.service import Head, read_head, record_inserts
from ecovalue.platform.auth.rules import Principal, Role
from ecovalue.platform.errors import RuleViolation
from ecovalue.platform.exchange import keys
from ecovalue.platform.exchange import rules as R
from ecovalue.platform.exchange import service as registry
from ecovalue.platform.exchange.book import Book, Resting
from ecovalue.platform.exchange.engine import (
    CHINA,
    Ack,
    Batch,
    Cached,
    CallRequest,
    CancelRequest,
    OrderRequest,
    PhaseRequest,
    Request,
    TradeView,
)
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
from ecovalue.platform.ledger.rules import AccountKind, Entry, Posting, TxKind, iso

__all__ = ["Ack", "CHINA", "CallRequest", "CancelRequest", "Market", "OrderRequest",
           "PhaseRequest", "R", "Request", "TradeView", "depth", "load_book", "open_orders",
           "settle_due", "trades"]  # fmt: skip

ORDERS = cast(Table, Order.__table__)
EVENTS = cast(Table, OrderEvent.__table__)
TRADES = cast(Table, Trade.__table__)
STATES = cast(Table, OrderState.__table__)
BOOKS = cast(Table, BookState.__table__)
TABLES = {t.name: t for t in (ORDERS, EVENTS, TRADES)}


@dataclass
class _Kept:
    """What a market keeps between its batches while nobody else writes (``token``)."""

    token: Head | None
    journal: ledger.JournalCache
    instruments: dict[str, R.Instrument] = field(default_factory=dict)
    participants: dict[str, R.Participant | None] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)


class Market:
    """This process's order books; :meth:`execute` runs one batch of commands.

    Between batches it keeps the books, the journal's loaded balances and lots, instruments,
    participants and id counters; at the start of a batch, inside the locks, the audit head
    says whether anyone else has written since (then everything is reloaded).
    """

    def __init__(self, factory: sessionmaker[EcoSession],
                 clock: Callable[[], dt.datetime] = ledger.now, actor: str = "exchange"):  # fmt: skip
        self.factory = factory
        self.clock = clock
        self.actor = actor
        self.books: dict[str, Cached] = {}
        self.members: set[tuple[str, str]] = set()
        self.accounts: set[str] = set()
        self.kept: _Kept | None = None
        self._lock = threading.Lock()  # one batch at a time: this object owns the books

    def execute(self, commands: Sequence[tuple[Principal, Request]]) -> list[Ack]:
        """Run ``commands`` in one transaction; each gets an :class:`Ack` after the commit."""
        with self._lock:
            kept, self.kept = self.kept, None  # valid again only after a commit
            try:
                with unit_of_work(self.factory, self.actor) as session:
                    journal = ledger.Journal(session, self.actor, kept.journal if kept else None)
                    store = _DbStore(self, session, kept if journal.reused else None)
                    batch = Batch(store, journal, self.clock(), self.actor)
                    batch.prepare(r for _, r in commands)
                    acks = [batch.run(actor, req) for actor, req in commands]
                    batch.finish()
                    store.write(batch)
                    token = read_head(session)
            except BaseException:
                self.books.clear()  # the books may have run ahead of the rolled-back database
                self.accounts.clear()  # accounts opened in the batch were rolled back too
                raise
            self.kept = _Kept(token, journal.keep(token), store.instruments, store.people,
                              {**store.ids, **batch.ids})  # fmt: skip
            return acks

    def book(self, instrument: str) -> Book | None:
        """The in-memory book of ``instrument`` (None until a batch has loaded it)."""
        cached = self.books.get(instrument)
        return cached.book if cached else None


class _DbStore:
    """The database behind a batch (inside the journal's lock)."""

    def __init__(self, market: Market, session: Session, kept: _Kept | None):
        self.m, self.s, self.kept = market, session, kept
        self.instruments = dict(kept.instruments) if kept else {}
        self.people = dict(kept.participants) if kept else {}
        self.ids = dict(kept.ids) if kept else {}

    def instrument(self, code: str) -> R.Instrument:
        if code not in self.instruments:
            self.instruments[code] = registry.get_instrument(self.s, code)
        return self.instruments[code]

    def book(self, instrument: R.Instrument) -> Cached:
        cached = self.m.books.get(instrument.code)
        if cached is not None and self.kept is not None:
            return cached  # nobody wrote since our last batch
        version = self.s.scalar(select(BookState.version)
                                .where(BookState.instrument == instrument.code))  # fmt: skip
        if cached is None or cached.version != version:
            cached = self.m.books[instrument.code] = load_book(self.s, instrument)
        return cached

    def participant(self, code: str) -> R.Participant | None:
        if code not in self.people:
            self.people.update(self.participants([code]))
        return self.people[code]

    def participants(self, codes: Iterable[str]) -> dict[str, R.Participant | None]:
        want = sorted(set(codes) - set(self.people))
        if want:
            rows = self.s.scalars(select(Participant).where(Participant.code.in_(want)))
            found = {r.code: registry.participant_record(r) for r in rows}
            self.people.update({c: found.get(c) for c in want})
        return {c: self.people[c] for c in codes}

    def acts_for(self, actor: Principal, participant: str) -> bool:
        if actor.role == Role.administrator or (actor.username, participant) in self.m.members:
            return True
        stmt = (select(Member.id).join(Participant, Participant.id == Member.participant_id)
                .where(Participant.code == participant, Member.username == actor.username))  # fmt: skip
        if self.s.scalar(stmt) is None:
            return False
        self.m.members.add((actor.username, participant))  # members are never removed
        return True

    def ensure_account(self, account: tuple[str, AccountKind, str], at: dt.datetime) -> None:
        if account[0] not in self.m.accounts:  # accounts are never deleted
            ledger.ensure_accounts(self.s, [account], at)
            self.m.accounts.add(account[0])

    def max_id(self, table: str) -> int:
        if table not in self.ids:
            self.ids[table] = int(self.s.scalar(select(func.max(TABLES[table].c.id))) or 0)
        return self.ids[table]

    def find_order(self, order_id: int) -> tuple[str, str, Decimal] | None:
        row = self.s.execute(select(Order.instrument, Order.participant, Order.quantity)
                             .where(Order.id == order_id)).first()  # fmt: skip
        return None if row is None else (row[0], row[1], row[2])

    def write(self, batch: Batch) -> None:
        """The journal, the trading record with its audit entries, the derived states."""
        cast(ledger.Journal, batch.journal).flush()
        conn = self.s.connection()
        for table, name in ((ORDERS, "orders"), (TRADES, "trades"), (EVENTS, "events")):
            insert_rows(conn, table, batch.rows[name])
            record_inserts(self.s, table, batch.rows[name], self.m.actor)
        new = [v for k, v in batch.states.items() if k in batch.new_orders]
        old = [{k: x for k, x in v.items() if k != "instrument"}
               for k, v in batch.states.items() if k not in batch.new_orders]  # fmt: skip
        insert_rows(conn, STATES, new)
        update_rows(conn, STATES, ("order_id",), old)
        for code in sorted(batch.touched):
            c = batch.books[code]
            conn.execute(update(BOOKS).where(BOOKS.c.instrument == code).values(
                version=BOOKS.c.version + 1, book_seq=c.book.seq, phase=c.phase,
                last_price=c.last_price, last_at=iso(batch.now)))  # fmt: skip
            c.version += 1


def load_book(session: Session, instrument: R.Instrument) -> Cached:
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
        book.rest(Resting(oid, who, R.Side(side), instrument.price(price), int(left), int(seq),
                          dt.datetime.fromisoformat(exp) if exp else None, reserve))  # fmt: skip
        kinds[oid] = kind
    book.seq = int(state.book_seq)
    return Cached(book, int(state.version), state.phase, state.last_price, kinds)


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
        **{side: [dict(price=i.price(p), quantity=Decimal(q) * i.quantum, orders=n)
                  for p, q, n in rows]
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
