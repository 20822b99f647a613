"""Edge daemon benchmark (issue 3): punch commit cost, backlog flush, and the idle daemon.

Run from the repository root with the project's virtualenv active::

    python bench/bench_edge.py              # full run, about 2.5-3 minutes on 2 cores
    python bench/bench_edge.py --quick      # shorter, about 1 minute
    python bench/bench_edge.py --dir /var/lib/hadir   # files on the Pi's data disk

Every file (stores, the bare SQLite file, the peer's database, mosquitto's folder) goes under a
temporary folder in ``--dir`` (default: the current directory), so all the SQLite commits hit
the same disk. Do not point it at a tmpfs: fsync is free there and the numbers mean nothing.

1. **The daemon's own work per punch after the module's search reply**:
   ``PunchLoop._commit(person, slot, score)`` (repeat-window lookup, ``Outbox.append`` with its
   durable commit, ``Feedback.ok()``, the log line, ``Publisher.notify``) on a real Store (WAL,
   ``synchronous=FULL``), a real ``Feedback`` on a gpiozero ``MockFactory``, a real
   ``Publisher`` and the ``SystemClock``, as ``edge.daemon`` wires them; the log goes to a file
   in the daemon's format. (a) broker up, the publisher connected and an acknowledging peer
   (``tests.integration.ackpeer.AckPeer``, in a child process, as a central is on another
   machine) releasing every punch; (b) broker killed, punches buffered. Blocks of (a), (b) and
   a bare ``sqlite3`` single-row INSERT + COMMIT (WAL, ``synchronous=FULL``, same folder)
   alternate. Two pacings: *close* (``--gap-ms``, 2 ms: the previous punch's beep and ack
   round trip overlap the next commit) and *spaced* (``--spaced-gap-ms``, 150 ms, the punch
   loop's poll interval: the least time between two presses in service).
2. **Flush of a 10,000-punch backlog**: an outbox filled while no broker runs, then mosquitto,
   the peer and a ``Publisher``; time until ``outbox.depth() == 0``. Ceiling on the same broker,
   with the same peer subscribed: a bare paho client publishing the same batch payloads (QoS 1,
   same in-flight limit as the Publisher's client), timed to the last PUBACK, and on to the
   peer's acknowledgement of the last seq ("peer-bound": what the peer sustains on its own).
3. **The real daemon, idle**: ``python -m edge run`` in a subprocess, the simulated R307 in this
   process (``instant`` timing), ``poll_interval_s = 0.15``, the defaults of
   ``config.example.toml`` otherwise, mosquitto and the peer; after READY=1 and three punches
   (acknowledged), ``VmRSS`` and ``utime + stime`` from ``/proc`` over an idle interval.

Nothing here asserts on timings.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import logging
import multiprocessing as mp
import os
import platform
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import paho.mqtt
import paho.mqtt.client as mqtt
import sqlalchemy
from gpiozero.pins.mock import MockFactory
from paho.mqtt.enums import CallbackAPIVersion

from edge.clock import SystemClock
from edge.feedback import Feedback
from edge.publisher import MqttSettings, Publisher, _to_wire
from edge.punch import Outcome, PunchLoop
from edge.sensor.sim import SimulatedR307
from edge.store import DEVICE_ID, Store
from wire import PunchBatch, Status, decode_ack, decode_punch_batch, encode, topics

# tests.integration is not installed with the package: it lives at the repository root.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.integration.ackpeer import AckPeer  # noqa: E402
from tests.integration.broker import Broker, mosquitto_binary  # noqa: E402
from tests.integration.edge_daemon import enroll  # noqa: E402

DEVICE = "kupang-bench-01"
PEOPLE = 300  # persons the punches cycle over (each lookup of the repeat window finds a row)
CLK_TCK = os.sysconf("SC_CLK_TCK")
TARGET_COMMIT_RATIO = 10.0
TARGET_FLUSH_SHARE = 0.50
TARGET_RSS_MB = 80.0
TARGET_CPU_PCT = 2.0

# -- small helpers ---------------------------------------------------------------------------


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> float:
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout_s:
            raise RuntimeError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.005)
    return time.monotonic() - start


def proc_cpu_s(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def self_cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def person(n: int) -> str:
    return f"19900101201501{n % PEOPLE:04d}"


def status_for(store: Store, clock: SystemClock) -> Callable[[], Status]:
    """The daemon's heartbeat, minus the sensor's counts."""

    def build() -> Status:
        return Status(
            device=DEVICE,
            online=True,
            sensor="ok",
            outbox_depth=store.outbox.depth(),
            clock_synced=clock.is_synced(),
            at=clock.utc_now(),
            versions={"hadir": "bench"},
        )

    return build


def settings(port: int) -> MqttSettings:
    # reconnect_max_s 1 (the daemon's default is 60) so the alternation in section 1 does not
    # wait for paho's back-off; the attempts while the broker is down are then more frequent.
    return MqttSettings(
        host="127.0.0.1", port=port, tls=False, reconnect_min_s=1.0, reconnect_max_s=1.0
    )


def configure_logging(path: Path) -> None:
    """The daemon's log format and level, into a file instead of journald's pipe."""
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


# -- the acknowledging peer, in its own process ----------------------------------------------


def _peer_main(port: int, db: str, conn: Connection) -> None:
    peer = AckPeer(port, Path(db))
    peer.start()
    conn.send(peer.connected.wait(30))
    conn.recv()
    with peer.lock:
        batches, duplicates = peer.received_batches, peer.duplicates
    peer.stop()
    conn.send((batches, duplicates))


class PeerProcess:
    """``AckPeer`` in a child process: the central's CPU is not on the edge's cores' GIL."""

    def __init__(self, port: int, db: Path) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_peer_main, args=(port, str(db), child), daemon=True)
        self.proc.start()
        if not (self._conn.poll(60) and self._conn.recv()):
            self.proc.kill()
            raise RuntimeError("ack peer did not connect")

    @property
    def pid(self) -> int:
        assert self.proc.pid is not None
        return self.proc.pid

    def stop(self) -> tuple[int, int]:
        self._conn.send("stop")
        result: tuple[int, int] = self._conn.recv() if self._conn.poll(20) else (-1, -1)
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()
        return result


