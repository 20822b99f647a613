"""Who is calling: a person's bound Android device, or an operator; and binding a device.

A person's app authenticates with ``Authorization: Bearer <token>`` **and** ``X-Device-Id:
<ANDROID_ID>``; both must match one active row of ``mobile_device`` (domain-id.md §6.3 rule 5:
one bound device per account). The token is 32 random bytes, handed out once by
``POST /v1/devices/bind`` and stored only as its SHA-256. Binding again (a new phone) revokes the
old binding: the operator calling the admin endpoint *is* the admin approval §6.3 asks for.

Operators use the admin token from the settings. There is one such token, so "who" in the
fallback log is the operator name the caller states; per-operator accounts are future work.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, cast

import anyio
from anyio.lowlevel import RunVar
from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, field_validator, model_validator
from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import QueuePool

from central import registry
from central.api.policy import DEVICE_MISMATCH
from central.schema.checkin import mobile_device
from central.schema.registry import person

if TYPE_CHECKING:
    from central.api.app import AppState

log = logging.getLogger(__name__)

DEVICE_ID_PATTERN = r"^[A-Za-z0-9._:-]{4,64}$"
_DEVICE_ID = re.compile(DEVICE_ID_PATTERN)

device_bearer = HTTPBearer(
    scheme_name="deviceToken", description="Token from POST /v1/devices/bind", auto_error=False
)
admin_bearer = HTTPBearer(
    scheme_name="adminToken", description="The operator token (settings)", auto_error=False
)


class ErrorBody(BaseModel):
    """The body of every error response."""

    code: str = Field(description="Stable reason code the app branches on")
    message: str = Field(description="For the person: Bahasa Indonesia, English in brackets")


class ApiError(Exception):
    """An error the API answers with ``{"code", "message"}`` and the given HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def _unauthorized(code: str = "unauthorized", detail: str | None = None) -> ApiError:
    message = (
        "Tidak dikenal: masuk ulang atau minta operator mendaftarkan HP Anda "
        "(Not recognised: sign in again or ask the operator to bind your phone)"
    )
    return ApiError(401, code, detail or message)


def state(request: Request) -> AppState:
    """The application's engine, settings and clock."""
    return cast("AppState", request.app.state.hadir)


