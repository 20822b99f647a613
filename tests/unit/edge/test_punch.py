"""PunchLoop with the pty simulator, a real store file, real Feedback on MockFactory pins."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from edge.clock import FakeClock
from edge.feedback import Feedback, FeedbackTiming, TouchLine
from edge.punch import Outcome, PunchLoop
from edge.sensor import CharBuffer, R307Sensor, Slot
from edge.sensor.sim import SimulatedR307
from edge.store import Store

NIP = "198609262015051001"


@pytest.fixture
def pins() -> Iterator[MockFactory]:
    factory = MockFactory()
    yield factory
    factory.reset()
    factory.close()


@pytest.fixture
def feedback(pins: MockFactory) -> Iterator[Feedback]:
    fb = Feedback(23, 24, 25, 18, pin_factory=pins, timing=FeedbackTiming(show_s=0.05, beep_s=0.01))
    yield fb
    fb.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "edge.db") as s:
        yield s


def enroll(sim: SimulatedR307, sensor: R307Sensor, finger: str, slot: int) -> None:
    for buf in (CharBuffer.ONE, CharBuffer.TWO):
        sim.place(finger)
        sensor.read_image()
        sensor.extract(buf)
    sensor.merge()
    sensor.store(Slot(slot))
    sim.lift()


def loop_for(
    sensor: R307Sensor, store: Store, feedback: Feedback, clock: FakeClock, **kw: object
) -> PunchLoop:
    return PunchLoop(sensor, store, feedback, clock, poll_interval_s=0.01, **kw)  # type: ignore[arg-type]


def test_punch_press_commits_then_signals_ok(
    sim: SimulatedR307, sensor: R307Sensor, store: Store, feedback: Feedback, pins: MockFactory
) -> None:
    enroll(sim, sensor, "yohanes", 4)
    store.people.map(4, NIP, "right-index")
    clock = FakeClock(synced=False)
    committed: list[int] = []

    green = pins.pin(23)
    seen_green_before_commit: list[bool] = []

    def on_punch(p: object) -> None:
        committed.append(p.seq)  # type: ignore[attr-defined]

    original_ok = feedback.ok

    def ok_after_commit() -> None:
        # At the moment "OK" is shown, the punch must already be on disk.
        seen_green_before_commit.append(store.outbox.depth() == 1)
        original_ok()

    feedback.ok = ok_after_commit  # type: ignore[method-assign]
    loop = loop_for(sensor, store, feedback, clock, on_punch=on_punch)
    sim.place("yohanes")
    assert loop.scan() is Outcome.PUNCH
    assert seen_green_before_commit == [True]
    assert committed == [1]
    [p] = store.outbox.pending()
    assert (p.person_id, p.slot, p.at, p.clock_synced, p.boot_id) == (
        NIP,
        4,
        clock.utc_now(),
        False,
        clock.boot_id(),
    )
    assert p.score >= 50
    assert any(s.state for s in green.states)  # the green LED lit


def test_punch_repeat_window_by_monotonic_then_by_wall_time(
    sim: SimulatedR307, sensor: R307Sensor, store: Store, feedback: Feedback
) -> None:
    enroll(sim, sensor, "maria", 1)
    store.people.map(1, NIP, "right-index")
    clock = FakeClock()
    loop = loop_for(sensor, store, feedback, clock, repeat_window_s=60)
    sim.place("maria")
    assert loop.scan() is Outcome.PUNCH
    clock.advance(timedelta(seconds=30))
    assert loop.scan() is Outcome.REPEAT
    clock.set_time(clock.utc_now() + timedelta(hours=2))  # NTP step: the monotonic clock decides
    assert loop.scan() is Outcome.REPEAT
    clock.advance(timedelta(seconds=31))
    assert loop.scan() is Outcome.PUNCH
    clock.reboot()  # new boot: only the wall clock can compare
    assert loop.scan() is Outcome.REPEAT
    assert store.outbox.last_seq() == 2
    assert loop.counters.repeats == 3


def test_punch_unknown_and_unmapped_fingers_make_no_punch(
    sim: SimulatedR307, sensor: R307Sensor, store: Store, feedback: Feedback, pins: MockFactory
) -> None:
    enroll(sim, sensor, "agus", 2)  # in the module, but mapped to nobody
    loop = loop_for(sensor, store, feedback, FakeClock())
    sim.place("stranger")
    assert loop.scan() is Outcome.UNKNOWN
    sim.place("agus")
    assert loop.scan() is Outcome.UNKNOWN
    assert store.outbox.last_seq() == 0
    assert loop.counters.unknown == 2
    assert any(s.state for s in pins.pin(24).states)  # red


def test_punch_poor_image_and_no_finger(
    sim: SimulatedR307, sensor: R307Sensor, store: Store, feedback: Feedback
) -> None:
    loop = loop_for(sensor, store, feedback, FakeClock())
    assert loop.scan() is Outcome.NO_FINGER
    sim.place("x", "wet")
    assert loop.scan() is Outcome.POOR_IMAGE
    assert store.outbox.last_seq() == 0


def test_punch_unplugged_module_is_a_fault_state_until_it_returns(
    sim: SimulatedR307, sensor: R307Sensor, store: Store, feedback: Feedback
) -> None:
    enroll(sim, sensor, "rina", 0)
    store.people.map(0, NIP, "right-index")
    loop = loop_for(sensor, store, feedback, FakeClock())
    sim.unplug()
    assert loop.scan() is Outcome.SENSOR_FAULT
    assert feedback.has_sensor_fault
    sim.replug()
    sim.place("rina")
    outcome = Outcome.SENSOR_FAULT
    for _ in range(100):
        outcome = loop.scan()
        if outcome is not Outcome.SENSOR_FAULT:
            break
        threading.Event().wait(0.05)
    assert outcome is Outcome.PUNCH
    assert not feedback.has_sensor_fault


def test_punch_store_failure_never_says_ok(
    sim: SimulatedR307, sensor: R307Sensor, tmp_path: Path, feedback: Feedback
) -> None:
    path = tmp_path / "edge.db"
    with Store(path) as writable:
        writable.people.map(0, NIP, "right-index")
    enroll(sim, sensor, "rina", 0)
    oks: list[bool] = []
    feedback.ok = lambda: oks.append(True)  # type: ignore[method-assign]
    with Store(path, read_only=True) as store:  # a read-only file system, as far as SQLite can tell
        loop = loop_for(sensor, store, feedback, FakeClock())
        sim.place("rina")
        assert loop.scan() is Outcome.STORE_FAULT
        assert oks == []
        assert feedback.has_store_fault
        assert loop.counters.store_faults == 1


def test_punch_loop_scans_on_the_touch_line(
    sim: SimulatedR307, sensor: R307Sensor, store: Store, feedback: Feedback, pins: MockFactory
) -> None:
    enroll(sim, sensor, "yohanes", 3)
    store.people.map(3, NIP, "right-index")
    touch = TouchLine(17, pin_factory=pins)
    pin = pins.pin(17)
    # The module's touch output: low while a finger is on the glass (wired by the test).
    sim.on_touch(lambda touching: pin.drive_low() if touching else pin.drive_high())
    done = threading.Event()
    loop = loop_for(
        sensor,
        store,
        feedback,
        FakeClock(),
        touch=touch.wait_for_touch,
        on_punch=lambda _: done.set(),
    )
    runner = threading.Thread(target=loop.run)
    runner.start()
    try:
        commands = sim.commands_seen
        threading.Event().wait(0.3)
        assert sim.commands_seen == commands  # no finger, no polling: the loop waits on the line
        sim.place("yohanes")
        assert done.wait(5)
        sim.lift()
    finally:
        loop.stop()
        runner.join(5)
        touch.close()
    assert store.outbox.last_seq() == 1
