"""The store's exception tree: one root, each leaf also the builtin it resembles.

Callers act on the class, never on the message:

* :class:`StoreUnavailable` (an :class:`OSError`): the disk is full, the file system is read-only
  or the device failed. Nothing was saved; the punch loop must not tell the person "OK".
* :class:`StoreBusy` (a :class:`TimeoutError`): another writer held the lock past the busy
  timeout. Nothing was saved; retrying later can succeed.
* :class:`InvalidRecord`, :class:`DuplicatePunch`, :class:`UnknownSeq`, :class:`SlotTaken`,
  :class:`FingerTaken` (each a :class:`ValueError`): the caller asked for something the store's
  rules forbid. Nothing was changed.
* :class:`SchemaTooNew`: the file was written by a newer Hadir; this code must not touch it.
"""

from __future__ import annotations

from pathlib import Path


class StoreError(Exception):
    """Root of every error the store raises."""


class StoreUnavailable(StoreError, OSError):
    """The database file cannot be written (disk full, read-only file system, I/O error)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(
            f"store {path} is unavailable: {reason}; the change was not saved "
            "(check free space, that the file system is mounted read-write, and the SD card)"
        )
        self.path = path
        self.reason = reason


class StoreBusy(StoreError, TimeoutError):
    """Another connection held the write lock for longer than the busy timeout."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"store {path} is busy: {reason}; the change was not saved")
        self.path = path
        self.reason = reason


class SchemaTooNew(StoreError):
    """The file's schema version is newer than this code knows: a newer Hadir wrote it."""

    def __init__(self, path: Path, found: int, known: int) -> None:
        super().__init__(
            f"store {path} has schema version {found}, this Hadir knows only up to {known}; "
            "refusing to open it (upgrade Hadir, or restore a backup made by this version)"
        )
        self.path = path
        self.found = found
        self.known = known


class InvalidRecord(StoreError, ValueError):
    """A value handed to the store breaks its rules (empty id, naive datetime, negative slot)."""


class DuplicatePunch(StoreError, ValueError):
    """A punch with this id is already in the outbox."""

    def __init__(self, punch_id: str) -> None:
        super().__init__(f"punch id={punch_id} is already in the outbox")
        self.punch_id = punch_id


class UnknownSeq(StoreError, ValueError):
    """A sequence number beyond the highest one this device has assigned."""

    def __init__(self, seq: int, last_seq: int) -> None:
        super().__init__(
            f"seq {seq} was never assigned: this device's highest seq is {last_seq} "
            "(an ack for another device, or a store that was replaced?)"
        )
        self.seq = seq
        self.last_seq = last_seq


class SlotTaken(StoreError, ValueError):
    """The module slot is already mapped to another person or finger."""

    def __init__(self, slot: int, person_id: str, finger: str) -> None:
        super().__init__(f"slot {slot} is already mapped to person_id={person_id} finger={finger}")
        self.slot = slot
        self.person_id = person_id
        self.finger = finger


class FingerTaken(StoreError, ValueError):
    """This person's finger is already mapped to another slot."""

    def __init__(self, person_id: str, finger: str, slot: int) -> None:
        super().__init__(f"person_id={person_id} finger={finger} is already mapped to slot {slot}")
        self.person_id = person_id
        self.finger = finger
        self.slot = slot
