"""The dashboard's routes under ``/dashboard``: login, logout, the page, its stylesheet.

Server-rendered HTML (Jinja2) that works without JavaScript. Include it in the API with
``app.include_router(dashboard_router(engine, settings))``. Its routes are left out of the
OpenAPI document (they are pages, not the Android API), and they answer with HTML or redirects
themselves, so the API's JSON error handlers never see them.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from central.dashboard import queries
from central.dashboard.auth import Role, Session, Signer, User, authenticate, load_user
from central.dashboard.chart import SERIES, month_chart

log = logging.getLogger(__name__)

PREFIX = "/dashboard"
SESSION_COOKIE = "hadir_session"
LOGIN_COOKIE = "hadir_login"
MAX_FORM_BYTES = 8192
HERE = Path(__file__).parent
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})$")
_ID = re.compile(r"^[0-9]{1,9}$")
DAYS = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
MONTHS = (
    "Januari", "Februari", "Maret", "April", "Mei", "Juni",
    "Juli", "Agustus", "September", "Oktober", "November", "Desember",
)  # fmt: skip
ROLE_LABELS = {
    Role.ADMIN: "Admin",
    Role.UNIT_OPERATOR: "Operator unit (unit operator)",
    Role.VIEWER: "Pemantau (viewer, read-only)",
}
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class DashboardSettings:
    """Configuration of the dashboard.

    Attributes:
        secret: Signs sessions and CSRF tokens: at least 32 random bytes, kept in a file only
            the service reads (``secrets.token_bytes(32)``). A new secret logs everyone out.
        session_lifetime: How long a login lasts.
        cookie_secure: Send cookies over HTTPS only. Leave on behind the TLS proxy; turn off
            only for plain-HTTP tests on localhost.
        timezone: The local time of "today" and of the times shown (WITA).
        offline_after: A terminal whose last heartbeat is older is shown as stale (heartbeats
            come every 30 s by default).
        skew_warn_ms: A terminal clock further off than this is flagged.
    """

    secret: bytes
    session_lifetime: timedelta = timedelta(hours=8)
    cookie_secure: bool = True
    timezone: str = "Asia/Makassar"
    offline_after: timedelta = timedelta(minutes=3)
    skew_warn_ms: int = 30_000


class _Refused(Exception):
    """A request the page answers with an error page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _month(text: str | None, today: date) -> date:
    if not text:
        return today.replace(day=1)
    found = _MONTH.fullmatch(text)
    if found is None or not (2000 <= int(found[1]) <= 2100 and 1 <= int(found[2]) <= 12):
        raise _Refused(400, "Bulan tidak valid, pakai YYYY-MM (Invalid month, use YYYY-MM)")
    return date(int(found[1]), int(found[2]), 1)


def _unit(text: str | None, user: User) -> int | None:
    if not text:
        return None
    if _ID.fullmatch(text) is None:
        raise _Refused(400, "Unit tidak valid (Invalid unit)")
    wanted = int(text)
    if user.units is not None and wanted not in user.units:
        log.warning("dashboard unit refused username=%s unit=%d", user.username, wanted)
        raise _Refused(403, "Anda tidak berhak melihat unit ini (You may not view this unit)")
    return wanted


