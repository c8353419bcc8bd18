"""Pure validation of department report rows (统计报表) against the dataset contract.

Items and units follow docs/dataset-format.md (statistics.csv and reported.csv). Every
problem of every row is returned at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from ecovalue.accounting.catalogue import (
    ECOSYSTEM_TYPES,
    INDICATORS,
    PROVISIONING_PRODUCT_INDICATORS,
)
from ecovalue.errors import Problem, UnitError
from ecovalue.units import conversion_factor, parse_unit

# Statistics items with a fixed unit dimension (docs/dataset-format.md, statistics.csv).
STATISTICS_ITEMS: Mapping[str, str] = {
    "water_use:domestic": "m**3",
    "water_use:industrial": "m**3",
    "water_use:agricultural": "m**3",
    "hydropower": "kW*h",
    "tourism:visits": "visit",
    "tourism:expenditure": "CNY/visit",
    "tourism:travel_hours": "h/visit",
    "wage:daily": "CNY/d",
    "tourism:revenue": "CNY",
    "emission:so2": "t",
    "emission:nox": "t",
    "emission:dust": "t",
    "load:cod": "t",
    "load:nh3n": "t",
    "load:tn": "t",
    "load:tp": "t",
    "climate:ac_days": "d",
    "gdp": "CNY",
}
REPORT_MODES = ("replace", "complement")
STATISTICS_COLUMNS = ("region_code", "year", "item", "indicator", "quantity", "unit", "source")
REPORTED_COLUMNS = (
    "region_code",
    "year",
    "indicator",
    "ecosystem_type",
    "quantity",
    "unit",
    "department",
    "mode",
    "source",
)


def _unit_problem(where: str, unit: Any, expected: str | None) -> Problem | None:
    try:
        parse_unit(str(unit or ""), where)
        if expected is not None:
            conversion_factor(str(unit), expected, where)
    except UnitError as exc:
        return Problem(
            where,
            str(exc),
            f"a unit convertible to '{expected or 'any'}'",
            "write the unit as in docs/dataset-format.md",
        )
    return None


def _expected_statistics_unit(item: str, indicator: Any) -> tuple[str | None, list[str]]:
    if item.startswith("product:"):
        if indicator not in PROVISIONING_PRODUCT_INDICATORS:
            return None, [f"product rows need indicator one of {PROVISIONING_PRODUCT_INDICATORS}"]
        return None, []
    if item.startswith("output_value:"):
        if item.split(":", 1)[1] not in INDICATORS:
            return "CNY", [f"'{item}' names no known indicator"]
        return "CNY", []
    if item in STATISTICS_ITEMS:
        return STATISTICS_ITEMS[item], []
    return None, [f"item '{item}' is unknown"]


def row_problems(i: int, row: Mapping[str, Any], district_code: str) -> list[Problem]:
    """Every problem of one submitted row (``table`` is 'statistics' or 'reported')."""
    where = f"row {i}"
    problems: list[Problem] = []
    region = str(row.get("region_code") or "")
    if not region.startswith(district_code):
        problems.append(
            Problem(
                where,
                f"region '{region}' is outside district {district_code}",
                f"a code starting with {district_code}",
                "report only for your district",
            )
        )
    try:
        q = Decimal(str(row.get("quantity")))
        if not q.is_finite():
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        problems.append(
            Problem(
                where,
                f"quantity '{row.get('quantity')}' is not a number",
                "a finite decimal number",
                "write digits, e.g. 1234.5",
            )
        )
    table = row.get("table")
    expected: str | None = None
    if table == "statistics":
        expected, issues = _expected_statistics_unit(
            str(row.get("item") or ""), row.get("indicator")
        )
        problems += [
            Problem(where, m, "an item listed in docs/dataset-format.md", "correct the item name")
            for m in issues
        ]
    elif table == "reported":
        spec = INDICATORS.get(str(row.get("item") or ""))
        if spec is None:
            problems.append(
                Problem(
                    where,
                    f"indicator '{row.get('item')}' is unknown",
                    "an indicator id of the catalogue",
                    "e.g. water_conservation",
                )
            )
        else:
            expected = spec.physical_unit
        if row.get("ecosystem_type") not in (*ECOSYSTEM_TYPES, "all"):
            problems.append(
                Problem(
                    where,
                    f"ecosystem_type '{row.get('ecosystem_type')}' is unknown",
                    ", ".join((*ECOSYSTEM_TYPES, "all")),
                    "choose a listed type",
                )
            )
        if row.get("mode") not in REPORT_MODES:
            problems.append(
                Problem(
                    where,
                    f"mode '{row.get('mode')}' is unknown",
                    "replace or complement",
                    "choose one",
                )
            )
    else:
        problems.append(
            Problem(
                where,
                f"table '{table}' is unknown",
                "statistics or reported",
                "say which table the row belongs to",
            )
        )
    unit_issue = _unit_problem(where, row.get("unit"), expected)
    if unit_issue:
        problems.append(unit_issue)
    return problems


def validate_rows(rows: Sequence[Mapping[str, Any]], district_code: str) -> list[Problem]:
    """Problems of all rows; an empty report is a problem too."""
    if not rows:
        return [Problem("report", "has no rows", "at least one row", "add the numbers")]
    return [p for i, r in enumerate(rows) for p in row_problems(i, r, district_code)]
