"""The job queue: submit, read, cancel; claim, report progress and finish (the worker's side).

A worker claims the oldest queued job with a conditional UPDATE (``… WHERE id = ? AND
status = 'queued'``), so two workers never take the same job on either backend, and holds
it with a lease it renews at every progress report. A job whose lease ran out (its worker
was killed) is claimed again while it has attempts left, else it fails with a message that
says so: nothing stays "running" forever. Progress is written at most every
:data:`PROGRESS_EVERY_S` (and at every change of stage), with plain UPDATEs in their own
short transactions, so a run holds no lock while it computes (ADR 0110).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from ecovalue.db.session import EcoSession, unit_of_work
from ecovalue.errors import Problem
from ecovalue.platform.audit.rules import canonical_json, jsonable
from ecovalue.platform.auth.rules import Principal, Role, require_role
from ecovalue.platform.errors import NotFound, PermissionDenied, RuleViolation
from ecovalue.platform.jobs.tables import Job

PROGRESS_EVERY_S = 0.5
FINISHED = frozenset({"succeeded", "failed", "cancelled"})


class JobKind(StrEnum):
    """What a job does."""

    account = "account"  # account a dataset and store the run
    plot = "plot"  # GEP of a drawn plot
    scenario = "scenario"  # before/after of a planned change in a plot


class JobStatus(StrEnum):
    """Where a job is."""

    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


#: Who may submit each kind of job.
SUBMITTERS: Mapping[JobKind, frozenset[Role]] = {
    JobKind.account: frozenset({Role.administrator, Role.analyst}),
    JobKind.plot: frozenset({Role.administrator, Role.analyst, Role.district_official}),
    JobKind.scenario: frozenset({Role.administrator, Role.analyst, Role.district_official}),
}


class JobCancelled(Exception):
    """Raised inside a running job's progress callback once a cancel was asked for."""


class LeaseLost(Exception):
    """The worker no longer holds the job (its lease ran out and another worker took it)."""


def submit(session: Session, actor: Principal, kind: JobKind, params: Mapping[str, Any]) -> Job:
    """Queue a job of ``kind``; the caller's transaction commits it."""
    require_role(actor, set(SUBMITTERS[kind]), f"start {kind.value} jobs")
    job = Job(
        kind=kind.value,
        status=JobStatus.queued.value,
        params=canonical_json(jsonable(dict(params))),
        created_by=actor.username,
        attempts=0,
        cancel_requested=False,
        stage="",
        done=0,
        total=0,
        progress=0.0,
    )
    session.add(job)
    session.flush()
    return job


def get_job(session: Session, actor: Principal, job_id: int) -> Job:
    """The job ``job_id`` if the actor submitted it or is an administrator; else 403/404."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    if actor.role != Role.administrator and job.created_by != actor.username:
        raise PermissionDenied(
            f"job {job_id} belongs to '{job.created_by}'; only they and administrators see it"
        )
    return job


def list_jobs(session: Session, actor: Principal, kind: JobKind | None = None,
              limit: int = 20) -> list[Job]:  # fmt: skip
    """The newest jobs the actor may see (their own; administrators every one), newest first."""
    query = select(Job).order_by(Job.id.desc()).limit(max(1, min(limit, 200)))
    if actor.role != Role.administrator:
        query = query.where(Job.created_by == actor.username)
    if kind is not None:
        query = query.where(Job.kind == kind.value)
    return list(session.scalars(query))


def cancel(session: Session, actor: Principal, job_id: int) -> Job:
    """Cancel a job: a queued one at once, a running one at its next progress report."""
    job = get_job(session, actor, job_id)
    if job.status in FINISHED:
        raise RuleViolation([_finished_problem(job)])
    if job.status == JobStatus.queued:
        job.status = JobStatus.cancelled.value
        job.finished_at = dt.datetime.now(dt.UTC)
        job.error = json.dumps({"detail": f"cancelled by {actor.username} before it started"})
    else:
        job.cancel_requested = True
    session.flush()
    return job


def _finished_problem(job: Job) -> Problem:
    return Problem(
        f"job {job.id}",
        f"has already {job.status}",
        "a queued or running job",
        "start a new job if you need another result",
    )


@dataclass(frozen=True)
class Claimed:
    """A job a worker holds: what to do and for whom."""

    id: int
    kind: JobKind
    params: dict[str, Any]
    created_by: str
    attempt: int


def _fail_expired(session: Session, max_attempts: int, now: float) -> None:
    expired = session.scalars(
        select(Job).where(
            Job.status == JobStatus.running.value,
            Job.lease_expires < now,
            Job.attempts >= max_attempts,
        )
    )
    for job in expired:
        job.status = JobStatus.failed.value
        job.finished_at = dt.datetime.now(dt.UTC)
        job.error = json.dumps(
            {
                "detail": f"the worker running this job ({job.worker}) stopped answering "
                f"(attempt {job.attempts} of {max_attempts}); the job was given up: start it "
                "again, and check the worker's log (out of memory?)",
                "problems": [],
            }
        )


def claim(
    factory: sessionmaker[EcoSession], worker: str, lease_s: float, max_attempts: int
) -> Claimed | None:
    """Take the oldest job that is queued, or running with an expired lease; None if none."""
    now = time.time()
    with unit_of_work(factory, actor=f"worker:{worker}") as session:
        _fail_expired(session, max_attempts, now)
        candidate = session.scalar(
            select(Job.id)
            .where(
                or_(
                    Job.status == JobStatus.queued.value,
                    (Job.status == JobStatus.running.value) & (Job.lease_expires < now),
                )
            )
            .order_by(Job.id)
            .limit(1)
        )
        if candidate is None:
            return None
        taken = cast(
            "CursorResult[Any]",
            session.execute(
                update(Job)
                .where(
                    Job.id == candidate,
                    or_(
                        Job.status == JobStatus.queued.value,
                        (Job.status == JobStatus.running.value) & (Job.lease_expires < now),
                    ),
                )
                .values(
                    status=JobStatus.running.value,
                    worker=worker,
                    lease_expires=now + lease_s,
                    attempts=Job.attempts + 1,
                    started_at=dt.datetime.now(dt.UTC),
                )
            ),
        )
        if taken.rowcount != 1:
            return None  # another worker was faster
        job = session.get(Job, candidate, populate_existing=True)
        assert job is not None
        return Claimed(job.id, JobKind(job.kind), json.loads(job.params), job.created_by,
                       job.attempts)  # fmt: skip


def renew(factory: sessionmaker[EcoSession], job_id: int, worker: str, lease_s: float) -> bool:
    """Extend the worker's lease on the job; return whether a cancel was asked for.

    Raises LeaseLost when the worker no longer holds the job.
    """
    with factory.begin() as session:
        changed = cast(
            "CursorResult[Any]",
            session.execute(
                update(Job)
                .where(
                    Job.id == job_id, Job.worker == worker, Job.status == JobStatus.running.value
                )
                .values(lease_expires=time.time() + lease_s)
            ),
        ).rowcount
        cancel_requested = bool(
            session.scalar(select(Job.cancel_requested).where(Job.id == job_id))
        )
    if changed != 1:
        raise LeaseLost(f"job {job_id} is no longer held by {worker}")
    return cancel_requested


def report(
    factory: sessionmaker[EcoSession], job_id: int, worker: str, stage: str, done: int, total: int
) -> None:
    """Write the job's progress: ``done`` of ``total`` pieces of ``stage``."""
    fraction = min(1.0, done / total) if total > 0 else 0.0
    with factory.begin() as session:
        session.execute(
            update(Job)
            .where(Job.id == job_id, Job.worker == worker, Job.status == JobStatus.running.value)
            .values(stage=stage[:120], done=done, total=total, progress=fraction)
        )


