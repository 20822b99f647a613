"""Check-ins and location pings from the Android app, and the registry reads they need.

A check-in is decided by :func:`central.api.policy.evaluate_checkin` and stored whatever the
verdict, so a refused attempt can be shown in a dispute (domain-id.md §6.3 rule 7). Pings are kept
only inside the person's work hours (UU PDP data minimisation, §6.1/§8: no location outside
attendance), and "outside the office area" intervals are computed from them when asked for.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import partial
from types import SimpleNamespace
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, Field, field_validator
from sqlalchemy import (
    CompoundSelect,
    Connection,
    Integer,
    Row,
    Select,
    bindparam,
    insert,
    literal_column,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError

from central import registry
from central.api.auth import (
    ApiError,
    CheckinCaller,
    DeviceAuth,
    ErrorBody,
    identify_checkin_caller,
    require_device,
    state,
    unauthorized,
)
from central.api.policy import (
    DEVICE_MISMATCH,
    Code,
    Fix,
    Placement,
    PolicySettings,
    Refusal,
    SiteFence,
    check_clock,
    classify_ping,
    default_window,
    evaluate_checkin,
    http_status,
    local_day,
    window_utc,
    within,
)
from central.schema.checkin import checkin, location_ping, mobile_device
from central.schema.registry import person, person_site, site, unit

if TYPE_CHECKING:
    from central.api.app import AppState

log = logging.getLogger(__name__)


def _as_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # e.g. 0001-01-01T00:00+08:00 has no UTC form
        raise ValueError("time out of range") from exc


class Position(BaseModel):
    """A GPS fix as Android reports it."""

    client_time: AwareDatetime = Field(description="The phone's clock, with its offset")
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)
    accuracy_m: float = Field(
        ge=0, le=1_000_000, allow_inf_nan=False, description="Location.getAccuracy(), 68 %"
    )
    mock_location: bool = Field(description="Location.isMock() (isFromMockProvider() < API 31)")

    _utc = field_validator("client_time")(_as_utc)


class CheckinRequest(Position):
    """``POST /v1/checkins``; the person is the one the token is bound to."""

    kind: Literal["in", "out", "any"] = "any"
    client_ref: uuid.UUID | None = Field(
        default=None, description="The app's id for this attempt; a retry returns the first answer"
    )


class SiteRef(BaseModel):
    """A site as the app shows it."""

    id: str
    name: str


class CheckinRecord(BaseModel):
    """A stored, accepted check-in."""

    id: str
    person_id: int
    source: Literal["android"] = "android"
    device_id: str
    kind: str
    client_time: datetime
    server_time: datetime = Field(description="Authoritative: the attendance rules use this")
    accuracy_m: float
    site: SiteRef | None
    distance_m: float | None


class CheckinRefusal(ErrorBody):
    """A refused check-in: it was stored too, under ``checkin_id``."""

    checkin_id: str


class PingRequest(Position):
    """``POST /v1/pings``: where the phone is now."""


class PingResult(BaseModel):
    """What became of a ping."""

    stored: bool = Field(description="False outside work hours: the location is not kept")
    in_work_hours: bool
    inside: bool | None = Field(description="Inside a site; null when the fix cannot tell")
    site_id: str | None
    server_time: datetime


def _sites_query() -> CompoundSelect[Any]:
    """The person's linked sites (src 1) and their unit's active sites (src 2), one statement.

    Each row carries the person's unit channel. :func:`person_sites` keeps the linked ones that
    are active, else the unit's: :func:`central.registry.allowed_sites`, in one round trip
    instead of five.
    """
    who = bindparam("person_id", type_=Integer)
    cols = [site.c.id, site.c.name, site.c.lat, site.c.lon, site.c.radius_m, site.c.accuracy_max_m]
    cols += [site.c.active, site.c.mobile_fallback_open, unit.c.channel]
    linked = (
        select(literal_column("1").label("src"), *cols)
        .select_from(person_site)
        .join(site, site.c.id == person_site.c.site_id)
        .join(person, person.c.id == person_site.c.person_id)
        .join(unit, unit.c.id == person.c.unit_id)
        .where(person_site.c.person_id == who)
    )
    own = (
        select(literal_column("2").label("src"), *cols)
        .select_from(person)
        .join(unit, unit.c.id == person.c.unit_id)
        .join(site, site.c.unit_id == person.c.unit_id)
        .where(person.c.id == who, site.c.active)
    )
    return union_all(linked, own)


_SITES = _sites_query()


def _fences(rows: Iterable[Row[Any]]) -> list[SiteFence]:
    """Rows of :func:`_sites_query` (``src`` null: none) -> the sites that apply, by id."""
    ordered = sorted((r for r in rows if r.src is not None), key=lambda r: (r.src, r.id))
    chosen = [r for r in ordered if r.src == 1 and r.active] or [r for r in ordered if r.src == 2]
    return [
        SiteFence(
            site_id=r.id,
            name=r.name,
            lat=r.lat,
            lon=r.lon,
            radius_m=r.radius_m,
            accuracy_max_m=r.accuracy_max_m,
            channel=r.channel,
            fallback_open=r.mobile_fallback_open,
        )
        for r in chosen
    ]


def person_sites(conn: Connection, person_id: int) -> list[SiteFence]:
    """The active sites where ``person_id`` may check in, with their unit's channel policy."""
    return _fences(conn.execute(_SITES, {"person_id": person_id}))


