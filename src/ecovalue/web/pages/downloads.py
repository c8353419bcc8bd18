"""Downloads of a published year: the detail table (CSV), the accounting workbook (XLSX,
the 核算表 the run wrote) and the district results with their boundaries (GeoPackage).

All public, like the results they contain; money as exact decimal text (元)."""

from __future__ import annotations

import csv
import io
import tempfile
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyogrio
import shapely
from fastapi import APIRouter
from fastapi.responses import Response

from ecovalue.accounting.catalogue import CATEGORIES
from ecovalue.platform.errors import NotFound
from ecovalue.web import results
from ecovalue.web.deps import SessionDep
from ecovalue.web.geography import geography

router = APIRouter(include_in_schema=False)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_COLUMNS = ("region_code", "region_name_zh", "indicator", "category", "ecosystem_type",
               "physical_quantity", "physical_unit", "value_current", "value_constant",
               "method", "source")


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "public, max-age=300"}


def results_csv(yr: results.YearResult) -> str:
    """The published rows as CSV, with the publication and hashes in the first lines."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    pub, run = yr.publication, yr.run
    w.writerow([f"# GEP {pub.year} v{pub.version}; run {run.id}; dataset {run.input_hash}; "
                f"profile {run.profile_hash}; code {run.code_hash}"
                + ("; SYNTHETIC demo data" if run.synthetic else "")])
    w.writerow(CSV_COLUMNS)
    for r in yr.rows:
        w.writerow(["" if getattr(r, c) is None else getattr(r, c) for c in CSV_COLUMNS])
    return buf.getvalue()


@router.get("/download/{year}/results.csv")
def download_csv(year: int, session: SessionDep, version: int | None = None) -> Response:
    yr = results.year_result(session, year, version)
    return Response(results_csv(yr).encode("utf-8-sig"), media_type="text/csv; charset=utf-8",
                    headers=_attachment(f"gep-{year}-v{yr.publication.version}.csv"))


@router.get("/download/{year}/results.xlsx")
def download_xlsx(year: int, session: SessionDep, version: int | None = None) -> Response:
    yr = results.year_result(session, year, version)
    path = Path(yr.run.outputs_dir or "") / "results.xlsx"
    if not yr.run.outputs_dir or not path.is_file():
        raise NotFound(f"run {yr.run.id} kept no workbook (results.xlsx); the CSV and the "
                       "GeoPackage hold the same numbers")
    return Response(path.read_bytes(), media_type=XLSX,
                    headers=_attachment(f"gep-{year}-v{yr.publication.version}.xlsx"))


def districts_gpkg(yr: results.YearResult) -> bytes:
    """District polygons (dataset CRS) with GEP and its categories (元, decimal text)."""
    geo = geography(yr.run.dataset_path)
    fields: dict[str, list[object]] = {k: [] for k in (
        "code", "name_zh", "name_en", "year", "version", "area_km2", "gep_yuan",
        *(f"{c}_yuan" for c in CATEGORIES), "gep_yi")}
    for p in geo.districts:
        s = results.summarize(yr.rows, p.code)
        for key, value in (("code", p.code), ("name_zh", p.name_zh), ("name_en", p.name_en),
                           ("year", yr.publication.year), ("version", yr.publication.version),
                           ("area_km2", round(p.area_km2, 4)), ("gep_yuan", str(s.total)),
                           *((f"{c}_yuan", str(s.by_category.get(c, Decimal("0.00"))))
                             for c in CATEGORIES),
                           ("gep_yi", float(s.total / Decimal(10) ** 8))):
            fields[key].append(value)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "districts.gpkg"
        pyogrio.raw.write(
            path, np.array(shapely.to_wkb([shapely.force_2d(p.geometry) for p in geo.districts]),
                           dtype=object),
            [np.array(v, dtype=object if not isinstance(v[0], int | float) else None)
             for v in fields.values()],
            list(fields), crs=geo.crs, driver="GPKG", geometry_type="MultiPolygon",
            layer=f"gep_{yr.publication.year}", promote_to_multi=True)
        return path.read_bytes()


@router.get("/download/{year}/districts.gpkg")
def download_gpkg(year: int, session: SessionDep, version: int | None = None) -> Response:
    yr = results.year_result(session, year, version)
    return Response(districts_gpkg(yr), media_type="application/geopackage+sqlite3",
                    headers=_attachment(f"gep-{year}-v{yr.publication.version}-districts.gpkg"))
