"""Services of the rights register: the only code that reads and writes register tables.

Every function takes the caller's :class:`Principal` and checks scope here, not in routes.
Rows are never updated: a transfer adds a transaction and a new right; holdings on any
date are derived by replaying transactions (:func:`holdings_on`). Rights are locked with
``SELECT … FOR UPDATE`` on PostgreSQL before their state is read, so two clients moving the
same right at once cannot both succeed; SQLite serialises writers by itself.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import pyproj
from shapely.geometry.base import BaseGeometry
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from ecovalue.errors import InputError, Problem
from ecovalue.platform.auth.rules import (
    Principal,
    Role,
    can_read_unpublished,
    require_register_write,
    require_role,
)
from ecovalue.platform.errors import NotFound, PermissionDenied, RuleViolation
from ecovalue.platform.registry import rules
from ecovalue.platform.registry.rules import Interval, OwnerKind, ResourceType, RightKind, TxKind
from ecovalue.platform.registry.tables import Owner, Parcel, Register, Right, RightTransaction

DISPOSING = (TxKind.transfer.value, TxKind.equity_contribution.value)


@dataclass(frozen=True)
class Holding:
    """A right as held on a given date."""

    right_id: int
    parcel_id: int
    parcel_code: str
    admin_code: str
    kind: str
    holder: str
    share: Decimal
    start_date: dt.date
    end_date: dt.date | None
    use: str | None
    derived: bool
    mortgaged_to: tuple[str, ...]


def _fail(problems: list[Problem]) -> None:
    if problems:
        raise RuleViolation(problems)


def create_register(
    session: Session,
    actor: Principal,
    code: str,
    name: str,
    srid: int,
    red_line_uses: Sequence[str] | None = None,
) -> Register:
    """A new register in a projected CRS (areas and overlap tolerances are in metres)."""
    require_role(actor, {Role.administrator}, "create registers")
    if session.scalar(select(Register.id).where(Register.code == code)) is not None:
        raise RuleViolation(
            [
                Problem(
                    "code",
                    f"register '{code}' already exists",
                    "a new register code",
                    "use the existing register or choose another code",
                )
            ]
        )
    try:
        crs = pyproj.CRS.from_epsg(srid)
    except pyproj.exceptions.CRSError as exc:
        raise InputError(
            f"EPSG:{srid} is not a known CRS; use e.g. 4547 (CGCS2000 / 3° GK CM 114E)"
        ) from exc
    if not crs.is_projected:
        raise InputError(
            f"EPSG:{srid} ({crs.name}) is geographic; a register needs a projected "
            "CRS in metres, e.g. EPSG:4547 for Wuhan"
        )
    uses = list(red_line_uses if red_line_uses is not None else rules.DEFAULT_RED_LINE_ALLOWED_USES)
    register = Register(code=code, name=name, srid=srid, red_line_uses=json.dumps(uses))
    session.add(register)
    session.flush()
    return register


def get_register(session: Session, code: str) -> Register:
    """The register called ``code``; raises NotFound."""
    reg = session.scalar(select(Register).where(Register.code == code))
    if reg is None:
        raise NotFound(f"no register with code '{code}'")
    return reg


def list_registers(session: Session) -> list[Register]:
    """Every register (their codes, names and CRSs are not scoped: parcels are)."""
    return list(session.scalars(select(Register).order_by(Register.code)))


def add_owner(
    session: Session, actor: Principal, kind: OwnerKind | str, name: str, representative_body: str
) -> Owner:
    """Record an owner: state (with the body exercising ownership) or a collective."""
    require_role(actor, {Role.administrator, Role.district_official}, "record owners")
    try:
        kind = OwnerKind(kind)
    except ValueError as exc:
        raise InputError(
            f"owner kind '{kind}' is unknown; expected 'state' (全民所有) or "
            "'collective' (集体所有)"
        ) from exc
    if not representative_body.strip():
        raise InputError(
            "an owner needs the body that exercises ownership, e.g. "
            "'自然资源部' or 'XX村股份经济合作社'"
        )
    owner = Owner(kind=kind.value, name=name, representative_body=representative_body)
    session.add(owner)
    session.flush()
    return owner


def _overlapping_parcels(
    session: Session, register_id: int, geometry: BaseGeometry, tolerance_m2: float
) -> list[tuple[str, float]]:
    minx, miny, maxx, maxy = geometry.bounds
    stmt = select(Parcel.code, Parcel.geometry).where(
        Parcel.register_id == register_id,
        Parcel.minx <= maxx,
        Parcel.maxx >= minx,
        Parcel.miny <= maxy,
        Parcel.maxy >= miny,
    )
    others = [(code, geom) for code, geom in session.execute(stmt)]
    return rules.find_overlaps(geometry, others, tolerance_m2)


def register_parcel(
    session: Session,
    actor: Principal,
    register_code: str,
    code: str,
    resource_type: str,
    admin_code: str,
    geometry: BaseGeometry,
    owner_id: int,
    red_line: bool = False,
    ownership_start: dt.date = dt.date(1949, 10, 1),
    tolerance_m2: float = 1.0,
) -> Parcel:
    """Register a parcel (geometry in the register's CRS) and its owner's ownership right.

    Refuses invalid geometry, unknown resource types and overlaps with parcels of the same
    register larger than ``tolerance_m2``.
    """
    require_register_write(actor, admin_code)
    register = get_register(session, register_code)
    owner = session.get(Owner, owner_id)
    problems = rules.check_geometry(geometry)
    if resource_type not in ResourceType.__members__:
        problems.append(
            Problem(
                "resource_type",
                f"'{resource_type}' is unknown",
                ", ".join(ResourceType.__members__),
                "use one of the listed types",
            )
        )
    if owner is None:
        problems.append(
            Problem(
                "owner_id",
                f"owner {owner_id} does not exist",
                "an owner id",
                "record the owner first",
            )
        )
    if (
        session.scalar(
            select(Parcel.id).where(Parcel.register_id == register.id, Parcel.code == code)
        )
        is not None
    ):
        problems.append(
            Problem(
                "code",
                f"parcel '{code}' is already registered",
                "a new code",
                "use the existing parcel or a new code",
            )
        )
    if not problems:
        for other, area in _overlapping_parcels(session, register.id, geometry, tolerance_m2):
            problems.append(
                Problem(
                    "geometry",
                    f"overlaps parcel '{other}' by {area:.2f} m²",
                    f"no overlap above {tolerance_m2} m²",
                    "correct the boundary or the existing parcel",
                )
            )
    area_m2 = rules.area_m2(geometry, pyproj.CRS.from_epsg(register.srid)) if not problems else None
    if area_m2 is not None and area_m2 <= 0:
        problems.append(
            Problem(
                "geometry",
                f"has an area of {area_m2} m² in EPSG:{register.srid}",
                "a parcel of at least 0.01 m²",
                "check the coordinates are in the register's CRS (metres) or declare their CRS",
            )
        )
    _fail(problems)
    assert owner is not None and area_m2 is not None
    minx, miny, maxx, maxy = geometry.bounds
    parcel = Parcel(
        register_id=register.id,
        code=code,
        resource_type=resource_type,
        admin_code=admin_code,
        red_line=red_line,
        owner_id=owner.id,
        area_m2=area_m2,
        geometry=geometry,
        minx=minx,
        miny=miny,
        maxx=maxx,
        maxy=maxy,
    )
    session.add(parcel)
    session.flush()
    session.add(
        Right(
            parcel_id=parcel.id,
            kind=RightKind.ownership.value,
            holder=owner.name,
            share=Decimal(1),
            start_date=ownership_start,
            end_date=None,
        )
    )
    session.flush()
    return parcel


def _lock_right(session: Session, right_id: int) -> Right:
    right = session.scalar(select(Right).where(Right.id == right_id).with_for_update())
    if right is None:
        raise NotFound(f"no right with id {right_id}")
    return right


def _disposal_date(session: Session, right_id: int) -> dt.date | None:
    return session.scalar(
        select(RightTransaction.effective_date)
        .where(RightTransaction.right_id == right_id, RightTransaction.kind.in_(DISPOSING))
        .order_by(RightTransaction.effective_date)
        .limit(1)
    )


def _interval(session: Session, right: Right) -> Interval:
    disposed = _disposal_date(session, right.id)
    end = right.end_date
    if disposed is not None:
        last = disposed - dt.timedelta(days=1)
        end = last if end is None else min(end, last)
    return Interval(right.start_date, end, Decimal(right.share))


def _lineage(session: Session, right_id: int) -> list[int]:
    """The right and every right it succeeded by transfer or equity contribution, newest first.

    A mortgage follows the property (民法典 第406条: 抵押财产转让的，抵押权不受影响), so the
    mortgages of a right are those registered on it or on any of its predecessors.
    """
    ids = [right_id]
    while True:
        parent = session.scalar(
            select(RightTransaction.right_id).where(
                RightTransaction.new_right_id == ids[-1], RightTransaction.kind.in_(DISPOSING)
            )
        )
        if parent is None or parent in ids:
            return ids
        ids.append(parent)


def _mortgages(session: Session, right_id: int, lock: bool = False) -> list[rules.Mortgage]:
    """Every mortgage burdening the right (its own and its predecessors'), with releases.

    ``lock`` takes the mortgage rows FOR UPDATE (PostgreSQL), as a release does.
    """
    stmt = (
        select(RightTransaction)
        .where(
            RightTransaction.right_id.in_(_lineage(session, right_id)),
            RightTransaction.kind == TxKind.mortgage.value,
        )
        .order_by(RightTransaction.id)
    )
    mortgages = list(session.scalars(stmt.with_for_update() if lock else stmt))
    released: dict[int | None, dt.date] = {
        mortgage_id: on
        for mortgage_id, on in session.execute(
            select(RightTransaction.mortgage_id, RightTransaction.effective_date).where(
                RightTransaction.kind == TxKind.mortgage_release.value,
                RightTransaction.mortgage_id.in_([m.id for m in mortgages]),
            )
        )
    }
    return [
        rules.Mortgage(
            t.id,
            t.counterparty,
            t.effective_date,
            t.end_date or t.effective_date,
            released.get(t.id),
        )
        for t in mortgages
    ]


def _active_mortgagees(session: Session, right_id: int, on: dt.date) -> list[str]:
    return [m.mortgagee for m in _mortgages(session, right_id) if m.active_on(on)]


def _parcel_of(session: Session, right: Right) -> Parcel:
    parcel = session.get(Parcel, right.parcel_id)
    assert parcel is not None  # foreign key
    return parcel


def _red_line_uses(session: Session, parcel: Parcel) -> list[str]:
    register = session.get(Register, parcel.register_id)
    assert register is not None
    return list(json.loads(register.red_line_uses))


def _record(session: Session, actor: Principal, **fields: object) -> RightTransaction:
    tx = RightTransaction(recorded_by=actor.username, **fields)
    session.add(tx)
    session.flush()
    return tx


def grant_right(
    session: Session,
    actor: Principal,
    parcel_id: int,
    kind: str,
    holder: str,
    share: Decimal,
    start: dt.date,
    end: dt.date | None,
    use: str | None = None,
    certificate_no: str | None = None,
    amount: Decimal | None = None,
) -> Right:
    """出让: the owner grants a contracting or use/operation right on a parcel."""
    parcel = session.get(Parcel, parcel_id)
    if parcel is None:
        raise NotFound(f"no parcel with id {parcel_id}")
    require_register_write(actor, parcel.admin_code)
    if kind not in (RightKind.contracting.value, RightKind.use_operation.value):
        raise InputError(
            f"kind '{kind}' cannot be granted; expected 'contracting' or "
            "'use_operation' (ownership comes with the parcel)"
        )
    ownership = session.scalar(
        select(Right)
        .where(Right.parcel_id == parcel_id, Right.kind == RightKind.ownership.value)
        .order_by(Right.id)
        .limit(1)
        .with_for_update()
    )  # serialises share checks per parcel
    assert ownership is not None
    new = Interval(start, end, Decimal(share))
    problems = rules.check_term(ownership.start_date, ownership.end_date, start, end, "grant")
    problems += rules.check_red_line(parcel.red_line, use, _red_line_uses(session, parcel))
    peers = session.scalars(
        select(Right).where(
            Right.parcel_id == parcel_id, Right.kind == kind, Right.derived.is_(False)
        )
    )
    problems += rules.check_shares(
        [_interval(session, r) for r in peers], new, what=f"{kind} shares of parcel {parcel.code}"
    )
    _fail(problems)
    right = Right(
        parcel_id=parcel_id,
        kind=kind,
        holder=holder,
        share=Decimal(share),
        start_date=start,
        end_date=end,
        use=use,
        certificate_no=certificate_no,
    )
    session.add(right)
    session.flush()
    _record(
        session,
        actor,
        kind=TxKind.grant.value,
        right_id=ownership.id,
        new_right_id=right.id,
        counterparty=holder,
        effective_date=start,
        end_date=end,
        amount=amount,
    )
    return right


def transfer_right(
    session: Session,
    actor: Principal,
    right_id: int,
    to_holder: str,
    effective: dt.date,
    consent_of: Sequence[str] = (),
    amount: Decimal | None = None,
    kind: TxKind = TxKind.transfer,
    certificate_no: str | None = None,
    mortgages_follow: bool = True,
) -> Right:
    """转让 or 入股: the whole right passes to ``to_holder`` from ``effective`` to its end.

    Every mortgage overlapping the transferred period needs its mortgagee's consent. By
    default the mortgages follow the right to the new holder (民法典 第406条); with
    ``mortgages_follow=False`` the parties agreed otherwise (当事人另有约定): each such
    mortgage is released as of the transfer, recorded as a release transaction.
    """
    if kind not in (TxKind.transfer, TxKind.equity_contribution):
        raise InputError(f"'{kind}' is not a transfer; use transfer or equity_contribution")
    right = _lock_right(session, right_id)
    parcel = _parcel_of(session, right)
    require_register_write(actor, parcel.admin_code)
    problems = rules.check_disposable(right.kind, kind.value)
    disposed = _disposal_date(session, right.id)
    if disposed is not None:
        problems.append(
            Problem(
                "right",
                f"right {right.id} was already transferred on {disposed}",
                "a right still held",
                "transfer the successor right instead",
            )
        )
    problems += rules.check_term(
        right.start_date, right.end_date, effective, right.end_date, kind.value
    )
    mortgages = [
        m
        for m in _mortgages(session, right.id, lock=not mortgages_follow)
        if m.overlaps(effective, right.end_date)
    ]
    problems += rules.check_mortgage_consent(mortgages, effective, right.end_date, list(consent_of))
    _fail(problems)
    new = Right(
        parcel_id=right.parcel_id,
        kind=right.kind,
        holder=to_holder,
        share=right.share,
        start_date=effective,
        end_date=right.end_date,
        use=right.use,
        certificate_no=certificate_no,
        parent_id=right.id,
        derived=right.derived,
    )
    session.add(new)
    session.flush()
    _record(
        session,
        actor,
        kind=kind.value,
        right_id=right.id,
        new_right_id=new.id,
        counterparty=to_holder,
        effective_date=effective,
        end_date=right.end_date,
        consent_of=json.dumps(list(consent_of)),
        amount=amount,
        note=None if mortgages_follow else "mortgages released by agreement (民法典 第406条)",
    )
    if not mortgages_follow:
        _release_by_agreement(session, actor, right.id, mortgages, effective, to_holder)
    return new


def _release_by_agreement(
    session: Session,
    actor: Principal,
    right_id: int,
    mortgages: Sequence[rules.Mortgage],
    effective: dt.date,
    to_holder: str,
) -> None:
    """当事人另有约定: each mortgage ends as of the transfer (or its own start, if later)."""
    for m in mortgages:
        on = max(effective, m.start)
        _record(
            session,
            actor,
            kind=TxKind.mortgage_release.value,
            right_id=right_id,
            mortgage_id=m.id,
            counterparty=m.mortgagee,
            effective_date=on,
            end_date=on,
            note=f"released by agreement at the transfer to {to_holder}",
        )


def lease_right(
    session: Session,
    actor: Principal,
    right_id: int,
    lessee: str,
    start: dt.date,
    end: dt.date,
    share: Decimal | None = None,
    use: str | None = None,
    amount: Decimal | None = None,
) -> Right:
    """出租: a derived use/operation right for ``lessee`` within the leased right's term."""
    right = _lock_right(session, right_id)
    parcel = _parcel_of(session, right)
    require_register_write(actor, parcel.admin_code)
    held = _interval(session, right)
    use = use or right.use
    new = Interval(start, end, Decimal(share if share is not None else right.share))
    problems = rules.check_disposable(right.kind, "lease")
    problems += rules.check_term(held.start, held.end, start, end, "lease")
    problems += rules.check_red_line(parcel.red_line, use, _red_line_uses(session, parcel))
    leases = session.scalars(
        select(Right).where(Right.parent_id == right.id, Right.derived.is_(True))
    )
    problems += rules.check_shares(
        [_interval(session, r) for r in leases],
        new,
        limit=Decimal(right.share),
        what=f"leases of right {right.id}",
    )
    _fail(problems)
    lease = Right(
        parcel_id=right.parcel_id,
        kind=RightKind.use_operation.value,
        holder=lessee,
        share=new.share,
        start_date=start,
        end_date=end,
        use=use,
        parent_id=right.id,
        derived=True,
    )
    session.add(lease)
    session.flush()
    _record(
        session,
        actor,
        kind=TxKind.lease.value,
        right_id=right.id,
        new_right_id=lease.id,
        counterparty=lessee,
        effective_date=start,
        end_date=end,
        amount=amount,
    )
    return lease


def mortgage_right(
    session: Session,
    actor: Principal,
    right_id: int,
    mortgagee: str,
    start: dt.date,
    end: dt.date,
    amount: Decimal | None = None,
) -> RightTransaction:
    """抵押: pledge a right to ``mortgagee`` (e.g. a bank) until ``end``."""
    right = _lock_right(session, right_id)
    parcel = _parcel_of(session, right)
    require_register_write(actor, parcel.admin_code)
    held = _interval(session, right)
    problems = rules.check_disposable(right.kind, "mortgage")
    problems += rules.check_term(held.start, held.end, start, end, "mortgage")
    _fail(problems)
    return _record(
        session,
        actor,
        kind=TxKind.mortgage.value,
        right_id=right.id,
        counterparty=mortgagee,
        effective_date=start,
        end_date=end,
        amount=amount,
    )


def release_mortgage(
    session: Session, actor: Principal, mortgage_id: int, on: dt.date
) -> RightTransaction:
    """End a mortgage as of ``on`` (the loan was repaid): the mortgagee or an administrator.

    The release is a new event: dates before ``on`` keep the mortgage. It must fall within
    the mortgage's term and is recorded once (the mortgage row is locked, so two releases
    at once cannot both pass).
    """
    mortgage = session.scalar(
        select(RightTransaction).where(RightTransaction.id == mortgage_id).with_for_update()
    )
    if mortgage is None or mortgage.kind != TxKind.mortgage.value:
        raise NotFound(f"no mortgage with id {mortgage_id}")
    if actor.role != Role.administrator and actor.organization != mortgage.counterparty:
        raise PermissionDenied(
            f"user '{actor.username}' may not release mortgage {mortgage_id}: only the "
            f"mortgagee ('{mortgage.counterparty}': an account whose organization it is) or an "
            "administrator may"
        )
    released_on = session.scalar(
        select(RightTransaction.effective_date).where(
            RightTransaction.kind == TxKind.mortgage_release.value,
            RightTransaction.mortgage_id == mortgage.id,
        )
    )
    state = rules.Mortgage(
        mortgage.id,
        mortgage.counterparty,
        mortgage.effective_date,
        mortgage.end_date or mortgage.effective_date,
        released_on,
    )
    _fail(rules.check_release(state, on))
    return _record(
        session,
        actor,
        kind=TxKind.mortgage_release.value,
        right_id=mortgage.right_id,
        mortgage_id=mortgage.id,
        counterparty=mortgage.counterparty,
        effective_date=on,
        end_date=on,
    )


def holdings_on(
    session: Session,
    actor: Principal,
    on: dt.date,
    parcel_id: int | None = None,
    holder: str | None = None,
) -> list[Holding]:
    """Every right held on ``on`` (optionally of one parcel or holder) the actor may read."""
    disposed = select(RightTransaction.right_id).where(
        RightTransaction.kind.in_(DISPOSING), RightTransaction.effective_date <= on
    )
    stmt = (
        select(Right, Parcel.code, Parcel.admin_code)
        .join(Parcel, Parcel.id == Right.parcel_id)
        .where(
            Right.start_date <= on,
            or_(Right.end_date.is_(None), Right.end_date >= on),
            Right.id.not_in(disposed),
        )
        .order_by(Parcel.code, Right.id)
    )
    if parcel_id is not None:
        stmt = stmt.where(Right.parcel_id == parcel_id)
    if holder is not None:
        stmt = stmt.where(Right.holder == holder)
    out = []
    for right, code, admin in session.execute(stmt):
        if not can_read_unpublished(actor, admin):
            continue
        out.append(
            Holding(
                right.id,
                right.parcel_id,
                code,
                admin,
                right.kind,
                right.holder,
                Decimal(right.share),
                right.start_date,
                right.end_date,
                right.use,
                right.derived,
                tuple(_active_mortgagees(session, right.id, on)),
            )
        )
    return out


def parcel_history(session: Session, actor: Principal, parcel_id: int) -> list[RightTransaction]:
    """Every transaction on the rights of a parcel, in the order they took effect."""
    parcel = session.get(Parcel, parcel_id)
    if parcel is None:
        raise NotFound(f"no parcel with id {parcel_id}")
    if not can_read_unpublished(actor, parcel.admin_code):
        raise PermissionDenied(f"user '{actor.username}' may not read parcel {parcel.code}")
    stmt = (
        select(RightTransaction)
        .join(Right, Right.id == RightTransaction.right_id)
        .where(and_(Right.parcel_id == parcel_id))
        .order_by(RightTransaction.effective_date, RightTransaction.id)
    )
    return list(session.scalars(stmt))


def list_parcels(session: Session, actor: Principal, register_code: str) -> list[Parcel]:
    """The parcels of a register the actor may read."""
    register = get_register(session, register_code)
    stmt = select(Parcel).where(Parcel.register_id == register.id).order_by(Parcel.code)
    return [p for p in session.scalars(stmt) if can_read_unpublished(actor, p.admin_code)]


def creating_transaction(session: Session, right_id: int) -> int:
    """The id of the transaction (grant, transfer, equity contribution, lease) that created a right."""
    tx = session.scalar(
        select(RightTransaction.id).where(RightTransaction.new_right_id == right_id).limit(1)
    )
    if tx is None:
        raise NotFound(f"no transaction created right {right_id} (an ownership right has none)")
    return int(tx)
