"""Store test fixtures: a real SQLite file under tmp_path, a settable clock, an appender."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from edge.store import Store, StoredPunch
from tests.unit.store.store_samples import FakeClock, punch_fields


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "edge.db"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(db_path: Path, clock: FakeClock) -> Iterator[Store]:
    with Store(db_path, utc_now=clock) as opened:
        yield opened


@pytest.fixture
def append(store: Store) -> Callable[..., StoredPunch]:
    """Append the n-th plausible punch to the store's outbox."""

    def _append(n: int = 0, **overrides: Any) -> StoredPunch:
        return store.outbox.append(**punch_fields(n, **overrides))

    return _append
