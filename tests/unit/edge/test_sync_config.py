"""[sync] and [admin] in the edge config: the central key's shape, the socket and its group."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from edge.config import AdminConfig, ConfigError, load
from wire.sealing import public_key_text

BASE = '[device]\nid = "pi-01"\n[sensor]\nport = "sim:r307"\n'


def write(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "edge.toml"
    path.write_text(BASE + extra)
    return path


def test_sync_config_defaults_are_off_and_run_socket(tmp_path: Path) -> None:
    config = load(write(tmp_path, ""), environ={})
    assert config.sync.central_key is None
    assert config.admin == AdminConfig(socket=Path("/run/hadir/admin.sock"), group=None)


def test_sync_config_reads_a_central_key_and_an_admin_socket(tmp_path: Path) -> None:
    key = public_key_text(X25519PrivateKey.generate())
    extra = (
        f'[sync]\ncentral_key = "{key}"\n[admin]\nsocket = "/tmp/a.sock"\ngroup = "hadir-admin"\n'
    )
    config = load(write(tmp_path, extra), environ={})
    assert config.sync.central_key == key
    assert config.admin == AdminConfig(socket=Path("/tmp/a.sock"), group="hadir-admin")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            '[sync]\ncentral_key = "abc"\n',
            "[sync].central_key: must be the central's public key: 44 characters of base64 "
            "(32 bytes), as `hadir-central device add` prints it; got 3 characters",
        ),
        ('[sync]\ncentral_key = "' + "!" * 44 + '"\n', "[sync].central_key: must be"),
        ("[sync]\ncentral_key = 5\n", "[sync].central_key: must be a non-empty string, got 5"),
        ('[sync]\ncentral_kye = "x"\n', "[sync].central_kye: unknown key (did you mean"),
        ('[admin]\ngroup = "Bad Group"\n', "[admin].group: must be a Unix group name"),
    ],
)
def test_sync_config_errors_name_file_key_and_expectation(
    tmp_path: Path, extra: str, message: str
) -> None:
    path = write(tmp_path, extra)
    with pytest.raises(ConfigError) as caught:
        load(path, environ={})
    assert str(caught.value).startswith(f"{path}: {message}")
