"""What the terminal shows and hears on GPIO: LEDs and buzzer, the touch line, the power switch.

Three small classes over gpiozero, each taking its pin factory as an argument (never the global
``Device.pin_factory``), so the daemon passes the real factory and tests pass ``MockFactory()``:

* :class:`Feedback`: green, red and amber LEDs and a buzzer, playing the terminal's events.
* :class:`TouchLine`: the R307's finger-detect output (module pin 5) on a GPIO input.
* :class:`GpioPowerSwitch`: the transistor switch on the module's 5 V supply; it fits
  ``edge.sensor.protocol.PowerSwitch`` by shape, so this module does not import the sensor layer.

The wiring, the default pins and the part values are in ``hardware.md``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from gpiozero import LED, Button, Buzzer, DigitalOutputDevice

if TYPE_CHECKING:
    from gpiozero.pins import Factory

__all__ = ["Feedback", "FeedbackTiming", "GpioPowerSwitch", "TouchLine"]


@dataclass(frozen=True, slots=True)
class FeedbackTiming:
    """How long each part of a pattern lasts, in seconds (tests shorten them).

    Attributes:
        show_s: how long the green (accepted) or red (unknown finger) LED stays lit.
        beep_s: one short beep.
        beep_gap_s: the silence between the two beeps of "unknown finger".
        retry_blink_s: on and off time of the amber "try again" blink.
        retry_blinks: how many times amber blinks for "try again".
        refuse_beep_s: the long beep of a press whose punch could not be stored.
        slow_on_s: on time of the steady offline (amber) and sensor-fault (red) blink.
        slow_off_s: off time of that blink; long, so a state never looks like an answer.
    """

    show_s: float = 1.0
    beep_s: float = 0.1
    beep_gap_s: float = 0.1
    retry_blink_s: float = 0.15
    retry_blinks: int = 3
    refuse_beep_s: float = 1.0
    slow_on_s: float = 0.5
    slow_off_s: float = 1.5

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value <= 0:
                raise ValueError(f"FeedbackTiming.{f.name}: must be > 0, got {value!r}")


class Feedback:
    """The terminal's LEDs and buzzer. Every method returns at once; patterns run in background.

    Two kinds of signal share the LEDs:

    * **Answers** to one press: :meth:`ok`, :meth:`unknown_finger`, :meth:`poor_image`. An answer
      lights its LED for a moment, beeps, then hands the LED back to the states. A new answer cuts
      the previous one short; :meth:`idle` ends it now.
    * **States** that last until they are cleared: offline (amber slow blink: the central is
      unreachable and punches are being buffered), sensor fault (red slow blink) and store fault
      (red and amber slow blink together: punches cannot be stored, call a technician). They
      keep showing under and after answers that use other LEDs.

    The caller calls :meth:`ok` only after the punch is durably committed: green means "stored".

    Any pin may be ``None`` (not wired); its part of a pattern is skipped. Safe to call from
    several threads (the punch loop gives answers, the publisher sets offline).

    Args:
        green: BCM pin of the green LED, or None.
        red: BCM pin of the red LED, or None.
        amber: BCM pin of the amber LED, or None.
        buzzer: BCM pin driving the buzzer's transistor, or None.
        pin_factory: gpiozero pin factory; None means gpiozero's default (the real pins).
        timing: pattern durations; the defaults suit people at a terminal.
    """

    def __init__(
        self,
        green: int | None,
        red: int | None,
        amber: int | None,
        buzzer: int | None,
        *,
        pin_factory: Factory | None = None,
        timing: FeedbackTiming | None = None,
    ) -> None:
        self._t = timing or FeedbackTiming()
        self._lock = threading.Lock()
        self._devices: list[Any] = []
        self._offline = False
        self._sensor_fault = False
        self._store_fault = False
        self._closed = False
        self._gen = 0  # bumped by every answer, idle() and close(); stale timers check it
        self._timer: threading.Timer | None = None
        self._claimed: Any = None  # the LED the current answer is using
        try:
            self._green = self._open(LED, green, pin_factory)
            self._red = self._open(LED, red, pin_factory)
            self._amber = self._open(LED, amber, pin_factory)
            self._buzzer = self._open(Buzzer, buzzer, pin_factory)
        except BaseException:
            self.close()  # release the pins already claimed, so a retry can have them
            raise

    def _open(self, cls: Any, pin: int | None, factory: Factory | None) -> Any:
        if pin is None:
            return None
        device = cls(pin, pin_factory=factory)
        self._devices.append(device)
        return device

    # -- answers -----------------------------------------------------------------------------

    def ok(self) -> None:
        """The punch is stored: green for ``show_s`` and one short beep."""
        self._answer(self._green, lambda led: led.on(), beeps=1, lit_s=self._t.show_s)

    def unknown_finger(self) -> None:
        """No match in the library: red for ``show_s`` and two short beeps."""
        self._answer(self._red, lambda led: led.on(), beeps=2, lit_s=self._t.show_s)

    def poor_image(self) -> None:
        """The image was unusable (dry, wet or misplaced finger): amber blinks, one beep."""
        t = self._t
        self._answer(
            self._amber,
            lambda led: led.blink(t.retry_blink_s, t.retry_blink_s, n=t.retry_blinks),
            beeps=1,
            lit_s=2 * t.retry_blink_s * t.retry_blinks,
        )

    def captured(self) -> None:
        """An enrollment press was taken, lift the finger: one short beep, no LED.

        No LED on purpose: green means "stored", and nothing is stored until the last press;
        the beep is the cue a person at the glass needs to lift.
        """
        self._answer(None, lambda _led: None, beeps=1, lit_s=0.0)

    def idle(self) -> None:
        """End any answer now (LED back to its state, buzzer silent); the states stay."""
        with self._lock:
            if not self._closed:
                self._end_answer()

    # -- states ------------------------------------------------------------------------------

    def set_offline(self, offline: bool) -> None:
        """Show or clear "central unreachable, punches buffered" (amber slow blink)."""
        with self._lock:
            if self._closed or offline == self._offline:
                return  # re-setting the same state must not restart the blink's phase
            self._offline = offline
            if self._claimed is not self._amber:
                self._show_state(self._amber)

    def set_sensor_fault(self, fault: bool) -> None:
        """Show or clear "sensor offline or misconfigured" (red slow blink)."""
        with self._lock:
            if self._closed or fault == self._sensor_fault:
                return
            self._sensor_fault = fault
            if self._claimed is not self._red:
                self._show_state(self._red)

    def set_store_fault(self, fault: bool) -> None:
        """Show or clear "punches cannot be stored" (red and amber slow blink together).

        Every call with True also answers the press whose punch was just refused: red for
        ``show_s`` and one long beep, so nobody walks away believing they punched. Call it with
        True once per refused punch, not from periodic checks.
        """
        if not fault:
            with self._lock:
                if self._closed or not self._store_fault:
                    return
                self._store_fault = False
                self._show_states()
            return
        with self._lock:
            if self._closed:
                return
            if not self._store_fault:
                self._store_fault = True
                self._show_states()
        t = self._t
        self._answer(
            self._red, lambda led: led.on(), beeps=1, lit_s=t.show_s, beep_s=t.refuse_beep_s
        )

    def buffered(self) -> None:
        """Enter the offline state; the same as ``set_offline(True)``."""
        self.set_offline(True)

    def sensor_fault(self) -> None:
        """Enter the sensor-fault state; the same as ``set_sensor_fault(True)``."""
        self.set_sensor_fault(True)

    @property
    def is_offline(self) -> bool:
        """Whether the offline (buffering) state is shown."""
        return self._offline

    @property
    def has_sensor_fault(self) -> bool:
        """Whether the sensor-fault state is shown."""
        return self._sensor_fault

    @property
    def has_store_fault(self) -> bool:
        """Whether the store-fault state is shown."""
        return self._store_fault

    def close(self) -> None:
        """Stop every pattern and release the pins. Idempotent; later calls do nothing."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._gen += 1
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
            timer.join()  # outside the lock: a firing timer waits for it, then sees _closed
        for device in reversed(self._devices):
            device.close()
        self._devices.clear()

    # -- internals: _answer and _answer_done take the lock, the others expect it held --------

    def _answer(
        self,
        led: Any,
        start: Callable[[Any], None],
        *,
        beeps: int,
        lit_s: float,
        beep_s: float | None = None,
    ) -> None:
        t = self._t
        on_s = t.beep_s if beep_s is None else beep_s
        with self._lock:
            if self._closed:
                return
            self._end_answer()
            if led is not None:
                self._claimed = led
                start(led)  # gpiozero's blink runs in its own thread; on() returns at once
            if self._buzzer is not None:
                self._buzzer.beep(on_s, t.beep_gap_s, n=beeps)
            sound_s = beeps * on_s + (beeps - 1) * t.beep_gap_s
            timer = threading.Timer(max(lit_s, sound_s), self._answer_done, args=(self._gen,))
            timer.daemon = True
            self._timer = timer
            timer.start()

    def _answer_done(self, gen: int) -> None:
        with self._lock:
            if self._closed or gen != self._gen:
                return  # a newer answer, idle() or close() already took over
            self._timer = None
            self._end_answer()

    def _end_answer(self) -> None:
        self._gen += 1
        if self._timer is not None:
            # Cancel only: joining here could deadlock with a timer waiting for the lock.
            self._timer.cancel()
            self._timer = None
        if self._buzzer is not None:
            self._buzzer.off()
        claimed, self._claimed = self._claimed, None
        if claimed is self._green:
            self._show_state(claimed)
        elif claimed is not None:
            # Restart red and amber together, so a store fault's two blinks stay in step.
            self._show_states()

    def _show_states(self) -> None:
        for led in (self._red, self._amber):
            if led is not self._claimed:
                self._show_state(led)

    def _show_state(self, led: Any) -> None:
        if led is None:
            return
        if led is self._amber:
            blinking = self._offline or self._store_fault
        elif led is self._red:
            blinking = self._sensor_fault or self._store_fault
        else:
            blinking = False
        if blinking:
            led.blink(self._t.slow_on_s, self._t.slow_off_s)
        else:
            led.off()


