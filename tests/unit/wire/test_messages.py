"""Wire v1 payloads: round trips, golden bytes, each malformed payload, and a seeded fuzz loop."""

from __future__ import annotations

import copy
import dataclasses
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from wire import (
    MAX_BATCH_PUNCHES,
    MAX_PAYLOAD_BYTES,
    WIRE_VERSION,
    Ack,
    Action,
    Command,
    CommandResult,
    DeviceId,
    Message,
    MessageError,
    Punch,
    PunchBatch,
    Status,
    decode_ack,
    decode_command,
    decode_command_result,
    decode_punch_batch,
    decode_status,
    encode,
)

AT = datetime(2026, 3, 2, 0, 59, 7, 250_000, tzinfo=UTC)
BOOT = "6f1c2f0e-4b7e-4b43-9a55-0d3c9b1f7e21"
CMD_ID = "0b6d5a6e-3c1f-4d2a-8f7e-5a4b3c2d1e0f"


def punch_id(seq: int) -> str:
    return f"00000000-0000-4000-8000-{seq:012x}"


def make_punch(seq: int = 1, **changes: Any) -> Punch:
    fields: dict[str, Any] = {
        "seq": seq,
        "id": punch_id(seq),
        "person": "198501012010011001",
        "slot": 17,
        "score": 143,
        "at": AT + timedelta(seconds=seq),
        "clock_synced": True,
        "boot_id": BOOT,
        "mono_ns": 5_000_000_000 + seq,
    }
    return Punch(**(fields | changes))


def make_batch(count: int = 3) -> PunchBatch:
    punches = tuple(make_punch(seq) for seq in range(1, count + 1))
    return PunchBatch(device=DeviceId("pi-01"), punches=punches)


def full_status() -> Status:
    return Status(
        device=DeviceId("pi-01"),
        online=True,
        sensor="ok",
        templates_used=12,
        templates_capacity=1000,
        outbox_depth=0,
        clock_synced=False,
        at=AT,
        versions={"hadir": "0.1.0", "python": "3.11.7"},
    )


def as_bytes(obj: object) -> bytes:
    return json.dumps(obj).encode()


def valid_payloads() -> list[tuple[Callable[[bytes], Message], Message]]:
    return [
        (decode_punch_batch, make_batch(3)),
        (decode_ack, Ack(upto=41)),
        (decode_status, full_status()),
        (decode_status, Status.offline("pi-01")),
        (
            decode_command,
            Command(
                id=CMD_ID,
                action=Action.DELETE_TEMPLATE,
                params={"slot": 17, "person": "1985", "wipe": True},
            ),
        ),
        (decode_command_result, CommandResult(id=CMD_ID, ok=False, detail="slot 17 empty\nok")),
    ]


# --- round trips and golden bytes ------------------------------------------------------------


@pytest.mark.parametrize(("decode", "message"), valid_payloads())
def test_messages_round_trip(decode: Callable[[bytes], Message], message: Message) -> None:
    payload = encode(message)
    assert decode(payload) == message
    assert json.loads(payload)["v"] == WIRE_VERSION
    assert encode(decode(payload)) == payload


def test_punch_batch_round_trips_at_the_size_limit() -> None:
    batch = make_batch(MAX_BATCH_PUNCHES)
    payload = encode(batch)
    assert len(payload) < MAX_PAYLOAD_BYTES
    assert decode_punch_batch(payload) == batch


def test_punch_batch_decodes_a_hand_written_payload() -> None:
    # Written by hand from architecture.md, not produced by encode(): both UTC spellings.
    payload = (
        b'{"v":1,"device":"pi-01","punches":['
        b'{"seq":7,"id":"00000000-0000-4000-8000-000000000007","person":"1985","slot":0,'
        b'"score":0,"at":"2026-03-02T00:59:07Z","clock_synced":false,'
        b'"boot_id":"b","mono_ns":0},'
        b'{"seq":9,"id":"00000000-0000-4000-8000-000000000009","person":"H-12","slot":65535,'
        b'"score":65535,"at":"2026-03-02T00:59:08.5+00:00","clock_synced":true,'
        b'"boot_id":"b","mono_ns":9223372036854775807}]}'
    )
    batch = decode_punch_batch(payload, topic_device="pi-01")
    assert batch.device == "pi-01"
    assert [p.seq for p in batch.punches] == [7, 9]
    assert batch.punches[0].at == datetime(2026, 3, 2, 0, 59, 7, tzinfo=UTC)
    assert batch.punches[1].at == datetime(2026, 3, 2, 0, 59, 8, 500_000, tzinfo=UTC)
    assert batch.punches[1].clock_synced is True


