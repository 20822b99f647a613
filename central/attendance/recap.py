"""The monthly recap (rekap bulanan): LB.1 per unit and LB.2 per person, aggregated in SQL.

One statement per recap (:mod:`central.attendance.recap_sql`): the month's ``daily_status``
grouped by person and by the unit the day belongs to, joined to ``person``, ``unit`` and the
number valid at the end of the month, with the year's TK count and the longest run of
consecutive TK working days. Python only turns each aggregated row into percentages and notes
(:mod:`central.attendance.recap_rows`), so SQLite and PostgreSQL give the same rows
(deductions are summed as integer hundredths, never as floats). ``TK s.d. bulan ini`` and the
run are the person's, across units: a TK recorded in another unit moves this unit's row too.

Counting (domain-id.md §4.4, §7): HK = scheduled days; H = HADIR without an assignment code;
DL/Tugas = DL, DLD, DIK, WFH (present, shown apart); I, S, C = approved absences on scheduled
days (C = every cuti code, broken down per code); TK = absent without notice. The year-to-date
TK and the next PP 94/2021 threshold (§3.4) are *warnings*: sanctions are decided by an
official after examination, never by this program.

Reproducibility: :func:`snapshot` stores the rows with the rule-set and calendar versions in
``recap_run`` under the sha256 of their canonical JSON; :func:`finalize` freezes one. A
finalised month is served from its snapshot, and recomputing it to different numbers is
reported as :class:`FinalizedDrift` ("finalised month differs (checksum X vs Y)"), never
silently replaced.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    cast,
    false,
    func,
    insert,
    select,
    text,
    true,
    update,
)

from central.attendance.recap_model import (
    CONSECUTIVE_TK_ALERT,
    CUTI_CODES,
    DEFAULT_MONTHLY_CAP,
    DL_CODES,
    EMPLOYMENT_LABELS,
    IZIN_CODES,
    MINUTES_PER_DAY,
    MONTHS_ID,
    PP94_THRESHOLDS,
    RUN_LOOKBACK_DAYS,
    SAKIT_CODES,
    WITA,
    Month,
    RecapError,
    RecapRow,
    canonical_json,
    pct,
    pp94_warning,
)
from central.attendance.recap_month import differences
from central.attendance.recap_rows import build_rows, canonical_rows, merge
from central.attendance.recap_sql import month_filter, recap_query, versions_query
from central.schema.attendance import daily_status, recap_run, ruleset
from central.schema.registry import person, unit

__all__ = [
    "CONSECUTIVE_TK_ALERT",
    "CUTI_CODES",
    "DEFAULT_MONTHLY_CAP",
    "DL_CODES",
    "EMPLOYMENT_LABELS",
    "IZIN_CODES",
    "MINUTES_PER_DAY",
    "MONTHS_ID",
    "PP94_THRESHOLDS",
    "RUN_LOOKBACK_DAYS",
    "SAKIT_CODES",
    "WITA",
    "DayRow",
    "FinalizedDrift",
    "Month",
    "PersonRecap",
    "Recap",
    "RecapError",
    "RecapRow",
    "canonical_json",
    "compute",
    "configured_deductions",
    "finalize",
    "load",
    "month_versions",
    "pct",
    "person_recap",
    "pp94_warning",
    "recap_query",
    "recap_rows",
    "snapshot",
]


@dataclass(slots=True)
class Recap:
    """A month's recap of one unit (or of every unit when ``unit_id`` is None).

    ``checksum`` is the sha256 of :meth:`canonical`: the rows, the versions and the cap, not
    the time it was computed. ``run_id``/``finalized_*`` are set when it comes from, or was
    stored as, a ``recap_run``; ``drift`` holds the "finalised month differs" message when a
    finalised snapshot no longer matches the data.
    """

    month: Month
    unit_id: int | None
    unit_code: str
    unit_name: str
    rows: list[RecapRow]
    ruleset_versions: tuple[str, ...]
    calendar_versions: tuple[str, ...]
    monthly_cap: Decimal
    deduction_base: str
    computed_at: datetime
    checksum: str = ""
    run_id: int | None = None
    finalized_by: str | None = None
    finalized_at: datetime | None = None
    drift: str | None = None

    def content(self, *, rows: bool = True) -> dict[str, Any]:
        """What the checksum covers and the snapshot stores (without ``rows``: all but those)."""
        out: dict[str, Any] = {
            "month": str(self.month),
            "unit_id": self.unit_id,
            "unit_code": self.unit_code,
            "unit_name": self.unit_name,
            "ruleset_versions": list(self.ruleset_versions),
            "calendar_versions": list(self.calendar_versions),
            "monthly_cap": f"{self.monthly_cap:.2f}",
            "deduction_base": self.deduction_base,
        }
        if rows:
            out["rows"] = [r.to_json() for r in self.rows]
        return out

    def canonical(self) -> bytes:
        """The canonical JSON of :meth:`content` (sorted keys, no spaces, UTF-8).

        The same bytes as ``canonical_json(self.content())``; the rows, nearly all of it, are
        written by :func:`central.attendance.recap_rows.canonical_rows`.
        """
        parts = {
            key: canonical_json(value).decode() for key, value in self.content(rows=False).items()
        }
        parts["rows"] = canonical_rows(self.rows)
        return ("{" + ",".join(f"{json.dumps(k)}:{parts[k]}" for k in sorted(parts)) + "}").encode()

    def to_json(self) -> dict[str, Any]:
        """The API's JSON body: the content plus checksum, times and finalisation."""
        return {
            **self.content(),
            "checksum": self.checksum,
            "computed_at": self.computed_at.isoformat(),
            "run_id": self.run_id,
            "finalized": self.finalized_at is not None,
            "finalized_by": self.finalized_by,
            "finalized_at": self.finalized_at.isoformat() if self.finalized_at else None,
            "drift": self.drift,
        }


