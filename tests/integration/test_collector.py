"""The collector against a real mosquitto, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine, select

from central.ingest import missing_seqs
from central.schema import device
from edge.publisher import MqttSettings, Publisher
from edge.store import Store
from tests.integration.broker import Broker
from tests.integration.central_fixture import (
    CollectorProcess,
    dead_letters,
    engine_for,
    punches,
    register,
    start_collector,
)
from tests.integration.conftest import wait_until
from wire import MessageError, Punch, PunchBatch, Status, decode_punch_batch, encode, topics

pytestmark = pytest.mark.integration
A, B = "terminal-a", "terminal-b"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    e = engine_for(db_url)
    register(e, A, B)
    yield e
    e.dispose()


def raw_client(port: int) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"raw-{uuid.uuid4().hex[:6]}")
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def acked(port: int, device: str) -> tuple[mqtt.Client, list[int]]:
    """A raw client subscribed to ``device``'s acks, and the ``upto`` of each as it comes."""
    client = raw_client(port)
    acks: list[int] = []
    client.on_message = lambda _c, _u, m: acks.append(json.loads(m.payload)["upto"])
    subscribed = threading.Event()
    client.on_subscribe = lambda *_: subscribed.set()
    client.subscribe(topics.ack(device), qos=1)
    assert subscribed.wait(5)
    return client, acks


def punch(seq: int, person: str = "198609262015051001") -> Punch:
    return Punch(
        seq=seq,
        id=str(uuid.uuid4()),
        person=person,
        slot=1,
        score=120,
        at=datetime.now(UTC),
        clock_synced=True,
        boot_id="b",
        mono_ns=seq,
    )


def edge(tmp_path: Path, dev: str, broker: Broker) -> tuple[Store, Publisher]:
    store = Store(tmp_path / f"{dev}.db")
    pub = Publisher(
        dev,
        store.outbox,
        MqttSettings(host="127.0.0.1", port=broker.port, reconnect_min_s=1, reconnect_max_s=1),
        lambda: Status(
            device=dev, online=True, outbox_depth=store.outbox.depth(), at=datetime.now(UTC)
        ),  # type: ignore[arg-type]
        ack_timeout_s=2,
        batch_size=50,
    )
    pub.start()
    return store, pub


def append(store: Store, i: int) -> None:
    store.outbox.append(
        person_id=f"19900101201501{i % 10000:04d}",
        slot=i % 1000,
        score=100,
        at=datetime.now(UTC),
        clock_synced=True,
        boot_id="boot",
        mono_ns=i + 1,
    )


def test_collector_two_terminals_land_once_each(
    tmp_path: Path, broker: Broker, engine: Engine
) -> None:
    collector = start_collector(engine, broker.port)
    (sa, pa), (sb, pb) = edge(tmp_path, A, broker), edge(tmp_path, B, broker)
    for i in range(120):
        append(sa, i)
        append(sb, i)
    pa.notify()
    pb.notify()
    wait_until(
        lambda: sa.outbox.depth() == 0 and sb.outbox.depth() == 0, 20, "both outboxes released"
    )
    assert [s for s, _, _ in punches(engine, A)] == list(range(1, 121))
    assert [s for s, _, _ in punches(engine, B)] == list(range(1, 121))
    pa.publish_status()
    wait_until(lambda: _device(engine, A)["complete_upto"] is not None, 10, "the completeness mark")
    row = _device(engine, A)
    assert row["acked_upto"] == 120 and row["online"] and row["outbox_depth"] == 0
    for p in (pa, pb):
        p.stop()
    wait_until(lambda: not _device(engine, A)["online"], 10, "the offline status")
    collector.stop()
    sa.close()
    sb.close()


def _device(engine: Engine, dev: str) -> dict[str, object]:
    with engine.connect() as conn:
        return dict(conn.execute(select(device).where(device.c.id == dev)).mappings().one())


def test_collector_ignores_a_duplicated_batch_and_reports_gaps(
    broker: Broker, engine: Engine
) -> None:
    collector = start_collector(engine, broker.port)
    client = raw_client(broker.port)
    batch = PunchBatch(A, (punch(1), punch(2), punch(4)))  # type: ignore[arg-type]
    for _ in range(3):
        client.publish(topics.punches(A), encode(batch), qos=1).wait_for_publish(5)
    wait_until(lambda: collector.counters.messages >= 3, 10, "three deliveries")
    assert [s for s, _, _ in punches(engine, A)] == [1, 2, 4]
    assert collector.counters.punches == 3  # stored once, whatever the grouping
    with engine.connect() as conn:
        assert missing_seqs(conn, A) == [(3, 3)]
    assert _device(engine, A)["acked_upto"] == 2  # not past the gap
    client.loop_stop()
    collector.stop()


