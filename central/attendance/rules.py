"""The daily-status rules as pure functions: one person, one work day, no database, no clock.

:func:`decide` takes the day's facts (the schedule's plan for the day, holidays, absences, the
merged events and how complete the evidence is) and returns the :class:`DayResult` written to
``daily_status``. The order of the questions is the precedence of the rules:

1. A holiday that applies to the person → LIBUR; no plan (weekend, roster day off) → OFF.
2. An absence: CBER → ABSEN, not a working day; DL/DIK/WFH → HADIR with the code (present on
   duty, §4.4); any other code → ABSEN on a working day.
3. Evidence not complete yet (a terminal's backlog may still hold the day's punches, or the
   day is not over) → PENDING, never TK: the check-in and check-out known so far are shown, but
   nothing is counted (no minutes, no category, no deduction).
4. No event at all → TK. Otherwise HADIR, with lateness against the start (TL), early leave
   against the end (PSW), and a missing end counted as TL4 / PSW4 (§3.2); an event in neither
   window still proves presence (both ends are then missing).

Times are compared at whole seconds (a punch's fraction of a second is noise), and minutes
follow §3.1: with the default graces, late = floor, early = ceil.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo

from central.attendance.ruleset import Band, PunchPick, RuleSet

CENT = Decimal("0.01")
SECOND = timedelta(seconds=1)


class Status(StrEnum):
    """``daily_status.status``."""

    HADIR = "HADIR"
    TK = "TK"
    ABSEN = "ABSEN"
    LIBUR = "LIBUR"
    OFF = "OFF"
    PENDING = "PENDING"


class Source(StrEnum):
    """Where an event came from (``daily_status.in_source`` / ``out_source``)."""

    FINGERPRINT = "fingerprint"
    ANDROID = "android"
    MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class Event:
    """One piece of evidence that the person was there.

    Attributes:
        at: When (aware, UTC).
        source: Terminal punch, accepted Android check-in, or manual correction.
        ref: Stable identity (``fp:<device>:<seq>``, ``android:<id>``, ``manual:<id>``), so
            ties and voids are decided by identity, never by time alone (§6.4).
        role: For a manual correction, the end it supplies; None for punches and check-ins,
            whose role the windows decide.
    """

    at: datetime
    source: Source
    ref: str
    role: Literal["in", "out"] | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """One scheduled working period, in UTC, with the windows where its ends may be recorded."""

    start: datetime
    end: datetime
    checkin_window: tuple[datetime, datetime]
    checkout_window: tuple[datetime, datetime]
    kind: str

    @property
    def reach(self) -> tuple[datetime, datetime]:
        """From the first moment an event may count for this plan to the last."""
        return (
            min(self.checkin_window[0], self.checkout_window[0]),
            max(self.checkin_window[1], self.checkout_window[1]),
        )


def plan_fixed(
    day: date, start: time, end: time, rules: RuleSet, *, ramadan: bool, kind: str
) -> Plan:
    """The plan of a weekly-schedule day (five-day, six-day, or a Ramadan table).

    The rule set's windows are stretched to contain the day's start and end, and to reach at
    least ``window_margin_min`` past the start and before the end, so a short Saturday
    (07:30-12:30) or an afternoon schedule keeps TL1-3 and PSW1-3 reachable.
    """
    zone = ZoneInfo(rules.timezone)
    margin = timedelta(minutes=rules.window_margin_min)
    first, last = (datetime.combine(day, t, zone).astimezone(UTC) for t in (start, end))

    def at(t: time) -> datetime:
        return datetime.combine(day, t, zone).astimezone(UTC)

    cin = rules.ramadan_checkin_window if ramadan else rules.checkin_window
    cout = rules.ramadan_checkout_window if ramadan else rules.checkout_window
    return Plan(
        start=first,
        end=last,
        checkin_window=(min(at(cin[0]), first), max(at(cin[1]), first + margin)),
        checkout_window=(min(at(cout[0]), last - margin), max(at(cout[1]), last)),
        kind=kind,
    )


def plan_shift(start_at: datetime, end_at: datetime, rules: RuleSet) -> Plan:
    """The plan of a roster shift; its windows are minutes relative to its start and end."""
    cin, cout = rules.shift_checkin_window_min, rules.shift_checkout_window_min
    minute = timedelta(minutes=1)
    return Plan(
        start=start_at,
        end=end_at,
        checkin_window=(start_at + cin[0] * minute, start_at + cin[1] * minute),
        checkout_window=(end_at + cout[0] * minute, end_at + cout[1] * minute),
        kind="shift",
    )


@dataclass(frozen=True, slots=True)
class DayFacts:
    """Everything :func:`decide` needs about one person on one work day.

    Attributes:
        day: The work date (a night shift's is the day it starts).
        now: The time of the computation.
        plan: The schedule's working period that day; None: not a working day by the schedule.
        shift: The plan comes from a shift roster (holidays then apply only if configured).
        employment_type: ``person.employment_type`` (cuti bersama may depend on it).
        holidays: The day's active holidays as (category, name), first the one that names it.
        absences: Absence codes in force, the one that wins first.
        events: The events of this work day (see :mod:`central.attendance.timeline`).
        complete_upto: The evidence is complete up to here: the oldest watermark of the
            person's terminals, or ``now`` where the person has none.
        corrected: A manual correction touched the day.
        outside_minutes: Minutes outside every site during the plan (from pings).
        notes: Remarks from the caller (e.g. no roster row).
    """

    day: date
    now: datetime
    plan: Plan | None
    shift: bool = False
    employment_type: str = "PNS"
    holidays: tuple[tuple[str, str], ...] = ()
    absences: tuple[str, ...] = ()
    events: tuple[Event, ...] = ()
    complete_upto: datetime | None = None
    corrected: bool = False
    outside_minutes: int = 0
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DayResult:
    """One ``daily_status`` row's content (the person, versions and time are the caller's)."""

    status: Status
    scheduled: bool
    code: str | None = None
    check_in: datetime | None = None
    check_out: datetime | None = None
    in_source: str | None = None
    out_source: str | None = None
    late_minutes: int = 0
    tl: str | None = None
    early_minutes: int = 0
    psw: str | None = None
    forgot_in: bool = False
    forgot_out: bool = False
    outside_minutes: int = 0
    deduction_pct: Decimal = field(default=Decimal("0.00"))
    corrected: bool = False
    note: str = ""


def whole(at: datetime) -> datetime:
    """``at`` without its fraction of a second."""
    return at.replace(microsecond=0)


def _minutes_over(seconds: int, grace_s: int) -> int:
    """Whole minutes past a grace: 0 within it, else the started minutes beyond it."""
    if seconds <= grace_s:
        return 0
    return -(-(seconds - grace_s) // 60)


def late_minutes(check_in: datetime, start: datetime, grace_s: int) -> int:
    """Minutes late; with ``grace_s=59``, 07:30:59 is on time and 07:31:00 is one minute late."""
    return _minutes_over((whole(check_in) - start) // SECOND, grace_s)


def early_minutes(check_out: datetime, end: datetime, grace_s: int) -> int:
    """Minutes early; with ``grace_s=0``, 15:59:59 against 16:00 is one minute early."""
    return _minutes_over((end - whole(check_out)) // SECOND, grace_s)


def band_for(minutes: int, bands: Sequence[Band]) -> Band | None:
    """The category of ``minutes`` late or early, None for none."""
    for band in bands:
        if minutes > 0 and band.holds(minutes):
            return band
    return None


def holiday_applies(category: str, facts: DayFacts, rules: RuleSet) -> bool:
    """Whether a holiday of ``category`` gives this person the day off."""
    if category not in rules.off_categories:
        return False
    if facts.shift and not rules.holidays_for_shifts:
        return False  # §2.5: the roster already says who works on holidays
    return category != "CUTI_BERSAMA" or facts.employment_type in rules.cuti_bersama_for


def _within(at: datetime, window: tuple[datetime, datetime]) -> bool:
    return window[0] <= at <= window[1]


def pick(events: Sequence[Event], plan: Plan, rules: RuleSet) -> tuple[Event | None, Event | None]:
    """The day's check-in and check-out among ``events`` (§6.4).

    Punches and check-ins count in the window they fall in; a manual correction counts as the
    end it names wherever it lies. One event is never both: where the windows overlap, a lone
    event past the middle of the plan is the check-out.
    """
    order = sorted(events, key=lambda e: (e.at, e.ref))
    ins = [
        e
        for e in order
        if e.role == "in" or (e.role is None and _within(e.at, plan.checkin_window))
    ]
    outs = [
        e
        for e in order
        if e.role == "out" or (e.role is None and _within(e.at, plan.checkout_window))
    ]
    first_in = ins[0] if ins else None
    rest = [e for e in outs if first_in is None or e.ref != first_in.ref]
    if rest:
        last_out = rest[0] if rules.punch_pick is PunchPick.FIRST_RECORD else rest[-1]
        return first_in, last_out
    middle = plan.start + (plan.end - plan.start) / 2
    if first_in is not None and first_in in outs and len(ins) == 1 and first_in.at > middle:
        return None, first_in
    return first_in, None


def is_final(plan: Plan, complete_upto: datetime | None, now: datetime, rules: RuleSet) -> bool:
    """Whether the evidence for ``plan`` is complete.

    It is once the check-out window has closed and every terminal of the person has reported
    everything up to then (``complete_upto``), or the rule set's grace has run out.
    """
    close = plan.checkout_window[1]
    if now < close:
        return False
    if complete_upto is not None and complete_upto >= close:
        return True
    grace = rules.pending_grace_days
    return grace is not None and now >= close + timedelta(days=grace)


def _row(
    status: Status,
    scheduled: bool,
    facts: DayFacts,
    ends: tuple[Event | None, Event | None] = (None, None),
    *,
    code: str | None = None,
    outside: int = 0,
    pct: Decimal = Decimal(0),
    notes: Sequence[str] = (),
) -> DayResult:
    """A row without lateness or early leave: the ends are shown, nothing is counted."""
    check_in, check_out = ends
    return DayResult(
        status,
        scheduled,
        code,
        check_in=None if check_in is None else whole(check_in.at),
        check_out=None if check_out is None else whole(check_out.at),
        in_source=None if check_in is None else check_in.source.value,
        out_source=None if check_out is None else check_out.source.value,
        outside_minutes=outside,
        deduction_pct=pct.quantize(CENT),
        corrected=facts.corrected,
        note=_note(*notes, *facts.notes),
    )


def _span(events: Sequence[Event]) -> tuple[Event | None, Event | None]:
    """Earliest and latest event, for days that are not judged (shown, never counted)."""
    if not events:
        return None, None
    order = sorted(events, key=lambda e: (e.at, e.ref))
    return order[0], (order[-1] if len(order) > 1 else None)


def _note(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def decide(facts: DayFacts, rules: RuleSet) -> DayResult:
    """The status of one person on one work day; see the module docstring for the order."""
    off = [(c, n) for c, n in facts.holidays if holiday_applies(c, facts, rules)]
    if off or facts.plan is None:
        names = [f"{'Cuti bersama' if c == 'CUTI_BERSAMA' else 'Libur'}: {n}" for c, n in off]
        status = Status.LIBUR if off else Status.OFF
        return _row(status, False, facts, _span(facts.events), notes=names)
    plan = facts.plan
    picked = pick(facts.events, plan, rules)
    outside = facts.outside_minutes if rules.outside_minutes else 0
    if facts.absences:
        code = facts.absences[0]
        others = sorted({c for c in facts.absences[1:] if c != code})
        extra = [f"juga {'/'.join(others)}"] if others else []
        if code in rules.non_working_codes:
            return _row(Status.ABSEN, False, facts, code=code, notes=extra)
        if code in rules.present_codes:
            return _row(Status.HADIR, True, facts, picked, code=code, outside=outside, notes=extra)
        pct = rules.absence_deduction(code)
        return _row(Status.ABSEN, True, facts, code=code, pct=pct, notes=extra)
    if not is_final(plan, facts.complete_upto, facts.now, rules):
        wait = ["sementara: menunggu data terminal / akhir hari"]
        return _row(Status.PENDING, True, facts, picked, notes=wait)
    if not facts.events:
        return _row(Status.TK, True, facts, pct=rules.tk_pct)
    # Any event of the day proves presence, even one outside both windows: not TK, but both
    # ends missing (TL4 + PSW4).
    return _present(facts, plan, picked, outside, rules)


def _present(
    facts: DayFacts,
    plan: Plan,
    ends: tuple[Event | None, Event | None],
    outside: int,
    rules: RuleSet,
) -> DayResult:
    """HADIR: lateness, early leave, forgotten ends and the day's deduction."""
    check_in, check_out = ends
    notes: list[str] = []
    if stray := [e for e in facts.events if e not in ends and e.role is None]:
        windows = (plan.checkin_window, plan.checkout_window)
        if outside_windows := sum(not any(_within(e.at, w) for w in windows) for e in stray):
            notes.append(f"{outside_windows} rekaman di luar jendela absen")
    end = plan.end
    late = 0
    tl: Band | None
    if check_in is None:
        tl = rules.band(rules.missing_checkin)
    else:
        late = late_minutes(check_in.at, plan.start, rules.late_grace_s)
        made_up = min(late, rules.flexi_makeup_minutes)
        if made_up:
            # §2.3: the minutes are made up by leaving later; only those beyond count.
            end += timedelta(minutes=made_up)
            late -= made_up
            notes.append(f"flexi {made_up} menit")
        tl = band_for(late, rules.tl_bands)
    early = 0
    psw: Band | None
    if check_out is None:
        psw = rules.band(rules.missing_checkout)
    else:
        early = early_minutes(check_out.at, end, rules.early_grace_s)
        psw = band_for(early, rules.psw_bands)
    pct = (tl.pct if tl else Decimal(0)) + (psw.pct if psw else Decimal(0))
    if rules.daily_cap_pct is not None:
        pct = min(pct, rules.daily_cap_pct)
    if check_in is not None and check_in.source is Source.MANUAL:
        notes.append("masuk dari koreksi")
    if check_out is not None and check_out.source is Source.MANUAL:
        notes.append("pulang dari koreksi")
    return DayResult(
        Status.HADIR,
        True,
        check_in=None if check_in is None else whole(check_in.at),
        check_out=None if check_out is None else whole(check_out.at),
        in_source=None if check_in is None else check_in.source.value,
        out_source=None if check_out is None else check_out.source.value,
        late_minutes=late,
        tl=None if tl is None else tl.code,
        early_minutes=early,
        psw=None if psw is None else psw.code,
        forgot_in=check_in is None,
        forgot_out=check_out is None,
        outside_minutes=outside,
        deduction_pct=pct.quantize(CENT),
        corrected=facts.corrected,
        note=_note(*notes, *facts.notes),
    )
