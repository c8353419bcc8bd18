"""HTTP routes of the rights register (thin: parse, call the service, shape the answer).

Every write answers ``{"id": …}`` with the id of the record it creates, named by ``kind``
(``right`` for a grant, transfer, equity contribution and lease, whose result is a right;
``transaction`` for a mortgage and a release, whose result is an event on a right).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

import shapely.geometry
from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from ecovalue.db.bounds import (
    AdminCode,
    Amount,
    Code40,
    Code60,
    Day,
    Id,
    Ident60,
    Srid,
    Text80,
    Text200,
)
from ecovalue.platform.deps import CurrentUser, SessionDep, SettingsDep
from ecovalue.platform.geojson import CrsName, GeometryIn, in_target_crs
from ecovalue.platform.registry import service
from ecovalue.platform.registry.rules import OwnerKind, ResourceType, RightKind, TxKind
from ecovalue.platform.responses import CREATE, READ, WRITE, errors

router = APIRouter(prefix="/api/registry", tags=["registry"])

RegisterCode = Code40
RegisterPath = Annotated[RegisterCode, Path(description="the register's code, e.g. WH")]
Name = Text200
Share = Annotated[Decimal, Field(gt=0, le=1, max_digits=7, decimal_places=6,
                                 description="a share of the right: 0 < share ≤ 1")]  # fmt: skip
Use = Ident60


class RegisterCreate(BaseModel):
    code: RegisterCode = Field(description="unique code of the register, e.g. WH")
    name: Name
    srid: Srid = Field(4547, description="EPSG code of a projected CRS in metres")
    red_line_uses: Annotated[list[Use], Field(max_length=100)] | None = Field(
        None, description="uses allowed inside red lines (default: the national list)"
    )


class OwnerCreate(BaseModel):
    kind: OwnerKind = Field(description="state (全民所有) or collective (集体所有)")
    name: Name
    representative_body: Name = Field(description="the body exercising ownership")


class ParcelCreate(BaseModel):
    code: Code60
    resource_type: ResourceType
    admin_code: AdminCode = Field(description="6, 9 or 12 digits of the parcel's division")
    owner_id: Id
    red_line: bool = False
    geometry: GeometryIn = Field(description="GeoJSON Polygon or MultiPolygon")
    crs: CrsName | None = None


class ParcelPublic(BaseModel):
    id: int
    code: str
    resource_type: str
    admin_code: str
    red_line: bool
    area_m2: Decimal
    geometry: dict[str, Any]


class GrantCreate(BaseModel):
    kind: Literal[RightKind.contracting, RightKind.use_operation] = Field(
        description="contracting (承包权) or use_operation (使用权/经营权)"
    )
    holder: Name
    share: Share = Decimal(1)
    start_date: Day
    end_date: Day | None = None
    use: Use | None = None
    certificate_no: Text80 | None = None
    amount: Amount | None = Field(None, description="price in 元")


class TransferCreate(BaseModel):
    to_holder: Name
    effective_date: Day
    consent_of: Annotated[list[Name], Field(max_length=100)] = Field(
        default_factory=list, description="mortgagees who consent to the transfer"
    )
    amount: Amount | None = Field(None, description="price in 元")
    equity_contribution: bool = Field(
        False, description="入股: the right is contributed as equity to the new holder"
    )
    mortgages_follow: bool = Field(
        default=True,
        description="true (the law's default, 民法典 第406条): the right's mortgages pass to the "
        "new holder; false: the parties agreed they are released as of the transfer",
    )


class LeaseCreate(BaseModel):
    lessee: Name
    start_date: Day
    end_date: Day
    share: Share | None = None
    use: Use | None = None
    amount: Amount | None = Field(None, description="rent in 元")


class MortgageCreate(BaseModel):
    mortgagee: Name
    start_date: Day
    end_date: Day
    amount: Amount | None = Field(None, description="the secured loan in 元")


class Created(BaseModel):
    """The record a write created: its id and what kind of record the id names."""

    id: int
    kind: Literal["register", "owner", "parcel", "right", "transaction"]


class RightEvent(Created):
    """A rights transaction's reply: both ids, whatever the event.

    ``right_id`` is the right the event results in (the new right of a grant, transfer,
    equity contribution or lease; the mortgaged right of a mortgage or release) and
    ``transaction_id`` the event itself (a mortgage is released by its transaction id).
    ``id`` is the record the event created: the right, or for a mortgage and a release the
    transaction.
    """

    right_id: int
    transaction_id: int


def _right_event(session: SessionDep, right_id: int) -> RightEvent:
    tx = service.creating_transaction(session, right_id)
    return RightEvent(id=right_id, kind="right", right_id=right_id, transaction_id=tx)


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
    kind: TxKind
    right_id: int
    new_right_id: int | None
    counterparty: str
    effective_date: dt.date
    end_date: dt.date | None
    amount: Decimal | None


@router.post("/registers", response_model=Created, status_code=201, responses=errors(*CREATE))
def create_register(body: RegisterCreate, session: SessionDep, user: CurrentUser) -> Created:
    """Create a register (administrators); its code must be new (409 otherwise)."""
    reg = service.create_register(
        session, user, body.code, body.name, body.srid, body.red_line_uses
    )
    return Created(id=reg.id, kind="register")


@router.post("/owners", response_model=Created, status_code=201, responses=errors(*CREATE))
def add_owner(body: OwnerCreate, session: SessionDep, user: CurrentUser) -> Created:
    """Record an owner (administrators, district officials)."""
    owner = service.add_owner(session, user, body.kind, body.name, body.representative_body)
    return Created(id=owner.id, kind="owner")


@router.post(
    "/registers/{code}/parcels", response_model=Created, status_code=201, responses=errors(*WRITE)
)
def register_parcel(
    code: RegisterPath,
    body: ParcelCreate,
    session: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
) -> Created:
    """Register a parcel and its owner's ownership right.

    Coordinates are in the register's CRS unless ``crs`` names theirs (then reprojected);
    lon/lat without ``crs`` is refused (ecovalue.platform.geojson). Overlaps, unknown
    owners, a duplicate code and a zero area are refused with 409.
    """
    register = service.get_register(session, code)
    geometry = in_target_crs(body.geometry, body.crs, f"EPSG:{register.srid}", "parcel")
    parcel = service.register_parcel(
        session,
        user,
        code,
        body.code,
        body.resource_type,
        body.admin_code,
        geometry,
        body.owner_id,
        body.red_line,
        tolerance_m2=settings.parcel_overlap_tolerance_m2,
    )
    return Created(id=parcel.id, kind="parcel")


@router.get("/registers/{code}/parcels", response_model=list[ParcelPublic], responses=errors(*READ))
def list_parcels(code: RegisterPath, session: SessionDep, user: CurrentUser) -> list[ParcelPublic]:
    """Parcels of a register within the caller's scope (geometry in the register's CRS)."""
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


@router.post(
    "/parcels/{parcel_id}/rights",
    response_model=RightEvent,
    status_code=201,
    responses=errors(*WRITE),
)
def grant(parcel_id: Id, body: GrantCreate, session: SessionDep, user: CurrentUser) -> RightEvent:
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
    return _right_event(session, right.id)


@router.post(
    "/rights/{right_id}/transfer",
    response_model=RightEvent,
    status_code=201,
    responses=errors(*WRITE),
)
def transfer(
    right_id: Id, body: TransferCreate, session: SessionDep, user: CurrentUser
) -> RightEvent:
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
    return _right_event(session, right.id)


@router.post(
    "/rights/{right_id}/lease", response_model=RightEvent, status_code=201, responses=errors(*WRITE)
)
def lease(right_id: Id, body: LeaseCreate, session: SessionDep, user: CurrentUser) -> RightEvent:
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
    return _right_event(session, right.id)


@router.post(
    "/rights/{right_id}/mortgage",
    response_model=RightEvent,
    status_code=201,
    responses=errors(*WRITE),
)
def mortgage(
    right_id: Id, body: MortgageCreate, session: SessionDep, user: CurrentUser
) -> RightEvent:
    """Mortgage a right; the id is the mortgage's transaction (release it by that id)."""
    tx = service.mortgage_right(
        session, user, right_id, body.mortgagee, body.start_date, body.end_date, body.amount
    )
    return RightEvent(id=tx.id, kind="transaction", right_id=tx.right_id, transaction_id=tx.id)


