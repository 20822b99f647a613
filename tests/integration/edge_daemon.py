"""Running the edge daemon as systemd would: a subprocess, READY=1 on a notify socket we own."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from edge.sensor import CharBuffer, R307Sensor, Slot
from edge.sensor.sim import SimulatedR307
from edge.store import Store

COMMITTED = re.compile(r"punch committed seq=(\d+) id=(\S+) person=(\S+)")
REPEATED = re.compile(r"repeated press person=(\S+)")
UNKNOWN = re.compile(r"unknown finger")


def write_config(
    path: Path, *, device: str, state: Path, port: str, broker_port: int, **extra: object
) -> Path:
    repeat = extra.get("repeat_window_s", 30)
    path.write_text(
        f"""
[device]
id = "{device}"
state_dir = "{state}"

[sensor]
port = "{port}"
timeout_s = 0.5
poll_interval_s = 0.01
health_probe_s = 1

[punch]
repeat_window_s = {repeat}

[feedback]
pin_factory = "mock"

[mqtt]
host = "127.0.0.1"
port = {broker_port}
tls = false
batch_size = 50
ack_timeout_s = 2
reconnect_min_s = 1
reconnect_max_s = 1
heartbeat_s = 1

[log]
level = "INFO"
"""
    )
    return path


def enroll(sim: SimulatedR307, store_path: Path, people: list[str]) -> None:
    """Put templates on the module and map the slots in the daemon's store (before it runs)."""
    drv = R307Sensor(sim.port, timeout_s=0.5)
    with Store(store_path) as store:
        for slot, person in enumerate(people):
            sim.place(person)
            drv.read_image()
            drv.extract(CharBuffer.ONE)
            sim.place(person)
            drv.read_image()
            drv.extract(CharBuffer.TWO)
            drv.merge()
            drv.store(Slot(slot))
            store.people.map(slot, person, "right-index")
    sim.lift()
    drv.close()


@dataclass
class DaemonProcess:
    config: Path
    proc: subprocess.Popen[str] | None = None
    lines: queue.Queue[str] = field(default_factory=queue.Queue)
    log: list[str] = field(default_factory=list)
    committed: dict[str, tuple[int, str]] = field(default_factory=dict)  # id -> (seq, person)

    def start(self, timeout_s: float = 20) -> None:
        notify = self.config.parent / f"notify-{time.monotonic_ns()}.sock"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(notify))
        sock.settimeout(timeout_s)
        env = {**os.environ, "NOTIFY_SOCKET": str(notify), "WATCHDOG_USEC": "2000000"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "edge", "run", "--config", str(self.config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()
        try:
            while True:
                msg = sock.recv(4096).decode()
                if "READY=1" in msg:
                    break
        except TimeoutError:
            self.kill()
            raise AssertionError(
                "daemon never said READY=1:\n" + "\n".join(self.log[-30:])
            ) from None
        finally:
            sock.close()
            notify.unlink()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            self.log.append(line)
            m = COMMITTED.search(line)
            if m:
                self.committed[m.group(2)] = (int(m.group(1)), m.group(3))
            self.lines.put(line)
        proc.stdout.close()

    def wait_for(self, pattern: re.Pattern[str], timeout_s: float) -> re.Match[str] | None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.05)
            except queue.Empty:
                if self.proc is None or self.proc.poll() is not None:
                    return None
                continue
            m = pattern.search(line)
            if m:
                return m
        return None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.proc = None

    def terminate(self) -> int:
        assert self.proc is not None
        self.proc.terminate()
        code = self.proc.wait(timeout=20)
        self.proc = None
        return code
