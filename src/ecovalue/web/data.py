"""What the page scripts fetch: GeoJSON by bounding box, map tiles, legends, identify.

Same-origin endpoints under ``/web/data`` and ``/tiles``, authenticated by the page's
session cookie (the API under ``/api`` keeps bearer tokens). Every answer comes from the
platform's services, so a district official's map shows what their pages show and no more.
GeoJSON is filtered by ``bbox=w,s,e,n`` (longitude/latitude) when given.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Annotated, Any

import shapely
from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from ecovalue.errors import InputError
from ecovalue.web import layers, numbers, places, results
from ecovalue.web.deps import PageUser, SessionDep
from ecovalue.web.geography import bbox_filter, collection, feature, geography
from ecovalue.web.i18n import Translator, language
from ecovalue.web.legend import district_legend

router = APIRouter(include_in_schema=False)
Bbox = Annotated[str | None, Query(description="w,s,e,n in degrees")]
PUBLIC_CACHE = "public, max-age=300"
TILE_CACHE = "public, max-age=86400"


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """``w,s,e,n`` in degrees, or None; InputError for anything else."""
    if not text:
        return None
    try:
        w, s, e, n = (float(v) for v in text.split(","))
    except ValueError as exc:
        raise InputError(f"bbox '{text}' is not four numbers w,s,e,n in degrees, "
                         "e.g. bbox=113.7,29.9,115.1,31.4") from exc
    if not (-180 <= w <= e <= 180 and -90 <= s <= n <= 90):
        raise InputError(f"bbox '{text}' is not west ≤ east and south ≤ north in degrees")
    return (w, s, e, n)


def _json(data: Any, cache: str = "private, no-store") -> JSONResponse:
    return JSONResponse(data, headers={"Cache-Control": cache})


_geojson: dict[tuple[Any, ...], bytes] = {}
_geojson_lock = threading.Lock()


def _cached_json(key: tuple[Any, ...] | None, build: Callable[[], Any]) -> Response:
    """A public GeoJSON answer, built once per key (published results never change); answers
    filtered by a bounding box (key None) are built each time, so the memory stays bounded."""
    with _geojson_lock:
        body = _geojson.get(key) if key else None
    if body is None:
        body = json.dumps(build(), ensure_ascii=False, separators=(",", ":")).encode()
        if key:
            with _geojson_lock:
                _geojson[key] = body
    return Response(body, media_type="application/json", headers={"Cache-Control": PUBLIC_CACHE})


@router.get("/web/data/districts.geojson")
def districts(session: SessionDep, lang: str | None = None, year: int | None = None,
              version: int | None = None, bbox: Bbox = None) -> Response:
    """Districts with their published GEP of ``year`` (page unit, choropleth colour)."""
    yr = results.year_result(session, year or results.latest_year(session), version)
    parse_bbox(bbox)  # a bad box is refused before anything is built
    key = None if bbox else ("districts", yr.publication.id, language(lang))
    return _cached_json(key, lambda: _districts(yr, Translator(language(lang)), bbox))


def _districts(yr: results.YearResult, t: Translator, bbox: str | None) -> dict[str, Any]:
    geo = geography(yr.run.dataset_path)
    sums = {p.code: results.summary_of(yr, p.code).total for p in geo.districts}
    scale = numbers.money_scale(sums.values())
    lg = district_legend([float(numbers.scaled(v, scale)) for v in sums.values()])
    box = parse_bbox(bbox)
    feats = []
    for p in geo.districts:
        if not bbox_filter(box, p.lonlat):
            continue
        label_point = p.lonlat.representative_point()
        scaled = numbers.scaled(sums[p.code], scale)
        feats.append(feature(p.drawn, {
            "code": p.code, "label": t.region(p.name_zh, p.name_en),
            "label_point": [label_point.x, label_point.y], "gep": str(sums[p.code]),
            "value": float(scaled), "value_text": numbers.money(sums[p.code], scale),
            "color": lg.hex(float(scaled)), "area_km2": round(p.area_km2, 2)}))
    return collection(feats)


@router.get("/web/data/water.geojson")
def water(session: SessionDep, year: int | None = None, bbox: Bbox = None) -> Response:
    """Lakes and reservoirs of the published run's dataset."""
    yr = results.year_result(session, year or results.latest_year(session))
    box = parse_bbox(bbox)

    def build() -> dict[str, Any]:
        return collection(feature(p.lonlat, {"code": p.code, "name": p.name_zh, "kind": p.kind,
                                             "area_km2": round(p.area_km2, 3)})
                          for p in geography(yr.run.dataset_path).water
                          if bbox_filter(box, p.lonlat))

    return _cached_json(None if bbox else ("water", yr.run.id), build)


