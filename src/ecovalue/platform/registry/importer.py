"""Import parcels from GeoJSON, GeoPackage or Shapefile (read with pyogrio).

Every bad feature is reported with its index, what is wrong and how to fix it; by default
nothing is imported when any feature is bad, so a file is loaded completely or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import shapely
from pyogrio import raw
from sqlalchemy.orm import Session

from ecovalue.errors import DataFileError, Problem, ValidationFailed
from ecovalue.platform.auth.rules import Principal
from ecovalue.platform.errors import PermissionDenied, RuleViolation
from ecovalue.platform.registry import service
from ecovalue.platform.registry.rules import OwnerKind

REQUIRED_FIELDS = ("code", "resource_type", "admin_code", "owner_kind", "owner_name")
OPTIONAL_FIELDS = ("red_line", "representative_body")
_TRUE = {"1", "true", "yes", "y", "t", "是"}


@dataclass
class ImportReport:
    """Codes imported and every problem found (feature index in ``where``)."""

    imported: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def _read(path: Path, layer: str | None) -> tuple[dict[str, Any], list[dict[str, Any]], list[Any]]:
    if not path.exists():
        raise DataFileError(f"{path}: no such file; give a .geojson, .gpkg or .shp file")
    try:
        meta, _, geometry, field_data = raw.read(path, layer=layer)
    except Exception as exc:  # pyogrio raises several GDAL error types
        raise DataFileError(f"{path}: cannot be read as a vector file ({exc})") from exc
    names = list(meta["fields"])
    rows = [{n: field_data[i][k] for i, n in enumerate(names)} for k in range(len(geometry))]
    geoms = [None if g is None else shapely.from_wkb(g) for g in geometry]
    return meta, rows, geoms


def _owner_for(
    session: Session, actor: Principal, cache: dict[tuple[str, str], int], row: dict[str, Any]
) -> int:
    kind, name = str(row["owner_kind"]), str(row["owner_name"])
    key = (kind, name)
    if key not in cache:
        body = str(row.get("representative_body") or name)
        cache[key] = service.add_owner(session, actor, kind, name, body).id
    return cache[key]


def _feature_problems(i: int, row: dict[str, Any], geom: Any) -> list[Problem]:
    where = f"feature {i}"
    problems = []
    for name in REQUIRED_FIELDS:
        value = row.get(name)
        if (
            value is None
            or (isinstance(value, float) and np.isnan(value))
            or str(value).strip() == ""
        ):
            problems.append(
                Problem(
                    where,
                    f"attribute '{name}' is empty",
                    f"a value for '{name}'",
                    f"fill in '{name}' for this feature",
                )
            )
    if row.get("owner_kind") not in (None, *OwnerKind.__members__):
        problems.append(
            Problem(
                where,
                f"owner_kind '{row['owner_kind']}' is unknown",
                "'state' or 'collective'",
                "correct the attribute",
            )
        )
    if geom is None:
        problems.append(Problem(where, "has no geometry", "a polygon", "draw the boundary"))
    return problems


def import_parcels(
    session: Session,
    actor: Principal,
    register_code: str,
    path: str | Path,
    layer: str | None = None,
    skip_bad: bool = False,
    tolerance_m2: float = 1.0,
) -> ImportReport:
    """Register every feature of ``path`` as a parcel (reprojected to the register's CRS).

    Attributes: code, resource_type, admin_code, owner_kind (state|collective), owner_name,
    optional red_line (1/0, true/false) and representative_body. Raises
    :class:`ValidationFailed` with every problem unless ``skip_bad`` (then bad features are
    reported in the returned :class:`ImportReport` and the good ones imported).
    """
    path = Path(path)
    register = service.get_register(session, register_code)
    meta, rows, geoms = _read(path, layer)
    missing = [f for f in REQUIRED_FIELDS if f not in meta["fields"]]
    if missing:
        raise ValidationFailed(
            [
                Problem(
                    str(path),
                    f"attributes {missing} are missing",
                    f"attributes {list(REQUIRED_FIELDS)}",
                    "add the attributes (names are case-sensitive)",
                )
            ]
        )
    if meta.get("crs") is None:
        raise ValidationFailed(
            [
                Problem(
                    str(path),
                    "has no CRS",
                    "a declared CRS",
                    "save the file with its CRS (e.g. EPSG:4547)",
                )
            ]
        )
    transformer = pyproj.Transformer.from_crs(meta["crs"], f"EPSG:{register.srid}", always_xy=True)
    report, owners = ImportReport(), dict[tuple[str, str], int]()
    for i, (row, geom) in enumerate(zip(rows, geoms, strict=True)):
        problems = _feature_problems(i, row, geom)
        if not problems:
            projected = shapely.transform(geom, transformer.transform, interleaved=False)  # type: ignore[arg-type]
            before = set(owners)
            try:
                with session.begin_nested():  # a refused feature leaves no partial rows
                    owner_id = _owner_for(session, actor, owners, row)
                    service.register_parcel(
                        session,
                        actor,
                        register_code,
                        str(row["code"]),
                        str(row["resource_type"]),
                        str(row["admin_code"]),
                        projected,
                        owner_id,
                        red_line=str(row.get("red_line") or "0").strip().lower() in _TRUE,
                        tolerance_m2=tolerance_m2,
                    )
                report.imported.append(str(row["code"]))
            except (RuleViolation, PermissionDenied, ValueError) as exc:
                for key in set(owners) - before:  # rolled back with the savepoint
                    del owners[key]
                found = getattr(exc, "problems", None) or [Problem("", str(exc), "", "")]
                problems = [
                    Problem(
                        f"feature {i} ({row.get('code')}): {p.where}", p.what, p.expected, p.fix
                    )
                    for p in found
                ]
        report.problems.extend(problems)
    if report.problems and not skip_bad:
        raise ValidationFailed(report.problems)
    return report
