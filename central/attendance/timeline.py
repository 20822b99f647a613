"""The timeline: every person's events from every channel, and which of them belong to a work day.

Events (domain-id.md §6.4) are merged into one list per person:

* terminal punches, matched to a person by the number the terminal sent *as held at the time of
  the punch* (``person_number`` history: a punch taken before a NIP change still counts for the
  person, and a reissued number never counts for its earlier holder); the terminal sends the
  registry's stored form of the number, copied at enrollment, so matching is exact;
* accepted Android check-ins at their server time (never the phone's, §6.3 rule 3);
* manual corrections (``add_in`` / ``add_out``), which belong to the work date they name.

A voided punch or check-in stays in its table and is only left out here.

Which events belong to a work day is decided by the day's plan: those inside its check-in or
check-out window, so a night shift's morning punch belongs to the day the shift started (§2.5).
A day without a plan (weekend, holiday, roster day off) shows its own local calendar day.

The completeness watermark of a person is the oldest ``device.complete_upto`` of the terminals
at their sites; the daily status is not judged before it passes the end of the check-out window.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from math import floor
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from central import registry
from central.api.policy import outside_intervals
from central.attendance.corrections import Correction
from central.attendance.rules import Event, Plan, Source, plan_fixed, plan_shift
from central.attendance.ruleset import RuleSet
from central.schema.checkin import checkin, location_ping
from central.schema.ingest import device, punch
from central.schema.registry import person_number, person_site, site

#: Bind parameters per ``IN`` list: well under SQLite's 32,766 and PostgreSQL's 65,535.
IN_CHUNK = 5000
T = TypeVar("T")


def chunks(items: Sequence[T], size: int = IN_CHUNK) -> Iterable[list[T]]:
    """``items`` in lists of at most ``size`` (for ``IN`` lists)."""
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


_DEFAULT_DAYS = registry.default_five_day()
_DEFAULT_RAMADAN = registry.ramadan_five_day()


@dataclass(slots=True)
class Planner:
    """Each person's plan for a day, from their schedule (or their unit's) and roster.

    A weekly schedule switches to its Ramadan table on the Ramadan days (§2.4); a person with no
    schedule anywhere gets the §2.2 default and its Ramadan table. A shift schedule reads the
    roster: a row without times is a day off, no row at all is not a working day either (with a
    remark), so a roster not yet entered never makes TK.
    """

    schedules: Mapping[int, registry.Schedule]
    unit_schedule: Mapping[int, int | None]
    ramadan: Collection[date]
    _fixed: dict[tuple[int | None, date], Plan | None] = field(default_factory=dict)

    def plan(
        self,
        who: tuple[int, int, int | None],
        day: date,
        rules: RuleSet,
        roster: Mapping[tuple[int, date], Any],
    ) -> tuple[Plan | None, bool, tuple[str, ...]]:
        """The plan of ``who`` on ``day``, whether it is a roster shift, and remarks.

        Args:
            who: (person id, unit id, the person's own schedule id or None).
            day: The work date.
            rules: The rule set in force that day (windows, Ramadan switch).
            roster: Shift roster rows by (person id, work date).
        """
        person_id, unit_id, own = who
        sched_id = own or self.unit_schedule.get(unit_id)
        sched = None if sched_id is None else self.schedules.get(sched_id)
        if sched is not None and sched.kind is registry.ScheduleKind.SHIFT:
            row = roster.get((person_id, day))
            if row is None:
                return None, True, ("tidak ada roster",)
            if row.start_at is None:
                return None, True, ()  # the roster's day off
            return plan_shift(row.start_at, row.end_at, rules), True, ()
        # Everyone on one weekly schedule shares the day's plan: build it once.
        key = (sched_id, day)
        if key not in self._fixed:
            self._fixed[key] = self._weekly(sched, day, rules)
        return self._fixed[key], False, ()

    def _weekly(self, sched: registry.Schedule | None, day: date, rules: RuleSet) -> Plan | None:
        ramadan = rules.ramadan and day in self.ramadan
        days: Mapping[str, registry.DayTimes]
        if sched is None:
            days, kind = (_DEFAULT_RAMADAN if ramadan else _DEFAULT_DAYS), "five_day"
        else:
            alt = self.schedules.get(sched.ramadan_schedule_id or -1) if ramadan else None
            days, kind = (alt.days, alt.kind.value) if alt else (sched.days, sched.kind.value)
            ramadan = alt is not None
        times = days.get(registry.WEEKDAYS[day.weekday()])
        if times is None:
            return None
        return plan_fixed(day, times.start, times.end, rules, ramadan=ramadan, kind=kind)


@dataclass(slots=True)
class Timeline:
    """The events of some people over a time span, each person's sorted by time then ref."""

    events: dict[int, list[Event]] = field(default_factory=dict)
    manual: dict[tuple[int, date], list[Event]] = field(default_factory=dict)
    _times: dict[int, list[datetime]] = field(default_factory=dict)

    def add(self, person_id: int, events: Iterable[Event]) -> None:
        """Add events of ``person_id`` (kept sorted)."""
        merged = sorted([*self.events.get(person_id, []), *events], key=lambda e: (e.at, e.ref))
        self.events[person_id] = merged
        self._times[person_id] = [e.at for e in merged]

    def between(self, person_id: int, first: datetime, last: datetime) -> list[Event]:
        """``person_id``'s events from ``first`` to ``last``, both included."""
        times = self._times.get(person_id, [])
        lo = bisect.bisect_left(times, first)
        hi = bisect.bisect_right(times, last)
        return self.events[person_id][lo:hi] if hi > lo else []

    def for_day(
        self,
        person_id: int,
        day: date,
        plan: Plan | None,
        zone: ZoneInfo,
        claimed: Collection[str] = (),
    ) -> tuple[Event, ...]:
        """The events of ``person_id``'s work day ``day``.

        With a plan, the punches and check-ins inside its windows; without, those of the local
        calendar day. ``claimed`` refs (the previous work day's picks) are left out, so a
        handover punch is never both one day's check-out and the next day's check-in. The day's
        manual corrections are always in.
        """
        if plan is not None:
            first, last = plan.reach
        else:
            first = datetime.combine(day, time(0), zone).astimezone(UTC)
            last = first + timedelta(days=1) - timedelta(microseconds=1)
        found = [e for e in self.between(person_id, first, last) if e.ref not in claimed]
        return (*found, *self.manual.get((person_id, day), ()))


def load_timeline(
    conn: Connection,
    person_ids: Collection[int],
    first_at: datetime,
    last_at: datetime,
    corrections: Iterable[Correction],
) -> Timeline:
    """The events of ``person_ids`` between ``first_at`` and ``last_at`` (UTC, both included).

    ``corrections`` supply the manual events (by work date) and the voids.
    """
    ids = sorted(set(person_ids))
    voids: set[str] = set()
    timeline = Timeline()
    manual: dict[tuple[int, date], list[Event]] = defaultdict(list)
    for c in corrections:
        if c.kind == "void" and c.void_ref is not None:
            voids.add(c.void_ref)
        elif c.at is not None and c.kind in ("add_in", "add_out"):
            event = Event(
                c.at, Source.MANUAL, f"manual:{c.id}", "in" if c.kind == "add_in" else "out"
            )
            manual[(c.person_id, c.work_date)].append(event)
    timeline.manual = dict(manual)
    found: dict[int, list[Event]] = defaultdict(list)
    for pid, event in _punches(conn, ids, first_at, last_at):
        if event.ref not in voids:
            found[pid].append(event)
    for part in chunks(ids):
        rows = conn.execute(
            select(checkin.c.id, checkin.c.person_id, checkin.c.server_time).where(
                checkin.c.person_id.in_(part),
                checkin.c.accepted,
                checkin.c.server_time.between(first_at, last_at),
            )
        )
        for r in rows:
            ref = f"android:{r.id}"
            if ref not in voids:
                found[r.person_id].append(Event(r.server_time, Source.ANDROID, ref))
    for pid, events in found.items():
        timeline.add(pid, events)
    return timeline


def _punches(
    conn: Connection, ids: list[int], first_at: datetime, last_at: datetime
) -> Iterable[tuple[int, Event]]:
    """Punches of ``ids``, each with the person who held its number at the time."""
    held: dict[str, list[tuple[datetime, datetime | None, int]]] = defaultdict(list)
    for part in chunks(ids):
        rows = conn.execute(
            select(
                person_number.c.number,
                person_number.c.person_id,
                person_number.c.valid_from,
                person_number.c.valid_to,
            ).where(person_number.c.person_id.in_(part), person_number.c.kind != "LEGACY")
        )
        for r in rows:
            held[r.number].append((r.valid_from, r.valid_to, r.person_id))
    for numbers in chunks(sorted(held)):
        rows = conn.execute(
            select(punch.c.device_id, punch.c.seq, punch.c.person, punch.c.at).where(
                punch.c.person.in_(numbers), punch.c.at.between(first_at, last_at)
            )
        )
        for r in rows:
            for valid_from, valid_to, pid in held[r.person]:
                if valid_from <= r.at and (valid_to is None or r.at < valid_to):
                    yield pid, Event(r.at, Source.FINGERPRINT, f"fp:{r.device_id}:{r.seq}")
                    break


@dataclass(frozen=True, slots=True)
class Watermark:
    """How complete a person's terminal evidence is.

    Attributes:
        has_terminal: Some terminal stands at one of the person's sites.
        complete_upto: The oldest ``complete_upto`` of those terminals; None if one has never
            reported its backlog complete.
    """

    has_terminal: bool
    complete_upto: datetime | None

    def at(self, now: datetime) -> datetime | None:
        """Evidence complete up to: the terminals' watermark, or ``now`` without a terminal."""
        if not self.has_terminal:
            return now
        return None if self.complete_upto is None else min(self.complete_upto, now)


NO_TERMINAL = Watermark(False, None)


def watermarks(conn: Connection, people: Sequence[tuple[int, int, bool]]) -> dict[int, Watermark]:
    """The :class:`Watermark` of each ``(person_id, unit_id, mobile_only)``.

    A person's sites are their linked active sites, else their unit's active sites (as for
    check-ins, :func:`central.registry.allowed_sites`). A mobile-only unit waits for no terminal.
    """
    active_by_unit: dict[int, list[str]] = defaultdict(list)
    active: set[str] = set()
    for s in conn.execute(select(site.c.id, site.c.unit_id).where(site.c.active)):
        active_by_unit[s.unit_id].append(s.id)
        active.add(s.id)
    per_site: dict[str, list[datetime | None]] = defaultdict(list)
    for d in conn.execute(
        select(device.c.site_id, device.c.complete_upto).where(device.c.site_id.is_not(None))
    ):
        per_site[d.site_id].append(d.complete_upto)
    linked: dict[int, list[str]] = defaultdict(list)
    for part in chunks(sorted({p for p, _, _ in people})):
        for r in conn.execute(select(person_site).where(person_site.c.person_id.in_(part))):
            if r.site_id in active:
                linked[r.person_id].append(r.site_id)
    result: dict[int, Watermark] = {}
    for pid, unit_id, mobile_only in people:
        if mobile_only:
            result[pid] = NO_TERMINAL
            continue
        marks = [m for s in linked.get(pid) or active_by_unit.get(unit_id, []) for m in per_site[s]]
        if not marks:
            result[pid] = NO_TERMINAL
        elif any(m is None for m in marks):
            result[pid] = Watermark(True, None)
        else:
            result[pid] = Watermark(True, min(m for m in marks if m is not None))
    return result


@dataclass(slots=True)
class Pings:
    """Location pings that can tell inside from outside, per person, by time."""

    rows: dict[int, list[tuple[datetime, bool]]] = field(default_factory=dict)

    def outside_minutes(self, person_id: int, plan: Plan) -> int:
        """Whole minutes (rounded down) outside every site between the plan's start and end."""
        pings = self.rows.get(person_id)
        if not pings:
            return 0
        times = [p[0] for p in pings]
        lo = bisect.bisect_left(times, plan.start)
        hi = bisect.bisect_right(times, plan.end)
        found = outside_intervals(pings[lo:hi], (plan.start, plan.end))
        return floor(sum(i.minutes for i in found))


def load_pings(
    conn: Connection, person_ids: Collection[int], first_at: datetime, last_at: datetime
) -> Pings:
    """The pings of ``person_ids`` in the span whose ``inside`` is known (others prove nothing)."""
    rows: dict[int, list[tuple[datetime, bool]]] = defaultdict(list)
    for part in chunks(sorted(set(person_ids))):
        for r in conn.execute(
            select(
                location_ping.c.person_id, location_ping.c.server_time, location_ping.c.inside
            ).where(
                location_ping.c.person_id.in_(part),
                location_ping.c.server_time.between(first_at, last_at),
                location_ping.c.inside.is_not(None),
            )
        ):
            rows[r.person_id].append((r.server_time, bool(r.inside)))
    return Pings({pid: sorted(items) for pid, items in rows.items()})
