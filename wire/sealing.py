"""Sealed boxes for fingerprint templates: only the holder of one private key can open them.

A template is biometric data (UU 27/2022 "data pribadi spesifik"): it crosses the broker, sits in
the broker's persistence file while a terminal is away, and rests in the central database. TLS
covers only the first of those, so every template is sealed to its reader's key before it leaves
the process that holds it in clear:

* a terminal seals a new enrollment to the **central's** public key;
* the central keeps that sealed box as it came (encrypted at rest) and, to install it on another
  terminal, opens it in memory and seals it again to **that terminal's** public key.

The construction is the usual ECIES: an ephemeral X25519 key agreement with the recipient's
key, HKDF-SHA256, then AES-256-GCM. The associated data binds the box to its template id, so a
box moved onto another template (another person) fails to open instead of enrolling the wrong
finger. Layout: ``0x01 | ephemeral public key (32) | nonce (12) | ciphertext + tag``.

This is the one module of :mod:`wire` that needs a third-party package (``cryptography``); the
rest of the contract stays standard library only.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION: Final = 1
_KEY_LEN: Final = 32
_NONCE_LEN: Final = 12
_TAG_LEN: Final = 16
OVERHEAD: Final = 1 + _KEY_LEN + _NONCE_LEN + _TAG_LEN
"""How many bytes sealing adds to a template (61)."""
_INFO: Final = b"hadir/v1/template-seal"


class SealError(ValueError):
    """A box that cannot be opened, or a key that cannot be read. Never holds template bytes."""


def _aad(template_id: str) -> bytes:
    return b"hadir/v1/template/" + template_id.encode("ascii")


def _derive(shared: bytes, eph_pub: bytes, recipient_pub: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=eph_pub + recipient_pub, info=_INFO
    ).derive(shared)


def _raw(key: X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def seal(plaintext: bytes, recipient: X25519PublicKey, template_id: str) -> bytes:
    """Seal ``plaintext`` so that only ``recipient``'s private key opens it, bound to the id."""
    eph = X25519PrivateKey.generate()
    eph_pub = _raw(eph.public_key())
    key = _derive(eph.exchange(recipient), eph_pub, _raw(recipient))
    nonce = os.urandom(_NONCE_LEN)
    return (
        bytes([VERSION])
        + eph_pub
        + nonce
        + AESGCM(key).encrypt(nonce, plaintext, _aad(template_id))
    )


def open_sealed(box: bytes, private: X25519PrivateKey, template_id: str) -> bytes:
    """Open a box made by :func:`seal` for ``private``'s public key and the same template id.

    Raises:
        SealError: The box is malformed, was sealed for another key, was tampered with, or
            belongs to another template id. The message says which class, never the bytes.
    """
    if len(box) < OVERHEAD or box[0] != VERSION:
        raise SealError(
            f"sealed template: not a version-{VERSION} box ({len(box)} bytes, "
            f"at least {OVERHEAD} expected)"
        )
    eph_pub = box[1 : 1 + _KEY_LEN]
    nonce = box[1 + _KEY_LEN : 1 + _KEY_LEN + _NONCE_LEN]
    try:
        shared = private.exchange(X25519PublicKey.from_public_bytes(eph_pub))
        key = _derive(shared, eph_pub, _raw(private.public_key()))
        return AESGCM(key).decrypt(nonce, box[1 + _KEY_LEN + _NONCE_LEN :], _aad(template_id))
    except (InvalidTag, ValueError):
        raise SealError(
            "sealed template: cannot be opened with this key for this template id "
            "(sealed for another key, altered, or moved from another template)"
        ) from None


def public_key_text(key: X25519PrivateKey | X25519PublicKey) -> str:
    """The public key as the 44-character base64 text that configs and messages carry."""
    pub = key.public_key() if isinstance(key, X25519PrivateKey) else key
    return base64.b64encode(_raw(pub)).decode("ascii")


def parse_public_key(text: str, what: str = "public key") -> X25519PublicKey:
    """Read a key written by :func:`public_key_text`.

    Raises:
        SealError: text is not base64 of 32 bytes.
    """
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != _KEY_LEN:
        raise SealError(f"{what}: must be the base64 of a 32-byte X25519 key (44 characters)")
    return X25519PublicKey.from_public_bytes(raw)


def load_or_create_private_key(path: Path) -> X25519PrivateKey:
    """Read the private key in ``path`` (raw 32 bytes), creating it 0600 when absent.

    A new key is written to a temporary file, synced and then linked into place, so a crash or a
    power cut never leaves an empty key file behind (the next start would refuse it), and two
    processes starting at once end up with the same key.

    Raises:
        SealError: The file exists but does not hold a key, or is readable by others.
    """
    if not path.exists():
        key = X25519PrivateKey.generate()
        raw = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(raw)
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, path)  # fails if another process won the race: use its key
            except FileExistsError:
                pass
            else:
                dir_fd = os.open(path.parent, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)
        finally:
            tmp.unlink(missing_ok=True)
    if path.stat().st_mode & 0o077:
        raise SealError(
            f"{path}: a private key must not be readable by group or others (chmod 600)"
        )
    raw = path.read_bytes()
    if len(raw) != _KEY_LEN:
        raise SealError(f"{path}: not a 32-byte X25519 private key ({len(raw)} bytes)")
    return X25519PrivateKey.from_private_bytes(raw)


def b64(data: bytes) -> str:
    """Standard base64 text, as the messages carry sealed boxes."""
    return base64.b64encode(data).decode("ascii")


def unb64(text: str, what: str) -> bytes:
    """Decode base64 text; raises :class:`SealError` naming ``what``, never echoing the text."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SealError(f"{what}: must be standard base64 ({len(text)} characters given)") from None
