"""Time for the edge: UTC wall time, monotonic readings, the boot id and the NTP sync state.

A Raspberry Pi has no RTC: until NTP synchronizes it, its wall clock may be hours or years off
(architecture.md, "Clocks"). So every punch records, besides its UTC time, whether the clock was
synchronized, the boot id and a monotonic reading; from those the central can flag or re-base
times taken before synchronization. Everything that reads the time takes a :class:`Clock`, so
tests drive time with :class:`FakeClock` and never sleep. This module imports only the standard
library.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Protocol, runtime_checkable

log = logging.getLogger(__name__)

BOOT_ID_PATH: Final = Path("/proc/sys/kernel/random/boot_id")
TIME_ERROR: Final = 5
"""adjtimex(2) returns this clock state when the clock is not synchronized (``<sys/timex.h>``)."""
STA_UNSYNC: Final = 0x0040
"""The ``status`` bit the kernel (or the NTP daemon) sets while the clock is unsynchronized."""


@runtime_checkable
class Clock(Protocol):
    """What the edge asks of a clock. Implementations must be safe to call from any thread."""

    def utc_now(self) -> datetime:
        """Return the current wall-clock time, timezone-aware, in UTC."""
        ...

    def monotonic_ns(self) -> int:
        """Return a monotonic reading in nanoseconds; never decreases within one boot."""
        ...

    def boot_id(self) -> str:
        """Return this boot's id (a 36-character UUID); monotonic readings compare within it."""
        ...

    def is_synced(self) -> bool:
        """Return whether the wall clock is synchronized now (NTP); False when unknown."""
        ...


def kernel_says_synced(state: int, status: int) -> bool:
    """Decide from an ``adjtimex(2)`` result whether the clock is synchronized.

    The kernel's own rule (``ntp_synced()`` in ``kernel/time/ntp.c``, which also decides whether
    it may copy the time to an RTC): synchronized unless the call returned ``TIME_ERROR`` or the
    ``STA_UNSYNC`` status bit is set. timedatectl's "System clock synchronized" showed exactly this
    up to systemd v240 or so; newer systemd treats ``maxerror < 16 s`` as synchronized and ignores
    ``STA_UNSYNC``, because systemd-timesyncd sets that bit on purpose when the RTC keeps local
    time. A Pi has no RTC, so there the two agree; where they differ this rule errs towards
    "not synchronized", the safe side for attendance times.

    Args:
        state: adjtimex's return value (the clock state, ``TIME_OK`` .. ``TIME_ERROR``).
        status: the ``status`` field of the returned ``struct timex``.
    """
    return state != TIME_ERROR and not status & STA_UNSYNC


