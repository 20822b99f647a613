"""The narrow interface between the daemon and a fingerprint module.

The daemon only ever talks to a :class:`FingerprintSensor`. The one implementation,
:class:`edge.sensor.r307.R307Sensor`, drives a real module or the simulator on a pty alike, in the
way gpiozero's pin factories let one device class run on real pins or ``MockFactory``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NewType, Protocol

Slot = NewType("Slot", int)


class CharBuffer(enum.IntEnum):
    """The module's two feature buffers (datasheet: CharBuffer1/CharBuffer2)."""

    ONE = 1
    TWO = 2


@dataclass(frozen=True, slots=True)
class Match:
    """A 1:N search hit: the library slot and the module's match score."""

    slot: Slot
    score: int


@dataclass(frozen=True, slots=True)
class ModuleInfo:
    """What the module says about itself (ReadSysPara and TempleteNum), never assumed."""

    capacity: int
    used: int
    security_level: int
    address: int
    packet_size: int
    baud: int
    system_id: int


class SensorState(enum.Enum):
    """The driver's view of the module's health, for status and feedback."""

    OK = "ok"
    DEGRADED = "degraded"  # answering, but recent link faults were retried
    OFFLINE = "offline"  # port gone or module silent; backing off
    MISCONFIGURED = "misconfigured"  # wrong password, address or baud


@dataclass(frozen=True, slots=True)
class Health:
    """A snapshot of the module's health and the driver's fault counters."""

    state: SensorState
    detail: str
    link_faults: int
    timeouts: int
    reopens: int
    power_cycles: int


class PowerSwitch(Protocol):
    """A switch on the module's supply (a MOSFET on a GPIO pin); see hardware.md."""

    def off(self) -> None:
        """Cut the module's power."""

    def on(self) -> None:
        """Restore the module's power."""


class FingerprintSensor(Protocol):
    """One R307/ZFM-family module. Blocking calls from one owner thread (the daemon's).

    No-finger and unknown-finger are answers, not errors: :meth:`read_image` returns ``False``
    and :meth:`identify` returns ``None``. Everything else that goes wrong raises a subclass of
    :class:`edge.sensor.errors.SensorError`.
    """

    def info(self) -> ModuleInfo:
        """Read capacity, packet size and the other parameters from the module."""

    def read_image(self) -> bool:
        """Capture one image (GenImg). ``False`` means no finger is on the sensor."""

    def extract(self, buffer: CharBuffer = CharBuffer.ONE) -> None:
        """Turn the captured image into features in ``buffer``; raises PoorImage."""

    def search(self) -> Match | None:
        """1:N search of CharBuffer1 over the whole library."""

    def identify(self) -> Match | None:
        """Capture, extract and search. ``None`` when no finger or an unknown finger."""

    def merge(self) -> None:
        """Merge both buffers into a template (RegModel); raises EnrollMismatch."""

    def compare(self) -> int:
        """Score CharBuffer1 against CharBuffer2 (0 when they do not match)."""

    def store(self, slot: Slot, buffer: CharBuffer = CharBuffer.ONE) -> None:
        """Write the template in ``buffer`` to library ``slot``."""

    def delete(self, slot: Slot) -> None:
        """Delete the template in ``slot``."""

    def clear(self) -> None:
        """Delete every template."""

    def used_slots(self) -> frozenset[Slot]:
        """The occupied slots, from the module's index table."""

    def template_count(self) -> int:
        """The module's own template count (advisory: some firmwares get it wrong)."""

    def read_template(self, slot: Slot) -> bytes:
        """Export the template stored in ``slot``."""

    def write_template(self, slot: Slot, template: bytes) -> None:
        """Import ``template`` into ``slot`` and verify it by reading it back."""

    def health(self) -> Health:
        """The current health snapshot; never touches the port."""

    def probe(self) -> Health:
        """A cheap transaction that refreshes the health (the daemon's periodic job)."""

    def close(self) -> None:
        """Release the port."""
