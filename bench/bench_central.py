"""Central benchmark (issue 4): collector ingest, two collectors on one shared subscription, API.

Run from the repository root with the project's virtualenv active::

    python bench/bench_central.py            # full run, about 3 minutes on 2 cores
    python bench/bench_central.py --quick    # shorter, about 1.5 minutes
    python bench/bench_central.py --skip-api # sections 1 and 2 only

SQLite files and mosquitto's folder go under a temporary folder in ``--dir`` (default: the
current directory); do not point it at a tmpfs (fsync is free there). PostgreSQL is the server
at ``--pg`` (default ``HADIR_TEST_POSTGRES_URL`` or ``postgresql+psycopg://postgres@127.0.0.1:
5432/test``); every run creates its own database there and drops it afterwards. Without a
reachable server the PostgreSQL rows are left out.

1. **Sustained ingest, one collector.** A fresh, migrated database with ``DEVICES`` devices
   registered (``add_device``); a fresh mosquitto (``max_inflight_messages 1000``, as the
   collector's own client sets, ``max_queued_messages`` 1,000,000). The collector's persistent
   session is created first (a paho client with its client id subscribes to the shared punch and
   status topics and leaves), then ``PUBLISHERS`` publisher processes (raw paho, QoS 1, one
   client each, interleaving their devices, contiguous seqs per device) publish the whole
   workload into the broker, which queues it for the offline session. Publish rate = messages /
   (first publish to last PUBACK). Then the real :class:`central.collector.Collector` (default
   ``max_group``) starts in a child process, and the time from ``start()`` to the moment its
   ``counters.messages`` (counted after each commit and broker ack) reaches the workload is the
   ingest time. The publishers are therefore not running while the collector is timed: on a real
   deployment they are terminals on other machines. Afterwards the rows are counted and every
   device's ``acked_upto`` checked against its last seq. (a) single-punch messages (each MQTT
   message a ``PunchBatch`` of 1 punch), (b) batches of ``BATCH`` punches.
   **Baseline**: in the same database (other device ids), a naive one-row-per-message ingest:
   ``decode_punch_batch`` on each single-punch payload, an ORM object of a class mapped on the
   ``punch`` table, ``session.add(obj); session.commit()``. No MQTT on that side, which only
   flatters the baseline.
2. **Two collectors, one shared subscription**: as 1, with two collector processes (client ids
   ``...-c1``/``-c2``, one share group) on the same broker and the same database.
3. **Check-in API**: ``uvicorn`` (httptools and uvloop when installed, as ``uvicorn[standard]``
   in ``pyproject.toml`` brings; ``--http h11 --loop asyncio`` for plain uvicorn) serving
   :func:`central.api.create_app` in a separate process with 1 and then 2 workers
   (``--api-workers``), logging at INFO to a file like ``hadir-central run`` (one line per
   check-in); ``PERSONS`` people of one unit, its one site a 100 m geofence, each bound
   through ``POST /v1/devices/bind``. A load generator in another process (asyncio, raw HTTP/1.1
   keep-alive, ``--conns`` connections, closed loop) posts valid check-ins (20 m from the
   site's centre, accuracy 12 m, client time = now) round-robin over the people, only to
   127.0.0.1. A warm-up (``WARMUP_S``) is not counted; then at most 15,000 requests or 12 s
   (``--quick``: 3,000 or 4 s). Latency is per request, write to the end of the body. CPU
   columns are utime+stime from ``/proc`` over the measured window: the server's process tree,
   the PostgreSQL backends of the benchmark's database, the load generator, and the whole
   machine (``/proc/stat``; 100 % = both cores busy). "PG sessions opened" is the growth of
   ``pg_stat_database.sessions``: connections the server's pool opened during the load.

The VM may be shared: the header gives how busy it was just before the run, and each table how
busy it was during each measurement.

Nothing here asserts on timings.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import logging
import multiprocessing as mp
import os
import pickle
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt
import paho.mqtt.client as mqtt
import sqlalchemy
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url

from wire import Kind, Punch, PunchBatch, encode, topics

# tests.integration is not installed with the package: it lives at the repository root.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.freshdb import fresh_db  # noqa: E402
from tests.integration.broker import free_port, mosquitto_binary  # noqa: E402

DEVICES = 20
PUBLISHERS = 4
BATCH = 100
BASELINE_DEVICES = 4
PERSONS = 500
ADMIN = "bench-admin-token"
LAT, LON = -10.1633, 123.6075
M_PER_DEG = 6_371_008.8 * 3.141592653589793 / 180
WARMUP_S = 2.0
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BROKER_CONF = """listener {port} 127.0.0.1
allow_anonymous true
{user}
persistence false
max_inflight_messages 1000
max_queued_messages 1000000
log_type error
log_type warning
"""

SPAWN = mp.get_context("spawn")


@dataclass(frozen=True)
class Sizes:
    single_msgs: int
    batch_msgs: int
    baseline_n: int
    baseline_s: float
    api_n: int
    api_s: float


FULL = Sizes(20_000, 2_000, 2_000, 8.0, 15_000, 12.0)
QUICK = Sizes(4_000, 400, 400, 3.0, 3_000, 4.0)


# --- databases ---------------------------------------------------------------------------------


def pg_admin_url(url: str) -> str | None:
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        print(f"<!-- PostgreSQL not reachable at {url}: {exc!s:.200} -->", file=sys.stderr)
        return None
    return url


def register_devices(engine: Engine, devices: list[str]) -> None:
    from central.devices import add_device

    now = datetime.now(UTC)
    with engine.begin() as conn:
        for dev in devices:
            add_device(conn, dev, now)


# --- broker ------------------------------------------------------------------------------------


class Broker:
    """A mosquitto of our own, with large in-flight and queue limits."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        folder.mkdir(parents=True, exist_ok=True)
        conf = folder / "mosquitto.conf"
        user = "user root" if os.getuid() == 0 else ""
        conf.write_text(BROKER_CONF.format(port=self.port, user=user))
        self.log = (folder / "mosquitto.log").open("ab")
        self.proc = subprocess.Popen(
            [mosquitto_binary(), "-c", str(conf)], stdout=self.log, stderr=self.log
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("mosquitto did not start listening")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def make_session(port: int, client_id: str, group: str) -> None:
    """Create the collector's persistent session (its subscriptions) and leave."""
    subscribed = threading.Event()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv311,
        clean_session=False,
    )
    client.on_subscribe = lambda *_a: subscribed.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.subscribe(
        [(topics.shared_punches(group), 1), (f"$share/{group}/{topics.wildcard(Kind.STATUS)}", 1)]
    )
    if not subscribed.wait(10):
        raise RuntimeError("no SUBACK for the collector session")
    client.disconnect()
    client.loop_stop()


