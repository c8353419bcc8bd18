"""The bounds of every value the platform stores, said once: what both backends hold.

SQLite stores a 50 MB string in a ``VARCHAR(200)`` column, a NUL byte, a number of any size
in a text column; PostgreSQL refuses each of them with an error. Data that one backend takes
and the other refuses would not migrate, and the refusal surfaced as an HTTP 500. So every
field of every API schema uses one of the types below, whose bounds are those of the column
the value goes to (lengths of ``String(n)``, the range of ``INTEGER``, the digits of
``NUMERIC(p, s)``), and :func:`row_problems` checks the same bounds again for every row
written, whoever writes it (API, CLI, importer, a service building a string).

The formats of codes are data of the domain: Chinese administrative division codes
(统计用区划代码, GB/T 2260 with the township and village extensions) are 2 (province),
4 (prefecture), 6 (county / district), 9 (township) or 12 (village) digits, so a district's
sub-units share its code as prefix.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints
from sqlalchemy import Integer, String, inspect

from ecovalue.db.types import ExactDecimal
from ecovalue.errors import Problem

#: Range of an ``INTEGER`` column (32-bit on PostgreSQL; SQLite would hold 64 bits).
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
#: Years the platform accounts, reports and publishes (GEP series start after 2000; the
#: bounds leave room for back-casts and long leases, not for typing errors of a year).
YEAR_MIN, YEAR_MAX = 1900, 2200
#: Dates and times: the same span, so no conversion to UTC can leave Python's datetime range.
DATE_MIN, DATE_MAX = dt.date(YEAR_MIN, 1, 1), dt.date(YEAR_MAX, 12, 31)
#: Projected coordinates in metres: Gauss-Krüger eastings with the zone number in front are
#: below 4.6e7, northings below 1e7; 1e8 keeps every real coordinate and every area finite.
COORDINATE_MAX = 1e8
#: Vertices of one geometry posted to the API (a parcel boundary from a survey has hundreds).
MAX_VERTICES = 100_000
#: Rows of one posted list (report rows, census rows, observations).
MAX_ROWS = 10_000

NO_NUL = r"^[^\x00]*$"
#: Codes of records (registers, parcels, stations, dataset regions): ASCII letters, digits
#: and ``_ . : -``, starting with a letter or digit; no spaces, no wildcards, no slashes.
CODE_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z_.:-]*$"
ADMIN_CODE_PATTERN = r"^[0-9]{2}(?:[0-9]{2}(?:[0-9]{2}(?:[0-9]{3}(?:[0-9]{3})?)?)?)?$"
#: Identifiers of the engine's catalogue (indicators, items, units' spellings, parameters).
NAME_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:*/·^ -]*$"


def _text(max_length: int, min_length: int = 1) -> StringConstraints:
    """``min_length``..``max_length`` characters without NUL (a ``String(n)`` column)."""
    return StringConstraints(min_length=min_length, max_length=max_length, pattern=NO_NUL)


def _code(max_length: int) -> StringConstraints:
    """A record code of at most ``max_length`` characters (see :data:`CODE_PATTERN`)."""
    return StringConstraints(min_length=1, max_length=max_length, pattern=CODE_PATTERN)


def _identifier(max_length: int) -> StringConstraints:
    """An id of the engine's catalogue: an indicator, a statistics item, a unit spelling."""
    return StringConstraints(min_length=1, max_length=max_length, pattern=NAME_ID_PATTERN)


def _decimal(precision: int, scale: int, minimum: Decimal | None = None) -> Any:
    """A Decimal that a ``NUMERIC(precision, scale)`` column holds exactly.

    At most ``precision - scale`` digits before the point and ``scale`` after it: more
    decimals are refused, not rounded (a value is never changed silently).
    """
    limit = Decimal(10) ** (precision - scale) - Decimal(1).scaleb(-scale)
    return Field(
        ge=-limit if minimum is None else minimum,
        le=limit,
        max_digits=precision,
        decimal_places=scale,
        allow_inf_nan=False,
    )


def _in_years(value: Any) -> Any:
    year = value.year
    if not YEAR_MIN <= year <= YEAR_MAX:
        raise ValueError(f"year {year} is outside {YEAR_MIN}..{YEAR_MAX}")
    return value


