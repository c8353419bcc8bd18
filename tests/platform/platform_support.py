"""Principals and helpers shared by the platform tests."""

from __future__ import annotations

import datetime as dt

import shapely

from ecovalue.platform.auth.rules import SYSTEM, Principal, Role

ADMIN = SYSTEM
ANALYST = Principal("ana", Role.analyst)
OFFICIAL_A = Principal("li", Role.district_official, district_code="420102")
OFFICIAL_B = Principal("wang", Role.district_official, district_code="420103")
REPORTER = Principal(
    "zhao", Role.department_reporter, district_code="420102", department="forestry"
)
PUBLIC = Principal("anon", Role.public)
D = dt.date


def square(x0: float, y0: float, size: float = 100.0) -> shapely.Polygon:
    """A size × size m square in EPSG:4547 near Wuhan (area = size² m²)."""
    return shapely.box(500000 + x0, 3380000 + y0, 500000 + x0 + size, 3380000 + y0 + size)
