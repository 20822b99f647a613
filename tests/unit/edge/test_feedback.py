"""Feedback, TouchLine and GpioPowerSwitch on gpiozero's MockFactory, asserted on pin histories."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from gpiozero.exc import GPIOPinInUse
from gpiozero.pins.mock import MockFactory, MockPin

from edge.feedback import Feedback, FeedbackTiming, GpioPowerSwitch, TouchLine

GREEN, RED, AMBER, BUZZER, TOUCH, POWER = 23, 24, 25, 18, 27, 22

# Patterns shortened so the whole file runs in well under a second of waiting.
FAST = FeedbackTiming(
    show_s=0.1,
    beep_s=0.01,
    beep_gap_s=0.01,
    retry_blink_s=0.01,
    retry_blinks=3,
    refuse_beep_s=0.02,
    slow_on_s=0.01,
    slow_off_s=0.01,
)


def wait_for(condition: Callable[[], bool], deadline_s: float = 2.0) -> None:
    """Poll ``condition`` until it holds; fail the test at the deadline."""
    end = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > end:
            pytest.fail("condition not met before the deadline")
        time.sleep(0.002)


def pulses(pin: MockPin) -> int:
    """How many times the pin went high."""
    return sum(1 for s in pin.states[1:] if s.state)


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    f = MockFactory()
    try:
        yield f
    finally:
        f.reset()


@pytest.fixture
def fb(factory: MockFactory) -> Iterator[Feedback]:
    feedback = Feedback(GREEN, RED, AMBER, BUZZER, pin_factory=factory, timing=FAST)
    try:
        yield feedback
    finally:
        feedback.close()


def test_feedback_ok_lights_green_then_turns_it_off(fb: Feedback, factory: MockFactory) -> None:
    green, buzzer = factory.pin(GREEN), factory.pin(BUZZER)
    fb.ok()
    assert green.state  # on before ok() returns: the caller has already committed the punch
    wait_for(lambda: not green.state)
    wait_for(lambda: not buzzer.state)
    assert [s.state for s in green.states] == [False, True, False]
    assert pulses(buzzer) == 1
    assert pulses(factory.pin(RED)) == 0
    assert pulses(factory.pin(AMBER)) == 0


def test_feedback_unknown_finger_red_and_two_beeps(fb: Feedback, factory: MockFactory) -> None:
    red, buzzer = factory.pin(RED), factory.pin(BUZZER)
    fb.unknown_finger()
    assert red.state
    wait_for(lambda: not red.state)
    wait_for(lambda: pulses(buzzer) == 2 and not buzzer.state)
    assert [s.state for s in buzzer.states] == [False, True, False, True, False]
    assert pulses(factory.pin(GREEN)) == 0


def test_feedback_captured_beeps_once_and_lights_nothing(
    fb: Feedback, factory: MockFactory
) -> None:
    buzzer = factory.pin(BUZZER)
    fb.set_offline(True)
    fb.captured()
    wait_for(lambda: pulses(buzzer) == 1 and not buzzer.state)
    assert pulses(factory.pin(GREEN)) == 0  # green means "stored": not yet
    assert pulses(factory.pin(RED)) == 0
    wait_for(lambda: pulses(factory.pin(AMBER)) >= 2)  # the offline state blinks on through it


def test_feedback_poor_image_blinks_amber_and_beeps_once(
    fb: Feedback, factory: MockFactory
) -> None:
    amber, buzzer = factory.pin(AMBER), factory.pin(BUZZER)
    fb.poor_image()
    wait_for(lambda: pulses(amber) == FAST.retry_blinks and not amber.state)
    wait_for(lambda: not buzzer.state)
    assert pulses(buzzer) == 1
    fb.ok()  # a whole later answer: amber must stay dark through it
    wait_for(lambda: pulses(factory.pin(GREEN)) == 1 and not factory.pin(GREEN).state)
    assert pulses(amber) == FAST.retry_blinks


def test_feedback_set_offline_blinks_amber_until_cleared(
    fb: Feedback, factory: MockFactory
) -> None:
    amber = factory.pin(AMBER)
    fb.set_offline(True)
    assert fb.is_offline
    wait_for(lambda: pulses(amber) >= 3)  # still going: a state, not a one-off
    fb.set_offline(False)
    assert not amber.state  # stopped synchronously, LED left dark
    n = pulses(amber)
    fb.ok()  # a whole later answer: the blink must not come back during it
    wait_for(lambda: pulses(factory.pin(GREEN)) == 1 and not factory.pin(GREEN).state)
    assert pulses(amber) == n


def test_feedback_offline_keeps_blinking_through_an_ok(fb: Feedback, factory: MockFactory) -> None:
    amber, green = factory.pin(AMBER), factory.pin(GREEN)
    fb.set_offline(True)
    fb.ok()  # buffered punches are still stored: green, while amber says "not sent yet"
    assert green.state
    before = pulses(amber)
    wait_for(lambda: pulses(amber) >= before + 2)
    wait_for(lambda: not green.state)


def test_feedback_poor_image_hands_amber_back_to_the_offline_state(
    fb: Feedback, factory: MockFactory
) -> None:
    amber = factory.pin(AMBER)
    fb.set_offline(True)
    fb.poor_image()
    wait_for(lambda: pulses(amber) >= FAST.retry_blinks + 3)  # try-again blinks, then the state
    fb.set_offline(False)
    assert not amber.state


def test_feedback_sensor_fault_blinks_red_until_cleared(fb: Feedback, factory: MockFactory) -> None:
    red = factory.pin(RED)
    fb.sensor_fault()
    assert fb.has_sensor_fault
    wait_for(lambda: pulses(red) >= 3)
    fb.set_sensor_fault(False)
    assert not red.state
    assert not fb.has_sensor_fault


def test_feedback_store_fault_refuses_each_press_and_blinks_red_and_amber(
    fb: Feedback, factory: MockFactory
) -> None:
    red, amber, buzzer = factory.pin(RED), factory.pin(AMBER), factory.pin(BUZZER)
    fb.set_store_fault(True)
    assert fb.has_store_fault
    assert red.state  # the refused press is answered at once: red and a long beep
    wait_for(lambda: pulses(buzzer) == 1)
    wait_for(lambda: pulses(amber) >= 2)  # the state is on: amber blinks...
    wait_for(lambda: pulses(red) >= 3)  # ...and red joins it once the answer is over
    fb.set_store_fault(True)  # the next refused press is answered again
    assert red.state
    wait_for(lambda: pulses(buzzer) == 2)
    fb.set_store_fault(False)
    assert not fb.has_store_fault
    wait_for(lambda: not red.state)  # red's answer may still be lit for show_s
    assert not amber.state


def test_feedback_clearing_store_fault_keeps_the_offline_state(
    fb: Feedback, factory: MockFactory
) -> None:
    amber, red = factory.pin(AMBER), factory.pin(RED)
    fb.set_offline(True)
    fb.set_store_fault(True)
    fb.set_store_fault(False)
    fb.idle()
    assert not red.state
    before = pulses(amber)
    wait_for(lambda: pulses(amber) >= before + 2)  # amber still says "offline"


def test_feedback_new_answer_cuts_the_previous_one_short(
    fb: Feedback, factory: MockFactory
) -> None:
    green, red = factory.pin(GREEN), factory.pin(RED)
    fb.unknown_finger()
    fb.ok()
    assert not red.state
    assert green.state


def test_feedback_idle_ends_the_answer_now(factory: MockFactory) -> None:
    slow = FeedbackTiming(show_s=30.0)  # would hold green for 30 s if idle() did nothing
    fb = Feedback(GREEN, None, None, BUZZER, pin_factory=factory, timing=slow)
    try:
        fb.ok()
        assert factory.pin(GREEN).state
        fb.idle()
        assert not factory.pin(GREEN).state
        assert not factory.pin(BUZZER).state
    finally:
        fb.close()


def test_feedback_unwired_pins_are_skipped(factory: MockFactory) -> None:
    fb = Feedback(None, None, None, None, pin_factory=factory, timing=FAST)
    try:
        fb.ok()
        fb.unknown_finger()
        fb.poor_image()
        fb.set_offline(True)
        fb.set_sensor_fault(True)
        fb.idle()
    finally:
        fb.close()
    assert factory.pins == {}  # nothing was claimed


def test_feedback_buzzer_only_still_beeps(factory: MockFactory) -> None:
    fb = Feedback(None, None, None, BUZZER, pin_factory=factory, timing=FAST)
    try:
        fb.unknown_finger()
        buzzer = factory.pin(BUZZER)
        wait_for(lambda: pulses(buzzer) == 2 and not buzzer.state)
    finally:
        fb.close()


def test_feedback_close_is_idempotent_and_later_calls_are_ignored(factory: MockFactory) -> None:
    fb = Feedback(GREEN, RED, AMBER, BUZZER, pin_factory=factory, timing=FAST)
    fb.set_offline(True)
    fb.ok()
    fb.close()
    fb.close()
    fb.ok()
    fb.set_sensor_fault(True)
    # The pins are free again: the daemon can rebuild Feedback after a config reload.
    Feedback(GREEN, RED, AMBER, BUZZER, pin_factory=factory, timing=FAST).close()


def test_feedback_pin_in_use_releases_the_pins_it_took(factory: MockFactory) -> None:
    with pytest.raises(GPIOPinInUse):
        Feedback(GREEN, RED, GREEN, None, pin_factory=factory)
    Feedback(GREEN, RED, None, None, pin_factory=factory).close()


def test_feedback_timing_rejects_non_positive_values() -> None:
    with pytest.raises(ValueError, match=r"FeedbackTiming\.beep_s: must be > 0, got 0"):
        FeedbackTiming(beep_s=0)


def test_touch_line_fires_when_the_module_pulls_it_low(factory: MockFactory) -> None:
    touch = TouchLine(TOUCH, pin_factory=factory)
    try:
        pin = factory.pin(TOUCH)
        assert pin.pull == "up"  # idle high; a loose wire reads "no finger"
        assert not touch.is_touched
        touched = threading.Event()
        touch.when_touched = touched.set
        assert touch.when_touched == touched.set
        pin.drive_low()
        assert touched.wait(1.0)
        assert touch.is_touched
        assert touch.wait_for_touch(0)
        pin.drive_high()
        assert not touch.is_touched
        assert not touch.wait_for_touch(0.01)
        touch.when_touched = None
        touched.clear()
        pin.drive_low()
        assert not touched.is_set()
    finally:
        touch.close()


def test_power_switch_starts_on_and_toggles_its_pin(factory: MockFactory) -> None:
    power = GpioPowerSwitch(POWER, pin_factory=factory)
    try:
        pin = factory.pin(POWER)
        assert pin.state  # taking the pin over never cuts a running module
        assert power.is_on
        power.off()
        assert not pin.state
        assert not power.is_on
        power.on()
        assert [s.state for s in pin.states][-3:] == [True, False, True]
    finally:
        power.close()


def test_power_switch_active_low_inverts_the_pin(factory: MockFactory) -> None:
    power = GpioPowerSwitch(POWER, active_high=False, pin_factory=factory)
    try:
        pin = factory.pin(POWER)
        assert not pin.state
        power.off()
        assert pin.state
    finally:
        power.close()
