"""Public pages: the published results (核算结果发布) and each district's page.

Both need no account: they read published results only (``runs.service``). The district
page adds, for signed-in users, the stations and parcels the monitoring and register
services let them see.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from ecovalue.accounting.catalogue import CATEGORIES
from ecovalue.platform.errors import NotFound
from ecovalue.platform.runs import service as runs
from ecovalue.web import numbers, places, results
from ecovalue.web.deps import PageDep, SessionDep
from ecovalue.web.geography import geography
from ecovalue.web.legend import district_legend
from ecovalue.web.render import Page, render

router = APIRouter(include_in_schema=False)


def _category_items(page: Page, summary: results.Summary,
                    scale: numbers.MoneyScale) -> list[dict[str, Any]]:
    return [{"name": page.t.category(c),
             "value": float(numbers.scaled(summary.by_category.get(c, Decimal(0)), scale))}
            for c in CATEGORIES]


def _district_table(page: Page, yr: results.YearResult,
                    prev: results.YearResult | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for place in geography(yr.run.dataset_path).districts:
        s = results.summary_of(yr, place.code)
        change = None
        if prev is not None:
            before = results.summary_of(prev, place.code)
            change = results.decompose(before, s, prev.publication.year, yr.publication.year)
        out.append({"code": place.code, "name": page.t.region(place.name_zh, place.name_en),
                    "area_km2": place.area_km2, "summary": s, "change": change})
    out.sort(key=lambda d: d["summary"].total, reverse=True)
    return out


def _previous(session: SessionDep, year: int) -> results.YearResult | None:
    older = [p.year for p in results.current_publications(session) if p.year < year]
    return results.year_result(session, max(older)) if older else None


@router.get("/", response_class=HTMLResponse)
def home(page: PageDep, session: SessionDep, year: int | None = None,
         version: int | None = None) -> HTMLResponse:
    """核算结果发布: the city's published GEP of a year, by district and category."""
    page.title_key = "home.title"
    pubs = results.current_publications(session)
    if not pubs:
        return render(page, "empty.html.j2", message_key="home.nothing_published")
    year = year or pubs[0].year
    yr = results.year_result(session, year, version)
    summary = results.summary_of(yr)
    prev = _previous(session, year)
    districts = _district_table(page, yr, prev)
    scale = numbers.money_scale([summary.total, *(d["summary"].total for d in districts)])
    change = None
    if prev is not None:
        change = results.decompose(results.summary_of(prev), summary,
                                   prev.publication.year, year)
    values = [float(numbers.scaled(d["summary"].total, scale)) for d in districts]
    script = {
        "districts_url": f"/web/data/districts.geojson?year={year}&version={yr.publication.version}",
        "bounds": geography(yr.run.dataset_path).bounds(),
        "unit": page.t(scale.key),
        "categories": _category_items(page, summary, scale),
        "ranking": {"names": [d["name"] for d in districts],
                    "codes": [d["code"] for d in districts], "values": values},
    }
    versions = sorted(((p, results.run_info(runs.get_run(session, p.run_id)))
                       for p in runs.publications(session)),
                      key=lambda pr: (-pr[0].year, -pr[0].version))
    return render(page, "home.html.j2", yr=yr, summary=summary, districts=districts,
                  scale=scale, change=change, prev=prev, legend=district_legend(values),
                  years=[p.year for p in pubs], versions=versions, script=script,
                  categories=CATEGORIES)


def _indicator_table(rows: list[results.Row]) -> list[dict[str, Any]]:
    by: dict[str, dict[str, Any]] = {}
    for r in rows:
        d = by.setdefault(r.indicator, {"indicator": r.indicator, "category": r.category,
                                        "quantity": Decimal(0), "unit": r.physical_unit,
                                        "value": Decimal("0.00"), "has_quantity": False})
        if r.physical_quantity is not None:
            d["quantity"] += r.physical_quantity
            d["has_quantity"] = True
        d["value"] += r.value_current
    return sorted(by.values(), key=lambda d: (list(CATEGORIES).index(d["category"])
                                              if d["category"] in CATEGORIES else 9, -d["value"]))


@router.get("/district/{code}", response_class=HTMLResponse)
def district(code: str, page: PageDep, session: SessionDep,
             year: int | None = None) -> HTMLResponse:
    """A district's published GEP by indicator and ecosystem type, its trend and its places."""
    year = year or results.latest_year(session)
    yr = results.year_result(session, year)
    place = geography(yr.run.dataset_path).district(code)
    if place is None:
        raise NotFound(f"no district with code '{code}' in the published {year} result")
    page.title_key = "district.title"
    points = results.series(session, code)
    summary = results.summary_of(yr, code)
    trend = results.changes(points)
    scale = numbers.money_scale([summary.total, *(s.total for _, s in points)])
    rows = [r for r in yr.rows if results.in_region(r.region_code, code)]
    station_views = places.stations(session, page.user, code)
    parcels = places.parcels(session, page.user, code)
    script = {
        "districts_url": f"/web/data/districts.geojson?year={year}",
        "district": code,
        "bounds": list(place.lonlat.bounds),
        "unit": page.t(scale.key),
        "trend": {"years": [y.publication.year for y, _ in points],
                  "values": [float(numbers.scaled(s.total, scale)) for _, s in points],
                  "qe": [None, *(float(numbers.scaled(c.quantity_effect, scale)) for c in trend)],
                  "pe": [None, *(float(numbers.scaled(c.price_effect, scale)) for c in trend)]},
        "stations_url": f"/web/data/stations.geojson?district={code}" if station_views is not None else None,
        "parcels_url": f"/web/data/parcels.geojson?district={code}" if parcels is not None else None,
    }
    return render(page, "district.html.j2", yr=yr, place=place, summary=summary, scale=scale,
                  indicators=_indicator_table(rows), points=points, trend=trend,
                  stations=station_views, parcels=parcels, script=script, categories=CATEGORIES,
                  name=page.t.region(place.name_zh, place.name_en),
                  per_km2=summary.total / Decimal(repr(place.area_km2)))
