"""TemplateSync on the simulator (pty) and a real SQLite store: commands, book, reconcile."""

from __future__ import annotations

# Tests take many fixtures; that is how pytest hands them over.
# ruff: noqa: PLR0917
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from edge.clock import FakeClock
from edge.punch import Outcome, PunchLoop
from edge.sensor import CharBuffer, R307Sensor, Slot
from edge.sensor.sim import SimulatedR307
from edge.store import Store
from edge.sync import SyncDisabled, TemplateSync
from wire import Action, Command, decode_command_result, encode
from wire.sealing import b64, open_sealed, seal, unb64
from wire.sync import (
    Deleted,
    Enrolled,
    Install,
    Inventory,
    RosterEntry,
    decode_template_message,
    install_command,
    new_template_id,
    resync_command,
    roster_command,
    template_command,
)
from wire.topics import DeviceId

DEVICE = DeviceId("kupang-sync-01")
NIP = "198501012010011001"
NIP2 = "199002022015022002"


class Recorder:
    """The publish hooks, recorded."""

    def __init__(self) -> None:
        self.woken = 0
        self.inventories: list[Inventory] = []

    def reports_queued(self) -> None:
        self.woken += 1

    def publish_inventory(self, inventory: Inventory) -> None:
        self.inventories.append(inventory)


class Quiet:
    """Signals that show nothing (the punch loop's LEDs are not under test here)."""

    def ok(self) -> None: ...
    def unknown_finger(self) -> None: ...
    def poor_image(self) -> None: ...
    def set_sensor_fault(self, fault: bool) -> None: ...
    def set_store_fault(self, fault: bool) -> None: ...


@pytest.fixture(scope="module")
def templates() -> Iterator[dict[str, bytes]]:
    """Real templates of a few simulated fingers, made on another simulated module."""
    out: dict[str, bytes] = {}
    with SimulatedR307("r307", "instant", seed=3) as other:
        drv = R307Sensor(other.port, timeout_s=0.5)
        for i, finger in enumerate(("alice", "bob", "carol")):
            for buf in (CharBuffer.ONE, CharBuffer.TWO):
                other.place(finger)
                drv.read_image()
                drv.extract(buf)
            drv.merge()
            drv.store(Slot(i))
            out[finger] = drv.read_template(Slot(i))
        other.lift()
        drv.close()
    yield out


@pytest.fixture
def keys() -> tuple[X25519PrivateKey, X25519PrivateKey]:
    """(the terminal's private key, the central's private key)."""
    return X25519PrivateKey.generate(), X25519PrivateKey.generate()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "edge.db") as s:
        yield s


@pytest.fixture
def out() -> Recorder:
    return Recorder()


@pytest.fixture
def sync(
    sensor: R307Sensor,
    store: Store,
    keys: tuple[X25519PrivateKey, X25519PrivateKey],
    out: Recorder,
) -> TemplateSync:
    own, central = keys
    return TemplateSync(
        sensor,
        store,
        clock=FakeClock(),
        device=DEVICE,
        central_key=central.public_key(),
        private_key=own,
        output=out,
    )


def install_for(
    own: X25519PrivateKey, template: bytes, person: str, finger: str = "right-index"
) -> tuple[str, Command]:
    template_id = new_template_id()
    box = b64(seal(template, own.public_key(), template_id))
    return template_id, install_command(Install(template_id, person, finger, box))


def test_sync_install_puts_the_template_in_the_module_and_a_press_punches_the_person(
    sim: SimulatedR307,
    sensor: R307Sensor,
    store: Store,
    sync: TemplateSync,
    keys: tuple[X25519PrivateKey, X25519PrivateKey],
    templates: dict[str, bytes],
) -> None:
    template_id, command = install_for(keys[0], templates["alice"], NIP)
    result = sync.handle_command(command)
    assert (result.id, result.ok, result.detail) == (command.id, True, "installed in slot 0")
    assert sensor.used_slots() == {0}
    held = store.templates.by_template(template_id)
    assert held is not None and (held.slot, held.person_id, held.enrolled_by) == (0, NIP, "central")
    [entry] = store.audit.recent()
    assert (entry.actor, entry.action, entry.slot) == ("central", "install", 0)
    # The installed template identifies the finger it was made from, on this module.
    loop = PunchLoop(sensor, store, Quiet(), FakeClock(), poll_interval_s=0.01)
    sim.place("alice")
    assert loop.scan() is Outcome.PUNCH
    sim.lift()
    [punch] = store.outbox.pending(10)
    assert (punch.person_id, punch.slot) == (NIP, 0)
    sim.place("bob")
    assert loop.scan() is Outcome.UNKNOWN
    # Once more: the same template is already there.
    again = sync.handle_command(Command(new_template_id(), command.action, command.params))
    assert (again.ok, again.detail) == (True, "already installed in slot 0")
    assert sensor.used_slots() == {0}


