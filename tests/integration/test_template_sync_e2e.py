"""Issue 6, end to end: terminals (daemons on simulators) ↔ real mosquitto ↔ the real collector.

Every step goes through the parts a deployment runs: the technician's `hadir-edge` CLI on the
daemon's admin socket, the daemon's template sync, the broker, the collector's template intake
and dispatcher, and the `hadir-central template` CLI. Nothing is done on terminal B by hand:
what B knows, it learnt from the central.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import Engine, select

from central import registry as r
from central.cli import main as central_main
from central.collector import BrokerSettings, Collector
from central.db import make_engine, upgrade
from central.devices import add_device
from central.identity import EmploymentType
from central.schema import device_template, punch, template
from edge.prompts import press_step
from edge.sensor import R307Sensor, Slot
from edge.sensor.sim import SimulatedR307
from edge.store import Store
from tests.integration.broker import Broker
from tests.integration.conftest import wait_until
from tests.integration.edge_daemon import COMMITTED, UNKNOWN, DaemonProcess, write_config
from wire.sealing import public_key_text

pytestmark = pytest.mark.integration

ANI = "198609262015051001"  # PNS, BKPPD
BUDI = "200012312024211001"  # PPPK, BKPPD
NOW = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)


@dataclass
class Terminal:
    """One office terminal: its simulated module, its daemon (a subprocess) and its paths."""

    name: str
    folder: Path
    sim: SimulatedR307
    broker_port: int
    central_key: str
    daemon: DaemonProcess | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def socket(self) -> Path:
        return self.folder / "admin.sock"

    @property
    def store_path(self) -> Path:
        return self.folder / "state" / "edge.db"

    def start(self) -> None:
        config = write_config(
            self.folder / "edge.toml",
            device=self.name,
            state=self.folder / "state",
            port=self.sim.port,
            broker_port=self.broker_port,
        )
        with config.open("a") as f:
            f.write(f'\n[sync]\ncentral_key = "{self.central_key}"\n')
            f.write(f'\n[admin]\nsocket = "{self.socket}"\n')
        self.daemon = DaemonProcess(config)
        self.daemon.start()

    def stop(self) -> None:
        if self.daemon is not None and self.daemon.alive():
            assert self.daemon.terminate() == 0
        self.daemon = None

    def edge(self, *args: str, timeout_s: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "edge", *args, "--socket", str(self.socket)],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    def info(self) -> dict[str, object]:
        done = self.edge("info", "--json")
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout))

    def enroll(self, number: str, finger: str, presses: str) -> tuple[int, str]:
        """Run `hadir-edge enroll`, pressing the simulated finger ``presses`` when asked."""
        proc = subprocess.Popen(
            [sys.executable, "-m", "edge", "enroll", number, finger, "--socket", str(self.socket)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert proc.stdout is not None
        out: list[str] = []
        with proc.stdout:
            for line in proc.stdout:
                out.append(line)
                step = press_step(line)
                if step == "place":
                    self.sim.place(presses)
                elif step == "lift":
                    self.sim.lift()
        self.sim.lift()
        return proc.wait(timeout=30), "".join(out)

    def mapped(self) -> dict[int, tuple[str, str]]:
        """The daemon's slot map, read from its store file (WAL: readers do not block it)."""
        with Store(self.store_path) as store:
            return {m.slot: (m.person_id, m.finger) for m in store.people.mappings()}

    def press(self, finger: str) -> None:
        self.sim.place(finger)

    def lift(self) -> None:
        self.sim.lift()


@dataclass
class Office:
    engine: Engine
    url: str
    collector: Collector
    a: Terminal
    b: Terminal
    broker: Broker
    folder: Path

    def states(self, number: str) -> dict[str, str]:
        """Every terminal's state for the person's templates, as the central records it."""
        with self.engine.connect() as conn:
            person = r.find_person(conn, number)
            assert person is not None
            rows = conn.execute(
                select(device_template.c.device_id, device_template.c.state)
                .join(template, template.c.id == device_template.c.template_id)
                .where(template.c.person_id == person.id)
            )
            return {str(d): str(s) for d, s in rows}

    def punches(self, dev: str) -> list[str]:
        with self.engine.connect() as conn:
            return [
                str(p)
                for p in conn.execute(
                    select(punch.c.person).where(punch.c.device_id == dev)
                ).scalars()
            ]

    def central_cli(self, *args: str) -> int:
        return central_main(["--db", self.url, *args])


