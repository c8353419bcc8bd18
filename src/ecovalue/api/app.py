"""FastAPI app factory: settings, database, error mapping and the feature routers.

Errors raised by services become HTTP answers here, with the service's message (which
names the bad value, what was expected and how to fix it).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ecovalue.config import Settings
from ecovalue.db.session import make_engine, make_sessionmaker
from ecovalue.errors import EcovalueError, InputError, ValidationFailed
from ecovalue.platform import schema  # noqa: F401  (all tables + audit listener)
from ecovalue.platform.audit.routes import router as audit_router
from ecovalue.platform.auth.routes import router as auth_router
from ecovalue.platform.auth.service import LoginRateLimiter
from ecovalue.platform.catalogue.routes import router as catalogue_router
from ecovalue.platform.errors import (
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    RuleViolation,
    TooManyAttempts,
)
from ecovalue.platform.exchange.routes import router as exchange_router
from ecovalue.platform.monitoring.routes import router as monitoring_router
from ecovalue.platform.registry.routes import router as registry_router
from ecovalue.platform.reporting.routes import router as reporting_router
from ecovalue.platform.runs.routes import router as runs_router

STATUS: tuple[tuple[type[Exception], int], ...] = (
    (NotAuthenticated, 401),
    (PermissionDenied, 403),
    (NotFound, 404),
    (RuleViolation, 409),
    (TooManyAttempts, 429),
    (InputError, 422),
    (EcovalueError, 400),
)


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


def create_app(settings: Settings | None = None) -> FastAPI:
    """The ecovalue API for ``settings`` (default: from the environment)."""
    settings = settings or Settings()
    app = FastAPI(
        title="ecovalue platform API",
        version="0.1.0",
        description="GEP results, natural-resource rights register and department "
        "reporting. Published results are public; everything else needs "
        "a bearer token from POST /api/auth/token.",
    )
    engine = make_engine(settings.database_url)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.limiter = LoginRateLimiter(settings.login_max_failures, settings.login_window_seconds)
    app.add_exception_handler(EcovalueError, _handle)
    for router in (
        auth_router,
        audit_router,
        registry_router,
        reporting_router,
        runs_router,
        monitoring_router,
        catalogue_router,
        exchange_router,
    ):
        app.include_router(router)

    @app.get("/api/health", tags=["meta"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
