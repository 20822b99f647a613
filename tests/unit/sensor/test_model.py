"""R307Model byte for byte against r307-protocol.md §1-§4, §6.6, §7.2 and §10.

Commands are golden frames (tests/golden/r307_frames.py) decoded by the Reassembler, or Packets
built by hand for commands the doc has no frame of. Replies are compared with golden frames
where the doc gives one; elsewhere with frames built by ``_frame`` below, which follows §1.2
without using the project's framing code.
"""

from __future__ import annotations

import pytest

from edge.sensor.sim import profiles
from edge.sensor.sim.fingers import Quality
from edge.sensor.sim.framing import ChecksumMismatch, Packet, Reassembler
from edge.sensor.sim.model import LedState, R307Model, Response
from tests.golden import r307_frames as golden

ADDR = 0xFFFFFFFF
TEMPLATE = 512


def _frame(pid: int, content: bytes, address: int = ADDR) -> bytes:
    """A packet straight from §1.2: header, address, PID, LENGTH, content, 16-bit sum."""
    length = len(content) + 2
    total = pid + (length >> 8) + (length & 0xFF) + sum(content)
    return (
        b"\xef\x01"
        + address.to_bytes(4, "big")
        + bytes((pid, length >> 8, length & 0xFF))
        + content
        + (total & 0xFFFF).to_bytes(2, "big")
    )


def _ack(code: int, extra: bytes = b"", address: int = ADDR) -> bytes:
    return _frame(0x07, bytes((code,)) + extra, address)


def make(name: str = "r307", timing: str = "instant", flash_path: str | None = None) -> R307Model:
    return R307Model(profiles.model(name), profiles.timing(timing), flash_path=flash_path, seed=1)


def decode(frame: bytes) -> Packet | ChecksumMismatch:
    out = Reassembler().feed(frame)
    assert len(out) == 1, f"expected one packet in {frame.hex(' ')}"
    return out[0]


def cmd(code: int, params: bytes = b"", address: int = ADDR) -> Packet:
    return Packet(address, 0x01, bytes((code,)) + params)


def send(model: R307Model, command: bytes | Packet | ChecksumMismatch) -> Response | None:
    item = decode(command) if isinstance(command, bytes) else command
    return model.handle(item)


def reply(model: R307Model, command: bytes | Packet | ChecksumMismatch) -> bytes:
    """The single frame the module answers ``command`` with."""
    response = send(model, command)
    assert response is not None, "module stayed silent"
    assert len(response.frames) == 1, f"{len(response.frames)} frames"
    return response.frames[0]


def ack(model: R307Model, command: bytes | Packet) -> Packet:
    """The decoded acknowledge packet for ``command``."""
    pkt = decode(reply(model, command))
    assert isinstance(pkt, Packet)
    assert pkt.pid == 0x07
    return pkt


def conf(model: R307Model, command: bytes | Packet) -> int:
    return ack(model, command).content[0]


def store(model: R307Model, slot: int, buf: int = 1) -> None:
    assert conf(model, cmd(0x06, bytes((buf,)) + slot.to_bytes(2, "big"))) == 0x00


def down_char(model: R307Model, data: bytes, size: int = 128, buf: int = 1) -> None:
    """DownChar ``data`` into ``buf`` as a host would: data packets, then one END packet."""
    assert reply(model, cmd(0x09, bytes((buf,)))) == golden.ACK_OK
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    for i, chunk in enumerate(chunks):
        pid = 0x08 if i == len(chunks) - 1 else 0x02
        assert send(model, _frame(pid, chunk)) is None  # §2.5: never acknowledged


def up_char(model: R307Model, buf: int = 1) -> list[Packet]:
    """UpChar: returns the data/END packets after checking the ack is the golden OK."""
    response = send(model, cmd(0x08, bytes((buf,))))
    assert response is not None
    assert response.frames[0] == golden.ACK_OK
    packets = [decode(f) for f in response.frames[1:]]
    assert all(isinstance(p, Packet) for p in packets)
    return packets  # type: ignore[return-value]


