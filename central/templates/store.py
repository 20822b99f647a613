"""Templates at rest, their state per terminal, the command outbox, deletions and the audit.

Every function runs in the caller's transaction. State changes follow one rule: a row that moves
to ``installing`` or ``deleting`` gets a fresh, unsent command (``command_id`` and ``sent_at``
cleared), which is what the dispatcher looks for; a row asked to redo the same work keeps its
command id and only loses ``sent_at``, so the terminal sees the same command again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Connection, insert, select, update

from central.schema import device_command, device_template, template, template_event
from wire import Command
from wire.identity import mask

log = logging.getLogger(__name__)

REPLACED_REASON = "replaced by re-enrollment"
CENTRAL_ACTOR = "central"


class State(StrEnum):
    """``device_template.state``."""

    INSTALLING = "installing"
    INSTALLED = "installed"
    FAILED = "failed"
    DELETING = "deleting"
    DELETED = "deleted"


PENDING = (State.INSTALLING.value, State.DELETING.value)
"""States the dispatcher has work for."""


@dataclass(frozen=True, slots=True)
class TemplateRow:
    """One template's record (never its bytes)."""

    id: str
    person_id: int
    finger: str
    source_device: str
    deleted: bool


def audit(
    conn: Connection,
    now: datetime,
    action: str,
    *,
    actor: str,
    template_id: str | None = None,
    device_id: str | None = None,
    detail: str = "",
) -> None:
    """Record one audit event and log it as one key=value line (never template bytes)."""
    conn.execute(
        insert(template_event).values(
            at=now,
            template_id=template_id,
            device_id=device_id,
            action=action,
            actor=actor[:128],
            detail=detail[:2000],
        )
    )
    log.info(
        "template event action=%s template=%s device=%s actor=%s detail=%r",
        action,
        template_id,
        device_id,
        actor,
        detail,
    )


def get_template(conn: Connection, template_id: str) -> TemplateRow | None:
    """The record of ``template_id``, deleted or not."""
    row = conn.execute(
        select(
            template.c.id,
            template.c.person_id,
            template.c.finger,
            template.c.source_device,
            template.c.deleted_at,
        ).where(template.c.id == template_id)
    ).first()
    if row is None:
        return None
    return TemplateRow(
        str(row.id), int(row.person_id), row.finger, row.source_device, row.deleted_at is not None
    )


def known_ids(conn: Connection, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` have a template record (deleted ones included)."""
    found: set[str] = set()
    for i in range(0, len(ids), 500):
        chunk = list(ids[i : i + 500])
        found |= set(conn.execute(select(template.c.id).where(template.c.id.in_(chunk))).scalars())
    return found


def refused_ids(conn: Connection, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` the central refused (no record, only a ``refused`` audit event)."""
    found: set[str] = set()
    for i in range(0, len(ids), 500):
        chunk = list(ids[i : i + 500])
        found |= set(
            conn.execute(
                select(template_event.c.template_id).where(
                    template_event.c.template_id.in_(chunk), template_event.c.action == "refused"
                )
            ).scalars()
        )
    return found


def set_state(
    conn: Connection,
    device_id: str,
    template_id: str,
    state: State,
    now: datetime,
    *,
    detail: str | None = None,
    redo: bool = False,
) -> bool:
    """Put one terminal's copy of a template in ``state``; True if the state changed.

    ``redo``: the row is already in ``state`` but its command must go out again now (the
    terminal reported that it still lacks, or still holds, the template).
    """
    key = (device_template.c.device_id == device_id) & (
        device_template.c.template_id == template_id
    )
    old = conn.execute(select(device_template.c.state).where(key)).scalar_one_or_none()
    if old is None:
        conn.execute(
            insert(device_template).values(
                device_id=device_id,
                template_id=template_id,
                state=state.value,
                attempts=0,
                detail=detail,
                updated_at=now,
            )
        )
        return True
    if old != state.value:
        conn.execute(
            update(device_template)
            .where(key)
            .values(
                state=state.value,
                command_id=None,
                sent_at=None,
                attempts=0,
                detail=detail,
                updated_at=now,
            )
        )
        return True
    if redo and state.value in PENDING:
        conn.execute(update(device_template).where(key).values(sent_at=None, updated_at=now))
    return False


def holders(conn: Connection, template_id: str) -> list[tuple[str, str]]:
    """``(device, state)`` of every terminal that holds or may hold a template."""
    rows = conn.execute(
        select(device_template.c.device_id, device_template.c.state)
        .where(
            device_template.c.template_id == template_id,
            device_template.c.state != State.DELETED.value,
        )
        .order_by(device_template.c.device_id)
    )
    return [(str(r.device_id), str(r.state)) for r in rows]


def queue_command(
    conn: Connection,
    device_id: str,
    command: Command,
    now: datetime,
    *,
    by: str = CENTRAL_ACTOR,
    template_id: str | None = None,
) -> None:
    """Put a stateless command in the outbox; the dispatcher publishes it once."""
    conn.execute(
        insert(device_command).values(
            id=command.id,
            device_id=device_id,
            action=command.action.value,
            template_id=template_id,
            params=json.dumps(dict(command.params), sort_keys=True),
            created_at=now,
            created_by=by[:128],
        )
    )


def delete_template(
    conn: Connection,
    template_id: str,
    now: datetime,
    *,
    by: str,
    reason: str,
    done_at: str | None = None,
) -> int:
    """Delete a template everywhere: erase the sealed box, send deletes to every holder.

    ``by`` is who asked (an operator, or ``technician@terminal``), ``reason`` why, for the audit;
    ``done_at`` a terminal that already deleted it (a deletion that terminal reported). Returns
    how many terminals were sent a delete.
    """
    erased = conn.execute(
        update(template)
        .where(template.c.id == template_id, template.c.deleted_at.is_(None))
        .values(sealed=None, deleted_at=now, deleted_by=by[:128], deleted_reason=reason)
    ).rowcount
    sent = 0
    for dev, _state in holders(conn, template_id):
        if dev == done_at:
            set_state(conn, dev, template_id, State.DELETED, now, detail="deleted at the terminal")
        else:
            set_state(conn, dev, template_id, State.DELETING, now)
            sent += 1
    if done_at is not None:
        set_state(conn, done_at, template_id, State.DELETED, now, detail="deleted at the terminal")
    if erased:
        audit(
            conn,
            now,
            "deleted",
            actor=by,
            template_id=template_id,
            device_id=done_at,
            detail=f"{reason}; delete sent to {sent} terminal(s)",
        )
    return sent


def active_templates_of(conn: Connection, person_id: int, finger: str | None = None) -> list[str]:
    """The ids of a person's active templates (one finger, or all)."""
    where = (template.c.person_id == person_id) & template.c.deleted_at.is_(None)
    if finger is not None:
        where &= template.c.finger == finger
    return list(conn.execute(select(template.c.id).where(where).order_by(template.c.id)).scalars())


def delete_person(
    conn: Connection,
    person_id: int,
    number: str,
    now: datetime,
    *,
    by: str,
    reason: str,
    finger: str | None = None,
) -> list[str]:
    """Delete a person's templates (one finger or all) everywhere; returns their ids."""
    ids = active_templates_of(conn, person_id, finger)
    for tid in ids:
        delete_template(
            conn, tid, now, by=by, reason=f"{reason} (person {mask(number)}, operator request)"
        )
    return ids
