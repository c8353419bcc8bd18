"""HTTP routes of runs and published results; published results need no account."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ecovalue.platform.audit.routes import CheckpointPublic
from ecovalue.platform.audit.service import checkpoint_for
from ecovalue.platform.deps import CurrentUser, OptionalUser, SessionDep
from ecovalue.platform.runs import service
from ecovalue.platform.runs.tables import Publication

router = APIRouter(prefix="/api", tags=["results"])


class ResultRow(BaseModel):
    region_code: str
    region_name_zh: str
    indicator: str
    category: str
    ecosystem_type: str
    physical_quantity: Decimal | None
    physical_unit: str
    value_current: Decimal
    value_constant: Decimal
    method: str
    source: str


class PublicationPublic(BaseModel):
    year: int
    version: int
    run_id: int
    supersedes_id: int | None
    reason: str
    published_by: str
    published_at: dt.datetime


class PublishedResult(BaseModel):
    publication: PublicationPublic
    rows: list[ResultRow]
    checkpoint: CheckpointPublic | None = Field(
        description="the audit checkpoint written when this version was published: keep it, "
        "and `ecovalue audit verify --anchor` shows whether the record still holds it"
    )


class PublishCreate(BaseModel):
    reason: str


class Change(BaseModel):
    region_code: str
    indicator: str
    ecosystem_type: str
    old_value: Decimal | None
    new_value: Decimal | None
    change: Decimal


class RunCreate(BaseModel):
    dataset_path: str
    year: int
    profile: str = "cn-2022"


class RunPublic(BaseModel):
    id: int
    year: int
    profile_id: str
    dataset_path: str
    status: str
    input_hash: str
    profile_hash: str
    code_hash: str
    row_count: int


@router.post("/runs", response_model=RunPublic, status_code=201)
def start(body: RunCreate, session: SessionDep, user: CurrentUser) -> RunPublic:
    """Account a dataset (a folder on the server) with the approved department reports; store the run."""
    run = service.start_run(session, user, body.dataset_path, body.year, body.profile)
    return RunPublic.model_validate(run, from_attributes=True)


def _pub(p: Publication) -> PublicationPublic:
    return PublicationPublic.model_validate(p, from_attributes=True)


@router.get("/runs/{run_id}/results", response_model=list[ResultRow])
def run_results(
    run_id: int,
    session: SessionDep,
    user: OptionalUser,
    district: str | None = None,
    indicator: str | None = None,
) -> list[ResultRow]:
    """Rows of a run; unpublished runs only within the caller's district scope."""
    return [
        ResultRow.model_validate(r, from_attributes=True)
        for r in service.run_results(session, user, run_id, district, indicator)
    ]


@router.post("/runs/{run_id}/publish", response_model=PublicationPublic, status_code=201)
def publish(
    run_id: int, body: PublishCreate, session: SessionDep, user: CurrentUser
) -> PublicationPublic:
    return _pub(service.publish_run(session, user, run_id, body.reason))


@router.get("/results/{year}", response_model=PublishedResult)
def published(
    year: int,
    session: SessionDep,
    district: str | None = None,
    indicator: str | None = None,
    version: int | None = None,
) -> PublishedResult:
    """The official result of a year (or an older version), by district and indicator."""
    pub, rows = service.published_results(session, year, district, indicator, version)
    return PublishedResult(
        publication=_pub(pub),
        rows=[ResultRow.model_validate(r, from_attributes=True) for r in rows],
        checkpoint=CheckpointPublic.of(checkpoint_for(session, "publications", str(pub.id))),
    )


@router.get("/results/{year}/publications", response_model=list[PublicationPublic])
def versions(year: int, session: SessionDep) -> list[PublicationPublic]:
    return [_pub(p) for p in service.publications(session, year)]


@router.get("/results/{year}/diff", response_model=list[Change])
def diff(year: int, old: int, new: int, session: SessionDep) -> list[Change]:
    """Rows whose value differs between two published versions."""
    return [
        Change(**c.__dict__, change=c.change)
        for c in service.diff_publications(session, year, old, new)
    ]
