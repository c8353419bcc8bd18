"""The GEP totals table in 亿元 — what ``ecovalue account`` prints and the README shows.

One builder (:func:`totals_rows`) for both, so the README's figures are the figures a run
prints: each cell is the exact Decimal sum of the run's rows, divided by 10⁸ and shown with
two decimals (:func:`ecovalue.units.format_amount`); the 合计 row sums the whole table.
:func:`totals_markdown` writes the same rows as a Markdown table (``bench/readme_table.py``
puts the demo's into README.md; ``tests/test_readme.py`` checks it).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ecovalue.accounting.result import CATEGORY_ZH, RunResult
from ecovalue.reports.xlsx import CATEGORY_EN
from ecovalue.units import YI_YUAN, format_amount

ZERO = Decimal(0)
HEADERS_ZH = (*CATEGORY_ZH.values(), "GEP")
HEADERS = (*(f"{CATEGORY_ZH[c]} {CATEGORY_EN[c]}" for c in CATEGORY_ZH), "GEP")


@dataclass(frozen=True)
class TotalsRow:
    """One line of the table: a region (or the total) and its amounts in 亿元, as shown."""

    name_zh: str
    name_en: str
    cells: tuple[str, ...]  # provisioning, regulating, cultural, GEP
    gep_yuan: Decimal
    total: bool = False


def _row(name_zh: str, name_en: str, parts: list[Decimal], total: bool = False) -> TotalsRow:
    gep = sum(parts, ZERO)
    cells = tuple(format_amount(YI_YUAN.of(v)) for v in (*parts, gep))
    return TotalsRow(name_zh, name_en, cells, gep, total)


def totals_rows(result: RunResult) -> list[TotalsRow]:
    """A row per region in the run's order, then 合计 Total (exact sums of the whole table)."""
    t = result.table
    rows = []
    for r in result.regions:
        sub = t[t["region_code"] == r.code]
        parts = [sum(sub.loc[sub["category"] == c, "value_current"], ZERO) for c in CATEGORY_ZH]
        rows.append(_row(r.name_zh, r.name_en, parts))
    cats = result.totals()["by_category"]
    rows.append(_row("合计", "Total", [cats[c] for c in CATEGORY_ZH], total=True))
    return rows


def totals_markdown(result: RunResult, top: int | None = None) -> str:
    """The table in Markdown; with ``top`` only the ``top`` regions of highest GEP, then a line
    saying how many more there are, then the total."""
    rows = totals_rows(result)
    regions, total = rows[:-1], rows[-1]
    shown = sorted(regions, key=lambda r: r.gep_yuan, reverse=True)[:top] if top else regions
    label = "synthetic demo" if result.synthetic else (result.dataset_title_en or result.dataset_name)
    lines = [
        f"| {result.year} ({label}), 亿元 | " + " | ".join(HEADERS) + " |",
        "|---|" + "---:|" * len(HEADERS),
        *(f"| {r.name_zh} {r.name_en} | " + " | ".join(r.cells) + " |" for r in shown),
    ]
    if len(shown) < len(regions):
        lines.append(f"| … {len(regions) - len(shown)} more districts |" + " |" * len(HEADERS))
    lines.append(f"| **{total.name_zh} {total.name_en}** | " + " | ".join(f"**{c}**" for c in total.cells) + " |")
    return "\n".join(lines) + "\n"
