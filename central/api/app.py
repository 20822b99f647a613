"""The FastAPI application: settings, error bodies, health, and the routers wired together.

Every error leaves the API as ``{"code": ..., "message": ...}``: the Android app shows
``message`` (Bahasa Indonesia, English in brackets) and branches on ``code``. That holds for the
check-in policy's refusals, for authentication failures, and for FastAPI's own request-validation
errors and unknown routes, which are rewritten here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from central.api.auth import ApiError, BindingCache, ErrorBody, error_response
from central.api.auth import router as auth_router
from central.api.checkins import router as checkins_router
from central.api.fastpath import CheckinFastPath
from central.api.groupcommit import CheckinWriter
from central.api.operator import router as operator_router
from central.api.policy import PolicySettings
from central.attendance.recap_api import router as recap_router
from central.dashboard import DashboardSettings, dashboard_router

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    """The server's clock: the authoritative time of every check-in."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiSettings:
    """Configuration of the HTTP API.

    Attributes:
        admin_token: Bearer token of the operator endpoints (bind a device, open the mobile
            fallback, read a person's intervals). ``None`` disables them (401).
        policy: The §6.3 check-in policy.
        ping_retention: How long raw ping coordinates are kept before
            :func:`central.api.checkins.purge_coordinates` clears them.
        dashboard: The server-rendered dashboard at ``/dashboard``, when configured.
    """

    admin_token: str | None = None
    policy: PolicySettings = field(default_factory=PolicySettings)
    ping_retention: timedelta = timedelta(days=30)
    dashboard: DashboardSettings | None = None  # None: no dashboard in this process


@dataclass(frozen=True, slots=True)
class AppState:
    """What the routes reach through ``request.app.state.hadir``."""

    engine: Engine
    settings: ApiSettings
    now: Callable[[], datetime]
    bindings: BindingCache = field(default_factory=BindingCache)
    writer: CheckinWriter = field(default_factory=CheckinWriter)


class Health(BaseModel):
    """``GET /v1/health``."""

    status: str
    database: bool
    server_time: datetime


ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorBody, "description": "Unknown token, or a device that is not bound"},
    422: {"model": ErrorBody, "description": "Refused by the policy, or a malformed request"},
}


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


async def _on_api_error(_request: Request, exc: ApiError) -> JSONResponse:
    return error_response(exc)


async def _on_validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', '')}"
        for err in exc.errors()
    )
    return _error(
        422, "invalid_request", f"Permintaan tidak valid (Invalid request): {problems}"[:1000]
    )


async def _on_http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    headers = dict(exc.headers) if exc.headers else None
    return _error(exc.status_code, f"http_{exc.status_code}", str(exc.detail), headers)


def create_app(
    engine: Engine, settings: ApiSettings, *, now: Callable[[], datetime] = utc_now
) -> FastAPI:
    """Build the API on ``engine`` (already migrated to at least revision 0003).

    Args:
        engine: The central database.
        settings: Tokens and policy.
        now: The server clock; tests pass a fixed one.

    Returns:
        The ASGI application, with its OpenAPI document at ``/openapi.json``.
    """
    app = FastAPI(
        title="Hadir central API",
        version="1",
        summary="Android check-ins and location pings for Pemerintah Kota Kupang",
    )
    app.state.hadir = AppState(engine, settings, now)
    # A valid check-in from a phone the binding cache knows skips FastAPI's routing and
    # dependency solving; everything else reaches the routes below (central/api/fastpath.py).
    app.add_middleware(CheckinFastPath)
    # The decorator form, because add_exception_handler() types its handler for any Exception.
    app.exception_handler(ApiError)(_on_api_error)
    app.exception_handler(RequestValidationError)(_on_validation_error)
    app.exception_handler(StarletteHTTPException)(_on_http_error)
    app.include_router(auth_router, responses=ERRORS)
    app.include_router(checkins_router, responses=ERRORS)
    app.include_router(operator_router, responses=ERRORS)
    app.include_router(recap_router, responses=ERRORS)
    if settings.dashboard is not None:
        app.include_router(dashboard_router(engine, settings.dashboard, now=now))

    @app.get("/v1/health", tags=["health"])
    def health() -> Health:
        """Liveness, and whether the database answers."""
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            ok = True
        except SQLAlchemyError as exc:
            log.warning("health: database unreachable error=%s", type(exc).__name__)
            ok = False
        return Health(status="ok" if ok else "degraded", database=ok, server_time=now())

    return app
