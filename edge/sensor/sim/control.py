"""The simulator's control surface over a Unix socket, for a tester at a second terminal.

One JSON request per connection, one JSON reply: ``{"cmd": "place", "finger": "alice"}`` →
``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``. The same operations are methods of
:class:`~edge.sensor.sim.simulator.SimulatedR307` for tests; this is only their remote form.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

from edge.sensor.sim.faults import parse as parse_fault
from edge.sensor.sim.fingers import Quality
from edge.sensor.sim.simulator import SimulatedR307

log = logging.getLogger(__name__)

Reply = dict[str, Any]
_MAX_REQUEST = 64 * 1024


def _status(sim: SimulatedR307, _: dict[str, Any]) -> Reply:
    m = sim.model
    return {
        "port": sim.port,
        "model": m.profile.name,
        "timing": m.timing.name,
        "capacity": m.profile.capacity,
        "used": len(m.library()),
        "finger": m.finger,
        "powered": m.powered,
        "plugged": sim.link.plugged,
        "faults": sim.active_faults(),
        "commands": sim.commands_seen,
    }


def _place(sim: SimulatedR307, req: dict[str, Any]) -> Reply:
    finger = req.get("finger")
    if not isinstance(finger, str) or not finger:
        raise ValueError("place: 'finger' must be a non-empty label")
    quality = Quality(str(req.get("quality", "good")))
    sim.place(finger, quality)
    return {"finger": finger, "quality": quality.value}


def _lift(sim: SimulatedR307, _: dict[str, Any]) -> Reply:
    sim.lift()
    return {}


def _library(sim: SimulatedR307, _: dict[str, Any]) -> Reply:
    return {"slots": [{"slot": s, "finger": f} for s, f in sim.library().items()]}


def _fault(sim: SimulatedR307, req: dict[str, Any]) -> Reply:
    fault = parse_fault(str(req.get("fault", "")))
    count = int(req.get("count", 1))
    if count < 1:
        raise ValueError(f"fault: count must be >= 1, got {count}")
    sim.inject(fault, count)
    return {"faults": sim.active_faults()}


def _clear(sim: SimulatedR307, _: dict[str, Any]) -> Reply:
    sim.clear_faults()
    return {"faults": sim.active_faults()}


def _poor_rate(sim: SimulatedR307, req: dict[str, Any]) -> Reply:
    sim.set_poor_rate(float(req.get("rate", 0.0)))
    return {}


def _simple(action: Callable[[SimulatedR307], None]) -> Callable[[SimulatedR307, Any], Reply]:
    def run(sim: SimulatedR307, _: dict[str, Any]) -> Reply:
        action(sim)
        return {}

    return run


COMMANDS: dict[str, Callable[[SimulatedR307, dict[str, Any]], Reply]] = {
    "status": _status,
    "place": _place,
    "lift": _lift,
    "list": _library,
    "fault": _fault,
    "clear": _clear,
    "poor-rate": _poor_rate,
    "power-off": _simple(SimulatedR307.power_off),
    "power-on": _simple(SimulatedR307.power_on),
    "power-cycle": _simple(SimulatedR307.power_cycle),
    "unplug": _simple(SimulatedR307.unplug),
    "replug": _simple(SimulatedR307.replug),
}


def dispatch(sim: SimulatedR307, raw: bytes) -> Reply:
    """Run one request; every failure becomes ``{"ok": false, "error": ...}``."""
    try:
        req = json.loads(raw)
        if not isinstance(req, dict):
            raise ValueError("request must be a JSON object")  # noqa: TRY004 - a message for the tester
        cmd = req.get("cmd")
        handler = COMMANDS.get(str(cmd))
        if handler is None:
            raise ValueError(f"unknown command {cmd!r}; known: {', '.join(COMMANDS)}")
        return {"ok": True, **handler(sim, req)}
    except (ValueError, TypeError) as exc:
        return {"ok": False, "error": str(exc)}


class ControlServer:
    """Serves :data:`COMMANDS` for one simulator on a Unix socket."""

    def __init__(self, sim: SimulatedR307, path: str) -> None:
        self.sim = sim
        self.path = path
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(path)
        os.chmod(path, 0o660)
        self._sock.listen(8)
        self._thread = threading.Thread(target=self._serve, name="sim-control", daemon=True)

    def start(self) -> ControlServer:
        """Start accepting requests."""
        self._thread.start()
        return self

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return  # closed
            with conn:
                conn.settimeout(5)
                try:
                    raw = _read_line(conn)
                    conn.sendall(json.dumps(dispatch(self.sim, raw)).encode() + b"\n")
                except OSError as exc:
                    log.warning("control connection failed error=%r", str(exc))

    def close(self) -> None:
        """Stop serving and remove the socket."""
        self._sock.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


def _read_line(conn: socket.socket) -> bytes:
    buf = b""
    while not buf.endswith(b"\n") and len(buf) < _MAX_REQUEST:
        chunk = conn.recv(4096)
        if not chunk:
            break
        buf += chunk
    return buf


def request(path: str, cmd: str, **params: Any) -> Reply:
    """Send one command to a running simulator and return its reply."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(30)
        s.connect(path)
        s.sendall(json.dumps({"cmd": cmd, **params}).encode() + b"\n")
        return dict(json.loads(_read_line(s) or b"{}"))
