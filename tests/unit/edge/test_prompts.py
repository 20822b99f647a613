"""The prompt lines a person at the glass follows during an enrollment."""

from __future__ import annotations

from edge.prompts import press_step, say


def test_press_step_reads_the_enrollment_prompts_as_printed() -> None:
    assert press_step(say("place") + "\n") == "place"
    assert press_step(say("place-again")) == "place"
    assert press_step(say("lift")) == "lift"
    assert press_step(say("retry")) is None
    assert press_step(say("verify-place")) is None  # verify is not an enrollment press
    assert press_step("Terdaftar: ...") is None
