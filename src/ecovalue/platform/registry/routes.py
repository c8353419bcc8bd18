"""HTTP routes of the rights register (thin: parse, call the service, shape the answer)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import shapely.geometry
from fastapi import APIRouter
from pydantic import BaseModel, Field

from ecovalue.errors import InputError
from ecovalue.platform.deps import CurrentUser, SessionDep, SettingsDep
from ecovalue.platform.registry import service
from ecovalue.platform.registry.rules import TxKind

router = APIRouter(prefix="/api/registry", tags=["registry"])


class RegisterCreate(BaseModel):
    code: str
    name: str
    srid: int = 4547
    red_line_uses: list[str] | None = None


class OwnerCreate(BaseModel):
    kind: str = Field(description="state (全民所有) or collective (集体所有)")
    name: str
    representative_body: str


class ParcelCreate(BaseModel):
    code: str
    resource_type: str
    admin_code: str
    owner_id: int
    red_line: bool = False
    geometry: dict[str, Any] = Field(description="GeoJSON geometry in the register's CRS")


class ParcelPublic(BaseModel):
    id: int
    code: str
    resource_type: str
    admin_code: str
    red_line: bool
    area_m2: Decimal
    geometry: dict[str, Any]


class GrantCreate(BaseModel):
    kind: str
    holder: str
    share: Decimal = Decimal(1)
    start_date: dt.date
    end_date: dt.date | None = None
    use: str | None = None
    certificate_no: str | None = None
    amount: Decimal | None = None


class TransferCreate(BaseModel):
    to_holder: str
    effective_date: dt.date
    consent_of: list[str] = []
    amount: Decimal | None = None
    equity_contribution: bool = False
    mortgages_follow: bool = Field(
        default=True,
        description="true (the law's default, 民法典 第406条): the right's mortgages pass to the "
        "new holder; false: the parties agreed they are released as of the transfer",
    )


class LeaseCreate(BaseModel):
    lessee: str
    start_date: dt.date
    end_date: dt.date
    share: Decimal | None = None
    use: str | None = None
    amount: Decimal | None = None


class MortgageCreate(BaseModel):
    mortgagee: str
    start_date: dt.date
    end_date: dt.date
    amount: Decimal | None = None


class Created(BaseModel):
    id: int


class HoldingPublic(BaseModel):
    right_id: int
    parcel_code: str
    admin_code: str
    kind: str
    holder: str
    share: Decimal
    start_date: dt.date
    end_date: dt.date | None
    use: str | None
    derived: bool
    mortgaged_to: list[str]


class TransactionPublic(BaseModel):
    id: int
    kind: str
    right_id: int
    new_right_id: int | None
    counterparty: str
    effective_date: dt.date
    end_date: dt.date | None
    amount: Decimal | None


def _geometry(data: dict[str, Any]) -> Any:
    try:
        return shapely.geometry.shape(data)
    except Exception as exc:  # shapely raises several types for bad GeoJSON
        raise InputError(
            f"geometry is not valid GeoJSON ({exc}); send e.g. "
            '{"type": "Polygon", "coordinates": [[[x, y], ...]]}'
        ) from exc


@router.post("/registers", response_model=Created, status_code=201)
def create_register(body: RegisterCreate, session: SessionDep, user: CurrentUser) -> Created:
    reg = service.create_register(
        session, user, body.code, body.name, body.srid, body.red_line_uses
    )
    return Created(id=reg.id)


@router.post("/owners", response_model=Created, status_code=201)
def add_owner(body: OwnerCreate, session: SessionDep, user: CurrentUser) -> Created:
    return Created(
        id=service.add_owner(session, user, body.kind, body.name, body.representative_body).id
    )


@router.post("/registers/{code}/parcels", response_model=Created, status_code=201)
def register_parcel(
    code: str, body: ParcelCreate, session: SessionDep, user: CurrentUser, settings: SettingsDep
) -> Created:
    parcel = service.register_parcel(
        session,
        user,
        code,
        body.code,
        body.resource_type,
        body.admin_code,
        _geometry(body.geometry),
        body.owner_id,
        body.red_line,
        tolerance_m2=settings.parcel_overlap_tolerance_m2,
    )
    return Created(id=parcel.id)


@router.get("/registers/{code}/parcels", response_model=list[ParcelPublic])
def list_parcels(code: str, session: SessionDep, user: CurrentUser) -> list[ParcelPublic]:
    return [
        ParcelPublic(
            id=p.id,
            code=p.code,
            resource_type=p.resource_type,
            admin_code=p.admin_code,
            red_line=p.red_line,
            area_m2=p.area_m2,
            geometry=shapely.geometry.mapping(p.geometry),
        )
        for p in service.list_parcels(session, user, code)
    ]


@router.post("/parcels/{parcel_id}/rights", response_model=Created, status_code=201)
def grant(parcel_id: int, body: GrantCreate, session: SessionDep, user: CurrentUser) -> Created:
    right = service.grant_right(
        session,
        user,
        parcel_id,
        body.kind,
        body.holder,
        body.share,
        body.start_date,
        body.end_date,
        body.use,
        body.certificate_no,
        body.amount,
    )
    return Created(id=right.id)


@router.post("/rights/{right_id}/transfer", response_model=Created, status_code=201)
def transfer(
    right_id: int, body: TransferCreate, session: SessionDep, user: CurrentUser
) -> Created:
    kind = TxKind.equity_contribution if body.equity_contribution else TxKind.transfer
    right = service.transfer_right(
        session,
        user,
        right_id,
        body.to_holder,
        body.effective_date,
        body.consent_of,
        body.amount,
        kind,
        mortgages_follow=body.mortgages_follow,
    )
    return Created(id=right.id)


@router.post("/rights/{right_id}/lease", response_model=Created, status_code=201)
def lease(right_id: int, body: LeaseCreate, session: SessionDep, user: CurrentUser) -> Created:
    right = service.lease_right(
        session,
        user,
        right_id,
        body.lessee,
        body.start_date,
        body.end_date,
        body.share,
        body.use,
        body.amount,
    )
    return Created(id=right.id)


@router.post("/rights/{right_id}/mortgage", response_model=Created, status_code=201)
def mortgage(
    right_id: int, body: MortgageCreate, session: SessionDep, user: CurrentUser
) -> Created:
    tx = service.mortgage_right(
        session, user, right_id, body.mortgagee, body.start_date, body.end_date, body.amount
    )
    return Created(id=tx.id)


@router.post("/mortgages/{mortgage_id}/release", response_model=Created, status_code=201)
def release(mortgage_id: int, on: dt.date, session: SessionDep, user: CurrentUser) -> Created:
    """Release a mortgage as of ``on`` (within its term, once), by the mortgagee or an
    administrator; earlier dates keep the mortgage. Returns the release transaction's id."""
    return Created(id=service.release_mortgage(session, user, mortgage_id, on).id)


@router.get("/holdings", response_model=list[HoldingPublic])
def holdings(
    on: dt.date,
    session: SessionDep,
    user: CurrentUser,
    parcel_id: int | None = None,
    holder: str | None = None,
) -> list[HoldingPublic]:
    """Rights held on a date (history query), within the caller's scope."""
    return [
        HoldingPublic(**{**h.__dict__, "mortgaged_to": list(h.mortgaged_to)})
        for h in service.holdings_on(session, user, on, parcel_id, holder)
    ]


@router.get("/parcels/{parcel_id}/history", response_model=list[TransactionPublic])
def history(parcel_id: int, session: SessionDep, user: CurrentUser) -> list[TransactionPublic]:
    return [
        TransactionPublic.model_validate(t, from_attributes=True)
        for t in service.parcel_history(session, user, parcel_id)
    ]
