"""docs/dataset-format.md lists the unit every indicator, statistic, raster and land-cover
column expects — as the code declares it, spelt as users read it — and every spelling it
says is accepted really converts to that unit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ecovalue.accounting.catalogue import INDICATORS
from ecovalue.datasets.expectations import LANDCOVER_COLUMNS, RASTERS, STATISTICS_ITEMS
from ecovalue.units import conversion_factor, format_unit, parse_unit

DOC = Path(__file__).parents[1] / "docs" / "dataset-format.md"
CODE: dict[str, dict[str, str]] = {
    "indicator": {k: s.physical_unit for k, s in INDICATORS.items()},
    "raster": {k: v[0] for k, v in RASTERS.items()},
    "column": {k: v[0] for k, v in LANDCOVER_COLUMNS.items()},
    "item": dict(STATISTICS_ITEMS),
}


def _tables() -> dict[str, list[dict[str, str]]]:
    """First header cell of each markdown table → its rows as {header: cell}."""
    tables: dict[str, list[dict[str, str]]] = {}
    head: list[str] | None = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            head = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if head is None:
            head = cells
            tables.setdefault(head[0], [])
        elif not set("".join(cells)) <= set("-: "):
            tables[head[0]].append(dict(zip(head, cells, strict=False)))
    return tables


def _key(cell: str) -> str | None:
    m = re.match(r"`([^`]+)`", cell)
    return re.sub(r"<[^>]+>", "", m.group(1)) if m else None


def _rows(kind: str) -> dict[str, dict[str, str]]:
    return {k: r for r in _tables()[kind] if (k := _key(r[kind])) is not None}


@pytest.mark.parametrize("kind", sorted(CODE))
def test_the_doc_lists_every_input_with_the_unit_the_code_expects(kind: str) -> None:
    rows = _rows(kind)
    missing = sorted(set(CODE[kind]) - set(rows))
    assert not missing, f"docs/dataset-format.md has no row for {kind} {missing}: add it"
    for key, row in rows.items():
        expected = CODE[kind].get(key)
        assert expected is not None, f"the doc lists {kind} '{key}', which the code does not know"
        unit = row.get("unit") or row["expected unit"]
        if expected == "*":
            assert unit.startswith("any"), (key, unit)
        else:
            assert unit == format_unit(expected), f"{kind} {key}: doc says {unit!r}, code {expected!r}"


@pytest.mark.parametrize("kind", ["indicator", "raster", "item"])
def test_every_spelling_the_doc_accepts_converts(kind: str) -> None:
    for key, row in _rows(kind).items():
        expected = CODE[kind][key]
        for spelling in (s.strip() for s in row["also accepted, e.g."].split(",")):
            if spelling.startswith("–"):
                continue
            parse_unit(spelling, f"doc row {key}")
            if expected not in ("*", "class"):
                assert conversion_factor(spelling, expected, f"doc row {key}") > 0
