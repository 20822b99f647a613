"""The slot map: one slot one person-finger, several fingers per person, durable."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.store import FingerTaken, InvalidRecord, SlotMapping, SlotTaken, Store
from tests.unit.store.store_samples import T0


def test_people_map_then_lookup(store: Store) -> None:
    mapped = store.people.map(7, "person-a", "right-index")
    assert mapped == SlotMapping(7, "person-a", "right-index", T0)
    assert store.people.person_for(7) == "person-a"
    assert store.people.lookup(7) == mapped
    assert store.people.person_for(8) is None
    assert store.people.lookup(8) is None


def test_people_person_may_have_several_fingers(store: Store) -> None:
    store.people.map(3, "person-a", "right-index")
    store.people.map(1, "person-a", "left-thumb")
    store.people.map(2, "person-b", "right-index")
    assert [(m.slot, m.finger) for m in store.people.slots_of("person-a")] == [
        (1, "left-thumb"),
        (3, "right-index"),
    ]
    assert [m.slot for m in store.people.mappings()] == [1, 2, 3]
    assert store.people.used_slots() == frozenset({1, 2, 3})


def test_people_slot_of_another_person_is_taken(store: Store) -> None:
    store.people.map(5, "person-a", "right-index")
    with pytest.raises(SlotTaken, match="slot 5 is already mapped to person_id=person-a"):
        store.people.map(5, "person-b", "right-index")
    with pytest.raises(SlotTaken):
        store.people.map(5, "person-a", "left-index")
    assert store.people.person_for(5) == "person-a"


def test_people_finger_in_two_slots_is_refused(store: Store) -> None:
    store.people.map(5, "person-a", "right-index")
    with pytest.raises(FingerTaken, match="finger=right-index is already mapped to slot 5"):
        store.people.map(6, "person-a", "right-index")
    assert store.people.lookup(6) is None


def test_people_mapping_the_same_again_is_a_no_op(store: Store) -> None:
    first = store.people.map(5, "person-a", "right-index")
    assert store.people.map(5, "person-a", "right-index") == first
    assert len(store.people.mappings()) == 1


def test_people_unmap_frees_the_slot(store: Store) -> None:
    mapped = store.people.map(5, "person-a", "right-index")
    assert store.people.unmap(5) == mapped
    assert store.people.unmap(5) is None  # a deletion delivered twice
    assert store.people.person_for(5) is None
    assert store.people.map(5, "person-b", "left-thumb").person_id == "person-b"
    assert store.people.map(9, "person-a", "right-index").slot == 9


def test_people_rejects_invalid_values(store: Store) -> None:
    for slot, person_id, finger in [(-1, "a", "f"), (1, "", "f"), (1, "a", ""), (1, "a", "x" * 33)]:
        with pytest.raises(InvalidRecord):
            store.people.map(slot, person_id, finger)
    assert store.people.mappings() == []


def test_people_map_survives_reopen(db_path: Path) -> None:
    with Store(db_path) as first:
        first.people.map(4, "person-a", "right-index")
        first.people.map(8, "person-b", "left-index")
        first.people.unmap(8)
    with Store(db_path) as second:
        assert [(m.slot, m.person_id) for m in second.people.mappings()] == [(4, "person-a")]
