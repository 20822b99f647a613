"""The central's answer to an inventory: what the terminal should install, delete, upload.

The inventory is the anti-entropy pass of template sync: whatever commands were lost while a
terminal was away, the difference between what it should hold and what it reports puts it
right. :func:`diff` is the pure set arithmetic; :func:`apply_inventory` turns it into state rows,
outbox commands and one audit line.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from central.schema import device_template
from central.templates import keys, scope
from central.templates.store import (
    State,
    audit,
    known_ids,
    queue_command,
    refused_ids,
    set_state,
)
from wire import Action
from wire.sync import Inventory, roster_command, template_command


@dataclass(frozen=True, slots=True)
class Difference:
    """What one inventory asks of the central.

    Attributes:
        install: should be on the terminal and is not.
        delete: on the terminal, known here, and should not be there.
        upload: on the terminal and unknown here (the central lost it): ask for it back.
        present: on the terminal and should be.
    """

    install: frozenset[str]
    delete: frozenset[str]
    upload: frozenset[str]
    present: frozenset[str]


def diff(desired: Set[str], have: Set[str], known: Set[str]) -> Difference:
    """Compare what a terminal should hold, what it holds, and what the central knows."""
    extra = have - desired
    return Difference(
        install=frozenset(desired - have),
        delete=frozenset(extra & known),
        upload=frozenset(extra - known),
        present=frozenset(have & desired),
    )


def apply_inventory(conn: Connection, message: Inventory, now: datetime) -> Difference:
    """Store the terminal's key, queue the difference and a roster, audit it.

    Raises:
        SealError: the announced key is not an X25519 key (nothing is written then).
    """
    dev = message.device
    change = keys.store_device_key(conn, dev, message.public_key, now)
    if change != "same":
        audit(
            conn,
            now,
            f"key-{change}",
            actor=dev,
            device_id=dev,
            detail=f"public key {message.public_key}",
        )
    have = set(message.have)
    ids = sorted(have)
    refused = refused_ids(conn, ids)
    records = known_ids(conn, ids)
    d = diff(scope.desired_templates(conn, dev), have, records | refused)
    for tid in sorted(d.install):
        # redo: whatever was sent before did not arrive (or arrived sealed to an old key).
        set_state(conn, dev, tid, State.INSTALLING, now, redo=True)
    for tid in sorted(d.delete):
        if tid in records:
            set_state(conn, dev, tid, State.DELETING, now, redo=True)
        else:
            queue_command(
                conn, dev, template_command(Action.DELETE_TEMPLATE, tid), now, template_id=tid
            )
    for tid in sorted(d.upload):
        queue_command(
            conn, dev, template_command(Action.UPLOAD_TEMPLATE, tid), now, template_id=tid
        )
        audit(
            conn,
            now,
            "upload-requested",
            actor="central",
            template_id=tid,
            device_id=dev,
            detail="held by the terminal, no record here",
        )
    for tid in sorted(d.present):
        set_state(conn, dev, tid, State.INSTALLED, now, detail="in inventory")
    # Rows this terminal neither holds nor should hold: settled, whatever was pending.
    stale = conn.execute(
        select(device_template.c.template_id).where(
            device_template.c.device_id == dev, device_template.c.state != State.DELETED.value
        )
    ).scalars()
    gone = 0
    for tid in sorted(set(stale) - have - d.install):
        set_state(conn, dev, tid, State.DELETED, now, detail="not in inventory")
        gone += 1
    people = scope.roster(conn, dev)
    queue_command(conn, dev, roster_command(people), now)
    audit(
        conn,
        now,
        "inventory",
        actor=dev,
        device_id=dev,
        detail=f"holds {len(have)}, used {message.used}/{message.capacity}; install "
        f"{len(d.install)}, delete {len(d.delete)}, upload {len(d.upload)}, settled {gone}; "
        f"roster {len(people)}",
    )
    return d
