"""The §6.3 check-in policy as pure functions: geometry, each rule, their order, and intervals."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from central.api.geo import EARTH_RADIUS_M, haversine_m
from central.api.policy import (
    Code,
    Fix,
    GeofenceRule,
    PolicySettings,
    SiteFence,
    check_channel,
    check_clock,
    check_geofence,
    check_mock,
    classify_ping,
    default_window,
    evaluate_checkin,
    local_day,
    outside_intervals,
    place,
    within,
)

SETTINGS = PolicySettings()
# Balai Kota Kupang, roughly; every site in these tests is measured from here.
LAT, LON = -10.1633, 123.6075
M_PER_DEG = EARTH_RADIUS_M * math.pi / 180
OFFICE = SiteFence("BKPPD-1", "Kantor BKPPD", LAT, LON, radius_m=100, accuracy_max_m=50)
ANNEX = SiteFence("BKPPD-2", "Gedung B", LAT + 1000 / M_PER_DEG, LON, radius_m=60)
NOW = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # Monday 09:00 WITA


def north(metres: float, accuracy: float = 10.0) -> Fix:
    """A fix ``metres`` due north of the office centre."""
    return Fix(LAT + metres / M_PER_DEG, LON, accuracy)


def test_haversine_one_degree_of_latitude() -> None:
    assert haversine_m(0, 0, 1, 0) == pytest.approx(M_PER_DEG, rel=1e-9)


def test_haversine_short_distance_is_symmetric_and_accurate() -> None:
    fix = north(123.4)
    assert haversine_m(fix.lat, fix.lon, LAT, LON) == pytest.approx(123.4, abs=0.01)
    assert haversine_m(LAT, LON, fix.lat, fix.lon) == pytest.approx(123.4, abs=0.01)


def test_haversine_antipodes_do_not_overflow_asin() -> None:
    assert haversine_m(0, 0, 0, 180) == pytest.approx(math.pi * EARTH_RADIUS_M)


def test_haversine_across_the_antimeridian() -> None:
    assert haversine_m(0, 179.9995, 0, -179.9995) == pytest.approx(0.001 * M_PER_DEG, rel=1e-6)


@pytest.mark.parametrize(
    ("metres", "accuracy", "inside"),
    [
        (0, 10, True),
        (99, 50, True),  # CENTER: the centre is inside and the fix precise enough
        (99, 51, None),  # too vague to tell
        (102, 1, False),  # certainly outside: 102 - 1 > 100
        (130, 40, None),  # 130 - 40 = 90: the 68 % circle still reaches the fence
    ],
)
def test_place_center_rule(metres: float, accuracy: float, inside: bool | None) -> None:
    assert place(north(metres, accuracy), OFFICE, SETTINGS).inside is inside


def test_place_circle_rule_needs_the_whole_circle_inside() -> None:
    strict = replace(SETTINGS, geofence_rule=GeofenceRule.CIRCLE)
    assert place(north(80, 19), OFFICE, strict).inside is True
    assert place(north(80, 30), OFFICE, strict).inside is None
    assert place(north(80, 30), OFFICE, SETTINGS).inside is True


def test_place_accuracy_limit_never_above_the_radius() -> None:
    tiny = SiteFence("X", "Pos", LAT, LON, radius_m=20, accuracy_max_m=None)
    placed = place(north(5, 30), tiny, SETTINGS)
    assert placed.accuracy_max_m == 20
    assert placed.inside is None


def test_place_defaults_for_a_site_without_radius() -> None:
    bare = SiteFence("X", "Pos", LAT, LON)
    placed = place(north(90, 45), bare, SETTINGS)
    assert (placed.radius_m, placed.accuracy_max_m, placed.inside) == (100, 50, True)


def test_check_mock() -> None:
    refusal = check_mock(True, SETTINGS)
    assert refusal is not None
    assert refusal.code is Code.MOCK_LOCATION
    assert refusal.status == 422
    assert "Lokasi palsu" in refusal.message
    assert "(Mock location detected" in refusal.message
    assert check_mock(False, SETTINGS) is None
    assert check_mock(True, replace(SETTINGS, reject_mock=False)) is None


def test_check_clock_limits_are_inclusive() -> None:
    assert check_clock(NOW + timedelta(seconds=300), NOW, SETTINGS) is None
    assert check_clock(NOW - timedelta(seconds=300), NOW, SETTINGS) is None
    ahead = check_clock(NOW + timedelta(seconds=301), NOW, SETTINGS)
    stale = check_clock(NOW - timedelta(minutes=42), NOW, SETTINGS)
    assert ahead is not None
    assert ahead.code is Code.CLOCK_AHEAD
    assert "Jam HP 5 menit lebih cepat" in ahead.message
    assert stale is not None
    assert stale.code is Code.CLOCK_STALE
    assert "42 menit" in stale.message
    assert "(Check-in time is 42 min old" in stale.message


def test_check_clock_compares_instants_not_wall_clocks() -> None:
    # 09:03 WITA is 01:03 UTC: three minutes, not eight hours, after the server's 01:00 UTC.
    wita = datetime(2026, 11, 30, 9, 3, tzinfo=ZoneInfo("Asia/Makassar"))
    assert check_clock(wita, NOW, SETTINGS) is None


def test_check_geofence_outside_names_the_nearest_fence() -> None:
    placement, refusal = check_geofence(north(300), [OFFICE, ANNEX], SETTINGS)
    assert refusal is not None
    assert placement is not None
    assert refusal.code is Code.OUTSIDE_GEOFENCE
    assert placement.site is OFFICE
    assert refusal.message == (
        "Di luar area kantor (300 m dari Kantor BKPPD, radius 100 m) "
        "(Outside the office area: 300 m from Kantor BKPPD, radius 100 m)"
    )


def test_check_geofence_accepts_at_any_of_the_sites() -> None:
    placement, refusal = check_geofence(north(1010), [OFFICE, ANNEX], SETTINGS)
    assert refusal is None
    assert placement is not None
    assert placement.site is ANNEX
    assert placement.distance_m == pytest.approx(10, abs=0.01)


def test_check_geofence_vague_fix_inside_is_accuracy_too_low() -> None:
    _placement, refusal = check_geofence(north(20, 75), [OFFICE], SETTINGS)
    assert refusal is not None
    assert refusal.code is Code.ACCURACY_TOO_LOW
    assert "Akurasi GPS kurang (±75 m, maksimal 50 m di Kantor BKPPD)" in refusal.message
    assert "(GPS accuracy too low" in refusal.message


def test_check_geofence_without_sites_is_a_policy_refusal() -> None:
    placement, refusal = check_geofence(north(0), [], SETTINGS)
    assert placement is None
    assert refusal is not None
    assert (refusal.code, refusal.status) == (Code.NO_SITE, 403)


def test_check_channel_fingerprint_only_unless_fallback_open() -> None:
    fp = replace(OFFICE, channel="fingerprint")
    refusal = check_channel(fp)
    assert refusal is not None
    assert (refusal.code, refusal.status) == (Code.FINGERPRINT_ONLY, 403)
    assert "absen sidik jari" in refusal.message
    assert check_channel(replace(fp, fallback_open=True)) is None
    assert check_channel(replace(OFFICE, channel="either")) is None
    assert check_channel(replace(OFFICE, channel="mobile")) is None


FP_OFFICE = replace(OFFICE, channel="fingerprint")


@pytest.mark.parametrize(
    ("metres", "mock", "skew_s", "sites", "expected"),
    [
        (0, False, 0, [OFFICE], None),
        # Everything wrong at once: mock wins (fraud), then the clock, then the fence.
        (5000, True, 3600, [FP_OFFICE], Code.MOCK_LOCATION),
        (5000, False, 3600, [FP_OFFICE], Code.CLOCK_AHEAD),
        (5000, False, -3600, [FP_OFFICE], Code.CLOCK_STALE),
        (5000, False, 0, [FP_OFFICE], Code.OUTSIDE_GEOFENCE),
        (5000, False, 0, [], Code.NO_SITE),
        # The channel is the site's question, so it comes last.
        (0, False, 0, [FP_OFFICE], Code.FINGERPRINT_ONLY),
    ],
)
def test_evaluate_checkin_order(
    metres: float, mock: bool, skew_s: float, sites: list[SiteFence], expected: Code | None
) -> None:
    _placement, refusal = evaluate_checkin(
        fix=north(metres),
        mock=mock,
        client_time=NOW + timedelta(seconds=skew_s),
        server_time=NOW,
        sites=sites,
        settings=SETTINGS,
    )
    assert (None if refusal is None else refusal.code) is expected


def test_evaluate_checkin_keeps_the_nearest_site_on_an_early_refusal() -> None:
    placement, refusal = evaluate_checkin(
        fix=north(10),
        mock=True,
        client_time=NOW,
        server_time=NOW,
        sites=[OFFICE],
        settings=SETTINGS,
    )
    assert refusal is not None
    assert placement is not None
    assert placement.site is OFFICE


def test_classify_ping_mock_proves_nothing() -> None:
    placed = classify_ping(north(0), True, [OFFICE], SETTINGS)
    assert placed is not None
    assert placed.inside is None
    outside = classify_ping(north(400, 20), False, [OFFICE], SETTINGS)
    assert outside is not None
    assert outside.inside is False
    assert classify_ping(north(0), False, [], SETTINGS) is None


def test_default_window_is_wita_and_friday_is_longer() -> None:
    monday = default_window(date(2026, 11, 30), SETTINGS)
    friday = default_window(date(2026, 12, 4), SETTINGS)
    assert monday == (
        datetime(2026, 11, 29, 23, 30, tzinfo=UTC),
        datetime(2026, 11, 30, 8, 0, tzinfo=UTC),
    )
    assert friday is not None
    assert friday[1] == datetime(2026, 12, 4, 8, 30, tzinfo=UTC)
    assert default_window(date(2026, 12, 5), SETTINGS) is None  # Saturday


def test_local_day_and_within() -> None:
    assert local_day(datetime(2026, 11, 29, 23, 30, tzinfo=UTC), SETTINGS) == date(2026, 11, 30)
    window = (NOW, NOW + timedelta(hours=1))
    assert within(NOW, [window])
    assert within(NOW + timedelta(hours=1), [window])
    assert not within(NOW - timedelta(seconds=1), [window])


def _at(hh: int, mm: int) -> datetime:
    return datetime(2026, 11, 30, hh, mm, tzinfo=UTC)


WINDOW = (_at(0, 0), _at(8, 0))


def test_outside_intervals_open_on_outside_close_on_inside() -> None:
    pings = [
        (_at(1, 0), True),
        (_at(1, 15), False),
        (_at(1, 30), None),  # vague: neither opens nor closes
        (_at(1, 45), False),
        (_at(2, 0), True),
        (_at(3, 0), False),
    ]
    result = outside_intervals(reversed(pings), WINDOW)
    assert [(i.start, i.end, i.pings, i.returned) for i in result] == [
        (_at(1, 15), _at(2, 0), 2, True),
        (_at(3, 0), _at(3, 0), 1, False),
    ]
    assert result[0].minutes == 45


def test_outside_intervals_ignore_pings_outside_the_window_and_vague_ones() -> None:
    pings = [(_at(9, 0), False), (_at(1, 0), None), (_at(2, 0), True)]
    assert outside_intervals(pings, WINDOW) == []
    assert outside_intervals([], WINDOW) == []


def test_work_hours_default_is_the_perpres_week() -> None:
    hours = SETTINGS.work_hours
    assert hours[0] == (time(7, 30), time(16, 0))
    assert hours[4] == (time(7, 30), time(16, 30))
    assert hours[5] is None
    assert hours[6] is None