# --- workloads ---------------------------------------------------------------------------------


def device_ids(prefix: str, n: int) -> list[str]:
    return [f"{prefix}-{i:02d}" for i in range(1, n + 1)]


def make_payloads(
    devices: list[str], per_device: int, size: int, seed: int
) -> dict[str, list[bytes]]:
    """Per device, ``per_device`` encoded PunchBatches of ``size`` punches, contiguous seqs."""
    rnd = random.Random(seed)
    at = datetime(2026, 11, 30, 0, 30, tzinfo=UTC)
    out: dict[str, list[bytes]] = {}
    for dev in devices:
        boot = str(uuid.UUID(int=rnd.getrandbits(128)))
        msgs = []
        seq = 0
        for _ in range(per_device):
            punches = []
            for _ in range(size):
                seq += 1
                punches.append(
                    Punch(
                        seq=seq,
                        id=str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
                        person=f"19850101201001{1000 + rnd.randrange(9000)}",
                        slot=rnd.randrange(1000),
                        score=50 + rnd.randrange(200),
                        at=at,
                        clock_synced=True,
                        boot_id=boot,
                        mono_ns=seq * 1_000_000_000,
                    )
                )
            msgs.append(encode(PunchBatch(dev, tuple(punches))))  # type: ignore[arg-type]
        out[dev] = msgs
    return out


@dataclass(frozen=True)
class Workload:
    name: str
    size: int  # punches per message
    messages: int
    files: list[Path]  # one pickle of [(topic, payload)] per publisher
    last_seq: int

    @property
    def punches(self) -> int:
        return self.messages * self.size


def build_workload(name: str, size: int, messages: int, folder: Path) -> Workload:
    devices = device_ids("bench", DEVICES)
    per_device = messages // DEVICES
    payloads = make_payloads(devices, per_device, size, seed=size)
    files = []
    for k in range(PUBLISHERS):
        mine = devices[k::PUBLISHERS]
        items = [(topics.punches(dev), payloads[dev][i]) for i in range(per_device) for dev in mine]
        path = folder / f"{name}-pub{k}.pkl"
        path.write_bytes(pickle.dumps(items))
        files.append(path)
    return Workload(name, size, per_device * DEVICES, files, per_device * size)