def test_collector_rejects_a_forged_device(broker: Broker, engine: Engine) -> None:
    collector = start_collector(engine, broker.port)
    client = raw_client(broker.port)
    forged = PunchBatch(B, (punch(1),))  # type: ignore[arg-type]
    client.publish(topics.punches(A), encode(forged), qos=1).wait_for_publish(
        5
    )  # B's punch on A's topic
    wait_until(lambda: len(dead_letters(engine)) == 1, 10, "the dead letter")
    assert punches(engine, A) == [] and punches(engine, B) == []
    [(topic, reason)] = dead_letters(engine)
    assert topic == topics.punches(A)
    assert "terminal-b" in reason and "terminal-a" in reason
    client.loop_stop()
    collector.stop()


def test_collector_seq_reused_with_another_id_is_held_back(broker: Broker, engine: Engine) -> None:
    collector = start_collector(engine, broker.port)
    client, acks = acked(broker.port, A)
    client.publish(topics.punches(A), encode(PunchBatch(A, (punch(1), punch(2)))), qos=1)  # type: ignore[arg-type]
    wait_until(lambda: acks == [2], 10, "ack 2")
    # A reset terminal starts again at seq 1 with new punches: must not be acked as stored.
    client.publish(topics.punches(A), encode(PunchBatch(A, (punch(1), punch(2), punch(3)))), qos=1)  # type: ignore[arg-type]
    wait_until(lambda: len(acks) == 2, 10, "second ack")
    assert acks[1] == 0
    client.loop_stop()
    collector.stop()


def test_collector_a_punch_id_stored_under_another_seq_is_held_back(
    broker: Broker, engine: Engine
) -> None:
    collector = start_collector(engine, broker.port)
    client, acks = acked(broker.port, B)
    first = punch(1)
    client.publish(topics.punches(A), encode(PunchBatch(A, (first,))), qos=1)  # type: ignore[arg-type]
    copied = Punch(**{**{f: getattr(first, f) for f in Punch.__slots__}, "seq": 2})
    client.publish(topics.punches(B), encode(PunchBatch(B, (punch(1), copied, punch(3)))), qos=1)  # type: ignore[arg-type]
    wait_until(lambda: acks == [1], 10, "B acked up to the punch before the copy")
    assert [s for s, _, _ in punches(engine, B)] == [1, 3]
    [(topic, reason)] = dead_letters(engine)
    assert topic == topics.punches(B) and "punch id already stored under another seq" in reason
    client.loop_stop()
    collector.stop()


def test_collector_dead_letters_a_punch_with_a_repeated_json_key(
    broker: Broker, engine: Engine
) -> None:
    collector = start_collector(engine, broker.port)
    client = raw_client(broker.port)
    good = encode(PunchBatch(A, (punch(1),)))  # type: ignore[arg-type]
    # The second "person" would win in a plain json.loads: the punch must not be stored.
    forged = good.replace(b'"person":', b'"person":"199001012015011999","person":', 1)
    client.publish(topics.punches(A), forged, qos=1).wait_for_publish(5)
    client.publish(topics.punches(A), encode(PunchBatch(A, (punch(2),))), qos=1)  # type: ignore[arg-type]
    wait_until(lambda: collector.counters.messages >= 2, 10, "both handled")
    [(topic, reason)] = dead_letters(engine)
    assert topic == topics.punches(A)
    assert reason == 'payload: must not repeat a key, got "person" twice'
    assert [s for s, _, _ in punches(engine, A)] == [2]
    client.loop_stop()
    collector.stop()


def test_collector_acked_messages_are_not_delivered_again_after_a_restart(
    broker: Broker, engine: Engine
) -> None:
    # The grouped PUBACKs reach the broker: the persistent session has nothing left to resend.
    first = start_collector(engine, broker.port, "collector-restarted")
    client = raw_client(broker.port)
    for seq in range(1, 301):
        client.publish(topics.punches(A), encode(PunchBatch(A, (punch(seq),))), qos=1)  # type: ignore[arg-type]
    wait_until(lambda: first.counters.messages >= 300, 20, "300 messages stored")
    first.stop()
    again = start_collector(engine, broker.port, "collector-restarted")
    time.sleep(1.5)
    assert again.counters.messages == 0
    assert _device(engine, A)["acked_upto"] == 300
    client.loop_stop()
    again.stop()


