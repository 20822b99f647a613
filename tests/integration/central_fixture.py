"""The real collector for integration tests, in-process or as a subprocess it can SIGKILL."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, select

from central.collector import BrokerSettings, Collector
from central.db import make_engine
from central.devices import add_device
from central.schema import dead_letter, punch


def register(engine: Engine, *devices: str) -> None:
    with engine.begin() as conn:
        for dev in devices:
            add_device(conn, dev, datetime.now(UTC))


def start_collector(engine: Engine, port: int, client_id: str = "collector-test-1") -> Collector:
    c = Collector(engine, BrokerSettings(host="127.0.0.1", port=port, client_id=client_id))
    c.start()
    if not c.connected.wait(10):
        raise AssertionError("collector did not connect")
    return c


def punches(engine: Engine, dev: str) -> list[tuple[int, str, str]]:
    with engine.connect() as conn:
        return [
            (int(r.seq), r.id, r.person)
            for r in conn.execute(
                select(punch.c.seq, punch.c.id, punch.c.person)
                .where(punch.c.device_id == dev)
                .order_by(punch.c.seq)
            )
        ]


def dead_letters(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [
            (r.topic, r.reason)
            for r in conn.execute(select(dead_letter.c.topic, dead_letter.c.reason))
        ]


class CollectorProcess:
    """``hadir-central run`` as a subprocess (a separate process, so it can be SIGKILLed)."""

    def __init__(
        self, folder: Path, db_url: str, port: int, client_id: str = "collector-proc-1"
    ) -> None:
        self.config = folder / f"{client_id}.toml"
        self.config.write_text(
            f'[database]\nurl = "{db_url}"\n'
            f'[mqtt]\nhost = "127.0.0.1"\nport = {port}\nclient_id = "{client_id}"\n'
        )
        self.log = folder / f"{client_id}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "central", "--config", str(self.config), "run"],
                stdout=out,
                stderr=out,
            )

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
            self.proc = None


def engine_for(url: str) -> Engine:
    return make_engine(url)
