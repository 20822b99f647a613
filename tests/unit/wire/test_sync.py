"""Template sync messages: round trips, every refusal named, and no template material in errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from wire import Action, MessageError, decode_command, encode, sealing
from wire.sync import (
    FINGERS,
    MAX_INVENTORY,
    Deleted,
    Enrolled,
    Install,
    Inventory,
    RosterEntry,
    decode_template_message,
    install_command,
    resync_command,
    roster_command,
    roster_of,
    template_command,
    template_of,
)

AT = datetime(2026, 11, 29, 0, 30, tzinfo=UTC)
TID = "3f6c1b9e-2a4d-4e8f-9b1c-5d7e8f9a0b1c"
NIP = "198501012010011001"
KEY = sealing.b64(b"\x07" * 32)
SEALED = sealing.b64(b"\x01" + b"\xaa" * 600)


def enrolled(**over: object) -> Enrolled:
    fields: dict[str, object] = {
        "device": "pi-a",
        "id": TID,
        "person": NIP,
        "finger": "right-index",
        "sealed": SEALED,
        "by": "teknisi",
        "at": AT,
    }
    fields.update(over)
    return Enrolled(**fields)  # type: ignore[arg-type]


def test_enrolled_round_trip_and_its_repr_hides_the_box() -> None:
    message = enrolled()
    assert decode_template_message(encode(message), topic_device="pi-a") == message
    assert SEALED not in repr(message)
    assert json.loads(encode(message))["kind"] == "enrolled"


def test_deleted_and_inventory_round_trip() -> None:
    deleted = Deleted("pi-a", TID, NIP, "left-thumb", "teknisi", AT)  # type: ignore[arg-type]
    assert decode_template_message(encode(deleted)) == deleted
    inv = Inventory("pi-a", KEY, (TID,), 1000, 1, AT)  # type: ignore[arg-type]
    assert decode_template_message(encode(inv)) == inv


def test_a_device_cannot_speak_for_another() -> None:
    with pytest.raises(MessageError, match="device"):
        decode_template_message(encode(enrolled()), topic_device="pi-b")


def test_unknown_kind_is_named() -> None:
    payload = json.dumps({"v": 1, "kind": "stolen", "device": "pi-a"}).encode()
    with pytest.raises(MessageError, match="kind: must be one of enrolled, deleted, inventory"):
        decode_template_message(payload)


@pytest.mark.parametrize(
    ("field", "value", "path"),
    [
        ("finger", "right-toe", "finger"),
        ("person", "", "person"),
        ("id", "not-a-uuid", "id"),
        ("by", "a\nb", "by"),
    ],
)
def test_enrolled_refusals_name_the_field(field: str, value: str, path: str) -> None:
    obj = json.loads(encode(enrolled()))
    obj[field] = value
    with pytest.raises(MessageError) as err:
        decode_template_message(json.dumps(obj).encode())
    assert err.value.path == path


@pytest.mark.parametrize("sealed", ["", "$$$$", "A" * 5000, 17])
def test_a_bad_box_is_refused_without_echoing_it(sealed: object) -> None:
    obj = json.loads(encode(enrolled()))
    obj["sealed"] = sealed
    with pytest.raises(MessageError) as err:
        decode_template_message(json.dumps(obj).encode())
    assert err.value.path == "sealed"
    if isinstance(sealed, str) and sealed:
        assert sealed not in str(err.value)


def test_inventory_limits() -> None:
    with pytest.raises(MessageError, match="repeat"):
        Inventory("pi-a", KEY, (TID, TID), 1000, 2, AT)  # type: ignore[arg-type]
    with pytest.raises(MessageError, match="at most"):
        Inventory("pi-a", KEY, (TID,) * (MAX_INVENTORY + 1), 1000, 2, AT)  # type: ignore[arg-type]
    with pytest.raises(MessageError, match="public_key"):
        Inventory("pi-a", "short", (), 1000, 0, AT)  # type: ignore[arg-type]
    with pytest.raises(MessageError, match=r"have\[0\]"):
        Inventory("pi-a", KEY, ("x",), 1000, 0, AT)  # type: ignore[arg-type]


def test_install_command_round_trip() -> None:
    install = Install(TID, NIP, "right-index", SEALED)
    command = decode_command(encode(install_command(install)))
    assert command.action is Action.INSTALL_TEMPLATE
    assert Install.of(command) == install


def test_install_of_refuses_another_action_and_missing_params() -> None:
    delete = template_command(Action.DELETE_TEMPLATE, TID)
    with pytest.raises(MessageError, match="action"):
        Install.of(delete)
    assert template_of(delete) == TID
    broken = decode_command(
        json.dumps(
            {"v": 1, "id": TID, "action": "install_template", "params": {"template": TID}}
        ).encode()
    )
    with pytest.raises(MessageError, match=r"params\.person"):
        Install.of(broken)


def test_template_command_only_for_template_actions() -> None:
    with pytest.raises(MessageError):
        template_command(Action.ROSTER, TID)
    assert resync_command().action is Action.RESYNC


def test_roster_round_trip_and_bad_rows() -> None:
    entries = (RosterEntry(NIP, "Maria Goreti Bria"), RosterEntry("THL/DLH/12", "Yohanes Tefa"))
    command = decode_command(encode(roster_command(entries)))
    assert roster_of(command) == entries
    bad = {**roster_command(entries).params, "people": json.dumps([[NIP, ""]])}
    rebuilt = decode_command(
        json.dumps({"v": 1, "id": TID, "action": "roster", "params": bad}).encode()
    )
    with pytest.raises(MessageError, match=r"params\.people\[0\]\.name"):
        roster_of(rebuilt)


def test_every_finger_has_a_bahasa_name() -> None:
    assert len(FINGERS) == 10
    assert all(name and name.isprintable() for name in FINGERS.values())


def test_received_command_names_the_kind() -> None:
    from wire.sync import TemplateKind, received_command

    command = decode_command(encode(received_command(TID, TemplateKind.DELETED)))
    assert command.action is Action.TEMPLATE_RECEIVED
    assert template_of(command) == TID
    assert command.params["kind"] == "deleted"