def capture(model: R307Model, finger: str, buf: int, quality: Quality = Quality.GOOD) -> None:
    """Place, GenImg, Img2Tz into ``buf``, lift."""
    model.place(finger, quality)
    assert reply(model, golden.GENIMG) == golden.ACK_OK
    assert conf(model, cmd(0x02, bytes((buf,)))) == 0x00
    model.lift()


def pattern(n: int = TEMPLATE) -> bytes:
    return bytes((i * 7 + 3) & 0xFF for i in range(n))


def sys_para(model: R307Model) -> dict[str, int]:
    """ReadSysPara's 16-byte block (§4.1) by field name."""
    pkt = ack(model, golden.READSYSPARA)
    assert pkt.content[0] == 0x00
    block = pkt.content[1:]
    assert len(block) == 16
    u16 = {"status": 0, "system_id": 2, "capacity": 4, "security": 6, "packet_code": 12}
    out = {name: int.from_bytes(block[at : at + 2], "big") for name, at in u16.items()}
    out["address"] = int.from_bytes(block[8:12], "big")
    out["baud_n"] = int.from_bytes(block[14:16], "big")
    return out


# -- password (§1.4, §4.4) ------------------------------------------------------------------------


def test_vfypwd_default_password_acks_golden_ok() -> None:
    assert reply(make(), golden.VFYPWD_DEFAULT) == golden.ACK_OK


def test_vfypwd_wrong_password_acks_golden_0x13() -> None:
    assert reply(make(), cmd(0x13, b"\x00\x00\x00\x01")) == golden.ACK_WRONG_PASSWORD


def test_setpwd_commands_answer_0x21_after_power_cycle_until_vfypwd() -> None:
    m = make()
    assert reply(m, cmd(0x12, b"\x12\x34\x56\x78")) == golden.ACK_OK
    m.power_off()
    m.power_on()
    for command in (golden.GENIMG, golden.TEMPLETENUM, golden.READSYSPARA, golden.EMPTY):
        assert reply(m, command) == _ack(0x21)
    assert reply(m, golden.VFYPWD_DEFAULT) == golden.ACK_WRONG_PASSWORD
    assert reply(m, golden.TEMPLETENUM) == _ack(0x21)
    assert reply(m, cmd(0x13, b"\x12\x34\x56\x78")) == golden.ACK_OK
    assert reply(m, golden.TEMPLETENUM) == _ack(0x00, b"\x00\x00")
    assert reply(m, golden.GENIMG) == golden.ACK_NO_FINGER


def test_setpwd_does_not_change_the_address() -> None:
    m = make()
    reply(m, cmd(0x12, b"\x00\x00\x00\x2a"))
    m.power_off()
    m.power_on()
    assert reply(m, cmd(0x13, b"\x00\x00\x00\x2a")) == golden.ACK_OK
    assert sys_para(m)["address"] == ADDR


def test_power_off_module_is_silent() -> None:
    m = make()
    m.power_off()
    assert send(m, golden.VFYPWD_DEFAULT) is None
    m.power_on()
    assert reply(m, golden.VFYPWD_DEFAULT) == golden.ACK_OK


# -- address (§1.3, §4.4) ----------------------------------------------------------------------


def test_setadder_reply_carries_new_address_and_old_address_is_ignored() -> None:
    m = make()
    assert reply(m, cmd(0x15, b"\x12\x34\x56\x78")) == bytes.fromhex(
        "EF 01 12 34 56 78 07 00 03 00 00 0A"
    )
    assert send(m, golden.GENIMG) is None
    assert send(m, golden.VFYPWD_DEFAULT) is None
    assert reply(m, cmd(0x01, address=0x12345678)) == bytes.fromhex(
        "EF 01 12 34 56 78 07 00 03 02 00 0C"
    )
    assert sys_para_at(m, 0x12345678) == 0x12345678


def sys_para_at(model: R307Model, address: int) -> int:
    pkt = decode(reply(model, cmd(0x0F, address=address)))
    assert isinstance(pkt, Packet)
    assert pkt.address == address
    return int.from_bytes(pkt.content[9:13], "big")


def test_setadder_new_address_survives_power_cycle() -> None:
    m = make()
    reply(m, cmd(0x15, b"\x00\x00\x00\x07"))
    m.power_off()
    m.power_on()
    assert send(m, golden.GENIMG) is None
    assert reply(m, cmd(0x01, address=7)) == _ack(0x02, address=7)


