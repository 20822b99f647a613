"""The monthly recap (rekap bulanan): LB.1 per unit and LB.2 per person, aggregated in SQL.

One statement per recap: the month's ``daily_status`` grouped by person and by the unit the
day belongs to (in two GROUP BY steps), joined to ``person``, ``unit`` and the number valid at
the end of the month, with the year's TK count and the longest run of consecutive TK working
days as grouped subqueries (a window function for the runs). Python only turns each aggregated
row into percentages and notes, so SQLite and PostgreSQL give the same rows (deductions are
summed as integer hundredths, never as floats). ``TK s.d. bulan ini`` and the run are the
person's, across units: a TK recorded in another unit moves this unit's row too.

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
import functools
import hashlib
import json
import re
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Select,
    and_,
    case,
    cast,
    false,
    func,
    insert,
    or_,
    select,
    text,
    true,
    update,
)

from central.identity import format_nip
from central.schema.attendance import daily_status, recap_run, ruleset
from central.schema.registry import person, person_number, unit

#: Western Indonesia Central Time (Asia/Makassar): UTC+8 all year, no daylight saving.
WITA = timezone(timedelta(hours=8), "WITA")
DL_CODES = ("DL", "DLD", "DIK", "WFH")
CUTI_CODES = ("CT", "CB", "CS", "CM", "CAP", "CLTN", "CBER")
IZIN_CODES = ("I", "IZ")
SAKIT_CODES = ("S",)
DEFAULT_MONTHLY_CAP = Decimal(100)
#: PP 94/2021 cumulative TK days per calendar year: (from, to, level). Warnings only.
PP94_THRESHOLDS: tuple[tuple[int, int | None, str], ...] = (
    (3, 3, "ringan"),
    (4, 6, "ringan"),
    (7, 10, "ringan"),
    (11, 13, "sedang"),
    (14, 16, "sedang"),
    (17, 20, "sedang"),
    (21, 24, "berat"),
    (25, 27, "berat"),
    (28, None, "berat"),
)
CONSECUTIVE_TK_ALERT = 10  # PP 94/2021 Pasal 11
MINUTES_PER_DAY = 450  # 7.5 h = one day of absence (Perba 6/2022, [UNCERTAIN] §3.4)
RUN_LOOKBACK_DAYS = 62  # a TK run reaching into the month is followed this far back
EMPLOYMENT_LABELS = {
    "PNS": "PNS",
    "CPNS": "CPNS",
    "PPPK": "PPPK",
    "PPPK_PW": "PPPK PW",
    "NON_ASN": "Non-ASN",
}
MONTHS_ID = (
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
)
_MONTH = re.compile(r"^((?:19|20|21)\d\d)-(0[1-9]|1[0-2])$")
_CENT = Decimal("0.01")


class RecapError(ValueError):
    """A recap that cannot be made or changed as asked (the message says why)."""


@dataclass(frozen=True, slots=True)
class Month:
    """A calendar month, written ``YYYY-MM``."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str | Month) -> Month:
        """``2026-11`` to a :class:`Month`.

        Raises:
            RecapError: Not a ``YYYY-MM`` month.
        """
        if isinstance(text, Month):
            return text
        m = _MONTH.fullmatch(text.strip())
        if m is None:
            raise RecapError(f"bulan {text!r} tidak valid, pakai YYYY-MM (month must be YYYY-MM)")
        return cls(int(m.group(1)), int(m.group(2)))

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def start(self) -> date:
        """The first day."""
        return date(self.year, self.month, 1)

    @property
    def end(self) -> date:
        """The first day of the next month (exclusive end)."""
        return date(self.year + self.month // 12, self.month % 12 + 1, 1)

    @property
    def label(self) -> str:
        """``November 2026``."""
        return f"{MONTHS_ID[self.month - 1]} {self.year}"


def pct(part: int, whole: int) -> Decimal | None:
    """``part / whole * 100`` to two decimals (half up); None when ``whole`` is 0."""
    if whole <= 0:
        return None
    return (Decimal(part * 100) / Decimal(whole)).quantize(_CENT, ROUND_HALF_UP)


@functools.lru_cache(maxsize=4096)
def pp94_warning(tk_ytd: int, year: int, employment_type: str) -> str:
    """The PP 94/2021 warning for ``tk_ytd`` TK days in ``year``: the level reached, the next.

    Args:
        tk_ytd: TK days this calendar year up to the end of the recap month.
        year: The calendar year.
        employment_type: ``person.employment_type``; outside PNS/CPNS the PNS thresholds are
            shown as a reference only (§3.4: PPPK discipline is [UNCERTAIN]).

    Returns:
        Empty for no TK; otherwise a short Bahasa text that never names a sanction.
    """
    if tk_ytd <= 0:
        return ""
    reached = [t for t in PP94_THRESHOLDS if tk_ytd >= t[0]]
    following = [t for t in PP94_THRESHOLDS if tk_ytd < t[0]]
    parts = [f"TK {year}: {tk_ytd} hari"]
    if reached:
        lo, hi, level = reached[-1]
        span = f"{lo}-{hi}" if hi is not None and hi != lo else (str(lo) if hi else f">={lo}")
        parts.append(f"ambang {level} PP 94/2021 ({span} hari)")
    if following:
        nxt = following[0][0]
        parts.append(f"ambang berikut {nxt} hari ({nxt - tk_ytd} hari lagi)")
    text = "; ".join(parts)
    if employment_type not in ("PNS", "CPNS"):
        text += " [acuan PNS]"
    return f"Peringatan: {text}"


@dataclass(frozen=True, slots=True)
class RecapRow:
    """One person's month in one unit (a row of LB.1). Minutes are whole minutes."""

    person_id: int
    number: str  # as displayed: 18 digits grouped 8-6-1-3, else as stored
    name: str
    status: str  # PNS / CPNS / PPPK / PPPK PW / Non-ASN
    unit_code: str
    unit_name: str
    hk: int
    h: int
    dl: int
    tl: tuple[int, int, int, int]
    tl_minutes: int
    psw: tuple[int, int, int, int]
    psw_minutes: int
    izin: int
    sakit: int
    cuti: int
    tk: int
    tk_ytd: int
    tk_run: int  # longest run of consecutive TK working days reaching into the month
    pct_hadir: Decimal | None  # H / HK * 100
    pct_hadir_dl: Decimal | None  # (H + DL/Tugas) / HK * 100
    potongan: Decimal  # sum of the daily deductions, capped
    potongan_raw: Decimal  # the same, uncapped
    outside_minutes: int
    pending: int
    corrected: int
    forgot_in: int
    forgot_out: int
    other: int  # scheduled days in no column (an unknown code): should be 0
    warning: str
    keterangan: str
    cuti_detail: dict[str, int] = field(default_factory=dict)

    @property
    def day_equivalent(self) -> Decimal:
        """TL + PSW minutes as days at 7.5 h (§3.4, [UNCERTAIN]: shown apart, labelled)."""
        return (Decimal(self.tl_minutes + self.psw_minutes) / MINUTES_PER_DAY).quantize(_CENT)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: decimals as strings with two places, tuples as lists."""
        out = {name: getattr(self, name) for name in _ROW_FIELDS}
        for name in _DECIMAL_FIELDS:
            value = out[name]
            out[name] = None if value is None else f"{value:.2f}"
        out["tl"], out["psw"] = list(self.tl), list(self.psw)
        out["cuti_detail"] = dict(sorted(self.cuti_detail.items()))
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RecapRow:
        """Back from :meth:`to_json` (a stored snapshot)."""
        kwargs = {name: data[name] for name in _ROW_FIELDS}
        for name in _DECIMAL_FIELDS:
            value = kwargs[name]
            kwargs[name] = None if value is None else Decimal(value)
        kwargs["tl"], kwargs["psw"] = tuple(kwargs["tl"]), tuple(kwargs["psw"])
        return cls(**kwargs)


_ROW_FIELDS = tuple(f.name for f in fields(RecapRow))
_DECIMAL_FIELDS = ("pct_hadir", "pct_hadir_dl", "potongan", "potongan_raw")


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

    def content(self) -> dict[str, Any]:
        """What the checksum covers and the snapshot stores."""
        return {
            "month": str(self.month),
            "unit_id": self.unit_id,
            "unit_code": self.unit_code,
            "unit_name": self.unit_name,
            "ruleset_versions": list(self.ruleset_versions),
            "calendar_versions": list(self.calendar_versions),
            "monthly_cap": f"{self.monthly_cap:.2f}",
            "deduction_base": self.deduction_base,
            "rows": [r.to_json() for r in self.rows],
        }

    def canonical(self) -> bytes:
        """The canonical JSON of :meth:`content` (sorted keys, no spaces, UTF-8)."""
        return canonical_json(self.content())

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


def canonical_json(obj: object) -> bytes:
    """Deterministic JSON bytes: the input of every recap checksum."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _n(cond: ColumnElement[bool]) -> ColumnElement[int]:
    # SUM(CASE ...) rather than COUNT(*) FILTER (...): as fast here, and any SQLite has it.
    return func.sum(case((cond, 1), else_=0))


def _day_unit() -> ColumnElement[int]:
    # The unit a day belongs to: as recorded with the day, else the person's current unit.
    return func.coalesce(daily_status.c.unit_id, person.c.unit_id)


def _month_filter(m: Month, unit_id: int | None, person_id: int | None) -> list[Any]:
    # The unit test is written without a join: a day names its unit, or (NULL) belongs to the
    # unit of its person, looked up only for such days.
    ds = daily_status
    where: list[Any] = [ds.c.work_date >= m.start, ds.c.work_date < m.end]
    if unit_id is not None:
        members = select(person.c.id).where(person.c.unit_id == unit_id)
        where.append(
            or_(
                ds.c.unit_id == unit_id,
                and_(ds.c.unit_id.is_(None), ds.c.person_id.in_(members)),
            )
        )
    if person_id is not None:
        where.append(ds.c.person_id == person_id)
    return where


def recap_query(m: Month, unit_id: int | None, person_id: int | None = None) -> Select[Any]:
    """The single SELECT of a month's recap rows (see the module docstring)."""
    ds, p = daily_status, person
    # Two steps. First the month's days grouped by everything the columns depend on (a plain
    # GROUP BY with sums, no CASE per day, no join); a person has a dozen or so such groups.
    # Then the columns as sums over those groups, so the CASE pivots run on about a third of
    # the rows, grouped by the day's unit (a NULL unit is the person's).
    flags = [ds.c[k] for k in ("status", "code", "scheduled", "tl", "psw", "corrected")]
    flags += [ds.c.forgot_in, ds.c.forgot_out]
    pre = (
        select(
            ds.c.person_id,
            ds.c.unit_id,
            *flags,
            func.count().label("n"),
            func.sum(ds.c.late_minutes).label("late"),
            func.sum(ds.c.early_minutes).label("early"),
            func.sum(ds.c.outside_minutes).label("outside"),
            func.sum(cast(func.round(ds.c.deduction_pct * 100), Integer)).label("cents"),
        )
        .where(*_month_filter(m, unit_id, person_id))
        .group_by(ds.c.person_id, ds.c.unit_id, *flags)
        .subquery("pre")
    )
    g = pre.c

    def total(value: ColumnElement[Any]) -> ColumnElement[int]:
        # PostgreSQL's SUM of a BIGINT is NUMERIC: back to an integer, as on SQLite.
        return cast(func.sum(value), Integer)

    sched, st, code = g.scheduled == true(), g.status, g.code
    absent = and_(sched, st == "ABSEN")

    def days(cond: ColumnElement[bool]) -> ColumnElement[int]:
        return total(case((cond, g.n), else_=0))

    day_unit = func.coalesce(g.unit_id, p.c.unit_id)
    agg = (
        select(
            g.person_id,
            day_unit.label("day_unit"),
            days(sched).label("hk"),
            days(and_(sched, st == "HADIR", or_(code.is_(None), code.not_in(DL_CODES)))).label("h"),
            days(and_(sched, st.in_(("HADIR", "ABSEN")), code.in_(DL_CODES))).label("dl"),
            *[days(g.tl == f"TL{k}").label(f"tl{k}") for k in range(1, 5)],
            total(g.late).label("tl_minutes"),
            *[days(g.psw == f"PSW{k}").label(f"psw{k}") for k in range(1, 5)],
            total(g.early).label("psw_minutes"),
            days(and_(absent, code.in_(IZIN_CODES))).label("izin"),
            days(and_(absent, code.in_(SAKIT_CODES))).label("sakit"),
            *[days(and_(absent, code == c)).label(f"c_{c}") for c in CUTI_CODES],
            days(and_(sched, st == "TK")).label("tk"),
            days(st == "PENDING").label("pending"),
            days(and_(sched, st == "PENDING")).label("pending_sched"),
            days(g.corrected == true()).label("corrected"),
            days(g.forgot_in == true()).label("forgot_in"),
            days(g.forgot_out == true()).label("forgot_out"),
            total(g.outside).label("outside_minutes"),
            total(g.cents).label("ded_cents"),
        )
        .select_from(pre.join(p, p.c.id == g.person_id))
        .group_by(g.person_id, day_unit)
        .subquery("agg")
    )
    sched, st = ds.c.scheduled == true(), ds.c.status
    # The people of the recap, for the year-to-date and run subqueries (which read their days
    # in every unit): joined as a CTE, which PostgreSQL hashes once, where an IN (subquery)
    # became a nested loop per row.
    scope: Any = ds
    only: list[Any] = [] if person_id is None else [ds.c.person_id == person_id]
    if person_id is None and unit_id is not None:
        people = (
            select(ds.c.person_id).distinct().where(*_month_filter(m, unit_id, None)).cte("people")
        )
        scope = ds.join(people, people.c.person_id == ds.c.person_id)
    jan1 = date(m.year, 1, 1)
    ytd = (
        select(ds.c.person_id, func.count().label("tk_ytd"))
        .select_from(scope)
        .where(ds.c.status == "TK", sched, ds.c.work_date >= jan1, ds.c.work_date < m.end, *only)
        .group_by(ds.c.person_id)
        .subquery("ytd")
    )
    # Runs of TK over scheduled days (holidays and weekends do not break a run): every TK day
    # of one run has the same latest non-TK scheduled day before it. One window, in the order
    # of the primary key (person_id, work_date), so neither database needs to sort.
    # Only people with a TK day this month (in any unit) can have a run reaching into it.
    absent_now = (
        select(ds.c.person_id)
        .distinct()
        .select_from(scope)
        .where(ds.c.work_date >= m.start, ds.c.work_date < m.end, st == "TK", sched, *only)
        .cte("absent_now")
    )
    is_tk = case((st == "TK", 1), else_=0)
    ordered = (
        select(
            ds.c.person_id,
            ds.c.work_date,
            is_tk.label("is_tk"),
            func.max(case((st != "TK", ds.c.work_date), else_=None))
            .over(partition_by=ds.c.person_id, order_by=ds.c.work_date)
            .label("grp"),
        )
        .select_from(ds.join(absent_now, absent_now.c.person_id == ds.c.person_id))
        .where(sched, ds.c.work_date >= m.start - timedelta(days=RUN_LOOKBACK_DAYS))
        .where(ds.c.work_date < m.end, *only)
        .subquery("ordered")
    )
    islands = (
        select(
            ordered.c.person_id,
            func.count().label("length"),
            func.max(ordered.c.work_date).label("last_day"),
        )
        .where(ordered.c.is_tk == 1)
        .group_by(ordered.c.person_id, ordered.c.grp)
        .subquery("islands")
    )
    runs = (
        select(islands.c.person_id, func.max(islands.c.length).label("tk_run"))
        .where(islands.c.last_day >= m.start)
        .group_by(islands.c.person_id)
        .subquery("runs")
    )
    pn = person_number
    at = datetime.combine(m.end, datetime.min.time(), WITA).astimezone(UTC)
    valid_at_end = and_(pn.c.valid_from < at, or_(pn.c.valid_to.is_(None), pn.c.valid_to >= at))
    number = (
        select(pn.c.number)
        .where(pn.c.person_id == agg.c.person_id, pn.c.kind != "LEGACY")
        .order_by(case((valid_at_end, 0), else_=1), pn.c.valid_from.desc(), pn.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return select(
        agg,
        p.c.name,
        p.c.employment_type,
        unit.c.code.label("unit_code"),
        unit.c.name.label("unit_name"),
        func.coalesce(ytd.c.tk_ytd, 0).label("tk_ytd"),
        func.coalesce(runs.c.tk_run, 0).label("tk_run"),
        number.label("number"),
    ).select_from(
        agg.join(p, p.c.id == agg.c.person_id)
        .outerjoin(unit, unit.c.id == agg.c.day_unit)
        .outerjoin(ytd, ytd.c.person_id == agg.c.person_id)
        .outerjoin(runs, runs.c.person_id == agg.c.person_id)
    )


def _keterangan(r: dict[str, Any], cap: Decimal, raw: Decimal, capped: Decimal) -> str:
    notes: list[str] = []
    if r["tk_run"] >= CONSECUTIVE_TK_ALERT:
        notes.append(
            f"TK {r['tk_run']} hari kerja berturut-turut (PP 94/2021 Pasal 11, peringatan)"
        )
    elif r["tk_run"] >= 2:
        notes.append(f"TK berturut-turut terlama {r['tk_run']} hari")
    if r["pending"]:
        notes.append(f"{r['pending']} hari PENDING (belum final)")
    if r["corrected"]:
        notes.append(f"koreksi manual {r['corrected']}x")
    if r["forgot_in"] or r["forgot_out"]:
        notes.append(f"lupa absen masuk {r['forgot_in']}x, pulang {r['forgot_out']}x")
    if raw > capped:
        notes.append(f"potongan dibatasi {cap:.2f}% (jumlah harian {raw:.2f}%)")
    if r["other"]:
        notes.append(f"{r['other']} hari kerja dengan kode tak dikenal")
    return "; ".join(notes)


def _row(r: dict[str, Any], year: int, cap: Decimal) -> RecapRow:
    cuti_detail = {c: int(r[f"c_{c}"]) for c in CUTI_CODES if r[f"c_{c}"]}
    cuti = sum(cuti_detail.values())
    counted = r["h"] + r["dl"] + r["izin"] + r["sakit"] + cuti + r["tk"] + r["pending_sched"]
    r["other"] = r["hk"] - counted
    raw = Decimal(int(r["ded_cents"] or 0)) / 100
    capped = min(raw, cap)
    number = r["number"] or ""
    return RecapRow(
        person_id=r["person_id"],
        number=format_nip(number) if number.isdigit() else number,
        name=r["name"],
        status=EMPLOYMENT_LABELS.get(r["employment_type"], r["employment_type"]),
        unit_code=r["unit_code"] or "",
        unit_name=r["unit_name"] or "",
        hk=r["hk"],
        h=r["h"],
        dl=r["dl"],
        tl=(r["tl1"], r["tl2"], r["tl3"], r["tl4"]),
        tl_minutes=int(r["tl_minutes"] or 0),
        psw=(r["psw1"], r["psw2"], r["psw3"], r["psw4"]),
        psw_minutes=int(r["psw_minutes"] or 0),
        izin=r["izin"],
        sakit=r["sakit"],
        cuti=cuti,
        tk=r["tk"],
        tk_ytd=r["tk_ytd"],
        tk_run=r["tk_run"],
        pct_hadir=pct(r["h"], r["hk"]),
        pct_hadir_dl=pct(r["h"] + r["dl"], r["hk"]),
        potongan=capped.quantize(_CENT),
        potongan_raw=raw.quantize(_CENT),
        outside_minutes=int(r["outside_minutes"] or 0),
        pending=r["pending"],
        corrected=r["corrected"],
        forgot_in=r["forgot_in"],
        forgot_out=r["forgot_out"],
        other=r["other"],
        warning=pp94_warning(r["tk_ytd"], year, r["employment_type"]),
        keterangan=_keterangan(r, cap, raw, capped),
        cuti_detail=cuti_detail,
    )


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
    if conn.dialect.name == "postgresql":
        # PostgreSQL's JIT would spend longer compiling this one statement than running it
        # (1.4 of 2.0 s for 2,000 people in bench/bench_recap.py); off for this transaction.
        conn.execute(text("SET LOCAL jit = off"))
    result = conn.execute(recap_query(m, unit_id, person_id)).mappings()
    rows = [_row(dict(r), m.year, monthly_cap) for r in result]
    rows.sort(key=lambda r: (r.unit_code, r.name.casefold(), r.number, r.person_id))
    return rows


def month_versions(
    conn: Connection, month: str | Month, unit_id: int | None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The rule-set and calendar versions the month's daily statuses were computed with."""
    m = Month.parse(month)
    ds = daily_status
    found = conn.execute(
        select(ds.c.ruleset_version, ds.c.calendar_version)
        .where(*_month_filter(m, unit_id, None))
        .distinct()
    ).all()
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
    rulesets, calendars = month_versions(conn, m, unit_id)
    cap, base = configured_deductions(conn, rulesets)
    if monthly_cap is not None:
        cap = monthly_cap
    recap = Recap(
        month=m,
        unit_id=unit_id,
        unit_code=code,
        unit_name=name,
        rows=recap_rows(conn, m, unit_id, monthly_cap=cap),
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
        RecapError: Already finalised, no data, PENDING days left, or a reviewed checksum that
            no longer matches.
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
            ds.join(person, person.c.id == ds.c.person_id).outerjoin(unit, unit.c.id == _day_unit())
        )
        .where(*_month_filter(m, None, person_id))
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
