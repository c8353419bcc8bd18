"""The map page: every per-pixel layer of a published run as tiles, with districts, water
bodies, parcels and stations, and identify on click."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from ecovalue.web import layers, places, results
from ecovalue.web.deps import PageDep, SessionDep
from ecovalue.web.geography import geography
from ecovalue.web.render import render

router = APIRouter(include_in_schema=False)
DEFAULT_LAYER = "water_conservation_value"


@router.get("/map", response_class=HTMLResponse)
def map_page(page: PageDep, session: SessionDep, year: int | None = None,
             layer: str | None = None) -> HTMLResponse:
    """地图: the layers of the published run of ``year`` (default: the newest)."""
    page.title_key = "map.title"
    pubs = results.current_publications(session)
    if not pubs:
        return render(page, "empty.html.j2", message_key="home.nothing_published")
    year = year or pubs[0].year
    yr = results.year_result(session, year)
    info = layers.readable_run(session, page.user, yr.run.id)
    available = layers.available(info)
    names = [lay.name for lay in available]
    chosen = layer if layer in names else (DEFAULT_LAYER if DEFAULT_LAYER in names else
                                           (names[0] if names else None))
    signed_in = page.signed_in
    script = {
        "run": info.id, "year": year, "bounds": geography(info.dataset_path).bounds(),
        "layer": chosen, "lang": page.lang,
        "layers": [{"name": lay.name, "label": page.t.indicator(lay.indicator),
                    "kind": lay.kind, "category": lay.category} for lay in available],
        "districts_url": f"/web/data/districts.geojson?year={year}&lang={page.lang}",
        "water_url": f"/web/data/water.geojson?year={year}",
        "parcels_url": "/web/data/parcels.geojson" if places.parcels(session, page.user) is not None
        else None,
        "stations_url": "/web/data/stations.geojson" if signed_in else None,
    }
    return render(page, "map.html.j2", yr=yr, available=available, chosen=chosen,
                  years=[p.year for p in pubs], script=script)