@contextlib.contextmanager
def broker_and_peer(folder: Path, name: str) -> Iterator[tuple[Broker, PeerProcess]]:
    bfolder = folder / f"broker-{name}"
    bfolder.mkdir()
    broker = Broker(bfolder)
    broker.start()
    peer: PeerProcess | None = None
    try:
        peer = PeerProcess(broker.port, folder / f"central-{name}.db")
        yield broker, peer
    finally:
        if peer is not None:
            with contextlib.suppress(Exception):
                peer.stop()
        broker.stop()


# -- section 1: the daemon's work per punch ---------------------------------------------------


class BareCommit:
    """Python's sqlite3, WAL, synchronous=FULL: one punch-shaped row, INSERT + COMMIT."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = FULL")
        self.conn.execute(
            "CREATE TABLE punch (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
            " person_id TEXT NOT NULL, slot INTEGER NOT NULL, score INTEGER NOT NULL,"
            " at_us INTEGER NOT NULL, clock_synced INTEGER NOT NULL, boot_id TEXT NOT NULL,"
            " mono_ns INTEGER NOT NULL, acked_at_us INTEGER)"
        )

    def one(self, n: int) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.execute(
            "INSERT INTO punch (id, person_id, slot, score, at_us, clock_synced, boot_id,"
            " mono_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (str(uuid.uuid4()), person(n), n % PEOPLE, 60, time.time_ns() // 1000, 1, "b", n),
        )
        self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


@dataclass
class Samples:
    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    overlapped: int = 0  # commits started while the previous punch was still unacknowledged
    parts: dict[str, list[float]] = field(default_factory=dict)  # ms per part of _commit


PARTS = ("last_punch_for", "append", "ok")


class PunchRig:
    """PunchLoop, Store, Feedback, Publisher and SystemClock wired as edge.daemon wires them."""

    def __init__(self, folder: Path, port: int) -> None:
        self.clock = SystemClock()
        self.store = Store(folder / "edge.db", utc_now=self.clock.utc_now)
        self.store.meta.set(DEVICE_ID, DEVICE)
        self.pins = MockFactory()
        self.feedback = Feedback(23, 24, 25, 18, pin_factory=self.pins)
        self.publisher = Publisher(
            DEVICE,
            self.store.outbox,
            settings(port),
            status_for(self.store, self.clock),
            # 2 s instead of 10: after a broker restart the publisher may reconnect before the
            # peer has subscribed again, and the bench should not wait 10 s for the resend.
            ack_timeout_s=2.0,
            on_connection=lambda up: self.feedback.set_offline(not up),
        )
        self.last_seq = 0

        def on_punch(punch: Any) -> None:
            self.last_seq = punch.seq
            self.publisher.notify()

        self.loop = PunchLoop(
            None,  # type: ignore[arg-type]  # _commit never touches the sensor
            self.store,
            self.feedback,
            self.clock,
            repeat_window_s=0,  # every call commits; the repeat lookup still runs
            on_punch=on_punch,
        )
        self.n = 0
        # Time the parts of _commit: instance attributes shadow the methods _commit calls.
        self.parts: dict[str, float] = {}
        for obj, name in (
            (self.store.outbox, "last_punch_for"),
            (self.store.outbox, "append"),
            (self.feedback, "ok"),
        ):
            setattr(obj, name, self._timed(getattr(obj, name), name))

    def _timed(self, method: Callable[..., Any], name: str) -> Callable[..., Any]:
        def timed(*a: Any, **k: Any) -> Any:
            t0 = time.perf_counter_ns()
            try:
                return method(*a, **k)
            finally:
                self.parts[name] = (time.perf_counter_ns() - t0) / 1e6

        return timed

    def unacked(self) -> bool:
        return self.publisher._acked < self.last_seq

    def commit(self) -> tuple[float, float]:
        n = self.n
        self.n += 1
        self.parts.clear()
        t0, c0 = time.perf_counter_ns(), time.thread_time_ns()
        outcome = self.loop._commit(person(n), n % PEOPLE, 60 + n % 100)
        c1, t1 = time.thread_time_ns(), time.perf_counter_ns()
        if outcome is not Outcome.PUNCH:
            raise RuntimeError(f"commit gave {outcome}")
        return (t1 - t0) / 1e6, (c1 - c0) / 1e6

    def close(self) -> None:
        self.publisher.stop()
        self.feedback.close()
        self.store.close()
        self.pins.close()


@dataclass
class Series:
    """One pacing: broker up, broker down, bare, alternated block by block."""

    name: str
    gap_ms: float
    block: int
    rounds: int = 0
    up: Samples = field(default_factory=Samples)
    down: Samples = field(default_factory=Samples)
    bare: Samples = field(default_factory=Samples)


@dataclass
class CommitResult:
    series: list[Series]
    restarts: int = 0
    seconds: float = 0.0


class CommitBench:
    """A broker, the peer, the rig and the bare file; the broker killed and restarted at will."""

    def __init__(self, folder: Path) -> None:
        bfolder = folder / "broker"
        bfolder.mkdir()
        self.broker = Broker(bfolder)
        self.broker.start()
        self.peer = PeerProcess(self.broker.port, folder / "central.db")
        self.rig = PunchRig(folder, self.broker.port)
        self.bare = BareCommit(folder / "bare.db")
        self.bare_n = 0
        self.restarts = 0
        self.rig.publisher.start()
        wait_until(lambda: self.rig.publisher.connected, 30, "the publisher to connect")

    def set_broker(self, up: bool) -> None:
        rig = self.rig
        if up and self.broker.proc is None:
            self.broker.start()
            self.restarts += 1
            wait_until(lambda: rig.publisher.connected, 30, "the publisher to reconnect")
            wait_until(lambda: rig.store.outbox.depth() == 0, 60, "the buffered punches acked")
        elif not up and self.broker.proc is not None:
            self.broker.kill()
            wait_until(lambda: not rig.publisher.connected, 30, "the publisher to notice")
        time.sleep(0.3)

    def bare_one(self) -> tuple[float, float]:
        t0, c0 = time.perf_counter_ns(), time.thread_time_ns()
        self.bare.one(self.bare_n)
        c1, t1 = time.thread_time_ns(), time.perf_counter_ns()
        self.bare_n += 1
        return (t1 - t0) / 1e6, (c1 - c0) / 1e6

    def block(self, kind: str, count: int, into: Samples, gap_s: float) -> None:
        for _ in range(count):
            if kind == "bare":
                wall, cpu = self.bare_one()
            else:
                if kind == "up" and self.rig.unacked():
                    into.overlapped += 1
                wall, cpu = self.rig.commit()
                parts = self.rig.parts
                for name in PARTS:
                    into.parts.setdefault(name, []).append(parts[name])
                into.parts.setdefault("rest", []).append(wall - sum(parts.values()))
            into.wall_ms.append(wall)
            into.cpu_ms.append(cpu)
            time.sleep(gap_s)

    def series(self, s: Series, count: int) -> None:
        gap_s = s.gap_ms / 1000
        s.rounds = max(1, count // s.block)
        for r in range(s.rounds):
            # Whichever state the broker is in goes first: one kill or restart per round.
            first_up = self.broker.proc is not None if r == 0 else r % 2 == 0
            for up in (first_up, not first_up):
                self.set_broker(up)
                self.block("up" if up else "down", s.block, s.up if up else s.down, gap_s)
                self.block("bare", s.block // 2, s.bare, gap_s)

    def close(self) -> None:
        self.rig.close()
        self.bare.close()
        self.peer.stop()
        self.broker.stop()


def section_commit(args: argparse.Namespace, folder: Path) -> CommitResult:
    folder = folder / "s1"
    folder.mkdir()
    started = time.monotonic()
    close = Series("close", args.gap_ms, args.block)
    spaced = Series("spaced", args.spaced_gap_ms, args.spaced_block)
    bench = CommitBench(folder)
    try:
        # Warm-up, not counted: every path once (connected, disconnected, bare).
        scratch = Samples()
        bench.block("up", 30, scratch, 0.002)
        bench.block("bare", 30, scratch, 0.002)
        bench.set_broker(False)
        bench.block("down", 30, scratch, 0.002)
        bench.series(close, args.n)
        bench.series(spaced, args.spaced)
    finally:
        bench.close()
    return CommitResult([close, spaced], bench.restarts, time.monotonic() - started)


def commit_table(res: CommitResult, out: list[str]) -> dict[str, float]:
    close, spaced = res.series
    out += [
        "#### 1. The daemon's work per punch after the search reply (`PunchLoop._commit`)",
        "",
        "Two pacings, each alternating blocks of commits with the broker up, blocks with the "
        "broker killed (the order flipping every round, one kill or restart between blocks) and "
        f"half-size blocks of bare commits. **Close**: {close.rounds} rounds of {close.block} + "
        f"{close.block} + 2 x {close.block // 2} calls, {close.gap_ms:g} ms apart: the previous "
        "punch's beep (0.1 s) is still sounding and its ack round trip still running. "
        f"**Spaced**: {spaced.rounds} rounds of {spaced.block} + {spaced.block} + "
        f"2 x {spaced.block // 2} calls, {spaced.gap_ms:g} ms apart (the loop's poll interval, "
        "the least two presses are apart in service). Wall time per call; CPU is the calling "
        f"thread's. {res.restarts} broker restarts; section took {res.seconds:.0f} s.",
        "",
        "| pacing | what | n | p50 ms | p99 ms | mean ms | max ms | CPU p50 ms "
        "| p50 / bare p50 | p99 / bare p99 | started before prev. ack |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ratios: dict[str, float] = {}
    for s in res.series:
        b50, b99 = pct(s.bare.wall_ms, 0.5), pct(s.bare.wall_ms, 0.99)
        rows = [
            ("bare sqlite3 INSERT+COMMIT", s.bare, None),
            ("(a) `_commit`, broker up, peer acking", s.up, "a"),
            ("(b) `_commit`, broker killed, buffering", s.down, "b"),
        ]
        for name, smp, key in rows:
            p50, p99 = pct(smp.wall_ms, 0.5), pct(smp.wall_ms, 0.99)
            if key:
                ratios[f"{s.name} {key} p50"], ratios[f"{s.name} {key} p99"] = p50 / b50, p99 / b99
            out.append(
                f"| {s.name} ({s.gap_ms:g} ms) | {name} | {len(smp.wall_ms)} | {p50:.3f} | "
                f"{p99:.3f} | {statistics.fmean(smp.wall_ms):.3f} | {max(smp.wall_ms):.3f} | "
                f"{pct(smp.cpu_ms, 0.5):.3f} | {p50 / b50:.2f} | {p99 / b99:.2f} | "
                f"{smp.overlapped if key == 'a' else ''} |"
            )
    out += [
        "",
        "Where the time of `_commit` goes (wall ms, p50 / p99 of each part; *rest* is the log "
        "line, `Publisher.notify`, the clock reads and the Python around them):",
        "",
        "| pacing | state | `last_punch_for` (repeat window) | `Outbox.append` | `Feedback.ok` "
        "| rest | bare commit |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in res.series:
        bare = f"{pct(s.bare.wall_ms, 0.5):.3f} / {pct(s.bare.wall_ms, 0.99):.3f}"
        for state, smp in (("(a) up", s.up), ("(b) down", s.down)):
            cells = [
                f"{pct(smp.parts[k], 0.5):.3f} / {pct(smp.parts[k], 0.99):.3f}"
                for k in (*PARTS, "rest")
            ]
            out.append(f"| {s.name} | {state} | {' | '.join(cells)} | {bare} |")
    out.append("")
    return ratios


# -- section 2: backlog flush -----------------------------------------------------------------


@dataclass
class FlushRun:
    batch: int
    window: int
    rep: int
    flush_s: float = 0.0
    connect_s: float = 0.0
    ceiling_s: float = 0.0
    peer_s: float = 0.0  # bare client to the peer's ack of the last seq
    batches_sent: int = 0
    resends: int = 0
    cpu: dict[str, float] = field(default_factory=dict)  # flush: bench, peer, broker CPU s
    ceiling_cpu: dict[str, float] = field(default_factory=dict)


def fill_backlog(path: Path, count: int) -> float:
    clock = SystemClock()
    with Store(path, utc_now=clock.utc_now) as store:
        store.meta.set(DEVICE_ID, DEVICE)
        start = time.perf_counter()
        for n in range(count):
            store.outbox.append(
                person_id=person(n),
                slot=n % PEOPLE,
                score=60 + n % 100,
                at=clock.utc_now(),
                clock_synced=clock.is_synced(),
                boot_id=clock.boot_id(),
                mono_ns=clock.monotonic_ns(),
            )
        return time.perf_counter() - start


def ceiling_payloads(path: Path, batch: int, device: str) -> list[bytes]:
    """The flush's batches, encoded the Publisher's way, for another device id."""
    payloads = []
    with Store(path) as store:
        after = 0
        while chunk := store.outbox.pending(batch, after=after):
            wire = tuple(_to_wire(p) for p in chunk)
            payloads.append(encode(PunchBatch(device, wire)))  # type: ignore[arg-type]
            after = chunk[-1].seq
    return payloads


def cpu_snapshot(peer: PeerProcess, broker: Broker) -> dict[str, float]:
    assert broker.proc is not None
    return {
        "bench": self_cpu_s(),
        "peer": proc_cpu_s(peer.pid),
        "broker": proc_cpu_s(broker.proc.pid),
    }


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: after[k] - before[k] for k in before}


def run_flush(
    template: Path, run: FlushRun, folder: Path, broker: Broker, peer: PeerProcess, count: int
) -> None:
    db = folder / f"flush-{run.batch}-{run.window}-{run.rep}.db"
    shutil.copy(template, db)
    clock = SystemClock()
    connected_at: list[float] = []
    with Store(db, utc_now=clock.utc_now) as store:
        last = int(store.outbox.last_seq())
        if store.outbox.depth() != count:
            raise RuntimeError("the backlog copy is not full")
        pub = Publisher(
            DEVICE,
            store.outbox,
            settings(broker.port),
            status_for(store, clock),
            batch_size=run.batch,
            window=run.window,
            on_connection=lambda up: connected_at.append(time.perf_counter()) if up else None,
        )
        before = cpu_snapshot(peer, broker)
        t0 = time.perf_counter()
        pub.start()
        # Poll the publisher's own acked mark (no DB read competing with it), then confirm.
        wait_until(lambda: pub._acked >= last, 120, "the backlog acknowledged")
        while store.outbox.depth() != 0:
            time.sleep(0.001)
        t1 = time.perf_counter()
        run.cpu = cpu_delta(before, cpu_snapshot(peer, broker))
        run.flush_s = t1 - t0
        run.connect_s = (connected_at[0] - t0) if connected_at else float("nan")
        run.batches_sent, run.resends = pub.batches_sent, pub.resends
        pub.stop()


def run_ceiling(
    payloads: list[bytes], run: FlushRun, broker: Broker, peer: PeerProcess, device: str
) -> None:
    """Bare paho, the same batches: to the last PUBACK, and on to the peer's last ack."""
    connected, acked = threading.Event(), threading.Event()
    last = run_last_seq(payloads)

    def on_message(_c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        if decode_ack(msg.payload).upto >= last:
            acked.set()

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"bench-ceiling-{run.batch}-{run.rep}",
        protocol=mqtt.MQTTv311,
        clean_session=True,
    )
    client.max_inflight_messages_set(run.window * 2)  # what Publisher sets on its client
    client.on_connect = lambda *_: connected.set()
    client.on_message = on_message
    client.connect("127.0.0.1", broker.port, keepalive=30)
    client.loop_start()
    try:
        if not connected.wait(10):
            raise RuntimeError("ceiling client did not connect")
        client.subscribe(topics.ack(device), qos=1)
        time.sleep(0.2)  # SUBACK
        topic = topics.punches(device)
        before = cpu_snapshot(peer, broker)
        t0 = time.perf_counter()
        infos = [client.publish(topic, payload, qos=1) for payload in payloads]
        for info in infos:
            info.wait_for_publish(timeout=120)
        run.ceiling_s = time.perf_counter() - t0
        run.ceiling_cpu = cpu_delta(before, cpu_snapshot(peer, broker))
        if not acked.wait(120):
            raise RuntimeError("the peer never acknowledged the ceiling's last batch")
        run.peer_s = time.perf_counter() - t0
    finally:
        client.disconnect()
        client.loop_stop()


