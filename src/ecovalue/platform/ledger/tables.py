"""ORM tables of the journal.

The truth is ``ledger_transactions``: one row per posted transaction holding its canonical
body (postings with their serials) and the hash chaining it to the one before. Everything
else is either reference data written through the ORM (commodities, accounts; audited by the
session's listener) or *derived* from the transactions and recomputed by ``ledger verify``:
the postings index, the current balances and lots, the issued serial ranges, the snapshots
and the chain head (docs/decisions/0120-one-journal.md); those are ``__audit_exempt__``:
the audit record's replay skips them and ``ledger verify`` checks them (decision 0127). The
transactions are written with Core statements and recorded with
:func:`~ecovalue.platform.audit.service.record_inserts`. Times are ISO 8601 UTC text, so a
body hashes the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ecovalue.db.base import Base, Immutable
from ecovalue.db.types import ExactDecimal

# Amounts keep up to 6 decimal places in the database; each commodity allows at most its own.
AMOUNT = ExactDecimal(30, 6)


class LedgerCommodity(Base, Immutable):
    """A commodity: CNY or one instrument's unit, with its decimal places."""

    __tablename__ = "ledger_commodities"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    unit: Mapped[str] = mapped_column(String(20))
    places: Mapped[int] = mapped_column(Integer)
    serial: Mapped[bool] = mapped_column(Boolean)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[str] = mapped_column(String(40))


class LedgerAccount(Base):
    """A typed account with its lifetime; closing it is its only change."""

    __tablename__ = "ledger_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    owner: Mapped[str] = mapped_column(String(120), index=True)
    commodity: Mapped[str | None] = mapped_column(ForeignKey("ledger_commodities.code"))
    opened_at: Mapped[str] = mapped_column(String(40))
    closed_at: Mapped[str | None] = mapped_column(String(40))


class LedgerTransaction(Base, Immutable):
    """A posted transaction: canonical body and hash chain (the journal's truth)."""

    __tablename__ = "ledger_transactions"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    at: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(120))
    ref: Mapped[str | None] = mapped_column(String(80), index=True)  # = body meta "ref"
    reverses_seq: Mapped[int | None] = mapped_column(
        ForeignKey("ledger_transactions.seq"), unique=True
    )
    body: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class LedgerPosting(Base):
    """Index of postings by account (derived from the bodies; ``ledger verify`` checks it)."""

    __tablename__ = "ledger_postings"
    __audit_exempt__ = True  # derived: ``ledger verify`` recomputes it (decision 0127)
    __table_args__ = (Index("ix_ledger_postings_account", "account_id", "commodity", "seq"),)

    seq: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.seq"), primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    commodity: Mapped[str] = mapped_column(ForeignKey("ledger_commodities.code"))
    amount: Mapped[Decimal] = mapped_column(AMOUNT)
    serials: Mapped[str] = mapped_column(Text)  # "1-100,201-250"; empty for money


class LedgerBalance(Base):
    """Current balance per account and commodity: a cache of the postings, never the truth."""

    __tablename__ = "ledger_balances"
    __audit_exempt__ = True  # derived: ``ledger verify`` recomputes it (decision 0127)

    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), primary_key=True)
    commodity: Mapped[str] = mapped_column(ForeignKey("ledger_commodities.code"), primary_key=True)
    balance: Mapped[Decimal] = mapped_column(AMOUNT)
    last_seq: Mapped[int] = mapped_column(Integer)


class LedgerLot(Base):
    """A serial range an account holds now (derived; a split deletes it and adds two)."""

    __tablename__ = "ledger_lots"
    __audit_exempt__ = True  # derived: ``ledger verify`` recomputes it (decision 0127)
    __table_args__ = (
        Index("ix_ledger_lots_account", "account_id", "commodity", "serial_first"),
        Index("ix_ledger_lots_serial", "commodity", "serial_first", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    commodity: Mapped[str] = mapped_column(ForeignKey("ledger_commodities.code"))
    serial_first: Mapped[int] = mapped_column(BigInteger)
    serial_last: Mapped[int] = mapped_column(BigInteger)
    since_seq: Mapped[int] = mapped_column(Integer)


class LedgerIssuedRange(Base):
    """Every serial range ever issued (derived), so no serial is issued twice."""

    __tablename__ = "ledger_issued_ranges"
    __audit_exempt__ = True  # derived: ``ledger verify`` recomputes it (decision 0127)

    commodity: Mapped[str] = mapped_column(ForeignKey("ledger_commodities.code"), primary_key=True)
    serial_first: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    serial_last: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.seq"))


class LedgerSnapshot(Base):
    """Balances as of transaction ``seq`` (derived): balances at any time start from one."""

    __tablename__ = "ledger_snapshots"
    __audit_exempt__ = True  # derived: ``ledger verify`` recomputes it (decision 0127)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), primary_key=True)
    commodity: Mapped[str] = mapped_column(ForeignKey("ledger_commodities.code"), primary_key=True)
    balance: Mapped[Decimal] = mapped_column(AMOUNT)


class LedgerHead(Base):
    """The last sequence number and hash; writers lock this row to post in turn."""

    __tablename__ = "ledger_head"
    __audit_exempt__ = True  # derived: ``ledger verify`` recomputes it (decision 0127)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))
