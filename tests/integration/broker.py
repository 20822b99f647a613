"""A real mosquitto on a free port that a test can kill and restart."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
    if found is None:
        raise RuntimeError(
            "mosquitto is not installed: apt-get install mosquitto (scripts/test does it)"
        )
    return found


class Broker:
    """One mosquitto process; ``kill()`` and ``start()`` again on the same port."""

    def __init__(
        self, folder: Path, *, persistence: bool = False, extra: str = "", anonymous: bool = True
    ) -> None:
        self.anonymous = anonymous
        self.folder = folder
        self.port = free_port()
        self.persistence = persistence
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None
        self.conf = folder / "mosquitto.conf"
        self.log = folder / "mosquitto.log"

    def write_conf(self) -> None:
        lines = [
            f"listener {self.port} 127.0.0.1",
            f"allow_anonymous {'true' if self.anonymous else 'false'}",
            # As root, mosquitto would drop to its own user and lose access to the test's files.
            "user root" if os.getuid() == 0 else "",
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {self.folder}/",
            "max_queued_messages 100000",
            "set_tcp_nodelay true",
            "log_type error",
            "log_type warning",
            self.extra,
        ]
        self.conf.write_text("\n".join(lines) + "\n")

    def start(self) -> None:
        self.write_conf()
        log = self.log.open("ab")
        self.proc = subprocess.Popen(
            [mosquitto_binary(), "-c", str(self.conf)], stdout=log, stderr=log
        )
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log.read_text()}")
            time.sleep(0.02)
        raise RuntimeError("mosquitto did not start listening")

    def kill(self) -> None:
        """SIGKILL: no goodbye, queued messages gone (persistence off)."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
