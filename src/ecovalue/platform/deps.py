"""FastAPI dependencies shared by the feature routers (the full-stack template's Annotated aliases).

``SessionDep`` is one unit of work per request: committed after the route returns and
before the response is sent (dependency scope "function"), rolled back on any error.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from ecovalue.config import Settings
from ecovalue.db.session import EcoSession, unit_of_work
from ecovalue.platform.auth.limits import LoginRateLimiter
from ecovalue.platform.auth.rules import Principal, Role, client_address, trusted_networks
from ecovalue.platform.auth.service import principal_from_token
from ecovalue.platform.errors import NotAuthenticated

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)
ANONYMOUS = Principal("anonymous", Role.public)


def get_settings(request: Request) -> Settings:
    """The app's settings."""
    settings: Settings = request.app.state.settings
    return settings


def get_limiter(request: Request) -> LoginRateLimiter:
    """The app's login rate limiter."""
    limiter: LoginRateLimiter = request.app.state.limiter
    return limiter


def get_client_address(request: Request) -> str:
    """The client's address: the peer, or X-Forwarded-For when the peer is a trusted proxy."""
    settings: Settings = request.app.state.settings
    peer = request.client.host if request.client else "unknown"
    return client_address(
        peer, request.headers.getlist("x-forwarded-for"), trusted_networks(settings.trusted_proxies)
    )


def get_session(request: Request) -> Iterator[EcoSession]:
    """One transaction for the whole request."""
    with unit_of_work(request.app.state.sessionmaker, actor="anonymous") as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
LimiterDep = Annotated[LoginRateLimiter, Depends(get_limiter)]
ClientAddressDep = Annotated[str, Depends(get_client_address)]
SessionDep = Annotated[EcoSession, Depends(get_session, scope="function")]
TokenDep = Annotated[str | None, Depends(oauth2_scheme)]


def get_optional_user(session: SessionDep, settings: SettingsDep, token: TokenDep) -> Principal:
    """The signed-in principal, or the anonymous public reader without a token."""
    if not token:
        return ANONYMOUS
    principal = principal_from_token(session, settings, token)
    session.info["actor"] = principal.username
    return principal


def get_current_user(principal: Annotated[Principal, Depends(get_optional_user)]) -> Principal:
    """The signed-in principal; 401 without a valid token."""
    if principal is ANONYMOUS:
        raise NotAuthenticated(
            "sign in first: POST /api/auth/token, then send 'Authorization: Bearer <token>'"
        )
    return principal


OptionalUser = Annotated[Principal, Depends(get_optional_user)]
CurrentUser = Annotated[Principal, Depends(get_current_user)]
