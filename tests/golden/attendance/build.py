"""Golden months for the daily status: the table format, its parser, and the database it builds.

A golden month is written by hand, day by day, as a table::

    # day | events                   | status code in       out      late tl  early psw  forgot dd
    06    | fp 07:31:00, fp 15:59:59 | HADIR  -    07:31:00 15:59:59 1    TL1 1     PSW1 -      1.00

Events: ``fp HH:MM[:SS]`` a terminal punch, ``hp ...`` an accepted Android check-in (HP, as the
recap's "sumber: FP/HP"), ``+in`` / ``+out`` a manual correction for that work date, and a ``!``
after the source (``fp!``) a punch that is then voided. ``+1`` after a time puts it on the next
calendar day (a night shift's end). All times are WITA. In the expectation, ``-`` is empty and
``forgot`` is ``-``, ``in``, ``out`` or ``both``. Days not listed are not checked.

The totals of each month are written separately, also by hand, and the tests compare both.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TypedDict
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, insert, update

from central import registry
from central.attendance import absences, calendar, corrections
from central.identity import EmploymentType
from central.schema.checkin import checkin
from central.schema.ingest import device, punch

WITA = ZoneInfo("Asia/Makassar")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
NIP = "198609262015051001"
NI_PPPK = "200012312024211001"
DEVICE = "kupang-bkppd-1"


class _Fix(TypedDict):
    reason: str
    by: str
    now: datetime


#: Who approved a manual correction, and why (an audit record needs both).
FIX: _Fix = {"reason": "disetujui atasan", "by": "atasan", "now": T0}


def wita(day: date, clock: str) -> datetime:
    """``clock`` (``HH:MM[:SS]``, optional ``+1``) on ``day`` in WITA, as an aware datetime."""
    plus = clock.endswith("+1")
    t = time.fromisoformat(clock.removesuffix("+1"))
    return datetime.combine(day + timedelta(days=1 if plus else 0), t, WITA)


@dataclass(frozen=True)
class EventSpec:
    """One event of a table row."""

    source: str  # fp | hp | +in | +out
    at: datetime
    voided: bool = False


@dataclass(frozen=True)
class Expect:
    """The hand-computed row of one day."""

    status: str
    code: str | None
    check_in: datetime | None
    check_out: datetime | None
    late: int
    tl: str | None
    early: int
    psw: str | None
    forgot_in: bool
    forgot_out: bool
    deduction: Decimal


@dataclass(frozen=True)
class Day:
    """One table row."""

    day: date
    events: tuple[EventSpec, ...]
    expect: Expect


def _opt(token: str) -> str | None:
    return None if token == "-" else token


def parse_table(year: int, month: int, table: str) -> list[Day]:
    """The rows of a golden table (see the module docstring)."""
    days: list[Day] = []
    for raw in table.strip().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        day_txt, events_txt, expect_txt = (part.strip() for part in line.split("|"))
        day = date(year, month, int(day_txt))
        events: list[EventSpec] = []
        for token in filter(None, (t.strip() for t in events_txt.split(","))):
            source, clock = token.split()
            events.append(EventSpec(source.rstrip("!"), wita(day, clock), source.endswith("!")))
        status, code, cin, cout, late, tl, early, psw, forgot, dd = expect_txt.split()
        expect = Expect(
            status=status,
            code=_opt(code),
            check_in=None if cin == "-" else wita(day, cin),
            check_out=None if cout == "-" else wita(day, cout),
            late=int(late),
            tl=_opt(tl),
            early=int(early),
            psw=_opt(psw),
            forgot_in=forgot in ("in", "both"),
            forgot_out=forgot in ("out", "both"),
            deduction=Decimal(dd),
        )
        days.append(Day(day, tuple(events), expect))
    return days


@dataclass(frozen=True)
class Stage:
    """A moment of the month: the events that have arrived by then, and the expected rows.

    Attributes:
        now: When the computation runs.
        complete_upto: The terminal's watermark at that moment (None: never reported).
        table: Rows whose events arrive in this stage, with the expectation after it.
    """

    now: datetime
    complete_upto: datetime | None
    table: str


@dataclass(frozen=True)
class Scenario:
    """One golden month (or span) of one person."""

    name: str
    year: int
    month: int
    stages: Sequence[Stage]
    totals: dict[str, int | Decimal]
    first: int = 1
    last: int | None = None
    schedule: str = "five_day"  # five_day | shift
    employment_type: str = "PNS"
    ramadan: tuple[date, date] | None = None
    absences: Sequence[tuple[date, date, str]] = ()
    #: Shift roster: work date -> (start, end) WITA clocks (end may say ``+1``) or None (off).
    roster: dict[date, tuple[str, str] | None] = field(default_factory=dict)
    #: Rows before the span, (year, month, table): their events arrive with the first stage,
    #: their expectations are not checked (the span does not include them).
    earlier: Sequence[tuple[int, int, str]] = ()


@dataclass
class Built:
    """The ids a scenario's database holds."""

    person_id: int
    site_id: str
    number: str
    seq: int = 0


