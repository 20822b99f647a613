"""Listings for operators: templates with their state per terminal, and counts per terminal.

Person numbers are masked (a NIP carries a birth date) and no template bytes are ever read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, func, select

from central.schema import device, device_key, device_template, person, template
from central.templates import scope
from central.templates.store import State
from wire.identity import mask


@dataclass(frozen=True, slots=True)
class TemplateLine:
    """One template as ``template list`` shows it."""

    id: str
    person: str  # masked
    name: str
    finger: str
    source: str
    enrolled_at: datetime
    deleted: bool
    states: dict[str, str]  # device -> state


def list_templates(
    conn: Connection,
    *,
    person_id: int | None = None,
    device_id: str | None = None,
    include_deleted: bool = False,
) -> list[TemplateLine]:
    """Templates (a person's, or those a terminal has a row for), with their state per terminal."""
    q = select(
        template.c.id,
        template.c.person_id,
        template.c.finger,
        template.c.source_device,
        template.c.enrolled_at,
        template.c.deleted_at,
    ).order_by(template.c.enrolled_at, template.c.id)
    if person_id is not None:
        q = q.where(template.c.person_id == person_id)
    if not include_deleted:
        q = q.where(template.c.deleted_at.is_(None))
    if device_id is not None:
        q = q.where(
            template.c.id.in_(
                select(device_template.c.template_id).where(
                    device_template.c.device_id == device_id
                )
            )
        )
    rows = conn.execute(q).all()
    numbers = scope.current_numbers(conn, [int(r.person_id) for r in rows])
    # The masked number alone is ambiguous (two NIPs often end alike); operators know names.
    names = {
        int(pid): str(name)
        for pid, name in conn.execute(
            select(person.c.id, person.c.name).where(
                person.c.id.in_(sorted({int(r.person_id) for r in rows}))
            )
        )
    }
    states: dict[str, dict[str, str]] = {}
    ids = [str(r.id) for r in rows]
    for i in range(0, len(ids), 500):
        for s in conn.execute(
            select(
                device_template.c.template_id, device_template.c.device_id, device_template.c.state
            ).where(device_template.c.template_id.in_(ids[i : i + 500]))
        ):
            states.setdefault(str(s.template_id), {})[str(s.device_id)] = str(s.state)
    return [
        TemplateLine(
            id=str(r.id),
            person=mask(numbers.get(int(r.person_id), "")),
            name=names.get(int(r.person_id), ""),
            finger=r.finger,
            source=r.source_device,
            enrolled_at=r.enrolled_at,
            deleted=r.deleted_at is not None,
            states=dict(sorted(states.get(str(r.id), {}).items())),
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class DeviceCounts:
    """One terminal's template states, and whether it has announced its key."""

    device: str
    has_key: bool
    counts: dict[str, int]
    stuck: int  # pending work sent long ago and not answered, or waiting for a key


def status(conn: Connection, now: datetime, stuck_after: timedelta) -> list[DeviceCounts]:
    """Counts per terminal and state; "stuck" = pending and unanswered past ``stuck_after``."""
    counts: dict[str, dict[str, int]] = {}
    for dev, state, n in conn.execute(
        select(device_template.c.device_id, device_template.c.state, func.count()).group_by(
            device_template.c.device_id, device_template.c.state
        )
    ):
        counts.setdefault(str(dev), {})[str(state)] = int(n)
    keyed = set(conn.execute(select(device_key.c.device_id)).scalars())
    stuck: dict[str, int] = {}
    pending = conn.execute(
        select(
            device_template.c.device_id,
            device_template.c.state,
            device_template.c.sent_at,
            device_template.c.updated_at,
        ).where(device_template.c.state.in_([State.INSTALLING.value, State.DELETING.value]))
    )
    for r in pending:
        since = r.sent_at or r.updated_at
        no_key = r.state == State.INSTALLING.value and r.device_id not in keyed
        if no_key or now - since > stuck_after:
            stuck[str(r.device_id)] = stuck.get(str(r.device_id), 0) + 1
    devices = conn.execute(select(device.c.id).order_by(device.c.id)).scalars()
    return [
        DeviceCounts(str(d), d in keyed, counts.get(str(d), {}), stuck.get(str(d), 0))
        for d in devices
    ]