def _caller_and_sites_query() -> Select[Any]:
    """The caller's active binding (one row per site; none: no such binding) and their sites.

    The binding is read again here, in the check-in's own transaction, whatever the
    :class:`central.api.auth.BindingCache` said: a token revoked or a person deactivated by the
    time of this statement gets a 401 and stores nothing, as with a look-up of its own.
    """
    binding = (
        select(
            mobile_device.c.device_id.label("bound_device_id"),
            person.c.active.label("person_active"),
        )
        .join(person, person.c.id == mobile_device.c.person_id)
        .where(
            mobile_device.c.token_sha256 == bindparam("token_sha256"),
            mobile_device.c.revoked_at.is_(None),
            mobile_device.c.person_id == bindparam("person_id", type_=Integer),
        )
        .subquery("b")
    )
    sites = _sites_query().subquery("s")
    return select(binding, sites).select_from(binding.outerjoin(sites, true()))


_CALLER_SITES = _caller_and_sites_query()


def work_windows(
    conn: Connection, person_id: int, day: date, settings: PolicySettings
) -> list[tuple[datetime, datetime]]:
    """The UTC work windows that start on local ``day`` for ``person_id``.

    The person's schedule, else their unit's; a shift schedule reads the day's roster row.
    Without either, the settings' default hours (domain-id.md §2.2). The Ramadan clock table is
    not switched to: the Ramadan period is not in the registry yet.
    """
    try:
        who = registry.get_person(conn, person_id)
        schedule_id = who.schedule_id or registry.get_unit(conn, who.unit_id).schedule_id
        sched = None if schedule_id is None else registry.get_schedule(conn, schedule_id)
    except registry.NotFound:
        return []
    if sched is None:
        window = default_window(day, settings)
    elif sched.kind is registry.ScheduleKind.SHIFT:
        return [
            (r.start_at, r.end_at)
            for r in registry.shifts(conn, person_id, day, day)
            if r.start_at is not None
        ]
    else:
        times = sched.days.get(registry.WEEKDAYS[day.weekday()])
        window = None if times is None else window_utc(day, (times.start, times.end), settings)
    return [] if window is None else [window]


def _in_work_hours(
    conn: Connection, person_id: int, at: datetime, settings: PolicySettings
) -> bool:
    day = local_day(at, settings)
    # A night shift that started yesterday may still be running.
    windows = work_windows(conn, person_id, day, settings)
    windows += work_windows(conn, person_id, day - timedelta(days=1), settings)
    return within(at, windows)


def purge_coordinates(conn: Connection, older_than: datetime) -> int:
    """Null the raw coordinates of pings received before ``older_than``; returns how many.

    ``inside``, ``site_id`` and ``distance_m`` stay, so the intervals can still be computed.
    Check-in coordinates are kept: they are the evidence of an attendance event (§6.3 rule 7).
    """
    result = conn.execute(
        update(location_ping)
        .where(location_ping.c.server_time < older_than, location_ping.c.lat.is_not(None))
        .values(lat=None, lon=None)
    )
    log.info("ping coordinates purged rows=%d", result.rowcount)
    return result.rowcount


def _record(row: Row[Any] | SimpleNamespace, site_name: str | None) -> CheckinRecord:
    return CheckinRecord(
        id=row.id,
        person_id=row.person_id,
        device_id=row.device_id,
        kind=row.kind,
        client_time=row.client_time,
        server_time=row.server_time,
        accuracy_m=row.accuracy_m,
        site=None if row.site_id is None else SiteRef(id=row.site_id, name=site_name or ""),
        distance_m=row.distance_m,
    )


def _answer(row: Row[Any] | SimpleNamespace, site_name: str | None, replay: bool) -> JSONResponse:
    if row.accepted:
        body = _record(row, site_name).model_dump(mode="json")
        return JSONResponse(body, status_code=200 if replay else 201)
    status = http_status(row.reason)
    refusal = CheckinRefusal(code=row.reason, message=row.message or "", checkin_id=row.id)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(refusal.model_dump(mode="json"), status_code=status, headers=headers)


_STORED = (
    select(checkin, site.c.name.label("site_name"))
    .outerjoin(site, site.c.id == checkin.c.site_id)
    .where(checkin.c.person_id == bindparam("person_id"), checkin.c.client_ref == bindparam("ref"))
)
_INSERT = insert(checkin)


