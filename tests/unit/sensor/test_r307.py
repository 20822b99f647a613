"""The driver over the simulator's pty: outcomes, every fault's classification and recovery."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

import pytest
from gpiozero import DigitalOutputDevice
from gpiozero.pins.mock import MockFactory

from edge.sensor import (
    CharBuffer,
    FrameError,
    ModuleRefused,
    PoorImage,
    R307Sensor,
    SensorError,
    SensorMisconfigured,
    SensorState,
    SensorUnavailable,
    Slot,
    open_sensor,
)
from edge.sensor.sim import Fault, SimulatedR307
from tests.conftest import FAST

T = TypeVar("T")


def enroll(sim: SimulatedR307, sensor: R307Sensor, finger: str, slot: int) -> None:
    sim.place(finger)
    assert sensor.read_image()
    sensor.extract(CharBuffer.ONE)
    sim.place(finger)
    assert sensor.read_image()
    sensor.extract(CharBuffer.TWO)
    sensor.merge()
    sensor.store(Slot(slot))
    sim.lift()


def until_ok(call: Callable[[], T], within_s: float) -> tuple[T, float]:
    """Call until it stops raising SensorError; the result and how long recovery took."""
    start = time.monotonic()
    while True:
        try:
            return call(), time.monotonic() - start
        except SensorError:
            if time.monotonic() - start > within_s:
                raise
            time.sleep(0.05)


def test_r307_identify_finds_enrolled_finger(sim: SimulatedR307, sensor: R307Sensor) -> None:
    enroll(sim, sensor, "yohanes", 42)
    sim.place("yohanes")
    match = sensor.identify()
    assert match is not None
    assert match.slot == 42
    assert match.score >= 50


def test_r307_identify_unknown_finger_is_none(sim: SimulatedR307, sensor: R307Sensor) -> None:
    enroll(sim, sensor, "yohanes", 1)
    sim.place("stranger")
    assert sensor.identify() is None


def test_r307_no_finger_is_false_not_an_error(sim: SimulatedR307, sensor: R307Sensor) -> None:
    assert sensor.read_image() is False
    assert sensor.identify() is None
    assert sensor.health().state is SensorState.OK


@pytest.mark.parametrize(("quality", "code"), [("wet", 0x06), ("dry", 0x07), ("partial", 0x07)])
def test_r307_poor_image_is_the_persons_problem(
    sim: SimulatedR307, sensor: R307Sensor, quality: str, code: int
) -> None:
    sim.place("maria", quality)
    with pytest.raises(PoorImage) as err:
        sensor.identify()
    assert err.value.code == code
    health = sensor.health()
    assert health.state is SensorState.OK
    assert health.link_faults == 0  # a person's mistake never counts as a fault


def test_r307_info_reads_parameters_from_the_module() -> None:
    with SimulatedR307("zfm20") as sim:
        drv = R307Sensor(sim.port, **FAST)  # type: ignore[arg-type]
        info = drv.info()
        assert (info.capacity, info.packet_size, info.baud, info.used) == (162, 128, 57600, 0)
        with pytest.raises(ValueError, match=r"slot must be 0\.\.161, got 162"):
            drv.store(Slot(162))
        drv.close()


def test_r307_template_export_import_round_trips_across_modules(
    sim: SimulatedR307, sensor: R307Sensor
) -> None:
    enroll(sim, sensor, "theresia", 5)
    template = sensor.read_template(Slot(5))
    assert len(template) == 512
    with SimulatedR307("r307", seed=99) as other:
        drv = R307Sensor(other.port, **FAST)  # type: ignore[arg-type]
        drv.write_template(Slot(300), template)
        assert drv.read_template(Slot(300)) == template
        assert drv.used_slots() == frozenset({Slot(300)})
        other.place("theresia")
        match = drv.identify()
        assert match is not None and match.slot == 300
        drv.close()


def test_r307_used_slots_cover_every_index_page(sim: SimulatedR307, sensor: R307Sensor) -> None:
    for slot in (0, 255, 256, 999):
        enroll(sim, sensor, f"finger-{slot}", slot)
    assert sensor.used_slots() == frozenset(Slot(s) for s in (0, 255, 256, 999))
    assert sensor.template_count() == 4
    sensor.delete(Slot(256))
    assert Slot(256) not in sensor.used_slots()
    sensor.clear()
    assert sensor.used_slots() == frozenset()


def test_r307_merge_of_two_fingers_raises_mismatch(sim: SimulatedR307, sensor: R307Sensor) -> None:
    from edge.sensor import EnrollMismatch

    sim.place("a")
    sensor.read_image()
    sensor.extract(CharBuffer.ONE)
    sim.place("b")
    sensor.read_image()
    sensor.extract(CharBuffer.TWO)
    assert sensor.compare() == 0
    with pytest.raises(EnrollMismatch):
        sensor.merge()


def test_r307_load_of_empty_slot_is_refused_with_code(
    sim: SimulatedR307, sensor: R307Sensor
) -> None:
    with pytest.raises(ModuleRefused) as err:
        sensor.read_template(Slot(3))
    assert err.value.code == 0x0C


# -- faults: each one classified, recovered within a bound, never killing the process --------

TRANSIENT = [
    Fault.BAD_CHECKSUM,
    Fault.STRAY_BYTE,
    Fault.TRUNCATED,
    Fault.SHORT_ACK,
    Fault.SILENCE,
    Fault.LATE,
    Fault.GARBAGE,
    Fault.BROWNOUT,
]


@pytest.mark.parametrize("fault", TRANSIENT, ids=lambda f: f.value)
def test_r307_transient_fault_is_retried_transparently(
    sim: SimulatedR307, sensor: R307Sensor, fault: Fault
) -> None:
    enroll(sim, sensor, "paulus", 8)
    sim.place("paulus")
    sim.inject(fault)
    start = time.monotonic()
    match = sensor.identify()
    elapsed = time.monotonic() - start
    assert match is not None and match.slot == 8
    health = sensor.health()
    assert health.link_faults + health.timeouts >= 1  # it was seen and counted
    # One deadline plus the retry's own round trip; well under pyfingerprint's 24 s.
    assert elapsed < FAST["timeout_s"] * 2 + 1.0


def test_r307_noise_is_survived_by_retries(sim: SimulatedR307, sensor: R307Sensor) -> None:
    enroll(sim, sensor, "noisy", 2)
    sim.noise_rate = 0.2
    sim.inject(Fault.NOISE)
    sim.place("noisy")
    found = wrong = 0
    deadline = time.monotonic() + 20
    while found < 10 and time.monotonic() < deadline:
        try:
            match = sensor.identify()
        except SensorError:
            time.sleep(0.05)  # three bad replies in a row can happen; the next call goes on
            continue
        if match is not None and match.slot == 2:
            found += 1
        else:
            wrong += 1
    assert found == 10
    assert wrong == 0  # a corrupted reply is never taken for an answer
    assert sensor.health().link_faults > 0


def test_r307_silent_module_is_offline_quickly_then_backs_off(
    sim: SimulatedR307, sensor: R307Sensor
) -> None:
    sensor.info()
    sim.inject(Fault.SILENCE, count=1000)
    start = time.monotonic()
    with pytest.raises(SensorUnavailable):
        sensor.read_image()
    # (retries + 1) deadlines, never pyfingerprint's 12 x 2 s
    assert time.monotonic() - start < (FAST["retries"] + 1) * FAST["timeout_s"] + 0.5
    assert sensor.health().state is SensorState.OFFLINE
    commands = sim.commands_seen
    start = time.monotonic()
    with pytest.raises(SensorUnavailable, match="next try"):
        sensor.read_image()
    assert time.monotonic() - start < 0.05  # backed off: not a single byte sent
    assert sim.commands_seen == commands
    sim.clear_faults()
    assert until_ok(sensor.read_image, within_s=3)[0] is False
    assert sensor.health().state is SensorState.OK


def test_r307_unplug_reports_offline_and_recovers_after_replug(
    sim: SimulatedR307, sensor: R307Sensor
) -> None:
    enroll(sim, sensor, "unplugged", 11)
    sim.unplug()
    with pytest.raises(SensorUnavailable):
        sensor.read_image()
    assert sensor.health().state is SensorState.OFFLINE
    time.sleep(0.3)
    with pytest.raises(SensorUnavailable, match="cannot open"):
        until_ok(sensor.read_image, within_s=0.5)
    sim.replug()
    sim.place("unplugged")
    match, took = until_ok(sensor.identify, within_s=3)
    assert match is not None and match.slot == 11
    assert took < 3
    health = sensor.health()
    assert health.state is SensorState.OK
    assert health.reopens >= 2


def test_r307_hang_is_cleared_by_power_cycle_through_gpio(sim: SimulatedR307) -> None:
    factory = MockFactory()
    pin = DigitalOutputDevice(17, initial_value=True, pin_factory=factory)

    class MosfetOnSimulator:
        """The MOSFET: the GPIO pin drives the simulated module's supply."""

        def off(self) -> None:
            pin.off()
            sim.power_off()

        def on(self) -> None:
            pin.on()
            sim.power_on()

    drv = R307Sensor(sim.port, power=MosfetOnSimulator(), **FAST)  # type: ignore[arg-type]
    enroll(sim, drv, "hung", 3)
    sim.inject(Fault.HANG)
    sim.place("hung")
    match, took = until_ok(drv.identify, within_s=10)
    assert match is not None and match.slot == 3
    assert drv.health().power_cycles == 1
    assert [s.state for s in pin.pin.states][-2:] == [False, True]  # type: ignore[union-attr]
    assert took < 2 * (FAST["retries"] + 1) * FAST["timeout_s"] * 2 + 2
    drv.close()
    pin.close()
    factory.close()


