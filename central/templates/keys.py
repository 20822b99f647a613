"""The central's template key (X25519) and the terminals' public keys.

The private key is a 32-byte file, 0600, in the central's state directory unless the config's
``[templates].key_file`` names another. It opens every template a terminal uploads, so it is
never logged, printed or stored in the database; only the public key is shown, for the
terminals' ``[sync].central_key``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from sqlalchemy import Connection, insert, select, update

from central.schema import device_key
from wire.sealing import SealError, load_or_create_private_key, parse_public_key, public_key_text

log = logging.getLogger(__name__)

DEFAULT_KEY_FILE: Final = Path("/var/lib/hadir-central/template.key")
"""Where the key lives when the config names none (the service's state directory)."""


class KeyMissing(FileNotFoundError):
    """The central's key file does not exist yet (``hadir-central keys init``)."""


def key_path(configured: str | None) -> Path:
    """The key file: the configured one, else :data:`DEFAULT_KEY_FILE`."""
    return Path(configured) if configured else DEFAULT_KEY_FILE


def create_or_load(path: Path) -> tuple[X25519PrivateKey, bool]:
    """Load the key, creating it (0600) when absent; also say whether it was created.

    Raises:
        SealError: The file exists but is not a key, or others may read it.
        OSError: The folder is missing or not writable.
    """
    existed = path.exists()
    key = load_or_create_private_key(path)
    if not existed:
        log.info("central template key created path=%s public_key=%s", path, public_key_text(key))
    return key, not existed


def load(path: Path) -> X25519PrivateKey:
    """Load an existing key without ever creating one.

    Raises:
        KeyMissing: No file at ``path``.
        SealError: The file is not a key, or others may read it.
    """
    if not path.exists():
        raise KeyMissing(
            f"{path}: no central template key; create it with 'hadir-central keys init'"
        )
    return load_or_create_private_key(path)


def public_text(path: Path) -> str | None:
    """The public key text of the key at ``path``, or None when there is no key file."""
    try:
        return public_key_text(load(path))
    except KeyMissing:
        return None


def sync_config_line(path: Path) -> str | None:
    """The line a terminal's config needs under ``[sync]``, or None without a key."""
    pub = public_text(path)
    return None if pub is None else f'central_key = "{pub}"'


def device_public_key(conn: Connection, device_id: str) -> X25519PublicKey | None:
    """The key a terminal announced in its last inventory, or None before its first one."""
    text = conn.execute(
        select(device_key.c.public_key).where(device_key.c.device_id == device_id)
    ).scalar_one_or_none()
    if text is None:
        return None
    try:
        return parse_public_key(text, f"device {device_id} key")
    except SealError:
        # Inventories are checked on the wire, so this is a hand-edited row: treat as no key.
        log.error("stored device key unreadable device=%s", device_id)
        return None


def store_device_key(conn: Connection, device_id: str, public_key: str, now: datetime) -> str:
    """Remember a terminal's key; returns ``new``, ``changed`` or ``same``.

    Raises:
        SealError: ``public_key`` is not an X25519 key.
    """
    parse_public_key(public_key, f"device {device_id} key")
    old = conn.execute(
        select(device_key.c.public_key).where(device_key.c.device_id == device_id)
    ).scalar_one_or_none()
    if old is None:
        conn.execute(
            insert(device_key).values(device_id=device_id, public_key=public_key, updated_at=now)
        )
        return "new"
    if old == public_key:
        return "same"
    conn.execute(
        update(device_key)
        .where(device_key.c.device_id == device_id)
        .values(public_key=public_key, updated_at=now)
    )
    return "changed"
