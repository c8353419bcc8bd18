"""HTTP routes for signing in and managing accounts (thin: services do the work)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel, Field

from ecovalue.db.bounds import AdminCode, Text80
from ecovalue.platform.auth import service
from ecovalue.platform.auth.rules import Role
from ecovalue.platform.deps import CurrentUser, LimiterDep, SessionDep, SettingsDep
from ecovalue.platform.responses import errors

Username = Annotated[str, Field(min_length=2, max_length=80, pattern=r"^[^\x00\s]+$")]
# bounded so that hashing one attempt stays cheap (argon2 reads the whole password)
Password = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[^\x00]*$")]

router = APIRouter(prefix="/api", tags=["auth"])


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


class UserCreate(BaseModel):
    username: Username
    password: Password
    role: Role
    district_code: AdminCode | None = None
    department: Text80 | None = None


class UserPublic(BaseModel):
    username: str
    role: Role
    district_code: str | None = None
    department: str | None = None


@router.post("/auth/token", response_model=Token, responses=errors(401, 413, 422, 429))
def login(
    request: Request,
    username: Annotated[Username, Form()],
    password: Annotated[Password, Form()],
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
) -> Token:
    """Exchange username and password (an OAuth2 password form) for an expiring bearer token.

    Rate-limited: too many failures answer 429 with Retry-After.
    """
    client = request.client.host if request.client else "unknown"
    token = service.login(session, settings, limiter, username, password, client)
    return Token(access_token=token)


@router.get("/auth/me", response_model=UserPublic, responses=errors(401))
def me(user: CurrentUser) -> UserPublic:
    """Who the token belongs to."""
    return UserPublic(
        username=user.username,
        role=user.role,
        district_code=user.district_code,
        department=user.department,
    )


@router.post(
    "/users", response_model=UserPublic, status_code=201, responses=errors(401, 403, 409, 413, 422)
)
def create_user(body: UserCreate, session: SessionDep, user: CurrentUser) -> UserPublic:
    """Create an account (administrators only)."""
    created = service.create_user(
        session, user, body.username, body.password, body.role, body.district_code, body.department
    )
    return UserPublic(
        username=created.username,
        role=Role(created.role),
        district_code=created.district_code,
        department=created.department,
    )
