"""Topic names of wire v1: exact strings, parse round trips, and what parse refuses."""

from __future__ import annotations

import pytest

from wire import Kind, MessageError, topics, validate_device_id


def test_topics_helpers_build_the_documented_names() -> None:
    # Written out by hand from architecture.md, "MQTT topics (v1)", not built with the code.
    assert topics.punches("pi-01") == "hadir/v1/dev/pi-01/punches"
    assert topics.ack("pi-01") == "hadir/v1/dev/pi-01/ack"
    assert topics.status("pi-01") == "hadir/v1/dev/pi-01/status"
    assert topics.templates("pi-01") == "hadir/v1/dev/pi-01/templates"
    assert topics.cmd("pi-01") == "hadir/v1/dev/pi-01/cmd"
    assert topics.cmd_result("pi-01") == "hadir/v1/dev/pi-01/cmd/result"


def test_topics_device_topic_matches_each_helper() -> None:
    helpers = {
        Kind.PUNCHES: topics.punches,
        Kind.ACK: topics.ack,
        Kind.STATUS: topics.status,
        Kind.TEMPLATES: topics.templates,
        Kind.CMD: topics.cmd,
        Kind.CMD_RESULT: topics.cmd_result,
    }
    assert set(helpers) == set(Kind)
    for kind, helper in helpers.items():
        assert topics.device_topic("kupang-3", kind) == helper("kupang-3")


def test_topics_shared_punches_uses_the_group() -> None:
    assert topics.shared_punches() == "$share/collectors/hadir/v1/dev/+/punches"
    assert topics.shared_punches("blue_2") == "$share/blue_2/hadir/v1/dev/+/punches"


@pytest.mark.parametrize("group", ["", "a/b", "+", "#", "a b", "x" * 65])
def test_topics_shared_punches_rejects_bad_group(group: str) -> None:
    with pytest.raises(MessageError, match=r"^group: must match") as caught:
        topics.shared_punches(group)
    assert caught.value.path == "group"


def test_topics_wildcard_matches_every_device() -> None:
    assert topics.wildcard(Kind.STATUS) == "hadir/v1/dev/+/status"
    assert topics.wildcard(Kind.CMD_RESULT) == "hadir/v1/dev/+/cmd/result"


@pytest.mark.parametrize("kind", list(Kind))
@pytest.mark.parametrize("device", ["a", "0", "pi-01", "kupang-balai-kota-2", "z" * 63])
def test_topics_parse_round_trips(device: str, kind: Kind) -> None:
    parsed = topics.parse(topics.device_topic(device, kind))
    assert parsed == (device, kind)
    assert isinstance(parsed[1], Kind)


@pytest.mark.parametrize(
    "topic",
    [
        "",
        "hadir",
        "hadir/v1/dev",
        "hadir/v1/dev/",
        "hadir/v1/dev/pi-01",
        "hadir/v1/dev/pi-01/",
        "hadir/v1/dev/pi-01/punch",
        "hadir/v1/dev/pi-01/punches/",
        "hadir/v1/dev/pi-01/punches/extra",
        "hadir/v1/dev/pi-01/cmd/results",
        "hadir/v1/dev/pi-01/result",
        "hadir/v2/dev/pi-01/punches",
        "Hadir/v1/dev/pi-01/punches",
        "/hadir/v1/dev/pi-01/punches",
        "x/hadir/v1/dev/pi-01/punches",
        "$share/collectors/hadir/v1/dev/+/punches",
        "hadir/v1/dev/+/punches",
        "hadir/v1/dev/#",
        "hadir/v1/dev//punches",
        "hadir/v1/dev/PI-01/punches",
        "hadir/v1/dev/-pi/punches",
        "hadir/v1/dev/pi_01/punches",
        "hadir/v1/dev/pi 01/punches",
        "hadir/v1/dev/pï/punches",
        "hadir/v1/dev/pi\n/punches",
        f"hadir/v1/dev/{'z' * 64}/punches",
    ],
)
def test_topics_parse_rejects_foreign_topic(topic: str) -> None:
    with pytest.raises(MessageError) as caught:
        topics.parse(topic)
    assert caught.value.path == "topic"
    assert str(caught.value).startswith("topic: ")


@pytest.mark.parametrize("value", [None, b"hadir/v1/dev/pi-01/ack", 5])
def test_topics_parse_rejects_non_string(value: object) -> None:
    with pytest.raises(MessageError, match=r"^topic: must be a string"):
        topics.parse(value)  # type: ignore[arg-type]


def test_topics_parse_error_names_the_topic() -> None:
    with pytest.raises(MessageError) as caught:
        topics.parse("hadir/v1/dev/PI/ack")
    assert str(caught.value) == (
        'topic: device id must match [a-z0-9][a-z0-9-]{0,62}, got "hadir/v1/dev/PI/ack"'
    )


@pytest.mark.parametrize("device", ["a", "9", "pi-01", "a-", "x" * 63])
def test_device_id_accepts_topic_safe_ids(device: str) -> None:
    assert validate_device_id(device) == device


@pytest.mark.parametrize(
    "device",
    ["", "-a", "A", "pi-01\n", "a/b", "a+", "a#", "a b", "ä", "x" * 64, None, 7, b"pi"],
)
def test_device_id_rejects_unsafe_ids(device: object) -> None:
    with pytest.raises(MessageError, match=r"^device: must match"):
        validate_device_id(device)


@pytest.mark.parametrize("helper", [topics.punches, topics.ack, topics.status, topics.cmd])
def test_topics_helpers_reject_a_wildcard_device(helper: object) -> None:
    assert callable(helper)
    for device in ("+", "#", "a/b", ""):
        with pytest.raises(MessageError, match=r"^device: "):
            helper(device)


def test_message_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="topic"):
        topics.parse("nope")