def test_packet_for_another_address_gets_no_reply() -> None:
    m = make()
    assert send(m, cmd(0x01, address=0x00000001)) is None
    assert send(m, cmd(0x13, b"\x00" * 4, address=0xFFFFFFFE)) is None
    assert send(m, ChecksumMismatch(0x00000001, 0x01)) is None


# -- framing errors (§3, §10) ---------------------------------------------------------------------


def test_checksum_mismatched_command_acks_0x01() -> None:
    bad = bytearray(golden.GENIMG)
    bad[-1] ^= 0x01
    item = decode(bytes(bad))
    assert isinstance(item, ChecksumMismatch)
    assert reply(make(), item) == bytes.fromhex("EF 01 FF FF FF FF 07 00 03 01 00 0B")


@pytest.mark.parametrize(
    ("code", "params"),
    [
        (0x02, b""),  # Img2Tz without BufferID
        (0x04, b"\x01\x00\x00"),  # Search without PageNum
        (0x06, b"\x01\x00"),  # Store with half a PageID
        (0x07, b"\x01"),  # LoadChar without PageID
        (0x08, b""),  # UpChar without BufferID
        (0x09, b""),  # DownChar without BufferID
        (0x0C, b"\x00\x05\x00"),  # DeletChar with half a count
        (0x0E, b"\x05"),  # SetSysPara without value
        (0x12, b"\x00\x00"),  # SetPwd with half a password
        (0x13, b"\x00\x00\x00"),  # VfyPwd with 3 password bytes
        (0x15, b"\x00"),  # SetAdder with one address byte
        (0x1B, b"\x01"),  # HighSpeedSearch without range
        (0x1F, b""),  # ReadIndexTable without page
    ],
    ids=lambda v: f"{v:#04x}" if isinstance(v, int) else v.hex() or "none",
)
def test_truncated_parameters_ack_0x01(code: int, params: bytes) -> None:
    m = make()
    assert reply(m, cmd(code, params)) == _ack(0x01)
    # Nothing half-applied: password and address unchanged, no download pending.
    assert reply(m, golden.VFYPWD_DEFAULT) == golden.ACK_OK
    assert send(m, _frame(0x08, b"\x00" * 4)) is None
    assert sys_para(m)["address"] == ADDR


def test_unknown_instruction_acks_0x01_on_r307() -> None:
    for code in (0x60, 0x7E, 0xFF):
        assert reply(make("r307"), cmd(code)) == _ack(0x01)


def test_unknown_instruction_acks_0xfc_on_r503() -> None:
    for code in (0x60, 0x7E, 0xFF, 0x53):
        assert reply(make("r503"), cmd(code)) == _ack(0xFC)


# -- image capture (§2.1, §3) ---------------------------------------------------------------------


def test_genimg_without_finger_acks_golden_no_finger() -> None:
    assert reply(make(), golden.GENIMG) == golden.ACK_NO_FINGER


def test_genimg_with_finger_acks_golden_ok() -> None:
    m = make()
    m.place("ani")
    assert reply(m, golden.GENIMG) == golden.ACK_OK


def test_img2tz_without_image_acks_0x15() -> None:
    assert reply(make(), golden.IMG2TZ_BUF1) == bytes.fromhex("EF 01 FF FF FF FF 07 00 03 15 00 1F")


@pytest.mark.parametrize(
    ("quality", "code"),
    [(Quality.WET, 0x06), (Quality.DRY, 0x07), (Quality.PARTIAL, 0x07)],
    ids=["wet", "dry", "partial"],
)
def test_img2tz_poor_quality_finger_acks_its_code(quality: Quality, code: int) -> None:
    m = make()
    m.place("ani", quality)
    assert reply(m, golden.GENIMG) == golden.ACK_OK  # GenImg accepts a poor image (§8.4)
    assert reply(m, golden.IMG2TZ_BUF1) == _ack(code)


def test_genimg_smudged_finger_acks_0x03() -> None:
    m = make()
    m.place("ani", Quality.SMUDGE)
    assert reply(m, golden.GENIMG) == _ack(0x03)


