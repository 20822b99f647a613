"""Operator endpoints: the mobile-fallback switch of a site, and a person's outside intervals.

All need the admin token. The switch is for a unit whose channel is "fingerprint only"
(domain-id.md §6.4) when its terminal is down: mobile check-ins are then accepted at that site
until it is closed again. Every change is logged in ``mobile_fallback_event`` with who, when and
why; the ``site`` row holds only the opening in force.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field, StringConstraints, field_validator
from sqlalchemy import Connection, insert, select

from central import registry
from central.api.auth import ApiError, ErrorBody, require_admin, state
from central.api.checkins import work_windows
from central.api.policy import Interval, outside_intervals
from central.schema.checkin import location_ping, mobile_fallback_event

log = logging.getLogger(__name__)

_PERSON_ID = Annotated[int, Path(ge=1, le=2**31 - 1)]
HISTORY = 50


class FallbackRequest(BaseModel):
    """Open or close mobile check-in at a site whose unit is fingerprint only."""

    open: bool
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    operator: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)
    ] = Field(description="Who is switching (recorded with the reason and the time)")

    @field_validator("reason", "operator")
    @classmethod
    def _printable(cls, value: str) -> str:
        # PostgreSQL refuses NUL in text; a reason is one line for the log and the recap.
        if not value.isprintable():
            raise ValueError("control characters are not allowed")
        return value


class FallbackEvent(BaseModel):
    """One change of the switch."""

    open: bool
    reason: str
    operator: str
    at: datetime


class FallbackState(BaseModel):
    """A site's switch: the opening in force (if any) and the latest changes, newest first."""

    site_id: str
    open: bool
    reason: str | None
    opened_by: str | None
    opened_at: datetime | None
    history: list[FallbackEvent]


class IntervalOut(BaseModel):
    """One "outside the office area" interval."""

    start: datetime
    end: datetime
    minutes: float
    pings: int
    returned: bool = Field(description="Closed by a ping back inside; else ends at the last ping")


class DayIntervals(BaseModel):
    """A person's outside intervals on one local day."""

    person_id: int
    date: date
    work_windows: list[tuple[datetime, datetime]]
    intervals: list[IntervalOut]
    total_minutes: float


router = APIRouter(tags=["operator"], dependencies=[Depends(require_admin)])


@router.get(
    "/v1/people/{person_id}/outside-intervals",
    responses={404: {"model": ErrorBody}},
)
def get_outside_intervals(
    request: Request,
    person_id: _PERSON_ID,
    day: Annotated[date, Query(alias="date", ge=date(2000, 1, 1), le=date(2100, 12, 31))],
) -> DayIntervals:
    """A person's "outside the office area" intervals on one local (WITA) day (operator only)."""
    st = state(request)
    policy = st.settings.policy
    with st.engine.connect() as conn:
        try:
            registry.get_person(conn, person_id)
        except registry.NotFound as exc:
            raise ApiError(
                404, "unknown_person", "Pegawai tidak ditemukan (No such person)"
            ) from exc
        windows = work_windows(conn, person_id, day, policy)
        intervals: list[Interval] = []
        for window in windows:
            pings = conn.execute(
                select(location_ping.c.server_time, location_ping.c.inside).where(
                    location_ping.c.person_id == person_id,
                    location_ping.c.server_time >= window[0],
                    location_ping.c.server_time <= window[1],
                )
            ).all()
            intervals += outside_intervals(((p.server_time, p.inside) for p in pings), window)
    out = [
        IntervalOut(start=i.start, end=i.end, minutes=i.minutes, pings=i.pings, returned=i.returned)
        for i in intervals
    ]
    return DayIntervals(
        person_id=person_id,
        date=day,
        work_windows=windows,
        intervals=out,
        total_minutes=sum(i.minutes for i in intervals),
    )


# The registry's site-id alphabet: anything else cannot name a site.
_SITE_ID = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]


def _fallback_state(conn: Connection, site_id: str) -> FallbackState:
    current = registry.get_site(conn, site_id)
    rows = conn.execute(
        select(mobile_fallback_event)
        .where(mobile_fallback_event.c.site_id == site_id)
        .order_by(mobile_fallback_event.c.at.desc(), mobile_fallback_event.c.id.desc())
        .limit(HISTORY)
    ).all()
    return FallbackState(
        site_id=site_id,
        open=current.mobile_fallback_open,
        reason=current.mobile_fallback_reason,
        opened_by=current.mobile_fallback_opened_by,
        opened_at=current.mobile_fallback_opened_at,
        history=[
            FallbackEvent(open=r.open, reason=r.reason, operator=r.operator, at=r.at) for r in rows
        ],
    )


@router.post("/v1/sites/{site_id}/mobile-fallback", responses={404: {"model": ErrorBody}})
def set_mobile_fallback(
    request: Request, site_id: _SITE_ID, body: FallbackRequest
) -> FallbackState:
    """Open or close mobile check-in at a site, e.g. while its terminal is broken (operator)."""
    st = state(request)
    at = st.now()
    try:
        with st.engine.begin() as conn:
            if body.open:
                registry.open_mobile_fallback(
                    conn, site_id, reason=body.reason, by=body.operator, now=at
                )
            else:
                registry.close_mobile_fallback(conn, site_id)
            # The site row holds only the opening in force; the log keeps every change, closing
            # included, so a past check-in's acceptance can be explained later.
            conn.execute(
                insert(mobile_fallback_event).values(
                    site_id=site_id,
                    open=body.open,
                    reason=body.reason,
                    operator=body.operator,
                    at=at,
                )
            )
            result = _fallback_state(conn, site_id)
    except registry.NotFound as exc:
        raise ApiError(404, "unknown_site", "Lokasi tidak ditemukan (No such site)") from exc
    log.info("mobile fallback site=%s open=%s operator=%s", site_id, body.open, body.operator)
    return result


@router.get("/v1/sites/{site_id}/mobile-fallback", responses={404: {"model": ErrorBody}})
def get_mobile_fallback(request: Request, site_id: _SITE_ID) -> FallbackState:
    """The switch of a site and its recent history, newest first (operator only)."""
    try:
        with state(request).engine.connect() as conn:
            return _fallback_state(conn, site_id)
    except registry.NotFound as exc:
        raise ApiError(404, "unknown_site", "Lokasi tidak ditemukan (No such site)") from exc