def _stored(conn: Connection, person_id: int, client_ref: str) -> JSONResponse | None:
    found = conn.execute(_STORED, {"person_id": person_id, "ref": client_ref}).first()
    return None if found is None else _answer(found, found.site_name, replay=True)


router = APIRouter(tags=["android"])


@router.post(
    "/v1/checkins",
    status_code=201,
    response_model=CheckinRecord,
    responses={
        200: {"model": CheckinRecord, "description": "A retry: the stored answer"},
        401: {"model": CheckinRefusal, "description": "Unknown token, or not the bound phone"},
        403: {"model": CheckinRefusal, "description": "Refused by the channel policy"},
        422: {"model": CheckinRefusal, "description": "Refused by an integrity check"},
    },
)
async def post_checkin(
    request: Request,
    body: CheckinRequest,
    caller: Annotated[CheckinCaller, Depends(identify_checkin_caller)],
) -> JSONResponse:
    """Check in (or out) from the bound phone; every attempt is stored with its verdict."""
    st = state(request)
    # Stored by the process's writer thread with whatever other check-ins are waiting, in one
    # transaction and one commit; answered after that commit (central/api/groupcommit.py).
    return await st.writer.store(st, body, caller)


def store_checkin(st: AppState, body: CheckinRequest, caller: CheckinCaller) -> JSONResponse:
    """Decide and store one check-in in one transaction.

    Raises:
        ApiError: 401 when the binding is gone (revoked, person deactivated) by now.
    """
    ref = None if body.client_ref is None else str(body.client_ref)
    try:
        with st.engine.begin() as conn:
            response, logged = _decide(conn, st, body, caller)
    except IntegrityError:
        # Only the (person, client_ref) key can clash: the same retry raced in from a parallel
        # request and committed first. Its answer is the answer.
        if ref is None:
            raise
        with st.engine.connect() as conn:
            earlier = _stored(conn, caller.person_id, ref)
        if earlier is None:
            raise
        return earlier
    logged()
    return response


def store_checkins(
    st: AppState, group: Sequence[tuple[CheckinRequest, CheckinCaller]]
) -> list[JSONResponse | ApiError]:
    """Decide and store a group of check-ins in one transaction and one commit.

    Each answer is what :func:`store_checkin` gives for the same request, in order: the group
    only shares the commit. A caller whose binding is gone gets its 401 and stores nothing,
    without touching the others. When the commit or any insert fails on a key (a retry that
    raced in from a parallel request), nothing of the group is kept and each is stored again on
    its own, so the one that clashed gets the stored answer and the rest are unaffected.
    """
    answers: list[JSONResponse | ApiError] = []
    logs: list[Callable[[], None]] = []
    rows: list[dict[str, Any]] = []
    try:
        with st.engine.begin() as conn:
            for body, caller in group:
                try:
                    response, logged = _decide(conn, st, body, caller, rows)
                except ApiError as refused:
                    answers.append(refused)
                    continue
                answers.append(response)
                logs.append(logged)
            # One executemany (pipelined by psycopg) instead of a round trip per check-in. A
            # retry of a check-in stored earlier in this same group is not seen by _stored
            # before this insert: the insert then clashes and the group is redone one by one.
            if rows:
                conn.execute(_INSERT, rows)
    except IntegrityError:
        log.info("checkin group retried one by one size=%d", len(group))
        return [_one(st, body, caller) for body, caller in group]
    for logged in logs:
        logged()
    return answers


def _one(st: AppState, body: CheckinRequest, caller: CheckinCaller) -> JSONResponse | ApiError:
    try:
        return store_checkin(st, body, caller)
    except ApiError as refused:
        return refused


def _decide(
    conn: Connection,
    st: AppState,
    body: CheckinRequest,
    caller: CheckinCaller,
    deferred: list[dict[str, Any]] | None = None,
) -> tuple[JSONResponse, Callable[[], None]]:
    # One check-in inside the caller's transaction: the answer, and its log line for after
    # the commit (a line for a check-in that was rolled back would be false).
    ref = None if body.client_ref is None else str(body.client_ref)
    rows = conn.execute(
        _CALLER_SITES,
        {"token_sha256": caller.token_sha256, "person_id": caller.person_id},
    ).all()
    if not rows or not rows[0].person_active:
        st.bindings.forget(caller.token_sha256)
        log.warning("device auth refused: unknown, revoked or inactive")
        raise unauthorized()
    auth = DeviceAuth(caller.person_id, rows[0].bound_device_id, caller.claimed_device_id)
    if ref is not None and (earlier := _stored(conn, auth.person_id, ref)) is not None:
        return earlier, _nothing
    server_time = st.now()
    placement, refusal = evaluate_checkin(
        fix=Fix(body.lat, body.lon, body.accuracy_m),
        mock=body.mock_location,
        client_time=body.client_time,
        server_time=server_time,
        sites=_fences(rows),
        settings=st.settings.policy,
    )
    if not auth.device_matches:
        refusal = DEVICE_MISMATCH
    row = _insert_checkin(
        conn,
        auth=auth,
        body=body,
        ref=ref,
        server_time=server_time,
        placement=placement,
        refusal=refusal,
        deferred=deferred,
    )
    response = _answer(row, None if placement is None else placement.site.name, replay=False)
    return response, partial(_log_checkin, auth.person_id, refusal, placement)


