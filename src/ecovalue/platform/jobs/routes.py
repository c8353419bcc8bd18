"""HTTP routes of jobs: state, live progress (server-sent events), cancel, output files.

Jobs are created by the routes of what they do (``POST /api/runs``, ``/api/plots``,
``/api/scenarios``), which answer 202 with the job at once; a worker runs it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from anyio import to_thread
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, Field

from ecovalue.config import Settings
from ecovalue.db.bounds import Id
from ecovalue.platform.deps import CurrentUser, SessionDep, SettingsDep
from ecovalue.platform.errors import NotFound
from ecovalue.platform.jobs import service
from ecovalue.platform.jobs.service import FINISHED, JobKind, JobStatus
from ecovalue.platform.jobs.tables import Job
from ecovalue.platform.responses import READ, WRITE, ErrorBody, Timestamp, errors

router = APIRouter(prefix="/api/jobs", tags=["jobs"])
EVENTS_EVERY_S = 0.5
SSE = "text/event-stream"


class JobPublic(BaseModel):
    """A job and where it is; ``progress`` is ``done / total`` of the current ``stage``."""

    id: int
    kind: JobKind
    status: JobStatus
    created_by: str
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None
    attempts: int
    stage: str = Field(description="what the job is doing, e.g. 'pass 1 · 逐块计算'")
    done: int
    total: int
    progress: float = Field(ge=0, le=1)
    cancel_requested: bool
    run_id: int | None = Field(description="the stored run of a finished account job")
    result: dict[str, Any] | None = Field(description="what a succeeded job produced")
    error: ErrorBody | None = Field(description="why a job failed or was cancelled")
    links: dict[str, str]


def job_public(job: Job) -> JobPublic:
    """The answer for ``job``."""
    base = f"/api/jobs/{job.id}"
    return JobPublic(
        id=job.id,
        kind=JobKind(job.kind),
        status=JobStatus(job.status),
        created_by=job.created_by,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        attempts=job.attempts,
        stage=job.stage,
        done=job.done,
        total=job.total,
        progress=job.progress,
        cancel_requested=job.cancel_requested,
        run_id=job.run_id,
        result=json.loads(job.result) if job.result else None,
        error=ErrorBody.model_validate(json.loads(job.error)) if job.error else None,
        links={"self": base, "events": f"{base}/events", "cancel": f"{base}/cancel"},
    )


@router.get("/{job_id}", response_model=JobPublic, responses=errors(*READ))
def get(job_id: Id, session: SessionDep, user: CurrentUser) -> JobPublic:
    """The job's state, progress, and its result or error once it ended."""
    return job_public(service.get_job(session, user, job_id))


@router.post("/{job_id}/cancel", response_model=JobPublic, responses=errors(*WRITE))
def cancel(job_id: Id, session: SessionDep, user: CurrentUser) -> JobPublic:
    """Cancel: a queued job at once, a running one at its next progress report (409 if ended)."""
    return job_public(service.cancel(session, user, job_id))


def _event(name: Literal["progress", "end", "timeout"], data: str) -> str:
    return f"event: {name}\ndata: {data}\n\n"


@router.get(
    "/{job_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {SSE: {"schema": {"type": "string"}}},
            "description": "server-sent events: 'progress' with the job (as GET /api/jobs/{id}) "
            "at every change, then 'end' when it ended, or 'timeout' after `wait` seconds",
        },
        **errors(*READ),
    },
)
def events(
    job_id: Id,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    wait: Annotated[int, Query(ge=1, le=3600, description="seconds before 'timeout'")] = 300,
) -> StreamingResponse:
    """Live progress of a job as server-sent events (what the web platform's bar reads)."""
    service.get_job(session, user, job_id)  # 404 / 403 before the stream starts
    return event_stream(request, job_id, wait)


def event_stream(request: Request, job_id: int, wait: int) -> StreamingResponse:
    """The job's server-sent events: 'progress' at every change, then 'end' or 'timeout'.

    The caller has checked that the user may see the job. Each look at the job is its own
    short transaction, so no lock is held while the stream waits.
    """
    factory = request.app.state.sessionmaker

    def read() -> JobPublic:
        with factory() as s:
            job = s.get(Job, job_id)
            assert job is not None
            return job_public(job)

    async def stream() -> AsyncIterator[str]:
        last, start = "", time.monotonic()
        while True:
            job = await to_thread.run_sync(read)
            data = job.model_dump_json()
            if data != last:
                yield _event("progress", data)
                last = data
            if job.status in FINISHED:
                yield _event("end", data)
                return
            if time.monotonic() - start > wait:
                yield _event("timeout", json.dumps({"detail": "reconnect to follow the job"}))
                return
            if await request.is_disconnected():
                return
            await asyncio.sleep(EVENTS_EVERY_S)

    return StreamingResponse(stream(), media_type=SSE, headers={"Cache-Control": "no-cache"})


@router.get(
    "/{job_id}/files/{name}",
    response_class=FileResponse,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "the file"},
        **errors(*READ),
    },
)
def file(
    job_id: Id,
    name: Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")],
    session: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
) -> FileResponse:
    """A file a job wrote (a scenario's maps, comparison table and summary page)."""
    return job_file(service.get_job(session, user, job_id), name, settings)


def job_file(job: Job, name: str, settings: Settings) -> FileResponse:
    """The file ``name`` a succeeded job listed among its results; NotFound otherwise."""
    listed = (json.loads(job.result) if job.result else {}).get("files", [])
    if job.status != JobStatus.succeeded or name not in listed:
        raise NotFound(f"job {job.id} has no file '{name}'; its files: {listed}")
    return FileResponse(settings.jobs_folder / str(job.id) / name)
