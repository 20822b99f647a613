"""Sample data for the store tests: a fixed instant, a settable clock, plausible punch fields."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2026, 11, 30, 0, 30, tzinfo=UTC)


class FakeClock:
    """A UTC clock the test moves by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def punch_fields(n: int = 0, **overrides: Any) -> dict[str, Any]:
    """Fields for one plausible punch, varied by ``n``."""
    fields: dict[str, Any] = {
        "person_id": f"person-{n % 5}",
        "slot": n % 5,
        "score": 40 + n,
        "at": T0 + timedelta(seconds=n),
        "clock_synced": n % 2 == 0,
        "boot_id": "3f1c8a52-0000-4000-8000-000000000001",
        "mono_ns": 1_000_000_000 + n,
    }
    fields.update(overrides)
    return fields
