"""目录清单: the eco-product catalogue of a year (every version), filtered by district and
class, exported as the official XLSX table; read through the catalogue service."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from ecovalue.platform.catalogue import service as catalogue
from ecovalue.platform.catalogue.rules import CLASS_ZH
from ecovalue.platform.errors import NotFound
from ecovalue.web import numbers
from ecovalue.web.deps import PageDep, SessionDep
from ecovalue.web.render import render

router = APIRouter(include_in_schema=False)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _years(session: SessionDep, page: PageDep) -> list[int]:
    """Years with a catalogue, newest first (the last ten years are looked at)."""
    this = dt.date.today().year
    return [y for y in range(this, this - 10, -1) if catalogue.versions(session, page.user, y)]


@router.get("/catalogue", response_class=HTMLResponse)
def catalogue_page(page: PageDep, session: SessionDep, year: int | None = None,
                   version: int | None = None, district: str | None = None,
                   product_class: str | None = None) -> HTMLResponse:
    page.title_key = "catalogue.title"
    years = _years(session, page)
    if not years:
        return render(page, "empty.html.j2", message_key="catalogue.none")
    year = year or years[0]
    try:
        ver, views = catalogue.entries(session, page.user, year, version, district or None,
                                       product_class or None)
    except NotFound:
        return render(page, "empty.html.j2", message_key="catalogue.none")
    values = [v.entry.value_current for v in views if v.entry.value_current is not None]
    return render(page, "catalogue.html.j2", years=years, year=year, version=ver,
                  versions=catalogue.versions(session, page.user, year), views=views,
                  district=district or "", product_class=product_class or "",
                  classes=CLASS_ZH, scale=numbers.money_scale(values))


@router.get("/catalogue/{year}/export.xlsx")
def export(year: int, page: PageDep, session: SessionDep, version: int | None = None) -> Response:
    data = catalogue.export_xlsx(session, page.user, year, version)
    return Response(data, media_type=XLSX, headers={
        "Content-Disposition": f'attachment; filename="eco-products-{year}.xlsx"'})
