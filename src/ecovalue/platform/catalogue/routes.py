"""HTTP routes of the eco-product catalogue (thin)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, Field

from ecovalue.platform.catalogue import service
from ecovalue.platform.catalogue.tables import CatalogueVersion
from ecovalue.platform.deps import CurrentUser, SessionDep

router = APIRouter(prefix="/api/catalogue", tags=["catalogue"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class CensusRow(BaseModel):
    product_class: str = Field(
        description="provisioning/regulating/cultural or 物质产品/调节服务/文化服务"
    )
    sub_item: str = Field(description="an indicator id or census:<name>")
    sub_item_zh: str | None = None
    region_code: str
    region_name: str | None = None
    quantity: str
    unit: str
    quality_grade: str | None = None
    location: str | None = None
    department: str
    value_current: str | None = None
    parcel_ids: list[int] = []


class BuildCreate(BaseModel):
    run_id: int | None = None
    census: list[CensusRow] = []
    note: str = ""
    departments: dict[str, str] | None = None


class VersionPublic(BaseModel):
    id: int
    year: int
    version: int
    supersedes_id: int | None
    run_id: int | None
    note: str
    created_by: str
    created_at: dt.datetime


class EntryPublic(BaseModel):
    product_class: str
    sub_item: str
    sub_item_zh: str
    region_code: str
    region_name: str | None
    quantity: Decimal | None
    unit: str
    quality_grade: str | None
    location: str | None
    department: str
    year: int
    source: str
    value_current: Decimal | None
    parcel_codes: list[str]


class CataloguePublic(BaseModel):
    version: VersionPublic
    entries: list[EntryPublic]


def _version(v: CatalogueVersion) -> VersionPublic:
    return VersionPublic.model_validate(v, from_attributes=True)


@router.post("/{year}/versions", response_model=VersionPublic, status_code=201)
def build(year: int, body: BuildCreate, session: SessionDep, user: CurrentUser) -> VersionPublic:
    """Build a new version of the year's catalogue from a stored run and census rows."""
    census = [r.model_dump() for r in body.census]
    ver = service.build_version(
        session, user, year, body.run_id, census, body.note, body.departments
    )
    return _version(ver)


@router.get("/{year}/versions", response_model=list[VersionPublic])
def versions(year: int, session: SessionDep, user: CurrentUser) -> list[VersionPublic]:
    return [_version(v) for v in service.versions(session, user, year)]


@router.get("/{year}", response_model=CataloguePublic)
def catalogue(
    year: int,
    session: SessionDep,
    user: CurrentUser,
    version: int | None = None,
    district: str | None = None,
    product_class: str | None = None,
) -> CataloguePublic:
    ver, views = service.entries(session, user, year, version, district, product_class)
    return CataloguePublic(
        version=_version(ver),
        entries=[
            EntryPublic(
                **{k: getattr(v.entry, k) for k in EntryPublic.model_fields if k != "parcel_codes"},
                parcel_codes=list(v.parcel_codes),
            )
            for v in views
        ],
    )


@router.get("/{year}/export.xlsx")
def export(
    year: int, session: SessionDep, user: CurrentUser, version: int | None = None
) -> Response:
    """The official table (one sheet per class) as XLSX."""
    data = service.export_xlsx(session, user, year, version)
    return Response(
        data,
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="eco-products-{year}.xlsx"'},
    )
