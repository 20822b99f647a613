"""Delivery through a real broker: released only on the central's ack, nothing lost or doubled."""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge.publisher import MqttSettings, Publisher
from edge.store import Store
from tests.integration.ackpeer import AckPeer
from tests.integration.broker import Broker
from tests.integration.conftest import wait_until
from wire import Status

pytestmark = pytest.mark.integration
DEVICE = "kantor-walikota-1"


def append(store: Store, i: int) -> None:
    store.outbox.append(
        person_id=f"19860926201505100{i % 10}",
        slot=i % 1000,
        score=150,
        at=datetime.now(UTC),
        clock_synced=True,
        boot_id="3f1c2a9e-0000-4000-8000-000000000001",
        mono_ns=time.monotonic_ns(),
    )


def publisher(store: Store, broker: Broker, **kw: object) -> Publisher:
    settings = MqttSettings(
        host="127.0.0.1", port=broker.port, reconnect_min_s=1, reconnect_max_s=1
    )
    return Publisher(
        DEVICE,
        store.outbox,
        settings,
        lambda: Status(device=DEVICE, online=True, outbox_depth=store.outbox.depth()),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def test_publisher_releases_only_after_central_ack(tmp_path: Path, broker: Broker) -> None:
    silent = AckPeer(broker.port, tmp_path / "silent.db", ack=False)
    silent.start()
    assert silent.connected.wait(10)
    with Store(tmp_path / "edge.db") as store:
        for i in range(5):
            append(store, i)
        pub = publisher(store, broker, ack_timeout_s=0.5)
        pub.start()
        wait_until(lambda: len(silent.punches(DEVICE)) == 5, 10, "the batch at the peer")
        time.sleep(1.2)  # past the ack timeout: it must be sent again, and still kept
        assert store.outbox.depth() == 5
        assert pub.resends >= 1
        assert silent.duplicates >= 5  # the resend arrived and was ignored by (device, seq)
        pub.stop()
    silent.stop()


def test_publisher_flushes_and_releases(tmp_path: Path, broker: Broker, peer: AckPeer) -> None:
    with Store(tmp_path / "edge.db") as store:
        for i in range(250):
            append(store, i)
        pub = publisher(store, broker, batch_size=100)
        pub.start()
        wait_until(lambda: store.outbox.depth() == 0, 20, "all punches released")
        got = peer.punches(DEVICE)
        assert [s for s, _, _ in got] == list(range(1, 251))
        pub.stop()


def test_publisher_survives_broker_kills_mid_stream(
    tmp_path: Path, broker: Broker, peer: AckPeer
) -> None:
    total = 2000
    rng = random.Random(5)
    with Store(tmp_path / "edge.db") as store:
        pub = publisher(store, broker, batch_size=50, ack_timeout_s=2)
        pub.start()
        produced = threading.Event()

        def produce() -> None:
            for i in range(total):
                append(store, i)
                pub.notify()
                if i % 50 == 0:
                    time.sleep(0.01)
            produced.set()

        producer = threading.Thread(target=produce)
        producer.start()
        kills = 0
        while not produced.is_set() or kills < 4:
            time.sleep(rng.uniform(0.2, 0.6))
            broker.kill()  # SIGKILL, persistence off: whatever it held is gone
            kills += 1
            time.sleep(rng.uniform(0.1, 0.8))  # punches keep coming while it is down
            broker.start()
        producer.join()
        wait_until(
            lambda: store.outbox.depth() == 0, 60, "the backlog flushed after the last restart"
        )
        got = peer.punches(DEVICE)
        ids = [i for _, i, _ in got]
        assert [s for s, _, _ in got] == list(range(1, total + 1))  # all, gap-free
        assert len(set(ids)) == total  # none twice
        assert kills >= 4
        pub.stop()


def test_publisher_ignores_an_ack_beyond_its_last_punch(tmp_path: Path, broker: Broker) -> None:
    from wire import Ack

    with Store(tmp_path / "edge.db") as store:
        append(store, 1)
        pub = publisher(store, broker)
        pub.start()
        pub.on_ack(Ack(99))
        time.sleep(0.3)
        assert store.outbox.depth() == 1
        pub.on_ack(Ack(1))
        wait_until(lambda: store.outbox.depth() == 0, 5, "the release")
        pub.stop()
