"""FastAPI dependencies of the pages: the database session, the page context (cookie
session) and the CSRF check.

The site's GET requests only read: their unit of work is read-only (no write lock on
SQLite, so fifty readers run side by side instead of queueing behind one lock; a read-only
transaction on PostgreSQL). Form posts get the ordinary unit of work.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request

from ecovalue.db.session import EcoSession, unit_of_work
from ecovalue.platform.auth.rules import Principal
from ecovalue.platform.deps import SettingsDep
from ecovalue.web.render import Page, new_page
from ecovalue.web.results import any_synthetic
from ecovalue.web.session import check_csrf, session_principal

READING_METHODS = frozenset({"GET", "HEAD"})


def get_session(request: Request) -> Iterator[EcoSession]:
    """One transaction for the request: read-only for GET and HEAD."""
    read_only = request.method in READING_METHODS
    with unit_of_work(request.app.state.sessionmaker, actor="anonymous",
                      read_only=read_only) as session:
        yield session


SessionDep = Annotated[EcoSession, Depends(get_session, scope="function")]


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
