"""HTTP routes of the eco-product catalogue (thin)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, Field

from ecovalue.db.bounds import (
    MAX_ROWS,
    AdminCode,
    Code60,
    Id,
    Money,
    Note2000,
    Quantity30,
    RegionCode,
    Text40,
    Text60,
    Text80,
    Text120,
    Text200,
    Version,
    Year,
)
from ecovalue.platform.catalogue import service
from ecovalue.platform.catalogue.tables import CatalogueVersion
from ecovalue.platform.deps import CurrentUser, SessionDep
from ecovalue.platform.responses import READ, WRITE, Timestamp, errors

router = APIRouter(prefix="/api/catalogue", tags=["catalogue"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


ProductClass = Literal["provisioning", "regulating", "cultural", "物质产品", "调节服务", "文化服务"]


class CensusRow(BaseModel):
    product_class: ProductClass = Field(
        description="provisioning/regulating/cultural or 物质产品/调节服务/文化服务"
    )
    sub_item: Text60 = Field(description="an indicator id or census:<name>")
    sub_item_zh: Text120 | None = None
    region_code: RegionCode
    region_name: Text120 | None = None
    quantity: Quantity30
    unit: Text40
    quality_grade: Text40 | None = None
    location: Text200 | None = None
    department: Text80
    value_current: Money | None = Field(None, description="元, current prices")
    parcel_ids: Annotated[list[Id], Field(max_length=1000)] = []


class BuildCreate(BaseModel):
    run_id: Id | None = None
    census: Annotated[list[CensusRow], Field(max_length=MAX_ROWS)] = []
    note: Note2000 = ""
    departments: Annotated[dict[Code60, Text80], Field(max_length=200)] | None = Field(
        None, description="responsible department by indicator id, overriding the defaults"
    )


class VersionPublic(BaseModel):
    id: int
    year: int
    version: int
    supersedes_id: int | None
    run_id: int | None
    note: str
    created_by: str
    created_at: Timestamp
    synthetic: bool = Field(description="built from a run on synthetic data (a demo)")


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


def _version(session: SessionDep, v: CatalogueVersion) -> VersionPublic:
    return VersionPublic(
        **{k: getattr(v, k) for k in VersionPublic.model_fields if k != "synthetic"},
        synthetic=service.is_synthetic(session, v),
    )


def _census(row: CensusRow) -> dict[str, object]:
    data = row.model_dump()
    for k in ("quantity", "value_current"):  # the service parses them as text, unit-checked
        data[k] = None if data[k] is None else str(data[k])
    return data


@router.post(
    "/{year}/versions", response_model=VersionPublic, status_code=201, responses=errors(*WRITE)
)
def build(year: Year, body: BuildCreate, session: SessionDep, user: CurrentUser) -> VersionPublic:
    """Build a new version of the year's catalogue from a stored run and census rows."""
    census = [_census(r) for r in body.census]
    ver = service.build_version(
        session, user, year, body.run_id, census, body.note, body.departments
    )
    return _version(session, ver)


@router.get("/{year}/versions", response_model=list[VersionPublic], responses=errors(*READ))
def versions(year: Year, session: SessionDep, user: CurrentUser) -> list[VersionPublic]:
    return [_version(session, v) for v in service.versions(session, user, year)]


@router.get("/{year}", response_model=CataloguePublic, responses=errors(*READ))
def catalogue(
    year: Year,
    session: SessionDep,
    user: CurrentUser,
    version: Version | None = None,
    district: AdminCode | None = None,
    product_class: ProductClass | None = None,
) -> CataloguePublic:
    ver, views = service.entries(session, user, year, version, district, product_class)
    return CataloguePublic(
        version=_version(session, ver),
        entries=[
            EntryPublic(
                **{k: getattr(v.entry, k) for k in EntryPublic.model_fields if k != "parcel_codes"},
                parcel_codes=list(v.parcel_codes),
            )
            for v in views
        ],
    )


@router.get(
    "/{year}/export.xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}, "description": "the workbook"}, **errors(*READ)},
)
def export(
    year: Year, session: SessionDep, user: CurrentUser, version: Version | None = None
) -> Response:
    """The official table (one sheet per class) as XLSX."""
    data = service.export_xlsx(session, user, year, version)
    return Response(
        data,
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="eco-products-{year}.xlsx"'},
    )
