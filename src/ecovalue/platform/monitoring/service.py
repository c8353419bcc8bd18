"""Monitoring services: the only code that reads and writes the monitoring tables.

Scope is checked here: administrators write for every station, district officials only for
stations of their district; every signed-in role reads. Ingestion (CSV or API) validates
every row first and reports all bad rows at once (line, what, expected, fix); values are
converted to each parameter's canonical unit; afterwards the quality flags of the touched
series are recomputed (new flags are added, nothing is deleted) and exceedance alerts are
raised for the touched sampling times.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from ecovalue.errors import Problem, UnitError, ValidationFailed
from ecovalue.platform.auth.rules import Principal, Role, in_district
from ecovalue.platform.errors import NotFound, PermissionDenied, RuleViolation
from ecovalue.platform.monitoring import rules
from ecovalue.platform.monitoring.rules import (
    AQI_ALERT_THRESHOLD,
    PARAMETERS,
    FlagSettings,
    StationKind,
    WaterBody,
)
from ecovalue.platform.monitoring.tables import Alert, Observation, QualityFlag, Station
from ecovalue.units import conversion_factor

CSV_COLUMNS = ("station_code", "parameter", "observed_at", "value", "unit")
# Times without an offset are read as China Standard Time (assumed — write an offset,
# e.g. 2023-05-01T08:00+08:00, to say otherwise).
LOCAL_TZ = ZoneInfo("Asia/Shanghai")
UTC = dt.UTC
ALERT_STATUSES = ("open", "acknowledged")


@dataclass
class IngestReport:
    """What one ingestion stored and derived."""

    observations: list[Observation] = field(default_factory=list)
    flags: list[QualityFlag] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)


@dataclass(frozen=True)
class SeriesPoint:
    """One observation of a time series with its quality flags."""

    station_code: str
    parameter: str
    observed_at: dt.datetime
    value: Decimal
    unit: str
    flags: tuple[str, ...]


# ------------------------------------------------------------------ scope


def require_monitoring_write(actor: Principal, district_code: str) -> None:
    """Administrators write anywhere; district officials only for their district's stations."""
    if actor.role == Role.administrator:
        return
    if (
        actor.role == Role.district_official
        and actor.district_code
        and in_district(district_code, actor.district_code)
    ):
        return
    raise PermissionDenied(
        f"user '{actor.username}' ({actor.role.value}) may not write monitoring data for "
        f"district {district_code}; only administrators and that district's officials may"
    )


def require_monitoring_read(actor: Principal) -> None:
    """Monitoring data are read by signed-in users (any role but the anonymous public)."""
    if actor.role == Role.public:
        raise PermissionDenied(f"user '{actor.username}' must sign in to read monitoring data")


def utc(value: dt.datetime) -> dt.datetime:
    """``value`` in UTC; naive values read back from SQLite are already UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# ------------------------------------------------------------------ stations


def _station_problems(
    kind: str,
    lon: float,
    lat: float,
    water_body: str | None,
    target_class: int | None,
    expected_interval_s: int | None,
) -> list[Problem]:
    problems = []
    if kind not in StationKind.__members__:
        problems.append(
            Problem("kind", f"'{kind}' is unknown", ", ".join(StationKind), "choose a listed kind")
        )
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        problems.append(
            Problem(
                "location",
                f"({lon}, {lat}) is not a longitude/latitude",
                "CGCS2000 degrees, e.g. (114.30, 30.59) for Wuhan",
                "send longitude first, in degrees",
            )
        )
    if water_body is not None and water_body not in WaterBody.__members__:
        problems.append(
            Problem("water_body", f"'{water_body}' is unknown", "river or lake", "choose one")
        )
    if target_class is not None and not 1 <= target_class <= 5:
        problems.append(
            Problem(
                "target_class",
                f"{target_class} is not a class",
                "1..5 (GB 3838-2002 classes I..V)",
                "e.g. 3 for class III",
            )
        )
    if expected_interval_s is not None and expected_interval_s <= 0:
        problems.append(
            Problem(
                "expected_interval_s",
                f"{expected_interval_s} is not positive",
                "seconds between samples, e.g. 3600 for hourly",
                "leave empty for no gap check",
            )
        )
    return problems


def create_station(
    session: Session,
    actor: Principal,
    code: str,
    name: str,
    kind: str,
    district_code: str,
    lon: float,
    lat: float,
    *,
    river: str | None = None,
    water_body: str | None = None,
    upstream_district: str | None = None,
    downstream_district: str | None = None,
    target_class: int | None = None,
    expected_interval_s: int | None = None,
) -> Station:
    """A new station, section or plot; ``target_class`` is the section's GB 3838 goal."""
    require_monitoring_write(actor, district_code)
    problems = _station_problems(kind, lon, lat, water_body, target_class, expected_interval_s)
    if session.scalar(select(Station.id).where(Station.code == code)):
        problems.append(
            Problem("code", f"station '{code}' exists", "a new code", "choose another code")
        )
    if problems:
        raise RuleViolation(problems)
    if kind == StationKind.water_section and water_body is None:
        water_body = WaterBody.river.value
    station = Station(
        code=code,
        name=name,
        kind=kind,
        district_code=district_code,
        location=shapely.Point(lon, lat),
        river=river,
        water_body=water_body,
        upstream_district=upstream_district,
        downstream_district=downstream_district,
        target_class=target_class,
        expected_interval_s=expected_interval_s,
    )
    session.add(station)
    session.flush()
    return station


