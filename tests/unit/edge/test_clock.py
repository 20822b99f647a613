"""edge.clock: FakeClock's behaviour, SystemClock on this machine, and the adjtimex rule."""

from __future__ import annotations

import ctypes
import logging
import sys
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from edge import clock as clock_module
from edge.clock import (
    BOOT_ID_PATH,
    STA_UNSYNC,
    TIME_ERROR,
    Clock,
    FakeClock,
    SystemClock,
    kernel_says_synced,
    read_kernel_clock_state,
)

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="boot id and adjtimex(2) are Linux interfaces"
)
WITA = timezone(timedelta(hours=8))


# FakeClock ---------------------------------------------------------------------------------------


def test_fake_clock_is_a_clock() -> None:
    fake: Clock = FakeClock()
    assert isinstance(fake, Clock)
    assert isinstance(SystemClock(), Clock)


def test_fake_clock_starts_where_told() -> None:
    fake = FakeClock(datetime(2026, 3, 2, 8, 0, tzinfo=WITA), synced=False, mono_ns=5)
    assert fake.utc_now() == datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    assert fake.utc_now().tzinfo is UTC
    assert fake.monotonic_ns() == 5
    assert fake.is_synced() is False
    assert fake.boot_id() == FakeClock.BOOT_ID
    assert len(FakeClock().boot_id()) == 36
    assert FakeClock().utc_now() == FakeClock.START


def test_fake_clock_stands_still_until_advanced() -> None:
    fake = FakeClock()
    assert (fake.utc_now(), fake.monotonic_ns()) == (fake.utc_now(), fake.monotonic_ns())


def test_fake_clock_advance_moves_wall_and_monotonic_together() -> None:
    fake = FakeClock()
    start, mono = fake.utc_now(), fake.monotonic_ns()
    fake.advance(1.5)
    assert fake.utc_now() - start == timedelta(seconds=1.5)
    assert fake.monotonic_ns() - mono == 1_500_000_000
    fake.advance(timedelta(minutes=1))
    assert fake.utc_now() - start == timedelta(seconds=61.5)
    assert fake.monotonic_ns() - mono == 61_500_000_000
    fake.advance(0)
    assert fake.monotonic_ns() - mono == 61_500_000_000


def test_fake_clock_advance_refuses_to_go_back() -> None:
    fake = FakeClock()
    with pytest.raises(ValueError, match="use set_time"):
        fake.advance(-1)
    with pytest.raises(ValueError, match="use set_time"):
        fake.advance(timedelta(microseconds=-1))
    assert fake.utc_now() == FakeClock.START


def test_fake_clock_set_time_steps_only_the_wall_clock() -> None:
    fake = FakeClock(datetime(1970, 1, 1, tzinfo=UTC), synced=False)
    mono = fake.monotonic_ns()
    fake.set_time(datetime(2026, 1, 5, 8, 30, tzinfo=WITA))  # NTP steps a Pi booted in 1970
    fake.synced = True
    assert fake.utc_now() == datetime(2026, 1, 5, 0, 30, tzinfo=UTC)
    assert fake.monotonic_ns() == mono
    assert fake.is_synced() is True
    fake.set_time(datetime(2026, 1, 5, tzinfo=UTC))  # and it may step backwards
    assert fake.utc_now() == datetime(2026, 1, 5, tzinfo=UTC)


def test_fake_clock_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        FakeClock(datetime(2026, 1, 5))
    with pytest.raises(ValueError, match="timezone-aware"):
        FakeClock().set_time(datetime(2026, 1, 5))


def test_fake_clock_reboot_starts_a_new_boot_unsynced() -> None:
    fake = FakeClock()
    fake.advance(100)
    before = fake.utc_now()
    fake.reboot()
    assert fake.boot_id() != FakeClock.BOOT_ID
    assert str(uuid.UUID(fake.boot_id())) == fake.boot_id()
    assert fake.monotonic_ns() == 0
    assert fake.is_synced() is False
    assert fake.utc_now() == before
    fake.reboot(boot_id="b", at=datetime(2025, 12, 31, tzinfo=UTC))
    assert (fake.boot_id(), fake.utc_now()) == ("b", datetime(2025, 12, 31, tzinfo=UTC))


