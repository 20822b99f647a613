"""The unmodified pyfingerprint 1.5 against the simulator, for every model profile.

Every method the driver uses is exercised with real outcomes: slots, scores, counts, template
bytes that round-trip exactly, and a library that survives a simulator restart.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pyfingerprint.pyfingerprint import PyFingerprint

from edge.sensor.sim import SimulatedR307

CAPACITY = {"r307": 1000, "zfm20": 162, "as608": 300, "r503": 200}


@pytest.fixture(params=sorted(CAPACITY))
def model(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def module(model: str, tmp_path: Path) -> Iterator[tuple[SimulatedR307, PyFingerprint]]:
    sim = SimulatedR307(model, "instant", seed=3, flash_path=str(tmp_path / "flash.bin")).start()
    fp = PyFingerprint(sim.port, 57600)
    yield sim, fp
    sim.stop()


def enroll(sim: SimulatedR307, fp: PyFingerprint, finger: str, slot: int) -> None:
    sim.place(finger)
    assert fp.readImage()
    fp.convertImage(1)
    sim.lift()
    sim.place(finger)
    assert fp.readImage()
    fp.convertImage(2)
    assert fp.createTemplate()
    assert fp.storeTemplate(slot, 1) == slot
    sim.lift()


def scan(sim: SimulatedR307, fp: PyFingerprint, finger: str) -> tuple[int, int]:
    sim.place(finger)
    assert fp.readImage()
    fp.convertImage(1)
    sim.lift()
    return tuple(fp.searchTemplate())  # type: ignore[return-value]


def test_pyfingerprint_reads_parameters_per_profile(
    module: tuple[SimulatedR307, PyFingerprint], model: str
) -> None:
    _, fp = module
    assert fp.verifyPassword() is True
    status, system_id, capacity, security, address, packet_code, baud_n = fp.getSystemParameters()
    assert (capacity, security, address, packet_code, baud_n) == (
        CAPACITY[model],
        3,
        0xFFFFFFFF,
        2,
        6,
    )
    assert system_id == 0
    assert status & 0b100  # PWD bit: the default password counts as verified
    assert fp.getStorageCapacity() == CAPACITY[model]
    assert fp.getMaxPacketSize() == 128
    assert fp.getBaudRate() == 57600
    assert fp.getTemplateCount() == 0


def test_pyfingerprint_enroll_then_search_finds_slot(
    module: tuple[SimulatedR307, PyFingerprint], model: str
) -> None:
    sim, fp = module
    last = CAPACITY[model] - 1
    enroll(sim, fp, "ani", 0)
    enroll(sim, fp, "budi", last)
    assert fp.getTemplateCount() == 2
    slot, score = scan(sim, fp, "budi")
    assert slot == last
    assert score >= 50
    assert scan(sim, fp, "ani")[0] == 0
    assert scan(sim, fp, "citra") == (-1, -1)
    index = fp.getTemplateIndex(0)
    assert len(index) == 256
    assert index[0] is True and index[1] is False


def test_pyfingerprint_compare_scores_same_finger_high_other_zero(
    module: tuple[SimulatedR307, PyFingerprint],
) -> None:
    sim, fp = module
    sim.place("dewi")
    fp.readImage()
    fp.convertImage(1)
    sim.place("dewi")
    fp.readImage()
    fp.convertImage(2)
    same = fp.compareCharacteristics()
    sim.place("eko")
    fp.readImage()
    fp.convertImage(2)
    assert same >= 100
    assert fp.compareCharacteristics() == 0
    assert fp.createTemplate() is False  # RegModel refuses two different fingers


def test_pyfingerprint_captures_of_one_finger_differ(
    module: tuple[SimulatedR307, PyFingerprint],
) -> None:
    sim, fp = module
    sim.place("fajar")
    seen = set()
    for _ in range(3):
        fp.readImage()
        fp.convertImage(1)
        seen.add(tuple(fp.downloadCharacteristics(1)))
    assert len(seen) == 3


def test_pyfingerprint_template_bytes_round_trip_exactly(
    module: tuple[SimulatedR307, PyFingerprint], model: str
) -> None:
    sim, fp = module
    enroll(sim, fp, "gita", 4)
    assert fp.loadTemplate(4, 1)
    exported = fp.downloadCharacteristics(1)
    assert len(exported) == 512
    assert fp.deleteTemplate(4)
    assert fp.getTemplateCount() == 0
    assert fp.uploadCharacteristics(1, exported) is True
    assert fp.storeTemplate(9, 1) == 9
    fp.loadTemplate(9, 1)
    assert fp.downloadCharacteristics(1) == exported
    assert scan(sim, fp, "gita")[0] == 9


@pytest.mark.parametrize("size", [32, 64, 128, 256])
def test_pyfingerprint_packet_sizes_move_whole_templates(size: int, tmp_path: Path) -> None:
    with SimulatedR307("r307", seed=1) as sim:
        fp = PyFingerprint(sim.port, 57600)
        fp.setMaxPacketSize(size)
        assert fp.getMaxPacketSize() == size
        enroll(sim, fp, "hadi", 1)
        fp.loadTemplate(1, 1)
        data = fp.downloadCharacteristics(1)
        assert len(data) == 512
        assert fp.uploadCharacteristics(2, data) is True


def test_pyfingerprint_poor_images_raise_their_messages(
    module: tuple[SimulatedR307, PyFingerprint],
) -> None:
    sim, fp = module
    for quality, message in (
        ("wet", "too messy"),
        ("dry", "too few feature points"),
        ("partial", "too few"),
    ):
        sim.place("indah", quality)
        assert fp.readImage()
        with pytest.raises(Exception, match=message):
            fp.convertImage(1)
    sim.place("indah", "smudge")
    with pytest.raises(Exception, match="Could not read image"):
        fp.readImage()
    sim.lift()
    assert fp.readImage() is False


def test_pyfingerprint_delete_and_clear(module: tuple[SimulatedR307, PyFingerprint]) -> None:
    sim, fp = module
    for slot, finger in enumerate(("joko", "kartika", "lina")):
        enroll(sim, fp, finger, slot)
    assert fp.deleteTemplate(1)
    assert fp.getTemplateCount() == 2
    assert scan(sim, fp, "kartika") == (-1, -1)
    assert fp.clearDatabase()
    assert fp.getTemplateCount() == 0
    with pytest.raises(Exception, match="could not be read"):
        fp.loadTemplate(0, 1)


def test_pyfingerprint_library_survives_simulator_restart(tmp_path: Path) -> None:
    flash = str(tmp_path / "flash.bin")
    with SimulatedR307("r307", flash_path=flash, seed=1) as sim:
        fp = PyFingerprint(sim.port, 57600)
        enroll(sim, fp, "maria", 123)
        fp.setSecurityLevel(4)
        sim.place("maria")
        fp.readImage()
        fp.convertImage(2)  # something in a volatile buffer
        del fp
    with SimulatedR307("r307", flash_path=flash, seed=2) as sim:
        fp = PyFingerprint(sim.port, 57600)
        assert fp.getTemplateCount() == 1
        assert fp.getSecurityLevel() == 4
        assert fp.compareCharacteristics() == 0  # buffers did not survive
        assert scan(sim, fp, "maria")[0] == 123


def test_pyfingerprint_password_is_required_after_power_up(tmp_path: Path) -> None:
    with SimulatedR307("r307", seed=1) as sim:
        fp = PyFingerprint(sim.port, 57600)
        assert fp.setPassword(0x12345678)
        sim.power_cycle()
        with pytest.raises(Exception, match="0x21"):
            fp.getTemplateCount()
        assert fp.verifyPassword() is True  # pyfingerprint now holds the new password
        assert fp.getTemplateCount() == 0
        wrong = PyFingerprint(sim.port, 57600, 0xFFFFFFFF, 0x1)
        assert wrong.verifyPassword() is False


def test_pyfingerprint_address_change_takes_effect(tmp_path: Path) -> None:
    with SimulatedR307("r307", seed=1) as sim:
        fp = PyFingerprint(sim.port, 57600)
        assert fp.setAddress(0x0000ABCD)
        assert fp.getTemplateCount() == 0  # pyfingerprint now addresses the new address
        params = fp.getSystemParameters()
        assert params[4] == 0x0000ABCD


def test_pyfingerprint_downloads_a_whole_image(
    module: tuple[SimulatedR307, PyFingerprint], tmp_path: Path, model: str
) -> None:
    sim, fp = module
    sim.place("nina")
    fp.readImage()
    target = tmp_path / "finger.bmp"
    if model == "r503":
        # pyfingerprint hard-codes 256x288; the R503's 192x192 image is too short for it, and
        # it fails the way issue #50 reports for other small sensors (§6.4).
        with pytest.raises(IndexError):
            fp.downloadImage(str(target))
        return
    fp.downloadImage(str(target))
    assert target.stat().st_size > 256 * 288


def test_pyfingerprint_random_numbers_vary(module: tuple[SimulatedR307, PyFingerprint]) -> None:
    _, fp = module
    assert len({fp.generateRandomNumber() for _ in range(5)}) == 5
