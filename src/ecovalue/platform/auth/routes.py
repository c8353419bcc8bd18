"""HTTP routes for signing in and managing accounts (thin: services do the work)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Path, Response
from pydantic import BaseModel, Field

from ecovalue.db.bounds import AdminCode, Text80, Text200
from ecovalue.platform.auth import service
from ecovalue.platform.auth.rules import Role
from ecovalue.platform.auth.tables import User
from ecovalue.platform.deps import (
    ClientAddressDep,
    CurrentUser,
    LimiterDep,
    SessionDep,
    SettingsDep,
)
from ecovalue.platform.responses import errors

Username = Annotated[str, Field(min_length=2, max_length=80, pattern=r"^[^\x00\s]+$")]
# bounded so that hashing one attempt stays cheap (argon2 reads the whole password)
Password = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[^\x00]*$")]
UsernamePath = Annotated[str, Path(min_length=2, max_length=80, pattern=r"^[^\x00\s]+$")]

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
    organization: Text200 | None = Field(
        default=None, description="company or bank the account acts for"
    )


class UserPublic(BaseModel):
    username: str
    role: Role
    district_code: str | None = None
    department: str | None = None
    organization: str | None = None


class UserAdmin(UserPublic):
    active: bool
    created_at: dt.datetime


class PasswordChange(BaseModel):
    current_password: Password
    new_password: Password


class PasswordReset(BaseModel):
    new_password: Annotated[Password, Field(description="the password to hand to the user")]


def _public(user: User) -> UserPublic:
    return UserPublic.model_validate(user, from_attributes=True)


def _admin(user: User) -> UserAdmin:
    return UserAdmin.model_validate(user, from_attributes=True)


@router.post("/auth/token", response_model=Token, responses=errors(401, 413, 422, 429))
def login(
    username: Annotated[Username, Form()],
    password: Annotated[Password, Form()],
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    client: ClientAddressDep,
) -> Token:
    """Exchange username and password (an OAuth2 password form) for an expiring bearer token.

    Rate-limited: too many failures answer 429 with Retry-After.
    """
    token = service.login(session, settings, limiter, username, password, client)
    return Token(access_token=token)


@router.get("/auth/me", response_model=UserPublic, responses=errors(401))
def me(user: CurrentUser) -> UserPublic:
    """Who the token belongs to."""
    return UserPublic(**user.__dict__)


@router.post("/auth/password", response_model=Token, responses=errors(401, 409, 413, 422, 429))
def change_password(
    body: PasswordChange,
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    client: ClientAddressDep,
    user: CurrentUser,
) -> Token:
    """Change your own password; every older token stops working, a new one is returned."""
    token = service.change_password(
        session, settings, limiter, user, body.current_password, body.new_password, client
    )
    return Token(access_token=token)


@router.post("/auth/logout", status_code=204, responses=errors(401))
def logout(session: SessionDep, user: CurrentUser) -> Response:
    """Revoke every token of the signed-in user (sign out everywhere)."""
    service.revoke_tokens(session, user, user.username)
    return Response(status_code=204)


@router.post(
    "/users", response_model=UserPublic, status_code=201, responses=errors(401, 403, 409, 413, 422)
)
def create_user(body: UserCreate, session: SessionDep, user: CurrentUser) -> UserPublic:
    """Create an account (administrators only)."""
    created = service.create_user(
        session,
        user,
        body.username,
        body.password,
        body.role,
        body.district_code,
        body.department,
        body.organization,
    )
    return _public(created)


@router.get("/users", response_model=list[UserAdmin], responses=errors(401, 403))
def list_users(session: SessionDep, user: CurrentUser) -> list[UserAdmin]:
    """Every account with its state (administrators only)."""
    return [_admin(u) for u in service.list_users(session, user)]


@router.post(
    "/users/{username}/disable", response_model=UserAdmin, responses=errors(401, 403, 404, 409, 422)
)
def disable(username: UsernamePath, session: SessionDep, user: CurrentUser) -> UserAdmin:
    """Disable an account; its tokens stop working at once (administrators only)."""
    return _admin(service.set_active(session, user, username, False))


@router.post(
    "/users/{username}/enable", response_model=UserAdmin, responses=errors(401, 403, 404, 409, 422)
)
def enable(username: UsernamePath, session: SessionDep, user: CurrentUser) -> UserAdmin:
    """Enable a disabled account; it signs in again (administrators only)."""
    return _admin(service.set_active(session, user, username, True))


@router.post(
    "/users/{username}/reset-password", response_model=UserAdmin, responses=errors(401, 403, 404, 409, 422)
)
def reset_password(
    username: UsernamePath, body: PasswordReset, session: SessionDep, user: CurrentUser
) -> UserAdmin:
    """Set a new password for an account; its tokens stop working (administrators only)."""
    changed, _ = service.reset_password(session, user, username, body.new_password)
    return _admin(changed)


@router.post(
    "/users/{username}/revoke-tokens", response_model=UserAdmin, responses=errors(401, 403, 404, 409, 422)
)
def revoke_tokens(username: UsernamePath, session: SessionDep, user: CurrentUser) -> UserAdmin:
    """Make every issued token of an account invalid now (the user or an administrator)."""
    return _admin(service.revoke_tokens(session, user, username))
