"""hadir-central as an operator uses it, and the broker credentials it makes (real mosquitto)."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from central.devices import mosquitto_hash
from tests.integration.broker import Broker

pytestmark = pytest.mark.integration


def central(db: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "central", "--db", db, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_central_cli_registers_a_terminal_and_imports_a_roster(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    assert central(db, "db", "upgrade").returncode == 0
    assert central(db, "unit", "add", "BKPPD", "BKPPD Kota Kupang").returncode == 0
    site = central(
        db, "site", "add", "BKPPD", "Kantor BKPPD", "-10.1632", "123.6017", "--radius", "80"
    )
    assert "site BKPPD-1 added" in site.stdout
    roster = tmp_path / "pegawai.csv"
    roster.write_text(
        "NIP;Nama;Jenis Pegawai;Unit Kerja\n"
        "19860926 201505 1 001;Yohanes Bria;PNS;BKPPD\n"
        "198613312015051001;Salah Tanggal;PNS;BKPPD\n"
    )
    refused = central(db, "import", str(roster))
    assert refused.returncode == 1
    assert "NOT imported" in refused.stdout
    assert "line 3" in refused.stdout and "birth date 19861331" in refused.stdout
    partial = central(db, "import", str(roster), "--partial")
    assert "imported; rows 2, new 1" in partial.stdout
    added = central(db, "device", "add", "kupang-bkppd-01", "--site", "BKPPD-1")
    assert added.returncode == 0
    assert re.search(r"^kupang-bkppd-01:\$7\$101\$", added.stdout, re.M)
    assert "topic write hadir/v1/dev/kupang-bkppd-01/punches" in added.stdout
    again = central(db, "device", "add", "kupang-bkppd-01")
    assert again.returncode == 1 and "already registered" in again.stderr
    bad = central(db, "device", "add", "Bad/Id")
    assert bad.returncode == 1 and "device" in bad.stderr


def connect(port: int, user: str, password: str) -> tuple[mqtt.Client, object]:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{user}-{password[:4]}")
    client.username_pw_set(user, password)
    result: dict[str, object] = {}
    done = threading.Event()

    def on_connect(_c: mqtt.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        result["reason"] = reason
        done.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", port)
    client.loop_start()
    done.wait(5)
    return client, result.get("reason")


def test_device_credentials_work_on_a_real_mosquitto(tmp_path: Path) -> None:
    from central.devices import acl_for

    (tmp_path / "passwd").write_text(
        mosquitto_hash("kupang-a", "secret-a")
        + "\n"
        + mosquitto_hash("collector", "secret-c")
        + "\n"
    )
    (tmp_path / "acl").write_text(
        acl_for("kupang-a") + "\n\nuser collector\ntopic read hadir/v1/dev/+/punches\n"
    )
    folder = tmp_path / "broker"
    folder.mkdir()
    broker = Broker(
        folder,
        anonymous=False,
        extra=f"password_file {tmp_path / 'passwd'}\nacl_file {tmp_path / 'acl'}",
    )
    broker.start()
    try:
        ok, reason = connect(broker.port, "kupang-a", "secret-a")
        assert not reason.is_failure  # type: ignore[attr-defined]
        _, refused = connect(broker.port, "kupang-a", "wrong")
        assert refused.is_failure  # type: ignore[attr-defined]
        collector, _ = connect(broker.port, "collector", "secret-c")
        got: list[str] = []
        subscribed = threading.Event()
        collector.on_message = lambda _c, _u, m: got.append(m.topic)
        collector.on_subscribe = lambda *_: subscribed.set()
        collector.subscribe("hadir/v1/dev/+/punches", qos=1)
        assert subscribed.wait(5)
        ok.publish("hadir/v1/dev/kupang-b/punches", b"{}", qos=1).wait_for_publish(
            5
        )  # not its topic
        ok.publish("hadir/v1/dev/kupang-a/punches", b"{}", qos=1).wait_for_publish(5)
        deadline = time.monotonic() + 5
        while "hadir/v1/dev/kupang-a/punches" not in got and time.monotonic() < deadline:
            time.sleep(0.02)
        assert got == ["hadir/v1/dev/kupang-a/punches"]  # the forged topic never arrived
        for c in (ok, collector):
            c.disconnect()
            c.loop_stop()
    finally:
        broker.stop()