def get_station(session: Session, code: str) -> Station:
    """The station ``code``; raises NotFound."""
    station = session.scalar(select(Station).where(Station.code == code))
    if station is None:
        raise NotFound(f"no monitoring station '{code}'")
    return station


def get_station_by_id(session: Session, station_id: int) -> Station:
    """The station with id ``station_id``; raises NotFound."""
    station = session.get(Station, station_id)
    if station is None:
        raise NotFound(f"no monitoring station with id {station_id}")
    return station


def list_stations(
    session: Session, actor: Principal, district: str | None = None, kind: str | None = None
) -> list[Station]:
    """Stations, optionally of one district (prefix) and kind."""
    require_monitoring_read(actor)
    stmt = select(Station).order_by(Station.code)
    if district:
        stmt = stmt.where(Station.district_code.startswith(district, autoescape=True))
    if kind:
        stmt = stmt.where(Station.kind == kind)
    return list(session.scalars(stmt))


# ------------------------------------------------------------------ ingestion


def _normalise_unit(unit: str) -> str:
    # Monitoring reports write m3 for m³; pint needs m**3.
    return re.sub(r"(?<![*\w])m3\b", "m**3", unit.strip())


def parse_time(text: str) -> dt.datetime:
    """An ISO 8601 time in UTC; times without an offset are China Standard Time."""
    value = dt.datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=LOCAL_TZ)
    return value.astimezone(UTC)


@dataclass(frozen=True)
class _Row:
    station: Station
    parameter: str
    observed_at: dt.datetime
    value: Decimal
    raw_value: str
    raw_unit: str


def _convert(
    where: str, parameter: str, raw: str, unit: str
) -> tuple[Decimal | None, list[Problem]]:
    try:
        value = Decimal(raw.strip())
        if not value.is_finite():
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        return None, [
            Problem(
                where,
                f"value '{raw}' is not a number",
                "a finite decimal",
                "write digits, e.g. 0.52",
            )
        ]
    canonical = PARAMETERS[parameter].unit
    try:
        factor = conversion_factor(_normalise_unit(unit), canonical, where)
    except UnitError as exc:
        return None, [
            Problem(
                where,
                str(exc),
                f"a unit convertible to {canonical} (the canonical unit of {parameter})",
                "convert the value (volume ratios such as ppb need the molar mass) or fix the unit",
            )
        ]
    return value * Decimal(repr(factor)), []


