"""Signing in and out of the pages, and the language switch.

Signing in calls the platform's own login (password check, rate limit) and keeps its token
in the httpOnly session cookie; signing out deletes the cookie. The language switch is a
plain link (it changes only a preference) and is remembered for a year.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from ecovalue.platform.auth import service as auth
from ecovalue.platform.deps import LimiterDep, SettingsDep
from ecovalue.platform.errors import NotAuthenticated, TooManyAttempts
from ecovalue.web.deps import Csrf, PageDep, SessionDep
from ecovalue.web.i18n import LANG_COOKIE, LANGS
from ecovalue.web.render import finish, render
from ecovalue.web.session import ONE_YEAR_S, SESSION_COOKIE, is_https, safe_next

router = APIRouter(include_in_schema=False)

@router.get("/login", response_class=HTMLResponse)
def login_form(page: PageDep, next: str = "/") -> HTMLResponse:
    page.title_key = "login.title"
    return render(page, "login.html.j2", next=safe_next(next), error=None, username="")

@router.post("/login", response_class=HTMLResponse, response_model=None, dependencies=[Csrf])
def login(
    request: Request,
    page: PageDep,
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    username: Annotated[str, Form(max_length=80)],
    password: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form()] = "/",
) -> HTMLResponse | RedirectResponse:
    """Check the password with the platform's login; keep the token in the session cookie."""
    page.title_key = "login.title"
    client = request.client.host if request.client else "unknown"
    try:
        token = auth.login(session, settings, limiter, username.strip(), password, client)
    except TooManyAttempts as exc:
        error = page.t("login.too_many", seconds=exc.retry_after_seconds)
        return render(page, "login.html.j2", 429, next=safe_next(next), error=error,
                      username=username)
    except NotAuthenticated:
        return render(page, "login.html.j2", 401, next=safe_next(next),
                      error=page.t("login.wrong"), username=username)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax",
                        secure=is_https(request), path="/",
                        max_age=settings.token_lifetime_minutes * 60)
    finish(request, response)
    return response

@router.post("/logout", dependencies=[Csrf])
def logout() -> RedirectResponse:
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response

def _lang(request: Request, code: str, next: str) -> RedirectResponse:
    response = RedirectResponse(safe_next(next), status_code=303)
    if code in LANGS:
        response.set_cookie(LANG_COOKIE, code, max_age=ONE_YEAR_S, samesite="lax",
                            secure=is_https(request), path="/")
    return response

@router.get("/lang/{code}")
def switch_language(request: Request, code: str, next: str = "/") -> RedirectResponse:
    """Remember the chosen language (zh or en) and go back to the page."""
    return _lang(request, code, next)