def _sim(seed: int, model: str = "r307") -> SimulatedR307:
    return SimulatedR307(model, "instant", seed=seed).start()


@pytest.fixture
def office(tmp_path: Path, broker: Broker) -> Iterator[Office]:
    url = f"sqlite:///{tmp_path / 'central.db'}"
    upgrade(url)
    engine = make_engine(url)
    key = X25519PrivateKey.generate()
    with engine.begin() as conn:
        sched = r.ensure_default_schedules(conn, now=NOW)
        unit = r.add_unit(conn, "BKPPD", "BKPPD Kota Kupang", schedule_id=sched.id, now=NOW)
        r.add_site(
            conn,
            unit_id=unit.id,
            name="Kantor BKPPD",
            lat=-10.16,
            lon=123.6,
            site_id="BKPPD-1",
            now=NOW,
        )
        for number, name, kind in (
            (ANI, "Ani Bria", EmploymentType.PNS),
            (BUDI, "Budi Tefa", EmploymentType.PPPK),
        ):
            r.add_person(
                conn, name=name, employment_type=kind, unit_id=unit.id, number=number, now=NOW
            )
        for dev in ("pi-a", "pi-b"):
            add_device(conn, dev, NOW, site_id="BKPPD-1")
    collector = Collector(
        engine,
        BrokerSettings(host="127.0.0.1", port=broker.port, client_id="collector-e2e"),
        central_key=key,
        resend_after_s=5,
    )
    collector.start()
    assert collector.connected.wait(10)
    pub = public_key_text(key)
    terminals = []
    for name, seed in (("pi-a", 1), ("pi-b", 2)):
        folder = tmp_path / name
        folder.mkdir()
        terminals.append(Terminal(name, folder, _sim(seed), broker.port, pub))
    o = Office(engine, url, collector, terminals[0], terminals[1], broker, tmp_path)
    try:
        yield o
    finally:
        for t in (o.a, o.b):
            t.stop()
            t.sim.stop()
        collector.stop()
        engine.dispose()


def _roster_arrived(t: Terminal) -> None:
    wait_until(lambda: t.info()["roster"] == 2, 20, f"the roster at {t.name}")


def test_enrolled_on_a_identified_on_b_then_deleted_everywhere(office: Office) -> None:
    a, b = office.a, office.b
    a.start()
    b.start()
    _roster_arrived(a)

    code, out = a.enroll(ANI, "right-index", presses="ani-right-index")
    assert code == 0, out
    assert "Terdaftar" in out and "(Enrolled" in out
    assert list(a.mapped().values()) == [(ANI, "right-index")]

    # B learns it from the central, with nothing done on B.
    wait_until(
        lambda: office.states(ANI) == {"pi-a": "installed", "pi-b": "installed"},
        30,
        "the central to record both terminals as installed",
    )
    assert list(b.mapped().values()) == [(ANI, "right-index")]
    assert b.daemon is not None
    b.press("ani-right-index")
    found = b.daemon.wait_for(COMMITTED, 10)
    b.lift()
    assert found is not None and found.group(3) == ANI
    wait_until(lambda: office.punches("pi-b") == [ANI], 15, "B's punch at the central")

    # At the central the template rests sealed: the plain template is in no column.
    with office.engine.connect() as conn:
        (sealed,) = conn.execute(select(template.c.sealed)).one()
    a_drv_template = _module_template(a)
    assert sealed is not None and a_drv_template not in bytes(sealed)

    # The same finger again, for someone else: refused at the terminal, nothing stored.
    code, out = a.enroll(BUDI, "left-index", presses="ani-right-index")
    assert code == 1
    assert "sudah terdaftar" in out and "already enrolled" in out
    assert len(a.mapped()) == 1

    # Deleted at the central: gone from every module and every store.
    assert (
        office.central_cli(
            "template", "delete", "--person", ANI, "--by", "bkppd-operator", "--reason", "pensiun"
        )
        == 0
    )
    for t in (a, b):
        wait_until(
            lambda t=t: t.mapped() == {} and t.sim.model.library() == {},
            30,
            f"the finger gone from {t.name}",
        )
    wait_until(lambda: set(office.states(ANI).values()) == {"deleted"}, 15, "central states")
    with office.engine.connect() as conn:
        assert conn.execute(select(template.c.sealed)).scalar_one() is None
    b.press("ani-right-index")
    assert b.daemon.wait_for(UNKNOWN, 10) is not None
    b.lift()