def _row_problems(
    where: str, row: Mapping[str, Any], stations: Mapping[str, Station | None]
) -> tuple[_Row | None, list[Problem]]:
    problems: list[Problem] = []
    code = str(row.get("station_code") or "").strip()
    station = stations.get(code)
    if station is None:
        problems.append(
            Problem(
                where,
                f"station '{code}' is unknown",
                "a registered station code",
                "register the station first or fix the code",
            )
        )
    parameter = str(row.get("parameter") or "").strip()
    spec = PARAMETERS.get(parameter)
    if spec is None:
        problems.append(
            Problem(
                where,
                f"parameter '{parameter}' is unknown",
                ", ".join(PARAMETERS),
                "use a listed parameter id",
            )
        )
    elif station is not None and station.kind not in spec.kinds:
        problems.append(
            Problem(
                where,
                f"parameter '{parameter}' is not measured at {station.kind} station '{code}'",
                f"a parameter of {station.kind} stations",
                "check the station code or the parameter",
            )
        )
    try:
        observed_at: dt.datetime | None = parse_time(str(row.get("observed_at") or ""))
    except ValueError:
        observed_at = None
        problems.append(
            Problem(
                where,
                f"observed_at '{row.get('observed_at')}' is not a time",
                "ISO 8601, e.g. 2023-05-01T08:00+08:00",
                "write the date and time as ISO 8601",
            )
        )
    value = None
    raw, unit = (
        str(row.get("value") if row.get("value") is not None else ""),
        str(row.get("unit") or ""),
    )
    if spec is not None:
        value, issues = _convert(where, parameter, raw, unit)
        problems += issues
    if problems or station is None or value is None or observed_at is None:
        return None, problems
    return _Row(station, parameter, observed_at, value, raw.strip(), unit.strip()), []


def _stations_by_code(session: Session, codes: Iterable[str]) -> dict[str, Station | None]:
    wanted = sorted({c.strip() for c in codes})
    found = {s.code: s for s in session.scalars(select(Station).where(Station.code.in_(wanted)))}
    return {c: found.get(c) for c in wanted}


def _duplicate_problems(session: Session, rows: Sequence[tuple[str, _Row]]) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[tuple[int, str, dt.datetime], str] = {}
    by_series: dict[tuple[int, str], list[dt.datetime]] = defaultdict(list)
    for where, r in rows:
        key = (r.station.id, r.parameter, r.observed_at)
        if key in seen:
            problems.append(
                Problem(
                    where,
                    f"repeats {seen[key]} ({r.station.code} {r.parameter} {r.observed_at.isoformat()})",
                    "one value per station, parameter and time",
                    "remove one of the two rows",
                )
            )
        seen[key] = where
        by_series[(r.station.id, r.parameter)].append(r.observed_at)
    stored: set[tuple[int, str, dt.datetime]] = set()
    for (sid, param), times in by_series.items():
        stmt = select(Observation.observed_at).where(
            Observation.station_id == sid,
            Observation.parameter == param,
            Observation.observed_at >= min(times),
            Observation.observed_at <= max(times),
        )
        stored |= {(sid, param, utc(t)) for t in session.scalars(stmt)}
    for where, r in rows:
        if (r.station.id, r.parameter, r.observed_at) in stored:
            problems.append(
                Problem(
                    where,
                    f"{r.station.code} {r.parameter} at {r.observed_at.isoformat()} is already stored",
                    "a new observation",
                    "observations are never overwritten; drop the row",
                )
            )
    return problems


def ingest(
    session: Session,
    actor: Principal,
    rows: Sequence[tuple[str, Mapping[str, Any]]],
    source: str,
    settings: FlagSettings | None = None,
) -> IngestReport:
    """Store observations given as (where, row) pairs with the keys of :data:`CSV_COLUMNS`.

    Raises :class:`PermissionDenied` if a station lies outside the actor's district and
    :class:`ValidationFailed` listing every bad row; stores nothing in either case.
    """
    if not rows:
        raise ValidationFailed(
            [Problem("observations", "none given", "at least one row", "add rows")]
        )
    stations = _stations_by_code(session, (str(r.get("station_code") or "") for _, r in rows))
    for station in {s.id: s for s in stations.values() if s is not None}.values():
        require_monitoring_write(actor, station.district_code)
    good: list[tuple[str, _Row]] = []
    problems: list[Problem] = []
    for where, row in rows:
        parsed, issues = _row_problems(where, row, stations)
        problems += issues
        if parsed is not None:
            good.append((where, parsed))
    problems += _duplicate_problems(session, good)
    if problems:
        raise ValidationFailed(problems)
    report = IngestReport()
    for _, r in good:
        obs = Observation(
            station_id=r.station.id,
            parameter=r.parameter,
            observed_at=r.observed_at,
            value=r.value,
            unit=PARAMETERS[r.parameter].unit,
            raw_value=r.raw_value,
            raw_unit=r.raw_unit,
            source=source,
            recorded_by=actor.username,
        )
        report.observations.append(obs)
    session.add_all(report.observations)
    session.flush()
    _derive(session, [r for _, r in good], settings or FlagSettings(), report)
    return report


