"""FastAPI dependencies of the pages: the page context (cookie session) and the CSRF check."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ecovalue.platform.auth.rules import Principal
from ecovalue.platform.deps import SessionDep, SettingsDep
from ecovalue.web.render import Page, new_page
from ecovalue.web.results import any_synthetic
from ecovalue.web.session import check_csrf, session_principal


def get_page_user(request: Request, session: SessionDep, settings: SettingsDep) -> Principal:
    """The principal of the page's session cookie (anonymous without one)."""
    return session_principal(request, session, settings)


PageUser = Annotated[Principal, Depends(get_page_user)]


def get_page(request: Request, session: SessionDep, user: PageUser) -> Page:
    """The page context; marks the page synthetic when a published run is synthetic."""
    page = new_page(request, user)
    page.synthetic = any_synthetic(session)
    settings = request.app.state.settings
    page.basemap = (settings.web_basemap_url, settings.web_basemap_attribution)
    request.state.page = page  # the error pages render in the same frame
    return page


PageDep = Annotated[Page, Depends(get_page)]
Csrf = Depends(check_csrf)