class TouchLine:
    """The R307's finger-detect output ("Touch", module pin 5) on a GPIO input.

    The module pulls the line low while a finger is on the window (r307-protocol.md §5.1, §8.1).
    The input uses the Pi's internal pull-up: the datasheets do not say whether the output is
    push-pull or open-drain, and a pull-up is right for both (a push-pull driver simply overrides
    it; an open-drain one needs it). It also makes a loose wire or an unpowered touch circuit read
    as "no finger" instead of a floating input firing phantom presses. Power the module's 3.3VT
    pin (pin 6) from the Pi's 3.3 V, so a push-pull high can never exceed the GPIO's 3.3 V.

    Args:
        pin: BCM pin the Touch wire goes to.
        pin_factory: gpiozero pin factory; None means gpiozero's default.
    """

    def __init__(self, pin: int, *, pin_factory: Factory | None = None) -> None:
        self._button = Button(pin, pull_up=True, pin_factory=pin_factory)
        self._when_touched: Callable[[], None] | None = None

    @property
    def is_touched(self) -> bool:
        """Whether a finger is on the sensor now (the line is low)."""
        return bool(self._button.is_pressed)

    @property
    def when_touched(self) -> Callable[[], None] | None:
        """Called with no arguments when a finger arrives (falling edge); None to stop.

        It runs on gpiozero's event thread: keep it short (set an Event, put on a queue) and
        leave the capture to the punch loop, which owns the serial port.
        """
        return self._when_touched

    @when_touched.setter
    def when_touched(self, callback: Callable[[], None] | None) -> None:
        self._when_touched = callback
        self._button.when_pressed = callback

    def wait_for_touch(self, timeout: float | None = None) -> bool:
        """Block until a finger is on the sensor; False if ``timeout`` seconds passed first."""
        return bool(self._button.wait_for_press(timeout))

    def close(self) -> None:
        """Release the pin."""
        self._button.close()