def _derive(
    session: Session, rows: Sequence[_Row], settings: FlagSettings, report: IngestReport
) -> None:
    series = {(r.station.id, r.parameter): r.station for r in rows}
    for (_, parameter), station in sorted(series.items(), key=lambda kv: kv[0]):
        report.flags += refresh_flags(session, station, parameter, settings)
    times: dict[int, set[dt.datetime]] = defaultdict(set)
    stations = {}
    for r in rows:
        times[r.station.id].add(r.observed_at)
        stations[r.station.id] = r.station
    for sid, ts in sorted(times.items()):
        report.alerts += evaluate_alerts(session, stations[sid], sorted(ts))


def import_csv(
    session: Session,
    actor: Principal,
    text: str,
    source: str = "csv",
    settings: FlagSettings | None = None,
) -> IngestReport:
    """Ingest a CSV (header ``station_code,parameter,observed_at,value,unit``).

    Problems name the file line (the header is line 1).
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ValidationFailed(
            [
                Problem(
                    "line 1",
                    f"columns {missing} are missing",
                    ", ".join(CSV_COLUMNS),
                    "add the columns to the header line",
                )
            ]
        )
    rows = [(f"line {reader.line_num}", dict(row)) for row in reader]
    return ingest(session, actor, rows, source, settings)


# ------------------------------------------------------------------ flags


def _series(session: Session, station_id: int, parameter: str) -> list[Observation]:
    stmt = (
        select(Observation)
        .where(Observation.station_id == station_id, Observation.parameter == parameter)
        .order_by(Observation.observed_at)
    )
    return list(session.scalars(stmt))


def _flags_of(session: Session, ids: Sequence[int]) -> dict[int, set[str]]:
    out: dict[int, set[str]] = defaultdict(set)
    if ids:
        stmt = select(QualityFlag.observation_id, QualityFlag.flag).where(
            QualityFlag.observation_id.in_(ids)
        )
        for oid, flag in session.execute(stmt):
            out[oid].add(flag)
    return out


def refresh_flags(
    session: Session, station: Station, parameter: str, settings: FlagSettings
) -> list[QualityFlag]:
    """Recompute the flags of one series and add those not stored yet (none are removed)."""
    obs = _series(session, station.id, parameter)
    found = rules.series_flags(
        parameter,
        [utc(o.observed_at) for o in obs],
        [o.value for o in obs],
        station.expected_interval_s,
        settings,
    )
    existing = _flags_of(session, [o.id for o in obs])
    new = []
    for f in found:
        oid = obs[f.index].id
        if f.flag not in existing[oid]:
            existing[oid].add(f.flag)
            new.append(QualityFlag(observation_id=oid, flag=f.flag, detail=f.detail))
    session.add_all(new)
    session.flush()
    return new


# ------------------------------------------------------------------ assessment and alerts


def _values(
    session: Session, station: Station, start: dt.datetime, end: dt.datetime
) -> dict[str, Decimal]:
    """Mean of each parameter over [start, end], leaving out out-of-range values."""
    stmt = select(Observation).where(
        Observation.station_id == station.id,
        Observation.observed_at >= utc(start),
        Observation.observed_at <= utc(end),
    )
    obs = list(session.scalars(stmt))
    bad = {oid for oid, fl in _flags_of(session, [o.id for o in obs]).items() if "range" in fl}
    groups: dict[str, list[Decimal]] = defaultdict(list)
    for o in obs:
        if o.id not in bad:
            groups[o.parameter].append(o.value)
    return {p: sum(v, Decimal(0)) / len(v) for p, v in groups.items()}


@dataclass(frozen=True)
class Assessment:
    """A station's water class and/or air quality over a period."""

    station_code: str
    start: dt.datetime
    end: dt.datetime
    water: rules.WaterAssessment | None
    air: rules.AirAssessment | None


def assess_station(
    session: Session, actor: Principal, code: str, start: dt.datetime, end: dt.datetime
) -> Assessment:
    """GB 3838 class (of period means) and AQI over [start, end] (one sample: start = end)."""
    require_monitoring_read(actor)
    station = get_station(session, code)
    values = _values(session, station, start, end)
    water = rules.water_quality(values, station.water_body or "river")
    air = rules.air_quality(values) if station.kind == StationKind.air else None
    return Assessment(code, utc(start), utc(end), water, air)