def hash_token(token: str) -> str:
    """The stored form of a bearer token (SHA-256, hex)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh bearer token: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class DeviceAuth:
    """A caller whose token matched an active binding.

    Attributes:
        person_id: The bound person.
        bound_device_id: The device the token was bound to.
        claimed_device_id: What the caller sent in ``X-Device-Id``.
    """

    person_id: int
    bound_device_id: str
    claimed_device_id: str

    @property
    def device_matches(self) -> bool:
        """Whether the call comes from the bound device."""
        return hmac.compare_digest(self.bound_device_id, self.claimed_device_id)


# Built once: SQLAlchemy memoises a statement object's cache key, so a reused statement skips the
# construction and cache-key walk that cost more than the query itself (the profile of issue 4).
_BINDING = (
    select(mobile_device.c.person_id, mobile_device.c.device_id, person.c.active)
    .join(person, person.c.id == mobile_device.c.person_id)
    .where(
        mobile_device.c.token_sha256 == bindparam("token_sha256"),
        mobile_device.c.revoked_at.is_(None),
    )
)


def identify_device(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(device_bearer)],
    x_device_id: Annotated[str | None, Header(alias="X-Device-Id")] = None,
) -> DeviceAuth:
    """Resolve the bearer token to its person; the device match is left to the caller.

    The check-in route uses this form so that a valid token used from another phone (a copied
    token) is stored as a refused check-in before the 401: the supervisor sees the attempt.

    Raises:
        ApiError: 401 ``unauthorized`` for a missing, unknown or revoked token, a missing device
            id, or a person who is no longer active.
    """
    if credentials is None or x_device_id is None or not _DEVICE_ID.fullmatch(x_device_id):
        raise _unauthorized()
    # The lookup is by hash: timing reveals at most a prefix of a SHA-256, which does not help
    # anyone guess a 256-bit token.
    with state(request).engine.connect() as conn:
        row = conn.execute(_BINDING, {"token_sha256": hash_token(credentials.credentials)}).first()
    if row is None or not row.active:
        log.warning("device auth refused: unknown, revoked or inactive")
        raise _unauthorized()
    return DeviceAuth(row.person_id, row.device_id, x_device_id)


class BindingCache:
    """Tokens recently seen bound, so that the check-in route can skip a look-up before its body.

    This cache never lets anyone in: :func:`central.api.checkins.post_checkin` reads the binding
    again inside the transaction that stores the check-in, and answers 401 (storing nothing) when
    it is gone. What the cache decides is only the order of the checks for a token it holds:
    FastAPI runs a route's dependencies before it validates the body, so a token not held here
    is looked up at once and an unknown one gets its 401 before any complaint about the body, as
    before; a token revoked less than ``ttl_s`` ago, by another process (another worker, the
    CLI's deactivation of a person), can get the body's 422 instead. Binding in this process
    forgets the person's tokens at once.

    Entries are ``sha256(token) -> (person_id, bound device id, expiry)``; at most ``max_entries``,
    the oldest dropped first.
    """

    def __init__(self, ttl_s: float = 300.0, max_entries: int = 100_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[str, tuple[int, str, float]] = {}
        self._lock = threading.Lock()

    def get(self, token_sha256: str) -> tuple[int, str] | None:
        """The person and bound device of a token seen bound within ``ttl_s``, else ``None``."""
        entry = self._entries.get(token_sha256)
        if entry is None:
            return None
        if entry[2] < time.monotonic():
            self.forget(token_sha256)
            return None
        return entry[0], entry[1]

    def put(self, token_sha256: str, person_id: int, device_id: str) -> None:
        """Remember a binding just read from the database."""
        with self._lock:
            self._entries.pop(token_sha256, None)
            while len(self._entries) >= self.max_entries:
                del self._entries[next(iter(self._entries))]
            self._entries[token_sha256] = (person_id, device_id, time.monotonic() + self.ttl_s)

    def forget(self, token_sha256: str) -> None:
        """Drop one token (found revoked)."""
        with self._lock:
            self._entries.pop(token_sha256, None)

    def forget_person(self, person_id: int) -> None:
        """Drop every token of ``person_id`` (a new binding revoked them)."""
        with self._lock:
            for key in [k for k, v in self._entries.items() if v[0] == person_id]:
                del self._entries[key]


@dataclass(frozen=True, slots=True)
class CheckinCaller:
    """The check-in route's caller before the binding is confirmed in its transaction.

    Attributes:
        token_sha256: The stored form of the bearer token.
        person_id: The person it was bound to when last read.
        claimed_device_id: What the caller sent in ``X-Device-Id``.
    """

    token_sha256: str
    person_id: int
    claimed_device_id: str


_LIMITER: RunVar[anyio.CapacityLimiter] = RunVar("hadir_checkin_limiter")


def db_limiter(st: AppState) -> anyio.CapacityLimiter:
    """The event loop's limiter of threads doing the check-in route's database look-ups.

    One fewer than the engine's pool holds, the one being the check-in writer's
    (:mod:`central.api.groupcommit`); anyio's 40 for a pool that is not a ``QueuePool``. With
    more threads than pooled connections, the pool opened and closed overflow connections all the
    time under load (issue 4).
    """
    try:
        return _LIMITER.get()
    except LookupError:
        pool = st.engine.pool
        size = max(1, pool.size() - 1) if isinstance(pool, QueuePool) else 40
        limiter = anyio.CapacityLimiter(size)
        _LIMITER.set(limiter)
        return limiter


def _read_binding(request: Request, token_sha256: str) -> tuple[int, str] | None:
    with state(request).engine.connect() as conn:
        row = conn.execute(_BINDING, {"token_sha256": token_sha256}).first()
    return None if row is None or not row.active else (row.person_id, row.device_id)


async def identify_checkin_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(device_bearer)],
    x_device_id: Annotated[str | None, Header(alias="X-Device-Id")] = None,
) -> CheckinCaller:
    """:func:`identify_device` for the check-in route, through the :class:`BindingCache`.

    Same checks and the same 401 as :func:`identify_device`, but a token the cache holds costs
    no database round trip (nor a thread hop) here: the route confirms it in its own
    transaction, see :class:`BindingCache`.

    Raises:
        ApiError: 401 ``unauthorized`` for a missing, unknown or revoked token, a missing device
            id, or a person who is no longer active.
    """
    if credentials is None or x_device_id is None or not _DEVICE_ID.fullmatch(x_device_id):
        raise _unauthorized()
    token_sha256 = hash_token(credentials.credentials)
    cache = state(request).bindings
    found = cache.get(token_sha256)
    if found is None:
        found = await anyio.to_thread.run_sync(
            _read_binding, request, token_sha256, limiter=db_limiter(state(request))
        )
        if found is None:
            log.warning("device auth refused: unknown, revoked or inactive")
            raise _unauthorized()
        cache.put(token_sha256, *found)
    return CheckinCaller(token_sha256, found[0], x_device_id)


def error_response(exc: ApiError) -> JSONResponse:
    """The response for an :class:`ApiError`: ``{"code", "message"}``, and a 401's challenge."""
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse(
        {"code": exc.code, "message": exc.message}, status_code=exc.status, headers=headers
    )


def unauthorized() -> ApiError:
    """The 401 for an unknown, revoked or inactive caller."""
    return _unauthorized()


def require_device(auth: Annotated[DeviceAuth, Depends(identify_device)]) -> DeviceAuth:
    """:func:`identify_device`, and the call must come from the bound device.

    Raises:
        ApiError: 401 ``device_mismatch`` otherwise.
    """
    if not auth.device_matches:
        log.warning("device auth refused: device mismatch person_id=%d", auth.person_id)
        raise device_mismatch()
    return auth


def device_mismatch() -> ApiError:
    """The 401 for a token used from a phone it was not bound to."""
    return ApiError(401, DEVICE_MISMATCH.code, DEVICE_MISMATCH.message)


def require_admin(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(admin_bearer)],
) -> None:
    """Operator endpoints: the bearer token must equal the configured admin token.

    Raises:
        ApiError: 401 ``unauthorized`` when it does not, or when no admin token is configured.
    """
    expected = state(request).settings.admin_token
    if (
        expected is None
        or credentials is None
        or not hmac.compare_digest(credentials.credentials.encode(), expected.encode())
    ):
        log.warning("admin auth refused")
        raise _unauthorized(detail="Token operator salah (Wrong operator token)")


