"""The collector's paho client: buffered reads and grouped PUBACKs give paho the same packets."""

from __future__ import annotations

import random

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from central import collector
from central.collector import _Client


class FakeSocket:
    """Hands out the broker's bytes in chunks of random size, then would block."""

    def __init__(self, data: bytes, seed: int = 0, most: int = 200_000) -> None:
        self.data = bytearray(data)
        self.most = most
        self.rnd = random.Random(seed)
        self.recv_calls = 0

    def recv(self, bufsize: int) -> bytes:
        self.recv_calls += 1
        if not self.data:
            raise BlockingIOError
        n = min(bufsize, self.rnd.randint(1, self.most))
        chunk = bytes(self.data[:n])
        del self.data[:n]
        return chunk

    def close(self) -> None:
        pass


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (128 if n else 0))
        if not n:
            return bytes(out)


def publish(topic: str, mid: int, payload: bytes) -> bytes:
    """A QoS 1 PUBLISH of MQTT 3.1.1."""
    body = len(topic).to_bytes(2, "big") + topic.encode() + mid.to_bytes(2, "big") + payload
    return bytes((0x32,)) + varint(len(body)) + body


def client(received: list[mqtt.MQTTMessage]) -> _Client:
    c = _Client(CallbackAPIVersion.VERSION2, client_id="t", protocol=mqtt.MQTTv311, manual_ack=True)
    c.on_message = lambda _c, _u, m: received.append(m)
    return c


def messages(n: int, seed: int) -> list[tuple[str, int, bytes]]:
    rnd = random.Random(seed)
    sizes = [0, 1, 127, 128, 16_383, 16_384, 70_000, 300_000]
    return [
        (f"hadir/v1/dev/pi-{i % 7}/punches", i % 65535 + 1, rnd.randbytes(rnd.choice(sizes)))
        for i in range(n)
    ]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_packet_arrives_whole_and_in_order(seed: int) -> None:
    sent = messages(300, seed)
    received: list[mqtt.MQTTMessage] = []
    c = client(received)
    sock = FakeSocket(b"".join(publish(*m) for m in sent), seed)
    c._sock = sock  # type: ignore[assignment]
    for _ in range(1000):
        assert c.loop_read() == MQTTErrorCode.MQTT_ERR_SUCCESS
        if not sock.data and not c._rbuf:
            break
    assert [(m.topic, m.mid, m.payload) for m in received] == sent
    assert sock.recv_calls < 4 * len(sent)  # paho alone: four recv() per packet


def test_a_spent_budget_leaves_nothing_buffered(monkeypatch: pytest.MonkeyPatch) -> None:
    # select() cannot see bytes we hold: loop_read must never return with some buffered.
    monkeypatch.setattr(collector, "_READ_BUDGET", 3)
    sent = [(f"t/{i}", i + 1, b"x" * 50) for i in range(40)]
    received: list[mqtt.MQTTMessage] = []
    c = client(received)
    sock = FakeSocket(b"".join(publish(*m) for m in sent), most=120)  # ~two packets a recv
    c._sock = sock  # type: ignore[assignment]
    calls = 0
    while len(received) < len(sent):
        calls += 1
        assert c.loop_read() == MQTTErrorCode.MQTT_ERR_SUCCESS
        assert not c._rbuf
    assert calls > 1
    assert [m.mid for m in received] == [mid for _, mid, _ in sent]


def test_a_closed_connection_drops_what_was_buffered() -> None:
    c = client([])
    c._sock = FakeSocket(b"")  # type: ignore[assignment]
    c._rbuf += b"\x32\x05left-over"
    c._sock_close()
    assert not c._rbuf


def test_acks_go_out_as_one_packet_in_order() -> None:
    c = client([])
    msgs = []
    for mid, qos in [(5, 1), (300, 1), (7, 0), (65535, 1)]:
        m = mqtt.MQTTMessage(mid=mid)
        m.qos = qos
        msgs.append(m)
    c.ack_all(msgs)
    [packet] = list(c._out_packet)
    assert bytes(packet["packet"]) == bytes.fromhex("400200054002012c4002ffff")
    c.ack_all([msgs[2]])  # QoS 0 needs no ack
    assert len(c._out_packet) == 1


def test_debug_lines_are_skipped_unless_wanted(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    c = client([])
    c.enable_logger(logging.getLogger("central.mqtt.test"))
    with caplog.at_level(logging.INFO, logger="central.mqtt.test"):
        c._easy_log(mqtt.MQTT_LOG_DEBUG, "debug %s", 1)
        c._easy_log(mqtt.MQTT_LOG_ERR, "error %s", 2)
    assert [r.getMessage() for r in caplog.records] == ["error 2"]
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="central.mqtt.test"):
        c._easy_log(mqtt.MQTT_LOG_DEBUG, "debug %s", 3)
    assert [r.getMessage() for r in caplog.records] == ["debug 3"]
