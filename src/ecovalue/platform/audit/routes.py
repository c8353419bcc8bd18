"""HTTP route to verify the audit record (administrators only) and the checkpoint schema."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ecovalue.platform.audit.checkpoints import Checkpoint, as_dict
from ecovalue.platform.audit.service import checkpoint_now, verify_record
from ecovalue.platform.auth.rules import Role, require_role
from ecovalue.platform.deps import CurrentUser, SessionDep
from ecovalue.platform.responses import errors

router = APIRouter(prefix="/api/audit", tags=["audit"])


class CheckpointPublic(BaseModel):
    """A signed statement that the record had entry ``seq`` with hash ``hash``.

    Keep a copy: `ecovalue audit verify --anchor FILE` shows whether the record still holds
    it (docs/audit.md).
    """

    type: str
    seq: int
    hash: str
    key_id: str
    at: str
    reason: str
    mac: str

    @classmethod
    def of(cls, checkpoint: Checkpoint | None) -> CheckpointPublic | None:
        return None if checkpoint is None else cls(**as_dict(checkpoint))


class ProblemPublic(BaseModel):
    where: str
    what: str
    expected: str
    fix: str
    severity: str


class ChainReport(BaseModel):
    intact: bool
    problems: list[str] = Field(description="every problem as one line")
    details: list[ProblemPublic]
    entries: int
    rows_replayed: int
    checkpoints_compared: int
    checkpoint: CheckpointPublic | None = Field(
        description="written after a clean verification; null otherwise"
    )


@router.get("/verify", response_model=ChainReport, responses=errors(401, 403))
def verify(session: SessionDep, user: CurrentUser) -> ChainReport:
    """Check the chain, the checkpoints and every business row against the record."""
    require_role(user, {Role.administrator}, "verify the audit record")
    report = verify_record(session)
    errors = [p for p in report.problems if p.severity == "error"]
    checkpoint = checkpoint_now(session, "verify (API)") if report.intact else None
    return ChainReport(
        intact=report.intact,
        problems=[str(p) for p in errors],
        details=[ProblemPublic(**p.__dict__) for p in report.problems],
        entries=report.chain.entries,
        rows_replayed=report.rows,
        checkpoints_compared=report.checkpoints,
        checkpoint=CheckpointPublic.of(checkpoint),
    )