def _publisher(port: int, path: str, k: int, ready: Any, go: Any, out: Any) -> None:
    items: list[tuple[str, bytes]] = pickle.loads(Path(path).read_bytes())  # noqa: S301 - ours
    connected = threading.Event()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{k}-{uuid.uuid4().hex[:6]}"
    )
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.on_connect = lambda *_a: connected.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    connected.wait(10)
    ready.set()
    go.wait()
    t0 = time.monotonic()
    infos = [client.publish(topic, payload, qos=1) for topic, payload in items]
    for info in infos:
        info.wait_for_publish(120)
    t1 = time.monotonic()
    client.disconnect()
    client.loop_stop()
    out.put((t0, t1, len(items), sum(len(p) for _, p in items)))


def publish_all(port: int, work: Workload) -> tuple[float, int]:
    """Publish the workload from PUBLISHERS processes; (seconds first publish-last PUBACK, n)."""
    go = SPAWN.Event()
    out = SPAWN.Queue()
    procs, readies = [], []
    for k, path in enumerate(work.files):
        ready = SPAWN.Event()
        p = SPAWN.Process(target=_publisher, args=(port, str(path), k, ready, go, out))
        p.start()
        procs.append(p)
        readies.append(ready)
    for r in readies:
        if not r.wait(60):
            raise RuntimeError("publisher did not connect")
    go.set()
    results = [out.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(30)
    start = min(r[0] for r in results)
    end = max(r[1] for r in results)
    return end - start, sum(r[2] for r in results)


# --- the collector in a child process ---------------------------------------------------------

# Slots of the shared counters array, per collector.
MSGS, PUNCHES, TXS, FAILS, CPU, FIRST = range(6)
NSLOTS = 6


def _collector(
    url: str, port: int, client_id: str, group: str, ready: Any, go: Any, stop: Any, arr: Any
) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    from central.collector import BrokerSettings, Collector
    from central.db import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    col = Collector(
        engine, BrokerSettings("127.0.0.1", port, client_id=client_id, share_group=group)
    )
    ready.set()
    go.wait()
    cpu0 = time.process_time()
    col.start()
    while not stop.is_set():
        c = col.counters
        arr[MSGS], arr[PUNCHES], arr[TXS], arr[FAILS] = (
            c.messages,
            c.punches,
            c.transactions,
            c.db_failures,
        )
        arr[CPU] = time.process_time() - cpu0
        time.sleep(0.005)
    col.stop()
    engine.dispose()


@dataclass
class IngestResult:
    db: str
    workload: Workload
    collectors: int
    publish_s: float
    ingest_s: float
    per_collector_msgs: list[int]
    transactions: int
    db_failures: int
    cpu_s: float
    pg_cpu_s: float
    machine_busy: float
    stored_ok: bool
    note: str = ""

    @property
    def msgs_per_s(self) -> float:
        return self.workload.messages / self.ingest_s

    @property
    def punches_per_s(self) -> float:
        return self.workload.punches / self.ingest_s

    @property
    def publish_rate(self) -> float:
        return self.workload.messages / self.publish_s


def _wait_stored(
    arrs: list[Any], go: Any, messages: int, database: str | None
) -> tuple[float, float, float, str]:
    """Start the collectors; (seconds to store all, machine busy, PG backend CPU s, note)."""
    pg0 = _pg_cpu(database)
    go.set()
    t0 = time.monotonic()
    cpu0 = _machine_cpu()
    note = ""
    while sum(a[MSGS] for a in arrs) < messages:
        if time.monotonic() > t0 + 300:
            note = "timed out"
            break
        time.sleep(0.005)
    t1 = time.monotonic()
    cpu1 = _machine_cpu()
    busy = (cpu1[0] - cpu0[0]) / max(1, cpu1[1] - cpu0[1])
    return t1 - t0, busy, _pg_delta(pg0, _pg_cpu(database)), note


def run_ingest(
    db: str, url: str, folder: Path, work: Workload, collectors: int, run_id: str
) -> IngestResult:
    from central.db import make_engine
    from central.schema.ingest import device, punch

    engine = make_engine(url)
    register_devices(engine, device_ids("bench", DEVICES))
    broker = Broker(folder / f"mqtt-{run_id}")
    procs: list[Any] = []
    stop = SPAWN.Event()
    try:
        group = f"g{run_id}"
        ids = [f"bench-{run_id}-c{i + 1}" for i in range(collectors)]
        for cid in ids:
            make_session(broker.port, cid, group)
        publish_s, published = publish_all(broker.port, work)
        if published != work.messages:
            raise RuntimeError(f"published {published} of {work.messages}")
        go = SPAWN.Event()
        arrs = []
        for cid in ids:
            ready = SPAWN.Event()
            arr = SPAWN.Array("d", NSLOTS, lock=False)
            p = SPAWN.Process(
                target=_collector, args=(url, broker.port, cid, group, ready, go, stop, arr)
            )
            p.start()
            procs.append((p, ready))
            arrs.append(arr)
        for _, ready in procs:
            if not ready.wait(60):
                raise RuntimeError("collector did not start")
        seconds, busy, pg_cpu, note = _wait_stored(arrs, go, work.messages, pg_name(url))
        stop.set()
        for p, _ in procs:
            p.join(30)
        with engine.connect() as conn:
            rows = conn.execute(select(func.count()).select_from(punch)).scalar_one()
            acked = conn.execute(
                select(func.count())
                .select_from(device)
                .where(device.c.id.like("bench-%"), device.c.acked_upto == work.last_seq)
            ).scalar_one()
        ok = rows == work.punches and acked == DEVICES
        return IngestResult(
            db,
            work,
            collectors,
            publish_s,
            seconds,
            [int(a[MSGS]) for a in arrs],
            int(sum(a[TXS] for a in arrs)),
            int(sum(a[FAILS] for a in arrs)),
            sum(a[CPU] for a in arrs),
            pg_cpu,
            busy,
            ok,
            note,
        )
    finally:
        stop.set()
        for p, _ in procs:
            if p.is_alive():
                p.join(10)
            if p.is_alive():
                p.kill()
                p.join()
        broker.stop()
        engine.dispose()


# --- the naive baseline ------------------------------------------------------------------------


class PunchRow:
    """The punch table as a naive ORM class."""

    def __init__(self, **values: Any) -> None:
        for key, value in values.items():
            setattr(self, key, value)


def _map_punch() -> None:
    from sqlalchemy.orm import registry as orm_registry

    from central.schema.ingest import punch

    orm_registry().map_imperatively(PunchRow, punch)


@dataclass
class BaselineResult:
    db: str
    rows: int
    seconds: float

    @property
    def per_s(self) -> float:
        return self.rows / self.seconds


def run_baseline(db: str, url: str, sizes: Sizes) -> BaselineResult:
    """decode, one ORM object, session.add, session.commit: per single-punch message."""
    from sqlalchemy.orm import Session

    from central.db import make_engine
    from wire import decode_punch_batch

    devs = device_ids("base", BASELINE_DEVICES)
    engine = make_engine(url)
    register_devices(engine, devs)
    payloads = make_payloads(devs, sizes.baseline_n // BASELINE_DEVICES, 1, seed=7)
    items = [(d, payloads[d][i]) for i in range(len(payloads[devs[0]])) for d in devs]
    now = datetime.now(UTC)
    n = 0
    with Session(engine) as session:
        t0 = time.monotonic()
        for dev, payload in items:
            batch = decode_punch_batch(payload, topic_device=dev)
            for p in batch.punches:
                session.add(
                    PunchRow(
                        device_id=dev,
                        seq=p.seq,
                        id=p.id,
                        person=p.person,
                        slot=p.slot,
                        score=p.score,
                        at=p.at,
                        clock_synced=p.clock_synced,
                        boot_id=p.boot_id,
                        mono_ns=p.mono_ns,
                        received_at=now,
                    )
                )
            session.commit()
            n += len(batch.punches)
            if time.monotonic() - t0 > sizes.baseline_s:
                break
        seconds = time.monotonic() - t0
    engine.dispose()
    return BaselineResult(db, n, seconds)


# --- the API -----------------------------------------------------------------------------------


def api_app() -> Any:
    """uvicorn's factory (``bench_central:api_app``), in each worker process."""
    logging.basicConfig(
        stream=sys.stdout, level=logging.INFO, format="%(levelname)s %(name)s %(message)s"
    )
    from central.api import ApiSettings, create_app
    from central.db import make_engine

    return create_app(make_engine(os.environ["HADIR_BENCH_DB"]), ApiSettings(admin_token=ADMIN))


def serve(url: str, port: int, workers: int, http: str, loop: str) -> None:
    import uvicorn

    os.environ["HADIR_BENCH_DB"] = url
    uvicorn.run(
        "bench_central:api_app",
        factory=True,
        host="127.0.0.1",
        port=port,
        workers=workers,
        log_level="warning",
        http=http,
        loop=loop,
    )


def uvicorn_stack(http: str, loop: str) -> str:
    """What uvicorn's "auto" picks here: httptools and uvloop when installed (uvicorn[standard])."""
    if http == "auto":
        http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    if loop == "auto":
        loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    return f"{http}, {loop}"


def seed_registry(url: str, persons: int) -> list[int]:
    from central import registry
    from central.db import make_engine
    from central.identity import EmploymentType

    engine = make_engine(url)
    ids = []
    with engine.begin() as conn:
        sched = registry.ensure_default_schedules(conn)
        unit = registry.add_unit(conn, "BKPPD", "Badan Kepegawaian", schedule_id=sched.id)
        registry.add_site(conn, unit_id=unit.id, name="Kantor BKPPD", lat=LAT, lon=LON)
        for i in range(persons):
            day, seq = 1 + i // 999, 1 + i % 999
            ids.append(
                registry.add_person(
                    conn,
                    name=f"Pegawai {i}",
                    employment_type=EmploymentType.PNS,
                    unit_id=unit.id,
                    number=f"198501{day:02d}2010011{seq:03d}",
                ).id
            )
    engine.dispose()
    return ids


class Server:
    """``python bench/bench_central.py --serve``: uvicorn in its own process (group)."""

    def __init__(self, url: str, workers: int, log: Path, http: str, loop: str) -> None:
        self.port = free_port()
        self.workers = workers
        self.logf = log.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--serve",
                url,
                "--port",
                str(self.port),
                "--workers",
                str(workers),
                "--http",
                http,
                "--loop",
                loop,
            ],
            stdout=self.logf,
            stderr=self.logf,
            start_new_session=True,
        )
        import httpx

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{self.port}/v1/health", timeout=1).is_success:
                    return
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        raise RuntimeError("server did not answer")

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.logf.close()


