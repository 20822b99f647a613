"""Check and rebuild ``daily_status_month``, the totals the recap reads instead of the days.

Triggers on ``daily_status`` keep the totals (migration 0007), whoever writes the days. What
could still make them wrong is outside any transaction: a restore of one table without the
other, a hand edit of the totals, a trigger dropped by someone. So a month is checked against
its days (:func:`differences`, one grouped read of the month, about a second for 11,000 people)
before it is finalised, and ``hadir-central recap check|rebuild`` do it on demand.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from central.attendance.recap_model import Month
from central.attendance.recap_sql import month_key, totals_filter, totals_query
from central.schema.attendance import daily_status_month

log = logging.getLogger(__name__)

_T = daily_status_month
_KEYS = ("person_id", "unit_key", "ruleset_version", "calendar_version")
_TOTALS = tuple(c.name for c in _T.columns if c.name not in ("month", *_KEYS))


def _rows(conn: Connection, query: Any) -> dict[tuple[Any, ...], tuple[int, ...]]:
    out: dict[tuple[Any, ...], tuple[int, ...]] = {}
    for row in conn.execute(query).mappings():
        out[tuple(row[k] for k in _KEYS)] = tuple(int(row[c]) for c in _TOTALS)
    return out


def differences(conn: Connection, month: str | Month, unit_id: int | None = None) -> list[str]:
    """How the stored totals of a month (of one unit) differ from its days; empty: they agree.

    Each item names the person, unit key and versions, and the totals that differ as
    ``column stored/from the days``.
    """
    m = Month.parse(month)
    stored = _rows(conn, select(_T).where(*totals_filter(m, unit_id, None)))
    days = _rows(conn, totals_query(m, unit_id, dialect=conn.dialect.name))
    out: list[str] = []
    for key in sorted(stored.keys() | days.keys(), key=lambda k: (k[0], k[1], k[2], k[3])):
        have, want = stored.get(key), days.get(key)
        if have == want:
            continue
        where = "person {} unit {} versions {}/{}".format(*key)
        if have is None:
            out.append(f"{where}: no totals for {want[0] if want else 0} days")
        elif want is None:
            out.append(f"{where}: totals without days")
        else:
            moved = ", ".join(
                f"{c} {a}/{b}" for c, a, b in zip(_TOTALS, have, want, strict=True) if a != b
            )
            out.append(f"{where}: {moved}")
    return out


def rebuild(conn: Connection, month: str | Month) -> int:
    """Replace a month's totals by those grouped from its days; returns the rows written."""
    m = Month.parse(month)
    conn.execute(delete(_T).where(_T.c.month == month_key(m)))
    query = totals_query(m, dialect=conn.dialect.name)
    conn.execute(insert(_T).from_select([c.name for c in query.selected_columns], query))
    # Counted, not rowcount: psycopg does not report one for this INSERT ... SELECT.
    written = conn.execute(
        select(func.count()).select_from(_T).where(_T.c.month == month_key(m))
    ).scalar_one()
    log.warning("monthly totals rebuilt from the daily status month=%s rows=%d", m, written)
    return int(written)


__all__ = ["differences", "rebuild"]
