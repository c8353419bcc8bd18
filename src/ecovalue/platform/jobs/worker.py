"""The worker: claims queued jobs one at a time and runs them (``ecovalue worker``).

One worker runs one job at a time; start several (on one machine or many, sharing the
database) to run several at once. ``ecovalue serve`` starts one beside the API for the
embedded setup. A job's failure is recorded on the job with the error's message (and
problems); the worker goes on with the next job.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
from pathlib import Path

from sqlalchemy.orm import sessionmaker

from ecovalue.config import Settings
from ecovalue.db.session import EcoSession, make_engine
from ecovalue.errors import EcovalueError
from ecovalue.platform import schema  # noqa: F401  (every table + the audit listener)
from ecovalue.platform.audit.service import audited_sessionmaker
from ecovalue.platform.jobs import service
from ecovalue.platform.jobs.service import Claimed, Heartbeat, JobCancelled, JobStatus, LeaseLost
from ecovalue.platform.runs.jobs import EXECUTORS, JobContext
from ecovalue.platform.runs.plot_engines import PlotEngines

log = logging.getLogger("ecovalue.worker")


def worker_name() -> str:
    """``host:pid`` of this process (recorded on the jobs it claims)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _error_body(exc: BaseException) -> dict[str, object]:
    problems = [p.__dict__ for p in getattr(exc, "problems", [])]
    return {"detail": str(exc), "problems": problems}


def work_one(settings: Settings, factory: sessionmaker[EcoSession], worker: str,
             engines: PlotEngines | None = None) -> bool:  # fmt: skip
    """Claim and run one job; False when the queue is empty."""
    job = service.claim(factory, worker, settings.job_lease_seconds, settings.job_max_attempts)
    if job is None:
        return False
    run_claimed(settings, factory, worker, job, engines)
    return True


def run_claimed(
    settings: Settings, factory: sessionmaker[EcoSession], worker: str, job: Claimed,
    engines: PlotEngines | None = None,
) -> None:  # fmt: skip
    """Run a job this worker holds and record how it ended."""
    folder = Path(settings.jobs_folder) / str(job.id)
    folder.mkdir(parents=True, exist_ok=True)
    log.info("job %s (%s, attempt %s) started", job.id, job.kind.value, job.attempt)
    with Heartbeat(factory, job.id, worker, settings.job_lease_seconds) as beat:
        try:
            ctx = JobContext(job, factory, settings, beat, folder, engines or PlotEngines())
            outcome = EXECUTORS[job.kind](ctx)
        except JobCancelled:
            service.finish(factory, job.id, worker, JobStatus.cancelled,
                           error={"detail": "cancelled while running", "problems": []})  # fmt: skip
        except LeaseLost:
            log.warning("job %s: lease lost, another worker holds it", job.id)
        except EcovalueError as exc:
            service.finish(factory, job.id, worker, JobStatus.failed, error=_error_body(exc))
        except Exception as exc:  # a bug: recorded on the job, the worker goes on
            log.error("job %s failed:\n%s", job.id, traceback.format_exc())
            detail = (f"internal error {type(exc).__name__}: {exc}; the worker's log has the "
                      "traceback: please report it")  # fmt: skip
            service.finish(factory, job.id, worker, JobStatus.failed,
                           error={"detail": detail, "problems": []})  # fmt: skip
        else:
            service.finish(factory, job.id, worker, JobStatus.succeeded,
                           result=outcome.result, run_id=outcome.run_id)  # fmt: skip
    log.info("job %s ended", job.id)


def run_worker(
    settings: Settings, stop: threading.Event | None = None, poll_s: float | None = None,
    until_idle: bool = False,
) -> int:  # fmt: skip
    """Work off jobs until ``stop`` is set (or, with ``until_idle``, the queue is empty),
    looking for a new job every ``poll_s`` seconds (default: ``job_poll_seconds``).

    Returns the number of jobs run. The worker keeps the plot engines it used
    (:class:`~ecovalue.platform.runs.plot_engines.PlotEngines`) from one job to the next.
    """
    stop = stop or threading.Event()
    poll_s = settings.job_poll_seconds if poll_s is None else poll_s
    engine = make_engine(settings.database_url)
    factory = audited_sessionmaker(engine, settings)
    worker, count, engines = worker_name(), 0, PlotEngines()
    try:
        while not stop.is_set():
            if work_one(settings, factory, worker, engines):
                count += 1
            elif until_idle:
                break
            else:
                stop.wait(poll_s)
    finally:
        engine.dispose()
    return count
