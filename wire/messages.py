"""Message payloads of wire version 1: frozen dataclasses, encoded to and decoded from JSON bytes.

Every payload is a UTF-8 JSON object carrying ``"v": 1`` (:data:`WIRE_VERSION`). Constructing a
message validates it, so the edge cannot publish what the central would refuse; decoding runs the
same checks and raises :class:`~wire.errors.MessageError` naming the field path and the bad value.

Decoding is strict about what a field holds: ``true`` is not an integer, ``1.0`` is not an
integer, ``NaN``/``Infinity`` and duplicate keys are refused, times must be UTC, and a payload
over :data:`MAX_PAYLOAD_BYTES` is refused before it is parsed. It is lenient about what it does
not know: **unknown keys are ignored**, at every level. A producer may add an optional field
within version 1 and older consumers keep working (the edge and the central are upgraded at
different times, terminal by terminal). A change that older readers would misread (a field
renamed, retyped or made required) bumps :data:`WIRE_VERSION` and the ``v1`` in the topics, and
a reader refuses any version it does not speak.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Final, Protocol, Self, TypeVar

from wire.errors import MessageError
from wire.topics import DeviceId, validate_device_id

WIRE_VERSION: Final = 1
"""The version every payload carries as ``"v"``; a reader refuses any other."""
MAX_PAYLOAD_BYTES: Final = 1 << 20
"""Decoders refuse larger payloads unread; encoders refuse to produce them."""
MAX_BATCH_PUNCHES: Final = 1000
"""The most punches one :class:`PunchBatch` may hold (about 250 KiB of JSON)."""

_INT64_MAX: Final = 2**63 - 1  # every integer must fit a SQLite / PostgreSQL BIGINT
_UINT16_MAX: Final = 0xFFFF  # slot (page id) and score are 2-byte fields of the R307 protocol
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_WIRE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
    r"(Z|\+00:00)"
)
_MAX_ENTRIES: Final = 64  # keys in a versions or params object
_T = TypeVar("_T")
_TYPE_NAMES: Final = {
    int: "an integer",
    str: "a string",
    bool: "a boolean",
    list: "an array",
    dict: "an object",
}


# --- checks shared by the constructors and the decoders -------------------------------------


def _int(value: object, path: str, low: int = 0, high: int = _INT64_MAX) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        rule = f">= {low}" if high == _INT64_MAX else f"in {low}..{high}"
        raise MessageError.invalid(path, f"must be an integer {rule}", value)
    return value


def _text(value: object, path: str, max_len: int = 64, *, free: bool = False) -> str:
    """Check a string; free text may be empty and hold line breaks, a name may not."""
    if (
        not isinstance(value, str)
        or len(value) > max_len
        or not (free or (value and value.isprintable()))
    ):
        rule = "a string" if free else "a non-empty printable string"
        raise MessageError.invalid(path, f"must be {rule} of at most {max_len} characters", value)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800") would break every database driver
        raise MessageError.invalid(path, "must be valid Unicode text", value) from None
    return value


def _bool(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise MessageError.invalid(path, "must be a boolean", value)
    return value


def _uuid(value: object, path: str) -> str:
    if not isinstance(value, str) or _UUID.fullmatch(value) is None:
        raise MessageError.invalid(path, "must be a lowercase UUID (8-4-4-4-12 hex digits)", value)
    return value


def _utc(value: object, path: str) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() != timedelta(0):
        raise MessageError.invalid(path, "must be a timezone-aware datetime in UTC", value)
    return value.astimezone(UTC)


def _maybe(check: Callable[[object, str], object], value: object, path: str) -> None:
    if value is not None:
        check(value, path)


def _param(value: object, path: str) -> ParamValue:
    if isinstance(value, str):
        return _text(value, path, MAX_PAYLOAD_BYTES, free=True)
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and -_INT64_MAX - 1 <= value <= _INT64_MAX:
        return value
    raise MessageError.invalid(path, "must be a string, a boolean or a 64-bit integer", value)


def _frozen_map(value: object, path: str, check: Callable[[object, str], _T]) -> Mapping[str, _T]:
    """Copy a str-keyed mapping into a read-only one, checking each key and value."""
    if not isinstance(value, Mapping) or len(value) > _MAX_ENTRIES:
        raise MessageError.invalid(path, f"must be an object of at most {_MAX_ENTRIES} keys", value)
    copy: dict[str, _T] = {}
    for key, item in value.items():
        where = f"{path}[{json.dumps(key)}]" if isinstance(key, str) else path
        copy[_text(key, where)] = check(item, where)
    return MappingProxyType(copy)


def _action(value: object, path: str = "action") -> Action:
    if not isinstance(value, str) or value not in _ACTIONS:
        raise MessageError.invalid(path, f"must be one of {', '.join(_ACTIONS)}", value)
    return _ACTIONS[value]


# --- decoding --------------------------------------------------------------------------------


def _load(data: bytes | bytearray) -> dict[str, object]:
    """Parse a payload into its top-level object, after checking size, JSON and version."""
    if not isinstance(data, bytes | bytearray):
        raise MessageError("payload", f"must be bytes, got {type(data).__name__}")
    if len(data) > MAX_PAYLOAD_BYTES:
        raise MessageError.invalid(
            "payload", f"must be at most {MAX_PAYLOAD_BYTES} bytes", len(data)
        )
    try:
        text = data.decode("utf-8")
        if text.startswith("\ufeff"):  # what json.loads refuses before decoding
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        obj = _DECODER.decode(text)
    except MessageError:
        raise
    except UnicodeDecodeError as error:
        raise MessageError(
            "payload", f"must be UTF-8, got {error.reason} at byte {error.start}"
        ) from None
    except (ValueError, RecursionError) as error:  # JSONDecodeError, int too long, too deep
        raise MessageError("payload", f"must be JSON, got {error}") from None
    if not isinstance(obj, dict):
        raise MessageError.invalid("payload", "must be a JSON object", obj)
    version = _get(obj, "v", int)
    if version != WIRE_VERSION:
        raise MessageError.invalid("v", f"must be wire version {WIRE_VERSION}", version)
    return obj


def _no_constant(name: str) -> object:
    raise MessageError("payload", f"must be strict JSON, got {name}")


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    # Runs for every JSON object: a repeated key is what makes the dict shorter than the
    # pairs, so the loop that names it only runs on a refused payload.
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise MessageError("payload", f"must not repeat a key, got {json.dumps(key)} twice")
            seen.add(key)
    return obj


# One decoder for every payload: json.loads with hooks builds a new one per call.
_DECODER: Final = json.JSONDecoder(
    parse_constant=_no_constant, object_pairs_hook=_no_duplicate_keys
)


def _get(obj: Mapping[str, object], key: str, kind: type[_T]) -> _T:
    """Return a required field, checked to be of kind (a bool is not an int)."""
    if key not in obj:
        raise MessageError(key, "required field is missing")
    return _of_kind(obj[key], key, kind)


def _opt(obj: Mapping[str, object], key: str, kind: type[_T]) -> _T | None:
    """Return an optional field: absent and ``null`` both mean unknown."""
    value = obj.get(key)
    return None if value is None else _of_kind(value, key, kind)


def _of_kind(value: object, path: str, kind: type[_T]) -> _T:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise MessageError.invalid(path, f"must be {_TYPE_NAMES[kind]}", value)
    return value


def _time(value: str, path: str) -> datetime:
    """Parse a wire time: ``YYYY-MM-DDTHH:MM:SS[.ffffff]``, then ``Z`` or ``+00:00`` only."""
    if _WIRE_TIME.fullmatch(value) is not None:
        with contextlib.suppress(ValueError):  # a well-formed but impossible date: 2025-02-30
            return datetime.fromisoformat(value)
    raise MessageError.invalid(path, "must be a UTC time like 2025-01-31T23:59:59.123456Z", value)


def _to_wire_time(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


# --- messages --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Punch:
    """One accepted fingerprint on one terminal, as committed to the edge outbox.

    Attributes:
        seq: The device's gap-free sequence number, from 1; the central stores by (device, seq).
        id: A lowercase UUID minted at commit, so the punch is traceable end to end.
        person: The person the matched slot maps to (NIP or honorer number).
        slot: The module's template slot that matched (0..65535).
        score: The module's match score (0..65535).
        at: When, in UTC, by the Pi's clock (see clock_synced).
        clock_synced: Whether the system clock was NTP-synchronized at that moment.
        boot_id: The kernel boot id; with mono_ns it lets the central re-base unsynced times.
        mono_ns: The monotonic clock in nanoseconds at the punch (counts from boot).
    """

    seq: int
    id: str
    person: str
    slot: int
    score: int
    at: datetime
    clock_synced: bool
    boot_id: str
    mono_ns: int

    def __post_init__(self) -> None:
        _int(self.seq, "seq", 1)
        _uuid(self.id, "id")
        _text(self.person, "person")
        _int(self.slot, "slot", 0, _UINT16_MAX)
        _int(self.score, "score", 0, _UINT16_MAX)
        object.__setattr__(self, "at", _utc(self.at, "at"))
        _bool(self.clock_synced, "clock_synced")
        _text(self.boot_id, "boot_id")
        _int(self.mono_ns, "mono_ns")

    def _to_json(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "id": self.id,
            "person": self.person,
            "slot": self.slot,
            "score": self.score,
            "at": _to_wire_time(self.at),
            "clock_synced": self.clock_synced,
            "boot_id": self.boot_id,
            "mono_ns": self.mono_ns,
        }

    @classmethod
    def _from_json(cls, obj: Mapping[str, object]) -> Self:
        # The collector decodes tens of thousands of punches a second: a punch that passes
        # every check of __post_init__ in one pass (the usual case) is built without running
        # them a second time. Anything else - a missing key, another type, a value out of
        # range, non-ASCII text - takes the checked path, which names the first bad field.
        get = obj.get
        seq, pid, person, slot, score = (
            get("seq"),
            get("id"),
            get("person"),
            get("slot"),
            get("score"),
        )
        at, synced, boot, mono = get("at"), get("clock_synced"), get("boot_id"), get("mono_ns")
        if (
            type(seq) is int
            and 0 < seq <= _INT64_MAX
            and type(pid) is str
            and _UUID.fullmatch(pid) is not None
            and type(person) is str
            and 0 < len(person) <= 64
            and person.isascii()
            and person.isprintable()
            and type(slot) is int
            and 0 <= slot <= _UINT16_MAX
            and type(score) is int
            and 0 <= score <= _UINT16_MAX
            and type(at) is str
            and _WIRE_TIME.fullmatch(at) is not None
            and type(synced) is bool
            and type(boot) is str
            and 0 < len(boot) <= 64
            and boot.isascii()
            and boot.isprintable()
            and type(mono) is int
            and 0 <= mono <= _INT64_MAX
        ):
            try:
                when = datetime.fromisoformat(at)
            except ValueError:  # 2025-02-30: the checked path says so
                return cls._from_json_checked(obj)
            if when.tzinfo is UTC:  # what "Z" and "+00:00" parse to, as _utc would return
                punch = object.__new__(cls)
                put = object.__setattr__
                put(punch, "seq", seq)
                put(punch, "id", pid)
                put(punch, "person", person)
                put(punch, "slot", slot)
                put(punch, "score", score)
                put(punch, "at", when)
                put(punch, "clock_synced", synced)
                put(punch, "boot_id", boot)
                put(punch, "mono_ns", mono)
                return punch
        return cls._from_json_checked(obj)

    @classmethod
    def _from_json_checked(cls, obj: Mapping[str, object]) -> Self:
        return cls(
            seq=_get(obj, "seq", int),
            id=_get(obj, "id", str),
            person=_get(obj, "person", str),
            slot=_get(obj, "slot", int),
            score=_get(obj, "score", int),
            at=_time(_get(obj, "at", str), "at"),
            clock_synced=_get(obj, "clock_synced", bool),
            boot_id=_get(obj, "boot_id", str),
            mono_ns=_get(obj, "mono_ns", int),
        )


@dataclass(frozen=True, slots=True)
class PunchBatch:
    """Punches of one device, published on ``hadir/v1/dev/{device}/punches``.

    Holds 1..:data:`MAX_BATCH_PUNCHES` punches with strictly increasing ``seq`` (so no
    duplicates) and distinct ids. Sequences need not be contiguous: the central reports gaps.

    Attributes:
        device: The publishing device; the collector checks it against the topic.
        punches: The punches, oldest first.
    """

    device: DeviceId
    punches: tuple[Punch, ...]

    def __post_init__(self) -> None:
        validate_device_id(self.device)
        if not isinstance(self.punches, tuple) or not 0 < len(self.punches) <= MAX_BATCH_PUNCHES:
            raise MessageError.invalid(
                "punches", f"must be a tuple of 1..{MAX_BATCH_PUNCHES} punches", self.punches
            )
        ids: dict[str, int] = {}
        for i, punch in enumerate(self.punches):
            if not isinstance(punch, Punch):
                raise MessageError.invalid(f"punches[{i}]", "must be a Punch", punch)
            previous = self.punches[i - 1].seq if i else 0
            if punch.seq == previous:
                raise MessageError(
                    f"punches[{i}].seq",
                    f"duplicates punches[{i - 1}].seq ({previous}); seqs must strictly increase",
                )
            if punch.seq < previous:
                raise MessageError.invalid(
                    f"punches[{i}].seq",
                    f"must be greater than punches[{i - 1}].seq ({previous})",
                    punch.seq,
                )
            if punch.id in ids:
                raise MessageError.invalid(
                    f"punches[{i}].id", f"must differ from punches[{ids[punch.id]}].id", punch.id
                )
            ids[punch.id] = i

    def _to_json(self) -> dict[str, object]:
        return {"device": self.device, "punches": [punch._to_json() for punch in self.punches]}

    @classmethod
    def _from_json(cls, obj: Mapping[str, object]) -> Self:
        device = validate_device_id(_get(obj, "device", str))
        items = _get(obj, "punches", list)
        if not 0 < len(items) <= MAX_BATCH_PUNCHES:  # refuse a huge batch before decoding it
            raise MessageError.invalid(
                "punches", f"must hold 1..{MAX_BATCH_PUNCHES} punches", items
            )
        punches = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise MessageError.invalid(f"punches[{i}]", "must be an object", item)
            try:
                punches.append(Punch._from_json(item))
            except MessageError as error:
                raise error.within(f"punches[{i}]") from None
        return cls(device=device, punches=tuple(punches))


@dataclass(frozen=True, slots=True)
class Ack:
    """The central's cumulative acknowledgement on ``hadir/v1/dev/{device}/ack``.

    Attributes:
        upto: Every punch of the device with ``seq <= upto`` is committed centrally; the edge may
            release them. 0 acknowledges nothing (a central that has seen no punch yet).
    """

    upto: int

    def __post_init__(self) -> None:
        _int(self.upto, "upto")

    def _to_json(self) -> dict[str, object]:
        return {"upto": self.upto}

    @classmethod
    def _from_json(cls, obj: Mapping[str, object]) -> Self:
        return cls(upto=_get(obj, "upto", int))


@dataclass(frozen=True, slots=True)
class Status:
    """A device's heartbeat on ``hadir/v1/dev/{device}/status`` (retained), or its last will.

    Only ``device`` and ``online`` are required; the heartbeat fields are ``None`` when unknown,
    and always ``None`` in the last will (:meth:`offline`). Omitted from the JSON when ``None``.

    Attributes:
        device: The device reporting.
        online: False only in the last will, which the broker publishes when the device is gone.
        sensor: The sensor's state in one word, e.g. ``ok``, ``unavailable``, ``misconfigured``.
        templates_used: Occupied template slots on the module.
        templates_capacity: The module's template capacity; never below templates_used.
        outbox_depth: Punches committed on the edge and not yet acknowledged by the central.
        clock_synced: Whether the system clock is NTP-synchronized now.
        at: The device's UTC clock when it sent this, for the central to compare with its own.
        versions: Software versions by component, e.g. ``{"hadir": "0.1.0"}`` (at most 64).
    """

    device: DeviceId
    online: bool
    sensor: str | None = None
    templates_used: int | None = None
    templates_capacity: int | None = None
    outbox_depth: int | None = None
    clock_synced: bool | None = None
    at: datetime | None = None
    versions: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        validate_device_id(self.device)
        _bool(self.online, "online")
        _maybe(lambda value, path: _text(value, path, 32), self.sensor, "sensor")
        _maybe(_int, self.templates_used, "templates_used")
        _maybe(_int, self.templates_capacity, "templates_capacity")
        _maybe(_int, self.outbox_depth, "outbox_depth")
        _maybe(_bool, self.clock_synced, "clock_synced")
        if self.at is not None:
            object.__setattr__(self, "at", _utc(self.at, "at"))
        object.__setattr__(self, "versions", _frozen_map(self.versions, "versions", _text))
        used, capacity = self.templates_used, self.templates_capacity
        if used is not None and capacity is not None and used > capacity:
            raise MessageError.invalid(
                "templates_used", f"must be <= templates_capacity ({capacity})", used
            )

    @classmethod
    def offline(cls, device: str) -> Self:
        """Build the last will: ``{"v": 1, "device": ..., "online": false}``.

        Args:
            device: The device whose connection the broker reports lost.

        Returns:
            A status with every heartbeat field unknown.
        """
        return cls(device=validate_device_id(device), online=False)

    def _to_json(self) -> dict[str, object]:
        obj: dict[str, object] = {
            "device": self.device,
            "online": self.online,
            "sensor": self.sensor,
            "templates_used": self.templates_used,
            "templates_capacity": self.templates_capacity,
            "outbox_depth": self.outbox_depth,
            "clock_synced": self.clock_synced,
            "at": None if self.at is None else _to_wire_time(self.at),
            "versions": dict(self.versions) or None,
        }
        return {key: value for key, value in obj.items() if value is not None}

    @classmethod
    def _from_json(cls, obj: Mapping[str, object]) -> Self:
        at = _opt(obj, "at", str)
        return cls(
            device=validate_device_id(_get(obj, "device", str)),
            online=_get(obj, "online", bool),
            sensor=_opt(obj, "sensor", str),
            templates_used=_opt(obj, "templates_used", int),
            templates_capacity=_opt(obj, "templates_capacity", int),
            outbox_depth=_opt(obj, "outbox_depth", int),
            clock_synced=_opt(obj, "clock_synced", bool),
            at=None if at is None else _time(at, "at"),
            versions=_opt(obj, "versions", dict) or {},
        )


class Action(StrEnum):
    """What a :class:`Command` asks a device to do."""

    INSTALL_TEMPLATE = "install_template"
    """Store a template sent sealed to this device (params: :class:`wire.sync.Install`)."""
    DELETE_TEMPLATE = "delete_template"
    """Remove a template from the module and the slot map (params: ``template``)."""
    RESYNC = "resync"
    """Send an inventory now (``wire.sync.Inventory``) so the central can diff it."""
    RELOAD_CONFIG = "reload_config"
    UPLOAD_TEMPLATE = "upload_template"
    """The central lacks a template this device holds: upload it again (params: ``template``)."""
    TEMPLATE_RECEIVED = "template_received"
    """The central stored an enrollment or deletion report; the device may forget it."""
    ROSTER = "roster"
    """The people of this device's site(s), for the technician's look-ups (``wire.sync``)."""


ParamValue = str | int | bool
"""The JSON scalars a command parameter may hold (no floats, no nesting)."""


@dataclass(frozen=True, slots=True)
class Command:
    """A central → device request on ``hadir/v1/dev/{device}/cmd``, answered by a CommandResult.

    The parameters are a flat object of JSON scalars; :mod:`wire.sync` builds and checks those of
    the template actions (``install_command``/``Install.of`` and friends).

    Attributes:
        id: A lowercase UUID; the result echoes it, and a repeated id is the same command.
        action: What to do.
        params: The action's arguments, e.g. ``{"slot": 12, "person": "1985…"}`` (at most 64).
    """

    id: str
    action: Action
    params: Mapping[str, ParamValue] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        _uuid(self.id, "id")
        object.__setattr__(self, "action", _action(self.action))
        object.__setattr__(self, "params", _frozen_map(self.params, "params", _param))

    def _to_json(self) -> dict[str, object]:
        return {"id": self.id, "action": self.action.value, "params": dict(self.params)}

    @classmethod
    def _from_json(cls, obj: Mapping[str, object]) -> Self:
        return cls(
            id=_get(obj, "id", str),
            action=_action(_get(obj, "action", str)),
            params=_opt(obj, "params", dict) or {},
        )


@dataclass(frozen=True, slots=True)
class CommandResult:
    """A device's answer to a :class:`Command`, on ``hadir/v1/dev/{device}/cmd/result``.

    Attributes:
        id: The command's id.
        ok: Whether the device carried the command out.
        detail: What happened, for the operator; empty when there is nothing to add.
    """

    id: str
    ok: bool
    detail: str = ""

    def __post_init__(self) -> None:
        _uuid(self.id, "id")
        _bool(self.ok, "ok")
        _text(self.detail, "detail", 1000, free=True)

    def _to_json(self) -> dict[str, object]:
        return {"id": self.id, "ok": self.ok, "detail": self.detail}

    @classmethod
    def _from_json(cls, obj: Mapping[str, object]) -> Self:
        return cls(
            id=_get(obj, "id", str), ok=_get(obj, "ok", bool), detail=_opt(obj, "detail", str) or ""
        )


_ACTIONS: Final = {action.value: action for action in Action}

Message = PunchBatch | Ack | Status | Command | CommandResult
"""Every payload :func:`encode` accepts."""

# The enrollment uploads on hadir/v1/dev/{device}/templates live in wire.sync.


class Encodable(Protocol):
    """Any message class of the contract (those of :mod:`wire.sync` too)."""

    def _to_json(self) -> dict[str, object]: ...


def encode(message: Message | Encodable) -> bytes:
    """Serialize a message to its payload: compact ASCII JSON with ``"v": 1`` first.

    Args:
        message: Any message; it was validated when it was built.

    Returns:
        The bytes to publish.

    Raises:
        MessageError: The payload would exceed :data:`MAX_PAYLOAD_BYTES` (path ``payload``).
    """
    payload = json.dumps(
        {"v": WIRE_VERSION, **message._to_json()}, separators=(",", ":"), allow_nan=False
    ).encode("ascii")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise MessageError.invalid(
            "payload", f"must be at most {MAX_PAYLOAD_BYTES} bytes", len(payload)
        )
    return payload


def _same_device(device: DeviceId, topic_device: str | None) -> None:
    if topic_device is not None and device != topic_device:
        raise MessageError.invalid(
            "device", f"must match the topic's device {json.dumps(topic_device)}", device
        )


def decode_punch_batch(data: bytes | bytearray, *, topic_device: str | None = None) -> PunchBatch:
    """Decode a payload from ``.../punches``.

    Args:
        data: The payload.
        topic_device: The device named by the topic; when given, the payload must name it too
            (a device must not speak for another).

    Returns:
        The batch.

    Raises:
        MessageError: The payload breaks the contract; the message names the field.
    """
    batch = PunchBatch._from_json(_load(data))
    _same_device(batch.device, topic_device)
    return batch


def decode_ack(data: bytes | bytearray) -> Ack:
    """Decode a payload from ``.../ack``; raises :class:`MessageError` like the others."""
    return Ack._from_json(_load(data))


def decode_status(data: bytes | bytearray, *, topic_device: str | None = None) -> Status:
    """Decode a payload from ``.../status``, checking its device as :func:`decode_punch_batch`."""
    status = Status._from_json(_load(data))
    _same_device(status.device, topic_device)
    return status


def decode_command(data: bytes | bytearray) -> Command:
    """Decode a payload from ``.../cmd``; raises :class:`MessageError` like the others."""
    return Command._from_json(_load(data))


def decode_command_result(data: bytes | bytearray) -> CommandResult:
    """Decode a payload from ``.../cmd/result``; raises :class:`MessageError` like the others."""
    return CommandResult._from_json(_load(data))
