"""What the collector does with a terminal's template reports and its command results.

Each handler runs inside the collector's transaction and returns an :class:`Outcome`; the
collector stores the dead letter (with :func:`redacted` payload) and acknowledges the message
to the broker after the commit, as it does for punches. A refusal is not an error of the
terminal's: it is answered (``delete_template`` + ``template_received``) so the terminal stops
re-sending, and kept as a dead letter and an audit event for the operator.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import Connection, insert, select, update

from central.registry import find_person
from central.schema import device, device_command, device_template, template
from central.templates import diff, scope
from central.templates.store import (
    REPLACED_REASON,
    State,
    active_templates_of,
    audit,
    delete_template,
    get_template,
    queue_command,
    set_state,
)
from wire import Action, CommandResult
from wire.identity import mask
from wire.sealing import SealError, open_sealed, unb64
from wire.sync import (
    Deleted,
    Enrolled,
    Inventory,
    TemplateKind,
    TemplateMessage,
    received_command,
    template_command,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the collector must do after handling one message.

    Attributes:
        dead_letter: a reason to keep the message as a dead letter, or None.
        queued: the dispatcher has new work (wake it after the commit).
    """

    dead_letter: str | None = None
    queued: bool = False


def redacted(payload: bytes) -> bytes:
    """A templates-topic payload fit for the dead-letter table: any ``sealed`` box removed."""
    try:
        obj = json.loads(payload)
    except ValueError:
        # Unparseable: it may still hold a box, so keep nothing of it (the size is recorded).
        return b""
    if not isinstance(obj, dict):
        return b""
    if "sealed" in obj:
        size = len(obj["sealed"]) if isinstance(obj["sealed"], str) else 0
        obj["sealed"] = f"<removed: {size} characters>"
    return json.dumps(obj, ensure_ascii=True, sort_keys=True).encode()


def _registered(conn: Connection, device_id: str) -> bool:
    return conn.execute(select(device.c.id).where(device.c.id == device_id)).first() is not None


def handle(
    conn: Connection, message: TemplateMessage, central_key: X25519PrivateKey, now: datetime
) -> Outcome:
    """Store one decoded ``.../templates`` message."""
    if not _registered(conn, message.device):
        return Outcome(
            dead_letter=f"unknown device {message.device!r}: "
            "register it with 'hadir-central device add'"
        )
    if isinstance(message, Enrolled):
        return enrolled(conn, message, central_key, now)
    if isinstance(message, Deleted):
        return deleted(conn, message, now)
    return inventory(conn, message, now)


def _received(conn: Connection, message: Enrolled | Deleted, now: datetime) -> None:
    # The terminal re-sends its report on every connect until this arrives.
    # Naming the kind: confirming an enrollment must not drop a deletion queued behind it.
    kind = TemplateKind.ENROLLED if isinstance(message, Enrolled) else TemplateKind.DELETED
    queue_command(
        conn, message.device, received_command(message.id, kind), now, template_id=message.id
    )


def _refuse(conn: Connection, message: Enrolled, reason: str, now: datetime) -> Outcome:
    queue_command(
        conn,
        message.device,
        template_command(Action.DELETE_TEMPLATE, message.id),
        now,
        template_id=message.id,
    )
    _received(conn, message, now)
    audit(
        conn,
        now,
        "refused",
        actor=f"{message.by}@{message.device}",
        template_id=message.id,
        device_id=message.device,
        detail=f"{reason}; person {mask(message.person)} finger {message.finger}; "
        "delete sent to the terminal",
    )
    return Outcome(dead_letter=f"enrollment {message.id} refused: {reason}", queued=True)


