"""Publisher: the outbox to the central over MQTT, releasing punches only on the central's ack.

A broker PUBACK means the broker has the message, not that the central stored it: a broker
restarted without persistence, or one that dropped queued messages, would lose it. So punches are
published in batches (QoS 1) and stay in the outbox until the *central* acknowledges, on
``hadir/v1/dev/{device}/ack``, the highest sequence it has committed (architecture.md,
"Delivery"). Unacknowledged punches are sent again after ``ack_timeout_s`` and after every
reconnect; the central stores by ``(device, seq)``, so repeats are harmless.

Several batches may be in flight at once (a window), so a backlog of thousands flushes at close
to the broker's speed instead of one round trip per batch.

Template sync rides on the same connection (docs/template-sync.md): commands from the central
on ``.../cmd`` go to a callback (the daemon runs them on the sensor thread and hands the result
back to :meth:`Publisher.publish_result`); the store's queued ``enrolled``/``deleted`` reports
go out on ``.../templates`` (QoS 1) when queued and again after every connect, until the central
confirms them (``template_received``, which drops them from the store); inventories go out as
they are made. Punch delivery does not depend on any of it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.store import Outbox, PendingReport, Seq, StoredPunch, StoreError, UnknownSeq
from wire import (
    Ack,
    Command,
    CommandResult,
    MessageError,
    Punch,
    PunchBatch,
    Status,
    decode_ack,
    decode_command,
    encode,
    topics,
)
from wire.sync import Inventory

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """Where and how to reach the broker (filled from the daemon's config)."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    keepalive_s: int = 30
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 60.0


def no_delay(client: mqtt.Client) -> None:
    """Turn Nagle off: a small batch or ack must not wait 40 ms for company (bench/README.md)."""
    sock = client.socket()
    if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


_MAX_DETAIL = 1000  # CommandResult.detail's limit


class ReportQueue(Protocol):
    """The store's template reports waiting for the central (edge.store.Templates)."""

    def pending_reports(self) -> Sequence[PendingReport]:
        """Every report not yet confirmed, oldest first."""


def _command_id(payload: bytes | bytearray) -> str | None:
    """The id of a command that did not decode, when it has a usable one (to answer it)."""
    try:
        obj = json.loads(payload)
        candidate = obj.get("id") if isinstance(obj, dict) else None
        return CommandResult(candidate, False).id if isinstance(candidate, str) else None
    except (ValueError, MessageError):
        return None


def _to_wire(p: StoredPunch) -> Punch:
    return Punch(
        seq=p.seq,
        id=p.id,
        person=p.person_id,
        slot=p.slot,
        score=p.score,
        at=p.at,
        clock_synced=p.clock_synced,
        boot_id=p.boot_id,
        mono_ns=p.mono_ns,
    )


class Publisher:
    """Moves committed punches from the outbox to the central, exactly once in effect.

    Args:
        device: this terminal's device id (its MQTT topics and client id).
        outbox: the durable outbox; only this class releases from it.
        settings: broker connection settings.
        status: builds the current heartbeat (sensor health, outbox depth, clock...).
        batch_size: punches per message.
        window: batches in flight before waiting for an acknowledgement.
        ack_timeout_s: how long to wait for the central before sending again.
        on_connection: called with True/False when the broker link comes and goes.
        on_command: called on paho's thread with each command from the central; None: no
            subscription to ``.../cmd`` (template sync off). It must return at once.
        reports: the store's template report queue; None: no reports to send.
    """

    def __init__(
        self,
        device: str,
        outbox: Outbox,
        settings: MqttSettings,
        status: Callable[[], Status],
        *,
        batch_size: int = 100,
        window: int = 8,
        ack_timeout_s: float = 10.0,
        on_connection: Callable[[bool], None] = lambda _: None,
        on_command: Callable[[Command], None] | None = None,
        reports: ReportQueue | None = None,
    ) -> None:
        self.device = device
        self.outbox = outbox
        self.settings = settings
        self._status = status
        self.batch_size = batch_size
        self.window = window
        self.ack_timeout_s = ack_timeout_s
        self._on_connection = on_connection
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._lock = threading.Lock()
        self._sent_upto = 0  # highest seq published on the current connection
        self._acked = int(outbox.acked_upto())
        self._ack_seen = self._released = self._acked
        self._last_progress = time.monotonic()
        self.batches_sent = 0
        self.resends = 0
        self._on_command = on_command
        self._reports = reports
        self._reports_due = threading.Event()
        self._reports_fresh = threading.Event()  # a new connection: every report goes again
        self._reports_sent: set[tuple[str, str, bytes]] = set()  # on this connection
        self.reports_sent = 0
        self._client = self._make_client()
        self._thread = threading.Thread(target=self._run, name="publisher", daemon=True)

    # -- MQTT --------------------------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        s = self.settings
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"hadir-edge-{self.device}",
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        client.enable_logger(logging.getLogger("edge.mqtt"))
        if s.username is not None:
            client.username_pw_set(s.username, s.password)
        if s.tls:
            client.tls_set(ca_certs=s.ca_file, certfile=s.cert_file, keyfile=s.key_file)
        client.will_set(
            topics.status(self.device), encode(Status.offline(self.device)), qos=1, retain=True
        )
        client.reconnect_delay_set(
            min_delay=max(1, int(s.reconnect_min_s)), max_delay=max(1, int(s.reconnect_max_s))
        )
        client.max_inflight_messages_set(self.window * 2)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _on_connect(
        self,
        client: mqtt.Client,
        _u: Any,
        _f: Any,
        reason: Any,
        _p: Any,
    ) -> None:
        if reason.is_failure:
            log.warning("mqtt connect refused reason=%s", reason)
            return
        no_delay(client)
        client.subscribe(topics.ack(self.device), qos=1)
        if self._on_command is not None:
            client.subscribe(topics.cmd(self.device), qos=1)
        with self._lock:
            # Whatever was in flight on the old connection may be lost: send it all again.
            self._acked = int(self.outbox.acked_upto())
            self._sent_upto = self._acked
            self._last_progress = time.monotonic()
        self._reports_fresh.set()
        self._reports_due.set()
        self._connected.set()
        log.info("mqtt connected host=%s port=%d", self.settings.host, self.settings.port)
        self.publish_status()
        self._on_connection(True)
        self._wake.set()

    def _on_disconnect(
        self,
        _c: mqtt.Client,
        _u: Any,
        _f: Any,
        reason: Any,
        _p: Any,
    ) -> None:
        was = self._connected.is_set()
        self._connected.clear()
        if was:
            log.warning("mqtt disconnected reason=%s", reason)
            self._on_connection(False)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.topic == topics.cmd(self.device):
            self._command(msg.payload)
            return
        try:
            ack = decode_ack(msg.payload)
        except MessageError as exc:
            log.error("bad ack ignored topic=%s error=%r", msg.topic, str(exc))
            return
        self.on_ack(ack)

    def _command(self, payload: bytes | bytearray) -> None:
        """Hand a command to the callback; answer one that does not decode, when possible."""
        if self._on_command is None:
            return
        try:
            command = decode_command(payload)
        except MessageError as exc:
            command_id = _command_id(payload)
            log.error("bad command id=%s error=%r", command_id, str(exc)[:200])
            if command_id is not None:
                detail = f"bad command: {exc}"[:_MAX_DETAIL]
                self.publish_result(CommandResult(command_id, False, detail))
            return
        log.info("command received id=%s action=%s", command.id, command.action.value)
        try:
            self._on_command(command)
        except Exception:
            # paho's network thread must survive a failing callback (acks ride on it).
            log.exception("command not handed over id=%s", command.id)
            self.publish_result(CommandResult(command.id, False, "terminal could not queue it"))

    # -- template sync -----------------------------------------------------------------------

    def reports_queued(self) -> None:
        """New template reports wait in the store: send them soon (any thread)."""
        self._reports_due.set()
        self._wake.set()

    def publish_result(self, result: CommandResult) -> None:
        """Answer a command on ``.../cmd/result`` (QoS 1; lost while disconnected)."""
        info = self._client.publish(topics.cmd_result(self.device), encode(result), qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            log.warning("command result not sent id=%s ok=%s rc=%s", result.id, result.ok, info.rc)

    def publish_inventory(self, inventory: Inventory) -> None:
        """Publish an inventory on ``.../templates``; dropped while disconnected.

        Nothing is lost by dropping it: every connect makes and sends a fresh one.
        """
        if not self._connected.is_set():
            return
        self._client.publish(topics.templates(self.device), encode(inventory), qos=1)

    def _send_reports(self) -> None:
        if self._reports is None or not self._reports_due.is_set():
            return
        self._reports_due.clear()
        if self._reports_fresh.is_set():
            self._reports_fresh.clear()
            self._reports_sent.clear()
        for report in self._reports.pending_reports():
            # The digest tells a report re-queued with a new payload (an upload) from one
            # already sent on this connection.
            key = (report.template_id, report.kind, hashlib.sha256(report.payload).digest())
            if key in self._reports_sent:
                continue
            info = self._client.publish(topics.templates(self.device), report.payload, qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                return  # not connected after all; the next connect sends them all
            self._reports_sent.add(key)
            self.reports_sent += 1
            log.info("template report sent template=%s kind=%s", report.template_id, report.kind)

    # -- the protocol ------------------------------------------------------------------------

    def on_ack(self, ack: Ack) -> None:
        """The central committed everything up to ``ack.upto``: release it (on our thread).

        Called on paho's network thread, which must not wait on an fsync: the release itself
        happens in :meth:`_run`, once for all the acks that arrived meanwhile.
        """
        if ack.upto > self._ack_seen and ack.upto > self.outbox.last_seq():
            # An ack for punches this device never made: a confused or forged central.
            log.error("ack beyond our last punch ignored upto=%d", ack.upto)
            return
        with self._lock:
            self._ack_seen = max(self._ack_seen, ack.upto)
        self._wake.set()

    def _release_acked(self) -> None:
        with self._lock:
            upto = self._ack_seen
        if upto <= self._released:
            return
        ack = Ack(upto)
        try:
            released = self.outbox.release(Seq(ack.upto))
        except UnknownSeq as exc:
            # Checked in on_ack already; only a store replaced under us gets here.
            log.error("ack beyond our last punch ignored upto=%d error=%r", ack.upto, str(exc))
            with self._lock:
                self._ack_seen = self._released
            return
        except StoreError as exc:
            log.error("cannot record ack upto=%d error=%r", ack.upto, str(exc))
            return
        self._released = ack.upto
        with self._lock:
            if ack.upto > self._acked:
                self._acked = ack.upto
                self._last_progress = time.monotonic()
                self._sent_upto = max(self._sent_upto, ack.upto)
        if released:
            log.debug("released upto=%d count=%d", ack.upto, released)

    def notify(self) -> None:
        """A punch was committed: send it soon."""
        self._wake.set()

    @property
    def connected(self) -> bool:
        """Whether the broker link is up now."""
        return self._connected.is_set()

    def publish_status(self) -> None:
        """Publish the retained heartbeat now (no-op while disconnected)."""
        if not self._connected.is_set():
            return
        try:
            payload = encode(self._status())
        except (MessageError, StoreError) as exc:
            log.error("heartbeat not built error=%r", str(exc))
            return
        self._client.publish(topics.status(self.device), payload, qos=1, retain=True)

    def _send_some(self) -> None:
        with self._lock:
            now = time.monotonic()
            if self._sent_upto > self._acked and now - self._last_progress > self.ack_timeout_s:
                log.warning(
                    "no ack from central; sending again from seq=%d timeout_s=%.1f",
                    self._acked + 1,
                    self.ack_timeout_s,
                )
                self.resends += 1
                self._sent_upto = self._acked
                self._last_progress = now
            after, limit = self._sent_upto, self._acked + self.window * self.batch_size
        while after < limit and self._connected.is_set():
            batch = self.outbox.pending(min(self.batch_size, limit - after), after=after)
            if not batch:
                return
            message = PunchBatch(self.device, tuple(_to_wire(p) for p in batch))  # type: ignore[arg-type]
            info = self._client.publish(topics.punches(self.device), encode(message), qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                return  # not connected after all; the reconnect sends everything again
            after = batch[-1].seq
            self.batches_sent += 1
            with self._lock:
                if after > self._sent_upto:
                    self._sent_upto = after
                    self._last_progress = time.monotonic()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=min(1.0, self.ack_timeout_s))
            self._wake.clear()
            try:
                self._release_acked()
                if not self._connected.is_set():
                    continue
                self._send_some()
                self._send_reports()
            except StoreError as exc:
                log.error("outbox unreadable error=%r", str(exc))
            except Exception:
                # The loop must outlive any single failure; the next wake-up tries again.
                log.exception("publisher loop error")

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background and start sending; never blocks on the broker."""
        s = self.settings
        self._client.connect_async(s.host, s.port, keepalive=s.keepalive_s)
        self._client.loop_start()
        self._thread.start()

    def stop(self) -> None:
        """Say goodbye (offline status) and disconnect."""
        self._stop.set()
        self._wake.set()
        if self._connected.is_set():
            info = self._client.publish(
                topics.status(self.device), encode(Status.offline(self.device)), qos=1, retain=True
            )
            try:
                info.wait_for_publish(timeout=2)
            except (RuntimeError, ValueError):
                log.debug("offline status not confirmed before stop")
        self._client.disconnect()
        self._client.loop_stop()
        self._thread.join(timeout=5)