def test_upimage_without_image_acks_0x0f() -> None:
    assert reply(make(), golden.UPIMAGE) == _ack(0x0F)


def test_upimage_sends_36864_bytes_in_128_byte_packets() -> None:
    m = make()
    m.place("ani")
    reply(m, golden.GENIMG)
    response = send(m, golden.UPIMAGE)
    assert response is not None
    assert response.frames[0] == golden.ACK_OK
    packets = [decode(f) for f in response.frames[1:]]
    assert len(packets) == 288
    assert all(isinstance(p, Packet) and len(p.content) == 128 for p in packets)
    assert [p.pid for p in packets] == [0x02] * 287 + [0x08]


# -- matching (§2.1, §7.2, §10) -------------------------------------------------------------------


def test_enroll_store_then_search_finds_slot_3_and_not_another_finger() -> None:
    m = make()
    m.place("ani")
    assert reply(m, golden.GENIMG) == golden.ACK_OK
    assert reply(m, golden.IMG2TZ_BUF1) == golden.ACK_OK
    m.lift()
    assert reply(m, golden.GENIMG) == golden.ACK_NO_FINGER
    m.place("ani")
    assert reply(m, golden.GENIMG) == golden.ACK_OK
    assert reply(m, cmd(0x02, b"\x02")) == golden.ACK_OK
    assert reply(m, cmd(0x05)) == golden.ACK_OK
    assert reply(m, cmd(0x06, b"\x01\x00\x03")) == golden.ACK_OK
    m.lift()

    capture(m, "ani", 1)
    found = reply(m, golden.SEARCH_BUF1_START0_COUNT1000)
    assert len(found) == 16
    assert found[:12] == bytes.fromhex("EF 01 FF FF FF FF 07 00 07 00 00 03")
    score = int.from_bytes(found[12:14], "big")
    assert score >= 50
    assert found == _ack(0x00, b"\x00\x03" + score.to_bytes(2, "big"))

    capture(m, "budi", 1)
    assert reply(m, golden.SEARCH_BUF1_START0_COUNT1000) == golden.ACK_SEARCH_NOT_FOUND


def test_highspeedsearch_answers_like_search() -> None:
    m = make()
    capture(m, "ani", 1)
    capture(m, "ani", 2)
    reply(m, cmd(0x05))
    store(m, 42)
    capture(m, "ani", 1)
    fast = ack(m, cmd(0x1B, b"\x01\x00\x00\x03\xe8"))
    assert fast.content[:3] == b"\x00\x00\x2a"
    assert int.from_bytes(fast.content[3:5], "big") >= 50
    capture(m, "budi", 1)
    assert reply(m, cmd(0x1B, b"\x01\x00\x00\x03\xe8")) == golden.ACK_SEARCH_NOT_FOUND


def test_search_outside_the_requested_range_is_not_found() -> None:
    m = make()
    capture(m, "ani", 1)
    capture(m, "ani", 2)
    reply(m, cmd(0x05))
    store(m, 500)
    capture(m, "ani", 1)
    assert reply(m, cmd(0x04, b"\x01\x00\x00\x01\xf4")) == golden.ACK_SEARCH_NOT_FOUND
    assert ack(m, cmd(0x04, b"\x01\x01\xf4\x00\x01")).content[:3] == b"\x00\x01\xf4"


def test_search_on_empty_library_is_golden_not_found() -> None:
    assert reply(make(), golden.SEARCH_BUF1_START0_COUNT1000) == golden.ACK_SEARCH_NOT_FOUND


def test_match_mismatch_is_full_length_0x08_with_zero_score() -> None:
    m = make()
    capture(m, "ani", 1)
    capture(m, "budi", 2)
    got = reply(m, golden.MATCH)
    assert got == bytes.fromhex("EF 01 FF FF FF FF 07 00 05 08 00 00 00 14")
    assert len(got) == 14


def test_match_same_finger_scores_at_least_50() -> None:
    m = make()
    capture(m, "ani", 1)
    capture(m, "ani", 2)
    pkt = ack(m, golden.MATCH)
    assert pkt.content[0] == 0x00
    assert len(pkt.content) == 3
    assert int.from_bytes(pkt.content[1:], "big") >= 50