def test_punch_encodes_to_the_documented_shape() -> None:
    payload = encode(PunchBatch(device=DeviceId("pi-01"), punches=(make_punch(1),)))
    assert payload == (
        b'{"v":1,"device":"pi-01","punches":[{"seq":1,'
        b'"id":"00000000-0000-4000-8000-000000000001","person":"198501012010011001",'
        b'"slot":17,"score":143,"at":"2026-03-02T00:59:08.250000Z","clock_synced":true,'
        b'"boot_id":"6f1c2f0e-4b7e-4b43-9a55-0d3c9b1f7e21","mono_ns":5000000001}]}'
    )


def test_status_offline_is_the_documented_last_will() -> None:
    assert encode(Status.offline("pi-01")) == b'{"v":1,"device":"pi-01","online":false}'
    assert encode(Ack(upto=0)) == b'{"v":1,"upto":0}'


def test_messages_ignore_unknown_keys_for_forward_compatibility() -> None:
    obj = json.loads(encode(make_batch(2)))
    obj["compressed"] = False
    obj["punches"][1]["finger"] = {"hand": "left"}
    assert decode_punch_batch(as_bytes(obj)) == make_batch(2)
    assert decode_ack(b'{"v":1,"upto":3,"by":"collector-2"}') == Ack(upto=3)


def test_status_treats_null_heartbeat_fields_as_unknown() -> None:
    status = decode_status(b'{"v":1,"device":"pi-01","online":true,"sensor":null,"at":null}')
    assert status == Status(device=DeviceId("pi-01"), online=True)


def test_decode_accepts_bytearray() -> None:
    assert decode_ack(bytearray(b'{"v":1,"upto":2}')) == Ack(upto=2)


# --- malformed payloads: each names its field ------------------------------------------------

BATCH = json.loads(encode(make_batch(3)))


def batch_with(path: str, value: object) -> bytes:
    """The golden batch with one field replaced ("punches.1.seq") or deleted (value DELETE)."""
    obj = copy.deepcopy(BATCH)
    *parents, last = path.split(".")
    target = obj
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    key: Any = int(last) if isinstance(target, list) else last
    if value is DELETE:
        del target[key]
    else:
        target[key] = value
    return as_bytes(obj)


DELETE = object()
PUNCH_FIELDS = ["seq", "id", "person", "slot", "score", "at", "clock_synced", "boot_id", "mono_ns"]

BAD_BATCHES: list[tuple[bytes, str]] = [
    (b"", "payload"),
    (b"not json", "payload"),
    (b"\xff\xfe{}", "payload"),
    (b'{"v":1,', "payload"),
    (b"[]", "payload"),
    (b'"pi-01"', "payload"),
    (b"null", "payload"),
    (b'{"v":1,"device":"pi-01","punches":[],"v":1}', "payload"),
    (b"[" * 100_000 + b"]" * 100_000, "payload"),
    (b'{"v":1,"n":' + b"9" * 5000 + b"}", "payload"),
    (b"x" * (MAX_PAYLOAD_BYTES + 1), "payload"),
    (batch_with("v", DELETE), "v"),
    (batch_with("v", 2), "v"),
    (batch_with("v", 0), "v"),
    (batch_with("v", "1"), "v"),
    (batch_with("v", True), "v"),
    (batch_with("v", 1.0), "v"),
    (batch_with("v", None), "v"),
    (batch_with("device", DELETE), "device"),
    (batch_with("device", "Pi-01"), "device"),
    (batch_with("device", "pi/01"), "device"),
    (batch_with("device", "+"), "device"),
    (batch_with("device", 1), "device"),
    (batch_with("punches", DELETE), "punches"),
    (batch_with("punches", []), "punches"),
    (batch_with("punches", {}), "punches"),
    (batch_with("punches", None), "punches"),
    (batch_with("punches", [BATCH["punches"][0]] * (MAX_BATCH_PUNCHES + 1)), "punches"),
    (batch_with("punches.1", 5), "punches[1]"),
    (batch_with("punches.1", []), "punches[1]"),
    *[(batch_with(f"punches.2.{name}", DELETE), f"punches[2].{name}") for name in PUNCH_FIELDS],
    *[
        (batch_with(f"punches.0.{name}", value), f"punches[0].{name}")
        for name, value in [
            ("seq", 0),
            ("seq", -2),
            ("seq", True),
            ("seq", 1.0),
            ("seq", "1"),
            ("seq", None),
            ("seq", 2**63),
            ("id", "not-a-uuid"),
            ("id", "ABCDEF00-0000-4000-8000-000000000001"),
            ("id", 5),
            ("id", "{" + punch_id(1) + "}"),
            ("person", ""),
            ("person", "a\nb"),
            ("person", "x" * 65),
            ("person", 198501),
            ("person", "\ud800"),
            ("slot", -1),
            ("slot", 65536),
            ("slot", False),
            ("score", -1),
            ("score", 1.5),
            ("at", "2026-03-02T00:59:07"),
            ("at", "2026-03-02T07:59:07+07:00"),
            ("at", "2026-13-02T00:59:07Z"),
            ("at", "2026-03-02"),
            ("at", "2026-03-02T00:59:07.1234567Z"),
            ("at", "20260302T005907Z"),
            ("at", 1772413147),
            ("at", "2026-03-02 00:59:07Z"),
            ("at", "\uff12\uff10\uff12\uff16-03-02T00:59:07Z"),
            ("clock_synced", 1),
            ("clock_synced", "true"),
            ("clock_synced", None),
            ("boot_id", ""),
            ("mono_ns", -1),
            ("mono_ns", 1e3),
            ("mono_ns", 2**63),
        ]
    ],
    (batch_with("punches.1.seq", 1), "punches[1].seq"),
    (batch_with("punches.2.seq", 1), "punches[2].seq"),
    (batch_with("punches.2.id", punch_id(1)), "punches[2].id"),
]