class _Timeval(ctypes.Structure):
    _fields_ = (("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long))


class _Timex(ctypes.Structure):
    """``struct timex`` of ``<sys/timex.h>`` as glibc's ``adjtimex`` symbol takes it.

    Every field is a C ``long`` or ``int``, so the same layout is right on 64-bit and on 32-bit
    (armhf) Pis: the plain ``adjtimex`` symbol keeps the 32-bit ``time_t`` ABI there, and the time
    fields are never read. The trailing padding is the kernel's reserved space.
    """

    _fields_ = (
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time", _Timeval),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_reserved", ctypes.c_int * 11),
    )


@functools.cache
def _adjtimex() -> Any:  # a ctypes foreign function: no better static type
    """Find libc's ``adjtimex``; raise OSError where there is none (macOS, Windows)."""
    try:
        function = ctypes.CDLL(None, use_errno=True).adjtimex
    except (OSError, AttributeError, TypeError) as exc:
        raise OSError(f"adjtimex(2) is not available here: {exc}") from exc
    function.argtypes = (ctypes.POINTER(_Timex),)
    function.restype = ctypes.c_int
    return function


def read_kernel_clock_state() -> tuple[int, int]:
    """Ask the kernel for the clock state, read-only (``modes = 0`` adjusts nothing).

    Returns:
        ``(state, status)``: adjtimex's return value and the ``status`` field.

    Raises:
        OSError: adjtimex(2) is not available, or failed (e.g. a seccomp filter denied it).
    """
    timex = _Timex()
    state = int(_adjtimex()(ctypes.byref(timex)))
    if state == -1:
        errno = ctypes.get_errno()
        raise OSError(errno, f"adjtimex: {os.strerror(errno)}")
    return state, int(timex.status)


class SystemClock:
    """This machine's clocks: the system time, ``CLOCK_MONOTONIC``, the boot id and adjtimex(2).

    ``CLOCK_MONOTONIC`` counts from boot and is shared by every process, so readings taken by a
    daemon before and after a restart still compare, as long as the boot id is the same.

    Args:
        boot_id_path: Where the kernel publishes the boot id; tests point it elsewhere.
    """

    def __init__(self, *, boot_id_path: Path = BOOT_ID_PATH) -> None:
        self._boot_id_path = boot_id_path
        self._boot_id: str | None = None
        self._lock = threading.Lock()
        self._sync_unknown_logged = False

    def utc_now(self) -> datetime:
        """Return the system time, aware, in UTC."""
        return datetime.now(UTC)

    def monotonic_ns(self) -> int:
        """Return ``CLOCK_MONOTONIC`` in nanoseconds."""
        return time.monotonic_ns()

    def boot_id(self) -> str:
        """Return the kernel's boot id, read once.

        Where the kernel offers none (not Linux), a random id for this process is used and a
        warning logged: the central then treats each daemon start as a new boot, which only
        costs it the chance to re-base earlier readings.
        """
        with self._lock:
            if self._boot_id is None:
                self._boot_id = self._read_boot_id()
            return self._boot_id

    def _read_boot_id(self) -> str:
        try:
            return str(uuid.UUID(self._boot_id_path.read_text(encoding="ascii").strip()))
        except (OSError, ValueError) as exc:
            fallback = str(uuid.uuid4())
            log.warning(
                "boot id unavailable path=%s error=%s; using per-process id=%s",
                self._boot_id_path,
                exc,
                fallback,
            )
            return fallback

    def is_synced(self) -> bool:
        """Return the kernel's view (see :func:`kernel_says_synced`); False if it cannot be read.

        The first failure is logged as a warning; later ones are not, since this is asked for
        every punch.
        """
        try:
            state, status = read_kernel_clock_state()
        except OSError as exc:
            with self._lock:
                first, self._sync_unknown_logged = not self._sync_unknown_logged, True
            if first:
                log.warning("clock sync state unknown, reporting unsynced error=%s", exc)
            return False
        return kernel_says_synced(state, status)


class FakeClock:
    """A clock the test drives: it moves only when told, and never sleeps.

    A full implementation of :class:`Clock`, not a mock: ``advance()`` moves wall and monotonic
    time together, ``set_time()`` steps only the wall clock (what NTP does to a Pi that booted
    with a stale time), ``reboot()`` starts a new boot, and ``synced`` is the flag
    :meth:`is_synced` reports.

    Args:
        start: The initial wall time; must be timezone-aware.
        synced: The initial value of :attr:`synced`.
        boot_id: The boot id to report.
        mono_ns: The initial monotonic reading.
    """

    START: Final = datetime(2026, 1, 5, 0, 30, tzinfo=UTC)
    """Monday 5 January 2026, 08:30 in Kupang (WITA, UTC+8): a plausible first punch."""
    BOOT_ID: Final = "00000000-0000-4000-8000-000000000001"

    def __init__(
        self,
        start: datetime = START,
        *,
        synced: bool = True,
        boot_id: str = BOOT_ID,
        mono_ns: int = 1_000_000_000,
    ) -> None:
        self._now = _as_utc(start)
        self._mono_ns = mono_ns
        self._boot_id = boot_id
        self._lock = threading.Lock()
        self.synced = synced

    def utc_now(self) -> datetime:
        """Return the fake wall time, aware, in UTC."""
        with self._lock:
            return self._now

    def monotonic_ns(self) -> int:
        """Return the fake monotonic reading."""
        with self._lock:
            return self._mono_ns

    def boot_id(self) -> str:
        """Return the fake boot id."""
        with self._lock:
            return self._boot_id

    def is_synced(self) -> bool:
        """Return :attr:`synced`."""
        return self.synced

    def advance(self, delta: float | timedelta) -> None:
        """Let time pass: move the wall and the monotonic clock forward together.

        Args:
            delta: Seconds, or a timedelta; must not be negative.

        Raises:
            ValueError: delta is negative; time that passes cannot go back (use ``set_time``).
        """
        if not isinstance(delta, timedelta):
            delta = timedelta(seconds=delta)
        if delta < timedelta(0):
            raise ValueError(f"advance: delta must be >= 0, got {delta}; use set_time() to step")
        with self._lock:
            self._now += delta
            self._mono_ns += delta // timedelta(microseconds=1) * 1000

    def set_time(self, at: datetime) -> None:
        """Step the wall clock to ``at`` (either way), as NTP does; monotonic time is unchanged.

        Args:
            at: The new wall time; must be timezone-aware.
        """
        at = _as_utc(at)
        with self._lock:
            self._now = at

    def reboot(self, *, boot_id: str | None = None, at: datetime | None = None) -> None:
        """Simulate a reboot: a new boot id, monotonic time from zero, clock not synchronized.

        Args:
            boot_id: The new boot's id; a random one when None.
            at: The wall time the Pi boots with (e.g. fake-hwclock's last save); unchanged when
                None.
        """
        new_now = None if at is None else _as_utc(at)
        with self._lock:
            self._boot_id = str(uuid.uuid4()) if boot_id is None else boot_id
            self._mono_ns = 0
            if new_now is not None:
                self._now = new_now
        self.synced = False


def _as_utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got naive {at.isoformat()}")
    return at.astimezone(UTC)
