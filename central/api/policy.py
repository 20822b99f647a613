"""The §6.3 integrity policy for Android check-ins and pings, as pure functions.

Nothing here touches the database or the clock: callers pass the fix, the person's sites and the
server time, and get back either a :class:`Refusal` (a stable reason code, an HTTP status and a
message in Bahasa Indonesia with the English beside it) or ``None``. The order in which the API
applies the checks is :func:`evaluate_checkin`'s, so a test of that one function covers it.

How distance and accuracy combine (domain-id.md §6.3 rule 2): Android's accuracy is the radius of
a 68 % circle around the fix, so a fix is never a point. The default rule (``CENTER``) accepts when
the fix's centre lies inside the fence (distance ≤ radius) **and** the circle is small enough
(accuracy ≤ the site's maximum, itself never above the radius). The stricter rule (``CIRCLE``)
needs the whole 68 % circle inside the fence (distance + accuracy ≤ radius); it refuses more often
indoors, which is why it is a setting and not the default.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from central.api.geo import haversine_m

FINGERPRINT_ONLY = "fingerprint"
"""``unit.channel`` value that forbids mobile check-ins (domain-id.md §6.4)."""


class Code(enum.StrEnum):
    """Reason codes stored with every refused check-in and returned to the app."""

    MOCK_LOCATION = "mock_location"
    CLOCK_AHEAD = "clock_ahead"
    CLOCK_STALE = "clock_stale"
    NO_SITE = "no_site"
    ACCURACY_TOO_LOW = "accuracy_too_low"
    OUTSIDE_GEOFENCE = "outside_geofence"
    FINGERPRINT_ONLY = "fingerprint_only"
    DEVICE_MISMATCH = "device_mismatch"


class GeofenceRule(enum.StrEnum):
    """How a fix's distance and its accuracy combine; see the module docstring."""

    CENTER = "center"
    CIRCLE = "circle"


