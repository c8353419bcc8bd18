"""Polygons posted to the API as GeoJSON: bounded, and in a stated CRS.

The rule for coordinates (registers' parcels, plots, scenarios' polygons):

* With ``"crs": "EPSG:4490"`` (any CRS pyproj knows) beside the geometry, the coordinates
  are in that CRS and are reprojected to the target (the register's or the dataset's CRS).
* Without ``crs`` they are in the target CRS. When that CRS is projected (metres) and every
  coordinate lies within ±180 / ±90, the polygon is refused as ambiguous: it looks like
  longitude/latitude, which read as metres would be a parcel a few metres wide near the
  projection's origin (they were stored with area 0 before). Gauss-Krüger eastings carry a
  500 km false easting, so no real projected coordinate in China falls in that range.

Coordinates are finite and within ±1e8 (:data:`ecovalue.db.bounds.COORDINATE_MAX`), a
geometry has at most :data:`ecovalue.db.bounds.MAX_VERTICES` vertices, so every area is
finite and every request bounded.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
import shapely
import shapely.errors
import shapely.geometry
from pydantic import BaseModel, Field, TypeAdapter, model_validator
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from ecovalue.accounting.plot import to_grid_crs
from ecovalue.db.bounds import MAX_VERTICES, Coordinate, Text64
from ecovalue.errors import InputError

Position = Annotated[list[Coordinate], Field(min_length=2, max_length=3)]
Ring = Annotated[list[Position], Field(min_length=4, max_length=MAX_VERTICES)]
Rings = Annotated[list[Ring], Field(min_length=1, max_length=1000)]
CrsName = Annotated[
    Text64,
    Field(description="CRS of the coordinates, e.g. 'EPSG:4490' (CGCS2000 lon/lat); "
          "default: the target's CRS", examples=["EPSG:4490"]),
]  # fmt: skip


def _vertices(rings: list[list[list[float]]]) -> int:
    return sum(len(r) for r in rings)


class PolygonIn(BaseModel):
    """A GeoJSON Polygon: exterior ring first, then holes; each ring closed."""

    type: Literal["Polygon"]
    coordinates: Rings

    @model_validator(mode="after")
    def _bounded(self) -> PolygonIn:
        if _vertices(self.coordinates) > MAX_VERTICES:
            raise ValueError(f"more than {MAX_VERTICES} vertices in one geometry")
        return self


class MultiPolygonIn(BaseModel):
    """A GeoJSON MultiPolygon."""

    type: Literal["MultiPolygon"]
    coordinates: Annotated[list[Rings], Field(min_length=1, max_length=1000)]

    @model_validator(mode="after")
    def _bounded(self) -> MultiPolygonIn:
        if sum(_vertices(p) for p in self.coordinates) > MAX_VERTICES:
            raise ValueError(f"more than {MAX_VERTICES} vertices in one geometry")
        return self


GeometryIn = Annotated[PolygonIn | MultiPolygonIn, Field(discriminator="type")]


def to_shape(geometry: PolygonIn | MultiPolygonIn) -> BaseGeometry:
    """The shapely geometry of a posted polygon (2-D; a z coordinate is dropped)."""
    try:
        shape = shapely.geometry.shape(geometry.model_dump())
    except (ValueError, TypeError, shapely.errors.ShapelyError) as exc:
        raise InputError(
            f"geometry is not a valid GeoJSON {geometry.type} ({exc}); send e.g. "
            '{"type": "Polygon", "coordinates": [[[x, y], [x2, y2], [x3, y3], [x, y]]]}'
        ) from exc
    return shapely.force_2d(shape)


def looks_geographic(geom: BaseGeometry) -> bool:
    """True when every coordinate lies within ±180 (x) and ±90 (y)."""
    xy = shapely.get_coordinates(geom)
    return bool(len(xy)) and bool(
        np.all(np.abs(xy[:, 0]) <= 180) and np.all(np.abs(xy[:, 1]) <= 90)
    )


def in_target_crs(
    geometry: PolygonIn | MultiPolygonIn, crs: str | None, target: str, what: str
) -> BaseGeometry:
    """The posted polygon in the ``target`` CRS, by the rule of this module's docstring."""
    geom = to_shape(geometry)
    if crs:
        return to_grid_crs(geom, crs, target)
    if CRS.from_user_input(target).is_projected and looks_geographic(geom):
        x0, y0, x1, y1 = geom.bounds
        raise InputError(
            f"the {what}'s coordinates (x {x0:g}..{x1:g}, y {y0:g}..{y1:g}) look like "
            f"longitude/latitude, but no 'crs' is given and the {what} is kept in {target} "
            '(metres); add "crs": "EPSG:4490" (CGCS2000 lon/lat) or "EPSG:4326" (WGS 84) '
            "to have them reprojected, or send coordinates in metres"
        )
    return geom


#: Validates a stored or posted geometry dict (a job's parameters) as :data:`GeometryIn`.
GeometryAdapter: TypeAdapter[PolygonIn | MultiPolygonIn] = TypeAdapter(GeometryIn)
