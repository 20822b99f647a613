"""What the technician's operations need from the rest of the daemon, as narrow protocols.

The admin service (``edge/admin/service.py``) runs enrollment, verification and deletion; the
template sync (``edge/sync.py``, :class:`edge.sync.TemplateSync`) keeps the slot map, the sealed
uploads, the roster copy and the audit. This module is the seam between them, so each can be
built and tested on its own and neither imports the other.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Protocol, TypeVar

from edge.store.people import SlotMapping
from wire.sync import RosterEntry

T = TypeVar("T")

Submit = Callable[[Callable[[], T]], "Future[T]"]
"""Run a function on the thread that owns the sensor, between two presses (edge/jobs.py)."""


class TemplateBook(Protocol):
    """The terminal's book of enrolled fingers. All calls run on the sensor thread."""

    def capacity(self) -> tuple[int, int]:
        """``(used, capacity)`` of the module's library, read from the module."""

    def free_slot(self) -> int | None:
        """The lowest slot free both in the module's index and in the slot map; None when full."""

    def roster_entry(self, number: str) -> RosterEntry | None:
        """The person with this number in the roster copy the central sent, or None."""

    def roster_size(self) -> int:
        """How many people the roster copy holds (0: the central has not sent one yet)."""

    def record_enrollment(self, slot: int, person: str, finger: str, by: str) -> str:
        """A verified template was just stored in ``slot``: map it, seal it, queue the upload.

        Maps slot → (person, finger) under a new template id, reads the template back from the
        module, seals it to the central's key, queues a ``wire.sync.Enrolled`` report in the
        store (sent until the central confirms it) and writes the audit line, in one store
        transaction. Returns the template id.
        """

    def record_deletion(self, slot: int, by: str) -> SlotMapping | None:
        """Delete ``slot`` from the module and the slot map, queue a ``Deleted`` report, audit.

        Returns the mapping that was removed, or None if the slot was not mapped (the module's
        slot is cleared all the same).
        """

    def request_sync(self) -> None:
        """Reconcile module, slot map and central now: send an inventory on the next tick."""