def _module_template(t: Terminal) -> bytes:
    """The template in t's first slot, from the simulated module's flash.

    Not through a second driver: the daemon polls the same pty, and two hosts on one serial
    line garble each other's frames (as they would on a real UART).
    """
    library = t.sim.model.library()
    return library[min(library)]


def test_offline_terminal_catches_up_and_a_replaced_module_is_restored(office: Office) -> None:
    a, b = office.a, office.b
    a.start()
    _roster_arrived(a)
    # B is off (power cut, network down) while A enrolls two fingers.
    b.start()
    b.stop()
    for number, finger, press in ((ANI, "right-index", "ani-ri"), (BUDI, "left-thumb", "budi-lt")):
        code, out = a.enroll(number, finger, presses=press)
        assert code == 0, out
    time.sleep(1)
    assert b.mapped() == {}
    b.start()
    wait_until(lambda: len(b.mapped()) == 2, 30, "B to catch up on return")
    assert sorted(b.mapped().values()) == [(ANI, "right-index"), (BUDI, "left-thumb")]

    # B's module dies; the technician fits an empty one. No one presses a finger to restore it.
    b.stop()
    b.sim.stop()
    b.sim = _sim(3)
    b.start()
    wait_until(lambda: len(b.sim.model.library()) == 2, 30, "the new module refilled")
    assert sorted(b.mapped().values()) == [(ANI, "right-index"), (BUDI, "left-thumb")]
    assert b.daemon is not None
    b.press("budi-lt")
    found = b.daemon.wait_for(COMMITTED, 10)
    b.lift()
    assert found is not None and found.group(3) == BUDI


def test_a_full_library_is_refused_cleanly(office: Office) -> None:
    a, b = office.a, office.b
    # B is a ZFM-20 (162 slots) already full of other people's fingers.
    b.sim.stop()
    b.sim = _sim(4, "zfm20")
    drv = R307Sensor(b.sim.port, timeout_s=1.0)
    filler = _enroll_direct(drv, b.sim, "filler")
    (b.folder / "state").mkdir()
    with Store(b.store_path) as store:
        for slot in range(162):
            if slot:
                drv.write_template(Slot(slot), filler)
            store.people.map(slot, f"LOCAL-{slot:03d}", "right-index")
    drv.close()
    a.start()
    b.start()
    _roster_arrived(b)

    # Enrolling at the full terminal: refused before any press.
    code, out = b.enroll(ANI, "right-index", presses="ani")
    assert code == 1
    assert "penuh" in out and "full" in out
    assert not any(press_step(line) == "place" for line in out.splitlines())

    # Enrolled at A, the install on B fails cleanly and the central records why.
    _roster_arrived(a)
    code, out = a.enroll(ANI, "right-index", presses="ani")
    assert code == 0, out
    wait_until(lambda: office.states(ANI).get("pi-b") == "failed", 30, "B's install failure")
    with office.engine.connect() as conn:
        detail = conn.execute(
            select(device_template.c.detail).where(device_template.c.device_id == "pi-b")
        ).scalar_one()
    assert "library full" in str(detail)
    assert b.daemon is not None and b.daemon.alive()


def _enroll_direct(drv: R307Sensor, sim: SimulatedR307, finger: str) -> bytes:
    from edge.sensor import CharBuffer

    for buf in (CharBuffer.ONE, CharBuffer.TWO):
        sim.place(finger)
        drv.read_image()
        drv.extract(buf)
    sim.lift()
    drv.merge()
    drv.store(Slot(0))
    return drv.read_template(Slot(0))