def test_match_and_search_leave_char_buffers_unchanged() -> None:
    m = make()
    capture(m, "ani", 1)
    capture(m, "budi", 2)
    before = [b"".join(p.content for p in up_char(m, b)) for b in (1, 2)]
    reply(m, golden.MATCH)
    reply(m, golden.SEARCH_BUF1_START0_COUNT1000)
    assert [b"".join(p.content for p in up_char(m, b)) for b in (1, 2)] == before


def test_regmodel_of_two_different_fingers_acks_0x0a() -> None:
    m = make()
    capture(m, "ani", 1)
    capture(m, "budi", 2)
    assert reply(m, cmd(0x05)) == _ack(0x0A)


def test_regmodel_writes_the_template_into_both_buffers() -> None:
    m = make()
    capture(m, "ani", 1)
    capture(m, "ani", 2)
    assert reply(m, cmd(0x05)) == golden.ACK_OK
    one = b"".join(p.content for p in up_char(m, 1))
    two = b"".join(p.content for p in up_char(m, 2))
    assert one == two
    assert len(one) == TEMPLATE


# -- library: Store, LoadChar, DeletChar, Empty, TempleteNum, ReadIndexTable -----------------------


def test_templetenum_empty_library_is_zero() -> None:
    assert reply(make(), golden.TEMPLETENUM) == bytes.fromhex(
        "EF 01 FF FF FF FF 07 00 05 00 00 00 00 0C"
    )


def test_templetenum_three_templates_is_golden_ack() -> None:
    m = make()
    assert reply(m, golden.STORE_BUF1_ID5) == golden.ACK_OK
    store(m, 0)
    store(m, 999)
    assert reply(m, golden.TEMPLETENUM) == golden.ACK_TEMPLETENUM_3


@pytest.mark.parametrize(
    ("name", "capacity"), [("r307", 1000), ("zfm20", 162), ("as608", 300), ("r503", 200)]
)
def test_store_and_loadchar_out_of_range_ack_0x0b(name: str, capacity: int) -> None:
    m = make(name)
    last = capacity - 1
    for code in (0x06, 0x07):
        for page in (capacity, capacity + 1, 0xFFFF):
            assert reply(m, cmd(code, b"\x01" + page.to_bytes(2, "big"))) == _ack(0x0B)
    assert reply(m, cmd(0x06, b"\x01" + last.to_bytes(2, "big"))) == golden.ACK_OK
    assert reply(m, cmd(0x07, b"\x01" + last.to_bytes(2, "big"))) == golden.ACK_OK


def test_loadchar_empty_slot_acks_0x0c() -> None:
    assert reply(make(), cmd(0x07, b"\x01\x00\x05")) == _ack(0x0C)


def test_loadchar_copies_stored_template_into_the_buffer() -> None:
    m = make()
    data = pattern()
    down_char(m, data)
    assert reply(m, golden.STORE_BUF1_ID5) == golden.ACK_OK
    assert reply(m, cmd(0x07, b"\x02\x00\x05")) == golden.ACK_OK
    assert b"".join(p.content for p in up_char(m, 2)) == data


def test_deletchar_golden_removes_slot_5() -> None:
    m = make()
    reply(m, golden.STORE_BUF1_ID5)
    store(m, 6)
    assert reply(m, golden.DELETCHAR_ID5_COUNT1) == golden.ACK_OK
    assert reply(m, cmd(0x07, b"\x01\x00\x05")) == _ack(0x0C)
    assert reply(m, cmd(0x07, b"\x01\x00\x06")) == golden.ACK_OK
    assert reply(m, golden.TEMPLETENUM) == _ack(0x00, b"\x00\x01")


def test_deletchar_range_removes_count_slots_from_page() -> None:
    m = make()
    for slot in (3, 4, 5, 6):
        store(m, slot)
    assert reply(m, cmd(0x0C, b"\x00\x04\x00\x02")) == golden.ACK_OK
    table = ack(m, golden.READINDEXTABLE_PAGE0).content[1:]
    assert table[0] == 0b0100_1000  # slots 3 and 6 remain