Id = Annotated[int, Field(ge=1, le=INT_MAX, description="a record id (1 .. 2³¹−1)")]
Version = Annotated[int, Field(ge=1, le=INT_MAX, description="a version number (1, 2, …)")]
Year = Annotated[int, Field(ge=YEAR_MIN, le=YEAR_MAX, description="a calendar year")]
Day = Annotated[dt.date, AfterValidator(_in_years)]
Moment = Annotated[dt.datetime, AfterValidator(_in_years)]
AdminCode = Annotated[
    str,
    StringConstraints(min_length=2, max_length=12, pattern=ADMIN_CODE_PATTERN),
    Field(
        description="administrative division code: 2, 4, 6, 9 or 12 digits (e.g. 420102)",
        examples=["420102"],
    ),
]
Text20 = Annotated[str, _text(20)]
Text40 = Annotated[str, _text(40)]
Text60 = Annotated[str, _text(60)]
Text64 = Annotated[str, _text(64)]
Text80 = Annotated[str, _text(80)]
Text120 = Annotated[str, _text(120)]
Text200 = Annotated[str, _text(200)]
Text2000 = Annotated[str, _text(2000)]
Title200 = Annotated[str, _text(200, min_length=0)]  # may be empty
Note2000 = Annotated[str, _text(2000, min_length=0)]  # may be empty
RegionCode = Annotated[str, _code(32)]
Code40 = Annotated[str, _code(40)]
Code60 = Annotated[str, _code(60)]
Ident20 = Annotated[str, _identifier(20)]
Ident40 = Annotated[str, _identifier(40)]
Ident60 = Annotated[str, _identifier(60)]
Ident80 = Annotated[str, _identifier(80)]
Srid = Annotated[int, Field(ge=1024, le=998999, description="an EPSG code")]
#: 元 in a NUMERIC(20, 2) column; Amount: the same, not negative (prices, loans, rents).
Money = Annotated[Decimal, _decimal(20, 2)]
Amount = Annotated[Decimal, _decimal(20, 2, minimum=Decimal(0))]
#: Physical quantities: NUMERIC(28, 6) (reports), NUMERIC(30, 6) (catalogue, results).
Quantity = Annotated[Decimal, _decimal(28, 6)]
Quantity30 = Annotated[Decimal, _decimal(30, 6)]
#: The exchange's quantities of units (NUMERIC(24, 6)) and prices per unit (NUMERIC(20, 4)).
Quantity24 = Annotated[Decimal, _decimal(24, 6)]
Price = Annotated[Decimal, _decimal(20, 4, minimum=Decimal(0))]
Coordinate = Annotated[float, Field(ge=-COORDINATE_MAX, le=COORDINATE_MAX, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]


def _column_problem(column: Any, value: Any) -> tuple[str, str] | None:
    """(what is wrong, what fits) when ``column`` cannot hold ``value``."""
    kind = column.type
    if isinstance(value, str):
        if "\x00" in value:
            return "contains a NUL character (\\x00)", "text without NUL"
        length = getattr(kind, "length", None)
        if isinstance(kind, String) and length is not None and len(value) > length:
            return f"has {len(value)} characters", f"at most {length} characters"
    elif isinstance(kind, Integer) and isinstance(value, int) and not INT_MIN <= value <= INT_MAX:
        return f"is {value}", f"an integer in {INT_MIN}..{INT_MAX}"
    elif isinstance(kind, ExactDecimal) and isinstance(value, Decimal):
        problem = kind.out_of_bounds(value)
        if problem:
            return problem, f"a number NUMERIC({kind.precision}, {kind.scale}) holds"
    return None


def row_problems(obj: Any) -> list[Problem]:
    """What in the row ``obj`` (an ORM instance about to be written) its columns cannot hold."""
    mapper = inspect(obj).mapper
    problems = []
    for attr in mapper.column_attrs:
        column = attr.columns[0]
        value = getattr(obj, attr.key, None)
        found = _column_problem(column, value) if value is not None else None
        if found:
            where = f"{mapper.local_table.name}.{column.name}"
            problems.append(Problem(where, found[0], found[1], "shorten or correct the value"))
    return problems
