"""The edge daemon end to end: simulator → daemon (subprocess) → real mosquitto → collector."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from central.schema import punch
from edge.clock import SystemClock
from edge.sensor.sim import SimulatedR307
from edge.store import Store
from tests.integration.broker import Broker
from tests.integration.conftest import CentralUnderTest, wait_until
from tests.integration.edge_daemon import COMMITTED, REPEATED, DaemonProcess, enroll, write_config

pytestmark = pytest.mark.integration
DEVICE = "kupang-test-01"


@pytest.fixture
def sim() -> SimulatedR307:
    with SimulatedR307("r307", "instant", seed=11) as s:
        yield s  # type: ignore[misc]


def test_daemon_press_becomes_one_punch_at_the_central(
    tmp_path: Path, sim: SimulatedR307, broker: Broker, central: CentralUnderTest
) -> None:
    central.register(DEVICE)
    state = tmp_path / "state"
    state.mkdir()
    enroll(sim, state / "edge.db", ["198609262015051001"])
    config = write_config(
        tmp_path / "edge.toml", device=DEVICE, state=state, port=sim.port, broker_port=broker.port
    )
    daemon = DaemonProcess(config)
    daemon.start()
    sim.place("198609262015051001")
    assert daemon.wait_for(COMMITTED, 10) is not None
    sim.lift()
    wait_until(lambda: len(central.punches(DEVICE)) == 1, 10, "the punch at the central")
    [(seq, _punch_id, person)] = central.punches(DEVICE)
    assert (seq, person) == (1, "198609262015051001")
    with central.engine.connect() as conn:
        row = conn.execute(
            select(punch.c.at, punch.c.clock_synced, punch.c.boot_id, punch.c.mono_ns)
        ).one()
    clock = SystemClock()
    assert row[1] == int(clock.is_synced())
    assert row[2] == clock.boot_id()
    assert 0 < row[3] <= clock.monotonic_ns()
    # The same finger again at once is a repeated press, not a second punch.
    sim.place("198609262015051001")
    assert daemon.wait_for(REPEATED, 10) is not None
    sim.lift()
    with Store(state / "edge.db") as store:
        # Released once the central's ack arrived, and only then.
        wait_until(lambda: store.outbox.depth() == 0, 10, "the punch released")
    assert daemon.terminate() == 0
    assert len(central.punches(DEVICE)) == 1


def test_daemon_killed_20_times_loses_and_doubles_nothing(
    tmp_path: Path, sim: SimulatedR307, broker: Broker, central: CentralUnderTest
) -> None:
    people = [f"1990010120150110{i:02d}" for i in range(60)]
    central.register(DEVICE)
    state = tmp_path / "state"
    state.mkdir()
    enroll(sim, state / "edge.db", people)
    config = write_config(
        tmp_path / "edge.toml", device=DEVICE, state=state, port=sim.port, broker_port=broker.port
    )
    daemon = DaemonProcess(config)
    rng = random.Random(20)
    signalled_ok: set[str] = set()
    presses = 0
    for _ in range(20):
        daemon.start()
        killer = threading.Timer(rng.uniform(0.1, 0.8), daemon.kill)
        killer.start()
        while daemon.alive():
            person = people[presses % len(people)]
            presses += 1
            sim.place(person)
            m = daemon.wait_for(COMMITTED, 2)
            if m is not None:
                signalled_ok.add(m.group(2))
            sim.lift()
            time.sleep(0.03)  # the daemon sees the lift before the next finger
        killer.join()
    daemon.start()
    with Store(state / "edge.db") as store:
        wait_until(lambda: store.outbox.depth() == 0, 30, "the backlog acknowledged")
        committed = store.outbox.last_seq()
    assert daemon.terminate() == 0
    got = central.punches(DEVICE)
    ids = {i for _, i, _ in got}
    assert [s for s, _, _ in got] == list(range(1, committed + 1))  # all committed, gap-free
    assert signalled_ok <= ids  # every punch the person saw "OK" for arrived
    assert len(ids) == len(got)  # no punch twice
    persons = [p for _, _, p in got]
    # Each press of a person inside the repeat window is one punch, whatever the kills did.
    assert len(persons) == len(set(persons)) or presses > len(people)
    assert len(signalled_ok) >= 20


def test_daemon_refuses_another_devices_store(
    tmp_path: Path, sim: SimulatedR307, broker: Broker
) -> None:
    import subprocess
    import sys

    state = tmp_path / "state"
    state.mkdir()
    with Store(state / "edge.db") as store:
        store.meta.set("device_id", "some-other-terminal")
    config = write_config(
        tmp_path / "edge.toml", device=DEVICE, state=state, port=sim.port, broker_port=broker.port
    )
    out = subprocess.run(
        [sys.executable, "-m", "edge", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert out.returncode == 1
    assert "belongs to device 'some-other-terminal'" in out.stderr
