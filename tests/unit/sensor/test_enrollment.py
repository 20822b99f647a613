"""Module-level enrollment: the person follows the prompts, played by the test on the sim."""

from __future__ import annotations

import pytest

from edge.sensor import DuplicateFinger, EnrollMismatch, R307Sensor, Slot
from edge.sensor.enrollment import Step, enroll
from edge.sensor.sim import SimulatedR307


def person(sim: SimulatedR307, fingers: list[str], quality_first: str = "good"):  # type: ignore[no-untyped-def]
    """A person who places the next finger of ``fingers`` whenever asked, and lifts it."""
    presses = iter(fingers)
    steps: list[Step] = []
    first = [True]

    def on_step(step: Step) -> None:
        steps.append(step)
        if step in (Step.PLACE, Step.PLACE_AGAIN, Step.RETRY):
            if step is Step.RETRY:
                sim.lift()
                return
            sim.place(next(presses), quality_first if first[0] else "good")
            first[0] = False
        elif step is Step.LIFT:
            sim.lift()

    return on_step, steps


def retry_then_place(sim: SimulatedR307, finger: str):  # type: ignore[no-untyped-def]
    steps: list[Step] = []

    def on_step(step: Step) -> None:
        steps.append(step)
        if step is Step.PLACE:
            sim.place(finger, "wet")
        elif step is Step.RETRY:
            sim.lift()
        elif step is Step.PLACE_AGAIN:
            sim.place(finger)
        elif step is Step.LIFT:
            sim.lift()

    return on_step, steps


def test_enrollment_stores_a_verified_template(sim: SimulatedR307, sensor: R307Sensor) -> None:
    on_step, steps = person(sim, ["rina", "rina", "rina"])
    score = enroll(sensor, Slot(12), on_step, timeout_s=5, poll_s=0.01)
    assert score >= 50
    assert steps == [
        Step.PLACE,
        Step.LIFT,
        Step.PLACE_AGAIN,
        Step.LIFT,
        Step.PLACE_AGAIN,
        Step.DONE,
    ]
    assert sensor.used_slots() == frozenset({Slot(12)})
    sim.place("rina")
    match = sensor.identify()
    assert match is not None and match.slot == 12


def test_enrollment_refuses_an_enrolled_finger(sim: SimulatedR307, sensor: R307Sensor) -> None:
    on_step, _ = person(sim, ["rina"] * 3)
    enroll(sensor, Slot(1), on_step, timeout_s=5, poll_s=0.01)
    sim.lift()
    on_step, _ = person(sim, ["rina"] * 3)
    with pytest.raises(DuplicateFinger) as err:
        enroll(sensor, Slot(2), on_step, timeout_s=5, poll_s=0.01)
    assert err.value.slot == 1
    assert sensor.used_slots() == frozenset({Slot(1)})


def test_enrollment_refuses_two_different_fingers(sim: SimulatedR307, sensor: R307Sensor) -> None:
    on_step, _ = person(sim, ["rina", "sari", "sari"])
    with pytest.raises(EnrollMismatch):
        enroll(sensor, Slot(3), on_step, timeout_s=5, poll_s=0.01)
    assert sensor.used_slots() == frozenset()


def test_enrollment_third_press_must_match(sim: SimulatedR307, sensor: R307Sensor) -> None:
    on_step, _ = person(sim, ["rina", "rina", "sari"])
    with pytest.raises(EnrollMismatch, match="third press"):
        enroll(sensor, Slot(3), on_step, timeout_s=5, poll_s=0.01)
    assert sensor.used_slots() == frozenset()


def test_enrollment_asks_again_after_a_poor_image(sim: SimulatedR307, sensor: R307Sensor) -> None:
    on_step, steps = retry_then_place(sim, "tono")
    enroll(sensor, Slot(4), on_step, timeout_s=5, poll_s=0.01)
    assert steps[:3] == [Step.PLACE, Step.RETRY, Step.PLACE_AGAIN]
    assert steps[-1] is Step.DONE
