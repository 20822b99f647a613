"""Punch decoding: the one-pass path accepts and builds exactly what the checked path does."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from wire import MessageError, Punch, decode_punch_batch, decode_status, encode
from wire.messages import PunchBatch

GOOD: dict[str, Any] = {
    "seq": 7,
    "id": "1e2feb89-414c-443c-9027-c4d1c386bbc4",
    "person": "198501012010019117",
    "slot": 779,
    "score": 165,
    "at": "2026-11-30T00:30:00.123456Z",
    "clock_synced": True,
    "boot_id": "cd613e30-d8f1-6adf-91b7-584a2265b1f5",
    "mono_ns": 1_000_000_000,
}


def outcome(decode: Any, obj: dict[str, Any]) -> tuple[str, object]:
    try:
        return "ok", decode(obj)
    except MessageError as error:
        return "error", str(error)


def same_as_checked(obj: dict[str, Any]) -> tuple[str, object]:
    fast, checked = outcome(Punch._from_json, obj), outcome(Punch._from_json_checked, obj)
    assert fast == checked
    if fast[0] == "ok":
        assert isinstance(fast[1], Punch) and isinstance(checked[1], Punch)
        for name in Punch.__slots__:
            a, b = getattr(fast[1], name), getattr(checked[1], name)
            assert a == b and type(a) is type(b), name
        assert fast[1].at.tzinfo is UTC
    return fast


ODD_VALUES: list[object] = [
    None,
    True,
    False,
    0,
    -1,
    1,
    65535,
    65536,
    2**63 - 1,
    2**63,
    1.0,
    "",
    "x",
    "x" * 64,
    "x" * 65,
    "a\nb",
    "Ānanda",
    "\u00a0",
    "1e2feb89-414c-443c-9027-c4d1c386bbc4",
    "1E2FEB89-414C-443C-9027-C4D1C386BBC4",
    "2026-11-30T00:30:00Z",
    "2026-11-30T00:30:00+00:00",
    "2026-11-30T00:30:00+01:00",
    "2026-02-30T00:30:00Z",
    "2026-11-30 00:30:00Z",
    [],
    {},
]


@pytest.mark.parametrize("field", list(GOOD))
def test_every_odd_value_of_every_field_decodes_or_fails_as_the_checked_path(field: str) -> None:
    for value in ODD_VALUES:
        same_as_checked({**GOOD, field: value})
    missing = dict(GOOD)
    del missing[field]
    kind, message = same_as_checked(missing)
    assert kind == "error" and message == f"{field}: required field is missing"


def test_random_valid_punches_are_built_alike() -> None:
    rnd = random.Random(4)
    for _ in range(500):
        obj = {
            **GOOD,
            "seq": rnd.randint(1, 2**63 - 1),
            "id": str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
            "slot": rnd.randint(0, 65535),
            "score": rnd.randint(0, 65535),
            "at": datetime.fromtimestamp(rnd.randint(0, 4_000_000_000), UTC)
            .replace(microsecond=rnd.choice([0, rnd.randint(0, 999_999)]))
            .isoformat(timespec=rnd.choice(["seconds", "microseconds"]))
            .replace("+00:00", rnd.choice(["Z", "+00:00"])),
            "clock_synced": rnd.random() < 0.5,
            "mono_ns": rnd.randint(0, 2**63 - 1),
        }
        assert same_as_checked(obj)[0] == "ok"


def test_several_bad_fields_name_the_same_first_one_as_before() -> None:
    # The checked path looks at every field's type first, then at the values.
    kind, message = same_as_checked({**GOOD, "seq": 0, "mono_ns": "1"})
    assert kind == "error" and message.startswith("mono_ns: must be an integer")
    kind, message = same_as_checked({**GOOD, "seq": 0, "slot": 70000})
    assert kind == "error" and message.startswith("seq: must be an integer >= 1")


def test_a_decoded_batch_round_trips() -> None:
    payload = json.dumps({"v": 1, "device": "pi-01", "punches": [GOOD]}).encode()
    batch = decode_punch_batch(payload, topic_device="pi-01")
    assert batch.punches[0].at == datetime(2026, 11, 30, 0, 30, 0, 123456, tzinfo=UTC)
    assert decode_punch_batch(encode(batch)) == batch
    assert batch == PunchBatch("pi-01", (Punch._from_json_checked(GOOD),))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("payload", "key"),
    [
        (b'{"v":1,"v":1,"device":"pi-01","punches":[PUNCH]}', "v"),
        (b'{"v":1,"device":"pi-01","punches":[PUNCH],"device":"pi-02"}', "device"),
        (b'{"v":1,"device":"pi-01","punches":[PUNCH_SEQ_TWICE]}', "seq"),
        (b'{"v":1,"device":"pi-01","punches":[PUNCH],"x":{"a":1,"b":{"c":1,"c":2}}}', "c"),
    ],
)
def test_a_repeated_key_at_any_depth_is_refused(payload: bytes, key: str) -> None:
    punch = json.dumps(GOOD, separators=(",", ":")).encode()
    payload = payload.replace(b"PUNCH_SEQ_TWICE", punch[:-1] + b',"seq":8}')
    payload = payload.replace(b"PUNCH", punch)
    with pytest.raises(MessageError) as caught:
        decode_punch_batch(payload)
    assert str(caught.value) == f"payload: must not repeat a key, got {json.dumps(key)} twice"


def test_a_repeated_key_in_other_messages_is_refused_too() -> None:
    with pytest.raises(MessageError, match=r'^payload: must not repeat a key, got "online" twice'):
        decode_status(b'{"v":1,"device":"pi-01","online":true,"online":false}')


@pytest.mark.parametrize(
    "payload",
    [b'\xef\xbb\xbf{"v":1}', b'{"v":1', b"", b"{} x", b'{"v":1,"n":' + b"1" * 5000 + b"}"],
)
def test_json_errors_read_as_json_loads_words_them(payload: bytes) -> None:
    with pytest.raises(ValueError) as reference:
        json.loads(payload.decode())
    with pytest.raises(MessageError) as caught:
        decode_punch_batch(payload)
    assert str(caught.value) == f"payload: must be JSON, got {reference.value}"
