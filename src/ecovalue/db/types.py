"""Column types that behave the same on SQLite and PostgreSQL.

``Geometry`` is a PostGIS ``geometry`` column on PostgreSQL (real spatial type, usable by
``ST_*`` functions and GiST indexes) and a text column holding hex EWKB on SQLite. On both
backends Python sees shapely geometries whose SRID is carried inside the EWKB, so a round
trip is exact (no decimal rounding as with WKT). See docs/decisions/0101-geometry-storage.md.
"""

from __future__ import annotations

import decimal
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Numeric, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine, UserDefinedType

from ecovalue.errors import InputError


class PostGISGeometry(UserDefinedType[Any]):
    """The PostGIS ``geometry`` type; values travel as hex EWKB text (PostGIS parses it)."""

    cache_ok = True

    def __init__(self, geometry_type: str = "Geometry", srid: int | None = None) -> None:
        self.geometry_type = geometry_type
        self.srid = srid

    def get_col_spec(self, **kw: Any) -> str:
        if self.srid is None:
            return f"geometry({self.geometry_type})"
        return f"geometry({self.geometry_type},{self.srid})"


class Geometry(TypeDecorator[BaseGeometry]):
    """A shapely geometry column: PostGIS ``geometry`` on PostgreSQL, hex EWKB text elsewhere.

    ``srid`` (optional) is the SRID written into geometries that carry none.
    """

    impl = Text
    cache_ok = True

    def __init__(self, geometry_type: str = "Geometry", srid: int | None = None) -> None:
        super().__init__()
        self.geometry_type = geometry_type
        self.srid = srid

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(PostGISGeometry(self.geometry_type, self.srid))
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: BaseGeometry | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, BaseGeometry):
            raise TypeError(f"expected a shapely geometry, got {type(value).__name__}")
        if self.srid is not None and shapely.get_srid(value) == 0:
            value = shapely.set_srid(value, self.srid)
        return str(shapely.to_wkb(value, hex=True, include_srid=True))

    def process_result_value(self, value: Any, dialect: Dialect) -> BaseGeometry | None:
        if value is None:
            return None
        if isinstance(value, memoryview | bytes):
            return shapely.from_wkb(bytes(value))
        return shapely.from_wkb(str(value))

    def __repr__(self) -> str:
        return f"Geometry({self.geometry_type!r}, srid={self.srid!r})"


class ExactDecimal(TypeDecorator[decimal.Decimal]):
    """An exact decimal: ``NUMERIC(p, s)`` on PostgreSQL, text on SQLite.

    SQLite stores NUMERIC as a binary float (15-16 significant digits), which would round
    money silently; the text form keeps every digit. Values are quantized to ``scale``
    places with ROUND_HALF_EVEN on the way in; a value with more than ``precision - scale``
    digits before the point, or not finite, is refused on both backends (PostgreSQL would
    raise, SQLite would store it). Do not compare or sum these columns in SQL on
    SQLite: text compares lexically; sum in Python with :class:`decimal.Decimal`.
    """

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int = 20, scale: int = 2) -> None:
        super().__init__()
        self.precision = precision
        self.scale = scale
        self._quantum = decimal.Decimal(1).scaleb(-scale)

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(self.precision + 2))
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError(f"{value!r} is a float; pass a Decimal (money is never float)")
        value = decimal.Decimal(value)
        problem = self.out_of_bounds(value)
        if problem:
            raise InputError(f"a NUMERIC({self.precision}, {self.scale}) value {problem}")
        q = self._quantized(value)
        return str(q) if dialect.name == "sqlite" else q

    def _quantized(self, value: decimal.Decimal) -> decimal.Decimal:
        # a context wide enough for every digit the column holds (the default has 28)
        with decimal.localcontext(prec=self.precision + 2):
            return value.quantize(self._quantum, rounding=decimal.ROUND_HALF_EVEN)

    def out_of_bounds(self, value: decimal.Decimal) -> str | None:
        """Why the column cannot hold ``value`` (None when it can)."""
        if not value.is_finite():
            return f"is {value}; expected a finite number"
        digits = self.precision - self.scale
        if value.adjusted() >= digits or self._quantized(value).adjusted() >= digits:
            return f"= {value} has more than {digits} digits before the decimal point"
        return None

    def process_result_value(self, value: Any, dialect: Dialect) -> decimal.Decimal | None:
        if value is None:
            return None
        return self._quantized(decimal.Decimal(str(value)))

    def __repr__(self) -> str:
        return f"ExactDecimal({self.precision}, {self.scale})"
