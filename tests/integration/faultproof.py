"""The fault proof: three terminals, a broker, two collectors, and chaos, for N minutes.

People press fingers at a realistic rate while the broker, the collectors and the daemons are
SIGKILLed at random and the modules are unplugged and replugged. At the end the central's
punches must equal the punches the terminals committed (every one signalled OK among them), with
no duplicate and no gap. ``python -m tests.integration.faultproof --minutes 5`` is the long form.
"""

from __future__ import annotations

import argparse
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from central.db import make_engine, upgrade
from edge.sensor.sim import SimulatedR307
from edge.store import Store
from tests.integration.broker import Broker
from tests.integration.central_fixture import CollectorProcess, punches, register
from tests.integration.edge_daemon import COMMITTED, DaemonProcess, enroll, write_config

TERMINALS = ("kantor-walikota-1", "kantor-bkppd-1", "puskesmas-oesapa-1")


@dataclass
class Terminal:
    device: str
    sim: SimulatedR307
    daemon: DaemonProcess
    people: list[str]
    state: Path
    ok: set[str] = field(default_factory=set)
    presses: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Result:
    minutes: float
    punches: int = 0
    signalled_ok: int = 0
    presses: int = 0
    broker_kills: int = 0
    collector_kills: int = 0
    daemon_kills: int = 0
    module_flaps: int = 0
    lost: int = 0
    doubled: int = 0
    gaps: int = 0
    catch_up_s: float = 0.0
    problems: list[str] = field(default_factory=list)

    def table(self) -> str:
        rows = [
            ("chaos duration", f"{self.minutes:.1f} min"),
            ("presses", str(self.presses)),
            ("punches committed at the terminals", str(self.punches)),
            ("of which signalled OK (seen in the daemon log)", str(self.signalled_ok)),
            ("broker SIGKILLs", str(self.broker_kills)),
            ("collector SIGKILLs", str(self.collector_kills)),
            ("daemon SIGKILLs", str(self.daemon_kills)),
            ("module unplug/replug", str(self.module_flaps)),
            ("lost", str(self.lost)),
            ("doubled", str(self.doubled)),
            ("gaps", str(self.gaps)),
            ("backlog left when the chaos stopped, drained in", f"{self.catch_up_s:.1f} s"),
        ]
        return "\n".join(["| measure | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)])


def _press_loop(t: Terminal, stop: threading.Event, rng: random.Random) -> None:
    while not stop.is_set():
        person = rng.choice(t.people)
        t.sim.place(person)
        with t.lock:
            t.presses += 1
            m = t.daemon.wait_for(COMMITTED, 1.5) if t.daemon.alive() else None
        if m is not None:
            t.ok.add(m.group(2))
        time.sleep(rng.uniform(0.4, 1.0))  # a finger rests on the glass about a second
        t.sim.lift()
        stop.wait(rng.uniform(0.2, 0.8))


def _restart_daemon(t: Terminal) -> None:
    with t.lock:
        # Whatever it logged before dying still counts: it was signalled before the kill.
        t.ok.update(t.daemon.committed)
        t.daemon.start()


def run(folder: Path, minutes: float, seed: int = 1, db_url: str | None = None) -> Result:
    """Run the proof in ``folder``; returns the result (problems listed, never raises on them)."""
    rng = random.Random(seed)
    result = Result(minutes=minutes)
    (folder / "broker").mkdir()
    broker = Broker(folder / "broker")
    broker.start()
    url = db_url or f"sqlite:///{folder / 'central.db'}"
    upgrade(url)
    engine: Engine = make_engine(url)
    register(engine, *TERMINALS)
    collectors = [CollectorProcess(folder, url, broker.port, f"collector-{i}") for i in (1, 2)]
    for c in collectors:
        c.start()
    terminals: list[Terminal] = []
    for n, device in enumerate(TERMINALS):
        sim = SimulatedR307("r307", "instant", seed=n).start()
        state = folder / device
        state.mkdir()
        people = [f"19{70 + n:02d}0101201001{i:04d}" for i in range(25)]
        enroll(sim, state / "edge.db", people)
        config = write_config(
            folder / f"{device}.toml",
            device=device,
            state=state,
            port=sim.port,
            broker_port=broker.port,
            repeat_window_s=5,
        )
        daemon = DaemonProcess(config)
        daemon.start()
        terminals.append(Terminal(device, sim, daemon, people, state))
    stop = threading.Event()
    pressers = [
        threading.Thread(
            target=_press_loop, args=(t, stop, random.Random(seed * 10 + i)), daemon=True
        )
        for i, t in enumerate(terminals)
    ]
    for p in pressers:
        p.start()
    deadline = time.monotonic() + minutes * 60
    try:
        while time.monotonic() < deadline:
            time.sleep(rng.uniform(2.0, 5.0))
            action = rng.choice(["broker", "collector", "daemon", "module", "daemon", "collector"])
            if action == "broker":
                broker.kill()
                result.broker_kills += 1
                time.sleep(rng.uniform(0.3, 2.0))
                broker.start()
            elif action == "collector":
                c = rng.choice(collectors)
                c.kill()
                result.collector_kills += 1
                time.sleep(rng.uniform(0.1, 1.0))
                c.start()
            elif action == "daemon":
                t = rng.choice(terminals)
                t.daemon.kill()
                result.daemon_kills += 1
                time.sleep(rng.uniform(0.1, 0.8))
                _restart_daemon(t)
            else:
                t = rng.choice(terminals)
                t.sim.unplug()
                result.module_flaps += 1
                time.sleep(rng.uniform(0.3, 2.0))
                t.sim.replug()
    finally:
        stop.set()
        for p in pressers:
            p.join(10)
    # Every part is running again; measure how long the central takes to have everything.
    started = time.monotonic()
    stores = {t.device: Store(t.state / "edge.db") for t in terminals}
    try:
        while any(s.outbox.depth() for s in stores.values()):
            if time.monotonic() - started > 120:
                result.problems.append("backlog not acknowledged within 120 s")
                break
            time.sleep(0.1)
        result.catch_up_s = time.monotonic() - started
        for t in terminals:
            s = stores[t.device]
            committed = int(s.outbox.last_seq())
            got = punches(engine, t.device)
            seqs = [seq for seq, _, _ in got]
            ids = [i for _, i, _ in got]
            result.punches += committed
            result.presses += t.presses
            t.ok.update(t.daemon.committed)
            result.signalled_ok += len(t.ok)
            result.lost += len(t.ok - set(ids)) + max(0, committed - len(set(ids)))
            result.doubled += len(ids) - len(set(ids))
            result.gaps += len(set(range(1, committed + 1)) - set(seqs))
            if seqs != list(range(1, committed + 1)):
                result.problems.append(f"{t.device}: central seqs differ from 1..{committed}")
    finally:
        for s in stores.values():
            s.close()
        for t in terminals:
            if t.daemon.alive():
                t.daemon.terminate()
            t.sim.stop()
        for c in collectors:
            c.stop()
        broker.stop()
        engine.dispose()
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--minutes", type=float, default=5.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--db", help="central database URL (default: a SQLite file)")
    args = p.parse_args()
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="hadir-faultproof-"))
    result = run(folder, args.minutes, args.seed, args.db)
    print(result.table())
    for problem in result.problems:
        print(f"PROBLEM: {problem}")
    ok = not result.problems and result.lost == 0 and result.doubled == 0 and result.gaps == 0
    print("fault proof:", "PASSED" if ok else "FAILED", f"(logs in {folder})")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