def run_last_seq(payloads: list[bytes]) -> int:
    return int(decode_punch_batch(payloads[-1]).punches[-1].seq)


@dataclass
class FlushResult:
    count: int
    fill_s: float
    runs: list[FlushRun]
    seconds: float = 0.0


def section_flush(args: argparse.Namespace, folder: Path) -> FlushResult:
    folder = folder / "s2"
    folder.mkdir()
    started = time.monotonic()
    template = folder / "backlog.db"
    fill_s = fill_backlog(template, args.backlog)  # no broker runs while it fills
    other = "kupang-bench-02"  # the ceiling's device: its rows are new to the peer too
    variants = [(b, 8) for b in args.batches]
    payloads = {b: ceiling_payloads(template, b, other) for b, _ in variants}
    runs = []
    for rep in range(args.reps):
        for batch, window in variants:
            run = FlushRun(batch, window, rep)
            with broker_and_peer(folder, f"{batch}-{window}-{rep}") as (broker, peer):
                # Alternate which goes first on the fresh broker.
                if rep % 2 == 0:
                    run_flush(template, run, folder, broker, peer, args.backlog)
                    time.sleep(0.5)
                    run_ceiling(payloads[batch], run, broker, peer, other)
                else:
                    run_ceiling(payloads[batch], run, broker, peer, other)
                    time.sleep(0.5)
                    run_flush(template, run, folder, broker, peer, args.backlog)
            runs.append(run)
    return FlushResult(args.backlog, fill_s, runs, time.monotonic() - started)


