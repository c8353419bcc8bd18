"""ORM tables of monitoring: stations, observations (immutable), quality flags and alerts.

Observations are never edited or deleted; quality flags are added beside them. Alerts
change only their status (open → acknowledged), which the audit log records.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from shapely.geometry.base import BaseGeometry
from sqlalchemy import (
    Boolean,
    DateTime,
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

LOCATION_SRID = 4490  # CGCS2000 geographic (longitude, latitude)


class Station(Base):
    """A monitoring station, section or plot with its location (CGCS2000 lon/lat)."""

    __tablename__ = "monitoring_stations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # StationKind
    district_code: Mapped[str] = mapped_column(String(32), index=True)
    location: Mapped[BaseGeometry] = mapped_column(Geometry("Point", LOCATION_SRID))
    river: Mapped[str | None] = mapped_column(String(80))
    water_body: Mapped[str | None] = mapped_column(String(8))  # river | lake
    upstream_district: Mapped[str | None] = mapped_column(String(32))
    downstream_district: Mapped[str | None] = mapped_column(String(32))
    target_class: Mapped[int | None] = mapped_column(Integer)  # 1..5 (I..V)
    expected_interval_s: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )


class Observation(Base, Immutable):
    """One value of a parameter at a station and time, in the parameter's canonical unit."""

    __tablename__ = "monitoring_observations"
    __table_args__ = (UniqueConstraint("station_id", "parameter", "observed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("monitoring_stations.id"), index=True)
    parameter: Mapped[str] = mapped_column(String(20))
    observed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))  # UTC
    value: Mapped[Decimal] = mapped_column(ExactDecimal(24, 6))
    unit: Mapped[str] = mapped_column(String(20))  # canonical unit of the parameter
    raw_value: Mapped[str] = mapped_column(String(40))  # as received
    raw_unit: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(200))
    recorded_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )


class QualityFlag(Base, Immutable):
    """A quality flag on an observation (range, spike, flat_line, gap); data stay stored."""

    __tablename__ = "monitoring_flags"
    __table_args__ = (UniqueConstraint("observation_id", "flag"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    observation_id: Mapped[int] = mapped_column(
        ForeignKey("monitoring_observations.id"), index=True
    )
    flag: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )


class Alert(Base):
    """An exceedance: a section worse than its target class, or AQI > 100."""

    __tablename__ = "monitoring_alerts"
    __table_args__ = (UniqueConstraint("station_id", "kind", "observed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("monitoring_stations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # water_class | aqi
    observed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    value: Mapped[int] = mapped_column(Integer)  # class number or AQI
    threshold: Mapped[int] = mapped_column(Integer)  # target class or 100
    detail: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | acknowledged
    acknowledged_by: Mapped[str | None] = mapped_column(String(80))
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )
