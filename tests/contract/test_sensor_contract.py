"""One suite for every module the driver can face: each simulated model, and real hardware.

On a Pi with a module wired: ``HADIR_TEST_SENSOR=/dev/r307 pytest tests/contract``. The tests
only use what needs no finger on the glass, and leave the module's library as they found it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from edge.sensor import R307Sensor, SensorState, Slot, open_sensor
from tests.conftest import FAST

SPECS = ["sim:r307", "sim:zfm20", "sim:as608", "sim:r503"]
if os.environ.get("HADIR_TEST_SENSOR"):
    SPECS.append(os.environ["HADIR_TEST_SENSOR"])


@pytest.fixture(params=SPECS)
def module(request: pytest.FixtureRequest) -> Iterator[R307Sensor]:
    spec = str(request.param)
    options = FAST if spec.startswith("sim:") else {}
    drv = open_sensor(spec, **options)
    yield drv
    drv.close()


def test_contract_reports_its_own_parameters(module: R307Sensor) -> None:
    info = module.info()
    assert info.capacity > 0
    assert info.packet_size in (32, 64, 128, 256)
    assert info.baud % 9600 == 0
    assert 1 <= info.security_level <= 5
    assert module.health().state is SensorState.OK


def test_contract_no_finger_reads_false(module: R307Sensor) -> None:
    assert module.read_image() is False


def test_contract_template_import_export_and_delete(module: R307Sensor) -> None:
    info = module.info()
    free = next(s for s in range(info.capacity - 1, -1, -1) if Slot(s) not in module.used_slots())
    slot = Slot(free)
    template = bytes([0x03, 0x01, 0x50, 0x60]) + bytes(range(96)) + bytes(156) + bytes(256)
    module.write_template(slot, template)
    try:
        assert slot in module.used_slots()
        assert module.read_template(slot)[:100] == template[:100]
    finally:
        module.delete(slot)
    assert slot not in module.used_slots()


def test_contract_index_matches_count(module: R307Sensor) -> None:
    assert len(module.used_slots()) == module.template_count()
