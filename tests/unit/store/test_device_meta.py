"""Device meta and the audit log: durable facts about this terminal and who changed its fingers."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from edge.store import DEVICE_ID, LAST_BOOT_ID, InvalidRecord, Store
from tests.unit.store.store_samples import T0, FakeClock


def test_meta_set_get_replace_delete(store: Store) -> None:
    assert store.meta.get(DEVICE_ID) is None
    store.meta.set(DEVICE_ID, "kupang-kantor-walikota-01")
    store.meta.set(LAST_BOOT_ID, "boot-1")
    store.meta.set(LAST_BOOT_ID, "boot-2")
    assert store.meta.get(LAST_BOOT_ID) == "boot-2"
    assert store.meta.items() == {DEVICE_ID: "kupang-kantor-walikota-01", LAST_BOOT_ID: "boot-2"}
    store.meta.delete(LAST_BOOT_ID)
    store.meta.delete(LAST_BOOT_ID)  # absent: not an error
    assert store.meta.items() == {DEVICE_ID: "kupang-kantor-walikota-01"}


def test_meta_rejects_bad_keys(store: Store) -> None:
    for key in ("", "k" * 65):
        with pytest.raises(InvalidRecord, match="key"):
            store.meta.set(key, "v")


def test_meta_survives_reopen(db_path: Path) -> None:
    with Store(db_path) as first:
        first.meta.set(DEVICE_ID, "dev-7")
    with Store(db_path) as second:
        assert second.meta.get(DEVICE_ID) == "dev-7"


def test_audit_records_in_order_and_survives_reopen(db_path: Path, clock: FakeClock) -> None:
    with Store(db_path, utc_now=clock) as first:
        first.audit.record("enroll", actor="tech-yosef", person_id="person-a", slot=3)
        clock.advance(minutes=2)
        first.audit.record("delete", actor="central", person_id="person-a", slot=3, detail="ok")
        with pytest.raises(InvalidRecord):
            first.audit.record("", actor="tech-yosef")
    with Store(db_path) as second:
        entries = second.audit.recent()
    assert [(e.action, e.actor, e.slot, e.at) for e in entries] == [
        ("delete", "central", 3, T0 + timedelta(minutes=2)),
        ("enroll", "tech-yosef", 3, T0),
    ]
    assert entries[0].id > entries[1].id