def flush_table(res: FlushResult, out: list[str]) -> float:
    n = res.count
    out += [
        f"#### 2. Flush of a {n:,}-punch backlog",
        "",
        f"Backlog filled with `Outbox.append` while no broker ran ({n / res.fill_s:,.0f} "
        "appends/s). Each row: a fresh mosquitto and peer; **flush**: a Publisher started on a "
        "copy of the backlog, timed from `start()` (connect included, column *conn*) to "
        "`outbox.depth() == 0`. **Ceiling**, same broker, same peer subscribed: a bare paho "
        "client publishing the same batches (QoS 1, the Publisher's in-flight limit), timed to "
        "the last PUBACK; **peer-bound**: the same client timed on to the peer's ack of the "
        "last seq (how fast this peer stores and acks when the edge costs nothing). CPU: "
        "seconds used during the flush / the ceiling by this process (Publisher and its paho "
        f"thread), the peer process and mosquitto. Section took {res.seconds:.0f} s.",
        "",
        "| batch | window | rep | flush s | conn s | flush punches/s | ceiling punches/s "
        "| flush / ceiling | peer-bound punches/s | flush / peer-bound | resends "
        "| CPU s edge / peer / broker: flush | ceiling |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    share: dict[int, list[float]] = {}
    for r in res.runs:
        f_rate, c_rate, p_rate = n / r.flush_s, n / r.ceiling_s, n / r.peer_s
        share.setdefault(r.batch, []).append(f_rate / c_rate)
        fc, cc = r.cpu, r.ceiling_cpu
        out.append(
            f"| {r.batch} | {r.window} | {r.rep} | {r.flush_s:.3f} | {r.connect_s:.3f} | "
            f"{f_rate:,.0f} | {c_rate:,.0f} | {f_rate / c_rate:.1%} | {p_rate:,.0f} | "
            f"{f_rate / p_rate:.0%} | {r.resends} | "
            f"{fc['bench']:.2f} / {fc['peer']:.2f} / {fc['broker']:.2f} | "
            f"{cc['bench']:.2f} / {cc['peer']:.2f} / {cc['broker']:.2f} |"
        )
    out.append("")
    default = share.get(100) or next(iter(share.values()))
    return min(default)


# -- section 3: the daemon, idle --------------------------------------------------------------

CONFIG = """
[device]
id = "{device}"
state_dir = "{state}"

[sensor]
port = "{port}"
timeout_s = 2.0
poll_interval_s = 0.15
health_probe_s = 60.0

[punch]
repeat_window_s = 60.0

[feedback]
pin_factory = "mock"

[mqtt]
host = "127.0.0.1"
port = {broker_port}
tls = false
keepalive_s = 30
batch_size = 100
ack_timeout_s = 10.0
reconnect_min_s = 1.0
reconnect_max_s = 60.0
heartbeat_s = 30.0

[store]
retention_days = 90

[log]
level = "INFO"
"""


@dataclass
class IdleResult:
    idle_s: float
    ready_s: float
    rss_kb: list[int]
    hwm_kb: int
    threads: int
    daemon_cpu_s: float
    bench_cpu_s: float
    commands: int


def wait_for_line(logfile: Path, pattern: str, count: int, timeout_s: float) -> None:
    rx = re.compile(pattern)
    wait_until(
        lambda: sum(1 for line in logfile.read_text().splitlines() if rx.search(line)) >= count,
        timeout_s,
        f"{count} x {pattern!r} in the daemon's log",
    )


def sample_idle(pid: int, sim: SimulatedR307, idle_s: float, ready_s: float) -> IdleResult:
    rss = [proc_status_kb(pid, "VmRSS")]
    cpu0, bench0, cmd0 = proc_cpu_s(pid), self_cpu_s(), sim.commands_seen
    start = time.monotonic()
    while time.monotonic() - start < idle_s:
        time.sleep(0.5)
        rss.append(proc_status_kb(pid, "VmRSS"))
    elapsed = time.monotonic() - start
    return IdleResult(
        idle_s=elapsed,
        ready_s=ready_s,
        rss_kb=rss,
        hwm_kb=proc_status_kb(pid, "VmHWM"),
        threads=proc_status_kb(pid, "Threads"),
        daemon_cpu_s=proc_cpu_s(pid) - cpu0,
        bench_cpu_s=self_cpu_s() - bench0,
        commands=sim.commands_seen - cmd0,
    )


def section_idle(args: argparse.Namespace, folder: Path) -> IdleResult:
    folder = folder / "s3"
    folder.mkdir()
    people = [person(n) for n in range(3)]
    with (
        broker_and_peer(folder, "daemon") as (broker, _peer),
        SimulatedR307("r307", "instant", seed=3) as sim,
    ):
        state = folder / "state"
        state.mkdir()
        enroll(sim, state / "edge.db", people)
        config = folder / "edge.toml"
        config.write_text(
            CONFIG.format(device=DEVICE, state=state, port=sim.port, broker_port=broker.port)
        )
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(folder / "notify.sock"))
        sock.settimeout(30)
        # WatchdogSec=30 in systemd/hadir-edge.service: systemd passes WATCHDOG_USEC=30000000.
        env = {**os.environ, "NOTIFY_SOCKET": str(folder / "notify.sock")}
        env["WATCHDOG_USEC"] = "30000000"
        logfile = folder / "daemon.log"
        with logfile.open("wb") as logf:
            t0 = time.monotonic()
            proc = subprocess.Popen(
                [sys.executable, "-m", "edge", "run", "--config", str(config)],
                stdout=logf,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=ROOT,
            )
        try:
            while "READY=1" not in sock.recv(4096).decode():
                pass
            ready_s = time.monotonic() - t0
            # The socket stays open: the daemon's watchdog pings (one per 15 s) queue in it.
            # A few punches first, so the daemon has run every path it runs in service.
            for i, who in enumerate(people):
                sim.place(who)
                wait_for_line(logfile, r"punch committed", i + 1, 20)
                sim.lift()
                time.sleep(0.5)
            wait_for_line(logfile, r"outbox released upto=3", 1, 30)
            time.sleep(2.0)
            return sample_idle(proc.pid, sim, args.idle, ready_s)
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            sock.close()


