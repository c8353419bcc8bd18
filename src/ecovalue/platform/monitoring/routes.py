"""HTTP routes of monitoring (thin: parse, call the service, shape the answer)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

import shapely
from fastapi import APIRouter, Body, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from ecovalue.db.bounds import (
    MAX_ROWS,
    AdminCode,
    Code40,
    Id,
    Ident20,
    Latitude,
    Longitude,
    Moment,
    Text20,
    Text40,
    Text80,
    Text200,
)
from ecovalue.errors import InputError
from ecovalue.platform.deps import CurrentUser, SessionDep
from ecovalue.platform.monitoring import service
from ecovalue.platform.monitoring.rules import (
    PARAMETERS,
    WATER_CLASS_LABELS,
    StationKind,
    WaterBody,
)
from ecovalue.platform.monitoring.tables import Alert, Station
from ecovalue.platform.responses import READ, WRITE, Timestamp, errors

StationCode = Code40
StationPath = Annotated[StationCode, Path(description="the station's code")]
ParameterId = Ident20  # a parameter id of GET /api/monitoring/parameters

router = APIRouter(prefix="/api/monitoring", tags=["monitoring"])


class StationCreate(BaseModel):
    code: StationCode
    name: Text200
    kind: StationKind = Field(description="air, water_section, forest_plot or wetland_plot")
    district_code: AdminCode
    lon: Longitude = Field(description="CGCS2000 longitude, degrees")
    lat: Latitude = Field(description="CGCS2000 latitude, degrees")
    river: Text80 | None = None
    water_body: WaterBody | None = Field(None, description="river or lake (GB 3838 TP/TN limits)")
    upstream_district: AdminCode | None = None
    downstream_district: AdminCode | None = None
    target_class: int | None = Field(None, ge=1, le=5, description="GB 3838 target class 1..5")
    expected_interval_s: int | None = Field(
        None, ge=1, le=366 * 86400, description="seconds between samplings (gap flags)"
    )


class StationPublic(BaseModel):
    id: int
    code: str
    name: str
    kind: str
    district_code: str
    lon: float
    lat: float
    river: str | None
    water_body: str | None
    upstream_district: str | None
    downstream_district: str | None
    target_class: int | None
    expected_interval_s: int | None


class ObservationIn(BaseModel):
    station_code: StationCode
    parameter: Ident20 = Field(description="a parameter id of GET /api/monitoring/parameters")
    observed_at: Text40 = Field(description="ISO 8601; without offset China Standard Time")
    value: Text40 = Field(description="the value as measured, e.g. '7.2'")
    unit: Text20 = Field(description="its unit, e.g. mg/L")


class IngestResult(BaseModel):
    observations: int
    flags: int
    alerts: int


class PointPublic(BaseModel):
    parameter: str
    observed_at: Timestamp
    value: Decimal
    unit: str
    flags: list[str]


class AlertPublic(BaseModel):
    id: int
    station_code: str
    kind: str = Field(description="water_class or aqi")
    observed_at: Timestamp
    value: int
    threshold: int
    detail: str
    status: str = Field(description="open or acknowledged")
    acknowledged_by: str | None


class AssessmentPublic(BaseModel):
    station_code: str
    water_class: str | None
    water_by_parameter: dict[str, str]
    aqi: int | None
    iaqi: dict[str, int]
    primary_pollutants: list[str]


def _station(s: Station) -> StationPublic:
    return StationPublic(
        **{k: getattr(s, k) for k in StationPublic.model_fields if k not in ("lon", "lat")},
        lon=shapely.get_x(s.location),
        lat=shapely.get_y(s.location),
    )


def _alert(a: Alert, s: Station) -> AlertPublic:
    return AlertPublic(
        id=a.id,
        station_code=s.code,
        kind=a.kind,
        observed_at=service.utc(a.observed_at),
        value=a.value,
        threshold=a.threshold,
        detail=a.detail,
        status=a.status,
        acknowledged_by=a.acknowledged_by,
    )


def _result(report: service.IngestReport) -> IngestResult:
    return IngestResult(
        observations=len(report.observations), flags=len(report.flags), alerts=len(report.alerts)
    )


@router.get("/parameters")
def parameters() -> dict[str, dict[str, str]]:
    """Parameter ids with Chinese name and canonical unit."""
    return {p.id: {"name_zh": p.name_zh, "unit": p.unit} for p in PARAMETERS.values()}


@router.post("/stations", response_model=StationPublic, status_code=201, responses=errors(*WRITE))
def create_station(body: StationCreate, session: SessionDep, user: CurrentUser) -> StationPublic:
    data = body.model_dump()
    code, name, kind, district = (data.pop(k) for k in ("code", "name", "kind", "district_code"))
    lon, lat = data.pop("lon"), data.pop("lat")
    station = service.create_station(session, user, code, name, kind, district, lon, lat, **data)
    return _station(station)


@router.get("/stations", response_model=list[StationPublic], responses=errors(*READ))
def list_stations(
    session: SessionDep,
    user: CurrentUser,
    district: AdminCode | None = None,
    kind: StationKind | None = None,
) -> list[StationPublic]:
    """Stations, optionally of one district (code prefix) or one kind."""
    return [_station(s) for s in service.list_stations(session, user, district, kind)]


@router.post(
    "/observations", response_model=IngestResult, status_code=201, responses=errors(*WRITE)
)
def add_observations(
    body: Annotated[list[ObservationIn], Body(min_length=1, max_length=MAX_ROWS)],
    session: SessionDep,
    user: CurrentUser,
) -> IngestResult:
    """Store observations; every bad item is reported at once (HTTP 422)."""
    rows = [(f"item {i}", o.model_dump()) for i, o in enumerate(body)]
    return _result(service.ingest(session, user, rows, source="api"))


@router.post(
    "/observations/csv",
    response_model=IngestResult,
    status_code=201,
    responses=errors(*WRITE),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "CSV (UTF-8) with header station_code,parameter,observed_at,value,unit",
        }
    },
)
async def import_csv(request: Request, session: SessionDep, user: CurrentUser) -> IngestResult:
    """Body: CSV text with header station_code,parameter,observed_at,value,unit."""
    try:
        csv_text = (await request.body()).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"the CSV is not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8"
        ) from exc
    return _result(service.import_csv(session, user, csv_text, source="csv upload"))


def _points(
    session: SessionDep,
    user: CurrentUser,
    code: str,
    parameter: str | None,
    start: Moment | None,
    end: Moment | None,
) -> list[service.SeriesPoint]:
    return service.time_series(session, user, code, parameter, start, end)


@router.get("/stations/{code}/series", response_model=list[PointPublic], responses=errors(*READ))
def series(
    code: StationPath,
    session: SessionDep,
    user: CurrentUser,
    parameter: ParameterId | None = None,
    start: Moment | None = None,
    end: Moment | None = None,
) -> list[PointPublic]:
    """Observations of a station (times in UTC), with their quality flags."""
    return [
        PointPublic(
            parameter=p.parameter,
            observed_at=p.observed_at,
            value=p.value,
            unit=p.unit,
            flags=list(p.flags),
        )
        for p in _points(session, user, code, parameter, start, end)
    ]


@router.get(
    "/stations/{code}/series.csv",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV"},
        **errors(*READ),
    },
)
def series_csv(
    code: StationPath,
    session: SessionDep,
    user: CurrentUser,
    parameter: ParameterId | None = None,
    start: Moment | None = None,
    end: Moment | None = None,
) -> Response:
    csv_text = service.series_csv(_points(session, user, code, parameter, start, end))
    return Response(
        csv_text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{code}.csv"'},
    )


@router.get("/stations/{code}/assessment", response_model=AssessmentPublic, responses=errors(*READ))
def assessment(
    code: StationPath, start: Moment, end: Moment, session: SessionDep, user: CurrentUser
) -> AssessmentPublic:
    """GB 3838 class of the period means and HJ 633 AQI."""
    a = service.assess_station(session, user, code, start, end)
    return AssessmentPublic(
        station_code=code,
        water_class=a.water.label if a.water else None,
        water_by_parameter={
            p: WATER_CLASS_LABELS[c - 1]
            for p, c in (a.water.by_parameter if a.water else {}).items()
        },
        aqi=a.air.aqi if a.air else None,
        iaqi=dict(a.air.by_pollutant) if a.air else {},
        primary_pollutants=list(a.air.primary) if a.air else [],
    )


@router.get("/alerts", response_model=list[AlertPublic], responses=errors(*READ))
def alerts(
    session: SessionDep,
    user: CurrentUser,
    status: Literal["open", "acknowledged"] | None = None,
    district: AdminCode | None = None,
) -> list[AlertPublic]:
    return [_alert(a, s) for a, s in service.list_alerts(session, user, status, district)]


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertPublic, responses=errors(*WRITE))
def acknowledge(alert_id: Id, session: SessionDep, user: CurrentUser) -> AlertPublic:
    alert = service.acknowledge_alert(session, user, alert_id)
    return _alert(alert, service.get_station_by_id(session, alert.station_id))