def finish(
    factory: sessionmaker[EcoSession],
    job_id: int,
    worker: str,
    status: JobStatus,
    result: Mapping[str, Any] | None = None,
    error: Mapping[str, Any] | None = None,
    run_id: int | None = None,
) -> None:
    """Record the job's end (an audited write), unless another worker holds it by now."""
    with unit_of_work(factory, actor=f"worker:{worker}") as session:
        job = session.get(Job, job_id, with_for_update=True)
        if job is None or job.worker != worker or job.status != JobStatus.running.value:
            return
        job.status = status.value
        job.finished_at = dt.datetime.now(dt.UTC)
        job.result = None if result is None else _json(result)
        job.error = None if error is None else _json(error)
        job.run_id = run_id
        job.lease_expires = None
        if status == JobStatus.succeeded:
            job.progress = 1.0


def _plain(value: Any) -> Any:
    """JSON for what a job reports: money (Decimal) as text, numpy numbers as numbers."""
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)


def _json(value: Mapping[str, Any]) -> str:
    return json.dumps(dict(value), default=_plain, ensure_ascii=False, allow_nan=False)


class Heartbeat:
    """Renews a running job's lease every lease/3 seconds in a thread, and notices a cancel.

    The progress callback (:meth:`progress`) raises :class:`JobCancelled` or
    :class:`LeaseLost` at the job's next progress report after the heartbeat saw either,
    and writes progress at most every :data:`PROGRESS_EVERY_S` and at each new stage.
    """

    def __init__(self, factory: sessionmaker[EcoSession], job_id: int, worker: str,
                 lease_s: float) -> None:  # fmt: skip
        self.factory, self.job_id, self.worker, self.lease_s = factory, job_id, worker, lease_s
        self.cancelled = threading.Event()
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"job-{job_id}-lease", daemon=True)
        self._last = 0.0
        self._stage = ""

    def _beat(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            try:
                if renew(self.factory, self.job_id, self.worker, self.lease_s):
                    self.cancelled.set()
            except LeaseLost:
                self.lost.set()
                return
            except Exception:  # the database is briefly unreachable: try again next beat
                continue

    def __enter__(self) -> Heartbeat:
        if renew(self.factory, self.job_id, self.worker, self.lease_s):  # cancelled already?
            self.cancelled.set()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def check(self) -> None:
        """Raise when the job was cancelled or taken away."""
        if self.lost.is_set():
            raise LeaseLost(f"job {self.job_id} is no longer held by {self.worker}")
        if self.cancelled.is_set():
            raise JobCancelled(f"job {self.job_id} was cancelled")

    def progress(self, stage: str, done: int, total: int) -> None:
        """The engine's progress callback ``(stage, done, total)``."""
        self.check()
        now = time.monotonic()
        if stage == self._stage and done < total and now - self._last < PROGRESS_EVERY_S:
            return
        self._last, self._stage = now, stage
        report(self.factory, self.job_id, self.worker, stage, done, total)
