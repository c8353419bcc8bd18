"""Page sessions: the platform's own bearer token carried in an httpOnly cookie, and CSRF.

* ``ev_session`` holds the JWT that ``POST /api/auth/token`` would return (issued by the
  same :func:`ecovalue.platform.auth.service.login`, so the login rate limit applies); it
  is ``HttpOnly`` (scripts cannot read it) and ``SameSite=Lax`` (other sites' forms do not
  send it), ``Secure`` when the site is served over HTTPS. The API keeps bearer tokens.
* CSRF (OWASP "double submit cookie", signed): ``ev_csrf`` is a random value in an
  httpOnly ``SameSite=Strict`` cookie; every form carries it in a hidden ``csrf`` field and
  every script request in the ``X-CSRF-Token`` header; a POST whose value does not match
  the cookie is refused (HTTP 403) before any service runs. A cross-site ``Origin`` header
  is refused too.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import Request
from sqlalchemy.orm import Session

from ecovalue.config import Settings
from ecovalue.platform.auth.rules import Principal
from ecovalue.platform.auth.service import principal_from_token
from ecovalue.platform.deps import ANONYMOUS
from ecovalue.platform.errors import NotAuthenticated, PermissionDenied

SESSION_COOKIE = "ev_session"
CSRF_COOKIE = "ev_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
ONE_YEAR_S = 365 * 24 * 3600


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def session_principal(request: Request, session: Session, settings: Settings) -> Principal:
    """The signed-in principal of the page's cookie, or the anonymous public reader.

    An expired or revoked token counts as signed out (the page then offers to sign in).
    """
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return ANONYMOUS
    try:
        principal = principal_from_token(session, settings, token)
    except NotAuthenticated:
        request.state.session_expired = True
        return ANONYMOUS
    session.info["actor"] = principal.username
    return principal


def csrf_token(request: Request) -> str:
    """The request's CSRF value: the cookie's, or a new one the response will set."""
    existing = request.cookies.get(CSRF_COOKIE)
    if existing and len(existing) >= 32:
        return existing
    token: str | None = getattr(request.state, "new_csrf", None)
    if token is None:
        token = secrets.token_urlsafe(32)
        request.state.new_csrf = token
    return token


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    parts = urlsplit(origin)
    return parts.netloc == request.headers.get("host", request.url.netloc)


async def check_csrf(request: Request) -> None:
    """Refuse a state-changing request without the CSRF value of its cookie (HTTP 403)."""
    cookie = request.cookies.get(CSRF_COOKIE) or ""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    if not _same_origin(request):
        raise PermissionDenied("the request comes from another site (Origin header); refused")
    if not cookie or not sent or not hmac.compare_digest(cookie, sent):
        raise PermissionDenied(
            "the form's security token is missing or stale (CSRF check); reload the page "
            "and submit again"
        )


def safe_next(target: str | None) -> str:
    """A local path to return to after signing in (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