def bind_all(port: int, person_ids: list[int]) -> list[tuple[str, str]]:
    import httpx

    creds = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        for pid in person_ids:
            phone = f"{pid:016x}"
            r = client.post(
                "/v1/devices/bind",
                json={"person_id": pid, "device_id": phone},
                headers={"Authorization": f"Bearer {ADMIN}"},
            )
            r.raise_for_status()
            creds.append((r.json()["token"], phone))
    return creds


def _tree_cpu(root: int) -> float:
    """utime+stime (s) of ``root`` and its descendants, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = int(fields[11]) + int(fields[12])
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        kids = [p for p, pp in parents.items() if pp == pid and p not in tree]
        tree.update(kids)
        frontier.extend(kids)
    return sum(times.get(p, 0) for p in tree) / tick


def _pg_cpu(database: str | None) -> dict[int, int]:
    """utime+stime (jiffies) per PostgreSQL backend serving ``database`` (none for SQLite)."""
    out: dict[int, int] = {}
    if database is None:
        return out
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            title = Path(f"/proc/{entry}/cmdline").read_bytes()
            if not title.startswith(b"postgres: ") or f" {database} ".encode() not in title:
                continue
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        out[int(entry)] = int(fields[11]) + int(fields[12])
    return out


def _pg_delta(before: dict[int, int], after: dict[int, int]) -> float:
    """CPU seconds the backends used in between (a backend that exited meanwhile is lost)."""
    used = sum(t - before.get(pid, 0) for pid, t in after.items())
    return used / os.sysconf("SC_CLK_TCK")


def pg_name(url: str) -> str | None:
    return make_url(url).database if url.startswith("postgresql") else None


def _machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies over all cores, from /proc/stat."""
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = f
    busy = user + nice + system + irq + softirq
    return busy, busy + idle + iowait + steal


