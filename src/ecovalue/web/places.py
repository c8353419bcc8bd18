"""Stations and parcels as the pages show them, read through the monitoring and register
services (which decide what the signed-in user may see).

A station's "latest class" is the GB 3838-2002 class (water sections) or the HJ 633-2012
AQI and its band (air stations) of its newest sample (``monitoring.service.assess_station``
over that one sampling time). AQI bands: HJ 633-2012 Table 2 (0–50 优, 51–100 良,
101–150 轻度污染, 151–200 中度污染, 201–300 重度污染, > 300 严重污染).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import shapely
from sqlalchemy.orm import Session

from ecovalue.platform.auth.rules import Principal, Role
from ecovalue.platform.errors import NotFound, PermissionDenied
from ecovalue.platform.monitoring import service as monitoring
from ecovalue.platform.monitoring.rules import IAQI_LEVELS, StationKind
from ecovalue.platform.monitoring.tables import Station
from ecovalue.platform.registry import service as registry
from ecovalue.platform.registry.tables import Parcel
from ecovalue.web.geography import for_browser, reproject

# the parameter whose newest sample dates a station's latest class
CLOCK_PARAMETER = {StationKind.water_section: "DO", StationKind.air: "PM2.5",
                   StationKind.wetland_plot: "DO"}
CLASS_COLORS = ("#2e86de", "#27ae60", "#f1c40f", "#e67e22", "#c0392b", "#6c3483")
AQI_COLORS = ("#00e400", "#ffff00", "#ff7e00", "#ff0000", "#99004c", "#7e0023")  # HJ 633 Table 2


@dataclass(frozen=True)
class StationView:
    """A station with its newest assessment."""

    station: Station
    lon: float
    lat: float
    latest_at: dt.datetime | None
    water_class: str | None
    water_class_number: int | None
    aqi: int | None
    aqi_band: int | None  # 1..6

    @property
    def color(self) -> str:
        if self.water_class_number:
            return CLASS_COLORS[self.water_class_number - 1]
        if self.aqi_band:
            return AQI_COLORS[self.aqi_band - 1]
        return "#7f8c8d"


def aqi_band(aqi: int) -> int:
    """Band 1..6 of an AQI (HJ 633-2012 Table 2; band edges are ``IAQI_LEVELS``)."""
    edges = (IAQI_LEVELS[1], IAQI_LEVELS[2], IAQI_LEVELS[3], IAQI_LEVELS[4], IAQI_LEVELS[5])
    return 1 + sum(aqi > e for e in edges)


def _latest(session: Session, user: Principal, station: Station) -> dt.datetime | None:
    parameter = CLOCK_PARAMETER.get(StationKind(station.kind))
    if parameter is None:
        return None
    points = monitoring.time_series(session, user, station.code, parameter)
    return max((p.observed_at for p in points), default=None)


def station_view(session: Session, user: Principal, station: Station) -> StationView:
    """A station and the class of its newest sample."""
    at = _latest(session, user, station)
    water = air = None
    if at is not None:
        a = monitoring.assess_station(session, user, station.code, at, at)
        water, air = a.water, a.air
    return StationView(
        station, shapely.get_x(station.location), shapely.get_y(station.location), at,
        water.label if water else None, water.water_class if water else None,
        air.aqi if air else None, aqi_band(air.aqi) if air else None)


def stations(session: Session, user: Principal, district: str | None = None,
             kind: str | None = None) -> list[StationView] | None:
    """Stations of a district with their latest class, or None when the user may not read them."""
    try:
        found = monitoring.list_stations(session, user, district, kind)
    except PermissionDenied:
        return None
    return [station_view(session, user, s) for s in found]


def station_feature(v: StationView, label: str) -> dict[str, Any]:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [v.lon, v.lat]},
            "properties": {"code": v.station.code, "name": v.station.name, "kind": v.station.kind,
                           "label": label, "color": v.color, "water_class": v.water_class,
                           "aqi": v.aqi}}


def registers(session: Session) -> list[Any]:
    return registry.list_registers(session)


def parcels(session: Session, user: Principal, district: str | None = None,
            register_code: str | None = None) -> list[tuple[Any, Parcel]] | None:
    """(register, parcel) pairs the user may read, of a district; None for the public."""
    if user.role == Role.public:
        return None
    out = []
    for reg in registers(session):
        if register_code and reg.code != register_code:
            continue
        for p in registry.list_parcels(session, user, reg.code):
            if district is None or p.admin_code.startswith(district):
                out.append((reg, p))
    return out


def parcel(session: Session, user: Principal, parcel_id: int) -> tuple[Any, Parcel]:
    """One parcel the user may read (NotFound for one out of scope: its existence is hidden)."""
    for reg, p in parcels(session, user) or []:
        if p.id == parcel_id:
            return reg, p
    raise NotFound(f"no parcel {parcel_id} in the registers you may read")


def parcel_feature(reg: Any, p: Parcel) -> dict[str, Any]:
    geom = for_browser(reproject(p.geometry, f"EPSG:{reg.srid}"))
    return {"type": "Feature", "geometry": shapely.geometry.mapping(geom),
            "properties": {"id": p.id, "code": p.code, "resource_type": p.resource_type,
                           "admin_code": p.admin_code, "red_line": p.red_line,
                           "area_m2": str(p.area_m2)}}


def area_ha(p: Parcel) -> Decimal:
    return Decimal(p.area_m2) / Decimal(10_000)