def _alert_for(station: Station, at: dt.datetime, values: Mapping[str, Decimal]) -> list[Alert]:
    alerts = []
    water = rules.water_quality(values, station.water_body or "river")
    if station.kind == StationKind.water_section and station.target_class and water:
        if water.water_class > station.target_class:
            target = rules.WATER_CLASS_LABELS[station.target_class - 1]
            detail = (
                f"class {water.label} worse than target {target} (worst: {', '.join(water.worst)})"
            )
            alerts.append(
                Alert(
                    station_id=station.id,
                    kind="water_class",
                    observed_at=at,
                    value=water.water_class,
                    threshold=station.target_class,
                    detail=detail,
                )
            )
    air = rules.air_quality(values) if station.kind == StationKind.air else None
    if air and air.aqi > AQI_ALERT_THRESHOLD:
        detail = (
            f"AQI {air.aqi} > {AQI_ALERT_THRESHOLD}, primary pollutant {', '.join(air.primary)}"
        )
        alerts.append(
            Alert(
                station_id=station.id,
                kind="aqi",
                observed_at=at,
                value=air.aqi,
                threshold=AQI_ALERT_THRESHOLD,
                detail=detail,
            )
        )
    return alerts


def evaluate_alerts(
    session: Session, station: Station, times: Sequence[dt.datetime]
) -> list[Alert]:
    """Open an alert per sampling time whose class or AQI exceeds (once per time and kind)."""
    new = []
    for at in times:
        for alert in _alert_for(station, at, _values(session, station, at, at)):
            exists = session.scalar(
                select(Alert.id).where(
                    Alert.station_id == station.id,
                    Alert.kind == alert.kind,
                    Alert.observed_at == at,
                )
            )
            if not exists:
                new.append(alert)
    session.add_all(new)
    session.flush()
    return new


def list_alerts(
    session: Session, actor: Principal, status: str | None = None, district: str | None = None
) -> list[tuple[Alert, Station]]:
    """Alerts (newest first) with their station, optionally by status and district prefix."""
    require_monitoring_read(actor)
    stmt = select(Alert, Station).join(Station, Station.id == Alert.station_id)
    if status:
        stmt = stmt.where(Alert.status == status)
    if district:
        stmt = stmt.where(Station.district_code.startswith(district, autoescape=True))
    stmt = stmt.order_by(Alert.observed_at.desc(), Alert.id)
    return [(a, s) for a, s in session.execute(stmt)]


def acknowledge_alert(session: Session, actor: Principal, alert_id: int) -> Alert:
    """Mark an open alert acknowledged (by someone who may write for its station)."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"no monitoring alert {alert_id}")
    station = get_station_by_id(session, alert.station_id)
    require_monitoring_write(actor, station.district_code)
    if alert.status != "open":
        raise RuleViolation(
            [
                Problem(
                    f"alert {alert_id}",
                    f"is {alert.status} already",
                    "an open alert",
                    "nothing to do",
                )
            ]
        )
    alert.status = "acknowledged"
    alert.acknowledged_by = actor.username
    alert.acknowledged_at = dt.datetime.now(UTC)
    session.flush()
    return alert


# ------------------------------------------------------------------ queries and export


def time_series(
    session: Session,
    actor: Principal,
    code: str,
    parameter: str | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> list[SeriesPoint]:
    """Observations of a station (optionally one parameter and a period) with their flags."""
    require_monitoring_read(actor)
    station = get_station(session, code)
    stmt = select(Observation).where(Observation.station_id == station.id)
    if parameter:
        stmt = stmt.where(Observation.parameter == parameter)
    if start:
        stmt = stmt.where(Observation.observed_at >= utc(start))
    if end:
        stmt = stmt.where(Observation.observed_at <= utc(end))
    obs = list(session.scalars(stmt.order_by(Observation.parameter, Observation.observed_at)))
    flags = _flags_of(session, [o.id for o in obs])
    return [
        SeriesPoint(
            code, o.parameter, utc(o.observed_at), o.value, o.unit, tuple(sorted(flags[o.id]))
        )
        for o in obs
    ]


def series_csv(points: Sequence[SeriesPoint]) -> str:
    """A time series as CSV (UTC times, canonical units, flags joined by ';')."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["station_code", "parameter", "observed_at", "value", "unit", "flags"])
    for p in points:
        writer.writerow(
            [
                p.station_code,
                p.parameter,
                p.observed_at.isoformat(),
                format(p.value.normalize(), "f"),
                p.unit,
                ";".join(p.flags),
            ]
        )
    return buf.getvalue()
