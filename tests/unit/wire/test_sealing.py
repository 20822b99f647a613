"""Sealed template boxes: only the right key opens them, only for the right template id."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from wire import sealing
from wire.sealing import SealError

TEMPLATE = bytes(range(256)) * 2  # an R307 template is 512 bytes
TID = "3f6c1b9e-2a4d-4e8f-9b1c-5d7e8f9a0b1c"
OTHER_TID = "3f6c1b9e-2a4d-4e8f-9b1c-5d7e8f9a0b1d"


def test_round_trip_for_the_recipient() -> None:
    key = X25519PrivateKey.generate()
    box = sealing.seal(TEMPLATE, key.public_key(), TID)
    assert len(box) == len(TEMPLATE) + sealing.OVERHEAD
    assert TEMPLATE not in box  # the plaintext is nowhere in the box
    assert sealing.open_sealed(box, key, TID) == TEMPLATE


def test_two_seals_of_one_template_differ() -> None:
    # A fresh ephemeral key and nonce each time: equal templates are not recognisable on the wire.
    key = X25519PrivateKey.generate()
    a = sealing.seal(TEMPLATE, key.public_key(), TID)
    b = sealing.seal(TEMPLATE, key.public_key(), TID)
    assert a != b


def test_another_key_cannot_open() -> None:
    key, other = X25519PrivateKey.generate(), X25519PrivateKey.generate()
    box = sealing.seal(TEMPLATE, key.public_key(), TID)
    with pytest.raises(SealError, match="cannot be opened") as err:
        sealing.open_sealed(box, other, TID)
    assert TEMPLATE.hex()[:16] not in str(err.value)


def test_a_box_moved_to_another_template_id_fails() -> None:
    key = X25519PrivateKey.generate()
    box = sealing.seal(TEMPLATE, key.public_key(), TID)
    with pytest.raises(SealError):
        sealing.open_sealed(box, key, OTHER_TID)


@pytest.mark.parametrize("index", [0, 1, 40, 45, -1])
def test_any_altered_byte_is_refused(index: int) -> None:
    key = X25519PrivateKey.generate()
    box = bytearray(sealing.seal(TEMPLATE, key.public_key(), TID))
    box[index] ^= 0x01
    with pytest.raises(SealError):
        sealing.open_sealed(bytes(box), key, TID)


def test_truncated_box_names_its_size_not_its_bytes() -> None:
    key = X25519PrivateKey.generate()
    with pytest.raises(SealError, match=r"\(10 bytes"):
        sealing.open_sealed(b"\x01" * 10, key, TID)


def test_public_key_text_round_trip_and_bad_text() -> None:
    key = X25519PrivateKey.generate()
    text = sealing.public_key_text(key)
    assert len(text) == 44
    box = sealing.seal(TEMPLATE, sealing.parse_public_key(text), TID)
    assert sealing.open_sealed(box, key, TID) == TEMPLATE
    for bad in ("", "abc", "!" * 44, sealing.b64(b"\x00" * 31)):
        with pytest.raises(SealError, match="32-byte X25519"):
            sealing.parse_public_key(bad)


def test_private_key_file_created_0600_and_reloaded(tmp_path: Path) -> None:
    path = tmp_path / "template.key"
    first = sealing.load_or_create_private_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    again = sealing.load_or_create_private_key(path)
    assert sealing.public_key_text(first) == sealing.public_key_text(again)


def test_private_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "template.key"
    sealing.load_or_create_private_key(path)
    os.chmod(path, 0o644)
    with pytest.raises(SealError, match="chmod 600"):
        sealing.load_or_create_private_key(path)


def test_private_key_file_of_wrong_size_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "template.key"
    path.write_bytes(b"short")
    os.chmod(path, 0o600)
    with pytest.raises(SealError, match="5 bytes"):
        sealing.load_or_create_private_key(path)


def test_unb64_never_echoes_its_input() -> None:
    secret = "not*base64*" + "A" * 30
    with pytest.raises(SealError) as err:
        sealing.unb64(secret, "params.sealed")
    assert secret not in str(err.value)
    assert sealing.unb64(sealing.b64(TEMPLATE), "x") == TEMPLATE
