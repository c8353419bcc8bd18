"""HTTP route to verify the audit chain (administrators only)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from ecovalue.platform.audit.service import verify_audit_chain
from ecovalue.platform.auth.rules import Role, require_role
from ecovalue.platform.deps import CurrentUser, SessionDep
from ecovalue.platform.responses import errors

router = APIRouter(prefix="/api/audit", tags=["audit"])


class ChainReport(BaseModel):
    intact: bool
    problems: list[str]


@router.get("/verify", response_model=ChainReport, responses=errors(401, 403))
def verify(session: SessionDep, user: CurrentUser) -> ChainReport:
    """Recompute every hash of the audit log and report breaks."""
    require_role(user, {Role.administrator}, "verify the audit log")
    problems = verify_audit_chain(session)
    return ChainReport(intact=not problems, problems=[str(p) for p in problems])
