"""The simulated module's flash: what survives closing the file and restarting the module."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edge.sensor.sim import profiles
from edge.sensor.sim.flash import NOTEPAD_PAGE_SIZE, NOTEPAD_PAGES, Flash, Settings
from edge.sensor.sim.framing import Packet, Reassembler
from edge.sensor.sim.model import R307Model
from tests.golden import r307_frames as golden

ADDR = 0xFFFFFFFF


def _defaults() -> Settings:
    return Settings(password=0, address=ADDR, security_level=3, packet_code=2, baud_n=6)


def _template(seed: int) -> bytes:
    return bytes((seed + i * 13) & 0xFF for i in range(512))


def make(path: Path, name: str = "r307") -> R307Model:
    return R307Model(profiles.model(name), profiles.timing("instant"), str(path), seed=1)


def ask(model: R307Model, command: bytes | Packet) -> list[Packet]:
    """Every packet the module answers ``command`` with, decoded."""
    if isinstance(command, bytes):
        (item,) = Reassembler().feed(command)
    else:
        item = command
    response = model.handle(item)
    assert response is not None
    out = Reassembler().feed(b"".join(response.frames))
    assert all(isinstance(p, Packet) for p in out)
    return out  # type: ignore[return-value]


def cmd(code: int, params: bytes = b"", address: int = ADDR) -> Packet:
    return Packet(address, 0x01, bytes((code,)) + params)


# -- Flash on its own -----------------------------------------------------------------------------


def test_flash_keeps_templates_notepad_and_settings_across_reopen(tmp_path: Path) -> None:
    path = str(tmp_path / "module.flash")
    flash = Flash(1000, 512, _defaults(), path)
    flash.write(0, _template(1))
    flash.write(999, _template(2))
    flash.write(7, _template(3))
    flash.erase(7)
    flash.write_notepad(0, b"hadir")
    flash.write_notepad(NOTEPAD_PAGES - 1, bytes(range(NOTEPAD_PAGE_SIZE)))
    flash.settings.password = 0x12345678
    flash.settings.address = 0x0A0B0C0D
    flash.settings.security_level = 5
    flash.settings.packet_code = 1
    flash.settings.baud_n = 12
    flash.save_settings()
    flash.close()

    again = Flash(1000, 512, _defaults(), path)
    try:
        assert again.used() == [0, 999]
        assert again.read(0) == _template(1)
        assert again.read(999) == _template(2)
        assert again.read(7) is None
        assert again.notepad(0) == b"hadir".ljust(NOTEPAD_PAGE_SIZE, b"\x00")
        assert again.notepad(NOTEPAD_PAGES - 1) == bytes(range(NOTEPAD_PAGE_SIZE))
        assert again.notepad(1) == bytes(NOTEPAD_PAGE_SIZE)
        assert again.settings == Settings(0x12345678, 0x0A0B0C0D, 5, 1, 12)
    finally:
        again.close()


def test_flash_new_file_starts_empty_with_defaults(tmp_path: Path) -> None:
    flash = Flash(200, 512, _defaults(), str(tmp_path / "new.flash"))
    try:
        assert flash.used() == []
        assert flash.read(0) is None
        assert flash.settings == _defaults()
    finally:
        flash.close()


def test_flash_without_file_keeps_nothing_between_instances() -> None:
    flash = Flash(162, 512, _defaults())
    flash.write(3, _template(9))
    assert flash.used() == [3]
    assert Flash(162, 512, _defaults()).used() == []


def test_flash_pads_short_and_cuts_long_templates(tmp_path: Path) -> None:
    flash = Flash(10, 512, _defaults(), str(tmp_path / "f"))
    try:
        flash.write(1, b"\x03\x01")
        flash.write(2, bytes(range(256)) * 3)
        assert flash.read(1) == b"\x03\x01" + bytes(510)
        assert flash.read(2) == (bytes(range(256)) * 2)
    finally:
        flash.close()


@pytest.mark.parametrize(("made", "opened"), [(1000, 200), (200, 1000), (162, 300)])
def test_flash_wrong_capacity_file_raises_value_error(
    tmp_path: Path, made: int, opened: int
) -> None:
    path = str(tmp_path / "module.flash")
    Flash(made, 512, _defaults(), path).close()
    with pytest.raises(ValueError, match=f"capacity {opened}"):
        Flash(opened, 512, _defaults(), path)


def test_flash_rejected_file_does_not_leak_its_descriptor(tmp_path: Path) -> None:
    path = str(tmp_path / "module.flash")
    Flash(1000, 512, _defaults(), path).close()
    before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(ValueError, match="capacity 200"):
        Flash(200, 512, _defaults(), path)
    assert len(os.listdir("/proc/self/fd")) == before


def test_flash_foreign_file_raises_value_error(tmp_path: Path) -> None:
    path = tmp_path / "not-flash.bin"
    path.write_bytes(b"this is not a flash image" * 100)
    with pytest.raises(ValueError, match="not a flash image"):
        Flash(1000, 512, _defaults(), str(path))


def test_model_on_wrong_capacity_flash_raises_value_error(tmp_path: Path) -> None:
    path = tmp_path / "module.flash"
    make(path, "r307").flash.close()
    with pytest.raises(ValueError, match="capacity 200"):
        make(path, "r503")


# -- R307Model restarted on the same flash ---------------------------------------------------------


def _enroll(model: R307Model, finger: str, slot: int) -> None:
    for buf in (1, 2):
        model.place(finger)
        assert ask(model, golden.GENIMG)[0].content == b"\x00"
        assert ask(model, cmd(0x02, bytes((buf,))))[0].content == b"\x00"
        model.lift()
    assert ask(model, cmd(0x05))[0].content == b"\x00"
    assert ask(model, cmd(0x06, b"\x01" + slot.to_bytes(2, "big")))[0].content == b"\x00"


def _search(model: R307Model, finger: str) -> bytes:
    model.place(finger)
    assert ask(model, golden.GENIMG)[0].content == b"\x00"
    assert ask(model, golden.IMG2TZ_BUF1)[0].content == b"\x00"
    model.lift()
    return ask(model, golden.SEARCH_BUF1_START0_COUNT1000)[0].content


def test_model_library_survives_restart_but_char_buffers_do_not(tmp_path: Path) -> None:
    path = tmp_path / "module.flash"
    first = make(path)
    _enroll(first, "ani", 3)
    stored = b"".join(p.content for p in ask(first, golden.UPCHAR_BUF1)[1:])
    assert stored != bytes(512)
    first.flash.close()

    second = make(path)
    try:
        # Volatile: both CharBuffers come back empty.
        for buf in (1, 2):
            upload = ask(second, cmd(0x08, bytes((buf,))))
            assert b"".join(p.content for p in upload[1:]) == bytes(512)
        # Flash: the template is still in slot 3 and a fresh capture finds it.
        assert ask(second, golden.TEMPLETENUM)[0].content == b"\x00\x00\x01"
        assert ask(second, cmd(0x07, b"\x02\x00\x03"))[0].content == b"\x00"
        reloaded = b"".join(p.content for p in ask(second, cmd(0x08, b"\x02"))[1:])
        assert reloaded == stored
        found = _search(second, "ani")
        assert found[:3] == b"\x00\x00\x03"
        assert int.from_bytes(found[3:5], "big") >= 50
        assert _search(second, "budi") == b"\x09\x00\x00\x00\x00"
    finally:
        second.flash.close()


def test_model_settings_and_notepad_survive_restart(tmp_path: Path) -> None:
    path = tmp_path / "module.flash"
    first = make(path)
    page = bytes(range(100, 132))
    assert ask(first, cmd(0x18, b"\x05" + page))[0].content == b"\x00"
    assert ask(first, golden.SETSYSPARA_SECURITY_4)[0].content == b"\x00"
    assert ask(first, cmd(0x0E, b"\x06\x01"))[0].content == b"\x00"
    assert ask(first, cmd(0x12, b"\x00\x00\x00\x2a"))[0].content == b"\x00"
    assert ask(first, cmd(0x15, b"\x00\x00\x00\x09"))[0].content == b"\x00"
    first.flash.close()

    second = make(path)
    try:
        assert second.handle(Reassembler().feed(golden.VFYPWD_DEFAULT)[0]) is None  # old address
        assert ask(second, cmd(0x0F, address=9))[0].content[0] == 0x21  # password first
        assert ask(second, cmd(0x13, b"\x00\x00\x00\x2a", address=9))[0].content == b"\x00"
        block = ask(second, cmd(0x0F, address=9))[0].content[1:]
        assert int.from_bytes(block[6:8], "big") == 4  # security level
        assert int.from_bytes(block[8:12], "big") == 9  # address
        assert int.from_bytes(block[12:14], "big") == 1  # packet code 64 B
        assert ask(second, cmd(0x19, b"\x05", address=9))[0].content == b"\x00" + page
    finally:
        second.flash.close()
