"""动态监测: stations on the map with their latest class, a station's series with its
GB 3838-2002 class or HJ 633-2012 AQI per sample, alerts, and CSV upload with every bad
row reported. Everything through the monitoring service (signed-in users read; writers
are the administrators and the station's district officials); the class of each sample is
the monitoring rules' own ``water_quality`` / ``air_quality`` of that sample."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ecovalue.errors import Problem, ValidationFailed
from ecovalue.platform.auth.rules import Principal
from ecovalue.platform.errors import PermissionDenied, RuleViolation
from ecovalue.platform.monitoring import rules
from ecovalue.platform.monitoring import service as monitoring
from ecovalue.platform.monitoring.rules import PARAMETERS, WATER_CLASS_LABELS, WATER_LIMITS
from ecovalue.web import numbers, places
from ecovalue.web.deps import Csrf, PageDep, SessionDep
from ecovalue.web.forms import problem_dicts
from ecovalue.web.render import Page, render

router = APIRouter(include_in_schema=False)
ALERTS_SHOWN = 50
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def may_write(user: Principal, district: str) -> bool:
    try:
        monitoring.require_monitoring_write(user, district)
    except PermissionDenied:
        return False
    return True


def _overview(page: Page, session: SessionDep) -> dict[str, Any]:
    views = places.stations(session, page.user)
    if views is None:
        raise PermissionDenied(f"user '{page.user.username}' must sign in to read monitoring data")
    alerts = monitoring.list_alerts(session, page.user, "open")
    return {"stations": views, "alerts": alerts[:ALERTS_SHOWN], "alert_count": len(alerts),
            "writable": {a.id: may_write(page.user, s.district_code) for a, s in alerts[:ALERTS_SHOWN]},
            "can_upload": page.user.role.value in ("administrator", "district_official"),
            "class_labels": WATER_CLASS_LABELS,
            "script": {"stations_url": "/web/data/stations.geojson",
                       "bounds": [113.68, 29.96, 115.09, 31.37]}}


@router.get("/monitoring", response_class=HTMLResponse)
def monitoring_page(page: PageDep, session: SessionDep, done: int | None = None) -> HTMLResponse:
    page.title_key = "monitoring.title"
    notice = page.t("monitoring.uploaded", count=done) if done is not None else None
    return render(page, "monitoring.html.j2", errors=[], notice=notice,
                  **_overview(page, session))


@router.post("/monitoring/upload", dependencies=[Csrf], response_model=None)
async def upload(request: Request, page: PageDep, session: SessionDep) -> Response:
    """A CSV of observations; every bad row is listed and nothing is stored then."""
    form = await request.form()
    file = form.get("file")
    text = str(form.get("text") or "")
    if file is not None and not isinstance(file, str):
        raw = await file.read(MAX_UPLOAD_BYTES + 1)
        if len(raw) > MAX_UPLOAD_BYTES:
            raise ValidationFailed([Problem("file", "is larger than 20 MB", "a smaller CSV",
                                            "split the upload by station or month")])
        text = raw.decode("utf-8-sig", errors="replace") if raw else text
    problems: list[Problem] = []
    try:
        with session.begin_nested():
            report = monitoring.import_csv(session, page.user, text, source="web upload")
        return RedirectResponse(f"/monitoring?done={len(report.observations)}", status_code=303)
    except (ValidationFailed, RuleViolation) as exc:
        problems = exc.problems
    page.title_key = "monitoring.title"
    return render(page, "monitoring.html.j2", 422, errors=problem_dicts(problems), notice=None,
                  **_overview(page, session))


@router.post("/monitoring/alerts/{alert_id}/acknowledge", dependencies=[Csrf])
def acknowledge(alert_id: int, page: PageDep, session: SessionDep) -> RedirectResponse:
    monitoring.acknowledge_alert(session, page.user, alert_id)
    return RedirectResponse("/monitoring", status_code=303)


def _classes(station: Any, points: list[monitoring.SeriesPoint]) -> list[dict[str, Any]]:
    """The class (water) or AQI (air) of every sampling time, by the monitoring rules."""
    by_time: dict[Any, dict[str, Decimal]] = defaultdict(dict)
    for p in points:
        if "range" not in p.flags:
            by_time[p.observed_at][p.parameter] = p.value
    out = []
    for at in sorted(by_time):
        values = by_time[at]
        if station.kind == "air":
            air = rules.air_quality(values)
            if air:
                out.append({"t": at.isoformat(), "aqi": air.aqi, "band": places.aqi_band(air.aqi)})
        else:
            water = rules.water_quality(values, station.water_body or "river")
            if water:
                out.append({"t": at.isoformat(), "class": water.water_class, "label": water.label})
    return out


def _limits(parameter: str, water_body: str | None) -> list[float]:
    key = parameter if parameter in WATER_LIMITS else f"{parameter}:{water_body or 'river'}"
    return [float(v) for v in WATER_LIMITS[key][1]] if key in WATER_LIMITS else []


@router.get("/monitoring/station/{code}", response_class=HTMLResponse)
def station_page(code: str, page: PageDep, session: SessionDep,
                 parameter: str | None = None) -> HTMLResponse:
    page.title_key = "monitoring.station_title"
    station = monitoring.get_station(session, code)
    points = monitoring.time_series(session, page.user, code)
    params = sorted({p.parameter for p in points})
    chosen = parameter if parameter in params else (params[0] if params else None)
    series = [p for p in points if p.parameter == chosen]
    view = places.station_view(session, page.user, station)
    flagged = sum(1 for p in points if p.flags)
    script = {"kind": station.kind, "parameter": chosen,
              "name": PARAMETERS[chosen].name_zh if chosen else "",
              "unit": numbers.unit(PARAMETERS[chosen].unit) if chosen else "",
              "series": [{"t": p.observed_at.isoformat(), "v": float(p.value),
                          "flags": list(p.flags)} for p in series],
              "limits": _limits(chosen, station.water_body) if chosen else [],
              "class_labels": list(WATER_CLASS_LABELS), "classes": _classes(station, points),
              "lonlat": [view.lon, view.lat]}
    return render(page, "station.html.j2", station=station, view=view, params=params,
                  chosen=chosen, count=len(points), flagged=flagged, script=script,
                  parameters=PARAMETERS, class_labels=WATER_CLASS_LABELS)


@router.get("/monitoring/station/{code}/series.csv")
def station_csv(code: str, page: PageDep, session: SessionDep,
                parameter: str | None = None) -> Response:
    text = monitoring.series_csv(monitoring.time_series(session, page.user, code, parameter))
    return Response(text.encode("utf-8-sig"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{code}.csv"'})
