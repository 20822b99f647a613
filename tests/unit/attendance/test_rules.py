"""The pure daily-status rules: minute boundaries, categories, picks, precedence, PENDING."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from central.attendance.rules import (
    DayFacts,
    Event,
    Source,
    Status,
    decide,
    early_minutes,
    late_minutes,
    pick,
    plan_fixed,
    plan_shift,
)
from central.attendance.ruleset import DEFAULT, PunchPick, RuleSet

WITA = ZoneInfo("Asia/Makassar")
DAY = date(2026, 5, 6)  # a Wednesday
LATER = datetime(2026, 5, 7, 12, 0, tzinfo=WITA)


def at(clock: str, day: date = DAY) -> datetime:
    return datetime.combine(day, time.fromisoformat(clock), WITA)


def fp(clock: str, n: int = 0, day: date = DAY) -> Event:
    return Event(at(clock, day), Source.FINGERPRINT, f"fp:dev:{clock}:{n}")


PLAN = plan_fixed(DAY, time(7, 30), time(16, 0), DEFAULT, ramadan=False, kind="five_day")


def facts(*events: Event, **kw: object) -> DayFacts:
    base = DayFacts(day=DAY, now=LATER, plan=PLAN, events=events, complete_upto=LATER)
    return replace(base, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("clock", "minutes", "tl"),
    [
        ("07:29:00", 0, None),
        ("07:30:00", 0, None),
        ("07:30:59", 0, None),  # ANRI: the whole 07:30 minute is on time
        ("07:31:00", 1, "TL1"),
        ("08:00:59", 30, "TL1"),
        ("08:01:00", 31, "TL2"),
        ("08:30:59", 60, "TL2"),
        ("08:31:00", 61, "TL3"),
        ("09:00:59", 90, "TL3"),
        ("09:01:00", 91, "TL4"),
        ("11:59:00", 269, "TL4"),
    ],
)
def test_late_minutes_and_tl_bands_at_the_boundaries(clock: str, minutes: int, tl: str) -> None:
    day = decide(facts(fp(clock), fp("16:00")), DEFAULT)
    assert (day.status, day.late_minutes, day.tl) == (Status.HADIR, minutes, tl)
    pct = {None: "0", "TL1": "0.5", "TL2": "1", "TL3": "1.25", "TL4": "1.5"}[tl]
    assert day.deduction_pct == Decimal(pct)


@pytest.mark.parametrize(
    ("clock", "minutes", "psw"),
    [
        ("16:00:00", 0, None),
        ("17:59:00", 0, None),
        ("15:59:59", 1, "PSW1"),  # ceil: a started minute counts
        ("15:30:00", 30, "PSW1"),
        ("15:29:59", 31, "PSW2"),
        ("15:00:00", 60, "PSW2"),
        ("14:59:59", 61, "PSW3"),
        ("14:30:00", 90, "PSW3"),
        ("14:29:59", 91, "PSW4"),
        ("14:00:00", 120, "PSW4"),
    ],
)
def test_early_minutes_and_psw_bands_at_the_boundaries(clock: str, minutes: int, psw: str) -> None:
    day = decide(facts(fp("07:00"), fp(clock)), DEFAULT)
    assert (day.early_minutes, day.psw) == (minutes, psw)


def test_fractions_of_a_second_are_ignored() -> None:
    start = at("07:30")
    assert late_minutes(start + timedelta(seconds=59, microseconds=999_999), start, 59) == 0
    assert late_minutes(start + timedelta(seconds=60), start, 59) == 1
    assert early_minutes(at("16:00") - timedelta(microseconds=1), at("16:00"), 0) == 1
    assert early_minutes(at("16:00") + timedelta(seconds=5), at("16:00"), 0) == 0


def test_a_zero_grace_counts_a_started_minute() -> None:
    strict = replace(DEFAULT, late_grace_s=0)
    day = decide(facts(fp("07:30:01"), fp("16:00")), strict)
    assert (day.late_minutes, day.tl) == (1, "TL1")


def test_missing_ends_are_tl4_and_psw4() -> None:
    only_in = decide(facts(fp("07:20")), DEFAULT)
    assert (only_in.forgot_out, only_in.psw, only_in.forgot_in, only_in.tl) == (
        True,
        "PSW4",
        False,
        None,
    )
    assert only_in.deduction_pct == Decimal("1.50")
    only_out = decide(facts(fp("16:10")), DEFAULT)
    assert (only_out.forgot_in, only_out.tl, only_out.check_in) == (True, "TL4", None)


def test_an_event_in_neither_window_is_presence_with_both_ends_missing() -> None:
    day = decide(facts(fp("12:30")), DEFAULT)
    assert (day.status, day.tl, day.psw, day.deduction_pct) == (
        Status.HADIR,
        "TL4",
        "PSW4",
        Decimal("3.00"),
    )
    assert "luar jendela" in day.note


def test_no_event_on_a_judged_working_day_is_tk() -> None:
    day = decide(facts(), DEFAULT)
    assert (day.status, day.scheduled, day.deduction_pct) == (Status.TK, True, Decimal("5.00"))


def test_tk_waits_for_the_terminal_watermark() -> None:
    close = at("18:00")
    before = decide(facts(complete_upto=close - timedelta(seconds=1)), DEFAULT)
    never = decide(facts(complete_upto=None), DEFAULT)
    today = decide(facts(now=at("17:00"), complete_upto=at("17:00")), DEFAULT)
    assert before.status == never.status == today.status == Status.PENDING
    assert decide(facts(complete_upto=close), DEFAULT).status == Status.TK


def test_pending_shows_the_ends_but_counts_nothing() -> None:
    day = decide(facts(fp("09:30"), complete_upto=at("12:00")), DEFAULT)
    assert (day.status, day.check_in, day.late_minutes, day.tl, day.forgot_out) == (
        Status.PENDING,
        at("09:30"),
        0,
        None,
        False,
    )
    assert day.deduction_pct == 0


def test_a_grace_period_judges_a_day_whose_terminal_never_came_back() -> None:
    patient = replace(DEFAULT, pending_grace_days=7)
    stale = facts(complete_upto=None, now=at("18:00") + timedelta(days=6))
    assert decide(stale, patient).status == Status.PENDING
    assert decide(replace(stale, now=at("18:00") + timedelta(days=7)), patient).status == Status.TK


def test_holidays_and_days_off_come_first() -> None:
    national = (("LIBUR_NASIONAL", "Hari Buruh Internasional"),)
    day = decide(facts(fp("07:20"), holidays=national, absences=("CT",)), DEFAULT)
    assert (day.status, day.scheduled, day.code, day.check_in) == (
        Status.LIBUR,
        False,
        None,
        at("07:20"),
    )
    assert decide(facts(plan=None), DEFAULT).status == Status.OFF


def test_cuti_bersama_may_be_a_working_day_for_non_asn() -> None:
    cb = (("CUTI_BERSAMA", "Cuti Bersama Idul Fitri"),)
    asn_only = replace(DEFAULT, cuti_bersama_for=("PNS", "CPNS", "PPPK", "PPPK_PW"))
    assert decide(facts(holidays=cb, employment_type="NON_ASN"), DEFAULT).status == Status.LIBUR
    non_asn = decide(facts(holidays=cb, employment_type="NON_ASN"), asn_only)
    assert non_asn.status == Status.TK


def test_shift_workers_work_on_holidays_unless_configured() -> None:
    holiday = (("LIBUR_NASIONAL", "Hari Kemerdekaan"),)
    worked = decide(facts(fp("07:20"), fp("16:00"), holidays=holiday, shift=True), DEFAULT)
    assert worked.status == Status.HADIR
    off = replace(DEFAULT, holidays_for_shifts=True)
    assert decide(facts(holidays=holiday, shift=True), off).status == Status.LIBUR


@pytest.mark.parametrize(
    ("code", "status", "scheduled"),
    [
        ("DL", Status.HADIR, True),
        ("DIK", Status.HADIR, True),
        ("WFH", Status.HADIR, True),
        ("CT", Status.ABSEN, True),
        ("CS", Status.ABSEN, True),
        ("I", Status.ABSEN, True),
        ("CLTN", Status.ABSEN, True),
        ("CBER", Status.ABSEN, False),
    ],
)
def test_absence_codes_follow_the_recap_rules(code: str, status: Status, scheduled: bool) -> None:
    # Even on a day still waiting for its terminal: an absence is known in advance.
    day = decide(facts(absences=(code,), complete_upto=None), DEFAULT)
    assert (day.status, day.code, day.scheduled, day.tl, day.deduction_pct) == (
        status,
        code,
        scheduled,
        None,
        Decimal(0),
    )


def test_an_absence_deduction_is_configurable_and_the_latest_entry_wins() -> None:
    rules = replace(DEFAULT, absence_pct=(("I", Decimal("2.5")),))
    day = decide(facts(absences=("I", "CT")), rules)
    assert (day.code, day.deduction_pct, day.note) == ("I", Decimal("2.50"), "juga CT")


def test_earliest_in_latest_out_and_first_record() -> None:
    events = (fp("07:10"), fp("07:40"), fp("16:05"), fp("17:30"), fp("12:45"))
    first_in, last_out = pick(events, PLAN, DEFAULT)
    assert (first_in and first_in.at, last_out and last_out.at) == (at("07:10"), at("17:30"))
    anri = replace(DEFAULT, punch_pick=PunchPick.FIRST_RECORD)
    assert pick(events, PLAN, anri)[1] == fp("16:05")


def test_a_manual_end_counts_wherever_it_lies() -> None:
    manual_in = Event(at("12:40"), Source.MANUAL, "manual:1", "in")
    day = decide(facts(manual_in, fp("16:00")), DEFAULT)
    assert (day.check_in, day.in_source, day.late_minutes, day.tl) == (
        at("12:40"),
        "manual",
        310,
        "TL4",
    )


def test_one_event_is_never_both_ends_where_windows_overlap() -> None:
    start = at("08:00")
    short = plan_shift(start, start + timedelta(hours=4), DEFAULT)  # windows overlap 10:00-12:00
    early = fp("10:30")
    assert pick((early,), short, DEFAULT) == (None, early)  # past the middle: the check-out
    morning = fp("09:30")
    assert pick((morning,), short, DEFAULT) == (morning, None)
    assert pick((morning, early), short, DEFAULT) == (morning, early)


def test_the_daily_cap_and_the_sum_of_tl_and_psw() -> None:
    both = facts(fp("09:30"), fp("14:10"))
    assert decide(both, DEFAULT).deduction_pct == Decimal("3.00")
    capped = replace(DEFAULT, daily_cap_pct=Decimal("2.5"))
    assert decide(both, capped).deduction_pct == Decimal("2.50")


def test_flexi_makes_up_lateness_by_leaving_later() -> None:
    flexi = replace(DEFAULT, flexi_makeup_minutes=30)
    made_up = decide(facts(fp("07:50"), fp("16:20")), flexi)
    assert (made_up.late_minutes, made_up.tl, made_up.psw) == (0, None, None)
    not_made_up = decide(facts(fp("07:50"), fp("16:10")), flexi)
    assert (not_made_up.early_minutes, not_made_up.psw) == (10, "PSW1")
    beyond = decide(facts(fp("08:15"), fp("16:30")), flexi)
    assert (beyond.late_minutes, beyond.tl) == (15, "TL1")


def test_ramadan_windows_and_stretched_windows() -> None:
    ramadan = plan_fixed(DAY, time(8), time(15), DEFAULT, ramadan=True, kind="ramadan")
    assert ramadan.checkout_window[0] == at("13:00")
    odd = plan_fixed(DAY, time(5, 30), time(19, 0), DEFAULT, ramadan=False, kind="six_day")
    assert (odd.checkin_window[0], odd.checkout_window[1]) == (at("05:30"), at("19:00"))


def test_a_night_shift_belongs_to_its_start_date() -> None:
    start = at("21:00")
    night = plan_shift(start, start + timedelta(hours=10), DEFAULT)
    out = Event(at("07:04", DAY + timedelta(days=1)), Source.ANDROID, "android:x")
    f = DayFacts(
        day=DAY,
        now=LATER + timedelta(days=1),
        plan=night,
        shift=True,
        events=(fp("20:58"), out),
        complete_upto=LATER + timedelta(days=1),
    )
    day = decide(f, DEFAULT)
    assert (day.status, day.check_out, day.out_source, day.early_minutes) == (
        Status.HADIR,
        out.at.astimezone(UTC),
        "android",
        0,
    )


def test_default_rule_set_is_section_10() -> None:
    assert RuleSet() == DEFAULT
    assert [(b.code, b.min_minutes, b.max_minutes, b.pct) for b in DEFAULT.tl_bands] == [
        ("TL1", 1, 30, Decimal("0.5")),
        ("TL2", 31, 60, Decimal("1.0")),
        ("TL3", 61, 90, Decimal("1.25")),
        ("TL4", 91, None, Decimal("1.5")),
    ]
    assert (DEFAULT.checkin_window, DEFAULT.checkout_window) == (
        (time(6), time(12)),
        (time(14), time(18)),
    )
    assert (DEFAULT.tk_pct, DEFAULT.monthly_cap_pct, DEFAULT.flexi_makeup_minutes) == (
        Decimal(5),
        Decimal(100),
        0,
    )
