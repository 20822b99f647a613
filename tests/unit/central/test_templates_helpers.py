"""A small city for the template-sync tests (no tests here): units, sites, people, terminals.

BKPPD has sites BKPPD-1 (terminals a, b) and BKPPD-2 (terminal c); DINKES has DINKES-1
(terminal d). Ani (BKPPD) has no linked site, so both BKPPD sites serve her; Budi (DINKES) is
served by DINKES-1 only.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import Connection, select

from central import registry as r
from central.devices import add_device
from central.identity import EmploymentType
from central.schema import device_command, device_template, template_event
from wire.sealing import b64, public_key_text, seal
from wire.sync import Enrolled, Inventory

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
ANI = "198609262015051001"
BUDI = "200012312024211001"
NOBODY = "199009132025242014"
DEVICES = {"a": "BKPPD-1", "b": "BKPPD-1", "c": "BKPPD-2", "d": "DINKES-1"}


@dataclass
class World:
    central: X25519PrivateKey = field(default_factory=X25519PrivateKey.generate)
    keys: dict[str, X25519PrivateKey] = field(default_factory=dict)
    ani: int = 0
    budi: int = 0


def build(conn: Connection, world: World | None = None) -> World:
    w = world or World()
    sched = r.ensure_default_schedules(conn, now=T0)
    bkppd = r.add_unit(conn, "BKPPD", "BKPPD Kota Kupang", schedule_id=sched.id, now=T0)
    dinkes = r.add_unit(conn, "DINKES", "Dinas Kesehatan", schedule_id=sched.id, now=T0)
    for unit, sid, lat in ((bkppd, "BKPPD-1", -10.16), (bkppd, "BKPPD-2", -10.17)):
        r.add_site(conn, unit_id=unit.id, name=sid, lat=lat, lon=123.6, site_id=sid, now=T0)
    r.add_site(conn, unit_id=dinkes.id, name="D", lat=-10.18, lon=123.6, site_id="DINKES-1", now=T0)
    w.ani = r.add_person(
        conn, name="Ani", employment_type=EmploymentType.PNS, unit_id=bkppd.id, number=ANI, now=T0
    ).id
    w.budi = r.add_person(
        conn,
        name="Budi",
        employment_type=EmploymentType.PPPK,
        unit_id=dinkes.id,
        number=BUDI,
        now=T0,
    ).id
    for dev, site_id in DEVICES.items():
        add_device(conn, dev, T0, site_id=site_id)
        w.keys[dev] = X25519PrivateKey.generate()
    return w


PLAIN = os.urandom(512)
"""A stand-in template: what a module would upload (random, so a leak is easy to spot)."""


def enrolled(
    w: World,
    dev: str = "a",
    *,
    person: str = ANI,
    finger: str = "right-index",
    tid: str | None = None,
    key: X25519PrivateKey | None = None,
) -> Enrolled:
    tid = tid or str(uuid.uuid4())
    box = seal(PLAIN, (key or w.central).public_key(), tid)
    return Enrolled(dev, tid, person, finger, b64(box), "teknisi", T0)  # type: ignore[arg-type]


def inventory(w: World, dev: str, have: tuple[str, ...] = ()) -> Inventory:
    return Inventory(
        dev,  # type: ignore[arg-type]
        public_key_text(w.keys[dev]),
        tuple(sorted(have)),
        1000,
        len(have),
        T0,
    )


def states(conn: Connection, tid: str) -> dict[str, str]:
    rows = conn.execute(
        select(device_template.c.device_id, device_template.c.state).where(
            device_template.c.template_id == tid
        )
    )
    return {str(d): str(s) for d, s in rows}


def commands(conn: Connection, dev: str) -> list[tuple[str, str | None]]:
    rows = conn.execute(
        select(device_command.c.action, device_command.c.template_id)
        .where(device_command.c.device_id == dev)
        .order_by(device_command.c.created_at, device_command.c.action)
    )
    return [(str(a), t) for a, t in rows]


def events(conn: Connection, tid: str | None = None) -> list[tuple[str, str | None, str]]:
    q = select(template_event.c.action, template_event.c.device_id, template_event.c.detail)
    if tid is not None:
        q = q.where(template_event.c.template_id == tid)
    return [(str(a), d, str(x)) for a, d, x in conn.execute(q.order_by(template_event.c.id))]
