"""FastAPI app factory: settings, database, error mapping, limits, docs and the feature routers.

Errors raised by services become HTTP answers here, with the service's message (which
names the bad value, what was expected and how to fix it), always in the one body shape of
:class:`ecovalue.platform.responses.ErrorBody`. The interactive docs (``/docs``)
are served from assets inside an installed package, so they work with no network.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ecovalue.api.limits import BodyLimit
from ecovalue.config import Settings
from ecovalue.db.session import make_engine
from ecovalue.errors import EcovalueError, ValidationFailed
from ecovalue.platform import schema  # noqa: F401  (all tables + audit listener)
from ecovalue.platform.audit.routes import router as audit_router
from ecovalue.platform.audit.service import audited_sessionmaker, setup_of_factory
from ecovalue.platform.auth.limits import LoginLimits, LoginRateLimiter
from ecovalue.platform.auth.routes import router as auth_router
from ecovalue.platform.catalogue.routes import router as catalogue_router
from ecovalue.platform.errors import (
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    RuleViolation,
    TooManyAttempts,
)
from ecovalue.platform.exchange.routes import router as exchange_router
from ecovalue.platform.jobs.routes import router as jobs_router
from ecovalue.platform.monitoring.routes import router as monitoring_router
from ecovalue.platform.registry.routes import router as registry_router
from ecovalue.platform.reporting.routes import router as reporting_router
from ecovalue.platform.responses import validation_problems
from ecovalue.platform.runs.routes import router as runs_router
from ecovalue.web.mount import mount_web

STATUS: tuple[tuple[type[Exception], int], ...] = (
    (NotAuthenticated, 401),
    (PermissionDenied, 403),
    (NotFound, 404),
    (RuleViolation, 409),
    (TooManyAttempts, 429),
    (EcovalueError, 422),  # InputError, DataFileError, ValidationFailed: the input is wrong
)
ROUTERS = (
    auth_router,
    audit_router,
    registry_router,
    reporting_router,
    runs_router,
    jobs_router,
    monitoring_router,
    catalogue_router,
    exchange_router,
)
DOCS_ASSETS = "/docs-assets"


def _problems(exc: Exception) -> list[dict[str, str]]:
    if isinstance(exc, RuleViolation | ValidationFailed):
        return [p.__dict__ for p in exc.problems]
    return []


async def _handle(request: Request, exc: Exception) -> JSONResponse:
    status = next(code for cls, code in STATUS if isinstance(exc, cls))
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if isinstance(exc, TooManyAttempts):
        headers["Retry-After"] = str(exc.retry_after_seconds)
    body: dict[str, Any] = {"detail": str(exc), "problems": _problems(exc)}
    return JSONResponse(body, status_code=status, headers=headers)


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's validation errors in the one error body, every field named."""
    assert isinstance(exc, RequestValidationError)
    problems = validation_problems(exc.errors())
    detail = f"{len(problems)} problem(s) in the request: " + "; ".join(
        f"{p['where']}: {p['what']}" for p in problems[:5]
    )
    return JSONResponse({"detail": detail, "problems": problems}, status_code=422)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own errors (an unparsable body, an unknown path) in the one error body.

    An unparsable body is an input problem like any other: 422, as for a malformed field.
    """
    assert isinstance(exc, StarletteHTTPException)
    status = 422 if exc.status_code == 400 else exc.status_code
    detail = str(exc.detail)
    if exc.status_code == 400:
        detail = (f"{detail}: the body must be UTF-8 JSON (or the form or CSV the route "
                  "documents)")  # fmt: skip
    return JSONResponse({"detail": detail, "problems": []}, status_code=status,
                        headers=getattr(exc, "headers", None))  # fmt: skip


async def _conflict(request: Request, exc: Exception) -> JSONResponse:
    """A unique constraint the services' checks did not catch first (two writers at once)."""
    orig = getattr(exc, "orig", None)
    which = getattr(getattr(orig, "diag", None), "constraint_name", None)
    which = which or str(orig or exc).splitlines()[0]
    detail = (
        f"the change conflicts with a record that already exists ({which}); "
        "reload, then use a new code or change the existing record"
    )
    return JSONResponse({"detail": detail, "problems": []}, status_code=409)


def _docs(app: FastAPI) -> None:
    """Swagger UI from the assets of the ``fastapi-offline`` package: no CDN, no network.

    (ReDoc is not offered: its page loads its logo from the internet.)
    """
    assets = files("fastapi_offline") / "static"
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(assets)), name="docs-assets")
    title = app.title

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{title} — Swagger UI",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
            oauth2_redirect_url="/docs/oauth2-redirect",
            # no badge from the online validator: nothing is fetched from the internet
            swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": True},
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    def swagger_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()


def create_app(settings: Settings | None = None) -> FastAPI:
    """The ecovalue API for ``settings`` (default: from the environment)."""
    settings = settings or Settings()
    app = FastAPI(
        title="ecovalue platform API",
        version="0.1.0",
        description="GEP results, natural-resource rights register, department reporting, "
        "monitoring, the eco-product catalogue, and accounting, plot and scenario jobs. "
        "Published results are public; everything else needs a bearer token from "
        "POST /api/auth/token. Every error answers with {detail, problems}.",
        docs_url=None,
        redoc_url=None,
    )
    engine = make_engine(settings.database_url)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = audited_sessionmaker(engine, settings)
    # Refuse to start without the audit key (production) rather than fail every write.
    setup_of_factory(app.state.sessionmaker).keys.load()
    app.state.limiter = LoginRateLimiter(LoginLimits.from_settings(settings))
    app.add_exception_handler(EcovalueError, _handle)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(IntegrityError, _conflict)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    for router in ROUTERS:
        app.include_router(router)
    _docs(app)

    @app.get("/api/health", tags=["meta"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    mount_web(app)  # the web platform: pages, tiles, bundled scripts (docs/web.md)
    return app