def build(conn: Connection, sc: Scenario) -> Built:
    """The registry, calendar, roster and absences of a scenario (no events yet)."""
    regular = registry.ensure_default_schedules(conn, now=T0)
    if sc.schedule == "shift":
        sched = registry.add_schedule(conn, "Shift RSUD", registry.ScheduleKind.SHIFT, {}, now=T0)
    else:
        sched = regular
    unit = registry.add_unit(conn, "UNIT", "Unit golden", schedule_id=sched.id, now=T0)
    site = registry.add_site(conn, unit_id=unit.id, name="Kantor", lat=-10.17, lon=123.6, now=T0)
    etype = EmploymentType(sc.employment_type)
    number = NI_PPPK if etype.number_kind.value == "PPPK" else NIP
    who = registry.add_person(
        conn, name="Golden", employment_type=etype, unit_id=unit.id, number=number, now=T0
    )
    conn.execute(insert(device).values(id=DEVICE, site_id=site.id, created_at=T0))
    calendar.seed_holidays(conn, [sc.year], now=T0)
    if sc.ramadan is not None:
        calendar.add_ramadan_period(conn, *sc.ramadan, note="sidang isbat")
    for work_date, shift in sc.roster.items():
        if shift is None:
            registry.set_shift(conn, who.id, work_date, None, None, label="L")
        else:
            start, end = wita(work_date, shift[0]), wita(work_date, shift[1])
            registry.set_shift(conn, who.id, work_date, start, end)
    for first, last, code in sc.absences:
        absences.add_absence(conn, who.id, first, last, code, by="bkppd", now=T0)
    return Built(who.id, site.id, number)


def deliver(conn: Connection, built: Built, days: Sequence[Day], stage: Stage) -> None:
    """Store the events of ``days`` as they would arrive, and the terminal's watermark."""
    for d in days:
        for e in d.events:
            _event(conn, built, d.day, e)
    conn.execute(
        update(device).where(device.c.id == DEVICE).values(complete_upto=stage.complete_upto)
    )


def _event(conn: Connection, built: Built, day: date, e: EventSpec) -> None:
    if e.source == "+in":
        corrections.add_in(conn, built.person_id, day, e.at, **FIX)
    elif e.source == "+out":
        corrections.add_out(conn, built.person_id, day, e.at, **FIX)
    elif e.source == "fp":
        built.seq += 1
        conn.execute(
            insert(punch).values(
                device_id=DEVICE,
                seq=built.seq,
                id=str(uuid.uuid4()),
                person=built.number,
                slot=3,
                score=120,
                at=e.at,
                clock_synced=True,
                boot_id="boot",
                mono_ns=built.seq,
                received_at=e.at,
            )
        )
        if e.voided:
            corrections.void_punch(
                conn,
                built.person_id,
                day,
                DEVICE,
                built.seq,
                **FIX,
            )
    elif e.source == "hp":
        checkin_id = str(uuid.uuid4())
        conn.execute(
            insert(checkin).values(
                id=checkin_id,
                person_id=built.person_id,
                device_id="a1b2c3d4e5f60718",
                kind="any",
                client_time=e.at,
                server_time=e.at,
                lat=-10.17,
                lon=123.6,
                accuracy_m=8.0,
                mock_location=False,
                site_id=built.site_id,
                distance_m=4.0,
                accepted=True,
            )
        )
        if e.voided:
            corrections.void_checkin(
                conn,
                built.person_id,
                day,
                checkin_id,
                **FIX,
            )
    else:
        raise ValueError(f"unknown event source {e.source!r}")