def idle_table(res: IdleResult, out: list[str]) -> tuple[float, float]:
    rss_mb = max(res.rss_kb) / 1024
    cpu_pct = 100 * res.daemon_cpu_s / res.idle_s
    out += [
        "#### 3. The daemon (`python -m edge run`), idle",
        "",
        f"Simulated R307 (`instant`) in the bench process, `poll_interval_s = 0.15`, otherwise "
        f"`config.example.toml`'s defaults (heartbeat 30 s, health probe 60 s, watchdog ping "
        f"every 15 s), mock GPIO, mosquitto and the peer. READY=1 after {res.ready_s:.2f} s; "
        f"three punches, acknowledged; then {res.idle_s:.1f} s idle, sampled from `/proc`.",
        "",
        "| VmRSS MiB (start / end / max) | VmHWM MiB | threads | daemon CPU s "
        "| daemon CPU % of one core | sensor commands/s | bench process CPU % (simulator) |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| {res.rss_kb[0] / 1024:.1f} / {res.rss_kb[-1] / 1024:.1f} / {rss_mb:.1f} | "
        f"{res.hwm_kb / 1024:.1f} | {res.threads} | {res.daemon_cpu_s:.2f} | {cpu_pct:.2f} | "
        f"{res.commands / res.idle_s:.1f} | {100 * res.bench_cpu_s / res.idle_s:.2f} |",
        "",
        f"CPU is sampled in clock ticks (1/{CLK_TCK} s): the resolution over this interval is "
        f"{100 / CLK_TCK / res.idle_s:.2f} % of a core.",
        "",
    ]
    return rss_mb, cpu_pct