# Monday..Sunday. Perpres 21/2023 as laid out in domain-id.md §2.2 (Kupang to confirm); used for
# pings until the schedule module gives each person's own hours.
DEFAULT_WORK_HOURS: tuple[tuple[time, time] | None, ...] = (
    (time(7, 30), time(16, 0)),
    (time(7, 30), time(16, 0)),
    (time(7, 30), time(16, 0)),
    (time(7, 30), time(16, 0)),
    (time(7, 30), time(16, 30)),
    None,
    None,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicySettings:
    """The knobs of §6.3; the defaults are domain-id.md §10's ``mobile:`` block.

    Attributes:
        reject_mock: Refuse a fix the app reports as mock (``Location.isMock()``).
        max_ahead_s: How far the phone's clock may run ahead of the server.
        max_stale_s: How old a check-in may be when it arrives. Offline queues are not accepted
            yet (§6.3 rule 3 wants a GNSS fix time and a sequence number for those).
        default_radius_m: Geofence radius for a site that has none.
        default_accuracy_max_m: Worst accepted accuracy for a site that sets none.
        geofence_rule: ``CENTER`` (default) or ``CIRCLE``.
        timezone: Where work hours are read (WITA, no daylight saving).
        work_hours: Monday..Sunday (start, end) local times, ``None`` for a day off.
    """

    reject_mock: bool = True
    max_ahead_s: float = 300.0
    max_stale_s: float = 300.0
    default_radius_m: float = 100.0
    default_accuracy_max_m: float = 50.0
    geofence_rule: GeofenceRule = GeofenceRule.CENTER
    timezone: str = "Asia/Makassar"
    work_hours: tuple[tuple[time, time] | None, ...] = field(default=DEFAULT_WORK_HOURS)


#: The HTTP status of each refusal: 403 for a policy the person cannot fix on the spot, 401 for a
#: phone that is not theirs, 422 for a check-in that failed an integrity check.
HTTP_STATUS: dict[Code, int] = {
    Code.NO_SITE: 403,
    Code.FINGERPRINT_ONLY: 403,
    Code.DEVICE_MISMATCH: 401,
}


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a check-in was refused: a stable code and a bilingual message."""

    code: Code
    message: str

    @property
    def status(self) -> int:
        """The HTTP status the API answers with."""
        return http_status(self.code)


def http_status(code: str) -> int:
    """The HTTP status of a stored reason code (422 for one this version does not know)."""
    try:
        return HTTP_STATUS.get(Code(code), 422)
    except ValueError:
        return 422


@dataclass(frozen=True, slots=True)
class Fix:
    """One GPS fix as the app reports it (WGS-84 degrees; accuracy in metres at 68 %)."""

    lat: float
    lon: float
    accuracy_m: float


@dataclass(frozen=True, slots=True)
class SiteFence:
    """What the policy needs to know about one of the person's sites.

    Attributes:
        site_id: The site's id in the registry.
        name: Shown to the person in refusal messages.
        lat: Centre latitude.
        lon: Centre longitude.
        radius_m: Geofence radius, or ``None`` for the settings' default.
        accuracy_max_m: Worst accepted accuracy, or ``None`` for the default.
        channel: The channel policy in force for the person here (their unit's).
        fallback_open: An operator opened mobile check-in here (fingerprint terminal down).
    """

    site_id: str
    name: str
    lat: float
    lon: float
    radius_m: float | None = None
    accuracy_max_m: float | None = None
    channel: str = "either"
    fallback_open: bool = False


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a fix lies relative to one site.

    Attributes:
        site: The site.
        distance_m: From the site's centre to the fix's centre.
        radius_m: The effective radius.
        accuracy_max_m: The effective accuracy limit (never above the radius).
        inside: ``True`` if the fix passes the rule, ``False`` if it is outside even allowing
            for its accuracy (distance - accuracy > radius), ``None`` if it cannot be told.
        centre_inside: The fix's centre is within the radius (the accuracy aside).
    """

    site: SiteFence
    distance_m: float
    radius_m: float
    accuracy_max_m: float
    inside: bool | None
    centre_inside: bool


def _m(value: float) -> int:
    return round(value)


def check_mock(mock: bool, settings: PolicySettings) -> Refusal | None:
    """Rule 1: a mock location is refused (and, by the caller, recorded for the supervisor)."""
    if mock and settings.reject_mock:
        return Refusal(
            Code.MOCK_LOCATION,
            "Lokasi palsu (mock location) terdeteksi; absen ditolak dan dicatat "
            "(Mock location detected; check-in refused and recorded)",
        )
    return None


def check_clock(
    client_time: datetime, server_time: datetime, settings: PolicySettings
) -> Refusal | None:
    """Rule 3: the server's time is authoritative; the phone's may only be a little off.

    Args:
        client_time: When the phone says the check-in happened (aware).
        server_time: When the server received it (aware, UTC).
        settings: The limits.

    Returns:
        ``clock_ahead`` when the phone is too far in the future, ``clock_stale`` when the
        check-in is too old, else ``None``.
    """
    skew_s = (client_time - server_time).total_seconds()
    if skew_s > settings.max_ahead_s:
        minutes = max(1, round(skew_s / 60))
        return Refusal(
            Code.CLOCK_AHEAD,
            f"Jam HP {minutes} menit lebih cepat dari jam server; aktifkan tanggal & jam otomatis "
            f"(Phone clock is {minutes} min ahead of server time; turn on automatic date & time)",
        )
    if -skew_s > settings.max_stale_s:
        minutes = max(1, round(-skew_s / 60))
        return Refusal(
            Code.CLOCK_STALE,
            f"Waktu absen sudah {minutes} menit lewat; silakan absen ulang sekarang "
            f"(Check-in time is {minutes} min old; please check in again now)",
        )
    return None


def place(fix: Fix, site: SiteFence, settings: PolicySettings) -> Placement:
    """Measure ``fix`` against one site under the configured rule."""
    radius = site.radius_m if site.radius_m is not None else settings.default_radius_m
    limit = (
        site.accuracy_max_m
        if site.accuracy_max_m is not None
        else (settings.default_accuracy_max_m)
    )
    # §6.3 rule 2: the accuracy limit is never above the radius, or a fix could be accepted
    # while most of its 68 % circle lies outside the fence.
    limit = min(limit, radius)
    distance = haversine_m(fix.lat, fix.lon, site.lat, site.lon)
    centre_inside = distance <= radius
    if settings.geofence_rule is GeofenceRule.CIRCLE:
        passes = distance + fix.accuracy_m <= radius and fix.accuracy_m <= limit
    else:
        passes = centre_inside and fix.accuracy_m <= limit
    inside: bool | None
    if passes:
        inside = True
    elif distance - fix.accuracy_m > radius:
        inside = False
    else:
        inside = None
    return Placement(site, distance, radius, limit, inside, centre_inside)


def nearest(placements: Iterable[Placement]) -> Placement | None:
    """The placement to report: an accepted one if any (the closest), else the nearest fence."""
    ordered = sorted(placements, key=lambda p: (p.inside is not True, p.distance_m - p.radius_m))
    return ordered[0] if ordered else None


def check_geofence(
    fix: Fix, sites: Sequence[SiteFence], settings: PolicySettings
) -> tuple[Placement | None, Refusal | None]:
    """Rule 2 over all of the person's sites.

    Returns:
        The placement to store (the accepting site, else the nearest fence) and ``None``, or the
        placement and the refusal: ``no_site`` (403) without sites, ``accuracy_too_low`` when the
        fix's centre is inside a fence but the fix is too vague, else ``outside_geofence``.
    """
    placements = [place(fix, s, settings) for s in sites]
    best = nearest(placements)
    if best is None:
        return None, Refusal(
            Code.NO_SITE,
            "Belum ada lokasi kantor yang terdaftar untuk Anda; hubungi operator "
            "(No office location is registered for you; contact the operator)",
        )
    if best.inside is True:
        return best, None
    vague = [p for p in placements if p.centre_inside]
    if vague:
        p = min(vague, key=lambda q: q.distance_m)
        acc, lim = _m(fix.accuracy_m), _m(p.accuracy_max_m)
        return p, Refusal(
            Code.ACCURACY_TOO_LOW,
            f"Akurasi GPS kurang (±{acc} m, maksimal {lim} m di {p.site.name}); tunggu sinyal "
            f"GPS lebih baik (GPS accuracy too low: ±{acc} m, at most {lim} m at "
            f"{p.site.name}; wait for a better fix)",
        )
    d, r, name = _m(best.distance_m), _m(best.radius_m), best.site.name
    return best, Refusal(
        Code.OUTSIDE_GEOFENCE,
        f"Di luar area kantor ({d} m dari {name}, radius {r} m) "
        f"(Outside the office area: {d} m from {name}, radius {r} m)",
    )


DEVICE_MISMATCH = Refusal(
    Code.DEVICE_MISMATCH,
    "HP ini tidak terdaftar untuk akun Anda; minta operator mendaftarkannya "
    "(This phone is not bound to your account; ask the operator to bind it)",
)
"""A valid token from another phone than the bound one (§6.3 rule 5)."""


def check_channel(site: SiteFence) -> Refusal | None:
    """§6.4: a "fingerprint only" unit may not check in by phone unless the site's fallback is open.

    Returns:
        ``fingerprint_only`` (HTTP 403, a policy and not an integrity failure), or ``None``.
    """
    if site.channel == FINGERPRINT_ONLY and not site.fallback_open:
        return Refusal(
            Code.FINGERPRINT_ONLY,
            f"Unit Anda memakai absen sidik jari; absen lewat HP belum dibuka di {site.name} "
            f"(Your unit uses fingerprint attendance; mobile check-in is not open at "
            f"{site.name})",
        )
    return None


def evaluate_checkin(
    *,
    fix: Fix,
    mock: bool,
    client_time: datetime,
    server_time: datetime,
    sites: Sequence[SiteFence],
    settings: PolicySettings,
) -> tuple[Placement | None, Refusal | None]:
    """All of §6.3 for one check-in, in the order the reasons are reported.

    Mock location comes first (it is fraud, and the supervisor must see it as such whatever
    else is wrong), then the clock, then the geofence (which decides the site), then the
    channel policy of that site.

    Returns:
        The placement (``None`` only when the person has no site) and the first refusal, or
        ``None`` when the check-in is accepted.
    """
    placement = None
    if sites:
        placement = nearest(place(fix, s, settings) for s in sites)
    for early in (check_mock(mock, settings), check_clock(client_time, server_time, settings)):
        if early is not None:
            return placement, early
    placement, refusal = check_geofence(fix, sites, settings)
    if refusal is not None or placement is None:
        return placement, refusal
    return placement, check_channel(placement.site)


def classify_ping(
    fix: Fix, mock: bool, sites: Sequence[SiteFence], settings: PolicySettings
) -> Placement | None:
    """Where a location ping lies: the nearest placement, whose ``inside`` may be ``None``.

    A mock ping is never "inside" nor "outside" (``inside=None``): it proves nothing about where
    the phone is. The caller stores the mock flag for review.
    """
    best = nearest(place(fix, s, settings) for s in sites)
    if best is not None and mock:
        return Placement(
            best.site, best.distance_m, best.radius_m, best.accuracy_max_m, None, best.centre_inside
        )
    return best


def window_utc(
    day: date, hours: tuple[time, time] | None, settings: PolicySettings
) -> tuple[datetime, datetime] | None:
    """The UTC (start, end) of local ``hours`` on local ``day``, or ``None`` on a day off."""
    if hours is None:
        return None
    zone = ZoneInfo(settings.timezone)
    start = datetime.combine(day, hours[0], zone).astimezone(UTC)
    end = datetime.combine(day, hours[1], zone).astimezone(UTC)
    return start, end


def default_window(day: date, settings: PolicySettings) -> tuple[datetime, datetime] | None:
    """The settings' default work hours on ``day`` (for a person without a schedule).

    Holidays are not known here (the holiday calendar is another module's): a ping on a public
    holiday that falls on a weekday is treated as in work hours.
    """
    return window_utc(day, settings.work_hours[day.weekday()], settings)


def local_day(at: datetime, settings: PolicySettings) -> date:
    """The local calendar date of an aware instant."""
    return at.astimezone(ZoneInfo(settings.timezone)).date()


def within(at: datetime, windows: Iterable[tuple[datetime, datetime]]) -> bool:
    """Whether ``at`` lies in one of ``windows`` (ends included)."""
    return any(start <= at <= end for start, end in windows)


@dataclass(frozen=True, slots=True)
class Interval:
    """A stretch of work hours in which the person's pings placed them outside every site.

    Attributes:
        start: The first ping outside.
        end: The first ping back inside, or the last ping outside when none came back.
        pings: How many outside pings the interval holds.
        returned: An inside ping closed the interval (else it ends at the last evidence).
    """

    start: datetime
    end: datetime
    pings: int
    returned: bool

    @property
    def minutes(self) -> float:
        """Length in minutes."""
        return (self.end - self.start) / timedelta(minutes=1)


def outside_intervals(
    pings: Iterable[tuple[datetime, bool | None]], window: tuple[datetime, datetime]
) -> list[Interval]:
    """Turn a day's pings into "outside the office area" intervals within the work window.

    An interval opens at the first ping that is certainly outside and closes at the next ping
    that is inside. Pings that cannot tell (vague accuracy, mock) neither open nor close one, so
    bad GPS indoors never counts against the person. An interval still open at the last ping ends
    there: nothing is claimed beyond the last evidence.

    Args:
        pings: ``(server_time, inside)`` in any order.
        window: The UTC work window; pings outside it are ignored.

    Returns:
        The intervals in time order.
    """
    start_w, end_w = window
    result: list[Interval] = []
    opened: datetime | None = None
    last_out: datetime | None = None
    count = 0
    for at, inside in sorted(pings, key=lambda p: p[0]):
        if not start_w <= at <= end_w or inside is None:
            continue
        if inside is False:
            if opened is None:
                opened, count = at, 0
            count += 1
            last_out = at
        elif opened is not None:
            result.append(Interval(opened, at, count, returned=True))
            opened = None
    if opened is not None and last_out is not None:
        result.append(Interval(opened, last_out, count, returned=False))
    return result
