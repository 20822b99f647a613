"""TemplateSync: the terminal's book of enrolled fingers and its side of template sync.

It owns the slot map's template ids, the sealed reports waiting for the central, the roster copy
and reconciliation (docs/template-sync.md). Every method touches the module, so every method
runs on the sensor thread: the daemon calls them from the punch loop's tick, through
:class:`edge.jobs.JobQueue`, or from the admin service's jobs. Only :meth:`request_sync` may be
called from any thread.

Template bytes live in local variables for the few lines between the module and the sealing;
they never reach a log line, an error message, an audit row or the store in clear.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Set
from datetime import datetime
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from edge.clock import Clock
from edge.sensor import FingerprintSensor, SensorError, Slot
from edge.store import (
    AuditNote,
    Report,
    RosterRow,
    SlotMapping,
    Store,
    StoreError,
    TemplateSlot,
)
from edge.store.templates import DELETED, ENROLLED
from wire import encode
from wire.sealing import b64, public_key_text, seal
from wire.sync import Deleted, Enrolled, Inventory, RosterEntry, finger, new_template_id
from wire.topics import DeviceId

log = logging.getLogger(__name__)

CENTRAL = "central"
"""The audit actor for what the central asked for."""
RECONCILE = "reconcile"
"""The audit action (and actor) of reconciliation."""


class SyncDisabled(RuntimeError):
    """Template sync is off (no ``[sync].central_key``): enrollment must be refused."""


class SyncOutput(Protocol):
    """Where TemplateSync's messages go (the publisher in the daemon)."""

    def reports_queued(self) -> None:
        """New reports wait in the store: publish them soon."""

    def publish_inventory(self, inventory: Inventory) -> None:
        """Publish an inventory now (dropped while disconnected: every connect sends one)."""


class NoOutput:
    """A SyncOutput that sends nothing (sync disabled, or tests of the local side)."""

    def reports_queued(self) -> None:
        """Nothing to wake."""

    def publish_inventory(self, inventory: Inventory) -> None:
        """Nowhere to send it."""
        del inventory