def _nothing() -> None:
    return None


def _insert_checkin(
    conn: Connection,
    *,
    auth: DeviceAuth,
    body: CheckinRequest,
    ref: str | None,
    server_time: datetime,
    placement: Placement | None,
    refusal: Refusal | None,
    deferred: list[dict[str, Any]] | None = None,
) -> SimpleNamespace:
    values = {
        "id": str(uuid.uuid4()),
        "person_id": auth.person_id,
        "device_id": auth.claimed_device_id,
        "client_ref": ref,
        "kind": body.kind,
        "client_time": body.client_time,
        "server_time": server_time,
        "lat": body.lat,
        "lon": body.lon,
        "accuracy_m": body.accuracy_m,
        "mock_location": body.mock_location,
        "site_id": None if placement is None else placement.site.site_id,
        "distance_m": None if placement is None else placement.distance_m,
        "accepted": refusal is None,
        "reason": None if refusal is None else refusal.code.value,
        "message": None if refusal is None else refusal.message,
    }
    if deferred is None:
        conn.execute(_INSERT, values)
    else:
        deferred.append(values)  # the group's rows go in one executemany before its commit
    # The answer is built from what was inserted, not read back: every column is given here and
    # each round-trips unchanged (UTC times in microseconds, doubles, strings), which the tests
    # check by comparing a first answer with its replay from the stored row.
    return SimpleNamespace(**values)


def _log_checkin(person_id: int, refusal: Refusal | None, placement: Placement | None) -> None:
    site_id = None if placement is None else placement.site.site_id
    if refusal is None:
        # Every check-in is a row of its own; like the collector's punches, an accepted one is
        # not a journal line too (3,000 of them at 07:30, 7 % of the route's CPU: issue 4).
        log.debug("checkin accepted person_id=%d site=%s", person_id, site_id)
    elif refusal.code in (Code.MOCK_LOCATION, Code.DEVICE_MISMATCH):
        # The supervisor's business (§6.3 rule 1); WARNING so it stands out in the journal.
        log.warning("checkin refused person_id=%d reason=%s", person_id, refusal.code)
    else:
        log.info("checkin refused person_id=%d reason=%s site=%s", person_id, refusal.code, site_id)


@router.post(
    "/v1/pings",
    status_code=201,
    responses={200: {"model": PingResult, "description": "Outside work hours: not stored"}},
)
def post_ping(
    request: Request, body: PingRequest, auth: Annotated[DeviceAuth, Depends(require_device)]
) -> JSONResponse:
    """Report the phone's location during work hours (for "outside the office area")."""
    st = state(request)
    policy = st.settings.policy
    server_time = st.now()
    refusal = check_clock(body.client_time, server_time, policy)
    if refusal is not None:
        raise ApiError(refusal.status, refusal.code, refusal.message)
    with st.engine.begin() as conn:
        if not _in_work_hours(conn, auth.person_id, server_time, policy):
            result = PingResult(
                stored=False,
                in_work_hours=False,
                inside=None,
                site_id=None,
                server_time=server_time,
            )
            return JSONResponse(result.model_dump(mode="json"), status_code=200)
        sites = person_sites(conn, auth.person_id)
        fix = Fix(body.lat, body.lon, body.accuracy_m)
        placement = classify_ping(fix, body.mock_location, sites, policy)
        conn.execute(
            insert(location_ping).values(
                person_id=auth.person_id,
                device_id=auth.claimed_device_id,
                server_time=server_time,
                client_time=body.client_time,
                lat=body.lat,
                lon=body.lon,
                accuracy_m=body.accuracy_m,
                mock=body.mock_location,
                inside=None if placement is None else placement.inside,
                site_id=None if placement is None else placement.site.site_id,
                distance_m=None if placement is None else placement.distance_m,
            )
        )
    if body.mock_location:
        log.warning("ping with mock location person_id=%d", auth.person_id)
    result = PingResult(
        stored=True,
        in_work_hours=True,
        inside=None if placement is None else placement.inside,
        site_id=None if placement is None else placement.site.site_id,
        server_time=server_time,
    )
    return JSONResponse(result.model_dump(mode="json"), status_code=201)