def test_collector_holds_back_an_unknown_device_until_registered(
    tmp_path: Path, broker: Broker, engine: Engine
) -> None:
    collector = start_collector(engine, broker.port)
    store, pub = edge(tmp_path, "terminal-new", broker)
    append(store, 1)
    pub.notify()
    wait_until(lambda: len(dead_letters(engine)) == 1, 10, "the unknown device noted")
    time.sleep(0.5)
    assert store.outbox.depth() == 1  # not acknowledged: the terminal keeps it
    register(engine, "terminal-new")
    wait_until(lambda: store.outbox.depth() == 0, 15, "delivered after registration")
    assert len(punches(engine, "terminal-new")) == 1
    pub.stop()
    store.close()
    collector.stop()


def test_collector_fuzzed_payloads_become_dead_letters_while_ingest_goes_on(
    tmp_path: Path, broker: Broker, engine: Engine
) -> None:
    collector = start_collector(engine, broker.port)
    store, pub = edge(tmp_path, A, broker)
    rng = random.Random(1000)
    good = encode(PunchBatch(B, (punch(1),)))  # type: ignore[arg-type]
    client = raw_client(broker.port)

    def malformed(i: int) -> bytes:
        while True:
            data = bytearray(good)
            for _ in range(rng.randint(1, 6)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            if i % 3 == 0:
                data = data[: rng.randrange(len(data))]
            if i % 7 == 0:
                data = bytearray(
                    json.dumps({"v": 1, "device": B, "punches": [rng.random()]}).encode()
                )
            try:
                decode_punch_batch(bytes(data), topic_device=B)
            except MessageError:
                return bytes(data)  # only payloads the contract refuses

    def fuzz() -> None:
        for i in range(1000):
            client.publish(topics.punches(B), malformed(i), qos=1)

    fuzzer = threading.Thread(target=fuzz)
    fuzzer.start()
    for i in range(300):
        append(store, i)
        pub.notify()
    fuzzer.join()
    wait_until(lambda: store.outbox.depth() == 0, 30, "the valid stream ingested")
    wait_until(lambda: collector.counters.messages >= 1000, 30, "every fuzzed message handled")
    letters = dead_letters(engine)
    assert len(letters) == 1000  # each one kept, with its reason
    assert all(reason for _, reason in letters)
    assert punches(engine, B) == []
    assert [s for s, _, _ in punches(engine, A)] == list(range(1, 301))
    pub.stop()
    store.close()
    client.loop_stop()
    collector.stop()


def test_collector_killed_mid_batch_loses_nothing(
    tmp_path: Path, broker: Broker, db_url: str, engine: Engine
) -> None:
    proc = CollectorProcess(tmp_path, db_url, broker.port)
    proc.start()
    store, pub = edge(tmp_path, A, broker)
    total = 1500
    rng = random.Random(4)
    done = threading.Event()

    def produce() -> None:
        for i in range(total):
            append(store, i)
            pub.notify()
            if i % 100 == 0:
                time.sleep(0.02)
        done.set()

    producer = threading.Thread(target=produce)
    producer.start()
    kills = 0
    while not done.is_set() or kills < 3:
        time.sleep(rng.uniform(0.2, 0.6))
        proc.kill()
        kills += 1
        time.sleep(rng.uniform(0.05, 0.3))
        proc.start()
    producer.join()
    wait_until(lambda: store.outbox.depth() == 0, 60, "all acknowledged after the last restart")
    got = punches(engine, A)
    assert [s for s, _, _ in got] == list(range(1, total + 1))
    assert len({i for _, i, _ in got}) == total
    proc.stop()
    pub.stop()
    store.close()


def test_collector_two_on_a_shared_subscription_store_each_punch_once(
    tmp_path: Path, broker: Broker, engine: Engine
) -> None:
    c1 = start_collector(engine, broker.port, "collector-1")
    c2 = start_collector(engine, broker.port, "collector-2")
    (sa, pa), (sb, pb) = edge(tmp_path, A, broker), edge(tmp_path, B, broker)
    for i in range(400):
        append(sa, i)
        append(sb, i)
        if i % 25 == 0:
            pa.notify()
            pb.notify()
    pa.notify()
    pb.notify()
    wait_until(lambda: sa.outbox.depth() == 0 and sb.outbox.depth() == 0, 30, "both released")
    assert [s for s, _, _ in punches(engine, A)] == list(range(1, 401))
    assert [s for s, _, _ in punches(engine, B)] == list(range(1, 401))
    assert c1.counters.messages > 0 and c2.counters.messages > 0  # the load was shared
    for x in (pa, pb):
        x.stop()
    c1.stop()
    c2.stop()
    sa.close()
    sb.close()