def test_deletchar_out_of_range_acks_0x0b() -> None:
    assert reply(make(), cmd(0x0C, b"\x03\xe8\x00\x01")) == _ack(0x0B)


def test_empty_golden_clears_the_library() -> None:
    m = make()
    for slot in (0, 5, 999):
        store(m, slot)
    assert reply(m, golden.EMPTY) == golden.ACK_OK
    assert reply(m, golden.TEMPLETENUM) == _ack(0x00, b"\x00\x00")
    assert ack(m, golden.READINDEXTABLE_PAGE0).content == bytes(33)


def test_readindextable_is_32_bytes_lsb_first() -> None:
    m = make()
    for slot in (0, 9, 255, 256):
        store(m, slot)
    page0 = reply(m, golden.READINDEXTABLE_PAGE0)
    assert len(page0) == 44
    assert page0[:10] == bytes.fromhex("EF 01 FF FF FF FF 07 00 23 00")
    expected0 = bytearray(32)
    expected0[0] = 0x01  # slot 0 -> byte 0 bit 0
    expected0[1] = 0x02  # slot 9 -> byte 1 bit 1
    expected0[31] = 0x80  # slot 255 -> byte 31 bit 7
    assert page0 == _ack(0x00, bytes(expected0))

    expected1 = bytearray(32)
    expected1[0] = 0x01  # slot 256 -> page 1, byte 0 bit 0
    assert reply(m, cmd(0x1F, b"\x01")) == _ack(0x00, bytes(expected1))
    for page in (2, 3):
        assert reply(m, cmd(0x1F, bytes((page,)))) == _ack(0x00, bytes(32))


def test_readindextable_beyond_capacity_reads_zero() -> None:
    m = make("r503")
    store(m, 199)
    table = ack(m, cmd(0x1F, b"\x00")).content[1:]
    assert table[24] == 0x80  # slot 199 = 8 * 24 + 7
    assert table[25:] == bytes(7)
    assert ack(m, cmd(0x1F, b"\x01")).content == bytes(33)


# -- system parameters (§4) -----------------------------------------------------------------------


def test_readsyspara_r307_is_28_bytes_matching_golden_parameters() -> None:
    got = reply(make(), golden.READSYSPARA)
    assert len(got) == 28
    # Header, address, PID, LENGTH 0x13 and confirmation 00 are the golden frame's.
    assert got[:10] == golden.ACK_READSYSPARA_R307[:10]
    # System id .. baud N (block offsets 2..16): 0000 03E8 0003 FFFFFFFF 0002 0006.
    assert got[12:26] == golden.ACK_READSYSPARA_R307[12:26]
    assert got == _ack(0x00, got[10:26])  # checksum by §1.2


@pytest.mark.parametrize(
    ("name", "capacity"), [("r307", 1000), ("zfm20", 162), ("as608", 300), ("r503", 200)]
)
def test_readsyspara_reports_profile_capacity(name: str, capacity: int) -> None:
    m = make(name)
    assert len(reply(m, golden.READSYSPARA)) == 28
    params = sys_para(m)
    assert params["capacity"] == capacity
    assert params["system_id"] == 0
    assert params["security"] == 3
    assert params["address"] == ADDR
    assert params["packet_code"] == 2
    assert params["baud_n"] == 6


def test_setsyspara_golden_security_4_is_read_back() -> None:
    m = make()
    assert reply(m, golden.SETSYSPARA_SECURITY_4) == golden.ACK_OK
    assert sys_para(m)["security"] == 4


@pytest.mark.parametrize(("code", "size"), [(0, 32), (1, 64), (2, 128), (3, 256)])
def test_setsyspara_packet_size_sets_upchar_data_packet_size(code: int, size: int) -> None:
    m = make()
    data = pattern()
    down_char(m, data)
    assert reply(m, cmd(0x0E, bytes((6, code)))) == golden.ACK_OK
    assert sys_para(m)["packet_code"] == code
    packets = up_char(m)
    assert len(packets) == TEMPLATE // size
    assert [p.pid for p in packets] == [0x02] * (len(packets) - 1) + [0x08]
    assert all(len(p.content) == size for p in packets)
    assert b"".join(p.content for p in packets) == data