class GpioPowerSwitch:
    """The switch on the module's 5 V supply, for clearing a hung module by cycling its power.

    Satisfies ``edge.sensor.protocol.PowerSwitch``. With the circuit in hardware.md the module is
    powered while the pin is high, and also while the pin is released (daemon stopped, Pi
    booting), so the bench tool works with the daemon stopped. The pin starts high: taking it
    over never cuts a running module.

    Args:
        pin: BCM pin driving the switch.
        active_high: True when a high pin powers the module (hardware.md's circuit); False for a
            load-switch board whose enable input is inverted.
        pin_factory: gpiozero pin factory; None means gpiozero's default.
    """

    def __init__(
        self, pin: int, *, active_high: bool = True, pin_factory: Factory | None = None
    ) -> None:
        self._device = DigitalOutputDevice(
            pin, active_high=active_high, initial_value=True, pin_factory=pin_factory
        )

    def on(self) -> None:
        """Restore the module's power (it then needs about a second to boot, §9 item 8)."""
        self._device.on()

    def off(self) -> None:
        """Cut the module's power."""
        self._device.off()

    @property
    def is_on(self) -> bool:
        """Whether the module is being powered."""
        return bool(self._device.is_active)

    def close(self) -> None:
        """Release the pin; hardware.md's circuit then keeps the module powered."""
        self._device.close()