@pytest.mark.parametrize(("payload", "path"), BAD_BATCHES)
def test_punch_batch_rejects_malformed_payload_naming_the_field(payload: bytes, path: str) -> None:
    with pytest.raises(MessageError) as caught:
        decode_punch_batch(payload)
    assert caught.value.path == path
    assert str(caught.value).startswith(f"{path}: ")


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_decode_rejects_non_finite_numbers(constant: bytes) -> None:
    with pytest.raises(MessageError, match=r"^payload: must be strict JSON"):
        decode_ack(b'{"v":1,"upto":' + constant + b"}")


def test_punch_batch_error_names_index_rule_and_value() -> None:
    payload = batch_with("punches", [*BATCH["punches"], {**BATCH["punches"][0], "seq": -2}])
    with pytest.raises(MessageError) as caught:
        decode_punch_batch(payload)
    assert str(caught.value) == "punches[3].seq: must be an integer >= 1, got -2"


def test_punch_batch_error_says_duplicate_seq() -> None:
    with pytest.raises(MessageError, match=r"^punches\[1\]\.seq: duplicates punches\[0\]\.seq"):
        decode_punch_batch(batch_with("punches.1.seq", 1))


def test_punch_batch_rejects_a_device_other_than_the_topics() -> None:
    with pytest.raises(MessageError) as caught:
        decode_punch_batch(encode(make_batch(1)), topic_device="pi-02")
    assert str(caught.value) == 'device: must match the topic\'s device "pi-02", got "pi-01"'


def test_decode_rejects_text_instead_of_bytes() -> None:
    with pytest.raises(MessageError, match=r"^payload: must be bytes, got str"):
        decode_ack('{"v":1,"upto":1}')  # type: ignore[arg-type]


def test_decode_rejects_an_unknown_version_by_number() -> None:
    with pytest.raises(MessageError) as caught:
        decode_ack(b'{"v":2,"upto":1}')
    assert str(caught.value) == "v: must be wire version 1, got 2"


def test_decode_shortens_a_huge_bad_value() -> None:
    with pytest.raises(MessageError) as caught:
        decode_punch_batch(batch_with("punches.0.person", "x" * 100_000))
    assert len(str(caught.value)) < 200


