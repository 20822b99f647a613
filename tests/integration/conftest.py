"""Integration fixtures: a real mosquitto per test on a free port, and the acknowledging peer."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.ackpeer import AckPeer
from tests.integration.broker import Broker


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    folder = tmp_path / "broker"
    folder.mkdir()
    b = Broker(folder)
    b.start()
    yield b
    b.stop()


@pytest.fixture
def peer(broker: Broker, tmp_path: Path) -> Iterator[AckPeer]:
    p = AckPeer(broker.port, tmp_path / "central.db")
    p.start()
    assert p.connected.wait(10)
    yield p
    p.stop()


def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll ``check`` until it holds; fail with ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.02)


class CentralUnderTest:
    """The real collector on a fresh SQLite database, with terminals registered on demand."""

    def __init__(self, url: str, port: int) -> None:
        from central.db import make_engine
        from tests.integration.central_fixture import start_collector

        self.engine = make_engine(url)
        self.collector = start_collector(self.engine, port)

    def register(self, *devices: str) -> None:
        from tests.integration.central_fixture import register

        register(self.engine, *devices)

    def punches(self, dev: str) -> list[tuple[int, str, str]]:
        from tests.integration.central_fixture import punches

        return punches(self.engine, dev)

    def close(self) -> None:
        self.collector.stop()
        self.engine.dispose()


@pytest.fixture
def central(broker: Broker, tmp_path: Path) -> Iterator[CentralUnderTest]:
    """The real collector (issue 4) as the receiving side of the edge's tests."""
    from central.db import upgrade

    url = f"sqlite:///{tmp_path / 'central.db'}"
    upgrade(url)
    c = CentralUnderTest(url, broker.port)
    yield c
    c.close()