# -- main -------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (about 1 minute)")
    parser.add_argument("--dir", type=Path, default=Path(), help="where the files go")
    parser.add_argument("--n", type=int, help="section 1, close: commits per state (2000)")
    parser.add_argument("--block", type=int, help="section 1, close: commits per block (250)")
    parser.add_argument("--gap-ms", type=float, default=2.0, help="section 1, close: pause")
    parser.add_argument("--spaced", type=int, help="section 1, spaced: commits per state (150)")
    parser.add_argument("--spaced-block", type=int, help="section 1, spaced: per block (50)")
    parser.add_argument("--spaced-gap-ms", type=float, default=150.0, help="section 1: pause")
    parser.add_argument("--backlog", type=int, default=10_000, help="section 2: punches")
    parser.add_argument("--batches", type=int, nargs="+", help="section 2: batch sizes")
    parser.add_argument("--reps", type=int, help="section 2: repetitions (2)")
    parser.add_argument("--idle", type=float, help="section 3: idle seconds (20)")
    parser.add_argument("--only", choices=("1", "2", "3"), help="run one section (debugging)")
    args = parser.parse_args(argv)
    quick = args.quick
    args.n = args.n or (400 if quick else 2000)
    args.block = args.block or (100 if quick else 250)
    args.spaced = args.spaced or (40 if quick else 150)
    args.spaced_block = args.spaced_block or (20 if quick else 50)
    args.batches = args.batches or ([100] if quick else [100, 500])
    args.reps = args.reps or (1 if quick else 2)
    args.idle = args.idle or (10.0 if quick else 20.0)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix=".bench-edge-", dir=args.dir.resolve()))
    configure_logging(workdir / "bench.log")
    flags = " ".join(sys.argv[1:] if argv is None else argv)
    out = [
        "### Edge daemon benchmark results",
        "",
        f"- date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {os.cpu_count()} cores, {platform.machine()}, "
        f"{platform.python_implementation()} {platform.python_version()}, SQLite "
        f"{sqlite3.sqlite_version}, SQLAlchemy {sqlalchemy.__version__}, paho-mqtt "
        f"{paho.mqtt.__version__}, {mosquitto_version()}",
        f"- files under: {args.dir.resolve()} ({filesystem(args.dir)})",
        "- load average (1, 5, 15 min) at the start: "
        + ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        f"- command: `python bench/bench_edge.py{' ' + flags if flags else ''}`",
        "",
    ]
    want = {args.only} if args.only else {"1", "2", "3"}
    targets: list[str] = []
    try:
        if "1" in want:
            r = commit_table(section_commit(args, workdir), out)
            for name in ("close", "spaced"):
                worst = max(r[f"{name} a p99"], r[f"{name} b p99"])
                targets.append(
                    f"- commit p99 <= {TARGET_COMMIT_RATIO:g}x bare p99 ({name}), broker up / "
                    f"down: {r[f'{name} a p99']:.2f}x / {r[f'{name} b p99']:.2f}x, "
                    f"{verdict(worst <= TARGET_COMMIT_RATIO)} (p50 {r[f'{name} a p50']:.2f}x / "
                    f"{r[f'{name} b p50']:.2f}x)."
                )
        if "2" in want:
            share = flush_table(section_flush(args, workdir), out)
            targets.append(
                f"- flush >= {TARGET_FLUSH_SHARE:.0%} of the ceiling (batch 100, worst rep): "
                f"{share:.0%}, {verdict(share >= TARGET_FLUSH_SHARE)}."
            )
        if "3" in want:
            rss_mb, cpu_pct = idle_table(section_idle(args, workdir), out)
            targets += [
                f"- RSS <= {TARGET_RSS_MB:g} MB: {rss_mb:.1f} MiB, "
                f"{verdict(rss_mb <= TARGET_RSS_MB)}.",
                f"- idle CPU <= {TARGET_CPU_PCT:g} % of one core: {cpu_pct:.2f} %, "
                f"{verdict(cpu_pct <= TARGET_CPU_PCT)}.",
            ]
    except BaseException:
        print("\n".join(out), file=sys.stderr)
        print(f"failed; files kept in {workdir}", file=sys.stderr)
        raise
    finally:
        logging.getLogger().handlers.clear()
    shutil.rmtree(workdir, ignore_errors=True)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    out += ["**Targets:**", "", *targets, ""]
    out.append(f"Run took {time.monotonic() - started:.0f} s; load average at the end: {load}.")
    print("\n".join(out))
    return 0


def mosquitto_version() -> str:
    try:
        first = subprocess.run(
            [mosquitto_binary(), "-h"], capture_output=True, text=True, timeout=5, check=False
        ).stdout.splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError, RuntimeError):
        return "mosquitto ?"
    return first.strip()


def filesystem(path: Path) -> str:
    try:
        found = subprocess.run(
            ["df", "--output=source,fstype", str(path)],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.splitlines()[1]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "file system unknown"
    return " ".join(found.split())


if __name__ == "__main__":
    sys.exit(main())
