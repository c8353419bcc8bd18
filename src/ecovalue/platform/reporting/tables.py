"""ORM tables of department reports. Submissions, rows and reviews are never edited.

A returned report is corrected by submitting a new version; every version is kept.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from ecovalue.db.base import Base, Immutable, utcnow
from ecovalue.db.types import ExactDecimal


class ReportSubmission(Base, Immutable):
    """One version of a department's report for a district and year."""

    __tablename__ = "report_submissions"
    __table_args__ = (UniqueConstraint("department", "district_code", "year", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    department: Mapped[str] = mapped_column(String(80))
    district_code: Mapped[str] = mapped_column(String(32), index=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    version: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    submitted_by: Mapped[str] = mapped_column(String(80))
    submitted_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )


class ReportRow(Base, Immutable):
    """One reported number: a statistics item or a reported physical quantity."""

    __tablename__ = "report_rows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("report_submissions.id"), index=True)
    table: Mapped[str] = mapped_column(String(16))  # statistics | reported
    region_code: Mapped[str] = mapped_column(String(32))
    item: Mapped[str] = mapped_column(String(80))  # statistics item, or indicator for reported
    indicator: Mapped[str | None] = mapped_column(String(40))  # product rows: which indicator
    ecosystem_type: Mapped[str | None] = mapped_column(String(20))
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal(28, 6))
    unit: Mapped[str] = mapped_column(String(40))
    mode: Mapped[str | None] = mapped_column(String(16))  # reported: replace | complement
    source: Mapped[str] = mapped_column(String(200))


class ReportReview(Base, Immutable):
    """The reviewer's decision on one submission: approved, or returned with a reason."""

    __tablename__ = "report_reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("report_submissions.id"), unique=True)
    decision: Mapped[str] = mapped_column(String(16))  # approved | returned
    reason: Mapped[str | None] = mapped_column(Text)
    reviewed_by: Mapped[str] = mapped_column(String(80))
    reviewed_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )
