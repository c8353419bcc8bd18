"""ORM tables of the eco-product catalogue (生态产品目录清单); every row is immutable.

A catalogue is kept as yearly versions: building again for a year writes a new version
that supersedes the previous one, whose entries stay readable.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from ecovalue.db.base import Base, Immutable, utcnow
from ecovalue.db.types import ExactDecimal


class CatalogueVersion(Base, Immutable):
    """Version ``version`` of the catalogue of ``year`` (the newest version is current)."""

    __tablename__ = "catalogue_versions"
    __table_args__ = (UniqueConstraint("year", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    version: Mapped[int] = mapped_column(Integer)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("catalogue_versions.id"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("accounting_runs.id"))
    note: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )


class CatalogueEntry(Base, Immutable):
    """One catalogue line: an eco-product sub-item of a region with quantity and unit."""

    __tablename__ = "catalogue_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("catalogue_versions.id"), index=True)
    product_class: Mapped[str] = mapped_column(String(16))  # provisioning|regulating|cultural
    sub_item: Mapped[str] = mapped_column(String(60))  # indicator id or census item
    sub_item_zh: Mapped[str] = mapped_column(String(120))
    region_code: Mapped[str] = mapped_column(String(32))
    region_name: Mapped[str | None] = mapped_column(String(120))
    quantity: Mapped[Decimal | None] = mapped_column(ExactDecimal(30, 6))
    unit: Mapped[str] = mapped_column(String(40))
    quality_grade: Mapped[str | None] = mapped_column(String(40))
    location: Mapped[str | None] = mapped_column(String(200))
    department: Mapped[str] = mapped_column(String(80))
    year: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(80))  # "accounting run <id>" or "census"
    value_current: Mapped[Decimal | None] = mapped_column(ExactDecimal(20, 2))  # 元


class CatalogueEntryParcel(Base, Immutable):
    """Links a catalogue entry to a register parcel (自然资源登记单元)."""

    __tablename__ = "catalogue_entry_parcels"
    __table_args__ = (UniqueConstraint("entry_id", "parcel_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("catalogue_entries.id"), index=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id"))
