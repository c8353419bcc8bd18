"""The shapes of the API's answers that every router shares: error bodies and timestamps.

Every error the API returns has one body, :class:`ErrorBody`: a sentence saying what is
wrong and how to fix it, and the list of problems (where, what, expected, fix) when there
are several. :func:`errors` documents the statuses a route returns, with that body, so the
OpenAPI says exactly what a client receives (the bounded Schemathesis run in ``make test``
fails on any status or body the document does not name).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field


class ProblemBody(BaseModel):
    """One problem: where it is, what is wrong, what was expected, how to fix it."""

    where: str
    what: str
    expected: str
    fix: str
    severity: str = "error"


class ErrorBody(BaseModel):
    """The body of every error answer."""

    detail: str = Field(description="what is wrong and how to fix it")
    problems: list[ProblemBody] = Field(
        default_factory=list, description="every problem found, when there are several"
    )


#: What each error status means on this API.
STATUS_MEANING: dict[int, str] = {
    401: "no valid token: sign in with POST /api/auth/token and send 'Authorization: Bearer …'",
    403: "the signed-in role or district scope does not allow this",
    404: "a record named in the path or query does not exist",
    409: "a domain rule refused the change (conflict with the register, a duplicate, a state)",
    413: "the request body is larger than ECOVALUE_MAX_REQUEST_BYTES",
    422: "a value is malformed or out of bounds (every problem listed)",
    429: "too many failed logins; the Retry-After header says when to try again",
}


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "…"


def validation_problems(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """pydantic's validation errors as problems, every field named (the API and the pages)."""
    problems = []
    for err in errors:
        where = ".".join(str(x) for x in err.get("loc", ()))
        ctx = {k: v for k, v in (err.get("ctx") or {}).items() if k != "error"}
        problems.append(
            {
                "where": where,
                "what": f"{err.get('msg', 'is invalid')} (got {_shown(err.get('input'))})",
                "expected": ", ".join(f"{k} {v}" for k, v in ctx.items()) or err.get("type", ""),
                "fix": f"correct '{where}' as the API documentation (/docs) describes it",
                "severity": "error",
            }
        )
    return problems


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route that can answer ``statuses`` (each with :class:`ErrorBody`)."""
    return {s: {"model": ErrorBody, "description": STATUS_MEANING[s]} for s in statuses}


#: Statuses of a route that reads with a token (scope checked, records looked up).
READ = (401, 403, 404, 422)
#: Statuses of a route that writes with a token.
WRITE = (401, 403, 404, 409, 413, 422)
#: Statuses of a write that creates a record referring to no other (a register, an owner).
CREATE = (401, 403, 409, 413, 422)
#: Statuses of a public read (no token needed; a bad token is still refused).
PUBLIC_READ = (401, 404, 422)


def _as_utc(value: dt.datetime) -> dt.datetime:
    # the database keeps UTC; SQLite returns it without its offset
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


#: A moment in an answer: always UTC with its offset (``2025-03-01T08:00:00Z``).
Timestamp = Annotated[dt.datetime, AfterValidator(_as_utc)]
