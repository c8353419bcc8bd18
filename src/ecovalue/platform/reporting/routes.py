"""HTTP routes of department reporting (thin)."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from ecovalue.platform.deps import CurrentUser, SessionDep
from ecovalue.platform.reporting import service
from ecovalue.platform.reporting.service import SubmissionView

router = APIRouter(prefix="/api/reports", tags=["reporting"])


class RowIn(BaseModel):
    table: Literal["statistics", "reported"]
    region_code: str
    item: str
    indicator: str | None = None
    ecosystem_type: str | None = None
    quantity: Decimal
    unit: str
    mode: str | None = None
    source: str | None = None


class ReportCreate(BaseModel):
    department: str
    district_code: str
    year: int
    rows: list[RowIn]
    note: str | None = None


class ReviewCreate(BaseModel):
    decision: Literal["approved", "returned"]
    reason: str | None = None


class ReportPublic(BaseModel):
    id: int
    department: str
    district_code: str
    year: int
    version: int
    status: str
    reason: str | None
    submitted_by: str
    rows: list[RowIn]


def _public(v: SubmissionView) -> ReportPublic:
    s = v.submission
    return ReportPublic(
        id=s.id,
        department=s.department,
        district_code=s.district_code,
        year=s.year,
        version=s.version,
        status=v.status,
        reason=v.reason,
        submitted_by=s.submitted_by,
        rows=[RowIn.model_validate(r, from_attributes=True) for r in v.rows],
    )


@router.post("", response_model=ReportPublic, status_code=201)
def submit(body: ReportCreate, session: SessionDep, user: CurrentUser) -> ReportPublic:
    rows = [r.model_dump() for r in body.rows]
    sub = service.submit_report(
        session, user, body.department, body.district_code, body.year, rows, body.note
    )
    return _public(service.get_submission(session, user, sub.id))


@router.get("", response_model=list[ReportPublic])
def list_reports(year: int, session: SessionDep, user: CurrentUser) -> list[ReportPublic]:
    return [_public(v) for v in service.list_submissions(session, user, year)]


@router.get("/{submission_id}", response_model=ReportPublic)
def get_report(submission_id: int, session: SessionDep, user: CurrentUser) -> ReportPublic:
    return _public(service.get_submission(session, user, submission_id))


@router.post("/{submission_id}/review", response_model=ReportPublic)
def review(
    submission_id: int, body: ReviewCreate, session: SessionDep, user: CurrentUser
) -> ReportPublic:
    service.review_report(session, user, submission_id, body.decision, body.reason)
    return _public(service.get_submission(session, user, submission_id))
