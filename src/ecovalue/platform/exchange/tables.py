"""ORM tables of the exchange: participants, programmes, instruments, issuances, orders,
trades, listings and bids, negotiated transfers, certificates, indicator targets and
measurements, obligations.

Who holds what is not here: units and money are in the journal (``platform/ledger``), as
lots and balances of typed accounts. The order book's durable record is ``xch_orders``,
``xch_order_events`` and ``xch_trades`` (append-only; written by the trading service with
Core statements and their own audit entries); ``xch_order_state`` and ``xch_book_state`` are
derived from them, checked by ``exchange verify`` (decision 0125) and exempt from the audit
record's replay (decision 0127). Times of the trading
record are ISO 8601 UTC text, like the journal's.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ecovalue.db.base import Base, Immutable
from ecovalue.db.types import ExactDecimal

QTY = ExactDecimal(24, 6)
MONEY = ExactDecimal(20, 2)
PRICE = ExactDecimal(20, 4)
RATE = ExactDecimal(12, 6)


class Participant(Base):
    """A market participant (enterprise, individual, institution, district, government)."""

    __tablename__ = "xch_participants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    region_code: Mapped[str] = mapped_column(String(32), index=True)
    basin: Mapped[str | None] = mapped_column(String(60))
    sector: Mapped[str | None] = mapped_column(String(60))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[str] = mapped_column(String(40))


class Member(Base, Immutable):
    """A platform user who acts for a participant (sees and trades its accounts)."""

    __tablename__ = "xch_members"
    __table_args__ = (UniqueConstraint("participant_id", "username"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("xch_participants.id"))
    username: Mapped[str] = mapped_column(String(80), index=True)


class ProgrammeRow(Base):
    """A programme as adopted from a rule set; ``next_serial`` is its serial counter."""

    __tablename__ = "xch_programmes"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    ruleset_id: Mapped[str] = mapped_column(String(60))
    ruleset_sha256: Mapped[str] = mapped_column(String(64))
    definition: Mapped[str] = mapped_column(Text)  # canonical JSON of the Programme
    next_serial: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[str] = mapped_column(String(40))


class InstrumentRow(Base):
    """An instrument; its commodity in the journal has the same code."""

    __tablename__ = "xch_instruments"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    programme: Mapped[str] = mapped_column(ForeignKey("xch_programmes.code"))
    vintage: Mapped[int] = mapped_column(Integer)
    definition: Mapped[str] = mapped_column(Text)  # canonical JSON of the instrument's fields
    reference_price: Mapped[Decimal | None] = mapped_column(PRICE)
    halted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[str] = mapped_column(String(40))


class Issuance(Base, Immutable):
    """Units put into circulation: issuance, allocation or sink credits, with provenance."""

    __tablename__ = "xch_issuances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instrument: Mapped[str] = mapped_column(ForeignKey("xch_instruments.code"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # issue | allocate | sink | indicator
    participant_id: Mapped[int] = mapped_column(ForeignKey("xch_participants.id"))
    quantity: Mapped[Decimal] = mapped_column(QTY)
    buffer_quantity: Mapped[Decimal] = mapped_column(QTY)
    serial_first: Mapped[int] = mapped_column(BigInteger)
    serial_last: Mapped[int] = mapped_column(BigInteger)
    price: Mapped[Decimal | None] = mapped_column(PRICE)  # paid-use price per unit (有偿使用)
    amount: Mapped[Decimal | None] = mapped_column(MONEY)
    ledger_seq: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.seq"))
    provenance: Mapped[str] = mapped_column(Text)  # canonical JSON: rules, runs, hashes
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[str] = mapped_column(String(40))


class Quota(Base, Immutable):
    """A district's allocation quota of an instrument (排污权, 水权 总量); the newest counts."""

    __tablename__ = "xch_quotas"
    __table_args__ = (UniqueConstraint("instrument", "district", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instrument: Mapped[str] = mapped_column(ForeignKey("xch_instruments.code"))
    district: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[Decimal] = mapped_column(QTY)
    source: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(80))


class SinkProject(Base, Immutable):
    """A forestry carbon-sink project: a registered parcel and its project period."""

    __tablename__ = "xch_sink_projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    programme: Mapped[str] = mapped_column(ForeignKey("xch_programmes.code"))
    participant_id: Mapped[int] = mapped_column(ForeignKey("xch_participants.id"))
    register_code: Mapped[str] = mapped_column(String(40))
    parcel_code: Mapped[str] = mapped_column(String(60))
    parcel_area_m2: Mapped[Decimal] = mapped_column(ExactDecimal(18, 2))
    start_year: Mapped[int] = mapped_column(Integer)
    end_year: Mapped[int] = mapped_column(Integer)
    methodology: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[str] = mapped_column(String(40))


class Order(Base, Immutable):
    """An accepted order as it entered the book (rejected orders are never stored)."""

    __tablename__ = "xch_orders"
    __table_args__ = (Index("ix_xch_orders_book", "instrument", "book_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    instrument: Mapped[str] = mapped_column(ForeignKey("xch_instruments.code"))
    participant: Mapped[str] = mapped_column(String(60), index=True)
    side: Mapped[str] = mapped_column(String(4))
    kind: Mapped[str] = mapped_column(String(16))
    mode: Mapped[str] = mapped_column(String(12))  # continuous | call
    price: Mapped[Decimal] = mapped_column(PRICE)  # the limit (a market-to-limit's taken price)
    quantity: Mapped[Decimal] = mapped_column(QTY)
    tif: Mapped[str] = mapped_column(String(4))
    expires_at: Mapped[str | None] = mapped_column(String(40))
    reserve: Mapped[Decimal] = mapped_column(MONEY)  # cash reserved at entry (buy orders)
    book_seq: Mapped[int] = mapped_column(BigInteger)
    ledger_seq: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.seq"))
    client_ref: Mapped[str | None] = mapped_column(String(80))
    accepted_at: Mapped[str] = mapped_column(String(40))


class OrderEvent(Base, Immutable):
    """An order leaving the book other than by trading: cancelled, expired, self-trade."""

    __tablename__ = "xch_order_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    order_id: Mapped[int] = mapped_column(ForeignKey("xch_orders.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # cancel | expire | self_trade | no_rest
    quantity: Mapped[Decimal] = mapped_column(QTY)
    book_seq: Mapped[int] = mapped_column(BigInteger)
    ledger_seq: Mapped[int | None] = mapped_column(ForeignKey("ledger_transactions.seq"))
    by: Mapped[str] = mapped_column(String(80))
    at: Mapped[str] = mapped_column(String(40))


class Trade(Base, Immutable):
    """A trade: who, what, at which price; its settlement is a journal transaction."""

    __tablename__ = "xch_trades"
    __table_args__ = (Index("ix_xch_trades_instrument", "instrument", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    instrument: Mapped[str] = mapped_column(ForeignKey("xch_instruments.code"))
    mode: Mapped[str] = mapped_column(String(12))  # continuous | call | bidding | negotiated
    buy_order: Mapped[int | None] = mapped_column(ForeignKey("xch_orders.id"))
    sell_order: Mapped[int | None] = mapped_column(ForeignKey("xch_orders.id"))
    buyer: Mapped[str] = mapped_column(String(60), index=True)
    seller: Mapped[str] = mapped_column(String(60), index=True)
    price: Mapped[Decimal] = mapped_column(PRICE)
    quantity: Mapped[Decimal] = mapped_column(QTY)
    value: Mapped[Decimal] = mapped_column(MONEY)
    fee_buy: Mapped[Decimal] = mapped_column(MONEY)
    fee_sell: Mapped[Decimal] = mapped_column(MONEY)
    book_seq: Mapped[int | None] = mapped_column(BigInteger)
    cycle: Mapped[int] = mapped_column(Integer)  # 0: settled in its own entry; 1: T+1
    settle_on: Mapped[dt.date] = mapped_column(Date)
    ledger_seq: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.seq"))
    at: Mapped[str] = mapped_column(String(40))


class Settlement(Base, Immutable):
    """The delivery-versus-payment of a T+1 trade (T+0 trades settle in their own entry)."""

    __tablename__ = "xch_settlements"

    trade_id: Mapped[int] = mapped_column(ForeignKey("xch_trades.id"), primary_key=True)
    ledger_seq: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.seq"))
    at: Mapped[str] = mapped_column(String(40))


class OrderState(Base):
    """Remaining quantity, reserved cash and status of an order (derived from the record)."""

    __tablename__ = "xch_order_state"
    # derived from the trading record and checked against it by ``exchange verify``: not
    # recorded row by row in the audit record (decision 0127)
    __audit_exempt__ = True
    __table_args__ = (Index("ix_xch_order_state_open", "instrument", "status"),)

    order_id: Mapped[int] = mapped_column(ForeignKey("xch_orders.id"), primary_key=True)
    instrument: Mapped[str] = mapped_column(String(40))
    remaining: Mapped[int] = mapped_column(BigInteger)  # serials
    reserve: Mapped[Decimal] = mapped_column(MONEY)
    status: Mapped[str] = mapped_column(String(12))  # open | filled | cancelled | expired


class BookState(Base):
    """Per instrument: the book's version and sequence, phase, last price (derived)."""

    __tablename__ = "xch_book_state"
    # derived from the trading record and checked against it by ``exchange verify``: not
    # recorded row by row in the audit record (decision 0127)
    __audit_exempt__ = True

    instrument: Mapped[str] = mapped_column(ForeignKey("xch_instruments.code"), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    book_seq: Mapped[int] = mapped_column(BigInteger)
    phase: Mapped[str] = mapped_column(String(12))  # continuous | call
    last_price: Mapped[Decimal | None] = mapped_column(PRICE)
    last_at: Mapped[str | None] = mapped_column(String(40))


class Listing(Base):
    """An electronic-bidding listing (电子竞价): quantity, reserve price, window, result."""

    __tablename__ = "xch_listings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instrument: Mapped[str] = mapped_column(ForeignKey("xch_instruments.code"))
    seller: Mapped[str] = mapped_column(String(60))  # a participant, or the programme itself
    from_issuance: Mapped[bool] = mapped_column(Boolean)  # a government sale of new units
    quantity: Mapped[Decimal] = mapped_column(QTY)
    reserve_price: Mapped[Decimal] = mapped_column(PRICE)
    pricing: Mapped[str] = mapped_column(String(12))
    opens_at: Mapped[str] = mapped_column(String(40))
    closes_at: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(12))  # open | closed | cancelled
    result: Mapped[str | None] = mapped_column(Text)  # canonical JSON of the public result
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[str] = mapped_column(String(40))


class BidRow(Base):
    """A bid on a listing; its cash is in escrow until the result."""

    __tablename__ = "xch_bids"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("xch_listings.id"), index=True)
    bidder: Mapped[str] = mapped_column(String(60))
    price: Mapped[Decimal] = mapped_column(PRICE)
    quantity: Mapped[Decimal] = mapped_column(QTY)
    reserve: Mapped[Decimal] = mapped_column(MONEY)
    status: Mapped[str] = mapped_column(String(12))  # active | withdrawn | won | lost
    won_quantity: Mapped[Decimal | None] = mapped_column(QTY)
    placed_at: Mapped[str] = mapped_column(String(40))


class Transfer(Base):
    """A negotiated transfer (协议转让): proposal, acceptance, approval, settlement."""

    __tablename__ = "xch_transfers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instrument: Mapped[str] = mapped_column(ForeignKey("xch_instruments.code"))
    seller: Mapped[str] = mapped_column(String(60), index=True)
    buyer: Mapped[str] = mapped_column(String(60), index=True)
    proposer: Mapped[str] = mapped_column(String(60))
    quantity: Mapped[Decimal] = mapped_column(QTY)
    price: Mapped[Decimal] = mapped_column(PRICE)
    serials: Mapped[str] = mapped_column(Text)  # named serials or empty (lowest first)
    status: Mapped[str] = mapped_column(String(12))
    kind: Mapped[str] = mapped_column(String(12))  # negotiated | indicator
    note: Mapped[str] = mapped_column(Text)
    trade_id: Mapped[int | None] = mapped_column(ForeignKey("xch_trades.id"))
    decided_by: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[str] = mapped_column(String(40))
    updated_at: Mapped[str] = mapped_column(String(40))


class Certificate(Base, Immutable):
    """A retirement certificate (注销证明) with its public verification code."""

    __tablename__ = "xch_certificates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    verify_code: Mapped[str] = mapped_column(String(40), unique=True)
    instrument: Mapped[str] = mapped_column(ForeignKey("xch_instruments.code"))
    participant_id: Mapped[int] = mapped_column(ForeignKey("xch_participants.id"))
    quantity: Mapped[Decimal] = mapped_column(QTY)
    serials: Mapped[str] = mapped_column(Text)  # block serials, comma separated
    purpose: Mapped[str] = mapped_column(Text)
    beneficiary: Mapped[str] = mapped_column(String(200))
    ledger_seq: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.seq"))
    ledger_hash: Mapped[str] = mapped_column(String(64))
    retired_at: Mapped[str] = mapped_column(String(40))


class Hold(Base):
    """A freeze (dispute) or pledge of units; released by a later journal transaction."""

    __tablename__ = "xch_holds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # freeze | pledge
    participant: Mapped[str] = mapped_column(String(60), index=True)
    instrument: Mapped[str] = mapped_column(ForeignKey("xch_instruments.code"))
    quantity: Mapped[Decimal] = mapped_column(QTY)
    serials: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    counterparty: Mapped[str | None] = mapped_column(String(200))  # the lender of a pledge
    ledger_seq: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.seq"))
    released_seq: Mapped[int | None] = mapped_column(ForeignKey("ledger_transactions.seq"))
    created_by: Mapped[str] = mapped_column(String(80))


class IndicatorTarget(Base, Immutable):
    """A district's target for an indicator in a year, in the indicator's own measure."""

    __tablename__ = "xch_indicator_targets"
    __table_args__ = (UniqueConstraint("indicator", "district", "year", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    indicator: Mapped[str] = mapped_column(String(20))
    district: Mapped[str] = mapped_column(String(32))
    year: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)
    target: Mapped[Decimal] = mapped_column(ExactDecimal(24, 6))  # rate (0.55) or quantity
    source: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(80))


class IndicatorMeasure(Base, Immutable):
    """A district's measured indicator of a year, from a published run or monitoring."""

    __tablename__ = "xch_indicator_measures"
    __table_args__ = (UniqueConstraint("indicator", "district", "year", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    indicator: Mapped[str] = mapped_column(String(20))
    district: Mapped[str] = mapped_column(String(32))
    year: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)
    measured: Mapped[Decimal] = mapped_column(ExactDecimal(24, 6))  # in trade units
    basis: Mapped[Decimal] = mapped_column(ExactDecimal(24, 6))  # land area (亩) or sections
    provenance: Mapped[str] = mapped_column(Text)  # canonical JSON: run, publication, hashes
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[str] = mapped_column(String(40))


class Obligation(Base):
    """What the seller of an indicator trade must do: the patch, its upkeep, monitoring."""

    __tablename__ = "xch_obligations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("xch_transfers.id"), index=True)
    district: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # patch | upkeep | monitoring
    description: Mapped[str] = mapped_column(Text)
    parcel_code: Mapped[str | None] = mapped_column(String(60))
    due: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12))  # open | fulfilled
    updated_by: Mapped[str] = mapped_column(String(80))