@pytest.mark.parametrize("register", [0, 1, 3, 7, 0xFF])
def test_setsyspara_invalid_register_acks_0x1a(register: int) -> None:
    m = make()
    assert reply(m, cmd(0x0E, bytes((register, 1)))) == _ack(0x1A)
    params = sys_para(m)
    assert (params["security"], params["packet_code"], params["baud_n"]) == (3, 2, 6)


def test_setsyspara_baud_applies_after_power_cycle() -> None:
    m = make()
    assert reply(m, cmd(0x0E, b"\x04\x0c")) == golden.ACK_OK
    m.power_off()
    m.power_on()
    assert sys_para(m)["baud_n"] == 12


def test_getrandomcode_acks_with_four_bytes() -> None:
    pkt = ack(make(), golden.GETRANDOMCODE)
    assert pkt.content[0] == 0x00
    assert len(pkt.content) == 5


# -- data transfers (§2.5) ------------------------------------------------------------------------


def test_upchar_sends_512_bytes_in_four_128_byte_packets_by_default() -> None:
    m = make()
    packets = up_char(m)
    assert [(p.pid, len(p.content)) for p in packets] == [(0x02, 128)] * 3 + [(0x08, 128)]


@pytest.mark.parametrize("size", [32, 128, 256])
def test_downchar_host_packets_fill_buffer_for_upchar(size: int) -> None:
    m = make()
    data = pattern()
    assert reply(m, golden.DOWNCHAR_BUF1) == golden.ACK_OK
    chunks = [data[i : i + size] for i in range(0, TEMPLATE, size)]
    stream = b"".join(
        _frame(0x08 if i == len(chunks) - 1 else 0x02, c) for i, c in enumerate(chunks)
    )
    for item in Reassembler().feed(stream):
        assert m.handle(item) is None
    response = send(m, golden.UPCHAR_BUF1)
    assert response is not None
    assert response.frames[0] == golden.ACK_OK
    assert b"".join(decode(f).content for f in response.frames[1:]) == data  # type: ignore[union-attr]


def test_downchar_into_buffer_2_leaves_buffer_1() -> None:
    m = make()
    down_char(m, pattern(), buf=2)
    assert b"".join(p.content for p in up_char(m, 2)) == pattern()
    assert b"".join(p.content for p in up_char(m, 1)) == bytes(TEMPLATE)


def test_data_packet_without_downchar_gets_no_reply_and_changes_nothing() -> None:
    m = make()
    assert send(m, _frame(0x02, b"\x11" * 128)) is None
    assert send(m, _frame(0x08, b"\x22" * 128)) is None
    assert b"".join(p.content for p in up_char(m)) == bytes(TEMPLATE)


# -- model-specific instructions (§2.3, §2.4) -----------------------------------------------------


def test_aura_led_config_golden_is_acked_on_r503() -> None:
    m = make("r503")
    assert reply(m, golden.AURALEDCONFIG_BREATHE_SPEED80_BLUE_INFINITE) == golden.ACK_OK
    assert m.led == LedState(mode=1, colour=2, speed=0x80, cycles=0)


@pytest.mark.parametrize("code", [0x36, 0x40], ids=["CheckSensor", "HandShake"])
def test_r503_instruction_acks_ok_on_r503(code: int) -> None:
    assert reply(make("r503"), cmd(code)) == golden.ACK_OK


def test_r503_softrst_acks_then_sends_raw_0x55() -> None:
    response = send(make("r503"), cmd(0x3D))
    assert response is not None
    assert response.frames == [golden.ACK_OK]
    assert response.raw_after == b"\x55"
    assert response.reset_after is True


@pytest.mark.parametrize("code", [0x35, 0x36, 0x3D, 0x40], ids=["Aura", "Check", "SoftRst", "Hs"])
def test_r503_instruction_is_unsupported_on_r307(code: int) -> None:
    m = make("r307")
    params = golden.AURALEDCONFIG_BREATHE_SPEED80_BLUE_INFINITE[10:-2] if code == 0x35 else b""
    response = send(m, cmd(code, params))
    assert response is not None
    assert response.frames == [_ack(0x01)]
    assert response.raw_after == b""
    assert response.reset_after is False
    assert m.led == LedState()