@router.get("/web/data/stations.geojson")
def stations(session: SessionDep, user: PageUser, district: str | None = None,
             kind: str | None = None, bbox: Bbox = None) -> JSONResponse:
    """Monitoring stations the user may read, with their latest class (signed-in users)."""
    views = places.stations(session, user, district, kind)
    box = parse_bbox(bbox)
    feats = [places.station_feature(v, v.station.name) for v in views or []
             if bbox_filter(box, shapely.Point(v.lon, v.lat))]
    return _json(collection(feats))


@router.get("/web/data/parcels.geojson")
def parcels(session: SessionDep, user: PageUser, district: str | None = None,
            register: str | None = None, bbox: Bbox = None) -> JSONResponse:
    """Register parcels the user may read (the register service scopes them)."""
    box = parse_bbox(bbox)
    feats = []
    for reg, p in places.parcels(session, user, district, register) or []:
        f = places.parcel_feature(reg, p)
        if bbox_filter(box, shapely.geometry.shape(f["geometry"])):
            feats.append(f)
    return _json(collection(feats))


@router.get("/web/data/legend/{run_id}/{layer}.json")
def legend(run_id: int, layer: str, session: SessionDep, user: PageUser,
           lang: str | None = None) -> JSONResponse:
    """Colour classes, unit and extent of a layer."""
    t = Translator(language(lang))
    lay = layers.layer(session, user, run_id, layer)
    lg = layers.legend(lay)
    unit = t("map.unit_value_ha") if lay.kind == "value" else f"{numbers.unit(lay.unit)}/ha"
    return _json({"layer": lay.name, "indicator": lay.indicator, "name": t.indicator(lay.indicator),
                  "kind": lay.kind, "unit": unit,
                  "classes": [{"color": c, "from": lo, "to": hi,
                               "label": f"{numbers.quantity(lo)} – {numbers.quantity(hi)}"}
                              for c, lo, hi in lg.rows()],
                  "tiles": f"/tiles/{run_id}/{lay.name}/{{z}}/{{x}}/{{y}}.png"}, PUBLIC_CACHE)


@router.get("/tiles/{run_id}/{layer}/{z}/{x}/{y}.png")
def tile(run_id: int, layer: str, z: int, x: int, y: int, session: SessionDep,
         user: PageUser) -> Response:
    """A 256-px map tile (Web Mercator XYZ) of a run's layer; 204 outside the layer."""
    if not (0 <= z <= 22 and 0 <= x < 2**z and 0 <= y < 2**z):
        raise InputError(f"tile {z}/{x}/{y} does not exist; zoom 0–22 and x, y in 0..2^z−1")
    lay = layers.layer(session, user, run_id, layer)
    png = layers.tile(lay, z, x, y)
    if png is None:
        return Response(status_code=204, headers={"Cache-Control": TILE_CACHE})
    return Response(png, media_type="image/png", headers={"Cache-Control": TILE_CACHE})


@router.get("/web/data/identify")
def identify(session: SessionDep, user: PageUser, run: int, lon: float, lat: float,
             lang: str | None = None) -> JSONResponse:
    """What is at a point: every layer's value per hectare, the district, parcels, stations."""
    t = Translator(language(lang))
    info = layers.readable_run(session, user, run)
    pt = shapely.Point(lon, lat)
    geo = geography(info.dataset_path)
    district = next((p for p in geo.districts if p.lonlat.contains(pt)), None)
    values = [{"layer": lay.name, "name": t.indicator(lay.indicator), "kind": lay.kind,
               "value": v, "text": numbers.quantity(v),
               "unit": t("map.unit_value_ha") if lay.kind == "value" else f"{numbers.unit(lay.unit)}/ha"}
              for lay, v in layers.values_at(info, lon, lat)]
    hits = []
    for reg, p in places.parcels(session, user) or []:
        f = places.parcel_feature(reg, p)
        if shapely.geometry.shape(f["geometry"]).contains(pt):
            hits.append(f["properties"])
    return _json({"district": {"code": district.code, "name": t.region(district.name_zh, district.name_en)}
                  if district else None, "values": values, "parcels": hits,
                  "area_ha_per_pixel": None if not values else round(1 / layers.available(info)[0].per_ha, 4)})
