"""The central's own fallback switch: mobile check-in opens at a site whose terminals are down.

An operator can open it by hand (``POST /v1/sites/{id}/mobile-fallback``). When every terminal of
a site has been offline (last will, or no heartbeat) for longer than ``offline_after``, the
central opens it itself, and closes it again once a terminal is back, but only if it was the one
that opened it: an operator's decision is never undone automatically. Each change is logged in
``mobile_fallback_event`` like the operator's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, insert, select

from central.registry import close_mobile_fallback, open_mobile_fallback
from central.schema import device, mobile_fallback_event, site

log = logging.getLogger(__name__)

AUTOMATIC = "central (otomatis)"


@dataclass(frozen=True, slots=True)
class Change:
    """One switch the central flipped."""

    site_id: str
    opened: bool
    reason: str


def _down_since(
    rows: list[tuple[bool, datetime | None]], now: datetime, offline_after: timedelta
) -> bool:
    for online, last in rows:
        if online and last is not None and now - last < offline_after * 3:
            return False  # alive: heartbeats every 30 s; three missed ones are not "down" yet
        if last is not None and now - last < offline_after:
            return False
    return True


def review_sites(conn: Connection, now: datetime, offline_after: timedelta) -> list[Change]:
    """Open or close the automatic fallback of every site with terminals; return the changes."""
    terminals: dict[str, list[tuple[bool, datetime | None]]] = {}
    for dev_site, online, last in conn.execute(
        select(device.c.site_id, device.c.online, device.c.last_status_at).where(
            device.c.site_id.is_not(None)
        )
    ):
        terminals.setdefault(str(dev_site), []).append((bool(online), last))
    changes: list[Change] = []
    for site_id, is_open, opened_by in conn.execute(
        select(site.c.id, site.c.mobile_fallback_open, site.c.mobile_fallback_opened_by).where(
            site.c.id.in_(list(terminals))
        )
    ):
        down = _down_since(terminals[site_id], now, offline_after)
        if down and not is_open:
            minutes = int(offline_after.total_seconds() // 60)
            reason = (
                f"semua terminal offline lebih dari {minutes} menit "
                f"(all terminals offline for more than {minutes} min)"
            )
            open_mobile_fallback(conn, site_id, reason=reason, by=AUTOMATIC, now=now)
            changes.append(Change(site_id, True, reason))
        elif not down and is_open and opened_by == AUTOMATIC:
            reason = "terminal kembali online (a terminal is back online)"
            close_mobile_fallback(conn, site_id)
            changes.append(Change(site_id, False, reason))
    for c in changes:
        conn.execute(
            insert(mobile_fallback_event).values(
                site_id=c.site_id, open=c.opened, reason=c.reason, operator=AUTOMATIC, at=now
            )
        )
        log.warning(
            "mobile fallback %s site=%s (automatic)", "opened" if c.opened else "closed", c.site_id
        )
    return changes