# SystemClock -------------------------------------------------------------------------------------


def test_system_clock_utc_now_is_aware_utc() -> None:
    now = SystemClock().utc_now()
    assert now.tzinfo is UTC
    assert now.utcoffset() == timedelta(0)


def test_system_clock_monotonic_increases() -> None:
    clock = SystemClock()
    readings = [clock.monotonic_ns() for _ in range(1000)]
    assert readings == sorted(readings)
    assert readings[-1] > readings[0]


@linux_only
def test_system_clock_boot_id_is_the_kernels() -> None:
    clock = SystemClock()
    boot_id = clock.boot_id()
    assert len(boot_id) == 36
    assert str(uuid.UUID(boot_id)) == boot_id
    assert boot_id == BOOT_ID_PATH.read_text(encoding="ascii").strip()
    assert clock.boot_id() == boot_id


def test_system_clock_boot_id_falls_back_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="edge.clock")
    clock = SystemClock(boot_id_path=tmp_path / "absent")
    boot_id = clock.boot_id()
    assert str(uuid.UUID(boot_id)) == boot_id
    assert clock.boot_id() == boot_id  # one id for the life of the process
    assert len(caplog.records) == 1
    assert "boot id unavailable" in caplog.records[0].getMessage()
    garbage = tmp_path / "garbage"
    garbage.write_text("not a uuid\n", encoding="ascii")
    assert len(SystemClock(boot_id_path=garbage).boot_id()) == 36


def test_system_clock_is_synced_returns_a_bool() -> None:
    # Whether this machine is synchronized is not ours to assert; only that we get an answer.
    assert isinstance(SystemClock().is_synced(), bool)


def test_system_clock_is_synced_is_false_when_adjtimex_is_unavailable(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def unavailable() -> tuple[int, int]:
        raise OSError("adjtimex(2) is not available here")

    monkeypatch.setattr(clock_module, "read_kernel_clock_state", unavailable)
    caplog.set_level(logging.WARNING, logger="edge.clock")
    clock = SystemClock()
    assert clock.is_synced() is False
    assert clock.is_synced() is False
    assert [r.getMessage() for r in caplog.records] == [
        "clock sync state unknown, reporting unsynced error=adjtimex(2) is not available here"
    ]


@pytest.mark.parametrize(
    ("state", "status", "synced"),
    [
        (0, 0, True),  # TIME_OK
        (1, 0, True),  # TIME_INS: a leap second is pending, the clock is fine
        (4, 0, True),  # TIME_WAIT
        (TIME_ERROR, 0, False),
        (0, STA_UNSYNC, False),
        (TIME_ERROR, STA_UNSYNC, False),
        (0, 0x2001, True),  # STA_PLL | STA_NANO: what a synchronized kernel shows
        (0, 0x2041, False),
    ],
)
def test_kernel_says_synced_follows_time_error_and_sta_unsync(
    state: int, status: int, synced: bool
) -> None:
    assert kernel_says_synced(state, status) is synced


@linux_only
def test_read_kernel_clock_state_reads_adjtimex() -> None:
    state, status = read_kernel_clock_state()
    assert 0 <= state <= TIME_ERROR
    assert status >= 0
    assert SystemClock().is_synced() is kernel_says_synced(state, status)


@linux_only
def test_timex_layout_matches_glibc() -> None:
    # sizeof(struct timex) in glibc: 208 bytes with 64-bit longs, 128 with 32-bit ones (armhf).
    expected = 208 if ctypes.sizeof(ctypes.c_long) == 8 else 128
    assert ctypes.sizeof(clock_module._Timex) == expected
    assert clock_module._Timex.status.offset == (40 if expected == 208 else 20)  # offsetof()