def background_busy(seconds: float = 2.0) -> float:
    """How busy the machine is without us (other work on a shared VM), 0..1."""
    b0, t0 = _machine_cpu()
    time.sleep(seconds)
    b1, t1 = _machine_cpu()
    return (b1 - b0) / max(1, t1 - t0)


def _request(token: str, phone: str) -> bytes:
    body = json.dumps(
        {
            "kind": "in",
            "client_time": datetime.now(UTC).isoformat(),
            "lat": LAT + 20 / M_PER_DEG,
            "lon": LON,
            "accuracy_m": 12.0,
            "mock_location": False,
        }
    ).encode()
    head = (
        f"POST /v1/checkins HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"X-Device-Id: {phone}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _load(
    port: int,
    creds: list[tuple[str, str]],
    conns: int,
    max_n: int,
    max_s: float,
    server: int,
    database: str | None,
) -> dict[str, Any]:
    start = time.monotonic()
    warm_end = start + WARMUP_S
    deadline = warm_end + max_s
    lat: list[float] = []
    status: dict[int, int] = {}
    issued = 0
    marks: dict[str, Any] = {}
    last_done = warm_end

    def mark() -> None:
        if "cpu" not in marks and time.monotonic() >= warm_end:
            marks["cpu"] = (
                _tree_cpu(server),
                time.process_time(),
                _machine_cpu(),
                _pg_cpu(database),
            )

    async def worker(k: int) -> None:
        nonlocal issued, last_done
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = k
        try:
            while True:
                now = time.monotonic()
                counted = now >= warm_end
                if counted:
                    mark()
                    if issued >= max_n or now >= deadline:
                        return
                    issued += 1
                token, phone = creds[i % len(creds)]
                i += conns
                req = _request(token, phone)
                t = time.perf_counter()
                writer.write(req)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
                took = time.perf_counter() - t
                if counted:
                    code = int(head.split(b" ", 2)[1])
                    status[code] = status.get(code, 0) + 1
                    lat.append(took)
                    last_done = time.monotonic()
        finally:
            writer.close()

    await asyncio.gather(*(worker(k) for k in range(conns)))
    server_cpu0, own_cpu0, (busy0, total0), pg_cpu0 = marks["cpu"]
    busy1, total1 = _machine_cpu()
    return {
        "seconds": last_done - warm_end,
        "lat": lat,
        "status": status,
        "server_cpu": _tree_cpu(server) - server_cpu0,
        "pg_cpu": _pg_delta(pg_cpu0, _pg_cpu(database)),
        "load_cpu": time.process_time() - own_cpu0,
        "machine_busy": (busy1 - busy0) / max(1, total1 - total0),
    }


def _loadgen(
    port: int,
    creds: list[tuple[str, str]],
    conns: int,
    max_n: int,
    max_s: float,
    server: int,
    database: str | None,
    out: Any,
) -> None:
    out.put(asyncio.run(_load(port, creds, conns, max_n, max_s, server, database)))


@dataclass
class ApiResult:
    db: str
    workers: int
    conns: int
    requests: int
    non_201: dict[int, int]
    seconds: float
    p50: float
    p90: float
    p99: float
    max: float
    server_cpu: float
    pg_cpu: float
    load_cpu: float
    machine_busy: float
    stored: int
    pg_sessions: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def _pg_sessions(conn: sqlalchemy.Connection) -> int:
    """Sessions ever opened to this PostgreSQL database (0 on SQLite)."""
    if conn.dialect.name != "postgresql":
        return 0
    conn.execute(text("SELECT pg_stat_clear_snapshot()"))
    return int(
        conn.execute(
            text("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        ).scalar_one()
    )


def run_api(
    db: str,
    url: str,
    folder: Path,
    creds: list[tuple[str, str]] | None,
    person_ids: list[int],
    workers: int,
    conns: int,
    sizes: Sizes,
    http: str,
    loop: str,
) -> tuple[ApiResult, list[tuple[str, str]]]:
    from central.db import make_engine
    from central.schema.checkin import checkin

    server = Server(url, workers, folder / f"api-{db}-{workers}.log", http, loop)
    try:
        if creds is None:
            creds = bind_all(server.port, person_ids)
        engine = make_engine(url)
        with engine.connect() as conn:
            before = conn.execute(
                select(func.count()).select_from(checkin).where(checkin.c.accepted)
            ).scalar_one()
            sessions0 = _pg_sessions(conn)
        out = SPAWN.Queue()
        gen = SPAWN.Process(
            target=_loadgen,
            args=(
                server.port,
                creds,
                conns,
                sizes.api_n,
                sizes.api_s,
                server.proc.pid,
                pg_name(url),
                out,
            ),
        )
        gen.start()
        res = out.get(timeout=WARMUP_S + sizes.api_s + 120)
        gen.join(30)
        with engine.connect() as conn:
            after = conn.execute(
                select(func.count()).select_from(checkin).where(checkin.c.accepted)
            ).scalar_one()
            sessions = _pg_sessions(conn) - sessions0
        engine.dispose()
    finally:
        server.stop()
    lat = sorted(res["lat"])
    q = statistics.quantiles(lat, n=100, method="inclusive")
    return (
        ApiResult(
            db,
            workers,
            conns,
            len(lat),
            {k: v for k, v in res["status"].items() if k != 201},
            res["seconds"],
            q[49] * 1000,
            q[89] * 1000,
            q[98] * 1000,
            lat[-1] * 1000,
            res["server_cpu"],
            res["pg_cpu"],
            res["load_cpu"],
            res["machine_busy"],
            after - before,
            sessions,
        ),
        creds,
    )


# --- report ------------------------------------------------------------------------------------


def fmt(x: float, digits: int = 0) -> str:
    return f"{x:,.{digits}f}"


def print_ingest(results: list[IngestResult]) -> None:
    print(
        "| database | workload | collectors | messages | punches | publish msg/s | ingest s "
        "| messages/s | punches/s | transactions | msgs/tx | collector CPU % | split | "
        "PG backends CPU % | machine busy % | db retries | stored & acked |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---|")
    for r in results:
        cpu = 100 * r.cpu_s / r.ingest_s
        split = "/".join(fmt(m) for m in r.per_collector_msgs)
        ok = "yes" if r.stored_ok else f"NO {r.note}"
        pg = "-" if r.db == "sqlite" else f"{100 * r.pg_cpu_s / r.ingest_s:.0f}"
        print(
            f"| {r.db} | {r.workload.name} | {r.collectors} | {fmt(r.workload.messages)} "
            f"| {fmt(r.workload.punches)} | {fmt(r.publish_rate)} | {r.ingest_s:.2f} "
            f"| {fmt(r.msgs_per_s)} | {fmt(r.punches_per_s)} | {fmt(r.transactions)} "
            f"| {r.workload.messages / max(1, r.transactions):.0f} | {cpu:.0f} | {split} "
            f"| {pg} | {100 * r.machine_busy:.0f} | {r.db_failures} | {ok} |"
        )
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--dir", type=Path, default=Path.cwd())
    parser.add_argument(
        "--pg", default=os.environ.get("HADIR_TEST_POSTGRES_URL", DEFAULT_PG), help="admin URL"
    )
    parser.add_argument("--conns", type=int, default=64, help="API load connections")
    parser.add_argument(
        "--http", default="auto", choices=("auto", "h11", "httptools"), help="uvicorn's HTTP"
    )
    parser.add_argument(
        "--loop", default="auto", choices=("auto", "asyncio", "uvloop"), help="uvicorn's loop"
    )
    parser.add_argument(
        "--api-workers", default="1,2", help="uvicorn worker counts to run, e.g. 1,2,3"
    )
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--skip-api", action="store_true")
    parser.add_argument("--serve", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.workers, args.http, args.loop)
        return 0

    sizes = QUICK if args.quick else FULL
    started = time.monotonic()
    pg = pg_admin_url(args.pg)
    dbs = ["sqlite"] + (["postgres"] if pg else [])
    folder = Path(tempfile.mkdtemp(prefix="bench-central-", dir=args.dir))
    try:
        print("# Central benchmark (issue 4)\n")
        print(
            f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {os.cpu_count()} cores, "
            f"{platform.machine()}, CPython {platform.python_version()}, SQLAlchemy "
            f"{sqlalchemy.__version__}, paho-mqtt {paho.mqtt.__version__}"
        )
        # The arguments as given: a --skip-api run must not read as a full one.
        print(f"- command: `python bench/bench_central.py{''.join(' ' + a for a in sys.argv[1:])}`")
        print(f"- load average before the run: {' / '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(
            "- machine busy before the run (2 s, without this benchmark): "
            f"{100 * background_busy():.0f} %"
        )
        if pg:
            with create_engine(pg).connect() as conn:
                ver = conn.execute(text("SHOW server_version")).scalar_one()
                sc = conn.execute(text("SHOW synchronous_commit")).scalar_one()
            print(
                f"- PostgreSQL {ver} (synchronous_commit={sc}), SQLite {_sqlite_version()} "
                "(WAL, synchronous=FULL)"
            )
        print()
        if not args.skip_ingest:
            ingest(folder, dbs, pg, sizes)
        if not args.skip_api:
            workers = [int(w) for w in args.api_workers.split(",")]
            api(folder, dbs, pg, sizes, args.conns, workers, args.http, args.loop)
        print(f"Run took {time.monotonic() - started:.0f} s.")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


def _sqlite_version() -> str:
    import sqlite3

    return sqlite3.sqlite_version


def ingest(folder: Path, dbs: list[str], pg: str | None, sizes: Sizes) -> None:
    _map_punch()
    single = build_workload("single", 1, sizes.single_msgs, folder)
    batch = build_workload(f"batch of {BATCH}", BATCH, sizes.batch_msgs, folder)
    one: list[IngestResult] = []
    two: list[IngestResult] = []
    base: dict[str, BaselineResult] = {}
    n = 0
    for db in dbs:
        for work in (single, batch):
            for collectors, sink in ((1, one), (2, two)):
                n += 1
                with fresh_db(db, folder, pg) as url:
                    sink.append(run_ingest(db, url, folder, work, collectors, str(n)))
                    if work is single and collectors == 1:
                        base[db] = run_baseline(db, url, sizes)
    print("## 1. Sustained ingest, one collector\n")
    print(
        f"{DEVICES} devices, {PUBLISHERS} publisher processes (QoS 1), the workload queued in "
        "mosquitto for the collector's persistent session, then the collector started and timed "
        "from start() to the last commit+ack. msgs/tx = messages per database transaction.\n"
    )
    print_ingest(one)
    print(
        "Baseline: naive ORM, decode + one object + `session.add(); session.commit()` per "
        "single-punch message, same database.\n"
    )
    print("| database | rows | seconds | punches/s |")
    print("|---|---:|---:|---:|")
    for b in base.values():
        print(f"| {b.db} | {fmt(b.rows)} | {b.seconds:.2f} | {fmt(b.per_s)} |")
    print()
    print("| database | workload | collector punches/s | baseline punches/s | ratio |")
    print("|---|---|---:|---:|---:|")
    for r in one:
        b = base[r.db]
        print(
            f"| {r.db} | {r.workload.name} | {fmt(r.punches_per_s)} | {fmt(b.per_s)} "
            f"| {r.punches_per_s / b.per_s:.1f}x |"
        )
    print()
    for r in one:
        if r.workload is single:
            verdict = "met" if r.msgs_per_s >= 3000 else "NOT met"
            print(
                f"- {r.db}: single-punch {fmt(r.msgs_per_s)} messages/s (target >= 3,000: "
                f"{verdict}); {r.punches_per_s / base[r.db].per_s:.1f}x baseline (target >= 10x:"
                f" {'met' if r.punches_per_s >= 10 * base[r.db].per_s else 'NOT met'})"
            )
        else:
            verdict = "met" if r.punches_per_s >= 20000 else "NOT met"
            print(
                f"- {r.db}: batches {fmt(r.punches_per_s)} punches/s (target >= 20,000: "
                f"{verdict}); {r.punches_per_s / base[r.db].per_s:.1f}x baseline"
            )
    print()
    print("## 2. Two collectors, one shared subscription\n")
    print(
        "Same workloads, broker and database kind; two collector processes, one share group. "
        "split = messages stored by each; db retries = failed transactions retried.\n"
    )
    print_ingest(two)
    print("| database | workload | one collector msgs/s | two collectors msgs/s | two/one |")
    print("|---|---|---:|---:|---:|")
    for a, b2 in zip(one, two, strict=True):
        print(
            f"| {a.db} | {a.workload.name} | {fmt(a.msgs_per_s)} | {fmt(b2.msgs_per_s)} "
            f"| {b2.msgs_per_s / a.msgs_per_s:.2f} |"
        )
    print()
    sys.stdout.flush()


def api(
    folder: Path,
    dbs: list[str],
    pg: str | None,
    sizes: Sizes,
    conns: int,
    worker_counts: list[int],
    http: str,
    loop: str,
) -> None:
    results: list[ApiResult] = []
    for db in dbs:
        with fresh_db(db, folder, pg) as url:
            persons = seed_registry(url, PERSONS)
            creds = None
            for workers in worker_counts:
                res, creds = run_api(
                    db, url, folder, creds, persons, workers, conns, sizes, http, loop
                )
                results.append(res)
    print("## 3. Check-in API\n")
    print(
        f"uvicorn ({uvicorn_stack(http, loop)}), {PERSONS} bound people, {conns} keep-alive "
        f"connections, closed loop, {WARMUP_S:.0f} s warm-up not counted. CPU: seconds over the "
        "measured window "
        "(server = the uvicorn process tree; PG backends = those serving this database, a "
        "backend that exits meanwhile is lost; machine = both cores, 100 % = all busy). Accepted "
        "rows and PG sessions opened count the warm-up too.\n"
    )
    print(
        "| database | workers | requests | non-201 | req/s | p50 ms | p90 ms | p99 ms | max ms "
        "| server CPU s | server CPU ms/req | PG backends CPU s | load gen CPU s | machine busy % "
        "| accepted rows | PG sessions opened |"
    )
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        bad = ", ".join(f"{k}: {v}" for k, v in sorted(r.non_201.items())) or "0"
        print(
            f"| {r.db} | {r.workers} | {fmt(r.requests)} | {bad} | {fmt(r.rps)} | {r.p50:.1f} "
            f"| {r.p90:.1f} | {r.p99:.1f} | {r.max:.1f} | {r.server_cpu:.1f} "
            f"| {1000 * r.server_cpu / max(1, r.requests):.1f} "
            f"| {'-' if r.db == 'sqlite' else f'{r.pg_cpu:.1f}'} | {r.load_cpu:.1f} "
            f"| {100 * r.machine_busy:.0f} | {fmt(r.stored)} "
            f"| {'-' if r.db == 'sqlite' else r.pg_sessions} |"
        )
    print()
    for r in results:
        print(
            f"- {r.db}, {r.workers} worker(s): {fmt(r.rps)} req/s (target >= 1,000: "
            f"{'met' if r.rps >= 1000 else 'NOT met'}), p99 {r.p99:.0f} ms (target <= 100 ms: "
            f"{'met' if r.p99 <= 100 else 'NOT met'})"
        )
    print()


if __name__ == "__main__":
    sys.exit(main())
