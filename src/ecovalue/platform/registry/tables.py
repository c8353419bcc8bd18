"""ORM tables of the rights register. Every row is immutable: changes are new rows.

A right's holding ends when a later transaction (transfer, equity contribution) disposes
of it; mortgages end by a release transaction. History queries replay these rows.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from shapely.geometry.base import BaseGeometry
from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from ecovalue.db.base import Base, Immutable, utcnow
from ecovalue.db.types import ExactDecimal, Geometry


class Register(Base):
    """A register (登记簿) with its projected CRS and the uses its red lines allow."""

    __tablename__ = "registers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    srid: Mapped[int] = mapped_column(Integer)
    red_line_uses: Mapped[str] = mapped_column(Text)  # JSON list of allowed use codes
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )


class Owner(Base, Immutable):
    """An owner: the state (全民所有, with the body exercising it) or a collective (集体所有)."""

    __tablename__ = "owners"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    representative_body: Mapped[str] = mapped_column(String(200))


class Parcel(Base, Immutable):
    """A registered unit of natural resource (自然资源登记单元) with its boundary."""

    __tablename__ = "parcels"
    __table_args__ = (UniqueConstraint("register_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    register_id: Mapped[int] = mapped_column(ForeignKey("registers.id"), index=True)
    code: Mapped[str] = mapped_column(String(60))
    resource_type: Mapped[str] = mapped_column(String(32))
    admin_code: Mapped[str] = mapped_column(String(32), index=True)
    red_line: Mapped[bool] = mapped_column(Boolean, default=False)
    owner_id: Mapped[int] = mapped_column(ForeignKey("owners.id"))
    area_m2: Mapped[Decimal] = mapped_column(ExactDecimal(18, 2))
    geometry: Mapped[BaseGeometry] = mapped_column(Geometry("Geometry"))
    # Bounding box, so candidate overlaps are found by an index on both backends.
    minx: Mapped[float] = mapped_column(Float, index=True)
    miny: Mapped[float] = mapped_column(Float)
    maxx: Mapped[float] = mapped_column(Float)
    maxy: Mapped[float] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )


class Right(Base, Immutable):
    """A right on a parcel held by ``holder`` from ``start_date`` to ``end_date`` (inclusive)."""

    __tablename__ = "rights"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    holder: Mapped[str] = mapped_column(String(200))
    share: Mapped[Decimal] = mapped_column(ExactDecimal(9, 6))
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    use: Mapped[str | None] = mapped_column(String(60))
    certificate_no: Mapped[str | None] = mapped_column(String(80))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("rights.id"))
    derived: Mapped[bool] = mapped_column(Boolean, default=False)  # a lease of parent_id
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )


class RightTransaction(Base, Immutable):
    """One event on a right: grant, transfer, lease, mortgage (and release), equity contribution."""

    __tablename__ = "right_transactions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    right_id: Mapped[int] = mapped_column(ForeignKey("rights.id"), index=True)
    new_right_id: Mapped[int | None] = mapped_column(ForeignKey("rights.id"))
    mortgage_id: Mapped[int | None] = mapped_column(ForeignKey("right_transactions.id"))
    counterparty: Mapped[str] = mapped_column(String(200))
    effective_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    consent_of: Mapped[str | None] = mapped_column(Text)  # JSON list of consenting mortgagees
    amount: Mapped[Decimal | None] = mapped_column(ExactDecimal(20, 2))  # 元: price, loan or rent
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )
