"""The attendance rule set: every rule the daily status applies, as a frozen, versioned value.

The defaults are domain-id.md §10. Every number marked [KUPANG-CONFIRM] there is a field here, so
BKPPD's answer is a new rule-set version, not a code change.

Storage: one ``ruleset`` row per version. The body is the canonical JSON of :meth:`RuleSet.to_json`
(sorted keys, no spaces), and the version is ``<label>@<hash>`` where ``hash`` is the first 12 hex
digits of the body's SHA-256. A stored body edited in place no longer matches its version, and
:func:`load_rulesets` refuses it: a month already computed with a version must be reproducible
from that version. The rule set in force on a day is the row with the latest ``active_from`` not
after that day.

The JSON groups the fields like §10 (``schedule``, ``deductions``, ``absences``, ``calendar``),
and ``deductions.monthly_cap`` / ``deductions.base`` are where the monthly recap reads them.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, insert, select

from central.schema.attendance import ABSENCE_CODES, HOLIDAY_CATEGORIES, ruleset
from central.schema.registry import EMPLOYMENT_TYPES

FORMAT = 1
#: ``active_from`` of the default rule set written by :func:`ensure_ruleset` on an empty table.
DEFAULT_ACTIVE_FROM = date(2000, 1, 1)
HASH_DIGITS = 12


class RuleSetError(ValueError):
    """A rule set that does not make sense, cannot be read, or was edited after it was stored."""


class PunchPick(StrEnum):
    """Which events become the day's check-in and check-out (§2.2, §6.4)."""

    EARLIEST_IN_LATEST_OUT = "earliest_in_latest_out"
    FIRST_RECORD = "first_record"  # ANRI 18/2016: the first record in each window


@dataclass(frozen=True, slots=True)
class Band:
    """One TL or PSW category: ``min_minutes``..``max_minutes`` inclusive (None: no upper end)."""

    code: str
    min_minutes: int
    max_minutes: int | None
    pct: Decimal

    def holds(self, minutes: int) -> bool:
        """Whether ``minutes`` falls in this band."""
        return self.min_minutes <= minutes and (
            self.max_minutes is None or minutes <= self.max_minutes
        )


def _bands(prefix: str) -> tuple[Band, ...]:
    # Variant A of §3.1 (the most common): 1-30, 31-60, 61-90, 91+.
    limits = ((1, 30, "0.5"), (31, 60, "1.0"), (61, 90, "1.25"), (91, None, "1.5"))
    return tuple(
        Band(f"{prefix}{i}", lo, hi, Decimal(pct)) for i, (lo, hi, pct) in enumerate(limits, 1)
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleSet:
    """Every rule of the daily status. Times are local (``timezone``) wall-clock times.

    Attributes:
        timezone: IANA zone of the schedules and windows (WITA, no daylight saving).
        checkin_window: Where a check-in may lie on a weekly (five/six-day) schedule.
        checkout_window: Where a check-out may lie.
        window_margin_min: Both windows stretch to contain the day's start and end and to reach
            this far past the start and before the end, so a short or afternoon schedule keeps
            TL1-3 and PSW1-3 reachable (the default windows already do for 07:30-16:00).
        ramadan: Switch to a schedule's Ramadan table on the days of a ``ramadan_period``.
        ramadan_checkin_window: The check-in window on a Ramadan table.
        ramadan_checkout_window: The check-out window on a Ramadan table (§10: "shift earlier",
            opening at least 91 minutes before the 15:00 end so PSW1-3 stay reachable).
        shift_checkin_window_min: A roster shift's check-in window, minutes relative to its start.
        shift_checkout_window_min: Its check-out window, minutes relative to its end.
        late_grace_s: Seconds after the start still on time; 59 is ANRI's "late after 07:30:59"
            and gives ``floor`` minutes (§3.1).
        early_grace_s: Seconds before the end still not early; 0 gives ``ceil`` minutes (§3.1).
        flexi_makeup_minutes: §2.3 make-up: lateness up to this many minutes carries no TL and
            moves the day's end by the minutes late; beyond it, the category counts the minutes
            past the allowance (SIAP Tuba). 0 = off.
        punch_pick: Earliest in and latest out, or ANRI's first record in each window.
        tl_bands: Lateness categories with their deduction percent.
        psw_bands: Early-leave categories with their deduction percent.
        missing_checkin: The TL category of a working day without a check-in (§3.2).
        missing_checkout: The PSW category of a working day without a check-out.
        tk_pct: Deduction for a day absent without notice (§3.3).
        monthly_cap_pct: Ceiling of a month's deduction (applied by the recap).
        daily_cap_pct: Ceiling of one day's TL + PSW (None: no cap).
        deduction_base: What the percentages apply to (``attendance_component`` or
            ``whole_tpp``); recorded for the recap, not used by the daily status.
        present_codes: Absence codes that count as present on duty (DL, DIK, WFH; §4.4).
        non_working_codes: Absence codes that make the day a non-working day (CBER, §4.4).
        absence_pct: Deduction per day of an absence code (default none, §4.3).
        off_categories: Holiday categories that are a day off.
        cuti_bersama_for: Employment types for whom CUTI_BERSAMA is a day off (§4.4).
        holidays_for_shifts: Whether holidays give rostered shift workers the day off; by
            default the roster decides (§2.5: shift units work on holidays).
        outside_minutes: Compute "outside the office area" minutes from the pings.
        pending_grace_days: Days after which a working day is judged even though a terminal
            never reported its backlog complete (None: wait for the terminal, never TK early).
    """

    timezone: str = "Asia/Makassar"
    checkin_window: tuple[time, time] = (time(6, 0), time(12, 0))
    checkout_window: tuple[time, time] = (time(14, 0), time(18, 0))
    window_margin_min: int = 120
    ramadan: bool = True
    ramadan_checkin_window: tuple[time, time] = (time(6, 0), time(12, 0))
    ramadan_checkout_window: tuple[time, time] = (time(13, 0), time(18, 0))
    shift_checkin_window_min: tuple[int, int] = (-120, 240)
    shift_checkout_window_min: tuple[int, int] = (-120, 180)
    late_grace_s: int = 59
    early_grace_s: int = 0
    flexi_makeup_minutes: int = 0
    punch_pick: PunchPick = PunchPick.EARLIEST_IN_LATEST_OUT
    tl_bands: tuple[Band, ...] = field(default_factory=lambda: _bands("TL"))
    psw_bands: tuple[Band, ...] = field(default_factory=lambda: _bands("PSW"))
    missing_checkin: str = "TL4"
    missing_checkout: str = "PSW4"
    tk_pct: Decimal = Decimal("5.0")
    monthly_cap_pct: Decimal = Decimal(100)
    daily_cap_pct: Decimal | None = None
    deduction_base: str = "attendance_component"
    present_codes: tuple[str, ...] = ("DL", "DIK", "WFH")
    non_working_codes: tuple[str, ...] = ("CBER",)
    absence_pct: tuple[tuple[str, Decimal], ...] = ()
    off_categories: tuple[str, ...] = HOLIDAY_CATEGORIES
    cuti_bersama_for: tuple[str, ...] = EMPLOYMENT_TYPES
    holidays_for_shifts: bool = False
    outside_minutes: bool = True
    pending_grace_days: int | None = None

    def __post_init__(self) -> None:
        """Refuse a rule set the daily status could not apply."""
        _check(self)

    def band(self, code: str) -> Band:
        """The TL or PSW band called ``code``."""
        for b in (*self.tl_bands, *self.psw_bands):
            if b.code == code:
                return b
        raise RuleSetError(f"no band {code!r}")

    def absence_deduction(self, code: str) -> Decimal:
        """The deduction percent of one day of absence ``code``."""
        return dict(self.absence_pct).get(code, Decimal(0))

    def to_json(self) -> dict[str, Any]:
        """The rule set as plain JSON (times "HH:MM", percents as decimal strings)."""
        body: dict[str, Any] = {"format": FORMAT, "timezone": self.timezone}
        for (section, key), (attr, codec) in _FIELDS.items():
            body.setdefault(section, {})[key] = codec.dump(getattr(self, attr))
        return body

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> RuleSet:
        """Read :meth:`to_json`'s shape; a key left out keeps its default.

        Raises:
            RuleSetError: An unknown key, a value of the wrong shape, or rules that conflict.
        """
        try:
            return _from_json(cls, body)
        except RuleSetError:
            raise
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            raise RuleSetError(f"rule set JSON: {exc}") from exc

    def canonical(self) -> str:
        """The canonical JSON text (what is stored and hashed)."""
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))

    def content_hash(self) -> str:
        """The first 12 hex digits of the canonical JSON's SHA-256."""
        return hashlib.sha256(self.canonical().encode()).hexdigest()[:HASH_DIGITS]


@dataclass(frozen=True, slots=True)
class _Codec:
    dump: Callable[[Any], Any]
    load: Callable[[Any], Any]


def _hm_pair(pair: tuple[time, time]) -> list[str]:
    return [t.strftime("%H:%M") for t in pair]


def _time_pair(raw: Sequence[str]) -> tuple[time, time]:
    first, last = raw
    return time.fromisoformat(first), time.fromisoformat(last)


def _bands_codec(prefix: str) -> _Codec:
    return _Codec(
        lambda bands: [[b.min_minutes, b.max_minutes, str(b.pct)] for b in bands],
        lambda raw: tuple(
            Band(f"{prefix}{i}", int(lo), None if hi is None else int(hi), Decimal(str(pct)))
            for i, (lo, hi, pct) in enumerate(raw, 1)
        ),
    )


_SAME = _Codec(lambda v: v, lambda v: v)
_BOOL = _Codec(bool, bool)
_INT = _Codec(int, int)
_STR = _Codec(str, str)
_CODES = _Codec(list, lambda v: tuple(str(c) for c in v))
_TIMES = _Codec(_hm_pair, _time_pair)
_MINUTES = _Codec(list, lambda v: (int(v[0]), int(v[1])))
_DEC = _Codec(str, lambda v: Decimal(str(v)))
_OPT_DEC = _Codec(
    lambda v: None if v is None else str(v), lambda v: None if v is None else Decimal(str(v))
)
_OPT_INT = _Codec(_SAME.dump, lambda v: None if v is None else int(v))
_PCTS = _Codec(
    lambda pairs: {c: str(p) for c, p in pairs},
    lambda raw: tuple(sorted((str(c), Decimal(str(p))) for c, p in raw.items())),
)

#: (JSON section, key) -> (RuleSet attribute, codec); the key names follow §10's YAML.
_FIELDS: dict[tuple[str, str], tuple[str, _Codec]] = {
    ("schedule", "checkin_window"): ("checkin_window", _TIMES),
    ("schedule", "checkout_window"): ("checkout_window", _TIMES),
    ("schedule", "window_margin_min"): ("window_margin_min", _INT),
    ("schedule", "ramadan"): ("ramadan", _BOOL),
    ("schedule", "ramadan_checkin_window"): ("ramadan_checkin_window", _TIMES),
    ("schedule", "ramadan_checkout_window"): ("ramadan_checkout_window", _TIMES),
    ("schedule", "shift_checkin_window_min"): ("shift_checkin_window_min", _MINUTES),
    ("schedule", "shift_checkout_window_min"): ("shift_checkout_window_min", _MINUTES),
    ("schedule", "late_grace_s"): ("late_grace_s", _INT),
    ("schedule", "early_grace_s"): ("early_grace_s", _INT),
    ("schedule", "flexi_makeup_minutes"): ("flexi_makeup_minutes", _INT),
    ("schedule", "punch_pick"): ("punch_pick", _Codec(lambda v: v.value, PunchPick)),
    ("schedule", "pending_grace_days"): ("pending_grace_days", _OPT_INT),
    ("schedule", "outside_minutes"): ("outside_minutes", _BOOL),
    ("deductions", "base"): ("deduction_base", _STR),
    ("deductions", "TL"): ("tl_bands", _bands_codec("TL")),
    ("deductions", "PSW"): ("psw_bands", _bands_codec("PSW")),
    ("deductions", "missing_checkin_as"): ("missing_checkin", _STR),
    ("deductions", "missing_checkout_as"): ("missing_checkout", _STR),
    ("deductions", "TK_per_day"): ("tk_pct", _DEC),
    ("deductions", "monthly_cap"): ("monthly_cap_pct", _DEC),
    ("deductions", "daily_cap"): ("daily_cap_pct", _OPT_DEC),
    ("absences", "present"): ("present_codes", _CODES),
    ("absences", "non_working"): ("non_working_codes", _CODES),
    ("absences", "deduction_per_day"): ("absence_pct", _PCTS),
    ("calendar", "off_categories"): ("off_categories", _CODES),
    ("calendar", "cuti_bersama_for"): ("cuti_bersama_for", _CODES),
    ("calendar", "holidays_for_shifts"): ("holidays_for_shifts", _BOOL),
}


def _from_json(cls: type[RuleSet], body: Mapping[str, Any]) -> RuleSet:
    if body.get("format", FORMAT) != FORMAT:
        raise RuleSetError(f"rule set format {body.get('format')!r} is not {FORMAT}")
    values: dict[str, Any] = {}
    for section, raw in body.items():
        if section == "format":
            continue
        if section == "timezone":
            values["timezone"] = str(raw)
            continue
        if not isinstance(raw, Mapping):
            raise RuleSetError(f"rule set JSON: {section!r} is not a section")
        for key, value in raw.items():
            if (section, key) not in _FIELDS:
                raise RuleSetError(f"rule set JSON: unknown key {section}.{key}")
            attr, codec = _FIELDS[(section, key)]
            values[attr] = codec.load(value)
    return cls(**values)


_WINDOWS = (
    "checkin_window",
    "checkout_window",
    "ramadan_checkin_window",
    "ramadan_checkout_window",
    "shift_checkin_window_min",
    "shift_checkout_window_min",
)


def _check(rules: RuleSet) -> None:
    for name in _WINDOWS:
        first, last = getattr(rules, name)
        if not first < last:
            raise RuleSetError(f"{name}: the window must open before it closes")
    if min(rules.tk_pct, rules.monthly_cap_pct, rules.daily_cap_pct or 0) < 0:
        raise RuleSetError("percentages cannot be negative")
    if not 0 <= rules.late_grace_s < 3600 or not 0 <= rules.early_grace_s < 3600:
        raise RuleSetError("grace seconds must be 0..3599")
    for bands in (rules.tl_bands, rules.psw_bands):
        if not bands:
            raise RuleSetError("TL and PSW need at least one band")
        for before, after in itertools.pairwise(bands):
            if before.max_minutes is None or after.min_minutes != before.max_minutes + 1:
                raise RuleSetError(f"bands {before.code} and {after.code} must be contiguous")
        if bands[-1].max_minutes is not None:
            raise RuleSetError(f"the last band {bands[-1].code} must be open-ended")
    if rules.missing_checkin not in {b.code for b in rules.tl_bands}:
        raise RuleSetError(f"missing_checkin {rules.missing_checkin!r} is not a TL band")
    if rules.missing_checkout not in {b.code for b in rules.psw_bands}:
        raise RuleSetError(f"missing_checkout {rules.missing_checkout!r} is not a PSW band")
    codes = set(rules.present_codes) | set(rules.non_working_codes) | dict(rules.absence_pct).keys()
    if unknown := codes - set(ABSENCE_CODES):
        raise RuleSetError(f"unknown absence codes {sorted(unknown)}")
    if unknown := set(rules.off_categories) - set(HOLIDAY_CATEGORIES):
        raise RuleSetError(f"unknown holiday categories {sorted(unknown)}")
    if unknown := set(rules.cuti_bersama_for) - set(EMPLOYMENT_TYPES):
        raise RuleSetError(f"unknown employment types {sorted(unknown)}")


DEFAULT = RuleSet()


@dataclass(frozen=True, slots=True)
class StoredRuleSet:
    """A rule set as stored: its version and the first day it is in force."""

    version: str
    active_from: date
    rules: RuleSet


def version_of(rules: RuleSet, label: str) -> str:
    """``<label>@<hash>``: the label says what it is, the hash pins the content."""
    if not label or "@" in label or len(label) > 64 - 1 - HASH_DIGITS:
        raise RuleSetError(f"rule set label {label!r}: 1-{63 - HASH_DIGITS} characters, no '@'")
    return f"{label}@{rules.content_hash()}"


def save_ruleset(
    conn: Connection,
    rules: RuleSet,
    active_from: date,
    *,
    label: str | None = None,
    note: str = "",
    now: datetime | None = None,
) -> StoredRuleSet:
    """Store ``rules`` as a new version in force from ``active_from``; the same again is a no-op.

    Args:
        conn: The caller's transaction.
        rules: The rule set.
        active_from: The first day it applies to (days already computed need a recompute).
        label: A human name for the version (default: ``active_from`` in ISO form).
        note: Why (the Perwali or circular it implements).
        now: The creation time (default: the clock).

    Raises:
        RuleSetError: The version exists with another ``active_from``.
    """
    version = version_of(rules, label or active_from.isoformat())
    found = conn.execute(select(ruleset).where(ruleset.c.version == version)).one_or_none()
    if found is not None:
        if found.active_from != active_from:
            raise RuleSetError(f"rule set {version} exists from {found.active_from}")
        return StoredRuleSet(version, active_from, rules)
    conn.execute(
        insert(ruleset).values(
            version=version,
            body=rules.canonical(),
            note=note,
            created_at=now or datetime.now(UTC),
            active_from=active_from,
        )
    )
    return StoredRuleSet(version, active_from, rules)


def _stored(version: str, body: str, active_from: date) -> StoredRuleSet:
    try:
        rules = RuleSet.from_json(json.loads(body))
    except ValueError as exc:
        raise RuleSetError(f"rule set {version}: {exc}") from exc
    if "@" in version and version.rsplit("@", 1)[1] != rules.content_hash():
        raise RuleSetError(f"rule set {version}: the stored body was edited after it was saved")
    return StoredRuleSet(version, active_from, rules)


def load_rulesets(conn: Connection) -> list[StoredRuleSet]:
    """Every stored version, oldest ``active_from`` first (ties: the later saved wins last)."""
    rows = conn.execute(
        select(ruleset).order_by(ruleset.c.active_from, ruleset.c.created_at, ruleset.c.version)
    )
    return [_stored(r.version, r.body, r.active_from) for r in rows]


def in_force(rulesets: Sequence[StoredRuleSet], day: date) -> StoredRuleSet | None:
    """The rule set in force on ``day`` among ``rulesets`` (ordered as :func:`load_rulesets`)."""
    found = None
    for stored in rulesets:
        if stored.active_from <= day:
            found = stored
    return found


def load_active(conn: Connection, day: date) -> StoredRuleSet:
    """The rule set in force on ``day``.

    Raises:
        RuleSetError: None is stored for that day (see :func:`ensure_ruleset`), or one was edited.
    """
    found = in_force(load_rulesets(conn), day)
    if found is None:
        raise RuleSetError(f"no rule set in force on {day}")
    return found


def ensure_ruleset(conn: Connection, *, now: datetime | None = None) -> None:
    """Store the §10 defaults from 2000-01-01 when no rule set is stored at all."""
    if conn.execute(select(ruleset.c.version).limit(1)).first() is None:
        save_ruleset(
            conn, DEFAULT, DEFAULT_ACTIVE_FROM, label="default", note="domain-id.md §10", now=now
        )