OTHER_BAD: list[tuple[Callable[[bytes], Message], dict[str, Any], str]] = [
    (decode_ack, {"v": 1}, "upto"),
    (decode_ack, {"v": 1, "upto": -1}, "upto"),
    (decode_ack, {"v": 1, "upto": True}, "upto"),
    (decode_ack, {"v": 1, "upto": "5"}, "upto"),
    (decode_status, {"v": 1, "device": "pi-01"}, "online"),
    (decode_status, {"v": 1, "online": False}, "device"),
    (decode_status, {"v": 1, "device": "pi-01", "online": "no"}, "online"),
    (decode_status, {"v": 1, "device": "pi-01", "online": True, "sensor": ""}, "sensor"),
    (
        decode_status,
        {"v": 1, "device": "pi-01", "online": True, "outbox_depth": -1},
        "outbox_depth",
    ),
    (
        decode_status,
        {"v": 1, "device": "pi-01", "online": True, "templates_used": 2, "templates_capacity": 1},
        "templates_used",
    ),
    (decode_status, {"v": 1, "device": "pi-01", "online": True, "clock_synced": 0}, "clock_synced"),
    (decode_status, {"v": 1, "device": "pi-01", "online": True, "at": "2026-03-02T00:59:07"}, "at"),
    (decode_status, {"v": 1, "device": "pi-01", "online": True, "versions": []}, "versions"),
    (
        decode_status,
        {"v": 1, "device": "pi-01", "online": True, "versions": {"hadir": 1}},
        'versions["hadir"]',
    ),
    (
        decode_status,
        {"v": 1, "device": "pi-01", "online": True, "versions": {"": "1"}},
        'versions[""]',
    ),
    (
        decode_status,
        {"v": 1, "device": "pi-01", "online": True, "versions": {f"k{i}": "1" for i in range(65)}},
        "versions",
    ),
    (decode_command, {"v": 1, "id": CMD_ID, "action": "reboot"}, "action"),
    (decode_command, {"v": 1, "id": CMD_ID}, "action"),
    (decode_command, {"v": 1, "action": "resync"}, "id"),
    (decode_command, {"v": 1, "id": "7", "action": "resync"}, "id"),
    (decode_command, {"v": 1, "id": CMD_ID, "action": "resync", "params": [1]}, "params"),
    (
        decode_command,
        {"v": 1, "id": CMD_ID, "action": "resync", "params": {"x": 1.5}},
        'params["x"]',
    ),
    (
        decode_command,
        {"v": 1, "id": CMD_ID, "action": "resync", "params": {"x": [1]}},
        'params["x"]',
    ),
    (
        decode_command,
        {"v": 1, "id": CMD_ID, "action": "resync", "params": {"x": 2**63}},
        'params["x"]',
    ),
    (decode_command_result, {"v": 1, "id": CMD_ID}, "ok"),
    (decode_command_result, {"v": 1, "id": CMD_ID, "ok": "yes"}, "ok"),
    (decode_command_result, {"v": 1, "id": CMD_ID, "ok": True, "detail": "x" * 1001}, "detail"),
    (decode_command_result, {"v": 1, "id": CMD_ID, "ok": True, "detail": 3}, "detail"),
]


@pytest.mark.parametrize(("decode", "obj", "path"), OTHER_BAD)
def test_messages_reject_malformed_payload_naming_the_field(
    decode: Callable[[bytes], Message], obj: dict[str, Any], path: str
) -> None:
    with pytest.raises(MessageError) as caught:
        decode(as_bytes(obj))
    assert caught.value.path == path


# --- construction validates too --------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"at": AT.replace(tzinfo=None)}, "at"),
        ({"at": AT.astimezone(timezone(timedelta(hours=8)))}, "at"),
        ({"at": AT.isoformat()}, "at"),
        ({"seq": True}, "seq"),
        ({"slot": 1.0}, "slot"),
        ({"id": "ABCDEF00-0000-4000-8000-000000000001"}, "id"),
    ],
)
def test_punch_rejects_invalid_construction(changes: dict[str, Any], path: str) -> None:
    with pytest.raises(MessageError) as caught:
        make_punch(**changes)
    assert caught.value.path == path


def test_punch_batch_rejects_invalid_construction() -> None:
    one, two = make_punch(1), make_punch(2)
    for punches, path in [
        ((), "punches"),
        ([one], "punches"),
        ((two, one), "punches[1].seq"),
        ((one, "p"), "punches[1]"),
    ]:
        with pytest.raises(MessageError) as caught:
            PunchBatch(device=DeviceId("pi-01"), punches=punches)  # type: ignore[arg-type]
        assert caught.value.path == path
    with pytest.raises(MessageError, match=r"^device: "):
        PunchBatch(device=DeviceId("pi/01"), punches=(one,))


def test_status_offline_rejects_a_bad_device() -> None:
    with pytest.raises(MessageError, match=r"^device: "):
        Status.offline("pi/#")


