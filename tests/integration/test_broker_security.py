"""The shipped broker security on a real mosquitto with TLS: who may connect, who may publish."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine

from central.collector import BrokerSettings, Collector
from central.db import make_engine, upgrade
from central.devices import acl_for, mosquitto_hash
from central.pki import Issued, make_ca_and_server
from edge.publisher import MqttSettings, Publisher
from edge.store import Store
from tests.integration.broker import Broker
from tests.integration.central_fixture import punches, register
from tests.integration.conftest import wait_until
from wire import Status

pytestmark = pytest.mark.integration
COLLECTOR_ACL = """user collector
topic read hadir/v1/dev/+/punches
topic read hadir/v1/dev/+/status
topic write hadir/v1/dev/+/ack
"""


@pytest.fixture
def pki(tmp_path: Path) -> Issued:
    return make_ca_and_server(tmp_path / "certs", ["localhost", "127.0.0.1"])


@pytest.fixture
def tls_broker(tmp_path: Path, pki: Issued) -> Iterator[Broker]:
    (tmp_path / "passwd").write_text(
        "\n".join(
            [
                mosquitto_hash("kupang-a", "pw-a"),
                mosquitto_hash("kupang-b", "pw-b"),
                mosquitto_hash("collector", "pw-c"),
            ]
        )
        + "\n"
    )
    (tmp_path / "acl").write_text(
        COLLECTOR_ACL + "\n" + acl_for("kupang-a") + "\n\n" + acl_for("kupang-b") + "\n"
    )
    folder = tmp_path / "broker"
    folder.mkdir()
    broker = Broker(
        folder,
        anonymous=False,
        extra="\n".join(
            [
                f"cafile {pki.ca_cert}",
                f"certfile {pki.server_cert}",
                f"keyfile {pki.server_key}",
                "tls_version tlsv1.2",
                f"password_file {tmp_path / 'passwd'}",
                f"acl_file {tmp_path / 'acl'}",
            ]
        ),
    )
    broker.start()
    yield broker
    broker.stop()


def client(
    port: int, user: str | None, password: str | None, ca: Path | None
) -> tuple[mqtt.Client, object]:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{user}-{time.monotonic_ns()}")
    if user is not None:
        c.username_pw_set(user, password)
    if ca is not None:
        c.tls_set(ca_certs=str(ca), tls_version=ssl.PROTOCOL_TLS_CLIENT)
    result: dict[str, object] = {}
    done = threading.Event()

    def on_connect(_c: mqtt.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        result["reason"] = reason
        done.set()

    c.on_connect = on_connect
    try:
        c.connect("127.0.0.1", port)
    except (OSError, ssl.SSLError) as exc:
        return c, exc
    c.loop_start()
    done.wait(5)
    return c, result.get("reason", "no CONNACK")


def close(c: mqtt.Client) -> None:
    c.disconnect()
    c.loop_stop()


def test_security_unauthenticated_client_is_refused(tls_broker: Broker, pki: Issued) -> None:
    c, reason = client(tls_broker.port, None, None, pki.ca_cert)
    assert getattr(reason, "is_failure", False), reason
    close(c)
    c, reason = client(tls_broker.port, "kupang-a", "wrong password", pki.ca_cert)
    assert getattr(reason, "is_failure", False), reason
    close(c)


def test_security_plain_tcp_is_refused_on_the_tls_listener(tls_broker: Broker) -> None:
    c, reason = client(tls_broker.port, "kupang-a", "pw-a", None)
    # No CONNACK ever comes back for an MQTT packet sent in clear to a TLS port.
    assert not hasattr(reason, "is_failure") or reason.is_failure  # type: ignore[attr-defined]
    assert not c.is_connected()
    close(c)


def test_security_a_device_cannot_publish_as_another(tls_broker: Broker, pki: Issued) -> None:
    collector, reason = client(tls_broker.port, "collector", "pw-c", pki.ca_cert)
    assert not reason.is_failure  # type: ignore[attr-defined]
    got: list[str] = []
    subscribed = threading.Event()
    collector.on_message = lambda _c, _u, m: got.append(m.topic)
    collector.on_subscribe = lambda *_: subscribed.set()
    collector.subscribe("hadir/v1/dev/+/punches", qos=1)
    assert subscribed.wait(5)
    a, reason = client(tls_broker.port, "kupang-a", "pw-a", pki.ca_cert)
    assert not reason.is_failure  # type: ignore[attr-defined]
    a.publish("hadir/v1/dev/kupang-b/punches", b"forged", qos=1).wait_for_publish(5)
    a.publish("hadir/v1/dev/kupang-a/punches", b"mine", qos=1).wait_for_publish(5)
    wait_until(lambda: "hadir/v1/dev/kupang-a/punches" in got, 5, "A's own message")
    time.sleep(0.3)
    assert got == ["hadir/v1/dev/kupang-a/punches"]
    close(a)
    close(collector)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'central.db'}"
    upgrade(url)
    e = make_engine(url)
    register(e, "kupang-a")
    yield e
    e.dispose()


def test_security_punches_flow_end_to_end_over_tls(
    tmp_path: Path, tls_broker: Broker, pki: Issued, engine: Engine
) -> None:
    collector = Collector(
        engine,
        BrokerSettings(
            host="127.0.0.1",
            port=tls_broker.port,
            client_id="collector-tls",
            username="collector",
            password="pw-c",
            tls=True,
            ca_file=str(pki.ca_cert),
        ),
    )
    collector.start()
    assert collector.connected.wait(10)
    with Store(tmp_path / "edge.db") as store:
        pub = Publisher(
            "kupang-a",
            store.outbox,
            MqttSettings(
                host="127.0.0.1",
                port=tls_broker.port,
                username="kupang-a",
                password="pw-a",
                tls=True,
                ca_file=str(pki.ca_cert),
            ),
            lambda: Status(
                device="kupang-a",
                online=True,
                outbox_depth=store.outbox.depth(),
                at=datetime.now(UTC),
            ),  # type: ignore[arg-type]
        )
        pub.start()
        for i in range(25):
            store.outbox.append(
                person_id="198609262015051001",
                slot=1,
                score=150,
                at=datetime.now(UTC),
                clock_synced=True,
                boot_id="b",
                mono_ns=i + 1,
            )
        pub.notify()
        wait_until(lambda: store.outbox.depth() == 0, 20, "the punches acknowledged over TLS")
        pub.stop()
    assert [s for s, _, _ in punches(engine, "kupang-a")] == list(range(1, 26))
    collector.stop()
