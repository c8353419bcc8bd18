"""HTTP routes of department reporting (thin)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from ecovalue.db.bounds import (
    MAX_ROWS,
    AdminCode,
    Id,
    Ident20,
    Ident40,
    Ident80,
    Quantity,
    RegionCode,
    Text40,
    Text80,
    Text200,
    Text2000,
    Year,
)
from ecovalue.platform.deps import CurrentUser, SessionDep
from ecovalue.platform.reporting import service
from ecovalue.platform.reporting.service import SubmissionView
from ecovalue.platform.responses import READ, WRITE, Timestamp, errors

router = APIRouter(prefix="/api/reports", tags=["reporting"])


class RowIn(BaseModel):
    table: Literal["statistics", "reported"] = Field(
        description="statistics (statistics.csv items) or reported (reported.csv quantities)"
    )
    region_code: RegionCode
    item: Ident80 = Field(
        description="a statistics item (e.g. gdp, product:timber) or, for reported rows, the indicator"
    )
    indicator: Ident40 | None = None
    ecosystem_type: Ident20 | None = Field(
        None, description="forest, shrub, grassland, wetland, water, farmland, urban, bare or all"
    )
    quantity: Quantity
    unit: Text40 = Field(description="e.g. m**3, t, CNY, 万m³")
    mode: Literal["replace", "complement"] | None = Field(
        None, description="reported rows: replace the model's quantity or complement it"
    )
    source: Text200 | None = None


class RowPublic(BaseModel):
    table: str
    region_code: str
    item: str
    indicator: str | None = None
    ecosystem_type: str | None = None
    quantity: Decimal
    unit: str
    mode: str | None = None
    source: str | None = None


class ReportCreate(BaseModel):
    department: Text80
    district_code: AdminCode
    year: Year
    rows: Annotated[list[RowIn], Field(min_length=1, max_length=MAX_ROWS)]
    note: Text2000 | None = None


class ReviewCreate(BaseModel):
    decision: Literal["approved", "returned"] = Field(
        description="approved: the numbers enter the next run; returned: the department "
        "corrects them and submits a new version (reason required)"
    )
    reason: Text2000 | None = None


class ReportPublic(BaseModel):
    id: int
    department: str
    district_code: str
    year: int
    version: int
    status: Literal["submitted", "approved", "returned"]
    reason: str | None
    submitted_by: str
    submitted_at: Timestamp
    rows: list[RowPublic]


def _public(v: SubmissionView) -> ReportPublic:
    s = v.submission
    return ReportPublic(
        id=s.id,
        department=s.department,
        district_code=s.district_code,
        year=s.year,
        version=s.version,
        status=v.status,  # type: ignore[arg-type]
        reason=v.reason,
        submitted_by=s.submitted_by,
        submitted_at=s.submitted_at,
        rows=[RowPublic.model_validate(r, from_attributes=True) for r in v.rows],
    )


@router.post("", response_model=ReportPublic, status_code=201, responses=errors(*WRITE))
def submit(body: ReportCreate, session: SessionDep, user: CurrentUser) -> ReportPublic:
    """Submit a new version of a department's report; every bad row is listed (422)."""
    rows = [r.model_dump() for r in body.rows]
    sub = service.submit_report(
        session, user, body.department, body.district_code, body.year, rows, body.note
    )
    return _public(service.get_submission(session, user, sub.id))


@router.get("", response_model=list[ReportPublic], responses=errors(*READ))
def list_reports(
    year: Annotated[Year, Query()], session: SessionDep, user: CurrentUser
) -> list[ReportPublic]:
    """Every version of every report of a year that the caller may read."""
    return [_public(v) for v in service.list_submissions(session, user, year)]


@router.get("/{submission_id}", response_model=ReportPublic, responses=errors(*READ))
def get_report(submission_id: Id, session: SessionDep, user: CurrentUser) -> ReportPublic:
    return _public(service.get_submission(session, user, submission_id))


@router.post("/{submission_id}/review", response_model=ReportPublic, responses=errors(*WRITE))
def review(
    submission_id: Id, body: ReviewCreate, session: SessionDep, user: CurrentUser
) -> ReportPublic:
    """Approve or return a report (administrators, analysts); a decision is final (409 twice)."""
    service.review_report(session, user, submission_id, body.decision, body.reason)
    return _public(service.get_submission(session, user, submission_id))