class BindRequest(BaseModel):
    """Bind a person's phone: name the person by internal id or by a current number."""

    person_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    number: str | None = Field(
        default=None, min_length=1, max_length=32, description="NIP, NI PPPK or local number"
    )
    device_id: str = Field(pattern=DEVICE_ID_PATTERN, description="Settings.Secure.ANDROID_ID")

    @field_validator("number")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        # PostgreSQL refuses NUL in text, and no number has control characters.
        if value is not None and not value.isprintable():
            raise ValueError("number has control characters")
        return value

    @model_validator(mode="after")
    def _one_person(self) -> BindRequest:
        if (self.person_id is None) == (self.number is None):
            raise ValueError("give exactly one of person_id and number")
        return self


class BindResponse(BaseModel):
    """The new binding. ``token`` is shown here once and never again."""

    person_id: int
    device_id: str
    token: str
    created_at: datetime
    revoked_previous: int = Field(description="Earlier bindings of the person now revoked")
    other_people_on_device: int = Field(
        description="Other people bound to this same phone (§6.3 rule 4: flag, not refusal)"
    )


def _find_person(conn: Connection, body: BindRequest) -> int | None:
    try:
        found = (
            registry.get_person(conn, body.person_id)
            if body.person_id is not None
            else registry.find_person(conn, body.number or "")
        )
    except registry.NotFound:
        return None
    return found.id if found is not None and found.active else None


router = APIRouter(tags=["devices"])


@router.post(
    "/v1/devices/bind",
    status_code=201,
    dependencies=[Depends(require_admin)],
    responses={404: {"description": "No such active person"}, 409: {"description": "Race"}},
)
def bind_device(request: Request, body: BindRequest) -> BindResponse:
    """Bind a person to one Android device and hand out its token (operator only)."""
    st = state(request)
    now = st.now()
    token = new_token()
    try:
        with st.engine.begin() as conn:
            person_id = _find_person(conn, body)
            if person_id is None:
                raise ApiError(
                    404,
                    "unknown_person",
                    "Pegawai tidak ditemukan atau tidak aktif (No such active person)",
                )
            revoked = conn.execute(
                update(mobile_device)
                .where(mobile_device.c.person_id == person_id, mobile_device.c.revoked_at.is_(None))
                .values(revoked_at=now)
            ).rowcount
            conn.execute(
                insert(mobile_device).values(
                    person_id=person_id,
                    device_id=body.device_id,
                    token_sha256=hash_token(token),
                    created_at=now,
                )
            )
            others = conn.execute(
                select(func.count())
                .select_from(mobile_device)
                .where(
                    mobile_device.c.device_id == body.device_id,
                    mobile_device.c.revoked_at.is_(None),
                    mobile_device.c.person_id != person_id,
                )
            ).scalar_one()
    except IntegrityError as exc:
        # Two binds of one person at once: the partial unique index let only one through.
        raise ApiError(
            409, "conflict", "Coba lagi (Concurrent binding of the same person; try again)"
        ) from exc
    st.bindings.forget_person(person_id)
    log.info("device bound person_id=%d revoked_previous=%d", person_id, revoked)
    if others:
        log.warning("device shared person_id=%d other_people=%d", person_id, others)
    return BindResponse(
        person_id=person_id,
        device_id=body.device_id,
        token=token,
        created_at=now,
        revoked_previous=revoked,
        other_people_on_device=others,
    )
