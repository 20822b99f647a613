"""The collector: MQTT in, database commit, then the acks (broker first, then the device).

It subscribes through a shared subscription (``$share/{group}/...``), so more collector
processes on a clustered broker split the load with no code change. paho's manual ack makes the
broker keep a message until the database commit that stores it; a collector killed mid-batch
loses nothing, because the broker (persistent session) or the device (ack timeout) sends again.

The network thread only queues messages; one writer thread drains the queue and stores many
messages in one transaction, which is where the throughput comes from.

With the central's template key, the collector also takes the terminals' template reports
(``.../templates``) and command results (``.../cmd/result``) in the same transactions and with
the same ack-after-commit discipline (:mod:`central.templates.intake`), and runs the template
dispatcher (:mod:`central.templates.dispatch`) that sends what the database says is owed.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from paho.mqtt.client import PUBACK
from paho.mqtt.enums import CallbackAPIVersion, LogLevel, MQTTErrorCode
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from central.ingest import (
    UnknownDevice,
    lock_devices,
    record_dead_letter,
    record_status,
    store_batches,
)
from central.templates import intake
from central.templates.dispatch import Dispatcher
from wire import (
    Ack,
    CommandResult,
    Kind,
    MessageError,
    PunchBatch,
    Status,
    decode_command_result,
    decode_punch_batch,
    decode_status,
    encode,
    topics,
)
from wire.sync import TemplateMessage, decode_template_message

log = logging.getLogger(__name__)


def _no_delay(client: mqtt.Client) -> None:
    # Acks are small: without TCP_NODELAY each waits for Nagle's timer (bench/README.md).
    sock = client.socket()
    if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


# Packets read per loop_read while the socket keeps giving data; then select() runs again (so
# writes, keepalive and the sockpair get their turn) before more is read.
_READ_BUDGET: Final = 1000
_RECV_BYTES: Final = 64 * 1024


class _Client(mqtt.Client):
    """paho's client with cheaper reads and acks, for thousands of messages a second.

    paho reads each packet with four recv() calls (type byte, length bytes, body) and one
    packet per select(), sends one PUBACK per send() after waking its thread through a socket
    pair per ack, and logs every packet: together about half of the collector's CPU per
    single-punch message (bench/README.md). Here reads come from one recv() of up to 64 KiB
    and loop_read takes every packet that is there; the acks of a committed group go out as
    one write; debug lines are skipped unless the logger wants them. The bytes on the wire are
    the same: PUBACKs in the order the PUBLISHes came, each sent only after the commit.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rbuf = bytearray()
        self._refill = True

    def _sock_recv(self, bufsize: int) -> bytes:
        if not self._rbuf:
            if not self._refill:
                raise BlockingIOError  # the budget is spent: back to select()
            data = super()._sock_recv(_RECV_BYTES)
            if not data:
                return data  # the broker closed the connection
            self._rbuf += data
        chunk = bytes(self._rbuf[:bufsize])
        del self._rbuf[:bufsize]
        return chunk

    def _sock_close(self) -> None:
        # Bytes of a closed connection must never be read as the next one's.
        self._rbuf.clear()
        super()._sock_close()

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        """Read every packet there is (up to _READ_BUDGET fresh ones), not one per select()."""
        fresh = 0
        try:
            while True:
                if self._sock is None:
                    return MQTTErrorCode.MQTT_ERR_NO_CONN
                # Past the budget, finish what is buffered (select() does not see it), no more.
                self._refill = fresh < _READ_BUDGET
                fresh += 1
                rc = self._packet_read()
                if rc > 0:
                    return self._loop_rc_handle(rc)
                if not self._rbuf and (rc == MQTTErrorCode.MQTT_ERR_AGAIN or not self._refill):
                    return MQTTErrorCode.MQTT_ERR_SUCCESS
        finally:
            self._refill = True

    def ack_all(self, messages: list[mqtt.MQTTMessage]) -> None:
        """PUBACK each QoS 1 message (manual ack), in order, in one write."""
        packet = b"".join(_PUBACK_HEAD + m.mid.to_bytes(2, "big") for m in messages if m.qos == 1)
        if packet:
            self._packet_queue(PUBACK, packet, 0, 0)
        for m in messages:
            if m.qos == 2:  # not subscribed at QoS 2; kept correct should that change
                self.ack(m.mid, m.qos)

    def _easy_log(self, level: LogLevel, fmt: str, *args: Any) -> None:
        if level != LogLevel.MQTT_LOG_DEBUG or self._debug_logging():
            super()._easy_log(level, fmt, *args)

    def _debug_logging(self) -> bool:
        return self._logger is not None and self._logger.isEnabledFor(logging.DEBUG)


