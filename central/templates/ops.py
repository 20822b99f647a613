"""Operator actions behind ``hadir-central template``: list, delete, sync, status.

The CLI is a separate process from the collectors: it only writes rows (state, outbox, audit)
in one transaction; every running collector's dispatcher sends what they owe within a second.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from central.config import ConfigError
from central.registry import find_person
from central.schema import device
from central.templates import keys, report
from central.templates.store import audit, delete_person, queue_command
from wire.identity import mask
from wire.sync import FINGERS, resync_command


def add_template_commands(sub: Any) -> None:
    """Add ``template`` and ``keys`` to ``hadir-central``'s sub-command parsers."""
    tpl = sub.add_parser(
        "template",
        help="fingerprint templates: list, delete everywhere, resync a terminal, status",
        epilog="Example: hadir-central --config central.toml template delete "
        "--person 198501012010011001 --finger right-index --by siti --reason 'left the office'",
    )
    tpl.add_argument("action", choices=["list", "delete", "sync", "status"])
    tpl.add_argument("--person", help="a NIP / NI PPPK / register number")
    tpl.add_argument("--finger", choices=sorted(FINGERS), help="delete: one finger only")
    tpl.add_argument("--device", help="list: templates of one terminal; sync: the terminal")
    tpl.add_argument("--by", help="delete: who deletes (recorded in the audit)")
    tpl.add_argument("--reason", default="operator request", help="delete: why (audited)")
    tpl.add_argument("--deleted", action="store_true", help="list: deleted templates too")
    tpl.add_argument(
        "--stuck-after-min",
        type=int,
        default=30,
        help="status: pending work older than this counts as stuck",
    )
    key_cmd = sub.add_parser(
        "keys",
        help="the central's template key: create it, show its public key",
        epilog="Example: hadir-central --config central.toml keys init",
    )
    key_cmd.add_argument("action", choices=["init", "show"])
    key_cmd.add_argument(
        "--key-file", help=f"default: [templates].key_file, else {keys.DEFAULT_KEY_FILE}"
    )


def delete_templates(
    engine: Engine,
    number: str,
    *,
    by: str,
    reason: str,
    finger: str | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Delete a person's templates (one finger, or all) from the central and every terminal.

    Raises:
        ConfigError: no person holds ``number``, or ``by`` is empty.
    """
    if not by.strip():
        raise ConfigError("template delete: --by NAME is required (it goes into the audit)")
    at = now or datetime.now(UTC)
    with engine.begin() as conn:
        person = find_person(conn, number)
        if person is None:
            raise ConfigError(f"template delete: no person with number {mask(number)}")
        return delete_person(
            conn, person.id, number, at, by=by.strip(), reason=reason, finger=finger
        )


def request_resync(engine: Engine, device_id: str, *, by: str = "operator") -> str:
    """Ask a terminal for an inventory now (the ``resync`` command); returns the command id.

    Raises:
        ConfigError: the terminal is not registered.
    """
    now = datetime.now(UTC)
    with engine.begin() as conn:
        if conn.execute(select(device.c.id).where(device.c.id == device_id)).first() is None:
            raise ConfigError(f"template sync: no terminal {device_id!r}")
        command = resync_command()
        queue_command(conn, device_id, command, now, by=by)
        audit(conn, now, "resync-requested", actor=by, device_id=device_id)
    return command.id


def template_command(args: argparse.Namespace, engine: Engine) -> int:
    """Run one ``hadir-central template`` action; returns the exit code."""
    if args.action == "delete":
        if not args.person:
            raise ConfigError("template delete: give --person NUMBER")
        ids = delete_templates(
            engine, args.person, by=args.by or "", reason=args.reason, finger=args.finger
        )
        what = args.finger or "every finger"
        print(
            f"{len(ids)} template(s) of {mask(args.person)} ({what}) deleted; "
            "the terminals are told by the running collector"
        )
        return 0
    if args.action == "sync":
        if not args.device:
            raise ConfigError("template sync: give --device ID")
        cid = request_resync(engine, args.device, by=args.by or "operator")
        print(f"resync queued for {args.device} (command {cid})")
        return 0
    if args.action == "status":
        with engine.connect() as conn:
            lines = report.status(conn, datetime.now(UTC), timedelta(minutes=args.stuck_after_min))
        for d in lines:
            if args.json:
                print(json.dumps(asdict(d)))
                continue
            counts = " ".join(f"{k}={v}" for k, v in sorted(d.counts.items())) or "-"
            key = "key" if d.has_key else "NO-KEY"
            print(f"{d.device:24s} {key:6s} stuck={d.stuck} {counts}")
        return 0
    person_id = None
    with engine.connect() as conn:
        if args.person:
            found = find_person(conn, args.person)
            if found is None:
                raise ConfigError(f"template list: no person with number {mask(args.person)}")
            person_id = found.id
        rows = report.list_templates(
            conn, person_id=person_id, device_id=args.device, include_deleted=args.deleted
        )
    for t in rows:
        if args.json:
            line = asdict(t) | {"enrolled_at": t.enrolled_at.isoformat()}
            print(json.dumps(line))
            continue
        states = " ".join(f"{d}:{s}" for d, s in t.states.items()) or "-"
        gone = " DELETED" if t.deleted else ""
        who = f"{t.name} ({t.person})"
        print(f"{t.id} {who:30s} {t.finger:13s} from {t.source}{gone}  {states}")
    return 0
