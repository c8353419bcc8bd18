"""Mount the web platform into the FastAPI app: pages, data endpoints, tiles, static files.

Errors raised by services keep the API's JSON answers under ``/api``, ``/web/data`` and
``/tiles`` (scripts read them); on pages they become an HTML page in the site's frame with
the service's message and problems, and "not signed in" becomes a redirect to the login
page that returns to where the user was.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, cast
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware

from ecovalue.errors import EcovalueError
from ecovalue.platform.deps import ANONYMOUS
from ecovalue.web.data import router as data_router
from ecovalue.web.jobs import router as jobs_router
from ecovalue.web.pages.auth import router as auth_router
from ecovalue.web.pages.catalogue import router as catalogue_router
from ecovalue.web.pages.downloads import router as downloads_router
from ecovalue.web.pages.maps import router as maps_router
from ecovalue.web.pages.monitoring import router as monitoring_router
from ecovalue.web.pages.plot import router as plot_router
from ecovalue.web.pages.public import router as public_router
from ecovalue.web.pages.register import router as register_router
from ecovalue.web.pages.reporting import router as reporting_router
from ecovalue.web.pages.runs import router as runs_router
from ecovalue.web.render import STATIC, Page, new_page, render

SCRIPT_PREFIXES = ("/api", "/web/data", "/tiles", "/static", "/docs", "/redoc", "/openapi.json")
Handler = Callable[[Request, Any], Awaitable[Response]]
ROUTERS = (auth_router, public_router, downloads_router, maps_router, plot_router, register_router,
           reporting_router, monitoring_router, catalogue_router, runs_router, data_router,
           jobs_router)


def is_page(request: Request) -> bool:
    """True for a page address (HTML errors), False for the API and script endpoints."""
    return not request.url.path.startswith(SCRIPT_PREFIXES)


def _page_of(request: Request) -> Page:
    page = getattr(request.state, "page", None)
    return page if isinstance(page, Page) else new_page(request, ANONYMOUS)


def _error_page(request: Request, status: int, detail: str, problems: list[dict[str, str]]) -> Response:
    page = _page_of(request)
    if status == 401 or (status == 403 and page.anonymous and request.method == "GET"):
        target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        return RedirectResponse(f"/login?next={target}", status_code=303)
    page.title_key = "error.title"
    return render(page, "error.html.j2", status, status=status, detail=detail, problems=problems)


def _html_errors(json_handler: Handler) -> Handler:
    async def handle(request: Request, exc: Any) -> Response:
        response = await json_handler(request, exc)
        if not is_page(request):
            return response
        body = json.loads(bytes(response.body)) if hasattr(response, "body") else {}
        detail = body.get("detail") if isinstance(body.get("detail"), str) else str(exc)
        problems: list[dict[str, str]] = list(body.get("problems") or []) \
            if isinstance(body.get("problems"), list) else []
        if isinstance(exc, RequestValidationError):
            problems = [{"where": ".".join(str(x) for x in e.get("loc", ())), "what": e.get("msg", ""),
                         "expected": "", "fix": ""} for e in exc.errors()]
        return _error_page(request, response.status_code, detail or "", problems)

    return handle


def mount_web(app: FastAPI) -> None:
    """Add the site to ``app`` (after the API routers and error handlers are installed)."""
    for router in ROUTERS:
        app.include_router(router)
    # pages and their GeoJSON compress 5-10×; event streams are never buffered (Starlette
    # excludes text/event-stream)
    app.add_middleware(GZipMiddleware, minimum_size=2048)
    app.mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="static")
    for exc_class in (EcovalueError, StarletteHTTPException, RequestValidationError):
        existing = cast(Handler | None, app.exception_handlers.get(exc_class))
        app.add_exception_handler(exc_class, _html_errors(existing or _default_handler(exc_class)))


def _default_handler(exc_class: type[Exception]) -> Handler:
    if exc_class is RequestValidationError:
        return request_validation_exception_handler  # type: ignore[return-value]
    return http_exception_handler  # type: ignore[return-value]