def recap_rows(
    conn: Connection,
    month: str | Month,
    unit_id: int | None,
    *,
    person_id: int | None = None,
    monthly_cap: Decimal = DEFAULT_MONTHLY_CAP,
) -> list[RecapRow]:
    """The recap rows of a month, sorted by unit, name and number.

    Args:
        conn: The central database.
        month: ``YYYY-MM``.
        unit_id: One unit, or None for every unit.
        person_id: Only this person (LB.2's summary).
        monthly_cap: The ceiling of the month's deduction, in percent.
    """
    m = Month.parse(month)
    found, _, _ = _fetch(conn, m, unit_id, person_id)
    return _sorted(build_rows(found, m.year, monthly_cap))


def _sorted(rows: list[RecapRow]) -> list[RecapRow]:
    rows.sort(key=lambda r: (r.unit_code, r.name.casefold(), r.number, r.person_id))
    return rows


def _fetch(
    conn: Connection, m: Month, unit_id: int | None, person_id: int | None
) -> tuple[list[Sequence[Any]], tuple[str, ...], tuple[str, ...]]:
    # The recap statement's rows, one per person and unit, and the month's versions.
    if conn.dialect.name == "postgresql":
        # PostgreSQL's JIT would spend longer compiling this one statement than running it
        # (1.4 of 2.0 s for 2,000 people in bench/bench_recap.py); off for this transaction.
        conn.execute(text("SET LOCAL jit = off"))
    return merge(conn.execute(recap_query(m, unit_id, person_id)))