def test_as608_getecho_0x53_replies_0x55() -> None:
    assert reply(make("as608"), cmd(0x53)) == bytes.fromhex("EF 01 FF FF FF FF 07 00 03 55 00 5F")


def test_getecho_0x53_is_unsupported_on_r307() -> None:
    assert reply(make("r307"), cmd(0x53)) == _ack(0x01)


def test_notepad_round_trip_and_bad_page() -> None:
    m = make()
    page = bytes(range(32))
    assert reply(m, cmd(0x18, b"\x03" + page)) == golden.ACK_OK
    assert reply(m, cmd(0x19, b"\x03")) == _ack(0x00, page)
    assert reply(m, cmd(0x19, b"\x04")) == _ack(0x00, bytes(32))
    assert reply(m, cmd(0x19, b"\x10")) == _ack(0x1C)


# -- timing (§5.2) --------------------------------------------------------------------------------


def test_instant_timing_is_never_busy() -> None:
    m = make()
    m.place("ani")
    for command in (golden.GENIMG, golden.IMG2TZ_BUF1, golden.SEARCH_BUF1_START0_COUNT1000):
        response = send(m, command)
        assert response is not None
        assert response.busy_s == 0


def test_genimg_on_r307_datasheet_timing_reports_busy() -> None:
    m = make(timing="datasheet")
    empty = send(m, golden.GENIMG)
    m.place("ani")
    full = send(m, golden.GENIMG)
    assert empty is not None
    assert full is not None
    assert 0 < empty.busy_s < 2.0
    assert 0 < full.busy_s < 2.0
    assert full.busy_s > empty.busy_s  # a real capture takes longer than "no finger"


def test_search_busy_grows_with_library_size_and_stays_under_2s() -> None:
    m = make(timing="datasheet")

    def search_busy() -> float:
        response = send(m, golden.SEARCH_BUF1_START0_COUNT1000)
        assert response is not None
        return response.busy_s

    store(m, 0)
    one = search_busy()
    for slot in range(1, 500):
        store(m, slot)
    half = search_busy()
    for slot in range(500, 1000):
        store(m, slot)
    full = search_busy()
    assert 0 < one < half < full < 2.0


# -- odds and ends the drivers rely on ------------------------------------------------------------


def test_img2tz_buffer_id_other_than_1_means_buffer_2() -> None:
    # §2.1: "BufferID (1 or 2; any other value = buffer 2)".
    m = make()
    capture(m, "ani", 0x07)
    assert b"".join(p.content for p in up_char(m, 1)) == bytes(TEMPLATE)
    assert b"".join(p.content for p in up_char(m, 2)) != bytes(TEMPLATE)


def test_getimageex_on_r503_reports_poor_quality_as_0x07() -> None:
    # §8.4: GenImg returns 00 for a poor image, GetImageEx returns 07.
    m = make("r503")
    assert reply(m, cmd(0x28)) == _ack(0x02)
    m.place("ani", Quality.DRY)
    assert reply(m, cmd(0x28)) == _ack(0x07)
    assert reply(m, golden.GENIMG) == golden.ACK_OK
    m.place("ani")
    assert reply(m, cmd(0x28)) == golden.ACK_OK


def test_status_register_tracks_image_buffer_and_pass_bits() -> None:
    # §4.2: bit 0 busy, bit 1 pass, bit 2 PWD, bit 3 ImgBufStat, bits 4-15 reserved.
    m = make()
    assert sys_para(m)["status"] & ~0b0100 == 0
    capture(m, "ani", 1)
    capture(m, "ani", 2)
    status = sys_para(m)["status"]
    assert status & 0b1000
    assert status & ~0b1110 == 0
    reply(m, golden.MATCH)
    assert sys_para(m)["status"] & 0b0010


def test_writenotepad_truncated_page_acks_0x01() -> None:
    m = make()
    assert reply(m, cmd(0x18, b"\x03" + bytes(range(31)))) == _ack(0x01)
    assert reply(m, cmd(0x19, b"\x03")) == _ack(0x00, bytes(32))