class SyncBook:
    """The terminal's template book (:class:`edge.admin.ports.TemplateBook`) and reconciliation.

    :class:`edge.sync.TemplateSync` adds the central's commands on top.

    Args:
        sensor: The module (called on the sensor thread only).
        store: The store (slot map with template ids, report queue, roster, audit).
        clock: The clock for report and inventory times.
        device: This terminal's id.
        central_key: The central's public key; None turns sync off (enrollment refused).
        private_key: This terminal's key: opens what the central installs, named in inventories.
        output: Where reports and inventories go.
    """

    def __init__(
        self,
        sensor: FingerprintSensor,
        store: Store,
        *,
        clock: Clock,
        device: DeviceId,
        central_key: X25519PublicKey | None,
        private_key: X25519PrivateKey,
        output: SyncOutput | None = None,
    ) -> None:
        self.sensor = sensor
        self.store = store
        self.clock = clock
        self.device = device
        self.central_key = central_key
        self.private_key = private_key
        self.public_key = public_key_text(private_key)
        self.output: SyncOutput = output or NoOutput()
        self._sync_due = threading.Event()
        # The library size is fixed per module; read once and again at each reconcile (a
        # replaced module is noticed there), not once per install: installing a site's 1,000
        # templates would spend a ReadSysPara on each (bench/README.md, "Template install").
        self._library_size: int | None = None

    @property
    def enabled(self) -> bool:
        """Whether sync with the central is configured."""
        return self.central_key is not None

    # -- TemplateBook ------------------------------------------------------------------------

    def library_size(self) -> int:
        """The module's library capacity (cached; re-read at every reconcile)."""
        if self._library_size is None:
            self._library_size = self.sensor.info().capacity
        return self._library_size

    def capacity(self) -> tuple[int, int]:
        """``(used, capacity)`` of the module's library, read from the module."""
        # The index table, not TempleteNum: the count is advisory on some firmwares.
        return len(self.sensor.used_slots()), self.library_size()

    def free_slot(self, in_module: Set[int] | None = None) -> int | None:
        """The lowest slot free in the module's index and in the slot map; None when full.

        Args:
            in_module: The module's occupied slots when the caller has just read them (an
                install does), so the index table is not read twice.
        """
        used = self.sensor.used_slots() if in_module is None else in_module
        taken = set(used) | self.store.people.used_slots()
        return next((slot for slot in range(self.library_size()) if slot not in taken), None)

    def roster_entry(self, number: str) -> RosterEntry | None:
        """The person with this number in the roster copy, or None."""
        row = self.store.roster.get(number)
        return None if row is None else RosterEntry(row.number, row.name)

    def roster_size(self) -> int:
        """How many people the roster copy holds (0: none received yet)."""
        return self.store.roster.size()

    def record_enrollment(self, slot: int, person: str, finger_label: str, by: str) -> str:
        """A verified template was just stored in ``slot``: map it, seal it, queue the report.

        A mapping of the same person's same finger elsewhere is replaced (re-enrollment): its
        slot is cleared in the module and a ``deleted`` report for the old template queued, so
        the central removes it everywhere.

        Raises:
            SyncDisabled: No central key: the template could never reach the other terminals,
                so the enrollment is refused (and the slot cleared).
            wire.MessageError: ``person``, ``finger_label`` or ``by`` break the wire rules.
            edge.store.SlotTaken: ``slot`` is mapped already.
            SensorError, StoreError: the module or the store failed; nothing was mapped.
        """
        if self.central_key is None:
            self._clear_slot(slot, "enrollment refused: sync off")
            raise SyncDisabled(
                "template sync is off ([sync].central_key is not set in the config): "
                "enrollment refused, the finger could not reach the office's other terminals"
            )
        finger(finger_label)
        template_id = new_template_id()
        at = self.clock.utc_now()
        template = self.sensor.read_template(Slot(slot))
        enrolled = Enrolled(
            device=self.device,
            id=template_id,
            person=person,
            finger=finger_label,
            sealed=b64(seal(template, self.central_key, template_id)),
            by=by,
            at=at,
        )
        del template  # only the sealed box goes further
        reports = [Report(template_id, ENROLLED, encode(enrolled))]
        old = self.store.templates.by_finger(person, finger_label)
        if old is not None and old.template_id is not None:
            reports.append(self._deleted_report(old, by, at))
        replaced = self.store.templates.put(
            slot,
            person,
            finger_label,
            template_id,
            enrolled_by=by,
            audit=AuditNote("enroll", by, f"template={template_id}"),
            reports=reports,
        )
        if replaced is not None:
            self._clear_slot(replaced.slot, "re-enrolled elsewhere")
        log.info(
            "enrolled slot=%d person=%s finger=%s template=%s by=%s",
            slot,
            person,
            finger_label,
            template_id,
            by,
        )
        self.output.reports_queued()
        return template_id

    def record_deletion(self, slot: int, by: str) -> SlotMapping | None:
        """Delete ``slot`` from the module and the slot map, queue a ``deleted`` report, audit.

        Raises:
            SensorError: the module refused; the mapping is kept.
        """
        self.sensor.delete(Slot(slot))
        held = self.store.templates.by_slot(slot)
        reports = []
        if held is not None and held.template_id is not None and self.enabled:
            reports.append(self._deleted_report(held, by, self.clock.utc_now()))
        removed = self.store.templates.remove(slot, audit=AuditNote("delete", by), reports=reports)
        log.info(
            "deleted slot=%d person=%s by=%s",
            slot,
            None if removed is None else removed.person_id,
            by,
        )
        if reports:
            self.output.reports_queued()
        return None if removed is None else removed.mapping()

    def request_sync(self) -> None:
        """Reconcile and send an inventory on the next tick (any thread may call this)."""
        self._sync_due.set()

    # -- reconciliation ----------------------------------------------------------------------

    def tick(self) -> None:
        """Run a requested sync (the punch loop's tick, on the sensor thread)."""
        if self._sync_due.is_set():
            self._sync_due.clear()
            try:
                self.resync()
            except (SensorError, StoreError) as exc:
                # Tried again at the next connect or hour; punching goes on meanwhile.
                log.warning("sync failed error=%r", str(exc))

    def resync(self) -> Inventory:
        """Reconcile, then publish the inventory (when sync is on); returns it."""
        inventory = self.reconcile()
        if self.enabled:
            self.output.publish_inventory(inventory)
            log.info(
                "inventory have=%d used=%d capacity=%d",
                len(inventory.have),
                inventory.used,
                inventory.capacity,
            )
        return inventory

    def reconcile(self) -> Inventory:
        """Make the slot map and the module agree, and describe the result.

        A mapping whose slot is empty in the module (a replaced or wiped module) is dropped:
        the central installs the template again after the inventory. A module slot no mapping
        explains is cleared: it could only ever match as an unknown finger, and the central
        cannot know it.

        Raises:
            SensorError, StoreError: the module or the store failed part-way; what was done
                stays done, and the next pass finishes.
        """
        self._library_size = None
        in_module = self.sensor.used_slots()
        mapped = self.store.templates.all()
        for held in mapped:
            if held.slot not in in_module:
                self.store.templates.remove(
                    held.slot,
                    audit=AuditNote(RECONCILE, RECONCILE, "slot empty in the module; unmapped"),
                )
                log.warning(
                    "reconcile dropped mapping slot=%d person=%s template=%s",
                    held.slot,
                    held.person_id,
                    held.template_id,
                )
        explained = {held.slot for held in mapped}
        for slot in sorted(in_module - explained):
            self.sensor.delete(Slot(slot))
            self.store.audit.record(
                RECONCILE,
                actor=RECONCILE,
                slot=slot,
                detail="module slot no mapping explains; cleared",
            )
            log.warning("reconcile cleared orphan slot=%d", slot)
        capacity = self.library_size()
        used = len(self.sensor.used_slots())
        have = tuple(
            sorted(
                t.template_id
                for t in self.store.templates.all()
                if t.template_id is not None and t.slot in in_module
            )
        )
        return Inventory(
            device=self.device,
            public_key=self.public_key,
            have=have,
            capacity=capacity,
            used=min(used, capacity),
            at=self.clock.utc_now(),
        )

    # -- helpers -----------------------------------------------------------------------------

    def _deleted_report(self, held: TemplateSlot, by: str, at: datetime) -> Report:
        assert held.template_id is not None  # the callers check; a legacy slot has no report
        deleted = Deleted(
            device=self.device,
            id=held.template_id,
            person=held.person_id,
            finger=held.finger,
            by=by,
            at=at,
        )
        return Report(held.template_id, DELETED, encode(deleted))

    def _clear_slot(self, slot: int, why: str) -> None:
        """Clear a module slot nothing should point to; a failure is left to reconciliation."""
        try:
            self.sensor.delete(Slot(slot))
        except SensorError as exc:
            log.warning("slot not cleared slot=%d why=%r error=%r", slot, why, str(exc))


def roster_rows(entries: tuple[RosterEntry, ...]) -> list[RosterRow]:
    """The store's rows for a roster command's entries."""
    return [RosterRow(entry.number, entry.name) for entry in entries]


__all__ = [
    "CENTRAL",
    "RECONCILE",
    "NoOutput",
    "SyncBook",
    "SyncDisabled",
    "SyncOutput",
    "roster_rows",
]
