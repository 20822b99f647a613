"""Who a terminal serves: the people of its site, and the terminals a person's template goes to.

A person's sites are :func:`central.registry.allowed_sites`: the sites linked to them, else their
unit's (active sites only). A template also goes to every terminal at the enrolling terminal's
site, so a finger enrolled at a site a person is not linked to still works where it was taken.
Inactive people are served nowhere: their templates leave the terminals at the next inventory
(the central keeps the sealed record until someone deletes it).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, and_, select

from central.registry import allowed_sites
from central.schema import device, person, person_number, person_site, site, template
from wire.identity import NumberKind
from wire.sync import RosterEntry


def device_site(conn: Connection, device_id: str) -> str | None:
    """The site a terminal stands at (None when unassigned)."""
    return conn.execute(
        select(device.c.site_id).where(device.c.id == device_id)
    ).scalar_one_or_none()


def devices_at(conn: Connection, site_ids: Iterable[str]) -> list[str]:
    """The terminals standing at any of ``site_ids``, by id."""
    ids = sorted(set(site_ids))
    if not ids:
        return []
    return list(
        conn.execute(
            select(device.c.id).where(device.c.site_id.in_(ids)).order_by(device.c.id)
        ).scalars()
    )


def target_devices(conn: Connection, person_id: int, source_device: str) -> list[str]:
    """Every terminal that should hold a template of ``person_id`` enrolled at ``source_device``."""
    sites = {s.id for s in allowed_sites(conn, person_id)}
    source_site = device_site(conn, source_device)
    if source_site is not None:
        sites.add(source_site)
    targets = set(devices_at(conn, sites))
    targets.add(source_device)
    return sorted(targets)


def people_of_site(conn: Connection, site_id: str | None) -> set[int]:
    """The active people whose allowed sites include ``site_id``."""
    if site_id is None:
        return set()
    linked_active = select(person_site.c.person_id, person_site.c.site_id).join(
        site, and_(site.c.id == person_site.c.site_id, site.c.active)
    )
    links: dict[int, set[str]] = {}
    for pid, sid in conn.execute(linked_active):
        links.setdefault(int(pid), set()).add(str(sid))
    here = {pid for pid, sids in links.items() if site_id in sids}
    row = conn.execute(select(site.c.unit_id, site.c.active).where(site.c.id == site_id)).first()
    if row is not None and row.active:
        # People with no active linked site are served by every site of their unit.
        unit_people = conn.execute(select(person.c.id).where(person.c.unit_id == row.unit_id))
        here |= {int(pid) for pid in unit_people.scalars() if int(pid) not in links}
    if not here:
        return set()
    active = conn.execute(
        select(person.c.id).where(person.c.id.in_(sorted(here)), person.c.active)
    ).scalars()
    return {int(pid) for pid in active}


def desired_templates(conn: Connection, device_id: str) -> set[str]:
    """The active templates a terminal should hold."""
    site_id = device_site(conn, device_id)
    people = people_of_site(conn, site_id)
    neighbours = set(devices_at(conn, [site_id])) if site_id is not None else set()
    neighbours.add(device_id)
    rows = conn.execute(
        select(template.c.id, template.c.person_id, template.c.source_device)
        .join(person, person.c.id == template.c.person_id)
        .where(template.c.deleted_at.is_(None), person.c.active)
    )
    return {str(r.id) for r in rows if int(r.person_id) in people or r.source_device in neighbours}


def current_numbers(conn: Connection, person_ids: Iterable[int]) -> dict[int, str]:
    """Each person's current non-legacy number: the one punches and installs carry."""
    ids = sorted(set(person_ids))
    if not ids:
        return {}
    rows = conn.execute(
        select(person_number.c.person_id, person_number.c.number).where(
            person_number.c.person_id.in_(ids),
            person_number.c.valid_to.is_(None),
            person_number.c.kind != NumberKind.LEGACY.value,
        )
    )
    return {int(r.person_id): str(r.number) for r in rows}


def roster(conn: Connection, device_id: str) -> list[RosterEntry]:
    """The people a technician may enroll at this terminal, by number."""
    people = people_of_site(conn, device_site(conn, device_id))
    numbers = current_numbers(conn, people)
    names = {
        int(pid): str(name)
        for pid, name in conn.execute(
            select(person.c.id, person.c.name).where(person.c.id.in_(sorted(numbers)))
        )
    }
    return sorted(
        (RosterEntry(numbers[pid], str(names[pid])) for pid in numbers), key=lambda e: e.number
    )
