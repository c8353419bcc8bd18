"""Background jobs as the page scripts follow them: state, live progress, cancel, files.

The same jobs as ``/api/jobs`` (:mod:`ecovalue.platform.jobs`), read with the page's session
cookie instead of a bearer token: the progress bar of the runs and plot pages reads
``/web/data/jobs/{id}/events``, the same server-sent events the API sends. Who may see a
job is the jobs service's rule (its submitter and administrators).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse

from ecovalue.platform.deps import SettingsDep
from ecovalue.platform.jobs import service as jobs
from ecovalue.platform.jobs.routes import event_stream, job_file, job_public
from ecovalue.platform.jobs.tables import Job
from ecovalue.web.deps import Csrf, PageUser, SessionDep

router = APIRouter(include_in_schema=False)
BASE = "/web/data/jobs"


def job_json(job: Job) -> dict[str, Any]:
    """A job as the page scripts read it, with the addresses they follow."""
    data: dict[str, Any] = job_public(job).model_dump(mode="json")
    data["events"] = f"{BASE}/{job.id}/events"
    data["cancel"] = f"{BASE}/{job.id}/cancel"
    return data


@router.get(BASE + "/{job_id}")
def job(job_id: int, session: SessionDep, user: PageUser) -> JSONResponse:
    """The job's state, progress and its result or error once it ended."""
    return JSONResponse(job_json(jobs.get_job(session, user, job_id)),
                        headers={"Cache-Control": "no-store"})  # fmt: skip


@router.get(BASE + "/{job_id}/events")
def events(job_id: int, request: Request, session: SessionDep, user: PageUser,
           wait: Annotated[int, Query(ge=1, le=3600)] = 600) -> StreamingResponse:  # fmt: skip
    """Live progress (server-sent events): 'progress' at every change, then 'end'."""
    jobs.get_job(session, user, job_id)
    return event_stream(request, job_id, wait)


@router.post(BASE + "/{job_id}/cancel", dependencies=[Csrf])
def cancel(job_id: int, session: SessionDep, user: PageUser) -> JSONResponse:
    """Cancel a queued job at once, a running one at its next progress report."""
    return JSONResponse(job_json(jobs.cancel(session, user, job_id)))


@router.get(BASE + "/{job_id}/files/{name}")
def file(job_id: int, name: Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")],
         session: SessionDep, user: PageUser, settings: SettingsDep) -> FileResponse:  # fmt: skip
    """A file the job wrote (a scenario's gain/loss map, its approver's summary)."""
    return job_file(jobs.get_job(session, user, job_id), name, settings)
