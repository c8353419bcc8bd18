"""HTTP routes for signing in and managing accounts (thin: services do the work)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from ecovalue.platform.auth import service
from ecovalue.platform.auth.rules import Role
from ecovalue.platform.deps import CurrentUser, LimiterDep, SessionDep, SettingsDep

router = APIRouter(prefix="/api", tags=["auth"])


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


class UserCreate(BaseModel):
    username: str = Field(min_length=2, max_length=80)
    password: str
    role: Role
    district_code: str | None = None
    department: str | None = None


class UserPublic(BaseModel):
    username: str
    role: Role
    district_code: str | None = None
    department: str | None = None


@router.post("/auth/token", response_model=Token)
def login(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
) -> Token:
    """Exchange username and password for an expiring bearer token (rate-limited)."""
    client = request.client.host if request.client else "unknown"
    token = service.login(session, settings, limiter, form.username, form.password, client)
    return Token(access_token=token)


@router.get("/auth/me", response_model=UserPublic)
def me(user: CurrentUser) -> UserPublic:
    """Who the token belongs to."""
    return UserPublic(
        username=user.username,
        role=user.role,
        district_code=user.district_code,
        department=user.department,
    )


@router.post("/users", response_model=UserPublic, status_code=201)
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