def test_sync_install_same_finger_again_replaces_the_old_template(
    sensor: R307Sensor,
    store: Store,
    sync: TemplateSync,
    keys: tuple[X25519PrivateKey, X25519PrivateKey],
    templates: dict[str, bytes],
) -> None:
    old_id, first = install_for(keys[0], templates["alice"], NIP)
    new_id, second = install_for(keys[0], templates["bob"], NIP)
    assert sync.handle_command(first).ok
    result = sync.handle_command(second)
    assert result.ok and f"replacing template {old_id} in slot 0" in result.detail
    assert sensor.used_slots() == {1}
    assert store.templates.by_template(old_id) is None
    assert [(t.slot, t.template_id) for t in store.templates.all()] == [(1, new_id)]


def test_sync_install_refuses_a_box_for_another_key_or_template(
    sensor: R307Sensor,
    store: Store,
    sync: TemplateSync,
    keys: tuple[X25519PrivateKey, X25519PrivateKey],
    templates: dict[str, bytes],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    _, wrong_key = install_for(X25519PrivateKey.generate(), templates["alice"], NIP)
    result = sync.handle_command(wrong_key)
    assert not result.ok and "cannot be opened" in result.detail
    # A box moved onto another template id (another person) does not open either.
    _, good = install_for(keys[0], templates["alice"], NIP)
    moved = dict(good.params) | {"template": new_template_id()}
    result = sync.handle_command(Command(new_template_id(), Action.INSTALL_TEMPLATE, moved))
    assert not result.ok and "cannot be opened" in result.detail
    assert sensor.used_slots() == frozenset()
    assert store.templates.all() == []
    assert str(good.params["sealed"]) not in caplog.text
    assert str(good.params["sealed"])[:40] not in result.detail


def test_sync_install_into_a_full_library_fails_with_a_clear_reason(
    tmp_path: Path,
    keys: tuple[X25519PrivateKey, X25519PrivateKey],
    templates: dict[str, bytes],
) -> None:
    # The smallest library of the family (ZFM-20, 162 slots), filled through the driver.
    with (
        SimulatedR307("zfm20", "instant", seed=5) as small,
        Store(tmp_path / "small.db") as store,
    ):
        sensor = R307Sensor(small.port, timeout_s=0.5)
        sync = TemplateSync(
            sensor,
            store,
            clock=FakeClock(),
            device=DEVICE,
            central_key=keys[1].public_key(),
            private_key=keys[0],
        )
        capacity = sensor.info().capacity
        for slot in range(capacity):
            _, command = install_for(keys[0], templates["carol"], f"p-{slot}")
            assert sync.handle_command(command).ok
        assert sync.free_slot() is None
        assert sync.capacity() == (capacity, capacity)
        _, command = install_for(keys[0], templates["alice"], NIP)
        result = sync.handle_command(command)
        assert not result.ok
        assert result.detail.startswith(f"library full: {capacity} of {capacity} slots used")
        assert store.audit.recent()[0].action == "install-failed"
        assert store.templates.by_finger(NIP, "right-index") is None
        sensor.close()


def test_sync_delete_removes_from_module_and_map_and_repeats_harmlessly(
    sensor: R307Sensor,
    store: Store,
    sync: TemplateSync,
    keys: tuple[X25519PrivateKey, X25519PrivateKey],
    templates: dict[str, bytes],
) -> None:
    template_id, command = install_for(keys[0], templates["alice"], NIP)
    assert sync.handle_command(command).ok
    delete = template_command(Action.DELETE_TEMPLATE, template_id)
    result = sync.handle_command(delete)
    assert (result.ok, result.detail) == (True, "deleted from slot 0")
    assert sensor.used_slots() == frozenset()
    assert store.templates.all() == []
    assert store.audit.recent()[0].action == "delete"
    again = sync.handle_command(template_command(Action.DELETE_TEMPLATE, template_id))
    assert (again.ok, again.detail) == (True, "not held here")


def test_sync_enrollment_seals_to_the_central_and_queues_the_report(
    sim: SimulatedR307,
    sensor: R307Sensor,
    store: Store,
    sync: TemplateSync,
    out: Recorder,
    keys: tuple[X25519PrivateKey, X25519PrivateKey],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    for buf in (CharBuffer.ONE, CharBuffer.TWO):
        sim.place("dewi")
        sensor.read_image()
        sensor.extract(buf)
    sensor.merge()
    slot = sync.free_slot()
    assert slot == 0
    sensor.store(Slot(slot))
    template_id = sync.record_enrollment(slot, NIP, "left-thumb", "teknisi1")
    assert out.woken == 1
    [report] = store.templates.pending_reports()
    message = decode_template_message(report.payload)
    assert isinstance(message, Enrolled)
    assert (message.id, message.person, message.finger, message.by) == (
        template_id,
        NIP,
        "left-thumb",
        "teknisi1",
    )
    opened = open_sealed(unb64(message.sealed, "sealed"), keys[1], template_id)
    assert opened == sensor.read_template(Slot(0))
    assert message.sealed not in caplog.text
    assert opened.hex() not in caplog.text
    assert store.audit.recent()[0].action == "enroll"
    # The central confirms: the report is gone; a repeated confirmation is harmless.
    received = template_command(Action.TEMPLATE_RECEIVED, template_id)
    assert sync.handle_command(received).detail == "report dropped"
    assert sync.handle_command(received).detail == "no report pending"
    assert store.templates.report_count() == 0
    # The central lost it: upload again, sealed afresh.
    upload = sync.handle_command(template_command(Action.UPLOAD_TEMPLATE, template_id))
    assert upload.ok
    [again] = store.templates.pending_reports()
    resent = decode_template_message(again.payload)
    assert isinstance(resent, Enrolled) and resent.by == "teknisi1"
    assert open_sealed(unb64(resent.sealed, "sealed"), keys[1], template_id) == opened
    # A technician deletes it: the deletion replaces the unconfirmed upload.
    removed = sync.record_deletion(0, "teknisi2")
    assert removed is not None and removed.person_id == NIP
    [deleted] = store.templates.pending_reports()
    gone = decode_template_message(deleted.payload)
    assert isinstance(gone, Deleted) and (gone.id, gone.by) == (template_id, "teknisi2")
    assert sensor.used_slots() == frozenset()


def test_sync_reenrollment_of_the_same_finger_replaces_and_reports_the_old(
    sim: SimulatedR307, sensor: R307Sensor, store: Store, sync: TemplateSync
) -> None:
    ids = []
    for slot in (0, 1):
        for buf in (CharBuffer.ONE, CharBuffer.TWO):
            sim.place("eko")
            sensor.read_image()
            sensor.extract(buf)
        sensor.merge()
        sensor.store(Slot(slot))
        ids.append(sync.record_enrollment(slot, NIP, "right-index", "teknisi1"))
    assert sensor.used_slots() == {1}
    kinds = {r.template_id: r.kind for r in store.templates.pending_reports()}
    assert kinds == {ids[0]: "deleted", ids[1]: "enrolled"}


def test_sync_without_central_key_refuses_enrollment(
    sim: SimulatedR307, sensor: R307Sensor, store: Store
) -> None:
    sync = TemplateSync(
        sensor,
        store,
        clock=FakeClock(),
        device=DEVICE,
        central_key=None,
        private_key=X25519PrivateKey.generate(),
    )
    for buf in (CharBuffer.ONE, CharBuffer.TWO):
        sim.place("fajar")
        sensor.read_image()
        sensor.extract(buf)
    sensor.merge()
    sensor.store(Slot(0))
    with pytest.raises(SyncDisabled, match=r"\[sync\].central_key"):
        sync.record_enrollment(0, NIP, "right-index", "teknisi1")
    assert sensor.used_slots() == frozenset()  # no orphan left behind
    assert store.templates.all() == []
    assert not sync.enabled


def test_sync_reconcile_after_module_replacement_drops_mappings_and_lists_nothing(
    sim: SimulatedR307,
    sensor: R307Sensor,
    store: Store,
    sync: TemplateSync,
    out: Recorder,
    keys: tuple[X25519PrivateKey, X25519PrivateKey],
    templates: dict[str, bytes],
) -> None:
    ids = []
    for finger, person in (("alice", NIP), ("bob", NIP2)):
        template_id, command = install_for(keys[0], templates[finger], person)
        assert sync.handle_command(command).ok
        ids.append(template_id)
    assert sync.handle_command(resync_command()).ok
    assert out.inventories[-1].have == tuple(sorted(ids))
    assert out.inventories[-1].public_key == sync.public_key
    sensor.clear()  # a new, empty module
    result = sync.handle_command(resync_command())
    assert result.ok
    inventory = out.inventories[-1]
    assert (inventory.have, inventory.used) == ((), 0)
    assert store.templates.all() == []
    actions = [(e.action, e.slot) for e in store.audit.recent(2)]
    assert actions == [("reconcile", 1), ("reconcile", 0)]
    # The central installs them again: the first one lands back in slot 0.
    _, command = install_for(keys[0], templates["alice"], NIP)
    assert sync.handle_command(command).detail == "installed in slot 0"


def test_sync_reconcile_clears_an_orphan_slot_and_keeps_legacy_mappings(
    sim: SimulatedR307,
    sensor: R307Sensor,
    store: Store,
    sync: TemplateSync,
    out: Recorder,
    templates: dict[str, bytes],
) -> None:
    sensor.write_template(Slot(5), templates["alice"])  # nobody's: an orphan
    sensor.write_template(Slot(2), templates["bob"])
    store.people.map(2, NIP2, "right-index")  # mapped before template sync: no id, kept
    sync.request_sync()
    sync.tick()
    assert sensor.used_slots() == {2}
    [inventory] = out.inventories
    assert (inventory.have, inventory.used) == ((), 1)
    entry = store.audit.recent()[0]
    assert (entry.action, entry.slot, entry.actor) == ("reconcile", 5, "reconcile")
    assert sync.free_slot() == 0
    sync.tick()  # no request pending: nothing runs
    assert len(out.inventories) == 1


def test_sync_roster_replaces_the_copy(sync: TemplateSync) -> None:
    assert sync.roster_size() == 0
    command = roster_command([RosterEntry(NIP, "Ani Lestari"), RosterEntry(NIP2, "Budi")])
    assert sync.handle_command(command).detail == "roster replaced, 2 people"
    assert sync.roster_entry(NIP) == RosterEntry(NIP, "Ani Lestari")
    assert sync.roster_entry("0") is None
    bad = Command(new_template_id(), Action.ROSTER, {"people": '[["x"]]'})
    result = sync.handle_command(bad)
    assert not result.ok and "params.people[0]" in result.detail
    assert sync.roster_size() == 2


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (Command(new_template_id(), Action.RELOAD_CONFIG), "not supported"),
        (Command(new_template_id(), Action.INSTALL_TEMPLATE, {"person": "x"}), "params.template"),
        (Command(new_template_id(), Action.DELETE_TEMPLATE, {"template": "nope"}), "UUID"),
        (template_command(Action.UPLOAD_TEMPLATE, new_template_id()), "not held here"),
        (
            Command(
                new_template_id(),
                Action.TEMPLATE_RECEIVED,
                {"template": new_template_id(), "kind": "x"},
            ),
            "params.kind",
        ),
    ],
)
def test_sync_bad_commands_get_an_error_result(
    sync: TemplateSync, command: Command, expected: str
) -> None:
    result = sync.handle_command(command)
    assert not result.ok and expected in result.detail
    assert decode_command_result(encode(result)) == result


def test_sync_module_failure_is_a_result_not_a_crash(
    sim: SimulatedR307,
    sync: TemplateSync,
    keys: tuple[X25519PrivateKey, X25519PrivateKey],
    templates: dict[str, bytes],
) -> None:
    sim.unplug()
    _, command = install_for(keys[0], templates["alice"], NIP)
    result = sync.handle_command(command)
    assert not result.ok and result.detail.startswith("module error")
    sim.replug()