def test_r307_hang_without_power_switch_stays_offline(
    sim: SimulatedR307, sensor: R307Sensor
) -> None:
    sensor.info()
    sim.inject(Fault.HANG)
    for _ in range(3):
        with pytest.raises(SensorUnavailable):
            sensor.read_image()
        time.sleep(0.1)
    assert sensor.health().state is SensorState.OFFLINE
    assert sensor.health().power_cycles == 0
    sim.power_cycle()  # a technician pulls the plug
    assert until_ok(sensor.read_image, within_s=3)[0] is False


def test_r307_wrong_password_is_misconfigured_without_retry_storm(sim: SimulatedR307) -> None:
    drv = R307Sensor(sim.port, password=0x1234, **FAST)  # type: ignore[arg-type]
    with pytest.raises(SensorMisconfigured, match="wrong module password"):
        drv.read_image()
    seen = sim.commands_seen
    for _ in range(20):
        with pytest.raises(SensorMisconfigured):
            drv.read_image()
    assert sim.commands_seen == seen  # no storm: nothing sent while misconfigured
    assert drv.health().state is SensorState.MISCONFIGURED
    drv.close()


def test_r307_wrong_baud_is_misconfigured(sim: SimulatedR307) -> None:
    drv = R307Sensor(sim.port, baud=115200, **FAST)  # type: ignore[arg-type]
    with pytest.raises(SensorMisconfigured, match="wrong baud"):
        until_ok(drv.read_image, within_s=5)
    assert drv.health().state is SensorState.MISCONFIGURED
    drv.close()


