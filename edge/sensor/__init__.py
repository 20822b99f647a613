"""The fingerprint sensor layer: one interface, one driver, and a simulator behind a spec string.

``open_sensor`` is the only factory the daemon calls. A path gives the driver on that port; a
``sim:`` spec starts a simulated module in-process and gives the same driver on its pty. The
simulator is used only when named: there is never a silent fallback to a fake device.

Spec grammar::

    /dev/r307             a real module on that device path
    sim:MODEL[:TIMING]    a simulator; MODEL r307|zfm20|as608|r503; TIMING instant|datasheet
"""

from __future__ import annotations

from typing import Any

from edge.sensor.errors import (
    DuplicateFinger,
    EnrollMismatch,
    FrameError,
    LibraryFull,
    ModuleRefused,
    PoorImage,
    SensorError,
    SensorMisconfigured,
    SensorTimeout,
    SensorUnavailable,
)
from edge.sensor.protocol import (
    CharBuffer,
    FingerprintSensor,
    Health,
    Match,
    ModuleInfo,
    PowerSwitch,
    SensorState,
    Slot,
)
from edge.sensor.r307 import R307Sensor

__all__ = [
    "CharBuffer",
    "DuplicateFinger",
    "EnrollMismatch",
    "FingerprintSensor",
    "FrameError",
    "Health",
    "LibraryFull",
    "Match",
    "ModuleInfo",
    "ModuleRefused",
    "PoorImage",
    "PowerSwitch",
    "R307Sensor",
    "SensorError",
    "SensorMisconfigured",
    "SensorState",
    "SensorTimeout",
    "SensorUnavailable",
    "Slot",
    "open_sensor",
]


def open_sensor(spec: str, **driver_options: Any) -> R307Sensor:
    """Open the module named by ``spec`` (see the module docstring).

    Args:
        spec: a device path, or ``sim:MODEL[:TIMING]``.
        **driver_options: passed to :class:`R307Sensor` (baud, password, power, timeouts...).
    """
    if not spec.startswith("sim:"):
        return R307Sensor(spec, **driver_options)
    from edge.sensor.sim import SimulatedR307  # noqa: PLC0415 - only when a sim is asked for

    parts = spec.split(":")
    if len(parts) not in (2, 3) or not parts[1]:
        raise ValueError(f"sensor spec {spec!r}: expected sim:MODEL[:TIMING], e.g. sim:r307")
    sim = SimulatedR307(parts[1], parts[2] if len(parts) == 3 else "instant").start()
    return R307Sensor(sim.port, on_close=sim.stop, **driver_options)
