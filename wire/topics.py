"""MQTT topic names of wire version 1: build them per device, and parse what arrives.

Every topic of a device lives under ``hadir/v1/dev/{device}/`` (architecture.md, "MQTT topics
(v1)"); the broker's ACL lets a device write only there. The device id therefore goes into topic
names and ACL patterns, so it is validated here: lowercase ASCII letters, digits and ``-``, 1 to 63
characters, starting with a letter or digit. That keeps out the MQTT wildcards ``+`` and ``#``, the
level separator ``/``, and any confusion between ``Pi-01`` and ``pi-01``.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Final, NewType

from wire.errors import MessageError

DeviceId = NewType("DeviceId", str)
"""A device id already checked by :func:`validate_device_id`."""

PREFIX: Final = "hadir/v1/dev"
"""The root of every device topic; the ``v1`` moves with :data:`wire.WIRE_VERSION`."""

DEFAULT_SHARE_GROUP: Final = "collectors"

_DEVICE_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_SHARE_GROUP = re.compile(r"[A-Za-z0-9_-]{1,64}")


class Kind(StrEnum):
    """What a device topic carries: the last level(s) of its name."""

    PUNCHES = "punches"
    """edge → central, QoS 1: a :class:`wire.PunchBatch`."""
    ACK = "ack"
    """central → edge, QoS 1: an :class:`wire.Ack`, cumulative."""
    STATUS = "status"
    """edge → all, QoS 1, retained, also the last will: a :class:`wire.Status`."""
    TEMPLATES = "templates"
    """edge → central, QoS 1: :mod:`wire.sync` messages (enrolled, deleted, inventory)."""
    CMD = "cmd"
    """central → edge, QoS 1: a :class:`wire.Command`."""
    CMD_RESULT = "cmd/result"
    """edge → central, QoS 1: a :class:`wire.CommandResult`."""


_KINDS: Final = {kind.value: kind for kind in Kind}


def validate_device_id(value: object, path: str = "device") -> DeviceId:
    """Check that value can name a device in a topic, and return it as a :data:`DeviceId`.

    Args:
        value: The candidate id.
        path: The field path to name in the error.

    Returns:
        The same string, typed as a device id.

    Raises:
        MessageError: value is not a string of 1 to 63 characters from ``[a-z0-9-]`` starting with a
            letter or digit.
    """
    if not isinstance(value, str) or _DEVICE_ID.fullmatch(value) is None:
        raise MessageError.invalid(path, f"must match {_DEVICE_ID.pattern}", value)
    return DeviceId(value)


def device_topic(device: str, kind: Kind) -> str:
    """Return the topic of one device for one kind of message.

    Args:
        device: The device id (validated).
        kind: What the topic carries.

    Returns:
        ``hadir/v1/dev/{device}/{kind}``.

    Raises:
        MessageError: The device id is not valid.
    """
    return f"{PREFIX}/{validate_device_id(device)}/{Kind(kind).value}"


def punches(device: str) -> str:
    """Return ``hadir/v1/dev/{device}/punches``, where the edge publishes punch batches."""
    return device_topic(device, Kind.PUNCHES)


def ack(device: str) -> str:
    """Return ``hadir/v1/dev/{device}/ack``, where the central acknowledges committed punches."""
    return device_topic(device, Kind.ACK)


def status(device: str) -> str:
    """Return ``hadir/v1/dev/{device}/status``, the retained heartbeat and last will."""
    return device_topic(device, Kind.STATUS)


def templates(device: str) -> str:
    """Return ``hadir/v1/dev/{device}/templates``, where the edge uploads enrollments."""
    return device_topic(device, Kind.TEMPLATES)


def cmd(device: str) -> str:
    """Return ``hadir/v1/dev/{device}/cmd``, where the central sends commands to a device."""
    return device_topic(device, Kind.CMD)


def cmd_result(device: str) -> str:
    """Return ``hadir/v1/dev/{device}/cmd/result``, where a device answers commands."""
    return device_topic(device, Kind.CMD_RESULT)


def wildcard(kind: Kind) -> str:
    """Return the subscription matching one kind for every device: ``hadir/v1/dev/+/{kind}``.

    Args:
        kind: What the subscribed topics carry.

    Returns:
        A topic filter; feed what arrives on it to :func:`parse`.
    """
    return f"{PREFIX}/+/{Kind(kind).value}"


def shared_punches(group: str = DEFAULT_SHARE_GROUP) -> str:
    """Return the collectors' shared subscription: ``$share/{group}/hadir/v1/dev/+/punches``.

    The broker hands each batch to one member of the group, so more collector processes scale
    out with no code change (MQTT 5 shared subscriptions; mosquitto also honours them for 3.1.1
    clients).

    Args:
        group: The share name; every collector of one deployment uses the same one.

    Returns:
        The topic filter to subscribe to.

    Raises:
        MessageError: group is empty, too long, or has characters other than ``[A-Za-z0-9_-]``
            (MQTT forbids ``/``, ``+`` and ``#`` in a share name).
    """
    if not isinstance(group, str) or _SHARE_GROUP.fullmatch(group) is None:
        raise MessageError.invalid("group", f"must match {_SHARE_GROUP.pattern}", group)
    return f"$share/{group}/{wildcard(Kind.PUNCHES)}"


def parse(topic: str) -> tuple[DeviceId, Kind]:
    """Split a device topic into the device id and what it carries.

    Args:
        topic: The topic a message arrived on (never a filter or a ``$share/`` form).

    Returns:
        ``(device, kind)``, e.g. ``("pi-01", Kind.PUNCHES)``.

    Raises:
        MessageError: topic is not ``hadir/v1/dev/{device}/{kind}`` with a valid device id and a
            known kind; the message names the whole topic.
    """
    if not isinstance(topic, str):
        raise MessageError.invalid("topic", "must be a string", topic)
    root = PREFIX + "/"
    device, _, rest = topic.removeprefix(root).partition("/")
    if not topic.startswith(root) or rest not in _KINDS:
        known = ", ".join(kind.value for kind in Kind)
        raise MessageError.invalid("topic", f"must be {root}{{device}}/{{{known}}}", topic)
    if _DEVICE_ID.fullmatch(device) is None:
        raise MessageError.invalid("topic", f"device id must match {_DEVICE_ID.pattern}", topic)
    return DeviceId(device), _KINDS[rest]
