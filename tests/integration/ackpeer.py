"""A small acknowledging peer that follows the central's side of the delivery contract.

It stands in for the collector until the collector exists (issue 3 says so): store each batch
by (device, seq) in a real SQLite file, commit, then acknowledge to the broker (paho's manual
ack) and publish the cumulative ``upto`` = the highest contiguous sequence committed.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from wire import Ack, MessageError, decode_punch_batch, encode, topics


class AckPeer:
    def __init__(self, port: int, db: Path, *, ack: bool = True) -> None:
        self.port = port
        self.ack_enabled = ack
        self.db = sqlite3.connect(str(db), check_same_thread=False)
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS punch (device TEXT, seq INTEGER, id TEXT, person TEXT,"
            " at TEXT, clock_synced INTEGER, boot_id TEXT, mono_ns INTEGER,"
            " PRIMARY KEY (device, seq))"
        )
        self.db.commit()
        self.lock = threading.Lock()
        self.received_batches = 0
        self.duplicates = 0
        self.bad = 0
        self.connected = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="ack-peer", clean_session=True, manual_ack=True
        )
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 1)

    def start(self) -> None:
        self.client.connect_async("127.0.0.1", self.port, keepalive=10)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        self.db.close()

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if not reason.is_failure:
            client.subscribe("hadir/v1/dev/+/punches", qos=1)
            self.connected.set()

    def _on_message(self, client: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            device, _ = topics.parse(msg.topic)
            batch = decode_punch_batch(msg.payload, topic_device=device)
        except MessageError:
            with self.lock:
                self.bad += 1
            client.ack(msg.mid, msg.qos)
            return
        with self.lock:
            self.received_batches += 1
            before = self.db.total_changes
            self.db.executemany(
                "INSERT OR IGNORE INTO punch VALUES (?,?,?,?,?,?,?,?)",
                [
                    (
                        device,
                        p.seq,
                        p.id,
                        p.person,
                        p.at.isoformat(),
                        p.clock_synced,
                        p.boot_id,
                        p.mono_ns,
                    )
                    for p in batch.punches
                ],
            )
            self.db.commit()
            self.duplicates += len(batch.punches) - (self.db.total_changes - before)
            upto = self.contiguous(device)
        client.ack(msg.mid, msg.qos)  # only after the commit
        if self.ack_enabled:
            client.publish(topics.ack(device), encode(Ack(upto)), qos=1)

    def contiguous(self, device: str) -> int:
        seqs = [
            r[0]
            for r in self.db.execute("SELECT seq FROM punch WHERE device=? ORDER BY seq", (device,))
        ]
        upto = 0
        for s in seqs:
            if s != upto + 1:
                break
            upto = s
        return upto

    def punches(self, device: str) -> list[tuple[int, str, str]]:
        with self.lock:
            return list(
                self.db.execute(
                    "SELECT seq, id, person FROM punch WHERE device=? ORDER BY seq", (device,)
                )
            )
