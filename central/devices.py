"""Terminal registration: the device row, its broker credentials, its ACL lines.

One device = one MQTT username (architecture.md); the broker's ACL lets it write only under its
own ``hadir/v1/dev/{device}/`` and read its acks and commands. The password is shown once and
stored nowhere here: the broker keeps only the PBKDF2 hash in mosquitto's own ``$7$`` format.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select

from central.schema import device
from wire import topics, validate_device_id

PBKDF2_ITERATIONS = (
    101  # what mosquitto_passwd 2.0 writes; the broker reads the count from the line
)


class DeviceExists(ValueError):
    """A device with that id is already registered."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """What an operator puts in the terminal's config and the broker's files."""

    device: str
    password: str
    passwd_line: str
    acl: str


def mosquitto_hash(username: str, password: str, salt: bytes | None = None) -> str:
    """A mosquitto password-file line (``$7$`` = PBKDF2-HMAC-SHA512)."""
    salt = salt if salt is not None else secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ITERATIONS)
    b64 = base64.b64encode
    return f"{username}:$7${PBKDF2_ITERATIONS}${b64(salt).decode()}${b64(digest).decode()}"


def acl_for(device_id: str) -> str:
    """The mosquitto ACL block for one terminal."""
    return "\n".join(
        [
            f"user {device_id}",
            f"topic write {topics.punches(device_id)}",
            f"topic readwrite {topics.status(device_id)}",
            f"topic write {topics.templates(device_id)}",
            f"topic write {topics.cmd_result(device_id)}",
            f"topic read {topics.ack(device_id)}",
            f"topic read {topics.cmd(device_id)}",
        ]
    )


def add_device(
    conn: Connection,
    device_id: str,
    now: datetime,
    *,
    site_id: str | None = None,
    description: str = "",
) -> Credentials:
    """Register a terminal and make its broker credentials."""
    dev = validate_device_id(device_id)
    if conn.execute(select(device.c.id).where(device.c.id == dev)).first() is not None:
        raise DeviceExists(f"device {dev!r} is already registered")
    conn.execute(
        insert(device).values(id=dev, site_id=site_id, description=description, created_at=now)
    )
    password = secrets.token_urlsafe(24)
    return Credentials(dev, password, mosquitto_hash(dev, password), acl_for(dev))
