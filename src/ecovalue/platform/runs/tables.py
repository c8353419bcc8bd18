"""ORM tables of accounting runs, their result rows and publications (all immutable).

A publication names the run that is the official result of a year; a correction is a new
publication version that supersedes the previous one, never an edit.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from ecovalue.db.base import Base, Immutable, utcnow
from ecovalue.db.types import ExactDecimal


class AccountingRun(Base, Immutable):
    """One accounting run with the hashes that let anyone recompute it."""

    __tablename__ = "accounting_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_path: Mapped[str] = mapped_column(Text)
    dataset_name: Mapped[str | None] = mapped_column(String(120))
    year: Mapped[int] = mapped_column(Integer, index=True)
    profile_id: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16))  # completed
    input_hash: Mapped[str] = mapped_column(String(128))
    profile_hash: Mapped[str] = mapped_column(String(128))
    code_hash: Mapped[str] = mapped_column(String(128))
    provenance: Mapped[str] = mapped_column(Text)  # canonical JSON of everything passed in
    row_count: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )


class RunResultRow(Base, Immutable):
    """One row of a run's result table: (region, indicator, ecosystem type)."""

    __tablename__ = "run_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("accounting_runs.id"), index=True)
    region_code: Mapped[str] = mapped_column(String(32))
    region_name_zh: Mapped[str] = mapped_column(String(120))
    indicator: Mapped[str] = mapped_column(String(40))
    category: Mapped[str] = mapped_column(String(20))
    ecosystem_type: Mapped[str] = mapped_column(String(20))
    physical_quantity: Mapped[Decimal | None] = mapped_column(ExactDecimal(30, 6))
    physical_unit: Mapped[str] = mapped_column(String(40))
    value_current: Mapped[Decimal] = mapped_column(ExactDecimal(20, 2))
    value_constant: Mapped[Decimal] = mapped_column(ExactDecimal(20, 2))
    method: Mapped[str] = mapped_column(String(120))
    source: Mapped[str] = mapped_column(String(120))


class Publication(Base, Immutable):
    """Version ``version`` of the official result of ``year`` (the newest version counts)."""

    __tablename__ = "publications"
    __table_args__ = (UniqueConstraint("year", "version"),)
    # Committing a publication anchors the audit chain outside the database (docs/audit.md).
    __audit_checkpoint__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    version: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[int] = mapped_column(ForeignKey("accounting_runs.id"))
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("publications.id"))
    reason: Mapped[str] = mapped_column(Text)
    published_by: Mapped[str] = mapped_column(String(80))
    published_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )
