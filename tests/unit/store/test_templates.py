"""Template ids per slot, the report queue and the roster copy: one transaction per change."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from edge.store import (
    AuditNote,
    InvalidRecord,
    Report,
    RosterRow,
    SlotTaken,
    Store,
)
from edge.store.db import Database
from edge.store.schema import MIGRATIONS
from tests.unit.store.store_samples import T0

TID_A = "00000000-0000-4000-8000-00000000000a"
TID_B = "00000000-0000-4000-8000-00000000000b"
NOTE = AuditNote("install", "central", "test")


def test_templates_put_maps_audits_and_queues_in_one_commit(store: Store) -> None:
    replaced = store.templates.put(
        4,
        "p-1",
        "right-index",
        TID_A,
        enrolled_by="tech",
        audit=AuditNote("enroll", "tech"),
        reports=[Report(TID_A, "enrolled", b'{"v":1}')],
    )
    assert replaced is None
    held = store.templates.by_template(TID_A)
    assert held is not None
    assert (held.slot, held.person_id, held.finger, held.enrolled_by) == (
        4,
        "p-1",
        "right-index",
        "tech",
    )
    assert held.mapped_at == T0
    assert store.people.person_for(4) == "p-1"  # the punch loop sees it through the slot map
    [entry] = store.audit.recent()
    assert (entry.action, entry.actor, entry.slot, entry.person_id) == ("enroll", "tech", 4, "p-1")
    [report] = store.templates.pending_reports()
    assert (report.template_id, report.kind, report.payload) == (TID_A, "enrolled", b'{"v":1}')


def test_templates_put_replaces_the_same_finger_elsewhere(store: Store) -> None:
    store.templates.put(1, "p-1", "right-index", TID_A, enrolled_by="central", audit=NOTE)
    replaced = store.templates.put(
        2, "p-1", "right-index", TID_B, enrolled_by="central", audit=NOTE
    )
    assert replaced is not None and (replaced.slot, replaced.template_id) == (1, TID_A)
    assert store.templates.by_template(TID_A) is None
    assert [t.slot for t in store.templates.all()] == [2]
    assert "replaces slot=1" in store.audit.recent()[0].detail


def test_templates_put_refuses_a_taken_slot_and_a_known_id(store: Store) -> None:
    store.templates.put(1, "p-1", "right-index", TID_A, enrolled_by="central", audit=NOTE)
    with pytest.raises(SlotTaken):
        store.templates.put(1, "p-2", "left-thumb", TID_B, enrolled_by="central", audit=NOTE)
    with pytest.raises(InvalidRecord, match="already mapped"):
        store.templates.put(2, "p-2", "left-thumb", TID_A, enrolled_by="central", audit=NOTE)
    assert len(store.audit.recent()) == 1  # the refused ones left no audit line


def test_templates_remove_queues_deleted_or_drops_pending(store: Store) -> None:
    store.templates.put(
        1,
        "p-1",
        "right-index",
        TID_A,
        enrolled_by="tech",
        audit=NOTE,
        reports=[Report(TID_A, "enrolled", b"E")],
    )
    removed = store.templates.remove(
        1, audit=AuditNote("delete", "tech"), reports=[Report(TID_A, "deleted", b"D")]
    )
    assert removed is not None and removed.template_id == TID_A
    # One report per template: the deletion replaced the unconfirmed enrollment.
    [report] = store.templates.pending_reports()
    assert (report.kind, report.payload) == ("deleted", b"D")
    store.templates.put(
        2,
        "p-2",
        "right-index",
        TID_B,
        enrolled_by="tech",
        audit=NOTE,
        reports=[Report(TID_B, "enrolled", b"E")],
    )
    store.templates.remove(2, audit=AuditNote("delete", "central"), drop_reports=True)
    assert [r.template_id for r in store.templates.pending_reports()] == [TID_A]
    assert store.templates.remove(9, audit=AuditNote("reconcile", "reconcile")) is None
    assert store.audit.recent()[0].slot == 9


def test_templates_drop_report_by_kind_and_repeatedly(store: Store) -> None:
    store.templates.queue(Report(TID_A, "deleted", b"D"))
    assert store.templates.report_count() == 1
    assert store.templates.drop_report(TID_A, "enrolled") is False
    assert store.templates.drop_report(TID_A) is True
    assert store.templates.drop_report(TID_A) is False
    assert store.templates.report_count() == 0


def test_templates_report_rejects_unknown_kind() -> None:
    with pytest.raises(InvalidRecord):
        Report(TID_A, "inventory", b"")


def test_templates_legacy_mapping_has_no_template_id(store: Store) -> None:
    store.people.map(3, "p-1", "right-index")
    [held] = store.templates.all()
    assert (held.slot, held.template_id, held.enrolled_by) == (3, None, None)


def test_templates_v1_file_upgrades_and_keeps_its_mappings(db_path: Path) -> None:
    Database(db_path, migrations=MIGRATIONS[:1]).close()
    raw = sqlite3.connect(db_path)
    raw.execute(
        "INSERT INTO person_slot (slot, person_id, finger, mapped_at_us) VALUES (5, 'p', 'f', 0)"
    )
    raw.commit()
    raw.close()
    with Store(db_path) as store:
        [held] = store.templates.all()
        assert (held.slot, held.person_id, held.template_id) == (5, "p", None)
        store.templates.put(6, "q", "right-index", TID_A, enrolled_by="central", audit=NOTE)


def test_roster_replace_get_size(store: Store) -> None:
    assert store.roster.size() == 0
    assert store.roster.replace([RosterRow("1", "Ani"), RosterRow("2", "Budi")]) == 2
    assert store.roster.get("2") == RosterRow("2", "Budi")
    store.roster.replace([RosterRow("3", "Citra")])
    assert store.roster.get("1") is None
    assert store.roster.size() == 1
    with pytest.raises(InvalidRecord):
        store.roster.replace([RosterRow("3", "A"), RosterRow("3", "B")])
    assert store.roster.size() == 1  # a refused roster changes nothing