def test_r307_password_module_is_reverified_after_brownout(sim: SimulatedR307) -> None:
    from pyfingerprint.pyfingerprint import PyFingerprint

    PyFingerprint(sim.port, 57600).setPassword(0xCAFE)
    sim.power_cycle()
    drv = R307Sensor(sim.port, password=0xCAFE, **FAST)  # type: ignore[arg-type]
    assert drv.read_image() is False
    sim.power_cycle()  # the module forgets the verification, the driver does not reopen
    assert drv.read_image() is False
    drv.close()


def test_r307_calls_from_threads_are_serialised(sim: SimulatedR307, sensor: R307Sensor) -> None:
    enroll(sim, sensor, "shared", 0)
    sim.place("shared")
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(10):
                sensor.template_count()
                sensor.used_slots()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sensor.health().link_faults == 0


def test_open_sensor_sim_spec_runs_the_driver_on_a_simulator() -> None:
    drv = open_sensor("sim:r503", **FAST)
    assert drv.info().capacity == 200
    drv.close()
    with pytest.raises(ValueError, match="expected sim:MODEL"):
        open_sensor("sim:")
    with pytest.raises(ValueError, match="unknown module model"):
        open_sensor("sim:r999")


def test_open_sensor_missing_path_is_unavailable(tmp_path: object) -> None:
    drv = open_sensor("/nonexistent/ttyR307", **FAST)
    with pytest.raises(SensorUnavailable, match="cannot open"):
        drv.info()
    assert drv.health().state is SensorState.OFFLINE


def test_frame_error_is_a_value_error() -> None:
    assert issubclass(FrameError, ValueError)
    assert issubclass(SensorUnavailable, ConnectionError)
