"""Grid geometry: CRS, affine transform and size shared by all rasters of a dataset."""

from __future__ import annotations

from dataclasses import dataclass

from affine import Affine


@dataclass(frozen=True)
class Grid:
    """A north-up raster grid.

    ``transform`` maps (col, row) to projected coordinates; ``crs`` is any string rasterio
    and pyproj accept (``"EPSG:4547"`` or WKT).
    """

    crs: str
    transform: Affine
    width: int
    height: int

    @property
    def shape(self) -> tuple[int, int]:
        return (self.height, self.width)

    @property
    def cell_width(self) -> float:
        return abs(self.transform.a)

    @property
    def cell_height(self) -> float:
        return abs(self.transform.e)

    @property
    def pixel_area_m2(self) -> float:
        """Area of one pixel in m² (the CRS must be projected in metres)."""
        return self.cell_width * self.cell_height

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top)."""
        left, top = self.transform.c, self.transform.f
        right = left + self.width * self.transform.a
        bottom = top + self.height * self.transform.e
        return (left, min(top, bottom), right, max(top, bottom))

    def same_as(self, other: Grid, tol: float = 1e-6) -> bool:
        """True when both grids have the same CRS, size and (nearly) the same transform."""
        from pyproj import CRS

        if (self.width, self.height) != (other.width, other.height):
            return False
        if not CRS.from_user_input(self.crs).equals(CRS.from_user_input(other.crs)):
            return False
        return all(abs(a - b) <= tol for a, b in zip(self.transform[:6], other.transform[:6], strict=True))

    @classmethod
    def from_bounds(cls, crs: str, left: float, bottom: float, right: float, top: float, resolution: float) -> Grid:
        """A grid covering the bounds with square pixels of ``resolution`` metres."""
        import math

        width = max(1, math.ceil((right - left) / resolution))
        height = max(1, math.ceil((top - bottom) / resolution))
        return cls(crs, Affine(resolution, 0.0, left, 0.0, -resolution, top), width, height)
