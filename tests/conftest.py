"""Fixtures shared by every test: simulated modules and drivers on their ptys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.sensor import R307Sensor
from edge.sensor.sim import SimulatedR307

# Short deadlines keep the fault tests fast; the simulator's LATE reply comes after them.
FAST = {
    "timeout_s": 0.4,
    "retries": 2,
    "backoff_initial_s": 0.05,
    "backoff_max_s": 0.4,
    "power_off_s": 0.01,
    "boot_s": 0.05,
}


@pytest.fixture
def sim() -> Iterator[SimulatedR307]:
    """A simulated R307 (1000 slots) answering instantly."""
    with SimulatedR307("r307", "instant", seed=7, late_s=0.7) as s:
        yield s


@pytest.fixture
def sensor(sim: SimulatedR307) -> Iterator[R307Sensor]:
    """The driver on the simulator's pty, with test-sized deadlines."""
    drv = R307Sensor(sim.port, **FAST)  # type: ignore[arg-type]
    yield drv
    drv.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated central database: a SQLite file, and PostgreSQL where reachable."""
    from central.db import upgrade
    from tests.db import database

    with database(str(request.param), tmp_path) as url:
        upgrade(url)
        yield url
