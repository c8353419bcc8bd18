"""ORM table of the job queue.

A job is a row: ``queued`` until a worker claims it (``running``, with a lease the worker
renews), then ``succeeded``, ``failed`` or ``cancelled``. Progress and the lease change often
and are operational, not records: they are written with plain UPDATEs that the audit log
does not follow; the job's creation and its end are ORM writes it records.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from ecovalue.db.base import Base, utcnow


class Job(Base):
    """One piece of background work: an account, a plot or a scenario."""

    __tablename__ = "jobs"
    # The queue is operational state, not a business record: its progress is written every
    # few seconds, which would flood the record. What a job produces (the run, its rows,
    # a publication) is written through the audited session and recorded (docs/audit.md).
    __audit_exempt__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)  # JobKind
    status: Mapped[str] = mapped_column(String(16), index=True)  # JobStatus
    params: Mapped[str] = mapped_column(Text)  # canonical JSON of what was asked
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(120))  # host:pid of the claimant
    lease_expires: Mapped[float | None] = mapped_column(Float)  # epoch seconds (UTC)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    stage: Mapped[str] = mapped_column(String(120), default="")
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    progress: Mapped[float] = mapped_column(Float, default=0.0)  # 0..1 over the whole job
    result: Mapped[str | None] = mapped_column(Text)  # JSON
    error: Mapped[str | None] = mapped_column(Text)  # JSON {detail, problems}
    run_id: Mapped[int | None] = mapped_column(ForeignKey("accounting_runs.id"))