@router.post(
    "/mortgages/{mortgage_id}/release",
    response_model=RightEvent,
    status_code=201,
    responses=errors(*WRITE),
)
def release(
    mortgage_id: Id,
    on: Annotated[Day, Query(description="the release date")],
    session: SessionDep,
    user: CurrentUser,
) -> RightEvent:
    """Release a mortgage (by its transaction id) as of ``on`` (within its term, once), by the
    mortgagee or an administrator; earlier dates keep the mortgage. The id is the release's
    transaction."""
    tx = service.release_mortgage(session, user, mortgage_id, on)
    return RightEvent(id=tx.id, kind="transaction", right_id=tx.right_id, transaction_id=tx.id)


@router.get("/holdings", response_model=list[HoldingPublic], responses=errors(*READ))
def holdings(
    on: Annotated[Day, Query(description="the date the holdings are asked for")],
    session: SessionDep,
    user: CurrentUser,
    parcel_id: Id | None = None,
    holder: Name | None = None,
) -> list[HoldingPublic]:
    """Rights held on a date (history query), within the caller's scope."""
    return [
        HoldingPublic(**{**h.__dict__, "mortgaged_to": list(h.mortgaged_to)})
        for h in service.holdings_on(session, user, on, parcel_id, holder)
    ]


@router.get(
    "/parcels/{parcel_id}/history", response_model=list[TransactionPublic], responses=errors(*READ)
)
def history(parcel_id: Id, session: SessionDep, user: CurrentUser) -> list[TransactionPublic]:
    return [
        TransactionPublic.model_validate(t, from_attributes=True)
        for t in service.parcel_history(session, user, parcel_id)
    ]