def test_command_normalizes_action_and_freezes_params() -> None:
    params = {"slot": 3}
    command = Command(id=CMD_ID, action="resync", params=params)  # type: ignore[arg-type]
    params["slot"] = 4
    assert command.action is Action.RESYNC
    assert command.params == {"slot": 3}
    with pytest.raises(TypeError):
        command.params["slot"] = 5  # type: ignore[index]


def test_messages_are_frozen_and_hashable() -> None:
    status = full_status()
    with pytest.raises(dataclasses.FrozenInstanceError):
        status.online = False  # type: ignore[misc]
    with pytest.raises(TypeError):
        status.versions["hadir"] = "9"  # type: ignore[index]
    assert len({status, full_status(), make_batch(2), make_batch(2)}) == 2


def test_encode_refuses_a_payload_over_the_limit() -> None:
    params = {f"blob{i}": "x" * (MAX_PAYLOAD_BYTES // 32) for i in range(40)}
    with pytest.raises(MessageError, match=r"^payload: must be at most"):
        encode(Command(id=CMD_ID, action=Action.INSTALL_TEMPLATE, params=params))


# --- fuzz: anything decodes to a valid message or raises MessageError ------------------------

ODD_VALUES: list[object] = [
    None,
    True,
    False,
    0,
    -1,
    1,
    2**63,
    2**64,
    1.5,
    -0.0,
    "",
    "x" * 300,
    "2026-03-02T00:59:07Z",
    "\u0000",
    [],
    [1, "a"],
    {},
    {"v": 1},
]


def mutate_json(rng: random.Random, obj: object) -> object:
    """Swap, delete or rename one value somewhere in a decoded payload."""
    obj = copy.deepcopy(obj)
    containers: list[Any] = []
    stack = [obj]
    while stack:
        node = stack.pop()
        if isinstance(node, dict | list) and node:
            containers.append(node)
            stack.extend(node.values() if isinstance(node, dict) else node)
    if not containers:
        return rng.choice(ODD_VALUES)
    node = rng.choice(containers)
    key = rng.choice(list(node) if isinstance(node, dict) else range(len(node)))
    action = rng.randrange(4)
    if action == 0 and isinstance(node, dict):
        del node[key]
    elif action == 1 and isinstance(node, dict):
        node[key + rng.choice(["", "_", "\u00e9"])] = node.pop(key)
    elif action == 2 and isinstance(node, list):
        node.append(copy.deepcopy(node[key]))
    else:
        node[key] = rng.choice(ODD_VALUES)
    return obj


def mutate_bytes(rng: random.Random, payload: bytes) -> bytes:
    data = bytearray(payload)
    for _ in range(rng.randint(1, 4)):
        position = rng.randrange(len(data) + 1)
        match rng.randrange(4):
            case 0 if data:
                data[min(position, len(data) - 1)] ^= 1 << rng.randrange(8)
            case 1:
                del data[position:]
            case 2:
                data[position:position] = rng.choice(
                    [b"}", b"]", b",", b'"', b"\\", b"\xc3", b"1e999", b"-", b"null", b"\x00"]
                )
            case _:
                data[position:position] = rng.randbytes(rng.randint(1, 8))
    return bytes(data)


def test_decoders_fuzz_return_valid_message_or_raise_message_error() -> None:
    rng = random.Random(20261129)
    seeds = valid_payloads()
    outcomes = {"decoded": 0, "refused": 0}
    for case in range(2000):
        decode, message = rng.choice(seeds)
        payload = encode(message)
        for _ in range(rng.randint(1, 3)):
            try:
                parsed = json.loads(payload)
            except ValueError:  # an earlier byte mutation broke the JSON: keep mutating bytes
                parsed = None
            if parsed is not None and rng.random() < 0.5:
                payload = as_bytes(mutate_json(rng, parsed))
            else:
                payload = mutate_bytes(rng, payload)
        try:
            decoded = decode(payload)
        except MessageError:
            outcomes["refused"] += 1
            continue
        except Exception as error:  # anything else is a bug in the decoder
            pytest.fail(f"case {case}: {type(error).__name__}: {error} for {payload[:300]!r}")
        outcomes["decoded"] += 1
        assert type(decoded) is type(message), f"case {case}"
        assert decode(encode(decoded)) == decoded, f"case {case}"  # still valid: it re-encodes
        if isinstance(decoded, PunchBatch):
            assert decoded.punches and all(p.seq >= 1 for p in decoded.punches)
    # The loop must exercise both outcomes, or it proves nothing about one of them.
    assert outcomes["decoded"] > 50
    assert outcomes["refused"] > 1000