def _shift(month: date, by: int) -> date:
    index = month.year * 12 + month.month - 1 + by
    return date(index // 12, index % 12 + 1, 1)


async def _read_form(request: Request) -> dict[str, str] | None:
    """The urlencoded form body (first value of each field), or ``None`` if unacceptable."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    try:
        fields = parse_qs(
            body.decode(), keep_blank_values=True, max_num_fields=8, strict_parsing=False
        )
    except (UnicodeDecodeError, ValueError):
        return None
    return {k: v[0] for k, v in fields.items()}


class _Dashboard:
    """The routes' shared state: database, signer, templates, clock."""

    def __init__(
        self, engine: Engine, settings: DashboardSettings, now: Callable[[], datetime]
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.now = now
        self.signer = Signer(settings.secret)
        self.tz = ZoneInfo(settings.timezone)
        self.css = (HERE / "static" / "style.css").read_bytes()
        self.env = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals.update(
            prefix=PREFIX,
            local=self.local,
            age=self.age,
            role_labels=ROLE_LABELS,
            series=SERIES,
            skew_warn_ms=settings.skew_warn_ms,
        )

    # Formatting.

    def local(self, at: datetime | None) -> str:
        """``at`` in local time: the clock alone today, with the date otherwise."""
        if at is None:
            return "—"
        here, today = at.astimezone(self.tz), self.now().astimezone(self.tz).date()
        clock = here.strftime("%H:%M:%S")
        if here.date() == today:
            return clock
        return f"{here.day} {MONTHS[here.month - 1][:3]} {here.year} {clock}"

    def age(self, at: datetime | None) -> str:
        """How long ago ``at`` was, in words."""
        if at is None:
            return ""
        minutes = int((self.now() - at).total_seconds() // 60)
        if minutes < 1:
            return "baru saja (just now)"
        if minutes < 120:
            return f"{minutes} mnt lalu ({minutes} min ago)"
        if minutes < 48 * 60:
            return f"{minutes // 60} jam lalu ({minutes // 60} h ago)"
        return f"{minutes // 1440} hari lalu ({minutes // 1440} days ago)"

    # Responses.

    def cookie(self, response: Response, name: str, value: str, max_age: int) -> None:
        """Set an HttpOnly, SameSite=Lax cookie scoped to the dashboard's path."""
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=PREFIX,
            secure=self.settings.cookie_secure,
            httponly=True,
            samesite="lax",
        )

    def page(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        """Render ``template`` with the security headers."""
        context.setdefault("user", None)
        body = self.env.get_template(template).render(**context)
        return HTMLResponse(body, status_code=status, headers=HEADERS)

    def refused(self, user: User, session: Session, status: int, message: str) -> HTMLResponse:
        """An error page for a logged-in user."""
        return self.page(
            "message.html",
            status,
            title="Ditolak (refused)",
            user=user,
            csrf=self.signer.csrf_token(session.nonce),
            message=message,
        )

    def drop_cookie(self, response: Response, name: str) -> None:
        """Expire a cookie set by :meth:`cookie`."""
        self.cookie(response, name, "", 0)

    def to_login(self) -> RedirectResponse:
        """Back to the login page, dropping any session cookie."""
        response = RedirectResponse(f"{PREFIX}/login", status_code=303, headers=HEADERS)
        self.drop_cookie(response, SESSION_COOKIE)
        return response

    def current(self, request: Request) -> tuple[User, Session] | None:
        """The logged-in user: a valid cookie of an active user whose password is unchanged."""
        session = self.signer.read(request.cookies.get(SESSION_COOKIE), self.now())
        if session is None:
            return None
        with self.engine.connect() as conn:
            user = load_user(conn, self.signer.secret, session.user_id)
        if user is None or not user.active or not hmac.compare_digest(user.tag, session.tag):
            return None
        return user, session

    def login_page(self, request: Request, status: int = 200, error: str | None = None) -> Response:
        """The login form, with its CSRF token and the nonce cookie it is bound to."""
        nonce = request.cookies.get(LOGIN_COOKIE) or ""
        if not _NONCE.fullmatch(nonce):
            nonce = secrets.token_urlsafe(24)
        response = self.page(
            "login.html",
            status,
            title="Masuk (log in)",
            csrf=self.signer.csrf_token(nonce),
            error=error,
        )
        self.cookie(response, LOGIN_COOKIE, nonce, 3600)
        return response

    # Routes.

    def stylesheet(self) -> Response:
        """``GET /dashboard/static/style.css``."""
        return Response(self.css, media_type="text/css", headers={"Cache-Control": "max-age=3600"})

    def login_form(self, request: Request) -> Response:
        """``GET /dashboard/login``."""
        if self.current(request) is not None:
            return RedirectResponse(PREFIX, status_code=303, headers=HEADERS)
        return self.login_page(request)

    async def login(self, request: Request) -> Response:
        """``POST /dashboard/login``: check the CSRF token, then the password."""
        form = await _read_form(request)
        if form is None:
            return self.login_page(request, 400, "Permintaan tidak valid (Invalid request)")
        if not self.signer.check_csrf(request.cookies.get(LOGIN_COOKIE), form.get("csrf")):
            log.warning("dashboard login refused: bad CSRF token")
            return self.login_page(
                request, 403, "Formulir kedaluwarsa, coba lagi (The form expired; try again)"
            )
        username, password = form.get("username", "")[:64], form.get("password", "")

        def check() -> User | None:
            with self.engine.connect() as conn:
                return authenticate(conn, self.signer.secret, username, password)

        user = await run_in_threadpool(check)
        if user is None:
            # Neither the username (a password typed in the wrong box) nor the password.
            client = request.client.host if request.client else "?"
            log.warning("dashboard login refused client=%s", client)
            return self.login_page(
                request, 401, "Nama pengguna atau kata sandi salah (Wrong username or password)"
            )
        lifetime = self.settings.session_lifetime
        value, _ = self.signer.issue(user, self.now() + lifetime)
        response = RedirectResponse(PREFIX, status_code=303, headers=HEADERS)
        self.cookie(response, SESSION_COOKIE, value, int(lifetime.total_seconds()))
        self.drop_cookie(response, LOGIN_COOKIE)
        log.info("dashboard login username=%s role=%s", user.username, user.role.value)
        return response

    async def logout(self, request: Request) -> Response:
        """``POST /dashboard/logout``: with the session's CSRF token."""
        form = await _read_form(request) or {}
        found = await run_in_threadpool(self.current, request)
        if found is None:
            return self.to_login()
        user, session = found
        if not self.signer.check_csrf(session.nonce, form.get("csrf")):
            log.warning("dashboard logout refused: bad CSRF token username=%s", user.username)
            return self.refused(
                user, session, 403, "Formulir kedaluwarsa, muat ulang (The form expired; reload)"
            )
        log.info("dashboard logout username=%s", user.username)
        return self.to_login()

    def dashboard(self, request: Request) -> Response:
        """``GET /dashboard?unit=ID&month=YYYY-MM``."""
        found = self.current(request)
        if found is None:
            return self.to_login()
        user, session = found
        try:
            context = self.view(user, request.query_params)
        except _Refused as refused:
            return self.refused(user, session, refused.status, refused.message)
        return self.page(
            "dashboard.html", user=user, csrf=self.signer.csrf_token(session.nonce), **context
        )

    def view(self, user: User, params: Mapping[str, str]) -> dict[str, Any]:
        """The dashboard's numbers for ``user``, limited to the units the user may see."""
        at = self.now()
        today = at.astimezone(self.tz).date()
        selected = _unit(params.get("unit"), user)
        month = _month(params.get("month"), today)
        with self.engine.connect() as conn:
            choices = queries.list_units(conn, user.units)
            if selected is not None and selected not in {u.id for u in choices}:
                raise _Refused(404, "Unit tidak ada (No such unit)")
            scope = user.units if selected is None else frozenset({selected})
            today_rows = queries.today_by_unit(conn, today, self.tz, scope)
            devices = queries.terminals(conn, scope, at, self.settings.offline_after)
            days = queries.month_by_day(conn, month, scope)
            per_unit = queries.month_by_unit(conn, month, scope)

        def link(to: date) -> str:
            query = {"month": to.strftime("%Y-%m")}
            if selected is not None:
                query["unit"] = str(selected)
            return f"{PREFIX}?{urlencode(query)}"

        return {
            "title": "Dasbor (dashboard)",
            "choices": choices,
            "selected": selected,
            "can_choose": user.units is None,
            "fixed_unit": choices[0] if user.units is not None and choices else None,
            "month_value": month.strftime("%Y-%m"),
            "month_label": f"{MONTHS[month.month - 1]} {month.year}",
            "prev_link": link(_shift(month, -1)),
            "next_link": link(_shift(month, 1)),
            "today_label": f"{DAYS[today.weekday()]}, {today.day} {MONTHS[today.month - 1]} "
            f"{today.year}",
            "now_label": self.local(at),
            "today_rows": today_rows,
            "today_total": queries.sum_today(today_rows),
            "terminals": devices,
            "days": days,
            "per_unit": per_unit,
            "month_total": queries.sum_month(per_unit),
            "chart": Markup(month_chart(days)),  # noqa: S704 - numbers, and its text is escaped
        }


def dashboard_router(
    engine: Engine, settings: DashboardSettings, *, now: Callable[[], datetime] = _utc_now
) -> APIRouter:
    """The dashboard's routes, to include in the central API application.

    Args:
        engine: The central database (migrated to at least revision 0004).
        settings: Secret, cookie and display settings.
        now: The server clock; tests pass a fixed one.

    Returns:
        A router with ``GET /dashboard``, ``GET|POST /dashboard/login``,
        ``POST /dashboard/logout`` and ``GET /dashboard/static/style.css``.
    """
    d = _Dashboard(engine, settings, now)
    router = APIRouter(include_in_schema=False)
    router.add_api_route(PREFIX + "/static/style.css", d.stylesheet, methods=["GET"])
    router.add_api_route(PREFIX + "/login", d.login_form, methods=["GET"])
    router.add_api_route(PREFIX + "/login", d.login, methods=["POST"])
    router.add_api_route(PREFIX + "/logout", d.logout, methods=["POST"])
    router.add_api_route(PREFIX, d.dashboard, methods=["GET"])
    return router
