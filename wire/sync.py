"""Template sync messages: enrollment reports, inventories and the template commands' parameters.

edge → central on ``hadir/v1/dev/{device}/templates`` (QoS 1), one object with a ``kind``:

* ``enrolled`` (:class:`Enrolled`): a technician enrolled a finger here; the template travels
  sealed to the central's key (:mod:`wire.sealing`).
* ``deleted`` (:class:`Deleted`): a technician deleted a finger here; the central deletes it
  everywhere.
* ``inventory`` (:class:`Inventory`): the template ids this device holds and its public key, at
  every (re)connect and hourly, so the central can install what is missing, delete what should be
  gone, and ask back what it has lost. This anti-entropy pass is what makes a terminal that was
  offline during a sync, or one whose module was replaced, catch up: no command has to be
  delivered exactly once.

central → edge on ``.../cmd`` (:class:`wire.Command`), with the parameters built and checked here:
``install_template`` (:class:`Install`), ``delete_template``/``upload_template``/
``template_received`` (``template``: the id), ``resync`` (none) and ``roster``
(:class:`RosterEntry` rows). The device answers each on ``.../cmd/result``.

A template id is a UUID minted by the terminal that enrolled it; it names one finger of one
person for life, on every terminal and at the central.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, Self

from wire.errors import MessageError
from wire.messages import (
    Action,
    Command,
    _get,
    _int,
    _load,
    _same_device,
    _text,
    _time,
    _to_wire_time,
    _utc,
    _uuid,
)
from wire.topics import DeviceId, validate_device_id

FINGERS: Final[Mapping[str, str]] = {
    "right-thumb": "ibu jari kanan",
    "right-index": "telunjuk kanan",
    "right-middle": "jari tengah kanan",
    "right-ring": "jari manis kanan",
    "right-little": "kelingking kanan",
    "left-thumb": "ibu jari kiri",
    "left-index": "telunjuk kiri",
    "left-middle": "jari tengah kiri",
    "left-ring": "jari manis kiri",
    "left-little": "kelingking kiri",
}
"""The finger labels, with what a technician reads in Bahasa Indonesia."""

MAX_SEALED_CHARS: Final = 4096
"""A sealed template in base64: R307 templates are 512 bytes (768 with some firmwares)."""
MAX_INVENTORY: Final = 10_000
"""Template ids one inventory may list (the largest ZFM library is 3,000)."""
MAX_ROSTER: Final = 5_000
"""People one roster command may carry (a site of Kota Kupang has at most a few hundred)."""
_B64_CHARS: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")


def finger(value: object, path: str = "finger") -> str:
    """Check a finger label (one of :data:`FINGERS`)."""
    if not isinstance(value, str) or value not in FINGERS:
        raise MessageError.invalid(path, f"must be one of {', '.join(FINGERS)}", value)
    return value


def _sealed(value: object, path: str) -> str:
    # Never echo the value: even sealed, template material stays out of errors and logs.
    if not isinstance(value, str) or not 0 < len(value) <= MAX_SEALED_CHARS:
        size = len(value) if isinstance(value, str) else type(value).__name__
        raise MessageError(
            path, f"must be base64 text of 1..{MAX_SEALED_CHARS} characters, got {size}"
        )
    if not set(value) <= _B64_CHARS:
        raise MessageError(path, "must be standard base64 text")
    return value


def new_template_id() -> str:
    """A fresh template id."""
    return str(uuid.uuid4())


class TemplateKind(StrEnum):
    """The ``kind`` of a message on ``.../templates``."""

    ENROLLED = "enrolled"
    DELETED = "deleted"
    INVENTORY = "inventory"


_REPORT_KEYS: Final = ("device", "id", "person", "finger", "by", "at")
"""The fields every report of a template change carries, in wire order."""


def _check_report(report: Enrolled | Deleted) -> None:
    validate_device_id(report.device)
    _uuid(report.id, "id")
    _text(report.person, "person", 32)
    finger(report.finger)
    _text(report.by, "by")
    object.__setattr__(report, "at", _utc(report.at, "at"))


def _report_json(report: Enrolled | Deleted, kind: TemplateKind) -> dict[str, object]:
    fields: dict[str, object] = {key: getattr(report, key) for key in _REPORT_KEYS}
    fields["at"] = _to_wire_time(report.at)
    return {"kind": kind.value, **fields}


def _report_fields(obj: Mapping[str, object]) -> dict[str, Any]:
    return {
        "device": validate_device_id(_get(obj, "device", str)),
        "id": _get(obj, "id", str),
        "person": _get(obj, "person", str),
        "finger": _get(obj, "finger", str),
        "by": _get(obj, "by", str),
        "at": _time(_get(obj, "at", str), "at"),
    }


@dataclass(frozen=True, slots=True)
class Enrolled:
    """A finger enrolled on ``device``; ``sealed`` is the template sealed to the central.

    Attributes:
        device: The terminal that enrolled it.
        id: The template id (UUID, minted there).
        person: The person's number, as punches carry it.
        finger: One of :data:`FINGERS`.
        sealed: base64 of the box from :func:`wire.sealing.seal` for the central's key.
        by: Who enrolled it (the technician's login on the terminal).
        at: When, UTC.
    """

    device: DeviceId
    id: str
    person: str
    finger: str
    sealed: str = field(repr=False)
    by: str
    at: datetime

    def __post_init__(self) -> None:
        _check_report(self)
        _sealed(self.sealed, "sealed")

    def _to_json(self) -> dict[str, object]:
        return {**_report_json(self, TemplateKind.ENROLLED), "sealed": self.sealed}

    @classmethod
    def _from_json(cls, obj: Mapping[str, object]) -> Self:
        return cls(sealed=_sealed(obj.get("sealed"), "sealed"), **_report_fields(obj))


@dataclass(frozen=True, slots=True)
class Deleted:
    """A finger deleted on ``device`` by a technician; the central deletes it everywhere.

    Attributes: as :class:`Enrolled`, without the template.
    """

    device: DeviceId
    id: str
    person: str
    finger: str
    by: str
    at: datetime

    def __post_init__(self) -> None:
        _check_report(self)

    def _to_json(self) -> dict[str, object]:
        return _report_json(self, TemplateKind.DELETED)

    @classmethod
    def _from_json(cls, obj: Mapping[str, object]) -> Self:
        return cls(**_report_fields(obj))


@dataclass(frozen=True, slots=True)
class Inventory:
    """What a device holds, and the key to seal its templates to.

    Attributes:
        device: The device.
        public_key: Its X25519 public key (:func:`wire.sealing.public_key_text`).
        have: The template ids in its module and slot map, sorted, no repeats.
        capacity: The module's library size.
        used: The module's occupied slots.
        at: When, UTC.
    """

    device: DeviceId
    public_key: str
    have: tuple[str, ...]
    capacity: int
    used: int
    at: datetime

    def __post_init__(self) -> None:
        validate_device_id(self.device)
        if not isinstance(self.public_key, str) or len(self.public_key) != 44:
            raise MessageError.invalid(
                "public_key", "must be 44 characters of base64", self.public_key
            )
        _sealed(self.public_key, "public_key")
        if not isinstance(self.have, tuple) or len(self.have) > MAX_INVENTORY:
            raise MessageError("have", f"must be a list of at most {MAX_INVENTORY} template ids")
        for i, item in enumerate(self.have):
            _uuid(item, f"have[{i}]")
        if len(set(self.have)) != len(self.have):
            raise MessageError("have", "must not repeat a template id")
        _int(self.capacity, "capacity", 0, 0xFFFF)
        _int(self.used, "used", 0, 0xFFFF)
        object.__setattr__(self, "at", _utc(self.at, "at"))

    def _to_json(self) -> dict[str, object]:
        return {
            "kind": TemplateKind.INVENTORY.value,
            "device": self.device,
            "public_key": self.public_key,
            "have": sorted(self.have),
            "capacity": self.capacity,
            "used": self.used,
            "at": _to_wire_time(self.at),
        }

    @classmethod
    def _from_json(cls, obj: Mapping[str, object]) -> Self:
        return cls(
            device=validate_device_id(_get(obj, "device", str)),
            public_key=_get(obj, "public_key", str),
            have=tuple(_get(obj, "have", list)),
            capacity=_get(obj, "capacity", int),
            used=_get(obj, "used", int),
            at=_time(_get(obj, "at", str), "at"),
        )


TemplateMessage = Enrolled | Deleted | Inventory

_KINDS: Final[Mapping[str, type[Enrolled] | type[Deleted] | type[Inventory]]] = {
    TemplateKind.ENROLLED.value: Enrolled,
    TemplateKind.DELETED.value: Deleted,
    TemplateKind.INVENTORY.value: Inventory,
}


def decode_template_message(
    data: bytes | bytearray, *, topic_device: str | None = None
) -> TemplateMessage:
    """Decode a payload from ``.../templates``.

    Raises:
        MessageError: The payload breaks the contract, names another device than the topic, or
            has an unknown ``kind``. Template material is never quoted in the message.
    """
    obj = _load(data)
    kind = _get(obj, "kind", str)
    cls = _KINDS.get(kind)
    if cls is None:
        raise MessageError.invalid("kind", f"must be one of {', '.join(_KINDS)}", kind)
    message = cls._from_json(obj)
    _same_device(message.device, topic_device)
    return message


# --- the template commands' parameters ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Install:
    """The parameters of ``install_template``: the template sealed to the receiving device."""

    template: str
    person: str
    finger: str
    sealed: str = field(repr=False)

    def __post_init__(self) -> None:
        _uuid(self.template, "params.template")
        _text(self.person, "params.person", 32)
        finger(self.finger, "params.finger")
        _sealed(self.sealed, "params.sealed")

    @classmethod
    def of(cls, command: Command) -> Self:
        """Read the parameters of an ``install_template`` command (MessageError if wrong)."""
        _expect(command, Action.INSTALL_TEMPLATE)
        p = command.params
        return cls(
            template=_param_str(p, "template"),
            person=_param_str(p, "person"),
            finger=_param_str(p, "finger"),
            sealed=_sealed(p.get("sealed"), "params.sealed"),
        )


def _expect(command: Command, action: Action) -> None:
    if command.action is not action:
        raise MessageError.invalid("action", f"must be {action.value}", command.action.value)


def _param_str(params: Mapping[str, object], key: str) -> str:
    value = params.get(key)
    if not isinstance(value, str):
        raise MessageError(f"params.{key}", "required string parameter is missing")
    return value


def install_command(install: Install, command_id: str | None = None) -> Command:
    """Build the ``install_template`` command."""
    return Command(
        id=command_id or new_template_id(),
        action=Action.INSTALL_TEMPLATE,
        params={
            "template": install.template,
            "person": install.person,
            "finger": install.finger,
            "sealed": install.sealed,
        },
    )


def template_command(action: Action, template: str, command_id: str | None = None) -> Command:
    """Build a ``delete_template``, ``upload_template`` or ``template_received`` command."""
    if action not in (Action.DELETE_TEMPLATE, Action.UPLOAD_TEMPLATE, Action.TEMPLATE_RECEIVED):
        raise MessageError.invalid("action", "must take a template id", action.value)
    _uuid(template, "params.template")
    return Command(id=command_id or new_template_id(), action=action, params={"template": template})


def received_command(template: str, kind: TemplateKind, command_id: str | None = None) -> Command:
    """Build ``template_received``: the central stored this device's report of that kind.

    Naming the kind matters when a finger is enrolled and deleted within one round trip: the
    confirmation of the enrollment must not drop the deletion queued behind it.
    """
    _uuid(template, "params.template")
    return Command(
        id=command_id or new_template_id(),
        action=Action.TEMPLATE_RECEIVED,
        params={"template": template, "kind": TemplateKind(kind).value},
    )


def template_of(command: Command) -> str:
    """The ``template`` parameter of a command that names one template."""
    return _uuid(_param_str(command.params, "template"), "params.template")


@dataclass(frozen=True, slots=True)
class RosterEntry:
    """One person a technician may enroll at this device: the number punches carry, a name."""

    number: str
    name: str

    def __post_init__(self) -> None:
        _text(self.number, "number", 32)
        _text(self.name, "name", 200)


def roster_command(entries: Sequence[RosterEntry], command_id: str | None = None) -> Command:
    """Build the ``roster`` command: the whole roster, replacing the device's copy."""
    if len(entries) > MAX_ROSTER:
        raise MessageError("params.people", f"must list at most {MAX_ROSTER} people")
    people = json.dumps([[e.number, e.name] for e in entries], ensure_ascii=True)
    return Command(
        id=command_id or new_template_id(), action=Action.ROSTER, params={"people": people}
    )


def roster_of(command: Command) -> tuple[RosterEntry, ...]:
    """Read the entries of a ``roster`` command (MessageError naming the bad row)."""
    _expect(command, Action.ROSTER)
    try:
        rows = json.loads(_param_str(command.params, "people"))
    except ValueError:
        raise MessageError("params.people", "must be a JSON array of [number, name]") from None
    if not isinstance(rows, list) or len(rows) > MAX_ROSTER:
        raise MessageError("params.people", f"must be an array of at most {MAX_ROSTER} rows")
    entries: list[RosterEntry] = []
    for i, row in enumerate(rows):
        if not (isinstance(row, list) and len(row) == 2):
            raise MessageError(f"params.people[{i}]", "must be [number, name]")
        try:
            entries.append(RosterEntry(row[0], row[1]))
        except MessageError as exc:
            raise exc.within(f"params.people[{i}]") from None
    return tuple(entries)


def resync_command(command_id: str | None = None) -> Command:
    """Build the ``resync`` command: the device answers with an :class:`Inventory`."""
    return Command(id=command_id or new_template_id(), action=Action.RESYNC)


__all__ = [
    "FINGERS",
    "MAX_INVENTORY",
    "Deleted",
    "Enrolled",
    "Install",
    "Inventory",
    "RosterEntry",
    "TemplateKind",
    "TemplateMessage",
    "decode_template_message",
    "finger",
    "install_command",
    "new_template_id",
    "received_command",
    "resync_command",
    "roster_command",
    "roster_of",
    "template_command",
    "template_of",
]