# PUBACK of MQTT 3.1.1: packet type 4, remaining length 2, then the message id.
_PUBACK_HEAD: Final = bytes((PUBACK, 2))


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    """How the collector reaches the broker."""

    host: str
    port: int
    client_id: str = "hadir-collector-1"
    share_group: str = "collectors"
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    keepalive_s: int = 30


@dataclass(slots=True)
class Counters:
    """What the collector did since start."""

    messages: int = 0
    punches: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    transactions: int = 0
    db_failures: int = 0
    template_messages: int = 0
    command_results: int = 0


@dataclass(slots=True)
class _Parsed:
    msg: mqtt.MQTTMessage
    batch: PunchBatch | None = None
    status: Status | None = None
    template: TemplateMessage | None = None
    result: CommandResult | None = None
    error: str | None = None
    device: str | None = None
    # Template reports may carry a sealed box: their dead letters keep a redacted payload.
    redact: bool = False


class _Poison(Exception):
    """A template message the intake failed on: set aside so the punches with it are stored."""

    def __init__(self, parsed: _Parsed, cause: Exception) -> None:
        super().__init__(f"{type(cause).__name__}")
        self.parsed = parsed
        self.cause = cause


class Collector:
    """One collector process's MQTT side and writer.

    Args:
        engine: the central database (migrated).
        broker: broker settings.
        max_group: messages stored per transaction at most.
        utc_now: the clock (tests pass a fixed one).
        central_key: the central's template key; None leaves template sync to other collectors
            (this one then neither subscribes to template topics nor dispatches).
        resend_after_s: first resend delay of an unanswered template install or delete.
    """

    def __init__(
        self,
        engine: Engine,
        broker: BrokerSettings,
        *,
        max_group: int = 500,
        utc_now: Callable[[], datetime] = lambda: datetime.now(UTC),
        central_key: X25519PrivateKey | None = None,
        resend_after_s: float = 60.0,
    ) -> None:
        self.engine = engine
        self.central_key = central_key
        self.broker = broker
        self.max_group = max_group
        self.utc_now = utc_now
        self.counters = Counters()
        self.connected = threading.Event()
        # The network thread appends, the writer pops: deque operations are atomic, and unlike
        # queue.Queue no lock and condition are taken per message. _arrived wakes the writer.
        self._inbox: collections.deque[mqtt.MQTTMessage] = collections.deque()
        self._arrived = threading.Event()
        self._stop = threading.Event()
        self._unknown_logged: set[str] = set()
        self._unknown_lettered: set[str] = set()
        self._client = self._make_client()
        self.dispatcher: Dispatcher | None = None
        if central_key is not None:
            self.dispatcher = Dispatcher(
                engine,
                central_key,
                self._publish_command,
                ready=self.connected.is_set,
                resend_after_s=resend_after_s,
                utc_now=utc_now,
            )
        self._writer = threading.Thread(
            target=self._write_loop, name="collector-writer", daemon=True
        )

    def _make_client(self) -> _Client:
        b = self.broker
        client = _Client(
            CallbackAPIVersion.VERSION2,
            client_id=b.client_id,
            protocol=mqtt.MQTTv311,
            clean_session=False,  # the broker keeps our unacked messages while we restart
            manual_ack=True,
        )
        client.enable_logger(logging.getLogger("central.mqtt"))
        if b.username is not None:
            client.username_pw_set(b.username, b.password)
        if b.tls:
            client.tls_set(ca_certs=b.ca_file, certfile=b.cert_file, keyfile=b.key_file)
        client.reconnect_delay_set(1, 30)
        client.max_inflight_messages_set(1000)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self._inbox.append(msg)
        if not self._arrived.is_set():
            self._arrived.set()

    def _publish_command(self, topic: str, payload: bytes) -> None:
        # QoS 1; paho keeps it queued across a reconnect, the resend delay covers the rest.
        self._client.publish(topic, payload, qos=1)

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.error("broker refused the collector reason=%s", reason)
            return
        _no_delay(client)
        group = self.broker.share_group
        subscriptions = [
            (topics.shared_punches(group), 1),
            (f"$share/{group}/{topics.wildcard(Kind.STATUS)}", 1),
        ]
        if self.central_key is not None:
            subscriptions += [
                (f"$share/{group}/{topics.wildcard(Kind.TEMPLATES)}", 1),
                (f"$share/{group}/{topics.wildcard(Kind.CMD_RESULT)}", 1),
            ]
        client.subscribe(subscriptions)
        self.connected.set()
        if self.dispatcher is not None:
            self.dispatcher.wake()  # send what piled up while we were away
        log.info(
            "collector connected host=%s port=%d group=%s",
            self.broker.host,
            self.broker.port,
            group,
        )

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.connected.clear()
        log.warning("collector disconnected reason=%s", reason)

    # -- the writer --------------------------------------------------------------------------

    def _parse(self, msg: mqtt.MQTTMessage) -> _Parsed:
        try:
            device, kind = topics.parse(msg.topic)
        except MessageError as exc:
            return _Parsed(msg, error=f"topic: {exc}")
        if kind is Kind.TEMPLATES:
            try:
                return _Parsed(
                    msg,
                    template=decode_template_message(msg.payload, topic_device=device),
                    device=device,
                    redact=True,
                )
            except MessageError as exc:
                return _Parsed(msg, error=str(exc), device=device, redact=True)
        try:
            if kind is Kind.PUNCHES:
                return _Parsed(
                    msg, batch=decode_punch_batch(msg.payload, topic_device=device), device=device
                )
            if kind is Kind.STATUS:
                return _Parsed(
                    msg, status=decode_status(msg.payload, topic_device=device), device=device
                )
            if kind is Kind.CMD_RESULT:
                return _Parsed(msg, result=decode_command_result(msg.payload), device=device)
        except MessageError as exc:
            return _Parsed(msg, error=str(exc), device=device)
        return _Parsed(msg, error=f"unexpected topic kind {kind}", device=device)

    def _take(self) -> list[mqtt.MQTTMessage]:
        """Up to max_group messages, oldest first; waits up to 0.2 s for the first."""
        inbox = self._inbox
        if not inbox:
            self._arrived.clear()
            # Checked again after the clear: a message appended in between set the event or
            # is seen here, so none waits for the next one.
            if not inbox and not self._arrived.wait(0.2):
                return []
        group: list[mqtt.MQTTMessage] = []
        with contextlib.suppress(IndexError):
            while len(group) < self.max_group:
                group.append(inbox.popleft())
        return group

    def _write_loop(self) -> None:
        while not self._stop.is_set():
            group = self._take()
            if not group:
                continue
            try:
                self._store(group)
            except Exception:
                # Nothing of the group was acked, so the broker sends it again after the
                # reconnect; the writer itself must live on.
                log.exception("collector writer failed on %d messages; reconnecting", len(group))
                self._client.reconnect()

    def _store(self, group: list[mqtt.MQTTMessage]) -> None:
        parsed = [self._parse(m) for m in group]
        attempt = 0
        while attempt < 5:
            try:
                acks, queued = self._transaction(parsed)
                break
            except _Poison as poison:
                # The whole transaction rolled back. A unique-key clash is most likely another
                # collector storing a resent copy at the same moment: the first retry finds its
                # row and is idempotent. Anything else is set aside as a dead letter, so one
                # message this code cannot take never holds back the punches that came with it.
                p, cause = poison.parsed, poison.cause
                if isinstance(cause, IntegrityError) and attempt == 0:
                    attempt += 1
                    continue
                log.error(
                    "template message set aside topic=%s error=%s",
                    p.msg.topic,
                    type(cause).__name__,
                    exc_info=cause,
                )
                p.template = p.result = None
                p.redact = True
                p.error = f"internal error while storing it ({type(cause).__name__}); set aside"
            except SQLAlchemyError as exc:
                self.counters.db_failures += 1
                log.error("database write failed attempt=%d error=%r", attempt + 1, str(exc)[:300])
                time.sleep(min(0.2 * 2**attempt, 5))
                attempt += 1
        else:
            # Not stored: do not ack. Reconnecting makes the broker send them again; the
            # devices would also re-send on their ack timeout.
            log.error("giving up on %d messages; reconnecting so the broker redelivers", len(group))
            self._client.reconnect()
            return
        self._client.ack_all([p.msg for p in parsed])
        for dev, upto in acks.items():
            self._client.publish(topics.ack(dev), encode(Ack(upto)), qos=1)
        if queued and self.dispatcher is not None:
            self.dispatcher.wake()
        self.counters.messages += len(group)
        self.counters.transactions += 1

    def _transaction(self, parsed: list[_Parsed]) -> tuple[dict[str, int], bool]:
        now = self.utc_now()
        acks: dict[str, int] = {}
        queued = False
        batches = [p.batch for p in parsed if p.batch is not None]
        # Heartbeats update device rows too: locked with the punches' devices, in one order.
        heartbeats = {p.status.device for p in parsed if p.status is not None}
        with self.engine.begin() as conn:
            if batches:
                try:
                    results = store_batches(conn, batches, now, lock_also=heartbeats)
                except UnknownDevice:
                    # Store the known devices' batches one by one and hold back the rest.
                    lock_devices(conn, heartbeats.union(b.device for b in batches))
                    results = {}
                    for b in batches:
                        try:
                            # UnknownDevice is raised before anything is written.
                            results.update(store_batches(conn, [b], now))
                        except UnknownDevice:
                            self._unknown(conn, b, now)
                for dev, r in results.items():
                    self.counters.punches += r.inserted
                    self.counters.duplicates += r.duplicates
                    acks[dev] = r.ack
                    held_back = (
                        (
                            r.conflicts,
                            f"seq reused with another punch id (seqs {r.conflicts[:10]}): "
                            "the terminal's store was reset or cloned; punches held back",
                        ),
                        (
                            r.id_taken,
                            f"punch id already stored under another seq (seqs "
                            f"{r.id_taken[:10]}): punches held back",
                        ),
                    )
                    for seqs, reason in held_back:
                        if seqs:
                            self.counters.dead_letters += 1
                            record_dead_letter(
                                conn,
                                topic=topics.punches(dev),
                                payload=b"",
                                reason=reason,
                                now=now,
                                device_id=dev,
                            )
            elif heartbeats:
                lock_devices(conn, heartbeats)
            for p in parsed:
                if p.status is not None and not record_status(conn, p.status, now):
                    self._note_unknown(p.status.device)
                outcome = self._template_work(conn, p, now)
                # A local, not p.error: a retried transaction must not keep a rolled-back verdict.
                error = p.error
                if outcome is not None:
                    queued |= outcome.queued
                    error = error or outcome.dead_letter
                if error is not None:
                    self.counters.dead_letters += 1
                    log.warning("dead letter topic=%s reason=%r", p.msg.topic, error[:200])
                    record_dead_letter(
                        conn,
                        topic=p.msg.topic,
                        payload=(
                            intake.redacted(bytes(p.msg.payload))
                            if p.redact
                            else bytes(p.msg.payload)
                        ),
                        reason=error,
                        now=now,
                        device_id=p.device,
                    )
        return acks, queued

    def _template_work(self, conn: Connection, p: _Parsed, now: datetime) -> intake.Outcome | None:
        """Store a template report or a command result, inside the group's transaction.

        Raises:
            _Poison: the intake failed on this message for any reason but the database being
                unreachable (which retries the whole group, as for punches).
        """
        try:
            if p.template is not None and self.central_key is not None:
                self.counters.template_messages += 1
                return intake.handle(conn, p.template, self.central_key, now)
            if p.result is not None and p.device is not None:
                self.counters.command_results += 1
                return intake.result(conn, p.device, p.result, now)
        except OperationalError:
            raise
        except Exception as exc:
            raise _Poison(p, exc) from exc
        return None

    def _unknown(self, conn: Connection, batch: PunchBatch, now: datetime) -> None:
        # Not acknowledged to the device: it keeps the punches and sends them again, so once
        # an operator registers it nothing is lost. One dead letter per device and process.
        if batch.device not in self._unknown_lettered:
            self._unknown_lettered.add(batch.device)
            record_dead_letter(
                conn,
                topic=topics.punches(batch.device),
                payload=encode(batch),
                reason=f"unknown device {batch.device!r}: "
                "register it with 'hadir-central device add'",
                now=now,
                device_id=batch.device,
            )
            self.counters.dead_letters += 1
        self._note_unknown(batch.device)

    def _note_unknown(self, dev: str) -> None:
        if dev not in self._unknown_logged:
            self._unknown_logged.add(dev)
            log.warning("message from unregistered device=%s held back", dev)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background and start storing."""
        self._writer.start()
        if self.dispatcher is not None:
            self.dispatcher.start()
        self._client.connect_async(
            self.broker.host, self.broker.port, keepalive=self.broker.keepalive_s
        )
        self._client.loop_start()

    def stop(self) -> None:
        """Store what is queued, then disconnect."""
        deadline = time.monotonic() + 10
        while self._inbox and time.monotonic() < deadline:
            time.sleep(0.02)
        self._stop.set()
        self._writer.join(timeout=10)
        if self.dispatcher is not None:
            self.dispatcher.stop()
        self._client.disconnect()
        self._client.loop_stop()