def month_versions(
    conn: Connection, month: str | Month, unit_id: int | None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The rule-set and calendar versions the month's daily statuses were computed with."""
    found = conn.execute(versions_query(Month.parse(month), unit_id)).all()
    return tuple(sorted({r[0] for r in found})), tuple(sorted({r[1] for r in found}))


def _find(body: Any, key: str) -> Any:
    if isinstance(body, dict):
        if key in body:
            return body[key]
        for sub in ("deductions", "deduction", "potongan"):
            if isinstance(body.get(sub), dict) and key in body[sub]:
                return body[sub][key]
    return None


def configured_deductions(conn: Connection, versions: tuple[str, ...]) -> tuple[Decimal, str]:
    """The monthly cap and the deduction base from the rule sets' JSON bodies.

    A body may carry ``monthly_cap`` and ``base`` at the top or under ``deductions``. With
    several versions in one month the lowest cap wins; absent or unreadable: 100 and "".
    """
    caps: list[Decimal] = []
    bases: list[str] = []
    if versions:
        bodies = conn.execute(select(ruleset.c.body).where(ruleset.c.version.in_(versions)))
        for (text,) in bodies:
            try:
                body = json.loads(text)
            except ValueError:
                continue
            cap, base = _find(body, "monthly_cap"), _find(body, "base")
            if isinstance(cap, int | float | str) and not isinstance(cap, bool):
                with contextlib.suppress(ArithmeticError):
                    caps.append(Decimal(str(cap)))
            if isinstance(base, str) and base not in bases:
                bases.append(base)
    return (min(caps) if caps else DEFAULT_MONTHLY_CAP), ", ".join(sorted(bases))


# --- snapshots and finalisation ---------------------------------------------------------------


class FinalizedDrift(RecapError):
    """A finalised month whose data now gives other numbers.

    Attributes:
        stored: The checksum signed at finalisation.
        current: The checksum of the month recomputed now.
    """

    def __init__(self, month: Month, unit_code: str, stored: str, current: str) -> None:
        self.stored = stored
        self.current = current
        super().__init__(
            f"rekap {month} {unit_code} sudah final, tetapi data sekarang memberi angka lain "
            f"(finalised month differs (checksum {stored} vs {current}))"
        )


def _unit(conn: Connection, unit_id: int, *, lock: bool = False) -> tuple[str, str]:
    q = select(unit.c.code, unit.c.name).where(unit.c.id == unit_id)
    found = conn.execute(q.with_for_update() if lock else q).first()
    if found is None:
        raise RecapError(f"unit {unit_id} tidak ada (no such unit)")
    return found.code, found.name


def compute(
    conn: Connection,
    month: str | Month,
    unit_id: int | None,
    *,
    monthly_cap: Decimal | None = None,
    now: datetime | None = None,
) -> Recap:
    """The month recomputed from ``daily_status`` now, without storing anything.

    Args:
        conn: The central database.
        month: ``YYYY-MM``.
        unit_id: One unit, or None for every unit (a city-wide LB.1; not storable).
        monthly_cap: Overrides the rule sets' cap (default: theirs, else 100).
        now: The computation time (UTC).
    """
    m = Month.parse(month)
    code, name = _unit(conn, unit_id) if unit_id is not None else ("", "Semua unit kerja")
    found, rulesets, calendars = _fetch(conn, m, unit_id, None)
    cap, base = configured_deductions(conn, rulesets)
    if monthly_cap is not None:
        cap = monthly_cap
    recap = Recap(
        month=m,
        unit_id=unit_id,
        unit_code=code,
        unit_name=name,
        rows=_sorted(build_rows(found, m.year, cap)),
        ruleset_versions=rulesets,
        calendar_versions=calendars,
        monthly_cap=cap,
        deduction_base=base,
        computed_at=now or datetime.now(UTC),
    )
    recap.checksum = hashlib.sha256(recap.canonical()).hexdigest()
    return recap


def _from_run(run: Any) -> Recap:
    data = json.loads(run.rows)
    return Recap(
        month=Month.parse(data["month"]),
        unit_id=data["unit_id"],
        unit_code=data["unit_code"],
        unit_name=data["unit_name"],
        rows=[RecapRow.from_json(r) for r in data["rows"]],
        ruleset_versions=tuple(data["ruleset_versions"]),
        calendar_versions=tuple(data["calendar_versions"]),
        monthly_cap=Decimal(data["monthly_cap"]),
        deduction_base=data["deduction_base"],
        computed_at=run.computed_at,
        checksum=run.checksum,
        run_id=run.id,
        finalized_by=run.finalized_by if run.finalized else None,
        finalized_at=run.finalized_at if run.finalized else None,
    )


def _latest(conn: Connection, m: Month, unit_id: int, *, finalized: bool) -> Any:
    return conn.execute(
        select(recap_run)
        .where(recap_run.c.month == str(m), recap_run.c.unit_id == unit_id)
        .where(recap_run.c.finalized == (true() if finalized else false()))
        .order_by(recap_run.c.id.desc())
        .limit(1)
    ).first()


def _joined(versions: tuple[str, ...]) -> str:
    text = "+".join(versions)
    return text if len(text) <= 64 else text[:61] + "..."  # the full list is in the rows JSON


def load(
    conn: Connection,
    month: str | Month,
    unit_id: int | None,
    *,
    monthly_cap: Decimal | None = None,
    verify: bool = True,
    now: datetime | None = None,
) -> Recap:
    """The recap to show or export: a finalised month from its snapshot, else computed now.

    With ``verify`` a finalised month is recomputed as well and, if the numbers moved, the
    snapshot comes back with :attr:`Recap.drift` set (the signed numbers are still what is
    shown). Nothing is written.
    """
    m = Month.parse(month)
    if unit_id is not None:
        final = _latest(conn, m, unit_id, finalized=True)
        if final is not None:
            recap = _from_run(final)
            if verify:
                fresh = compute(conn, m, unit_id, monthly_cap=monthly_cap, now=now)
                if fresh.checksum != recap.checksum:
                    recap.drift = str(
                        FinalizedDrift(m, recap.unit_code, recap.checksum, fresh.checksum)
                    )
            return recap
    return compute(conn, m, unit_id, monthly_cap=monthly_cap, now=now)


def snapshot(
    conn: Connection,
    month: str | Month,
    unit_id: int,
    *,
    monthly_cap: Decimal | None = None,
    now: datetime | None = None,
) -> Recap:
    """Recompute the month and keep it as a draft ``recap_run`` (reused when unchanged).

    Raises:
        FinalizedDrift: The month is finalised and now computes differently.
        RecapError: No such unit.
    """
    m = Month.parse(month)
    _unit(conn, unit_id, lock=True)  # one snapshot or finalisation of a unit at a time
    fresh = compute(conn, m, unit_id, monthly_cap=monthly_cap, now=now)
    final = _latest(conn, m, unit_id, finalized=True)
    if final is not None:
        if final.checksum != fresh.checksum:
            raise FinalizedDrift(m, fresh.unit_code, final.checksum, fresh.checksum)
        return _from_run(final)
    draft = _latest(conn, m, unit_id, finalized=False)
    if draft is not None and draft.checksum == fresh.checksum:
        return _from_run(draft)
    fresh.run_id = conn.execute(
        insert(recap_run)
        .values(
            month=str(m),
            unit_id=unit_id,
            ruleset_version=_joined(fresh.ruleset_versions),
            calendar_version=_joined(fresh.calendar_versions),
            computed_at=fresh.computed_at,
            checksum=fresh.checksum,
            rows=fresh.canonical().decode(),
        )
        .returning(recap_run.c.id)
    ).scalar_one()
    return fresh


def finalize(
    conn: Connection,
    month: str | Month,
    unit_id: int,
    by: str,
    *,
    checksum: str | None = None,
    monthly_cap: Decimal | None = None,
    now: datetime | None = None,
) -> Recap:
    """Freeze the month of a unit: its snapshot becomes the recap that pay is computed from.

    Args:
        conn: The central database (inside a transaction).
        month: ``YYYY-MM``.
        unit_id: The unit.
        by: Who finalises (recorded).
        checksum: The checksum of the draft that was reviewed; refused if the month now
            computes to anything else.
        monthly_cap: As for :func:`compute`.
        now: The finalisation time (UTC).

    Raises:
        RecapError: Already finalised, monthly totals that differ from the days, no data,
            PENDING days left, or a reviewed checksum that no longer matches.
        FinalizedDrift: Never here (a finalised month is refused first); see :func:`snapshot`.
    """
    m = Month.parse(month)
    at = now or datetime.now(UTC)
    if not by.strip():
        raise RecapError("isi nama yang memfinalkan (who finalises is required)")
    code, _ = _unit(conn, unit_id, lock=True)
    final = _latest(conn, m, unit_id, finalized=True)
    if final is not None:
        raise RecapError(
            f"rekap {m} {code} sudah final oleh {final.finalized_by} pada "
            f"{final.finalized_at:%Y-%m-%d %H:%M} UTC (already finalised)"
        )
    wrong = differences(conn, m, unit_id)
    if wrong:
        # The totals the recap reads disagree with the days they are kept from (a restore of
        # one table, a hand edit): nothing that pay depends on is signed until they agree.
        raise RecapError(
            f"total bulanan {m} {code} tidak cocok dengan status harian ({len(wrong)} selisih); "
            f"jalankan 'hadir-central recap rebuild --month {m}' lalu periksa lagi "
            f"(monthly totals differ from the daily status: {wrong[0]})"
        )
    recap = snapshot(conn, m, unit_id, monthly_cap=monthly_cap, now=at)
    if not recap.rows:
        raise RecapError(f"tidak ada status harian {m} untuk {code} (no daily status)")
    pending = sum(r.pending for r in recap.rows)
    if pending:
        raise RecapError(f"masih ada {pending} hari PENDING di {m} {code} (days still pending)")
    if checksum is not None and checksum != recap.checksum:
        raise RecapError(
            f"data {m} {code} berubah sejak draf diperiksa "
            f"(month changed since the reviewed draft (checksum {checksum} vs {recap.checksum}))"
        )
    conn.execute(
        update(recap_run)
        .where(recap_run.c.id == recap.run_id)
        .values(finalized=True, finalized_by=by.strip(), finalized_at=at)
    )
    recap.finalized_by, recap.finalized_at = by.strip(), at
    return recap


# --- LB.2: one person's days ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DayRow:
    """One day of a person (a row of LB.2); times are UTC, shown in WITA by the exports."""

    work_date: date
    unit_code: str
    status: str
    code: str | None
    scheduled: bool
    check_in: datetime | None
    check_out: datetime | None
    in_source: str | None
    out_source: str | None
    late_minutes: int
    tl: str | None
    early_minutes: int
    psw: str | None
    forgot_in: bool
    forgot_out: bool
    outside_minutes: int
    deduction: Decimal
    corrected: bool
    note: str
    ruleset_version: str
    calendar_version: str


@dataclass(slots=True)
class PersonRecap:
    """LB.2: a person's month, its summary row per unit, and the days."""

    month: Month
    person_id: int
    rows: list[RecapRow]
    days: list[DayRow]
    drift: list[str] = field(default_factory=list)
    finalized: list[str] = field(default_factory=list)  # units whose month is finalised


def person_recap(
    conn: Connection, month: str | Month, person_id: int, *, monthly_cap: Decimal | None = None
) -> PersonRecap:
    """LB.2 for one person: the summary row(s) and every day of the month.

    Where the unit's month is finalised, the summary row is the snapshot's and any difference
    from the data now is listed in :attr:`PersonRecap.drift`.
    """
    m = Month.parse(month)
    ds = daily_status
    days = conn.execute(
        select(
            ds,
            func.coalesce(unit.c.code, "").label("unit_code"),
            cast(func.round(ds.c.deduction_pct * 100), Integer).label("ded_cents"),
        )
        .select_from(
            ds.join(person, person.c.id == ds.c.person_id).outerjoin(
                unit, unit.c.id == func.coalesce(ds.c.unit_id, person.c.unit_id)
            )
        )
        .where(*month_filter(m, None, person_id))
        .order_by(ds.c.work_date)
    ).mappings()
    day_rows = [
        DayRow(
            **{f.name: d[f.name] for f in fields(DayRow) if f.name != "deduction"},
            deduction=Decimal(int(d["ded_cents"])) / 100,
        )
        for d in days
    ]
    if monthly_cap is None:
        monthly_cap, _ = configured_deductions(conn, month_versions(conn, m, None)[0])
    out = PersonRecap(m, person_id, [], day_rows)
    for row in recap_rows(conn, m, None, person_id=person_id, monthly_cap=monthly_cap):
        uid = conn.execute(select(unit.c.id).where(unit.c.code == row.unit_code)).scalar()
        final = _latest(conn, m, uid, finalized=True) if uid is not None else None
        signed = None
        if final is not None:
            out.finalized.append(row.unit_code)
            stored = json.loads(final.rows)["rows"]
            signed = next((r for r in stored if r["person_id"] == person_id), None)
        if signed is not None and signed != row.to_json():
            out.drift.append(f"{row.unit_code}: finalised month differs for this person")
        out.rows.append(RecapRow.from_json(signed) if signed is not None else row)
    return out