def enrolled(
    conn: Connection, message: Enrolled, central_key: X25519PrivateKey, now: datetime
) -> Outcome:
    """Store an enrollment (idempotent by template id) and queue its installs everywhere."""
    known = get_template(conn, message.id)
    if known is not None:
        # A re-sent report (our template_received was lost). If the template was deleted
        # since, the terminal still holds it: tell it again.
        if known.deleted:
            set_state(conn, message.device, message.id, State.DELETING, now, redo=True)
        _received(conn, message, now)
        return Outcome(queued=True)
    person = find_person(conn, message.person)
    if person is None:
        return _refuse(conn, message, "unknown person number", now)
    if not person.active:
        return _refuse(conn, message, "person is not active", now)
    try:
        box = unb64(message.sealed, "sealed")
        # Opened only to prove the box is ours and whole; the plain template is dropped here.
        open_sealed(box, central_key, message.id)
    except SealError:
        return _refuse(conn, message, "sealed template does not open with the central key", now)
    actor = f"{message.by}@{message.device}"
    for old in active_templates_of(conn, person.id, message.finger):
        delete_template(conn, old, now, by=actor, reason=REPLACED_REASON)
        audit(
            conn,
            now,
            "replaced",
            actor=actor,
            template_id=old,
            device_id=message.device,
            detail=f"by template {message.id}",
        )
    conn.execute(
        insert(template).values(
            id=message.id,
            person_id=person.id,
            finger=message.finger,
            sealed=box,
            source_device=message.device,
            enrolled_by=message.by[:128],
            enrolled_at=message.at,
            received_at=now,
        )
    )
    set_state(conn, message.device, message.id, State.INSTALLED, now, detail="enrolled here")
    targets = [
        d for d in scope.target_devices(conn, person.id, message.device) if d != message.device
    ]
    for dev in targets:
        set_state(conn, dev, message.id, State.INSTALLING, now)
    _received(conn, message, now)
    audit(
        conn,
        now,
        "enrolled",
        actor=actor,
        template_id=message.id,
        device_id=message.device,
        detail=f"person {mask(message.person)} finger {message.finger}; "
        f"install queued for {len(targets)} terminal(s)",
    )
    return Outcome(queued=True)


def deleted(conn: Connection, message: Deleted, now: datetime) -> Outcome:
    """A technician deleted a finger at a terminal: delete it everywhere."""
    actor = f"{message.by}@{message.device}"
    if get_template(conn, message.id) is None:
        audit(
            conn,
            now,
            "deleted-unknown",
            actor=actor,
            template_id=message.id,
            device_id=message.device,
            detail=f"person {mask(message.person)} finger {message.finger}: no record here",
        )
    else:
        delete_template(
            conn,
            message.id,
            now,
            by=actor,
            reason=f"deleted at terminal {message.device}",
            done_at=message.device,
        )
    _received(conn, message, now)
    return Outcome(queued=True)


def inventory(conn: Connection, message: Inventory, now: datetime) -> Outcome:
    """Answer an inventory with the difference (see :mod:`central.templates.diff`)."""
    try:
        diff.apply_inventory(conn, message, now)
    except SealError as exc:
        return Outcome(dead_letter=f"inventory: {exc}")
    return Outcome(queued=True)


def result(conn: Connection, device_id: str, answer: CommandResult, now: datetime) -> Outcome:
    """Record a terminal's answer to an install, a delete or an outbox command."""
    key = (device_template.c.device_id == device_id) & (device_template.c.command_id == answer.id)
    row = conn.execute(
        select(device_template.c.template_id, device_template.c.state).where(key)
    ).first()
    detail = answer.detail[:1000]
    if row is not None:
        tid, state = str(row.template_id), str(row.state)
        if state == State.INSTALLING.value:
            new = State.INSTALLED if answer.ok else State.FAILED
            action = "installed" if answer.ok else "install-failed"
        elif state == State.DELETING.value:
            # A failed delete stays pending: the dispatcher tries again after the resend delay.
            new = State.DELETED if answer.ok else State.DELETING
            action = "deleted-on-terminal" if answer.ok else "delete-failed"
        else:
            log.info(
                "late command result device=%s command=%s state=%s", device_id, answer.id, state
            )
            return Outcome()
        conn.execute(
            update(device_template)
            .where(key)
            .values(state=new.value, detail=detail or None, updated_at=now)
        )
        audit(
            conn, now, action, actor=device_id, template_id=tid, device_id=device_id, detail=detail
        )
        return Outcome()
    done = conn.execute(
        update(device_command)
        .where(device_command.c.device_id == device_id, device_command.c.id == answer.id)
        .values(result_ok=answer.ok, result_detail=detail, result_at=now)
    ).rowcount
    if not done:
        # A superseded command (its row moved on to another state), or not ours at all.
        log.info(
            "command result matches nothing device=%s command=%s ok=%s",
            device_id,
            answer.id,
            answer.ok,
        )
    elif not answer.ok:
        log.warning(
            "command failed on terminal device=%s command=%s detail=%r",
            device_id,
            answer.id,
            detail,
        )
    return Outcome()
