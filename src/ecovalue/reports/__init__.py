"""Reports of an accounting run: maps, charts, the XLSX workbook (核算表) and report.html.

``write_all`` renders every figure once and writes, under ``out_dir``:
``report.html`` (self-contained), ``results.xlsx`` and ``figures/<name>.png``.
Chinese text uses the Noto Sans CJK font shipped in the ``mplfonts`` package
(``ecovalue.reports.fonts``), so output looks the same on a fresh machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ecovalue.accounting.result import RunResult

if TYPE_CHECKING:
    from ecovalue.accounting.uncertainty import UncertaintyResult

HTML_NAME = "report.html"
XLSX_NAME = "results.xlsx"
FIGURES_DIR = "figures"


def write_all(result: RunResult, out_dir: Path, ranges: UncertaintyResult | None = None) -> dict[str, Path]:
    """Write the HTML report, the workbook and every PNG figure; return name → path.

    ``ranges`` (a Monte Carlo run of this result) adds the uncertainty sheet and section.

    Keys: ``html``, ``xlsx`` and one per figure (``districts``, ``map_<indicator>``,
    ``chart_<name>``). Raises :class:`~ecovalue.errors.InputError` for a malformed table.
    """
    from ecovalue.reports.charts import render_charts
    from ecovalue.reports.html import write_html
    from ecovalue.reports.maps import render_maps
    from ecovalue.reports.xlsx import check_table, write_xlsx

    check_table(result)
    out_dir = Path(out_dir)
    fig_dir = out_dir / FIGURES_DIR
    fig_dir.mkdir(parents=True, exist_ok=True)
    images = {**render_maps(result), **render_charts(result)}
    paths: dict[str, Path] = {}
    for name, png in images.items():
        paths[name] = fig_dir / f"{name}.png"
        paths[name].write_bytes(png)
    paths["xlsx"] = write_xlsx(result, out_dir / XLSX_NAME, ranges=ranges)
    paths["html"] = write_html(result, out_dir / HTML_NAME, images, ranges=ranges)
    return paths
